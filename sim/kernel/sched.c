/* sim/kernel/sched.c - the baton scheduler (virtual time) and its real-time twin.
 *
 * Virtual mode, in one paragraph: one mutex, the kernel lock, is held by
 * whichever task runs; every other task thread sleeps on its own condition
 * variable.  Pending wake-ups and scheduled actions sit in a binary heap
 * ordered by (time, sender, sequence).  A task that blocks runs the
 * dispatcher itself: it pops the heap, moves the clock to the entry's time,
 * runs actions inline, and hands the baton to the first task the heap wakes.
 * Only one thread ever runs agent code, and the next one is chosen by the
 * heap, never by the operating system: that is what makes runs repeatable.
 *
 * A big world starts and ends a handful of tasks per message; making and
 * ending a thread for each cost more than the hand-offs.  So in virtual
 * mode a task runs on a worker: a thread that, once its task has ended,
 * waits in a bounded pool of idle workers for the next spawn.  A worker
 * sleeps on one semaphore whether it is idle or parked, so a reused
 * worker wakes exactly once, when its new task is first dispatched.
 */
#include <errno.h>
#include <semaphore.h>
#include <sys/prctl.h>
#include "sim/kernel/sched.h"

#include <gio/gio.h>

typedef enum { T_NEW, T_RUNNING, T_PARKED, T_DONE } TaskState;

/* At most this many ended workers wait for a task; the rest exit.  Enough
 * for the tasks a busy world ends between two spawns, and few enough that
 * their stacks stay a small part of a run's memory. */
#define SCHED_POOL_MAX_IDLE 256

typedef struct Worker Worker;

struct MsTask {
	MsSched     *s;
	char        *name;
	gint         refs;        /* atomic: the scheduler's until the task ends,
	                           * each heap entry's, and ms_task_ref's */
	guint        slot;        /* index in s->tasks while the task lives */
	guint32      id;          /* spawn order: the tie-breaker "sender" */
	GThread     *thread;      /* real mode; a virtual task runs on a Worker */
	MsTaskFunc   fn;
	gpointer     data;
	GCond        cond;
	TaskState    state;
	gboolean     permit;      /* an unpark that came before the park */
	gboolean     wake_queued; /* a wake-up for this park is in the heap */
	guint64      park_gen;    /* which park a heap entry is for */
	MsParkResult wake_reason;
	sem_t       *baton;       /* virtual: posted once per hand-off to this task;
	                           * its worker's semaphore (main: the scheduler's) */
};

/* A thread that runs virtual tasks one after another (see the top). */
struct Worker {
	MsSched     *s;
	GThread     *thread;      /* joinable while pooled; detached when it exits */
	MsTask      *task;        /* the task to run, NULL while idle */
	gboolean     quit;        /* idle worker: end (the scheduler is freed) */
	sem_t        wake;        /* the task's baton; an idle worker sleeps on it too */
};

typedef enum { ENT_WAKE, ENT_ACTION } EntryKind;

typedef struct {
	gint64       t;
	guint32      sender;
	guint64      seq;
	EntryKind    kind;
	gboolean     gated;
	MsTask      *task;        /* ENT_WAKE */
	guint64      gen;
	MsParkResult reason;
	MsActionFunc fn;          /* ENT_ACTION */
	gpointer     data;
	GDestroyNotify destroy;
} Entry;

struct MsSched {
	MsSchedMode  mode;
	guint64      seed;
	MsBus       *bus;
	GMutex       lock;        /* virtual: the kernel lock; real: park state */
	GCancellable *cancellable;

	gint64       now;         /* virtual clock */
	gint64       start_mono;  /* real clock origin */

	GArray      *heap;        /* of Entry */
	guint64      next_seq;
	guint32      current_sender;
	MsTask      *holder;      /* who has the baton (virtual) */
	MsTask      *post_to;     /* the new holder, told once the lock is let go */
	MsTask      *main;
	GPtrArray   *tasks;       /* the tasks that have not ended, main first */
	guint32      spawned;     /* tasks made so far: the next one's id */
	guint        live;        /* tasks whose function has not returned */
	gboolean     cancelled;

	gint64       run_until;
	gboolean     quiet;
	gboolean     stop_requested;
	GCond        stop_cond;   /* real mode run() */

	gboolean     gate_closed;
	guint        gate_tokens;
	gboolean     gate_waiting;
	GCond        gate_cond;

	guint64      handoffs;

	sem_t        main_baton;  /* virtual: main's baton */
	GPtrArray   *idle;        /* of Worker: ended, waiting for a spawn */
};

static GPrivate current_task;

static void pool_drain(MsSched *s);

static const char *const park_names[] = { "unparked", "timeout", "cancelled" };

const char *ms_park_result_to_string(MsParkResult r)
{
	return (guint)r < G_N_ELEMENTS(park_names) ? park_names[r] : "?";
}

/* ---- the heap ---------------------------------------------------------- */

static gboolean entry_before(const Entry *a, const Entry *b)
{
	if (a->t != b->t)
		return a->t < b->t;
	if (a->sender != b->sender)
		return a->sender < b->sender;
	return a->seq < b->seq;
}

/* A wake-up entry holds a reference to its task: the entry may outlive the
 * park it was for, and the task too (see dispatch). */
static void heap_push(MsSched *s, Entry e)
{
	if (e.kind == ENT_WAKE)
		ms_task_ref(e.task);
	e.seq = s->next_seq++;
	g_array_append_val(s->heap, e);
	Entry *h = (Entry *)s->heap->data;
	for (guint i = s->heap->len - 1; i > 0;) {
		guint parent = (i - 1) / 2;
		if (!entry_before(&h[i], &h[parent]))
			break;
		Entry tmp = h[i];
		h[i] = h[parent];
		h[parent] = tmp;
		i = parent;
	}
}

static Entry heap_pop(MsSched *s)
{
	Entry *h = (Entry *)s->heap->data;
	Entry top = h[0];
	guint n = s->heap->len - 1;
	h[0] = h[n];
	g_array_set_size(s->heap, n);
	h = (Entry *)s->heap->data;
	for (guint i = 0;;) {
		guint l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && entry_before(&h[l], &h[m]))
			m = l;
		if (r < n && entry_before(&h[r], &h[m]))
			m = r;
		if (m == i)
			break;
		Entry tmp = h[i];
		h[i] = h[m];
		h[m] = tmp;
		i = m;
	}
	return top;
}

static void push_wake(MsSched *s, MsTask *t, gint64 when, MsParkResult reason)
{
	Entry e = { .t = when, .sender = s->current_sender, .kind = ENT_WAKE,
	            .task = t, .gen = t->park_gen, .reason = reason };
	heap_push(s, e);
}

/* ---- clock ------------------------------------------------------------- */

gint64 ms_sched_now(MsSched *s)
{
	if (s->mode == MS_SCHED_VIRTUAL)
		return s->now;
	return g_get_monotonic_time() - s->start_mono;
}

static gint64 bus_clock(gpointer data)
{
	return ms_sched_now(data);
}

/* ---- construction ------------------------------------------------------ */

/* A task lives in s->tasks from its spawn to its end, holding the
 * scheduler's reference; the struct goes with the last reference, so a
 * world that ends a million tasks keeps only the ones still running. */
static MsTask *task_new(MsSched *s, const char *name, MsTaskFunc fn, gpointer data)
{
	MsTask *t = g_new0(MsTask, 1);
	t->s = s;
	t->name = g_strdup(name);
	t->refs = 1;
	t->id = s->spawned++;
	t->fn = fn;
	t->data = data;
	g_cond_init(&t->cond);
	t->slot = s->tasks->len;
	g_ptr_array_add(s->tasks, t);
	return t;
}

/* The task has ended: out of the list (the last one takes its place).
 * The caller still holds the scheduler's reference, and drops it. */
static void task_remove(MsSched *s, MsTask *t)
{
	g_ptr_array_steal_index_fast(s->tasks, t->slot);
	if (t->slot < s->tasks->len)
		((MsTask *)g_ptr_array_index(s->tasks, t->slot))->slot = t->slot;
}

MsTask *ms_task_ref(MsTask *t)
{
	g_atomic_int_inc(&t->refs);
	return t;
}

void ms_task_unref(MsTask *t)
{
	if (!t || !g_atomic_int_dec_and_test(&t->refs))
		return;
	if (t->thread)
		g_thread_unref(t->thread);   /* the creator's reference: detach */
	g_cond_clear(&t->cond);
	g_free(t->name);
	g_free(t);
}

/* Linux 6.16 gives each process its own futex hash, sized for the number
 * of CPUs: 8 buckets on two.  Every parked task waits on a futex of its
 * own, so a world of thousands of tasks makes each wake-up walk a chain of
 * hundreds (a third of the big internet's time went there).  Ask for a
 * table sized for a big world; older kernels do not know the call, and
 * keep their global table, which is big already. */
#define SCHED_PR_FUTEX_HASH           78   /* <linux/prctl.h>, Linux 6.16 */
#define SCHED_PR_FUTEX_HASH_SET_SLOTS 1
#define SCHED_FUTEX_HASH_SLOTS        16384

static void widen_futex_hash(void)
{
	static gsize done;
	if (g_once_init_enter(&done)) {
		(void)prctl(SCHED_PR_FUTEX_HASH, SCHED_PR_FUTEX_HASH_SET_SLOTS, SCHED_FUTEX_HASH_SLOTS, 0, 0);
		g_once_init_leave(&done, 1);
	}
}

MsSched *ms_sched_new(MsSchedMode mode, guint64 seed)
{
	widen_futex_hash();
	MsSched *s = g_new0(MsSched, 1);
	s->mode = mode;
	s->seed = seed;
	s->bus = ms_bus_new(bus_clock, s);
	g_mutex_init(&s->lock);
	g_cond_init(&s->stop_cond);
	g_cond_init(&s->gate_cond);
	s->cancellable = g_cancellable_new();
	s->start_mono = g_get_monotonic_time();
	s->heap = g_array_new(FALSE, FALSE, sizeof(Entry));
	s->tasks = g_ptr_array_new_with_free_func((GDestroyNotify)ms_task_unref);
	s->run_until = MS_FOREVER;
	sem_init(&s->main_baton, 0, 0);
	s->idle = g_ptr_array_new();

	/* The creating thread becomes the main task and, in virtual mode,
	 * holds the baton while it builds the world. */
	g_return_val_if_fail(g_private_get(&current_task) == NULL, NULL);
	s->main = task_new(s, "main", NULL, NULL);
	s->main->state = T_RUNNING;
	s->main->baton = &s->main_baton;
	g_private_set(&current_task, s->main);
	if (mode == MS_SCHED_VIRTUAL) {
		g_mutex_lock(&s->lock);
		s->holder = s->main;
	}
	return s;
}

void ms_sched_free(MsSched *s)
{
	if (!s)
		return;
	ms_sched_shutdown(s);
	if (s->mode == MS_SCHED_VIRTUAL) {
		pool_drain(s);   /* workers that ended tasks run after a shutdown */
		g_mutex_unlock(&s->lock);
	}
	if (g_private_get(&current_task) == s->main)
		g_private_set(&current_task, NULL);
	for (guint i = 0; i < s->heap->len; i++) {
		Entry *e = &g_array_index(s->heap, Entry, i);
		if (e->kind == ENT_ACTION && e->destroy)
			e->destroy(e->data);
		else if (e->kind == ENT_WAKE)
			ms_task_unref(e->task);
	}
	ms_bus_free(s->bus);
	g_ptr_array_free(s->tasks, TRUE);
	g_array_free(s->heap, TRUE);
	g_object_unref(s->cancellable);
	g_cond_clear(&s->gate_cond);
	g_cond_clear(&s->stop_cond);
	g_mutex_clear(&s->lock);
	g_ptr_array_free(s->idle, TRUE);
	sem_destroy(&s->main_baton);
	g_free(s);
}

MsSchedMode ms_sched_mode(MsSched *s) { return s->mode; }
guint64 ms_sched_seed(MsSched *s) { return s->seed; }
MsBus *ms_sched_bus(MsSched *s) { return s->bus; }
GCancellable *ms_sched_cancellable(MsSched *s) { return s->cancellable; }
guint64 ms_sched_handoffs(MsSched *s) { return s->handoffs; }
void ms_sched_lock(MsSched *s) { g_mutex_lock(&s->lock); }
void ms_sched_unlock(MsSched *s) { g_mutex_unlock(&s->lock); }

MsTask *ms_task_self(void) { return g_private_get(&current_task); }
MsSched *ms_task_sched(MsTask *t) { return t->s; }
const char *ms_task_name(MsTask *t) { return t->name; }
gboolean ms_task_cancelled(MsTask *t) { return t->s->cancelled; }

/* ---- virtual mode: dispatch and hand-off ------------------------------- */

/* Pop the heap until a task is to run; NULL when the run must return to
 * main (the world is quiet, or run_until came).  Called with the lock. */
static MsTask *dispatch(MsSched *s)
{
	for (;;) {
		if (s->heap->len == 0) {
			s->quiet = TRUE;
			return NULL;
		}
		Entry *top = &g_array_index(s->heap, Entry, 0);
		if (top->t > s->run_until && !s->cancelled) {
			s->now = s->run_until;
			return NULL;
		}
		if (top->gated && s->gate_closed && s->gate_tokens == 0 && !s->cancelled) {
			s->gate_waiting = TRUE;
			g_cond_wait(&s->gate_cond, &s->lock);
			s->gate_waiting = FALSE;
			continue;
		}
		Entry e = heap_pop(s);
		MsTask *t = e.task;
		gboolean starts = e.kind == ENT_WAKE && t->state == T_NEW;
		gboolean stale = e.kind == ENT_WAKE && !starts && (t->state != T_PARKED || e.gen != t->park_gen);
		if (e.kind == ENT_WAKE)
			ms_task_unref(t);   /* the entry's; a task to run still has the scheduler's */
		if (stale)
			continue;   /* that park already ended (or the task did); the clock stays */
		if (e.gated && s->gate_closed && s->gate_tokens > 0)
			s->gate_tokens--;
		if (e.t > s->now)
			s->now = e.t;
		s->current_sender = e.sender;
		if (e.kind == ENT_ACTION) {
			e.fn(e.data);
			continue;
		}
		t->state = T_RUNNING;
		if (!starts)
			t->wake_reason = e.reason;
		return t;
	}
}

static void give_baton(MsSched *s, MsTask *from, MsTask *to)
{
	if (!to) {
		/* Back to main, which waits in ms_sched_run. */
		to = s->main;
		to->state = T_RUNNING;
		to->wake_reason = MS_PARK_UNPARKED;
	}
	s->holder = to;
	s->current_sender = to->id;
	if (to != from) {
		s->handoffs++;
		s->post_to = to;
	}
}

/* Let go of the kernel lock, then wake the new holder: woken while the
 * lock was still held (as a condition variable would wake it), it would
 * only run into the lock and sleep a second time.  One wake-up per
 * hand-off is the whole cost. */
static void release_baton(MsSched *s)
{
	MsTask *to = g_steal_pointer(&s->post_to);
	sem_t *baton = to ? to->baton : NULL;
	g_mutex_unlock(&s->lock);
	if (baton)
		sem_post(baton);
}

static void wait_for_baton(MsSched *s, MsTask *t)
{
	while (s->holder != t) {
		release_baton(s);
		while (sem_wait(t->baton) != 0 && errno == EINTR)
			;
		g_mutex_lock(&s->lock);
	}
	s->current_sender = t->id;
}

/* Virtual mode: run tasks until told to quit or until the pool is full.
 * The worker sleeps on w->wake; each post is a hand-off to its task (a
 * post with no task, or for a task that does not hold the baton, is
 * slept off again by the loops below). */
static gpointer worker_thread(gpointer data)
{
	Worker *w = data;
	MsSched *s = w->s;
	gboolean named = TRUE;   /* g_thread_new named it for its first task */
	for (;;) {
		while (sem_wait(&w->wake) != 0 && errno == EINTR)
			;
		g_mutex_lock(&s->lock);
		if (w->quit) {
			g_mutex_unlock(&s->lock);
			return NULL;   /* pool_drain joins us and frees w */
		}
		MsTask *t = w->task;
		if (!t) {
			g_mutex_unlock(&s->lock);
			continue;
		}
		g_private_set(&current_task, t);
		if (!named)   /* what top -H and gdb show: the task it runs now */
			(void)prctl(PR_SET_NAME, t->name, 0, 0, 0);
		named = FALSE;
		wait_for_baton(s, t);
		if (!s->cancelled)
			t->fn(t->data);
		t->state = T_DONE;
		t->baton = NULL;
		s->live--;
		task_remove(s, t);
		w->task = NULL;
		/* Wait for the next spawn, even one the dispatch below runs
		 * (an action may spawn, and take this very worker).  Past the
		 * bound, or once the world is cancelled, the thread ends: nobody
		 * joins it, so it lets go of its stack now, not when the
		 * scheduler is freed (a big world ends a million tasks). */
		gboolean pooled = !s->cancelled && s->idle->len < SCHED_POOL_MAX_IDLE;
		if (pooled)
			g_ptr_array_add(s->idle, w);
		GThread *self = pooled ? NULL : g_steal_pointer(&w->thread);
		give_baton(s, t, dispatch(s));
		release_baton(s);
		g_private_set(&current_task, NULL);
		ms_task_unref(t);   /* the scheduler's, held until the hand-off */
		if (!pooled) {
			sem_destroy(&w->wake);
			g_free(w);
			g_thread_unref(self);
			return NULL;
		}
	}
}

/* Give t a worker: an idle one if the pool has one, else a new thread.
 * Called with the kernel lock.  The worker first wakes when t is
 * dispatched, as a new thread would. */
static void worker_start(MsSched *s, MsTask *t)
{
	Worker *w = s->idle->len > 0 ? g_ptr_array_steal_index_fast(s->idle, s->idle->len - 1) : NULL;
	if (w) {
		w->task = t;
		t->baton = &w->wake;
		return;
	}
	w = g_new0(Worker, 1);
	w->s = s;
	w->task = t;
	sem_init(&w->wake, 0, 0);
	t->baton = &w->wake;
	w->thread = g_thread_new(t->name, worker_thread, w);
}

/* End every idle worker and wait for each.  Called with the kernel lock,
 * which the workers take when they wake. */
static void pool_drain(MsSched *s)
{
	if (s->idle->len == 0)
		return;
	g_autoptr(GPtrArray) idle = g_steal_pointer(&s->idle);
	s->idle = g_ptr_array_new();
	for (guint i = 0; i < idle->len; i++) {
		Worker *w = g_ptr_array_index(idle, i);
		w->quit = TRUE;
		sem_post(&w->wake);
	}
	g_mutex_unlock(&s->lock);
	for (guint i = 0; i < idle->len; i++) {
		Worker *w = g_ptr_array_index(idle, i);
		g_thread_join(w->thread);
		sem_destroy(&w->wake);
		g_free(w);
	}
	g_mutex_lock(&s->lock);
}

/* Real mode: one thread per task, as a server wants. */
static gpointer task_thread(gpointer data)
{
	MsTask *t = data;
	MsSched *s = t->s;
	g_private_set(&current_task, t);
	t->fn(t->data);
	/* A server runs for days and starts a task per connection: a task
	 * that ended leaves nothing behind (its thread is detached; any
	 * joiner holds its own reference). */
	g_mutex_lock(&s->lock);
	s->live--;
	task_remove(s, t);
	g_cond_broadcast(&s->stop_cond);
	g_mutex_unlock(&s->lock);
	g_private_set(&current_task, NULL);
	ms_task_unref(t);   /* the scheduler's */
	return NULL;
}

MsTask *ms_task_spawn(MsSched *s, const char *name, MsTaskFunc fn, gpointer data)
{
	if (s->mode == MS_SCHED_REAL) {
		/* under the lock, so a task that ends at once finds its thread set */
		g_mutex_lock(&s->lock);
		MsTask *t = task_new(s, name, fn, data);
		s->live++;
		t->state = T_RUNNING;
		t->thread = g_thread_new(name, task_thread, t);
		g_mutex_unlock(&s->lock);
		return t;
	}
	MsTask *t = task_new(s, name, fn, data);
	s->live++;
	t->state = T_NEW;
	push_wake(s, t, s->now, MS_PARK_UNPARKED);
	worker_start(s, t);
	return t;
}

/* ---- park, unpark, sleep ----------------------------------------------- */

static MsParkResult park_virtual(MsSched *s, MsTask *t, gint64 deadline)
{
	if (s->cancelled)
		return MS_PARK_CANCELLED;
	if (t->permit) {
		t->permit = FALSE;
		return MS_PARK_UNPARKED;
	}
	if (deadline <= s->now)
		return MS_PARK_TIMEOUT;
	t->state = T_PARKED;
	t->park_gen++;
	t->wake_queued = FALSE;
	if (deadline != MS_FOREVER) {
		Entry e = { .t = deadline, .sender = t->id, .kind = ENT_WAKE,
		            .task = t, .gen = t->park_gen, .reason = MS_PARK_TIMEOUT };
		heap_push(s, e);
	}
	give_baton(s, t, dispatch(s));
	wait_for_baton(s, t);
	t->wake_queued = FALSE;
	return s->cancelled && t != s->main ? MS_PARK_CANCELLED : t->wake_reason;
}

static MsParkResult park_real(MsSched *s, MsTask *t, gint64 deadline)
{
	MsParkResult r = MS_PARK_UNPARKED;
	g_mutex_lock(&s->lock);
	gint64 mono_deadline = deadline == MS_FOREVER ? G_MAXINT64 : s->start_mono + deadline;
	t->state = T_PARKED;
	for (;;) {
		if (s->cancelled) { r = MS_PARK_CANCELLED; break; }
		if (t->permit) { t->permit = FALSE; r = MS_PARK_UNPARKED; break; }
		if (g_get_monotonic_time() >= mono_deadline) { r = MS_PARK_TIMEOUT; break; }
		if (mono_deadline == G_MAXINT64)
			g_cond_wait(&t->cond, &s->lock);
		else
			g_cond_wait_until(&t->cond, &s->lock, mono_deadline);
	}
	t->state = T_RUNNING;
	g_mutex_unlock(&s->lock);
	return r;
}

MsParkResult ms_task_park(gint64 deadline)
{
	MsTask *t = ms_task_self();
	g_return_val_if_fail(t != NULL, MS_PARK_CANCELLED);
	if (t->s->mode == MS_SCHED_VIRTUAL)
		return park_virtual(t->s, t, deadline);
	return park_real(t->s, t, deadline);
}

void ms_task_unpark(MsTask *t)
{
	MsSched *s = t->s;
	if (s->mode == MS_SCHED_REAL) {
		g_mutex_lock(&s->lock);
		t->permit = TRUE;
		g_cond_signal(&t->cond);
		g_mutex_unlock(&s->lock);
		return;
	}
	/* Virtual: the caller holds the kernel lock (it is the running task or
	 * an action inside the dispatcher).  The wake-up goes through the heap
	 * at the current time, so its order is decided by (time, sender, seq). */
	if (t->state == T_PARKED) {
		if (!t->wake_queued) {
			t->wake_queued = TRUE;
			push_wake(s, t, s->now, MS_PARK_UNPARKED);
		}
	} else if (t->state != T_DONE) {
		t->permit = TRUE;
	}
}

gboolean ms_sleep(gint64 us)
{
	MsTask *t = ms_task_self();
	g_return_val_if_fail(t != NULL, FALSE);
	gint64 deadline = ms_sched_now(t->s) + us;
	for (;;) {
		MsParkResult r = ms_task_park(deadline);
		if (r == MS_PARK_CANCELLED)
			return FALSE;
		if (r == MS_PARK_TIMEOUT || ms_sched_now(t->s) >= deadline) {
			/* An unpark that raced with the timeout leaves a permit:
			 * keep it for the next park, it was meant for that. */
			return TRUE;
		}
	}
}

void ms_sched_at(MsSched *s, gint64 t, gboolean gated, MsActionFunc action,
                 gpointer data, GDestroyNotify destroy)
{
	g_return_if_fail(s->mode == MS_SCHED_VIRTUAL);
	Entry e = { .t = MAX(t, s->now), .sender = s->current_sender, .kind = ENT_ACTION,
	            .gated = gated, .fn = action, .data = data, .destroy = destroy };
	heap_push(s, e);
}

/* ---- running and stopping ---------------------------------------------- */

gboolean ms_sched_run(MsSched *s, gint64 until)
{
	MsTask *self = ms_task_self();
	g_return_val_if_fail(self == s->main, FALSE);

	if (s->mode == MS_SCHED_REAL) {
		g_mutex_lock(&s->lock);
		gint64 mono_until = until == MS_FOREVER ? G_MAXINT64 : s->start_mono + until;
		while (!s->stop_requested && !s->cancelled && g_get_monotonic_time() < mono_until) {
			if (mono_until == G_MAXINT64)
				g_cond_wait(&s->stop_cond, &s->lock);
			else
				g_cond_wait_until(&s->stop_cond, &s->lock, mono_until);
		}
		gboolean stopped = s->stop_requested;
		s->stop_requested = FALSE;
		g_mutex_unlock(&s->lock);
		return stopped;
	}

	s->quiet = FALSE;
	s->run_until = until;
	self->state = T_PARKED;
	self->park_gen++;
	give_baton(s, self, dispatch(s));
	wait_for_baton(s, self);
	s->run_until = MS_FOREVER;
	return s->quiet;
}

void ms_sched_stop(MsSched *s)
{
	g_mutex_lock(&s->lock);
	s->stop_requested = TRUE;
	g_cond_broadcast(&s->stop_cond);
	g_mutex_unlock(&s->lock);
}

void ms_sched_shutdown(MsSched *s)
{
	g_return_if_fail(ms_task_self() == s->main);
	if (s->mode == MS_SCHED_VIRTUAL) {
		if (!s->cancelled) {
			s->cancelled = TRUE;
			g_cancellable_cancel(s->cancellable);
			s->gate_closed = FALSE;
			g_cond_broadcast(&s->gate_cond);
			for (guint i = 1; i < s->tasks->len; i++) {
				MsTask *t = g_ptr_array_index(s->tasks, i);
				if (t->state == T_PARKED)
					push_wake(s, t, s->now, MS_PARK_CANCELLED);
			}
			/* Let every task unwind, one at a time as always. */
			while (s->live > 0)
				ms_sched_run(s, MS_FOREVER);
		}
		pool_drain(s);
	} else {
		g_mutex_lock(&s->lock);
		s->cancelled = TRUE;
		g_autoptr(GPtrArray) threads = g_ptr_array_new();
		for (guint i = 1; i < s->tasks->len; i++) {
			MsTask *t = g_ptr_array_index(s->tasks, i);
			g_cond_signal(&t->cond);
			g_ptr_array_add(threads, g_thread_ref(t->thread));
		}
		g_cond_broadcast(&s->stop_cond);
		g_mutex_unlock(&s->lock);
		g_cancellable_cancel(s->cancellable);
		/* tasks end (and leave the list) on their own; wait for each */
		for (guint i = 0; i < threads->len; i++)
			g_thread_join(g_ptr_array_index(threads, i));
	}
}

/* ---- the gate ---------------------------------------------------------- */

/* The gate is worked from outside the baton (a UI thread) or by the task
 * that holds it (main, before it runs the world); the holder already has
 * the lock and must not take it twice. */
static gboolean outside_lock(MsSched *s)
{
	MsTask *self = ms_task_self();
	if (s->mode == MS_SCHED_VIRTUAL && self && self->s == s && s->holder == self)
		return FALSE;
	g_mutex_lock(&s->lock);
	return TRUE;
}

static void outside_unlock(MsSched *s, gboolean locked)
{
	if (locked)
		g_mutex_unlock(&s->lock);
}

void ms_sched_gate_close(MsSched *s)
{
	gboolean l = outside_lock(s);
	s->gate_closed = TRUE;
	outside_unlock(s, l);
}

void ms_sched_gate_open(MsSched *s)
{
	gboolean l = outside_lock(s);
	s->gate_closed = FALSE;
	g_cond_broadcast(&s->gate_cond);
	outside_unlock(s, l);
}

void ms_sched_gate_step(MsSched *s, guint tokens)
{
	gboolean l = outside_lock(s);
	s->gate_tokens += tokens;
	g_cond_broadcast(&s->gate_cond);
	outside_unlock(s, l);
}

gboolean ms_sched_gate_waiting(MsSched *s)
{
	gboolean l = outside_lock(s);
	gboolean w = s->gate_waiting;
	outside_unlock(s, l);
	return w;
}
