/* sim/scenario_world.c - the statements that describe the world: title, seed,
 * hosts and their roles, links, DNS zones (RFC 1035 5.1 text, kept raw),
 * blacklists (RFC 5782), users, aliases, domains, Postfix-style settings
 * (main.cf syntax, postconf(5)), Sieve scripts (RFC 5228, kept raw), mail
 * clients and firewall rules.  One function per statement keyword.
 */
#include <string.h>

#include "sim/scenario_internal.h"

/* RFC 1035 3.3.14: a TXT record's strings are at most 255 octets each. */
#define SCENARIO_MAX_REASON_LENGTH 255

/* ---- reading a statement's words --------------------------------------------- */

typedef struct {
	ScnParser          *p;
	const ScnStatement *st;
	guint               i;       /* the next token */
	gboolean            failed;  /* a problem was reported: the rest of the line is not read */
} Cursor;

static const ScnToken *peek(const Cursor *c)
{
	return c->i < c->st->n_tokens ? &c->st->tokens[c->i] : NULL;
}

static gboolean is_word(const Cursor *c, const char *keyword)
{
	const ScnToken *tok = peek(c);
	return tok != NULL && tok->kind == SCN_TOKEN_WORD && g_ascii_strcasecmp(tok->text, keyword) == 0;
}

static gboolean accept(Cursor *c, const char *keyword)
{
	if (c->failed || !is_word(c, keyword))
		return FALSE;
	c->i++;
	return TRUE;
}

static gboolean accept_comma(Cursor *c)
{
	const ScnToken *tok = peek(c);
	if (c->failed || tok == NULL || tok->kind != SCN_TOKEN_COMMA)
		return FALSE;
	c->i++;
	return TRUE;
}

/* Reports "expected WHAT, got ..." at the next token; only the first
 * problem of a line is reported, the rest would be echoes. */
static void fail(Cursor *c, const char *what)
{
	if (!c->failed)
		scenario_report_expected(c->p, c->st, c->i, what);
	else
		c->p->last_kept = FALSE;  /* the hint that may follow is not for the earlier problem */
	c->failed = TRUE;
}

/* A problem about a token already read (a name taken twice...). */
static void invalid(Cursor *c, const ScnToken *at, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void invalid(Cursor *c, const ScnToken *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!c->failed)
		scenario_report(c->p, SCENARIO_ERROR_INVALID, c->st->line, at ? at->column : c->st->end_column, "%s",
		                message);
	else
		c->p->last_kept = FALSE;
	c->failed = TRUE;
}

/* A "did you mean" for the word at the cursor, among candidates. */
static void guess(Cursor *c, const char *const *candidates)
{
	const ScnToken *tok = peek(c);
	const char *best = tok && tok->kind == SCN_TOKEN_WORD ? scenario_value_closest(tok->text, candidates) : NULL;
	if (best != NULL)
		scenario_hint(c->p, "did you mean %s?", best);
}

static gboolean expect_word(Cursor *c, const char *keyword)
{
	if (accept(c, keyword))
		return TRUE;
	g_autofree char *what = g_strdup_printf("\"%s\"", keyword);
	fail(c, what);
	const char *candidates[] = { keyword, NULL };
	guess(c, candidates);
	return FALSE;
}

static gboolean expect_end(Cursor *c)
{
	if (!c->failed && peek(c) != NULL)
		fail(c, "the end of the line");
	return !c->failed;
}

/* The next token if it is one of the kinds asked for; else reported. */
static const ScnToken *take(Cursor *c, gboolean word, gboolean string, gboolean block, const char *what)
{
	const ScnToken *tok = peek(c);
	if (c->failed)
		return NULL;
	if (tok != NULL && ((word && tok->kind == SCN_TOKEN_WORD) || (string && tok->kind == SCN_TOKEN_STRING) ||
	                    (block && tok->kind == SCN_TOKEN_HEREDOC))) {
		c->i++;
		return tok;
	}
	fail(c, what);
	if (string && !word && tok != NULL && tok->kind == SCN_TOKEN_WORD)
		scenario_hint(c->p, "put it in double quotes: \"%s\"", tok->text);
	if (block && !string && tok == NULL)
		scenario_hint(c->p, "end the line with <<, then write the lines, then >> alone on a line");
	return NULL;
}

static char *read_host_name(Cursor *c, const char *what)
{
	const ScnToken *tok = peek(c);
	if (c->failed)
		return NULL;
	if (tok != NULL && tok->kind == SCN_TOKEN_WORD && scenario_value_host_name(tok->text)) {
		c->i++;
		return g_ascii_strdown(tok->text, -1);
	}
	fail(c, what);
	if (tok != NULL && tok->kind == SCN_TOKEN_WORD && scenario_value_ipv4(tok->text, NULL))
		scenario_hint(c->p, "name the host here, not its address");
	return NULL;
}

static char *read_ipv4(Cursor *c, const char *what)
{
	const ScnToken *tok = peek(c);
	g_autofree char *hint = NULL;
	if (c->failed)
		return NULL;
	if (tok != NULL && tok->kind == SCN_TOKEN_WORD && scenario_value_ipv4(tok->text, &hint)) {
		c->i++;
		return g_strdup(tok->text);
	}
	fail(c, what);
	if (hint != NULL)
		scenario_hint(c->p, "%s", hint);
	return NULL;
}

static char *read_cidr(Cursor *c, const char *what)
{
	const ScnToken *tok = peek(c);
	g_autofree char *hint = NULL;
	if (c->failed)
		return NULL;
	if (tok != NULL && tok->kind == SCN_TOKEN_WORD && scenario_value_cidr(tok->text, &hint)) {
		c->i++;
		return g_strdup(tok->text);
	}
	fail(c, what);
	if (hint != NULL)
		scenario_hint(c->p, "%s", hint);
	return NULL;
}

static char *read_mailbox(Cursor *c, const char *what)
{
	const ScnToken *tok = peek(c);
	g_autofree char *hint = NULL;
	if (c->failed)
		return NULL;
	char *mailbox = tok && tok->kind == SCN_TOKEN_WORD ? scenario_value_mailbox(tok->text, &hint) : NULL;
	if (mailbox != NULL) {
		c->i++;
		return mailbox;
	}
	fail(c, what);
	if (hint != NULL)
		scenario_hint(c->p, "%s", hint);
	return NULL;
}

/* A zone's name: "example.com" or "example.com.", kept without the dot. */
static char *read_zone_name(Cursor *c)
{
	const ScnToken *tok = peek(c);
	if (c->failed)
		return NULL;
	if (tok != NULL && tok->kind == SCN_TOKEN_WORD && scenario_value_dns_name(tok->text) &&
	    strcmp(tok->text, "@") != 0 && strcmp(tok->text, ".") != 0 && strchr(tok->text, '*') == NULL) {
		c->i++;
		char *name = g_ascii_strdown(tok->text, -1);
		gsize len = strlen(name);
		if (name[len - 1] == '.')
			name[len - 1] = '\0';
		return name;
	}
	fail(c, "a zone name like example.com");
	return NULL;
}

static gboolean read_duration(Cursor *c, const char *unit, gint64 *us_r)
{
	const ScnToken *tok = peek(c);
	if (c->failed)
		return FALSE;
	if (tok != NULL && tok->kind == SCN_TOKEN_WORD && scenario_parse_duration(tok->text, us_r)) {
		c->i++;
		return TRUE;
	}
	fail(c, "a duration like 20ms or 2s");
	if (tok != NULL && tok->kind == SCN_TOKEN_WORD) {
		g_autofree char *hint = scenario_value_duration_hint(tok->text, unit);
		scenario_hint(c->p, "%s", hint);
	}
	return FALSE;
}

static gboolean read_uint(Cursor *c, guint64 min, guint64 max, const char *what, guint64 *value_r)
{
	const ScnToken *tok = peek(c);
	if (c->failed)
		return FALSE;
	if (tok != NULL && tok->kind == SCN_TOKEN_WORD && scenario_value_uint(tok->text, max, value_r) &&
	    *value_r >= min) {
		c->i++;
		return TRUE;
	}
	fail(c, what);
	return FALSE;
}

/* A clause given twice ("password ... password ...") is a mistake. */
static gboolean once(Cursor *c, gboolean *seen, const char *clause)
{
	if (*seen) {
		invalid(c, &c->st->tokens[c->i - 1], "%s is given twice on this line", clause);
		return FALSE;
	}
	*seen = TRUE;
	return TRUE;
}

/* ---- title, seed, description -------------------------------------------------- */

static void parse_title(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *tok = take(c, FALSE, TRUE, FALSE, "the title in double quotes");
	if (tok == NULL || !expect_end(c))
		return;
	if (p->title_line != 0) {
		invalid(c, &c->st->tokens[0], "the title is already given on line %u", p->title_line);
		return;
	}
	p->scn->title = g_strdup(tok->text);
	p->title_line = c->st->line;
}

static void parse_seed(Cursor *c)
{
	ScnParser *p = c->p;
	guint64 seed;
	if (!read_uint(c, 0, G_MAXUINT64, "a whole number, the seed of the run's randomness", &seed) || !expect_end(c))
		return;
	if (p->seed_line != 0) {
		invalid(c, &c->st->tokens[0], "the seed is already given on line %u", p->seed_line);
		return;
	}
	p->scn->seed = seed;
	p->seed_line = c->st->line;
}

static void parse_description(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *tok = take(c, FALSE, TRUE, TRUE, "the description in double quotes, or a << block");
	if (tok == NULL || !expect_end(c))
		return;
	if (p->description_line != 0) {
		invalid(c, &c->st->tokens[0], "the description is already given on line %u", p->description_line);
		return;
	}
	if (tok->kind == SCN_TOKEN_HEREDOC) {
		char *text = scenario_lex_dedent(tok->text);
		g_strchomp(text);
		p->scn->description = text;
	} else {
		p->scn->description = g_strdup(tok->text);
	}
	p->description_line = c->st->line;
}

/* ---- hosts ------------------------------------------------------------------------ */

typedef struct {
	const char  *name;
	ScenarioRole role;
} RoleName;

static const RoleName role_names[] = {
	{ "mta", SCENARIO_ROLE_MTA }, { "mda", SCENARIO_ROLE_MDA }, { "mra", SCENARIO_ROLE_MRA },
	{ "web", SCENARIO_ROLE_WEB }, { "dns", SCENARIO_ROLE_DNS }, { "mua", SCENARIO_ROLE_MUA },
};
static const char *const role_words[] = { "mta", "mda", "mra", "web", "dns", "mua", NULL };

#define ROLE_EXPECTED "a role: mta, mda, mra, web, dns or mua NAME"

static ScenarioRole role_at(const Cursor *c)
{
	const ScnToken *tok = peek(c);
	for (guint i = 0; tok != NULL && tok->kind == SCN_TOKEN_WORD && i < G_N_ELEMENTS(role_names); i++)
		if (g_ascii_strcasecmp(tok->text, role_names[i].name) == 0)
			return role_names[i].role;
	return 0;
}

static void parse_host(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *name_tok = peek(c);
	g_autofree char *name = read_host_name(c, "a host name like mail.example.com");
	const ScnToken *address_tok = peek(c);
	g_autofree char *address = read_ipv4(c, "the host's IPv4 address, like 192.0.2.10");
	guint roles = 0;
	g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func(g_free);

	if (accept(c, "runs")) {
		if (peek(c) == NULL)
			fail(c, ROLE_EXPECTED);
		while (!c->failed && peek(c) != NULL) {
			ScenarioRole role = role_at(c);
			if (role == 0) {
				fail(c, ROLE_EXPECTED);
				guess(c, role_words);
				break;
			}
			if ((roles & role) != 0 && role != SCENARIO_ROLE_MUA) {
				invalid(c, peek(c), "%s is listed twice", scenario_role_to_string(role));
				break;
			}
			c->i++;
			roles |= role;
			if (role != SCENARIO_ROLE_MUA)
				continue;
			/* "runs mua alice": the host is where client alice lives. */
			const ScnToken *tok = peek(c);
			if (tok == NULL || tok->kind != SCN_TOKEN_WORD || !scenario_value_client_name(tok->text)) {
				fail(c, "the name of the client it runs, like alice");
				scenario_hint(p, "runs mua alice, and then: client alice flavour thunderbird");
				break;
			}
			g_autofree char *client = g_ascii_strdown(tok->text, -1);
			for (guint i = 0; i < clients->len; i++)
				if (strcmp(clients->pdata[i], client) == 0)
					invalid(c, tok, "mua %s is listed twice", client);
			if (c->failed)
				break;
			const ScenarioHost *other = g_hash_table_lookup(p->mua_hosts, client);
			if (other != NULL) {
				invalid(c, tok, "client %s already runs on %s (line %u)", client, other->name, other->line);
				break;
			}
			g_ptr_array_add(clients, g_steal_pointer(&client));
			c->i++;
		}
	} else if (peek(c) != NULL) {
		fail(c, "\"runs\" and the host's roles");
		scenario_hint(p, "host mail.example.com 192.0.2.10 runs mta mda mra");
	}
	if (c->failed)
		return;

	const ScenarioHost *same = g_hash_table_lookup(p->hosts, name);
	if (same != NULL) {
		invalid(c, name_tok, "host %s is already declared on line %u", name, same->line);
		return;
	}
	same = g_hash_table_lookup(p->addresses, address);
	if (same != NULL) {
		invalid(c, address_tok, "%s is already the address of %s (line %u)", address, same->name, same->line);
		return;
	}
	ScenarioHost *host = g_new0(ScenarioHost, 1);
	host->name = g_steal_pointer(&name);
	host->address = g_steal_pointer(&address);
	host->roles = roles;
	host->line = c->st->line;
	host->clients = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < clients->len; i++) {
		g_ptr_array_add(host->clients, g_strdup(clients->pdata[i]));
		g_hash_table_insert(p->mua_hosts, g_strdup(clients->pdata[i]), host);
	}
	g_ptr_array_add(p->scn->hosts, host);
	g_hash_table_insert(p->hosts, g_strdup(host->name), host);
	g_hash_table_insert(p->addresses, g_strdup(host->address), host);
}

/* ---- links --------------------------------------------------------------------------- */

/* "link A B", "link A", "link A *", "link * A", "link *", then the clauses. */
static guint read_link_ends(Cursor *c, char **ends, const ScnToken **end_toks)
{
	guint n = 0;
	while (!c->failed && peek(c) != NULL && !is_word(c, "latency") && !is_word(c, "bandwidth")) {
		const ScnToken *tok = peek(c);
		if (n == 2) {
			fail(c, "\"latency\" or \"bandwidth\"");
			const char *const words[] = { "latency", "bandwidth", NULL };
			guess(c, words);
			break;
		}
		end_toks[n] = tok;
		if (tok->kind == SCN_TOKEN_WORD && strcmp(tok->text, "*") == 0) {
			ends[n++] = g_strdup("*");
			c->i++;
		} else if ((ends[n] = read_host_name(c, "a host name or *")) != NULL) {
			n++;
		}
	}
	if (!c->failed && n == 0) {
		fail(c, "a host name or *");
		scenario_hint(c->p, "link * latency 20ms sets every link");
	}
	return n;
}

static void parse_link(Cursor *c)
{
	ScnParser *p = c->p;
	char *ends[2] = { NULL, NULL };
	const ScnToken *end_toks[2] = { NULL, NULL };
	guint n = read_link_ends(c, ends, end_toks);

	gint64 latency = -1;
	guint64 bandwidth = 0;
	gboolean has_latency = FALSE, has_bandwidth = FALSE;
	while (!c->failed && peek(c) != NULL) {
		if (accept(c, "latency")) {
			if (once(c, &has_latency, "latency"))
				read_duration(c, "ms", &latency);
		} else if (accept(c, "bandwidth")) {
			const ScnToken *tok = peek(c);
			if (!once(c, &has_bandwidth, "bandwidth"))
				break;
			if (tok != NULL && tok->kind == SCN_TOKEN_WORD && scenario_parse_rate(tok->text, &bandwidth)) {
				c->i++;
			} else {
				fail(c, "a rate like 1MB/s or 10Mbit/s");
				if (tok != NULL && tok->kind == SCN_TOKEN_WORD) {
					g_autofree char *hint = scenario_value_rate_hint(tok->text);
					scenario_hint(p, "%s", hint);
				}
			}
		} else {
			fail(c, "\"latency\" or \"bandwidth\"");
		}
	}
	if (!c->failed && !has_latency && !has_bandwidth)
		fail(c, "\"latency\" or \"bandwidth\"");
	if (n == 1)
		ends[1] = g_strdup("*");
	/* "link * mx ...": the named host first. */
	if (!c->failed && strcmp(ends[0], "*") == 0 && strcmp(ends[1], "*") != 0) {
		char *swap = ends[0];
		ends[0] = ends[1];
		ends[1] = swap;
		const ScnToken *swap_tok = end_toks[0];
		end_toks[0] = end_toks[1];
		end_toks[1] = swap_tok;
	}
	if (!c->failed && strcmp(ends[0], "*") != 0 && strcmp(ends[0], ends[1]) == 0)
		invalid(c, end_toks[1], "a link joins two different hosts");

	g_autofree char *key = NULL;
	if (!c->failed) {
		key = strcmp(ends[0], ends[1]) < 0 ? g_strdup_printf("%s %s", ends[0], ends[1])
		                                   : g_strdup_printf("%s %s", ends[1], ends[0]);
		const ScenarioLink *same = g_hash_table_lookup(p->links, key);
		if (same != NULL)
			invalid(c, &c->st->tokens[0], "the link %s - %s is already described on line %u", ends[0], ends[1],
			        same->line);
	}
	if (c->failed) {
		g_free(ends[0]);
		g_free(ends[1]);
		return;
	}
	for (guint i = 0; i < 2; i++)
		if (strcmp(ends[i], "*") != 0)
			scenario_add_ref(p, SCN_REF_HOST, ends[i], 0, NULL, "an end of the link", end_toks[i]);

	ScenarioLink *link = g_new0(ScenarioLink, 1);
	link->a = ends[0];
	link->b = ends[1];
	link->latency_us = latency;
	link->bandwidth = bandwidth;
	link->line = c->st->line;
	g_ptr_array_add(p->scn->links, link);
	g_hash_table_insert(p->links, g_steal_pointer(&key), link);
}

/* ---- DNS: zones and blacklists ----------------------------------------------------------- */

/* "on HOST" after a zone name: the server, or NULL for every dns host. */
static char *read_zone_server(Cursor *c, const ScnToken **tok_r)
{
	*tok_r = NULL;
	if (!accept(c, "on"))
		return NULL;
	*tok_r = peek(c);
	return read_host_name(c, "the name server's host name");
}

static void add_server_ref(ScnParser *p, const char *server, const ScnToken *server_tok, const ScnToken *at)
{
	if (server != NULL)
		scenario_add_ref(p, SCN_REF_HOST, server, SCENARIO_ROLE_DNS, NULL, "the zone's name server", server_tok);
	else
		scenario_add_ref(p, SCN_REF_ROLE, NULL, SCENARIO_ROLE_DNS, NULL, "the zone", at);
}

static void parse_zone(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *origin_tok = peek(c), *server_tok;
	g_autofree char *origin = read_zone_name(c);
	g_autofree char *server = read_zone_server(c, &server_tok);
	const ScnToken *block = take(c, FALSE, FALSE, TRUE, "a << block holding the zone's records");
	if (block == NULL || !expect_end(c))
		return;
	g_autofree char *key = g_strdup_printf("%s %s", origin, server ? server : "*");
	const ScenarioZone *same = g_hash_table_lookup(p->zones, key);
	if (same != NULL) {
		invalid(c, origin_tok, "zone %s is already given on line %u", origin, same->line);
		return;
	}
	add_server_ref(p, server, server_tok, origin_tok);
	ScenarioZone *zone = g_new0(ScenarioZone, 1);
	zone->origin = g_steal_pointer(&origin);
	zone->server = g_steal_pointer(&server);
	zone->text = g_strdup(block->text);
	zone->text_line = block->text_line;
	zone->line = c->st->line;
	g_ptr_array_add(p->scn->zones, zone);
	g_hash_table_insert(p->zones, g_steal_pointer(&key), zone);
}

static void parse_dnsbl(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *zone_tok = peek(c), *server_tok;
	g_autofree char *zone = read_zone_name(c);
	g_autofree char *server = read_zone_server(c, &server_tok);
	expect_word(c, "list");
	const ScnToken *listed_tok = peek(c);
	g_autofree char *listed = read_cidr(c, "an IPv4 address or range to list, like 203.0.113.66 or 203.0.113.0/24");
	g_autofree char *reason = NULL, *code = NULL;
	gboolean has_reason = FALSE, has_code = FALSE;
	while (!c->failed && peek(c) != NULL) {
		const ScnToken *tok = peek(c);
		if (tok->kind == SCN_TOKEN_STRING) {
			c->i++;
			if (!once(c, &has_reason, "the reason"))
				break;
			if (strlen(tok->text) > SCENARIO_MAX_REASON_LENGTH) {
				scenario_report(p, SCENARIO_ERROR_LIMIT, tok->line, tok->column,
				                "the reason is %" G_GSIZE_FORMAT " bytes long, more than the %d of a TXT string",
				                strlen(tok->text), SCENARIO_MAX_REASON_LENGTH);
				c->failed = TRUE;
				break;
			}
			reason = g_strdup(tok->text);
		} else if (accept(c, "code")) {
			if (!once(c, &has_code, "code"))
				break;
			/* RFC 5782 2.3: answers come from 127.0.0.0/8, never a routable address. */
			const ScnToken *code_tok = peek(c);
			if (code_tok != NULL && code_tok->kind == SCN_TOKEN_WORD && g_str_has_prefix(code_tok->text, "127.") &&
			    scenario_value_ipv4(code_tok->text, NULL)) {
				code = g_strdup(code_tok->text);
				c->i++;
			} else {
				fail(c, "a return code in 127.0.0.0/8, like 127.0.0.2");
			}
		} else {
			fail(c, "a \"reason\" in double quotes, or \"code\"");
		}
	}
	if (c->failed)
		return;
	/* RFC 5782 5: 127.0.0.1 is the test entry that is never listed. */
	if (strcmp(listed, "127.0.0.1") == 0) {
		invalid(c, listed_tok, "127.0.0.1 is never listed: it is how a client tests that a list answers \"no\"");
		return;
	}
	add_server_ref(p, server, server_tok, zone_tok);
	ScenarioDnsblEntry *entry = g_new0(ScenarioDnsblEntry, 1);
	entry->zone = g_steal_pointer(&zone);
	entry->server = g_steal_pointer(&server);
	entry->listed = g_steal_pointer(&listed);
	entry->reason = g_steal_pointer(&reason);
	entry->code = code ? g_steal_pointer(&code) : g_strdup(SCENARIO_DNSBL_DEFAULT_CODE);
	entry->line = c->st->line;
	g_ptr_array_add(p->scn->dnsbl, entry);
}

/* ---- users, aliases, domains ------------------------------------------------------------- */

/* Every user of a domain lives on one host: the first user (or the domain
 * line) says which.  Returns FALSE (reported) on a conflict. */
static gboolean claim_domain(Cursor *c, const char *name, const char *host, const ScnToken *host_tok,
                             gboolean implied)
{
	ScnParser *p = c->p;
	ScenarioDomain *domain = g_hash_table_lookup(p->domains, name);
	if (domain != NULL && strcmp(domain->host, host) != 0) {
		invalid(c, host_tok, "%s is served by %s (line %u): its users all live there", name, domain->host,
		        domain->line);
		return FALSE;
	}
	if (domain != NULL && !implied) {
		if (!domain->implied) {
			invalid(c, &c->st->tokens[0], "domain %s is already given on line %u", name, domain->line);
			return FALSE;
		}
		domain->implied = FALSE;  /* the domain line takes the place of the user's guess */
		domain->line = c->st->line;
	}
	if (domain == NULL) {
		domain = g_new0(ScenarioDomain, 1);
		domain->name = g_strdup(name);
		domain->host = g_strdup(host);
		domain->implied = implied;
		domain->line = c->st->line;
		g_ptr_array_add(p->scn->domains, domain);
		g_hash_table_insert(p->domains, g_strdup(name), domain);
	}
	return TRUE;
}

static void parse_user(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *address_tok = peek(c), *host_tok = NULL;
	g_autofree char *address = read_mailbox(c, "the user's address, like bob@example.org");
	g_autofree char *password = NULL, *host = NULL;
	guint64 quota = 0;
	gboolean has_password = FALSE, has_host = FALSE, has_quota = FALSE;
	while (!c->failed && peek(c) != NULL) {
		if (accept(c, "password")) {
			if (!once(c, &has_password, "password"))
				break;
			const ScnToken *tok = take(c, TRUE, TRUE, FALSE, "the password, in double quotes");
			if (tok != NULL)
				password = g_strdup(tok->text);
		} else if (accept(c, "on")) {
			if (!once(c, &has_host, "on HOST"))
				break;
			host_tok = peek(c);
			host = read_host_name(c, "the host that keeps the mailbox");
		} else if (accept(c, "quota")) {
			const ScnToken *tok = peek(c);
			if (!once(c, &has_quota, "quota"))
				break;
			if (tok != NULL && tok->kind == SCN_TOKEN_WORD && scenario_parse_size(tok->text, &quota)) {
				c->i++;
			} else {
				fail(c, "a size like 100MB");
				if (tok != NULL && tok->kind == SCN_TOKEN_WORD) {
					g_autofree char *hint = scenario_value_size_hint(tok->text);
					scenario_hint(p, "%s", hint);
				}
			}
		} else {
			fail(c, "\"password\", \"on\" or \"quota\"");
			const char *const words[] = { "password", "on", "quota", NULL };
			guess(c, words);
		}
	}
	if (!c->failed && password == NULL)
		fail(c, "\"password\" and the user's password");
	if (!c->failed && host == NULL)
		fail(c, "\"on\" and the host that keeps the mailbox");
	if (c->failed)
		return;

	g_autofree char *key = g_ascii_strdown(address, -1);
	const ScenarioUser *same = g_hash_table_lookup(p->users, key);
	if (same != NULL) {
		invalid(c, address_tok, "user %s is already declared on line %u", address, same->line);
		return;
	}
	if (!claim_domain(c, strchr(address, '@') + 1, host, host_tok, TRUE))
		return;
	scenario_add_ref(p, SCN_REF_HOST, host, SCENARIO_ROLE_MDA, NULL, "the user's mailbox", host_tok);
	ScenarioUser *user = g_new0(ScenarioUser, 1);
	user->address = g_steal_pointer(&address);
	user->password = g_steal_pointer(&password);
	user->host = g_steal_pointer(&host);
	user->quota = quota;
	user->line = c->st->line;
	g_ptr_array_add(p->scn->users, user);
	g_hash_table_insert(p->users, g_steal_pointer(&key), user);
}

static void parse_alias(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *source_tok = peek(c);
	g_autofree char *source = NULL;
	/* "@example.org": every address of the domain without a mailbox. */
	if (source_tok != NULL && source_tok->kind == SCN_TOKEN_WORD && source_tok->text[0] == '@' &&
	    scenario_value_host_name(source_tok->text + 1)) {
		source = g_ascii_strdown(source_tok->text, -1);
		c->i++;
	} else {
		source = read_mailbox(c, "an address or @domain to forward, like postmaster@example.org");
	}
	if (!expect_word(c, "->"))
		scenario_hint(p, "alias postmaster@example.org -> bob@example.org");
	g_autoptr(GPtrArray) destinations = g_ptr_array_new_with_free_func(g_free);
	do {
		char *destination = read_mailbox(c, "an address to forward to, like bob@example.org");
		if (destination != NULL)
			g_ptr_array_add(destinations, destination);
	} while (accept_comma(c));
	if (!expect_end(c))
		return;
	g_autofree char *key = g_ascii_strdown(source, -1);
	const ScenarioAlias *same = g_hash_table_lookup(p->aliases, key);
	if (same != NULL) {
		invalid(c, source_tok, "alias %s is already given on line %u", source, same->line);
		return;
	}
	scenario_add_ref(p, SCN_REF_DOMAIN, strchr(source, '@') + 1, 0, NULL, "the alias", source_tok);
	ScenarioAlias *alias = g_new0(ScenarioAlias, 1);
	alias->source = g_steal_pointer(&source);
	alias->destinations = g_steal_pointer(&destinations);
	alias->line = c->st->line;
	g_ptr_array_add(p->scn->aliases, alias);
	g_hash_table_insert(p->aliases, g_steal_pointer(&key), alias);
}

static void parse_domain(Cursor *c)
{
	ScnParser *p = c->p;
	g_autofree char *name = read_host_name(c, "a domain name like example.org");
	expect_word(c, "on");
	const ScnToken *host_tok = peek(c);
	g_autofree char *host = read_host_name(c, "the host whose mda serves the domain");
	if (!expect_end(c))
		return;
	if (!claim_domain(c, name, host, host_tok, FALSE))
		return;
	scenario_add_ref(p, SCN_REF_HOST, host, SCENARIO_ROLE_MDA, NULL, "the domain's mailboxes", host_tok);
}

/* ---- settings ------------------------------------------------------------------------------- */

static void parse_on(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *tok = peek(c);
	if (tok == NULL || tok->kind != SCN_TOKEN_WORD) {
		fail(c, "a host name and \":\"");
		return;
	}
	/* "on mx.example.org:" or "on mx.example.org :" */
	gsize len = strlen(tok->text);
	gboolean colon = len > 1 && tok->text[len - 1] == ':';
	g_autofree char *name = g_ascii_strdown(tok->text, colon ? (gssize)len - 1 : (gssize)len);
	if (!scenario_value_host_name(name)) {
		fail(c, "a host name and \":\"");
		return;
	}
	c->i++;
	if (!colon && !accept(c, ":")) {
		fail(c, "\":\" after the host name");
		scenario_hint(p, "on %s:   and then one setting a line, indented: name = value", name);
		return;
	}
	if (!expect_end(c)) {
		scenario_hint(p, "put each setting on its own indented line under on %s:", name);
		return;
	}
	scenario_add_ref(p, SCN_REF_HOST, name, 0, NULL, "the settings", tok);
	g_free(p->block_host);
	p->block_host = g_steal_pointer(&name);
	p->block_line = c->st->line;
	p->block_setting = NULL;
	p->block_skip = FALSE;
}

void scenario_world_setting(ScnParser *p, guint line, guint indent, const char *text, gsize len)
{
	/* A "#" that starts a word starts a comment, as everywhere in the file. */
	gsize cut = 0;
	while (cut < len && !(text[cut] == '#' && (cut == 0 || text[cut - 1] == ' ' || text[cut - 1] == '\t')))
		cut++;
	while (cut > 0 && (text[cut - 1] == ' ' || text[cut - 1] == '\t'))
		cut--;
	if (cut == 0)
		return;

	/* Postfix: a line indented deeper continues the value above it. */
	if (indent > p->block_indent && (p->block_setting != NULL || p->block_skip)) {
		ScenarioSetting *setting = p->block_setting;
		if (setting == NULL)
			return;
		gsize old = strlen(setting->value);
		if (old + 1 + cut > SCENARIO_MAX_SETTING_LENGTH) {
			scenario_report(p, SCENARIO_ERROR_LIMIT, line, indent + 1,
			                "the value of %s grows past %d bytes", setting->name, SCENARIO_MAX_SETTING_LENGTH);
			p->block_setting = NULL;
			p->block_skip = TRUE;
			return;
		}
		/* Appended in place: a long list must not be copied once per line. */
		gsize sep = old > 0 ? 1 : 0;
		setting->value = g_realloc(setting->value, old + sep + cut + 1);
		if (sep)
			setting->value[old] = ' ';
		memcpy(setting->value + old + sep, text, cut);
		setting->value[old + sep + cut] = '\0';
		return;
	}

	p->block_setting = NULL;
	p->block_indent = indent;
	p->block_skip = TRUE;  /* until this line proves to be a setting */
	gsize i = 0;
	while (i < cut && (g_ascii_isalnum(text[i]) || text[i] == '_'))
		i++;
	gsize j = i;
	while (j < cut && (text[j] == ' ' || text[j] == '\t'))
		j++;
	if (i == 0 || j == cut || text[j] != '=') {
		gsize at = i == 0 ? 0 : j;
		gsize word_end = at;
		while (word_end < cut && text[word_end] != ' ' && text[word_end] != '\t')
			word_end++;
		ScnToken got = { .kind = SCN_TOKEN_WORD, .text = g_strndup(text + at, word_end - at) };
		g_autofree char *described = at < cut ? scenario_describe_token(&got) : g_strdup("the end of the line");
		g_free(got.text);
		guint column = indent + (guint)g_utf8_strlen(text, (gssize)at) + 1;
		if (i == 0)
			scenario_report(p, SCENARIO_ERROR_SYNTAX, line, column,
			                "expected a setting, name = value, got %s", described);
		else
			scenario_report(p, SCENARIO_ERROR_SYNTAX, line, column, "expected = after %.*s, got %s",
			                (int)i, text, described);
		scenario_hint(p, "this line is indented, so it belongs to the \"on %s:\" block of line %u; "
		                 "settings read name = value, and other statements start at the left margin",
		              p->block_host, p->block_line);
		return;
	}
	j++;
	while (j < cut && (text[j] == ' ' || text[j] == '\t'))
		j++;
	if (cut - j > SCENARIO_MAX_SETTING_LENGTH) {
		scenario_report(p, SCENARIO_ERROR_LIMIT, line, indent + 1, "the value of %.*s is longer than %d bytes",
		                (int)i, text, SCENARIO_MAX_SETTING_LENGTH);
		return;
	}
	g_autofree char *name = g_ascii_strdown(text, (gssize)i);
	g_autofree char *key = g_strdup_printf("%s %s", p->block_host, name);
	const ScenarioSetting *same = g_hash_table_lookup(p->settings, key);
	if (same != NULL) {
		scenario_report(p, SCENARIO_ERROR_INVALID, line, indent + 1, "%s is already set for %s on line %u",
		                name, p->block_host, same->line);
		scenario_hint(p, "Postfix would silently keep the last value; say it once");
		return;
	}
	ScenarioSetting *setting = g_new0(ScenarioSetting, 1);
	setting->host = g_strdup(p->block_host);
	setting->name = g_steal_pointer(&name);
	setting->value = g_strndup(text + j, cut - j);
	setting->line = line;
	setting->column = indent + 1;
	g_ptr_array_add(p->scn->settings, setting);
	g_hash_table_insert(p->settings, g_steal_pointer(&key), setting);
	p->block_setting = setting;
	p->block_skip = FALSE;
}

/* ---- sieve, clients, firewall ---------------------------------------------------------------- */

static void parse_sieve(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *address_tok = peek(c);
	g_autofree char *address = read_mailbox(c, "the address of the user whose mail it filters");
	const ScnToken *block = take(c, FALSE, FALSE, TRUE, "a << block holding the Sieve script");
	if (block == NULL || !expect_end(c))
		return;
	g_autofree char *key = g_ascii_strdown(address, -1);
	const ScenarioSieve *same = g_hash_table_lookup(p->sieves, key);
	if (same != NULL) {
		invalid(c, address_tok, "%s already has a Sieve script, on line %u", address, same->line);
		return;
	}
	scenario_add_ref(p, SCN_REF_USER, address, 0, NULL, "the Sieve script", address_tok);
	ScenarioSieve *sieve = g_new0(ScenarioSieve, 1);
	sieve->address = g_steal_pointer(&address);
	sieve->text = g_strdup(block->text);
	sieve->text_line = block->text_line;
	sieve->line = c->st->line;
	g_ptr_array_add(p->scn->sieves, sieve);
	g_hash_table_insert(p->sieves, g_steal_pointer(&key), sieve);
}

typedef struct {
	const char           *name;
	ScenarioClientFlavour flavour;
} FlavourName;

static const FlavourName flavour_names[] = {
	{ "thunderbird", SCENARIO_FLAVOUR_THUNDERBIRD },
	{ "outlook",     SCENARIO_FLAVOUR_OUTLOOK },
	{ "rfc6186",     SCENARIO_FLAVOUR_RFC6186 },
	{ "manual",      SCENARIO_FLAVOUR_MANUAL },
};
static const char *const flavour_words[] = { "thunderbird", "outlook", "rfc6186", "manual", NULL };
static const char *const client_words[] = { "name", "imap", "pop3", "smtp", "thunderbird", "outlook",
	                                        "rfc6186", "manual", NULL };

static gboolean read_server(Cursor *c, char **host_r, guint *port_r)
{
	const ScnToken *tok = peek(c);
	if (c->failed)
		return FALSE;
	if (tok != NULL && tok->kind == SCN_TOKEN_WORD && scenario_value_host_port(tok->text, host_r, port_r)) {
		c->i++;
		return TRUE;
	}
	fail(c, "a server, like mail.example.com or mail.example.com:993");
	return FALSE;
}

static void parse_client(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *name_tok = peek(c);
	if (name_tok == NULL || name_tok->kind != SCN_TOKEN_WORD || !scenario_value_client_name(name_tok->text)) {
		fail(c, "a client name like alice");
		if (name_tok != NULL && name_tok->kind == SCN_TOKEN_WORD && g_ascii_isalpha(name_tok->text[0]))
			scenario_hint(p, "a client name is a letter, then letters, digits, - or _, and no keyword");
		return;
	}
	c->i++;
	ScenarioClient client = { .flavour = SCENARIO_FLAVOUR_THUNDERBIRD };
	g_autofree char *name = g_ascii_strdown(name_tok->text, -1);
	g_autofree char *display_name = NULL, *incoming_host = NULL, *smtp_host = NULL;

	gboolean keyword = accept(c, "flavour") || accept(c, "flavor");
	gboolean found = FALSE;
	for (guint i = 0; !found && i < G_N_ELEMENTS(flavour_names); i++)
		if (accept(c, flavour_names[i].name)) {
			client.flavour = flavour_names[i].flavour;
			found = TRUE;
		}
	if (keyword && !found) {
		fail(c, "a flavour: thunderbird, outlook, rfc6186 or manual");
		guess(c, flavour_words);
	}
	gboolean manual = client.flavour == SCENARIO_FLAVOUR_MANUAL;
	gboolean has_name = FALSE, has_incoming = FALSE, has_smtp = FALSE;
	while (!c->failed && peek(c) != NULL) {
		if (accept(c, "name")) {
			if (!once(c, &has_name, "name"))
				break;
			const ScnToken *tok = take(c, FALSE, TRUE, FALSE, "the display name in double quotes");
			if (tok != NULL)
				display_name = g_strdup(tok->text);
		} else if (is_word(c, "imap") || is_word(c, "pop3")) {
			client.incoming = is_word(c, "imap") ? SCENARIO_PROTOCOL_IMAP : SCENARIO_PROTOCOL_POP3;
			c->i++;
			if (!once(c, &has_incoming, "the incoming protocol"))
				break;
			if (manual)
				read_server(c, &incoming_host, &client.incoming_port);
		} else if (manual && accept(c, "smtp")) {
			if (once(c, &has_smtp, "smtp"))
				read_server(c, &smtp_host, &client.smtp_port);
		} else {
			fail(c, manual ? "\"name\", \"imap\", \"pop3\" or \"smtp\"" : "\"name\", \"imap\" or \"pop3\"");
			const ScnToken *tok = peek(c);
			char *server = NULL;
			guint port;
			gboolean looks_like_server = tok->kind == SCN_TOKEN_WORD && strpbrk(tok->text, ".:") != NULL &&
			                             scenario_value_host_port(tok->text, &server, &port);
			g_free(server);
			if (!manual && (is_word(c, "smtp") || looks_like_server))
				scenario_hint(p, "servers are typed in only for a manual client: "
				                 "client %s manual imap HOST smtp HOST", name);
			else
				guess(c, client_words);
		}
	}
	if (!c->failed && manual && (incoming_host == NULL || smtp_host == NULL)) {
		fail(c, incoming_host == NULL ? "\"imap\" or \"pop3\" and the incoming server"
		                              : "\"smtp\" and the outgoing server");
		scenario_hint(p, "a manual client is told both servers: "
		                 "client %s manual imap mail.example.com:143 smtp mail.example.com:587", name);
	}
	if (c->failed)
		return;
	const ScenarioClient *same = g_hash_table_lookup(p->clients, name);
	if (same != NULL) {
		invalid(c, name_tok, "client %s is already declared on line %u", name, same->line);
		return;
	}
	scenario_add_ref(p, SCN_REF_CLIENT_HOST, name, 0, NULL, "the client", name_tok);
	ScenarioClient *copy = g_memdup2(&client, sizeof client);
	copy->name = g_steal_pointer(&name);
	copy->display_name = g_steal_pointer(&display_name);
	copy->incoming_host = g_steal_pointer(&incoming_host);
	copy->smtp_host = g_steal_pointer(&smtp_host);
	copy->declared = TRUE;
	copy->line = c->st->line;
	g_ptr_array_add(p->scn->clients, copy);
	g_hash_table_insert(p->clients, g_strdup(copy->name), copy);
}

static void parse_firewall(Cursor *c)
{
	ScnParser *p = c->p;
	const ScnToken *host_tok = peek(c);
	g_autofree char *host = read_host_name(c, "the host whose incoming traffic the rule filters");
	ScenarioFirewallRule rule = { .action = SCENARIO_FW_ACCEPT, .proto = SCENARIO_FW_ANY };
	if (accept(c, "accept"))
		rule.action = SCENARIO_FW_ACCEPT;
	else if (accept(c, "reject"))
		rule.action = SCENARIO_FW_REJECT;
	else if (accept(c, "drop"))
		rule.action = SCENARIO_FW_DROP;
	else {
		fail(c, "\"accept\", \"reject\" or \"drop\"");
		const char *const words[] = { "accept", "reject", "drop", NULL };
		guess(c, words);
	}
	g_autofree char *from = NULL;
	gboolean has_proto = FALSE, has_port = FALSE, has_from = FALSE;
	while (!c->failed && peek(c) != NULL) {
		if (is_word(c, "tcp") || is_word(c, "udp") || is_word(c, "any")) {
			rule.proto = is_word(c, "tcp") ? SCENARIO_FW_TCP : is_word(c, "udp") ? SCENARIO_FW_UDP : SCENARIO_FW_ANY;
			c->i++;
			once(c, &has_proto, "the protocol");
		} else if (accept(c, "port")) {
			guint64 port;
			if (once(c, &has_port, "port") && read_uint(c, 1, 65535, "a port number, 1 to 65535", &port))
				rule.port = (guint)port;
		} else if (accept(c, "from")) {
			if (once(c, &has_from, "from"))
				from = read_cidr(c, "an address or range, like 203.0.113.0/24");
		} else {
			fail(c, "\"tcp\", \"udp\", \"any\", \"port\" or \"from\"");
			const char *const words[] = { "tcp", "udp", "any", "port", "from", NULL };
			guess(c, words);
		}
	}
	if (c->failed)
		return;
	scenario_add_ref(p, SCN_REF_HOST, host, 0, NULL, "the firewall rule", host_tok);
	ScenarioFirewallRule *copy = g_memdup2(&rule, sizeof rule);
	copy->host = g_steal_pointer(&host);
	copy->from = g_steal_pointer(&from);
	copy->line = c->st->line;
	g_ptr_array_add(p->scn->firewall, copy);
}

/* ---- the keyword table ------------------------------------------------------------------------ */

typedef struct {
	const char *keyword;
	void      (*parse)(Cursor *c);
	void      (*parse_script)(ScnParser *p, const ScnStatement *st);
	const char *usage;   /* shown when a line goes wrong without a better hint */
} Statement;

static const Statement statements[] = {
	{ "title",       parse_title,       NULL, "title \"From Alice to Bob\"" },
	{ "seed",        parse_seed,        NULL, "seed 1" },
	{ "description", parse_description, NULL, "description \"What the scenario shows\"" },
	{ "host",        parse_host,        NULL, "host mail.example.com 192.0.2.10 runs mta mda mra web" },
	{ "link",        parse_link,        NULL, "link * latency 20ms bandwidth 1MB/s" },
	{ "zone",        parse_zone,        NULL, "zone example.com on ns.example.net <<" },
	{ "dnsbl",       parse_dnsbl,       NULL, "dnsbl rbl.example.net list 203.0.113.66 \"spam source\" code 127.0.0.2" },
	{ "user",        parse_user,        NULL, "user bob@example.org password \"builder\" on mx.example.org quota 100MB" },
	{ "alias",       parse_alias,       NULL, "alias postmaster@example.org -> bob@example.org" },
	{ "domain",      parse_domain,      NULL, "domain example.org on mx.example.org" },
	{ "on",          parse_on,          NULL, "on mx.example.org:" },
	{ "sieve",       parse_sieve,       NULL, "sieve bob@example.org <<" },
	{ "client",      parse_client,      NULL, "client alice flavour thunderbird name \"Alice\" imap" },
	{ "firewall",    parse_firewall,    NULL, "firewall mx.example.org drop tcp port 25 from 203.0.113.0/24" },
	{ "at",          NULL, scenario_script_at,     "at 2s alice sends to bob@example.org subject \"Hi\" body \"Hello\"" },
	{ "expect",      NULL, scenario_script_expect, "expect bob@example.org INBOX has 1 message" },
	{ "internet",    NULL, scenario_internet_statement,
	  "internet 1000 domains, 10000 users, 100000 messages over 1h" },
};

static const char *const statement_words[] = {
	"title", "seed", "description", "host", "link", "zone", "dnsbl", "user", "alias", "domain", "on",
	"sieve", "client", "firewall", "at", "expect", "internet", NULL,
};

static void unknown_statement(ScnParser *p, const ScnStatement *st)
{
	const ScnToken *tok = &st->tokens[0];
	scenario_report_expected(p, st, 0, "a statement like host, user, zone, at or expect");
	gint64 us;
	const char *best = tok->kind == SCN_TOKEN_WORD ? scenario_value_closest(tok->text, statement_words) : NULL;
	if (best != NULL)
		scenario_hint(p, "did you mean %s?", best);
	else if (tok->kind == SCN_TOKEN_WORD && scenario_parse_duration(tok->text, &us))
		scenario_hint(p, "an action starts with at: at %s ...", tok->text);
	else if (memchr(st->source, '=', st->source_len) != NULL)
		scenario_hint(p, "settings go on indented lines under \"on HOST:\"");
	else if (tok->kind == SCN_TOKEN_WORD && strcmp(tok->text, ">>") == 0)
		scenario_hint(p, "this >> ends no block: a block starts with << at the end of a line");
}

void scenario_world_statement(ScnParser *p, const ScnStatement *st)
{
	const ScnToken *tok = &st->tokens[0];
	const Statement *found = NULL;
	for (guint i = 0; tok->kind == SCN_TOKEN_WORD && i < G_N_ELEMENTS(statements); i++)
		if (g_ascii_strcasecmp(tok->text, statements[i].keyword) == 0)
			found = &statements[i];
	if (found == NULL) {
		unknown_statement(p, st);
		return;
	}

	guint before = p->problems->len;
	if (found->parse != NULL) {
		Cursor c = { .p = p, .st = st, .i = 1 };
		found->parse(&c);
	} else {
		found->parse_script(p, st);
	}
	/* A syntax problem without a hint gets the statement's usage. */
	if (p->problems->len > before && p->last_kept) {
		const ScnProblem *last = &g_array_index(p->problems, ScnProblem, p->problems->len - 1);
		if (last->hint == NULL && last->code == SCENARIO_ERROR_SYNTAX)
			scenario_hint(p, "write it as: %s", found->usage);
	}
}
