/* agents/common/rfc5322.h - the header block of an Internet message.
 *
 * Splits a message into header fields and body (RFC 5322 2.1, 2.2),
 * unfolds field bodies (2.2.3), finds fields by name, extracts addresses
 * from From/To/Cc (3.4) and formats the Date field (3.3).  Pure and
 * bounded: no I/O, no clock; hostile input gives an error, never a crash.
 */
#pragma once

#include <glib.h>

/* Fields in one header; Received chains and lists stay well below this. */
#define RFC5322_MAX_FIELDS        500
/* One field with its folds, name included.  RFC 5322 2.1.1 bounds a line
 * to 998 octets but not a folded field; Received and DKIM-Signature fields
 * of several lines are normal. */
#define RFC5322_MAX_FIELD_LENGTH  16384
/* Mailboxes in one address list. */
#define RFC5322_MAX_ADDRESSES     1000
/* Comments nest (RFC 5322 3.2.2); nobody honest nests them deeper. */
#define RFC5322_MAX_COMMENT_DEPTH 16
/* A zone offset is "+hhmm"; real ones lie within a day. */
#define RFC5322_MAX_ZONE_MINUTES  (24 * 60 - 1)

#define RFC5322_ERROR (rfc5322_error_quark())
GQuark rfc5322_error_quark(void);

typedef enum {
	RFC5322_ERROR_TOO_MANY_FIELDS,
	RFC5322_ERROR_FIELD_TOO_LONG,
	RFC5322_ERROR_BAD_ADDRESS,     /* unbalanced quote, comment or <>, or no '@' */
	RFC5322_ERROR_TOO_MANY_ADDRESSES,
} Rfc5322Error;

const char *rfc5322_error_to_string(Rfc5322Error e);

/* One header field. */
typedef struct {
	char  *name;    /* as written ("Subject"); lookups ignore case */
	char  *value;   /* unfolded, without leading and trailing blanks */
	gsize  offset;  /* of the field's first byte in the message */
	gsize  length;  /* of the field in the message, folds and final line ending included */
} Rfc5322Field;

typedef struct {
	GPtrArray *fields;         /* Rfc5322Field *, in message order */
	gsize      body_offset;    /* the body's first byte; the message length when none */
	gboolean   has_separator;  /* an empty line ended the header (RFC 5322 2.1) */
} Rfc5322Header;

void rfc5322_header_free(Rfc5322Header *header);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Rfc5322Header, rfc5322_header_free)

/* Parse the header of a message of len bytes.  Lines may end with CRLF or
 * LF.  The header ends at the first empty line (the body follows it) or,
 * leniently, at the first line that is neither a field nor a fold (the body
 * starts with that line, has_separator FALSE).  Returns a new header, or
 * NULL with an RFC5322_ERROR when a bound is exceeded. */
Rfc5322Header *rfc5322_parse_header(const char *msg, gsize len, GError **error);

/* The first field called name (case-insensitive), or NULL.  Borrowed from
 * the header. */
const Rfc5322Field *rfc5322_header_find(const Rfc5322Header *header, const char *name);
/* The value of that first field, or NULL.  Borrowed. */
const char         *rfc5322_header_get(const Rfc5322Header *header, const char *name);
/* Every field called name, in order: a new array (free it) of borrowed
 * fields, empty when there is none. */
GPtrArray          *rfc5322_header_find_all(const Rfc5322Header *header, const char *name);

/* RFC 5322 2.2.3: remove each line ending (CRLF or LF) that a blank
 * follows, then the blanks at both ends.  A new string. */
char *rfc5322_unfold(const char *s, gsize len);

/* One mailbox of an address list. */
typedef struct {
	char *display_name;  /* unquoted, blanks collapsed; NULL when none */
	char *addr_spec;     /* "local@domain" as written, comments and blanks removed */
} Rfc5322Address;

void rfc5322_address_free(Rfc5322Address *address);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Rfc5322Address, rfc5322_address_free)

/* RFC 5322 3.4: the mailboxes of an address-list value (From, To, Cc,
 * Reply-To...): "a@b", "Name <a@b>", "\"Doe, J\" <j@b>", comments, and
 * groups ("team: a@b, c@d;", "undisclosed-recipients:;") whose members are
 * listed and whose names are dropped.  Returns a new array of
 * Rfc5322Address * (freeing it frees them), or NULL with an RFC5322_ERROR. */
GPtrArray *rfc5322_parse_address_list(const char *value, gsize len, GError **error);

/* RFC 5322 3.3: "Tue, 1 Jul 2003 10:52:37 +0200" for t_us microseconds
 * since the epoch, shown in a zone zone_minutes east of UTC (-120 for
 * "-0200").  The caller reads the clock; this only formats.  A new string,
 * or NULL for a time outside years 1..9999. */
char *rfc5322_format_date(gint64 t_us, int zone_minutes);
