/* tests/ms_test.h - what every Check test file shares.
 *
 * A test file tests/DIR/test_NAME.c tests DIR/NAME.c, builds into its own
 * binary linked against build/libmailsim.a (so it pulls in only what it
 * uses), and ends with MS_TEST_MAIN(suite_function).
 */
#pragma once

#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#define MS_TEST_MAIN(suite_fn)                                      \
	int main(void)                                                  \
	{                                                               \
		SRunner *sr = srunner_create(suite_fn());                   \
		srunner_run_all(sr, CK_NORMAL);                             \
		int failed = srunner_ntests_failed(sr);                     \
		srunner_free(sr);                                           \
		return failed ? 1 : 0;                                      \
	}

/* Add a test function to a new TCase named after it. */
#define MS_ADD_TEST(suite, fn, timeout_s)                           \
	do {                                                            \
		TCase *tc_ = tcase_create(#fn);                             \
		tcase_set_timeout(tc_, (timeout_s));                        \
		tcase_add_test(tc_, fn);                                    \
		suite_add_tcase((suite), tc_);                              \
	} while (0)

/* A fresh temporary directory, removed with ms_test_rmtree. */
static inline char *ms_test_tmpdir(void)
{
	char *dir = g_dir_make_tmp("mailsim-test-XXXXXX", NULL);
	ck_assert_ptr_nonnull(dir);
	return dir;
}

static inline void ms_test_rmtree(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	if (d) {
		const char *name;
		while ((name = g_dir_read_name(d))) {
			char *child = g_build_filename(path, name, NULL);
			if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
				ms_test_rmtree(child);
			else
				g_unlink(child);
			g_free(child);
		}
		g_dir_close(d);
	}
	g_rmdir(path);
}
