/* agents/mda/dedup.c - the MDA's log of copies filed: promise, verify,
 * expire (RFC 5321 6.1: deliver again rather than lose, but not twice
 * when we can tell).
 *
 * One append-only text file, one line a record, all of it mirrored in a
 * hash table; rewritten without its dead lines now and then.  Only the
 * promise is fsync'ed: it is what a crash needs to find.
 */
#include "agents/mda/dedup.h"
#include "agents/common/durable.h"
#include "agents/common/group_commit.h"
#include "sim/kernel/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEDUP_LOG_HEADER "# mailsim MDA: copies filed, see agents/mda/dedup.h\n"

/* ======================================================================== */
/* Keys                                                                     */
/* ======================================================================== */

char *dedup_digest(const char *data, gsize len)
{
	g_return_val_if_fail(data != NULL || len == 0, NULL);
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, (const guchar *)(data ? data : ""), (gssize)len);
	char *hex = g_strdup(g_checksum_get_string(sum));
	g_checksum_free(sum);
	return hex;
}

char *dedup_key(const char *message_digest, const char *rcpt)
{
	g_return_val_if_fail(message_digest != NULL && rcpt != NULL, NULL);
	/* the digest has a fixed length, so "digest rcpt" cannot be read two ways */
	g_autofree char *text = g_strconcat(message_digest, " ", rcpt, NULL);
	return dedup_digest(text, strlen(text));
}

static gboolean is_hex_key(const char *s)
{
	if (strlen(s) != DEDUP_KEY_LEN)
		return FALSE;
	for (const char *p = s; *p; p++)
		if (!g_ascii_isdigit(*p) && !(*p >= 'a' && *p <= 'f'))
			return FALSE;
	return TRUE;
}

const char *dedup_verdict_to_string(DedupVerdict verdict)
{
	static const char *const names[] = { "new", "delivered", "busy" };
	return (guint)verdict < G_N_ELEMENTS(names) ? names[verdict] : "?";
}

/* ======================================================================== */
/* Entries                                                                  */
/* ======================================================================== */

typedef struct {
	char *dir, *prefix, *digest;
} FileRec;

static void file_rec_free(gpointer p)
{
	FileRec *f = p;
	g_free(f->dir);
	g_free(f->prefix);
	g_free(f->digest);
	g_free(f);
}

typedef enum {
	ENTRY_RESERVED,   /* a session of ours is on it; nothing on disk yet */
	ENTRY_PROMISED,   /* "P" on disk: files about to appear (or left by a crash) */
	ENTRY_DONE,       /* "D": filed, answered 250 */
} EntryState;

typedef struct {
	EntryState state;
	gboolean   live;    /* a session of this process holds it (dedup_check said NEW) */
	gint64     made_us;
	GPtrArray *files;   /* FileRec *, for a promise; NULL otherwise */
} Entry;

static void entry_free(gpointer p)
{
	Entry *e = p;
	if (e->files)
		g_ptr_array_unref(e->files);
	g_free(e);
}

static gboolean entry_expired(const Entry *e, gint64 now_us)
{
	/* a clock set back far is as good as expired: the entry could live forever */
	return now_us - e->made_us >= DEDUP_LIFETIME_US || e->made_us - now_us >= DEDUP_LIFETIME_US;
}

/* ======================================================================== */
/* The log                                                                  */
/* ======================================================================== */

struct Dedup {
	char        *path;
	char        *base_dir;
	gboolean     sync;
	GMutex       lock;      /* guards everything below */
	int          fd;        /* O_APPEND */
	gboolean     torn;      /* the last append failed: the next starts with "\n" */
	guint64      lines;     /* records in the file, about */
	guint64      compact_at;  /* no compaction before this many lines */
	GHashTable  *entries;   /* key (owned) -> Entry * */
	GroupCommit *syncs;
};

/* A folder directory in a line: octets that would end a token or a line
 * become %XX. */
static void escape_token(GString *out, const char *s)
{
	for (const guchar *p = (const guchar *)s; *p; p++) {
		if (*p <= 0x20 || *p == 0x7F || *p == '%')
			g_string_append_printf(out, "%%%02X", *p);
		else
			g_string_append_c(out, (char)*p);
	}
}

static char *unescape_token(const char *s)
{
	GString *out = g_string_new(NULL);
	for (const char *p = s; *p; p++) {
		if (*p != '%') {
			g_string_append_c(out, *p);
			continue;
		}
		int hi = g_ascii_xdigit_value(p[1]);
		int lo = hi >= 0 ? g_ascii_xdigit_value(p[2]) : -1;
		if (lo < 0 || (hi == 0 && lo == 0)) {   /* broken, or a NUL inside */
			g_string_free(out, TRUE);
			return NULL;
		}
		g_string_append_c(out, (char)(hi * 16 + lo));
		p += 2;
	}
	return g_string_free(out, FALSE);
}

/* A promised folder must stay under base_dir: relative, no "..". */
static gboolean dir_is_safe(const char *dir)
{
	if (!*dir || dir[0] == '/')
		return FALSE;
	g_auto(GStrv) parts = g_strsplit(dir, "/", -1);
	for (guint i = 0; parts[i]; i++)
		if (strcmp(parts[i], "..") == 0)
			return FALSE;
	return TRUE;
}

/* A name's start: printable, no '/', no space (maildir_name_prefix). */
static gboolean prefix_is_safe(const char *prefix)
{
	if (!*prefix || strlen(prefix) > 255)
		return FALSE;
	for (const char *p = prefix; *p; p++)
		if (!g_ascii_isgraph(*p) || *p == '/')
			return FALSE;
	return TRUE;
}

static void append_promise_line(GString *out, const char *key, const Entry *e)
{
	g_string_append_printf(out, "P %s %" G_GINT64_FORMAT " %u", key, e->made_us, e->files->len);
	for (guint i = 0; i < e->files->len; i++) {
		const FileRec *f = e->files->pdata[i];
		g_string_append_c(out, ' ');
		escape_token(out, f->dir);
		g_string_append_printf(out, " %s %s", f->prefix, f->digest);
	}
	g_string_append_c(out, '\n');
}

/* Lock held.  One write(2) for all the lines, so a crash tears at most
 * the last; after a failed one the next starts on a fresh line. */
static gboolean log_append(Dedup *d, const GString *lines, GError **error)
{
	g_autoptr(GString) buf = g_string_sized_new(lines->len + 1);
	if (d->torn)
		g_string_append_c(buf, '\n');
	g_string_append_len(buf, lines->str, lines->len);
	if (!durable_write_all(d->fd, buf->str, buf->len)) {
		d->torn = TRUE;
		return durable_set_error(error, errno, "append to", d->path);
	}
	d->torn = FALSE;
	for (gsize i = 0; i < lines->len; i++)
		d->lines += lines->str[i] == '\n';
	return TRUE;
}

/* Apply one line read back.  Lines that do not parse are skipped. */
static void load_line(Dedup *d, char *line)
{
	if (!*line || line[0] == '#' || strlen(line) > DEDUP_MAX_LINE)
		return;
	g_auto(GStrv) tok = g_strsplit(line, " ", -1);
	guint n = g_strv_length(tok);
	if (n < 2 || strlen(tok[0]) != 1 || !is_hex_key(tok[1]))
		return;
	char kind = tok[0][0];
	if (kind == 'X' && n == 2) {
		g_hash_table_remove(d->entries, tok[1]);
		return;
	}
	if (n < 3)
		return;
	char *end = NULL;
	errno = 0;
	gint64 made = g_ascii_strtoll(tok[2], &end, 10);
	if (errno || !end || *end || end == tok[2])
		return;
	if (kind == 'D' && n == 3) {
		Entry *e = g_new0(Entry, 1);
		e->state = ENTRY_DONE;
		e->made_us = made;
		g_hash_table_replace(d->entries, g_strdup(tok[1]), e);
		return;
	}
	if (kind != 'P' || n < 4)
		return;
	guint64 count = 0;
	if (!g_ascii_string_to_unsigned(tok[3], 10, 0, DEDUP_MAX_FILES, &count, NULL) || n != 4 + 3 * count)
		return;
	GPtrArray *files = g_ptr_array_new_with_free_func(file_rec_free);
	for (guint i = 0; i < count; i++) {
		char *dir = unescape_token(tok[4 + 3 * i]);
		const char *prefix = tok[5 + 3 * i], *digest = tok[6 + 3 * i];
		if (!dir || !dir_is_safe(dir) || !prefix_is_safe(prefix) || !is_hex_key(digest)) {
			g_free(dir);
			g_ptr_array_unref(files);
			return;
		}
		FileRec *f = g_new0(FileRec, 1);
		f->dir = dir;
		f->prefix = g_strdup(prefix);
		f->digest = g_strdup(digest);
		g_ptr_array_add(files, f);
	}
	Entry *e = g_new0(Entry, 1);
	e->state = ENTRY_PROMISED;
	e->made_us = made;
	e->files = files;
	g_hash_table_replace(d->entries, g_strdup(tok[1]), e);
}

static gint by_made(gconstpointer a, gconstpointer b)
{
	const Entry *x = ((const Entry *const *)a)[0], *y = ((const Entry *const *)b)[0];
	return x->made_us < y->made_us ? -1 : x->made_us > y->made_us;
}

/* Lock held.  Forget what expired and, over DEDUP_MAX_ENTRIES, the oldest
 * copies filed (a retry of those could then be filed twice: the limit is
 * in RELIABILITY.md).  Keys held by a session stay. */
static void entries_prune(Dedup *d, gint64 now_us)
{
	GHashTableIter it;
	gpointer key, value;
	g_hash_table_iter_init(&it, d->entries);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		Entry *e = value;
		if (!e->live && entry_expired(e, now_us))
			g_hash_table_iter_remove(&it);
	}
	if (g_hash_table_size(d->entries) <= DEDUP_MAX_ENTRIES)
		return;
	g_autoptr(GPtrArray) done = g_ptr_array_new();
	g_hash_table_iter_init(&it, d->entries);
	while (g_hash_table_iter_next(&it, &key, &value))
		if (!((Entry *)value)->live && ((Entry *)value)->state == ENTRY_DONE)
			g_ptr_array_add(done, value);
	g_ptr_array_sort(done, by_made);
	/* down to 90%, so this does not run again at the next key */
	guint keep = DEDUP_MAX_ENTRIES - DEDUP_MAX_ENTRIES / 10;
	guint excess = g_hash_table_size(d->entries) > keep ? g_hash_table_size(d->entries) - keep : 0;
	g_autoptr(GHashTable) drop = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (guint i = 0; i < done->len && i < excess; i++)
		g_hash_table_add(drop, done->pdata[i]);
	g_hash_table_iter_init(&it, d->entries);
	while (g_hash_table_iter_next(&it, &key, &value))
		if (g_hash_table_contains(drop, value))
			g_hash_table_iter_remove(&it);
}

/* Lock held.  The file rewritten from the table: a line per key delivered
 * or promised, durably (durable_write_file), then appended to again.  A
 * failure keeps the old file, which is still right, only longer. */
static void log_compact(Dedup *d, gint64 now_us)
{
	entries_prune(d, now_us);
	g_autoptr(GString) text = g_string_new(DEDUP_LOG_HEADER);
	guint64 lines = 0;
	GHashTableIter it;
	gpointer key, value;
	g_hash_table_iter_init(&it, d->entries);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		const Entry *e = value;
		if (e->state == ENTRY_DONE)
			g_string_append_printf(text, "D %s %" G_GINT64_FORMAT "\n", (const char *)key, e->made_us);
		else if (e->state == ENTRY_PROMISED)
			append_promise_line(text, key, e);
		else
			continue;
		lines++;
	}
	/* after a failure, not again at every record */
	d->compact_at = d->lines + DEDUP_COMPACT_MIN_LINES;
	if (!durable_write_file(d->path, text->str, text->len, d->sync, NULL))
		return;
	int fd = open(d->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return;   /* the old descriptor appends to the old inode: lost at the next open */
	d->compact_at = DEDUP_COMPACT_MIN_LINES;
	close(d->fd);
	d->fd = fd;
	d->torn = FALSE;
	d->lines = lines;
}

static void log_maybe_compact(Dedup *d, gint64 now_us)
{
	guint size = g_hash_table_size(d->entries);
	if ((d->lines >= d->compact_at && d->lines > 2 * (guint64)size) || size > DEDUP_MAX_ENTRIES)
		log_compact(d, now_us);
}

/* ---- the fsync of promises, shared ------------------------------------- */

typedef struct {
	GError *error;
} SyncItem;

static gboolean log_sync(Dedup *d, GError **error)
{
	/* a descriptor of our own: a compaction may swap d->fd meanwhile (and
	 * then the promise is in the new file, already synced) */
	g_mutex_lock(&d->lock);
	int fd = dup(d->fd);
	g_mutex_unlock(&d->lock);
	if (fd < 0)
		return durable_set_error(error, errno, "dup", d->path);
	gboolean ok = fdatasync(fd) == 0;
	int err = errno;
	close(fd);
	return ok || durable_set_error(error, err, "fsync", d->path);
}

static void syncs_commit(gpointer *items, guint n, gpointer user_data)
{
	GError *err = NULL;
	log_sync(user_data, &err);
	for (guint i = 0; i < n; i++)
		((SyncItem *)items[i])->error = err ? g_error_copy(err) : NULL;
	g_clear_error(&err);
}

/* ======================================================================== */
/* The API                                                                  */
/* ======================================================================== */

Dedup *dedup_open(const char *path, const char *base_dir, gboolean sync, gint64 now_us, GError **error)
{
	g_return_val_if_fail(path != NULL && base_dir != NULL, NULL);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, DURABLE_FILE_MODE);
	gboolean created = fd >= 0;
	if (!created && errno == EEXIST)
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		durable_set_error(error, errno, "open", path);
		return NULL;
	}
	if (created && sync) {   /* the file's name, on disk before a promise goes in it */
		g_autofree char *dir = g_path_get_dirname(path);
		if (!durable_sync_dir(dir, error)) {
			close(fd);
			return NULL;
		}
	}
	Dedup *d = g_new0(Dedup, 1);
	d->path = g_strdup(path);
	d->base_dir = g_strdup(base_dir);
	d->sync = sync;
	d->fd = fd;
	d->compact_at = DEDUP_COMPACT_MIN_LINES;
	g_mutex_init(&d->lock);
	d->entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, entry_free);
	d->syncs = group_commit_new(syncs_commit, d);

	g_autoptr(GBytes) bytes = NULL;
	if (!durable_read_file(path, DEDUP_MAX_LOG_SIZE, &bytes, error)) {
		dedup_free(d);
		return NULL;
	}
	gsize len = 0;
	const char *data = g_bytes_get_data(bytes, &len);
	gsize start = 0;
	for (gsize i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		/* a NUL inside (a crash on some file systems leaves zeros) spoils the line */
		if (!memchr(data + start, '\0', i - start)) {
			g_autofree char *line = g_strndup(data + start, i - start);
			load_line(d, line);
		}
		d->lines++;
		start = i + 1;
	}
	/* what follows the last newline is a record torn by a crash: ignored,
	 * and the next append starts on a line of its own */
	d->torn = start < len;
	entries_prune(d, now_us);
	log_maybe_compact(d, now_us);
	return d;
}

void dedup_free(Dedup *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	group_commit_free(d->syncs);
	g_hash_table_unref(d->entries);
	g_mutex_clear(&d->lock);
	g_free(d->path);
	g_free(d->base_dir);
	g_free(d);
}

guint dedup_size(Dedup *d)
{
	g_mutex_lock(&d->lock);
	guint n = g_hash_table_size(d->entries);
	g_mutex_unlock(&d->lock);
	return n;
}

/* Is there, in DIR/new or DIR/cur, a file whose name starts with the
 * promised prefix and whose bytes have the promised digest?  (A reader
 * may have moved it from new/ to cur/ and added flags meanwhile.) */
static gboolean file_found(Dedup *d, const FileRec *f)
{
	static const char *const subdirs[] = { "new", "cur" };
	for (guint s = 0; s < G_N_ELEMENTS(subdirs); s++) {
		g_autofree char *dir = g_build_filename(d->base_dir, f->dir, subdirs[s], NULL);
		g_autoptr(GDir) gd = g_dir_open(dir, 0, NULL);
		const char *name;
		while (gd && (name = g_dir_read_name(gd)) != NULL) {
			if (!g_str_has_prefix(name, f->prefix))
				continue;
			g_autofree char *path = g_build_filename(dir, name, NULL);
			g_autoptr(GBytes) bytes = NULL;
			if (!durable_read_file(path, DEDUP_MAX_VERIFY_SIZE, &bytes, NULL))
				continue;
			gsize len = 0;
			const char *data = g_bytes_get_data(bytes, &len);
			g_autofree char *digest = dedup_digest(data, len);
			if (strcmp(digest, f->digest) == 0)
				return TRUE;
		}
	}
	return FALSE;
}

DedupVerdict dedup_check(Dedup *d, const char *key, gint64 now_us)
{
	g_return_val_if_fail(d != NULL && key != NULL, DEDUP_NEW);
	g_mutex_lock(&d->lock);
	Entry *e = g_hash_table_lookup(d->entries, key);
	if (e && !e->live && entry_expired(e, now_us)) {
		g_hash_table_remove(d->entries, key);
		e = NULL;
	}
	DedupVerdict verdict = DEDUP_NEW;
	if (e && e->live) {
		verdict = DEDUP_BUSY;
	} else if (e && e->state == ENTRY_DONE) {
		verdict = DEDUP_DELIVERED;
	} else if (e) {
		/* a promise left by a crash: filed only if every file is there */
		gboolean all = TRUE;
		for (guint i = 0; all && i < e->files->len; i++)
			all = file_found(d, e->files->pdata[i]);
		g_clear_pointer(&e->files, g_ptr_array_unref);
		if (all) {
			e->state = ENTRY_DONE;
			g_autoptr(GString) line = g_string_new(NULL);
			g_string_append_printf(line, "D %s %" G_GINT64_FORMAT "\n", key, e->made_us);
			log_append(d, line, NULL);
			verdict = DEDUP_DELIVERED;
		} else {
			/* not (all) there: deliver again; the old promise is replaced */
			e->state = ENTRY_RESERVED;
			e->live = TRUE;
			e->made_us = now_us;
		}
	} else {
		e = g_new0(Entry, 1);
		e->state = ENTRY_RESERVED;
		e->live = TRUE;
		e->made_us = now_us;
		g_hash_table_replace(d->entries, g_strdup(key), e);
	}
	g_mutex_unlock(&d->lock);
	return verdict;
}

gboolean dedup_promise(Dedup *d, const DedupPromise *promises, guint n, GError **error)
{
	g_return_val_if_fail(d != NULL && (promises != NULL || n == 0), FALSE);
	if (n == 0)
		return TRUE;
	for (guint i = 0; i < n; i++) {
		if (promises[i].n_files > DEDUP_MAX_FILES) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%u files in one delivery, over %d",
			            promises[i].n_files, DEDUP_MAX_FILES);
			return FALSE;
		}
		for (guint k = 0; k < promises[i].n_files; k++) {
			const DedupFile *f = &promises[i].files[k];
			g_return_val_if_fail(f->dir && dir_is_safe(f->dir) && f->prefix && prefix_is_safe(f->prefix) &&
			                     f->digest && is_hex_key(f->digest), FALSE);
		}
	}
	/* the records, built before the lock */
	GPtrArray **built = g_new0(GPtrArray *, n);
	for (guint i = 0; i < n; i++) {
		built[i] = g_ptr_array_new_with_free_func(file_rec_free);
		for (guint k = 0; k < promises[i].n_files; k++) {
			FileRec *f = g_new0(FileRec, 1);
			f->dir = g_strdup(promises[i].files[k].dir);
			f->prefix = g_strdup(promises[i].files[k].prefix);
			f->digest = g_strdup(promises[i].files[k].digest);
			g_ptr_array_add(built[i], f);
		}
	}
	g_mutex_lock(&d->lock);
	g_autoptr(GString) lines = g_string_new(NULL);
	gboolean ok = TRUE;
	for (guint i = 0; ok && i < n; i++) {
		Entry *e = g_hash_table_lookup(d->entries, promises[i].key);
		ok = e && e->live && e->state == ENTRY_RESERVED;
		g_warn_if_fail(ok);   /* no dedup_check said NEW: a bug */
		if (ok) {
			Entry rec = { .made_us = e->made_us, .files = built[i] };
			append_promise_line(lines, promises[i].key, &rec);
		}
	}
	if (!ok)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "a promise for a key not reserved");
	else
		ok = log_append(d, lines, error);
	for (guint i = 0; i < n; i++) {
		if (ok) {
			/* kept for a compaction, which must write them again */
			Entry *e = g_hash_table_lookup(d->entries, promises[i].key);
			e->state = ENTRY_PROMISED;
			if (e->files)   /* the same key twice in one call */
				g_ptr_array_unref(e->files);
			e->files = built[i];
		} else {
			g_ptr_array_unref(built[i]);
		}
	}
	g_free(built);
	g_mutex_unlock(&d->lock);
	if (!ok || !d->sync)
		return ok;
	if (!ms_task_self())
		return log_sync(d, error);
	SyncItem item = { NULL };
	if (!group_commit_join(d->syncs, &item)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the server is shutting down");
		return FALSE;
	}
	if (item.error) {
		g_propagate_error(error, item.error);
		return FALSE;
	}
	return TRUE;
}

void dedup_finish(Dedup *d, const char *key, gboolean delivered, gint64 now_us)
{
	g_return_if_fail(d != NULL && key != NULL);
	g_mutex_lock(&d->lock);
	Entry *e = g_hash_table_lookup(d->entries, key);
	if (!e || !e->live) {
		g_mutex_unlock(&d->lock);
		g_return_if_reached();
	}
	g_autoptr(GString) line = g_string_new(NULL);
	if (delivered) {
		e->live = FALSE;
		e->state = ENTRY_DONE;
		e->made_us = now_us;
		g_clear_pointer(&e->files, g_ptr_array_unref);
		g_string_append_printf(line, "D %s %" G_GINT64_FORMAT "\n", key, now_us);
	} else {
		if (e->state == ENTRY_PROMISED)
			g_string_append_printf(line, "X %s\n", key);
		g_hash_table_remove(d->entries, key);
	}
	if (line->len)
		log_append(d, line, NULL);
	log_maybe_compact(d, now_us);
	g_mutex_unlock(&d->lock);
}
