/* sim/world.c - from a parsed scenario to running agents.
 *
 * The settings of an "on HOST:" block are read here against one table of
 * known names (Postfix's where Postfix has one), so a typo is an error with
 * the teacher's file, line and column rather than a silent default.
 */
#include "sim/world.h"
#include "sim/builtin.h"
#include "agents/mda/accounts.h"
#include "agents/mda/maildir.h"
#include "agents/mra/mra.h"
#include "agents/mua/mua.h"
#include "agents/web/web.h"
#include "net/realnet.h"

#include <string.h>

typedef struct {
	const ScenarioHost *h;
	MsHost    *host;         /* on the simulated network; NULL in lab mode */
	MsStack   *stack;        /* the host's own stack; NULL for a host not built here */
	char      *state_dir;
	DnsServer *dns;
	Mta       *mta;
	Mda       *mda;
	MsStack   *mda_stack;
	Mra       *mra;
	MsStack   *mra_stack;
	WebServer *web;
	MsStack   *web_stack;
} Node;

typedef struct {
	const ScenarioClient *c;
	Mua     *mua;
	MsStack *stack;
} Client;

struct MsWorld {
	const Scenario *scn;
	MsSched   *sched;
	MsNet     *net;
	char      *state_dir;
	GPtrArray *nodes;        /* Node*, in the scenario's host order */
	const char *dns_address, *dns_name;
	MsDnsDirectory *dns;     /* which server answers which zone, for every resolver */
	GPtrArray *clients;      /* Client* */
	GHashTable *node_index;  /* host name (any case) -> Node*, for worlds of thousands */
	GHashTable *client_index;  /* client name (any case) -> Client* */
	/* lab mode (ms_world_new_host): only one host, on real sockets */
	const char *only_host;   /* NULL: every host, on the simulated network */
	GTlsCertificate *tls_cert;
	gboolean   plaintext_auth;
	gboolean   fsync_default;
	guint64    seed;         /* queue ids, Maildir names */
	gint64     epoch_us;     /* Unix time of scheduler time 0 */
};

/* ---- settings ---------------------------------------------------------- */

typedef enum { SET_STRING, SET_DURATION, SET_SIZE, SET_BOOL, SET_NUMBER } SettingType;

static const struct {
	const char  *name;
	SettingType  type;
	const char  *what;   /* for the teacher reading an error */
} known_settings[] = {
	{ "myhostname", SET_STRING, "the name the MTA greets with" },
	{ "mydestination", SET_STRING, "domains delivered here" },
	{ "mynetworks", SET_STRING, "trusted client networks" },
	{ "relay_domains", SET_STRING, "domains accepted to pass on (a backup MX)" },
	{ "smtpd_recipient_restrictions", SET_STRING, "the RCPT policy on port 25" },
	{ "submission_recipient_restrictions", SET_STRING, "the RCPT policy on port 587 (mailsim)" },
	{ "message_size_limit", SET_NUMBER, "largest message in bytes" },
	{ "smtpd_client_connection_count_limit", SET_NUMBER, "SMTP sessions at once from one client (0: no limit)" },
	{ "smtpd_client_connection_rate_limit", SET_NUMBER, "SMTP connections a minute from one client (0: no limit)" },
	{ "smtpd_client_event_limit_exceptions", SET_STRING, "clients spared those limits ($mynetworks)" },
	{ "smtpd_timeout", SET_DURATION, "how long the SMTP server waits for a client" },
	{ "minimal_backoff_time", SET_DURATION, "first retry delay" },
	{ "maximal_backoff_time", SET_DURATION, "longest retry delay" },
	{ "maximal_queue_lifetime", SET_DURATION, "when a deferred message bounces" },
	{ "fsync", SET_BOOL, "sync files before acknowledging (mailsim)" },
	{ "spam_threshold", SET_NUMBER, "X-Spam score that files into Junk (mailsim)" },
	{ "dns_cache", SET_BOOL, "keep DNS answers for their TTL, as a caching resolver (mailsim)" },
	{ "password_hash_rounds", SET_NUMBER, "SHA-512 crypt rounds of the users' passwords (mailsim)" },
};

static const ScenarioSetting *find_setting_entry(const Scenario *scn, const char *host, const char *name)
{
	for (guint i = 0; i < scn->settings->len; i++) {
		const ScenarioSetting *s = g_ptr_array_index(scn->settings, i);
		if (!g_ascii_strcasecmp(s->host, host) && !g_ascii_strcasecmp(s->name, name))
			return s;
	}
	return NULL;
}

static gboolean check_settings(const Scenario *scn, GError **error)
{
	GString *errs = g_string_new(NULL);
	for (guint i = 0; i < scn->settings->len; i++) {
		const ScenarioSetting *s = g_ptr_array_index(scn->settings, i);
		int k = -1;
		for (guint j = 0; j < G_N_ELEMENTS(known_settings); j++)
			if (!g_ascii_strcasecmp(known_settings[j].name, s->name))
				k = (int)j;
		if (k < 0) {
			g_string_append_printf(errs, "%s:%u:%u: unknown setting \"%s\"\nhint: mailsim knows:",
			                       scn->filename, s->line, s->column, s->name);
			for (guint j = 0; j < G_N_ELEMENTS(known_settings); j++)
				g_string_append_printf(errs, " %s", known_settings[j].name);
			g_string_append_c(errs, '\n');
			continue;
		}
		gint64 d;
		guint64 n;
		gboolean ok = TRUE;
		switch (known_settings[k].type) {
		case SET_DURATION: ok = scenario_parse_duration(s->value, &d); break;
		case SET_SIZE: ok = scenario_parse_size(s->value, &n); break;
		case SET_NUMBER: ok = g_ascii_string_to_unsigned(s->value, 10, 0, G_MAXUINT64, &n, NULL) ||
		                      g_ascii_strtod(s->value, NULL) > 0; break;
		case SET_BOOL: ok = !g_ascii_strcasecmp(s->value, "yes") || !g_ascii_strcasecmp(s->value, "no"); break;
		case SET_STRING: break;
		}
		if (!ok)
			g_string_append_printf(errs, "%s:%u:%u: %s wants %s, got \"%s\"\n", scn->filename, s->line,
			                       s->column, s->name,
			                       known_settings[k].type == SET_DURATION ? "a duration like 30m or 4h"
			                       : known_settings[k].type == SET_BOOL ? "yes or no" : "a number",
			                       s->value);
	}
	if (errs->len) {
		g_string_truncate(errs, errs->len - 1);
		g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_INVALID, "%s", errs->str);
		g_string_free(errs, TRUE);
		return FALSE;
	}
	g_string_free(errs, TRUE);
	return TRUE;
}

static const char *setting(const Scenario *scn, const char *host, const char *name)
{
	return scenario_find_setting(scn, host, name);
}

static gint64 setting_duration(const Scenario *scn, const char *host, const char *name)
{
	gint64 d = 0;
	const char *v = setting(scn, host, name);
	return v && scenario_parse_duration(v, &d) ? d : 0;
}

static guint64 setting_number(const Scenario *scn, const char *host, const char *name, guint64 dflt)
{
	const char *v = setting(scn, host, name);
	return v ? g_ascii_strtoull(v, NULL, 10) : dflt;
}

static gboolean setting_bool(const Scenario *scn, const char *host, const char *name, gboolean dflt)
{
	const char *v = setting(scn, host, name);
	return v ? !g_ascii_strcasecmp(v, "yes") : dflt;
}

/* A Postfix limit: a count, 0 for none. */
static guint setting_limit(const char *v)
{
	guint64 n = g_ascii_strtoull(v, NULL, 10);
	return n == 0 || n >= MTA_NO_LIMIT ? MTA_NO_LIMIT : (guint)n;
}

/* ---- building ---------------------------------------------------------- */

static Node *node_for(MsWorld *w, const char *host)
{
	return g_hash_table_lookup(w->node_index, host);
}

/* An agent's own face on its host, such as "mda@mx.example.org": an alias
 * on the simulated network, a real stack at the host's address in lab
 * mode.  A new reference. */
static MsStack *node_alias(MsWorld *w, Node *n, const char *name)
{
	if (n->host)
		return ms_host_stack_alias(n->host, name);
	return ms_realnet_stack_new(w->sched, name, n->h->address);
}

static void node_free(Node *n)
{
	mta_free(n->mta);
	mda_free(n->mda);
	mra_free(n->mra);
	web_free(n->web);
	if (n->mra_stack)
		ms_stack_unref(n->mra_stack);
	if (n->web_stack)
		ms_stack_unref(n->web_stack);
	dns_server_free(n->dns);
	if (n->mda_stack)
		ms_stack_unref(n->mda_stack);
	if (n->stack)
		ms_stack_unref(n->stack);
	g_free(n->state_dir);
	g_free(n);
}

static gboolean prefix_error(GError **error, const Scenario *scn, guint line)
{
	if (error && *error)
		g_prefix_error(error, "%s:%u: ", scn->filename, line);
	return FALSE;
}

static gboolean build_dns(MsWorld *w, GError **error)
{
	const Scenario *scn = w->scn;
	for (guint i = 0; i < w->nodes->len; i++) {
		Node *n = g_ptr_array_index(w->nodes, i);
		if (!(n->h->roles & SCENARIO_ROLE_DNS))
			continue;
		if (!w->dns_address) {
			w->dns_address = n->h->address;
			w->dns_name = n->h->name;
		}
		if (!n->stack)
			continue;   /* lab mode: another process serves it */
		n->dns = dns_server_new(n->stack, n->h->name);
		for (guint z = 0; z < scn->zones->len; z++) {
			const ScenarioZone *zone = g_ptr_array_index(scn->zones, z);
			if (zone->server && g_ascii_strcasecmp(zone->server, n->h->name))
				continue;
			/* dns_zone_parse names the file and line in its errors */
			if (!dns_server_add_zone_text(n->dns, zone->origin, zone->text, scn->filename,
			                              zone->text_line, error))
				return FALSE;
		}
		for (guint b = 0; b < scn->dnsbl->len; b++) {
			const ScenarioDnsblEntry *e = g_ptr_array_index(scn->dnsbl, b);
			if (e->server && g_ascii_strcasecmp(e->server, n->h->name))
				continue;
			Dnsbl *list = dns_server_dnsbl(n->dns, e->zone);
			if (!list) {
				list = dnsbl_new(e->zone, error);
				if (!list)
					return prefix_error(error, scn, e->line);
				dns_server_add_dnsbl(n->dns, list);
			}
			if (!dnsbl_add(list, e->listed, e->code, e->reason, error))
				return prefix_error(error, scn, e->line);
		}
	}
	return TRUE;
}

/* The domains whose mail a host's MTA delivers locally. */
static char *local_domains(const Scenario *scn, const char *host)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < scn->domains->len; i++) {
		const ScenarioDomain *d = g_ptr_array_index(scn->domains, i);
		if (!g_ascii_strcasecmp(d->host, host))
			g_string_append_printf(s, "%s%s", s->len ? " " : "", d->name);
	}
	return g_string_free(s, FALSE);
}

/* Every agent's resolver knows which host serves which zone, as a
 * resolver's stub zones would: the blacklist is asked on its own server. */
static void build_directory(MsWorld *w)
{
	const Scenario *scn = w->scn;
	w->dns = ms_dns_directory_new(w->dns_address ? w->dns_address : "127.0.0.1", DNS_SERVER_PORT, w->dns_name);
	for (guint z = 0; z < scn->zones->len; z++) {
		const ScenarioZone *zone = g_ptr_array_index(scn->zones, z);
		Node *n = zone->server ? node_for(w, zone->server) : NULL;
		if (n)
			ms_dns_directory_add(w->dns, zone->origin, n->h->address, n->h->name);
	}
	for (guint b = 0; b < scn->dnsbl->len; b++) {
		const ScenarioDnsblEntry *e = g_ptr_array_index(scn->dnsbl, b);
		Node *n = e->server ? node_for(w, e->server) : NULL;
		if (n)
			ms_dns_directory_add(w->dns, e->zone, n->h->address, n->h->name);
	}
}

/* Lab mode keeps its state directory from one run to the next: the
 * accounts a scenario makes may be there already, which is no error.
 * Clears *error and returns TRUE then. */
static gboolean kept_from_last_time(MsWorld *w, GError **error)
{
	if (!w->only_host || !error || !*error || !g_error_matches(*error, ACCOUNTS_ERROR, ACCOUNTS_ERROR_EXISTS))
		return FALSE;
	g_clear_error(error);
	return TRUE;
}

static gboolean build_mail(MsWorld *w, GError **error)
{
	const Scenario *scn = w->scn;
	for (guint i = 0; i < w->nodes->len; i++) {
		Node *n = g_ptr_array_index(w->nodes, i);
		const char *name = n->h->name;
		if (!n->stack)
			continue;
		gboolean fsync = setting_bool(scn, name, "fsync", w->fsync_default);
		if (n->h->roles & SCENARIO_ROLE_MDA) {
			g_autofree char *alias = g_strdup_printf("mda@%s", name);
			n->mda_stack = node_alias(w, n, alias);
			const char *thr = setting(scn, name, "spam_threshold");
			MdaConfig mc = {
				.hostname = name, .state_dir = n->state_dir, .fsync = fsync,
				.spam_threshold = thr ? g_ascii_strtod(thr, NULL) : 0,
				.seed = w->seed, .epoch_us = w->epoch_us,
				.hash_rounds = (guint)setting_number(scn, name, "password_hash_rounds", 0),
				.private_db = w->net != NULL,   /* simulated: this process is the only user */
			};
			n->mda = mda_new(n->mda_stack, &mc, error);
			if (!n->mda)
				return prefix_error(error, scn, n->h->line);
		}
		if (n->h->roles & SCENARIO_ROLE_MTA) {
			g_autofree char *domains = local_domains(scn, name);
			g_autofree char *mynetworks = g_strdup_printf("127.0.0.0/8 %s/32", n->h->address);
			const char *size = setting(scn, name, "message_size_limit");
			const char *count = setting(scn, name, "smtpd_client_connection_count_limit");
			const char *rate = setting(scn, name, "smtpd_client_connection_rate_limit");
			g_autofree char *mda_name = g_strdup_printf("mda@%s", name);
			MtaConfig mc = {
				.hostname = setting(scn, name, "myhostname") ? setting(scn, name, "myhostname") : name,
				.state_dir = n->state_dir, .fsync = fsync,
				.submission_port = MTA_SUBMISSION_PORT,
				.tls_cert = w->tls_cert, .auth_needs_tls = w->tls_cert && !w->plaintext_auth,
				.smtps_port = w->tls_cert ? MS_WORLD_SMTPS_PORT : 0,
				.mydestination = setting(scn, name, "mydestination") ? setting(scn, name, "mydestination") : domains,
				.mynetworks = setting(scn, name, "mynetworks") ? setting(scn, name, "mynetworks") : mynetworks,
				.relay_domains = setting(scn, name, "relay_domains"),
				.smtpd_recipient_restrictions = setting(scn, name, "smtpd_recipient_restrictions"),
				.submission_recipient_restrictions = setting(scn, name, "submission_recipient_restrictions"),
				.dns = w->dns, .dns_cache = setting_bool(scn, name, "dns_cache", FALSE),
				.mda_address = n->h->address, .mda_name = mda_name,
				.retry_min = setting_duration(scn, name, "minimal_backoff_time"),
				.retry_max = setting_duration(scn, name, "maximal_backoff_time"),
				.queue_lifetime = setting_duration(scn, name, "maximal_queue_lifetime"),
				.epoch_us = w->epoch_us, .seed = w->seed,
				.message_size_limit = size ? g_ascii_strtoull(size, NULL, 10) : 0,
				.client_connection_count_limit = !count ? 0 : setting_limit(count),
				.client_connection_rate_limit = !rate ? 0 : setting_limit(rate),
				.client_event_limit_exceptions = setting(scn, name, "smtpd_client_event_limit_exceptions"),
				.smtpd_timeout = setting_duration(scn, name, "smtpd_timeout"),
			};
			n->mta = mta_new(n->stack, &mc, error);
			if (!n->mta) {
				const ScenarioSetting *s = find_setting_entry(scn, name, "smtpd_recipient_restrictions");
				return prefix_error(error, scn, s ? s->line : n->h->line);
			}
		}
	}

	for (guint i = 0; i < w->nodes->len; i++) {
		Node *n = g_ptr_array_index(w->nodes, i);
		const char *name = n->h->name;
		if (!n->stack)
			continue;
		if (n->h->roles & SCENARIO_ROLE_MRA) {
			g_autofree char *alias = g_strdup_printf("mra@%s", name);
			n->mra_stack = node_alias(w, n, alias);
			MraConfig rc = { .hostname = name, .state_dir = n->state_dir,
			                 .authsvc_address = n->h->address,
			                 .fsync = setting_bool(scn, name, "fsync", w->fsync_default),
			                 .seed = w->seed, .epoch_us = w->epoch_us,
			                 .tls_cert = w->tls_cert, .login_needs_tls = w->tls_cert && !w->plaintext_auth,
			                 .imaps_port = w->tls_cert ? MS_WORLD_IMAPS_PORT : 0,
			                 .pop3s_port = w->tls_cert ? MS_WORLD_POP3S_PORT : 0,
			                 /* simulated: one process plays every host */
			                 .no_change_watch = w->net != NULL };
			n->mra = mra_new(n->mra_stack, &rc, error);
			if (!n->mra)
				return prefix_error(error, scn, n->h->line);
		}
		if (n->h->roles & SCENARIO_ROLE_WEB) {
			g_autofree char *alias = g_strdup_printf("web@%s", name);
			n->web_stack = node_alias(w, n, alias);
			WebConfig wc = { .hostname = name, .epoch_us = w->epoch_us };
			/* where passwords need TLS, the settings files say STARTTLS */
			MailConfigSocket sock = w->tls_cert && !w->plaintext_auth ? MAILCONFIG_SOCKET_STARTTLS
			                                                         : MAILCONFIG_SOCKET_PLAIN;
			n->web = web_new(n->web_stack, &wc);
			/* the settings files say what really runs: each domain's mail
			 * host, its IMAP, POP3 and submission ports */
			for (guint d = 0; d < scn->domains->len; d++) {
				const ScenarioDomain *dom = g_ptr_array_index(scn->domains, d);
				const ScenarioHost *mh = scenario_find_host(scn, dom->host);
				MailConfig *mc = mailconfig_new(dom->name, dom->name);
				mailconfig_add_domain(mc, dom->name);
				if (mh && (mh->roles & SCENARIO_ROLE_MRA)) {
					mailconfig_add_server(mc, MAILCONFIG_PROTOCOL_IMAP, mh->name, 143, sock,
					                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
					mailconfig_add_server(mc, MAILCONFIG_PROTOCOL_POP3, mh->name, 110, sock,
					                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
				}
				if (mh && (mh->roles & SCENARIO_ROLE_MTA))
					mailconfig_add_server(mc, MAILCONFIG_PROTOCOL_SMTP, mh->name, MTA_SUBMISSION_PORT,
					                      sock, MAILCONFIG_AUTH_PASSWORD_CLEARTEXT,
					                      "%EMAILADDRESS%");
				web_add_config(n->web, mc);
			}
		}
	}

	/* the accounts, each on the host its domain lives on */
	for (guint i = 0; i < scn->users->len; i++) {
		const ScenarioUser *u = g_ptr_array_index(scn->users, i);
		Node *n = node_for(w, u->host);
		if (n && !n->stack)
			continue;
		if ((!n || !n->mda || !mda_add_user(n->mda, u->address, u->password, u->quota, error)) &&
		    !kept_from_last_time(w, error))
			return prefix_error(error, scn, u->line);
	}
	for (guint i = 0; i < scn->aliases->len; i++) {
		const ScenarioAlias *a = g_ptr_array_index(scn->aliases, i);
		const char *at = strrchr(a->source, '@');
		const char *host = at ? ms_world_mail_host(w, at + 1) : NULL;
		Node *n = host ? node_for(w, host) : NULL;
		if (n && !n->stack)
			continue;
		if (!n || !n->mda) {
			g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_INVALID,
			            "%s:%u: no mail host keeps the domain of %s", scn->filename, a->line, a->source);
			return FALSE;
		}
		for (guint d = 0; d < a->destinations->len; d++)
			if (!mda_add_alias(n->mda, a->source, g_ptr_array_index(a->destinations, d), error) &&
			    !kept_from_last_time(w, error))
				return prefix_error(error, scn, a->line);
	}
	for (guint i = 0; i < scn->sieves->len; i++) {
		const ScenarioSieve *sv = g_ptr_array_index(scn->sieves, i);
		const ScenarioUser *u = scenario_find_user(scn, sv->address);
		Node *n = u ? node_for(w, u->host) : NULL;
		if (n && !n->stack)
			continue;
		if (!n || !n->mda || !mda_set_sieve(n->mda, sv->address, sv->text, error))
			return prefix_error(error, scn, sv->line);
	}
	return TRUE;
}

static const MuaFlavor flavors[] = {
	[SCENARIO_FLAVOUR_THUNDERBIRD] = MUA_FLAVOR_THUNDERBIRD,
	[SCENARIO_FLAVOUR_OUTLOOK] = MUA_FLAVOR_OUTLOOK,
	[SCENARIO_FLAVOUR_RFC6186] = MUA_FLAVOR_RFC6186,
	[SCENARIO_FLAVOUR_MANUAL] = MUA_FLAVOR_MANUAL,
};

static const MuaProtocol protocols[] = {
	[SCENARIO_PROTOCOL_DEFAULT] = MUA_PROTOCOL_DEFAULT,
	[SCENARIO_PROTOCOL_IMAP] = MUA_PROTOCOL_IMAP,
	[SCENARIO_PROTOCOL_POP3] = MUA_PROTOCOL_POP3,
};

static void client_free(Client *c)
{
	mua_free(c->mua);
	ms_stack_unref(c->stack);
	g_free(c);
}

/* Each mail client runs on its user's machine, named after the user.  In
 * lab mode only the clients of the one host (mailsim lab up --play acts
 * them out), taking the lab's self-signed certificates as they are. */
static gboolean build_clients(MsWorld *w, GError **error)
{
	const Scenario *scn = w->scn;
	for (guint i = 0; i < scn->clients->len; i++) {
		const ScenarioClient *sc = g_ptr_array_index(scn->clients, i);
		Node *n = node_for(w, sc->host);
		if (!n || !n->stack)
			continue;
		Client *c = g_new0(Client, 1);
		c->c = sc;
		c->stack = node_alias(w, n, sc->name);
		MuaConfig mc = {
			.name = sc->name, .flavor = flavors[sc->flavour], .display_name = sc->display_name,
			.incoming = protocols[sc->incoming],
			.manual_incoming_protocol = protocols[sc->incoming],
			.manual_incoming_host = sc->incoming_host, .manual_incoming_port = (guint16)sc->incoming_port,
			.manual_outgoing_host = sc->smtp_host, .manual_outgoing_port = (guint16)sc->smtp_port,
			.dns = w->dns, .seed = w->seed, .epoch_us = w->epoch_us,
			.accept_any_certificate = w->only_host != NULL,
			.no_sent_copy = sc->no_sent_copy,
		};
		c->mua = mua_new(c->stack, &mc, error);
		g_ptr_array_add(w->clients, c);
		g_hash_table_replace(w->client_index, sc->name, c);
		if (!c->mua)
			return prefix_error(error, scn, sc->line);
	}
	return TRUE;
}

/* The simulated network's hosts, links and firewalls; lab mode has real
 * ones (mailsim lab up). */
static gboolean build_net(MsWorld *w, GError **error)
{
	const Scenario *scn = w->scn;
	for (guint i = 0; i < w->nodes->len; i++) {
		Node *n = g_ptr_array_index(w->nodes, i);
		n->host = ms_net_add_host(w->net, n->h->name, n->h->address, error);
		if (!n->host)
			return prefix_error(error, scn, n->h->line);
		n->stack = ms_stack_ref(ms_host_stack(n->host));
	}
	/* A raw session from an address no host has: a bare machine there, as
	 * an attacker's would be. */
	for (guint i = 0; i < scn->actions->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(scn->actions, i);
		if (a->kind != SCENARIO_ACTION_RAW_SESSION || a->source_host ||
		    ms_net_host_by_address(w->net, a->address))
			continue;
		g_autofree char *name = g_strdup_printf("client-%s", a->address);
		if (!ms_net_add_host(w->net, name, a->address, error))
			return prefix_error(error, scn, a->line);
	}
	for (guint i = 0; i < scn->links->len; i++) {
		const ScenarioLink *l = g_ptr_array_index(scn->links, i);
		ms_net_set_link(w->net, l->a, l->b, l->latency_us >= 0 ? l->latency_us : MS_NET_DEFAULT_LATENCY,
		                l->bandwidth);
	}
	for (guint i = 0; i < scn->firewall->len; i++) {
		const ScenarioFirewallRule *r = g_ptr_array_index(scn->firewall, i);
		static const MsFwAction actions[] = { MS_FW_ACCEPT, MS_FW_REJECT, MS_FW_DROP };
		static const MsFwProto protos[] = { MS_FW_ANY, MS_FW_TCP, MS_FW_UDP };
		Node *n = node_for(w, r->host);
		if (!n || !ms_host_firewall_add(n->host, actions[r->action], protos[r->proto], (guint16)r->port,
		                                r->from, error))
			return prefix_error(error, scn, r->line);
	}
	return TRUE;
}

static MsWorld *world_new(const Scenario *scn, MsSched *s, const char *state_dir,
                          const MsWorldHostOptions *lab, GError **error)
{
	if (!check_settings(scn, error))
		return NULL;
	if (lab && !scenario_find_host(scn, lab->host)) {
		g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_INVALID, "%s: no host named %s",
		            scn->filename, lab->host);
		return NULL;
	}
	MsWorld *w = g_new0(MsWorld, 1);
	w->scn = scn;
	w->sched = s;
	w->state_dir = g_strdup(state_dir);
	w->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)node_free);
	w->clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
	w->node_index = g_hash_table_new(scenario_caseless_hash, scenario_caseless_equal);
	w->client_index = g_hash_table_new(scenario_caseless_hash, scenario_caseless_equal);
	if (lab) {
		w->only_host = scenario_find_host(scn, lab->host)->name;
		w->tls_cert = lab->tls_cert;
		w->plaintext_auth = lab->plaintext_auth;
		w->fsync_default = lab->fsync;
		/* real time, real randomness: queue ids and Message-IDs must not
		 * repeat after a restart, as a seeded simulation's would */
		w->seed = (guint64)g_get_real_time();
		w->epoch_us = g_get_real_time() - ms_sched_now(s);
	} else {
		w->net = ms_net_new(s);
		w->seed = scn->seed;
		w->epoch_us = MTA_SIM_EPOCH_US;
	}

	for (guint i = 0; i < scn->hosts->len; i++) {
		const ScenarioHost *h = g_ptr_array_index(scn->hosts, i);
		Node *n = g_new0(Node, 1);
		n->h = h;
		g_ptr_array_add(w->nodes, n);
		g_hash_table_replace(w->node_index, h->name, n);
		if (w->only_host && strcmp(h->name, w->only_host))
			continue;   /* another process serves it, in its own namespace */
		if (w->only_host)
			n->stack = ms_realnet_stack_new(s, h->name, h->address);
		n->state_dir = g_build_filename(state_dir, h->name, NULL);
		if (g_mkdir_with_parents(n->state_dir, 0700) != 0) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot create %s: %s",
			            n->state_dir, g_strerror(errno));
			ms_world_free(w);
			return NULL;
		}
	}
	if ((w->net && !build_net(w, error)) || !build_dns(w, error)) {
		ms_world_free(w);
		return NULL;
	}
	build_directory(w);
	if (!build_mail(w, error) || !build_clients(w, error)) {
		ms_world_free(w);
		return NULL;
	}
	return w;
}

MsWorld *ms_world_new(const Scenario *scn, MsSched *s, const char *state_dir, GError **error)
{
	return world_new(scn, s, state_dir, NULL, error);
}

MsWorld *ms_world_new_host(const Scenario *scn, MsSched *s, const char *state_dir,
                           const MsWorldHostOptions *o, GError **error)
{
	g_return_val_if_fail(o && o->host, NULL);
	return world_new(scn, s, state_dir, o, error);
}

gboolean ms_world_start(MsWorld *w, GError **error)
{
	for (guint i = 0; i < w->nodes->len; i++) {
		Node *n = g_ptr_array_index(w->nodes, i);
		if (n->dns && !dns_server_start(n->dns, NULL, DNS_SERVER_PORT, error))
			return prefix_error(error, w->scn, n->h->line);
		if (n->mda && !mda_start(n->mda, error))
			return prefix_error(error, w->scn, n->h->line);
		if (n->mta && !mta_start(n->mta, error))
			return prefix_error(error, w->scn, n->h->line);
		if (n->mra && !mra_start(n->mra, error))
			return prefix_error(error, w->scn, n->h->line);
		if (n->web && !web_start(n->web, error))
			return prefix_error(error, w->scn, n->h->line);
	}
	return TRUE;
}

void ms_world_stop(MsWorld *w)
{
	for (guint i = 0; i < w->nodes->len; i++) {
		Node *n = g_ptr_array_index(w->nodes, i);
		if (n->mta)
			mta_stop(n->mta);
		if (n->mda)
			mda_stop(n->mda);
		if (n->mra)
			mra_stop(n->mra);
		if (n->web)
			web_stop(n->web);
		if (n->dns)
			dns_server_stop(n->dns);
	}
}

void ms_world_free(MsWorld *w)
{
	if (!w)
		return;
	g_clear_pointer(&w->client_index, g_hash_table_unref);
	g_clear_pointer(&w->node_index, g_hash_table_unref);
	g_ptr_array_free(w->clients, TRUE);
	g_ptr_array_free(w->nodes, TRUE);
	if (w->dns)
		ms_dns_directory_unref(w->dns);
	if (w->net)
		ms_net_free(w->net);
	g_free(w->state_dir);
	g_free(w);
}

Scenario *ms_world_load_scenario(const char *path, GError **error)
{
	if (g_str_has_prefix(path, "builtin:")) {
		const char *text = ms_builtin_scenario(path + strlen("builtin:"));
		if (!text) {
			g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_IO, "no built-in scenario \"%s\"",
			            path + strlen("builtin:"));
			return NULL;
		}
		return scenario_parse(text, -1, path + strlen("builtin:"), error);
	}
	return scenario_load_file(path, error);
}

MsNet *ms_world_net(MsWorld *w) { return w->net; }
const Scenario *ms_world_scenario(MsWorld *w) { return w->scn; }
const char *ms_world_state_dir(MsWorld *w) { return w->state_dir; }
const char *ms_world_dns_address(MsWorld *w) { return w->dns_address; }
const char *ms_world_dns_name(MsWorld *w) { return w->dns_name; }
MsDnsDirectory *ms_world_dns_directory(MsWorld *w) { return w->dns; }

Mta *ms_world_mta(MsWorld *w, const char *host)
{
	Node *n = node_for(w, host);
	return n ? n->mta : NULL;
}

Mda *ms_world_mda(MsWorld *w, const char *host)
{
	Node *n = node_for(w, host);
	return n ? n->mda : NULL;
}

DnsServer *ms_world_dns_for(MsWorld *w, const char *name)
{
	for (guint i = 0; i < w->nodes->len; i++) {
		Node *n = g_ptr_array_index(w->nodes, i);
		if (n->dns && dns_zone_set_find(dns_server_zones(n->dns), name))
			return n->dns;
	}
	return NULL;
}

const char *ms_world_mail_host(MsWorld *w, const char *domain)
{
	const ScenarioDomain *d = scenario_find_domain(w->scn, domain);
	return d ? d->host : NULL;
}

char *ms_world_maildir(MsWorld *w, const char *address, GError **error)
{
	const ScenarioUser *u = scenario_find_user(w->scn, address);
	if (!u) {
		g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_INVALID, "%s is no user of this world", address);
		return NULL;
	}
	Node *n = node_for(w, u->host);
	if (!n->state_dir) {
		g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_INVALID, "%s lives on %s, not served here",
		            address, u->host);
		return NULL;
	}
	g_autofree char *mail = g_build_filename(n->state_dir, "mail", NULL);
	return maildir_user_root(mail, address, error);
}

static char *join(GPtrArray *list)
{
	if (!list || !list->len)
		return NULL;
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < list->len; i++)
		g_string_append_printf(out, "%s%s", i ? ", " : "", (char *)g_ptr_array_index(list, i));
	return g_string_free(out, FALSE);
}

gboolean ms_world_client_action(MsWorld *w, const ScenarioAction *a, GError **error)
{
	Client *client = g_hash_table_lookup(w->client_index, a->client);
	Mua *mua = client ? client->mua : NULL;
	if (!mua) {
		g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_INVALID, "%s:%u: no client named %s",
		            w->scn->filename, a->line, a->client);
		return FALSE;
	}
	g_autofree char *to = join(a->to);
	g_autofree char *cc = join(a->cc);
	g_autoptr(GArray) atts = g_array_new(FALSE, TRUE, sizeof(ComposeAttachment));
	g_autoptr(GPtrArray) blobs = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	for (guint i = 0; a->attachments && i < a->attachments->len; i++) {
		const ScenarioAttachment *sa = g_ptr_array_index(a->attachments, i);
		GBytes *b = g_bytes_new(sa->content, strlen(sa->content));
		g_ptr_array_add(blobs, b);
		ComposeAttachment ca = { .filename = sa->name, .content_type = NULL, .data = b };
		g_array_append_val(atts, ca);
	}
	MuaMessage msg = { .to = to, .cc = cc, .subject = a->subject, .body = a->body,
	                   .attachments = (const ComposeAttachment *)atts->data, .n_attachments = atts->len };
	switch (a->kind) {
	case SCENARIO_ACTION_SETUP_ACCOUNT:
		return mua_setup_account(mua, a->address, a->password, error);
	case SCENARIO_ACTION_SEND:
		return mua_send(mua, &msg, error);
	case SCENARIO_ACTION_FETCH:
		return mua_fetch(mua, protocols[a->protocol], a->fetch_mode == SCENARIO_FETCH_DELETE, error);
	case SCENARIO_ACTION_MARK:
		return mua_mark_first(mua, a->mark == SCENARIO_MARK_SEEN ? MUA_MARK_SEEN : MUA_MARK_FLAGGED, error);
	case SCENARIO_ACTION_MOVE:
		return mua_move_first(mua, a->folder, error);
	case SCENARIO_ACTION_DELETE:
		return mua_delete_first(mua, error);
	case SCENARIO_ACTION_CREATE_FOLDER:
		return mua_create_folder(mua, a->folder, error);
	case SCENARIO_ACTION_SAVE_DRAFT:
		return mua_save_draft(mua, &msg, error);
	case SCENARIO_ACTION_REPLY:
		return mua_reply_first(mua, a->body, error);
	default:
		g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_INVALID, "%s:%u: not a client's action",
		            w->scn->filename, a->line);
		return FALSE;
	}
}
