/* agents/mda/accounts.h - the account database: domains, users, aliases.
 *
 * The SQLite file STATE_DIR/accounts.sqlite, shaped like the ISP
 * walkthrough's MySQL one (virtual domains, users with a password hash,
 * aliases with "@domain" catch-alls).  Every statement is shown to an
 * observer as a line a student reads, so "the MDA asks the database"
 * (steps out.3, in.5) is visible.  Passwords: SHA-512 crypt ("$6$").
 */
#pragma once

#include <glib.h>

/* ---- limits ------------------------------------------------------------- */

#define ACCOUNTS_FILE_NAME          "accounts.sqlite"
#define ACCOUNTS_SCHEMA_VERSION     1    /* PRAGMA user_version once migrated */
#define ACCOUNTS_MAX_ADDRESS_LEN    254  /* RFC 5321 4.5.3.1.3: path 256 with <> */
#define ACCOUNTS_MAX_LOCAL_LEN      64   /* RFC 5321 4.5.3.1.1 */
#define ACCOUNTS_MAX_DOMAIN_LEN     253  /* RFC 1035 2.3.4, as written in text */
#define ACCOUNTS_MAX_LABEL_LEN      63   /* RFC 1035 2.3.4 */
#define ACCOUNTS_MAX_PASSWORD_LEN   1024 /* octets; longer is refused, not cut */
#define ACCOUNTS_SALT_LEN           16   /* crypt(5): sha512crypt takes 16 */
#define ACCOUNTS_HASH_ROUNDS_DEFAULT 5000     /* crypt(5): sha512crypt's own default */
#define ACCOUNTS_HASH_ROUNDS_MIN    1000      /* crypt(5): fewer are raised to this */
#define ACCOUNTS_HASH_ROUNDS_MAX    999999999 /* crypt(5) */
#define ACCOUNTS_AUTH_CACHE_MAX     100000    /* remembered logins; emptied when full */
#define ACCOUNTS_ALIAS_MAX_DEPTH    8    /* alias -> alias -> ... hops */
#define ACCOUNTS_RESOLVE_MAX_LOOKUPS 256 /* addresses looked up per resolve */
#define ACCOUNTS_RESOLVE_MAX_TARGETS 100 /* mailboxes one address expands to */
#define ACCOUNTS_BUSY_TIMEOUT_MS    5000 /* wait for another writer (the CLI) */

/* What the observer is shown instead of a password or a hash. */
#define ACCOUNTS_SECRET_TEXT        "'••••••'"

/* ---- errors ------------------------------------------------------------- */

#define ACCOUNTS_ERROR accounts_error_quark()
GQuark accounts_error_quark(void);

typedef enum {
	ACCOUNTS_ERROR_INVALID,   /* malformed address, domain, password, alias */
	ACCOUNTS_ERROR_EXISTS,    /* the domain, user or alias is already there */
	ACCOUNTS_ERROR_NOT_FOUND, /* no such domain, user or alias */
	ACCOUNTS_ERROR_NOT_EMPTY, /* a domain that still has users or aliases */
	ACCOUNTS_ERROR_LOOP,      /* an alias chain loops or is too deep */
	ACCOUNTS_ERROR_TOO_MANY,  /* an alias expands to too many addresses */
	ACCOUNTS_ERROR_SCHEMA,    /* not our database, or a newer schema */
	ACCOUNTS_ERROR_CRYPT,     /* crypt_r refused to hash */
	ACCOUNTS_ERROR_DB,        /* SQLite failed: I/O, disk full, corrupt, busy */
} AccountsError;

const char *accounts_error_to_string(AccountsError code);

/* ---- the handle --------------------------------------------------------- */

/* One open database.  Use it from one thread at a time; other handles (in
 * other threads or processes, such as `mailsim accounts add`) may have the
 * same file open: SQLite locks it, and a writer waits up to
 * ACCOUNTS_BUSY_TIMEOUT_MS. */
typedef struct AccountsDb AccountsDb;

/* Every statement run, after it ran.  `sql` is what a student reads: the
 * statement on one line with its parameters written in, strings in single
 * quotes (a quote doubled), passwords and hashes as ACCOUNTS_SECRET_TEXT:
 *     SELECT password FROM users WHERE email='bob@example.org'
 * `rows` counts the rows a SELECT returned, or the rows an INSERT, UPDATE or
 * DELETE changed (0 for other statements).  `error` is SQLite's message
 * when the statement failed, else NULL.  All borrowed for the call. */
typedef struct {
	const char *sql;
	gint64      rows;
	const char *error;
} AccountsQuery;

/* Called once per statement.  It must not call back into the same db. */
typedef void (*AccountsObserverFunc)(const AccountsQuery *query, gpointer user_data);

/* Fill buf with len random octets, used for password salts.  Simulations
 * pass one drawn from the run's seeded generator so runs are repeatable. */
typedef void (*AccountsRandomFunc)(guint8 *buf, gsize len, gpointer user_data);

/* An AccountsRandomFunc over g_random_int(): for the command line only,
 * where repeatability does not matter. */
void accounts_random_glib(guint8 *buf, gsize len, gpointer user_data);

/* Open STATE_DIR/accounts.sqlite, creating the directory (0700) and the file
 * (0600) if needed, and migrate the schema up to ACCOUNTS_SCHEMA_VERSION.
 * observer (may be NULL) already sees the statements run while opening.
 * Returns a new handle, or NULL with *error set (ACCOUNTS_ERROR_SCHEMA for
 * a file of a newer mailsim, ACCOUNTS_ERROR_DB otherwise). */
AccountsDb *accounts_open(const char *state_dir, AccountsObserverFunc observer,
                          gpointer observer_data, GError **error);

/* Close and free; NULL is a no-op. */
void accounts_close(AccountsDb *db);

/* Replace the observer (NULL: none). */
void accounts_set_observer(AccountsDb *db, AccountsObserverFunc observer, gpointer user_data);

/* Set the salt source.  Adding a user or setting a password without one is
 * a bug (g_return_val_if_fail). */
void accounts_set_random(AccountsDb *db, AccountsRandomFunc random, gpointer user_data);

/* durable TRUE: each change is on disk when the call returns (PRAGMA
 * synchronous=FULL, SQLite's default too), through a write-ahead log
 * (journal_mode=WAL: a look-up takes no file lock; the mode stays with the
 * file, and accounts.sqlite-wal and -shm sit beside it while it is open).
 * FALSE for simulations (synchronous=OFF, and the rollback journal in
 * memory). */
gboolean accounts_set_durable(AccountsDb *db, gboolean durable, GError **error);

/* SHA-512 crypt rounds for the hashes made from now on (add_user,
 * set_password); clamped to [ACCOUNTS_HASH_ROUNDS_MIN, _MAX].  Existing
 * hashes keep theirs: the count is written in each hash.  A world of ten
 * thousand simulated users starts five times faster at 1000. */
void accounts_set_hash_rounds(AccountsDb *db, guint rounds);

/* This process is the database's only user (a simulated world): its locks
 * are taken once and kept (PRAGMA locking_mode=EXCLUSIVE), which spares
 * each statement its fcntl locks and its look for a hot journal.  Another
 * program opening the file meanwhile gets SQLITE_BUSY. */
gboolean accounts_set_private(AccountsDb *db, GError **error);

/* Remember successful logins (TRUE, the default), as Dovecot's auth_cache
 * does: the next login with the same password is answered without hashing
 * again.  Only an HMAC of the password, under a key drawn at open and never
 * stored, is kept in memory, beside the stored hash it matched; a password
 * changed by anyone changes that hash, so the entry no longer matches.
 * Failures are never remembered: a wrong password and an unknown user keep
 * costing one full hash each. */
void accounts_set_auth_cache(AccountsDb *db, gboolean enabled);

/* ---- addresses ---------------------------------------------------------- */

/* Addresses are "local@domain".  The domain is a host name (LDH labels,
 * RFC 1035 2.3.1) and case-insensitive: it is stored in lower case.  The
 * local part is a dot-atom (RFC 5322 3.2.3, UTF-8 allowed as in RFC 6531)
 * without '/', at most ACCOUNTS_MAX_LOCAL_LEN octets.  RFC 5321 2.4 lets a
 * server treat local parts as case-sensitive; like most servers we do not:
 * "Bob@" and "bob@" are the same user, and the case a user was created with
 * is kept and shown.  (Case is folded for ASCII letters only.)
 * Returns the normalized address (domain lowered), or NULL with *error
 * (ACCOUNTS_ERROR_INVALID). */
char *accounts_address_normalize(const char *address, GError **error);

/* ---- domains ------------------------------------------------------------ */

gboolean accounts_add_domain(AccountsDb *db, const char *domain, GError **error);

/* Refused (ACCOUNTS_ERROR_NOT_EMPTY) while users or aliases use it. */
gboolean accounts_del_domain(AccountsDb *db, const char *domain, GError **error);

/* *is_local_r: whether mail for this domain is ours.  FALSE with *error only
 * when the database fails; a malformed domain is simply not local. */
gboolean accounts_domain_is_local(AccountsDb *db, const char *domain,
                                  gboolean *is_local_r, GError **error);

/* *domains_r: a new array of new strings (free with g_ptr_array_unref),
 * sorted. */
gboolean accounts_list_domains(AccountsDb *db, GPtrArray **domains_r, GError **error);

/* ---- users -------------------------------------------------------------- */

typedef struct {
	char   *email;        /* as created: "Bob@example.org" */
	char   *domain;       /* "example.org" */
	guint64 quota_bytes;  /* 0: no limit */
	gint64  created;      /* seconds since the epoch, as given when added */
} AccountsUser;

void accounts_user_free(AccountsUser *user);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AccountsUser, accounts_user_free)

/* Add a user, and its domain if it is new.  The password is hashed with a
 * fresh salt (never stored in clear).  created: the caller's clock (virtual
 * time in simulations).  ACCOUNTS_ERROR_EXISTS if the address is taken. */
gboolean accounts_add_user(AccountsDb *db, const char *email, const char *password,
                           guint64 quota_bytes, gint64 created, GError **error);

/* ACCOUNTS_ERROR_NOT_FOUND if there is no such user.  Aliases pointing at
 * the user stay (they resolve to nothing until the user is back). */
gboolean accounts_del_user(AccountsDb *db, const char *email, GError **error);
gboolean accounts_set_password(AccountsDb *db, const char *email, const char *password,
                               GError **error);
gboolean accounts_set_quota(AccountsDb *db, const char *email, guint64 quota_bytes,
                            GError **error);

/* *user_r: a new AccountsUser, or NULL if there is no such user. */
gboolean accounts_get_user(AccountsDb *db, const char *email, AccountsUser **user_r,
                           GError **error);

/* *exists_r: whether a user (not an alias) has this address; a malformed
 * address does not exist.  FALSE with *error only if the database fails. */
gboolean accounts_user_exists(AccountsDb *db, const char *email, gboolean *exists_r,
                              GError **error);

/* domain NULL: every user.  *users_r: AccountsUser *, sorted by address. */
gboolean accounts_list_users(AccountsDb *db, const char *domain, GPtrArray **users_r,
                             GError **error);

/* ---- authentication ----------------------------------------------------- */

typedef enum {
	ACCOUNTS_AUTH_FAIL,  /* no such user, or a wrong password: never told apart */
	ACCOUNTS_AUTH_OK,
} AccountsAuthResult;

const char *accounts_auth_result_to_string(AccountsAuthResult result);

/* Check a password.  The same work is done whether or not the user exists
 * (a missing user's password is checked against a dummy hash) and hashes
 * are compared in constant time, so neither the answer nor its timing tells
 * an attacker which addresses exist.  Returns FALSE with *error only when
 * the database fails (the caller answers "try later", not "wrong"). */
gboolean accounts_verify_password(AccountsDb *db, const char *email, const char *password,
                                  AccountsAuthResult *result_r, GError **error);

/* ---- aliases ------------------------------------------------------------ */

typedef struct {
	char *source;       /* "info@example.org", or "@example.org": catch-all */
	char *destination;  /* an address, or "@other.org" after a catch-all */
} AccountsAlias;

void accounts_alias_free(AccountsAlias *alias);

/* One row per destination: add several rows for several destinations.
 * source: "local@domain" or "@domain" (catch-all); its domain is added if
 * new.  destination: an address (any domain: a foreign one is a forward),
 * or "@domain" when source is a catch-all ("@a.org -> @b.org" maps x@a.org
 * to x@b.org).  ACCOUNTS_ERROR_EXISTS if that exact row is there. */
gboolean accounts_add_alias(AccountsDb *db, const char *source, const char *destination,
                            GError **error);

/* destination NULL: every row of source.  ACCOUNTS_ERROR_NOT_FOUND if no row
 * went away. */
gboolean accounts_del_alias(AccountsDb *db, const char *source, const char *destination,
                            GError **error);

/* domain NULL: every alias.  *aliases_r: AccountsAlias *, sorted. */
gboolean accounts_list_aliases(AccountsDb *db, const char *domain, GPtrArray **aliases_r,
                               GError **error);

/* Where mail for address goes.  Each address is looked up in this order:
 * an alias with exactly that source (each destination resolved in turn), a
 * user with that address, the catch-all "@domain" of its domain.  An
 * address in a domain that is not local is kept as it is: a forward the MTA
 * relays (tell them apart with accounts_domain_is_local).  An alias that
 * names itself, or an address further up its own chain, delivers to that
 * user's mailbox (the "keep a copy" idiom); if that address is no user it is
 * a loop.  A destination that resolves to nothing is dropped.
 * *mailboxes_r: a new array of new strings, duplicates removed, in the
 * order found; empty when the address is unknown or not local.
 * FALSE with *error: ACCOUNTS_ERROR_LOOP (a loop, or a chain deeper than
 * ACCOUNTS_ALIAS_MAX_DEPTH), ACCOUNTS_ERROR_TOO_MANY (past
 * ACCOUNTS_RESOLVE_MAX_TARGETS or _MAX_LOOKUPS), ACCOUNTS_ERROR_DB. */
gboolean accounts_resolve(AccountsDb *db, const char *address, GPtrArray **mailboxes_r,
                          GError **error);
