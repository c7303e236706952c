/* agents/mra/mra.h - the MRA agent: Dovecot's retrieval role in the course.
 *
 * Serves the Maildirs the MDA writes (STATE/mail/DOMAIN/USER) over IMAP4rev1
 * (imap_server.c) and POP3 (pop3_server.c): course step in.8, and the
 * IMAP-versus-POP3 comparison of COURSE.md section 5 (the retr.* steps of
 * docs/COURSE-STEPS.md).  Passwords are checked by asking the MDA's account
 * service over the network, as Dovecot's auth process would be asked.
 *
 * The agent also owns what its sessions share: one MraMailbox per open
 * folder (UIDs, flags, who claimed \Recent) and the change notifier that
 * wakes IMAP IDLE when another session changes the folder.
 */
#pragma once

#include "net/conn.h"
#include "agents/mda/authsvc.h"
#include "agents/mda/maildir.h"

/* ---- settings and limits ------------------------------------------------ */

#define MRA_IMAP_PORT        143   /* RFC 3501 2.1 */
#define MRA_POP3_PORT        110   /* RFC 1939 3 */
#define MRA_MAIL_DIR         "mail"   /* STATE/mail/DOMAIN/LOCAL/: the Maildirs */
/* How often a folder is read again from disk while an IMAP client IDLEs.
 * Changes made through this agent wake IDLE at once; a delivery by the MDA
 * (another agent, maybe another process) is only seen by looking, so IDLE
 * looks this often (Dovecot's mailbox_idle_check_interval, shorter). */
#define MRA_IDLE_RESCAN      (5 * MS_SECOND)
/* Unix time of scheduler time 0 in simulations: 2026-01-01, as the MTA and
 * the MDA use, so every agent stamps the same dates. */
#define MRA_DEFAULT_EPOCH_US (G_GINT64_CONSTANT(1767225600) * MS_SECOND)
/* Most sessions (IMAP and POP3 together); more are turned away. */
#define MRA_MAX_SESSIONS     256
/* Folders whose state is kept while no session has them open (only those
 * watched for changes, mra.c): the next SELECT or POP3 login reads nothing.
 * At most this many, holding at most this many messages in all. */
#define MRA_KEEP_CLOSED      16
#define MRA_KEEP_CLOSED_MESSAGES 200000

/* ---- the course-step table ---------------------------------------------- */

/* What the MRA does for a user; mra.c maps each to the course step a
 * student sees it as (in.8, retr.1 ... retr.6). */
typedef enum {
	MRA_ACTION_RETRIEVE,  /* log in, list, fetch, RETR: the MUA fetches new mail */
	MRA_ACTION_FLAG,      /* read and flagged state kept on the server (or, with POP3, not) */
	MRA_ACTION_DELETE,    /* move, delete, expunge */
	MRA_ACTION_SENT,      /* sent mail saved into the \Sent folder */
	MRA_ACTION_FOLDER,    /* create, delete, rename, subscribe to folders */
	MRA_ACTION_DRAFT,     /* drafts saved into the \Drafts folder */
	MRA_ACTION_JUNK,      /* mail moved into or out of the \Junk folder */
	MRA_ACTION_COUNT
} MraAction;

const char *mra_action_to_string(MraAction action);
/* The course step id ("in.8", "retr.3"); never NULL. */
const char *mra_action_step(MraAction action);
/* The action that saving into a folder of this special use shows:
 * \Sent retr.3, \Drafts retr.5, \Junk retr.6, \Trash retr.2, else other. */
MraAction   mra_action_for_folder(const char *folder, MraAction other);

/* ---- the agent ---------------------------------------------------------- */

typedef struct {
	const char *hostname;         /* "mail.example.org": greetings, Maildir file names */
	const char *state_dir;        /* the Maildirs live in STATE/mail */
	const char *listen_address;   /* NULL: every address of the stack */
	guint16     imap_port;        /* 0: MRA_IMAP_PORT */
	guint16     pop3_port;        /* 0: MRA_POP3_PORT */
	const char *authsvc_address;  /* the MDA's account service; NULL: the stack's address */
	guint16     authsvc_port;     /* 0: AUTHSVC_PORT */
	gboolean    fsync;            /* sync APPEND/COPY/MOVE writes; FALSE for simulations */
	guint64     seed;             /* UIDVALIDITY of new folders, Maildir names (P...) */
	gint64      epoch_us;         /* Unix time of scheduler time 0; 0: MRA_DEFAULT_EPOCH_US */
	gint64      idle_rescan_us;   /* 0: MRA_IDLE_RESCAN */
	GTlsCertificate *tls_cert;    /* offer STARTTLS/STLS (RFC 2595); NULL: none (the simulation) */
	gboolean    login_needs_tls;  /* no passwords before TLS (LOGINDISABLED) */
	guint16     imaps_port;       /* implicit TLS (RFC 8314); 0: none; needs tls_cert */
	guint16     pop3s_port;
	/* Do not ask inotify which folders changed: look each time.  A
	 * simulated world sets it, since inotify instances are counted per
	 * user (fs.inotify.max_user_instances, 128 by default) and a world
	 * of a thousand mail hosts would take them all from other programs. */
	gboolean    no_change_watch;
} MraConfig;

typedef struct Mra Mra;

/* An MRA on stack, the agent's own face: in a simulation the caller passes
 * ms_host_stack_alias(host, "mra@HOSTNAME"), in lab mode a real stack of
 * that name, so every event says who acts (the agent never makes the
 * alias itself: it cannot know which world the stack is in).  No I/O yet.
 * The strings of cfg are copied.  NULL with an error on a bad setting. */
Mra     *mra_new(MsStack *stack, const MraConfig *cfg, GError **error);
/* Listen for IMAP and POP3; every connection gets its own task. */
gboolean mra_start(Mra *mra, GError **error);
/* Close the listeners: no new connections.  Sessions under way go on
 * until their clients leave or the scheduler shuts down. */
void     mra_stop(Mra *mra);
/* Call after ms_sched_shutdown, or once mra_stop's listener tasks and every
 * session have ended (mra_sessions() == 0 and the scheduler ran since). */
void     mra_free(Mra *mra);

/* The ports the listeners got (a port of 0 in cfg asks for any). */
guint16  mra_imap_port(Mra *mra);
guint16  mra_pop3_port(Mra *mra);
/* Sessions running now. */
guint    mra_sessions(Mra *mra);

/* ---- what the sessions ask of the agent --------------------------------- */

const char *mra_hostname(Mra *mra);
/* The certificate to offer STARTTLS with, or NULL. */
GTlsCertificate *mra_tls_cert(Mra *mra);
/* Whether a login must wait for TLS. */
gboolean    mra_login_needs_tls(Mra *mra);
MsSched    *mra_sched(Mra *mra);
/* Unix time now, in microseconds: the epoch plus scheduler time (the only
 * clock an agent reads). */
gint64      mra_now_us(Mra *mra);
gint64      mra_idle_rescan(Mra *mra);

/* Ask the MDA's account service whether user/password are right; its
 * events carry step, the session's (in.8 for POP3; none for an IMAP login,
 * which comes before the session shows what it is for).  The password
 * never shows in an event.  AUTHSVC_TEMPFAIL with error when it cannot be
 * asked. */
AuthsvcResult mra_authenticate(Mra *mra, const char *step, const char *user, const char *password,
                               GError **error);

/* A new handle on user's Maildir for one session; sync as the agent's
 * fsync setting when sync is TRUE, never otherwise (flag renames need no
 * fsync: losing one in a crash loses nothing that was promised).  A user
 * with no Maildir yet gets one with INBOX, Drafts, Sent, Junk and Trash, as
 * a new account on a real server.  NULL with G_IO_ERROR_INVALID_FILENAME if
 * the address cannot name a Maildir. */
Maildir    *mra_user_maildir(Mra *mra, const char *user, gboolean sync, GError **error);

/* ---- folders shared by sessions ------------------------------------------
 *
 * Every session of this agent that opens a folder shares one MraMailbox:
 * the messages by ascending UID with their flags, kept up to date with the
 * disk.  Sessions keep their own copy (their view: what their client has
 * been told) and ask what changed since.  Each call takes the agent's lock
 * for a moment and never blocks on the network.  Folder names are Maildir
 * names ("INBOX", "Lists.Sub"); md is the calling session's handle on the
 * same user's Maildir.  Errors are G_IO_ERROR (maildir.h). */

typedef struct MraMailbox MraMailbox;

/* Share folder's state; the first opener reads it from disk (UIDs are made
 * or read, maildir_folder_sync), later ones get it refreshed as
 * mra_mailbox_refresh does with full.  G_IO_ERROR_NOT_FOUND if no such
 * folder. */
MraMailbox *mra_mailbox_open(Mra *mra, Maildir *md, const char *folder, gboolean full, GError **error);
/* Stop sharing.  The last closer frees the state, or keeps it for the
 * next opener if it is watched (MRA_KEEP_CLOSED).  NULL is a no-op. */
void        mra_mailbox_close(MraMailbox *mb);
const char *mra_mailbox_folder(MraMailbox *mb);
guint32     mra_mailbox_uidvalidity(MraMailbox *mb);
guint32     mra_mailbox_uidnext(MraMailbox *mb);

/* Bring the state up to date with the disk.  A folder watched by inotify
 * (Linux) with no event since is known unchanged and nothing is done.
 * Else full FALSE only looks whether anything changed (new/ listed, cur/
 * stat'ed) and reads the folder again if so; full TRUE reads it again
 * (NOOP, CHECK, IDLE's periodic look, a POP3 login).  Changes wake the
 * watchers. */
gboolean    mra_mailbox_refresh(MraMailbox *mb, Maildir *md, gboolean full, GError **error);

/* RFC 3501 2.3.2: a message is \Recent in one session only.  Move every
 * message still in new/ to cur/ and append their UIDs (ascending) to
 * claimed: they are recent for the caller, and for nobody else. */
gboolean    mra_mailbox_claim_recent(MraMailbox *mb, Maildir *md, GArray *claimed, GError **error);

/* Compare a session's view (MaildirMessage * copies, ascending UID) with
 * the shared state.  Copies still there get the current flags; UIDs whose
 * flags changed are appended to changed (guint32), UIDs gone to expunged
 * (the caller decides when to tell its client and remove them); copies of
 * the messages above the view's last UID to added.  Returns FALSE, doing
 * nothing, when *version says the caller saw this state already and force
 * is FALSE; else TRUE and *version is brought up to date. */
gboolean    mra_mailbox_compare(MraMailbox *mb, guint64 *version, gboolean force, GPtrArray *view,
                                GArray *changed, GArray *expunged, GPtrArray *added);

/* Flags of one message: (current | add) & ~remove, renamed on disk.  The
 * new flags in *flags_r.  G_IO_ERROR_NOT_FOUND if it was expunged. */
gboolean    mra_mailbox_change_flags(MraMailbox *mb, Maildir *md, guint32 uid, guint add,
                                     guint remove, guint *flags_r, GError **error);

/* Remove the messages with these UIDs (guint32) from disk; UIDs already
 * gone count as removed.  *removed_r (may be NULL): how many this call
 * removed. */
gboolean    mra_mailbox_expunge(MraMailbox *mb, Maildir *md, const GArray *uids, guint *removed_r,
                                GError **error);

/* RFC 3501 6.4.7, RFC 6851 3: copy (or move) the messages with these UIDs
 * into to_folder, internal dates and flags kept.  src_done gets the UIDs
 * copied or moved, dst_uids their UIDs in to_folder (same order), and
 * *uidvalidity_r to_folder's UIDVALIDITY (RFC 4315 COPYUID).  A copy is
 * all or nothing: on failure the copies made are removed.  A move is done
 * message by message: on failure src_done says which moved.  A UID that is
 * not in the folder any more is G_IO_ERROR_NOT_FOUND before anything is
 * done. */
gboolean    mra_mailbox_copy(MraMailbox *mb, Maildir *md, const GArray *uids, const char *to_folder,
                             gboolean move, GArray *src_done, GArray *dst_uids,
                             guint32 *uidvalidity_r, GError **error);

/* RFC 3501 6.3.11: store a message in folder with these flags (0: a new,
 * \Recent message) and internal date (Unix microseconds), then give its
 * UID and the folder's UIDVALIDITY (RFC 4315 APPENDUID). */
gboolean    mra_mailbox_append(Mra *mra, Maildir *md, const char *folder, const char *data, gsize len,
                               guint flags, gint64 internal_date_us, guint32 *uidvalidity_r,
                               guint32 *uid_r, GError **error);

/* RFC 3501 6.3.10: the counts STATUS reports. */
typedef struct {
	guint   messages, recent, unseen;
	guint32 uidnext, uidvalidity;
} MraStatus;

gboolean    mra_mailbox_status(Mra *mra, Maildir *md, const char *folder, MraStatus *status,
                               GError **error);

/* Make a folder (and its missing parents), with a fresh UIDVALIDITY. */
gboolean    mra_folder_create(Mra *mra, Maildir *md, const char *folder, GError **error);

/* The change notifier: while watched, task is unparked (ms_task_unpark)
 * whenever the folder changes.  IMAP IDLE watches its selected folder. */
void        mra_mailbox_watch(MraMailbox *mb, MsTask *task);
void        mra_mailbox_unwatch(MraMailbox *mb, MsTask *task);

/* ---- reading messages --------------------------------------------------- */

/* How many files a reader asks the disk for ahead of the one it reads. */
#define MRA_READ_AHEAD       32

/* A session's reader of message files.  Clients read a folder in order
 * (FETCH 1:*, one UID FETCH after another, RETR 1, RETR 2, ...); when a
 * read has to wait for the disk, the reader asks the kernel for the files
 * that follow as well (posix_fadvise), so that the disk fetches many at
 * once instead of one after another.  Warm files cost nothing extra. */
typedef struct MraReader MraReader;

/* md: the session's handle, borrowed; it must outlive the reader. */
MraReader  *mra_reader_new(Maildir *md);
void        mra_reader_free(MraReader *r);
/* The octets of messages[index] (MaildirMessage *, the session's list in
 * the order the client numbers them), as maildir_message_read gives them;
 * the messages after it are what is read ahead. */
gboolean    mra_reader_read(MraReader *r, GPtrArray *messages, guint index, GBytes **bytes_r,
                            GError **error);
