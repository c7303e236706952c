/* tests/net/test_echo.c - one echo agent, two worlds: the same code runs over
 * the simulated network and over real sockets on 127.0.0.1, and the
 * simulated run is byte-for-byte repeatable. */
#include "tests/ms_test.h"
#include "net/simnet.h"
#include "net/realnet.h"
#include "sim/kernel/rng.h"

#include <stdio.h>

/* ---- the agent: written once ---- */

typedef struct {
	MsListener *listener;
	MsStack    *client;
	const char *server_addr;
	guint64     seed;
	int         echoed;
	int         matched;
	gboolean    stop_when_done;
} Echo;

static void echo_server(gpointer data)
{
	Echo *e = data;
	MsConn *c = ms_listener_accept(e->listener, NULL);
	if (!c)
		return;
	ms_conn_set_proto(c, "echo");
	MsRng *rng = ms_rng_new(e->seed, "echo-server");
	g_autofree char *id = ms_rng_hex(rng, 8);
	ms_rng_free(rng);
	ms_conn_printf(c, NULL, "220 echo ready id=%s\r\n", id);
	char line[128];
	MsEol eol;
	gssize n;
	while ((n = ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL)) > 0 || eol != MS_EOL_EOF) {
		if (g_ascii_strcasecmp(line, "QUIT") == 0) {
			ms_conn_printf(c, NULL, "221 bye\r\n");
			break;
		}
		ms_conn_printf(c, NULL, "250 %s\r\n", line);
		e->echoed++;
	}
	ms_conn_unref(c);
}

static void echo_client(gpointer data)
{
	Echo *e = data;
	static const char *const words[] = { "HELO", "mail from a", "rcpt to b", "é ü" };
	MsConn *c = ms_stack_connect(e->client, e->server_addr, ms_listener_port(e->listener),
	                             5 * MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	ms_conn_set_proto(c, "echo");
	char line[128];
	MsEol eol;
	ck_assert_int_gt(ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL), 0);
	ck_assert(g_str_has_prefix(line, "220 echo ready"));
	/* pipelined: all lines in one write, then the answers */
	GString *burst = g_string_new("");
	for (guint i = 0; i < G_N_ELEMENTS(words); i++)
		g_string_append_printf(burst, "%s\r\n", words[i]);
	ms_conn_write(c, burst->str, burst->len, NULL);
	g_string_free(burst, TRUE);
	for (guint i = 0; i < G_N_ELEMENTS(words); i++) {
		ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
		g_autofree char *want = g_strdup_printf("250 %s", words[i]);
		if (strcmp(line, want) == 0 && eol == MS_EOL_CRLF)
			e->matched++;
	}
	ms_conn_printf(c, NULL, "QUIT\r\n");
	ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
	ck_assert_str_eq(line, "221 bye");
	ms_conn_unref(c);
	if (e->stop_when_done)
		ms_sched_stop(ms_task_sched(ms_task_self()));
}

/* ---- the simulated world ---- */

static char *run_simulated(guint64 seed, Echo *out)
{
	char *log = NULL;
	size_t log_len = 0;
	FILE *mem = open_memstream(&log, &log_len);
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, seed);
	ms_bus_add_sink(ms_sched_bus(s), ms_sink_jsonl_new(mem, FALSE));
	MsNet *net = ms_net_new(s);
	MsHost *a = ms_net_add_host(net, "home-pc", "192.0.2.77", NULL);
	MsHost *b = ms_net_add_host(net, "echo.example.org", "198.51.100.7", NULL);
	Echo e = { .client = ms_host_stack(a), .server_addr = "198.51.100.7", .seed = seed };
	e.listener = ms_stack_listen(ms_host_stack(b), NULL, 7, NULL);
	ms_task_spawn(s, "server", echo_server, &e);
	ms_task_spawn(s, "client", echo_client, &e);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	ms_listener_free(e.listener);
	ms_sched_shutdown(s);
	ms_net_free(net);
	ms_sched_free(s);   /* flushes the sink */
	fclose(mem);
	*out = e;
	return log;
}

START_TEST(test_echo_over_simnet)
{
	Echo e;
	g_autofree char *log = run_simulated(1, &e);
	ck_assert_int_eq(e.echoed, 4);
	ck_assert_int_eq(e.matched, 4);
	ck_assert_ptr_nonnull(strstr(log, "\"text\":\"C: rcpt to b\""));
	ck_assert_ptr_nonnull(strstr(log, "\"text\":\"S: 221 bye\""));
}
END_TEST

START_TEST(test_same_seed_same_log)
{
	Echo e;
	g_autofree char *one = run_simulated(42, &e);
	g_autofree char *two = run_simulated(42, &e);
	ck_assert_int_gt(strlen(one), 1000);
	ck_assert_str_eq(one, two);
}
END_TEST

START_TEST(test_other_seed_differs_only_where_random)
{
	Echo e;
	g_autofree char *one = run_simulated(1, &e);
	g_autofree char *two = run_simulated(2, &e);
	ck_assert_str_ne(one, two);
	g_auto(GStrv) l1 = g_strsplit(one, "\n", -1);
	g_auto(GStrv) l2 = g_strsplit(two, "\n", -1);
	ck_assert_int_eq(g_strv_length(l1), g_strv_length(l2));
	int differing = 0;
	for (guint i = 0; l1[i]; i++) {
		if (strcmp(l1[i], l2[i]) != 0) {
			differing++;
			ck_assert_msg(strstr(l1[i], "id=") != NULL, "unexpected difference: %s", l1[i]);
		}
	}
	ck_assert_int_eq(differing, 1);
}
END_TEST

/* ---- the real network ---- */

START_TEST(test_echo_over_real_sockets)
{
	MsSched *s = ms_sched_new(MS_SCHED_REAL, 1);
	MsSink *rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(s), rec);
	MsStack *st = ms_realnet_stack_new(s, "mailsim", "127.0.0.1");
	Echo e = { .client = st, .server_addr = "127.0.0.1", .seed = 1, .stop_when_done = TRUE };
	GError *error = NULL;
	e.listener = ms_stack_listen(st, NULL, 0, &error);
	ck_assert_ptr_null(error);
	ck_assert_int_gt(ms_listener_port(e.listener), 0);
	ms_task_spawn(s, "server", echo_server, &e);
	ms_task_spawn(s, "client", echo_client, &e);
	ck_assert(ms_sched_run(s, 10 * MS_SECOND));
	ms_sched_shutdown(s);
	ck_assert_int_eq(e.echoed, 4);
	ck_assert_int_eq(e.matched, 4);
	gboolean saw_quit = FALSE;
	GPtrArray *evs = ms_sink_recorder_events(rec);
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *ev = g_ptr_array_index(evs, i);
		if (ev->kind == MS_EV_SEND && g_strcmp0(ev->text, "C: QUIT") == 0)
			saw_quit = TRUE;
	}
	ck_assert(saw_quit);
	ms_listener_free(e.listener);
	ms_stack_unref(st);
	ms_sched_free(s);
}
END_TEST

/* A listener closed from another task wakes its accept. */
typedef struct {
	MsListener *l;
	GError     *error;
} CloseRun;

static void closer(gpointer data)
{
	CloseRun *r = data;
	ms_sleep(50 * MS_MSEC);
	ms_listener_close(r->l);
}

static void acceptor(gpointer data)
{
	CloseRun *r = data;
	MsConn *c = ms_listener_accept(r->l, &r->error);
	ck_assert_ptr_null(c);
	ms_sched_stop(ms_task_sched(ms_task_self()));
}

START_TEST(test_real_listener_close_wakes_accept)
{
	MsSched *s = ms_sched_new(MS_SCHED_REAL, 1);
	MsStack *st = ms_realnet_stack_new(s, "mailsim", "127.0.0.1");
	CloseRun r = { ms_stack_listen(st, NULL, 0, NULL), NULL };
	ms_task_spawn(s, "acceptor", acceptor, &r);
	ms_task_spawn(s, "closer", closer, &r);
	ck_assert(ms_sched_run(s, 5 * MS_SECOND));
	ms_sched_shutdown(s);
	ck_assert_ptr_nonnull(r.error);
	g_clear_error(&r.error);
	ms_listener_free(r.l);
	ms_stack_unref(st);
	ms_sched_free(s);
}
END_TEST

static Suite *echo_suite(void)
{
	Suite *s = suite_create("echo");
	MS_ADD_TEST(s, test_echo_over_simnet, 10);
	MS_ADD_TEST(s, test_same_seed_same_log, 10);
	MS_ADD_TEST(s, test_other_seed_differs_only_where_random, 10);
	MS_ADD_TEST(s, test_echo_over_real_sockets, 15);
	MS_ADD_TEST(s, test_real_listener_close_wakes_accept, 15);
	return s;
}

MS_TEST_MAIN(echo_suite)
