/* net/dnsbl.h - DNS blacklists (DNSBL), and the reverse-DNS guess.
 *
 * A DNSBL is a DNS zone where a listed address has records under its
 * reversed form: 1.2.3.4 listed in rbl.example.net is an A record (127.0.0.2
 * or a code) and a TXT reason at 4.3.2.1.rbl.example.net (RFC 5782 2.1,
 * IPv6 nibbles in 2.4).  A Dnsbl holds single addresses and CIDR ranges and
 * answers queries for its zone.  Pure: no I/O, no clock, no globals.
 */
#pragma once

#include <glib.h>
#include "net/dns_wire.h"

#define DNSBL_MAX_ENTRIES  65536        /* entries in one list */
#define DNSBL_MAX_REASON   255          /* octets of a reason: one TXT string */
#define DNSBL_TTL          300          /* TTL of every answer, in seconds */
#define DNSBL_CODE_LISTED  "127.0.0.2"  /* RFC 5782 2.3: the usual "listed" */

#define DNSBL_ERROR (dnsbl_error_quark())
GQuark dnsbl_error_quark(void);

typedef enum {
	DNSBL_ERROR_BAD_ADDRESS,   /* not an address or CIDR range; host bits set */
	DNSBL_ERROR_BAD_CODE,      /* a return code outside 127.0.0.0/8 */
	DNSBL_ERROR_BAD_ZONE,      /* the list's zone is not a valid name */
	DNSBL_ERROR_LIMIT,         /* DNSBL_MAX_ENTRIES, or a reason too long */
} DnsblError;

const char *dnsbl_error_to_string(DnsblError e);

typedef enum {
	DNSBL_FAMILY_IPV4,
	DNSBL_FAMILY_IPV6,
} DnsblFamily;

const char *dnsbl_family_to_string(DnsblFamily f);

/* One listing: a network and what the list says about it. */
typedef struct {
	DnsblFamily family;
	guint8      addr[16];     /* network order; IPv4 uses the first 4 */
	guint       prefix_len;   /* 32 or 128 for a single address */
	guint8      code[4];      /* the A answer, in 127.0.0.0/8 */
	char       *reason;       /* the TXT answer */
	char       *text;         /* "192.0.2.0/24" or "192.0.2.7" */
} DnsblEntry;

typedef struct Dnsbl Dnsbl;

/* An empty list for zone ("rbl.example.net").  It always holds the RFC 5782
 * 5 test entries: 127.0.0.2 (and ::ffff:127.0.0.2) listed, 127.0.0.1 (and
 * ::ffff:127.0.0.1) never.  NULL and DNSBL_ERROR_BAD_ZONE if zone is bad. */
Dnsbl      *dnsbl_new(const char *zone, GError **error);
void        dnsbl_free(Dnsbl *list);
/* The zone, canonical ("rbl.example.net."). */
const char *dnsbl_zone(const Dnsbl *list);

/* Lists address: "192.0.2.7", "192.0.2.0/24", "2001:db8::/32".  code is the
 * A answer (NULL: DNSBL_CODE_LISTED), reason the TXT answer (NULL: "listed
 * in ZONE").  Listing the same network again replaces its code and reason.
 * FALSE and a DNSBL_ERROR for a bad address, a range with host bits set,
 * a code outside 127.0.0.0/8, a reason over DNSBL_MAX_REASON, a full list. */
gboolean    dnsbl_add(Dnsbl *list, const char *address, const char *code,
                      const char *reason, GError **error);
/* Unlists exactly that network; FALSE if it was not listed. */
gboolean    dnsbl_remove(Dnsbl *list, const char *address);
/* The entries in the order added (without the test entries); borrowed. */
const GPtrArray *dnsbl_entries(const Dnsbl *list);
/* The most specific entry covering address, or NULL when it is not listed
 * (or not an address).  Borrowed until the list next changes. */
const DnsblEntry *dnsbl_lookup(const Dnsbl *list, const char *address);

/* The name to ask about address under zone (RFC 5782 2.1, 2.4):
 * "4.3.2.1.rbl.example.net." for 1.2.3.4, 32 nibbles for IPv6.  NULL and a
 * DNSBL_ERROR for a bad address or zone.  Free with g_free. */
char       *dnsbl_query_name(const char *address, const char *zone, GError **error);
/* The reverse: the address a query name asks about, or NULL when qname is
 * not exactly a reversed address under zone.  Free with g_free. */
char       *dnsbl_address_from_query_name(const char *qname, const char *zone);

/* The response a DNSBL server gives to query: under the zone, A gives the
 * code and TXT the reason of a listed address, other types NODATA;
 * unlisted names NXDOMAIN; the zone's own name answers SOA.  FORMERR,
 * NOTIMP and REFUSED as dns_zone_set_answer (REFUSED outside the zone).
 * A new message, or NULL when query is itself a response. */
DnsMessage *dnsbl_answer(const Dnsbl *list, const DnsMessage *query);

/* What a return code means by the common (Spamhaus ZEN) convention, for a
 * student to read: "a direct spam source", ... NULL outside 127.0.0.0/8,
 * which RFC 5782 2.3 says a client must not take as "listed". */
const char *dnsbl_code_describe(const guint8 code[4]);

/* ---- the reverse-DNS guess ------------------------------------------------ */

/* Which rule made a PTR name look like a generic name given to a dynamic
 * or residential line, the kind of host that should not send mail itself. */
typedef enum {
	DNSBL_DYNAMIC_NONE,       /* nothing generic found */
	DNSBL_DYNAMIC_ADDRESS,    /* the address in the name: 1-2-3-4, 1.2.3.4, 001002003004 */
	DNSBL_DYNAMIC_REVERSED,   /* the address reversed: 4-3-2-1 */
	DNSBL_DYNAMIC_HEX,        /* the address in hex: 01020304 */
	DNSBL_DYNAMIC_KEYWORD,    /* a word like dyn, dsl, pool, dhcp, cable, ppp */
} DnsblDynamicRule;

const char *dnsbl_dynamic_rule_to_string(DnsblDynamicRule r);

/* Guesses whether ptr_name (the PTR of ipv4, which may be NULL) is a
 * generic name.  Keywords count only left of the last two labels, which
 * name the ISP itself.  Returns the rule that matched, and in *why_r (if
 * not NULL) a sentence a student reads; *why_r is NULL for NONE. */
DnsblDynamicRule dnsbl_ptr_looks_dynamic(const char *ptr_name, const char *ipv4, char **why_r);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Dnsbl, dnsbl_free)
