/* ui/pane_topology.c - the path pane: the world as boxes, and the arrows
 * of the moment on screen.
 *
 * The arrows of the current moment are drawn heavy, in the colour of their
 * step (blue sending, green receiving, red refused), with the step id and
 * the protocol on them; the arrows of the moment before are thin and
 * plain, so a student sees where the message just was and where it is now.
 * Inside a box, the agent at work lights up (MTA, MDA, db, Maildir).
 */
#include "ui/view.h"

#include <string.h>

typedef struct {
	gint     from, to;
	guint8   from_part, to_part;
	guint    event;       /* the latest event on this edge in the moment, or its refusal */
	gboolean both;        /* arrows went both ways */
	gboolean bad;         /* a refusal or a failure: event is that one */
} Edge;

typedef enum { DIR_UP, DIR_DOWN, DIR_LEFT, DIR_RIGHT } Dir;

static gboolean is_bad(const MsEvent *ev)
{
	return ev->kind == MS_EV_REFUSE || ev->kind == MS_EV_ERROR;
}

/* The distinct arrows of moment b: one per pair of boxes. */
static void collect_edges(UiView *v, guint b, GArray *edges)
{
	g_autoptr(GArray) events = g_array_new(FALSE, FALSE, sizeof(guint));
	ui_model_beat_arrows(v->model, b, events);
	for (guint k = 0; k < events->len; k++) {
		guint i = g_array_index(events, guint, k);
		const UiPlace *p = &g_array_index(v->place, UiPlace, i);
		const MsEvent *ev = ui_model_event(v->model, i);
		if (p->from < 0 || p->to < 0)
			continue;
		Edge *found = NULL;
		for (guint e = 0; e < edges->len && !found; e++) {
			Edge *x = &g_array_index(edges, Edge, e);
			if ((x->from == p->from && x->to == p->to) || (x->from == p->to && x->to == p->from))
				found = x;
		}
		if (found) {
			if (found->from != p->from)
				found->both = TRUE;
			/* a refusal names the edge; what follows it (the 554, the
			 * goodbye) does not take its place */
			if (!found->bad || is_bad(ev))
				found->event = i;
			found->bad |= is_bad(ev);
			/* inside one box the latest pair of agents speaks */
			if (p->from == p->to) {
				found->from_part = p->from_part;
				found->to_part = p->to_part;
			}
			continue;
		}
		Edge e = { p->from, p->to, p->from_part, p->to_part, i, FALSE, is_bad(ev) };
		g_array_append_val(edges, e);
	}
}

static attr_t edge_style(UiView *v, const Edge *e)
{
	const MsEvent *ev = ui_model_event(v->model, e->event);
	return ui_draw_style(ui_draw_event_style(ev->step, e->bad));
}

/* "out.5 SMTP relay on port 25", shortened until it fits maxw. */
static char *edge_label(UiView *v, const Edge *e, gint maxw)
{
	const MsEvent *ev = ui_model_event(v->model, e->event);
	const char *bad = e->bad ? ui_draw_glyphs()->bad : "";
	const char *sp = e->bad ? " " : "";
	const char *step = ev->step ? ev->step : "";
	g_autofree char *proto = g_ascii_strup(ev->proto ? ev->proto : "", -1);
	const char *title = ev->step ? ui_steps_title(ev->step) : NULL;
	char *cands[5] = { NULL };
	if (e->from == e->to && (e->from_part != UI_PART_HOST || e->to_part != UI_PART_HOST)) {
		const char *arrow = ui_draw_glyphs()->lead;
		cands[0] = g_strdup_printf("%s%s%s %s%s%s", bad, sp, step, ui_part_to_string(e->from_part), arrow,
		                           ui_part_to_string(e->to_part));
	} else if (title) {
		/* "in.2 SMTP dialogue", not "in.2 SMTP SMTP dialogue" */
		g_autofree char *lower = g_ascii_strdown(title, -1), *p = g_ascii_strdown(proto, -1);
		cands[0] = *p && strstr(lower, p) ? g_strdup_printf("%s%s%s %s", bad, sp, step, title)
		                                  : g_strdup_printf("%s%s%s %s %s", bad, sp, step, proto, title);
	}
	cands[1] = g_strdup_printf("%s%s%s %s", bad, sp, step, proto);
	cands[2] = g_strdup_printf("%s%s%s", bad, sp, *step ? step : proto);
	cands[3] = g_strdup(*step ? step : proto);
	char *pick = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(cands) && !pick; i++)
		if (cands[i] && ui_draw_width(g_strstrip(cands[i])) <= maxw)
			pick = g_strdup(cands[i]);
	if (!pick)
		pick = g_strdup(cands[3]);
	for (guint i = 0; i < G_N_ELEMENTS(cands); i++)
		g_free(cands[i]);
	return pick;
}

/* ---- legs, corners and heads --------------------------------------------------- */

static Dir dir_of(UiPoint a, UiPoint b)
{
	if (a.x == b.x)
		return b.y < a.y ? DIR_UP : DIR_DOWN;
	return b.x < a.x ? DIR_LEFT : DIR_RIGHT;
}

static const char *head_glyph(Dir d)
{
	const UiGlyphs *g = ui_draw_glyphs();
	switch (d) {
	case DIR_UP: return g->up;
	case DIR_DOWN: return g->down;
	case DIR_LEFT: return g->left;
	default: return g->right;
	}
}

static const char *corner_glyph(Dir in, Dir out, gboolean heavy)
{
	const UiGlyphs *g = ui_draw_glyphs();
	/* which corner: where the line comes from and where it goes */
	gboolean opens_right = (in == DIR_UP && out == DIR_RIGHT) || (in == DIR_LEFT && out == DIR_DOWN);
	gboolean opens_left = (in == DIR_UP && out == DIR_LEFT) || (in == DIR_RIGHT && out == DIR_DOWN);
	gboolean closes_right = (in == DIR_DOWN && out == DIR_RIGHT) || (in == DIR_LEFT && out == DIR_UP);
	if (opens_right)
		return heavy ? g->htl : g->tl;
	if (opens_left)
		return heavy ? g->htr : g->tr;
	if (closes_right)
		return heavy ? g->hbl : g->bl;
	return heavy ? g->hbr : g->br;
}

static void put(WINDOW *w, UiRect o, UiPoint p, const char *glyph, attr_t a)
{
	if (p.x < 0 || p.y < 0 || p.x >= o.w || p.y >= o.h)
		return;
	ui_draw_text(w, o.y + p.y, o.x + p.x, 1, glyph, a);
}

static void draw_route(WINDOW *w, UiRect o, const UiRoute *rt, gboolean heavy, gboolean both, attr_t a)
{
	const UiGlyphs *g = ui_draw_glyphs();
	if (rt->npoints < 2)
		return;
	for (gint i = 0; i + 1 < rt->npoints; i++) {
		UiPoint p = rt->points[i], q = rt->points[i + 1];
		if (p.y == q.y)
			for (gint x = MIN(p.x, q.x); x <= MAX(p.x, q.x); x++)
				put(w, o, (UiPoint){ x, p.y }, heavy ? g->hh : g->h, a);
		else
			for (gint y = MIN(p.y, q.y); y <= MAX(p.y, q.y); y++)
				put(w, o, (UiPoint){ p.x, y }, heavy ? g->vv : g->v, a);
	}
	for (gint i = 1; i + 1 < rt->npoints; i++)
		put(w, o, rt->points[i],
		    corner_glyph(dir_of(rt->points[i - 1], rt->points[i]), dir_of(rt->points[i], rt->points[i + 1]), heavy),
		    a);
	Dir first = dir_of(rt->points[0], rt->points[1]);
	Dir last = dir_of(rt->points[rt->npoints - 2], rt->points[rt->npoints - 1]);
	if (both) {
		static const Dir back[] = { DIR_DOWN, DIR_UP, DIR_RIGHT, DIR_LEFT };
		put(w, o, rt->points[0], head_glyph(back[first]), a);
	} else if (rt->kind != UI_ROUTE_GAP) {
		/* the leg leaves through the box's border */
		put(w, o, rt->points[0], first == DIR_UP ? (heavy ? g->htee_b : g->tee_b) : (heavy ? g->htee_t : g->tee_t), a);
	}
	put(w, o, rt->points[rt->npoints - 1], head_glyph(last), a);
}

/* How many columns a label may take above a narrow gap. */
#define ABOVE_GAP_MAX 28

static void draw_label(UiView *v, WINDOW *w, UiRect o, const UiRoute *rt, const Edge *e, attr_t a)
{
	UiPoint at = rt->label;
	gint room = rt->label_w;
	/* a gap too narrow for "out.1 SMTP": the label goes on the free row
	 * above the boxes, centred over the gap */
	if (rt->kind == UI_ROUTE_GAP && v->topo->over_y >= 0 && v->topo->mode != UI_TOPO_LINE) {
		g_autofree char *want = edge_label(v, e, ABOVE_GAP_MAX - 2);
		if (ui_draw_width(want) + 2 > room) {
			room = MIN(ABOVE_GAP_MAX, o.w);
			at = (UiPoint){ CLAMP(rt->label.x + rt->label_w / 2 - room / 2, 0, o.w - room), v->topo->over_y };
		}
	}
	if (room < 3 || at.y < 0 || at.y >= o.h)
		return;
	g_autofree char *label = edge_label(v, e, room - 2);
	g_autofree char *padded = g_strdup_printf(" %s ", label);
	gint lw = MIN(ui_draw_width(padded), room);
	gint x = at.x;
	if (rt->kind == UI_ROUTE_GAP || rt->kind == UI_ROUTE_OVER || rt->kind == UI_ROUTE_SELF)
		x += (room - lw) / 2;   /* centred on its leg */
	ui_draw_text(w, o.y + at.y, o.x + x, MIN(lw, o.w - x), padded, a);
}

/* ---- boxes --------------------------------------------------------------------- */

typedef struct {
	guint  active_parts;   /* parts at work in the current moment */
	attr_t style;          /* of the box: its step's colour, bold when active */
	gint   state;          /* 2 active, 1 the moment before, 0 idle */
} BoxState;

/* "MX 10 mx.example.org." from "example.org. MX → 10 mx.example.org." */
static char *answer_summary(const char *text)
{
	if (!text)
		return NULL;
	const char *arrow = strstr(text, "→");
	g_auto(GStrv) words = g_strsplit(text, " ", 3);
	if (!arrow || !words[0] || !words[1])
		return g_strdup(text);
	const char *after = arrow + strlen("→");
	while (*after == ' ')
		after++;
	return g_strdup_printf("%s %s", words[1], after);
}

/* The last answer a name server gave that the class has seen. */
static char *last_answer(UiView *v, guint node)
{
	if (node >= v->answers->len)
		return NULL;
	GArray *a = g_ptr_array_index(v->answers, node);
	guint visible = ui_model_visible(v->model);
	for (guint k = a->len; k > 0; k--) {
		guint i = g_array_index(a, guint, k - 1);
		if (i < visible)
			return answer_summary(ui_model_event(v->model, i)->text);
	}
	return NULL;
}

/* A line of parts ("MTA · MDA · MRA"), centred, the active ones lit. */
static void draw_parts(WINDOW *w, gint y, gint x, gint width, guint parts, guint mask, guint active,
                       attr_t lit, attr_t plain)
{
	gint cols[UI_PART_COUNT];
	g_autofree char *line = ui_layout_parts_line(parts, mask, cols);
	gint lw = ui_draw_width(line);
	gint x0 = x + MAX(0, (width - lw) / 2);
	ui_draw_text(w, y, x0, width, line, plain);
	if (lw > width)
		return;   /* cut with an ellipsis: no room to point at parts */
	for (guint p = 0; p < UI_PART_COUNT; p++)
		if (cols[p] >= 0 && (active & 1u << p))
			ui_draw_text(w, y, x0 + cols[p], width, ui_part_to_string((UiPart)p), lit);
}

static void draw_centered(WINDOW *w, gint y, gint x, gint width, const char *text, attr_t a)
{
	gint tw = MIN(ui_draw_width(text), width);
	ui_draw_text(w, y, x + (width - tw) / 2, width, text, a);
}

static void draw_box(UiView *v, WINDOW *w, UiRect o, const UiBox *b, const BoxState *st)
{
	const UiNode *n = ui_world_node(v->world, b->node);
	UiRect r = { o.x + b->r.x, o.y + b->r.y, b->r.w, b->r.h };
	attr_t frame = st->state ? st->style | (st->state == 2 ? A_BOLD : 0) : ui_draw_style(UI_STYLE_FRAME);
	ui_draw_clear(w, r);
	ui_draw_box(w, r, frame);
	gint inner = r.w - 2;
	attr_t lit = st->style | A_REVERSE | A_BOLD;
	/* the agents the box lists: when the one at work is not among them
	 * (the host itself, a client on its machine), its name lights up */
	gint lines = r.h - 2;
	gboolean path = b->row == 0;
	guint listed = 0;
	for (gint i = 1; i < lines; i++)
		listed |= !path ? UI_PARTS_AGENTS : (i == 1 && n->detail) ? 0
		          : (i == 1 || n->detail) ? UI_PARTS_AGENTS : UI_PARTS_STORES;
	gboolean name_lit = st->state == 2 && !(st->active_parts & listed & n->parts);
	attr_t label = name_lit ? lit : ui_draw_style(UI_STYLE_TITLE);
	draw_centered(w, r.y + 1, r.x + 1, inner, v->topo->short_labels ? n->short_label : n->label, label);
	/* the address on a border where no arrow goes in (the top of a path
	 * box, the bottom of a service): the RBL is asked about it, reversed */
	if (n->address && g_strcmp0(n->detail, n->address) != 0 && v->topo->mode >= UI_TOPO_TALL &&
	    ui_draw_width(n->address) + 2 <= r.w - 6) {
		g_autofree char *addr = g_strdup_printf(" %s ", n->address);
		ui_draw_text(w, b->row == 0 ? r.y : r.y + r.h - 1, r.x + 2, r.w - 6, addr, ui_draw_style(UI_STYLE_DIM));
	}
	for (gint i = 1; i < lines; i++) {
		gint y = r.y + 1 + i;
		if (!path) {
			g_autofree char *answer = last_answer(v, b->node);
			if (answer)
				draw_centered(w, y, r.x + 1, inner, answer, st->state == 2 ? st->style | A_BOLD : A_NORMAL);
			else
				draw_parts(w, y, r.x + 1, inner, n->parts, UI_PARTS_AGENTS, st->active_parts, lit, A_NORMAL);
		} else if (i == 1 && n->detail) {
			draw_centered(w, y, r.x + 1, inner, n->detail, ui_draw_style(UI_STYLE_DIM));
		} else {
			guint mask = (i == 1 || n->detail) ? UI_PARTS_AGENTS : UI_PARTS_STORES;
			draw_parts(w, y, r.x + 1, inner, n->parts, mask, st->active_parts, lit, A_NORMAL);
		}
	}
}

/* ---- the one-line fallback --------------------------------------------------------- */

static void draw_line_mode(UiView *v, WINDOW *w, UiRect o, GArray *active, BoxState *states)
{
	const UiTopo *t = v->topo;
	const UiGlyphs *g = ui_draw_glyphs();
	for (guint i = 0; i < t->boxes->len; i++) {
		const UiBox *b = &g_array_index(t->boxes, UiBox, i);
		const UiNode *n = ui_world_node(v->world, b->node);
		BoxState *st = &states[b->node];
		attr_t a = st->state == 2 ? st->style | A_REVERSE | A_BOLD
		           : st->state == 1 ? st->style | A_BOLD
		           : b->row == 0 ? A_BOLD : ui_draw_style(UI_STYLE_DIM);
		ui_draw_text(w, o.y, o.x + b->r.x, b->r.w, t->short_labels ? n->short_label : n->label, a);
		/* the link to the next box on the path */
		if (b->row == 0 && i + 1 < t->boxes->len && g_array_index(t->boxes, UiBox, i + 1).row == 0) {
			gint x = o.x + b->r.x + b->r.w;
			ui_draw_text(w, o.y, x, 3, " ", A_NORMAL);
			ui_draw_text(w, o.y, x + 1, 1, g->h, ui_draw_style(UI_STYLE_DIM));
		}
	}
	for (guint k = 0; k < active->len; k++) {
		const Edge *e = &g_array_index(active, Edge, k);
		const UiBox *a = ui_topo_box(t, (guint)e->from), *b = ui_topo_box(t, (guint)e->to);
		if (!a || !b || a == b || a->row != b->row)
			continue;
		UiRoute rt;
		ui_layout_route(t, (guint)e->from, (guint)e->to, &rt);
		if (rt.kind != UI_ROUTE_GAP)
			continue;
		gboolean right = b->r.x > a->r.x;
		gint x = o.x + (right ? a->r.x + a->r.w : b->r.x + b->r.w);
		attr_t st = edge_style(v, e) | A_BOLD;
		g_autofree char *arrow = e->both ? g_strdup_printf("%s%s%s", g->left, g->hh, g->right)
		                         : right ? g_strdup_printf("%s%s ", g->hh, g->right)
		                                 : g_strdup_printf(" %s%s", g->left, g->hh);
		ui_draw_text(w, o.y, x, 3, arrow, st);
	}
}

/* ---- the pane ------------------------------------------------------------------------ */

void ui_pane_topology_draw(UiView *v, WINDOW *w, UiRect o)
{
	const UiTopo *t = v->topo;
	if (!t || o.w <= 0 || o.h <= 0)
		return;
	guint nodes = ui_world_count(v->world);
	g_autofree BoxState *states = g_new0(BoxState, nodes + 1);
	g_autoptr(GArray) active = g_array_new(FALSE, FALSE, sizeof(Edge));
	g_autoptr(GArray) before = g_array_new(FALSE, FALSE, sizeof(Edge));
	if (ui_model_beat_count(v->model)) {
		guint cur = ui_model_cursor(v->model);
		collect_edges(v, cur, active);
		if (cur > 0)
			collect_edges(v, cur - 1, before);
	}
	for (guint k = 0; k < before->len; k++) {
		const Edge *e = &g_array_index(before, Edge, k);
		for (gint end = 0; end < 2; end++) {
			BoxState *st = &states[end ? e->to : e->from];
			st->state = 1;
			st->style = edge_style(v, e);
		}
	}
	for (guint k = 0; k < active->len; k++) {
		const Edge *e = &g_array_index(active, Edge, k);
		for (gint end = 0; end < 2; end++) {
			BoxState *st = &states[end ? e->to : e->from];
			if (st->state < 2)
				st->active_parts = 0;
			st->state = 2;
			st->style = edge_style(v, e);
			st->active_parts |= 1u << (end ? e->to_part : e->from_part);
		}
	}

	if (t->mode == UI_TOPO_LINE) {
		draw_line_mode(v, w, o, active, states);
		return;
	}
	/* the path itself, faint: the way mail goes when nothing moves */
	for (guint i = 0; i + 1 < t->boxes->len; i++) {
		const UiBox *a = &g_array_index(t->boxes, UiBox, i), *b = &g_array_index(t->boxes, UiBox, i + 1);
		if (a->row != 0 || b->row != 0)
			continue;
		gint y = o.y + a->r.y + a->r.h / 2;
		ui_draw_hline(w, y, o.x + a->r.x + a->r.w, o.x + b->r.x - 1, ui_draw_glyphs()->dash,
		              ui_draw_style(UI_STYLE_DIM));
	}
	for (guint i = 0; i < t->boxes->len; i++) {
		const UiBox *b = &g_array_index(t->boxes, UiBox, i);
		draw_box(v, w, o, b, &states[b->node]);
	}
	/* the moment before, thin; then the moment, heavy, over it */
	for (gint pass = 0; pass < 2; pass++) {
		GArray *edges = pass ? active : before;
		for (guint k = 0; k < edges->len; k++) {
			const Edge *e = &g_array_index(edges, Edge, k);
			gboolean shadowed = FALSE;
			for (guint j = 0; !pass && j < active->len; j++) {
				const Edge *x = &g_array_index(active, Edge, j);
				shadowed |= (x->from == e->from && x->to == e->to) || (x->from == e->to && x->to == e->from);
			}
			if (shadowed)
				continue;
			UiRoute rt;
			ui_layout_route(t, (guint)e->from, (guint)e->to, &rt);
			attr_t a = edge_style(v, e) | (pass ? A_BOLD : 0);
			if (rt.kind != UI_ROUTE_SELF)
				draw_route(w, o, &rt, pass == 1, e->both, a);
			if (pass || rt.kind == UI_ROUTE_SELF)
				draw_label(v, w, o, &rt, e, pass ? a : a | A_DIM);
		}
	}
}
