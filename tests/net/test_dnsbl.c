/* tests/net/test_dnsbl.c - DNS blacklists and the reverse-DNS guess.
 *
 * Query names both ways, listings (single, CIDR, IPv6, longest prefix, the
 * RFC 5782 test entries), the DNS answers, and the dynamic-name heuristic
 * on names that are and are not generic.
 */
#include "tests/ms_test.h"
#include "net/dnsbl.h"

#define assert_gerror(err, dom, c)                                              \
	do {                                                                        \
		ck_assert_ptr_nonnull(err);                                             \
		ck_assert_msg((err)->domain == (dom) && (err)->code == (gint)(c),       \
		              "unexpected error: %s", (err)->message);                   \
	} while (0)

#define ZONE "rbl.example.net."

static const struct { const char *address, *qname; } query_names[] = {
	{ "1.2.3.4",       "4.3.2.1." ZONE },
	{ "192.0.2.10",    "10.2.0.192." ZONE },
	{ "203.0.113.66",  "66.113.0.203." ZONE },
	{ "0.0.0.0",       "0.0.0.0." ZONE },
	{ "2001:db8::1",   "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2." ZONE },
	{ "::ffff:127.0.0.2", "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0." ZONE },
};

START_TEST(test_query_names)
{
	for (gsize i = 0; i < G_N_ELEMENTS(query_names); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *q = dnsbl_query_name(query_names[i].address, "RBL.example.net", &error);
		ck_assert_msg(q != NULL, "%s", error ? error->message : "");
		ck_assert_str_eq(q, query_names[i].qname);
		g_autofree char *back = dnsbl_address_from_query_name(query_names[i].qname, ZONE);
		ck_assert_str_eq(back, query_names[i].address);
	}
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(dnsbl_query_name("1.2.3", ZONE, &error));
	assert_gerror(error, DNSBL_ERROR, DNSBL_ERROR_BAD_ADDRESS);
	g_clear_error(&error);
	ck_assert_ptr_null(dnsbl_query_name("1.2.3.4", "bad..zone", &error));
	assert_gerror(error, DNSBL_ERROR, DNSBL_ERROR_BAD_ZONE);
	g_autofree char *root = dnsbl_query_name("1.2.3.4", ".", NULL);
	ck_assert_str_eq(root, "4.3.2.1.");

	static const char *const not_addresses[] = {
		ZONE,                           /* the zone itself */
		"3.2.1." ZONE,                  /* three octets */
		"5.4.3.2.1." ZONE,              /* five */
		"04.3.2.1." ZONE,               /* a leading zero */
		"256.3.2.1." ZONE,
		"a.3.2.1." ZONE,
		"4.3.2.1.other.example.net.",   /* another zone */
		"4.3.2.1.xrbl.example.net.",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.g." ZONE,
		"10.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2." ZONE,
		"bad..name",
	};
	for (gsize i = 0; i < G_N_ELEMENTS(not_addresses); i++) {
		g_autofree char *a = dnsbl_address_from_query_name(not_addresses[i], ZONE);
		ck_assert_msg(a == NULL, "%s gave %s", not_addresses[i], a);
	}
}
END_TEST

static Dnsbl *sample_list(void)
{
	g_autoptr(GError) error = NULL;
	Dnsbl *list = dnsbl_new("rbl.example.net", &error);
	ck_assert_ptr_nonnull(list);
	ck_assert(dnsbl_add(list, "203.0.113.66", NULL, "listed: seen sending spam", &error));
	ck_assert(dnsbl_add(list, "198.51.100.0/24", "127.0.0.11", "dynamic range of a cable ISP", &error));
	ck_assert(dnsbl_add(list, "198.51.100.128/25", "127.0.0.10", NULL, &error));
	ck_assert(dnsbl_add(list, "2001:db8:bad::/48", "127.0.0.4", "infected host", &error));
	ck_assert(dnsbl_add(list, "127.0.0.0/8", NULL, "everything local (except the test entries)", &error));
	return list;
}

static const struct {
	const char *address;
	const char *listed_as;   /* the entry's text, or NULL */
	const char *code;
} lookups[] = {
	{ "203.0.113.66",      "203.0.113.66",       "127.0.0.2" },
	{ "203.0.113.67",      NULL,                 NULL },
	{ "198.51.100.7",      "198.51.100.0/24",    "127.0.0.11" },
	{ "198.51.100.200",    "198.51.100.128/25",  "127.0.0.10" },   /* the longer prefix wins */
	{ "198.51.101.1",      NULL,                 NULL },
	{ "2001:db8:bad:1::25","2001:db8:bad::/48",  "127.0.0.4" },
	{ "2001:db8:bae::1",   NULL,                 NULL },
	/* RFC 5782 5: the test entries */
	{ "127.0.0.2",         "127.0.0.2",          "127.0.0.2" },
	{ "127.0.0.1",         NULL,                 NULL },
	{ "127.0.0.3",         "127.0.0.0/8",        "127.0.0.2" },
	{ "::ffff:127.0.0.2",  "::ffff:127.0.0.2",   "127.0.0.2" },
	{ "::ffff:127.0.0.1",  NULL,                 NULL },
	{ "not an address",    NULL,                 NULL },
};

START_TEST(test_lookup)
{
	g_autoptr(Dnsbl) list = sample_list();
	ck_assert_str_eq(dnsbl_zone(list), ZONE);
	ck_assert_uint_eq(dnsbl_entries(list)->len, 5);
	for (gsize i = 0; i < G_N_ELEMENTS(lookups); i++) {
		const DnsblEntry *e = dnsbl_lookup(list, lookups[i].address);
		if (lookups[i].listed_as == NULL) {
			ck_assert_msg(e == NULL, "%s listed as %s", lookups[i].address, e ? e->text : "");
			continue;
		}
		ck_assert_msg(e != NULL, "%s not listed", lookups[i].address);
		ck_assert_str_eq(e->text, lookups[i].listed_as);
		g_autofree char *code = g_strdup_printf("%u.%u.%u.%u", e->code[0], e->code[1], e->code[2], e->code[3]);
		ck_assert_str_eq(code, lookups[i].code);
	}
	const DnsblEntry *e = dnsbl_lookup(list, "198.51.100.200");
	ck_assert_str_eq(e->reason, "listed in " ZONE);
	ck_assert_uint_eq(e->prefix_len, 25);
	ck_assert_int_eq(e->family, DNSBL_FAMILY_IPV4);

	/* listing again replaces; unlisting needs the same network */
	ck_assert(dnsbl_add(list, "203.0.113.66", "127.0.0.3", "again", NULL));
	ck_assert_uint_eq(dnsbl_entries(list)->len, 5);
	ck_assert_str_eq(dnsbl_lookup(list, "203.0.113.66")->reason, "again");
	ck_assert(!dnsbl_remove(list, "198.51.100.7"));
	ck_assert(dnsbl_remove(list, "198.51.100.128/25"));
	ck_assert_str_eq(dnsbl_lookup(list, "198.51.100.200")->text, "198.51.100.0/24");
	ck_assert(dnsbl_remove(list, "203.0.113.66"));
	ck_assert_ptr_null(dnsbl_lookup(list, "203.0.113.66"));
}
END_TEST

static const struct {
	const char *address, *code, *reason;
	DnsblError  error;
	const char *says;
} bad_adds[] = {
	{ "192.0.2.1/24", NULL, NULL, DNSBL_ERROR_BAD_ADDRESS, "the network is 192.0.2.0/24" },
	{ "192.0.2.0/33", NULL, NULL, DNSBL_ERROR_BAD_ADDRESS, "0 to 32" },
	{ "192.0.2.0/", NULL, NULL, DNSBL_ERROR_BAD_ADDRESS, "prefix length" },
	{ "192.0.2.0/+8", NULL, NULL, DNSBL_ERROR_BAD_ADDRESS, "prefix length" },
	{ "2001:db8::1/32", NULL, NULL, DNSBL_ERROR_BAD_ADDRESS, "2001:db8::/32" },
	{ "example.com", NULL, NULL, DNSBL_ERROR_BAD_ADDRESS, "not an IPv4 or IPv6 address" },
	{ "1.2.3.4", "10.0.0.2", NULL, DNSBL_ERROR_BAD_CODE, "127.0.0.0/8" },
	{ "1.2.3.4", "spam", NULL, DNSBL_ERROR_BAD_CODE, "127.0.0.0/8" },
};

START_TEST(test_bad_adds)
{
	g_autoptr(Dnsbl) list = dnsbl_new(ZONE, NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(bad_adds); i++) {
		g_autoptr(GError) error = NULL;
		ck_assert_msg(!dnsbl_add(list, bad_adds[i].address, bad_adds[i].code, bad_adds[i].reason, &error),
		              "%s accepted", bad_adds[i].address);
		assert_gerror(error, DNSBL_ERROR, bad_adds[i].error);
		ck_assert_msg(strstr(error->message, bad_adds[i].says), "%s", error->message);
	}
	g_autoptr(GError) error = NULL;
	g_autofree char *long_reason = g_strnfill(DNSBL_MAX_REASON + 1, 'r');
	ck_assert(!dnsbl_add(list, "1.2.3.4", NULL, long_reason, &error));
	assert_gerror(error, DNSBL_ERROR, DNSBL_ERROR_LIMIT);
	g_clear_error(&error);
	ck_assert_ptr_null(dnsbl_new("bad..zone", &error));
	assert_gerror(error, DNSBL_ERROR, DNSBL_ERROR_BAD_ZONE);
	ck_assert_uint_eq(dnsbl_entries(list)->len, 0);
}
END_TEST

static DnsMessage *ask(const Dnsbl *list, const char *name, guint16 type)
{
	g_autoptr(DnsMessage) q = dns_message_new_query(7, name, type, NULL);
	DnsMessage *r = dnsbl_answer(list, q);
	ck_assert_ptr_nonnull(r);
	ck_assert(r->qr);
	ck_assert_uint_eq(r->id, 7);
	g_autoptr(GBytes) wire = dns_wire_encode(r, DNS_WIRE_UDP_SIZE, NULL);
	ck_assert_ptr_nonnull(wire);
	return r;
}

START_TEST(test_answers)
{
	g_autoptr(Dnsbl) list = sample_list();

	/* listed: A gives the code, TXT the reason (RFC 5782 2.1) */
	g_autoptr(DnsMessage) a = ask(list, "66.113.0.203.rbl.example.net.", DNS_TYPE_A);
	ck_assert_int_eq(a->rcode, DNS_RCODE_NOERROR);
	ck_assert(a->aa);
	ck_assert_uint_eq(a->answers->len, 1);
	g_autofree char *a_text = dns_record_to_text(a->answers->pdata[0]);
	ck_assert_str_eq(a_text, "66.113.0.203.rbl.example.net. 300 IN A 127.0.0.2");

	g_autoptr(DnsMessage) txt = ask(list, "7.100.51.198.RBL.example.net.", DNS_TYPE_TXT);
	g_autofree char *reason = dns_record_txt_join(txt->answers->pdata[0]);
	ck_assert_str_eq(reason, "dynamic range of a cable ISP");

	g_autoptr(DnsMessage) any = ask(list, "7.100.51.198.rbl.example.net.", DNS_TYPE_ANY);
	ck_assert_uint_eq(any->answers->len, 2);

	/* listed, other type: NODATA with the SOA */
	g_autoptr(DnsMessage) mx = ask(list, "66.113.0.203.rbl.example.net.", DNS_TYPE_MX);
	ck_assert_int_eq(mx->rcode, DNS_RCODE_NOERROR);
	ck_assert_uint_eq(mx->answers->len, 0);
	ck_assert_uint_eq(mx->authority->len, 1);

	/* not listed: NXDOMAIN with the SOA, TTL its MINIMUM */
	g_autoptr(DnsMessage) nx = ask(list, "67.113.0.203.rbl.example.net.", DNS_TYPE_A);
	ck_assert_int_eq(nx->rcode, DNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(nx->answers->len, 0);
	const DnsRecord *soa = nx->authority->pdata[0];
	ck_assert_uint_eq(soa->type, DNS_TYPE_SOA);
	ck_assert_str_eq(soa->name, ZONE);
	ck_assert_uint_eq(soa->ttl, DNSBL_TTL);

	/* the test entries answer as RFC 5782 5 says */
	g_autoptr(DnsMessage) t2 = ask(list, "2.0.0.127.rbl.example.net.", DNS_TYPE_A);
	ck_assert_uint_eq(t2->answers->len, 1);
	g_autoptr(DnsMessage) t1 = ask(list, "1.0.0.127.rbl.example.net.", DNS_TYPE_A);
	ck_assert_int_eq(t1->rcode, DNS_RCODE_NXDOMAIN);

	/* the IPv6 nibble form */
	g_autofree char *q6 = dnsbl_query_name("2001:db8:bad::25", ZONE, NULL);
	g_autoptr(DnsMessage) six = ask(list, q6, DNS_TYPE_A);
	g_autofree char *code6 = dns_record_address(six->answers->pdata[0]);
	ck_assert_str_eq(code6, "127.0.0.4");

	/* junk under the zone, the zone itself, and outside it */
	g_autoptr(DnsMessage) junk = ask(list, "www.rbl.example.net.", DNS_TYPE_A);
	ck_assert_int_eq(junk->rcode, DNS_RCODE_NXDOMAIN);
	g_autoptr(DnsMessage) apex = ask(list, ZONE, DNS_TYPE_SOA);
	ck_assert_int_eq(apex->rcode, DNS_RCODE_NOERROR);
	ck_assert_uint_eq(apex->answers->len, 1);
	g_autoptr(DnsMessage) apex_a = ask(list, ZONE, DNS_TYPE_A);
	ck_assert_uint_eq(apex_a->answers->len, 0);
	ck_assert_uint_eq(apex_a->authority->len, 1);
	g_autoptr(DnsMessage) outside = ask(list, "4.3.2.1.other.example.", DNS_TYPE_A);
	ck_assert_int_eq(outside->rcode, DNS_RCODE_REFUSED);
	ck_assert(!outside->aa);

	/* the answer is what the client reads back */
	g_autoptr(GBytes) wire = dns_wire_encode(a, DNS_WIRE_UDP_SIZE, NULL);
	g_autoptr(DnsMessage) back = dns_wire_decode(g_bytes_get_data(wire, NULL), g_bytes_get_size(wire), NULL);
	g_autofree char *line = dns_message_to_line(back);
	ck_assert_str_eq(line, "66.113.0.203.rbl.example.net. A \u2192 127.0.0.2");
}
END_TEST

START_TEST(test_bad_queries)
{
	g_autoptr(Dnsbl) list = sample_list();
	g_autoptr(DnsMessage) q = dns_message_new_query(1, "4.3.2.1." ZONE, DNS_TYPE_A, NULL);
	q->opcode = DNS_OPCODE_STATUS;
	g_autoptr(DnsMessage) notimp = dnsbl_answer(list, q);
	ck_assert_int_eq(notimp->rcode, DNS_RCODE_NOTIMP);
	q->opcode = DNS_OPCODE_QUERY;
	g_ptr_array_add(q->questions, dns_question_new("5.3.2.1." ZONE, DNS_TYPE_A, DNS_CLASS_IN));
	g_autoptr(DnsMessage) formerr = dnsbl_answer(list, q);
	ck_assert_int_eq(formerr->rcode, DNS_RCODE_FORMERR);
	g_ptr_array_set_size(q->questions, 1);
	((DnsQuestion *)q->questions->pdata[0])->type = DNS_TYPE_AXFR;
	g_autoptr(DnsMessage) axfr = dnsbl_answer(list, q);
	ck_assert_int_eq(axfr->rcode, DNS_RCODE_REFUSED);
	((DnsQuestion *)q->questions->pdata[0])->type = DNS_TYPE_OPT;
	g_autoptr(DnsMessage) meta = dnsbl_answer(list, q);
	ck_assert_int_eq(meta->rcode, DNS_RCODE_NOTIMP);
	q->qr = TRUE;
	ck_assert_ptr_null(dnsbl_answer(list, q));
}
END_TEST

START_TEST(test_code_meanings)
{
	static const guint8 sbl[4] = { 127, 0, 0, 2 }, pbl[4] = { 127, 0, 0, 11 },
	                    xbl[4] = { 127, 0, 0, 5 }, odd[4] = { 127, 1, 0, 2 }, wild[4] = { 10, 0, 0, 2 };
	ck_assert_ptr_nonnull(strstr(dnsbl_code_describe(sbl), "spam source"));
	ck_assert_ptr_nonnull(strstr(dnsbl_code_describe(pbl), "dynamic or residential"));
	ck_assert_ptr_nonnull(strstr(dnsbl_code_describe(xbl), "exploited"));
	ck_assert_ptr_nonnull(strstr(dnsbl_code_describe(odd), "does not know"));
	ck_assert_ptr_null(dnsbl_code_describe(wild));
	ck_assert_str_eq(dnsbl_error_to_string(DNSBL_ERROR_BAD_CODE), "BAD_CODE");
	ck_assert_str_eq(dnsbl_family_to_string(DNSBL_FAMILY_IPV6), "IPV6");
	ck_assert_str_eq(dnsbl_dynamic_rule_to_string(DNSBL_DYNAMIC_REVERSED), "REVERSED");
	ck_assert_str_eq(dnsbl_dynamic_rule_to_string(DNSBL_DYNAMIC_NONE), "NONE");
}
END_TEST

/* ---- the dynamic-name guess --------------------------------------------- */

static const struct {
	const char      *ptr;
	const char      *ipv4;
	DnsblDynamicRule rule;
	const char      *why;      /* a piece of the explanation */
} dynamic_cases[] = {
	/* generic names */
	{ "dsl-1-2-3-4.pool.isp.net",        "1.2.3.4",       DNSBL_DYNAMIC_ADDRESS,  "as \"1-2-3-4\"" },
	{ "1.2.3.4.static.isp.net.",         "1.2.3.4",       DNSBL_DYNAMIC_ADDRESS,  "as \"1.2.3.4\"" },
	{ "host_10_0_0_7.isp.net",           "10.0.0.7",      DNSBL_DYNAMIC_ADDRESS,  "\"10_0_0_7\"" },
	{ "c001002003004.hsd1.isp.net",      "1.2.3.4",       DNSBL_DYNAMIC_ADDRESS,  "\"001002003004\"" },
	{ "ip-192-168-001-010.isp.net",      "192.168.1.10",  DNSBL_DYNAMIC_ADDRESS,  "\"192-168-001-010\"" },
	{ "4-3-2-1.customers.isp.net",       "1.2.3.4",       DNSBL_DYNAMIC_REVERSED, "backwards" },
	{ "66.113.0.203.in-addr.isp.net",    "203.0.113.66",  DNSBL_DYNAMIC_REVERSED, "\"66.113.0.203\"" },
	{ "Cpe-C0A8010A.Cable.ISP.net",      "192.168.1.10",  DNSBL_DYNAMIC_HEX,      "hexadecimal, as \"c0a8010a\"" },
	{ "dsl.pool.isp.net",                "1.2.3.4",       DNSBL_DYNAMIC_KEYWORD,  "\"dsl\"" },
	{ "ppp12.dialup.example.net",        NULL,            DNSBL_DYNAMIC_KEYWORD,  "\"ppp\"" },
	{ "adsl2-home.example.net",          "198.51.100.9",  DNSBL_DYNAMIC_KEYWORD,  "\"adsl\"" },
	{ "dyn.example.net.",                NULL,            DNSBL_DYNAMIC_KEYWORD,  "\"dyn\"" },
	{ "host86-150-21-75.range86-150.btcentralplus.com", "86.150.21.76", DNSBL_DYNAMIC_KEYWORD, "\"host\"" },
	{ "client-7.residential.example.org", "203.0.113.9",  DNSBL_DYNAMIC_KEYWORD,  "\"client\"" },
	{ "dhcp-x.example.org",              "bad address",   DNSBL_DYNAMIC_KEYWORD,  "\"dhcp\"" },
	/* real mail servers */
	{ "mail.example.com",                "1.2.3.4",       DNSBL_DYNAMIC_NONE,     NULL },
	{ "mx1.isp.net",                     "192.0.2.25",    DNSBL_DYNAMIC_NONE,     NULL },
	{ "smtp.dsl-provider.net",           "192.0.2.25",    DNSBL_DYNAMIC_NONE,     NULL },   /* the ISP's own domain */
	{ "host.example.com",                "192.0.2.25",    DNSBL_DYNAMIC_NONE,     NULL },   /* "host" without a number */
	{ "hosting.example.com",             "192.0.2.25",    DNSBL_DYNAMIC_NONE,     NULL },
	{ "poolside.example.com",            "192.0.2.25",    DNSBL_DYNAMIC_NONE,     NULL },
	{ "mx11-2-3-45.example.com",         "1.2.3.4",       DNSBL_DYNAMIC_NONE,     NULL },   /* digits glued on */
	{ "mail1234.example.com",            "1.2.3.4",       DNSBL_DYNAMIC_NONE,     NULL },
	{ "dsl.net",                         NULL,            DNSBL_DYNAMIC_NONE,     NULL },
	{ "",                                "1.2.3.4",       DNSBL_DYNAMIC_NONE,     NULL },
	{ NULL,                              "1.2.3.4",       DNSBL_DYNAMIC_NONE,     NULL },
};

START_TEST(test_dynamic_names)
{
	for (gsize i = 0; i < G_N_ELEMENTS(dynamic_cases); i++) {
		char *why = (char *)"untouched";
		DnsblDynamicRule r = dnsbl_ptr_looks_dynamic(dynamic_cases[i].ptr, dynamic_cases[i].ipv4, &why);
		ck_assert_msg(r == dynamic_cases[i].rule, "%s (%s): %s, not %s", dynamic_cases[i].ptr,
		              dynamic_cases[i].ipv4, dnsbl_dynamic_rule_to_string(r),
		              dnsbl_dynamic_rule_to_string(dynamic_cases[i].rule));
		if (dynamic_cases[i].why) {
			ck_assert_msg(why && strstr(why, dynamic_cases[i].why), "%s: why is \"%s\"",
			              dynamic_cases[i].ptr, why);
		} else {
			ck_assert_ptr_null(why);
		}
		g_free(why);
		/* the answer does not depend on asking for the reason */
		ck_assert_int_eq(dnsbl_ptr_looks_dynamic(dynamic_cases[i].ptr, dynamic_cases[i].ipv4, NULL), r);
	}
}
END_TEST

static Suite *dnsbl_suite(void)
{
	Suite *s = suite_create("dnsbl");
	MS_ADD_TEST(s, test_query_names, 10);
	MS_ADD_TEST(s, test_lookup, 10);
	MS_ADD_TEST(s, test_bad_adds, 10);
	MS_ADD_TEST(s, test_answers, 10);
	MS_ADD_TEST(s, test_bad_queries, 10);
	MS_ADD_TEST(s, test_code_meanings, 10);
	MS_ADD_TEST(s, test_dynamic_names, 10);
	return s;
}

MS_TEST_MAIN(dnsbl_suite)
