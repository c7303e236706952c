/* sim/kernel/bus.h - the event bus: numbers events and hands them to sinks.
 *
 * Thread-safe.  Sinks are called one event at a time, in seq order, from the
 * emitting thread, with the bus lock held: a sink must be quick and must not
 * emit.  A sink that needs to do slow work (the UI) copies the event and
 * queues it.
 */
#pragma once

#include <stdio.h>
#include "sim/kernel/event.h"

typedef struct MsBus MsBus;

typedef struct MsSink MsSink;
struct MsSink {
	void (*write)(MsSink *self, const MsEvent *ev);
	void (*flush)(MsSink *self);    /* may be NULL */
	void (*destroy)(MsSink *self);  /* frees self; may be NULL */
};

/* clock() tells the time for new events; data is passed to it. */
MsBus  *ms_bus_new(gint64 (*clock)(gpointer data), gpointer data);
/* Flushes and destroys every sink. */
void    ms_bus_free(MsBus *bus);

/* The bus takes ownership of the sink. */
void    ms_bus_add_sink(MsBus *bus, MsSink *sink);
/* Detach a sink without destroying it; FALSE if it was not attached. */
gboolean ms_bus_remove_sink(MsBus *bus, MsSink *sink);
void    ms_bus_flush(MsBus *bus);

/* Emit ev: the bus fills in seq and t_us (ev's own values are ignored) and
 * returns the seq given.  Strings and payload are borrowed for the call. */
guint64 ms_bus_emit(MsBus *bus, const MsEvent *ev);

/* printf-style shortcut for an event without connection or payload. */
guint64 ms_bus_emitf(MsBus *bus, MsEventKind kind, const char *from, const char *to,
                     const char *proto, const char *step, const char *fmt, ...) G_GNUC_PRINTF(7, 8);

/* How many events were emitted so far. */
guint64 ms_bus_count(MsBus *bus);

/* Sinks that ship with the kernel.  Each takes ownership of nothing but
 * what it creates; the FILE is not closed unless close_file is TRUE. */
MsSink *ms_sink_jsonl_new(FILE *out, gboolean close_file);
/* One line of that sink's output (len bytes, no newline needed) back as an
 * event (new, free with ms_event_free), or NULL with *why_r (new) saying
 * what is wrong: not JSON, an unknown kind, a "net" that breaks the
 * contract in event.h. */
MsEvent *ms_sink_jsonl_parse_line(const char *line, gsize len, char **why_r);
/* A recorder for tests: keeps a copy of every event. */
MsSink *ms_sink_recorder_new(void);
/* Borrowed array of MsEvent* owned by the recorder. */
GPtrArray *ms_sink_recorder_events(MsSink *recorder);
