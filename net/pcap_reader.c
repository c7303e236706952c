/* net/pcap_reader.c - libpcap on one side, the decoder and a bus on the other.
 *
 * The bus's clock reads the time of the frame being decoded, so a sink sees
 * capture time, like it sees virtual time in a simulation.  Live captures
 * run in immediate mode and flush the bus after every batch, so a student
 * watching sees each line as the packet crosses the wire.
 */
#include "net/pcap_reader.h"

#include <pcap.h>
#include <string.h>

G_DEFINE_QUARK(pcap-reader-error-quark, pcap_reader_error)

static const char *const error_names[] = { "OPEN", "LINK", "FILTER", "READ" };

const char *pcap_reader_error_to_string(PcapReaderError e)
{
	return (guint)e < G_N_ELEMENTS(error_names) ? error_names[e] : "?";
}

struct PcapReader {
	pcap_t         *pcap;
	gboolean        live;
	PcapDecodeLink  link;
	PcapDecoder    *decoder;
	MsBus          *bus;
	gint64          origin;       /* Unix time (us) that is t_us 0; -1: the first frame's */
	gint64          now;          /* t_us of what is being decoded */
	gint            stop;         /* atomic */
};

/* DLT_ values as libpcap reports them, to the decoder's link types. */
static const struct {
	int            dlt;
	PcapDecodeLink link;
} links[] = {
	{ DLT_EN10MB, PCAP_DECODE_LINK_ETHERNET },
	{ DLT_NULL, PCAP_DECODE_LINK_NULL },
	{ DLT_LOOP, PCAP_DECODE_LINK_LOOP },
	{ DLT_LINUX_SLL, PCAP_DECODE_LINK_LINUX_SLL },
#ifdef DLT_LINUX_SLL2
	{ DLT_LINUX_SLL2, PCAP_DECODE_LINK_LINUX_SLL2 },
#endif
	{ DLT_RAW, PCAP_DECODE_LINK_RAW },
#ifdef DLT_IPV4
	{ DLT_IPV4, PCAP_DECODE_LINK_RAW },
	{ DLT_IPV6, PCAP_DECODE_LINK_RAW },
#endif
};

static gint64 reader_clock(gpointer data)
{
	return ((PcapReader *)data)->now;
}

static void reader_emit(const MsEvent *ev, gpointer data)
{
	PcapReader *r = data;
	r->now = ev->t_us;
	ms_bus_emit(r->bus, ev);
}

static PcapReader *reader_new(pcap_t *p, gboolean live, GError **error)
{
	int dlt = pcap_datalink(p);
	for (guint i = 0; i < G_N_ELEMENTS(links); i++) {
		if (links[i].dlt != dlt)
			continue;
		PcapReader *r = g_new0(PcapReader, 1);
		r->pcap = p;
		r->live = live;
		r->link = links[i].link;
		r->origin = live ? g_get_real_time() : -1;
		r->bus = ms_bus_new(reader_clock, r);
		r->decoder = pcap_decode_new(reader_emit, r);
		return r;
	}
	const char *name = pcap_datalink_val_to_name(dlt);
	g_set_error(error, PCAP_READER_ERROR, PCAP_READER_ERROR_LINK,
	            "link type %s (%d) is not one mailsim reads: Ethernet, loopback, Linux cooked or raw IP",
	            name ? name : "?", dlt);
	pcap_close(p);
	return NULL;
}

PcapReader *pcap_reader_open_file(const char *path, GError **error)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (!p) {
		g_set_error(error, PCAP_READER_ERROR, PCAP_READER_ERROR_OPEN, "%s: %s", path, errbuf);
		return NULL;
	}
	return reader_new(p, FALSE, error);
}

PcapReader *pcap_reader_open_live(const char *iface, GError **error)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(iface, errbuf);
	if (!p) {
		g_set_error(error, PCAP_READER_ERROR, PCAP_READER_ERROR_OPEN, "%s: %s", iface, errbuf);
		return NULL;
	}
	pcap_set_snaplen(p, PCAP_READER_SNAPLEN);
	pcap_set_timeout(p, PCAP_READER_TIMEOUT_MS);
	pcap_set_immediate_mode(p, 1);
	int rc = pcap_activate(p);
	if (rc < 0) {
		const char *why = rc == PCAP_ERROR_PERM_DENIED ? "capturing needs root (or CAP_NET_RAW)"
		                  : rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
		                  : pcap_geterr(p);
		g_set_error(error, PCAP_READER_ERROR, PCAP_READER_ERROR_OPEN, "%s: %s", iface, why);
		pcap_close(p);
		return NULL;
	}
	return reader_new(p, TRUE, error);
}

void pcap_reader_free(PcapReader *r)
{
	if (!r)
		return;
	pcap_decode_free(r->decoder);
	ms_bus_free(r->bus);
	pcap_close(r->pcap);
	g_free(r);
}

gboolean pcap_reader_set_filter(PcapReader *r, const char *filter, GError **error)
{
	struct bpf_program prog;
	if (pcap_compile(r->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		g_set_error(error, PCAP_READER_ERROR, PCAP_READER_ERROR_FILTER, "filter \"%s\": %s",
		            filter, pcap_geterr(r->pcap));
		return FALSE;
	}
	int rc = pcap_setfilter(r->pcap, &prog);
	pcap_freecode(&prog);
	if (rc < 0) {
		g_set_error(error, PCAP_READER_ERROR, PCAP_READER_ERROR_FILTER, "filter \"%s\": %s",
		            filter, pcap_geterr(r->pcap));
		return FALSE;
	}
	return TRUE;
}

gboolean pcap_reader_set_port(PcapReader *r, guint16 port, const char *proto)
{
	return pcap_decode_set_port(r->decoder, port, proto);
}

MsBus *pcap_reader_bus(PcapReader *r) { return r->bus; }
const PcapDecodeStats *pcap_reader_stats(PcapReader *r) { return pcap_decode_stats(r->decoder); }

guint64 pcap_reader_dropped(PcapReader *r)
{
	struct pcap_stat st;
	if (!r->live || pcap_stats(r->pcap, &st) < 0)
		return 0;
	return st.ps_drop;
}

static void on_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	PcapReader *r = (PcapReader *)user;
	gint64 t = (gint64)h->ts.tv_sec * G_USEC_PER_SEC + h->ts.tv_usec;
	if (r->origin < 0)
		r->origin = t;
	r->now = MAX(t - r->origin, r->now);   /* a clock never runs backwards */
	pcap_decode_frame(r->decoder, r->link, r->now, bytes, h->caplen);
}

gboolean pcap_reader_run(PcapReader *r, GError **error)
{
	gboolean ok = TRUE;
	while (!g_atomic_int_get(&r->stop)) {
		int n = pcap_dispatch(r->pcap, -1, on_frame, (u_char *)r);
		if (r->live)
			ms_bus_flush(r->bus);
		if (n == PCAP_ERROR_BREAK)
			break;
		if (n == PCAP_ERROR) {
			g_set_error(error, PCAP_READER_ERROR, PCAP_READER_ERROR_READ, "%s", pcap_geterr(r->pcap));
			ok = FALSE;
			break;
		}
		if (n == 0 && !r->live)
			break;   /* the end of the file */
	}
	pcap_decode_finish(r->decoder);
	ms_bus_flush(r->bus);
	return ok;
}

void pcap_reader_stop(PcapReader *r)
{
	g_atomic_int_set(&r->stop, 1);
	pcap_breakloop(r->pcap);
}
