/* net/pcap_stream.c - TCP reassembly for one direction.
 *
 * `next` is the sequence number of the first byte not yet delivered.  A
 * segment at next is delivered at once and unblocks the early segments that
 * follow it; one before next is trimmed (a retransmission may overlap new
 * data, RFC 9293 3.10.7.4); one after next waits in a list sorted by
 * sequence number, within PCAP_STREAM_MAX_PENDING_* (then the oldest hole is
 * given up as a gap, as a capture that lost packets must).
 */
#include "net/pcap_stream.h"

#include <string.h>

typedef struct {
	guint32  seq;
	guint8  *data;
	gsize    len;
	gboolean fin;
} Early;

struct PcapStream {
	PcapStreamFunc func;
	gpointer       user;
	gboolean       started;
	gboolean       finished;
	guint32        next;
	GQueue         early;        /* of Early*, by sequence number */
	gsize          early_bytes;
};

static const char *const piece_names[] = { "DATA", "GAP", "FIN" };
static const char *const result_names[] = { "IN_ORDER", "EARLY", "DUPLICATE", "OUT_OF_RANGE", "EMPTY" };

const char *pcap_stream_piece_to_string(PcapStreamPiece p)
{
	return (guint)p < G_N_ELEMENTS(piece_names) ? piece_names[p] : "?";
}

const char *pcap_stream_result_to_string(PcapStreamResult r)
{
	return (guint)r < G_N_ELEMENTS(result_names) ? result_names[r] : "?";
}

/* RFC 1982 serial arithmetic: how far a is after b (negative: before). */
static gint64 seq_diff(guint32 a, guint32 b)
{
	return (gint32)(a - b);
}

static void early_free(gpointer data)
{
	Early *e = data;
	g_free(e->data);
	g_free(e);
}

PcapStream *pcap_stream_new(PcapStreamFunc func, gpointer user)
{
	PcapStream *s = g_new0(PcapStream, 1);
	s->func = func;
	s->user = user;
	g_queue_init(&s->early);
	return s;
}

void pcap_stream_free(PcapStream *s)
{
	if (!s)
		return;
	g_queue_clear_full(&s->early, early_free);
	g_free(s);
}

void pcap_stream_set_isn(PcapStream *s, guint32 isn)
{
	if (s->started)
		return;
	s->started = TRUE;
	s->next = isn + 1;   /* RFC 9293 3.4: the SYN occupies one sequence number */
}

gboolean pcap_stream_started(const PcapStream *s) { return s->started; }
gboolean pcap_stream_finished(const PcapStream *s) { return s->finished; }
gsize pcap_stream_pending_bytes(const PcapStream *s) { return s->early_bytes; }

static void deliver(PcapStream *s, const guint8 *data, gsize len, gboolean fin)
{
	if (len) {
		s->next += (guint32)len;
		s->func(PCAP_STREAM_DATA, data, len, s->user);
	}
	if (fin) {
		s->next++;   /* RFC 9293 3.4: so does the FIN */
		s->finished = TRUE;
		/* nothing after a FIN belongs to the stream */
		g_queue_clear_full(&s->early, early_free);
		s->early_bytes = 0;
		s->func(PCAP_STREAM_FIN, NULL, 0, s->user);
	}
}

/* Deliver the early segments that now join the delivered bytes. */
static void drain(PcapStream *s)
{
	Early *e;
	while (!s->finished && (e = g_queue_peek_head(&s->early)) && seq_diff(e->seq, s->next) <= 0) {
		g_queue_pop_head(&s->early);
		s->early_bytes -= e->len;
		gint64 old = -seq_diff(e->seq, s->next);   /* bytes already delivered */
		if (old < (gint64)e->len || (old == (gint64)e->len && e->fin))
			deliver(s, e->len ? e->data + old : NULL, e->len - (gsize)old, e->fin);   /* a bare FIN has no data */
		early_free(e);
	}
}

/* Stop waiting for the hole before the first early segment. */
static void give_up_hole(PcapStream *s)
{
	Early *e = g_queue_peek_head(&s->early);
	gint64 gap = seq_diff(e->seq, s->next);
	if (gap > 0) {
		s->next = e->seq;
		s->func(PCAP_STREAM_GAP, NULL, (gsize)gap, s->user);
	}
	drain(s);
}

static void keep_early(PcapStream *s, guint32 seq, const guint8 *data, gsize len, gboolean fin)
{
	GList *at = s->early.tail;
	while (at && seq_diff(((Early *)at->data)->seq, seq) > 0)
		at = at->prev;
	Early *e = g_new0(Early, 1);
	e->seq = seq;
	e->data = g_memdup2(data, len);
	e->len = len;
	e->fin = fin;
	s->early_bytes += len;
	if (at)
		g_queue_insert_after(&s->early, at, e);
	else
		g_queue_push_head(&s->early, e);
}

/* TRUE if an early segment already holds every byte (and the FIN) of this one. */
static gboolean early_has(PcapStream *s, guint32 seq, gsize len, gboolean fin)
{
	for (GList *l = s->early.head; l; l = l->next) {
		Early *e = l->data;
		gint64 off = seq_diff(seq, e->seq);
		if (off >= 0 && off + (gint64)len <= (gint64)e->len && (!fin || (e->fin && off + (gint64)len == (gint64)e->len)))
			return TRUE;
	}
	return FALSE;
}

PcapStreamResult pcap_stream_add(PcapStream *s, guint32 seq, const guint8 *data, gsize len, gboolean fin)
{
	if (!len && !fin)
		return PCAP_STREAM_EMPTY;
	if (!s->started) {
		s->started = TRUE;   /* the capture began mid-connection */
		s->next = seq;
	}
	gint64 rel = seq_diff(seq, s->next);
	if (s->finished)
		return rel + (gint64)len + (fin ? 1 : 0) <= 0 ? PCAP_STREAM_DUPLICATE : PCAP_STREAM_OUT_OF_RANGE;

	if (rel < 0) {
		gint64 end = rel + (gint64)len;
		if (end < 0 || (end == 0 && !fin))
			return PCAP_STREAM_DUPLICATE;
		data += -rel;   /* keep only what is new */
		len = (gsize)end;
		rel = 0;
	}
	if (rel > 0) {
		if (rel > PCAP_STREAM_MAX_AHEAD)
			return PCAP_STREAM_OUT_OF_RANGE;
		if (early_has(s, seq, len, fin))
			return PCAP_STREAM_DUPLICATE;
		while (!s->finished && !g_queue_is_empty(&s->early) &&
		       (s->early_bytes + len > PCAP_STREAM_MAX_PENDING_BYTES ||
		        g_queue_get_length(&s->early) >= PCAP_STREAM_MAX_PENDING_SEGMENTS))
			give_up_hole(s);
		if (s->finished)
			return PCAP_STREAM_OUT_OF_RANGE;
		if (seq_diff(seq, s->next) <= 0)   /* the holes given up reached it */
			return pcap_stream_add(s, seq, data, len, fin);
		if (len > PCAP_STREAM_MAX_PENDING_BYTES) {
			/* no room even alone: give up the hole before it */
			s->func(PCAP_STREAM_GAP, NULL, (gsize)seq_diff(seq, s->next), s->user);
			s->next = seq;
			deliver(s, data, len, fin);
			drain(s);
			return PCAP_STREAM_IN_ORDER;
		}
		keep_early(s, seq, data, len, fin);
		return PCAP_STREAM_EARLY;
	}
	deliver(s, data, len, fin);
	drain(s);
	return PCAP_STREAM_IN_ORDER;
}

void pcap_stream_flush(PcapStream *s)
{
	while (!s->finished && !g_queue_is_empty(&s->early))
		give_up_hole(s);
}
