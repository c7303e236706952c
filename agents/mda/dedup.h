/* agents/mda/dedup.h - the MDA's record of what it has filed, so that a
 * message the MTA hands over again is filed once.
 *
 * RFC 5321 6.1 lets a mail system deliver twice rather than lose: an MTA
 * that crashes after the MDA's 250 and before its queue update sends the
 * message again (RFC 1047 describes the same window after the final ".").
 * Cyrus' lmtpd keeps a duplicate delivery database for it (Dovecot keeps one for
 * Sieve's vacation and duplicate tests); this is mailsim's, a
 * promise-then-verify log, so that a crash at any point leaves neither a
 * loss nor a second copy.
 *
 * The identity of a copy (its key) is the SHA-256 of the recipient and of
 * the message's exact bytes as the MTA sends them over LMTP.  Those bytes
 * are the MTA's queue file, whose top Received field carries the queue id
 * and the time of arrival (RFC 5321 4.4): the MTA's retry is byte for byte
 * the same, a message sent again on purpose never is (a new queue id).
 * Keying on Message-ID, as Cyrus does, would also swallow a message a user
 * sends twice on purpose.
 *
 * For each key, in order:
 *   1. dedup_check: NEW (file it), DELIVERED (answer 250, file nothing),
 *      or BUSY (another session is filing it right now: answer 4xx);
 *   2. dedup_promise, before any file of it appears: a line "P KEY ..."
 *      naming each file about to be made (its folder directory, the start
 *      of its Maildir name, the SHA-256 of its bytes), fsync'ed;
 *   3. the files are written and renamed into new/ (maildir.h);
 *   4. dedup_finish: "D KEY" when the recipient's reply is 250 (no fsync:
 *      the promise already covers a crash), "X KEY" otherwise.
 * A crash between 2 and 4 leaves a promise without an outcome: the next
 * check of that key looks for the promised files, and calls the copy
 * delivered only if every one is there with the promised bytes.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

/* ---- layout and limits -------------------------------------------------- */

#define DEDUP_FILE_NAME        "delivered.log"   /* STATE/delivered.log */
/* How long a key is remembered: longer than the MTA keeps a message
 * (MTA_QUEUE_LIFETIME, 5 days), so no retry can come later. */
#define DEDUP_LIFETIME_US      (G_GINT64_CONSTANT(7) * 24 * 3600 * G_USEC_PER_SEC)
#define DEDUP_MAX_ENTRIES      100000    /* keys kept; the oldest delivered go first */
#define DEDUP_MAX_FILES        64        /* files one promise may name; more: not recorded */
#define DEDUP_MAX_LINE         (16 * 1024)  /* octets of one log line */
#define DEDUP_MAX_LOG_SIZE     (256 * 1024 * 1024)  /* octets read at open */
#define DEDUP_MAX_VERIFY_SIZE  (64 * 1024 * 1024)   /* octets read to check a promised file */
#define DEDUP_COMPACT_MIN_LINES 4096     /* the log is rewritten when it has this many lines
                                            and more than twice as many as keys kept */
#define DEDUP_KEY_LEN          64        /* hex digits of a key or a digest */

/* Errors are G_IO_ERROR (durable.h's codes): the log cannot be read,
 * written or synced.  A damaged line is never an error: it is skipped. */

/* ---- keys --------------------------------------------------------------- */

/* The SHA-256 of len octets, in hex: DEDUP_KEY_LEN digits.  New string. */
char *dedup_digest(const char *data, gsize len);

/* The key of one recipient's copy: from the message's dedup_digest and
 * the recipient as the MTA wrote it in RCPT.  New string. */
char *dedup_key(const char *message_digest, const char *rcpt);

/* ---- the log ------------------------------------------------------------ */

typedef struct Dedup Dedup;

/* Open path, creating it, with every line still valid at now_us loaded;
 * the file is rewritten without the dead ones when that saves much.  A
 * torn last line (a crash mid-write) and any line that does not parse are
 * skipped.  sync FALSE: no fsync (simulations).  base_dir: the directory
 * the promised files' folders are relative to (the state directory). */
Dedup *dedup_open(const char *path, const char *base_dir, gboolean sync, gint64 now_us,
                  GError **error);
void   dedup_free(Dedup *dedup);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Dedup, dedup_free)

/* Keys kept now (delivered, promised, or being delivered). */
guint  dedup_size(Dedup *dedup);

typedef enum {
	DEDUP_NEW,        /* not filed: file it, then dedup_promise / dedup_finish */
	DEDUP_DELIVERED,  /* filed before: answer 250, file nothing */
	DEDUP_BUSY,       /* another session is filing this copy now: answer 4xx */
} DedupVerdict;

const char *dedup_verdict_to_string(DedupVerdict verdict);

/* Look key up at now_us.  NEW reserves the key for the caller, who must
 * end with dedup_finish (other callers get BUSY meanwhile).  A promise
 * left by a crash is verified here (see the top of this file); promised
 * files found all present turn it into DELIVERED, for good. */
DedupVerdict dedup_check(Dedup *dedup, const char *key, gint64 now_us);

/* One file about to be made for a key. */
typedef struct {
	const char *dir;      /* the Maildir folder, relative to base_dir: "mail/example.org/bob/.Junk" */
	const char *prefix;   /* the start of its name in new/ or cur/ (maildir_name_prefix) */
	const char *digest;   /* dedup_digest of its bytes */
} DedupFile;

typedef struct {
	const char      *key;      /* reserved by dedup_check (NEW) */
	const DedupFile *files;    /* may be empty: a copy discarded or only forwarded */
	guint            n_files;  /* at most DEDUP_MAX_FILES */
} DedupPromise;

/* Record, durably (one fsync shared by the tasks that promise at the same
 * time), the files each key's delivery is about to make.  Call before any
 * of them appears; on failure make none (and dedup_finish FALSE). */
gboolean dedup_promise(Dedup *dedup, const DedupPromise *promises, guint n, GError **error);

/* The delivery of a reserved key is over: delivered (its reply was 250)
 * or not (the MTA will try again: the key is forgotten).  Appends D or X
 * without an fsync; a write error is not reported (the promise, or its
 * absence, still tells the truth after a crash). */
void     dedup_finish(Dedup *dedup, const char *key, gboolean delivered, gint64 now_us);
