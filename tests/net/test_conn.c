/* tests/net/test_conn.c - MsConn's reader: strict line endings, bounded
 * lines, exact reads and escapes, fed through the simulated network in
 * whole writes and one byte per segment; a gathered reply written with
 * its message data shown as a summary. */
#include "tests/ms_test.h"
#include "net/simnet.h"
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

static Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("read_line");
	tcase_add_loop_test(tc, test_read_line_table, 0, G_N_ELEMENTS(line_cases));
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_escape_shows_smuggling_bytes, 5);
	MS_ADD_TEST(s, test_write_gathered_masks_message_data, 5);
	return s;
}

MS_TEST_MAIN(conn_suite)
