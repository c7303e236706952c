/* sim/scenario_internet.c - "internet N domains, N users, N messages over T":
 * a whole world written by the scenario itself, for the scale benchmark.
 *
 * One line stands for what a teacher could never type: every domain gets a
 * mail host (mta mda mra) with its MX zone on one name server, a blacklist
 * is asked by every receiving server, each domain's users sit behind one
 * client machine, and the messages go from random users to users of other
 * domains, spread evenly over the time given, each fetched over IMAP at the
 * end.  Everything is added as if written out by hand, so the runner, the
 * world builder and the expectations know nothing of where it came from.
 * The choices come from the scenario's seed: the same line, the same world.
 */
#include "sim/scenario_internal.h"

#include <string.h>

/* The generated names and addresses.  Domains are d1.example, d2.example...
 * (RFC 2606 reserves .example); addresses come from 10/8, which no
 * scenario of the library uses. */
#define INTERNET_DNS_HOST     "ns.internet.example"
#define INTERNET_DNS_ADDRESS  "10.0.0.53"
#define INTERNET_RBL_HOST     "rbl.internet.example"
#define INTERNET_RBL_ADDRESS  "10.0.0.54"
#define INTERNET_RBL_ZONE     "bl.internet.example"
#define INTERNET_RBL_LISTED   "10.66.0.0/16"     /* nobody of the world sends from there */
#define INTERNET_HOSTS_PER_NET 250               /* 10.N.x.1 .. 10.N.x.250 */
#define INTERNET_MAX_DOMAINS  10000      /* within INTERNET_HOSTS_PER_NET * 256 addresses */
#define INTERNET_MAX_USERS    100000
#define INTERNET_MAX_MESSAGES 1000000
#define INTERNET_DEFAULT_OVER (G_GINT64_CONSTANT(3600) * 1000000)   /* an hour */
#define INTERNET_FIRST_SEND   G_GINT64_CONSTANT(1000000)                 /* 1s */
#define INTERNET_FETCH_AFTER  (G_GINT64_CONSTANT(600) * 1000000)    /* after the last send */
/* Users do not all press a button in the same microsecond, and each action
 * is a thread while it runs: set-ups are spread over the first second,
 * fetches over ten minutes, so that ten thousand never wait at once. */
#define INTERNET_SETUP_SPREAD INTERNET_FIRST_SEND
#define INTERNET_FETCH_SPREAD (G_GINT64_CONSTANT(600) * 1000000)
/* Thousands of users are made at once: sha512crypt's least rounds. */
#define INTERNET_HASH_ROUNDS  "1000"

typedef struct {
	guint64 domains, users, messages;
	gint64  over_us;
} Internet;

/* ---- reading the line ------------------------------------------------------ */

static gboolean word_is(const ScnToken *tok, const char *word)
{
	return tok->kind == SCN_TOKEN_WORD && g_ascii_strcasecmp(tok->text, word) == 0;
}

/* "N domains", "N users", "N messages", "over T", commas anywhere between. */
static gboolean read_line(ScnParser *p, const ScnStatement *st, Internet *net)
{
	static const struct {
		const char *unit;
		gsize       offset;
		guint64     max;
	} counts[] = {
		{ "domains",  G_STRUCT_OFFSET(Internet, domains),  INTERNET_MAX_DOMAINS },
		{ "users",    G_STRUCT_OFFSET(Internet, users),    INTERNET_MAX_USERS },
		{ "messages", G_STRUCT_OFFSET(Internet, messages), INTERNET_MAX_MESSAGES },
	};
	*net = (Internet){ .over_us = INTERNET_DEFAULT_OVER };
	for (guint i = 1; i < st->n_tokens; i++) {
		const ScnToken *tok = &st->tokens[i];
		if (tok->kind == SCN_TOKEN_COMMA)
			continue;
		if (word_is(tok, "over")) {
			if (i + 1 < st->n_tokens && st->tokens[i + 1].kind == SCN_TOKEN_WORD &&
			    scenario_parse_duration(st->tokens[i + 1].text, &net->over_us) && net->over_us > 0) {
				i++;
				continue;
			}
			scenario_report_expected(p, st, i + 1, "a duration like 1h");
			return FALSE;
		}
		guint64 n = 0;
		guint k = G_N_ELEMENTS(counts);
		if (tok->kind == SCN_TOKEN_WORD && i + 1 < st->n_tokens)
			for (k = 0; k < G_N_ELEMENTS(counts); k++)
				if (word_is(&st->tokens[i + 1], counts[k].unit))
					break;
		if (k == G_N_ELEMENTS(counts)) {
			scenario_report_expected(p, st, i, "a count and what it counts: 1000 domains, "
			                                   "10000 users, 100000 messages, or over 1h");
			return FALSE;
		}
		if (!scenario_value_uint(tok->text, counts[k].max, &n) || n == 0) {
			scenario_report(p, SCENARIO_ERROR_LIMIT, tok->line, tok->column,
			                "%s wants a count from 1 to %" G_GUINT64_FORMAT ", got \"%s\"",
			                counts[k].unit, counts[k].max, tok->text);
			return FALSE;
		}
		G_STRUCT_MEMBER(guint64, net, counts[k].offset) = n;
		i++;
	}
	if (!net->domains || !net->users || !net->messages) {
		scenario_report_expected(p, st, st->n_tokens, "the counts of domains, users and messages");
		return FALSE;
	}
	if (net->users < net->domains) {
		scenario_report(p, SCENARIO_ERROR_INVALID, st->line, st->tokens[0].column,
		                "%" G_GUINT64_FORMAT " users cannot fill %" G_GUINT64_FORMAT " domains",
		                net->users, net->domains);
		scenario_hint(p, "give at least one user per domain");
		return FALSE;
	}
	return TRUE;
}

/* ---- adding what a hand-written file would hold ----------------------------- */

/* Each add_* registers its object where the statement it stands for would,
 * so a later line of the file that takes the same name is told so; a
 * clash with an earlier line is reported here, at the internet line. */
static gboolean taken(ScnParser *p, const ScnStatement *st, GHashTable *table, const char *key,
                      const char *what)
{
	if (!g_hash_table_contains(table, key))
		return FALSE;
	scenario_report(p, SCENARIO_ERROR_INVALID, st->line, st->tokens[0].column,
	                "the internet's %s %s is already taken by another line", what, key);
	scenario_hint(p, "the internet uses d1.example... and 10.0.0.0/8: leave those to it");
	return TRUE;
}

static ScenarioHost *add_host(ScnParser *p, const ScnStatement *st, char *name, char *address, guint roles)
{
	if (taken(p, st, p->hosts, name, "host") || taken(p, st, p->addresses, address, "address")) {
		g_free(name);
		g_free(address);
		return NULL;
	}
	ScenarioHost *host = g_new0(ScenarioHost, 1);
	host->name = name;
	host->address = address;
	host->roles = roles;
	host->line = st->line;
	host->clients = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(p->scn->hosts, host);
	g_hash_table_insert(p->hosts, g_strdup(name), host);
	g_hash_table_insert(p->addresses, g_strdup(address), host);
	return host;
}

static void add_setting(ScnParser *p, const ScnStatement *st, const char *host, const char *name,
                        const char *value)
{
	ScenarioSetting *s = g_new0(ScenarioSetting, 1);
	s->host = g_strdup(host);
	s->name = g_strdup(name);
	s->value = g_strdup(value);
	/* items: split by scenario_check, as for every setting */
	s->line = st->line;
	s->column = st->tokens[0].column;
	g_ptr_array_add(p->scn->settings, s);
	g_hash_table_insert(p->settings, g_strdup_printf("%s %s", host, name), s);
}

static void add_zone(ScnParser *p, const ScnStatement *st, const char *origin, char *text)
{
	ScenarioZone *zone = g_new0(ScenarioZone, 1);
	zone->origin = g_strdup(origin);
	zone->server = g_strdup(INTERNET_DNS_HOST);
	zone->text = text;
	zone->text_line = st->line;
	zone->line = st->line;
	g_ptr_array_add(p->scn->zones, zone);
	g_hash_table_insert(p->zones, g_strdup_printf("%s %s", origin, INTERNET_DNS_HOST), zone);
}

static void add_user(ScnParser *p, const ScnStatement *st, const char *address, const char *password,
                     const char *host)
{
	ScenarioUser *user = g_new0(ScenarioUser, 1);
	user->address = g_strdup(address);
	user->password = g_strdup(password);
	user->host = g_strdup(host);
	user->line = st->line;
	g_ptr_array_add(p->scn->users, user);
	g_hash_table_insert(p->users, g_strdup(address), user);
}

static void add_domain(ScnParser *p, const ScnStatement *st, const char *name, const char *host)
{
	ScenarioDomain *domain = g_new0(ScenarioDomain, 1);
	domain->name = g_strdup(name);
	domain->host = g_strdup(host);
	domain->line = st->line;
	g_ptr_array_add(p->scn->domains, domain);
	g_hash_table_insert(p->domains, g_strdup(name), domain);
}

/* A manual client: the user typed their provider's host for both servers,
 * and unticked "keep a copy in Sent" (each copy would be one more IMAP
 * session per message, which is not the path being measured). */
static void add_client(ScnParser *p, const ScnStatement *st, ScenarioHost *runs, const char *name,
                       const char *server)
{
	ScenarioClient *client = g_new0(ScenarioClient, 1);
	client->name = g_strdup(name);
	client->flavour = SCENARIO_FLAVOUR_MANUAL;
	client->incoming = SCENARIO_PROTOCOL_IMAP;
	client->incoming_host = g_strdup(server);
	client->smtp_host = g_strdup(server);
	client->host = g_strdup(runs->name);
	client->no_sent_copy = TRUE;
	client->declared = TRUE;
	client->line = st->line;
	g_ptr_array_add(runs->clients, g_strdup(name));
	runs->roles |= SCENARIO_ROLE_MUA;
	g_ptr_array_add(p->scn->clients, client);
	g_hash_table_insert(p->clients, g_strdup(name), client);
	g_hash_table_insert(p->mua_hosts, g_strdup(name), runs);
}

static ScenarioAction *add_action(ScnParser *p, const ScnStatement *st, gint64 at, ScenarioActionKind kind,
                                  const char *client, char *text)
{
	ScenarioAction *a = g_new0(ScenarioAction, 1);
	a->time_us = at;
	a->kind = kind;
	a->text = text;
	a->line = st->line;
	a->body_line = st->line;
	a->client = g_strdup(client);
	g_ptr_array_add(p->scn->actions, a);
	return a;
}

/* ---- the world ---------------------------------------------------------------- */

static char *net_address(guint net, guint64 i)
{
	return g_strdup_printf("10.%u.%u.%u", net, (guint)(i / INTERNET_HOSTS_PER_NET),
	                       (guint)(i % INTERNET_HOSTS_PER_NET) + 1);
}

static char *user_address(const Internet *net, guint64 u)
{
	/* users go round the domains: u1@d1, u2@d2, ..., so each has its share */
	return g_strdup_printf("u%" G_GUINT64_FORMAT "@d%" G_GUINT64_FORMAT ".example", u + 1,
	                       u % net->domains + 1);
}

static char *client_name(const Internet *net, guint64 u)
{
	return g_strdup_printf("u%" G_GUINT64_FORMAT "_d%" G_GUINT64_FORMAT, u + 1, u % net->domains + 1);
}

static gboolean add_world(ScnParser *p, const ScnStatement *st, const Internet *net, GRand *rand,
                          GPtrArray *clients_hosts)
{
	if (!add_host(p, st, g_strdup(INTERNET_DNS_HOST), g_strdup(INTERNET_DNS_ADDRESS), SCENARIO_ROLE_DNS) ||
	    !add_host(p, st, g_strdup(INTERNET_RBL_HOST), g_strdup(INTERNET_RBL_ADDRESS), SCENARIO_ROLE_DNS))
		return FALSE;
	ScenarioDnsblEntry *bl = g_new0(ScenarioDnsblEntry, 1);
	bl->zone = g_strdup(INTERNET_RBL_ZONE);
	bl->server = g_strdup(INTERNET_RBL_HOST);
	bl->listed = g_strdup(INTERNET_RBL_LISTED);
	bl->reason = g_strdup("listed: a network known for spam");
	bl->code = g_strdup(SCENARIO_DNSBL_DEFAULT_CODE);
	bl->line = st->line;
	g_ptr_array_add(p->scn->dnsbl, bl);

	for (guint64 d = 0; d < net->domains; d++) {
		g_autofree char *domain = g_strdup_printf("d%" G_GUINT64_FORMAT ".example", d + 1);
		g_autofree char *mx = g_strdup_printf("mx.%s", domain);
		char *address = net_address(1, d);
		if (taken(p, st, p->domains, domain, "domain") ||
		    !add_host(p, st, g_strdup(mx), address, SCENARIO_ROLE_MTA | SCENARIO_ROLE_MDA | SCENARIO_ROLE_MRA))
			return FALSE;
		add_zone(p, st, domain, g_strdup_printf("$ORIGIN %s.\n$TTL 3600\n@ MX 10 mx\nmx A %s\n", domain,
		                                        address));
		add_domain(p, st, domain, mx);
		/* the course's receiving defences (in.2-in.5) on every server */
		add_setting(p, st, mx, "smtpd_recipient_restrictions",
		            "permit_mynetworks, reject_unauth_destination, reject_rbl_client " INTERNET_RBL_ZONE);
		add_setting(p, st, mx, "password_hash_rounds", INTERNET_HASH_ROUNDS);
		/* a real mail server asks a caching resolver: each MX and each
		 * blacklist answer once per TTL, not once per message */
		add_setting(p, st, mx, "dns_cache", "yes");
		ScenarioHost *home = add_host(p, st, g_strdup_printf("net.%s", domain), net_address(2, d), 0);
		if (!home)
			return FALSE;
		g_ptr_array_add(clients_hosts, home);
	}
	for (guint64 u = 0; u < net->users; u++) {
		g_autofree char *address = user_address(net, u);
		g_autofree char *name = client_name(net, u);
		/* every user a password of their own, from the seed */
		g_autofree char *password = g_strdup_printf("pw-%08x", g_rand_int(rand));
		ScenarioHost *home = g_ptr_array_index(clients_hosts, u % net->domains);
		g_autofree char *mx = g_strdup_printf("mx.d%" G_GUINT64_FORMAT ".example", u % net->domains + 1);
		if (taken(p, st, p->users, address, "user") || taken(p, st, p->clients, name, "client"))
			return FALSE;
		add_user(p, st, address, password, mx);
		add_client(p, st, home, name, mx);
		gint64 at = (gint64)(u * (guint64)INTERNET_SETUP_SPREAD / net->users);
		ScenarioAction *a = add_action(p, st, at, SCENARIO_ACTION_SETUP_ACCOUNT, name,
		                               g_strdup_printf("%s sets up account %s", name, address));
		a->address = g_strdup(address);
		a->password = g_strdup(password);
	}
	return TRUE;
}

/* ---- the traffic ----------------------------------------------------------------- */

static void add_traffic(ScnParser *p, const ScnStatement *st, const Internet *net, GRand *rand)
{
	/* from 1s, evenly over the time given */
	gint64 step = MAX(net->over_us / (gint64)net->messages, 1);
	for (guint64 m = 0; m < net->messages; m++) {
		guint64 from = MIN((guint64)g_rand_double_range(rand, 0, (double)net->users), net->users - 1);
		guint64 to = MIN((guint64)g_rand_double_range(rand, 0, (double)net->users), net->users - 1);
		/* a user of another domain, when there is one: the message relays
		 * (the next user is in the next domain, but at the wrap) */
		while (net->domains > 1 && to % net->domains == from % net->domains)
			to = (to + 1) % net->users;
		g_autofree char *name = client_name(net, from);
		char *rcpt = user_address(net, to);
		ScenarioAction *a = add_action(p, st, INTERNET_FIRST_SEND + (gint64)m * step, SCENARIO_ACTION_SEND, name,
		                               g_strdup_printf("%s sends message %" G_GUINT64_FORMAT " to %s", name,
		                                               m + 1, rcpt));
		a->to = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(a->to, rcpt);
		a->subject = g_strdup_printf("Message %" G_GUINT64_FORMAT, m + 1);
		a->body = g_strdup("Hello from the big internet.\n");
	}
	/* then everybody reads their mail */
	gint64 fetch_at = INTERNET_FIRST_SEND + net->over_us + INTERNET_FETCH_AFTER;
	for (guint64 u = 0; u < net->users; u++) {
		g_autofree char *name = client_name(net, u);
		gint64 at = fetch_at + (gint64)(u * (guint64)INTERNET_FETCH_SPREAD / net->users);
		ScenarioAction *a = add_action(p, st, at, SCENARIO_ACTION_FETCH, name,
		                               g_strdup_printf("%s fetches via imap", name));
		a->protocol = SCENARIO_PROTOCOL_IMAP;
	}
}

void scenario_internet_statement(ScnParser *p, const ScnStatement *st)
{
	Internet net;
	if (!read_line(p, st, &net))
		return;
	/* make check runs the big internet small: the caller's counts win */
	if (p->scale && p->scale->domains)
		net.domains = p->scale->domains;
	if (p->scale && p->scale->users)
		net.users = p->scale->users;
	if (p->scale && p->scale->messages)
		net.messages = p->scale->messages;
	net.users = MAX(net.users, net.domains);
	g_autoptr(GRand) rand = g_rand_new_with_seed((guint32)(p->scn->seed ^ (p->scn->seed >> 32)));
	g_autoptr(GPtrArray) homes = g_ptr_array_new();
	if (add_world(p, st, &net, rand, homes))
		add_traffic(p, st, &net, rand);
}
