/* agents/mra/pop3_proto.h - POP3 commands in, responses out.
 *
 * The pure layer under the POP3 server: RFC 1939 commands (USER, PASS,
 * STAT, LIST, RETR, DELE, RSET, NOOP, QUIT, UIDL, TOP, APOP), RFC 2449
 * CAPA and extended response codes, RFC 2595 STLS, RFC 5034 AUTH, and the
 * byte-stuffing of multi-line responses (RFC 1939 3).
 *
 * The server reads one line (at most POP3_PROTO_MAX_LINE - 2 bytes, without
 * its CRLF), parses it, and answers with the encoders below.
 */
#pragma once

#include <glib.h>

/* RFC 2449 4: a command line is at most 255 octets, CRLF included. */
#define POP3_PROTO_MAX_LINE 255
/* RFC 2449 4: the first line of a response is at most 512 octets. */
#define POP3_PROTO_MAX_RESPONSE_LINE 512
/* Longest AUTH continuation line (base64 SASL data) the server reads; our
 * choice, large enough for PLAIN and LOGIN with long names. */
#define POP3_PROTO_MAX_SASL_LINE 8192
/* RFC 4422 3.1: SASL mechanism names are at most 20 characters. */
#define POP3_PROTO_MAX_MECHANISM 20

#define POP3_PROTO_ERROR (pop3_proto_error_quark())
GQuark pop3_proto_error_quark(void);

typedef enum {
	POP3_PROTO_ERROR_SYNTAX,           /* "-ERR text" */
	POP3_PROTO_ERROR_UNKNOWN_COMMAND,  /* "-ERR text" */
	POP3_PROTO_ERROR_TOO_LONG,         /* the line is over POP3_PROTO_MAX_LINE */
} Pop3ProtoError;

const char *pop3_proto_error_to_string(Pop3ProtoError e);

typedef enum {
	POP3_CMD_USER, POP3_CMD_PASS, POP3_CMD_APOP, POP3_CMD_AUTH,
	POP3_CMD_STAT, POP3_CMD_LIST, POP3_CMD_RETR, POP3_CMD_DELE,
	POP3_CMD_RSET, POP3_CMD_NOOP, POP3_CMD_QUIT, POP3_CMD_UIDL,
	POP3_CMD_TOP, POP3_CMD_CAPA, POP3_CMD_STLS,
} Pop3CommandKind;

const char *pop3_command_kind_to_string(Pop3CommandKind k);

/* A parsed command; fields unused by its kind are NULL or 0. */
typedef struct {
	Pop3CommandKind kind;
	char *arg;        /* USER and APOP: the name; PASS: the password (may
	                     hold spaces); AUTH: the mechanism, upper-cased, or
	                     NULL for a bare AUTH asking for the list */
	char *arg2;       /* AUTH: initial response (base64, "=" for empty) or
	                     NULL; APOP: the digest, lower-case hex */
	gboolean has_msg; /* LIST and UIDL: a message number was given */
	guint32 msg;      /* LIST UIDL RETR DELE TOP: message number, >= 1 */
	guint32 lines;    /* TOP: body lines wanted, >= 0 */
} Pop3Command;

/* Parse one command line (without its CRLF).  Keywords are
 * case-insensitive; arguments are separated by one space; message numbers
 * are positive decimal numbers that fit in 32 bits.  Returns the command
 * (free with pop3_command_free) or NULL with error in POP3_PROTO_ERROR. */
Pop3Command *pop3_proto_parse_command(const char *line, gsize len, GError **error);
void         pop3_command_free(Pop3Command *cmd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Pop3Command, pop3_command_free)

/* ---- responses ---------------------------------------------------------- */

/* RFC 2449 8 and RFC 3206: extended response codes. */
typedef enum {
	POP3_CODE_NONE,
	POP3_CODE_LOGIN_DELAY,   /* [LOGIN-DELAY] */
	POP3_CODE_IN_USE,        /* [IN-USE]: the maildrop is locked */
	POP3_CODE_SYS_TEMP,      /* [SYS/TEMP] */
	POP3_CODE_SYS_PERM,      /* [SYS/PERM] */
	POP3_CODE_AUTH,          /* [AUTH]: the credentials were wrong */
} Pop3RespCode;

/* The code as written between brackets ("IN-USE"); "" for NONE. */
const char *pop3_resp_code_to_string(Pop3RespCode c);

/* "+OK [CODE] text" CRLF and "-ERR [CODE] text" CRLF.  CR and LF in text
 * become spaces and the line is cut to POP3_PROTO_MAX_RESPONSE_LINE. */
void pop3_proto_append_ok(GString *out, Pop3RespCode code, const char *text);
void pop3_proto_append_err(GString *out, Pop3RespCode code, const char *text);

/* RFC 1939 3: byte-stuffing, chunk by chunk.  Lines starting with '.' get
 * one more '.'; bare LF line ends become CRLF.  Start with
 * POP3_STUFFER_INIT, feed the data in any number of pieces, then end. */
typedef struct {
	gboolean line_start;  /* the next byte begins a line */
	gboolean pending_cr;  /* a CR was seen and not yet written */
} Pop3Stuffer;

#define POP3_STUFFER_INIT { TRUE, FALSE }

void pop3_proto_stuff(Pop3Stuffer *st, GString *out, const char *data, gsize len);
/* Close the last line if it is open, then write the terminator ".\r\n". */
void pop3_proto_stuff_end(Pop3Stuffer *st, GString *out);

/* The whole multi-line body at once: stuffed and terminated. */
void pop3_proto_append_multiline(GString *out, const char *data, gsize len);
/* RFC 1939 7 TOP: the header, the blank line and the first `lines` lines
 * of the body of a message, stuffed and terminated. */
void pop3_proto_append_top(GString *out, const char *data, gsize len, guint32 lines);

/* RFC 1939 7 APOP: MD5 of the greeting's timestamp ("<1896.697170952@host>")
 * followed by the shared secret, as 32 lower-case hex digits; newly
 * allocated. */
char *pop3_proto_apop_digest(const char *timestamp, const char *secret);
