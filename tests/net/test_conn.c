/* tests/net/test_conn.c - MsConn's reader: strict line endings, bounded
 * lines, exact reads and escapes, fed through the simulated network in
 * whole writes and one byte per segment; a gathered reply written with
 * its message data shown as a summary; the net every event about packets
 * carries (sim/kernel/event.h), on the simulated and the real network. */
#include "tests/ms_test.h"
#include "net/simnet.h"
#include "net/realnet.h"
#include "net/conn_impl.h"   /* ms_conn_escape */

typedef struct {
	const char *wire;     /* what the peer sends, then it closes */
	gsize       max;      /* the reader's line limit */
	const char *expect;   /* lines as "text|EOL" joined by "\n" */
} LineCase;

static const LineCase line_cases[] = {
	{ "EHLO a\r\nQUIT\r\n", 64, "EHLO a|CRLF\nQUIT|CRLF\n|EOF" },
	{ "bare\nlf\r\n", 64, "bare|LF\nlf|CRLF\n|EOF" },
	{ "bare\rcr\r\n", 64, "bare|CR\ncr|CRLF\n|EOF" },
	{ "\r\n.\n", 64, "|CRLF\n.|LF\n|EOF" },
	{ "end\r", 64, "end|CR\n|EOF" },
	{ "no ending", 64, "no ending|EOF\n|EOF" },
	{ "0123456789ABC\r\nok\r\n", 10, "0123456789|TOO_LONG\nok|CRLF\n|EOF" },
	{ "0123456789\r\n", 10, "0123456789|CRLF\n|EOF" },
	{ "0123456789A", 10, "0123456789|TOO_LONG\n|EOF" },
	{ "", 64, "|EOF" },
};

typedef struct {
	MsListener *l;
	MsStack    *client;
	const char *wire;
	gboolean    bytewise;
	gsize       max;
	GString    *got;
} LineRun;

static void line_sender(gpointer data)
{
	LineRun *r = data;
	MsConn *c = ms_listener_accept(r->l, NULL);
	gsize len = strlen(r->wire);
	if (r->bytewise) {
		for (gsize i = 0; i < len; i++) {
			ms_conn_write(c, r->wire + i, 1, NULL);
			ms_sleep(MS_MSEC);
		}
	} else {
		ms_conn_write(c, r->wire, len, NULL);
	}
	ms_conn_unref(c);
}

static void line_reader(gpointer data)
{
	LineRun *r = data;
	MsConn *c = ms_stack_connect(r->client, "10.0.0.2", ms_listener_port(r->l), MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	char *buf = g_malloc(r->max + 1);
	for (int i = 0; i < 10; i++) {
		MsEol eol;
		gssize n = ms_conn_read_line(c, buf, r->max, &eol, NULL);
		ck_assert_int_ge(n, 0);
		ck_assert_int_le(n, r->max);
		ck_assert_int_eq(buf[n], '\0');
		g_string_append_printf(r->got, "%s%s|%s", i ? "\n" : "", buf, ms_eol_to_string(eol));
		if (eol == MS_EOL_EOF && n == 0)
			break;
	}
	g_free(buf);
	ms_conn_unref(c);
}

static void run_line_case(const LineCase *lc, gboolean bytewise)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsNet *net = ms_net_new(s);
	MsHost *a = ms_net_add_host(net, "a", "10.0.0.1", NULL);
	MsHost *b = ms_net_add_host(net, "b", "10.0.0.2", NULL);
	LineRun rr = { .client = ms_host_stack(a), .wire = lc->wire, .bytewise = bytewise,
	               .max = lc->max, .got = g_string_new("") };
	rr.l = ms_stack_listen(ms_host_stack(b), NULL, 25, NULL);
	ms_task_spawn(s, "sender", line_sender, &rr);
	ms_task_spawn(s, "reader", line_reader, &rr);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	ck_assert_msg(strcmp(rr.got->str, lc->expect) == 0, "%s wire \"%s\": got\n%s\nexpected\n%s",
	              bytewise ? "bytewise" : "whole", lc->wire, rr.got->str, lc->expect);
	g_string_free(rr.got, TRUE);
	ms_listener_free(rr.l);
	ms_sched_shutdown(s);
	ms_net_free(net);
	ms_sched_free(s);
}

START_TEST(test_read_line_table)
{
	run_line_case(&line_cases[_i], FALSE);
	run_line_case(&line_cases[_i], TRUE);
}
END_TEST

START_TEST(test_escape_shows_smuggling_bytes)
{
	g_autofree char *e1 = ms_conn_escape((const guint8 *)"a\r\n.\n\x01\xff", 7);
	ck_assert_str_eq(e1, "a\\r\\n.\\n\\x01\\xFF");
	g_autofree char *e2 = ms_conn_escape((const guint8 *)"Gr\xc3\xbc\xc3\x9f" "e", 7);
	ck_assert_str_eq(e2, "Grüße");
}
END_TEST

/* ---- ms_conn_write_gathered ---------------------------------------------- */

typedef struct {
	MsListener *l;
	MsStack    *client;
	GString    *out;
	GArray     *masked;
	gboolean    ok;
	GString    *got;
} GatherRun;

static void gather_writer(gpointer data)
{
	GatherRun *r = data;
	MsConn *c = ms_listener_accept(r->l, NULL);
	r->ok = ms_conn_write_gathered(c, &r->out, r->masked, 1024, NULL);
	ms_conn_unref(c);
}

static void gather_reader(gpointer data)
{
	GatherRun *r = data;
	MsConn *c = ms_stack_connect(r->client, "10.0.0.2", ms_listener_port(r->l), MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	char buf[4096];
	MsEol eol;
	gssize n;
	while ((n = ms_conn_read_line(c, buf, sizeof buf - 1, &eol, NULL)) > 0 || eol != MS_EOL_EOF)
		g_string_append_printf(r->got, "%s\n", buf);
	ms_conn_unref(c);
}

START_TEST(test_write_gathered_masks_message_data)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsSink *rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(s), rec);
	MsNet *net = ms_net_new(s);
	MsHost *a = ms_net_add_host(net, "a", "10.0.0.1", NULL);
	MsHost *b = ms_net_add_host(net, "b", "10.0.0.2", NULL);
	GatherRun r = { .client = ms_host_stack(a), .out = g_string_new(NULL), .got = g_string_new(NULL),
	                .masked = g_array_new(FALSE, FALSE, sizeof(MsConnMasked)) };
	/* a reply, a message, a reply, a message, and the end, as RETR and FETCH write */
	g_string_append(r.out, "+OK first\r\n");
	MsConnMasked m1 = { r.out->len, 0, g_strdup("(first message)") };
	g_string_append(r.out, "Subject: one\r\n\r\nbody one\r\n");
	m1.len = r.out->len - m1.start;
	g_array_append_val(r.masked, m1);
	g_string_append(r.out, ".\r\n+OK second\r\n");
	MsConnMasked m2 = { r.out->len, 0, g_strdup("(second message)") };
	g_autofree char *filler = g_strnfill(2000, 'x');
	g_string_append_printf(r.out, "Subject: two\r\n\r\n%s\r\n", filler);
	m2.len = r.out->len - m2.start;
	g_array_append_val(r.masked, m2);
	g_string_append(r.out, ".\r\n");
	gsize grown = r.out->allocated_len;
	r.l = ms_stack_listen(ms_host_stack(b), NULL, 110, NULL);
	ms_task_spawn(s, "writer", gather_writer, &r);
	ms_task_spawn(s, "reader", gather_reader, &r);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	ck_assert(r.ok);
	/* the peer gets every byte, in order */
	g_autofree char *expect = g_strdup_printf("+OK first\nSubject: one\n\nbody one\n.\n+OK second\n"
	                                          "Subject: two\n\n%s\n.\n", filler);
	ck_assert_str_eq(r.got->str, expect);
	/* events show the replies line by line and each message as its summary */
	GString *sent = g_string_new(NULL);
	GPtrArray *evs = ms_sink_recorder_events(rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind == MS_EV_SEND)
			g_string_append_printf(sent, "%s|", e->text);
	}
	ck_assert_str_eq(sent->str, "S: +OK first|S: (first message)|S: .|S: +OK second|S: (second message)|S: .|");
	/* afterwards both are empty; a buffer grown past keep_max is a new one */
	ck_assert_uint_eq(r.masked->len, 0);
	ck_assert_uint_eq(r.out->len, 0);
	ck_assert_uint_gt(grown, 1024);
	ck_assert_uint_lt(r.out->allocated_len, 1024);
	g_string_free(sent, TRUE);
	g_string_free(r.got, TRUE);
	g_string_free(r.out, TRUE);
	g_array_free(r.masked, TRUE);
	ms_listener_free(r.l);
	ms_sched_shutdown(s);
	ms_net_free(net);
	ms_sched_free(s);
}
END_TEST

/* ---- the net of events ----------------------------------------------------- */

typedef struct {
	MsListener *l;
	MsStack    *client;
	const char *server_addr;
	guint16     closed_port;   /* nothing listens there: a refusal */
	gboolean    real;
	gint        served;        /* atomic: the server saw the client's FIN */
} NetRun;

static void net_server(gpointer data)
{
	NetRun *r = data;
	MsConn *c = ms_listener_accept(r->l, NULL);
	ck_assert_ptr_nonnull(c);
	ms_conn_set_timeout(c, 5 * MS_SECOND);
	char line[64];
	MsEol eol;
	ck_assert(ms_conn_write(c, "220 hi\r\n", 8, NULL));
	ck_assert_int_eq(ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL), 4);
	ck_assert(ms_conn_write(c, "221 bye\r\n", 9, NULL));
	ms_conn_close(c);
	ck_assert_int_eq(ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL), 0);   /* the client's FIN */
	ms_conn_unref(c);
	g_atomic_int_set(&r->served, 1);
}

static void net_client(gpointer data)
{
	NetRun *r = data;
	MsConn *c = ms_stack_connect(r->client, r->server_addr, ms_listener_port(r->l), 5 * MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	ms_conn_set_timeout(c, 5 * MS_SECOND);
	char line[64];
	MsEol eol;
	ck_assert_int_eq(ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL), 6);
	ck_assert(ms_conn_write(c, "QUIT\r\n", 6, NULL));
	ck_assert_int_eq(ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL), 7);
	ck_assert_int_eq(ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL), 0);
	ms_conn_close(c);
	ms_conn_unref(c);
	g_autoptr(GError) err = NULL;
	ck_assert_ptr_null(ms_stack_connect(r->client, r->server_addr, r->closed_port, 5 * MS_SECOND, &err));
	ck_assert(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED));
	if (r->real) {
		while (!g_atomic_int_get(&r->served))
			ms_sleep(5 * MS_MSEC);
		ms_sched_stop(ms_task_sched(ms_task_self()));
	}
}

/* Every event about packets has a valid net on the kind the contract gives
 * it, the ends agree from SYN to FIN, and the bytes add up. */
static void check_nets(GPtrArray *evs, const NetRun *r)
{
	guint16 port = ms_listener_port(r->l);
	const MsNetInfo *syn[2] = { NULL, NULL }, *accept = NULL, *est = NULL, *refused = NULL;
	guint64 sent[2] = { 0, 0 }, arrived[2] = { 0, 0 };   /* 0: by the client, 1: by the server */
	guint fins = 0, nets = 0;
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		const MsNetInfo *n = &e->net;
		ck_assert_msg(ms_net_info_valid(n), "event %u (%s) breaks the contract", i, e->text);
		nets += n->action != MS_NET_NONE;
		switch (n->action) {
		case MS_NET_NONE:
			ck_assert_msg(e->kind != MS_EV_CONNECT && e->kind != MS_EV_ACCEPT && e->kind != MS_EV_CLOSE &&
			              e->kind != MS_EV_SEND && e->kind != MS_EV_RECV, "event %u (%s) has no net", i, e->text);
			break;
		case MS_NET_SYN:
			ck_assert(e->kind == MS_EV_CONNECT && e->conn == 0);
			ck_assert_ptr_null(syn[1]);
			syn[syn[0] ? 1 : 0] = n;
			break;
		case MS_NET_ACCEPT:
			ck_assert(e->kind == MS_EV_ACCEPT && e->conn != 0);
			ck_assert_uint_eq(n->src.port, port);
			accept = n;
			break;
		case MS_NET_ESTABLISHED:
			ck_assert(e->kind == MS_EV_CONNECT && e->conn != 0);
			est = n;
			break;
		case MS_NET_DATA:
			ck_assert(e->kind == MS_EV_SEND && e->payload != NULL);
			sent[n->src.port == port] += g_bytes_get_size(e->payload);
			break;
		case MS_NET_ARRIVED:
			ck_assert(e->kind == MS_EV_RECV);
			arrived[n->src.port == port] += n->bytes;
			break;
		case MS_NET_FIN:
			ck_assert(e->kind == MS_EV_CLOSE);
			fins++;
			break;
		case MS_NET_REFUSED:
			ck_assert(e->kind == MS_EV_ERROR && e->conn == 0);
			refused = n;
			break;
		default:
			ck_abort_msg("event %u: %s unexpected", i, ms_net_action_to_string(n->action));
		}
	}
	ck_assert(syn[0] && syn[1] && accept && est && refused);
	ck_assert_uint_ge(nets, 12);
	/* the client is the accepted one, the server the one it connected to */
	ck_assert(ms_endpoint_equal(&accept->dst, &est->src));
	ck_assert(ms_endpoint_equal(&accept->src, &est->dst));
	ck_assert(ms_endpoint_equal(&syn[0]->dst, &est->dst));
	if (r->real)   /* the system picks the client's end while connecting */
		ck_assert_int_eq(syn[0]->src.family, MS_ADDR_NONE);
	else
		ck_assert(ms_endpoint_equal(&syn[0]->src, &est->src));
	ck_assert(ms_endpoint_equal(&syn[1]->dst, &refused->dst));
	ck_assert_uint_eq(refused->dst.port, r->closed_port);
	ck_assert_uint_eq(sent[0], 6);
	ck_assert_uint_eq(sent[1], 8 + 9);
	ck_assert_uint_eq(arrived[0], sent[0]);
	ck_assert_uint_eq(arrived[1], sent[1]);
	ck_assert_uint_eq(fins, 2);
}

START_TEST(test_events_carry_the_net_simulated)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsSink *rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(s), rec);
	MsNet *net = ms_net_new(s);
	MsHost *a = ms_net_add_host(net, "a", "10.0.0.1", NULL);
	MsHost *b = ms_net_add_host(net, "b", "10.0.0.2", NULL);
	NetRun r = { .client = ms_host_stack(a), .server_addr = "10.0.0.2", .closed_port = 26 };
	r.l = ms_stack_listen(ms_host_stack(b), NULL, 25, NULL);
	ms_task_spawn(s, "server", net_server, &r);
	ms_task_spawn(s, "client", net_client, &r);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	check_nets(ms_sink_recorder_events(rec), &r);
	ms_listener_free(r.l);
	ms_sched_shutdown(s);
	ms_net_free(net);
	ms_sched_free(s);
}
END_TEST

START_TEST(test_events_carry_the_net_real)
{
	MsSched *s = ms_sched_new(MS_SCHED_REAL, 1);
	MsSink *rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(s), rec);
	MsStack *st = ms_realnet_stack_new(s, "mailsim", "127.0.0.1");
	/* a port nothing listens on: one that was just let go */
	MsListener *gone = ms_stack_listen(st, NULL, 0, NULL);
	ck_assert_ptr_nonnull(gone);
	NetRun r = { .client = st, .server_addr = "127.0.0.1", .closed_port = ms_listener_port(gone), .real = TRUE };
	ms_listener_free(gone);
	r.l = ms_stack_listen(st, NULL, 0, NULL);
	ck_assert_ptr_nonnull(r.l);
	ms_task_spawn(s, "server", net_server, &r);
	ms_task_spawn(s, "client", net_client, &r);
	ck_assert(ms_sched_run(s, 10 * MS_SECOND));
	ms_sched_shutdown(s);
	check_nets(ms_sink_recorder_events(rec), &r);
	ms_listener_free(r.l);
	ms_stack_unref(st);
	ms_sched_free(s);
}
END_TEST

static Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("read_line");
	tcase_add_loop_test(tc, test_read_line_table, 0, G_N_ELEMENTS(line_cases));
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_escape_shows_smuggling_bytes, 5);
	MS_ADD_TEST(s, test_write_gathered_masks_message_data, 5);
	MS_ADD_TEST(s, test_events_carry_the_net_simulated, 5);
	MS_ADD_TEST(s, test_events_carry_the_net_real, 15);
	return s;
}

MS_TEST_MAIN(conn_suite)
