/* net/pcap_reader.h - real traffic, captured live or read from a pcap file,
 * as mailsim's events.
 *
 * libpcap reads the frames (a classic pcap or pcapng file, or an interface
 * with an optional BPF filter); net/pcap_decode.h turns them into events on
 * a bus of the reader's own, whose clock is the capture's: an event's t_us
 * is the time of the frame that completed it, from the first frame of a
 * file or from the start of a live capture.
 *
 *   mailsim watch -i lo -f 'tcp port 2525'      mailsim watch -r relay.pcap
 */
#pragma once

#include "sim/kernel/bus.h"
#include "net/pcap_decode.h"

#define PCAP_READER_ERROR (pcap_reader_error_quark())
GQuark pcap_reader_error_quark(void);

typedef enum {
	PCAP_READER_ERROR_OPEN,     /* no such file, not a capture, no such interface, no permission */
	PCAP_READER_ERROR_LINK,     /* a link type the decoder does not know */
	PCAP_READER_ERROR_FILTER,   /* the BPF filter does not compile */
	PCAP_READER_ERROR_READ,     /* the capture failed midway */
} PcapReaderError;

const char *pcap_reader_error_to_string(PcapReaderError e);

/* Bytes kept of each live frame: enough for any IPv4 or IPv6 packet, even
 * the large ones segmentation offload shows on `lo`. */
#define PCAP_READER_SNAPLEN     262144
/* How long a live read waits before the reader checks whether to stop. */
#define PCAP_READER_TIMEOUT_MS  100

typedef struct PcapReader PcapReader;

/* Open a capture file (pcap or pcapng). */
PcapReader *pcap_reader_open_file(const char *path, GError **error);
/* Capture on an interface ("lo", "eth0", "any"); needs root or
 * CAP_NET_RAW.  Frames are handed over as soon as they arrive. */
PcapReader *pcap_reader_open_live(const char *iface, GError **error);
void        pcap_reader_free(PcapReader *r);

/* Only frames matching a BPF filter ("tcp port 2525"), compiled by libpcap. */
gboolean    pcap_reader_set_filter(PcapReader *r, const char *filter, GError **error);
/* Another port for a protocol (see pcap_decode_set_port). */
gboolean    pcap_reader_set_port(PcapReader *r, guint16 port, const char *proto);

/* Where the events go: add sinks before pcap_reader_run.  Owned by r. */
MsBus      *pcap_reader_bus(PcapReader *r);

/* Read to the end of the file, or capture until pcap_reader_stop; then end
 * every connection still open (pcap_decode_finish) and flush the bus.
 * FALSE with a PCAP_READER_ERROR_READ if the capture failed. */
gboolean    pcap_reader_run(PcapReader *r, GError **error);
/* Make pcap_reader_run return soon.  From any thread. */
void        pcap_reader_stop(PcapReader *r);

/* Counters of the decoder (borrowed). */
const PcapDecodeStats *pcap_reader_stats(PcapReader *r);
/* Live captures: frames the kernel dropped because we were too slow. */
guint64     pcap_reader_dropped(PcapReader *r);
