/* ui/layout.c - the frame, the topology's boxes and routes, the ladder.
 *
 * The topology reads left to right like the course's drawings: the
 * sender's machine, the servers on the mail's path in the order the
 * scenario names them, the recipient's machine; the name servers they ask
 * stand below.  Each mode is tried from the roomiest down until one fits.
 */
#include "ui/layout.h"

#include <string.h>

/* Rows the lesson pane gets: its narration and the progress line. */
#define LESSON_ROWS_SMALL 2
#define LESSON_ROWS       3
#define LESSON_ROWS_LARGE 4
/* The sequence and transcript panes want at least this many rows beside a
 * topology drawn in boxes; else the topology shrinks. */
#define MID_ROWS_FOR_BOXES 10
#define MID_ROWS_FOR_ROW   8
/* A box is never narrower or wider than this (borders included). */
#define BOX_MIN_W  10
#define BOX_MAX_W  30
#define ROW_BOX_MIN_W 7
/* Gaps between boxes: wide enough for a label like "out.5 smtp", at least
 * wide enough for an arrow. */
#define GAP_WANTED 16
#define GAP_MIN     6
#define ROW_GAP_MIN 4
/* The sequence pane's share of the middle, in percent. */
#define SEQUENCE_SHARE 60
/* Rows between the path row and the services: a label, then the leg. */
#define CHANNEL_ROWS 2

gboolean ui_rect_overlaps(UiRect a, UiRect b)
{
	return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

gboolean ui_rect_contains(UiRect outer, UiRect inner)
{
	return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.w <= outer.x + outer.w &&
	       inner.y + inner.h <= outer.y + outer.h;
}

const char *ui_pane_to_string(UiPane p)
{
	static const char *const names[] = { "the path", "sequence", "transcript", "lesson" };
	return (guint)p < G_N_ELEMENTS(names) ? names[p] : "?";
}

const char *ui_topo_mode_to_string(UiTopoMode m)
{
	static const char *const names[] = { "line", "row", "tall", "full" };
	return (guint)m < G_N_ELEMENTS(names) ? names[m] : "?";
}

const char *ui_route_kind_to_string(UiRouteKind k)
{
	static const char *const names[] = { "none", "self", "gap", "over", "down" };
	return (guint)k < G_N_ELEMENTS(names) ? names[k] : "?";
}

/* Characters in s, never reading past its end even when it is not valid
 * UTF-8 (names can come from events). */
static gint text_width(const char *s)
{
	gint n = 0;
	for (const char *p = s; p && *p; n++) {
		gunichar c = g_utf8_get_char_validated(p, -1);
		p = c == (gunichar)-1 || c == (gunichar)-2 ? p + 1 : g_utf8_next_char(p);
	}
	return n;
}

/* ---- box contents ------------------------------------------------------------ */

char *ui_layout_parts_line(guint parts, guint mask, gint columns[UI_PART_COUNT])
{
	GString *s = g_string_new(NULL);
	gint col = 0;
	for (guint p = 0; p < UI_PART_COUNT; p++) {
		gboolean shown = (parts & mask & 1u << p) != 0;
		if (columns)
			columns[p] = -1;
		if (!shown)
			continue;
		if (s->len) {
			g_string_append(s, " · ");
			col += 3;
		}
		if (columns)
			columns[p] = col;
		const char *name = ui_part_to_string((UiPart)p);
		g_string_append(s, name);
		col += text_width(name);
	}
	return g_string_free(s, FALSE);
}

gint ui_layout_box_lines(UiTopoMode mode, gboolean path_row)
{
	switch (mode) {
	case UI_TOPO_FULL: return path_row ? 3 : 2;
	case UI_TOPO_TALL: return path_row ? 2 : 1;
	default: return 1;
	}
}

char *ui_layout_box_line(const UiNode *n, UiTopoMode mode, gboolean path_row, gboolean short_label, gint i)
{
	if (i == 0)
		return g_strdup(short_label ? n->short_label : n->label);
	if (i >= ui_layout_box_lines(mode, path_row))
		return g_strdup("");
	if (!path_row)   /* a service: what runs there, until it answers */
		return ui_layout_parts_line(n->parts, UI_PARTS_AGENTS, NULL);
	if (i == 1)
		return n->detail ? g_strdup(n->detail) : ui_layout_parts_line(n->parts, UI_PARTS_AGENTS, NULL);
	return n->detail ? ui_layout_parts_line(n->parts, UI_PARTS_AGENTS, NULL)
	                 : ui_layout_parts_line(n->parts, UI_PARTS_STORES, NULL);
}

static gint box_natural_width(const UiNode *n, UiTopoMode mode, gboolean path_row, gboolean short_label)
{
	gint w = 0;
	for (gint i = 0; i < ui_layout_box_lines(mode, path_row); i++) {
		g_autofree char *line = ui_layout_box_line(n, mode, path_row, short_label, i);
		w = MAX(w, text_width(line));
	}
	/* a name server's box will show answers like "MX 10 mx.example.org." */
	if (!path_row && mode == UI_TOPO_FULL)
		w = MAX(w, 20);
	gint min = mode == UI_TOPO_ROW ? ROW_BOX_MIN_W : BOX_MIN_W;
	return CLAMP(w + 4, min, BOX_MAX_W);
}

/* ---- the order of boxes ------------------------------------------------------ */

GArray *ui_layout_order(const UiWorld *w)
{
	static const UiTier order[] = { UI_TIER_LEFT, UI_TIER_PATH, UI_TIER_RIGHT, UI_TIER_BELOW };
	GArray *out = g_array_new(FALSE, FALSE, sizeof(guint));
	for (guint t = 0; t < G_N_ELEMENTS(order); t++) {
		GArray *tier = ui_world_tier(w, order[t]);
		g_array_append_vals(out, tier->data, tier->len);
	}
	return out;
}

static GArray *path_row_nodes(const UiWorld *w)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(guint));
	static const UiTier order[] = { UI_TIER_LEFT, UI_TIER_PATH, UI_TIER_RIGHT };
	for (guint t = 0; t < G_N_ELEMENTS(order); t++) {
		GArray *tier = ui_world_tier(w, order[t]);
		g_array_append_vals(out, tier->data, tier->len);
	}
	return out;
}

gint ui_layout_topology_height(const UiWorld *w, UiTopoMode mode)
{
	gboolean below = ui_world_tier(w, UI_TIER_BELOW)->len > 0;
	switch (mode) {
	case UI_TOPO_LINE:
		return 1;
	case UI_TOPO_ROW:
		return 4;   /* the channel and labels, then boxes of one line */
	case UI_TOPO_TALL:
	case UI_TOPO_FULL: {
		gint h = 1 + 2 + ui_layout_box_lines(mode, TRUE);
		if (below)
			h += CHANNEL_ROWS + 2 + ui_layout_box_lines(mode, FALSE);
		return h;
	}
	default:
		return 0;
	}
}

/* ---- placing a row of boxes ---------------------------------------------------- */

/* Widths for n boxes and the gap between them in width columns; FALSE when
 * even the narrowest boxes with the smallest gaps do not fit. */
static gboolean fit_row(gint *widths, guint n, gint width, gint min_w, gint gap_min, gint *gap_r)
{
	if (n == 0) {
		*gap_r = 0;
		return TRUE;
	}
	gint gaps = (gint)n - 1;
	for (;;) {
		gint sum = 0, widest = 0;
		for (guint i = 0; i < n; i++) {
			sum += widths[i];
			if (widths[i] > widths[widest])
				widest = (gint)i;
		}
		if (sum + gaps * gap_min <= width) {
			*gap_r = gaps ? MIN(GAP_WANTED * 2, (width - sum) / gaps) : 0;
			return TRUE;
		}
		if (widths[widest] <= min_w)
			return FALSE;
		widths[widest]--;   /* the widest box gives up a column, and shows an ellipsis */
	}
}

static void add_box(UiTopo *t, guint node, UiRect r, gint row)
{
	UiBox b = { .node = node, .r = r, .row = row };
	g_array_index(t->box_of, gint, node) = (gint)t->boxes->len;
	g_array_append_val(t->boxes, b);
}

/* A row of boxes spread over the width, centred; with short labels when
 * the full ones would be cut. */
static gboolean place_row(UiTopo *t, const UiWorld *w, GArray *nodes, UiTopoMode mode, gboolean path_row,
                          gint y, gint h, gint min_w, gint gap_min)
{
	guint n = nodes->len;
	if (n == 0)
		return TRUE;
	g_autofree gint *widths = g_new(gint, n);
	for (gint pass = 0; pass < 2; pass++) {
		gint sum = (gint)(n - 1) * gap_min;
		for (guint i = 0; i < n; i++) {
			const UiNode *node = ui_world_node(w, g_array_index(nodes, guint, i));
			widths[i] = box_natural_width(node, mode, path_row, pass == 1);
			sum += widths[i];
		}
		t->short_labels = pass == 1;
		if (sum <= t->w)
			break;
	}
	gint gap;
	if (!fit_row(widths, n, t->w, min_w, gap_min, &gap))
		return FALSE;
	gint total = -gap;
	for (guint i = 0; i < n; i++)
		total += widths[i] + gap;
	gint x = (t->w - total) / 2;
	for (guint i = 0; i < n; i++) {
		add_box(t, g_array_index(nodes, guint, i), (UiRect){ x, y, widths[i], h }, path_row ? 0 : 1);
		x += widths[i] + gap;
	}
	return TRUE;
}

/* The services: each in its share of the width, so that with two of them
 * one stands under the sender's side and one under the recipient's. */
static gboolean place_below(UiTopo *t, const UiWorld *w, GArray *nodes, UiTopoMode mode, gint y, gint h)
{
	guint n = nodes->len;
	if (n == 0)
		return TRUE;
	gint slot = t->w / (gint)n;
	g_autofree gint *widths = g_new(gint, n);
	for (guint i = 0; i < n; i++)
		widths[i] = MIN(box_natural_width(ui_world_node(w, g_array_index(nodes, guint, i)), mode, FALSE,
		                                  t->short_labels), slot - 2);
	for (guint i = 0; i < n; i++)
		if (widths[i] < BOX_MIN_W)
			return FALSE;
	for (guint i = 0; i < n; i++) {
		gint x = slot * (gint)i + (slot - widths[i]) / 2;
		add_box(t, g_array_index(nodes, guint, i), (UiRect){ x, y, widths[i], h }, 1);
	}
	return TRUE;
}

/* LINE: "alice ─ mail.example.com ─ mx.example.org   ns.example.net": the
 * path joined by 3-column links, the services after a wider space; every
 * label shrinks evenly (with an ellipsis) until the line fits. */
static gboolean place_line(UiTopo *t, const UiWorld *w)
{
	g_autoptr(GArray) path = path_row_nodes(w);
	GArray *below = ui_world_tier(w, UI_TIER_BELOW);
	guint n = path->len + below->len;
	if (n == 0)
		return TRUE;
	g_autofree gint *widths = g_new(gint, n);
	gint seps = (path->len ? (gint)path->len - 1 : 0) * 3 + (gint)below->len * 3;
	for (gint pass = 0; pass < 2; pass++) {
		gint sum = seps;
		for (guint i = 0; i < n; i++) {
			guint node = i < path->len ? g_array_index(path, guint, i) : g_array_index(below, guint, i - path->len);
			const UiNode *nd = ui_world_node(w, node);
			widths[i] = MAX(1, text_width(pass ? nd->short_label : nd->label));
			sum += widths[i];
		}
		t->short_labels = pass == 1;
		if (sum <= t->w)
			break;
	}
	for (;;) {
		gint sum = seps, widest = 0;
		for (guint i = 0; i < n; i++) {
			sum += widths[i];
			if (widths[i] > widths[widest])
				widest = (gint)i;
		}
		if (sum <= t->w)
			break;
		if (widths[widest] <= 4)
			return FALSE;
		widths[widest]--;
	}
	gint x = 0;
	for (guint i = 0; i < n; i++) {
		gboolean on_path = i < path->len;
		guint node = on_path ? g_array_index(path, guint, i) : g_array_index(below, guint, i - path->len);
		if (!on_path)
			x += 3;   /* the services stand apart from the path */
		add_box(t, node, (UiRect){ x, 0, widths[i], 1 }, on_path ? 0 : 1);
		x += widths[i] + (on_path && i + 1 < path->len ? 3 : 0);
	}
	return TRUE;
}

UiTopo *ui_layout_topology(const UiWorld *w, UiTopoMode mode, gint width, gint height)
{
	gint need = ui_layout_topology_height(w, mode);
	if (width < 1 || need == 0 || height < need)
		return NULL;
	UiTopo *t = g_new0(UiTopo, 1);
	t->mode = mode;
	t->w = width;
	t->h = height;
	t->boxes = g_array_new(FALSE, FALSE, sizeof(UiBox));
	t->box_of = g_array_new(FALSE, FALSE, sizeof(gint));
	t->over_y = t->channel_y = -1;
	t->lines = ui_layout_box_lines(mode, TRUE);
	for (guint i = 0; i < ui_world_count(w); i++) {
		gint none = -1;
		g_array_append_val(t->box_of, none);
	}
	g_autoptr(GArray) path = path_row_nodes(w);
	GArray *below = ui_world_tier(w, UI_TIER_BELOW);
	gboolean ok;
	switch (mode) {
	case UI_TOPO_LINE:
		ok = place_line(t, w);
		break;
	case UI_TOPO_ROW: {
		/* everything in one row, the services last */
		g_autoptr(GArray) all = ui_layout_order(w);
		t->over_y = 0;
		ok = place_row(t, w, all, mode, TRUE, 1, 3, ROW_BOX_MIN_W, ROW_GAP_MIN);
		for (guint i = 0; ok && i < t->boxes->len; i++) {
			UiBox *b = &g_array_index(t->boxes, UiBox, i);
			b->row = 0;   /* one row: neighbours are neighbours, services or not */
		}
		break;
	}
	default: {
		gint path_h = 2 + ui_layout_box_lines(mode, TRUE);
		t->over_y = 0;
		ok = place_row(t, w, path, mode, TRUE, 1, path_h, BOX_MIN_W, GAP_MIN);
		if (ok && below->len) {
			t->channel_y = 1 + path_h;
			ok = place_below(t, w, below, mode, t->channel_y + CHANNEL_ROWS, 2 + ui_layout_box_lines(mode, FALSE));
		}
		break;
	}
	}
	if (!ok) {
		ui_topo_free(t);
		return NULL;
	}
	return t;
}

void ui_topo_free(UiTopo *t)
{
	if (!t)
		return;
	g_array_free(t->boxes, TRUE);
	g_array_free(t->box_of, TRUE);
	g_free(t);
}

const UiBox *ui_topo_box(const UiTopo *t, guint node)
{
	if (node >= t->box_of->len)
		return NULL;
	gint i = g_array_index(t->box_of, gint, node);
	return i < 0 ? NULL : &g_array_index(t->boxes, UiBox, i);
}

/* ---- the frame ------------------------------------------------------------------ */

void ui_layout_frame(UiFrame *f, const UiWorld *w, gint cols, gint rows)
{
	memset(f, 0, sizeof *f);
	f->cols = cols;
	f->rows = rows;
	f->header = (UiRect){ 0, 0, cols, 1 };
	f->status = (UiRect){ 0, rows - 1, cols, 1 };
	if (cols < UI_LAYOUT_MIN_COLS || rows < UI_LAYOUT_MIN_ROWS) {
		f->too_small = TRUE;
		return;
	}
	gint lesson = rows >= 45 ? LESSON_ROWS_LARGE : rows >= 28 ? LESSON_ROWS : LESSON_ROWS_SMALL;
	/* header, status, four border lines and the lesson: the rest is shared
	 * by the topology and the middle */
	gint shared = rows - 6 - lesson;
	gint inner_w = cols - 2;
	gint topo_h = 1;
	f->topo_mode = UI_TOPO_LINE;
	for (gint mode = UI_TOPO_FULL; mode > UI_TOPO_LINE; mode--) {
		gint h = ui_layout_topology_height(w, (UiTopoMode)mode);
		gint mid_min = mode == UI_TOPO_ROW ? MID_ROWS_FOR_ROW : MID_ROWS_FOR_BOXES;
		if (h == 0 || shared - h < mid_min)
			continue;
		g_autoptr(UiTopo) t = ui_layout_topology(w, (UiTopoMode)mode, inner_w, h);
		if (t) {
			f->topo_mode = (UiTopoMode)mode;
			topo_h = h;
			break;
		}
	}
	gint mid_h = shared - topo_h;
	gint seq_w = (inner_w - 1) * SEQUENCE_SHARE / 100;   /* inner columns of the sequence pane */

	gint y = 1;
	f->box[UI_PANE_TOPOLOGY] = (UiRect){ 0, y, cols, topo_h + 2 };
	y += topo_h + 1;
	f->box[UI_PANE_SEQUENCE] = (UiRect){ 0, y, seq_w + 2, mid_h + 2 };
	f->box[UI_PANE_TRANSCRIPT] = (UiRect){ seq_w + 1, y, cols - seq_w - 1, mid_h + 2 };
	y += mid_h + 1;
	f->box[UI_PANE_LESSON] = (UiRect){ 0, y, cols, lesson + 2 };
	for (guint p = 0; p < UI_PANE_COUNT; p++) {
		UiRect b = f->box[p];
		f->inner[p] = (UiRect){ b.x + 1, b.y + 1, b.w - 2, b.h - 2 };
	}
}

/* ---- routes ------------------------------------------------------------------------ */

static gint center_x(UiRect r)
{
	return r.x + r.w / 2;
}

/* Where a long arrow enters a box's top border: near its right corner in
 * the roomy modes, where the border's left part says the host's address. */
static gint over_port(const UiTopo *t, const UiBox *b)
{
	if (t->mode >= UI_TOPO_TALL && b->r.w >= 6)
		return b->r.x + b->r.w - 3;
	return center_x(b->r);
}

/* Are boxes a and b of one row with no box of that row between them? */
static gboolean neighbours(const UiTopo *t, const UiBox *a, const UiBox *b)
{
	if (a->row != b->row)
		return FALSE;
	gint lo = MIN(a->r.x, b->r.x), hi = MAX(a->r.x, b->r.x);
	for (guint i = 0; i < t->boxes->len; i++) {
		const UiBox *c = &g_array_index(t->boxes, UiBox, i);
		if (c != a && c != b && c->row == a->row && c->r.x > lo && c->r.x < hi)
			return FALSE;
	}
	return TRUE;
}

static void push(UiRoute *r, gint x, gint y)
{
	if (r->npoints < UI_ROUTE_MAX_POINTS)
		r->points[r->npoints++] = (UiPoint){ x, y };
}

static void reverse(UiRoute *r)
{
	for (gint i = 0; i < r->npoints / 2; i++) {
		UiPoint p = r->points[i];
		r->points[i] = r->points[r->npoints - 1 - i];
		r->points[r->npoints - 1 - i] = p;
	}
}

void ui_layout_route(const UiTopo *t, guint a, guint b, UiRoute *out)
{
	memset(out, 0, sizeof *out);
	const UiBox *ba = ui_topo_box(t, a), *bb = ui_topo_box(t, b);
	if (!ba || !bb)
		return;
	if (a == b) {
		out->kind = UI_ROUTE_SELF;
		out->label = (UiPoint){ ba->r.x + 1, ba->r.y + ba->r.h - 1 };
		out->label_w = MAX(0, ba->r.w - 2);
		return;
	}
	if (t->mode == UI_TOPO_LINE) {
		out->kind = neighbours(t, ba, bb) ? UI_ROUTE_GAP : UI_ROUTE_OVER;
		return;
	}
	if (neighbours(t, ba, bb)) {
		/* straight across the gap, at the boxes' middle line */
		out->kind = UI_ROUTE_GAP;
		gint y = ba->r.y + ba->r.h / 2;
		gboolean right = bb->r.x > ba->r.x;
		gint x0 = right ? ba->r.x + ba->r.w : ba->r.x - 1;
		gint x1 = right ? bb->r.x - 1 : bb->r.x + bb->r.w;
		push(out, x0, y);
		push(out, x1, y);
		out->label = (UiPoint){ MIN(x0, x1), y - 1 };
		out->label_w = ABS(x1 - x0) + 1;
		return;
	}
	if (ba->row == bb->row) {
		/* up from one box's top, along the channel, down into the other */
		out->kind = UI_ROUTE_OVER;
		gint y = ba->row == 0 ? t->over_y : t->channel_y + CHANNEL_ROWS - 1;
		gint xa = over_port(t, ba), xb = over_port(t, bb);
		push(out, xa, ba->r.y);
		push(out, xa, y);
		push(out, xb, y);
		push(out, xb, bb->r.y);
		gint lo = MIN(xa, xb), hi = MAX(xa, xb);
		out->label = (UiPoint){ lo + 2, y };
		out->label_w = MAX(0, hi - lo - 3);
		return;
	}
	/* between the path row and a service below: down from the path box to
	 * the channel's last row, across, and down into the service's top */
	out->kind = UI_ROUTE_DOWN;
	const UiBox *top = ba->row == 0 ? ba : bb, *low = ba->row == 0 ? bb : ba;
	gint xb = center_x(low->r);
	gint xa = CLAMP(xb, top->r.x + 2, top->r.x + top->r.w - 3);
	gint y_turn = t->channel_y + CHANNEL_ROWS - 1;
	push(out, xa, top->r.y + top->r.h - 1);
	if (xa != xb) {
		push(out, xa, y_turn);
		push(out, xb, y_turn);
	}
	push(out, xb, low->r.y);
	/* the label beside the first leg, on the channel's first row */
	out->label = (UiPoint){ xa + 2, t->channel_y };
	out->label_w = MAX(0, t->w - xa - 3);
	if (low == ba)
		reverse(out);
}

/* ---- the ladder ------------------------------------------------------------------- */

gint ui_layout_ladder(guint n, gint width, gint gutter, gint *xs)
{
	if (n == 0)
		return 1;
	gint room = width - gutter;
	gint spacing = MAX(1, room / (gint)n);
	for (guint i = 0; i < n; i++) {
		gint x = gutter + spacing / 2 + (gint)i * spacing;
		xs[i] = x < width ? x : -1;
	}
	return spacing;
}
