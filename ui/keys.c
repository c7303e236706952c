/* ui/keys.c - the key table of the classroom view.
 *
 * A teacher reads the key line from across the room: every key that does
 * something is on it, in the order a lesson uses them.
 */
#include "ui/keys.h"

#include <curses.h>
#include <stdlib.h>

#define CTRL_KEY(c) ((c) & 0x1f)
#define KEY_ESCAPE  27

static const UiKeyBinding bindings[] = {
	{ { ' ', KEY_RIGHT, 0 }, UI_ACT_NEXT, "Space", "Spc", "next", NULL,
	  "the next moment: the network delivers one more thing", "Space →", 1, TRUE },
	{ { KEY_LEFT, 0 }, UI_ACT_PREV, "←", "←", "back", NULL,
	  "the moment before, replayed from what was recorded", NULL, 2, TRUE },
	{ { 'n', 0 }, UI_ACT_NEXT_STEP, "n", "n", "next step", "step",
	  "on until the next course step begins", NULL, 3, FALSE },
	{ { 'p', 0 }, UI_ACT_PLAY, "p", "p", "play", NULL,
	  "play or pause: moments follow at the chosen speed", NULL, 4, TRUE },
	{ { '+', '=', 0 }, UI_ACT_FASTER, "+/-", "+-", "speed", NULL,
	  "faster / slower while playing (max: as fast as it goes)", "+ -", 5, FALSE },
	{ { '-', '_', 0 }, UI_ACT_SLOWER, "-", "-", "slower", NULL, NULL, NULL, 0, FALSE },
	{ { '\t', 0 }, UI_ACT_FOCUS_NEXT, "Tab", "Tab", "pane", NULL,
	  "the next pane; 1 path, 2 sequence, 3 transcript, 4 lesson", "Tab 1-4", 6, FALSE },
	{ { '1', 0 }, UI_ACT_FOCUS_1, "1", "1", "path", NULL, NULL, NULL, 0, FALSE },
	{ { '2', 0 }, UI_ACT_FOCUS_2, "2", "2", "sequence", NULL, NULL, NULL, 0, FALSE },
	{ { '3', 0 }, UI_ACT_FOCUS_3, "3", "3", "transcript", NULL, NULL, NULL, 0, FALSE },
	{ { '4', 0 }, UI_ACT_FOCUS_4, "4", "4", "lesson", NULL, NULL, NULL, 0, FALSE },
	{ { KEY_UP, 'k', 0 }, UI_ACT_UP, "↑", "↑", "up", NULL,
	  "select the line before / after in the sequence or the transcript", "↑ ↓", 0, FALSE },
	{ { KEY_DOWN, 'j', 0 }, UI_ACT_DOWN, "↓", "↓", "down", NULL, NULL, NULL, 0, FALSE },
	{ { KEY_PPAGE, 0 }, UI_ACT_PAGE_UP, "PgUp", "PgUp", "page up", NULL,
	  "a page up / down", "PgUp PgDn", 0, FALSE },
	{ { KEY_NPAGE, 0 }, UI_ACT_PAGE_DOWN, "PgDn", "PgDn", "page down", NULL, NULL, NULL, 0, FALSE },
	{ { KEY_HOME, 'g', 0 }, UI_ACT_HOME, "Home", "Home", "first", NULL,
	  "the first line / back to the latest, following it", "Home End", 0, FALSE },
	{ { KEY_END, 'G', 0 }, UI_ACT_END, "End", "End", "latest", NULL, NULL, NULL, 0, FALSE },
	{ { '\n', '\r', KEY_ENTER, 0 }, UI_ACT_DETAILS, "Enter", "⏎", "details", "info",
	  "the selected line in full: headers, raw bytes, DNS record, SQL", NULL, 7, FALSE },
	{ { 'f', 0 }, UI_ACT_FILTER, "f", "f", "filter", NULL,
	  "one protocol only (again: the next one, then all)", NULL, 8, FALSE },
	{ { '/', 0 }, UI_ACT_SEARCH, "/", "/", "search", "find",
	  "find a word in the sequence (/ Enter: the next one)", NULL, 9, FALSE },
	{ { '?', KEY_F(1), 0 }, UI_ACT_HELP, "?", "?", "help", NULL, "this page", NULL, 10, TRUE },
	{ { KEY_ESCAPE, 0 }, UI_ACT_CLOSE, "Esc", "Esc", "close", NULL,
	  "close the details, the help, the search or the verdict", NULL, 0, FALSE },
	{ { CTRL_KEY('l'), 0 }, UI_ACT_REDRAW, "Ctrl-L", "^L", "redraw", NULL, "draw the screen again", NULL, 0, FALSE },
	{ { 'q', 'Q', CTRL_KEY('c'), 0 }, UI_ACT_QUIT, "q", "q", "quit", NULL,
	  "quit (the run goes on to its end, then says how it went)", NULL, 11, TRUE },
};

const char *ui_action_to_string(UiAction a)
{
	static const char *const names[] = {
		"none", "next", "prev", "next-step", "play", "faster", "slower", "focus-next",
		"focus-1", "focus-2", "focus-3", "focus-4", "up", "down", "page-up", "page-down",
		"home", "end", "details", "filter", "search", "help", "close", "redraw", "quit",
	};
	G_STATIC_ASSERT(G_N_ELEMENTS(names) == UI_ACT_COUNT);
	return (guint)a < G_N_ELEMENTS(names) ? names[a] : "?";
}

const char *ui_key_style_to_string(UiKeyStyle s)
{
	static const char *const names[] = { "long", "short", "tight" };
	return (guint)s < G_N_ELEMENTS(names) ? names[s] : "?";
}

const UiKeyBinding *ui_keys_table(guint *n_r)
{
	*n_r = G_N_ELEMENTS(bindings);
	return bindings;
}

UiAction ui_keys_action(int key)
{
	for (guint i = 0; i < G_N_ELEMENTS(bindings); i++)
		for (guint k = 0; k < UI_KEYS_PER_BINDING && bindings[i].keys[k]; k++)
			if (bindings[i].keys[k] == key)
				return bindings[i].action;
	return UI_ACT_NONE;
}

const char *ui_keys_key_text(const UiKeyBinding *b, UiKeyStyle style)
{
	return style == UI_KEYS_LONG ? b->key_name : b->short_key;
}

const char *ui_keys_label_text(const UiKeyBinding *b, UiKeyStyle style)
{
	return style == UI_KEYS_LONG || !b->short_label ? b->label : b->short_label;
}

const char *ui_keys_separator(UiKeyStyle style)
{
	static const char *const seps[] = { " · ", "  ", " " };
	return seps[style];
}

const char *ui_keys_gap(UiKeyStyle style)
{
	return style == UI_KEYS_TIGHT ? "" : " ";
}

gint ui_keys_line_width(const UiKeyBinding *const *b, guint n, UiKeyStyle style)
{
	gint w = 1;   /* a leading space */
	for (guint i = 0; i < n; i++) {
		if (i)
			w += (gint)g_utf8_strlen(ui_keys_separator(style), -1);
		w += (gint)g_utf8_strlen(ui_keys_key_text(b[i], style), -1);
		w += (gint)g_utf8_strlen(ui_keys_gap(style), -1);
		w += (gint)g_utf8_strlen(ui_keys_label_text(b[i], style), -1);
	}
	return w;
}

static gint by_rank(gconstpointer a, gconstpointer b)
{
	const UiKeyBinding *x = *(const UiKeyBinding *const *)a, *y = *(const UiKeyBinding *const *)b;
	return (gint)x->rank - (gint)y->rank;
}

guint ui_keys_line(gint width, const UiKeyBinding **out, guint max, UiKeyStyle *style_r)
{
	const UiKeyBinding *ranked[G_N_ELEMENTS(bindings)];
	guint n = 0;
	for (guint i = 0; i < G_N_ELEMENTS(bindings); i++)
		if (bindings[i].rank)
			ranked[n++] = &bindings[i];
	qsort(ranked, n, sizeof ranked[0], by_rank);

	/* every key in the roomiest style that fits; then drop from the
	 * highest rank down, keeping the ones a class cannot do without */
	for (;;) {
		for (guint s = 0; s < UI_KEYS_STYLE_COUNT; s++) {
			if (ui_keys_line_width(ranked, n, (UiKeyStyle)s) <= width || s + 1 == UI_KEYS_STYLE_COUNT) {
				if (ui_keys_line_width(ranked, n, (UiKeyStyle)s) > width) {
					/* not even tight: leave a key out and try again */
					gint drop = -1;
					for (gint i = (gint)n - 1; i >= 0; i--)
						if (!ranked[i]->always) {
							drop = i;
							break;
						}
					if (drop >= 0) {
						for (guint i = (guint)drop; i + 1 < n; i++)
							ranked[i] = ranked[i + 1];
						n--;
						break;
					}
				}
				*style_r = (UiKeyStyle)s;
				guint k = MIN(n, max);
				for (guint i = 0; i < k; i++)
					out[i] = ranked[i];
				return k;
			}
		}
	}
}
