/* agents/mua/pop3_client.h - the client side of a POP3 session.
 *
 * Plain blocking code over an MsConn (RFC 1939): the greeting, CAPA
 * (RFC 2449), STLS (RFC 2595), USER/PASS, STAT, LIST, UIDL, RETR, DELE, QUIT.  Multi-line
 * responses are read up to their "." line and un-stuffed (RFC 1939 3).
 * Deletions happen only when QUIT ends the session (the UPDATE state).
 */
#pragma once

#include <glib.h>
#include "net/conn.h"
#include "agents/mra/pop3_proto.h"

/* Longest line of a multi-line response, without its CRLF (RFC 5322 2.1.1
 * allows 998 in a message; we take more from lenient servers). */
#define POP3_CLIENT_MAX_LINE      8192
/* Largest message RETR accepts, and most lines of any listing. */
#define POP3_CLIENT_MAX_MESSAGE   (32 * 1024 * 1024)
#define POP3_CLIENT_MAX_LISTING   100000
/* How long the client waits for each line. */
#define POP3_CLIENT_TIMEOUT       (60 * MS_SECOND)

#define POP3_CLIENT_ERROR (pop3_client_error_quark())
GQuark pop3_client_error_quark(void);

typedef enum {
	POP3_CLIENT_ERROR_ERR,       /* the server said -ERR */
	POP3_CLIENT_ERROR_AUTH,      /* USER or PASS was refused */
	POP3_CLIENT_ERROR_PROTOCOL,  /* a reply that does not parse, over a limit, or a
	                                connection closed mid-dialogue */
} Pop3ClientError;

const char *pop3_client_error_to_string(Pop3ClientError e);

typedef enum {
	POP3_CLIENT_STATE_CONNECTED,      /* greeting to come */
	POP3_CLIENT_STATE_AUTHORIZATION,  /* RFC 1939 4 */
	POP3_CLIENT_STATE_TRANSACTION,    /* RFC 1939 5: logged in */
	POP3_CLIENT_STATE_UPDATE,         /* QUIT said: deletions done, closed */
	POP3_CLIENT_STATE_FAILED,         /* out of step: only free */
} Pop3ClientState;

const char *pop3_client_state_to_string(Pop3ClientState s);

typedef struct Pop3Client Pop3Client;

/* A session over conn (a reference is taken; its protocol becomes "pop3").
 * The caller keeps owning the course step. */
Pop3Client *pop3_client_new(MsConn *conn);
/* Drops the connection without QUIT: nothing marked is deleted. */
void        pop3_client_free(Pop3Client *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Pop3Client, pop3_client_free)

Pop3ClientState pop3_client_state(const Pop3Client *c);

/* Read the "+OK" greeting. */
gboolean pop3_client_greeting(Pop3Client *c, GError **error);
/* CAPA (RFC 2449 5); a server without it (-ERR) has no capabilities.  The
 * capability names are kept upper-cased. */
gboolean pop3_client_capa(Pop3Client *c, GError **error);
gboolean pop3_client_has_capability(const Pop3Client *c, const char *name);
/* STLS (RFC 2595 4) in the AUTHORIZATION state, then the TLS handshake
 * as a client (the certificate is not checked there: whether to trust it
 * is the caller's to say).  The capabilities are forgotten (RFC 2595 4):
 * call pop3_client_capa again.  -ERR leaves the session as it was, in the
 * clear; a failed handshake leaves it FAILED. */
gboolean pop3_client_stls(Pop3Client *c, GError **error);
/* USER then PASS (RFC 1939 7); PASS shows as "PASS ••••••". */
gboolean pop3_client_login(Pop3Client *c, const char *user, const char *password, GError **error);
/* STAT (RFC 1939 5): messages and octets in the maildrop. */
gboolean pop3_client_stat(Pop3Client *c, guint32 *count_r, guint64 *octets_r, GError **error);

/* One line of a LIST or UIDL listing. */
typedef struct {
	guint32 msg;    /* message number, from 1 */
	guint64 size;   /* LIST: octets */
	char   *uid;    /* UIDL: the unique id (RFC 1939 7: 0x21..0x7E, 1-70 chars) */
} Pop3Entry;

void pop3_entry_free(Pop3Entry *e);

/* LIST: a new array of Pop3Entry * (uid NULL). */
GPtrArray *pop3_client_list(Pop3Client *c, GError **error);
/* UIDL: a new array of Pop3Entry * (size 0).  A server without UIDL gives
 * POP3_CLIENT_ERROR_ERR. */
GPtrArray *pop3_client_uidl(Pop3Client *c, GError **error);
/* RETR msg: the message, un-stuffed, with CRLF line endings. */
GBytes    *pop3_client_retr(Pop3Client *c, guint32 msg, GError **error);
/* DELE msg: marked, deleted at QUIT (RFC 1939 6). */
gboolean   pop3_client_dele(Pop3Client *c, guint32 msg, GError **error);
/* QUIT: in the TRANSACTION state the server now deletes what was marked
 * (RFC 1939 6); its answer says whether that worked.  Closes. */
gboolean   pop3_client_quit(Pop3Client *c, GError **error);
