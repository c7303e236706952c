/* ui/draw.h - the drawing helpers every pane shares: styles that mean
 * something (the course's colours), glyphs with an ASCII fallback, and text
 * that is clipped with an ellipsis instead of being cut.
 *
 * Only ui/ includes curses (tools/check-includes.sh).  All of this runs on
 * the UI thread.
 */
#pragma once

#include <curses.h>
#include <glib.h>
#include "ui/layout.h"
#include "ui/steps.h"

typedef enum {
	UI_STYLE_TEXT,
	UI_STYLE_DIM,          /* what is past, or secondary */
	UI_STYLE_FRAME,        /* pane borders */
	UI_STYLE_FOCUS,        /* the focused pane's border and title */
	UI_STYLE_TITLE,        /* pane titles, box labels */
	UI_STYLE_HEADER,       /* the top line */
	UI_STYLE_KEY,          /* a key on the key line */
	UI_STYLE_SETUP,        /* the course's families: setup.* */
	UI_STYLE_OUT,          /* out.*: the blue path */
	UI_STYLE_IN,           /* in.*: the green path */
	UI_STYLE_RETR,
	UI_STYLE_DEF,
	UI_STYLE_BAD,          /* refusals and failures */
	UI_STYLE_GOOD,         /* expectations that held */
	UI_STYLE_SELECT,       /* the selected line */
	UI_STYLE_COUNT
} UiStyle;

const char *ui_style_to_string(UiStyle s);

/* Set up colour pairs (call after initscr).  color FALSE: attributes only
 * (monochrome terminals, NO_COLOR).  unicode FALSE: ASCII glyphs and text. */
void    ui_draw_init(gboolean color, gboolean unicode);
gboolean ui_draw_color(void);
gboolean ui_draw_unicode(void);
attr_t  ui_draw_style(UiStyle s);
/* The style of a course family; TEXT for NONE. */
UiStyle ui_draw_family_style(UiFamily f);
/* The style of an event's step, BAD for a refusal or a failure. */
UiStyle ui_draw_event_style(const char *step, gboolean bad);

/* Glyphs, UTF-8 or ASCII. */
typedef struct {
	const char *h, *v, *tl, *tr, *bl, *br;          /* thin box lines */
	const char *tee_l, *tee_r, *tee_t, *tee_b;      /* ├ ┤ ┬ ┴ */
	const char *hh, *vv, *htl, *htr, *hbl, *hbr;    /* heavy: the active arrow */
	const char *htee_t, *htee_b;                    /* ┳ ┻ */
	const char *right, *left, *up, *down;           /* arrow heads */
	const char *ellipsis, *dot, *bullet, *ok, *bad, *self, *lead, *dash;
} UiGlyphs;

const UiGlyphs *ui_draw_glyphs(void);

/* Display columns of s (UTF-8; wide characters count 2). */
gint ui_draw_width(const char *s);
/* Draw s at (y, x) in at most maxw columns; longer text ends in an
 * ellipsis.  Control characters show as spaces; in ASCII mode other
 * characters are transliterated.  Returns the columns drawn. */
gint ui_draw_text(WINDOW *w, gint y, gint x, gint maxw, const char *s, attr_t a);
/* The same, right-aligned to end at column x_end (exclusive). */
gint ui_draw_text_right(WINDOW *w, gint y, gint x_end, gint maxw, const char *s, attr_t a);
/* A glyph repeated from x0 to x1 (inclusive, either order) on row y. */
void ui_draw_hline(WINDOW *w, gint y, gint x0, gint x1, const char *glyph, attr_t a);
void ui_draw_vline(WINDOW *w, gint x, gint y0, gint y1, const char *glyph, attr_t a);
/* A thin box on r's outline; with a title written into its top edge. */
void ui_draw_box(WINDOW *w, UiRect r, attr_t a);
void ui_draw_title(WINDOW *w, UiRect box, const char *title, attr_t a);
/* Blank a rectangle. */
void ui_draw_clear(WINDOW *w, UiRect r);
/* Wrap text into lines of at most width columns, on spaces where it can.
 * A new array of new strings. */
GPtrArray *ui_draw_wrap(const char *text, gint width);
