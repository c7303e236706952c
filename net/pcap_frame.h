/* net/pcap_frame.h - build Ethernet/IPv4/TCP/UDP frames byte by byte.
 *
 * What the pcap writer puts on the (imaginary) wire, and what the reader's
 * tests feed it: Ethernet II (IEEE 802.3 / RFC 894), IPv4 (RFC 791 3.1) with
 * fragments when a datagram exceeds the MTU, TCP (RFC 9293 3.1) with an MSS
 * option on SYNs (RFC 9293 3.7.1), UDP (RFC 768); every checksum right.
 * Pure: no I/O, no clock.  Addresses are 4 bytes in network order.
 */
#pragma once

#include <glib.h>

#define PCAP_FRAME_ETH_LEN    14     /* destination, source, EtherType */
#define PCAP_FRAME_IPV4_LEN   20     /* a header without options */
#define PCAP_FRAME_TCP_LEN    20     /* a header without options */
#define PCAP_FRAME_UDP_LEN    8
#define PCAP_FRAME_MTU        1500   /* RFC 894: Ethernet's payload */
/* RFC 9293 3.7.1: the largest segment that fits the MTU without options */
#define PCAP_FRAME_MSS        (PCAP_FRAME_MTU - PCAP_FRAME_IPV4_LEN - PCAP_FRAME_TCP_LEN)
#define PCAP_FRAME_TTL        64
#define PCAP_FRAME_ETHERTYPE_IPV4 0x0800
#define PCAP_FRAME_ETHERTYPE_IPV6 0x86DD

/* TCP control bits (RFC 9293 3.1). */
typedef enum {
	PCAP_TCP_FIN = 0x01,
	PCAP_TCP_SYN = 0x02,
	PCAP_TCP_RST = 0x04,
	PCAP_TCP_PSH = 0x08,
	PCAP_TCP_ACK = 0x10,
} PcapTcpFlag;

/* "SYN|ACK"; flags without a name are left out.  Newly allocated. */
char *pcap_tcp_flags_to_string(guint8 flags);

/* What comes before the IP header. */
typedef enum {
	PCAP_FRAME_LINK_ETHERNET,   /* Ethernet II with MACs made from the IPv4 addresses */
	PCAP_FRAME_LINK_RAW,        /* the IP packet alone */
} PcapFrameLink;

const char *pcap_frame_link_to_string(PcapFrameLink link);

typedef struct {
	guint8   src[4], dst[4];
	guint16  sport, dport;
	guint32  seq, ack;
	guint8   flags;       /* PcapTcpFlag bits */
	guint16  window;
	guint16  mss;         /* non-zero: an MSS option (SYN segments) */
	guint16  ip_id;
} PcapTcpHeader;

typedef struct {
	guint8   src[4], dst[4];
	guint16  sport, dport;
	guint16  ip_id;
} PcapUdpHeader;

/* A locally administered MAC for an IPv4 address: 02:00:a:b:c:d, so each
 * host keeps one MAC across the capture (IEEE 802 U/L bit set). */
void pcap_frame_mac_for(const guint8 addr[4], guint8 mac[6]);

/* One frame: a TCP segment with len bytes of payload (at most
 * PCAP_FRAME_MSS: the caller splits).  Free with g_byte_array_unref. */
GByteArray *pcap_frame_tcp(const PcapTcpHeader *h, const guint8 *payload, gsize len, PcapFrameLink link);

/* The frames of one UDP datagram: one, or IPv4 fragments (RFC 791 2.3) when
 * it does not fit the MTU.  len is at most 65507 (the largest UDP datagram
 * IPv4 carries); NULL beyond.  An array of GByteArray*, freed with it. */
GPtrArray  *pcap_frame_udp(const PcapUdpHeader *h, const guint8 *payload, gsize len, PcapFrameLink link);

/* The largest UDP payload over IPv4: 65535 - 20 - 8. */
#define PCAP_FRAME_UDP_MAX 65507
