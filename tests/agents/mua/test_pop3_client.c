/* tests/agents/mua/test_pop3_client.c - the POP3 client session over the
 * simulated network, against a scripted server that answers each command
 * line with the next entry of its script: the whole dialogue, byte-
 * stuffing, refusals, servers without CAPA or UIDL, and broken replies.
 */
#include "tests/ms_test.h"
#include "agents/mua/pop3_client.h"
#include "net/simnet.h"

#define SERVER_ADDR "192.0.2.10"
#define PASSWORD    "builder"

typedef struct Run Run;
typedef void (*Body)(Run *r, Pop3Client *pc);

struct Run {
	MsSched    *s;
	MsNet      *net;
	MsSink     *rec;
	MsStack    *client;
	MsListener *l;
	const char *greeting;
	const char *const *script;
	GString    *wire;
	Body        body;
	gboolean    ok;
	GError     *error;
	guint32     count;
	guint64     octets;
	GPtrArray  *list, *uidl;
	GBytes     *message;
	gboolean    has_uidl_cap;
	Pop3ClientState state;
};

static void server_task(gpointer data)
{
	Run *r = data;
	MsConn *c = ms_listener_accept(r->l, NULL);
	if (!c)
		return;
	ms_conn_set_proto(c, "pop3");
	ms_conn_write(c, r->greeting, strlen(r->greeting), NULL);
	char line[1024];
	for (guint i = 0; r->script && r->script[i]; i++) {
		/* "(close)": hang up at once, in the middle of what was said */
		if (strcmp(r->script[i], "(close)") == 0)
			break;
		MsEol eol;
		gssize n = ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
		if (n < 0 || eol == MS_EOL_EOF)
			break;
		g_string_append_printf(r->wire, "%s\n", line);
		ms_conn_write(c, r->script[i], strlen(r->script[i]), NULL);
	}
	ms_conn_close(c);
	ms_conn_unref(c);
}

static void client_task(gpointer data)
{
	Run *r = data;
	MsConn *c = ms_stack_connect(r->client, SERVER_ADDR, 110, MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	Pop3Client *pc = pop3_client_new(c);
	ms_conn_unref(c);
	r->body(r, pc);
	r->state = pop3_client_state(pc);
	pop3_client_free(pc);
}

static void run_script(Run *r)
{
	r->s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	r->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(r->s), r->rec);
	r->net = ms_net_new(r->s);
	MsHost *server = ms_net_add_host(r->net, "mx.example.org", SERVER_ADDR, NULL);
	MsHost *client = ms_net_add_host(r->net, "laptop-bob", "198.51.100.99", NULL);
	r->client = ms_host_stack(client);
	r->l = ms_stack_listen(ms_host_stack(server), NULL, 110, NULL);
	r->wire = g_string_new(NULL);
	ms_task_spawn(r->s, "server", server_task, r);
	ms_task_spawn(r->s, "client", client_task, r);
	ck_assert(ms_sched_run(r->s, MS_FOREVER));
	ms_listener_close(r->l);
	ms_sched_shutdown(r->s);
}

static void free_run(Run *r)
{
	ms_listener_free(r->l);
	ms_net_free(r->net);
	ms_sched_free(r->s);
	g_string_free(r->wire, TRUE);
	g_clear_error(&r->error);
	if (r->list)
		g_ptr_array_unref(r->list);
	if (r->uidl)
		g_ptr_array_unref(r->uidl);
	if (r->message)
		g_bytes_unref(r->message);
}

static gboolean has_event(Run *r, MsEventKind kind, const char *text)
{
	GPtrArray *evs = ms_sink_recorder_events(r->rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind == kind && e->text && strcmp(e->text, text) == 0)
			return TRUE;
	}
	return FALSE;
}

static void body_all(Run *r, Pop3Client *pc)
{
	r->ok = pop3_client_greeting(pc, &r->error) && pop3_client_capa(pc, &r->error);
	r->has_uidl_cap = pop3_client_has_capability(pc, "uidl");
	r->ok = r->ok && pop3_client_login(pc, "bob@example.org", PASSWORD, &r->error) &&
	        pop3_client_stat(pc, &r->count, &r->octets, &r->error) &&
	        (r->uidl = pop3_client_uidl(pc, &r->error)) != NULL &&
	        (r->list = pop3_client_list(pc, &r->error)) != NULL &&
	        (r->message = pop3_client_retr(pc, 2, &r->error)) != NULL &&
	        pop3_client_dele(pc, 2, &r->error) &&
	        pop3_client_quit(pc, &r->error);
}

START_TEST(test_whole_dialogue)
{
	static const char *const script[] = {
		"+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\n.\r\n",
		"+OK\r\n",
		"+OK Logged in.\r\n",
		"+OK 2 320\r\n",
		"+OK\r\n1 000001.abc\r\n2 000002.def\r\n.\r\n",
		"+OK 2 messages:\r\n1 120\r\n2 200\r\n.\r\n",
		"+OK 200 octets\r\nSubject: dots\r\n\r\n..hidden\r\n...\r\nend\r\n.\r\n",
		"+OK Marked to be deleted.\r\n",
		"+OK Logging out, messages deleted.\r\n",
		NULL,
	};
	Run r = { .greeting = "+OK Dovecot ready. <1896.697170952@mx.example.org>\r\n", .script = script,
	          .body = body_all };
	run_script(&r);
	ck_assert_msg(r.ok, "%s", r.error ? r.error->message : "");
	ck_assert_str_eq(r.wire->str, "CAPA\nUSER bob@example.org\nPASS " PASSWORD "\nSTAT\nUIDL\nLIST\nRETR 2\nDELE 2\nQUIT\n");
	ck_assert(r.has_uidl_cap);
	ck_assert_uint_eq(r.count, 2);
	ck_assert_uint_eq(r.octets, 320);
	ck_assert_uint_eq(r.uidl->len, 2);
	Pop3Entry *u = g_ptr_array_index(r.uidl, 1);
	ck_assert_uint_eq(u->msg, 2);
	ck_assert_str_eq(u->uid, "000002.def");
	Pop3Entry *l = g_ptr_array_index(r.list, 0);
	ck_assert_uint_eq(l->msg, 1);
	ck_assert_uint_eq(l->size, 120);
	/* RFC 1939 3: the stuffed dots are gone */
	gsize len;
	const char *m = g_bytes_get_data(r.message, &len);
	g_autofree char *text = g_strndup(m, len);
	ck_assert_str_eq(text, "Subject: dots\r\n\r\n.hidden\r\n..\r\nend\r\n");
	ck_assert_int_eq(r.state, POP3_CLIENT_STATE_UPDATE);
	ck_assert(has_event(&r, MS_EV_SEND, "C: PASS ••••••"));
	ck_assert(!has_event(&r, MS_EV_SEND, "C: PASS " PASSWORD));
	free_run(&r);
}
END_TEST

static void body_login(Run *r, Pop3Client *pc)
{
	r->ok = pop3_client_greeting(pc, &r->error) && pop3_client_capa(pc, &r->error) &&
	        pop3_client_login(pc, "bob@example.org", PASSWORD, &r->error);
	pop3_client_quit(pc, NULL);
}

START_TEST(test_wrong_password)
{
	static const char *const script[] = {
		"-ERR unknown command\r\n", "+OK\r\n", "-ERR [AUTH] Authentication failed.\r\n", "+OK bye\r\n", NULL,
	};
	Run r = { .greeting = "+OK ready\r\n", .script = script, .body = body_login };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_AUTH));
	ck_assert_str_eq(r.error->message, "PASS: -ERR [AUTH] Authentication failed.");
	/* a server without CAPA is no error: CAPA -ERR then USER went on */
	ck_assert_str_eq(r.wire->str, "CAPA\nUSER bob@example.org\nPASS " PASSWORD "\nQUIT\n");
	free_run(&r);
}
END_TEST

static void body_uidl(Run *r, Pop3Client *pc)
{
	r->ok = pop3_client_greeting(pc, &r->error) && pop3_client_login(pc, "bob", PASSWORD, &r->error) &&
	        (r->uidl = pop3_client_uidl(pc, &r->error)) != NULL;
}

START_TEST(test_no_uidl)
{
	static const char *const script[] = { "+OK\r\n", "+OK\r\n", "-ERR no such command\r\n", NULL };
	Run r = { .greeting = "+OK\r\n", .script = script, .body = body_uidl };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_ERR));
	ck_assert_int_eq(r.state, POP3_CLIENT_STATE_TRANSACTION);   /* still usable */
	free_run(&r);
}
END_TEST

/* Replies that break the protocol: each leaves the session FAILED. */
typedef struct {
	const char *name;
	const char *reply;     /* to UIDL */
	const char *needle;    /* in the error message */
} BrokenCase;

static const BrokenCase broken_cases[] = {
	{ "neither +OK nor -ERR", "OK fine\r\n", "neither +OK nor -ERR" },
	{ "+OKAY is not +OK", "+OKAY\r\n", "neither" },
	{ "a bad listing line", "+OK\r\n1\r\n.\r\n", "does not parse" },
	{ "message number zero", "+OK\r\n0 abc\r\n.\r\n", "does not parse" },
	{ "a uid with a control character", "+OK\r\n1 a\001b\r\n.\r\n", "does not parse" },
	{ "a uid over 70 characters",
	  "+OK\r\n1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n.\r\n",
	  "does not parse" },
	{ "closed in the middle", "+OK\r\n1 abc\r\n(close)", "closed the connection" },
	{ "a bare CR", "+OK\r1 abc\r\n.\r\n", "bare CR" },
};

static void body_broken(Run *r, Pop3Client *pc)
{
	body_uidl(r, pc);
}

START_TEST(test_broken_replies)
{
	const BrokenCase *c = &broken_cases[_i];
	g_autofree char *reply = g_strdup(c->reply);
	char *close = strstr(reply, "(close)");
	if (close)
		*close = '\0';
	const char *script[] = { "+OK\r\n", "+OK\r\n", reply, close ? "(close)" : NULL, NULL };
	Run r = { .greeting = "+OK\r\n", .script = script, .body = body_broken };
	run_script(&r);
	ck_assert_msg(!r.ok, "%s: accepted", c->name);
	ck_assert_msg(g_error_matches(r.error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_PROTOCOL), "%s: %s", c->name,
	              r.error ? r.error->message : "");
	ck_assert_msg(strstr(r.error->message, c->needle), "%s: %s", c->name, r.error->message);
	ck_assert_int_eq(r.state, POP3_CLIENT_STATE_FAILED);
	free_run(&r);
}
END_TEST

static void body_stat(Run *r, Pop3Client *pc)
{
	r->ok = pop3_client_greeting(pc, &r->error) && pop3_client_stat(pc, &r->count, &r->octets, &r->error);
}

START_TEST(test_bad_stat)
{
	static const char *const script[] = { "+OK lots\r\n", NULL };
	Run r = { .greeting = "+OK\r\n", .script = script, .body = body_stat };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_PROTOCOL));
	free_run(&r);
}
END_TEST

START_TEST(test_greeting_err)
{
	Run r = { .greeting = "-ERR [SYS/TEMP] try later\r\n", .body = body_stat };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_ERR));
	ck_assert_int_eq(r.state, POP3_CLIENT_STATE_FAILED);
	free_run(&r);
}
END_TEST

static void body_long_line(Run *r, Pop3Client *pc)
{
	r->ok = pop3_client_greeting(pc, &r->error) &&
	        (r->message = pop3_client_retr(pc, 1, &r->error)) != NULL;
}

START_TEST(test_retr_line_too_long)
{
	GString *reply = g_string_new("+OK\r\n");
	for (int i = 0; i < POP3_CLIENT_MAX_LINE + 1; i++)
		g_string_append_c(reply, 'x');
	g_string_append(reply, "\r\n.\r\n");
	const char *script[] = { reply->str, NULL };
	Run r = { .greeting = "+OK\r\n", .script = script, .body = body_long_line };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert_ptr_nonnull(strstr(r.error->message, "longer than"));
	free_run(&r);
	g_string_free(reply, TRUE);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(pop3_client_error_to_string(POP3_CLIENT_ERROR_AUTH), "auth");
	ck_assert_str_eq(pop3_client_state_to_string(POP3_CLIENT_STATE_UPDATE), "update");
	ck_assert_str_eq(pop3_client_state_to_string((Pop3ClientState)77), "unknown");
}
END_TEST

static Suite *pop3_client_suite(void)
{
	Suite *s = suite_create("pop3_client");
	MS_ADD_TEST(s, test_whole_dialogue, 10);
	MS_ADD_TEST(s, test_wrong_password, 10);
	MS_ADD_TEST(s, test_no_uidl, 10);
	TCase *broken = tcase_create("broken");
	tcase_add_loop_test(broken, test_broken_replies, 0, G_N_ELEMENTS(broken_cases));
	suite_add_tcase(s, broken);
	MS_ADD_TEST(s, test_bad_stat, 10);
	MS_ADD_TEST(s, test_greeting_err, 10);
	MS_ADD_TEST(s, test_retr_line_too_long, 10);
	MS_ADD_TEST(s, test_names, 10);
	return s;
}

MS_TEST_MAIN(pop3_client_suite)
