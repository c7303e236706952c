/* tests/agents/common/test_group_commit.c - several tasks, one commit
 * round (agents/common/group_commit.c).
 *
 * In virtual time a commit never parks, so every join leads a group of
 * one, in order.  In real time many tasks join at once: each item is
 * committed exactly once, before its join returns, and groups form (fewer
 * rounds than items).
 */
#include "tests/ms_test.h"
#include "agents/common/group_commit.h"
#include "sim/kernel/sched.h"

#define REAL_TASKS      8
#define REAL_JOINS      25
#define COMMIT_PAUSE_US 2000   /* a slow fsync: time for the next group to gather */

typedef struct {
	gint     committed;   /* times a commit covered it: exactly 1 */
	gint     group_size;  /* the size of that commit's group */
	guint    order;       /* the commit's turn, from the counter below */
} Item;

typedef struct {
	gint     rounds;      /* commits run (atomic) */
	gint     running;     /* commits running at once: never above 1 */
	gint     overlap;     /* set if two ever ran at once */
	gint     tasks_left;  /* real mode: tasks not finished */
	gboolean pause;
	GroupCommit *gc;
	MsSched *sched;
} World;

static void commit_items(gpointer *items, guint n, gpointer user_data)
{
	World *w = user_data;
	if (g_atomic_int_add(&w->running, 1) != 0)
		g_atomic_int_set(&w->overlap, 1);
	guint turn = (guint)g_atomic_int_add(&w->rounds, 1);
	if (w->pause)
		g_usleep(COMMIT_PAUSE_US);
	for (guint i = 0; i < n; i++) {
		Item *it = items[i];
		g_atomic_int_inc(&it->committed);
		it->group_size = (gint)n;
		it->order = turn;
	}
	g_atomic_int_add(&w->running, -1);
}

/* ---- virtual time ---- */

typedef struct {
	World *w;
	Item   items[3];
	gboolean joined[3];
} VirtualTask;

static void virtual_joiner(gpointer data)
{
	VirtualTask *vt = data;
	for (guint i = 0; i < G_N_ELEMENTS(vt->items); i++) {
		vt->joined[i] = group_commit_join(vt->w->gc, &vt->items[i]);
		ms_sleep(10 * MS_MSEC);   /* let the other task run */
	}
}

START_TEST(test_virtual_alone)
{
	World w = { 0 };
	w.sched = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	w.gc = group_commit_new(commit_items, &w);
	VirtualTask a = { .w = &w }, b = { .w = &w };
	ms_task_spawn(w.sched, "a", virtual_joiner, &a);
	ms_task_spawn(w.sched, "b", virtual_joiner, &b);
	ck_assert(ms_sched_run(w.sched, MS_FOREVER));
	VirtualTask *tasks[] = { &a, &b };
	for (guint t = 0; t < 2; t++)
		for (guint i = 0; i < 3; i++) {
			ck_assert(tasks[t]->joined[i]);
			ck_assert_int_eq(tasks[t]->items[i].committed, 1);
			ck_assert_int_eq(tasks[t]->items[i].group_size, 1);   /* nobody ever waits */
		}
	/* one task at a time: a's first, then b's first, ... */
	ck_assert_uint_eq(a.items[0].order, 0);
	ck_assert_uint_eq(b.items[0].order, 1);
	ck_assert_uint_eq(a.items[2].order, 4);
	guint64 rounds, items;
	group_commit_stats(w.gc, &rounds, &items);
	ck_assert_uint_eq(rounds, 6);
	ck_assert_uint_eq(items, 6);
	ck_assert_int_eq(w.overlap, 0);
	ms_sched_free(w.sched);
	group_commit_free(w.gc);
}
END_TEST

/* ---- real time ---- */

typedef struct {
	World *w;
	Item   items[REAL_JOINS];
	gboolean all_joined;
	gboolean done_before_return;
} RealTask;

static void real_joiner(gpointer data)
{
	RealTask *rt = data;
	rt->all_joined = TRUE;
	rt->done_before_return = TRUE;
	for (guint i = 0; i < REAL_JOINS; i++) {
		rt->all_joined &= group_commit_join(rt->w->gc, &rt->items[i]);
		rt->done_before_return &= g_atomic_int_get(&rt->items[i].committed) == 1;
	}
	if (g_atomic_int_dec_and_test(&rt->w->tasks_left))
		ms_sched_stop(rt->w->sched);
}

START_TEST(test_real_groups)
{
	World w = { .pause = TRUE, .tasks_left = REAL_TASKS };
	w.sched = ms_sched_new(MS_SCHED_REAL, 1);
	w.gc = group_commit_new(commit_items, &w);
	RealTask *tasks = g_new0(RealTask, REAL_TASKS);
	for (guint t = 0; t < REAL_TASKS; t++) {
		tasks[t].w = &w;
		ms_task_spawn(w.sched, "joiner", real_joiner, &tasks[t]);
	}
	ck_assert(ms_sched_run(w.sched, 60 * MS_SECOND));
	guint largest = 0;
	for (guint t = 0; t < REAL_TASKS; t++) {
		ck_assert(tasks[t].all_joined);
		ck_assert(tasks[t].done_before_return);
		for (guint i = 0; i < REAL_JOINS; i++) {
			ck_assert_int_eq(tasks[t].items[i].committed, 1);
			largest = MAX(largest, (guint)tasks[t].items[i].group_size);
		}
	}
	guint64 rounds, items;
	group_commit_stats(w.gc, &rounds, &items);
	ck_assert_uint_eq(items, REAL_TASKS * REAL_JOINS);
	/* while one commit sleeps the others gather: groups of several */
	ck_assert_uint_lt(rounds, items);
	ck_assert_uint_gt(largest, 1);
	ck_assert_int_eq(w.overlap, 0);   /* one leader at a time */
	ms_sched_free(w.sched);
	group_commit_free(w.gc);
	g_free(tasks);
}
END_TEST

/* Shutdown while a member waits for the leader: it is told its item was
 * not committed (FALSE), and the leader still finishes its own group. */
typedef struct {
	GroupCommit *gc;
	Item         item;
	gboolean     joined;
	gint         returned;   /* atomic */
} Joiner;

static gint release_leader;   /* atomic: the blocked commit may end */
static gint leader_inside;    /* atomic: the blocked commit has begun */

static void blocked_commit(gpointer *items, guint n, gpointer user_data)
{
	g_atomic_int_set(&leader_inside, 1);
	while (!g_atomic_int_get(&release_leader))
		g_usleep(1000);
	for (guint i = 0; i < n; i++)
		((Item *)items[i])->committed++;
}

static void joiner_task(gpointer data)
{
	Joiner *j = data;
	j->joined = group_commit_join(j->gc, &j->item);
	g_atomic_int_set(&j->returned, 1);
}

static gpointer releaser(gpointer data)
{
	Joiner *second = data;
	while (!g_atomic_int_get(&second->returned))
		g_usleep(1000);
	g_atomic_int_set(&release_leader, 1);
	return NULL;
}

START_TEST(test_real_shutdown)
{
	MsSched *s = ms_sched_new(MS_SCHED_REAL, 1);
	GroupCommit *gc = group_commit_new(blocked_commit, NULL);
	Joiner first = { .gc = gc }, second = { .gc = gc };
	ms_task_spawn(s, "leader", joiner_task, &first);
	while (!g_atomic_int_get(&leader_inside))
		g_usleep(1000);
	ms_task_spawn(s, "member", joiner_task, &second);
	g_usleep(50 * 1000);   /* time to join and park */
	ck_assert(!g_atomic_int_get(&second.returned));
	GThread *r = g_thread_new("releaser", releaser, &second);
	ms_sched_shutdown(s);   /* the member wakes cancelled; then the leader ends */
	g_thread_join(r);
	ck_assert(first.joined);
	ck_assert_int_eq(first.item.committed, 1);
	ck_assert(!second.joined);
	ck_assert_int_eq(second.item.committed, 0);
	guint64 rounds, items;
	group_commit_stats(gc, &rounds, &items);
	ck_assert_uint_eq(rounds, 1);
	ck_assert_uint_eq(items, 1);
	ms_sched_free(s);
	group_commit_free(gc);
}
END_TEST

static Suite *group_commit_suite(void)
{
	Suite *s = suite_create("group_commit");
	MS_ADD_TEST(s, test_virtual_alone, 10);
	MS_ADD_TEST(s, test_real_groups, 60);
	MS_ADD_TEST(s, test_real_shutdown, 10);
	return s;
}

MS_TEST_MAIN(group_commit_suite)
