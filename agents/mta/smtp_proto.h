/* agents/mta/smtp_proto.h - the SMTP and LMTP grammar: bytes in, structs out.
 *
 * Commands and paths (RFC 5321 4.1, LMTP's LHLO from RFC 2033), replies with
 * enhanced status codes (RFC 5321 4.2, RFC 3463, RFC 2034), the EHLO
 * extension list, and the DATA transparency rules (RFC 5321 4.5.2).  Pure:
 * no I/O, no clock, no globals.  The SMTP server, the SMTP client and the
 * MDA's LMTP server all speak through this one file.
 */
#pragma once

#include <glib.h>

/* ---- limits (RFC 5321 4.5.3.1) ------------------------------------------ */

/* A command line, CRLF included (RFC 5321 4.5.3.1.4). */
#define SMTP_PROTO_MAX_COMMAND_LINE   512
/* A reply line, CRLF included (RFC 5321 4.5.3.1.5). */
#define SMTP_PROTO_MAX_REPLY_LINE     512
/* A line of message text, CRLF included (RFC 5321 4.5.3.1.6). */
#define SMTP_PROTO_MAX_TEXT_LINE      1000
/* A domain name and each of its labels (RFC 5321 4.5.3.1.2, RFC 1035 2.3.4).
 * Local parts are NOT held to 64 octets (4.5.3.1.1): real mail (VERP, SRS)
 * exceeds it and 4.5.3.1 asks implementations to be liberal; the command
 * line bound keeps them finite anyway. */
#define SMTP_PROTO_MAX_DOMAIN         255
#define SMTP_PROTO_MAX_LABEL          63
/* More lines than this in one reply is a broken or hostile server. */
#define SMTP_PROTO_MAX_REPLY_LINES    100
/* ESMTP parameters on one MAIL or RCPT command. */
#define SMTP_PROTO_MAX_PARAMS         16
/* Digits in a SIZE= value: 20 fit any guint64. */
#define SMTP_PROTO_MAX_SIZE_DIGITS    20

#define SMTP_PROTO_DEFAULT_MESSAGE_SIZE (10 * 1024 * 1024)
/* RFC 5321 4.5.3.1.8: a server must accept at least 100 recipients. */
#define SMTP_PROTO_DEFAULT_RECIPIENTS   100
#define SMTP_PROTO_DEFAULT_ERRORS       10

/* The knobs a server or client may turn; every length counts the CRLF. */
typedef struct {
	gsize command_line;   /* SMTP_PROTO_MAX_COMMAND_LINE */
	gsize text_line;      /* SMTP_PROTO_MAX_TEXT_LINE */
	gsize message_size;   /* octets of message data after unstuffing, CRLFs included */
	guint recipients;     /* per transaction; the session answers 452 beyond (RFC 5321 4.5.3.1.10) */
	guint errors;         /* per session; the session hangs up beyond */
} SmtpLimits;

#define SMTP_LIMITS_INIT { SMTP_PROTO_MAX_COMMAND_LINE, SMTP_PROTO_MAX_TEXT_LINE, \
                           SMTP_PROTO_DEFAULT_MESSAGE_SIZE, SMTP_PROTO_DEFAULT_RECIPIENTS, \
                           SMTP_PROTO_DEFAULT_ERRORS }

/* Fill *limits with the defaults above. */
void smtp_proto_limits_init(SmtpLimits *limits);

/* ---- errors ------------------------------------------------------------- */

/* GError domain of every parser here.  The message is a short explanation
 * fit to be the text of the reply. */
#define SMTP_PROTO_ERROR (smtp_proto_error_quark())
GQuark smtp_proto_error_quark(void);

typedef enum {
	SMTP_PROTO_ERROR_LINE_TOO_LONG,      /* 500 5.5.2 (RFC 5321 4.5.3.1.10) */
	SMTP_PROTO_ERROR_BAD_CHARACTER,      /* 500 5.5.2: NUL, control or 8-bit byte in a command */
	SMTP_PROTO_ERROR_UNKNOWN_COMMAND,    /* 500 5.5.1 */
	SMTP_PROTO_ERROR_SYNTAX,             /* 501 5.5.4: missing, extra or malformed argument */
	SMTP_PROTO_ERROR_BAD_SENDER,         /* 501 5.1.7: MAIL FROM path */
	SMTP_PROTO_ERROR_BAD_RECIPIENT,      /* 501 5.1.3: RCPT TO path */
	SMTP_PROTO_ERROR_BAD_PARAMETER,      /* 501 5.5.4: known parameter, bad or repeated value */
	SMTP_PROTO_ERROR_UNSUPPORTED_PARAMETER, /* 555 5.5.4 (RFC 5321 4.1.1.11) */
	SMTP_PROTO_ERROR_BAD_REPLY,          /* client side: the server's reply is malformed */
} SmtpProtoError;

const char *smtp_proto_error_to_string(SmtpProtoError e);

/* The reply a server sends for a parse error of the SMTP_PROTO_ERROR
 * domain: *code_r (500, 501, 555) and *enhanced_r (static, "5.5.2"); the
 * text is error->message.  BAD_REPLY, a client-side error, maps to 0/NULL;
 * an error of another domain (a local failure) to 451 4.3.0. */
void smtp_proto_error_reply(const GError *error, guint *code_r, const char **enhanced_r);

/* ---- paths (RFC 5321 4.1.2) --------------------------------------------- */

typedef enum {
	SMTP_PATH_NULL            = 1 << 0,  /* <>: the null reverse-path of bounces */
	SMTP_PATH_POSTMASTER      = 1 << 1,  /* <postmaster> without a domain (RFC 5321 4.1.1.3) */
	SMTP_PATH_QUOTED          = 1 << 2,  /* local part is a Quoted-string */
	SMTP_PATH_SOURCE_ROUTE    = 1 << 3,  /* <@a,@b:user@c>: route kept in ->route, ignored */
	SMTP_PATH_ADDRESS_LITERAL = 1 << 4,  /* domain is [192.0.2.1] or [IPv6:...] */
	SMTP_PATH_TRAILING_DOT    = 1 << 5,  /* domain ends with '.', tolerated and flagged */
} SmtpPathFlag;

const char *smtp_proto_path_flag_to_string(SmtpPathFlag flag);

/* A parsed path.  Every string is owned by the path. */
typedef struct {
	char *address;         /* local "@" domain as the rest of mailsim uses it: the
	                          local part as written, the domain lowercased;
	                          "" for <>, the local part alone for <postmaster> */
	char *local;           /* as written, quotes and backslashes kept; "" for <> */
	char *local_unquoted;  /* quotes and quoted-pair backslashes removed */
	char *domain;          /* lowercased, brackets kept for literals ("[192.0.2.1]",
	                          "[IPv6:2001:db8::1]"); NULL for <> and <postmaster> */
	char *route;           /* "@a,@b" as written, lowercased; NULL without one */
	guint flags;           /* SmtpPathFlag bits */
} SmtpPath;

void      smtp_proto_path_free(SmtpPath *path);
SmtpPath *smtp_proto_path_copy(const SmtpPath *path);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpPath, smtp_proto_path_free)

/* What a path may be: the null path only as a reverse-path, <postmaster>
 * only as a forward-path. */
typedef enum {
	SMTP_PATH_REVERSE,   /* MAIL FROM */
	SMTP_PATH_FORWARD,   /* RCPT TO */
} SmtpPathKind;

const char *smtp_proto_path_kind_to_string(SmtpPathKind kind);

/* Parse exactly one "<...>" path of len bytes.  Returns a new path, or NULL
 * with error (BAD_SENDER for REVERSE, BAD_RECIPIENT for FORWARD). */
SmtpPath *smtp_proto_parse_path(const char *s, gsize len, SmtpPathKind kind, GError **error);

/* Parse a bare Mailbox "local@domain" (no brackets, no route): what a
 * scenario, a user or a header gives.  NULL with BAD_RECIPIENT on error. */
SmtpPath *smtp_proto_parse_mailbox(const char *s, gsize len, GError **error);

/* Is s (len bytes) a Domain (RFC 5321 4.1.2: letters, digits, hyphens,
 * labels of 1..63, at most 255; no trailing dot) or an address literal? */
gboolean smtp_proto_domain_is_valid(const char *s, gsize len);

/* ---- relay tricks ------------------------------------------------------- */

/* Ways an address can ask a server to pass mail on to another host while
 * looking local.  Harmless for authenticated users; an open-relay probe
 * from strangers.  Policy refuses them; this only says which are present. */
typedef enum {
	SMTP_TRICK_PERCENT_HACK  = 1 << 0,  /* user%other.example@here */
	SMTP_TRICK_BANG_PATH     = 1 << 1,  /* other.example!user@here (UUCP) */
	SMTP_TRICK_SOURCE_ROUTE  = 1 << 2,  /* <@here:user@other.example> */
	SMTP_TRICK_QUOTED_ROUTE  = 1 << 3,  /* "user@other.example"@here: a quoted @, % or ! */
	SMTP_TRICK_IP_LITERAL    = 1 << 4,  /* user@[192.0.2.1]: bypasses MX and domain lists */
	SMTP_TRICK_TRAILING_DOT  = 1 << 5,  /* user@here.: a name that fools string compares */
} SmtpRelayTrick;

#define SMTP_TRICK_ALL 0x3fu

const char *smtp_proto_relay_trick_to_string(SmtpRelayTrick trick);

/* The SmtpRelayTrick bits present in path; 0 for a clean address.  Pure:
 * whether a trick matters is policy's decision. */
guint smtp_proto_path_relay_tricks(const SmtpPath *path);

/* ---- commands (RFC 5321 4.1.1, RFC 2033 4.1) ------------------------------ */

typedef enum {
	SMTP_VERB_EHLO,
	SMTP_VERB_HELO,
	SMTP_VERB_LHLO,      /* LMTP (RFC 2033 4.1) */
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_AUTH,      /* RFC 4954 4 */
	SMTP_VERB_STARTTLS,  /* RFC 3207 4 */
	SMTP_VERB_COUNT
} SmtpVerb;

const char *smtp_proto_verb_to_string(SmtpVerb verb);

/* BODY= on MAIL (RFC 6152 3). */
typedef enum {
	SMTP_BODY_UNSPECIFIED,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
} SmtpBody;

const char *smtp_proto_body_to_string(SmtpBody body);

/* One esmtp-param (RFC 5321 4.1.2). */
typedef struct {
	char *keyword;   /* uppercased */
	char *value;     /* as written; NULL when the parameter has no "=" */
} SmtpParam;

/* A parsed command.  Owns everything it points to. */
typedef struct {
	SmtpVerb   verb;
	/* EHLO/HELO/LHLO: the client's name as sent; VRFY/EXPN: the string;
	 * HELP/NOOP: the optional argument; AUTH: the mechanism, uppercased.
	 * NULL when the command has none. */
	char      *arg;
	/* AUTH: the initial response as sent ("=" means empty, RFC 4954 4);
	 * NULL when absent. */
	char      *initial_response;
	SmtpPath  *path;       /* MAIL and RCPT; NULL otherwise */
	GPtrArray *params;     /* SmtpParam *, in order; never NULL, often empty */
	/* MAIL's parameters, checked and decoded: */
	gboolean   has_size;
	guint64    size;       /* SIZE= (RFC 1870 3) */
	SmtpBody   body;       /* BODY= (RFC 6152 3) */
	char      *auth;       /* AUTH= xtext-decoded (RFC 4954 5), "<>" kept; NULL when absent */
} SmtpCommand;

void smtp_proto_command_free(SmtpCommand *cmd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpCommand, smtp_proto_command_free)

/* Parse one command line of len bytes, without its CRLF.  limits may be
 * NULL for the defaults; lines longer than limits->command_line - 2 are
 * refused.  Verbs are case-insensitive.  Liberal where practice is (a space
 * after "FROM:", trailing blanks), strict where it protects (brackets around
 * paths, no 8-bit bytes, no NUL).  Returns a new command, or NULL with an
 * SMTP_PROTO_ERROR error that smtp_proto_error_reply() turns into a reply. */
SmtpCommand *smtp_proto_parse_command(const char *line, gsize len,
                                      const SmtpLimits *limits, GError **error);

/* ---- replies (RFC 5321 4.2, RFC 3463, RFC 2034) -------------------------- */

/* One line of reply: "250 2.1.0 Sender ok\r\n".  enhanced may be NULL
 * (the greeting and the EHLO reply carry none, RFC 2034 3).  text is a
 * printf format; every '\n' in the result starts a new line of a multi-line
 * reply ("250-a\r\n250 b\r\n").  Control and 8-bit bytes become '?' and each
 * line is cut to SMTP_PROTO_MAX_REPLY_LINE, so a peer's words echoed back
 * can never forge a line.  Returns a new string, CRLFs included. */
char *smtp_proto_format_reply(guint code, const char *enhanced, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* The same from n_lines lines (n_lines 0 gives one empty line), appended to
 * out. */
void  smtp_proto_encode_reply(GString *out, guint code, const char *enhanced,
                              const char *const *lines, gsize n_lines);

/* A complete reply as the client reads it. */
typedef struct {
	guint      code;       /* 200..559 */
	char      *enhanced;   /* "5.1.1" from the first line, or NULL */
	GPtrArray *lines;      /* char *: each line's text, code and enhanced code removed */
} SmtpReply;

void  smtp_proto_reply_free(SmtpReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpReply, smtp_proto_reply_free)
/* The lines joined with "\n"; a new string. */
char *smtp_proto_reply_text(const SmtpReply *reply);

typedef enum {
	SMTP_REPLY_NEED_MORE,  /* a "250-" line: feed the next */
	SMTP_REPLY_COMPLETE,   /* the last line arrived: *reply_r is set */
	SMTP_REPLY_ERROR,      /* error is set; the parser is reset */
} SmtpReplyStatus;

const char *smtp_proto_reply_status_to_string(SmtpReplyStatus status);

/* Collects a reply line by line. */
typedef struct SmtpReplyParser SmtpReplyParser;

SmtpReplyParser *smtp_proto_reply_parser_new(void);
void             smtp_proto_reply_parser_free(SmtpReplyParser *parser);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpReplyParser, smtp_proto_reply_parser_free)
/* Feed one reply line of len bytes without its CRLF.  On COMPLETE the
 * caller owns *reply_r and the parser is ready for the next reply.  Lines
 * over SMTP_PROTO_MAX_REPLY_LINE - 2, more than SMTP_PROTO_MAX_REPLY_LINES
 * lines, codes that are not three digits in 2..5/0..5/0..9, a code that
 * changes between lines, or a fourth character other than ' ' or '-' give
 * ERROR (SMTP_PROTO_ERROR_BAD_REPLY). */
SmtpReplyStatus  smtp_proto_reply_parser_feed(SmtpReplyParser *parser, const char *line, gsize len,
                                              SmtpReply **reply_r, GError **error);

/* ---- EHLO extensions (RFC 5321 4.1.1.1) ---------------------------------- */

typedef enum {
	SMTP_EXT_PIPELINING          = 1 << 0,  /* RFC 2920 */
	SMTP_EXT_SIZE                = 1 << 1,  /* RFC 1870 */
	SMTP_EXT_8BITMIME            = 1 << 2,  /* RFC 6152 */
	SMTP_EXT_ENHANCEDSTATUSCODES = 1 << 3,  /* RFC 2034 */
	SMTP_EXT_AUTH                = 1 << 4,  /* RFC 4954 */
	SMTP_EXT_STARTTLS            = 1 << 5,  /* RFC 3207 */
	SMTP_EXT_SMTPUTF8            = 1 << 6,  /* RFC 6531 */
	SMTP_EXT_CHUNKING            = 1 << 7,  /* RFC 3030 */
	SMTP_EXT_DSN                 = 1 << 8,  /* RFC 3461 */
} SmtpExtension;

/* The keyword as a server advertises it ("8BITMIME"). */
const char *smtp_proto_extension_to_string(SmtpExtension ext);

typedef struct {
	char      *domain;           /* the server's name: first word of the first line */
	guint      flags;            /* SmtpExtension bits */
	guint64    size;             /* SIZE n; 0 when absent, unlimited or unreadable */
	GPtrArray *auth_mechanisms;  /* char *, uppercased, no duplicates */
	GPtrArray *others;           /* char *: lines of unknown extensions, keyword uppercased */
} SmtpExtensions;

void            smtp_proto_extensions_free(SmtpExtensions *ext);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpExtensions, smtp_proto_extensions_free)
/* Read the extensions from a 250 reply to EHLO or LHLO; NULL with
 * BAD_REPLY for any other code.  Old "AUTH=LOGIN" lines count as AUTH. */
SmtpExtensions *smtp_proto_parse_ehlo_reply(const SmtpReply *reply, GError **error);
/* Does the server offer the SASL mechanism (case-insensitive)? */
gboolean        smtp_proto_extensions_has_auth(const SmtpExtensions *ext, const char *mechanism);

/* ---- DATA (RFC 5321 4.1.1.4, 4.5.2) -------------------------------------- */

/* How a line read from the connection ended.  The same values, in the same
 * order, as MsEol in net/conn.h; this pure layer does not include the
 * network, so the session maps one onto the other. */
typedef enum {
	SMTP_EOL_CRLF,      /* "\r\n": the only ending mail allows */
	SMTP_EOL_LF,        /* a bare "\n" */
	SMTP_EOL_CR,        /* a bare "\r" */
	SMTP_EOL_EOF,       /* the peer closed mid-line */
	SMTP_EOL_TOO_LONG,  /* cut by the reader; the real ending is unknown */
} SmtpEol;

const char *smtp_proto_eol_to_string(SmtpEol eol);

typedef enum {
	SMTP_DATA_CONTINUE,  /* feed the next line */
	SMTP_DATA_END,       /* the terminating "." arrived: reply with the outcome */
	SMTP_DATA_CLOSED,    /* the peer closed before the end: discard, no reply */
} SmtpDataStatus;

const char *smtp_proto_data_status_to_string(SmtpDataStatus status);

/* What to answer once the end arrives.  The first problem seen wins; from
 * then on the reader stores nothing but still looks for the end, so the
 * session replies exactly once, at the end, and stays in step with the
 * client. */
typedef enum {
	SMTP_DATA_OUTCOME_OK,             /* 250 2.0.0 */
	SMTP_DATA_OUTCOME_TOO_BIG,        /* 552 5.3.4 (RFC 5321 4.5.3.1.10, RFC 1870 6.3) */
	SMTP_DATA_OUTCOME_LINE_TOO_LONG,  /* 500 5.5.2 "Line too long" (RFC 5321 4.5.3.1.10) */
	SMTP_DATA_OUTCOME_BARE_EOL,       /* 550 5.6.0: bare CR or LF (RFC 5321 2.3.8) */
} SmtpDataOutcome;

const char *smtp_proto_data_outcome_to_string(SmtpDataOutcome outcome);
/* The reply for an outcome: code, enhanced code and text, all static.  The
 * session may say more on success ("queued as ..."). */
void        smtp_proto_data_outcome_reply(SmtpDataOutcome outcome, guint *code_r,
                                          const char **enhanced_r, const char **text_r);

/* The DATA reader: fed the lines that follow "354", one at a time.
 *
 * Transparency (RFC 5321 4.5.2): a leading '.' is removed from every line
 * that has more after it.  The end is a line holding just "." that ended
 * with CRLF and followed a line that ended with CRLF (or is the first line).
 *
 * Smuggling (CVE-2023-51764 and kin): servers that disagree about where a
 * message ends let a sender hide a second message inside the first.  So a
 * bare LF or bare CR never ends the message: "\n.\r\n", "\r.\r\n",
 * "\r\n.\n", "\r\n.\r" are ordinary text here.  And a message containing a
 * bare CR or LF anywhere is refused whole, 550 5.6.0, as Postfix does with
 * smtpd_forbid_bare_newline: RFC 5321 2.3.8 forbids sending them, and a
 * message that holds one is either broken or an attack.
 *
 * A TOO_LONG line's real ending is unknown, so a "." right after it is not
 * taken as the end either.  Read DATA lines with a maximum well above
 * limits->text_line so the reader, not the connection, judges long lines
 * and sees their real endings.
 *
 * Stored lines end with CRLF; the terminating "." is not stored.  At most
 * limits->message_size octets are stored; beyond that nothing is, and the
 * outcome is TOO_BIG. */
typedef struct SmtpDataReader SmtpDataReader;

/* limits may be NULL for the defaults; it is copied. */
SmtpDataReader *smtp_proto_data_reader_new(const SmtpLimits *limits);
void            smtp_proto_data_reader_free(SmtpDataReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpDataReader, smtp_proto_data_reader_free)
/* Feed one line of len bytes (its ending not included) and how it ended.
 * After END or CLOSED, further lines are ignored and the status repeats. */
SmtpDataStatus  smtp_proto_data_reader_feed(SmtpDataReader *reader, const char *line, gsize len,
                                            SmtpEol eol);
SmtpDataOutcome smtp_proto_data_reader_outcome(const SmtpDataReader *reader);
/* The message so far (borrowed; valid until the reader is freed or the body
 * stolen).  Empty once the outcome is not OK. */
const GString  *smtp_proto_data_reader_body(const SmtpDataReader *reader);
/* Take the body; the caller owns it (g_string_free).  The reader keeps an
 * empty one. */
GString        *smtp_proto_data_reader_steal_body(SmtpDataReader *reader);
/* Octets the client sent as message data (unstuffed, CRLF counted), stored
 * or not: what a "552 message of N octets" log line wants. */
guint64         smtp_proto_data_reader_received(const SmtpDataReader *reader);
/* Lines fed so far, the terminator included. */
guint64         smtp_proto_data_reader_lines(const SmtpDataReader *reader);

/* Client side of transparency (RFC 5321 4.5.2): append data to out as it
 * goes after "354": every line ending (CRLF, bare LF, bare CR) sent as
 * CRLF, a '.' doubled at the start of a line, a final CRLF added when
 * missing, then ".\r\n". */
void smtp_proto_dot_stuff(GString *out, const char *data, gsize len);
