/* net/pcap_writer.h - the simulated traffic as a pcap file Wireshark can read.
 *
 * A sink on the event bus: it turns what events record about packets (their
 * net: SYN, accept, established, data, arrivals, FIN, reset, refusal,
 * datagrams; sim/kernel/event.h) into Ethernet/IPv4/TCP/UDP frames with the world's addresses and ports, a
 * three-way handshake (RFC 9293 3.5), sequence and acknowledgment numbers
 * that add up, ACKs when bytes arrive, FIN at close and right checksums.
 *
 *   mailsim run scenarios/relay-path.scn --pcap relay.pcap && wireshark relay.pcap
 */
#pragma once

#include "sim/kernel/bus.h"

#define PCAP_WRITER_ERROR (pcap_writer_error_quark())
GQuark pcap_writer_error_quark(void);

typedef enum {
	PCAP_WRITER_ERROR_OPEN,    /* the file cannot be created */
} PcapWriterError;

const char *pcap_writer_error_to_string(PcapWriterError e);

/* Unix time of virtual time 0: 2026-01-01, the date the simulated agents
 * write in their Date: and Received: headers. */
#define PCAP_WRITER_DEFAULT_EPOCH_US (G_GINT64_CONSTANT(1767225600) * G_GINT64_CONSTANT(1000000))
/* The window every simulated end advertises: it never runs out. */
#define PCAP_WRITER_WINDOW 65535
/* SYNs still waiting for an answer; more are forgotten, oldest first. */
#define PCAP_WRITER_MAX_PENDING_SYNS 4096

typedef struct {
	gint64 epoch_us;   /* 0: PCAP_WRITER_DEFAULT_EPOCH_US */
} PcapWriterOptions;

/* A sink writing a classic pcap file (link type Ethernet, microsecond
 * timestamps) at path; opts may be NULL.  The file is complete after the
 * sink is destroyed (ms_bus_free, ms_sched_free).  NULL and a
 * PCAP_WRITER_ERROR when the file cannot be created.
 *
 * It reads only an event's net, time, conn and payload, never its text (a
 * line can be reworded for students without changing a frame), and skips a
 * net that breaks the contract (ms_net_info_valid).  Frames are IPv4: a
 * flow with an IPv6 end is left out, as is a connection whose SYN it did
 * not see with both ends (the real network's SYN has no known source). */
MsSink *pcap_writer_new(const char *path, const PcapWriterOptions *opts, GError **error);

/* Frames written so far (for tests and the closing note). */
guint64 pcap_writer_frames(MsSink *sink);
