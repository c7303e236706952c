/* agents/mra/mra.c - the MRA: listeners, the course-step table, and the
 * folder state its sessions share.
 *
 * One task accepts IMAP connections, one POP3 connections; each connection
 * gets a task running imap_server.c or pop3_server.c.  The sessions share
 * one MraMailbox per open folder under one lock: the messages by UID, the
 * \Recent claim (RFC 3501 2.3.2) and the change notifier that wakes IDLE;
 * inotify says when the disk changed under it.  Each session reads message
 * files through an MraReader, which reads ahead when the disk is cold.
 */
#include "agents/mra/mra.h"
#include "agents/mra/imap_server.h"
#include "agents/mra/pop3_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#define MRA_HAVE_INOTIFY 1
#endif

#define MRA_CHANGES_BUFFER (64 * 1024)   /* octets of inotify events read at once */

/* ---- the course-step table ----------------------------------------------
 * What the MRA does, and the step of COURSE.md (section 4, and section 5 as
 * docs/COURSE-STEPS.md numbers it) that a student sees it as. */
static const struct {
	const char *name;
	const char *step;
} action_table[MRA_ACTION_COUNT] = {
	[MRA_ACTION_RETRIEVE] = { "retrieve", "in.8" },    /* the MUA fetches new mail */
	[MRA_ACTION_FLAG]     = { "flag",     "retr.1" },  /* read/flagged: on the server, or nowhere */
	[MRA_ACTION_DELETE]   = { "delete",   "retr.2" },  /* move, delete */
	[MRA_ACTION_SENT]     = { "sent",     "retr.3" },  /* sent mail kept on the server */
	[MRA_ACTION_FOLDER]   = { "folder",   "retr.4" },  /* folders on the server */
	[MRA_ACTION_DRAFT]    = { "draft",    "retr.5" },  /* drafts on the server */
	[MRA_ACTION_JUNK]     = { "junk",     "retr.6" },  /* the junk folder */
};

const char *mra_action_to_string(MraAction action)
{
	return (guint)action < MRA_ACTION_COUNT ? action_table[action].name : "?";
}

const char *mra_action_step(MraAction action)
{
	return (guint)action < MRA_ACTION_COUNT ? action_table[action].step : action_table[0].step;
}

MraAction mra_action_for_folder(const char *folder, MraAction other)
{
	switch (maildir_special_use_of(folder)) {
	case MAILDIR_SPECIAL_SENT:   return MRA_ACTION_SENT;
	case MAILDIR_SPECIAL_DRAFTS: return MRA_ACTION_DRAFT;
	case MAILDIR_SPECIAL_JUNK:   return MRA_ACTION_JUNK;
	case MAILDIR_SPECIAL_TRASH:  return MRA_ACTION_DELETE;
	default:                     return other;
	}
}

/* ---- the agent ---------------------------------------------------------- */

struct Mra {
	MsStack     *stack;
	MsSched     *sched;
	char        *hostname;
	char        *mail_dir;
	char        *listen_address;
	char        *authsvc_address;
	guint16      imap_port, pop3_port, authsvc_port;
	AuthsvcPool *authsvc;          /* connections to the account service, shared by sessions */
	gboolean     fsync;
	guint64      seed;
	gint64       epoch_us;
	gint64       idle_rescan;
	MsListener  *l_imap, *l_pop3, *l_imaps, *l_pop3s;
	GTlsCertificate *tls_cert;
	gboolean     login_needs_tls;
	guint16      imaps_port, pop3s_port;
	gint         sessions;      /* atomic */
	guint        serial;        /* for task names */

	GMutex       lock;          /* everything below, and every MraMailbox */
	GHashTable  *mailboxes;     /* "ROOT\nFOLDER" -> MraMailbox*, open or kept */
	GQueue       closed;        /* the kept ones nobody has open, latest first */
	int          changes_fd;    /* inotify: which folders changed; -1: look each time */
	char        *changes_buf;   /* MRA_CHANGES_BUFFER octets, to read its events into */
	MaildirStamp stamp;         /* names of the messages this agent writes */
	guint64      uidvalidity_draws;
};

struct MraMailbox {
	Mra        *mra;
	char       *key;
	char       *user;           /* "example.org/bob": the root below mail/ */
	char       *folder;         /* canonical Maildir name */
	char       *cur_path, *new_path;
	guint       refs;
	guint32     uidvalidity, uidnext;
	GPtrArray  *messages;       /* MaildirMessage*, ascending UID; size is RFC822.SIZE */
	GHashTable *by_uid;         /* uid -> MaildirMessage* (borrowed) */
	GHashTable *by_base;        /* base -> MaildirMessage* (borrowed) */
	guint       n_new;          /* messages still in new/ */
	struct timespec cur_mtime;  /* cur/ when last read, to notice others' renames */
	gboolean    cur_known;
	int         wd[3];          /* inotify watches: the folder, new/, cur/; -1: none */
	gboolean    watched;        /* all three hold: no event, no change */
	gboolean    changed_on_disk;/* an event came since the folder was last looked at */
	guint64     version;        /* goes up with every change */
	GPtrArray  *watchers;       /* MsTask* in IDLE */
};

Mra *mra_new(MsStack *stack, const MraConfig *cfg, GError **error)
{
	g_return_val_if_fail(stack != NULL && cfg != NULL, NULL);
	if (!cfg->hostname || !*cfg->hostname || !cfg->state_dir || !*cfg->state_dir) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "the MRA needs a host name and a state directory");
		return NULL;
	}
	Mra *mra = g_new0(Mra, 1);
	mra->stack = ms_stack_ref(stack);
	mra->sched = ms_stack_sched(stack);
	mra->hostname = g_strdup(cfg->hostname);
	mra->mail_dir = g_build_filename(cfg->state_dir, MRA_MAIL_DIR, NULL);
	mra->listen_address = g_strdup(cfg->listen_address);
	mra->authsvc_address = g_strdup(cfg->authsvc_address ? cfg->authsvc_address : ms_stack_address(stack));
	mra->imap_port = cfg->imap_port ? cfg->imap_port : MRA_IMAP_PORT;
	mra->pop3_port = cfg->pop3_port ? cfg->pop3_port : MRA_POP3_PORT;
	mra->authsvc_port = cfg->authsvc_port ? cfg->authsvc_port : AUTHSVC_PORT;
	mra->authsvc = authsvc_pool_new(stack, mra->authsvc_address, mra->authsvc_port);
	mra->fsync = cfg->fsync;
	mra->seed = cfg->seed;
	mra->epoch_us = cfg->epoch_us ? cfg->epoch_us : MRA_DEFAULT_EPOCH_US;
	mra->idle_rescan = cfg->idle_rescan_us > 0 ? cfg->idle_rescan_us : MRA_IDLE_RESCAN;
	g_mutex_init(&mra->lock);
	mra->mailboxes = g_hash_table_new(g_str_hash, g_str_equal);
	mra->changes_fd = -1;
#ifdef MRA_HAVE_INOTIFY
	mra->changes_fd = cfg->no_change_watch ? -1 : inotify_init1(IN_NONBLOCK | IN_CLOEXEC);   /* -1: we look */
	if (mra->changes_fd >= 0)
		mra->changes_buf = g_malloc(MRA_CHANGES_BUFFER);
#endif
	mra->tls_cert = cfg->tls_cert ? g_object_ref(cfg->tls_cert) : NULL;
	mra->login_needs_tls = cfg->login_needs_tls && cfg->tls_cert;
	mra->imaps_port = cfg->imaps_port;
	mra->pop3s_port = cfg->pop3s_port;
	/* P in Maildir names: the MDA writes P<seed>; ours differ so that the
	 * two agents never make the same name at the same virtual moment */
	mra->stamp.process = cfg->seed ^ G_GUINT64_CONSTANT(0x6d7261);   /* "mra" */
	return mra;
}

typedef struct {
	Mra        *mra;
	MsConn     *conn;
	gboolean    pop3;
	gboolean    implicit_tls;
} SessionStart;

static void session_task(gpointer data)
{
	SessionStart *st = data;
	if (st->implicit_tls && !ms_conn_starttls(st->conn, st->mra->tls_cert, NULL))
		;   /* the handshake failed: nothing to serve (an event says why) */
	else if (st->pop3)
		pop3_server_run(st->conn, st->mra);
	else
		imap_server_run(st->conn, st->mra);
	ms_conn_unref(st->conn);
	g_atomic_int_add(&st->mra->sessions, -1);
	g_free(st);
}

typedef struct {
	Mra        *mra;
	MsListener *l;
	gboolean    pop3;
	gboolean    implicit_tls;
} Listening;

static void listener_task(gpointer data)
{
	Listening *li = data;
	Mra *mra = li->mra;
	for (;;) {
		MsConn *c = ms_listener_accept(li->l, NULL);
		if (!c)
			break;
		if (g_atomic_int_get(&mra->sessions) >= MRA_MAX_SESSIONS) {
			ms_conn_set_proto(c, li->pop3 ? "pop3" : "imap");
			ms_conn_emit(c, MS_EV_REFUSE, "too many sessions (%d)", MRA_MAX_SESSIONS);
			if (li->pop3)
				ms_conn_printf(c, NULL, "-ERR [SYS/TEMP] Too many connections, try again later\r\n");
			else
				ms_conn_printf(c, NULL, "* BYE [UNAVAILABLE] Too many connections, try again later\r\n");
			ms_conn_close(c);
			ms_conn_unref(c);
			continue;
		}
		g_atomic_int_inc(&mra->sessions);
		SessionStart *st = g_new0(SessionStart, 1);
		st->mra = mra;
		st->conn = c;
		st->pop3 = li->pop3;
		st->implicit_tls = li->implicit_tls;
		g_autofree char *name = g_strdup_printf("%s@%s#%u", li->pop3 ? "pop3" : "imap", mra->hostname,
		                                        ++mra->serial);
		ms_task_spawn(mra->sched, name, session_task, st);
	}
	g_free(li);
}

static MsListener *listen_on(Mra *mra, guint16 port, gboolean pop3, gboolean implicit_tls, GError **error)
{
	MsListener *l = ms_stack_listen(mra->stack, mra->listen_address, port, error);
	if (!l)
		return NULL;
	ms_listener_set_proto(l, pop3 ? "pop3" : "imap");
	/* A POP3 session is always a fetch (in.8).  What an IMAP session is
	 * for shows only with its first command that acts (imap_server.c):
	 * until then it carries no step, so that a client keeping its Sent
	 * copy (retr.3) is not shown fetching mail. */
	ms_listener_set_step(l, pop3 ? mra_action_step(MRA_ACTION_RETRIEVE) : NULL);
	Listening *li = g_new0(Listening, 1);
	li->mra = mra;
	li->l = l;
	li->pop3 = pop3;
	li->implicit_tls = implicit_tls;
	g_autofree char *name = g_strdup_printf("%s@%s:%u", pop3 ? "pop3d" : "imapd", mra->hostname,
	                                        ms_listener_port(l));
	ms_task_spawn(mra->sched, name, listener_task, li);
	return l;
}

gboolean mra_start(Mra *mra, GError **error)
{
	g_return_val_if_fail(!mra->l_imap, FALSE);
	if (mra->tls_cert && mra->imaps_port && !(mra->l_imaps = listen_on(mra, mra->imaps_port, FALSE, TRUE, error)))
		return FALSE;
	if (mra->tls_cert && mra->pop3s_port && !(mra->l_pop3s = listen_on(mra, mra->pop3s_port, TRUE, TRUE, error)))
		return FALSE;
	mra->l_imap = listen_on(mra, mra->imap_port, FALSE, FALSE, error);
	if (!mra->l_imap)
		return FALSE;
	mra->l_pop3 = listen_on(mra, mra->pop3_port, TRUE, FALSE, error);
	return mra->l_pop3 != NULL;
}

void mra_stop(Mra *mra)
{
	if (mra->l_imap)
		ms_listener_close(mra->l_imap);
	if (mra->l_pop3)
		ms_listener_close(mra->l_pop3);
	if (mra->l_imaps)
		ms_listener_close(mra->l_imaps);
	if (mra->l_pop3s)
		ms_listener_close(mra->l_pop3s);
	authsvc_pool_close(mra->authsvc);
}

static void mailbox_free(MraMailbox *mb);

void mra_free(Mra *mra)
{
	if (!mra)
		return;
	g_warn_if_fail(g_atomic_int_get(&mra->sessions) == 0);
	ms_listener_free(mra->l_imap);
	ms_listener_free(mra->l_pop3);
	ms_listener_free(mra->l_imaps);
	ms_listener_free(mra->l_pop3s);
	g_clear_object(&mra->tls_cert);
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, mra->mailboxes);
	while (g_hash_table_iter_next(&it, NULL, &value))
		mailbox_free(value);   /* the kept ones, and any a session cut short left open */
	g_hash_table_destroy(mra->mailboxes);
	g_queue_clear(&mra->closed);
	if (mra->changes_fd >= 0)
		close(mra->changes_fd);
	g_free(mra->changes_buf);
	g_mutex_clear(&mra->lock);
	ms_stack_unref(mra->stack);
	g_free(mra->hostname);
	g_free(mra->mail_dir);
	g_free(mra->listen_address);
	g_free(mra->authsvc_address);
	authsvc_pool_free(mra->authsvc);
	g_free(mra);
}

GTlsCertificate *mra_tls_cert(Mra *mra) { return mra->tls_cert; }
gboolean mra_login_needs_tls(Mra *mra) { return mra->login_needs_tls; }

guint16 mra_imap_port(Mra *mra) { return mra->l_imap ? ms_listener_port(mra->l_imap) : 0; }
guint16 mra_pop3_port(Mra *mra) { return mra->l_pop3 ? ms_listener_port(mra->l_pop3) : 0; }
guint mra_sessions(Mra *mra) { return (guint)g_atomic_int_get(&mra->sessions); }
const char *mra_hostname(Mra *mra) { return mra->hostname; }
MsSched *mra_sched(Mra *mra) { return mra->sched; }
gint64 mra_now_us(Mra *mra) { return mra->epoch_us + ms_sched_now(mra->sched); }
gint64 mra_idle_rescan(Mra *mra) { return mra->idle_rescan; }

/* ---- what sessions ask -------------------------------------------------- */

AuthsvcResult mra_authenticate(Mra *mra, const char *step, const char *user, const char *password,
                               GError **error)
{
	return authsvc_pool_auth(mra->authsvc, user, password, step, error);
}

/* UIDVALIDITY for a folder made now (RFC 3501 2.3.1.1: never reused for a
 * name).  From the seed, the user and the folder name, never the wall
 * clock, so a simulation replays it; the scheduler time and a draw counter
 * make a folder deleted and made again get a new one. */
static guint32 uidvalidity_for(Mra *mra, const char *user, const char *folder)
{
	guint64 h = G_GUINT64_CONSTANT(0xcbf29ce484222325);
	guint64 words[3] = { mra->seed, (guint64)ms_sched_now(mra->sched), ++mra->uidvalidity_draws };
	const guchar *parts[3] = { (const guchar *)words, (const guchar *)user, (const guchar *)folder };
	gsize lens[3] = { sizeof words, strlen(user) + 1, strlen(folder) + 1 };
	for (int p = 0; p < 3; p++)
		for (gsize i = 0; i < lens[p]; i++) {
			h ^= parts[p][i];
			h *= G_GUINT64_CONSTANT(0x100000001b3);
		}
	guint32 v = (guint32)(h ^ (h >> 32));
	return v ? v : 1;
}

/* "example.org/bob" for a root under the mail directory. */
static const char *user_key(Mra *mra, const char *root)
{
	gsize n = strlen(mra->mail_dir);
	if (strncmp(root, mra->mail_dir, n) == 0 && root[n] == G_DIR_SEPARATOR)
		return root + n + 1;
	return root;
}

Maildir *mra_user_maildir(Mra *mra, const char *user, gboolean sync, GError **error)
{
	g_autofree char *root = maildir_user_root(mra->mail_dir, user, error);
	if (!root)
		return NULL;
	Maildir *md = maildir_new(root, mra->hostname, sync && mra->fsync);
	if (!g_file_test(root, G_FILE_TEST_IS_DIR)) {
		/* Dovecot makes INBOX at the first login, and clients expect the
		 * special folders (RFC 6154) to be there */
		g_mutex_lock(&mra->lock);
		gboolean ok = maildir_ensure_defaults(md, uidvalidity_for(mra, user_key(mra, root), "INBOX"), error);
		g_mutex_unlock(&mra->lock);
		if (!ok) {
			maildir_free(md);
			return NULL;
		}
	}
	return md;
}

/* ---- the shared folder state -------------------------------------------- */

static void changes_unwatch(MraMailbox *mb);

static void mailbox_free(MraMailbox *mb)
{
	changes_unwatch(mb);
	g_free(mb->key);
	g_free(mb->user);
	g_free(mb->folder);
	g_free(mb->cur_path);
	g_free(mb->new_path);
	g_clear_pointer(&mb->messages, g_ptr_array_unref);
	g_clear_pointer(&mb->by_uid, g_hash_table_destroy);
	g_clear_pointer(&mb->by_base, g_hash_table_destroy);
	g_ptr_array_free(mb->watchers, TRUE);
	g_free(mb);
}

/* Something changed: a new version, and every IDLE watcher wakes. */
static void mailbox_changed(MraMailbox *mb)
{
	mb->version++;
	for (guint i = 0; i < mb->watchers->len; i++)
		ms_task_unpark(g_ptr_array_index(mb->watchers, i));
}

/* ",W=123" or ",S=123" in a base name: Dovecot's virtual (CRLF) and
 * physical sizes. */
static gboolean base_number(const char *base, const char *field, guint64 *value_r)
{
	gsize flen = strlen(field);
	for (const char *p = strstr(base, field); p; p = strstr(p + 1, field)) {
		const char *s = p + flen;
		guint64 v = 0;
		gsize digits = 0;
		while (g_ascii_isdigit(*s) && digits < 19) {
			v = v * 10 + (guint64)(*s - '0');
			s++;
			digits++;
		}
		if (digits > 0 && (*s == '\0' || *s == ',')) {
			*value_r = v;
			return TRUE;
		}
	}
	return FALSE;
}

/* RFC822.SIZE counts every line end as CRLF (RFC 3501 2.3.4).  The MDA
 * writes CRLF files with ",S=" in their names; a file put there by hand may
 * end its lines with LF alone and has no size in its name: it is read once
 * and counted as it will be sent. */
static guint64 message_vsize(Maildir *md, const MaildirMessage *msg)
{
	guint64 v;
	if (base_number(msg->base, ",W=", &v) || base_number(msg->base, ",S=", &v))
		return v;
	g_autoptr(GBytes) bytes = NULL;
	if (!maildir_message_read(md, msg, &bytes, NULL))
		return msg->size;
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);
	guint64 bare = 0;
	for (const char *p = data, *end = data + len; (p = memchr(p, '\n', (gsize)(end - p))); p++)
		if (p == data || p[-1] != '\r')
			bare++;
	return len + bare;
}

static gboolean cur_stat(MraMailbox *mb, struct timespec *mtime_r)
{
	struct stat st;
	if (stat(mb->cur_path, &st) != 0)
		return FALSE;
	*mtime_r = st.st_mtim;
	return TRUE;
}

static gboolean same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* ---- noticing changes -----------------------------------------------------
 * Before most commands a session asks whether its folder changed on disk.
 * Looking costs a stat of cur/ and a listing of new/, whose directory keeps
 * the size it had at its fullest, however empty it is now.  inotify
 * (Linux) answers without looking: the kernel queues an event for every
 * name made, renamed or removed in a watched directory, at the moment it
 * happens, so a folder with no event since it was last looked at is as it
 * was.  Where inotify is missing, or a watch is lost (the folder deleted or
 * renamed), the folder is looked at every time, as before. */

#ifdef MRA_HAVE_INOTIFY
#define CHANGES_IN_DIR (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)
#define CHANGES_OF_DIR (IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)
#define CHANGES_LOST   (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)
#endif

static void changes_unwatch(MraMailbox *mb)
{
#ifdef MRA_HAVE_INOTIFY
	for (int i = 0; i < 3; i++)
		if (mb->wd[i] >= 0)
			inotify_rm_watch(mb->mra->changes_fd, mb->wd[i]);
#endif
	mb->wd[0] = mb->wd[1] = mb->wd[2] = -1;
	mb->watched = FALSE;
}

/* Watch the folder directory (for being deleted or renamed) and what
 * happens in its new/ and cur/. */
static void changes_watch(MraMailbox *mb, const char *dir)
{
	mb->wd[0] = mb->wd[1] = mb->wd[2] = -1;
#ifdef MRA_HAVE_INOTIFY
	int fd = mb->mra->changes_fd;
	if (fd < 0)
		return;
	mb->wd[0] = inotify_add_watch(fd, dir, CHANGES_OF_DIR);
	mb->wd[1] = inotify_add_watch(fd, mb->new_path, CHANGES_IN_DIR | CHANGES_OF_DIR);
	mb->wd[2] = inotify_add_watch(fd, mb->cur_path, CHANGES_IN_DIR | CHANGES_OF_DIR);
	mb->watched = mb->wd[0] >= 0 && mb->wd[1] >= 0 && mb->wd[2] >= 0;
	if (!mb->watched)
		changes_unwatch(mb);   /* out of watches (fs.inotify.max_user_watches): look */
#else
	(void)dir;
#endif
}

#ifdef MRA_HAVE_INOTIFY
/* An event for watch wd: its folder changed; a lost watch is not trusted
 * again. */
static void changes_mark(Mra *mra, int wd, gboolean lost)
{
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, mra->mailboxes);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		MraMailbox *mb = value;
		if (mb->wd[0] != wd && mb->wd[1] != wd && mb->wd[2] != wd && wd != -1)
			continue;
		mb->changed_on_disk = TRUE;
		if (lost)
			changes_unwatch(mb);
	}
}
#endif

/* Read every queued event: the folders they name are marked changed. */
static void changes_read_locked(Mra *mra)
{
#ifdef MRA_HAVE_INOTIFY
	if (mra->changes_fd < 0)
		return;
	for (;;) {
		ssize_t n = read(mra->changes_fd, mra->changes_buf, MRA_CHANGES_BUFFER);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				changes_mark(mra, -1, TRUE);   /* cannot read them: trust no watch */
			return;
		}
		int last_wd = -1;
		for (gsize off = 0; off + sizeof(struct inotify_event) <= (gsize)n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(mra->changes_buf + off);
			gboolean lost = (ev->mask & CHANGES_LOST) != 0;
			if (ev->mask & IN_Q_OVERFLOW)
				changes_mark(mra, -1, FALSE);   /* events were dropped: every folder */
			else if (ev->wd != last_wd || lost)
				changes_mark(mra, ev->wd, lost);
			last_wd = ev->wd;
			off += sizeof *ev + ev->len;
		}
	}
#else
	(void)mra;
#endif
}

/* Whether the folder may have changed since it was last looked at.  What
 * happens from now on is queued for the next call. */
static gboolean changes_seen(MraMailbox *mb)
{
	if (!mb->watched)
		return TRUE;
	changes_read_locked(mb->mra);
	gboolean changed = mb->changed_on_disk || !mb->watched;
	mb->changed_on_disk = FALSE;
	return changed;
}

/* Read the folder again (maildir_folder_sync: the uidlist gives old
 * messages their UIDs and new ones the next), keeping what is known. */
static gboolean mailbox_sync_locked(MraMailbox *mb, Maildir *md, GError **error)
{
	changes_seen(mb);   /* this read sees them all */
	struct timespec mtime;
	/* stat first: a rename after it shows as a change next time */
	gboolean have_mtime = cur_stat(mb, &mtime);
	g_autoptr(MaildirIndex) index = NULL;
	if (!maildir_folder_sync(md, mb->folder, uidvalidity_for(mb->mra, mb->user, mb->folder), &index, error))
		return FALSE;
	gboolean same_uids = index->uidvalidity == mb->uidvalidity;
	gboolean changed = !same_uids || !mb->messages || index->messages->len != mb->messages->len;
	GHashTable *by_uid = g_hash_table_new(g_direct_hash, g_direct_equal);
	GHashTable *by_base = g_hash_table_new(g_str_hash, g_str_equal);
	guint n_new = 0;
	for (guint i = 0; i < index->messages->len; i++) {
		MaildirMessage *m = index->messages->pdata[i];
		MaildirMessage *old = same_uids && mb->by_uid ? g_hash_table_lookup(mb->by_uid, GUINT_TO_POINTER(m->uid)) : NULL;
		if (old && strcmp(old->base, m->base) == 0)
			m->size = old->size;
		else
			m->size = message_vsize(md, m);
		if (!old || old->flags != m->flags || old->in_new != m->in_new)
			changed = TRUE;
		n_new += m->in_new;
		g_hash_table_insert(by_uid, GUINT_TO_POINTER(m->uid), m);
		g_hash_table_insert(by_base, m->base, m);
	}
	g_clear_pointer(&mb->by_uid, g_hash_table_destroy);
	g_clear_pointer(&mb->by_base, g_hash_table_destroy);
	g_clear_pointer(&mb->messages, g_ptr_array_unref);
	mb->messages = g_steal_pointer(&index->messages);
	mb->by_uid = by_uid;
	mb->by_base = by_base;
	mb->n_new = n_new;
	mb->uidvalidity = index->uidvalidity;
	mb->uidnext = index->uidnext;
	mb->cur_known = have_mtime;
	if (have_mtime)
		mb->cur_mtime = mtime;
	if (changed)
		mailbox_changed(mb);
	return TRUE;
}

/* Whether the disk still matches the state, by a look: cur/ by its mtime
 * (every rename, link and unlink there changes it), new/ by its listing
 * (two deliveries in one clock tick would leave its mtime alone).  A
 * change in cur/ by another process within the tick of our last read can
 * hide until the next full read (NOOP, CHECK, IDLE): the price of not
 * reading every name at every command. */
static gboolean mailbox_unchanged(MraMailbox *mb)
{
	struct timespec mtime;
	if (!mb->cur_known || !cur_stat(mb, &mtime) || !same_time(&mtime, &mb->cur_mtime))
		return FALSE;
	DIR *d = opendir(mb->new_path);
	if (!d)
		return FALSE;
	guint n = 0;
	gboolean same = TRUE;
	struct dirent *e;
	while (same && (e = readdir(d))) {
		if (e->d_name[0] == '.' || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
			continue;
		char base[MAILDIR_MAX_FILE_NAME + 1];
		g_strlcpy(base, e->d_name, sizeof base);
		char *colon = strchr(base, ':');
		if (colon)
			*colon = '\0';
		const MaildirMessage *m = g_hash_table_lookup(mb->by_base, base);
		same = m && m->in_new;
		n++;
	}
	closedir(d);
	return same && n == mb->n_new;
}

/* A watched folder with no event is as it was, for certain: neither a look
 * nor a full read is needed.  Else a full read is the certain answer, and
 * a look the cheap one. */
static gboolean refresh_locked(MraMailbox *mb, Maildir *md, gboolean full, GError **error)
{
	if (mb->watched && !changes_seen(mb))
		return TRUE;
	if (!full && mailbox_unchanged(mb))
		return TRUE;
	return mailbox_sync_locked(mb, md, error);
}

/* Our own change in cur/: if nobody else changed it since we read it, the
 * mtime after our change is the one to compare with next time. */
static gboolean own_change_begin(MraMailbox *mb)
{
	struct timespec mtime;
	return mb->cur_known && cur_stat(mb, &mtime) && same_time(&mtime, &mb->cur_mtime);
}

static void own_change_end(MraMailbox *mb, gboolean was_current)
{
	if (was_current)
		mb->cur_known = cur_stat(mb, &mb->cur_mtime);
}

/* Drop a mailbox nobody has open. */
static void mailbox_forget_locked(MraMailbox *mb)
{
	g_assert(mb->refs == 0);
	g_queue_remove(&mb->mra->closed, mb);
	g_hash_table_remove(mb->mra->mailboxes, mb->key);
	mailbox_free(mb);
}

/* The shared state of folder, read now if it is not known; refreshed as
 * refresh_locked does (full: read again unless certainly unchanged). */
static MraMailbox *mailbox_get_locked(Mra *mra, Maildir *md, const char *folder, gboolean full,
                                      GError **error)
{
	const char *root = maildir_get_root(md);
	const char *name = maildir_folder_canonical(folder);
	g_autofree char *key = g_strdup_printf("%s\n%s", root, name);
	MraMailbox *mb = g_hash_table_lookup(mra->mailboxes, key);
	if (mb && mb->refs == 0) {
		/* kept closed: worth keeping only while its watches hold (they
		 * go with a directory deleted or renamed meanwhile) */
		changes_read_locked(mra);
		if (!mb->watched) {
			mailbox_forget_locked(mb);
			mb = NULL;
		}
	}
	if (mb) {
		if (!refresh_locked(mb, md, full, error)) {
			if (mb->refs == 0)
				mailbox_forget_locked(mb);   /* kept closed, and gone since */
			return NULL;
		}
		if (mb->refs++ == 0)
			g_queue_remove(&mra->closed, mb);
		return mb;
	}
	mb = g_new0(MraMailbox, 1);
	mb->mra = mra;
	mb->key = g_steal_pointer(&key);
	mb->user = g_strdup(user_key(mra, root));
	mb->folder = g_strdup(name);
	mb->watchers = g_ptr_array_new();
	/* maildir.h's layout: INBOX is the root, "A.B" is ROOT/.A.B */
	g_autofree char *dir = strcmp(name, MAILDIR_INBOX) == 0 ? g_strdup(root)
	                                                         : g_strdup_printf("%s/.%s", root, name);
	mb->cur_path = g_build_filename(dir, "cur", NULL);
	mb->new_path = g_build_filename(dir, "new", NULL);
	changes_watch(mb, dir);   /* before the first read: nothing falls between */
	if (!mailbox_sync_locked(mb, md, error)) {
		mailbox_free(mb);
		return NULL;
	}
	mb->refs = 1;
	g_hash_table_insert(mra->mailboxes, mb->key, mb);
	return mb;
}

static void mailbox_release_locked(MraMailbox *mb)
{
	Mra *mra = mb->mra;
	if (--mb->refs > 0)
		return;
	if (!mb->watched) {
		mailbox_forget_locked(mb);
		return;
	}
	/* watched, it stays known while closed: the next session to open it
	 * needs no read if nothing happened meanwhile */
	g_queue_push_head(&mra->closed, mb);
	for (;;) {
		guint64 kept = 0;
		for (GList *l = mra->closed.head; l; l = l->next)
			kept += ((MraMailbox *)l->data)->messages->len;
		if (g_queue_get_length(&mra->closed) <= MRA_KEEP_CLOSED && kept <= MRA_KEEP_CLOSED_MESSAGES)
			break;
		mailbox_forget_locked(g_queue_peek_tail(&mra->closed));   /* the longest unused */
	}
}

MraMailbox *mra_mailbox_open(Mra *mra, Maildir *md, const char *folder, gboolean full, GError **error)
{
	g_mutex_lock(&mra->lock);
	MraMailbox *mb = mailbox_get_locked(mra, md, folder, full, error);
	g_mutex_unlock(&mra->lock);
	return mb;
}

void mra_mailbox_close(MraMailbox *mb)
{
	if (!mb)
		return;
	Mra *mra = mb->mra;
	g_mutex_lock(&mra->lock);
	mailbox_release_locked(mb);
	g_mutex_unlock(&mra->lock);
}

const char *mra_mailbox_folder(MraMailbox *mb) { return mb->folder; }

guint32 mra_mailbox_uidvalidity(MraMailbox *mb)
{
	g_mutex_lock(&mb->mra->lock);
	guint32 v = mb->uidvalidity;
	g_mutex_unlock(&mb->mra->lock);
	return v;
}

guint32 mra_mailbox_uidnext(MraMailbox *mb)
{
	g_mutex_lock(&mb->mra->lock);
	guint32 v = mb->uidnext;
	g_mutex_unlock(&mb->mra->lock);
	return v;
}

gboolean mra_mailbox_refresh(MraMailbox *mb, Maildir *md, gboolean full, GError **error)
{
	g_mutex_lock(&mb->mra->lock);
	gboolean ok = refresh_locked(mb, md, full, error);
	g_mutex_unlock(&mb->mra->lock);
	return ok;
}

gboolean mra_mailbox_claim_recent(MraMailbox *mb, Maildir *md, GArray *claimed, GError **error)
{
	gboolean ok = TRUE;
	g_mutex_lock(&mb->mra->lock);
	if (mb->n_new > 0) {
		gboolean current = own_change_begin(mb);
		guint before = mb->n_new;
		for (guint i = 0; ok && i < mb->messages->len; i++) {
			MaildirMessage *m = mb->messages->pdata[i];
			if (!m->in_new)
				continue;
			GError *err = NULL;
			/* Maildir: cur/ means "a client has seen it" */
			if (maildir_message_to_cur(md, m, &err)) {
				g_array_append_val(claimed, m->uid);
				mb->n_new--;
			} else if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
				g_clear_error(&err);   /* gone meanwhile: the next read drops it */
			} else {
				g_propagate_error(error, err);
				ok = FALSE;
			}
		}
		own_change_end(mb, current);
		if (mb->n_new != before)
			mailbox_changed(mb);
	}
	g_mutex_unlock(&mb->mra->lock);
	return ok;
}

/* Index of the first message with a UID above uid. */
static guint first_above(GPtrArray *messages, guint32 uid)
{
	guint lo = 0, hi = messages->len;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		if (((MaildirMessage *)messages->pdata[mid])->uid <= uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

gboolean mra_mailbox_compare(MraMailbox *mb, guint64 *version, gboolean force, GPtrArray *view,
                             GArray *changed, GArray *expunged, GPtrArray *added)
{
	g_mutex_lock(&mb->mra->lock);
	if (!force && *version == mb->version) {
		g_mutex_unlock(&mb->mra->lock);
		return FALSE;
	}
	guint32 last = 0;
	for (guint i = 0; i < view->len; i++) {
		MaildirMessage *vm = view->pdata[i];
		last = vm->uid;
		const MaildirMessage *m = g_hash_table_lookup(mb->by_uid, GUINT_TO_POINTER(vm->uid));
		if (!m) {
			g_array_append_val(expunged, vm->uid);
			continue;
		}
		if (m->flags != vm->flags) {
			vm->flags = m->flags;
			g_array_append_val(changed, vm->uid);
		}
		vm->in_new = m->in_new;
		memcpy(vm->keywords, m->keywords, sizeof vm->keywords);
	}
	for (guint i = first_above(mb->messages, last); i < mb->messages->len; i++)
		g_ptr_array_add(added, maildir_message_dup(mb->messages->pdata[i]));
	*version = mb->version;
	g_mutex_unlock(&mb->mra->lock);
	return TRUE;
}

gboolean mra_mailbox_change_flags(MraMailbox *mb, Maildir *md, guint32 uid, guint add,
                                  guint remove, guint *flags_r, GError **error)
{
	gboolean ok = TRUE;
	g_mutex_lock(&mb->mra->lock);
	MaildirMessage *m = g_hash_table_lookup(mb->by_uid, GUINT_TO_POINTER(uid));
	if (!m) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "UID %u is not in %s any more", uid, mb->folder);
		ok = FALSE;
	} else {
		guint flags = (m->flags | add) & ~remove & MAILDIR_FLAGS_ALL;
		if (flags != m->flags) {
			gboolean current = own_change_begin(mb);
			gboolean was_new = m->in_new;
			ok = maildir_message_set_flags(md, m, flags, error);
			if (was_new && !m->in_new)
				mb->n_new--;
			own_change_end(mb, current);
			if (ok)
				mailbox_changed(mb);
		}
		if (flags_r)
			*flags_r = m->flags;
	}
	g_mutex_unlock(&mb->mra->lock);
	return ok;
}

/* Drop the messages marked in gone (by index) from the state. */
static void mailbox_remove_locked(MraMailbox *mb, const gboolean *gone)
{
	GPtrArray *keep = g_ptr_array_new_full(mb->messages->len, (GDestroyNotify)maildir_message_free);
	for (guint i = 0; i < mb->messages->len; i++) {
		MaildirMessage *m = mb->messages->pdata[i];
		if (gone[i]) {
			g_hash_table_remove(mb->by_uid, GUINT_TO_POINTER(m->uid));
			g_hash_table_remove(mb->by_base, m->base);
			mb->n_new -= m->in_new;
			maildir_message_free(m);
		} else {
			g_ptr_array_add(keep, m);
		}
		mb->messages->pdata[i] = NULL;
	}
	g_ptr_array_unref(mb->messages);
	mb->messages = keep;
}

/* Index of the message with this UID, or -1. */
static gint index_of(GPtrArray *messages, guint32 uid)
{
	guint i = first_above(messages, uid);
	if (i > 0 && ((MaildirMessage *)messages->pdata[i - 1])->uid == uid)
		return (gint)i - 1;
	return -1;
}

gboolean mra_mailbox_expunge(MraMailbox *mb, Maildir *md, const GArray *uids, guint *removed_r,
                             GError **error)
{
	gboolean ok = TRUE;
	guint removed = 0;
	g_mutex_lock(&mb->mra->lock);
	g_autofree gboolean *gone = g_new0(gboolean, mb->messages->len + 1);
	gboolean current = own_change_begin(mb);
	for (guint i = 0; ok && i < uids->len; i++) {
		gint at = index_of(mb->messages, g_array_index(uids, guint32, i));
		if (at < 0 || gone[at])
			continue;
		GError *err = NULL;
		if (!maildir_message_expunge(md, mb->messages->pdata[at], &err)) {
			if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
				g_propagate_error(error, err);
				ok = FALSE;
				break;
			}
			g_clear_error(&err);   /* someone else removed it: gone all the same */
		}
		gone[at] = TRUE;
		removed++;
	}
	own_change_end(mb, current);
	if (removed > 0) {
		mailbox_remove_locked(mb, gone);
		mailbox_changed(mb);
	}
	g_mutex_unlock(&mb->mra->lock);
	if (removed_r)
		*removed_r = removed;
	return ok;
}

/* The UIDs the new bases got in folder, in their order. */
static void uids_of_bases(MraMailbox *dst, GPtrArray *bases, GArray *uids)
{
	for (guint i = 0; i < bases->len; i++) {
		const MaildirMessage *m = g_hash_table_lookup(dst->by_base, bases->pdata[i]);
		guint32 uid = m ? m->uid : 0;
		g_array_append_val(uids, uid);
	}
}

gboolean mra_mailbox_copy(MraMailbox *mb, Maildir *md, const GArray *uids, const char *to_folder,
                          gboolean move, GArray *src_done, GArray *dst_uids,
                          guint32 *uidvalidity_r, GError **error)
{
	Mra *mra = mb->mra;
	g_mutex_lock(&mra->lock);
	/* RFC 3501 6.4.7: all or nothing, so look before touching anything */
	for (guint i = 0; i < uids->len; i++) {
		guint32 uid = g_array_index(uids, guint32, i);
		if (index_of(mb->messages, uid) < 0) {
			g_mutex_unlock(&mra->lock);
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "UID %u is not in %s any more", uid,
			            mb->folder);
			return FALSE;
		}
	}
	MraMailbox *dst = mailbox_get_locked(mra, md, to_folder, FALSE, error);
	if (!dst) {
		g_mutex_unlock(&mra->lock);
		return FALSE;
	}
	g_autoptr(GPtrArray) bases = g_ptr_array_new_with_free_func(g_free);
	g_autofree gboolean *gone = g_new0(gboolean, mb->messages->len + 1);
	gboolean ok = TRUE, current = own_change_begin(mb);
	GError *err = NULL;
	for (guint i = 0; ok && i < uids->len; i++) {
		guint32 uid = g_array_index(uids, guint32, i);
		gint at = index_of(mb->messages, uid);
		MaildirMessage *m = mb->messages->pdata[at];
		/* the name carries the internal date: keep it (RFC 3501 6.4.7) */
		mra->stamp.time_us = m->internal_date_us;
		if (move) {
			g_autoptr(MaildirMessage) moving = maildir_message_dup(m);
			ok = maildir_message_move(md, moving, dst->folder, &mra->stamp, &err);
			if (ok) {
				g_ptr_array_add(bases, g_strdup(moving->base));
				gone[at] = TRUE;
			}
		} else {
			char *base = NULL;
			ok = maildir_message_copy(md, m, dst->folder, &mra->stamp, &base, &err);
			if (ok)
				g_ptr_array_add(bases, base);
		}
		if (ok)
			g_array_append_val(src_done, uid);
	}
	own_change_end(mb, current);
	if (!ok && !move) {
		/* undo the copies made: the target is as it was */
		for (guint i = 0; i < bases->len; i++) {
			/* wherever it lies, maildir_message_expunge finds it by its base */
			MaildirMessage made = { .base = bases->pdata[i], .folder = dst->folder, .in_new = TRUE };
			maildir_message_expunge(md, &made, NULL);
		}
		g_ptr_array_set_size(bases, 0);
		g_array_set_size(src_done, 0);
	}
	if (move && src_done->len > 0) {
		mailbox_remove_locked(mb, gone);
		mailbox_changed(mb);
	}
	GError *sync_err = NULL;
	if (bases->len > 0 && mailbox_sync_locked(dst, md, &sync_err))
		uids_of_bases(dst, bases, dst_uids);
	else if (sync_err && ok) {
		ok = FALSE;
		err = sync_err;
	} else {
		g_clear_error(&sync_err);
	}
	if (uidvalidity_r)
		*uidvalidity_r = dst->uidvalidity;
	mailbox_release_locked(dst);
	g_mutex_unlock(&mra->lock);
	if (err)
		g_propagate_error(error, err);
	return ok;
}

gboolean mra_mailbox_append(Mra *mra, Maildir *md, const char *folder, const char *data, gsize len,
                            guint flags, gint64 internal_date_us, guint32 *uidvalidity_r,
                            guint32 *uid_r, GError **error)
{
	g_mutex_lock(&mra->lock);
	MraMailbox *dst = mailbox_get_locked(mra, md, folder, FALSE, error);
	gboolean ok = dst != NULL;
	if (ok) {
		g_autofree char *base = NULL;
		mra->stamp.time_us = MAX(internal_date_us, 0);
		ok = maildir_deliver(md, dst->folder, data, len, flags, &mra->stamp, &base, error) &&
		     mailbox_sync_locked(dst, md, error);
		if (ok) {
			const MaildirMessage *m = g_hash_table_lookup(dst->by_base, base);
			*uid_r = m ? m->uid : 0;
			*uidvalidity_r = dst->uidvalidity;
		}
		mailbox_release_locked(dst);
	}
	g_mutex_unlock(&mra->lock);
	return ok;
}

gboolean mra_mailbox_status(Mra *mra, Maildir *md, const char *folder, MraStatus *status,
                            GError **error)
{
	g_mutex_lock(&mra->lock);
	MraMailbox *mb = mailbox_get_locked(mra, md, folder, FALSE, error);
	if (mb) {
		memset(status, 0, sizeof *status);
		status->messages = mb->messages->len;
		status->recent = mb->n_new;
		for (guint i = 0; i < mb->messages->len; i++)
			status->unseen += !(((MaildirMessage *)mb->messages->pdata[i])->flags & MAILDIR_FLAG_SEEN);
		status->uidnext = mb->uidnext;
		status->uidvalidity = mb->uidvalidity;
		mailbox_release_locked(mb);
	}
	g_mutex_unlock(&mra->lock);
	return mb != NULL;
}

gboolean mra_folder_create(Mra *mra, Maildir *md, const char *folder, GError **error)
{
	g_mutex_lock(&mra->lock);
	gboolean ok = maildir_folder_create(md, folder,
	                                    uidvalidity_for(mra, user_key(mra, maildir_get_root(md)), folder), error);
	g_mutex_unlock(&mra->lock);
	return ok;
}

void mra_mailbox_watch(MraMailbox *mb, MsTask *task)
{
	g_mutex_lock(&mb->mra->lock);
	g_ptr_array_add(mb->watchers, task);
	g_mutex_unlock(&mb->mra->lock);
}

void mra_mailbox_unwatch(MraMailbox *mb, MsTask *task)
{
	g_mutex_lock(&mb->mra->lock);
	g_ptr_array_remove(mb->watchers, task);
	g_mutex_unlock(&mb->mra->lock);
}

/* ---- reading messages ahead ----------------------------------------------
 * From a cold disk each read waits for the disk in turn, and the disk works
 * on one small file at a time.  Whether a read would wait is asked, not
 * guessed: preadv2 with RWF_NOWAIT (Linux 4.14) reads only what is in
 * memory.  The first read that would wait makes the reader advise the files
 * that follow (posix_fadvise WILLNEED: read them in the background); from
 * then on, while the client goes on in order, each read advises one more,
 * MRA_READ_AHEAD ahead.  A read out of order stops it. */

/* A directory messages were opened in, kept open: a file's name is then
 * looked up there, not walked down to from the root each time. */
typedef struct {
	char *path;
	int   fd;
} ReaderDir;

struct MraReader {
	Maildir  *md;
	guint     next;      /* the index an in-order client reads next */
	guint     advised;   /* the files below this index were advised */
	gboolean  ahead;     /* reading ahead: the disk was found cold */
	ReaderDir dirs[2];   /* a folder's new/ and cur/, usually */
	guint     dir_next;  /* the slot a third directory replaces */
};

MraReader *mra_reader_new(Maildir *md)
{
	MraReader *r = g_new0(MraReader, 1);
	r->md = md;
	r->dirs[0].fd = r->dirs[1].fd = -1;
	return r;
}

static void reader_dir_clear(ReaderDir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	g_clear_pointer(&d->path, g_free);
}

void mra_reader_free(MraReader *r)
{
	if (!r)
		return;
	reader_dir_clear(&r->dirs[0]);
	reader_dir_clear(&r->dirs[1]);
	g_free(r);
}

/* open(path, flags), the directory part looked up once.  A directory
 * deleted or replaced since is looked up again. */
static int reader_open(MraReader *r, const char *path, int flags)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return open(path, flags);
	gsize dlen = (gsize)(slash - path);
	ReaderDir *d = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(r->dirs); i++)
		if (r->dirs[i].path && strncmp(r->dirs[i].path, path, dlen) == 0 && r->dirs[i].path[dlen] == '\0')
			d = &r->dirs[i];
	if (!d) {
		g_autofree char *dir = g_strndup(path, dlen);
		int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir_fd < 0)
			return open(path, flags);
		d = &r->dirs[r->dir_next];
		r->dir_next = (r->dir_next + 1) % G_N_ELEMENTS(r->dirs);
		reader_dir_clear(d);
		d->path = g_steal_pointer(&dir);
		d->fd = dir_fd;
	}
	int fd = openat(d->fd, slash + 1, flags);
	if (fd < 0 && errno == ENOENT) {
		reader_dir_clear(d);   /* maybe not the directory of that name any more */
		fd = open(path, flags);
	}
	return fd;
}

/* Ask the kernel to start reading the file; its octets arrive later. */
static void reader_advise(MraReader *r, const MaildirMessage *msg)
{
	g_autofree char *path = maildir_message_path(r->md, msg);
	int fd = path ? reader_open(r, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1;
	if (fd < 0)
		return;   /* renamed or gone: its own read will find out */
	posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	close(fd);
}

static void reader_advise_ahead(MraReader *r, GPtrArray *messages, guint index)
{
	guint end = MIN(messages->len, index + 1 + MRA_READ_AHEAD);
	for (guint i = MAX(r->advised, index + 1); i < end; i++)
		reader_advise(r, messages->pdata[i]);
	r->advised = MAX(r->advised, end);
}

/* Whether all of fd's first len octets are in memory: they are read into
 * buf if so.  Where the file system cannot tell (tmpfs answers EOPNOTSUPP)
 * nothing is read: the caller reads as usual, without advice. */
typedef enum {
	CACHED_READ,      /* it was all in memory: buf holds the file */
	CACHED_NOT,       /* the disk must work: read it, and advise the next ones */
	CACHED_UNKNOWN,   /* the file system cannot say (tmpfs, old kernels): read, no advice */
} CachedRead;

static CachedRead read_if_cached(int fd, char *buf, gsize len)
{
#ifdef RWF_NOWAIT
	struct iovec iov = { buf, len };
	ssize_t n;
	do
		n = preadv2(fd, &iov, 1, 0, RWF_NOWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS))
		return CACHED_UNKNOWN;
	return n == (ssize_t)len ? CACHED_READ : CACHED_NOT;
#else
	(void)fd, (void)buf, (void)len;
	return CACHED_UNKNOWN;
#endif
}

/* The file by its name as the session knows it; FALSE when that fails for
 * any reason: maildir_message_read then finds a renamed file, or says why. */
static gboolean reader_read_file(MraReader *r, GPtrArray *messages, guint index, GBytes **bytes_r)
{
	const MaildirMessage *msg = messages->pdata[index];
	g_autofree char *path = maildir_message_path(r->md, msg);
	/* a symbolic link in a Maildir points somewhere it should not; a FIFO
	 * must not block the open (the fstat below refuses it) */
	int fd = path ? reader_open(r, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1;
	if (fd < 0)
		return FALSE;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAILDIR_MAX_MESSAGE_SIZE) {
		close(fd);
		return FALSE;
	}
	gsize want = (gsize)st.st_size, got = 0;
	char *data = g_malloc(want + 1);
	CachedRead cached = want > 0 ? read_if_cached(fd, data, want) : CACHED_UNKNOWN;
	if (cached == CACHED_READ) {
		got = want;
	} else if (cached == CACHED_NOT) {
		if (!r->ahead) {
			r->ahead = TRUE;
			r->advised = index + 1;
		}
		reader_advise_ahead(r, messages, index);   /* the disk works on them while we wait */
	}
	while (got < want) {
		ssize_t n = pread(fd, data + got, want - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			g_free(data);
			return FALSE;
		}
		if (n == 0)
			break;   /* shrank meanwhile: take what is there, as maildir.c does */
		got += (gsize)n;
	}
	close(fd);
	data[got] = '\0';
	*bytes_r = g_bytes_new_take(data, got);
	return TRUE;
}

gboolean mra_reader_read(MraReader *r, GPtrArray *messages, guint index, GBytes **bytes_r,
                         GError **error)
{
	g_return_val_if_fail(r != NULL && messages != NULL && index < messages->len && bytes_r != NULL, FALSE);
	*bytes_r = NULL;
	if (index != r->next)
		r->ahead = FALSE;   /* out of order: nothing to guess what comes next from */
	r->next = index + 1;
	if (r->ahead)
		reader_advise_ahead(r, messages, index);
	if (reader_read_file(r, messages, index, bytes_r))
		return TRUE;
	return maildir_message_read(r->md, messages->pdata[index], bytes_r, error);
}
