/* tests/agents/mda/test_accounts.c - the account database.
 *
 * A fresh SQLite file per test in a temporary directory: users, SHA-512
 * crypt hashes (no clear text on disk), password checks that never tell a
 * missing user from a wrong password, aliases and catch-alls, the text the
 * observer shows, and SQL injection attempts that stay plain strings.
 */
#include "tests/ms_test.h"

#include "agents/mda/accounts.h"

/* ---- fixture ------------------------------------------------------------ */

/* Deterministic salts: 0, 1, 2, ... across calls. */
static void counting_random(guint8 *buf, gsize len, gpointer user_data)
{
	guint *next = user_data;
	for (gsize i = 0; i < len; i++)
		buf[i] = (guint8)(*next)++;
}

static void record_query(const AccountsQuery *query, gpointer user_data)
{
	GPtrArray *log = user_data;
	g_ptr_array_add(log, g_strdup(query->sql));
}

typedef struct {
	char       *dir;
	AccountsDb *db;
	GPtrArray  *log;      /* observer texts */
	guint       random;   /* counting_random's state */
} Fixture;

static Fixture *fixture_new(void)
{
	Fixture *f = g_new0(Fixture, 1);
	f->dir = ms_test_tmpdir();
	f->log = g_ptr_array_new_with_free_func(g_free);
	GError *error = NULL;
	f->db = accounts_open(f->dir, record_query, f->log, &error);
	ck_assert_msg(f->db != NULL, "open: %s", error ? error->message : "?");
	accounts_set_random(f->db, counting_random, &f->random);
	ck_assert(accounts_set_durable(f->db, FALSE, NULL));
	return f;
}

static void fixture_free(Fixture *f)
{
	accounts_close(f->db);
	ms_test_rmtree(f->dir);
	g_free(f->dir);
	g_ptr_array_unref(f->log);
	g_free(f);
}

static void add_user(Fixture *f, const char *email, const char *password)
{
	GError *error = NULL;
	gboolean ok = accounts_add_user(f->db, email, password, 0, 1700000000, &error);
	ck_assert_msg(ok, "add %s: %s", email, error ? error->message : "?");
}

static void add_alias(Fixture *f, const char *source, const char *destination)
{
	GError *error = NULL;
	gboolean ok = accounts_add_alias(f->db, source, destination, &error);
	ck_assert_msg(ok, "alias %s -> %s: %s", source, destination, error ? error->message : "?");
}

static AccountsAuthResult verify(Fixture *f, const char *email, const char *password)
{
	GError *error = NULL;
	AccountsAuthResult result = ACCOUNTS_AUTH_OK;
	ck_assert(accounts_verify_password(f->db, email, password, &result, &error));
	ck_assert_ptr_null(error);
	return result;
}

/* Resolve and join the result with ","; NULL on error (code in *code_r). */
static char *resolve(Fixture *f, const char *address, int *code_r)
{
	GPtrArray *out = NULL;
	GError *error = NULL;
	if (!accounts_resolve(f->db, address, &out, &error)) {
		ck_assert_ptr_nonnull(error);
		ck_assert(error->domain == ACCOUNTS_ERROR);
		*code_r = error->code;
		g_error_free(error);
		ck_assert_ptr_null(out);
		return NULL;
	}
	g_ptr_array_add(out, NULL);
	char *joined = g_strjoinv(",", (char **)out->pdata);
	g_ptr_array_unref(out);
	return joined;
}

static gboolean log_contains(GPtrArray *log, const char *needle)
{
	for (guint i = 0; i < log->len; i++)
		if (strstr(log->pdata[i], needle))
			return TRUE;
	return FALSE;
}

static char *db_file(Fixture *f)
{
	return g_build_filename(f->dir, ACCOUNTS_FILE_NAME, NULL);
}

/* The database closed, then its file's bytes (new), *len_r of them. */
static char *closed_db_bytes(Fixture *f, gsize *len_r)
{
	accounts_close(f->db);
	f->db = NULL;
	g_autofree char *path = db_file(f);
	char *bytes = NULL;
	ck_assert(g_file_get_contents(path, &bytes, len_r, NULL));
	return bytes;
}

/* ---- addresses ---------------------------------------------------------- */

static const struct {
	const char *in;
	const char *out;
} valid_addresses[] = {
	{ "bob@example.org", "bob@example.org" },
	{ "Bob@Example.ORG", "Bob@example.org" },
	{ "first.last@sub.example.org", "first.last@sub.example.org" },
	{ "o'brien@example.org", "o'brien@example.org" },
	{ "a+tag@x-y.example", "a+tag@x-y.example" },
	{ "j\xc3\xbcrgen@example.de", "j\xc3\xbcrgen@example.de" },  /* RFC 6531 */
	{ "x@localhost", "x@localhost" },
};

static const char *const invalid_addresses[] = {
	"",
	"bob",
	"@example.org",           /* only an alias source may be a catch-all */
	"bob@",
	"bob@@example.org",
	"bob@example..org",
	"bob@.example.org",
	"bob@example.org.",
	"bob@-example.org",
	"bob@example-.org",
	"bob@exa_mple.org",
	"bob@[192.0.2.1]",
	".bob@example.org",
	"bob.@example.org",
	"b..ob@example.org",
	"b ob@example.org",
	"b\tob@example.org",
	"b/ob@example.org",
	"../x@example.org",
	"\"bob\"@example.org",
	"b\xff@example.org",      /* not UTF-8 */
	"' OR 1=1 --",
	"' OR 1=1 --@example.org",
};

START_TEST(test_address_valid)
{
	const char *in = valid_addresses[_i].in;
	GError *error = NULL;
	g_autofree char *out = accounts_address_normalize(in, &error);
	ck_assert_msg(out != NULL, "%s: %s", in, error ? error->message : "?");
	ck_assert_str_eq(out, valid_addresses[_i].out);
}
END_TEST

START_TEST(test_address_invalid)
{
	GError *error = NULL;
	char *out = accounts_address_normalize(invalid_addresses[_i], &error);
	ck_assert_msg(out == NULL, "accepted: %s", invalid_addresses[_i]);
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_error_free(error);
}
END_TEST

START_TEST(test_address_lengths)
{
	GError *error = NULL;
	g_autofree char *local64 = g_strnfill(ACCOUNTS_MAX_LOCAL_LEN, 'a');
	g_autofree char *local65 = g_strnfill(ACCOUNTS_MAX_LOCAL_LEN + 1, 'a');
	g_autofree char *label63 = g_strnfill(ACCOUNTS_MAX_LABEL_LEN, 'b');
	g_autofree char *label64 = g_strnfill(ACCOUNTS_MAX_LABEL_LEN + 1, 'b');
	g_autofree char *ok1 = g_strconcat(local64, "@example.org", NULL);
	g_autofree char *bad1 = g_strconcat(local65, "@example.org", NULL);
	g_autofree char *ok2 = g_strconcat("x@", label63, ".org", NULL);
	g_autofree char *bad2 = g_strconcat("x@", label64, ".org", NULL);
	g_autofree char *bad3 = g_strconcat(local64, "@", label63, ".", label63, ".", label63,
	                                    ".", label63, NULL);  /* over 254 */

	g_autofree char *n1 = accounts_address_normalize(ok1, NULL);
	g_autofree char *n2 = accounts_address_normalize(ok2, NULL);
	ck_assert_ptr_nonnull(n1);
	ck_assert_ptr_nonnull(n2);
	ck_assert_ptr_null(accounts_address_normalize(bad1, NULL));
	ck_assert_ptr_null(accounts_address_normalize(bad2, NULL));
	ck_assert_ptr_null(accounts_address_normalize(bad3, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_error_free(error);
	ck_assert_ptr_null(accounts_address_normalize(NULL, NULL));
}
END_TEST

/* ---- opening ------------------------------------------------------------ */

START_TEST(test_open_creates_private_file)
{
	Fixture *f = fixture_new();
	g_autofree char *path = db_file(f);
	GStatBuf st;
	ck_assert_int_eq(g_stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* the schema statements were shown too */
	ck_assert(log_contains(f->log, "CREATE TABLE users (id INTEGER PRIMARY KEY,"));
	ck_assert(log_contains(f->log, "PRAGMA user_version=1"));
	fixture_free(f);
}
END_TEST

START_TEST(test_open_reopen_keeps_data)
{
	Fixture *f = fixture_new();
	add_user(f, "bob@example.org", "hunter2");
	add_alias(f, "info@example.org", "bob@example.org");
	accounts_close(f->db);

	g_ptr_array_set_size(f->log, 0);
	f->db = accounts_open(f->dir, record_query, f->log, NULL);
	ck_assert_ptr_nonnull(f->db);
	/* already migrated: no schema statement this time */
	ck_assert(!log_contains(f->log, "CREATE TABLE"));
	ck_assert_int_eq(verify(f, "bob@example.org", "hunter2"), ACCOUNTS_AUTH_OK);
	int code = -1;
	g_autofree char *r = resolve(f, "info@example.org", &code);
	ck_assert_str_eq(r, "bob@example.org");
	fixture_free(f);
}
END_TEST

START_TEST(test_open_newer_schema_refused)
{
	Fixture *f = fixture_new();
	accounts_close(f->db);
	f->db = NULL;

	/* the SQLite header keeps user_version at offset 60, big-endian */
	g_autofree char *path = db_file(f);
	g_autofree char *bytes = NULL;
	gsize len = 0;
	ck_assert(g_file_get_contents(path, &bytes, &len, NULL));
	ck_assert_uint_ge(len, 64);
	bytes[60] = 0, bytes[61] = 0, bytes[62] = 0, bytes[63] = 99;
	ck_assert(g_file_set_contents(path, bytes, (gssize)len, NULL));

	GError *error = NULL;
	ck_assert_ptr_null(accounts_open(f->dir, NULL, NULL, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_SCHEMA));
	g_error_free(error);
	fixture_free(f);
}
END_TEST

START_TEST(test_open_not_a_database)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = g_build_filename(dir, ACCOUNTS_FILE_NAME, NULL);
	g_autofree char *junk = g_strnfill(4096, 'x');
	ck_assert(g_file_set_contents(path, junk, -1, NULL));
	GError *error = NULL;
	ck_assert_ptr_null(accounts_open(dir, NULL, NULL, &error));
	ck_assert_ptr_nonnull(error);
	ck_assert(error->domain == ACCOUNTS_ERROR);
	g_clear_error(&error);

	/* a state directory that cannot be made */
	g_autofree char *under_file = g_build_filename(path, "sub", NULL);
	ck_assert_ptr_null(accounts_open(under_file, NULL, NULL, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_DB));
	g_error_free(error);
	ms_test_rmtree(dir);
}
END_TEST

/* ---- domains and users -------------------------------------------------- */

START_TEST(test_domains)
{
	Fixture *f = fixture_new();
	GError *error = NULL;
	ck_assert(accounts_add_domain(f->db, "Example.ORG", NULL));
	ck_assert(accounts_add_domain(f->db, "alpha.test", NULL));
	ck_assert(!accounts_add_domain(f->db, "example.org", &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_EXISTS));
	g_clear_error(&error);
	ck_assert(!accounts_add_domain(f->db, "bad domain", &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_clear_error(&error);

	gboolean local = FALSE;
	ck_assert(accounts_domain_is_local(f->db, "EXAMPLE.org", &local, NULL));
	ck_assert(local);
	ck_assert(accounts_domain_is_local(f->db, "example.net", &local, NULL));
	ck_assert(!local);
	ck_assert(accounts_domain_is_local(f->db, "not a domain", &local, NULL));
	ck_assert(!local);

	GPtrArray *list = NULL;
	ck_assert(accounts_list_domains(f->db, &list, NULL));
	ck_assert_uint_eq(list->len, 2);
	ck_assert_str_eq(list->pdata[0], "alpha.test");
	ck_assert_str_eq(list->pdata[1], "example.org");
	g_ptr_array_unref(list);

	/* a domain in use stays; an empty one goes */
	add_user(f, "bob@example.org", "pw");
	ck_assert(!accounts_del_domain(f->db, "example.org", &error));
	ck_assert_msg(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_EMPTY), "%s", error->message);
	g_clear_error(&error);
	ck_assert(accounts_del_domain(f->db, "ALPHA.test", NULL));
	ck_assert(!accounts_del_domain(f->db, "alpha.test", &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_FOUND));
	g_clear_error(&error);
	fixture_free(f);
}
END_TEST

START_TEST(test_users)
{
	Fixture *f = fixture_new();
	GError *error = NULL;
	add_user(f, "Bob@Example.org", "pw1");
	add_user(f, "carol@example.org", "pw2");
	add_user(f, "dave@other.test", "pw3");

	/* the domain came with the user */
	gboolean local = FALSE;
	ck_assert(accounts_domain_is_local(f->db, "other.test", &local, NULL) && local);

	/* case-insensitive: the same user */
	ck_assert(!accounts_add_user(f->db, "BOB@example.org", "x", 0, 0, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_EXISTS));
	g_clear_error(&error);
	gboolean exists = FALSE;
	ck_assert(accounts_user_exists(f->db, "bob@EXAMPLE.ORG", &exists, NULL) && exists);
	ck_assert(accounts_user_exists(f->db, "nobody@example.org", &exists, NULL) && !exists);
	ck_assert(accounts_user_exists(f->db, "garbage", &exists, NULL) && !exists);

	/* case preserved */
	g_autoptr(AccountsUser) user = NULL;
	ck_assert(accounts_get_user(f->db, "bob@example.org", &user, NULL));
	ck_assert_ptr_nonnull(user);
	ck_assert_str_eq(user->email, "Bob@example.org");
	ck_assert_str_eq(user->domain, "example.org");
	ck_assert_uint_eq(user->quota_bytes, 0);
	ck_assert_int_eq(user->created, 1700000000);

	ck_assert(accounts_set_quota(f->db, "bob@example.org", 1048576, NULL));
	g_clear_pointer(&user, accounts_user_free);
	ck_assert(accounts_get_user(f->db, "bob@example.org", &user, NULL));
	ck_assert_uint_eq(user->quota_bytes, 1048576);

	GPtrArray *list = NULL;
	ck_assert(accounts_list_users(f->db, NULL, &list, NULL));
	ck_assert_uint_eq(list->len, 3);
	ck_assert_str_eq(((AccountsUser *)list->pdata[0])->email, "Bob@example.org");
	ck_assert_str_eq(((AccountsUser *)list->pdata[2])->email, "dave@other.test");
	g_ptr_array_unref(list);
	ck_assert(accounts_list_users(f->db, "example.org", &list, NULL));
	ck_assert_uint_eq(list->len, 2);
	g_ptr_array_unref(list);

	ck_assert(accounts_del_user(f->db, "CAROL@example.org", NULL));
	ck_assert(!accounts_del_user(f->db, "carol@example.org", &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_FOUND));
	g_clear_error(&error);
	ck_assert(!accounts_set_quota(f->db, "carol@example.org", 1, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_FOUND));
	g_clear_error(&error);
	g_clear_pointer(&user, accounts_user_free);
	ck_assert(accounts_get_user(f->db, "carol@example.org", &user, NULL));
	ck_assert_ptr_null(user);

	/* refused input */
	ck_assert(!accounts_add_user(f->db, "bad address", "pw", 0, 0, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_clear_error(&error);
	ck_assert(!accounts_add_user(f->db, "eve@example.org", "", 0, 0, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_clear_error(&error);
	g_autofree char *huge = g_strnfill(ACCOUNTS_MAX_PASSWORD_LEN + 1, 'p');
	ck_assert(!accounts_add_user(f->db, "eve@example.org", huge, 0, 0, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_clear_error(&error);
	ck_assert(!accounts_add_user(f->db, "eve@example.org", "pw", G_MAXUINT64, 0, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_clear_error(&error);
	ck_assert(accounts_user_exists(f->db, "eve@example.org", &exists, NULL) && !exists);
	fixture_free(f);
}
END_TEST

/* ---- passwords ---------------------------------------------------------- */

START_TEST(test_verify_password)
{
	Fixture *f = fixture_new();
	add_user(f, "bob@example.org", "correct horse");

	ck_assert_int_eq(verify(f, "bob@example.org", "correct horse"), ACCOUNTS_AUTH_OK);
	ck_assert_int_eq(verify(f, "BOB@Example.Org", "correct horse"), ACCOUNTS_AUTH_OK);
	ck_assert_int_eq(verify(f, "bob@example.org", "Correct horse"), ACCOUNTS_AUTH_FAIL);
	ck_assert_int_eq(verify(f, "bob@example.org", "correct horse "), ACCOUNTS_AUTH_FAIL);
	ck_assert_int_eq(verify(f, "bob@example.org", ""), ACCOUNTS_AUTH_FAIL);
	ck_assert_int_eq(verify(f, "bob@example.org", NULL), ACCOUNTS_AUTH_FAIL);
	/* a missing user: the same answer, through the same door */
	ck_assert_int_eq(verify(f, "nobody@example.org", "correct horse"), ACCOUNTS_AUTH_FAIL);
	ck_assert_int_eq(verify(f, "not an address", "correct horse"), ACCOUNTS_AUTH_FAIL);
	ck_assert_int_eq(verify(f, NULL, "x"), ACCOUNTS_AUTH_FAIL);
	/* the dummy hash's own password opens nothing */
	ck_assert_int_eq(verify(f, "nobody@example.org", "mailsim: no such user"), ACCOUNTS_AUTH_FAIL);

	ck_assert(accounts_set_password(f->db, "bob@example.org", "battery staple", NULL));
	ck_assert_int_eq(verify(f, "bob@example.org", "correct horse"), ACCOUNTS_AUTH_FAIL);
	ck_assert_int_eq(verify(f, "bob@example.org", "battery staple"), ACCOUNTS_AUTH_OK);
	GError *error = NULL;
	ck_assert(!accounts_set_password(f->db, "nobody@example.org", "x", &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_FOUND));
	g_error_free(error);

	ck_assert_str_eq(accounts_auth_result_to_string(ACCOUNTS_AUTH_OK), "OK");
	ck_assert_str_eq(accounts_auth_result_to_string(ACCOUNTS_AUTH_FAIL), "FAIL");
	fixture_free(f);
}
END_TEST

/* A missing user costs what a wrong password costs: the hash is computed
 * either way.  Without the dummy hash the first would be ~1000x faster.
 * The bound is loose and each side counts its fastest check: a burst of
 * load on a shared machine slows some checks, never all of them. */
START_TEST(test_verify_timing)
{
	Fixture *f = fixture_new();
	add_user(f, "bob@example.org", "right");
	verify(f, "bob@example.org", "warm-up");
	const int rounds = 5;
	gint64 known = G_MAXINT64, unknown = G_MAXINT64;
	for (int i = 0; i < rounds; i++) {
		gint64 t0 = g_get_monotonic_time();
		verify(f, "bob@example.org", "wrong");
		gint64 t1 = g_get_monotonic_time();
		verify(f, "nobody@example.org", "wrong");
		gint64 t2 = g_get_monotonic_time();
		known = MIN(known, MAX(t1 - t0, 1));
		unknown = MIN(unknown, MAX(t2 - t1, 1));
	}
	ck_assert_msg(unknown * 10 > known && known * 10 > unknown, "known %" G_GINT64_FORMAT
	              " us, unknown %" G_GINT64_FORMAT " us", known, unknown);
	fixture_free(f);
}
END_TEST

START_TEST(test_hashes_on_disk)
{
	Fixture *f = fixture_new();
	add_user(f, "bob@example.org", "Tr0ub4dor&3-clear");
	add_user(f, "carol@example.org", "Tr0ub4dor&3-clear");
	gsize len = 0;
	g_autofree char *bytes = closed_db_bytes(f, &len);
	/* no clear text anywhere in the file */
	ck_assert_ptr_null(memmem(bytes, len, "Tr0ub4dor", 9));
	/* salts 0..15 and 16..31 through the alphabet "./0-9A-Za-z" */
	ck_assert_ptr_nonnull(memmem(bytes, len, "$6$./0123456789ABCD$", 20));
	ck_assert_ptr_nonnull(memmem(bytes, len, "$6$EFGHIJKLMNOPQRST$", 20));
	/* the same password, two salts, two different hashes */
	const char *h1 = memmem(bytes, len, "$6$./0123456789ABCD$", 20);
	const char *h2 = memmem(bytes, len, "$6$EFGHIJKLMNOPQRST$", 20);
	ck_assert(memcmp(h1 + 20, h2 + 20, 86) != 0);
	/* sha512crypt: 86 characters of hash after the salt */
	for (int i = 0; i < 86; i++)
		ck_assert(g_ascii_isalnum(h1[20 + i]) || h1[20 + i] == '.' || h1[20 + i] == '/');
	fixture_free(f);
}
END_TEST

/* Fewer rounds are written into the hash, and such a hash still verifies. */
START_TEST(test_hash_rounds)
{
	Fixture *f = fixture_new();
	accounts_set_hash_rounds(f->db, 10);   /* below crypt(5)'s minimum: raised to it */
	add_user(f, "bob@example.org", "quick");
	accounts_set_hash_rounds(f->db, ACCOUNTS_HASH_ROUNDS_DEFAULT);
	add_user(f, "carol@example.org", "slow");
	ck_assert_int_eq(verify(f, "bob@example.org", "quick"), ACCOUNTS_AUTH_OK);
	ck_assert_int_eq(verify(f, "carol@example.org", "slow"), ACCOUNTS_AUTH_OK);
	ck_assert_int_eq(verify(f, "bob@example.org", "slow"), ACCOUNTS_AUTH_FAIL);
	gsize len = 0;
	g_autofree char *bytes = closed_db_bytes(f, &len);
	ck_assert_ptr_nonnull(memmem(bytes, len, "$6$rounds=1000$./0123456789ABCD$", 32));
	/* the default is not written, as crypt(5) and every other tool do */
	ck_assert_ptr_nonnull(memmem(bytes, len, "$6$EFGHIJKLMNOPQRST$", 20));
	fixture_free(f);
}
END_TEST

/* A remembered login skips the hash: many times faster than a failure,
 * which is never remembered.  Turned off, both cost the same again. */
START_TEST(test_auth_cache)
{
	Fixture *f = fixture_new();
	add_user(f, "bob@example.org", "right");
	const int rounds = 20;
	gint64 cached = 0, wrong = 0;
	for (int pass = 0; pass < 2; pass++) {
		ck_assert_int_eq(verify(f, "bob@example.org", "right"), ACCOUNTS_AUTH_OK);
		gint64 t0 = g_get_monotonic_time();
		for (int i = 0; i < rounds; i++)
			ck_assert_int_eq(verify(f, "bob@example.org", "right"), ACCOUNTS_AUTH_OK);
		gint64 t1 = g_get_monotonic_time();
		for (int i = 0; i < rounds; i++)
			ck_assert_int_eq(verify(f, "bob@example.org", "wrong"), ACCOUNTS_AUTH_FAIL);
		gint64 t2 = g_get_monotonic_time();
		if (pass == 0) {
			cached = MAX(t1 - t0, 1), wrong = MAX(t2 - t1, 1);
			ck_assert_msg(cached * 5 < wrong, "cached %" G_GINT64_FORMAT " us, wrong %"
			              G_GINT64_FORMAT " us", cached, wrong);
			accounts_set_auth_cache(f->db, FALSE);
		} else {
			gint64 uncached = MAX(t1 - t0, 1), wrong2 = MAX(t2 - t1, 1);
			ck_assert_msg(uncached * 5 > wrong2, "uncached %" G_GINT64_FORMAT " us, wrong %"
			              G_GINT64_FORMAT " us", uncached, wrong2);
		}
	}
	/* a password changed behind a remembered login: the old one no longer opens */
	accounts_set_auth_cache(f->db, TRUE);
	ck_assert_int_eq(verify(f, "bob@example.org", "right"), ACCOUNTS_AUTH_OK);
	ck_assert(accounts_set_password(f->db, "bob@example.org", "new", NULL));
	ck_assert_int_eq(verify(f, "bob@example.org", "right"), ACCOUNTS_AUTH_FAIL);
	ck_assert_int_eq(verify(f, "bob@example.org", "new"), ACCOUNTS_AUTH_OK);
	ck_assert_int_eq(verify(f, "bob@example.org", "new"), ACCOUNTS_AUTH_OK);
	fixture_free(f);
}
END_TEST

/* A private database keeps its locks: it works as before for its owner,
 * and another handle on the same file is kept out (busy), not let in to
 * see half a change. */
START_TEST(test_private_keeps_locks)
{
	Fixture *f = fixture_new();
	GError *error = NULL;
	ck_assert_msg(accounts_set_private(f->db, &error), "%s", error ? error->message : "");
	add_user(f, "bob@example.org", "right");
	ck_assert_int_eq(verify(f, "bob@example.org", "right"), ACCOUNTS_AUTH_OK);
	AccountsDb *other = accounts_open(f->dir, NULL, NULL, &error);
	if (other) {
		/* opening may succeed; using it must not */
		gboolean exists = FALSE;
		ck_assert(!accounts_user_exists(other, "bob@example.org", &exists, &error));
		ck_assert_ptr_nonnull(error);
		accounts_close(other);
	}
	ck_assert_ptr_nonnull(error);
	g_clear_error(&error);
	/* the owner goes on */
	add_user(f, "carol@example.org", "fine");
	ck_assert_int_eq(verify(f, "carol@example.org", "fine"), ACCOUNTS_AUTH_OK);
	fixture_free(f);
}
END_TEST

/* ---- what the observer shows -------------------------------------------- */

START_TEST(test_observer_texts)
{
	Fixture *f = fixture_new();
	g_ptr_array_set_size(f->log, 0);
	add_user(f, "bob@example.org", "s3cret-pw");
	ck_assert_uint_eq(f->log->len, 4);
	ck_assert_str_eq(f->log->pdata[0], "BEGIN IMMEDIATE");
	ck_assert_str_eq(f->log->pdata[1], "INSERT OR IGNORE INTO domains (name) VALUES ('example.org')");
	ck_assert_str_eq(f->log->pdata[2],
	                 "INSERT INTO users (domain_id, email, password, quota_bytes, created) "
	                 "VALUES ((SELECT id FROM domains WHERE name='example.org'), "
	                 "'bob@example.org', '••••••', 0, 1700000000)");
	ck_assert_str_eq(f->log->pdata[3], "COMMIT");

	g_ptr_array_set_size(f->log, 0);
	verify(f, "Bob@EXAMPLE.org", "s3cret-pw");
	verify(f, "bob@example.org", "wrong");
	ck_assert(accounts_set_password(f->db, "bob@example.org", "n3w-s3cret", NULL));
	gboolean exists;
	ck_assert(accounts_user_exists(f->db, "bob@example.org", &exists, NULL));
	ck_assert_uint_eq(f->log->len, 4);
	ck_assert_str_eq(f->log->pdata[0], "SELECT password FROM users WHERE email='Bob@example.org'");
	ck_assert_str_eq(f->log->pdata[1], "SELECT password FROM users WHERE email='bob@example.org'");
	ck_assert_str_eq(f->log->pdata[2], "UPDATE users SET password='••••••' WHERE email='bob@example.org'");
	ck_assert_str_eq(f->log->pdata[3], "SELECT email FROM users WHERE email='bob@example.org'");

	/* quotes doubled, as SQL writes them */
	g_ptr_array_set_size(f->log, 0);
	ck_assert(accounts_user_exists(f->db, "o'brien@example.org", &exists, NULL));
	ck_assert_str_eq(f->log->pdata[0], "SELECT email FROM users WHERE email='o''brien@example.org'");

	/* no password and no hash, ever */
	g_ptr_array_set_size(f->log, 0);
	add_user(f, "carol@example.org", "s3cret-pw");
	for (guint i = 0; i < f->log->len; i++) {
		ck_assert_ptr_null(strstr(f->log->pdata[i], "s3cret"));
		ck_assert_ptr_null(strstr(f->log->pdata[i], "$6$"));
	}
	fixture_free(f);
}
END_TEST

typedef struct {
	gint64 rows;
	char  *error;
	guint  calls;
} LastQuery;

static void record_rows(const AccountsQuery *query, gpointer user_data)
{
	LastQuery *last = user_data;
	last->rows = query->rows;
	g_free(last->error);
	last->error = g_strdup(query->error);
	last->calls++;
}

START_TEST(test_observer_rows)
{
	Fixture *f = fixture_new();
	add_user(f, "bob@example.org", "pw");
	add_user(f, "carol@example.org", "pw");
	LastQuery last = { 0 };
	accounts_set_observer(f->db, record_rows, &last);

	gboolean exists;
	ck_assert(accounts_user_exists(f->db, "bob@example.org", &exists, NULL));
	ck_assert_int_eq(last.rows, 1);
	ck_assert_ptr_null(last.error);
	ck_assert(accounts_user_exists(f->db, "zed@example.org", &exists, NULL));
	ck_assert_int_eq(last.rows, 0);
	GPtrArray *list = NULL;
	ck_assert(accounts_list_users(f->db, NULL, &list, NULL));
	ck_assert_int_eq(last.rows, 2);
	g_ptr_array_unref(list);
	ck_assert(accounts_set_quota(f->db, "carol@example.org", 5, NULL));
	ck_assert_int_eq(last.rows, 1);

	/* a failing statement is shown with SQLite's message */
	ck_assert(!accounts_add_domain(f->db, "example.org", NULL));
	ck_assert_ptr_nonnull(last.error);
	ck_assert_str_eq(last.error, "UNIQUE constraint failed: domains.name");

	/* no observer: nothing called */
	accounts_set_observer(f->db, NULL, NULL);
	guint calls = last.calls;
	ck_assert(accounts_user_exists(f->db, "bob@example.org", &exists, NULL));
	ck_assert_uint_eq(last.calls, calls);
	g_free(last.error);
	fixture_free(f);
}
END_TEST

/* ---- SQL injection ------------------------------------------------------ */

START_TEST(test_injection_harmless)
{
	Fixture *f = fixture_new();
	add_user(f, "bob@example.org", "pw-bob");
	GError *error = NULL;

	/* the classic, as a password: just a wrong password */
	ck_assert_int_eq(verify(f, "bob@example.org", "' OR 1=1 --"), ACCOUNTS_AUTH_FAIL);
	ck_assert_int_eq(verify(f, "' OR 1=1 --", "' OR 1=1 --"), ACCOUNTS_AUTH_FAIL);

	/* a valid dot-atom that would be "email=''OR'1'='1'--@example.org'"
	 * if it were pasted into the SQL: true for every row */
	const char *evil = "'OR'1'='1'--@example.org";
	ck_assert_int_eq(verify(f, evil, "pw-bob"), ACCOUNTS_AUTH_FAIL);
	gboolean exists = TRUE;
	ck_assert(accounts_user_exists(f->db, evil, &exists, NULL));
	ck_assert(!exists);
	int code = -1;
	g_autofree char *r = resolve(f, evil, &code);
	ck_assert_str_eq(r, "");
	ck_assert(!accounts_del_user(f->db, evil, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_FOUND));
	g_clear_error(&error);

	/* stored and found as the literal string it is */
	add_user(f, evil, "' OR 1=1 --");
	ck_assert_int_eq(verify(f, evil, "' OR 1=1 --"), ACCOUNTS_AUTH_OK);
	ck_assert_int_eq(verify(f, evil, "pw-bob"), ACCOUNTS_AUTH_FAIL);
	ck_assert_int_eq(verify(f, "bob@example.org", "pw-bob"), ACCOUNTS_AUTH_OK);
	GPtrArray *list = NULL;
	ck_assert(accounts_list_users(f->db, NULL, &list, NULL));
	ck_assert_uint_eq(list->len, 2);
	g_ptr_array_unref(list);

	/* a domain that tries to end the statement is no domain */
	ck_assert(!accounts_add_domain(f->db, "x'); DROP TABLE users; --", &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_clear_error(&error);
	ck_assert_int_eq(verify(f, "bob@example.org", "pw-bob"), ACCOUNTS_AUTH_OK);
	fixture_free(f);
}
END_TEST

/* ---- aliases ------------------------------------------------------------ */

static Fixture *alias_world(void)
{
	Fixture *f = fixture_new();
	add_user(f, "Bob@example.org", "pw");
	add_user(f, "carol@example.org", "pw");
	add_user(f, "postmaster@example.org", "pw");
	add_alias(f, "info@example.org", "bob@example.org");
	add_alias(f, "info@example.org", "carol@example.org");
	add_alias(f, "team@example.org", "info@example.org");
	add_alias(f, "team@example.org", "carol@example.org");
	add_alias(f, "@example.org", "postmaster@example.org");
	/* keep a copy and forward one */
	add_alias(f, "carol@example.org", "carol@example.org");
	add_alias(f, "carol@example.org", "carol@elsewhere.net");
	/* a whole domain rewritten onto another */
	add_alias(f, "@old.example", "@example.org");
	add_alias(f, "ping@example.org", "pong@example.org");
	add_alias(f, "pong@example.org", "ping@example.org");
	add_alias(f, "gone@example.org", "deleted@nowhere.example.org");
	return f;
}

static const struct {
	const char *address;
	const char *expect;  /* targets joined with ',' */
} resolve_cases[] = {
	{ "bob@example.org", "Bob@example.org" },
	{ "BOB@EXAMPLE.ORG", "Bob@example.org" },
	{ "info@example.org", "Bob@example.org,carol@example.org,carol@elsewhere.net" },
	/* duplicates through two paths kept once */
	{ "team@example.org", "Bob@example.org,carol@example.org,carol@elsewhere.net" },
	{ "carol@example.org", "carol@example.org,carol@elsewhere.net" },
	/* nobody by that name: the catch-all */
	{ "whoever@example.org", "postmaster@example.org" },
	{ "bob@old.example", "Bob@example.org" },
	{ "stranger@old.example", "postmaster@example.org" },
	/* not ours */
	{ "bob@example.net", "" },
	{ "gone@example.org", "deleted@nowhere.example.org" },
	{ "not an address", "" },
	{ "", "" },
};

START_TEST(test_resolve_table)
{
	Fixture *f = alias_world();
	int code = -1;
	g_autofree char *got = resolve(f, resolve_cases[_i].address, &code);
	ck_assert_msg(got != NULL, "%s: error %d", resolve_cases[_i].address, code);
	ck_assert_str_eq(got, resolve_cases[_i].expect);
	fixture_free(f);
}
END_TEST

START_TEST(test_resolve_loops)
{
	Fixture *f = alias_world();
	int code = -1;
	ck_assert_ptr_null(resolve(f, "ping@example.org", &code));
	ck_assert_int_eq(code, ACCOUNTS_ERROR_LOOP);

	/* a chain one hop too deep */
	for (int i = 0; i <= ACCOUNTS_ALIAS_MAX_DEPTH; i++) {
		g_autofree char *src = g_strdup_printf("hop%d@example.org", i);
		g_autofree char *dst = g_strdup_printf("hop%d@example.org", i + 1);
		add_alias(f, src, dst);
	}
	add_user(f, "hop9@example.org", "pw");
	ck_assert_ptr_null(resolve(f, "hop0@example.org", &code));
	ck_assert_int_eq(code, ACCOUNTS_ERROR_LOOP);
	g_autofree char *ok = resolve(f, "hop1@example.org", &code);
	ck_assert_str_eq(ok, "hop9@example.org");

	/* a catch-all pointing at an address that is no user loops too */
	add_alias(f, "@loop.example", "missing@loop.example");
	ck_assert_ptr_null(resolve(f, "x@loop.example", &code));
	ck_assert_int_eq(code, ACCOUNTS_ERROR_LOOP);
	fixture_free(f);
}
END_TEST

START_TEST(test_resolve_too_many)
{
	Fixture *f = fixture_new();
	for (int i = 0; i <= ACCOUNTS_RESOLVE_MAX_TARGETS; i++) {
		g_autofree char *dst = g_strdup_printf("u%d@remote.example", i);
		add_alias(f, "all@example.org", dst);
	}
	int code = -1;
	ck_assert_ptr_null(resolve(f, "all@example.org", &code));
	ck_assert_int_eq(code, ACCOUNTS_ERROR_TOO_MANY);
	/* one fewer is fine */
	ck_assert(accounts_del_alias(f->db, "all@example.org", "u0@remote.example", NULL));
	g_autofree char *ok = resolve(f, "all@example.org", &code);
	ck_assert_ptr_nonnull(ok);
	fixture_free(f);
}
END_TEST

START_TEST(test_alias_manage)
{
	Fixture *f = alias_world();
	GError *error = NULL;

	ck_assert(!accounts_add_alias(f->db, "info@example.org", "BOB@example.org", &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_EXISTS));
	g_clear_error(&error);
	/* "@domain" as a destination only after a catch-all source */
	ck_assert(!accounts_add_alias(f->db, "x@example.org", "@other.example", &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_clear_error(&error);
	ck_assert(!accounts_add_alias(f->db, "bad source", "bob@example.org", &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_clear_error(&error);
	ck_assert(!accounts_add_alias(f->db, "x@example.org", NULL, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_INVALID));
	g_clear_error(&error);

	GPtrArray *list = NULL;
	ck_assert(accounts_list_aliases(f->db, "old.example", &list, NULL));
	ck_assert_uint_eq(list->len, 1);
	ck_assert_str_eq(((AccountsAlias *)list->pdata[0])->source, "@old.example");
	ck_assert_str_eq(((AccountsAlias *)list->pdata[0])->destination, "@example.org");
	g_ptr_array_unref(list);
	ck_assert(accounts_list_aliases(f->db, NULL, &list, NULL));
	ck_assert_uint_eq(list->len, 11);
	ck_assert_str_eq(((AccountsAlias *)list->pdata[0])->source, "@example.org");
	g_ptr_array_unref(list);

	/* the catch-all goes: unknown names are unknown again */
	ck_assert(accounts_del_alias(f->db, "@example.org", NULL, NULL));
	int code = -1;
	g_autofree char *r = resolve(f, "whoever@example.org", &code);
	ck_assert_str_eq(r, "");
	ck_assert(!accounts_del_alias(f->db, "@example.org", NULL, &error));
	ck_assert(g_error_matches(error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_NOT_FOUND));
	g_clear_error(&error);

	/* one destination of two */
	ck_assert(accounts_del_alias(f->db, "info@example.org", "carol@example.org", NULL));
	g_autofree char *r2 = resolve(f, "info@example.org", &code);
	ck_assert_str_eq(r2, "Bob@example.org");

	/* a deleted user's alias resolves to nothing */
	ck_assert(accounts_del_user(f->db, "bob@example.org", NULL));
	g_autofree char *r3 = resolve(f, "info@example.org", &code);
	ck_assert_str_eq(r3, "");

	ck_assert_str_eq(accounts_error_to_string(ACCOUNTS_ERROR_LOOP), "LOOP");
	ck_assert_str_eq(accounts_error_to_string((AccountsError)999), "UNKNOWN");
	fixture_free(f);
}
END_TEST

/* A durable database writes ahead: the log sits beside the file while it
 * is open, another handle (the `mailsim accounts` command) writes
 * meanwhile and the first sees it, and closing folds the log back in. */
START_TEST(test_durable_writes_ahead)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *wal = g_build_filename(dir, ACCOUNTS_FILE_NAME "-wal", NULL);
	guint salt = 0;
	GError *error = NULL;
	AccountsDb *mda = accounts_open(dir, NULL, NULL, &error);
	ck_assert_ptr_nonnull(mda);
	accounts_set_random(mda, counting_random, &salt);
	accounts_set_hash_rounds(mda, ACCOUNTS_HASH_ROUNDS_MIN);
	ck_assert(accounts_set_durable(mda, TRUE, &error));
	ck_assert(accounts_add_user(mda, "bob@example.org", "secret", 0, 1700000000, &error));
	ck_assert(g_file_test(wal, G_FILE_TEST_EXISTS));

	AccountsDb *cli = accounts_open(dir, NULL, NULL, &error);
	ck_assert_ptr_nonnull(cli);
	accounts_set_random(cli, counting_random, &salt);
	accounts_set_hash_rounds(cli, ACCOUNTS_HASH_ROUNDS_MIN);
	ck_assert(accounts_add_user(cli, "carol@example.org", "secret", 0, 1700000000, &error));
	AccountsUser *user = NULL;
	ck_assert(accounts_get_user(mda, "carol@example.org", &user, &error));
	ck_assert_ptr_nonnull(user);
	accounts_user_free(user);
	accounts_close(cli);
	accounts_close(mda);
	ck_assert(!g_file_test(wal, G_FILE_TEST_EXISTS));

	AccountsDb *again = accounts_open(dir, NULL, NULL, &error);
	ck_assert_ptr_nonnull(again);
	g_autoptr(GPtrArray) users = NULL;
	ck_assert(accounts_list_users(again, "example.org", &users, &error));
	ck_assert_uint_eq(users->len, 2);
	accounts_close(again);
	ck_assert_ptr_null(error);
	ms_test_rmtree(dir);
}
END_TEST

static Suite *accounts_suite(void)
{
	Suite *s = suite_create("accounts");
	TCase *tc = tcase_create("addresses");
	tcase_add_loop_test(tc, test_address_valid, 0, G_N_ELEMENTS(valid_addresses));
	tcase_add_loop_test(tc, test_address_invalid, 0, G_N_ELEMENTS(invalid_addresses));
	tcase_add_test(tc, test_address_lengths);
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_open_creates_private_file, 30);
	MS_ADD_TEST(s, test_open_reopen_keeps_data, 30);
	MS_ADD_TEST(s, test_open_newer_schema_refused, 30);
	MS_ADD_TEST(s, test_open_not_a_database, 30);
	MS_ADD_TEST(s, test_durable_writes_ahead, 30);
	MS_ADD_TEST(s, test_domains, 30);
	MS_ADD_TEST(s, test_users, 30);
	MS_ADD_TEST(s, test_verify_password, 30);
	MS_ADD_TEST(s, test_verify_timing, 60);
	MS_ADD_TEST(s, test_hashes_on_disk, 30);
	MS_ADD_TEST(s, test_hash_rounds, 30);
	MS_ADD_TEST(s, test_auth_cache, 60);
	MS_ADD_TEST(s, test_private_keeps_locks, 60);
	MS_ADD_TEST(s, test_observer_texts, 30);
	MS_ADD_TEST(s, test_observer_rows, 30);
	MS_ADD_TEST(s, test_injection_harmless, 30);
	TCase *tr = tcase_create("resolve");
	tcase_set_timeout(tr, 60);
	tcase_add_loop_test(tr, test_resolve_table, 0, G_N_ELEMENTS(resolve_cases));
	suite_add_tcase(s, tr);
	MS_ADD_TEST(s, test_resolve_loops, 30);
	MS_ADD_TEST(s, test_resolve_too_many, 30);
	MS_ADD_TEST(s, test_alias_manage, 30);
	return s;
}

MS_TEST_MAIN(accounts_suite)
