/* sim/kernel/bus.c - the event bus: one lock, one counter, many sinks.
 *
 * The lock makes seq and the order sinks see the same: a sink never sees
 * event n+1 before event n.  In virtual mode only one task runs at a time,
 * so the order is also the same from run to run.
 */
#include "sim/kernel/bus.h"

#include <stdarg.h>

struct MsBus {
	GMutex     lock;
	guint64    seq;
	GPtrArray *sinks;
	gint64   (*clock)(gpointer);
	gpointer   clock_data;
};

MsBus *ms_bus_new(gint64 (*clock)(gpointer data), gpointer data)
{
	MsBus *bus = g_new0(MsBus, 1);
	g_mutex_init(&bus->lock);
	bus->sinks = g_ptr_array_new();
	bus->clock = clock;
	bus->clock_data = data;
	return bus;
}

static void sink_destroy(MsSink *sink)
{
	if (sink->flush)
		sink->flush(sink);
	if (sink->destroy)
		sink->destroy(sink);
}

void ms_bus_free(MsBus *bus)
{
	if (!bus)
		return;
	for (guint i = 0; i < bus->sinks->len; i++)
		sink_destroy(g_ptr_array_index(bus->sinks, i));
	g_ptr_array_free(bus->sinks, TRUE);
	g_mutex_clear(&bus->lock);
	g_free(bus);
}

void ms_bus_add_sink(MsBus *bus, MsSink *sink)
{
	g_mutex_lock(&bus->lock);
	g_ptr_array_add(bus->sinks, sink);
	g_mutex_unlock(&bus->lock);
}

gboolean ms_bus_remove_sink(MsBus *bus, MsSink *sink)
{
	g_mutex_lock(&bus->lock);
	gboolean found = g_ptr_array_remove(bus->sinks, sink);
	g_mutex_unlock(&bus->lock);
	return found;
}

void ms_bus_flush(MsBus *bus)
{
	g_mutex_lock(&bus->lock);
	for (guint i = 0; i < bus->sinks->len; i++) {
		MsSink *sink = g_ptr_array_index(bus->sinks, i);
		if (sink->flush)
			sink->flush(sink);
	}
	g_mutex_unlock(&bus->lock);
}

guint64 ms_bus_emit(MsBus *bus, const MsEvent *ev)
{
	MsEvent e = *ev;
	g_mutex_lock(&bus->lock);
	e.seq = ++bus->seq;
	e.t_us = bus->clock ? bus->clock(bus->clock_data) : 0;
	for (guint i = 0; i < bus->sinks->len; i++) {
		MsSink *sink = g_ptr_array_index(bus->sinks, i);
		sink->write(sink, &e);
	}
	g_mutex_unlock(&bus->lock);
	return e.seq;
}

guint64 ms_bus_emitf(MsBus *bus, MsEventKind kind, const char *from, const char *to,
                     const char *proto, const char *step, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	MsEvent ev = { .kind = kind, .from = from, .to = to, .proto = proto,
	               .step = step, .text = text };
	return ms_bus_emit(bus, &ev);
}

guint64 ms_bus_count(MsBus *bus)
{
	g_mutex_lock(&bus->lock);
	guint64 n = bus->seq;
	g_mutex_unlock(&bus->lock);
	return n;
}

/* ---- the recorder sink (tests) ----------------------------------------- */

typedef struct {
	MsSink     base;
	GPtrArray *events;
} Recorder;

static void recorder_write(MsSink *self, const MsEvent *ev)
{
	g_ptr_array_add(((Recorder *)self)->events, ms_event_copy(ev));
}

static void recorder_destroy(MsSink *self)
{
	g_ptr_array_free(((Recorder *)self)->events, TRUE);
	g_free(self);
}

MsSink *ms_sink_recorder_new(void)
{
	Recorder *r = g_new0(Recorder, 1);
	r->base.write = recorder_write;
	r->base.destroy = recorder_destroy;
	r->events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	return &r->base;
}

GPtrArray *ms_sink_recorder_events(MsSink *recorder)
{
	return ((Recorder *)recorder)->events;
}
