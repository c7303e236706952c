/* bench/bench_ui.c - how fast does the classroom view draw?
 *
 * Draws into a curses screen on /dev/null (ui/headless.h), so it runs
 * without a terminal.  Two figures, each beside its target (issue 8):
 *   - the first frame: the world's boxes laid out and every pane drawn,
 *     from nothing, at 100x30 (target under 100 ms);
 *   - a full redraw of every pane at 200x60 with 10,000 events in the
 *     history, every cell sent again as after a resize (target under 5 ms),
 *     at the live end, in the middle of the history, and with a filter.
 * The events are scenarios/relay-path.scn's, recorded through the runner
 * and repeated with later times and new connection ids.
 */
#include "sim/runner.h"
#include "ui/headless.h"

#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HISTORY        10000
#define REDRAWS        200
#define TARGET_FIRST_MS 100.0
#define TARGET_FULL_MS  5.0
#define SCENARIO       "scenarios/relay-path.scn"

typedef struct {
	MsSink     base;
	GPtrArray *events;
} Keeper;

static void keep(MsSink *self, const MsEvent *ev)
{
	g_ptr_array_add(((Keeper *)self)->events, ms_event_copy(ev));
}

/* One run of the scenario, as events. */
static GPtrArray *record(void)
{
	Keeper k = { .base = { .write = keep }, .events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free) };
	MsRunOptions o = { .until = -1, .quiet = TRUE, .extra_sink = &k.base };
	/* the runner prints its verdict on stdout: keep the bench's own lines clean */
	fflush(stdout);
	int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);
	dup2(null, STDOUT_FILENO);
	int rc = ms_runner_run(SCENARIO, &o);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(null);
	if (rc != 0) {
		fprintf(stderr, "bench_ui: %s did not run (%d)\n", SCENARIO, rc);
		exit(1);
	}
	return k.events;
}

static double ms_since(gint64 t0)
{
	return (g_get_monotonic_time() - t0) / 1000.0;
}

static void line(const char *what, double ms, double target)
{
	printf("  %-52s %8.3f ms   target < %5.1f ms   %s\n", what, ms, target, ms < target ? "ok" : "SLOW");
}

/* The mean of REDRAWS full redraws. */
static double redraw(UiHeadless *h)
{
	ui_headless_draw(h, TRUE);   /* warm */
	gint64 t0 = g_get_monotonic_time();
	for (int i = 0; i < REDRAWS; i++)
		ui_headless_draw(h, TRUE);
	return ms_since(t0) / REDRAWS;
}

int main(void)
{
	setlocale(LC_ALL, "C.UTF-8");
	g_autoptr(GError) err = NULL;
	g_autoptr(Scenario) scn = scenario_load_file(SCENARIO, &err);
	if (!scn) {
		fprintf(stderr, "bench_ui: %s\n", err->message);
		return 1;
	}
	GPtrArray *run = record();

	/* the first frame: a new view, the world laid out, the first moments */
	gint64 t0 = g_get_monotonic_time();
	UiHeadless *first = ui_headless_new(scn, 100, 30);
	if (!first) {
		fprintf(stderr, "bench_ui: curses cannot make a screen here\n");
		return 1;
	}
	for (guint i = 0; i < run->len && i < 3; i++)
		ui_headless_add(first, g_ptr_array_index(run, i));
	ui_headless_draw(first, TRUE);
	double first_ms = ms_since(t0);
	ui_headless_free(first);

	/* 10,000 events: the run again and again, later each time */
	UiHeadless *h = ui_headless_new(scn, 200, 60);
	const MsEvent *last = g_ptr_array_index(run, run->len - 1);
	gint64 span = last->t_us + 1000000;
	guint64 conns = 0;
	for (guint i = 0; i < run->len; i++)
		conns = MAX(conns, ((MsEvent *)g_ptr_array_index(run, i))->conn);
	gint64 t_add = g_get_monotonic_time();
	for (guint n = 0; n < HISTORY; n++) {
		guint round = n / run->len;
		MsEvent ev = *(const MsEvent *)g_ptr_array_index(run, n % run->len);
		ev.seq = n + 1;
		ev.t_us += round * span;
		if (ev.conn)
			ev.conn += round * conns;
		ui_headless_add(h, &ev);
	}
	double add_ms = ms_since(t_add);

	double live = redraw(h);
	ui_headless_seek(h, ui_headless_beat_count(h) / 2);
	double middle = redraw(h);
	ui_headless_filter(h, "dns");
	double filtered = redraw(h);
	ui_headless_free(h);

	printf("classroom view (%s, curses on /dev/null)\n", SCENARIO);
	line("first frame at 100x30 (layout and every pane)", first_ms, TARGET_FIRST_MS);
	line("full redraw at 200x60, 10,000 events, at the end", live, TARGET_FULL_MS);
	line("full redraw at 200x60, 10,000 events, mid-history", middle, TARGET_FULL_MS);
	line("full redraw at 200x60, 10,000 events, only dns", filtered, TARGET_FULL_MS);
	printf("  (taking in the 10,000 events: %.1f ms, %.2f us each)\n", add_ms, add_ms * 1000.0 / HISTORY);
	g_ptr_array_free(run, TRUE);
	return 0;   /* a figure over its target says SLOW; the other benchmarks still run */
}
