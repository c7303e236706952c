/* ui/headless.h - the classroom view drawn into no terminal: the same
 * frames as on screen, into a curses screen whose output goes to
 * /dev/null.  For the benchmark (bench/bench_ui.c) and for looking at a
 * frame as text without a terminal.  Not thread-safe; one at a time.
 */
#pragma once

#include <glib.h>
#include "sim/kernel/event.h"
#include "sim/scenario.h"

typedef struct UiHeadless UiHeadless;

/* A view of cols x rows for the world of scn (may be NULL: boxes from the
 * events).  NULL when curses cannot make a screen (no terminfo for
 * xterm-256color, vt100 or dumb). */
UiHeadless *ui_headless_new(const Scenario *scn, gint cols, gint rows);
void        ui_headless_free(UiHeadless *h);

/* Add a copy of ev to the history (the cursor follows the latest). */
void        ui_headless_add(UiHeadless *h, const MsEvent *ev);
/* Move the cursor to moment b of the history (clamped). */
void        ui_headless_seek(UiHeadless *h, guint b);
guint       ui_headless_beat_count(UiHeadless *h);
/* Only one protocol in the sequence pane (NULL: all). */
void        ui_headless_filter(UiHeadless *h, const char *proto);

/* Paint a frame and send it to the (null) terminal.  full: as after a
 * resize or Ctrl-L, every cell sent again; else only what changed. */
void        ui_headless_draw(UiHeadless *h, gboolean full);
/* The screen as text, one line per row, trailing spaces cut (new). */
char       *ui_headless_text(UiHeadless *h);
