/* ui/pane_sequence.c - the sequence pane: a ladder, like Wireshark's flow
 * graph.  One column per host, time flowing down, one arrow per protocol
 * line, DNS question or database query, with the step id in the margin
 * where a new step begins.
 *
 * The current moment's rows are bold, the moment before plain, older ones
 * dim.  With a filter on, only that protocol's arrows show.
 */
#include "ui/view.h"

#include <string.h>

/* Columns kept on the left for the step id ("setup.7"). */
#define GUTTER 8

char *ui_pane_sequence_title(UiView *v)
{
	const char *f = ui_model_filter(v->model);
	return f ? g_strdup_printf("sequence · only %s (f: next)", f) : g_strdup("sequence");
}

char *ui_pane_sequence_label(const MsEvent *ev)
{
	const char *text = ev->text ? ev->text : "";
	switch (ev->kind) {
	case MS_EV_SEND:
		/* the arrow says who speaks; "C: " and "S: " would say it twice */
		if ((text[0] == 'C' || text[0] == 'S') && text[1] == ':')
			text += text[2] == ' ' ? 3 : 2;
		/* the empty line between a message's header and body */
		return g_strdup(*text ? text : "(empty line)");
	case MS_EV_CONNECT: {
		if (ev->net.action == MS_NET_SYN)
			return g_strdup_printf("SYN :%u", ev->net.dst.port);
		/* a log from before events had a net: "SYN 192.0.2.77:49152 -> 192.0.2.10:587" -> "SYN :587" */
		const char *to = strstr(text, "-> ");
		const char *colon = to ? strrchr(to, ':') : NULL;
		return colon ? g_strdup_printf("SYN %s", colon) : g_strdup("SYN");
	}
	case MS_EV_REFUSE:
	case MS_EV_ERROR:
		return g_strdup_printf("%s %s", ui_draw_glyphs()->bad, text);
	default:
		return g_strdup(text);
	}
}

/* ---- which rows are on screen ----------------------------------------------------- */

/* Up to max passing rows ending with row `last` (inclusive), in order. */
static guint rows_ending_at(UiView *v, gint last, guint max, guint *rows)
{
	guint n = 0;
	for (gint r = last; r >= 0 && n < max; r--)
		if (ui_model_row_passes(v->model, (guint)r))
			rows[n++] = (guint)r;
	for (guint i = 0; i < n / 2; i++) {
		guint t = rows[i];
		rows[i] = rows[n - 1 - i];
		rows[n - 1 - i] = t;
	}
	return n;
}

guint ui_pane_sequence_rows(UiView *v, gint height, guint *rows)
{
	if (height <= 0)
		return 0;
	guint max = (guint)height;
	guint limit = ui_model_rows_before(v->model, ui_model_visible(v->model));
	if (v->sel < 0 || (guint)v->sel >= ui_model_visible(v->model)) {
		/* the latest rows; but a moment longer than the pane shows from
		 * its start, as the transcript does */
		v->seq_top = -1;
		guint n = rows_ending_at(v, (gint)limit - 1, max, rows);
		if (n == max && ui_model_beat_count(v->model)) {
			guint start = ui_model_rows_before(v->model, ui_model_beat_start(v->model, ui_model_cursor(v->model)));
			if (rows[0] > start) {
				n = 0;
				for (guint r = start; r < limit && n < max; r++)
					if (ui_model_row_passes(v->model, r))
						rows[n++] = r;
			}
		}
		return n;
	}
	/* the selection's row, or the last row before it (a transcript line
	 * may have none) */
	gint sel_row = (gint)ui_model_rows_before(v->model, (guint)v->sel + 1) - 1;
	if (v->seq_top >= 0 && v->seq_top <= sel_row) {
		guint n = 0;
		for (guint r = (guint)v->seq_top; r < limit && n < max; r++)
			if (ui_model_row_passes(v->model, r))
				rows[n++] = r;
		if (n && (gint)rows[n - 1] >= sel_row)
			return n;
	}
	/* the selection at the bottom, unless the rows after it fill the pane */
	guint n = rows_ending_at(v, sel_row, max, rows);
	for (guint r = n ? rows[n - 1] + 1 : 0; r < limit && n < max; r++)
		if (ui_model_row_passes(v->model, r))
			rows[n++] = r;
	v->seq_top = n ? (gint)rows[0] : -1;
	return n;
}

/* ---- drawing ---------------------------------------------------------------------- */

typedef struct {
	gint    *xs;          /* the x of each column, -1 for one off screen */
	gint    *col_of;      /* node -> column, -1 */
	gint     spacing;
	guint    ncols;
	UiRect   r;
} Ladder;

static gint node_x(const Ladder *l, gint node, guint nodes)
{
	if (node < 0 || (guint)node >= nodes)
		return -1;
	gint c = l->col_of[node];
	return c < 0 ? -1 : l->xs[c];
}

static void draw_lifelines(WINDOW *w, const Ladder *l, gint y)
{
	for (guint c = 0; c < l->ncols; c++)
		if (l->xs[c] >= 0)
			ui_draw_text(w, l->r.y + y, l->r.x + l->xs[c], 1, ui_draw_glyphs()->v, ui_draw_style(UI_STYLE_DIM));
}

static void draw_arrow(WINDOW *w, const Ladder *l, gint y, gint xa, gint xb, const char *label, attr_t a,
                       attr_t label_a, gboolean heavy)
{
	const UiGlyphs *g = ui_draw_glyphs();
	gint sy = l->r.y + y, ox = l->r.x;
	if (xa == xb) {
		/* inside one host: a loop, and the words beside it */
		ui_draw_text(w, sy, ox + xa, 1, g->self, a);
		ui_draw_text(w, sy, ox + xa + 2, l->r.w - xa - 2, label, label_a);
		return;
	}
	gboolean right = xb > xa;
	gint lo = MIN(xa, xb), hi = MAX(xa, xb);
	ui_draw_hline(w, sy, ox + lo + 1, ox + hi - 1, heavy ? g->hh : g->h, a);
	ui_draw_text(w, sy, ox + (right ? hi - 1 : lo + 1), 1, right ? g->right : g->left, a);
	/* the label inside the arrow, else beside it where there is room:
	 * the first place where it fits whole, or the roomiest */
	gint lw = ui_draw_width(label);
	gint room[3] = { hi - lo - 5, l->r.w - hi - 2, lo - GUTTER - 1 };
	gint pick = -1;
	for (gint k = 0; k < 3 && pick < 0; k++)
		if (lw <= room[k])
			pick = k;
	if (pick < 0)
		pick = room[0] >= room[1] && room[0] >= room[2] ? 0 : room[1] >= room[2] ? 1 : 2;
	if (pick == 0) {
		g_autofree char *padded = g_strdup_printf(" %s ", label);
		ui_draw_text(w, sy, ox + lo + 2 + (right ? 0 : 1), room[0] + 2, padded, label_a);
	} else if (pick == 1) {
		ui_draw_text(w, sy, ox + hi + 2, room[1], label, label_a);
	} else {
		ui_draw_text_right(w, sy, ox + lo - 1, room[2], label, label_a);
	}
}

void ui_pane_sequence_draw(UiView *v, WINDOW *w, UiRect r)
{
	if (r.h < 2 || r.w < GUTTER + 4)
		return;
	guint nodes = ui_world_count(v->world);
	Ladder l = { .r = r, .ncols = v->order->len };
	l.xs = g_new(gint, MAX(1, l.ncols));
	l.col_of = g_new(gint, MAX(1, nodes));
	for (guint i = 0; i < nodes; i++)
		l.col_of[i] = -1;
	for (guint c = 0; c < l.ncols; c++) {
		guint node = g_array_index(v->order, guint, c);
		if (node < nodes)
			l.col_of[node] = (gint)c;
	}
	l.spacing = ui_layout_ladder(l.ncols, r.w, GUTTER, l.xs);

	/* the hosts, over their columns */
	for (guint c = 0; c < l.ncols; c++) {
		if (l.xs[c] < 0)
			continue;
		const UiNode *n = ui_world_node(v->world, g_array_index(v->order, guint, c));
		const char *name = ui_draw_width(n->label) < l.spacing ? n->label : n->short_label;
		gint lw = MIN(ui_draw_width(name), MAX(1, l.spacing - 1));
		gint x = CLAMP(l.xs[c] - lw / 2, GUTTER, r.w - lw);
		ui_draw_text(w, r.y, r.x + x, lw, name, ui_draw_style(UI_STYLE_TITLE));
	}

	gint height = r.h - 1;
	for (gint y = 1; y <= height; y++)
		draw_lifelines(w, &l, y);
	g_autofree guint *rows = g_new(guint, height);
	guint n = ui_pane_sequence_rows(v, height, rows);
	guint cur = ui_model_cursor(v->model);
	gboolean any = ui_model_beat_count(v->model) > 0;
	const char *prev_step = NULL;
	if (n && rows[0] > 0) {
		/* the step of the row above the first shown: a step id is written
		 * only where the step changes */
		prev_step = ui_model_event(v->model, ui_model_row_event(v->model, rows[0] - 1))->step;
	}
	for (guint k = 0; k < n; k++) {
		gint y = 1 + (gint)k;
		guint i = ui_model_row_event(v->model, rows[k]);
		const MsEvent *ev = ui_model_event(v->model, i);
		const UiPlace *p = &g_array_index(v->place, UiPlace, i);
		guint beat = ui_model_beat_of(v->model, i);
		gboolean now = any && beat == cur, just = any && beat + 1 == cur;
		gboolean bad = ev->kind == MS_EV_REFUSE || ev->kind == MS_EV_ERROR;
		attr_t st = ui_draw_style(ui_draw_event_style(ev->step, bad));
		attr_t a = now ? st | A_BOLD : just ? st : st | A_DIM;
		attr_t la = a;
		if ((gint)i == v->sel)
			la = a | A_REVERSE;
		else if (v->last_search && ui_model_row_matches(v->model, rows[k], v->last_search))
			la = a | A_UNDERLINE;

		if (ev->step && g_strcmp0(ev->step, prev_step) != 0)
			ui_draw_text(w, r.y + y, r.x, GUTTER - 1, ev->step, st | (now ? A_BOLD : 0));
		prev_step = ev->step;
		if ((gint)i == v->sel)
			ui_draw_text(w, r.y + y, r.x + GUTTER - 1, 1, ui_draw_glyphs()->lead, A_BOLD);

		g_autofree char *label = ui_pane_sequence_label(ev);
		gint xa = node_x(&l, p->from, nodes), xb = node_x(&l, p->to, nodes);
		if (ui_model_row_kind(ev) == UI_ROW_ARROW && xa >= 0 && xb >= 0) {
			draw_arrow(w, &l, y, xa, xb, label, a, la, now);
		} else {
			/* narration across the ladder */
			const char *lead = ev->kind == MS_EV_STEP ? ui_draw_glyphs()->lead : ui_draw_glyphs()->dash;
			g_autofree char *line = g_strdup_printf("%s %s", lead, label);
			attr_t ca = ev->kind == MS_EV_STEP || bad ? la : (la & ~A_BOLD) | A_DIM;
			ui_draw_text(w, r.y + y, r.x + GUTTER, r.w - GUTTER, line, ca);
		}
	}
	if (n == 0) {
		const char *hint = ui_model_count(v->model) ? "(nothing of this protocol yet)"
		                                            : "Nothing has happened yet: press Space.";
		ui_draw_text(w, r.y + 2, r.x + GUTTER, r.w - GUTTER, hint, ui_draw_style(UI_STYLE_DIM));
	}
	g_free(l.xs);
	g_free(l.col_of);
}
