/* agents/mda/accounts.c - the account database over SQLite.
 *
 * The only file that includes <sqlite3.h>.  Every statement goes through
 * db_run(): prepared once, parameters bound (never pasted into SQL), and
 * shown to the observer with its parameters written in.  Addresses follow
 * RFC 5321 4.1.2 and 4.5.3.1; password hashes are crypt(5) SHA-512.
 */
#include "agents/mda/accounts.h"

#include <crypt.h>
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include <glib/gstdio.h>

/* sha512crypt takes its salt from this alphabet (crypt(5)). */
static const char salt_alphabet[] =
	"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* A missing user's password is checked against this hash, so that the
 * answer costs the same time as for a real user.  Nothing hashes to it that
 * anybody knows; it is only ever compared, never accepted. */
static const char dummy_hash[] =
	"$6$mailsimNoSuchUs$mjRch5mVcbvJi/sW1.tB5vfB0b5pzskvZAbv5Y2v7cZrSe3p8PoWd4"
	"AJqKTuiSwiNCnexB0UPBG697kgU.CLt/";

struct AccountsDb {
	sqlite3              *sqlite;
	char                 *path;
	GHashTable           *statements;  /* SQL template -> sqlite3_stmt * */
	AccountsObserverFunc  observer;
	gpointer              observer_data;
	AccountsRandomFunc    random;
	gpointer              random_data;
	struct crypt_data    *crypt;       /* crypt_r's scratch: ~32 KiB */
	guint                 hash_rounds; /* for new hashes */
	GHashTable           *auth_cache;  /* address -> AuthCacheEntry; NULL: off */
	guint8                cache_key[32];  /* HMAC key of auth_cache, never stored */
};

/* A login that succeeded: the stored hash it matched and an HMAC of the
 * password it was made with. */
typedef struct {
	char  *stored;
	guint8 mac[32];
} AuthCacheEntry;

static void auth_cache_entry_free(gpointer p)
{
	AuthCacheEntry *e = p;
	g_free(e->stored);
	explicit_bzero(e->mac, sizeof e->mac);
	g_free(e);
}

G_DEFINE_QUARK(accounts-error-quark, accounts_error)

static const char *const error_names[] = {
	[ACCOUNTS_ERROR_INVALID]   = "INVALID",
	[ACCOUNTS_ERROR_EXISTS]    = "EXISTS",
	[ACCOUNTS_ERROR_NOT_FOUND] = "NOT_FOUND",
	[ACCOUNTS_ERROR_NOT_EMPTY] = "NOT_EMPTY",
	[ACCOUNTS_ERROR_LOOP]      = "LOOP",
	[ACCOUNTS_ERROR_TOO_MANY]  = "TOO_MANY",
	[ACCOUNTS_ERROR_SCHEMA]    = "SCHEMA",
	[ACCOUNTS_ERROR_CRYPT]     = "CRYPT",
	[ACCOUNTS_ERROR_DB]        = "DB",
};

const char *accounts_error_to_string(AccountsError code)
{
	if ((guint)code < G_N_ELEMENTS(error_names) && error_names[code])
		return error_names[code];
	return "UNKNOWN";
}

const char *accounts_auth_result_to_string(AccountsAuthResult result)
{
	switch (result) {
	case ACCOUNTS_AUTH_FAIL: return "FAIL";
	case ACCOUNTS_AUTH_OK:   return "OK";
	}
	return "UNKNOWN";
}

/* ======================================================================== */
/* Schema                                                                   */
/* ======================================================================== */

/* Migration n takes a database from user_version n-1 to n.  Append a new
 * entry for a schema change; never edit a released one. */
static const char *const schema_v1[] = {
	"CREATE TABLE domains (\n"
	"  id      INTEGER PRIMARY KEY,\n"
	"  name    TEXT NOT NULL UNIQUE COLLATE NOCASE\n"
	")",
	"CREATE TABLE users (\n"
	"  id          INTEGER PRIMARY KEY,\n"
	"  domain_id   INTEGER NOT NULL REFERENCES domains(id),\n"
	"  email       TEXT NOT NULL UNIQUE COLLATE NOCASE,\n"
	"  password    TEXT NOT NULL,\n"
	"  quota_bytes INTEGER NOT NULL DEFAULT 0,\n"
	"  created     INTEGER NOT NULL\n"
	")",
	"CREATE TABLE aliases (\n"
	"  id          INTEGER PRIMARY KEY,\n"
	"  domain_id   INTEGER NOT NULL REFERENCES domains(id),\n"
	"  source      TEXT NOT NULL COLLATE NOCASE,\n"
	"  destination TEXT NOT NULL COLLATE NOCASE,\n"
	"  UNIQUE (source, destination)\n"
	")",
	"CREATE INDEX users_domain ON users(domain_id)",
	"CREATE INDEX aliases_domain ON aliases(domain_id)",
	NULL,
};

static const char *const *const migrations[] = {
	schema_v1,   /* 0 -> 1 */
};

G_STATIC_ASSERT(G_N_ELEMENTS(migrations) == ACCOUNTS_SCHEMA_VERSION);

/* ======================================================================== */
/* Running statements                                                       */
/* ======================================================================== */

typedef enum {
	PARAM_TEXT,    /* a string, NULL for SQL NULL */
	PARAM_INT,
	PARAM_SECRET,  /* a password or hash: bound, never shown */
} ParamKind;

typedef struct {
	ParamKind   kind;
	const char *text;
	gint64      num;
} Param;

#define TEXT(s)   ((Param){ PARAM_TEXT, (s), 0 })
#define INT(n)    ((Param){ PARAM_INT, NULL, (gint64)(n) })
#define SECRET(s) ((Param){ PARAM_SECRET, (s), 0 })

/* Called for each row; return FALSE to stop early. */
typedef gboolean (*RowFunc)(sqlite3_stmt *row, gpointer data);

/* Write a string the way SQL spells it: in single quotes, quotes doubled.
 * Control characters would break the one-line text: shown as \xNN. */
static void render_quoted(GString *out, const char *s)
{
	g_string_append_c(out, '\'');
	for (const guchar *p = (const guchar *)s; *p; p++) {
		if (*p == '\'')
			g_string_append(out, "''");
		else if (*p < 0x20 || *p == 0x7f)
			g_string_append_printf(out, "\\x%02X", *p);
		else
			g_string_append_c(out, (char)*p);
	}
	g_string_append_c(out, '\'');
}

/* The statement as a student reads it: one line, each '?' replaced by its
 * parameter.  The templates hold no '?' and no quotes of their own. */
static char *render_sql(const char *sql, const Param *params, guint n_params)
{
	GString *out = g_string_new(NULL);
	guint next = 0;
	gboolean space = FALSE;

	for (const char *p = sql; *p; p++) {
		if (g_ascii_isspace(*p)) {
			space = out->len > 0;
			continue;
		}
		/* "( a" and "a )" read better as "(a" and "a)" */
		if (space && *p != ')' && out->str[out->len - 1] != '(')
			g_string_append_c(out, ' ');
		space = FALSE;
		if (*p != '?') {
			g_string_append_c(out, *p);
			continue;
		}
		g_assert(next < n_params);
		const Param *param = &params[next++];
		switch (param->kind) {
		case PARAM_TEXT:
			if (param->text)
				render_quoted(out, param->text);
			else
				g_string_append(out, "NULL");
			break;
		case PARAM_INT:
			g_string_append_printf(out, "%" G_GINT64_FORMAT, param->num);
			break;
		case PARAM_SECRET:
			g_string_append(out, ACCOUNTS_SECRET_TEXT);
			break;
		}
	}
	g_assert(next == n_params);
	return g_string_free(out, FALSE);
}

static void set_db_error(AccountsDb *db, int rc, const char *what, GError **error)
{
	int ext = sqlite3_extended_errcode(db->sqlite);
	AccountsError code = ACCOUNTS_ERROR_DB;

	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		code = ACCOUNTS_ERROR_EXISTS;
	else if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
		code = ACCOUNTS_ERROR_NOT_EMPTY;
	else if (rc == SQLITE_NOTADB)
		code = ACCOUNTS_ERROR_SCHEMA;
	g_set_error(error, ACCOUNTS_ERROR, code, "%s: %s (%s)", db->path,
	            sqlite3_errmsg(db->sqlite), what);
}

static gboolean is_change(const char *sql)
{
	static const char *const verbs[] = { "INSERT", "UPDATE", "DELETE" };
	for (gsize i = 0; i < G_N_ELEMENTS(verbs); i++)
		if (g_ascii_strncasecmp(sql, verbs[i], strlen(verbs[i])) == 0)
			return TRUE;
	return FALSE;
}

static sqlite3_stmt *statement_get(AccountsDb *db, const char *sql, GError **error)
{
	sqlite3_stmt *stmt = g_hash_table_lookup(db->statements, sql);
	if (stmt)
		return stmt;
	int rc = sqlite3_prepare_v3(db->sqlite, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		set_db_error(db, rc, "prepare", error);
		return NULL;
	}
	g_hash_table_insert(db->statements, g_strdup(sql), stmt);
	return stmt;
}

/* Run one statement with its parameters bound, call on_row for each result
 * row, and report it to the observer.  *rows_r (may be NULL) gets what the
 * observer sees as rows.  The one door to SQLite. */
static gboolean db_run(AccountsDb *db, const char *sql, const Param *params, guint n_params,
                       RowFunc on_row, gpointer data, gint64 *rows_r, GError **error)
{
	GError *local_error = NULL;
	gint64 rows = 0;
	sqlite3_stmt *stmt = statement_get(db, sql, &local_error);
	int rc = SQLITE_OK;

	for (guint i = 0; stmt && i < n_params && rc == SQLITE_OK; i++) {
		const Param *param = &params[i];
		if (param->kind == PARAM_INT)
			rc = sqlite3_bind_int64(stmt, (int)i + 1, param->num);
		else if (param->text)
			rc = sqlite3_bind_text(stmt, (int)i + 1, param->text, -1, SQLITE_TRANSIENT);
		else
			rc = sqlite3_bind_null(stmt, (int)i + 1);
	}
	if (stmt && rc != SQLITE_OK)
		set_db_error(db, rc, "bind", &local_error);

	gboolean wanted = TRUE;
	while (stmt && !local_error && wanted) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			rows++;
			if (on_row)
				wanted = on_row(stmt, data);
		} else if (rc == SQLITE_DONE) {
			break;
		} else {
			set_db_error(db, rc, "step", &local_error);
		}
	}
	/* SQLite's own words for the observer, before reset can clear them */
	g_autofree char *sql_error = local_error ? g_strdup(sqlite3_errmsg(db->sqlite)) : NULL;
	if (stmt) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
	}
	/* for a change, what it changed; sqlite3_changes() is stale after others */
	if (!local_error && is_change(sql))
		rows = sqlite3_changes(db->sqlite);

	if (db->observer) {
		g_autofree char *text = render_sql(sql, params, n_params);
		AccountsQuery query = {
			.sql = text,
			.rows = rows,
			.error = sql_error,
		};
		db->observer(&query, db->observer_data);
	}
	if (rows_r)
		*rows_r = rows;
	if (local_error) {
		g_propagate_error(error, local_error);
		return FALSE;
	}
	return TRUE;
}

/* A statement whose rows, if any, nobody reads. */
static gboolean db_exec(AccountsDb *db, const char *sql, const Param *params, guint n_params,
                        gint64 *changed_r, GError **error)
{
	return db_run(db, sql, params, n_params, NULL, NULL, changed_r, error);
}

static gboolean row_first_text(sqlite3_stmt *row, gpointer data)
{
	char **out = data;
	const unsigned char *text = sqlite3_column_text(row, 0);
	*out = g_strdup(text ? (const char *)text : "");
	return FALSE;
}

static gboolean row_append_text(sqlite3_stmt *row, gpointer data)
{
	GPtrArray *out = data;
	const unsigned char *text = sqlite3_column_text(row, 0);
	g_ptr_array_add(out, g_strdup(text ? (const char *)text : ""));
	return TRUE;
}

static gboolean row_first_int(sqlite3_stmt *row, gpointer data)
{
	*(gint64 *)data = sqlite3_column_int64(row, 0);
	return FALSE;
}

/* A transaction around a group of statements: on error, roll back. */
static gboolean db_begin(AccountsDb *db, GError **error)
{
	return db_exec(db, "BEGIN IMMEDIATE", NULL, 0, NULL, error);
}

static gboolean db_end(AccountsDb *db, gboolean ok, GError **error)
{
	if (ok && db_exec(db, "COMMIT", NULL, 0, NULL, error))
		return TRUE;
	/* a failed COMMIT (busy, disk full) leaves the transaction open */
	if (!sqlite3_get_autocommit(db->sqlite))
		db_exec(db, "ROLLBACK", NULL, 0, NULL, NULL);
	return FALSE;
}

/* ======================================================================== */
/* Opening                                                                  */
/* ======================================================================== */

static gboolean db_migrate(AccountsDb *db, GError **error)
{
	gint64 version = 0;
	if (!db_run(db, "PRAGMA user_version", NULL, 0, row_first_int, &version, NULL, error))
		return FALSE;
	if (version > ACCOUNTS_SCHEMA_VERSION || version < 0) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_SCHEMA,
		            "%s: schema version %" G_GINT64_FORMAT " is newer than this mailsim's (%d)",
		            db->path, version, ACCOUNTS_SCHEMA_VERSION);
		return FALSE;
	}
	for (gint64 v = version; v < ACCOUNTS_SCHEMA_VERSION; v++) {
		if (!db_begin(db, error))
			return FALSE;
		gboolean ok = TRUE;
		for (const char *const *stmt = migrations[v]; ok && *stmt; stmt++)
			ok = db_exec(db, *stmt, NULL, 0, NULL, error);
		/* PRAGMA takes no parameters: the number is ours, not the user's */
		g_autofree char *set = g_strdup_printf("PRAGMA user_version=%" G_GINT64_FORMAT, v + 1);
		ok = ok && db_exec(db, set, NULL, 0, NULL, error);
		if (!db_end(db, ok, error))
			return FALSE;
	}
	/* the schema statements run once: do not keep them prepared */
	g_hash_table_remove_all(db->statements);
	return TRUE;
}

static void statement_finalize(gpointer stmt)
{
	sqlite3_finalize(stmt);
}

AccountsDb *accounts_open(const char *state_dir, AccountsObserverFunc observer,
                          gpointer observer_data, GError **error)
{
	g_return_val_if_fail(state_dir != NULL, NULL);

	if (g_mkdir_with_parents(state_dir, 0700) != 0) {
		int saved = errno;
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_DB, "%s: %s", state_dir,
		            g_strerror(saved));
		return NULL;
	}

	AccountsDb *db = g_new0(AccountsDb, 1);
	db->path = g_build_filename(state_dir, ACCOUNTS_FILE_NAME, NULL);
	db->statements = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, statement_finalize);
	db->observer = observer;
	db->observer_data = observer_data;
	db->crypt = g_new0(struct crypt_data, 1);
	db->hash_rounds = ACCOUNTS_HASH_ROUNDS_DEFAULT;
	accounts_set_auth_cache(db, TRUE);

	int rc = sqlite3_open_v2(db->path, &db->sqlite,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_DB, "%s: %s", db->path,
		            db->sqlite ? sqlite3_errmsg(db->sqlite) : sqlite3_errstr(rc));
		accounts_close(db);
		return NULL;
	}
	sqlite3_extended_result_codes(db->sqlite, 1);
	sqlite3_busy_timeout(db->sqlite, ACCOUNTS_BUSY_TIMEOUT_MS);
	/* the hashes are nobody else's business */
	g_chmod(db->path, 0600);

	if (!db_exec(db, "PRAGMA foreign_keys=ON", NULL, 0, NULL, error) || !db_migrate(db, error)) {
		accounts_close(db);
		return NULL;
	}
	return db;
}

void accounts_close(AccountsDb *db)
{
	if (!db)
		return;
	/* statements first: sqlite3_close refuses while any is unfinalized */
	g_clear_pointer(&db->statements, g_hash_table_destroy);
	if (db->sqlite)
		sqlite3_close(db->sqlite);
	g_free(db->path);
	if (db->crypt)
		explicit_bzero(db->crypt, sizeof *db->crypt);
	g_free(db->crypt);
	g_clear_pointer(&db->auth_cache, g_hash_table_destroy);
	explicit_bzero(db->cache_key, sizeof db->cache_key);
	g_free(db);
}

gboolean accounts_set_private(AccountsDb *db, GError **error)
{
	g_return_val_if_fail(db != NULL, FALSE);
	return db_run(db, "PRAGMA locking_mode=EXCLUSIVE", NULL, 0, NULL, NULL, NULL, error);
}

void accounts_set_hash_rounds(AccountsDb *db, guint rounds)
{
	g_return_if_fail(db != NULL);
	db->hash_rounds = CLAMP(rounds, ACCOUNTS_HASH_ROUNDS_MIN, ACCOUNTS_HASH_ROUNDS_MAX);
}

void accounts_set_auth_cache(AccountsDb *db, gboolean enabled)
{
	g_return_if_fail(db != NULL);
	g_clear_pointer(&db->auth_cache, g_hash_table_destroy);
	if (!enabled)
		return;
	db->auth_cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, auth_cache_entry_free);
	/* the key is only ever in memory: a dump of the cache proves nothing */
	for (gsize i = 0; i < sizeof db->cache_key; i += sizeof(guint32)) {
		guint32 r = g_random_int();
		memcpy(db->cache_key + i, &r, sizeof r);
	}
}

void accounts_set_observer(AccountsDb *db, AccountsObserverFunc observer, gpointer user_data)
{
	g_return_if_fail(db != NULL);
	db->observer = observer;
	db->observer_data = user_data;
}

void accounts_set_random(AccountsDb *db, AccountsRandomFunc random, gpointer user_data)
{
	g_return_if_fail(db != NULL);
	db->random = random;
	db->random_data = user_data;
}

void accounts_random_glib(guint8 *buf, gsize len, gpointer user_data)
{
	for (gsize i = 0; i < len; i++)
		buf[i] = (guint8)g_random_int_range(0, 256);
}

gboolean accounts_set_durable(AccountsDb *db, gboolean durable, GError **error)
{
	g_return_val_if_fail(db != NULL, FALSE);
	/* A simulation's database dies with it: keep even the rollback
	 * journal in memory rather than make and delete a file per change.
	 * A durable one writes ahead (WAL): a statement that only reads (the
	 * MDA's look-ups, several per message) then costs no file lock, no
	 * look for a hot journal and no re-read of the header, only a lock in
	 * shared memory; the `mailsim accounts` command adding users meanwhile
	 * does not stop the readers.  synchronous=FULL keeps each commit on
	 * disk when the call returns.  A file system without shared memory
	 * keeps the mode it had (SQLite answers the old one). */
	return db_exec(db, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF",
	               NULL, 0, NULL, error) &&
	       db_run(db, durable ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=MEMORY",
	              NULL, 0, NULL, NULL, NULL, error);
}

/* ======================================================================== */
/* Addresses                                                                */
/* ======================================================================== */

/* RFC 5322 3.2.3: atext, the characters of an atom besides letters and
 * digits.  '/' is left out: a local part names a Maildir directory. */
static gboolean is_atext(guchar c)
{
	return g_ascii_isalnum(c) || (c != 0 && strchr("!#$%&'*+-=?^_`{|}~", c) != NULL) || c >= 0x80;
}

static gboolean local_part_valid(const char *local, gsize len)
{
	if (len == 0 || len > ACCOUNTS_MAX_LOCAL_LEN)
		return FALSE;
	if (!g_utf8_validate(local, (gssize)len, NULL))
		return FALSE;
	/* RFC 5322 3.2.3: dot-atom-text, dots only between atoms */
	if (local[0] == '.' || local[len - 1] == '.')
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)local[i];
		if (c == '.') {
			if (local[i + 1] == '.')
				return FALSE;
		} else if (!is_atext(c)) {
			return FALSE;
		}
	}
	return TRUE;
}

/* RFC 1035 2.3.1 and RFC 5321 4.1.2 Domain: LDH labels separated by dots.
 * Returns the domain in lower case, or NULL. */
static char *domain_normalize(const char *domain, gsize len)
{
	if (len == 0 || len > ACCOUNTS_MAX_DOMAIN_LEN)
		return NULL;
	gsize label = 0;
	for (gsize i = 0; i < len; i++) {
		char c = domain[i];
		if (c == '.') {
			/* no empty label, no label ending in '-' */
			if (label == 0 || domain[i - 1] == '-')
				return NULL;
			label = 0;
		} else if (g_ascii_isalnum(c) || c == '-') {
			if ((label == 0 && c == '-') || ++label > ACCOUNTS_MAX_LABEL_LEN)
				return NULL;
		} else {
			return NULL;
		}
	}
	if (label == 0 || domain[len - 1] == '-')
		return NULL;
	return g_ascii_strdown(domain, (gssize)len);
}

/* Split and check "local@domain".  allow_empty_local admits "@domain".
 * *normalized_r: domain lowered; *domain_r (may be NULL): the domain. */
static gboolean address_parse(const char *address, gboolean allow_empty_local,
                              char **normalized_r, char **domain_r)
{
	if (!address)
		return FALSE;
	gsize len = strnlen(address, ACCOUNTS_MAX_ADDRESS_LEN + 1);
	if (len > ACCOUNTS_MAX_ADDRESS_LEN)
		return FALSE;
	const char *at = memchr(address, '@', len);
	if (!at)
		return FALSE;
	gsize local_len = (gsize)(at - address);
	if (!(local_len == 0 && allow_empty_local) && !local_part_valid(address, local_len))
		return FALSE;
	char *domain = domain_normalize(at + 1, len - local_len - 1);
	if (!domain)
		return FALSE;
	*normalized_r = g_strdup_printf("%.*s@%s", (int)local_len, address, domain);
	if (domain_r)
		*domain_r = domain;
	else
		g_free(domain);
	return TRUE;
}

char *accounts_address_normalize(const char *address, GError **error)
{
	char *normalized = NULL;
	if (!address_parse(address, FALSE, &normalized, NULL)) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID,
		            "not a valid address: %.80s", address ? address : "(null)");
		return NULL;
	}
	return normalized;
}

static char *domain_check(const char *domain, GError **error)
{
	char *lowered = domain ? domain_normalize(domain, strnlen(domain, ACCOUNTS_MAX_DOMAIN_LEN + 1))
	                       : NULL;
	if (!lowered)
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID, "not a valid domain: %.80s",
		            domain ? domain : "(null)");
	return lowered;
}

static gboolean password_check(const char *password, GError **error)
{
	gsize len = password ? strnlen(password, ACCOUNTS_MAX_PASSWORD_LEN + 1) : 0;
	if (len == 0 || len > ACCOUNTS_MAX_PASSWORD_LEN) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID,
		            "a password must be 1 to %d octets", ACCOUNTS_MAX_PASSWORD_LEN);
		return FALSE;
	}
	return TRUE;
}

/* ======================================================================== */
/* Passwords                                                                */
/* ======================================================================== */

/* "$6$" + 16 salt characters: crypt(5) SHA-512, with "rounds=N$" before
 * the salt when N is not the default 5000.  Returns a new hash, or NULL
 * with *error. */
static char *password_hash(AccountsDb *db, const char *password, GError **error)
{
	guint8 random[ACCOUNTS_SALT_LEN];
	char salt[ACCOUNTS_SALT_LEN + 1];

	db->random(random, sizeof random, db->random_data);
	for (gsize i = 0; i < ACCOUNTS_SALT_LEN; i++)
		salt[i] = salt_alphabet[random[i] % 64];  /* 256 = 4 x 64: no bias */
	salt[ACCOUNTS_SALT_LEN] = '\0';
	g_autofree char *setting = db->hash_rounds == ACCOUNTS_HASH_ROUNDS_DEFAULT
		? g_strconcat("$6$", salt, NULL)
		: g_strdup_printf("$6$rounds=%u$%s", db->hash_rounds, salt);

	const char *hash = crypt_r(password, setting, db->crypt);
	/* crypt_r fails with NULL or with a string starting with '*' */
	char *copy = hash && hash[0] == '$' ? g_strdup(hash) : NULL;
	if (!copy)
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_CRYPT, "crypt_r failed: %s",
		            g_strerror(errno));
	explicit_bzero(db->crypt, sizeof *db->crypt);  /* no key material left behind */
	return copy;
}

/* Compare without stopping at the first difference. */
static gboolean hash_equal(const char *a, const char *b)
{
	gsize la = strlen(a), lb = strlen(b);
	guchar diff = la != lb;
	for (gsize i = 0; i < la && lb > 0; i++)
		diff |= (guchar)(a[i] ^ b[i % lb]);
	return diff == 0;
}

/* Fills mac with the HMAC of password (for auth_cache_remember) and says
 * whether a remembered login of address with this password matched the
 * same stored hash. */
static gboolean auth_cache_hit(AccountsDb *db, const char *address, const char *stored,
                               const char *password, guint8 mac[32])
{
	if (!db->auth_cache)
		return FALSE;
	g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA256, db->cache_key, sizeof db->cache_key);
	g_hmac_update(hmac, (const guchar *)password, -1);
	gsize n = 32;
	g_hmac_get_digest(hmac, mac, &n);

	const AuthCacheEntry *e = g_hash_table_lookup(db->auth_cache, address);
	if (!e || strcmp(e->stored, stored) != 0)
		return FALSE;
	guchar diff = 0;
	for (gsize i = 0; i < sizeof e->mac; i++)
		diff |= e->mac[i] ^ mac[i];
	return diff == 0;
}

static void auth_cache_remember(AccountsDb *db, const char *address, const char *stored,
                                const guint8 mac[32])
{
	if (!db->auth_cache)
		return;
	/* Emptying when full is crude but bounded, and a miss only costs a hash. */
	if (g_hash_table_size(db->auth_cache) >= ACCOUNTS_AUTH_CACHE_MAX)
		g_hash_table_remove_all(db->auth_cache);
	AuthCacheEntry *e = g_new0(AuthCacheEntry, 1);
	e->stored = g_strdup(stored);
	memcpy(e->mac, mac, sizeof e->mac);
	g_hash_table_replace(db->auth_cache, g_strdup(address), e);
}

gboolean accounts_verify_password(AccountsDb *db, const char *email, const char *password,
                                  AccountsAuthResult *result_r, GError **error)
{
	g_return_val_if_fail(db != NULL && result_r != NULL, FALSE);
	*result_r = ACCOUNTS_AUTH_FAIL;

	g_autofree char *stored = NULL;
	g_autofree char *normalized = NULL;
	if (address_parse(email, FALSE, &normalized, NULL)) {
		Param p[] = { TEXT(normalized) };
		if (!db_run(db, "SELECT password FROM users WHERE email=?", p, 1, row_first_text,
		            &stored, NULL, error))
			return FALSE;
	}

	gsize len = password ? strnlen(password, ACCOUNTS_MAX_PASSWORD_LEN + 1) : 0;
	gboolean usable = len > 0 && len <= ACCOUNTS_MAX_PASSWORD_LEN;
	const char *against = stored && stored[0] == '$' ? stored : dummy_hash;

	guint8 mac[32] = { 0 };
	if (usable && against != dummy_hash && auth_cache_hit(db, normalized, stored, password, mac)) {
		*result_r = ACCOUNTS_AUTH_OK;
		return TRUE;
	}

	/* Hash whatever we were given, against the dummy if there is no user,
	 * so a missing user costs as much as a wrong password. */
	const char *computed = crypt_r(usable ? password : "", against, db->crypt);

	gboolean ok = computed && computed[0] == '$' && hash_equal(computed, against);
	if (ok && usable && against != dummy_hash) {
		*result_r = ACCOUNTS_AUTH_OK;
		auth_cache_remember(db, normalized, stored, mac);
	}
	explicit_bzero(db->crypt, sizeof *db->crypt);  /* no key material left behind */
	explicit_bzero(mac, sizeof mac);
	return TRUE;
}

/* ======================================================================== */
/* Domains                                                                  */
/* ======================================================================== */

gboolean accounts_add_domain(AccountsDb *db, const char *domain, GError **error)
{
	g_return_val_if_fail(db != NULL, FALSE);
	g_autofree char *name = domain_check(domain, error);
	if (!name)
		return FALSE;
	Param p[] = { TEXT(name) };
	return db_exec(db, "INSERT INTO domains (name) VALUES (?)", p, 1, NULL, error);
}

gboolean accounts_del_domain(AccountsDb *db, const char *domain, GError **error)
{
	g_return_val_if_fail(db != NULL, FALSE);
	g_autofree char *name = domain_check(domain, error);
	if (!name)
		return FALSE;
	Param p[] = { TEXT(name) };
	gint64 changed = 0;
	if (!db_exec(db, "DELETE FROM domains WHERE name=?", p, 1, &changed, error))
		return FALSE;
	if (changed == 0) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_FOUND, "no domain %s", name);
		return FALSE;
	}
	return TRUE;
}

static gboolean domain_lookup(AccountsDb *db, const char *lowered, gboolean *is_local_r,
                              GError **error)
{
	gint64 rows = 0;
	Param p[] = { TEXT(lowered) };
	if (!db_run(db, "SELECT id FROM domains WHERE name=?", p, 1, NULL, NULL, &rows, error))
		return FALSE;
	*is_local_r = rows > 0;
	return TRUE;
}

gboolean accounts_domain_is_local(AccountsDb *db, const char *domain, gboolean *is_local_r,
                                  GError **error)
{
	g_return_val_if_fail(db != NULL && is_local_r != NULL, FALSE);
	*is_local_r = FALSE;
	g_autofree char *name = domain ? domain_normalize(domain, strnlen(domain, ACCOUNTS_MAX_DOMAIN_LEN + 1))
	                               : NULL;
	if (!name)
		return TRUE;
	return domain_lookup(db, name, is_local_r, error);
}

gboolean accounts_list_domains(AccountsDb *db, GPtrArray **domains_r, GError **error)
{
	g_return_val_if_fail(db != NULL && domains_r != NULL, FALSE);
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	if (!db_run(db, "SELECT name FROM domains ORDER BY name", NULL, 0, row_append_text, out,
	            NULL, error)) {
		g_ptr_array_unref(out);
		*domains_r = NULL;
		return FALSE;
	}
	*domains_r = out;
	return TRUE;
}

/* ======================================================================== */
/* Users                                                                    */
/* ======================================================================== */

void accounts_user_free(AccountsUser *user)
{
	if (!user)
		return;
	g_free(user->email);
	g_free(user->domain);
	g_free(user);
}

static char *address_check(const char *address, char **domain_r, GError **error)
{
	char *normalized = NULL;
	if (!address_parse(address, FALSE, &normalized, domain_r)) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID, "not a valid address: %.80s",
		            address ? address : "(null)");
		return NULL;
	}
	return normalized;
}

gboolean accounts_add_user(AccountsDb *db, const char *email, const char *password,
                           guint64 quota_bytes, gint64 created, GError **error)
{
	g_return_val_if_fail(db != NULL, FALSE);
	g_return_val_if_fail(db->random != NULL, FALSE);

	g_autofree char *domain = NULL;
	g_autofree char *address = address_check(email, &domain, error);
	if (!address || !password_check(password, error))
		return FALSE;
	if (quota_bytes > G_MAXINT64) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID, "quota too large");
		return FALSE;
	}
	g_autofree char *hash = password_hash(db, password, error);
	if (!hash)
		return FALSE;

	if (!db_begin(db, error))
		return FALSE;
	Param pd[] = { TEXT(domain) };
	Param pu[] = { TEXT(domain), TEXT(address), SECRET(hash), INT(quota_bytes), INT(created) };
	gboolean ok =
		db_exec(db, "INSERT OR IGNORE INTO domains (name) VALUES (?)", pd, 1, NULL, error) &&
		db_exec(db, "INSERT INTO users (domain_id, email, password, quota_bytes, created) "
		            "VALUES ((SELECT id FROM domains WHERE name=?), ?, ?, ?, ?)",
		        pu, G_N_ELEMENTS(pu), NULL, error);
	return db_end(db, ok, error);
}

/* Run an UPDATE or DELETE on one user; NOT_FOUND if it touched nothing. */
static gboolean user_change(AccountsDb *db, const char *address, const char *sql,
                            const Param *params, guint n_params, GError **error)
{
	gint64 changed = 0;
	if (!db_exec(db, sql, params, n_params, &changed, error))
		return FALSE;
	if (changed == 0) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_FOUND, "no user %s", address);
		return FALSE;
	}
	return TRUE;
}

gboolean accounts_del_user(AccountsDb *db, const char *email, GError **error)
{
	g_return_val_if_fail(db != NULL, FALSE);
	g_autofree char *address = address_check(email, NULL, error);
	if (!address)
		return FALSE;
	Param p[] = { TEXT(address) };
	return user_change(db, address, "DELETE FROM users WHERE email=?", p, 1, error);
}

gboolean accounts_set_password(AccountsDb *db, const char *email, const char *password,
                               GError **error)
{
	g_return_val_if_fail(db != NULL, FALSE);
	g_return_val_if_fail(db->random != NULL, FALSE);
	g_autofree char *address = address_check(email, NULL, error);
	if (!address || !password_check(password, error))
		return FALSE;
	g_autofree char *hash = password_hash(db, password, error);
	if (!hash)
		return FALSE;
	Param p[] = { SECRET(hash), TEXT(address) };
	return user_change(db, address, "UPDATE users SET password=? WHERE email=?", p, 2, error);
}

gboolean accounts_set_quota(AccountsDb *db, const char *email, guint64 quota_bytes,
                            GError **error)
{
	g_return_val_if_fail(db != NULL, FALSE);
	g_autofree char *address = address_check(email, NULL, error);
	if (!address)
		return FALSE;
	if (quota_bytes > G_MAXINT64) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID, "quota too large");
		return FALSE;
	}
	Param p[] = { INT(quota_bytes), TEXT(address) };
	return user_change(db, address, "UPDATE users SET quota_bytes=? WHERE email=?", p, 2, error);
}

static gboolean row_append_user(sqlite3_stmt *row, gpointer data)
{
	GPtrArray *out = data;
	AccountsUser *user = g_new0(AccountsUser, 1);
	const char *email = (const char *)sqlite3_column_text(row, 0);
	const char *domain = (const char *)sqlite3_column_text(row, 1);
	user->email = g_strdup(email ? email : "");
	user->domain = g_strdup(domain ? domain : "");
	gint64 quota = sqlite3_column_int64(row, 2);
	user->quota_bytes = quota > 0 ? (guint64)quota : 0;
	user->created = sqlite3_column_int64(row, 3);
	g_ptr_array_add(out, user);
	return TRUE;
}

gboolean accounts_get_user(AccountsDb *db, const char *email, AccountsUser **user_r,
                           GError **error)
{
	g_return_val_if_fail(db != NULL && user_r != NULL, FALSE);
	*user_r = NULL;
	g_autofree char *address = NULL;
	if (!address_parse(email, FALSE, &address, NULL))
		return TRUE;
	g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify)accounts_user_free);
	Param p[] = { TEXT(address) };
	if (!db_run(db,
	            "SELECT users.email, domains.name, users.quota_bytes, users.created "
	            "FROM users JOIN domains ON domains.id=users.domain_id WHERE users.email=?",
	            p, 1, row_append_user, found, NULL, error))
		return FALSE;
	if (found->len > 0)
		*user_r = g_ptr_array_steal_index(found, 0);
	return TRUE;
}

/* The lookup behind "does this user exist" and alias resolution: the
 * stored address (with its case), or NULL in *email_r. */
static gboolean user_lookup(AccountsDb *db, const char *address, char **email_r, GError **error)
{
	Param p[] = { TEXT(address) };
	*email_r = NULL;
	return db_run(db, "SELECT email FROM users WHERE email=?", p, 1, row_first_text, email_r,
	              NULL, error);
}

gboolean accounts_user_exists(AccountsDb *db, const char *email, gboolean *exists_r,
                              GError **error)
{
	g_return_val_if_fail(db != NULL && exists_r != NULL, FALSE);
	*exists_r = FALSE;
	g_autofree char *address = NULL;
	if (!address_parse(email, FALSE, &address, NULL))
		return TRUE;
	g_autofree char *stored = NULL;
	if (!user_lookup(db, address, &stored, error))
		return FALSE;
	*exists_r = stored != NULL;
	return TRUE;
}

gboolean accounts_list_users(AccountsDb *db, const char *domain, GPtrArray **users_r,
                             GError **error)
{
	g_return_val_if_fail(db != NULL && users_r != NULL, FALSE);
	*users_r = NULL;
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)accounts_user_free);
	gboolean ok;
	if (domain) {
		g_autofree char *name = domain_check(domain, error);
		if (!name)
			return FALSE;
		Param p[] = { TEXT(name) };
		ok = db_run(db,
		            "SELECT users.email, domains.name, users.quota_bytes, users.created "
		            "FROM users JOIN domains ON domains.id=users.domain_id "
		            "WHERE domains.name=? ORDER BY users.email",
		            p, 1, row_append_user, out, NULL, error);
	} else {
		ok = db_run(db,
		            "SELECT users.email, domains.name, users.quota_bytes, users.created "
		            "FROM users JOIN domains ON domains.id=users.domain_id ORDER BY users.email",
		            NULL, 0, row_append_user, out, NULL, error);
	}
	if (ok)
		*users_r = g_steal_pointer(&out);
	return ok;
}

/* ======================================================================== */
/* Aliases                                                                  */
/* ======================================================================== */

void accounts_alias_free(AccountsAlias *alias)
{
	if (!alias)
		return;
	g_free(alias->source);
	g_free(alias->destination);
	g_free(alias);
}

/* Check a source and destination pair; both normalized on success. */
static gboolean alias_check(const char *source, const char *destination, char **source_r,
                            char **domain_r, char **destination_r, GError **error)
{
	if (!address_parse(source, TRUE, source_r, domain_r)) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID,
		            "an alias source is local@domain or @domain, not %.80s",
		            source ? source : "(null)");
		return FALSE;
	}
	if (!destination)
		return TRUE;
	/* "@b.org" as a destination only makes sense after "@a.org" */
	gboolean catch_all = (*source_r)[0] == '@';
	if (!address_parse(destination, catch_all, destination_r, NULL)) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID,
		            "an alias destination is local@domain%s, not %.80s",
		            catch_all ? " or @domain" : "", destination);
		return FALSE;
	}
	return TRUE;
}

gboolean accounts_add_alias(AccountsDb *db, const char *source, const char *destination,
                            GError **error)
{
	g_return_val_if_fail(db != NULL, FALSE);
	g_autofree char *src = NULL, *domain = NULL, *dst = NULL;
	if (!destination) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID, "an alias needs a destination");
		return FALSE;
	}
	if (!alias_check(source, destination, &src, &domain, &dst, error))
		return FALSE;

	if (!db_begin(db, error))
		return FALSE;
	Param pd[] = { TEXT(domain) };
	Param pa[] = { TEXT(domain), TEXT(src), TEXT(dst) };
	gboolean ok =
		db_exec(db, "INSERT OR IGNORE INTO domains (name) VALUES (?)", pd, 1, NULL, error) &&
		db_exec(db, "INSERT INTO aliases (domain_id, source, destination) "
		            "VALUES ((SELECT id FROM domains WHERE name=?), ?, ?)",
		        pa, G_N_ELEMENTS(pa), NULL, error);
	return db_end(db, ok, error);
}

gboolean accounts_del_alias(AccountsDb *db, const char *source, const char *destination,
                            GError **error)
{
	g_return_val_if_fail(db != NULL, FALSE);
	g_autofree char *src = NULL, *domain = NULL, *dst = NULL;
	if (!alias_check(source, destination, &src, &domain, &dst, error))
		return FALSE;
	gint64 changed = 0;
	gboolean ok;
	if (dst) {
		Param p[] = { TEXT(src), TEXT(dst) };
		ok = db_exec(db, "DELETE FROM aliases WHERE source=? AND destination=?", p, 2, &changed,
		             error);
	} else {
		Param p[] = { TEXT(src) };
		ok = db_exec(db, "DELETE FROM aliases WHERE source=?", p, 1, &changed, error);
	}
	if (ok && changed == 0) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_FOUND, "no alias %s%s%s", src,
		            dst ? " -> " : "", dst ? dst : "");
		return FALSE;
	}
	return ok;
}

static gboolean row_append_alias(sqlite3_stmt *row, gpointer data)
{
	GPtrArray *out = data;
	AccountsAlias *alias = g_new0(AccountsAlias, 1);
	const char *source = (const char *)sqlite3_column_text(row, 0);
	const char *destination = (const char *)sqlite3_column_text(row, 1);
	alias->source = g_strdup(source ? source : "");
	alias->destination = g_strdup(destination ? destination : "");
	g_ptr_array_add(out, alias);
	return TRUE;
}

gboolean accounts_list_aliases(AccountsDb *db, const char *domain, GPtrArray **aliases_r,
                               GError **error)
{
	g_return_val_if_fail(db != NULL && aliases_r != NULL, FALSE);
	*aliases_r = NULL;
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)accounts_alias_free);
	gboolean ok;
	if (domain) {
		g_autofree char *name = domain_check(domain, error);
		if (!name)
			return FALSE;
		Param p[] = { TEXT(name) };
		ok = db_run(db,
		            "SELECT aliases.source, aliases.destination "
		            "FROM aliases JOIN domains ON domains.id=aliases.domain_id "
		            "WHERE domains.name=? ORDER BY aliases.source, aliases.destination",
		            p, 1, row_append_alias, out, NULL, error);
	} else {
		ok = db_run(db,
		            "SELECT source, destination FROM aliases ORDER BY source, destination",
		            NULL, 0, row_append_alias, out, NULL, error);
	}
	if (ok)
		*aliases_r = g_steal_pointer(&out);
	return ok;
}

/* ======================================================================== */
/* Resolving an address                                                     */
/* ======================================================================== */

typedef struct {
	AccountsDb *db;
	GPtrArray  *out;      /* char *: what the address goes to */
	GHashTable *seen;     /* lowered targets already in out */
	GHashTable *path;     /* lowered addresses on the current chain */
	guint       lookups;
} Resolver;

static gboolean resolve_add(Resolver *r, const char *target, GError **error)
{
	char *key = g_utf8_strdown(target, -1);
	if (g_hash_table_contains(r->seen, key)) {
		g_free(key);
		return TRUE;
	}
	if (r->out->len >= ACCOUNTS_RESOLVE_MAX_TARGETS) {
		g_free(key);
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_TOO_MANY,
		            "an alias expands to more than %d addresses", ACCOUNTS_RESOLVE_MAX_TARGETS);
		return FALSE;
	}
	g_hash_table_add(r->seen, key);
	g_ptr_array_add(r->out, g_strdup(target));
	return TRUE;
}

static gboolean resolve_one(Resolver *r, const char *address, const char *domain, guint depth,
                            GError **error);

/* Follow each destination of an alias row set.  A catch-all destination
 * "@b.org" keeps the local part of the address being resolved. */
static gboolean resolve_destinations(Resolver *r, const char *address, GPtrArray *destinations,
                                     guint depth, GError **error)
{
	for (guint i = 0; i < destinations->len; i++) {
		const char *dest = destinations->pdata[i];
		g_autofree char *rewritten = NULL;
		if (dest[0] == '@') {
			const char *at = strrchr(address, '@');
			rewritten = g_strdup_printf("%.*s%s", (int)(at - address), address, dest);
			dest = rewritten;
		}
		g_autofree char *normalized = NULL;
		g_autofree char *domain = NULL;
		/* rows are checked when added; a row edited by hand may not be */
		if (!address_parse(dest, FALSE, &normalized, &domain))
			continue;
		if (!resolve_one(r, normalized, domain, depth + 1, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean alias_lookup(Resolver *r, const char *source, GPtrArray *out, GError **error)
{
	Param p[] = { TEXT(source) };
	return db_run(r->db, "SELECT destination FROM aliases WHERE source=? ORDER BY id", p, 1,
	              row_append_text, out, NULL, error);
}

static gboolean resolve_one(Resolver *r, const char *address, const char *domain, guint depth,
                            GError **error)
{
	g_autofree char *key = g_utf8_strdown(address, -1);

	if (depth > ACCOUNTS_ALIAS_MAX_DEPTH) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_LOOP,
		            "alias chain deeper than %d at %s", ACCOUNTS_ALIAS_MAX_DEPTH, address);
		return FALSE;
	}
	if (++r->lookups > ACCOUNTS_RESOLVE_MAX_LOOKUPS) {
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_TOO_MANY,
		            "alias expansion needs more than %d lookups", ACCOUNTS_RESOLVE_MAX_LOOKUPS);
		return FALSE;
	}

	gboolean is_local = FALSE;
	if (!domain_lookup(r->db, domain, &is_local, error))
		return FALSE;
	if (!is_local)  /* a forward: the MTA's business, if anyone's */
		return depth == 0 ? TRUE : resolve_add(r, address, error);

	/* back at an address further up this chain: its own mailbox, or a loop */
	if (g_hash_table_contains(r->path, key)) {
		g_autofree char *user = NULL;
		if (!user_lookup(r->db, address, &user, error))
			return FALSE;
		if (user)
			return resolve_add(r, user, error);
		g_set_error(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_LOOP, "alias loop through %s", address);
		return FALSE;
	}

	g_autoptr(GPtrArray) destinations = g_ptr_array_new_with_free_func(g_free);
	if (!alias_lookup(r, address, destinations, error))
		return FALSE;
	if (destinations->len == 0) {
		g_autofree char *user = NULL;
		if (!user_lookup(r->db, address, &user, error))
			return FALSE;
		if (user)
			return resolve_add(r, user, error);
		/* nobody by that name: the domain's catch-all, if it has one */
		g_autofree char *catch_all = g_strconcat("@", domain, NULL);
		if (!alias_lookup(r, catch_all, destinations, error))
			return FALSE;
	}

	g_hash_table_add(r->path, g_strdup(key));
	gboolean ok = resolve_destinations(r, address, destinations, depth, error);
	g_hash_table_remove(r->path, key);
	return ok;
}

gboolean accounts_resolve(AccountsDb *db, const char *address, GPtrArray **mailboxes_r,
                          GError **error)
{
	g_return_val_if_fail(db != NULL && mailboxes_r != NULL, FALSE);
	*mailboxes_r = NULL;

	Resolver r = {
		.db = db,
		.out = g_ptr_array_new_with_free_func(g_free),
		.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
		.path = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
	};
	g_autofree char *normalized = NULL;
	g_autofree char *domain = NULL;
	gboolean ok = TRUE;
	if (address_parse(address, FALSE, &normalized, &domain))
		ok = resolve_one(&r, normalized, domain, 0, error);

	g_hash_table_destroy(r.seen);
	g_hash_table_destroy(r.path);
	if (!ok) {
		g_ptr_array_unref(r.out);
		return FALSE;
	}
	*mailboxes_r = r.out;
	return TRUE;
}
