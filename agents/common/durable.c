/* agents/common/durable.c - crash-safe files: temporary, fsync, rename,
 * fsync the directory.
 *
 * rename(2) replaces a name atomically (POSIX), but only fsync(2) puts
 * bytes on disk, and only an fsync of the directory puts the name there.
 */
#include "agents/common/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (16 * 1024)  /* octets per read(2) */

/* ======================================================================== */
/* Errors and names                                                         */
/* ======================================================================== */

gint durable_error_code(int err)
{
	/* a full disk, a full quota, a too-large file: all "no room" to a mail server */
	if (err == ENOSPC || err == EDQUOT || err == EFBIG)
		return G_IO_ERROR_NO_SPACE;
	return g_io_error_from_errno(err);
}

gboolean durable_set_error(GError **error, int err, const char *what, const char *path)
{
	g_set_error(error, G_IO_ERROR, durable_error_code(err), "%s %s: %s", what, path,
	            g_strerror(err));
	return FALSE;
}

char *durable_tmp_path(const char *path)
{
	g_return_val_if_fail(path != NULL && path[0] != '\0', NULL);
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *name = g_strconcat(DURABLE_TMP_PREFIX, base, DURABLE_TMP_SUFFIX, NULL);
	return g_build_filename(dir, name, NULL);
}

gboolean durable_is_tmp_name(const char *name)
{
	return name != NULL &&
	       strlen(name) > strlen(DURABLE_TMP_PREFIX) + strlen(DURABLE_TMP_SUFFIX) &&
	       g_str_has_prefix(name, DURABLE_TMP_PREFIX) &&
	       g_str_has_suffix(name, DURABLE_TMP_SUFFIX);
}

/* ======================================================================== */
/* Small steps                                                              */
/* ======================================================================== */

gboolean durable_write_all(int fd, const char *data, gsize len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return FALSE;
		}
		data += n;
		len -= (gsize)n;
	}
	return TRUE;
}

/* Write a new file in one go, synced if asked; on any failure it is
 * removed again.  It must not exist: O_EXCL (which also refuses to follow
 * a symlink) means we never write into somebody else's file. */
static gboolean file_write(const char *path, const void *data, gsize len, gboolean sync,
                           GError **error)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, DURABLE_FILE_MODE);
	if (fd < 0)
		return durable_set_error(error, errno, "create", path);
	const char *what = "write";
	gboolean ok = durable_write_all(fd, data, len);
	if (ok && sync) {
		what = "fsync";
		ok = fsync(fd) == 0;
	}
	int err = errno;
	/* close() is where NFS reports a full disk */
	if (close(fd) != 0 && ok) {
		ok = FALSE;
		what = "close";
		err = errno;
	}
	if (!ok) {
		unlink(path);
		return durable_set_error(error, err, what, path);
	}
	return TRUE;
}

/* Write a temporary.  Whatever has its name is a leftover of a crashed
 * write (one writer per path): remove it and create afresh, so we never
 * write through a stale hard link or a planted symlink. */
static gboolean tmp_write(const char *tmp, const void *data, gsize len, gboolean sync,
                          GError **error)
{
	if (unlink(tmp) != 0 && errno != ENOENT)
		return durable_set_error(error, errno, "remove", tmp);
	return file_write(tmp, data, len, sync, error);
}

/* fsync a file already written and closed: the kernel keeps its dirty
 * pages by inode, so a new descriptor flushes them. */
static gboolean file_sync(const char *path, GError **error)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return durable_set_error(error, errno, "open", path);
	if (fsync(fd) != 0) {
		int err = errno;
		close(fd);
		return durable_set_error(error, err, "fsync", path);
	}
	close(fd);
	return TRUE;
}

gboolean durable_sync_dir(const char *dir, GError **error)
{
	g_return_val_if_fail(dir != NULL, FALSE);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return durable_set_error(error, errno, "open", dir);
	if (fsync(fd) != 0) {
		int err = errno;
		close(fd);
		return durable_set_error(error, err, "fsync", dir);
	}
	close(fd);
	return TRUE;
}

static gboolean sync_parent(const char *path, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	return durable_sync_dir(dir, error);
}

/* ======================================================================== */
/* One file at a time                                                       */
/* ======================================================================== */

gboolean durable_write_file(const char *path, const void *data, gsize len, gboolean sync,
                            GError **error)
{
	g_return_val_if_fail(path != NULL && path[0] != '\0', FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);
	g_autofree char *tmp = durable_tmp_path(path);
	if (!tmp_write(tmp, data ? data : "", len, sync, error))
		return FALSE;
	if (rename(tmp, path) != 0) {
		int err = errno;
		unlink(tmp);
		return durable_set_error(error, err, "rename", tmp);
	}
	return !sync || sync_parent(path, error);
}

gboolean durable_create_file(const char *path, const void *data, gsize len, gboolean sync,
                             GError **error)
{
	g_return_val_if_fail(path != NULL && path[0] != '\0', FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);
	return file_write(path, data ? data : "", len, sync, error);
}

gboolean durable_read_file(const char *path, gsize max, GBytes **bytes_r, GError **error)
{
	g_return_val_if_fail(path != NULL && bytes_r != NULL, FALSE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return durable_set_error(error, errno, "open", path);
	max = MIN(max, G_MAXUINT);  /* a GByteArray's length is a guint */
	GByteArray *buf = g_byte_array_new();
	char chunk[READ_CHUNK];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			close(fd);
			g_byte_array_unref(buf);
			return durable_set_error(error, err, "read", path);
		}
		if (n == 0)
			break;
		if ((gsize)n > max - buf->len) {
			close(fd);
			g_byte_array_unref(buf);
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
			            "read %s: over %" G_GSIZE_FORMAT " octets", path, max);
			return FALSE;
		}
		g_byte_array_append(buf, (const guint8 *)chunk, (guint)n);
	}
	close(fd);
	*bytes_r = g_byte_array_free_to_bytes(buf);
	return TRUE;
}

/* rename() that never replaces: RENAME_NOREPLACE, or link()+unlink() (the
 * way qmail delivers) where the file system lacks it.  -1 and errno EEXIST
 * if to is taken. */
static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -1;
	if (link(from, to) != 0)
		return -1;
	unlink(from);
	return 0;
}

gboolean durable_rename(const char *from, const char *to, gboolean replace, gboolean sync,
                        GError **error)
{
	g_return_val_if_fail(from != NULL && to != NULL, FALSE);
	int rc = replace ? rename(from, to) : rename_noreplace(from, to);
	if (rc != 0)
		return durable_set_error(error, errno, "rename", from);
	if (!sync)
		return TRUE;
	g_autofree char *from_dir = g_path_get_dirname(from);
	g_autofree char *to_dir = g_path_get_dirname(to);
	/* the new name first: should the old one then fail to sync, the file
	 * exists twice after a crash, never zero times */
	if (!durable_sync_dir(to_dir, error))
		return FALSE;
	return strcmp(from_dir, to_dir) == 0 || durable_sync_dir(from_dir, error);
}

gboolean durable_remove(const char *path, gboolean sync, GError **error)
{
	g_return_val_if_fail(path != NULL, FALSE);
	if (unlink(path) != 0)
		return durable_set_error(error, errno, "remove", path);
	return !sync || sync_parent(path, error);
}

/* One directory of the path: make it, or check that what is there is one. */
static gboolean mkdir_one(const char *dir, gboolean sync, GError **error)
{
	if (mkdir(dir, DURABLE_DIR_MODE) == 0)
		return !sync || sync_parent(dir, error);
	int err = errno;
	struct stat st;
	if (err != EEXIST)
		return durable_set_error(error, err, "mkdir", dir);
	if (stat(dir, &st) != 0)
		return durable_set_error(error, errno, "stat", dir);
	if (!S_ISDIR(st.st_mode))
		return durable_set_error(error, ENOTDIR, "mkdir", dir);
	return TRUE;
}

gboolean durable_mkdir(const char *path, gboolean sync, GError **error)
{
	g_return_val_if_fail(path != NULL, FALSE);
	gsize len = strlen(path);
	if (len == 0 || len > DURABLE_MAX_PATH) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
		            "mkdir: a path of %" G_GSIZE_FORMAT " octets", len);
		return FALSE;
	}
	/* Walk the path from the top, cutting it at each '/' in turn, so every
	 * directory made gets its parent synced. */
	g_autofree char *p = g_strdup(path);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		if (*s == '/' && s[-1] == '/')
			continue;  /* "a//b" */
		char saved = *s;
		*s = '\0';
		gboolean ok = mkdir_one(p, sync, error);
		*s = saved;
		if (!ok)
			return FALSE;
		if (saved == '\0')
			return TRUE;
	}
}

/* ======================================================================== */
/* Group commit                                                             */
/* ======================================================================== */

typedef struct {
	char *path;  /* the final name */
	char *tmp;   /* where it waits */
} BatchFile;

struct DurableBatch {
	gboolean sync;
	GArray  *files;  /* BatchFile, in the order written */
};

static void batch_file_clear(BatchFile *f)
{
	g_clear_pointer(&f->path, g_free);
	g_clear_pointer(&f->tmp, g_free);
}

DurableBatch *durable_batch_new(gboolean sync)
{
	DurableBatch *batch = g_new0(DurableBatch, 1);
	batch->sync = sync;
	batch->files = g_array_new(FALSE, TRUE, sizeof(BatchFile));
	g_array_set_clear_func(batch->files, (GDestroyNotify)batch_file_clear);
	return batch;
}

void durable_batch_free(DurableBatch *batch)
{
	if (!batch)
		return;
	durable_batch_abort(batch);
	g_array_unref(batch->files);
	g_free(batch);
}

guint durable_batch_count(const DurableBatch *batch)
{
	g_return_val_if_fail(batch != NULL, 0);
	return batch->files->len;
}

gboolean durable_batch_write(DurableBatch *batch, const char *path, const void *data, gsize len,
                             GError **error)
{
	g_return_val_if_fail(batch != NULL, FALSE);
	g_return_val_if_fail(path != NULL && path[0] != '\0', FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);
	/* a batch holds a few files per waiting session: a scan is enough */
	for (guint i = 0; i < batch->files->len; i++) {
		if (strcmp(g_array_index(batch->files, BatchFile, i).path, path) == 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			            "%s: already written in this batch", path);
			return FALSE;
		}
	}
	BatchFile f = { .path = g_strdup(path), .tmp = durable_tmp_path(path) };
	/* no fsync yet: that is the commit's job, once for everyone */
	if (!tmp_write(f.tmp, data ? data : "", len, FALSE, error)) {
		batch_file_clear(&f);
		return FALSE;
	}
	g_array_append_val(batch->files, f);
	return TRUE;
}

void durable_batch_abort_to(DurableBatch *batch, guint count)
{
	g_return_if_fail(batch != NULL);
	for (guint i = count; i < batch->files->len; i++)
		unlink(g_array_index(batch->files, BatchFile, i).tmp);
	if (count < batch->files->len)
		g_array_set_size(batch->files, count);
}

void durable_batch_abort(DurableBatch *batch)
{
	durable_batch_abort_to(batch, 0);
}

gboolean durable_batch_commit(DurableBatch *batch, guint *renamed_r, GError **error)
{
	g_return_val_if_fail(batch != NULL, FALSE);
	GArray *files = batch->files;
	guint renamed = 0;
	gboolean ok = TRUE;

	/* 1. bytes on disk, each file once, before any name points at them */
	for (guint i = 0; ok && batch->sync && i < files->len; i++)
		ok = file_sync(g_array_index(files, BatchFile, i).tmp, error);

	/* 2. the names, in the order written: the caller's commit point last */
	while (ok && renamed < files->len) {
		BatchFile *f = &g_array_index(files, BatchFile, renamed);
		if (rename(f->tmp, f->path) != 0)
			ok = durable_set_error(error, errno, "rename", f->tmp);
		else
			renamed++;
	}

	/* 3. each directory once, however many names it got */
	if (ok && batch->sync) {
		g_autoptr(GHashTable) synced = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		for (guint i = 0; ok && i < files->len; i++) {
			char *dir = g_path_get_dirname(g_array_index(files, BatchFile, i).path);
			if (g_hash_table_add(synced, dir))
				ok = durable_sync_dir(dir, error);
		}
	}

	/* the temporaries not renamed are removed; the renamed ones are no
	 * longer temporaries, so abort leaves them alone */
	for (guint i = renamed; i < files->len; i++)
		unlink(g_array_index(files, BatchFile, i).tmp);
	g_array_set_size(files, 0);
	if (renamed_r)
		*renamed_r = renamed;
	return ok;
}
