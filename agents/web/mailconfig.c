/* agents/web/mailconfig.c - autoconfig and Autodiscover documents, both ways.
 *
 * Generators write with g_markup_escape_text; parsers read with GLib's
 * GMarkupParseContext, walking the document against a table of element
 * paths ("clientConfig/emailProvider/incomingServer/port") so each format
 * is a list of rules, not a nest of ifs.  Formats: Thunderbird's "Autoconfig
 * file format" (clientConfig 1.1) and POX Autodiscover ([MS-OXDSCLI] 2.2).
 */
#include "agents/web/mailconfig.h"

#include <string.h>

G_DEFINE_QUARK(mailconfig-error-quark, mailconfig_error)

/* ---- names ---------------------------------------------------------------- */

static const char *const protocol_names[] = {
	[MAILCONFIG_PROTOCOL_IMAP] = "imap",
	[MAILCONFIG_PROTOCOL_POP3] = "pop3",
	[MAILCONFIG_PROTOCOL_SMTP] = "smtp",
};

const char *mailconfig_protocol_to_string(MailConfigProtocol p)
{
	return (guint)p < G_N_ELEMENTS(protocol_names) ? protocol_names[p] : "?";
}

static const char *const socket_names[] = {
	[MAILCONFIG_SOCKET_PLAIN]    = "plain",
	[MAILCONFIG_SOCKET_STARTTLS] = "STARTTLS",
	[MAILCONFIG_SOCKET_SSL]      = "SSL",
};

const char *mailconfig_socket_to_string(MailConfigSocket s)
{
	return (guint)s < G_N_ELEMENTS(socket_names) ? socket_names[s] : "?";
}

static const char *const auth_names[] = {
	[MAILCONFIG_AUTH_PASSWORD_CLEARTEXT] = "password-cleartext",
	[MAILCONFIG_AUTH_PASSWORD_ENCRYPTED] = "password-encrypted",
	[MAILCONFIG_AUTH_NTLM]               = "NTLM",
	[MAILCONFIG_AUTH_GSSAPI]             = "GSSAPI",
	[MAILCONFIG_AUTH_CLIENT_IP]          = "client-IP-address",
	[MAILCONFIG_AUTH_TLS_CLIENT_CERT]    = "TLS-client-cert",
	[MAILCONFIG_AUTH_OAUTH2]             = "OAuth2",
	[MAILCONFIG_AUTH_NONE]               = "none",
};

const char *mailconfig_auth_to_string(MailConfigAuth a)
{
	return (guint)a < G_N_ELEMENTS(auth_names) ? auth_names[a] : "?";
}

const char *mailconfig_error_to_string(MailConfigError e)
{
	switch (e) {
	case MAILCONFIG_ERROR_MALFORMED:   return "MALFORMED";
	case MAILCONFIG_ERROR_WRONG_ROOT:  return "WRONG_ROOT";
	case MAILCONFIG_ERROR_MISSING:     return "MISSING";
	case MAILCONFIG_ERROR_INVALID:     return "INVALID";
	case MAILCONFIG_ERROR_TOO_LARGE:   return "TOO_LARGE";
	case MAILCONFIG_ERROR_REDIRECT:    return "REDIRECT";
	case MAILCONFIG_ERROR_SERVER:      return "SERVER";
	case MAILCONFIG_ERROR_UNSUPPORTED: return "UNSUPPORTED";
	}
	return "?";
}

/* Look a word up in one of the name tables above; -1 if absent. */
static int name_lookup(const char *const *names, gsize n, const char *word, gboolean fold_case)
{
	for (gsize i = 0; i < n; i++) {
		if (names[i] && (fold_case ? g_ascii_strcasecmp(names[i], word)
		                           : strcmp(names[i], word)) == 0)
			return (int)i;
	}
	return -1;
}

/* ---- the settings ---------------------------------------------------------- */

static void server_free(gpointer data)
{
	MailConfigServer *s = data;
	g_free(s->hostname);
	g_free(s->username);
	g_free(s);
}

MailConfig *mailconfig_new(const char *id, const char *display_name)
{
	MailConfig *cfg = g_new0(MailConfig, 1);
	cfg->id = g_strdup(id);
	cfg->display_name = g_strdup(display_name);
	cfg->domains = g_ptr_array_new_with_free_func(g_free);
	cfg->incoming = g_ptr_array_new_with_free_func(server_free);
	cfg->outgoing = g_ptr_array_new_with_free_func(server_free);
	return cfg;
}

void mailconfig_free(MailConfig *cfg)
{
	if (!cfg)
		return;
	g_free(cfg->id);
	g_free(cfg->display_name);
	g_clear_pointer(&cfg->domains, g_ptr_array_unref);
	g_clear_pointer(&cfg->incoming, g_ptr_array_unref);
	g_clear_pointer(&cfg->outgoing, g_ptr_array_unref);
	g_free(cfg);
}

void mailconfig_add_domain(MailConfig *cfg, const char *domain)
{
	g_return_if_fail(cfg != NULL && domain != NULL);
	g_ptr_array_add(cfg->domains, g_strdup(domain));
}

MailConfigServer *mailconfig_add_server(MailConfig *cfg, MailConfigProtocol protocol,
                                        const char *hostname, guint16 port,
                                        MailConfigSocket socket, MailConfigAuth auth,
                                        const char *username)
{
	g_return_val_if_fail(cfg != NULL && hostname != NULL, NULL);
	MailConfigServer *s = g_new0(MailConfigServer, 1);
	s->protocol = protocol;
	s->hostname = g_strdup(hostname);
	s->port = port;
	s->socket = socket;
	s->auth = auth;
	s->username = g_strdup(username);
	g_ptr_array_add(protocol == MAILCONFIG_PROTOCOL_SMTP ? cfg->outgoing : cfg->incoming, s);
	return s;
}

/* ---- username templates ------------------------------------------------------ */

char *mailconfig_expand_template(const char *tmpl, const char *address)
{
	g_return_val_if_fail(tmpl != NULL && address != NULL, NULL);
	const char *at = strrchr(address, '@');
	g_autofree char *local = at ? g_strndup(address, at - address) : g_strdup(address);
	const char *domain = at ? at + 1 : "";
	/* Thunderbird's placeholders, upper case as it writes them. */
	const struct {
		const char *token;
		const char *value;
	} subst[] = {
		{ "%EMAILADDRESS%",   address },
		{ "%EMAILLOCALPART%", local },
		{ "%EMAILDOMAIN%",    domain },
	};

	GString *out = g_string_new(NULL);
	for (const char *c = tmpl; *c; ) {
		gsize i;
		for (i = 0; i < G_N_ELEMENTS(subst); i++)
			if (g_str_has_prefix(c, subst[i].token))
				break;
		if (i < G_N_ELEMENTS(subst)) {
			g_string_append(out, subst[i].value);
			c += strlen(subst[i].token);
		} else {
			g_string_append_c(out, *c++);
		}
	}
	return g_string_free(out, FALSE);
}

static void expand_servers(GPtrArray *servers, const char *address)
{
	for (guint i = 0; i < servers->len; i++) {
		MailConfigServer *s = g_ptr_array_index(servers, i);
		if (s->username) {
			char *u = mailconfig_expand_template(s->username, address);
			g_free(s->username);
			s->username = u;
		}
	}
}

void mailconfig_expand_usernames(MailConfig *cfg, const char *address)
{
	g_return_if_fail(cfg != NULL && address != NULL);
	expand_servers(cfg->incoming, address);
	expand_servers(cfg->outgoing, address);
}

/* ---- generators -------------------------------------------------------------- */

/* XML 1.0 cannot carry control characters even escaped, and
 * g_markup_escape_text wants UTF-8: check what we are asked to write. */
static gboolean is_writable(const char *s)
{
	if (!s)
		return TRUE;
	if (!g_utf8_validate(s, -1, NULL))
		return FALSE;
	for (const guchar *c = (const guchar *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return FALSE;
	return TRUE;
}

static gboolean servers_writable(const GPtrArray *servers)
{
	for (guint i = 0; i < servers->len; i++) {
		const MailConfigServer *s = g_ptr_array_index(servers, i);
		if (!s->hostname || !is_writable(s->hostname) || !is_writable(s->username) ||
		    (guint)s->protocol >= G_N_ELEMENTS(protocol_names) ||
		    (guint)s->socket >= G_N_ELEMENTS(socket_names) ||
		    (guint)s->auth >= G_N_ELEMENTS(auth_names))
			return FALSE;
	}
	return TRUE;
}

static gboolean config_writable(const MailConfig *cfg)
{
	if (!is_writable(cfg->id) || !is_writable(cfg->display_name))
		return FALSE;
	for (guint i = 0; i < cfg->domains->len; i++)
		if (!is_writable(g_ptr_array_index(cfg->domains, i)))
			return FALSE;
	return servers_writable(cfg->incoming) && servers_writable(cfg->outgoing);
}

/* <name>text</name> on a line of its own, text escaped; nothing for NULL. */
static void put_element(GString *out, int indent, const char *name, const char *text)
{
	if (!text)
		return;
	g_autofree char *escaped = g_markup_escape_text(text, -1);
	g_string_append_printf(out, "%*s<%s>%s</%s>\n", indent, "", name, escaped, name);
}

static void put_autoconfig_server(GString *out, const char *element, const MailConfigServer *s)
{
	g_autofree char *port = g_strdup_printf("%u", s->port);
	g_string_append_printf(out, "    <%s type=\"%s\">\n", element,
	                       mailconfig_protocol_to_string(s->protocol));
	put_element(out, 6, "hostname", s->hostname);
	put_element(out, 6, "port", port);
	put_element(out, 6, "socketType", mailconfig_socket_to_string(s->socket));
	put_element(out, 6, "authentication", mailconfig_auth_to_string(s->auth));
	put_element(out, 6, "username", s->username);
	g_string_append_printf(out, "    </%s>\n", element);
}

char *mailconfig_to_autoconfig_xml(const MailConfig *cfg)
{
	g_return_val_if_fail(cfg != NULL && config_writable(cfg), NULL);
	const char *id = cfg->id ? cfg->id
	               : cfg->domains->len ? g_ptr_array_index(cfg->domains, 0) : "";
	g_autofree char *id_escaped = g_markup_escape_text(id, -1);

	GString *out = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	g_string_append(out, "<clientConfig version=\"1.1\">\n");
	g_string_append_printf(out, "  <emailProvider id=\"%s\">\n", id_escaped);
	for (guint i = 0; i < cfg->domains->len; i++)
		put_element(out, 4, "domain", g_ptr_array_index(cfg->domains, i));
	put_element(out, 4, "displayName", cfg->display_name);
	for (guint i = 0; i < cfg->incoming->len; i++)
		put_autoconfig_server(out, "incomingServer", g_ptr_array_index(cfg->incoming, i));
	for (guint i = 0; i < cfg->outgoing->len; i++)
		put_autoconfig_server(out, "outgoingServer", g_ptr_array_index(cfg->outgoing, i));
	g_string_append(out, "  </emailProvider>\n</clientConfig>\n");
	return g_string_free(out, FALSE);
}

static void put_autodiscover_protocol(GString *out, const MailConfigServer *s, const char *address)
{
	static const char *const types[] = {
		[MAILCONFIG_PROTOCOL_IMAP] = "IMAP",
		[MAILCONFIG_PROTOCOL_POP3] = "POP3",
		[MAILCONFIG_PROTOCOL_SMTP] = "SMTP",
	};
	g_autofree char *port = g_strdup_printf("%u", s->port);
	g_autofree char *login = s->username ? mailconfig_expand_template(s->username, address) : NULL;

	g_string_append(out, "      <Protocol>\n");
	put_element(out, 8, "Type", types[s->protocol]);
	put_element(out, 8, "Server", s->hostname);
	put_element(out, 8, "Port", port);
	put_element(out, 8, "LoginName", login);
	/* SPA is Microsoft's name for NTLM */
	put_element(out, 8, "SPA", s->auth == MAILCONFIG_AUTH_NTLM ? "on" : "off");
	put_element(out, 8, "SSL", s->socket == MAILCONFIG_SOCKET_PLAIN ? "off" : "on");
	/* [MS-OXDSCLI] 2.2.4.1.1.2.4.1.20: Encryption overrides SSL; TLS means STARTTLS */
	if (s->socket == MAILCONFIG_SOCKET_STARTTLS)
		put_element(out, 8, "Encryption", "TLS");
	put_element(out, 8, "AuthRequired", s->auth == MAILCONFIG_AUTH_NONE ? "off" : "on");
	g_string_append(out, "      </Protocol>\n");
}

char *mailconfig_to_autodiscover_xml(const MailConfig *cfg, const char *address)
{
	g_return_val_if_fail(cfg != NULL && config_writable(cfg) && is_writable(address), NULL);
	GString *out = g_string_new("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
	g_string_append(out, "<Autodiscover xmlns=\"" MAILCONFIG_AUTODISCOVER_RESPONSE_NS "\">\n");
	g_string_append(out, "  <Response xmlns=\"" MAILCONFIG_AUTODISCOVER_OUTLOOK_NS "\">\n");
	g_string_append(out, "    <Account>\n");
	put_element(out, 6, "AccountType", "email");
	put_element(out, 6, "Action", "settings");
	for (guint i = 0; i < cfg->incoming->len; i++)
		put_autodiscover_protocol(out, g_ptr_array_index(cfg->incoming, i), address);
	for (guint i = 0; i < cfg->outgoing->len; i++)
		put_autodiscover_protocol(out, g_ptr_array_index(cfg->outgoing, i), address);
	g_string_append(out, "    </Account>\n  </Response>\n</Autodiscover>\n");
	return g_string_free(out, FALSE);
}

char *mailconfig_encode_autodiscover_request(const char *address)
{
	g_return_val_if_fail(address != NULL && is_writable(address), NULL);
	GString *out = g_string_new("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
	g_string_append(out, "<Autodiscover xmlns=\"" MAILCONFIG_AUTODISCOVER_REQUEST_NS "\">\n");
	g_string_append(out, "  <Request>\n");
	put_element(out, 4, "EMailAddress", address);
	put_element(out, 4, "AcceptableResponseSchema", MAILCONFIG_AUTODISCOVER_OUTLOOK_NS);
	g_string_append(out, "  </Request>\n</Autodiscover>\n");
	return g_string_free(out, FALSE);
}

/* ---- value checks ------------------------------------------------------------ */

/* Host names and domains: LDH labels (RFC 1123 2.1), '_' tolerated, or an
 * IPv4 literal, which is the same characters. */
static gboolean is_hostname(const char *s)
{
	gsize n = strlen(s);
	if (n == 0 || n > MAILCONFIG_MAX_HOSTNAME || s[0] == '.' || s[0] == '-')
		return FALSE;
	for (const char *c = s; *c; c++)
		if (!g_ascii_isalnum(*c) && *c != '.' && *c != '-' && *c != '_')
			return FALSE;
	return strstr(s, "..") == NULL;
}

/* A value we keep may end up in a protocol line (a username in IMAP LOGIN):
 * no controls at all, so nothing can smuggle a CRLF. */
static gboolean has_control(const char *s)
{
	for (const guchar *c = (const guchar *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return TRUE;
	return FALSE;
}

/* local@domain, one line, not absurdly long. */
static gboolean is_address(const char *s)
{
	const char *at = strrchr(s, '@');
	return strlen(s) <= MAILCONFIG_MAX_ADDRESS && at && at != s && !has_control(s) &&
	       !strchr(s, ' ') && is_hostname(at + 1);
}

/* A peer's text as an error message may quote it: escaped (no CR/LF reaches
 * a log line), cut to a readable length.  Newly allocated. */
static char *printable(const char *s)
{
	char *escaped = g_strescape(s, NULL);
	if (strlen(escaped) > 64)
		strcpy(escaped + 61, "...");
	return escaped;
}

/* ---- the walker: GMarkup events against a table of paths ------------------- */

typedef struct Walk Walk;

/* Called at an element's start tag with its attributes. */
typedef gboolean (*OpenFn)(Walk *w, const char **names, const char **values, GError **error);
/* Called at its end tag; text is its stripped text for leaf rules, else NULL. */
typedef gboolean (*CloseFn)(Walk *w, const char *text, GError **error);

typedef struct {
	const char *path;   /* local names from the root, joined by '/' */
	gboolean    leaf;   /* collect the element's text for close */
	OpenFn      open;
	CloseFn     close;
} Rule;

typedef struct {
	const char *root;   /* the one root element this format accepts */
	const Rule *rules;
	gsize       n_rules;
} Format;

/* A server element being read; unset fields are -1 / 0 / NULL. */
typedef struct {
	gboolean active;          /* inside a server element we will keep */
	int      protocol;        /* MailConfigProtocol or -1 */
	char    *hostname;
	guint    port;
	int      socket;          /* MailConfigSocket or -1 */
	int      auth;            /* MailConfigAuth or -1 */
	char    *username;
	/* Autodiscover says socket and auth in its own words */
	int      ssl, spa, auth_required;   /* on 1, off 0, unset -1 */
	int      encryption;                /* MailConfigSocket or -1 */
} Pending;

struct Walk {
	const Format *format;
	guint         depth;
	GString      *path;
	const Rule   *text_rule;   /* the leaf whose text is being collected */
	guint         text_depth;
	GString      *text;
	MailConfig   *cfg;
	Pending       server;
	guint         providers;   /* emailProvider elements seen */
	/* Autodiscover */
	char         *action;
	char         *redirect;
	char         *error_code;
	char         *error_message;
	/* Autodiscover request */
	char         *email;
	char         *schema;
};

static void pending_clear(Pending *p)
{
	g_clear_pointer(&p->hostname, g_free);
	g_clear_pointer(&p->username, g_free);
	*p = (Pending){ .protocol = -1, .socket = -1, .auth = -1,
	                .ssl = -1, .spa = -1, .auth_required = -1, .encryption = -1 };
}

static const char *local_name(const char *name)
{
	/* GMarkup knows no namespaces: "a:Server" and "Server" are both Server */
	const char *colon = strrchr(name, ':');
	return colon ? colon + 1 : name;
}

static const Rule *find_rule(const Walk *w)
{
	for (gsize i = 0; i < w->format->n_rules; i++)
		if (strcmp(w->format->rules[i].path, w->path->str) == 0)
			return &w->format->rules[i];
	return NULL;
}

static void on_start(GMarkupParseContext *ctx, const char *element, const char **names,
                     const char **values, gpointer user_data, GError **error)
{
	Walk *w = user_data;
	const char *name = local_name(element);

	if (++w->depth > MAILCONFIG_MAX_DEPTH) {
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_TOO_LARGE,
		            "elements nested deeper than %d", MAILCONFIG_MAX_DEPTH);
		return;
	}
	if (w->depth == 1 && strcmp(name, w->format->root) != 0) {
		g_autofree char *shown = printable(name);
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_WRONG_ROOT,
		            "root element is <%s>, not <%s>", shown, w->format->root);
		return;
	}
	if (w->depth > 1)
		g_string_append_c(w->path, '/');
	g_string_append(w->path, name);

	const Rule *r = find_rule(w);
	if (!r)
		return;
	if (r->leaf && !w->text_rule) {
		w->text_rule = r;
		w->text_depth = w->depth;
		g_string_truncate(w->text, 0);
	}
	if (r->open)
		r->open(w, names, values, error);
}

static void on_end(GMarkupParseContext *ctx, const char *element, gpointer user_data,
                   GError **error)
{
	Walk *w = user_data;
	const Rule *r = find_rule(w);

	if (r && r->close) {
		if (r->leaf && w->text_rule == r && w->text_depth == w->depth) {
			g_autofree char *text = g_strstrip(g_strndup(w->text->str, w->text->len));
			r->close(w, text, error);
		} else if (!r->leaf) {
			r->close(w, NULL, error);
		}
	}
	if (w->text_rule && w->text_depth == w->depth)
		w->text_rule = NULL;

	const char *slash = strrchr(w->path->str, '/');
	g_string_truncate(w->path, slash ? (gsize)(slash - w->path->str) : 0);
	w->depth--;
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len,
                    gpointer user_data, GError **error)
{
	Walk *w = user_data;
	/* only the leaf's own text, not that of elements inside it */
	if (!w->text_rule || w->depth != w->text_depth)
		return;
	if (w->text->len + len > MAILCONFIG_MAX_TEXT) {
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_TOO_LARGE,
		            "text of <%s> longer than %d bytes", w->text_rule->path, MAILCONFIG_MAX_TEXT);
		return;
	}
	g_string_append_len(w->text, text, len);
}

static const GMarkupParser walk_parser = {
	.start_element = on_start,
	.end_element = on_end,
	.text = on_text,
};

/* Run the walker over a whole document; FALSE with error if anything failed. */
static gboolean walk_document(Walk *w, const Format *format, const char *xml, gsize len,
                              GError **error)
{
	w->format = format;
	w->path = g_string_new(NULL);
	w->text = g_string_new(NULL);
	pending_clear(&w->server);

	if (len > MAILCONFIG_MAX_DOCUMENT) {
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_TOO_LARGE,
		            "document of %" G_GSIZE_FORMAT " bytes, limit %d", len, MAILCONFIG_MAX_DOCUMENT);
		return FALSE;
	}
	if (memchr(xml, '\0', len)) {
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_MALFORMED, "NUL byte in document");
		return FALSE;
	}
	/* We read UTF-8 only (what every autoconfig server sends).  Checking it
	 * here also keeps GMarkup off a path where invalid UTF-8 in a CDATA
	 * section sets an error and parses on (GLib 2.74), leaking the error. */
	const char *bad;
	if (!g_utf8_validate_len(xml, len, &bad)) {
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_MALFORMED,
		            "not UTF-8 at byte %" G_GSIZE_FORMAT, (gsize)(bad - xml));
		return FALSE;
	}
	/* a UTF-8 byte order mark is legal XML but GMarkup does not skip it */
	if (len >= 3 && memcmp(xml, "\xef\xbb\xbf", 3) == 0) {
		xml += 3;
		len -= 3;
	}

	GError *local = NULL;
	GMarkupParseContext *ctx = g_markup_parse_context_new(&walk_parser,
		G_MARKUP_TREAT_CDATA_AS_TEXT | G_MARKUP_PREFIX_ERROR_POSITION, w, NULL);
	gboolean ok = g_markup_parse_context_parse(ctx, xml, (gssize)len, &local) &&
	              g_markup_parse_context_end_parse(ctx, &local);
	g_markup_parse_context_free(ctx);
	if (ok)
		return TRUE;
	if (local->domain == MAILCONFIG_ERROR) {
		g_propagate_error(error, local);
	} else {
		/* GLib quotes the offending bytes, which need not be UTF-8 */
		g_autofree char *msg = g_utf8_make_valid(local->message, -1);
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_MALFORMED,
		            "not well-formed XML: %s", msg);
		g_error_free(local);
	}
	return FALSE;
}

static void walk_clear(Walk *w)
{
	if (w->path)
		g_string_free(w->path, TRUE);
	if (w->text)
		g_string_free(w->text, TRUE);
	pending_clear(&w->server);
	g_free(w->action);
	g_free(w->redirect);
	g_free(w->error_code);
	g_free(w->error_message);
	g_free(w->email);
	g_free(w->schema);
}

/* ---- rule actions shared by both formats ------------------------------------ */

static gboolean fail_invalid(GError **error, const char *what, const char *value)
{
	g_autofree char *shown = printable(value);
	g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_INVALID, "invalid %s \"%s\"",
	            what, shown);
	return FALSE;
}

/* Keep the first text of an element in *slot, refusing control characters. */
static gboolean keep_first(char **slot, const char *what, const char *text, GError **error)
{
	if (*slot)
		return TRUE;
	if (has_control(text))
		return fail_invalid(error, what, text);
	*slot = g_strdup(text);
	return TRUE;
}

static gboolean set_hostname(Walk *w, const char *text, GError **error)
{
	if (!w->server.active || w->server.hostname)
		return TRUE;
	if (!is_hostname(text))
		return fail_invalid(error, "hostname", text);
	w->server.hostname = g_strdup(text);
	return TRUE;
}

static gboolean set_port(Walk *w, const char *text, GError **error)
{
	if (!w->server.active || w->server.port)
		return TRUE;
	gsize n = strlen(text);
	/* 1*5DIGIT, then 1..65535: no signs, no spaces, no hex */
	if (n == 0 || n > 5 || strspn(text, "0123456789") != n)
		return fail_invalid(error, "port", text);
	guint port = (guint)g_ascii_strtoull(text, NULL, 10);
	if (port == 0 || port > G_MAXUINT16)
		return fail_invalid(error, "port", text);
	w->server.port = port;
	return TRUE;
}

static gboolean set_username(Walk *w, const char *text, GError **error)
{
	if (!w->server.active || !*text)
		return TRUE;
	return keep_first(&w->server.username, "username", text, error);
}

/* Move the pending server into the configuration if it is whole. */
static gboolean commit_server(Walk *w, const char *element, GError **error)
{
	Pending *p = &w->server;
	if (!p->active || p->protocol < 0) {
		pending_clear(p);
		return TRUE;
	}
	const char *kind = mailconfig_protocol_to_string(p->protocol);
	if (!p->hostname || !p->port || p->socket < 0) {
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_MISSING, "%s %s without %s",
		            element, kind, !p->hostname ? "hostname" : !p->port ? "port" : "socketType");
		return FALSE;
	}
	GPtrArray *list = p->protocol == MAILCONFIG_PROTOCOL_SMTP ? w->cfg->outgoing : w->cfg->incoming;
	if (list->len >= MAILCONFIG_MAX_SERVERS) {
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_TOO_LARGE,
		            "more than %d %s servers", MAILCONFIG_MAX_SERVERS,
		            list == w->cfg->outgoing ? "outgoing" : "incoming");
		return FALSE;
	}
	mailconfig_add_server(w->cfg, p->protocol, p->hostname, (guint16)p->port, p->socket,
	                      p->auth >= 0 ? p->auth : MAILCONFIG_AUTH_PASSWORD_CLEARTEXT,
	                      p->username);
	pending_clear(p);
	return TRUE;
}

/* What every parser checks last. */
static gboolean check_complete(const MailConfig *cfg, GError **error)
{
	if (cfg->incoming->len == 0 || cfg->outgoing->len == 0) {
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_MISSING, "no %s server",
		            cfg->incoming->len == 0 ? "incoming (IMAP or POP3)" : "outgoing (SMTP)");
		return FALSE;
	}
	return TRUE;
}

/* ---- autoconfig: clientConfig 1.1 ------------------------------------------ */

/* Thunderbird reads the first emailProvider; so do we. */
static gboolean in_first_provider(const Walk *w)
{
	return w->providers == 1;
}

static gboolean ac_provider_open(Walk *w, const char **names, const char **values, GError **error)
{
	if (++w->providers != 1)
		return TRUE;
	const char *id = NULL;
	for (gsize i = 0; names[i]; i++)
		if (strcmp(local_name(names[i]), "id") == 0)
			id = values[i];
	if (id)
		return keep_first(&w->cfg->id, "emailProvider id", id, error);
	return TRUE;
}

static gboolean ac_domain(Walk *w, const char *text, GError **error)
{
	if (!in_first_provider(w))
		return TRUE;
	if (!is_hostname(text))
		return fail_invalid(error, "domain", text);
	if (w->cfg->domains->len >= MAILCONFIG_MAX_DOMAINS) {
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_TOO_LARGE,
		            "more than %d domains", MAILCONFIG_MAX_DOMAINS);
		return FALSE;
	}
	mailconfig_add_domain(w->cfg, text);
	return TRUE;
}

static gboolean ac_display_name(Walk *w, const char *text, GError **error)
{
	if (!in_first_provider(w) || !*text)
		return TRUE;
	return keep_first(&w->cfg->display_name, "displayName", text, error);
}

/* <incomingServer type="imap"> / <outgoingServer type="smtp"> */
static gboolean ac_server_open(Walk *w, const char **names, const char **values,
                               gboolean outgoing, GError **error)
{
	pending_clear(&w->server);
	if (!in_first_provider(w))
		return TRUE;
	const char *type = NULL;
	for (gsize i = 0; names[i]; i++)
		if (strcmp(local_name(names[i]), "type") == 0)
			type = values[i];
	int protocol = type ? name_lookup(protocol_names, G_N_ELEMENTS(protocol_names), type, FALSE) : -1;
	/* an incoming smtp or an outgoing imap is as unknown as "exchange" */
	if (protocol < 0 || (protocol == MAILCONFIG_PROTOCOL_SMTP) != outgoing)
		return TRUE;
	w->server.active = TRUE;
	w->server.protocol = protocol;
	return TRUE;
}

static gboolean ac_incoming_open(Walk *w, const char **n, const char **v, GError **error)
{
	return ac_server_open(w, n, v, FALSE, error);
}

static gboolean ac_outgoing_open(Walk *w, const char **n, const char **v, GError **error)
{
	return ac_server_open(w, n, v, TRUE, error);
}

static gboolean ac_incoming_close(Walk *w, const char *text, GError **error)
{
	return commit_server(w, "incomingServer", error);
}

static gboolean ac_outgoing_close(Walk *w, const char *text, GError **error)
{
	return commit_server(w, "outgoingServer", error);
}

static gboolean ac_socket_type(Walk *w, const char *text, GError **error)
{
	if (!w->server.active || w->server.socket >= 0)
		return TRUE;
	int s = name_lookup(socket_names, G_N_ELEMENTS(socket_names), text, FALSE);
	if (s < 0)
		return fail_invalid(error, "socketType", text);
	w->server.socket = s;
	return TRUE;
}

/* Several <authentication> may be listed; the first one we know counts. */
static gboolean ac_authentication(Walk *w, const char *text, GError **error)
{
	if (!w->server.active || w->server.auth >= 0)
		return TRUE;
	int a = name_lookup(auth_names, G_N_ELEMENTS(auth_names), text, FALSE);
	/* the format's older spellings */
	if (strcmp(text, "plain") == 0)
		a = MAILCONFIG_AUTH_PASSWORD_CLEARTEXT;
	else if (strcmp(text, "secure") == 0)
		a = MAILCONFIG_AUTH_PASSWORD_ENCRYPTED;
	if (a >= 0)
		w->server.auth = a;
	return TRUE;
}

#define AC_IN  "clientConfig/emailProvider/incomingServer"
#define AC_OUT "clientConfig/emailProvider/outgoingServer"

static const Rule autoconfig_rules[] = {
	{ "clientConfig/emailProvider",             FALSE, ac_provider_open, NULL },
	{ "clientConfig/emailProvider/domain",      TRUE,  NULL, ac_domain },
	{ "clientConfig/emailProvider/displayName", TRUE,  NULL, ac_display_name },
	{ AC_IN,                                    FALSE, ac_incoming_open, ac_incoming_close },
	{ AC_IN "/hostname",                        TRUE,  NULL, set_hostname },
	{ AC_IN "/port",                            TRUE,  NULL, set_port },
	{ AC_IN "/socketType",                      TRUE,  NULL, ac_socket_type },
	{ AC_IN "/authentication",                  TRUE,  NULL, ac_authentication },
	{ AC_IN "/username",                        TRUE,  NULL, set_username },
	{ AC_OUT,                                   FALSE, ac_outgoing_open, ac_outgoing_close },
	{ AC_OUT "/hostname",                       TRUE,  NULL, set_hostname },
	{ AC_OUT "/port",                           TRUE,  NULL, set_port },
	{ AC_OUT "/socketType",                     TRUE,  NULL, ac_socket_type },
	{ AC_OUT "/authentication",                 TRUE,  NULL, ac_authentication },
	{ AC_OUT "/username",                       TRUE,  NULL, set_username },
};

static const Format autoconfig_format = {
	"clientConfig", autoconfig_rules, G_N_ELEMENTS(autoconfig_rules)
};

MailConfig *mailconfig_parse_autoconfig_xml(const char *xml, gsize len, GError **error)
{
	g_return_val_if_fail(xml != NULL || len == 0, NULL);
	Walk w = { .cfg = mailconfig_new(NULL, NULL) };
	gboolean ok = walk_document(&w, &autoconfig_format, xml, len, error) &&
	              check_complete(w.cfg, error);
	walk_clear(&w);
	if (!ok) {
		mailconfig_free(w.cfg);
		return NULL;
	}
	return w.cfg;
}

/* ---- Autodiscover: the POX response ([MS-OXDSCLI] 2.2.4) -------------------- */

/* on/off, as Autodiscover spells its booleans */
static gboolean parse_on_off(const char *what, const char *text, int *slot, GError **error)
{
	if (*slot >= 0)
		return TRUE;
	if (g_ascii_strcasecmp(text, "on") == 0)
		*slot = 1;
	else if (g_ascii_strcasecmp(text, "off") == 0)
		*slot = 0;
	else
		return fail_invalid(error, what, text);
	return TRUE;
}

static gboolean ad_protocol_open(Walk *w, const char **n, const char **v, GError **error)
{
	pending_clear(&w->server);
	w->server.active = TRUE;
	return TRUE;
}

static gboolean ad_type(Walk *w, const char *text, GError **error)
{
	static const char *const types[] = {
		[MAILCONFIG_PROTOCOL_IMAP] = "IMAP",
		[MAILCONFIG_PROTOCOL_POP3] = "POP3",
		[MAILCONFIG_PROTOCOL_SMTP] = "SMTP",
	};
	if (w->server.protocol >= 0)
		return TRUE;
	int p = name_lookup(types, G_N_ELEMENTS(types), text, TRUE);
	/* EXCH, EXPR, WEB: Exchange's own protocols, not ours */
	if (p < 0)
		w->server.active = FALSE;
	w->server.protocol = p;
	return TRUE;
}

static gboolean ad_spa(Walk *w, const char *text, GError **error)
{
	return !w->server.active || parse_on_off("SPA", text, &w->server.spa, error);
}

static gboolean ad_ssl(Walk *w, const char *text, GError **error)
{
	return !w->server.active || parse_on_off("SSL", text, &w->server.ssl, error);
}

static gboolean ad_auth_required(Walk *w, const char *text, GError **error)
{
	return !w->server.active || parse_on_off("AuthRequired", text, &w->server.auth_required, error);
}

static gboolean ad_encryption(Walk *w, const char *text, GError **error)
{
	static const struct {
		const char *word;
		int         socket;   /* -1: fall back to SSL */
	} table[] = {
		{ "None", MAILCONFIG_SOCKET_PLAIN },
		{ "SSL",  MAILCONFIG_SOCKET_SSL },
		{ "TLS",  MAILCONFIG_SOCKET_STARTTLS },
		{ "Auto", -1 },
	};
	if (!w->server.active || w->server.encryption >= 0)
		return TRUE;
	for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {
		if (g_ascii_strcasecmp(table[i].word, text) == 0) {
			w->server.encryption = table[i].socket;
			return TRUE;
		}
	}
	return fail_invalid(error, "Encryption", text);
}

static gboolean ad_protocol_close(Walk *w, const char *text, GError **error)
{
	Pending *p = &w->server;
	if (p->active) {
		/* Encryption overrides SSL; SSL absent means on ([MS-OXDSCLI] 2.2.4.1.1.2.4.1.32) */
		p->socket = p->encryption >= 0 ? p->encryption
		          : p->ssl == 0 ? MAILCONFIG_SOCKET_PLAIN : MAILCONFIG_SOCKET_SSL;
		p->auth = p->auth_required == 0 ? MAILCONFIG_AUTH_NONE
		        : p->spa == 1 ? MAILCONFIG_AUTH_NTLM : MAILCONFIG_AUTH_PASSWORD_CLEARTEXT;
	}
	return commit_server(w, "Protocol", error);
}

static gboolean ad_action(Walk *w, const char *text, GError **error)
{
	return keep_first(&w->action, "Action", text, error);
}

static gboolean ad_redirect(Walk *w, const char *text, GError **error)
{
	return keep_first(&w->redirect, "redirect", text, error);
}

static gboolean ad_error_code(Walk *w, const char *text, GError **error)
{
	return keep_first(&w->error_code, "ErrorCode", text, error);
}

static gboolean ad_error_message(Walk *w, const char *text, GError **error)
{
	return keep_first(&w->error_message, "Message", text, error);
}

static gboolean ad_error_close(Walk *w, const char *text, GError **error)
{
	g_autofree char *code = printable(w->error_code ? w->error_code : "?");
	g_autofree char *msg = printable(w->error_message ? w->error_message : "(no message)");
	g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_SERVER,
	            "Autodiscover error %s: %s", code, msg);
	return FALSE;
}

#define AD_ACCOUNT "Autodiscover/Response/Account"
#define AD_PROTO   AD_ACCOUNT "/Protocol"

static const Rule autodiscover_rules[] = {
	{ "Autodiscover/Response/Error",           FALSE, NULL, ad_error_close },
	{ "Autodiscover/Response/Error/ErrorCode", TRUE,  NULL, ad_error_code },
	{ "Autodiscover/Response/Error/Message",   TRUE,  NULL, ad_error_message },
	{ AD_ACCOUNT "/Action",                    TRUE,  NULL, ad_action },
	{ AD_ACCOUNT "/RedirectAddr",              TRUE,  NULL, ad_redirect },
	{ AD_ACCOUNT "/RedirectUrl",               TRUE,  NULL, ad_redirect },
	{ AD_PROTO,                                FALSE, ad_protocol_open, ad_protocol_close },
	{ AD_PROTO "/Type",                        TRUE,  NULL, ad_type },
	{ AD_PROTO "/Server",                      TRUE,  NULL, set_hostname },
	{ AD_PROTO "/Port",                        TRUE,  NULL, set_port },
	{ AD_PROTO "/LoginName",                   TRUE,  NULL, set_username },
	{ AD_PROTO "/SPA",                         TRUE,  NULL, ad_spa },
	{ AD_PROTO "/SSL",                         TRUE,  NULL, ad_ssl },
	{ AD_PROTO "/AuthRequired",                TRUE,  NULL, ad_auth_required },
	{ AD_PROTO "/Encryption",                  TRUE,  NULL, ad_encryption },
};

static const Format autodiscover_format = {
	"Autodiscover", autodiscover_rules, G_N_ELEMENTS(autodiscover_rules)
};

/* After the walk: was it settings, or a pointer elsewhere? */
static gboolean ad_check_action(const Walk *w, GError **error)
{
	if (!w->action || g_ascii_strcasecmp(w->action, "settings") == 0)
		return TRUE;
	if (g_ascii_strcasecmp(w->action, "redirectAddr") == 0 ||
	    g_ascii_strcasecmp(w->action, "redirectUrl") == 0) {
		/* the whole target, unescaped: the caller may follow it */
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_REDIRECT, "%s %s",
		            w->action, w->redirect ? w->redirect : "(nowhere)");
		return FALSE;
	}
	return fail_invalid(error, "Action", w->action);
}

MailConfig *mailconfig_parse_autodiscover_xml(const char *xml, gsize len, GError **error)
{
	g_return_val_if_fail(xml != NULL || len == 0, NULL);
	Walk w = { .cfg = mailconfig_new(NULL, NULL) };
	gboolean ok = walk_document(&w, &autodiscover_format, xml, len, error) &&
	              ad_check_action(&w, error) &&
	              check_complete(w.cfg, error);
	walk_clear(&w);
	if (!ok) {
		mailconfig_free(w.cfg);
		return NULL;
	}
	return w.cfg;
}

/* ---- Autodiscover: the request ([MS-OXDSCLI] 2.2.3) ------------------------- */

static gboolean adr_email(Walk *w, const char *text, GError **error)
{
	return keep_first(&w->email, "EMailAddress", text, error);
}

static gboolean adr_schema(Walk *w, const char *text, GError **error)
{
	return keep_first(&w->schema, "AcceptableResponseSchema", text, error);
}

static const Rule request_rules[] = {
	{ "Autodiscover/Request/EMailAddress",             TRUE, NULL, adr_email },
	{ "Autodiscover/Request/AcceptableResponseSchema", TRUE, NULL, adr_schema },
};

static const Format request_format = {
	"Autodiscover", request_rules, G_N_ELEMENTS(request_rules)
};

char *mailconfig_parse_autodiscover_request(const char *xml, gsize len, GError **error)
{
	g_return_val_if_fail(xml != NULL || len == 0, NULL);
	Walk w = { .cfg = NULL };
	char *email = NULL;

	if (!walk_document(&w, &request_format, xml, len, error))
		goto out;
	if (!w.email) {
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_MISSING, "no EMailAddress");
		goto out;
	}
	if (!is_address(w.email)) {
		fail_invalid(error, "EMailAddress", w.email);
		goto out;
	}
	if (w.schema && strcmp(w.schema, MAILCONFIG_AUTODISCOVER_OUTLOOK_NS) != 0) {
		g_autofree char *shown = printable(w.schema);
		g_set_error(error, MAILCONFIG_ERROR, MAILCONFIG_ERROR_UNSUPPORTED,
		            "response schema %s not served", shown);
		goto out;
	}
	email = g_steal_pointer(&w.email);
out:
	walk_clear(&w);
	return email;
}
