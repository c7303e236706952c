/* tests/ui/test_layout.c - ui/layout.c, ui/world.c and the key line of
 * ui/keys.c as pure functions: a world becomes boxes that never overlap
 * and fit every terminal from 80x24 to 200x60, parties of events land in
 * the right box, arrows route between borders, the ladder has a column
 * per host, and the key line always fits and keeps the keys a class needs.
 */
#include "tests/ms_test.h"
#include "ui/keys.h"
#include "ui/layout.h"
#include "ui/world.h"

static Scenario *load(const char *path)
{
	g_autoptr(GError) err = NULL;
	Scenario *scn = scenario_load_file(path, &err);
	ck_assert_msg(scn != NULL, "%s: %s", path, err ? err->message : "?");
	return scn;
}

static gint node_named(const UiWorld *w, const char *name)
{
	for (guint i = 0; i < ui_world_count(w); i++)
		if (strcmp(ui_world_node(w, i)->name, name) == 0)
			return (gint)i;
	return -1;
}

/* ---- the world ------------------------------------------------------------- */

typedef struct {
	const char *scenario;
	const char *host;
	UiTier      tier;
} TierCase;

static const TierCase tier_cases[] = {
	{ "scenarios/relay-path.scn", "home-pc-alice", UI_TIER_LEFT },
	{ "scenarios/relay-path.scn", "mail.example.com", UI_TIER_PATH },
	{ "scenarios/relay-path.scn", "mx.example.org", UI_TIER_PATH },
	{ "scenarios/relay-path.scn", "ns.example.net", UI_TIER_BELOW },
	{ "scenarios/relay-path.scn", "rbl.example.net", UI_TIER_BELOW },
	{ "scenarios/course.scn", "home-pc-alice", UI_TIER_LEFT },    /* alice's account is at the first server */
	{ "scenarios/course.scn", "laptop-bob", UI_TIER_RIGHT },      /* bob reads at the second */
	{ "scenarios/course.scn", "mail.example.com", UI_TIER_PATH },
};

START_TEST(test_world_tiers)
{
	for (guint i = 0; i < G_N_ELEMENTS(tier_cases); i++) {
		g_autoptr(Scenario) scn = load(tier_cases[i].scenario);
		g_autoptr(UiWorld) w = ui_world_new(scn);
		gint n = node_named(w, tier_cases[i].host);
		ck_assert_int_ge(n, 0);
		ck_assert_msg(ui_world_node(w, (guint)n)->tier == tier_cases[i].tier, "%s in %s: %s", tier_cases[i].host,
		              tier_cases[i].scenario, ui_tier_to_string(ui_world_node(w, (guint)n)->tier));
	}
}
END_TEST

typedef struct {
	const char *name;
	const char *other;
	const char *proto;
	MsEventKind kind;
	const char *node;    /* NULL: no party */
	UiPart      part;
} PlaceCase;

static const PlaceCase place_cases[] = {
	{ "mail.example.com", "home-pc-alice", "smtp", MS_EV_SEND, "mail.example.com", UI_PART_MTA },
	{ "mail.example.com", "mx.example.org", "imap", MS_EV_SEND, "mail.example.com", UI_PART_MRA },
	{ "MX.Example.Org.", NULL, "smtp", MS_EV_SEND, "mx.example.org", UI_PART_MTA },  /* any case, a final dot */
	{ "mda@mx.example.org", "mx.example.org", "lmtp", MS_EV_SEND, "mx.example.org", UI_PART_MDA },
	{ "mra@mail.example.com", NULL, "imap", MS_EV_SEND, "mail.example.com", UI_PART_MRA },
	{ "accounts.sqlite", "mda@mail.example.com", "sql", MS_EV_DB_QUERY, "mail.example.com", UI_PART_DB },
	{ "bob@example.org", "mda@mx.example.org", "maildir", MS_EV_STORE, "mx.example.org", UI_PART_MAILDIR },
	{ "example.org", NULL, "smtp", MS_EV_NOTE, "mx.example.org", UI_PART_MDA },       /* a domain: its MDA */
	{ "autoconfig.example.com", "alice", "http", MS_EV_SEND, "mail.example.com", UI_PART_WEB },  /* zone A */
	{ "_autodiscover._tcp.example.org", NULL, "dns", MS_EV_DNS_QUERY, NULL, UI_PART_HOST },       /* SRV: none */
	{ "alice", "autoconfig.example.com", "http", MS_EV_SEND, "home-pc-alice", UI_PART_MUA },
	{ "192.0.2.10", NULL, "smtp", MS_EV_SEND, "mail.example.com", UI_PART_MTA },
	{ "ns.example.net", "mail.example.com", "dns", MS_EV_DNS_ANSWER, "ns.example.net", UI_PART_DNS },
	{ "dns", "mail.example.com", "dns", MS_EV_STEP, "ns.example.net", UI_PART_DNS },
	{ "scenario", NULL, NULL, MS_EV_NOTE, NULL, UI_PART_HOST },
	{ NULL, "x", NULL, MS_EV_NOTE, NULL, UI_PART_HOST },
};

START_TEST(test_world_place)
{
	g_autoptr(Scenario) scn = load("scenarios/course.scn");
	for (guint i = 0; i < G_N_ELEMENTS(place_cases); i++) {
		const PlaceCase *c = &place_cases[i];
		g_autoptr(UiWorld) w = ui_world_new(scn);
		guint before = ui_world_count(w);
		UiPart part = UI_PART_COUNT;
		gint n = ui_world_place(w, c->name, c->other, c->proto, c->kind, TRUE, &part);
		if (!c->node) {
			/* nobody, or a stranger of its own */
			ck_assert_msg(n < 0 || (guint)n == before, "case %u: %s", i, c->name ? c->name : "(null)");
			continue;
		}
		ck_assert_msg(n == node_named(w, c->node), "case %u: %s landed in %s", i, c->name,
		              n >= 0 ? ui_world_node(w, (guint)n)->name : "nothing");
		ck_assert_msg(part == c->part, "case %u: %s is %s", i, c->name, ui_part_to_string(part));
		ck_assert_uint_eq(ui_world_count(w), before);
	}
}
END_TEST

START_TEST(test_world_strangers)
{
	/* without a scenario, boxes come from what events show */
	g_autoptr(UiWorld) w = ui_world_new(NULL);
	guint gen = ui_world_generation(w);
	UiPart part;
	gint client = ui_world_place(w, "home-pc-alice", "mail.example.com", "tcp", MS_EV_CONNECT, TRUE, &part);
	gint server = ui_world_place(w, "mail.example.com", "home-pc-alice", "tcp", MS_EV_CONNECT, FALSE, &part);
	gint ns = ui_world_place(w, "ns.example.net", "mail.example.com", "dns", MS_EV_DNS_QUERY, FALSE, &part);
	ck_assert_int_eq(part, UI_PART_DNS);
	gint mda = ui_world_place(w, "mda@mail.example.com", "mail.example.com", "auth", MS_EV_ACCEPT, TRUE, &part);
	ck_assert_int_eq(mda, server);
	ck_assert_int_eq(part, UI_PART_MDA);
	gint db = ui_world_place(w, "accounts.sqlite", "mda@mail.example.com", "sql", MS_EV_DB_QUERY, FALSE, &part);
	ck_assert_int_eq(db, server);
	ck_assert_int_eq(part, UI_PART_DB);
	ck_assert_uint_eq(ui_world_count(w), 3);
	ck_assert_uint_ne(ui_world_generation(w), gen);
	ck_assert_int_eq(ui_world_node(w, (guint)client)->tier, UI_TIER_LEFT);
	ck_assert_int_eq(ui_world_node(w, (guint)server)->tier, UI_TIER_PATH);
	ck_assert_int_eq(ui_world_node(w, (guint)ns)->tier, UI_TIER_BELOW);
	/* the stranger shows what it was seen doing */
	ck_assert(ui_world_node(w, (guint)server)->parts & 1u << UI_PART_MDA);
	ck_assert(ui_world_node(w, (guint)server)->parts & 1u << UI_PART_DB);
	ck_assert_str_eq(ui_world_node(w, (guint)server)->short_label, "mail");
	ck_assert_str_eq(ui_world_node(w, (guint)client)->short_label, "home-pc-alice");
}
END_TEST

START_TEST(test_world_labels)
{
	g_autoptr(Scenario) scn = load("scenarios/course.scn");
	g_autoptr(UiWorld) w = ui_world_new(scn);
	const UiNode *pc = ui_world_node(w, (guint)node_named(w, "home-pc-alice"));
	ck_assert_str_eq(pc->label, "alice");          /* the client, on its machine */
	ck_assert_str_eq(pc->detail, "home-pc-alice");
	ck_assert_str_eq(pc->address, "192.0.2.77");
	const UiNode *mx = ui_world_node(w, (guint)node_named(w, "mx.example.org"));
	ck_assert_str_eq(mx->short_label, "mx");
	ck_assert(mx->parts & 1u << UI_PART_MRA);
	ck_assert(mx->parts & 1u << UI_PART_MAILDIR);   /* an MDA keeps mailboxes */
}
END_TEST

/* ---- boxes ------------------------------------------------------------------- */

static void assert_topology_sane(const UiWorld *w, const UiTopo *t, const char *what)
{
	UiRect area = { 0, 0, t->w, t->h };
	for (guint i = 0; i < t->boxes->len; i++) {
		const UiBox *a = &g_array_index(t->boxes, UiBox, i);
		ck_assert_msg(ui_rect_contains(area, a->r), "%s: box of %s (%d,%d %dx%d) outside %dx%d", what,
		              ui_world_node(w, a->node)->name, a->r.x, a->r.y, a->r.w, a->r.h, t->w, t->h);
		ck_assert_msg(a->r.w >= 3 && a->r.h >= 1, "%s: a box too small", what);
		for (guint k = i + 1; k < t->boxes->len; k++) {
			const UiBox *b = &g_array_index(t->boxes, UiBox, k);
			ck_assert_msg(!ui_rect_overlaps(a->r, b->r), "%s: %s and %s overlap", what,
			              ui_world_node(w, a->node)->name, ui_world_node(w, b->node)->name);
		}
	}
	/* every node has its box */
	for (guint n = 0; n < ui_world_count(w); n++)
		ck_assert_msg(ui_topo_box(t, n) != NULL, "%s: %s has no box", what, ui_world_node(w, n)->name);
}

static const struct {
	gint cols, rows;
} sizes[] = { { 80, 24 }, { 100, 30 }, { 120, 36 }, { 160, 48 }, { 200, 60 } };

static const char *const worlds[] = {
	"scenarios/relay-path.scn", "scenarios/course.scn", "scenarios/mx-fallback.scn",
	"scenarios/rbl-refused.scn", "scenarios/smuggling-attempt.scn",
};

START_TEST(test_frame_fits)
{
	for (guint s = 0; s < G_N_ELEMENTS(worlds); s++) {
		g_autoptr(Scenario) scn = load(worlds[s]);
		g_autoptr(UiWorld) w = ui_world_new(scn);
		for (guint z = 0; z < G_N_ELEMENTS(sizes); z++) {
			UiFrame f;
			ui_layout_frame(&f, w, sizes[z].cols, sizes[z].rows);
			g_autofree char *what = g_strdup_printf("%s at %dx%d", worlds[s], sizes[z].cols, sizes[z].rows);
			ck_assert_msg(!f.too_small, "%s: too small", what);
			UiRect screen = { 0, 0, sizes[z].cols, sizes[z].rows };
			UiRect body = { 0, 1, sizes[z].cols, sizes[z].rows - 2 };
			ck_assert(ui_rect_contains(screen, f.header) && ui_rect_contains(screen, f.status));
			ck_assert(!ui_rect_overlaps(f.header, f.status));
			for (guint p = 0; p < UI_PANE_COUNT; p++) {
				ck_assert_msg(ui_rect_contains(body, f.box[p]), "%s: %s outside", what, ui_pane_to_string(p));
				ck_assert_msg(f.inner[p].w >= 20 && f.inner[p].h >= 1, "%s: %s is %dx%d", what,
				              ui_pane_to_string(p), f.inner[p].w, f.inner[p].h);
				for (guint q = p + 1; q < UI_PANE_COUNT; q++)
					ck_assert_msg(!ui_rect_overlaps(f.inner[p], f.inner[q]), "%s: %s and %s overlap", what,
					              ui_pane_to_string(p), ui_pane_to_string(q));
			}
			/* the middle panes share a row band and keep room to read */
			ck_assert_int_eq(f.inner[UI_PANE_SEQUENCE].y, f.inner[UI_PANE_TRANSCRIPT].y);
			ck_assert_int_ge(f.inner[UI_PANE_SEQUENCE].h, 8);
			UiRect tr = f.inner[UI_PANE_TOPOLOGY];
			g_autoptr(UiTopo) t = ui_layout_topology(w, f.topo_mode, tr.w, tr.h);
			ck_assert_msg(t != NULL, "%s: the chosen mode %s does not fit", what, ui_topo_mode_to_string(f.topo_mode));
			assert_topology_sane(w, t, what);
		}
	}
}
END_TEST

START_TEST(test_frame_modes)
{
	g_autoptr(Scenario) scn = load("scenarios/relay-path.scn");
	g_autoptr(UiWorld) w = ui_world_new(scn);
	UiFrame small, large;
	ui_layout_frame(&small, w, 80, 24);
	ui_layout_frame(&large, w, 200, 60);
	/* a small terminal gets the topology in one row or line; a large one in full */
	ck_assert_int_le(small.topo_mode, UI_TOPO_ROW);
	ck_assert_int_eq(large.topo_mode, UI_TOPO_FULL);
	UiFrame tiny;
	ui_layout_frame(&tiny, w, 40, 10);
	ck_assert(tiny.too_small);
	/* every mode at 200x60 */
	for (gint m = 0; m < UI_TOPO_MODE_COUNT; m++) {
		gint h = ui_layout_topology_height(w, (UiTopoMode)m);
		g_autoptr(UiTopo) t = ui_layout_topology(w, (UiTopoMode)m, 198, h);
		ck_assert_msg(t != NULL, "mode %s", ui_topo_mode_to_string((UiTopoMode)m));
		assert_topology_sane(w, t, ui_topo_mode_to_string((UiTopoMode)m));
		/* one row lower than needed does not fit */
		ck_assert(ui_layout_topology(w, (UiTopoMode)m, 198, h - 1) == NULL);
	}
	/* too narrow for boxes at all */
	ck_assert(ui_layout_topology(w, UI_TOPO_FULL, 30, 20) == NULL);
}
END_TEST

START_TEST(test_short_labels)
{
	g_autoptr(Scenario) scn = load("scenarios/relay-path.scn");
	g_autoptr(UiWorld) w = ui_world_new(scn);
	g_autoptr(UiTopo) wide = ui_layout_topology(w, UI_TOPO_ROW, 198, 4);
	g_autoptr(UiTopo) narrow = ui_layout_topology(w, UI_TOPO_ROW, 78, 4);
	ck_assert(!wide->short_labels);
	ck_assert(narrow->short_labels);
	g_autofree char *line = ui_layout_box_line(ui_world_node(w, (guint)node_named(w, "mail.example.com")),
	                                           UI_TOPO_ROW, TRUE, TRUE, 0);
	ck_assert_str_eq(line, "mail");
}
END_TEST

/* ---- routes ------------------------------------------------------------------------ */

static gboolean on_border(UiRect r, UiPoint p)
{
	gboolean inside = p.x >= r.x && p.x < r.x + r.w && p.y >= r.y && p.y < r.y + r.h;
	return inside && (p.x == r.x || p.x == r.x + r.w - 1 || p.y == r.y || p.y == r.y + r.h - 1);
}

static gboolean beside(UiRect r, UiPoint p)
{
	return (p.y >= r.y && p.y < r.y + r.h) && (p.x == r.x - 1 || p.x == r.x + r.w);
}

START_TEST(test_routes)
{
	g_autoptr(Scenario) scn = load("scenarios/relay-path.scn");
	g_autoptr(UiWorld) w = ui_world_new(scn);
	g_autoptr(UiTopo) t = ui_layout_topology(w, UI_TOPO_FULL, 118, ui_layout_topology_height(w, UI_TOPO_FULL));
	ck_assert(t != NULL);
	guint alice = (guint)node_named(w, "home-pc-alice"), mail = (guint)node_named(w, "mail.example.com");
	guint mx = (guint)node_named(w, "mx.example.org"), ns = (guint)node_named(w, "ns.example.net");
	UiRoute r;

	/* neighbours: straight across the gap, from beside one to beside the other */
	ui_layout_route(t, alice, mail, &r);
	ck_assert_int_eq(r.kind, UI_ROUTE_GAP);
	ck_assert_int_eq(r.npoints, 2);
	ck_assert(beside(ui_topo_box(t, alice)->r, r.points[0]));
	ck_assert(beside(ui_topo_box(t, mail)->r, r.points[1]));
	ck_assert_int_eq(r.points[0].y, r.points[1].y);
	ck_assert_int_gt(r.label_w, 5);

	/* over a box: up from one top border, along the channel, down into the other */
	ui_layout_route(t, alice, mx, &r);
	ck_assert_int_eq(r.kind, UI_ROUTE_OVER);
	ck_assert_int_eq(r.npoints, 4);
	ck_assert(on_border(ui_topo_box(t, alice)->r, r.points[0]));
	ck_assert(on_border(ui_topo_box(t, mx)->r, r.points[3]));
	ck_assert_int_eq(r.points[1].y, t->over_y);
	ck_assert_int_eq(r.points[2].y, t->over_y);

	/* down to a name server and back up: the same route, reversed */
	UiRoute up;
	ui_layout_route(t, mail, ns, &r);
	ui_layout_route(t, ns, mail, &up);
	ck_assert_int_eq(r.kind, UI_ROUTE_DOWN);
	ck_assert(on_border(ui_topo_box(t, mail)->r, r.points[0]));
	ck_assert(on_border(ui_topo_box(t, ns)->r, r.points[r.npoints - 1]));
	ck_assert_int_eq(up.npoints, r.npoints);
	for (gint i = 0; i < r.npoints; i++) {
		ck_assert_int_eq(up.points[i].x, r.points[r.npoints - 1 - i].x);
		ck_assert_int_eq(up.points[i].y, r.points[r.npoints - 1 - i].y);
	}
	/* every leg is straight */
	for (gint i = 0; i + 1 < r.npoints; i++)
		ck_assert(r.points[i].x == r.points[i + 1].x || r.points[i].y == r.points[i + 1].y);

	/* inside one box: its bottom border carries the label */
	ui_layout_route(t, mx, mx, &r);
	ck_assert_int_eq(r.kind, UI_ROUTE_SELF);
	ck_assert_int_eq(r.label.y, ui_topo_box(t, mx)->r.y + ui_topo_box(t, mx)->r.h - 1);

	/* a node without a box */
	ui_layout_route(t, mail, 999, &r);
	ck_assert_int_eq(r.kind, UI_ROUTE_NONE);
}
END_TEST

/* ---- the ladder ------------------------------------------------------------------ */

START_TEST(test_ladder)
{
	g_autoptr(Scenario) scn = load("scenarios/course.scn");
	g_autoptr(UiWorld) w = ui_world_new(scn);
	g_autoptr(GArray) order = ui_layout_order(w);
	ck_assert_uint_eq(order->len, ui_world_count(w));   /* one column per host */
	/* senders first, the services last */
	ck_assert_str_eq(ui_world_node(w, g_array_index(order, guint, 0))->name, "home-pc-alice");
	ck_assert_int_eq(ui_world_node(w, g_array_index(order, guint, order->len - 1))->tier, UI_TIER_BELOW);
	ck_assert_int_eq(ui_world_node(w, g_array_index(order, guint, 3))->tier, UI_TIER_RIGHT);

	gint xs[16];
	gint spacing = ui_layout_ladder(order->len, 120, 8, xs);
	ck_assert_int_ge(spacing, 10);
	for (guint i = 0; i < order->len; i++) {
		ck_assert_int_ge(xs[i], 8);
		ck_assert_int_lt(xs[i], 120);
		if (i)
			ck_assert_int_eq(xs[i] - xs[i - 1], spacing);
	}
	/* more columns than room: the last ones fall off, marked -1 */
	spacing = ui_layout_ladder(12, 18, 8, xs);
	ck_assert_int_ge(spacing, 1);
	ck_assert_int_eq(xs[11], -1);
	ck_assert_int_ge(xs[0], 8);
}
END_TEST

START_TEST(test_parts_line)
{
	gint cols[UI_PART_COUNT];
	guint parts = 1u << UI_PART_MTA | 1u << UI_PART_MDA | 1u << UI_PART_MRA | 1u << UI_PART_DB;
	g_autofree char *line = ui_layout_parts_line(parts, UI_PARTS_AGENTS, cols);
	ck_assert_str_eq(line, "MTA · MDA · MRA");
	ck_assert_int_eq(cols[UI_PART_MTA], 0);
	ck_assert_int_eq(cols[UI_PART_MDA], 6);
	ck_assert_int_eq(cols[UI_PART_MRA], 12);
	ck_assert_int_eq(cols[UI_PART_DB], -1);   /* a store, not an agent */
	g_autofree char *stores = ui_layout_parts_line(parts, UI_PARTS_STORES, NULL);
	ck_assert_str_eq(stores, "db");
}
END_TEST

/* ---- the key line ---------------------------------------------------------------- */

START_TEST(test_key_line)
{
	static const gint widths[] = { 60, 80, 100, 120, 200 };
	guint n_all;
	const UiKeyBinding *table = ui_keys_table(&n_all);
	guint ranked = 0;
	for (guint i = 0; i < n_all; i++)
		ranked += table[i].rank != 0;
	for (guint k = 0; k < G_N_ELEMENTS(widths); k++) {
		const UiKeyBinding *shown[32];
		UiKeyStyle style;
		guint n = ui_keys_line(widths[k], shown, G_N_ELEMENTS(shown), &style);
		ck_assert_int_le(ui_keys_line_width(shown, n, style), widths[k]);
		/* Space, back, play, help and quit stay, however narrow */
		for (guint i = 0; i < n_all; i++) {
			if (!table[i].always)
				continue;
			gboolean there = FALSE;
			for (guint j = 0; j < n; j++)
				there |= shown[j] == &table[i];
			ck_assert_msg(there, "%s missing at %d columns", table[i].label, widths[k]);
		}
		/* from 80 columns on, every key is on the line */
		if (widths[k] >= 80)
			ck_assert_uint_eq(n, ranked);
		for (guint j = 1; j < n; j++)
			ck_assert_uint_lt(shown[j - 1]->rank, shown[j]->rank);
	}
}
END_TEST

START_TEST(test_key_table)
{
	/* the course's keys do what the help says, and no key does two things */
	ck_assert_int_eq(ui_keys_action(' '), UI_ACT_NEXT);
	ck_assert_int_eq(ui_keys_action('p'), UI_ACT_PLAY);
	ck_assert_int_eq(ui_keys_action('q'), UI_ACT_QUIT);
	ck_assert_int_eq(ui_keys_action('?'), UI_ACT_HELP);
	ck_assert_int_eq(ui_keys_action('/'), UI_ACT_SEARCH);
	ck_assert_int_eq(ui_keys_action('\t'), UI_ACT_FOCUS_NEXT);
	ck_assert_int_eq(ui_keys_action('3'), UI_ACT_FOCUS_3);
	ck_assert_int_eq(ui_keys_action('x'), UI_ACT_NONE);
	guint n;
	const UiKeyBinding *t = ui_keys_table(&n);
	for (guint i = 0; i < n; i++)
		for (guint k = 0; k < UI_KEYS_PER_BINDING && t[i].keys[k]; k++)
			ck_assert_int_eq(ui_keys_action(t[i].keys[k]), t[i].action);
	for (gint a = 0; a < UI_ACT_COUNT; a++)
		ck_assert_str_ne(ui_action_to_string((UiAction)a), "?");
}
END_TEST

static Suite *layout_suite(void)
{
	Suite *s = suite_create("ui-layout");
	MS_ADD_TEST(s, test_world_tiers, 10);
	MS_ADD_TEST(s, test_world_place, 10);
	MS_ADD_TEST(s, test_world_strangers, 10);
	MS_ADD_TEST(s, test_world_labels, 10);
	MS_ADD_TEST(s, test_frame_fits, 20);
	MS_ADD_TEST(s, test_frame_modes, 10);
	MS_ADD_TEST(s, test_short_labels, 10);
	MS_ADD_TEST(s, test_routes, 10);
	MS_ADD_TEST(s, test_ladder, 10);
	MS_ADD_TEST(s, test_parts_line, 10);
	MS_ADD_TEST(s, test_key_line, 10);
	MS_ADD_TEST(s, test_key_table, 10);
	return s;
}

MS_TEST_MAIN(layout_suite)
