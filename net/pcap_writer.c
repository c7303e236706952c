/* net/pcap_writer.c - events in, frames out: a TCP state machine that replays
 * what the simulated network did, one frame per segment.
 *
 * Each end of a connection counts the payload bytes it sent and how many of
 * them the peer has received (RECV events).  Its sequence number is then
 * ISN + 1 + sent (RFC 9293 3.4), its acknowledgment ISN' + 1 + what it
 * received, plus one for a FIN it has seen: nothing is ever acknowledged
 * before it was written, so Wireshark's analysis stays quiet.
 */
#include "net/pcap_writer.h"
#include "net/pcap_frame.h"

#include <arpa/inet.h>
#include <pcap.h>
#include <string.h>

#define SNAPLEN 65535
#define ADDR_TEXT_MAX 64

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
	char    *name;        /* what events call this end */
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

/* A SYN whose answer has not come yet. */
typedef struct {
	guint8   src[4], dst[4];
	guint16  sport, dport;
	guint32  isn;
	char    *name;        /* the client, as the SYN event calls it */
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
	GHashTable    *syns;         /* "A:P" of the client -> Syn* */
	GQueue         syn_order;    /* keys of syns, oldest first */
} PcapWriter;

/* ---- parsing the event texts ------------------------------------------- */

/* "192.0.2.7:25" at *p: advances *p past it. */
static gboolean parse_endpoint(const char **p, guint8 addr[4], guint16 *port)
{
	const char *s = *p;
	const char *colon = s;
	while (*colon && (g_ascii_isdigit(*colon) || *colon == '.'))
		colon++;
	if (*colon != ':' || colon == s || colon - s >= ADDR_TEXT_MAX)
		return FALSE;
	char buf[ADDR_TEXT_MAX];
	memcpy(buf, s, (gsize)(colon - s));
	buf[colon - s] = '\0';
	if (inet_pton(AF_INET, buf, addr) != 1)
		return FALSE;
	char *end;
	guint64 v = g_ascii_strtoull(colon + 1, &end, 10);
	if (end == colon + 1 || v > G_MAXUINT16)
		return FALSE;
	*port = (guint16)v;
	*p = end;
	return TRUE;
}

/* "A:P -> B:P" after prefix. */
static gboolean parse_pair(const char *text, const char *prefix, guint8 a[4], guint16 *ap,
                           guint8 b[4], guint16 *bp)
{
	if (!text || !g_str_has_prefix(text, prefix))
		return FALSE;
	const char *p = text + strlen(prefix);
	if (!parse_endpoint(&p, a, ap) || !g_str_has_prefix(p, " -> "))
		return FALSE;
	p += 4;
	return parse_endpoint(&p, b, bp);
}

static char *endpoint_key(const guint8 addr[4], guint16 port)
{
	return g_strdup_printf("%u.%u.%u.%u:%u", addr[0], addr[1], addr[2], addr[3], port);
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

static void syn_free(gpointer data)
{
	Syn *s = data;
	g_free(s->name);
	g_free(s);
}

static void flow_free(gpointer data)
{
	Flow *f = data;
	g_free(f->end[CLIENT].name);
	g_free(f->end[SERVER].name);
	g_free(f);
}

static void forget_syn(PcapWriter *w, const char *key)
{
	GList *l = g_queue_find_custom(&w->syn_order, key, (GCompareFunc)strcmp);
	if (l) {
		g_free(l->data);
		g_queue_delete_link(&w->syn_order, l);
	}
	g_hash_table_remove(w->syns, key);
}

static void on_syn(PcapWriter *w, const MsEvent *ev)
{
	Syn *s = g_new0(Syn, 1);
	if (!parse_pair(ev->text, "SYN ", s->src, &s->sport, s->dst, &s->dport)) {
		syn_free(s);
		return;
	}
	s->name = g_strdup(ev->from);
	s->isn = make_isn(s->src, s->sport, s->dst, s->dport, w->syn_count++);
	char *key = endpoint_key(s->src, s->sport);
	forget_syn(w, key);
	if (g_queue_get_length(&w->syn_order) >= PCAP_WRITER_MAX_PENDING_SYNS) {
		char *oldest = g_queue_pop_head(&w->syn_order);
		g_hash_table_remove(w->syns, oldest);
		g_free(oldest);
	}
	g_hash_table_insert(w->syns, g_strdup(key), s);
	g_queue_push_tail(&w->syn_order, key);

	PcapTcpHeader h = { .sport = s->sport, .dport = s->dport, .seq = s->isn, .flags = PCAP_TCP_SYN,
	                    .window = PCAP_WRITER_WINDOW, .mss = PCAP_FRAME_MSS, .ip_id = w->ip_id++ };
	memcpy(h.src, s->src, 4);
	memcpy(h.dst, s->dst, 4);
	g_autoptr(GByteArray) frame = pcap_frame_tcp(&h, NULL, 0, PCAP_FRAME_LINK_ETHERNET);
	dump(w, frame);
}

/* The connection the SYN from client key started, now with its id. */
static Flow *flow_from_syn(PcapWriter *w, guint64 id, const char *key,
                           const char *client_name, const char *server_name)
{
	Syn *s = g_hash_table_lookup(w->syns, key);
	if (!s)
		return NULL;
	Flow *f = g_new0(Flow, 1);
	f->id = id;
	End *c = &f->end[CLIENT], *sv = &f->end[SERVER];
	memcpy(c->addr, s->src, 4);
	c->port = s->sport;
	c->isn = s->isn;
	c->name = g_strdup(client_name ? client_name : s->name);
	memcpy(sv->addr, s->dst, 4);
	sv->port = s->dport;
	sv->isn = make_isn(s->dst, s->dport, s->src, s->sport, s->isn);
	sv->name = g_strdup(server_name);
	g_hash_table_insert(w->flows, &f->id, f);
	forget_syn(w, key);
	return f;
}

static void on_accept(PcapWriter *w, const MsEvent *ev)
{
	guint8 addr[4];
	guint16 port;
	const char *p = ev->text;
	if (!p || !g_str_has_prefix(p, "accepted "))
		return;
	p += strlen("accepted ");
	if (!parse_endpoint(&p, addr, &port))
		return;
	g_autofree char *key = endpoint_key(addr, port);
	Flow *f = flow_from_syn(w, ev->conn, key, ev->to, ev->from);
	/* the server answered the SYN; the client's ACK waits for "connected" */
	if (f)
		write_synack(w, f);
}

static void on_connected(PcapWriter *w, const MsEvent *ev)
{
	guint8 a[4], b[4];
	guint16 ap, bp;
	if (!parse_pair(ev->text, "connected ", a, &ap, b, &bp))
		return;
	Flow *f = g_hash_table_lookup(w->flows, &ev->conn);
	if (!f) {
		g_autofree char *key = endpoint_key(a, ap);
		f = flow_from_syn(w, ev->conn, key, ev->from, ev->to);
	}
	if (f)
		flow_establish(w, f);
}

/* A connect that failed: a refusal is a RST from the server; a time-out or
 * an unreachable host leaves the SYN unanswered. */
static void on_connect_failed(PcapWriter *w, const MsEvent *ev)
{
	guint8 dst[4];
	guint16 dport;
	const char *p = ev->text + strlen("connect to ");
	if (!parse_endpoint(&p, dst, &dport))
		return;
	for (GList *l = w->syn_order.tail; l; l = l->prev) {
		Syn *s = g_hash_table_lookup(w->syns, l->data);
		if (!s || s->dport != dport || memcmp(s->dst, dst, 4) != 0 || g_strcmp0(s->name, ev->from) != 0)
			continue;
		if (strstr(ev->text, "refused")) {
			/* RFC 9293 3.5.2: a RST answering a SYN acknowledges it */
			PcapTcpHeader h = { .sport = s->dport, .dport = s->sport, .ack = s->isn + 1,
			                    .flags = PCAP_TCP_RST | PCAP_TCP_ACK, .ip_id = w->ip_id++ };
			memcpy(h.src, s->dst, 4);
			memcpy(h.dst, s->src, 4);
			g_autoptr(GByteArray) frame = pcap_frame_tcp(&h, NULL, 0, PCAP_FRAME_LINK_ETHERNET);
			dump(w, frame);
		}
		g_autofree char *key = g_strdup(l->data);
		forget_syn(w, key);
		return;
	}
}

/* Which end an event comes from: the "C: "/"S: " of a SEND says it best;
 * else the name, unless both ends share it. */
static int side_of(const Flow *f, const MsEvent *ev)
{
	if (ev->kind == MS_EV_SEND && ev->text) {
		if (g_str_has_prefix(ev->text, "C: "))
			return CLIENT;
		if (g_str_has_prefix(ev->text, "S: "))
			return SERVER;
	}
	gboolean c = g_strcmp0(ev->from, f->end[CLIENT].name) == 0;
	gboolean s = g_strcmp0(ev->from, f->end[SERVER].name) == 0;
	if (c != s)
		return c ? CLIENT : SERVER;
	return -1;
}

static void maybe_forget(PcapWriter *w, Flow *f)
{
	if (f->end[CLIENT].fin_acked && f->end[SERVER].fin_acked)
		g_hash_table_remove(w->flows, &f->id);
}

static void on_send(PcapWriter *w, Flow *f, const MsEvent *ev)
{
	int from = side_of(f, ev);
	if (from < 0 || f->end[from].fin_sent)
		return;
	flow_establish(w, f);
	gsize len;
	const guint8 *data = g_bytes_get_data(ev->payload, &len);
	/* split at the MSS the SYNs announced */
	for (gsize off = 0; off < len; off += PCAP_FRAME_MSS) {
		gsize n = MIN(PCAP_FRAME_MSS, len - off);
		guint8 flags = PCAP_TCP_ACK | (off + n == len ? PCAP_TCP_PSH : 0);
		write_segment(w, f, from, flags, data + off, n);
		f->end[from].sent += n;
	}
}

static void on_recv(PcapWriter *w, Flow *f, const MsEvent *ev)
{
	char *end;
	guint64 n = g_ascii_strtoull(ev->text ? ev->text : "", &end, 10);
	if (!ev->text || end == ev->text || n == 0)
		return;
	int from = side_of(f, ev);
	if (from < 0) {
		/* both ends have one name: the arrival is from the end with
		 * bytes still on the way */
		End *c = &f->end[CLIENT];
		from = c->sent - c->delivered >= n ? CLIENT : SERVER;
	}
	End *snd = &f->end[from];
	flow_establish(w, f);
	snd->delivered = MIN(snd->sent, snd->delivered + n);
	if (snd->fin_sent && snd->delivered == snd->sent)
		snd->fin_acked = TRUE;
	write_segment(w, f, 1 - from, PCAP_TCP_ACK, NULL, 0);
	maybe_forget(w, f);
}

static void on_close(PcapWriter *w, Flow *f, const MsEvent *ev)
{
	int from = side_of(f, ev);
	if (from < 0)
		from = f->end[CLIENT].fin_sent ? SERVER : CLIENT;
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

static void on_reset(PcapWriter *w, Flow *f)
{
	flow_establish(w, f);
	write_segment(w, f, SERVER, PCAP_TCP_RST | PCAP_TCP_ACK, NULL, 0);
	g_hash_table_remove(w->flows, &f->id);
}

/* ---- datagrams ----------------------------------------------------------- */

static void on_datagram(PcapWriter *w, const MsEvent *ev)
{
	PcapUdpHeader h = { .ip_id = w->ip_id++ };
	if (!parse_pair(ev->text, "datagram ", h.src, &h.sport, h.dst, &h.dport))
		return;
	gsize len;
	const guint8 *data = g_bytes_get_data(ev->payload, &len);
	g_autoptr(GPtrArray) frames = pcap_frame_udp(&h, data, len, PCAP_FRAME_LINK_ETHERNET);
	for (guint i = 0; frames && i < frames->len; i++)
		dump(w, g_ptr_array_index(frames, i));
}

/* ---- the sink ------------------------------------------------------------ */

static void writer_write(MsSink *self, const MsEvent *ev)
{
	PcapWriter *w = (PcapWriter *)self;
	w->now = ev->t_us;
	if (ev->conn == 0) {
		if (ev->kind == MS_EV_CONNECT && ev->text && g_str_has_prefix(ev->text, "SYN "))
			on_syn(w, ev);
		else if (ev->kind == MS_EV_ERROR && ev->text && g_str_has_prefix(ev->text, "connect to "))
			on_connect_failed(w, ev);
		else if (ev->kind == MS_EV_SEND && ev->payload && ev->text && g_str_has_prefix(ev->text, "datagram "))
			on_datagram(w, ev);
		return;
	}
	if (ev->kind == MS_EV_ACCEPT) {
		if (!g_hash_table_contains(w->flows, &ev->conn))
			on_accept(w, ev);
		return;
	}
	if (ev->kind == MS_EV_CONNECT) {
		on_connected(w, ev);
		return;
	}
	Flow *f = g_hash_table_lookup(w->flows, &ev->conn);
	if (!f)
		return;
	switch (ev->kind) {
	case MS_EV_SEND:
		if (ev->payload && g_bytes_get_size(ev->payload) > 0)
			on_send(w, f, ev);
		break;
	case MS_EV_RECV:
		on_recv(w, f, ev);
		break;
	case MS_EV_CLOSE:
		on_close(w, f, ev);
		break;
	case MS_EV_ERROR:
		if (ev->text && g_str_has_prefix(ev->text, "connection reset"))
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
	g_hash_table_destroy(w->syns);
	g_queue_clear_full(&w->syn_order, g_free);
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
	w->flows = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, flow_free);
	w->syns = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, syn_free);
	g_queue_init(&w->syn_order);
	return &w->base;
}

guint64 pcap_writer_frames(MsSink *sink)
{
	return ((PcapWriter *)sink)->frames;
}
