/* net/pcap_decode.h - captured frames back into mailsim's events.
 *
 * Link headers (Ethernet, BSD and Linux loopback, Linux cooked), IPv4
 * (RFC 791) and IPv6 (RFC 8200), UDP, and TCP put back in order per
 * direction (net/pcap_stream.h); then SMTP, LMTP, IMAP, POP3, DNS, HTTP and
 * mailsim's account service, recognised by port, become the same SEND,
 * CONNECT, CLOSE and DNS_* events the simulation emits, tagged with the
 * course steps they show, and carrying the same net (sim/kernel/event.h)
 * wherever the capture shows it.  Pure: the caller reads the capture
 * (pcap_reader).
 */
#pragma once

#include "sim/kernel/event.h"

/* What precedes the IP header in a frame (the LINKTYPE_ of a pcap file). */
typedef enum {
	PCAP_DECODE_LINK_ETHERNET,    /* LINKTYPE_ETHERNET: Linux `lo` too */
	PCAP_DECODE_LINK_NULL,        /* LINKTYPE_NULL: BSD loopback, family in host order */
	PCAP_DECODE_LINK_LOOP,        /* LINKTYPE_LOOP: family in network order */
	PCAP_DECODE_LINK_LINUX_SLL,   /* LINKTYPE_LINUX_SLL: Linux "any" device */
	PCAP_DECODE_LINK_LINUX_SLL2,  /* LINKTYPE_LINUX_SLL2 */
	PCAP_DECODE_LINK_RAW,         /* LINKTYPE_RAW: IPv4 or IPv6, nothing before */
} PcapDecodeLink;

const char *pcap_decode_link_to_string(PcapDecodeLink link);

/* Connections followed at once; past it the least recently active one is
 * dropped.  With PCAP_STREAM_MAX_PENDING_BYTES this bounds the memory. */
#define PCAP_DECODE_MAX_FLOWS         256
/* A protocol line longer than this is cut (the rest is skipped). */
#define PCAP_DECODE_MAX_LINE          4096
/* A message or body shown as one summary keeps its bytes as the event's
 * payload up to this size; a larger one has no payload. */
#define PCAP_DECODE_MAX_BODY_PAYLOAD  (64 * 1024)
/* DNS over TCP: RFC 1035 4.2.2, two length bytes then the message. */
#define PCAP_DECODE_MAX_DNS_TCP       (2 + 65535)
/* Exchange names learned from MX answers, so their A lookups are out.4. */
#define PCAP_DECODE_MAX_MX_NAMES      256

typedef struct {
	guint64 frames;
	guint64 not_ip;           /* ARP, unknown link or network protocols */
	guint64 malformed;        /* headers that do not parse */
	guint64 truncated;        /* cut by the capture's snap length */
	guint64 fragments;        /* IP fragments: not reassembled, skipped */
	guint64 ignored;          /* TCP/UDP of ports that speak no known protocol */
	guint64 segments;         /* TCP segments of followed connections */
	guint64 retransmissions;  /* segments whose bytes were all seen before */
	guint64 out_of_order;     /* segments held until a hole filled */
	guint64 gaps;             /* holes given up: bytes the capture missed */
	guint64 connections;      /* TCP connections followed */
	guint64 evicted;          /* connections dropped for room */
	guint64 datagrams;        /* UDP datagrams decoded */
	guint64 events;
} PcapDecodeStats;

/* Where events go.  ev (with t_us the frame's time) and everything it
 * points to are borrowed for the call.
 *
 * Events about packets keep the contract of sim/kernel/event.h as
 * net/conn.c's do (ms_net_info_valid holds for every one), `from` and `to`
 * being the text of net.src and net.dst ("192.0.2.7:25", "[::1]:25"):
 *   a SYN          CONNECT SYN, conn 0, from the client
 *   the SYN-ACK    ACCEPT ACCEPT, from the server
 *   the client's first ACK after it   CONNECT ESTABLISHED
 *   an RST answering the SYN          ERROR REFUSED, conn 0, from the client
 *   any other RST  ERROR RESET, from its sender
 *   an ACK         RECV ARRIVED, from the end whose bytes it acknowledges
 *   bytes          SEND DATA with them as payload: a protocol line, a message
 *                  or literal summed up, TLS records, a DNS message over TCP
 *   a FIN          CLOSE FIN, from its sender
 *   a datagram     SEND DATAGRAM, conn 0 ("datagram A -> B, N bytes"), then
 *                  its DNS_QUERY or DNS_ANSWER with no net
 * A direction's DATA payloads, end to end, are the bytes it sent, but for
 * holes in the capture (and what is skipped after one to find the framing
 * again), a summed-up body over PCAP_DECODE_MAX_BODY_PAYLOAD or with a hole
 * (its event has no payload and no net) and the rest of a line over
 * PCAP_DECODE_MAX_LINE.  A SYN that was never answered has no
 * UNANSWERED: a capture does not show that the client gave up. */
typedef void (*PcapDecodeEmit)(const MsEvent *ev, gpointer data);

typedef struct PcapDecoder PcapDecoder;

PcapDecoder *pcap_decode_new(PcapDecodeEmit emit, gpointer data);
/* Does not flush: call pcap_decode_finish first to see the last events. */
void         pcap_decode_free(PcapDecoder *d);

/* Another port for a protocol: "smtp", "submission" (SMTP with AUTH, the
 * MUA's port), "lmtp", "imap", "pop3", "dns", "http", "auth" (mailsim's
 * account service), or "none" to stop decoding a port.  FALSE for another
 * name. */
gboolean     pcap_decode_set_port(PcapDecoder *d, guint16 port, const char *proto);
/* The protocol decoded on a port, or NULL. */
const char  *pcap_decode_port_proto(PcapDecoder *d, guint16 port);

/* One frame as captured: caplen bytes at frame, seen at t_us (microseconds
 * from any origin; events carry it).  Frames of any content are safe. */
void         pcap_decode_frame(PcapDecoder *d, PcapDecodeLink link, gint64 t_us,
                               const guint8 *frame, gsize caplen);

/* The end of the capture: delivers what waits behind holes, ends partial
 * lines and bodies, and forgets every connection. */
void         pcap_decode_finish(PcapDecoder *d);

/* Counters since pcap_decode_new (borrowed). */
const PcapDecodeStats *pcap_decode_stats(PcapDecoder *d);

/* Course step of a DNS question, by the table in pcap_decode.c: MX is
 * out.4, a reversed address under a blacklist zone in.3, ...; NULL when
 * none applies.  is_mx_host: name was an exchange in an earlier MX answer. */
const char  *pcap_decode_dns_step(const char *qname, guint16 qtype, gboolean is_mx_host);
