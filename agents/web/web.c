/* agents/web/web.c - the settings web server agent.
 *
 * One accept task; one task per connection that reads requests with the
 * incremental parser of http_proto.c (RFC 9112 framing, keep-alive per
 * RFC 9112 9.3), answers them from a table of routes, and shows every
 * request and response line as an event.  The documents come from
 * mailconfig.c: Thunderbird's clientConfig 1.1 and Outlook's POX
 * Autodiscover ([MS-OXDSCLI] 2.2.4).
 */
#include "agents/web/web.h"

#include <string.h>

#define WEB_SERVER_SOFTWARE "mailsim-web"
/* Body bytes read per call while a request body arrives. */
#define WEB_READ_CHUNK      16384
/* [MS-OXDSCLI] 2.2.4.2.1.1: the Autodiscover error codes we answer with. */
#define WEB_AD_ERROR_NO_ADDRESS   500   /* "The e-mail address cannot be found" */
#define WEB_AD_ERROR_SCHEMA       601   /* "Provider is not available for the requested schema" */

struct WebServer {
	MsStack    *stack;
	char       *hostname;
	char       *listen_address;
	guint16     port;
	gint64      epoch_us;
	GPtrArray  *configs;   /* MailConfig *, owned */
	GHashTable *domains;   /* lower-case domain -> MailConfig * (borrowed from configs) */
	MsListener *listener;
	gint        sessions;  /* connections being served */
	gboolean    running;
};

/* ---- the course-step table -------------------------------------------------- */

static const struct {
	const char *name;
	const char *step;
} action_table[WEB_ACT_COUNT] = {
	[WEB_ACT_AUTOCONFIG]   = { "autoconfig",   "setup.4" },   /* the MUA asks autoconfig.DOMAIN */
	[WEB_ACT_AUTODISCOVER] = { "autodiscover", "setup.3" },   /* the MUA fetches the prepared XML */
	[WEB_ACT_REFUSE]       = { "refuse",       NULL },
};

const char *web_action_to_string(WebAction action)
{
	return (guint)action < WEB_ACT_COUNT ? action_table[action].name : "unknown";
}

const char *web_action_step(WebAction action)
{
	return (guint)action < WEB_ACT_COUNT ? action_table[action].step : NULL;
}

/* ---- life ------------------------------------------------------------------ */

WebServer *web_new(MsStack *stack, const WebConfig *cfg)
{
	g_return_val_if_fail(stack != NULL && cfg != NULL, NULL);
	WebServer *web = g_new0(WebServer, 1);
	web->stack = ms_stack_ref(stack);
	web->hostname = g_strdup(cfg->hostname ? cfg->hostname : ms_stack_name(stack));
	web->listen_address = g_strdup(cfg->listen_address);
	web->port = cfg->port ? cfg->port : WEB_HTTP_PORT;
	web->epoch_us = cfg->epoch_us ? cfg->epoch_us : WEB_DEFAULT_EPOCH_US;
	web->configs = g_ptr_array_new_with_free_func((GDestroyNotify)mailconfig_free);
	web->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return web;
}

void web_free(WebServer *web)
{
	if (!web)
		return;
	web_stop(web);
	ms_listener_free(web->listener);
	g_hash_table_unref(web->domains);
	g_ptr_array_unref(web->configs);
	ms_stack_unref(web->stack);
	g_free(web->hostname);
	g_free(web->listen_address);
	g_free(web);
}

void web_add_config(WebServer *web, MailConfig *cfg)
{
	g_return_if_fail(web != NULL && cfg != NULL);
	g_ptr_array_add(web->configs, cfg);
	if (cfg->domains->len == 0 && cfg->id)
		g_hash_table_replace(web->domains, g_ascii_strdown(cfg->id, -1), cfg);
	for (guint i = 0; i < cfg->domains->len; i++)
		g_hash_table_replace(web->domains, g_ascii_strdown(g_ptr_array_index(cfg->domains, i), -1), cfg);
}

const MailConfig *web_config_for(WebServer *web, const char *domain)
{
	if (!domain)
		return NULL;
	g_autofree char *key = g_ascii_strdown(domain, -1);
	return g_hash_table_lookup(web->domains, key);
}

guint16 web_port(WebServer *web)
{
	return web->listener ? ms_listener_port(web->listener) : 0;
}

/* ---- answers ---------------------------------------------------------------- */

typedef struct {
	guint       status;
	const char *content_type;
	const char *allow;
	char       *body;       /* owned */
	const char *refusal;    /* why a 4xx, for the event; NULL otherwise */
} Answer;

static void answer_text(Answer *a, guint status, const char *why)
{
	a->status = status;
	a->content_type = "text/plain; charset=utf-8";
	a->body = g_strdup_printf("%u %s\r\n", status, http_proto_status_reason(status));
	a->refusal = why;
}

/* "alice@Example.COM" -> "example.com"; NULL without a usable domain. */
static char *domain_of(const char *address)
{
	const char *at = address ? strrchr(address, '@') : NULL;
	if (!at || at == address || !at[1])
		return NULL;
	return g_ascii_strdown(at + 1, -1);
}

/* The domain a request without emailaddress asks about: its Host without
 * the port, and without "autoconfig." for Thunderbird's host. */
static char *domain_of_host(const char *host)
{
	if (!host || !*host || host[0] == '[')
		return NULL;
	g_autofree char *h = g_ascii_strdown(host, (gssize)strcspn(host, ":"));
	const char *d = g_str_has_prefix(h, "autoconfig.") ? h + strlen("autoconfig.") : h;
	return *d ? g_strdup(d) : NULL;
}

/* [MS-OXDSCLI] 2.2.4.2.1.1: an Autodiscover response carrying an Error. */
static char *autodiscover_error_xml(guint code, const char *message)
{
	return g_markup_printf_escaped(
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"
		"<Autodiscover xmlns=\"%s\">\r\n"
		"  <Response>\r\n"
		"    <Error>\r\n"
		"      <ErrorCode>%u</ErrorCode>\r\n"
		"      <Message>%s</Message>\r\n"
		"      <DebugData />\r\n"
		"    </Error>\r\n"
		"  </Response>\r\n"
		"</Autodiscover>\r\n",
		MAILCONFIG_AUTODISCOVER_RESPONSE_NS, code, message);
}

static void route_autoconfig(WebServer *web, const HttpRequest *req, Answer *a, char **domain_r)
{
	GError *err = NULL;
	/* Thunderbird sends ?emailaddress=; the well-known URL may come without. */
	g_autofree char *address = http_proto_query_get(req->query, "emailaddress", &err);
	if (err) {
		g_error_free(err);
		answer_text(a, 400, "malformed query string");
		return;
	}
	char *domain = address ? domain_of(address) : domain_of_host(req->host);
	if (!domain) {
		answer_text(a, 400, address ? "emailaddress has no domain" : "no emailaddress and no Host");
		return;
	}
	*domain_r = domain;
	const MailConfig *cfg = web_config_for(web, domain);
	if (!cfg) {
		answer_text(a, 404, "no settings for this domain");
		return;
	}
	a->status = 200;
	a->content_type = "application/xml; charset=utf-8";
	a->body = mailconfig_to_autoconfig_xml(cfg);
}

static void route_autodiscover(WebServer *web, const HttpRequest *req, Answer *a, char **domain_r)
{
	GError *err = NULL;
	g_autofree char *address = mailconfig_parse_autodiscover_request(req->body->str, req->body->len, &err);
	if (!address) {
		gboolean schema = g_error_matches(err, MAILCONFIG_ERROR, MAILCONFIG_ERROR_UNSUPPORTED);
		g_error_free(err);
		if (!schema) {
			answer_text(a, 400, "the body is not an Autodiscover request");
			return;
		}
		/* A well-formed request for a schema we do not serve (mobilesync). */
		a->status = 200;
		a->content_type = "text/xml; charset=utf-8";
		a->body = autodiscover_error_xml(WEB_AD_ERROR_SCHEMA,
		                                 "Provider is not available for the requested schema");
		return;
	}
	*domain_r = domain_of(address);
	const MailConfig *cfg = web_config_for(web, *domain_r);
	a->status = 200;
	a->content_type = "text/xml; charset=utf-8";
	a->body = cfg ? mailconfig_to_autodiscover_xml(cfg, address)
	              : autodiscover_error_xml(WEB_AD_ERROR_NO_ADDRESS, "The e-mail address cannot be found.");
}

typedef void (*RouteFn)(WebServer *web, const HttpRequest *req, Answer *a, char **domain_r);

/* Every path served: which methods, what it does. */
static const struct {
	const char *path;
	gboolean    any_case;   /* IIS, and so Outlook, treat paths case-insensitively */
	gboolean    get;        /* GET and HEAD */
	gboolean    post;
	const char *allow;
	WebAction   action;
	RouteFn     fn;
} routes[] = {
	{ WEB_PATH_AUTOCONFIG,            FALSE, TRUE,  FALSE, "GET, HEAD", WEB_ACT_AUTOCONFIG,   route_autoconfig },
	{ WEB_PATH_AUTOCONFIG_WELL_KNOWN, FALSE, TRUE,  FALSE, "GET, HEAD", WEB_ACT_AUTOCONFIG,   route_autoconfig },
	{ WEB_PATH_AUTODISCOVER,          TRUE,  FALSE, TRUE,  "POST",      WEB_ACT_AUTODISCOVER, route_autodiscover },
};

GString *web_answer(WebServer *web, const HttpRequest *req, gint64 unix_seconds,
                    WebAction *action_r, char **domain_r)
{
	g_return_val_if_fail(web != NULL && req != NULL, NULL);
	Answer a = { 0 };
	char *domain = NULL;
	*action_r = WEB_ACT_REFUSE;

	guint i;
	for (i = 0; i < G_N_ELEMENTS(routes); i++) {
		if (routes[i].any_case ? g_ascii_strcasecmp(req->path, routes[i].path) == 0
		                       : strcmp(req->path, routes[i].path) == 0)
			break;
	}
	if (i == G_N_ELEMENTS(routes)) {
		answer_text(&a, 404, "no such path");
	} else if (req->method == HTTP_METHOD_POST ? !routes[i].post : !routes[i].get) {
		/* RFC 9110 15.5.6: 405 lists the methods the path does allow */
		answer_text(&a, 405, "method not allowed here");
		a.allow = routes[i].allow;
	} else {
		routes[i].fn(web, req, &a, &domain);
		if (a.status == 200)
			*action_r = routes[i].action;
	}

	g_autofree char *date = http_proto_format_date(unix_seconds);
	HttpResponseHead head = {
		.status = a.status,
		.content_type = a.content_type,
		.date = date,
		.server = WEB_SERVER_SOFTWARE,
		.allow = a.allow,
		.keep_alive = req->keep_alive,
		/* RFC 9110 9.3.2: HEAD gets the fields of GET, not the content */
		.head_only = req->method == HTTP_METHOD_HEAD,
	};
	GString *out = http_proto_encode_response(&head, a.body, a.body ? strlen(a.body) : 0);
	g_free(a.body);
	if (domain_r)
		*domain_r = domain;
	else
		g_free(domain);
	return out;
}

/* ---- one connection ------------------------------------------------------------ */

typedef struct {
	WebServer *web;
	MsConn    *conn;
} Session;

static gint64 unix_now(WebServer *web)
{
	return (web->epoch_us + ms_sched_now(ms_stack_sched(web->stack))) / MS_SECOND;
}

/* Write a response: the status line and fields one event each, the body
 * as one event that says what it is (its bytes are the payload); what
 * NULL shows the body's lines too (a one-line error text). */
static gboolean write_response(MsConn *c, const GString *resp, const char *what)
{
	const char *end = g_strstr_len(resp->str, (gssize)resp->len, "\r\n\r\n");
	gsize head = end && what ? (gsize)(end - resp->str) + 4 : resp->len;
	if (!ms_conn_write(c, resp->str, head, NULL))
		return FALSE;
	if (head == resp->len)
		return TRUE;
	g_autofree char *shown = g_strdup_printf("(%s, %" G_GSIZE_FORMAT " bytes)", what, resp->len - head);
	return ms_conn_write_masked(c, resp->str + head, resp->len - head, shown, NULL);
}

/* A summary of the settings served, for the event stream. */
static char *describe(const MailConfig *cfg)
{
	GString *s = g_string_new(NULL);
	GPtrArray *lists[] = { cfg->incoming, cfg->outgoing };
	for (guint l = 0; l < G_N_ELEMENTS(lists); l++)
		for (guint i = 0; i < lists[l]->len; i++) {
			const MailConfigServer *srv = g_ptr_array_index(lists[l], i);
			g_string_append_printf(s, "%s%s %s:%u", s->len ? ", " : "",
			                       mailconfig_protocol_to_string(srv->protocol), srv->hostname, srv->port);
		}
	return g_string_free(s, FALSE);
}

/* Read one request.  1: *req_r holds it; 0: the client left between
 * requests (or went quiet); -1: a bad request, answered and closing. */
static int read_request(Session *ss, HttpParser *p, char *line, HttpRequest **req_r)
{
	MsConn *c = ss->conn;
	GError *err = NULL;
	int rc = 0;
	while (rc == 0) {
		gsize want_bytes = 0;
		HttpProtoWant want = http_proto_parser_want(p, &want_bytes);
		if (want == HTTP_PROTO_WANT_LINE) {
			MsEol eol;
			gssize n = ms_conn_read_line(c, line, HTTP_PROTO_MAX_LINE, &eol, &err);
			if (n < 0) {
				/* a time-out or a reset: nothing to answer */
				g_clear_error(&err);
				return 0;
			}
			if (eol == MS_EOL_EOF)
				return 0;   /* the client left: between requests that is the normal end */
			if (eol == MS_EOL_CR) {
				/* RFC 9112 2.2: a bare CR is not a line ending */
				g_set_error(&err, HTTP_PROTO_ERROR, HTTP_PROTO_ERROR_BAD_REQUEST, "bare CR in the request");
				rc = -1;
				break;
			}
			/* a TOO_LONG line goes on as it is: the parser says 414 or 431 */
			rc = http_proto_parser_feed_line(p, line, (gsize)n, &err);
		} else if (want == HTTP_PROTO_WANT_BYTES) {
			char buf[WEB_READ_CHUNK];
			gsize take = MIN(want_bytes, sizeof buf);
			if (!ms_conn_read_exact(c, buf, take, NULL))
				return 0;
			gsize used = 0;
			rc = http_proto_parser_feed(p, buf, take, &used, &err);
		} else {
			g_set_error(&err, HTTP_PROTO_ERROR, HTTP_PROTO_ERROR_BAD_REQUEST, "unexpected framing");
			rc = -1;
		}
	}
	if (rc < 0) {
		guint status = err && err->domain == HTTP_PROTO_ERROR ? (guint)err->code : 400;
		ms_conn_set_step(c, NULL);
		ms_conn_emit(c, MS_EV_REFUSE, "%u %s: %s", status, http_proto_status_reason(status),
		             err ? err->message : "bad request");
		g_autofree char *date = http_proto_format_date(unix_now(ss->web));
		g_autoptr(GString) resp = http_proto_encode_error(status, date);
		write_response(c, resp, NULL);
		g_clear_error(&err);
		return -1;
	}
	*req_r = http_proto_parser_take_request(p);
	return 1;
}

static void session_task(gpointer data)
{
	Session *ss = data;
	WebServer *web = ss->web;
	MsConn *c = ss->conn;
	g_autoptr(HttpParser) p = http_proto_parser_new_request();
	g_autofree char *line = g_malloc(HTTP_PROTO_MAX_LINE + 1);

	ms_conn_set_timeout(c, WEB_IDLE_TIMEOUT);
	for (guint n = 0; n < WEB_MAX_REQUESTS; n++) {
		ms_conn_set_step(c, NULL);
		g_autoptr(HttpRequest) req = NULL;
		if (read_request(ss, p, line, &req) <= 0)
			break;
		WebAction action;
		g_autofree char *domain = NULL;
		g_autoptr(GString) resp = web_answer(web, req, unix_now(web), &action, &domain);
		ms_conn_set_step(c, web_action_step(action));
		const MailConfig *cfg = domain ? web_config_for(web, domain) : NULL;
		if (action != WEB_ACT_REFUSE && cfg) {
			g_autofree char *what = describe(cfg);
			ms_conn_emit(c, MS_EV_NOTE, "%s settings for %s: %s", web_action_to_string(action), domain, what);
		} else if (action == WEB_ACT_REFUSE) {
			ms_conn_emit(c, MS_EV_REFUSE, "%s %s: %.3s", http_method_to_string(req->method), req->target,
			             resp->str + strlen("HTTP/1.1 "));
		}
		const char *what = action == WEB_ACT_AUTOCONFIG ? "clientConfig XML"
		                 : action == WEB_ACT_AUTODISCOVER ? "Autodiscover XML" : NULL;
		/* the last request of a connection says "Connection: close" itself */
		gboolean keep = req->keep_alive && n + 1 < WEB_MAX_REQUESTS;
		if (!write_response(c, resp, what) || !keep)
			break;
	}
	ms_conn_close(c);
	ms_conn_unref(c);
	g_atomic_int_add(&web->sessions, -1);
	g_free(ss);
}

static void accept_task(gpointer data)
{
	WebServer *web = data;
	for (;;) {
		MsConn *c = ms_listener_accept(web->listener, NULL);
		if (!c)
			return;
		if (g_atomic_int_get(&web->sessions) >= WEB_MAX_SESSIONS) {
			/* RFC 9110 15.6.4: busy, try later */
			ms_conn_emit(c, MS_EV_REFUSE, "too many connections (%d): 503", WEB_MAX_SESSIONS);
			g_autofree char *date = http_proto_format_date(unix_now(web));
			g_autoptr(GString) resp = http_proto_encode_error(503, date);
			write_response(c, resp, NULL);
			ms_conn_close(c);
			ms_conn_unref(c);
			continue;
		}
		g_atomic_int_inc(&web->sessions);
		Session *ss = g_new0(Session, 1);
		ss->web = web;
		ss->conn = c;
		g_autofree char *name = g_strdup_printf("web-%" G_GUINT64_FORMAT "@%s", ms_conn_id(c), web->hostname);
		ms_task_spawn(ms_stack_sched(web->stack), name, session_task, ss);
	}
}

gboolean web_start(WebServer *web, GError **error)
{
	g_return_val_if_fail(!web->running, FALSE);
	web->listener = ms_stack_listen(web->stack, web->listen_address, web->port, error);
	if (!web->listener)
		return FALSE;
	ms_listener_set_proto(web->listener, "http");
	web->running = TRUE;
	g_autofree char *name = g_strdup_printf("web@%s", web->hostname);
	ms_task_spawn(ms_stack_sched(web->stack), name, accept_task, web);
	return TRUE;
}

void web_stop(WebServer *web)
{
	if (!web->running)
		return;
	web->running = FALSE;
	ms_listener_close(web->listener);
}
