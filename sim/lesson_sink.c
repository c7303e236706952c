/* sim/lesson_sink.c - the narrating sink: a lesson's words printed just
 * before the first event of each step it narrates, then the event itself
 * through the wrapped transcript sink.
 */
#include "sim/lesson_sink.h"

#include <string.h>

typedef struct {
	MsSink            base;
	const Lesson     *lesson;
	guint             part;
	MsSink           *inner;
	LessonSinkOptions opts;
	GHashTable       *told;    /* step ids already narrated */
	GPtrArray        *shown;   /* the caller's, or NULL */
} LessonSink;

char *lesson_sink_wrap(const char *text, const char *first, const char *indent, guint width)
{
	GString *out = g_string_new(NULL);
	g_auto(GStrv) paragraphs = g_strsplit(text, "\n", -1);
	const char *prefix = first;
	for (guint p = 0; paragraphs[p]; p++) {
		g_string_append(out, prefix);
		glong col = g_utf8_strlen(prefix, -1);
		glong line_start = col;
		g_auto(GStrv) words = g_strsplit_set(paragraphs[p], " \t", -1);
		for (guint w = 0; words[w]; w++) {
			if (!*words[w])
				continue;
			glong len = g_utf8_strlen(words[w], -1);
			if (col > line_start && col + 1 + len > (glong)width) {
				g_string_append_c(out, '\n');
				g_string_append(out, indent);
				col = line_start = g_utf8_strlen(indent, -1);
			} else if (col > line_start) {
				g_string_append_c(out, ' ');
				col++;
			}
			g_string_append(out, words[w]);
			col += len;
		}
		g_string_append_c(out, '\n');
		prefix = indent;
	}
	return g_string_free(out, FALSE);
}

static void narrate(LessonSink *ls, const char *step, const char *narration)
{
	g_autofree char *first = g_strdup_printf("» %-7s ", step);
	g_autofree char *indent = g_strnfill((gsize)g_utf8_strlen(first, -1), ' ');
	g_autofree char *text = lesson_sink_wrap(narration, first, indent, ls->opts.width);
	if (!ls->opts.color) {
		fprintf(ls->opts.out, "\n%s", text);
		return;
	}
	fputc('\n', ls->opts.out);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] && lines[i + 1]; i++)
		fprintf(ls->opts.out, "\033[1m%s\033[0m\n", lines[i]);
}

static void lesson_sink_write(MsSink *self, const MsEvent *ev)
{
	LessonSink *ls = (LessonSink *)self;
	if (ev->step && !g_hash_table_contains(ls->told, ev->step)) {
		const char *narration = lesson_part_narration_for(ls->lesson, ls->part, ev->step);
		if (narration) {
			g_hash_table_add(ls->told, g_strdup(ev->step));
			if (ls->shown)
				g_ptr_array_add(ls->shown, g_strdup(ev->step));
			narrate(ls, ev->step, narration);
		}
	}
	if (ls->inner)
		ls->inner->write(ls->inner, ev);
}

static void lesson_sink_flush(MsSink *self)
{
	LessonSink *ls = (LessonSink *)self;
	if (ls->inner && ls->inner->flush)
		ls->inner->flush(ls->inner);
	fflush(ls->opts.out);
}

static void lesson_sink_destroy(MsSink *self)
{
	LessonSink *ls = (LessonSink *)self;
	if (ls->inner && ls->inner->destroy)
		ls->inner->destroy(ls->inner);
	g_hash_table_destroy(ls->told);
	g_free(ls);
}

MsSink *lesson_sink_new(const Lesson *lesson, guint part, MsSink *inner,
                        const LessonSinkOptions *opts, GPtrArray *shown)
{
	g_return_val_if_fail(lesson && opts && opts->out, NULL);
	LessonSink *ls = g_new0(LessonSink, 1);
	ls->base.write = lesson_sink_write;
	ls->base.flush = lesson_sink_flush;
	ls->base.destroy = lesson_sink_destroy;
	ls->lesson = lesson;
	ls->part = part;
	ls->inner = inner;
	ls->opts = *opts;
	if (!ls->opts.width)
		ls->opts.width = LESSON_SINK_WIDTH;
	ls->told = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	ls->shown = shown;
	return &ls->base;
}
