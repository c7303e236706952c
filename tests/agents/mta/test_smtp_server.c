/* tests/agents/mta/test_smtp_server.c - the SMTP server session, driven by a
 * scripted client over the simulated network: the command table, states,
 * AUTH, pipelining in one segment, DATA transparency and smuggling,
 * limits, and error counting. */
#include "tests/ms_test.h"
#include "agents/mta/smtp_server.h"
#include "agents/common/sasl.h"
#include "net/simnet.h"

/* One step: bytes the client sends (NULL: just read), and the start of the
 * reply it must get (the last line of a multi-line reply, code included). */
typedef struct {
	const char *send;
	const char *expect;
} Step;

typedef struct {
	MsListener       *l;
	MsStack          *client;
	const Step       *steps;
	guint             n_steps;
	GPtrArray        *got;        /* the final reply line per step */
	GPtrArray        *messages;   /* what the data hook received */
	GString          *ehlo;       /* every line of the EHLO reply */
	SmtpServerConfig  cfg;
	int               server_writes_after_burst;
	int               refusals;
} Run;

/* ---- hooks ---- */

static gboolean hook_auth(gpointer ud, SmtpSession *s, const char *user, const char *pass)
{
	return strcmp(user, "alice@example.com") == 0 && strcmp(pass, "wonderland") == 0;
}

static gboolean hook_rcpt(gpointer ud, SmtpSession *s, const SmtpCommand *cmd, SmtpVerdict *v)
{
	if (g_str_has_prefix(cmd->path->address, "nobody@")) {
		smtp_verdict_set(v, 550, "5.1.1", NULL, "<%s>: Recipient address rejected: User unknown",
		                 cmd->path->address);
		return FALSE;
	}
	return TRUE;
}

static gboolean hook_data(gpointer ud, SmtpSession *s, GString *message, SmtpVerdict *v)
{
	Run *r = ud;
	g_ptr_array_add(r->messages, g_strndup(message->str, message->len));
	smtp_verdict_set(v, 250, "2.0.0", "in.6", "Ok: queued as Q%u", r->messages->len);
	return TRUE;
}

static const SmtpServerHooks hooks = { .auth = hook_auth, .rcpt = hook_rcpt, .data = hook_data };

/* ---- the two tasks ---- */

static void server_task(gpointer data)
{
	Run *r = data;
	MsConn *c = ms_listener_accept(r->l, NULL);
	if (!c)
		return;
	smtp_server_run(c, &r->cfg, &hooks, r);
	ms_conn_unref(c);
}

static char *read_reply(MsConn *c, GString *all)
{
	char line[1024];
	for (;;) {
		MsEol eol;
		gssize n = ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
		if (n <= 0)
			return g_strdup("(closed)");
		if (all)
			g_string_append_printf(all, "%s\n", line);
		if (n < 4 || line[3] != '-')
			return g_strdup(line);
	}
}

static void client_task(gpointer data)
{
	Run *r = data;
	MsConn *c = ms_stack_connect(r->client, "198.51.100.20", 25, MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	g_ptr_array_add(r->got, read_reply(c, NULL));   /* the greeting */
	for (guint i = 0; i < r->n_steps; i++) {
		if (r->steps[i].send)
			ms_conn_write(c, r->steps[i].send, strlen(r->steps[i].send), NULL);
		gboolean is_ehlo = r->steps[i].send && g_str_has_prefix(r->steps[i].send, "EHLO");
		g_ptr_array_add(r->got, read_reply(c, is_ehlo ? r->ehlo : NULL));
	}
	ms_conn_unref(c);
}

static void run_script(Run *r, const Step *steps, guint n)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsSink *rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(s), rec);
	MsNet *net = ms_net_new(s);
	MsHost *a = ms_net_add_host(net, "client.example.com", "192.0.2.10", NULL);
	MsHost *b = ms_net_add_host(net, "mx.example.org", "198.51.100.20", NULL);
	r->steps = steps;
	r->n_steps = n;
	r->client = ms_host_stack(a);
	r->got = g_ptr_array_new_with_free_func(g_free);
	r->messages = g_ptr_array_new_with_free_func(g_free);
	r->ehlo = g_string_new("");
	r->cfg.hostname = "mx.example.org";
	smtp_proto_limits_init(&r->cfg.limits);
	/* the MTA's table, in short: one step for the dialogue */
	for (int st = 0; st < SMTP_STAGE_COUNT; st++)
		r->cfg.steps[st] = "in.2";
	r->cfg.steps[SMTP_STAGE_CONNECT] = "in.1";
	r->cfg.steps[SMTP_STAGE_ACCEPT] = "in.6";
	r->l = ms_stack_listen(ms_host_stack(b), NULL, 25, NULL);
	ms_task_spawn(s, "server", server_task, r);
	ms_task_spawn(s, "client", client_task, r);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	ms_listener_free(r->l);
	ms_sched_shutdown(s);
	/* count the server's reply segments to the pipelined burst (one write
	 * answered MAIL, RCPT and DATA: one arrival) */
	GPtrArray *evs = ms_sink_recorder_events(rec);
	r->server_writes_after_burst = 0;
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind == MS_EV_RECV && !g_strcmp0(e->from, "mx.example.org"))
			r->server_writes_after_burst++;
		if (e->kind == MS_EV_REFUSE)
			r->refusals++;
	}
	ms_net_free(net);
	ms_sched_free(s);
}

static void check_script(Run *r)
{
	ck_assert_int_eq(r->got->len, r->n_steps + 1);
	ck_assert_msg(g_str_has_prefix(g_ptr_array_index(r->got, 0), "220 mx.example.org"),
	              "greeting: %s", (char *)g_ptr_array_index(r->got, 0));
	for (guint i = 0; i < r->n_steps; i++) {
		const char *got = g_ptr_array_index(r->got, i + 1);
		ck_assert_msg(g_str_has_prefix(got, r->steps[i].expect), "step %u (%s): expected \"%s\", got \"%s\"",
		              i, r->steps[i].send ? r->steps[i].send : "(read)", r->steps[i].expect, got);
	}
}

static void free_run(Run *r)
{
	g_ptr_array_free(r->got, TRUE);
	g_ptr_array_free(r->messages, TRUE);
	g_string_free(r->ehlo, TRUE);
}

/* ---- the scripts ---- */

static const Step plain_transaction[] = {
	{ "EHLO client.example.com\r\n", "250 8BITMIME" },
	{ "MAIL FROM:<alice@example.com>\r\n", "250 2.1.0" },
	{ "RCPT TO:<bob@example.org>\r\n", "250 2.1.5" },
	{ "DATA\r\n", "354 " },
	{ "Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n", "250 2.0.0 Ok: queued as Q1" },
	{ "QUIT\r\n", "221 2.0.0" },
};

START_TEST(test_transaction_and_transparency)
{
	Run r = { 0 };
	run_script(&r, plain_transaction, G_N_ELEMENTS(plain_transaction));
	check_script(&r);
	ck_assert_int_eq(r.messages->len, 1);
	ck_assert_str_eq(g_ptr_array_index(r.messages, 0), "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n");
	ck_assert_ptr_nonnull(strstr(r.ehlo->str, "250-PIPELINING"));
	ck_assert_ptr_nonnull(strstr(r.ehlo->str, "250-SIZE 10485760"));
	ck_assert_ptr_nonnull(strstr(r.ehlo->str, "250-ENHANCEDSTATUSCODES"));
	ck_assert_ptr_null(strstr(r.ehlo->str, "AUTH"));   /* not offered on this listener */
	free_run(&r);
}
END_TEST

static const Step pipelined[] = {
	{ "EHLO client.example.com\r\n", "250 8BITMIME" },
	{ "MAIL FROM:<alice@example.com>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
	  "250 2.1.0" },
	{ NULL, "550 5.1.1 <nobody@example.org>" },
	{ NULL, "250 2.1.5" },
	{ NULL, "354 " },
	{ "x\r\n.\r\nQUIT\r\n", "250 2.0.0" },
	{ NULL, "221 " },
};

START_TEST(test_pipelining_answers_in_one_segment)
{
	Run r = { 0 };
	run_script(&r, pipelined, G_N_ELEMENTS(pipelined));
	check_script(&r);
	ck_assert_int_eq(r.messages->len, 1);
	/* greeting, EHLO reply, the burst's four replies in one segment, then
	 * "queued" (step in.6) and "Bye" (in.2) apart since their steps differ: 5 */
	ck_assert_int_eq(r.server_writes_after_burst, 5);
	free_run(&r);
}
END_TEST

/* The CVE-2023-51764 family: a bare LF before the dot must neither end the
 * message nor smuggle a second one in. */
static const Step smuggling[] = {
	{ "EHLO evil.example\r\n", "250 " },
	{ "MAIL FROM:<a@example.com>\r\n", "250 " },
	{ "RCPT TO:<bob@example.org>\r\n", "250 " },
	{ "DATA\r\n", "354 " },
	{ "Subject: one\r\n\r\nhello\n.\r\nMAIL FROM:<admin@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
	  "Subject: smuggled\r\n\r\n.\r\n", "550 5.6.0" },
	{ "MAIL FROM:<a@example.com>\r\n", "250 " },
	{ "QUIT\r\n", "221 " },
};

START_TEST(test_smuggling_refused_and_not_split)
{
	Run r = { 0 };
	run_script(&r, smuggling, G_N_ELEMENTS(smuggling));
	check_script(&r);
	ck_assert_int_eq(r.messages->len, 0);
	ck_assert_int_eq(r.refusals, 1);   /* the student sees why */
	free_run(&r);
}
END_TEST

static const Step wrong_order[] = {
	{ "MAIL FROM:<a@example.com>\r\n", "503 5.5.1" },
	{ "HELO client.example.com\r\n", "250 mx.example.org" },
	{ "RCPT TO:<bob@example.org>\r\n", "503 5.5.1" },
	{ "DATA\r\n", "503 5.5.1" },
	{ "FOO bar\r\n", "500 5.5.1" },
	{ "MAIL FROM:<not an address>\r\n", "501 5.1.7" },
	{ "MAIL FROM:<a@example.com> SIZE=999999999\r\n", "552 5.3.4" },
	{ "VRFY bob\r\n", "252 " },
	{ "HELP\r\n", "214 " },
	{ "NOOP\r\n", "250 2.0.0" },
	{ "RSET\r\n", "250 2.0.0" },
	{ "QUIT\r\n", "221 " },
};

START_TEST(test_commands_and_states)
{
	Run r = { 0 };
	run_script(&r, wrong_order, G_N_ELEMENTS(wrong_order));
	check_script(&r);
	free_run(&r);
}
END_TEST

static const Step too_many_errors[] = {
	{ "X1\r\n", "500 " }, { "X2\r\n", "500 " }, { "X3\r\n", "500 " }, { "X4\r\n", "500 " },
	{ "X5\r\n", "500 " }, { "X6\r\n", "500 " }, { "X7\r\n", "500 " }, { "X8\r\n", "500 " },
	{ "X9\r\n", "500 " }, { "X10\r\n", "500 " }, { NULL, "421 4.7.0" }, { "NOOP\r\n", "(closed)" },
};

START_TEST(test_too_many_errors_hang_up)
{
	Run r = { 0 };
	run_script(&r, too_many_errors, G_N_ELEMENTS(too_many_errors));
	check_script(&r);
	free_run(&r);
}
END_TEST

static char long_line[700];

static const Step limits[] = {
	{ "EHLO c\r\n", "250 " },
	{ long_line, "500 5.5.2" },
	{ "MAIL FROM:<a@example.com>\r\n", "250 " },
	{ NULL, NULL },   /* filled: 100 RCPTs then one more */
};

START_TEST(test_line_and_recipient_limits)
{
	memset(long_line, 'A', sizeof long_line - 3);
	strcpy(long_line + sizeof long_line - 3, "\r\n");
	Step steps[4 + 101];
	memcpy(steps, limits, 3 * sizeof(Step));
	static char rcpts[101][64];
	for (int i = 0; i < 101; i++) {
		g_snprintf(rcpts[i], sizeof rcpts[i], "RCPT TO:<u%d@example.org>\r\n", i);
		steps[3 + i].send = rcpts[i];
		steps[3 + i].expect = i < 100 ? "250 " : "452 4.5.3";
	}
	steps[104].send = "QUIT\r\n";
	steps[104].expect = "221 ";
	Run r = { 0 };
	run_script(&r, steps, G_N_ELEMENTS(steps));
	check_script(&r);
	free_run(&r);
}
END_TEST

/* ---- AUTH ---- */

static char plain_ok[128], plain_bad[128];

static const Step auth_steps[] = {
	{ "EHLO c\r\n", "250 8BITMIME" },
	{ plain_bad, "535 5.7.8" },
	{ "AUTH PLAIN\r\n", "334 " },
	{ "*\r\n", "501 5.0.0" },
	{ "AUTH CRAM-MD5\r\n", "504 5.5.4" },
	{ "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6" },
	{ "YWxpY2VAZXhhbXBsZS5jb20=\r\n", "334 UGFzc3dvcmQ6" },
	{ "d29uZGVybGFuZA==\r\n", "235 2.7.0" },
	{ plain_ok, "503 5.5.1" },
	{ "QUIT\r\n", "221 " },
};

START_TEST(test_auth_plain_and_login)
{
	g_autofree char *ok = sasl_plain_encode(NULL, "alice@example.com", "wonderland");
	g_autofree char *bad = sasl_plain_encode(NULL, "alice@example.com", "guess");
	g_snprintf(plain_ok, sizeof plain_ok, "AUTH PLAIN %s\r\n", ok);
	g_snprintf(plain_bad, sizeof plain_bad, "AUTH PLAIN %s\r\n", bad);
	Run r = { 0 };
	r.cfg.offer_auth = TRUE;
	run_script(&r, auth_steps, G_N_ELEMENTS(auth_steps));
	check_script(&r);
	ck_assert_ptr_nonnull(strstr(r.ehlo->str, "250-AUTH PLAIN LOGIN"));
	free_run(&r);
}
END_TEST

static Suite *smtp_server_suite(void)
{
	Suite *s = suite_create("smtp_server");
	MS_ADD_TEST(s, test_transaction_and_transparency, 10);
	MS_ADD_TEST(s, test_pipelining_answers_in_one_segment, 10);
	MS_ADD_TEST(s, test_smuggling_refused_and_not_split, 10);
	MS_ADD_TEST(s, test_commands_and_states, 10);
	MS_ADD_TEST(s, test_too_many_errors_hang_up, 10);
	MS_ADD_TEST(s, test_line_and_recipient_limits, 10);
	MS_ADD_TEST(s, test_auth_plain_and_login, 10);
	return s;
}

MS_TEST_MAIN(smtp_server_suite)
