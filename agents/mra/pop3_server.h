/* agents/mra/pop3_server.h - the server side of one POP3 session.
 *
 * Plain blocking code over an MsConn (RFC 1939): USER/PASS and AUTH PLAIN
 * or LOGIN (RFC 5034) checked by the agent's account service, an exclusive
 * lock on the maildrop (RFC 1939 4), STAT LIST RETR TOP UIDL DELE RSET NOOP
 * QUIT, CAPA and extended response codes (RFC 2449).  Deletions happen only
 * in the UPDATE state, after QUIT.  POP3 sees INBOX alone, keeps no flags
 * and no folders: the other half of COURSE.md section 5.
 */
#pragma once

#include "net/conn.h"
#include "agents/mra/mra.h"

/* RFC 1939 3: the states of a session. */
typedef enum {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE,
	POP3_STATE_CLOSED,
} Pop3ServerState;

const char *pop3_server_state_to_string(Pop3ServerState state);

/* RFC 1939 3: an autologout timer must be at least 10 minutes. */
#define POP3_SERVER_TIMEOUT             (10 * 60 * MS_SECOND)
/* Invalid commands in a row before the server hangs up. */
#define POP3_SERVER_MAX_BAD             20
/* Failed logins before the server hangs up. */
#define POP3_SERVER_MAX_AUTH_FAILURES   3
/* A maildrop lock older than this was left by a session that died. */
#define POP3_SERVER_LOCK_STALE          (30 * 60 * MS_SECOND)
/* A long session renews its lock this often, so it never looks stale. */
#define POP3_SERVER_LOCK_REFRESH        (60 * MS_SECOND)
/* Replies wait to be sent until this many octets are gathered or the
 * client has nothing more in flight (RFC 2449 6.8 PIPELINING). */
#define POP3_SERVER_FLUSH_AT            (256 * 1024)
/* RFC 1939 7: a unique-id is 1 to 70 characters 0x21-0x7E. */
#define POP3_SERVER_MAX_UIDL            70

/* Serve one session until QUIT, the peer leaves, an autologout, too many
 * errors, or the scheduler shuts down.  The caller still owns conn. */
void pop3_server_run(MsConn *conn, Mra *mra);
