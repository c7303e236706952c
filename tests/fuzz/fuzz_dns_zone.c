/* tests/fuzz/fuzz_dns_zone.c - libFuzzer target for the master-file parser.
 *
 * Parses arbitrary text as a zone and as one record line.  A zone that
 * parses must print as text that parses to the same records, and must
 * answer questions about its own names with messages that encode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/dns_zone.h"

static void ask(const DnsZoneSet *set, const char *name, guint16 type)
{
	DnsMessage *q = dns_message_new_query(1, name, type, NULL);
	if (q == NULL)
		return;
	DnsMessage *r = dns_zone_set_answer(set, q);
	if (r == NULL)
		abort();
	GBytes *wire = dns_wire_encode(r, 0, NULL);
	if (wire == NULL)
		abort();
	g_free(dns_message_to_text(r));
	g_bytes_unref(wire);
	dns_message_free(r);
	dns_message_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *)data, size);
	GError *error = NULL;

	DnsZone *scratch = dns_zone_new("example.org.", NULL);
	DnsRecord *one = dns_zone_parse_record(scratch, text, "fuzz.scn", 1, &error);
	if (one == NULL) {
		if (error == NULL || error->domain != DNS_ZONE_ERROR)
			abort();
		g_clear_error(&error);
	} else {
		dns_zone_add_record(scratch, one, NULL);
		dns_record_free(one);
	}
	dns_zone_free(scratch);

	DnsZone *zone = dns_zone_parse("example.org.", text, "fuzz.scn", 1, &error);
	g_free(text);
	if (zone == NULL) {
		if (error == NULL || error->domain != DNS_ZONE_ERROR)
			abort();
		g_error_free(error);
		return 0;
	}

	char *dump = dns_zone_to_text(zone);
	DnsZone *again = dns_zone_parse("example.org.", dump, "dump", 1, &error);
	if (again == NULL) {
		fprintf(stderr, "%s\n--- %s\n", dump, error->message);
		abort();
	}
	const GPtrArray *a = dns_zone_records(zone), *b = dns_zone_records(again);
	if (a->len != b->len)
		abort();
	for (guint i = 0; i < a->len; i++)
		if (!dns_record_equal(a->pdata[i], b->pdata[i]))
			abort();
	dns_zone_free(again);
	g_free(dump);

	/* questions about the zone's own names (copied: the set takes the zone) */
	GPtrArray *owners = g_ptr_array_new_with_free_func(g_free);
	GArray *types = g_array_new(FALSE, FALSE, sizeof(guint16));
	for (guint i = 0; i < a->len && i < 16; i++) {
		const DnsRecord *rec = a->pdata[i];
		g_ptr_array_add(owners, g_strdup(rec->name));
		g_array_append_val(types, rec->type);
	}
	DnsZoneSet *set = dns_zone_set_new();
	dns_zone_set_add(set, zone, NULL);
	for (guint i = 0; i < owners->len; i++) {
		ask(set, owners->pdata[i], g_array_index(types, guint16, i));
		ask(set, owners->pdata[i], DNS_TYPE_ANY);
	}
	g_ptr_array_unref(owners);
	g_array_unref(types);
	ask(set, "example.org.", DNS_TYPE_MX);
	ask(set, "nothing.example.org.", DNS_TYPE_A);
	dns_zone_set_free(set);
	return 0;
}
