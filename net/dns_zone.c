/* net/dns_zone.c - zones in master-file syntax, and authoritative answers.
 *
 * The parser reads RFC 1035 5.1 master files (with RFC 2308 4 $TTL and
 * RFC 3597 5 generic data) a line at a time into tokens, then turns each
 * entry into a record with a table of the fields every type expects.  The
 * answer follows RFC 1034 4.3.2, RFC 2308 2-3 and RFC 1034 3.6.2.
 */
#include "net/dns_zone.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>

/* How much of a token an error message quotes. */
#define DNS_ZONE_SHOW_TOKEN 40
/* Hex digits per line when a long \# record is written out. */
#define DNS_ZONE_HEX_PER_LINE 2048

G_DEFINE_QUARK(dns-zone-error-quark, dns_zone_error)

const char *dns_zone_error_to_string(DnsZoneError e)
{
	switch (e) {
	case DNS_ZONE_ERROR_SYNTAX:      return "SYNTAX";
	case DNS_ZONE_ERROR_OUT_OF_ZONE: return "OUT_OF_ZONE";
	case DNS_ZONE_ERROR_CONFLICT:    return "CONFLICT";
	case DNS_ZONE_ERROR_LIMIT:       return "LIMIT";
	case DNS_ZONE_ERROR_UNSUPPORTED: return "UNSUPPORTED";
	}
	return "UNKNOWN";
}

struct DnsZone {
	char       *origin;    /* canonical */
	GPtrArray  *records;   /* DnsRecord*, owned, in the order added */
	GHashTable *nodes;     /* owner -> GPtrArray of its DnsRecord* (borrowed) */
	/* name -> how many records are at or below it, down from the origin:
	 * a name with a count exists even with no records of its own (an
	 * "empty non-terminal"), so it is NODATA, not NXDOMAIN (RFC 8020) */
	GHashTable *names;
};

struct DnsZoneSet {
	GHashTable *zones;     /* origin -> DnsZone*, owned */
};

/* ---- one zone ------------------------------------------------------------ */

DnsZone *dns_zone_new(const char *origin, GError **error)
{
	char *canon = dns_name_canonical(origin, error);
	if (canon == NULL)
		return NULL;
	DnsZone *zone = g_new0(DnsZone, 1);
	zone->origin = canon;
	zone->records = g_ptr_array_new_with_free_func((GDestroyNotify)dns_record_free);
	zone->nodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                    (GDestroyNotify)g_ptr_array_unref);
	zone->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return zone;
}

void dns_zone_free(DnsZone *zone)
{
	if (zone == NULL)
		return;
	g_clear_pointer(&zone->nodes, g_hash_table_unref);
	g_clear_pointer(&zone->names, g_hash_table_unref);
	g_clear_pointer(&zone->records, g_ptr_array_unref);
	g_free(zone->origin);
	g_free(zone);
}

const char *dns_zone_origin(const DnsZone *zone)
{
	return zone->origin;
}

const GPtrArray *dns_zone_records(const DnsZone *zone)
{
	return zone->records;
}

static gboolean node_has_type(const GPtrArray *node, guint16 type)
{
	for (guint i = 0; node && i < node->len; i++)
		if (((const DnsRecord *)node->pdata[i])->type == type)
			return TRUE;
	return FALSE;
}

/* Counts one record more (+1) or less (-1) at owner and every name above
 * it up to the origin. */
static void zone_count_names(DnsZone *zone, const char *owner, int delta)
{
	for (const char *n = owner; n != NULL; n = dns_name_parent(n)) {
		guint count = GPOINTER_TO_UINT(g_hash_table_lookup(zone->names, n));
		count = (guint)((int)count + delta);
		if (count == 0)
			g_hash_table_remove(zone->names, n);
		else
			g_hash_table_replace(zone->names, g_strdup(n), GUINT_TO_POINTER(count));
		if (strcmp(n, zone->origin) == 0)
			break;
	}
}

static gboolean canonicalize(char **name, GError **error)
{
	char *canon = dns_name_canonical(*name, error);
	if (canon == NULL)
		return FALSE;
	g_free(*name);
	*name = canon;
	return TRUE;
}

/* Rewrites every name in rec in canonical form. */
static gboolean record_canonicalize(DnsRecord *rec, GError **error)
{
	if (!canonicalize(&rec->name, error))
		return FALSE;
	switch (dns_record_rdata_kind(rec)) {
	case DNS_RDATA_NAME:
		return canonicalize(&rec->rdata.name, error);
	case DNS_RDATA_MX:
		return canonicalize(&rec->rdata.mx.exchange, error);
	case DNS_RDATA_SRV:
		return canonicalize(&rec->rdata.srv.target, error);
	case DNS_RDATA_SOA:
		return canonicalize(&rec->rdata.soa.mname, error) &&
		       canonicalize(&rec->rdata.soa.rname, error);
	default:
		return TRUE;
	}
}

/* Adds rec (canonical, owned: freed on failure) after the checks a zone
 * keeps true. */
static gboolean zone_insert(DnsZone *zone, DnsRecord *rec, GError **error)
{
	g_autoptr(DnsRecord) owned = rec;
	g_autofree char *type = dns_type_name(rec->type);

	if (!dns_name_is_subdomain(rec->name, zone->origin)) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_OUT_OF_ZONE,
		            "%s is outside the zone %s", rec->name, zone->origin);
		return FALSE;
	}
	if (rec->klass != DNS_CLASS_IN) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_UNSUPPORTED,
		            "%s: only class IN records are supported", rec->name);
		return FALSE;
	}
	if (rec->ttl > DNS_ZONE_MAX_TTL) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_SYNTAX,
		            "%s: the TTL %u is above 2147483647 seconds (RFC 2181 8)", rec->name, rec->ttl);
		return FALSE;
	}
	if (dns_type_is_meta(rec->type)) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_SYNTAX,
		            "%s is a meta type, for questions and EDNS only: a zone cannot hold it", type);
		return FALSE;
	}
	GPtrArray *node = g_hash_table_lookup(zone->nodes, rec->name);
	for (guint i = 0; node && i < node->len; i++) {
		/* RFC 2181 5: an RRset holds no duplicates */
		if (dns_record_equal(node->pdata[i], rec))
			return TRUE;
	}
	gboolean has_cname = node_has_type(node, DNS_TYPE_CNAME);
	gboolean has_other = node && node->len > (has_cname ? 1u : 0u);
	/* RFC 1034 3.6.2, RFC 2181 10.1: an alias has no other data */
	if (rec->type == DNS_TYPE_CNAME && (has_cname || has_other)) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_CONFLICT,
		            has_cname ? "%s already has a CNAME, and a name has at most one (RFC 1034 3.6.2)"
		                      : "%s already has other records, so it cannot be an alias (CNAME) too (RFC 1034 3.6.2)",
		            rec->name);
		return FALSE;
	}
	if (rec->type != DNS_TYPE_CNAME && has_cname) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_CONFLICT,
		            "%s is an alias (CNAME), so it cannot have a %s record too (RFC 1034 3.6.2)",
		            rec->name, type);
		return FALSE;
	}
	if (rec->type == DNS_TYPE_SOA && strcmp(rec->name, zone->origin) != 0) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_CONFLICT,
		            "the SOA record belongs at the top of the zone, %s, not at %s",
		            zone->origin, rec->name);
		return FALSE;
	}
	if (rec->type == DNS_TYPE_SOA && node_has_type(node, DNS_TYPE_SOA)) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_CONFLICT,
		            "the zone %s already has a SOA record; it has exactly one", zone->origin);
		return FALSE;
	}
	if (zone->records->len >= DNS_ZONE_MAX_RECORDS) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_LIMIT,
		            "the zone %s is full (%d records)", zone->origin, DNS_ZONE_MAX_RECORDS);
		return FALSE;
	}
	if (node == NULL) {
		node = g_ptr_array_new();
		g_hash_table_insert(zone->nodes, g_strdup(rec->name), node);
	}
	rec = g_steal_pointer(&owned);
	g_ptr_array_add(node, rec);
	g_ptr_array_add(zone->records, rec);
	zone_count_names(zone, rec->name, +1);
	return TRUE;
}

gboolean dns_zone_add_record(DnsZone *zone, const DnsRecord *rec, GError **error)
{
	g_return_val_if_fail(zone != NULL && rec != NULL, FALSE);
	DnsRecord *copy = dns_record_copy(rec);
	g_autoptr(GError) local = NULL;
	if (!record_canonicalize(copy, &local)) {
		dns_record_free(copy);
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_SYNTAX, "%s", local->message);
		return FALSE;
	}
	return zone_insert(zone, copy, error);
}

/* Removes one record the zone holds (by pointer) and frees it. */
static void zone_delete(DnsZone *zone, DnsRecord *rec)
{
	GPtrArray *node = g_hash_table_lookup(zone->nodes, rec->name);
	zone_count_names(zone, rec->name, -1);
	g_ptr_array_remove(node, rec);
	if (node->len == 0)
		g_hash_table_remove(zone->nodes, rec->name);
	g_ptr_array_remove(zone->records, rec);
}

/* The records at name, or NULL; name need not be canonical. */
static GPtrArray *zone_node(const DnsZone *zone, const char *name)
{
	g_autofree char *canon = dns_name_canonical(name, NULL);
	return canon ? g_hash_table_lookup(zone->nodes, canon) : NULL;
}

gboolean dns_zone_remove_record(DnsZone *zone, const DnsRecord *rec)
{
	GPtrArray *node = zone_node(zone, rec->name);
	for (guint i = 0; node && i < node->len; i++) {
		if (dns_record_equal(node->pdata[i], rec)) {
			zone_delete(zone, node->pdata[i]);
			return TRUE;
		}
	}
	return FALSE;
}

GPtrArray *dns_zone_lookup(const DnsZone *zone, const char *name, guint16 type)
{
	GPtrArray *found = g_ptr_array_new();
	GPtrArray *node = zone_node(zone, name);
	for (guint i = 0; node && i < node->len; i++) {
		DnsRecord *rec = node->pdata[i];
		if (type == DNS_TYPE_ANY || rec->type == type)
			g_ptr_array_add(found, rec);
	}
	return found;
}

guint dns_zone_remove_records(DnsZone *zone, const char *name, guint16 type)
{
	g_autoptr(GPtrArray) doomed = dns_zone_lookup(zone, name, type);
	for (guint i = 0; i < doomed->len; i++)
		zone_delete(zone, doomed->pdata[i]);
	return doomed->len;
}

DnsRecord *dns_zone_soa(const DnsZone *zone)
{
	GPtrArray *apex = g_hash_table_lookup(zone->nodes, zone->origin);
	const char *mname = zone->origin;
	for (guint i = 0; apex && i < apex->len; i++) {
		const DnsRecord *rec = apex->pdata[i];
		if (rec->type == DNS_TYPE_SOA)
			return dns_record_copy(rec);
		if (rec->type == DNS_TYPE_NS && mname == zone->origin)
			mname = rec->rdata.name;
	}
	/* RFC 2142 7: the zone's contact is hostmaster at the domain */
	g_autofree char *rname = g_strconcat("hostmaster.", strcmp(zone->origin, ".") == 0 ? "" : zone->origin, NULL);
	if (!dns_name_is_valid(rname))
		g_free(rname), rname = g_strdup(zone->origin);
	return dns_record_new_soa(zone->origin, DNS_ZONE_DEFAULT_TTL, mname, rname,
	                          1, 3600, 600, 86400, DNS_ZONE_NEGATIVE_TTL);
}

/* One record in master-file form; data too long for one line is spread
 * over several inside parentheses (RFC 1035 5.1). */
static void append_zone_record(GString *out, const DnsRecord *rec)
{
	g_autofree char *line = dns_record_to_text(rec);
	if (strlen(line) <= DNS_ZONE_MAX_LINE_LENGTH) {
		g_string_append_printf(out, "%s\n", line);
		return;
	}
	g_autofree char *type = dns_type_name(rec->type);
	g_string_append_printf(out, "%s %u IN %s (\n", rec->name, rec->ttl, type);
	if (dns_record_rdata_kind(rec) == DNS_RDATA_TXT) {
		for (guint i = 0; i < rec->rdata.txt->len; i++) {
			gsize n;
			const guint8 *d = g_bytes_get_data(rec->rdata.txt->pdata[i], &n);
			g_string_append_c(out, '\t');
			dns_wire_append_quoted(out, d, n);
			g_string_append_c(out, '\n');
		}
	} else {
		/* only RFC 3597 data gets this long otherwise */
		gsize n = 0;
		const guint8 *d = rec->rdata.raw ? g_bytes_get_data(rec->rdata.raw, &n) : NULL;
		g_string_append_printf(out, "\t\\# %" G_GSIZE_FORMAT, n);
		for (gsize i = 0; i < n; i++) {
			if (i % (DNS_ZONE_HEX_PER_LINE / 2) == 0)
				g_string_append(out, "\n\t");
			g_string_append_printf(out, "%02x", d[i]);
		}
		g_string_append_c(out, '\n');
	}
	g_string_append(out, ")\n");
}

char *dns_zone_to_text(const DnsZone *zone)
{
	GString *out = g_string_new(NULL);
	g_string_append_printf(out, "$ORIGIN %s\n", zone->origin);
	for (guint i = 0; i < zone->records->len; i++)
		append_zone_record(out, zone->records->pdata[i]);
	return g_string_free(out, FALSE);
}

/* ---- the master-file parser ---------------------------------------------- */

typedef struct {
	char    *text;     /* as written, escapes kept; without the quotes */
	gboolean quoted;
	guint    line;     /* line in the file */
	guint    col;      /* column of its first character, from 1 */
	gsize    width;    /* characters it spans, quotes included */
} ZoneToken;

static void zone_token_free(ZoneToken *t)
{
	g_free(t->text);
	g_free(t);
}

typedef struct {
	const char *filename;
	guint       first_line;
	DnsZone    *zone;         /* records go into this zone, or, when NULL, */
	DnsRecord  *single;       /* into this one place (dns_zone_parse_record) */
	const char *apex;
	char       *origin;       /* the current $ORIGIN, canonical */
	gboolean    have_ttl_directive;
	guint32     ttl_directive;
	gboolean    have_last_ttl;
	guint32     last_ttl;
	char       *owner;        /* the previous record's owner, for blank owners */
	/* the entry being gathered */
	GPtrArray  *tokens;       /* of ZoneToken* */
	gboolean    blank_owner;
	guint       paren_line;   /* where the open '(' is; 0 when none is open */
	guint       paren_col;
	gssize      margin;       /* indentation of lines with an owner; -1 before the first */
} ZoneParser;

static gboolean G_GNUC_PRINTF(6, 7)
zone_fail(const ZoneParser *p, GError **error, DnsZoneError code, guint line, guint col,
          const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (col > 0)
		g_set_error(error, DNS_ZONE_ERROR, code, "%s:%u:%u: %s", p->filename, line, col, msg);
	else
		g_set_error(error, DNS_ZONE_ERROR, code, "%s:%u: %s", p->filename, line, msg);
	return FALSE;
}

/* A token as an error message quotes it: shortened, control bytes escaped. */
static char *token_show(const ZoneToken *t)
{
	g_autofree char *cut = g_strndup(t->text, DNS_ZONE_SHOW_TOKEN);
	g_autofree char *esc = g_strescape(cut, NULL);
	const char *more = strlen(t->text) > DNS_ZONE_SHOW_TOKEN ? "..." : "";
	return t->quoted ? g_strdup_printf("the quoted string \"%s%s\"", esc, more)
	                 : g_strdup_printf("\"%s%s\"", esc, more);
}

/* "expected WHAT CONTEXT, got X" at token i, or at the end of the entry. */
static gboolean zone_expected(const ZoneParser *p, GError **error, guint i,
                              const char *what, const char *context)
{
	const char *sep = *context ? " " : "";
	if (i < p->tokens->len) {
		const ZoneToken *t = p->tokens->pdata[i];
		g_autofree char *shown = token_show(t);
		return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, t->line, t->col,
		                 "expected %s%s%s, got %s", what, sep, context, shown);
	}
	const ZoneToken *last = p->tokens->pdata[p->tokens->len - 1];
	return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, last->line, last->col + (guint)last->width,
	                 "expected %s%s%s, got the end of the line", what, sep, context);
}

/* RFC 1035 5.1: a name ending in an unescaped dot is absolute. */
static gboolean name_is_absolute(const char *s)
{
	gsize len = strlen(s), slashes = 0;
	if (len == 0 || s[len - 1] != '.')
		return FALSE;
	while (slashes + 1 < len && s[len - 2 - slashes] == '\\')
		slashes++;
	return slashes % 2 == 0;
}

/* A name field: "@" is the origin, a relative name gets the origin added. */
static char *zone_name(const ZoneParser *p, guint i, const char *what, const char *context,
                       GError **error)
{
	if (i >= p->tokens->len || ((ZoneToken *)p->tokens->pdata[i])->quoted) {
		zone_expected(p, error, i, what, context);
		return NULL;
	}
	const ZoneToken *t = p->tokens->pdata[i];
	g_autofree char *full = NULL;
	/* RFC 1035 5.1: a free-standing @ denotes the current origin */
	if (strcmp(t->text, "@") == 0)
		return g_strdup(p->origin);
	if (name_is_absolute(t->text))
		full = g_strdup(t->text);
	else if (strcmp(p->origin, ".") == 0)
		full = g_strconcat(t->text, ".", NULL);
	else
		full = g_strconcat(t->text, ".", p->origin, NULL);
	g_autoptr(GError) local = NULL;
	char *canon = dns_name_canonical(full, &local);
	if (canon == NULL)
		zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, t->line, t->col, "%s", local->message);
	return canon;
}

typedef enum { TTL_NOT_A_TTL, TTL_OK, TTL_TOO_BIG } TtlParse;

/* "3600", or BIND's "1h30m" with units s m h d w; at most max seconds. */
static TtlParse parse_time(const char *s, guint64 max, guint32 *ttl_r)
{
	static const struct { char unit; guint32 seconds; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
	};
	guint64 total = 0;
	if (!g_ascii_isdigit(*s))
		return TTL_NOT_A_TTL;
	while (*s) {
		guint64 n = 0, unit = 1;
		if (!g_ascii_isdigit(*s))
			return TTL_NOT_A_TTL;
		for (; g_ascii_isdigit(*s); s++) {
			n = n * 10 + (guint64)(*s - '0');
			if (n > max)
				return TTL_TOO_BIG;
		}
		if (*s) {
			gsize u = 0;
			while (u < G_N_ELEMENTS(units) && units[u].unit != g_ascii_tolower(*s))
				u++;
			if (u == G_N_ELEMENTS(units))
				return TTL_NOT_A_TTL;
			unit = units[u].seconds;
			s++;
		}
		total += n * unit;
		if (total > max)
			return TTL_TOO_BIG;
	}
	*ttl_r = (guint32)total;
	return TTL_OK;
}

/* RFC 2181 8: a TTL is an unsigned number below 2^31. */
static TtlParse parse_ttl(const char *s, guint32 *ttl_r)
{
	return parse_time(s, DNS_ZONE_MAX_TTL, ttl_r);
}

/* Digits only, no sign, at most max. */
static gboolean parse_number(const char *s, guint64 max, guint64 *v_r)
{
	guint64 v = 0;
	if (*s == '\0')
		return FALSE;
	for (; *s; s++) {
		if (!g_ascii_isdigit(*s))
			return FALSE;
		v = v * 10 + (guint64)(*s - '0');
		if (v > max)
			return FALSE;
	}
	*v_r = v;
	return TRUE;
}

typedef enum { CLASS_NONE, CLASS_IN, CLASS_OTHER } ZoneClass;

static ZoneClass parse_class(const char *s)
{
	static const char *const others[] = { "CH", "CS", "HS", "ANY", "NONE" };
	guint64 n;
	if (g_ascii_strcasecmp(s, "IN") == 0)
		return CLASS_IN;
	for (gsize i = 0; i < G_N_ELEMENTS(others); i++)
		if (g_ascii_strcasecmp(s, others[i]) == 0)
			return CLASS_OTHER;
	/* RFC 3597 5: CLASSnnn */
	if (g_ascii_strncasecmp(s, "CLASS", 5) == 0 && parse_number(s + 5, G_MAXUINT16, &n))
		return n == DNS_CLASS_IN ? CLASS_IN : CLASS_OTHER;
	return CLASS_NONE;
}

/* RFC 1035 5.1: \X is X, \DDD is the octet with decimal value DDD. */
static GBytes *unescape_string(const char *s, const char **why_r)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	while (*s) {
		guint8 c = (guint8)*s++;
		if (c == '\\') {
			if (g_ascii_isdigit(s[0])) {
				if (!g_ascii_isdigit(s[1]) || !g_ascii_isdigit(s[2])) {
					*why_r = "\\ and a digit must be followed by three digits (\\DDD)";
					return NULL;
				}
				guint v = (guint)(s[0] - '0') * 100 + (guint)(s[1] - '0') * 10 + (guint)(s[2] - '0');
				if (v > 255) {
					*why_r = "\\DDD is above 255";
					return NULL;
				}
				c = (guint8)v;
				s += 3;
			} else if (*s) {
				c = (guint8)*s++;
			} else {
				*why_r = "it ends with a lone backslash";
				return NULL;
			}
		}
		g_byte_array_append(out, &c, 1);
	}
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

/* ---- the data of each type, as a table ---------------------------------- */

typedef enum {
	FIELD_NAME,     /* a domain name, relative to $ORIGIN */
	FIELD_U16,
	FIELD_U32,
	FIELD_TIME,     /* seconds, or with units like a TTL */
	FIELD_IPV4,
	FIELD_IPV6,
	FIELD_STRINGS,  /* one or more <character-string>s to the end */
} ZoneFieldKind;

typedef struct {
	ZoneFieldKind kind;
	const char   *what;   /* for "expected WHAT after MX" */
} ZoneField;

#define DNS_ZONE_MAX_FIELDS 7

typedef struct {
	guint16   type;
	ZoneField fields[DNS_ZONE_MAX_FIELDS + 1];   /* ends at what == NULL */
} ZoneSyntax;

static const ZoneSyntax zone_syntax[] = {
	/* RFC 1035 3.4.1 */
	{ DNS_TYPE_A,     { { FIELD_IPV4, "an IPv4 address" } } },
	/* RFC 3596 2.2 */
	{ DNS_TYPE_AAAA,  { { FIELD_IPV6, "an IPv6 address" } } },
	/* RFC 1035 3.3.11, 3.3.1, 3.3.12 */
	{ DNS_TYPE_NS,    { { FIELD_NAME, "a name server host name" } } },
	{ DNS_TYPE_CNAME, { { FIELD_NAME, "the canonical name the alias points to" } } },
	{ DNS_TYPE_PTR,   { { FIELD_NAME, "a host name" } } },
	/* RFC 1035 3.3.9 */
	{ DNS_TYPE_MX,    { { FIELD_U16,  "a preference number" },
	                    { FIELD_NAME, "a mail exchanger host name" } } },
	/* RFC 2782 */
	{ DNS_TYPE_SRV,   { { FIELD_U16,  "a priority number" },
	                    { FIELD_U16,  "a weight number" },
	                    { FIELD_U16,  "a port number" },
	                    { FIELD_NAME, "a target host name" } } },
	/* RFC 1035 3.3.14 */
	{ DNS_TYPE_TXT,   { { FIELD_STRINGS, "a string" } } },
	/* RFC 1035 3.3.13 */
	{ DNS_TYPE_SOA,   { { FIELD_NAME, "the primary name server" },
	                    { FIELD_NAME, "the responsible person's mailbox as a name" },
	                    { FIELD_U32,  "a serial number" },
	                    { FIELD_TIME, "a refresh time" },
	                    { FIELD_TIME, "a retry time" },
	                    { FIELD_TIME, "an expire time" },
	                    { FIELD_TIME, "a minimum (negative caching) TTL" } } },
};

static const ZoneSyntax *syntax_for(guint16 type)
{
	for (gsize i = 0; i < G_N_ELEMENTS(zone_syntax); i++)
		if (zone_syntax[i].type == type)
			return &zone_syntax[i];
	return NULL;
}

/* The fields of one record as read, in order of kind. */
typedef struct {
	guint32    nums[DNS_ZONE_MAX_FIELDS];
	guint      n_nums;
	char      *names[2];
	guint      n_names;
	guint8     addr[16];
	GPtrArray *strings;    /* of GBytes* */
} ZoneValues;

static void zone_values_clear(ZoneValues *v)
{
	g_free(v->names[0]);
	g_free(v->names[1]);
	g_clear_pointer(&v->strings, g_ptr_array_unref);
}

/* Reads one field at *i into v. */
static gboolean zone_field(ZoneParser *p, guint *i, const ZoneField *f, const char *context,
                           ZoneValues *v, GError **error)
{
	if (*i >= p->tokens->len)
		return zone_expected(p, error, *i, f->what, context);
	const ZoneToken *t = p->tokens->pdata[*i];
	guint64 n;
	guint32 secs;

	if (t->quoted && f->kind != FIELD_STRINGS)
		return zone_expected(p, error, *i, f->what, context);
	switch (f->kind) {
	case FIELD_NAME: {
		char *name = zone_name(p, *i, f->what, context, error);
		if (name == NULL)
			return FALSE;
		v->names[v->n_names++] = name;
		break;
	}
	case FIELD_U16:
	case FIELD_U32:
		if (!parse_number(t->text, f->kind == FIELD_U16 ? G_MAXUINT16 : G_MAXUINT32, &n))
			return zone_expected(p, error, *i, f->what, context);
		v->nums[v->n_nums++] = (guint32)n;
		break;
	case FIELD_TIME:
		/* RFC 1035 3.3.13: the SOA times are full 32-bit numbers */
		if (parse_time(t->text, G_MAXUINT32, &secs) != TTL_OK)
			return zone_expected(p, error, *i, f->what, context);
		v->nums[v->n_nums++] = secs;
		break;
	case FIELD_IPV4:
		if (inet_pton(AF_INET, t->text, v->addr) != 1)
			return zone_expected(p, error, *i, f->what, context);
		break;
	case FIELD_IPV6:
		if (inet_pton(AF_INET6, t->text, v->addr) != 1)
			return zone_expected(p, error, *i, f->what, context);
		break;
	case FIELD_STRINGS:
		v->strings = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		for (; *i < p->tokens->len; (*i)++) {
			t = p->tokens->pdata[*i];
			const char *why = NULL;
			GBytes *b = unescape_string(t->text, &why);
			if (b == NULL)
				return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, t->line, t->col,
				                 "bad string: %s", why);
			g_ptr_array_add(v->strings, b);
			/* RFC 1035 3.3: a <character-string> is at most 255 octets */
			if (g_bytes_get_size(b) > DNS_WIRE_MAX_TXT_CHUNK)
				return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, t->line, t->col,
				                 "this string is %" G_GSIZE_FORMAT " octets; one string holds at "
				                 "most 255, so split it into several quoted strings",
				                 g_bytes_get_size(b));
		}
		return TRUE;   /* the index already moved past them */
	}
	(*i)++;
	return TRUE;
}

/* RFC 3597 5: "\# LENGTH HEX..." for any type. */
static DnsRecord *zone_generic(ZoneParser *p, guint i, const char *owner, guint16 type,
                               guint32 ttl, GError **error)
{
	g_autofree char *tname = dns_type_name(type);
	g_autofree char *context = g_strdup_printf("after %s \\#", tname);
	guint64 len;
	if (i + 1 >= p->tokens->len || !parse_number(((ZoneToken *)p->tokens->pdata[i + 1])->text, G_MAXUINT16, &len)) {
		zone_expected(p, error, i + 1, "the data length in octets", context);
		return NULL;
	}
	g_autoptr(GString) hex = g_string_new(NULL);
	for (guint k = i + 2; k < p->tokens->len; k++) {
		const ZoneToken *t = p->tokens->pdata[k];
		for (const char *c = t->text; *c; c++) {
			if (t->quoted || !g_ascii_isxdigit(*c)) {
				zone_expected(p, error, k, "hexadecimal digits", context);
				return NULL;
			}
		}
		g_string_append(hex, t->text);
		if (hex->len > 2 * len)
			break;
	}
	const ZoneToken *first = p->tokens->pdata[i];
	if (hex->len != 2 * len) {
		zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, first->line, first->col,
		          "\\# says %" G_GUINT64_FORMAT " octets but %s%" G_GSIZE_FORMAT " hex digits follow",
		          len, hex->len > 2 * len ? "more than " : "", hex->len);
		return NULL;
	}
	g_autofree guint8 *data = g_malloc(len + 1);
	for (gsize k = 0; k < len; k++)
		data[k] = (guint8)(g_ascii_xdigit_value(hex->str[2 * k]) * 16 + g_ascii_xdigit_value(hex->str[2 * k + 1]));
	g_autoptr(GBytes) bytes = g_bytes_new(data, len);
	g_autoptr(GError) local = NULL;
	DnsRecord *rec = dns_record_new_raw(owner, type, DNS_CLASS_IN, ttl, bytes, &local);
	if (rec == NULL)
		zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, first->line, first->col,
		          "the \\# data is not a valid %s record: %s", tname, local->message);
	return rec;
}

/* The data after the type, from token i on. */
static DnsRecord *zone_rdata(ZoneParser *p, guint i, const char *owner, guint16 type,
                             guint32 ttl, GError **error)
{
	g_autofree char *tname = dns_type_name(type);
	const ZoneToken *type_tok = p->tokens->pdata[i - 1];
	if (i < p->tokens->len) {
		const ZoneToken *t = p->tokens->pdata[i];
		if (!t->quoted && strcmp(t->text, "\\#") == 0)
			return zone_generic(p, i, owner, type, ttl, error);
	}
	const ZoneSyntax *syntax = syntax_for(type);
	if (syntax == NULL) {
		zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, type_tok->line, type_tok->col,
		          "%s has no text form here; write its data as \\# LENGTH HEX (RFC 3597 5)", tname);
		return NULL;
	}

	ZoneValues v = { .n_nums = 0 };
	g_autofree char *after = g_strdup_printf("after %s", tname);
	g_autofree char *in = g_strdup_printf("in the %s record", tname);
	for (guint f = 0; syntax->fields[f].what != NULL; f++) {
		if (!zone_field(p, &i, &syntax->fields[f], f == 0 ? after : in, &v, error)) {
			zone_values_clear(&v);
			return NULL;
		}
	}
	if (i < p->tokens->len) {
		const ZoneToken *t = p->tokens->pdata[i];
		g_autofree char *shown = token_show(t);
		zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, t->line, t->col,
		          "unexpected %s after the data of the %s record", shown, tname);
		zone_values_clear(&v);
		return NULL;
	}

	DnsRecord *rec = NULL;
	switch (type) {
	case DNS_TYPE_A:
		rec = dns_record_new_a(owner, ttl, v.addr);
		break;
	case DNS_TYPE_AAAA:
		rec = dns_record_new_aaaa(owner, ttl, v.addr);
		break;
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
		rec = dns_record_new_name(owner, type, ttl, v.names[0]);
		break;
	case DNS_TYPE_MX:
		rec = dns_record_new_mx(owner, ttl, (guint16)v.nums[0], v.names[0]);
		break;
	case DNS_TYPE_SRV:
		rec = dns_record_new_srv(owner, ttl, (guint16)v.nums[0], (guint16)v.nums[1],
		                         (guint16)v.nums[2], v.names[0]);
		break;
	case DNS_TYPE_TXT:
		rec = dns_record_new_txt(owner, ttl, "");
		g_ptr_array_unref(rec->rdata.txt);
		rec->rdata.txt = g_steal_pointer(&v.strings);
		break;
	case DNS_TYPE_SOA:
		rec = dns_record_new_soa(owner, ttl, v.names[0], v.names[1], v.nums[0],
		                         v.nums[1], v.nums[2], v.nums[3], v.nums[4]);
		break;
	}
	zone_values_clear(&v);
	return rec;
}

/* Hands a parsed record to the zone (or to dns_zone_parse_record). */
static gboolean zone_emit(ZoneParser *p, DnsRecord *rec, const ZoneToken *at, GError **error)
{
	if (p->zone == NULL) {
		if (!dns_name_is_subdomain(rec->name, p->apex)) {
			zone_fail(p, error, DNS_ZONE_ERROR_OUT_OF_ZONE, at->line, at->col,
			          "%s is outside the zone %s", rec->name, p->apex);
			dns_record_free(rec);
			return FALSE;
		}
		if (p->single != NULL) {
			dns_record_free(rec);
			return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, at->line, at->col,
			                 "expected one record, found a second");
		}
		p->single = rec;
		return TRUE;
	}
	if (!zone_insert(p->zone, rec, error)) {
		g_prefix_error(error, "%s:%u:%u: ", p->filename, at->line, at->col);
		return FALSE;
	}
	return TRUE;
}

/* $ORIGIN, $TTL (RFC 2308 4); $INCLUDE is refused (no files here). */
static gboolean zone_directive(ZoneParser *p, GError **error)
{
	const ZoneToken *d = p->tokens->pdata[0];
	guint32 ttl;
	if (p->zone == NULL)
		return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, d->line, d->col,
		                 "expected a record, got the directive %s", d->text);
	if (g_ascii_strcasecmp(d->text, "$ORIGIN") == 0) {
		char *origin = zone_name(p, 1, "a domain name", "after $ORIGIN", error);
		if (origin == NULL)
			return FALSE;
		g_free(p->origin);
		p->origin = origin;
	} else if (g_ascii_strcasecmp(d->text, "$TTL") == 0) {
		if (p->tokens->len < 2 || ((ZoneToken *)p->tokens->pdata[1])->quoted)
			return zone_expected(p, error, 1, "a TTL in seconds (or like 1h30m)", "after $TTL");
		TtlParse r = parse_ttl(((ZoneToken *)p->tokens->pdata[1])->text, &ttl);
		if (r != TTL_OK)
			return zone_expected(p, error, 1, r == TTL_TOO_BIG ? "a TTL of at most 2147483647"
			                                  : "a TTL in seconds (or like 1h30m)", "after $TTL");
		p->ttl_directive = ttl;
		p->have_ttl_directive = TRUE;
	} else if (g_ascii_strcasecmp(d->text, "$INCLUDE") == 0) {
		return zone_fail(p, error, DNS_ZONE_ERROR_UNSUPPORTED, d->line, d->col,
		                 "$INCLUDE is not supported: write the records here");
	} else {
		g_autofree char *shown = token_show(d);
		return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, d->line, d->col,
		                 "unknown directive %s (known: $ORIGIN, $TTL)", shown);
	}
	if (p->tokens->len > 2) {
		const ZoneToken *t = p->tokens->pdata[2];
		g_autofree char *shown = token_show(t);
		return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, t->line, t->col,
		                 "unexpected %s after %s", shown, d->text);
	}
	return TRUE;
}

/* RFC 1035 5.1: <owner> [<TTL>] [<class>] <type> <RDATA>, TTL and class
 * in either order, owner blank for "the same as before". */
static gboolean zone_entry(ZoneParser *p, GError **error)
{
	GPtrArray *t = p->tokens;
	const ZoneToken *first = t->pdata[0];
	guint i = 0;

	/* an owner that starts with $ is written \$, so this is a directive
	 * however far it is indented */
	if (!first->quoted && first->text[0] == '$')
		return zone_directive(p, error);

	g_autofree char *owner = NULL;
	if (p->blank_owner) {
		if (p->owner == NULL)
			return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, first->line, first->col,
			                 "this line is indented, which means \"same owner as the record "
			                 "before\", but no record comes before it");
		owner = g_strdup(p->owner);
	} else {
		owner = zone_name(p, 0, "an owner name", "", error);
		if (owner == NULL)
			return FALSE;
		g_free(p->owner);
		p->owner = g_strdup(owner);
		i = 1;
	}

	guint32 ttl = 0;
	gboolean have_ttl = FALSE, have_class = FALSE;
	while (i < t->len && !(have_ttl && have_class)) {
		const ZoneToken *tok = t->pdata[i];
		if (tok->quoted)
			break;
		if (!have_ttl) {
			TtlParse r = parse_ttl(tok->text, &ttl);
			if (r == TTL_TOO_BIG)
				return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, tok->line, tok->col,
				                 "the TTL %s is above 2147483647 seconds (RFC 2181 8)", tok->text);
			if (r == TTL_OK) {
				have_ttl = TRUE;
				i++;
				continue;
			}
		}
		if (!have_class) {
			ZoneClass c = parse_class(tok->text);
			if (c == CLASS_OTHER)
				return zone_fail(p, error, DNS_ZONE_ERROR_UNSUPPORTED, tok->line, tok->col,
				                 "class %s is not supported: zones here hold class IN only", tok->text);
			if (c == CLASS_IN) {
				have_class = TRUE;
				i++;
				continue;
			}
		}
		break;
	}

	g_autofree char *context = NULL;
	if (i > 0) {
		g_autofree char *prev = token_show(t->pdata[i - 1]);
		context = g_strdup_printf("after %s", prev);
	} else {
		context = g_strdup("");
	}
	guint16 type;
	if (i >= t->len || ((ZoneToken *)t->pdata[i])->quoted ||
	    !dns_type_from_string(((ZoneToken *)t->pdata[i])->text, &type))
		return zone_expected(p, error, i, "a record type (A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT)",
		                     context);
	if (dns_type_is_meta(type)) {
		const ZoneToken *tok = t->pdata[i];
		return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, tok->line, tok->col,
		                 "%s is a meta type, for questions and EDNS only: a zone cannot hold it", tok->text);
	}
	i++;

	if (have_ttl) {
		p->last_ttl = ttl;
		p->have_last_ttl = TRUE;
	} else if (p->have_ttl_directive) {
		ttl = p->ttl_directive;              /* RFC 2308 4 */
	} else if (p->have_last_ttl) {
		ttl = p->last_ttl;                   /* RFC 1035 5.1: the last stated */
	} else {
		ttl = DNS_ZONE_DEFAULT_TTL;
	}

	DnsRecord *rec = zone_rdata(p, i, owner, type, ttl, error);
	if (rec == NULL)
		return FALSE;
	return zone_emit(p, rec, first, error);
}

/* Splits one line into tokens; an entry ends at a line end outside
 * parentheses (RFC 1035 5.1). */
static gboolean zone_lex_line(ZoneParser *p, const char *s, gsize len, guint lineno, GError **error)
{
	if (len > DNS_ZONE_MAX_LINE_LENGTH)
		return zone_fail(p, error, DNS_ZONE_ERROR_LIMIT, lineno, 0,
		                 "the line is %" G_GSIZE_FORMAT " characters long; the limit is %d",
		                 len, DNS_ZONE_MAX_LINE_LENGTH);
	gsize i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (p->tokens->len == 0 && p->paren_line == 0 && i < len && s[i] != ';' && s[i] != '\r') {
		/* the first entry sets the margin of the whole text */
		if (p->margin < 0)
			p->margin = (gssize)i;
		p->blank_owner = i > (gsize)p->margin;
	}
	while (i < len) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r') {
			i++;
			continue;
		}
		if (c == ';')
			break;      /* RFC 1035 5.1: a comment runs to the end of the line */
		if (c == '(') {
			if (p->paren_line != 0)
				return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, lineno, (guint)i + 1,
				                 "a '(' inside another: parentheses do not nest");
			p->paren_line = lineno;
			p->paren_col = (guint)i + 1;
			i++;
			continue;
		}
		if (c == ')') {
			if (p->paren_line == 0)
				return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, lineno, (guint)i + 1,
				                 "a ')' without a '(' before it");
			p->paren_line = 0;
			i++;
			continue;
		}
		gsize start = i;
		gboolean quoted = c == '"';
		if (quoted) {
			for (i++; i < len && s[i] != '"'; i += (s[i] == '\\' && i + 1 < len) ? 2 : 1)
				;
			if (i >= len)
				return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, lineno, (guint)start + 1,
				                 "this quoted string does not end on its line");
			i++;
		} else {
			while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != ';' &&
			       s[i] != '(' && s[i] != ')' && s[i] != '"')
				i += (s[i] == '\\' && i + 1 < len) ? 2 : 1;
		}
		if (p->tokens->len >= DNS_ZONE_MAX_ENTRY_TOKENS)
			return zone_fail(p, error, DNS_ZONE_ERROR_LIMIT, lineno, (guint)start + 1,
			                 "more than %d words in one entry", DNS_ZONE_MAX_ENTRY_TOKENS);
		ZoneToken *t = g_new0(ZoneToken, 1);
		t->quoted = quoted;
		t->text = quoted ? g_strndup(s + start + 1, i - start - 2) : g_strndup(s + start, i - start);
		t->line = lineno;
		t->col = (guint)start + 1;
		t->width = i - start;
		g_ptr_array_add(p->tokens, t);
	}
	if (p->paren_line == 0 && p->tokens->len > 0) {
		gboolean ok = zone_entry(p, error);
		g_ptr_array_set_size(p->tokens, 0);
		return ok;
	}
	return TRUE;
}

static gboolean zone_lex(ZoneParser *p, const char *text, GError **error)
{
	guint lineno = p->first_line;
	for (const char *line = text;; lineno++) {
		const char *nl = strchr(line, '\n');
		gsize len = nl ? (gsize)(nl - line) : strlen(line);
		if (!zone_lex_line(p, line, len, lineno, error))
			return FALSE;
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	if (p->paren_line != 0)
		return zone_fail(p, error, DNS_ZONE_ERROR_SYNTAX, p->paren_line, p->paren_col,
		                 "this '(' is never closed");
	return TRUE;
}

static void zone_parser_init(ZoneParser *p, const char *apex, const char *filename, guint first_line)
{
	*p = (ZoneParser){
		.filename = filename ? filename : "(zone)",
		.first_line = first_line ? first_line : 1,
		.apex = apex,
		.origin = g_strdup(apex),
		.tokens = g_ptr_array_new_with_free_func((GDestroyNotify)zone_token_free),
		.margin = -1,
	};
}

static void zone_parser_clear(ZoneParser *p)
{
	g_free(p->origin);
	g_free(p->owner);
	g_ptr_array_unref(p->tokens);
	dns_record_free(p->single);
}

DnsZone *dns_zone_parse(const char *origin, const char *text, const char *filename,
                        guint first_line, GError **error)
{
	g_return_val_if_fail(text != NULL, NULL);
	g_autoptr(DnsZone) zone = dns_zone_new(origin, error);
	if (zone == NULL)
		return NULL;
	ZoneParser p;
	zone_parser_init(&p, zone->origin, filename, first_line);
	p.zone = zone;
	gboolean ok = zone_lex(&p, text, error);
	zone_parser_clear(&p);
	return ok ? g_steal_pointer(&zone) : NULL;
}

DnsRecord *dns_zone_parse_record(const DnsZone *zone, const char *text, const char *filename,
                                 guint line, GError **error)
{
	g_return_val_if_fail(zone != NULL && text != NULL, NULL);
	ZoneParser p;
	zone_parser_init(&p, zone->origin, filename, line);
	DnsRecord *rec = NULL;
	if (zone_lex(&p, text, error)) {
		rec = g_steal_pointer(&p.single);
		if (rec == NULL)
			zone_fail(&p, error, DNS_ZONE_ERROR_SYNTAX, p.first_line, 0, "expected a record, got nothing");
	}
	zone_parser_clear(&p);
	return rec;
}

/* ---- the zones of one server ---------------------------------------------- */

DnsZoneSet *dns_zone_set_new(void)
{
	DnsZoneSet *set = g_new0(DnsZoneSet, 1);
	set->zones = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)dns_zone_free);
	return set;
}

void dns_zone_set_free(DnsZoneSet *set)
{
	if (set == NULL)
		return;
	g_clear_pointer(&set->zones, g_hash_table_unref);
	g_free(set);
}

gboolean dns_zone_set_add(DnsZoneSet *set, DnsZone *zone, GError **error)
{
	g_return_val_if_fail(set != NULL && zone != NULL, FALSE);
	if (g_hash_table_contains(set->zones, zone->origin)) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_CONFLICT,
		            "the zone %s is defined twice", zone->origin);
		dns_zone_free(zone);
		return FALSE;
	}
	if (g_hash_table_size(set->zones) >= DNS_ZONE_MAX_ZONES) {
		g_set_error(error, DNS_ZONE_ERROR, DNS_ZONE_ERROR_LIMIT,
		            "more than %d zones", DNS_ZONE_MAX_ZONES);
		dns_zone_free(zone);
		return FALSE;
	}
	/* the key is the zone's own origin string: it lives as long as the zone */
	g_hash_table_insert(set->zones, zone->origin, zone);
	return TRUE;
}

gboolean dns_zone_set_remove(DnsZoneSet *set, const char *origin)
{
	g_autofree char *canon = dns_name_canonical(origin, NULL);
	return canon && g_hash_table_remove(set->zones, canon);
}

DnsZone *dns_zone_set_get(const DnsZoneSet *set, const char *origin)
{
	g_autofree char *canon = dns_name_canonical(origin, NULL);
	return canon ? g_hash_table_lookup(set->zones, canon) : NULL;
}

guint dns_zone_set_count(const DnsZoneSet *set)
{
	return g_hash_table_size(set->zones);
}

DnsZone *dns_zone_set_find(const DnsZoneSet *set, const char *name)
{
	g_autofree char *canon = dns_name_canonical(name, NULL);
	/* RFC 1034 4.3.2 step 2: the nearest ancestor that is a zone we hold */
	for (const char *n = canon; n != NULL; n = dns_name_parent(n)) {
		DnsZone *zone = g_hash_table_lookup(set->zones, n);
		if (zone)
			return zone;
	}
	return NULL;
}

/* The highest delegation (NS below the apex) on the way down to name. */
static const char *zone_find_cut(const DnsZone *zone, const char *name)
{
	const char *cut = NULL;
	for (const char *n = name; n != NULL && strcmp(n, zone->origin) != 0; n = dns_name_parent(n)) {
		if (node_has_type(g_hash_table_lookup(zone->nodes, n), DNS_TYPE_NS))
			cut = n;
	}
	return cut;
}

/* RFC 2308 3: negative answers carry the SOA, with the lesser of its TTL
 * and its MINIMUM as TTL. */
static void add_negative_soa(DnsMessage *resp, const DnsZone *zone)
{
	DnsRecord *soa = dns_zone_soa(zone);
	soa->ttl = MIN(soa->ttl, soa->rdata.soa.minimum);
	dns_message_add(resp, DNS_SECTION_AUTHORITY, soa);
}

static gboolean answer_has_cname_for(const DnsMessage *resp, const char *name)
{
	for (guint i = 0; i < resp->answers->len; i++) {
		const DnsRecord *rec = resp->answers->pdata[i];
		if (rec->type == DNS_TYPE_CNAME && strcmp(rec->name, name) == 0)
			return TRUE;
	}
	return FALSE;
}

/* RFC 1034 4.3.2 step 3, from the zone that holds qname on. */
static void answer_from_zones(const DnsZoneSet *set, const DnsZone *zone, const char *qname,
                              guint16 qtype, DnsMessage *resp)
{
	g_autofree char *name = g_strdup(qname);
	for (guint chain = 0;; chain++) {
		/* step 3b: below a delegation the data belongs to another server */
		const char *cut = zone_find_cut(zone, name);
		if (cut != NULL) {
			GPtrArray *ns = g_hash_table_lookup(zone->nodes, cut);
			if (chain == 0)
				resp->aa = FALSE;
			for (guint i = 0; i < ns->len; i++)
				if (((DnsRecord *)ns->pdata[i])->type == DNS_TYPE_NS)
					dns_message_add(resp, DNS_SECTION_AUTHORITY, dns_record_copy(ns->pdata[i]));
			return;
		}
		GPtrArray *node = g_hash_table_lookup(zone->nodes, name);
		gboolean apex = strcmp(name, zone->origin) == 0;
		const DnsRecord *cname = NULL;
		guint matched = 0;
		for (guint i = 0; node && i < node->len; i++) {
			const DnsRecord *rec = node->pdata[i];
			if (qtype == DNS_TYPE_ANY || rec->type == qtype) {
				dns_message_add(resp, DNS_SECTION_ANSWER, dns_record_copy(rec));
				matched++;
			}
			if (rec->type == DNS_TYPE_CNAME)
				cname = rec;
		}
		/* a zone written without SOA still has one (dns_zone_soa) */
		if (apex && (qtype == DNS_TYPE_SOA || qtype == DNS_TYPE_ANY) && !node_has_type(node, DNS_TYPE_SOA)) {
			dns_message_add(resp, DNS_SECTION_ANSWER, dns_zone_soa(zone));
			matched++;
		}
		if (matched > 0)
			return;
		if (node == NULL) {
			/* step 3c: no such name; but the apex always exists, and so
			 * does a name with names below it (RFC 8020) */
			if (!apex && !g_hash_table_contains(zone->names, name))
				resp->rcode = DNS_RCODE_NXDOMAIN;
			add_negative_soa(resp, zone);
			return;
		}
		if (cname == NULL) {
			/* RFC 2308 2.2: NODATA, the name is there but not the type */
			add_negative_soa(resp, zone);
			return;
		}
		/* RFC 1034 3.6.2: answer the alias, then look up what it names */
		dns_message_add(resp, DNS_SECTION_ANSWER, dns_record_copy(cname));
		const char *target = cname->rdata.name;
		if (chain + 1 >= DNS_ZONE_MAX_CNAME_CHAIN || answer_has_cname_for(resp, target))
			return;    /* too long, or a loop: the resolver sees the chain */
		zone = dns_zone_set_find(set, target);
		if (zone == NULL)
			return;    /* outside our zones: the resolver follows it */
		g_free(name);
		name = g_strdup(target);
	}
}

static gboolean message_has_record(const DnsMessage *msg, const DnsRecord *rec)
{
	for (DnsSection s = DNS_SECTION_ANSWER; s <= DNS_SECTION_ADDITIONAL; s++) {
		GPtrArray *records = dns_message_section(msg, s);
		for (guint i = 0; i < records->len; i++)
			if (dns_record_equal(records->pdata[i], rec))
				return TRUE;
	}
	return FALSE;
}

/* RFC 1035 3.3.9, 3.3.11 and RFC 2782: the addresses of MX, NS and SRV
 * targets ride along, so the client need not ask again. */
static void add_additional(const DnsZoneSet *set, DnsMessage *resp)
{
	g_autoptr(GPtrArray) targets = g_ptr_array_new();
	for (DnsSection s = DNS_SECTION_ANSWER; s <= DNS_SECTION_AUTHORITY; s++) {
		GPtrArray *records = dns_message_section(resp, s);
		for (guint i = 0; i < records->len; i++) {
			const DnsRecord *rec = records->pdata[i];
			if (rec->type == DNS_TYPE_MX)
				g_ptr_array_add(targets, rec->rdata.mx.exchange);
			else if (rec->type == DNS_TYPE_SRV)
				g_ptr_array_add(targets, rec->rdata.srv.target);
			else if (rec->type == DNS_TYPE_NS)
				g_ptr_array_add(targets, rec->rdata.name);
		}
	}
	static const guint16 address_types[] = { DNS_TYPE_A, DNS_TYPE_AAAA };
	/* a UDP answer has room for a few addresses, not for thousands */
	for (guint i = 0; i < targets->len && i < DNS_ZONE_MAX_ADDITIONAL; i++) {
		const DnsZone *zone = dns_zone_set_find(set, targets->pdata[i]);
		if (zone == NULL)
			continue;
		for (gsize t = 0; t < G_N_ELEMENTS(address_types); t++) {
			g_autoptr(GPtrArray) found = dns_zone_lookup(zone, targets->pdata[i], address_types[t]);
			for (guint k = 0; k < found->len; k++)
				if (!message_has_record(resp, found->pdata[k]))
					dns_message_add(resp, DNS_SECTION_ADDITIONAL, dns_record_copy(found->pdata[k]));
		}
	}
}

DnsMessage *dns_zone_set_answer(const DnsZoneSet *set, const DnsMessage *query)
{
	g_return_val_if_fail(set != NULL && query != NULL, NULL);
	if (query->qr)
		return NULL;
	DnsMessage *resp = dns_message_new_response(query, DNS_RCODE_NOERROR);
	/* RFC 1035 4.1.1: NOTIMP for a kind of query the server does not do */
	if (query->opcode != DNS_OPCODE_QUERY) {
		resp->rcode = DNS_RCODE_NOTIMP;
		return resp;
	}
	/* RFC 1035 4.1.1: FORMERR when the server cannot read the query;
	 * in practice QDCOUNT is always 1 (RFC 9619) */
	if (query->questions->len != 1) {
		resp->rcode = DNS_RCODE_FORMERR;
		return resp;
	}
	const DnsQuestion *q = query->questions->pdata[0];
	g_autofree char *qname = dns_name_canonical(q->name, NULL);
	DnsZone *zone = qname ? dns_zone_set_find(set, qname) : NULL;
	if (qname == NULL)
		resp->rcode = DNS_RCODE_FORMERR;
	else if (q->type == DNS_TYPE_AXFR || q->type == DNS_TYPE_IXFR)
		resp->rcode = DNS_RCODE_REFUSED;      /* no zone transfers */
	else if (dns_type_is_meta(q->type) && q->type != DNS_TYPE_ANY)
		resp->rcode = DNS_RCODE_NOTIMP;
	else if (q->klass != DNS_CLASS_IN && q->klass != DNS_CLASS_ANY)
		resp->rcode = DNS_RCODE_REFUSED;
	else if (zone == NULL)
		resp->rcode = DNS_RCODE_REFUSED;      /* not ours, and no recursion offered */
	if (resp->rcode != DNS_RCODE_NOERROR)
		return resp;

	resp->aa = TRUE;
	answer_from_zones(set, zone, qname, q->type, resp);
	add_additional(set, resp);
	return resp;
}
