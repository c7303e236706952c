/* tests/agents/mta/test_mta.c - the MTA end to end on the simulated
 * Internet, with the real DNS server, MDAs and SMTP client: submission with
 * AUTH, MX lookup and relay, no open relay, unknown users, the blacklist,
 * dynamic addresses, backup MX and retries, bounces, null MX, and a queue
 * that survives a restart. */
#include "tests/ms_test.h"
#include "agents/dns/dns_server.h"
#include "agents/mda/mda.h"
#include "agents/mta/mta.h"
#include "agents/mta/smtp_client.h"
#include "net/simnet.h"

static const char *const zones[][2] = {
	{ "example.com", "$ORIGIN example.com.\n@ MX 10 mail\nmail A 192.0.2.10\n" },
	{ "example.org", "$ORIGIN example.org.\n@ MX 10 mx1\n@ MX 20 mx2\nmx1 A 198.51.100.20\nmx2 A 198.51.100.21\n" },
	{ "nomail.test", "$ORIGIN nomail.test.\n@ MX 0 .\n@ A 192.0.2.99\n" },
	{ "gone.test", "$ORIGIN gone.test.\n@ MX 10 mx\nmx A 192.0.2.200\n" },
	{ "113.0.203.in-addr.arpa", "$ORIGIN 113.0.203.in-addr.arpa.\n"
	                            "99 PTR dsl-203-0-113-99.pool.isp.example.\n"
	                            "66 PTR spam.example.\n" },
};

typedef struct {
	MsSched        *s;
	MsNet          *net;
	MsSink         *rec;
	char           *dir;
	MsHost         *ns, *mail, *mx1, *mx2, *pc, *spam, *dyn, *gone;
	DnsServer      *dns;
	MsDnsDirectory *dirdns;
	Mta            *mta[3];   /* mail, mx1, mx2 */
	Mda            *mda[2];   /* mail, mx1 */
	MsStack        *mda_stack[2];
	gint64          lifetime;
} W;

/* smtpd_client_connection_count_limit for the MTAs build() makes (0: the default). */
static guint count_limit;

static char *host_dir(W *w, const char *host)
{
	return g_build_filename(w->dir, host, NULL);
}

static Mta *make_mta(W *w, MsHost *h, const char *mydest, const char *relay, const char *restrictions)
{
	g_autofree char *dir = host_dir(w, ms_host_name(h));
	g_autofree char *mda_name = g_strdup_printf("mda@%s", ms_host_name(h));
	MtaConfig mc = {
		.hostname = ms_host_name(h), .state_dir = dir, .submission_port = MTA_SUBMISSION_PORT,
		.mydestination = mydest, .relay_domains = relay, .mynetworks = "127.0.0.0/8",
		.smtpd_recipient_restrictions = restrictions, .dns = w->dirdns,
		.mda_address = ms_host_address(h), .mda_name = mda_name,
		.queue_lifetime = w->lifetime, .epoch_us = MTA_SIM_EPOCH_US, .seed = 1,
		.client_connection_count_limit = count_limit,
	};
	g_autoptr(GError) err = NULL;
	Mta *m = mta_new(ms_host_stack(h), &mc, &err);
	ck_assert_msg(m != NULL, "%s", err ? err->message : "");
	return m;
}

static void build(W *w, gint64 lifetime)
{
	memset(w, 0, sizeof *w);
	w->lifetime = lifetime;
	w->dir = ms_test_tmpdir();
	w->s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	w->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(w->s), w->rec);
	w->net = ms_net_new(w->s);
	ms_net_set_link(w->net, "*", "*", 20 * MS_MSEC, 0);
	w->ns = ms_net_add_host(w->net, "ns.example.net", "203.0.113.53", NULL);
	w->mail = ms_net_add_host(w->net, "mail.example.com", "192.0.2.10", NULL);
	w->mx1 = ms_net_add_host(w->net, "mx1.example.org", "198.51.100.20", NULL);
	w->mx2 = ms_net_add_host(w->net, "mx2.example.org", "198.51.100.21", NULL);
	w->pc = ms_net_add_host(w->net, "home-pc", "192.0.2.77", NULL);
	w->spam = ms_net_add_host(w->net, "spam.example", "203.0.113.66", NULL);
	w->dyn = ms_net_add_host(w->net, "dsl-203-0-113-99", "203.0.113.99", NULL);
	w->gone = ms_net_add_host(w->net, "mx.gone.test", "192.0.2.200", NULL);
	ms_host_set_up(w->gone, FALSE);

	w->dns = dns_server_new(ms_host_stack(w->ns), "ns.example.net");
	for (guint i = 0; i < G_N_ELEMENTS(zones); i++)
		ck_assert(dns_server_add_zone_text(w->dns, zones[i][0], zones[i][1], zones[i][0], 1, NULL));
	Dnsbl *bl = dnsbl_new("rbl.example.net", NULL);
	ck_assert(dnsbl_add(bl, "203.0.113.66", NULL, "seen sending spam", NULL));
	dns_server_add_dnsbl(w->dns, bl);
	w->dirdns = ms_dns_directory_new("203.0.113.53", 53, "ns.example.net");

	MsHost *mda_hosts[2] = { w->mail, w->mx1 };
	const char *users[2][2] = { { "alice@example.com", "wonderland" }, { "bob@example.org", "builder" } };
	for (int i = 0; i < 2; i++) {
		g_autofree char *dir = host_dir(w, ms_host_name(mda_hosts[i]));
		g_autofree char *alias = g_strdup_printf("mda@%s", ms_host_name(mda_hosts[i]));
		w->mda_stack[i] = ms_host_stack_alias(mda_hosts[i], alias);
		MdaConfig dc = { .hostname = ms_host_name(mda_hosts[i]), .state_dir = dir, .seed = 1 };
		g_autoptr(GError) err = NULL;
		w->mda[i] = mda_new(w->mda_stack[i], &dc, &err);
		ck_assert_msg(w->mda[i] != NULL, "%s", err ? err->message : "");
		ck_assert(mda_add_user(w->mda[i], users[i][0], users[i][1], 0, NULL));
	}
	w->mta[0] = make_mta(w, w->mail, "example.com", NULL, NULL);
	w->mta[1] = make_mta(w, w->mx1, "example.org", NULL,
	                     "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, "
	                     "reject_rbl_client rbl.example.net, reject_dynamic_client");
	w->mta[2] = make_mta(w, w->mx2, "", "example.org", NULL);
}

static void start(W *w)
{
	ck_assert(dns_server_start(w->dns, NULL, 53, NULL));
	for (int i = 0; i < 2; i++)
		ck_assert(mda_start(w->mda[i], NULL));
	for (int i = 0; i < 3; i++)
		ck_assert(mta_start(w->mta[i], NULL));
}

static void finish(W *w)
{
	for (int i = 0; i < 3; i++)
		if (w->mta[i])
			mta_stop(w->mta[i]);
	for (int i = 0; i < 2; i++)
		mda_stop(w->mda[i]);
	dns_server_stop(w->dns);
	ms_sched_shutdown(w->s);
	for (int i = 0; i < 3; i++)
		mta_free(w->mta[i]);
	for (int i = 0; i < 2; i++) {
		mda_free(w->mda[i]);
		ms_stack_unref(w->mda_stack[i]);
	}
	dns_server_free(w->dns);
	ms_dns_directory_unref(w->dirdns);
	ms_net_free(w->net);
	ms_sched_free(w->s);
	ms_test_rmtree(w->dir);
	g_free(w->dir);
}

/* Files in a user's Maildir folder ("" for INBOX). */
static GPtrArray *mailbox(W *w, const char *host, const char *domain, const char *user, const char *folder)
{
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	static const char *const subs[] = { "new", "cur" };
	for (int i = 0; i < 2; i++) {
		g_autofree char *d = g_build_filename(w->dir, host, "mail", domain, user, folder, subs[i], NULL);
		GDir *dir = g_dir_open(d, 0, NULL);
		if (!dir)
			continue;
		const char *name;
		while ((name = g_dir_read_name(dir)))
			g_ptr_array_add(files, g_build_filename(d, name, NULL));
		g_dir_close(dir);
	}
	return files;
}

static char *read_first(GPtrArray *files)
{
	char *data = NULL;
	ck_assert_int_ge(files->len, 1);
	ck_assert(g_file_get_contents(g_ptr_array_index(files, 0), &data, NULL, NULL));
	return data;
}

static gboolean saw(W *w, MsEventKind kind, const char *step, const char *needle)
{
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *e = g_ptr_array_index(evs, i);
		if ((kind == (MsEventKind)-1 || e->kind == kind) && (!step || !g_strcmp0(e->step, step)) &&
		    (!needle || (e->text && strstr(e->text, needle))))
			return TRUE;
	}
	return FALSE;
}

/* ---- a client that submits or talks to port 25 ---- */

typedef struct {
	MsHost      *from_host;
	const char  *to_addr;
	guint16      port;
	const char  *user, *password;
	const char  *sender;
	const char  *rcpt;
	const char  *message;
	gint64       at;
	/* result */
	gboolean     sent;
	guint        rcpt_code;
	char         rcpt_text[512];
} Submit;

static void submit_task(gpointer data)
{
	Submit *sb = data;
	if (sb->at)
		ms_sleep(sb->at);
	g_autoptr(MsConn) c = ms_stack_connect(ms_host_stack(sb->from_host), sb->to_addr, sb->port, 30 * MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	g_autoptr(SmtpClient) cl = smtp_client_new(c, SMTP_CLIENT_MODE_SMTP, ms_host_name(sb->from_host));
	ck_assert(smtp_client_greeting(cl, NULL));
	ck_assert(smtp_client_hello(cl, NULL));
	if (sb->user)
		ck_assert(smtp_client_auth(cl, NULL, sb->user, sb->password, NULL));
	const char *rcpts[] = { sb->rcpt, NULL };
	g_autoptr(GBytes) msg = g_bytes_new_static(sb->message, strlen(sb->message));
	g_autoptr(SmtpSendResult) res = NULL;
	sb->sent = smtp_client_send(cl, sb->sender, rcpts, msg, &res, NULL);
	if (res && res->recipients->len) {
		SmtpRecipientResult *r = g_ptr_array_index(res->recipients, 0);
		sb->rcpt_code = r->code;
		g_strlcpy(sb->rcpt_text, r->text ? r->text : "", sizeof sb->rcpt_text);
	}
	smtp_client_quit(cl);
}

static const char *const hello = "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n"
                                 "Subject: Hello Bob\r\n\r\nSee you at 5?\r\n";

static Submit alice_to(W *w, const char *rcpt)
{
	Submit sb = { .from_host = w->pc, .to_addr = "192.0.2.10", .port = 587, .user = "alice@example.com",
	              .password = "wonderland", .sender = "alice@example.com", .rcpt = rcpt, .message = hello };
	return sb;
}

START_TEST(test_submission_relay_and_delivery)
{
	W w;
	build(&w, 0);
	start(&w);
	Submit sb = alice_to(&w, "bob@example.org");
	ms_task_spawn(w.s, "alice", submit_task, &sb);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	ck_assert(sb.sent);
	g_autoptr(GPtrArray) inbox = mailbox(&w, "mx1.example.org", "example.org", "bob", "");
	ck_assert_int_eq(inbox->len, 1);
	g_autofree char *msg = read_first(inbox);
	/* two hops, two Received lines; submission completed the header */
	ck_assert_ptr_nonnull(strstr(msg, "by mx1.example.org (mailsim) with ESMTP"));
	ck_assert_ptr_nonnull(strstr(msg, "by mail.example.com (mailsim) with ESMTPA"));
	ck_assert_ptr_nonnull(strstr(msg, "\r\nMessage-ID: <"));
	ck_assert_ptr_nonnull(strstr(msg, "\r\nDate: "));
	ck_assert_ptr_nonnull(strstr(msg, "Subject: Hello Bob\r\n\r\nSee you at 5?\r\n"));
	static const char *const steps[] = { "out.1", "out.2", "out.4", "out.5", "in.1", "in.2", "in.3", "in.4", "in.6" };
	for (guint i = 0; i < G_N_ELEMENTS(steps); i++)
		ck_assert_msg(saw(&w, (MsEventKind)-1, steps[i], NULL), "step %s never seen", steps[i]);
	ck_assert(saw(&w, MS_EV_DNS_QUERY, "out.4", "MX"));
	ck_assert_int_eq(mta_queue_length(w.mta[0]), 0);
	ck_assert_int_eq(mta_queue_length(w.mta[1]), 0);
	finish(&w);
}
END_TEST

START_TEST(test_no_open_relay)
{
	W w;
	build(&w, 0);
	start(&w);
	/* a stranger asks mx1 to relay elsewhere: refused */
	Submit a = { .from_host = w.pc, .to_addr = "198.51.100.20", .port = 25, .sender = "x@home.example",
	             .rcpt = "someone@example.com", .message = hello };
	/* the percent hack, dressed as a local address */
	Submit b = a;
	b.rcpt = "someone%example.com@example.org";
	/* submission without logging in */
	Submit c = { .from_host = w.pc, .to_addr = "192.0.2.10", .port = 587, .sender = "alice@example.com",
	             .rcpt = "bob@example.org", .message = hello };
	ms_task_spawn(w.s, "a", submit_task, &a);
	ms_task_spawn(w.s, "b", submit_task, &b);
	ms_task_spawn(w.s, "c", submit_task, &c);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	ck_assert(!a.sent && !b.sent && !c.sent);
	ck_assert_uint_eq(a.rcpt_code, 554);
	ck_assert_ptr_nonnull(strstr(a.rcpt_text, "Relay access denied"));
	ck_assert_uint_eq(b.rcpt_code, 554);
	ck_assert_uint_eq(c.rcpt_code, 554);
	ck_assert(saw(&w, MS_EV_REFUSE, "in.2", "Relay access denied"));
	g_autoptr(GPtrArray) inbox = mailbox(&w, "mx1.example.org", "example.org", "bob", "");
	ck_assert_int_eq(inbox->len, 0);
	finish(&w);
}
END_TEST

START_TEST(test_unknown_user_refused_at_rcpt)
{
	W w;
	build(&w, 0);
	start(&w);
	Submit a = { .from_host = w.mail, .to_addr = "198.51.100.20", .port = 25, .sender = "alice@example.com",
	             .rcpt = "nobody@example.org", .message = hello };
	ms_task_spawn(w.s, "a", submit_task, &a);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	ck_assert(!a.sent);
	ck_assert_uint_eq(a.rcpt_code, 550);
	ck_assert_ptr_nonnull(strstr(a.rcpt_text, "User unknown"));
	ck_assert(saw(&w, MS_EV_REFUSE, "in.4", "User unknown"));
	ck_assert(saw(&w, MS_EV_SEND, "in.4", "RCPT nobody@example.org"));   /* the MTA asked the MDA */
	finish(&w);
}
END_TEST

START_TEST(test_blacklisted_and_dynamic_clients_refused)
{
	W w;
	build(&w, 0);
	start(&w);
	Submit a = { .from_host = w.spam, .to_addr = "198.51.100.20", .port = 25, .sender = "offer@spam.example",
	             .rcpt = "bob@example.org", .message = hello };
	Submit b = a;
	b.from_host = w.dyn;
	b.sender = "me@home.example";
	ms_task_spawn(w.s, "spam", submit_task, &a);
	ms_task_spawn(w.s, "dyn", submit_task, &b);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	ck_assert_uint_eq(a.rcpt_code, 554);
	ck_assert_ptr_nonnull(strstr(a.rcpt_text, "blocked using rbl.example.net; seen sending spam"));
	ck_assert_uint_eq(b.rcpt_code, 554);
	ck_assert_ptr_nonnull(strstr(b.rcpt_text, "dynamic"));
	ck_assert(saw(&w, MS_EV_REFUSE, "in.3", "rbl.example.net"));
	ck_assert(saw(&w, MS_EV_DNS_QUERY, "in.3", "66.113.0.203.rbl.example.net"));
	g_autoptr(GPtrArray) inbox = mailbox(&w, "mx1.example.org", "example.org", "bob", "");
	ck_assert_int_eq(inbox->len, 0);
	finish(&w);
}
END_TEST

/* mx1 is down: the mail goes to the backup MX, which keeps it until mx1
 * is back, retrying on the virtual clock. */
typedef struct {
	W     *w;
	gint64 up_at;
} Revive;

static void revive_task(gpointer data)
{
	Revive *r = data;
	ms_sleep(r->up_at);
	ms_host_set_up(r->w->mx1, TRUE);
}

START_TEST(test_backup_mx_then_retry)
{
	W w;
	build(&w, 0);
	ms_host_set_up(w.mx1, FALSE);
	start(&w);
	Submit sb = alice_to(&w, "bob@example.org");
	Revive rv = { &w, 3600 * MS_SECOND };
	ms_task_spawn(w.s, "alice", submit_task, &sb);
	ms_task_spawn(w.s, "revive", revive_task, &rv);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	ck_assert(sb.sent);
	g_autoptr(GPtrArray) inbox = mailbox(&w, "mx1.example.org", "example.org", "bob", "");
	ck_assert_int_eq(inbox->len, 1);
	g_autofree char *msg = read_first(inbox);
	ck_assert_ptr_nonnull(strstr(msg, "by mx2.example.org (mailsim)"));   /* it went through the backup */
	ck_assert(saw(&w, MS_EV_NOTE, NULL, "deferred, next try in"));
	ck_assert_int_ge(ms_sched_now(w.s), 3600 * MS_SECOND);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(mta_queue_length(w.mta[i]), 0);
	finish(&w);
}
END_TEST

START_TEST(test_bounce_when_lifetime_ends)
{
	W w;
	build(&w, 2 * 3600 * MS_SECOND);
	start(&w);
	Submit sb = alice_to(&w, "someone@gone.test");
	ms_task_spawn(w.s, "alice", submit_task, &sb);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	ck_assert(sb.sent);
	g_autoptr(GPtrArray) inbox = mailbox(&w, "mail.example.com", "example.com", "alice", "");
	ck_assert_int_eq(inbox->len, 1);
	g_autofree char *bounce = read_first(inbox);
	ck_assert_ptr_nonnull(strstr(bounce, "From: MAILER-DAEMON@mail.example.com"));
	ck_assert_ptr_nonnull(strstr(bounce, "report-type=delivery-status"));
	ck_assert_ptr_nonnull(strstr(bounce, "Final-Recipient: rfc822; someone@gone.test"));
	ck_assert_ptr_nonnull(strstr(bounce, "Action: failed"));
	ck_assert_ptr_nonnull(strstr(bounce, "Subject: Hello Bob"));   /* the original's header is returned */
	ck_assert_int_ge(ms_sched_now(w.s), 2 * 3600 * MS_SECOND);
	ck_assert_int_eq(mta_queue_length(w.mta[0]), 0);
	finish(&w);
}
END_TEST

START_TEST(test_null_mx_bounces_at_once)
{
	W w;
	build(&w, 0);
	start(&w);
	Submit sb = alice_to(&w, "someone@nomail.test");
	ms_task_spawn(w.s, "alice", submit_task, &sb);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	g_autoptr(GPtrArray) inbox = mailbox(&w, "mail.example.com", "example.com", "alice", "");
	ck_assert_int_eq(inbox->len, 1);
	g_autofree char *bounce = read_first(inbox);
	ck_assert_ptr_nonnull(strstr(bounce, "null MX"));
	ck_assert_int_lt(ms_sched_now(w.s), 60 * MS_SECOND);   /* no retries */
	finish(&w);
}
END_TEST

/* The queue is on disk: an MTA made anew from the same directory (as after
 * a crash) finds the message and delivers it. */
START_TEST(test_queue_survives_restart)
{
	W w;
	build(&w, 0);
	ms_host_set_up(w.mx1, FALSE);
	ms_host_set_up(w.mx2, FALSE);
	start(&w);
	Submit sb = alice_to(&w, "bob@example.org");
	ms_task_spawn(w.s, "alice", submit_task, &sb);
	ck_assert(!ms_sched_run(w.s, 60 * MS_SECOND));
	ck_assert(sb.sent);
	ck_assert_int_eq(mta_queue_length(w.mta[0]), 1);
	/* "crash": the agent goes away without delivering */
	mta_stop(w.mta[0]);
	for (gint64 t = 61; mta_running(w.mta[0]) && t < 600; t++)
		ms_sched_run(w.s, t * MS_SECOND);
	ck_assert(!mta_running(w.mta[0]));
	mta_free(w.mta[0]);
	w.mta[0] = make_mta(&w, w.mail, "example.com", NULL, NULL);
	ck_assert_int_eq(mta_queue_length(w.mta[0]), 1);
	ms_host_set_up(w.mx1, TRUE);
	ms_host_set_up(w.mx2, TRUE);
	ck_assert(mta_start(w.mta[0], NULL));
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	g_autoptr(GPtrArray) inbox = mailbox(&w, "mx1.example.org", "example.org", "bob", "");
	ck_assert_int_eq(inbox->len, 1);
	ck_assert(saw(&w, MS_EV_NOTE, NULL, "recovered from the queue"));
	finish(&w);
}
END_TEST

/* ---- connection limits ---- */

typedef struct {
	MsHost  *from;
	gint64   at, hold;     /* connect at, stay connected for */
	char     greeting[256];
} Holder;

static void holder_task(gpointer data)
{
	Holder *h = data;
	ms_sleep(h->at);
	g_autoptr(MsConn) c = ms_stack_connect(ms_host_stack(h->from), "198.51.100.20", 25, 30 * MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	MsEol eol;
	if (ms_conn_read_line(c, h->greeting, sizeof h->greeting - 1, &eol, NULL) < 0)
		h->greeting[0] = '\0';
	ms_sleep(h->hold);
	ms_conn_printf(c, NULL, "QUIT\r\n");
	char line[256];
	while (ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL) > 0)
		;
}

START_TEST(test_connection_count_limit)
{
	W w;
	count_limit = 2;
	build(&w, 0);
	count_limit = 0;
	start(&w);
	Holder h[] = {
		{ .from = w.spam, .at = 1 * MS_SECOND, .hold = 10 * MS_SECOND },
		{ .from = w.spam, .at = 1 * MS_SECOND, .hold = 10 * MS_SECOND },
		{ .from = w.spam, .at = 2 * MS_SECOND },    /* the third at once: refused */
		{ .from = w.dyn, .at = 3 * MS_SECOND },     /* another client: served */
		{ .from = w.spam, .at = 20 * MS_SECOND },   /* once the two left: served again */
	};
	for (guint i = 0; i < G_N_ELEMENTS(h); i++)
		ms_task_spawn(w.s, "holder", holder_task, &h[i]);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	ck_assert_str_eq(h[0].greeting, "220 mx1.example.org ESMTP mailsim");
	ck_assert_str_eq(h[1].greeting, "220 mx1.example.org ESMTP mailsim");
	ck_assert_str_eq(h[2].greeting, "421 4.7.0 mx1.example.org Error: too many connections from 203.0.113.66");
	ck_assert_str_eq(h[3].greeting, "220 mx1.example.org ESMTP mailsim");
	ck_assert_str_eq(h[4].greeting, "220 mx1.example.org ESMTP mailsim");
	ck_assert(saw(&w, MS_EV_REFUSE, "in.1", "connection concurrency limit exceeded: 3 from 203.0.113.66 "
	                                        "(smtpd_client_connection_count_limit = 2)"));
	finish(&w);
}
END_TEST

static Suite *mta_suite(void)
{
	Suite *s = suite_create("mta");
	MS_ADD_TEST(s, test_submission_relay_and_delivery, 20);
	MS_ADD_TEST(s, test_no_open_relay, 20);
	MS_ADD_TEST(s, test_unknown_user_refused_at_rcpt, 20);
	MS_ADD_TEST(s, test_blacklisted_and_dynamic_clients_refused, 20);
	MS_ADD_TEST(s, test_backup_mx_then_retry, 30);
	MS_ADD_TEST(s, test_bounce_when_lifetime_ends, 30);
	MS_ADD_TEST(s, test_null_mx_bounces_at_once, 20);
	MS_ADD_TEST(s, test_queue_survives_restart, 30);
	MS_ADD_TEST(s, test_connection_count_limit, 20);
	return s;
}

MS_TEST_MAIN(mta_suite)
