/* net/dns_wire.c - DNS messages as bytes and as structs.
 *
 * RFC 1035 4.1 (message format), 4.1.4 (compression), 3.3 (standard RRs),
 * RFC 3596 (AAAA), RFC 2782 (SRV), RFC 3597 (unknown types), RFC 2181 8-9
 * (TTL, truncation).  The decoder checks every length against the packet
 * before it reads, so a hostile packet is an error, never an over-read.
 */
#include "net/dns_wire.h"

#include <arpa/inet.h>
#include <string.h>

/* A name at least 1 octet (root) plus type and class: RFC 1035 4.1.2. */
#define DNS_WIRE_MIN_QUESTION 5
/* Root name, type, class, TTL, RDLENGTH: RFC 1035 4.1.3. */
#define DNS_WIRE_MIN_RECORD   11
/* A compression pointer has 14 bits of offset: RFC 1035 4.1.4. */
#define DNS_WIRE_MAX_POINTER  0x3FFF
/* Jumps one name may take: a name has at most 127 labels, so a compressor
 * never needs more; the cap keeps hostile chains from costing time. */
#define DNS_WIRE_MAX_POINTER_HOPS 128
/* Answers shown by dns_message_to_line before "... (N more)". */
#define DNS_WIRE_LINE_ANSWERS 4
/* RFC 6891 6.2.5: sizes below 512 are treated as 512; above this we cap. */
#define DNS_WIRE_EDNS_MAX     4096

G_DEFINE_QUARK(dns-wire-error-quark, dns_wire_error)

const char *dns_wire_error_to_string(DnsWireError e)
{
	switch (e) {
	case DNS_WIRE_ERROR_TRUNCATED: return "TRUNCATED";
	case DNS_WIRE_ERROR_BAD_NAME:  return "BAD_NAME";
	case DNS_WIRE_ERROR_BAD_RDATA: return "BAD_RDATA";
	case DNS_WIRE_ERROR_BAD_COUNT: return "BAD_COUNT";
	case DNS_WIRE_ERROR_TOO_BIG:   return "TOO_BIG";
	case DNS_WIRE_ERROR_INVALID:   return "INVALID";
	}
	return "UNKNOWN";
}

/* ---- the numbers, as tables ------------------------------------------- */

typedef struct {
	guint16      type;
	const char  *name;
	DnsRdataKind kind;
	gboolean     meta;    /* questions and EDNS only, never in a zone */
} DnsTypeInfo;

static const DnsTypeInfo dns_types[] = {
	{ DNS_TYPE_A,     "A",     DNS_RDATA_A,    FALSE },  /* RFC 1035 3.4.1 */
	{ DNS_TYPE_NS,    "NS",    DNS_RDATA_NAME, FALSE },  /* RFC 1035 3.3.11 */
	{ DNS_TYPE_CNAME, "CNAME", DNS_RDATA_NAME, FALSE },  /* RFC 1035 3.3.1 */
	{ DNS_TYPE_SOA,   "SOA",   DNS_RDATA_SOA,  FALSE },  /* RFC 1035 3.3.13 */
	{ DNS_TYPE_PTR,   "PTR",   DNS_RDATA_NAME, FALSE },  /* RFC 1035 3.3.12 */
	{ DNS_TYPE_MX,    "MX",    DNS_RDATA_MX,   FALSE },  /* RFC 1035 3.3.9 */
	{ DNS_TYPE_TXT,   "TXT",   DNS_RDATA_TXT,  FALSE },  /* RFC 1035 3.3.14 */
	{ DNS_TYPE_AAAA,  "AAAA",  DNS_RDATA_AAAA, FALSE },  /* RFC 3596 2.2 */
	{ DNS_TYPE_SRV,   "SRV",   DNS_RDATA_SRV,  FALSE },  /* RFC 2782 */
	{ DNS_TYPE_OPT,   "OPT",   DNS_RDATA_RAW,  TRUE  },  /* RFC 6891 6.1 */
	{ DNS_TYPE_IXFR,  "IXFR",  DNS_RDATA_RAW,  TRUE  },
	{ DNS_TYPE_AXFR,  "AXFR",  DNS_RDATA_RAW,  TRUE  },
	{ DNS_TYPE_ANY,   "ANY",   DNS_RDATA_RAW,  TRUE  },
};

static const DnsTypeInfo *type_info(guint16 type)
{
	for (gsize i = 0; i < G_N_ELEMENTS(dns_types); i++)
		if (dns_types[i].type == type)
			return &dns_types[i];
	return NULL;
}

const char *dns_type_to_string(guint16 type)
{
	const DnsTypeInfo *info = type_info(type);
	return info ? info->name : "UNKNOWN";
}

char *dns_type_name(guint16 type)
{
	const DnsTypeInfo *info = type_info(type);
	/* RFC 3597 5: TYPEnnn names a type without a mnemonic */
	return info ? g_strdup(info->name) : g_strdup_printf("TYPE%u", type);
}

/* Digits only, at most 65535: for TYPEnnn and CLASSnnn. */
static gboolean parse_u16_digits(const char *s, guint16 *v_r)
{
	guint32 v = 0;
	if (*s == '\0' || strlen(s) > 5)
		return FALSE;
	for (; *s; s++) {
		if (!g_ascii_isdigit(*s))
			return FALSE;
		v = v * 10 + (guint32)(*s - '0');
	}
	if (v > G_MAXUINT16)
		return FALSE;
	*v_r = (guint16)v;
	return TRUE;
}

gboolean dns_type_from_string(const char *s, guint16 *type_r)
{
	g_return_val_if_fail(s != NULL && type_r != NULL, FALSE);
	for (gsize i = 0; i < G_N_ELEMENTS(dns_types); i++) {
		if (g_ascii_strcasecmp(s, dns_types[i].name) == 0) {
			*type_r = dns_types[i].type;
			return TRUE;
		}
	}
	if (g_ascii_strncasecmp(s, "TYPE", 4) == 0)
		return parse_u16_digits(s + 4, type_r);
	return FALSE;
}

gboolean dns_type_is_meta(guint16 type)
{
	const DnsTypeInfo *info = type_info(type);
	/* RFC 6895 3.1: 128-255 are meta-types and QTYPEs */
	return (info && info->meta) || (type >= 128 && type <= 255);
}

const char *dns_class_to_string(guint16 klass)
{
	switch (klass) {
	case DNS_CLASS_IN:  return "IN";
	case DNS_CLASS_CH:  return "CH";
	case DNS_CLASS_HS:  return "HS";
	case DNS_CLASS_ANY: return "ANY";
	}
	return "UNKNOWN";
}

/* "IN", or RFC 3597 5 "CLASS3" for a class without a known mnemonic. */
static void append_class(GString *out, guint16 klass)
{
	const char *s = dns_class_to_string(klass);
	if (strcmp(s, "UNKNOWN") != 0)
		g_string_append(out, s);
	else
		g_string_append_printf(out, "CLASS%u", klass);
}

static void append_type(GString *out, guint16 type)
{
	g_autofree char *s = dns_type_name(type);
	g_string_append(out, s);
}

const char *dns_opcode_to_string(DnsOpcode op)
{
	switch (op) {
	case DNS_OPCODE_QUERY:  return "QUERY";
	case DNS_OPCODE_IQUERY: return "IQUERY";
	case DNS_OPCODE_STATUS: return "STATUS";
	case DNS_OPCODE_NOTIFY: return "NOTIFY";
	case DNS_OPCODE_UPDATE: return "UPDATE";
	}
	return "UNKNOWN";
}

const char *dns_rcode_to_string(DnsRcode rcode)
{
	switch (rcode) {
	case DNS_RCODE_NOERROR:  return "NOERROR";
	case DNS_RCODE_FORMERR:  return "FORMERR";
	case DNS_RCODE_SERVFAIL: return "SERVFAIL";
	case DNS_RCODE_NXDOMAIN: return "NXDOMAIN";
	case DNS_RCODE_NOTIMP:   return "NOTIMP";
	case DNS_RCODE_REFUSED:  return "REFUSED";
	}
	return "UNKNOWN";
}

const char *dns_section_to_string(DnsSection s)
{
	switch (s) {
	case DNS_SECTION_QUESTION:   return "QUESTION";
	case DNS_SECTION_ANSWER:     return "ANSWER";
	case DNS_SECTION_AUTHORITY:  return "AUTHORITY";
	case DNS_SECTION_ADDITIONAL: return "ADDITIONAL";
	}
	return "UNKNOWN";
}

const char *dns_rdata_kind_to_string(DnsRdataKind k)
{
	switch (k) {
	case DNS_RDATA_RAW:  return "RAW";
	case DNS_RDATA_A:    return "A";
	case DNS_RDATA_AAAA: return "AAAA";
	case DNS_RDATA_NAME: return "NAME";
	case DNS_RDATA_MX:   return "MX";
	case DNS_RDATA_TXT:  return "TXT";
	case DNS_RDATA_SRV:  return "SRV";
	case DNS_RDATA_SOA:  return "SOA";
	}
	return "UNKNOWN";
}

DnsRdataKind dns_rdata_kind_for(guint16 type, guint16 klass)
{
	const DnsTypeInfo *info = type_info(type);
	if (info == NULL)
		return DNS_RDATA_RAW;
	/* RFC 1035 3.4.1: the A format is defined for class IN only */
	if ((info->kind == DNS_RDATA_A || info->kind == DNS_RDATA_AAAA) && klass != DNS_CLASS_IN)
		return DNS_RDATA_RAW;
	return info->kind;
}

/* ---- names ---------------------------------------------------------------
 * Inside this file a name is handled in wire form: length-prefixed labels
 * ending in a zero octet, uncompressed, at most DNS_WIRE_MAX_NAME octets.
 */

typedef struct {
	guint8 octets[DNS_WIRE_MAX_NAME];
	gsize  len;
} DnsWireName;

static gboolean name_fail(GError **error, const char *text, const char *why)
{
	g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_NAME, "bad name \"%s\": %s", text, why);
	return FALSE;
}

/* Parses a name in text form (trailing dot optional) into wire form. */
static gboolean name_from_text(const char *text, DnsWireName *out, GError **error)
{
	if (text == NULL || *text == '\0')
		return name_fail(error, "", "empty");
	out->len = 0;
	if (strcmp(text, ".") == 0) {
		out->octets[out->len++] = 0;
		return TRUE;
	}
	const char *p = text;
	while (*p) {
		gsize len_at = out->len;
		guint label_len = 0;
		/* keep room for this length octet and the final zero */
		if (out->len >= DNS_WIRE_MAX_NAME - 1)
			return name_fail(error, text, "longer than 255 octets");
		out->len++;
		while (*p && *p != '.') {
			guint8 c;
			if (*p == '\\') {
				/* RFC 1035 5.1: \X is X itself, \DDD the octet DDD */
				if (g_ascii_isdigit(p[1])) {
					if (!g_ascii_isdigit(p[2]) || !g_ascii_isdigit(p[3]))
						return name_fail(error, text, "\\ and a digit must be followed by three digits (\\DDD)");
					guint v = (guint)(p[1] - '0') * 100 + (guint)(p[2] - '0') * 10 + (guint)(p[3] - '0');
					if (v > 255)
						return name_fail(error, text, "\\DDD is above 255");
					c = (guint8)v;
					p += 4;
				} else if (p[1] == '\0') {
					return name_fail(error, text, "ends with a lone backslash");
				} else {
					c = (guint8)p[1];
					p += 2;
				}
			} else {
				c = (guint8)*p++;
			}
			/* RFC 1035 2.3.4: labels are 63 octets or less */
			if (label_len == DNS_WIRE_MAX_LABEL)
				return name_fail(error, text, "a label is longer than 63 octets");
			/* RFC 1035 2.3.4: names are 255 octets or less */
			if (out->len >= DNS_WIRE_MAX_NAME - 1)
				return name_fail(error, text, "longer than 255 octets");
			out->octets[out->len++] = c;
			label_len++;
		}
		if (label_len == 0)
			return name_fail(error, text, "empty label (two dots in a row, or a leading dot)");
		out->octets[len_at] = (guint8)label_len;
		if (*p == '.')
			p++;
	}
	out->octets[out->len++] = 0;
	return TRUE;
}

/* One octet of a label in presentation form (RFC 1035 5.1 escapes). */
static void append_label_octet(GString *out, guint8 c)
{
	if (c <= 0x20 || c >= 0x7f)
		g_string_append_printf(out, "\\%03u", c);
	else if (strchr(".\\\"();@$", c))
		g_string_append_c(out, '\\'), g_string_append_c(out, (char)c);
	else
		g_string_append_c(out, (char)c);
}

static char *name_to_text(const DnsWireName *n, gboolean lowercase)
{
	GString *out = g_string_sized_new(n->len + 1);
	gsize i = 0;
	if (n->octets[0] == 0)
		return g_string_free(g_string_append_c(out, '.'), FALSE);
	while (n->octets[i] != 0) {
		guint8 len = n->octets[i];
		for (gsize j = 1; j <= len; j++) {
			guint8 c = n->octets[i + j];
			append_label_octet(out, lowercase ? (guint8)g_ascii_tolower(c) : c);
		}
		g_string_append_c(out, '.');
		i += 1 + len;
	}
	return g_string_free(out, FALSE);
}

/* RFC 4343: ASCII case does not matter; other octets compare exactly. */
static gboolean octets_equal_nocase(const guint8 *a, const guint8 *b, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if (g_ascii_tolower(a[i]) != g_ascii_tolower(b[i]))
			return FALSE;
	return TRUE;
}

char *dns_name_canonical(const char *name, GError **error)
{
	DnsWireName n;
	if (!name_from_text(name, &n, error))
		return NULL;
	return name_to_text(&n, TRUE);
}

gboolean dns_name_is_valid(const char *name)
{
	DnsWireName n;
	return name_from_text(name, &n, NULL);
}

gboolean dns_name_equal(const char *a, const char *b)
{
	DnsWireName na, nb;
	if (!name_from_text(a, &na, NULL) || !name_from_text(b, &nb, NULL))
		return FALSE;
	return na.len == nb.len && octets_equal_nocase(na.octets, nb.octets, na.len);
}

gboolean dns_name_is_subdomain(const char *name, const char *ancestor)
{
	DnsWireName n, a;
	if (!name_from_text(name, &n, NULL) || !name_from_text(ancestor, &a, NULL))
		return FALSE;
	/* try each label boundary of name as the start of ancestor */
	for (gsize i = 0;; i += (gsize)n.octets[i] + 1) {
		if (n.len - i == a.len && octets_equal_nocase(n.octets + i, a.octets, a.len))
			return TRUE;
		if (n.octets[i] == 0)
			return FALSE;
	}
}

const char *dns_name_parent(const char *name)
{
	g_return_val_if_fail(name != NULL, NULL);
	if (strcmp(name, ".") == 0 || *name == '\0')
		return NULL;
	const char *p = name;
	/* skip the first label; an escaped dot ("\.") does not end it */
	while (*p && *p != '.') {
		if (p[0] == '\\' && g_ascii_isdigit(p[1]) && g_ascii_isdigit(p[2]) && g_ascii_isdigit(p[3]))
			p += 4;
		else if (p[0] == '\\' && p[1] != '\0')
			p += 2;
		else
			p++;
	}
	if (*p == '.')
		p++;
	return *p ? p : ".";
}

guint dns_name_label_count(const char *name)
{
	DnsWireName n;
	guint count = 0;
	if (!name_from_text(name, &n, NULL))
		return 0;
	for (gsize i = 0; n.octets[i] != 0; i += (gsize)n.octets[i] + 1)
		count++;
	return count;
}

/* ---- records -------------------------------------------------------------- */

static DnsRecord *record_new(const char *name, guint16 type, guint16 klass, guint32 ttl)
{
	g_return_val_if_fail(name != NULL, NULL);
	DnsRecord *rec = g_new0(DnsRecord, 1);
	rec->name = g_strdup(name);
	rec->type = type;
	rec->klass = klass;
	rec->ttl = ttl;
	return rec;
}

DnsRecord *dns_record_new_a(const char *name, guint32 ttl, const guint8 addr[4])
{
	DnsRecord *rec = record_new(name, DNS_TYPE_A, DNS_CLASS_IN, ttl);
	memcpy(rec->rdata.a, addr, 4);
	return rec;
}

DnsRecord *dns_record_new_aaaa(const char *name, guint32 ttl, const guint8 addr[16])
{
	DnsRecord *rec = record_new(name, DNS_TYPE_AAAA, DNS_CLASS_IN, ttl);
	memcpy(rec->rdata.aaaa, addr, 16);
	return rec;
}

DnsRecord *dns_record_new_name(const char *name, guint16 type, guint32 ttl, const char *target)
{
	g_return_val_if_fail(dns_rdata_kind_for(type, DNS_CLASS_IN) == DNS_RDATA_NAME, NULL);
	g_return_val_if_fail(target != NULL, NULL);
	DnsRecord *rec = record_new(name, type, DNS_CLASS_IN, ttl);
	rec->rdata.name = g_strdup(target);
	return rec;
}

DnsRecord *dns_record_new_mx(const char *name, guint32 ttl, guint16 preference, const char *exchange)
{
	g_return_val_if_fail(exchange != NULL, NULL);
	DnsRecord *rec = record_new(name, DNS_TYPE_MX, DNS_CLASS_IN, ttl);
	rec->rdata.mx.preference = preference;
	rec->rdata.mx.exchange = g_strdup(exchange);
	return rec;
}

DnsRecord *dns_record_new_srv(const char *name, guint32 ttl, guint16 priority,
                              guint16 weight, guint16 port, const char *target)
{
	g_return_val_if_fail(target != NULL, NULL);
	DnsRecord *rec = record_new(name, DNS_TYPE_SRV, DNS_CLASS_IN, ttl);
	rec->rdata.srv.priority = priority;
	rec->rdata.srv.weight = weight;
	rec->rdata.srv.port = port;
	rec->rdata.srv.target = g_strdup(target);
	return rec;
}

DnsRecord *dns_record_new_txt(const char *name, guint32 ttl, const char *text)
{
	g_return_val_if_fail(text != NULL, NULL);
	DnsRecord *rec = record_new(name, DNS_TYPE_TXT, DNS_CLASS_IN, ttl);
	gsize len = strlen(text), at = 0;
	rec->rdata.txt = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	/* RFC 1035 3.3: a <character-string> holds at most 255 octets */
	do {
		gsize n = MIN(len - at, (gsize)DNS_WIRE_MAX_TXT_CHUNK);
		g_ptr_array_add(rec->rdata.txt, g_bytes_new(text + at, n));
		at += n;
	} while (at < len);
	return rec;
}

DnsRecord *dns_record_new_soa(const char *name, guint32 ttl, const char *mname,
                              const char *rname, guint32 serial, guint32 refresh,
                              guint32 retry, guint32 expire, guint32 minimum)
{
	g_return_val_if_fail(mname != NULL && rname != NULL, NULL);
	DnsRecord *rec = record_new(name, DNS_TYPE_SOA, DNS_CLASS_IN, ttl);
	rec->rdata.soa.mname = g_strdup(mname);
	rec->rdata.soa.rname = g_strdup(rname);
	rec->rdata.soa.serial = serial;
	rec->rdata.soa.refresh = refresh;
	rec->rdata.soa.retry = retry;
	rec->rdata.soa.expire = expire;
	rec->rdata.soa.minimum = minimum;
	return rec;
}

DnsRdataKind dns_record_rdata_kind(const DnsRecord *rec)
{
	return dns_rdata_kind_for(rec->type, rec->klass);
}

void dns_record_free(DnsRecord *rec)
{
	if (rec == NULL)
		return;
	switch (dns_record_rdata_kind(rec)) {
	case DNS_RDATA_A:
	case DNS_RDATA_AAAA:
		break;
	case DNS_RDATA_NAME:
		g_free(rec->rdata.name);
		break;
	case DNS_RDATA_MX:
		g_free(rec->rdata.mx.exchange);
		break;
	case DNS_RDATA_SRV:
		g_free(rec->rdata.srv.target);
		break;
	case DNS_RDATA_TXT:
		g_clear_pointer(&rec->rdata.txt, g_ptr_array_unref);
		break;
	case DNS_RDATA_SOA:
		g_free(rec->rdata.soa.mname);
		g_free(rec->rdata.soa.rname);
		break;
	case DNS_RDATA_RAW:
		g_clear_pointer(&rec->rdata.raw, g_bytes_unref);
		break;
	}
	g_free(rec->name);
	g_free(rec);
}

DnsRecord *dns_record_copy(const DnsRecord *rec)
{
	g_return_val_if_fail(rec != NULL, NULL);
	DnsRecord *copy = record_new(rec->name, rec->type, rec->klass, rec->ttl);
	copy->rdata = rec->rdata;    /* the numbers; pointers are replaced below */
	switch (dns_record_rdata_kind(rec)) {
	case DNS_RDATA_A:
	case DNS_RDATA_AAAA:
		break;
	case DNS_RDATA_NAME:
		copy->rdata.name = g_strdup(rec->rdata.name);
		break;
	case DNS_RDATA_MX:
		copy->rdata.mx.exchange = g_strdup(rec->rdata.mx.exchange);
		break;
	case DNS_RDATA_SRV:
		copy->rdata.srv.target = g_strdup(rec->rdata.srv.target);
		break;
	case DNS_RDATA_TXT:
		copy->rdata.txt = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		for (guint i = 0; rec->rdata.txt && i < rec->rdata.txt->len; i++)
			g_ptr_array_add(copy->rdata.txt, g_bytes_ref(rec->rdata.txt->pdata[i]));
		break;
	case DNS_RDATA_SOA:
		copy->rdata.soa.mname = g_strdup(rec->rdata.soa.mname);
		copy->rdata.soa.rname = g_strdup(rec->rdata.soa.rname);
		break;
	case DNS_RDATA_RAW:
		copy->rdata.raw = rec->rdata.raw ? g_bytes_ref(rec->rdata.raw) : NULL;
		break;
	}
	return copy;
}

/* Names in data compare like owner names.  Most equal names are equal
 * text already; only the rest (escapes, a missing dot) are parsed. */
static gboolean names_equal(const char *a, const char *b)
{
	return g_ascii_strcasecmp(a, b) == 0 || dns_name_equal(a, b);
}

gboolean dns_record_equal(const DnsRecord *a, const DnsRecord *b)
{
	if (a->type != b->type || a->klass != b->klass || !names_equal(a->name, b->name))
		return FALSE;
	switch (dns_record_rdata_kind(a)) {
	case DNS_RDATA_A:
		return memcmp(a->rdata.a, b->rdata.a, 4) == 0;
	case DNS_RDATA_AAAA:
		return memcmp(a->rdata.aaaa, b->rdata.aaaa, 16) == 0;
	case DNS_RDATA_NAME:
		return names_equal(a->rdata.name, b->rdata.name);
	case DNS_RDATA_MX:
		return a->rdata.mx.preference == b->rdata.mx.preference &&
		       names_equal(a->rdata.mx.exchange, b->rdata.mx.exchange);
	case DNS_RDATA_SRV:
		return a->rdata.srv.priority == b->rdata.srv.priority &&
		       a->rdata.srv.weight == b->rdata.srv.weight &&
		       a->rdata.srv.port == b->rdata.srv.port &&
		       names_equal(a->rdata.srv.target, b->rdata.srv.target);
	case DNS_RDATA_TXT: {
		guint na = a->rdata.txt ? a->rdata.txt->len : 0;
		guint nb = b->rdata.txt ? b->rdata.txt->len : 0;
		if (na != nb)
			return FALSE;
		for (guint i = 0; i < na; i++)
			if (!g_bytes_equal(a->rdata.txt->pdata[i], b->rdata.txt->pdata[i]))
				return FALSE;
		return TRUE;
	}
	case DNS_RDATA_SOA:
		return names_equal(a->rdata.soa.mname, b->rdata.soa.mname) &&
		       names_equal(a->rdata.soa.rname, b->rdata.soa.rname) &&
		       a->rdata.soa.serial == b->rdata.soa.serial &&
		       a->rdata.soa.refresh == b->rdata.soa.refresh &&
		       a->rdata.soa.retry == b->rdata.soa.retry &&
		       a->rdata.soa.expire == b->rdata.soa.expire &&
		       a->rdata.soa.minimum == b->rdata.soa.minimum;
	case DNS_RDATA_RAW: {
		gsize la = a->rdata.raw ? g_bytes_get_size(a->rdata.raw) : 0;
		gsize lb = b->rdata.raw ? g_bytes_get_size(b->rdata.raw) : 0;
		return la == lb && (la == 0 || g_bytes_equal(a->rdata.raw, b->rdata.raw));
	}
	}
	return FALSE;
}

char *dns_record_txt_join(const DnsRecord *rec)
{
	if (dns_record_rdata_kind(rec) != DNS_RDATA_TXT)
		return NULL;
	GString *out = g_string_new(NULL);
	for (guint i = 0; rec->rdata.txt && i < rec->rdata.txt->len; i++) {
		gsize n;
		const char *d = g_bytes_get_data(rec->rdata.txt->pdata[i], &n);
		g_string_append_len(out, d, (gssize)n);
	}
	return g_string_free(out, FALSE);
}

char *dns_record_address(const DnsRecord *rec)
{
	char buf[INET6_ADDRSTRLEN];
	switch (dns_record_rdata_kind(rec)) {
	case DNS_RDATA_A:
		return g_strdup(inet_ntop(AF_INET, rec->rdata.a, buf, sizeof buf));
	case DNS_RDATA_AAAA:
		return g_strdup(inet_ntop(AF_INET6, rec->rdata.aaaa, buf, sizeof buf));
	default:
		return NULL;
	}
}

/* RFC 1035 5.1: \" and \\ inside quotes; \DDD for bytes a terminal would
 * not show, so the text stays one printable line. */
void dns_wire_append_quoted(GString *out, const guint8 *d, gsize n)
{
	g_string_append_c(out, '"');
	for (gsize i = 0; i < n; i++) {
		if (d[i] < 0x20 || d[i] >= 0x7f)
			g_string_append_printf(out, "\\%03u", d[i]);
		else if (d[i] == '"' || d[i] == '\\')
			g_string_append_c(out, '\\'), g_string_append_c(out, (char)d[i]);
		else
			g_string_append_c(out, (char)d[i]);
	}
	g_string_append_c(out, '"');
}

static void append_rdata(GString *out, const DnsRecord *rec)
{
	char buf[INET6_ADDRSTRLEN];
	switch (dns_record_rdata_kind(rec)) {
	case DNS_RDATA_A:
		g_string_append(out, inet_ntop(AF_INET, rec->rdata.a, buf, sizeof buf));
		break;
	case DNS_RDATA_AAAA:
		g_string_append(out, inet_ntop(AF_INET6, rec->rdata.aaaa, buf, sizeof buf));
		break;
	case DNS_RDATA_NAME:
		g_string_append(out, rec->rdata.name);
		break;
	case DNS_RDATA_MX:
		g_string_append_printf(out, "%u %s", rec->rdata.mx.preference, rec->rdata.mx.exchange);
		break;
	case DNS_RDATA_SRV:
		g_string_append_printf(out, "%u %u %u %s", rec->rdata.srv.priority,
		                       rec->rdata.srv.weight, rec->rdata.srv.port, rec->rdata.srv.target);
		break;
	case DNS_RDATA_TXT:
		for (guint i = 0; rec->rdata.txt && i < rec->rdata.txt->len; i++) {
			if (i > 0)
				g_string_append_c(out, ' ');
			gsize n;
			const guint8 *d = g_bytes_get_data(rec->rdata.txt->pdata[i], &n);
			dns_wire_append_quoted(out, d, n);
		}
		break;
	case DNS_RDATA_SOA:
		g_string_append_printf(out, "%s %s %u %u %u %u %u",
		                       rec->rdata.soa.mname, rec->rdata.soa.rname,
		                       rec->rdata.soa.serial, rec->rdata.soa.refresh,
		                       rec->rdata.soa.retry, rec->rdata.soa.expire,
		                       rec->rdata.soa.minimum);
		break;
	case DNS_RDATA_RAW: {
		/* RFC 3597 5: \# length hex */
		gsize n = 0;
		const guint8 *d = rec->rdata.raw ? g_bytes_get_data(rec->rdata.raw, &n) : NULL;
		g_string_append_printf(out, "\\# %" G_GSIZE_FORMAT, n);
		if (n > 0)
			g_string_append_c(out, ' ');
		for (gsize i = 0; i < n; i++)
			g_string_append_printf(out, "%02x", d[i]);
		break;
	}
	}
}

char *dns_record_rdata_to_text(const DnsRecord *rec)
{
	GString *out = g_string_new(NULL);
	append_rdata(out, rec);
	return g_string_free(out, FALSE);
}

char *dns_record_to_text(const DnsRecord *rec)
{
	GString *out = g_string_new(NULL);
	g_string_append_printf(out, "%s %u ", rec->name, rec->ttl);
	append_class(out, rec->klass);
	g_string_append_c(out, ' ');
	append_type(out, rec->type);
	g_string_append_c(out, ' ');
	append_rdata(out, rec);
	return g_string_free(out, FALSE);
}

/* ---- messages ---------------------------------------------------------- */

DnsQuestion *dns_question_new(const char *name, guint16 type, guint16 klass)
{
	g_return_val_if_fail(name != NULL, NULL);
	DnsQuestion *q = g_new0(DnsQuestion, 1);
	q->name = g_strdup(name);
	q->type = type;
	q->klass = klass;
	return q;
}

void dns_question_free(DnsQuestion *q)
{
	if (q == NULL)
		return;
	g_free(q->name);
	g_free(q);
}

char *dns_question_to_text(const DnsQuestion *q)
{
	GString *out = g_string_new(q->name);
	g_string_append_c(out, ' ');
	append_class(out, q->klass);
	g_string_append_c(out, ' ');
	append_type(out, q->type);
	return g_string_free(out, FALSE);
}

DnsMessage *dns_message_new(void)
{
	DnsMessage *msg = g_new0(DnsMessage, 1);
	msg->questions = g_ptr_array_new_with_free_func((GDestroyNotify)dns_question_free);
	msg->answers = g_ptr_array_new_with_free_func((GDestroyNotify)dns_record_free);
	msg->authority = g_ptr_array_new_with_free_func((GDestroyNotify)dns_record_free);
	msg->additional = g_ptr_array_new_with_free_func((GDestroyNotify)dns_record_free);
	return msg;
}

void dns_message_free(DnsMessage *msg)
{
	if (msg == NULL)
		return;
	g_clear_pointer(&msg->questions, g_ptr_array_unref);
	g_clear_pointer(&msg->answers, g_ptr_array_unref);
	g_clear_pointer(&msg->authority, g_ptr_array_unref);
	g_clear_pointer(&msg->additional, g_ptr_array_unref);
	g_free(msg);
}

DnsMessage *dns_message_new_query(guint16 id, const char *name, guint16 type, GError **error)
{
	DnsWireName n;
	if (!name_from_text(name, &n, error))
		return NULL;
	DnsMessage *msg = dns_message_new();
	msg->id = id;
	msg->opcode = DNS_OPCODE_QUERY;
	msg->rd = TRUE;    /* RFC 1035 4.1.1: a stub asks the server to recurse */
	g_ptr_array_add(msg->questions, dns_question_new(name, type, DNS_CLASS_IN));
	return msg;
}

DnsMessage *dns_message_new_response(const DnsMessage *query, DnsRcode rcode)
{
	g_return_val_if_fail(query != NULL, NULL);
	DnsMessage *msg = dns_message_new();
	/* RFC 1035 4.1.1: ID, OPCODE and RD are copied into the response */
	msg->id = query->id;
	msg->qr = TRUE;
	msg->opcode = query->opcode;
	msg->rd = query->rd;
	msg->rcode = rcode;
	for (guint i = 0; i < query->questions->len; i++) {
		const DnsQuestion *q = query->questions->pdata[i];
		g_ptr_array_add(msg->questions, dns_question_new(q->name, q->type, q->klass));
	}
	return msg;
}

GPtrArray *dns_message_section(const DnsMessage *msg, DnsSection s)
{
	switch (s) {
	case DNS_SECTION_ANSWER:     return msg->answers;
	case DNS_SECTION_AUTHORITY:  return msg->authority;
	case DNS_SECTION_ADDITIONAL: return msg->additional;
	case DNS_SECTION_QUESTION:   break;
	}
	g_return_val_if_reached(NULL);
}

void dns_message_add(DnsMessage *msg, DnsSection s, DnsRecord *rec)
{
	GPtrArray *section = dns_message_section(msg, s);
	g_return_if_fail(section != NULL && rec != NULL);
	g_ptr_array_add(section, rec);
}

gsize dns_message_udp_limit(const DnsMessage *query)
{
	for (guint i = 0; i < query->additional->len; i++) {
		const DnsRecord *rec = query->additional->pdata[i];
		/* RFC 6891 6.1.2: the OPT CLASS field is the requestor's UDP payload size */
		if (rec->type == DNS_TYPE_OPT)
			return CLAMP((gsize)rec->klass, (gsize)DNS_WIRE_UDP_SIZE, (gsize)DNS_WIRE_EDNS_MAX);
	}
	return DNS_WIRE_UDP_SIZE;
}

static void append_flag(GString *out, gboolean on, const char *name)
{
	if (on)
		g_string_append_printf(out, " %s", name);
}

char *dns_message_to_text(const DnsMessage *msg)
{
	GString *out = g_string_new(NULL);
	g_string_append_printf(out, ";; ->>HEADER<<- opcode: %s, status: %s, id: %u\n",
	                       dns_opcode_to_string(msg->opcode), dns_rcode_to_string(msg->rcode), msg->id);
	g_string_append(out, ";; flags:");
	append_flag(out, msg->qr, "qr");
	append_flag(out, msg->aa, "aa");
	append_flag(out, msg->tc, "tc");
	append_flag(out, msg->rd, "rd");
	append_flag(out, msg->ra, "ra");
	g_string_append_printf(out, "; QUERY: %u, ANSWER: %u, AUTHORITY: %u, ADDITIONAL: %u\n",
	                       msg->questions->len, msg->answers->len,
	                       msg->authority->len, msg->additional->len);
	if (msg->questions->len > 0) {
		g_string_append(out, "\n;; QUESTION SECTION:\n");
		for (guint i = 0; i < msg->questions->len; i++) {
			g_autofree char *q = dns_question_to_text(msg->questions->pdata[i]);
			g_string_append_printf(out, ";%s\n", q);
		}
	}
	for (DnsSection s = DNS_SECTION_ANSWER; s <= DNS_SECTION_ADDITIONAL; s++) {
		GPtrArray *records = dns_message_section(msg, s);
		if (records->len == 0)
			continue;
		g_string_append_printf(out, "\n;; %s SECTION:\n", dns_section_to_string(s));
		for (guint i = 0; i < records->len; i++) {
			g_autofree char *r = dns_record_to_text(records->pdata[i]);
			g_string_append_printf(out, "%s\n", r);
		}
	}
	return g_string_free(out, FALSE);
}

char *dns_message_to_line(const DnsMessage *msg)
{
	GString *out = g_string_new(NULL);
	const DnsQuestion *q = msg->questions->len > 0 ? msg->questions->pdata[0] : NULL;
	if (q) {
		g_string_append_printf(out, "%s ", q->name);
		append_type(out, q->type);
	} else {
		g_string_append(out, "(no question)");
	}
	if (!msg->qr) {
		g_string_append(out, " ?");
		return g_string_free(out, FALSE);
	}
	g_string_append(out, " \u2192 ");
	if (msg->rcode != DNS_RCODE_NOERROR) {
		g_string_append(out, dns_rcode_to_string(msg->rcode));
	} else if (msg->answers->len == 0) {
		g_string_append(out, "no records (NODATA)");
	} else {
		for (guint i = 0; i < msg->answers->len && i < DNS_WIRE_LINE_ANSWERS; i++) {
			const DnsRecord *rec = msg->answers->pdata[i];
			if (i > 0)
				g_string_append(out, ", ");
			/* a CNAME on the way to the answer says so */
			if (q == NULL || rec->type != q->type) {
				append_type(out, rec->type);
				g_string_append_c(out, ' ');
			}
			append_rdata(out, rec);
		}
		if (msg->answers->len > DNS_WIRE_LINE_ANSWERS)
			g_string_append_printf(out, ", ... (%u more)", msg->answers->len - DNS_WIRE_LINE_ANSWERS);
	}
	if (msg->tc)
		g_string_append(out, " (truncated)");
	return g_string_free(out, FALSE);
}

/* ---- encoding --------------------------------------------------------------- */

typedef struct {
	GByteArray *buf;
	/* RFC 1035 4.1.4: lowercased wire suffix (GBytes) -> offset in buf of
	 * a prior occurrence a pointer can reach */
	GHashTable *suffixes;
} DnsWriter;

static void put_u8(DnsWriter *w, guint8 v)
{
	g_byte_array_append(w->buf, &v, 1);
}

static void put_u16(DnsWriter *w, guint16 v)
{
	guint8 b[2] = { (guint8)(v >> 8), (guint8)v };
	g_byte_array_append(w->buf, b, 2);
}

static void put_u32(DnsWriter *w, guint32 v)
{
	guint8 b[4] = { (guint8)(v >> 24), (guint8)(v >> 16), (guint8)(v >> 8), (guint8)v };
	g_byte_array_append(w->buf, b, 4);
}

static gboolean put_name(DnsWriter *w, const char *text, gboolean compress, GError **error)
{
	DnsWireName n;
	if (!name_from_text(text, &n, error))
		return FALSE;
	for (gsize i = 0; n.octets[i] != 0; i += (gsize)n.octets[i] + 1) {
		guint8 lower[DNS_WIRE_MAX_NAME];
		gsize rest = n.len - i;
		for (gsize j = 0; j < rest; j++)
			lower[j] = (guint8)g_ascii_tolower(n.octets[i + j]);
		g_autoptr(GBytes) key = g_bytes_new(lower, rest);
		gpointer offset;
		if (compress && g_hash_table_lookup_extended(w->suffixes, key, NULL, &offset)) {
			/* RFC 1035 4.1.4: two octets, top bits 11, then the offset */
			put_u16(w, (guint16)(0xC000 | GPOINTER_TO_SIZE(offset)));
			return TRUE;
		}
		if (w->buf->len <= DNS_WIRE_MAX_POINTER && !g_hash_table_contains(w->suffixes, key))
			g_hash_table_insert(w->suffixes, g_bytes_ref(key), GSIZE_TO_POINTER(w->buf->len));
		g_byte_array_append(w->buf, n.octets + i, n.octets[i] + 1u);
	}
	put_u8(w, 0);
	return TRUE;
}

static gboolean invalid(GError **error, const char *fmt, const char *what)
{
	g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_INVALID, fmt, what);
	return FALSE;
}

/* RFC 3597 4: only the RFC 1035 types may compress names in their data. */
static gboolean put_rdata(DnsWriter *w, const DnsRecord *rec, GError **error)
{
	switch (dns_record_rdata_kind(rec)) {
	case DNS_RDATA_A:
		g_byte_array_append(w->buf, rec->rdata.a, 4);
		return TRUE;
	case DNS_RDATA_AAAA:
		g_byte_array_append(w->buf, rec->rdata.aaaa, 16);
		return TRUE;
	case DNS_RDATA_NAME:
		return put_name(w, rec->rdata.name, TRUE, error);
	case DNS_RDATA_MX:
		put_u16(w, rec->rdata.mx.preference);
		return put_name(w, rec->rdata.mx.exchange, TRUE, error);
	case DNS_RDATA_SRV:
		put_u16(w, rec->rdata.srv.priority);
		put_u16(w, rec->rdata.srv.weight);
		put_u16(w, rec->rdata.srv.port);
		/* RFC 2782: the target is not compressed */
		return put_name(w, rec->rdata.srv.target, FALSE, error);
	case DNS_RDATA_TXT:
		if (rec->rdata.txt == NULL || rec->rdata.txt->len == 0)
			return invalid(error, "%s: a TXT record needs at least one string", rec->name);
		for (guint i = 0; i < rec->rdata.txt->len; i++) {
			gsize n;
			const guint8 *d = g_bytes_get_data(rec->rdata.txt->pdata[i], &n);
			if (n > DNS_WIRE_MAX_TXT_CHUNK)
				return invalid(error, "%s: a TXT string is longer than 255 octets", rec->name);
			put_u8(w, (guint8)n);
			g_byte_array_append(w->buf, d, (guint)n);
		}
		return TRUE;
	case DNS_RDATA_SOA:
		if (!put_name(w, rec->rdata.soa.mname, TRUE, error) ||
		    !put_name(w, rec->rdata.soa.rname, TRUE, error))
			return FALSE;
		put_u32(w, rec->rdata.soa.serial);
		put_u32(w, rec->rdata.soa.refresh);
		put_u32(w, rec->rdata.soa.retry);
		put_u32(w, rec->rdata.soa.expire);
		put_u32(w, rec->rdata.soa.minimum);
		return TRUE;
	case DNS_RDATA_RAW:
		if (rec->rdata.raw) {
			gsize n;
			const guint8 *d = g_bytes_get_data(rec->rdata.raw, &n);
			if (n > G_MAXUINT16)
				return invalid(error, "%s: the record data is longer than 65535 octets", rec->name);
			g_byte_array_append(w->buf, d, (guint)n);
		}
		return TRUE;
	}
	return FALSE;
}

/* RFC 1035 4.1.3: NAME TYPE CLASS TTL RDLENGTH RDATA */
static gboolean put_record(DnsWriter *w, const DnsRecord *rec, GError **error)
{
	if (!put_name(w, rec->name, TRUE, error))
		return FALSE;
	put_u16(w, rec->type);
	put_u16(w, rec->klass);
	put_u32(w, rec->ttl);
	gsize len_at = w->buf->len;
	put_u16(w, 0);
	if (!put_rdata(w, rec, error))
		return FALSE;
	gsize rdlength = w->buf->len - len_at - 2;
	if (rdlength > G_MAXUINT16)
		return invalid(error, "%s: the record data is longer than 65535 octets", rec->name);
	w->buf->data[len_at] = (guint8)(rdlength >> 8);
	w->buf->data[len_at + 1] = (guint8)rdlength;
	return TRUE;
}

static gboolean suffix_at_or_after(gpointer key, gpointer value, gpointer mark)
{
	return GPOINTER_TO_SIZE(value) >= GPOINTER_TO_SIZE(mark);
}

/* Forgets a record that did not fit, and the names it offered to later ones. */
static void writer_rollback(DnsWriter *w, gsize mark)
{
	g_byte_array_set_size(w->buf, (guint)mark);
	g_hash_table_foreach_remove(w->suffixes, suffix_at_or_after, GSIZE_TO_POINTER(mark));
}

GBytes *dns_wire_encode(const DnsMessage *msg, gsize max_size, GError **error)
{
	g_return_val_if_fail(msg != NULL, NULL);
	if (max_size == 0 || max_size > DNS_WIRE_MAX_MESSAGE)
		max_size = DNS_WIRE_MAX_MESSAGE;
	if (max_size < DNS_WIRE_HEADER_SIZE) {
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_TOO_BIG,
		            "a limit of %" G_GSIZE_FORMAT " octets cannot hold the 12-octet header", max_size);
		return NULL;
	}
	if ((guint)msg->opcode > 15 || (guint)msg->rcode > 15 || msg->z > 7) {
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_INVALID,
		            "opcode %u, rcode %u or Z %u does not fit its header field",
		            (guint)msg->opcode, (guint)msg->rcode, (guint)msg->z);
		return NULL;
	}
	if (msg->questions->len > G_MAXUINT16) {
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_INVALID, "more than 65535 questions");
		return NULL;
	}

	DnsWriter w = {
		.buf = g_byte_array_sized_new(DNS_WIRE_UDP_SIZE),
		.suffixes = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
		                                  (GDestroyNotify)g_bytes_unref, NULL),
	};
	guint16 counts[4] = { 0 };
	gboolean tc = msg->tc;
	gboolean ok = TRUE;

	g_byte_array_set_size(w.buf, DNS_WIRE_HEADER_SIZE);   /* filled in at the end */
	for (guint i = 0; ok && i < msg->questions->len; i++) {
		const DnsQuestion *q = msg->questions->pdata[i];
		/* RFC 1035 4.1.2: QNAME QTYPE QCLASS */
		ok = put_name(&w, q->name, TRUE, error);
		if (ok) {
			put_u16(&w, q->type);
			put_u16(&w, q->klass);
			counts[DNS_SECTION_QUESTION]++;
		}
	}
	if (ok && w.buf->len > max_size) {
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_TOO_BIG,
		            "the header and question need %u octets, over the limit of %" G_GSIZE_FORMAT,
		            w.buf->len, max_size);
		ok = FALSE;
	}

	gboolean full = FALSE;
	for (DnsSection s = DNS_SECTION_ANSWER; ok && !full && s <= DNS_SECTION_ADDITIONAL; s++) {
		GPtrArray *records = dns_message_section(msg, s);
		for (guint i = 0; ok && i < records->len; i++) {
			gsize mark = w.buf->len;
			ok = put_record(&w, records->pdata[i], error);
			if (ok && (w.buf->len > max_size || counts[s] == G_MAXUINT16)) {
				writer_rollback(&w, mark);
				/* RFC 2181 9: TC only when required data is missing, not
				 * for extra data in the additional section */
				if (s != DNS_SECTION_ADDITIONAL)
					tc = TRUE;
				full = TRUE;
				break;
			}
			if (ok)
				counts[s]++;
		}
	}
	g_hash_table_unref(w.suffixes);
	if (!ok) {
		g_byte_array_unref(w.buf);
		return NULL;
	}

	/* RFC 1035 4.1.1: ID, flags, then the four counts */
	guint8 *h = w.buf->data;
	h[0] = (guint8)(msg->id >> 8);
	h[1] = (guint8)msg->id;
	h[2] = (guint8)((msg->qr ? 0x80 : 0) | ((guint)msg->opcode << 3) |
	                (msg->aa ? 0x04 : 0) | (tc ? 0x02 : 0) | (msg->rd ? 0x01 : 0));
	h[3] = (guint8)((msg->ra ? 0x80 : 0) | (msg->z << 4) | (guint)msg->rcode);
	for (int s = 0; s < 4; s++) {
		h[4 + 2 * s] = (guint8)(counts[s] >> 8);
		h[5 + 2 * s] = (guint8)counts[s];
	}
	return g_byte_array_free_to_bytes(w.buf);
}

/* ---- decoding ------------------------------------------------------------- */

typedef struct {
	const guint8 *data;
	gsize         len;   /* the whole message: pointers may reach any of it */
	gsize         pos;
	gsize         end;   /* reads stop here: len, or the end of one RDATA */
	gboolean      in_rdata;  /* end is an RDATA's end, set by RDLENGTH */
} DnsReader;

/* Says why a read of what at r->pos would pass r->end. */
static gboolean reader_short(const DnsReader *r, const char *what, GError **error)
{
	if (r->in_rdata)
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_RDATA,
		            "RDLENGTH ends the record data at offset %" G_GSIZE_FORMAT " inside %s",
		            r->end, what);
	else
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_TRUNCATED,
		            "the packet ends at offset %" G_GSIZE_FORMAT " inside %s", r->len, what);
	return FALSE;
}

static gboolean get_u16(DnsReader *r, guint16 *v, const char *what, GError **error)
{
	if (r->end - r->pos < 2)
		return reader_short(r, what, error);
	*v = (guint16)((r->data[r->pos] << 8) | r->data[r->pos + 1]);
	r->pos += 2;
	return TRUE;
}

static gboolean get_u32(DnsReader *r, guint32 *v, const char *what, GError **error)
{
	if (r->end - r->pos < 4)
		return reader_short(r, what, error);
	*v = ((guint32)r->data[r->pos] << 24) | ((guint32)r->data[r->pos + 1] << 16) |
	     ((guint32)r->data[r->pos + 2] << 8) | (guint32)r->data[r->pos + 3];
	r->pos += 4;
	return TRUE;
}

static gboolean get_bytes(DnsReader *r, guint8 *out, gsize n, const char *what, GError **error)
{
	if (r->end - r->pos < n)
		return reader_short(r, what, error);
	memcpy(out, r->data + r->pos, n);
	r->pos += n;
	return TRUE;
}

/* The error for a name whose labels run past limit; after a pointer the
 * labels are elsewhere in the packet, no longer inside the RDATA. */
static char *name_short(const DnsReader *r, gsize limit, gboolean jumped, const char *what,
                        GError **error)
{
	DnsReader at = *r;
	at.end = limit;
	at.in_rdata = r->in_rdata && !jumped;
	reader_short(&at, what, error);
	return NULL;
}

/* Reads a possibly compressed name at r->pos and returns its text. */
static char *get_name(DnsReader *r, const char *what, GError **error)
{
	DnsWireName n = { .len = 0 };
	gsize pos = r->pos;
	gsize limit = r->end;          /* bytes read in place stay inside the RDATA */
	gsize chunk_start = r->pos;    /* where the labels being read began */
	gboolean jumped = FALSE;
	guint hops = 0;

	for (;;) {
		if (pos >= limit)
			return name_short(r, limit, jumped, what, error);
		guint8 b = r->data[pos];
		switch (b & 0xC0) {
		case 0x00:
			if (b == 0) {
				n.octets[n.len++] = 0;
				if (!jumped)
					r->pos = pos + 1;
				return name_to_text(&n, FALSE);
			}
			if (limit - pos - 1 < b)
				return name_short(r, limit, jumped, what, error);
			/* RFC 1035 2.3.4: with the final zero, at most 255 octets */
			if (n.len + 1 + b + 1 > DNS_WIRE_MAX_NAME) {
				g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_NAME,
				            "%s is longer than 255 octets", what);
				return NULL;
			}
			memcpy(n.octets + n.len, r->data + pos, 1u + b);
			n.len += 1u + b;
			pos += 1u + b;
			break;
		case 0xC0: {
			if (limit - pos < 2)
				return name_short(r, limit, jumped, what, error);
			gsize target = ((gsize)(b & 0x3F) << 8) | r->data[pos + 1];
			/* RFC 1035 4.1.4: a pointer refers to a prior occurrence.
			 * Requiring each jump to land before the labels that led to it
			 * makes every chain strictly backwards, so no loop can exist. */
			if (target >= chunk_start) {
				g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_NAME,
				            "%s: compression pointer at offset %" G_GSIZE_FORMAT
				            " points to offset %" G_GSIZE_FORMAT ", not before the name "
				            "(a pointer loop or forward pointer)", what, pos, target);
				return NULL;
			}
			if (++hops > DNS_WIRE_MAX_POINTER_HOPS) {
				g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_NAME,
				            "%s follows more than %d compression pointers", what,
				            DNS_WIRE_MAX_POINTER_HOPS);
				return NULL;
			}
			if (!jumped)
				r->pos = pos + 2;
			jumped = TRUE;
			chunk_start = target;
			pos = target;
			limit = r->len;
			break;
		}
		default:
			/* 0x40 and 0x80: extended label types, retired by RFC 6891 5 */
			g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_NAME,
			            "%s: label length octet 0x%02x at offset %" G_GSIZE_FORMAT
			            " (a label holds at most 63 octets)", what, b, pos);
			return NULL;
		}
	}
}

static gboolean get_rdata(DnsReader *r, DnsRecord *rec, GError **error)
{
	switch (dns_record_rdata_kind(rec)) {
	case DNS_RDATA_A:
		return get_bytes(r, rec->rdata.a, 4, "an A address", error);
	case DNS_RDATA_AAAA:
		return get_bytes(r, rec->rdata.aaaa, 16, "an AAAA address", error);
	case DNS_RDATA_NAME:
		return (rec->rdata.name = get_name(r, "the target name", error)) != NULL;
	case DNS_RDATA_MX:
		return get_u16(r, &rec->rdata.mx.preference, "the MX preference", error) &&
		       (rec->rdata.mx.exchange = get_name(r, "the MX exchange", error)) != NULL;
	case DNS_RDATA_SRV:
		return get_u16(r, &rec->rdata.srv.priority, "the SRV priority", error) &&
		       get_u16(r, &rec->rdata.srv.weight, "the SRV weight", error) &&
		       get_u16(r, &rec->rdata.srv.port, "the SRV port", error) &&
		       (rec->rdata.srv.target = get_name(r, "the SRV target", error)) != NULL;
	case DNS_RDATA_TXT:
		rec->rdata.txt = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		/* RFC 1035 3.3.14: one or more <character-string>s */
		if (r->pos == r->end) {
			g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_RDATA,
			            "a TXT record holds at least one string, this one none");
			return FALSE;
		}
		while (r->pos < r->end) {
			guint8 n = r->data[r->pos++];
			if (r->end - r->pos < n)
				return reader_short(r, "a TXT string", error);
			g_ptr_array_add(rec->rdata.txt, g_bytes_new(r->data + r->pos, n));
			r->pos += n;
		}
		return TRUE;
	case DNS_RDATA_SOA:
		return (rec->rdata.soa.mname = get_name(r, "the SOA MNAME", error)) != NULL &&
		       (rec->rdata.soa.rname = get_name(r, "the SOA RNAME", error)) != NULL &&
		       get_u32(r, &rec->rdata.soa.serial, "the SOA SERIAL", error) &&
		       get_u32(r, &rec->rdata.soa.refresh, "the SOA REFRESH", error) &&
		       get_u32(r, &rec->rdata.soa.retry, "the SOA RETRY", error) &&
		       get_u32(r, &rec->rdata.soa.expire, "the SOA EXPIRE", error) &&
		       get_u32(r, &rec->rdata.soa.minimum, "the SOA MINIMUM", error);
	case DNS_RDATA_RAW:
		rec->rdata.raw = g_bytes_new(r->data + r->pos, r->end - r->pos);
		r->pos = r->end;
		return TRUE;
	}
	return FALSE;
}

/* Reads the RDATA in r[pos, pos + rdlength) into rec, which has its type. */
static gboolean get_rdata_exact(DnsReader *r, DnsRecord *rec, guint16 rdlength, GError **error)
{
	if (r->end - r->pos < rdlength) {
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_TRUNCATED,
		            "RDLENGTH %u runs past the end of the packet (%" G_GSIZE_FORMAT
		            " octets left)", rdlength, r->end - r->pos);
		return FALSE;
	}
	gsize saved_end = r->end;
	gsize rdata_end = r->pos + rdlength;
	r->end = rdata_end;
	r->in_rdata = TRUE;
	gboolean ok = get_rdata(r, rec, error);
	r->in_rdata = FALSE;
	r->end = saved_end;
	if (ok && r->pos != rdata_end) {
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_RDATA,
		            "RDLENGTH is %u but the %s data ends after %" G_GSIZE_FORMAT " octets",
		            rdlength, dns_type_to_string(rec->type), r->pos - (rdata_end - rdlength));
		ok = FALSE;
	}
	r->pos = rdata_end;
	return ok;
}

static DnsRecord *get_record(DnsReader *r, GError **error)
{
	g_autofree char *name = get_name(r, "the owner name", error);
	guint16 type = 0, klass = 0, rdlength = 0;
	guint32 ttl;
	if (name == NULL ||
	    !get_u16(r, &type, "the record TYPE", error) ||
	    !get_u16(r, &klass, "the record CLASS", error) ||
	    !get_u32(r, &ttl, "the record TTL", error) ||
	    !get_u16(r, &rdlength, "the record RDLENGTH", error))
		return NULL;
	/* RFC 2181 8: a TTL with the top bit set is read as zero.  OPT keeps
	 * flags in that field (RFC 6891 6.1.3), so it is left alone. */
	if (type != DNS_TYPE_OPT && ttl > G_MAXINT32)
		ttl = 0;
	DnsRecord *rec = record_new(name, type, klass, ttl);
	if (!get_rdata_exact(r, rec, rdlength, error)) {
		dns_record_free(rec);
		return NULL;
	}
	return rec;
}

DnsRecord *dns_record_new_raw(const char *name, guint16 type, guint16 klass,
                              guint32 ttl, GBytes *rdata, GError **error)
{
	gsize n = 0;
	const guint8 *d = rdata ? g_bytes_get_data(rdata, &n) : NULL;
	static const guint8 empty[1];
	if (n > G_MAXUINT16) {
		invalid(error, "%s: the record data is longer than 65535 octets", name);
		return NULL;
	}
	DnsRecord *rec = record_new(name, type, klass, ttl);
	/* out of a message, a name in the data cannot use a pointer: there is
	 * nothing before it to point at */
	DnsReader r = { .data = d ? d : empty, .len = n, .pos = 0, .end = n };
	if (!get_rdata_exact(&r, rec, (guint16)n, error)) {
		dns_record_free(rec);
		return NULL;
	}
	return rec;
}

static const char *const section_what[] = {
	[DNS_SECTION_QUESTION]   = "question",
	[DNS_SECTION_ANSWER]     = "answer record",
	[DNS_SECTION_AUTHORITY]  = "authority record",
	[DNS_SECTION_ADDITIONAL] = "additional record",
};

DnsMessage *dns_wire_decode(const guint8 *data, gsize len, GError **error)
{
	g_return_val_if_fail(data != NULL || len == 0, NULL);
	if (len < DNS_WIRE_HEADER_SIZE) {
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_TRUNCATED,
		            "%" G_GSIZE_FORMAT " octets is shorter than the 12-octet header", len);
		return NULL;
	}
	if (len > DNS_WIRE_MAX_MESSAGE) {
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_COUNT,
		            "%" G_GSIZE_FORMAT " octets is longer than any DNS message (65535)", len);
		return NULL;
	}

	guint16 counts[4];
	for (int s = 0; s < 4; s++)
		counts[s] = (guint16)((data[4 + 2 * s] << 8) | data[5 + 2 * s]);
	/* every entry needs some minimum size: check the counts can be true
	 * before allocating anything for them */
	guint64 need = (guint64)counts[0] * DNS_WIRE_MIN_QUESTION +
	               ((guint64)counts[1] + counts[2] + counts[3]) * DNS_WIRE_MIN_RECORD;
	if (need > len - DNS_WIRE_HEADER_SIZE) {
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_COUNT,
		            "the header counts %u questions and %u+%u+%u records, which need at "
		            "least %" G_GUINT64_FORMAT " octets, but only %" G_GSIZE_FORMAT " follow",
		            counts[0], counts[1], counts[2], counts[3], need, len - DNS_WIRE_HEADER_SIZE);
		return NULL;
	}

	g_autoptr(DnsMessage) msg = dns_message_new();
	/* RFC 1035 4.1.1: the header */
	msg->id = (guint16)((data[0] << 8) | data[1]);
	msg->qr = (data[2] & 0x80) != 0;
	msg->opcode = (DnsOpcode)((data[2] >> 3) & 0x0F);
	msg->aa = (data[2] & 0x04) != 0;
	msg->tc = (data[2] & 0x02) != 0;
	msg->rd = (data[2] & 0x01) != 0;
	msg->ra = (data[3] & 0x80) != 0;
	msg->z = (guint8)((data[3] >> 4) & 0x07);
	msg->rcode = (DnsRcode)(data[3] & 0x0F);

	DnsReader r = { .data = data, .len = len, .pos = DNS_WIRE_HEADER_SIZE, .end = len };
	for (guint i = 0; i < counts[DNS_SECTION_QUESTION]; i++) {
		g_autofree char *name = get_name(&r, "QNAME", error);
		guint16 type = 0, klass = 0;
		if (name == NULL ||
		    !get_u16(&r, &type, "QTYPE", error) ||
		    !get_u16(&r, &klass, "QCLASS", error)) {
			g_prefix_error(error, "question %u: ", i + 1);
			return NULL;
		}
		g_ptr_array_add(msg->questions, dns_question_new(name, type, klass));
	}
	for (DnsSection s = DNS_SECTION_ANSWER; s <= DNS_SECTION_ADDITIONAL; s++) {
		GPtrArray *records = dns_message_section(msg, s);
		for (guint i = 0; i < counts[s]; i++) {
			DnsRecord *rec = get_record(&r, error);
			if (rec == NULL) {
				g_prefix_error(error, "%s %u: ", section_what[s], i + 1);
				return NULL;
			}
			g_ptr_array_add(records, rec);
		}
	}
	if (r.pos != len) {
		g_set_error(error, DNS_WIRE_ERROR, DNS_WIRE_ERROR_BAD_COUNT,
		            "%" G_GSIZE_FORMAT " octets follow the last entry the header counts",
		            len - r.pos);
		return NULL;
	}
	return g_steal_pointer(&msg);
}
