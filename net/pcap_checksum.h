/* net/pcap_checksum.h - the Internet checksum, for the frames we write and read.
 *
 * RFC 1071: the 16-bit one's complement of the one's complement sum.  IPv4
 * headers (RFC 791 3.1) sum themselves; TCP (RFC 9293 3.1) and UDP (RFC 768)
 * also sum a pseudo-header of addresses, protocol and length.  Pure: no I/O,
 * no state.  Addresses are 4 bytes in network order; results in host order.
 */
#pragma once

#include <glib.h>

#define PCAP_CHECKSUM_PROTO_TCP 6    /* RFC 790: assigned protocol numbers */
#define PCAP_CHECKSUM_PROTO_UDP 17

/* Add len bytes to a running sum.  Bytes pair up from the start of data, so
 * every chunk but the last must have an even length. */
guint32 pcap_checksum_add(guint32 sum, const guint8 *data, gsize len);
/* Fold a running sum to 16 bits and complement it: the checksum field. */
guint16 pcap_checksum_finish(guint32 sum);

/* The checksum of a whole buffer (RFC 1071 4.1). */
guint16 pcap_checksum_internet(const guint8 *data, gsize len);

/* The IPv4 header checksum: hdr is the whole header (len = IHL * 4) with its
 * checksum field zeroed, or as received: a received header sums to 0. */
guint16 pcap_checksum_ipv4_header(const guint8 *hdr, gsize len);

/* TCP or UDP over IPv4: the pseudo-header (src, dst, zero, proto, length)
 * plus the segment (header with its checksum field zeroed, and data).  For
 * UDP a computed 0 is sent as 0xFFFF (RFC 768: 0 means "no checksum"). */
guint16 pcap_checksum_ipv4_transport(const guint8 src[4], const guint8 dst[4], guint8 proto,
                                     const guint8 *segment, gsize len);

/* TRUE when a received TCP/UDP segment's checksum field is right (a UDP
 * checksum of 0 means none was sent and is accepted). */
gboolean pcap_checksum_ipv4_transport_ok(const guint8 src[4], const guint8 dst[4], guint8 proto,
                                         const guint8 *segment, gsize len);
