/* ui/text.c - the text renderer: events as aligned lines.
 *
 * Colour follows the course: sending steps (out.*) blue, receiving steps
 * (in.*) green, set-up (setup.*) magenta, refusals and errors red.
 */
#include "ui/text.h"

#include <string.h>

#define STEP_WIDTH  8
#define PATH_WIDTH  40
#define PROTO_WIDTH 5

typedef struct {
	MsSink        base;
	FILE         *out;
	UiTextOptions opts;
} TextSink;

char *ui_text_format_time(gint64 t_us)
{
	if (t_us < 0)
		t_us = 0;
	gint64 ms = t_us / 1000;
	return g_strdup_printf("%02" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT ".%03" G_GINT64_FORMAT,
	                       ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
}

/* Pad s with spaces to width display columns (UTF-8 aware). */
static void append_padded(GString *out, const char *s, guint width)
{
	g_string_append(out, s);
	glong cols = g_utf8_strlen(s, -1);
	for (glong i = cols; i < (glong)width; i++)
		g_string_append_c(out, ' ');
}

char *ui_text_format(const MsEvent *ev)
{
	GString *line = g_string_new(NULL);
	g_autofree char *t = ui_text_format_time(ev->t_us);
	g_string_append(line, t);
	g_string_append(line, "  ");
	append_padded(line, ev->step ? ev->step : "", STEP_WIDTH);
	g_string_append_c(line, ' ');
	g_autofree char *path = ev->to && ev->from ? g_strdup_printf("%s → %s", ev->from, ev->to)
	                                           : g_strdup(ev->from ? ev->from : "");
	append_padded(line, path, PATH_WIDTH);
	g_string_append_c(line, ' ');
	append_padded(line, ev->proto ? ev->proto : "", PROTO_WIDTH);
	g_string_append_c(line, ' ');
	if (ev->kind != MS_EV_SEND && ev->kind != MS_EV_NOTE && ev->kind != MS_EV_STEP)
		g_string_append_printf(line, "[%s] ", ms_event_kind_to_string(ev->kind));
	g_string_append(line, ev->text ? ev->text : "");
	/* trailing spaces of empty columns are noise in a diff */
	while (line->len && line->str[line->len - 1] == ' ')
		g_string_truncate(line, line->len - 1);
	return g_string_free(line, FALSE);
}

static const char *color_for(const MsEvent *ev)
{
	if (ev->kind == MS_EV_REFUSE || ev->kind == MS_EV_ERROR)
		return "\033[31m";
	if (!ev->step)
		return NULL;
	if (g_str_has_prefix(ev->step, "out."))
		return "\033[34m";
	if (g_str_has_prefix(ev->step, "in."))
		return "\033[32m";
	if (g_str_has_prefix(ev->step, "setup."))
		return "\033[35m";
	return NULL;
}

static void text_write(MsSink *self, const MsEvent *ev)
{
	TextSink *ts = (TextSink *)self;
	if (!ts->opts.verbose) {
		/* arrivals, and the DNS bytes the DNS_QUERY/DNS_ANSWER lines
		 * already tell in words */
		if (ev->kind == MS_EV_RECV)
			return;
		if (ev->kind == MS_EV_SEND && !g_strcmp0(ev->proto, "dns"))
			return;
	}
	g_autofree char *line = ui_text_format(ev);
	const char *color = ts->opts.color ? color_for(ev) : NULL;
	if (color)
		fprintf(ts->out, "%s%s\033[0m\n", color, line);
	else
		fprintf(ts->out, "%s\n", line);
}

static void text_flush(MsSink *self)
{
	fflush(((TextSink *)self)->out);
}

static void text_destroy(MsSink *self)
{
	g_free(self);
}

MsSink *ui_text_sink_new(FILE *out, const UiTextOptions *opts)
{
	TextSink *ts = g_new0(TextSink, 1);
	ts->base.write = text_write;
	ts->base.flush = text_flush;
	ts->base.destroy = text_destroy;
	ts->out = out;
	if (opts)
		ts->opts = *opts;
	return &ts->base;
}
