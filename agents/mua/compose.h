/* agents/mua/compose.h - writing a message the way a mail client does.
 *
 * The pure layer under the MUA's "Send" button: an RFC 5322 header (Date,
 * From with a display name, To, Cc, Subject, Message-ID, threading fields),
 * RFC 2045/2046 MIME (text/plain in UTF-8, quoted-printable when it is not
 * plain ASCII; attachments as multipart/mixed in base64), RFC 2047 encoded
 * words for non-ASCII names and subjects, RFC 2231 for file names.  No I/O,
 * no clock, no randomness: the caller passes the date, id and boundary.
 */
#pragma once

#include <glib.h>

/* RFC 5322 2.1.1: lines SHOULD stay within 78 characters; we fold there. */
#define COMPOSE_FOLD_WIDTH        78
/* RFC 5322 2.1.1: and MUST stay within 998.  A longer body line makes the
 * text quoted-printable. */
#define COMPOSE_MAX_LINE          998
/* RFC 2045 6.7 (5), 6.8: encoded lines are at most 76 characters. */
#define COMPOSE_ENCODED_LINE      76
/* RFC 2047 2: an encoded word is at most 75 characters. */
#define COMPOSE_MAX_ENCODED_WORD  75
/* The largest message we compose: attachments included, before encoding. */
#define COMPOSE_MAX_MESSAGE       (10 * 1024 * 1024)
/* Recipients of one message (To, Cc and Bcc together). */
#define COMPOSE_MAX_RECIPIENTS    100
/* Attachments of one message. */
#define COMPOSE_MAX_ATTACHMENTS   32
/* RFC 2046 5.1.1: a boundary is 1 to 70 characters. */
#define COMPOSE_MAX_BOUNDARY      70

#define COMPOSE_ERROR (compose_error_quark())
GQuark compose_error_quark(void);

typedef enum {
	COMPOSE_ERROR_ADDRESS,       /* an address list that does not parse */
	COMPOSE_ERROR_NO_RECIPIENT,  /* To, Cc and Bcc name nobody */
	COMPOSE_ERROR_INVALID,       /* text that is not UTF-8, a bad boundary or id */
	COMPOSE_ERROR_TOO_LARGE,     /* over a COMPOSE_MAX_* limit */
	COMPOSE_ERROR_BOUNDARY,      /* the boundary occurs in the text: pick another */
} ComposeError;

const char *compose_error_to_string(ComposeError e);

/* How the text part travels (RFC 2045 6). */
typedef enum {
	COMPOSE_CTE_7BIT,              /* plain ASCII with short lines: as it is */
	COMPOSE_CTE_QUOTED_PRINTABLE,  /* anything else: readable, 7-bit safe */
	COMPOSE_CTE_BASE64,            /* attachments */
} ComposeCte;

/* "7bit", "quoted-printable", "base64": the header values. */
const char *compose_cte_to_string(ComposeCte cte);

typedef struct {
	const char *filename;      /* UTF-8, as the recipient will see it */
	const char *content_type;  /* "application/pdf"; NULL or malformed:
	                              application/octet-stream */
	GBytes     *data;          /* borrowed */
} ComposeAttachment;

/* Everything a message is made of.  Strings are borrowed for the call and
 * UTF-8; those that may be NULL say so. */
typedef struct {
	const char *from_name;      /* display name; NULL or "": the bare address */
	const char *from_address;   /* "alice@example.com" */
	const char *to;             /* address lists as a user types them:        */
	const char *cc;             /*   "Bob <bob@example.org>, carol@example.org"; */
	const char *bcc;            /*   each may be NULL; Bcc is never written    */
	const char *subject;        /* NULL: no Subject; line breaks become spaces */
	const char *body;           /* the text, any line endings; NULL: empty */
	const char *message_id;     /* "<id@domain>", brackets included */
	const char *in_reply_to;    /* "<id@domain>" or NULL */
	const char *references;     /* "<a@b> <c@d>" or NULL */
	const char *user_agent;     /* NULL: no User-Agent */
	gint64      date_us;        /* Unix time of the Date field, microseconds */
	int         zone_minutes;   /* the Date's zone, east of UTC */
	const char *boundary;       /* multipart boundary, used with attachments */
	gboolean    draft;          /* a draft may name no recipient yet */
	const ComposeAttachment *attachments;
	guint       n_attachments;
} ComposeInput;

/* The message as it goes to the SMTP server: CRLF line endings, 7-bit
 * clean.  A new GBytes, or NULL with a COMPOSE_ERROR. */
GBytes *compose_message(const ComposeInput *in, GError **error);

/* The envelope: every addr-spec of to, cc and bcc (each may be NULL), in
 * order, duplicates (ignoring case) removed.  A new array of char *, or
 * NULL with COMPOSE_ERROR_ADDRESS / _NO_RECIPIENT / _TOO_LARGE. */
GPtrArray *compose_recipients(const char *to, const char *cc, const char *bcc, GError **error);

/* ---- the pieces, for the tests and for the reply ------------------------ */

/* RFC 2047: text as it may stand in a header: itself when it is printable
 * ASCII, else "=?UTF-8?B?...?=" words of at most COMPOSE_MAX_ENCODED_WORD
 * characters, split between characters, separated by a space.  NULL when
 * text is not UTF-8. */
char *compose_encode_words(const char *text);

/* RFC 2047 6: the text of a header value with its encoded words decoded
 * (B and Q, any charset iconv knows; the blanks between two adjacent
 * words dropped, 6.2).  Words that do not decode stay as they are; the
 * result is valid UTF-8.  Newly allocated. */
char *compose_decode_words(const char *text);

/* RFC 5322 3.4: a mailbox for a header, "Name <addr>" with the name quoted
 * (3.2.4) or encoded (RFC 2047 5 (3)) as needed; the bare address when
 * name is NULL or empty. */
char *compose_format_mailbox(const char *name, const char *address);

/* RFC 5322 2.2.3: "Name: value" CRLF, folded at blanks so that lines stay
 * within COMPOSE_FOLD_WIDTH where the value allows (a long word is not
 * broken).  Appended to out. */
void  compose_append_field(GString *out, const char *name, const char *value);

/* RFC 2045 6.7: quoted-printable of len bytes (line breaks in data, LF or
 * CRLF, stay hard line breaks written as CRLF), appended to out.  The last
 * line is ended with CRLF. */
void  compose_append_quoted_printable(GString *out, const char *data, gsize len);

/* RFC 2045 6.8: base64 in lines of COMPOSE_ENCODED_LINE, each ended by
 * CRLF, appended to out. */
void  compose_append_base64(GString *out, const guint8 *data, gsize len);

/* RFC 5322 3.6.5, as mail clients do: "Re: " before the subject unless it
 * already starts with "Re:" (any case).  NULL gives "Re: ". */
char *compose_reply_subject(const char *subject);

/* RFC 5322 3.6.4: the References of a reply: the parent's References (or
 * else its In-Reply-To) followed by its Message-ID.  NULL when the parent
 * has no Message-ID and nothing to refer to. */
char *compose_reply_references(const char *parent_references, const char *parent_in_reply_to,
                               const char *parent_message_id);
