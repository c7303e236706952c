/* sim/signals.c - SIGINT/SIGTERM become ms_sched_stop, on a thread of
 * their own (sigwait), so no code runs inside a signal handler. */
#include "sim/signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static gpointer watcher(gpointer data)
{
	MsSched *s = data;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);   /* ms_signals_finish: no signal came */
	int sig = 0;
	sigwait(&set, &sig);
	if (sig != SIGUSR1)
		ms_sched_stop(s);
	return NULL;
}

GThread *ms_signals_watch(MsSched *s)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return g_thread_new("signals", watcher, s);
}

void ms_signals_finish(GThread *w)
{
	if (!w)
		return;
	kill(getpid(), SIGUSR1);
	g_thread_join(w);
}
