/* ui/text.h - the plain-text renderer: one line per event.
 *
 *   00:00:00.031  out.1    alice → mail.example.com        smtp  C: AUTH PLAIN ••••••
 *
 * Stable columns and no wall-clock anything, so two runs can be diffed.
 */
#pragma once

#include <stdio.h>
#include "sim/kernel/bus.h"

typedef struct {
	gboolean color;     /* ANSI colours (only when out is a terminal) */
	gboolean verbose;   /* also show RECV (arrival) events */
} UiTextOptions;

/* A sink writing to out (not closed). */
MsSink *ui_text_sink_new(FILE *out, const UiTextOptions *opts);
/* Format one event as the sink would (without colour), newly allocated. */
char   *ui_text_format(const MsEvent *ev);
/* "00:01:02.345" */
char   *ui_text_format_time(gint64 t_us);
