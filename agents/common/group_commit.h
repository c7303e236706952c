/* agents/common/group_commit.h - several tasks, one fsync round.
 *
 * Tasks that each need their own work made durable (a message renamed into
 * the queue, a file renamed into a Maildir) join a group; the first to find
 * nobody committing leads: it runs the commit once for every member that
 * joined so far, then wakes each.  Those who join meanwhile form the next
 * group, led by its first member.  This is how a mail server answers N
 * sessions for the price of one directory fsync (Postfix and Dovecot leave
 * it to the file system; here it is explicit so a student can see it).
 *
 * Waiting is ms_task_park / ms_task_unpark, so it works in both scheduler
 * modes.  In virtual time one task runs at a time and a commit never
 * parks, so a leader always finds itself alone: nobody ever waits there.
 */
#pragma once

#include <glib.h>

/* Make every item durable.  Runs in the leader's task, without the helper's
 * lock, items in the order they joined; records each item's outcome in the
 * item (the caller's type).  It must not park. */
typedef void (*GroupCommitFunc)(gpointer *items, guint n_items, gpointer user_data);

typedef struct GroupCommit GroupCommit;

GroupCommit *group_commit_new(GroupCommitFunc commit, gpointer user_data);
/* No task may be inside group_commit_join. */
void         group_commit_free(GroupCommit *gc);

/* Join the next group with item and return once a commit covering it has
 * run: TRUE.  FALSE when the scheduler shut down before a leader took the
 * item: it was not committed (undo it).  Call from a task (ms_task_self). */
gboolean     group_commit_join(GroupCommit *gc, gpointer item);

/* Commits run and items they covered, since the start. */
void         group_commit_stats(GroupCommit *gc, guint64 *rounds_r, guint64 *items_r);
