/* agents/mta/anvil.h - how many connections each client has open, and how
 * fast it opens them: the MTA's defence against one client taking every
 * session, in Postfix's words (its anvil(8) server does this for smtpd).
 *
 *   smtpd_client_connection_count_limit = 50   sessions at once per client
 *   smtpd_client_connection_rate_limit  = 0    connections per minute (0: none)
 *
 * Over a limit Postfix answers "421 4.7.0 HOST Error: too many connections
 * from ADDR" instead of its greeting and hangs up; the MTA does the same.
 * Pure bookkeeping: the caller passes the time, and decides who is exempt.
 * Thread-safe.
 */
#pragma once

#include <glib.h>

#define ANVIL_DEFAULT_COUNT_LIMIT 50                   /* Postfix's default */
#define ANVIL_RATE_TIME_UNIT      (60 * G_USEC_PER_SEC) /* anvil_rate_time_unit: 60 s */
#define ANVIL_SWEEP_AT            1024                 /* clients tracked before stale ones are dropped */

typedef enum {
	ANVIL_OK,
	ANVIL_TOO_MANY,   /* over the count limit */
	ANVIL_TOO_FAST,   /* over the rate limit */
} AnvilVerdict;

const char *anvil_verdict_to_string(AnvilVerdict v);

typedef struct Anvil Anvil;

/* Limits per client: count_limit sessions at once, rate_limit connections
 * per time_unit (microseconds); 0 means no limit. */
Anvil       *anvil_new(guint count_limit, guint rate_limit, gint64 time_unit);
void         anvil_free(Anvil *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Anvil, anvil_free)

/* client (an address, or any key) connects at time now (microseconds, any
 * clock that only goes forward).  The connection counts towards the rate
 * either way, as Postfix's does: a client hammering the door stays
 * refused.  On ANVIL_OK it counts as open until anvil_disconnect; a refused
 * one does not.  *count_r and *rate_r (may be NULL) get the figures the
 * verdict was made on, this connection included. */
AnvilVerdict anvil_connect(Anvil *a, const char *client, gint64 now, guint *count_r, guint *rate_r);
/* A connection anvil_connect let in has ended. */
void         anvil_disconnect(Anvil *a, const char *client);
/* Connections open now from client. */
guint        anvil_count(Anvil *a, const char *client);
/* Clients tracked (for tests of the clean-up). */
guint        anvil_clients(Anvil *a);
