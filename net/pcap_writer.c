/* net/pcap_writer.c - events in, frames out: a TCP state machine that replays
 * what the simulated network did, one frame per segment.  It reads only each
 * event's net (endpoints and action, sim/kernel/event.h), never its text.
 *
 * Each end of a connection counts the payload bytes it sent and how many of
 * them the peer has received (RECV events).  Its sequence number is then
 * ISN + 1 + sent (RFC 9293 3.4), its acknowledgment ISN' + 1 + what it
 * received, plus one for a FIN it has seen: nothing is ever acknowledged
 * before it was written, so Wireshark's analysis stays quiet.
 */
#include "net/pcap_writer.h"
#include "net/pcap_frame.h"

#include <pcap.h>
#include <string.h>

#define SNAPLEN 65535

G_DEFINE_QUARK(pcap-writer-error-quark, pcap_writer_error)

static const char *const error_names[] = { "OPEN" };

const char *pcap_writer_error_to_string(PcapWriterError e)
{
	return (guint)e < G_N_ELEMENTS(error_names) ? error_names[e] : "?";
}

enum { CLIENT, SERVER };

typedef struct {
	guint8   addr[4];
	guint16  port;
	guint32  isn;
	guint64  sent;        /* payload bytes written */
	guint64  delivered;   /* of those, bytes the peer received */
	gboolean fin_sent;
	gboolean fin_acked;   /* the peer acknowledged our FIN */
} End;

typedef struct {
	guint64  id;          /* the connection id of the events */
	End      end[2];
	gboolean synack_sent;
	gboolean established;
} Flow;

/* A SYN whose answer has not come yet, found by its client's endpoint. */
typedef struct {
	MsEndpoint client;    /* the key in syns */
	MsEndpoint server;
	guint32    isn;
	GList      link;      /* in syn_order */
} Syn;

typedef struct {
	MsSink         base;
	pcap_t        *dead;
	pcap_dumper_t *dumper;
	gint64         epoch_us;
	gint64         now;          /* t_us of the event being written */
	guint64        frames;
	guint16        ip_id;
	guint32        syn_count;
	GHashTable    *flows;        /* guint64* id -> Flow* */
	GHashTable    *syns;         /* MsEndpoint* of the client -> Syn* */
	GQueue         syn_order;    /* the Syns, oldest first */
} PcapWriter;

/* The IPv4 address and port of ep: FALSE for anything else (the frames
 * are IPv4 only). */
static gboolean ipv4_of(const MsEndpoint *ep, guint8 addr[4], guint16 *port)
{
	if (ep->family != MS_ADDR_IPV4)
		return FALSE;
	memcpy(addr, ep->addr, 4);
	*port = ep->port;
	return TRUE;
}

static gboolean end_is(const End *e, const MsEndpoint *ep)
{
	return ep->family == MS_ADDR_IPV4 && ep->port == e->port && memcmp(ep->addr, e->addr, 4) == 0;
}

/* A deterministic ISN per connection, so a seed gives the same file twice
 * (RFC 6528 would hash a secret too; a classroom needs no secret). */
static guint32 make_isn(const guint8 a[4], guint16 ap, const guint8 b[4], guint16 bp, guint32 salt)
{
	g_autofree char *key = g_strdup_printf("%u.%u.%u.%u:%u>%u.%u.%u.%u:%u#%u", a[0], a[1], a[2], a[3], ap,
	                                       b[0], b[1], b[2], b[3], bp, salt);
	return g_str_hash(key) * 2654435761u;
}

/* ---- frames ------------------------------------------------------------ */

static void dump(PcapWriter *w, const GByteArray *frame)
{
	gint64 t = w->epoch_us + MAX(w->now, 0);
	struct pcap_pkthdr h = { .caplen = frame->len, .len = frame->len };
	h.ts.tv_sec = (time_t)(t / G_USEC_PER_SEC);
	h.ts.tv_usec = (suseconds_t)(t % G_USEC_PER_SEC);
	pcap_dump((u_char *)w->dumper, &h, frame->data);
	w->frames++;
}

static guint32 seq_of(const End *e)
{
	return e->isn + 1 + (guint32)e->sent + (e->fin_sent ? 1 : 0);
}

/* What `from` acknowledges of the other end: its data received so far and
 * its FIN once all of that arrived. */
static guint32 ack_of(const End *other)
{
	return other->isn + 1 + (guint32)other->delivered + (other->fin_acked ? 1 : 0);
}

static void write_segment(PcapWriter *w, Flow *f, int from, guint8 flags,
                          const guint8 *data, gsize len)
{
	End *me = &f->end[from], *peer = &f->end[1 - from];
	PcapTcpHeader h = { .sport = me->port, .dport = peer->port, .flags = flags,
	                    .window = PCAP_WRITER_WINDOW, .ip_id = w->ip_id++ };
	memcpy(h.src, me->addr, 4);
	memcpy(h.dst, peer->addr, 4);
	h.seq = seq_of(me);
	if (flags & PCAP_TCP_FIN)
		h.seq--;   /* the FIN itself sits at the sequence number after the data */
	h.ack = ack_of(peer);
	g_autoptr(GByteArray) frame = pcap_frame_tcp(&h, data, len, PCAP_FRAME_LINK_ETHERNET);
	dump(w, frame);
}

/* RFC 9293 3.5: the server's SYN-ACK, announcing its MSS as the SYN did. */
static void write_synack(PcapWriter *w, Flow *f)
{
	End *c = &f->end[CLIENT], *s = &f->end[SERVER];
	PcapTcpHeader h = { .sport = s->port, .dport = c->port, .seq = s->isn, .ack = c->isn + 1,
	                    .flags = PCAP_TCP_SYN | PCAP_TCP_ACK, .window = PCAP_WRITER_WINDOW,
	                    .mss = PCAP_FRAME_MSS, .ip_id = w->ip_id++ };
	memcpy(h.src, s->addr, 4);
	memcpy(h.dst, c->addr, 4);
	g_autoptr(GByteArray) frame = pcap_frame_tcp(&h, NULL, 0, PCAP_FRAME_LINK_ETHERNET);
	dump(w, frame);
	f->synack_sent = TRUE;
}

/* The rest of the handshake, before anything else is written on a
 * connection: the SYN-ACK if the server's accept has not shown it yet, then
 * the client's ACK. */
static void flow_establish(PcapWriter *w, Flow *f)
{
	if (!f->synack_sent)
		write_synack(w, f);
	if (!f->established) {
		write_segment(w, f, CLIENT, PCAP_TCP_ACK, NULL, 0);
		f->established = TRUE;
	}
}

/* ---- connections --------------------------------------------------------- */

static void forget_syn(PcapWriter *w, Syn *s)
{
	MsEndpoint key = s->client;
	g_queue_unlink(&w->syn_order, &s->link);
	g_hash_table_remove(w->syns, &key);   /* frees s */
}

static void on_syn(PcapWriter *w, const MsNetInfo *net)
{
	PcapTcpHeader h = { .flags = PCAP_TCP_SYN, .window = PCAP_WRITER_WINDOW, .mss = PCAP_FRAME_MSS };
	if (!ipv4_of(&net->src, h.src, &h.sport) || !ipv4_of(&net->dst, h.dst, &h.dport))
		return;   /* no source yet (the real network), or IPv6 */
	Syn *old = g_hash_table_lookup(w->syns, &net->src);
	if (old)
		forget_syn(w, old);   /* the port was taken again */
	if (g_queue_get_length(&w->syn_order) >= PCAP_WRITER_MAX_PENDING_SYNS)
		forget_syn(w, g_queue_peek_head(&w->syn_order));
	Syn *s = g_new0(Syn, 1);
	s->client = net->src;
	s->server = net->dst;
	s->isn = make_isn(h.src, h.sport, h.dst, h.dport, w->syn_count++);
	s->link.data = s;
	g_hash_table_insert(w->syns, &s->client, s);
	g_queue_push_tail_link(&w->syn_order, &s->link);

	h.seq = s->isn;
	h.ip_id = w->ip_id++;
	g_autoptr(GByteArray) frame = pcap_frame_tcp(&h, NULL, 0, PCAP_FRAME_LINK_ETHERNET);
	dump(w, frame);
}

/* The connection the SYN from client started, now with its id. */
static Flow *flow_from_syn(PcapWriter *w, guint64 id, const MsEndpoint *client)
{
	Syn *s = g_hash_table_lookup(w->syns, client);
	if (!s)
		return NULL;
	Flow *f = g_new0(Flow, 1);
	f->id = id;
	End *c = &f->end[CLIENT], *sv = &f->end[SERVER];
	ipv4_of(&s->client, c->addr, &c->port);
	ipv4_of(&s->server, sv->addr, &sv->port);
	c->isn = s->isn;
	sv->isn = make_isn(sv->addr, sv->port, c->addr, c->port, s->isn);
	g_hash_table_insert(w->flows, &f->id, f);
	forget_syn(w, s);
	return f;
}

/* The server src accepted the client dst: it answers the SYN.  The
 * client's ACK waits for ESTABLISHED. */
static void on_accept(PcapWriter *w, guint64 id, const MsNetInfo *net)
{
	if (g_hash_table_contains(w->flows, &id))
		return;
	Flow *f = flow_from_syn(w, id, &net->dst);
	if (f)
		write_synack(w, f);
}

static void on_established(PcapWriter *w, guint64 id, const MsNetInfo *net)
{
	Flow *f = g_hash_table_lookup(w->flows, &id);
	if (!f)
		f = flow_from_syn(w, id, &net->src);
	if (f)
		flow_establish(w, f);
}

/* A connect that failed: a refusal is a RST from the server; a time-out or
 * an unreachable host leaves the SYN unanswered. */
static void on_connect_failed(PcapWriter *w, const MsNetInfo *net)
{
	Syn *s = g_hash_table_lookup(w->syns, &net->src);
	if (!s || !ms_endpoint_equal(&s->server, &net->dst))
		return;
	if (net->action == MS_NET_REFUSED) {
		/* RFC 9293 3.5.2: a RST answering a SYN acknowledges it */
		PcapTcpHeader h = { .ack = s->isn + 1, .flags = PCAP_TCP_RST | PCAP_TCP_ACK, .ip_id = w->ip_id++ };
		ipv4_of(&s->server, h.src, &h.sport);
		ipv4_of(&s->client, h.dst, &h.dport);
		g_autoptr(GByteArray) frame = pcap_frame_tcp(&h, NULL, 0, PCAP_FRAME_LINK_ETHERNET);
		dump(w, frame);
	}
	forget_syn(w, s);
}

/* Which end of f an event's net comes from (its src): -1 for neither. */
static int side_of(const Flow *f, const MsNetInfo *net)
{
	if (end_is(&f->end[CLIENT], &net->src))
		return CLIENT;
	/* the server by its own address, or as the one talking to the client */
	if (end_is(&f->end[SERVER], &net->src) || end_is(&f->end[CLIENT], &net->dst))
		return SERVER;
	return -1;
}

static void maybe_forget(PcapWriter *w, Flow *f)
{
	if (f->end[CLIENT].fin_acked && f->end[SERVER].fin_acked)
		g_hash_table_remove(w->flows, &f->id);
}

static void on_data(PcapWriter *w, Flow *f, int from, GBytes *payload)
{
	gsize len;
	const guint8 *data = g_bytes_get_data(payload, &len);
	if (len == 0 || f->end[from].fin_sent)
		return;
	flow_establish(w, f);
	/* split at the MSS the SYNs announced */
	for (gsize off = 0; off < len; off += PCAP_FRAME_MSS) {
		gsize n = MIN(PCAP_FRAME_MSS, len - off);
		guint8 flags = PCAP_TCP_ACK | (off + n == len ? PCAP_TCP_PSH : 0);
		write_segment(w, f, from, flags, data + off, n);
		f->end[from].sent += n;
	}
}

/* n bytes that end `from` sent reached the other, which acknowledges them. */
static void on_arrived(PcapWriter *w, Flow *f, int from, guint64 n)
{
	End *snd = &f->end[from];
	flow_establish(w, f);
	snd->delivered = MIN(snd->sent, snd->delivered + n);
	if (snd->fin_sent && snd->delivered == snd->sent)
		snd->fin_acked = TRUE;
	write_segment(w, f, 1 - from, PCAP_TCP_ACK, NULL, 0);
	maybe_forget(w, f);
}

static void on_fin(PcapWriter *w, Flow *f, int from)
{
	End *me = &f->end[from];
	if (me->fin_sent)
		return;
	flow_establish(w, f);
	me->fin_sent = TRUE;
	write_segment(w, f, from, PCAP_TCP_FIN | PCAP_TCP_ACK, NULL, 0);
	if (me->delivered == me->sent) {
		/* nothing of ours still travelling: the peer acknowledges the FIN */
		me->fin_acked = TRUE;
		write_segment(w, f, 1 - from, PCAP_TCP_ACK, NULL, 0);
	}
	maybe_forget(w, f);
}

/* Whoever tore it down, the capture shows the server's RST. */
static void on_reset(PcapWriter *w, Flow *f)
{
	flow_establish(w, f);
	write_segment(w, f, SERVER, PCAP_TCP_RST | PCAP_TCP_ACK, NULL, 0);
	g_hash_table_remove(w->flows, &f->id);
}

/* ---- datagrams ----------------------------------------------------------- */

static void on_datagram(PcapWriter *w, const MsNetInfo *net, GBytes *payload)
{
	PcapUdpHeader h = { 0 };
	if (!payload || !ipv4_of(&net->src, h.src, &h.sport) || !ipv4_of(&net->dst, h.dst, &h.dport))
		return;
	h.ip_id = w->ip_id++;
	gsize len;
	const guint8 *data = g_bytes_get_data(payload, &len);
	g_autoptr(GPtrArray) frames = pcap_frame_udp(&h, data, len, PCAP_FRAME_LINK_ETHERNET);
	for (guint i = 0; frames && i < frames->len; i++)
		dump(w, g_ptr_array_index(frames, i));
}

/* ---- the sink ------------------------------------------------------------ */

static void writer_write(MsSink *self, const MsEvent *ev)
{
	PcapWriter *w = (PcapWriter *)self;
	const MsNetInfo *net = &ev->net;
	/* only the net of an event, never its text: the text is for people */
	if (net->action == MS_NET_NONE || !ms_net_info_valid(net))
		return;
	w->now = ev->t_us;
	switch (net->action) {
	case MS_NET_SYN:
		on_syn(w, net);
		return;
	case MS_NET_REFUSED:
	case MS_NET_UNANSWERED:
		on_connect_failed(w, net);
		return;
	case MS_NET_DATAGRAM:
		on_datagram(w, net, ev->payload);
		return;
	default:
		break;
	}
	if (ev->conn == 0)
		return;   /* the rest is about one connection */
	if (net->action == MS_NET_ACCEPT) {
		on_accept(w, ev->conn, net);
		return;
	}
	if (net->action == MS_NET_ESTABLISHED) {
		on_established(w, ev->conn, net);
		return;
	}
	Flow *f = g_hash_table_lookup(w->flows, &ev->conn);
	int from = f ? side_of(f, net) : -1;
	if (from < 0)
		return;   /* a connection whose SYN we did not see */
	switch (net->action) {
	case MS_NET_DATA:
		if (ev->payload)
			on_data(w, f, from, ev->payload);
		break;
	case MS_NET_ARRIVED:
		on_arrived(w, f, from, net->bytes);
		break;
	case MS_NET_FIN:
		on_fin(w, f, from);
		break;
	case MS_NET_RESET:
		on_reset(w, f);
		break;
	default:
		break;
	}
}

static void writer_flush(MsSink *self)
{
	PcapWriter *w = (PcapWriter *)self;
	pcap_dump_flush(w->dumper);
}

static void writer_destroy(MsSink *self)
{
	PcapWriter *w = (PcapWriter *)self;
	pcap_dump_close(w->dumper);
	pcap_close(w->dead);
	g_hash_table_destroy(w->flows);
	g_hash_table_destroy(w->syns);   /* the Syns, and with them syn_order's links */
	g_free(w);
}

MsSink *pcap_writer_new(const char *path, const PcapWriterOptions *opts, GError **error)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, SNAPLEN);
	if (!dead) {
		g_set_error(error, PCAP_WRITER_ERROR, PCAP_WRITER_ERROR_OPEN, "%s: libpcap cannot start", path);
		return NULL;
	}
	pcap_dumper_t *dumper = pcap_dump_open(dead, path);
	if (!dumper) {
		g_set_error(error, PCAP_WRITER_ERROR, PCAP_WRITER_ERROR_OPEN, "%s", pcap_geterr(dead));
		pcap_close(dead);
		return NULL;
	}
	PcapWriter *w = g_new0(PcapWriter, 1);
	w->base.write = writer_write;
	w->base.flush = writer_flush;
	w->base.destroy = writer_destroy;
	w->dead = dead;
	w->dumper = dumper;
	w->epoch_us = opts && opts->epoch_us ? opts->epoch_us : PCAP_WRITER_DEFAULT_EPOCH_US;
	w->flows = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	w->syns = g_hash_table_new_full(ms_endpoint_hash, (GEqualFunc)ms_endpoint_equal, NULL, g_free);
	g_queue_init(&w->syn_order);
	return &w->base;
}

guint64 pcap_writer_frames(MsSink *sink)
{
	return ((PcapWriter *)sink)->frames;
}
