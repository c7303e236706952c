/* ui/app.c - the classroom view's threads, terminal and pace.
 *
 * Three threads meet here.  The emitting threads (agents, the scheduler)
 * call the sink, which copies each event into a queue and writes a byte to
 * a pipe.  The UI thread owns the terminal: it polls the keyboard and that
 * pipe, feeds the events to the view and paints a frame when something
 * changed, at most every FRAME_US.  The gate thread works the scheduler's
 * gate for it: those calls wait for the kernel lock, which the main thread
 * holds once the run is over, and the screen must never wait for that.
 */
#include "ui/app.h"
#include "ui/view.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <term.h>
#include <unistd.h>

/* At most one frame in this time, so a burst of events is one frame. */
#define FRAME_US          (16 * 1000)
/* The longest the UI thread sleeps: resizes are noticed this fast. */
#define IDLE_POLL_MS      100
/* After a gate token: how often to look whether the world is waiting at
 * the gate again, how long to wait when nothing happened, and at most. */
#define SETTLE_POLL_US    300
#define SETTLE_QUIET_US   (30 * 1000)
#define SETTLE_MAX_US     (2 * G_USEC_PER_SEC)
/* Tokens one key may spend looking for something to show. */
#define TOKENS_PER_MOMENT 64
#define TOKENS_PER_STEP   4096
/* "max" in a replay: moments per second. */
#define REPLAY_MAX_RATE   60.0
#define KEY_ESCAPE        27

typedef enum { GATE_CLOSE = 1, GATE_OPEN, GATE_STEP, GATE_QUIT } GateCmd;

/* What the class asked the world for and has not seen yet. */
typedef enum { WANT_NONE, WANT_MOMENT, WANT_STEP } Want;

struct UiApp {
	MsSink       sink;          /* first: the bus hands it back to us */
	UiOptions    opts;

	/* shared with the emitting threads and main, under lock */
	GMutex       lock;
	GPtrArray   *pending;       /* MsEvent*: copied by the sink */
	gboolean     closed;        /* the screen is gone: drop events */
	guint        settled;       /* gate tokens the world has dealt with */
	gboolean     run_over;
	char        *verdict;
	gint         wake_pending;  /* atomic: a byte is in the pipe */
	gint         wake[2];       /* the pipe that wakes the UI thread */
	gint         events_seen;   /* atomic */

	/* the gate */
	MsSched     *sched;
	GThread     *gate_thread;
	GAsyncQueue *gate_queue;
	gint         gate_quit;     /* atomic: the run is over, leave the scheduler alone */

	GThread     *ui_thread;
	const Scenario *scn;
	gboolean     quit_early;
	gboolean     replay;

	/* stderr, kept aside while curses owns the terminal */
	gint         saved_stderr;
	FILE        *stderr_file;

	/* the UI thread's own */
	UiView      *view;
	SCREEN      *screen;
	Want         want;
	guint        tokens;        /* spent on the current want */
	guint        in_flight;     /* tokens the gate thread has not settled */
	guint        settled_seen;
	gint64       next_tick;
	gint64       last_frame;
	gboolean     gate_open;
	gboolean     dirty;
	gboolean     quit;
	gboolean     told_over;
	gboolean     started;       /* the first moment arrived */
};

/* ---- waking the UI thread -------------------------------------------------------- */

static void wake(UiApp *app)
{
	if (app->wake[1] < 0 || !g_atomic_int_compare_and_exchange(&app->wake_pending, 0, 1))
		return;
	char b = 1;
	/* non-blocking: a full pipe already wakes the thread */
	if (write(app->wake[1], &b, 1) < 0 && errno != EAGAIN)
		g_atomic_int_set(&app->wake_pending, 0);
}

static void drain_wake(UiApp *app)
{
	char buf[64];
	g_atomic_int_set(&app->wake_pending, 0);
	while (app->wake[0] >= 0 && read(app->wake[0], buf, sizeof buf) > 0)
		;
}

/* ---- the sink ---------------------------------------------------------------------- */

static void sink_write(MsSink *self, const MsEvent *ev)
{
	UiApp *app = (UiApp *)self;
	g_atomic_int_inc(&app->events_seen);
	g_mutex_lock(&app->lock);
	gboolean take = !app->closed;
	if (take)
		g_ptr_array_add(app->pending, ms_event_copy(ev));
	g_mutex_unlock(&app->lock);
	if (take)
		wake(app);
}

static void gate_send(UiApp *app, GateCmd cmd)
{
	if (app->gate_thread)
		g_async_queue_push(app->gate_queue, GINT_TO_POINTER(cmd));
}

static void gate_thread_stop(UiApp *app)
{
	if (!app->gate_thread)
		return;
	g_atomic_int_set(&app->gate_quit, 1);
	g_async_queue_push(app->gate_queue, GINT_TO_POINTER(GATE_QUIT));
	g_thread_join(app->gate_thread);
	app->gate_thread = NULL;
}

/* The bus is done with the sink (ms_sched_free, after the kernel lock is
 * given up for good): the gate thread can finish now. */
static void sink_destroy(MsSink *self)
{
	gate_thread_stop((UiApp *)self);
}

/* ---- the gate thread ------------------------------------------------------------------ */

/* Let one delivery through, then wait until the world is held at the gate
 * again (or nothing happens for a while), and tell the UI thread. */
static void step_and_settle(UiApp *app)
{
	gint before = g_atomic_int_get(&app->events_seen);
	ms_sched_gate_step(app->sched, 1);
	gint64 start = g_get_monotonic_time();
	while (!g_atomic_int_get(&app->gate_quit)) {
		g_usleep(SETTLE_POLL_US);
		if (g_atomic_int_get(&app->gate_quit))
			break;
		gboolean waiting = ms_sched_gate_waiting(app->sched);
		gint64 spent = g_get_monotonic_time() - start;
		gboolean moved = g_atomic_int_get(&app->events_seen) != before;
		if ((waiting && (moved || spent > SETTLE_QUIET_US)) || spent > SETTLE_MAX_US)
			break;
	}
	g_mutex_lock(&app->lock);
	app->settled++;
	g_mutex_unlock(&app->lock);
	wake(app);
}

static gpointer gate_main(gpointer data)
{
	UiApp *app = data;
	for (;;) {
		GateCmd cmd = GPOINTER_TO_INT(g_async_queue_pop(app->gate_queue));
		if (cmd == GATE_QUIT)
			return NULL;
		if (g_atomic_int_get(&app->gate_quit))
			continue;   /* the run is over: main holds the kernel lock */
		switch (cmd) {
		case GATE_CLOSE:
			ms_sched_gate_close(app->sched);
			break;
		case GATE_OPEN:
			ms_sched_gate_open(app->sched);
			break;
		case GATE_STEP:
			step_and_settle(app);
			break;
		default:
			break;
		}
	}
}

/* ---- the terminal ---------------------------------------------------------------------- */

gboolean ui_app_possible(void)
{
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return FALSE;
	const char *term = g_getenv("TERM");
	if (!term || !*term || strcmp(term, "dumb") == 0)
		return FALSE;
	int err = 0;
	if (setupterm(NULL, STDOUT_FILENO, &err) != OK)
		return FALSE;
	del_curterm(cur_term);
	return TRUE;
}

static gboolean terminal_start(UiApp *app)
{
	app->screen = newterm(NULL, stdout, stdin);
	if (!app->screen)
		return FALSE;
	set_term(app->screen);
	raw();        /* Ctrl-C is a key like q: the terminal is always given back */
	noecho();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	leaveok(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	const char *no_color = g_getenv("NO_COLOR");
	gboolean color = !app->opts.no_color && !(no_color && *no_color);
	ui_draw_init(color, strcmp(nl_langinfo(CODESET), "UTF-8") == 0);
	return TRUE;
}

static void terminal_stop(UiApp *app)
{
	if (!app->screen)
		return;
	endwin();
	delscreen(app->screen);
	app->screen = NULL;
	fflush(stdout);
}

/* Messages on stderr would scribble over the screen: keep them in a file
 * while it is up, and print them after. */
static void stderr_hold(UiApp *app)
{
	fflush(stderr);
	app->stderr_file = tmpfile();
	app->saved_stderr = app->stderr_file ? dup(STDERR_FILENO) : -1;
	if (app->saved_stderr >= 0)
		dup2(fileno(app->stderr_file), STDERR_FILENO);
}

static void stderr_release(UiApp *app)
{
	if (app->saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(app->saved_stderr, STDERR_FILENO);
	close(app->saved_stderr);
	app->saved_stderr = -1;
	char buf[4096];
	size_t n;
	rewind(app->stderr_file);
	while ((n = fread(buf, 1, sizeof buf, app->stderr_file)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(app->stderr_file);
	app->stderr_file = NULL;
}

/* ---- the pace ---------------------------------------------------------------------------- */

static gboolean live(UiApp *app)
{
	return !app->replay && app->sched && !app->view->run_over;
}

static gboolean at_max_speed(UiApp *app)
{
	return ui_view_speeds[app->view->speed] == 0;
}

static void set_gate(UiApp *app, gboolean open)
{
	if (!live(app) || open == app->gate_open)
		return;
	app->gate_open = open;
	gate_send(app, open ? GATE_OPEN : GATE_CLOSE);
}

static void give_token(UiApp *app)
{
	app->tokens++;
	app->in_flight++;
	gate_send(app, GATE_STEP);
}

static void pause_play(UiApp *app)
{
	UiView *v = app->view;
	if (v->pace != UI_PACE_PLAY)
		return;
	v->pace = app->replay ? UI_PACE_REPLAY : UI_PACE_STEP;
	set_gate(app, FALSE);
}

/* What a key asked for has arrived, or never will. */
static void check_want(UiApp *app)
{
	UiModel *m = app->view->model;
	if (app->want == WANT_MOMENT && ui_model_beat_count(m) > ui_model_cursor(m) + 1) {
		ui_model_forward(m);
		app->want = WANT_NONE;
	} else if (app->want == WANT_STEP) {
		gint b = ui_model_next_step_beat(m);
		if (b >= 0) {
			ui_model_seek(m, (guint)b);
			app->want = WANT_NONE;
		}
	}
	if (app->want != WANT_NONE && app->view->run_over) {
		ui_model_follow(m);
		app->want = WANT_NONE;
	}
	if (app->want != WANT_NONE && app->in_flight == 0) {
		guint limit = app->want == WANT_MOMENT ? TOKENS_PER_MOMENT : TOKENS_PER_STEP;
		if (app->tokens < limit) {
			give_token(app);
		} else {
			ui_model_follow(m);
			app->want = WANT_NONE;
		}
	}
}

/* Space, n, a tick of play: the next moment (or step) from the history,
 * and when the history has no more, from the world. */
static void advance(UiApp *app, gboolean to_next_step)
{
	UiView *v = app->view;
	UiModel *m = v->model;
	if (app->want != WANT_NONE)
		return;   /* still waiting for the last one */
	if (to_next_step) {
		gint b = ui_model_next_step_beat(m);
		if (b >= 0) {
			ui_model_seek(m, (guint)b);
			return;
		}
	} else if (ui_model_forward(m)) {
		return;
	}
	if (!live(app)) {
		if (v->pace == UI_PACE_PLAY || !app->told_over) {
			ui_view_say(v, app->replay ? "the end of the recording" : "the run is over");
			app->told_over = TRUE;
		}
		pause_play(app);
		if (v->run_over)
			v->show_verdict = TRUE;
		return;
	}
	if (app->gate_open) {
		ui_model_follow(m);
		return;
	}
	ui_model_hold(m);
	app->want = to_next_step ? WANT_STEP : WANT_MOMENT;
	app->tokens = 0;
	check_want(app);
}

static void back(UiApp *app)
{
	UiView *v = app->view;
	if (!ui_model_back(v->model))
		ui_view_say(v, ui_model_beat_count(v->model) ? "this is the first moment" : "nothing yet");
	else
		v->show_verdict = FALSE;
	pause_play(app);
}

static void toggle_play(UiApp *app)
{
	UiView *v = app->view;
	if (v->pace == UI_PACE_PLAY) {
		pause_play(app);
		return;
	}
	v->pace = UI_PACE_PLAY;
	app->next_tick = g_get_monotonic_time();
	if (at_max_speed(app) && ui_model_following(v->model))
		set_gate(app, TRUE);
}

static void change_speed(UiApp *app, gint delta)
{
	UiView *v = app->view;
	gint s = CLAMP((gint)v->speed + delta, 0, (gint)ui_view_speed_count - 1);
	v->speed = (guint)s;
	ui_view_say(v, "speed %s", ui_view_speed_name(v->speed));
	if (v->pace == UI_PACE_PLAY)
		set_gate(app, at_max_speed(app) && ui_model_following(v->model));
}

static gint64 tick_interval(UiApp *app)
{
	double rate = ui_view_speeds[app->view->speed];
	if (rate == 0)
		rate = REPLAY_MAX_RATE;
	return (gint64)(G_USEC_PER_SEC / rate);
}

static void tick(UiApp *app, gint64 now)
{
	UiView *v = app->view;
	if (v->pace != UI_PACE_PLAY || now < app->next_tick)
		return;
	app->next_tick = now + tick_interval(app);
	/* caught up with the live end at "max": let the world run */
	if (at_max_speed(app) && ui_model_following(v->model) && app->want == WANT_NONE)
		set_gate(app, TRUE);
	if (app->gate_open) {
		ui_model_follow(v->model);
		app->dirty = TRUE;
		return;
	}
	advance(app, FALSE);
	app->dirty = TRUE;
}

/* ---- events and keys ------------------------------------------------------------------------ */

static void intake(UiApp *app)
{
	UiView *v = app->view;
	g_mutex_lock(&app->lock);
	GPtrArray *batch = app->pending;
	app->pending = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	guint settled = app->settled;
	gboolean over = app->run_over;
	if (over && !v->verdict && app->verdict)
		v->verdict = g_strdup(app->verdict);
	g_mutex_unlock(&app->lock);

	for (guint i = 0; i < batch->len; i++) {
		ui_view_take(v, g_ptr_array_index(batch, i));
		batch->pdata[i] = NULL;   /* the view has it now */
	}
	/* the world runs freely until its first network delivery; in step
	 * mode the class starts at the first moment, not at the last of those */
	if (!app->started && ui_model_beat_count(v->model)) {
		app->started = TRUE;
		if (v->pace == UI_PACE_STEP) {
			ui_model_seek(v->model, 0);
			ui_model_hold(v->model);
		}
	}
	if (batch->len)
		app->dirty = TRUE;
	g_ptr_array_free(batch, TRUE);

	if (settled != app->settled_seen) {
		guint n = settled - app->settled_seen;
		app->in_flight -= MIN(n, app->in_flight);
		app->settled_seen = settled;
	}
	if (over && !v->run_over) {
		v->run_over = TRUE;
		v->show_verdict = TRUE;
		app->gate_open = FALSE;
		if (v->pace == UI_PACE_PLAY)
			v->pace = UI_PACE_STEP;
		app->dirty = TRUE;
	}
	if (app->want != WANT_NONE) {
		check_want(app);
		app->dirty = TRUE;
	}
	/* a selection the cursor went back past is forgotten */
	if (v->sel >= 0 && (guint)v->sel >= ui_model_visible(v->model))
		v->sel = -1;
}

static void relayout(UiApp *app)
{
	ui_view_layout(app->view, COLS, LINES);
	app->dirty = TRUE;
}

static void on_key(UiApp *app, int key)
{
	UiView *v = app->view;
	app->dirty = TRUE;
	if (key == KEY_RESIZE) {
		relayout(app);
		return;
	}
	if (v->searching) {
		ui_view_search_key(v, key);
		return;
	}
	UiAction a = ui_keys_action(key);
	if (v->help && a != UI_ACT_QUIT) {
		if (a == UI_ACT_UP || a == UI_ACT_DOWN || a == UI_ACT_PAGE_UP || a == UI_ACT_PAGE_DOWN) {
			gint d = a == UI_ACT_UP ? -1 : a == UI_ACT_DOWN ? 1 : a == UI_ACT_PAGE_UP ? -10 : 10;
			v->help_scroll = MAX(0, v->help_scroll + d);
			return;
		}
		v->help = FALSE;   /* any other key closes the help page */
		if (a == UI_ACT_HELP || a == UI_ACT_CLOSE || a == UI_ACT_DETAILS)
			return;
	}
	switch (a) {
	case UI_ACT_NEXT:
		advance(app, FALSE);
		break;
	case UI_ACT_NEXT_STEP:
		advance(app, TRUE);
		break;
	case UI_ACT_PREV:
		back(app);
		break;
	case UI_ACT_PLAY:
		toggle_play(app);
		break;
	case UI_ACT_FASTER:
		change_speed(app, 1);
		break;
	case UI_ACT_SLOWER:
		change_speed(app, -1);
		break;
	case UI_ACT_QUIT:
		app->quit = TRUE;
		break;
	case UI_ACT_REDRAW:
		clearok(curscr, TRUE);
		break;
	default:
		ui_view_action(v, a);
		break;
	}
	if (v->sel >= 0 && (guint)v->sel >= ui_model_visible(v->model))
		v->sel = -1;
}

static void paint(UiApp *app)
{
	ui_view_layout(app->view, COLS, LINES);
	ui_view_draw(app->view, stdscr);
	wnoutrefresh(stdscr);
	doupdate();
	app->dirty = FALSE;
	app->last_frame = g_get_monotonic_time();
}

static gint timeout_ms(UiApp *app, gint64 now)
{
	gint64 until = now + IDLE_POLL_MS * 1000;
	if (app->view->pace == UI_PACE_PLAY)
		until = MIN(until, app->next_tick);
	if (app->view->message && app->view->message_until > now)
		until = MIN(until, app->view->message_until);
	if (app->dirty)
		until = MIN(until, app->last_frame + FRAME_US);
	return (gint)MAX(0, (until - now + 999) / 1000);
}

/* The UI's loop, on its thread (live) or the caller's (replay). */
static void run_loop(UiApp *app)
{
	relayout(app);
	paint(app);
	while (!app->quit) {
		gint64 now = g_get_monotonic_time();
		struct pollfd fds[2] = { { STDIN_FILENO, POLLIN, 0 }, { app->wake[0], POLLIN, 0 } };
		poll(fds, app->wake[0] >= 0 ? 2 : 1, timeout_ms(app, now));
		drain_wake(app);
		intake(app);
		int key;
		while (!app->quit && (key = getch()) != ERR)
			on_key(app, key);
		now = g_get_monotonic_time();
		tick(app, now);
		if (app->view->message && app->view->message_until <= now) {
			g_clear_pointer(&app->view->message, g_free);
			app->dirty = TRUE;
		}
		if (app->dirty && now - app->last_frame >= FRAME_US)
			paint(app);
	}
}

static UiApp *app_new(const UiOptions *opts)
{
	UiApp *app = g_new0(UiApp, 1);
	if (opts)
		app->opts = *opts;
	app->sink.write = sink_write;
	app->sink.destroy = sink_destroy;
	g_mutex_init(&app->lock);
	app->pending = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	app->gate_queue = g_async_queue_new();
	app->saved_stderr = -1;
	app->wake[0] = app->wake[1] = -1;
	if (pipe(app->wake) == 0) {
		for (guint i = 0; i < 2; i++)
			fcntl(app->wake[i], F_SETFL, fcntl(app->wake[i], F_GETFL) | O_NONBLOCK);
	} else {
		app->wake[0] = app->wake[1] = -1;   /* the loop polls the keyboard alone */
	}
	return app;
}

static gpointer ui_main(gpointer data)
{
	UiApp *app = data;
	app->view = ui_view_new(app->scn, app->opts.title);
	app->view->narrate = app->opts.narrate;
	app->view->narrate_data = app->opts.narrate_data;
	if (terminal_start(app)) {
		if (app->opts.play)
			toggle_play(app);
		run_loop(app);
		terminal_stop(app);
	}
	stderr_release(app);
	g_mutex_lock(&app->lock);
	app->closed = TRUE;
	app->quit_early = !app->run_over;
	g_mutex_unlock(&app->lock);
	/* the world goes on without the view, as fast as it can */
	if (app->quit_early)
		gate_send(app, GATE_OPEN);
	return NULL;
}

/* ---- the public side ---------------------------------------------------------------------- */

UiApp *ui_app_new(const UiOptions *opts)
{
	return app_new(opts);
}

MsSink *ui_app_sink(UiApp *app)
{
	return &app->sink;
}

void ui_app_attach(gpointer data, MsSched *s, const Scenario *scn)
{
	UiApp *app = data;
	app->sched = s;
	app->scn = scn;
	/* main holds the baton here: no lock to wait for */
	ms_sched_gate_close(s);
	app->gate_thread = g_thread_new("ui-gate", gate_main, app);
	stderr_hold(app);
	app->ui_thread = g_thread_new("ui", ui_main, app);
}

void ui_app_finish(gpointer data, const char *verdict)
{
	UiApp *app = data;
	/* main holds the kernel lock from now on: the gate thread must not
	 * wait for it */
	g_atomic_int_set(&app->gate_quit, 1);
	g_mutex_lock(&app->lock);
	app->run_over = TRUE;
	app->verdict = g_strdup(verdict);
	g_mutex_unlock(&app->lock);
	wake(app);
	if (app->ui_thread) {
		g_thread_join(app->ui_thread);
		app->ui_thread = NULL;
	}
}

gboolean ui_app_quit_early(UiApp *app)
{
	return app->quit_early;
}

void ui_app_free(UiApp *app)
{
	if (!app)
		return;
	if (app->ui_thread) {
		/* finish was never called (the run failed): say so and wait */
		g_mutex_lock(&app->lock);
		app->run_over = TRUE;
		g_mutex_unlock(&app->lock);
		wake(app);
		g_thread_join(app->ui_thread);
	}
	gate_thread_stop(app);
	ui_view_free(app->view);
	g_ptr_array_free(app->pending, TRUE);   /* events that came after the screen closed */
	g_async_queue_unref(app->gate_queue);
	g_mutex_clear(&app->lock);
	for (guint i = 0; i < 2; i++)
		if (app->wake[i] >= 0)
			close(app->wake[i]);
	g_free(app->verdict);
	g_free(app);
}

int ui_replay(GPtrArray *events, const Scenario *scn, const UiOptions *opts)
{
	if (!ui_app_possible())
		return 2;
	UiApp *app = app_new(opts);
	app->replay = TRUE;
	app->scn = scn;
	app->view = ui_view_new(scn, opts ? opts->title : NULL);
	app->view->replay = TRUE;
	app->view->pace = UI_PACE_REPLAY;
	if (opts) {
		app->view->narrate = opts->narrate;
		app->view->narrate_data = opts->narrate_data;
	}
	for (guint i = 0; i < events->len; i++)
		ui_view_take(app->view, ms_event_copy(g_ptr_array_index(events, i)));
	ui_model_seek(app->view->model, 0);
	int rc = 2;
	if (terminal_start(app)) {
		if (app->opts.play)
			toggle_play(app);
		run_loop(app);
		terminal_stop(app);
		rc = 0;
	}
	ui_app_free(app);
	return rc;
}
