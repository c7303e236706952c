/* agents/mda/authsvc.h - the MDA's account service: how the MTA and the MRA
 * ask "are these credentials right?" and "does this address exist?".
 *
 * Dovecot plays this role for Postfix in the course (steps out.2-out.3 and
 * in.4-in.5).  A small line protocol over MsConn, readable in a transcript:
 *
 *   S: +OK mailsim account service
 *   C: AUTH alice@example.com d29uZGVybGFuZA==    (password in base64)
 *   S: +OK                                         or  -NO
 *   C: RCPT bob@example.org
 *   S: +OK bob@example.org                         the mailboxes it reaches
 *   S: -NOUSER                                     or  -TEMP reason
 *   C: QUIT
 *   S: +OK bye
 *
 * A wrong password and an unknown user get the same -NO, after the same
 * delay: the answer never says which was wrong.
 */
#pragma once

#include "net/conn.h"

#define AUTHSVC_PORT          12345
#define AUTHSVC_MAX_LINE      1024
#define AUTHSVC_FAIL_DELAY    (2 * MS_SECOND)   /* a wrong password waits this long */
#define AUTHSVC_TIMEOUT       (30 * MS_SECOND)  /* an answer, or the next command */

typedef enum {
	AUTHSVC_OK,
	AUTHSVC_NO,        /* wrong credentials, or no such user */
	AUTHSVC_TEMPFAIL,  /* the service could not answer: try later */
} AuthsvcResult;

const char *authsvc_result_to_string(AuthsvcResult r);

/* ---- the client side (MTA, MRA) ----------------------------------------- */

typedef struct AuthsvcClient AuthsvcClient;

/* Connect to the service at addr:port from stack and read its greeting.
 * NULL with error when it cannot be reached. */
AuthsvcClient *authsvc_client_connect(MsStack *stack, const char *addr, guint16 port, GError **error);
/* QUIT and close. */
void           authsvc_client_free(AuthsvcClient *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AuthsvcClient, authsvc_client_free)

/* Check user/password; events carry step (out.2 for the MTA).  The
 * password is masked in every event. */
AuthsvcResult  authsvc_client_auth(AuthsvcClient *c, const char *user, const char *password,
                                   const char *step, GError **error);
/* Does address reach a mailbox?  On AUTHSVC_OK *mailboxes_r (may be NULL)
 * gets the final addresses after aliases (array of char*). */
AuthsvcResult  authsvc_client_rcpt(AuthsvcClient *c, const char *address, const char *step,
                                   GPtrArray **mailboxes_r, GError **error);

/* Whether the connection still works: FALSE once a write or a read failed
 * or timed out (an answer the protocol does not know counts too). */
gboolean       authsvc_client_usable(AuthsvcClient *c);

/* ---- a pool of connections (MTA, MRA) -----------------------------------
 * A busy server asks many questions a second.  As Postfix's clients of
 * proxymap and Dovecot's auth clients do, it keeps a few connections open
 * between questions rather than one for each session: a question takes a
 * connection, asks, and gives it back.  At most AUTHSVC_POOL_IDLE_MAX wait,
 * each at most AUTHSVC_POOL_IDLE_TIME; then a task of the pool says QUIT
 * (so a quiet simulation ends quiet, and the service's own idle time-out,
 * AUTHSVC_TIMEOUT, never cuts one first).  Thread-safe: sessions of any
 * task or thread share one pool. */

#define AUTHSVC_POOL_IDLE_MAX   16
#define AUTHSVC_POOL_IDLE_TIME  (5 * MS_SECOND)   /* Postfix's ipc_idle */

typedef struct AuthsvcPool AuthsvcPool;

/* A pool of connections from stack to addr:port; none is opened yet.  Keeps
 * a reference to stack. */
AuthsvcPool   *authsvc_pool_new(MsStack *stack, const char *addr, guint16 port);
/* QUIT the idle connections (its task does, soon) and keep none from now
 * on.  Call from a task, or with the world stopped (like ms_task_unpark). */
void           authsvc_pool_close(AuthsvcPool *pool);
/* authsvc_pool_close, then drop the caller's reference; the pool's task
 * keeps the rest alive until it ends. */
void           authsvc_pool_free(AuthsvcPool *pool);

/* A connection: an idle one (*reused_r TRUE, may be NULL) or a new one.
 * NULL with error when the service cannot be reached. */
AuthsvcClient *authsvc_pool_take(AuthsvcPool *pool, gboolean *reused_r, GError **error);
/* Give c back (NULL is ignored).  It waits for the next question when
 * reusable and still usable and the pool has room; otherwise it is closed
 * (QUIT when usable). */
void           authsvc_pool_give(AuthsvcPool *pool, AuthsvcClient *c, gboolean reusable);

/* How many connections wait idle now. */
guint          authsvc_pool_idle(AuthsvcPool *pool);

/* authsvc_client_auth and authsvc_client_rcpt over a pooled connection.
 * When a reused connection turns out closed by the service (it restarted,
 * say), the question is asked once more over a new one. */
AuthsvcResult  authsvc_pool_auth(AuthsvcPool *pool, const char *user, const char *password,
                                 const char *step, GError **error);
AuthsvcResult  authsvc_pool_rcpt(AuthsvcPool *pool, const char *address, const char *step,
                                 GPtrArray **mailboxes_r, GError **error);

/* ---- the server side (MDA) ----------------------------------------------- */

typedef struct {
	/* TRUE when the password is right (and the user exists). */
	gboolean (*verify)(gpointer ud, const char *user, const char *password, GError **error);
	/* The mailboxes an address reaches: an array (possibly empty: no such
	 * user), or NULL with error when the lookup failed. */
	GPtrArray *(*resolve)(gpointer ud, const char *address, GError **error);
} AuthsvcBackend;

/* Serve one client connection until QUIT, EOF or AUTHSVC_TIMEOUT without a
 * command; any number of questions in between.  step_auth/step_rcpt tag
 * the replies (out.3, in.5: the database's answers). */
void authsvc_serve(MsConn *conn, const AuthsvcBackend *backend, gpointer ud,
                   const char *step_auth, const char *step_rcpt);
