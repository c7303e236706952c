/* agents/mua/mua.h - the MUA agent: the mail client a student watches.
 *
 * It sets an account up the way real clients do (COURSE.md section 2:
 * Outlook's autodiscover, Thunderbird's autoconfig, RFC 6186 SRV records,
 * guessing, and at last the settings the user types: setup.1-setup.7),
 * sends with SMTP submission and AUTH (out.1), fetches with IMAP or POP3
 * (in.8), encrypting first with STARTTLS/STLS (RFC 3207, RFC 2595) or TLS
 * from the first byte (RFC 8314) and keeping passwords out of the clear,
 * and does the everyday things whose difference between IMAP and
 * POP3 is the lesson of COURSE.md section 5 (retr.1-retr.5).
 *
 * The MUA has no task of its own: each action is a blocking call made by a
 * task of the scheduler (the scenario runner's), and returns when done.
 */
#pragma once

#include "net/conn.h"
#include "net/resolver.h"
#include "agents/web/mailconfig.h"
#include "agents/mua/compose.h"

/* ---- settings and limits ------------------------------------------------ */

#define MUA_HTTP_PORT         80
#define MUA_SUBMISSION_PORT   587    /* RFC 6409 */
#define MUA_IMAP_PORT         143
#define MUA_POP3_PORT         110
/* RFC 8314 7.3: the same services over TLS from the first byte. */
#define MUA_SUBMISSIONS_PORT  465
#define MUA_IMAPS_PORT        993
#define MUA_POP3S_PORT        995
#define MUA_CONNECT_TIMEOUT   (30 * MS_SECOND)
/* Guessing (setup.5): how long one probe waits for a connection. */
#define MUA_PROBE_TIMEOUT     (10 * MS_SECOND)
/* Autodiscover redirects (redirectAddr, redirectUrl, HTTP 3xx) followed. */
#define MUA_MAX_REDIRECTS     3
/* Unix time of scheduler time 0 in simulations: 2026-01-01, as the MTA,
 * MDA and MRA use, so every agent stamps the same dates. */
#define MUA_DEFAULT_EPOCH_US  (G_GINT64_CONSTANT(1767225600) * MS_SECOND)

/* The client's own folders. */
#define MUA_FOLDER_INBOX      "INBOX"
#define MUA_FOLDER_SENT       "Sent"
#define MUA_FOLDER_DRAFTS     "Drafts"

/* ---- names ------------------------------------------------------------- */

/* How a client finds its servers. */
typedef enum {
	MUA_FLAVOR_THUNDERBIRD,  /* autoconfig.DOMAIN, the domain's well-known URL, guessing */
	MUA_FLAVOR_OUTLOOK,      /* autodiscover by SRV or autodiscover.DOMAIN, guessing */
	MUA_FLAVOR_RFC6186,      /* SRV records of RFC 6186, guessing */
	MUA_FLAVOR_MANUAL,       /* the user types the servers */
	MUA_FLAVOR_COUNT
} MuaFlavor;

const char *mua_flavor_to_string(MuaFlavor f);
/* "thunderbird", "outlook", "rfc6186", "manual"; FALSE for others. */
gboolean    mua_flavor_from_string(const char *s, MuaFlavor *f_r);

typedef enum {
	MUA_PROTOCOL_DEFAULT,    /* the account's incoming server */
	MUA_PROTOCOL_IMAP,
	MUA_PROTOCOL_POP3,
} MuaProtocol;

const char *mua_protocol_to_string(MuaProtocol p);
/* "default", "imap", "pop3"; FALSE for others. */
gboolean    mua_protocol_from_string(const char *s, MuaProtocol *p_r);

/* The discovery methods, each one visible attempt.  A flavour tries its
 * methods in order (see mua.c's table) and ends with MANUAL. */
typedef enum {
	MUA_METHOD_AUTOCONFIG,         /* GET http://autoconfig.DOMAIN/mail/config-v1.1.xml */
	MUA_METHOD_WELL_KNOWN,         /* GET http://DOMAIN/.well-known/autoconfig/... */
	MUA_METHOD_AUTODISCOVER_SRV,   /* SRV _autodiscover._tcp.DOMAIN, then POST */
	MUA_METHOD_AUTODISCOVER_HOST,  /* POST http://autodiscover.DOMAIN/autodiscover/... */
	MUA_METHOD_SRV,                /* RFC 6186: _submission, _imap(s), _pop3(s) */
	MUA_METHOD_GUESS,              /* probe imap./pop3./smtp./mail. names */
	MUA_METHOD_MANUAL,             /* the settings the user types */
	MUA_METHOD_COUNT
} MuaMethod;

const char *mua_method_to_string(MuaMethod m);

/* ---- the course-step table ---------------------------------------------- */

typedef enum {
	MUA_ACT_TYPE_ACCOUNT,   /* the user types name, address, password */
	MUA_ACT_DNS_RECORD,     /* autodiscover / RFC 6186 records asked of DNS */
	MUA_ACT_FETCH_XML,      /* the autodiscover XML fetched from the web server */
	MUA_ACT_AUTOCONFIG,     /* autoconfig XML asked of autoconfig.DOMAIN */
	MUA_ACT_GUESS,          /* common names probed */
	MUA_ACT_MANUAL,         /* the user types the servers */
	MUA_ACT_RECORD,         /* incoming and outgoing server recorded */
	MUA_ACT_SUBMIT,         /* SMTP submission with AUTH */
	MUA_ACT_FETCH,          /* new mail fetched with IMAP or POP3 */
	MUA_ACT_FLAG,           /* read / flagged */
	MUA_ACT_MOVE,           /* moved or deleted */
	MUA_ACT_SENT_COPY,      /* the copy of sent mail */
	MUA_ACT_FOLDER,         /* a folder created */
	MUA_ACT_DRAFT,          /* a draft saved */
	MUA_ACT_COUNT
} MuaAction;

const char *mua_action_to_string(MuaAction a);
/* The course step id ("setup.4"); never NULL. */
const char *mua_action_step(MuaAction a);

/* ---- errors -------------------------------------------------------------- */

#define MUA_ERROR (mua_error_quark())
GQuark mua_error_quark(void);

typedef enum {
	MUA_ERROR_CONFIG,      /* a setting or argument is wrong */
	MUA_ERROR_NOT_SET_UP,  /* an action before mua_setup_account succeeded */
	MUA_ERROR_NO_SERVERS,  /* every method failed and there are no manual settings */
	MUA_ERROR_NO_HOST,     /* a host name does not resolve */
	MUA_ERROR_NO_MESSAGE,  /* the action needs a message in INBOX and there is none */
	MUA_ERROR_SENT_COPY,   /* the message went out; only its copy in Sent failed */
	MUA_ERROR_PLAINTEXT,   /* the password would have gone in the clear: refused */
	MUA_ERROR_CERTIFICATE, /* TLS was set up, but its certificate was not accepted */
} MuaError;

const char *mua_error_to_string(MuaError e);

/* ---- the agent ------------------------------------------------------------- */

typedef struct {
	const char *name;              /* "alice": who acts in the step texts */
	MuaFlavor   flavor;
	const char *display_name;      /* "Alice Liddell", for From; NULL: none */
	MuaProtocol incoming;          /* preferred incoming protocol; DEFAULT: IMAP */
	/* setup.6: what the user types when nothing is found (NULL hosts: nothing). */
	MuaProtocol manual_incoming_protocol;   /* DEFAULT: IMAP */
	const char *manual_incoming_host;
	guint16     manual_incoming_port;       /* 0: 143 or 110 */
	const char *manual_outgoing_host;
	guint16     manual_outgoing_port;       /* 0: MUA_SUBMISSION_PORT */
	const char *manual_username;            /* NULL: the address */
	/* their connection security, as Thunderbird asks it: PLAIN (none: the
	 * password may go in the clear), STARTTLS, or SSL (TLS from the first
	 * byte; ports 0 are then 993, 995 and 465) */
	MailConfigSocket manual_security;
	/* TLS.  The client asks for STARTTLS (STLS) whenever a server offers it,
	 * before any password.  Where it is not offered, a password goes in the
	 * clear only if the server's connection security is none, or if this
	 * allows it (MUA_ERROR_PLAINTEXT otherwise). */
	gboolean    allow_plaintext_auth;
	/* TRUE: the server's certificate is taken as it is, unchecked, as with
	 * Thunderbird's security exception or curl --insecure (right for a
	 * lab's self-signed one).  FALSE: a certificate that fails the check
	 * below ends the session before any password (MUA_ERROR_CERTIFICATE). */
	gboolean    accept_any_certificate;
	/* Otherwise the server's certificate is checked (in lab mode, on real
	 * sockets): it must name the server as the account does and chain to
	 * these authorities (a PEM file: for mailsim serve's own, STATE/tls/cert.pem),
	 * or, NULL, to the system's. */
	const char *ca_file;
	/* the DNS servers the resolver asks: a directory (as the world gives
	 * every agent), else one server; neither: host names must be IPv4
	 * addresses, as in lab mode */
	MsDnsDirectory *dns;
	const char *dns_server;
	guint16     dns_port;                   /* 0: 53 */
	const char *dns_server_name;            /* how events call it; NULL: the address */
	guint16     http_port;                  /* of autoconfig/autodiscover hosts; 0: 80 */
	guint64     seed;                       /* Message-IDs, boundaries, DNS ids */
	gint64      epoch_us;                   /* Unix time of scheduler time 0; 0: MUA_DEFAULT_EPOCH_US */
	int         zone_minutes;               /* the Date field's zone, east of UTC */
	gboolean    no_sent_copy;               /* "keep a copy in Sent" unticked */
} MuaConfig;

typedef struct Mua Mua;

/* A client on stack, the MUA's own face (in a simulation
 * ms_host_stack_alias(host, NAME), so events say who acts).  Strings of
 * cfg are copied.  NULL with MUA_ERROR_CONFIG on a bad setting. */
Mua        *mua_new(MsStack *stack, const MuaConfig *cfg, GError **error);
/* No action may be running. */
void        mua_free(Mua *mua);
const char *mua_name(Mua *mua);

/* setup.1-setup.7: the user types address and password; the client finds
 * its servers with its flavour's methods, each failure visible, the next
 * tried, the manual settings last.  Errors: MUA_ERROR_CONFIG for an address
 * without a domain, MUA_ERROR_NO_SERVERS when nothing worked. */
gboolean    mua_setup_account(Mua *mua, const char *address, const char *password, GError **error);
/* What setup recorded (borrowed; NULL before).  The username is expanded. */
const MailConfigServer *mua_incoming_server(Mua *mua);
const MailConfigServer *mua_outgoing_server(Mua *mua);
/* Which method found them; MUA_METHOD_COUNT before setup. */
MuaMethod   mua_setup_method(Mua *mua);
const char *mua_address(Mua *mua);

/* A message as the user writes it.  to, cc, bcc: address lists as typed
 * ("Bob <bob@example.org>, carol@example.org"), each may be NULL. */
typedef struct {
	const char *to, *cc, *bcc;
	const char *subject;
	const char *body;
	const ComposeAttachment *attachments;
	guint       n_attachments;
} MuaMessage;

/* out.1: compose (compose.h), submit to the outgoing server on 587 with
 * STARTTLS and AUTH, then keep a copy: in the server's Sent folder with IMAP APPEND when
 * the account is IMAP (retr.3), else in the client's own Sent folder.
 * Errors: COMPOSE_ERROR, SMTP_CLIENT_ERROR, G_IO_ERROR, MUA_ERROR_SENT_COPY
 * (the message went out; only the copy failed), MUA_ERROR_PLAINTEXT and
 * MUA_ERROR_CERTIFICATE (nothing was sent). */
gboolean    mua_send(Mua *mua, const MuaMessage *msg, GError **error);

/* in.8: fetch new mail.  IMAP: LIST the folders, SELECT INBOX, fetch what
 * this client has not seen, mark it \Seen on the server, and bring the
 * local copy in step (flags changed and messages gone elsewhere).  POP3:
 * STAT, UIDL, LIST, RETR what is new, DELE only if delete (else the mail
 * stays on the server, as clients "leave messages on server").  The
 * protocol used becomes the one later actions use.  How many were new:
 * mua_last_fetched(). */
gboolean    mua_fetch(Mua *mua, MuaProtocol protocol, gboolean delete, GError **error);
guint       mua_last_fetched(Mua *mua);

typedef enum { MUA_MARK_SEEN, MUA_MARK_FLAGGED } MuaMark;

const char *mua_mark_to_string(MuaMark m);

/* retr.1-retr.5 on the first message of the local INBOX, or on folders.
 * Over IMAP each changes the server (a second client sees it); over POP3
 * only the local copy changes, and an event says so. */
gboolean    mua_mark_first(Mua *mua, MuaMark mark, GError **error);
gboolean    mua_move_first(Mua *mua, const char *folder, GError **error);
gboolean    mua_delete_first(Mua *mua, GError **error);
gboolean    mua_create_folder(Mua *mua, const char *folder, GError **error);
gboolean    mua_save_draft(Mua *mua, const MuaMessage *msg, GError **error);
/* Reply to the first INBOX message (Re: subject, In-Reply-To, References,
 * to its Reply-To or From), send it as mua_send does, and mark the
 * original \Answered. */
gboolean    mua_reply_first(Mua *mua, const char *body, GError **error);

/* ---- the client's own copy ---------------------------------------------- */

typedef struct {
	guint32  uid;        /* its IMAP UID in that folder on the server, 0 if unknown */
	char    *pop3_uid;   /* its POP3 UIDL, NULL if it did not come by POP3 */
	GBytes  *data;       /* the whole message */
	char    *subject;    /* header values, unfolded; NULL when absent */
	char    *from;
	char    *message_id;
	gboolean seen, flagged, answered, draft;
} MuaLocalMessage;

/* The messages of a local folder, oldest first (borrowed, valid until the
 * next action); NULL when the client has no such folder. */
GPtrArray  *mua_local_messages(Mua *mua, const char *folder);
/* The local folders' names, INBOX first: a new array of char *. */
GPtrArray  *mua_local_folders(Mua *mua);
