/* sim/kernel/sched.h - the scheduler and the clock that every agent runs on.
 *
 * Agents are tasks: one thread each.  In MS_SCHED_VIRTUAL mode the network is
 * the clock: exactly one task runs at a time (it holds the baton); when it
 * blocks in a kernel-aware call (park, sleep, a simulated read or accept) the
 * baton goes to the earliest pending wake-up, ordered by (time, sender,
 * sequence), and the virtual clock jumps to that time.  A run is therefore
 * deterministic and an hour of waiting costs no wall time.
 *
 * In MS_SCHED_REAL mode tasks run in parallel on the monotonic clock; park and
 * sleep are plain condition-variable waits.  Agent code is the same in both.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include "sim/kernel/bus.h"

typedef enum { MS_SCHED_VIRTUAL, MS_SCHED_REAL } MsSchedMode;

typedef enum {
	MS_PARK_UNPARKED,  /* someone called ms_task_unpark */
	MS_PARK_TIMEOUT,   /* the deadline passed */
	MS_PARK_CANCELLED, /* the scheduler is shutting down: unwind and return */
} MsParkResult;

const char *ms_park_result_to_string(MsParkResult r);

#define MS_FOREVER   G_MAXINT64
#define MS_SECOND    G_GINT64_CONSTANT(1000000)
#define MS_MSEC      G_GINT64_CONSTANT(1000)

typedef struct MsSched MsSched;
typedef struct MsTask  MsTask;
typedef void (*MsTaskFunc)(gpointer data);
/* An action run by the scheduler itself at a virtual time (virtual mode). */
typedef void (*MsActionFunc)(gpointer data);

MsSched    *ms_sched_new(MsSchedMode mode, guint64 seed);
/* Cancels and joins every task (ms_sched_shutdown), then frees the bus. */
void        ms_sched_free(MsSched *s);
MsSchedMode ms_sched_mode(MsSched *s);
guint64     ms_sched_seed(MsSched *s);
MsBus      *ms_sched_bus(MsSched *s);
/* Microseconds since the scheduler was made (virtual or monotonic). */
gint64      ms_sched_now(MsSched *s);

/* Start fn(data) on a new thread as a task named name (copied).  In virtual
 * mode it first runs when the caller next blocks.  The task ends when fn
 * returns.  The task is owned by the scheduler, which lets go of it when it
 * ends: who keeps the pointer beyond that (to unpark it some time later)
 * holds a reference of its own. */
MsTask     *ms_task_spawn(MsSched *s, const char *name, MsTaskFunc fn, gpointer data);
/* Keep t's struct beyond the task's end; unparking an ended task does
 * nothing.  ms_task_unref(NULL) does nothing. */
MsTask     *ms_task_ref(MsTask *t);
void        ms_task_unref(MsTask *t);

/* The task running on this thread, or NULL outside any task. */
MsTask     *ms_task_self(void);
MsSched    *ms_task_sched(MsTask *t);
const char *ms_task_name(MsTask *t);
gboolean    ms_task_cancelled(MsTask *t);

/* Block the calling task until unparked, until the absolute time deadline
 * (MS_FOREVER for none), or until shutdown.  An unpark that came before the
 * park makes it return at once (a one-shot permit, like a futex). */
MsParkResult ms_task_park(gint64 deadline);
/* Give t a permit and wake it if it is parked.  Callable from any task or,
 * in real mode, any thread. */
void         ms_task_unpark(MsTask *t);
/* Sleep us microseconds of scheduler time.  FALSE if cancelled. */
gboolean     ms_sleep(gint64 us);

/* Virtual mode only: run action(data) at time t (>= now) inside the
 * scheduler, on whichever thread dispatches, with the kernel lock held.  It
 * must not block.  gated actions wait for the gate (see below).  The action
 * owns data; destroy (may be NULL) frees data of an action that never ran
 * because the scheduler was freed first. */
void ms_sched_at(MsSched *s, gint64 t, gboolean gated, MsActionFunc action,
                 gpointer data, GDestroyNotify destroy);

/* Drive the world from the calling (main) thread: it becomes a task named
 * "main" and waits until nothing is left to do (every task parked forever,
 * no pending wake-up) or the clock reaches until (MS_FOREVER for none).
 * Returns TRUE when the world went quiet, FALSE when until came first.
 * In real mode it waits until until or until ms_sched_stop. */
gboolean ms_sched_run(MsSched *s, gint64 until);
/* Real mode: make ms_sched_run return (from a signal handler's thread, the UI). */
void     ms_sched_stop(MsSched *s);

/* Cancel every task: parks return MS_PARK_CANCELLED from now on; then wait
 * for all task threads to end. */
void     ms_sched_shutdown(MsSched *s);

/* The gate: when closed, every gated action (a network delivery) waits
 * until the gate is opened or a token is given.  The UI closes it for step
 * mode and gives one token per key press.  From another thread these take
 * the kernel lock, which main holds whenever it is not inside
 * ms_sched_run: call them only while the world runs. */
void     ms_sched_gate_close(MsSched *s);
void     ms_sched_gate_open(MsSched *s);
void     ms_sched_gate_step(MsSched *s, guint tokens);
/* How many gated actions are waiting (0 or 1 in virtual mode). */
gboolean ms_sched_gate_waiting(MsSched *s);

/* Cancelled at shutdown: real-network calls pass it to GIO. */
GCancellable *ms_sched_cancellable(MsSched *s);

/* Counters for the benchmarks. */
guint64  ms_sched_handoffs(MsSched *s);

/* Virtual mode: the kernel lock that the running task holds.  Code outside
 * any task (a UI thread) that must read simulated state takes it; tasks
 * never do. */
void     ms_sched_lock(MsSched *s);
void     ms_sched_unlock(MsSched *s);

/* Emit on the scheduler's bus: shortcuts for agents. */
#define ms_emit(s, ...) ms_bus_emitf(ms_sched_bus(s), __VA_ARGS__)
