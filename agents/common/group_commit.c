/* agents/common/group_commit.c - several tasks, one fsync round.
 *
 * A leader/follower queue: members wait parked on their own task; the
 * leader takes the whole waiting list, commits it without the lock, marks
 * each member done and wakes it, then hands the lead to the first member
 * of the next group (or lets the helper go idle).
 */
#include "agents/common/group_commit.h"

#include "sim/kernel/sched.h"

/* How long a member whose item a leader holds waits between looks once
 * the scheduler is shutting down (parks then return at once). */
#define GROUP_COMMIT_SHUTDOWN_POLL_US 200

/* One joiner, on its own stack for the time of group_commit_join. */
typedef struct {
	gpointer item;
	MsTask  *task;
	gboolean taken;   /* in a leader's group: its verdict will come */
	gboolean done;    /* a commit covering it has run */
	gboolean lead;    /* handed the lead of the next group */
} Member;

struct GroupCommit {
	GroupCommitFunc commit;
	gpointer        user_data;
	GMutex          lock;       /* guards everything below and every Member */
	GPtrArray      *waiting;    /* Member *, not yet taken, in joining order */
	gboolean        busy;       /* someone leads (or has been handed the lead) */
	guint64         rounds, items;
};

GroupCommit *group_commit_new(GroupCommitFunc commit, gpointer user_data)
{
	g_return_val_if_fail(commit != NULL, NULL);
	GroupCommit *gc = g_new0(GroupCommit, 1);
	gc->commit = commit;
	gc->user_data = user_data;
	g_mutex_init(&gc->lock);
	gc->waiting = g_ptr_array_new();
	return gc;
}

void group_commit_free(GroupCommit *gc)
{
	if (!gc)
		return;
	g_warn_if_fail(gc->waiting->len == 0 && !gc->busy);
	g_ptr_array_unref(gc->waiting);
	g_mutex_clear(&gc->lock);
	g_free(gc);
}

void group_commit_stats(GroupCommit *gc, guint64 *rounds_r, guint64 *items_r)
{
	g_mutex_lock(&gc->lock);
	if (rounds_r)
		*rounds_r = gc->rounds;
	if (items_r)
		*items_r = gc->items;
	g_mutex_unlock(&gc->lock);
}

/* Commit everyone waiting (the leader among them), then wake them. */
static void lead(GroupCommit *gc)
{
	g_mutex_lock(&gc->lock);
	GPtrArray *group = gc->waiting;
	gc->waiting = g_ptr_array_new();
	for (guint i = 0; i < group->len; i++)
		((Member *)group->pdata[i])->taken = TRUE;
	g_mutex_unlock(&gc->lock);

	gpointer *items = g_new(gpointer, MAX(group->len, 1));
	for (guint i = 0; i < group->len; i++)
		items[i] = ((Member *)group->pdata[i])->item;
	if (group->len)
		gc->commit(items, group->len, gc->user_data);
	g_free(items);

	MsTask *self = ms_task_self();
	g_mutex_lock(&gc->lock);
	gc->rounds++;
	gc->items += group->len;
	/* each member is still in group_commit_join until it sees done under
	 * this lock: its task is alive for the unpark */
	for (guint i = 0; i < group->len; i++) {
		Member *m = group->pdata[i];
		m->done = TRUE;
		if (m->task != self)
			ms_task_unpark(m->task);
	}
	if (gc->waiting->len) {
		Member *next = gc->waiting->pdata[0];
		next->lead = TRUE;
		ms_task_unpark(next->task);
	} else {
		gc->busy = FALSE;
	}
	g_mutex_unlock(&gc->lock);
	g_ptr_array_unref(group);
}

gboolean group_commit_join(GroupCommit *gc, gpointer item)
{
	Member m = { .item = item, .task = ms_task_self() };
	g_return_val_if_fail(gc != NULL && m.task != NULL, FALSE);
	g_mutex_lock(&gc->lock);
	g_ptr_array_add(gc->waiting, &m);
	gboolean leading = !gc->busy;
	gc->busy = TRUE;
	g_mutex_unlock(&gc->lock);

	gboolean cancelled = FALSE;
	for (;;) {
		if (leading)
			lead(gc);
		g_mutex_lock(&gc->lock);
		gboolean done = m.done;
		leading = !done && m.lead;
		m.lead = FALSE;
		if (!done && !leading && cancelled && !m.taken) {
			/* shutting down before any leader took it: it was never
			 * committed, and nobody will look for it again */
			g_ptr_array_remove(gc->waiting, &m);
			g_mutex_unlock(&gc->lock);
			return FALSE;
		}
		g_mutex_unlock(&gc->lock);
		if (done)
			return TRUE;
		if (leading)
			continue;   /* a commit is I/O only: a leader finishes even at shutdown */
		if (cancelled) {
			/* a leader holds it and never parks: its verdict is near */
			g_usleep(GROUP_COMMIT_SHUTDOWN_POLL_US);
			continue;
		}
		cancelled = ms_task_park(MS_FOREVER) == MS_PARK_CANCELLED;
	}
}
