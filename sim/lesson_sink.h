/* sim/lesson_sink.h - a reader of the event stream that tells a lesson.
 *
 * Just before the first event of each step the lesson narrates, the sink
 * prints that step's narration (once), then hands the event on to the sink
 * it wraps (the text transcript), so the words stand right above the
 * traffic they explain.
 */
#pragma once

#include <stdio.h>
#include "sim/kernel/bus.h"
#include "sim/lesson.h"

#define LESSON_SINK_WIDTH 78   /* wrap column of the narration */

typedef struct {
	FILE     *out;      /* where the narration goes (the transcript's FILE, so they interleave) */
	gboolean  color;    /* bold narration (only on a terminal) */
	guint     width;    /* wrap column; 0: LESSON_SINK_WIDTH */
} LessonSinkOptions;

/* A sink narrating part `part` of lesson.  lesson is borrowed and must
 * outlive the sink.  inner may be NULL; it is taken and destroyed with the
 * sink.  shown may be NULL; otherwise a caller-owned array (free func
 * g_free) that receives a copy of each step id whose narration was printed,
 * in order, so the caller can tell which narrations never came. */
MsSink *lesson_sink_new(const Lesson *lesson, guint part, MsSink *inner,
                        const LessonSinkOptions *opts, GPtrArray *shown);

/* text wrapped at width columns (UTF-8 characters): the first line starts
 * with first, the others with indent; each '\n' of text starts a new
 * paragraph on a new line.  Newly allocated, ends with '\n'. */
char *lesson_sink_wrap(const char *text, const char *first, const char *indent, guint width);
