/* tests/net/test_pcap_writer.c - the pcap writer, read back with libpcap.
 *
 * Every file is checked frame by frame the way Wireshark would complain:
 * IPv4, TCP and UDP checksums, a three-way handshake before data, each
 * segment starting where the previous one ended, no acknowledgment of bytes
 * not yet sent, nothing after a FIN, segments within the MSS.  The events
 * come from a hand-written exchange and from a real run of the simulated
 * network (so a change in the net conn.c and simnet.c give events breaks a
 * test here); the writer reads their net only, so rewording their texts
 * changes no byte of the file, and a run's JSON Lines log read back makes
 * the same file as the run itself.
 */
#include "tests/ms_test_net.h"
#include "net/pcap_writer.h"
#include "net/pcap_frame.h"
#include "net/pcap_checksum.h"
#include "net/simnet.h"

#include <pcap.h>
#include <stdio.h>

/* ---- reading a file back -------------------------------------------------- */

typedef struct {
	gint64   t;
	guint8   src[4], dst[4];
	guint8   proto;
	guint16  frag;        /* flags and offset field */
	guint16  sport, dport;
	guint32  seq, ack;
	guint8   flags;
	GBytes  *payload;     /* TCP/UDP data, or the IP payload of a fragment */
} Frame;

static void frame_free(gpointer data)
{
	Frame *f = data;
	g_bytes_unref(f->payload);
	g_free(f);
}

static guint16 be16(const guint8 *p) { return (guint16)(p[0] << 8 | p[1]); }
static guint32 be32(const guint8 *p) { return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3]; }

/* Every frame, checked for the things every frame must get right. */
static GPtrArray *read_frames(const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, errbuf);
	ck_assert_msg(p != NULL, "%s", errbuf);
	ck_assert_int_eq(pcap_datalink(p), DLT_EN10MB);
	GPtrArray *frames = g_ptr_array_new_with_free_func(frame_free);
	struct pcap_pkthdr *h;
	const u_char *d;
	gint64 last = 0;
	while (pcap_next_ex(p, &h, &d) == 1) {
		ck_assert_uint_eq(h->caplen, h->len);
		ck_assert_uint_ge(h->caplen, 14 + 20);
		ck_assert_uint_le(h->caplen, 14 + PCAP_FRAME_MTU);
		ck_assert_uint_eq(be16(d + 12), 0x0800);
		Frame *f = g_new0(Frame, 1);
		f->t = (gint64)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
		ck_assert_int_ge(f->t, last);   /* time never runs backwards */
		last = f->t;
		const guint8 *ip = d + 14;
		ck_assert_uint_eq(ip[0], 0x45);
		ck_assert_uint_eq(pcap_checksum_ipv4_header(ip, 20), 0);
		gsize total = be16(ip + 2);
		ck_assert_uint_eq(total, h->caplen - 14);
		memcpy(f->src, ip + 12, 4);
		memcpy(f->dst, ip + 16, 4);
		/* MACs come from the addresses */
		guint8 mac[6];
		pcap_frame_mac_for(f->dst, mac);
		ck_assert_mem_eq(d, mac, 6);
		pcap_frame_mac_for(f->src, mac);
		ck_assert_mem_eq(d + 6, mac, 6);
		f->proto = ip[9];
		f->frag = be16(ip + 6);
		const guint8 *l4 = ip + 20;
		gsize l4len = total - 20;
		if ((f->frag & 0x3fff) != 0) {
			f->payload = g_bytes_new(l4, l4len);
		} else if (f->proto == 6) {
			ck_assert(pcap_checksum_ipv4_transport_ok(f->src, f->dst, 6, l4, l4len));
			f->sport = be16(l4);
			f->dport = be16(l4 + 2);
			f->seq = be32(l4 + 4);
			f->ack = be32(l4 + 8);
			f->flags = l4[13];
			gsize hl = (l4[12] >> 4) * 4u;
			f->payload = g_bytes_new(l4 + hl, l4len - hl);
			ck_assert_uint_le(l4len - hl, PCAP_FRAME_MSS);
		} else {
			ck_assert_uint_eq(f->proto, 17);
			ck_assert(pcap_checksum_ipv4_transport_ok(f->src, f->dst, 17, l4, l4len));
			f->sport = be16(l4);
			f->dport = be16(l4 + 2);
			ck_assert_uint_eq(be16(l4 + 4), l4len);
			f->payload = g_bytes_new(l4 + 8, l4len - 8);
		}
		g_ptr_array_add(frames, f);
	}
	pcap_close(p);
	return frames;
}

/* ---- TCP as Wireshark's analysis sees it ------------------------------- */

typedef struct {
	guint8      addr[4];
	guint16     port;
	guint32     isn, next, last_ack;
	gboolean    fin, acked;
	GByteArray *data;
} Side;

typedef struct {
	Side     side[2];    /* 0 sent the SYN */
	gboolean synack, established, reset, refused;
	guint    frames;
} Conn;

static void conn_free(gpointer data)
{
	Conn *c = data;
	g_byte_array_unref(c->side[0].data);
	g_byte_array_unref(c->side[1].data);
	g_free(c);
}

static char *tuple_key(const guint8 *a, guint16 ap, const guint8 *b, guint16 bp)
{
	return g_strdup_printf("%u.%u.%u.%u:%u-%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], ap, b[0], b[1], b[2], b[3], bp);
}

/* Checks every TCP frame; returns the connections in order of their SYN. */
static GPtrArray *check_tcp(GPtrArray *frames)
{
	GHashTable *by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GPtrArray *conns = g_ptr_array_new_with_free_func(conn_free);
	for (guint i = 0; i < frames->len; i++) {
		Frame *f = g_ptr_array_index(frames, i);
		if (f->proto != 6)
			continue;
		g_autofree char *key = tuple_key(f->src, f->sport, f->dst, f->dport);
		g_autofree char *rkey = tuple_key(f->dst, f->dport, f->src, f->sport);
		Conn *c = g_hash_table_lookup(by_key, key);
		if (!c)
			c = g_hash_table_lookup(by_key, rkey);
		gsize len = g_bytes_get_size(f->payload);
		if (f->flags == PCAP_TCP_SYN) {
			ck_assert_msg(c == NULL || c->reset || (c->side[0].fin && c->side[1].fin),
			              "frame %u: a SYN on a live connection", i + 1);
			c = g_new0(Conn, 1);
			memcpy(c->side[0].addr, f->src, 4);
			c->side[0].port = f->sport;
			memcpy(c->side[1].addr, f->dst, 4);
			c->side[1].port = f->dport;
			c->side[0].isn = f->seq;
			c->side[0].next = f->seq + 1;
			c->side[0].data = g_byte_array_new();
			c->side[1].data = g_byte_array_new();
			g_hash_table_replace(by_key, g_strdup(key), c);
			g_ptr_array_add(conns, c);
			c->frames++;
			continue;
		}
		ck_assert_msg(c != NULL, "frame %u: TCP without a SYN", i + 1);
		c->frames++;
		int s = (memcmp(f->src, c->side[0].addr, 4) == 0 && f->sport == c->side[0].port) ? 0 : 1;
		Side *me = &c->side[s], *peer = &c->side[1 - s];
		if (f->flags == (PCAP_TCP_SYN | PCAP_TCP_ACK)) {
			ck_assert_int_eq(s, 1);
			ck_assert(!c->synack);
			ck_assert_uint_eq(f->ack, peer->isn + 1);
			me->isn = f->seq;
			me->next = f->seq + 1;
			c->synack = TRUE;
			continue;
		}
		if (f->flags & PCAP_TCP_RST) {
			if (!c->synack) {
				/* RFC 9293 3.5.2: a refusal acknowledges the SYN */
				ck_assert_int_eq(s, 1);
				ck_assert_uint_eq(f->ack, peer->isn + 1);
				c->refused = TRUE;
			} else {
				ck_assert_uint_eq(f->seq, me->next);
			}
			c->reset = TRUE;
			continue;
		}
		ck_assert_msg(c->synack, "frame %u: data before the SYN-ACK", i + 1);
		ck_assert_msg(!c->reset, "frame %u: after a reset", i + 1);
		ck_assert_msg(f->flags & PCAP_TCP_ACK, "frame %u: no ACK flag", i + 1);
		if (!c->established) {
			/* the third step of the handshake comes first */
			ck_assert_int_eq(s, 0);
			ck_assert_uint_eq(len, 0);
			ck_assert_uint_eq(f->ack, peer->isn + 1);
			c->established = TRUE;
		}
		ck_assert_msg(f->seq == me->next, "frame %u: seq %u, expected %u", i + 1, f->seq, me->next);
		/* never acknowledge what the peer has not sent yet */
		ck_assert_msg((gint32)(f->ack - peer->next) <= 0, "frame %u: ACKs unseen data", i + 1);
		ck_assert_msg((gint32)(f->ack - me->last_ack) >= 0 || !me->last_ack, "frame %u: ACK went back", i + 1);
		me->last_ack = f->ack;
		if (len) {
			ck_assert_msg(!me->fin, "frame %u: data after FIN", i + 1);
			g_byte_array_append(me->data, g_bytes_get_data(f->payload, NULL), (guint)len);
			me->next += (guint32)len;
		}
		if (f->flags & PCAP_TCP_FIN) {
			ck_assert(!me->fin);
			me->fin = TRUE;
			me->next++;
		}
		if (peer->fin && f->ack == peer->next)
			peer->acked = TRUE;
	}
	g_hash_table_destroy(by_key);
	return conns;
}

/* What the events say about packets, from endpoints in text ("" or NULL:
 * not known). */
/* How write_exchange words its events. */
typedef enum {
	WORDS_AS_CONN,    /* the texts and names net/conn.c gives */
	WORDS_OTHER,      /* every text reworded, every name the same */
	WORDS_NO_NET,     /* conn.c's texts, but no net: nothing to go by */
} Words;

static void feed(MsSink *sink, Words words, gint64 t, MsEventKind kind, const char *from, const char *to,
                 guint64 conn, MsNetInfo n, const char *text, const char *payload, gsize len)
{
	g_autoptr(GBytes) p = payload ? g_bytes_new(payload, len ? len : strlen(payload)) : NULL;
	MsEvent ev = { .t_us = t, .kind = kind, .from = from, .to = to, .proto = "smtp",
	               .text = text, .conn = conn, .payload = p, .net = n };
	if (words == WORDS_OTHER) {
		/* nothing left of the old wording, and both ends named alike */
		ev.text = kind == MS_EV_SEND ? "a line, said differently" : "something happened";
		ev.from = ev.to = "host";
	} else if (words == WORDS_NO_NET) {
		ev.net = (MsNetInfo){ 0 };
	}
	sink->write(sink, &ev);
}

static char *tmp_path(const char *dir, const char *name)
{
	return g_build_filename(dir, name, NULL);
}

/* ---- a hand-written exchange --------------------------------------------- */

#define T0 1000000
#define PC "192.0.2.77"
#define MX "198.51.100.20"

/* The events of an SMTP-like exchange in the order the simulated network
 * emits them: the server greets before the client's "connected". */
static void write_exchange(MsSink *w, Words v, const char *big, gsize big_len)
{
	feed(w, v, T0, MS_EV_CONNECT, "pc", "mx", 0, ms_test_net(MS_NET_SYN, PC ":49152", MX ":25", 0),
	     "SYN 192.0.2.77:49152 -> 198.51.100.20:25", NULL, 0);
	feed(w, v, T0 + 20000, MS_EV_ACCEPT, "mx", "pc", 1, ms_test_net(MS_NET_ACCEPT, MX ":25", PC ":49152", 0),
	     "accepted 192.0.2.77:49152 on port 25", NULL, 0);
	feed(w, v, T0 + 20000, MS_EV_SEND, "mx", "pc", 1, ms_test_net(MS_NET_DATA, MX ":25", PC ":49152", 0),
	     "S: 220 mx ESMTP", "220 mx ESMTP\r\n", 0);
	feed(w, v, T0 + 40000, MS_EV_CONNECT, "pc", "mx", 1, ms_test_net(MS_NET_ESTABLISHED, PC ":49152", MX ":25", 0),
	     "connected 192.0.2.77:49152 -> 198.51.100.20:25", NULL, 0);
	feed(w, v, T0 + 40000, MS_EV_RECV, "mx", "pc", 1, ms_test_net(MS_NET_ARRIVED, MX ":25", PC ":49152", 14),
	     "14 bytes arrived", NULL, 0);
	feed(w, v, T0 + 40000, MS_EV_SEND, "pc", "mx", 1, ms_test_net(MS_NET_DATA, PC ":49152", MX ":25", 0),
	     "C: EHLO pc", "EHLO pc\r\n", 0);
	/* a display-only line: no payload, no net, no frame */
	feed(w, v, T0 + 40000, MS_EV_SEND, "pc", "mx", 1, ms_test_net(MS_NET_NONE, NULL, NULL, 0), "C: (shown only)", NULL, 0);
	feed(w, v, T0 + 60000, MS_EV_RECV, "pc", "mx", 1, ms_test_net(MS_NET_ARRIVED, PC ":49152", MX ":25", 9),
	     "9 bytes arrived", NULL, 0);
	feed(w, v, T0 + 60000, MS_EV_SEND, "mx", "pc", 1, ms_test_net(MS_NET_DATA, MX ":25", PC ":49152", 0),
	     "S: 250 ok", "250 ok\r\n", 0);
	feed(w, v, T0 + 60000, MS_EV_SEND, "mx", "pc", 1, ms_test_net(MS_NET_DATA, MX ":25", PC ":49152", 0),
	     "S: 354 go", "354 go\r\n", 0);
	feed(w, v, T0 + 80000, MS_EV_RECV, "mx", "pc", 1, ms_test_net(MS_NET_ARRIVED, MX ":25", PC ":49152", 16),
	     "16 bytes arrived", NULL, 0);
	feed(w, v, T0 + 80000, MS_EV_SEND, "pc", "mx", 1, ms_test_net(MS_NET_DATA, PC ":49152", MX ":25", 0),
	     "C: (message)", big, big_len);
	/* the server closes while the message is still on its way */
	feed(w, v, T0 + 80000, MS_EV_SEND, "mx", "pc", 1, ms_test_net(MS_NET_DATA, MX ":25", PC ":49152", 0),
	     "S: 221 bye", "221 bye\r\n", 0);
	feed(w, v, T0 + 80000, MS_EV_CLOSE, "mx", "pc", 1, ms_test_net(MS_NET_FIN, MX ":25", PC ":49152", 0), "close", NULL, 0);
	feed(w, v, T0 + 100000, MS_EV_RECV, "pc", "mx", 1, ms_test_net(MS_NET_ARRIVED, PC ":49152", MX ":25", 5000),
	     "5000 bytes arrived", NULL, 0);
	feed(w, v, T0 + 100000, MS_EV_RECV, "mx", "pc", 1, ms_test_net(MS_NET_ARRIVED, MX ":25", PC ":49152", 9),
	     "9 bytes arrived", NULL, 0);
	feed(w, v, T0 + 100000, MS_EV_CLOSE, "pc", "mx", 1, ms_test_net(MS_NET_FIN, PC ":49152", MX ":25", 0), "close", NULL, 0);
	/* a datagram, a refused connection, an unanswered SYN */
	feed(w, v, T0 + 110000, MS_EV_SEND, "mx", "ns", 0, ms_test_net(MS_NET_DATAGRAM, MX ":40000", "203.0.113.53:53", 0),
	     "datagram 198.51.100.20:40000 -> 203.0.113.53:53, 5 bytes", "query", 0);
	feed(w, v, T0 + 120000, MS_EV_CONNECT, "pc", "mx", 0, ms_test_net(MS_NET_SYN, PC ":49153", MX ":110", 0),
	     "SYN 192.0.2.77:49153 -> 198.51.100.20:110", NULL, 0);
	feed(w, v, T0 + 160000, MS_EV_ERROR, "pc", "mx", 0, ms_test_net(MS_NET_REFUSED, PC ":49153", MX ":110", 0),
	     "connect to 198.51.100.20:110 failed: 198.51.100.20:110 refused the connection", NULL, 0);
	feed(w, v, T0 + 170000, MS_EV_CONNECT, "pc", "far", 0, ms_test_net(MS_NET_SYN, PC ":49154", "203.0.113.9:25", 0),
	     "SYN 192.0.2.77:49154 -> 203.0.113.9:25", NULL, 0);
	/* events of an unknown connection are ignored */
	feed(w, v, T0 + 180000, MS_EV_SEND, "x", "y", 99, ms_test_net(MS_NET_DATA, "10.0.0.1:1", "10.0.0.2:2", 0),
	     "C: stray", "stray\r\n", 0);
}

START_TEST(test_exchange)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = tmp_path(dir, "x.pcap");
	g_autoptr(GError) err = NULL;
	MsSink *w = pcap_writer_new(path, NULL, &err);
	ck_assert_ptr_nonnull(w);
	char big[5000];
	for (gsize i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	write_exchange(w, WORDS_AS_CONN, big, sizeof big);
	guint64 written = pcap_writer_frames(w);
	w->destroy(w);

	g_autoptr(GPtrArray) frames = read_frames(path);
	ck_assert_uint_eq(frames->len, written);
	Frame *first = g_ptr_array_index(frames, 0);
	ck_assert_int_eq(first->t, PCAP_WRITER_DEFAULT_EPOCH_US + T0);   /* virtual time on the 2026 epoch */
	g_autoptr(GPtrArray) conns = check_tcp(frames);
	ck_assert_uint_eq(conns->len, 3);

	Conn *c = g_ptr_array_index(conns, 0);
	ck_assert(c->established && !c->reset);
	ck_assert(c->side[0].fin && c->side[1].fin);
	ck_assert(c->side[0].acked && c->side[1].acked);   /* both FINs acknowledged */
	GByteArray *cs = c->side[0].data, *sc = c->side[1].data;
	ck_assert_uint_eq(cs->len, 9 + sizeof big);
	ck_assert_mem_eq(cs->data, "EHLO pc\r\n", 9);
	ck_assert_mem_eq(cs->data + 9, big, sizeof big);
	ck_assert_uint_eq(sc->len, 14 + 8 + 8 + 9);
	ck_assert_mem_eq(sc->data, "220 mx ESMTP\r\n250 ok\r\n354 go\r\n221 bye\r\n", sc->len);

	Conn *refused = g_ptr_array_index(conns, 1);
	ck_assert(refused->refused);
	ck_assert_uint_eq(refused->side[1].port, 110);
	Conn *unanswered = g_ptr_array_index(conns, 2);
	ck_assert_uint_eq(unanswered->frames, 1);

	/* the 5000 bytes went as MSS-sized segments: 1460 * 3 + 620 */
	guint big_segments = 0;
	for (guint i = 0; i < frames->len; i++) {
		Frame *f = g_ptr_array_index(frames, i);
		if (f->proto == 6 && f->sport == 49152 && g_bytes_get_size(f->payload) > 100)
			big_segments++;
	}
	ck_assert_uint_eq(big_segments, 4);
	gboolean udp = FALSE;
	for (guint i = 0; i < frames->len; i++) {
		Frame *f = g_ptr_array_index(frames, i);
		if (f->proto == 17) {
			udp = TRUE;
			ck_assert_uint_eq(f->sport, 40000);
			ck_assert_uint_eq(f->dport, 53);
			ck_assert_mem_eq(g_bytes_get_data(f->payload, NULL), "query", 5);
		}
	}
	ck_assert(udp);
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_same_events_same_file)
{
	g_autofree char *dir = ms_test_tmpdir();
	char big[3000];
	memset(big, 'x', sizeof big);
	char *contents[2] = { NULL, NULL };
	gsize lens[2];
	for (int i = 0; i < 2; i++) {
		g_autofree char *path = g_strdup_printf("%s/%d.pcap", dir, i);
		MsSink *w = pcap_writer_new(path, NULL, NULL);
		write_exchange(w, WORDS_AS_CONN, big, sizeof big);
		w->destroy(w);
		ck_assert(g_file_get_contents(path, &contents[i], &lens[i], NULL));
	}
	ck_assert_uint_eq(lens[0], lens[1]);
	ck_assert_mem_eq(contents[0], contents[1], lens[0]);
	g_free(contents[0]);
	g_free(contents[1]);
	ms_test_rmtree(dir);
}
END_TEST

/* The writer goes by the events' net alone: every text reworded and every
 * name made the same changes no byte of the file, and conn.c's texts
 * without a net make no frame at all. */
START_TEST(test_wording_free)
{
	g_autofree char *dir = ms_test_tmpdir();
	char big[2000];
	memset(big, 'y', sizeof big);
	static const Words words[] = { WORDS_AS_CONN, WORDS_OTHER, WORDS_NO_NET };
	char *contents[G_N_ELEMENTS(words)];
	gsize lens[G_N_ELEMENTS(words)];
	guint64 frames[G_N_ELEMENTS(words)];
	for (guint i = 0; i < G_N_ELEMENTS(words); i++) {
		g_autofree char *path = g_strdup_printf("%s/%u.pcap", dir, i);
		MsSink *w = pcap_writer_new(path, NULL, NULL);
		write_exchange(w, words[i], big, sizeof big);
		frames[i] = pcap_writer_frames(w);
		w->destroy(w);
		ck_assert(g_file_get_contents(path, &contents[i], &lens[i], NULL));
	}
	ck_assert_uint_ge(frames[0], 20);
	ck_assert_uint_eq(frames[1], frames[0]);
	ck_assert_uint_eq(lens[1], lens[0]);
	ck_assert_mem_eq(contents[1], contents[0], lens[0]);
	ck_assert_uint_eq(frames[2], 0);
	for (guint i = 0; i < G_N_ELEMENTS(words); i++)
		g_free(contents[i]);
	ms_test_rmtree(dir);
}
END_TEST

/* A net that breaks the contract, an IPv6 flow, a SYN without a known
 * source (the real network's) and an end the connection does not have
 * make no frame. */
START_TEST(test_unusable_nets)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = tmp_path(dir, "u.pcap");
	MsSink *w = pcap_writer_new(path, NULL, NULL);
	const Words v = WORDS_AS_CONN;
	/* IPv6 and an unknown source: not in an IPv4 capture */
	feed(w, v, 1, MS_EV_CONNECT, "a", "b", 0, ms_test_net(MS_NET_SYN, "[2001:db8::1]:40000", "[2001:db8::2]:25", 0), "", NULL, 0);
	feed(w, v, 2, MS_EV_ACCEPT, "b", "a", 5, ms_test_net(MS_NET_ACCEPT, "[2001:db8::2]:25", "[2001:db8::1]:40000", 0), "", NULL, 0);
	feed(w, v, 3, MS_EV_SEND, "b", "a", 5, ms_test_net(MS_NET_DATA, "[2001:db8::2]:25", "[2001:db8::1]:40000", 0), "", "220\r\n", 0);
	feed(w, v, 4, MS_EV_CONNECT, "a", "b", 0, ms_test_net(MS_NET_SYN, NULL, "10.0.0.2:25", 0), "", NULL, 0);
	feed(w, v, 5, MS_EV_SEND, "a", "b", 0, ms_test_net(MS_NET_DATAGRAM, "[2001:db8::1]:53", "[2001:db8::2]:53", 0), "", "q", 0);
	ck_assert_uint_eq(pcap_writer_frames(w), 0);
	/* a connection: SYN, SYN-ACK */
	feed(w, v, 6, MS_EV_CONNECT, "a", "b", 0, ms_test_net(MS_NET_SYN, "10.0.0.1:40000", "10.0.0.2:25", 0), "", NULL, 0);
	feed(w, v, 7, MS_EV_ACCEPT, "b", "a", 6, ms_test_net(MS_NET_ACCEPT, "10.0.0.2:25", "10.0.0.1:40000", 0), "", NULL, 0);
	ck_assert_uint_eq(pcap_writer_frames(w), 2);
	/* data said to be UDP, an arrival of nothing, data from a stranger */
	MsNetInfo udp_data = ms_test_net(MS_NET_DATA, "10.0.0.2:25", "10.0.0.1:40000", 0);
	udp_data.transport = MS_TRANSPORT_UDP;
	feed(w, v, 8, MS_EV_SEND, "b", "a", 6, udp_data, "", "220\r\n", 0);
	feed(w, v, 9, MS_EV_RECV, "b", "a", 6, ms_test_net(MS_NET_ARRIVED, "10.0.0.2:25", "10.0.0.1:40000", 0), "", NULL, 0);
	feed(w, v, 10, MS_EV_SEND, "c", "a", 6, ms_test_net(MS_NET_DATA, "10.0.0.3:25", "10.0.0.4:40000", 0), "", "x\r\n", 0);
	ck_assert_uint_eq(pcap_writer_frames(w), 2);
	/* the server's greeting: the client's ACK ends the handshake, then the data */
	feed(w, v, 11, MS_EV_SEND, "b", "a", 6, ms_test_net(MS_NET_DATA, "10.0.0.2:25", "10.0.0.1:40000", 0), "", "220\r\n", 0);
	ck_assert_uint_eq(pcap_writer_frames(w), 4);
	w->destroy(w);
	g_autoptr(GPtrArray) frames = read_frames(path);
	g_autoptr(GPtrArray) conns = check_tcp(frames);
	ck_assert_uint_eq(conns->len, 1);
	Conn *c = g_ptr_array_index(conns, 0);
	ck_assert_uint_eq(c->side[1].data->len, 5);
	ck_assert_mem_eq(c->side[1].data->data, "220\r\n", 5);
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_open_error)
{
	g_autoptr(GError) err = NULL;
	MsSink *w = pcap_writer_new("/nonexistent-dir/x.pcap", NULL, &err);
	ck_assert_ptr_null(w);
	ck_assert(g_error_matches(err, PCAP_WRITER_ERROR, PCAP_WRITER_ERROR_OPEN));
	ck_assert_str_eq(pcap_writer_error_to_string(PCAP_WRITER_ERROR_OPEN), "OPEN");
}
END_TEST

START_TEST(test_epoch_option)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = tmp_path(dir, "e.pcap");
	PcapWriterOptions o = { .epoch_us = G_GINT64_CONSTANT(1000000000) * 1000000 };
	MsSink *w = pcap_writer_new(path, &o, NULL);
	feed(w, WORDS_AS_CONN, 2500000, MS_EV_CONNECT, "a", "b", 0, ms_test_net(MS_NET_SYN, "10.0.0.1:1000", "10.0.0.2:25", 0),
	     "SYN 10.0.0.1:1000 -> 10.0.0.2:25", NULL, 0);
	w->destroy(w);
	g_autoptr(GPtrArray) frames = read_frames(path);
	ck_assert_uint_eq(frames->len, 1);
	ck_assert_int_eq(((Frame *)g_ptr_array_index(frames, 0))->t, o.epoch_us + 2500000);
	ms_test_rmtree(dir);
}
END_TEST

/* ---- frames: a datagram larger than the MTU is fragmented ----------------- */

START_TEST(test_udp_fragments)
{
	PcapUdpHeader h = { .src = { 10, 0, 0, 1 }, .dst = { 10, 0, 0, 2 }, .sport = 53, .dport = 5300, .ip_id = 7 };
	guint8 payload[4000];
	for (gsize i = 0; i < sizeof payload; i++)
		payload[i] = (guint8)(i * 7);
	g_autoptr(GPtrArray) frames = pcap_frame_udp(&h, payload, sizeof payload, PCAP_FRAME_LINK_RAW);
	ck_assert_uint_eq(frames->len, 3);   /* 4008 bytes in 1480-byte pieces */
	GByteArray *whole = g_byte_array_new();
	for (guint i = 0; i < frames->len; i++) {
		GByteArray *f = g_ptr_array_index(frames, i);
		ck_assert_uint_le(f->len, PCAP_FRAME_MTU);
		ck_assert_uint_eq(pcap_checksum_ipv4_header(f->data, 20), 0);
		ck_assert_uint_eq(be16(f->data + 4), 7);   /* one identification for all */
		guint16 frag = be16(f->data + 6);
		ck_assert_uint_eq((frag & 0x1fff) * 8u, whole->len);
		ck_assert_uint_eq(!!(frag & 0x2000), i + 1 < frames->len);   /* MF but on the last */
		g_byte_array_append(whole, f->data + 20, f->len - 20);
	}
	ck_assert_uint_eq(whole->len, 8 + sizeof payload);
	ck_assert(pcap_checksum_ipv4_transport_ok(h.src, h.dst, 17, whole->data, whole->len));
	ck_assert_mem_eq(whole->data + 8, payload, sizeof payload);
	g_byte_array_unref(whole);
	ck_assert_ptr_null(pcap_frame_udp(&h, payload, PCAP_FRAME_UDP_MAX + 1, PCAP_FRAME_LINK_RAW));
	/* a small one fits in one frame with DF set */
	g_autoptr(GPtrArray) one = pcap_frame_udp(&h, payload, 100, PCAP_FRAME_LINK_ETHERNET);
	ck_assert_uint_eq(one->len, 1);
	GByteArray *f = g_ptr_array_index(one, 0);
	ck_assert_uint_eq(f->len, 14 + 20 + 8 + 100);
	ck_assert_uint_eq(be16(f->data + 14 + 6), 0x4000);
}
END_TEST

START_TEST(test_flag_names)
{
	g_autofree char *s = pcap_tcp_flags_to_string(PCAP_TCP_SYN | PCAP_TCP_ACK);
	ck_assert_str_eq(s, "SYN|ACK");
	g_autofree char *e = pcap_tcp_flags_to_string(0);
	ck_assert_str_eq(e, "");
	ck_assert_str_eq(pcap_frame_link_to_string(PCAP_FRAME_LINK_RAW), "raw");
}
END_TEST

/* ---- a real run of the simulated network ---------------------------------- */

typedef struct {
	MsListener *l;
	MsStack    *client;
	MsHost     *server;
} Sim;

static void echo_server(gpointer data)
{
	Sim *s = data;
	MsConn *c = ms_listener_accept(s->l, NULL);
	if (!c)
		return;
	char line[256];
	MsEol eol;
	ms_conn_write(c, "220 echo\r\n", 10, NULL);
	while (ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL) > 0)
		if (!ms_conn_printf(c, NULL, "%s\r\n", line))
			break;
	ms_conn_unref(c);
	/* a second connection: the host goes down under it */
	c = ms_listener_accept(s->l, NULL);
	if (!c)
		return;
	ms_conn_write(c, "220 echo\r\n", 10, NULL);
	ms_sleep(MS_SECOND);
	ms_host_set_up(s->server, FALSE);
	ms_conn_unref(c);
}

static void echo_udp(gpointer data)
{
	MsDgram *u = data;
	char buf[64];
	char *from = NULL;
	guint16 port;
	gssize n = ms_dgram_recv(u, buf, sizeof buf, &from, &port, MS_FOREVER, NULL);
	if (n > 0)
		ms_dgram_send(u, from, port, buf, (gsize)n, NULL);
	g_free(from);
}

static void sim_client(gpointer data)
{
	Sim *s = data;
	MsSched *sched = ms_stack_sched(s->client);
	char line[256];
	MsEol eol;
	MsConn *c = ms_stack_connect(s->client, "198.51.100.7", 7, 5 * MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
	ms_conn_printf(c, NULL, "hello, network\r\nsecond line\r\n");
	ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
	ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
	ms_conn_unref(c);
	MsDgram *u = ms_stack_udp_bind(s->client, NULL, 0, NULL);
	ms_dgram_send(u, "198.51.100.7", 7, "ping", 4, NULL);
	char buf[16];
	ms_dgram_recv(u, buf, sizeof buf, NULL, NULL, ms_sched_now(sched) + MS_SECOND, NULL);
	ms_dgram_free(u);
	MsConn *none = ms_stack_connect(s->client, "198.51.100.7", 25, 5 * MS_SECOND, NULL);
	ck_assert_ptr_null(none);
	MsConn *doomed = ms_stack_connect(s->client, "198.51.100.7", 7, 5 * MS_SECOND, NULL);
	ck_assert_ptr_nonnull(doomed);
	while (ms_conn_read_line(doomed, line, sizeof line - 1, &eol, NULL) > 0)
		;
	ms_conn_unref(doomed);
}

START_TEST(test_simulated_network)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *path = tmp_path(dir, "sim.pcap");
	MsSched *sched = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsSink *w = pcap_writer_new(path, NULL, NULL);
	ck_assert_ptr_nonnull(w);
	ms_bus_add_sink(ms_sched_bus(sched), w);
	char *log = NULL;
	size_t log_len = 0;
	FILE *mem = open_memstream(&log, &log_len);
	ms_bus_add_sink(ms_sched_bus(sched), ms_sink_jsonl_new(mem, FALSE));
	MsNet *net = ms_net_new(sched);
	MsHost *pc = ms_net_add_host(net, "home-pc", "192.0.2.77", NULL);
	MsHost *srv = ms_net_add_host(net, "echo.example.org", "198.51.100.7", NULL);
	Sim s = { .client = ms_host_stack(pc), .server = srv };
	s.l = ms_stack_listen(ms_host_stack(srv), NULL, 7, NULL);
	MsDgram *udp = ms_stack_udp_bind(ms_host_stack(srv), NULL, 7, NULL);
	ms_task_spawn(sched, "echo", echo_server, &s);
	ms_task_spawn(sched, "echo-udp", echo_udp, udp);
	ms_task_spawn(sched, "client", sim_client, &s);
	ms_sched_run(sched, MS_FOREVER);
	ms_listener_free(s.l);
	ms_sched_shutdown(sched);
	ms_dgram_free(udp);
	ms_net_free(net);
	ms_sched_free(sched);   /* destroys the sinks: the file is complete */
	fclose(mem);

	/* the run's log read back (what `mailsim replay` reads) makes the same file */
	g_autofree char *again = tmp_path(dir, "replayed.pcap");
	MsSink *w2 = pcap_writer_new(again, NULL, NULL);
	g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
	guint nets = 0;
	for (guint i = 0; lines[i] && lines[i][0]; i++) {
		g_autofree char *why = NULL;
		g_autoptr(MsEvent) ev = ms_sink_jsonl_parse_line(lines[i], strlen(lines[i]), &why);
		ck_assert_msg(ev != NULL, "line %u: %s", i + 1, why);
		nets += ev->net.action != MS_NET_NONE;
		w2->write(w2, ev);
	}
	w2->destroy(w2);
	free(log);
	ck_assert_uint_ge(nets, 20);
	g_autofree char *live = NULL, *replayed = NULL;
	gsize live_len, replayed_len;
	ck_assert(g_file_get_contents(path, &live, &live_len, NULL));
	ck_assert(g_file_get_contents(again, &replayed, &replayed_len, NULL));
	ck_assert_uint_gt(live_len, 24);   /* more than the file header */
	ck_assert_uint_eq(replayed_len, live_len);
	ck_assert_mem_eq(replayed, live, live_len);

	g_autoptr(GPtrArray) frames = read_frames(path);
	g_autoptr(GPtrArray) conns = check_tcp(frames);
	ck_assert_uint_eq(conns->len, 3);
	Conn *echo = g_ptr_array_index(conns, 0);
	ck_assert(echo->established && echo->side[0].fin && echo->side[1].fin);
	ck_assert_uint_eq(echo->side[1].port, 7);
	const char *sent = "hello, network\r\nsecond line\r\n";
	ck_assert_uint_eq(echo->side[0].data->len, strlen(sent));
	ck_assert_mem_eq(echo->side[0].data->data, sent, strlen(sent));
	const char *back = "220 echo\r\nhello, network\r\nsecond line\r\n";
	ck_assert_uint_eq(echo->side[1].data->len, strlen(back));
	ck_assert_mem_eq(echo->side[1].data->data, back, strlen(back));
	Conn *refused = g_ptr_array_index(conns, 1);
	ck_assert(refused->refused);
	ck_assert_uint_eq(refused->side[1].port, 25);
	Conn *doomed = g_ptr_array_index(conns, 2);
	ck_assert(doomed->established && doomed->reset);
	guint udp_frames = 0;
	for (guint i = 0; i < frames->len; i++) {
		Frame *f = g_ptr_array_index(frames, i);
		if (f->proto == 17) {
			udp_frames++;
			ck_assert_mem_eq(g_bytes_get_data(f->payload, NULL), "ping", 4);
		}
	}
	ck_assert_uint_eq(udp_frames, 2);   /* ping and its echo */
	ms_test_rmtree(dir);
}
END_TEST

static Suite *pcap_writer_suite(void)
{
	Suite *s = suite_create("pcap_writer");
	MS_ADD_TEST(s, test_exchange, 10);
	MS_ADD_TEST(s, test_same_events_same_file, 10);
	MS_ADD_TEST(s, test_wording_free, 10);
	MS_ADD_TEST(s, test_unusable_nets, 5);
	MS_ADD_TEST(s, test_open_error, 5);
	MS_ADD_TEST(s, test_epoch_option, 5);
	MS_ADD_TEST(s, test_udp_fragments, 5);
	MS_ADD_TEST(s, test_flag_names, 5);
	MS_ADD_TEST(s, test_simulated_network, 20);
	return s;
}

MS_TEST_MAIN(pcap_writer_suite)
