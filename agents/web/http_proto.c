/* agents/web/http_proto.c - HTTP/1.1 parser and encoder (RFC 9112, RFC 9110).
 *
 * One state machine reads both requests and responses: a start line, field
 * lines, then a body framed by Content-Length, by chunks, or (responses
 * only) by the close.  Every line and every body is bounded by a named limit
 * from the header, and every refusal carries the status code to answer.
 */
#include "agents/web/http_proto.h"

#include <string.h>

G_DEFINE_QUARK(http-proto-error-quark, http_proto_error)

/* ---- names ---------------------------------------------------------------- */

static const struct {
	HttpMethod  method;
	const char *name;
} method_table[] = {
	{ HTTP_METHOD_GET,  "GET"  },
	{ HTTP_METHOD_HEAD, "HEAD" },
	{ HTTP_METHOD_POST, "POST" },
};

const char *http_method_to_string(HttpMethod m)
{
	for (gsize i = 0; i < G_N_ELEMENTS(method_table); i++)
		if (method_table[i].method == m)
			return method_table[i].name;
	return "?";
}

gboolean http_method_from_string(const char *s, HttpMethod *method_r)
{
	for (gsize i = 0; i < G_N_ELEMENTS(method_table); i++) {
		/* RFC 9110 9.1: the method token is case-sensitive */
		if (strcmp(method_table[i].name, s) == 0) {
			*method_r = method_table[i].method;
			return TRUE;
		}
	}
	return FALSE;
}

const char *http_version_to_string(HttpVersion v)
{
	switch (v) {
	case HTTP_VERSION_1_0: return "HTTP/1.0";
	case HTTP_VERSION_1_1: return "HTTP/1.1";
	}
	return "?";
}

static const struct {
	guint       status;
	const char *reason;
} status_table[] = {
	{ 100, "Continue" },
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 204, "No Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 304, "Not Modified" },
	{ 307, "Temporary Redirect" },
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 505, "HTTP Version Not Supported" },
};

const char *http_proto_status_reason(guint status)
{
	for (gsize i = 0; i < G_N_ELEMENTS(status_table); i++)
		if (status_table[i].status == status)
			return status_table[i].reason;
	return "";
}

const char *http_proto_error_to_string(HttpProtoError e)
{
	switch (e) {
	case HTTP_PROTO_ERROR_BAD_REQUEST:           return "BAD_REQUEST";
	case HTTP_PROTO_ERROR_METHOD_NOT_ALLOWED:    return "METHOD_NOT_ALLOWED";
	case HTTP_PROTO_ERROR_LENGTH_REQUIRED:       return "LENGTH_REQUIRED";
	case HTTP_PROTO_ERROR_CONTENT_TOO_LARGE:     return "CONTENT_TOO_LARGE";
	case HTTP_PROTO_ERROR_URI_TOO_LONG:          return "URI_TOO_LONG";
	case HTTP_PROTO_ERROR_HEADERS_TOO_LARGE:     return "HEADERS_TOO_LARGE";
	case HTTP_PROTO_ERROR_BAD_RESPONSE:          return "BAD_RESPONSE";
	case HTTP_PROTO_ERROR_VERSION_NOT_SUPPORTED: return "VERSION_NOT_SUPPORTED";
	}
	return "?";
}

const char *http_proto_want_to_string(HttpProtoWant w)
{
	switch (w) {
	case HTTP_PROTO_WANT_LINE:        return "LINE";
	case HTTP_PROTO_WANT_BYTES:       return "BYTES";
	case HTTP_PROTO_WANT_UNTIL_CLOSE: return "UNTIL_CLOSE";
	case HTTP_PROTO_WANT_NOTHING:     return "NOTHING";
	}
	return "?";
}

/* ---- character classes (RFC 9110 5.6.2, RFC 9112 2.2) --------------------- */

/* tchar: the characters of a token (field names, methods, codings). */
static gboolean is_tchar(guchar c)
{
	return g_ascii_isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static gboolean is_token(const char *s, gsize len)
{
	if (len == 0)
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if (!is_tchar((guchar)s[i]))
			return FALSE;
	return TRUE;
}

/* field-vchar / SP / HTAB / obs-text: anything but the controls. */
static gboolean is_field_char(guchar c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static gboolean is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- messages ------------------------------------------------------------ */

static void header_free(gpointer data)
{
	HttpHeader *h = data;
	g_free(h->name);
	g_free(h->value);
	g_free(h);
}

const char *http_proto_header_get(const GPtrArray *headers, const char *name)
{
	g_return_val_if_fail(headers != NULL && name != NULL, NULL);
	for (guint i = 0; i < headers->len; i++) {
		const HttpHeader *h = g_ptr_array_index(headers, i);
		/* RFC 9110 5.1: field names are case-insensitive */
		if (g_ascii_strcasecmp(h->name, name) == 0)
			return h->value;
	}
	return NULL;
}

void http_proto_request_free(HttpRequest *req)
{
	if (!req)
		return;
	g_free(req->target);
	g_free(req->path);
	g_free(req->query);
	g_free(req->host);
	g_clear_pointer(&req->headers, g_ptr_array_unref);
	if (req->body)
		g_string_free(req->body, TRUE);
	g_free(req);
}

void http_proto_response_free(HttpResponse *resp)
{
	if (!resp)
		return;
	g_free(resp->reason);
	g_clear_pointer(&resp->headers, g_ptr_array_unref);
	if (resp->body)
		g_string_free(resp->body, TRUE);
	g_free(resp);
}

/* ---- the parser ------------------------------------------------------------ */

typedef enum {
	ST_START_LINE,
	ST_HEADERS,
	ST_BODY,          /* Content-Length bytes */
	ST_CHUNK_SIZE,
	ST_CHUNK_DATA,
	ST_CHUNK_END,     /* the CRLF after a chunk's data */
	ST_TRAILERS,
	ST_UNTIL_CLOSE,
	ST_DONE,
	ST_FAILED,
} ParserState;

struct HttpParser {
	gboolean    is_request;
	HttpMethod  response_to;   /* response parser: the request's method */
	ParserState state;
	GString    *line;          /* a line _feed has begun but not ended */
	guint       empty_lines;   /* skipped before the start line */
	GError     *error;         /* kept once failed */

	/* the message being read */
	HttpVersion version;
	HttpMethod  method;
	char       *target, *path, *query, *authority;
	guint       status;
	char       *reason;
	GPtrArray  *headers;
	gsize       header_bytes;  /* field lines so far, trailers included */
	guint       field_lines;
	gboolean    has_length;
	guint64     length;
	gboolean    has_te;
	char       *te;
	guint       host_count;
	GString    *body;
	gsize       remaining;     /* of the body or of the current chunk */
	gboolean    keep_alive;
};

static void parser_free_message(HttpParser *p)
{
	g_clear_pointer(&p->target, g_free);
	g_clear_pointer(&p->path, g_free);
	g_clear_pointer(&p->query, g_free);
	g_clear_pointer(&p->authority, g_free);
	g_clear_pointer(&p->reason, g_free);
	g_clear_pointer(&p->te, g_free);
	g_clear_pointer(&p->headers, g_ptr_array_unref);
	if (p->body) {
		g_string_free(p->body, TRUE);
		p->body = NULL;
	}
}

/* Ready for a new message: empty headers and body, no framing yet. */
static void parser_clear_message(HttpParser *p)
{
	parser_free_message(p);
	p->headers = g_ptr_array_new_with_free_func(header_free);
	p->body = g_string_new(NULL);
	p->header_bytes = 0;
	p->field_lines = 0;
	p->has_length = FALSE;
	p->length = 0;
	p->has_te = FALSE;
	p->host_count = 0;
	p->remaining = 0;
	p->keep_alive = FALSE;
	p->status = 0;
	p->version = HTTP_VERSION_1_1;
	p->method = HTTP_METHOD_GET;
}

void http_proto_parser_reset(HttpParser *p)
{
	g_return_if_fail(p != NULL);
	parser_clear_message(p);
	g_string_truncate(p->line, 0);
	g_clear_error(&p->error);
	p->empty_lines = 0;
	p->state = ST_START_LINE;
}

static HttpParser *parser_new(gboolean is_request, HttpMethod response_to)
{
	HttpParser *p = g_new0(HttpParser, 1);
	p->is_request = is_request;
	p->response_to = response_to;
	p->line = g_string_new(NULL);
	http_proto_parser_reset(p);
	return p;
}

HttpParser *http_proto_parser_new_request(void)
{
	return parser_new(TRUE, HTTP_METHOD_GET);
}

HttpParser *http_proto_parser_new_response(HttpMethod request_method)
{
	return parser_new(FALSE, request_method);
}

void http_proto_parser_free(HttpParser *p)
{
	if (!p)
		return;
	parser_free_message(p);
	g_string_free(p->line, TRUE);
	g_clear_error(&p->error);
	g_free(p);
}

/* Fail with code (sticky) and hand the caller a copy. */
G_GNUC_PRINTF(4, 5)
static int fail(HttpParser *p, GError **error, HttpProtoError code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	/* A response parser is a client: its peer's syntax errors are "bad
	 * response", whatever a server would have answered.  Limits keep their
	 * code so the caller can say which one. */
	if (!p->is_request && code != HTTP_PROTO_ERROR_CONTENT_TOO_LARGE &&
	    code != HTTP_PROTO_ERROR_HEADERS_TOO_LARGE)
		code = HTTP_PROTO_ERROR_BAD_RESPONSE;
	g_clear_error(&p->error);
	p->error = g_error_new_literal(HTTP_PROTO_ERROR, code, msg);
	p->state = ST_FAILED;
	if (error)
		*error = g_error_copy(p->error);
	return -1;
}

/* A syntax error; fail() turns it into 502 for a response parser. */
#define SYNTAX HTTP_PROTO_ERROR_BAD_REQUEST

/* "HTTP/1.1" -> version; 0 ok, else the error code. */
static HttpProtoError parse_version(const char *s, HttpVersion *v)
{
	/* RFC 9112 2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive */
	if (strlen(s) != 8 || strncmp(s, "HTTP/", 5) != 0 ||
	    !g_ascii_isdigit(s[5]) || s[6] != '.' || !g_ascii_isdigit(s[7]))
		return HTTP_PROTO_ERROR_BAD_REQUEST;
	if (s[5] != '1')
		return HTTP_PROTO_ERROR_VERSION_NOT_SUPPORTED;
	/* RFC 9110 2.5: a higher minor version is read as the highest we know */
	*v = s[7] == '0' ? HTTP_VERSION_1_0 : HTTP_VERSION_1_1;
	return 0;
}

/* Split target into path and query, and the authority of an absolute form. */
static int parse_target(HttpParser *p, const char *target, GError **error)
{
	if (strlen(target) > HTTP_PROTO_MAX_TARGET)
		return fail(p, error, HTTP_PROTO_ERROR_URI_TOO_LONG,
		            "request-target longer than %d bytes", HTTP_PROTO_MAX_TARGET);
	for (const char *c = target; *c; c++) {
		/* RFC 9112 3.2: the fragment is never sent; no controls, no 8-bit */
		if ((guchar)*c <= 0x20 || (guchar)*c >= 0x7f || *c == '#')
			return fail(p, error, SYNTAX, "bad character 0x%02x in request-target",
			            (guchar)*c);
	}

	const char *rest = target;
	if (target[0] != '/') {
		/* RFC 9112 3.2.2: a server MUST accept the absolute-form */
		g_autofree char *scheme = NULL, *host = NULL;
		gint port = -1;
		if (!g_uri_split_network(target, G_URI_FLAGS_ENCODED, &scheme, &host, &port, NULL) ||
		    (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0) ||
		    !host || !*host || !g_str_has_prefix(target + strlen(scheme), "://"))
			return fail(p, error, SYNTAX,
			            "request-target is neither origin-form nor absolute-form");
		const char *auth = target + strlen(scheme) + 3;
		gsize auth_len = strcspn(auth, "/?");
		/* RFC 9110 4.2.4: userinfo in an http URI is treated as an error */
		if (memchr(auth, '@', auth_len))
			return fail(p, error, SYNTAX, "userinfo in request-target");
		/* RFC 9112 3.2.2: the target's authority overrides Host */
		p->authority = g_strndup(auth, auth_len);
		rest = auth + auth_len;
		if (*rest != '/') {
			/* RFC 9112 3.2.1: an empty path is sent as "/" */
			p->path = g_strdup("/");
			p->query = *rest == '?' ? g_strdup(rest + 1) : NULL;
			return 0;
		}
	}
	const char *q = strchr(rest, '?');
	p->path = q ? g_strndup(rest, q - rest) : g_strdup(rest);
	p->query = q ? g_strdup(q + 1) : NULL;
	return 0;
}

/* RFC 9112 3: request-line = method SP request-target SP HTTP-version */
static int parse_request_line(HttpParser *p, const char *line, gsize len, GError **error)
{
	for (gsize i = 0; i < len; i++)
		if ((guchar)line[i] < 0x20 || (guchar)line[i] == 0x7f)
			return fail(p, error, SYNTAX, "control character in request-line");

	g_auto(GStrv) parts = g_strsplit(line, " ", 4);
	if (g_strv_length(parts) != 3 || !*parts[0] || !*parts[1] || !*parts[2])
		return fail(p, error, SYNTAX, "request-line is not METHOD SP TARGET SP VERSION");

	HttpProtoError code = parse_version(parts[2], &p->version);
	if (code == HTTP_PROTO_ERROR_VERSION_NOT_SUPPORTED)
		return fail(p, error, code, "version %s not supported", parts[2]);
	if (code)
		return fail(p, error, code, "bad HTTP-version");

	if (!is_token(parts[0], strlen(parts[0])))
		return fail(p, error, SYNTAX, "method is not a token");
	if (!http_method_from_string(parts[0], &p->method))
		return fail(p, error, HTTP_PROTO_ERROR_METHOD_NOT_ALLOWED,
		            "method %.32s not allowed (Allow: %s)", parts[0], HTTP_PROTO_ALLOW);

	p->target = g_strdup(parts[1]);
	return parse_target(p, parts[1], error);
}

/* RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ] */
static int parse_status_line(HttpParser *p, const char *line, gsize len, GError **error)
{
	for (gsize i = 0; i < len; i++)
		if (!is_field_char((guchar)line[i]))
			return fail(p, error, SYNTAX, "control character in status-line");

	g_auto(GStrv) parts = g_strsplit(line, " ", 3);
	if (g_strv_length(parts) < 2 || parse_version(parts[0], &p->version) != 0)
		return fail(p, error, SYNTAX, "bad status-line");
	const char *code = parts[1];
	if (strlen(code) != 3 || !g_ascii_isdigit(code[0]) || !g_ascii_isdigit(code[1]) ||
	    !g_ascii_isdigit(code[2]))
		return fail(p, error, SYNTAX, "status code is not three digits");
	p->status = (guint)g_ascii_strtoull(code, NULL, 10);
	/* RFC 9110 15: the classes run from 1xx to 5xx */
	if (p->status < 100 || p->status > 599)
		return fail(p, error, SYNTAX, "status code %u out of range", p->status);
	/* A missing reason (even its SP) is tolerated: clients ignore it anyway. */
	p->reason = g_strdup(parts[2] ? parts[2] : "");
	return 0;
}

/* Limit on the next field line, so that all of them fit the budget. */
static gsize field_line_budget(const HttpParser *p)
{
	return HTTP_PROTO_MAX_HEADER_BYTES - MIN(p->header_bytes, HTTP_PROTO_MAX_HEADER_BYTES);
}

/* Does a Connection value list the token? (RFC 9110 7.6.1: a comma list) */
static gboolean connection_has(const GPtrArray *headers, const char *token)
{
	for (guint i = 0; i < headers->len; i++) {
		const HttpHeader *h = g_ptr_array_index(headers, i);
		if (g_ascii_strcasecmp(h->name, "Connection") != 0)
			continue;
		g_auto(GStrv) items = g_strsplit(h->value, ",", -1);
		for (char **it = items; *it; it++)
			if (g_ascii_strcasecmp(g_strstrip(*it), token) == 0)
				return TRUE;
	}
	return FALSE;
}

static gboolean decide_keep_alive(const HttpParser *p)
{
	/* RFC 9112 9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive" */
	if (connection_has(p->headers, "close"))
		return FALSE;
	if (p->version == HTTP_VERSION_1_1)
		return TRUE;
	return connection_has(p->headers, "keep-alive");
}

/* uri-host [ ":" port ]: reg-name, IPv4 or [IPv6] (RFC 3986 3.2.2). */
static gboolean is_host_value(const char *v)
{
	for (const char *c = v; *c; c++)
		if (!g_ascii_isalnum(*c) && !strchr("-._~%!$&'()*+,;=:[]", *c))
			return FALSE;
	return TRUE;
}

static int start_body(HttpParser *p, GError **error)
{
	if (p->length > HTTP_PROTO_MAX_BODY)
		return fail(p, error, HTTP_PROTO_ERROR_CONTENT_TOO_LARGE,
		            "body of %" G_GUINT64_FORMAT " bytes, limit %d",
		            p->length, HTTP_PROTO_MAX_BODY);
	p->remaining = (gsize)p->length;
	g_string_set_size(p->body, 0);
	p->state = p->remaining > 0 ? ST_BODY : ST_DONE;
	return p->state == ST_DONE ? 1 : 0;
}

/* The empty line: decide how the body is framed (RFC 9112 6.3). */
static int request_head_done(HttpParser *p, GError **error)
{
	/* RFC 9112 3.2: exactly one valid Host in HTTP/1.1, else 400 */
	if (p->version == HTTP_VERSION_1_1 && p->host_count == 0)
		return fail(p, error, SYNTAX, "HTTP/1.1 request without Host");
	if (p->host_count > 1)
		return fail(p, error, SYNTAX, "more than one Host");
	const char *host = http_proto_header_get(p->headers, "Host");
	if (host && !is_host_value(host))
		return fail(p, error, SYNTAX, "invalid Host");
	if (!p->authority)
		p->authority = g_strdup(host ? host : "");

	if (p->has_te) {
		/* RFC 9112 6.1: both is a smuggling attempt or a broken client */
		if (p->has_length)
			return fail(p, error, SYNTAX, "both Content-Length and Transfer-Encoding");
		/* RFC 9112 6.1: Transfer-Encoding in 1.0 means faulty framing */
		if (p->version == HTTP_VERSION_1_0)
			return fail(p, error, SYNTAX, "Transfer-Encoding in an HTTP/1.0 request");
		/* RFC 9112 6.3: we MAY ask for a Content-Length instead of chunks */
		return fail(p, error, HTTP_PROTO_ERROR_LENGTH_REQUIRED,
		            "chunked request bodies are not accepted, send Content-Length");
	}
	p->keep_alive = decide_keep_alive(p);
	/* RFC 9112 6.3 (7): no Content-Length, no TE: the request has no body */
	return start_body(p, error);
}

static int response_head_done(HttpParser *p, GError **error)
{
	p->keep_alive = decide_keep_alive(p);
	/* RFC 9112 6.3 (1): no body after HEAD, 1xx, 204, 304 */
	if (p->response_to == HTTP_METHOD_HEAD || p->status < 200 ||
	    p->status == 204 || p->status == 304) {
		p->state = ST_DONE;
		return 1;
	}
	if (p->has_te) {
		if (p->version == HTTP_VERSION_1_0)
			return fail(p, error, SYNTAX, "Transfer-Encoding in an HTTP/1.0 response");
		/* We never send TE, so chunked is the only coding a server may use
		 * (RFC 9112 6.1); RFC 9112 6.3 (3): it overrides Content-Length. */
		if (g_ascii_strcasecmp(p->te, "chunked") != 0) {
			/* the value may hold any 8-bit byte: escape it for the logs */
			g_autofree char *shown = g_strescape(p->te, NULL);
			return fail(p, error, SYNTAX, "unsupported Transfer-Encoding %.64s", shown);
		}
		g_string_set_size(p->body, 0);
		p->state = ST_CHUNK_SIZE;
		return 0;
	}
	if (p->has_length)
		return start_body(p, error);
	/* RFC 9112 6.3 (8): the body runs until the server closes */
	p->keep_alive = FALSE;
	p->state = ST_UNTIL_CLOSE;
	return 0;
}

/* A Content-Length value: 1*DIGIT only (RFC 9110 8.6). */
static int note_content_length(HttpParser *p, const char *value, GError **error)
{
	/* RFC 9112 6.3 (5): repeated or listed lengths are refused, not guessed */
	if (p->has_length)
		return fail(p, error, SYNTAX, "more than one Content-Length");
	gsize n = strlen(value);
	if (n == 0 || strspn(value, "0123456789") != n)
		return fail(p, error, SYNTAX, "Content-Length is not a number");
	/* 18 significant digits fit a guint64 and are far over any limit */
	const char *digits = value + strspn(value, "0");
	if (strlen(digits) > 18)
		return fail(p, error, HTTP_PROTO_ERROR_CONTENT_TOO_LARGE, "Content-Length too large");
	p->length = g_ascii_strtoull(digits, NULL, 10);
	p->has_length = TRUE;
	return 0;
}

/* One field line (RFC 9112 5): field-name ":" OWS field-value OWS.  In the
 * trailer section the fields are checked and counted, then dropped. */
static int parse_field_line(HttpParser *p, const char *line, gsize len,
                            gboolean trailer, GError **error)
{
	if (++p->field_lines > HTTP_PROTO_MAX_HEADERS)
		return fail(p, error, HTTP_PROTO_ERROR_HEADERS_TOO_LARGE,
		            "more than %d header fields", HTTP_PROTO_MAX_HEADERS);
	p->header_bytes += len + 2;

	for (gsize i = 0; i < len; i++)
		if (!is_field_char((guchar)line[i]))
			return fail(p, error, SYNTAX, "control character in a header field");

	if (is_ows(line[0])) {
		/* RFC 9112 5.2: a server MUST reject obs-fold; a user agent
		 * replaces it with SP.  Also catches whitespace before the first
		 * field (RFC 9112 2.2). */
		if (p->is_request || trailer || p->headers->len == 0)
			return fail(p, error, SYNTAX, "obsolete line folding");
		HttpHeader *last = g_ptr_array_index(p->headers, p->headers->len - 1);
		g_autofree char *more = g_strstrip(g_strndup(line, len));
		char *joined = g_strconcat(last->value, " ", more, NULL);
		g_free(last->value);
		last->value = joined;
		return 0;
	}

	const char *colon = memchr(line, ':', len);
	/* RFC 9112 5.1: no whitespace between the name and the colon */
	if (!colon || !is_token(line, colon - line))
		return fail(p, error, SYNTAX, "field line is not NAME: VALUE");
	if (trailer)
		return 0;

	HttpHeader *h = g_new0(HttpHeader, 1);
	h->name = g_strndup(line, colon - line);
	h->value = g_strstrip(g_strndup(colon + 1, len - (colon + 1 - line)));
	g_ptr_array_add(p->headers, h);

	if (g_ascii_strcasecmp(h->name, "Content-Length") == 0)
		return note_content_length(p, h->value, error);
	if (g_ascii_strcasecmp(h->name, "Transfer-Encoding") == 0) {
		if (p->has_te)
			return fail(p, error, SYNTAX, "more than one Transfer-Encoding");
		p->has_te = TRUE;
		p->te = g_strdup(h->value);
	} else if (g_ascii_strcasecmp(h->name, "Host") == 0) {
		p->host_count++;
	}
	return 0;
}

/* RFC 9112 7.1: chunk-size [ chunk-ext ] CRLF; the extensions are ignored. */
static int parse_chunk_size(HttpParser *p, const char *line, gsize len, GError **error)
{
	gsize i = 0;
	guint64 size = 0;
	while (i < len && g_ascii_isxdigit(line[i])) {
		size = size * 16 + (guint64)g_ascii_xdigit_value(line[i]);
		/* stop before the value can overflow: it is over the limit already */
		if (size > HTTP_PROTO_MAX_BODY)
			return fail(p, error, HTTP_PROTO_ERROR_CONTENT_TOO_LARGE,
			            "chunk larger than the body limit");
		i++;
	}
	if (i == 0)
		return fail(p, error, SYNTAX, "chunk-size is not hexadecimal");
	while (i < len && is_ows(line[i]))
		i++;
	if (i < len && line[i] != ';')
		return fail(p, error, SYNTAX, "junk after chunk-size");
	for (; i < len; i++)
		if (!is_field_char((guchar)line[i]))
			return fail(p, error, SYNTAX, "control character in chunk-ext");

	if (size == 0) {
		p->state = ST_TRAILERS;
		return 0;
	}
	if (p->body->len + size > HTTP_PROTO_MAX_BODY)
		return fail(p, error, HTTP_PROTO_ERROR_CONTENT_TOO_LARGE,
		            "chunked body over %d bytes", HTTP_PROTO_MAX_BODY);
	p->remaining = (gsize)size;
	p->state = ST_CHUNK_DATA;
	return 0;
}

/* The longest line the current state accepts, ending excluded. */
static gsize line_limit(const HttpParser *p)
{
	switch (p->state) {
	case ST_START_LINE:  return HTTP_PROTO_MAX_START_LINE;
	case ST_HEADERS:
	case ST_TRAILERS:    return field_line_budget(p) >= 2 ? field_line_budget(p) - 2 : 0;
	case ST_CHUNK_SIZE:  return HTTP_PROTO_MAX_CHUNK_LINE;
	default:             return 0;
	}
}

/* A line longer than the state allows.  line holds at least its start. */
static int line_too_long(HttpParser *p, const char *line, gsize len, GError **error)
{
	switch (p->state) {
	case ST_START_LINE:
		if (p->is_request) {
			/* A method then SP: the target is what ran long. */
			const char *sp = memchr(line, ' ', MIN(len, HTTP_PROTO_MAX_METHOD + 1));
			if (sp && is_token(line, sp - line))
				return fail(p, error, HTTP_PROTO_ERROR_URI_TOO_LONG,
				            "request-line longer than %d bytes", HTTP_PROTO_MAX_START_LINE);
		}
		return fail(p, error, SYNTAX, "start line longer than %d bytes",
		            HTTP_PROTO_MAX_START_LINE);
	case ST_HEADERS:
	case ST_TRAILERS:
		return fail(p, error, HTTP_PROTO_ERROR_HEADERS_TOO_LARGE,
		            "header section larger than %d bytes", HTTP_PROTO_MAX_HEADER_BYTES);
	default:
		return fail(p, error, SYNTAX, "line too long");
	}
}

/* A complete line, its ending removed. */
static int process_line(HttpParser *p, const char *line, gsize len, GError **error)
{
	if (len > line_limit(p))
		return line_too_long(p, line, len, error);
	/* RFC 9112 2.2: a bare CR inside an element is invalid */
	if (memchr(line, '\r', len) || memchr(line, '\n', len))
		return fail(p, error, SYNTAX, "bare CR or LF inside a line");

	switch (p->state) {
	case ST_START_LINE: {
		if (len == 0) {
			/* RFC 9112 2.2: SHOULD ignore at least one empty line first */
			if (++p->empty_lines > HTTP_PROTO_MAX_LEADING_EMPTY_LINES)
				return fail(p, error, SYNTAX, "too many empty lines");
			return 0;
		}
		/* the start line is split as a C string: no NUL may hide in it */
		if (memchr(line, '\0', len))
			return fail(p, error, SYNTAX, "NUL in start line");
		g_autofree char *s = g_strndup(line, len);
		int ret = p->is_request ? parse_request_line(p, s, len, error)
		                        : parse_status_line(p, s, len, error);
		if (ret == 0)
			p->state = ST_HEADERS;
		return ret;
	}
	case ST_HEADERS:
		if (len == 0)
			return p->is_request ? request_head_done(p, error)
			                     : response_head_done(p, error);
		return parse_field_line(p, line, len, FALSE, error);
	case ST_CHUNK_SIZE:
		return parse_chunk_size(p, line, len, error);
	case ST_CHUNK_END:
		if (len != 0)
			return fail(p, error, SYNTAX, "chunk data longer than its size");
		p->state = ST_CHUNK_SIZE;
		return 0;
	case ST_TRAILERS:
		if (len == 0) {
			p->state = ST_DONE;
			return 1;
		}
		return parse_field_line(p, line, len, TRUE, error);
	default:
		g_return_val_if_reached(-1);
	}
}

static gboolean state_wants_line(ParserState st)
{
	return st == ST_START_LINE || st == ST_HEADERS || st == ST_CHUNK_SIZE ||
	       st == ST_CHUNK_END || st == ST_TRAILERS;
}

/* Body bytes: returns how many of len were taken. */
static gsize take_body(HttpParser *p, const char *data, gsize len)
{
	gsize n = len;
	if (p->state != ST_UNTIL_CLOSE)
		n = MIN(len, p->remaining);
	g_string_append_len(p->body, data, n);
	if (p->state == ST_UNTIL_CLOSE)
		return n;
	p->remaining -= n;
	if (p->remaining == 0)
		p->state = p->state == ST_BODY ? ST_DONE : ST_CHUNK_END;
	return n;
}

static int sticky_error(HttpParser *p, GError **error)
{
	if (error)
		*error = g_error_copy(p->error);
	return -1;
}

int http_proto_parser_feed(HttpParser *p, const void *data, gsize len,
                           gsize *consumed_r, GError **error)
{
	g_return_val_if_fail(p != NULL && (data != NULL || len == 0) && consumed_r != NULL, -1);
	const char *in = data;
	gsize used = 0;
	int ret = 0;

	*consumed_r = 0;
	while (p->state != ST_DONE && p->state != ST_FAILED && used < len) {
		if (state_wants_line(p->state)) {
			const char *lf = memchr(in + used, '\n', len - used);
			gsize seg = lf ? (gsize)(lf - (in + used)) : len - used;
			/* room for the line and the CR that may end it */
			if (p->line->len + seg > line_limit(p) + 1) {
				g_string_append_len(p->line, in + used, MIN(seg, line_limit(p) + 2));
				*consumed_r = used + seg;
				return line_too_long(p, p->line->str, p->line->len, error);
			}
			g_string_append_len(p->line, in + used, seg);
			used += seg;
			if (!lf)
				break;
			used++;   /* the LF */
			gsize n = p->line->len;
			/* RFC 9112 2.2: CRLF, or a bare LF with the CR ignored */
			if (n > 0 && p->line->str[n - 1] == '\r')
				n--;
			ret = process_line(p, p->line->str, n, error);
			g_string_truncate(p->line, 0);
		} else if (p->state == ST_BODY || p->state == ST_CHUNK_DATA) {
			used += take_body(p, in + used, len - used);
			ret = p->state == ST_DONE ? 1 : 0;
		} else {   /* ST_UNTIL_CLOSE */
			if (p->body->len + (len - used) > HTTP_PROTO_MAX_BODY) {
				*consumed_r = len;
				return fail(p, error, HTTP_PROTO_ERROR_CONTENT_TOO_LARGE,
				            "body over %d bytes", HTTP_PROTO_MAX_BODY);
			}
			used += take_body(p, in + used, len - used);
		}
		if (ret < 0) {
			*consumed_r = used;
			return -1;
		}
	}
	*consumed_r = used;
	if (p->state == ST_FAILED)
		return sticky_error(p, error);
	return p->state == ST_DONE ? 1 : 0;
}

int http_proto_parser_feed_line(HttpParser *p, const char *line, gsize len, GError **error)
{
	g_return_val_if_fail(p != NULL && (line != NULL || len == 0), -1);
	if (p->state == ST_FAILED)
		return sticky_error(p, error);
	if (p->state == ST_DONE)
		return 1;
	g_return_val_if_fail(state_wants_line(p->state), -1);
	g_return_val_if_fail(p->line->len == 0, -1);   /* don't mix with a half-fed line */
	int ret = process_line(p, line, len, error);
	if (ret < 0)
		return -1;
	return p->state == ST_DONE ? 1 : 0;
}

int http_proto_parser_finish(HttpParser *p, GError **error)
{
	g_return_val_if_fail(p != NULL, -1);
	switch (p->state) {
	case ST_FAILED:
		return sticky_error(p, error);
	case ST_DONE:
		return 1;
	case ST_UNTIL_CLOSE:
		p->state = ST_DONE;
		return 1;
	case ST_START_LINE:
		if (p->line->len == 0)
			return 0;
		/* fall through */
	default:
		return fail(p, error, SYNTAX, "connection closed in the middle of a message");
	}
}

HttpProtoWant http_proto_parser_want(const HttpParser *p, gsize *bytes_r)
{
	g_return_val_if_fail(p != NULL, HTTP_PROTO_WANT_NOTHING);
	if (bytes_r)
		*bytes_r = 0;
	if (state_wants_line(p->state))
		return HTTP_PROTO_WANT_LINE;
	if (p->state == ST_BODY || p->state == ST_CHUNK_DATA) {
		if (bytes_r)
			*bytes_r = p->remaining;
		return HTTP_PROTO_WANT_BYTES;
	}
	if (p->state == ST_UNTIL_CLOSE)
		return HTTP_PROTO_WANT_UNTIL_CLOSE;
	return HTTP_PROTO_WANT_NOTHING;
}

HttpRequest *http_proto_parser_take_request(HttpParser *p)
{
	g_return_val_if_fail(p != NULL && p->is_request, NULL);
	if (p->state != ST_DONE)
		return NULL;
	HttpRequest *req = g_new0(HttpRequest, 1);
	req->method = p->method;
	req->target = g_steal_pointer(&p->target);
	req->path = g_steal_pointer(&p->path);
	req->query = g_steal_pointer(&p->query);
	req->host = g_steal_pointer(&p->authority);
	req->version = p->version;
	req->headers = g_steal_pointer(&p->headers);
	req->body = g_steal_pointer(&p->body);
	req->keep_alive = p->keep_alive;
	http_proto_parser_reset(p);
	return req;
}

HttpResponse *http_proto_parser_take_response(HttpParser *p)
{
	g_return_val_if_fail(p != NULL && !p->is_request, NULL);
	if (p->state != ST_DONE)
		return NULL;
	HttpResponse *resp = g_new0(HttpResponse, 1);
	resp->version = p->version;
	resp->status = p->status;
	resp->reason = g_steal_pointer(&p->reason);
	resp->headers = g_steal_pointer(&p->headers);
	resp->body = g_steal_pointer(&p->body);
	resp->keep_alive = p->keep_alive;
	http_proto_parser_reset(p);
	return resp;
}

/* ---- the query string ------------------------------------------------------ */

char *http_proto_query_get(const char *query, const char *name, GError **error)
{
	g_return_val_if_fail(name != NULL, NULL);
	if (!query || !*query)
		return NULL;
	GError *local = NULL;
	/* WWW_FORM: '+' is a space; GLib refuses bad escapes, %00 and non-UTF-8 */
	g_autoptr(GHashTable) params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_WWW_FORM,
	                                                  &local);
	if (!params) {
		g_set_error(error, HTTP_PROTO_ERROR, HTTP_PROTO_ERROR_BAD_REQUEST,
		            "malformed query: %s", local->message);
		g_error_free(local);
		return NULL;
	}
	return g_strdup(g_hash_table_lookup(params, name));
}

char *http_proto_target_with_query(const char *path, const char *name, const char *value)
{
	g_return_val_if_fail(path != NULL && name != NULL && value != NULL, NULL);
	g_autofree char *n = g_uri_escape_string(name, NULL, FALSE);
	g_autofree char *v = g_uri_escape_string(value, NULL, FALSE);
	return g_strdup_printf("%s?%s=%s", path, n, v);
}

/* ---- encoders ------------------------------------------------------------- */

char *http_proto_format_date(gint64 unix_seconds)
{
	/* RFC 9110 5.6.7: fixed English names, not the locale's (%a would be) */
	static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(unix_seconds);
	g_return_val_if_fail(t != NULL, NULL);
	return g_strdup_printf("%s, %02d %s %04d %02d:%02d:%02d GMT",
	                       days[g_date_time_get_day_of_week(t) - 1],
	                       g_date_time_get_day_of_month(t),
	                       months[g_date_time_get_month(t) - 1],
	                       g_date_time_get_year(t),
	                       g_date_time_get_hour(t),
	                       g_date_time_get_minute(t),
	                       g_date_time_get_second(t));
}

/* Header injection is a bug in our caller, not input: refuse it loudly. */
static gboolean safe_value(const char *v)
{
	return v == NULL || strpbrk(v, "\r\n") == NULL;
}

static void add_field(GString *out, const char *name, const char *value)
{
	if (value)
		g_string_append_printf(out, "%s: %s\r\n", name, value);
}

GString *http_proto_encode_response(const HttpResponseHead *head,
                                    const void *body, gsize body_len)
{
	g_return_val_if_fail(head != NULL && (body != NULL || body_len == 0), NULL);
	g_return_val_if_fail(head->status >= 100 && head->status <= 599, NULL);
	g_return_val_if_fail(safe_value(head->content_type) && safe_value(head->date) &&
	                     safe_value(head->server) && safe_value(head->allow) &&
	                     safe_value(head->location), NULL);
	/* RFC 9110 8.6, 15.3.5, 15.4.5: these never carry content */
	gboolean bodiless = head->status < 200 || head->status == 204 || head->status == 304;
	g_return_val_if_fail(!bodiless || body_len == 0, NULL);

	GString *out = g_string_sized_new(256 + body_len);
	/* RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ] */
	g_string_append_printf(out, "HTTP/1.1 %03u %s\r\n", head->status,
	                       http_proto_status_reason(head->status));
	add_field(out, "Date", head->date);
	add_field(out, "Server", head->server);
	add_field(out, "Allow", head->allow);
	add_field(out, "Location", head->location);
	add_field(out, "Content-Type", head->content_type);
	if (!bodiless)
		g_string_append_printf(out, "Content-Length: %" G_GSIZE_FORMAT "\r\n", body_len);
	if (!head->keep_alive)
		add_field(out, "Connection", "close");
	g_string_append(out, "\r\n");
	/* RFC 9110 9.3.2: HEAD gets the same fields as GET, without content */
	if (!head->head_only && body_len > 0)
		g_string_append_len(out, body, body_len);
	return out;
}

GString *http_proto_encode_error(guint status, const char *date)
{
	g_autofree char *text = g_strdup_printf("%u %s\r\n", status, http_proto_status_reason(status));
	HttpResponseHead head = {
		.status = status,
		.content_type = "text/plain; charset=utf-8",
		.date = date,
		.allow = status == 405 ? HTTP_PROTO_ALLOW : NULL,
		/* after a refusal the framing of what follows is unknown */
		.keep_alive = FALSE,
	};
	return http_proto_encode_response(&head, text, strlen(text));
}

GString *http_proto_encode_request(const HttpRequestHead *head,
                                   const void *body, gsize body_len)
{
	g_return_val_if_fail(head != NULL && head->host != NULL && head->target != NULL, NULL);
	g_return_val_if_fail(body != NULL || body_len == 0, NULL);
	g_return_val_if_fail(head->target[0] == '/' && !strpbrk(head->target, " \t\r\n"), NULL);
	g_return_val_if_fail(safe_value(head->host) && safe_value(head->content_type) &&
	                     safe_value(head->user_agent), NULL);

	GString *out = g_string_sized_new(256 + body_len);
	g_string_append_printf(out, "%s %s HTTP/1.1\r\n", http_method_to_string(head->method),
	                       head->target);
	/* RFC 9112 3.2: a client MUST send Host in every HTTP/1.1 request */
	add_field(out, "Host", head->host);
	add_field(out, "User-Agent", head->user_agent);
	add_field(out, "Content-Type", head->content_type);
	if (head->method == HTTP_METHOD_POST || body_len > 0)
		g_string_append_printf(out, "Content-Length: %" G_GSIZE_FORMAT "\r\n", body_len);
	if (!head->keep_alive)
		add_field(out, "Connection", "close");
	g_string_append(out, "\r\n");
	g_string_append_len(out, body, body_len);
	return out;
}
