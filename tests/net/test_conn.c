/* tests/net/test_conn.c - MsConn's reader: strict line endings, bounded
 * lines, exact reads and escapes, fed through the simulated network in
 * whole writes and one byte per segment. */
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

static Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("read_line");
	tcase_add_loop_test(tc, test_read_line_table, 0, G_N_ELEMENTS(line_cases));
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_escape_shows_smuggling_bytes, 5);
	return s;
}

MS_TEST_MAIN(conn_suite)
