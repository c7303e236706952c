/* agents/mra/imap_server.h - the server side of one IMAP4rev1 session.
 *
 * Plain blocking code over an MsConn (RFC 3501), with LITERAL+ (RFC 7888),
 * SASL-IR (RFC 4959), UIDPLUS (RFC 4315), MOVE (RFC 6851), IDLE (RFC 2177),
 * NAMESPACE (RFC 2342), ID (RFC 2971), ENABLE (RFC 5161), UNSELECT
 * (RFC 3691), SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348).  Mail lives
 * in the user's Maildir; what sessions share (UIDs, flags, \Recent, IDLE
 * wake-ups) is the agent's (mra.h).  Passwords are the agent's to check.
 */
#pragma once

#include "net/conn.h"
#include "agents/mra/mra.h"

/* RFC 3501 3: the states of a connection. */
typedef enum {
	IMAP_STATE_NOT_AUTHENTICATED,
	IMAP_STATE_AUTHENTICATED,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
} ImapServerState;

const char *imap_server_state_to_string(ImapServerState state);

/* RFC 3501 5.4: an autologout timer must be at least 30 minutes. */
#define IMAP_SERVER_TIMEOUT            (30 * 60 * MS_SECOND)
/* Invalid commands in a row before the server hangs up. */
#define IMAP_SERVER_MAX_BAD            20
/* Failed logins before the server hangs up (each costs the account
 * service's delay already). */
#define IMAP_SERVER_MAX_AUTH_FAILURES  3
/* Replies are gathered and sent when the client has nothing more in
 * flight, or when this many octets wait. */
#define IMAP_SERVER_FLUSH_AT           (256 * 1024)
/* A LITERAL+ literal over the limit is already on its way (RFC 7888 4):
 * up to this size it is read and dropped, and the session goes on;
 * beyond, the server says BYE and closes. */
#define IMAP_SERVER_MAX_DISCARD        (64u * 1024 * 1024)
/* Longest LIST/LSUB pattern (reference and mailbox together). */
#define IMAP_SERVER_MAX_PATTERN        1024

/* Serve one session until LOGOUT, the peer leaves, an autologout, too many
 * errors, or the scheduler shuts down.  The caller still owns conn.  Runs
 * on the calling task; IDLE starts one short-lived helper task that reads
 * the client's DONE while the session waits for changes. */
void imap_server_run(MsConn *conn, Mra *mra);
