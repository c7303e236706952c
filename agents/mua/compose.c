/* agents/mua/compose.c - writing a message the way a mail client does.
 *
 * RFC 5322 3.6 (the fields a client writes), 2.2.3 (folding); RFC 2045 6.7
 * and 6.8 (quoted-printable, base64); RFC 2046 5.1 (multipart/mixed);
 * RFC 2047 (encoded words); RFC 2231 (non-ASCII file names).  Everything
 * leaves here 7-bit clean with CRLF line endings, ready for SMTP DATA.
 */
#include "agents/mua/compose.h"
#include "agents/common/rfc5322.h"

#include <string.h>

G_DEFINE_QUARK(compose-error-quark, compose_error)

/* RFC 2047 2: "=?UTF-8?B?" and "?=" around the base64. */
#define WORD_PREFIX "=?UTF-8?B?"
#define WORD_SUFFIX "?="
/* Input bytes per encoded word: 45 bytes are 60 base64 characters, and 60
 * plus the 12 around them stay within COMPOSE_MAX_ENCODED_WORD. */
#define WORD_MAX_INPUT 45
/* RFC 2231 file names are written whole on one line; this keeps the line
 * (three characters per byte at worst) within COMPOSE_MAX_LINE. */
#define COMPOSE_MAX_FILENAME 255

const char *compose_error_to_string(ComposeError e)
{
	switch (e) {
	case COMPOSE_ERROR_ADDRESS:      return "address";
	case COMPOSE_ERROR_NO_RECIPIENT: return "no-recipient";
	case COMPOSE_ERROR_INVALID:      return "invalid";
	case COMPOSE_ERROR_TOO_LARGE:    return "too-large";
	case COMPOSE_ERROR_BOUNDARY:     return "boundary";
	}
	return "unknown";
}

const char *compose_cte_to_string(ComposeCte cte)
{
	switch (cte) {
	case COMPOSE_CTE_7BIT:             return "7bit";
	case COMPOSE_CTE_QUOTED_PRINTABLE: return "quoted-printable";
	case COMPOSE_CTE_BASE64:           return "base64";
	}
	return "unknown";
}

/* ---- character classes ------------------------------------------------------ */

static gboolean is_printable_ascii(const char *s)
{
	for (const guchar *p = (const guchar *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return FALSE;
	return TRUE;
}

/* RFC 5322 3.2.3: atext. */
static gboolean is_atext(char c)
{
	return g_ascii_isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* RFC 2045 5.1: token characters (for type and subtype). */
static gboolean is_token(const char *s, gsize len)
{
	if (len == 0)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c))
			return FALSE;
	}
	return TRUE;
}

/* ---- RFC 2047 encoded words ----------------------------------------------------- */

/* Text that can stand in a header as it is: printable ASCII, and nothing
 * that a reader would take for an encoded word (RFC 2047 5: "=?"). */
static gboolean needs_encoding(const char *text)
{
	return !is_printable_ascii(text) || strstr(text, "=?") != NULL;
}

char *compose_encode_words(const char *text)
{
	g_return_val_if_fail(text != NULL, NULL);
	if (!g_utf8_validate(text, -1, NULL))
		return NULL;
	if (!needs_encoding(text))
		return g_strdup(text);

	GString *out = g_string_new(NULL);
	const char *p = text;
	while (*p) {
		/* RFC 2047 5: each word holds whole characters. */
		const char *end = p;
		while (*end) {
			const char *next = g_utf8_next_char(end);
			if (next - p > WORD_MAX_INPUT)
				break;
			end = next;
		}
		g_autofree char *b64 = g_base64_encode((const guchar *)p, (gsize)(end - p));
		if (out->len)
			g_string_append_c(out, ' ');
		g_string_append_printf(out, WORD_PREFIX "%s" WORD_SUFFIX, b64);
		p = end;
	}
	return g_string_free(out, FALSE);
}

/* RFC 2047 4.2: the Q encoding, "_" for a space and =XX for a byte. */
static GString *decode_q(const char *s, gsize len)
{
	GString *out = g_string_sized_new(len);
	for (gsize i = 0; i < len; i++) {
		if (s[i] == '_') {
			g_string_append_c(out, ' ');
		} else if (s[i] == '=' && i + 2 < len && g_ascii_isxdigit(s[i + 1]) && g_ascii_isxdigit(s[i + 2])) {
			g_string_append_c(out, (char)(g_ascii_xdigit_value(s[i + 1]) * 16 + g_ascii_xdigit_value(s[i + 2])));
			i += 2;
		} else {
			g_string_append_c(out, s[i]);
		}
	}
	return out;
}

/* One encoded word at p ("=?charset?X?text?="): its text in UTF-8 and its
 * length in *len_r, or NULL when it is not one or does not decode. */
static char *decode_word(const char *p, gsize *len_r)
{
	const char *cs = p + 2;
	const char *q1 = strchr(cs, '?');
	if (!q1 || q1 == cs || !q1[1] || q1[2] != '?')
		return NULL;
	char enc = g_ascii_toupper(q1[1]);
	const char *text = q1 + 3;
	const char *end = strstr(text, "?=");
	if (!end || (enc != 'B' && enc != 'Q') || memchr(text, ' ', (gsize)(end - text)))
		return NULL;
	/* RFC 2231 5: "charset*language" */
	g_autofree char *charset = g_strndup(cs, strcspn(cs, "*?"));
	GString *raw;
	if (enc == 'B') {
		g_autofree char *b64 = g_strndup(text, (gsize)(end - text));
		gsize n = 0;
		guchar *bytes = g_base64_decode(b64, &n);
		raw = g_string_new_len((const char *)bytes, (gssize)n);
		g_free(bytes);
	} else {
		raw = decode_q(text, (gsize)(end - text));
	}
	char *utf8 = NULL;
	if (g_ascii_strcasecmp(charset, "UTF-8") == 0 || g_ascii_strcasecmp(charset, "US-ASCII") == 0) {
		if (g_utf8_validate(raw->str, (gssize)raw->len, NULL) && !memchr(raw->str, 0, raw->len))
			utf8 = g_strndup(raw->str, raw->len);
	} else {
		utf8 = g_convert(raw->str, (gssize)raw->len, "UTF-8", charset, NULL, NULL, NULL);
		if (utf8 && strlen(utf8) == 0 && raw->len > 0)
			g_clear_pointer(&utf8, g_free);
	}
	g_string_free(raw, TRUE);
	if (utf8)
		*len_r = (gsize)(end + 2 - p);
	return utf8;
}

char *compose_decode_words(const char *text)
{
	g_return_val_if_fail(text != NULL, NULL);
	GString *out = g_string_new(NULL);
	gboolean after_word = FALSE;
	gsize blank_start = 0;   /* where the blanks after the last word began in out */
	for (const char *p = text; *p;) {
		gsize len;
		char *word = p[0] == '=' && p[1] == '?' ? decode_word(p, &len) : NULL;
		if (word) {
			/* RFC 2047 6.2: blanks between two encoded words are not text */
			if (after_word)
				g_string_truncate(out, blank_start);
			g_string_append(out, word);
			g_free(word);
			p += len;
			after_word = TRUE;
			blank_start = out->len;
			continue;
		}
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			after_word = FALSE;
		g_string_append_c(out, *p++);
	}
	char *valid = g_utf8_make_valid(out->str, (gssize)out->len);
	g_string_free(out, TRUE);
	return valid;
}

/* ---- mailboxes ---------------------------------------------------------------- */

/* RFC 5322 3.2.5: a phrase of atoms separated by single spaces needs no quotes. */
static gboolean is_plain_phrase(const char *name)
{
	if (!*name || name[0] == ' ')
		return FALSE;
	for (const char *p = name; *p; p++) {
		if (*p == ' ') {
			if (p[1] == ' ' || p[1] == '\0')
				return FALSE;
			continue;
		}
		if (!is_atext(*p))
			return FALSE;
	}
	return strstr(name, "=?") == NULL;
}

char *compose_format_mailbox(const char *name, const char *address)
{
	g_return_val_if_fail(address != NULL, NULL);
	if (!name || !*name)
		return g_strdup(address);
	if (needs_encoding(name)) {
		/* RFC 2047 5 (3): encoded words may stand for a phrase. */
		g_autofree char *words = compose_encode_words(name);
		if (words)
			return g_strdup_printf("%s <%s>", words, address);
		return g_strdup(address);   /* not UTF-8: leave the name out */
	}
	if (is_plain_phrase(name))
		return g_strdup_printf("%s <%s>", name, address);
	/* RFC 5322 3.2.4: a quoted-string, with \ and " escaped. */
	GString *q = g_string_new("\"");
	for (const char *p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(q, '\\');
		g_string_append_c(q, *p);
	}
	g_string_append_printf(q, "\" <%s>", address);
	return g_string_free(q, FALSE);
}

/* ---- header fields ------------------------------------------------------------- */

void compose_append_field(GString *out, const char *name, const char *value)
{
	g_return_if_fail(out != NULL && name != NULL && value != NULL);
	/* Trailing blanks mean nothing, and a fold before them would leave a
	 * line of blanks alone, which RFC 5322 3.2.2 forbids. */
	gsize len = strlen(value);
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;

	g_string_append_printf(out, "%s: ", name);
	gsize col = strlen(name) + 2;
	gboolean line_has_word = FALSE;
	gsize i = 0;
	while (i < len) {
		/* A segment: the blank before a word (none for the first) and the word. */
		gsize start = i;
		if (value[i] == ' ')
			i++;
		while (i < len && value[i] != ' ')
			i++;
		gsize seg = i - start;
		/* RFC 5322 2.2.3: fold by putting CRLF before an existing blank. */
		if (line_has_word && value[start] == ' ' && col + seg > COMPOSE_FOLD_WIDTH) {
			g_string_append(out, "\r\n");
			col = 0;
		}
		g_string_append_len(out, value + start, seg);
		col += seg;
		line_has_word = TRUE;
	}
	g_string_append(out, "\r\n");
}

/* ---- transfer encodings -------------------------------------------------------- */

/* Append one encoded unit (a character or "=XX"), breaking the line softly
 * first when it would not fit (RFC 2045 6.7 (5): the "=" counts). */
static void qp_put(GString *out, gsize *col, const char *unit, gsize n)
{
	if (*col + n > COMPOSE_ENCODED_LINE - 1) {
		g_string_append(out, "=\r\n");
		*col = 0;
	}
	g_string_append_len(out, unit, n);
	*col += n;
}

void compose_append_quoted_printable(GString *out, const char *data, gsize len)
{
	g_return_if_fail(out != NULL && (data != NULL || len == 0));
	gsize i = 0;
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		gsize end = nl ? (gsize)(nl - data) : len;
		gsize line_end = end;
		if (line_end > i && data[line_end - 1] == '\r')
			line_end--;   /* CRLF or LF: both are one hard break */
		gsize col = 0;
		for (gsize j = i; j < line_end; j++) {
			guchar c = (guchar)data[j];
			gboolean last = j + 1 == line_end;
			char unit[4];
			/* RFC 2045 6.7 (2): literal printables but "="; (3): blanks
			 * literal unless they end the line, where they would be lost. */
			if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
				unit[0] = (char)c;
				qp_put(out, &col, unit, 1);
			} else {
				g_snprintf(unit, sizeof unit, "=%02X", c);
				qp_put(out, &col, unit, 3);
			}
		}
		g_string_append(out, "\r\n");
		i = nl ? end + 1 : len;
	}
}

void compose_append_base64(GString *out, const guint8 *data, gsize len)
{
	g_return_if_fail(out != NULL && (data != NULL || len == 0));
	g_autofree char *b64 = g_base64_encode(data, len);
	gsize n = strlen(b64);
	for (gsize i = 0; i < n; i += COMPOSE_ENCODED_LINE) {
		g_string_append_len(out, b64 + i, MIN(COMPOSE_ENCODED_LINE, n - i));
		g_string_append(out, "\r\n");
	}
}

/* ---- the text part ------------------------------------------------------------- */

/* The body with CRLF endings, and whether it can travel as 7bit: ASCII
 * without NUL or a lone CR, no line over COMPOSE_MAX_LINE (RFC 5322 2.1.1,
 * RFC 2045 2.7). */
static GString *normalize_body(const char *body, gboolean *seven_bit_r)
{
	GString *out = g_string_sized_new(strlen(body) + 64);
	gboolean seven = TRUE;
	gsize line = 0;
	for (const char *p = body; *p; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;   /* the LF that follows writes the ending */
		if (*p == '\n') {
			g_string_append(out, "\r\n");
			line = 0;
			continue;
		}
		if ((guchar)*p >= 0x80 || *p == '\r')
			seven = FALSE;
		if (++line > COMPOSE_MAX_LINE)
			seven = FALSE;
		g_string_append_c(out, *p);
	}
	if (out->len && !g_str_has_suffix(out->str, "\r\n"))
		g_string_append(out, "\r\n");
	*seven_bit_r = seven;
	return out;
}

/* ---- addresses ----------------------------------------------------------------- */

/* Parse one address list (NULL or blank: none) into out, checking every
 * mailbox has an addr-spec with an "@". */
static gboolean parse_list(const char *field, const char *value, GPtrArray **list_r, GError **error)
{
	*list_r = NULL;
	if (!value)
		return TRUE;
	g_autofree char *trimmed = g_strstrip(g_strdup(value));
	if (!*trimmed)
		return TRUE;
	GError *local = NULL;
	GPtrArray *list = rfc5322_parse_address_list(trimmed, strlen(trimmed), &local);
	if (!list) {
		g_set_error(error, COMPOSE_ERROR, COMPOSE_ERROR_ADDRESS, "%s: %s", field, local->message);
		g_error_free(local);
		return FALSE;
	}
	for (guint i = 0; i < list->len; i++) {
		const Rfc5322Address *a = g_ptr_array_index(list, i);
		const char *at = strrchr(a->addr_spec, '@');
		if (!at || at == a->addr_spec || !at[1] || !is_printable_ascii(a->addr_spec) ||
		    strchr(a->addr_spec, ' ')) {
			g_set_error(error, COMPOSE_ERROR, COMPOSE_ERROR_ADDRESS,
			            "%s: \"%s\" is not an address", field, a->addr_spec);
			g_ptr_array_unref(list);
			return FALSE;
		}
	}
	*list_r = list;
	return TRUE;
}

GPtrArray *compose_recipients(const char *to, const char *cc, const char *bcc, GError **error)
{
	const char *const fields[] = { "To", "Cc", "Bcc" };
	const char *const values[] = { to, cc, bcc };
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint f = 0; f < G_N_ELEMENTS(fields); f++) {
		g_autoptr(GPtrArray) list = NULL;
		if (!parse_list(fields[f], values[f], &list, error))
			return NULL;
		for (guint i = 0; list && i < list->len; i++) {
			const Rfc5322Address *a = g_ptr_array_index(list, i);
			char *key = g_ascii_strdown(a->addr_spec, -1);
			if (!g_hash_table_add(seen, key))
				continue;
			if (out->len == COMPOSE_MAX_RECIPIENTS) {
				g_set_error(error, COMPOSE_ERROR, COMPOSE_ERROR_TOO_LARGE,
				            "more than %d recipients", COMPOSE_MAX_RECIPIENTS);
				return NULL;
			}
			g_ptr_array_add(out, g_strdup(a->addr_spec));
		}
	}
	if (out->len == 0) {
		g_set_error_literal(error, COMPOSE_ERROR, COMPOSE_ERROR_NO_RECIPIENT,
		                    "the message has no recipient");
		return NULL;
	}
	return g_steal_pointer(&out);
}

/* "Name <a@b>, c@d": a parsed list written back the way we write mailboxes. */
static char *format_list(const GPtrArray *list)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < list->len; i++) {
		const Rfc5322Address *a = g_ptr_array_index(list, i);
		g_autofree char *mb = compose_format_mailbox(a->display_name, a->addr_spec);
		g_string_append_printf(s, "%s%s", i ? ", " : "", mb);
	}
	return g_string_free(s, FALSE);
}

/* ---- attachments --------------------------------------------------------------- */

/* RFC 2231 4: attribute-char is what may stand unencoded in ext-value. */
static gboolean is_attr_char(guchar c)
{
	return g_ascii_isalnum(c) || (c && strchr("!#$&+-.^_`|~", c));
}

static void append_attachment(GString *out, const char *boundary, const ComposeAttachment *a)
{
	const char *type = a->content_type;
	const char *slash = type ? strchr(type, '/') : NULL;
	if (!slash || !is_token(type, (gsize)(slash - type)) || !is_token(slash + 1, strlen(slash + 1)))
		type = "application/octet-stream";
	const char *name = a->filename && *a->filename ? a->filename : "attachment";

	g_string_append_printf(out, "--%s\r\n", boundary);
	if (is_printable_ascii(name) && !strpbrk(name, "\"\\")) {
		g_autofree char *ct = g_strdup_printf("%s; name=\"%s\"", type, name);
		g_autofree char *cd = g_strdup_printf("attachment; filename=\"%s\"", name);
		compose_append_field(out, "Content-Type", ct);
		compose_append_field(out, "Content-Disposition", cd);
	} else {
		/* RFC 2231 4: filename*=UTF-8''%E2%82%AC.txt; the name parameter
		 * in RFC 2047 form, as widely deployed clients also write it. */
		g_autofree char *words = compose_encode_words(name);
		GString *ext = g_string_new("UTF-8''");
		for (const guchar *p = (const guchar *)name; *p; p++) {
			if (is_attr_char(*p))
				g_string_append_c(ext, (char)*p);
			else
				g_string_append_printf(ext, "%%%02X", *p);
		}
		g_autofree char *ct = g_strdup_printf("%s; name=\"%s\"", type, words ? words : "attachment");
		g_autofree char *cd = g_strdup_printf("attachment; filename*=%s", ext->str);
		g_string_free(ext, TRUE);
		compose_append_field(out, "Content-Type", ct);
		compose_append_field(out, "Content-Disposition", cd);
	}
	compose_append_field(out, "Content-Transfer-Encoding", compose_cte_to_string(COMPOSE_CTE_BASE64));
	g_string_append(out, "\r\n");
	gsize len = 0;
	const guint8 *data = a->data ? g_bytes_get_data(a->data, &len) : NULL;
	compose_append_base64(out, data, len);
}

/* RFC 2046 5.1.1: bcharsnospace, 1 to 70 of them (we allow no spaces). */
static gboolean boundary_is_valid(const char *b)
{
	gsize len = b ? strlen(b) : 0;
	if (len == 0 || len > COMPOSE_MAX_BOUNDARY)
		return FALSE;
	for (const char *p = b; *p; p++)
		if (!g_ascii_isalnum(*p) && !strchr("'()+_,-./:=?", *p))
			return FALSE;
	return TRUE;
}

/* RFC 5322 3.6.4: msg-id = "<" id-left "@" id-right ">", no blanks. */
static gboolean message_id_is_valid(const char *id)
{
	gsize len = id ? strlen(id) : 0;
	return len >= 5 && id[0] == '<' && id[len - 1] == '>' && strchr(id, '@') &&
	       is_printable_ascii(id) && !strchr(id, ' ');
}

/* Header text from the user: line breaks and other controls become spaces
 * (a typed subject is one line; a CR LF in it would inject fields). */
static char *one_line(const char *s)
{
	char *copy = g_strdup(s);
	for (char *p = copy; *p; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return copy;
}

static gboolean invalid(GError **error, const char *what)
{
	g_set_error(error, COMPOSE_ERROR, COMPOSE_ERROR_INVALID, "%s", what);
	return FALSE;
}

/* ---- the message --------------------------------------------------------------- */

/* The checks that need no output yet. */
static gboolean check_input(const ComposeInput *in, GError **error)
{
	if (!in->from_address || !*in->from_address || !is_printable_ascii(in->from_address) ||
	    strchr(in->from_address, ' ') || !strchr(in->from_address, '@'))
		return invalid(error, "the sender's address is missing or malformed");
	if (!message_id_is_valid(in->message_id))
		return invalid(error, "the Message-ID must look like <id@domain>");
	const char *fields[] = { in->in_reply_to, in->references, in->user_agent };
	for (guint i = 0; i < G_N_ELEMENTS(fields); i++)
		if (fields[i] && !is_printable_ascii(fields[i]))
			return invalid(error, "threading fields and User-Agent must be printable ASCII");
	const char *texts[] = { in->from_name, in->subject, in->body };
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++)
		if (texts[i] && !g_utf8_validate(texts[i], -1, NULL))
			return invalid(error, "the name, subject and text must be UTF-8");
	if (in->n_attachments > COMPOSE_MAX_ATTACHMENTS) {
		g_set_error(error, COMPOSE_ERROR, COMPOSE_ERROR_TOO_LARGE, "more than %d attachments",
		            COMPOSE_MAX_ATTACHMENTS);
		return FALSE;
	}
	gsize total = in->body ? strlen(in->body) : 0;
	for (guint i = 0; i < in->n_attachments; i++) {
		const ComposeAttachment *a = &in->attachments[i];
		if (a->filename && (!g_utf8_validate(a->filename, -1, NULL) ||
		                    strlen(a->filename) > COMPOSE_MAX_FILENAME))
			return invalid(error, "an attachment's file name is not UTF-8 or too long");
		total += a->data ? g_bytes_get_size(a->data) : 0;
	}
	if (total > COMPOSE_MAX_MESSAGE) {
		g_set_error(error, COMPOSE_ERROR, COMPOSE_ERROR_TOO_LARGE,
		            "the message is larger than %d bytes", COMPOSE_MAX_MESSAGE);
		return FALSE;
	}
	if (in->n_attachments > 0 && !boundary_is_valid(in->boundary))
		return invalid(error, "the multipart boundary is missing or malformed");
	return TRUE;
}

GBytes *compose_message(const ComposeInput *in, GError **error)
{
	g_return_val_if_fail(in != NULL, NULL);
	if (!check_input(in, error))
		return NULL;
	/* The envelope is the caller's business; here it only proves the
	 * address lists parse and name somebody (a draft may name nobody). */
	GError *local = NULL;
	g_autoptr(GPtrArray) envelope = compose_recipients(in->to, in->cc, in->bcc, &local);
	if (!envelope && !(in->draft && g_error_matches(local, COMPOSE_ERROR, COMPOSE_ERROR_NO_RECIPIENT))) {
		g_propagate_error(error, local);
		return NULL;
	}
	g_clear_error(&local);
	g_autoptr(GPtrArray) to = NULL, cc = NULL;
	if (!parse_list("To", in->to, &to, error) || !parse_list("Cc", in->cc, &cc, error))
		return NULL;
	g_autofree char *date = rfc5322_format_date(in->date_us, in->zone_minutes);
	if (!date) {
		invalid(error, "the date is out of range");
		return NULL;
	}

	/* The text part first: its encoding decides a header field. */
	gboolean seven_bit;
	g_autoptr(GString) text = normalize_body(in->body ? in->body : "", &seven_bit);
	ComposeCte cte = seven_bit ? COMPOSE_CTE_7BIT : COMPOSE_CTE_QUOTED_PRINTABLE;
	if (cte == COMPOSE_CTE_QUOTED_PRINTABLE) {
		g_autoptr(GString) qp = g_string_sized_new(text->len * 3 / 2 + 16);
		compose_append_quoted_printable(qp, text->str, text->len);
		g_string_assign(text, qp->str);
	}
	if (in->n_attachments > 0) {
		/* RFC 2046 5.1.1: the boundary must not occur in the parts.
		 * base64 never holds "--"; the text might. */
		g_autofree char *delim = g_strconcat("--", in->boundary, NULL);
		if (strstr(text->str, delim)) {
			g_set_error(error, COMPOSE_ERROR, COMPOSE_ERROR_BOUNDARY,
			            "the boundary occurs in the text");
			return NULL;
		}
	}

	GString *m = g_string_sized_new(text->len + 1024);
	/* RFC 5322 3.6: the order is free; this is the one clients use. */
	compose_append_field(m, "Date", date);
	g_autofree char *from_name = in->from_name ? one_line(in->from_name) : NULL;
	g_autofree char *from = compose_format_mailbox(from_name, in->from_address);
	compose_append_field(m, "From", from);
	if (to && to->len) {
		g_autofree char *v = format_list(to);
		compose_append_field(m, "To", v);
	} else if ((!cc || cc->len == 0) && envelope) {
		/* RFC 5322 A.1.3: everyone is in Bcc, so say nobody by name. */
		compose_append_field(m, "To", "undisclosed-recipients:;");
	}
	if (cc && cc->len) {
		g_autofree char *v = format_list(cc);
		compose_append_field(m, "Cc", v);
	}
	if (in->subject) {
		g_autofree char *line = one_line(in->subject);
		g_autofree char *subject = compose_encode_words(line);
		compose_append_field(m, "Subject", subject);
	}
	compose_append_field(m, "Message-ID", in->message_id);
	if (in->in_reply_to)
		compose_append_field(m, "In-Reply-To", in->in_reply_to);
	if (in->references)
		compose_append_field(m, "References", in->references);
	if (in->user_agent)
		compose_append_field(m, "User-Agent", in->user_agent);
	/* RFC 2045 4 */
	compose_append_field(m, "MIME-Version", "1.0");

	if (in->n_attachments == 0) {
		compose_append_field(m, "Content-Type", "text/plain; charset=UTF-8");
		compose_append_field(m, "Content-Transfer-Encoding", compose_cte_to_string(cte));
		g_string_append(m, "\r\n");
		g_string_append_len(m, text->str, text->len);
		gsize len = m->len;
		return g_bytes_new_take(g_string_free(m, FALSE), len);
	}

	/* RFC 2046 5.1.3: multipart/mixed, the text first, then each file. */
	g_autofree char *ct = g_strdup_printf("multipart/mixed; boundary=\"%s\"", in->boundary);
	compose_append_field(m, "Content-Type", ct);
	g_string_append(m, "\r\n");
	/* RFC 2046 5.1.1: a preamble for readers that know no MIME. */
	g_string_append(m, "This is a multi-part message in MIME format.\r\n");
	g_string_append_printf(m, "--%s\r\n", in->boundary);
	compose_append_field(m, "Content-Type", "text/plain; charset=UTF-8");
	compose_append_field(m, "Content-Transfer-Encoding", compose_cte_to_string(cte));
	g_string_append(m, "\r\n");
	g_string_append_len(m, text->str, text->len);
	for (guint i = 0; i < in->n_attachments; i++)
		append_attachment(m, in->boundary, &in->attachments[i]);
	g_string_append_printf(m, "--%s--\r\n", in->boundary);
	gsize len = m->len;
	return g_bytes_new_take(g_string_free(m, FALSE), len);
}

/* ---- replies -------------------------------------------------------------------- */

char *compose_reply_subject(const char *subject)
{
	if (!subject)
		return g_strdup("Re: ");
	const char *s = subject;
	while (*s == ' ')
		s++;
	if (g_ascii_strncasecmp(s, "re:", 3) == 0)
		return g_strdup(s);
	return g_strconcat("Re: ", s, NULL);
}

char *compose_reply_references(const char *parent_references, const char *parent_in_reply_to,
                               const char *parent_message_id)
{
	const char *base = parent_references && *parent_references ? parent_references
	                 : parent_in_reply_to && *parent_in_reply_to ? parent_in_reply_to : NULL;
	gboolean has_id = parent_message_id && *parent_message_id;
	if (!base && !has_id)
		return NULL;
	if (!base)
		return g_strdup(parent_message_id);
	if (!has_id)
		return g_strdup(base);
	return g_strconcat(base, " ", parent_message_id, NULL);
}
