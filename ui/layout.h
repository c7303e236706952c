/* ui/layout.h - where everything goes on the screen, as pure arithmetic.
 *
 * The frame: a header line, four panes (topology, sequence, transcript,
 * lesson) sharing their borders, and the key line, at any size from 80x24
 * up.  The topology: world -> boxes and the routes arrows take between
 * them.  The ladder: one column per host.  Nothing here draws; the panes
 * ask and draw.  Coordinates count from 0, x to the right, y down.
 */
#pragma once

#include <glib.h>
#include "ui/world.h"

typedef struct {
	gint x, y, w, h;
} UiRect;

typedef struct {
	gint x, y;
} UiPoint;

gboolean ui_rect_overlaps(UiRect a, UiRect b);
/* Is inner wholly inside outer? */
gboolean ui_rect_contains(UiRect outer, UiRect inner);

/* ---- the frame ------------------------------------------------------------- */

typedef enum {
	UI_PANE_TOPOLOGY,
	UI_PANE_SEQUENCE,
	UI_PANE_TRANSCRIPT,
	UI_PANE_LESSON,
	UI_PANE_COUNT
} UiPane;

const char *ui_pane_to_string(UiPane p);

/* How much room the topology gets, smallest first. */
typedef enum {
	UI_TOPO_LINE,  /* one line: alice ─ mail.example.com ─ mx.example.org */
	UI_TOPO_ROW,   /* one row of small boxes */
	UI_TOPO_TALL,  /* the path in boxes, the services below it */
	UI_TOPO_FULL,  /* the same with each box's agents and the services' answers */
	UI_TOPO_MODE_COUNT
} UiTopoMode;

const char *ui_topo_mode_to_string(UiTopoMode m);

/* Below this the view says the terminal is too small. */
#define UI_LAYOUT_MIN_COLS 60
#define UI_LAYOUT_MIN_ROWS 16

typedef struct {
	gint       cols, rows;
	gboolean   too_small;
	UiRect     header;                 /* the top line */
	UiRect     status;                 /* the key line at the bottom */
	UiRect     box[UI_PANE_COUNT];     /* each pane with its border; neighbours share a border line */
	UiRect     inner[UI_PANE_COUNT];   /* inside the border */
	UiTopoMode topo_mode;
} UiFrame;

/* Lays the frame out for a terminal of cols x rows and the world w (whose
 * topology decides how tall its pane must be). */
void ui_layout_frame(UiFrame *f, const UiWorld *w, gint cols, gint rows);

/* ---- the topology ------------------------------------------------------------ */

typedef struct {
	guint  node;
	UiRect r;        /* relative to the topology pane's inner area */
	gint   row;      /* 0: the path row; 1: the services below */
} UiBox;

typedef struct {
	UiTopoMode mode;
	gint       w, h;
	GArray    *boxes;        /* UiBox, one per node, in ui_layout_order order */
	GArray    *box_of;       /* gint per node index: index into boxes, or -1 */
	gint       over_y;       /* the row above the path row where long arrows pass; -1: none */
	gint       channel_y;    /* the first row between the path and the services; -1: none */
	gint       lines;        /* text lines inside a path box */
	gboolean   short_labels; /* the boxes say "mail", not "mail.example.com" */
} UiTopo;

/* The agents and the stores a box lists, each on a line of its own. */
#define UI_PARTS_AGENTS (1u << UI_PART_MUA | 1u << UI_PART_MTA | 1u << UI_PART_MDA | \
                         1u << UI_PART_MRA | 1u << UI_PART_WEB | 1u << UI_PART_DNS)
#define UI_PARTS_STORES (1u << UI_PART_DB | 1u << UI_PART_MAILDIR)

/* The parts of mask that parts has, in UiPart order, joined by " · "
 * ("MTA · MDA · MRA"); columns (may be NULL) gets each part's offset in
 * display columns, -1 for one not listed.  Returns a new string. */
char   *ui_layout_parts_line(guint parts, guint mask, gint columns[UI_PART_COUNT]);
/* The text of line i (from 0) of node n's box in a mode (a new string;
 * "" for a line the pane fills while running, like a name server's last
 * answer).  short_label: the node's short label on line 0. */
char   *ui_layout_box_line(const UiNode *n, UiTopoMode mode, gboolean path_row, gboolean short_label, gint i);
/* Text lines inside a path box and a service box in each mode. */
gint    ui_layout_box_lines(UiTopoMode mode, gboolean path_row);
/* The nodes in reading order: left clients, the path, right clients, then
 * the services.  A new array of guint node indices. */
GArray *ui_layout_order(const UiWorld *w);
/* Rows the topology needs in a mode (0 when it cannot be drawn so). */
gint    ui_layout_topology_height(const UiWorld *w, UiTopoMode mode);
/* The boxes for an area of width x height, or NULL when the mode does not
 * fit.  Boxes never overlap and stay inside the area.  Free with
 * ui_topo_free. */
UiTopo *ui_layout_topology(const UiWorld *w, UiTopoMode mode, gint width, gint height);
void    ui_topo_free(UiTopo *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UiTopo, ui_topo_free)
const UiBox *ui_topo_box(const UiTopo *t, guint node);

/* ---- arrows between boxes ------------------------------------------------------ */

typedef enum {
	UI_ROUTE_NONE,  /* a party has no box */
	UI_ROUTE_SELF,  /* both in one box: the label goes on its bottom border */
	UI_ROUTE_GAP,   /* neighbours in a row: straight across the gap */
	UI_ROUTE_OVER,  /* same row, not neighbours: up, along a channel, down; in the
	                   boxed modes it enters a box near its top right corner */
	UI_ROUTE_DOWN,  /* between the path and a service below (either way) */
	UI_ROUTE_KIND_COUNT
} UiRouteKind;

const char *ui_route_kind_to_string(UiRouteKind k);

#define UI_ROUTE_MAX_POINTS 4

typedef struct {
	UiRouteKind kind;
	gint        npoints;
	UiPoint     points[UI_ROUTE_MAX_POINTS];  /* from the source's border to the target's: each
	                                            leg is straight; the head goes on the last */
	UiPoint     label;                       /* where the label starts */
	gint        label_w;                     /* how many columns it may take (0: none) */
} UiRoute;

/* The route of an arrow from node a to node b. */
void ui_layout_route(const UiTopo *t, guint a, guint b, UiRoute *out);

/* ---- the ladder ---------------------------------------------------------------- */

/* The x of each of n columns in a pane of width w that keeps gutter
 * columns on its left for step ids; -1 for a column that does not fit.
 * Columns are evenly spaced; the returned spacing is at least 1. */
gint ui_layout_ladder(guint n, gint width, gint gutter, gint *xs);
