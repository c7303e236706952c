/* agents/mua/imap_client.h - the client side of an IMAP4rev1 session.
 *
 * Two layers in one file.  The response reader is pure: one whole server
 * response in (its lines and literals, as read from the wire), a struct
 * out (RFC 3501 7 and 9: status responses with their codes, untagged data
 * such as CAPABILITY, LIST, SEARCH, FLAGS, EXISTS, FETCH, continuation
 * requests).  The session is plain blocking code over an MsConn: greeting,
 * STARTTLS, LOGIN, LIST, SELECT, UID SEARCH/FETCH/STORE/COPY/MOVE, EXPUNGE, CREATE,
 * APPEND, LOGOUT, each returning when the tagged reply has arrived.
 */
#pragma once

#include <glib.h>
#include "net/conn.h"
#include "agents/mra/imap_proto.h"

/* ---- limits ---------------------------------------------------------------- */

/* Longest response line, without its CRLF (RFC 7162 4 asks for 8192 from
 * clients; servers write long SEARCH and FETCH lines, so we take more). */
#define IMAP_CLIENT_MAX_LINE      65536
/* Largest literal in a response: a message of FETCH BODY[]. */
#define IMAP_CLIENT_MAX_LITERAL   IMAP_PROTO_MAX_LITERAL
/* Literals in one response. */
#define IMAP_CLIENT_MAX_LITERALS  64
/* Largest response, lines and literals together. */
#define IMAP_CLIENT_MAX_RESPONSE  (IMAP_CLIENT_MAX_LITERAL + 256u * 1024)
/* Deepest nesting of parenthesised lists (BODYSTRUCTURE nests). */
#define IMAP_CLIENT_MAX_DEPTH     32
/* Values (atoms, strings, lists) in one response. */
#define IMAP_CLIENT_MAX_VALUES    100000
/* Untagged responses kept while one command runs; more is a hostile server. */
#define IMAP_CLIENT_MAX_UNTAGGED  100000
/* How long the client waits for each response line. */
#define IMAP_CLIENT_TIMEOUT       (60 * MS_SECOND)

/* ---- errors ---------------------------------------------------------------- */

#define IMAP_CLIENT_ERROR (imap_client_error_quark())
GQuark imap_client_error_quark(void);

typedef enum {
	IMAP_CLIENT_ERROR_NO,        /* the server said NO: the command failed (the
	                                response code, e.g. TRYCREATE, is in
	                                imap_client_last_code) */
	IMAP_CLIENT_ERROR_BAD,       /* the server said BAD: it did not understand us */
	IMAP_CLIENT_ERROR_BYE,       /* the server said BYE and hung up */
	IMAP_CLIENT_ERROR_PROTOCOL,  /* a response that does not parse, over a limit,
	                                or the connection closed mid-dialogue */
	IMAP_CLIENT_ERROR_AUTH,      /* the login was refused */
} ImapClientError;

const char *imap_client_error_to_string(ImapClientError e);

/* ---- the response reader (pure) -------------------------------------------- */

typedef enum {
	IMAP_VALUE_ATOM,    /* "UID", "\\Seen", "BODY[HEADER.FIELDS (TO)]<0>", "23" */
	IMAP_VALUE_STRING,  /* quoted or literal; may hold NUL: use len */
	IMAP_VALUE_NIL,
	IMAP_VALUE_LIST,    /* ( ... ) */
} ImapValueKind;

const char *imap_value_kind_to_string(ImapValueKind k);

typedef struct ImapValue ImapValue;
struct ImapValue {
	ImapValueKind kind;
	char      *str;    /* ATOM, STRING: NUL-terminated; NULL otherwise */
	gsize      len;    /* bytes in str */
	GPtrArray *items;  /* LIST: ImapValue *; NULL otherwise */
};

typedef enum {
	IMAP_RESPONSE_STATUS,        /* "TAG OK ...", "* BYE ...": a condition */
	IMAP_RESPONSE_DATA,          /* "* CAPABILITY ...", "* 3 FETCH (...)" */
	IMAP_RESPONSE_CONTINUATION,  /* "+ Ready for literal data" */
} ImapResponseKind;

const char *imap_response_kind_to_string(ImapResponseKind k);

typedef struct {
	ImapResponseKind kind;
	char      *tag;        /* STATUS: the tag, NULL for "*" */
	ImapCond   cond;       /* STATUS */
	char      *code;       /* STATUS: the response code's name, upper case
	                          ("TRYCREATE", "UIDVALIDITY"), or NULL */
	char      *code_arg;   /* the rest of the code as sent ("3857529045"), or NULL */
	char      *text;       /* STATUS, CONTINUATION: human text, "" if none */
	gboolean   has_number; /* DATA: "* 5 EXISTS" */
	guint32    number;
	char      *name;       /* DATA: upper case ("EXISTS", "FETCH", "LIST") */
	GPtrArray *args;       /* DATA: ImapValue * after the name (FETCH: one LIST) */
} ImapResponse;

void imap_response_free(ImapResponse *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapResponse, imap_response_free)

/* Does a response whose first line is this (without its CRLF) carry
 * literals?  Status responses and continuation requests never do, even when
 * their text happens to end in "{5}"; untagged data may. */
gboolean imap_client_line_may_have_literal(const char *first_line, gsize len);

/* Parse one whole response of len bytes: its first line, and for each
 * literal "{N}" CRLF, the N bytes and the rest of the response (the final
 * CRLF may be left off).  Never reads past len; returns a new response or
 * NULL with IMAP_CLIENT_ERROR_PROTOCOL. */
ImapResponse *imap_client_parse_response(const char *buf, gsize len, GError **error);

/* FETCH helpers: the value of item name (case-insensitive: "UID",
 * "BODY[]") in a FETCH response, borrowed; NULL when absent. */
const ImapValue *imap_response_fetch_item(const ImapResponse *r, const char *name);
/* An atom that is a number (RFC 3501 9: nz-number or number), into *n_r. */
gboolean imap_value_get_number(const ImapValue *v, guint32 *n_r);

/* ---- the session ----------------------------------------------------------- */

typedef enum {
	IMAP_CLIENT_STATE_CONNECTED,      /* the greeting is still to come */
	IMAP_CLIENT_STATE_NOT_AUTHENTICATED,
	IMAP_CLIENT_STATE_AUTHENTICATED,
	IMAP_CLIENT_STATE_SELECTED,
	IMAP_CLIENT_STATE_LOGOUT,         /* said LOGOUT, or the server said BYE */
	IMAP_CLIENT_STATE_FAILED,         /* out of step: only free */
} ImapClientState;

const char *imap_client_state_to_string(ImapClientState s);

typedef struct ImapClient ImapClient;

/* A session over conn (a reference is taken; its protocol becomes "imap";
 * the caller keeps owning the course step). */
ImapClient *imap_client_new(MsConn *conn);
/* Drops the connection without LOGOUT. */
void        imap_client_free(ImapClient *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImapClient, imap_client_free)

ImapClientState imap_client_state(const ImapClient *c);
MsConn         *imap_client_conn(ImapClient *c);

/* Read the greeting: "* OK" (NOT_AUTHENTICATED), "* PREAUTH"
 * (AUTHENTICATED) or "* BYE" (an IMAP_CLIENT_ERROR_BYE). */
gboolean imap_client_greeting(ImapClient *c, GError **error);
/* CAPABILITY (RFC 3501 6.1.1).  Capabilities that come in response codes
 * (greeting, login) are kept as well. */
gboolean imap_client_capability(ImapClient *c, GError **error);
gboolean imap_client_has_capability(const ImapClient *c, const char *name);

/* STARTTLS (RFC 3501 6.2.1, RFC 2595 3.1), in the not-authenticated
 * state, then the TLS handshake as a client (the certificate is not
 * checked there: whether to trust it is the caller's to say).  The
 * capabilities are forgotten, as RFC 3501 6.2.1 asks: call
 * imap_client_capability again.  A NO or BAD leaves the session as it was,
 * in the clear; a failed handshake leaves it FAILED. */
gboolean imap_client_starttls(ImapClient *c, GError **error);

/* LOGIN (RFC 3501 6.2.3), or AUTHENTICATE PLAIN (RFC 4959 SASL-IR when
 * offered) when the server advertises LOGINDISABLED.  The password never
 * appears in an event's text.  A refusal is IMAP_CLIENT_ERROR_AUTH. */
gboolean imap_client_login(ImapClient *c, const char *user, const char *password, GError **error);

/* RFC 6154 and RFC 3501 7.2.2 attributes we act on. */
typedef enum {
	IMAP_MAILBOX_NOSELECT = 1 << 0,
	IMAP_MAILBOX_SENT     = 1 << 1,
	IMAP_MAILBOX_DRAFTS   = 1 << 2,
	IMAP_MAILBOX_TRASH    = 1 << 3,
	IMAP_MAILBOX_JUNK     = 1 << 4,
} ImapMailboxAttr;

/* The attribute as LIST writes it ("\\Sent"), for one bit; "" otherwise. */
const char *imap_mailbox_attr_to_string(ImapMailboxAttr attr);

typedef struct {
	char *name;        /* UTF-8 (decoded from modified UTF-7) */
	char  delimiter;   /* '\0' for NIL */
	guint attributes;  /* ImapMailboxAttr bits */
} ImapMailbox;

void imap_mailbox_free(ImapMailbox *m);

/* LIST reference pattern (RFC 3501 6.3.8): a new array of ImapMailbox *. */
GPtrArray *imap_client_list(ImapClient *c, const char *reference, const char *pattern,
                            GError **error);

typedef struct {
	guint32 exists;
	guint32 recent;
	guint32 uidvalidity;  /* 0 if the server did not say */
	guint32 uidnext;      /* 0 if the server did not say */
} ImapSelected;

/* SELECT mailbox (UTF-8 name) (RFC 3501 6.3.1); info_r may be NULL. */
gboolean imap_client_select(ImapClient *c, const char *mailbox, ImapSelected *info_r,
                            GError **error);
gboolean imap_client_create(ImapClient *c, const char *mailbox, GError **error);

/* UID SEARCH criteria (as IMAP text: "ALL", "UNSEEN"): a new GArray of
 * guint32 UIDs in the server's order. */
GArray  *imap_client_uid_search(ImapClient *c, const char *criteria, GError **error);

/* One message of a FETCH. */
typedef struct {
	guint32    seq;
	guint32    uid;        /* 0 when not fetched */
	GPtrArray *flags;      /* char *; NULL when FLAGS was not fetched */
	guint32    size;       /* RFC822.SIZE, 0 when not fetched */
	GBytes    *body;       /* BODY[] (or BODY.PEEK[]), NULL when not fetched */
} ImapMessage;

void imap_message_free(ImapMessage *m);
gboolean imap_message_has_flag(const ImapMessage *m, const char *flag);

/* UID FETCH set items ("1:*", "(UID FLAGS)"): a new array of ImapMessage *,
 * one per message, in the order the server answered. */
GPtrArray *imap_client_uid_fetch(ImapClient *c, const char *set, const char *items,
                                 GError **error);
/* UID STORE set op flags: op is "+FLAGS", "-FLAGS" or "FLAGS"; flags a
 * list "(\\Seen)".  .SILENT is added: the new flags are not echoed. */
gboolean imap_client_uid_store(ImapClient *c, const char *set, const char *op,
                               const char *flags, GError **error);
gboolean imap_client_uid_copy(ImapClient *c, const char *set, const char *mailbox, GError **error);
/* RFC 6851 MOVE; only when the server offers MOVE. */
gboolean imap_client_uid_move(ImapClient *c, const char *set, const char *mailbox, GError **error);
/* EXPUNGE (RFC 3501 6.4.3), or UID EXPUNGE set (RFC 4315) when set is
 * given and the server offers UIDPLUS. */
gboolean imap_client_expunge(ImapClient *c, const char *set, GError **error);

/* APPEND message to mailbox with flags (may be NULL: none) (RFC 3501
 * 6.3.11), the message as a synchronising literal.  A NO with TRYCREATE
 * says the mailbox does not exist (see imap_client_last_code). */
gboolean imap_client_append(ImapClient *c, const char *mailbox, const char *const *flags,
                            GBytes *message, GError **error);

/* The response code of the last tagged reply ("TRYCREATE"), or NULL. */
const char *imap_client_last_code(const ImapClient *c);

/* LOGOUT and wait for its reply; errors are ignored.  Closes the connection. */
void imap_client_logout(ImapClient *c);
