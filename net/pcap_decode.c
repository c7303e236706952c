/* net/pcap_decode.c - from frames to connections: link headers, IPv4
 * (RFC 791) and IPv6 (RFC 8200), UDP (RFC 768), and TCP (RFC 9293) followed
 * per connection, each direction put in order by a pcap_stream and read by
 * net/pcap_proto.c.
 *
 * Connections are kept in a table bounded by PCAP_DECODE_MAX_FLOWS, least
 * recently active first out; one that ends is freed after its frame.
 */
#include "net/pcap_decode_impl.h"

#include <string.h>

#define IPV6_MAX_EXT_HEADERS 8
#define VLAN_MAX_TAGS 2

/* ---- ports ------------------------------------------------------------------ */

static const struct {
	guint16 port;
	App     app;
	Role    role;
} default_ports[] = {
	{ 25, APP_SMTP, ROLE_RELAY },          /* RFC 5321: server to server */
	{ 2525, APP_SMTP, ROLE_RELAY },        /* mailsim serve */
	{ 587, APP_SMTP, ROLE_SUBMISSION },    /* RFC 6409: the MUA's port */
	{ 2587, APP_SMTP, ROLE_SUBMISSION },
	{ 465, APP_SMTP, ROLE_SUBMISSION },    /* RFC 8314: submission over TLS */
	{ 2465, APP_SMTP, ROLE_SUBMISSION },
	{ 24, APP_LMTP, ROLE_ANY },            /* RFC 2033 */
	{ 2424, APP_LMTP, ROLE_ANY },
	{ 143, APP_IMAP, ROLE_ANY },
	{ 2143, APP_IMAP, ROLE_ANY },
	{ 993, APP_IMAP, ROLE_ANY },
	{ 2993, APP_IMAP, ROLE_ANY },
	{ 110, APP_POP3, ROLE_ANY },
	{ 2110, APP_POP3, ROLE_ANY },
	{ 995, APP_POP3, ROLE_ANY },
	{ 2995, APP_POP3, ROLE_ANY },
	{ 53, APP_DNS, ROLE_ANY },
	{ 5353, APP_DNS, ROLE_ANY },
	{ 80, APP_HTTP, ROLE_ANY },
	{ 8080, APP_HTTP, ROLE_ANY },
	{ 443, APP_HTTP, ROLE_ANY },           /* HTTPS: shown as encrypted */
	{ 12345, APP_AUTH, ROLE_ANY },         /* mailsim's account service (simulated) */
	{ 2345, APP_AUTH, ROLE_ANY },          /* and in mailsim serve */
};

/* ---- link types ---------------------------------------------------------- */

static const char *const link_names[] = { "ethernet", "null", "loop", "linux-sll", "linux-sll2", "raw" };

const char *pcap_decode_link_to_string(PcapDecodeLink link)
{
	return (guint)link < G_N_ELEMENTS(link_names) ? link_names[link] : "?";
}

/* ---- connections ------------------------------------------------------------ */

static guint flow_key_hash(gconstpointer p)
{
	const FlowKey *k = p;
	guint h = 2166136261u;
	const guint8 *b = (const guint8 *)k;
	for (gsize i = 0; i < sizeof *k; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static gboolean flow_key_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(a, b, sizeof(FlowKey)) == 0;
}

/* The key is the same both ways: the smaller endpoint first. */
static void flow_key_make(FlowKey *k, guint8 family, const guint8 *src, guint16 sport,
                          const guint8 *dst, guint16 dport)
{
	gsize alen = family == 4 ? 4 : 16;
	memset(k, 0, sizeof *k);
	k->family = family;
	int c = memcmp(src, dst, alen);
	if (c < 0 || (c == 0 && sport <= dport)) {
		memcpy(k->a, src, alen);
		memcpy(k->b, dst, alen);
		k->ap = sport;
		k->bp = dport;
	} else {
		memcpy(k->a, dst, alen);
		memcpy(k->b, src, alen);
		k->ap = dport;
		k->bp = sport;
	}
}

static void endpoint_make(MsEndpoint *ep, guint8 family, const guint8 *addr, guint16 port)
{
	memset(ep, 0, sizeof *ep);
	ep->family = family == 4 ? MS_ADDR_IPV4 : MS_ADDR_IPV6;
	memcpy(ep->addr, addr, family == 4 ? 4 : 16);
	ep->port = port;
}

/* "192.0.2.7:25", "[::1]:25": the name events give an end is its
 * endpoint's text, so a reader finds net.src in `from`. */
static char *endpoint_text(const MsEndpoint *ep)
{
	char buf[MS_ENDPOINT_TEXT_MAX];
	return g_strdup(ms_endpoint_format(ep, buf));
}

/* ---- flows ------------------------------------------------------------------- */

static void flow_free(Flow *f)
{
	for (int i = 0; i < 2; i++) {
		Dir *dir = &f->dir[i];
		pcap_stream_free(dir->stream);
		g_byte_array_unref(dir->line);
		if (dir->body)
			g_byte_array_unref(dir->body);
		if (dir->dns)
			g_byte_array_unref(dir->dns);
		g_free(f->name[i]);
	}
	g_free(f);
}

/* Take a flow out of the table; it is freed after the current frame, since
 * a stream of it may be delivering right now. */
static void flow_kill(PcapDecoder *d, Flow *f)
{
	if (f->dead)
		return;
	f->dead = TRUE;
	g_hash_table_remove(d->flows, &f->key);
	g_queue_delete_link(&d->lru, f->lru);
	f->lru = NULL;
	g_ptr_array_add(d->dead, f);
}

/* Deliver what is left: what waits behind holes, partial lines, bodies. */
static void flow_flush(PcapDecoder *d, Flow *f)
{
	for (int i = 0; i < 2; i++) {
		Dir *dir = &f->dir[i];
		if (dir->fin)
			continue;
		pcap_stream_flush(dir->stream);
		if (!dir->fin)
			pcap_proto_dir_end(d, dir);
	}
}

/* Deliver what is left and forget the connection. */
static void flow_end(PcapDecoder *d, Flow *f)
{
	flow_flush(d, f);
	flow_kill(d, f);
}

static Flow *flow_new(PcapDecoder *d, const FlowKey *key, guint8 family,
                      const guint8 *caddr, guint16 cport, const guint8 *saddr, guint16 sport)
{
	if (g_hash_table_size(d->flows) >= PCAP_DECODE_MAX_FLOWS) {
		Flow *old = g_queue_peek_head(&d->lru);
		d->stats.evicted++;
		pcap_proto_emit(d, MS_EV_NOTE, old->name[CLIENT], old->name[SERVER], pcap_proto_app_name(old->app),
		                NULL, old->id, "too many connections at once: this one is no longer followed", NULL, 0,
		                NULL);
		flow_end(d, old);
	}
	Flow *f = g_new0(Flow, 1);
	f->key = *key;
	f->decoder = d;
	f->id = ++d->next_id;
	f->app = d->port_app[sport];
	f->role = d->port_role[sport];
	memcpy(f->client_addr, caddr, family == 4 ? 4 : 16);
	f->client_port = cport;
	endpoint_make(&f->ep[CLIENT], family, caddr, cport);
	endpoint_make(&f->ep[SERVER], family, saddr, sport);
	f->name[CLIENT] = endpoint_text(&f->ep[CLIENT]);
	f->name[SERVER] = endpoint_text(&f->ep[SERVER]);
	for (int i = 0; i < 2; i++) {
		Dir *dir = &f->dir[i];
		dir->flow = f;
		dir->side = i;
		dir->stream = pcap_stream_new(pcap_proto_stream_piece, dir);
		dir->line = g_byte_array_new();
		dir->mode = f->app == APP_DNS ? MODE_DNS_TCP : MODE_LINES;
	}
	g_hash_table_insert(d->flows, &f->key, f);
	g_queue_push_tail(&d->lru, f);
	f->lru = d->lru.tail;
	d->stats.connections++;
	return f;
}

static void flow_touch(PcapDecoder *d, Flow *f)
{
	g_queue_unlink(&d->lru, f->lru);
	g_queue_push_tail_link(&d->lru, f->lru);
}

/* ---- TCP ----------------------------------------------------------------------- */

typedef struct {
	guint8        family;
	const guint8 *src, *dst;   /* 4 or 16 bytes */
	const guint8 *l4;          /* the TCP or UDP header */
	gsize         l4_len;      /* up to the end of the IP payload */
} Packet;

static guint16 get16(const guint8 *p) { return (guint16)(p[0] << 8 | p[1]); }
static guint32 get32(const guint8 *p) { return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3]; }

/* RFC 1982 serial arithmetic on sequence numbers: is a after b? */
static gboolean seq_after(guint32 a, guint32 b)
{
	return (gint32)(a - b) > 0;
}

/* A side's sequence numbers are known from seq on: nothing of it sent or
 * acknowledged before. */
static void dir_seq_start(Dir *dir, guint32 seq)
{
	dir->seq_known = TRUE;
	dir->acked = dir->sent_end = seq;
}

/* The side kept a segment of its data ending at end. */
static void dir_sent(Dir *dir, guint32 seq, guint32 end)
{
	if (!dir->seq_known)
		dir_seq_start(dir, seq);   /* joined mid-connection */
	if (seq_after(end, dir->sent_end))
		dir->sent_end = end;
}

/* The other end acknowledged dir's bytes up to ack: those not acknowledged
 * before arrived (an ARRIVED event, as net/simnet.c emits one when bytes
 * reach their reader). */
static void dir_acked(PcapDecoder *d, Dir *dir, guint32 ack)
{
	if (!dir->seq_known) {
		dir_seq_start(dir, ack);   /* joined mid-connection: count from here */
		return;
	}
	if (seq_after(ack, dir->sent_end))
		ack = dir->sent_end;   /* the FIN's own number, or bytes no segment showed */
	if (!seq_after(ack, dir->acked))
		return;
	Flow *f = dir->flow;
	MsNetInfo net = pcap_proto_dir_net(dir, MS_NET_ARRIVED);
	net.bytes = ack - dir->acked;
	dir->acked = ack;
	char text[sizeof "4294967295 bytes arrived"];
	g_snprintf(text, sizeof text, "%" G_GUINT64_FORMAT " bytes arrived", net.bytes);
	pcap_proto_emit(d, MS_EV_RECV, f->name[dir->side], f->name[1 - dir->side], pcap_proto_app_name(f->app),
	                NULL, f->id, text, NULL, 0, &net);
}

/* The events mirror net/conn.c and net/simnet.c (the table in
 * sim/kernel/event.h): the SYN and a refusal belong to no connection yet
 * (conn 0, from the client); the SYN-ACK is the server's ACCEPT; the
 * client's first ACK after it its ESTABLISHED; acknowledgments are ARRIVED;
 * data (net/pcap_proto.c) DATA, a FIN FIN and any other RST RESET. */
static void tcp_packet(PcapDecoder *d, const Packet *pk)
{
	const guint8 *t = pk->l4;
	if (pk->l4_len < 20 || (t[12] >> 4) * 4u < 20 || (t[12] >> 4) * 4u > pk->l4_len) {
		d->stats.malformed++;   /* RFC 9293 3.1: data offset at least 5 words */
		return;
	}
	guint16 sport = get16(t), dport = get16(t + 2);
	guint32 seq = get32(t + 4), ack = get32(t + 8);
	guint8 flags = t[13];
	gsize hlen = (t[12] >> 4) * 4u;
	const guint8 *payload = t + hlen;
	gsize plen = pk->l4_len - hlen;
	gboolean syn = flags & 0x02, fin = flags & 0x01, rst = flags & 0x04, has_ack = flags & 0x10;
	gsize alen = pk->family == 4 ? 4 : 16;

	FlowKey key;
	flow_key_make(&key, pk->family, pk->src, sport, pk->dst, dport);
	Flow *f = g_hash_table_lookup(d->flows, &key);

	if (syn && !has_ack) {
		if (f && f->syn && f->client_port == sport && memcmp(f->client_addr, pk->src, alen) == 0 &&
		    !f->data_seen) {
			d->stats.retransmissions++;   /* the same SYN again */
			return;
		}
		if (f)
			flow_end(d, f);   /* the ports are used again by a new connection */
		if (d->port_app[dport] == APP_NONE) {
			d->stats.ignored++;
			return;
		}
		f = flow_new(d, &key, pk->family, pk->src, sport, pk->dst, dport);
		f->syn = TRUE;
		pcap_stream_set_isn(f->dir[CLIENT].stream, seq);
		dir_seq_start(&f->dir[CLIENT], seq + 1);   /* RFC 9293 3.4: the SYN takes one number */
		g_autofree char *text = g_strdup_printf("SYN %s -> %s", f->name[CLIENT], f->name[SERVER]);
		MsNetInfo net = pcap_proto_dir_net(&f->dir[CLIENT], MS_NET_SYN);
		pcap_proto_emit(d, MS_EV_CONNECT, f->name[CLIENT], f->name[SERVER], pcap_proto_app_name(f->app),
		                pcap_proto_connect_step(f), 0, text, NULL, 0, &net);
		return;
	}
	if (!f) {
		if (rst || (!syn && plen == 0)) {
			if (d->port_app[sport] == APP_NONE && d->port_app[dport] == APP_NONE)
				d->stats.ignored++;
			return;   /* nothing to follow */
		}
		/* joined mid-connection: the server is the end on a known port */
		gboolean src_is_server;
		if (syn)
			src_is_server = TRUE;   /* a SYN-ACK comes from the server */
		else if (d->port_app[sport] != APP_NONE && d->port_app[dport] != APP_NONE)
			src_is_server = sport < dport;
		else
			src_is_server = d->port_app[sport] != APP_NONE;
		guint16 server_port = src_is_server ? sport : dport;
		if (d->port_app[server_port] == APP_NONE) {
			d->stats.ignored++;
			return;
		}
		f = src_is_server ? flow_new(d, &key, pk->family, pk->dst, dport, pk->src, sport)
		                  : flow_new(d, &key, pk->family, pk->src, sport, pk->dst, dport);
		if (!syn)
			pcap_proto_emit(d, MS_EV_NOTE, f->name[CLIENT], f->name[SERVER], pcap_proto_app_name(f->app),
			                NULL, f->id, "the capture joins this connection in the middle", NULL, 0, NULL);
	}
	flow_touch(d, f);
	int side = (sport == f->client_port && memcmp(pk->src, f->client_addr, alen) == 0) ? CLIENT : SERVER;
	Dir *dir = &f->dir[side];

	if (rst) {
		flow_flush(d, f);   /* what came before the reset, first */
		if (side == SERVER && !f->synack && !f->data_seen) {
			/* the answer to the SYN: the client's connect failed */
			g_autofree char *text = g_strdup_printf("%s refused the connection (RST)", f->name[SERVER]);
			MsNetInfo net = pcap_proto_dir_net(&f->dir[CLIENT], MS_NET_REFUSED);
			pcap_proto_emit(d, MS_EV_ERROR, f->name[CLIENT], f->name[SERVER], pcap_proto_app_name(f->app),
			                pcap_proto_connect_step(f), 0, text, NULL, 0, &net);
		} else {
			g_autofree char *text = g_strdup_printf("connection reset by %s", f->name[side]);
			pcap_proto_emit_dir(d, dir, MS_EV_ERROR, MS_NET_RESET, pcap_proto_dir_step(dir), text, NULL, 0);
		}
		flow_kill(d, f);
		return;
	}
	if (syn) {
		if (side != SERVER || f->synack)
			return;   /* a simultaneous open, or the SYN-ACK again */
		f->synack = TRUE;
		pcap_stream_set_isn(f->dir[SERVER].stream, seq);
		pcap_stream_set_isn(f->dir[CLIENT].stream, ack - 1);
		dir_seq_start(dir, seq + 1);
		if (!f->dir[CLIENT].seq_known)
			dir_seq_start(&f->dir[CLIENT], ack);   /* the capture missed the SYN */
		g_autofree char *text = g_strdup_printf("accepted %s on port %u", f->name[CLIENT], sport);
		pcap_proto_emit_dir(d, dir, MS_EV_ACCEPT, MS_NET_ACCEPT, pcap_proto_connect_step(f), text, NULL, 0);
		return;
	}
	if (has_ack && side == CLIENT && f->synack && !f->established) {
		/* RFC 9293 3.5: the client's ACK of the SYN-ACK: its connect is done */
		f->established = TRUE;
		g_autofree char *text = g_strdup_printf("connected %s -> %s", f->name[CLIENT], f->name[SERVER]);
		pcap_proto_emit_dir(d, dir, MS_EV_CONNECT, MS_NET_ESTABLISHED, pcap_proto_connect_step(f), text, NULL, 0);
	}
	if (has_ack)
		dir_acked(d, &f->dir[1 - side], ack);   /* before this side's data: it answers what arrived */
	if (plen > 0)
		f->data_seen = TRUE;
	d->stats.segments++;
	PcapStreamResult res = pcap_stream_add(dir->stream, seq, payload, plen, fin);
	switch (res) {
	case PCAP_STREAM_DUPLICATE:
		d->stats.retransmissions++;
		break;
	case PCAP_STREAM_EARLY:
		d->stats.out_of_order++;
		break;
	default:
		break;
	}
	if (plen > 0 && res != PCAP_STREAM_OUT_OF_RANGE)
		dir_sent(dir, seq, seq + (guint32)plen);
	if (!f->dead && f->dir[CLIENT].fin && f->dir[SERVER].fin)
		flow_kill(d, f);
}

/* ---- UDP ------------------------------------------------------------------------ */

/* A datagram as net/conn.c's ms_dgram_emit_send shows one (net DATAGRAM,
 * conn 0), then what its DNS message says. */
static void udp_packet(PcapDecoder *d, const Packet *pk)
{
	const guint8 *u = pk->l4;
	if (pk->l4_len < 8 || get16(u + 4) < 8 || get16(u + 4) > pk->l4_len) {
		d->stats.malformed++;   /* RFC 768: the length covers header and data */
		return;
	}
	guint16 sport = get16(u), dport = get16(u + 2);
	if (d->port_app[sport] != APP_DNS && d->port_app[dport] != APP_DNS) {
		d->stats.ignored++;
		return;
	}
	d->stats.datagrams++;
	gsize len = get16(u + 4) - 8u;
	MsNetInfo net = { .action = MS_NET_DATAGRAM, .transport = MS_TRANSPORT_UDP };
	endpoint_make(&net.src, pk->family, pk->src, sport);
	endpoint_make(&net.dst, pk->family, pk->dst, dport);
	g_autofree char *from = endpoint_text(&net.src);
	g_autofree char *to = endpoint_text(&net.dst);
	g_autofree char *text = g_strdup_printf("datagram %s -> %s, %" G_GSIZE_FORMAT " bytes", from, to, len);
	pcap_proto_emit(d, MS_EV_SEND, from, to, "dns", NULL, 0, text, u + 8, len, &net);
	pcap_proto_dns_message(d, from, to, 0, u + 8, len);
}

/* ---- IP ---------------------------------------------------------------------------- */

static void transport(PcapDecoder *d, guint8 proto, const Packet *pk)
{
	if (proto == 6)
		tcp_packet(d, pk);
	else if (proto == 17)
		udp_packet(d, pk);
	else
		d->stats.ignored++;
}

/* RFC 791 3.1 */
static void ipv4_packet(PcapDecoder *d, const guint8 *p, gsize len)
{
	if (len < 20 || p[0] >> 4 != 4 || (p[0] & 0x0f) < 5) {
		d->stats.malformed++;
		return;
	}
	gsize ihl = (p[0] & 0x0f) * 4u, total = get16(p + 2);
	if (total < ihl) {
		d->stats.malformed++;
		return;
	}
	if (total > len) {
		d->stats.truncated++;   /* the snap length cut it: its bytes are not all here */
		return;
	}
	if ((get16(p + 6) & 0x3fff) != 0) {
		d->stats.fragments++;   /* MF set or an offset: a piece of a larger datagram */
		return;
	}
	Packet pk = { .family = 4, .src = p + 12, .dst = p + 16, .l4 = p + ihl, .l4_len = total - ihl };
	transport(d, p[9], &pk);
}

/* RFC 8200 4: hop-by-hop, routing and destination options are skipped; a
 * fragment header means a piece of a datagram. */
static void ipv6_packet(PcapDecoder *d, const guint8 *p, gsize len)
{
	if (len < 40 || p[0] >> 4 != 6) {
		d->stats.malformed++;
		return;
	}
	gsize total = 40 + (gsize)get16(p + 4);
	if (total > len) {
		d->stats.truncated++;
		return;
	}
	guint8 next = p[6];
	gsize off = 40;
	for (int i = 0; i < IPV6_MAX_EXT_HEADERS && (next == 0 || next == 43 || next == 60); i++) {
		if (off + 8 > total) {
			d->stats.malformed++;
			return;
		}
		next = p[off];
		off += (p[off + 1] + 1u) * 8u;
	}
	if (next == 44) {
		d->stats.fragments++;
		return;
	}
	if (off > total) {
		d->stats.malformed++;
		return;
	}
	Packet pk = { .family = 6, .src = p + 8, .dst = p + 24, .l4 = p + off, .l4_len = total - off };
	transport(d, next, &pk);
}

static void ip_packet(PcapDecoder *d, guint16 ethertype, const guint8 *p, gsize len)
{
	if (ethertype == 0x0800)
		ipv4_packet(d, p, len);
	else if (ethertype == 0x86dd)
		ipv6_packet(d, p, len);
	else
		d->stats.not_ip++;
}

/* BSD loopback address families for IPv6 differ by system. */
static guint16 family_to_ethertype(guint32 family)
{
	if (family == 2)
		return 0x0800;
	if (family == 10 || family == 24 || family == 28 || family == 30)
		return 0x86dd;
	return 0;
}

void pcap_decode_frame(PcapDecoder *d, PcapDecodeLink link, gint64 t_us, const guint8 *frame, gsize caplen)
{
	d->now = t_us;
	d->stats.frames++;
	gsize off = 0;
	guint16 type = 0;
	switch (link) {
	case PCAP_DECODE_LINK_ETHERNET:
		if (caplen < 14)
			break;
		type = get16(frame + 12);
		off = 14;
		/* IEEE 802.1Q / 802.1ad: VLAN tags before the EtherType */
		for (int i = 0; i < VLAN_MAX_TAGS && (type == 0x8100 || type == 0x88a8) && off + 4 <= caplen; i++) {
			type = get16(frame + off + 2);
			off += 4;
		}
		break;
	case PCAP_DECODE_LINK_NULL:
	case PCAP_DECODE_LINK_LOOP:
		if (caplen < 4)
			break;
		off = 4;
		if (link == PCAP_DECODE_LINK_LOOP) {
			type = family_to_ethertype(get32(frame));
		} else {
			/* host order of the machine that captured: try both */
			guint32 le = (guint32)frame[0] | (guint32)frame[1] << 8 | (guint32)frame[2] << 16 | (guint32)frame[3] << 24;
			type = family_to_ethertype(le);
			if (!type)
				type = family_to_ethertype(get32(frame));
		}
		break;
	case PCAP_DECODE_LINK_LINUX_SLL:
		if (caplen < 16)
			break;
		type = get16(frame + 14);
		off = 16;
		break;
	case PCAP_DECODE_LINK_LINUX_SLL2:
		if (caplen < 20)
			break;
		type = get16(frame);
		off = 20;
		break;
	case PCAP_DECODE_LINK_RAW:
		if (caplen < 1)
			break;
		type = frame[0] >> 4 == 4 ? 0x0800 : frame[0] >> 4 == 6 ? 0x86dd : 0;
		break;
	}
	if (!type || off > caplen)
		d->stats.not_ip++;
	else
		ip_packet(d, type, frame + off, caplen - off);
	if (d->dead->len)
		g_ptr_array_set_size(d->dead, 0);
}

const char *pcap_decode_dns_step(const char *qname, guint16 qtype, gboolean is_mx_host)
{
	return pcap_proto_dns_step(qname, qtype, is_mx_host);
}

/* ---- the decoder ------------------------------------------------------------------ */

PcapDecoder *pcap_decode_new(PcapDecodeEmit emit, gpointer data)
{
	PcapDecoder *d = g_new0(PcapDecoder, 1);
	d->emit = emit;
	d->emit_data = data;
	for (guint i = 0; i < G_N_ELEMENTS(default_ports); i++) {
		d->port_app[default_ports[i].port] = (guint8)default_ports[i].app;
		d->port_role[default_ports[i].port] = (guint8)default_ports[i].role;
	}
	d->flows = g_hash_table_new(flow_key_hash, flow_key_equal);
	g_queue_init(&d->lru);
	d->dead = g_ptr_array_new_with_free_func((GDestroyNotify)flow_free);
	d->mx_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_queue_init(&d->mx_order);
	return d;
}

void pcap_decode_free(PcapDecoder *d)
{
	if (!d)
		return;
	GList *flows = g_hash_table_get_values(d->flows);
	for (GList *l = flows; l; l = l->next)
		flow_kill(d, l->data);
	g_list_free(flows);
	g_ptr_array_unref(d->dead);
	g_hash_table_destroy(d->flows);
	g_queue_clear(&d->lru);
	g_queue_clear(&d->mx_order);   /* the table owns the names */
	g_hash_table_destroy(d->mx_names);
	g_free(d);
}

gboolean pcap_decode_set_port(PcapDecoder *d, guint16 port, const char *proto)
{
	if (!g_ascii_strcasecmp(proto, "submission")) {
		d->port_app[port] = APP_SMTP;
		d->port_role[port] = ROLE_SUBMISSION;
		return TRUE;
	}
	for (guint i = 0; i < APP_COUNT; i++) {
		if (g_ascii_strcasecmp(proto, pcap_proto_app_name(i)) != 0)
			continue;
		d->port_app[port] = (guint8)i;
		d->port_role[port] = i == APP_SMTP ? ROLE_RELAY : ROLE_ANY;
		return TRUE;
	}
	return FALSE;
}

const char *pcap_decode_port_proto(PcapDecoder *d, guint16 port)
{
	if (d->port_app[port] == APP_NONE)
		return NULL;
	if (d->port_role[port] == ROLE_SUBMISSION)
		return "submission";
	return pcap_proto_app_name(d->port_app[port]);
}

void pcap_decode_finish(PcapDecoder *d)
{
	/* oldest first, so the last events come in the order the
	 * connections were last active */
	while (!g_queue_is_empty(&d->lru))
		flow_end(d, g_queue_peek_head(&d->lru));
	g_ptr_array_set_size(d->dead, 0);
}

const PcapDecodeStats *pcap_decode_stats(PcapDecoder *d)
{
	return &d->stats;
}
