/* net/dns_zone.h - zones in master-file syntax, and how an authoritative
 * server answers from them.
 *
 * Parses RFC 1035 5.1 master files ($ORIGIN, $TTL from RFC 2308 4, @,
 * relative names, blank owners, parentheses, comments, quoted strings and
 * RFC 3597 5 "\#" data) and answers queries as RFC 1034 4.3.2 says:
 * closest zone, referrals, CNAME chains, NXDOMAIN vs NODATA with the SOA
 * for negative caching (RFC 2308 3).  Pure: no I/O, no clock, no globals.
 */
#pragma once

#include <glib.h>
#include "net/dns_wire.h"

/* ---- limits ------------------------------------------------------------ */

#define DNS_ZONE_MAX_LINE_LENGTH  4096        /* characters in one line of text */
#define DNS_ZONE_MAX_ENTRY_TOKENS 512         /* words in one entry, parentheses included */
#define DNS_ZONE_MAX_RECORDS      10000       /* records in one zone */
#define DNS_ZONE_MAX_ZONES        1000        /* zones in one set */
#define DNS_ZONE_MAX_CNAME_CHAIN  8           /* CNAMEs followed in one answer */
#define DNS_ZONE_MAX_ADDITIONAL   32          /* targets looked up for the additional section */
#define DNS_ZONE_MAX_TTL          2147483647u /* RFC 2181 8: 31 bits */
/* TTL of records when neither $TTL nor an earlier record gives one. */
#define DNS_ZONE_DEFAULT_TTL      3600
/* MINIMUM (negative-caching TTL) of the SOA made up for a zone without one. */
#define DNS_ZONE_NEGATIVE_TTL     300

/* ---- errors ------------------------------------------------------------ */

#define DNS_ZONE_ERROR (dns_zone_error_quark())
GQuark dns_zone_error_quark(void);

typedef enum {
	DNS_ZONE_ERROR_SYNTAX,       /* the text does not follow RFC 1035 5.1 */
	DNS_ZONE_ERROR_OUT_OF_ZONE,  /* an owner name outside the zone */
	DNS_ZONE_ERROR_CONFLICT,     /* CNAME beside other data; a second SOA; a zone twice */
	DNS_ZONE_ERROR_LIMIT,        /* a limit above was reached */
	DNS_ZONE_ERROR_UNSUPPORTED,  /* $INCLUDE, classes other than IN */
} DnsZoneError;

const char *dns_zone_error_to_string(DnsZoneError e);

/* ---- one zone -------------------------------------------------------------
 * A zone owns its records.  Names inside are canonical (lowercase, with the
 * trailing dot).  Not thread-safe: the caller serializes changes and
 * answers.
 */
typedef struct DnsZone DnsZone;

/* An empty zone for origin ("example.org" or "example.org.").  NULL and a
 * DNS_WIRE_ERROR if origin is not a valid name. */
DnsZone    *dns_zone_new(const char *origin, GError **error);

/* Parses a master file for the zone origin.  text may be indented as a
 * whole (as inside a scenario file): the first line holding an entry sets
 * the margin, and only a line indented further has a blank owner.
 * filename and first_line (the line of filename where text starts, from 1)
 * only label errors:  "course.scn:14:9: expected a preference number after
 * MX, got "mx"".  Returns a new zone, or NULL and a DNS_ZONE_ERROR. */
DnsZone    *dns_zone_parse(const char *origin, const char *text, const char *filename,
                           guint first_line, GError **error);

/* Parses one entry in zone syntax relative to the zone's origin
 * ("mail2 300 A 192.0.2.11") without adding it: for a scenario that adds
 * or removes a record while it runs.  Free the result with dns_record_free. */
DnsRecord  *dns_zone_parse_record(const DnsZone *zone, const char *text, const char *filename,
                                  guint line, GError **error);

void        dns_zone_free(DnsZone *zone);
const char *dns_zone_origin(const DnsZone *zone);
/* Every record in the order added; borrowed until the zone next changes. */
const GPtrArray *dns_zone_records(const DnsZone *zone);
/* Records at name (any case) of type (DNS_TYPE_ANY: all types), borrowed
 * until the zone next changes.  Free the array (not the records) with
 * g_ptr_array_unref; it is empty when there are none. */
GPtrArray  *dns_zone_lookup(const DnsZone *zone, const char *name, guint16 type);
/* The zone's SOA, or when it has none one made up from the origin (RFC 2142
 * hostmaster, MINIMUM DNS_ZONE_NEGATIVE_TTL).  New; free with dns_record_free. */
DnsRecord  *dns_zone_soa(const DnsZone *zone);

/* Adds a copy of rec.  Fails with OUT_OF_ZONE, CONFLICT (RFC 2181 10.1:
 * CNAME and other data), LIMIT, SYNTAX (bad name, class not IN, meta type).
 * Adding a record the zone already has is a success that changes nothing. */
gboolean    dns_zone_add_record(DnsZone *zone, const DnsRecord *rec, GError **error);
/* Removes the record equal to rec (dns_record_equal); FALSE if absent. */
gboolean    dns_zone_remove_record(DnsZone *zone, const DnsRecord *rec);
/* Removes every record at name of type (DNS_TYPE_ANY: all); returns how many. */
guint       dns_zone_remove_records(DnsZone *zone, const char *name, guint16 type);

/* The zone as a master file with absolute names; dns_zone_parse reads it
 * back to the same records.  Free with g_free. */
char       *dns_zone_to_text(const DnsZone *zone);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DnsZone, dns_zone_free)

/* ---- the zones of one server ------------------------------------------- */

typedef struct DnsZoneSet DnsZoneSet;

DnsZoneSet *dns_zone_set_new(void);
void        dns_zone_set_free(DnsZoneSet *set);
/* Adds zone; the set always takes it (and frees it on failure).  Fails
 * with CONFLICT when a zone with the same origin is there, LIMIT when full. */
gboolean    dns_zone_set_add(DnsZoneSet *set, DnsZone *zone, GError **error);
/* Removes and frees the zone for origin; FALSE if there was none. */
gboolean    dns_zone_set_remove(DnsZoneSet *set, const char *origin);
/* The zone whose origin is exactly origin, or NULL.  Borrowed. */
DnsZone    *dns_zone_set_get(const DnsZoneSet *set, const char *origin);
/* The closest enclosing zone of name (the longest origin it is under),
 * or NULL.  Borrowed. */
DnsZone    *dns_zone_set_find(const DnsZoneSet *set, const char *name);
guint       dns_zone_set_count(const DnsZoneSet *set);

/* The response an authoritative server gives to query:
 *   NOTIMP   for opcodes other than QUERY, and meta QTYPEs (OPT...) but ANY;
 *   FORMERR  unless there is exactly one question;
 *   REFUSED  for a class other than IN, zone transfers (AXFR, IXFR), and
 *            names under none of the zones (no recursion is offered);
 *   NXDOMAIN when the name does not exist (SOA in authority);
 *   NOERROR  with no answers when the name exists with other types (NODATA,
 *            SOA in authority) or the name is below a delegation (referral:
 *            NS in authority, AA clear);
 *   NOERROR  with the records, following CNAMEs through the set's zones up
 *            to DNS_ZONE_MAX_CNAME_CHAIN.
 * AA is set for answers from the set's own data; RA is never set.  A and
 * AAAA records of MX, SRV and NS targets the set holds go in additional.
 * Returns a new message, or NULL when query is itself a response (QR set):
 * a server never answers one (that is how two servers loop). */
DnsMessage *dns_zone_set_answer(const DnsZoneSet *set, const DnsMessage *query);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DnsZoneSet, dns_zone_set_free)
