/* tests/agents/mda/test_authsvc.c - the account service protocol and the
 * clients' pool of connections, over the simulated network: answers, many
 * questions over one connection, parallel questions on parallel
 * connections, the idle limit and time, and a reused connection that the
 * service closed meanwhile. */
#include "tests/ms_test.h"
#include "agents/mda/authsvc.h"
#include "net/simnet.h"

/* ---- a service with a fixed table ---- */

typedef struct {
	MsSched    *s;
	MsNet      *net;
	MsSink     *rec;
	MsListener *l;
	MsStack    *client;
	gint        accepted;   /* connections the service took (one task runs at a time) */
	gint        served;     /* connections it finished */
	void      (*script)(gpointer w);
} World;

static gboolean backend_verify(gpointer ud, const char *user, const char *password, GError **error)
{
	return !strcmp(user, "bob@example.org") && !strcmp(password, "builder");
}

static GPtrArray *backend_resolve(gpointer ud, const char *address, GError **error)
{
	GPtrArray *boxes = g_ptr_array_new_with_free_func(g_free);
	if (!strcmp(address, "bob@example.org") || !strcmp(address, "postmaster@example.org"))
		g_ptr_array_add(boxes, g_strdup("bob@example.org"));
	return boxes;
}

static const AuthsvcBackend backend = { backend_verify, backend_resolve };

typedef struct {
	World  *w;
	MsConn *conn;
} Serving;

static void serve_task(gpointer data)
{
	Serving *sv = data;
	authsvc_serve(sv->conn, &backend, sv->w, "out.3", "in.5");
	ms_conn_unref(sv->conn);
	sv->w->served++;
	g_free(sv);
}

static void accept_task(gpointer data)
{
	World *w = data;
	MsConn *c;
	while ((c = ms_listener_accept(w->l, NULL))) {
		w->accepted++;
		Serving *sv = g_new0(Serving, 1);
		sv->w = w;
		sv->conn = c;
		ms_task_spawn(w->s, "auth#", serve_task, sv);
	}
}

static void script_task(gpointer data)
{
	World *w = data;
	w->script(w);
	ms_listener_close(w->l);
}

/* Run script as a task of a world with the service on 198.51.100.20. */
static World *run(void (*script)(gpointer w))
{
	World *w = g_new0(World, 1);
	w->s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	w->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(w->s), w->rec);
	w->net = ms_net_new(w->s);
	ms_net_set_link(w->net, "*", "*", 10 * MS_MSEC, 0);
	MsHost *mx = ms_net_add_host(w->net, "mx.example.org", "198.51.100.20", NULL);
	MsHost *mda = ms_net_add_host(w->net, "mda.example.org", "198.51.100.30", NULL);
	w->client = ms_host_stack(mx);
	w->l = ms_stack_listen(ms_host_stack(mda), NULL, AUTHSVC_PORT, NULL);
	ck_assert_ptr_nonnull(w->l);
	w->script = script;
	ms_task_spawn(w->s, "service", accept_task, w);
	ms_task_spawn(w->s, "script", script_task, w);
	ck_assert(ms_sched_run(w->s, MS_FOREVER));
	return w;
}

static void world_free(World *w)
{
	ms_listener_free(w->l);
	ms_sched_shutdown(w->s);
	ms_net_free(w->net);
	ms_sched_free(w->s);
	g_free(w);
}

static guint count_events(World *w, MsEventKind kind, const char *text)
{
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	guint n = 0;
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind == kind && (!text || (e->text && strstr(e->text, text))))
			n++;
	}
	return n;
}

#define SERVICE "198.51.100.30"

/* ---- the answers, one connection for all ---- */

static void script_answers(gpointer data)
{
	World *w = data;
	AuthsvcPool *pool = authsvc_pool_new(w->client, SERVICE, AUTHSVC_PORT);
	g_autoptr(GPtrArray) boxes = NULL;
	ck_assert_int_eq(authsvc_pool_rcpt(pool, "postmaster@example.org", "in.4", &boxes, NULL), AUTHSVC_OK);
	ck_assert_uint_eq(boxes->len, 1);
	ck_assert_str_eq(g_ptr_array_index(boxes, 0), "bob@example.org");
	ck_assert_int_eq(authsvc_pool_rcpt(pool, "nobody@example.org", "in.4", NULL, NULL), AUTHSVC_NO);
	ck_assert_int_eq(authsvc_pool_auth(pool, "bob@example.org", "builder", "out.2", NULL), AUTHSVC_OK);
	gint64 t0 = ms_sched_now(w->s);
	ck_assert_int_eq(authsvc_pool_auth(pool, "bob@example.org", "wrong", "out.2", NULL), AUTHSVC_NO);
	ck_assert_int_ge(ms_sched_now(w->s) - t0, AUTHSVC_FAIL_DELAY);   /* a wrong password waits */
	/* a name that would garble the protocol is refused without asking */
	ck_assert_int_eq(authsvc_pool_rcpt(pool, "bob@example.org\r\nQUIT", "in.4", NULL, NULL), AUTHSVC_NO);
	ck_assert_int_eq(w->accepted, 1);   /* five questions, one connection */
	ck_assert_uint_eq(authsvc_pool_idle(pool), 1);
	/* nothing more for a while: the pool says QUIT, the service ends */
	ms_sleep(AUTHSVC_POOL_IDLE_TIME + MS_SECOND);
	ck_assert_uint_eq(authsvc_pool_idle(pool), 0);
	ck_assert_int_eq(w->served, 1);
	/* and the next question opens a new one */
	ck_assert_int_eq(authsvc_pool_rcpt(pool, "bob@example.org", "in.4", NULL, NULL), AUTHSVC_OK);
	ck_assert_int_eq(w->accepted, 2);
	authsvc_pool_free(pool);
}

START_TEST(test_pool_answers_over_one_connection)
{
	World *w = run(script_answers);
	ck_assert_int_eq(w->served, 2);   /* the free said QUIT to the second */
	ck_assert_uint_eq(count_events(w, MS_EV_NOTE, "none came: QUIT"), 1);
	world_free(w);
}
END_TEST

/* ---- parallel questions ---- */

typedef struct {
	World        *w;
	AuthsvcPool  *pool;
	AuthsvcClient *held;
	gint          done;
} Parallel;

static void asker_task(gpointer data)
{
	Parallel *p = data;
	ck_assert_int_eq(authsvc_pool_auth(p->pool, "bob@example.org", "wrong", "out.2", NULL), AUTHSVC_NO);
	p->done++;
}

static void script_parallel(gpointer data)
{
	World *w = data;
	Parallel p = { .w = w, .pool = authsvc_pool_new(w->client, SERVICE, AUTHSVC_PORT) };
	/* three slow questions at once: three connections */
	for (int i = 0; i < 3; i++)
		ms_task_spawn(w->s, "asker", asker_task, &p);
	while (p.done < 3)
		ms_sleep(100 * MS_MSEC);
	ck_assert_int_eq(w->accepted, 3);
	ck_assert_uint_eq(authsvc_pool_idle(p.pool), 3);
	/* then one after the other: all over the ones kept */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(authsvc_pool_rcpt(p.pool, "bob@example.org", "in.4", NULL, NULL), AUTHSVC_OK);
	ck_assert_int_eq(w->accepted, 3);

	/* at most AUTHSVC_POOL_IDLE_MAX wait; the others are closed when given back */
	AuthsvcClient *held[AUTHSVC_POOL_IDLE_MAX + 2];
	for (guint i = 0; i < G_N_ELEMENTS(held); i++) {
		held[i] = authsvc_pool_take(p.pool, NULL, NULL);
		ck_assert_ptr_nonnull(held[i]);
	}
	ck_assert_uint_eq(authsvc_pool_idle(p.pool), 0);
	for (guint i = 0; i < G_N_ELEMENTS(held); i++)
		authsvc_pool_give(p.pool, held[i], TRUE);
	ck_assert_uint_eq(authsvc_pool_idle(p.pool), AUTHSVC_POOL_IDLE_MAX);
	/* one the caller does not trust is not kept */
	AuthsvcClient *c = authsvc_pool_take(p.pool, NULL, NULL);
	authsvc_pool_give(p.pool, c, FALSE);
	ck_assert_uint_eq(authsvc_pool_idle(p.pool), AUTHSVC_POOL_IDLE_MAX - 1);
	/* closing: the idle ones are closed at once, none is kept after */
	authsvc_pool_close(p.pool);
	ms_sleep(MS_SECOND);
	ck_assert_uint_eq(authsvc_pool_idle(p.pool), 0);
	c = authsvc_client_connect(w->client, SERVICE, AUTHSVC_PORT, NULL);
	authsvc_pool_give(p.pool, c, TRUE);
	ck_assert_uint_eq(authsvc_pool_idle(p.pool), 0);
	ck_assert_int_eq(w->served, w->accepted);
	authsvc_pool_free(p.pool);
}

START_TEST(test_pool_parallel_and_bounded)
{
	World *w = run(script_parallel);
	ck_assert_int_eq(w->accepted, AUTHSVC_POOL_IDLE_MAX + 3);
	ck_assert_int_eq(w->served, w->accepted);
	ck_assert_uint_eq(count_events(w, MS_EV_NOTE, "none came: QUIT"), 0);   /* closed, not timed out */
	world_free(w);
}
END_TEST

/* ---- a kept connection the service closed ---- */

static void script_stale(gpointer data)
{
	World *w = data;
	AuthsvcPool *pool = authsvc_pool_new(w->client, SERVICE, AUTHSVC_PORT);
	gboolean reused = TRUE;
	AuthsvcClient *c = authsvc_pool_take(pool, &reused, NULL);
	ck_assert(!reused);
	/* held past the service's idle time-out: it hangs up on us */
	ms_sleep(AUTHSVC_TIMEOUT + MS_SECOND);
	ck_assert_int_eq(w->served, 1);
	ck_assert(authsvc_client_usable(c));   /* we cannot know yet */
	authsvc_pool_give(pool, c, TRUE);
	ck_assert_uint_eq(authsvc_pool_idle(pool), 1);
	/* the question fails on it, and is asked again on a new one */
	g_autoptr(GError) err = NULL;
	ck_assert_int_eq(authsvc_pool_auth(pool, "bob@example.org", "builder", "out.2", &err), AUTHSVC_OK);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(w->accepted, 2);
	ck_assert_uint_eq(authsvc_pool_idle(pool), 1);   /* the new one; the broken one is gone */
	c = authsvc_pool_take(pool, &reused, NULL);
	ck_assert(reused && authsvc_client_usable(c));
	authsvc_pool_give(pool, c, TRUE);
	authsvc_pool_free(pool);
}

START_TEST(test_pool_retries_a_closed_connection)
{
	World *w = run(script_stale);
	ck_assert_int_eq(w->accepted, 2);
	ck_assert_int_eq(w->served, 2);
	world_free(w);
}
END_TEST

/* ---- the service stops answering ---- */

static void script_down(gpointer data)
{
	World *w = data;
	AuthsvcPool *pool = authsvc_pool_new(w->client, "198.51.100.99", AUTHSVC_PORT);   /* nobody there */
	g_autoptr(GError) err = NULL;
	ck_assert_int_eq(authsvc_pool_rcpt(pool, "bob@example.org", "in.4", NULL, &err), AUTHSVC_TEMPFAIL);
	ck_assert_ptr_nonnull(err);
	ck_assert_uint_eq(authsvc_pool_idle(pool), 0);
	authsvc_pool_free(pool);
}

START_TEST(test_pool_service_unreachable)
{
	World *w = run(script_down);
	ck_assert_int_eq(w->accepted, 0);
	world_free(w);
}
END_TEST

static Suite *authsvc_suite(void)
{
	Suite *s = suite_create("authsvc");
	MS_ADD_TEST(s, test_pool_answers_over_one_connection, 20);
	MS_ADD_TEST(s, test_pool_parallel_and_bounded, 20);
	MS_ADD_TEST(s, test_pool_retries_a_closed_connection, 20);
	MS_ADD_TEST(s, test_pool_service_unreachable, 60);
	return s;
}

MS_TEST_MAIN(authsvc_suite)
