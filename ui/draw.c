/* ui/draw.c - styles, glyphs and clipped text for the panes.
 *
 * Colour means something here: blue for sending (out.*), green for
 * receiving (in.*), magenta for set-up, red for what was refused, as in the
 * course's drawings.  Without colour (NO_COLOR, a monochrome terminal) the
 * same things are told by bold, dim and reverse video, and by the step ids
 * written next to them.
 */
#include "ui/draw.h"

#include <string.h>

/* Curses is one screen per process; so is its configuration here. */
static struct {
	gboolean color, unicode;
	attr_t   styles[UI_STYLE_COUNT];
} draw = { .unicode = TRUE };

enum { PAIR_SETUP = 1, PAIR_OUT, PAIR_IN, PAIR_RETR, PAIR_DEF, PAIR_BAD, PAIR_FOCUS, PAIR_HEADER, PAIR_KEY };

static const UiGlyphs glyphs_utf8 = {
	"─", "│", "┌", "┐", "└", "┘", "├", "┤", "┬", "┴",
	"━", "┃", "┏", "┓", "┗", "┛", "┳", "┻",
	"▶", "◀", "▲", "▼",
	"…", "·", "•", "✓", "✗", "↻", "▸", "┄",
};

static const UiGlyphs glyphs_ascii = {
	"-", "|", "+", "+", "+", "+", "+", "+", "+", "+",
	"=", "#", "+", "+", "+", "+", "+", "+",
	">", "<", "^", "v",
	"~", ".", "*", "v", "x", "@", ">", "-",
};

/* How ASCII mode writes the characters events use. */
static const struct {
	gunichar    c;
	const char *ascii;
} translit[] = {
	{ 0x2192, "->" }, { 0x2190, "<-" }, { 0x21c4, "<>" }, { 0x2022, "*" }, { 0x2026, "..." },
	{ 0x2713, "v" },  { 0x2717, "x" },  { 0x00b7, "." },  { 0x25b6, ">" }, { 0x25c0, "<" },
	{ 0x2014, "-" },  { 0x2013, "-" },  { 0x23ce, "Ent" }, { 0x2191, "^" },  { 0x2193, "v" },  { 0x201c, "\"" }, { 0x201d, "\"" }, { 0x2019, "'" },
};

const char *ui_style_to_string(UiStyle s)
{
	static const char *const names[] = { "text", "dim", "frame", "focus", "title", "header", "key", "setup",
	                                      "out", "in", "retr", "def", "bad", "good", "select" };
	G_STATIC_ASSERT(G_N_ELEMENTS(names) == UI_STYLE_COUNT);
	return (guint)s < G_N_ELEMENTS(names) ? names[s] : "?";
}

/* Bright colours where the terminal has 16, for a projector. */
static short colour(short base)
{
	return COLORS >= 16 ? (short)(base + 8) : base;
}

void ui_draw_init(gboolean color, gboolean unicode)
{
	draw.unicode = unicode;
	draw.color = color && has_colors();
	for (guint i = 0; i < UI_STYLE_COUNT; i++)
		draw.styles[i] = A_NORMAL;
	draw.styles[UI_STYLE_DIM] = A_DIM;
	draw.styles[UI_STYLE_FRAME] = A_NORMAL;
	draw.styles[UI_STYLE_FOCUS] = A_BOLD;
	draw.styles[UI_STYLE_TITLE] = A_BOLD;
	draw.styles[UI_STYLE_HEADER] = A_REVERSE | A_BOLD;
	draw.styles[UI_STYLE_KEY] = A_REVERSE | A_BOLD;
	draw.styles[UI_STYLE_BAD] = A_BOLD;
	draw.styles[UI_STYLE_GOOD] = A_BOLD;
	draw.styles[UI_STYLE_SELECT] = A_REVERSE;
	if (!draw.color)
		return;
	start_color();
	short bg = use_default_colors() == OK ? -1 : COLOR_BLACK;
	init_pair(PAIR_SETUP, colour(COLOR_MAGENTA), bg);
	init_pair(PAIR_OUT, colour(COLOR_BLUE), bg);
	init_pair(PAIR_IN, colour(COLOR_GREEN), bg);
	init_pair(PAIR_RETR, colour(COLOR_CYAN), bg);
	init_pair(PAIR_DEF, colour(COLOR_YELLOW), bg);
	init_pair(PAIR_BAD, colour(COLOR_RED), bg);
	init_pair(PAIR_FOCUS, colour(COLOR_YELLOW), bg);
	init_pair(PAIR_HEADER, COLOR_WHITE, COLOR_BLUE);
	init_pair(PAIR_KEY, COLOR_BLACK, COLOR_CYAN);
	draw.styles[UI_STYLE_SETUP] = COLOR_PAIR(PAIR_SETUP);
	draw.styles[UI_STYLE_OUT] = COLOR_PAIR(PAIR_OUT);
	draw.styles[UI_STYLE_IN] = COLOR_PAIR(PAIR_IN);
	draw.styles[UI_STYLE_RETR] = COLOR_PAIR(PAIR_RETR);
	draw.styles[UI_STYLE_DEF] = COLOR_PAIR(PAIR_DEF);
	draw.styles[UI_STYLE_BAD] = COLOR_PAIR(PAIR_BAD) | A_BOLD;
	draw.styles[UI_STYLE_GOOD] = COLOR_PAIR(PAIR_IN) | A_BOLD;
	draw.styles[UI_STYLE_FOCUS] = COLOR_PAIR(PAIR_FOCUS) | A_BOLD;
	draw.styles[UI_STYLE_HEADER] = COLOR_PAIR(PAIR_HEADER) | A_BOLD;
	draw.styles[UI_STYLE_KEY] = COLOR_PAIR(PAIR_KEY) | A_BOLD;
}

gboolean ui_draw_color(void)
{
	return draw.color;
}

gboolean ui_draw_unicode(void)
{
	return draw.unicode;
}

attr_t ui_draw_style(UiStyle s)
{
	return (guint)s < UI_STYLE_COUNT ? draw.styles[s] : A_NORMAL;
}

UiStyle ui_draw_family_style(UiFamily f)
{
	static const UiStyle styles[UI_FAMILY_COUNT] = {
		[UI_FAMILY_NONE] = UI_STYLE_TEXT, [UI_FAMILY_SETUP] = UI_STYLE_SETUP,
		[UI_FAMILY_OUT] = UI_STYLE_OUT,   [UI_FAMILY_IN] = UI_STYLE_IN,
		[UI_FAMILY_RETR] = UI_STYLE_RETR, [UI_FAMILY_DEF] = UI_STYLE_DEF,
	};
	return (guint)f < UI_FAMILY_COUNT ? styles[f] : UI_STYLE_TEXT;
}

UiStyle ui_draw_event_style(const char *step, gboolean bad)
{
	return bad ? UI_STYLE_BAD : ui_draw_family_style(ui_steps_family(step));
}

const UiGlyphs *ui_draw_glyphs(void)
{
	return draw.unicode ? &glyphs_utf8 : &glyphs_ascii;
}

/* ---- text ------------------------------------------------------------------ */

static gint char_width(gunichar c)
{
	if (g_unichar_iszerowidth(c))
		return 0;
	return g_unichar_iswide(c) ? 2 : 1;
}

/* Append the printable form of c to out; returns its width. */
static gint append_char(GString *out, gunichar c)
{
	if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
		g_string_append_c(out, ' ');
		return 1;
	}
	if (c < 0x80) {
		g_string_append_c(out, (char)c);
		return 1;
	}
	if (!draw.unicode) {
		for (guint i = 0; i < G_N_ELEMENTS(translit); i++)
			if (translit[i].c == c) {
				g_string_append(out, translit[i].ascii);
				return (gint)strlen(translit[i].ascii);
			}
		g_string_append_c(out, '?');
		return 1;
	}
	g_string_append_unichar(out, c);
	return char_width(c);
}

/* Next character of s, never running past its end; invalid bytes read as
 * U+FFFD one at a time. */
static gunichar next_char(const char **p)
{
	gunichar c = g_utf8_get_char_validated(*p, -1);
	if (c == (gunichar)-1 || c == (gunichar)-2) {
		(*p)++;
		return 0xfffd;
	}
	*p = g_utf8_next_char(*p);
	return c;
}

gint ui_draw_width(const char *s)
{
	if (!s)
		return 0;
	g_autoptr(GString) tmp = g_string_new(NULL);
	gint w = 0;
	for (const char *p = s; *p;)
		w += append_char(tmp, next_char(&p));
	return w;
}

/* The printable prefix of s that fits maxw columns, with an ellipsis when
 * s is longer; *width_r gets its width. */
static GString *fit(const char *s, gint maxw, gint *width_r)
{
	GString *out = g_string_new(NULL);
	*width_r = 0;
	if (!s || maxw <= 0)
		return out;
	gint total = 0;
	for (const char *p = s; *p;)
		total += append_char(out, next_char(&p));
	if (total <= maxw) {
		*width_r = total;
		return out;
	}
	/* too long: as much as leaves room for the ellipsis */
	const char *ell = ui_draw_glyphs()->ellipsis;
	gint ell_w = draw.unicode ? 1 : (gint)strlen(ell);
	gint budget = maxw - ell_w, w = 0;
	g_string_truncate(out, 0);
	for (const char *p = s; *p && budget > 0;) {
		gsize before = out->len;
		gint cw = append_char(out, next_char(&p));
		if (w + cw > budget) {
			g_string_truncate(out, before);
			break;
		}
		w += cw;
	}
	if (ell_w <= maxw) {
		g_string_append(out, ell);
		w += ell_w;
	}
	*width_r = w;
	return out;
}

gint ui_draw_text(WINDOW *w, gint y, gint x, gint maxw, const char *s, attr_t a)
{
	gint maxx = getmaxx(w), maxy = getmaxy(w);
	if (y < 0 || y >= maxy || x >= maxx || maxw <= 0)
		return 0;
	if (x < 0) {
		maxw += x;
		x = 0;
	}
	maxw = MIN(maxw, maxx - x);
	gint width;
	g_autoptr(GString) text = fit(s, maxw, &width);
	if (text->len == 0)
		return 0;
	wattrset(w, a);
	mvwaddnstr(w, y, x, text->str, (int)text->len);
	wattrset(w, A_NORMAL);
	return width;
}

gint ui_draw_text_right(WINDOW *w, gint y, gint x_end, gint maxw, const char *s, attr_t a)
{
	gint width = MIN(ui_draw_width(s), maxw);
	return ui_draw_text(w, y, x_end - width, width, s, a);
}

void ui_draw_hline(WINDOW *w, gint y, gint x0, gint x1, const char *glyph, attr_t a)
{
	if (x0 > x1) {
		gint t = x0;
		x0 = x1;
		x1 = t;
	}
	gint maxx = getmaxx(w);
	if (y < 0 || y >= getmaxy(w))
		return;
	x0 = MAX(x0, 0);
	x1 = MIN(x1, maxx - 1);
	wattrset(w, a);
	for (gint x = x0; x <= x1; x++)
		mvwaddstr(w, y, x, glyph);
	wattrset(w, A_NORMAL);
}

void ui_draw_vline(WINDOW *w, gint x, gint y0, gint y1, const char *glyph, attr_t a)
{
	if (y0 > y1) {
		gint t = y0;
		y0 = y1;
		y1 = t;
	}
	if (x < 0 || x >= getmaxx(w))
		return;
	y0 = MAX(y0, 0);
	y1 = MIN(y1, getmaxy(w) - 1);
	wattrset(w, a);
	for (gint y = y0; y <= y1; y++)
		mvwaddstr(w, y, x, glyph);
	wattrset(w, A_NORMAL);
}

void ui_draw_box(WINDOW *w, UiRect r, attr_t a)
{
	if (r.w < 2 || r.h < 2)
		return;
	const UiGlyphs *g = ui_draw_glyphs();
	gint x1 = r.x + r.w - 1, y1 = r.y + r.h - 1;
	ui_draw_hline(w, r.y, r.x + 1, x1 - 1, g->h, a);
	ui_draw_hline(w, y1, r.x + 1, x1 - 1, g->h, a);
	ui_draw_vline(w, r.x, r.y + 1, y1 - 1, g->v, a);
	ui_draw_vline(w, x1, r.y + 1, y1 - 1, g->v, a);
	ui_draw_text(w, r.y, r.x, 1, g->tl, a);
	ui_draw_text(w, r.y, x1, 1, g->tr, a);
	ui_draw_text(w, y1, r.x, 1, g->bl, a);
	ui_draw_text(w, y1, x1, 1, g->br, a);
}

void ui_draw_title(WINDOW *w, UiRect box, const char *title, attr_t a)
{
	if (!title || box.w < 6)
		return;
	g_autofree char *padded = g_strdup_printf(" %s ", title);
	ui_draw_text(w, box.y, box.x + 2, box.w - 4, padded, a);
}

void ui_draw_clear(WINDOW *w, UiRect r)
{
	for (gint y = r.y; y < r.y + r.h; y++)
		ui_draw_hline(w, y, r.x, r.x + r.w - 1, " ", A_NORMAL);
}

GPtrArray *ui_draw_wrap(const char *text, gint width)
{
	GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
	if (!text || width <= 0)
		return lines;
	g_auto(GStrv) words = g_strsplit(text, " ", -1);
	GString *line = g_string_new(NULL);
	gint lw = 0;
	for (guint i = 0; words[i]; i++) {
		gint ww = ui_draw_width(words[i]);
		if (lw > 0 && lw + 1 + ww > width) {
			g_ptr_array_add(lines, g_string_free(line, FALSE));
			line = g_string_new(NULL);
			lw = 0;
		}
		if (lw > 0) {
			g_string_append_c(line, ' ');
			lw++;
		}
		g_string_append(line, words[i]);
		lw += ww;
	}
	if (line->len || lines->len == 0)
		g_ptr_array_add(lines, g_string_free(line, FALSE));
	else
		g_string_free(line, TRUE);
	return lines;
}
