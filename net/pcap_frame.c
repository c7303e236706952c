/* net/pcap_frame.c - frames for the pcap writer: Ethernet II, IPv4 (RFC 791),
 * TCP (RFC 9293), UDP (RFC 768), fields written big-endian one by one so a
 * student can follow each header against its RFC diagram.
 */
#include "net/pcap_frame.h"
#include "net/pcap_checksum.h"

#include <string.h>

#define IPV4_FLAG_DF   0x4000   /* RFC 791 3.1: don't fragment */
#define IPV4_FLAG_MF   0x2000   /* RFC 791 3.1: more fragments */
#define TCP_OPT_MSS    2        /* RFC 9293 3.2: kind 2, length 4 */
#define TCP_OPT_MSS_LEN 4

static const struct {
	guint8      bit;
	const char *name;
} tcp_flag_names[] = {
	{ PCAP_TCP_SYN, "SYN" }, { PCAP_TCP_FIN, "FIN" }, { PCAP_TCP_RST, "RST" },
	{ PCAP_TCP_PSH, "PSH" }, { PCAP_TCP_ACK, "ACK" },
};

char *pcap_tcp_flags_to_string(guint8 flags)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < G_N_ELEMENTS(tcp_flag_names); i++) {
		if (!(flags & tcp_flag_names[i].bit))
			continue;
		if (s->len)
			g_string_append_c(s, '|');
		g_string_append(s, tcp_flag_names[i].name);
	}
	return g_string_free(s, FALSE);
}

static const char *const link_names[] = { "ethernet", "raw" };

const char *pcap_frame_link_to_string(PcapFrameLink link)
{
	return (guint)link < G_N_ELEMENTS(link_names) ? link_names[link] : "?";
}

static void put16(guint8 *p, guint16 v)
{
	p[0] = (guint8)(v >> 8);
	p[1] = (guint8)v;
}

static void put32(guint8 *p, guint32 v)
{
	p[0] = (guint8)(v >> 24);
	p[1] = (guint8)(v >> 16);
	p[2] = (guint8)(v >> 8);
	p[3] = (guint8)v;
}

void pcap_frame_mac_for(const guint8 addr[4], guint8 mac[6])
{
	mac[0] = 0x02;   /* locally administered, unicast */
	mac[1] = 0x00;
	memcpy(mac + 2, addr, 4);
}

/* Ethernet II header for an IPv4 packet from src to dst. */
static void append_ethernet(GByteArray *out, const guint8 src[4], const guint8 dst[4])
{
	guint8 eth[PCAP_FRAME_ETH_LEN];
	pcap_frame_mac_for(dst, eth);
	pcap_frame_mac_for(src, eth + 6);
	put16(eth + 12, PCAP_FRAME_ETHERTYPE_IPV4);
	g_byte_array_append(out, eth, sizeof eth);
}

/* RFC 791 3.1: the 20-byte header; frag is the flags and fragment offset
 * field as it goes on the wire (offset in 8-byte units). */
static void append_ipv4(GByteArray *out, const guint8 src[4], const guint8 dst[4], guint8 proto,
                        guint16 id, guint16 frag, gsize payload_len)
{
	guint8 ip[PCAP_FRAME_IPV4_LEN] = { 0 };
	ip[0] = 0x45;                       /* version 4, IHL 5 words */
	put16(ip + 2, (guint16)(PCAP_FRAME_IPV4_LEN + payload_len));
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = PCAP_FRAME_TTL;
	ip[9] = proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	put16(ip + 10, pcap_checksum_ipv4_header(ip, sizeof ip));
	g_byte_array_append(out, ip, sizeof ip);
}

GByteArray *pcap_frame_tcp(const PcapTcpHeader *h, const guint8 *payload, gsize len, PcapFrameLink link)
{
	g_return_val_if_fail(len <= PCAP_FRAME_MSS, NULL);
	gsize hlen = PCAP_FRAME_TCP_LEN + (h->mss ? TCP_OPT_MSS_LEN : 0);
	guint8 tcp[PCAP_FRAME_TCP_LEN + TCP_OPT_MSS_LEN] = { 0 };
	put16(tcp, h->sport);
	put16(tcp + 2, h->dport);
	put32(tcp + 4, h->seq);
	/* RFC 9293 3.1: the acknowledgment number is meaningful only with ACK */
	put32(tcp + 8, (h->flags & PCAP_TCP_ACK) ? h->ack : 0);
	tcp[12] = (guint8)((hlen / 4) << 4);   /* data offset in 32-bit words */
	tcp[13] = h->flags;
	put16(tcp + 14, h->window);
	if (h->mss) {
		tcp[20] = TCP_OPT_MSS;
		tcp[21] = TCP_OPT_MSS_LEN;
		put16(tcp + 22, h->mss);
	}

	GByteArray *seg = g_byte_array_sized_new((guint)(hlen + len));
	g_byte_array_append(seg, tcp, (guint)hlen);
	if (len)
		g_byte_array_append(seg, payload, (guint)len);
	put16(seg->data + 16, pcap_checksum_ipv4_transport(h->src, h->dst, PCAP_CHECKSUM_PROTO_TCP,
	                                                   seg->data, seg->len));

	GByteArray *out = g_byte_array_sized_new(PCAP_FRAME_ETH_LEN + PCAP_FRAME_IPV4_LEN + seg->len);
	if (link == PCAP_FRAME_LINK_ETHERNET)
		append_ethernet(out, h->src, h->dst);
	append_ipv4(out, h->src, h->dst, PCAP_CHECKSUM_PROTO_TCP, h->ip_id, IPV4_FLAG_DF, seg->len);
	g_byte_array_append(out, seg->data, seg->len);
	g_byte_array_unref(seg);
	return out;
}

GPtrArray *pcap_frame_udp(const PcapUdpHeader *h, const guint8 *payload, gsize len, PcapFrameLink link)
{
	if (len > PCAP_FRAME_UDP_MAX)
		return NULL;
	gsize total = PCAP_FRAME_UDP_LEN + len;
	g_autoptr(GByteArray) dgram = g_byte_array_sized_new((guint)total);
	guint8 udp[PCAP_FRAME_UDP_LEN] = { 0 };
	put16(udp, h->sport);
	put16(udp + 2, h->dport);
	put16(udp + 4, (guint16)total);
	g_byte_array_append(dgram, udp, sizeof udp);
	if (len)
		g_byte_array_append(dgram, payload, (guint)len);
	put16(dgram->data + 6, pcap_checksum_ipv4_transport(h->src, h->dst, PCAP_CHECKSUM_PROTO_UDP,
	                                                    dgram->data, dgram->len));

	GPtrArray *frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
	/* RFC 791 2.3: fragments carry multiples of 8 bytes but the last */
	const gsize chunk = (PCAP_FRAME_MTU - PCAP_FRAME_IPV4_LEN) / 8 * 8;
	gboolean whole = total <= PCAP_FRAME_MTU - PCAP_FRAME_IPV4_LEN;
	for (gsize off = 0; off < total; off += chunk) {
		gsize n = MIN(chunk, total - off);
		guint16 frag = whole ? IPV4_FLAG_DF
		                     : (guint16)((off / 8) | (off + n < total ? IPV4_FLAG_MF : 0));
		GByteArray *f = g_byte_array_sized_new((guint)(PCAP_FRAME_ETH_LEN + PCAP_FRAME_IPV4_LEN + n));
		if (link == PCAP_FRAME_LINK_ETHERNET)
			append_ethernet(f, h->src, h->dst);
		append_ipv4(f, h->src, h->dst, PCAP_CHECKSUM_PROTO_UDP, h->ip_id, frag, n);
		g_byte_array_append(f, dgram->data + off, (guint)n);
		g_ptr_array_add(frames, f);
	}
	return frames;
}
