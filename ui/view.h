/* ui/view.h - the state of the classroom view and the whole frame.
 *
 * A UiView is the model (the history) and the world (the boxes), plus what
 * the class is doing with them: the focused pane, the selected line, the
 * open help or details, the search.  ui_view_draw() paints a whole frame
 * into a curses window from that state alone: the live app and the
 * benchmark call the same code.  UI thread only.
 */
#pragma once

#include <curses.h>
#include "ui/app.h"
#include "ui/draw.h"
#include "ui/keys.h"
#include "ui/layout.h"
#include "ui/model.h"
#include "ui/world.h"

/* Where each event's parties are, placed once when it arrives. */
typedef struct {
	gint   from, to;          /* node indices, -1 for none */
	guint8 from_part, to_part;
} UiPlace;

/* The pace of the run, as the header tells it. */
typedef enum {
	UI_PACE_STEP,    /* a key per moment */
	UI_PACE_PLAY,    /* moments follow at the speed */
	UI_PACE_REPLAY,  /* a recording: stepping through, nothing more will come */
} UiPace;

typedef struct {
	UiModel       *model;
	UiWorld       *world;
	char          *title;
	GPtrArray     *expected;     /* char*: steps the scenario expects, in course order */
	GArray        *place;        /* UiPlace per event */
	GPtrArray     *answers;      /* per node: GArray of DNS_ANSWER event indices */

	/* geometry, redone when the size or the world changes */
	UiFrame        frame;
	UiTopo        *topo;
	GArray        *order;        /* node indices in ladder order */
	gint           cols, rows;
	guint          world_gen;

	/* what the class is doing */
	UiPane         focus;
	gint           sel;          /* selected event, -1: follow the latest */
	gint           seq_top;      /* first ladder row shown when not following, -1 */
	gint           lesson_scroll;  /* lines of a long narration scrolled by ↑↓ in the lesson pane */
	const char    *lesson_for;     /* the step lesson_scroll is for (borrowed from an event) */
	gboolean       help;
	gint           help_scroll;
	gint           detail;       /* event shown in full, -1: none */
	gint           detail_scroll;
	gboolean       searching;
	GString       *search;
	char          *last_search;
	char          *message;      /* a short note in the header */
	gint64         message_until; /* monotonic time it fades */

	/* the run, told by the app */
	UiPace         pace;
	guint          speed;        /* index into ui_view_speeds */
	gboolean       run_over;
	gboolean       replay;
	char          *verdict;
	gboolean       show_verdict;
	gint64         wall_now;     /* monotonic time of this frame */

	UiNarrateFunc  narrate;
	gpointer       narrate_data;
} UiView;

/* Moments per second while playing ("1x" is one a second); the last
 * entry (0) means as fast as the world goes. */
extern const double ui_view_speeds[];
extern const guint  ui_view_speed_count;
extern const guint  ui_view_speed_default;
/* "1x", "1/2x", "max". */
const char *ui_view_speed_name(guint speed);
const char *ui_pace_to_string(UiPace p);

/* scn (may be NULL) is read now and not kept. */
UiView  *ui_view_new(const Scenario *scn, const char *title);
void     ui_view_free(UiView *v);

/* Takes ev (from ms_event_copy). */
void     ui_view_take(UiView *v, MsEvent *ev);
/* Recompute the geometry for a cols x rows screen (cheap when nothing changed). */
void     ui_view_layout(UiView *v, gint cols, gint rows);
/* Paint everything into w, which is cols x rows. */
void     ui_view_draw(UiView *v, WINDOW *w);

/* Actions that concern only the view (focus, scrolling, filter, search,
 * help, details); TRUE if the action was one of those. */
gboolean ui_view_action(UiView *v, UiAction a);
/* A key typed while the search line is open. */
void     ui_view_search_key(UiView *v, int key);
/* A short note in the header for a few seconds. */
void     ui_view_say(UiView *v, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* The event the transcript and details follow: the selection, or the latest
 * visible arrow; -1 when there is none. */
gint     ui_view_current_event(const UiView *v);
/* The steps of the progress line: those the scenario expects and those
 * seen, in course order (borrowed strings, new array). */
GPtrArray *ui_view_path_steps(const UiView *v);

/* ---- the panes (ui/pane_*.c); r is the pane's inner area ---------------- */

void ui_pane_topology_draw(UiView *v, WINDOW *w, UiRect r);
void ui_pane_sequence_draw(UiView *v, WINDOW *w, UiRect r);
void ui_pane_transcript_draw(UiView *v, WINDOW *w, UiRect r);
void ui_pane_lesson_draw(UiView *v, WINDOW *w, UiRect r);
/* The pane titles that depend on the state ("transcript: a ⇄ b :25"). */
char *ui_pane_sequence_title(UiView *v);
char *ui_pane_transcript_title(UiView *v, gint maxw);
/* The sequence pane's rows for a height: fills rows (ladder row indices)
 * and returns how many; shared with the keys that move the selection. */
guint ui_pane_sequence_rows(UiView *v, gint height, guint *rows);
/* The label an arrow gets in the ladder ("EHLO mail.example.com"). */
char *ui_pane_sequence_label(const MsEvent *ev);
