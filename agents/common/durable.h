/* agents/common/durable.h - crash-safe files: what "it is on disk" means.
 *
 * A file survives a crash when its bytes and its name are both on disk:
 * write a temporary beside it, fsync(2) it, rename(2) it over the final
 * name (atomic, POSIX rename), fsync the directory that holds the name.
 * Shared by the MTA's queue and the MDA's Maildir writer.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

/* A temporary is ".NAME.tmp" beside NAME: hidden from `ls` and from Maildir
 * scans (they skip dot files), and easy for a recovery to recognise. */
#define DURABLE_TMP_PREFIX   "."
#define DURABLE_TMP_SUFFIX   ".tmp"
#define DURABLE_FILE_MODE    0600   /* mail is private */
#define DURABLE_DIR_MODE     0700
#define DURABLE_MAX_PATH     4096   /* PATH_MAX on Linux */

/* Errors are G_IO_ERROR, mapped by g_io_error_from_errno(), except that
 * ENOSPC, EDQUOT and EFBIG are all G_IO_ERROR_NO_SPACE: a full disk, a full
 * quota and a too-large file mean the same to a mail server (452 / 4.3.1).
 * Every message names the file and the step that failed. */
gint     durable_error_code(int err);

/* Set *error from errno value err: "WHAT PATH: strerror".  Returns FALSE,
 * so callers can `return durable_set_error(...)`. */
gboolean durable_set_error(GError **error, int err, const char *what, const char *path);

/* Write all of data to fd, going on after EINTR and short writes; FALSE
 * with errno set (EIO for a write of 0). */
gboolean durable_write_all(int fd, const char *data, gsize len);

/* The temporary name for path: "DIR/.NAME.tmp".  A new string. */
char    *durable_tmp_path(const char *path);

/* Is this directory entry name one of our temporaries? */
gboolean durable_is_tmp_name(const char *name);

/* ---- one file at a time ------------------------------------------------- */

/* Replace (or create) path with len octets of data: write the temporary,
 * fsync it, rename it over path, fsync the directory.  sync FALSE skips
 * both fsyncs (simulations: fast, and a crash there loses nothing that
 * matters).  Readers see the old file or the new one, never a mix.  On
 * failure the temporary is gone and path is untouched, except when only
 * the last step, the directory fsync, fails: then the new file is in
 * place but may not survive a crash.  One writer per path at a time: two
 * would share the temporary. */
gboolean durable_write_file(const char *path, const void *data, gsize len, gboolean sync,
                            GError **error);

/* Create path, which must not exist (G_IO_ERROR_EXISTS), with data written
 * and (sync) fsynced under that very name; removed again on failure.  For
 * files whose name means nothing until a later rename (Maildir's tmp/). */
gboolean durable_create_file(const char *path, const void *data, gsize len, gboolean sync,
                             GError **error);

/* Read a whole file of at most max octets (G_IO_ERROR_MESSAGE_TOO_LARGE if
 * larger).  *bytes_r: new. */
gboolean durable_read_file(const char *path, gsize max, GBytes **bytes_r, GError **error);

/* fsync a directory, so the names created, renamed or removed in it are
 * on disk. */
gboolean durable_sync_dir(const char *dir, GError **error);

/* Rename from to to.  replace FALSE: never over an existing file
 * (G_IO_ERROR_EXISTS; RENAME_NOREPLACE, or link+unlink where the file
 * system lacks it).  sync: fsync to's directory, and from's if another. */
gboolean durable_rename(const char *from, const char *to, gboolean replace, gboolean sync,
                        GError **error);

/* Unlink path, then (sync) fsync its directory.  G_IO_ERROR_NOT_FOUND if it
 * was not there. */
gboolean durable_remove(const char *path, gboolean sync, GError **error);

/* mkdir -p with DURABLE_DIR_MODE; for each directory made, (sync) fsync its
 * parent so the new name is on disk.  An existing directory is fine; an
 * existing non-directory is G_IO_ERROR_NOT_DIRECTORY. */
gboolean durable_mkdir(const char *path, gboolean sync, GError **error);

/* ---- group commit ------------------------------------------------------- */

/* Many files made durable for the price of one fsync per file and one per
 * directory: what lets N sessions that finish DATA together share the
 * directory fsync.  Write them all, then commit:
 *
 *   1. durable_batch_write: the temporary, written, not synced;
 *   2. durable_batch_commit: fsync every temporary, rename each over its
 *      final name in the order written, fsync each distinct directory once.
 *
 * Nothing appears under a final name before step 2, and only complete,
 * synced files ever do.  Use a batch from one thread at a time. */
typedef struct DurableBatch DurableBatch;

DurableBatch *durable_batch_new(gboolean sync);

/* Removes the temporaries of files not committed, then frees.  NULL: no-op. */
void          durable_batch_free(DurableBatch *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DurableBatch, durable_batch_free)

/* Write data to path's temporary.  On failure nothing is left and the
 * batch is as before.  A path already in the batch is G_IO_ERROR_EXISTS. */
gboolean      durable_batch_write(DurableBatch *batch, const char *path, const void *data,
                                  gsize len, GError **error);

/* Files written and not yet committed. */
guint         durable_batch_count(const DurableBatch *batch);

/* Commit every file written since the last commit; the batch is then empty
 * and may be used again.  On failure of an fsync of a file nothing was
 * renamed and every temporary is removed.  On failure of a rename or of a
 * directory fsync, the files renamed so far are complete but their names
 * may not survive a crash: the caller decides what they mean (the queue
 * removes them, since it never acknowledged them).  *renamed_r (may be
 * NULL): how many files, in the order written, reached their final name. */
gboolean      durable_batch_commit(DurableBatch *batch, guint *renamed_r, GError **error);

/* Drop every file written since the last commit, removing its temporary. */
void          durable_batch_abort(DurableBatch *batch);

/* Drop the files written after the first count (a savepoint taken with
 * durable_batch_count), removing their temporaries: undo half of a pair
 * of files when the second cannot be written. */
void          durable_batch_abort_to(DurableBatch *batch, guint count);
