/* agents/common/mime.h - the shape of a message: a tree of MIME parts.
 *
 * Parses an RFC 5322 message (RFC 2045 header fields, RFC 2046 multipart
 * and message/rfc822) into parts that remember where their header and body
 * lie in the message bytes.  IMAP's BODYSTRUCTURE and BODY[section] are
 * built on it.  Pure: no I/O; broken input never fails, it degrades.
 */
#pragma once

#include <glib.h>

/* Deepest nesting of multiparts and message/rfc822 parts followed; a part
 * below it is not split further and reads as text/plain. */
#define MIME_MAX_DEPTH 32
/* Most parts in one message, the root included; later parts are left out. */
#define MIME_MAX_PARTS 1000
/* Most parameters kept per Content-Type or Content-Disposition. */
#define MIME_MAX_PARAMS 32
/* Longest Content-Type boundary followed.  RFC 2046 5.1.1 allows 1 to 70
 * characters; some mailers write longer ones, so we are more lenient. */
#define MIME_MAX_BOUNDARY 200

typedef struct {
	char *name;   /* as written: "charset" */
	char *value;  /* unquoted: "utf-8" */
} MimeParam;

typedef struct MimePart MimePart;

/* One part.  Offsets index the bytes given to mime_parse and are valid only
 * with those same bytes.  The header runs from header_start to header_end
 * and includes the blank line that ends it (when there is one), so body_start
 * == header_end.  A part of a multipart ends before the line break that
 * precedes the next boundary line (RFC 2046 5.1.1: that CRLF belongs to the
 * boundary).  Strings are never NULL where a default exists: type, subtype
 * and encoding are lower case ("text", "plain", "7bit"). */
struct MimePart {
	gsize header_start, header_end;
	gsize body_start, body_end;
	guint64 body_lines;        /* lines in the body, a last unended one too */

	char *type;                /* "multipart" */
	char *subtype;             /* "mixed" */
	GPtrArray *params;         /* MimeParam*: Content-Type parameters */
	char *encoding;            /* Content-Transfer-Encoding, default "7bit" */
	char *id;                  /* Content-ID, NULL if absent */
	char *description;         /* Content-Description, NULL if absent */
	char *md5;                 /* Content-MD5, NULL if absent */
	char *disposition;         /* "attachment", NULL if absent */
	GPtrArray *disposition_params; /* MimeParam* */
	GPtrArray *languages;      /* char*: Content-Language tags (may be empty) */
	char *location;            /* Content-Location, NULL if absent */

	/* TRUE when the part said it was multipart or message/rfc822 but could
	 * not be split (no boundary, no parts, too deep) and reads as text/plain. */
	gboolean degraded;

	MimePart *parent;          /* NULL for the root */
	/* Children: the parts of a multipart, or for message/rfc822 exactly one:
	 * the encapsulated message (its own header and body).  Empty otherwise. */
	GPtrArray *children;
	guint depth;               /* 0 for the root */
};

/* Parse a whole message.  Never fails: a message without a header, with a
 * missing or unclosed boundary or with garbage parts still yields a tree
 * (at worst one text/plain part).  The returned tree is owned by the caller
 * (mime_part_free); it does not keep data, which must be passed again to
 * the functions that read bytes. */
MimePart   *mime_parse(const char *data, gsize len);
void        mime_part_free(MimePart *part);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MimePart, mime_part_free)

gboolean    mime_part_is_multipart(const MimePart *part);
gboolean    mime_part_is_message(const MimePart *part);  /* message/rfc822 */
/* A Content-Type parameter by name (case-insensitive), borrowed; NULL if
 * absent. */
const char *mime_part_param(const MimePart *part, const char *name);
/* Number of parts in the tree, the root included. */
guint       mime_part_count(const MimePart *root);

/* ---- header fields ------------------------------------------------------ */

/* One header field, as offsets into the message bytes.  The field runs from
 * start to end, end being after its last line break (continuation lines
 * included); the value begins after the colon. */
typedef struct {
	gsize start;
	gsize name_len;
	gsize value_start;
	gsize end;
} MimeHeaderField;

/* Step through the fields of the header between *pos and end (usually a
 * part's header_start and header_end).  Lines that are not fields are
 * skipped; the blank line ends the header.  Returns FALSE when there is no
 * field left.  *pos is advanced past the field returned. */
gboolean    mime_header_next(const char *data, gsize *pos, gsize end, MimeHeaderField *field_r);
/* TRUE if the field's name is name (case-insensitive). */
gboolean    mime_header_field_is(const char *data, const MimeHeaderField *field, const char *name);
/* The value unfolded (RFC 5322 2.2.3), trimmed, NUL bytes removed; newly
 * allocated. */
char       *mime_header_field_value(const char *data, const MimeHeaderField *field);
/* The unfolded value of the first field called name in the part's header,
 * newly allocated; NULL if there is none. */
char       *mime_part_header_get(const char *data, const MimePart *part, const char *name);
