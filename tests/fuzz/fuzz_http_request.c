/* tests/fuzz/fuzz_http_request.c - the HTTP parser on arbitrary bytes.
 *
 * Parses the input as a stream of pipelined requests three ways (whole, one
 * byte at a time, line by line as a session would) and aborts if they
 * disagree; then as a response; and reads the query of every request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/web/http_proto.h"

typedef enum { FEED_WHOLE, FEED_BYTES, FEED_LINES } FeedMode;

/* Feed one message the way a session over ms_conn_read_line would: a line
 * (ending cut off, at most HTTP_PROTO_MAX_LINE bytes) or exactly the body
 * bytes wanted.  Returns the parser's result; *off moves past what was read. */
static int feed_lines(HttpParser *p, const uint8_t *data, size_t size, size_t *off,
                      GError **error)
{
	int ret = 0;
	while (ret == 0 && *off < size) {
		gsize want;
		HttpProtoWant w = http_proto_parser_want(p, &want);
		if (w == HTTP_PROTO_WANT_LINE) {
			const uint8_t *lf = memchr(data + *off, '\n', size - *off);
			if (!lf) {   /* the peer stopped mid-line */
				*off = size;
				return 0;
			}
			gsize end = lf - data, n = end - *off;
			if (n > 0 && data[end - 1] == '\r')
				n--;
			ret = http_proto_parser_feed_line(p, (const char *)data + *off,
			                                  MIN(n, HTTP_PROTO_MAX_LINE), error);
			*off = end + 1;
		} else if (w == HTTP_PROTO_WANT_BYTES) {
			gsize n = MIN(want, size - *off), used;
			ret = http_proto_parser_feed(p, data + *off, n, &used, error);
			if (used != n)
				abort();
			*off += n;
		} else {
			abort();   /* requests are never read until close */
		}
	}
	return ret;
}

/* One pass over the stream; a summary of what it found, for comparing. */
static GString *parse_stream(const uint8_t *data, size_t size, FeedMode mode)
{
	GString *log = g_string_new(NULL);
	HttpParser *p = http_proto_parser_new_request();
	size_t off = 0;

	while (off < size) {
		GError *error = NULL;
		gsize used = 0;
		int ret;
		if (mode == FEED_LINES) {
			ret = feed_lines(p, data, size, &off, &error);
		} else if (mode == FEED_BYTES) {
			ret = 0;
			while (ret == 0 && off < size) {
				ret = http_proto_parser_feed(p, data + off, 1, &used, &error);
				if (used > 1)
					abort();
				off += used;
				if (ret == 0 && used == 0)
					abort();   /* wants more but took nothing: a stall */
			}
		} else {
			ret = http_proto_parser_feed(p, data + off, size - off, &used, &error);
			if (used > size - off)
				abort();
			off += used;
		}
		if (ret < 0) {
			/* how far into the bad line it read may differ; the verdict not */
			g_string_append_printf(log, "error %d\n", error->code);
			g_error_free(error);
			off = size;
			break;
		}
		if (ret == 0)
			break;
		HttpRequest *req = http_proto_parser_take_request(p);
		g_string_append_printf(log, "%s %s %s body %zu ka %d\n",
		                       http_method_to_string(req->method), req->path,
		                       req->host, req->body->len, req->keep_alive);
		char *v = http_proto_query_get(req->query, "emailaddress", NULL);
		g_free(v);
		http_proto_request_free(req);
	}
	g_string_append_printf(log, "end at %zu\n", off);
	http_proto_parser_finish(p, NULL);
	http_proto_parser_free(p);
	return log;
}

static void parse_response(const uint8_t *data, size_t size, HttpMethod method)
{
	HttpParser *p = http_proto_parser_new_response(method);
	gsize used;
	int ret = http_proto_parser_feed(p, data, size, &used, NULL);
	if (ret == 0)
		ret = http_proto_parser_finish(p, NULL);
	if (ret == 1)
		http_proto_response_free(http_proto_parser_take_response(p));
	http_proto_parser_free(p);
}

/* A GLib warning or critical (an overwritten GError, a failed
 * g_return_if_fail) is a finding too: make it abort. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GString *whole = parse_stream(data, size, FEED_WHOLE);
	GString *bytes = parse_stream(data, size, FEED_BYTES);
	GString *lines = parse_stream(data, size, FEED_LINES);
	/* incremental parsing must not depend on how the input is cut */
	if (strcmp(whole->str, bytes->str) != 0 || strcmp(whole->str, lines->str) != 0)
		abort();
	g_string_free(whole, TRUE);
	g_string_free(bytes, TRUE);
	g_string_free(lines, TRUE);

	parse_response(data, size, HTTP_METHOD_GET);
	parse_response(data, size, HTTP_METHOD_HEAD);
	return 0;
}
