/* sim/lab_events.c - a lab's event logs: written by each of its processes
 * on the machine's monotonic clock, merged by mailsim lab check
 * (sim/lab_events.h).
 */
#include "sim/lab_events.h"
#include "sim/kernel/bus.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <glib/gstdio.h>

char *lab_events_path(const char *state, const char *name, const char *suffix)
{
	g_autofree char *file = g_strconcat(name, suffix, NULL);
	return g_build_filename(state, LAB_EVENTS_DIR, file, NULL);
}

/* ---- writing ------------------------------------------------------------- */

/* The JSON Lines sink, fed events whose t_us is moved from the scheduler's
 * clock (monotonic time minus its start) to the monotonic clock itself. */
typedef struct {
	MsSink  base;
	MsSink *jsonl;
	gint64  start_us;   /* the scheduler's time 0 on the monotonic clock */
} MonoSink;

static void mono_write(MsSink *self, const MsEvent *ev)
{
	MonoSink *m = (MonoSink *)self;
	MsEvent moved = *ev;   /* shallow: the strings stay borrowed for the call */
	moved.t_us = ev->t_us + m->start_us;
	m->jsonl->write(m->jsonl, &moved);
}

static void mono_flush(MsSink *self)
{
	MonoSink *m = (MonoSink *)self;
	if (m->jsonl->flush)
		m->jsonl->flush(m->jsonl);
}

static void mono_destroy(MsSink *self)
{
	MonoSink *m = (MonoSink *)self;
	if (m->jsonl->destroy)
		m->jsonl->destroy(m->jsonl);
	g_free(m);
}

gboolean lab_events_attach(MsSched *s, const char *path, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", dir, g_strerror(errno));
		return FALSE;
	}
	/* the events carry what was said, passwords in AUTH too: the owner's only */
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", path, g_strerror(errno));
		return FALSE;
	}
	setvbuf(f, NULL, _IOLBF, 0);   /* whole lines on disk: lab check reads a running lab */
	MonoSink *m = g_new0(MonoSink, 1);
	m->base.write = mono_write;
	m->base.flush = mono_flush;
	m->base.destroy = mono_destroy;
	m->jsonl = ms_sink_jsonl_new(f, TRUE);
	/* two readings of the one clock, a moment apart: exact to that moment */
	m->start_us = g_get_monotonic_time() - ms_sched_now(s);
	ms_bus_add_sink(ms_sched_bus(s), &m->base);
	return TRUE;
}

/* ---- merging ------------------------------------------------------------- */

typedef struct {
	gint64   t_us;
	guint    log;
	guint64  seq;
	char    *step;
	gboolean refused;
} Seen;

static gint seen_compare(gconstpointer a, gconstpointer b)
{
	const Seen *x = a, *y = b;
	if (x->t_us != y->t_us)
		return x->t_us < y->t_us ? -1 : 1;
	if (x->log != y->log)
		return x->log < y->log ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void read_log(const char *path, guint log, GArray *out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (len > LAB_EVENTS_LINE_MAX || line[len - 1] != '\n')
			continue;   /* not ours, or still being written */
		g_autofree char *why = NULL;
		g_autoptr(MsEvent) ev = ms_sink_jsonl_parse_line(line, (gsize)len - 1, &why);
		if (!ev || !ev->step)
			continue;
		Seen s = { ev->t_us, log, ev->seq, g_strdup(ev->step), ev->kind == MS_EV_REFUSE };
		g_array_append_val(out, s);
	}
	free(line);
	fclose(f);
}

ExpectSteps *lab_events_read_steps(const char *const *paths, guint n_paths, guint *events_r)
{
	g_autoptr(GArray) all = g_array_new(FALSE, TRUE, sizeof(Seen));
	for (guint i = 0; i < n_paths; i++)
		read_log(paths[i], i, all);
	g_array_sort(all, seen_compare);
	ExpectSteps *steps = expect_steps_new();
	for (guint i = 0; i < all->len; i++) {
		Seen *s = &g_array_index(all, Seen, i);
		/* the merged order is the order the judge compares */
		expect_steps_note(steps, s->step, (guint64)i + 1, s->refused);
		g_free(s->step);
	}
	if (events_r)
		*events_r = all->len;
	return steps;
}
