/* ui/pane_lesson.c - the lesson pane: what the current step is, in words,
 * what the agents just said about it, and how far along the path we are.
 *
 *   (4) out.4 MX lookup: the recipient's domain is not local: the MTA asks DNS...
 *   ▸ example.org is not a local domain: ask DNS for its MX records
 *   step 4 of 12   out (1)(2)(3)(4)(5)   in (1)(2)(3)(4)(5)(6)(7)
 *
 * A lesson (lessons/) narrates the step when one is running; otherwise the
 * course's own words from ui/steps.c.
 */
#include "ui/view.h"

#include <string.h>

/* One marker of the progress line: "(4)", "(3✗)" for a refusal; compact: "4". */
static char *marker(const char *id, guint flags, gboolean compact)
{
	guint n = ui_steps_number(id);
	const char *bad = flags & UI_STEP_REFUSED ? ui_draw_glyphs()->bad : "";
	if (compact)
		return g_strdup_printf("%u%s", n, bad);
	return g_strdup_printf("(%u%s)", n, bad);
}

static attr_t marker_style(const char *id, guint flags)
{
	attr_t fam = ui_draw_style(ui_draw_family_style(ui_steps_family(id)));
	if (flags & UI_STEP_REFUSED)
		return ui_draw_style(UI_STYLE_BAD) | (flags & UI_STEP_ACTIVE ? A_REVERSE : 0);
	if (flags & UI_STEP_ACTIVE)
		return fam | A_REVERSE | A_BOLD;
	if (flags & UI_STEP_SEEN)
		return fam;
	return ui_draw_style(UI_STYLE_DIM);
}

/* The markers of steps, grouped by family, from x; only_family NONE for
 * all.  Returns the width used (or that would be used when dry). */
static gint draw_strip(UiView *v, WINDOW *w, gint y, gint x, GPtrArray *steps, gboolean compact, UiFamily only,
                       gboolean dry)
{
	gint used = 0;
	UiFamily fam = UI_FAMILY_COUNT;
	for (guint i = 0; i < steps->len; i++) {
		const char *id = g_ptr_array_index(steps, i);
		UiFamily f = ui_steps_family(id);
		if (only != UI_FAMILY_NONE && f != only)
			continue;
		if (f != fam) {
			const char *name = f == UI_FAMILY_NONE ? "" : ui_family_to_string(f);
			g_autofree char *head = g_strdup_printf("%s%s ", used ? "  " : "", name);
			if (!dry)
				ui_draw_text(w, y, x + used, ui_draw_width(head), head,
				             ui_draw_style(ui_draw_family_style(f)) | A_BOLD);
			used += ui_draw_width(head);
			fam = f;
		} else if (compact) {
			if (!dry)
				ui_draw_text(w, y, x + used, 1, " ", A_NORMAL);
			used++;
		}
		guint flags = ui_model_step_flags(v->model, id);
		g_autofree char *m = f == UI_FAMILY_NONE ? g_strdup(id) : marker(id, flags, compact);
		if (!dry)
			ui_draw_text(w, y, x + used, ui_draw_width(m), m, marker_style(id, flags));
		used += ui_draw_width(m);
	}
	return used;
}

static void draw_progress(UiView *v, WINDOW *w, UiRect r, gint y)
{
	g_autoptr(GPtrArray) steps = ui_view_path_steps(v);
	const char *active = ui_model_active_step(v->model);
	gint pos = 0;
	for (guint i = 0; i < steps->len; i++)
		if (g_strcmp0(g_ptr_array_index(steps, i), active) == 0)
			pos = (gint)i + 1;
	g_autofree char *where = pos ? g_strdup_printf("step %d of %u", pos, steps->len)
	                         : steps->len ? g_strdup_printf("%u steps", steps->len) : g_strdup("");
	gint x = r.x + 1 + ui_draw_text(w, y, r.x + 1, r.w - 1, where, A_BOLD);
	gint room = r.x + r.w - x - 3;
	if (room <= 0 || steps->len == 0)
		return;
	/* everything if it fits, then tighter, then the active family only */
	UiFamily fam = ui_steps_family(active);
	struct { gboolean compact; UiFamily only; } tries[] = {
		{ FALSE, UI_FAMILY_NONE }, { TRUE, UI_FAMILY_NONE }, { FALSE, fam }, { TRUE, fam },
	};
	for (guint t = 0; t < G_N_ELEMENTS(tries); t++) {
		if (t >= 2 && fam == UI_FAMILY_NONE)
			break;
		if (draw_strip(v, w, y, x + 3, steps, tries[t].compact, tries[t].only, TRUE) <= room) {
			draw_strip(v, w, y, x + 3, steps, tries[t].compact, tries[t].only, FALSE);
			return;
		}
	}
}

/* Words of text in lines: the first at most first_w columns, the others
 * next_w.  A new array of new strings. */
static GPtrArray *wrap(const char *text, gint first_w, gint next_w)
{
	GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) words = g_strsplit(text, " ", -1);
	GString *line = g_string_new(NULL);
	gint lw = 0;
	for (guint i = 0; words[i]; i++) {
		gint ww = ui_draw_width(words[i]);
		gint limit = lines->len ? next_w : first_w;
		if (lw > 0 && lw + 1 + ww > limit) {
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
	g_ptr_array_add(lines, g_string_free(line, FALSE));
	return lines;
}

/* The last line of the verdict ("expectations: 3 passed, 0 failed"). */
static char *verdict_summary(const char *verdict)
{
	if (!verdict)
		return NULL;
	g_auto(GStrv) lines = g_strsplit(verdict, "\n", -1);
	const char *last = NULL;
	for (guint i = 0; lines[i]; i++)
		if (lines[i][0])
			last = lines[i];
	return last ? g_strdup(last) : NULL;
}

void ui_pane_lesson_draw(UiView *v, WINDOW *w, UiRect r)
{
	if (r.h <= 0 || r.w <= 4)
		return;
	const char *step = ui_model_active_step(v->model);
	gint text_rows = r.h - 1;   /* the last row is the progress line */
	draw_progress(v, w, r, r.y + r.h - 1);
	if (text_rows <= 0)
		return;

	/* what the agents said last, and the verdict at the end */
	g_autofree char *said = NULL;
	attr_t said_a = A_NORMAL;
	gboolean at_end = v->run_over && ui_model_following(v->model);
	if (at_end && v->verdict) {
		said = verdict_summary(v->verdict);
		said_a = said && strstr(said, " 0 failed") ? ui_draw_style(UI_STYLE_GOOD) : ui_draw_style(UI_STYLE_BAD);
	} else {
		gint n = ui_model_narration(v->model);
		const MsEvent *ev = n >= 0 ? ui_model_event(v->model, (guint)n) : NULL;
		gboolean bad = ev && (ev->kind == MS_EV_REFUSE || ev->kind == MS_EV_ERROR);
		/* what the agents said about this step, or a refusal; not an older step's words */
		if (ev && (bad || g_strcmp0(ev->step, ui_model_active_step(v->model)) == 0)) {
			said = g_strdup_printf("%s %s", bad ? ui_draw_glyphs()->bad : ui_draw_glyphs()->lead, ev->text ? ev->text : "");
			said_a = bad ? ui_draw_style(UI_STYLE_BAD) : A_NORMAL;
		}
	}

	if (!step) {
		const char *hint = "Space: the next moment (the network delivers one thing at a time) · "
		                   "n: the next step · p: play · ?: every key";
		ui_draw_text(w, r.y, r.x + 1, r.w - 1, hint, A_NORMAL);
		if (said && text_rows > 1)
			ui_draw_text(w, r.y + 1, r.x + 1, r.w - 1, said, said_a);
		return;
	}

	guint flags = ui_model_step_flags(v->model, step);
	g_autofree char *m = g_strdup_printf(" %u%s ", ui_steps_number(step),
	                                     flags & UI_STEP_REFUSED ? ui_draw_glyphs()->bad : "");
	gint x0 = r.x + 1 + ui_draw_text(w, r.y, r.x + 1, r.w - 1, m, marker_style(step, flags | UI_STEP_ACTIVE)) + 1;
	const char *title = ui_steps_title(step);
	const char *lesson = v->narrate ? v->narrate(v->narrate_data, step) : NULL;
	const char *why = lesson ? lesson : ui_steps_describe(step);
	g_autofree char *head = g_strdup_printf("%s%s%s", step, title ? " " : "", title ? title : "");
	g_autofree char *para = why ? g_strdup_printf("%s: %s", head, why) : g_strdup(head);

	/* the paragraph: its first line after the marker, the rest under it */
	gint rows_for_text = said && text_rows > 1 ? text_rows - 1 : text_rows;
	gint first_w = r.x + r.w - x0 - 1, next_w = r.w - 3;
	g_autoptr(GPtrArray) lines = wrap(para, first_w, next_w);
	/* a narration longer than the pane scrolls (↑↓ with the pane focused);
	 * a new step starts at its top */
	if (g_strcmp0(v->lesson_for, step) != 0) {
		v->lesson_for = step;
		v->lesson_scroll = 0;
	}
	gint scroll = CLAMP(v->lesson_scroll, 0, MAX(0, (gint)lines->len - rows_for_text));
	v->lesson_scroll = scroll;
	for (gint k = 0; k < rows_for_text && scroll + k < (gint)lines->len; k++) {
		gint i = scroll + k;
		gboolean cut = k + 1 == rows_for_text && i + 1 < (gint)lines->len;
		const char *line = g_ptr_array_index(lines, i);
		g_autofree char *shown = cut ? g_strdup_printf("%s %s", line, ui_draw_glyphs()->ellipsis) : g_strdup(line);
		gint lx = i == 0 ? x0 : r.x + 2;
		ui_draw_text(w, r.y + k, lx, i == 0 ? first_w : next_w, shown, A_NORMAL);
	}
	/* the step's name over the start of the first line, in its colour */
	if (scroll == 0 && ui_draw_width(head) <= first_w)
		ui_draw_text(w, r.y, x0, first_w, head,
		             ui_draw_style(ui_draw_family_style(ui_steps_family(step))) | A_BOLD);
	if (said && text_rows > 1)
		ui_draw_text(w, r.y + text_rows - 1, r.x + 1, r.w - 2, said, said_a);
}
