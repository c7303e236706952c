/* ui/headless.c - a curses screen on /dev/null for the classroom view. */
#include "ui/headless.h"
#include "ui/view.h"

#include <langinfo.h>
#include <stdio.h>
#include <string.h>

/* Terminal types tried in turn; any ncurses install has one of them. */
static const char *const term_types[] = { "xterm-256color", "xterm", "vt100", "dumb" };

struct UiHeadless {
	UiView *view;
	SCREEN *screen;
	FILE   *out, *in;
};

UiHeadless *ui_headless_new(const Scenario *scn, gint cols, gint rows)
{
	UiHeadless *h = g_new0(UiHeadless, 1);
	h->out = fopen("/dev/null", "w");
	h->in = fopen("/dev/null", "r");
	for (guint i = 0; h->out && h->in && !h->screen && i < G_N_ELEMENTS(term_types); i++)
		h->screen = newterm(term_types[i], h->out, h->in);
	if (!h->screen) {
		ui_headless_free(h);
		return NULL;
	}
	set_term(h->screen);
	resizeterm(rows, cols);
	ui_draw_init(TRUE, strcmp(nl_langinfo(CODESET), "UTF-8") == 0);
	h->view = ui_view_new(scn, NULL);
	return h;
}

void ui_headless_free(UiHeadless *h)
{
	if (!h)
		return;
	if (h->screen) {
		endwin();
		delscreen(h->screen);
	}
	ui_view_free(h->view);
	if (h->out)
		fclose(h->out);
	if (h->in)
		fclose(h->in);
	g_free(h);
}

void ui_headless_add(UiHeadless *h, const MsEvent *ev)
{
	ui_view_take(h->view, ms_event_copy(ev));
}

void ui_headless_seek(UiHeadless *h, guint b)
{
	ui_model_seek(h->view->model, b);
}

guint ui_headless_beat_count(UiHeadless *h)
{
	return ui_model_beat_count(h->view->model);
}

void ui_headless_filter(UiHeadless *h, const char *proto)
{
	ui_model_set_filter(h->view->model, proto);
}

void ui_headless_draw(UiHeadless *h, gboolean full)
{
	ui_view_layout(h->view, COLS, LINES);
	ui_view_draw(h->view, stdscr);
	if (full)
		clearok(curscr, TRUE);
	wnoutrefresh(stdscr);
	doupdate();
}

char *ui_headless_text(UiHeadless *h)
{
	GString *out = g_string_new(NULL);
	for (gint y = 0; y < LINES; y++) {
		GString *line = g_string_new(NULL);
		for (gint x = 0; x < COLS; x++) {
			cchar_t cell;
			wchar_t wch[CCHARW_MAX + 1] = { 0 };
			attr_t attrs;
			short pair;
			if (mvwin_wch(stdscr, y, x, &cell) == ERR || getcchar(&cell, wch, &attrs, &pair, NULL) == ERR)
				continue;
			for (guint k = 0; wch[k]; k++)
				g_string_append_unichar(line, (gunichar)wch[k]);
			/* a wide character fills the next cell too */
			if (wch[0] && g_unichar_iswide((gunichar)wch[0]))
				x++;
		}
		while (line->len && line->str[line->len - 1] == ' ')
			g_string_truncate(line, line->len - 1);
		g_string_append_printf(out, "%s\n", line->str);
		g_string_free(line, TRUE);
	}
	return g_string_free(out, FALSE);
}
