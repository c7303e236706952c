/* net/resolver.c - a stub resolver over MsConn, visible on the event bus.
 *
 * RFC 1035 7 in miniature: one question per message, a random id checked
 * on the answer (and the answer's source), retries on time-out, TCP when
 * the UDP answer is truncated.  The mail-specific part is MX selection as
 * RFC 5321 5.1 describes it, with RFC 7505 null MX.
 */
#include "net/resolver.h"
#include "net/dnsbl.h"
#include "sim/kernel/rng.h"

#include <string.h>

typedef struct {
	char *zone;   /* canonical, with the trailing dot */
	char *addr;
	char *name;
} Stub;

struct MsDnsDirectory {
	gint       ref;
	char      *addr, *name;
	guint16    port;
	GHashTable *by_zone;  /* canonical zone -> the first Stub* given for it (owned) */
};

struct MsResolver {
	MsStack        *stack;
	char           *who;
	MsDnsDirectory *dir;
	/* the server of the query under way */
	const char     *server_addr;
	const char     *server_name;
	guint16         port;
	MsRng          *rng;
	gint64          timeout;
	guint           tries;
	MsDnsCache     *cache;    /* shared answers, or NULL: every question goes out */
};

static void stub_free(gpointer data)
{
	Stub *st = data;
	g_free(st->zone);
	g_free(st->addr);
	g_free(st->name);
	g_free(st);
}

MsDnsDirectory *ms_dns_directory_new(const char *default_addr, guint16 port, const char *default_name)
{
	MsDnsDirectory *d = g_new0(MsDnsDirectory, 1);
	d->ref = 1;
	d->addr = g_strdup(default_addr);
	d->name = g_strdup(default_name ? default_name : default_addr);
	d->port = port;
	d->by_zone = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, stub_free);   /* key: its stub's */
	return d;
}

MsDnsDirectory *ms_dns_directory_ref(MsDnsDirectory *d)
{
	g_atomic_int_inc(&d->ref);
	return d;
}

void ms_dns_directory_unref(MsDnsDirectory *d)
{
	if (!d || !g_atomic_int_dec_and_test(&d->ref))
		return;
	g_hash_table_unref(d->by_zone);
	g_free(d->addr);
	g_free(d->name);
	g_free(d);
}

void ms_dns_directory_add(MsDnsDirectory *d, const char *zone, const char *addr, const char *name)
{
	char *canon = dns_name_canonical(zone, NULL);
	g_return_if_fail(canon != NULL);
	if (g_hash_table_contains(d->by_zone, canon)) {
		g_free(canon);   /* the first server given for a zone answers it */
		return;
	}
	Stub *st = g_new0(Stub, 1);
	st->zone = canon;
	st->addr = g_strdup(addr);
	st->name = g_strdup(name ? name : addr);
	g_hash_table_insert(d->by_zone, st->zone, st);
}

/* The server for qname: the stub with the longest zone that holds it. */
static void pick_server(MsResolver *r, const char *qname)
{
	/* the longest is the first met going up from qname: a world of a
	 * thousand zones looks up a handful of names, not a thousand */
	const Stub *best = NULL;
	for (const char *n = qname; n && !best; n = dns_name_parent(n))
		best = g_hash_table_lookup(r->dir->by_zone, n);
	r->server_addr = best ? best->addr : r->dir->addr;
	r->server_name = best ? best->name : r->dir->name;
}

static const char *const status_names[] = {
	"ok", "NXDOMAIN", "no data", "null MX", "temporary failure", "permanent failure",
};

const char *ms_dns_status_to_string(MsDnsStatus s)
{
	return (guint)s < G_N_ELEMENTS(status_names) ? status_names[s] : "?";
}

MsResolver *ms_resolver_new(MsStack *stack, const char *who, const char *server_addr,
                            guint16 port, const char *server_name, guint64 seed)
{
	MsDnsDirectory *d = ms_dns_directory_new(server_addr, port, server_name);
	MsResolver *r = ms_resolver_new_directory(stack, who, d, seed);
	ms_dns_directory_unref(d);
	return r;
}

MsResolver *ms_resolver_new_directory(MsStack *stack, const char *who, MsDnsDirectory *dir, guint64 seed)
{
	MsResolver *r = g_new0(MsResolver, 1);
	r->stack = ms_stack_ref(stack);
	r->who = g_strdup(who);
	r->dir = ms_dns_directory_ref(dir);
	r->server_addr = dir->addr;
	r->server_name = dir->name;
	r->port = dir->port;
	g_autofree char *stream = g_strconcat("resolver:", who, NULL);
	r->rng = ms_rng_new(seed, stream);
	r->timeout = MS_RESOLVER_TIMEOUT;
	r->tries = MS_RESOLVER_TRIES;
	return r;
}

void ms_resolver_free(MsResolver *r)
{
	if (!r)
		return;
	ms_stack_unref(r->stack);
	ms_rng_free(r->rng);
	ms_dns_directory_unref(r->dir);
	ms_dns_cache_unref(r->cache);
	g_free(r->who);
	g_free(r);
}

void ms_resolver_set_timeout(MsResolver *r, gint64 per_try_us, guint tries)
{
	r->timeout = per_try_us;
	r->tries = MAX(tries, 1);
}

void ms_mx_host_free(MsMxHost *mx)
{
	if (!mx)
		return;
	g_free(mx->host);
	g_free(mx);
}

/* ---- events ------------------------------------------------------------ */

static void emit(MsResolver *r, MsEventKind kind, gboolean to_server, const char *step,
                 const char *text, GBytes *payload)
{
	MsEvent ev = {
		.kind = kind,
		.from = to_server ? r->who : r->server_name,
		.to = to_server ? r->server_name : r->who,
		.proto = "dns", .step = step, .text = text, .payload = payload,
	};
	ms_bus_emit(ms_sched_bus(ms_stack_sched(r->stack)), &ev);
}

/* ---- one exchange ------------------------------------------------------ */

static DnsMessage *exchange_tcp(MsResolver *r, GBytes *query, guint16 id, GError **error)
{
	g_autoptr(MsConn) c = ms_stack_connect(r->stack, r->server_addr, r->port, r->timeout, error);
	if (!c)
		return NULL;
	ms_conn_set_proto(c, "dns");
	ms_conn_set_timeout(c, r->timeout);
	gsize len;
	const guint8 *data = g_bytes_get_data(query, &len);
	guint8 prefix[2] = { (guint8)(len >> 8), (guint8)len };   /* RFC 1035 4.2.2 */
	g_autofree char *shown = g_strdup_printf("(DNS over TCP, %" G_GSIZE_FORMAT " bytes)", len);
	if (!ms_conn_write_masked(c, prefix, 2, shown, error) ||
	    !ms_conn_write_masked(c, data, len, shown, error))
		return NULL;
	if (!ms_conn_read_exact(c, prefix, 2, error))
		return NULL;
	gsize rlen = ((gsize)prefix[0] << 8) | prefix[1];
	g_autofree guint8 *buf = g_malloc(rlen ? rlen : 1);
	if (!ms_conn_read_exact(c, buf, rlen, error))
		return NULL;
	DnsMessage *resp = dns_wire_decode(buf, rlen, error);
	if (resp && resp->id != id) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "answer over TCP has the wrong id");
		g_clear_pointer(&resp, dns_message_free);
	}
	return resp;
}

/* Send the query, wait for the matching answer.  NULL with error on
 * time-out (every try) or transport failure. */
static DnsMessage *exchange(MsResolver *r, const DnsMessage *q, const char *step, GError **error)
{
	MsSched *s = ms_stack_sched(r->stack);
	g_autoptr(GBytes) wire = dns_wire_encode(q, DNS_WIRE_UDP_SIZE, error);
	if (!wire)
		return NULL;
	g_autofree char *line = dns_message_to_line(q);
	emit(r, MS_EV_DNS_QUERY, TRUE, step, line, wire);

	MsDgram *d = ms_stack_udp_bind(r->stack, NULL, 0, error);
	if (!d)
		return NULL;
	ms_dgram_set_proto(d, "dns");
	DnsMessage *resp = NULL;
	GError *last = NULL;
	for (guint attempt = 0; attempt < r->tries && !resp; attempt++) {
		gsize len;
		const guint8 *data = g_bytes_get_data(wire, &len);
		g_clear_error(&last);
		if (!ms_dgram_send(d, r->server_addr, r->port, data, len, &last))
			break;
		gint64 deadline = ms_sched_now(s) + r->timeout;
		for (;;) {
			guint8 buf[DNS_WIRE_MAX_MESSAGE];
			char *from = NULL;
			guint16 from_port = 0;
			gssize n = ms_dgram_recv(d, buf, sizeof buf, &from, &from_port, deadline, &last);
			if (n < 0)
				break;   /* time-out: try again */
			gboolean from_server = g_strcmp0(from, r->server_addr) == 0 && from_port == r->port;
			g_free(from);
			g_autoptr(GError) derr = NULL;
			DnsMessage *m = dns_wire_decode(buf, (gsize)n, &derr);
			/* RFC 5452 9.1: an answer must match id, source and question */
			if (m && from_server && m->qr && m->id == q->id) {
				resp = m;
				break;
			}
			if (m)
				dns_message_free(m);
		}
		if (g_error_matches(last, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			break;
	}
	ms_dgram_free(d);

	if (resp && resp->tc) {
		/* RFC 1035 4.2.1: truncated over UDP, ask again over TCP */
		dns_message_free(resp);
		resp = exchange_tcp(r, wire, q->id, &last);
	}
	if (!resp) {
		g_autofree char *why = g_strdup_printf("%s: no answer (%s)", line, last ? last->message : "timed out");
		emit(r, MS_EV_ERROR, FALSE, step, why, NULL);
		if (last)
			g_propagate_error(error, last);
		else
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no answer from %s", r->server_name);
		return NULL;
	}
	g_autoptr(GBytes) rwire = dns_wire_encode(resp, 0, NULL);
	g_autofree char *rline = dns_message_to_line(resp);
	emit(r, MS_EV_DNS_ANSWER, FALSE, step, rline, rwire);
	g_clear_error(&last);
	return resp;
}

/* RFC 2308 5: a negative answer lives as long as the smaller of its SOA's
 * TTL and MINIMUM; without an SOA it is not kept. */
static guint32 negative_ttl(const DnsMessage *resp)
{
	for (guint i = 0; resp->authority && i < resp->authority->len; i++) {
		const DnsRecord *rec = resp->authority->pdata[i];
		if (rec->type == DNS_TYPE_SOA)
			return MIN(rec->ttl, rec->rdata.soa.minimum);
	}
	return 0;
}

/* The question over the network.  *ttl_r: how long the answer may be
 * kept (RFC 2181 8: the least TTL of its records; RFC 2308 5: a negative
 * answer as long as its SOA says), 0 when it may not. */
static MsDnsStatus query_network(MsResolver *r, const char *name, guint16 type, const char *step,
                                 GPtrArray **records_r, guint32 *ttl_r, GError **error)
{
	*ttl_r = 0;
	guint16 id = (guint16)ms_rng_u32(r->rng);
	g_autoptr(DnsMessage) q = dns_message_new_query(id, name, type, error);
	if (!q)
		return MS_DNS_PERMFAIL;
	g_autofree char *canon = dns_name_canonical(name, NULL);
	pick_server(r, canon);
	g_autoptr(DnsMessage) resp = exchange(r, q, step, error);
	if (!resp)
		return MS_DNS_TEMPFAIL;

	switch (resp->rcode) {
	case DNS_RCODE_NOERROR:
		break;
	case DNS_RCODE_NXDOMAIN:
		*ttl_r = negative_ttl(resp);
		return MS_DNS_NXDOMAIN;
	case DNS_RCODE_FORMERR:
	case DNS_RCODE_NOTIMP:
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the server answered %s",
		            dns_rcode_to_string(resp->rcode));
		return MS_DNS_PERMFAIL;
	default:
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the server answered %s",
		            dns_rcode_to_string(resp->rcode));
		return MS_DNS_TEMPFAIL;
	}

	/* Follow the CNAME chain inside the answer to the final owner. */
	g_autofree char *owner = dns_name_canonical(name, NULL);
	for (guint hops = 0; owner && hops < 16; hops++) {
		gboolean moved = FALSE;
		for (guint i = 0; i < resp->answers->len; i++) {
			DnsRecord *rec = g_ptr_array_index(resp->answers, i);
			if (rec->type == DNS_TYPE_CNAME && type != DNS_TYPE_CNAME &&
			    dns_name_equal(rec->name, owner)) {
				g_free(owner);
				owner = dns_name_canonical(rec->rdata.name, NULL);
				moved = TRUE;
				break;
			}
		}
		if (!moved)
			break;
	}
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)dns_record_free);
	for (guint i = 0; owner && i < resp->answers->len; i++) {
		DnsRecord *rec = g_ptr_array_index(resp->answers, i);
		if ((rec->type == type || type == DNS_TYPE_ANY) && dns_name_equal(rec->name, owner))
			g_ptr_array_add(out, dns_record_copy(rec));
	}
	if (out->len == 0) {
		g_ptr_array_unref(out);
		*ttl_r = negative_ttl(resp);
		return MS_DNS_NODATA;
	}
	*ttl_r = G_MAXUINT32;
	for (guint i = 0; i < out->len; i++)
		*ttl_r = MIN(*ttl_r, ((DnsRecord *)out->pdata[i])->ttl);
	if (records_r)
		*records_r = out;
	else
		g_ptr_array_unref(out);
	return MS_DNS_OK;
}

/* ---- the cache: RFC 1034 4.3.4, as a caching resolver keeps answers ---- */

struct MsDnsCache {
	gint        refs;
	GMutex      lock;
	GHashTable *entries;   /* "name/type" -> CacheEntry* */
};

typedef struct {
	MsDnsStatus status;    /* OK, NXDOMAIN or NODATA */
	GPtrArray  *records;   /* DnsRecord*, for OK */
	gint64      expires;   /* scheduler time */
} CacheEntry;

static void cache_entry_free(gpointer p)
{
	CacheEntry *e = p;
	if (e->records)
		g_ptr_array_unref(e->records);
	g_free(e);
}

MsDnsCache *ms_dns_cache_new(void)
{
	MsDnsCache *c = g_new0(MsDnsCache, 1);
	c->refs = 1;
	g_mutex_init(&c->lock);
	c->entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, cache_entry_free);
	return c;
}

MsDnsCache *ms_dns_cache_ref(MsDnsCache *c)
{
	g_atomic_int_inc(&c->refs);
	return c;
}

void ms_dns_cache_unref(MsDnsCache *c)
{
	if (!c || !g_atomic_int_dec_and_test(&c->refs))
		return;
	g_hash_table_unref(c->entries);
	g_mutex_clear(&c->lock);
	g_free(c);
}

void ms_resolver_set_cache(MsResolver *r, MsDnsCache *cache)
{
	MsDnsCache *old = r->cache;
	r->cache = cache ? ms_dns_cache_ref(cache) : NULL;
	ms_dns_cache_unref(old);
}

static GPtrArray *records_copy(const GPtrArray *records)
{
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)dns_record_free);
	for (guint i = 0; records && i < records->len; i++)
		g_ptr_array_add(out, dns_record_copy(records->pdata[i]));
	return out;
}

/* A fresh answer for key, copied out; FALSE when there is none. */
static gboolean cache_lookup(MsResolver *r, const char *key, gint64 now, MsDnsStatus *status_r,
                             GPtrArray **records_r, gint64 *left_r)
{
	gboolean hit = FALSE;
	g_mutex_lock(&r->cache->lock);
	const CacheEntry *e = g_hash_table_lookup(r->cache->entries, key);
	if (e && e->expires > now) {
		*status_r = e->status;
		*left_r = e->expires - now;
		if (records_r && e->status == MS_DNS_OK)
			*records_r = records_copy(e->records);
		hit = TRUE;
	} else if (e) {
		g_hash_table_remove(r->cache->entries, key);   /* its TTL ran out */
	}
	g_mutex_unlock(&r->cache->lock);
	return hit;
}

static void cache_store(MsResolver *r, const char *key, gint64 now, MsDnsStatus status,
                        const GPtrArray *records, guint32 ttl)
{
	if (ttl == 0 || (status != MS_DNS_OK && status != MS_DNS_NXDOMAIN && status != MS_DNS_NODATA))
		return;
	CacheEntry *e = g_new0(CacheEntry, 1);
	e->status = status;
	e->records = status == MS_DNS_OK ? records_copy(records) : NULL;
	e->expires = now + (gint64)MIN(ttl, MS_DNS_CACHE_MAX_TTL) * MS_SECOND;
	g_mutex_lock(&r->cache->lock);
	/* bounded: emptied when full, as the simplest fair eviction */
	if (g_hash_table_size(r->cache->entries) >= MS_DNS_CACHE_MAX_ENTRIES)
		g_hash_table_remove_all(r->cache->entries);
	g_hash_table_replace(r->cache->entries, g_strdup(key), e);
	g_mutex_unlock(&r->cache->lock);
}

MsDnsStatus ms_resolver_query(MsResolver *r, const char *name, guint16 type, const char *step,
                              GPtrArray **records_r, GError **error)
{
	if (records_r)
		*records_r = NULL;
	g_autofree char *key = NULL;
	gint64 now = ms_sched_now(ms_stack_sched(r->stack));
	if (r->cache) {
		g_autofree char *canon = dns_name_canonical(name, NULL);
		if (!canon) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "\"%s\" is no domain name", name);
			return MS_DNS_PERMFAIL;
		}
		key = g_strdup_printf("%s/%s", canon, dns_type_to_string(type));
		MsDnsStatus status;
		gint64 left;
		if (cache_lookup(r, key, now, &status, records_r, &left)) {
			/* still visible: the step happens, the network is spared */
			gsize shown = strlen(canon) - (g_str_has_suffix(canon, ".") && canon[1] ? 1 : 0);
			g_autofree char *text = g_strdup_printf("%.*s %s: %s from the cache (%" G_GINT64_FORMAT " s left)",
			                                        (int)shown, canon, dns_type_to_string(type),
			                                        status == MS_DNS_OK ? "the answer" : ms_dns_status_to_string(status),
			                                        left / MS_SECOND);
			MsEvent ev = { .kind = MS_EV_NOTE, .from = r->who, .proto = "dns", .step = step, .text = text };
			ms_bus_emit(ms_sched_bus(ms_stack_sched(r->stack)), &ev);
			return status;
		}
	}
	guint32 ttl = 0;
	GPtrArray *records = NULL;
	MsDnsStatus status = query_network(r, name, type, step, &records, &ttl, error);
	if (r->cache)
		cache_store(r, key, now, status, records, ttl);
	if (records_r)
		*records_r = records;
	else if (records)
		g_ptr_array_unref(records);
	return status;
}

/* ---- MX: RFC 5321 5.1 -------------------------------------------------- */

static gint mx_compare(gconstpointer a, gconstpointer b)
{
	const MsMxHost *x = *(MsMxHost *const *)a, *y = *(MsMxHost *const *)b;
	return (gint)x->preference - (gint)y->preference;
}

MsDnsStatus ms_resolver_mx(MsResolver *r, const char *domain, const char *step,
                           GPtrArray **hosts_r, GError **error)
{
	*hosts_r = NULL;
	g_autoptr(GPtrArray) recs = NULL;
	MsDnsStatus st = ms_resolver_query(r, domain, DNS_TYPE_MX, step, &recs, error);
	GPtrArray *hosts = g_ptr_array_new_with_free_func((GDestroyNotify)ms_mx_host_free);

	if (st == MS_DNS_OK) {
		/* RFC 7505 3: a single "0 ." record says the domain takes no mail */
		if (recs->len == 1) {
			DnsRecord *only = g_ptr_array_index(recs, 0);
			if (strcmp(only->rdata.mx.exchange, ".") == 0) {
				g_ptr_array_unref(hosts);
				return MS_DNS_NULLMX;
			}
		}
		/* Shuffle first, then a stable sort: equal preferences keep the
		 * seeded random order (RFC 5321 5.1: spread the load). */
		for (guint i = 0; i < recs->len; i++) {
			DnsRecord *rec = g_ptr_array_index(recs, i);
			if (strcmp(rec->rdata.mx.exchange, ".") == 0)
				continue;
			MsMxHost *mx = g_new0(MsMxHost, 1);
			mx->preference = rec->rdata.mx.preference;
			mx->host = g_strdup(rec->rdata.mx.exchange);
			g_ptr_array_add(hosts, mx);
		}
		ms_rng_shuffle(r->rng, hosts->pdata, hosts->len, sizeof(gpointer));
		g_ptr_array_sort(hosts, mx_compare);   /* GLib's sort is stable */
		*hosts_r = hosts;
		return hosts->len ? MS_DNS_OK : MS_DNS_NULLMX;
	}
	if (st == MS_DNS_NODATA) {
		/* RFC 5321 5.1: no MX, so the domain itself is the implicit MX,
		 * if it has an address. */
		g_autoptr(GPtrArray) addrs = NULL;
		g_clear_error(error);
		MsDnsStatus ast = ms_resolver_addresses(r, domain, step, &addrs, error);
		if (ast == MS_DNS_OK) {
			MsMxHost *mx = g_new0(MsMxHost, 1);
			mx->host = dns_name_canonical(domain, NULL);
			mx->implicit = TRUE;
			g_ptr_array_add(hosts, mx);
			*hosts_r = hosts;
			return MS_DNS_OK;
		}
		g_ptr_array_unref(hosts);
		return ast == MS_DNS_NXDOMAIN ? MS_DNS_NODATA : ast;
	}
	g_ptr_array_unref(hosts);
	return st;
}

MsDnsStatus ms_resolver_addresses(MsResolver *r, const char *host, const char *step,
                                  GPtrArray **addrs_r, GError **error)
{
	*addrs_r = NULL;
	GPtrArray *addrs = g_ptr_array_new_with_free_func(g_free);
	static const guint16 types[] = { DNS_TYPE_A, DNS_TYPE_AAAA };
	MsDnsStatus first = MS_DNS_NODATA;
	for (guint t = 0; t < G_N_ELEMENTS(types); t++) {
		g_autoptr(GPtrArray) recs = NULL;
		g_autoptr(GError) err = NULL;
		MsDnsStatus st = ms_resolver_query(r, host, types[t], step, &recs, &err);
		if (t == 0)
			first = st;
		if (st == MS_DNS_OK) {
			for (guint i = 0; i < recs->len; i++)
				g_ptr_array_add(addrs, dns_record_address(g_ptr_array_index(recs, i)));
		} else if (st == MS_DNS_TEMPFAIL && addrs->len == 0) {
			g_propagate_error(error, g_steal_pointer(&err));
			g_ptr_array_unref(addrs);
			return st;
		}
		/* The simulated Internet is IPv4: once A answered, AAAA is a
		 * question a student need not watch. */
		if (st == MS_DNS_OK || st == MS_DNS_NXDOMAIN)
			break;
	}
	if (addrs->len == 0) {
		g_ptr_array_unref(addrs);
		return first == MS_DNS_OK ? MS_DNS_NODATA : first;
	}
	*addrs_r = addrs;
	return MS_DNS_OK;
}

MsDnsStatus ms_resolver_ptr(MsResolver *r, const char *address, const char *step,
                            char **name_r, GError **error)
{
	*name_r = NULL;
	/* RFC 1035 3.5 and RFC 3596 2.5: the same reversed form as a DNSBL */
	gboolean v4 = strchr(address, ':') == NULL;
	g_autofree char *q = dnsbl_query_name(address, v4 ? "in-addr.arpa" : "ip6.arpa", error);
	if (!q)
		return MS_DNS_PERMFAIL;
	g_autoptr(GPtrArray) recs = NULL;
	MsDnsStatus st = ms_resolver_query(r, q, DNS_TYPE_PTR, step, &recs, error);
	if (st == MS_DNS_OK)
		*name_r = g_strdup(((DnsRecord *)g_ptr_array_index(recs, 0))->rdata.name);
	return st;
}

MsDnsStatus ms_resolver_txt(MsResolver *r, const char *name, const char *step,
                            GPtrArray **texts_r, GError **error)
{
	*texts_r = NULL;
	g_autoptr(GPtrArray) recs = NULL;
	MsDnsStatus st = ms_resolver_query(r, name, DNS_TYPE_TXT, step, &recs, error);
	if (st != MS_DNS_OK)
		return st;
	GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < recs->len; i++)
		g_ptr_array_add(texts, dns_record_txt_join(g_ptr_array_index(recs, i)));
	*texts_r = texts;
	return st;
}

static gint srv_compare(gconstpointer a, gconstpointer b)
{
	const DnsRecord *x = *(DnsRecord *const *)a, *y = *(DnsRecord *const *)b;
	if (x->rdata.srv.priority != y->rdata.srv.priority)
		return (gint)x->rdata.srv.priority - (gint)y->rdata.srv.priority;
	return (gint)y->rdata.srv.weight - (gint)x->rdata.srv.weight;
}

MsDnsStatus ms_resolver_srv(MsResolver *r, const char *name, const char *step,
                            GPtrArray **records_r, GError **error)
{
	MsDnsStatus st = ms_resolver_query(r, name, DNS_TYPE_SRV, step, records_r, error);
	if (st == MS_DNS_OK) {
		/* RFC 2782: a single "." target means the service is not offered */
		if ((*records_r)->len == 1 &&
		    strcmp(((DnsRecord *)g_ptr_array_index(*records_r, 0))->rdata.srv.target, ".") == 0) {
			g_clear_pointer(records_r, g_ptr_array_unref);
			return MS_DNS_NODATA;
		}
		g_ptr_array_sort(*records_r, srv_compare);
	}
	return st;
}

MsDnsStatus ms_resolver_dnsbl(MsResolver *r, const char *address, const char *zone,
                              const char *step, char **code_r, char **reason_r, GError **error)
{
	*code_r = NULL;
	if (reason_r)
		*reason_r = NULL;
	g_autofree char *q = dnsbl_query_name(address, zone, error);
	if (!q)
		return MS_DNS_PERMFAIL;
	g_autoptr(GPtrArray) recs = NULL;
	MsDnsStatus st = ms_resolver_query(r, q, DNS_TYPE_A, step, &recs, error);
	if (st != MS_DNS_OK)
		return st == MS_DNS_NODATA ? MS_DNS_NXDOMAIN : st;
	*code_r = dns_record_address(g_ptr_array_index(recs, 0));
	if (reason_r) {
		g_autoptr(GPtrArray) texts = NULL;
		g_autoptr(GError) terr = NULL;
		if (ms_resolver_txt(r, q, step, &texts, &terr) == MS_DNS_OK && texts->len)
			*reason_r = g_strdup(g_ptr_array_index(texts, 0));
	}
	return MS_DNS_OK;
}
