/* agents/mua/mua.c - the MUA agent: its settings, its course-step table,
 * and account set-up (COURSE.md section 2, setup.1-setup.7).
 *
 * Discovery as the clients do it: Thunderbird's autoconfig (clientConfig
 * 1.1 over HTTP), Outlook's POX Autodiscover ([MS-OXDSCLI]: DNS SRV
 * _autodiscover._tcp or the host autodiscover.DOMAIN, then an XML POST),
 * RFC 6186 SRV records, guessing by probing common names, and the settings
 * typed by hand.  Sending, fetching and folders live in mua_mail.c.
 */
#include "agents/mua/mua_impl.h"
#include "agents/mua/imap_client.h"
#include "agents/mua/pop3_client.h"
#include "agents/mta/smtp_client.h"
#include "agents/web/http_proto.h"
#include "agents/common/rfc5322.h"

#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK(mua-error-quark, mua_error)

/* How long an HTTP exchange may wait for each line. */
#define MUA_HTTP_TIMEOUT   (30 * MS_SECOND)
/* Body bytes read per call. */
#define MUA_HTTP_CHUNK     16384
#define MUA_MASK           "••••••"

#define NAME_OF(table, i) ((guint)(i) < G_N_ELEMENTS(table) ? (table)[i] : "unknown")

static const char *const flavor_names[] = { "thunderbird", "outlook", "rfc6186", "manual" };
static const char *const protocol_names[] = { "default", "imap", "pop3" };
static const char *const method_names[] = {
	"autoconfig", "well-known autoconfig", "autodiscover (SRV)", "autodiscover (host)",
	"RFC 6186 SRV records", "guessing", "manual settings",
};
static const char *const error_names[] = {
	"config", "not-set-up", "no-servers", "no-host", "no-message", "sent-copy", "plaintext", "certificate",
};
static const char *const mark_names[] = { "seen", "flagged" };

const char *mua_flavor_to_string(MuaFlavor f) { return NAME_OF(flavor_names, f); }
const char *mua_protocol_to_string(MuaProtocol p) { return NAME_OF(protocol_names, p); }
const char *mua_method_to_string(MuaMethod m) { return NAME_OF(method_names, m); }
const char *mua_error_to_string(MuaError e) { return NAME_OF(error_names, e); }
const char *mua_mark_to_string(MuaMark m) { return NAME_OF(mark_names, m); }

gboolean mua_flavor_from_string(const char *s, MuaFlavor *f_r)
{
	for (guint i = 0; s && i < G_N_ELEMENTS(flavor_names); i++)
		if (g_ascii_strcasecmp(s, flavor_names[i]) == 0) {
			*f_r = (MuaFlavor)i;
			return TRUE;
		}
	return FALSE;
}

gboolean mua_protocol_from_string(const char *s, MuaProtocol *p_r)
{
	for (guint i = 0; s && i < G_N_ELEMENTS(protocol_names); i++)
		if (g_ascii_strcasecmp(s, protocol_names[i]) == 0) {
			*p_r = (MuaProtocol)i;
			return TRUE;
		}
	return FALSE;
}

/* ---- the course-step table ----------------------------------------------------- */

static const struct {
	const char *name;
	const char *step;
} action_table[MUA_ACT_COUNT] = {
	[MUA_ACT_TYPE_ACCOUNT] = { "type-account", "setup.1" },  /* name, address, password */
	[MUA_ACT_DNS_RECORD]   = { "dns-record",   "setup.2" },  /* autodiscover / SRV records in DNS */
	[MUA_ACT_FETCH_XML]    = { "fetch-xml",    "setup.3" },  /* the autodiscover XML */
	[MUA_ACT_AUTOCONFIG]   = { "autoconfig",   "setup.4" },  /* autoconfig.DOMAIN's XML */
	[MUA_ACT_GUESS]        = { "guess",        "setup.5" },  /* imap./smtp./mail. probed */
	[MUA_ACT_MANUAL]       = { "manual",       "setup.6" },  /* typed by hand */
	[MUA_ACT_RECORD]       = { "record",       "setup.7" },  /* incoming + outgoing */
	[MUA_ACT_SUBMIT]       = { "submit",       "out.1" },    /* SMTP 587 with AUTH */
	[MUA_ACT_FETCH]        = { "fetch",        "in.8" },     /* IMAP or POP3 */
	[MUA_ACT_FLAG]         = { "flag",         "retr.1" },   /* read, flagged */
	[MUA_ACT_MOVE]         = { "move",         "retr.2" },   /* moved, deleted */
	[MUA_ACT_SENT_COPY]    = { "sent-copy",    "retr.3" },   /* the copy in Sent */
	[MUA_ACT_FOLDER]       = { "folder",       "retr.4" },   /* a new folder */
	[MUA_ACT_DRAFT]        = { "draft",        "retr.5" },   /* a draft kept */
};

const char *mua_action_to_string(MuaAction a)
{
	return (guint)a < MUA_ACT_COUNT ? action_table[a].name : "unknown";
}

const char *mua_action_step(MuaAction a)
{
	return (guint)a < MUA_ACT_COUNT ? action_table[a].step : "unknown";
}

/* Each flavour's discovery methods, in the order it tries them; manual
 * settings are always the last resort (setup.6). */
#define MUA_MAX_METHODS 5
static const MuaMethod flavor_methods[MUA_FLAVOR_COUNT][MUA_MAX_METHODS] = {
	[MUA_FLAVOR_THUNDERBIRD] = { MUA_METHOD_AUTOCONFIG, MUA_METHOD_WELL_KNOWN, MUA_METHOD_GUESS,
	                             MUA_METHOD_MANUAL, MUA_METHOD_COUNT },
	[MUA_FLAVOR_OUTLOOK]     = { MUA_METHOD_AUTODISCOVER_SRV, MUA_METHOD_AUTODISCOVER_HOST,
	                             MUA_METHOD_GUESS, MUA_METHOD_MANUAL, MUA_METHOD_COUNT },
	[MUA_FLAVOR_RFC6186]     = { MUA_METHOD_SRV, MUA_METHOD_GUESS, MUA_METHOD_MANUAL,
	                             MUA_METHOD_COUNT, MUA_METHOD_COUNT },
	[MUA_FLAVOR_MANUAL]      = { MUA_METHOD_MANUAL, MUA_METHOD_COUNT, MUA_METHOD_COUNT,
	                             MUA_METHOD_COUNT, MUA_METHOD_COUNT },
};

/* ---- events, names, connections -------------------------------------------------- */

void mua_emit(Mua *mua, MsEventKind kind, MuaAction action, const char *to, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	MsEvent ev = { .kind = kind, .from = ms_stack_name(mua->stack), .to = to,
	               .step = mua_action_step(action), .text = text };
	ms_bus_emit(ms_sched_bus(mua->sched), &ev);
}

/* "mx.example.org." -> "mx.example.org" */
static char *strip_dot(const char *name)
{
	gsize n = strlen(name);
	return g_strndup(name, n > 1 && name[n - 1] == '.' ? n - 1 : n);
}

char *mua_resolve(Mua *mua, const char *host, MuaAction action, GError **error)
{
	if (g_hostname_is_ip_address(host))
		return g_strdup(host);
	if (!mua->resolver) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_NO_HOST,
		            "%s: no DNS server is configured, give an address", host);
		return NULL;
	}
	g_autoptr(GPtrArray) addrs = NULL;
	GError *local = NULL;
	MsDnsStatus st = ms_resolver_addresses(mua->resolver, host, mua_action_step(action), &addrs, &local);
	if (st != MS_DNS_OK) {
		if (local)
			g_propagate_prefixed_error(error, local, "%s: ", host);
		else if (st == MS_DNS_NODATA)
			g_set_error(error, MUA_ERROR, MUA_ERROR_NO_HOST, "%s has no address (NODATA)", host);
		else
			g_set_error(error, MUA_ERROR, MUA_ERROR_NO_HOST, "%s does not exist (%s)", host,
			            ms_dns_status_to_string(st));
		return NULL;
	}
	/* The simulated network is IPv4: take the first IPv4 address. */
	for (guint i = 0; i < addrs->len; i++) {
		const char *a = g_ptr_array_index(addrs, i);
		if (!strchr(a, ':'))
			return g_strdup(a);
	}
	g_set_error(error, MUA_ERROR, MUA_ERROR_NO_HOST, "%s has no IPv4 address", host);
	return NULL;
}

static MsConn *connect_address(Mua *mua, const char *host, const char *addr, guint16 port,
                               const char *proto, MuaAction action, gint64 timeout, GError **error)
{
	GError *local = NULL;
	MsConn *c = ms_stack_connect(mua->stack, addr, port, timeout, &local);
	if (!c) {
		g_propagate_prefixed_error(error, local, "%s port %u: ", host, port);
		return NULL;
	}
	ms_conn_set_proto(c, proto);
	ms_conn_set_step(c, mua_action_step(action));
	return c;
}

MsConn *mua_connect(Mua *mua, const char *host, guint16 port, const char *proto, MuaAction action,
                    gint64 timeout, GError **error)
{
	g_autofree char *addr = mua_resolve(mua, host, action, error);
	if (!addr)
		return NULL;
	return connect_address(mua, host, addr, port, proto, action, timeout, error);
}

MailConfigServer *mua_server_copy(const MailConfigServer *s)
{
	MailConfigServer *c = g_new0(MailConfigServer, 1);
	*c = *s;
	c->hostname = g_strdup(s->hostname);
	c->username = g_strdup(s->username);
	return c;
}

void mua_server_free(MailConfigServer *s)
{
	if (!s)
		return;
	g_free(s->hostname);
	g_free(s->username);
	g_free(s);
}

const char *mua_server_user(Mua *mua, const MailConfigServer *s)
{
	return s->username && *s->username ? s->username : mua->address;
}

/* ---- the local copy -------------------------------------------------------------- */

void mua_local_message_free(MuaLocalMessage *m)
{
	if (!m)
		return;
	g_free(m->pop3_uid);
	g_bytes_unref(m->data);
	g_free(m->subject);
	g_free(m->from);
	g_free(m->message_id);
	g_free(m);
}

MuaLocalMessage *mua_local_message_new(GBytes *data)
{
	MuaLocalMessage *m = g_new0(MuaLocalMessage, 1);
	m->data = g_bytes_ref(data);
	gsize len;
	const char *bytes = g_bytes_get_data(data, &len);
	g_autoptr(Rfc5322Header) h = rfc5322_parse_header(bytes ? bytes : "", len, NULL);
	if (h) {
		/* RFC 2047: what a client shows is the decoded text */
		const char *subject = rfc5322_header_get(h, "Subject");
		const char *from = rfc5322_header_get(h, "From");
		m->subject = subject ? compose_decode_words(subject) : NULL;
		m->from = from ? compose_decode_words(from) : NULL;
		m->message_id = g_strdup(rfc5322_header_get(h, "Message-ID"));
	}
	return m;
}

void mua_folder_free(MuaFolder *f)
{
	if (!f)
		return;
	g_free(f->name);
	g_ptr_array_unref(f->messages);
	g_free(f);
}

MuaFolder *mua_folder(Mua *mua, const char *name, gboolean create)
{
	/* RFC 3501 5.1: INBOX is INBOX whatever its case */
	gboolean inbox = g_ascii_strcasecmp(name, MUA_FOLDER_INBOX) == 0;
	for (guint i = 0; i < mua->folders->len; i++) {
		MuaFolder *f = g_ptr_array_index(mua->folders, i);
		if (inbox ? g_ascii_strcasecmp(f->name, name) == 0 : strcmp(f->name, name) == 0)
			return f;
	}
	if (!create)
		return NULL;
	MuaFolder *f = g_new0(MuaFolder, 1);
	f->name = g_strdup(inbox ? MUA_FOLDER_INBOX : name);
	f->messages = g_ptr_array_new_with_free_func((GDestroyNotify)mua_local_message_free);
	g_ptr_array_add(mua->folders, f);
	return f;
}

GPtrArray *mua_local_messages(Mua *mua, const char *folder)
{
	MuaFolder *f = mua_folder(mua, folder, FALSE);
	return f ? f->messages : NULL;
}

GPtrArray *mua_local_folders(Mua *mua)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < mua->folders->len; i++)
		g_ptr_array_add(out, g_strdup(((MuaFolder *)g_ptr_array_index(mua->folders, i))->name));
	return out;
}

/* ---- life ------------------------------------------------------------------------ */

static gboolean config_error(GError **error, const char *what)
{
	g_set_error(error, MUA_ERROR, MUA_ERROR_CONFIG, "%s", what);
	return FALSE;
}

Mua *mua_new(MsStack *stack, const MuaConfig *cfg, GError **error)
{
	g_return_val_if_fail(stack != NULL && cfg != NULL, NULL);
	if (!cfg->name || !*cfg->name) {
		config_error(error, "the client needs a name");
		return NULL;
	}
	if ((guint)cfg->flavor >= MUA_FLAVOR_COUNT) {
		config_error(error, "unknown flavour");
		return NULL;
	}
	if ((guint)cfg->manual_security > MAILCONFIG_SOCKET_SSL) {
		config_error(error, "unknown connection security");
		return NULL;
	}
	if (cfg->zone_minutes < -RFC5322_MAX_ZONE_MINUTES || cfg->zone_minutes > RFC5322_MAX_ZONE_MINUTES) {
		config_error(error, "zone_minutes out of range");
		return NULL;
	}
	Mua *mua = g_new0(Mua, 1);
	mua->stack = ms_stack_ref(stack);
	mua->sched = ms_stack_sched(stack);
	mua->name = g_strdup(cfg->name);
	mua->display_name = g_strdup(cfg->display_name);
	mua->flavor = cfg->flavor;
	mua->prefer = cfg->incoming == MUA_PROTOCOL_POP3 ? MUA_PROTOCOL_POP3 : MUA_PROTOCOL_IMAP;
	mua->manual_protocol = cfg->manual_incoming_protocol == MUA_PROTOCOL_POP3 ? MUA_PROTOCOL_POP3
	                                                                          : MUA_PROTOCOL_IMAP;
	mua->manual_in_host = g_strdup(cfg->manual_incoming_host);
	mua->manual_out_host = g_strdup(cfg->manual_outgoing_host);
	mua->manual_user = g_strdup(cfg->manual_username);
	gboolean ssl = cfg->manual_security == MAILCONFIG_SOCKET_SSL;
	mua->manual_security = cfg->manual_security;
	mua->allow_plaintext_auth = cfg->allow_plaintext_auth;
	mua->accept_any_certificate = cfg->accept_any_certificate;
	mua->ca_file = g_strdup(cfg->ca_file);
	mua->manual_in_port = cfg->manual_incoming_port ? cfg->manual_incoming_port
	                    : mua->manual_protocol == MUA_PROTOCOL_POP3 ? (ssl ? MUA_POP3S_PORT : MUA_POP3_PORT)
	                                                                : (ssl ? MUA_IMAPS_PORT : MUA_IMAP_PORT);
	mua->manual_out_port = cfg->manual_outgoing_port ? cfg->manual_outgoing_port
	                     : ssl ? MUA_SUBMISSIONS_PORT : MUA_SUBMISSION_PORT;
	mua->http_port = cfg->http_port ? cfg->http_port : MUA_HTTP_PORT;
	mua->epoch_us = cfg->epoch_us ? cfg->epoch_us : MUA_DEFAULT_EPOCH_US;
	mua->zone_minutes = cfg->zone_minutes;
	mua->no_sent_copy = cfg->no_sent_copy;
	g_autofree char *stream = g_strdup_printf("mua:%s", cfg->name);
	mua->rng = ms_rng_new(cfg->seed, stream);
	if (cfg->dns)
		mua->resolver = ms_resolver_new_directory(stack, ms_stack_name(stack), cfg->dns,
		                                          cfg->seed ^ g_str_hash(stream));
	else if (cfg->dns_server)
		mua->resolver = ms_resolver_new(stack, ms_stack_name(stack), cfg->dns_server,
		                                cfg->dns_port ? cfg->dns_port : 53, cfg->dns_server_name,
		                                cfg->seed ^ g_str_hash(stream));
	mua->method = MUA_METHOD_COUNT;
	mua->folders = g_ptr_array_new_with_free_func((GDestroyNotify)mua_folder_free);
	mua_folder(mua, MUA_FOLDER_INBOX, TRUE);
	mua->pop3_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return mua;
}

static void forget_account(Mua *mua)
{
	if (mua->password)
		memset(mua->password, 0, strlen(mua->password));
	g_clear_pointer(&mua->password, g_free);
	g_clear_pointer(&mua->address, g_free);
	g_clear_pointer(&mua->domain, g_free);
	g_clear_pointer(&mua->incoming, mua_server_free);
	g_clear_pointer(&mua->outgoing, mua_server_free);
	g_clear_pointer(&mua->imap, mua_server_free);
	g_clear_pointer(&mua->pop3, mua_server_free);
	mua->method = MUA_METHOD_COUNT;
}

void mua_free(Mua *mua)
{
	if (!mua)
		return;
	forget_account(mua);
	g_ptr_array_unref(mua->folders);
	g_hash_table_unref(mua->pop3_seen);
	ms_resolver_free(mua->resolver);
	ms_rng_free(mua->rng);
	ms_stack_unref(mua->stack);
	g_free(mua->name);
	g_free(mua->display_name);
	g_free(mua->manual_in_host);
	g_free(mua->manual_out_host);
	g_free(mua->manual_user);
	g_free(mua->ca_file);
	g_free(mua);
}

const char *mua_name(Mua *mua) { return mua->name; }
const char *mua_address(Mua *mua) { return mua->address; }
const MailConfigServer *mua_incoming_server(Mua *mua) { return mua->incoming; }
const MailConfigServer *mua_outgoing_server(Mua *mua) { return mua->outgoing; }
MuaMethod mua_setup_method(Mua *mua) { return mua->method; }
guint mua_last_fetched(Mua *mua) { return mua->last_fetched; }

/* ---- HTTP, as the set-up needs it ----------------------------------------------------- */

static gboolean url_part_ok(const char *s);

/* Read one response from c with http_proto's parser; NULL with an error. */
static HttpResponse *http_read_response(MsConn *c, HttpMethod method, const char *host, GError **error)
{
	g_autoptr(HttpParser) p = http_proto_parser_new_response(method);
	g_autofree char *line = g_malloc(HTTP_PROTO_MAX_LINE + 1);
	GError *err = NULL;
	int rc = 0;
	while (rc == 0) {
		gsize want_bytes = 0;
		HttpProtoWant want = http_proto_parser_want(p, &want_bytes);
		if (want == HTTP_PROTO_WANT_LINE || want == HTTP_PROTO_WANT_UNTIL_CLOSE) {
			MsEol eol;
			gssize n = ms_conn_read_line(c, line, HTTP_PROTO_MAX_LINE, &eol, &err);
			if (n < 0)
				break;
			if (eol == MS_EOL_EOF && n == 0) {
				rc = http_proto_parser_finish(p, &err);
				if (rc == 0)
					g_set_error(&err, HTTP_PROTO_ERROR, HTTP_PROTO_ERROR_BAD_RESPONSE,
					            "the server closed the connection without an answer");
				break;
			}
			if (want == HTTP_PROTO_WANT_LINE) {
				rc = http_proto_parser_feed_line(p, line, (gsize)n, &err);
				continue;
			}
			/* RFC 9112 6.3 (8): a body that runs to the close: give it back
			 * its line endings as they came. */
			static const char *const endings[] = { "\r\n", "\n", "\r", "", "" };
			g_autofree char *chunk = g_strconcat(line, endings[eol], NULL);
			gsize used;
			rc = http_proto_parser_feed(p, chunk, strlen(chunk), &used, &err);
		} else if (want == HTTP_PROTO_WANT_BYTES) {
			char buf[MUA_HTTP_CHUNK];
			gsize take = MIN(want_bytes, sizeof buf), used;
			if (!ms_conn_read_exact(c, buf, take, &err))
				break;
			rc = http_proto_parser_feed(p, buf, take, &used, &err);
		} else {
			g_set_error(&err, HTTP_PROTO_ERROR, HTTP_PROTO_ERROR_BAD_RESPONSE, "unexpected framing");
			break;
		}
	}
	if (rc != 1) {
		if (!err)
			g_set_error(&err, HTTP_PROTO_ERROR, HTTP_PROTO_ERROR_BAD_RESPONSE, "no answer");
		g_propagate_prefixed_error(error, err, "the answer of %s: ", host);
		return NULL;
	}
	return http_proto_parser_take_response(p);
}

/* One request: connect (to addr, or to host resolved with action's step),
 * send, read the answer, close.  body_what names the body in events. */
static HttpResponse *http_exchange(Mua *mua, MuaAction action, const char *host, const char *addr,
                                   guint16 port, HttpMethod method, const char *target,
                                   const char *body, const char *body_what, GError **error)
{
	if (!url_part_ok(host) || !url_part_ok(target) || target[0] != '/') {
		g_set_error(error, MUA_ERROR, MUA_ERROR_CONFIG, "cannot ask http://%s%s", host, target);
		return NULL;
	}
	g_autofree char *resolved = addr ? g_strdup(addr) : mua_resolve(mua, host, action, error);
	if (!resolved)
		return NULL;
	g_autoptr(MsConn) c = connect_address(mua, host, resolved, port, "http", action,
	                                      MUA_CONNECT_TIMEOUT, error);
	if (!c)
		return NULL;
	ms_conn_set_timeout(c, MUA_HTTP_TIMEOUT);
	/* RFC 9110 7.2: Host carries the port when it is not the scheme's */
	g_autofree char *host_field = port == MUA_HTTP_PORT ? g_strdup(host) : g_strdup_printf("%s:%u", host, port);
	g_autofree char *agent = g_strdup_printf("mailsim (%s)", mua_flavor_to_string(mua->flavor));
	HttpRequestHead head = {
		.method = method, .host = host_field, .target = target,
		.content_type = body ? "text/xml; charset=utf-8" : NULL,
		.user_agent = agent, .keep_alive = FALSE,
	};
	g_autoptr(GString) req = http_proto_encode_request(&head, body, body ? strlen(body) : 0);
	if (!req) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_CONFIG, "cannot write a request for %s", target);
		return NULL;
	}
	/* The request line and fields one event each; the body as one. */
	const char *end = strstr(req->str, "\r\n\r\n");
	gsize head_len = end ? (gsize)(end - req->str) + 4 : req->len;
	GError *local = NULL;
	if (!ms_conn_write(c, req->str, head_len, &local) ||
	    (head_len < req->len &&
	     !ms_conn_write_masked(c, req->str + head_len, req->len - head_len, body_what, &local))) {
		g_propagate_prefixed_error(error, local, "sending to %s: ", host);
		return NULL;
	}
	HttpResponse *resp = http_read_response(c, method, host, error);
	ms_conn_close(c);
	return resp;
}

/* Where an HTTP or Autodiscover redirect points. */
typedef struct {
	char   *host;
	guint16 port;
	char   *target;
} Url;

static void url_clear(Url *u)
{
	g_clear_pointer(&u->host, g_free);
	g_clear_pointer(&u->target, g_free);
}

/* What may go on a request line or into Host: a redirect is the peer's
 * text, and a blank or a control character in it would be an injection. */
static gboolean url_part_ok(const char *s)
{
	for (const guchar *p = (const guchar *)s; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return FALSE;
	return TRUE;
}

/* An absolute http URL (a relative one keeps host and port).  https would
 * need TLS, which the simulated network does not carry: refused. */
static gboolean url_parse(Mua *mua, const char *location, Url *u, GError **error)
{
	if (!url_part_ok(location)) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_CONFIG, "cannot follow a redirect with blanks or controls");
		return FALSE;
	}
	if (location[0] == '/') {
		g_free(u->target);
		u->target = g_strdup(location);
		return TRUE;
	}
	g_autoptr(GUri) uri = g_uri_parse(location, G_URI_FLAGS_ENCODED, NULL);
	if (!uri || !g_uri_get_host(uri) || g_ascii_strcasecmp(g_uri_get_scheme(uri), "http") != 0) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_CONFIG, "cannot follow %s (plain http only)", location);
		return FALSE;
	}
	url_clear(u);
	u->host = g_strdup(g_uri_get_host(uri));
	u->port = g_uri_get_port(uri) > 0 ? (guint16)g_uri_get_port(uri) : MUA_HTTP_PORT;
	const char *path = g_uri_get_path(uri);
	const char *query = g_uri_get_query(uri);
	u->target = g_strconcat(*path ? path : "/", query ? "?" : "", query ? query : "", NULL);
	return TRUE;
}

/* http_exchange, following HTTP redirects (RFC 9110 15.4) a few times. */
static HttpResponse *http_follow(Mua *mua, MuaAction action, Url *u, const char *addr, HttpMethod method,
                                 const char *body, const char *body_what, GError **error)
{
	g_autofree char *first_addr = g_strdup(addr);
	for (guint hops = 0;; hops++) {
		HttpResponse *resp = http_exchange(mua, action, u->host, first_addr, u->port, method, u->target,
		                                   body, body_what, error);
		if (!resp)
			return NULL;
		const char *location = http_proto_header_get(resp->headers, "Location");
		gboolean redirect = resp->status == 301 || resp->status == 302 || resp->status == 303 ||
		                    resp->status == 307 || resp->status == 308;
		if (!redirect || !location || hops == MUA_MAX_REDIRECTS)
			return resp;
		mua_emit(mua, MS_EV_NOTE, action, u->host, "%u redirect to %s", resp->status, location);
		gboolean ok = url_parse(mua, location, u, error);
		http_proto_response_free(resp);
		if (!ok)
			return NULL;
		g_clear_pointer(&first_addr, g_free);   /* a new host is resolved again */
	}
}

/* ---- setup.4: Thunderbird's autoconfig ------------------------------------------------ */

static MailConfig *autoconfig_at(Mua *mua, const char *host, const char *path, GError **error)
{
	Url u = { g_strdup(host), mua->http_port,
	          http_proto_target_with_query(path, "emailaddress", mua->address) };
	mua_emit(mua, MS_EV_STEP, MUA_ACT_AUTOCONFIG, host,
	         "%s asks the web server %s for the settings file http://%s%s", mua->name, host, host, u.target);
	HttpResponse *resp = http_follow(mua, MUA_ACT_AUTOCONFIG, &u, NULL, HTTP_METHOD_GET, NULL, NULL, error);
	url_clear(&u);
	if (!resp)
		return NULL;
	MailConfig *cfg = NULL;
	if (resp->status != 200)
		g_set_error(error, MUA_ERROR, MUA_ERROR_NO_SERVERS, "%s answered %u %s", host, resp->status,
		            resp->reason);
	else
		cfg = mailconfig_parse_autoconfig_xml(resp->body->str, resp->body->len, error);
	http_proto_response_free(resp);
	return cfg;
}

static MailConfig *method_autoconfig(Mua *mua, GError **error)
{
	/* Thunderbird's first try: the host autoconfig.DOMAIN, no special record */
	g_autofree char *host = g_strconcat("autoconfig.", mua->domain, NULL);
	return autoconfig_at(mua, host, "/mail/config-v1.1.xml", error);
}

static MailConfig *method_well_known(Mua *mua, GError **error)
{
	/* and then the domain's own web server */
	return autoconfig_at(mua, mua->domain, "/.well-known/autoconfig/mail/config-v1.1.xml", error);
}

/* ---- setup.2 and setup.3: Outlook's autodiscover ---------------------------------------- */

/* POST the request for our address to host (at addr) and read the settings,
 * following Autodiscover's redirects ([MS-OXDSCLI] 3.1.5.2). */
static MailConfig *autodiscover_post(Mua *mua, const char *host, const char *addr, guint16 port,
                                     GError **error)
{
	Url u = { g_strdup(host), port, g_strdup("/autodiscover/autodiscover.xml") };
	g_autofree char *address = g_strdup(mua->address);
	g_autofree char *first_addr = g_strdup(addr);
	MailConfig *cfg = NULL;
	for (guint hops = 0; !cfg; hops++) {
		mua_emit(mua, MS_EV_STEP, MUA_ACT_FETCH_XML, u.host,
		         "%s posts %s to http://%s%s and asks for the prepared settings file",
		         mua->name, address, u.host, u.target);
		g_autofree char *body = mailconfig_encode_autodiscover_request(address);
		g_autofree char *what = g_strdup_printf("(Autodiscover request for %s, %" G_GSIZE_FORMAT " bytes)",
		                                        address, strlen(body));
		HttpResponse *resp = http_follow(mua, MUA_ACT_FETCH_XML, &u, first_addr, HTTP_METHOD_POST, body,
		                                 what, error);
		if (!resp)
			break;
		if (resp->status != 200) {
			g_set_error(error, MUA_ERROR, MUA_ERROR_NO_SERVERS, "%s answered %u %s", u.host,
			            resp->status, resp->reason);
			http_proto_response_free(resp);
			break;
		}
		GError *local = NULL;
		cfg = mailconfig_parse_autodiscover_xml(resp->body->str, resp->body->len, &local);
		http_proto_response_free(resp);
		if (cfg)
			break;
		if (!g_error_matches(local, MAILCONFIG_ERROR, MAILCONFIG_ERROR_REDIRECT) || hops == MUA_MAX_REDIRECTS) {
			g_propagate_error(error, local);
			break;
		}
		/* "redirectAddr ADDRESS": ask again for that address; "redirectUrl
		 * URL": ask there. */
		mua_emit(mua, MS_EV_NOTE, MUA_ACT_FETCH_XML, u.host, "autodiscover says: %s", local->message);
		const char *target = strchr(local->message, ' ');
		gboolean ok = target != NULL;
		if (ok && g_str_has_prefix(local->message, "redirectAddr")) {
			g_free(address);
			address = g_strdup(target + 1);
		} else if (ok) {
			ok = url_parse(mua, target + 1, &u, error);
			g_clear_pointer(&first_addr, g_free);
		}
		g_error_free(local);
		if (!ok)
			break;
	}
	url_clear(&u);
	return cfg;
}

static MailConfig *method_autodiscover_srv(Mua *mua, GError **error)
{
	g_autofree char *name = g_strconcat("_autodiscover._tcp.", mua->domain, NULL);
	mua_emit(mua, MS_EV_STEP, MUA_ACT_DNS_RECORD, NULL,
	         "%s asks DNS for the autodiscover record of %s (SRV %s)", mua->name, mua->domain, name);
	if (!mua->resolver) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_NO_HOST, "no DNS server to ask");
		return NULL;
	}
	g_autoptr(GPtrArray) recs = NULL;
	GError *local = NULL;
	MsDnsStatus st = ms_resolver_srv(mua->resolver, name, mua_action_step(MUA_ACT_DNS_RECORD), &recs, &local);
	if (st != MS_DNS_OK) {
		if (local)
			g_propagate_error(error, local);
		else
			g_set_error(error, MUA_ERROR, MUA_ERROR_NO_HOST, "no SRV record %s (%s)", name,
			            ms_dns_status_to_string(st));
		return NULL;
	}
	/* RFC 2782: in priority order, each until one answers. */
	for (guint i = 0; i < recs->len; i++) {
		const DnsRecord *r = g_ptr_array_index(recs, i);
		g_autofree char *host = strip_dot(r->rdata.srv.target);
		g_clear_error(error);
		g_autofree char *addr = mua_resolve(mua, host, MUA_ACT_DNS_RECORD, error);
		if (!addr)
			continue;
		mua_emit(mua, MS_EV_NOTE, MUA_ACT_DNS_RECORD, NULL, "the record points at the web server %s port %u",
		         host, r->rdata.srv.port);
		MailConfig *cfg = autodiscover_post(mua, host, addr, r->rdata.srv.port, error);
		if (cfg)
			return cfg;
	}
	return NULL;
}

static MailConfig *method_autodiscover_host(Mua *mua, GError **error)
{
	g_autofree char *host = g_strconcat("autodiscover.", mua->domain, NULL);
	mua_emit(mua, MS_EV_STEP, MUA_ACT_DNS_RECORD, NULL, "%s asks DNS for the host %s", mua->name, host);
	g_autofree char *addr = mua_resolve(mua, host, MUA_ACT_DNS_RECORD, error);
	if (!addr)
		return NULL;
	return autodiscover_post(mua, host, addr, mua->http_port, error);
}

/* ---- setup.2: RFC 6186 SRV records ------------------------------------------------------- */

/* RFC 6186 3.1 and 3.2 (RFC 8314 adds _submissions, which needs TLS from
 * the first byte like _imaps and _pop3s). */
static const struct {
	const char        *service;
	MailConfigProtocol protocol;
	MailConfigSocket   socket;
} rfc6186_services[] = {
	{ "_submission._tcp.", MAILCONFIG_PROTOCOL_SMTP, MAILCONFIG_SOCKET_PLAIN },
	{ "_imap._tcp.",       MAILCONFIG_PROTOCOL_IMAP, MAILCONFIG_SOCKET_PLAIN },
	{ "_imaps._tcp.",      MAILCONFIG_PROTOCOL_IMAP, MAILCONFIG_SOCKET_SSL },
	{ "_pop3._tcp.",       MAILCONFIG_PROTOCOL_POP3, MAILCONFIG_SOCKET_PLAIN },
	{ "_pop3s._tcp.",      MAILCONFIG_PROTOCOL_POP3, MAILCONFIG_SOCKET_SSL },
};

/* One SRV answer, kept for sorting. */
typedef struct {
	guint16            priority;
	guint              order;     /* the service's place in the table: ties */
	MailConfigProtocol protocol;
	MailConfigSocket   socket;
	char              *host;
	guint16            port;
} SrvFound;

static void srv_found_free(gpointer p)
{
	SrvFound *f = p;
	g_free(f->host);
	g_free(f);
}

static gint srv_found_compare(gconstpointer a, gconstpointer b)
{
	const SrvFound *x = *(SrvFound *const *)a, *y = *(SrvFound *const *)b;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static MailConfig *method_srv(Mua *mua, GError **error)
{
	mua_emit(mua, MS_EV_STEP, MUA_ACT_DNS_RECORD, NULL,
	         "%s asks DNS for the mail service records of %s (RFC 6186)", mua->name, mua->domain);
	if (!mua->resolver) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_NO_HOST, "no DNS server to ask");
		return NULL;
	}
	g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(srv_found_free);
	for (guint i = 0; i < G_N_ELEMENTS(rfc6186_services); i++) {
		g_autofree char *name = g_strconcat(rfc6186_services[i].service, mua->domain, NULL);
		g_autoptr(GPtrArray) recs = NULL;
		g_autoptr(GError) local = NULL;
		if (ms_resolver_srv(mua->resolver, name, mua_action_step(MUA_ACT_DNS_RECORD), &recs, &local) != MS_DNS_OK)
			continue;
		for (guint j = 0; j < recs->len; j++) {
			const DnsRecord *r = g_ptr_array_index(recs, j);
			SrvFound *f = g_new0(SrvFound, 1);
			f->priority = r->rdata.srv.priority;
			f->order = i;
			f->protocol = rfc6186_services[i].protocol;
			f->socket = rfc6186_services[i].socket;
			f->host = strip_dot(r->rdata.srv.target);
			f->port = r->rdata.srv.port;
			g_ptr_array_add(found, f);
		}
	}
	/* RFC 6186 3.4: between IMAP and POP3, and with or without TLS, the
	 * lowest priority value is preferred */
	g_ptr_array_sort(found, srv_found_compare);
	g_autoptr(MailConfig) cfg = mailconfig_new(mua->domain, NULL);
	mailconfig_add_domain(cfg, mua->domain);
	for (guint i = 0; i < found->len; i++) {
		const SrvFound *f = g_ptr_array_index(found, i);
		/* RFC 6186 4: the user name is the e-mail address */
		mailconfig_add_server(cfg, f->protocol, f->host, f->port, f->socket,
		                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
	}
	if (cfg->incoming->len == 0 || cfg->outgoing->len == 0) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_NO_SERVERS, "no %s%s%s record under %s",
		            cfg->incoming->len ? "" : "_imap/_pop3",
		            !cfg->incoming->len && !cfg->outgoing->len ? " or " : "",
		            cfg->outgoing->len ? "" : "_submission", mua->domain);
		return NULL;
	}
	return g_steal_pointer(&cfg);
}

/* ---- setup.5: guessing --------------------------------------------------------------------- */

/* The names and ports clients try (Thunderbird's guess list, shortened). */
static const struct {
	MailConfigProtocol protocol;
	const char        *prefix;
	guint16            port;
} guesses[] = {
	{ MAILCONFIG_PROTOCOL_IMAP, "imap.", 143 },
	{ MAILCONFIG_PROTOCOL_IMAP, "mail.", 143 },
	{ MAILCONFIG_PROTOCOL_POP3, "pop3.", 110 },
	{ MAILCONFIG_PROTOCOL_POP3, "pop.",  110 },
	{ MAILCONFIG_PROTOCOL_POP3, "mail.", 110 },
	{ MAILCONFIG_PROTOCOL_SMTP, "smtp.", 587 },
	{ MAILCONFIG_PROTOCOL_SMTP, "mail.", 587 },
	{ MAILCONFIG_PROTOCOL_SMTP, "smtp.", 25 },
	{ MAILCONFIG_PROTOCOL_SMTP, "mail.", 25 },
};

/* Talk to a candidate until it shows what it is: an IMAP greeting and
 * IMAP4rev1 in its capabilities, a POP3 +OK, an SMTP 220 and EHLO (and
 * AUTH, on port 25 where AUTH is not a given).  *tls_r: whether it offers
 * STARTTLS (STLS), which the account then asks for, as Thunderbird's
 * guessing does. */
static gboolean probe(Mua *mua, MailConfigProtocol protocol, const char *host, const char *addr,
                      guint16 port, gboolean *tls_r, GError **error)
{
	const char *proto = mailconfig_protocol_to_string(protocol);
	g_autoptr(MsConn) c = connect_address(mua, host, addr, port, proto, MUA_ACT_GUESS,
	                                      MUA_PROBE_TIMEOUT, error);
	if (!c)
		return FALSE;
	ms_conn_set_timeout(c, MUA_PROBE_TIMEOUT);
	gboolean ok = FALSE;
	if (protocol == MAILCONFIG_PROTOCOL_IMAP) {
		g_autoptr(ImapClient) ic = imap_client_new(c);
		ok = imap_client_greeting(ic, error) && imap_client_capability(ic, error);
		*tls_r = ok && imap_client_has_capability(ic, "STARTTLS");
		if (ok && !imap_client_has_capability(ic, "IMAP4rev1") && !imap_client_has_capability(ic, "IMAP4rev2")) {
			g_set_error(error, MUA_ERROR, MUA_ERROR_NO_SERVERS, "no IMAP4rev1 in its capabilities");
			ok = FALSE;
		}
		imap_client_logout(ic);
	} else if (protocol == MAILCONFIG_PROTOCOL_POP3) {
		g_autoptr(Pop3Client) pc = pop3_client_new(c);
		ok = pop3_client_greeting(pc, error) && pop3_client_capa(pc, error);
		*tls_r = ok && pop3_client_has_capability(pc, "STLS");
		pop3_client_quit(pc, NULL);
	} else {
		g_autofree char *helo = g_strdup_printf("[%s]", ms_conn_local_address(c));
		g_autoptr(SmtpClient) sc = smtp_client_new(c, SMTP_CLIENT_MODE_SMTP, helo);
		ok = smtp_client_greeting(sc, error) && smtp_client_hello(sc, error);
		*tls_r = ok && (smtp_client_extensions(sc)->flags & SMTP_EXT_STARTTLS);
		if (ok && port == 25 && !(smtp_client_extensions(sc)->flags & SMTP_EXT_AUTH)) {
			g_set_error(error, MUA_ERROR, MUA_ERROR_NO_SERVERS, "port 25 without AUTH is for other servers");
			ok = FALSE;
		}
		smtp_client_quit(sc);
	}
	return ok;
}

/* One guess: resolve (once per name: cache) and probe.  Events say what
 * was found or why not. */
static gboolean guess_one(Mua *mua, GHashTable *addrs, guint i, MailConfig *cfg)
{
	g_autofree char *host = g_strconcat(guesses[i].prefix, mua->domain, NULL);
	const char *what = mailconfig_protocol_to_string(guesses[i].protocol);
	if (!g_hash_table_contains(addrs, host)) {
		GError *local = NULL;
		char *addr = mua_resolve(mua, host, MUA_ACT_GUESS, &local);
		if (!addr) {
			mua_emit(mua, MS_EV_ERROR, MUA_ACT_GUESS, NULL, "guess %s: %s", host, local->message);
			g_error_free(local);
		}
		g_hash_table_insert(addrs, g_strdup(host), addr);
	}
	const char *addr = g_hash_table_lookup(addrs, host);
	if (!addr)
		return FALSE;
	GError *local = NULL;
	gboolean tls = FALSE;
	if (!probe(mua, guesses[i].protocol, host, addr, guesses[i].port, &tls, &local)) {
		mua_emit(mua, MS_EV_ERROR, MUA_ACT_GUESS, host, "no %s server at %s port %u: %s", what, host,
		         guesses[i].port, local ? local->message : "?");
		g_clear_error(&local);
		return FALSE;
	}
	mua_emit(mua, MS_EV_NOTE, MUA_ACT_GUESS, host, "%s port %u answers as a %s server%s", host,
	         guesses[i].port, what, tls ? " offering STARTTLS" : "");
	mailconfig_add_server(cfg, guesses[i].protocol, host, guesses[i].port,
	                      tls ? MAILCONFIG_SOCKET_STARTTLS : MAILCONFIG_SOCKET_PLAIN,
	                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
	return TRUE;
}

static MailConfig *method_guess(Mua *mua, GError **error)
{
	mua_emit(mua, MS_EV_STEP, MUA_ACT_GUESS, NULL,
	         "no settings file: %s guesses the usual names under %s and probes them", mua->name, mua->domain);
	g_autoptr(MailConfig) cfg = mailconfig_new(mua->domain, NULL);
	mailconfig_add_domain(cfg, mua->domain);
	g_autoptr(GHashTable) addrs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	/* the preferred incoming protocol first, the other if it finds nothing */
	MailConfigProtocol order[2] = { MAILCONFIG_PROTOCOL_IMAP, MAILCONFIG_PROTOCOL_POP3 };
	if (mua->prefer == MUA_PROTOCOL_POP3) {
		order[0] = MAILCONFIG_PROTOCOL_POP3;
		order[1] = MAILCONFIG_PROTOCOL_IMAP;
	}
	gboolean found_in = FALSE, found_out = FALSE;
	for (guint k = 0; k < 2 && !found_in; k++)
		for (guint i = 0; i < G_N_ELEMENTS(guesses) && !found_in; i++)
			if (guesses[i].protocol == order[k])
				found_in = guess_one(mua, addrs, i, cfg);
	for (guint i = 0; i < G_N_ELEMENTS(guesses) && !found_out; i++)
		if (guesses[i].protocol == MAILCONFIG_PROTOCOL_SMTP)
			found_out = guess_one(mua, addrs, i, cfg);
	if (!found_in || !found_out) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_NO_SERVERS, "no %s%s%s server answered under %s",
		            found_in ? "" : "incoming", !found_in && !found_out ? " or " : "",
		            found_out ? "" : "outgoing", mua->domain);
		return NULL;
	}
	return g_steal_pointer(&cfg);
}

/* ---- setup.6: by hand ---------------------------------------------------------------------- */

static MailConfig *method_manual(Mua *mua, GError **error)
{
	if (!mua->manual_in_host || !mua->manual_out_host) {
		mua_emit(mua, MS_EV_STEP, MUA_ACT_MANUAL, NULL,
		         "nothing found: %s is asked to type the server settings, and has none to type", mua->name);
		g_set_error(error, MUA_ERROR, MUA_ERROR_NO_SERVERS, "no server settings to type");
		return NULL;
	}
	MailConfigProtocol in = mua->manual_protocol == MUA_PROTOCOL_POP3 ? MAILCONFIG_PROTOCOL_POP3
	                                                                  : MAILCONFIG_PROTOCOL_IMAP;
	mua_emit(mua, MS_EV_STEP, MUA_ACT_MANUAL, NULL,
	         "%s types the server settings by hand: incoming %s %s port %u, outgoing SMTP %s port %u",
	         mua->name, in == MAILCONFIG_PROTOCOL_POP3 ? "POP3" : "IMAP", mua->manual_in_host,
	         mua->manual_in_port, mua->manual_out_host, mua->manual_out_port);
	MailConfig *cfg = mailconfig_new(mua->domain, NULL);
	mailconfig_add_domain(cfg, mua->domain);
	mailconfig_add_server(cfg, in, mua->manual_in_host, mua->manual_in_port, mua->manual_security,
	                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, mua->manual_user);
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_SMTP, mua->manual_out_host, mua->manual_out_port,
	                      mua->manual_security, MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, mua->manual_user);
	return cfg;
}

typedef MailConfig *(*MethodFn)(Mua *mua, GError **error);

static const MethodFn method_fns[MUA_METHOD_COUNT] = {
	[MUA_METHOD_AUTOCONFIG]        = method_autoconfig,
	[MUA_METHOD_WELL_KNOWN]        = method_well_known,
	[MUA_METHOD_AUTODISCOVER_SRV]  = method_autodiscover_srv,
	[MUA_METHOD_AUTODISCOVER_HOST] = method_autodiscover_host,
	[MUA_METHOD_SRV]               = method_srv,
	[MUA_METHOD_GUESS]             = method_guess,
	[MUA_METHOD_MANUAL]            = method_manual,
};

/* The step a method's failure is shown under. */
static const MuaAction method_action[MUA_METHOD_COUNT] = {
	[MUA_METHOD_AUTOCONFIG]        = MUA_ACT_AUTOCONFIG,
	[MUA_METHOD_WELL_KNOWN]        = MUA_ACT_AUTOCONFIG,
	[MUA_METHOD_AUTODISCOVER_SRV]  = MUA_ACT_DNS_RECORD,
	[MUA_METHOD_AUTODISCOVER_HOST] = MUA_ACT_DNS_RECORD,
	[MUA_METHOD_SRV]               = MUA_ACT_DNS_RECORD,
	[MUA_METHOD_GUESS]             = MUA_ACT_GUESS,
	[MUA_METHOD_MANUAL]            = MUA_ACT_MANUAL,
};

/* ---- setup.7: choosing and recording ------------------------------------------------------- */

/* The first server of a protocol, in the settings' order of preference
 * (plain, STARTTLS and TLS from the first byte alike). */
static const MailConfigServer *first_usable(GPtrArray *servers, MailConfigProtocol protocol)
{
	for (guint i = 0; i < servers->len; i++) {
		const MailConfigServer *s = g_ptr_array_index(servers, i);
		if (s->protocol == protocol)
			return s;
	}
	return NULL;
}

static gboolean adopt(Mua *mua, MailConfig *cfg, MuaMethod method, GError **error)
{
	mailconfig_expand_usernames(cfg, mua->address);
	const MailConfigServer *imap = first_usable(cfg->incoming, MAILCONFIG_PROTOCOL_IMAP);
	const MailConfigServer *pop3 = first_usable(cfg->incoming, MAILCONFIG_PROTOCOL_POP3);
	const MailConfigServer *smtp = first_usable(cfg->outgoing, MAILCONFIG_PROTOCOL_SMTP);
	const MailConfigServer *in = mua->prefer == MUA_PROTOCOL_POP3 ? (pop3 ? pop3 : imap) : (imap ? imap : pop3);
	if (!in || !smtp) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_NO_SERVERS, "the settings name no %s server",
		            in ? "outgoing" : "incoming");
		return FALSE;
	}
	mua->incoming = mua_server_copy(in);
	mua->outgoing = mua_server_copy(smtp);
	mua->imap = imap ? mua_server_copy(imap) : NULL;
	mua->pop3 = pop3 ? mua_server_copy(pop3) : NULL;
	/* no user name given: the address, as every method here means it */
	MailConfigServer *all[] = { mua->incoming, mua->outgoing, mua->imap, mua->pop3 };
	for (guint i = 0; i < G_N_ELEMENTS(all); i++)
		if (all[i] && (!all[i]->username || !*all[i]->username)) {
			g_free(all[i]->username);
			all[i]->username = g_strdup(mua->address);
		}
	mua->mode = in->protocol;
	mua->method = method;
	return TRUE;
}

static void record(Mua *mua)
{
	const MailConfigServer *in = mua->incoming, *out = mua->outgoing;
	mua_emit(mua, MS_EV_STEP, MUA_ACT_RECORD, NULL,
	         "%s's account (found by %s): incoming %s %s port %u, outgoing SMTP %s port %u, user %s",
	         mua->name, mua_method_to_string(mua->method), in->protocol == MAILCONFIG_PROTOCOL_POP3 ? "POP3" : "IMAP",
	         in->hostname, in->port, out->hostname, out->port, mua_server_user(mua, in));
	for (guint i = 0; i < 2; i++) {
		const MailConfigServer *s = i ? out : in;
		if (s->socket == MAILCONFIG_SOCKET_STARTTLS)
			mua_emit(mua, MS_EV_NOTE, MUA_ACT_RECORD, s->hostname,
			         "%s port %u, connection security STARTTLS: the client encrypts before it logs in%s",
			         s->hostname, s->port, mua->allow_plaintext_auth ? ", and logs in anyway where it cannot"
			                                                       : ", and never logs in in the clear");
		else if (s->socket == MAILCONFIG_SOCKET_SSL)
			mua_emit(mua, MS_EV_NOTE, MUA_ACT_RECORD, s->hostname,
			         "%s port %u, connection security SSL/TLS: encrypted from the first byte",
			         s->hostname, s->port);
	}
	if (g_ascii_strcasecmp(in->hostname, out->hostname) == 0) {
		mua_emit(mua, MS_EV_NOTE, MUA_ACT_RECORD, NULL,
		         "one name, %s, for both: one machine, two services (%s and SMTP)", in->hostname,
		         in->protocol == MAILCONFIG_PROTOCOL_POP3 ? "POP3" : "IMAP");
		return;
	}
	/* Two names may still be one machine: DNS tells. */
	g_autofree char *a = mua_resolve(mua, in->hostname, MUA_ACT_RECORD, NULL);
	g_autofree char *b = a ? mua_resolve(mua, out->hostname, MUA_ACT_RECORD, NULL) : NULL;
	if (a && b && strcmp(a, b) == 0)
		mua_emit(mua, MS_EV_NOTE, MUA_ACT_RECORD, NULL,
		         "%s and %s are one machine (%s) under two names; the services behind them differ",
		         in->hostname, out->hostname, a);
	else if (a && b)
		mua_emit(mua, MS_EV_NOTE, MUA_ACT_RECORD, NULL, "%s (%s) and %s (%s) are two machines",
		         in->hostname, a, out->hostname, b);
}

gboolean mua_setup_account(Mua *mua, const char *address, const char *password, GError **error)
{
	g_return_val_if_fail(mua != NULL && address != NULL && password != NULL, FALSE);
	const char *at = strrchr(address, '@');
	if (!at || at == address || !at[1] || strpbrk(address, " \t\r\n<>") || !g_utf8_validate(address, -1, NULL)) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_CONFIG, "\"%s\" is not an e-mail address", address);
		return FALSE;
	}
	forget_account(mua);
	mua->address = g_strdup(address);
	mua->password = g_strdup(password);
	mua->domain = g_ascii_strdown(at + 1, -1);

	/* setup.1: what the user types; the password stays masked */
	mua_emit(mua, MS_EV_STEP, MUA_ACT_TYPE_ACCOUNT, NULL,
	         "%s types a name (%s), an address (%s) and a password (%s) into the %s client", mua->name,
	         mua->display_name ? mua->display_name : "none", address, MUA_MASK,
	         mua_flavor_to_string(mua->flavor));

	const MuaMethod *methods = flavor_methods[mua->flavor];
	for (guint i = 0; i < MUA_MAX_METHODS && methods[i] != MUA_METHOD_COUNT; i++) {
		MuaMethod m = methods[i];
		GError *local = NULL;
		g_autoptr(MailConfig) cfg = method_fns[m](mua, &local);
		if (cfg && adopt(mua, cfg, m, &local)) {
			record(mua);
			return TRUE;
		}
		const char *next = i + 1 < MUA_MAX_METHODS && methods[i + 1] != MUA_METHOD_COUNT
		                 ? mua_method_to_string(methods[i + 1]) : NULL;
		mua_emit(mua, MS_EV_ERROR, method_action[m], NULL, "%s failed: %s%s%s", mua_method_to_string(m),
		         local ? local->message : "no settings", next ? "; next: " : "", next ? next : "");
		if (!next) {
			/* one error code for "nothing worked", whatever the last cause */
			g_set_error(error, MUA_ERROR, MUA_ERROR_NO_SERVERS, "%s could not find the servers of %s: %s",
			            mua->name, mua->domain, local ? local->message : "no settings");
			g_clear_error(&local);
			break;
		}
		g_clear_error(&local);
	}
	g_clear_pointer(&mua->domain, g_free);
	g_clear_pointer(&mua->address, g_free);
	if (mua->password)
		memset(mua->password, 0, strlen(mua->password));
	g_clear_pointer(&mua->password, g_free);
	return FALSE;
}
