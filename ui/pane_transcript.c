/* ui/pane_transcript.c - the transcript pane: the C:/S: lines of one
 * connection, as a mail server's log would show them.
 *
 * It follows the selected line, or the latest one; on a relay the client's
 * lines carry the sender's step (out.5, blue) and the server's the
 * receiver's (in.2, green), so the two sides of the course show in one
 * dialogue.  What the agents did between the lines (the SQL the MDA ran,
 * the credentials checked) is there too, indented.
 */
#include "ui/view.h"

#include <string.h>

/* How far back to look for a connection to show when the latest line
 * belongs to none (a narration, a note). */
#define LOOKBACK_EVENTS 4096

/* The conversation on show and the event in it the class is at. */
static const UiConversation *current(UiView *v, gint *anchor_r)
{
	*anchor_r = -1;
	gint at = ui_view_current_event(v);
	guint visible = ui_model_visible(v->model);
	if (at < 0)
		at = (gint)visible - 1;
	for (gint i = at, n = 0; i >= 0 && n < LOOKBACK_EVENTS; i--, n++) {
		if ((guint)i >= visible)
			continue;
		const UiConversation *c = ui_model_conversation_of(v->model, (guint)i);
		if (c) {
			*anchor_r = i;
			return c;
		}
	}
	return NULL;
}

/* "mda@mx.example.org" -> "mda@mx" */
static char *short_name(const char *name)
{
	if (!name)
		return g_strdup("?");
	const char *at = strchr(name, '@');
	const char *host = at ? at + 1 : name;
	const char *dot = strchr(host, '.');
	return dot && dot != host ? g_strndup(name, (gsize)(dot - name)) : g_strdup(name);
}

char *ui_pane_transcript_title(UiView *v, gint maxw)
{
	gint anchor;
	const UiConversation *c = current(v, &anchor);
	if (!c)
		return g_strdup("transcript");
	const char *both = ui_draw_unicode() ? "⇄" : "<>";
	g_autofree char *port = c->port ? g_strdup_printf(" :%u", c->port) : g_strdup("");
	char *full = g_strdup_printf("transcript: %s %s %s%s %s", c->client ? c->client : "?", both,
	                             c->server ? c->server : "?", port, c->proto ? c->proto : "");
	if (ui_draw_width(full) <= maxw)
		return full;
	g_free(full);
	/* the hosts by their first names: the box and the ladder say the rest */
	g_autofree char *client = short_name(c->client), *server = short_name(c->server);
	return g_strdup_printf("transcript: %s %s %s%s %s", client, both, server, port, c->proto ? c->proto : "");
}

/* A transcript line in words. */
static char *line_text(const MsEvent *ev)
{
	const UiGlyphs *g = ui_draw_glyphs();
	const char *text = ev->text ? ev->text : "";
	switch (ev->kind) {
	case MS_EV_SEND:
		return g_strdup(text);
	case MS_EV_ACCEPT:
		return g_strdup_printf("%s %s", g->dash, text);
	case MS_EV_CLOSE:
		return g_strdup_printf("%s %s closes", g->dash, ev->from ? ev->from : "");
	case MS_EV_REFUSE:
	case MS_EV_ERROR:
		return g_strdup_printf("%s %s", g->bad, text);
	case MS_EV_DB_QUERY:
		return g_strdup_printf("   SQL %s", text);
	case MS_EV_AUTH:
		return g_strdup_printf("   %s %s", g->ok, text);
	case MS_EV_DNS_QUERY:
		return g_strdup_printf("Q: %s", text);
	case MS_EV_DNS_ANSWER:
		return g_strdup_printf("A: %s", text);
	default:
		return g_strdup_printf("   %s %s", g->lead, text);
	}
}

void ui_pane_transcript_draw(UiView *v, WINDOW *w, UiRect r)
{
	if (r.h <= 0 || r.w <= 2)
		return;
	gint anchor;
	const UiConversation *c = current(v, &anchor);
	if (!c) {
		ui_draw_text(w, r.y, r.x + 1, r.w - 1, "(no connection yet)", ui_draw_style(UI_STYLE_DIM));
		return;
	}
	guint visible = ui_model_visible(v->model);
	/* the lines the class can see, and where the anchor is among them */
	guint count = 0, at = 0;
	for (guint k = 0; k < c->lines->len; k++) {
		guint e = g_array_index(c->lines, guint, k);
		if (e >= visible)
			break;
		count = k + 1;
		if ((gint)e <= anchor)
			at = k;
	}
	if (count == 0)
		return;
	/* the anchor at the bottom, or the top of the transcript when short;
	 * following the latest, a burst longer than the pane shows from its
	 * start (the class reads a pipelined EHLO ... QUIT from the top) */
	gint first = MAX(0, (gint)at - r.h + 1);
	guint cur = ui_model_cursor(v->model);
	if (v->sel < 0 && ui_model_beat_count(v->model)) {
		guint start = ui_model_beat_start(v->model, cur);
		gint k0 = (gint)at;
		while (k0 > 0 && g_array_index(c->lines, guint, k0 - 1) >= start)
			k0--;
		first = MIN(first, k0);
	}
	for (gint row = 0; row < r.h && first + row < (gint)count; row++) {
		guint e = g_array_index(c->lines, guint, first + row);
		const MsEvent *ev = ui_model_event(v->model, e);
		gboolean bad = ev->kind == MS_EV_REFUSE || ev->kind == MS_EV_ERROR;
		gboolean quiet = ev->kind == MS_EV_ACCEPT || ev->kind == MS_EV_CLOSE;
		attr_t st = quiet ? ui_draw_style(UI_STYLE_DIM) : ui_draw_style(ui_draw_event_style(ev->step, bad));
		if (ui_model_beat_of(v->model, e) == cur)
			st |= A_BOLD;
		if ((gint)e == v->sel)
			st |= A_REVERSE;
		if ((guint)(first + row) == at)
			ui_draw_text(w, r.y + row, r.x, 1, ui_draw_glyphs()->lead, A_BOLD);
		g_autofree char *text = line_text(ev);
		ui_draw_text(w, r.y + row, r.x + 1, r.w - 1, text, st);
	}
}
