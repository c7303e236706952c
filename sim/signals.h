/* sim/signals.h - stop a real-mode run cleanly on SIGINT or SIGTERM. */
#pragma once

#include "sim/kernel/sched.h"

/* Block SIGINT/SIGTERM in every thread (call before any task starts) and
 * start a thread that waits for them and stops s.  Returns the signal
 * thread; ms_signals_finish joins it. */
GThread *ms_signals_watch(MsSched *s);
/* After the run: wake the watcher (if no signal came) and join it. */
void     ms_signals_finish(GThread *watcher);
