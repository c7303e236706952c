/* ui/view.c - the classroom view's state, its frame and its overlays.
 *
 * The frame is a header (where we are: the step, the virtual time, step or
 * play), the four panes sharing their borders, and the key line.  Over it
 * may open the help page, the details of one event, or the verdict at the
 * end of a run.  Everything is drawn from the view's state on every frame;
 * curses sends the terminal only what changed, so nothing flickers.
 */
#include "ui/view.h"
#include "ui/text.h"

#include <stdarg.h>
#include <string.h>

const double ui_view_speeds[] = { 0.25, 0.5, 1, 2, 4, 8, 16, 32, 0 };
const guint ui_view_speed_count = G_N_ELEMENTS(ui_view_speeds);
const guint ui_view_speed_default = 2;   /* 1x */

/* How long a note stays in the header. */
#define MESSAGE_US      (3 * G_USEC_PER_SEC)
/* A payload longer than this shows its beginning only. */
#define DETAIL_MAX_BYTES 8192
#define HEX_PER_LINE    16
/* How agents write a secret in an event's text (sim/kernel/event.h: "secrets
 * already masked"). */
#define SECRET_MASK "••••••"
/* The help page's column of keys. */
#define HELP_KEY_COLUMNS 11

const char *ui_view_speed_name(guint speed)
{
	static const char *const names[] = { "1/4x", "1/2x", "1x", "2x", "4x", "8x", "16x", "32x", "max" };
	G_STATIC_ASSERT(G_N_ELEMENTS(names) == G_N_ELEMENTS(ui_view_speeds));
	return speed < G_N_ELEMENTS(names) ? names[speed] : "?";
}

const char *ui_pace_to_string(UiPace p)
{
	static const char *const names[] = { "step", "play", "replay" };
	return (guint)p < G_N_ELEMENTS(names) ? names[p] : "?";
}

/* ---- life ---------------------------------------------------------------------- */

static void add_expected(GPtrArray *list, const char *id)
{
	for (guint i = 0; i < list->len; i++)
		if (strcmp(g_ptr_array_index(list, i), id) == 0)
			return;
	g_ptr_array_add(list, g_strdup(id));
}

UiView *ui_view_new(const Scenario *scn, const char *title)
{
	UiView *v = g_new0(UiView, 1);
	v->model = ui_model_new();
	v->world = ui_world_new(scn);
	v->title = g_strdup(title ? title : scn ? scn->title : "mailsim");
	v->expected = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; scn && i < scn->expects->len; i++) {
		const ScenarioExpect *e = g_ptr_array_index(scn->expects, i);
		if (e->kind == SCENARIO_EXPECT_STEP && e->step_state != SCENARIO_STEP_NOT_SEEN)
			add_expected(v->expected, e->step);
		if (e->kind == SCENARIO_EXPECT_STEPS_SEEN || e->kind == SCENARIO_EXPECT_STEPS_IN_ORDER)
			for (guint k = 0; k < e->steps->len; k++)
				add_expected(v->expected, g_ptr_array_index(e->steps, k));
	}
	g_ptr_array_sort(v->expected, ui_steps_compare_indirect);
	v->place = g_array_new(FALSE, FALSE, sizeof(UiPlace));
	v->answers = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
	v->sel = -1;
	v->seq_top = -1;
	v->detail = -1;
	v->focus = UI_PANE_SEQUENCE;
	v->search = g_string_new(NULL);
	v->speed = ui_view_speed_default;
	v->world_gen = G_MAXUINT;
	return v;
}

void ui_view_free(UiView *v)
{
	if (!v)
		return;
	ui_model_free(v->model);
	ui_world_free(v->world);
	ui_topo_free(v->topo);
	if (v->order)
		g_array_free(v->order, TRUE);
	g_free(v->title);
	g_ptr_array_free(v->expected, TRUE);
	g_array_free(v->place, TRUE);
	g_ptr_array_free(v->answers, TRUE);
	g_string_free(v->search, TRUE);
	g_free(v->last_search);
	g_free(v->message);
	g_free(v->verdict);
	g_free(v);
}

void ui_view_take(UiView *v, MsEvent *ev)
{
	gint from, to;
	UiPart fp, tp;
	ui_world_place_event(v->world, ev, &from, &fp, &to, &tp);
	UiPlace p = { from, to, (guint8)fp, (guint8)tp };
	g_array_append_val(v->place, p);
	while (v->answers->len < ui_world_count(v->world))
		g_ptr_array_add(v->answers, g_array_new(FALSE, FALSE, sizeof(guint)));
	guint i = ui_model_count(v->model);
	if (ev->kind == MS_EV_DNS_ANSWER && from >= 0)
		g_array_append_val(g_ptr_array_index(v->answers, from), i);
	ui_model_take(v->model, ev);
}

void ui_view_say(UiView *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_free(v->message);
	v->message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	v->message_until = g_get_monotonic_time() + MESSAGE_US;
}

/* ---- geometry -------------------------------------------------------------------- */

void ui_view_layout(UiView *v, gint cols, gint rows)
{
	guint gen = ui_world_generation(v->world);
	if (cols == v->cols && rows == v->rows && gen == v->world_gen && v->order)
		return;
	v->cols = cols;
	v->rows = rows;
	v->world_gen = gen;
	ui_layout_frame(&v->frame, v->world, cols, rows);
	g_clear_pointer(&v->topo, ui_topo_free);
	UiRect r = v->frame.inner[UI_PANE_TOPOLOGY];
	if (!v->frame.too_small) {
		v->topo = ui_layout_topology(v->world, v->frame.topo_mode, r.w, r.h);
		if (!v->topo)
			v->topo = ui_layout_topology(v->world, UI_TOPO_LINE, r.w, r.h);
	}
	if (v->order)
		g_array_free(v->order, TRUE);
	v->order = ui_layout_order(v->world);
}

/* ---- what is current --------------------------------------------------------------- */

gint ui_view_current_event(const UiView *v)
{
	if (v->sel >= 0)
		return v->sel;
	guint limit = ui_model_rows_before(v->model, ui_model_visible(v->model));
	for (guint r = limit; r > 0; r--)
		if (ui_model_row_passes(v->model, r - 1))
			return (gint)ui_model_row_event(v->model, r - 1);
	return -1;
}

GPtrArray *ui_view_path_steps(const UiView *v)
{
	GPtrArray *out = g_ptr_array_new();
	for (guint i = 0; i < v->expected->len; i++)
		g_ptr_array_add(out, g_ptr_array_index(v->expected, i));
	GPtrArray *seen = ui_model_steps(v->model);
	for (guint i = 0; i < seen->len; i++) {
		const char *id = g_ptr_array_index(seen, i);
		gboolean have = FALSE;
		for (guint k = 0; k < out->len && !have; k++)
			have = strcmp(g_ptr_array_index(out, k), id) == 0;
		if (!have)
			g_ptr_array_add(out, (gpointer)id);
	}
	g_ptr_array_sort(out, ui_steps_compare_indirect);
	return out;
}

/* ---- the header and the key line ----------------------------------------------------- */

static char *pace_text(const UiView *v)
{
	if (v->pace == UI_PACE_PLAY)
		return g_strdup_printf("PLAY %s", ui_view_speed_name(v->speed));
	if (v->replay)
		return g_strdup(ui_model_following(v->model) ? "REPLAY · end" : "REPLAY");
	if (v->run_over)
		return g_strdup("DONE");
	return g_strdup("STEP");
}

static void draw_header(UiView *v, WINDOW *w)
{
	UiRect r = v->frame.header;
	attr_t hs = ui_draw_style(UI_STYLE_HEADER);
	ui_draw_hline(w, r.y, 0, r.w - 1, " ", hs);

	GString *right = g_string_new(NULL);
	if (v->message && v->wall_now < v->message_until)
		g_string_append_printf(right, "%s   ", v->message);
	const char *step = ui_model_active_step(v->model);
	if (step) {
		const char *title = ui_steps_title(step);
		g_string_append_printf(right, "%s%s%s · ", step, title ? " " : "", title ? title : "");
	}
	if (ui_model_beat_count(v->model)) {
		g_autofree char *t = ui_text_format_time(ui_model_beat_time(v->model, ui_model_cursor(v->model)));
		g_string_append_printf(right, "%s · ", t);
	}
	g_autofree char *pace = pace_text(v);
	g_string_append_printf(right, "[%s] ", pace);

	gint rw = MIN(ui_draw_width(right->str), r.w - 12);
	ui_draw_text_right(w, r.y, r.w, rw, right->str, hs);
	g_autofree char *left = g_strdup_printf(" mailsim · %s", v->title);
	ui_draw_text(w, r.y, 0, r.w - rw - 2, left, hs);
	g_string_free(right, TRUE);
}

static void draw_keys(UiView *v, WINDOW *w)
{
	UiRect r = v->frame.status;
	if (v->searching) {
		g_autofree char *prompt = g_strdup_printf(" find: %s", v->search->str);
		gint x = ui_draw_text(w, r.y, 0, r.w - 30, prompt, ui_draw_style(UI_STYLE_TITLE));
		ui_draw_text(w, r.y, x, 1, " ", ui_draw_style(UI_STYLE_SELECT));
		ui_draw_text(w, r.y, x + 2, r.w - x - 2, "Enter find · Esc cancel", ui_draw_style(UI_STYLE_DIM));
		return;
	}
	const UiKeyBinding *shown[32];
	UiKeyStyle style;
	guint n = ui_keys_line(r.w, shown, G_N_ELEMENTS(shown), &style);
	gint x = 1;
	for (guint i = 0; i < n; i++) {
		if (i)
			x += ui_draw_text(w, r.y, x, r.w - x, ui_keys_separator(style), ui_draw_style(UI_STYLE_DIM));
		x += ui_draw_text(w, r.y, x, r.w - x, ui_keys_key_text(shown[i], style), ui_draw_style(UI_STYLE_KEY));
		x += ui_draw_text(w, r.y, x, r.w - x, ui_keys_gap(style), A_NORMAL);
		x += ui_draw_text(w, r.y, x, r.w - x, ui_keys_label_text(shown[i], style), A_NORMAL);
	}
}

/* ---- borders ------------------------------------------------------------------------ */

static char *pane_title(UiView *v, UiPane p, gint maxw)
{
	g_autofree char *name = NULL;
	switch (p) {
	case UI_PANE_SEQUENCE:
		name = ui_pane_sequence_title(v);
		break;
	case UI_PANE_TRANSCRIPT:
		name = ui_pane_transcript_title(v, maxw - 2);
		break;
	default:
		name = g_strdup(ui_pane_to_string(p));
		break;
	}
	return g_strdup_printf("%u %s", (guint)p + 1, name);
}

static void draw_frame(UiView *v, WINDOW *w)
{
	const UiGlyphs *g = ui_draw_glyphs();
	attr_t fs = ui_draw_style(UI_STYLE_FRAME);
	for (guint p = 0; p < UI_PANE_COUNT; p++)
		if (p != v->focus)
			ui_draw_box(w, v->frame.box[p], fs);
	/* where borders meet */
	UiRect seq = v->frame.box[UI_PANE_SEQUENCE], les = v->frame.box[UI_PANE_LESSON];
	gint vx = seq.x + seq.w - 1, right = v->cols - 1;
	/* the focused pane last, so its whole border shows */
	ui_draw_box(w, v->frame.box[v->focus], ui_draw_style(UI_STYLE_FOCUS));
	ui_draw_text(w, seq.y, 0, 1, g->tee_l, fs);
	ui_draw_text(w, seq.y, right, 1, g->tee_r, fs);
	ui_draw_text(w, seq.y, vx, 1, g->tee_t, fs);
	ui_draw_text(w, les.y, 0, 1, g->tee_l, fs);
	ui_draw_text(w, les.y, right, 1, g->tee_r, fs);
	ui_draw_text(w, les.y, vx, 1, g->tee_b, fs);
	for (guint p = 0; p < UI_PANE_COUNT; p++) {
		g_autofree char *title = pane_title(v, (UiPane)p, v->frame.box[p].w - 6);
		ui_draw_title(w, v->frame.box[p], title,
		              ui_draw_style(p == v->focus ? UI_STYLE_FOCUS : UI_STYLE_TITLE));
	}
}

/* ---- overlays ------------------------------------------------------------------------ */

typedef struct {
	char   *text;
	attr_t  attr;
} Line;

static void line_add(GArray *lines, attr_t a, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void line_add(GArray *lines, attr_t a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	Line l = { g_strdup_vprintf(fmt, ap), a };
	va_end(ap);
	g_array_append_val(lines, l);
}

static void line_clear(gpointer p)
{
	g_free(((Line *)p)->text);
}

static GArray *lines_new(void)
{
	GArray *lines = g_array_new(FALSE, FALSE, sizeof(Line));
	g_array_set_clear_func(lines, line_clear);
	return lines;
}

/* A box in the middle of the screen with lines, from scroll on. */
static void draw_overlay(UiView *v, WINDOW *w, const char *title, GArray *lines, gint width, gint scroll,
                         const char *footer)
{
	gint bw = MIN(width + 4, v->cols - 2);
	gint bh = MIN((gint)lines->len + 4, v->rows - 2);
	UiRect box = { (v->cols - bw) / 2, (v->rows - bh) / 2, bw, bh };
	ui_draw_clear(w, box);
	ui_draw_box(w, box, ui_draw_style(UI_STYLE_FOCUS));
	ui_draw_title(w, box, title, ui_draw_style(UI_STYLE_FOCUS));
	gint rows = bh - 4;
	scroll = CLAMP(scroll, 0, MAX(0, (gint)lines->len - rows));
	for (gint i = 0; i < rows && scroll + i < (gint)lines->len; i++) {
		Line *l = &g_array_index(lines, Line, scroll + i);
		ui_draw_text(w, box.y + 2 + i, box.x + 2, bw - 4, l->text, l->attr);
	}
	if (footer) {
		g_autofree char *f = g_strdup_printf(" %s ", footer);
		gint fw = MIN(ui_draw_width(f), bw - 4);
		ui_draw_text(w, box.y + bh - 1, box.x + bw - 2 - fw, fw, f, ui_draw_style(UI_STYLE_DIM));
	}
}

static void draw_help(UiView *v, WINDOW *w)
{
	g_autoptr(GArray) lines = lines_new();
	guint n;
	const UiKeyBinding *b = ui_keys_table(&n);
	for (guint i = 0; i < n; i++) {
		if (!b[i].help)
			continue;
		/* pad by columns, not bytes: "←" is three bytes wide in UTF-8 */
		const char *keys = b[i].help_keys ? b[i].help_keys : b[i].key_name;
		gint pad = MAX(1, HELP_KEY_COLUMNS - ui_draw_width(keys));
		line_add(lines, A_NORMAL, "%s%*s%s", keys, pad, "", b[i].help);
	}
	line_add(lines, A_NORMAL, " ");
	line_add(lines, ui_draw_style(UI_STYLE_TITLE), "Colours and marks");
	line_add(lines, ui_draw_style(UI_STYLE_SETUP) | A_BOLD, "(1) setup.*  setting up the mail program");
	line_add(lines, ui_draw_style(UI_STYLE_OUT) | A_BOLD, "(1) out.*    the blue path: sending");
	line_add(lines, ui_draw_style(UI_STYLE_IN) | A_BOLD, "(1) in.*     the green path: receiving");
	line_add(lines, ui_draw_style(UI_STYLE_RETR) | A_BOLD, "(1) retr.*   IMAP versus POP3");
	line_add(lines, ui_draw_style(UI_STYLE_BAD), "(1)%s         refused, or failed", ui_draw_glyphs()->bad);
	line_add(lines, A_BOLD, "bold: what happens now; plain: the moment before; dim: earlier");
	line_add(lines, A_NORMAL, "Step mode holds every network delivery until a key; the agents run");
	line_add(lines, A_NORMAL, "real protocol code either way.");
	draw_overlay(v, w, "help", lines, 78, v->help_scroll, "↑↓ scroll · any key closes");
}

/* A payload as text lines: CR LF shown as the line end it is, other
 * control bytes as \xNN. */
static void payload_text(GArray *lines, const guint8 *data, gsize len)
{
	GString *line = g_string_new(NULL);
	for (gsize i = 0; i < len; i++) {
		guint8 c = data[i];
		if (c == '\n') {
			line_add(lines, A_NORMAL, "%s", line->str);
			g_string_truncate(line, 0);
		} else if (c == '\r' && i + 1 < len && data[i + 1] == '\n') {
			g_string_append(line, ui_draw_unicode() ? "␍" : "\\r");
		} else if (c < 0x20 || c == 0x7f) {
			g_string_append_printf(line, "\\x%02x", c);
		} else {
			g_string_append_c(line, (char)c);
		}
	}
	if (line->len)
		line_add(lines, A_NORMAL, "%s", line->str);
	g_string_free(line, TRUE);
}

static void payload_hex(GArray *lines, const guint8 *data, gsize len)
{
	for (gsize off = 0; off < len; off += HEX_PER_LINE) {
		GString *l = g_string_new(NULL);
		g_string_append_printf(l, "%04zx  ", off);
		for (gsize k = 0; k < HEX_PER_LINE; k++) {
			if (off + k < len)
				g_string_append_printf(l, "%02x ", data[off + k]);
			else
				g_string_append(l, "   ");
		}
		g_string_append_c(l, ' ');
		for (gsize k = 0; k < HEX_PER_LINE && off + k < len; k++) {
			guint8 c = data[off + k];
			g_string_append_c(l, c >= 0x20 && c < 0x7f ? (char)c : '.');
		}
		line_add(lines, ui_draw_style(UI_STYLE_DIM), "%s", l->str);
		g_string_free(l, TRUE);
	}
}

static gboolean mostly_text(const guint8 *data, gsize len)
{
	gsize odd = 0;
	for (gsize i = 0; i < len; i++)
		if ((data[i] < 0x20 && data[i] != '\r' && data[i] != '\n' && data[i] != '\t') || data[i] == 0x7f)
			odd++;
	return odd * 20 <= len;
}

/* A DNS exchange's bytes live on the datagram the query or answer rode:
 * the SEND just before it between the same two hosts. */
static const MsEvent *datagram_of(const UiView *v, guint i)
{
	const MsEvent *ev = ui_model_event(v->model, i);
	for (guint k = i, n = 0; k > 0 && n < 64; k--, n++) {
		const MsEvent *d = ui_model_event(v->model, k - 1);
		if (d->kind == MS_EV_SEND && d->payload && g_strcmp0(d->proto, "dns") == 0 &&
		    ((g_strcmp0(d->from, ev->from) == 0 && g_strcmp0(d->to, ev->to) == 0) ||
		     (g_strcmp0(d->from, ev->to) == 0 && g_strcmp0(d->to, ev->from) == 0)))
			return d;
	}
	return NULL;
}

static void draw_details(UiView *v, WINDOW *w)
{
	if (v->detail < 0 || (guint)v->detail >= ui_model_count(v->model))
		return;
	const MsEvent *ev = ui_model_event(v->model, (guint)v->detail);
	gint width = MAX(20, v->cols - 8);
	g_autoptr(GArray) lines = lines_new();
	g_autofree char *t = ui_text_format_time(ev->t_us);
	attr_t st = ui_draw_style(ui_draw_event_style(ev->step, ev->kind == MS_EV_REFUSE || ev->kind == MS_EV_ERROR));
	line_add(lines, st | A_BOLD, "%s  event %" G_GUINT64_FORMAT " at %s", ms_event_kind_to_string(ev->kind),
	         ev->seq, t);
	line_add(lines, A_NORMAL, "from   %s", ev->from ? ev->from : "-");
	line_add(lines, A_NORMAL, "to     %s", ev->to ? ev->to : "-");
	line_add(lines, A_NORMAL, "proto  %s", ev->proto ? ev->proto : "-");
	if (ev->conn)
		line_add(lines, A_NORMAL, "conn   %" G_GUINT64_FORMAT, ev->conn);
	if (ev->step) {
		const char *title = ui_steps_title(ev->step), *why = ui_steps_describe(ev->step);
		line_add(lines, st, "step   %s%s%s", ev->step, title ? " · " : "", title ? title : "");
		if (why) {
			g_autoptr(GPtrArray) wrapped = ui_draw_wrap(why, width - 7);
			for (guint i = 0; i < wrapped->len; i++)
				line_add(lines, ui_draw_style(UI_STYLE_DIM), "       %s", (char *)g_ptr_array_index(wrapped, i));
		}
	}
	line_add(lines, A_NORMAL, " ");
	g_autoptr(GPtrArray) text = ui_draw_wrap(ev->text ? ev->text : "", width);
	for (guint i = 0; i < text->len; i++)
		line_add(lines, A_BOLD, "%s", (char *)g_ptr_array_index(text, i));

	const MsEvent *bytes = ev->payload ? ev : NULL;
	if (!bytes && (ev->kind == MS_EV_DNS_QUERY || ev->kind == MS_EV_DNS_ANSWER))
		bytes = datagram_of(v, (guint)v->detail);
	if (bytes && bytes->text && strstr(bytes->text, SECRET_MASK)) {
		/* the line carries a password the agents masked: so do we */
		line_add(lines, A_NORMAL, " ");
		line_add(lines, ui_draw_style(UI_STYLE_DIM), "the bytes on the wire: %zu, with a password in them: not shown",
		         g_bytes_get_size(bytes->payload));
	} else if (bytes) {
		gsize len;
		const guint8 *data = g_bytes_get_data(bytes->payload, &len);
		gsize shown = MIN(len, DETAIL_MAX_BYTES);
		line_add(lines, A_NORMAL, " ");
		line_add(lines, ui_draw_style(UI_STYLE_TITLE), "the bytes on the wire: %zu%s", len,
		         shown < len ? " (the beginning)" : "");
		if (mostly_text(data, shown))
			payload_text(lines, data, shown);
		line_add(lines, A_NORMAL, " ");
		payload_hex(lines, data, shown);
	}
	v->detail_scroll = CLAMP(v->detail_scroll, 0, MAX(0, (gint)lines->len - 1));
	draw_overlay(v, w, "details", lines, width, v->detail_scroll, "↑↓ scroll · Esc close");
}

static void draw_verdict(UiView *v, WINDOW *w)
{
	g_autoptr(GArray) lines = lines_new();
	g_auto(GStrv) parts = g_strsplit(v->verdict ? v->verdict : "", "\n", -1);
	gint width = 40;
	for (guint i = 0; parts[i]; i++) {
		if (!parts[i][0])
			continue;
		attr_t a = g_str_has_prefix(parts[i], "ok") ? ui_draw_style(UI_STYLE_GOOD)
		           : g_str_has_prefix(parts[i], "FAILED") ? ui_draw_style(UI_STYLE_BAD)
		           : i == 0 ? A_BOLD : A_NORMAL;
		line_add(lines, a, "%s", parts[i]);
		width = MAX(width, ui_draw_width(parts[i]));
	}
	draw_overlay(v, w, "the run is over", lines, MIN(width, v->cols - 6), 0, "Esc close · ← replay · q quit");
}

/* ---- the frame ----------------------------------------------------------------------- */

void ui_view_draw(UiView *v, WINDOW *w)
{
	v->wall_now = g_get_monotonic_time();
	werase(w);
	if (v->frame.too_small) {
		g_autofree char *msg = g_strdup_printf("mailsim needs %dx%d at least (this is %dx%d)", UI_LAYOUT_MIN_COLS,
		                                       UI_LAYOUT_MIN_ROWS, v->cols, v->rows);
		ui_draw_text(w, v->rows / 2, 1, v->cols - 2, msg, A_BOLD);
		ui_draw_text(w, v->rows / 2 + 1, 1, v->cols - 2, "q quit", A_NORMAL);
		return;
	}
	draw_header(v, w);
	draw_frame(v, w);
	ui_pane_topology_draw(v, w, v->frame.inner[UI_PANE_TOPOLOGY]);
	ui_pane_sequence_draw(v, w, v->frame.inner[UI_PANE_SEQUENCE]);
	ui_pane_transcript_draw(v, w, v->frame.inner[UI_PANE_TRANSCRIPT]);
	ui_pane_lesson_draw(v, w, v->frame.inner[UI_PANE_LESSON]);
	draw_keys(v, w);
	if (v->show_verdict && v->run_over)
		draw_verdict(v, w);
	if (v->detail >= 0)
		draw_details(v, w);
	if (v->help)
		draw_help(v, w);
}

/* ---- moving the selection --------------------------------------------------------------- */

/* The ladder row the selection is on (or would be), -1 when none. */
static gint selected_row(UiView *v, guint limit)
{
	if (v->sel < 0) {
		for (guint r = limit; r > 0; r--)
			if (ui_model_row_passes(v->model, r - 1))
				return (gint)r - 1;
		return -1;
	}
	/* the selection's row, or the last one before it */
	guint upto = ui_model_rows_before(v->model, (guint)v->sel + 1);
	for (guint r = MIN(upto, limit); r > 0; r--)
		if (ui_model_row_passes(v->model, r - 1))
			return (gint)r - 1;
	return -1;
}

static void move_in_sequence(UiView *v, gint delta)
{
	guint limit = ui_model_rows_before(v->model, ui_model_visible(v->model));
	gint row = selected_row(v, limit);
	if (row < 0)
		return;
	gint step = delta > 0 ? 1 : -1;
	for (gint moved = 0, r = row; moved < ABS(delta);) {
		r += step;
		if (r < 0)
			break;
		if ((guint)r >= limit) {
			v->sel = -1;   /* past the last line: follow the latest again */
			return;
		}
		if (ui_model_row_passes(v->model, (guint)r)) {
			row = r;
			moved++;
		}
	}
	v->sel = (gint)ui_model_row_event(v->model, (guint)row);
}

static void move_in_transcript(UiView *v, gint delta)
{
	gint cur = ui_view_current_event(v);
	const UiConversation *c = cur >= 0 ? ui_model_conversation_of(v->model, (guint)cur) : NULL;
	if (!c) {
		move_in_sequence(v, delta);
		return;
	}
	guint visible = ui_model_visible(v->model);
	gint at = -1, last = -1;
	for (guint i = 0; i < c->lines->len; i++) {
		guint e = g_array_index(c->lines, guint, i);
		if (e >= visible)
			break;
		last = (gint)i;
		if ((gint)e <= cur)
			at = (gint)i;
	}
	if (last < 0)
		return;
	if (at < 0)
		at = last;
	gint to = CLAMP(at + delta, 0, last);
	v->sel = (gint)g_array_index(c->lines, guint, to);
}

static gint page(const UiView *v)
{
	return MAX(1, v->frame.inner[v->focus].h - 2);
}

static void move_selection(UiView *v, gint delta)
{
	if (v->detail >= 0) {
		v->detail_scroll = MAX(0, v->detail_scroll + delta);
		return;
	}
	switch (v->focus) {
	case UI_PANE_TRANSCRIPT:
		move_in_transcript(v, delta);
		break;
	case UI_PANE_LESSON:
		v->lesson_scroll = MAX(0, v->lesson_scroll + delta);
		break;
	default:
		move_in_sequence(v, delta);
		break;
	}
}

/* ---- search ------------------------------------------------------------------------------- */

static void find(UiView *v, const char *needle)
{
	guint limit = ui_model_rows_before(v->model, ui_model_visible(v->model));
	gint from = v->sel >= 0 ? selected_row(v, limit) : -1;
	gint row = ui_model_find_row(v->model, needle, from, limit, TRUE);
	if (row < 0) {
		ui_view_say(v, "\"%s\" is not in what was shown", needle);
		return;
	}
	v->sel = (gint)ui_model_row_event(v->model, (guint)row);
	v->focus = UI_PANE_SEQUENCE;
}

void ui_view_search_key(UiView *v, int key)
{
	if (key == 27) {
		v->searching = FALSE;
		return;
	}
	if (key == '\n' || key == '\r' || key == KEY_ENTER) {
		v->searching = FALSE;
		if (v->search->len) {
			g_free(v->last_search);
			v->last_search = g_strdup(v->search->str);
		}
		if (v->last_search)
			find(v, v->last_search);
		return;
	}
	if (key == KEY_BACKSPACE || key == 127 || key == 8) {
		/* drop the last character, not the last byte */
		if (v->search->len) {
			const char *prev = g_utf8_find_prev_char(v->search->str, v->search->str + v->search->len);
			g_string_truncate(v->search, prev ? (gsize)(prev - v->search->str) : 0);
		}
		return;
	}
	if (key >= 0x20 && key < 0x7f && v->search->len < 64)
		g_string_append_c(v->search, (char)key);
}

/* ---- view actions -------------------------------------------------------------------------- */

gboolean ui_view_action(UiView *v, UiAction a)
{
	switch (a) {
	case UI_ACT_FOCUS_NEXT:
		v->focus = (v->focus + 1) % UI_PANE_COUNT;
		return TRUE;
	case UI_ACT_FOCUS_1:
	case UI_ACT_FOCUS_2:
	case UI_ACT_FOCUS_3:
	case UI_ACT_FOCUS_4:
		v->focus = (UiPane)(a - UI_ACT_FOCUS_1);
		return TRUE;
	case UI_ACT_UP:
		move_selection(v, -1);
		return TRUE;
	case UI_ACT_DOWN:
		move_selection(v, 1);
		return TRUE;
	case UI_ACT_PAGE_UP:
		move_selection(v, -page(v));
		return TRUE;
	case UI_ACT_PAGE_DOWN:
		move_selection(v, page(v));
		return TRUE;
	case UI_ACT_HOME:
		if (v->detail >= 0)
			v->detail_scroll = 0;
		else
			move_selection(v, -(gint)ui_model_count(v->model));
		return TRUE;
	case UI_ACT_END:
		if (v->detail >= 0)
			v->detail_scroll = G_MAXINT / 2;
		else
			v->sel = -1;
		return TRUE;
	case UI_ACT_DETAILS:
		if (v->detail >= 0) {
			v->detail = -1;
		} else {
			v->detail = ui_view_current_event(v);
			v->detail_scroll = 0;
			if (v->detail < 0)
				ui_view_say(v, "nothing to show yet: press Space");
		}
		return TRUE;
	case UI_ACT_FILTER: {
		const char *next = ui_model_next_filter(v->model);
		ui_model_set_filter(v->model, next);
		if (next)
			ui_view_say(v, "only %s", next);
		else
			ui_view_say(v, "every protocol");
		v->sel = -1;
		v->seq_top = -1;
		return TRUE;
	}
	case UI_ACT_SEARCH:
		v->searching = TRUE;
		g_string_truncate(v->search, 0);
		return TRUE;
	case UI_ACT_HELP:
		v->help = !v->help;
		v->help_scroll = 0;
		return TRUE;
	case UI_ACT_CLOSE:
		if (v->help)
			v->help = FALSE;
		else if (v->detail >= 0)
			v->detail = -1;
		else if (v->show_verdict)
			v->show_verdict = FALSE;
		else
			v->sel = -1;
		return TRUE;
	default:
		return FALSE;
	}
}
