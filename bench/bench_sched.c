/* bench/bench_sched.c - how fast can the baton change hands?
 *
 * Prints, side by side, the machine's own limit (two plain threads playing
 * ping-pong with a mutex and condition variables) and mailsim's scheduler
 * doing the same through ms_task_park/ms_task_unpark on the virtual clock.
 * DESIGN.md expects roughly 45,000-175,000 hand-offs/s on a 2-core machine.
 * Then how many short tasks per second the scheduler starts and ends: one
 * after another (a session, a DNS query) and in bursts (a world waking up).
 */
#include "sim/kernel/sched.h"

#include <stdio.h>

#define ROUNDS 200000
#define SPAWNS 40000      /* short tasks per spawn case */
#define SPAWN_BURST 400   /* tasks started together in the burst case */

/* ---- the machine: two threads, one mutex, two condition variables ---- */

typedef struct {
	GMutex lock;
	GCond  cond[2];
	int    turn;
	int    rounds;
} PingPong;

static gpointer pong_thread(gpointer data)
{
	PingPong *pp = data;
	g_mutex_lock(&pp->lock);
	for (int i = 0; i < pp->rounds; i++) {
		while (pp->turn != 1)
			g_cond_wait(&pp->cond[1], &pp->lock);
		pp->turn = 0;
		g_cond_signal(&pp->cond[0]);
	}
	g_mutex_unlock(&pp->lock);
	return NULL;
}

static double raw_pingpong(int rounds)
{
	PingPong pp = { .rounds = rounds };
	g_mutex_init(&pp.lock);
	g_cond_init(&pp.cond[0]);
	g_cond_init(&pp.cond[1]);
	GThread *t = g_thread_new("pong", pong_thread, &pp);
	gint64 t0 = g_get_monotonic_time();
	g_mutex_lock(&pp.lock);
	for (int i = 0; i < rounds; i++) {
		pp.turn = 1;
		g_cond_signal(&pp.cond[1]);
		while (pp.turn != 0)
			g_cond_wait(&pp.cond[0], &pp.lock);
	}
	g_mutex_unlock(&pp.lock);
	gint64 us = g_get_monotonic_time() - t0;
	g_thread_join(t);
	return 2.0 * rounds / (us / 1e6);
}

/* ---- mailsim: two tasks unparking each other ---- */

typedef struct {
	MsTask *peer;
	int     rounds;
} Player;

static void player(gpointer data)
{
	Player *p = data;
	for (int i = 0; i < p->rounds; i++) {
		ms_task_unpark(p->peer);
		if (ms_task_park(MS_FOREVER) == MS_PARK_CANCELLED)
			return;
	}
	ms_task_unpark(p->peer);
}

static double sched_pingpong(int rounds, guint64 *handoffs)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	Player a = { .rounds = rounds }, b = { .rounds = rounds };
	MsTask *ta = ms_task_spawn(s, "ping", player, &a);
	MsTask *tb = ms_task_spawn(s, "pong", player, &b);
	a.peer = tb;
	b.peer = ta;
	gint64 t0 = g_get_monotonic_time();
	ms_sched_run(s, MS_FOREVER);
	gint64 us = g_get_monotonic_time() - t0;
	*handoffs = ms_sched_handoffs(s);
	ms_sched_free(s);
	return *handoffs / (us / 1e6);
}

/* ---- mailsim: short tasks, started and ended in a loop ---- */

typedef struct {
	MsTask *spawner;
	int     tasks;
	int     burst;      /* tasks started before the spawner waits */
	int     ended;
} Spawner;

static void short_task(gpointer data)
{
	Spawner *sp = data;
	if (++sp->ended % sp->burst == 0)
		ms_task_unpark(sp->spawner);
}

static void spawner(gpointer data)
{
	Spawner *sp = data;
	sp->spawner = ms_task_self();
	for (int i = 0; i < sp->tasks; i += sp->burst) {
		for (int j = 0; j < sp->burst; j++)
			ms_task_spawn(ms_task_sched(sp->spawner), "short", short_task, sp);
		if (ms_task_park(MS_FOREVER) == MS_PARK_CANCELLED)
			return;
	}
}

static double sched_spawns(int tasks, int burst, int *ended)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	Spawner sp = { .tasks = tasks, .burst = burst };
	ms_task_spawn(s, "spawner", spawner, &sp);
	gint64 t0 = g_get_monotonic_time();
	ms_sched_run(s, MS_FOREVER);
	gint64 us = g_get_monotonic_time() - t0;
	ms_sched_free(s);
	*ended = sp.ended;
	return sp.ended / (us / 1e6);
}

int main(void)
{
	double raw = raw_pingpong(ROUNDS);
	guint64 handoffs = 0;
	double sched = sched_pingpong(ROUNDS, &handoffs);
	printf("hand-offs per second (2 threads, %d rounds)\n", ROUNDS);
	printf("  %-44s %12.0f\n", "machine: mutex + condvar ping-pong", raw);
	printf("  %-44s %12.0f  (%" G_GUINT64_FORMAT " hand-offs)\n",
	       "mailsim scheduler: park/unpark ping-pong", sched, handoffs);
	printf("  %-44s %12.2f\n", "ratio (scheduler / machine)", sched / raw);

	int ended = 0;
	double one = sched_spawns(SPAWNS, 1, &ended);
	printf("short tasks started and ended per second (virtual mode)\n");
	printf("  %-44s %12.0f  (%d tasks)\n", "one after another", one, ended);
	double burst = sched_spawns(SPAWNS, SPAWN_BURST, &ended);
	char label[64];
	g_snprintf(label, sizeof label, "in bursts of %d", SPAWN_BURST);
	printf("  %-44s %12.0f  (%d tasks)\n", label, burst, ended);
	return 0;
}
