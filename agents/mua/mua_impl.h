/* agents/mua/mua_impl.h - what mua.c (the agent and account set-up) and
 * mua_mail.c (sending, fetching, folders) share.  Not for other modules.
 */
#pragma once

#include "agents/mua/mua.h"
#include "net/resolver.h"
#include "sim/kernel/rng.h"

typedef struct {
	char      *name;
	GPtrArray *messages;   /* MuaLocalMessage *, oldest first */
} MuaFolder;

struct Mua {
	MsStack    *stack;
	MsSched    *sched;
	MsResolver *resolver;          /* NULL without a DNS server */
	MsRng      *rng;
	char       *name;
	char       *display_name;
	MuaFlavor   flavor;
	MuaProtocol prefer;            /* IMAP or POP3 */
	MuaProtocol manual_protocol;   /* IMAP or POP3 */
	char       *manual_in_host, *manual_out_host, *manual_user;
	guint16     manual_in_port, manual_out_port;
	guint16     http_port;
	gint64      epoch_us;
	int         zone_minutes;
	gboolean    no_sent_copy;
	MailConfigSocket manual_security;
	gboolean    allow_plaintext_auth;
	gboolean    accept_any_certificate;
	char       *ca_file;

	/* the account, once set up */
	char             *address, *password, *domain;
	MailConfigServer *incoming, *outgoing;   /* what setup.7 recorded */
	MailConfigServer *imap, *pop3;           /* the best of each kind found, or NULL */
	MuaMethod         method;
	MailConfigProtocol mode;                 /* what actions use: IMAP or POP3 */

	/* the client's own copy */
	GPtrArray  *folders;           /* MuaFolder *, INBOX first */
	guint32     inbox_uidvalidity; /* of the server's INBOX, 0 before the first IMAP fetch */
	GHashTable *pop3_seen;         /* UIDLs fetched by POP3 before: char * set */
	guint       last_fetched;
};

/* An event from the MUA about action (its step), to (may be NULL). */
void mua_emit(Mua *mua, MsEventKind kind, MuaAction action, const char *to, const char *fmt, ...)
	G_GNUC_PRINTF(5, 6);

/* The IPv4 address of host (an address stays itself), asking DNS with the
 * action's step.  A new string, or NULL with MUA_ERROR_NO_HOST or the
 * resolver's error. */
char   *mua_resolve(Mua *mua, const char *host, MuaAction action, GError **error);
/* Resolve and connect; the connection gets proto and the action's step. */
MsConn *mua_connect(Mua *mua, const char *host, guint16 port, const char *proto, MuaAction action,
                    gint64 timeout, GError **error);

/* ---- TLS (mua_tls.c) ---------------------------------------------------------------- */

/* Connect to server s for action (proto names its protocol in events):
 * TLS from the first byte when s says SSL (RFC 8314), its certificate
 * accepted or not as mua_tls_accept says. */
MsConn *mua_connect_server(Mua *mua, const MailConfigServer *s, const char *proto, MuaAction action,
                           GError **error);

/* What a session layer does to go over to TLS: its STARTTLS (or STLS) and
 * handshake, and asking the capabilities again afterwards. */
typedef struct {
	const char *verb;                                      /* "STARTTLS", "STLS" */
	gboolean  (*upgrade)(gpointer session, GError **error);
	gboolean  (*again)(gpointer session, GError **error);
} MuaTlsOps;

/* Before a login to s over c: upgrade with ops when the server offers it
 * (offered) and c is not encrypted yet, shown as a step of action; then,
 * when a password is to go (password), refuse it in the clear unless the
 * account's security is none or allow_plaintext_auth says so.  FALSE with
 * the session's error, MUA_ERROR_CERTIFICATE or MUA_ERROR_PLAINTEXT. */
gboolean mua_secure_session(Mua *mua, MsConn *c, const MailConfigServer *s, MuaAction action,
                            gboolean offered, const MuaTlsOps *ops, gpointer session, gboolean password,
                            GError **error);

MailConfigServer *mua_server_copy(const MailConfigServer *s);
void              mua_server_free(MailConfigServer *s);
/* The user name to log in with on s: its (expanded) username, or the address. */
const char       *mua_server_user(Mua *mua, const MailConfigServer *s);

/* The local folder called name (INBOX case-insensitive), created when
 * create is TRUE, else NULL if absent. */
MuaFolder *mua_folder(Mua *mua, const char *name, gboolean create);
void       mua_folder_free(MuaFolder *f);
void       mua_local_message_free(MuaLocalMessage *m);
/* A local copy of data (its header read for subject, from, message-id). */
MuaLocalMessage *mua_local_message_new(GBytes *data);
