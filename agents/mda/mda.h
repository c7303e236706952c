/* agents/mda/mda.h - the MDA agent: Dovecot's delivery role in the course.
 *
 * Two services on one host: the account service (authsvc.h) that answers
 * the MTA's "are these credentials right?" and "does this address exist?"
 * from the account database (steps out.3, in.5), and an LMTP server
 * (RFC 2033) that takes each message, filters it (virus, spam, the user's
 * Sieve script) and writes it into the user's Maildir (steps in.6, in.7).
 */
#pragma once

#include "net/conn.h"

/* What the MTA can count on:
 *  - The account service (authsvc.h) answers RCPT with every final address
 *    of an alias expansion.  An address in a domain the MTA does not serve
 *    itself (mydestination) is a forward: the MTA relays it.
 *  - Over LMTP, RCPT takes a mailbox or an alias (not a forward); an alias
 *    that reaches forwards is re-injected by the MDA itself, like a Sieve
 *    redirect: SMTP to mta_address:mta_port, the original envelope sender
 *    kept, so the MTA must let its own host relay (mynetworks).
 *  - Each accepted recipient gets its own reply after DATA: 250 stored
 *    (or discarded, redirected), 452 4.3.1 when it could not be written
 *    (nothing half-written stays; retry), 554 5.7.1 for a virus, 550 5.7.1
 *    for a Sieve reject, 552 5.2.2 over quota.
 *  - A copy filed before (the same recipient, the same bytes: the MTA's
 *    retry after a crash or a lost reply) is answered 250 "already
 *    delivered" and not filed again; one being filed by another session
 *    at that moment gets 451 4.3.0 (agents/mda/dedup.h, STATE/delivered.log). */

/* ---- settings and limits ------------------------------------------------ */

#define MDA_LMTP_PORT          24            /* RFC 2033 6: LMTP has no port; 24 is "any private mail system" */
#define MDA_SMTP_PORT          25            /* where redirects go back into the MTA */
#define MDA_MAX_SESSIONS       512           /* per service; more get a "try later" (every SMTP and IMAP session may hold one) */
#define MDA_MAX_HOPS           100           /* RFC 5321 6.3: Received fields before it is a loop */
#define MDA_REINJECT_TIMEOUT   (60 * MS_SECOND)
#define MDA_SIEVE_DIR          "sieve"       /* STATE/sieve/DOMAIN/LOCAL.sieve */
#define MDA_MAIL_DIR           "mail"        /* STATE/mail/DOMAIN/LOCAL/: the Maildirs */
#define MDA_SIEVE_SUFFIX       ".sieve"
#define MDA_VACATION_SUFFIX    ".vacation"   /* who got an auto-reply, until when */
#define MDA_VACATION_MAX_RECORDS 1000        /* remembered senders per user */
/* Unix time of scheduler time 0 in simulations: 2026-01-01, as the MTA's
 * MTA_SIM_EPOCH_US, so both stamp the same dates. */
#define MDA_DEFAULT_EPOCH_US   (G_GINT64_CONSTANT(1767225600) * MS_SECOND)

/* ---- the course-step table ---------------------------------------------- */

/* What the MDA does; mda.c maps each to the course step it shows. */
typedef enum {
	MDA_ACT_CHECK_PASSWORD,    /* account service: the password checked in the database */
	MDA_ACT_LOOKUP_RECIPIENT,  /* account service or LMTP RCPT: the address looked up */
	MDA_ACT_RECEIVE,           /* the LMTP dialogue: the MTA hands the message over */
	MDA_ACT_FILTER,            /* virus scan, spam score, the user's Sieve script */
	MDA_ACT_STORE,             /* the write into the Maildir, and the reply after it */
	MDA_ACT_REINJECT,          /* a redirect, forward or vacation reply given to the MTA */
	MDA_ACT_COUNT
} MdaAction;

const char *mda_action_to_string(MdaAction action);
/* The course step id ("in.7"), or NULL. */
const char *mda_action_step(MdaAction action);
/* One line a student reads: what happens in that step. */
const char *mda_action_describe(MdaAction action);

/* ---- errors ------------------------------------------------------------- */

#define MDA_ERROR (mda_error_quark())
GQuark mda_error_quark(void);

typedef enum {
	MDA_ERROR_CONFIG,    /* a setting is missing or wrong */
	MDA_ERROR_TEMPFAIL,  /* the MTA answered 4xx to a re-injection */
	MDA_ERROR_PERMFAIL,  /* the MTA answered 5xx */
	MDA_ERROR_PROTOCOL,  /* the MTA's reply made no sense */
} MdaError;

const char *mda_error_to_string(MdaError code);

/* ---- the agent ---------------------------------------------------------- */

typedef struct {
	const char *hostname;        /* "mx.example.org": Received fields and Maildir file names */
	const char *state_dir;       /* accounts.sqlite, mail/, sieve/ live here */
	const char *listen_address;  /* NULL: every address of the stack */
	guint16     lmtp_port;       /* 0: MDA_LMTP_PORT */
	guint16     authsvc_port;    /* 0: AUTHSVC_PORT */
	gboolean    fsync;           /* FALSE for simulations: no fsync anywhere */
	double      spam_threshold;  /* 0: FILTER_SPAM_DEFAULT_THRESHOLD */
	guint64     seed;            /* salts, ids and Maildir names (P<seed>) */
	gint64      epoch_us;        /* Unix time of scheduler time 0; 0: MDA_DEFAULT_EPOCH_US */
	const char *mta_address;     /* redirects, forwards, vacation: NULL: the stack's address */
	guint16     mta_port;        /* 0: MDA_SMTP_PORT */
	guint       hash_rounds;     /* SHA-512 crypt rounds of new passwords; 0: crypt's 5000 */
	gboolean    private_db;      /* nobody else opens the database (a simulation): keep its locks */
} MdaConfig;

typedef struct Mda Mda;

/* An MDA on stack, the MDA's own face: in a simulation
 * ms_host_stack_alias(host, "mda@HOSTNAME"), in lab mode a real stack of
 * that name, so every event says who acts.  Opens (creating if needed)
 * STATE/accounts.sqlite.  The strings of cfg are copied.  NULL with an
 * error (MDA_ERROR_CONFIG, or the database's) on failure. */
Mda     *mda_new(MsStack *stack, const MdaConfig *cfg, GError **error);
/* Listen (LMTP, account service) and start one accept task per service;
 * each connection then gets its own task. */
gboolean mda_start(Mda *mda, GError **error);
/* Close the listeners: no new connections.  Sessions under way go on
 * until their clients leave or the scheduler shuts down. */
void     mda_stop(Mda *mda);
/* Call after ms_sched_shutdown (no task may still use the MDA). */
void     mda_free(Mda *mda);

/* The ports the listeners got (a port of 0 in cfg asks for any). */
guint16  mda_lmtp_port(Mda *mda);
guint16  mda_authsvc_port(Mda *mda);

/* ---- building the world ------------------------------------------------- */

/* The world builder adds domains, users, aliases and Sieve scripts here,
 * before mda_start or from a task of the scheduler (never from another
 * thread while the MDA runs in virtual mode).  Each is a thin door onto
 * accounts.h: the statements show as DB_QUERY events without a course
 * step, salts come from the run's seed, `created` from the virtual clock.
 * Errors are ACCOUNTS_ERROR (EXISTS, INVALID, ...). */
gboolean mda_add_domain(Mda *mda, const char *domain, GError **error);
gboolean mda_add_user(Mda *mda, const char *address, const char *password,
                      guint64 quota_bytes, GError **error);
/* One row per destination; source "@domain" is a catch-all. */
gboolean mda_add_alias(Mda *mda, const char *source, const char *destination, GError **error);
/* Install address's Sieve script (see mda_sieve_install). */
gboolean mda_set_sieve(Mda *mda, const char *address, const char *script, GError **error);

/* Where address's Sieve script lives: STATE/sieve/DOMAIN/LOCAL.sieve (the
 * same lowering and checks as maildir_user_root).  A new string, or NULL
 * with G_IO_ERROR_INVALID_FILENAME. */
char    *mda_sieve_path(const char *state_dir, const char *address, GError **error);
/* Parse script (SIEVE_ERROR with line and column if it is not Sieve) and
 * write it durably; script NULL or "" removes it.  The MDA reads the file
 * at every delivery, so a change takes effect with the next message.
 * Used by `mailsim accounts sieve` as well. */
gboolean mda_sieve_install(const char *state_dir, const char *address, const char *script,
                           gboolean sync, GError **error);
