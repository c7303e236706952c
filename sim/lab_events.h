/* sim/lab_events.h - the event logs of a lab: each process of the lab
 * (a host's mailsim serve, a machine's script player) writes its events as
 * JSON Lines in the lab's state directory, and mailsim lab check merges
 * them to see which course steps happened, in which order.
 *
 * Events of one process are numbered (seq) and timed (t_us) by its own
 * scheduler; in real mode t_us counts from the process's start.  So that
 * the logs of several processes merge, a lab's log times its events on the
 * machine's monotonic clock instead (g_get_monotonic_time(): CLOCK_MONOTONIC,
 * microseconds since boot), which every network namespace shares: t_us in
 * these logs is "monotonic time of the event".  The merge orders events by
 * that time, then by log, then by seq.  Two events of different processes
 * closer than the clock's grain (a microsecond), or emitted late by one of
 * them, may come out of causal order; the steps a scenario expects in order
 * are milliseconds apart on a real network.
 */
#pragma once

#include <stdio.h>
#include "sim/expect.h"
#include "sim/kernel/sched.h"

/* Where the logs go: STATE/LAB_EVENTS_DIR/NAME.serve.jsonl for a host's
 * server, NAME.play.jsonl for a machine's player. */
#define LAB_EVENTS_DIR          "events"
#define LAB_EVENTS_SERVE_SUFFIX ".serve.jsonl"
#define LAB_EVENTS_PLAY_SUFFIX  ".play.jsonl"
/* A line longer than this is not one of ours (payloads are base64). */
#define LAB_EVENTS_LINE_MAX     (16 * 1024 * 1024)

/* The log of one process of a lab: STATE/events/NAME+suffix, new. */
char        *lab_events_path(const char *state, const char *name, const char *suffix);

/* Write every event of s's bus to path (made, with its directory; an
 * existing log is appended to) as JSON Lines, t_us on the monotonic clock.
 * s must be a real-mode scheduler. */
gboolean     lab_events_attach(MsSched *s, const char *path, GError **error);

/* The steps the logs show, merged in time order (see the top); a missing
 * log counts as empty; a line that does not parse (the last one of a
 * process still writing) is skipped.  *events_r: how many events had a
 * step. */
ExpectSteps *lab_events_read_steps(const char *const *paths, guint n_paths, guint *events_r);
