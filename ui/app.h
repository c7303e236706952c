/* ui/app.h - the classroom view: the ncurses front end of a run.
 *
 *   UiApp *app = ui_app_new(&(UiOptions){ 0 });
 *   MsRunOptions o = { ..., .quiet = TRUE, .extra_sink = ui_app_sink(app),
 *                      .attach = ui_app_attach, .finish = ui_app_finish, .front_data = app };
 *   int rc = ms_runner_run(path, &o);
 *   ui_app_free(app);
 *
 * It reads the event stream only (DESIGN.md: ui/ never calls an agent).  The
 * screen lives on a thread of its own; the sink copies each event into a
 * queue and wakes it.  In step mode the view holds the scheduler's gate
 * closed and lets one delivery through per key press; the agents run real
 * protocol code either way.
 */
#pragma once

#include <glib.h>
#include "sim/kernel/bus.h"
#include "sim/kernel/sched.h"
#include "sim/scenario.h"

/* A lesson's narration for a step id, or NULL for the course's own words.
 * Called on the UI thread; the string must live as long as the app. */
typedef const char *(*UiNarrateFunc)(gpointer data, const char *step);

typedef struct {
	gboolean      play;          /* start playing instead of waiting for a key */
	gboolean      no_color;      /* no colour even where the terminal has it (NO_COLOR too) */
	const char   *title;         /* the header's title; NULL: the scenario's */
	UiNarrateFunc narrate;       /* may be NULL */
	gpointer      narrate_data;
} UiOptions;

typedef struct UiApp UiApp;

/* Can the classroom view run here: are stdin and stdout a terminal that
 * curses knows? */
gboolean ui_app_possible(void);

/* opts may be NULL; it is copied (its strings are borrowed for the app's life). */
UiApp   *ui_app_new(const UiOptions *opts);
/* After the run (ms_runner_run has returned).  NULL is fine. */
void     ui_app_free(UiApp *app);

/* The app's reader of the event stream, for MsRunOptions.extra_sink.  The
 * bus "takes" it: its destroy only detaches it from the app (and waits for
 * the app's helper thread); ui_app_free frees the memory. */
MsSink  *ui_app_sink(UiApp *app);

/* MsRunOptions.attach: on the main thread, the world built, the clock not
 * yet running.  Opens the screen on a thread of its own and, in step mode,
 * closes the scheduler's gate.  scn is borrowed until finish returns. */
void     ui_app_attach(gpointer app, MsSched *s, const Scenario *scn);
/* MsRunOptions.finish: the run is over.  Shows the final state and the
 * verdict until the user quits (q), then closes the screen and returns.
 * Returns at once if the user quit earlier. */
void     ui_app_finish(gpointer app, const char *verdict);
/* Did the user quit before the run was over? */
gboolean ui_app_quit_early(UiApp *app);

/* Shows a recorded run (events: MsEvent*, in order, borrowed) on this
 * thread until the user quits; scn (may be NULL) gives the world's boxes.
 * Returns 0, or 2 when the terminal cannot show it. */
int      ui_replay(GPtrArray *events, const Scenario *scn, const UiOptions *opts);
