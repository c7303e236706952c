/* sim/lab_check.h - mailsim lab check: a scenario's expectations judged
 * against a lab's state, with the words and exit status of mailsim run.
 *
 * The Maildirs and queues are the files each host's mailsim serve keeps in
 * STATE/HOST (read, never changed: the servers may be running); the steps
 * are those of the lab's event logs (sim/lab_events.h).  Time is the
 * script's: wall time since lab up --play started it (the monotonic clock).
 * An expectation "after TIME" that the script has not reached yet is
 * reported "not due" and counts neither way.
 */
#pragma once

#include "sim/scenario.h"

typedef struct {
	const Scenario     *scn;
	const char         *state;        /* the lab's state directory */
	gboolean            played;       /* lab up --play acted the script */
	gint64              now_us;       /* the script's time now (time since lab up when not played) */
	guint               playing;      /* players still running */
	const char *const  *event_logs;   /* sim/lab_events.h; NULL or none: steps are SKIPPED */
	guint               n_event_logs;
} LabCheckOptions;

/* Print one line per expectation ("ok      ", "FAILED  ", "not due ",
 * "SKIPPED ") and the count; returns 0 when none failed, 1 otherwise. */
int lab_check_run(const LabCheckOptions *o);

/* The number of messages in a stopped or running MTA's queue directory
 * (agents/mta/queue.h): committed envelopes (ID.env) with a recipient not
 * yet final; temporaries and free files do not count.  0 when there is no
 * such directory. */
guint lab_check_queue_count(const char *queue_dir);
