/* agents/mua/imap_client.c - the IMAP client: a response reader and a session.
 *
 * RFC 3501 7 (responses), 9 (the grammar: atoms, quoted strings, literals,
 * parenthesised lists), 6.1-6.4 (the commands a mail client uses); RFC 6851
 * MOVE, RFC 4315 UID EXPUNGE, RFC 6154 special-use attributes, RFC 4959
 * SASL-IR.  The reader is pure and bounded (the fuzzer drives it); the
 * session reads one whole response at a time and hands it to the reader.
 */
#include "agents/mua/imap_client.h"
#include "agents/common/sasl.h"

#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK(imap-client-error-quark, imap_client_error)

/* What a transcript shows instead of a secret. */
#define IMAP_CLIENT_MASK "••••••"

#define NAME_OF(table, i) ((guint)(i) < G_N_ELEMENTS(table) ? (table)[i] : "unknown")

static const char *const error_names[] = { "no", "bad", "bye", "protocol", "auth" };
static const char *const value_names[] = { "atom", "string", "nil", "list" };
static const char *const response_names[] = { "status", "data", "continuation" };
static const char *const state_names[] = {
	"connected", "not-authenticated", "authenticated", "selected", "logout", "failed",
};

const char *imap_client_error_to_string(ImapClientError e) { return NAME_OF(error_names, e); }
const char *imap_value_kind_to_string(ImapValueKind k) { return NAME_OF(value_names, k); }
const char *imap_response_kind_to_string(ImapResponseKind k) { return NAME_OF(response_names, k); }
const char *imap_client_state_to_string(ImapClientState s) { return NAME_OF(state_names, s); }

/* RFC 3501 7.1: the conditions, by name. */
static const struct {
	const char *name;
	ImapCond    cond;
	gboolean    tagged_ok;   /* may end a command (7.1: PREAUTH and BYE are untagged only) */
} cond_table[] = {
	{ "OK",      IMAP_COND_OK,      TRUE },
	{ "NO",      IMAP_COND_NO,      TRUE },
	{ "BAD",     IMAP_COND_BAD,     TRUE },
	{ "PREAUTH", IMAP_COND_PREAUTH, FALSE },
	{ "BYE",     IMAP_COND_BYE,     FALSE },
};

static gboolean cond_lookup(const char *word, gsize len, ImapCond *cond_r, gboolean *tagged_ok_r)
{
	for (guint i = 0; i < G_N_ELEMENTS(cond_table); i++) {
		if (strlen(cond_table[i].name) == len && g_ascii_strncasecmp(word, cond_table[i].name, len) == 0) {
			if (cond_r)
				*cond_r = cond_table[i].cond;
			if (tagged_ok_r)
				*tagged_ok_r = cond_table[i].tagged_ok;
			return TRUE;
		}
	}
	return FALSE;
}

/* ---- values and responses --------------------------------------------------- */

static void value_free(gpointer data)
{
	ImapValue *v = data;
	if (!v)
		return;
	g_free(v->str);
	if (v->items)
		g_ptr_array_unref(v->items);
	g_free(v);
}

void imap_response_free(ImapResponse *r)
{
	if (!r)
		return;
	g_free(r->tag);
	g_free(r->code);
	g_free(r->code_arg);
	g_free(r->text);
	g_free(r->name);
	if (r->args)
		g_ptr_array_unref(r->args);
	g_free(r);
}

gboolean imap_value_get_number(const ImapValue *v, guint32 *n_r)
{
	if (!v || v->kind != IMAP_VALUE_ATOM || v->len == 0 || v->len > 10)
		return FALSE;
	guint64 n = 0;
	for (gsize i = 0; i < v->len; i++) {
		if (!g_ascii_isdigit(v->str[i]))
			return FALSE;
		n = n * 10 + (guint64)(v->str[i] - '0');
	}
	/* RFC 3501 9: number = 1*DIGIT, an unsigned 32-bit integer */
	if (n > G_MAXUINT32)
		return FALSE;
	*n_r = (guint32)n;
	return TRUE;
}

const ImapValue *imap_response_fetch_item(const ImapResponse *r, const char *name)
{
	if (!r || r->kind != IMAP_RESPONSE_DATA || g_strcmp0(r->name, "FETCH") != 0 ||
	    !r->args || r->args->len != 1)
		return NULL;
	const ImapValue *list = g_ptr_array_index(r->args, 0);
	if (list->kind != IMAP_VALUE_LIST)
		return NULL;
	/* RFC 3501 7.4.2: msg-att is a list of name/value pairs. */
	for (guint i = 0; i + 1 < list->items->len; i += 2) {
		const ImapValue *key = g_ptr_array_index(list->items, i);
		if (key->kind == IMAP_VALUE_ATOM && g_ascii_strcasecmp(key->str, name) == 0)
			return g_ptr_array_index(list->items, i + 1);
	}
	return NULL;
}

/* ---- the reader ------------------------------------------------------------- */

typedef struct {
	const char *buf;
	gsize       len;
	gsize       pos;
	guint       values;
	guint       literals;
} Scan;

static gboolean scan_fail(GError **error, const Scan *s, const char *what)
{
	g_set_error(error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL,
	            "malformed response at byte %" G_GSIZE_FORMAT ": %s", s->pos, what);
	return FALSE;
}

static gboolean at_end(const Scan *s)
{
	return s->pos >= s->len;
}

/* The end of the response: an optional final CRLF and nothing after it. */
static gboolean at_final_crlf(const Scan *s)
{
	return at_end(s) || (s->len - s->pos == 2 && s->buf[s->pos] == '\r' && s->buf[s->pos + 1] == '\n');
}

/* RFC 3501 9: atom-specials are "(" ")" "{" SP CTL list-wildcards
 * quoted-specials resp-specials; we stop at what would end an atom in a
 * response and leave "%", "*", "]" and "\\" in (flags are "\\Seen" and
 * "\\*"). */
static gboolean ends_atom(guchar c)
{
	return c <= 0x20 || c == 0x7f || c == '(' || c == ')' || c == '{' || c == '"';
}

static ImapValue *value_new(Scan *s, ImapValueKind kind, GError **error)
{
	if (++s->values > IMAP_CLIENT_MAX_VALUES) {
		scan_fail(error, s, "too many values");
		return NULL;
	}
	ImapValue *v = g_new0(ImapValue, 1);
	v->kind = kind;
	return v;
}

static ImapValue *parse_value(Scan *s, guint depth, GError **error);

static ImapValue *parse_list(Scan *s, guint depth, GError **error)
{
	if (depth >= IMAP_CLIENT_MAX_DEPTH) {
		scan_fail(error, s, "lists nested too deep");
		return NULL;
	}
	ImapValue *v = value_new(s, IMAP_VALUE_LIST, error);
	if (!v)
		return NULL;
	v->items = g_ptr_array_new_with_free_func(value_free);
	s->pos++;   /* "(" */
	for (;;) {
		if (at_end(s)) {
			scan_fail(error, s, "unclosed list");
			value_free(v);
			return NULL;
		}
		if (s->buf[s->pos] == ')') {
			s->pos++;
			return v;
		}
		if (v->items->len > 0) {
			if (s->buf[s->pos] != ' ') {
				scan_fail(error, s, "expected a space between list items");
				value_free(v);
				return NULL;
			}
			s->pos++;
		}
		ImapValue *item = parse_value(s, depth + 1, error);
		if (!item) {
			value_free(v);
			return NULL;
		}
		g_ptr_array_add(v->items, item);
	}
}

/* RFC 3501 9: quoted = DQUOTE *QUOTED-CHAR DQUOTE, with \\ and \" escapes. */
static ImapValue *parse_quoted(Scan *s, GError **error)
{
	GString *str = g_string_new(NULL);
	s->pos++;
	for (;;) {
		if (at_end(s)) {
			scan_fail(error, s, "unclosed quoted string");
			break;
		}
		char c = s->buf[s->pos];
		if (c == '"') {
			s->pos++;
			ImapValue *v = value_new(s, IMAP_VALUE_STRING, error);
			if (!v)
				break;
			v->len = str->len;
			v->str = g_string_free(str, FALSE);
			return v;
		}
		if (c == '\r' || c == '\n' || c == '\0') {
			scan_fail(error, s, "line break or NUL in a quoted string");
			break;
		}
		if (c == '\\') {
			if (s->pos + 1 >= s->len || (s->buf[s->pos + 1] != '"' && s->buf[s->pos + 1] != '\\')) {
				scan_fail(error, s, "bad escape in a quoted string");
				break;
			}
			s->pos++;
			c = s->buf[s->pos];
		}
		g_string_append_c(str, c);
		s->pos++;
	}
	g_string_free(str, TRUE);
	return NULL;
}

/* RFC 3501 9: literal = "{" number "}" CRLF *CHAR8. */
static ImapValue *parse_literal(Scan *s, GError **error)
{
	gsize p = s->pos + 1;
	guint64 n = 0;
	gsize digits = 0;
	while (p < s->len && g_ascii_isdigit(s->buf[p]) && digits < 11) {
		n = n * 10 + (guint64)(s->buf[p] - '0');
		p++;
		digits++;
	}
	if (digits == 0 || p + 3 > s->len || s->buf[p] != '}' || s->buf[p + 1] != '\r' ||
	    s->buf[p + 2] != '\n') {
		scan_fail(error, s, "malformed literal");
		return NULL;
	}
	p += 3;
	if (n > IMAP_CLIENT_MAX_LITERAL || n > s->len - p) {
		scan_fail(error, s, "literal longer than the response");
		return NULL;
	}
	if (++s->literals > IMAP_CLIENT_MAX_LITERALS) {
		scan_fail(error, s, "too many literals");
		return NULL;
	}
	ImapValue *v = value_new(s, IMAP_VALUE_STRING, error);
	if (!v)
		return NULL;
	v->len = (gsize)n;
	v->str = g_malloc(v->len + 1);
	memcpy(v->str, s->buf + p, v->len);
	v->str[v->len] = '\0';
	s->pos = p + v->len;
	return v;
}

/* An atom, with a bracketed part kept whole: "BODY[HEADER.FIELDS (TO)]<0>"
 * holds a space and parentheses (RFC 3501 7.4.2 section). */
static ImapValue *parse_atom(Scan *s, GError **error)
{
	gsize start = s->pos;
	while (!at_end(s) && !ends_atom((guchar)s->buf[s->pos])) {
		if (s->buf[s->pos] == '[') {
			const char *close = memchr(s->buf + s->pos, ']', s->len - s->pos);
			const char *brk = memchr(s->buf + s->pos, '\n', s->len - s->pos);
			if (!close || (brk && brk < close)) {
				scan_fail(error, s, "unclosed [ in an atom");
				return NULL;
			}
			s->pos = (gsize)(close - s->buf);
		}
		s->pos++;
	}
	if (s->pos == start) {
		scan_fail(error, s, "expected a value");
		return NULL;
	}
	gsize len = s->pos - start;
	for (gsize i = start; i < s->pos; i++)
		if (s->buf[i] == '\r' || s->buf[i] == '\0') {
			scan_fail(error, s, "control character in an atom");
			return NULL;
		}
	/* RFC 3501 9: nil = "NIL" */
	gboolean nil = len == 3 && g_ascii_strncasecmp(s->buf + start, "NIL", 3) == 0;
	ImapValue *v = value_new(s, nil ? IMAP_VALUE_NIL : IMAP_VALUE_ATOM, error);
	if (v && !nil) {
		v->str = g_strndup(s->buf + start, len);
		v->len = len;
	}
	return v;
}

static ImapValue *parse_value(Scan *s, guint depth, GError **error)
{
	if (at_end(s)) {
		scan_fail(error, s, "expected a value, found the end");
		return NULL;
	}
	switch (s->buf[s->pos]) {
	case '(': return parse_list(s, depth, error);
	case '"': return parse_quoted(s, error);
	case '{': return parse_literal(s, error);
	default:  return parse_atom(s, error);
	}
}

/* One word of the first line (tag, number, name): up to a space or the end. */
static gsize word_len(const Scan *s)
{
	gsize p = s->pos;
	while (p < s->len && s->buf[p] != ' ' && s->buf[p] != '\r' && s->buf[p] != '\n')
		p++;
	return p - s->pos;
}

/* The rest of the line as text, which must end the response. */
static gboolean take_text(Scan *s, char **text_r, GError **error)
{
	gsize start = s->pos;
	while (!at_end(s) && s->buf[s->pos] != '\r' && s->buf[s->pos] != '\n') {
		if (s->buf[s->pos] == '\0')
			return scan_fail(error, s, "NUL in response text");
		s->pos++;
	}
	if (!at_final_crlf(s))
		return scan_fail(error, s, "text of a status response goes on past its line");
	/* Events and error messages are UTF-8; a server's text may not be. */
	*text_r = g_utf8_make_valid(s->buf + start, (gssize)(s->pos - start));
	s->pos = s->len;
	return TRUE;
}

/* RFC 3501 9: resp-text = ["[" resp-text-code "]" SP] text */
static gboolean parse_resp_text(Scan *s, ImapResponse *r, GError **error)
{
	if (!at_end(s) && s->buf[s->pos] == ' ')
		s->pos++;
	if (!at_end(s) && s->buf[s->pos] == '[') {
		gsize start = s->pos + 1, p = start;
		while (p < s->len && s->buf[p] != ']' && s->buf[p] != '\r' && s->buf[p] != '\n' && s->buf[p] != '\0')
			p++;
		if (p >= s->len || s->buf[p] != ']')
			return scan_fail(error, s, "unclosed response code");
		const char *sp = memchr(s->buf + start, ' ', p - start);
		gsize name_len = sp ? (gsize)(sp - (s->buf + start)) : p - start;
		if (name_len == 0)
			return scan_fail(error, s, "empty response code");
		r->code = g_ascii_strup(s->buf + start, (gssize)name_len);
		if (sp)
			r->code_arg = g_utf8_make_valid(sp + 1, (gssize)(s->buf + p - (sp + 1)));
		s->pos = p + 1;
		if (!at_end(s) && s->buf[s->pos] == ' ')
			s->pos++;
	}
	return take_text(s, &r->text, error);
}

/* RFC 3501 9: tag = 1*<any ASTRING-CHAR except "+"> */
static gboolean is_tag_char(guchar c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\+", c);
}

static gboolean parse_status(Scan *s, ImapResponse *r, gboolean tagged, GError **error)
{
	gsize n = word_len(s);
	gboolean tagged_ok;
	if (!cond_lookup(s->buf + s->pos, n, &r->cond, &tagged_ok))
		return scan_fail(error, s, "expected OK, NO, BAD, PREAUTH or BYE");
	if (tagged && !tagged_ok)
		return scan_fail(error, s, "PREAUTH and BYE are never tagged");
	r->kind = IMAP_RESPONSE_STATUS;
	s->pos += n;
	return parse_resp_text(s, r, error);
}

static gboolean parse_data(Scan *s, ImapResponse *r, GError **error)
{
	r->kind = IMAP_RESPONSE_DATA;
	r->args = g_ptr_array_new_with_free_func(value_free);
	for (;;) {
		/* Lenient about blanks a server leaves before the line's end. */
		while (!at_end(s) && s->buf[s->pos] == ' ' &&
		       (s->pos + 1 == s->len || s->buf[s->pos + 1] == ' ' || s->buf[s->pos + 1] == '\r'))
			s->pos++;
		if (at_final_crlf(s))
			return TRUE;
		if (s->buf[s->pos] != ' ')
			return scan_fail(error, s, "expected a space before the next value");
		s->pos++;
		ImapValue *v = parse_value(s, 0, error);
		if (!v)
			return FALSE;
		g_ptr_array_add(r->args, v);
	}
}

gboolean imap_client_line_may_have_literal(const char *line, gsize len)
{
	/* Tagged responses and "+" requests are status text: no literals. */
	if (len < 2 || line[0] != '*' || line[1] != ' ')
		return FALSE;
	gsize p = 2;
	while (p < len && g_ascii_isdigit(line[p]))
		p++;
	if (p > 2 && p < len && line[p] == ' ')
		p++;
	gsize start = p;
	while (p < len && line[p] != ' ')
		p++;
	return !cond_lookup(line + start, p - start, NULL, NULL);
}

ImapResponse *imap_client_parse_response(const char *buf, gsize len, GError **error)
{
	g_return_val_if_fail(buf != NULL || len == 0, NULL);
	Scan s = { .buf = buf, .len = len };
	g_autoptr(ImapResponse) r = g_new0(ImapResponse, 1);

	if (len == 0) {
		scan_fail(error, &s, "empty response");
		return NULL;
	}
	/* RFC 3501 7.5: continue-req = "+" SP (resp-text / base64) CRLF; some
	 * servers send a bare "+". */
	if (buf[0] == '+') {
		r->kind = IMAP_RESPONSE_CONTINUATION;
		s.pos = 1;
		if (!at_end(&s) && buf[s.pos] == ' ')
			s.pos++;
		return take_text(&s, &r->text, error) ? g_steal_pointer(&r) : NULL;
	}
	if (buf[0] == '*') {
		if (len < 2 || buf[1] != ' ') {
			scan_fail(error, &s, "expected a space after \"*\"");
			return NULL;
		}
		s.pos = 2;
		gsize n = word_len(&s);
		gboolean digits = n > 0;
		for (gsize i = 0; i < n; i++)
			digits = digits && g_ascii_isdigit(buf[s.pos + i]);
		if (digits) {
			/* "* 23 EXISTS": message-data with its number (RFC 3501 7.3, 7.4) */
			ImapValue num = { IMAP_VALUE_ATOM, g_strndup(buf + s.pos, n), n, NULL };
			gboolean ok = imap_value_get_number(&num, &r->number);
			g_free(num.str);
			if (!ok) {
				scan_fail(error, &s, "number out of range");
				return NULL;
			}
			r->has_number = TRUE;
			s.pos += n;
			if (at_end(&s) || buf[s.pos] != ' ') {
				scan_fail(error, &s, "expected a name after the number");
				return NULL;
			}
			s.pos++;
			n = word_len(&s);
		} else if (cond_lookup(buf + s.pos, n, NULL, NULL)) {
			return parse_status(&s, r, FALSE, error) ? g_steal_pointer(&r) : NULL;
		}
		if (n == 0) {
			scan_fail(error, &s, "missing response name");
			return NULL;
		}
		for (gsize i = 0; i < n; i++)
			if (!g_ascii_isalnum(buf[s.pos + i]) && buf[s.pos + i] != '.' && buf[s.pos + i] != '-' &&
			    buf[s.pos + i] != '_') {
				scan_fail(error, &s, "bad character in the response name");
				return NULL;
			}
		r->name = g_ascii_strup(buf + s.pos, (gssize)n);
		s.pos += n;
		if (r->has_number && cond_lookup(r->name, n, NULL, NULL)) {
			scan_fail(error, &s, "a status response carries no number");
			return NULL;
		}
		return parse_data(&s, r, error) ? g_steal_pointer(&r) : NULL;
	}

	gsize n = word_len(&s);
	for (gsize i = 0; i < n; i++)
		if (!is_tag_char((guchar)buf[i])) {
			scan_fail(error, &s, "bad character in the tag");
			return NULL;
		}
	if (n == 0 || n >= len || buf[n] != ' ') {
		scan_fail(error, &s, "expected a tag and a condition");
		return NULL;
	}
	r->tag = g_strndup(buf, n);
	s.pos = n + 1;
	return parse_status(&s, r, TRUE, error) ? g_steal_pointer(&r) : NULL;
}

/* ---- the session ------------------------------------------------------------ */

struct ImapClient {
	MsConn          *conn;
	ImapClientState  state;
	guint            next_tag;
	GPtrArray       *caps;       /* char *, upper case */
	char            *last_code;
	GPtrArray       *untagged;   /* ImapResponse * of the command running */
	char            *bye;        /* the text of a BYE, once one came */
	char            *line;       /* IMAP_CLIENT_MAX_LINE + 1 bytes */
};

ImapClient *imap_client_new(MsConn *conn)
{
	g_return_val_if_fail(conn != NULL, NULL);
	ImapClient *c = g_new0(ImapClient, 1);
	c->conn = ms_conn_ref(conn);
	c->state = IMAP_CLIENT_STATE_CONNECTED;
	c->caps = g_ptr_array_new_with_free_func(g_free);
	c->untagged = g_ptr_array_new_with_free_func((GDestroyNotify)imap_response_free);
	c->line = g_malloc(IMAP_CLIENT_MAX_LINE + 1);
	ms_conn_set_proto(conn, "imap");
	return c;
}

void imap_client_free(ImapClient *c)
{
	if (!c)
		return;
	g_clear_pointer(&c->conn, ms_conn_unref);
	g_ptr_array_unref(c->caps);
	g_ptr_array_unref(c->untagged);
	g_free(c->last_code);
	g_free(c->bye);
	g_free(c->line);
	g_free(c);
}

ImapClientState imap_client_state(const ImapClient *c) { return c->state; }
MsConn *imap_client_conn(ImapClient *c) { return c->conn; }
const char *imap_client_last_code(const ImapClient *c) { return c->last_code; }

static void enter_state(ImapClient *c, ImapClientState state)
{
	if (c->state == state)
		return;
	g_debug("imap client, connection %" G_GUINT64_FORMAT ": %s -> %s", ms_conn_id(c->conn),
	        imap_client_state_to_string(c->state), imap_client_state_to_string(state));
	c->state = state;
}

static gboolean fail_protocol(ImapClient *c, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean fail_protocol(ImapClient *c, GError **error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL, msg);
	enter_state(c, IMAP_CLIENT_STATE_FAILED);
	return FALSE;
}

static gboolean usable(ImapClient *c, GError **error)
{
	if (c->state == IMAP_CLIENT_STATE_FAILED || c->state == IMAP_CLIENT_STATE_LOGOUT) {
		g_set_error(error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL,
		            "the IMAP session with %s is over", ms_conn_peer_name(c->conn));
		return FALSE;
	}
	return TRUE;
}

/* Read one whole response: its line, and for each literal the bytes and
 * the line that goes on after them.  NULL with the session FAILED. */
static ImapResponse *read_response(ImapClient *c, GError **error)
{
	g_autoptr(GString) buf = g_string_new(NULL);
	gboolean first = TRUE, literals = FALSE;
	guint n_literals = 0;

	ms_conn_set_timeout(c->conn, IMAP_CLIENT_TIMEOUT);
	for (;;) {
		MsEol eol;
		GError *local = NULL;
		gssize n = ms_conn_read_line(c->conn, c->line, IMAP_CLIENT_MAX_LINE, &eol, &local);
		if (n < 0) {
			g_propagate_prefixed_error(error, local, "waiting for %s: ", ms_conn_peer_name(c->conn));
			enter_state(c, IMAP_CLIENT_STATE_FAILED);
			return NULL;
		}
		if (eol == MS_EOL_EOF) {
			if (c->bye) {
				g_set_error(error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_BYE, "%s said BYE: %s",
				            ms_conn_peer_name(c->conn), c->bye);
				enter_state(c, IMAP_CLIENT_STATE_FAILED);
				return NULL;
			}
			fail_protocol(c, error, "%s closed the connection%s", ms_conn_peer_name(c->conn),
			              buf->len || n ? " in the middle of a response" : "");
			return NULL;
		}
		if (eol == MS_EOL_TOO_LONG) {
			fail_protocol(c, error, "a response line is longer than %d bytes", IMAP_CLIENT_MAX_LINE);
			return NULL;
		}
		if (eol == MS_EOL_CR) {
			fail_protocol(c, error, "a response line ends with a bare CR");
			return NULL;
		}
		if (buf->len + (gsize)n + 2 > IMAP_CLIENT_MAX_RESPONSE) {
			fail_protocol(c, error, "a response is larger than %u bytes", IMAP_CLIENT_MAX_RESPONSE);
			return NULL;
		}
		g_string_append_len(buf, c->line, n);
		if (first)
			literals = imap_client_line_may_have_literal(c->line, (gsize)n);
		first = FALSE;
		guint64 size = 0;
		if (!literals || imap_proto_line_literal(c->line, (gsize)n, &size, NULL) == IMAP_LITERAL_NONE)
			break;
		/* RFC 3501 4.3: the literal's bytes follow the CRLF. */
		if (size > IMAP_CLIENT_MAX_LITERAL || ++n_literals > IMAP_CLIENT_MAX_LITERALS ||
		    buf->len + 2 + size > IMAP_CLIENT_MAX_RESPONSE) {
			fail_protocol(c, error, "a literal of %" G_GUINT64_FORMAT " bytes is over the limit", size);
			return NULL;
		}
		g_string_append(buf, "\r\n");
		gsize at = buf->len;
		g_string_set_size(buf, at + (gsize)size);
		if (!ms_conn_read_exact(c->conn, buf->str + at, (gsize)size, &local)) {
			g_propagate_prefixed_error(error, local, "reading a literal from %s: ",
			                           ms_conn_peer_name(c->conn));
			enter_state(c, IMAP_CLIENT_STATE_FAILED);
			return NULL;
		}
	}
	GError *parse_error = NULL;
	ImapResponse *r = imap_client_parse_response(buf->str, buf->len, &parse_error);
	if (!r) {
		fail_protocol(c, error, "%s: %s", ms_conn_peer_name(c->conn), parse_error->message);
		g_error_free(parse_error);
	}
	return r;
}

static void set_capabilities(ImapClient *c, const char *text)
{
	g_ptr_array_set_size(c->caps, 0);
	g_auto(GStrv) words = g_strsplit(text ? text : "", " ", -1);
	for (guint i = 0; words[i]; i++)
		if (*words[i])
			g_ptr_array_add(c->caps, g_ascii_strup(words[i], -1));
}

gboolean imap_client_has_capability(const ImapClient *c, const char *name)
{
	for (guint i = 0; i < c->caps->len; i++)
		if (g_ascii_strcasecmp(g_ptr_array_index(c->caps, i), name) == 0)
			return TRUE;
	return FALSE;
}

/* What every response may tell, whichever command is running. */
static void note_response(ImapClient *c, const ImapResponse *r)
{
	if (r->kind == IMAP_RESPONSE_STATUS && g_strcmp0(r->code, "CAPABILITY") == 0)
		set_capabilities(c, r->code_arg);
	if (r->kind == IMAP_RESPONSE_STATUS && !r->tag && r->cond == IMAP_COND_BYE) {
		/* RFC 3501 7.1.5: the server is about to close. */
		g_free(c->bye);
		c->bye = g_strdup(r->text);
	}
	if (r->kind == IMAP_RESPONSE_DATA && g_strcmp0(r->name, "CAPABILITY") == 0) {
		g_ptr_array_set_size(c->caps, 0);
		for (guint i = 0; i < r->args->len; i++) {
			const ImapValue *v = g_ptr_array_index(r->args, i);
			if (v->kind == IMAP_VALUE_ATOM)
				g_ptr_array_add(c->caps, g_ascii_strup(v->str, -1));
		}
	}
}

/* ---- commands: built in parts, sent with continuations ------------------------ */

typedef struct {
	GString *bytes;
	char    *display;   /* NULL: the bytes show as they are */
} CmdPart;

/* A command being written.  A synchronising literal ends a part: the next
 * part goes only after the server's "+" (RFC 3501 7.5). */
typedef struct {
	char      *tag;
	GPtrArray *parts;    /* CmdPart * */
	GString   *cur;      /* the part being written */
	GString   *shown;    /* the same as events show it */
	gboolean   masked;   /* cur holds a secret or a message: show `shown` */
	char      *what;     /* the command as error messages name it */
} Cmd;

static void cmd_part_free(gpointer data)
{
	CmdPart *p = data;
	/* Parts may hold a password: overwrite before freeing. */
	memset(p->bytes->str, 0, p->bytes->len);
	g_string_free(p->bytes, TRUE);
	g_free(p->display);
	g_free(p);
}

static Cmd *cmd_new(ImapClient *c, const char *verb)
{
	Cmd *cmd = g_new0(Cmd, 1);
	/* Tags in the style most clients use: A001, A002, ... */
	cmd->tag = g_strdup_printf("A%03u", ++c->next_tag);
	cmd->parts = g_ptr_array_new_with_free_func(cmd_part_free);
	cmd->cur = g_string_new(NULL);
	cmd->shown = g_string_new(NULL);
	g_string_append_printf(cmd->cur, "%s %s", cmd->tag, verb);
	g_string_append_printf(cmd->shown, "%s %s", cmd->tag, verb);
	return cmd;
}

static void cmd_free(Cmd *cmd)
{
	g_free(cmd->tag);
	g_ptr_array_unref(cmd->parts);
	memset(cmd->cur->str, 0, cmd->cur->len);
	g_string_free(cmd->cur, TRUE);
	g_string_free(cmd->shown, TRUE);
	g_free(cmd->what);
	g_free(cmd);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Cmd, cmd_free)

static void cmd_text(Cmd *cmd, const char *text)
{
	g_string_append(cmd->cur, text);
	g_string_append(cmd->shown, text);
}

/* Close the current part after its "{N}" CRLF. */
static void cmd_break(Cmd *cmd)
{
	CmdPart *p = g_new0(CmdPart, 1);
	if (!cmd->what) {
		/* the first line, without tag and ending, names the command */
		const char *sp = strchr(cmd->shown->str, ' ');
		cmd->what = g_strndup(sp ? sp + 1 : cmd->shown->str, strcspn(sp ? sp + 1 : cmd->shown->str, "\r\n"));
	}
	if (cmd->masked) {
		gsize n = cmd->shown->len;
		while (n > 0 && (cmd->shown->str[n - 1] == '\r' || cmd->shown->str[n - 1] == '\n'))
			n--;
		p->display = g_strndup(cmd->shown->str, n);
	}
	p->bytes = cmd->cur;
	g_ptr_array_add(cmd->parts, p);
	cmd->cur = g_string_new(NULL);
	g_string_truncate(cmd->shown, 0);
	cmd->masked = FALSE;
}

/* An astring (RFC 3501 9), as imap_proto writes it: an atom, a quoted
 * string, or a literal that splits the command.  secret: show a mask. */
static void cmd_astring(Cmd *cmd, const char *s, gboolean secret)
{
	g_autoptr(GString) tmp = g_string_new(NULL);
	imap_proto_append_astring(tmp, s);
	if (secret) {
		cmd->masked = TRUE;
		g_string_append(cmd->shown, IMAP_CLIENT_MASK);
	}
	const char *crlf = tmp->str[0] == '{' ? strstr(tmp->str, "\r\n") : NULL;
	if (!crlf) {
		g_string_append_len(cmd->cur, tmp->str, tmp->len);
		if (!secret)
			g_string_append_len(cmd->shown, tmp->str, tmp->len);
		memset(tmp->str, 0, tmp->len);
		return;
	}
	gsize head = (gsize)(crlf - tmp->str) + 2;
	g_string_append_len(cmd->cur, tmp->str, head);
	if (!secret)
		g_string_append_len(cmd->shown, tmp->str, head);
	cmd_break(cmd);
	g_string_append_len(cmd->cur, tmp->str + head, tmp->len - head);
	if (secret) {
		cmd->masked = TRUE;
		g_string_append(cmd->shown, IMAP_CLIENT_MASK);
	} else {
		g_string_append_len(cmd->shown, tmp->str + head, tmp->len - head);
	}
	memset(tmp->str, 0, tmp->len);
}

static void cmd_mailbox(Cmd *cmd, const char *utf8)
{
	/* RFC 3501 5.1.3: names travel in modified UTF-7. */
	g_autofree char *mutf7 = imap_proto_mutf7_encode(utf8, NULL);
	cmd_astring(cmd, mutf7 ? mutf7 : utf8, FALSE);
}

/* A message as a synchronising literal; events show display instead. */
static void cmd_literal(Cmd *cmd, GBytes *data, const char *display)
{
	gsize len;
	const char *bytes = g_bytes_get_data(data, &len);
	g_autofree char *head = g_strdup_printf("{%" G_GSIZE_FORMAT "}\r\n", len);
	cmd_text(cmd, head);
	cmd_break(cmd);
	g_string_append_len(cmd->cur, bytes, len);
	g_string_append(cmd->shown, display);
	cmd->masked = TRUE;
}

/* Send a command and read until its tagged reply.  Untagged responses are
 * kept in c->untagged for the caller.  Returns the tagged OK (owned by the
 * caller), or NULL with an error: NO, BAD, or the transport's. */
static ImapResponse *run(ImapClient *c, Cmd *cmd, GError **error)
{
	if (!usable(c, error))
		return NULL;
	cmd_text(cmd, "\r\n");
	cmd_break(cmd);
	g_ptr_array_set_size(c->untagged, 0);
	g_clear_pointer(&c->last_code, g_free);

	ImapResponse *tagged = NULL;
	for (guint i = 0; i < cmd->parts->len && !tagged; i++) {
		CmdPart *p = g_ptr_array_index(cmd->parts, i);
		GError *local = NULL;
		if (!ms_conn_write_masked(c->conn, p->bytes->str, p->bytes->len, p->display, &local)) {
			g_propagate_prefixed_error(error, local, "sending %s: ", cmd->what);
			enter_state(c, IMAP_CLIENT_STATE_FAILED);
			return NULL;
		}
		gboolean last = i + 1 == cmd->parts->len;
		/* After a literal's announcement: wait for "+" (or an early refusal);
		 * after the last part: wait for the tagged reply. */
		for (;;) {
			ImapResponse *r = read_response(c, error);
			if (!r)
				return NULL;
			note_response(c, r);
			if (r->kind == IMAP_RESPONSE_STATUS && r->tag) {
				if (strcmp(r->tag, cmd->tag) != 0) {
					imap_response_free(r);
					fail_protocol(c, error, "a reply with a tag we never sent, waiting for %s", cmd->what);
					return NULL;
				}
				tagged = r;
				break;
			}
			if (r->kind == IMAP_RESPONSE_CONTINUATION) {
				imap_response_free(r);
				if (last) {
					fail_protocol(c, error, "an unexpected continuation request during %s", cmd->what);
					return NULL;
				}
				break;
			}
			if (c->untagged->len >= IMAP_CLIENT_MAX_UNTAGGED) {
				imap_response_free(r);
				fail_protocol(c, error, "more than %d untagged responses to %s", IMAP_CLIENT_MAX_UNTAGGED,
				              cmd->what);
				return NULL;
			}
			g_ptr_array_add(c->untagged, r);
		}
	}
	c->last_code = g_strdup(tagged->code);
	if (tagged->cond == IMAP_COND_OK)
		return tagged;
	/* "SELECT Sent: NO [NONEXISTENT] no such mailbox" */
	g_autoptr(GString) said = g_string_new(imap_cond_to_string(tagged->cond));
	if (tagged->code)
		g_string_append_printf(said, " [%s%s%s]", tagged->code, tagged->code_arg ? " " : "",
		                       tagged->code_arg ? tagged->code_arg : "");
	if (*tagged->text)
		g_string_append_printf(said, " %s", tagged->text);
	g_set_error(error, IMAP_CLIENT_ERROR,
	            tagged->cond == IMAP_COND_NO ? IMAP_CLIENT_ERROR_NO : IMAP_CLIENT_ERROR_BAD,
	            "%s: %s", cmd->what, said->str);
	imap_response_free(tagged);
	return NULL;
}

/* Run a command whose tagged OK tells nothing more. */
static gboolean run_simple(ImapClient *c, Cmd *cmd, GError **error)
{
	ImapResponse *r = run(c, cmd, error);
	imap_response_free(r);
	return r != NULL;
}

/* ---- greeting, capabilities, login -------------------------------------------- */

gboolean imap_client_greeting(ImapClient *c, GError **error)
{
	g_return_val_if_fail(c->state == IMAP_CLIENT_STATE_CONNECTED, FALSE);
	g_autoptr(ImapResponse) r = read_response(c, error);
	if (!r)
		return FALSE;
	note_response(c, r);
	/* RFC 3501 7.1: greeting = "*" SP (resp-cond-auth / resp-cond-bye) CRLF */
	if (r->kind != IMAP_RESPONSE_STATUS || r->tag || (r->cond != IMAP_COND_OK &&
	    r->cond != IMAP_COND_PREAUTH && r->cond != IMAP_COND_BYE))
		return fail_protocol(c, error, "%s greeted with something else than OK, PREAUTH or BYE",
		                     ms_conn_peer_name(c->conn));
	if (r->cond == IMAP_COND_BYE) {
		g_set_error(error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_BYE, "%s refuses the session: %s",
		            ms_conn_peer_name(c->conn), r->text);
		enter_state(c, IMAP_CLIENT_STATE_LOGOUT);
		return FALSE;
	}
	enter_state(c, r->cond == IMAP_COND_PREAUTH ? IMAP_CLIENT_STATE_AUTHENTICATED
	                                            : IMAP_CLIENT_STATE_NOT_AUTHENTICATED);
	return TRUE;
}

gboolean imap_client_capability(ImapClient *c, GError **error)
{
	g_autoptr(Cmd) cmd = cmd_new(c, "CAPABILITY");
	return run_simple(c, cmd, error);
}

gboolean imap_client_starttls(ImapClient *c, GError **error)
{
	g_return_val_if_fail(c->state == IMAP_CLIENT_STATE_NOT_AUTHENTICATED, FALSE);
	g_autoptr(Cmd) cmd = cmd_new(c, "STARTTLS");
	if (!run_simple(c, cmd, error))
		return FALSE;
	GError *tls_error = NULL;
	if (!ms_conn_starttls(c->conn, NULL, &tls_error)) {
		g_propagate_prefixed_error(error, tls_error, "TLS with %s: ", ms_conn_peer_name(c->conn));
		enter_state(c, IMAP_CLIENT_STATE_FAILED);
		return FALSE;
	}
	/* RFC 3501 6.2.1: what the server said in the clear is forgotten */
	g_ptr_array_set_size(c->caps, 0);
	return TRUE;
}

gboolean imap_client_login(ImapClient *c, const char *user, const char *password, GError **error)
{
	g_return_val_if_fail(user != NULL && password != NULL, FALSE);
	if (!usable(c, error))
		return FALSE;
	g_autoptr(Cmd) cmd = NULL;
	if (!imap_client_has_capability(c, "LOGINDISABLED")) {
		/* RFC 3501 6.2.3: LOGIN SP userid SP password */
		cmd = cmd_new(c, "LOGIN ");
		cmd_astring(cmd, user, FALSE);
		cmd_text(cmd, " ");
		cmd_astring(cmd, password, TRUE);
	} else if (imap_client_has_capability(c, "AUTH=PLAIN")) {
		if (strlen(user) > SASL_MAX_FIELD || strlen(password) > SASL_MAX_FIELD) {
			g_set_error(error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_AUTH,
			            "user name or password longer than %d bytes", SASL_MAX_FIELD);
			return FALSE;
		}
		/* RFC 3501 6.2.2 with RFC 4616: the whole credential, in base64. */
		char *b64 = sasl_plain_encode(NULL, user, password);
		cmd = cmd_new(c, "AUTHENTICATE PLAIN");
		if (imap_client_has_capability(c, "SASL-IR")) {
			/* RFC 4959: as an initial response, one round trip */
			cmd_text(cmd, " ");
		} else {
			cmd_text(cmd, "\r\n");
			cmd_break(cmd);
		}
		g_string_append(cmd->cur, b64);
		g_string_append(cmd->shown, IMAP_CLIENT_MASK);
		cmd->masked = TRUE;
		memset(b64, 0, strlen(b64));
		g_free(b64);
	} else {
		g_set_error(error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_AUTH,
		            "%s disables LOGIN and offers no AUTH=PLAIN", ms_conn_peer_name(c->conn));
		return FALSE;
	}
	GError *local = NULL;
	g_autoptr(ImapResponse) ok = run(c, cmd, &local);
	if (!ok) {
		if (local->domain == IMAP_CLIENT_ERROR && local->code == IMAP_CLIENT_ERROR_NO)
			local->code = IMAP_CLIENT_ERROR_AUTH;
		g_propagate_error(error, local);
		return FALSE;
	}
	enter_state(c, IMAP_CLIENT_STATE_AUTHENTICATED);
	/* RFC 3501 6.2.3: capabilities may change after login; ask unless the
	 * reply already said them. */
	if (g_strcmp0(ok->code, "CAPABILITY") != 0)
		return imap_client_capability(c, error);
	return TRUE;
}

/* ---- mailboxes ---------------------------------------------------------------- */

void imap_mailbox_free(ImapMailbox *m)
{
	if (!m)
		return;
	g_free(m->name);
	g_free(m);
}

/* RFC 6154 2 and RFC 3501 7.2.2: the attributes we act on. */
static const struct {
	const char *name;
	guint       bit;
} mailbox_attrs[] = {
	{ "\\Noselect", IMAP_MAILBOX_NOSELECT },
	{ "\\NonExistent", IMAP_MAILBOX_NOSELECT },
	{ "\\Sent", IMAP_MAILBOX_SENT },
	{ "\\Drafts", IMAP_MAILBOX_DRAFTS },
	{ "\\Trash", IMAP_MAILBOX_TRASH },
	{ "\\Junk", IMAP_MAILBOX_JUNK },
};

const char *imap_mailbox_attr_to_string(ImapMailboxAttr attr)
{
	for (guint i = 0; i < G_N_ELEMENTS(mailbox_attrs); i++)
		if (mailbox_attrs[i].bit == (guint)attr)
			return mailbox_attrs[i].name;
	return "";
}

static ImapMailbox *mailbox_from_list(const ImapResponse *r)
{
	/* RFC 3501 7.2.2: "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox */
	if (r->args->len != 3)
		return NULL;
	const ImapValue *flags = g_ptr_array_index(r->args, 0);
	const ImapValue *delim = g_ptr_array_index(r->args, 1);
	const ImapValue *name = g_ptr_array_index(r->args, 2);
	if (flags->kind != IMAP_VALUE_LIST || (delim->kind != IMAP_VALUE_NIL && delim->kind != IMAP_VALUE_STRING) ||
	    (name->kind != IMAP_VALUE_ATOM && name->kind != IMAP_VALUE_STRING) || memchr(name->str, 0, name->len))
		return NULL;
	ImapMailbox *m = g_new0(ImapMailbox, 1);
	m->delimiter = delim->kind == IMAP_VALUE_STRING && delim->len == 1 ? delim->str[0] : '\0';
	for (guint i = 0; i < flags->items->len; i++) {
		const ImapValue *f = g_ptr_array_index(flags->items, i);
		for (guint j = 0; f->kind == IMAP_VALUE_ATOM && j < G_N_ELEMENTS(mailbox_attrs); j++)
			if (g_ascii_strcasecmp(f->str, mailbox_attrs[j].name) == 0)
				m->attributes |= mailbox_attrs[j].bit;
	}
	/* RFC 3501 5.1.3: modified UTF-7 on the wire; keep it raw if it is not */
	m->name = imap_proto_mutf7_decode(name->str, NULL);
	if (!m->name)
		m->name = g_utf8_make_valid(name->str, (gssize)name->len);
	return m;
}

GPtrArray *imap_client_list(ImapClient *c, const char *reference, const char *pattern, GError **error)
{
	g_autoptr(Cmd) cmd = cmd_new(c, "LIST ");
	/* list-mailbox may be a quoted string: "" "*" reads best. */
	g_autoptr(GString) args = g_string_new(NULL);
	imap_proto_append_string(args, reference, strlen(reference));
	g_string_append_c(args, ' ');
	imap_proto_append_string(args, pattern, strlen(pattern));
	cmd_text(cmd, args->str);
	g_autoptr(ImapResponse) ok = run(c, cmd, error);
	if (!ok)
		return NULL;
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)imap_mailbox_free);
	for (guint i = 0; i < c->untagged->len; i++) {
		const ImapResponse *r = g_ptr_array_index(c->untagged, i);
		if (r->kind != IMAP_RESPONSE_DATA || g_strcmp0(r->name, "LIST") != 0)
			continue;
		ImapMailbox *m = mailbox_from_list(r);
		if (!m) {
			g_ptr_array_unref(out);
			fail_protocol(c, error, "a LIST response that does not parse");
			return NULL;
		}
		g_ptr_array_add(out, m);
	}
	return out;
}

gboolean imap_client_select(ImapClient *c, const char *mailbox, ImapSelected *info_r, GError **error)
{
	g_autoptr(Cmd) cmd = cmd_new(c, "SELECT ");
	cmd_mailbox(cmd, mailbox);
	g_autoptr(ImapResponse) ok = run(c, cmd, error);
	if (!ok) {
		/* RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected. */
		if (c->state == IMAP_CLIENT_STATE_SELECTED)
			enter_state(c, IMAP_CLIENT_STATE_AUTHENTICATED);
		return FALSE;
	}
	ImapSelected info = { 0 };
	for (guint i = 0; i < c->untagged->len; i++) {
		const ImapResponse *r = g_ptr_array_index(c->untagged, i);
		if (r->kind == IMAP_RESPONSE_DATA && r->has_number && g_strcmp0(r->name, "EXISTS") == 0)
			info.exists = r->number;
		else if (r->kind == IMAP_RESPONSE_DATA && r->has_number && g_strcmp0(r->name, "RECENT") == 0)
			info.recent = r->number;
		else if (r->kind == IMAP_RESPONSE_STATUS && r->code && r->code_arg) {
			/* RFC 3501 7.1: [UIDVALIDITY n] and [UIDNEXT n] */
			ImapValue v = { IMAP_VALUE_ATOM, r->code_arg, strlen(r->code_arg), NULL };
			if (strcmp(r->code, "UIDVALIDITY") == 0)
				imap_value_get_number(&v, &info.uidvalidity);
			else if (strcmp(r->code, "UIDNEXT") == 0)
				imap_value_get_number(&v, &info.uidnext);
		}
	}
	if (info_r)
		*info_r = info;
	enter_state(c, IMAP_CLIENT_STATE_SELECTED);
	return TRUE;
}

gboolean imap_client_create(ImapClient *c, const char *mailbox, GError **error)
{
	g_autoptr(Cmd) cmd = cmd_new(c, "CREATE ");
	cmd_mailbox(cmd, mailbox);
	return run_simple(c, cmd, error);
}

/* ---- messages ------------------------------------------------------------------ */

/* A sequence set or search criteria is our own text: never a line break. */
static gboolean safe_text(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

GArray *imap_client_uid_search(ImapClient *c, const char *criteria, GError **error)
{
	g_return_val_if_fail(safe_text(criteria), NULL);
	g_autofree char *verb = g_strdup_printf("UID SEARCH %s", criteria);
	g_autoptr(Cmd) cmd = cmd_new(c, verb);
	g_autoptr(ImapResponse) ok = run(c, cmd, error);
	if (!ok)
		return NULL;
	GArray *uids = g_array_new(FALSE, FALSE, sizeof(guint32));
	for (guint i = 0; i < c->untagged->len; i++) {
		const ImapResponse *r = g_ptr_array_index(c->untagged, i);
		if (r->kind != IMAP_RESPONSE_DATA || g_strcmp0(r->name, "SEARCH") != 0)
			continue;
		/* RFC 3501 7.2.5: "* SEARCH" *(SP nz-number) */
		for (guint j = 0; j < r->args->len; j++) {
			guint32 uid;
			if (!imap_value_get_number(g_ptr_array_index(r->args, j), &uid)) {
				g_array_unref(uids);
				fail_protocol(c, error, "a SEARCH response with something else than numbers");
				return NULL;
			}
			g_array_append_val(uids, uid);
		}
	}
	return uids;
}

void imap_message_free(ImapMessage *m)
{
	if (!m)
		return;
	if (m->flags)
		g_ptr_array_unref(m->flags);
	if (m->body)
		g_bytes_unref(m->body);
	g_free(m);
}

gboolean imap_message_has_flag(const ImapMessage *m, const char *flag)
{
	for (guint i = 0; m->flags && i < m->flags->len; i++)
		if (g_ascii_strcasecmp(g_ptr_array_index(m->flags, i), flag) == 0)
			return TRUE;
	return FALSE;
}

static ImapMessage *message_from_fetch(const ImapResponse *r)
{
	const ImapValue *v;
	ImapMessage *m = g_new0(ImapMessage, 1);
	m->seq = r->number;
	if ((v = imap_response_fetch_item(r, "UID")) && !imap_value_get_number(v, &m->uid))
		goto bad;
	if ((v = imap_response_fetch_item(r, "RFC822.SIZE")) && !imap_value_get_number(v, &m->size))
		goto bad;
	if ((v = imap_response_fetch_item(r, "FLAGS"))) {
		if (v->kind != IMAP_VALUE_LIST)
			goto bad;
		m->flags = g_ptr_array_new_with_free_func(g_free);
		for (guint i = 0; i < v->items->len; i++) {
			const ImapValue *f = g_ptr_array_index(v->items, i);
			if (f->kind != IMAP_VALUE_ATOM)
				goto bad;
			g_ptr_array_add(m->flags, g_strdup(f->str));
		}
	}
	/* RFC 3501 7.4.2: BODY[] comes back as "BODY[]" whether PEEK was said or not */
	if ((v = imap_response_fetch_item(r, "BODY[]")) || (v = imap_response_fetch_item(r, "RFC822"))) {
		if (v->kind == IMAP_VALUE_STRING)
			m->body = g_bytes_new(v->str, v->len);
		else if (v->kind != IMAP_VALUE_NIL)
			goto bad;
	}
	return m;
bad:
	imap_message_free(m);
	return NULL;
}

GPtrArray *imap_client_uid_fetch(ImapClient *c, const char *set, const char *items, GError **error)
{
	g_return_val_if_fail(safe_text(set) && safe_text(items), NULL);
	g_autofree char *verb = g_strdup_printf("UID FETCH %s %s", set, items);
	g_autoptr(Cmd) cmd = cmd_new(c, verb);
	g_autoptr(ImapResponse) ok = run(c, cmd, error);
	if (!ok)
		return NULL;
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)imap_message_free);
	for (guint i = 0; i < c->untagged->len; i++) {
		const ImapResponse *r = g_ptr_array_index(c->untagged, i);
		if (r->kind != IMAP_RESPONSE_DATA || g_strcmp0(r->name, "FETCH") != 0 || !r->has_number)
			continue;
		ImapMessage *m = message_from_fetch(r);
		if (!m) {
			g_ptr_array_unref(out);
			fail_protocol(c, error, "a FETCH response that does not parse");
			return NULL;
		}
		g_ptr_array_add(out, m);
	}
	return out;
}

gboolean imap_client_uid_store(ImapClient *c, const char *set, const char *op, const char *flags,
                               GError **error)
{
	g_return_val_if_fail(safe_text(set) && safe_text(op) && safe_text(flags), FALSE);
	/* RFC 3501 6.4.6: .SILENT: no untagged FETCH echo of the new flags */
	g_autofree char *verb = g_strdup_printf("UID STORE %s %s.SILENT %s", set, op, flags);
	g_autoptr(Cmd) cmd = cmd_new(c, verb);
	return run_simple(c, cmd, error);
}

static gboolean uid_transfer(ImapClient *c, const char *verb, const char *set, const char *mailbox,
                             GError **error)
{
	g_return_val_if_fail(safe_text(set), FALSE);
	g_autofree char *head = g_strdup_printf("UID %s %s ", verb, set);
	g_autoptr(Cmd) cmd = cmd_new(c, head);
	cmd_mailbox(cmd, mailbox);
	return run_simple(c, cmd, error);
}

gboolean imap_client_uid_copy(ImapClient *c, const char *set, const char *mailbox, GError **error)
{
	return uid_transfer(c, "COPY", set, mailbox, error);
}

gboolean imap_client_uid_move(ImapClient *c, const char *set, const char *mailbox, GError **error)
{
	return uid_transfer(c, "MOVE", set, mailbox, error);
}

gboolean imap_client_expunge(ImapClient *c, const char *set, GError **error)
{
	g_autoptr(Cmd) cmd = NULL;
	if (set && imap_client_has_capability(c, "UIDPLUS")) {
		g_return_val_if_fail(safe_text(set), FALSE);
		/* RFC 4315 2.1: only these messages, not whatever else is \Deleted */
		g_autofree char *verb = g_strdup_printf("UID EXPUNGE %s", set);
		cmd = cmd_new(c, verb);
	} else {
		cmd = cmd_new(c, "EXPUNGE");
	}
	return run_simple(c, cmd, error);
}

gboolean imap_client_append(ImapClient *c, const char *mailbox, const char *const *flags,
                            GBytes *message, GError **error)
{
	g_return_val_if_fail(mailbox != NULL && message != NULL, FALSE);
	g_autoptr(Cmd) cmd = cmd_new(c, "APPEND ");
	cmd_mailbox(cmd, mailbox);
	cmd_text(cmd, " ");
	if (flags && flags[0]) {
		g_autoptr(GString) list = g_string_new(NULL);
		imap_proto_append_flag_list(list, flags, g_strv_length((char **)flags));
		g_string_append_c(list, ' ');
		cmd_text(cmd, list->str);
	}
	gsize len = g_bytes_get_size(message);
	guint lines = 0;
	const char *data = g_bytes_get_data(message, NULL);
	for (gsize i = 0; i < len; i++)
		lines += data[i] == '\n';
	g_autofree char *display = g_strdup_printf("(message: %" G_GSIZE_FORMAT " bytes, %u lines)", len, lines);
	cmd_literal(cmd, message, display);
	return run_simple(c, cmd, error);
}

void imap_client_logout(ImapClient *c)
{
	if (c->state != IMAP_CLIENT_STATE_FAILED && c->state != IMAP_CLIENT_STATE_LOGOUT &&
	    c->state != IMAP_CLIENT_STATE_CONNECTED) {
		/* RFC 3501 6.1.3: the server says BYE, then OK. */
		g_autoptr(Cmd) cmd = cmd_new(c, "LOGOUT");
		GError *ignored = NULL;
		imap_response_free(run(c, cmd, &ignored));
		g_clear_error(&ignored);
	}
	enter_state(c, IMAP_CLIENT_STATE_LOGOUT);
	ms_conn_close(c->conn);
}
