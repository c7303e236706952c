/* tests/fuzz/fuzz_dns_wire.c - libFuzzer target for the DNS wire decoder.
 *
 * Decodes arbitrary bytes; a message that decodes must print, encode,
 * decode again to the same records, and survive being answered by a zone
 * set and a DNSBL.  Records that fit in a zone must survive the trip
 * through master-file text.  Any broken promise aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/dns_wire.h"
#include "net/dns_zone.h"
#include "net/dnsbl.h"

static DnsZoneSet *fuzz_zones(void)
{
	static DnsZoneSet *set;
	if (set == NULL) {
		set = dns_zone_set_new();
		dns_zone_set_add(set, dns_zone_parse("example.org.",
			"@ MX 10 mx\nmx A 198.51.100.20\nwww CNAME mx\nsub NS ns.sub\nns.sub A 192.0.2.53\n"
			"_imap._tcp SRV 0 0 143 mx\n", "fuzz", 1, NULL), NULL);
	}
	return set;
}

static Dnsbl *fuzz_dnsbl(void)
{
	static Dnsbl *list;
	if (list == NULL) {
		list = dnsbl_new("rbl.example.net.", NULL);
		dnsbl_add(list, "192.0.2.0/24", NULL, "fuzz", NULL);
	}
	return list;
}

/* The answer to msg, if it is a query, must encode and decode. */
static void check_answer(DnsMessage *answer)
{
	if (answer == NULL)
		return;
	GBytes *wire = dns_wire_encode(answer, DNS_WIRE_UDP_SIZE, NULL);
	if (wire != NULL) {
		DnsMessage *back = dns_wire_decode(g_bytes_get_data(wire, NULL), g_bytes_get_size(wire), NULL);
		if (back == NULL)
			abort();
		dns_message_free(back);
		g_bytes_unref(wire);
	}
	dns_message_free(answer);
}

/* Records a zone accepts print as text the zone parser reads back. */
static void check_zone_text(const DnsMessage *msg)
{
	DnsZone *zone = dns_zone_new(".", NULL);
	for (DnsSection s = DNS_SECTION_ANSWER; s <= DNS_SECTION_ADDITIONAL; s++) {
		GPtrArray *records = dns_message_section(msg, s);
		for (guint i = 0; i < records->len; i++) {
			const DnsRecord *rec = records->pdata[i];
			/* the parser allows DNS_ZONE_MAX_ENTRY_TOKENS words an entry */
			if (dns_record_rdata_kind(rec) == DNS_RDATA_TXT && rec->rdata.txt->len > 400)
				continue;
			dns_zone_add_record(zone, rec, NULL);
		}
	}
	char *text = dns_zone_to_text(zone);
	GError *error = NULL;
	DnsZone *again = dns_zone_parse(".", text, "fuzz", 1, &error);
	if (again == NULL) {
		fprintf(stderr, "%s\n--- %s\n", text, error->message);
		abort();
	}
	if (dns_zone_records(again)->len != dns_zone_records(zone)->len)
		abort();
	dns_zone_free(again);
	g_free(text);
	dns_zone_free(zone);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GError *error = NULL;
	DnsMessage *msg = dns_wire_decode(data, size, &error);
	if (msg == NULL) {
		if (error == NULL || error->domain != DNS_WIRE_ERROR)
			abort();
		g_error_free(error);
		return 0;
	}
	g_free(dns_message_to_text(msg));
	g_free(dns_message_to_line(msg));

	GBytes *wire = dns_wire_encode(msg, 0, &error);
	if (wire == NULL)
		abort();      /* what decodes must encode */
	DnsMessage *back = dns_wire_decode(g_bytes_get_data(wire, NULL), g_bytes_get_size(wire), &error);
	if (back == NULL)
		abort();      /* and what we encode must decode */
	if (!back->tc) {
		for (DnsSection s = DNS_SECTION_ANSWER; s <= DNS_SECTION_ADDITIONAL; s++) {
			GPtrArray *a = dns_message_section(msg, s), *b = dns_message_section(back, s);
			if (a->len != b->len)
				abort();
			for (guint i = 0; i < a->len; i++)
				if (!dns_record_equal(a->pdata[i], b->pdata[i]))
					abort();
		}
	}
	dns_message_free(back);
	g_bytes_unref(wire);

	wire = dns_wire_encode(msg, DNS_WIRE_UDP_SIZE, &error);
	if (wire == NULL) {
		if (!g_error_matches(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_TOO_BIG))
			abort();
		g_clear_error(&error);
	} else {
		if (g_bytes_get_size(wire) > DNS_WIRE_UDP_SIZE)
			abort();
		g_bytes_unref(wire);
	}

	check_answer(dns_zone_set_answer(fuzz_zones(), msg));
	check_answer(dnsbl_answer(fuzz_dnsbl(), msg));
	check_zone_text(msg);
	dns_message_free(msg);
	return 0;
}
