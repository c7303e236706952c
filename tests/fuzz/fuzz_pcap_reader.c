/* tests/fuzz/fuzz_pcap_reader.c - libFuzzer target for the capture decoder.
 *
 * Input: one byte choosing the mode, then records.  Modes 0-5 are the link
 * types: each record is a 2-byte big-endian length and that many bytes of
 * frame, all fed to one decoder (so connections, reassembly and the
 * protocol decoders see many frames).  Mode 6 feeds one reassembly stream:
 * each record is a 4-byte sequence offset, a FIN byte, a 2-byte length and
 * data.  Every event must have a kind, a text and be valid UTF-8, and a
 * net that keeps its contract (ms_net_info_valid; DATA with bytes); the
 * stream must never hold more than its bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/pcap_decode.h"
#include "net/pcap_stream.h"

#define MODE_STREAM 6

static guint16 be16(const uint8_t *p) { return (guint16)(p[0] << 8 | p[1]); }

static void check_event(const MsEvent *ev, gpointer data)
{
	if ((guint)ev->kind >= MS_EV_KIND_COUNT || !ev->text || !g_utf8_validate(ev->text, -1, NULL))
		abort();
	if (ev->from && !g_utf8_validate(ev->from, -1, NULL))
		abort();
	if (!ms_net_info_valid(&ev->net) ||
	    (ev->net.action == MS_NET_DATA && (!ev->payload || !g_bytes_get_size(ev->payload))))
		abort();
	(*(guint64 *)data)++;
}

static void count_piece(PcapStreamPiece piece, const guint8 *d, gsize len, gpointer user)
{
	if (piece == PCAP_STREAM_DATA && (!d || !len))
		abort();
	*(guint64 *)user += len;
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
	guint64 delivered = 0;
	PcapStream *s = pcap_stream_new(count_piece, &delivered);
	guint32 isn = 0xfffff000u;   /* near the wrap */
	pcap_stream_set_isn(s, isn);
	while (size >= 7) {
		guint32 off = (guint32)data[0] << 24 | (guint32)data[1] << 16 | (guint32)data[2] << 8 | data[3];
		gboolean fin = data[4] & 1;
		gsize len = MIN((gsize)be16(data + 5), size - 7);
		pcap_stream_add(s, isn + 1 + off, data + 7, len, fin);
		if (pcap_stream_pending_bytes(s) > PCAP_STREAM_MAX_PENDING_BYTES)
			abort();
		data += 7 + len;
		size -= 7 + len;
	}
	pcap_stream_flush(s);
	if (pcap_stream_pending_bytes(s) != 0 && !pcap_stream_finished(s))
		abort();
	pcap_stream_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	guint mode = data[0] % 7;
	data++;
	size--;
	if (mode == MODE_STREAM) {
		fuzz_stream(data, size);
		return 0;
	}
	guint64 events = 0;
	PcapDecoder *d = pcap_decode_new(check_event, &events);
	pcap_decode_set_port(d, 7, "imap");   /* a port set at run time */
	gint64 t = 0;
	while (size >= 2) {
		gsize len = MIN((gsize)be16(data), size - 2);
		/* a copy of exactly len bytes, so ASan sees any over-read */
		guint8 *frame = g_memdup2(data + 2, len);
		pcap_decode_frame(d, (PcapDecodeLink)mode, t, frame, len);
		g_free(frame);
		t += 1000;
		data += 2 + len;
		size -= 2 + len;
	}
	pcap_decode_finish(d);
	if (pcap_decode_stats(d)->events != events)
		abort();
	pcap_decode_free(d);
	return 0;
}
