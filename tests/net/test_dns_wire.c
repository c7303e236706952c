/* tests/net/test_dns_wire.c - the DNS message encoder and decoder.
 *
 * Round trips for every record type, name compression, truncation, the
 * name rules, and a corpus of hostile packets that must each be an error.
 */
#include "tests/ms_test.h"
#include "net/dns_wire.h"

#define assert_gerror(err, dom, c)                                              \
	do {                                                                        \
		ck_assert_ptr_nonnull(err);                                             \
		ck_assert_msg((err)->domain == (dom) && (err)->code == (gint)(c),       \
		              "unexpected error: %s", (err)->message);                   \
	} while (0)

/* "01 02 ab" -> bytes; spaces and newlines are ignored. */
static GBytes *hex_bytes(const char *hex)
{
	GByteArray *out = g_byte_array_new();
	for (const char *p = hex; *p;) {
		if (g_ascii_isspace(*p)) {
			p++;
			continue;
		}
		ck_assert(g_ascii_isxdigit(p[0]) && g_ascii_isxdigit(p[1]));
		guint8 b = (guint8)(g_ascii_xdigit_value(p[0]) * 16 + g_ascii_xdigit_value(p[1]));
		g_byte_array_append(out, &b, 1);
		p += 2;
	}
	return g_byte_array_free_to_bytes(out);
}

static DnsMessage *decode_bytes(GBytes *b, GError **error)
{
	gsize n;
	const guint8 *d = g_bytes_get_data(b, &n);
	return dns_wire_decode(d ? d : (const guint8 *)"", n, error);
}

static const guint8 addr4[4] = { 192, 0, 2, 10 };
static const guint8 addr6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

/* ---- presentation text, one table over every type ----------------------- */

static DnsRecord *make_record(int i)
{
	switch (i) {
	case 0: return dns_record_new_a("mail.example.com.", 3600, addr4);
	case 1: return dns_record_new_aaaa("mail.example.com.", 3600, addr6);
	case 2: return dns_record_new_name("example.com.", DNS_TYPE_NS, 86400, "ns.example.net.");
	case 3: return dns_record_new_name("www.example.com.", DNS_TYPE_CNAME, 300, "mail.example.com.");
	case 4: return dns_record_new_name("10.2.0.192.in-addr.arpa.", DNS_TYPE_PTR, 3600, "mail.example.com.");
	case 5: return dns_record_new_mx("example.org.", 3600, 10, "mx1.example.org.");
	case 6: return dns_record_new_srv("_imaps._tcp.example.com.", 600, 0, 5, 993, "mail.example.com.");
	case 7: return dns_record_new_txt("example.com.", 300, "v=spf1 mx -all");
	case 8: return dns_record_new_soa("example.com.", 3600, "ns.example.net.", "hostmaster.example.com.",
	                                  2024010101, 7200, 900, 1209600, 300);
	case 9: {
		g_autoptr(GBytes) raw = hex_bytes("010203");
		return dns_record_new_raw("example.com.", 65280, DNS_CLASS_IN, 60, raw, NULL);
	}
	case 10: {
		/* two strings, one with a quote, a backslash and a control byte */
		DnsRecord *rec = dns_record_new_txt("t.example.com.", 60, "a \"quoted\" word");
		g_ptr_array_add(rec->rdata.txt, g_bytes_new("back\\slash\n", 11));
		return rec;
	}
	case 11: {
		g_autoptr(GBytes) raw = hex_bytes("");
		return dns_record_new_raw(".", DNS_TYPE_OPT, 1232, 0, raw, NULL);
	}
	}
	return NULL;
}

static const char *const record_texts[] = {
	"mail.example.com. 3600 IN A 192.0.2.10",
	"mail.example.com. 3600 IN AAAA 2001:db8::1",
	"example.com. 86400 IN NS ns.example.net.",
	"www.example.com. 300 IN CNAME mail.example.com.",
	"10.2.0.192.in-addr.arpa. 3600 IN PTR mail.example.com.",
	"example.org. 3600 IN MX 10 mx1.example.org.",
	"_imaps._tcp.example.com. 600 IN SRV 0 5 993 mail.example.com.",
	"example.com. 300 IN TXT \"v=spf1 mx -all\"",
	"example.com. 3600 IN SOA ns.example.net. hostmaster.example.com. 2024010101 7200 900 1209600 300",
	"example.com. 60 IN TYPE65280 \\# 3 010203",
	"t.example.com. 60 IN TXT \"a \\\"quoted\\\" word\" \"back\\\\slash\\010\"",
	". 0 CLASS1232 OPT \\# 0",
};

#define N_RECORDS ((int)G_N_ELEMENTS(record_texts))

START_TEST(test_record_to_text)
{
	for (int i = 0; i < N_RECORDS; i++) {
		g_autoptr(DnsRecord) rec = make_record(i);
		ck_assert_ptr_nonnull(rec);
		g_autofree char *text = dns_record_to_text(rec);
		ck_assert_str_eq(text, record_texts[i]);
	}
	g_autoptr(DnsRecord) mx = make_record(5);
	g_autofree char *rdata = dns_record_rdata_to_text(mx);
	ck_assert_str_eq(rdata, "10 mx1.example.org.");
}
END_TEST

/* Every record type survives encode then decode, in every section. */
START_TEST(test_round_trip_every_type)
{
	g_autoptr(DnsMessage) msg = dns_message_new();
	msg->id = 0xBEEF;
	msg->qr = TRUE;
	msg->aa = TRUE;
	msg->rd = TRUE;
	msg->ra = TRUE;
	msg->z = 2;
	msg->rcode = DNS_RCODE_NXDOMAIN;
	g_ptr_array_add(msg->questions, dns_question_new("example.com.", DNS_TYPE_ANY, DNS_CLASS_IN));
	for (int i = 0; i < N_RECORDS; i++)
		dns_message_add(msg, (DnsSection)(DNS_SECTION_ANSWER + i % 3), make_record(i));

	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) wire = dns_wire_encode(msg, 0, &error);
	ck_assert_msg(wire != NULL, "%s", error ? error->message : "");
	g_autoptr(DnsMessage) back = decode_bytes(wire, &error);
	ck_assert_msg(back != NULL, "%s", error ? error->message : "");

	ck_assert_uint_eq(back->id, 0xBEEF);
	ck_assert(back->qr && back->aa && back->rd && back->ra && !back->tc);
	ck_assert_uint_eq(back->z, 2);
	ck_assert_int_eq(back->rcode, DNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(back->opcode, DNS_OPCODE_QUERY);
	ck_assert_uint_eq(back->questions->len, 1);
	for (DnsSection s = DNS_SECTION_ANSWER; s <= DNS_SECTION_ADDITIONAL; s++) {
		GPtrArray *a = dns_message_section(msg, s), *b = dns_message_section(back, s);
		ck_assert_uint_eq(a->len, b->len);
		for (guint i = 0; i < a->len; i++) {
			const DnsRecord *ra = a->pdata[i], *rb = b->pdata[i];
			ck_assert_msg(dns_record_equal(ra, rb), "record %u of %s differs", i, dns_section_to_string(s));
			ck_assert_uint_eq(ra->ttl, rb->ttl);
			g_autofree char *ta = dns_record_to_text(ra);
			g_autofree char *tb = dns_record_to_text(rb);
			ck_assert_str_eq(ta, tb);
			g_autoptr(DnsRecord) copy = dns_record_copy(rb);
			g_autofree char *tc = dns_record_to_text(copy);
			ck_assert(dns_record_equal(copy, ra));
			ck_assert_str_eq(tc, ta);
		}
	}
	/* and the bytes of the second encoding are the bytes of the first */
	g_autoptr(GBytes) again = dns_wire_encode(back, 0, &error);
	ck_assert(g_bytes_equal(wire, again));
}
END_TEST

/* A query as dig sends it (RD, AD, an EDNS OPT record) decodes and
 * encodes back to the same bytes. */
START_TEST(test_dig_query_bytes)
{
	g_autoptr(GBytes) wire = hex_bytes(
		"1234 0120 0001 0000 0000 0001"
		"07 6578616d706c65 03 6f7267 00 000f 0001"
		"00 0029 04d0 00000000 0000");
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsMessage) msg = decode_bytes(wire, &error);
	ck_assert_msg(msg != NULL, "%s", error ? error->message : "");
	ck_assert_uint_eq(msg->id, 0x1234);
	ck_assert(msg->rd && !msg->qr);
	const DnsQuestion *q = msg->questions->pdata[0];
	ck_assert_str_eq(q->name, "example.org.");
	ck_assert_uint_eq(q->type, DNS_TYPE_MX);
	ck_assert_uint_eq(dns_message_udp_limit(msg), 1232);
	g_autoptr(GBytes) again = dns_wire_encode(msg, 0, &error);
	ck_assert(g_bytes_equal(wire, again));
	g_autofree char *line = dns_message_to_line(msg);
	ck_assert_str_eq(line, "example.org. MX ?");
}
END_TEST

/* ---- compression ---------------------------------------------------------- */

START_TEST(test_compression_shrinks_and_points)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsMessage) q = dns_message_new_query(7, "example.org.", DNS_TYPE_MX, &error);
	g_autoptr(DnsMessage) msg = dns_message_new_response(q, DNS_RCODE_NOERROR);
	dns_message_add(msg, DNS_SECTION_ANSWER, dns_record_new_mx("example.org.", 3600, 10, "mx.example.org."));
	dns_message_add(msg, DNS_SECTION_ADDITIONAL, dns_record_new_a("MX.Example.ORG.", 3600, addr4));
	g_autoptr(GBytes) wire = dns_wire_encode(msg, 0, &error);
	gsize n;
	const guint8 *d = g_bytes_get_data(wire, &n);

	/* without compression: header 12, question 13+4, MX 13+10+2+16,
	 * A 16+10+4 = 100 octets */
	ck_assert_uint_lt(n, 100);
	/* the answer's owner is a pointer to the question name at offset 12 */
	ck_assert_uint_eq(d[12 + 13 + 4], 0xC0);
	ck_assert_uint_eq(d[12 + 13 + 4 + 1], 12);

	g_autoptr(DnsMessage) back = decode_bytes(wire, &error);
	ck_assert_msg(back != NULL, "%s", error ? error->message : "");
	const DnsRecord *mx = back->answers->pdata[0];
	ck_assert_str_eq(mx->name, "example.org.");
	ck_assert_str_eq(mx->rdata.mx.exchange, "mx.example.org.");
	/* compression ignores case; the owner is read back as first written */
	const DnsRecord *a = back->additional->pdata[0];
	ck_assert_str_eq(a->name, "mx.example.org.");
}
END_TEST

/* A hand-made response whose names use pointers, including a pointer to a
 * pointer and a name that continues with labels before its pointer. */
START_TEST(test_decode_pointers)
{
	g_autoptr(GBytes) wire = hex_bytes(
		"0001 8180 0001 0002 0000 0000"
		/* 12: example.org. MX IN */
		"07 6578616d706c65 03 6f7267 00 000f 0001"
		/* 29: C00C MX 10 mx + ptr(12) */
		"c00c 000f 0001 00000e10 0007 000a 026d78 c00c"
		/* 48: C00C MX 20 mx2 + ptr(20: org.) -> "mx2.org." */
		"c00c 000f 0001 00000e10 0008 0014 036d7832 c014");
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsMessage) msg = decode_bytes(wire, &error);
	ck_assert_msg(msg != NULL, "%s", error ? error->message : "");
	ck_assert_uint_eq(msg->answers->len, 2);
	const DnsRecord *r0 = msg->answers->pdata[0], *r1 = msg->answers->pdata[1];
	ck_assert_str_eq(r0->rdata.mx.exchange, "mx.example.org.");
	ck_assert_str_eq(r1->rdata.mx.exchange, "mx2.org.");
	g_autofree char *line = dns_message_to_line(msg);
	ck_assert_str_eq(line, "example.org. MX \u2192 10 mx.example.org., 20 mx2.org.");
}
END_TEST

/* ---- truncation ----------------------------------------------------------- */

START_TEST(test_truncate_to_udp_size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsMessage) q = dns_message_new_query(1, "many.example.com.", DNS_TYPE_A, &error);
	g_autoptr(DnsMessage) msg = dns_message_new_response(q, DNS_RCODE_NOERROR);
	for (guint i = 0; i < 60; i++) {
		guint8 a[4] = { 10, 0, 0, (guint8)i };
		dns_message_add(msg, DNS_SECTION_ANSWER, dns_record_new_a("many.example.com.", 60, a));
	}
	dns_message_add(msg, DNS_SECTION_ADDITIONAL, dns_record_new_a("x.example.com.", 60, addr4));

	g_autoptr(GBytes) wire = dns_wire_encode(msg, DNS_WIRE_UDP_SIZE, &error);
	ck_assert_ptr_nonnull(wire);
	ck_assert_uint_le(g_bytes_get_size(wire), DNS_WIRE_UDP_SIZE);
	g_autoptr(DnsMessage) back = decode_bytes(wire, &error);
	ck_assert_msg(back != NULL, "%s", error ? error->message : "");
	ck_assert(back->tc);
	ck_assert_uint_gt(back->answers->len, 10);
	ck_assert_uint_lt(back->answers->len, 60);
	ck_assert_uint_eq(back->additional->len, 0);
	g_autofree char *line = dns_message_to_line(back);
	ck_assert(g_str_has_suffix(line, "(truncated)"));

	/* the same message fits whole over TCP */
	g_autoptr(GBytes) tcp = dns_wire_encode(msg, 0, &error);
	g_autoptr(DnsMessage) whole = decode_bytes(tcp, &error);
	ck_assert(!whole->tc);
	ck_assert_uint_eq(whole->answers->len, 60);
}
END_TEST

/* RFC 2181 9: extra data that does not fit is dropped without TC, and the
 * names it offered for compression are forgotten. */
START_TEST(test_truncate_additional_only)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsMessage) q = dns_message_new_query(1, "example.org.", DNS_TYPE_MX, &error);
	g_autoptr(DnsMessage) msg = dns_message_new_response(q, DNS_RCODE_NOERROR);
	dns_message_add(msg, DNS_SECTION_ANSWER, dns_record_new_mx("example.org.", 60, 10, "mx.example.org."));
	for (guint i = 0; i < 40; i++) {
		g_autofree char *name = g_strdup_printf("host%u.sub.example.org.", i);
		dns_message_add(msg, DNS_SECTION_ADDITIONAL, dns_record_new_a(name, 60, addr4));
	}
	g_autoptr(GBytes) wire = dns_wire_encode(msg, 200, &error);
	ck_assert_ptr_nonnull(wire);
	ck_assert_uint_le(g_bytes_get_size(wire), 200);
	g_autoptr(DnsMessage) back = decode_bytes(wire, &error);
	ck_assert_msg(back != NULL, "%s", error ? error->message : "");
	ck_assert(!back->tc);
	ck_assert_uint_eq(back->answers->len, 1);
	ck_assert_uint_gt(back->additional->len, 0);
	ck_assert_uint_lt(back->additional->len, 40);
	for (guint i = 0; i < back->additional->len; i++) {
		g_autofree char *want = g_strdup_printf("host%u.sub.example.org.", i);
		ck_assert_str_eq(((DnsRecord *)back->additional->pdata[i])->name, want);
	}
}
END_TEST

START_TEST(test_encode_errors)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsMessage) q = dns_message_new_query(1, "a-rather-long-name.example.org.", DNS_TYPE_A, &error);
	ck_assert_ptr_null(dns_wire_encode(q, 20, &error));
	assert_gerror(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_TOO_BIG);
	g_clear_error(&error);
	ck_assert_ptr_null(dns_wire_encode(q, 5, &error));
	assert_gerror(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_TOO_BIG);
	g_clear_error(&error);

	g_autoptr(DnsMessage) bad = dns_message_new();
	dns_message_add(bad, DNS_SECTION_ANSWER, dns_record_new_a("a..b.", 1, addr4));
	ck_assert_ptr_null(dns_wire_encode(bad, 0, &error));
	assert_gerror(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_NAME);
	g_clear_error(&error);

	g_autoptr(DnsMessage) txt = dns_message_new();
	DnsRecord *rec = dns_record_new_txt("t.", 1, "x");
	g_ptr_array_add(rec->rdata.txt, g_bytes_new_take(g_malloc0(256), 256));
	dns_message_add(txt, DNS_SECTION_ANSWER, rec);
	ck_assert_ptr_null(dns_wire_encode(txt, 0, &error));
	assert_gerror(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_INVALID);

	ck_assert_ptr_null(dns_message_new_query(1, "bad..name", DNS_TYPE_A, NULL));

	/* an RCODE above 15 needs EDNS, which this encoder does not write */
	g_clear_error(&error);
	q->rcode = (DnsRcode)16;
	ck_assert_ptr_null(dns_wire_encode(q, 0, &error));
	assert_gerror(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_INVALID);
}
END_TEST

/* ---- hostile packets -------------------------------------------------------- */

typedef struct {
	const char  *what;
	const char  *hex;
	DnsWireError code;
	const char  *says;     /* a piece of the message */
} BadPacket;

/* A header with QDCOUNT 1 and nothing else: the prefix of most cases. */
#define Q1 "0000 0000 0001 0000 0000 0000 "
/* A header with QDCOUNT 1, ANCOUNT 1, and the question "a. A IN". */
#define Q1A1 "0000 8000 0001 0001 0000 0000 01 61 00 0001 0001 "

static const BadPacket bad_packets[] = {
	{ "empty", "", DNS_WIRE_ERROR_TRUNCATED, "shorter than the 12-octet header" },
	{ "truncated header", "1234 0100 00", DNS_WIRE_ERROR_TRUNCATED, "header" },
	{ "pointer to itself", Q1 "c00c 0001 0001", DNS_WIRE_ERROR_BAD_NAME, "loop" },
	{ "forward pointer", Q1 "c010 0001 0001 0000", DNS_WIRE_ERROR_BAD_NAME, "forward pointer" },
	{ "label of 64", Q1 "40" "61616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161" "00 0001 0001",
	  DNS_WIRE_ERROR_BAD_NAME, "at most 63" },
	{ "label type 0x80", Q1 "80 00 0001 0001", DNS_WIRE_ERROR_BAD_NAME, "0x80" },
	{ "label runs past the end", Q1 "05 61626364", DNS_WIRE_ERROR_TRUNCATED, "QNAME" },
	{ "name without its end", Q1 "01 61 01 62 01 63", DNS_WIRE_ERROR_TRUNCATED, "QNAME" },
	{ "question without class", Q1 "01 61 00 0001", DNS_WIRE_ERROR_TRUNCATED, "QCLASS" },
	{ "QDCOUNT larger than the packet", "0000 0000 0002 0000 0000 0000 00 0001 0001",
	  DNS_WIRE_ERROR_BAD_COUNT, "2 questions" },
	{ "ANCOUNT 65535", "0000 8000 0000 ffff 0000 0000 00 0001 0001 00000000 0000",
	  DNS_WIRE_ERROR_BAD_COUNT, "65535" },
	{ "ARCOUNT one too many", "0000 8000 0001 0001 0000 0001 01 61 00 0001 0001 00 0001 0001 00000000 0004 01020304",
	  DNS_WIRE_ERROR_BAD_COUNT, "1+0+1 records" },
	{ "bytes after the last record", Q1A1 "00 0001 0001 00000000 0004 01020304 00 00 00 00 00 00 00 00 00 00 00 00",
	  DNS_WIRE_ERROR_BAD_COUNT, "follow the last entry" },
	{ "RDLENGTH past the end", Q1A1 "00 0001 0001 00000000 0064 01020304 0000 0000",
	  DNS_WIRE_ERROR_TRUNCATED, "RDLENGTH 100" },
	{ "A with RDLENGTH 5", Q1A1 "00 0001 0001 00000000 0005 0102030405", DNS_WIRE_ERROR_BAD_RDATA, "RDLENGTH is 5" },
	{ "A with RDLENGTH 3", Q1A1 "00 0001 0001 00000000 0003 010203 00", DNS_WIRE_ERROR_BAD_RDATA, "an A address" },
	{ "MX too short for its name", Q1A1 "00 000f 0001 00000000 0003 000a 01 6100",
	  DNS_WIRE_ERROR_BAD_RDATA, "MX exchange" },
	{ "TXT with no string", Q1A1 "00 0010 0001 00000000 0000 0000 0000 0000",
	  DNS_WIRE_ERROR_BAD_RDATA, "at least one string" },
	{ "TXT string past RDLENGTH", Q1A1 "00 0010 0001 00000000 0003 05 6162 00000000",
	  DNS_WIRE_ERROR_BAD_RDATA, "TXT string" },
	{ "SOA cut short", Q1A1 "00 0006 0001 00000000 0006 00 00 00000001 00000000 00000000 00000000 00000000",
	  DNS_WIRE_ERROR_BAD_RDATA, "SOA" },
	{ "pointer in RDATA to a later name", Q1A1 "00 0005 0001 00000000 0002 c02a 00 00",
	  DNS_WIRE_ERROR_BAD_NAME, "forward pointer" },
	{ "record cut in its TTL", "0000 8000 0001 0001 0000 0000 07 6578616d706c65 00 0001 0001 00 0001 0001 0000",
	  DNS_WIRE_ERROR_TRUNCATED, "TTL" },
	{ "A of 3 octets in class IN", Q1A1 "00 0001 0001 00000000 0003 010203", DNS_WIRE_ERROR_BAD_RDATA, "A address" },
};

static void check_bad_packet(const BadPacket *c, GBytes *wire)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsMessage) msg = decode_bytes(wire, &error);
	ck_assert_msg(msg == NULL, "%s: decoded", c->what);
	ck_assert_msg(error != NULL && error->domain == DNS_WIRE_ERROR, "%s: no DNS_WIRE_ERROR", c->what);
	ck_assert_msg(error->code == (gint)c->code, "%s: %s, not %s (%s)", c->what,
	              dns_wire_error_to_string((DnsWireError)error->code),
	              dns_wire_error_to_string(c->code), error->message);
	ck_assert_msg(strstr(error->message, c->says) != NULL, "%s: \"%s\" lacks \"%s\"",
	              c->what, error->message, c->says);
}

START_TEST(test_bad_packets)
{
	for (gsize i = 0; i < G_N_ELEMENTS(bad_packets); i++) {
		g_autoptr(GBytes) wire = hex_bytes(bad_packets[i].hex);
		check_bad_packet(&bad_packets[i], wire);
	}
}
END_TEST

/* A name of 256 octets: four labels of 63 and a fifth of 1... */
START_TEST(test_name_over_255)
{
	GString *hex = g_string_new(Q1);
	for (int l = 0; l < 4; l++) {
		g_string_append(hex, "3f");
		for (int i = 0; i < 63; i++)
			g_string_append(hex, "61");
	}
	g_string_append(hex, "01 61 00 0001 0001");   /* 4*64 + 2 + 1 = 259 */
	g_autoptr(GBytes) wire = hex_bytes(hex->str);
	g_string_free(hex, TRUE);
	BadPacket c = { "name of 259 octets", "", DNS_WIRE_ERROR_BAD_NAME, "longer than 255" };
	check_bad_packet(&c, wire);
}
END_TEST

/* ...and a chain of backward pointers longer than any name needs. */
START_TEST(test_pointer_chain_too_long)
{
	/* the answer's RDATA (unknown type) holds 200 pointers, each to the one
	 * before; an additional record's owner jumps to the last of them */
	GString *hex = g_string_new("0000 8000 0001 0001 0000 0001 01 61 00 0001 0001 ");
	guint rdata_at = 12 + 7 + 11;
	g_string_append_printf(hex, "00 ff00 0001 00000000 %04x ", 200 * 2);
	g_string_append(hex, "c00c ");
	for (guint i = 1; i < 200; i++)
		g_string_append_printf(hex, "%04x ", 0xC000 | (rdata_at + 2 * (i - 1)));
	g_string_append_printf(hex, "%04x 0001 0001 00000000 0000", 0xC000 | (rdata_at + 2 * 199));
	g_autoptr(GBytes) wire = hex_bytes(hex->str);
	g_string_free(hex, TRUE);
	BadPacket c = { "pointer chain", "", DNS_WIRE_ERROR_BAD_NAME, "compression pointers" };
	check_bad_packet(&c, wire);
}
END_TEST

/* Every proper prefix of a good message is an error, never a crash. */
START_TEST(test_every_prefix_rejected)
{
	g_autoptr(DnsMessage) msg = dns_message_new();
	g_ptr_array_add(msg->questions, dns_question_new("example.com.", DNS_TYPE_ANY, DNS_CLASS_IN));
	for (int i = 0; i < N_RECORDS; i++)
		dns_message_add(msg, DNS_SECTION_ANSWER, make_record(i));
	g_autoptr(GBytes) wire = dns_wire_encode(msg, 0, NULL);
	gsize n;
	const guint8 *d = g_bytes_get_data(wire, &n);
	for (gsize len = 0; len < n; len++) {
		/* a copy of exactly len bytes, so ASan sees any read past it */
		g_autofree guint8 *copy = g_memdup2(d, len ? len : 1);
		g_autoptr(GError) error = NULL;
		g_autoptr(DnsMessage) back = dns_wire_decode(copy, len, &error);
		ck_assert_msg(back == NULL, "prefix of %zu octets decoded", len);
		ck_assert_ptr_nonnull(error);
	}
}
END_TEST

/* RFC 2181 8: a TTL with the top bit set reads as zero, except in OPT. */
START_TEST(test_ttl_top_bit)
{
	g_autoptr(GBytes) wire = hex_bytes(
		"0000 8000 0001 0001 0000 0001 01 61 00 0001 0001"
		"00 0001 0001 80000001 0004 01020304"
		"00 0029 1000 80000000 0000");
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsMessage) msg = decode_bytes(wire, &error);
	ck_assert_msg(msg != NULL, "%s", error ? error->message : "");
	ck_assert_uint_eq(((DnsRecord *)msg->answers->pdata[0])->ttl, 0);
	ck_assert_uint_eq(((DnsRecord *)msg->additional->pdata[0])->ttl, 0x80000000u);

	/* and no message is longer than 65535 octets */
	g_autofree guint8 *huge = g_malloc0(DNS_WIRE_MAX_MESSAGE + 1);
	ck_assert_ptr_null(dns_wire_decode(huge, DNS_WIRE_MAX_MESSAGE + 1, &error));
	assert_gerror(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_COUNT);
}
END_TEST

/* ---- names ------------------------------------------------------------------ */

static const struct { const char *in, *canonical; guint labels; } good_names[] = {
	{ ".",                     ".",                    0 },
	{ "Example.ORG",           "example.org.",         2 },
	{ "example.org.",          "example.org.",         2 },
	{ "_imaps._tcp.Ex.com.",   "_imaps._tcp.ex.com.",  4 },
	{ "a\\.b.example.",        "a\\.b.example.",       2 },
	{ "sp\\032ace.example.",   "sp\\032ace.example.",  2 },
	{ "\\065bc.example.",      "abc.example.",         2 },
	{ "semi\\;colon.",         "semi\\;colon.",        1 },
};

static const char *const bad_names[] = {
	"", "a..b", ".a", "..", "a\\", "a\\25", "a\\256.example",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",   /* 64 */
};

START_TEST(test_names)
{
	for (gsize i = 0; i < G_N_ELEMENTS(good_names); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *c = dns_name_canonical(good_names[i].in, &error);
		ck_assert_msg(c != NULL, "%s: %s", good_names[i].in, error ? error->message : "");
		ck_assert_str_eq(c, good_names[i].canonical);
		ck_assert_uint_eq(dns_name_label_count(good_names[i].in), good_names[i].labels);
		ck_assert(dns_name_equal(good_names[i].in, good_names[i].canonical));
	}
	for (gsize i = 0; i < G_N_ELEMENTS(bad_names); i++) {
		g_autoptr(GError) error = NULL;
		ck_assert_msg(dns_name_canonical(bad_names[i], &error) == NULL, "%s accepted", bad_names[i]);
		assert_gerror(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_NAME);
		ck_assert(!dns_name_is_valid(bad_names[i]));
	}
	/* 255 octets is the most: 127 one-octet labels are 254 + the root */
	GString *n = g_string_new(NULL);
	for (int i = 0; i < 127; i++)
		g_string_append(n, "a.");
	ck_assert(dns_name_is_valid(n->str));
	g_string_prepend(n, "b");
	ck_assert(!dns_name_is_valid(n->str));
	g_string_free(n, TRUE);
}
END_TEST

START_TEST(test_name_relations)
{
	ck_assert(dns_name_is_subdomain("mx.Example.org.", "example.ORG"));
	ck_assert(dns_name_is_subdomain("example.org.", "example.org."));
	ck_assert(dns_name_is_subdomain("example.org.", "."));
	ck_assert(!dns_name_is_subdomain("badexample.org.", "example.org."));
	ck_assert(!dns_name_is_subdomain("example.org.", "mx.example.org."));
	ck_assert(!dns_name_is_subdomain("a\\.example.org.", "example.org."));
	ck_assert(!dns_name_is_subdomain("x.a\\.b.", "b."));
	ck_assert(!dns_name_equal("example.org.", "example.com."));
	ck_assert(!dns_name_equal("a..b", "a..b"));

	ck_assert_str_eq(dns_name_parent("mx.example.org."), "example.org.");
	ck_assert_str_eq(dns_name_parent("org."), ".");
	ck_assert_str_eq(dns_name_parent("a\\.b.c."), "c.");
	ck_assert_ptr_null(dns_name_parent("."));
}
END_TEST

/* A label holding a dot, a space and a zero octet survives the wire. */
START_TEST(test_odd_labels_round_trip)
{
	const char *name = "a\\.b\\032c\\000.Example.";
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsMessage) q = dns_message_new_query(3, name, DNS_TYPE_TXT, &error);
	ck_assert_msg(q != NULL, "%s", error ? error->message : "");
	g_autoptr(GBytes) wire = dns_wire_encode(q, 0, &error);
	gsize n;
	const guint8 *d = g_bytes_get_data(wire, &n);
	/* one label of 6 octets: "a.b c\0" */
	ck_assert_uint_eq(d[12], 6);
	ck_assert_int_eq(memcmp(d + 13, "a.b c\0", 6), 0);
	g_autoptr(DnsMessage) back = decode_bytes(wire, &error);
	ck_assert_str_eq(((DnsQuestion *)back->questions->pdata[0])->name, name);
	ck_assert_uint_eq(dns_name_label_count(name), 2);
}
END_TEST

/* ---- numbers and helpers -------------------------------------------------- */

START_TEST(test_type_names)
{
	static const struct { const char *s; guint16 type; } good[] = {
		{ "A", 1 }, { "mx", 15 }, { "Txt", 16 }, { "AAAA", 28 }, { "SRV", 33 },
		{ "soa", 6 }, { "PTR", 12 }, { "CNAME", 5 }, { "NS", 2 }, { "ANY", 255 },
		{ "TYPE99", 99 }, { "type65535", 65535 },
	};
	static const char *const bad[] = { "", "FOO", "TYPE", "TYPE65536", "TYPE-1", "TYPE1x", "MXX" };
	for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
		guint16 t = 0;
		ck_assert_msg(dns_type_from_string(good[i].s, &t), "%s", good[i].s);
		ck_assert_uint_eq(t, good[i].type);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		guint16 t;
		ck_assert_msg(!dns_type_from_string(bad[i], &t), "%s accepted", bad[i]);
	}
	g_autofree char *t99 = dns_type_name(99);
	ck_assert_str_eq(t99, "TYPE99");
	ck_assert_str_eq(dns_type_to_string(DNS_TYPE_MX), "MX");
	ck_assert_str_eq(dns_type_to_string(99), "UNKNOWN");
	ck_assert(dns_type_is_meta(DNS_TYPE_OPT) && dns_type_is_meta(DNS_TYPE_AXFR));
	ck_assert(!dns_type_is_meta(DNS_TYPE_MX));
	ck_assert_str_eq(dns_rcode_to_string(DNS_RCODE_NXDOMAIN), "NXDOMAIN");
	ck_assert_str_eq(dns_rcode_to_string(DNS_RCODE_REFUSED), "REFUSED");
	ck_assert_str_eq(dns_opcode_to_string(DNS_OPCODE_NOTIFY), "NOTIFY");
	ck_assert_str_eq(dns_class_to_string(DNS_CLASS_IN), "IN");
	ck_assert_str_eq(dns_section_to_string(DNS_SECTION_AUTHORITY), "AUTHORITY");
	ck_assert_str_eq(dns_rdata_kind_to_string(DNS_RDATA_SOA), "SOA");
	ck_assert_str_eq(dns_wire_error_to_string(DNS_WIRE_ERROR_BAD_COUNT), "BAD_COUNT");
	/* A in class CH is not an IPv4 address */
	ck_assert_int_eq(dns_rdata_kind_for(DNS_TYPE_A, DNS_CLASS_CH), DNS_RDATA_RAW);
}
END_TEST

START_TEST(test_message_helpers)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(DnsMessage) q = dns_message_new_query(42, "Example.org", DNS_TYPE_MX, &error);
	ck_assert(q->rd && !q->qr);
	g_autoptr(DnsMessage) r = dns_message_new_response(q, DNS_RCODE_NXDOMAIN);
	ck_assert(r->qr && r->rd);
	ck_assert_uint_eq(r->id, 42);
	ck_assert_uint_eq(r->questions->len, 1);
	g_autofree char *line = dns_message_to_line(r);
	ck_assert_str_eq(line, "Example.org MX \u2192 NXDOMAIN");
	g_autofree char *text = dns_message_to_text(r);
	ck_assert_ptr_nonnull(strstr(text, "status: NXDOMAIN, id: 42"));
	ck_assert_ptr_nonnull(strstr(text, ";; flags: qr rd;"));
	ck_assert_ptr_nonnull(strstr(text, ";Example.org IN MX"));

	r->rcode = DNS_RCODE_NOERROR;
	g_free(line);
	line = dns_message_to_line(r);
	ck_assert_str_eq(line, "Example.org MX \u2192 no records (NODATA)");

	dns_message_add(r, DNS_SECTION_ANSWER, dns_record_new_name("Example.org.", DNS_TYPE_CNAME, 1, "b.org."));
	dns_message_add(r, DNS_SECTION_ANSWER, dns_record_new_mx("b.org.", 1, 5, "mx.b.org."));
	g_free(line);
	line = dns_message_to_line(r);
	ck_assert_str_eq(line, "Example.org MX \u2192 CNAME b.org., 5 mx.b.org.");
	g_free(text);
	text = dns_message_to_text(r);
	ck_assert_ptr_nonnull(strstr(text, "\n;; ANSWER SECTION:\nExample.org. 1 IN CNAME b.org.\nb.org. 1 IN MX 5 mx.b.org.\n"));
	ck_assert_uint_eq(dns_message_udp_limit(q), DNS_WIRE_UDP_SIZE);

	g_autoptr(DnsRecord) txt = dns_record_new_txt("t.", 1, "");
	ck_assert_uint_eq(txt->rdata.txt->len, 1);
	g_autofree char *long_text = g_strnfill(600, 'x');
	g_autoptr(DnsRecord) longtxt = dns_record_new_txt("t.", 1, long_text);
	ck_assert_uint_eq(longtxt->rdata.txt->len, 3);
	g_autofree char *joined = dns_record_txt_join(longtxt);
	ck_assert_str_eq(joined, long_text);
	g_autoptr(DnsRecord) a = make_record(0);
	g_autofree char *addr = dns_record_address(a);
	ck_assert_str_eq(addr, "192.0.2.10");
	g_autoptr(DnsRecord) copy = dns_record_copy(longtxt);
	ck_assert(dns_record_equal(copy, longtxt));
	ck_assert(!dns_record_equal(copy, txt));

	g_autoptr(GBytes) short_a = hex_bytes("0102");
	ck_assert_ptr_null(dns_record_new_raw("x.", DNS_TYPE_A, DNS_CLASS_IN, 1, short_a, &error));
	assert_gerror(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_RDATA);
	g_clear_error(&error);
	g_autoptr(GBytes) mx_raw = hex_bytes("000a 02 6d78 00");
	g_autoptr(DnsRecord) mx = dns_record_new_raw("x.", DNS_TYPE_MX, DNS_CLASS_IN, 1, mx_raw, &error);
	ck_assert_str_eq(mx->rdata.mx.exchange, "mx.");
}
END_TEST

static Suite *dns_wire_suite(void)
{
	Suite *s = suite_create("dns_wire");
	MS_ADD_TEST(s, test_record_to_text, 10);
	MS_ADD_TEST(s, test_round_trip_every_type, 10);
	MS_ADD_TEST(s, test_dig_query_bytes, 10);
	MS_ADD_TEST(s, test_compression_shrinks_and_points, 10);
	MS_ADD_TEST(s, test_decode_pointers, 10);
	MS_ADD_TEST(s, test_truncate_to_udp_size, 10);
	MS_ADD_TEST(s, test_truncate_additional_only, 10);
	MS_ADD_TEST(s, test_encode_errors, 10);
	MS_ADD_TEST(s, test_bad_packets, 10);
	MS_ADD_TEST(s, test_name_over_255, 10);
	MS_ADD_TEST(s, test_pointer_chain_too_long, 10);
	MS_ADD_TEST(s, test_every_prefix_rejected, 30);
	MS_ADD_TEST(s, test_ttl_top_bit, 10);
	MS_ADD_TEST(s, test_names, 10);
	MS_ADD_TEST(s, test_name_relations, 10);
	MS_ADD_TEST(s, test_odd_labels_round_trip, 10);
	MS_ADD_TEST(s, test_type_names, 10);
	MS_ADD_TEST(s, test_message_helpers, 10);
	return s;
}

MS_TEST_MAIN(dns_wire_suite)
