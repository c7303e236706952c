/* tests/agents/dns/test_dns_server.c - the DNS server agent and the
 * resolver, together over the simulated network: MX selection (RFC 5321
 * 5.1, RFC 7505), CNAME, PTR, DNSBL, truncation to TCP, time-outs, and the
 * events a student sees. */
#include "tests/ms_test.h"
#include "agents/dns/dns_server.h"
#include "net/resolver.h"
#include "net/simnet.h"
#include "net/dns_zone.h"

static const char *const zone_org =
	"$ORIGIN example.org.\n"
	"@    MX 10 mx1\n"
	"@    MX 10 mx2\n"
	"@    MX 20 backup.example.net.\n"
	"mx1  A 198.51.100.20\n"
	"mx2  A 198.51.100.21\n"
	"www  CNAME mx1\n";
static const char *const zone_test =
	"$ORIGIN test.\n"
	"implicit  A  192.0.2.50\n"
	"nullmx    MX 0 .\n"
	"big       TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
	"big       TXT \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"\n"
	"big       TXT \"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"\n"
	"big       TXT \"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"\n"
	"big       TXT \"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"\n"
	"big       TXT \"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"\n";
static const char *const zone_rev =
	"$ORIGIN 100.51.198.in-addr.arpa.\n"
	"20 PTR mx1.example.org.\n";

typedef struct World World;
typedef void (*Probe)(World *w, MsResolver *r);

struct World {
	MsSched   *s;
	MsNet     *net;
	MsHost    *ns, *client;
	DnsServer *srv;
	MsSink    *rec;
	Probe      probe;
	/* results */
	MsDnsStatus st;
	GPtrArray  *list;
	char       *text1, *text2;
	gint64      elapsed;
};

static void probe_task(gpointer data)
{
	World *w = data;
	MsResolver *r = ms_resolver_new(ms_host_stack(w->client), "mail.example.com",
	                                "203.0.113.53", 53, "ns.example.net", ms_sched_seed(w->s));
	gint64 t0 = ms_sched_now(w->s);
	w->probe(w, r);
	w->elapsed = ms_sched_now(w->s) - t0;
	ms_resolver_free(r);
}

static void run_world(World *w, guint64 seed, Probe probe, gboolean ns_up)
{
	memset(w, 0, sizeof *w);
	w->s = ms_sched_new(MS_SCHED_VIRTUAL, seed);
	w->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(w->s), w->rec);
	w->net = ms_net_new(w->s);
	w->ns = ms_net_add_host(w->net, "ns.example.net", "203.0.113.53", NULL);
	w->client = ms_net_add_host(w->net, "mail.example.com", "192.0.2.10", NULL);
	w->srv = dns_server_new(ms_host_stack(w->ns), "ns.example.net");
	GError *err = NULL;
	ck_assert(dns_server_add_zone_text(w->srv, "example.org", zone_org, "org", 1, &err));
	ck_assert(dns_server_add_zone_text(w->srv, "test", zone_test, "test", 1, &err));
	ck_assert(dns_server_add_zone_text(w->srv, "100.51.198.in-addr.arpa", zone_rev, "rev", 1, &err));
	Dnsbl *bl = dnsbl_new("rbl.example.net", &err);
	ck_assert(dnsbl_add(bl, "203.0.113.66", NULL, "seen sending spam", &err));
	dns_server_add_dnsbl(w->srv, bl);
	ck_assert(dns_server_start(w->srv, NULL, 53, &err));
	ms_host_set_up(w->ns, ns_up);
	w->probe = probe;
	ms_task_spawn(w->s, "probe", probe_task, w);
	ms_sched_run(w->s, MS_FOREVER);
	dns_server_stop(w->srv);
	ms_sched_shutdown(w->s);
}

static void free_world(World *w)
{
	dns_server_free(w->srv);
	ms_net_free(w->net);
	ms_sched_free(w->s);
	if (w->list)
		g_ptr_array_unref(w->list);
	g_free(w->text1);
	g_free(w->text2);
}

static const MsEvent *find_event(World *w, MsEventKind kind, const char *needle)
{
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind == kind && e->text && strstr(e->text, needle))
			return e;
	}
	return NULL;
}

/* ---- MX ---- */

static void probe_mx(World *w, MsResolver *r)
{
	w->st = ms_resolver_mx(r, "example.org", "out.4", &w->list, NULL);
}

static char *mx_order(World *w)
{
	GString *s = g_string_new("");
	for (guint i = 0; w->list && i < w->list->len; i++) {
		MsMxHost *mx = g_ptr_array_index(w->list, i);
		g_string_append_printf(s, "%s%u %s", i ? ", " : "", mx->preference, mx->host);
	}
	return g_string_free(s, FALSE);
}

START_TEST(test_mx_sorted_and_events_tagged)
{
	World w;
	run_world(&w, 1, probe_mx, TRUE);
	ck_assert_int_eq(w.st, MS_DNS_OK);
	ck_assert_int_eq(w.list->len, 3);
	MsMxHost *a = g_ptr_array_index(w.list, 0), *b = g_ptr_array_index(w.list, 1),
	         *c = g_ptr_array_index(w.list, 2);
	ck_assert_int_eq(a->preference, 10);
	ck_assert_int_eq(b->preference, 10);
	ck_assert_int_eq(c->preference, 20);
	ck_assert_str_eq(c->host, "backup.example.net.");
	const MsEvent *q = find_event(&w, MS_EV_DNS_QUERY, "MX ?");
	ck_assert_ptr_nonnull(q);
	ck_assert(g_str_has_prefix(q->text, "example.org"));
	ck_assert_str_eq(q->step, "out.4");
	ck_assert_str_eq(q->from, "mail.example.com");
	ck_assert_str_eq(q->to, "ns.example.net");
	ck_assert_ptr_nonnull(q->payload);
	const MsEvent *ans = find_event(&w, MS_EV_DNS_ANSWER, "10 mx1.example.org.");
	ck_assert_ptr_nonnull(ans);
	ck_assert_str_eq(ans->step, "out.4");
	ck_assert_str_eq(ans->from, "ns.example.net");
	free_world(&w);
}
END_TEST

START_TEST(test_equal_preferences_follow_the_seed)
{
	/* The same seed always gives the same order; over several seeds both
	 * orders of the two preference-10 hosts appear. */
	gboolean seen_mx1_first = FALSE, seen_mx2_first = FALSE;
	for (guint64 seed = 1; seed <= 12; seed++) {
		World w1, w2;
		run_world(&w1, seed, probe_mx, TRUE);
		g_autofree char *o1 = mx_order(&w1);
		free_world(&w1);
		run_world(&w2, seed, probe_mx, TRUE);
		g_autofree char *o2 = mx_order(&w2);
		free_world(&w2);
		ck_assert_str_eq(o1, o2);
		if (g_str_has_prefix(o1, "10 mx1."))
			seen_mx1_first = TRUE;
		if (g_str_has_prefix(o1, "10 mx2."))
			seen_mx2_first = TRUE;
	}
	ck_assert(seen_mx1_first && seen_mx2_first);
}
END_TEST

static void probe_implicit(World *w, MsResolver *r)
{
	w->st = ms_resolver_mx(r, "implicit.test", "out.4", &w->list, NULL);
}

START_TEST(test_implicit_mx)
{
	World w;
	run_world(&w, 1, probe_implicit, TRUE);
	ck_assert_int_eq(w.st, MS_DNS_OK);
	ck_assert_int_eq(w.list->len, 1);
	MsMxHost *mx = g_ptr_array_index(w.list, 0);
	ck_assert(mx->implicit);
	ck_assert_str_eq(mx->host, "implicit.test.");
	free_world(&w);
}
END_TEST

static void probe_nullmx(World *w, MsResolver *r)
{
	w->st = ms_resolver_mx(r, "nullmx.test", "out.4", &w->list, NULL);
}

START_TEST(test_null_mx)
{
	World w;
	run_world(&w, 1, probe_nullmx, TRUE);
	ck_assert_int_eq(w.st, MS_DNS_NULLMX);
	ck_assert_ptr_null(w.list);
	free_world(&w);
}
END_TEST

static void probe_nx(World *w, MsResolver *r)
{
	w->st = ms_resolver_mx(r, "nosuch.example.org", "out.4", &w->list, NULL);
}

START_TEST(test_nxdomain)
{
	World w;
	run_world(&w, 1, probe_nx, TRUE);
	ck_assert_int_eq(w.st, MS_DNS_NXDOMAIN);
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_DNS_ANSWER, "NXDOMAIN"));
	free_world(&w);
}
END_TEST

START_TEST(test_server_down_is_temporary)
{
	World w;
	run_world(&w, 1, probe_mx, FALSE);
	ck_assert_int_eq(w.st, MS_DNS_TEMPFAIL);
	/* three tries of two seconds each, on the virtual clock */
	ck_assert_int_ge(w.elapsed, MS_RESOLVER_TRIES * MS_RESOLVER_TIMEOUT);
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_ERROR, "no answer"));
	free_world(&w);
}
END_TEST

static void probe_big(World *w, MsResolver *r)
{
	w->st = ms_resolver_txt(r, "big.test", "setup.2", &w->list, NULL);
}

START_TEST(test_truncated_answer_retried_over_tcp)
{
	World w;
	run_world(&w, 1, probe_big, TRUE);
	ck_assert_int_eq(w.st, MS_DNS_OK);
	ck_assert_int_eq(w.list->len, 6);
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_SEND, "DNS over TCP"));
	free_world(&w);
}
END_TEST

static void probe_cname_ptr(World *w, MsResolver *r)
{
	g_autoptr(GPtrArray) addrs = NULL;
	w->st = ms_resolver_addresses(r, "www.example.org", NULL, &addrs, NULL);
	if (addrs && addrs->len)
		w->text1 = g_strdup(g_ptr_array_index(addrs, 0));
	ms_resolver_ptr(r, "198.51.100.20", NULL, &w->text2, NULL);
}

START_TEST(test_cname_and_ptr)
{
	World w;
	run_world(&w, 1, probe_cname_ptr, TRUE);
	ck_assert_int_eq(w.st, MS_DNS_OK);
	ck_assert_str_eq(w.text1, "198.51.100.20");
	ck_assert_str_eq(w.text2, "mx1.example.org.");
	free_world(&w);
}
END_TEST

static void probe_dnsbl(World *w, MsResolver *r)
{
	char *code = NULL;
	w->st = ms_resolver_dnsbl(r, "203.0.113.66", "rbl.example.net", "in.3", &code, &w->text2, NULL);
	w->text1 = code;
	char *clean = NULL;
	MsDnsStatus st2 = ms_resolver_dnsbl(r, "192.0.2.10", "rbl.example.net", "in.3", &clean, NULL, NULL);
	ck_assert_int_eq(st2, MS_DNS_NXDOMAIN);
	ck_assert_ptr_null(clean);
}

START_TEST(test_dnsbl_listed_and_clean)
{
	World w;
	run_world(&w, 1, probe_dnsbl, TRUE);
	ck_assert_int_eq(w.st, MS_DNS_OK);
	ck_assert_str_eq(w.text1, "127.0.0.2");
	ck_assert_str_eq(w.text2, "seen sending spam");
	const MsEvent *q = find_event(&w, MS_EV_DNS_QUERY, "66.113.0.203.rbl.example.net.");
	ck_assert_ptr_nonnull(q);
	ck_assert_str_eq(q->step, "in.3");
	free_world(&w);
}
END_TEST

/* A resolver with a directory asks each zone's own server: the blacklist
 * lives on another machine than the domains' zones. */
typedef struct {
	MsHost *client;
	char   *code;
	char   *to;
} TwoServers;

static void two_servers_probe(gpointer data)
{
	TwoServers *t = data;
	MsDnsDirectory *dir = ms_dns_directory_new("203.0.113.53", 53, "ns.example.net");
	ms_dns_directory_add(dir, "rbl.example.net", "203.0.113.54", "rbl.example.net");
	MsResolver *r = ms_resolver_new_directory(ms_host_stack(t->client), "mx.example.org", dir, 1);
	ms_dns_directory_unref(dir);
	ck_assert_int_eq(ms_resolver_dnsbl(r, "203.0.113.66", "rbl.example.net", "in.3", &t->code, NULL, NULL),
	                 MS_DNS_OK);
	g_autoptr(GPtrArray) mx = NULL;
	ck_assert_int_eq(ms_resolver_mx(r, "example.org", "out.4", &mx, NULL), MS_DNS_OK);
	ms_resolver_free(r);
}

typedef struct {
	MsSink    base;
	GString  *log;
} ToLog;

static void remember_to(MsSink *self, const MsEvent *ev)
{
	if (ev->kind == MS_EV_DNS_QUERY)
		g_string_append_printf(((ToLog *)self)->log, "%s|", ev->to);
}

START_TEST(test_directory_asks_each_zone_its_server)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	ToLog *tl = g_new0(ToLog, 1);
	tl->base.write = remember_to;
	tl->base.destroy = (void (*)(MsSink *))g_free;   /* the log string is ours */
	tl->log = g_string_new("");
	GString *log = tl->log;
	ms_bus_add_sink(ms_sched_bus(s), &tl->base);
	MsNet *net = ms_net_new(s);
	MsHost *ns = ms_net_add_host(net, "ns.example.net", "203.0.113.53", NULL);
	MsHost *rbl = ms_net_add_host(net, "rbl.example.net", "203.0.113.54", NULL);
	TwoServers t = { .client = ms_net_add_host(net, "mx.example.org", "198.51.100.20", NULL) };
	DnsServer *a = dns_server_new(ms_host_stack(ns), "ns.example.net");
	DnsServer *b = dns_server_new(ms_host_stack(rbl), "rbl.example.net");
	ck_assert(dns_server_add_zone_text(a, "example.org", zone_org, "org", 1, NULL));
	Dnsbl *bl = dnsbl_new("rbl.example.net", NULL);
	ck_assert(dnsbl_add(bl, "203.0.113.66", NULL, "spam", NULL));
	dns_server_add_dnsbl(b, bl);
	ck_assert(dns_server_start(a, NULL, 53, NULL));
	ck_assert(dns_server_start(b, NULL, 53, NULL));
	ms_task_spawn(s, "probe", two_servers_probe, &t);
	ms_sched_run(s, MS_FOREVER);
	ck_assert_str_eq(t.code, "127.0.0.2");
	ck_assert_str_eq(log->str, "rbl.example.net|ns.example.net|");
	dns_server_stop(a);
	dns_server_stop(b);
	ms_sched_shutdown(s);
	dns_server_free(a);
	dns_server_free(b);
	ms_net_free(net);
	ms_sched_free(s);
	g_string_free(log, TRUE);
	g_free(t.code);
}
END_TEST

/* ---- malformed queries, without a network ---- */

START_TEST(test_malformed_query_gets_formerr)
{
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsNet *net = ms_net_new(s);
	MsHost *h = ms_net_add_host(net, "ns", "203.0.113.53", NULL);
	DnsServer *srv = dns_server_new(ms_host_stack(h), "ns");
	ck_assert(dns_server_add_zone_text(srv, "example.org", zone_org, "org", 1, NULL));
	/* header says one question, but the packet ends: FORMERR, same id */
	const guint8 truncated[] = { 0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 7, 'e', 'x' };
	char *why = NULL;
	GBytes *a = dns_server_answer_wire(srv, truncated, sizeof truncated, TRUE, &why);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(why);
	const guint8 *ab = g_bytes_get_data(a, NULL);
	ck_assert_int_eq(ab[0], 0xbe);
	ck_assert_int_eq(ab[1], 0xef);
	ck_assert_int_eq(ab[2] & 0x80, 0x80);
	ck_assert_int_eq(ab[3] & 0x0f, 1);   /* FORMERR */
	g_bytes_unref(a);
	g_free(why);
	/* too short for a header: silence */
	ck_assert_ptr_null(dns_server_answer_wire(srv, truncated, 5, TRUE, NULL));
	/* a response is never answered */
	guint8 resp[12] = { 1, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	ck_assert_ptr_null(dns_server_answer_wire(srv, resp, sizeof resp, TRUE, NULL));
	dns_server_free(srv);
	ms_net_free(net);
	ms_sched_free(s);
}
END_TEST

/* ---- the cache: two resolvers of one agent share it; answers last their TTL ---- */

static guint count_events(World *w, MsEventKind kind, const char *needle)
{
	guint n = 0;
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		n += e->kind == kind && e->text && strstr(e->text, needle);
	}
	return n;
}

static void probe_cache(World *w, MsResolver *r)
{
	MsDnsCache *cache = ms_dns_cache_new();
	ms_resolver_set_cache(r, cache);
	MsResolver *other = ms_resolver_new(ms_host_stack(w->client), "mail.example.com", "203.0.113.53", 53,
	                                    "ns.example.net", 7);
	ms_resolver_set_cache(other, cache);
	ms_dns_cache_unref(cache);   /* the resolvers hold it */
	g_autoptr(GPtrArray) a = NULL, b = NULL, c = NULL;
	w->st = ms_resolver_mx(r, "example.org", "out.4", &a, NULL);
	gint64 t0 = ms_sched_now(w->s);
	ck_assert_int_eq(ms_resolver_mx(other, "Example.ORG", "out.4", &b, NULL), MS_DNS_OK);
	/* from the cache: no time passes, the same exchangers come back */
	ck_assert_int_eq(ms_sched_now(w->s), t0);
	ck_assert_uint_eq(a->len, b->len);
	ms_sleep((DNS_ZONE_DEFAULT_TTL + 1) * MS_SECOND);
	ck_assert_int_eq(ms_resolver_mx(other, "example.org", "out.4", &c, NULL), MS_DNS_OK);
	ck_assert_uint_eq(c->len, a->len);
	ms_resolver_free(other);
}

START_TEST(test_cache_until_ttl)
{
	World w;
	run_world(&w, 1, probe_cache, TRUE);
	ck_assert_int_eq(w.st, MS_DNS_OK);
	/* three look-ups: the first and the one after the TTL ran out went out */
	ck_assert_uint_eq(count_events(&w, MS_EV_DNS_QUERY, "example.org"), 2);
	const MsEvent *hit = find_event(&w, MS_EV_NOTE, "from the cache");
	ck_assert_ptr_nonnull(hit);
	ck_assert_str_eq(hit->step, "out.4");
	ck_assert_ptr_nonnull(strstr(hit->text, "example.org MX"));
	free_world(&w);
}
END_TEST

static Suite *dns_server_suite(void)
{
	Suite *s = suite_create("dns_server");
	MS_ADD_TEST(s, test_mx_sorted_and_events_tagged, 10);
	MS_ADD_TEST(s, test_equal_preferences_follow_the_seed, 30);
	MS_ADD_TEST(s, test_implicit_mx, 10);
	MS_ADD_TEST(s, test_null_mx, 10);
	MS_ADD_TEST(s, test_nxdomain, 10);
	MS_ADD_TEST(s, test_cache_until_ttl, 10);
	MS_ADD_TEST(s, test_server_down_is_temporary, 10);
	MS_ADD_TEST(s, test_truncated_answer_retried_over_tcp, 10);
	MS_ADD_TEST(s, test_cname_and_ptr, 10);
	MS_ADD_TEST(s, test_dnsbl_listed_and_clean, 10);
	MS_ADD_TEST(s, test_malformed_query_gets_formerr, 10);
	MS_ADD_TEST(s, test_directory_asks_each_zone_its_server, 10);
	return s;
}

MS_TEST_MAIN(dns_server_suite)
