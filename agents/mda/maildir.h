/* agents/mda/maildir.h - one user's mail on disk, as Maildir++.
 *
 * Maildir (https://cr.yp.to/proto/maildir.html): a message is one file,
 * written in tmp/, synced, renamed into new/; read mail lives in cur/ with
 * its flags in the name ("...:2,RS").  Maildir++ (Courier, Dovecot) adds
 * folders as hidden sibling directories: ".Sent", ".Lists.Sub".  IMAP UIDs
 * (RFC 3501 2.3.1.1) are kept in a small per-folder file, mailsim-uidlist.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

/* ---- layout and limits -------------------------------------------------- */

#define MAILDIR_INBOX               "INBOX"   /* the root itself, any case */
#define MAILDIR_SEPARATOR           '.'       /* "Lists.Sub" is .Lists.Sub/ */
#define MAILDIR_UIDLIST_FILE        "mailsim-uidlist"
#define MAILDIR_SUBSCRIPTIONS_FILE  "subscriptions"
#define MAILDIR_FOLDER_MARKER       "maildirfolder"
#define MAILDIR_LOCK_FILE           "mailsim-maildrop.lock"

#define MAILDIR_MAX_FOLDER_NAME     200       /* octets; a directory name is 255 */
#define MAILDIR_MAX_HOSTNAME        64        /* octets of host name in a file name */
#define MAILDIR_MAX_FILE_NAME       255       /* NAME_MAX on every file system we use */
#define MAILDIR_MAX_MESSAGES        1000000   /* per folder, scanning */
#define MAILDIR_MAX_FOLDERS         10000     /* per user, listing */
#define MAILDIR_MAX_MESSAGE_SIZE    (64 * 1024 * 1024)  /* octets read back */
#define MAILDIR_MAX_UIDLIST_SIZE    (128 * 1024 * 1024) /* octets of mailsim-uidlist */
#define MAILDIR_MAX_SUBSCRIPTIONS_SIZE (1024 * 1024)
#define MAILDIR_MAX_NAME_TRIES      100       /* new names tried after a clash */
#define MAILDIR_MAX_LOCK_OWNER      64        /* octets of a lock's owner text */

/* Errors are G_IO_ERROR: G_IO_ERROR_NO_SPACE for a full disk or quota (the
 * MDA answers 452), G_IO_ERROR_NOT_FOUND, G_IO_ERROR_EXISTS,
 * G_IO_ERROR_INVALID_FILENAME for a refused folder name,
 * G_IO_ERROR_INVALID_ARGUMENT for other bad input, G_IO_ERROR_BUSY for a
 * held lock, G_IO_ERROR_INVALID_DATA for a damaged file, G_IO_ERROR_FAILED
 * for a limit reached, others as g_io_error_from_errno() maps them.  Every
 * message names the file. */

/* ---- flags -------------------------------------------------------------- */

/* The info suffix ":2,FLAGS": one letter each, in ASCII order. */
typedef enum {
	MAILDIR_FLAG_DRAFT   = 1 << 0,  /* D  \Draft    */
	MAILDIR_FLAG_FLAGGED = 1 << 1,  /* F  \Flagged  */
	MAILDIR_FLAG_PASSED  = 1 << 2,  /* P  forwarded: no IMAP system flag ($Forwarded) */
	MAILDIR_FLAG_REPLIED = 1 << 3,  /* R  \Answered */
	MAILDIR_FLAG_SEEN    = 1 << 4,  /* S  \Seen     */
	MAILDIR_FLAG_TRASHED = 1 << 5,  /* T  \Deleted  */
} MaildirFlag;

#define MAILDIR_FLAGS_ALL 0x3fu
#define MAILDIR_MAX_FLAGS_TEXT 52  /* info letters: A-Z and a-z */

const char *maildir_flag_to_string(MaildirFlag flag);  /* "Seen" */
char        maildir_flag_to_letter(MaildirFlag flag);  /* 'S'; 0 if not one flag */
const char *maildir_flag_to_imap(MaildirFlag flag);    /* "\\Seen"; NULL for Passed */

/* "RS" -> REPLIED|SEEN.  Letters may come in any order, and repeated; any
 * other character is G_IO_ERROR_INVALID_ARGUMENT. */
gboolean maildir_flags_parse(const char *letters, guint *flags_r, GError **error);

/* Write flags as letters in ASCII order into buf (NUL-terminated, at most
 * 7 octets).  Returns buf. */
char *maildir_flags_format(guint flags, char buf[8]);

/* ---- special-use folders (RFC 6154) ------------------------------------- */

typedef enum {
	MAILDIR_SPECIAL_NONE,
	MAILDIR_SPECIAL_ARCHIVE,
	MAILDIR_SPECIAL_DRAFTS,
	MAILDIR_SPECIAL_JUNK,
	MAILDIR_SPECIAL_SENT,
	MAILDIR_SPECIAL_TRASH,
} MaildirSpecialUse;

/* "\\Sent", ...; "" for NONE. */
const char *maildir_special_use_to_string(MaildirSpecialUse use);

/* By name, from a table: "Sent", "Sent Items", "Sent Messages" are \Sent,
 * "Junk" and "Spam" are \Junk, ... (top-level names, ASCII case ignored). */
MaildirSpecialUse maildir_special_use_of(const char *folder);

/* ---- the handle --------------------------------------------------------- */

/* One user's Maildir root.  Use a handle from one thread at a time; several
 * handles (the MDA delivering, IMAP and POP3 sessions reading) may share a
 * root: every change is an atomic rename, link or unlink, and the uidlist
 * is updated under a lock. */
typedef struct Maildir Maildir;

/* No I/O.  hostname goes into new file names (unique across machines);
 * characters that would break a name ('/', ':', ',') are escaped as
 * "\057" (Maildir's rule) and it is cut to MAILDIR_MAX_HOSTNAME octets.
 * sync FALSE skips every fsync (simulations: fast, and a crash there
 * loses nothing that matters). */
Maildir    *maildir_new(const char *root, const char *hostname, gboolean sync);
void        maildir_free(Maildir *md);
const char *maildir_get_root(const Maildir *md);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Maildir, maildir_free)

/* Where a user's mail lives: MAIL_DIR/DOMAIN/LOCAL, both lowered (local
 * parts are case-insensitive here, so Bob@ and bob@ share one Maildir).
 * NULL with G_IO_ERROR_INVALID_FILENAME if the address could name another
 * place: no '/', no NUL, no control character, no leading '.', no empty
 * part, no part over MAILDIR_MAX_FOLDER_NAME. */
char *maildir_user_root(const char *mail_dir, const char *address, GError **error);

/* Make the root and its cur/ new/ tmp/ if missing, with INBOX's uidlist
 * (UIDVALIDITY uidvalidity, nonzero).  Nothing changes if it exists. */
gboolean maildir_ensure(Maildir *md, guint32 uidvalidity, GError **error);

/* maildir_ensure, then Drafts, Sent, Junk and Trash (those missing), all
 * subscribed with INBOX: a new account as a mail client expects it. */
gboolean maildir_ensure_defaults(Maildir *md, guint32 uidvalidity, GError **error);

/* ---- unique names ------------------------------------------------------- */

/* What makes a new file name unique: SECONDS.M<usec>P<process>Q<counter>.
 * HOST,S=<size>.  The caller's clock (virtual time in simulations) and
 * process number; counter goes up by one for every name used, so keep one
 * stamp per agent and set time_us before each delivery. */
typedef struct {
	gint64  time_us;   /* microseconds since the epoch, >= 0 */
	guint64 process;   /* P: a process id, or an agent's number */
	guint64 counter;   /* Q: names made so far; advanced by every call */
} MaildirStamp;

/* The part of the next name made with stamp that makes it unique,
 * "SECONDS.M<usec>P<process>Q<counter>.", without moving the stamp.  A
 * delivery of one item with this stamp tries that name first (another
 * only after a clash), so a caller that must name a file before it exists
 * (the MDA's duplicate log, dedup.h) can find it later.  New string. */
char *maildir_name_prefix(const MaildirStamp *stamp);

/* ---- folders ------------------------------------------------------------ */

/* Check a folder name given by a client, len octets (so a NUL inside is
 * seen).  "INBOX" in any case is the root.  Others: 1 to
 * MAILDIR_MAX_FOLDER_NAME octets of UTF-8, no control character or NUL, no
 * '/' or '\\', no '.' at either end, no "..", no part "INBOX" under it:
 * a name can never leave the user's directory.  G_IO_ERROR_INVALID_FILENAME. */
gboolean maildir_folder_name_validate(const char *name, gsize len, GError **error);

/* "INBOX" for any case of it, else name itself (borrowed). */
const char *maildir_folder_canonical(const char *name);

/* Create a folder and, if missing, its parents ("Lists.Sub" makes Lists
 * too), each with cur/ new/ tmp/, a maildirfolder marker and a uidlist of
 * UIDVALIDITY uidvalidity.  G_IO_ERROR_EXISTS if the folder is there. */
gboolean maildir_folder_create(Maildir *md, const char *name, guint32 uidvalidity,
                               GError **error);

/* Delete a folder with its messages; its children stay (IMAP then lists the
 * missing parent as \Noselect).  INBOX cannot be deleted. */
gboolean maildir_folder_delete(Maildir *md, const char *name, GError **error);

/* Rename a folder and every folder under it (RFC 3501 6.3.5); messages keep
 * their UIDs.  Neither name may be INBOX.  G_IO_ERROR_EXISTS if to_name, or
 * a child's new name, is taken. */
gboolean maildir_folder_rename(Maildir *md, const char *from_name, const char *to_name,
                               GError **error);

gboolean maildir_folder_exists(Maildir *md, const char *name);

typedef struct {
	char             *name;          /* "INBOX", "Sent", "Lists.Sub" */
	MaildirSpecialUse special_use;
	gboolean          selectable;    /* FALSE: only a parent of others (\Noselect) */
	gboolean          has_children;
} MaildirFolder;

void maildir_folder_free(MaildirFolder *folder);

/* Every folder: INBOX first, then by name (so a parent before its
 * children), with missing parents added as not selectable.  Directories
 * whose names are not valid folder names are left out.
 * *folders_r: MaildirFolder *, a new array. */
gboolean maildir_folder_list(Maildir *md, GPtrArray **folders_r, GError **error);

/* The subscriptions file: one folder name a line.  *names_r: new strings in
 * the file's order.  A missing file is an empty list. */
gboolean maildir_subscriptions_read(Maildir *md, GPtrArray **names_r, GError **error);

/* Add or remove one name (the folder need not exist, RFC 3501 6.3.6);
 * the file is replaced atomically. */
gboolean maildir_subscription_set(Maildir *md, const char *name, gboolean subscribed,
                                  GError **error);

/* ---- delivering --------------------------------------------------------- */

typedef struct {
	Maildir    *maildir;   /* the recipient's */
	const char *folder;    /* NULL or "INBOX": the inbox */
	const char *data;      /* the message, as it is to be stored */
	gsize       len;
	guint       flags;     /* 0: into new/ (a \Recent message); else into
	                          cur/ with these flags (IMAP APPEND with flags) */
	char       *base_r;    /* out: the new message's base name, or NULL */
	GError     *error_r;   /* out: why this one failed, or NULL */
	char       *sync_dir_r;  /* out, maildir_deliver_batch_unsynced only: the
	                            directory whose fsync it still needs, or NULL */
} MaildirDelivery;

/* Deliver one message: write tmp/NAME, fsync it, rename into new/ (or cur/)
 * without replacing anything, fsync the directory.  On failure nothing is
 * left in tmp/, new/ or cur/.  *base_r: the new base name. */
gboolean maildir_deliver(Maildir *md, const char *folder, const char *data, gsize len,
                         guint flags, MaildirStamp *stamp, char **base_r, GError **error);

/* Group commit: write and sync every message, rename them all, then fsync
 * each directory once (one LMTP transaction with many recipients).  Each
 * item gets base_r or error_r (the caller frees both).  If a directory's
 * final fsync fails, its messages are reported failed though they may
 * appear later: a duplicate, never a loss.  Returns how many succeeded. */
guint maildir_deliver_batch(MaildirDelivery *items, guint n_items, MaildirStamp *stamp);

/* maildir_deliver_batch without its last step, for a group commit across
 * callers: each item is written, synced and renamed into new/ (or cur/),
 * with base_r and sync_dir_r set, or failed with error_r.  Nobody may be
 * told a message is safe before maildir_sync_dir has synced its
 * sync_dir_r (once for every item that shares it); if that fails the
 * message may appear later: a duplicate, never a loss.  The caller frees
 * base_r, error_r and sync_dir_r.  Returns how many were renamed. */
guint maildir_deliver_batch_unsynced(MaildirDelivery *items, guint n_items, MaildirStamp *stamp);

/* fsync a directory, so the names renamed into it are on disk. */
gboolean maildir_sync_dir(const char *dir, GError **error);

/* ---- messages ----------------------------------------------------------- */

typedef struct {
	char    *base;          /* the file name without ":2,..." (the UIDL) */
	char    *folder;        /* "INBOX", "Sent", ... */
	gboolean in_new;        /* still in new/: nobody has seen it (\Recent) */
	guint    flags;         /* MaildirFlag bits */
	char     keywords[MAILDIR_MAX_FLAGS_TEXT + 1]; /* other info letters, kept */
	guint64  size;          /* octets: from ",S=" in the name, else stat */
	gint64   internal_date_us; /* from the name's time, else the file's mtime */
	guint32  uid;           /* 0 until maildir_folder_sync gives it one */
} MaildirMessage;

void            maildir_message_free(MaildirMessage *msg);
MaildirMessage *maildir_message_dup(const MaildirMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaildirMessage, maildir_message_free)

/* The functions below take a MaildirMessage from a scan or a sync; one whose
 * folder or base could name a file elsewhere ("../x", "a/b", ".x") is
 * refused with G_IO_ERROR_INVALID_FILENAME.  Symbolic links are never
 * followed. */

/* The file's current name: "new/BASE" or "cur/BASE:2,FLAGS", under the
 * folder's directory.  A new string (NULL for a refused message). */
char *maildir_message_path(Maildir *md, const MaildirMessage *msg);

/* Every message of a folder, from new/ and cur/, in no particular order,
 * without UIDs.  Files whose names start with '.' or hold control
 * characters are skipped.  *messages_r: MaildirMessage *, a new array. */
gboolean maildir_folder_scan(Maildir *md, const char *folder, GPtrArray **messages_r,
                             GError **error);

/* A folder as IMAP sees it (RFC 3501 2.3.1.1). */
typedef struct {
	guint32    uidvalidity;
	guint32    uidnext;
	gboolean   rebuilt;   /* the uidlist was missing or damaged and made anew */
	GPtrArray *messages;  /* MaildirMessage *, by ascending UID */
} MaildirIndex;

void maildir_index_free(MaildirIndex *index);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaildirIndex, maildir_index_free)

/* Scan the folder and bring its uidlist up to date, under a lock: files
 * gone are dropped, files new get the next UIDs in delivery order (the
 * time in their names, then the names).  UIDs only grow: an expunged UID
 * is never given again.  A missing or damaged uidlist is made anew with
 * UIDVALIDITY uidvalidity_if_new (so clients start over); else that
 * argument is unused.  The file is replaced atomically. */
gboolean maildir_folder_sync(Maildir *md, const char *folder, guint32 uidvalidity_if_new,
                             MaildirIndex **index_r, GError **error);

/* The message is seen by a session: move it from new/ to cur/ (no flags
 * yet).  Nothing to do if it is in cur/ already.  msg is updated. */
gboolean maildir_message_to_cur(Maildir *md, MaildirMessage *msg, GError **error);

/* Replace the standard flags (keywords are kept) by renaming the file into
 * cur/ with the new info suffix.  If another session renamed it meanwhile,
 * its current name is found first.  msg is updated. */
gboolean maildir_message_set_flags(Maildir *md, MaildirMessage *msg, guint flags,
                                   GError **error);

/* Unlink the file.  G_IO_ERROR_NOT_FOUND if it is already gone. */
gboolean maildir_message_expunge(Maildir *md, MaildirMessage *msg, GError **error);

/* Copy into another folder of the same user under a new name (a hard link
 * where the file system allows, else a copy through tmp/), flags kept: to
 * new/ if it has none, else cur/.  *base_r (may be NULL): the new name. */
gboolean maildir_message_copy(Maildir *md, const MaildirMessage *msg, const char *to_folder,
                              MaildirStamp *stamp, char **base_r, GError **error);

/* Move: rename into the other folder under a new name.  msg then describes
 * the moved message (folder, base; uid 0 until the next sync). */
gboolean maildir_message_move(Maildir *md, MaildirMessage *msg, const char *to_folder,
                              MaildirStamp *stamp, GError **error);

/* The message's octets, at most MAILDIR_MAX_MESSAGE_SIZE.  *bytes_r: new. */
gboolean maildir_message_read(Maildir *md, const MaildirMessage *msg, GBytes **bytes_r,
                              GError **error);

/* ---- the maildrop lock (POP3, RFC 1939 4) ------------------------------- */

typedef struct MaildirLock MaildirLock;

/* Take the exclusive lock on the whole Maildir: the file
 * MAILDIR_LOCK_FILE holding "TIME_US OWNER", written in tmp/ (O_EXCL) and
 * link()ed into place, which like O_EXCL fails if it exists, but never
 * shows a half-written lock.  A lock older than stale_after_us by the caller's clock
 * now_us (its holder crashed) is broken and taken.  G_IO_ERROR_BUSY while
 * someone else holds it (POP3: "-ERR [IN-USE]", RFC 2449 8.1.2).
 * owner: printable, at most MAILDIR_MAX_LOCK_OWNER octets.  *lock_r: new. */
gboolean maildir_lock_acquire(Maildir *md, const char *owner, gint64 now_us,
                              gint64 stale_after_us, MaildirLock **lock_r, GError **error);

/* Renew the lock's time, for a long session.  G_IO_ERROR_NOT_FOUND if the
 * lock was broken and is no longer ours. */
gboolean maildir_lock_refresh(MaildirLock *lock, gint64 now_us, GError **error);

/* Remove the lock file if it is still ours, and free.  NULL is a no-op. */
void maildir_lock_release(MaildirLock *lock);

/* ---- quota -------------------------------------------------------------- */

/* Octets and messages in every folder's new/ and cur/, from the names'
 * ",S=" (stat where a name has none); tmp/ is not counted. */
gboolean maildir_quota_usage(Maildir *md, guint64 *bytes_r, guint64 *messages_r,
                             GError **error);
