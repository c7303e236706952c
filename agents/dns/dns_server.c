/* agents/dns/dns_server.c - the DNS server agent.
 *
 * Two tasks: one reads UDP datagrams and answers each (RFC 1035 4.2.1, TC
 * when the answer exceeds 512 bytes or the client's EDNS size), one accepts
 * TCP connections and answers length-prefixed queries (RFC 1035 4.2.2,
 * RFC 7766).  A malformed query that still carries an id gets FORMERR.
 */
#include "agents/dns/dns_server.h"

#include <string.h>

struct DnsServer {
	MsStack    *stack;
	char       *name;
	DnsZoneSet *zones;
	GPtrArray  *dnsbls;      /* of Dnsbl* */
	gboolean    log_queries;
	MsDgram    *udp;
	MsListener *tcp;
	gboolean    running;
};

DnsServer *dns_server_new(MsStack *stack, const char *name)
{
	DnsServer *srv = g_new0(DnsServer, 1);
	srv->stack = ms_stack_ref(stack);
	srv->name = g_strdup(name);
	srv->zones = dns_zone_set_new();
	srv->dnsbls = g_ptr_array_new_with_free_func((GDestroyNotify)dnsbl_free);
	return srv;
}

void dns_server_free(DnsServer *srv)
{
	if (!srv)
		return;
	dns_server_stop(srv);
	ms_dgram_free(srv->udp);
	ms_listener_free(srv->tcp);
	dns_zone_set_free(srv->zones);
	g_ptr_array_free(srv->dnsbls, TRUE);
	ms_stack_unref(srv->stack);
	g_free(srv->name);
	g_free(srv);
}

DnsZoneSet *dns_server_zones(DnsServer *srv) { return srv->zones; }
void dns_server_set_log_queries(DnsServer *srv, gboolean on) { srv->log_queries = on; }
guint16 dns_server_udp_port(DnsServer *srv) { return srv->udp ? ms_dgram_port(srv->udp) : 0; }
guint16 dns_server_tcp_port(DnsServer *srv) { return srv->tcp ? ms_listener_port(srv->tcp) : 0; }

void dns_server_add_dnsbl(DnsServer *srv, Dnsbl *list)
{
	g_ptr_array_add(srv->dnsbls, list);
}

Dnsbl *dns_server_dnsbl(DnsServer *srv, const char *zone)
{
	for (guint i = 0; i < srv->dnsbls->len; i++) {
		Dnsbl *l = g_ptr_array_index(srv->dnsbls, i);
		if (dns_name_equal(dnsbl_zone(l), zone))
			return l;
	}
	return NULL;
}

/* A blacklist answers for names under its zone; the zones for the rest. */
static DnsMessage *answer(DnsServer *srv, const DnsMessage *q)
{
	if (q->questions->len == 1 && !q->qr) {
		const DnsQuestion *question = g_ptr_array_index(q->questions, 0);
		for (guint i = 0; i < srv->dnsbls->len; i++) {
			Dnsbl *l = g_ptr_array_index(srv->dnsbls, i);
			if (dns_name_is_subdomain(question->name, dnsbl_zone(l)))
				return dnsbl_answer(l, q);
		}
	}
	return dns_zone_set_answer(srv->zones, q);
}

gboolean dns_server_add_zone_text(DnsServer *srv, const char *origin, const char *text,
                                  const char *filename, guint first_line, GError **error)
{
	DnsZone *zone = dns_zone_parse(origin, text, filename, first_line, error);
	return zone && dns_zone_set_add(srv->zones, zone, error);
}

/* ---- answering --------------------------------------------------------- */

/* A FORMERR for a packet we could not decode, if it has a header at all:
 * same id and opcode, QR set, no sections (RFC 1035 4.1.1). */
static GBytes *formerr_for(const guint8 *query, gsize len)
{
	if (len < DNS_WIRE_HEADER_SIZE || (query[2] & 0x80))
		return NULL;   /* no id to answer, or it is a response */
	guint8 out[DNS_WIRE_HEADER_SIZE] = { 0 };
	out[0] = query[0];
	out[1] = query[1];
	out[2] = (guint8)(0x80 | (query[2] & 0x79));   /* QR, opcode, RD */
	out[3] = DNS_RCODE_FORMERR;
	return g_bytes_new(out, sizeof out);
}

GBytes *dns_server_answer_wire(DnsServer *srv, const guint8 *query, gsize len,
                               gboolean udp, char **why_r)
{
	if (why_r)
		*why_r = NULL;
	g_autoptr(GError) err = NULL;
	g_autoptr(DnsMessage) q = dns_wire_decode(query, len, &err);
	if (!q) {
		if (why_r)
			*why_r = g_strdup(err->message);
		return formerr_for(query, len);
	}
	g_autoptr(DnsMessage) resp = answer(srv, q);
	if (!resp)
		return NULL;
	gsize limit = udp ? dns_message_udp_limit(q) : 0;
	GBytes *wire = dns_wire_encode(resp, limit, &err);
	if (!wire) {
		if (why_r)
			*why_r = g_strdup(err->message);
		g_autoptr(DnsMessage) fail = dns_message_new_response(q, DNS_RCODE_SERVFAIL);
		wire = dns_wire_encode(fail, limit, NULL);
	}
	return wire;
}

static void log_exchange(DnsServer *srv, const char *client, const guint8 *query, gsize len,
                         GBytes *answer, const char *why)
{
	MsBus *bus = ms_sched_bus(ms_stack_sched(srv->stack));
	g_autoptr(DnsMessage) q = dns_wire_decode(query, len, NULL);
	if (why) {
		ms_bus_emitf(bus, MS_EV_ERROR, client, srv->name, "dns", NULL,
		             "malformed query: %s%s", why, answer ? " (answered FORMERR)" : "");
		return;
	}
	if (!srv->log_queries || !q)
		return;
	g_autofree char *qline = dns_message_to_line(q);
	g_autoptr(GBytes) qbytes = g_bytes_new(query, len);
	MsEvent ev = { .kind = MS_EV_DNS_QUERY, .from = client, .to = srv->name, .proto = "dns",
	               .text = qline, .payload = qbytes };
	ms_bus_emit(bus, &ev);
	if (answer) {
		g_autoptr(DnsMessage) a = dns_wire_decode(g_bytes_get_data(answer, NULL),
		                                          g_bytes_get_size(answer), NULL);
		g_autofree char *aline = a ? dns_message_to_line(a) : g_strdup("?");
		MsEvent ans = { .kind = MS_EV_DNS_ANSWER, .from = srv->name, .to = client, .proto = "dns",
		                .text = aline, .payload = answer };
		ms_bus_emit(bus, &ans);
	}
}

/* ---- UDP --------------------------------------------------------------- */

static void udp_task(gpointer data)
{
	DnsServer *srv = data;
	guint8 buf[DNS_WIRE_MAX_MESSAGE];
	for (;;) {
		char *from = NULL;
		guint16 port = 0;
		g_autoptr(GError) err = NULL;
		gssize n = ms_dgram_recv(srv->udp, buf, sizeof buf, &from, &port, MS_FOREVER, &err);
		if (n < 0) {
			g_free(from);
			if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
				continue;
			return;   /* closed or shutting down */
		}
		char *why = NULL;
		g_autoptr(GBytes) answer = dns_server_answer_wire(srv, buf, (gsize)n, TRUE, &why);
		log_exchange(srv, from, buf, (gsize)n, answer, why);
		if (answer)
			ms_dgram_send(srv->udp, from, port, g_bytes_get_data(answer, NULL),
			              g_bytes_get_size(answer), NULL);
		g_free(why);
		g_free(from);
	}
}

/* ---- TCP --------------------------------------------------------------- */

static void serve_tcp_client(DnsServer *srv, MsConn *c)
{
	ms_conn_set_timeout(c, DNS_SERVER_TCP_TIMEOUT);
	for (;;) {   /* RFC 7766 6.2.1: several queries on one connection */
		guint8 prefix[2];
		if (!ms_conn_read_exact(c, prefix, 2, NULL))
			return;
		gsize len = ((gsize)prefix[0] << 8) | prefix[1];
		g_autofree guint8 *buf = g_malloc(len ? len : 1);
		if (!ms_conn_read_exact(c, buf, len, NULL))
			return;
		char *why = NULL;
		g_autoptr(GBytes) answer = dns_server_answer_wire(srv, buf, len, FALSE, &why);
		log_exchange(srv, ms_conn_peer_name(c), buf, len, answer, why);
		g_free(why);
		if (!answer)
			continue;
		gsize alen = g_bytes_get_size(answer);
		guint8 aprefix[2] = { (guint8)(alen >> 8), (guint8)alen };
		g_autofree char *shown = g_strdup_printf("(DNS answer over TCP, %" G_GSIZE_FORMAT " bytes)", alen);
		if (!ms_conn_write_masked(c, aprefix, 2, shown, NULL) ||
		    !ms_conn_write_masked(c, g_bytes_get_data(answer, NULL), alen, shown, NULL))
			return;
	}
}

static void tcp_task(gpointer data)
{
	DnsServer *srv = data;
	for (;;) {
		MsConn *c = ms_listener_accept(srv->tcp, NULL);
		if (!c)
			return;
		/* One client at a time is plenty for DNS over TCP here: it is the
		 * rare fallback for truncated answers. */
		serve_tcp_client(srv, c);
		ms_conn_unref(c);
	}
}

gboolean dns_server_start(DnsServer *srv, const char *addr, guint16 port, GError **error)
{
	g_return_val_if_fail(!srv->running, FALSE);
	srv->udp = ms_stack_udp_bind(srv->stack, addr, port, error);
	if (!srv->udp)
		return FALSE;
	ms_dgram_set_proto(srv->udp, "dns");
	srv->tcp = ms_stack_listen(srv->stack, addr, port ? port : ms_dgram_port(srv->udp), error);
	if (!srv->tcp) {
		g_clear_pointer(&srv->udp, ms_dgram_free);
		return FALSE;
	}
	ms_listener_set_proto(srv->tcp, "dns");
	srv->running = TRUE;
	MsSched *s = ms_stack_sched(srv->stack);
	g_autofree char *uname = g_strdup_printf("dns-udp@%s", srv->name);
	g_autofree char *tname = g_strdup_printf("dns-tcp@%s", srv->name);
	ms_task_spawn(s, uname, udp_task, srv);
	ms_task_spawn(s, tname, tcp_task, srv);
	return TRUE;
}

void dns_server_stop(DnsServer *srv)
{
	if (!srv->running)
		return;
	srv->running = FALSE;
	ms_dgram_close(srv->udp);
	ms_listener_close(srv->tcp);
}
