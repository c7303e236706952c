/* agents/mta/mta.c - the MTA: listeners, policy hooks, the queue manager.
 *
 * Four kinds of task run here: a listener per port that accepts
 * connections, one task per SMTP session (smtp_server.c does the talking,
 * this file decides; sessions share one group commit of the queue), the
 * queue manager, which finds the messages due in the durable queue, and a
 * few delivery agents, which deliver them: local recipients over LMTP to
 * the MDA, remote ones to the MX hosts DNS names (RFC 5321 5.1), with
 * retries and RFC 3464 bounces.
 */
#include "agents/mta/mta.h"
#include "agents/mta/anvil.h"
#include "agents/mta/policy.h"
#include "agents/mta/queue.h"
#include "agents/mta/smtp_client.h"
#include "agents/mta/smtp_server.h"
#include "agents/mda/authsvc.h"
#include "agents/common/durable.h"
#include "agents/common/group_commit.h"
#include "agents/common/rfc5322.h"
#include "net/resolver.h"
#include "net/simnet.h"   /* ms_net_cidr_* */
#include "sim/kernel/rng.h"

#include <string.h>

/* ---- the course-step table ---------------------------------------------
 * What the MTA does, and the step of COURSE.md a student sees it as.  The
 * inbound listener (port 25) is the receiving side, the submission
 * listener (587) the sending side's first hop. */
static const char *const inbound_steps[SMTP_STAGE_COUNT] = {
	[SMTP_STAGE_CONNECT] = "in.1",   /* a server connects to port 25 */
	[SMTP_STAGE_HELLO] = "in.2",     /* the SMTP dialogue */
	[SMTP_STAGE_MAIL] = "in.2",
	[SMTP_STAGE_RCPT] = "in.2",
	[SMTP_STAGE_DATA] = "in.2",
	[SMTP_STAGE_ACCEPT] = "in.6",    /* the user exists: accepted */
	[SMTP_STAGE_QUIT] = "in.2",
};
static const char *const submission_steps[SMTP_STAGE_COUNT] = {
	[SMTP_STAGE_CONNECT] = "out.1",  /* the MUA connects and authenticates */
	[SMTP_STAGE_HELLO] = "out.1",
	[SMTP_STAGE_AUTH] = "out.1",
	[SMTP_STAGE_MAIL] = "out.1",
	[SMTP_STAGE_RCPT] = "out.1",
	[SMTP_STAGE_DATA] = "out.1",
	[SMTP_STAGE_ACCEPT] = "out.1",
	[SMTP_STAGE_QUIT] = "out.1",
};
#define STEP_ASK_MDA_AUTH   "out.2"   /* the MTA asks the MDA about credentials */
#define STEP_ROUTE          "out.4"   /* local or remote; MX lookup */
#define STEP_RELAY          "out.5"   /* SMTP to the recipient's server */
#define STEP_ASK_MDA_RCPT   "in.4"    /* the MTA asks the MDA about the recipient */
#define STEP_RBL            "in.3"
#define STEP_HANDOFF        "in.6"    /* LMTP to the MDA */

#define DEFAULT_RESTRICTIONS "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"
#define SUBMISSION_RESTRICTIONS "permit_sasl_authenticated, reject"

/* A delivery agent (see "delivery agents" below). */
typedef struct {
	Mta        *mta;
	MsTask     *task;
	SmtpClient *lmtp;        /* open between messages, MTA_LMTP_IDLE_TIME at most */
	guint       lmtp_used;   /* transactions over it */
	gint64      lmtp_idle_since;   /* scheduler time its last transaction ended */
} Agent;

struct Mta {
	MsStack     *stack;
	MsSched     *sched;
	char        *hostname;
	char        *mda_name;
	char        *mda_address;
	MsDnsDirectory *dns;
	MsDnsCache     *dns_cache;   /* or NULL: every look-up goes out, as the lessons show them */
	AuthsvcPool *authsvc;             /* connections to the MDA's account service, shared */
	guint16      lmtp_port, authsvc_port, smtp_port, submission_port;
	char        *listen_address;
	GPtrArray   *local_domains;       /* char* */
	GPtrArray   *relay_domains;       /* char* */
	Policy      *policy;              /* port 25 */
	Policy      *submission_policy;   /* port 587 */
	Anvil       *anvil;               /* connections per client and port */
	guint        count_limit, rate_limit;   /* for the refusal's event; 0: none */
	GPtrArray   *limit_exceptions;    /* char *: CIDRs the limits spare */
	gboolean     limit_spares_mynetworks;
	MtaQueue    *queue;
	GMutex       qlock;               /* the queue and the fields below are shared by
	                                     sessions, the queue manager and the agents */
	gboolean     fsync;
	GroupCommit *queue_syncs;         /* arrivals and removals: one directory fsync for many */
	GQueue      *ready;               /* Job *: due, waiting for a delivery agent */
	GHashTable  *busy;                /* ids (owned) waiting in ready or being delivered */
	GPtrArray   *agents;              /* Agent *: the helper delivery tasks */
	GPtrArray   *idle;                /* Agent *: helpers parked until there is work */
	Agent        qagent;              /* the queue manager delivers too */
	gboolean     qmgr_idle;           /* the queue manager, parked with nothing to deliver */
	MsRng       *rng;
	GMutex       rng_lock;
	guint64      seed;
	gint64       retry_min, retry_max, lifetime, epoch;
	SmtpServerConfig smtpd, submission;
	MsListener  *l_smtp, *l_submission, *l_smtps;
	guint16      smtps_port;
	GTlsCertificate *tls_cert;
	MsTask      *qmgr;
	gboolean     stopping;
	gboolean     flush;
	gint         tasks;               /* ours still running (atomic) */
	guint        sessions;            /* for task names */
};

/* ---- small helpers ----------------------------------------------------- */

static void note(Mta *mta, MsEventKind kind, const char *to, const char *proto, const char *step,
                 const char *fmt, ...) G_GNUC_PRINTF(6, 7);

static void note(Mta *mta, MsEventKind kind, const char *to, const char *proto, const char *step,
                 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	MsEvent ev = { .kind = kind, .from = mta->hostname, .to = to, .proto = proto, .step = step, .text = text };
	ms_bus_emit(ms_sched_bus(mta->sched), &ev);
}

static gboolean in_list(GPtrArray *list, const char *domain)
{
	for (guint i = 0; i < list->len; i++)
		if (g_ascii_strcasecmp(g_ptr_array_index(list, i), domain) == 0)
			return TRUE;
	return FALSE;
}

static gboolean domain_is_local(Mta *mta, const char *domain)
{
	return in_list(mta->local_domains, domain);
}

static const char *domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	return at ? at + 1 : "";
}

static char *new_id(Mta *mta)
{
	g_mutex_lock(&mta->rng_lock);
	g_autofree char *hex = ms_rng_hex(mta->rng, 12);
	g_mutex_unlock(&mta->rng_lock);
	return g_ascii_strup(hex, -1);   /* Postfix-like: 4F2A9C01B3D7 */
}

/* The queue's clock: Unix time, not the scheduler's, whose zero is this
 * process's start.  A queue written by a server that ran for days is read
 * by its successor at the right times: retries when due, lifetimes whole. */
static gint64 queue_now(Mta *mta)
{
	return mta->epoch + ms_sched_now(mta->sched);
}

static char *date_now(Mta *mta)
{
	return rfc5322_format_date(queue_now(mta), 0);
}

static MsResolver *resolver_new(Mta *mta)
{
	MsResolver *r = ms_resolver_new_directory(mta->stack, mta->hostname, mta->dns, mta->seed);
	ms_resolver_set_cache(r, mta->dns_cache);
	return r;
}

/* ---- one SMTP session's context ---------------------------------------- */

typedef struct {
	Mta           *mta;
	gboolean       submission;
	AnvilVerdict   limit;       /* whether the client is over a connection limit */
	guint          count, rate; /* what anvil counted for it */
	MsResolver    *resolver;
	int            ptr_state;   /* 0 not asked, 1 found, -1 none, -2 no answer */
	char          *ptr_name;
} Session;

static void session_free(gpointer data)
{
	Session *s = data;
	ms_resolver_free(s->resolver);
	g_free(s->ptr_name);
	g_free(s);
}

static MsResolver *session_resolver(Session *s)
{
	if (!s->resolver)
		s->resolver = resolver_new(s->mta);
	return s->resolver;
}

/* Policy lookups, answered over the network as the course shows. */

static gboolean lk_local(gpointer ud, const char *domain)
{
	return domain_is_local(((Session *)ud)->mta, domain);
}

static gboolean lk_relay(gpointer ud, const char *domain)
{
	return in_list(((Session *)ud)->mta->relay_domains, domain);
}

static int lk_rbl(gpointer ud, const char *zone, const char *address, char **reason_r)
{
	Session *s = ud;
	g_autofree char *code = NULL;
	g_autoptr(GError) err = NULL;
	MsDnsStatus st = ms_resolver_dnsbl(session_resolver(s), address, zone, STEP_RBL, &code, reason_r, &err);
	if (st == MS_DNS_OK)
		return 1;
	return st == MS_DNS_NXDOMAIN ? 0 : -1;
}

static int lk_ptr(gpointer ud, const char *address, char **name_r)
{
	Session *s = ud;
	if (s->ptr_state == 0) {
		g_autoptr(GError) err = NULL;
		MsDnsStatus st = ms_resolver_ptr(session_resolver(s), address, STEP_RBL, &s->ptr_name, &err);
		s->ptr_state = st == MS_DNS_OK ? 1 : st == MS_DNS_TEMPFAIL ? -2 : -1;
	}
	if (s->ptr_state == 1)
		*name_r = g_strdup(s->ptr_name);
	return s->ptr_state == 1 ? 1 : s->ptr_state == -1 ? 0 : -1;
}

static int lk_exists(gpointer ud, const char *address)
{
	Session *s = ud;
	g_autoptr(GError) err = NULL;
	switch (authsvc_pool_rcpt(s->mta->authsvc, address, STEP_ASK_MDA_RCPT, NULL, &err)) {
	case AUTHSVC_OK: return 1;
	case AUTHSVC_NO: return 0;
	default: return -1;
	}
}

static const PolicyLookups lookups = { lk_local, lk_relay, lk_rbl, lk_ptr, lk_exists };

/* A client over its connection limit gets Postfix's 421 instead of the
 * greeting, and the session ends. */
static gboolean hook_connect(gpointer ud, SmtpSession *ss, SmtpVerdict *v)
{
	Session *s = ud;
	if (s->limit == ANVIL_OK)
		return TRUE;
	Mta *mta = s->mta;
	const char *addr = smtp_session_client_address(ss);
	if (s->limit == ANVIL_TOO_MANY)
		ms_conn_emit(smtp_session_conn(ss), MS_EV_REFUSE,
		             "connection concurrency limit exceeded: %u from %s (smtpd_client_connection_count_limit = %u)",
		             s->count, addr, mta->count_limit);
	else
		ms_conn_emit(smtp_session_conn(ss), MS_EV_REFUSE,
		             "connection rate limit exceeded: %u from %s in %d s (smtpd_client_connection_rate_limit = %u)",
		             s->rate, addr, (int)(ANVIL_RATE_TIME_UNIT / G_USEC_PER_SEC), mta->rate_limit);
	smtp_verdict_set(v, 421, "4.7.0", NULL, "%s Error: too many connections from %s", mta->hostname, addr);
	return FALSE;
}

static gboolean hook_auth(gpointer ud, SmtpSession *ss, const char *user, const char *password)
{
	Session *s = ud;
	g_autoptr(GError) err = NULL;
	return authsvc_pool_auth(s->mta->authsvc, user, password, STEP_ASK_MDA_AUTH, &err) == AUTHSVC_OK;
}

static gboolean hook_rcpt(gpointer ud, SmtpSession *ss, const SmtpCommand *cmd, SmtpVerdict *v)
{
	Session *s = ud;
	Policy *p = s->submission ? s->mta->submission_policy : s->mta->policy;
	smtp_session_flush(ss);   /* the policy may ask DNS and the MDA: show what came before */
	PolicyRequest req = { smtp_session_client_address(ss), smtp_session_auth_user(ss), cmd->path };
	PolicyResult r = policy_check_recipient(p, &req, &lookups, s, v);
	if (r == POLICY_REJECT || r == POLICY_DEFER) {
		/* the refusal belongs to the step that decided it (in.3 for a DNSBL) */
		if (v->step)
			ms_conn_set_step(smtp_session_conn(ss), v->step);
		ms_conn_emit(smtp_session_conn(ss), MS_EV_REFUSE, "%u %s", v->code, v->text);
		return FALSE;
	}
	return TRUE;
}

/* RFC 5321 4.4: every hop adds its Received: line on top. */
static void prepend_received(Session *s, SmtpSession *ss, const char *id, GString *message)
{
	Mta *mta = s->mta;
	gboolean submission = s->submission;
	const char *client = smtp_session_client_address(ss);
	GPtrArray *rcpts = smtp_session_recipients(ss);
	g_autofree char *date = date_now(mta);
	/* RFC 3848: ESMTPA when authenticated, ESMTP or SMTP otherwise */
	const char *with = smtp_session_auth_user(ss) ? "ESMTPA" : smtp_session_esmtp(ss) ? "ESMTP" : "SMTP";
	GString *h = g_string_new(NULL);
	g_string_append_printf(h, "Received: from %s (%s [%s])\r\n\tby %s (mailsim) with %s id %s",
	                       smtp_session_helo(ss) ? smtp_session_helo(ss) : "unknown",
	                       s->ptr_state == 1 ? s->ptr_name : "unknown", client, mta->hostname, with, id);
	if (rcpts->len == 1)
		g_string_append_printf(h, "\r\n\tfor <%s>", ((SmtpPath *)g_ptr_array_index(rcpts, 0))->address);
	g_string_append_printf(h, "; %s\r\n", date);

	if (submission) {
		/* RFC 6409 8.2, 8.3: a submission server completes Date and
		 * Message-ID when the client left them out. */
		g_autoptr(Rfc5322Header) hdr = rfc5322_parse_header(message->str, message->len, NULL);
		if (!hdr || !rfc5322_header_find(hdr, "Date"))
			g_string_append_printf(h, "Date: %s\r\n", date);
		if (!hdr || !rfc5322_header_find(hdr, "Message-ID"))
			g_string_append_printf(h, "Message-ID: <%s@%s>\r\n", id, mta->hostname);
	}
	g_string_prepend(message, h->str);
	g_string_free(h, TRUE);
}

/* ---- the queue's group commit ------------------------------------------
 * RFC 5321 4.5.4.1 wants the message on disk before the 250.  Each session
 * writes and syncs its own files (all sessions at once), then joins the
 * group commit: one rename round and one directory fsync for every session
 * that finished DATA meanwhile, each answered once the commit that covers
 * its message has succeeded.  A delivery agent that removed a delivered
 * message joins the same group: the directory fsync that makes new
 * messages durable makes the removals durable too. */

typedef struct {
	MtaQueueArrival *arrival;   /* NULL: a removal, waiting for the directory sync */
	GError          *error;     /* why the commit failed */
} Arriving;

static void queue_syncs_commit(gpointer *items, guint n, gpointer user_data)
{
	Mta *mta = user_data;
	g_autofree MtaQueueArrival **arrivals = g_new(MtaQueueArrival *, n);
	guint n_arrivals = 0;
	for (guint i = 0; i < n; i++)
		if (((Arriving *)items[i])->arrival)
			arrivals[n_arrivals++] = ((Arriving *)items[i])->arrival;
	g_autoptr(GError) err = NULL;
	/* arrivals_commit syncs the directory once it renamed; removals alone
	 * need that sync by itself */
	if (n_arrivals ? mta_queue_arrivals_commit(arrivals, n_arrivals, &err)
	               : durable_sync_dir(mta_queue_get_dir(mta->queue), &err))
		return;
	for (guint i = 0; i < n; i++)
		((Arriving *)items[i])->error = g_error_copy(err);
}

static void dispatch_new(Mta *mta, const char *id);
static void enqueue_locked(Mta *mta, const char *id, gboolean flush);

/* Queue a message durably; TRUE once it is safe to say 250. */
static gboolean queue_durably(Mta *mta, const MtaQueueIncoming *in, GError **error)
{
	g_mutex_lock(&mta->qlock);
	Arriving a = { .arrival = mta_queue_arrival_new(mta->queue, in, error) };
	g_mutex_unlock(&mta->qlock);
	if (!a.arrival)
		return FALSE;
	if (mta_queue_arrival_write(a.arrival, &a.error) && !group_commit_join(mta->queue_syncs, &a) && !a.error)
		g_set_error(&a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the server is shutting down");
	g_mutex_lock(&mta->qlock);
	MtaQueueEntry *e = mta_queue_arrival_finish(mta->queue, a.arrival);
	g_mutex_unlock(&mta->qlock);
	if (!e)
		g_propagate_error(error, a.error ? a.error : g_error_new(G_IO_ERROR, G_IO_ERROR_FAILED, "not queued"));
	else
		g_clear_error(&a.error);
	return e != NULL;
}

static gboolean hook_data(gpointer ud, SmtpSession *ss, GString *message, SmtpVerdict *v)
{
	Session *s = ud;
	Mta *mta = s->mta;
	g_autofree char *id = new_id(mta);
	/* ids repeat across restarts of a seeded run: never take one that a
	 * recovered message still holds */
	g_mutex_lock(&mta->qlock);
	for (guint tries = 0; tries < 100 && mta_queue_lookup(mta->queue, id); tries++) {
		g_free(id);
		id = new_id(mta);
	}
	g_mutex_unlock(&mta->qlock);
	prepend_received(s, ss, id, message);

	GPtrArray *paths = smtp_session_recipients(ss);
	g_autoptr(GPtrArray) rcpts = g_ptr_array_new();
	for (guint i = 0; i < paths->len; i++)
		g_ptr_array_add(rcpts, ((SmtpPath *)g_ptr_array_index(paths, i))->address);
	g_ptr_array_add(rcpts, NULL);
	const SmtpPath *from = smtp_session_sender(ss);
	g_autoptr(GBytes) bytes = g_bytes_new(message->str, message->len);
	MtaQueueIncoming in = {
		.id = id, .from = from->address ? from->address : "",
		.rcpts = (const char *const *)rcpts->pdata, .message = bytes,
		.arrival_us = queue_now(mta),
		.client_address = smtp_session_client_address(ss),
		.client_helo = smtp_session_helo(ss), .client_user = smtp_session_auth_user(ss),
	};
	g_autoptr(GError) err = NULL;
	if (!queue_durably(mta, &in, &err)) {
		/* Nothing is acknowledged that is not on disk: 451, try later. */
		smtp_verdict_set(v, 451, "4.3.0", NULL, "Error: queue file write error: %s", err->message);
		note(mta, MS_EV_ERROR, NULL, "smtp", NULL, "could not queue the message: %s", err->message);
		return FALSE;
	}
	note(mta, MS_EV_STORE, NULL, "smtp", s->submission ? "out.1" : "in.6",
	     "queued %s: %" G_GSIZE_FORMAT " bytes from <%s> for %u recipient(s)", id, message->len,
	     in.from, paths->len);
	smtp_verdict_set(v, 250, "2.0.0", NULL, "Ok: queued as %s", id);
	g_mutex_lock(&mta->qlock);
	dispatch_new(mta, id);   /* due at once: to the delivery agents */
	g_mutex_unlock(&mta->qlock);
	return TRUE;
}

static const SmtpServerHooks hooks = {
	.connect = hook_connect,
	.auth = hook_auth,
	.rcpt = hook_rcpt,
	.data = hook_data,
};

/* ---- listeners --------------------------------------------------------- */

typedef struct {
	Mta    *mta;
	MsConn *conn;
	gboolean submission;
	gboolean implicit_tls;   /* port 465: TLS before the greeting (RFC 8314) */
	char    *client_key;     /* "PORT/ADDRESS" as anvil counts it; NULL: not counted */
	AnvilVerdict limit;
	guint    count, rate;
} SessionStart;

static void session_task(gpointer data)
{
	SessionStart *st = data;
	Session *s = g_new0(Session, 1);
	s->mta = st->mta;
	s->submission = st->submission;
	s->limit = st->limit;
	s->count = st->count;
	s->rate = st->rate;
	const SmtpServerConfig *cfg = st->submission ? &st->mta->submission : &st->mta->smtpd;
	if (!st->implicit_tls || ms_conn_starttls(st->conn, st->mta->tls_cert, NULL))
		smtp_server_run(st->conn, cfg, &hooks, s);
	session_free(s);
	if (st->client_key && st->limit == ANVIL_OK)
		anvil_disconnect(st->mta->anvil, st->client_key);
	ms_conn_unref(st->conn);
	g_atomic_int_dec_and_test(&st->mta->tasks);
	g_free(st->client_key);
	g_free(st);
}

/* Are the connection limits for this client?  Not for the exceptions
 * (Postfix's smtpd_client_event_limit_exceptions, by default mynetworks). */
static gboolean limits_apply(Mta *mta, const char *address)
{
	if (mta->limit_spares_mynetworks && policy_in_mynetworks(mta->policy, address))
		return FALSE;
	for (guint i = 0; i < mta->limit_exceptions->len; i++)
		if (ms_net_cidr_match(g_ptr_array_index(mta->limit_exceptions, i), address))
			return FALSE;
	return TRUE;
}

typedef struct {
	Mta        *mta;
	MsListener *l;
	gboolean    submission;
	gboolean    implicit_tls;
} Listening;

static void listener_task(gpointer data)
{
	Listening *li = data;
	for (;;) {
		MsConn *c = ms_listener_accept(li->l, NULL);
		if (!c)
			break;
		SessionStart *st = g_new0(SessionStart, 1);
		st->mta = li->mta;
		st->conn = c;
		st->submission = li->submission;
		st->implicit_tls = li->implicit_tls;
		/* counted here, in the order clients came, and judged by the session */
		const char *addr = ms_conn_peer_address(c);
		if ((li->mta->count_limit || li->mta->rate_limit) && limits_apply(li->mta, addr)) {
			st->client_key = g_strdup_printf("%u/%s", ms_conn_local_port(c), addr);
			st->limit = anvil_connect(li->mta->anvil, st->client_key, ms_sched_now(li->mta->sched),
			                          &st->count, &st->rate);
		}
		g_autofree char *name = g_strdup_printf("smtpd@%s#%u", li->mta->hostname, ++li->mta->sessions);
		g_atomic_int_inc(&li->mta->tasks);
		ms_task_spawn(li->mta->sched, name, session_task, st);
	}
	g_atomic_int_dec_and_test(&li->mta->tasks);
	g_free(li);
}

static MsListener *listen_on(Mta *mta, guint16 port, gboolean submission, gboolean implicit_tls,
                             GError **error)
{
	MsListener *l = ms_stack_listen(mta->stack, mta->listen_address, port, error);
	if (!l)
		return NULL;
	ms_listener_set_proto(l, "smtp");
	ms_listener_set_step(l, submission ? submission_steps[SMTP_STAGE_CONNECT] : inbound_steps[SMTP_STAGE_CONNECT]);
	Listening *li = g_new0(Listening, 1);
	li->mta = mta;
	li->l = l;
	li->submission = submission;
	li->implicit_tls = implicit_tls;
	g_autofree char *name = g_strdup_printf("%s@%s:%u", submission ? "submission" : "smtpd",
	                                        mta->hostname, ms_listener_port(l));
	g_atomic_int_inc(&mta->tasks);
	ms_task_spawn(mta->sched, name, listener_task, li);
	return l;
}

/* ---- delivery ---------------------------------------------------------- */

/* What became of one recipient in one attempt. */
typedef struct {
	MtaQueueRcpt *rcpt;
	SmtpRecipientStatus status;
	char *reply;     /* what the next hop said, or why we could not ask */
} Outcome;

static void outcome_set(Outcome *o, SmtpRecipientStatus st, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void outcome_set(Outcome *o, SmtpRecipientStatus st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_free(o->reply);
	o->reply = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	o->status = st;
}

/* Connect, read the greeting and say hello: a session ready for mail, or
 * NULL when the server could not be reached or refused us. */
static SmtpClient *client_open(Mta *mta, const char *addr, guint16 port, SmtpClientMode mode,
                               const char *step, GError **error)
{
	g_autoptr(MsConn) conn = ms_stack_connect(mta->stack, addr, port, MTA_CONNECT_TIMEOUT, error);
	if (!conn)
		return NULL;
	ms_conn_set_step(conn, step);
	SmtpClient *c = smtp_client_new(conn, mode, mta->hostname);
	if (!smtp_client_greeting(c, error) || !smtp_client_hello(c, error)) {
		smtp_client_quit(c);
		smtp_client_free(c);
		return NULL;
	}
	return c;
}

/* One transaction for the outcomes given.  FALSE when the session broke
 * before any recipient was decided (the caller tries the next host); then
 * *unanswered_r says whether MAIL itself went unanswered, as when a server
 * closed a connection kept open between messages. */
static gboolean client_send(SmtpClient *c, const char *addr, const MtaQueueEntry *e, GBytes *msg,
                            GPtrArray *outcomes, gboolean *unanswered_r, GError **error)
{
	g_autoptr(GPtrArray) rcpts = g_ptr_array_new();
	for (guint i = 0; i < outcomes->len; i++)
		g_ptr_array_add(rcpts, ((Outcome *)g_ptr_array_index(outcomes, i))->rcpt->address);
	g_ptr_array_add(rcpts, NULL);
	g_autoptr(SmtpSendResult) res = NULL;
	gboolean sent = smtp_client_send(c, e->from, (const char *const *)rcpts->pdata, msg, &res, error);
	*unanswered_r = (!res || !res->mail_reply) && smtp_client_state(c) != SMTP_CLIENT_STATE_READY;
	if (!res)
		return FALSE;
	for (guint i = 0; i < outcomes->len && i < res->recipients->len; i++) {
		Outcome *o = g_ptr_array_index(outcomes, i);
		SmtpRecipientResult *r = g_ptr_array_index(res->recipients, i);
		if (r->status == SMTP_RECIPIENT_UNKNOWN)
			outcome_set(o, r->status, "connection to %s lost: %s", addr,
			            error && *error ? (*error)->message : "no answer");
		else
			outcome_set(o, r->status, "%s said: %u %s%s%s", addr, r->code,
			            r->enhanced ? r->enhanced : "", r->enhanced ? " " : "", r->text ? r->text : "");
	}
	(void)sent;
	g_clear_error(error);
	return TRUE;
}

/* Hand the message to one server (SMTP or LMTP) for the outcomes given,
 * over a connection of its own.  FALSE when the server could not be
 * reached or the session broke before any recipient was decided: the
 * caller tries the next host. */
static gboolean deliver_to(Mta *mta, const char *addr, guint16 port, SmtpClientMode mode,
                           const char *step, const MtaQueueEntry *e, GBytes *msg,
                           GPtrArray *outcomes, GError **error)
{
	g_autoptr(SmtpClient) c = client_open(mta, addr, port, mode, step, error);
	if (!c)
		return FALSE;
	gboolean unanswered;
	gboolean done = client_send(c, addr, e, msg, outcomes, &unanswered, error);
	smtp_client_quit(c);
	return done;
}

/* ---- delivery agents ---------------------------------------------------
 * The queue manager finds what is due and hands it to delivery agents, as
 * Postfix's qmgr hands mail to its smtp and lmtp processes: up to
 * MTA_DELIVERY_AGENTS tasks, made when there is work for them, each
 * delivering one message at a time.  An agent keeps its LMTP session to
 * the MDA open between messages (one transaction after another, RFC 2033
 * 4.1), like Postfix's connection cache: for the next message it needs
 * no new connection, LHLO or MDA session; it says QUIT once the session
 * has been idle MTA_LMTP_IDLE_TIME.  A session the MDA closed meanwhile
 * is found when MAIL goes unanswered and is opened again, once. */

#define MTA_DELIVERY_AGENTS 6     /* deliveries at once (Postfix: lmtp_destination_concurrency_limit) */
#define MTA_AGENT_MAX_IDLE (100 * MS_SECOND)   /* an idle agent ends (Postfix: max_idle) */
#define MTA_LMTP_REUSE_MAX  100   /* transactions over one LMTP session, then a fresh one */
#define MTA_LMTP_IDLE_TIME (2 * MS_SECOND)   /* Postfix: lmtp_connection_cache_time_limit */
/* we hang up long before the MDA's server would */
G_STATIC_ASSERT(MTA_LMTP_IDLE_TIME < SMTP_SERVER_IDLE_TIMEOUT);

/* A message due, waiting for an agent. */
typedef struct {
	char    *id;
	gboolean flush;   /* every recipient not final, due or not (mta_flush) */
} Job;

static void job_free(Job *j)
{
	g_free(j->id);
	g_free(j);
}

static void agent_close_lmtp(Agent *ag)
{
	if (!ag->lmtp)
		return;
	smtp_client_quit(ag->lmtp);
	g_clear_pointer(&ag->lmtp, smtp_client_free);
	ag->lmtp_used = 0;
}

/* Local recipients: LMTP to the MDA (in.6), over the agent's session. */
static void deliver_local(Agent *ag, const MtaQueueEntry *e, GBytes *msg, GPtrArray *outcomes)
{
	Mta *mta = ag->mta;
	note(mta, MS_EV_STEP, mta->mda_name, "lmtp", STEP_HANDOFF,
	     "%s is local: hand the message to the MDA over LMTP", domain_of(((Outcome *)g_ptr_array_index(outcomes, 0))->rcpt->address));
	g_autoptr(GError) err = NULL;
	gboolean done = FALSE;
	for (guint attempt = 0; !done && attempt < 2; attempt++) {
		gboolean reused = ag->lmtp != NULL;
		if (!ag->lmtp)
			ag->lmtp = client_open(mta, mta->mda_address, mta->lmtp_port, SMTP_CLIENT_MODE_LMTP,
			                       STEP_HANDOFF, &err);
		if (!ag->lmtp)
			break;
		gboolean unanswered = FALSE;
		done = client_send(ag->lmtp, mta->mda_address, e, msg, outcomes, &unanswered, &err);
		ag->lmtp_used++;
		if (smtp_client_state(ag->lmtp) != SMTP_CLIENT_STATE_READY)
			agent_close_lmtp(ag);
		if (done || !reused || !unanswered)
			break;
		/* the MDA closed the session while it waited: once more, on a new one */
		g_clear_error(&err);
	}
	/* kept for the next message, up to MTA_LMTP_IDLE_TIME (agent_idle_lmtp) */
	if (ag->lmtp && ag->lmtp_used >= MTA_LMTP_REUSE_MAX)
		agent_close_lmtp(ag);
	ag->lmtp_idle_since = ms_sched_now(mta->sched);
	if (!done) {
		for (guint i = 0; i < outcomes->len; i++)
			outcome_set(g_ptr_array_index(outcomes, i), SMTP_RECIPIENT_TEMPFAIL,
			            "delivery to the MDA failed: %s", err ? err->message : "no answer");
	}
}

/* Remote recipients of one domain: MX lookup (out.4), then SMTP (out.5)
 * to each exchanger in turn until one answers. */
static void deliver_remote(Mta *mta, MsResolver *res, const char *domain, const MtaQueueEntry *e,
                           GBytes *msg, GPtrArray *outcomes)
{
	note(mta, MS_EV_STEP, "dns", "dns", STEP_ROUTE,
	     "%s is not a local domain: ask DNS for its MX records", domain);
	g_autoptr(GPtrArray) mx = NULL;
	g_autoptr(GError) err = NULL;
	MsDnsStatus st = ms_resolver_mx(res, domain, STEP_ROUTE, &mx, &err);
	SmtpRecipientStatus fail = SMTP_RECIPIENT_TEMPFAIL;
	g_autofree char *why = NULL;
	switch (st) {
	case MS_DNS_OK:
		break;
	case MS_DNS_NULLMX:   /* RFC 7505 3: never deliver, bounce at once */
		fail = SMTP_RECIPIENT_PERMFAIL;
		why = g_strdup_printf("5.1.10 %s does not accept mail (null MX)", domain);
		break;
	case MS_DNS_NXDOMAIN:
	case MS_DNS_NODATA:
		fail = SMTP_RECIPIENT_PERMFAIL;
		why = g_strdup_printf("5.4.4 Host or domain name not found: %s", domain);
		break;
	default:
		why = g_strdup_printf("4.4.3 Host or domain name lookup failed for %s: %s", domain,
		                      err ? err->message : ms_dns_status_to_string(st));
		break;
	}
	if (st == MS_DNS_OK) {
		/* RFC 5321 5.1: a backup MX that finds itself in the list drops its
		 * own entry and every worse one, or mail would loop. */
		for (guint i = 0; i < mx->len; i++) {
			MsMxHost *h = g_ptr_array_index(mx, i);
			g_autofree char *self = g_strconcat(mta->hostname, ".", NULL);
			if (g_ascii_strcasecmp(h->host, self) == 0 || g_ascii_strcasecmp(h->host, mta->hostname) == 0) {
				g_ptr_array_set_size(mx, i);
				break;
			}
		}
		if (mx->len == 0) {
			st = MS_DNS_NODATA;
			fail = SMTP_RECIPIENT_TEMPFAIL;
			why = g_strdup_printf("4.4.6 mail for %s loops back to myself", domain);
		}
	}
	gboolean done = FALSE;
	GString *tried = g_string_new(NULL);
	for (guint i = 0; st == MS_DNS_OK && !done && i < mx->len; i++) {
		MsMxHost *h = g_ptr_array_index(mx, i);
		/* events name hosts as the network does: without the root's dot */
		g_autofree char *name = g_strdup(h->host);
		if (name[0] && name[strlen(name) - 1] == '.')
			name[strlen(name) - 1] = '\0';
		g_autoptr(GPtrArray) addrs = NULL;
		g_autoptr(GError) aerr = NULL;
		if (ms_resolver_addresses(res, h->host, STEP_ROUTE, &addrs, &aerr) != MS_DNS_OK) {
			g_string_append_printf(tried, "%s%s: no address", tried->len ? "; " : "", name);
			continue;
		}
		for (guint j = 0; !done && j < addrs->len; j++) {
			const char *addr = g_ptr_array_index(addrs, j);
			note(mta, MS_EV_STEP, name, "smtp", STEP_RELAY, "relay to %s (MX %u, %s) on port %u",
			     name, h->preference, addr, MTA_SMTP_PORT);
			g_autoptr(GError) cerr = NULL;
			done = deliver_to(mta, addr, MTA_SMTP_PORT, SMTP_CLIENT_MODE_SMTP, STEP_RELAY, e, msg,
			                  outcomes, &cerr);
			if (!done) {
				g_string_append_printf(tried, "%s%s[%s]: %s", tried->len ? "; " : "", name, addr,
				                       cerr ? cerr->message : "failed");
				note(mta, MS_EV_ERROR, name, "smtp", STEP_RELAY, "%s[%s] failed: %s%s", name, addr,
				     cerr ? cerr->message : "no answer",
				     i + 1 < mx->len || j + 1 < addrs->len ? "; trying the next exchanger" : "");
			}
		}
	}
	if (st == MS_DNS_OK && !done)
		why = g_strdup_printf("4.4.1 connect to every exchanger of %s failed (%s)", domain, tried->str);
	g_string_free(tried, TRUE);
	if (!done)
		for (guint i = 0; i < outcomes->len; i++)
			outcome_set(g_ptr_array_index(outcomes, i), fail, "%s", why);
}

/* ---- bounces (RFC 3464) ------------------------------------------------ */

/* Lock held. */
static void queue_bounce(Mta *mta, const MtaQueueEntry *e, GBytes *original, GPtrArray *failed)
{
	g_autofree char *id = new_id(mta);
	g_autofree char *date = date_now(mta);
	g_autofree char *arrival = rfc5322_format_date(e->arrival_us, 0);
	g_autofree char *boundary = g_strdup_printf("%s.bounce/%s", id, mta->hostname);
	GString *m = g_string_new(NULL);
	g_string_append_printf(m,
		"From: MAILER-DAEMON@%s (Mail Delivery System)\r\n"
		"To: <%s>\r\n"
		"Subject: Undelivered Mail Returned to Sender\r\n"
		"Date: %s\r\n"
		"Message-ID: <%s@%s>\r\n"
		"Auto-Submitted: auto-replied\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n"
		"\r\n"
		"--%s\r\n"
		"Content-Description: Notification\r\n"
		"Content-Type: text/plain; charset=us-ascii\r\n"
		"\r\n"
		"This is the mail system at host %s.\r\n"
		"\r\n"
		"Your message could not be delivered to one or more recipients.\r\n"
		"The reasons are below.\r\n"
		"\r\n",
		mta->hostname, e->from, date, id, mta->hostname, boundary, boundary, mta->hostname);
	for (guint i = 0; i < failed->len; i++) {
		MtaQueueRcpt *r = g_ptr_array_index(failed, i);
		g_string_append_printf(m, "<%s>: %s\r\n", r->address, r->last_reply);
	}
	/* RFC 3464 2.2, 2.3: the machine-readable report */
	g_string_append_printf(m, "\r\n--%s\r\nContent-Description: Delivery report\r\n"
	                       "Content-Type: message/delivery-status\r\n\r\n"
	                       "Reporting-MTA: dns; %s\r\nX-Mailsim-Queue-ID: %s\r\nArrival-Date: %s\r\n",
	                       boundary, mta->hostname, e->id, arrival);
	for (guint i = 0; i < failed->len; i++) {
		MtaQueueRcpt *r = g_ptr_array_index(failed, i);
		const char *status = "5.0.0";
		const char *p = r->last_reply;
		for (; p && *p; p++)   /* the first d.d.d in the reply */
			if (g_ascii_isdigit(p[0]) && p[1] == '.' && g_ascii_isdigit(p[2]) && (p == r->last_reply || p[-1] == ' ')) {
				status = p;
				break;
			}
		g_autofree char *st = g_strndup(status, strcspn(status, " "));
		g_string_append_printf(m, "\r\nFinal-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: %s\r\n"
		                       "Diagnostic-Code: smtp; %s\r\n", r->address, st, r->last_reply);
	}
	g_string_append_printf(m, "\r\n--%s\r\nContent-Description: Undelivered Message Headers\r\n"
	                       "Content-Type: text/rfc822-headers\r\n\r\n", boundary);
	gsize olen;
	const char *odata = g_bytes_get_data(original, &olen);
	const char *end = g_strstr_len(odata, olen, "\r\n\r\n");
	g_string_append_len(m, odata, end ? (gssize)(end - odata) + 2 : (gssize)olen);
	g_string_append_printf(m, "\r\n--%s--\r\n", boundary);

	const char *rcpts[] = { e->from, NULL };
	g_autoptr(GBytes) bytes = g_string_free_to_bytes(m);
	MtaQueueIncoming in = { .id = id, .from = "", .rcpts = rcpts, .message = bytes,
	                        .arrival_us = queue_now(mta), .is_bounce = TRUE,
	                        .client_address = "127.0.0.1", .client_helo = mta->hostname };
	g_autoptr(GError) err = NULL;
	if (mta_queue_add(mta->queue, &in, &err)) {
		note(mta, MS_EV_STORE, NULL, "smtp", NULL, "bounce %s queued for <%s> (%u failed recipient(s))",
		     id, e->from, failed->len);
		enqueue_locked(mta, id, FALSE);   /* the agent that made it delivers it next */
	} else {
		note(mta, MS_EV_ERROR, NULL, "smtp", NULL, "could not queue a bounce for <%s>: %s",
		     e->from, err->message);
	}
}

/* One attempt at every due recipient of an entry (every one not final
 * when flush).  The agent owns the entry meanwhile: nobody else delivers
 * it, and only the records below, under the lock, change what others
 * read.  TRUE when the entry stays in the queue. */
static gboolean deliver_entry(Agent *ag, MtaQueueEntry *e, gboolean flush)
{
	Mta *mta = ag->mta;
	gint64 now = queue_now(mta);
	g_autoptr(GError) err = NULL;
	g_mutex_lock(&mta->qlock);
	g_autoptr(GBytes) msg = mta_queue_read_message(mta->queue, e, &err);
	g_mutex_unlock(&mta->qlock);
	if (!msg) {
		note(mta, MS_EV_ERROR, NULL, "smtp", NULL, "cannot read queued message %s: %s", e->id, err->message);
		return TRUE;
	}

	/* Group the due recipients by domain, in order of first appearance. */
	g_autoptr(GPtrArray) domains = g_ptr_array_new_with_free_func(g_free);
	GHashTable *groups = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref);
	GPtrArray *all = g_ptr_array_new();
	for (guint i = 0; i < e->rcpts->len; i++) {
		MtaQueueRcpt *r = g_ptr_array_index(e->rcpts, i);
		if (mta_queue_rcpt_state_is_final(r->state) || (r->next_attempt_us > now && !flush))
			continue;
		char *dom = g_ascii_strdown(domain_of(r->address), -1);
		GPtrArray *g = g_hash_table_lookup(groups, dom);
		if (!g) {
			g = g_ptr_array_new();
			g_ptr_array_add(domains, dom);
			g_hash_table_insert(groups, dom, g);
		} else {
			g_free(dom);
		}
		Outcome *o = g_new0(Outcome, 1);
		o->rcpt = r;
		o->status = SMTP_RECIPIENT_UNKNOWN;
		g_ptr_array_add(g, o);
		g_ptr_array_add(all, o);
	}

	MsResolver *res = NULL;
	for (guint i = 0; i < domains->len; i++) {
		const char *dom = g_ptr_array_index(domains, i);
		GPtrArray *g = g_hash_table_lookup(groups, dom);
		if (domain_is_local(mta, dom)) {
			deliver_local(ag, e, msg, g);
		} else {
			if (!res)
				res = resolver_new(mta);
			deliver_remote(mta, res, dom, e, msg, g);
		}
	}
	ms_resolver_free(res);

	/* Record what happened; failures are bounced before they are marked
	 * (a crash in between repeats a bounce rather than losing one). */
	now = queue_now(mta);
	g_mutex_lock(&mta->qlock);
	g_autoptr(GPtrArray) failed = g_ptr_array_new();
	gboolean expired = mta_queue_entry_expired(e, now, mta->lifetime);
	for (guint i = 0; i < all->len; i++) {
		Outcome *o = g_ptr_array_index(all, i);
		MtaQueueRcpt *r = o->rcpt;
		r->attempts++;
		mta_queue_rcpt_set_reply(r, o->reply ? o->reply : "");
		if (o->status == SMTP_RECIPIENT_DELIVERED) {
			r->state = MTA_QUEUE_RCPT_DELIVERED;
			note(mta, MS_EV_NOTE, NULL, "smtp", NULL, "%s: <%s> delivered (%s)", e->id, r->address, r->last_reply);
		} else if (o->status == SMTP_RECIPIENT_PERMFAIL || expired) {
			if (expired && o->status != SMTP_RECIPIENT_PERMFAIL)
				mta_queue_rcpt_set_reply(r, "4.4.7 message expired: too long in the queue");
			g_ptr_array_add(failed, r);
		} else {
			r->state = MTA_QUEUE_RCPT_DEFERRED;
			r->next_attempt_us = now + mta_queue_backoff(r->attempts, mta->retry_min, mta->retry_max);
			note(mta, MS_EV_NOTE, NULL, "smtp", NULL, "%s: <%s> deferred, next try in %" G_GINT64_FORMAT " s (%s)",
			     e->id, r->address, (r->next_attempt_us - now) / MS_SECOND, r->last_reply);
		}
	}
	if (failed->len && !e->is_bounce && e->from[0])
		queue_bounce(mta, e, msg, failed);
	for (guint i = 0; i < failed->len; i++) {
		MtaQueueRcpt *r = g_ptr_array_index(failed, i);
		r->state = MTA_QUEUE_RCPT_FAILED;
		note(mta, MS_EV_ERROR, NULL, "smtp", NULL, "%s: <%s> failed: %s%s", e->id, r->address, r->last_reply,
		     e->is_bounce || !e->from[0] ? " (a bounce is never bounced)" : "; the sender gets a bounce");
	}
	g_autofree char *eid = g_strdup(e->id);
	gboolean removed = mta_queue_entry_is_done(e);
	if (removed) {
		/* the directory is synced below, outside the lock: should we crash
		 * first, the message is delivered twice, never lost */
		if (!mta_queue_remove_unsynced(mta->queue, e, &err)) {
			note(mta, MS_EV_ERROR, NULL, "smtp", NULL, "removing %s from the queue: %s", eid, err->message);
			g_clear_error(&err);
		}
	} else if (!mta_queue_update(mta->queue, e, &err)) {
		note(mta, MS_EV_ERROR, NULL, "smtp", NULL, "updating %s in the queue: %s", eid, err->message);
	}
	g_mutex_unlock(&mta->qlock);
	if (removed && mta->fsync) {
		Arriving removal = { NULL, NULL };
		if (group_commit_join(mta->queue_syncs, &removal) && removal.error)
			note(mta, MS_EV_ERROR, NULL, "smtp", NULL, "removing %s from the queue: %s", eid,
			     removal.error->message);
		g_clear_error(&removal.error);
	}

	for (guint i = 0; i < all->len; i++) {
		Outcome *o = g_ptr_array_index(all, i);
		g_free(o->reply);
		g_free(o);
	}
	g_ptr_array_free(all, TRUE);
	g_hash_table_destroy(groups);
	return !removed;
}

/* Deliver one job (the lock not held). */
static void agent_run(Agent *ag, Job *job)
{
	Mta *mta = ag->mta;
	g_mutex_lock(&mta->qlock);
	MtaQueueEntry *e = mta_queue_lookup(mta->queue, job->id);
	g_mutex_unlock(&mta->qlock);
	gboolean stays = e && deliver_entry(ag, e, job->flush);
	g_mutex_lock(&mta->qlock);
	g_hash_table_remove(mta->busy, job->id);
	g_mutex_unlock(&mta->qlock);
	job_free(job);
	if (stays && ag != &mta->qagent && mta->qmgr)
		ms_task_unpark(mta->qmgr);   /* its next retry is the queue manager's */
}

/* A helper agent's life: take the next message waiting, deliver it,
 * again; park when none waits (after saying QUIT to the MDA). */
static void agent_task(gpointer data)
{
	Agent *ag = data;
	Mta *mta = ag->mta;
	for (;;) {
		g_mutex_lock(&mta->qlock);
		Job *job = mta->stopping ? NULL : g_queue_pop_head(mta->ready);
		if (!job && !mta->stopping)
			g_ptr_array_add(mta->idle, ag);
		g_mutex_unlock(&mta->qlock);
		if (job) {
			agent_run(ag, job);
			continue;
		}
		if (mta->stopping)
			break;
		if (ag->lmtp) {
			/* idle, session open: the next message may come in a moment */
			MsParkResult r = ms_task_park(ag->lmtp_idle_since + MTA_LMTP_IDLE_TIME);
			if (r == MS_PARK_CANCELLED)
				break;
			if (r == MS_PARK_UNPARKED)
				continue;   /* dispatch took it out of the idle ones */
			agent_close_lmtp(ag);
			/* still among the idle ones, or just taken: then the park
			 * below returns at once on dispatch's permit */
		}
		/* Like Postfix's max_idle: a quiet server keeps no idle threads
		 * (a world of a thousand servers would run out of them). */
		MsParkResult r = ms_task_park(ms_sched_now(mta->sched) + MTA_AGENT_MAX_IDLE);
		if (r == MS_PARK_CANCELLED)
			break;
		if (r == MS_PARK_TIMEOUT) {
			g_mutex_lock(&mta->qlock);
			gboolean still_idle = g_ptr_array_remove(mta->idle, ag);
			g_mutex_unlock(&mta->qlock);
			if (still_idle)
				break;
			/* dispatch took it just now: its unpark is a permit; go on */
		}
	}
	agent_close_lmtp(ag);
	g_mutex_lock(&mta->qlock);
	g_ptr_array_remove(mta->idle, ag);
	g_ptr_array_remove(mta->agents, ag);
	g_mutex_unlock(&mta->qlock);
	g_free(ag);
	g_atomic_int_dec_and_test(&mta->tasks);
}

/* Wake who can deliver the messages waiting: the queue manager first (it
 * delivers too, so one message at a time needs no other task), then idle
 * helpers, then new helpers up to MTA_DELIVERY_AGENTS in all.  Lock held. */
static void dispatch_locked(Mta *mta)
{
	guint waiting = g_queue_get_length(mta->ready);
	if (waiting > 0 && mta->qmgr_idle) {
		mta->qmgr_idle = FALSE;
		ms_task_unpark(mta->qmgr);
		waiting--;
	}
	while (waiting > 0 && mta->idle->len > 0) {
		Agent *ag = g_ptr_array_steal_index(mta->idle, mta->idle->len - 1);
		ms_task_unpark(ag->task);
		waiting--;
	}
	while (waiting > 0 && mta->agents->len + 1 < MTA_DELIVERY_AGENTS && !mta->stopping) {
		Agent *ag = g_new0(Agent, 1);
		ag->mta = mta;
		g_autofree char *name = g_strdup_printf("delivery#%u@%s", mta->agents->len + 1, mta->hostname);
		g_ptr_array_add(mta->agents, ag);
		g_atomic_int_inc(&mta->tasks);
		ag->task = ms_task_spawn(mta->sched, name, agent_task, ag);
		waiting--;
	}
}

/* Hand a message to the agents unless one has it already.  Lock held. */
static void enqueue_locked(Mta *mta, const char *id, gboolean flush)
{
	if (g_hash_table_contains(mta->busy, id))
		return;
	Job *job = g_new0(Job, 1);
	job->id = g_strdup(id);
	job->flush = flush;
	g_hash_table_add(mta->busy, g_strdup(id));
	g_queue_push_tail(mta->ready, job);
}

/* A message just queued is due at once: straight to the agents.  Lock
 * held. */
static void dispatch_new(Mta *mta, const char *id)
{
	enqueue_locked(mta, id, FALSE);
	dispatch_locked(mta);
}

/* The queue manager: hand out what is due (new mail, retries, messages
 * recovered at start, everything on mta_flush) and deliver it with the
 * helpers; sleep until the next retry or until someone wakes it. */
static void qmgr_task(gpointer data)
{
	Mta *mta = data;
	Agent *ag = &mta->qagent;
	while (!mta->stopping) {
		gint64 now = queue_now(mta);
		gint64 next = G_MAXINT64;
		g_mutex_lock(&mta->qlock);
		mta->qmgr_idle = FALSE;
		gboolean flush = mta->flush;
		mta->flush = FALSE;
		g_autoptr(GPtrArray) due = mta_queue_due_skip(mta->queue, flush ? G_MAXINT64 : now, mta->busy, &next);
		for (guint i = 0; i < due->len; i++)
			enqueue_locked(mta, ((MtaQueueEntry *)g_ptr_array_index(due, i))->id, flush);
		Job *job = g_queue_pop_head(mta->ready);
		dispatch_locked(mta);   /* the rest, to the helpers */
		mta->qmgr_idle = job == NULL;
		g_mutex_unlock(&mta->qlock);
		if (job) {
			agent_run(ag, job);
			continue;
		}
		/* back from the queue's clock to the scheduler's */
		gint64 wake = next == G_MAXINT64 ? MS_FOREVER : MAX(next - mta->epoch, 0);
		if (ag->lmtp) {
			/* the LMTP session stays open a moment, as the helpers' do */
			gint64 close_at = ag->lmtp_idle_since + MTA_LMTP_IDLE_TIME;
			if (ms_sched_now(mta->sched) >= close_at)
				agent_close_lmtp(ag);
			else
				wake = MIN(wake, close_at);
		}
		if (ms_task_park(wake) == MS_PARK_CANCELLED)
			break;
	}
	g_mutex_lock(&mta->qlock);
	mta->qmgr_idle = FALSE;
	g_mutex_unlock(&mta->qlock);
	agent_close_lmtp(ag);
	g_atomic_int_dec_and_test(&mta->tasks);
}

/* ---- life -------------------------------------------------------------- */

static GPtrArray *split_words(const char *s)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) w = g_strsplit_set(s ? s : "", ", \t\r\n", -1);
	for (guint i = 0; w[i]; i++)
		if (w[i][0])
			g_ptr_array_add(out, g_ascii_strdown(w[i], -1));
	return out;
}

Mta *mta_new(MsStack *stack, const MtaConfig *cfg, GError **error)
{
	g_return_val_if_fail(cfg->hostname && cfg->state_dir, NULL);
	g_autoptr(GError) err = NULL;
	Policy *policy = policy_new(cfg->smtpd_recipient_restrictions ? cfg->smtpd_recipient_restrictions
	                                                             : DEFAULT_RESTRICTIONS,
	                            cfg->mynetworks, &err);
	if (!policy) {
		g_propagate_prefixed_error(error, g_steal_pointer(&err), "%s: ", cfg->hostname);
		return NULL;
	}
	Policy *subpolicy = policy_new(cfg->submission_recipient_restrictions ? cfg->submission_recipient_restrictions
	                                                                      : SUBMISSION_RESTRICTIONS,
	                               cfg->mynetworks, &err);
	if (!subpolicy) {
		policy_free(policy);
		g_propagate_prefixed_error(error, g_steal_pointer(&err), "%s: submission: ", cfg->hostname);
		return NULL;
	}
	g_autoptr(GPtrArray) exceptions = split_words(cfg->client_event_limit_exceptions ? cfg->client_event_limit_exceptions
	                                                                              : "$mynetworks");
	gboolean spare_mynetworks = FALSE;
	for (guint i = 0; i < exceptions->len; i++) {
		const char *w = g_ptr_array_index(exceptions, i);
		if (!strcmp(w, "$mynetworks")) {
			spare_mynetworks = TRUE;
			g_ptr_array_remove_index(exceptions, i--);
		} else if (!ms_net_cidr_valid(w)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "%s: smtpd_client_event_limit_exceptions: \"%s\" is not an address, a CIDR range "
			            "like 192.0.2.0/24 or $mynetworks", cfg->hostname, w);
			policy_free(policy);
			policy_free(subpolicy);
			return NULL;
		}
	}
	g_autofree char *qdir = g_build_filename(cfg->state_dir, "queue", NULL);
	g_autoptr(GPtrArray) notes = NULL;
	MtaQueue *q = mta_queue_open(qdir, cfg->fsync, &notes, error);
	if (!q) {
		policy_free(policy);
		policy_free(subpolicy);
		return NULL;
	}

	Mta *mta = g_new0(Mta, 1);
	mta->stack = ms_stack_ref(stack);
	mta->sched = ms_stack_sched(stack);
	mta->hostname = g_strdup(cfg->hostname);
	mta->mda_address = g_strdup(cfg->mda_address ? cfg->mda_address : ms_stack_address(stack));
	mta->mda_name = cfg->mda_name ? g_strdup(cfg->mda_name) : g_strdup_printf("mda@%s", cfg->hostname);
	mta->dns_cache = cfg->dns_cache ? ms_dns_cache_new() : NULL;
	mta->dns = cfg->dns ? ms_dns_directory_ref(cfg->dns)
	                    : ms_dns_directory_new(cfg->dns_server ? cfg->dns_server : "127.0.0.1",
	                                           cfg->dns_port ? cfg->dns_port : 53, cfg->dns_server_name);
	mta->lmtp_port = cfg->lmtp_port ? cfg->lmtp_port : MTA_LMTP_PORT;
	mta->authsvc_port = cfg->authsvc_port ? cfg->authsvc_port : AUTHSVC_PORT;
	mta->authsvc = authsvc_pool_new(stack, mta->mda_address, mta->authsvc_port);
	mta->smtp_port = cfg->smtp_port ? cfg->smtp_port : MTA_SMTP_PORT;
	mta->submission_port = cfg->submission_port;
	mta->smtps_port = cfg->smtps_port;
	mta->tls_cert = cfg->tls_cert ? g_object_ref(cfg->tls_cert) : NULL;
	mta->listen_address = g_strdup(cfg->listen_address);
	mta->local_domains = split_words(cfg->mydestination);
	mta->relay_domains = split_words(cfg->relay_domains);
	mta->policy = policy;
	mta->submission_policy = subpolicy;
	mta->count_limit = cfg->client_connection_count_limit == MTA_NO_LIMIT ? 0
	                   : cfg->client_connection_count_limit ? cfg->client_connection_count_limit
	                   : ANVIL_DEFAULT_COUNT_LIMIT;
	mta->rate_limit = cfg->client_connection_rate_limit == MTA_NO_LIMIT ? 0 : cfg->client_connection_rate_limit;
	mta->anvil = anvil_new(mta->count_limit, mta->rate_limit, ANVIL_RATE_TIME_UNIT);
	mta->limit_exceptions = g_steal_pointer(&exceptions);
	mta->limit_spares_mynetworks = spare_mynetworks;
	mta->queue = q;
	mta_queue_set_recycle(q, TRUE);   /* delivered files are written over by new mail */
	g_mutex_init(&mta->qlock);
	mta->fsync = cfg->fsync;
	mta->queue_syncs = group_commit_new(queue_syncs_commit, mta);
	mta->ready = g_queue_new();
	mta->busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	mta->agents = g_ptr_array_new();
	mta->qagent.mta = mta;
	mta->idle = g_ptr_array_new();
	g_mutex_init(&mta->rng_lock);
	g_autofree char *stream = g_strconcat("mta:", cfg->hostname, NULL);
	mta->rng = ms_rng_new(cfg->seed, stream);
	mta->seed = cfg->seed;
	mta->retry_min = cfg->retry_min ? cfg->retry_min : MTA_RETRY_MIN;
	mta->retry_max = cfg->retry_max ? cfg->retry_max : MTA_RETRY_MAX;
	mta->lifetime = cfg->queue_lifetime ? cfg->queue_lifetime : MTA_QUEUE_LIFETIME;
	mta->epoch = cfg->epoch_us;

	for (int i = 0; i < 2; i++) {
		SmtpServerConfig *sc = i ? &mta->submission : &mta->smtpd;
		sc->hostname = mta->hostname;
		smtp_proto_limits_init(&sc->limits);
		if (cfg->message_size_limit)
			sc->limits.message_size = cfg->message_size_limit;
		sc->offer_auth = TRUE;   /* Postfix offers AUTH on 25 too when enabled */
		sc->tls_cert = cfg->tls_cert;
		sc->auth_needs_tls = cfg->auth_needs_tls;
		sc->idle_timeout = cfg->smtpd_timeout;
		memcpy(sc->steps, i ? submission_steps : inbound_steps, sizeof sc->steps);
	}
	for (guint i = 0; notes && i < notes->len; i++) {
		MtaQueueNote *n = g_ptr_array_index(notes, i);
		note(mta, MS_EV_NOTE, NULL, "smtp", NULL, "queue recovery: %s", n->text);
	}
	if (mta_queue_count(q))
		note(mta, MS_EV_NOTE, NULL, "smtp", NULL, "%u message(s) recovered from the queue", mta_queue_count(q));
	return mta;
}

gboolean mta_start(Mta *mta, GError **error)
{
	mta->l_smtp = listen_on(mta, mta->smtp_port, FALSE, FALSE, error);
	if (!mta->l_smtp)
		return FALSE;
	if (mta->submission_port) {
		mta->l_submission = listen_on(mta, mta->submission_port, TRUE, FALSE, error);
		if (!mta->l_submission)
			return FALSE;
	}
	if (mta->smtps_port && mta->tls_cert) {
		mta->l_smtps = listen_on(mta, mta->smtps_port, TRUE, TRUE, error);
		if (!mta->l_smtps)
			return FALSE;
	}
	g_autofree char *name = g_strdup_printf("qmgr@%s", mta->hostname);
	g_atomic_int_inc(&mta->tasks);
	g_mutex_lock(&mta->qlock);   /* set before the queue manager can say it is idle */
	/* kept until mta_free: mta_flush and mta_stop may come after it ended */
	mta->qmgr = ms_task_ref(ms_task_spawn(mta->sched, name, qmgr_task, mta));
	mta->qagent.task = mta->qmgr;
	g_mutex_unlock(&mta->qlock);
	return TRUE;
}

void mta_stop(Mta *mta)
{
	mta->stopping = TRUE;
	if (mta->l_smtp)
		ms_listener_close(mta->l_smtp);
	if (mta->l_submission)
		ms_listener_close(mta->l_submission);
	if (mta->l_smtps)
		ms_listener_close(mta->l_smtps);
	if (mta->qmgr)
		ms_task_unpark(mta->qmgr);
	authsvc_pool_close(mta->authsvc);
	g_mutex_lock(&mta->qlock);
	for (guint i = 0; i < mta->agents->len; i++)
		ms_task_unpark(((Agent *)g_ptr_array_index(mta->agents, i))->task);
	g_mutex_unlock(&mta->qlock);
}

void mta_free(Mta *mta)
{
	if (!mta)
		return;
	ms_task_unref(mta->qmgr);
	ms_listener_free(mta->l_smtp);
	ms_listener_free(mta->l_submission);
	ms_listener_free(mta->l_smtps);
	g_clear_object(&mta->tls_cert);
	mta_queue_free(mta->queue);
	group_commit_free(mta->queue_syncs);
	g_queue_free_full(mta->ready, (GDestroyNotify)job_free);
	g_hash_table_unref(mta->busy);
	g_ptr_array_unref(mta->agents);   /* each agent frees itself as it ends */
	g_ptr_array_unref(mta->idle);
	policy_free(mta->policy);
	policy_free(mta->submission_policy);
	anvil_free(mta->anvil);
	g_ptr_array_free(mta->limit_exceptions, TRUE);
	ms_rng_free(mta->rng);
	g_mutex_clear(&mta->qlock);
	g_mutex_clear(&mta->rng_lock);
	g_ptr_array_free(mta->local_domains, TRUE);
	g_ptr_array_free(mta->relay_domains, TRUE);
	ms_stack_unref(mta->stack);
	g_free(mta->hostname);
	g_free(mta->mda_name);
	g_free(mta->mda_address);
	ms_dns_directory_unref(mta->dns);
	ms_dns_cache_unref(mta->dns_cache);
	authsvc_pool_free(mta->authsvc);
	g_free(mta->listen_address);
	g_free(mta);
}

guint mta_queue_length(Mta *mta)
{
	g_mutex_lock(&mta->qlock);
	guint n = mta_queue_count(mta->queue);
	g_mutex_unlock(&mta->qlock);
	return n;
}

void mta_flush(Mta *mta)
{
	g_mutex_lock(&mta->qlock);
	mta->flush = TRUE;
	g_mutex_unlock(&mta->qlock);
	if (mta->qmgr)
		ms_task_unpark(mta->qmgr);
}

gboolean mta_running(Mta *mta)
{
	return g_atomic_int_get(&mta->tasks) > 0;
}

guint16 mta_smtp_port(Mta *mta) { return mta->l_smtp ? ms_listener_port(mta->l_smtp) : 0; }
guint16 mta_submission_port(Mta *mta) { return mta->l_submission ? ms_listener_port(mta->l_submission) : 0; }
guint16 mta_smtps_port(Mta *mta) { return mta->l_smtps ? ms_listener_port(mta->l_smtps) : 0; }
