/* agents/mda/filter.h - the checks the MDA runs before the user's Sieve script.
 *
 * Pure functions over one message as it will be stored (RFC 5322 text, CRLF
 * or LF lines): a virus signature scan that also looks inside base64 MIME
 * parts (RFC 2045 6.8, RFC 2046 5.1), and a spam score added up from a
 * table of rules, in the manner of SpamAssassin.
 */
#pragma once

#include <glib.h>

/* ---- limits ------------------------------------------------------------- */

#define FILTER_MAX_HEADER_FIELDS    1000        /* fields read from one header block */
#define FILTER_MIME_MAX_DEPTH       8           /* multiparts inside multiparts */
#define FILTER_MIME_MAX_PARTS       100         /* MIME parts looked at per message */
#define FILTER_MIME_MAX_BOUNDARY    70          /* RFC 2046 5.1.1 */
#define FILTER_VIRUS_MAX_DECODED    (4 * 1024 * 1024) /* octets decoded per part */

/* ---- virus -------------------------------------------------------------- */

typedef struct {
	gboolean    found;
	const char *signature; /* static: "Eicar-Test-Signature"; NULL if none */
	guint       part;      /* 0: in the message as sent; n: in the n-th leaf MIME
	                          part, counted depth first from 1, after decoding */
} FilterVirusResult;

/* Look for a known signature anywhere in the message's octets and inside
 * every base64 MIME part (each decoded up to FILTER_VIRUS_MAX_DECODED).
 * The only signature is the EICAR anti-virus test file: a harmless 68-octet
 * text every scanner reports as a virus, so a lesson can send a "virus".
 * Fills *result and returns result->found. */
gboolean filter_virus_scan(const char *msg, gsize len, FilterVirusResult *result);

/* ---- spam --------------------------------------------------------------- */

#define FILTER_SPAM_DEFAULT_THRESHOLD 5.0 /* score at which a message is spam */
#define FILTER_SPAM_CAPS_MIN_LETTERS  8   /* SUBJ_ALL_CAPS: letters needed */
#define FILTER_SPAM_MIN_BANGS         3   /* SUBJ_EXCLAMATIONS: '!' needed */
#define FILTER_SPAM_MAX_BODY_SCAN     (256 * 1024) /* body octets searched */

/* The rules, one row each in filter_spam_rules(), scores added:
 *
 *   RCVD_IN_RBL        5.0  the header has X-Mailsim-RBL: the MTA found the
 *                           client on a DNS blacklist (alone enough for spam)
 *   MISSING_DATE       1.0  no Date: field (RFC 5322 3.6 requires one)
 *   MISSING_MID        0.5  no Message-ID: field (RFC 5322 3.6.4 wants one)
 *   SUBJ_ALL_CAPS      1.5  a Subject of FILTER_SPAM_CAPS_MIN_LETTERS or more
 *                           letters, not one of them lower case
 *   SUBJ_SPAM_WORDS    2.0  the Subject has a word of the spam list
 *                           (viagra, lottery, winner, "act now", ...)
 *   BODY_SPAM_WORDS    1.5  the body has a word of the spam list
 *   SUBJ_EXCLAMATIONS  1.0  FILTER_SPAM_MIN_BANGS or more '!' in the Subject
 *   FROM_NAME_MISMATCH 2.0  From's display name shows an address other than
 *                           the real one: "paypal@paypal.com" <x@evil.example>
 *   EMPTY_BODY         1.0  no body, or only white space
 *
 * Header values are unfolded and RFC 2047 encoded words decoded first, so
 * "=?UTF-8?B?V0lOTkVS?=" is read as WINNER. */
typedef struct FilterMail FilterMail;

typedef struct {
	const char *name;        /* "MISSING_DATE", as in X-Spam-Status */
	double      score;
	const char *description; /* one line a student reads */
	/* NULL if the rule does not fire, else a new one-line explanation
	 * saying what in this message made it fire */
	char     *(*check)(const FilterMail *mail);
} FilterSpamRule;

/* The rule table above; *n_rules_r gets its length. */
const FilterSpamRule *filter_spam_rules(gsize *n_rules_r);

typedef struct {
	const FilterSpamRule *rule;     /* name and score */
	char                 *explanation;
} FilterSpamHit;

typedef struct {
	double     score;         /* sum of the scores of the hits */
	double     threshold;
	gboolean   is_spam;       /* score >= threshold */
	GPtrArray *hits;          /* FilterSpamHit *, in table order */
	/* The lines to add on top of the message, without CRLF:
	 *   "X-Spam-Score: 6.5"
	 *   "X-Spam-Status: Yes, score=6.5 required=5.0 tests=MISSING_DATE,..."
	 * tests=none when no rule fired; numbers always with one decimal. */
	char      *score_header;
	char      *status_header;
} FilterSpamReport;

/* Score the message against every rule.  threshold is the setting; pass
 * FILTER_SPAM_DEFAULT_THRESHOLD when there is none.  Never fails: a
 * malformed message is scored on what can be read.  Free the result with
 * filter_spam_report_free. */
FilterSpamReport *filter_spam_score(const char *msg, gsize len, double threshold);
void              filter_spam_report_free(FilterSpamReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FilterSpamReport, filter_spam_report_free)
