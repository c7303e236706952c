/* agents/mta/queue.h - the MTA's durable mail queue (its spool).
 *
 * RFC 5321 4.5.4.1: a message the MTA has answered 250 to is its
 * responsibility: on disk before the reply, retried with back-off, bounced
 * when it cannot be delivered.  One directory, two files a message, as in
 * Postfix's queue (incoming -> active -> deferred) but in one place:
 *
 *   ID.msg   the message exactly as received (Received: already prepended)
 *   ID.env   the envelope, a text file to `cat`; written last, its presence
 *            is the commit point: no .env, no message
 *
 * With recycling on (mta_queue_set_recycle), a removed file is renamed to
 * ".free.N" instead of deleted, and the next arrival writes over it: on a
 * file system that scans past recently deleted inodes on every create
 * (ext4 without a journal), a busy spool that deletes two files a message
 * pays that scan on every file it makes.  A free file means nothing; it is
 * reused (or, past MTA_QUEUE_MAX_FREE, deleted) on the next open.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

/* ---- names, limits and defaults ----------------------------------------- */

#define MTA_QUEUE_MSG_SUFFIX        ".msg"
#define MTA_QUEUE_ENV_SUFFIX        ".env"
#define MTA_QUEUE_CORRUPT_DIR       "corrupt"  /* damaged entries, kept to look at */
#define MTA_QUEUE_FREE_PREFIX       ".free."   /* a removed file kept for reuse */
#define MTA_QUEUE_MAX_FREE          512        /* files kept for reuse; more are deleted */
#define MTA_QUEUE_ENVELOPE_VERSION  1

#define MTA_QUEUE_MAX_ID            64         /* octets, letters and digits */
#define MTA_QUEUE_MAX_ADDRESS       256        /* RFC 5321 4.5.3.1.3: a path */
#define MTA_QUEUE_MAX_CLIENT_FIELD  255        /* RFC 5321 4.5.3.1.2: a domain */
#define MTA_QUEUE_MAX_REPLY         512        /* RFC 5321 4.5.3.1.5: a reply line */
#define MTA_QUEUE_MAX_RCPTS         1000       /* RFC 5321 4.5.3.1.8 asks for 100 */
#define MTA_QUEUE_MAX_ATTEMPTS      1000000
#define MTA_QUEUE_MAX_ENTRIES       100000     /* add refuses more: G_IO_ERROR_NO_SPACE */
#define MTA_QUEUE_MAX_MESSAGE_SIZE  (64 * 1024 * 1024)  /* octets of one .msg */
#define MTA_QUEUE_MAX_ENVELOPE_SIZE (4 * 1024 * 1024)   /* octets of one .env */
#define MTA_QUEUE_MAX_CORRUPT_NAMES 100        /* corrupt/ID.env, ID.env.1, ... */

/* Postfix's defaults, under Postfix's names (postconf(5)). */
#define MTA_QUEUE_MINIMAL_BACKOFF_US  ((gint64)300 * G_USEC_PER_SEC)             /* 300s */
#define MTA_QUEUE_MAXIMAL_BACKOFF_US  ((gint64)4000 * G_USEC_PER_SEC)            /* 4000s */
#define MTA_QUEUE_MAXIMAL_LIFETIME_US ((gint64)5 * 24 * 3600 * G_USEC_PER_SEC)   /* 5d */
#define MTA_QUEUE_BOUNCE_LIFETIME_US  ((gint64)5 * 24 * 3600 * G_USEC_PER_SEC)   /* 5d */

/* Errors are G_IO_ERROR, as agents/common/durable.h maps errno: notably
 * G_IO_ERROR_NO_SPACE for a full disk or a full queue (answer 452 4.3.1),
 * G_IO_ERROR_MESSAGE_TOO_LARGE (552 5.3.4), G_IO_ERROR_INVALID_FILENAME for
 * a refused id, G_IO_ERROR_EXISTS for an id already queued,
 * G_IO_ERROR_INVALID_ARGUMENT for other bad arguments, and
 * G_IO_ERROR_INVALID_DATA (with the line number) for a damaged envelope. */

/* ---- entries ------------------------------------------------------------ */

typedef enum {
	MTA_QUEUE_RCPT_PENDING,    /* not tried yet */
	MTA_QUEUE_RCPT_DEFERRED,   /* a 4xx or no answer: try again at next_attempt_us */
	MTA_QUEUE_RCPT_DELIVERED,  /* final: a 250 from the next hop */
	MTA_QUEUE_RCPT_FAILED,     /* final: a 5xx or too old; the bounce is queued */
} MtaQueueRcptState;

/* "pending", "deferred", "delivered", "failed": the envelope's words. */
const char *mta_queue_rcpt_state_to_string(MtaQueueRcptState state);
gboolean    mta_queue_rcpt_state_from_string(const char *s, MtaQueueRcptState *state_r);
gboolean    mta_queue_rcpt_state_is_final(MtaQueueRcptState state);

/* One recipient.  Strings owned by the struct, never NULL. */
typedef struct {
	char             *address;          /* forward-path without <> */
	MtaQueueRcptState state;
	guint             attempts;         /* tries made */
	char             *last_reply;       /* the last answer, "" before the first */
	gint64            next_attempt_us;  /* not before this time; unused once final */
} MtaQueueRcpt;

/* Replace last_reply by a copy of text (NULL: ""), cut to MTA_QUEUE_MAX_REPLY
 * octets without splitting a UTF-8 character: a remote server's reply may
 * be as long as it likes. */
void mta_queue_rcpt_set_reply(MtaQueueRcpt *rcpt, const char *text);

/* One queued message.  Strings owned by the struct, never NULL. */
typedef struct {
	char      *id;
	char      *from;            /* reverse-path without <>; "" for the null sender <> */
	gint64     arrival_us;      /* when the 250 was given (the caller's clock) */
	guint64    size;            /* octets of ID.msg */
	gboolean   is_bounce;       /* a delivery status notification: never bounced itself */
	char      *client_address;  /* who handed it to us, for the record; "" if unknown */
	char      *client_helo;
	char      *client_user;     /* the SMTP AUTH identity; "" if none */
	GPtrArray *rcpts;           /* MtaQueueRcpt *, at least one */
} MtaQueueEntry;

/* Entries from the queue belong to the queue; only those from
 * mta_queue_envelope_parse are the caller's to free. */
void mta_queue_entry_free(MtaQueueEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MtaQueueEntry, mta_queue_entry_free)

/* Every recipient delivered or failed: the entry can go. */
gboolean mta_queue_entry_is_done(const MtaQueueEntry *entry);

/* The earliest next_attempt_us of a recipient not final; G_MAXINT64 when
 * every one is. */
gint64   mta_queue_entry_next_attempt(const MtaQueueEntry *entry);

/* Older than lifetime_us at now_us (Postfix's maximal_queue_lifetime, or
 * bounce_queue_lifetime for a bounce): give up, fail what is left. */
gboolean mta_queue_entry_expired(const MtaQueueEntry *entry, gint64 now_us, gint64 lifetime_us);

/* ---- the envelope file -------------------------------------------------- */

/* The envelope as the queue writes it (a new string), for example:
 *
 *   # mailsim queue envelope; the message is in Q1.msg beside this file
 *   version 1
 *   id Q1
 *   arrival 1000000
 *   size 291
 *   client-address 192.0.2.10
 *   client-helo mail.example.com
 *   from <alice@example.com>
 *   bounce no
 *   rcpt <bob@example.org>
 *     state deferred
 *     attempts 1
 *     next 301000000
 *     reply 451 4.3.0 Try again later
 *   end
 *
 * client-* and reply lines are left out when empty.  Octets below 0x20,
 * 0x7f and '\\' in any value are written "\xHH", so each value is one line
 * and comes back exactly. */
char *mta_queue_envelope_format(const MtaQueueEntry *entry);

/* Parse len octets of an envelope; strict (only what format writes, plus
 * '#' comment lines), bounded by MTA_QUEUE_MAX_*.  Returns a new entry, or
 * NULL with G_IO_ERROR_INVALID_DATA naming the line. */
MtaQueueEntry *mta_queue_envelope_parse(const char *text, gsize len, GError **error);

/* Letters and digits, 1 to MTA_QUEUE_MAX_ID octets: an id is a file name
 * and can never leave the queue directory.  G_IO_ERROR_INVALID_FILENAME. */
gboolean mta_queue_id_validate(const char *id, GError **error);

/* ---- back-off ----------------------------------------------------------- */

/* How long to wait after the attempts-th failed attempt: base_us, doubled
 * after each further failure, at most max_us (Postfix's
 * minimal_backoff_time / maximal_backoff_time); 0 for attempts 0. */
gint64 mta_queue_backoff(guint attempts, gint64 base_us, gint64 max_us);

/* ---- the queue ---------------------------------------------------------- */

/* One queue directory, used by one process and one thread at a time (the
 * MTA serialises its sessions and its delivery agents on a lock), but for
 * the arrival steps that say they need no lock. */
typedef struct MtaQueue MtaQueue;

/* What recovery did on open, for the caller to turn into events. */
typedef enum {
	MTA_QUEUE_NOTE_LOADED,            /* an entry is back in the queue */
	MTA_QUEUE_NOTE_TEMP_REMOVED,      /* a half-written temporary: a crash mid-write */
	MTA_QUEUE_NOTE_ORPHAN_REMOVED,    /* .msg without .env: never acknowledged */
	MTA_QUEUE_NOTE_FINISHED_REMOVED,  /* every recipient final: a removal cut short */
	MTA_QUEUE_NOTE_CORRUPT,           /* unreadable .env, or .env without .msg:
	                                     moved to corrupt/ */
	MTA_QUEUE_NOTE_IGNORED,           /* a name that is not ours, left alone */
} MtaQueueNoteKind;

const char *mta_queue_note_kind_to_string(MtaQueueNoteKind kind);  /* "corrupt" */

typedef struct {
	MtaQueueNoteKind kind;
	char            *id;    /* the entry's id, or the file name if there is none */
	char            *text;  /* one line a student reads */
} MtaQueueNote;

void mta_queue_note_free(MtaQueueNote *note);

/* Open dir (made, with its parents, mode 0700, if missing) and recover it:
 * every valid entry is loaded; temporaries and orphan .msg files are
 * removed; finished entries are removed; damaged ones go to
 * dir/corrupt/.  sync FALSE skips every fsync (simulations).  *notes_r
 * (may be NULL): MtaQueueNote *, a new array, in file-name order.  NULL and
 * an error if the directory cannot be made or read. */
MtaQueue *mta_queue_open(const char *dir, gboolean sync, GPtrArray **notes_r, GError **error);

/* Frees every entry.  Staged, uncommitted messages are dropped and their
 * files removed.  NULL is a no-op. */
void      mta_queue_free(MtaQueue *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MtaQueue, mta_queue_free)

const char *mta_queue_get_dir(const MtaQueue *q);

/* Keep removed files for reuse (see the top of this file).  Off by default.
 * Arrivals reuse free files whether it is on or not. */
void        mta_queue_set_recycle(MtaQueue *q, gboolean recycle);

/* A new message, as the SMTP server hands it over after DATA.  Borrowed
 * for the call; the queue copies what it keeps. */
typedef struct {
	const char        *id;        /* the caller's, see mta_queue_id_validate */
	const char        *from;      /* reverse-path without <>; "" for <> */
	const char *const *rcpts;     /* NULL-terminated forward-paths without <> */
	GBytes            *message;   /* stored as is */
	gint64             arrival_us;
	gboolean           is_bounce;
	const char        *client_address;  /* NULL: unknown */
	const char        *client_helo;
	const char        *client_user;
} MtaQueueIncoming;

/* Queue a message: ID.msg, then ID.env, both synced, then the directory.
 * Returns the entry (borrowed, the queue's, every recipient pending and due
 * at arrival_us) once it is durable: only then may the server answer 250.
 * NULL and an error otherwise, with nothing left on disk. */
MtaQueueEntry *mta_queue_add(MtaQueue *q, const MtaQueueIncoming *in, GError **error);

/* Group commit, for messages finishing together: stage writes both files
 * unsynced and returns the entry (borrowed); it is not in the queue yet.
 * commit syncs every staged file, renames them into place, syncs the
 * directory once: N messages, one directory fsync.  On TRUE every staged
 * entry is in the queue (answer each 250); on FALSE none is, every staged
 * entry is freed and its files removed (answer each 451). */
MtaQueueEntry *mta_queue_stage(MtaQueue *q, const MtaQueueIncoming *in, GError **error);
gboolean       mta_queue_commit(MtaQueue *q, GError **error);
guint          mta_queue_staged_count(const MtaQueue *q);

/* ---- group commit from several threads ----------------------------------
 *
 * stage and commit do all their I/O inside the caller's lock.  A server
 * whose sessions finish DATA together wants the slow part outside it: each
 * session writes and syncs its own two files, at the same time as the
 * others (the file system merges their journal commits), and one rename
 * round plus one directory fsync then serves the whole group.  The steps:
 *
 *   mta_queue_arrival_new      lock held: check the message, reserve its id
 *   mta_queue_arrival_write    no lock: both temporaries written and synced
 *   mta_queue_arrivals_commit  no lock, one caller for a group: rename each
 *                              arrival's message, then its envelope (the
 *                              commit point), then sync the directory once
 *   mta_queue_arrival_finish   lock held: the entry joins the queue, or
 *                              whatever it left on disk is removed
 *
 * Nothing appears under a final name before it is complete and synced, as
 * with stage/commit.  An arrival is used by one thread at a time; new and
 * finish need the queue's lock (the caller's), write and commit touch only
 * the arrivals. */
typedef struct MtaQueueArrival MtaQueueArrival;

/* A new arrival: the checks of mta_queue_add (same errors); the id counts
 * as taken, and the arrival towards MTA_QUEUE_MAX_ENTRIES, until finish. */
MtaQueueArrival *mta_queue_arrival_new(MtaQueue *q, const MtaQueueIncoming *in, GError **error);
/* Write and (if the queue syncs) fsync ".ID.msg.tmp" and ".ID.env.tmp". */
gboolean         mta_queue_arrival_write(MtaQueueArrival *a, GError **error);
/* Commit n written arrivals of one queue together.  TRUE: every one is
 * durable.  FALSE: none is, and the names already given are taken back
 * (nobody was told 250).  Arrivals not written are left out, uncommitted. */
gboolean         mta_queue_arrivals_commit(MtaQueueArrival *const *arrivals, guint n, GError **error);
/* The entry (borrowed, the queue's) if the arrival was committed, else NULL
 * with its files removed.  Frees the arrival. */
MtaQueueEntry   *mta_queue_arrival_finish(MtaQueue *q, MtaQueueArrival *a);
/* Its id. */
const char      *mta_queue_arrival_id(const MtaQueueArrival *a);

/* The entries whose next attempt is at or before now_us, earliest first,
 * then by arrival, then by id (so a run is deterministic).  A new array of
 * borrowed entries: free it with g_ptr_array_unref. */
GPtrArray *mta_queue_due(MtaQueue *q, gint64 now_us);

/* When to look again: the earliest next attempt in the queue, G_MAXINT64
 * if nothing waits. */
gint64     mta_queue_next_wakeup(const MtaQueue *q);

/* mta_queue_due and mta_queue_next_wakeup in one pass, for a queue manager
 * with deliveries in flight: entries whose id is a key of skip (may be NULL)
 * are left out of both.  *next_r: the earliest next attempt after now_us
 * of the others, G_MAXINT64 if none. */
GPtrArray *mta_queue_due_skip(MtaQueue *q, gint64 now_us, GHashTable *skip, gint64 *next_r);

/* Every entry, by arrival then id (what `mailq` lists).  A new array of
 * borrowed entries: free it with g_ptr_array_unref. */
GPtrArray *mta_queue_entries(MtaQueue *q);
guint      mta_queue_count(const MtaQueue *q);

/* The entry with this id, borrowed, or NULL. */
MtaQueueEntry *mta_queue_lookup(MtaQueue *q, const char *id);

/* The message's octets, exactly as queued.  A new GBytes. */
GBytes    *mta_queue_read_message(MtaQueue *q, const MtaQueueEntry *entry, GError **error);

/* After changing the entry's recipients (state, attempts, reply, next
 * attempt), write its envelope again, atomically and synced.  On failure
 * the disk keeps the previous envelope and the entry in memory keeps the
 * changes.  Queue a bounce before you mark its recipients failed here, so
 * a crash between the two repeats the bounce rather than losing it. */
gboolean   mta_queue_update(MtaQueue *q, MtaQueueEntry *entry, GError **error);

/* Remove the entry (usually once mta_queue_entry_is_done): ID.env first,
 * so a crash in between leaves an orphan .msg that recovery removes, then
 * ID.msg, then the directory synced.  The entry is freed, even on failure
 * (it is out of the queue in memory; a file left behind is recovered on
 * the next open). */
gboolean   mta_queue_remove(MtaQueue *q, MtaQueueEntry *entry, GError **error);
/* mta_queue_remove without the directory sync, for a caller that syncs the
 * directory (mta_queue_get_dir) itself, outside its lock or once for many
 * removals.  Until then a crash may bring the entry back: delivered twice,
 * never lost. */
gboolean   mta_queue_remove_unsynced(MtaQueue *q, MtaQueueEntry *entry, GError **error);
