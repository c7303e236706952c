/* tests/sim/kernel/test_sink_jsonl.c - the JSON Lines log and its reader:
 * every field of an event, its net included (each action, IPv4 and IPv6,
 * a source not known), comes back from a line as it was written, a line
 * read and written again is the same bytes, an event about no packets has
 * no "net", a log from before "net" still reads, and a "net" that breaks
 * the contract is refused with a reason. */
#include "tests/ms_test_net.h"
#include "sim/kernel/bus.h"

#include <stdio.h>

/* The lines a JSONL sink writes for n events. */
static char *write_log(const MsEvent *const *evs, guint n)
{
	char *log = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&log, &len);
	MsSink *sink = ms_sink_jsonl_new(mem, FALSE);
	for (guint i = 0; i < n; i++)
		sink->write(sink, evs[i]);
	sink->flush(sink);
	sink->destroy(sink);
	fclose(mem);
	return log;
}

static void assert_same_event(const MsEvent *a, const MsEvent *b)
{
	ck_assert_uint_eq(a->seq, b->seq);
	ck_assert_int_eq(a->t_us, b->t_us);
	ck_assert_int_eq(a->kind, b->kind);
	ck_assert_pstr_eq(a->from, b->from);
	ck_assert_pstr_eq(a->to, b->to);
	ck_assert_pstr_eq(a->proto, b->proto);
	ck_assert_pstr_eq(a->step, b->step);
	ck_assert_pstr_eq(a->text, b->text);
	ck_assert_uint_eq(a->conn, b->conn);
	ck_assert_int_eq(!a->payload, !b->payload);
	if (a->payload)
		ck_assert(g_bytes_equal(a->payload, b->payload));
	ck_assert_int_eq(a->net.action, b->net.action);
	ck_assert_int_eq(a->net.transport, b->net.transport);
	ck_assert(ms_endpoint_equal(&a->net.src, &b->net.src));
	ck_assert(ms_endpoint_equal(&a->net.dst, &b->net.dst));
	ck_assert_uint_eq(a->net.bytes, b->net.bytes);
}

START_TEST(test_round_trip)
{
	static const guint8 bin[] = { 0, 1, 2, 0xff, '\r', '\n' };
	g_autoptr(GBytes) payload = g_bytes_new_static(bin, sizeof bin);
	const MsEvent evs[] = {
		{ .seq = 1, .kind = MS_EV_NOTE, .from = "scenario", .text = "A run (t.scn), seed 1" },
		{ .seq = 2, .t_us = 10, .kind = MS_EV_CONNECT, .from = "pc", .to = "mx", .proto = "tcp",
		  .text = "SYN", .net = ms_test_net(MS_NET_SYN, "192.0.2.77:49152", "198.51.100.20:25", 0) },
		{ .seq = 3, .t_us = 20, .kind = MS_EV_CONNECT, .from = "mailsim", .to = "127.0.0.1", .proto = "tcp",
		  .text = "SYN -> 127.0.0.1:2525", .net = ms_test_net(MS_NET_SYN, NULL, "127.0.0.1:2525", 0) },
		{ .seq = 4, .t_us = 30, .kind = MS_EV_ACCEPT, .from = "mx", .to = "pc", .proto = "smtp", .step = "in.1",
		  .conn = 1, .net = ms_test_net(MS_NET_ACCEPT, "198.51.100.20:25", "192.0.2.77:49152", 0) },
		{ .seq = 5, .t_us = 40, .kind = MS_EV_CONNECT, .from = "pc", .to = "mx", .conn = 1,
		  .net = ms_test_net(MS_NET_ESTABLISHED, "192.0.2.77:49152", "198.51.100.20:25", 0) },
		{ .seq = 6, .t_us = 50, .kind = MS_EV_SEND, .from = "mx", .to = "pc", .conn = 1, .text = "S: 220",
		  .payload = payload, .net = ms_test_net(MS_NET_DATA, "198.51.100.20:25", "192.0.2.77:49152", 0) },
		{ .seq = 7, .t_us = 60, .kind = MS_EV_RECV, .from = "mx", .to = "pc", .conn = 1, .text = "6 bytes arrived",
		  .net = ms_test_net(MS_NET_ARRIVED, "[2001:db8::20]:25", "[2001:db8::77]:49152", 6) },
		{ .seq = 8, .t_us = 70, .kind = MS_EV_CLOSE, .conn = 1,
		  .net = ms_test_net(MS_NET_FIN, "192.0.2.77:49152", "198.51.100.20:25", 0) },
		{ .seq = 9, .t_us = 80, .kind = MS_EV_ERROR, .conn = 2, .text = "connection reset: host down",
		  .net = ms_test_net(MS_NET_RESET, "192.0.2.77:49153", "198.51.100.20:25", 0) },
		{ .seq = 10, .t_us = 90, .kind = MS_EV_ERROR, .text = "refused",
		  .net = ms_test_net(MS_NET_REFUSED, "192.0.2.77:49154", "198.51.100.20:110", 0) },
		{ .seq = 11, .t_us = 100, .kind = MS_EV_ERROR, .text = "timed out",
		  .net = ms_test_net(MS_NET_UNANSWERED, NULL, "203.0.113.9:25", 0) },
		{ .seq = 12, .t_us = 110, .kind = MS_EV_SEND, .proto = "dns", .payload = payload,
		  .net = ms_test_net(MS_NET_DATAGRAM, "192.0.2.77:40000", "[2001:db8::53]:53", 0) },
	};
	const MsEvent *ptrs[G_N_ELEMENTS(evs)];
	for (guint i = 0; i < G_N_ELEMENTS(evs); i++)
		ptrs[i] = &evs[i];
	g_autofree char *log = write_log(ptrs, G_N_ELEMENTS(evs));
	g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
	ck_assert_uint_eq(g_strv_length(lines), G_N_ELEMENTS(evs) + 1);   /* and the empty tail */

	/* the form the sink documents */
	ck_assert_ptr_null(strstr(lines[0], "\"net\""));
	ck_assert_ptr_nonnull(strstr(lines[6], ",\"net\":{\"action\":\"arrived\",\"transport\":\"tcp\","
	                                       "\"src\":\"[2001:db8::20]:25\",\"dst\":\"[2001:db8::77]:49152\","
	                                       "\"bytes\":6}}"));
	ck_assert_ptr_nonnull(strstr(lines[2], "\"net\":{\"action\":\"syn\",\"transport\":\"tcp\",\"src\":null,"
	                                       "\"dst\":\"127.0.0.1:2525\"}"));
	ck_assert_ptr_null(strstr(lines[5], "\"bytes\""));

	MsEvent *back[G_N_ELEMENTS(evs)];
	for (guint i = 0; i < G_N_ELEMENTS(evs); i++) {
		g_autofree char *why = NULL;
		back[i] = ms_sink_jsonl_parse_line(lines[i], strlen(lines[i]), &why);
		ck_assert_msg(back[i] != NULL, "line %u: %s", i + 1, why);
		assert_same_event(&evs[i], back[i]);
		ck_assert(ms_net_info_valid(&back[i]->net));
	}
	/* what was read writes the same bytes */
	g_autofree char *again = write_log((const MsEvent *const *)back, G_N_ELEMENTS(evs));
	ck_assert_str_eq(again, log);
	for (guint i = 0; i < G_N_ELEMENTS(evs); i++)
		ms_event_free(back[i]);
}
END_TEST

/* A log written before events had a net, and a null net, read as events
 * about no packets. */
START_TEST(test_line_without_net)
{
	static const char *const lines[] = {
		"{\"seq\":3,\"t_us\":5,\"kind\":\"CONNECT\",\"from\":\"pc\",\"to\":\"mx\",\"proto\":\"tcp\",\"step\":null,"
		"\"text\":\"SYN 192.0.2.77:49152 -> 198.51.100.20:25\",\"conn\":0}",
		"{\"seq\":4,\"kind\":\"SEND\",\"conn\":1,\"net\":null,\"payload\":\"MjIwDQo=\"}",
	};
	for (guint i = 0; i < G_N_ELEMENTS(lines); i++) {
		g_autofree char *why = NULL;
		g_autoptr(MsEvent) ev = ms_sink_jsonl_parse_line(lines[i], strlen(lines[i]), &why);
		ck_assert_msg(ev != NULL, "%s", why);
		ck_assert_int_eq(ev->net.action, MS_NET_NONE);
		ck_assert_int_eq(ev->net.src.family, MS_ADDR_NONE);
	}
}
END_TEST

typedef struct {
	const char *net;     /* the "net" member's value */
	const char *why;     /* part of the reason given */
} BadNet;

static const BadNet bad_nets[] = {
	{ "\"syn\"", "not an object" },
	{ "{\"action\":\"teleport\",\"transport\":\"tcp\",\"dst\":\"10.0.0.2:25\"}", "unknown net action \"teleport\"" },
	{ "{\"transport\":\"tcp\",\"dst\":\"10.0.0.2:25\"}", "unknown net action \"\"" },
	{ "{\"action\":\"syn\",\"transport\":\"sctp\",\"dst\":\"10.0.0.2:25\"}", "unknown transport \"sctp\"" },
	{ "{\"action\":\"syn\",\"transport\":\"tcp\",\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2:25\"}", "bad endpoint \"10.0.0.1\"" },
	{ "{\"action\":\"syn\",\"transport\":\"tcp\",\"dst\":\"[10.0.0.2]:25\"}", "bad endpoint" },
	{ "{\"action\":\"syn\",\"transport\":\"udp\",\"dst\":\"10.0.0.2:25\"}", "does not hold" },
	{ "{\"action\":\"syn\",\"transport\":\"tcp\"}", "does not hold" },
	{ "{\"action\":\"data\",\"transport\":\"tcp\",\"dst\":\"10.0.0.2:25\"}", "does not hold" },
	{ "{\"action\":\"arrived\",\"transport\":\"tcp\",\"src\":\"10.0.0.1:1\",\"dst\":\"10.0.0.2:25\"}", "does not hold" },
	{ "{\"action\":\"arrived\",\"transport\":\"tcp\",\"src\":\"10.0.0.1:1\",\"dst\":\"10.0.0.2:25\",\"bytes\":-4}", "does not hold" },
	{ "{\"action\":\"none\",\"transport\":\"tcp\"}", "does not hold" },
};

START_TEST(test_bad_net_refused)
{
	const BadNet *c = &bad_nets[_i];
	g_autofree char *line = g_strdup_printf("{\"seq\":1,\"kind\":\"CONNECT\",\"conn\":0,\"net\":%s}", c->net);
	g_autofree char *why = NULL;
	MsEvent *ev = ms_sink_jsonl_parse_line(line, strlen(line), &why);
	ck_assert_msg(ev == NULL, "accepted: %s", line);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, c->why) != NULL, "why: %s", why);
}
END_TEST

START_TEST(test_not_an_event)
{
	static const struct { const char *line, *why; } cases[] = {
		{ "not json", "" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"kind\":\"TELEPORT\"}", "unknown kind \"TELEPORT\"" },
		{ "{\"seq\":1}", "unknown kind \"\"" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *why = NULL;
		ck_assert_ptr_null(ms_sink_jsonl_parse_line(cases[i].line, strlen(cases[i].line), &why));
		ck_assert_ptr_nonnull(why);
		ck_assert_msg(strstr(why, cases[i].why) != NULL, "why: %s", why);
	}
}
END_TEST

static Suite *sink_jsonl_suite(void)
{
	Suite *s = suite_create("sink_jsonl");
	MS_ADD_TEST(s, test_round_trip, 5);
	MS_ADD_TEST(s, test_line_without_net, 5);
	TCase *tc = tcase_create("bad_net");
	tcase_add_loop_test(tc, test_bad_net_refused, 0, G_N_ELEMENTS(bad_nets));
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_not_an_event, 5);
	return s;
}

MS_TEST_MAIN(sink_jsonl_suite)
