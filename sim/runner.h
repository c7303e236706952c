/* sim/runner.h - run a scenario: build its world, play its script on the
 * virtual clock, check its expectations, and say how it went.
 *
 *   mailsim run scenarios/course.scn --headless --events run.jsonl
 */
#pragma once

#include <glib.h>
#include "sim/kernel/sched.h"
#include "sim/scenario.h"

typedef struct {
	gboolean     has_seed;
	guint64      seed;          /* overrides the scenario's */
	const char  *events_path;   /* JSON Lines log, or NULL */
	const char  *transcript_path;  /* text transcript to a file instead of stdout */
	gboolean     quiet;         /* no transcript on stdout */
	gboolean     verbose;       /* also arrivals (RECV) */
	gboolean     color;
	gint64       until;         /* stop the clock here; -1: run until the world is quiet */
	const char  *state_dir;     /* NULL: a fresh temporary directory, removed afterwards
	                               (in /dev/shm when it can: a simulated disk needs no disk) */
	ScenarioScale scale;        /* replaces the counts of an internet line (0: as written) */
	gboolean     stats;         /* print what the run cost: wall time, hand-offs, memory */
	MsSink      *extra_sink;    /* another reader of the stream (the UI), or NULL; taken */
	MsSink      *pcap_sink;     /* the traffic as a pcap file (--pcap), or NULL; taken */
	/* A front end (the classroom view) that wants the running world: called
	 * on the main thread once the world is built and started, before the
	 * clock runs (it may close the scheduler's gate for step mode), and
	 * after the run with the verdict text, to wait for the user. */
	void       (*attach)(gpointer data, MsSched *s, const Scenario *scn);
	void       (*finish)(gpointer data, const char *verdict);
	gpointer     front_data;
} MsRunOptions;

/* Parse, build, run, check.  Returns the process exit code: 0 every
 * expectation held, 1 one failed (each is reported on stderr... and
 * stdout), 2 the scenario has errors (FILE:LINE:COLUMN on stderr) or the
 * world could not be built. */
int ms_runner_run(const char *path, const MsRunOptions *opts);
/* Parse and build only (mailsim check): 0 or 2. */
int ms_runner_check(const char *path);
