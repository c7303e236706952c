/* sim/kernel/sink_jsonl.c - the JSON Lines sink: one event per line, and
 * the reader that turns such a line back into the event.
 *
 * The log is the run's record: `mailsim replay` reads it back, and two runs
 * with the same seed must produce the same bytes, so the fields are always
 * written in the same order and nothing in them depends on the wall clock.
 * The payload is base64, so any bytes survive.  An event about packets has a
 * "net" object (event.h's contract):
 *
 *   "net":{"action":"arrived","transport":"tcp","src":"192.0.2.7:25",
 *          "dst":"[2001:db8::1]:49152","bytes":14}
 *
 * with "src" null when it is not known and "bytes" only for "arrived";
 * other events have no "net".
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

static void add_endpoint(JsonBuilder *b, const char *key, const MsEndpoint *ep)
{
	char text[MS_ENDPOINT_TEXT_MAX];
	add_str(b, key, ep->family == MS_ADDR_NONE ? NULL : ms_endpoint_format(ep, text));
}

static void add_net(JsonBuilder *b, const MsNetInfo *net)
{
	json_builder_set_member_name(b, "net");
	json_builder_begin_object(b);
	add_str(b, "action", ms_net_action_to_string(net->action));
	add_str(b, "transport", ms_transport_to_string(net->transport));
	add_endpoint(b, "src", &net->src);
	add_endpoint(b, "dst", &net->dst);
	if (net->action == MS_NET_ARRIVED) {
		json_builder_set_member_name(b, "bytes");
		json_builder_add_int_value(b, (gint64)net->bytes);
	}
	json_builder_end_object(b);
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
	if (ev->net.action != MS_NET_NONE)
		add_net(b, &ev->net);
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

/* ---- reading a line back ------------------------------------------------- */

static const char *member_string(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);
	return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
	       ? json_node_get_string(n) : NULL;
}

static gint64 member_int(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);
	return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64
	       ? json_node_get_int(n) : 0;
}

/* The "net" object into *net; FALSE with *why_r when it breaks the contract. */
static gboolean parse_net(JsonNode *node, MsNetInfo *net, char **why_r)
{
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		*why_r = g_strdup("\"net\" is not an object");
		return FALSE;
	}
	JsonObject *o = json_node_get_object(node);
	const char *action = member_string(o, "action"), *transport = member_string(o, "transport");
	int a = ms_net_action_from_string(action), t = ms_transport_from_string(transport);
	if (a < 0) {
		*why_r = g_strdup_printf("unknown net action \"%s\"", action ? action : "");
		return FALSE;
	}
	if (t < 0) {
		*why_r = g_strdup_printf("unknown transport \"%s\"", transport ? transport : "");
		return FALSE;
	}
	net->action = (MsNetAction)a;
	net->transport = (MsTransport)t;
	const char *src = member_string(o, "src"), *dst = member_string(o, "dst");
	const char *bad = src && !ms_endpoint_parse(&net->src, src) ? src
	                : dst && !ms_endpoint_parse(&net->dst, dst) ? dst : NULL;
	if (bad) {
		*why_r = g_strdup_printf("bad endpoint \"%s\"", bad);
		return FALSE;
	}
	gint64 bytes = member_int(o, "bytes");
	net->bytes = bytes > 0 ? (guint64)bytes : 0;
	if (bytes < 0 || !ms_net_info_valid(net)) {
		*why_r = g_strdup_printf("net \"%s\" does not hold what it must", action);
		return FALSE;
	}
	return TRUE;
}

MsEvent *ms_sink_jsonl_parse_line(const char *line, gsize len, char **why_r)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) err = NULL;
	if (!json_parser_load_from_data(parser, line, (gssize)len, &err)) {
		*why_r = g_strdup(err->message);
		return NULL;
	}
	JsonNode *root = json_parser_get_root(parser);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		*why_r = g_strdup("not a JSON object");
		return NULL;
	}
	JsonObject *o = json_node_get_object(root);
	const char *kind = member_string(o, "kind");
	int k = kind ? ms_event_kind_from_string(kind) : -1;
	if (k < 0) {
		*why_r = g_strdup_printf("unknown kind \"%s\"", kind ? kind : "");
		return NULL;
	}
	MsEvent ev = {
		.seq = (guint64)member_int(o, "seq"), .t_us = member_int(o, "t_us"), .kind = (MsEventKind)k,
		.from = member_string(o, "from"), .to = member_string(o, "to"), .proto = member_string(o, "proto"),
		.step = member_string(o, "step"), .text = member_string(o, "text"),
		.conn = (guint64)member_int(o, "conn"),
	};
	JsonNode *net = json_object_get_member(o, "net");
	if (net && !JSON_NODE_HOLDS_NULL(net) && !parse_net(net, &ev.net, why_r))
		return NULL;
	const char *b64 = member_string(o, "payload");
	g_autoptr(GBytes) payload = NULL;
	if (b64) {
		gsize n = 0;
		guchar *data = g_base64_decode(b64, &n);
		payload = g_bytes_new_take(data, n);
		ev.payload = payload;
	}
	return ms_event_copy(&ev);
}
