/* net/pcap_stream.h - one direction of a captured TCP connection, put back
 * in order.
 *
 * Segments arrive as the capture saw them: late, twice, overlapping.  The
 * stream hands on each byte once, in sequence order (RFC 9293 3.4: sequence
 * numbers, compared modulo 2^32 as RFC 1982 serial numbers), keeps segments
 * that came early up to a bound, and reports a hole it gave up on as a gap.
 * Pure: no I/O, no clock.
 */
#pragma once

#include <glib.h>

/* Bytes of early segments kept per direction, and how many segments. */
#define PCAP_STREAM_MAX_PENDING_BYTES    (64 * 1024)
#define PCAP_STREAM_MAX_PENDING_SEGMENTS 128
/* A segment further ahead than this is not from this connection (or the
 * capture lost too much): dropped. */
#define PCAP_STREAM_MAX_AHEAD            (1024 * 1024)

typedef enum {
	PCAP_STREAM_DATA,   /* len bytes in order at data */
	PCAP_STREAM_GAP,    /* len bytes were never captured (data is NULL) */
	PCAP_STREAM_FIN,    /* the sender closed: nothing more comes */
} PcapStreamPiece;

const char *pcap_stream_piece_to_string(PcapStreamPiece p);

/* What became of one segment given to pcap_stream_add. */
typedef enum {
	PCAP_STREAM_IN_ORDER,     /* delivered (with any early segments it unblocked) */
	PCAP_STREAM_EARLY,        /* ahead of a hole: kept until the hole fills */
	PCAP_STREAM_DUPLICATE,    /* every byte was delivered before: a retransmission */
	PCAP_STREAM_OUT_OF_RANGE, /* too far ahead, or after the FIN: dropped */
	PCAP_STREAM_EMPTY,        /* no data and no FIN (a bare ACK) */
} PcapStreamResult;

const char *pcap_stream_result_to_string(PcapStreamResult r);

/* Called for each piece, in order.  data is borrowed for the call. */
typedef void (*PcapStreamFunc)(PcapStreamPiece piece, const guint8 *data, gsize len, gpointer user);

typedef struct PcapStream PcapStream;

PcapStream *pcap_stream_new(PcapStreamFunc func, gpointer user);
void        pcap_stream_free(PcapStream *s);

/* The sender's SYN carried isn: its data starts at isn + 1.  Ignored once
 * the stream has started. */
void        pcap_stream_set_isn(PcapStream *s, guint32 isn);
/* TRUE once an ISN was set or a first segment fixed where the stream starts
 * (a capture that began mid-connection starts at the first segment seen). */
gboolean    pcap_stream_started(const PcapStream *s);

/* One segment: sequence number seq, len bytes of data, and whether FIN is
 * set.  Delivers through func before it returns. */
PcapStreamResult pcap_stream_add(PcapStream *s, guint32 seq, const guint8 *data, gsize len, gboolean fin);

/* End of capture: give up on every hole, delivering what is kept (with a
 * GAP before each part). */
void        pcap_stream_flush(PcapStream *s);

/* TRUE after the FIN was delivered. */
gboolean    pcap_stream_finished(const PcapStream *s);
/* Bytes held out of order right now. */
gsize       pcap_stream_pending_bytes(const PcapStream *s);
