/* tests/net/test_simnet.c - the simulated network: latency, ordering,
 * bandwidth, firewalls, host down, partitions, datagrams, determinism. */
#include "tests/ms_test.h"
#include "net/simnet.h"

#include <stdio.h>

typedef struct {
	MsSched *s;
	MsNet   *net;
	MsHost  *a, *b;
	MsSink  *rec;
} World;

static void world_init(World *w, guint64 seed)
{
	w->s = ms_sched_new(MS_SCHED_VIRTUAL, seed);
	w->net = ms_net_new(w->s);
	w->a = ms_net_add_host(w->net, "client.example.com", "192.0.2.10", NULL);
	w->b = ms_net_add_host(w->net, "server.example.org", "198.51.100.20", NULL);
	ck_assert_ptr_nonnull(w->a);
	ck_assert_ptr_nonnull(w->b);
	w->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(w->s), w->rec);
}

static void world_free(World *w)
{
	ms_sched_shutdown(w->s);
	ms_net_free(w->net);
	ms_sched_free(w->s);
}

static gboolean saw_event(World *w, MsEventKind kind, const char *needle)
{
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind == kind && (!needle || (e->text && strstr(e->text, needle))))
			return TRUE;
	}
	return FALSE;
}

/* ---- a tiny greeting server and client ---- */

typedef struct {
	World      *w;
	MsListener *l;
	guint16     port;
	gsize       expect_bytes;   /* server: read this many, then reply */
	gint64      t_connected, t_greeting, t_done;
	GError     *error;
	char        line[64];
	MsEol       eol;
} Exchange;

static void greeter_task(gpointer data)
{
	Exchange *x = data;
	MsConn *c = ms_listener_accept(x->l, NULL);
	if (!c)
		return;
	ms_conn_set_proto(c, "smtp");
	ms_conn_write(c, "220 hello\r\n", 11, NULL);
	if (x->expect_bytes) {
		guint8 *buf = g_malloc(x->expect_bytes);
		if (ms_conn_read_exact(c, buf, x->expect_bytes, NULL))
			ms_conn_write(c, "250 got it\r\n", 12, NULL);
		g_free(buf);
	}
	ms_conn_unref(c);
}

static void client_task(gpointer data)
{
	Exchange *x = data;
	MsSched *s = x->w->s;
	MsConn *c = ms_stack_connect(ms_host_stack(x->w->a), "198.51.100.20", x->port,
	                             5 * MS_SECOND, &x->error);
	if (!c)
		return;
	x->t_connected = ms_sched_now(s);
	ms_conn_read_line(c, x->line, sizeof x->line - 1, &x->eol, NULL);
	x->t_greeting = ms_sched_now(s);
	if (x->expect_bytes) {
		guint8 *buf = g_malloc0(x->expect_bytes);
		ms_conn_write(c, buf, x->expect_bytes, NULL);
		g_free(buf);
		ms_conn_read_line(c, x->line, sizeof x->line - 1, &x->eol, NULL);
		x->t_done = ms_sched_now(s);
	}
	ms_conn_unref(c);
}

START_TEST(test_latency_and_handshake_timing)
{
	World w;
	world_init(&w, 1);
	ms_net_set_link(w.net, "*", "*", 20 * MS_MSEC, 0);
	Exchange x = { .w = &w, .port = 25 };
	x.l = ms_stack_listen(ms_host_stack(w.b), NULL, 25, NULL);
	ck_assert_ptr_nonnull(x.l);
	ms_task_spawn(w.s, "server", greeter_task, &x);
	ms_task_spawn(w.s, "client", client_task, &x);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	ck_assert_ptr_null(x.error);
	ck_assert_int_eq(x.t_connected, 40 * MS_MSEC);   /* SYN there, SYN-ACK back */
	ck_assert_int_eq(x.t_greeting, 40 * MS_MSEC);    /* the server sent at 20ms */
	ck_assert_str_eq(x.line, "220 hello");
	ck_assert_int_eq(x.eol, MS_EOL_CRLF);
	ck_assert(saw_event(&w, MS_EV_SEND, "S: 220 hello"));
	ck_assert(saw_event(&w, MS_EV_ACCEPT, NULL));
	ms_listener_free(x.l);
	world_free(&w);
}
END_TEST

START_TEST(test_bandwidth_delays_big_writes)
{
	World w;
	world_init(&w, 1);
	ms_net_set_link(w.net, "client.example.com", "server.example.org", 10 * MS_MSEC, 100000);
	Exchange x = { .w = &w, .port = 25, .expect_bytes = 200000 };
	x.l = ms_stack_listen(ms_host_stack(w.b), NULL, 25, NULL);
	ms_task_spawn(w.s, "server", greeter_task, &x);
	ms_task_spawn(w.s, "client", client_task, &x);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	ck_assert_str_eq(x.line, "250 got it");
	/* 200 kB at 100 kB/s is 2 s on the wire, plus latencies */
	ck_assert_int_ge(x.t_done - x.t_greeting, 2 * MS_SECOND);
	ck_assert_int_lt(x.t_done - x.t_greeting, 3 * MS_SECOND);
	ms_listener_free(x.l);
	world_free(&w);
}
END_TEST

START_TEST(test_firewall_reject_refuses)
{
	World w;
	world_init(&w, 1);
	ck_assert(ms_host_firewall_add(w.b, MS_FW_REJECT, MS_FW_TCP, 25, "192.0.2.0/24", NULL));
	Exchange x = { .w = &w, .port = 25 };
	x.l = ms_stack_listen(ms_host_stack(w.b), NULL, 25, NULL);
	ms_task_spawn(w.s, "client", client_task, &x);
	ms_sched_run(w.s, MS_FOREVER);
	ck_assert_ptr_nonnull(x.error);
	ck_assert(g_error_matches(x.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED));
	ck_assert(saw_event(&w, MS_EV_REFUSE, "firewall"));
	g_error_free(x.error);
	ms_listener_free(x.l);
	world_free(&w);
}
END_TEST

START_TEST(test_firewall_drop_times_out)
{
	World w;
	world_init(&w, 1);
	ck_assert(ms_host_firewall_add(w.b, MS_FW_DROP, MS_FW_TCP, 25, NULL, NULL));
	ck_assert(!ms_host_firewall_add(w.b, MS_FW_DROP, MS_FW_TCP, 25, "not-a-cidr", NULL));
	Exchange x = { .w = &w, .port = 25 };
	x.l = ms_stack_listen(ms_host_stack(w.b), NULL, 25, NULL);
	ms_task_spawn(w.s, "client", client_task, &x);
	ms_sched_run(w.s, MS_FOREVER);
	ck_assert(g_error_matches(x.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
	ck_assert_int_eq(ms_sched_now(w.s), 5 * MS_SECOND);
	g_error_free(x.error);
	ms_listener_free(x.l);
	world_free(&w);
}
END_TEST

static void nowhere_client(gpointer data)
{
	Exchange *x = data;
	MsConn *c = ms_stack_connect(ms_host_stack(x->w->a), "203.0.113.99", 25, 5 * MS_SECOND, &x->error);
	ck_assert_ptr_null(c);
}

START_TEST(test_no_listener_refused_unknown_address_unreachable)
{
	World w;
	world_init(&w, 1);
	Exchange x = { .w = &w, .port = 26 };
	ms_task_spawn(w.s, "client", client_task, &x);
	ms_sched_run(w.s, MS_FOREVER);
	ck_assert(g_error_matches(x.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED));
	g_clear_error(&x.error);

	ms_task_spawn(w.s, "nowhere", nowhere_client, &x);
	ms_sched_run(w.s, MS_FOREVER);
	ck_assert(g_error_matches(x.error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE));
	ck_assert(saw_event(&w, MS_EV_ERROR, "no host has the address 203.0.113.99"));
	g_clear_error(&x.error);
	world_free(&w);
}
END_TEST

START_TEST(test_host_down_connect_fails_with_event)
{
	World w;
	world_init(&w, 1);
	Exchange x = { .w = &w, .port = 25 };
	x.l = ms_stack_listen(ms_host_stack(w.b), NULL, 25, NULL);
	ms_host_set_up(w.b, FALSE);
	ms_task_spawn(w.s, "client", client_task, &x);
	ms_sched_run(w.s, MS_FOREVER);
	ck_assert(g_error_matches(x.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
	ck_assert(saw_event(&w, MS_EV_HOST, "down"));
	ck_assert(saw_event(&w, MS_EV_ERROR, "timed out"));
	g_clear_error(&x.error);
	ms_listener_free(x.l);
	world_free(&w);
}
END_TEST

/* A host that goes down in the middle of a connection resets it. */
typedef struct {
	World  *w;
	GError *error;
} Reset;

static void silent_server(gpointer data)
{
	MsListener *l = data;
	MsConn *c = ms_listener_accept(l, NULL);
	if (c) {
		char buf[16];
		MsEol eol;
		ms_conn_read_line(c, buf, sizeof buf - 1, &eol, NULL);
		ms_conn_unref(c);
	}
}

static void reset_client(gpointer data)
{
	Reset *r = data;
	MsConn *c = ms_stack_connect(ms_host_stack(r->w->a), "198.51.100.20", 25, MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	ms_sleep(MS_SECOND);
	ms_host_set_up(r->w->b, FALSE);
	char buf[16];
	MsEol eol;
	ck_assert_int_eq(ms_conn_read_line(c, buf, sizeof buf - 1, &eol, &r->error), -1);
	ms_conn_unref(c);
}

START_TEST(test_host_down_resets_connections)
{
	World w;
	world_init(&w, 1);
	MsListener *l = ms_stack_listen(ms_host_stack(w.b), NULL, 25, NULL);
	Reset r = { &w, NULL };
	ms_task_spawn(w.s, "server", silent_server, l);
	ms_task_spawn(w.s, "client", reset_client, &r);
	ms_sched_run(w.s, MS_FOREVER);
	ck_assert_ptr_nonnull(r.error);
	ck_assert(saw_event(&w, MS_EV_ERROR, "reset"));
	g_clear_error(&r.error);
	ms_listener_free(l);
	world_free(&w);
}
END_TEST

/* ---- datagrams ---- */

typedef struct {
	World *w;
	char   got[32];
	char  *from;
	GError *error;
} Udp;

static void udp_echo(gpointer data)
{
	Udp *u = data;
	MsDgram *d = ms_stack_udp_bind(ms_host_stack(u->w->b), NULL, 53, NULL);
	char buf[32];
	char *from = NULL;
	guint16 port;
	gssize n = ms_dgram_recv(d, buf, sizeof buf, &from, &port, MS_FOREVER, NULL);
	if (n > 0)
		ms_dgram_send(d, from, port, buf, (gsize)n, NULL);
	g_free(from);
	ms_dgram_free(d);
}

static void udp_client(gpointer data)
{
	Udp *u = data;
	MsSched *s = u->w->s;
	MsDgram *d = ms_stack_udp_bind(ms_host_stack(u->w->a), NULL, 0, NULL);
	ms_dgram_send(d, "198.51.100.20", 53, "ping", 4, NULL);
	guint16 port;
	gssize n = ms_dgram_recv(d, u->got, sizeof u->got - 1, &u->from, &port,
	                         ms_sched_now(s) + MS_SECOND, &u->error);
	if (n >= 0)
		u->got[n] = '\0';
	/* a second one to a host with nothing on the port is lost */
	ms_dgram_send(d, "198.51.100.20", 54, "ping", 4, NULL);
	char buf[8];
	gssize m = ms_dgram_recv(d, buf, sizeof buf, NULL, NULL, ms_sched_now(s) + MS_SECOND, NULL);
	ck_assert_int_eq(m, -1);
	ms_dgram_free(d);
}

START_TEST(test_datagrams_and_losses)
{
	World w;
	world_init(&w, 1);
	Udp u = { .w = &w };
	ms_task_spawn(w.s, "echo", udp_echo, &u);
	ms_task_spawn(w.s, "client", udp_client, &u);
	ms_sched_run(w.s, MS_FOREVER);
	ck_assert_ptr_null(u.error);
	ck_assert_str_eq(u.got, "ping");
	ck_assert_str_eq(u.from, "198.51.100.20");
	ck_assert(saw_event(&w, MS_EV_ERROR, "lost: nothing listens"));
	g_free(u.from);
	world_free(&w);
}
END_TEST

START_TEST(test_partition_cuts_and_heals)
{
	World w;
	world_init(&w, 1);
	Exchange x = { .w = &w, .port = 25 };
	x.l = ms_stack_listen(ms_host_stack(w.b), NULL, 25, NULL);
	ms_net_set_partition(w.net, "client.example.com", "*", TRUE);
	ms_task_spawn(w.s, "client", client_task, &x);
	ms_sched_run(w.s, MS_FOREVER);
	ck_assert(g_error_matches(x.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
	g_clear_error(&x.error);

	ms_net_set_partition(w.net, "client.example.com", "*", FALSE);
	ms_task_spawn(w.s, "server", greeter_task, &x);
	ms_task_spawn(w.s, "client2", client_task, &x);
	ms_sched_run(w.s, MS_FOREVER);
	ck_assert_ptr_null(x.error);
	ck_assert_str_eq(x.line, "220 hello");
	ms_listener_free(x.l);
	world_free(&w);
}
END_TEST

/* Agents on one host: an alias stack names the agent in events, and the
 * hop between them costs only the loopback latency. */
typedef struct {
	MsStack    *client;
	MsListener *l;
	gint64      t_connected;
} Local;

static void local_server(gpointer data)
{
	Local *lo = data;
	MsConn *c = ms_listener_accept(lo->l, NULL);
	if (c) {
		ms_conn_write(c, "220 lmtp\r\n", 10, NULL);
		ms_conn_unref(c);
	}
}

static void local_client(gpointer data)
{
	Local *lo = data;
	MsConn *c = ms_stack_connect(lo->client, "198.51.100.20", 24, MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	lo->t_connected = ms_sched_now(ms_conn_sched(c));
	ck_assert_str_eq(ms_conn_local_name(c), "server.example.org");
	ck_assert_str_eq(ms_conn_peer_name(c), "mda@server.example.org");
	char line[32];
	MsEol eol;
	ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
	ms_conn_unref(c);
}

START_TEST(test_alias_stacks_on_one_host)
{
	World w;
	world_init(&w, 1);
	MsStack *mda = ms_host_stack_alias(w.b, "mda@server.example.org");
	Local lo = { .client = ms_host_stack(w.b) };
	lo.l = ms_stack_listen(mda, NULL, 24, NULL);
	ms_task_spawn(w.s, "server", local_server, &lo);
	ms_task_spawn(w.s, "client", local_client, &lo);
	ck_assert(ms_sched_run(w.s, MS_FOREVER));
	ck_assert_int_eq(lo.t_connected, 2 * MS_NET_LOOPBACK_LATENCY);
	gboolean seen = FALSE;
	GPtrArray *evs = ms_sink_recorder_events(w.rec);
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind == MS_EV_SEND && !g_strcmp0(e->from, "mda@server.example.org") &&
		    !g_strcmp0(e->to, "server.example.org") && !g_strcmp0(e->text, "S: 220 lmtp"))
			seen = TRUE;
	}
	ck_assert(seen);
	ms_listener_free(lo.l);
	ms_stack_unref(mda);
	world_free(&w);
}
END_TEST

START_TEST(test_cidr)
{
	ck_assert(ms_net_cidr_match("203.0.113.0/24", "203.0.113.66"));
	ck_assert(!ms_net_cidr_match("203.0.113.0/24", "203.0.114.1"));
	ck_assert(ms_net_cidr_match("192.0.2.10", "192.0.2.10"));
	ck_assert(ms_net_cidr_match("0.0.0.0/0", "8.8.8.8"));
	ck_assert(!ms_net_cidr_valid("1.2.3.4/33"));
	ck_assert(!ms_net_cidr_valid("1.2.3/8"));
	ck_assert(!ms_net_cidr_valid(""));
}
END_TEST

static Suite *simnet_suite(void)
{
	Suite *s = suite_create("simnet");
	MS_ADD_TEST(s, test_latency_and_handshake_timing, 10);
	MS_ADD_TEST(s, test_bandwidth_delays_big_writes, 10);
	MS_ADD_TEST(s, test_firewall_reject_refuses, 10);
	MS_ADD_TEST(s, test_firewall_drop_times_out, 10);
	MS_ADD_TEST(s, test_no_listener_refused_unknown_address_unreachable, 10);
	MS_ADD_TEST(s, test_host_down_connect_fails_with_event, 10);
	MS_ADD_TEST(s, test_host_down_resets_connections, 10);
	MS_ADD_TEST(s, test_datagrams_and_losses, 10);
	MS_ADD_TEST(s, test_partition_cuts_and_heals, 10);
	MS_ADD_TEST(s, test_alias_stacks_on_one_host, 10);
	MS_ADD_TEST(s, test_cidr, 10);
	return s;
}

MS_TEST_MAIN(simnet_suite)
