/* tests/agents/common/test_durable.c - crash-safe file helpers
 * (agents/common/durable.c).
 *
 * Whole-file writes, exclusive creates, bounded reads, renames, removals,
 * mkdir -p, and the group commit; each failure (missing directory, a
 * regular file as parent, a full disk faked with RLIMIT_FSIZE, a rename
 * onto a directory) must come back as a GError and leave nothing behind.
 */
#include "tests/ms_test.h"
#include "agents/common/durable.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* ---- helpers ------------------------------------------------------------- */

/* The names in dir, sorted, joined with " " ("" if empty). */
static char *dir_listing(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	ck_assert_ptr_nonnull(d);
	GList *names = NULL;
	const char *name;
	while ((name = g_dir_read_name(d)))
		names = g_list_insert_sorted(names, g_strdup(name), (GCompareFunc)strcmp);
	g_dir_close(d);
	GString *out = g_string_new(NULL);
	for (GList *l = names; l; l = l->next)
		g_string_append_printf(out, "%s%s", out->len ? " " : "", (char *)l->data);
	g_list_free_full(names, g_free);
	return g_string_free(out, FALSE);
}

static void assert_listing(const char *dir, const char *expected)
{
	g_autofree char *got = dir_listing(dir);
	ck_assert_str_eq(got, expected);
}

static void assert_file(const char *path, const char *expected)
{
	g_autofree char *data = NULL;
	gsize len = 0;
	ck_assert_msg(g_file_get_contents(path, &data, &len, NULL), "%s missing", path);
	ck_assert_uint_eq(len, strlen(expected));
	ck_assert_mem_eq(data, expected, len);
}

static guint file_mode(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* ---- errors and names ------------------------------------------------------ */

START_TEST(test_error_codes)
{
	static const struct { int err; gint code; } cases[] = {
		{ ENOSPC, G_IO_ERROR_NO_SPACE },
		{ EDQUOT, G_IO_ERROR_NO_SPACE },
		{ EFBIG,  G_IO_ERROR_NO_SPACE },
		{ ENOENT, G_IO_ERROR_NOT_FOUND },
		{ EEXIST, G_IO_ERROR_EXISTS },
		{ EACCES, G_IO_ERROR_PERMISSION_DENIED },
		{ ENOTDIR, G_IO_ERROR_NOT_DIRECTORY },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
		ck_assert_int_eq(durable_error_code(cases[i].err), cases[i].code);

	g_autoptr(GError) error = NULL;
	ck_assert(!durable_set_error(&error, ENOSPC, "write", "/q/x"));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE));
	ck_assert_ptr_nonnull(strstr(error->message, "write /q/x"));
}
END_TEST

START_TEST(test_tmp_names)
{
	static const struct { const char *path, *tmp; } cases[] = {
		{ "/q/A1.env",  "/q/.A1.env.tmp" },
		{ "q/x",        "q/.x.tmp" },
		{ "x",          "./.x.tmp" },
		{ "/a/b/c.msg", "/a/b/.c.msg.tmp" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *tmp = durable_tmp_path(cases[i].path);
		ck_assert_str_eq(tmp, cases[i].tmp);
		g_autofree char *base = g_path_get_basename(tmp);
		ck_assert(durable_is_tmp_name(base));
	}
	static const char *const not_tmp[] = { "A1.env", ".tmp", "..tmp", "x.tmp", ".x", "", NULL };
	for (gsize i = 0; not_tmp[i]; i++)
		ck_assert_msg(!durable_is_tmp_name(not_tmp[i]), "%s", not_tmp[i]);
	ck_assert(!durable_is_tmp_name(NULL));
}
END_TEST

/* ---- one file at a time ---------------------------------------------------- */

START_TEST(test_write_file)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = g_build_filename(dir, "f.txt", NULL);
	for (int sync = 0; sync <= 1; sync++) {
		g_autoptr(GError) error = NULL;
		ck_assert(durable_write_file(path, "first\n", 6, sync, &error));
		ck_assert_ptr_null(error);
		assert_file(path, "first\n");
		ck_assert_uint_eq(file_mode(path), DURABLE_FILE_MODE);
		/* replacing: the new content, and no temporary left */
		ck_assert(durable_write_file(path, "second, longer\n", 15, sync, &error));
		assert_file(path, "second, longer\n");
		ck_assert(durable_write_file(path, NULL, 0, sync, &error));
		assert_file(path, "");
		assert_listing(dir, "f.txt");
		g_unlink(path);
	}
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_write_file_errors)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *gone = g_build_filename(dir, "gone", NULL);
	g_autofree char *in_gone = g_build_filename(gone, "f", NULL);
	g_autofree char *regular = g_build_filename(dir, "regular", NULL);
	g_autofree char *under_regular = g_build_filename(regular, "f", NULL);
	ck_assert(g_file_set_contents(regular, "x", 1, NULL));

	/* a directory removed under our feet */
	ck_assert_int_eq(g_mkdir(gone, 0700), 0);
	ck_assert_int_eq(g_rmdir(gone), 0);
	for (int sync = 0; sync <= 1; sync++) {
		g_autoptr(GError) error = NULL;
		ck_assert(!durable_write_file(in_gone, "data", 4, sync, &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
		g_clear_error(&error);
		/* a regular file where a directory should be */
		ck_assert(!durable_write_file(under_regular, "data", 4, sync, &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY));
		ck_assert_ptr_nonnull(strstr(error->message, "regular"));
	}
	assert_listing(dir, "regular");
	assert_file(regular, "x");
	ms_test_rmtree(dir);
}
END_TEST

/* A full disk, faked: RLIMIT_FSIZE makes write(2) fail with EFBIG, which
 * a mail server treats like ENOSPC.  The old file must survive whole. */
START_TEST(test_write_file_no_space)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = g_build_filename(dir, "f", NULL);
	ck_assert(durable_write_file(path, "old", 3, TRUE, NULL));

	struct rlimit saved;
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	struct rlimit small = { .rlim_cur = 100, .rlim_max = saved.rlim_max };
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);

	char big[1000];
	memset(big, 'x', sizeof big);
	g_autoptr(GError) error = NULL;
	gboolean ok = durable_write_file(path, big, sizeof big, TRUE, &error);
	GError *create_error = NULL;
	g_autofree char *other = g_build_filename(dir, "g", NULL);
	gboolean created = durable_create_file(other, big, sizeof big, TRUE, &create_error);
	g_autoptr(DurableBatch) batch = durable_batch_new(TRUE);
	GError *batch_error = NULL;
	gboolean batched = durable_batch_write(batch, other, big, sizeof big, &batch_error);

	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old_handler);

	ck_assert(!ok);
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE));
	ck_assert(!created);
	ck_assert(g_error_matches(create_error, G_IO_ERROR, G_IO_ERROR_NO_SPACE));
	ck_assert(!batched);
	ck_assert(g_error_matches(batch_error, G_IO_ERROR, G_IO_ERROR_NO_SPACE));
	ck_assert_uint_eq(durable_batch_count(batch), 0);
	g_error_free(create_error);
	g_error_free(batch_error);
	assert_file(path, "old");
	assert_listing(dir, "f");
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_create_file)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = g_build_filename(dir, "new", NULL);
	g_autoptr(GError) error = NULL;
	ck_assert(durable_create_file(path, "one", 3, TRUE, &error));
	assert_file(path, "one");
	ck_assert_uint_eq(file_mode(path), DURABLE_FILE_MODE);
	/* never replaces */
	ck_assert(!durable_create_file(path, "two", 3, FALSE, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
	assert_file(path, "one");
	g_clear_error(&error);
	/* a symlink at the final name is replaced, its target untouched */
	g_autofree char *link_path = g_build_filename(dir, "link", NULL);
	ck_assert_int_eq(symlink(path, link_path), 0);
	ck_assert(durable_write_file(link_path, "mine", 4, FALSE, &error));
	ck_assert(!g_file_test(link_path, G_FILE_TEST_IS_SYMLINK));
	assert_file(link_path, "mine");
	assert_file(path, "one");
	/* a symlink or hard link left at the temporary's name is not written
	 * through: the temporary is made afresh */
	g_autofree char *victim = g_build_filename(dir, "victim", NULL);
	g_autofree char *target = g_build_filename(dir, "target", NULL);
	g_autofree char *planted = durable_tmp_path(target);
	ck_assert(g_file_set_contents(victim, "safe", 4, NULL));
	ck_assert_int_eq(symlink(victim, planted), 0);
	ck_assert(durable_write_file(target, "mine", 4, TRUE, &error));
	ck_assert_int_eq(link(victim, planted), 0);
	g_autoptr(DurableBatch) batch = durable_batch_new(FALSE);
	ck_assert(durable_batch_write(batch, target, "again", 5, &error));
	ck_assert(durable_batch_commit(batch, NULL, &error));
	assert_file(victim, "safe");
	assert_file(target, "again");
	assert_listing(dir, "link new target victim");
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_read_file)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = g_build_filename(dir, "r", NULL);
	/* bigger than one read(2) chunk, with a NUL inside */
	gsize n = 40000;
	g_autofree char *data = g_malloc(n);
	for (gsize i = 0; i < n; i++)
		data[i] = (char)(i * 7);
	ck_assert(durable_write_file(path, data, n, FALSE, NULL));

	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GError) error = NULL;
	ck_assert(durable_read_file(path, n, &bytes, &error));
	ck_assert_uint_eq(g_bytes_get_size(bytes), n);
	ck_assert_mem_eq(g_bytes_get_data(bytes, NULL), data, n);

	GBytes *none = NULL;
	ck_assert(!durable_read_file(path, n - 1, &none, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE));
	ck_assert_ptr_null(none);
	g_clear_error(&error);

	g_autofree char *missing = g_build_filename(dir, "missing", NULL);
	ck_assert(!durable_read_file(missing, 10, &none, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);

	g_autofree char *empty = g_build_filename(dir, "empty", NULL);
	ck_assert(durable_write_file(empty, "", 0, FALSE, NULL));
	ck_assert(durable_read_file(empty, 0, &none, &error));
	ck_assert_uint_eq(g_bytes_get_size(none), 0);
	g_bytes_unref(none);
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_rename_remove)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *sub = g_build_filename(dir, "sub", NULL);
	g_autofree char *a = g_build_filename(dir, "a", NULL);
	g_autofree char *b = g_build_filename(dir, "b", NULL);
	g_autofree char *c = g_build_filename(sub, "c", NULL);
	ck_assert(durable_mkdir(sub, TRUE, NULL));
	ck_assert(durable_write_file(a, "A", 1, FALSE, NULL));
	ck_assert(durable_write_file(b, "B", 1, FALSE, NULL));

	g_autoptr(GError) error = NULL;
	/* no-replace keeps both files as they were */
	ck_assert(!durable_rename(a, b, FALSE, TRUE, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
	assert_file(a, "A");
	assert_file(b, "B");
	g_clear_error(&error);
	/* replace does replace */
	ck_assert(durable_rename(a, b, TRUE, TRUE, &error));
	assert_file(b, "A");
	ck_assert(!g_file_test(a, G_FILE_TEST_EXISTS));
	/* into another directory, both synced */
	ck_assert(durable_rename(b, c, FALSE, TRUE, &error));
	assert_file(c, "A");
	assert_listing(dir, "sub");

	ck_assert(durable_remove(c, TRUE, &error));
	assert_listing(sub, "");
	ck_assert(!durable_remove(c, TRUE, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);

	g_autofree char *missing = g_build_filename(dir, "nothing", NULL);
	ck_assert(!durable_sync_dir(missing, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_mkdir)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *deep = g_build_filename(dir, "a", "b", "c", NULL);
	g_autoptr(GError) error = NULL;
	ck_assert(durable_mkdir(deep, TRUE, &error));
	ck_assert(g_file_test(deep, G_FILE_TEST_IS_DIR));
	g_autofree char *a = g_build_filename(dir, "a", NULL);
	g_autofree char *ab = g_build_filename(dir, "a", "b", NULL);
	ck_assert_uint_eq(file_mode(a), DURABLE_DIR_MODE);
	ck_assert_uint_eq(file_mode(ab), DURABLE_DIR_MODE);
	ck_assert_uint_eq(file_mode(deep), DURABLE_DIR_MODE);
	/* again, and spelled with extra slashes: all there already */
	ck_assert(durable_mkdir(deep, FALSE, &error));
	g_autofree char *slashy = g_strconcat(dir, "//a/b//c/", NULL);
	ck_assert(durable_mkdir(slashy, TRUE, &error));
	g_autofree char *relative_dir = g_strconcat(dir, "/a/./b/../x", NULL);
	ck_assert(durable_mkdir(relative_dir, TRUE, &error));
	assert_listing(a, "b x");

	/* a regular file in the way, at the end or in the middle */
	g_autofree char *file = g_build_filename(dir, "file", NULL);
	g_autofree char *under = g_build_filename(dir, "file", "sub", NULL);
	ck_assert(g_file_set_contents(file, "", 0, NULL));
	ck_assert(!durable_mkdir(file, TRUE, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY));
	g_clear_error(&error);
	ck_assert(!durable_mkdir(under, TRUE, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY));
	g_clear_error(&error);
	ck_assert(!durable_mkdir("", TRUE, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME));
	assert_listing(dir, "a file");
	ms_test_rmtree(dir);
}
END_TEST

/* ---- group commit ------------------------------------------------------------ */

START_TEST(test_batch_commit)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *sub = g_build_filename(dir, "sub", NULL);
	ck_assert(durable_mkdir(sub, FALSE, NULL));
	g_autofree char *p1 = g_build_filename(dir, "one", NULL);
	g_autofree char *p2 = g_build_filename(dir, "two", NULL);
	g_autofree char *p3 = g_build_filename(sub, "three", NULL);
	ck_assert(durable_write_file(p2, "old two", 7, FALSE, NULL));

	for (int sync = 0; sync <= 1; sync++) {
		g_autoptr(DurableBatch) batch = durable_batch_new(sync);
		g_autoptr(GError) error = NULL;
		ck_assert(durable_batch_write(batch, p1, "1", 1, &error));
		ck_assert(durable_batch_write(batch, p2, "2", 1, &error));
		ck_assert(durable_batch_write(batch, p3, "3", 1, &error));
		ck_assert(!durable_batch_write(batch, p1, "again", 5, &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
		g_clear_error(&error);
		ck_assert_uint_eq(durable_batch_count(batch), 3);
		/* nothing under a final name before the commit */
		assert_listing(dir, sync ? ".one.tmp .two.tmp one sub two" : ".one.tmp .two.tmp sub two");
		assert_file(p2, sync ? "2" : "old two");

		guint renamed = 99;
		ck_assert(durable_batch_commit(batch, &renamed, &error));
		ck_assert_ptr_null(error);
		ck_assert_uint_eq(renamed, 3);
		ck_assert_uint_eq(durable_batch_count(batch), 0);
		assert_listing(dir, "one sub two");
		assert_listing(sub, "three");
		assert_file(p1, "1");
		assert_file(p2, "2");
		assert_file(p3, "3");
		/* an empty commit is fine; the batch can be used again */
		ck_assert(durable_batch_commit(batch, NULL, &error));
		ck_assert(durable_batch_write(batch, p1, "1b", 2, &error));
		ck_assert(durable_batch_commit(batch, NULL, &error));
		assert_file(p1, "1b");
	}
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_batch_abort)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *p1 = g_build_filename(dir, "one", NULL);
	g_autofree char *p2 = g_build_filename(dir, "two", NULL);
	g_autofree char *p3 = g_build_filename(dir, "three", NULL);

	DurableBatch *batch = durable_batch_new(TRUE);
	ck_assert(durable_batch_write(batch, p1, "1", 1, NULL));
	guint savepoint = durable_batch_count(batch);
	ck_assert(durable_batch_write(batch, p2, "2", 1, NULL));
	ck_assert(durable_batch_write(batch, p3, "3", 1, NULL));
	durable_batch_abort_to(batch, savepoint);
	ck_assert_uint_eq(durable_batch_count(batch), 1);
	assert_listing(dir, ".one.tmp");
	durable_batch_abort_to(batch, 5);  /* past the end: nothing to drop */
	ck_assert_uint_eq(durable_batch_count(batch), 1);
	ck_assert(durable_batch_commit(batch, NULL, NULL));
	assert_listing(dir, "one");

	ck_assert(durable_batch_write(batch, p2, "2", 1, NULL));
	durable_batch_abort(batch);
	assert_listing(dir, "one");
	/* freeing drops what was not committed */
	ck_assert(durable_batch_write(batch, p3, "3", 1, NULL));
	assert_listing(dir, ".three.tmp one");
	durable_batch_free(batch);
	assert_listing(dir, "one");
	durable_batch_free(NULL);
	ms_test_rmtree(dir);
}
END_TEST

/* A rename that fails half-way: the files before it are in place and
 * complete, the rest gone, no temporary left. */
START_TEST(test_batch_rename_fails)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *p1 = g_build_filename(dir, "a", NULL);
	g_autofree char *p2 = g_build_filename(dir, "b", NULL);
	g_autofree char *p3 = g_build_filename(dir, "c", NULL);
	g_autofree char *blocker = g_build_filename(dir, "b", "inside", NULL);
	for (int sync = 0; sync <= 1; sync++) {
		g_autoptr(DurableBatch) batch = durable_batch_new(sync);
		ck_assert(durable_batch_write(batch, p1, "A", 1, NULL));
		ck_assert(durable_batch_write(batch, p2, "B", 1, NULL));
		ck_assert(durable_batch_write(batch, p3, "C", 1, NULL));
		/* a non-empty directory where b goes: rename(2) cannot replace it */
		ck_assert(durable_mkdir(blocker, FALSE, NULL));
		guint renamed = 99;
		g_autoptr(GError) error = NULL;
		ck_assert(!durable_batch_commit(batch, &renamed, &error));
		ck_assert_ptr_nonnull(error);
		ck_assert_uint_eq(renamed, 1);
		ck_assert_uint_eq(durable_batch_count(batch), 0);
		assert_listing(dir, "a b");
		assert_file(p1, "A");
		ms_test_rmtree(p2);
		g_unlink(p1);
	}
	ms_test_rmtree(dir);
}
END_TEST

/* An fsync that fails (here: the temporary vanished): nothing renamed. */
START_TEST(test_batch_sync_fails)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *p1 = g_build_filename(dir, "a", NULL);
	g_autofree char *p2 = g_build_filename(dir, "b", NULL);
	g_autoptr(DurableBatch) batch = durable_batch_new(TRUE);
	ck_assert(durable_batch_write(batch, p1, "A", 1, NULL));
	ck_assert(durable_batch_write(batch, p2, "B", 1, NULL));
	g_autofree char *tmp2 = durable_tmp_path(p2);
	ck_assert_int_eq(g_unlink(tmp2), 0);
	guint renamed = 99;
	g_autoptr(GError) error = NULL;
	ck_assert(!durable_batch_commit(batch, &renamed, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	ck_assert_uint_eq(renamed, 0);
	assert_listing(dir, "");
	ms_test_rmtree(dir);
}
END_TEST

static Suite *durable_suite(void)
{
	Suite *s = suite_create("durable");
	MS_ADD_TEST(s, test_error_codes, 10);
	MS_ADD_TEST(s, test_tmp_names, 10);
	MS_ADD_TEST(s, test_write_file, 10);
	MS_ADD_TEST(s, test_write_file_errors, 10);
	MS_ADD_TEST(s, test_write_file_no_space, 10);
	MS_ADD_TEST(s, test_create_file, 10);
	MS_ADD_TEST(s, test_read_file, 10);
	MS_ADD_TEST(s, test_rename_remove, 10);
	MS_ADD_TEST(s, test_mkdir, 10);
	MS_ADD_TEST(s, test_batch_commit, 10);
	MS_ADD_TEST(s, test_batch_abort, 10);
	MS_ADD_TEST(s, test_batch_rename_fails, 10);
	MS_ADD_TEST(s, test_batch_sync_fails, 10);
	return s;
}

MS_TEST_MAIN(durable_suite)
