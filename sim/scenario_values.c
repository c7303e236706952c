/* sim/scenario_values.c - the values a scenario writes: durations, rates, sizes,
 * Postfix lists, course step ids, IPv4 addresses (RFC 791) and CIDR ranges
 * (RFC 4632 3.1), host names (RFC 1123 2.1), mailboxes (RFC 5321 4.1.2),
 * and the "did you mean" guess behind the hints.
 */
#include <string.h>

#include "sim/scenario_internal.h"

/* Digits read in one number: enough for any bound here, too few to overflow. */
#define SCENARIO_MAX_DIGITS     12
/* Words longer than this are no typo of a keyword: no edit distance for them. */
#define SCENARIO_MAX_GUESS_LEN  32

/* ---- numbers ---------------------------------------------------------------- */

gboolean scenario_value_uint(const char *text, guint64 max, guint64 *value_r)
{
	guint64 n = 0;
	if (text[0] == '\0')
		return FALSE;
	for (const char *s = text; *s != '\0'; s++) {
		if (!g_ascii_isdigit(*s) || s - text >= 20)
			return FALSE;
		guint d = (guint)(*s - '0');
		if (n > (G_MAXUINT64 - d) / 10)
			return FALSE;
		n = n * 10 + d;
	}
	if (n > max)
		return FALSE;
	*value_r = n;
	return TRUE;
}

/* Reads the digits at *s (at most SCENARIO_MAX_DIGITS) and moves past them. */
static gboolean read_number(const char **s, guint64 *n_r)
{
	guint64 n = 0;
	guint digits = 0;
	while (g_ascii_isdigit(**s)) {
		if (++digits > SCENARIO_MAX_DIGITS)
			return FALSE;
		n = n * 10 + (guint64)(**s - '0');
		(*s)++;
	}
	*n_r = n;
	return digits > 0;
}

static gboolean all_digits(const char *text)
{
	if (*text == '\0')
		return FALSE;
	for (; *text != '\0'; text++)
		if (!g_ascii_isdigit(*text))
			return FALSE;
	return TRUE;
}

/* ---- durations ------------------------------------------------------------------ */

typedef struct {
	const char *name;
	gint64      us;
} DurationUnit;

/* Largest first: a duration names them in this order, each once. */
static const DurationUnit duration_units[] = {
	{ "d",  G_GINT64_CONSTANT(86400000000) },
	{ "h",  G_GINT64_CONSTANT(3600000000) },
	{ "m",  60000000 },
	{ "s",  1000000 },
	{ "ms", 1000 },
	{ "us", 1 },
};

gboolean scenario_parse_duration(const char *text, gint64 *us_r)
{
	g_return_val_if_fail(text != NULL && us_r != NULL, FALSE);
	if (strcmp(text, "0") == 0) {
		*us_r = 0;
		return TRUE;
	}
	const char *s = text;
	gint64 total = 0;
	guint next_unit = 0;  /* units before this one were used or skipped */
	if (*s == '\0')
		return FALSE;
	while (*s != '\0') {
		guint64 n;
		if (!read_number(&s, &n))
			return FALSE;
		const char *unit = s;
		while (g_ascii_isalpha(*s))
			s++;
		gsize unit_len = (gsize)(s - unit);
		guint u = next_unit;
		/* Units, like keywords, in any case: "2S" is "2s". */
		while (u < G_N_ELEMENTS(duration_units) &&
		       !(strlen(duration_units[u].name) == unit_len &&
		         g_ascii_strncasecmp(duration_units[u].name, unit, unit_len) == 0))
			u++;
		if (u == G_N_ELEMENTS(duration_units))
			return FALSE;  /* unknown, repeated or out of order */
		if (n > (guint64)(SCENARIO_MAX_DURATION_US / duration_units[u].us))
			return FALSE;
		total += (gint64)n * duration_units[u].us;
		if (total > SCENARIO_MAX_DURATION_US)
			return FALSE;
		next_unit = u + 1;
	}
	*us_r = total;
	return TRUE;
}

char *scenario_format_duration(gint64 us)
{
	if (us < 0 || us > SCENARIO_MAX_DURATION_US)
		return NULL;
	if (us == 0)
		return g_strdup("0s");
	GString *out = g_string_new(NULL);
	for (guint u = 0; u < G_N_ELEMENTS(duration_units); u++) {
		gint64 n = us / duration_units[u].us;
		if (n > 0)
			g_string_append_printf(out, "%" G_GINT64_FORMAT "%s", n, duration_units[u].name);
		us %= duration_units[u].us;
	}
	return g_string_free(out, FALSE);
}

char *scenario_value_duration_hint(const char *text, const char *unit)
{
	if (all_digits(text))
		return g_strdup_printf("add a unit: %s%s", text, unit);
	if (strchr(text, '.') != NULL || strchr(text, ',') != NULL)
		return g_strdup("use whole units: 1s500ms rather than 1.5s");
	if (text[0] == '-')
		return g_strdup("times count from the start of the run and are never negative");
	return g_strdup("units are us, ms, s, m, h and d, each once, largest first, "
	                "up to 366d: 1m30s, 250ms");
}

/* ---- rates and sizes ------------------------------------------------------------- */

typedef struct {
	const char *prefix;
	guint64     factor;
} UnitPrefix;

/* Longest first, so that "Ki" is tried before "K". */
static const UnitPrefix unit_prefixes[] = {
	{ "Ki", G_GUINT64_CONSTANT(1) << 10 },
	{ "Mi", G_GUINT64_CONSTANT(1) << 20 },
	{ "Gi", G_GUINT64_CONSTANT(1) << 30 },
	{ "Ti", G_GUINT64_CONSTANT(1) << 40 },
	{ "k",  G_GUINT64_CONSTANT(1000) },
	{ "K",  G_GUINT64_CONSTANT(1000) },
	{ "M",  G_GUINT64_CONSTANT(1000000) },
	{ "G",  G_GUINT64_CONSTANT(1000000000) },
	{ "T",  G_GUINT64_CONSTANT(1000000000000) },
	{ "",   1 },
};

typedef struct {
	const char *unit;
	guint       bits;  /* 8 for a byte, 1 for a bit */
} RateUnit;

static const RateUnit rate_units[] = {
	{ "B/s", 8 }, { "bit/s", 1 }, { "b/s", 1 }, { "bps", 1 },
};

/* Reads "NUMBER PREFIX" and returns the rest, the base unit; NULL if malformed. */
static const char *read_scaled(const char *text, guint64 *n_r, guint64 *factor_r)
{
	const char *s = text;
	if (!read_number(&s, n_r))
		return NULL;
	for (guint i = 0; i < G_N_ELEMENTS(unit_prefixes); i++) {
		gsize len = strlen(unit_prefixes[i].prefix);
		if (strncmp(s, unit_prefixes[i].prefix, len) == 0) {
			*factor_r = unit_prefixes[i].factor;
			return s + len;
		}
	}
	return NULL;  /* not reached: "" matches */
}

gboolean scenario_parse_rate(const char *text, guint64 *bytes_per_s_r)
{
	g_return_val_if_fail(text != NULL && bytes_per_s_r != NULL, FALSE);
	guint64 n, factor;
	const char *unit = read_scaled(text, &n, &factor);
	if (unit == NULL || n == 0)
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(rate_units); i++) {
		if (strcmp(unit, rate_units[i].unit) != 0)
			continue;
		if (n > G_MAXUINT64 / factor)
			return FALSE;
		guint64 bits = n * factor;
		guint64 bytes = rate_units[i].bits == 8 ? bits : bits / 8;
		if (rate_units[i].bits == 8 && bits > SCENARIO_MAX_RATE)
			return FALSE;
		if (bytes > SCENARIO_MAX_RATE)
			return FALSE;
		*bytes_per_s_r = bytes > 0 ? bytes : 1;
		return TRUE;
	}
	return FALSE;
}

char *scenario_value_rate_hint(const char *text)
{
	if (all_digits(text))
		return g_strdup_printf("add a unit: %sMB/s or %sMbit/s", text, text);
	return g_strdup("a rate is a whole number and a unit: 1MB/s, 100kB/s, 2MiB/s, 10Mbit/s, 56kbps");
}

gboolean scenario_parse_size(const char *text, guint64 *bytes_r)
{
	g_return_val_if_fail(text != NULL && bytes_r != NULL, FALSE);
	guint64 n, factor;
	const char *unit = read_scaled(text, &n, &factor);
	if (unit == NULL || strcmp(unit, "B") != 0)
		return FALSE;
	if (n > SCENARIO_MAX_SIZE / factor)
		return FALSE;
	*bytes_r = n * factor;
	return TRUE;
}

char *scenario_value_size_hint(const char *text)
{
	if (all_digits(text))
		return g_strdup_printf("add a unit: %sMB", text);
	return g_strdup("a size is a whole number and a unit: 42B, 500kB, 100MB, 1GiB");
}

/* ---- Postfix lists --------------------------------------------------------------- */

/* Postfix's separators for a list parameter (CHARS_COMMA_SP in its util/). */
#define POSTFIX_LIST_SEPARATORS ", \t\r\n"

char **scenario_setting_list(const char *value)
{
	g_return_val_if_fail(value != NULL, NULL);
	GPtrArray *items = g_ptr_array_new();
	const char *s = value;
	for (;;) {
		while (*s != '\0' && strchr(POSTFIX_LIST_SEPARATORS, *s) != NULL)
			s++;
		if (*s == '\0')
			break;
		/* As Postfix's mystrtokq: a separator inside { } does not split. */
		const char *start = s;
		guint level = 0;
		for (; *s != '\0'; s++) {
			if (*s == '{')
				level++;
			else if (*s == '}' && level > 0)
				level--;
			else if (level == 0 && strchr(POSTFIX_LIST_SEPARATORS, *s) != NULL)
				break;
		}
		g_ptr_array_add(items, g_strndup(start, (gsize)(s - start)));
	}
	g_ptr_array_add(items, NULL);
	return (char **)g_ptr_array_free(items, FALSE);
}

/* ---- course steps ----------------------------------------------------------------- */

/* The step families of COURSE.md. */
static const char *const step_families[] = { "setup", "out", "in", "retr", "def", NULL };

gboolean scenario_step_id_valid(const char *id)
{
	g_return_val_if_fail(id != NULL, FALSE);
	const char *dot = strchr(id, '.');
	if (dot == NULL)
		return FALSE;
	gboolean family = FALSE;
	for (guint i = 0; step_families[i] != NULL; i++)
		if (strlen(step_families[i]) == (gsize)(dot - id) && strncmp(id, step_families[i], dot - id) == 0)
			family = TRUE;
	guint64 n;
	return family && dot[1] != '0' && scenario_value_uint(dot + 1, SCENARIO_MAX_STEP_NUMBER, &n) && n >= 1;
}

/* ---- addresses and names ------------------------------------------------------------ */

gboolean scenario_value_ipv4(const char *text, char **hint_r)
{
	const char *s = text;
	for (guint part = 0; part < 4; part++) {
		if (part > 0 && *s++ != '.')
			goto bad_shape;
		guint64 n;
		const char *start = s;
		if (!read_number(&s, &n) || s - start > 3)
			goto bad_shape;
		if (n > 255) {
			if (hint_r)
				*hint_r = g_strdup("each of the four numbers is at most 255");
			return FALSE;
		}
		if (start[0] == '0' && s - start > 1) {
			if (hint_r)
				*hint_r = g_strdup_printf("leading zeros read as octal to some tools: write %u, not %.*s",
				                          (guint)n, (int)(s - start), start);
			return FALSE;
		}
	}
	if (*s == '\0')
		return TRUE;
bad_shape:
	if (hint_r)
		*hint_r = g_strdup("an IPv4 address is four numbers from 0 to 255 joined by dots: 192.0.2.10");
	return FALSE;
}

gboolean scenario_value_cidr(const char *text, char **hint_r)
{
	const char *slash = strchr(text, '/');
	if (slash == NULL)
		return scenario_value_ipv4(text, hint_r);
	g_autofree char *address = g_strndup(text, (gsize)(slash - text));
	guint64 len;
	if (!scenario_value_ipv4(address, hint_r))
		return FALSE;
	if (!scenario_value_uint(slash + 1, 32, &len)) {
		if (hint_r)
			*hint_r = g_strdup("the prefix length after / is 0 to 32: 203.0.113.0/24");
		return FALSE;
	}
	/* RFC 4632 3.1: the bits past the prefix are zero in a network. */
	guint32 a = 0;
	const char *s = address;
	for (guint i = 0; i < 4; i++) {
		guint64 octet = 0;
		read_number(&s, &octet);
		a = (a << 8) | (guint32)octet;
		if (*s == '.')
			s++;
	}
	guint32 mask = len == 0 ? 0 : G_MAXUINT32 << (32 - len);
	if ((a & ~mask) != 0) {
		guint32 net = a & mask;
		if (hint_r)
			*hint_r = g_strdup_printf("the network starts at %u.%u.%u.%u/%u",
			                          net >> 24, (net >> 16) & 0xff, (net >> 8) & 0xff, net & 0xff,
			                          (guint)len);
		return FALSE;
	}
	return TRUE;
}

/* Labels of letters, digits and hyphens (plus underscores when allowed),
 * 1 to 63 characters (RFC 1035 2.3.4), no hyphen at either end. */
static gboolean name_labels_valid(const char *text, gboolean underscore, gboolean *numeric_tld_r)
{
	gsize total = strlen(text);
	if (total == 0 || total > SCENARIO_MAX_NAME_LENGTH)
		return FALSE;
	const char *label = text;
	gboolean digits_only = TRUE;
	for (const char *s = text;; s++) {
		if (*s == '.' || *s == '\0') {
			gsize len = (gsize)(s - label);
			if (len == 0 || len > 63 || label[0] == '-' || s[-1] == '-')
				return FALSE;
			if (*s == '\0')
				break;
			label = s + 1;
			digits_only = TRUE;
			continue;
		}
		if (!g_ascii_isalnum(*s) && *s != '-' && !(underscore && *s == '_'))
			return FALSE;
		if (!g_ascii_isdigit(*s))
			digits_only = FALSE;
	}
	*numeric_tld_r = digits_only;
	return TRUE;
}

gboolean scenario_value_host_name(const char *text)
{
	gboolean numeric_tld;
	/* RFC 1123 2.1: a name never looks like a dotted address, so the last
	 * label holds a letter: "192.0.2.10" is no host name. */
	return name_labels_valid(text, FALSE, &numeric_tld) && !numeric_tld;
}

gboolean scenario_value_dns_name(const char *text)
{
	gboolean numeric_tld;
	if (strcmp(text, "@") == 0 || strcmp(text, ".") == 0)
		return TRUE;
	gsize len = strlen(text);
	g_autofree char *copy = g_strdup(text);
	if (len > 1 && copy[len - 1] == '.')
		copy[len - 1] = '\0';
	/* RFC 4592 2.1.1: a wildcard is a whole leftmost label. */
	const char *rest = copy;
	if (g_str_has_prefix(rest, "*."))
		rest += 2;
	else if (strcmp(rest, "*") == 0)
		return TRUE;
	/* Underscores: service labels like _autodiscover._tcp (RFC 2782). */
	return name_labels_valid(rest, TRUE, &numeric_tld);
}

/* RFC 5322 3.2.3: atext, the characters of a dot-atom besides the dots. */
static gboolean is_atext(char c)
{
	return g_ascii_isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

char *scenario_value_mailbox(const char *text, char **hint_r)
{
	const char *at = strrchr(text, '@');
	if (at == NULL || at == text) {
		if (hint_r)
			*hint_r = g_strdup("a mail address is a user, @ and a domain: bob@example.org");
		return NULL;
	}
	gsize local_len = (gsize)(at - text);
	/* RFC 5321 4.5.3.1.1: 64 octets of local part; 4.5.3.1.3: 254 in all. */
	if (local_len > 64 || strlen(text) > SCENARIO_MAX_ADDRESS_LENGTH) {
		if (hint_r)
			*hint_r = g_strdup("a user name holds at most 64 characters, an address 254");
		return NULL;
	}
	for (gsize i = 0; i < local_len; i++) {
		gboolean dot = text[i] == '.';
		if (dot ? (i == 0 || i == local_len - 1 || text[i - 1] == '.') : !is_atext(text[i])) {
			if (hint_r)
				*hint_r = g_strdup("the user part holds letters, digits, dots (not two in a row, "
				                   "not at either end) and !#$%&'*+-/=?^_`{|}~");
			return NULL;
		}
	}
	if (!scenario_value_host_name(at + 1)) {
		if (hint_r)
			*hint_r = g_strdup("after the @ comes a domain name: bob@example.org");
		return NULL;
	}
	g_autofree char *domain = g_ascii_strdown(at + 1, -1);
	return g_strdup_printf("%.*s@%s", (int)local_len, text, domain);
}

gboolean scenario_value_host_port(const char *text, char **host_r, guint *port_r)
{
	const char *colon = strrchr(text, ':');
	g_autofree char *host = colon ? g_strndup(text, (gsize)(colon - text)) : g_strdup(text);
	guint64 port = 0;
	if (colon != NULL && (!scenario_value_uint(colon + 1, 65535, &port) || port == 0))
		return FALSE;
	if (!scenario_value_host_name(host) && !scenario_value_ipv4(host, NULL))
		return FALSE;
	*host_r = g_ascii_strdown(host, -1);
	*port_r = (guint)port;
	return TRUE;
}

/* ---- did you mean ---------------------------------------------------------------------- */

/* Levenshtein distance, case-insensitive, for words up to SCENARIO_MAX_GUESS_LEN. */
static guint edit_distance(const char *a, const char *b)
{
	gsize la = strlen(a), lb = strlen(b);
	guint row[SCENARIO_MAX_GUESS_LEN + 1];
	for (gsize j = 0; j <= lb; j++)
		row[j] = (guint)j;
	for (gsize i = 1; i <= la; i++) {
		guint diagonal = row[0];
		row[0] = (guint)i;
		for (gsize j = 1; j <= lb; j++) {
			guint above = row[j];
			guint cost = g_ascii_tolower(a[i - 1]) == g_ascii_tolower(b[j - 1]) ? 0 : 1;
			row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diagonal + cost);
			diagonal = above;
		}
	}
	return row[lb];
}

const char *scenario_value_closest(const char *word, const char *const *candidates)
{
	gsize len = strlen(word);
	if (len == 0 || len > SCENARIO_MAX_GUESS_LEN)
		return NULL;
	/* A typo changes about one letter in three, and never most of a short word. */
	guint allowed = len <= 3 ? 1 : len <= 7 ? 2 : 3;
	const char *best = NULL;
	guint best_distance = allowed + 1;
	for (guint i = 0; candidates[i] != NULL; i++) {
		gsize clen = strlen(candidates[i]);
		if (clen > SCENARIO_MAX_GUESS_LEN)
			continue;
		guint d = edit_distance(word, candidates[i]);
		if (d > 0 && d < best_distance && d < clen) {
			best = candidates[i];
			best_distance = d;
		}
	}
	return best;
}

/* Words that begin an action or name a role: a client may not be called so,
 * or "at 2s host ..." would be ambiguous. */
static const char *const reserved_client_names[] = {
	"host", "link", "dns", "client", "mta", "mda", "mra", "web", "mua", NULL,
};

gboolean scenario_value_client_name(const char *text)
{
	gsize len = strlen(text);
	if (len == 0 || len > 63 || !g_ascii_isalpha(text[0]))
		return FALSE;
	for (const char *s = text; *s != '\0'; s++)
		if (!g_ascii_isalnum(*s) && *s != '-' && *s != '_')
			return FALSE;
	for (guint i = 0; reserved_client_names[i] != NULL; i++)
		if (g_ascii_strcasecmp(text, reserved_client_names[i]) == 0)
			return FALSE;
	return TRUE;
}
