/* net/dnsbl.c - DNS blacklists (DNSBL), and the reverse-DNS guess.
 *
 * RFC 5782: 2.1 (IPv4 entries under reversed octets, A and TXT), 2.3 (the
 * 127.0.0.0/8 codes), 2.4 (IPv6 nibbles), 5 (test entries).  The dynamic
 * name guess follows what mail servers check when they refuse "generic"
 * reverse DNS: the address spelled out in the name, or ISP words like dsl.
 */
#include "net/dnsbl.h"

#include <arpa/inet.h>
#include <string.h>

/* Digits of 255.255.255.255 in its longest spelling, plus separators. */
#define DNSBL_FORM_SIZE 20

G_DEFINE_QUARK(dnsbl-error-quark, dnsbl_error)

const char *dnsbl_error_to_string(DnsblError e)
{
	switch (e) {
	case DNSBL_ERROR_BAD_ADDRESS: return "BAD_ADDRESS";
	case DNSBL_ERROR_BAD_CODE:    return "BAD_CODE";
	case DNSBL_ERROR_BAD_ZONE:    return "BAD_ZONE";
	case DNSBL_ERROR_LIMIT:       return "LIMIT";
	}
	return "UNKNOWN";
}

const char *dnsbl_family_to_string(DnsblFamily f)
{
	switch (f) {
	case DNSBL_FAMILY_IPV4: return "IPV4";
	case DNSBL_FAMILY_IPV6: return "IPV6";
	}
	return "UNKNOWN";
}

const char *dnsbl_dynamic_rule_to_string(DnsblDynamicRule r)
{
	switch (r) {
	case DNSBL_DYNAMIC_NONE:     return "NONE";
	case DNSBL_DYNAMIC_ADDRESS:  return "ADDRESS";
	case DNSBL_DYNAMIC_REVERSED: return "REVERSED";
	case DNSBL_DYNAMIC_HEX:      return "HEX";
	case DNSBL_DYNAMIC_KEYWORD:  return "KEYWORD";
	}
	return "UNKNOWN";
}

struct Dnsbl {
	char       *zone;       /* canonical */
	GPtrArray  *entries;    /* DnsblEntry*, owned */
	DnsblEntry *test4;      /* RFC 5782 5: always listed */
	DnsblEntry *test6;
};

static void entry_free(DnsblEntry *e)
{
	if (e == NULL)
		return;
	g_free(e->reason);
	g_free(e->text);
	g_free(e);
}

static guint family_bits(DnsblFamily f)
{
	return f == DNSBL_FAMILY_IPV4 ? 32 : 128;
}

/* "192.0.2.7" or "2001:db8::1" into family and octets. */
static gboolean parse_address(const char *text, DnsblFamily *family_r, guint8 addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family_r = DNSBL_FAMILY_IPV4;
		return TRUE;
	}
	if (inet_pton(AF_INET6, text, addr) == 1) {
		*family_r = DNSBL_FAMILY_IPV6;
		return TRUE;
	}
	return FALSE;
}

static char *address_to_text(DnsblFamily family, const guint8 addr[16])
{
	char buf[INET6_ADDRSTRLEN];
	return g_strdup(inet_ntop(family == DNSBL_FAMILY_IPV4 ? AF_INET : AF_INET6, addr, buf, sizeof buf));
}

/* TRUE when the first plen bits of a and b agree. */
static gboolean prefix_equal(const guint8 *a, const guint8 *b, guint plen)
{
	guint whole = plen / 8, rest = plen % 8;
	if (memcmp(a, b, whole) != 0)
		return FALSE;
	if (rest == 0)
		return TRUE;
	guint8 mask = (guint8)(0xFF << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* "192.0.2.0/24" (or a single address) into an entry's network. */
static gboolean parse_network(const char *text, DnsblEntry *e, GError **error)
{
	const char *slash = strchr(text, '/');
	g_autofree char *host = slash ? g_strndup(text, (gsize)(slash - text)) : g_strdup(text);
	if (!parse_address(host, &e->family, e->addr)) {
		g_set_error(error, DNSBL_ERROR, DNSBL_ERROR_BAD_ADDRESS,
		            "\"%s\" is not an IPv4 or IPv6 address", host);
		return FALSE;
	}
	guint bits = family_bits(e->family);
	e->prefix_len = bits;
	if (slash) {
		guint64 plen;
		if (!g_ascii_string_to_unsigned(slash + 1, 10, 0, bits, &plen, NULL) || !g_ascii_isdigit(slash[1])) {
			g_set_error(error, DNSBL_ERROR, DNSBL_ERROR_BAD_ADDRESS,
			            "\"%s\": the prefix length after / must be 0 to %u", text, bits);
			return FALSE;
		}
		e->prefix_len = (guint)plen;
	}
	guint8 network[16] = { 0 };
	memcpy(network, e->addr, (e->prefix_len + 7) / 8);
	if (e->prefix_len % 8)
		network[e->prefix_len / 8] &= (guint8)(0xFF << (8 - e->prefix_len % 8));
	if (memcmp(network, e->addr, 16) != 0) {
		g_autofree char *net = address_to_text(e->family, network);
		g_set_error(error, DNSBL_ERROR, DNSBL_ERROR_BAD_ADDRESS,
		            "\"%s\" has bits set after the first %u; the network is %s/%u",
		            text, e->prefix_len, net, e->prefix_len);
		return FALSE;
	}
	return TRUE;
}

static DnsblEntry *test_entry(const char *address)
{
	DnsblEntry *e = g_new0(DnsblEntry, 1);
	parse_network(address, e, NULL);
	inet_pton(AF_INET, DNSBL_CODE_LISTED, e->code);
	e->reason = g_strdup("RFC 5782 test entry: listed so clients can check the list works");
	e->text = g_strdup(address);
	return e;
}

Dnsbl *dnsbl_new(const char *zone, GError **error)
{
	g_autoptr(GError) local = NULL;
	char *canon = dns_name_canonical(zone, &local);
	if (canon == NULL) {
		g_set_error(error, DNSBL_ERROR, DNSBL_ERROR_BAD_ZONE, "%s", local->message);
		return NULL;
	}
	Dnsbl *list = g_new0(Dnsbl, 1);
	list->zone = canon;
	list->entries = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
	list->test4 = test_entry("127.0.0.2");
	list->test6 = test_entry("::ffff:127.0.0.2");
	return list;
}

void dnsbl_free(Dnsbl *list)
{
	if (list == NULL)
		return;
	g_clear_pointer(&list->entries, g_ptr_array_unref);
	entry_free(list->test4);
	entry_free(list->test6);
	g_free(list->zone);
	g_free(list);
}

const char *dnsbl_zone(const Dnsbl *list)
{
	return list->zone;
}

const GPtrArray *dnsbl_entries(const Dnsbl *list)
{
	return list->entries;
}

static DnsblEntry *find_exact(const Dnsbl *list, const DnsblEntry *net)
{
	for (guint i = 0; i < list->entries->len; i++) {
		DnsblEntry *e = list->entries->pdata[i];
		if (e->family == net->family && e->prefix_len == net->prefix_len &&
		    memcmp(e->addr, net->addr, 16) == 0)
			return e;
	}
	return NULL;
}

gboolean dnsbl_add(Dnsbl *list, const char *address, const char *code,
                   const char *reason, GError **error)
{
	g_return_val_if_fail(list != NULL && address != NULL, FALSE);
	DnsblEntry net = { .prefix_len = 0 };
	guint8 code_octets[4];
	if (!parse_network(address, &net, error))
		return FALSE;
	if (code == NULL)
		code = DNSBL_CODE_LISTED;
	/* RFC 5782 2.3: answers are in 127.0.0.0/8, which no host sends from */
	if (inet_pton(AF_INET, code, code_octets) != 1 || code_octets[0] != 127) {
		g_set_error(error, DNSBL_ERROR, DNSBL_ERROR_BAD_CODE,
		            "the return code \"%s\" must be an address in 127.0.0.0/8, like 127.0.0.2", code);
		return FALSE;
	}
	if (reason && strlen(reason) > DNSBL_MAX_REASON) {
		g_set_error(error, DNSBL_ERROR, DNSBL_ERROR_LIMIT,
		            "the reason is %" G_GSIZE_FORMAT " characters; the limit is %d",
		            strlen(reason), DNSBL_MAX_REASON);
		return FALSE;
	}
	DnsblEntry *e = find_exact(list, &net);
	if (e == NULL) {
		if (list->entries->len >= DNSBL_MAX_ENTRIES) {
			g_set_error(error, DNSBL_ERROR, DNSBL_ERROR_LIMIT,
			            "the list %s is full (%d entries)", list->zone, DNSBL_MAX_ENTRIES);
			return FALSE;
		}
		e = g_new0(DnsblEntry, 1);
		*e = net;
		e->text = g_strdup(address);
		g_ptr_array_add(list->entries, e);
	}
	memcpy(e->code, code_octets, 4);
	g_free(e->reason);
	e->reason = reason ? g_strdup(reason) : g_strdup_printf("listed in %s", list->zone);
	return TRUE;
}

gboolean dnsbl_remove(Dnsbl *list, const char *address)
{
	DnsblEntry net = { .prefix_len = 0 };
	if (!parse_network(address, &net, NULL))
		return FALSE;
	DnsblEntry *e = find_exact(list, &net);
	return e != NULL && g_ptr_array_remove(list->entries, e);
}

const DnsblEntry *dnsbl_lookup(const Dnsbl *list, const char *address)
{
	static const guint8 never4[4] = { 127, 0, 0, 1 };
	static const guint8 never6[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
	DnsblFamily family;
	guint8 addr[16];
	if (address == NULL || !parse_address(address, &family, addr))
		return NULL;
	/* RFC 5782 5: 127.0.0.2 is always listed, 127.0.0.1 never */
	if (family == DNSBL_FAMILY_IPV4 && memcmp(addr, never4, 4) == 0)
		return NULL;
	if (family == DNSBL_FAMILY_IPV6 && memcmp(addr, never6, 16) == 0)
		return NULL;
	if (family == DNSBL_FAMILY_IPV4 && memcmp(addr, list->test4->addr, 4) == 0)
		return list->test4;
	if (family == DNSBL_FAMILY_IPV6 && memcmp(addr, list->test6->addr, 16) == 0)
		return list->test6;

	const DnsblEntry *best = NULL;
	for (guint i = 0; i < list->entries->len; i++) {
		const DnsblEntry *e = list->entries->pdata[i];
		if (e->family == family && prefix_equal(e->addr, addr, e->prefix_len) &&
		    (best == NULL || e->prefix_len > best->prefix_len))
			best = e;
	}
	return best;
}

char *dnsbl_query_name(const char *address, const char *zone, GError **error)
{
	DnsblFamily family;
	guint8 a[16];
	g_autoptr(GError) local = NULL;
	g_autofree char *canon = dns_name_canonical(zone, &local);
	if (canon == NULL) {
		g_set_error(error, DNSBL_ERROR, DNSBL_ERROR_BAD_ZONE, "%s", local->message);
		return NULL;
	}
	if (address == NULL || !parse_address(address, &family, a)) {
		g_set_error(error, DNSBL_ERROR, DNSBL_ERROR_BAD_ADDRESS,
		            "\"%s\" is not an IPv4 or IPv6 address", address ? address : "");
		return NULL;
	}
	const char *suffix = strcmp(canon, ".") == 0 ? "" : canon;
	GString *out = g_string_new(NULL);
	if (family == DNSBL_FAMILY_IPV4) {
		/* RFC 5782 2.1: the octets in reverse order, then the zone */
		g_string_append_printf(out, "%u.%u.%u.%u.", a[3], a[2], a[1], a[0]);
	} else {
		/* RFC 5782 2.4: 32 nibbles, lowest first, as in ip6.arpa */
		for (int i = 15; i >= 0; i--)
			g_string_append_printf(out, "%x.%x.", a[i] & 0x0F, a[i] >> 4);
	}
	g_string_append(out, suffix);
	return g_string_free(out, FALSE);
}

/* A decimal octet as a DNSBL name writes it: no sign, no leading zero. */
static gboolean parse_octet_label(const char *s, guint8 *v_r)
{
	gsize len = strlen(s);
	guint v = 0;
	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]))
			return FALSE;
		v = v * 10 + (guint)(s[i] - '0');
	}
	if (v > 255)
		return FALSE;
	*v_r = (guint8)v;
	return TRUE;
}

char *dnsbl_address_from_query_name(const char *qname, const char *zone)
{
	g_autofree char *q = dns_name_canonical(qname, NULL);
	g_autofree char *z = dns_name_canonical(zone, NULL);
	if (q == NULL || z == NULL || strcmp(q, z) == 0 || !dns_name_is_subdomain(q, z))
		return NULL;
	/* the labels in front of the zone, without the dot before it */
	gsize prefix_len = strlen(q) - (strcmp(z, ".") == 0 ? 0 : strlen(z)) - 1;
	g_autofree char *prefix = g_strndup(q, prefix_len);
	g_auto(GStrv) labels = g_strsplit(prefix, ".", -1);
	guint n = g_strv_length(labels);
	guint8 a[16] = { 0 };

	if (n == 4) {
		for (guint i = 0; i < 4; i++)
			if (!parse_octet_label(labels[i], &a[3 - i]))
				return NULL;
		return address_to_text(DNSBL_FAMILY_IPV4, a);
	}
	if (n == 32) {
		for (guint i = 0; i < 32; i++) {
			if (strlen(labels[i]) != 1 || !g_ascii_isxdigit(labels[i][0]))
				return NULL;
			guint nibble = (guint)g_ascii_xdigit_value(labels[i][0]);
			/* label 0 is the low nibble of the last octet */
			a[15 - i / 2] |= (guint8)(i % 2 == 0 ? nibble : nibble << 4);
		}
		return address_to_text(DNSBL_FAMILY_IPV6, a);
	}
	return NULL;
}

static DnsRecord *list_soa(const Dnsbl *list)
{
	g_autofree char *rname = g_strconcat("hostmaster.", strcmp(list->zone, ".") == 0 ? "" : list->zone, NULL);
	if (!dns_name_is_valid(rname))
		g_free(rname), rname = g_strdup(list->zone);
	return dns_record_new_soa(list->zone, DNSBL_TTL, list->zone, rname, 1, 3600, 600, 86400, DNSBL_TTL);
}

DnsMessage *dnsbl_answer(const Dnsbl *list, const DnsMessage *query)
{
	g_return_val_if_fail(list != NULL && query != NULL, NULL);
	if (query->qr)
		return NULL;
	DnsMessage *resp = dns_message_new_response(query, DNS_RCODE_NOERROR);
	if (query->opcode != DNS_OPCODE_QUERY) {
		resp->rcode = DNS_RCODE_NOTIMP;     /* RFC 1035 4.1.1 */
		return resp;
	}
	if (query->questions->len != 1) {
		resp->rcode = DNS_RCODE_FORMERR;
		return resp;
	}
	const DnsQuestion *q = query->questions->pdata[0];
	if (q->type == DNS_TYPE_AXFR || q->type == DNS_TYPE_IXFR ||
	    (q->klass != DNS_CLASS_IN && q->klass != DNS_CLASS_ANY) ||
	    !dns_name_is_subdomain(q->name, list->zone)) {
		resp->rcode = DNS_RCODE_REFUSED;
		return resp;
	}
	if (dns_type_is_meta(q->type) && q->type != DNS_TYPE_ANY) {
		resp->rcode = DNS_RCODE_NOTIMP;
		return resp;
	}
	resp->aa = TRUE;

	gboolean any = q->type == DNS_TYPE_ANY;
	if (dns_name_equal(q->name, list->zone)) {
		if (any || q->type == DNS_TYPE_SOA)
			dns_message_add(resp, DNS_SECTION_ANSWER, list_soa(list));
	} else {
		g_autofree char *address = dnsbl_address_from_query_name(q->name, list->zone);
		const DnsblEntry *e = dnsbl_lookup(list, address);
		if (e == NULL) {
			resp->rcode = DNS_RCODE_NXDOMAIN;
		} else {
			/* RFC 5782 2.1: an A record says "listed", a TXT record why */
			if (any || q->type == DNS_TYPE_A)
				dns_message_add(resp, DNS_SECTION_ANSWER, dns_record_new_a(q->name, DNSBL_TTL, e->code));
			if (any || q->type == DNS_TYPE_TXT)
				dns_message_add(resp, DNS_SECTION_ANSWER, dns_record_new_txt(q->name, DNSBL_TTL, e->reason));
		}
	}
	if (resp->answers->len == 0) {
		/* RFC 2308 3: the SOA tells how long to remember "not listed" */
		DnsRecord *soa = list_soa(list);
		soa->ttl = MIN(soa->ttl, soa->rdata.soa.minimum);
		dns_message_add(resp, DNS_SECTION_AUTHORITY, soa);
	}
	return resp;
}

const char *dnsbl_code_describe(const guint8 code[4])
{
	/* the codes of Spamhaus ZEN, which most lists imitate */
	static const struct { guint8 lo, hi; const char *meaning; } meanings[] = {
		{ 2,  2,  "a direct spam source (SBL)" },
		{ 3,  3,  "a spam source found by how it sends (CSS)" },
		{ 4,  7,  "an exploited machine: a bot, an open proxy or infected host (XBL)" },
		{ 9,  9,  "a network taken over by spammers (DROP)" },
		{ 10, 10, "an address its ISP says should not send mail directly (PBL)" },
		{ 11, 11, "a dynamic or residential address that should not send mail directly (PBL)" },
	};
	if (code[0] != 127)
		return NULL;
	if (code[1] == 0 && code[2] == 0)
		for (gsize i = 0; i < G_N_ELEMENTS(meanings); i++)
			if (code[3] >= meanings[i].lo && code[3] <= meanings[i].hi)
				return meanings[i].meaning;
	return "listed, with a code this table does not know";
}

/* ---- the reverse-DNS guess -------------------------------------------------- */

/* Words ISPs put in the generic names of their customers' lines. */
static const struct {
	const char *word;
	gboolean    before_number;   /* counts only right before "-" or a digit */
} dynamic_words[] = {
	{ "dyn", FALSE },     { "dynamic", FALSE }, { "dynip", FALSE },
	{ "dsl", FALSE },     { "adsl", FALSE },    { "vdsl", FALSE },    { "xdsl", FALSE },
	{ "pool", FALSE },    { "dhcp", FALSE },    { "cable", FALSE },
	{ "dialup", FALSE },  { "dial", FALSE },    { "dialin", FALSE },
	{ "ppp", FALSE },     { "pppoe", FALSE },   { "residential", FALSE },
	{ "broadband", FALSE },{ "customer", FALSE },{ "cust", FALSE },
	{ "client", FALSE },  { "clients", FALSE }, { "ftth", FALSE },
	{ "host", TRUE },
};

/* Each way the address can be spelled in a name. */
typedef struct {
	DnsblDynamicRule rule;
	gboolean         reversed;
	const char      *sep;      /* between the octets */
	gboolean         padded;   /* 001 rather than 1 */
	gboolean         hex;
} AddressForm;

static const AddressForm address_forms[] = {
	{ DNSBL_DYNAMIC_ADDRESS,  FALSE, "-", FALSE, FALSE },
	{ DNSBL_DYNAMIC_ADDRESS,  FALSE, ".", FALSE, FALSE },
	{ DNSBL_DYNAMIC_ADDRESS,  FALSE, "_", FALSE, FALSE },
	{ DNSBL_DYNAMIC_ADDRESS,  FALSE, "-", TRUE,  FALSE },
	{ DNSBL_DYNAMIC_ADDRESS,  FALSE, ".", TRUE,  FALSE },
	{ DNSBL_DYNAMIC_ADDRESS,  FALSE, "",  TRUE,  FALSE },
	{ DNSBL_DYNAMIC_REVERSED, TRUE,  "-", FALSE, FALSE },
	{ DNSBL_DYNAMIC_REVERSED, TRUE,  ".", FALSE, FALSE },
	{ DNSBL_DYNAMIC_REVERSED, TRUE,  "_", FALSE, FALSE },
	{ DNSBL_DYNAMIC_REVERSED, TRUE,  "-", TRUE,  FALSE },
	{ DNSBL_DYNAMIC_REVERSED, TRUE,  ".", TRUE,  FALSE },
	{ DNSBL_DYNAMIC_REVERSED, TRUE,  "",  TRUE,  FALSE },
	{ DNSBL_DYNAMIC_HEX,      FALSE, "",  FALSE, TRUE  },
};

static void form_spell(const AddressForm *f, const guint8 a[4], char out[DNSBL_FORM_SIZE])
{
	if (f->hex) {
		g_snprintf(out, DNSBL_FORM_SIZE, "%02x%02x%02x%02x", a[0], a[1], a[2], a[3]);
		return;
	}
	const char *fmt = f->padded ? "%03u%s%03u%s%03u%s%03u" : "%u%s%u%s%u%s%u";
	if (f->reversed)
		g_snprintf(out, DNSBL_FORM_SIZE, fmt, a[3], f->sep, a[2], f->sep, a[1], f->sep, a[0]);
	else
		g_snprintf(out, DNSBL_FORM_SIZE, fmt, a[0], f->sep, a[1], f->sep, a[2], f->sep, a[3]);
}

/* needle in hay, not glued to more digits (or hex letters) on either side. */
static gboolean contains_bounded(const char *hay, const char *needle, gboolean hex)
{
	gsize n = strlen(needle);
	for (const char *at = strstr(hay, needle); at; at = strstr(at + 1, needle)) {
		char before = at > hay ? at[-1] : '\0';
		char after = at[n];
		gboolean glued = hex ? (g_ascii_isalnum(before) || g_ascii_isalnum(after))
		                     : (g_ascii_isdigit(before) || g_ascii_isdigit(after));
		if (!glued)
			return TRUE;
	}
	return FALSE;
}

static const char *address_form_why[] = {
	[DNSBL_DYNAMIC_ADDRESS]  = "the name spells out the address %s as \"%s\"",
	[DNSBL_DYNAMIC_REVERSED] = "the name spells out the address %s backwards, as \"%s\"",
	[DNSBL_DYNAMIC_HEX]      = "the name spells out the address %s in hexadecimal, as \"%s\"",
};

DnsblDynamicRule dnsbl_ptr_looks_dynamic(const char *ptr_name, const char *ipv4, char **why_r)
{
	if (why_r)
		*why_r = NULL;
	if (ptr_name == NULL || *ptr_name == '\0')
		return DNSBL_DYNAMIC_NONE;
	g_autofree char *name = g_ascii_strdown(ptr_name, (gssize)strnlen(ptr_name, DNS_WIRE_MAX_NAME_TEXT));

	guint8 a[4];
	if (ipv4 && inet_pton(AF_INET, ipv4, a) == 1) {
		for (gsize i = 0; i < G_N_ELEMENTS(address_forms); i++) {
			const AddressForm *f = &address_forms[i];
			char spelled[DNSBL_FORM_SIZE];
			form_spell(f, a, spelled);
			if (contains_bounded(name, spelled, f->hex)) {
				if (why_r)
					*why_r = g_strdup_printf(address_form_why[f->rule], ipv4, spelled);
				return f->rule;
			}
		}
	}

	/* the last two labels name the ISP ("isp.net"), not the customer */
	g_auto(GStrv) labels = g_strsplit(name, ".", -1);
	guint n = g_strv_length(labels);
	while (n > 0 && labels[n - 1][0] == '\0')
		n--;                 /* the trailing dot */
	for (guint l = 0; l + 2 < n; l++) {
		const char *s = labels[l];
		while (*s) {
			if (!g_ascii_isalpha(*s)) {
				s++;
				continue;
			}
			const char *start = s;
			while (g_ascii_isalpha(*s))
				s++;
			gsize len = (gsize)(s - start);
			for (gsize w = 0; w < G_N_ELEMENTS(dynamic_words); w++) {
				if (strlen(dynamic_words[w].word) != len || strncmp(start, dynamic_words[w].word, len) != 0)
					continue;
				if (dynamic_words[w].before_number && *s != '-' && !g_ascii_isdigit(*s))
					continue;
				if (why_r)
					*why_r = g_strdup_printf("the name contains \"%s\", a word ISPs use in the "
					                         "generic names of dynamic or residential lines",
					                         dynamic_words[w].word);
				return DNSBL_DYNAMIC_KEYWORD;
			}
		}
	}
	return DNSBL_DYNAMIC_NONE;
}
