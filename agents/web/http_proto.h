/* agents/web/http_proto.h - HTTP/1.1 messages as bytes and back, nothing else.
 *
 * The pure layer under the autoconfig web server and the MUA's account set-up:
 * an incremental parser for requests (server side) and responses (client
 * side), and encoders for both.  No I/O, no clock: the caller reads the
 * socket and passes in the Date.  RFC 9112 (message syntax, framing,
 * chunked coding), RFC 9110 (methods, status codes, Host, Connection).
 */
#pragma once

#include <glib.h>

/* ---- limits: every one of them is a reply code when crossed ------------- */

/* Longest method token we bother to read; all we serve are three letters. */
#define HTTP_PROTO_MAX_METHOD        16
/* Longest request-target; longer gets 414 (RFC 9112 3: SHOULD be 8000+ for
 * a general server; ours serves two short paths and one address). */
#define HTTP_PROTO_MAX_TARGET        2048
/* Longest start line: method SP target SP HTTP/x.y. */
#define HTTP_PROTO_MAX_START_LINE    (HTTP_PROTO_MAX_METHOD + 1 + HTTP_PROTO_MAX_TARGET + 1 + 8)
/* All header (and trailer) field lines together, CRLFs included; more is 431. */
#define HTTP_PROTO_MAX_HEADER_BYTES  8192
/* Number of header (and trailer) field lines; more is 431. */
#define HTTP_PROTO_MAX_HEADERS       64
/* Largest body, either way; a bigger Content-Length is 413 at once. */
#define HTTP_PROTO_MAX_BODY          65536
/* Longest chunk-size line, extensions included (RFC 9112 7.1.1). */
#define HTTP_PROTO_MAX_CHUNK_LINE    256
/* Empty lines tolerated before a start line (RFC 9112 2.2: at least one). */
#define HTTP_PROTO_MAX_LEADING_EMPTY_LINES 4
/* The longest line any state accepts: read lines with this max (see
 * http_proto_parser_feed_line). */
#define HTTP_PROTO_MAX_LINE          HTTP_PROTO_MAX_HEADER_BYTES
/* What a 405 answer lists in Allow (RFC 9110 10.2.1). */
#define HTTP_PROTO_ALLOW             "GET, HEAD, POST"

/* ---- names ---------------------------------------------------------------- */

typedef enum {
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
} HttpMethod;

const char *http_method_to_string(HttpMethod m);
/* Methods are case-sensitive (RFC 9110 9.1): "get" is not GET.  FALSE for
 * anything but the three we serve. */
gboolean    http_method_from_string(const char *s, HttpMethod *method_r);

typedef enum {
	HTTP_VERSION_1_0,
	HTTP_VERSION_1_1,
} HttpVersion;

const char *http_version_to_string(HttpVersion v);   /* "HTTP/1.1" */

/* The reason phrase for a status code ("Not Found"); "" for codes outside
 * the table (RFC 9112 4: the phrase may be empty). */
const char *http_proto_status_reason(guint status);

/* ---- errors ----------------------------------------------------------------
 * Parser errors are GErrors in HTTP_PROTO_ERROR whose code *is* the status a
 * server answers with.  A request parser uses every code but 502; a response
 * parser says 502 for any malformed response and keeps 413/431 for limits.
 */
#define HTTP_PROTO_ERROR (http_proto_error_quark())
GQuark http_proto_error_quark(void);

typedef enum {
	HTTP_PROTO_ERROR_BAD_REQUEST           = 400,
	HTTP_PROTO_ERROR_METHOD_NOT_ALLOWED    = 405, /* answer with Allow: HTTP_PROTO_ALLOW */
	HTTP_PROTO_ERROR_LENGTH_REQUIRED       = 411, /* a chunked request body: we want Content-Length */
	HTTP_PROTO_ERROR_CONTENT_TOO_LARGE     = 413,
	HTTP_PROTO_ERROR_URI_TOO_LONG          = 414,
	HTTP_PROTO_ERROR_HEADERS_TOO_LARGE     = 431,
	HTTP_PROTO_ERROR_BAD_RESPONSE          = 502,
	HTTP_PROTO_ERROR_VERSION_NOT_SUPPORTED = 505,
} HttpProtoError;

const char *http_proto_error_to_string(HttpProtoError e);

/* ---- parsed messages --------------------------------------------------- */

/* One field line.  name keeps the case it arrived in; value has its
 * surrounding whitespace removed (RFC 9112 5.1). */
typedef struct {
	char *name;
	char *value;
} HttpHeader;

/* The first value of the field called name (case-insensitive, RFC 9110 5.1),
 * NULL if absent.  Borrowed from headers (a GPtrArray of HttpHeader *). */
const char *http_proto_header_get(const GPtrArray *headers, const char *name);

typedef struct {
	HttpMethod  method;
	char       *target;      /* as sent: "/mail/config-v1.1.xml?emailaddress=a%40b.c" */
	char       *path;        /* before '?', still percent-encoded: "/mail/config-v1.1.xml" */
	char       *query;       /* after '?', still encoded; NULL when there is no '?' */
	char       *host;        /* Host, or the authority of an absolute-form target */
	HttpVersion version;
	GPtrArray  *headers;     /* of HttpHeader *, in arrival order */
	GString    *body;        /* never NULL; may hold NUL bytes: trust len */
	gboolean    keep_alive;  /* may the connection carry another request? */
} HttpRequest;

void http_proto_request_free(HttpRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HttpRequest, http_proto_request_free)

typedef struct {
	HttpVersion version;
	guint       status;      /* 100..599 */
	char       *reason;      /* may be "" */
	GPtrArray  *headers;     /* of HttpHeader *; trailers are dropped */
	GString    *body;        /* de-chunked; never NULL */
	gboolean    keep_alive;
} HttpResponse;

void http_proto_response_free(HttpResponse *resp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HttpResponse, http_proto_response_free)

/* ---- the incremental parser -------------------------------------------- */

typedef struct HttpParser HttpParser;

/* What the parser needs next: lets blocking session code pick between
 * ms_conn_read_line and ms_conn_read_exact without knowing HTTP framing. */
typedef enum {
	HTTP_PROTO_WANT_LINE,        /* a line: start line, field line, chunk size */
	HTTP_PROTO_WANT_BYTES,       /* body bytes: *bytes_r more of them */
	HTTP_PROTO_WANT_UNTIL_CLOSE, /* body bytes until the peer closes, then _finish */
	HTTP_PROTO_WANT_NOTHING,     /* the message is complete, or parsing failed */
} HttpProtoWant;

const char *http_proto_want_to_string(HttpProtoWant w);

/* A parser for requests (the server side). */
HttpParser *http_proto_parser_new_request(void);
/* A parser for the responses to requests made with request_method: the
 * answer to HEAD has no body whatever its headers say (RFC 9112 6.3). */
HttpParser *http_proto_parser_new_response(HttpMethod request_method);
void        http_proto_parser_free(HttpParser *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HttpParser, http_proto_parser_free)

/* Feed len bytes of the stream.  Returns 1 when a message is complete, 0 when
 * more input is needed, -1 on error (sticky: every later call fails alike).
 * *consumed_r says how many bytes were used; it stops at the end of the
 * message, so a pipelined second request stays in the caller's buffer for
 * the next parse.  Lines may end in CRLF or a bare LF (RFC 9112 2.2). */
int  http_proto_parser_feed(HttpParser *p, const void *data, gsize len,
                            gsize *consumed_r, GError **error);

/* Feed one line without its ending, as ms_conn_read_line returns it; only
 * while the parser wants a line.  Read lines with max HTTP_PROTO_MAX_LINE and
 * pass a truncated (MS_EOL_TOO_LONG) line on as it is: being longer than the
 * state allows, it fails with the right code (414, 431, ...).  Same return
 * values as _feed. */
int  http_proto_parser_feed_line(HttpParser *p, const char *line, gsize len,
                                 GError **error);

/* The peer closed the stream.  1: that completed the message (a response
 * body delimited by the close); 0: nothing had begun, a clean close between
 * messages; -1: the close cut a message short. */
int  http_proto_parser_finish(HttpParser *p, GError **error);

/* What to read next; with HTTP_PROTO_WANT_BYTES, *bytes_r says how many
 * (bytes_r may be NULL). */
HttpProtoWant http_proto_parser_want(const HttpParser *p, gsize *bytes_r);

/* After _feed returned 1: the message, now owned by the caller.  The parser
 * is reset and ready for the next message on the same connection.  NULL if
 * no message is complete (or for the wrong kind of parser). */
HttpRequest  *http_proto_parser_take_request(HttpParser *p);
HttpResponse *http_proto_parser_take_response(HttpParser *p);

/* Forget the message in progress and any error. */
void http_proto_parser_reset(HttpParser *p);

/* ---- the query string --------------------------------------------------- */

/* The value of parameter name in a query (HTML form encoding: '+' is a
 * space, %XX a byte; RFC 3986 3.4), newly allocated.  NULL without error when
 * the parameter is absent; NULL with HTTP_PROTO_ERROR_BAD_REQUEST when the
 * query is malformed (bad %-escape, "%00", not UTF-8, a part without '=').
 * With several of the same name the last counts.  query may be NULL. */
char *http_proto_query_get(const char *query, const char *name, GError **error);

/* path + "?" + name=value with value percent-encoded, newly allocated:
 * ("/mail/config-v1.1.xml", "emailaddress", "a@b.c") gives
 * "/mail/config-v1.1.xml?emailaddress=a%40b.c". */
char *http_proto_target_with_query(const char *path, const char *name, const char *value);

/* ---- encoders ------------------------------------------------------------ */

/* An IMF-fixdate for the Date header (RFC 9110 5.6.7) of the given Unix
 * time, "Sun, 06 Nov 1994 08:49:37 GMT"; newly allocated.  The caller owns
 * the clock. */
char *http_proto_format_date(gint64 unix_seconds);

typedef struct {
	guint       status;       /* reason phrase from http_proto_status_reason */
	const char *content_type; /* NULL: no Content-Type */
	const char *date;         /* from http_proto_format_date; NULL: no Date */
	const char *server;       /* NULL: no Server */
	const char *allow;        /* for 405; NULL: no Allow */
	const char *location;     /* for 3xx; NULL: no Location */
	gboolean    keep_alive;   /* FALSE adds "Connection: close" */
	gboolean    head_only;    /* answering HEAD: Content-Length of the body, no body */
} HttpResponseHead;

/* Status line, headers, blank line and body, as one buffer (newly
 * allocated; write str->len bytes).  Always HTTP/1.1 (RFC 9110 2.5).  No
 * Content-Length and no body for 1xx, 204, 304 (RFC 9110 8.6).  Header
 * values must not hold CR or LF: NULL (a bug) if they do. */
GString *http_proto_encode_response(const HttpResponseHead *head,
                                    const void *body, gsize body_len);

/* A small text/plain error answer for a status the parser chose: closes the
 * connection, carries Allow for 405.  date may be NULL. */
GString *http_proto_encode_error(guint status, const char *date);

typedef struct {
	HttpMethod  method;
	const char *host;         /* Host value (RFC 9112 3.2): "autoconfig.example.com" */
	const char *target;       /* origin-form, begins with '/' */
	const char *content_type; /* NULL: no Content-Type */
	const char *user_agent;   /* NULL: no User-Agent */
	gboolean    keep_alive;   /* FALSE adds "Connection: close" */
} HttpRequestHead;

/* Request line, headers, blank line and body as one buffer (newly
 * allocated).  POST always carries Content-Length; GET and HEAD carry a body
 * only if body_len > 0.  NULL (a bug) on a target that is not origin-form
 * or a header value with CR or LF. */
GString *http_proto_encode_request(const HttpRequestHead *head,
                                   const void *body, gsize body_len);
