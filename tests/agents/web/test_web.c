/* tests/agents/web/test_web.c - the settings web server: its routes (a
 * table of requests and the answers they must get), then the agent over
 * the simulated network: keep-alive, pipelining, byte-by-byte clients,
 * bad requests (400, 405, 413, 431), and the events a student sees.
 */
#include "tests/ms_test.h"
#include "agents/web/web.h"
#include "net/simnet.h"

#define WEB_ADDR "192.0.2.10"

static MailConfig *example_config(void)
{
	MailConfig *cfg = mailconfig_new("example.com", "Example Mail");
	mailconfig_add_domain(cfg, "example.com");
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_IMAP, "mail.example.com", 143, MAILCONFIG_SOCKET_PLAIN,
	                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_POP3, "mail.example.com", 110, MAILCONFIG_SOCKET_PLAIN,
	                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_SMTP, "smtp.example.com", 587, MAILCONFIG_SOCKET_PLAIN,
	                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
	return cfg;
}

static char *ad_request(const char *address)
{
	return mailconfig_encode_autodiscover_request(address);
}

/* ---- the routes, without a network ---------------------------------------- */

typedef struct {
	const char *name;
	const char *request;      /* "%s" is replaced by the body's length and body when body != NULL */
	const char *body;         /* NULL: none; "AD" an autodiscover request for alice@example.com */
	guint       status;
	WebAction   action;
	const char *domain;       /* what the server says was asked, or NULL */
	const char *contains;     /* in the body, or NULL */
	const char *header;       /* "Name: value" that must be there, or NULL */
	gboolean    empty_body;   /* HEAD */
} RouteCase;

static const RouteCase route_cases[] = {
	{ "autoconfig by emailaddress",
	  "GET /mail/config-v1.1.xml?emailaddress=alice%%40example.com HTTP/1.1\r\nHost: autoconfig.example.com\r\n\r\n",
	  NULL, 200, WEB_ACT_AUTOCONFIG, "example.com", "<hostname>mail.example.com</hostname>",
	  "Content-Type: application/xml; charset=utf-8", FALSE },
	{ "autoconfig keeps the username template",
	  "GET /mail/config-v1.1.xml?emailaddress=alice%%40EXAMPLE.com HTTP/1.1\r\nHost: autoconfig.example.com\r\n\r\n",
	  NULL, 200, WEB_ACT_AUTOCONFIG, "example.com", "<username>%EMAILADDRESS%</username>", NULL, FALSE },
	{ "autoconfig by Host alone",
	  "GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: autoconfig.example.com:80\r\n\r\n",
	  NULL, 200, WEB_ACT_AUTOCONFIG, "example.com", "<socketType>plain</socketType>", NULL, FALSE },
	{ "well-known URL",
	  "GET /.well-known/autoconfig/mail/config-v1.1.xml HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  NULL, 200, WEB_ACT_AUTOCONFIG, "example.com", "<outgoingServer type=\"smtp\">", NULL, FALSE },
	{ "HEAD has the fields, not the body",
	  "HEAD /mail/config-v1.1.xml?emailaddress=alice%%40example.com HTTP/1.1\r\nHost: autoconfig.example.com\r\n\r\n",
	  NULL, 200, WEB_ACT_AUTOCONFIG, "example.com", NULL, "Content-Type: application/xml; charset=utf-8", TRUE },
	{ "unknown domain",
	  "GET /mail/config-v1.1.xml?emailaddress=bob%%40example.org HTTP/1.1\r\nHost: autoconfig.example.org\r\n\r\n",
	  NULL, 404, WEB_ACT_REFUSE, "example.org", "404 Not Found", NULL, FALSE },
	{ "unknown path",
	  "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  NULL, 404, WEB_ACT_REFUSE, NULL, "404 Not Found", NULL, FALSE },
	{ "paths are case-sensitive for autoconfig",
	  "GET /Mail/Config-v1.1.xml HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  NULL, 404, WEB_ACT_REFUSE, NULL, NULL, NULL, FALSE },
	{ "POST to autoconfig",
	  "POST /mail/config-v1.1.xml HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n",
	  NULL, 405, WEB_ACT_REFUSE, NULL, NULL, "Allow: GET, HEAD", FALSE },
	{ "GET to autodiscover",
	  "GET /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: autodiscover.example.com\r\n\r\n",
	  NULL, 405, WEB_ACT_REFUSE, NULL, NULL, "Allow: POST", FALSE },
	{ "malformed query",
	  "GET /mail/config-v1.1.xml?emailaddress=%%zz HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  NULL, 400, WEB_ACT_REFUSE, NULL, "400 Bad Request", NULL, FALSE },
	{ "address without a domain",
	  "GET /mail/config-v1.1.xml?emailaddress=alice HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  NULL, 400, WEB_ACT_REFUSE, NULL, NULL, NULL, FALSE },
	{ "autodiscover",
	  "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: autodiscover.example.com\r\n"
	  "Content-Type: text/xml\r\nContent-Length: %s",
	  "AD", 200, WEB_ACT_AUTODISCOVER, "example.com", "<LoginName>alice@example.com</LoginName>",
	  "Content-Type: text/xml; charset=utf-8", FALSE },
	{ "autodiscover, path in another case",
	  "POST /Autodiscover/Autodiscover.xml HTTP/1.1\r\nHost: autodiscover.example.com\r\nContent-Length: %s",
	  "AD", 200, WEB_ACT_AUTODISCOVER, "example.com", "<Server>smtp.example.com</Server>", NULL, FALSE },
	{ "autodiscover of a stranger",
	  "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: autodiscover.example.com\r\nContent-Length: %s",
	  "AD-stranger", 200, WEB_ACT_AUTODISCOVER, "example.net", "<ErrorCode>500</ErrorCode>", NULL, FALSE },
	{ "autodiscover for another schema",
	  "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: autodiscover.example.com\r\nContent-Length: %s",
	  "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006\">"
	  "<Request><EMailAddress>alice@example.com</EMailAddress><AcceptableResponseSchema>"
	  "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
	  "</AcceptableResponseSchema></Request></Autodiscover>",
	  200, WEB_ACT_AUTODISCOVER, NULL, "<ErrorCode>601</ErrorCode>", NULL, FALSE },
	{ "autodiscover with a body that is not XML",
	  "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: autodiscover.example.com\r\nContent-Length: %s",
	  "<Autodiscover><Request>", 400, WEB_ACT_REFUSE, NULL, "400 Bad Request", NULL, FALSE },
};

static HttpRequest *parse_request(const char *text, gsize len)
{
	g_autoptr(HttpParser) p = http_proto_parser_new_request();
	gsize used = 0;
	GError *err = NULL;
	int rc = http_proto_parser_feed(p, text, len, &used, &err);
	ck_assert_msg(rc == 1, "test request does not parse: %s", err ? err->message : "incomplete");
	return http_proto_parser_take_request(p);
}

static HttpResponse *parse_response(const GString *bytes, HttpMethod method)
{
	g_autoptr(HttpParser) p = http_proto_parser_new_response(method);
	gsize used = 0;
	GError *err = NULL;
	int rc = http_proto_parser_feed(p, bytes->str, bytes->len, &used, &err);
	ck_assert_msg(rc == 1, "answer does not parse: %s", err ? err->message : "incomplete");
	ck_assert_uint_eq(used, bytes->len);
	return http_proto_parser_take_response(p);
}

static char *case_request(const RouteCase *c)
{
	if (!c->body)
		return g_strdup_printf(c->request, "");
	g_autofree char *body = strcmp(c->body, "AD") == 0 ? ad_request("alice@example.com")
	                      : strcmp(c->body, "AD-stranger") == 0 ? ad_request("eve@example.net")
	                      : g_strdup(c->body);
	g_autofree char *len = g_strdup_printf("%zu\r\n\r\n%s", strlen(body), body);
	return g_strdup_printf(c->request, len);
}

START_TEST(test_routes)
{
	const RouteCase *c = &route_cases[_i];
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsNet *net = ms_net_new(s);
	MsHost *h = ms_net_add_host(net, "mail.example.com", WEB_ADDR, NULL);
	WebConfig wc = { 0 };
	WebServer *web = web_new(ms_host_stack(h), &wc);
	web_add_config(web, example_config());

	g_autofree char *text = case_request(c);
	g_autoptr(HttpRequest) req = parse_request(text, strlen(text));
	WebAction action;
	g_autofree char *domain = NULL;
	g_autoptr(GString) out = web_answer(web, req, 1767225600, &action, &domain);
	g_autoptr(HttpResponse) resp = parse_response(out, req->method);

	ck_assert_msg(resp->status == c->status, "%s: status %u, expected %u", c->name, resp->status, c->status);
	ck_assert_msg(action == c->action, "%s: action %s", c->name, web_action_to_string(action));
	ck_assert_str_eq(domain ? domain : "(none)", c->domain ? c->domain : "(none)");
	if (c->contains)
		ck_assert_msg(strstr(resp->body->str, c->contains), "%s: body lacks %s:\n%s", c->name, c->contains,
		              resp->body->str);
	if (c->header) {
		const char *colon = strchr(c->header, ':');
		g_autofree char *name = g_strndup(c->header, colon - c->header);
		ck_assert_str_eq(http_proto_header_get(resp->headers, name) ?: "(none)", colon + 2);
	}
	ck_assert_str_eq(http_proto_header_get(resp->headers, "Date"), "Thu, 01 Jan 2026 00:00:00 GMT");
	ck_assert_str_eq(http_proto_header_get(resp->headers, "Server"), "mailsim-web");
	if (c->empty_body) {
		ck_assert_uint_eq(resp->body->len, 0);
		ck_assert_ptr_nonnull(http_proto_header_get(resp->headers, "Content-Length"));
		ck_assert_str_ne(http_proto_header_get(resp->headers, "Content-Length"), "0");
	}
	/* every XML answer is a document the MUA's parsers take */
	if (resp->status == 200 && action == WEB_ACT_AUTOCONFIG && !c->empty_body) {
		g_autoptr(MailConfig) back = mailconfig_parse_autoconfig_xml(resp->body->str, resp->body->len, NULL);
		ck_assert_ptr_nonnull(back);
		ck_assert_uint_eq(back->incoming->len, 2);
	}
	if (action == WEB_ACT_AUTODISCOVER && !strstr(resp->body->str, "<Error>")) {
		g_autoptr(MailConfig) back = mailconfig_parse_autodiscover_xml(resp->body->str, resp->body->len, NULL);
		ck_assert_ptr_nonnull(back);
		ck_assert_str_eq(((MailConfigServer *)g_ptr_array_index(back->outgoing, 0))->hostname, "smtp.example.com");
	}
	if (strstr(resp->body->str, "<Error>")) {
		/* an Autodiscover error is a failed method for the client, never settings */
		GError *err = NULL;
		ck_assert_ptr_null(mailconfig_parse_autodiscover_xml(resp->body->str, resp->body->len, &err));
		ck_assert(g_error_matches(err, MAILCONFIG_ERROR, MAILCONFIG_ERROR_SERVER));
		g_error_free(err);
	}
	web_free(web);
	ms_net_free(net);
	ms_sched_free(s);
}
END_TEST

START_TEST(test_step_table)
{
	ck_assert_str_eq(web_action_step(WEB_ACT_AUTOCONFIG), "setup.4");
	ck_assert_str_eq(web_action_step(WEB_ACT_AUTODISCOVER), "setup.3");
	ck_assert_ptr_null(web_action_step(WEB_ACT_REFUSE));
	ck_assert_str_eq(web_action_to_string(WEB_ACT_AUTODISCOVER), "autodiscover");
	ck_assert_str_eq(web_action_to_string((WebAction)99), "unknown");
}
END_TEST

/* ---- the agent on the simulated network -------------------------------------- */

typedef struct {
	guint       status;
	GString    *head;      /* status line and fields, as received */
	GString    *body;
} Got;

typedef struct {
	MsSched    *s;
	MsNet      *net;
	MsSink     *rec;
	MsStack    *client;
	WebServer  *web;
	const char *send;        /* what the client writes */
	gboolean    byte_by_byte;
	guint       expect;      /* responses to read */
	Got         got[4];
	guint       n_got;
	gboolean    closed;      /* the server closed after the last response */
	gint64      wait_close;  /* how long to wait for that; 0: one second */
} Run;

/* Read one response the plain way: lines to the blank one, then
 * Content-Length bytes. */
static gboolean read_response(MsConn *c, Got *g, gboolean head_request)
{
	char line[HTTP_PROTO_MAX_LINE + 1];
	MsEol eol;
	g->head = g_string_new(NULL);
	g->body = g_string_new(NULL);
	gsize length = 0;
	for (;;) {
		gssize n = ms_conn_read_line(c, line, HTTP_PROTO_MAX_LINE, &eol, NULL);
		if (n < 0 || eol == MS_EOL_EOF)
			return FALSE;
		if (n == 0)
			break;
		g_string_append_printf(g->head, "%s\n", line);
		if (g->status == 0)
			g->status = (guint)g_ascii_strtoull(line + 9, NULL, 10);
		if (g_ascii_strncasecmp(line, "Content-Length:", 15) == 0)
			length = (gsize)g_ascii_strtoull(line + 15, NULL, 10);
	}
	if (head_request || length == 0)
		return TRUE;
	g_string_set_size(g->body, length);
	return ms_conn_read_exact(c, g->body->str, length, NULL);
}

static void client_task(gpointer data)
{
	Run *r = data;
	MsConn *c = ms_stack_connect(r->client, WEB_ADDR, WEB_HTTP_PORT, MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	ms_conn_set_proto(c, "http");
	gsize len = strlen(r->send);
	if (r->byte_by_byte) {
		for (gsize i = 0; i < len; i++) {
			ms_conn_write(c, r->send + i, 1, NULL);
			ms_sleep(MS_MSEC);
		}
	} else {
		ms_conn_write(c, r->send, len, NULL);
	}
	while (r->n_got < r->expect && read_response(c, &r->got[r->n_got], strncmp(r->send, "HEAD", 4) == 0))
		r->n_got++;
	char b;
	MsEol eol;
	ms_conn_set_timeout(c, r->wait_close ? r->wait_close : MS_SECOND);
	r->closed = ms_conn_read_line(c, &b, 0, &eol, NULL) == 0 && eol == MS_EOL_EOF;
	ms_conn_unref(c);
}

static void run_web(Run *r, const char *send, guint expect)
{
	r->s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	r->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(r->s), r->rec);
	r->net = ms_net_new(r->s);
	MsHost *server = ms_net_add_host(r->net, "mail.example.com", WEB_ADDR, NULL);
	MsHost *client = ms_net_add_host(r->net, "home-pc-alice", "192.0.2.77", NULL);
	r->client = ms_host_stack(client);
	MsStack *face = ms_host_stack_alias(server, "web@mail.example.com");
	WebConfig wc = { .hostname = "mail.example.com" };
	r->web = web_new(face, &wc);
	ms_stack_unref(face);
	web_add_config(r->web, example_config());
	GError *err = NULL;
	ck_assert_msg(web_start(r->web, &err), "%s", err ? err->message : "");
	ck_assert_uint_eq(web_port(r->web), WEB_HTTP_PORT);
	r->send = send;
	r->expect = expect;
	ms_task_spawn(r->s, "client", client_task, r);
	ck_assert(ms_sched_run(r->s, MS_FOREVER));
	web_stop(r->web);
	ms_sched_shutdown(r->s);
}

static void free_run(Run *r)
{
	web_free(r->web);
	ms_net_free(r->net);
	ms_sched_free(r->s);
	for (guint i = 0; i < G_N_ELEMENTS(r->got); i++) {
		if (r->got[i].head)
			g_string_free(r->got[i].head, TRUE);
		if (r->got[i].body)
			g_string_free(r->got[i].body, TRUE);
	}
}

static const MsEvent *find_event(Run *r, MsEventKind kind, const char *step, const char *needle)
{
	GPtrArray *evs = ms_sink_recorder_events(r->rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind == kind && (!step || !g_strcmp0(e->step, step)) && e->text && strstr(e->text, needle))
			return e;
	}
	return NULL;
}

#define GET_AUTOCONFIG "GET /mail/config-v1.1.xml?emailaddress=alice%40example.com HTTP/1.1\r\n" \
                       "Host: autoconfig.example.com\r\n"

START_TEST(test_keep_alive_and_events)
{
	Run r = { 0 };
	run_web(&r, GET_AUTOCONFIG "\r\n" GET_AUTOCONFIG "Connection: close\r\n\r\n", 2);
	ck_assert_uint_eq(r.n_got, 2);
	ck_assert_uint_eq(r.got[0].status, 200);
	ck_assert_uint_eq(r.got[1].status, 200);
	ck_assert_ptr_null(strstr(r.got[0].head->str, "Connection: close"));
	ck_assert_ptr_nonnull(strstr(r.got[1].head->str, "Connection: close"));
	ck_assert_ptr_nonnull(strstr(r.got[0].body->str, "<hostname>smtp.example.com</hostname>"));
	ck_assert(r.closed);
	/* the response's lines are events of step setup.4, sent by the web face */
	const MsEvent *e = find_event(&r, MS_EV_SEND, "setup.4", "S: HTTP/1.1 200 OK");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->proto, "http");
	ck_assert_str_eq(e->from, "web@mail.example.com");
	ck_assert_str_eq(e->to, "home-pc-alice");
	ck_assert_ptr_nonnull(find_event(&r, MS_EV_SEND, "setup.4", "S: Content-Type: application/xml"));
	const MsEvent *body = find_event(&r, MS_EV_SEND, "setup.4", "(clientConfig XML, ");
	ck_assert_ptr_nonnull(body);
	ck_assert_ptr_nonnull(body->payload);
	ck_assert_uint_eq(g_bytes_get_size(body->payload), r.got[0].body->len);
	ck_assert_ptr_nonnull(find_event(&r, MS_EV_NOTE, "setup.4",
	                                 "autoconfig settings for example.com: imap mail.example.com:143"));
	free_run(&r);
}
END_TEST

START_TEST(test_byte_by_byte_client)
{
	Run r = { .byte_by_byte = TRUE };
	run_web(&r, GET_AUTOCONFIG "Connection: close\r\n\r\n", 1);
	ck_assert_uint_eq(r.n_got, 1);
	ck_assert_uint_eq(r.got[0].status, 200);
	ck_assert(r.closed);
	free_run(&r);
}
END_TEST

START_TEST(test_autodiscover_over_the_network)
{
	g_autofree char *body = ad_request("alice@example.com");
	g_autofree char *req = g_strdup_printf("POST /autodiscover/autodiscover.xml HTTP/1.1\r\n"
	                                       "Host: autodiscover.example.com\r\nContent-Type: text/xml\r\n"
	                                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                                       strlen(body), body);
	Run r = { 0 };
	run_web(&r, req, 1);
	ck_assert_uint_eq(r.got[0].status, 200);
	ck_assert_ptr_nonnull(strstr(r.got[0].body->str, "<Type>IMAP</Type>"));
	ck_assert_ptr_nonnull(find_event(&r, MS_EV_SEND, "setup.3", "S: HTTP/1.1 200 OK"));
	ck_assert_ptr_nonnull(find_event(&r, MS_EV_SEND, "setup.3", "(Autodiscover XML, "));
	free_run(&r);
}
END_TEST

/* Bad requests: the status, and the connection closed after it. */
typedef struct {
	const char *name;
	const char *request;
	guint       status;
	gboolean    closes;
} BadCase;

static const BadCase bad_cases[] = {
	{ "no Host in HTTP/1.1", "GET /mail/config-v1.1.xml HTTP/1.1\r\n\r\n", 400, TRUE },
	{ "garbage start line", "HELLO\r\n\r\n", 400, TRUE },
	{ "bare CR ends a line", "GET / HTTP/1.1\rHost: x\r\n\r\n", 400, TRUE },
	{ "a method not served", "PUT /mail/config-v1.1.xml HTTP/1.1\r\nHost: example.com\r\n\r\n", 405, TRUE },
	{ "a body too large",
	  "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: example.com\r\nContent-Length: 99999999\r\n\r\n",
	  413, TRUE },
	{ "chunked request body",
	  "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n",
	  411, TRUE },
	{ "HTTP/2 is not spoken", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, TRUE },
	{ "wrong path, keep-alive kept", "GET /favicon.ico HTTP/1.1\r\nHost: example.com\r\n\r\n", 404, FALSE },
	{ "wrong method on a path", "POST /mail/config-v1.1.xml HTTP/1.1\r\nHost: example.com\r\n"
	  "Content-Length: 2\r\nConnection: close\r\n\r\nhi", 405, TRUE },
};

START_TEST(test_bad_requests)
{
	const BadCase *c = &bad_cases[_i];
	Run r = { 0 };
	run_web(&r, c->request, 1);
	ck_assert_msg(r.n_got == 1, "%s: no answer", c->name);
	ck_assert_msg(r.got[0].status == c->status, "%s: %u, expected %u", c->name, r.got[0].status, c->status);
	ck_assert_msg(r.closed == c->closes, "%s: closed %d", c->name, r.closed);
	ck_assert_ptr_nonnull(find_event(&r, MS_EV_REFUSE, NULL, ""));
	free_run(&r);
}
END_TEST

START_TEST(test_header_too_large)
{
	GString *req = g_string_new("GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: example.com\r\n");
	for (int i = 0; i < 200; i++)
		g_string_append_printf(req, "X-Filler-%d: %0100d\r\n", i, 0);
	g_string_append(req, "\r\n");
	Run r = { 0 };
	run_web(&r, req->str, 1);
	ck_assert_uint_eq(r.got[0].status, 431);
	ck_assert(r.closed);
	free_run(&r);
	g_string_free(req, TRUE);
}
END_TEST

START_TEST(test_idle_connection_times_out)
{
	Run r = { .wait_close = 2 * WEB_IDLE_TIMEOUT };
	run_web(&r, "", 0);
	/* nothing sent: the server hangs up after its idle time-out */
	ck_assert(r.closed);
	ck_assert_int_ge(ms_sched_now(r.s), WEB_IDLE_TIMEOUT);
	free_run(&r);
}
END_TEST

static Suite *web_suite(void)
{
	Suite *s = suite_create("web");
	TCase *tc = tcase_create("routes");
	tcase_add_loop_test(tc, test_routes, 0, G_N_ELEMENTS(route_cases));
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_step_table, 10);
	MS_ADD_TEST(s, test_keep_alive_and_events, 10);
	MS_ADD_TEST(s, test_byte_by_byte_client, 10);
	MS_ADD_TEST(s, test_autodiscover_over_the_network, 10);
	TCase *bad = tcase_create("bad requests");
	tcase_add_loop_test(bad, test_bad_requests, 0, G_N_ELEMENTS(bad_cases));
	suite_add_tcase(s, bad);
	MS_ADD_TEST(s, test_header_too_large, 10);
	MS_ADD_TEST(s, test_idle_connection_times_out, 10);
	return s;
}

MS_TEST_MAIN(web_suite)
