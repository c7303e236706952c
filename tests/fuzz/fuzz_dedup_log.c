/* tests/fuzz/fuzz_dedup_log.c - arbitrary bytes as the MDA's duplicate log
 * (agents/mda/dedup.h, STATE/delivered.log), as a crash or a full disk
 * may leave it.
 *
 * Checks what must hold whatever the bytes: it opens without a crash or a
 * leak, keeps at most DEDUP_MAX_ENTRIES keys, a promise never reads a
 * file outside the state directory, and a record appended after them is
 * read back after a restart (a torn last line never swallows it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "agents/mda/dedup.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define NOW (G_GINT64_CONSTANT(1767225600) * G_USEC_PER_SEC)

static char *dir, *path;

/* The scratch directory goes with the process (its log, and the temporary
 * a compaction may leave). */
static void cleanup(void)
{
	GDir *gd = g_dir_open(dir, 0, NULL);
	const char *name;
	while (gd && (name = g_dir_read_name(gd)) != NULL) {
		char *child = g_build_filename(dir, name, NULL);
		g_unlink(child);
		g_free(child);
	}
	if (gd)
		g_dir_close(gd);
	g_rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir) {
		dir = g_dir_make_tmp("mailsim-fuzz-dedup-XXXXXX", NULL);
		CHECK(dir != NULL);
		path = g_build_filename(dir, DEDUP_FILE_NAME, NULL);
		atexit(cleanup);
	}
	g_unlink(path);
	CHECK(g_file_set_contents(path, (const char *)data, (gssize)size, NULL));

	GError *error = NULL;
	Dedup *d = dedup_open(path, dir, FALSE, NOW, &error);
	CHECK(d != NULL && error == NULL);
	CHECK(dedup_size(d) <= DEDUP_MAX_ENTRIES);
	/* a key the input names (its first "P KEY" or "D KEY"): a promise of
	 * the input is verified against the state directory */
	for (size_t i = 0; i + 2 + DEDUP_KEY_LEN <= size; i++) {
		if ((data[i] != 'P' && data[i] != 'D') || data[i + 1] != ' ')
			continue;
		char *probe = g_strndup((const char *)data + i + 2, DEDUP_KEY_LEN);
		if (strspn(probe, "0123456789abcdef") == DEDUP_KEY_LEN && dedup_check(d, probe, NOW) == DEDUP_NEW)
			dedup_finish(d, probe, FALSE, NOW);
		g_free(probe);
		break;
	}
	/* a key no input can name: the digest of the input and more */
	GByteArray *more = g_byte_array_new();
	g_byte_array_append(more, data, (guint)size);
	g_byte_array_append(more, (const guint8 *)"fresh", 5);
	char *key = dedup_digest((const char *)more->data, more->len);
	g_byte_array_unref(more);
	CHECK(dedup_check(d, key, NOW) == DEDUP_NEW);
	dedup_finish(d, key, TRUE, NOW);
	dedup_free(d);

	d = dedup_open(path, dir, FALSE, NOW, &error);
	CHECK(d != NULL);
	CHECK(dedup_check(d, key, NOW) == DEDUP_DELIVERED);
	dedup_free(d);
	g_free(key);
	return 0;
}
