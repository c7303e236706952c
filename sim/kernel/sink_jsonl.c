/* sim/kernel/sink_jsonl.c - the JSON Lines sink: one event per line.
 *
 * The log is the run's record: `mailsim replay` reads it back, and two runs
 * with the same seed must produce the same bytes, so the fields are always
 * written in the same order and nothing in them depends on the wall clock.
 * The payload is base64, so any bytes survive.
 */
#include "sim/kernel/bus.h"

#include <json-glib/json-glib.h>
#include <stdio.h>

typedef struct {
	MsSink    base;
	FILE     *out;
	gboolean  close_file;
} JsonlSink;

static void add_str(JsonBuilder *b, const char *key, const char *val)
{
	json_builder_set_member_name(b, key);
	if (val)
		json_builder_add_string_value(b, val);
	else
		json_builder_add_null_value(b);
}

static void jsonl_write(MsSink *self, const MsEvent *ev)
{
	JsonlSink *s = (JsonlSink *)self;
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "seq");
	json_builder_add_int_value(b, (gint64)ev->seq);
	json_builder_set_member_name(b, "t_us");
	json_builder_add_int_value(b, ev->t_us);
	add_str(b, "kind", ms_event_kind_to_string(ev->kind));
	add_str(b, "from", ev->from);
	add_str(b, "to", ev->to);
	add_str(b, "proto", ev->proto);
	add_str(b, "step", ev->step);
	add_str(b, "text", ev->text);
	json_builder_set_member_name(b, "conn");
	json_builder_add_int_value(b, (gint64)ev->conn);
	if (ev->payload) {
		gsize len;
		const guchar *data = g_bytes_get_data(ev->payload, &len);
		g_autofree char *b64 = g_base64_encode(data, len);
		add_str(b, "payload", b64);
	}
	json_builder_end_object(b);

	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	g_autofree char *line = json_generator_to_data(gen, NULL);
	fputs(line, s->out);
	fputc('\n', s->out);
}

static void jsonl_flush(MsSink *self)
{
	fflush(((JsonlSink *)self)->out);
}

static void jsonl_destroy(MsSink *self)
{
	JsonlSink *s = (JsonlSink *)self;
	if (s->close_file)
		fclose(s->out);
	g_free(s);
}

MsSink *ms_sink_jsonl_new(FILE *out, gboolean close_file)
{
	JsonlSink *s = g_new0(JsonlSink, 1);
	s->base.write = jsonl_write;
	s->base.flush = jsonl_flush;
	s->base.destroy = jsonl_destroy;
	s->out = out;
	s->close_file = close_file;
	return &s->base;
}
