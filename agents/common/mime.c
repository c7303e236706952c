/* agents/common/mime.c - split a message into its MIME parts.
 *
 * RFC 5322 2.2 (header fields, folding), RFC 2045 5 and 6 (Content-Type,
 * Content-Transfer-Encoding), RFC 2046 5.1 (multipart boundaries) and 5.2.1
 * (message/rfc822), RFC 2183 (Content-Disposition).  Works on offsets only:
 * no byte of the message is copied except header values.
 */
#include "agents/common/mime.h"

#include <string.h>

typedef struct {
	guint n_parts;   /* parts made so far, bounded by MIME_MAX_PARTS */
} MimeParser;

/* ---- lines and header fields ------------------------------------------- */

/* The end of the line starting at pos: just after its '\n', or end. */
static gsize line_next(const char *data, gsize pos, gsize end)
{
	const char *nl = memchr(data + pos, '\n', end - pos);
	return nl ? (gsize)(nl - data) + 1 : end;
}

static gboolean line_is_blank(const char *data, gsize pos, gsize end)
{
	if (pos < end && data[pos] == '\n')
		return TRUE;
	return pos + 1 < end && data[pos] == '\r' && data[pos + 1] == '\n';
}

static gboolean is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Length of the field name if the line at pos starts a header field, else
 * 0.  RFC 5322 3.6.8: ftext is printable US-ASCII except ':'; RFC 5322 4.5
 * (obsolete syntax) allows white space before the colon. */
static gsize field_name_len(const char *data, gsize pos, gsize end)
{
	gsize i = pos;
	while (i < end && data[i] >= 33 && data[i] <= 126 && data[i] != ':')
		i++;
	gsize name_len = i - pos;
	while (i < end && is_wsp(data[i]))
		i++;
	if (name_len == 0 || i >= end || data[i] != ':')
		return 0;
	return name_len;
}

gboolean mime_header_next(const char *data, gsize *pos, gsize end, MimeHeaderField *field_r)
{
	g_return_val_if_fail(data != NULL || end == 0, FALSE);
	g_return_val_if_fail(pos != NULL && field_r != NULL, FALSE);

	while (*pos < end) {
		gsize start = *pos;
		if (line_is_blank(data, start, end)) {
			*pos = end;
			return FALSE;
		}
		gsize next = line_next(data, start, end);
		gsize name_len = field_name_len(data, start, end);
		*pos = next;
		if (name_len == 0)
			continue;  /* not a field (or a stray continuation): skip */
		/* RFC 5322 2.2.3: a line starting with white space continues the field */
		while (*pos < end && is_wsp(data[*pos]))
			*pos = line_next(data, *pos, end);
		field_r->start = start;
		field_r->name_len = name_len;
		field_r->value_start = (const char *)memchr(data + start, ':', next - start) - data + 1;
		field_r->end = *pos;
		return TRUE;
	}
	return FALSE;
}

gboolean mime_header_field_is(const char *data, const MimeHeaderField *field, const char *name)
{
	gsize n = strlen(name);
	return n == field->name_len && g_ascii_strncasecmp(data + field->start, name, n) == 0;
}

char *mime_header_field_value(const char *data, const MimeHeaderField *field)
{
	GString *v = g_string_sized_new(field->end - field->value_start);
	for (gsize i = field->value_start; i < field->end; i++) {
		/* RFC 5322 2.2.3: unfolding removes the line breaks, keeps the WSP */
		if (data[i] != '\r' && data[i] != '\n' && data[i] != '\0')
			g_string_append_c(v, data[i]);
	}
	g_strstrip(v->str);
	v->len = strlen(v->str);
	return g_string_free(v, FALSE);
}

char *mime_part_header_get(const char *data, const MimePart *part, const char *name)
{
	gsize pos = part->header_start;
	MimeHeaderField f;
	while (mime_header_next(data, &pos, part->header_end, &f)) {
		if (mime_header_field_is(data, &f, name))
			return mime_header_field_value(data, &f);
	}
	return NULL;
}

/* Where the header starting at start ends (after its blank line).  A part
 * whose first line is not a header field has no header at all: it is all
 * body, which is how a message without a header still reads sensibly. */
static gsize header_find_end(const char *data, gsize start, gsize end)
{
	if (line_is_blank(data, start, end))
		return line_next(data, start, end);
	if (field_name_len(data, start, end) == 0)
		return start;
	gsize pos = start;
	while (pos < end) {
		if (line_is_blank(data, pos, end))
			return line_next(data, pos, end);
		pos = line_next(data, pos, end);
	}
	return end;
}

/* ---- structured values: Content-Type and friends ------------------------ */

/* RFC 2045 5.1: tspecials, which end a token. */
static gboolean is_token_char(char c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Skip white space and comments.  RFC 5322 3.2.2: comments nest, so a depth
 * counter (not recursion) follows them; an unclosed comment ends the value. */
static void skip_cfws(const char *s, gsize *i)
{
	guint depth = 0;
	while (s[*i] != '\0') {
		char c = s[*i];
		if (depth > 0 && c == '\\' && s[*i + 1] != '\0') {
			*i += 2;
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !g_ascii_isspace(c))
			return;
		(*i)++;
	}
}

static char *read_token(const char *s, gsize *i)
{
	gsize start = *i;
	while (is_token_char(s[*i]))
		(*i)++;
	return *i > start ? g_strndup(s + start, *i - start) : NULL;
}

/* RFC 5322 3.2.4: a quoted-string, backslash escapes removed.  An unclosed
 * quote runs to the end of the value. */
static char *read_quoted(const char *s, gsize *i)
{
	GString *out = g_string_new(NULL);
	(*i)++;
	while (s[*i] != '\0' && s[*i] != '"') {
		if (s[*i] == '\\' && s[*i + 1] != '\0')
			(*i)++;
		g_string_append_c(out, s[(*i)++]);
	}
	if (s[*i] == '"')
		(*i)++;
	return g_string_free(out, FALSE);
}

static void param_free(gpointer p)
{
	MimeParam *param = p;
	g_free(param->name);
	g_free(param->value);
	g_free(param);
}

/* RFC 2045 5.1: *(";" attribute "=" value).  A broken parameter is skipped
 * up to the next ';' rather than spoiling those after it. */
static void parse_params(const char *s, gsize i, GPtrArray *params)
{
	for (;;) {
		skip_cfws(s, &i);
		if (s[i] == '\0')
			return;
		if (s[i] != ';') {
			/* garbage between parameters: resynchronise on ';' */
			const char *semi = strchr(s + i, ';');
			if (!semi)
				return;
			i = semi - s;
		}
		i++;
		skip_cfws(s, &i);
		g_autofree char *name = read_token(s, &i);
		skip_cfws(s, &i);
		if (!name || s[i] != '=')
			continue;
		i++;
		skip_cfws(s, &i);
		char *value = s[i] == '"' ? read_quoted(s, &i) : read_token(s, &i);
		if (!value)
			continue;
		if (params->len >= MIME_MAX_PARAMS) {
			g_free(value);
			continue;
		}
		MimeParam *p = g_new0(MimeParam, 1);
		p->name = g_steal_pointer(&name);
		p->value = value;
		g_ptr_array_add(params, p);
	}
}

/* RFC 2045 5.1: type "/" subtype *(";" parameter).  FALSE if the value is
 * not a media type, in which case RFC 2045 5.2 says to assume text/plain. */
static gboolean parse_content_type(const char *value, MimePart *part)
{
	gsize i = 0;
	skip_cfws(value, &i);
	g_autofree char *type = read_token(value, &i);
	skip_cfws(value, &i);
	if (!type || value[i] != '/')
		return FALSE;
	i++;
	skip_cfws(value, &i);
	g_autofree char *subtype = read_token(value, &i);
	if (!subtype)
		return FALSE;
	g_free(part->type);
	g_free(part->subtype);
	part->type = g_ascii_strdown(type, -1);
	part->subtype = g_ascii_strdown(subtype, -1);
	parse_params(value, i, part->params);
	return TRUE;
}

/* RFC 2183 2: disposition-type *(";" disposition-parm). */
static void parse_content_disposition(const char *value, MimePart *part)
{
	gsize i = 0;
	skip_cfws(value, &i);
	g_autofree char *type = read_token(value, &i);
	if (!type)
		return;
	part->disposition = g_ascii_strdown(type, -1);
	parse_params(value, i, part->disposition_params);
}

/* RFC 3282 2: Content-Language is a comma-separated list of tags. */
static void parse_content_language(const char *value, MimePart *part)
{
	gsize i = 0;
	for (;;) {
		skip_cfws(value, &i);
		if (value[i] == ',') {
			i++;
			continue;
		}
		char *tag = read_token(value, &i);
		if (!tag)
			return;
		if (part->languages->len < MIME_MAX_PARAMS)
			g_ptr_array_add(part->languages, tag);
		else
			g_free(tag);
	}
}

static void set_text_plain_default(MimePart *part)
{
	g_free(part->type);
	g_free(part->subtype);
	part->type = g_strdup("text");
	part->subtype = g_strdup("plain");
	g_ptr_array_set_size(part->params, 0);
	/* RFC 2045 5.2: the default is text/plain; charset=us-ascii */
	MimeParam *p = g_new0(MimeParam, 1);
	p->name = g_strdup("charset");
	p->value = g_strdup("us-ascii");
	g_ptr_array_add(part->params, p);
}

/* Strings kept verbatim from their header field: first occurrence wins. */
static const struct {
	const char *name;
	gsize offset;
} verbatim_fields[] = {
	{ "Content-ID",          G_STRUCT_OFFSET(MimePart, id) },
	{ "Content-Description", G_STRUCT_OFFSET(MimePart, description) },
	{ "Content-MD5",         G_STRUCT_OFFSET(MimePart, md5) },
	{ "Content-Location",    G_STRUCT_OFFSET(MimePart, location) },
};

static void parse_content_fields(const char *data, MimePart *part, gboolean digest_child)
{
	gboolean have_type = FALSE, have_encoding = FALSE, have_disposition = FALSE;
	gboolean have_language = FALSE;
	gsize pos = part->header_start;
	MimeHeaderField f;

	while (mime_header_next(data, &pos, part->header_end, &f)) {
		if (f.name_len < 8 || g_ascii_strncasecmp(data + f.start, "Content-", 8) != 0)
			continue;
		g_autofree char *value = NULL;
		if (!have_type && mime_header_field_is(data, &f, "Content-Type")) {
			have_type = TRUE;
			value = mime_header_field_value(data, &f);
			if (!parse_content_type(value, part))
				set_text_plain_default(part);
		} else if (!have_encoding && mime_header_field_is(data, &f, "Content-Transfer-Encoding")) {
			have_encoding = TRUE;
			value = mime_header_field_value(data, &f);
			gsize i = 0;
			skip_cfws(value, &i);
			g_autofree char *token = read_token(value, &i);
			if (token) {
				g_free(part->encoding);
				part->encoding = g_ascii_strdown(token, -1);
			}
		} else if (!have_disposition && mime_header_field_is(data, &f, "Content-Disposition")) {
			have_disposition = TRUE;
			value = mime_header_field_value(data, &f);
			parse_content_disposition(value, part);
		} else if (!have_language && mime_header_field_is(data, &f, "Content-Language")) {
			have_language = TRUE;
			value = mime_header_field_value(data, &f);
			parse_content_language(value, part);
		} else {
			for (gsize k = 0; k < G_N_ELEMENTS(verbatim_fields); k++) {
				char **slot = G_STRUCT_MEMBER_P(part, verbatim_fields[k].offset);
				if (*slot == NULL && mime_header_field_is(data, &f, verbatim_fields[k].name)) {
					*slot = mime_header_field_value(data, &f);
					break;
				}
			}
		}
	}

	if (!have_type) {
		if (digest_child) {
			/* RFC 2046 5.1.5: in a multipart/digest the default is message/rfc822 */
			g_free(part->type);
			g_free(part->subtype);
			part->type = g_strdup("message");
			part->subtype = g_strdup("rfc822");
		} else {
			set_text_plain_default(part);
		}
	}
}

/* ---- the tree ----------------------------------------------------------- */

static guint64 count_lines(const char *data, gsize start, gsize end)
{
	guint64 lines = 0;
	for (gsize i = start; i < end; i++)
		lines += data[i] == '\n';
	if (end > start && data[end - 1] != '\n')
		lines++;
	return lines;
}

static MimePart *part_parse(MimeParser *p, const char *data, gsize start, gsize end,
                            MimePart *parent, gboolean digest_child);

/* If the line at pos is a boundary line for boundary, return TRUE with
 * *close_r telling whether it is the close delimiter.  RFC 2046 5.1.1:
 * "--" boundary, then "--" for the last one, then only white space. */
static gboolean boundary_line(const char *data, gsize pos, gsize end,
                              const char *boundary, gsize blen, gboolean *close_r)
{
	if (end - pos < blen + 2 || data[pos] != '-' || data[pos + 1] != '-' ||
	    memcmp(data + pos + 2, boundary, blen) != 0)
		return FALSE;
	gsize i = pos + 2 + blen;
	*close_r = FALSE;
	if (end - i >= 2 && data[i] == '-' && data[i + 1] == '-') {
		*close_r = TRUE;
		return TRUE;  /* whatever follows a close delimiter is epilogue */
	}
	while (i < end && is_wsp(data[i]))
		i++;
	return i == end || data[i] == '\n' || (data[i] == '\r' && (i + 1 == end || data[i + 1] == '\n'));
}

/* The line break before a boundary line belongs to the boundary. */
static gsize strip_break_before(const char *data, gsize part_start, gsize delim)
{
	if (delim > part_start && data[delim - 1] == '\n') {
		delim--;
		if (delim > part_start && data[delim - 1] == '\r')
			delim--;
	}
	return delim;
}

static void multipart_split(MimeParser *p, const char *data, MimePart *part)
{
	const char *boundary = mime_part_param(part, "boundary");
	if (!boundary || *boundary == '\0' || strlen(boundary) > MIME_MAX_BOUNDARY)
		return;
	gsize blen = strlen(boundary);
	gboolean digest = g_strcmp0(part->subtype, "digest") == 0;
	gboolean in_part = FALSE, close = FALSE;
	gsize part_start = 0;
	gsize pos = part->body_start;

	while (pos < part->body_end) {
		gsize next = line_next(data, pos, part->body_end);
		if (boundary_line(data, pos, part->body_end, boundary, blen, &close)) {
			if (in_part && p->n_parts < MIME_MAX_PARTS) {
				gsize part_end = strip_break_before(data, part_start, pos);
				g_ptr_array_add(part->children,
				                part_parse(p, data, part_start, part_end, part, digest));
			}
			if (close)
				return;  /* RFC 2046 5.1.1: the epilogue is ignored */
			in_part = TRUE;
			part_start = next;
		}
		pos = next;
	}
	/* No close delimiter: be lenient and let the last part run to the end. */
	if (in_part && p->n_parts < MIME_MAX_PARTS)
		g_ptr_array_add(part->children,
		                part_parse(p, data, part_start, part->body_end, part, digest));
}

static void degrade(MimePart *part)
{
	set_text_plain_default(part);
	part->degraded = TRUE;
	g_ptr_array_set_size(part->children, 0);
}

static MimePart *part_parse(MimeParser *p, const char *data, gsize start, gsize end,
                            MimePart *parent, gboolean digest_child)
{
	MimePart *part = g_new0(MimePart, 1);
	p->n_parts++;
	part->parent = parent;
	part->depth = parent ? parent->depth + 1 : 0;
	part->params = g_ptr_array_new_with_free_func(param_free);
	part->disposition_params = g_ptr_array_new_with_free_func(param_free);
	part->languages = g_ptr_array_new_with_free_func(g_free);
	part->children = g_ptr_array_new_with_free_func((GDestroyNotify)mime_part_free);
	part->encoding = g_strdup("7bit");  /* RFC 2045 6.1: the default */

	part->header_start = start;
	part->header_end = header_find_end(data, start, end);
	part->body_start = part->header_end;
	part->body_end = end;
	part->body_lines = count_lines(data, part->body_start, part->body_end);
	parse_content_fields(data, part, digest_child);

	gboolean room = part->depth < MIME_MAX_DEPTH && p->n_parts < MIME_MAX_PARTS;
	if (mime_part_is_multipart(part)) {
		if (room)
			multipart_split(p, data, part);
		if (part->children->len == 0)
			degrade(part);
	} else if (mime_part_is_message(part)) {
		/* RFC 2046 5.2.1: only 7bit, 8bit or binary may wrap a message; an
		 * encoded one cannot be read in place. */
		gboolean plain = g_strcmp0(part->encoding, "7bit") == 0 ||
		                 g_strcmp0(part->encoding, "8bit") == 0 ||
		                 g_strcmp0(part->encoding, "binary") == 0;
		if (room && plain)
			g_ptr_array_add(part->children,
			                part_parse(p, data, part->body_start, part->body_end, part, FALSE));
		else
			degrade(part);
	}
	return part;
}

MimePart *mime_parse(const char *data, gsize len)
{
	g_return_val_if_fail(data != NULL || len == 0, NULL);
	MimeParser p = { 0 };
	return part_parse(&p, data ? data : "", 0, len, NULL, FALSE);
}

void mime_part_free(MimePart *part)
{
	if (!part)
		return;
	g_free(part->type);
	g_free(part->subtype);
	g_free(part->encoding);
	g_free(part->id);
	g_free(part->description);
	g_free(part->md5);
	g_free(part->disposition);
	g_free(part->location);
	g_clear_pointer(&part->params, g_ptr_array_unref);
	g_clear_pointer(&part->disposition_params, g_ptr_array_unref);
	g_clear_pointer(&part->languages, g_ptr_array_unref);
	g_clear_pointer(&part->children, g_ptr_array_unref);
	g_free(part);
}

gboolean mime_part_is_multipart(const MimePart *part)
{
	return g_strcmp0(part->type, "multipart") == 0;
}

gboolean mime_part_is_message(const MimePart *part)
{
	return g_strcmp0(part->type, "message") == 0 && g_strcmp0(part->subtype, "rfc822") == 0;
}

const char *mime_part_param(const MimePart *part, const char *name)
{
	for (guint i = 0; i < part->params->len; i++) {
		const MimeParam *p = g_ptr_array_index(part->params, i);
		if (g_ascii_strcasecmp(p->name, name) == 0)
			return p->value;
	}
	return NULL;
}

guint mime_part_count(const MimePart *root)
{
	guint n = 1;
	for (guint i = 0; i < root->children->len; i++)
		n += mime_part_count(g_ptr_array_index(root->children, i));
	return n;
}
