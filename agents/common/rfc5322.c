/* agents/common/rfc5322.c - the header block of an Internet message.
 *
 * RFC 5322 2.1-2.2 (header, fields, folding), 3.2 (quoted strings,
 * comments), 3.3 (date), 3.4 (addresses).  Lenient where old mail is
 * (LF line endings, blanks before the colon), bounded everywhere.
 */
#include "agents/common/rfc5322.h"

#include <string.h>

G_DEFINE_QUARK(rfc5322-error-quark, rfc5322_error)

const char *rfc5322_error_to_string(Rfc5322Error e)
{
	switch (e) {
	case RFC5322_ERROR_TOO_MANY_FIELDS:    return "too-many-fields";
	case RFC5322_ERROR_FIELD_TOO_LONG:     return "field-too-long";
	case RFC5322_ERROR_BAD_ADDRESS:        return "bad-address";
	case RFC5322_ERROR_TOO_MANY_ADDRESSES: return "too-many-addresses";
	}
	return "unknown";
}

static gboolean is_wsp(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* A blank, or a line ending left at the edge of a value. */
static gboolean is_blank(char ch)
{
	return is_wsp(ch) || ch == '\r' || ch == '\n';
}

/* RFC 5322 3.6.8: ftext = %d33-57 / %d59-126 (printable but ':') */
static gboolean is_ftext(char ch)
{
	guchar u = (guchar)ch;
	return u >= 33 && u <= 126 && u != ':';
}

/* ---- unfolding --------------------------------------------------------------- */

char *rfc5322_unfold(const char *s, gsize len)
{
	g_return_val_if_fail(s != NULL || len == 0, NULL);
	GString *out = g_string_sized_new(len);
	for (gsize i = 0; i < len; i++) {
		/* RFC 5322 2.2.3: unfold by removing a CRLF followed by WSP. */
		if (s[i] == '\r' && i + 2 < len && s[i + 1] == '\n' && is_wsp(s[i + 2])) {
			i++;
			continue;
		}
		if (s[i] == '\n' && i + 1 < len && is_wsp(s[i + 1]))
			continue;
		g_string_append_c(out, s[i]);
	}
	gsize start = 0, end = out->len;
	while (start < end && is_blank(out->str[start]))
		start++;
	while (end > start && is_blank(out->str[end - 1]))
		end--;
	char *value = g_strndup(out->str + start, end - start);
	g_string_free(out, TRUE);
	return value;
}

/* ---- header ----------------------------------------------------------------- */

static void field_free(gpointer p)
{
	Rfc5322Field *field = p;
	g_free(field->name);
	g_free(field->value);
	g_free(field);
}

void rfc5322_header_free(Rfc5322Header *header)
{
	if (!header)
		return;
	g_ptr_array_unref(header->fields);
	g_free(header);
}

/* The length of the field name at s, up to its ':' (blanks before the
 * colon are obsolete syntax, RFC 5322 4.5.8, and tolerated); 0 when the
 * line is no field.  *colon_r is the colon's index. */
static gsize field_name_length(const char *s, gsize len, gsize *colon_r)
{
	gsize n = 0;
	while (n < len && is_ftext(s[n]))
		n++;
	gsize i = n;
	while (i < len && is_wsp(s[i]))
		i++;
	if (n == 0 || i >= len || s[i] != ':')
		return 0;
	*colon_r = i;
	return n;
}

static void add_field(Rfc5322Header *header, const char *msg, gsize start, gsize name_len,
                      gsize colon, gsize end)
{
	Rfc5322Field *field = g_new0(Rfc5322Field, 1);
	field->name = g_strndup(msg + start, name_len);
	field->value = rfc5322_unfold(msg + colon + 1, end - colon - 1);
	field->offset = start;
	field->length = end - start;
	g_ptr_array_add(header->fields, field);
}

Rfc5322Header *rfc5322_parse_header(const char *msg, gsize len, GError **error)
{
	g_return_val_if_fail(msg != NULL || len == 0, NULL);
	g_autoptr(Rfc5322Header) header = g_new0(Rfc5322Header, 1);
	header->fields = g_ptr_array_new_with_free_func(field_free);

	/* The field being read: where it starts, its name, its colon. */
	gboolean in_field = FALSE;
	gsize field_start = 0, name_len = 0, colon = 0;
	gsize pos = 0;

	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);
		gsize next = nl ? (gsize)(nl - msg) + 1 : len;
		gsize end = nl ? (gsize)(nl - msg) : len;
		if (nl && end > pos && msg[end - 1] == '\r')
			end--;

		if (end == pos) {
			/* RFC 5322 2.1: an empty line separates header and body. */
			header->has_separator = TRUE;
			if (in_field)
				add_field(header, msg, field_start, name_len, colon, pos);
			header->body_offset = next;
			return g_steal_pointer(&header);
		}
		if (is_wsp(msg[pos])) {
			/* RFC 5322 2.2.3: a fold continues the field above. */
			if (!in_field)
				break;
		} else {
			if (in_field)
				add_field(header, msg, field_start, name_len, colon, pos);
			in_field = FALSE;
			name_len = field_name_length(msg + pos, end - pos, &colon);
			if (name_len == 0)
				break;   /* not a field: the body starts here */
			if (header->fields->len >= RFC5322_MAX_FIELDS) {
				g_set_error(error, RFC5322_ERROR, RFC5322_ERROR_TOO_MANY_FIELDS,
				            "More than %d header fields", RFC5322_MAX_FIELDS);
				return NULL;
			}
			in_field = TRUE;
			field_start = pos;
			colon += pos;
		}
		if (next - field_start > RFC5322_MAX_FIELD_LENGTH) {
			g_set_error(error, RFC5322_ERROR, RFC5322_ERROR_FIELD_TOO_LONG,
			            "Header field longer than %d octets", RFC5322_MAX_FIELD_LENGTH);
			return NULL;
		}
		pos = next;
	}
	if (in_field)
		add_field(header, msg, field_start, name_len, colon, pos);
	header->body_offset = pos;
	return g_steal_pointer(&header);
}

const Rfc5322Field *rfc5322_header_find(const Rfc5322Header *header, const char *name)
{
	g_return_val_if_fail(header != NULL && name != NULL, NULL);
	for (guint i = 0; i < header->fields->len; i++) {
		const Rfc5322Field *field = g_ptr_array_index(header->fields, i);
		if (g_ascii_strcasecmp(field->name, name) == 0)
			return field;
	}
	return NULL;
}

const char *rfc5322_header_get(const Rfc5322Header *header, const char *name)
{
	const Rfc5322Field *field = rfc5322_header_find(header, name);
	return field ? field->value : NULL;
}

GPtrArray *rfc5322_header_find_all(const Rfc5322Header *header, const char *name)
{
	g_return_val_if_fail(header != NULL && name != NULL, NULL);
	GPtrArray *found = g_ptr_array_new();
	for (guint i = 0; i < header->fields->len; i++) {
		Rfc5322Field *field = g_ptr_array_index(header->fields, i);
		if (g_ascii_strcasecmp(field->name, name) == 0)
			g_ptr_array_add(found, field);
	}
	return found;
}

/* ---- addresses (RFC 5322 3.4) --------------------------------------------------- */

void rfc5322_address_free(Rfc5322Address *address)
{
	if (!address)
		return;
	g_free(address->display_name);
	g_free(address->addr_spec);
	g_free(address);
}

/* The mailbox being read. */
typedef struct {
	GString *spec;    /* text outside comments, quotes kept, blanks dropped */
	GString *phrase;  /* display name: quotes removed, blanks collapsed */
	gboolean blank;   /* a blank since the phrase's last character */
	char    *angle;   /* what stood between < and >, or NULL */
} Mailbox;

static void mailbox_reset(Mailbox *mb)
{
	g_string_truncate(mb->spec, 0);
	g_string_truncate(mb->phrase, 0);
	mb->blank = FALSE;
	g_clear_pointer(&mb->angle, g_free);
}

static void phrase_append(Mailbox *mb, const char *s, gsize len)
{
	if (mb->blank && mb->phrase->len > 0)
		g_string_append_c(mb->phrase, ' ');
	mb->blank = FALSE;
	g_string_append_len(mb->phrase, s, (gssize)len);
}

static gboolean bad_address(GError **error, const char *why)
{
	g_set_error(error, RFC5322_ERROR, RFC5322_ERROR_BAD_ADDRESS, "Bad address list: %s", why);
	return FALSE;
}

/* RFC 5322 3.2.4: quoted-string.  At s[*i] == '"'; leaves *i after the
 * closing quote, the unquoted text appended to unquoted. */
static gboolean skip_quoted(const char *s, gsize len, gsize *i, GString *unquoted, GError **error)
{
	for (gsize j = *i + 1; j < len; j++) {
		if (s[j] == '\\' && j + 1 < len) {
			g_string_append_c(unquoted, s[++j]);
		} else if (s[j] == '"') {
			*i = j + 1;
			return TRUE;
		} else if (s[j] != '\r' && s[j] != '\n') {
			g_string_append_c(unquoted, s[j]);
		}
	}
	return bad_address(error, "unterminated quoted string");
}

/* RFC 5322 3.2.2: comments nest and are blanks to everything else. */
static gboolean skip_comment(const char *s, gsize len, gsize *i, GError **error)
{
	guint depth = 0;
	for (gsize j = *i; j < len; j++) {
		if (s[j] == '\\') {
			j++;
		} else if (s[j] == '(') {
			if (++depth > RFC5322_MAX_COMMENT_DEPTH)
				return bad_address(error, "comments nested too deep");
		} else if (s[j] == ')') {
			if (--depth == 0) {
				*i = j + 1;
				return TRUE;
			}
		}
	}
	return bad_address(error, "unterminated comment");
}

/* RFC 5322 3.4: angle-addr = "<" addr-spec ">", with the obsolete route
 * "<@a,@b:addr>" (4.4) dropped.  At s[*i] == '<'. */
static gboolean read_angle(const char *s, gsize len, gsize *i, Mailbox *mb, GError **error)
{
	if (mb->angle)
		return bad_address(error, "two <addresses> in one mailbox");
	g_autoptr(GString) spec = g_string_new(NULL);
	gsize j = *i + 1;
	while (j < len && s[j] != '>') {
		if (s[j] == '"') {
			gsize start = j;
			g_autoptr(GString) ignored = g_string_new(NULL);
			if (!skip_quoted(s, len, &j, ignored, error))
				return FALSE;
			g_string_append_len(spec, s + start, (gssize)(j - start));
		} else if (s[j] == '(') {
			if (!skip_comment(s, len, &j, error))
				return FALSE;
		} else if (s[j] == '<') {
			return bad_address(error, "'<' inside <address>");
		} else {
			if (!is_wsp(s[j]) && s[j] != '\r' && s[j] != '\n')
				g_string_append_c(spec, s[j]);
			j++;
		}
	}
	if (j >= len)
		return bad_address(error, "'<' without '>'");
	*i = j + 1;
	const char *addr = spec->str;
	if (addr[0] == '@') {
		const char *colon = strchr(addr, ':');
		if (!colon)
			return bad_address(error, "route without ':'");
		addr = colon + 1;
	}
	mb->angle = g_strdup(addr);
	return TRUE;
}

/* RFC 5322 3.2.3: atext, plus 8-bit bytes for RFC 6532 addresses. */
static gboolean is_atext(char ch)
{
	return g_ascii_isalnum(ch) || (guchar)ch >= 0x80 ||
	       (ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

/* RFC 5322 3.4.1: addr-spec = local-part "@" domain.  Outside quoted
 * strings and domain literals only atext, dots and one '@', with something
 * on both sides of it. */
static gboolean addr_spec_is_plausible(const char *spec)
{
	const char *at = NULL;
	for (const char *p = spec; *p; p++) {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				return FALSE;
		} else if (*p == '[') {
			p = strchr(p, ']');
			if (!p)
				return FALSE;
		} else if (*p == '@') {
			if (at)
				return FALSE;
			at = p;
		} else if (!is_atext(*p) && *p != '.') {
			return FALSE;
		}
	}
	return at != NULL && at != spec && at[1] != '\0';
}

/* The element read so far becomes an address, unless it is empty. */
static gboolean mailbox_finish(Mailbox *mb, GPtrArray *out, GError **error)
{
	if (!mb->angle && mb->spec->len == 0 && mb->phrase->len == 0)
		return TRUE;   /* "a@b, , c@d" */
	const char *spec = mb->angle ? mb->angle : mb->spec->str;
	if (!addr_spec_is_plausible(spec)) {
		g_set_error(error, RFC5322_ERROR, RFC5322_ERROR_BAD_ADDRESS,
		            "Bad address list: \"%s\" is not local@domain", spec);
		return FALSE;
	}
	if (out->len >= RFC5322_MAX_ADDRESSES) {
		g_set_error(error, RFC5322_ERROR, RFC5322_ERROR_TOO_MANY_ADDRESSES,
		            "More than %d addresses", RFC5322_MAX_ADDRESSES);
		return FALSE;
	}
	Rfc5322Address *address = g_new0(Rfc5322Address, 1);
	address->addr_spec = g_strdup(spec);
	if (mb->angle && mb->phrase->len > 0)
		address->display_name = g_strdup(mb->phrase->str);
	g_ptr_array_add(out, address);
	mailbox_reset(mb);
	return TRUE;
}

static gboolean parse_list(const char *s, gsize len, Mailbox *mb, GPtrArray *out, GError **error)
{
	gboolean in_group = FALSE;
	gsize i = 0;
	while (i < len) {
		char ch = s[i];
		if (ch == '"') {
			gsize start = i;
			g_autoptr(GString) unquoted = g_string_new(NULL);
			if (!skip_quoted(s, len, &i, unquoted, error))
				return FALSE;
			g_string_append_len(mb->spec, s + start, (gssize)(i - start));
			phrase_append(mb, unquoted->str, unquoted->len);
		} else if (ch == '(') {
			if (!skip_comment(s, len, &i, error))
				return FALSE;
			mb->blank = TRUE;
		} else if (ch == '<') {
			if (!read_angle(s, len, &i, mb, error))
				return FALSE;
		} else if (ch == '[') {
			/* RFC 5322 3.4.1: a domain literal may hold ':' and ','. */
			const char *close = memchr(s + i, ']', len - i);
			if (!close)
				return bad_address(error, "'[' without ']'");
			gsize n = (gsize)(close - (s + i)) + 1;
			g_string_append_len(mb->spec, s + i, (gssize)n);
			phrase_append(mb, s + i, n);
			i += n;
		} else if (ch == ':' && !mb->angle) {
			/* RFC 5322 3.4: group = display-name ":" [group-list] ";" */
			if (in_group)
				return bad_address(error, "group inside a group");
			in_group = TRUE;
			mailbox_reset(mb);
			i++;
		} else if (ch == ',' || ch == ';') {
			if (!mailbox_finish(mb, out, error))
				return FALSE;
			mailbox_reset(mb);
			if (ch == ';')
				in_group = FALSE;
			i++;
		} else if (ch == '>' || ch == ')') {
			return bad_address(error, "unbalanced '>' or ')'");
		} else if (is_wsp(ch) || ch == '\r' || ch == '\n') {
			mb->blank = TRUE;
			i++;
		} else {
			g_string_append_c(mb->spec, ch);
			phrase_append(mb, &ch, 1);
			i++;
		}
	}
	return mailbox_finish(mb, out, error);
}

GPtrArray *rfc5322_parse_address_list(const char *value, gsize len, GError **error)
{
	g_return_val_if_fail(value != NULL || len == 0, NULL);
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)rfc5322_address_free);
	Mailbox mb = { g_string_new(NULL), g_string_new(NULL), FALSE, NULL };
	gboolean ok = parse_list(value, len, &mb, out, error);
	g_string_free(mb.spec, TRUE);
	g_string_free(mb.phrase, TRUE);
	g_free(mb.angle);
	return ok ? g_steal_pointer(&out) : NULL;
}

/* ---- date (RFC 5322 3.3) -------------------------------------------------------- */

char *rfc5322_format_date(gint64 t_us, int zone_minutes)
{
	/* English names whatever the locale: strftime's %a would translate. */
	static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	g_return_val_if_fail(zone_minutes >= -RFC5322_MAX_ZONE_MINUTES &&
	                     zone_minutes <= RFC5322_MAX_ZONE_MINUTES, NULL);

	/* Seconds, rounded down also before 1970. */
	gint64 secs = t_us / G_USEC_PER_SEC - (t_us % G_USEC_PER_SEC < 0 ? 1 : 0);
	g_autoptr(GDateTime) local = g_date_time_new_from_unix_utc(secs + (gint64)zone_minutes * 60);
	if (!local)
		return NULL;

	int zone = ABS(zone_minutes);
	/* RFC 5322 3.3: [day-of-week ","] day month year hour ":" minute ":" second zone */
	return g_strdup_printf("%s, %d %s %04d %02d:%02d:%02d %c%02d%02d",
	                       days[g_date_time_get_day_of_week(local) - 1],
	                       g_date_time_get_day_of_month(local),
	                       months[g_date_time_get_month(local) - 1],
	                       g_date_time_get_year(local),
	                       g_date_time_get_hour(local),
	                       g_date_time_get_minute(local),
	                       g_date_time_get_second(local),
	                       zone_minutes < 0 ? '-' : '+', zone / 60, zone % 60);
}
