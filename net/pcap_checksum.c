/* net/pcap_checksum.c - the Internet checksum (RFC 1071) and the TCP/UDP
 * pseudo-header over IPv4 (RFC 9293 3.1, RFC 768).
 *
 * A 32-bit accumulator holds the sum of 16-bit big-endian words; carries are
 * folded back in at the end, which is what "one's complement sum" means.
 */
#include "net/pcap_checksum.h"

guint32 pcap_checksum_add(guint32 sum, const guint8 *data, gsize len)
{
	gsize i = 0;
	for (; i + 1 < len; i += 2) {
		sum += (guint32)data[i] << 8 | data[i + 1];
		/* keep room for the next carry: fold early on long buffers */
		if (sum & 0x80000000u)
			sum = (sum & 0xffff) + (sum >> 16);
	}
	if (i < len)
		sum += (guint32)data[i] << 8;   /* RFC 1071 4.1: pad the odd byte with zero */
	return sum;
}

guint16 pcap_checksum_finish(guint32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (guint16)~sum;
}

guint16 pcap_checksum_internet(const guint8 *data, gsize len)
{
	return pcap_checksum_finish(pcap_checksum_add(0, data, len));
}

guint16 pcap_checksum_ipv4_header(const guint8 *hdr, gsize len)
{
	return pcap_checksum_internet(hdr, len);
}

static guint32 pseudo_header_sum(const guint8 src[4], const guint8 dst[4], guint8 proto, gsize len)
{
	/* RFC 9293 3.1: source, destination, zero, PTCL, TCP length */
	guint8 ph[12] = { src[0], src[1], src[2], src[3], dst[0], dst[1], dst[2], dst[3],
	                  0, proto, (guint8)(len >> 8), (guint8)len };
	return pcap_checksum_add(0, ph, sizeof ph);
}

guint16 pcap_checksum_ipv4_transport(const guint8 src[4], const guint8 dst[4], guint8 proto,
                                     const guint8 *segment, gsize len)
{
	guint16 c = pcap_checksum_finish(pcap_checksum_add(pseudo_header_sum(src, dst, proto, len), segment, len));
	if (proto == PCAP_CHECKSUM_PROTO_UDP && c == 0)
		c = 0xffff;   /* RFC 768: an all-zero result is sent as all ones */
	return c;
}

gboolean pcap_checksum_ipv4_transport_ok(const guint8 src[4], const guint8 dst[4], guint8 proto,
                                         const guint8 *segment, gsize len)
{
	if (proto == PCAP_CHECKSUM_PROTO_UDP && len >= 8 && segment[6] == 0 && segment[7] == 0)
		return TRUE;   /* RFC 768: the sender computed none */
	guint16 c = pcap_checksum_finish(pcap_checksum_add(pseudo_header_sum(src, dst, proto, len), segment, len));
	return c == 0;
}
