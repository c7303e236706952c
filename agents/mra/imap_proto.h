/* agents/mra/imap_proto.h - IMAP4rev1 commands in, responses out.
 *
 * The pure layer under the IMAP server: RFC 3501 section 9 grammar for the
 * client's commands (with RFC 7888 LITERAL+, RFC 4315 UID EXPUNGE, RFC 6851
 * MOVE, RFC 2177 IDLE, RFC 2971 ID, RFC 5161 ENABLE, RFC 3691 UNSELECT),
 * modified UTF-7 mailbox names (RFC 3501 5.1.3), and the encoders for
 * responses, ENVELOPE, BODYSTRUCTURE and BODY[section] (RFC 3501 7.4.2).
 *
 * How a server reads a command:
 *   1. read a line (at most IMAP_PROTO_MAX_LINE bytes, without its CRLF);
 *   2. imap_proto_line_literal(): does it end with {N} or {N+}?  If not, the
 *      command is complete.  If N is too large, refuse without reading: a
 *      synchronising literal gets "TAG BAD"; a non-synchronising one is
 *      already on its way, so reply BAD and discard N bytes, or send BYE
 *      and close (see RFC 7888);
 *   3. for {N} answer "+ go ahead"; read exactly N bytes; go to 1;
 *   4. hand everything, as it came (each line followed by CRLF, each
 *      literal's bytes after the line that announced it), to
 *      imap_proto_parse_command().  The final CRLF may be left off.
 */
#pragma once

#include <glib.h>
#include "agents/common/mime.h"

/* Longest line of a command, without its CRLF.  RFC 7162 4 asks clients to
 * keep lines under 8192 octets, so a server must take at least that. */
#define IMAP_PROTO_MAX_LINE 8192
/* Largest literal, APPEND's message included. */
#define IMAP_PROTO_MAX_LITERAL (32u * 1024 * 1024)
/* Largest whole command (lines and literals together). */
#define IMAP_PROTO_MAX_COMMAND (IMAP_PROTO_MAX_LITERAL + 64u * 1024)
/* Deepest nesting of search keys: parentheses, NOT and OR each count. */
#define IMAP_PROTO_MAX_DEPTH 32
/* Most elements of any one list (flags, fetch items, search keys, STATUS
 * items, ID pairs, header names) and most literals in one command. */
#define IMAP_PROTO_MAX_ARGS 1000
/* Longest mailbox name, in bytes of UTF-8. */
#define IMAP_PROTO_MAX_MAILBOX_NAME 255
/* Mailbox hierarchy separator this server announces in LIST. */
#define IMAP_PROTO_HIERARCHY_SEP '/'

/* ---- errors ------------------------------------------------------------- */

#define IMAP_PROTO_ERROR (imap_proto_error_quark())
GQuark imap_proto_error_quark(void);

typedef enum {
	IMAP_PROTO_ERROR_SYNTAX,          /* reply "TAG BAD text" (or "* BAD" without a tag) */
	IMAP_PROTO_ERROR_UNKNOWN_COMMAND, /* reply "TAG BAD text" */
	IMAP_PROTO_ERROR_LIMIT,           /* a bound was exceeded: "TAG BAD text" */
	IMAP_PROTO_ERROR_MAILBOX_NAME,    /* bad mailbox name: "TAG NO text" */
} ImapProtoError;

const char *imap_proto_error_to_string(ImapProtoError e);

/* ---- literals ----------------------------------------------------------- */

typedef enum {
	IMAP_LITERAL_NONE,       /* the line does not end with a literal */
	IMAP_LITERAL_FOLLOWS,    /* *size_r bytes follow the line's CRLF */
	IMAP_LITERAL_TOO_LARGE,  /* N is above IMAP_PROTO_MAX_LITERAL or not a
	                            32-bit number at all: refuse, read nothing */
} ImapLiteral;

const char *imap_literal_to_string(ImapLiteral l);

/* Look at the end of one line (without its CRLF).  RFC 3501 9: literal =
 * "{" number "}"; RFC 7888 3: "{" number "+}" is non-synchronising (no
 * "+ go ahead" is sent).  *size_r gets N (G_MAXUINT64 if it overflowed),
 * *nonsync_r whether the '+' was there; both may be NULL. */
ImapLiteral imap_proto_line_literal(const char *line, gsize len, guint64 *size_r, gboolean *nonsync_r);

/* RFC 2177 3: the line that ends IDLE ("DONE", any case, nothing else). */
gboolean    imap_proto_line_is_done(const char *line, gsize len);

/* ---- sequence sets ------------------------------------------------------ */

/* RFC 3501 9: "*" is the largest number in use; kept symbolic until the
 * mailbox is known. */
#define IMAP_SEQ_STAR 0u

typedef struct ImapSeqSet ImapSeqSet;

/* Parse a sequence-set ("1:*", "2,4:7,9", "*:4").  NULL with error on "0",
 * "1:", "a", ",", a number above 4294967295, or too many ranges. */
ImapSeqSet *imap_proto_seqset_parse(const char *s, gsize len, GError **error);
void        imap_proto_seqset_free(ImapSeqSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapSeqSet, imap_proto_seqset_free)
/* Is n in the set, "*" meaning max (the highest sequence number or UID)?
 * RFC 3501 9: a range "a:b" means the same as "b:a". */
gboolean    imap_proto_seqset_contains(const ImapSeqSet *set, guint32 n, guint32 max);
guint       imap_proto_seqset_n_ranges(const ImapSeqSet *set);
/* Range i as written; either end may be IMAP_SEQ_STAR. */
void        imap_proto_seqset_range(const ImapSeqSet *set, guint i, guint32 *first_r, guint32 *last_r);
/* The set back in IMAP syntax ("1:*,5"), newly allocated. */
char       *imap_proto_seqset_to_string(const ImapSeqSet *set);

/* ---- dates -------------------------------------------------------------- */

typedef struct {
	int year, month, day;       /* month 1..12 */
} ImapDate;

typedef struct {
	ImapDate date;
	int hour, minute, second;
	int zone_minutes;           /* offset east of UTC: "-0700" is -420 */
} ImapDateTime;

/* Seconds since the Unix epoch. */
gint64 imap_proto_date_time_to_unix(const ImapDateTime *dt);
/* Midnight UTC that starts the date (SEARCH compares dates, RFC 3501 6.4.4). */
gint64 imap_proto_date_to_unix(const ImapDate *d);

/* ---- search keys -------------------------------------------------------- */

typedef enum {
	IMAP_SEARCH_ALL, IMAP_SEARCH_ANSWERED, IMAP_SEARCH_BCC, IMAP_SEARCH_BEFORE,
	IMAP_SEARCH_BODY, IMAP_SEARCH_CC, IMAP_SEARCH_DELETED, IMAP_SEARCH_DRAFT,
	IMAP_SEARCH_FLAGGED, IMAP_SEARCH_FROM, IMAP_SEARCH_HEADER, IMAP_SEARCH_KEYWORD,
	IMAP_SEARCH_LARGER, IMAP_SEARCH_NEW, IMAP_SEARCH_NOT, IMAP_SEARCH_OLD,
	IMAP_SEARCH_ON, IMAP_SEARCH_OR, IMAP_SEARCH_RECENT, IMAP_SEARCH_SEEN,
	IMAP_SEARCH_SENTBEFORE, IMAP_SEARCH_SENTON, IMAP_SEARCH_SENTSINCE,
	IMAP_SEARCH_SINCE, IMAP_SEARCH_SMALLER, IMAP_SEARCH_SUBJECT, IMAP_SEARCH_TEXT,
	IMAP_SEARCH_TO, IMAP_SEARCH_UID, IMAP_SEARCH_UNANSWERED, IMAP_SEARCH_UNDELETED,
	IMAP_SEARCH_UNDRAFT, IMAP_SEARCH_UNFLAGGED, IMAP_SEARCH_UNKEYWORD,
	IMAP_SEARCH_UNSEEN,
	IMAP_SEARCH_SEQSET,   /* a bare sequence set: message sequence numbers */
	IMAP_SEARCH_AND,      /* a parenthesised group, and the top level */
} ImapSearchKind;

const char *imap_search_kind_to_string(ImapSearchKind k);

typedef struct ImapSearchKey ImapSearchKey;
struct ImapSearchKey {
	ImapSearchKind kind;
	char *header;         /* HEADER: the field name */
	char *value;          /* BCC BODY CC FROM HEADER SUBJECT TEXT TO: the string;
	                         KEYWORD UNKEYWORD: the keyword */
	guint32 number;       /* LARGER SMALLER */
	ImapDate date;        /* BEFORE ON SINCE SENT* */
	ImapSeqSet *set;      /* SEQSET UID */
	GPtrArray *children;  /* ImapSearchKey*: AND (any), NOT (1), OR (2); else NULL */
};

void imap_search_key_free(ImapSearchKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapSearchKey, imap_search_key_free)

/* ---- fetch items -------------------------------------------------------- */

typedef enum {
	IMAP_FETCH_FLAGS, IMAP_FETCH_UID, IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE, IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY,            /* BODY without a section: non-extensible structure */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_BODY_SECTION,    /* BODY[...] and BODY.PEEK[...] */
	IMAP_FETCH_RFC822,          /* = BODY[]        (sets \Seen) */
	IMAP_FETCH_RFC822_HEADER,   /* = BODY.PEEK[HEADER] */
	IMAP_FETCH_RFC822_TEXT,     /* = BODY[TEXT]    (sets \Seen) */
} ImapFetchKind;

const char *imap_fetch_kind_to_string(ImapFetchKind k);

/* RFC 3501 6.4.5: what follows the part numbers in a section. */
typedef enum {
	IMAP_SECTION_BODY,              /* "" or "1.2": the whole message / the part's body */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,              /* only after part numbers */
} ImapSectionText;

const char *imap_section_text_to_string(ImapSectionText t);

typedef struct {
	GArray *parts;          /* guint32 part numbers, "1.2.3"; empty for none */
	ImapSectionText text;
	GPtrArray *fields;      /* char*: HEADER.FIELDS(.NOT) names, else NULL */
} ImapSection;

typedef struct {
	ImapFetchKind kind;
	gboolean peek;            /* BODY.PEEK[...]: do not set \Seen */
	ImapSection section;      /* BODY_SECTION */
	gboolean partial;         /* <origin.count> given */
	guint32 partial_origin;
	guint32 partial_count;
} ImapFetchItem;

/* The name a FETCH response gives this item, e.g. "BODY[1.HEADER.FIELDS
 * (From To)]<0>" (RFC 3501 7.4.2: the response carries the origin, not the
 * count, and never ".PEEK").  Newly allocated. */
char *imap_proto_fetch_item_name(const ImapFetchItem *item);

/* ---- commands ----------------------------------------------------------- */

typedef enum {
	IMAP_CMD_CAPABILITY, IMAP_CMD_NOOP, IMAP_CMD_LOGOUT,
	IMAP_CMD_STARTTLS, IMAP_CMD_AUTHENTICATE, IMAP_CMD_LOGIN,
	IMAP_CMD_SELECT, IMAP_CMD_EXAMINE, IMAP_CMD_CREATE, IMAP_CMD_DELETE,
	IMAP_CMD_RENAME, IMAP_CMD_SUBSCRIBE, IMAP_CMD_UNSUBSCRIBE, IMAP_CMD_LIST,
	IMAP_CMD_LSUB, IMAP_CMD_STATUS, IMAP_CMD_APPEND,
	IMAP_CMD_CHECK, IMAP_CMD_CLOSE, IMAP_CMD_UNSELECT, IMAP_CMD_EXPUNGE,
	IMAP_CMD_SEARCH, IMAP_CMD_FETCH, IMAP_CMD_STORE, IMAP_CMD_COPY, IMAP_CMD_MOVE,
	IMAP_CMD_IDLE, IMAP_CMD_NAMESPACE, IMAP_CMD_ID, IMAP_CMD_ENABLE,
} ImapCommandKind;

const char *imap_command_kind_to_string(ImapCommandKind k);

/* STATUS items (RFC 3501 6.3.10), a bit set. */
typedef enum {
	IMAP_STATUS_ITEM_MESSAGES    = 1 << 0,
	IMAP_STATUS_ITEM_RECENT      = 1 << 1,
	IMAP_STATUS_ITEM_UIDNEXT     = 1 << 2,
	IMAP_STATUS_ITEM_UIDVALIDITY = 1 << 3,
	IMAP_STATUS_ITEM_UNSEEN      = 1 << 4,
} ImapStatusItems;

/* The name of one item (a single bit): "UIDNEXT". */
const char *imap_status_item_to_string(ImapStatusItems item);

typedef enum {
	IMAP_STORE_REPLACE,   /* FLAGS */
	IMAP_STORE_ADD,       /* +FLAGS */
	IMAP_STORE_REMOVE,    /* -FLAGS */
} ImapStoreMode;

const char *imap_store_mode_to_string(ImapStoreMode m);

/* A parsed command.  Only the fields its kind uses are set; the rest are
 * NULL or 0.  Strings are NUL-terminated copies (a string containing NUL is
 * refused), mailbox names still in modified UTF-7 as sent: pass them to
 * imap_proto_mailbox_name_check() before touching the disk. */
typedef struct {
	char *tag;
	ImapCommandKind kind;
	gboolean uid;             /* "UID FETCH" etc.: numbers are UIDs */

	char *mailbox;            /* SELECT EXAMINE CREATE DELETE RENAME(old)
	                             SUBSCRIBE UNSUBSCRIBE STATUS APPEND COPY MOVE */
	char *new_mailbox;        /* RENAME: the new name */
	char *reference;          /* LIST LSUB: the reference name ("" for none) */
	char *pattern;            /* LIST LSUB: the pattern, '%' and '*' wildcards */

	char *user, *password;    /* LOGIN */
	char *mechanism;          /* AUTHENTICATE, upper-cased */
	char *initial_response;   /* AUTHENTICATE (RFC 4959): base64, "=" for empty, or NULL */

	ImapStatusItems status_items;

	GPtrArray *flags;         /* char*: APPEND and STORE flags ("\\Seen", "$Junk") */
	gboolean has_date;        /* APPEND date-time given */
	ImapDateTime date_time;
	GBytes *message;          /* APPEND: the literal (may contain NUL) */

	ImapSeqSet *set;          /* FETCH STORE COPY MOVE, UID EXPUNGE */
	GPtrArray *fetch_items;   /* ImapFetchItem*: FETCH, macros expanded */
	ImapStoreMode store_mode;
	gboolean silent;          /* STORE FLAGS.SILENT */

	char *charset;            /* SEARCH CHARSET, or NULL */
	ImapSearchKey *search;    /* SEARCH: an AND of the keys */

	gboolean id_nil;          /* ID NIL */
	GPtrArray *id_params;     /* char*: field, value (NULL for NIL), field, ... */

	GPtrArray *capabilities;  /* char*: ENABLE, as sent */
} ImapCommand;

/* Parse one whole command (see the top of this file for what buf holds).
 * Returns the command (free with imap_command_free) or NULL with error in
 * IMAP_PROTO_ERROR and, when the tag was readable, *tag_r set to a copy of
 * it for the "TAG BAD" reply (else *tag_r = NULL: reply "* BAD").  tag_r
 * may be NULL; on success *tag_r is NULL. */
ImapCommand *imap_proto_parse_command(const char *buf, gsize len, char **tag_r, GError **error);
void         imap_command_free(ImapCommand *cmd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapCommand, imap_command_free)

/* ---- mailbox names ------------------------------------------------------ */

/* RFC 3501 5.1.3: modified UTF-7 to UTF-8 and back.  Decoding is strict
 * (no 8-bit, no characters that could have been written plainly, valid
 * UTF-16, canonical base64, no NUL).  NULL with error on bad input. */
char *imap_proto_mutf7_decode(const char *mutf7, GError **error);
char *imap_proto_mutf7_encode(const char *utf8, GError **error);

/* Decide whether a mailbox name (as sent: modified UTF-7) may become a
 * folder.  Refuses bad modified UTF-7, control characters, empty names and
 * empty components (leading, trailing or doubled separators), "." and ".."
 * components, and names over IMAP_PROTO_MAX_MAILBOX_NAME: such a name can
 * never leave the user's directory.  RFC 3501 5.1: INBOX is
 * case-insensitive, so "inbox" and "Inbox/x" come back as "INBOX",
 * "INBOX/x".  Returns the UTF-8 name, newly allocated, or NULL with
 * IMAP_PROTO_ERROR_MAILBOX_NAME. */
char *imap_proto_mailbox_name_check(const char *mutf7, GError **error);

/* ---- response encoders -------------------------------------------------- */

/* RFC 3501 7.1: the conditions a status response carries. */
typedef enum {
	IMAP_COND_OK, IMAP_COND_NO, IMAP_COND_BAD, IMAP_COND_PREAUTH, IMAP_COND_BYE,
} ImapCond;

const char *imap_cond_to_string(ImapCond c);

/* Strings, RFC 3501 4.3: a quoted string when the bytes allow (7-bit, no
 * CR, LF or NUL, not too long), else a literal "{n}\r\n" and the bytes. */
void imap_proto_append_string(GString *out, const char *s, gsize len);
/* An nstring: NIL for NULL. */
void imap_proto_append_nstring(GString *out, const char *s);
/* An astring: a bare atom when it is one, else a string. */
void imap_proto_append_astring(GString *out, const char *s);
/* A literal, always ("{n}\r\n" and the bytes): for message data. */
void imap_proto_append_literal(GString *out, const char *data, gsize len);
/* A mailbox name given in UTF-8, encoded in modified UTF-7, as an astring. */
void imap_proto_append_mailbox(GString *out, const char *utf8);
/* A flag list "(\Seen $Junk)" from n flags (n may be 0). */
void imap_proto_append_flag_list(GString *out, const char *const *flags, guint n);

/* "* " text CRLF.  The text is the caller's: it may contain literals. */
void imap_proto_append_untagged(GString *out, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* "TAG COND [code] text" CRLF; tag NULL gives "*", code NULL none.  CR
 * and LF in code or text become spaces so one reply stays one line. */
void imap_proto_append_tagged(GString *out, const char *tag, ImapCond cond,
                              const char *code, const char *text);
/* RFC 3501 7.5: the continuation request "+ text" CRLF. */
void imap_proto_append_continuation(GString *out, const char *text);

/* INTERNALDATE (RFC 3501 9 date-time): "\"17-Jul-1996 02:44:25 -0700\"",
 * quotes included, for a Unix time shown at zone_minutes east of UTC. */
void imap_proto_append_internaldate(GString *out, gint64 unix_time, int zone_minutes);

/* RFC 3501 7.4.2: the ENVELOPE of a message (root) or of the message inside
 * a message/rfc822 part (pass the encapsulated message: the part's child).
 * data is the message the tree was parsed from. */
void imap_proto_append_envelope(GString *out, const char *data, const MimePart *msg);
/* RFC 3501 7.4.2: BODYSTRUCTURE (extensible TRUE) or BODY (FALSE) of a
 * message.  Pass the root: a message/rfc822 inside is described too. */
void imap_proto_append_bodystructure(GString *out, const char *data, const MimePart *root,
                                     gboolean extensible);

/* RFC 3501 6.4.5: the bytes a BODY[section]<origin.count> names, from the
 * message data (len bytes) and its tree.  HEADER.FIELDS keeps the fields in
 * their order and form and the blank line.  Returns NULL if the section
 * names no part of this message (the server answers with an empty string
 * or NIL), else the bytes (possibly empty), newly allocated. */
GBytes *imap_proto_fetch_section(const char *data, gsize len, const MimePart *root,
                                 const ImapSection *section, gboolean partial,
                                 guint32 origin, guint32 count);
