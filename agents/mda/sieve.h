/* agents/mda/sieve.h - the user's mail filter: a Sieve subset (RFC 5228).
 *
 * Pure: a script text goes in, an AST comes out; the AST and a message go
 * in, a list of actions comes out.  No I/O: the MDA stores, forwards and
 * replies.  Extensions: "fileinto", "envelope", "copy" (RFC 3894),
 * "reject" (RFC 5429), "vacation" (RFC 5230).
 */
#pragma once

#include <glib.h>

/* ---- limits ------------------------------------------------------------- */

#define SIEVE_MAX_SCRIPT_SIZE    (64 * 1024) /* octets of script text */
#define SIEVE_MAX_DEPTH          16          /* nested blocks and tests together */
#define SIEVE_MAX_STRING_LEN     8192        /* octets in one string */
#define SIEVE_MAX_LIST_ITEMS     256         /* strings in a list, tests in a test list */
#define SIEVE_MAX_ARGUMENTS      16          /* arguments of one command or test */
#define SIEVE_MAX_IDENTIFIER_LEN 64          /* "fileinto", ":comparator" */
#define SIEVE_MAX_ACTIONS        32          /* actions one run may take */
#define SIEVE_MAX_REDIRECTS      4           /* copies one run may send away */
#define SIEVE_MAX_FOLDER_LEN     255         /* octets in a fileinto folder name */
#define SIEVE_MAX_EVAL_COST      500000000u  /* matching work per run (value x key octets) */

/* RFC 5230 4.1: how often one sender may get the same vacation reply. */
#define SIEVE_VACATION_DAYS_DEFAULT 7
#define SIEVE_VACATION_DAYS_MIN     1
#define SIEVE_VACATION_DAYS_MAX     90

/* ---- errors ------------------------------------------------------------- */

#define SIEVE_ERROR (sieve_error_quark())
GQuark sieve_error_quark(void);

/* Every error message starts "sieve: line L, column C: " when it has a
 * place in the script, so the MDA can hand it to the user as is:
 *   sieve: line 3, column 17: expected ';' after fileinto "Lists" */
typedef enum {
	SIEVE_ERROR_SYNTAX,       /* the script is not Sieve */
	SIEVE_ERROR_UNSUPPORTED,  /* a command, test, tag or capability we lack */
	SIEVE_ERROR_INVALID,      /* well formed but wrong: bad folder, missing require */
	SIEVE_ERROR_LIMIT,        /* a SIEVE_MAX_* bound was hit */
	SIEVE_ERROR_RUNTIME,      /* RFC 5228 2.10.6: the run failed, keep the message */
} SieveError;

const char *sieve_error_to_string(SieveError code);

/* ---- matching ----------------------------------------------------------- */

/* RFC 5228 2.7.1: how a key compares to a value. */
typedef enum {
	SIEVE_MATCH_IS,        /* :is, the default */
	SIEVE_MATCH_CONTAINS,  /* :contains */
	SIEVE_MATCH_MATCHES,   /* :matches, a glob: '*' any run, '?' one character */
} SieveMatchType;

/* RFC 5228 2.7.3 and RFC 4790 9.2/9.3: how two characters compare. */
typedef enum {
	SIEVE_COMPARATOR_ASCII_CASEMAP, /* "i;ascii-casemap", the default: A == a */
	SIEVE_COMPARATOR_OCTET,         /* "i;octet": byte for byte */
} SieveComparator;

const char *sieve_match_type_to_string(SieveMatchType match);   /* ":is" */
const char *sieve_comparator_to_string(SieveComparator cmp);    /* "i;octet" */

/* Does value match key?  For :matches, '*' matches any run of characters,
 * '?' exactly one UTF-8 character, and '\' makes the next character
 * literal.  Never backtracks: time is at most O(len(value) * len(key)). */
gboolean sieve_string_matches(const char *value, const char *key,
                              SieveMatchType match, SieveComparator cmp);

/* ---- scripts ------------------------------------------------------------ */

typedef struct SieveScript SieveScript;

/* Parse a script of len octets (it must be UTF-8 without NUL bytes).
 * Returns a new script, or NULL with *error set (SIEVE_ERROR_*) naming the
 * line and column of the first problem.  Everything RFC 5228 makes a
 * compile-time error is caught here, so a parsed script only fails at run
 * time for the reasons listed at sieve_script_evaluate. */
SieveScript *sieve_script_parse(const char *text, gsize len, GError **error);
void         sieve_script_free(SieveScript *script);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SieveScript, sieve_script_free)

typedef enum {
	SIEVE_DUMP_PLAIN     = 0,
	SIEVE_DUMP_POSITIONS = 1 << 0,  /* "fileinto@3:5": line and column of each node */
} SieveDumpFlags;

/* The AST written back as one line of canonical Sieve: tags in a fixed
 * order, defaults left out, single strings without brackets.  For tests,
 * lessons and the event log.  Returns a new string. */
char *sieve_script_to_string(const SieveScript *script, SieveDumpFlags flags);

/* ---- the message a script looks at -------------------------------------- */

typedef struct SieveMessage SieveMessage;

struct SieveMessage {
	/* Append to values a g_strdup of each value of the header field
	 * `name` (matched case-insensitively), in message order, unfolded and
	 * decoded to UTF-8 text; append nothing if the field is absent.
	 * values frees its strings with g_free. */
	void (*get_header)(const SieveMessage *msg, const char *name, GPtrArray *values);
	const char *envelope_from; /* MAIL FROM address without <>; "" for <> */
	const char *envelope_to;   /* RCPT TO address of this delivery, or NULL */
	guint64     size;          /* the message in octets, for the size test */
	gpointer    user_data;     /* for get_header */
};

/* ---- actions ------------------------------------------------------------ */

typedef enum {
	SIEVE_ACTION_KEEP,      /* store in INBOX (argument "INBOX") */
	SIEVE_ACTION_FILEINTO,  /* store in the folder in argument */
	SIEVE_ACTION_REDIRECT,  /* forward to the address in argument */
	SIEVE_ACTION_DISCARD,   /* for the log: nothing stored because of this */
	SIEVE_ACTION_REJECT,    /* refuse with the reason in argument (RFC 5429) */
	SIEVE_ACTION_VACATION,  /* auto-reply, see vacation */
} SieveActionKind;

const char *sieve_action_kind_to_string(SieveActionKind kind); /* "fileinto" */

/* RFC 5230: an auto-reply the MDA may send.  The MDA still checks that it
 * did not answer this sender (with this handle, or this reason if handle
 * is NULL) in the last `days` days: that needs storage, so it is not here. */
typedef struct {
	guint      days;       /* RFC 5230 4.1: clamped to [MIN, MAX] */
	char      *subject;    /* :subject, or "Auto: " + the original Subject */
	char      *from;       /* :from, or NULL: the recipient's own address */
	GPtrArray *addresses;  /* :addresses (char *), maybe empty; never NULL */
	char      *handle;     /* :handle or NULL */
	gboolean   mime;       /* :mime: reason is a MIME entity with headers */
	char      *reason;     /* the reply's body */
	char      *to;         /* who gets the reply: the envelope sender */
	/* NULL: send it (if not sent within `days`); else why not, a static
	 * text: RFC 5230 4.5 and 4.6 forbid replies to lists, robots, bounces */
	const char *suppressed;
} SieveVacation;

typedef struct {
	SieveActionKind kind;
	char          *argument;  /* folder (KEEP: "INBOX"), address or reason; else NULL */
	gboolean       copy;      /* RFC 3894 :copy: did not cancel the implicit keep */
	gboolean       implicit;  /* RFC 5228 2.10.2: the implicit keep, not a command */
	guint          line;      /* script line of the command; 0 if implicit */
	SieveVacation *vacation;  /* VACATION only */
} SieveAction;

void sieve_action_free(SieveAction *action);

/* Run script against msg.  Returns a new array of SieveAction, in the
 * order the script took them, with the implicit keep (RFC 5228 2.10.2)
 * last when no action cancelled it.  Duplicates are dropped (RFC 5228
 * 2.10.3): two fileinto "A" store once; keep and fileinto "INBOX" are one.
 * Never returns NULL.  On a runtime error (too many actions or redirects,
 * two reject or vacation actions, reject beside an action that delivers,
 * the SIEVE_MAX_EVAL_COST budget spent) it sets *error and returns only the
 * implicit keep, as RFC 5228 2.10.6 asks. */
GPtrArray *sieve_script_evaluate(const SieveScript *script, const SieveMessage *msg,
                                 GError **error);
