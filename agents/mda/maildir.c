/* agents/mda/maildir.c - Maildir++ folders, delivery, flags, UIDs, locks.
 *
 * Every change is one atomic step a crash cannot cut in half: a message
 * is written in tmp/ and renamed into new/ (https://cr.yp.to/proto/maildir.html),
 * a folder is built in tmp/ and renamed into place, the uidlist and the
 * subscriptions are replaced by rename.  UIDs as in RFC 3501 2.3.1.1.
 */
#include "agents/mda/maildir.h"
#include "agents/common/durable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* The directory every Maildir and every Maildir++ folder has. */
static const char *const maildir_subdirs[] = { "cur", "new", "tmp" };

/* Where folders being built or deleted wait, inside the root's tmp/. */
#define STAGING_NEW     "mailsim-newfolder."
#define STAGING_DELETED "mailsim-deleted."
#define MAX_TREE_DEPTH  4   /* .Folder/cur/file is 3: deeper is not ours */

struct Maildir {
	char    *root;
	char    *host;   /* escaped for file names */
	gboolean sync;
};

struct MaildirLock {
	char  *path;
	char  *tmp_dir;
	char  *owner;
	gint64 time_us;
};

/* ======================================================================== */
/* Small file helpers (errors and whole writes: agents/common/durable.h)   */
/* ======================================================================== */

/* Write a new file in one go.  exclusive: fail with G_IO_ERROR_EXISTS
 * rather than replace.  On any failure the file is removed again. */
static gboolean file_write(const char *path, const char *data, gsize len, gboolean exclusive,
                           gboolean sync, GError **error)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
	int fd = open(path, flags, 0600);
	if (fd < 0)
		return durable_set_error(error, errno, "create", path);
	gboolean ok = durable_write_all(fd, data, len) && (!sync || fsync(fd) == 0);
	int err = errno;
	/* close() is where NFS reports a full disk */
	if (close(fd) != 0 && ok) {
		ok = FALSE;
		err = errno;
	}
	if (!ok) {
		unlink(path);
		return durable_set_error(error, err, "write", path);
	}
	return TRUE;
}

static gboolean dir_sync(const char *dir, GError **error)
{
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

/* rename() that never replaces: RENAME_NOREPLACE, or link()+unlink() (the
 * way qmail delivers) where the file system lacks it.  -1 and errno
 * EEXIST if to is taken. */
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

/* Write data as dir/name atomically: a temporary beside it, then rename. */
static gboolean file_replace(const char *dir, const char *name, const char *data, gsize len,
                             gboolean sync, GError **error)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
	if (!file_write(tmp, data, len, FALSE, sync, error))
		return FALSE;
	if (rename(tmp, path) != 0) {
		int err = errno;
		unlink(tmp);
		return durable_set_error(error, err, "rename", tmp);
	}
	return !sync || dir_sync(dir, error);
}

/* Read a whole small file, refusing one over max octets. */
static gboolean file_read(const char *path, gsize max, char **data_r, gsize *len_r,
                          GError **error)
{
	/* a symbolic link in a Maildir points somewhere it should not */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return durable_set_error(error, errno, "open", path);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return durable_set_error(error, err, "stat", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "%s: not a file", path);
		return FALSE;
	}
	if ((guint64)st.st_size > max) {
		close(fd);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
		            "%s: over %" G_GSIZE_FORMAT " octets", path, max);
		return FALSE;
	}
	gsize want = (gsize)st.st_size, got = 0;
	char *data = g_malloc(want + 1);
	while (got < want) {
		ssize_t n = read(fd, data + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			close(fd);
			g_free(data);
			return durable_set_error(error, err, "read", path);
		}
		if (n == 0)
			break;  /* shrank meanwhile: take what is there */
		got += (gsize)n;
	}
	close(fd);
	data[got] = '\0';
	*data_r = data;
	*len_r = got;
	return TRUE;
}

/* Remove a tree without following symbolic links; bounded depth. */
static gboolean tree_remove(const char *path, guint depth, GError **error)
{
	GStatBuf st;
	if (g_lstat(path, &st) != 0)
		return errno == ENOENT ? TRUE : durable_set_error(error, errno, "stat", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) != 0 && errno != ENOENT)
			return durable_set_error(error, errno, "unlink", path);
		return TRUE;
	}
	if (depth > MAX_TREE_DEPTH) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: nested too deep to remove", path);
		return FALSE;
	}
	DIR *dir = opendir(path);
	if (!dir)
		return durable_set_error(error, errno, "open", path);
	gboolean ok = TRUE;
	struct dirent *e;
	while (ok && (e = readdir(dir))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		g_autofree char *child = g_build_filename(path, e->d_name, NULL);
		ok = tree_remove(child, depth + 1, error);
	}
	closedir(dir);
	if (ok && rmdir(path) != 0 && errno != ENOENT)
		return durable_set_error(error, errno, "rmdir", path);
	return ok;
}

static gboolean is_dir(const char *path)
{
	GStatBuf st;
	return g_lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Take the lock that guards a directory's small files (its uidlist; the
 * root's also guards subscriptions).  Returns the fd to close, or -1. */
static int dir_lock(const char *dir, GError **error)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		if (err == ENOENT)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no folder at %s", dir);
		else
			durable_set_error(error, err, "open", dir);
		return -1;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		int err = errno;
		close(fd);
		durable_set_error(error, err, "lock", dir);
		return -1;
	}
	return fd;
}

static void dir_unlock(int fd)
{
	close(fd);  /* drops the flock */
}

/* ======================================================================== */
/* Flags                                                                    */
/* ======================================================================== */

/* In ASCII order, the order they take in a file name. */
static const struct {
	MaildirFlag flag;
	char        letter;
	const char *name;
	const char *imap;  /* RFC 3501 2.3.2 system flag */
} flag_table[] = {
	{ MAILDIR_FLAG_DRAFT,   'D', "Draft",   "\\Draft" },
	{ MAILDIR_FLAG_FLAGGED, 'F', "Flagged", "\\Flagged" },
	{ MAILDIR_FLAG_PASSED,  'P', "Passed",  NULL },
	{ MAILDIR_FLAG_REPLIED, 'R', "Replied", "\\Answered" },
	{ MAILDIR_FLAG_SEEN,    'S', "Seen",    "\\Seen" },
	{ MAILDIR_FLAG_TRASHED, 'T', "Trashed", "\\Deleted" },
};

const char *maildir_flag_to_string(MaildirFlag flag)
{
	for (gsize i = 0; i < G_N_ELEMENTS(flag_table); i++)
		if (flag_table[i].flag == flag)
			return flag_table[i].name;
	return "UNKNOWN";
}

char maildir_flag_to_letter(MaildirFlag flag)
{
	for (gsize i = 0; i < G_N_ELEMENTS(flag_table); i++)
		if (flag_table[i].flag == flag)
			return flag_table[i].letter;
	return 0;
}

const char *maildir_flag_to_imap(MaildirFlag flag)
{
	for (gsize i = 0; i < G_N_ELEMENTS(flag_table); i++)
		if (flag_table[i].flag == flag)
			return flag_table[i].imap;
	return NULL;
}

static guint flag_of_letter(char c)
{
	for (gsize i = 0; i < G_N_ELEMENTS(flag_table); i++)
		if (flag_table[i].letter == c)
			return flag_table[i].flag;
	return 0;
}

gboolean maildir_flags_parse(const char *letters, guint *flags_r, GError **error)
{
	g_return_val_if_fail(letters != NULL && flags_r != NULL, FALSE);
	guint flags = 0;
	for (const char *p = letters; *p; p++) {
		guint flag = flag_of_letter(*p);
		if (!flag) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "not a Maildir flag: '%c' (one of DFPRST)", g_ascii_isprint(*p) ? *p : '?');
			return FALSE;
		}
		flags |= flag;
	}
	*flags_r = flags;
	return TRUE;
}

char *maildir_flags_format(guint flags, char buf[8])
{
	gsize n = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(flag_table); i++)
		if (flags & flag_table[i].flag)
			buf[n++] = flag_table[i].letter;
	buf[n] = '\0';
	return buf;
}

/* The info part after ":2,": flags and keywords merged, in ASCII order. */
static void info_format(GString *out, guint flags, const char *keywords)
{
	gboolean letters[128] = { FALSE };
	for (gsize i = 0; i < G_N_ELEMENTS(flag_table); i++)
		if (flags & flag_table[i].flag)
			letters[(guchar)flag_table[i].letter] = TRUE;
	for (const char *k = keywords; *k; k++)
		letters[(guchar)*k & 0x7f] = TRUE;
	for (int c = 'A'; c <= 'z'; c++)
		if (letters[c] && g_ascii_isalpha(c))
			g_string_append_c(out, (char)c);
}

/* Read the info letters: standard flags into *flags, other letters kept in
 * keywords (once each, in order). */
static void info_parse(const char *info, guint *flags, char keywords[MAILDIR_MAX_FLAGS_TEXT + 1])
{
	gsize n = 0;
	*flags = 0;
	keywords[0] = '\0';
	for (const char *p = info; *p; p++) {
		guint flag = flag_of_letter(*p);
		if (flag)
			*flags |= flag;
		else if (g_ascii_isalpha(*p) && !memchr(keywords, *p, n) && n < MAILDIR_MAX_FLAGS_TEXT)
			keywords[n++] = *p, keywords[n] = '\0';
	}
}

/* ======================================================================== */
/* Special use                                                              */
/* ======================================================================== */

/* RFC 6154 2: what a client shows with a special icon.  The names are the
 * ones mail clients create. */
static const struct {
	const char       *name;
	MaildirSpecialUse use;
} special_table[] = {
	{ "Archive",          MAILDIR_SPECIAL_ARCHIVE },
	{ "Drafts",           MAILDIR_SPECIAL_DRAFTS },
	{ "Junk",             MAILDIR_SPECIAL_JUNK },
	{ "Spam",             MAILDIR_SPECIAL_JUNK },
	{ "Sent",             MAILDIR_SPECIAL_SENT },
	{ "Sent Items",       MAILDIR_SPECIAL_SENT },
	{ "Sent Messages",    MAILDIR_SPECIAL_SENT },
	{ "Trash",            MAILDIR_SPECIAL_TRASH },
	{ "Deleted Items",    MAILDIR_SPECIAL_TRASH },
	{ "Deleted Messages", MAILDIR_SPECIAL_TRASH },
};

/* The folders of a new account. */
static const char *const default_folders[] = { "Drafts", "Sent", "Junk", "Trash" };

const char *maildir_special_use_to_string(MaildirSpecialUse use)
{
	switch (use) {
	case MAILDIR_SPECIAL_NONE:    return "";
	case MAILDIR_SPECIAL_ARCHIVE: return "\\Archive";
	case MAILDIR_SPECIAL_DRAFTS:  return "\\Drafts";
	case MAILDIR_SPECIAL_JUNK:    return "\\Junk";
	case MAILDIR_SPECIAL_SENT:    return "\\Sent";
	case MAILDIR_SPECIAL_TRASH:   return "\\Trash";
	}
	return "";
}

MaildirSpecialUse maildir_special_use_of(const char *folder)
{
	if (!folder)
		return MAILDIR_SPECIAL_NONE;
	for (gsize i = 0; i < G_N_ELEMENTS(special_table); i++)
		if (g_ascii_strcasecmp(folder, special_table[i].name) == 0)
			return special_table[i].use;
	return MAILDIR_SPECIAL_NONE;
}

/* ======================================================================== */
/* The handle, names and paths                                              */
/* ======================================================================== */

/* Maildir: "replace / with \057 and : with \072" in the host name; ','
 * too, since ",S=" follows it. */
static char *host_escape(const char *hostname)
{
	GString *out = g_string_new(NULL);
	for (const guchar *p = (const guchar *)(hostname ? hostname : ""); *p; p++) {
		if (*p == '/' || *p == ':' || *p == ',' || *p == '\\' || *p <= 0x20 || *p >= 0x7f)
			g_string_append_printf(out, "\\%03o", *p);
		else
			g_string_append_c(out, (char)*p);
		if (out->len >= MAILDIR_MAX_HOSTNAME)
			break;
	}
	if (out->len > MAILDIR_MAX_HOSTNAME)
		g_string_truncate(out, MAILDIR_MAX_HOSTNAME);
	if (out->len == 0)
		g_string_append(out, "localhost");
	return g_string_free(out, FALSE);
}

Maildir *maildir_new(const char *root, const char *hostname, gboolean sync)
{
	g_return_val_if_fail(root != NULL && root[0] != '\0', NULL);
	Maildir *md = g_new0(Maildir, 1);
	md->root = g_strdup(root);
	md->host = host_escape(hostname);
	md->sync = sync;
	return md;
}

void maildir_free(Maildir *md)
{
	if (!md)
		return;
	g_free(md->root);
	g_free(md->host);
	g_free(md);
}

const char *maildir_get_root(const Maildir *md)
{
	g_return_val_if_fail(md != NULL, NULL);
	return md->root;
}

static gboolean is_inbox(const char *name, gsize len)
{
	return len == strlen(MAILDIR_INBOX) && g_ascii_strncasecmp(name, MAILDIR_INBOX, len) == 0;
}

static gboolean name_refuse(GError **error, const char *why)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME, "bad folder name: %s", why);
	return FALSE;
}

gboolean maildir_folder_name_validate(const char *name, gsize len, GError **error)
{
	if (!name || len == 0)
		return name_refuse(error, "empty");
	if (len > MAILDIR_MAX_FOLDER_NAME)
		return name_refuse(error, "too long");
	if (memchr(name, '\0', len))
		return name_refuse(error, "NUL inside");
	if (is_inbox(name, len))
		return TRUE;
	if (!g_utf8_validate_len(name, len, NULL))
		return name_refuse(error, "not UTF-8");
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)name[i];
		if (c < 0x20 || c == 0x7f)
			return name_refuse(error, "control character");
		if (c == '/' || c == '\\')
			return name_refuse(error, "'/' or '\\'");
	}
	/* Maildir++: the name becomes ".NAME"; a leading, trailing or double
	 * dot would make an empty level or the directories "." and ".." */
	if (name[0] == MAILDIR_SEPARATOR || name[len - 1] == MAILDIR_SEPARATOR)
		return name_refuse(error, "'.' at an end");
	if (memmem(name, len, "..", 2))
		return name_refuse(error, "\"..\"");
	/* the root is INBOX: "INBOX.x" would be .INBOX.x, not under it */
	if (len > 5 && name[5] == MAILDIR_SEPARATOR && is_inbox(name, 5))
		return name_refuse(error, "nothing lives under INBOX here");
	return TRUE;
}

const char *maildir_folder_canonical(const char *name)
{
	if (!name || is_inbox(name, strlen(name)))
		return MAILDIR_INBOX;
	return name;
}

static gboolean folder_check(const char *folder, GError **error)
{
	if (!folder)
		return TRUE;
	return maildir_folder_name_validate(folder, strnlen(folder, MAILDIR_MAX_FOLDER_NAME + 1),
	                                    error);
}

/* The folder's directory; the name must have been checked. */
static char *folder_dir(const Maildir *md, const char *folder)
{
	if (!folder || is_inbox(folder, strlen(folder)))
		return g_strdup(md->root);
	return g_strdup_printf("%s/%c%s", md->root, MAILDIR_SEPARATOR, folder);
}

/* Check, and the directory of a folder that must exist. */
static char *folder_dir_existing(const Maildir *md, const char *folder, GError **error)
{
	if (!folder_check(folder, error))
		return NULL;
	char *dir = folder_dir(md, folder);
	g_autofree char *cur = g_build_filename(dir, "cur", NULL);
	if (!is_dir(cur)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no folder %s (%s)",
		            maildir_folder_canonical(folder), dir);
		g_free(dir);
		return NULL;
	}
	return dir;
}

/* One part of an address as a directory name: lowered, and unable to
 * name any other place. */
static char *path_part(const char *part, gsize len, GError **error)
{
	if (len == 0 || len > MAILDIR_MAX_FOLDER_NAME || part[0] == '.' || memchr(part, '/', len) ||
	    memchr(part, '\\', len)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
		            "address part unusable as a directory: %.*s", (int)MIN(len, 80), part);
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)part[i];
		if (c < 0x20 || c == 0x7f) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
			            "control character in address");
			return NULL;
		}
	}
	return g_ascii_strdown(part, (gssize)len);
}

char *maildir_user_root(const char *mail_dir, const char *address, GError **error)
{
	g_return_val_if_fail(mail_dir != NULL, NULL);
	gsize len = address ? strnlen(address, 2 * MAILDIR_MAX_FOLDER_NAME + 2) : 0;
	const char *at = address ? memrchr(address, '@', len) : NULL;
	if (!at || len > 2 * MAILDIR_MAX_FOLDER_NAME + 1) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME, "not an address: %.80s",
		            address ? address : "(null)");
		return NULL;
	}
	g_autofree char *local = path_part(address, (gsize)(at - address), error);
	if (!local)
		return NULL;
	g_autofree char *domain = path_part(at + 1, len - (gsize)(at - address) - 1, error);
	if (!domain)
		return NULL;
	return g_build_filename(mail_dir, domain, local, NULL);
}

char *maildir_name_prefix(const MaildirStamp *stamp)
{
	g_return_val_if_fail(stamp != NULL, NULL);
	gint64 t = MAX(stamp->time_us, 0);
	return g_strdup_printf("%" G_GINT64_FORMAT ".M%" G_GINT64_FORMAT "P%" G_GUINT64_FORMAT
	                       "Q%" G_GUINT64_FORMAT ".",
	                       t / G_USEC_PER_SEC, t % G_USEC_PER_SEC, stamp->process, stamp->counter);
}

/* SECONDS.M<usec>P<process>Q<counter>.HOST,S=<size>; the stamp's counter
 * moves on so the next name differs. */
static char *name_make(const Maildir *md, MaildirStamp *stamp, guint64 size)
{
	g_autofree char *prefix = maildir_name_prefix(stamp);
	char *name = g_strdup_printf("%s%s,S=%" G_GUINT64_FORMAT, prefix, md->host, size);
	stamp->counter++;
	return name;
}

/* "new/BASE" or "cur/BASE:2,INFO" */
static char *message_rel_path(gboolean in_new, const char *base, guint flags, const char *keywords)
{
	if (in_new)
		return g_strconcat("new/", base, NULL);
	GString *s = g_string_new("cur/");
	g_string_append(s, base);
	g_string_append(s, ":2,");
	info_format(s, flags, keywords);
	return g_string_free(s, FALSE);
}

static gboolean message_check(const MaildirMessage *msg, GError **error);

char *maildir_message_path(Maildir *md, const MaildirMessage *msg)
{
	g_return_val_if_fail(md != NULL && msg != NULL, NULL);
	g_return_val_if_fail(message_check(msg, NULL), NULL);
	g_autofree char *dir = folder_dir(md, msg->folder);
	g_autofree char *rel = message_rel_path(msg->in_new, msg->base, msg->flags, msg->keywords);
	return g_build_filename(dir, rel, NULL);
}

/* ======================================================================== */
/* Creating                                                                 */
/* ======================================================================== */

static gboolean make_dir(const char *path, GError **error)
{
	if (g_mkdir(path, 0700) != 0 && !(errno == EEXIST && is_dir(path)))
		return durable_set_error(error, errno, "mkdir", path);
	return TRUE;
}

static char *uidlist_header(guint32 uidvalidity, guint32 uidnext)
{
	return g_strdup_printf("V%u N%u\n", uidvalidity, uidnext);
}

/* Write dir/name only if it is not there: a temporary, then a rename that
 * does not replace. */
static gboolean file_create_once(const char *dir, const char *name, const char *data,
                                 gboolean sync, GError **error)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	if (g_file_test(path, G_FILE_TEST_EXISTS))
		return TRUE;
	g_autofree char *tmp = g_strconcat(path, ".new", NULL);
	if (!file_write(tmp, data, strlen(data), FALSE, sync, error))
		return FALSE;
	if (rename_noreplace(tmp, path) != 0) {
		int err = errno;
		unlink(tmp);
		if (err != EEXIST)
			return durable_set_error(error, err, "rename", tmp);
	}
	return TRUE;
}

gboolean maildir_ensure(Maildir *md, guint32 uidvalidity, GError **error)
{
	g_return_val_if_fail(md != NULL, FALSE);
	if (uidvalidity == 0) {
		/* RFC 3501 9: uniqueid is nz-number */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "UIDVALIDITY must not be 0");
		return FALSE;
	}
	if (g_mkdir_with_parents(md->root, 0700) != 0)
		return durable_set_error(error, errno, "mkdir", md->root);
	for (gsize i = 0; i < G_N_ELEMENTS(maildir_subdirs); i++) {
		g_autofree char *sub = g_build_filename(md->root, maildir_subdirs[i], NULL);
		if (!make_dir(sub, error))
			return FALSE;
	}
	g_autofree char *header = uidlist_header(uidvalidity, 1);
	return file_create_once(md->root, MAILDIR_UIDLIST_FILE, header, md->sync, error) &&
	       (!md->sync || dir_sync(md->root, error));
}

/* Build one folder in the root's tmp/ and rename it into place, so nobody
 * ever sees it half made. */
static gboolean folder_make(Maildir *md, const char *name, guint32 uidvalidity, GError **error)
{
	g_autofree char *final = folder_dir(md, name);
	g_autofree char *staging = g_strdup_printf("%s/tmp/" STAGING_NEW "%s", md->root, name);
	if (!tree_remove(staging, 0, error))  /* left by a crash */
		return FALSE;
	if (g_mkdir(staging, 0700) != 0)
		return durable_set_error(error, errno, "mkdir", staging);

	gboolean ok = TRUE;
	for (gsize i = 0; ok && i < G_N_ELEMENTS(maildir_subdirs); i++) {
		g_autofree char *sub = g_build_filename(staging, maildir_subdirs[i], NULL);
		ok = make_dir(sub, error);
	}
	g_autofree char *header = uidlist_header(uidvalidity, 1);
	g_autofree char *marker = g_build_filename(staging, MAILDIR_FOLDER_MARKER, NULL);
	g_autofree char *uidlist = g_build_filename(staging, MAILDIR_UIDLIST_FILE, NULL);
	/* Maildir++: the marker tells a deliverer this is a folder, not a root */
	ok = ok && file_write(marker, "", 0, TRUE, md->sync, error);
	ok = ok && file_write(uidlist, header, strlen(header), TRUE, md->sync, error);
	ok = ok && (!md->sync || dir_sync(staging, error));
	if (ok && rename_noreplace(staging, final) != 0) {
		int err = errno;
		ok = FALSE;
		if (err == EEXIST || err == ENOTEMPTY)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "folder %s exists", name);
		else
			durable_set_error(error, err, "rename", staging);
	}
	if (!ok)
		tree_remove(staging, 0, NULL);
	return ok;
}

gboolean maildir_folder_create(Maildir *md, const char *name, guint32 uidvalidity,
                               GError **error)
{
	g_return_val_if_fail(md != NULL, FALSE);
	if (!folder_check(name, error))
		return FALSE;
	if (!name || is_inbox(name, strlen(name))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "INBOX always exists");
		return FALSE;
	}
	if (uidvalidity == 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "UIDVALIDITY must not be 0");
		return FALSE;
	}
	g_autofree char *tmp = g_build_filename(md->root, "tmp", NULL);
	if (!is_dir(tmp)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no Maildir at %s", md->root);
		return FALSE;
	}
	if (maildir_folder_exists(md, name)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "folder %s exists", name);
		return FALSE;
	}
	/* parents first: "A", "A.B", then "A.B.C" */
	for (const char *dot = strchr(name, MAILDIR_SEPARATOR); dot;
	     dot = strchr(dot + 1, MAILDIR_SEPARATOR)) {
		g_autofree char *parent = g_strndup(name, (gsize)(dot - name));
		if (maildir_folder_exists(md, parent))
			continue;
		GError *local_error = NULL;
		if (!folder_make(md, parent, uidvalidity, &local_error) &&
		    !g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
			g_propagate_error(error, local_error);
			return FALSE;
		}
		g_clear_error(&local_error);
	}
	return folder_make(md, name, uidvalidity, error) && (!md->sync || dir_sync(md->root, error));
}

gboolean maildir_folder_exists(Maildir *md, const char *name)
{
	g_return_val_if_fail(md != NULL, FALSE);
	if (!folder_check(name, NULL))
		return FALSE;
	g_autofree char *dir = folder_dir(md, name);
	g_autofree char *cur = g_build_filename(dir, "cur", NULL);
	return is_dir(cur);
}

gboolean maildir_folder_delete(Maildir *md, const char *name, GError **error)
{
	g_return_val_if_fail(md != NULL, FALSE);
	if (!folder_check(name, error))
		return FALSE;
	if (!name || is_inbox(name, strlen(name))) {
		/* RFC 3501 6.3.4: deleting INBOX is an error */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "INBOX cannot be deleted");
		return FALSE;
	}
	g_autofree char *dir = folder_dir(md, name);
	if (!is_dir(dir)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no folder %s", name);
		return FALSE;
	}
	/* out of sight in one step, then removed at leisure */
	g_autofree char *staging = g_strdup_printf("%s/tmp/" STAGING_DELETED "%s", md->root, name);
	if (!tree_remove(staging, 0, error))
		return FALSE;
	if (rename(dir, staging) != 0)
		return durable_set_error(error, errno, "rename", dir);
	if (md->sync && !dir_sync(md->root, error))
		return FALSE;
	return tree_remove(staging, 0, error);
}

/* The names of the folder directories in the root (".X" -> "X"), valid
 * names only.  *names_r: new strings. */
static gboolean folder_names(Maildir *md, GPtrArray **names_r, GError **error)
{
	DIR *dir = opendir(md->root);
	if (!dir)
		return durable_set_error(error, errno, "open", md->root);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	struct dirent *e;
	gboolean ok = TRUE;
	while ((e = readdir(dir))) {
		const char *n = e->d_name;
		if (n[0] != MAILDIR_SEPARATOR || n[1] == '\0' || strcmp(n, "..") == 0)
			continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		if (!maildir_folder_name_validate(n + 1, strlen(n + 1), NULL) || is_inbox(n + 1, strlen(n + 1)))
			continue;
		if (names->len >= MAILDIR_MAX_FOLDERS) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: more than %d folders",
			            md->root, MAILDIR_MAX_FOLDERS);
			ok = FALSE;
			break;
		}
		g_autofree char *cur = g_strdup_printf("%s/%s/cur", md->root, n);
		if (is_dir(cur))
			g_ptr_array_add(names, g_strdup(n + 1));
	}
	closedir(dir);
	if (!ok) {
		g_ptr_array_unref(names);
		return FALSE;
	}
	*names_r = names;
	return TRUE;
}

gboolean maildir_folder_rename(Maildir *md, const char *from_name, const char *to_name,
                               GError **error)
{
	g_return_val_if_fail(md != NULL, FALSE);
	if (!folder_check(from_name, error) || !folder_check(to_name, error))
		return FALSE;
	if (!from_name || !to_name || is_inbox(from_name, strlen(from_name)) ||
	    is_inbox(to_name, strlen(to_name))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
		            "INBOX cannot be renamed here, nor anything renamed to it");
		return FALSE;
	}
	g_autofree char *from_dir = folder_dir(md, from_name);
	if (!is_dir(from_dir)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no folder %s", from_name);
		return FALSE;
	}

	/* the folder and its children: "A" -> "B", "A.x" -> "B.x", checked
	 * all before anything moves */
	g_autoptr(GPtrArray) all = NULL;
	if (!folder_names(md, &all, error))
		return FALSE;
	g_autoptr(GPtrArray) from = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) to = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(from, g_strdup(from_name));
	g_ptr_array_add(to, g_strdup(to_name));
	gsize from_len = strlen(from_name);
	for (guint i = 0; i < all->len; i++) {
		const char *n = all->pdata[i];
		if (strncmp(n, from_name, from_len) == 0 && n[from_len] == MAILDIR_SEPARATOR) {
			g_ptr_array_add(from, g_strdup(n));
			g_ptr_array_add(to, g_strconcat(to_name, n + from_len, NULL));
		}
	}
	for (guint i = 0; i < to->len; i++) {
		const char *n = to->pdata[i];
		if (!maildir_folder_name_validate(n, strlen(n), error))
			return FALSE;
		g_autofree char *dir = folder_dir(md, n);
		if (g_file_test(dir, G_FILE_TEST_EXISTS)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "folder %s exists", n);
			return FALSE;
		}
	}
	for (guint i = 0; i < from->len; i++) {
		g_autofree char *a = folder_dir(md, from->pdata[i]);
		g_autofree char *b = folder_dir(md, to->pdata[i]);
		if (rename_noreplace(a, b) != 0)
			return durable_set_error(error, errno, "rename", a);
	}
	return !md->sync || dir_sync(md->root, error);
}

void maildir_folder_free(MaildirFolder *folder)
{
	if (!folder)
		return;
	g_free(folder->name);
	g_free(folder);
}

static gint folder_compare(gconstpointer a, gconstpointer b)
{
	const MaildirFolder *fa = *(MaildirFolder *const *)a, *fb = *(MaildirFolder *const *)b;
	gboolean ia = strcmp(fa->name, MAILDIR_INBOX) == 0, ib = strcmp(fb->name, MAILDIR_INBOX) == 0;
	if (ia != ib)
		return ia ? -1 : 1;
	return strcmp(fa->name, fb->name);
}

gboolean maildir_folder_list(Maildir *md, GPtrArray **folders_r, GError **error)
{
	g_return_val_if_fail(md != NULL && folders_r != NULL, FALSE);
	*folders_r = NULL;
	g_autoptr(GPtrArray) names = NULL;
	if (!folder_names(md, &names, error))
		return FALSE;

	/* name -> MaildirFolder, missing parents added as \Noselect */
	g_autoptr(GHashTable) by_name = g_hash_table_new(g_str_hash, g_str_equal);
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)maildir_folder_free);
	MaildirFolder *inbox = g_new0(MaildirFolder, 1);
	inbox->name = g_strdup(MAILDIR_INBOX);
	inbox->selectable = TRUE;
	g_ptr_array_add(out, inbox);
	for (guint i = 0; i < names->len; i++) {
		MaildirFolder *f = g_new0(MaildirFolder, 1);
		f->name = g_strdup(names->pdata[i]);
		f->special_use = maildir_special_use_of(f->name);
		f->selectable = TRUE;
		g_ptr_array_add(out, f);
		g_hash_table_insert(by_name, f->name, f);
	}
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		for (const char *dot = strrchr(name, MAILDIR_SEPARATOR); dot;
		     dot = g_strrstr_len(name, dot - name, ".")) {
			g_autofree char *parent = g_strndup(name, (gsize)(dot - name));
			MaildirFolder *p = g_hash_table_lookup(by_name, parent);
			if (!p) {
				p = g_new0(MaildirFolder, 1);
				p->name = g_steal_pointer(&parent);
				g_ptr_array_add(out, p);
				g_hash_table_insert(by_name, p->name, p);
			}
			p->has_children = TRUE;
		}
	}
	g_ptr_array_sort(out, folder_compare);
	*folders_r = out;
	return TRUE;
}

/* ======================================================================== */
/* Subscriptions                                                            */
/* ======================================================================== */

static gboolean subscriptions_load(Maildir *md, GPtrArray **names_r, GError **error)
{
	g_autofree char *path = g_build_filename(md->root, MAILDIR_SUBSCRIPTIONS_FILE, NULL);
	g_autofree char *data = NULL;
	gsize len = 0;
	GError *local_error = NULL;
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	if (!file_read(path, MAILDIR_MAX_SUBSCRIPTIONS_SIZE, &data, &len, &local_error)) {
		if (!g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
			g_propagate_error(error, local_error);
			g_ptr_array_unref(names);
			return FALSE;
		}
		g_clear_error(&local_error);
		*names_r = names;
		return TRUE;
	}
	char *line = data, *end = data + len;
	while (line < end) {
		char *nl = memchr(line, '\n', (gsize)(end - line));
		gsize n = nl ? (gsize)(nl - line) : (gsize)(end - line);
		if (n > 0 && maildir_folder_name_validate(line, n, NULL))
			g_ptr_array_add(names, g_strndup(line, n));
		line += n + 1;
	}
	*names_r = names;
	return TRUE;
}

gboolean maildir_subscriptions_read(Maildir *md, GPtrArray **names_r, GError **error)
{
	g_return_val_if_fail(md != NULL && names_r != NULL, FALSE);
	*names_r = NULL;
	return subscriptions_load(md, names_r, error);
}

static gboolean names_contain(GPtrArray *names, const char *name)
{
	for (guint i = 0; i < names->len; i++)
		if (strcmp(names->pdata[i], name) == 0)
			return TRUE;
	return FALSE;
}

/* Subscribe or unsubscribe several names in one rewrite of the file. */
static gboolean subscriptions_update(Maildir *md, const char *const *names, gsize n,
                                     gboolean subscribed, GError **error)
{
	int lock = dir_lock(md->root, error);
	if (lock < 0)
		return FALSE;
	g_autoptr(GPtrArray) list = NULL;
	gboolean ok = subscriptions_load(md, &list, error);
	gboolean changed = FALSE;
	for (gsize i = 0; ok && i < n; i++) {
		const char *name = maildir_folder_canonical(names[i]);
		if (subscribed && !names_contain(list, name)) {
			g_ptr_array_add(list, g_strdup(name));
			changed = TRUE;
		}
		for (guint j = 0; !subscribed && j < list->len; j++) {
			if (strcmp(list->pdata[j], name) == 0) {
				g_ptr_array_remove_index(list, j--);
				changed = TRUE;
			}
		}
	}
	if (ok && changed) {
		GString *text = g_string_new(NULL);
		for (guint i = 0; i < list->len; i++)
			g_string_append_printf(text, "%s\n", (const char *)list->pdata[i]);
		ok = file_replace(md->root, MAILDIR_SUBSCRIPTIONS_FILE, text->str, text->len, md->sync,
		                  error);
		g_string_free(text, TRUE);
	}
	dir_unlock(lock);
	return ok;
}

gboolean maildir_subscription_set(Maildir *md, const char *name, gboolean subscribed,
                                  GError **error)
{
	g_return_val_if_fail(md != NULL, FALSE);
	if (!name)
		return name_refuse(error, "empty");
	if (!folder_check(name, error))
		return FALSE;
	return subscriptions_update(md, &name, 1, subscribed, error);
}

gboolean maildir_ensure_defaults(Maildir *md, guint32 uidvalidity, GError **error)
{
	g_return_val_if_fail(md != NULL, FALSE);
	if (!maildir_ensure(md, uidvalidity, error))
		return FALSE;
	for (gsize i = 0; i < G_N_ELEMENTS(default_folders); i++) {
		GError *local_error = NULL;
		if (!maildir_folder_exists(md, default_folders[i]) &&
		    !maildir_folder_create(md, default_folders[i], uidvalidity, &local_error) &&
		    !g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
			g_propagate_error(error, local_error);
			return FALSE;
		}
		g_clear_error(&local_error);
	}
	const char *subscribe[G_N_ELEMENTS(default_folders) + 1] = { MAILDIR_INBOX };
	for (gsize i = 0; i < G_N_ELEMENTS(default_folders); i++)
		subscribe[i + 1] = default_folders[i];
	return subscriptions_update(md, subscribe, G_N_ELEMENTS(subscribe), TRUE, error);
}

/* ======================================================================== */
/* Delivering                                                               */
/* ======================================================================== */

/* One delivery's progress through the batch. */
typedef struct {
	char *dir;       /* the folder's directory */
	char *tmp_path;  /* tmp/NAME while written */
	char *target;    /* "new" or "cur": the directory to sync */
} Pending;

static void pending_clear(Pending *p)
{
	if (p->tmp_path)
		unlink(p->tmp_path);
	g_clear_pointer(&p->dir, g_free);
	g_clear_pointer(&p->tmp_path, g_free);
	g_clear_pointer(&p->target, g_free);
}

/* Phase 1: tmp/NAME, complete and synced.  *name_r: the name used. */
static gboolean deliver_write(MaildirDelivery *item, Pending *p, MaildirStamp *stamp,
                              char **name_r, GError **error)
{
	Maildir *md = item->maildir;
	if (item->len > MAILDIR_MAX_MESSAGE_SIZE) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
		            "message of %" G_GSIZE_FORMAT " octets, over %d", item->len,
		            MAILDIR_MAX_MESSAGE_SIZE);
		return FALSE;
	}
	if ((item->flags & ~MAILDIR_FLAGS_ALL) != 0 || (!item->data && item->len > 0)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad delivery arguments");
		return FALSE;
	}
	p->dir = folder_dir_existing(md, item->folder, error);
	if (!p->dir)
		return FALSE;
	for (guint tries = 0; tries < MAILDIR_MAX_NAME_TRIES; tries++) {
		g_autofree char *name = name_make(md, stamp, item->len);
		g_autofree char *path = g_build_filename(p->dir, "tmp", name, NULL);
		GError *local_error = NULL;
		if (file_write(path, item->data ? item->data : "", item->len, TRUE, md->sync, &local_error)) {
			p->tmp_path = g_steal_pointer(&path);
			*name_r = g_steal_pointer(&name);
			return TRUE;
		}
		if (!g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
			g_propagate_error(error, local_error);
			return FALSE;
		}
		g_clear_error(&local_error);
	}
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s/tmp: no free name after %d tries",
	            p->dir, MAILDIR_MAX_NAME_TRIES);
	return FALSE;
}

/* Phase 2: rename into new/ (or cur/ with flags), never over another
 * message: a clash takes the next name. */
static gboolean deliver_commit(MaildirDelivery *item, Pending *p, MaildirStamp *stamp,
                               char *name, GError **error)
{
	Maildir *md = item->maildir;
	gboolean in_new = item->flags == 0;
	g_autofree char *base = name;
	for (guint tries = 0; tries < MAILDIR_MAX_NAME_TRIES; tries++) {
		g_autofree char *rel = message_rel_path(in_new, base, item->flags, "");
		g_autofree char *final = g_build_filename(p->dir, rel, NULL);
		if (rename_noreplace(p->tmp_path, final) == 0) {
			g_clear_pointer(&p->tmp_path, g_free);
			p->target = g_build_filename(p->dir, in_new ? "new" : "cur", NULL);
			item->base_r = g_steal_pointer(&base);
			return TRUE;
		}
		if (errno != EEXIST)
			return durable_set_error(error, errno, "rename", p->tmp_path);
		g_free(base);
		base = name_make(md, stamp, item->len);
	}
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s: no free name after %d tries",
	            p->dir, MAILDIR_MAX_NAME_TRIES);
	return FALSE;
}

guint maildir_deliver_batch_unsynced(MaildirDelivery *items, guint n_items, MaildirStamp *stamp)
{
	g_return_val_if_fail(items != NULL || n_items == 0, 0);
	g_return_val_if_fail(stamp != NULL, 0);
	guint placed = 0;
	for (guint i = 0; i < n_items; i++) {
		MaildirDelivery *item = &items[i];
		item->base_r = NULL;
		item->error_r = NULL;
		item->sync_dir_r = NULL;
		if (!item->maildir) {
			g_set_error(&item->error_r, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no Maildir");
			continue;
		}
		Pending p = { NULL };
		char *name = NULL;
		if (deliver_write(item, &p, stamp, &name, &item->error_r) &&
		    deliver_commit(item, &p, stamp, name, &item->error_r)) {
			if (item->maildir->sync)
				item->sync_dir_r = g_steal_pointer(&p.target);
			placed++;
		}
		pending_clear(&p);
	}
	return placed;
}

gboolean maildir_sync_dir(const char *dir, GError **error)
{
	g_return_val_if_fail(dir != NULL, FALSE);
	return dir_sync(dir, error);
}

guint maildir_deliver_batch(MaildirDelivery *items, guint n_items, MaildirStamp *stamp)
{
	g_return_val_if_fail(items != NULL || n_items == 0, 0);
	g_return_val_if_fail(stamp != NULL, 0);
	maildir_deliver_batch_unsynced(items, n_items, stamp);

	/* Phase 3: each directory synced once, however many messages it got */
	g_autoptr(GHashTable) synced = g_hash_table_new(g_str_hash, g_str_equal);
	guint delivered = 0;
	for (guint i = 0; i < n_items; i++) {
		MaildirDelivery *item = &items[i];
		const char *target = item->sync_dir_r;
		if (target && !g_hash_table_contains(synced, target)) {
			GError *sync_error = NULL;
			g_hash_table_add(synced, (gpointer)target);
			if (!dir_sync(target, &sync_error)) {
				/* every message renamed into it is unsure now */
				for (guint j = i; j < n_items; j++) {
					if (items[j].sync_dir_r && strcmp(items[j].sync_dir_r, target) == 0) {
						g_clear_pointer(&items[j].base_r, g_free);
						if (!items[j].error_r)
							items[j].error_r = g_error_copy(sync_error);
					}
				}
				g_error_free(sync_error);
			}
		}
		if (item->base_r)
			delivered++;
	}
	g_hash_table_remove_all(synced);   /* its keys are about to go */
	for (guint i = 0; i < n_items; i++)
		g_clear_pointer(&items[i].sync_dir_r, g_free);
	return delivered;
}

gboolean maildir_deliver(Maildir *md, const char *folder, const char *data, gsize len,
                         guint flags, MaildirStamp *stamp, char **base_r, GError **error)
{
	g_return_val_if_fail(md != NULL && stamp != NULL, FALSE);
	MaildirDelivery item = {
		.maildir = md, .folder = folder, .data = data, .len = len, .flags = flags,
	};
	if (maildir_deliver_batch(&item, 1, stamp) == 1) {
		if (base_r)
			*base_r = item.base_r;
		else
			g_free(item.base_r);
		return TRUE;
	}
	g_propagate_error(error, item.error_r);
	return FALSE;
}

/* ======================================================================== */
/* Scanning                                                                 */
/* ======================================================================== */

void maildir_message_free(MaildirMessage *msg)
{
	if (!msg)
		return;
	g_free(msg->base);
	g_free(msg->folder);
	g_free(msg);
}

MaildirMessage *maildir_message_dup(const MaildirMessage *msg)
{
	g_return_val_if_fail(msg != NULL, NULL);
	MaildirMessage *copy = g_memdup2(msg, sizeof *msg);
	copy->base = g_strdup(msg->base);
	copy->folder = g_strdup(msg->folder);
	return copy;
}

/* Leading decimal digits as a number; *end_r past them.  FALSE if none or
 * too many. */
static gboolean parse_number(const char *s, guint64 max, guint64 *value_r, const char **end_r)
{
	guint64 v = 0;
	const char *p = s;
	while (g_ascii_isdigit(*p)) {
		guint d = (guint)(*p - '0');
		if (v > (max - d) / 10)
			return FALSE;
		v = v * 10 + d;
		p++;
	}
	if (p == s)
		return FALSE;
	*value_r = v;
	*end_r = p;
	return TRUE;
}

/* ",S=<size>" anywhere in the base, as Dovecot writes it. */
static gboolean name_size(const char *base, guint64 *size_r)
{
	for (const char *s = strstr(base, ",S="); s; s = strstr(s + 1, ",S=")) {
		const char *end;
		if (parse_number(s + 3, G_MAXINT64, size_r, &end) && (*end == '\0' || *end == ','))
			return TRUE;
	}
	return FALSE;
}

/* "SECONDS.M<usec>..." at the start of the base. */
static gboolean name_time(const char *base, gint64 *time_us_r)
{
	guint64 sec, usec = 0;
	const char *end;
	if (!parse_number(base, G_MAXINT64 / G_USEC_PER_SEC - 1, &sec, &end) || *end != '.')
		return FALSE;
	if (end[1] == 'M' && !parse_number(end + 2, G_USEC_PER_SEC - 1, &usec, &end))
		usec = 0;
	*time_us_r = (gint64)(sec * G_USEC_PER_SEC + usec);
	return TRUE;
}

/* A file name in new/ or cur/ we are willing to handle. */
static gboolean file_name_usable(const char *name)
{
	if (name[0] == '.' || name[0] == ':' || name[0] == '\0')
		return FALSE;
	for (const guchar *p = (const guchar *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return FALSE;
	return TRUE;
}

/* Fill a message from its file name; stat only when the name lacks the
 * size or the time. */
static MaildirMessage *message_from_name(const char *folder, const char *subdir_path,
                                         const char *name, gboolean in_new)
{
	MaildirMessage *msg = g_new0(MaildirMessage, 1);
	const char *colon = strchr(name, ':');
	msg->base = colon ? g_strndup(name, (gsize)(colon - name)) : g_strdup(name);
	msg->folder = g_strdup(maildir_folder_canonical(folder));
	msg->in_new = in_new;
	/* only version 2 info carries flags; "new/" files should have none */
	if (colon && g_str_has_prefix(colon, ":2,"))
		info_parse(colon + 3, &msg->flags, msg->keywords);

	gboolean have_size = name_size(msg->base, &msg->size);
	gboolean have_time = name_time(msg->base, &msg->internal_date_us);
	if (!have_size || !have_time) {
		g_autofree char *path = g_build_filename(subdir_path, name, NULL);
		GStatBuf st;
		if (g_stat(path, &st) == 0) {
			if (!have_size)
				msg->size = (guint64)MAX(st.st_size, 0);
			if (!have_time)
				msg->internal_date_us = (gint64)st.st_mtime * G_USEC_PER_SEC;
		}
	}
	return msg;
}

/* Read new/ and cur/ into base -> message, cur/ winning over new/ (a
 * message caught between the two by another session's rename). */
static gboolean scan_folder(Maildir *md, const char *folder, const char *dir,
                            GHashTable *by_base, GError **error)
{
	static const struct { const char *sub; gboolean in_new; } parts[] = {
		{ "new", TRUE }, { "cur", FALSE },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(parts); i++) {
		g_autofree char *path = g_build_filename(dir, parts[i].sub, NULL);
		DIR *d = opendir(path);
		if (!d)
			return durable_set_error(error, errno, "open", path);
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!file_name_usable(e->d_name) || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
				continue;
			if (g_hash_table_size(by_base) >= MAILDIR_MAX_MESSAGES) {
				closedir(d);
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: more than %d messages",
				            dir, MAILDIR_MAX_MESSAGES);
				return FALSE;
			}
			MaildirMessage *msg = message_from_name(folder, path, e->d_name, parts[i].in_new);
			g_hash_table_replace(by_base, msg->base, msg);
		}
		closedir(d);
	}
	return TRUE;
}

gboolean maildir_folder_scan(Maildir *md, const char *folder, GPtrArray **messages_r,
                             GError **error)
{
	g_return_val_if_fail(md != NULL && messages_r != NULL, FALSE);
	*messages_r = NULL;
	g_autofree char *dir = folder_dir_existing(md, folder, error);
	if (!dir)
		return FALSE;
	g_autoptr(GHashTable) by_base = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	                                                      (GDestroyNotify)maildir_message_free);
	if (!scan_folder(md, folder, dir, by_base, error))
		return FALSE;
	GPtrArray *out = g_ptr_array_new_full(g_hash_table_size(by_base),
	                                      (GDestroyNotify)maildir_message_free);
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, by_base);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		g_ptr_array_add(out, value);
		g_hash_table_iter_steal(&it);
	}
	*messages_r = out;
	return TRUE;
}

/* ======================================================================== */
/* UIDs                                                                     */
/* ======================================================================== */

void maildir_index_free(MaildirIndex *index)
{
	if (!index)
		return;
	if (index->messages)
		g_ptr_array_unref(index->messages);
	g_free(index);
}

typedef struct {
	guint32     uidvalidity;
	guint32     uidnext;
	GHashTable *uids;  /* base (owned) -> GUINT_TO_POINTER(uid) */
} Uidlist;

/* "V<uidvalidity> N<uidnext>\n" then "<uid> <base>\n" lines, UIDs rising
 * and below uidnext.  FALSE if the text is anything else. */
static gboolean uidlist_parse(const char *data, gsize len, Uidlist *list)
{
	const char *end = data + len, *p = data;
	guint64 v, n;
	if (len < 5 || *p++ != 'V' || !parse_number(p, G_MAXUINT32, &v, &p) || v == 0 ||
	    *p++ != ' ' || *p++ != 'N' || !parse_number(p, G_MAXUINT32, &n, &p) || n == 0)
		return FALSE;
	/* tolerate fields a later version may add to the header line */
	p = memchr(p, '\n', (gsize)(end - p));
	if (!p)
		return FALSE;
	p++;
	list->uidvalidity = (guint32)v;
	list->uidnext = (guint32)n;
	guint64 last = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (gsize)(end - p));
		if (!nl)
			return FALSE;  /* cut short: not written by our atomic replace */
		guint64 uid;
		const char *sp;
		if (!parse_number(p, G_MAXUINT32, &uid, &sp) || *sp != ' ' || uid <= last || uid >= n)
			return FALSE;
		const char *base = sp + 1;
		if (base >= nl || memchr(base, '\0', (gsize)(nl - base)))
			return FALSE;
		char *key = g_strndup(base, (gsize)(nl - base));
		if (g_hash_table_contains(list->uids, key)) {
			g_free(key);
			return FALSE;
		}
		g_hash_table_insert(list->uids, key, GUINT_TO_POINTER((guint)uid));
		last = uid;
		p = nl + 1;
	}
	return TRUE;
}

static gint message_by_uid(gconstpointer a, gconstpointer b)
{
	const MaildirMessage *ma = *(MaildirMessage *const *)a, *mb = *(MaildirMessage *const *)b;
	return ma->uid < mb->uid ? -1 : ma->uid > mb->uid;
}

/* Delivery order: the time in the name, then the name. */
static gint message_by_arrival(gconstpointer a, gconstpointer b)
{
	const MaildirMessage *ma = *(MaildirMessage *const *)a, *mb = *(MaildirMessage *const *)b;
	if (ma->internal_date_us != mb->internal_date_us)
		return ma->internal_date_us < mb->internal_date_us ? -1 : 1;
	return strcmp(ma->base, mb->base);
}

/* The sync under the directory lock. */
static gboolean sync_locked(Maildir *md, const char *folder, const char *dir,
                            guint32 uidvalidity_if_new, MaildirIndex *index, GError **error)
{
	g_autoptr(GHashTable) by_base = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	                                                      (GDestroyNotify)maildir_message_free);
	if (!scan_folder(md, folder, dir, by_base, error))
		return FALSE;

	Uidlist list = { .uids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) };
	g_autofree char *path = g_build_filename(dir, MAILDIR_UIDLIST_FILE, NULL);
	g_autofree char *data = NULL;
	gsize len = 0;
	GError *read_error = NULL;
	gboolean loaded = file_read(path, MAILDIR_MAX_UIDLIST_SIZE, &data, &len, &read_error);
	if (!loaded && !g_error_matches(read_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) &&
	    !g_error_matches(read_error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE)) {
		g_propagate_error(error, read_error);
		g_hash_table_destroy(list.uids);
		return FALSE;
	}
	g_clear_error(&read_error);
	gboolean changed = FALSE;
	if (!loaded || !uidlist_parse(data, len, &list)) {
		if (uidvalidity_if_new == 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "%s must be made anew and UIDVALIDITY 0 is not allowed", path);
			g_hash_table_destroy(list.uids);
			return FALSE;
		}
		/* RFC 3501 2.3.1.1: new UIDs need a new UIDVALIDITY */
		g_hash_table_remove_all(list.uids);
		list.uidvalidity = uidvalidity_if_new;
		list.uidnext = 1;
		index->rebuilt = TRUE;
		changed = TRUE;
	}

	/* known messages keep their UID; files gone drop out */
	GPtrArray *known = g_ptr_array_new_with_free_func((GDestroyNotify)maildir_message_free);
	GPtrArray *fresh = g_ptr_array_new_with_free_func((GDestroyNotify)maildir_message_free);
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, by_base);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		MaildirMessage *msg = value;
		gpointer uid;
		if (g_hash_table_lookup_extended(list.uids, msg->base, NULL, &uid)) {
			msg->uid = GPOINTER_TO_UINT(uid);
			g_ptr_array_add(known, msg);
		} else {
			g_ptr_array_add(fresh, msg);
		}
		g_hash_table_iter_steal(&it);
	}
	if (known->len != g_hash_table_size(list.uids))
		changed = TRUE;
	g_hash_table_destroy(list.uids);

	g_ptr_array_sort(fresh, message_by_arrival);
	gboolean ok = TRUE;
	if (fresh->len > 0 && (guint64)list.uidnext + fresh->len > G_MAXUINT32) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "%s: UIDs used up; the folder needs a new UIDVALIDITY", dir);
		ok = FALSE;
	}
	for (guint i = 0; ok && i < fresh->len; i++) {
		MaildirMessage *msg = fresh->pdata[i];
		msg->uid = list.uidnext++;
		changed = TRUE;
	}
	g_ptr_array_extend_and_steal(known, fresh);
	g_ptr_array_sort(known, message_by_uid);

	if (ok && changed) {
		g_autofree char *header = uidlist_header(list.uidvalidity, list.uidnext);
		GString *text = g_string_new(header);
		for (guint i = 0; i < known->len; i++) {
			const MaildirMessage *msg = known->pdata[i];
			g_string_append_printf(text, "%u %s\n", msg->uid, msg->base);
		}
		ok = file_replace(dir, MAILDIR_UIDLIST_FILE, text->str, text->len, md->sync, error);
		g_string_free(text, TRUE);
	}
	if (!ok) {
		g_ptr_array_unref(known);
		return FALSE;
	}
	index->uidvalidity = list.uidvalidity;
	index->uidnext = list.uidnext;
	index->messages = known;
	return TRUE;
}

gboolean maildir_folder_sync(Maildir *md, const char *folder, guint32 uidvalidity_if_new,
                             MaildirIndex **index_r, GError **error)
{
	g_return_val_if_fail(md != NULL && index_r != NULL, FALSE);
	*index_r = NULL;
	g_autofree char *dir = folder_dir_existing(md, folder, error);
	if (!dir)
		return FALSE;
	/* two sessions syncing at once would hand out the same UIDs */
	int lock = dir_lock(dir, error);
	if (lock < 0)
		return FALSE;
	MaildirIndex *index = g_new0(MaildirIndex, 1);
	gboolean ok = sync_locked(md, folder, dir, uidvalidity_if_new, index, error);
	dir_unlock(lock);
	if (!ok) {
		maildir_index_free(index);
		return FALSE;
	}
	*index_r = index;
	return TRUE;
}

/* ======================================================================== */
/* Changing messages                                                        */
/* ======================================================================== */

/* Another session may have renamed the file (new flags, or new -> cur):
 * look for BASE or BASE:... in cur/ then new/ and update msg. */
static gboolean message_find(Maildir *md, MaildirMessage *msg)
{
	g_autofree char *dir = folder_dir(md, msg->folder);
	gsize blen = strlen(msg->base);
	static const struct { const char *sub; gboolean in_new; } parts[] = {
		{ "cur", FALSE }, { "new", TRUE },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(parts); i++) {
		g_autofree char *path = g_build_filename(dir, parts[i].sub, NULL);
		DIR *d = opendir(path);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (strncmp(e->d_name, msg->base, blen) != 0 ||
			    (e->d_name[blen] != '\0' && e->d_name[blen] != ':'))
				continue;
			MaildirMessage *found = message_from_name(msg->folder, path, e->d_name, parts[i].in_new);
			msg->in_new = found->in_new;
			msg->flags = found->flags;
			memcpy(msg->keywords, found->keywords, sizeof msg->keywords);
			maildir_message_free(found);
			closedir(d);
			return TRUE;
		}
		closedir(d);
	}
	return FALSE;
}

/* A message handed in by a caller: its folder and base must be names we
 * could have made, or a crafted base ("../../x") would reach elsewhere. */
static gboolean message_check(const MaildirMessage *msg, GError **error)
{
	if (!folder_check(msg->folder, error))
		return FALSE;
	if (!msg->base || strnlen(msg->base, MAILDIR_MAX_FILE_NAME + 1) > MAILDIR_MAX_FILE_NAME ||
	    !file_name_usable(msg->base) || strchr(msg->base, '/') || strchr(msg->base, ':')) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME, "not a message name: %.80s",
		            msg->base ? msg->base : "(null)");
		return FALSE;
	}
	return TRUE;
}

static gboolean message_gone(MaildirMessage *msg, GError **error)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "message %s is gone from %s", msg->base,
	            msg->folder);
	return FALSE;
}

/* Rename the message's file to the name its new state gives it, looking
 * it up once if someone else renamed it first. */
static gboolean message_rename(Maildir *md, MaildirMessage *msg, gboolean in_new, guint flags,
                               GError **error)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		g_autofree char *dir = folder_dir(md, msg->folder);
		g_autofree char *old_rel = message_rel_path(msg->in_new, msg->base, msg->flags, msg->keywords);
		g_autofree char *new_rel = message_rel_path(in_new, msg->base, flags, msg->keywords);
		if (strcmp(old_rel, new_rel) == 0)
			return TRUE;
		g_autofree char *from = g_build_filename(dir, old_rel, NULL);
		g_autofree char *to = g_build_filename(dir, new_rel, NULL);
		if (rename(from, to) == 0) {
			gboolean left_new = msg->in_new && !in_new;
			msg->in_new = in_new;
			msg->flags = flags;
			if (!md->sync)
				return TRUE;
			g_autofree char *to_sub = g_path_get_dirname(to);
			g_autofree char *from_sub = g_path_get_dirname(from);
			return dir_sync(to_sub, error) && (!left_new || dir_sync(from_sub, error));
		}
		if (errno != ENOENT)
			return durable_set_error(error, errno, "rename", from);
		if (!message_find(md, msg))
			return message_gone(msg, error);
	}
	return message_gone(msg, error);
}

gboolean maildir_message_to_cur(Maildir *md, MaildirMessage *msg, GError **error)
{
	g_return_val_if_fail(md != NULL && msg != NULL, FALSE);
	if (!message_check(msg, error))
		return FALSE;
	if (!msg->in_new)
		return TRUE;
	return message_rename(md, msg, FALSE, msg->flags, error);
}

gboolean maildir_message_set_flags(Maildir *md, MaildirMessage *msg, guint flags, GError **error)
{
	g_return_val_if_fail(md != NULL && msg != NULL, FALSE);
	if (!message_check(msg, error))
		return FALSE;
	if ((flags & ~MAILDIR_FLAGS_ALL) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown flag bits 0x%x", flags);
		return FALSE;
	}
	/* a file with info lives in cur/ */
	return message_rename(md, msg, FALSE, flags, error);
}

gboolean maildir_message_expunge(Maildir *md, MaildirMessage *msg, GError **error)
{
	g_return_val_if_fail(md != NULL && msg != NULL, FALSE);
	if (!message_check(msg, error))
		return FALSE;
	for (int attempt = 0; attempt < 2; attempt++) {
		g_autofree char *path = maildir_message_path(md, msg);
		if (unlink(path) == 0) {
			g_autofree char *sub = g_path_get_dirname(path);
			return !md->sync || dir_sync(sub, error);
		}
		if (errno != ENOENT)
			return durable_set_error(error, errno, "unlink", path);
		if (!message_find(md, msg))
			return message_gone(msg, error);
	}
	return message_gone(msg, error);
}

gboolean maildir_message_read(Maildir *md, const MaildirMessage *msg, GBytes **bytes_r,
                              GError **error)
{
	g_return_val_if_fail(md != NULL && msg != NULL && bytes_r != NULL, FALSE);
	*bytes_r = NULL;
	if (!message_check(msg, error))
		return FALSE;
	g_autoptr(MaildirMessage) current = maildir_message_dup(msg);
	for (int attempt = 0; attempt < 2; attempt++) {
		g_autofree char *path = maildir_message_path(md, current);
		char *data = NULL;
		gsize len = 0;
		GError *local_error = NULL;
		if (file_read(path, MAILDIR_MAX_MESSAGE_SIZE, &data, &len, &local_error)) {
			*bytes_r = g_bytes_new_take(data, len);
			return TRUE;
		}
		if (!g_error_matches(local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
		    !message_find(md, current)) {
			g_propagate_error(error, local_error);
			return FALSE;
		}
		g_clear_error(&local_error);
	}
	return message_gone(current, error);
}

/* Copy or move: place the file into to_folder under a fresh name.  move
 * renames; copy links, or copies the octets through tmp/. */
static gboolean message_place(Maildir *md, MaildirMessage *msg, const char *to_folder,
                              MaildirStamp *stamp, gboolean move, char **base_r, GError **error)
{
	if (!message_check(msg, error))
		return FALSE;
	g_autofree char *to_dir = folder_dir_existing(md, to_folder, error);
	if (!to_dir)
		return FALSE;
	gboolean in_new = msg->flags == 0;
	for (guint tries = 0; tries < MAILDIR_MAX_NAME_TRIES; tries++) {
		g_autofree char *from = maildir_message_path(md, msg);
		g_autofree char *base = name_make(md, stamp, msg->size);
		/* keywords are letters a folder defines for itself: not carried */
		g_autofree char *rel = message_rel_path(in_new, base, msg->flags, "");
		g_autofree char *to = g_build_filename(to_dir, rel, NULL);
		int rc = move ? rename_noreplace(from, to) : link(from, to);
		int err = errno;
		if (rc == 0) {
			g_autofree char *to_sub = g_path_get_dirname(to);
			g_autofree char *from_sub = g_path_get_dirname(from);
			if (md->sync && (!dir_sync(to_sub, error) || (move && !dir_sync(from_sub, error))))
				return FALSE;
			*base_r = g_steal_pointer(&base);
			return TRUE;
		}
		if (err == EEXIST)
			continue;
		if (err == ENOENT) {
			if (!message_find(md, msg))
				return message_gone(msg, error);
			continue;
		}
		/* no hard links here (another file system, FAT, ...): copy the octets */
		if (!move && (err == EXDEV || err == EPERM || err == EMLINK || err == ENOTSUP)) {
			g_autoptr(GBytes) bytes = NULL;
			if (!maildir_message_read(md, msg, &bytes, error))
				return FALSE;
			gsize len = 0;
			const char *data = g_bytes_get_data(bytes, &len);
			return maildir_deliver(md, to_folder, data, len, msg->flags, stamp, base_r, error);
		}
		return durable_set_error(error, err, move ? "rename" : "link", from);
	}
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s: no free name after %d tries", to_dir,
	            MAILDIR_MAX_NAME_TRIES);
	return FALSE;
}

gboolean maildir_message_copy(Maildir *md, const MaildirMessage *msg, const char *to_folder,
                              MaildirStamp *stamp, char **base_r, GError **error)
{
	g_return_val_if_fail(md != NULL && msg != NULL && stamp != NULL, FALSE);
	g_autoptr(MaildirMessage) current = maildir_message_dup(msg);
	g_autofree char *base = NULL;
	if (!message_place(md, current, to_folder, stamp, FALSE, &base, error))
		return FALSE;
	if (base_r)
		*base_r = g_steal_pointer(&base);
	return TRUE;
}

gboolean maildir_message_move(Maildir *md, MaildirMessage *msg, const char *to_folder,
                              MaildirStamp *stamp, GError **error)
{
	g_return_val_if_fail(md != NULL && msg != NULL && stamp != NULL, FALSE);
	char *base = NULL;
	if (!message_place(md, msg, to_folder, stamp, TRUE, &base, error))
		return FALSE;
	g_free(msg->base);
	msg->base = base;
	g_free(msg->folder);
	msg->folder = g_strdup(maildir_folder_canonical(to_folder));
	msg->in_new = msg->flags == 0;
	msg->keywords[0] = '\0';
	msg->uid = 0;
	return TRUE;
}

/* ======================================================================== */
/* The maildrop lock                                                        */
/* ======================================================================== */

static gboolean owner_valid(const char *owner)
{
	gsize len = owner ? strnlen(owner, MAILDIR_MAX_LOCK_OWNER + 1) : 0;
	if (len == 0 || len > MAILDIR_MAX_LOCK_OWNER)
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if ((guchar)owner[i] < 0x20 || owner[i] == 0x7f)
			return FALSE;
	return TRUE;
}

static char *lock_text(const char *owner, gint64 time_us)
{
	return g_strdup_printf("%" G_GINT64_FORMAT " %s\n", time_us, owner);
}

/* What the lock file says: its time (FALSE if unreadable or garbled). */
static gboolean lock_read(const char *path, gint64 *time_r, char **text_r)
{
	char *data = NULL;
	gsize len = 0;
	if (!file_read(path, 2 * MAILDIR_MAX_LOCK_OWNER + 64, &data, &len, NULL))
		return FALSE;
	guint64 t;
	const char *end;
	gboolean ok = parse_number(data, G_MAXINT64, &t, &end) && *end == ' ';
	*time_r = ok ? (gint64)t : 0;
	if (text_r)
		*text_r = data;
	else
		g_free(data);
	return ok;
}

/* Put text where the lock goes, all at once: written beside, then linked
 * (link() fails if the name exists, like O_EXCL, but the file is never
 * seen half written).  -1 and errno on failure. */
static int lock_place(const char *tmp_dir, const char *path, const char *text, GError **error)
{
	g_autofree char *tmp = g_strdup_printf("%s/mailsim-lock.%u.%u", tmp_dir,
	                                       g_str_hash(text), g_str_hash(path));
	unlink(tmp);
	if (!file_write(tmp, text, strlen(text), TRUE, FALSE, error))
		return -1;
	int rc = link(tmp, path);
	int err = errno;
	unlink(tmp);
	if (rc != 0 && err != EEXIST)
		durable_set_error(error, err, "link", path);
	errno = err;
	return rc;
}

gboolean maildir_lock_acquire(Maildir *md, const char *owner, gint64 now_us,
                              gint64 stale_after_us, MaildirLock **lock_r, GError **error)
{
	g_return_val_if_fail(md != NULL && lock_r != NULL, FALSE);
	*lock_r = NULL;
	if (!owner_valid(owner)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "a lock owner is 1 to %d printable octets", MAILDIR_MAX_LOCK_OWNER);
		return FALSE;
	}
	/* RFC 1939 4: the server takes an exclusive-access lock on the maildrop,
	 * so a second session cannot delete what the first is listing */
	g_autofree char *path = g_build_filename(md->root, MAILDIR_LOCK_FILE, NULL);
	g_autofree char *tmp_dir = g_build_filename(md->root, "tmp", NULL);
	g_autofree char *text = lock_text(owner, now_us);

	/* twice at most: once more after breaking a stale lock */
	for (int attempt = 0; attempt < 2; attempt++) {
		GError *local_error = NULL;
		if (lock_place(tmp_dir, path, text, &local_error) == 0) {
			MaildirLock *lock = g_new0(MaildirLock, 1);
			lock->path = g_steal_pointer(&path);
			lock->tmp_dir = g_steal_pointer(&tmp_dir);
			lock->owner = g_strdup(owner);
			lock->time_us = now_us;
			*lock_r = lock;
			return TRUE;
		}
		if (local_error) {
			g_propagate_error(error, local_error);
			return FALSE;
		}
		gint64 held_since = 0;
		g_autofree char *held = NULL;
		if (lock_read(path, &held_since, &held) && now_us - held_since <= stale_after_us) {
			const char *holder = g_strchomp(strchr(held, ' ') + 1);
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY,
			            "maildrop locked by %s since %" G_GINT64_FORMAT, holder, held_since);
			return FALSE;
		}
		/* its holder died (or it is garbage): break it.  Two breakers at
		 * once could both win; like every dotlock, this trusts the age. */
		if (unlink(path) != 0 && errno != ENOENT)
			return durable_set_error(error, errno, "unlink", path);
	}
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY, "maildrop lock %s is contended", path);
	return FALSE;
}

/* Whether the lock file is still the one we wrote. */
static gboolean lock_is_ours(const MaildirLock *lock)
{
	g_autofree char *expected = lock_text(lock->owner, lock->time_us);
	g_autofree char *data = NULL;
	gsize len = 0;
	if (!file_read(lock->path, 2 * MAILDIR_MAX_LOCK_OWNER + 64, &data, &len, NULL))
		return FALSE;
	return strcmp(data, expected) == 0;
}

gboolean maildir_lock_refresh(MaildirLock *lock, gint64 now_us, GError **error)
{
	g_return_val_if_fail(lock != NULL, FALSE);
	if (!lock_is_ours(lock)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: the lock is no longer ours",
		            lock->path);
		return FALSE;
	}
	g_autofree char *text = lock_text(lock->owner, now_us);
	g_autofree char *dir = g_path_get_dirname(lock->path);
	if (!file_replace(dir, MAILDIR_LOCK_FILE, text, strlen(text), FALSE, error))
		return FALSE;
	lock->time_us = now_us;
	return TRUE;
}

void maildir_lock_release(MaildirLock *lock)
{
	if (!lock)
		return;
	if (lock_is_ours(lock))
		unlink(lock->path);
	g_free(lock->path);
	g_free(lock->tmp_dir);
	g_free(lock->owner);
	g_free(lock);
}

/* ======================================================================== */
/* Quota                                                                    */
/* ======================================================================== */

static gboolean usage_add(const char *dir, guint64 *bytes, guint64 *messages, GError **error)
{
	static const char *const subs[] = { "new", "cur" };
	for (gsize i = 0; i < G_N_ELEMENTS(subs); i++) {
		g_autofree char *path = g_build_filename(dir, subs[i], NULL);
		DIR *d = opendir(path);
		if (!d) {
			if (errno == ENOENT)
				continue;
			return durable_set_error(error, errno, "open", path);
		}
		struct dirent *e;
		guint64 seen = 0;
		while ((e = readdir(d))) {
			if (!file_name_usable(e->d_name) || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
				continue;
			if (++seen > MAILDIR_MAX_MESSAGES) {
				closedir(d);
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: more than %d messages",
				            path, MAILDIR_MAX_MESSAGES);
				return FALSE;
			}
			g_autofree char *base = g_strndup(e->d_name, strcspn(e->d_name, ":"));
			guint64 size = 0;
			if (!name_size(base, &size)) {
				g_autofree char *file = g_build_filename(path, e->d_name, NULL);
				GStatBuf st;
				size = g_stat(file, &st) == 0 ? (guint64)MAX(st.st_size, 0) : 0;
			}
			*bytes += size;
			(*messages)++;
		}
		closedir(d);
	}
	return TRUE;
}

gboolean maildir_quota_usage(Maildir *md, guint64 *bytes_r, guint64 *messages_r, GError **error)
{
	g_return_val_if_fail(md != NULL, FALSE);
	guint64 bytes = 0, messages = 0;
	g_autoptr(GPtrArray) names = NULL;
	if (!folder_names(md, &names, error) || !usage_add(md->root, &bytes, &messages, error))
		return FALSE;
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *dir = folder_dir(md, names->pdata[i]);
		if (!usage_add(dir, &bytes, &messages, error))
			return FALSE;
	}
	if (bytes_r)
		*bytes_r = bytes;
	if (messages_r)
		*messages_r = messages;
	return TRUE;
}
