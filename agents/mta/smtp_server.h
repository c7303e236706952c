/* agents/mta/smtp_server.h - the server side of one SMTP session.
 *
 * Plain blocking code over an MsConn: greeting, EHLO, AUTH (RFC 4954),
 * the MAIL/RCPT/DATA transaction with PIPELINING (RFC 2920), the rest of
 * RFC 5321's commands.  It knows the protocol, not the policy: whether a
 * sender, recipient, credential or message is accepted is asked of the
 * agent through SmtpServerHooks.
 */
#pragma once

#include "net/conn.h"
#include "agents/mta/smtp_proto.h"

/* The stages of a session; the agent gives each a course step id. */
typedef enum {
	SMTP_STAGE_CONNECT,   /* greeting */
	SMTP_STAGE_HELLO,     /* EHLO/HELO */
	SMTP_STAGE_AUTH,      /* AUTH exchange */
	SMTP_STAGE_MAIL,
	SMTP_STAGE_RCPT,
	SMTP_STAGE_DATA,      /* 354 and the message */
	SMTP_STAGE_ACCEPT,    /* the reply after the final "." */
	SMTP_STAGE_QUIT,
	SMTP_STAGE_COUNT
} SmtpStage;

const char *smtp_stage_to_string(SmtpStage stage);

#define SMTP_SERVER_IDLE_TIMEOUT  (5 * 60 * MS_SECOND)   /* RFC 5321 4.5.3.2.7 */
#define SMTP_SERVER_DATA_TIMEOUT  (10 * 60 * MS_SECOND)  /* RFC 5321 4.5.3.2.6 */
#define SMTP_VERDICT_TEXT_MAX     256
#define SMTP_SERVER_DATA_READ_MAX 4096   /* longest DATA line read before judging */

/* A hook's answer: the reply to send.  step (may be NULL) tags the reply
 * with the course step that decided it ("in.3" for a DNSBL refusal). */
typedef struct {
	guint       code;
	const char *enhanced;
	char        text[SMTP_VERDICT_TEXT_MAX];
	const char *step;
} SmtpVerdict;

void smtp_verdict_set(SmtpVerdict *v, guint code, const char *enhanced, const char *step,
                      const char *fmt, ...) G_GNUC_PRINTF(5, 6);

typedef struct SmtpSession SmtpSession;

MsConn         *smtp_session_conn(SmtpSession *s);
const char     *smtp_session_client_address(SmtpSession *s);
const char     *smtp_session_helo(SmtpSession *s);
/* The authenticated user, or NULL. */
const char     *smtp_session_auth_user(SmtpSession *s);
/* The transaction: MAIL's path (NULL before MAIL) and accepted RCPT paths. */
const SmtpPath *smtp_session_sender(SmtpSession *s);
GPtrArray      *smtp_session_recipients(SmtpSession *s);
/* Whether the session is encrypted (STARTTLS done, or implicit TLS). */
gboolean        smtp_session_tls(SmtpSession *s);
/* Whether the client announced itself with EHLO (ESMTP) rather than HELO. */
gboolean        smtp_session_esmtp(SmtpSession *s);
/* Send the replies waiting to go out now: a hook about to ask the network
 * something calls it, so the transcript shows the answers so far first. */
gboolean        smtp_session_flush(SmtpSession *s);
/* A per-session slot for the agent (freed with destroy at the end). */
void            smtp_session_set_data(SmtpSession *s, gpointer data, GDestroyNotify destroy);
gpointer        smtp_session_get_data(SmtpSession *s);

/* What the agent decides.  A NULL hook accepts.  Each returns TRUE to accept
 * (v may still carry the success text) or FALSE to refuse with v. */
typedef struct {
	gboolean (*connect)(gpointer ud, SmtpSession *s, SmtpVerdict *v);
	/* TRUE when user/password are right.  Called with the session's step
	 * set to the AUTH stage's. */
	gboolean (*auth)(gpointer ud, SmtpSession *s, const char *user, const char *password);
	gboolean (*mail)(gpointer ud, SmtpSession *s, const SmtpCommand *cmd, SmtpVerdict *v);
	gboolean (*rcpt)(gpointer ud, SmtpSession *s, const SmtpCommand *cmd, SmtpVerdict *v);
	/* The message arrived (dot-unstuffed, CRLF lines).  Accept means it is
	 * safely queued: v says "250 2.0.0 Ok: queued as ID". */
	gboolean (*data)(gpointer ud, SmtpSession *s, GString *message, SmtpVerdict *v);
	/* LMTP instead (RFC 2033 4.2): one verdict per accepted recipient, in
	 * the order of smtp_session_recipients(); v has that many slots. */
	void     (*data_lmtp)(gpointer ud, SmtpSession *s, GString *message, SmtpVerdict *v);
} SmtpServerHooks;

typedef struct {
	const char *hostname;      /* in the greeting and the EHLO reply */
	gboolean    lmtp;          /* speak LMTP (RFC 2033): LHLO, per-recipient DATA replies */
	gboolean    offer_auth;    /* advertise and accept AUTH PLAIN LOGIN */
	SmtpLimits  limits;
	gint64      idle_timeout;  /* any read, DATA too; 0: SMTP_SERVER_IDLE_TIMEOUT, and
	                              SMTP_SERVER_DATA_TIMEOUT in DATA */
	GTlsCertificate *tls_cert; /* offer STARTTLS (RFC 3207) with it; NULL: none */
	gboolean    auth_needs_tls;/* no AUTH before TLS (Postfix smtpd_tls_auth_only) */
	/* The course step of each stage (NULL: none), from the agent's table. */
	const char *steps[SMTP_STAGE_COUNT];
} SmtpServerConfig;

/* Serve one session until QUIT, the peer leaves, too many errors or a
 * time-out.  The caller still owns conn. */
void smtp_server_run(MsConn *conn, const SmtpServerConfig *cfg,
                     const SmtpServerHooks *hooks, gpointer ud);
