/* tests/net/test_realnet.c - MsConn over real sockets on 127.0.0.1: corked
 * writes leave together and only at uncork, the simulated network ignores
 * corking, a read that waited and waits again still ends at shutdown, and
 * a read's time-out is kept to the millisecond. */
#include "tests/ms_test.h"
#include "net/realnet.h"
#include "net/simnet.h"

/* ---- corking ------------------------------------------------------------- */

#define BIG_LEN (MS_CONN_CORK_MAX + 1000)

typedef struct {
	MsListener *listener;
	MsStack    *client;
	const char *server_addr;
	gint        written;        /* atomic: the server wrote its corked lines */
	gsize       pending_corked; /* client: bytes there while the server was corked */
	gsize       pending_after;  /* client: bytes behind "one" once it came */
	char        lines[3][64];
	gboolean    big_ok;
	gboolean    uncork_failed;  /* server: uncork to a peer that is gone */
	gboolean    real;
} Cork;

static void cork_server(gpointer data)
{
	Cork *k = data;
	MsConn *c = ms_listener_accept(k->listener, NULL);
	ck_assert_ptr_nonnull(c);
	ms_conn_set_timeout(c, 5 * MS_SECOND);
	ms_conn_cork(c);
	ck_assert(ms_conn_write(c, "one\r\n", 5, NULL));
	ms_conn_cork(c);   /* nested: the inner uncork sends nothing */
	ck_assert(ms_conn_write(c, "two\r\n", 5, NULL));
	ck_assert(ms_conn_uncork(c, NULL));
	g_atomic_int_set(&k->written, 1);
	ms_sleep(200 * MS_MSEC);   /* the client looks meanwhile */
	ck_assert(ms_conn_uncork(c, NULL));

	/* a piece over the limit goes at once, after what is held */
	g_autofree char *big = g_malloc(BIG_LEN);
	memset(big, 'x', BIG_LEN - 2);
	memcpy(big + BIG_LEN - 2, "\r\n", 2);
	ms_conn_cork(c);
	ck_assert(ms_conn_write(c, "head\r\n", 6, NULL));
	ck_assert(ms_conn_write(c, big, BIG_LEN, NULL));
	ck_assert(ms_conn_write(c, "tail\r\n", 6, NULL));
	ck_assert(ms_conn_uncork(c, NULL));

	/* the client closes: sooner or later an uncork fails */
	char line[16];
	MsEol eol;
	ck_assert_int_eq(ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL), 0);
	ck_assert_int_eq(eol, MS_EOL_EOF);
	if (k->real) {
		for (int i = 0; i < 50 && !k->uncork_failed; i++) {
			ms_conn_cork(c);
			ck_assert(ms_conn_write(c, "late\r\n", 6, NULL));   /* held: no error yet */
			GError *error = NULL;
			if (!ms_conn_uncork(c, &error)) {
				ck_assert_ptr_nonnull(error);
				k->uncork_failed = TRUE;
				g_error_free(error);
			}
			ms_sleep(10 * MS_MSEC);
		}
	}
	ms_conn_unref(c);
	if (k->real)
		ms_sched_stop(ms_task_sched(ms_task_self()));
}

static void cork_client(gpointer data)
{
	Cork *k = data;
	MsConn *c = ms_stack_connect(k->client, k->server_addr, ms_listener_port(k->listener),
	                             5 * MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	ms_conn_set_timeout(c, 5 * MS_SECOND);
	while (!g_atomic_int_get(&k->written))
		ms_sleep(5 * MS_MSEC);
	ms_sleep(50 * MS_MSEC);
	k->pending_corked = ms_conn_pending(c);
	MsEol eol;
	ck_assert_int_eq(ms_conn_read_line(c, k->lines[0], sizeof k->lines[0] - 1, &eol, NULL), 3);
	k->pending_after = ms_conn_pending(c);
	ck_assert_int_eq(ms_conn_read_line(c, k->lines[1], sizeof k->lines[1] - 1, &eol, NULL), 3);
	ck_assert_int_eq(ms_conn_read_line(c, k->lines[2], sizeof k->lines[2] - 1, &eol, NULL), 4);
	g_autofree char *big = g_malloc(BIG_LEN + 1);
	gssize n = ms_conn_read_line(c, big, BIG_LEN, &eol, NULL);
	char tail[16];
	k->big_ok = n == BIG_LEN - 2 && eol == MS_EOL_CRLF && big[0] == 'x' && big[n - 1] == 'x'
	            && ms_conn_read_line(c, tail, sizeof tail - 1, &eol, NULL) == 4
	            && strcmp(tail, "tail") == 0;
	ms_conn_close(c);
	ms_conn_unref(c);
}

/* The SEND events' texts, in order, each on a line. */
static char *send_texts(MsSink *rec)
{
	GString *out = g_string_new("");
	GPtrArray *evs = ms_sink_recorder_events(rec);
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *ev = g_ptr_array_index(evs, i);
		if (ev->kind == MS_EV_SEND && g_str_has_prefix(ev->text, "S: ") && strlen(ev->text) < 20)
			g_string_append_printf(out, "%s\n", ev->text);
	}
	return g_string_free(out, FALSE);
}

START_TEST(test_real_cork_holds_writes_until_uncork)
{
	MsSched *s = ms_sched_new(MS_SCHED_REAL, 1);
	MsSink *rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(s), rec);
	MsStack *st = ms_realnet_stack_new(s, "mailsim", "127.0.0.1");
	Cork k = { .client = st, .server_addr = "127.0.0.1", .real = TRUE };
	k.listener = ms_stack_listen(st, NULL, 0, NULL);
	ck_assert_ptr_nonnull(k.listener);
	ms_task_spawn(s, "server", cork_server, &k);
	ms_task_spawn(s, "client", cork_client, &k);
	ck_assert(ms_sched_run(s, 10 * MS_SECOND));
	ms_sched_shutdown(s);
	ck_assert_uint_eq(k.pending_corked, 0);        /* nothing left before the uncork */
	ck_assert_str_eq(k.lines[0], "one");
	ck_assert_uint_ge(k.pending_after, 5);         /* "two\r\n" came in the same send */
	ck_assert_str_eq(k.lines[1], "two");
	ck_assert_str_eq(k.lines[2], "head");
	ck_assert(k.big_ok);
	ck_assert(k.uncork_failed);
	/* events as without corking: one per line, when written */
	g_autofree char *texts = send_texts(rec);
	ck_assert_ptr_nonnull(strstr(texts, "S: one\nS: two\nS: head\n"));
	ck_assert_ptr_nonnull(strstr(texts, "S: tail\n"));
	ms_listener_free(k.listener);
	ms_stack_unref(st);
	ms_sched_free(s);
}
END_TEST

/* On the simulated network a corked write is delivered as it is made:
 * the transcript is the same, corked or not. */
START_TEST(test_sim_cork_sends_each_write)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsSink *rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(s), rec);
	MsNet *net = ms_net_new(s);
	MsHost *a = ms_net_add_host(net, "client.example.net", "192.0.2.7", NULL);
	MsHost *b = ms_net_add_host(net, "server.example.org", "198.51.100.7", NULL);
	Cork k = { .client = ms_host_stack(a), .server_addr = "198.51.100.7" };
	k.listener = ms_stack_listen(ms_host_stack(b), NULL, 110, NULL);
	ms_task_spawn(s, "server", cork_server, &k);
	ms_task_spawn(s, "client", cork_client, &k);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	ck_assert_uint_eq(k.pending_corked, 10);       /* both lines there while corked */
	ck_assert_str_eq(k.lines[0], "one");
	ck_assert_str_eq(k.lines[2], "head");
	ck_assert(k.big_ok);
	g_autofree char *texts = send_texts(rec);
	ck_assert_ptr_nonnull(strstr(texts, "S: one\nS: two\nS: head\n"));
	ms_listener_free(k.listener);
	ms_sched_shutdown(s);
	ms_net_free(net);
	ms_sched_free(s);
}
END_TEST

/* ---- waiting -------------------------------------------------------------- */

typedef struct {
	MsListener *listener;
	MsStack    *stack;
	char        first[16];
	gint        reads_done;  /* atomic */
	GError     *error;       /* the second read's */
	MsConn     *client_conn; /* closed only after the shutdown: no EOF may end the read */
} Wait;

static void wait_server(gpointer data)
{
	Wait *w = data;
	MsConn *c = ms_listener_accept(w->listener, NULL);
	ck_assert_ptr_nonnull(c);
	ms_conn_set_timeout(c, MS_FOREVER);
	MsEol eol;
	/* the client writes after a while: this read waits for it */
	ms_conn_read_line(c, w->first, sizeof w->first - 1, &eol, NULL);
	g_atomic_int_inc(&w->reads_done);
	/* nothing more comes: only the shutdown ends this one */
	char line[16];
	gssize n = ms_conn_read_line(c, line, sizeof line - 1, &eol, &w->error);
	ck_assert_int_eq(n, -1);
	g_atomic_int_inc(&w->reads_done);
	ms_conn_unref(c);
}

static void wait_client(gpointer data)
{
	Wait *w = data;
	MsConn *c = ms_stack_connect(w->stack, "127.0.0.1", ms_listener_port(w->listener), 5 * MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	ms_sleep(100 * MS_MSEC);
	ms_conn_write(c, "hello\r\n", 7, NULL);
	w->client_conn = c;   /* stays open through the shutdown */
	ms_task_park(MS_FOREVER);
}

START_TEST(test_real_read_waits_again_and_ends_at_shutdown)
{
	MsSched *s = ms_sched_new(MS_SCHED_REAL, 1);
	MsStack *st = ms_realnet_stack_new(s, "mailsim", "127.0.0.1");
	Wait w = { .stack = st };
	w.listener = ms_stack_listen(st, NULL, 0, NULL);
	ck_assert_ptr_nonnull(w.listener);
	ms_task_spawn(s, "server", wait_server, &w);
	ms_task_spawn(s, "client", wait_client, &w);
	ck_assert(!ms_sched_run(s, 400 * MS_MSEC));
	ck_assert_str_eq(w.first, "hello");
	ck_assert_int_eq(g_atomic_int_get(&w.reads_done), 1);   /* the second read still waits */
	ms_sched_shutdown(s);
	ck_assert_int_eq(g_atomic_int_get(&w.reads_done), 2);
	ck_assert(g_error_matches(w.error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
	g_clear_error(&w.error);
	g_clear_pointer(&w.client_conn, ms_conn_unref);
	ms_listener_free(w.listener);
	ms_stack_unref(st);
	ms_sched_free(s);
}
END_TEST

/* A read waits as long as it was told, to the millisecond, then fails
 * with TIMED_OUT. */
typedef struct {
	MsListener *listener;
	MsStack    *stack;
	GError     *error;
	gint64      waited;
} Timeout;

static void timeout_server(gpointer data)
{
	Timeout *t = data;
	MsConn *c = ms_listener_accept(t->listener, NULL);
	ck_assert_ptr_nonnull(c);
	ms_conn_set_timeout(c, 200 * MS_MSEC);
	char line[16];
	MsEol eol;
	gint64 start = g_get_monotonic_time();
	ck_assert_int_eq(ms_conn_read_line(c, line, sizeof line - 1, &eol, &t->error), -1);
	t->waited = g_get_monotonic_time() - start;
	ms_conn_unref(c);
	ms_sched_stop(ms_task_sched(ms_task_self()));
}

static void silent_client(gpointer data)
{
	Timeout *t = data;
	MsConn *c = ms_stack_connect(t->stack, "127.0.0.1", ms_listener_port(t->listener), 5 * MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	ms_task_park(MS_FOREVER);
	ms_conn_unref(c);
}

START_TEST(test_real_read_times_out)
{
	MsSched *s = ms_sched_new(MS_SCHED_REAL, 1);
	MsStack *st = ms_realnet_stack_new(s, "mailsim", "127.0.0.1");
	Timeout t = { .stack = st };
	t.listener = ms_stack_listen(st, NULL, 0, NULL);
	ck_assert_ptr_nonnull(t.listener);
	ms_task_spawn(s, "server", timeout_server, &t);
	ms_task_spawn(s, "client", silent_client, &t);
	ck_assert(ms_sched_run(s, 10 * MS_SECOND));
	ms_sched_shutdown(s);
	ck_assert(g_error_matches(t.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
	ck_assert_int_ge(t.waited, 200 * MS_MSEC);
	ck_assert_int_lt(t.waited, 900 * MS_MSEC);   /* not rounded up to a second */
	g_clear_error(&t.error);
	ms_listener_free(t.listener);
	ms_stack_unref(st);
	ms_sched_free(s);
}
END_TEST

static Suite *realnet_suite(void)
{
	Suite *s = suite_create("realnet");
	MS_ADD_TEST(s, test_real_cork_holds_writes_until_uncork, 20);
	MS_ADD_TEST(s, test_sim_cork_sends_each_write, 10);
	MS_ADD_TEST(s, test_real_read_waits_again_and_ends_at_shutdown, 20);
	MS_ADD_TEST(s, test_real_read_times_out, 20);
	return s;
}

MS_TEST_MAIN(realnet_suite)
