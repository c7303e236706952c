/* tests/net/test_dns_zone.c - master files and authoritative answers.
 *
 * Every directive and shorthand of RFC 1035 5.1, the errors a teacher sees
 * (file:line:column and what was expected), and the answers: NXDOMAIN vs
 * NODATA, CNAME chains, referrals, REFUSED, the additional section.
 */
#include "tests/ms_test.h"
#include "net/dns_zone.h"

#define assert_gerror(err, dom, c)                                              \
	do {                                                                        \
		ck_assert_ptr_nonnull(err);                                             \
		ck_assert_msg((err)->domain == (dom) && (err)->code == (gint)(c),       \
		              "unexpected error: %s", (err)->message);                   \
	} while (0)

/* The zone text as a scenario file holds it: indented as a whole. */
static const char course_org[] =
	"  $ORIGIN example.org.\n"
	"  $TTL 1h\n"
	"  @   IN SOA ns.example.net. hostmaster (   ; the zone's own record\n"
	"          2024010101 ; serial\n"
	"          2h 15m 2w 300 )\n"
	"  @       NS  ns.example.net.\n"
	"  @       MX  10 mx\n"
	"          MX  20 mx2.example.net.   ; blank owner: still example.org.\n"
	"  mx      A   198.51.100.20\n"
	"          AAAA 2001:db8::20\n"
	"  www 300 CNAME mx\n"
	"  alias   CNAME www\n"
	"  far     CNAME mail.example.com.\n"
	"  away    CNAME www.example.net.\n"
	"  loop1   CNAME loop2\n"
	"  loop2   CNAME loop1\n"
	"  _imaps._tcp SRV 0 1 993 mx\n"
	"  _autodiscover._tcp IN 600 SRV 10 5 443 autodiscover.example.com.\n"
	"  txt     TXT \"v=spf1 mx -all\" \"two\\\"quoted\\\"\" plain \\065\\066\n"
	"  a.b.ent A 192.0.2.99\n"
	"  $ORIGIN sub\n"
	"  @       NS ns1\n"
	"  ns1     A 198.51.100.53\n"
	"  generic TYPE1 \\# 4 c0000201\n"
	"  unknown TYPE65280 \\# 3 010203\n";

static DnsZone *parse_ok(const char *origin, const char *text)
{
	g_autoptr(GError) error = NULL;
	DnsZone *zone = dns_zone_parse(origin, text, "course.scn", 10, &error);
	ck_assert_msg(zone != NULL, "%s", error ? error->message : "");
	return zone;
}

/* Each record as presentation text, in file order. */
static const char *const course_org_records[] = {
	"example.org. 3600 IN SOA ns.example.net. hostmaster.example.org. 2024010101 7200 900 1209600 300",
	"example.org. 3600 IN NS ns.example.net.",
	"example.org. 3600 IN MX 10 mx.example.org.",
	"example.org. 3600 IN MX 20 mx2.example.net.",
	"mx.example.org. 3600 IN A 198.51.100.20",
	"mx.example.org. 3600 IN AAAA 2001:db8::20",
	"www.example.org. 300 IN CNAME mx.example.org.",
	"alias.example.org. 3600 IN CNAME www.example.org.",
	"far.example.org. 3600 IN CNAME mail.example.com.",
	"away.example.org. 3600 IN CNAME www.example.net.",
	"loop1.example.org. 3600 IN CNAME loop2.example.org.",
	"loop2.example.org. 3600 IN CNAME loop1.example.org.",
	"_imaps._tcp.example.org. 3600 IN SRV 0 1 993 mx.example.org.",
	"_autodiscover._tcp.example.org. 600 IN SRV 10 5 443 autodiscover.example.com.",
	"txt.example.org. 3600 IN TXT \"v=spf1 mx -all\" \"two\\\"quoted\\\"\" \"plain\" \"AB\"",
	"a.b.ent.example.org. 3600 IN A 192.0.2.99",
	"sub.example.org. 3600 IN NS ns1.sub.example.org.",
	"ns1.sub.example.org. 3600 IN A 198.51.100.53",
	"generic.sub.example.org. 3600 IN A 192.0.2.1",
	"unknown.sub.example.org. 3600 IN TYPE65280 \\# 3 010203",
};

START_TEST(test_parse_every_directive)
{
	g_autoptr(DnsZone) zone = parse_ok("example.org", course_org);
	ck_assert_str_eq(dns_zone_origin(zone), "example.org.");
	const GPtrArray *records = dns_zone_records(zone);
	ck_assert_uint_eq(records->len, G_N_ELEMENTS(course_org_records));
	for (guint i = 0; i < records->len; i++) {
		g_autofree char *text = dns_record_to_text(records->pdata[i]);
		ck_assert_str_eq(text, course_org_records[i]);
	}
}
END_TEST

/* The same text, the same records, fed whole or one line at a time
 * through dns_zone_parse_record. */
START_TEST(test_parse_record_line)
{
	g_autoptr(DnsZone) zone = dns_zone_new("example.com.", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsRecord) rec = dns_zone_parse_record(zone, "mail2 300 A 192.0.2.11", "course.scn", 40, &error);
	ck_assert_msg(rec != NULL, "%s", error ? error->message : "");
	g_autofree char *text = dns_record_to_text(rec);
	ck_assert_str_eq(text, "mail2.example.com. 300 IN A 192.0.2.11");
	ck_assert_uint_eq(dns_zone_records(zone)->len, 0);

	ck_assert_ptr_null(dns_zone_parse_record(zone, "a A 1.2.3.4\nb A 1.2.3.5", "s", 1, &error));
	ck_assert_ptr_nonnull(strstr(error->message, "s:2:1: expected one record"));
	g_clear_error(&error);
	ck_assert_ptr_null(dns_zone_parse_record(zone, "x.example.org. A 1.2.3.4", "s", 7, &error));
	assert_gerror(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_OUT_OF_ZONE);
	g_clear_error(&error);
	ck_assert_ptr_null(dns_zone_parse_record(zone, "$TTL 5", "s", 7, &error));
	assert_gerror(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_SYNTAX);
	g_clear_error(&error);
	ck_assert_ptr_null(dns_zone_parse_record(zone, "  ; nothing", "s", 7, &error));
	assert_gerror(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_SYNTAX);
}
END_TEST

/* TTLs: explicit, $TTL, the last stated (RFC 1035 5.1), or the default;
 * class and TTL in either order. */
START_TEST(test_ttl_rules)
{
	g_autoptr(DnsZone) zone = parse_ok("t.", 
		"a A 192.0.2.1\n"            /* nothing said: the default */
		"b 60 A 192.0.2.2\n"
		"c A 192.0.2.3\n"            /* the last stated: 60 */
		"d IN 1d A 192.0.2.4\n"
		"e 1h30m IN A 192.0.2.5\n"
		"$TTL 2w\n"
		"f in a 192.0.2.6\n");
	static const guint32 want[] = { DNS_ZONE_DEFAULT_TTL, 60, 60, 86400, 5400, 1209600 };
	const GPtrArray *records = dns_zone_records(zone);
	ck_assert_uint_eq(records->len, G_N_ELEMENTS(want));
	for (guint i = 0; i < records->len; i++)
		ck_assert_uint_eq(((DnsRecord *)records->pdata[i])->ttl, want[i]);
}
END_TEST

/* dns_zone_to_text reads back to the same records. */
START_TEST(test_to_text_round_trip)
{
	g_autoptr(DnsZone) zone = parse_ok("example.org", course_org);
	/* a record too long for one line goes out in parentheses */
	g_autoptr(GError) error = NULL;
	DnsRecord *big = dns_record_new_txt("big.example.org.", 1, "");
	g_ptr_array_set_size(big->rdata.txt, 0);
	for (int i = 0; i < 40; i++)
		g_ptr_array_add(big->rdata.txt, g_bytes_new_take(g_strnfill(200, (char)('a' + i % 26)), 200));
	ck_assert(dns_zone_add_record(zone, big, &error));
	dns_record_free(big);

	g_autofree char *text = dns_zone_to_text(zone);
	g_autoptr(DnsZone) again = parse_ok("example.org.", text);
	const GPtrArray *a = dns_zone_records(zone), *b = dns_zone_records(again);
	ck_assert_uint_eq(a->len, b->len);
	for (guint i = 0; i < a->len; i++) {
		ck_assert(dns_record_equal(a->pdata[i], b->pdata[i]));
		ck_assert_uint_eq(((DnsRecord *)a->pdata[i])->ttl, ((DnsRecord *)b->pdata[i])->ttl);
	}
}
END_TEST

/* ---- the errors a teacher reads ------------------------------------------ */

typedef struct {
	const char  *text;
	DnsZoneError code;
	const char  *message;   /* the whole message, or a piece of it */
} BadZone;

static const BadZone bad_zones[] = {
	/* the message from the brief, word for word (the zone starts at line 10) */
	{ "$ORIGIN example.org.\n\n\n\n@ MX mx\n", DNS_ZONE_ERROR_SYNTAX,
	  "course.scn:14:6: expected a preference number after MX, got \"mx\"" },
	{ "@ MX 10\n", DNS_ZONE_ERROR_SYNTAX,
	  "course.scn:10:8: expected a mail exchanger host name in the MX record, got the end of the line" },
	{ "www A 300.1.2.3", DNS_ZONE_ERROR_SYNTAX, "course.scn:10:7: expected an IPv4 address after A, got \"300.1.2.3\"" },
	{ "www AAAA 1.2.3.4", DNS_ZONE_ERROR_SYNTAX, "expected an IPv6 address after AAAA" },
	{ "www FOO 1.2.3.4", DNS_ZONE_ERROR_SYNTAX, "course.scn:10:5: expected a record type (A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT) after \"www\", got \"FOO\"" },
	{ "www 300 IN", DNS_ZONE_ERROR_SYNTAX, "expected a record type (A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT) after \"IN\", got the end of the line" },
	{ "www CH A 1.2.3.4", DNS_ZONE_ERROR_UNSUPPORTED, "course.scn:10:5: class CH is not supported" },
	{ "www 99999999999 A 1.2.3.4", DNS_ZONE_ERROR_SYNTAX, "above 2147483647" },
	{ "www A 1.2.3.4 extra", DNS_ZONE_ERROR_SYNTAX, "course.scn:10:15: unexpected \"extra\" after the data of the A record" },
	{ "www SRV 0 1 http x", DNS_ZONE_ERROR_SYNTAX, "expected a port number in the SRV record, got \"http\"" },
	{ "www MX 65536 mx", DNS_ZONE_ERROR_SYNTAX, "expected a preference number after MX, got \"65536\"" },
	{ "www TXT", DNS_ZONE_ERROR_SYNTAX, "expected a string after TXT, got the end of the line" },
	{ "www TXT \"open", DNS_ZONE_ERROR_SYNTAX, "course.scn:10:9: this quoted string does not end on its line" },
	{ "www TXT \"bad \\256\"", DNS_ZONE_ERROR_SYNTAX, "\\DDD is above 255" },
	{ "@ SOA ns hm (\n 1 2 3 4 5\n", DNS_ZONE_ERROR_SYNTAX, "course.scn:10:13: this '(' is never closed" },
	{ "@ SOA ns hm ( 1 ( 2 3 4 5 ) )", DNS_ZONE_ERROR_SYNTAX, "course.scn:10:17: a '(' inside another" },
	{ "www A 1.2.3.4 )", DNS_ZONE_ERROR_SYNTAX, "course.scn:10:15: a ')' without a '('" },
	{ "@ SOA ns hm 1 2 3 4", DNS_ZONE_ERROR_SYNTAX, "expected a minimum (negative caching) TTL in the SOA record, got the end of the line" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A 1.2.3.4", DNS_ZONE_ERROR_SYNTAX,
	  "course.scn:10:1: bad name" },
	{ "www CNAME a..b", DNS_ZONE_ERROR_SYNTAX, "course.scn:10:11: bad name \"a..b.example.org.\": empty label" },
	{ "mail.example.com. A 1.2.3.4", DNS_ZONE_ERROR_OUT_OF_ZONE,
	  "course.scn:10:1: mail.example.com. is outside the zone example.org." },
	{ "www CNAME a\nwww A 1.2.3.4", DNS_ZONE_ERROR_CONFLICT,
	  "course.scn:11:1: www.example.org. is an alias (CNAME), so it cannot have a A record too" },
	{ "www A 1.2.3.4\nwww CNAME a", DNS_ZONE_ERROR_CONFLICT, "cannot be an alias (CNAME) too" },
	{ "www CNAME a\nwww CNAME b", DNS_ZONE_ERROR_CONFLICT, "already has a CNAME" },
	{ "@ SOA a b 1 2 3 4 5\n@ SOA a b 2 2 3 4 5", DNS_ZONE_ERROR_CONFLICT, "already has a SOA" },
	{ "www SOA a b 1 2 3 4 5", DNS_ZONE_ERROR_CONFLICT, "belongs at the top of the zone" },
	{ "$TTL 300\n  A 1.2.3.4", DNS_ZONE_ERROR_SYNTAX, "course.scn:11:3: this line is indented" },
	{ "$INCLUDE other.zone", DNS_ZONE_ERROR_UNSUPPORTED, "course.scn:10:1: $INCLUDE is not supported" },
	{ "$GENERATE 1-10 x A 1.2.3.$", DNS_ZONE_ERROR_SYNTAX, "unknown directive \"$GENERATE\"" },
	{ "$TTL soon", DNS_ZONE_ERROR_SYNTAX, "expected a TTL in seconds (or like 1h30m) after $TTL, got \"soon\"" },
	{ "$ORIGIN", DNS_ZONE_ERROR_SYNTAX, "expected a domain name after $ORIGIN, got the end of the line" },
	{ "$ORIGIN a. b.", DNS_ZONE_ERROR_SYNTAX, "unexpected \"b.\" after $ORIGIN" },
	{ "www AXFR 1.2.3.4", DNS_ZONE_ERROR_SYNTAX, "AXFR is a meta type, for questions and EDNS only" },
	{ "www OPT 1.2.3.4", DNS_ZONE_ERROR_SYNTAX, "OPT is a meta type" },
	{ "www ANY 1.2.3.4", DNS_ZONE_ERROR_UNSUPPORTED, "class ANY is not supported" },
	{ "www TYPE65280 010203", DNS_ZONE_ERROR_SYNTAX, "TYPE65280 has no text form here" },
	{ "www TYPE65280 \\# 3 0102", DNS_ZONE_ERROR_SYNTAX, "\\# says 3 octets but 4 hex digits follow" },
	{ "www TYPE65280 \\# 1 zz", DNS_ZONE_ERROR_SYNTAX, "expected hexadecimal digits after TYPE65280 \\#, got \"zz\"" },
	{ "www A \\# 2 0102", DNS_ZONE_ERROR_SYNTAX, "the \\# data is not a valid A record" },
	{ "\"quoted\" A 1.2.3.4", DNS_ZONE_ERROR_SYNTAX, "expected an owner name, got the quoted string \"quoted\"" },
};

static void check_bad_zone(const BadZone *c)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsZone) zone = dns_zone_parse("example.org.", c->text, "course.scn", 10, &error);
	ck_assert_msg(zone == NULL, "accepted: %s", c->text);
	ck_assert_msg(error != NULL && error->domain == DNS_ZONE_ERROR, "no zone error: %s", c->text);
	ck_assert_msg(error->code == (gint)c->code, "%s: %s, not %s (%s)", c->text,
	              dns_zone_error_to_string((DnsZoneError)error->code),
	              dns_zone_error_to_string(c->code), error->message);
	ck_assert_msg(strstr(error->message, c->message) != NULL,
	              "for %s\n  got:  %s\n  want: %s", c->text, error->message, c->message);
}

/* Found by fuzz_dns_wire: SOA times are 32-bit numbers, unlike TTLs, so a
 * decoded SOA with a large EXPIRE must still print as text that parses. */
START_TEST(test_soa_times_are_32_bits)
{
	g_autoptr(DnsZone) zone = dns_zone_new("example.org.", NULL);
	g_autoptr(DnsRecord) soa = dns_record_new_soa("example.org.", 300, "ns.", "hm.", 1, 7200, 900,
	                                               0xFEED7500u, 0xFFFFFFFFu);
	g_autoptr(GError) error = NULL;
	ck_assert(dns_zone_add_record(zone, soa, &error));
	g_autofree char *text = dns_zone_to_text(zone);
	g_autoptr(DnsZone) again = parse_ok("example.org.", text);
	ck_assert(dns_record_equal(dns_zone_records(again)->pdata[0], soa));

	BadZone too_big = { "@ SOA a b 1 2 3 4294967296 5", DNS_ZONE_ERROR_SYNTAX,
	                    "expected an expire time in the SOA record, got \"4294967296\"" };
	check_bad_zone(&too_big);

	/* a TTL is 31 bits (RFC 2181 8), so such a record cannot be written out */
	g_autoptr(DnsRecord) long_ttl = dns_record_new_txt("t.example.org.", 0x80000000u, "x");
	ck_assert(!dns_zone_add_record(zone, long_ttl, &error));
	assert_gerror(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_SYNTAX);
}
END_TEST

START_TEST(test_bad_zones)
{
	for (gsize i = 0; i < G_N_ELEMENTS(bad_zones); i++)
		check_bad_zone(&bad_zones[i]);
}
END_TEST

START_TEST(test_limits)
{
	/* a line one character too long */
	GString *text = g_string_new("www TXT \"");
	while (text->len < DNS_ZONE_MAX_LINE_LENGTH)
		g_string_append_c(text, 'x');
	g_string_append(text, "\"");
	BadZone line = { text->str, DNS_ZONE_ERROR_LIMIT, "course.scn:10: the line is 4097 characters long" };
	check_bad_zone(&line);
	g_string_free(text, TRUE);

	/* a TXT string over 255 octets */
	g_autofree char *long_string = g_strdup_printf("www TXT \"%0300d\"", 0);
	BadZone chunk = { long_string, DNS_ZONE_ERROR_SYNTAX, "this string is 300 octets; one string holds at most 255" };
	check_bad_zone(&chunk);

	/* too many words in one entry, spread over lines in parentheses */
	GString *words = g_string_new("www TXT (\n");
	for (int i = 0; i < DNS_ZONE_MAX_ENTRY_TOKENS; i++)
		g_string_append(words, "w\n");
	g_string_append(words, ")\n");
	BadZone many = { words->str, DNS_ZONE_ERROR_LIMIT, "more than 512 words in one entry" };
	check_bad_zone(&many);
	g_string_free(words, TRUE);

	/* records past DNS_ZONE_MAX_RECORDS */
	GString *lots = g_string_new(NULL);
	for (int i = 0; i <= DNS_ZONE_MAX_RECORDS; i++)
		g_string_append_printf(lots, "h%d A 192.0.2.1\n", i);
	BadZone full = { lots->str, DNS_ZONE_ERROR_LIMIT, "is full (10000 records)" };
	check_bad_zone(&full);
	g_string_free(lots, TRUE);
}
END_TEST

/* ---- answers ------------------------------------------------------------- */

static DnsZoneSet *course_set(void)
{
	DnsZoneSet *set = dns_zone_set_new();
	g_autoptr(GError) error = NULL;
	ck_assert(dns_zone_set_add(set, parse_ok("example.org", course_org), &error));
	/* a zone without SOA, as the scenario sketch writes them */
	ck_assert(dns_zone_set_add(set, parse_ok("example.com",
		"$ORIGIN example.com.\n"
		"@          MX 10 mail\n"
		"mail       A  192.0.2.10\n"
		"autodiscover CNAME mail\n"), &error));
	/* a zone below another one: the closest enclosing zone answers */
	ck_assert(dns_zone_set_add(set, parse_ok("deep.example.org", "x A 203.0.113.1\n"), &error));
	return set;
}

static DnsMessage *ask(const DnsZoneSet *set, const char *name, guint16 type)
{
	g_autoptr(DnsMessage) q = dns_message_new_query(99, name, type, NULL);
	ck_assert_ptr_nonnull(q);
	DnsMessage *r = dns_zone_set_answer(set, q);
	ck_assert_ptr_nonnull(r);
	ck_assert(r->qr);
	ck_assert_uint_eq(r->id, 99);
	/* every answer can go on the wire and come back */
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) wire = dns_wire_encode(r, 0, &error);
	ck_assert_msg(wire != NULL, "%s", error ? error->message : "");
	g_autoptr(DnsMessage) back = dns_wire_decode(g_bytes_get_data(wire, NULL), g_bytes_get_size(wire), &error);
	ck_assert_msg(back != NULL, "%s", error ? error->message : "");
	return r;
}

/* The section as one string: records' text joined by " | ". */
static char *section_text(const DnsMessage *m, DnsSection s)
{
	GPtrArray *records = dns_message_section(m, s);
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < records->len; i++) {
		g_autofree char *t = dns_record_to_text(records->pdata[i]);
		g_string_append_printf(out, "%s%s", i ? " | " : "", t);
	}
	return g_string_free(out, FALSE);
}

typedef struct {
	const char *name;
	guint16     type;
	DnsRcode    rcode;
	gboolean    aa;
	const char *answer;       /* section_text of each section */
	const char *authority;
	const char *additional;
} AnswerCase;

#define SOA_ORG "example.org. 300 IN SOA ns.example.net. hostmaster.example.org. 2024010101 7200 900 1209600 300"
#define SOA_COM "example.com. 300 IN SOA example.com. hostmaster.example.com. 1 3600 600 86400 300"

static const AnswerCase answer_cases[] = {
	{ "mx.example.org.", DNS_TYPE_A, DNS_RCODE_NOERROR, TRUE,
	  "mx.example.org. 3600 IN A 198.51.100.20", "", "" },
	{ "MX.Example.ORG", DNS_TYPE_AAAA, DNS_RCODE_NOERROR, TRUE,
	  "mx.example.org. 3600 IN AAAA 2001:db8::20", "", "" },
	/* MX: the in-zone exchanger's addresses ride along; mx2 is elsewhere */
	{ "example.org.", DNS_TYPE_MX, DNS_RCODE_NOERROR, TRUE,
	  "example.org. 3600 IN MX 10 mx.example.org. | example.org. 3600 IN MX 20 mx2.example.net.", "",
	  "mx.example.org. 3600 IN A 198.51.100.20 | mx.example.org. 3600 IN AAAA 2001:db8::20" },
	/* NODATA: the name is there, the type is not (RFC 2308 2.2) */
	{ "mx.example.org.", DNS_TYPE_MX, DNS_RCODE_NOERROR, TRUE, "", SOA_ORG, "" },
	/* NXDOMAIN, with the SOA at min(TTL, MINIMUM) (RFC 2308 3) */
	{ "nope.example.org.", DNS_TYPE_A, DNS_RCODE_NXDOMAIN, TRUE, "", SOA_ORG, "" },
	/* an empty non-terminal exists: NODATA, not NXDOMAIN (RFC 8020) */
	{ "b.ent.example.org.", DNS_TYPE_A, DNS_RCODE_NOERROR, TRUE, "", SOA_ORG, "" },
	/* deep.example.org is a zone of its own, below example.org */
	{ "x.deep.example.org.", DNS_TYPE_A, DNS_RCODE_NOERROR, TRUE, "x.deep.example.org. 3600 IN A 203.0.113.1", "", "" },
	/* CNAME chains inside the zone, and across zones */
	{ "alias.example.org.", DNS_TYPE_A, DNS_RCODE_NOERROR, TRUE,
	  "alias.example.org. 3600 IN CNAME www.example.org. | www.example.org. 300 IN CNAME mx.example.org. | "
	  "mx.example.org. 3600 IN A 198.51.100.20", "", "" },
	{ "far.example.org.", DNS_TYPE_A, DNS_RCODE_NOERROR, TRUE,
	  "far.example.org. 3600 IN CNAME mail.example.com. | mail.example.com. 3600 IN A 192.0.2.10", "", "" },
	/* a chain that leaves our zones: the resolver follows it from there */
	{ "away.example.org.", DNS_TYPE_A, DNS_RCODE_NOERROR, TRUE,
	  "away.example.org. 3600 IN CNAME www.example.net.", "", "" },
	/* a chain that ends in NODATA: the CNAME, and the SOA */
	{ "www.example.org.", DNS_TYPE_TXT, DNS_RCODE_NOERROR, TRUE,
	  "www.example.org. 300 IN CNAME mx.example.org.", SOA_ORG, "" },
	/* asking for the CNAME itself does not follow it */
	{ "www.example.org.", DNS_TYPE_CNAME, DNS_RCODE_NOERROR, TRUE,
	  "www.example.org. 300 IN CNAME mx.example.org.", "", "" },
	/* a loop stops where it closes */
	{ "loop1.example.org.", DNS_TYPE_A, DNS_RCODE_NOERROR, TRUE,
	  "loop1.example.org. 3600 IN CNAME loop2.example.org. | loop2.example.org. 3600 IN CNAME loop1.example.org.", "", "" },
	/* SRV, with the target's addresses */
	{ "_imaps._tcp.example.org.", DNS_TYPE_SRV, DNS_RCODE_NOERROR, TRUE,
	  "_imaps._tcp.example.org. 3600 IN SRV 0 1 993 mx.example.org.", "",
	  "mx.example.org. 3600 IN A 198.51.100.20 | mx.example.org. 3600 IN AAAA 2001:db8::20" },
	/* TXT keeps its strings */
	{ "txt.example.org.", DNS_TYPE_TXT, DNS_RCODE_NOERROR, TRUE,
	  "txt.example.org. 3600 IN TXT \"v=spf1 mx -all\" \"two\\\"quoted\\\"\" \"plain\" \"AB\"", "", "" },
	/* below a delegation: a referral, not an answer (RFC 1034 4.3.2 3b) */
	{ "host.sub.example.org.", DNS_TYPE_A, DNS_RCODE_NOERROR, FALSE, "",
	  "sub.example.org. 3600 IN NS ns1.sub.example.org.", "ns1.sub.example.org. 3600 IN A 198.51.100.53" },
	/* the apex NS is the zone's own data */
	{ "example.org.", DNS_TYPE_NS, DNS_RCODE_NOERROR, TRUE, "example.org. 3600 IN NS ns.example.net.", "", "" },
	/* a zone without SOA answers negatives with a made-up one */
	{ "none.example.com.", DNS_TYPE_MX, DNS_RCODE_NXDOMAIN, TRUE, "", SOA_COM, "" },
	{ "example.com.", DNS_TYPE_SOA, DNS_RCODE_NOERROR, TRUE,
	  "example.com. 3600 IN SOA example.com. hostmaster.example.com. 1 3600 600 86400 300", "", "" },
	{ "autodiscover.example.com.", DNS_TYPE_A, DNS_RCODE_NOERROR, TRUE,
	  "autodiscover.example.com. 3600 IN CNAME mail.example.com. | mail.example.com. 3600 IN A 192.0.2.10", "", "" },
	/* ANY: everything at the name */
	{ "mx.example.org.", DNS_TYPE_ANY, DNS_RCODE_NOERROR, TRUE,
	  "mx.example.org. 3600 IN A 198.51.100.20 | mx.example.org. 3600 IN AAAA 2001:db8::20", "", "" },
	/* not ours: REFUSED, not authoritative */
	{ "example.net.", DNS_TYPE_A, DNS_RCODE_REFUSED, FALSE, "", "", "" },
	{ ".", DNS_TYPE_NS, DNS_RCODE_REFUSED, FALSE, "", "", "" },
	{ "example.org.", DNS_TYPE_AXFR, DNS_RCODE_REFUSED, FALSE, "", "", "" },
	{ "example.org.", DNS_TYPE_OPT, DNS_RCODE_NOTIMP, FALSE, "", "", "" },
};

START_TEST(test_answers)
{
	g_autoptr(DnsZoneSet) set = course_set();
	for (gsize i = 0; i < G_N_ELEMENTS(answer_cases); i++) {
		const AnswerCase *c = &answer_cases[i];
		g_autoptr(DnsMessage) r = ask(set, c->name, c->type);
		g_autofree char *an = section_text(r, DNS_SECTION_ANSWER);
		g_autofree char *ns = section_text(r, DNS_SECTION_AUTHORITY);
		g_autofree char *ar = section_text(r, DNS_SECTION_ADDITIONAL);
		g_autofree char *tname = dns_type_name(c->type);
		ck_assert_msg(r->rcode == c->rcode, "%s %s: rcode %s", c->name, tname, dns_rcode_to_string(r->rcode));
		ck_assert_msg(r->aa == c->aa, "%s %s: aa %d", c->name, tname, r->aa);
		ck_assert_msg(!r->ra, "%s: RA set", c->name);
		ck_assert_msg(strcmp(an, c->answer) == 0, "%s %s answer\n  got:  %s\n  want: %s", c->name, tname, an, c->answer);
		ck_assert_msg(strcmp(ns, c->authority) == 0, "%s %s authority\n  got:  %s\n  want: %s", c->name, tname, ns, c->authority);
		ck_assert_msg(strcmp(ar, c->additional) == 0, "%s %s additional\n  got:  %s\n  want: %s", c->name, tname, ar, c->additional);
	}
}
END_TEST

/* A chain longer than DNS_ZONE_MAX_CNAME_CHAIN stops at the limit. */
START_TEST(test_cname_chain_limit)
{
	GString *text = g_string_new(NULL);
	for (int i = 0; i < 20; i++)
		g_string_append_printf(text, "c%d CNAME c%d\n", i, i + 1);
	g_string_append(text, "c20 A 192.0.2.20\n");
	g_autoptr(DnsZoneSet) set = dns_zone_set_new();
	dns_zone_set_add(set, parse_ok("chain.test", text->str), NULL);
	g_string_free(text, TRUE);

	g_autoptr(DnsMessage) r = ask(set, "c0.chain.test.", DNS_TYPE_A);
	ck_assert_uint_eq(r->answers->len, DNS_ZONE_MAX_CNAME_CHAIN);
	ck_assert_int_eq(r->rcode, DNS_RCODE_NOERROR);
	g_autoptr(DnsMessage) short_chain = ask(set, "c17.chain.test.", DNS_TYPE_A);
	ck_assert_uint_eq(short_chain->answers->len, 4);
	ck_assert_uint_eq(((DnsRecord *)short_chain->answers->pdata[3])->type, DNS_TYPE_A);

	/* a chain into a name that does not exist: NXDOMAIN (RFC 6604) */
	g_autoptr(DnsZone) dangling = parse_ok("d.test", "a CNAME gone\n");
	dns_zone_set_add(set, g_steal_pointer(&dangling), NULL);
	g_autoptr(DnsMessage) nx = ask(set, "a.d.test.", DNS_TYPE_A);
	ck_assert_int_eq(nx->rcode, DNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(nx->answers->len, 1);
}
END_TEST

START_TEST(test_bad_queries)
{
	g_autoptr(DnsZoneSet) set = course_set();
	g_autoptr(DnsMessage) q = dns_message_new_query(5, "example.org.", DNS_TYPE_A, NULL);

	q->opcode = DNS_OPCODE_UPDATE;
	g_autoptr(DnsMessage) notimp = dns_zone_set_answer(set, q);
	ck_assert_int_eq(notimp->rcode, DNS_RCODE_NOTIMP);
	ck_assert_int_eq(notimp->opcode, DNS_OPCODE_UPDATE);
	q->opcode = DNS_OPCODE_QUERY;

	g_ptr_array_add(q->questions, dns_question_new("example.com.", DNS_TYPE_A, DNS_CLASS_IN));
	g_autoptr(DnsMessage) two = dns_zone_set_answer(set, q);
	ck_assert_int_eq(two->rcode, DNS_RCODE_FORMERR);
	g_ptr_array_set_size(q->questions, 0);
	g_autoptr(DnsMessage) none = dns_zone_set_answer(set, q);
	ck_assert_int_eq(none->rcode, DNS_RCODE_FORMERR);

	g_ptr_array_add(q->questions, dns_question_new("example.org.", DNS_TYPE_A, DNS_CLASS_CH));
	g_autoptr(DnsMessage) chaos = dns_zone_set_answer(set, q);
	ck_assert_int_eq(chaos->rcode, DNS_RCODE_REFUSED);

	/* a response is never answered: that is how two servers would loop */
	q->qr = TRUE;
	ck_assert_ptr_null(dns_zone_set_answer(set, q));
}
END_TEST

/* Records change while the scenario runs. */
START_TEST(test_runtime_changes)
{
	g_autoptr(DnsZoneSet) set = course_set();
	DnsZone *org = dns_zone_set_get(set, "EXAMPLE.org");
	ck_assert_ptr_nonnull(org);
	ck_assert_ptr_eq(dns_zone_set_find(set, "a.b.c.example.org"), org);
	ck_assert_ptr_eq(dns_zone_set_find(set, "x.deep.example.org."), dns_zone_set_get(set, "deep.example.org."));
	ck_assert_ptr_null(dns_zone_set_find(set, "example.net."));

	/* the mail host's address goes away: the name is NODATA, then gone */
	static const guint8 addr[4] = { 198, 51, 100, 20 };
	g_autoptr(DnsRecord) a = dns_record_new_a("MX.example.org", 1, addr);
	ck_assert(dns_zone_remove_record(org, a));
	ck_assert(!dns_zone_remove_record(org, a));
	g_autoptr(DnsMessage) nodata = ask(set, "mx.example.org.", DNS_TYPE_A);
	ck_assert_int_eq(nodata->rcode, DNS_RCODE_NOERROR);
	ck_assert_uint_eq(nodata->answers->len, 0);
	ck_assert_uint_eq(dns_zone_remove_records(org, "mx.example.org.", DNS_TYPE_ANY), 1);
	g_autoptr(DnsMessage) nx = ask(set, "mx.example.org.", DNS_TYPE_A);
	ck_assert_int_eq(nx->rcode, DNS_RCODE_NXDOMAIN);
	/* the empty non-terminal goes with its last record below */
	g_autoptr(DnsMessage) ent = ask(set, "b.ent.example.org.", DNS_TYPE_A);
	ck_assert_int_eq(ent->rcode, DNS_RCODE_NOERROR);
	ck_assert_uint_eq(dns_zone_remove_records(org, "a.b.ent.example.org.", DNS_TYPE_A), 1);
	g_autoptr(DnsMessage) gone = ask(set, "b.ent.example.org.", DNS_TYPE_A);
	ck_assert_int_eq(gone->rcode, DNS_RCODE_NXDOMAIN);

	/* and comes back */
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsRecord) back = dns_zone_parse_record(org, "mx 60 A 198.51.100.21", "course.scn", 50, &error);
	ck_assert(dns_zone_add_record(org, back, &error));
	ck_assert(dns_zone_add_record(org, back, &error));   /* twice: no duplicate */
	g_autoptr(GPtrArray) found = dns_zone_lookup(org, "Mx.Example.Org.", DNS_TYPE_A);
	ck_assert_uint_eq(found->len, 1);
	g_autoptr(DnsMessage) ok = ask(set, "mx.example.org.", DNS_TYPE_A);
	ck_assert_uint_eq(ok->answers->len, 1);

	/* the add checks what the parser checks */
	g_autoptr(DnsRecord) out = dns_record_new_a("mx.example.com.", 1, addr);
	ck_assert(!dns_zone_add_record(org, out, &error));
	assert_gerror(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_OUT_OF_ZONE);
	g_clear_error(&error);
	g_autoptr(DnsRecord) clash = dns_record_new_a("www.example.org.", 1, addr);
	ck_assert(!dns_zone_add_record(org, clash, &error));
	assert_gerror(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_CONFLICT);
	g_clear_error(&error);
	g_autoptr(DnsRecord) bad = dns_record_new_a("a..example.org.", 1, addr);
	ck_assert(!dns_zone_add_record(org, bad, &error));
	assert_gerror(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_SYNTAX);
	g_clear_error(&error);

	/* zones come and go */
	ck_assert(!dns_zone_set_add(set, dns_zone_new("example.org.", NULL), &error));
	assert_gerror(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_CONFLICT);
	ck_assert_uint_eq(dns_zone_set_count(set), 3);
	ck_assert(dns_zone_set_remove(set, "deep.example.org"));
	ck_assert(!dns_zone_set_remove(set, "deep.example.org"));
	g_autoptr(DnsMessage) parent = ask(set, "x.deep.example.org.", DNS_TYPE_A);
	ck_assert_int_eq(parent->rcode, DNS_RCODE_NXDOMAIN);
}
END_TEST

/* Records added at run time get canonical names; a zone without a SOA
 * makes one up from its NS; long unknown data prints in parentheses. */
START_TEST(test_added_records)
{
	g_autoptr(DnsZone) zone = parse_ok("example.net", "@ NS ns1.example.net.\n");
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsRecord) mx = dns_record_new_mx("Example.NET", 60, 5, "MX.Example.Net");
	ck_assert(dns_zone_add_record(zone, mx, &error));
	g_autoptr(DnsRecord) srv = dns_record_new_srv("_x._tcp.example.net", 60, 1, 2, 3, "T.example.net");
	ck_assert(dns_zone_add_record(zone, srv, &error));
	g_autoptr(DnsRecord) cname = dns_record_new_name("c.example.net", DNS_TYPE_CNAME, 60, "Www.Example.Net");
	ck_assert(dns_zone_add_record(zone, cname, &error));
	g_autofree guint8 *blob = g_malloc0(3000);
	g_autoptr(GBytes) raw = g_bytes_new_take(g_steal_pointer(&blob), 3000);
	g_autoptr(DnsRecord) big = dns_record_new_raw("big.example.net.", 65000, DNS_CLASS_IN, 60, raw, &error);
	ck_assert(dns_zone_add_record(zone, big, &error));

	const GPtrArray *records = dns_zone_records(zone);
	g_autofree char *t1 = dns_record_to_text(records->pdata[1]);
	g_autofree char *t2 = dns_record_to_text(records->pdata[2]);
	g_autofree char *t3 = dns_record_to_text(records->pdata[3]);
	ck_assert_str_eq(t1, "example.net. 60 IN MX 5 mx.example.net.");
	ck_assert_str_eq(t2, "_x._tcp.example.net. 60 IN SRV 1 2 3 t.example.net.");
	ck_assert_str_eq(t3, "c.example.net. 60 IN CNAME www.example.net.");

	g_autoptr(DnsRecord) soa = dns_zone_soa(zone);
	g_autofree char *soa_text = dns_record_to_text(soa);
	ck_assert_str_eq(soa_text, "example.net. 3600 IN SOA ns1.example.net. hostmaster.example.net. 1 3600 600 86400 300");

	g_autofree char *text = dns_zone_to_text(zone);
	ck_assert_ptr_nonnull(strstr(text, "big.example.net. 60 IN TYPE65000 (\n\t\\# 3000\n\t0000"));
	g_autoptr(DnsZone) again = parse_ok("example.net", text);
	ck_assert_uint_eq(dns_zone_records(again)->len, 5);
	ck_assert(dns_record_equal(dns_zone_records(again)->pdata[4], big));
}
END_TEST

START_TEST(test_error_names)
{
	ck_assert_str_eq(dns_zone_error_to_string(DNS_ZONE_ERROR_OUT_OF_ZONE), "OUT_OF_ZONE");
	ck_assert_str_eq(dns_zone_error_to_string(DNS_ZONE_ERROR_LIMIT), "LIMIT");
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(dns_zone_new("a..b", &error));
	assert_gerror(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_NAME);
}
END_TEST

static Suite *dns_zone_suite(void)
{
	Suite *s = suite_create("dns_zone");
	MS_ADD_TEST(s, test_parse_every_directive, 10);
	MS_ADD_TEST(s, test_parse_record_line, 10);
	MS_ADD_TEST(s, test_ttl_rules, 10);
	MS_ADD_TEST(s, test_to_text_round_trip, 10);
	MS_ADD_TEST(s, test_bad_zones, 10);
	MS_ADD_TEST(s, test_limits, 60);
	MS_ADD_TEST(s, test_soa_times_are_32_bits, 10);
	MS_ADD_TEST(s, test_answers, 10);
	MS_ADD_TEST(s, test_cname_chain_limit, 10);
	MS_ADD_TEST(s, test_bad_queries, 10);
	MS_ADD_TEST(s, test_runtime_changes, 10);
	MS_ADD_TEST(s, test_added_records, 10);
	MS_ADD_TEST(s, test_error_names, 10);
	return s;
}

MS_TEST_MAIN(dns_zone_suite)
