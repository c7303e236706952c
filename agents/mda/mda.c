/* agents/mda/mda.c - the MDA agent: its listeners, the account service's
 * answers from the database, and the delivery pipeline behind LMTP.
 *
 * Each recipient of a message gets its own reply (RFC 2033 4.2) after, in
 * order: the check for a copy filed before (the MTA's retry, dedup.h),
 * the virus scan, the spam score (X-Spam-* fields, Junk), the user's Sieve
 * script (RFC 5228), and the Maildir write with Return-Path, Delivered-To
 * and Received (RFC 5321 4.4) on top of the untouched message.
 * Redirects, forwards and vacation replies (RFC 5230) go back to the MTA.
 */
#include "agents/mda/mda.h"
#include "agents/common/durable.h"
#include "agents/common/group_commit.h"
#include "agents/common/rfc5322.h"
#include "agents/mda/accounts.h"
#include "agents/mda/authsvc.h"
#include "agents/mda/dedup.h"
#include "agents/mda/filter.h"
#include "agents/mda/maildir.h"
#include "agents/mda/sieve.h"
#include "agents/mta/smtp_server.h"
#include "sim/kernel/rng.h"

#include <stdarg.h>
#include <string.h>

/* ======================================================================== */
/* The course-step table                                                    */
/* ======================================================================== */

/* What the MDA does, and under which step of COURSE.md a student sees it.
 * Events of the account service, the LMTP session, the database and the
 * Maildir all take their step from here. */
static const struct {
	const char *name;
	const char *step;
	const char *what;
} mda_steps[MDA_ACT_COUNT] = {
	[MDA_ACT_CHECK_PASSWORD]   = { "check-password",   "out.3", "the auth service looks the account up and answers the MTA" },
	[MDA_ACT_LOOKUP_RECIPIENT] = { "lookup-recipient", "in.5",  "the MDA queries the database for the recipient" },
	[MDA_ACT_RECEIVE]          = { "receive",          "in.6",  "the MTA passes the message to the MDA over LMTP" },
	[MDA_ACT_FILTER]           = { "filter",           "in.7",  "virus, spam and Sieve filters on the way to the mailbox" },
	[MDA_ACT_STORE]            = { "store",            "in.7",  "the message written into the user's Maildir" },
	[MDA_ACT_REINJECT]         = { "reinject",         "in.7",  "a redirect, forward or vacation reply handed back to the MTA" },
};

const char *mda_action_to_string(MdaAction action)
{
	return (guint)action < MDA_ACT_COUNT ? mda_steps[action].name : "?";
}

const char *mda_action_step(MdaAction action)
{
	return (guint)action < MDA_ACT_COUNT ? mda_steps[action].step : NULL;
}

const char *mda_action_describe(MdaAction action)
{
	return (guint)action < MDA_ACT_COUNT ? mda_steps[action].what : "?";
}

#define STEP(act) (mda_steps[(act)].step)

G_DEFINE_QUARK(mda-error-quark, mda_error)

static const char *const error_names[] = { "config", "tempfail", "permfail", "protocol" };

const char *mda_error_to_string(MdaError code)
{
	return (guint)code < G_N_ELEMENTS(error_names) ? error_names[code] : "?";
}

/* ======================================================================== */
/* The agent                                                                */
/* ======================================================================== */

/* One service the MDA offers, as a row: its listener and what serves a
 * connection. */
typedef struct {
	const char *name;      /* task names: "lmtp#3@mda@mx.example.org" */
	const char *proto;
	MdaAction   action;    /* the step of the ACCEPT event; MDA_ACT_COUNT: none known yet */
	const char *busy;      /* said to a client over MDA_MAX_SESSIONS, before hanging up */
	MsTaskFunc  serve;     /* gets an Accepted *, owns it */
} ServiceDef;

typedef struct {
	Mda              *mda;
	const ServiceDef *def;
	MsListener       *listener;
	guint16           port;
	gint              sessions;   /* atomic: connections being served */
} Service;

enum { SERVICE_LMTP, SERVICE_AUTH, SERVICE_COUNT };

struct Mda {
	MsStack         *stack;
	MsSched         *sched;
	char            *hostname;
	char            *state_dir;
	char            *listen_address;
	char            *mta_address;
	guint16          mta_port;
	gboolean         fsync;
	double           spam_threshold;
	gint64           epoch_us;
	SmtpServerConfig lmtp_cfg;
	Service          services[SERVICE_COUNT];
	gint             running;     /* atomic: mda_stop may come from another thread */

	/* Tasks run in parallel in real mode.  Neither lock is held across a
	 * network wait, nor both at once.  db_lock guards the database and
	 * what its statements need (several per message, the longest holds);
	 * lock the rest, so that taking a name or an id never waits behind a
	 * query. */
	GMutex           db_lock;
	AccountsDb      *db;
	const char      *db_step;    /* the step the next statements belong to */
	guint64          db_conn;
	GPtrArray       *db_said;    /* their events' texts, emitted by db_give */
	MsRng           *salts;
	GMutex           lock;
	MsRng           *ids;
	MaildirStamp     stamp;
	GroupCommit     *dir_syncs;  /* the Maildir directories' fsyncs, for all sessions */

	Dedup           *dedup;      /* copies filed: a retry is not filed twice (its own lock) */
};

static gint64 mda_now_us(Mda *mda)
{
	return mda->epoch_us + ms_sched_now(mda->sched);
}

static guint32 mda_uidvalidity(Mda *mda)
{
	guint32 v = (guint32)(mda_now_us(mda) / MS_SECOND);
	return v ? v : 1;   /* RFC 3501 9: nz-number */
}

/* A new id from the run's generator: "3F9A0C12B4". */
static char *mda_new_id(Mda *mda)
{
	g_mutex_lock(&mda->lock);
	char *hex = ms_rng_hex(mda->ids, 10);
	g_mutex_unlock(&mda->lock);
	char *up = g_ascii_strup(hex, -1);
	g_free(hex);
	return up;
}

/* ======================================================================== */
/* The account database                                                     */
/* ======================================================================== */

/* Every statement becomes an event: "mda@mx → accounts.sqlite".  The
 * texts wait in db_said until db_give has let the database go: emitting
 * (the event bus's lock, a sink's write) is no work to hold it for.  The
 * order is the statements'; nothing else is emitted in between. */
static void db_observe(const AccountsQuery *q, gpointer data)
{
	Mda *mda = data;
	g_ptr_array_add(mda->db_said, q->error
		? g_strdup_printf("%s  → error: %s", q->sql, q->error)
		: g_strdup_printf("%s  → %" G_GINT64_FORMAT " row%s", q->sql, q->rows, q->rows == 1 ? "" : "s"));
}

/* Salts from the run's seed, so a simulation repeats byte for byte. */
static void db_salt(guint8 *buf, gsize len, gpointer data)
{
	for (gsize i = 0; i < len; i++)
		buf[i] = (guint8)ms_rng_u32(data);
}

/* Take the database for one action: its statements show under the
 * action's step (MDA_ACT_COUNT: none) and about conn (may be NULL). */
static AccountsDb *db_take(Mda *mda, MdaAction act, MsConn *conn)
{
	g_mutex_lock(&mda->db_lock);
	mda->db_step = (guint)act < MDA_ACT_COUNT ? STEP(act) : NULL;
	mda->db_conn = conn ? ms_conn_id(conn) : 0;
	return mda->db;
}

static void db_give(Mda *mda)
{
	const char *step = mda->db_step;
	guint64 conn = mda->db_conn;
	GPtrArray *said = NULL;
	if (mda->db_said->len) {
		said = mda->db_said;
		mda->db_said = g_ptr_array_new_with_free_func(g_free);
	}
	mda->db_step = NULL;
	mda->db_conn = 0;
	g_mutex_unlock(&mda->db_lock);
	for (guint i = 0; said && i < said->len; i++) {
		MsEvent ev = { .kind = MS_EV_DB_QUERY, .from = ms_stack_name(mda->stack), .to = ACCOUNTS_FILE_NAME,
		               .proto = "sql", .step = step, .text = said->pdata[i], .conn = conn };
		ms_bus_emit(ms_sched_bus(mda->sched), &ev);
	}
	if (said)
		g_ptr_array_unref(said);
}

gboolean mda_add_domain(Mda *mda, const char *domain, GError **error)
{
	gboolean ok = accounts_add_domain(db_take(mda, MDA_ACT_COUNT, NULL), domain, error);
	db_give(mda);
	return ok;
}

gboolean mda_add_user(Mda *mda, const char *address, const char *password,
                      guint64 quota_bytes, GError **error)
{
	gint64 created = mda_now_us(mda) / MS_SECOND;
	gboolean ok = accounts_add_user(db_take(mda, MDA_ACT_COUNT, NULL), address, password,
	                                quota_bytes, created, error);
	db_give(mda);
	return ok;
}

gboolean mda_add_alias(Mda *mda, const char *source, const char *destination, GError **error)
{
	gboolean ok = accounts_add_alias(db_take(mda, MDA_ACT_COUNT, NULL), source, destination, error);
	db_give(mda);
	return ok;
}

/* ======================================================================== */
/* Sieve scripts on disk                                                    */
/* ======================================================================== */

char *mda_sieve_path(const char *state_dir, const char *address, GError **error)
{
	g_autofree char *dir = g_build_filename(state_dir, MDA_SIEVE_DIR, NULL);
	g_autofree char *base = maildir_user_root(dir, address, error);
	return base ? g_strconcat(base, MDA_SIEVE_SUFFIX, NULL) : NULL;
}

gboolean mda_sieve_install(const char *state_dir, const char *address, const char *script,
                           gboolean sync, GError **error)
{
	g_autofree char *path = mda_sieve_path(state_dir, address, error);
	if (!path)
		return FALSE;
	if (!script || !*script) {
		GError *local = NULL;
		if (durable_remove(path, sync, &local) || g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
			g_clear_error(&local);
			return TRUE;
		}
		g_propagate_error(error, local);
		return FALSE;
	}
	/* a script that does not parse is refused now, not at the next delivery */
	g_autoptr(SieveScript) parsed = sieve_script_parse(script, strlen(script), error);
	if (!parsed)
		return FALSE;
	g_autofree char *dir = g_path_get_dirname(path);
	return durable_mkdir(dir, sync, error) &&
	       durable_write_file(path, script, strlen(script), sync, error);
}

gboolean mda_set_sieve(Mda *mda, const char *address, const char *script, GError **error)
{
	return mda_sieve_install(mda->state_dir, address, script, mda->fsync, error);
}

/* ======================================================================== */
/* The account service's backend (steps out.3 and in.5)                    */
/* ======================================================================== */

/* One accepted connection, handed to its task. */
typedef struct {
	Service *service;
	MsConn  *conn;
} Accepted;

static gboolean authsvc_verify(gpointer ud, const char *user, const char *password, GError **error)
{
	Accepted *a = ud;
	Mda *mda = a->service->mda;
	AccountsAuthResult result = ACCOUNTS_AUTH_FAIL;
	gboolean ok = accounts_verify_password(db_take(mda, MDA_ACT_CHECK_PASSWORD, a->conn), user,
	                                       password, &result, error);
	db_give(mda);
	return ok && result == ACCOUNTS_AUTH_OK;
}

/* What an address reaches: the service answers every final address.  A
 * mailbox is in one of our domains; anything else is a forward that the
 * MTA relays (it tells them apart by its own local domains).  A broken
 * alias (a loop, too many targets) is reported as no such user: retrying
 * would not mend it. */
static GPtrArray *authsvc_resolve(gpointer ud, const char *address, GError **error)
{
	Accepted *a = ud;
	Mda *mda = a->service->mda;
	GPtrArray *targets = NULL;
	GError *local = NULL;
	accounts_resolve(db_take(mda, MDA_ACT_LOOKUP_RECIPIENT, a->conn), address, &targets, &local);
	db_give(mda);
	if (local && !g_error_matches(local, ACCOUNTS_ERROR, ACCOUNTS_ERROR_DB)) {
		ms_conn_emit(a->conn, MS_EV_ERROR, "%s: %s", address, local->message);
		g_error_free(local);
		return g_ptr_array_new_with_free_func(g_free);
	}
	if (local)
		g_propagate_error(error, local);
	return targets;
}

static const AuthsvcBackend authsvc_backend = { authsvc_verify, authsvc_resolve };

/* ======================================================================== */
/* Back into the MTA: a minimal SMTP client (RFC 5321 3.3)                  */
/* ======================================================================== */

/* Read one reply; TRUE if its code is in class want (2 or 3), else FALSE
 * with an MDA_ERROR that names the command refused. */
static gboolean reinject_reply(MsConn *c, SmtpReplyParser *parser, guint want, const char *what,
                               GError **error)
{
	char line[SMTP_PROTO_MAX_REPLY_LINE + 1];
	for (;;) {
		MsEol eol;
		gssize n = ms_conn_read_line(c, line, SMTP_PROTO_MAX_REPLY_LINE, &eol, error);
		if (n < 0)
			return FALSE;
		if (n == 0 && eol == MS_EOL_EOF) {
			g_set_error(error, MDA_ERROR, MDA_ERROR_TEMPFAIL, "the MTA closed the connection after %s", what);
			return FALSE;
		}
		SmtpReply *reply = NULL;
		GError *perr = NULL;
		SmtpReplyStatus st = smtp_proto_reply_parser_feed(parser, line, (gsize)n, &reply, &perr);
		if (st == SMTP_REPLY_ERROR) {
			g_set_error(error, MDA_ERROR, MDA_ERROR_PROTOCOL, "reply to %s: %s", what, perr->message);
			g_error_free(perr);
			return FALSE;
		}
		if (st == SMTP_REPLY_NEED_MORE)
			continue;
		gboolean ok = reply->code / 100 == want;
		if (!ok) {
			g_autofree char *text = smtp_proto_reply_text(reply);
			g_set_error(error, MDA_ERROR, reply->code >= 500 ? MDA_ERROR_PERMFAIL : MDA_ERROR_TEMPFAIL,
			            "%s refused: %u %s", what, reply->code, text);
		}
		smtp_proto_reply_free(reply);
		return ok;
	}
}

/* Submit one message to the MTA: one transaction, one recipient.  The
 * MTA then queues and relays it like any other mail. */
static gboolean reinject(Mda *mda, const char *sender, const char *rcpt, const char *data, gsize len,
                         GError **error)
{
	/* the addresses go into command lines: nothing may end or forge one */
	if (strpbrk(sender, "\r\n<>") || !*rcpt || strpbrk(rcpt, "\r\n<> ")) {
		g_set_error(error, MDA_ERROR, MDA_ERROR_PERMFAIL, "not an address: <%s>", *rcpt ? rcpt : sender);
		return FALSE;
	}
	const char *addr = mda->mta_address ? mda->mta_address : ms_stack_address(mda->stack);
	g_autoptr(MsConn) c = ms_stack_connect(mda->stack, addr, mda->mta_port, MDA_REINJECT_TIMEOUT, error);
	if (!c)
		return FALSE;
	ms_conn_set_proto(c, "smtp");
	ms_conn_set_step(c, STEP(MDA_ACT_REINJECT));
	ms_conn_set_timeout(c, MDA_REINJECT_TIMEOUT);
	g_autoptr(SmtpReplyParser) parser = smtp_proto_reply_parser_new();
	g_autoptr(GString) body = g_string_sized_new(len + len / 16 + 8);
	smtp_proto_dot_stuff(body, data, len);   /* RFC 5321 4.5.2 */

	gboolean ok = reinject_reply(c, parser, 2, "the greeting", error) &&
	              ms_conn_printf(c, error, "EHLO %s\r\n", mda->hostname) &&
	              reinject_reply(c, parser, 2, "EHLO", error) &&
	              ms_conn_printf(c, error, "MAIL FROM:<%s>\r\n", sender) &&
	              reinject_reply(c, parser, 2, "MAIL FROM", error) &&
	              ms_conn_printf(c, error, "RCPT TO:<%s>\r\n", rcpt) &&
	              reinject_reply(c, parser, 2, "RCPT TO", error) &&
	              ms_conn_printf(c, error, "DATA\r\n") &&
	              reinject_reply(c, parser, 3, "DATA", error) &&
	              ms_conn_write(c, body->str, body->len, error) &&
	              reinject_reply(c, parser, 2, "the message", error);
	if (ok && ms_conn_printf(c, NULL, "QUIT\r\n"))
		reinject_reply(c, parser, 2, "QUIT", NULL);
	return ok;
}

/* ======================================================================== */
/* LMTP: the recipients (step in.5)                                         */
/* ======================================================================== */

typedef struct {
	char    *address;   /* a mailbox ("bob@example.org") or a forward ("x@elsewhere.net") */
	gboolean local;     /* a mailbox of ours */
} Target;

static void target_free(gpointer p)
{
	Target *t = p;
	g_free(t->address);
	g_free(t);
}

/* One LMTP connection. */
typedef struct {
	Mda       *mda;
	MsConn    *conn;
	GPtrArray *rcpt_targets;  /* per accepted RCPT, in order: GPtrArray of Target * */
} Lmtp;

static gboolean lmtp_mail(gpointer ud, SmtpSession *s, const SmtpCommand *cmd, SmtpVerdict *v)
{
	Lmtp *ls = ud;
	g_ptr_array_set_size(ls->rcpt_targets, 0);   /* a new transaction */
	return TRUE;
}

static const char *domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	return at ? at + 1 : "";
}

/* The database's answer for address: its targets, mailbox or forward.
 * NULL with error when the lookup failed. */
static GPtrArray *lookup_targets(Lmtp *ls, const char *address, GError **error)
{
	Mda *mda = ls->mda;
	GPtrArray *found = NULL;
	AccountsDb *db = db_take(mda, MDA_ACT_LOOKUP_RECIPIENT, ls->conn);
	gboolean ok = accounts_resolve(db, address, &found, error);
	GPtrArray *targets = g_ptr_array_new_with_free_func(target_free);
	for (guint i = 0; ok && i < found->len; i++) {
		Target *t = g_new0(Target, 1);
		t->address = g_strdup(found->pdata[i]);
		/* Only local domains are followed, so a target in the address's
		 * own domain is a mailbox; another domain must be asked. */
		t->local = g_ascii_strcasecmp(domain_of(t->address), domain_of(address)) == 0;
		if (!t->local)
			ok = accounts_domain_is_local(db, domain_of(t->address), &t->local, error);
		g_ptr_array_add(targets, t);
	}
	db_give(mda);
	if (found)
		g_ptr_array_unref(found);
	if (!ok)
		g_clear_pointer(&targets, g_ptr_array_unref);
	return targets;
}

static gboolean lmtp_rcpt(gpointer ud, SmtpSession *s, const SmtpCommand *cmd, SmtpVerdict *v)
{
	Lmtp *ls = ud;
	const char *address = cmd->path->address;
	const char *step = STEP(MDA_ACT_LOOKUP_RECIPIENT);
	g_autoptr(GError) err = NULL;
	GPtrArray *targets = lookup_targets(ls, address, &err);
	if (!targets) {
		if (g_error_matches(err, ACCOUNTS_ERROR, ACCOUNTS_ERROR_DB))
			smtp_verdict_set(v, 451, "4.3.0", step, "<%s>: account database unavailable, try again later",
			                 address);
		else   /* RFC 3463 5.4.6: a routing loop */
			smtp_verdict_set(v, 550, "5.4.6", step, "<%s>: %s", address, err->message);
		return FALSE;
	}
	if (targets->len == 0) {
		g_ptr_array_unref(targets);
		smtp_verdict_set(v, 550, "5.1.1", step, "<%s>: no such user here", address);
		return FALSE;
	}
	g_ptr_array_add(ls->rcpt_targets, targets);
	smtp_verdict_set(v, 250, "2.1.5", step, "<%s> Ok", address);
	return TRUE;
}

/* ======================================================================== */
/* LMTP: one message, every recipient (steps in.6, in.7)                    */
/* ======================================================================== */

/* How one recipient fared.  Its reply: the first temporary failure if any
 * target had one (the MTA retries; a copy already stored may come twice,
 * never zero times), else the first refusal if every target refused, else
 * 250 with what was done. */
typedef struct {
	guint       targets, refused;
	gboolean    has_temp, has_perm;
	SmtpVerdict temp, perm;
	GString    *done;   /* "INBOX, Lists; redirected to x@y" */
} Result;

/* One file to write into a Maildir; all of a message's go in one batch. */
typedef struct {
	guint    rcpt;      /* index of the recipient */
	char    *mailbox;
	char    *folder;    /* "INBOX", "Junk", ... */
	char    *rel_dir;   /* the folder's directory from the state dir: "mail/example.org/bob/.Junk" */
	Maildir *maildir;   /* borrowed from Delivery.maildirs */
	GBytes  *data;      /* shared by the files of one mailbox */
} Plan;

static void plan_free(gpointer p)
{
	Plan *plan = p;
	g_free(plan->mailbox);
	g_free(plan->folder);
	g_free(plan->rel_dir);
	g_bytes_unref(plan->data);
	g_free(plan);
}

typedef struct {
	Lmtp             *ls;
	SmtpSession      *session;
	const char       *sender;     /* MAIL FROM, "" for <> */
	gsize             size;       /* of the message as received */
	GString          *filtered;   /* X-Spam-* fields and the message: what Sieve reads */
	Rfc5322Header    *header;     /* of filtered; NULL if it could not be read */
	FilterSpamReport *spam;
	char             *id;         /* the Received field's id */
	Result           *results;    /* one per recipient */
	char            **keys;       /* per recipient: its dedup key while reserved, else NULL */
	GPtrArray        *plans;      /* Plan * */
	GPtrArray        *maildirs;   /* Maildir *, owned */
} Delivery;

static void result_temp(Result *r, guint code, const char *enhanced, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static void result_perm(Result *r, guint code, const char *enhanced, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void result_temp(Result *r, guint code, const char *enhanced, const char *fmt, ...)
{
	if (r->has_temp)
		return;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	r->has_temp = TRUE;
	smtp_verdict_set(&r->temp, code, enhanced, STEP(MDA_ACT_STORE), "%s", text);
}

static void result_perm(Result *r, guint code, const char *enhanced, const char *fmt, ...)
{
	r->refused++;
	if (r->has_perm)
		return;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	r->has_perm = TRUE;
	smtp_verdict_set(&r->perm, code, enhanced, STEP(MDA_ACT_FILTER), "%s", text);
}

static void result_done(Result *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void result_done(Result *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (r->done->len)
		g_string_append(r->done, ", ");
	g_string_append_vprintf(r->done, fmt, ap);
	va_end(ap);
}

/* A peer's word in a header field: printable ASCII only, so it can never
 * end the field or start another. */
static char *header_safe(const char *s)
{
	char *out = g_strdup(s && *s ? s : "unknown");
	for (char *p = out; *p; p++)
		if (!g_ascii_isgraph(*p))
			*p = '?';
	return out;
}

/* The trace fields that go on top for one mailbox (or one forward), in
 * the order they were added, newest first: Delivered-To (what Postfix and
 * Dovecot use to catch forwarding loops) and Received (RFC 5321 4.4; with
 * LMTP as in RFC 3848).  Return-Path is not here: only the final delivery
 * writes it (RFC 5321 4.4), a redirected copy must not carry one. */
static GString *trace_fields(Delivery *d, const char *rcpt, const char *delivered_to)
{
	Mda *mda = d->ls->mda;
	MsConn *c = d->ls->conn;
	g_autofree char *helo = header_safe(smtp_session_helo(d->session));
	g_autofree char *peer = header_safe(ms_conn_peer_name(c));
	g_autofree char *date = rfc5322_format_date(mda_now_us(mda), 0);
	GString *s = g_string_sized_new(d->filtered->len + 512);
	g_string_append_printf(s, "Delivered-To: %s\r\n", delivered_to);
	g_string_append_printf(s, "Received: from %s (%s [%s])\r\n"
	                          "\tby %s (mailsim MDA) with LMTP id %s\r\n"
	                          "\tfor <%s>; %s\r\n",
	                       helo, peer, ms_conn_peer_address(c), mda->hostname, d->id, rcpt,
	                       date ? date : "Thu, 1 Jan 1970 00:00:00 +0000");
	return s;
}

/* The message as stored for one mailbox: Return-Path, the trace, then the
 * filtered message byte for byte. */
static GBytes *stored_message(Delivery *d, const char *rcpt, const char *mailbox)
{
	GString *s = g_string_sized_new(d->filtered->len + 600);
	g_string_append_printf(s, "Return-Path: <%s>\r\n", d->sender);   /* RFC 5321 4.4 */
	g_autoptr(GString) trace = trace_fields(d, rcpt, mailbox);
	g_string_append_len(s, trace->str, trace->len);
	g_string_append_len(s, d->filtered->str, d->filtered->len);
	return g_string_free_to_bytes(s);
}

/* A copy that goes back out (redirect, forward): the trace and the
 * filtered message. */
static GString *outgoing_message(Delivery *d, const char *rcpt, const char *delivered_to)
{
	GString *s = trace_fields(d, rcpt, delivered_to);
	g_string_append_len(s, d->filtered->str, d->filtered->len);
	return s;
}

/* ---- Sieve --------------------------------------------------------------- */

static void sieve_get_header(const SieveMessage *msg, const char *name, GPtrArray *values)
{
	const Delivery *d = msg->user_data;
	if (!d->header)
		return;
	g_autoptr(GPtrArray) fields = rfc5322_header_find_all(d->header, name);
	for (guint i = 0; i < fields->len; i++)
		g_ptr_array_add(values, g_strdup(((const Rfc5322Field *)fields->pdata[i])->value));
}

/* The user's Sieve actions, or NULL when the user has no script.  A script
 * that cannot be read, parsed or run leaves the implicit keep (RFC 5228
 * 2.10.6) and an error event the user's admin can read. */
static GPtrArray *sieve_run(Delivery *d, const char *rcpt, const char *mailbox)
{
	Mda *mda = d->ls->mda;
	MsConn *c = d->ls->conn;
	g_autoptr(GError) err = NULL;
	g_autofree char *path = mda_sieve_path(mda->state_dir, mailbox, &err);
	g_autoptr(GBytes) text = NULL;
	if (!path || !durable_read_file(path, SIEVE_MAX_SCRIPT_SIZE, &text, &err)) {
		if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
			ms_conn_emit(c, MS_EV_ERROR, "sieve for %s: %s; keeping the message", mailbox, err->message);
		return NULL;
	}
	gsize len = 0;
	const char *script_text = g_bytes_get_data(text, &len);
	g_autoptr(SieveScript) script = sieve_script_parse(script_text ? script_text : "", len, &err);
	if (!script) {
		ms_conn_emit(c, MS_EV_ERROR, "sieve for %s: %s; keeping the message", mailbox, err->message);
		return NULL;
	}
	SieveMessage msg = {
		.get_header = sieve_get_header,
		.envelope_from = d->sender,
		.envelope_to = rcpt,
		.size = d->size,
		.user_data = d,
	};
	GPtrArray *actions = sieve_script_evaluate(script, &msg, &err);
	if (err)
		ms_conn_emit(c, MS_EV_ERROR, "sieve for %s: %s; keeping the message", mailbox, err->message);
	return actions;
}

/* ---- vacation (RFC 5230) ------------------------------------------------- */

/* The file of senders answered: lines "UNTIL_US KEY".  A new string. */
static char *vacation_path(Mda *mda, const char *mailbox)
{
	g_autofree char *sieve = mda_sieve_path(mda->state_dir, mailbox, NULL);
	if (!sieve)
		return NULL;
	sieve[strlen(sieve) - strlen(MDA_SIEVE_SUFFIX)] = '\0';
	return g_strconcat(sieve, MDA_VACATION_SUFFIX, NULL);
}

/* The records still valid at now, the newest MDA_VACATION_MAX_RECORDS - 1
 * (room for one more), as the file's text; *found_r: key has one. */
static GString *vacation_records(const char *path, const char *key, gint64 now, gboolean *found_r)
{
	GString *kept = g_string_new(NULL);
	*found_r = FALSE;
	g_autoptr(GBytes) bytes = NULL;
	if (!durable_read_file(path, MDA_VACATION_MAX_RECORDS * 128, &bytes, NULL))
		return kept;
	g_autofree char *text = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autoptr(GPtrArray) valid = g_ptr_array_new();
	for (guint i = 0; lines[i]; i++) {
		char *end = NULL;
		gint64 until = g_ascii_strtoll(lines[i], &end, 10);
		if (end && *end == ' ' && until > now)
			g_ptr_array_add(valid, lines[i]);
	}
	guint first = valid->len >= MDA_VACATION_MAX_RECORDS ? valid->len - MDA_VACATION_MAX_RECORDS + 1 : 0;
	for (guint i = first; i < valid->len; i++) {
		const char *line = valid->pdata[i];
		if (strcmp(strchr(line, ' ') + 1, key) == 0)
			*found_r = TRUE;
		g_string_append_printf(kept, "%s\n", line);
	}
	return kept;
}

/* Send a vacation reply through the MTA, at most once per sender and
 * handle in vac->days (RFC 5230 4.2). */
static void vacation_send(Delivery *d, const char *mailbox, const SieveVacation *vac)
{
	Mda *mda = d->ls->mda;
	MsConn *c = d->ls->conn;
	if (vac->suppressed) {   /* RFC 5230 4.5, 4.6: never to lists, robots, bounces */
		ms_conn_emit(c, MS_EV_NOTE, "vacation for %s: no reply: %s", mailbox, vac->suppressed);
		return;
	}
	g_autofree char *path = vacation_path(mda, mailbox);
	if (!path || !vac->to || !*vac->to)
		return;
	g_autofree char *who = g_strconcat(vac->to, "\n", vac->handle ? vac->handle : vac->reason, NULL);
	g_autofree char *key = g_compute_checksum_for_string(G_CHECKSUM_SHA256, who, -1);
	gint64 now = mda_now_us(mda);
	gboolean found;
	g_mutex_lock(&mda->lock);
	g_string_free(vacation_records(path, key, now, &found), TRUE);
	g_mutex_unlock(&mda->lock);
	if (found) {
		ms_conn_emit(c, MS_EV_NOTE, "vacation for %s: %s was answered less than %u days ago",
		             mailbox, vac->to, vac->days);
		return;
	}

	g_autofree char *id = mda_new_id(mda);
	g_autofree char *date = rfc5322_format_date(now, 0);
	/* the script's :subject may hold a line break: it must not add fields */
	g_autofree char *subject = g_strdup(vac->subject ? vac->subject : "");
	for (char *p = subject; *p; p++)
		if ((guchar)*p < 0x20 || *p == 0x7F)
			*p = ' ';
	const char *in_reply_to = d->header ? rfc5322_header_get(d->header, "Message-ID") : NULL;
	GString *m = g_string_new(NULL);
	g_string_append_printf(m, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
	                          "Message-ID: <%s@%s>\r\n",
	                       vac->from ? vac->from : mailbox, vac->to, subject, date, id, mda->hostname);
	if (in_reply_to)   /* RFC 5230 5.6 */
		g_string_append_printf(m, "In-Reply-To: %s\r\nReferences: %s\r\n", in_reply_to, in_reply_to);
	g_string_append(m, "Auto-Submitted: auto-replied (vacation)\r\nMIME-Version: 1.0\r\n");   /* RFC 3834 5 */
	if (!vac->mime)   /* with :mime the reason carries its own MIME header */
		g_string_append(m, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	g_string_append(m, vac->reason ? vac->reason : "");

	g_autoptr(GError) err = NULL;
	/* RFC 3834 3.3: an auto-reply goes out with the null return path */
	if (!reinject(mda, "", vac->to, m->str, m->len, &err)) {
		ms_conn_emit(c, MS_EV_ERROR, "vacation reply to %s not sent: %s", vac->to, err->message);
	} else {
		ms_conn_emit(c, MS_EV_NOTE, "vacation reply sent to %s", vac->to);
		g_mutex_lock(&mda->lock);
		g_autoptr(GString) records = vacation_records(path, key, now, &found);
		g_string_append_printf(records, "%" G_GINT64_FORMAT " %s\n",
		                       now + (gint64)vac->days * 24 * 3600 * MS_SECOND, key);
		g_autofree char *dir = g_path_get_dirname(path);
		if (!durable_mkdir(dir, mda->fsync, &err) ||
		    !durable_write_file(path, records->str, records->len, mda->fsync, &err))
			ms_conn_emit(c, MS_EV_ERROR, "vacation for %s: %s", mailbox, err->message);
		g_mutex_unlock(&mda->lock);
	}
	g_string_free(m, TRUE);
}

/* ---- one mailbox ------------------------------------------------------- */

static void add_folder(GPtrArray *folders, const char *folder)
{
	const char *name = maildir_folder_canonical(folder);
	for (guint i = 0; i < folders->len; i++)
		if (strcmp(folders->pdata[i], name) == 0)
			return;
	g_ptr_array_add(folders, g_strdup(name));
}

/* Follow the user's Sieve actions: which folders get a copy.  Redirects
 * and vacation replies are sent on the way; a reject refuses. */
static GPtrArray *sieve_folders(Delivery *d, Result *res, const char *rcpt, const char *mailbox,
                                const char *default_folder, gboolean *rejected_r)
{
	MsConn *c = d->ls->conn;
	GPtrArray *folders = g_ptr_array_new_with_free_func(g_free);
	*rejected_r = FALSE;
	g_autoptr(GPtrArray) actions = sieve_run(d, rcpt, mailbox);
	if (!actions) {
		add_folder(folders, default_folder);
		return folders;
	}
	for (guint i = 0; i < actions->len; i++) {
		const SieveAction *a = actions->pdata[i];
		const char *arg = a->argument ? a->argument : "";
		if (a->implicit)
			ms_conn_emit(c, MS_EV_NOTE, "sieve for %s: implicit keep", mailbox);
		else
			ms_conn_emit(c, MS_EV_NOTE, "sieve for %s, line %u: %s%s%s%s", mailbox, a->line,
			             sieve_action_kind_to_string(a->kind), a->argument ? " \"" : "", a->argument ? arg : "",
			             a->argument ? "\"" : "");
		switch (a->kind) {
		case SIEVE_ACTION_KEEP:
			/* keep means "where it would have gone": Junk for spam */
			add_folder(folders, default_folder);
			break;
		case SIEVE_ACTION_FILEINTO: {
			g_autoptr(GError) err = NULL;
			if (maildir_folder_name_validate(arg, strlen(arg), &err)) {
				add_folder(folders, arg);
			} else {
				ms_conn_emit(c, MS_EV_ERROR, "sieve for %s: fileinto \"%s\": %s; keeping it in %s",
				             mailbox, arg, err->message, default_folder);
				add_folder(folders, default_folder);
			}
			break;
		}
		case SIEVE_ACTION_REDIRECT: {
			g_autoptr(GError) err = NULL;
			g_autoptr(GString) out = outgoing_message(d, rcpt, mailbox);
			/* RFC 5228 4.2: the envelope sender stays the original one */
			if (reinject(d->ls->mda, d->sender, arg, out->str, out->len, &err)) {
				result_done(res, "redirected to %s", arg);
			} else {
				/* never lose it: a failed redirect keeps a copy instead */
				ms_conn_emit(c, MS_EV_ERROR, "sieve for %s: redirect to %s failed: %s; keeping it in %s",
				             mailbox, arg, err->message, default_folder);
				add_folder(folders, default_folder);
			}
			break;
		}
		case SIEVE_ACTION_DISCARD:
			result_done(res, "discarded");
			break;
		case SIEVE_ACTION_REJECT:
			/* RFC 5429 2.1.1: at LMTP time, refuse with the reason */
			*rejected_r = TRUE;
			result_perm(res, 550, "5.7.1", "<%s> %s", rcpt, arg);
			break;
		case SIEVE_ACTION_VACATION:
			vacation_send(d, mailbox, a->vacation);
			break;
		}
	}
	return folders;
}

/* A user's quota (RFC 3463 5.2.2: mailbox full).  TRUE if size more octets
 * fit; a failed lookup does not refuse mail. */
static gboolean quota_allows(Delivery *d, Maildir *md, const char *mailbox, guint64 size)
{
	Mda *mda = d->ls->mda;
	AccountsUser *user = NULL;
	accounts_get_user(db_take(mda, MDA_ACT_STORE, d->ls->conn), mailbox, &user, NULL);
	db_give(mda);
	guint64 quota = user ? user->quota_bytes : 0;
	accounts_user_free(user);
	guint64 used = 0, messages = 0;
	if (quota == 0 || !maildir_quota_usage(md, &used, &messages, NULL))
		return TRUE;
	return used + size <= quota;
}

/* The pipeline's steps 2 to 4 for one mailbox: spam folder, Sieve, then
 * the files to write (run later, in one batch). */
static void deliver_mailbox(Delivery *d, guint ri, const char *rcpt, const char *mailbox)
{
	Mda *mda = d->ls->mda;
	MsConn *c = d->ls->conn;
	Result *res = &d->results[ri];
	const char *default_folder = d->spam->is_spam ? "Junk" : MAILDIR_INBOX;

	gboolean rejected;
	g_autoptr(GPtrArray) folders = sieve_folders(d, res, rcpt, mailbox, default_folder, &rejected);
	if (rejected || folders->len == 0)
		return;

	g_autoptr(GError) err = NULL;
	g_autofree char *rel_root = maildir_user_root(MDA_MAIL_DIR, mailbox, &err);
	if (!rel_root) {
		result_perm(res, 550, "5.1.3", "<%s> %s", rcpt, err->message);
		return;
	}
	g_autofree char *root = g_build_filename(mda->state_dir, rel_root, NULL);
	g_autofree char *cur = g_build_filename(root, "cur", NULL);
	Maildir *md = maildir_new(root, mda->hostname, mda->fsync);
	g_ptr_array_add(d->maildirs, md);
	/* a first delivery makes the Maildir as a mail client expects it; one
	 * session at a time (the folders are built under fixed staging names) */
	gboolean made = g_file_test(cur, G_FILE_TEST_IS_DIR);
	if (!made) {
		g_mutex_lock(&mda->lock);
		made = g_file_test(cur, G_FILE_TEST_IS_DIR) || maildir_ensure_defaults(md, mda_uidvalidity(mda), &err);
		g_mutex_unlock(&mda->lock);
	}
	if (!made) {
		ms_conn_emit(c, MS_EV_ERROR, "cannot create the Maildir of %s: %s", mailbox, err->message);
		result_temp(res, 452, "4.3.1", "<%s> cannot store the message now: %s", rcpt, err->message);
		return;
	}
	g_autoptr(GBytes) data = stored_message(d, rcpt, mailbox);
	if (!quota_allows(d, md, mailbox, (guint64)g_bytes_get_size(data) * folders->len)) {
		ms_conn_emit(c, MS_EV_REFUSE, "<%s>: the mailbox of %s is over its quota", rcpt, mailbox);
		result_perm(res, 552, "5.2.2", "<%s> Quota exceeded: mailbox full", rcpt);
		return;
	}
	for (guint i = 0; i < folders->len; i++) {
		const char *folder = folders->pdata[i];
		gboolean inbox = strcmp(folder, MAILDIR_INBOX) == 0;
		if (!inbox && !maildir_folder_exists(md, folder)) {
			g_clear_error(&err);
			/* RFC 5228 4.1: fileinto a missing folder creates it here, as Dovecot's lda_mailbox_autocreate */
			if (!maildir_folder_create(md, folder, mda_uidvalidity(mda), &err) &&
			    !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
				ms_conn_emit(c, MS_EV_ERROR, "cannot create folder %s of %s: %s", folder, mailbox, err->message);
				result_temp(res, 452, "4.3.1", "<%s> cannot store the message now: %s", rcpt, err->message);
				continue;
			}
			ms_conn_emit(c, MS_EV_NOTE, "created folder %s for %s", folder, mailbox);
		}
		Plan *plan = g_new0(Plan, 1);
		plan->rcpt = ri;
		plan->mailbox = g_strdup(mailbox);
		plan->folder = g_strdup(folder);
		plan->rel_dir = inbox ? g_strdup(rel_root) : g_strdup_printf("%s/.%s", rel_root, folder);
		plan->maildir = md;
		plan->data = g_bytes_ref(data);
		g_ptr_array_add(d->plans, plan);
	}
}

/* A forward (an alias whose target is elsewhere): straight back out. */
static void deliver_forward(Delivery *d, guint ri, const char *rcpt, const char *target)
{
	Result *res = &d->results[ri];
	g_autoptr(GError) err = NULL;
	g_autoptr(GString) out = outgoing_message(d, rcpt, rcpt);
	if (reinject(d->ls->mda, d->sender, target, out->str, out->len, &err)) {
		result_done(res, "forwarded to %s", target);
		return;
	}
	ms_conn_emit(d->ls->conn, MS_EV_ERROR, "<%s>: forward to %s failed: %s", rcpt, target, err->message);
	if (g_error_matches(err, MDA_ERROR, MDA_ERROR_PERMFAIL))
		result_perm(res, 550, "5.4.0", "<%s> forward to %s refused: %s", rcpt, target, err->message);
	else
		result_temp(res, 451, "4.4.1", "<%s> forward to %s failed, try again later", rcpt, target);
}

/* ---- the Maildir group commit ------------------------------------------
 * Nothing is acknowledged before its name is on disk.  Each LMTP session
 * writes, syncs and renames its own files, sessions at once; then every
 * directory that got a message is synced once for all the sessions that
 * reached this point meanwhile (agents/common/group_commit.h). */

static void error_free0(gpointer err)
{
	if (err)
		g_error_free(err);
}

typedef struct {
	GPtrArray *dirs;     /* const char *, distinct, borrowed from the items */
	GPtrArray *errors;   /* GError * or NULL, one per dir: the commit's verdict */
} DirSync;

static void dir_syncs_commit(gpointer *syncs, guint n, gpointer user_data)
{
	g_autoptr(GHashTable) done = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, error_free0);
	for (guint i = 0; i < n; i++) {
		DirSync *ds = syncs[i];
		for (guint k = 0; k < ds->dirs->len; k++) {
			const char *dir = ds->dirs->pdata[k];
			GError *err = NULL;
			if (!g_hash_table_contains(done, dir)) {
				maildir_sync_dir(dir, &err);
				g_hash_table_insert(done, (gpointer)dir, err);
			}
			err = g_hash_table_lookup(done, dir);
			g_ptr_array_add(ds->errors, err ? g_error_copy(err) : NULL);
		}
	}
}

/* The directories of the items renamed, synced; an item whose directory
 * could not be synced is failed (its file may still appear: a duplicate
 * when the MTA retries, never a loss). */
static void sync_dirs(Mda *mda, MaildirDelivery *items, guint n)
{
	DirSync ds = { g_ptr_array_new(), g_ptr_array_new_with_free_func(error_free0) };
	for (guint i = 0; i < n; i++) {
		const char *dir = items[i].sync_dir_r;
		gboolean seen = FALSE;
		for (guint k = 0; dir && !seen && k < ds.dirs->len; k++)
			seen = strcmp(ds.dirs->pdata[k], dir) == 0;
		if (dir && !seen)
			g_ptr_array_add(ds.dirs, (gpointer)dir);
	}
	if (ds.dirs->len && !group_commit_join(mda->dir_syncs, &ds)) {
		for (guint k = 0; k < ds.dirs->len; k++)
			g_ptr_array_add(ds.errors, g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
			                                       "the server is shutting down"));
	}
	for (guint k = 0; k < ds.dirs->len; k++) {
		const GError *err = ds.errors->pdata[k];
		for (guint i = 0; err && i < n; i++) {
			if (!items[i].sync_dir_r || strcmp(items[i].sync_dir_r, ds.dirs->pdata[k]) != 0)
				continue;
			g_clear_pointer(&items[i].base_r, g_free);
			if (!items[i].error_r)
				items[i].error_r = g_error_copy(err);
		}
	}
	g_ptr_array_unref(ds.dirs);
	g_ptr_array_unref(ds.errors);
}

/* Whether recipient ri is to be answered 250 as things stand. */
static gboolean result_is_ok(const Result *r)
{
	return !r->has_temp && !(r->has_perm && r->refused >= r->targets);
}

/* Before any file appears: promise, durably, the files of every recipient
 * about to get a 250 (agents/mda/dedup.h).  stamps: each plan's
 * stamp, so its name is known now.  A recipient whose promise could not
 * be made gets a 452 and none of its files. */
static void promise_files(Delivery *d, guint n_rcpts, const MaildirStamp *stamps)
{
	Mda *mda = d->ls->mda;
	g_autoptr(GArray) promises = g_array_new(FALSE, TRUE, sizeof(DedupPromise));
	g_autoptr(GArray) files = g_array_new(FALSE, TRUE, sizeof(DedupFile));
	g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) digests = g_hash_table_new(g_direct_hash, g_direct_equal);   /* GBytes * -> digest */
	g_autoptr(GArray) first_file = g_array_new(FALSE, TRUE, sizeof(guint));
	for (guint ri = 0; ri < n_rcpts; ri++) {
		if (!d->keys[ri] || !result_is_ok(&d->results[ri]))
			continue;
		guint first = files->len;
		for (guint i = 0; i < d->plans->len; i++) {
			Plan *p = d->plans->pdata[i];
			if (p->rcpt != ri)
				continue;
			const char *digest = g_hash_table_lookup(digests, p->data);
			if (!digest) {
				gsize len = 0;
				const char *data = g_bytes_get_data(p->data, &len);
				char *dg = dedup_digest(data, len);
				g_ptr_array_add(strings, dg);
				g_hash_table_insert(digests, p->data, dg);
				digest = dg;
			}
			char *prefix = maildir_name_prefix(&stamps[i]);
			g_ptr_array_add(strings, prefix);
			DedupFile f = { p->rel_dir, prefix, digest };
			g_array_append_val(files, f);
		}
		DedupPromise pr = { d->keys[ri], NULL, files->len - first };
		g_array_append_val(promises, pr);
		g_array_append_val(first_file, first);
	}
	if (promises->len == 0)
		return;
	DedupPromise *prs = (DedupPromise *)(void *)promises->data;
	for (guint k = 0; k < promises->len; k++)   /* files no longer moves */
		prs[k].files = &g_array_index(files, DedupFile, g_array_index(first_file, guint, k));
	g_autoptr(GError) err = NULL;
	if (dedup_promise(mda->dedup, prs, promises->len, &err))
		return;
	ms_conn_emit(d->ls->conn, MS_EV_ERROR, "cannot record the delivery in %s: %s", DEDUP_FILE_NAME, err->message);
	for (guint ri = 0; ri < n_rcpts; ri++) {
		if (!d->keys[ri] || !result_is_ok(&d->results[ri]))
			continue;
		const char *rcpt = ((SmtpPath *)g_ptr_array_index(smtp_session_recipients(d->session), ri))->address;
		result_temp(&d->results[ri], 452, "4.3.1", "<%s> cannot store the message now: %s", rcpt, err->message);
	}
}

/* Step 4 for everyone at once: the promise (dedup.h), then one group
 * commit (one directory fsync per folder, shared with the other
 * sessions), then a STORE event per file written.  A recipient already
 * answered 4xx gets no file: the MTA's retry files them all, once. */
static void write_plans(Delivery *d, guint n_rcpts)
{
	Mda *mda = d->ls->mda;
	guint n = d->plans->len;
	/* names of its own (the stamp's counter): one stamp per file, so each
	 * file's name is known before it is written, whatever its neighbours do */
	g_mutex_lock(&mda->lock);
	mda->stamp.time_us = mda_now_us(mda);
	MaildirStamp stamp = mda->stamp;
	guint64 reserved = mda->stamp.counter += n;
	g_mutex_unlock(&mda->lock);
	MaildirStamp *stamps = g_new0(MaildirStamp, MAX(n, 1));
	for (guint i = 0; i < n; i++) {
		stamps[i] = stamp;
		stamps[i].counter = stamp.counter + i;
	}
	promise_files(d, n_rcpts, stamps);
	if (n == 0) {
		g_free(stamps);
		return;
	}

	MaildirDelivery *items = g_new0(MaildirDelivery, n);
	gboolean *wanted = g_new0(gboolean, n);
	for (guint i = 0; i < n; i++) {
		Plan *p = d->plans->pdata[i];
		gsize len = 0;
		items[i].maildir = p->maildir;
		items[i].folder = p->folder;
		items[i].data = g_bytes_get_data(p->data, &len);
		items[i].len = len;
		wanted[i] = !d->results[p->rcpt].has_temp;
	}
	/* written, synced and renamed without the lock, sessions at once */
	guint64 used = reserved;
	for (guint i = 0; i < n; i++) {
		if (!wanted[i])
			continue;
		maildir_deliver_batch_unsynced(&items[i], 1, &stamps[i]);
		used = MAX(used, stamps[i].counter);   /* a clash takes more names */
	}
	g_mutex_lock(&mda->lock);
	mda->stamp.counter = MAX(mda->stamp.counter, used);
	g_mutex_unlock(&mda->lock);
	sync_dirs(mda, items, n);

	MsBus *bus = ms_sched_bus(mda->sched);
	for (guint i = 0; i < n; i++) {
		Plan *p = d->plans->pdata[i];
		Result *res = &d->results[p->rcpt];
		if (!wanted[i])
			continue;
		if (items[i].base_r) {
			g_autofree char *text = g_strdup_printf("stored for %s in %s: %s/new/%s", p->mailbox, p->folder,
			                                        p->rel_dir, items[i].base_r);
			MsEvent ev = { .kind = MS_EV_STORE, .from = ms_stack_name(mda->stack), .to = p->mailbox,
			               .proto = "maildir", .step = STEP(MDA_ACT_STORE), .text = text,
			               .conn = ms_conn_id(d->ls->conn) };
			ms_bus_emit(bus, &ev);
			result_done(res, "%s", p->folder);
		} else {
			const GError *err = items[i].error_r;
			ms_conn_emit(d->ls->conn, MS_EV_ERROR, "cannot store for %s in %s: %s", p->mailbox, p->folder,
			             err ? err->message : "unknown error");
			/* RFC 3463 4.3.1: out of room (or any write failure): try later */
			result_temp(res, 452, "4.3.1", "<%s> cannot store the message now: %s",
			            ((SmtpPath *)g_ptr_array_index(smtp_session_recipients(d->session), p->rcpt))->address,
			            err ? err->message : "unknown error");
		}
		g_free(items[i].base_r);
		g_clear_error(&items[i].error_r);
		g_free(items[i].sync_dir_r);
	}
	g_free(items);
	g_free(wanted);
	g_free(stamps);
}

/* Step 1, once for the message: a virus refuses it for every recipient,
 * each with its own reply and event.  TRUE when a virus was found. */
static gboolean virus_refuse(Delivery *d, const GString *message, SmtpVerdict *v, guint n)
{
	MsConn *c = d->ls->conn;
	FilterVirusResult vr;
	if (!filter_virus_scan(message->str, message->len, &vr)) {
		ms_conn_emit(c, MS_EV_NOTE, "virus scan: clean");
		return FALSE;
	}
	GPtrArray *rcpts = smtp_session_recipients(d->session);
	for (guint i = 0; i < n; i++) {
		const char *rcpt = ((SmtpPath *)g_ptr_array_index(rcpts, i))->address;
		if (!d->keys[i])   /* answered already (a copy filed before) */
			continue;
		if (vr.part)
			ms_conn_emit(c, MS_EV_REFUSE, "<%s>: virus %s found in MIME part %u: refused", rcpt, vr.signature,
			             vr.part);
		else
			ms_conn_emit(c, MS_EV_REFUSE, "<%s>: virus %s found: refused", rcpt, vr.signature);
		smtp_verdict_set(&v[i], 554, "5.7.1", STEP(MDA_ACT_FILTER), "<%s> Message refused: virus %s found",
		                 rcpt, vr.signature);
	}
	return TRUE;
}

/* Step 2, once for the message: the score, its reasons as events, and the
 * two fields every copy carries. */
static void spam_score(Delivery *d, const GString *message)
{
	MsConn *c = d->ls->conn;
	d->spam = filter_spam_score(message->str, message->len, d->ls->mda->spam_threshold);
	for (guint i = 0; i < d->spam->hits->len; i++) {
		const FilterSpamHit *hit = d->spam->hits->pdata[i];
		ms_conn_emit(c, MS_EV_NOTE, "spam rule %s (+%.1f): %s", hit->rule->name, hit->rule->score,
		             hit->explanation);
	}
	ms_conn_emit(c, MS_EV_NOTE, "spam score %.1f, spam from %.1f: %s", d->spam->score, d->spam->threshold,
	             d->spam->is_spam ? "spam, into Junk" : "not spam");
	d->filtered = g_string_sized_new(message->len + 256);
	g_string_append_printf(d->filtered, "%s\r\n%s\r\n", d->spam->score_header, d->spam->status_header);
	g_string_append_len(d->filtered, message->str, message->len);
	d->header = rfc5322_parse_header(d->filtered->str, d->filtered->len, NULL);
}

/* The MTA's queue id, for a student reading the events: the "id" of the
 * top Received field, which the MTA added when it queued the message.  A
 * new string, or NULL. */
static char *queue_id_of(const GString *message)
{
	g_autoptr(Rfc5322Header) h = rfc5322_parse_header(message->str, message->len, NULL);
	const char *received = h ? rfc5322_header_get(h, "Received") : NULL;
	const char *id = received ? strstr(received, " id ") : NULL;
	if (!id)
		return NULL;
	id += 4;
	gsize len = strcspn(id, " \t\r\n;");
	return len ? g_strndup(id, len) : NULL;
}

/* RFC 5321 6.1: a copy the MTA sends again (it crashed after our 250, or
 * lost the reply) is answered 250 and not filed twice; one being filed by
 * another session right now is answered 4xx.  Reserves the key of every
 * other recipient in d->keys.  Returns how many are left to deliver. */
static guint dedup_recipients(Delivery *d, const GString *message, SmtpVerdict *v, guint n)
{
	Mda *mda = d->ls->mda;
	GPtrArray *rcpts = smtp_session_recipients(d->session);
	g_autofree char *digest = dedup_digest(message->str, message->len);
	g_autofree char *queue_id = NULL;
	guint fresh = 0;
	for (guint i = 0; i < n; i++) {
		const char *rcpt = ((SmtpPath *)g_ptr_array_index(rcpts, i))->address;
		g_autofree char *key = dedup_key(digest, rcpt);
		DedupVerdict verdict = dedup_check(mda->dedup, key, mda_now_us(mda));
		if (verdict == DEDUP_NEW) {
			d->keys[i] = g_steal_pointer(&key);
			fresh++;
			continue;
		}
		if (!queue_id)
			queue_id = queue_id_of(message);
		const char *qid = queue_id ? queue_id : "unknown";
		if (verdict == DEDUP_DELIVERED) {
			ms_conn_emit(d->ls->conn, MS_EV_NOTE,
			             "<%s>: this copy (MTA queue id %s) was filed before: not filed again", rcpt, qid);
			smtp_verdict_set(&v[i], 250, "2.0.0", STEP(MDA_ACT_STORE), "<%s> Ok: already delivered", rcpt);
		} else {
			ms_conn_emit(d->ls->conn, MS_EV_NOTE,
			             "<%s>: this copy (MTA queue id %s) is being filed by another session", rcpt, qid);
			smtp_verdict_set(&v[i], 451, "4.3.0", STEP(MDA_ACT_STORE),
			                 "<%s> the same message is being delivered now, try again later", rcpt);
		}
	}
	return fresh;
}

static void lmtp_data(gpointer ud, SmtpSession *s, GString *message, SmtpVerdict *v)
{
	Lmtp *ls = ud;
	Mda *mda = ls->mda;
	GPtrArray *rcpts = smtp_session_recipients(s);
	guint n = rcpts->len;
	if (ls->rcpt_targets->len != n) {   /* a bug, but never a lost message */
		for (guint i = 0; i < n; i++)
			smtp_verdict_set(&v[i], 451, "4.3.0", NULL, "internal error, try again later");
		return;
	}
	const SmtpPath *sender = smtp_session_sender(s);
	Delivery d = {
		.ls = ls,
		.session = s,
		.sender = sender ? sender->address : "",
		.size = message->len,
		.id = mda_new_id(mda),
		.results = g_new0(Result, n),
		.keys = g_new0(char *, n),
		.plans = g_ptr_array_new_with_free_func(plan_free),
		.maildirs = g_ptr_array_new_with_free_func((GDestroyNotify)maildir_free),
	};

	if (dedup_recipients(&d, message, v, n) > 0 && !virus_refuse(&d, message, v, n)) {
		spam_score(&d, message);
		g_autoptr(GPtrArray) received = d.header ? rfc5322_header_find_all(d.header, "Received") : NULL;
		gboolean looping = received && received->len > MDA_MAX_HOPS;
		for (guint i = 0; i < n; i++) {
			const char *rcpt = ((SmtpPath *)g_ptr_array_index(rcpts, i))->address;
			GPtrArray *targets = ls->rcpt_targets->pdata[i];
			Result *res = &d.results[i];
			res->done = g_string_new(NULL);
			if (!d.keys[i])   /* answered by the duplicate check */
				continue;
			if (looping) {   /* RFC 5321 6.3: too many hops is a loop */
				ms_conn_emit(ls->conn, MS_EV_REFUSE, "<%s>: %u Received fields: a mail loop", rcpt, received->len);
				result_perm(res, 554, "5.4.6", "<%s> Too many hops: a mail loop", rcpt);
				res->targets = 1;
				continue;
			}
			res->targets = targets->len;
			for (guint t = 0; t < targets->len; t++) {
				const Target *target = targets->pdata[t];
				if (target->local)
					deliver_mailbox(&d, i, rcpt, target->address);
				else
					deliver_forward(&d, i, rcpt, target->address);
			}
		}
		write_plans(&d, n);
		for (guint i = 0; i < n; i++) {
			const char *rcpt = ((SmtpPath *)g_ptr_array_index(rcpts, i))->address;
			Result *res = &d.results[i];
			if (!d.keys[i]) {
				g_string_free(res->done, TRUE);
				continue;
			}
			if (res->has_temp)
				v[i] = res->temp;
			else if (res->has_perm && res->refused >= res->targets)
				v[i] = res->perm;
			else
				smtp_verdict_set(&v[i], 250, "2.0.0", STEP(MDA_ACT_STORE), "<%s> Ok: %s", rcpt,
				                 res->done->len ? res->done->str : "delivered");
			g_string_free(res->done, TRUE);
		}
	}
	/* every key reserved is settled: filed (250) or free for the MTA's retry */
	for (guint i = 0; i < n; i++)
		if (d.keys[i])
			dedup_finish(mda->dedup, d.keys[i], v[i].code == 250, mda_now_us(mda));
	g_ptr_array_set_size(ls->rcpt_targets, 0);
	g_clear_pointer(&d.spam, filter_spam_report_free);
	g_clear_pointer(&d.header, rfc5322_header_free);
	if (d.filtered)
		g_string_free(d.filtered, TRUE);
	g_ptr_array_unref(d.plans);
	g_ptr_array_unref(d.maildirs);
	for (guint i = 0; i < n; i++)   /* not g_strfreev: a recipient answered early leaves a hole */
		g_free(d.keys[i]);
	g_free(d.keys);
	g_free(d.results);
	g_free(d.id);
}

static const SmtpServerHooks lmtp_hooks = {
	.mail = lmtp_mail,
	.rcpt = lmtp_rcpt,
	.data_lmtp = lmtp_data,
};

/* ======================================================================== */
/* Listeners and tasks                                                      */
/* ======================================================================== */

static void accepted_finish(Accepted *a)
{
	ms_conn_unref(a->conn);
	(void)g_atomic_int_dec_and_test(&a->service->sessions);
	g_free(a);
}

static void lmtp_task(gpointer data)
{
	Accepted *a = data;
	Lmtp ls = {
		.mda = a->service->mda,
		.conn = a->conn,
		.rcpt_targets = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref),
	};
	smtp_server_run(a->conn, &ls.mda->lmtp_cfg, &lmtp_hooks, &ls);
	g_ptr_array_unref(ls.rcpt_targets);
	accepted_finish(a);
}

static void authsvc_task(gpointer data)
{
	Accepted *a = data;
	authsvc_serve(a->conn, &authsvc_backend, a, STEP(MDA_ACT_CHECK_PASSWORD),
	              STEP(MDA_ACT_LOOKUP_RECIPIENT));
	accepted_finish(a);
}

static const ServiceDef service_defs[SERVICE_COUNT] = {
	[SERVICE_LMTP] = { "lmtp", "lmtp", MDA_ACT_RECEIVE,
	                   "421 4.3.2 Too many connections, try again later\r\n", lmtp_task },
	/* a connection may come to check a password (out.2) or a recipient
	 * (in.4): the step is known only from its first command */
	[SERVICE_AUTH] = { "auth", "auth", MDA_ACT_COUNT, "-TEMP too many connections\r\n", authsvc_task },
};

static void accept_task(gpointer data)
{
	Service *sv = data;
	for (guint64 n = 1;; n++) {
		g_autoptr(GError) err = NULL;
		MsConn *c = ms_listener_accept(sv->listener, &err);
		if (!c) {
			if (!g_atomic_int_get(&sv->mda->running) || g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
				return;   /* closed, or the scheduler shuts down */
			/* out of descriptors, say: the service must not die of it */
			MsEvent ev = { .kind = MS_EV_ERROR, .from = ms_stack_name(sv->mda->stack), .proto = sv->def->proto,
			               .text = err ? err->message : "accept failed" };
			ms_bus_emit(ms_sched_bus(sv->mda->sched), &ev);
			if (!ms_sleep(MS_SECOND))
				return;
			continue;
		}
		if (g_atomic_int_get(&sv->sessions) >= MDA_MAX_SESSIONS) {
			ms_conn_emit(c, MS_EV_REFUSE, "too many %s sessions (%d)", sv->def->name, MDA_MAX_SESSIONS);
			ms_conn_write(c, sv->def->busy, strlen(sv->def->busy), NULL);
			ms_conn_unref(c);
			continue;
		}
		g_atomic_int_inc(&sv->sessions);
		Accepted *a = g_new0(Accepted, 1);
		a->service = sv;
		a->conn = c;
		g_autofree char *name = g_strdup_printf("%s#%" G_GUINT64_FORMAT "@%s", sv->def->name, n,
		                                        ms_stack_name(sv->mda->stack));
		ms_task_spawn(sv->mda->sched, name, sv->def->serve, a);
	}
}

Mda *mda_new(MsStack *stack, const MdaConfig *cfg, GError **error)
{
	g_return_val_if_fail(stack != NULL && cfg != NULL, NULL);
	if (!cfg->hostname || !*cfg->hostname || !cfg->state_dir || !*cfg->state_dir) {
		g_set_error(error, MDA_ERROR, MDA_ERROR_CONFIG, "the MDA needs a host name and a state directory");
		return NULL;
	}
	if (cfg->spam_threshold < 0) {
		g_set_error(error, MDA_ERROR, MDA_ERROR_CONFIG, "spam threshold %.1f is negative", cfg->spam_threshold);
		return NULL;
	}
	Mda *mda = g_new0(Mda, 1);
	mda->stack = ms_stack_ref(stack);
	mda->sched = ms_stack_sched(stack);
	mda->hostname = g_strdup(cfg->hostname);
	mda->state_dir = g_strdup(cfg->state_dir);
	mda->listen_address = g_strdup(cfg->listen_address);
	mda->mta_address = g_strdup(cfg->mta_address);
	mda->mta_port = cfg->mta_port ? cfg->mta_port : MDA_SMTP_PORT;
	mda->fsync = cfg->fsync;
	mda->spam_threshold = cfg->spam_threshold > 0 ? cfg->spam_threshold : FILTER_SPAM_DEFAULT_THRESHOLD;
	mda->epoch_us = cfg->epoch_us ? cfg->epoch_us : MDA_DEFAULT_EPOCH_US;
	mda->salts = ms_rng_new(cfg->seed, "mda-salts");
	mda->ids = ms_rng_new(cfg->seed, "mda-ids");
	mda->stamp.process = cfg->seed;
	g_mutex_init(&mda->lock);
	g_mutex_init(&mda->db_lock);
	mda->db_said = g_ptr_array_new_with_free_func(g_free);
	mda->dir_syncs = group_commit_new(dir_syncs_commit, mda);

	mda->lmtp_cfg.hostname = mda->hostname;
	mda->lmtp_cfg.lmtp = TRUE;
	smtp_proto_limits_init(&mda->lmtp_cfg.limits);
	for (guint st = 0; st < SMTP_STAGE_COUNT; st++)
		mda->lmtp_cfg.steps[st] = STEP(MDA_ACT_RECEIVE);
	mda->lmtp_cfg.steps[SMTP_STAGE_RCPT] = STEP(MDA_ACT_LOOKUP_RECIPIENT);
	mda->lmtp_cfg.steps[SMTP_STAGE_ACCEPT] = STEP(MDA_ACT_STORE);

	guint16 ports[SERVICE_COUNT] = {
		[SERVICE_LMTP] = cfg->lmtp_port ? cfg->lmtp_port : MDA_LMTP_PORT,
		[SERVICE_AUTH] = cfg->authsvc_port ? cfg->authsvc_port : AUTHSVC_PORT,
	};
	for (guint i = 0; i < SERVICE_COUNT; i++) {
		mda->services[i].mda = mda;
		mda->services[i].def = &service_defs[i];
		mda->services[i].port = ports[i];
	}

	/* the observer comes after opening: the schema's own statements are
	 * not the lesson */
	mda->db = accounts_open(cfg->state_dir, NULL, NULL, error);
	if (!mda->db || !accounts_set_durable(mda->db, cfg->fsync, error) ||
	    (cfg->private_db && !accounts_set_private(mda->db, error))) {
		mda_free(mda);
		return NULL;
	}
	accounts_set_random(mda->db, db_salt, mda->salts);
	if (cfg->hash_rounds)
		accounts_set_hash_rounds(mda->db, cfg->hash_rounds);
	accounts_set_observer(mda->db, db_observe, mda);
	g_autofree char *dedup_path = g_build_filename(cfg->state_dir, DEDUP_FILE_NAME, NULL);
	mda->dedup = dedup_open(dedup_path, cfg->state_dir, cfg->fsync, mda_now_us(mda), error);
	if (!mda->dedup) {
		mda_free(mda);
		return NULL;
	}
	return mda;
}

gboolean mda_start(Mda *mda, GError **error)
{
	g_return_val_if_fail(!g_atomic_int_get(&mda->running), FALSE);
	for (guint i = 0; i < SERVICE_COUNT; i++) {
		Service *sv = &mda->services[i];
		sv->listener = ms_stack_listen(mda->stack, mda->listen_address, sv->port, error);
		if (!sv->listener) {
			g_prefix_error(error, "%s port %u: ", sv->def->name, sv->port);
			for (guint j = 0; j < i; j++)
				g_clear_pointer(&mda->services[j].listener, ms_listener_free);
			return FALSE;
		}
		sv->port = ms_listener_port(sv->listener);
		ms_listener_set_proto(sv->listener, sv->def->proto);
		ms_listener_set_step(sv->listener, (guint)sv->def->action < MDA_ACT_COUNT ? STEP(sv->def->action) : NULL);
	}
	g_atomic_int_set(&mda->running, TRUE);
	for (guint i = 0; i < SERVICE_COUNT; i++) {
		Service *sv = &mda->services[i];
		g_autofree char *name = g_strdup_printf("%s-accept@%s", sv->def->name, ms_stack_name(mda->stack));
		ms_task_spawn(mda->sched, name, accept_task, sv);
	}
	return TRUE;
}

void mda_stop(Mda *mda)
{
	if (!mda || !g_atomic_int_compare_and_exchange(&mda->running, TRUE, FALSE))
		return;
	for (guint i = 0; i < SERVICE_COUNT; i++)
		if (mda->services[i].listener)
			ms_listener_close(mda->services[i].listener);
}

void mda_free(Mda *mda)
{
	if (!mda)
		return;
	mda_stop(mda);
	for (guint i = 0; i < SERVICE_COUNT; i++)
		g_clear_pointer(&mda->services[i].listener, ms_listener_free);
	accounts_close(mda->db);
	dedup_free(mda->dedup);
	ms_rng_free(mda->salts);
	ms_rng_free(mda->ids);
	group_commit_free(mda->dir_syncs);
	g_mutex_clear(&mda->lock);
	g_mutex_clear(&mda->db_lock);
	g_ptr_array_unref(mda->db_said);
	ms_stack_unref(mda->stack);
	g_free(mda->hostname);
	g_free(mda->state_dir);
	g_free(mda->listen_address);
	g_free(mda->mta_address);
	g_free(mda);
}

guint16 mda_lmtp_port(Mda *mda)
{
	return mda->services[SERVICE_LMTP].port;
}

guint16 mda_authsvc_port(Mda *mda)
{
	return mda->services[SERVICE_AUTH].port;
}
