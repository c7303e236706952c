/* tests/sim/kernel/test_sched.c - the baton scheduler: virtual time,
 * deterministic order, park/unpark, run limits, shutdown, the gate, and the
 * real-time mode; short tasks reusing a bounded pool of threads. */
#include <stdlib.h>
#include "tests/ms_test.h"
#include "sim/kernel/sched.h"

typedef struct {
	GString *log;
	gint64   sleep_us;
	const char *name;
	gint64   woke_at;
} Sleeper;

static void sleeper_task(gpointer data)
{
	Sleeper *sl = data;
	MsSched *s = ms_task_sched(ms_task_self());
	ck_assert(ms_sleep(sl->sleep_us));
	sl->woke_at = ms_sched_now(s);
	g_string_append(sl->log, sl->name);
}

START_TEST(test_hour_sleep_costs_no_wall_time)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	GString *log = g_string_new("");
	Sleeper sl = { log, 3600 * MS_SECOND, "a", 0 };
	gint64 wall0 = g_get_monotonic_time();
	ms_task_spawn(s, "sleeper", sleeper_task, &sl);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	gint64 wall = g_get_monotonic_time() - wall0;
	ck_assert_int_eq(sl.woke_at, 3600 * MS_SECOND);
	ck_assert_int_eq(ms_sched_now(s), 3600 * MS_SECOND);
	ck_assert_int_lt(wall, MS_SECOND / 2);
	ck_assert_str_eq(log->str, "a");
	ms_sched_free(s);
	g_string_free(log, TRUE);
}
END_TEST

START_TEST(test_wakeups_in_time_order_ties_by_spawn_order)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	GString *log = g_string_new("");
	Sleeper sl[] = {
		{ log, 30, "c", 0 }, { log, 10, "a", 0 }, { log, 20, "b", 0 },
		{ log, 20, "B", 0 }, { log, 10, "A", 0 },
	};
	for (guint i = 0; i < G_N_ELEMENTS(sl); i++)
		ms_task_spawn(s, sl[i].name, sleeper_task, &sl[i]);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	/* 10: a then A (spawned later), 20: b then B, 30: c */
	ck_assert_str_eq(log->str, "aAbBc");
	ms_sched_free(s);
	g_string_free(log, TRUE);
}
END_TEST

START_TEST(test_run_until_stops_with_work_pending)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	GString *log = g_string_new("");
	Sleeper early = { log, 5 * MS_SECOND, "e", 0 }, late = { log, 50 * MS_SECOND, "l", 0 };
	ms_task_spawn(s, "early", sleeper_task, &early);
	ms_task_spawn(s, "late", sleeper_task, &late);
	ck_assert(!ms_sched_run(s, 10 * MS_SECOND));
	ck_assert_int_eq(ms_sched_now(s), 10 * MS_SECOND);
	ck_assert_str_eq(log->str, "e");
	ck_assert(ms_sched_run(s, MS_FOREVER));
	ck_assert_str_eq(log->str, "el");
	ck_assert_int_eq(ms_sched_now(s), 50 * MS_SECOND);
	ms_sched_free(s);
	g_string_free(log, TRUE);
}
END_TEST

typedef struct {
	MsTask *waiter;
	MsParkResult results[3];
	gint64 times[3];
} ParkPair;

static void parker_task(gpointer data)
{
	ParkPair *pp = data;
	MsSched *s = ms_task_sched(ms_task_self());
	pp->results[0] = ms_task_park(MS_FOREVER);         /* woken by the unparker */
	pp->times[0] = ms_sched_now(s);
	pp->results[1] = ms_task_park(ms_sched_now(s) + 100); /* nobody: times out */
	pp->times[1] = ms_sched_now(s);
	pp->results[2] = ms_task_park(MS_FOREVER);         /* a permit already waits */
	pp->times[2] = ms_sched_now(s);
}

static void unparker_task(gpointer data)
{
	ParkPair *pp = data;
	ms_sleep(7);
	ms_task_unpark(pp->waiter);
	ms_sleep(1000);
	/* the parker is parked forever in its third park now: wake it */
	ms_task_unpark(pp->waiter);
}

START_TEST(test_park_unpark_and_permits)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	ParkPair pp = { 0 };
	pp.waiter = ms_task_spawn(s, "parker", parker_task, &pp);
	ms_task_spawn(s, "unparker", unparker_task, &pp);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	ck_assert_int_eq(pp.results[0], MS_PARK_UNPARKED);
	ck_assert_int_eq(pp.times[0], 7);
	ck_assert_int_eq(pp.results[1], MS_PARK_TIMEOUT);
	ck_assert_int_eq(pp.times[1], 107);
	ck_assert_int_eq(pp.results[2], MS_PARK_UNPARKED);
	ck_assert_int_eq(pp.times[2], 1007);
	ms_sched_free(s);
}
END_TEST

static void permit_task(gpointer data)
{
	MsParkResult *r = data;
	ms_task_unpark(ms_task_self());   /* unpark before park: a permit */
	r[0] = ms_task_park(MS_FOREVER);
	r[1] = ms_task_park(ms_sched_now(ms_task_sched(ms_task_self())) + 5);
}

START_TEST(test_permit_before_park)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsParkResult r[2] = { MS_PARK_CANCELLED, MS_PARK_CANCELLED };
	ms_task_spawn(s, "self", permit_task, r);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	ck_assert_int_eq(r[0], MS_PARK_UNPARKED);
	ck_assert_int_eq(r[1], MS_PARK_TIMEOUT);   /* one permit, used once */
	ms_sched_free(s);
}
END_TEST

static void forever_task(gpointer data)
{
	*(MsParkResult *)data = ms_task_park(MS_FOREVER);
}

START_TEST(test_shutdown_cancels_parked_tasks)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsParkResult r = MS_PARK_UNPARKED;
	ms_task_spawn(s, "forever", forever_task, &r);
	ck_assert(ms_sched_run(s, MS_FOREVER));   /* quiet: it parks forever */
	ms_sched_shutdown(s);
	ck_assert_int_eq(r, MS_PARK_CANCELLED);
	ms_sched_free(s);
}
END_TEST

/* ---- the gate: deliveries wait for tokens ---- */

static int deliveries;

static void count_delivery(gpointer data)
{
	deliveries++;
}

static void scheduler_of_actions(gpointer data)
{
	MsSched *s = ms_task_sched(ms_task_self());
	for (int i = 0; i < 3; i++)
		ms_sched_at(s, ms_sched_now(s) + 10 * (i + 1), TRUE, count_delivery, NULL, NULL);
}

typedef struct {
	MsSched *s;
	int seen_before_token[3];
} Stepper;

static gpointer stepper_thread(gpointer data)
{
	Stepper *st = data;
	for (int i = 0; i < 3; i++) {
		while (!ms_sched_gate_waiting(st->s))
			g_usleep(1000);
		g_usleep(5000);
		/* the heap holds a gated action and nothing moves until we say */
		ms_sched_lock(st->s);
		st->seen_before_token[i] = deliveries;
		ms_sched_unlock(st->s);
		ms_sched_gate_step(st->s, 1);
		while (i < 2 && ms_sched_gate_waiting(st->s)) {   /* not after the last: main holds the lock then */
			ms_sched_lock(st->s);
			int d = deliveries;
			ms_sched_unlock(st->s);
			if (d > i)
				break;
			g_usleep(1000);
		}
	}
	return NULL;
}

START_TEST(test_gate_holds_deliveries_until_stepped)
{
	deliveries = 0;
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	ms_sched_gate_close(s);
	ms_task_spawn(s, "actions", scheduler_of_actions, NULL);
	Stepper st = { s, { -1, -1, -1 } };
	GThread *th = g_thread_new("stepper", stepper_thread, &st);
	ck_assert(ms_sched_run(s, MS_FOREVER));
	g_thread_join(th);
	ck_assert_int_eq(deliveries, 3);
	ck_assert_int_eq(st.seen_before_token[0], 0);
	ck_assert_int_eq(st.seen_before_token[1], 1);
	ck_assert_int_eq(st.seen_before_token[2], 2);
	ms_sched_free(s);
}
END_TEST

/* ---- real mode ---- */

typedef struct {
	MsTask *waiter;
	MsParkResult r1, r2;
	gint64 waited_us;
} RealPark;

static void real_parker(gpointer data)
{
	RealPark *rp = data;
	gint64 t0 = g_get_monotonic_time();
	MsSched *s = ms_task_sched(ms_task_self());
	rp->r1 = ms_task_park(ms_sched_now(s) + 50 * MS_MSEC);
	rp->waited_us = g_get_monotonic_time() - t0;
	rp->r2 = ms_task_park(MS_FOREVER);   /* unparked by main */
	ms_sched_stop(s);
}

START_TEST(test_real_mode_park_and_unpark)
{
	MsSched *s = ms_sched_new(MS_SCHED_REAL, 1);
	RealPark rp = { 0 };
	rp.waiter = ms_task_spawn(s, "parker", real_parker, &rp);
	g_usleep(150 * 1000);
	ms_task_unpark(rp.waiter);
	ck_assert(ms_sched_run(s, 5 * MS_SECOND));
	ck_assert_int_eq(rp.r1, MS_PARK_TIMEOUT);
	ck_assert_int_ge(rp.waited_us, 50 * MS_MSEC);
	ck_assert_int_eq(rp.r2, MS_PARK_UNPARKED);
	ms_sched_free(s);
}
END_TEST

/* ---- short tasks: threads are reused, order is not changed ---- */

#define SHORT_CHAIN   1000  /* tasks started one after another */
#define SHORT_BURST   600   /* tasks started together, more than the pool keeps */
#define SHORT_ROUNDS  4
#define POOL_MAX_IDLE 256   /* SCHED_POOL_MAX_IDLE in sim/kernel/sched.c */

typedef struct {
	MsTask *driver;       /* unparked by the last task of each round */
	GArray *order;        /* of int: each task's number, as it ran */
	GHashTable *threads;  /* the threads tasks ran on, by short_thread_id */
	int     next;         /* the next task's number */
	int     total;
	int     per_round;
	gboolean by_action;   /* each task's end schedules the next spawn */
} Shorts;

typedef struct {
	Shorts *sh;
	int     n;
} ShortTask;

static void short_spawn(Shorts *sh, MsSched *s);

/* Which thread a task runs on: numbered the first time a thread runs a
 * short task (a thread id might come back once its thread has ended). */
static _Thread_local guint short_thread_id;
static guint short_threads_seen;   /* touched only by the baton's holder */

static void short_spawn_action(gpointer data)
{
	Shorts *sh = data;
	short_spawn(sh, ms_task_sched(sh->driver));
}

static void short_task(gpointer data)
{
	ShortTask *st = data;
	Shorts *sh = st->sh;
	MsSched *s = ms_task_sched(ms_task_self());
	g_array_append_val(sh->order, st->n);
	if (short_thread_id == 0)
		short_thread_id = ++short_threads_seen;
	g_hash_table_add(sh->threads, GUINT_TO_POINTER(short_thread_id));
	if (sh->by_action) {
		/* run by whichever thread dispatches next: this one, which
		 * has just ended its task */
		if (sh->next < sh->total)
			ms_sched_at(s, ms_sched_now(s) + 1, FALSE, short_spawn_action, sh, NULL);
	} else if ((st->n + 1) % sh->per_round == 0) {
		ms_task_unpark(sh->driver);
	}
	g_free(st);
}

static void short_spawn(Shorts *sh, MsSched *s)
{
	ShortTask *st = g_new0(ShortTask, 1);
	st->sh = sh;
	st->n = sh->next++;
	ms_task_spawn(s, "short", short_task, st);
}

static void short_driver(gpointer data)
{
	Shorts *sh = data;
	MsSched *s = ms_task_sched(ms_task_self());
	if (sh->by_action) {
		short_spawn(sh, s);
		return;
	}
	while (sh->next < sh->total) {
		for (int i = 0; i < sh->per_round; i++)
			short_spawn(sh, s);
		ck_assert_int_eq(ms_task_park(MS_FOREVER), MS_PARK_UNPARKED);
	}
}

/* Runs one world of short tasks; returns how many threads they ran on. */
static guint short_run(MsSched *s, int total, int per_round, gboolean by_action)
{
	Shorts sh = { .order = g_array_new(FALSE, FALSE, sizeof(int)),
	              .threads = g_hash_table_new(NULL, NULL),
	              .total = total, .per_round = per_round, .by_action = by_action };
	/* kept: by_action's spawns go on after the driver has ended */
	sh.driver = ms_task_ref(ms_task_spawn(s, "driver", short_driver, &sh));
	ck_assert(ms_sched_run(s, MS_FOREVER));
	ck_assert_int_eq(sh.order->len, total);
	for (int i = 0; i < total; i++)
		ck_assert_int_eq(g_array_index(sh.order, int, i), i);
	guint threads = g_hash_table_size(sh.threads);
	ms_task_unref(sh.driver);
	g_array_free(sh.order, TRUE);
	g_hash_table_destroy(sh.threads);
	return threads;
}

/* A task parks for an hour, is woken at once and ends: the heap still has
 * its hour's wake-up, and a test still has a reference. */
static void brief_task(gpointer data)
{
	gint *woke = data;
	MsSched *s = ms_task_sched(ms_task_self());
	g_atomic_int_set(woke, ms_task_park(ms_sched_now(s) + 3600 * MS_SECOND) == MS_PARK_UNPARKED);
}

static void waker_task(gpointer data)
{
	ms_task_unpark(data);
}

static void ended_task_kept(MsSchedMode mode)
{
	MsSched *s = ms_sched_new(mode, 1);
	gint woke = 0;
	MsTask *t = ms_task_ref(ms_task_spawn(s, "brief", brief_task, &woke));
	ms_task_spawn(s, "waker", waker_task, t);
	if (mode == MS_SCHED_VIRTUAL) {
		ck_assert(ms_sched_run(s, MS_FOREVER));
		/* the stale hour entry was popped (its task ended) without
		 * moving the clock */
		ck_assert_int_lt(ms_sched_now(s), MS_SECOND);
	} else {
		for (int i = 0; i < 500 && !g_atomic_int_get(&woke); i++)
			g_usleep(10 * 1000);
	}
	ck_assert_int_eq(g_atomic_int_get(&woke), 1);
	/* the struct outlives the task for who holds a reference */
	ms_task_unpark(t);
	ck_assert_str_eq(ms_task_name(t), "brief");
	ck_assert_ptr_eq(ms_task_sched(t), s);
	ms_task_unref(t);
	ms_task_unref(NULL);
	ms_sched_free(s);
}

START_TEST(test_ended_task_kept_by_a_reference)
{
	ended_task_kept(MS_SCHED_VIRTUAL);
	ended_task_kept(MS_SCHED_REAL);
}
END_TEST

/* The process's threads, from /proc/self/status. */
static int proc_threads(void)
{
	g_autofree char *status = NULL;
	ck_assert(g_file_get_contents("/proc/self/status", &status, NULL, NULL));
	const char *p = strstr(status, "\nThreads:");
	ck_assert_ptr_nonnull(p);
	return atoi(p + strlen("\nThreads:"));
}

/* Wait (a little) for threads that were told to end to be gone. */
static int proc_threads_settle(int at_most)
{
	int n = proc_threads();
	for (int i = 0; i < 500 && n > at_most; i++) {
		g_usleep(10 * 1000);
		n = proc_threads();
	}
	return n;
}

START_TEST(test_short_tasks_reuse_a_bounded_pool_of_threads)
{
	int base = proc_threads();
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);

	/* One after another: each task runs on the thread the last one ran on
	 * (the driver runs on one more). */
	ck_assert_uint_le(short_run(s, SHORT_CHAIN, 1, FALSE), 2);
	/* The same when the spawn comes from an action that the ending task's
	 * own thread dispatches. */
	ck_assert_uint_le(short_run(s, SHORT_CHAIN, 1, TRUE), 2);

	/* In bursts: each round needs a thread per task; the pool keeps only
	 * POOL_MAX_IDLE between rounds, so the rest are new threads. */
	guint threads = short_run(s, SHORT_BURST * SHORT_ROUNDS, SHORT_BURST, FALSE);
	ck_assert_uint_eq(threads, SHORT_BURST + (SHORT_ROUNDS - 1) * (SHORT_BURST - POOL_MAX_IDLE));
	/* Quiet, the world keeps the idle pool and no more. */
	ck_assert_int_eq(proc_threads_settle(base + POOL_MAX_IDLE), base + POOL_MAX_IDLE);

	ms_sched_free(s);
	ck_assert_int_eq(proc_threads_settle(base), base);
}
END_TEST

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	MS_ADD_TEST(s, test_hour_sleep_costs_no_wall_time, 10);
	MS_ADD_TEST(s, test_wakeups_in_time_order_ties_by_spawn_order, 10);
	MS_ADD_TEST(s, test_run_until_stops_with_work_pending, 10);
	MS_ADD_TEST(s, test_park_unpark_and_permits, 10);
	MS_ADD_TEST(s, test_permit_before_park, 10);
	MS_ADD_TEST(s, test_shutdown_cancels_parked_tasks, 10);
	MS_ADD_TEST(s, test_gate_holds_deliveries_until_stepped, 20);
	MS_ADD_TEST(s, test_short_tasks_reuse_a_bounded_pool_of_threads, 60);
	MS_ADD_TEST(s, test_real_mode_park_and_unpark, 10);
	MS_ADD_TEST(s, test_ended_task_kept_by_a_reference, 10);
	return s;
}

MS_TEST_MAIN(sched_suite)
