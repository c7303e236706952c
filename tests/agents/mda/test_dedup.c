/* tests/agents/mda/test_dedup.c - the MDA's log of copies filed: keys,
 * verdicts, what a crash at each point leaves and what the next check
 * makes of it (a promise with all, some or none of its files), a torn or
 * damaged log, expiry, compaction and the bound on keys kept. */
#include "tests/ms_test.h"
#include "agents/mda/dedup.h"
#include "agents/mda/maildir.h"

#define T0 (G_GINT64_CONSTANT(1767225600) * G_USEC_PER_SEC)   /* 2026-01-01 */

typedef struct {
	char *dir;    /* the state directory */
	char *path;   /* its delivered.log */
} Fixture;

static void fixture_init(Fixture *f)
{
	f->dir = ms_test_tmpdir();
	f->path = g_build_filename(f->dir, DEDUP_FILE_NAME, NULL);
}

static void fixture_clear(Fixture *f)
{
	ms_test_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

static Dedup *open_at(Fixture *f, gint64 now)
{
	GError *err = NULL;
	Dedup *d = dedup_open(f->path, f->dir, FALSE, now, &err);
	ck_assert_msg(d != NULL, "%s", err ? err->message : "");
	return d;
}

/* A key of our own making: 64 hex digits from n. */
static char *key_n(guint n)
{
	g_autofree char *text = g_strdup_printf("key %u", n);
	return dedup_digest(text, strlen(text));
}

static char *read_log(Fixture *f)
{
	char *text = NULL;
	ck_assert(g_file_get_contents(f->path, &text, NULL, NULL));
	return text;
}

static guint count_lines(const char *text, char kind)
{
	guint n = 0;
	for (const char *p = text; *p;) {
		n += p[0] == kind && p[1] == ' ';
		const char *nl = strchr(p, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

/* A Maildir folder directory under the state dir, with new/ and cur/. */
static char *make_folder(Fixture *f, const char *rel)
{
	char *abs = g_build_filename(f->dir, rel, NULL);
	g_autofree char *n = g_build_filename(abs, "new", NULL);
	g_autofree char *c = g_build_filename(abs, "cur", NULL);
	ck_assert_int_eq(g_mkdir_with_parents(n, 0700), 0);
	ck_assert_int_eq(g_mkdir_with_parents(c, 0700), 0);
	return abs;
}

static void put_file(const char *folder, const char *sub, const char *name, const char *data)
{
	g_autofree char *path = g_build_filename(folder, sub, name, NULL);
	ck_assert(g_file_set_contents(path, data, -1, NULL));
}

/* ---- keys --------------------------------------------------------------- */

START_TEST(test_keys)
{
	g_autofree char *abc = dedup_digest("abc", 3);   /* FIPS 180-2, B.1 */
	ck_assert_str_eq(abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	g_autofree char *m1 = dedup_digest("message one", 11);
	g_autofree char *m2 = dedup_digest("message two", 11);
	g_autofree char *k1 = dedup_key(m1, "bob@example.org");
	g_autofree char *k1_again = dedup_key(m1, "bob@example.org");
	g_autofree char *k2 = dedup_key(m2, "bob@example.org");
	g_autofree char *k3 = dedup_key(m1, "carol@example.org");
	ck_assert_uint_eq(strlen(k1), DEDUP_KEY_LEN);
	ck_assert_str_eq(k1, k1_again);   /* the MTA's retry: the same bytes, the same key */
	ck_assert_str_ne(k1, k2);         /* another message */
	ck_assert_str_ne(k1, k3);         /* another recipient */
	ck_assert_str_eq(dedup_verdict_to_string(DEDUP_BUSY), "busy");
	ck_assert_str_eq(dedup_verdict_to_string((DedupVerdict)7), "?");
}
END_TEST

/* ---- verdicts ----------------------------------------------------------- */

START_TEST(test_new_busy_delivered_and_back_from_disk)
{
	Fixture f;
	fixture_init(&f);
	g_autofree char *k = key_n(1), *other = key_n(2);
	Dedup *d = open_at(&f, T0);
	ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_NEW);
	ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_BUSY);   /* another session meanwhile */
	DedupPromise p = { k, NULL, 0 };
	ck_assert(dedup_promise(d, &p, 1, NULL));
	ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_BUSY);
	dedup_finish(d, k, TRUE, T0 + 1);
	ck_assert_int_eq(dedup_check(d, k, T0 + 2), DEDUP_DELIVERED);
	/* refused (no 250): forgotten, the next try is new */
	ck_assert_int_eq(dedup_check(d, other, T0), DEDUP_NEW);
	dedup_finish(d, other, FALSE, T0);
	ck_assert_int_eq(dedup_check(d, other, T0), DEDUP_NEW);
	dedup_finish(d, other, FALSE, T0);
	ck_assert_uint_eq(dedup_size(d), 1);
	dedup_free(d);

	/* a restart reads the same */
	d = open_at(&f, T0 + 3);
	ck_assert_uint_eq(dedup_size(d), 1);
	ck_assert_int_eq(dedup_check(d, k, T0 + 3), DEDUP_DELIVERED);
	ck_assert_int_eq(dedup_check(d, other, T0 + 3), DEDUP_NEW);
	dedup_finish(d, other, FALSE, T0 + 3);
	dedup_free(d);
	g_autofree char *log = read_log(&f);
	ck_assert_uint_eq(count_lines(log, 'P'), 1);
	ck_assert_uint_eq(count_lines(log, 'D'), 1);
	ck_assert_uint_eq(count_lines(log, 'X'), 0);   /* nothing promised for other: nothing to undo */
	fixture_clear(&f);
}
END_TEST

/* A promise that failed afterwards (the files could not be written) is
 * undone with X: the retry is new, also after a restart. */
START_TEST(test_promise_then_failure_is_undone)
{
	Fixture f;
	fixture_init(&f);
	g_autofree char *folder = make_folder(&f, "mail/example.org/bob");
	g_autofree char *k = key_n(3);
	g_autofree char *digest = dedup_digest("the message", 11);
	Dedup *d = open_at(&f, T0);
	ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_NEW);
	DedupFile file = { "mail/example.org/bob", "1767225600.M0P1Q0.", digest };
	DedupPromise p = { k, &file, 1 };
	ck_assert(dedup_promise(d, &p, 1, NULL));
	dedup_finish(d, k, FALSE, T0);
	ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_NEW);
	dedup_finish(d, k, FALSE, T0);
	dedup_free(d);
	d = open_at(&f, T0);
	ck_assert_uint_eq(dedup_size(d), 0);
	ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_NEW);
	dedup_finish(d, k, FALSE, T0);
	dedup_free(d);
	g_autofree char *log = read_log(&f);
	ck_assert_uint_eq(count_lines(log, 'X'), 1);
	fixture_clear(&f);
}
END_TEST

/* ---- a crash between the promise and the outcome ------------------------ */

/* Promise two files for key, then "crash": free without dedup_finish. */
static void promise_and_crash(Fixture *f, const char *key, const char *digest_a, const char *digest_b)
{
	Dedup *d = open_at(f, T0);
	ck_assert_int_eq(dedup_check(d, key, T0), DEDUP_NEW);
	DedupFile files[] = {
		{ "mail/example.org/bob", "1767225600.M5P7Q1.", digest_a },
		{ "mail/example.org/bob/.Junk folder", "1767225600.M5P7Q2.", digest_b },
	};
	DedupPromise p = { key, files, digest_b ? 2 : 1 };
	ck_assert(dedup_promise(d, &p, 1, NULL));
	dedup_free(d);
}

START_TEST(test_crash_before_any_file_is_new)
{
	Fixture f;
	fixture_init(&f);
	g_autofree char *inbox = make_folder(&f, "mail/example.org/bob");
	g_autofree char *k = key_n(4);
	g_autofree char *digest = dedup_digest("copy", 4);
	promise_and_crash(&f, k, digest, NULL);
	Dedup *d = open_at(&f, T0 + 10);
	ck_assert_int_eq(dedup_check(d, k, T0 + 10), DEDUP_NEW);   /* nothing filed: file it now */
	ck_assert_int_eq(dedup_check(d, k, T0 + 10), DEDUP_BUSY);
	dedup_finish(d, k, TRUE, T0 + 11);
	ck_assert_int_eq(dedup_check(d, k, T0 + 12), DEDUP_DELIVERED);
	dedup_free(d);
	fixture_clear(&f);
}
END_TEST

START_TEST(test_crash_after_the_files_is_delivered)
{
	Fixture f;
	fixture_init(&f);
	g_autofree char *inbox = make_folder(&f, "mail/example.org/bob");
	g_autofree char *junk = make_folder(&f, "mail/example.org/bob/.Junk folder");
	g_autofree char *k = key_n(5);
	g_autofree char *da = dedup_digest("copy for the inbox", 18);
	g_autofree char *db = dedup_digest("copy for junk", 13);
	promise_and_crash(&f, k, da, db);
	/* both renamed before the crash; a reader already flagged one */
	put_file(inbox, "new", "1767225600.M5P7Q1.mx,S=18", "copy for the inbox");
	put_file(junk, "cur", "1767225600.M5P7Q2.mx,S=13:2,S", "copy for junk");
	/* a stranger with a name alike, other bytes: not ours, ignored */
	put_file(inbox, "new", "1767225600.M5P7Q10.mx,S=5", "other");
	Dedup *d = open_at(&f, T0 + 10);
	ck_assert_int_eq(dedup_check(d, k, T0 + 10), DEDUP_DELIVERED);
	dedup_free(d);
	/* settled for good: no need of the files any more */
	g_autofree char *gone = g_build_filename(inbox, "new", "1767225600.M5P7Q1.mx,S=18", NULL);
	ck_assert_int_eq(g_unlink(gone), 0);
	d = open_at(&f, T0 + 20);
	ck_assert_int_eq(dedup_check(d, k, T0 + 20), DEDUP_DELIVERED);
	dedup_free(d);
	fixture_clear(&f);
}
END_TEST

START_TEST(test_crash_between_files_or_with_other_bytes_is_new)
{
	Fixture f;
	fixture_init(&f);
	g_autofree char *inbox = make_folder(&f, "mail/example.org/bob");
	g_autofree char *junk = make_folder(&f, "mail/example.org/bob/.Junk folder");
	g_autofree char *k = key_n(6), *k2 = key_n(7);
	g_autofree char *da = dedup_digest("copy for the inbox", 18);
	g_autofree char *db = dedup_digest("copy for junk", 13);
	/* one of two files there: not delivered (the retry files both) */
	promise_and_crash(&f, k, da, db);
	put_file(inbox, "new", "1767225600.M5P7Q1.mx,S=18", "copy for the inbox");
	Dedup *d = open_at(&f, T0 + 10);
	ck_assert_int_eq(dedup_check(d, k, T0 + 10), DEDUP_NEW);
	dedup_finish(d, k, FALSE, T0 + 10);
	dedup_free(d);
	/* the name promised, but other bytes in it: not ours */
	promise_and_crash(&f, k2, db, NULL);
	d = open_at(&f, T0 + 10);
	ck_assert_int_eq(dedup_check(d, k2, T0 + 10), DEDUP_NEW);
	dedup_finish(d, k2, FALSE, T0 + 10);
	dedup_free(d);
	fixture_clear(&f);
}
END_TEST

/* ---- a damaged log ------------------------------------------------------ */

START_TEST(test_torn_and_damaged_lines_are_skipped)
{
	Fixture f;
	fixture_init(&f);
	g_autofree char *good = key_n(8), *torn = key_n(9), *k = key_n(10);
	GString *text = g_string_new("# a comment\n\n");
	g_string_append_printf(text, "D %s 1767225600000000\n", good);
	g_string_append(text, "D nothex 1\n");                                  /* a bad key */
	g_string_append_printf(text, "D %s notanumber\n", k);                   /* a bad time */
	g_string_append_printf(text, "P %s 1767225600000000 1 ../../etc x.Q1. %s\n", k, good);   /* leaves the state dir */
	g_string_append_printf(text, "P %s 1767225600000000 2 mail x.Q1. %s\n", k, good);        /* one file of two */
	g_string_append_printf(text, "P %s 1767225600000000 1 mail/a%%00b x.Q1. %s\n", k, good); /* a NUL inside */
	g_string_append_printf(text, "Z %s 1767225600000000\n", k);             /* an unknown record */
	g_string_append_printf(text, "D %s 1767225600000000 extra\n", k);
	g_string_append_len(text, "D \0\0\0 1\n", 9);                           /* zeros from a crash */
	g_string_append_printf(text, "D %s 17672256", torn);                    /* torn: no newline */
	ck_assert(g_file_set_contents(f.path, text->str, (gssize)text->len, NULL));
	g_string_free(text, TRUE);

	Dedup *d = open_at(&f, T0);
	ck_assert_uint_eq(dedup_size(d), 1);
	ck_assert_int_eq(dedup_check(d, good, T0), DEDUP_DELIVERED);
	ck_assert_int_eq(dedup_check(d, torn, T0), DEDUP_NEW);
	dedup_finish(d, torn, TRUE, T0);   /* appended on a line of its own */
	ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_NEW);
	dedup_finish(d, k, FALSE, T0);
	dedup_free(d);
	d = open_at(&f, T0);
	ck_assert_uint_eq(dedup_size(d), 2);
	ck_assert_int_eq(dedup_check(d, torn, T0), DEDUP_DELIVERED);
	dedup_free(d);

	/* a log that cannot be read is an error, not a crash */
	ck_assert_int_eq(g_unlink(f.path), 0);
	ck_assert_int_eq(g_mkdir(f.path, 0700), 0);
	GError *err = NULL;
	ck_assert_ptr_null(dedup_open(f.path, f.dir, FALSE, T0, &err));
	ck_assert_ptr_nonnull(err);
	g_error_free(err);
	fixture_clear(&f);
}
END_TEST

/* ---- limits ------------------------------------------------------------- */

START_TEST(test_keys_expire)
{
	Fixture f;
	fixture_init(&f);
	g_autofree char *k = key_n(11), *k2 = key_n(12);
	Dedup *d = open_at(&f, T0);
	ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_NEW);
	dedup_finish(d, k, TRUE, T0);
	ck_assert_int_eq(dedup_check(d, k, T0 + DEDUP_LIFETIME_US - 1), DEDUP_DELIVERED);
	ck_assert_int_eq(dedup_check(d, k, T0 + DEDUP_LIFETIME_US), DEDUP_NEW);
	dedup_finish(d, k, FALSE, T0 + DEDUP_LIFETIME_US);
	ck_assert_int_eq(dedup_check(d, k2, T0), DEDUP_NEW);
	dedup_finish(d, k2, TRUE, T0);
	dedup_free(d);
	/* a restart past the lifetime forgets it too, and so does a clock set
	 * back by more than the lifetime */
	d = open_at(&f, T0 + DEDUP_LIFETIME_US + 1);
	ck_assert_uint_eq(dedup_size(d), 0);
	dedup_free(d);
	d = open_at(&f, T0 - DEDUP_LIFETIME_US);
	ck_assert_uint_eq(dedup_size(d), 0);
	dedup_free(d);
	fixture_clear(&f);
}
END_TEST

START_TEST(test_log_is_compacted)
{
	Fixture f;
	fixture_init(&f);
	g_autofree char *kept = key_n(13);
	Dedup *d = open_at(&f, T0);
	ck_assert_int_eq(dedup_check(d, kept, T0), DEDUP_NEW);
	dedup_finish(d, kept, TRUE, T0);
	/* keys promised then undone: two lines each and nothing kept */
	for (guint i = 0; i < 3 * DEDUP_COMPACT_MIN_LINES; i++) {
		g_autofree char *k = key_n(1000 + i);
		ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_NEW);
		DedupPromise p = { k, NULL, 0 };
		ck_assert(dedup_promise(d, &p, 1, NULL));
		dedup_finish(d, k, FALSE, T0);
	}
	dedup_free(d);
	g_autofree char *log = read_log(&f);
	guint lines = count_lines(log, 'P') + count_lines(log, 'D') + count_lines(log, 'X');
	ck_assert_uint_lt(lines, DEDUP_COMPACT_MIN_LINES + 10);   /* not 12,289 */
	d = open_at(&f, T0);
	ck_assert_uint_eq(dedup_size(d), 1);
	ck_assert_int_eq(dedup_check(d, kept, T0), DEDUP_DELIVERED);
	dedup_free(d);
	fixture_clear(&f);
}
END_TEST

START_TEST(test_oldest_go_over_the_bound)
{
	Fixture f;
	fixture_init(&f);
	Dedup *d = open_at(&f, T0);
	guint total = DEDUP_MAX_ENTRIES + 1;
	for (guint i = 0; i < total; i++) {
		g_autofree char *k = key_n(i);
		ck_assert_int_eq(dedup_check(d, k, T0 + i), DEDUP_NEW);
		dedup_finish(d, k, TRUE, T0 + i);
	}
	guint size = dedup_size(d);
	ck_assert_uint_le(size, DEDUP_MAX_ENTRIES);
	ck_assert_uint_ge(size, DEDUP_MAX_ENTRIES - DEDUP_MAX_ENTRIES / 10);
	g_autofree char *oldest = key_n(0), *newest = key_n(total - 1);
	ck_assert_int_eq(dedup_check(d, newest, T0 + total), DEDUP_DELIVERED);
	ck_assert_int_eq(dedup_check(d, oldest, T0 + total), DEDUP_NEW);
	dedup_finish(d, oldest, FALSE, T0 + total);
	dedup_free(d);
	d = open_at(&f, T0 + total);
	ck_assert_uint_le(dedup_size(d), DEDUP_MAX_ENTRIES);
	dedup_free(d);
	fixture_clear(&f);
}
END_TEST

/* With sync on (mailsim serve), outside a task: the promise is fsync'ed
 * directly.  And the real Maildir names: the prefix a stamp promises is
 * the start of the name maildir_deliver gives. */
START_TEST(test_synced_promise_and_real_maildir_names)
{
	Fixture f;
	fixture_init(&f);
	g_autofree char *root = g_build_filename(f.dir, "mail/example.org/bob", NULL);
	Maildir *md = maildir_new(root, "mx.example.org", TRUE);
	ck_assert(maildir_ensure(md, 1, NULL));
	MaildirStamp stamp = { T0 + 123456, 42, 7 };
	g_autofree char *prefix = maildir_name_prefix(&stamp);
	ck_assert_str_eq(prefix, "1767225600.M123456P42Q7.");
	const char *data = "Subject: hi\r\n\r\nhello\r\n";
	g_autofree char *digest = dedup_digest(data, strlen(data));
	g_autofree char *k = key_n(14);

	GError *err = NULL;
	Dedup *d = dedup_open(f.path, f.dir, TRUE, T0, &err);
	ck_assert_msg(d != NULL, "%s", err ? err->message : "");
	ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_NEW);
	DedupFile file = { "mail/example.org/bob", prefix, digest };
	DedupPromise p = { k, &file, 1 };
	ck_assert_msg(dedup_promise(d, &p, 1, &err), "%s", err ? err->message : "");
	g_autofree char *base = NULL;
	ck_assert(maildir_deliver(md, NULL, data, strlen(data), 0, &stamp, &base, NULL));
	ck_assert(g_str_has_prefix(base, prefix));
	dedup_free(d);   /* the crash: no dedup_finish */
	d = dedup_open(f.path, f.dir, TRUE, T0, &err);
	ck_assert_int_eq(dedup_check(d, k, T0), DEDUP_DELIVERED);
	dedup_free(d);
	maildir_free(md);
	fixture_clear(&f);
}
END_TEST

static Suite *dedup_suite(void)
{
	Suite *s = suite_create("dedup");
	MS_ADD_TEST(s, test_keys, 10);
	MS_ADD_TEST(s, test_new_busy_delivered_and_back_from_disk, 10);
	MS_ADD_TEST(s, test_promise_then_failure_is_undone, 10);
	MS_ADD_TEST(s, test_crash_before_any_file_is_new, 10);
	MS_ADD_TEST(s, test_crash_after_the_files_is_delivered, 10);
	MS_ADD_TEST(s, test_crash_between_files_or_with_other_bytes_is_new, 10);
	MS_ADD_TEST(s, test_torn_and_damaged_lines_are_skipped, 10);
	MS_ADD_TEST(s, test_keys_expire, 10);
	MS_ADD_TEST(s, test_log_is_compacted, 60);
	MS_ADD_TEST(s, test_oldest_go_over_the_bound, 120);
	MS_ADD_TEST(s, test_synced_promise_and_real_maildir_names, 10);
	return s;
}

MS_TEST_MAIN(dedup_suite)
