/* tests/net/test_pcap_reader.c - captured traffic back into events.
 *
 * First the reassembler alone (net/pcap_stream.c): a table of segment
 * sequences with out-of-order, retransmitted, overlapping and wrapping
 * segments, each run whole and then one byte a segment.  Then the decoder
 * (net/pcap_decode.c) on crafted frames: sessions of each protocol, the
 * same sessions reordered and retransmitted, every link type, DNS steps,
 * TLS, resets, gaps; and the reader (net/pcap_reader.c) on a file the pcap
 * writer made.
 */
#include "tests/ms_test.h"
#include "net/pcap_stream.h"
#include "net/pcap_decode.h"
#include "net/pcap_reader.h"
#include "net/pcap_writer.h"
#include "net/pcap_frame.h"
#include "net/dns_wire.h"

/* ---- the reassembler ------------------------------------------------------- */

typedef struct {
	guint32     off;      /* from the first data byte (ISN + 1) */
	const char *data;
	gboolean    fin;
} Seg;

#define END { 0, NULL, FALSE }
#define MAX_SEGS 8

typedef struct {
	const char *name;
	guint32     isn;
	Seg         segs[MAX_SEGS + 1];
	const char *want;     /* delivered bytes, "[gap N]" for holes, "|FIN" at the end */
	gboolean    flush;    /* pcap_stream_flush after the segments */
} StreamCase;

static const StreamCase stream_cases[] = {
	{ "in order", 1000, { { 0, "ab", 0 }, { 2, "cd", 1 }, END }, "abcd|FIN", FALSE },
	{ "out of order", 1000, { { 2, "cd", 0 }, { 0, "ab", 0 }, END }, "abcd", FALSE },
	{ "three reversed", 7, { { 4, "ef", 0 }, { 2, "cd", 0 }, { 0, "ab", 0 }, END }, "abcdef", FALSE },
	{ "retransmission", 1000, { { 0, "ab", 0 }, { 0, "ab", 0 }, { 2, "cd", 0 }, { 0, "abcd", 0 }, END }, "abcd", FALSE },
	{ "overlap", 1000, { { 0, "abc", 0 }, { 1, "bcde", 0 }, END }, "abcde", FALSE },
	{ "early overlaps", 1000, { { 3, "def", 0 }, { 2, "cdefg", 0 }, { 0, "ab", 0 }, END }, "abcdefg", FALSE },
	{ "early retransmitted", 1000, { { 2, "cd", 0 }, { 2, "cd", 0 }, { 0, "ab", 0 }, END }, "abcd", FALSE },
	{ "wraps at 2^32", 0xfffffffd, { { 0, "ab", 0 }, { 2, "cd", 0 }, { 4, "ef", 1 }, END }, "abcdef|FIN", FALSE },
	{ "wraps out of order", 0xfffffffd, { { 4, "ef", 0 }, { 2, "cd", 0 }, { 0, "ab", 0 }, END }, "abcdef", FALSE },
	{ "fin before the data", 1000, { { 2, "cd", 1 }, { 0, "ab", 0 }, END }, "abcd|FIN", FALSE },
	{ "bare fin", 1000, { { 0, "ab", 0 }, { 2, "", 1 }, END }, "ab|FIN", FALSE },
	/* found by the fuzzer: an early FIN without data is kept with no bytes */
	{ "bare fin early", 1000, { { 2, "", 1 }, { 0, "ab", 0 }, END }, "ab|FIN", FALSE },
	{ "after the fin", 1000, { { 0, "ab", 1 }, { 3, "zz", 0 }, { 0, "ab", 1 }, END }, "ab|FIN", FALSE },
	{ "hole given up", 1000, { { 0, "ab", 0 }, { 4, "ef", 0 }, END }, "ab[gap 2]ef", TRUE },
	{ "hole not yet", 1000, { { 0, "ab", 0 }, { 4, "ef", 0 }, END }, "ab", FALSE },
	{ "too far ahead", 1000, { { 0, "ab", 0 }, { 2 * 1024 * 1024, "zz", 0 }, { 2, "c", 0 }, END }, "abc", TRUE },
};

typedef struct {
	PcapStream *s;
	GString    *out;
} Collect;

static void collect_piece(PcapStreamPiece piece, const guint8 *data, gsize len, gpointer user)
{
	GString *out = user;
	if (piece == PCAP_STREAM_DATA)
		g_string_append_len(out, (const char *)data, (gssize)len);
	else if (piece == PCAP_STREAM_GAP)
		g_string_append_printf(out, "[gap %" G_GSIZE_FORMAT "]", len);
	else
		g_string_append(out, "|FIN");
}

static char *run_stream(const StreamCase *c, gboolean bytewise)
{
	GString *out = g_string_new(NULL);
	PcapStream *s = pcap_stream_new(collect_piece, out);
	pcap_stream_set_isn(s, c->isn);
	for (const Seg *g = c->segs; g->data; g++) {
		guint32 seq = c->isn + 1 + g->off;
		gsize len = strlen(g->data);
		if (!bytewise || len <= 1) {
			pcap_stream_add(s, seq, (const guint8 *)g->data, len, g->fin);
			continue;
		}
		for (gsize i = 0; i < len; i++)
			pcap_stream_add(s, seq + (guint32)i, (const guint8 *)g->data + i, 1, g->fin && i + 1 == len);
	}
	if (c->flush)
		pcap_stream_flush(s);
	pcap_stream_free(s);
	return g_string_free(out, FALSE);
}

START_TEST(test_stream_table)
{
	for (guint i = 0; i < G_N_ELEMENTS(stream_cases); i++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			g_autofree char *got = run_stream(&stream_cases[i], bytewise);
			ck_assert_msg(!strcmp(got, stream_cases[i].want), "%s (%s): got \"%s\", want \"%s\"",
			              stream_cases[i].name, bytewise ? "byte by byte" : "whole", got, stream_cases[i].want);
		}
	}
}
END_TEST

START_TEST(test_stream_results)
{
	GString *out = g_string_new(NULL);
	PcapStream *s = pcap_stream_new(collect_piece, out);
	ck_assert(!pcap_stream_started(s));
	pcap_stream_set_isn(s, 99);
	ck_assert(pcap_stream_started(s));
	const guint8 *d = (const guint8 *)"abcdef";
	ck_assert_int_eq(pcap_stream_add(s, 100, d, 0, FALSE), PCAP_STREAM_EMPTY);
	ck_assert_int_eq(pcap_stream_add(s, 102, d + 2, 2, FALSE), PCAP_STREAM_EARLY);
	ck_assert_uint_eq(pcap_stream_pending_bytes(s), 2);
	ck_assert_int_eq(pcap_stream_add(s, 102, d + 2, 2, FALSE), PCAP_STREAM_DUPLICATE);
	ck_assert_int_eq(pcap_stream_add(s, 100, d, 2, FALSE), PCAP_STREAM_IN_ORDER);
	ck_assert_uint_eq(pcap_stream_pending_bytes(s), 0);
	ck_assert_int_eq(pcap_stream_add(s, 100, d, 4, FALSE), PCAP_STREAM_DUPLICATE);
	ck_assert_int_eq(pcap_stream_add(s, 104, d + 4, 2, TRUE), PCAP_STREAM_IN_ORDER);
	ck_assert(pcap_stream_finished(s));
	ck_assert_int_eq(pcap_stream_add(s, 104, d + 4, 2, TRUE), PCAP_STREAM_DUPLICATE);
	ck_assert_int_eq(pcap_stream_add(s, 200, d, 2, FALSE), PCAP_STREAM_OUT_OF_RANGE);
	ck_assert_str_eq(out->str, "abcdef|FIN");
	ck_assert_str_eq(pcap_stream_result_to_string(PCAP_STREAM_EARLY), "EARLY");
	ck_assert_str_eq(pcap_stream_piece_to_string(PCAP_STREAM_GAP), "GAP");
	pcap_stream_free(s);
	g_string_free(out, TRUE);
}
END_TEST

START_TEST(test_stream_midstream)
{
	GString *out = g_string_new(NULL);
	PcapStream *s = pcap_stream_new(collect_piece, out);
	/* no SYN seen: the stream starts at the first segment */
	ck_assert_int_eq(pcap_stream_add(s, 5000, (const guint8 *)"xy", 2, FALSE), PCAP_STREAM_IN_ORDER);
	ck_assert_int_eq(pcap_stream_add(s, 4990, (const guint8 *)"old", 3, FALSE), PCAP_STREAM_DUPLICATE);
	pcap_stream_add(s, 5002, (const guint8 *)"z", 1, FALSE);
	ck_assert_str_eq(out->str, "xyz");
	pcap_stream_free(s);
	g_string_free(out, TRUE);
}
END_TEST

/* Early segments are bounded: past the bound, the oldest hole is given up. */
START_TEST(test_stream_bounded)
{
	GString *out = g_string_new(NULL);
	PcapStream *s = pcap_stream_new(collect_piece, out);
	pcap_stream_set_isn(s, 0);
	static guint8 chunk[1000];
	memset(chunk, 'x', sizeof chunk);
	/* byte 1 (offset 0) never comes; a thousand early segments do */
	gsize peak = 0;
	for (guint i = 0; i < 1000; i++) {
		pcap_stream_add(s, 2 + i * 2000, chunk, sizeof chunk, FALSE);
		peak = MAX(peak, pcap_stream_pending_bytes(s));
	}
	ck_assert_uint_le(peak, PCAP_STREAM_MAX_PENDING_BYTES);
	ck_assert_ptr_nonnull(strstr(out->str, "[gap 1]"));
	pcap_stream_flush(s);
	ck_assert_uint_eq(pcap_stream_pending_bytes(s), 0);
	/* every byte sent was delivered once, each hole said */
	gsize xs = 0;
	for (const char *p = out->str; *p; p++)
		xs += *p == 'x';
	ck_assert_uint_eq(xs, 1000 * sizeof chunk);
	pcap_stream_free(s);
	g_string_free(out, TRUE);
}
END_TEST

/* ---- crafted sessions for the decoder ----------------------------------------- */

typedef struct {
	GByteArray *bytes;    /* an IPv4 packet (link RAW) */
	gboolean    client;   /* sent by the client */
	gboolean    data;
} Pkt;

typedef struct {
	GPtrArray *pkts;      /* of Pkt* */
	guint8     c[4], s[4];
	guint16    cp, sp;
	guint32    cseq, sseq;
	guint16    ip_id;
} Sess;

static void pkt_free(gpointer p)
{
	Pkt *k = p;
	g_byte_array_unref(k->bytes);
	g_free(k);
}

static void sess_init(Sess *x, guint16 sport)
{
	memset(x, 0, sizeof *x);
	x->pkts = g_ptr_array_new_with_free_func(pkt_free);
	memcpy(x->c, (guint8[]){ 192, 0, 2, 10 }, 4);
	memcpy(x->s, (guint8[]){ 198, 51, 100, 20 }, 4);
	x->cp = 49200;
	x->sp = sport;
	x->cseq = 0x11110000;
	x->sseq = 0xfffffff0;   /* the server's numbers wrap around 2^32 */
}

static void seg(Sess *x, gboolean client, guint8 flags, const char *data, gsize len)
{
	PcapTcpHeader h = { .flags = flags, .window = 65535, .ip_id = x->ip_id++ };
	memcpy(h.src, client ? x->c : x->s, 4);
	memcpy(h.dst, client ? x->s : x->c, 4);
	h.sport = client ? x->cp : x->sp;
	h.dport = client ? x->sp : x->cp;
	h.seq = client ? x->cseq : x->sseq;
	h.ack = client ? x->sseq : x->cseq;
	Pkt *k = g_new0(Pkt, 1);
	k->bytes = pcap_frame_tcp(&h, (const guint8 *)data, len, PCAP_FRAME_LINK_RAW);
	k->client = client;
	k->data = len > 0;
	g_ptr_array_add(x->pkts, k);
	guint32 used = (guint32)len + ((flags & (PCAP_TCP_SYN | PCAP_TCP_FIN)) ? 1 : 0);
	if (client)
		x->cseq += used;
	else
		x->sseq += used;
}

static void handshake(Sess *x)
{
	seg(x, TRUE, PCAP_TCP_SYN, NULL, 0);
	seg(x, FALSE, PCAP_TCP_SYN | PCAP_TCP_ACK, NULL, 0);
	seg(x, TRUE, PCAP_TCP_ACK, NULL, 0);
}

/* text in segments of at most `piece` bytes (0: one segment) */
static void say_in(Sess *x, gboolean client, const char *text, gsize piece)
{
	gsize len = strlen(text);
	if (!piece)
		piece = PCAP_FRAME_MSS;
	for (gsize off = 0; off < len; off += piece)
		seg(x, client, PCAP_TCP_ACK | PCAP_TCP_PSH, text + off, MIN(piece, len - off));
}

static void say(Sess *x, gboolean client, const char *text)
{
	say_in(x, client, text, 0);
}

static void close_both(Sess *x)
{
	seg(x, TRUE, PCAP_TCP_FIN | PCAP_TCP_ACK, NULL, 0);
	seg(x, FALSE, PCAP_TCP_ACK, NULL, 0);
	seg(x, FALSE, PCAP_TCP_FIN | PCAP_TCP_ACK, NULL, 0);
	seg(x, TRUE, PCAP_TCP_ACK, NULL, 0);
}

/* The table of sim/kernel/event.h: the kind of event each action comes
 * on, and whether it belongs to a connection yet. */
static const struct {
	MsNetAction action;
	MsEventKind kind;
	gboolean    has_conn;
} net_kinds[] = {
	{ MS_NET_SYN, MS_EV_CONNECT, FALSE },       { MS_NET_ACCEPT, MS_EV_ACCEPT, TRUE },
	{ MS_NET_ESTABLISHED, MS_EV_CONNECT, TRUE }, { MS_NET_REFUSED, MS_EV_ERROR, FALSE },
	{ MS_NET_UNANSWERED, MS_EV_ERROR, FALSE },   { MS_NET_DATA, MS_EV_SEND, TRUE },
	{ MS_NET_ARRIVED, MS_EV_RECV, TRUE },        { MS_NET_FIN, MS_EV_CLOSE, TRUE },
	{ MS_NET_RESET, MS_EV_ERROR, TRUE },         { MS_NET_DATAGRAM, MS_EV_SEND, FALSE },
};

/* An event the decoder emits keeps the net contract as net/conn.c's do:
 * valid; on the kind the table says, with a connection id or without;
 * src and dst the ends `from` and `to` name; DATA with its bytes (a
 * datagram may be empty), and every SEND with bytes one of them. */
static void assert_net_contract(const MsEvent *ev)
{
	const MsNetInfo *n = &ev->net;
	ck_assert_msg(ms_net_info_valid(n), "invalid net on \"%s\"", ev->text);
	if (n->action == MS_NET_NONE) {
		ck_assert_msg(!(ev->kind == MS_EV_SEND && ev->payload), "bytes sent without a net: \"%s\"", ev->text);
		ck_assert_msg(ev->kind != MS_EV_RECV, "an arrival without a net: \"%s\"", ev->text);
		return;
	}
	gboolean found = FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(net_kinds); i++) {
		if (net_kinds[i].action != n->action)
			continue;
		found = TRUE;
		ck_assert_msg(ev->kind == net_kinds[i].kind, "%s on a %s event", ms_net_action_to_string(n->action),
		              ms_event_kind_to_string(ev->kind));
		ck_assert_msg((ev->conn != 0) == net_kinds[i].has_conn, "%s with conn %" G_GUINT64_FORMAT,
		              ms_net_action_to_string(n->action), ev->conn);
	}
	ck_assert(found);
	char src[MS_ENDPOINT_TEXT_MAX], dst[MS_ENDPOINT_TEXT_MAX];
	ck_assert_str_eq(ev->from, ms_endpoint_format(&n->src, src));
	ck_assert_str_eq(ev->to, ms_endpoint_format(&n->dst, dst));
	if (n->action == MS_NET_DATA || n->action == MS_NET_DATAGRAM)
		ck_assert_msg(ev->payload && (g_bytes_get_size(ev->payload) > 0 || n->action == MS_NET_DATAGRAM),
		              "%s without bytes: \"%s\"", ms_net_action_to_string(n->action), ev->text);
}

/* Keep a copy of every event, each checked against the net contract. */
static void record(const MsEvent *ev, gpointer data)
{
	assert_net_contract(ev);
	g_ptr_array_add(data, ms_event_copy(ev));
}

/* One line per event: "KIND step text". */
static char *lines_of(GPtrArray *events)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < events->len; i++) {
		MsEvent *e = g_ptr_array_index(events, i);
		g_string_append_printf(s, "%s %s %s\n", ms_event_kind_to_string(e->kind), e->step ? e->step : "-",
		                       e->text ? e->text : "");
	}
	return g_string_free(s, FALSE);
}

/* Decode packets (raw IP, wrapped in Ethernet here) and return the lines. */
static char *decode_pkts(GPtrArray *pkts, PcapDecodeStats *stats_r, GPtrArray **events_r)
{
	GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	PcapDecoder *d = pcap_decode_new(record, events);
	for (guint i = 0; i < pkts->len; i++) {
		Pkt *k = g_ptr_array_index(pkts, i);
		GByteArray *f = g_byte_array_new();
		guint8 eth[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00 };
		g_byte_array_append(f, eth, sizeof eth);
		g_byte_array_append(f, k->bytes->data, k->bytes->len);
		pcap_decode_frame(d, PCAP_DECODE_LINK_ETHERNET, (gint64)i * 1000, f->data, f->len);
		g_byte_array_unref(f);
	}
	pcap_decode_finish(d);
	if (stats_r)
		*stats_r = *pcap_decode_stats(d);
	pcap_decode_free(d);
	char *lines = lines_of(events);
	if (events_r)
		*events_r = events;
	else
		g_ptr_array_unref(events);
	return lines;
}

/* Reverse each burst of data segments sent one way and send its first
 * segment twice more: out of order and retransmitted, same conversation. */
static GPtrArray *scramble(GPtrArray *pkts)
{
	GPtrArray *out = g_ptr_array_new();
	for (guint i = 0; i < pkts->len;) {
		Pkt *k = g_ptr_array_index(pkts, i);
		guint j = i;
		while (j < pkts->len && ((Pkt *)g_ptr_array_index(pkts, j))->data &&
		       ((Pkt *)g_ptr_array_index(pkts, j))->client == k->client)
			j++;
		if (j == i) {
			g_ptr_array_add(out, k);
			i++;
			continue;
		}
		g_ptr_array_add(out, k);   /* a copy that arrives early... */
		for (guint n = j; n > i; n--)
			g_ptr_array_add(out, g_ptr_array_index(pkts, n - 1));
		g_ptr_array_add(out, k);   /* ...and a retransmission */
		i = j;
	}
	return out;
}

/* What one side of a crafted session sent, in order: the TCP payloads of
 * its packets (raw IPv4, as seg makes them). */
static GByteArray *sess_sent(GPtrArray *pkts, gboolean client)
{
	GByteArray *out = g_byte_array_new();
	for (guint i = 0; i < pkts->len; i++) {
		Pkt *k = g_ptr_array_index(pkts, i);
		if (k->client != client || !k->data)
			continue;
		const guint8 *ip = k->bytes->data;
		gsize ihl = (ip[0] & 0x0f) * 4u, thl = (ip[ihl + 12] >> 4) * 4u;
		g_byte_array_append(out, ip + ihl + thl, k->bytes->len - ihl - thl);
	}
	return out;
}

/* The DATA events from one end, their payloads end to end; and the bytes
 * ARRIVED events say of it. */
static GByteArray *data_from(GPtrArray *events, const char *src, guint64 *arrived)
{
	GByteArray *out = g_byte_array_new();
	*arrived = 0;
	for (guint i = 0; i < events->len; i++) {
		MsEvent *e = g_ptr_array_index(events, i);
		char text[MS_ENDPOINT_TEXT_MAX];
		if (strcmp(ms_endpoint_format(&e->net.src, text), src) != 0)
			continue;
		if (e->net.action == MS_NET_DATA)
			g_byte_array_append(out, g_bytes_get_data(e->payload, NULL), (guint)g_bytes_get_size(e->payload));
		else if (e->net.action == MS_NET_ARRIVED)
			*arrived += e->net.bytes;
	}
	return out;
}

/* Every byte each side of a whole session sent is in its DATA events, in
 * order, and (all acknowledged) in its ARRIVED events. */
static void assert_bytes_carried(GPtrArray *pkts, GPtrArray *events, const char *client, const char *server,
                                 gboolean all_acked)
{
	for (int c = 0; c < 2; c++) {
		g_autoptr(GByteArray) sent = sess_sent(pkts, c);
		guint64 arrived;
		g_autoptr(GByteArray) data = data_from(events, c ? client : server, &arrived);
		ck_assert_msg(data->len == sent->len && (!sent->len || memcmp(data->data, sent->data, sent->len) == 0),
		              "the %s's DATA events carry %u bytes \"%.*s\", it sent %u \"%.*s\"", c ? "client" : "server",
		              data->len, (int)data->len, (const char *)data->data, sent->len, (int)sent->len,
		              (const char *)sent->data);
		if (all_acked)
			ck_assert_uint_eq(arrived, sent->len);
	}
}

/* Decode a whole session: its lines, once every byte was checked to be in
 * the DATA events (all_acked: and the ARRIVED ones). */
static char *decode_sess(Sess *x, gboolean all_acked)
{
	g_autoptr(GPtrArray) events = NULL;
	char *lines = decode_pkts(x->pkts, NULL, &events);
	g_autofree char *server = g_strdup_printf("198.51.100.20:%u", x->sp);
	assert_bytes_carried(x->pkts, events, "192.0.2.10:49200", server, all_acked);
	return lines;
}

/* What each end did on the wire, by its events' net: for every source
 * endpoint (in order of first appearance) its actions in order, one a
 * line, as "action>dst" with the bytes arrived, and a run of DATA as one
 * "data>dst" with all its bytes.  Text, names and connection ids are left
 * out: a run and a capture of it name and number things differently. */
typedef struct {
	GString *out;
	char     data_dst[MS_ENDPOINT_TEXT_MAX];   /* the last line is a run of data to it; "" if not */
} Source;

static void source_free(gpointer p)
{
	Source *s = p;
	g_string_free(s->out, TRUE);
	g_free(s);
}

static char *wire_by_source(GPtrArray *events)
{
	g_autoptr(GPtrArray) order = g_ptr_array_new();
	g_autoptr(GHashTable) by_src = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, source_free);
	for (guint i = 0; i < events->len; i++) {
		MsEvent *e = g_ptr_array_index(events, i);
		if (e->net.action == MS_NET_NONE)
			continue;
		char src[MS_ENDPOINT_TEXT_MAX], dst[MS_ENDPOINT_TEXT_MAX];
		ms_endpoint_format(&e->net.src, src);
		ms_endpoint_format(&e->net.dst, dst);
		Source *s = g_hash_table_lookup(by_src, src);
		if (!s) {
			s = g_new0(Source, 1);
			s->out = g_string_new(NULL);
			char *key = g_strdup(src);
			g_hash_table_insert(by_src, key, s);
			g_ptr_array_add(order, key);
		}
		if (e->net.action != MS_NET_DATA) {
			g_string_append_printf(s->out, "%s>%s", ms_net_action_to_string(e->net.action), dst);
			if (e->net.bytes)
				g_string_append_printf(s->out, " %" G_GUINT64_FORMAT, e->net.bytes);
			g_string_append_c(s->out, '\n');
			s->data_dst[0] = '\0';
			continue;
		}
		if (strcmp(s->data_dst, dst) == 0)
			g_string_truncate(s->out, s->out->len - 2);   /* the run goes on: reopen its quotes */
		else
			g_string_append_printf(s->out, "data>%s \"", dst);
		g_strlcpy(s->data_dst, dst, sizeof s->data_dst);
		gsize len;
		const char *bytes = g_bytes_get_data(e->payload, &len);
		g_string_append_len(s->out, bytes, (gssize)len);
		g_string_append(s->out, "\"\n");
	}
	GString *all = g_string_new(NULL);
	for (guint i = 0; i < order->len; i++) {
		Source *s = g_hash_table_lookup(by_src, g_ptr_array_index(order, i));
		g_string_append_printf(all, "%s:\n%s", (char *)g_ptr_array_index(order, i), s->out->str);
	}
	return g_string_free(all, FALSE);
}

/* The events about the connection itself (net but DATA and ARRIVED), one a
 * line: "action src>dst conn". */
static char *net_lines(GPtrArray *events)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < events->len; i++) {
		MsEvent *e = g_ptr_array_index(events, i);
		if (e->net.action == MS_NET_NONE || e->net.action == MS_NET_DATA || e->net.action == MS_NET_ARRIVED)
			continue;
		char src[MS_ENDPOINT_TEXT_MAX], dst[MS_ENDPOINT_TEXT_MAX];
		g_string_append_printf(s, "%s %s>%s %" G_GUINT64_FORMAT "\n", ms_net_action_to_string(e->net.action),
		                       ms_endpoint_format(&e->net.src, src), ms_endpoint_format(&e->net.dst, dst), e->conn);
	}
	return g_string_free(s, FALSE);
}

#define C_EP "192.0.2.10:49200"
#define S_EP "198.51.100.20:25"

static void assert_has(const char *lines, const char *needle)
{
	ck_assert_msg(strstr(lines, needle) != NULL, "no \"%s\" in:\n%s", needle, lines);
}

static void assert_order(const char *lines, const char *const *needles)
{
	const char *p = lines;
	for (guint i = 0; needles[i]; i++) {
		const char *at = strstr(p, needles[i]);
		ck_assert_msg(at != NULL, "\"%s\" missing or out of order in:\n%s", needles[i], lines);
		p = at + strlen(needles[i]);
	}
}

/* ---- SMTP ------------------------------------------------------------------- */

static const char *const smtp_client_lines[] = {
	"EHLO mail.example.com\r\n",
	"MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
	"Subject: hi\r\n\r\nline one\r\n..dot-stuffed\r\n.\r\n",
	"QUIT\r\n",
};

static void smtp_session(Sess *x, gsize piece)
{
	sess_init(x, 25);
	handshake(x);
	say_in(x, FALSE, "220 mx.example.org ESMTP\r\n", piece);
	say_in(x, TRUE, smtp_client_lines[0], piece);
	say_in(x, FALSE, "250-mx.example.org\r\n250 PIPELINING\r\n", piece);
	say_in(x, TRUE, smtp_client_lines[1], piece);
	say_in(x, FALSE, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n", piece);
	say_in(x, TRUE, smtp_client_lines[2], piece);
	say_in(x, FALSE, "250 2.0.0 queued\r\n", piece);
	say_in(x, TRUE, smtp_client_lines[3], piece);
	say_in(x, FALSE, "221 bye\r\n", piece);
	close_both(x);
}

static const char *const smtp_expected[] = {
	"CONNECT in.1 SYN 192.0.2.10:49200 -> 198.51.100.20:25\n",
	"ACCEPT in.1 accepted 192.0.2.10:49200 on port 25\n",
	"SEND in.1 S: 220 mx.example.org ESMTP\n",
	"SEND in.2 C: EHLO mail.example.com\n",
	"SEND in.2 S: 250-mx.example.org\n",
	"SEND in.2 S: 250 PIPELINING\n",
	"SEND in.2 C: MAIL FROM:<alice@example.com>\n",
	"SEND in.2 C: RCPT TO:<bob@example.org>\n",
	"SEND in.2 C: DATA\n",
	"SEND in.2 S: 354 go ahead\n",
	"SEND in.2 C: (message: 40 bytes, 4 lines)\n",
	"SEND in.2 S: 250 2.0.0 queued\n",
	"SEND in.2 C: QUIT\n",
	"SEND in.2 S: 221 bye\n",
	"CLOSE in.2 close\n",
	"CLOSE in.2 close\n",
	NULL,
};

START_TEST(test_smtp_session)
{
	Sess x;
	smtp_session(&x, 0);
	g_autofree char *lines = decode_sess(&x, FALSE);
	assert_order(lines, smtp_expected);
	g_ptr_array_unref(x.pkts);
}
END_TEST

/* A whole session, as net/conn.c would tell it: the handshake, each side's
 * bytes in its DATA events and in the other's acknowledgments (ARRIVED),
 * the FINs.  The same with every segment a byte long, or out of order. */
START_TEST(test_smtp_session_net)
{
	Sess x, bytes;
	smtp_session(&x, 0);
	g_autoptr(GPtrArray) events = NULL;
	g_autofree char *lines = decode_pkts(x.pkts, NULL, &events);
	g_autofree char *conn = net_lines(events);
	ck_assert_str_eq(conn, "syn " C_EP ">" S_EP " 0\n"
	                       "accept " S_EP ">" C_EP " 1\n"
	                       "established " C_EP ">" S_EP " 1\n"
	                       "fin " C_EP ">" S_EP " 1\n"
	                       "fin " S_EP ">" C_EP " 1\n");
	assert_bytes_carried(x.pkts, events, C_EP, S_EP, TRUE);
	/* the handshake's events come in its order, before the greeting */
	static const char *const want[] = { "CONNECT in.1 SYN", "ACCEPT in.1 accepted", "CONNECT in.1 connected " C_EP " -> " S_EP "\n",
	                                    "RECV - 26 bytes arrived\n", NULL };
	assert_order(lines, want);
	g_autofree char *wire = wire_by_source(events);

	smtp_session(&bytes, 1);
	g_autoptr(GPtrArray) bevents = NULL;
	g_autofree char *blines = decode_pkts(bytes.pkts, NULL, &bevents);
	g_autofree char *bwire = wire_by_source(bevents);
	ck_assert_str_eq(bwire, wire);

	g_autoptr(GPtrArray) mixed = scramble(bytes.pkts);
	g_autoptr(GPtrArray) mevents = NULL;
	g_autofree char *mlines = decode_pkts(mixed, NULL, &mevents);
	g_autofree char *mwire = wire_by_source(mevents);
	ck_assert_str_eq(mwire, wire);
	g_ptr_array_unref(x.pkts);
	g_ptr_array_unref(bytes.pkts);
}
END_TEST

START_TEST(test_smtp_byte_by_byte)
{
	Sess whole, bytes;
	smtp_session(&whole, 0);
	smtp_session(&bytes, 1);
	g_autofree char *a = decode_pkts(whole.pkts, NULL, NULL);
	g_autofree char *b = decode_pkts(bytes.pkts, NULL, NULL);
	ck_assert_str_eq(a, b);
	g_ptr_array_unref(whole.pkts);
	g_ptr_array_unref(bytes.pkts);
}
END_TEST

START_TEST(test_smtp_reordered_and_retransmitted)
{
	Sess x;
	smtp_session(&x, 7);   /* bursts of several segments to scramble */
	PcapDecodeStats plain_stats, stats;
	g_autofree char *plain = decode_pkts(x.pkts, &plain_stats, NULL);
	g_autoptr(GPtrArray) mixed = scramble(x.pkts);
	g_autofree char *lines = decode_pkts(mixed, &stats, NULL);
	ck_assert_str_eq(lines, plain);
	ck_assert_uint_eq(plain_stats.out_of_order, 0);
	ck_assert_uint_eq(plain_stats.retransmissions, 0);
	ck_assert_uint_gt(stats.out_of_order, 10);
	ck_assert_uint_gt(stats.retransmissions, 10);
	ck_assert_uint_eq(stats.gaps, 0);
	g_ptr_array_unref(x.pkts);
}
END_TEST

START_TEST(test_smtp_auth_masked)
{
	Sess x;
	sess_init(&x, 587);
	handshake(&x);
	say(&x, FALSE, "220 mail ESMTP\r\n");
	say(&x, TRUE, "EHLO pc\r\n");
	say(&x, FALSE, "250 AUTH PLAIN LOGIN\r\n");
	say(&x, TRUE, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	say(&x, FALSE, "235 ok\r\n");
	say(&x, TRUE, "AUTH LOGIN\r\n");
	say(&x, FALSE, "334 VXNlcm5hbWU6\r\n");
	say(&x, TRUE, "YWxpY2U=\r\n");
	say(&x, FALSE, "334 UGFzc3dvcmQ6\r\n");
	say(&x, TRUE, "c2VjcmV0\r\n");
	say(&x, FALSE, "235 ok\r\n");
	say(&x, TRUE, "MAIL FROM:<a@b>\r\n");
	g_autoptr(GPtrArray) events = NULL;
	g_autofree char *lines = decode_pkts(x.pkts, NULL, &events);
	static const char *const want[] = {
		"CONNECT out.1 SYN", "SEND out.1 S: 220 mail ESMTP", "SEND out.1 C: AUTH PLAIN ••••••\n",
		"SEND out.1 C: AUTH LOGIN\n", "SEND out.1 C: ••••••\n", "SEND out.1 C: ••••••\n",
		"SEND out.1 C: MAIL FROM:<a@b>\n", NULL,
	};
	assert_order(lines, want);
	ck_assert_ptr_null(strstr(lines, "c2VjcmV0"));
	ck_assert_ptr_null(strstr(lines, "AGFsaWNl"));
	/* the payload keeps the real bytes, as a capture would */
	gboolean found = FALSE;
	for (guint i = 0; i < events->len; i++) {
		MsEvent *e = g_ptr_array_index(events, i);
		if (e->payload && g_bytes_get_size(e->payload) == 10 &&
		    !memcmp(g_bytes_get_data(e->payload, NULL), "c2VjcmV0\r\n", 10))
			found = TRUE;
	}
	ck_assert(found);
	g_ptr_array_unref(x.pkts);
}
END_TEST

START_TEST(test_starttls_encrypted)
{
	Sess x;
	sess_init(&x, 25);
	handshake(&x);
	say(&x, FALSE, "220 mx ESMTP\r\n");
	say(&x, TRUE, "EHLO pc\r\nSTARTTLS\r\n");
	say(&x, FALSE, "250 STARTTLS\r\n220 ready\r\n");
	seg(&x, TRUE, PCAP_TCP_ACK, "\x16\x03\x01\x00\x05hello", 10);
	seg(&x, FALSE, PCAP_TCP_ACK, "\x16\x03\x03\x00\x02hi\x14\x03\x03", 10);
	seg(&x, TRUE, PCAP_TCP_ACK, "\x17\x03\x03secret MAIL FROM\r\n", 21);
	g_autofree char *lines = decode_sess(&x, FALSE);
	static const char *const want[] = {
		"C: STARTTLS\n", "S: 220 ready\n", "NOTE in.2 TLS begins", "C: (encrypted, 10 bytes)\n",
		"S: (encrypted, 10 bytes)\n", "C: (encrypted, 21 bytes)\n", NULL,
	};
	assert_order(lines, want);
	ck_assert_ptr_null(strstr(lines, "secret"));
	g_ptr_array_unref(x.pkts);
}
END_TEST

/* ---- IMAP, POP3, HTTP, LMTP, the account service ----------------------------- */

START_TEST(test_imap_literal)
{
	Sess x;
	sess_init(&x, 143);
	handshake(&x);
	say(&x, FALSE, "* OK IMAP ready\r\n");
	say(&x, TRUE, "a1 LOGIN bob@example.org secret\r\n");
	say(&x, FALSE, "a1 OK logged in\r\n");
	say(&x, TRUE, "a2 FETCH 1 (BODY[])\r\n");
	/* the literal holds lines that must not show as IMAP lines */
	say(&x, FALSE, "* 1 FETCH (BODY[] {21}\r\nSubject: x\r\n\r\na2 OK\r\n)\r\na2 OK FETCH done\r\n");
	/* a literal that ends its command: the line ending goes with it */
	say(&x, TRUE, "a3 APPEND INBOX {12}\r\n");
	say(&x, FALSE, "+ go ahead\r\n");
	say(&x, TRUE, "Subject: y\r\n\r\n");
	say(&x, FALSE, "a3 OK APPEND done\r\n");
	say(&x, TRUE, "a4 LOGOUT\r\n");
	g_autofree char *lines = decode_sess(&x, FALSE);
	static const char *const want[] = {
		"CONNECT in.8 SYN", "SEND in.8 S: * OK IMAP ready\n", "SEND in.8 C: a1 LOGIN bob@example.org ••••••\n",
		"SEND in.8 C: a2 FETCH 1 (BODY[])\n", "SEND in.8 S: * 1 FETCH (BODY[] {21}\n",
		"SEND in.8 S: (literal: 21 bytes)\n", "SEND in.8 S: )\n", "SEND in.8 S: a2 OK FETCH done\n",
		"SEND in.8 C: a3 APPEND INBOX {12}\n", "SEND in.8 S: + go ahead\n", "SEND in.8 C: (literal: 12 bytes)\n",
		"SEND in.8 S: a3 OK APPEND done\n", "SEND in.8 C: a4 LOGOUT\n", NULL,
	};
	assert_order(lines, want);
	ck_assert_ptr_null(strstr(lines, "C: \n"));
	ck_assert_ptr_null(strstr(lines, "secret"));
	ck_assert_ptr_null(strstr(lines, "Subject"));
	g_ptr_array_unref(x.pkts);
}
END_TEST

START_TEST(test_pop3_retr)
{
	Sess x;
	sess_init(&x, 110);
	handshake(&x);
	say(&x, FALSE, "+OK POP3 ready\r\n");
	say(&x, TRUE, "USER bob\r\nPASS secret\r\n");
	say(&x, FALSE, "+OK\r\n+OK logged in\r\n");
	say(&x, TRUE, "LIST\r\nRETR 1\r\n");
	say(&x, FALSE, "+OK 1 messages\r\n1 120\r\n.\r\n+OK 120 octets\r\nSubject: x\r\n\r\n..body\r\n.\r\n");
	say(&x, TRUE, "QUIT\r\n");
	say(&x, FALSE, "+OK bye\r\n");
	g_autofree char *lines = decode_sess(&x, FALSE);
	static const char *const want[] = {
		"C: USER bob\n", "C: PASS ••••••\n", "C: LIST\n", "C: RETR 1\n", "S: +OK 1 messages\n", "S: 1 120\n",
		"S: .\n", "S: +OK 120 octets\n", "SEND in.8 S: (message: 22 bytes, 3 lines)\n", "C: QUIT\n",
		"S: +OK bye\n", NULL,
	};
	assert_order(lines, want);
	ck_assert_ptr_null(strstr(lines, "secret"));
	ck_assert_ptr_null(strstr(lines, "Subject"));
	g_ptr_array_unref(x.pkts);
}
END_TEST

START_TEST(test_http_bodies)
{
	Sess x;
	sess_init(&x, 80);
	handshake(&x);
	say(&x, TRUE, "GET /mail/config-v1.1.xml?emailaddress=a%40b HTTP/1.1\r\nHost: autoconfig.b\r\n\r\n");
	say(&x, FALSE, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n<xml>\r\n</x>");
	say(&x, TRUE, "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
	say(&x, FALSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n");
	say(&x, TRUE, "HEAD / HTTP/1.1\r\n\r\n");
	say(&x, FALSE, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
	say(&x, TRUE, "GET /x HTTP/1.1\r\n\r\n");
	say(&x, FALSE, "HTTP/1.1 200 OK\r\n\r\nuntil the end");   /* RFC 9112 6.3: the body ends at close */
	close_both(&x);
	g_autofree char *lines = decode_sess(&x, FALSE);
	static const char *const want[] = {
		"SEND setup.4 C: GET /mail/config-v1.1.xml?emailaddress=a%40b HTTP/1.1\n",
		"SEND setup.4 C: Host: autoconfig.b\n", "SEND setup.4 S: HTTP/1.1 200 OK\n",
		"SEND setup.4 S: (body: 11 bytes)\n", "SEND setup.3 C: POST /autodiscover/autodiscover.xml HTTP/1.1\n",
		"SEND setup.3 C: (body: 4 bytes)\n", "SEND setup.3 S: Transfer-Encoding: chunked\n",
		"SEND setup.3 S: (body, chunked: 12 bytes)\n", "C: HEAD / HTTP/1.1\n", "S: Content-Length: 99\n",
		"C: GET /x HTTP/1.1\n", "S: HTTP/1.1 200 OK\n", "S: (body: 13 bytes)\n", NULL,
	};
	assert_order(lines, want);
	g_ptr_array_unref(x.pkts);

	/* a body ended by the close before any byte: said, but no data to carry */
	sess_init(&x, 80);
	handshake(&x);
	say(&x, TRUE, "GET /y HTTP/1.1\r\n\r\n");
	say(&x, FALSE, "HTTP/1.1 200 OK\r\n\r\n");
	close_both(&x);
	g_autoptr(GPtrArray) events = NULL;
	g_autofree char *empty = decode_pkts(x.pkts, NULL, &events);
	assert_has(empty, "SEND - S: (body: 0 bytes)\n");
	for (guint i = 0; i < events->len; i++) {
		MsEvent *e = g_ptr_array_index(events, i);
		if (strstr(e->text, "(body"))
			ck_assert_int_eq(e->net.action, MS_NET_NONE);
	}
	g_ptr_array_unref(x.pkts);
}
END_TEST

START_TEST(test_lmtp_and_auth_service)
{
	Sess x;
	sess_init(&x, 24);
	handshake(&x);
	say(&x, FALSE, "220 mx LMTP\r\n");
	say(&x, TRUE, "LHLO mx\r\n");
	g_autofree char *lmtp = decode_sess(&x, FALSE);
	assert_has(lmtp, "SEND in.6 C: LHLO mx\n");
	assert_has(lmtp, "SEND in.6 S: 220 mx LMTP\n");
	g_ptr_array_unref(x.pkts);

	sess_init(&x, 12345);
	handshake(&x);
	say(&x, FALSE, "+OK mailsim account service\r\n");
	say(&x, TRUE, "AUTH alice@example.com wonderland\r\n");
	say(&x, FALSE, "+OK\r\n");
	say(&x, TRUE, "RCPT bob@example.org\r\n");
	say(&x, FALSE, "+OK bob@example.org\r\n");
	g_autofree char *auth = decode_sess(&x, FALSE);
	static const char *const want[] = {
		"SEND - S: +OK mailsim account service\n", "SEND out.2 C: AUTH alice@example.com ••••••\n",
		"SEND out.3 S: +OK\n", "SEND in.4 C: RCPT bob@example.org\n", "SEND in.5 S: +OK bob@example.org\n", NULL,
	};
	assert_order(auth, want);
	ck_assert_ptr_null(strstr(auth, "wonderland"));
	g_ptr_array_unref(x.pkts);
}
END_TEST

/* ---- connections that end badly, or that we join late ------------------------- */

START_TEST(test_refused_and_reset)
{
	Sess x;
	sess_init(&x, 25);
	seg(&x, TRUE, PCAP_TCP_SYN, NULL, 0);
	seg(&x, FALSE, PCAP_TCP_RST | PCAP_TCP_ACK, NULL, 0);
	g_autoptr(GPtrArray) events = NULL;
	g_autofree char *refused = decode_pkts(x.pkts, NULL, &events);
	assert_has(refused, "ERROR in.1 198.51.100.20:25 refused the connection (RST)\n");
	/* as net/simnet.c: the client's connect failed, before any connection */
	g_autofree char *conn = net_lines(events);
	ck_assert_str_eq(conn, "syn " C_EP ">" S_EP " 0\nrefused " C_EP ">" S_EP " 0\n");
	g_ptr_array_unref(x.pkts);

	sess_init(&x, 25);
	handshake(&x);
	say(&x, FALSE, "220 mx\r\n");
	say(&x, TRUE, "EHLO partial-li");   /* no line ending yet */
	seg(&x, FALSE, PCAP_TCP_RST, NULL, 0);
	g_autoptr(GPtrArray) revents = NULL;
	g_autofree char *reset = decode_pkts(x.pkts, NULL, &revents);
	static const char *const want[] = { "S: 220 mx\n", "C: EHLO partial-li\n",
	                                    "ERROR in.2 connection reset by 198.51.100.20:25\n", NULL };
	assert_order(reset, want);
	g_autofree char *rconn = net_lines(revents);
	ck_assert_str_eq(rconn, "syn " C_EP ">" S_EP " 0\naccept " S_EP ">" C_EP " 1\n"
	                        "established " C_EP ">" S_EP " 1\nreset " S_EP ">" C_EP " 1\n");
	/* the partial line was sent too; the server's 220 arrived */
	assert_bytes_carried(x.pkts, revents, C_EP, S_EP, FALSE);
	g_ptr_array_unref(x.pkts);
}
END_TEST

START_TEST(test_joined_midstream)
{
	Sess x;
	sess_init(&x, 25);
	/* no handshake: the capture started later */
	say(&x, TRUE, "RCPT TO:<bob@example.org>\r\n");
	say(&x, FALSE, "250 2.1.5 Ok\r\n");
	g_autoptr(GPtrArray) events = NULL;
	g_autofree char *lines = decode_pkts(x.pkts, NULL, &events);
	/* no handshake to show: the data, and the server's answer that it arrived */
	g_autofree char *conn = net_lines(events);
	ck_assert_str_eq(conn, "");
	assert_has(lines, "RECV - 27 bytes arrived\n");
	assert_bytes_carried(x.pkts, events, C_EP, S_EP, FALSE);
	static const char *const want[] = { "NOTE - the capture joins this connection in the middle\n",
	                                    "SEND in.2 C: RCPT TO:<bob@example.org>\n", "SEND in.2 S: 250 2.1.5 Ok\n", NULL };
	assert_order(lines, want);
	g_ptr_array_unref(x.pkts);
}
END_TEST

START_TEST(test_gap_resyncs)
{
	Sess x;
	sess_init(&x, 25);
	handshake(&x);
	say(&x, TRUE, "EHLO a\r\n");
	guint lost = x.pkts->len;
	say(&x, TRUE, "MAIL FROM:<lost@x>\r\nRCPT TO:<half");
	say(&x, TRUE, "way@x>\r\nDATA\r\n");
	g_ptr_array_remove_index(x.pkts, lost);   /* the capture missed it */
	PcapDecodeStats st;
	g_autofree char *lines = decode_pkts(x.pkts, &st, NULL);
	static const char *const want[] = { "C: EHLO a\n", "NOTE in.2 33 bytes were not captured\n", "C: DATA\n", NULL };
	assert_order(lines, want);
	ck_assert_ptr_null(strstr(lines, "way@x"));   /* the rest of a broken line is skipped */
	ck_assert_uint_eq(st.gaps, 1);
	g_ptr_array_unref(x.pkts);
}
END_TEST

START_TEST(test_long_line_cut)
{
	Sess x;
	sess_init(&x, 25);
	handshake(&x);
	GString *line = g_string_new("EHLO ");
	while (line->len < PCAP_DECODE_MAX_LINE * 2)
		g_string_append_c(line, 'x');
	g_string_append(line, "\r\nQUIT\r\n");
	say(&x, TRUE, line->str);
	g_autoptr(GPtrArray) events = NULL;
	g_autofree char *lines = decode_pkts(x.pkts, NULL, &events);
	assert_has(lines, "xxx…\n");
	assert_has(lines, "C: QUIT\n");
	for (guint i = 0; i < events->len; i++) {
		MsEvent *e = g_ptr_array_index(events, i);
		ck_assert_uint_le(strlen(e->text), PCAP_DECODE_MAX_LINE + 16);
	}
	g_string_free(line, TRUE);
	g_ptr_array_unref(x.pkts);
}
END_TEST

START_TEST(test_ports)
{
	Sess x;
	sess_init(&x, 2600);
	handshake(&x);
	say(&x, TRUE, "EHLO a\r\n");
	PcapDecodeStats st;
	g_autofree char *none = decode_pkts(x.pkts, &st, NULL);
	ck_assert_str_eq(none, "");   /* a port nobody named is not decoded */
	ck_assert_uint_gt(st.ignored, 0);

	GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	PcapDecoder *d = pcap_decode_new(record, events);
	ck_assert(pcap_decode_set_port(d, 2600, "submission"));
	ck_assert(!pcap_decode_set_port(d, 2601, "gopher"));
	ck_assert_str_eq(pcap_decode_port_proto(d, 2600), "submission");
	ck_assert_str_eq(pcap_decode_port_proto(d, 25), "smtp");
	ck_assert_ptr_null(pcap_decode_port_proto(d, 2601));
	for (guint i = 0; i < x.pkts->len; i++) {
		Pkt *k = g_ptr_array_index(x.pkts, i);
		pcap_decode_frame(d, PCAP_DECODE_LINK_RAW, i, k->bytes->data, k->bytes->len);
	}
	pcap_decode_finish(d);
	g_autofree char *lines = lines_of(events);
	assert_has(lines, "SEND out.1 C: EHLO a\n");
	ck_assert(pcap_decode_set_port(d, 25, "none"));
	ck_assert_ptr_null(pcap_decode_port_proto(d, 25));
	pcap_decode_free(d);
	g_ptr_array_unref(events);
	g_ptr_array_unref(x.pkts);
}
END_TEST

START_TEST(test_many_connections_bounded)
{
	GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	PcapDecoder *d = pcap_decode_new(record, events);
	for (guint i = 0; i < PCAP_DECODE_MAX_FLOWS + 10; i++) {
		PcapTcpHeader h = { .src = { 10, 0, (guint8)(i >> 8), (guint8)i }, .dst = { 10, 1, 0, 1 },
		                    .sport = 40000, .dport = 25, .seq = i, .flags = PCAP_TCP_SYN };
		g_autoptr(GByteArray) f = pcap_frame_tcp(&h, NULL, 0, PCAP_FRAME_LINK_ETHERNET);
		pcap_decode_frame(d, PCAP_DECODE_LINK_ETHERNET, i, f->data, f->len);
	}
	ck_assert_uint_eq(pcap_decode_stats(d)->evicted, 10);
	ck_assert_uint_eq(pcap_decode_stats(d)->connections, PCAP_DECODE_MAX_FLOWS + 10);
	pcap_decode_finish(d);
	pcap_decode_free(d);
	g_ptr_array_unref(events);
}
END_TEST

/* ---- link types ------------------------------------------------------------------- */

START_TEST(test_link_types)
{
	PcapTcpHeader h = { .src = { 127, 0, 0, 1 }, .dst = { 127, 0, 0, 1 }, .sport = 40000, .dport = 2525,
	                    .seq = 1, .flags = PCAP_TCP_SYN };
	g_autoptr(GByteArray) ip = pcap_frame_tcp(&h, NULL, 0, PCAP_FRAME_LINK_RAW);
	static const struct {
		PcapDecodeLink link;
		guint8         head[24];
		gsize          head_len;
	} cases[] = {
		{ PCAP_DECODE_LINK_RAW, { 0 }, 0 },
		{ PCAP_DECODE_LINK_NULL, { 2, 0, 0, 0 }, 4 },          /* AF_INET, little-endian */
		{ PCAP_DECODE_LINK_NULL, { 0, 0, 0, 2 }, 4 },          /* ... or big-endian */
		{ PCAP_DECODE_LINK_LOOP, { 0, 0, 0, 2 }, 4 },
		{ PCAP_DECODE_LINK_LINUX_SLL, { 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00 }, 16 },
		{ PCAP_DECODE_LINK_LINUX_SLL2, { 0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6 }, 20 },
		{ PCAP_DECODE_LINK_ETHERNET, { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00 }, 14 },
		{ PCAP_DECODE_LINK_ETHERNET, { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00 }, 18 },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
		PcapDecoder *d = pcap_decode_new(record, events);
		GByteArray *f = g_byte_array_new();
		g_byte_array_append(f, cases[i].head, (guint)cases[i].head_len);
		g_byte_array_append(f, ip->data, ip->len);
		pcap_decode_frame(d, cases[i].link, 0, f->data, f->len);
		ck_assert_msg(events->len == 1, "%s (case %u): %u events", pcap_decode_link_to_string(cases[i].link), i,
		              events->len);
		MsEvent *e = g_ptr_array_index(events, 0);
		ck_assert_str_eq(e->text, "SYN 127.0.0.1:40000 -> 127.0.0.1:2525");
		ck_assert_str_eq(e->proto, "smtp");
		/* cut short, the same frame is only counted */
		pcap_decode_frame(d, cases[i].link, 0, f->data, cases[i].head_len + 10);
		ck_assert_uint_eq(events->len, 1);
		g_byte_array_unref(f);
		pcap_decode_free(d);
		g_ptr_array_unref(events);
	}
}
END_TEST

START_TEST(test_ipv6)
{
	/* ::1 port 40000 -> ::1 port 25, a SYN, by hand (RFC 8200 3) */
	guint8 p[60] = { 0x60, 0, 0, 0, 0, 20, 6, 64 };
	p[23] = 1;
	p[39] = 1;
	guint8 *t = p + 40;
	t[0] = 40000 >> 8;
	t[1] = 40000 & 0xff;
	t[3] = 25;
	t[12] = 5 << 4;
	t[13] = PCAP_TCP_SYN;
	GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	PcapDecoder *d = pcap_decode_new(record, events);
	pcap_decode_frame(d, PCAP_DECODE_LINK_RAW, 0, p, sizeof p);
	ck_assert_uint_eq(events->len, 1);
	MsEvent *syn = g_ptr_array_index(events, 0);
	ck_assert_str_eq(syn->text, "SYN [::1]:40000 -> [::1]:25");
	ck_assert_int_eq(syn->net.action, MS_NET_SYN);
	ck_assert_int_eq(syn->net.src.family, MS_ADDR_IPV6);
	ck_assert_uint_eq(syn->net.src.port, 40000);
	ck_assert_uint_eq(syn->net.dst.addr[15], 1);
	pcap_decode_free(d);
	g_ptr_array_unref(events);
}
END_TEST

/* ---- DNS ---------------------------------------------------------------------------- */

static void dns_frame(PcapDecoder *d, gboolean to_server, DnsMessage *msg)
{
	g_autoptr(GBytes) wire = dns_wire_encode(msg, 0, NULL);
	ck_assert_ptr_nonnull(wire);
	PcapUdpHeader h = { .src = { 192, 0, 2, 10 }, .dst = { 203, 0, 113, 53 }, .sport = 40000, .dport = 53 };
	if (!to_server) {
		memcpy(h.src, (guint8[]){ 203, 0, 113, 53 }, 4);
		memcpy(h.dst, (guint8[]){ 192, 0, 2, 10 }, 4);
		h.sport = 53;
		h.dport = 40000;
	}
	gsize len;
	const guint8 *data = g_bytes_get_data(wire, &len);
	g_autoptr(GPtrArray) frames = pcap_frame_udp(&h, data, len, PCAP_FRAME_LINK_ETHERNET);
	for (guint i = 0; i < frames->len; i++) {
		GByteArray *f = g_ptr_array_index(frames, i);
		pcap_decode_frame(d, PCAP_DECODE_LINK_ETHERNET, 0, f->data, f->len);
	}
}

START_TEST(test_dns_steps)
{
	GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	PcapDecoder *d = pcap_decode_new(record, events);
	g_autoptr(DnsMessage) mxq = dns_message_new_query(1, "example.org", DNS_TYPE_MX, NULL);
	dns_frame(d, TRUE, mxq);
	g_autoptr(DnsMessage) mxa = dns_message_new_response(mxq, DNS_RCODE_NOERROR);
	dns_message_add(mxa, DNS_SECTION_ANSWER, dns_record_new_mx("example.org.", 3600, 10, "mx.example.org."));
	dns_frame(d, FALSE, mxa);
	g_autoptr(DnsMessage) aq = dns_message_new_query(2, "MX.example.org", DNS_TYPE_A, NULL);
	dns_frame(d, TRUE, aq);
	g_autoptr(DnsMessage) rbl = dns_message_new_query(3, "10.2.0.192.rbl.example.net", DNS_TYPE_A, NULL);
	dns_frame(d, TRUE, rbl);
	g_autoptr(DnsMessage) ptr = dns_message_new_query(4, "10.2.0.192.in-addr.arpa", DNS_TYPE_PTR, NULL);
	dns_frame(d, TRUE, ptr);
	g_autoptr(DnsMessage) other = dns_message_new_query(5, "www.example.org", DNS_TYPE_A, NULL);
	dns_frame(d, TRUE, other);
	g_autoptr(DnsMessage) srv = dns_message_new_query(6, "_autodiscover._tcp.example.org", DNS_TYPE_SRV, NULL);
	dns_frame(d, TRUE, srv);
	/* a port-53 datagram that is not DNS */
	PcapUdpHeader h = { .src = { 1, 2, 3, 4 }, .dst = { 5, 6, 7, 8 }, .sport = 1111, .dport = 53 };
	g_autoptr(GPtrArray) junk = pcap_frame_udp(&h, (const guint8 *)"junk", 4, PCAP_FRAME_LINK_ETHERNET);
	GByteArray *jf = g_ptr_array_index(junk, 0);
	pcap_decode_frame(d, PCAP_DECODE_LINK_ETHERNET, 0, jf->data, jf->len);

	g_autofree char *lines = lines_of(events);
	static const char *const want[] = {
		"DNS_QUERY out.4 example.org. MX ?\n",
		"DNS_ANSWER out.4 example.org. MX → 10 mx.example.org.\n",
		"DNS_QUERY out.4 MX.example.org. A ?\n",   /* the exchange's address */
		"DNS_QUERY in.3 10.2.0.192.rbl.example.net. A ?\n",
		"DNS_QUERY in.3 10.2.0.192.in-addr.arpa. PTR ?\n",
		"DNS_QUERY - www.example.org. A ?\n",
		"DNS_QUERY setup.2 _autodiscover._tcp.example.org. SRV ?\n",
		"ERROR - not a DNS message",
		NULL,
	};
	assert_order(lines, want);
	MsEvent *first = g_ptr_array_index(events, 0);
	ck_assert_str_eq(first->from, "192.0.2.10:40000");
	ck_assert_str_eq(first->to, "203.0.113.53:53");
	ck_assert_str_eq(first->proto, "dns");
	ck_assert_ptr_nonnull(first->payload);
	ck_assert_uint_eq(pcap_decode_stats(d)->datagrams, 8);
	/* each datagram, DNS or not, is one as net/conn.c shows it, with its
	 * bytes; the DNS lines say what they mean and carry no net */
	g_autoptr(GBytes) mxq_wire = dns_wire_encode(mxq, 0, NULL);
	guint datagrams = 0;
	for (guint i = 0; i < events->len; i++) {
		MsEvent *e = g_ptr_array_index(events, i);
		if (e->kind == MS_EV_DNS_QUERY || e->kind == MS_EV_DNS_ANSWER)
			ck_assert_int_eq(e->net.action, MS_NET_NONE);
		if (e->net.action != MS_NET_DATAGRAM)
			continue;
		datagrams++;
		ck_assert_int_eq(e->net.transport, MS_TRANSPORT_UDP);
		ck_assert_uint_eq(e->net.dst.port, e->net.src.port == 53 ? 40000 : 53);
	}
	ck_assert_uint_eq(datagrams, 8);
	ck_assert_int_eq(first->kind, MS_EV_SEND);
	ck_assert_int_eq(first->net.action, MS_NET_DATAGRAM);
	ck_assert_str_eq(first->text, "datagram 192.0.2.10:40000 -> 203.0.113.53:53, 29 bytes");
	ck_assert(g_bytes_equal(first->payload, mxq_wire));
	pcap_decode_free(d);
	g_ptr_array_unref(events);
}
END_TEST

static const struct {
	const char *name;
	guint16     type;
	gboolean    mx_host;
	const char *step;
} dns_step_cases[] = {
	{ "example.org.", DNS_TYPE_MX, FALSE, "out.4" },
	{ "mx.example.org.", DNS_TYPE_A, TRUE, "out.4" },
	{ "mx.example.org.", DNS_TYPE_A, FALSE, NULL },
	{ "66.113.0.203.rbl.example.net.", DNS_TYPE_A, FALSE, "in.3" },
	{ "66.113.0.203.rbl.example.net.", DNS_TYPE_TXT, FALSE, "in.3" },
	{ "66.113.0.203.in-addr.arpa.", DNS_TYPE_A, FALSE, NULL },
	{ "666.113.0.203.rbl.example.net.", DNS_TYPE_A, FALSE, NULL },   /* not an address */
	{ "113.0.203.rbl.example.net.", DNS_TYPE_A, FALSE, NULL },
	{ "66.113.0.203.in-addr.arpa.", DNS_TYPE_PTR, FALSE, "in.3" },
	{ "autodiscover.example.org.", DNS_TYPE_A, FALSE, "setup.2" },
};

START_TEST(test_dns_step_table)
{
	for (guint i = 0; i < G_N_ELEMENTS(dns_step_cases); i++) {
		const char *got = pcap_decode_dns_step(dns_step_cases[i].name, dns_step_cases[i].type,
		                                       dns_step_cases[i].mx_host);
		ck_assert_msg(!g_strcmp0(got, dns_step_cases[i].step), "%s: got %s", dns_step_cases[i].name,
		              got ? got : "NULL");
	}
}
END_TEST

START_TEST(test_dns_over_tcp)
{
	Sess x;
	sess_init(&x, 53);
	handshake(&x);
	g_autoptr(DnsMessage) q = dns_message_new_query(9, "example.org", DNS_TYPE_MX, NULL);
	g_autoptr(GBytes) wire = dns_wire_encode(q, 0, NULL);
	gsize len;
	const guint8 *data = g_bytes_get_data(wire, &len);
	GByteArray *framed = g_byte_array_new();
	guint8 prefix[2] = { (guint8)(len >> 8), (guint8)len };
	for (int i = 0; i < 2; i++) {   /* two messages, split awkwardly */
		g_byte_array_append(framed, prefix, 2);
		g_byte_array_append(framed, data, (guint)len);
	}
	seg(&x, TRUE, PCAP_TCP_ACK, (const char *)framed->data, 1);
	seg(&x, TRUE, PCAP_TCP_ACK, (const char *)framed->data + 1, framed->len - 1);
	g_byte_array_unref(framed);
	/* a message cut short by the end of the capture is still bytes sent */
	seg(&x, TRUE, PCAP_TCP_ACK, (const char *)prefix, 2);
	g_autoptr(GPtrArray) events = NULL;
	g_autofree char *lines = decode_pkts(x.pkts, NULL, &events);
	static const char *const want[] = { "SEND - C: (DNS over TCP, 29 bytes)\n", "DNS_QUERY out.4 example.org. MX ?\n",
	                                    "SEND - C: (DNS over TCP, 29 bytes)\n", "DNS_QUERY out.4 example.org. MX ?\n",
	                                    "SEND - C: (DNS over TCP, cut short after 2 bytes)\n", NULL };
	assert_order(lines, want);
	g_autofree char *server = g_strdup_printf("198.51.100.20:%u", x.sp);
	assert_bytes_carried(x.pkts, events, C_EP, server, FALSE);
	g_ptr_array_unref(x.pkts);
}
END_TEST

/* ---- the reader: a file the writer made ---------------------------------------------- */

#define MTA "192.0.2.10:49155"
#define MX "198.51.100.20:25"

/* Events as net/conn.c and net/simnet.c make them, for the writer: it
 * reads their net (action, from end src to end dst, bytes arrived), not
 * their text. */
static const struct {
	gint64      t;
	MsEventKind kind;
	guint64     conn;
	MsNetAction action;
	const char *src, *dst;
	guint64     bytes;
	const char *payload;
} fixture[] = {
	{ 1000000, MS_EV_CONNECT, 0, MS_NET_SYN, MTA, MX, 0, NULL },
	{ 1020000, MS_EV_ACCEPT, 3, MS_NET_ACCEPT, MX, MTA, 0, NULL },
	{ 1020000, MS_EV_SEND, 3, MS_NET_DATA, MX, MTA, 0, "220 mx ESMTP\r\n" },
	{ 1040000, MS_EV_CONNECT, 3, MS_NET_ESTABLISHED, MTA, MX, 0, NULL },
	{ 1040000, MS_EV_RECV, 3, MS_NET_ARRIVED, MX, MTA, 14, NULL },
	{ 1040000, MS_EV_SEND, 3, MS_NET_DATA, MTA, MX, 0, "RCPT TO:<bob@example.org>\r\n" },
	{ 1060000, MS_EV_RECV, 3, MS_NET_ARRIVED, MTA, MX, 27, NULL },
	{ 1060000, MS_EV_SEND, 3, MS_NET_DATA, MX, MTA, 0, "250 2.1.5 Ok\r\n" },
	{ 1060000, MS_EV_CLOSE, 3, MS_NET_FIN, MX, MTA, 0, NULL },
	{ 1080000, MS_EV_RECV, 3, MS_NET_ARRIVED, MX, MTA, 14, NULL },
	{ 1080000, MS_EV_CLOSE, 3, MS_NET_FIN, MTA, MX, 0, NULL },
};

/* The fixture's events (names for ends, as the simulation has them). */
static GPtrArray *fixture_events(void)
{
	GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	for (guint i = 0; i < G_N_ELEMENTS(fixture); i++) {
		g_autoptr(GBytes) p = fixture[i].payload ? g_bytes_new(fixture[i].payload, strlen(fixture[i].payload)) : NULL;
		gboolean mta = !strcmp(fixture[i].src, MTA);
		MsEvent ev = { .t_us = fixture[i].t, .kind = fixture[i].kind, .from = mta ? "mta" : "mx",
		               .to = mta ? "mx" : "mta", .text = ms_net_action_to_string(fixture[i].action),
		               .conn = fixture[i].conn, .payload = p,
		               .net = { .action = fixture[i].action, .transport = ms_net_action_transport(fixture[i].action),
		                        .bytes = fixture[i].bytes } };
		ck_assert(ms_endpoint_parse(&ev.net.src, fixture[i].src) && ms_endpoint_parse(&ev.net.dst, fixture[i].dst));
		ck_assert(ms_net_info_valid(&ev.net));
		g_ptr_array_add(events, ms_event_copy(&ev));
	}
	return events;
}

static char *write_fixture(const char *dir)
{
	char *path = g_build_filename(dir, "fixture.pcap", NULL);
	MsSink *w = pcap_writer_new(path, NULL, NULL);
	ck_assert_ptr_nonnull(w);
	g_autoptr(GPtrArray) events = fixture_events();
	for (guint i = 0; i < events->len; i++)
		w->write(w, g_ptr_array_index(events, i));
	w->destroy(w);
	return path;
}


START_TEST(test_reader_file)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = write_fixture(dir);
	g_autoptr(GError) err = NULL;
	PcapReader *r = pcap_reader_open_file(path, &err);
	ck_assert_msg(r != NULL, "%s", err ? err->message : "");
	ck_assert(pcap_reader_set_filter(r, "tcp port 25", &err));
	MsSink *rec = ms_sink_recorder_new();
	ms_bus_add_sink(pcap_reader_bus(r), rec);
	ck_assert(pcap_reader_run(r, &err));
	g_autofree char *lines = lines_of(ms_sink_recorder_events(rec));
	static const char *const want[] = {
		"CONNECT in.1 SYN 192.0.2.10:49155 -> 198.51.100.20:25\n", "SEND in.1 S: 220 mx ESMTP\n",
		"SEND in.2 C: RCPT TO:<bob@example.org>\n", "SEND in.2 S: 250 2.1.5 Ok\n", "CLOSE in.2 close\n", NULL,
	};
	assert_order(lines, want);
	/* times come from the capture, counted from its first frame */
	GPtrArray *evs = ms_sink_recorder_events(rec);
	ck_assert_int_eq(((MsEvent *)g_ptr_array_index(evs, 0))->t_us, 0);
	MsEvent *last = g_ptr_array_index(evs, evs->len - 1);
	ck_assert_int_eq(last->t_us, 80000);
	ck_assert_uint_eq(pcap_reader_stats(r)->connections, 1);
	ck_assert_uint_eq(pcap_reader_dropped(r), 0);
	pcap_reader_free(r);

	/* a filter that matches nothing */
	r = pcap_reader_open_file(path, NULL);
	ck_assert(pcap_reader_set_filter(r, "udp", NULL));
	rec = ms_sink_recorder_new();
	ms_bus_add_sink(pcap_reader_bus(r), rec);
	ck_assert(pcap_reader_run(r, NULL));
	ck_assert_uint_eq(ms_sink_recorder_events(rec)->len, 0);
	pcap_reader_free(r);
	ms_test_rmtree(dir);
}
END_TEST

/* The events of a run, written as a capture by the pcap writer and read
 * back: each end did the same on the wire, by the nets alone (the actions
 * in order, the bytes, the arrivals), and every event keeps the contract. */
START_TEST(test_reader_round_trip)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = write_fixture(dir);
	PcapReader *r = pcap_reader_open_file(path, NULL);
	ck_assert_ptr_nonnull(r);
	MsSink *rec = ms_sink_recorder_new();
	ms_bus_add_sink(pcap_reader_bus(r), rec);
	ck_assert(pcap_reader_run(r, NULL));
	GPtrArray *back = ms_sink_recorder_events(rec);
	for (guint i = 0; i < back->len; i++)
		assert_net_contract(g_ptr_array_index(back, i));
	g_autoptr(GPtrArray) sent = fixture_events();
	g_autofree char *want = wire_by_source(sent);
	g_autofree char *got = wire_by_source(back);
	ck_assert_str_eq(got, want);
	/* not an empty comparison: both ends, every kind of action */
	static const char *const acts[] = { MTA ":\nsyn>" MX "\nestablished>" MX "\ndata>" MX " \"RCPT", "arrived>" MX " 27",
	                                    "fin>" MX, MX ":\naccept>" MTA "\ndata>" MTA " \"220 mx", "arrived>" MTA " 14",
	                                    "fin>" MTA, NULL };
	assert_order(got, acts);
	pcap_reader_free(r);
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_reader_errors)
{
	g_autoptr(GError) err = NULL;
	ck_assert_ptr_null(pcap_reader_open_file("/nonexistent.pcap", &err));
	ck_assert(g_error_matches(err, PCAP_READER_ERROR, PCAP_READER_ERROR_OPEN));
	g_clear_error(&err);
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *junk = g_build_filename(dir, "junk.pcap", NULL);
	ck_assert(g_file_set_contents(junk, "this is not a capture file at all", -1, NULL));
	ck_assert_ptr_null(pcap_reader_open_file(junk, &err));
	ck_assert(g_error_matches(err, PCAP_READER_ERROR, PCAP_READER_ERROR_OPEN));
	g_clear_error(&err);
	g_autofree char *path = write_fixture(dir);
	PcapReader *r = pcap_reader_open_file(path, NULL);
	ck_assert(!pcap_reader_set_filter(r, "tcp port", &err));
	ck_assert(g_error_matches(err, PCAP_READER_ERROR, PCAP_READER_ERROR_FILTER));
	ck_assert(pcap_reader_set_port(r, 2600, "imap"));
	ck_assert(!pcap_reader_set_port(r, 2600, "nonsense"));
	pcap_reader_free(r);
	ck_assert_str_eq(pcap_reader_error_to_string(PCAP_READER_ERROR_FILTER), "FILTER");
	ck_assert_str_eq(pcap_decode_link_to_string(PCAP_DECODE_LINK_LINUX_SLL), "linux-sll");
	ms_test_rmtree(dir);
}
END_TEST

/* Bytes that are not frames at all, in every link type: counted, nothing else. */
START_TEST(test_garbage_frames)
{
	GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	PcapDecoder *d = pcap_decode_new(record, events);
	GRand *rand = g_rand_new_with_seed(42);
	guint8 buf[256];
	for (int i = 0; i < 20000; i++) {
		gsize len = (gsize)g_rand_int_range(rand, 0, sizeof buf);
		for (gsize j = 0; j < len; j++)
			buf[j] = (guint8)g_rand_int(rand);
		if (len > 20 && i % 2) {
			buf[0] = 0x45;   /* often an IPv4 header, to reach TCP and UDP */
			buf[9] = i % 4 == 1 ? 6 : 17;
			buf[2] = 0;
			buf[3] = (guint8)len;
			buf[6] = buf[7] = 0;
		}
		pcap_decode_frame(d, (PcapDecodeLink)(i % 6 == 0 ? PCAP_DECODE_LINK_RAW : i % 6), i, buf, len);
	}
	pcap_decode_finish(d);
	ck_assert_uint_eq(pcap_decode_stats(d)->frames, 20000);
	pcap_decode_free(d);
	g_rand_free(rand);
	g_ptr_array_unref(events);
}
END_TEST

static Suite *pcap_reader_suite(void)
{
	Suite *s = suite_create("pcap_reader");
	MS_ADD_TEST(s, test_stream_table, 5);
	MS_ADD_TEST(s, test_stream_results, 5);
	MS_ADD_TEST(s, test_stream_midstream, 5);
	MS_ADD_TEST(s, test_stream_bounded, 10);
	MS_ADD_TEST(s, test_smtp_session, 5);
	MS_ADD_TEST(s, test_smtp_session_net, 10);
	MS_ADD_TEST(s, test_smtp_byte_by_byte, 10);
	MS_ADD_TEST(s, test_smtp_reordered_and_retransmitted, 10);
	MS_ADD_TEST(s, test_smtp_auth_masked, 5);
	MS_ADD_TEST(s, test_starttls_encrypted, 5);
	MS_ADD_TEST(s, test_imap_literal, 5);
	MS_ADD_TEST(s, test_pop3_retr, 5);
	MS_ADD_TEST(s, test_http_bodies, 5);
	MS_ADD_TEST(s, test_lmtp_and_auth_service, 5);
	MS_ADD_TEST(s, test_refused_and_reset, 5);
	MS_ADD_TEST(s, test_joined_midstream, 5);
	MS_ADD_TEST(s, test_gap_resyncs, 5);
	MS_ADD_TEST(s, test_long_line_cut, 5);
	MS_ADD_TEST(s, test_ports, 5);
	MS_ADD_TEST(s, test_many_connections_bounded, 10);
	MS_ADD_TEST(s, test_link_types, 5);
	MS_ADD_TEST(s, test_ipv6, 5);
	MS_ADD_TEST(s, test_dns_steps, 5);
	MS_ADD_TEST(s, test_dns_step_table, 5);
	MS_ADD_TEST(s, test_dns_over_tcp, 5);
	MS_ADD_TEST(s, test_reader_file, 10);
	MS_ADD_TEST(s, test_reader_round_trip, 10);
	MS_ADD_TEST(s, test_reader_errors, 10);
	MS_ADD_TEST(s, test_garbage_frames, 30);
	return s;
}

MS_TEST_MAIN(pcap_reader_suite)
