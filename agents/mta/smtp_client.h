/* agents/mta/smtp_client.h - the client side of an SMTP or LMTP session.
 *
 * Plain blocking code over an MsConn: the greeting, EHLO/LHLO (HELO as a
 * fallback), STARTTLS (RFC 3207), AUTH PLAIN and LOGIN (RFC 4954), one mail transaction at a time
 * with PIPELINING (RFC 2920), SIZE (RFC 1870) and 8BITMIME (RFC 6152), and
 * LMTP's reply per recipient (RFC 2033 4.2).  Used by the MTA relaying on
 * port 25, the MTA handing mail to the MDA over LMTP, and the MUA on 587.
 */
#pragma once

#include <glib.h>
#include "net/conn.h"
#include "agents/mta/smtp_proto.h"

/* ---- time-outs (RFC 5321 4.5.3.2) ---------------------------------------- */

/* How long the client waits for each reply.  The connection applies them
 * per read; the session sets the one that fits before every wait. */
#define SMTP_CLIENT_TIMEOUT_GREETING   (5 * 60 * MS_SECOND)   /* 4.5.3.2.1: initial 220 */
#define SMTP_CLIENT_TIMEOUT_MAIL       (5 * 60 * MS_SECOND)   /* 4.5.3.2.2 */
#define SMTP_CLIENT_TIMEOUT_RCPT       (5 * 60 * MS_SECOND)   /* 4.5.3.2.3 */
#define SMTP_CLIENT_TIMEOUT_DATA_INIT  (2 * 60 * MS_SECOND)   /* 4.5.3.2.4: the 354 */
#define SMTP_CLIENT_TIMEOUT_DATA_BLOCK (3 * 60 * MS_SECOND)   /* 4.5.3.2.5: each write of the body */
#define SMTP_CLIENT_TIMEOUT_DATA_END   (10 * 60 * MS_SECOND)  /* 4.5.3.2.6: the reply to "." */
/* EHLO, AUTH, RSET and QUIT have no value in the RFC; they get the server's
 * own idle time-out (4.5.3.2.7), the same 5 minutes as MAIL. */
#define SMTP_CLIENT_TIMEOUT_COMMAND    (5 * 60 * MS_SECOND)

/* A failed transaction's error names at most this many refused recipients. */
#define SMTP_CLIENT_ERROR_RECIPIENTS_SHOWN 3

/* ---- errors -------------------------------------------------------------- */

/* Errors of this client.  Transport failures (time-outs, resets, refused
 * connections) keep the G_IO_ERROR they came with, their message prefixed
 * with what was being waited for.  Every message names the command and the
 * reply: "RCPT TO:<bob@example.org> refused: 550 5.1.1 no such user". */
#define SMTP_CLIENT_ERROR (smtp_client_error_quark())
GQuark smtp_client_error_quark(void);

typedef enum {
	SMTP_CLIENT_ERROR_TEMPFAIL,  /* a 4xx reply: try again later */
	SMTP_CLIENT_ERROR_PERMFAIL,  /* a 5xx reply: give up (bounce) */
	SMTP_CLIENT_ERROR_PROTOCOL,  /* unparseable reply, unexpected code, line too long, too
	                                many lines, bare LF, connection closed mid-dialogue */
	SMTP_CLIENT_ERROR_LOCAL,     /* refused here before a byte was sent: a message over the
	                                server's SIZE, an address that does not parse, an AUTH
	                                mechanism the server does not offer.  Permanent for this
	                                server; the session stays usable. */
} SmtpClientError;

const char *smtp_client_error_to_string(SmtpClientError e);

/* ---- the session --------------------------------------------------------- */

typedef enum {
	SMTP_CLIENT_MODE_SMTP,  /* EHLO, one reply to the end of data */
	SMTP_CLIENT_MODE_LMTP,  /* LHLO, one reply per accepted recipient (RFC 2033 4.2) */
} SmtpClientMode;

const char *smtp_client_mode_to_string(SmtpClientMode mode);

typedef enum {
	SMTP_CLIENT_STATE_CONNECTED,  /* waiting for the greeting */
	SMTP_CLIENT_STATE_GREETED,    /* 220 arrived: say hello */
	SMTP_CLIENT_STATE_READY,      /* hello done: AUTH, send, quit */
	SMTP_CLIENT_STATE_REJECTED,   /* the greeting refused us: only QUIT is left (RFC 5321 3.1) */
	SMTP_CLIENT_STATE_FAILED,     /* transport or protocol failure, or 421: out of step, only free */
	SMTP_CLIENT_STATE_CLOSED,     /* QUIT done or the connection closed */
} SmtpClientState;

const char *smtp_client_state_to_string(SmtpClientState state);

/* Which command's reply decided something: error messages and results
 * say it, as a bounce says "in reply to RCPT TO". */
typedef enum {
	SMTP_CLIENT_STAGE_GREETING,
	SMTP_CLIENT_STAGE_HELLO,     /* EHLO, HELO or LHLO */
	SMTP_CLIENT_STAGE_STARTTLS,  /* answered by 220: TLS begins */
	SMTP_CLIENT_STAGE_AUTH,
	SMTP_CLIENT_STAGE_MAIL,
	SMTP_CLIENT_STAGE_RCPT,
	SMTP_CLIENT_STAGE_DATA,      /* the DATA command itself, answered by 354 */
	SMTP_CLIENT_STAGE_DATA_END,  /* the message and its ".", answered once (SMTP) or per recipient (LMTP) */
	SMTP_CLIENT_STAGE_RSET,
	SMTP_CLIENT_STAGE_QUIT,
	SMTP_CLIENT_STAGE_COUNT
} SmtpClientStage;

const char *smtp_client_stage_to_string(SmtpClientStage stage);

typedef struct SmtpClient SmtpClient;

/* A session over conn, whose first byte from the server is still to come.
 * Takes a reference on conn and sets its protocol ("smtp" or "lmtp"); the
 * caller keeps owning its course step (ms_conn_set_step) and may change it
 * between calls.  helo_name is the name to introduce ourselves with, a
 * domain or an address literal; it is copied. */
SmtpClient *smtp_client_new(MsConn *conn, SmtpClientMode mode, const char *helo_name);
/* Drops the reference on the connection (closing it if it was the last)
 * without saying QUIT. */
void        smtp_client_free(SmtpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpClient, smtp_client_free)

SmtpClientState smtp_client_state(const SmtpClient *client);
SmtpClientMode  smtp_client_mode(const SmtpClient *client);
/* The connection, borrowed. */
MsConn         *smtp_client_conn(SmtpClient *client);

/* Read the greeting (CONNECTED -> GREETED).  TRUE on 220.  A 554 (any
 * 5xx) gives PERMFAIL, a 4xx TEMPFAIL, and the session is REJECTED: call
 * quit.  After a 421 it is FAILED instead: the server hangs up. */
gboolean smtp_client_greeting(SmtpClient *client, GError **error);

/* EHLO (LHLO in LMTP mode) and read the extensions (GREETED -> READY).
 * An SMTP server that answers EHLO with 500 or 502 gets HELO instead
 * (RFC 5321 4.1.4) and is taken to offer no extension. */
gboolean smtp_client_hello(SmtpClient *client, GError **error);

/* What the server offered; borrowed until the next hello or free.  NULL
 * before hello. */
const SmtpExtensions *smtp_client_extensions(const SmtpClient *client);

/* STARTTLS (RFC 3207) when READY and the server offers it, then the TLS
 * handshake as a client (ms_conn_starttls: the certificate is not
 * checked there; whether to trust it is the caller's to say).  Afterwards
 * the session is GREETED again: what EHLO told before TLS is forgotten
 * (RFC 3207 4.2) and smtp_client_hello must be said anew.  LOCAL when the
 * server does not offer STARTTLS; 454 TEMPFAIL, other refusals PERMFAIL
 * (the session stays READY, in the clear); a failed handshake keeps its
 * G_IO_ERROR or G_TLS_ERROR and leaves the session FAILED. */
gboolean smtp_client_starttls(SmtpClient *client, GError **error);

/* Authenticate (READY, once).  mechanism is "PLAIN", "LOGIN" or NULL for
 * the best one the server offers (PLAIN: one round trip).  LOCAL when the
 * server offers no usable mechanism or a field is over SASL_MAX_FIELD.
 * Neither the password nor its base64 ever appears in an event's text:
 * those lines go out as "AUTH PLAIN ••••••" and "••••••".  535 gives
 * PERMFAIL, 454 TEMPFAIL. */
gboolean smtp_client_auth(SmtpClient *client, const char *mechanism, const char *user,
                          const char *password, GError **error);
gboolean smtp_client_is_authenticated(const SmtpClient *client);

/* ---- one mail transaction ------------------------------------------------ */

/* Where a recipient stands after smtp_client_send. */
typedef enum {
	SMTP_RECIPIENT_DELIVERED,  /* a 2xx after the data: the server has the message */
	SMTP_RECIPIENT_TEMPFAIL,   /* a 4xx at some stage: try again later */
	SMTP_RECIPIENT_PERMFAIL,   /* a 5xx at some stage: bounce */
	SMTP_RECIPIENT_UNKNOWN,    /* the session failed before its outcome arrived.  If that
	                              was after the ".", the server may have it anyway: retry,
	                              since a duplicate beats a loss (RFC 5321 6.1, RFC 1047) */
} SmtpRecipientStatus;

const char *smtp_recipient_status_to_string(SmtpRecipientStatus status);

/* A recipient's final outcome: the RCPT reply when it was refused; the MAIL
 * reply when MAIL was; the DATA reply when DATA was; else, in SMTP, the one
 * reply to the end of data and, in LMTP, the recipient's own reply to it. */
typedef struct {
	char               *address;        /* as given to smtp_client_send */
	SmtpRecipientStatus status;
	SmtpClientStage     stage;          /* whose reply decided; meaningless when UNKNOWN */
	guint               code;           /* that reply's code; 0 when UNKNOWN */
	char               *enhanced;       /* "5.1.1", or NULL */
	char               *text;           /* its lines joined with "\n"; NULL when UNKNOWN */
	gboolean            rcpt_accepted;  /* the RCPT itself got 250/251 */
} SmtpRecipientResult;

/* What a transaction did.  Owns everything; replies are NULL when the
 * dialogue never got that far. */
typedef struct {
	SmtpReply *mail_reply;
	SmtpReply *data_reply;   /* to the DATA command: 354, or its refusal */
	SmtpReply *end_reply;    /* SMTP: to the final "."; NULL in LMTP (see recipients) */
	GPtrArray *recipients;   /* SmtpRecipientResult *, in the order given */
	guint      n_delivered;
} SmtpSendResult;

void smtp_send_result_free(SmtpSendResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmtpSendResult, smtp_send_result_free)

/* Send message (the RFC 5322 text, any line endings) from reverse_path to
 * the NULL-terminated, non-empty recipients.  Addresses are bare
 * ("bob@example.org"); reverse_path "" is the null path <> of bounces.
 * The session must be READY; it is READY again afterwards unless the
 * transport or the protocol failed.
 *
 * The dialogue:
 * - with PIPELINING, MAIL, every RCPT and DATA go out in one write (one
 *   segment), then the replies are read in order; without, one by one,
 *   stopping early when MAIL or every RCPT is refused;
 * - MAIL carries SIZE= when the server offers SIZE, BODY=8BITMIME when the
 *   message has 8-bit bytes and the server offers 8BITMIME.  An 8-bit
 *   message to a server without 8BITMIME goes out as it is: no downgrade
 *   to quoted-printable is attempted (RFC 6152 3 would want one);
 * - a message larger than the server's SIZE is refused here (LOCAL) and
 *   nothing is sent (RFC 1870 6.1);
 * - the body is dot-stuffed and sent with CRLF line endings; its SEND
 *   event reads "(message: N bytes, L lines)" while the payload keeps the
 *   bytes;
 * - when every recipient is refused the body is never sent; a pipelining
 *   server should answer the DATA with 503 or 554, and one that says 354
 *   anyway gets a lone "." (an empty message, which it must refuse for want
 *   of recipients; in LMTP too, although RFC 2033 4.2 requires 503 there);
 *   then RSET, as after any transaction that did not reach its end.
 *
 * Returns TRUE when at least one recipient was delivered.  FALSE with:
 * - TEMPFAIL/PERMFAIL when none was (MAIL, every RCPT, DATA or the data
 *   refused): TEMPFAIL if any recipient may succeed later;
 * - PROTOCOL or a G_IO_ERROR when the session failed (now FAILED);
 *   recipients whose outcome had not arrived are UNKNOWN;
 * - LOCAL when nothing was sent.
 * *result_r (may be NULL) gets the result whenever something was sent,
 * success or not, and NULL otherwise; the caller frees it. */
gboolean smtp_client_send(SmtpClient *client, const char *reverse_path,
                          const char *const *recipients, GBytes *message,
                          SmtpSendResult **result_r, GError **error);

/* The last complete reply the server gave; borrowed until the next
 * command.  NULL before the first. */
const SmtpReply *smtp_client_last_reply(const SmtpClient *client);

/* QUIT, wait for the 221 (RFC 5321 4.1.1.10), close.  Errors do not
 * matter any more and are ignored; in a FAILED session it only closes.
 * The session is CLOSED afterwards. */
void smtp_client_quit(SmtpClient *client);
