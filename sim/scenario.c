/* sim/scenario.c - the scenario parser's front door: parse, load, free, look up.
 *
 * Runs the reader (scenario_lex.c) over the text, then the cross-reference
 * check (scenario_check.c), and turns every problem found into one GError
 * of "FILE:LINE:COLUMN: expected X, got Y" lines, each with its hint.
 */
#include <string.h>
#include <glib/gstdio.h>

#include "sim/scenario_internal.h"

/* How much of a token an error message quotes. */
#define SCENARIO_QUOTE_CHARS 40

G_DEFINE_QUARK(scenario-error-quark, scenario_error)

/* ---- names of the enums ------------------------------------------------------ */

const char *scenario_error_to_string(ScenarioError code)
{
	switch (code) {
	case SCENARIO_ERROR_SYNTAX:  return "syntax";
	case SCENARIO_ERROR_INVALID: return "invalid";
	case SCENARIO_ERROR_LIMIT:   return "limit";
	case SCENARIO_ERROR_IO:      return "io";
	}
	return "unknown";
}

const char *scenario_role_to_string(ScenarioRole role)
{
	switch (role) {
	case SCENARIO_ROLE_MTA: return "mta";
	case SCENARIO_ROLE_MDA: return "mda";
	case SCENARIO_ROLE_MRA: return "mra";
	case SCENARIO_ROLE_WEB: return "web";
	case SCENARIO_ROLE_DNS: return "dns";
	case SCENARIO_ROLE_MUA: return "mua";
	}
	return "unknown";
}

const char *scenario_client_flavour_to_string(ScenarioClientFlavour f)
{
	switch (f) {
	case SCENARIO_FLAVOUR_THUNDERBIRD: return "thunderbird";
	case SCENARIO_FLAVOUR_OUTLOOK:     return "outlook";
	case SCENARIO_FLAVOUR_RFC6186:     return "rfc6186";
	case SCENARIO_FLAVOUR_MANUAL:      return "manual";
	}
	return "unknown";
}

const char *scenario_protocol_to_string(ScenarioProtocol p)
{
	switch (p) {
	case SCENARIO_PROTOCOL_DEFAULT: return "default";
	case SCENARIO_PROTOCOL_IMAP:    return "imap";
	case SCENARIO_PROTOCOL_POP3:    return "pop3";
	}
	return "unknown";
}

const char *scenario_firewall_action_to_string(ScenarioFirewallAction a)
{
	switch (a) {
	case SCENARIO_FW_ACCEPT: return "accept";
	case SCENARIO_FW_REJECT: return "reject";
	case SCENARIO_FW_DROP:   return "drop";
	}
	return "unknown";
}

const char *scenario_firewall_proto_to_string(ScenarioFirewallProto p)
{
	switch (p) {
	case SCENARIO_FW_ANY: return "any";
	case SCENARIO_FW_TCP: return "tcp";
	case SCENARIO_FW_UDP: return "udp";
	}
	return "unknown";
}

const char *scenario_action_kind_to_string(ScenarioActionKind k)
{
	switch (k) {
	case SCENARIO_ACTION_SETUP_ACCOUNT: return "setup-account";
	case SCENARIO_ACTION_SEND:          return "send";
	case SCENARIO_ACTION_FETCH:         return "fetch";
	case SCENARIO_ACTION_MARK:          return "mark";
	case SCENARIO_ACTION_MOVE:          return "move";
	case SCENARIO_ACTION_DELETE:        return "delete";
	case SCENARIO_ACTION_CREATE_FOLDER: return "create-folder";
	case SCENARIO_ACTION_SAVE_DRAFT:    return "save-draft";
	case SCENARIO_ACTION_REPLY:         return "reply";
	case SCENARIO_ACTION_HOST_DOWN:     return "host-down";
	case SCENARIO_ACTION_HOST_UP:       return "host-up";
	case SCENARIO_ACTION_LINK_CUT:      return "link-cut";
	case SCENARIO_ACTION_LINK_RESTORE:  return "link-restore";
	case SCENARIO_ACTION_DNS_REMOVE:    return "dns-remove";
	case SCENARIO_ACTION_DNS_ADD:       return "dns-add";
	case SCENARIO_ACTION_RAW_SESSION:   return "raw-session";
	}
	return "unknown";
}

const char *scenario_fetch_mode_to_string(ScenarioFetchMode m)
{
	switch (m) {
	case SCENARIO_FETCH_DEFAULT: return "default";
	case SCENARIO_FETCH_KEEP:    return "keep";
	case SCENARIO_FETCH_DELETE:  return "delete";
	}
	return "unknown";
}

const char *scenario_mark_to_string(ScenarioMark m)
{
	switch (m) {
	case SCENARIO_MARK_SEEN:    return "seen";
	case SCENARIO_MARK_FLAGGED: return "flagged";
	}
	return "unknown";
}

const char *scenario_expect_kind_to_string(ScenarioExpectKind k)
{
	switch (k) {
	case SCENARIO_EXPECT_FOLDER_COUNT:   return "folder-count";
	case SCENARIO_EXPECT_BOUNCE:         return "bounce";
	case SCENARIO_EXPECT_NO_BOUNCE:      return "no-bounce";
	case SCENARIO_EXPECT_STEP:           return "step";
	case SCENARIO_EXPECT_STEPS_SEEN:     return "steps-seen";
	case SCENARIO_EXPECT_STEPS_IN_ORDER: return "steps-in-order";
	case SCENARIO_EXPECT_QUEUE_EMPTY:    return "queue-empty";
	case SCENARIO_EXPECT_ALL_DELIVERED:  return "all-delivered";
	}
	return "unknown";
}

const char *scenario_step_state_to_string(ScenarioStepState s)
{
	switch (s) {
	case SCENARIO_STEP_SEEN:     return "seen";
	case SCENARIO_STEP_REFUSED:  return "refused";
	case SCENARIO_STEP_NOT_SEEN: return "not seen";
	}
	return "unknown";
}

const char *scenario_token_kind_to_string(ScnTokenKind kind)
{
	switch (kind) {
	case SCN_TOKEN_WORD:    return "word";
	case SCN_TOKEN_STRING:  return "string";
	case SCN_TOKEN_COMMA:   return "comma";
	case SCN_TOKEN_HEREDOC: return "block";
	}
	return "unknown";
}

/* ---- problems ---------------------------------------------------------------- */

void scenario_report(ScnParser *p, ScenarioError code, guint line, guint column, const char *fmt, ...)
{
	p->last_kept = FALSE;
	if (p->stopped)
		return;
	if (p->problems->len >= SCENARIO_MAX_ERRORS) {
		p->stopped = TRUE;
		p->stop_line = line;
		return;
	}
	ScnProblem problem = { .line = line, .column = column, .code = code };
	va_list ap;
	va_start(ap, fmt);
	problem.message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_array_append_val(p->problems, problem);
	p->last_kept = TRUE;
}

void scenario_hint(ScnParser *p, const char *fmt, ...)
{
	if (!p->last_kept)
		return;
	ScnProblem *problem = &g_array_index(p->problems, ScnProblem, p->problems->len - 1);
	va_list ap;
	va_start(ap, fmt);
	g_free(problem->hint);
	problem->hint = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

char *scenario_describe_token(const ScnToken *tok)
{
	if (tok == NULL)
		return g_strdup("the end of the line");
	if (tok->kind == SCN_TOKEN_HEREDOC)
		return g_strdup("a << block");
	if (tok->kind == SCN_TOKEN_COMMA)
		return g_strdup("\",\"");

	/* Quote it the way it could be written back, cut short if long. */
	GString *out = g_string_new("\"");
	const char *s = tok->text;
	for (guint n = 0; *s != '\0'; n++) {
		if (n == SCENARIO_QUOTE_CHARS) {
			g_string_append(out, "...");
			break;
		}
		const char *next = g_utf8_next_char(s);
		guchar c = (guchar)*s;
		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", c);
		else if (c == '\n')
			g_string_append(out, "\\n");
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\x%02x", c);
		else
			g_string_append_len(out, s, next - s);
		s = next;
	}
	g_string_append_c(out, '"');
	return g_string_free(out, FALSE);
}

void scenario_report_expected(ScnParser *p, const ScnStatement *st, guint i, const char *what)
{
	const ScnToken *tok = i < st->n_tokens ? &st->tokens[i] : NULL;
	g_autofree char *got = scenario_describe_token(tok);
	scenario_report(p, SCENARIO_ERROR_SYNTAX, st->line, tok ? tok->column : st->end_column,
	                "expected %s, got %s", what, got);
}

void scenario_add_ref(ScnParser *p, ScnRefKind kind, const char *name, guint roles,
                      char **fix, const char *what, const ScnToken *at)
{
	ScnRef ref = {
		.kind = kind, .name = g_strdup(name), .roles = roles, .fix = fix,
		.what = g_strdup(what), .line = at->line, .column = at->column,
	};
	g_array_append_val(p->refs, ref);
}

static void problem_clear(gpointer data)
{
	ScnProblem *problem = data;
	g_free(problem->message);
	g_free(problem->hint);
}

static void ref_clear(gpointer data)
{
	ScnRef *ref = data;
	g_free(ref->name);
	g_free(ref->what);
}

static gint problem_compare(gconstpointer a, gconstpointer b)
{
	const ScnProblem *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return 0;
}

/* Every problem, one per line, in file order (the sort is stable). */
static void problems_to_error(ScnParser *p, GError **error)
{
	g_array_sort(p->problems, problem_compare);
	GString *text = g_string_new(NULL);
	for (guint i = 0; i < p->problems->len; i++) {
		const ScnProblem *problem = &g_array_index(p->problems, ScnProblem, i);
		if (i > 0)
			g_string_append_c(text, '\n');
		g_string_append_printf(text, "%s:%u:%u: %s", p->filename, problem->line, problem->column,
		                       problem->message);
		if (problem->hint != NULL)
			g_string_append_printf(text, "\n  hint: %s", problem->hint);
	}
	if (p->stopped)
		g_string_append_printf(text, "\n%s:%u: stopping after %d errors", p->filename,
		                       p->stop_line, SCENARIO_MAX_ERRORS);
	const ScnProblem *first = &g_array_index(p->problems, ScnProblem, 0);
	g_set_error_literal(error, SCENARIO_ERROR, first->code, text->str);
	g_string_free(text, TRUE);
}

/* ---- the scenario ---------------------------------------------------------------- */

static void host_free(gpointer data)
{
	ScenarioHost *host = data;
	g_free(host->name);
	g_free(host->address);
	g_clear_pointer(&host->clients, g_ptr_array_unref);
	g_free(host);
}

static void link_free(gpointer data)
{
	ScenarioLink *link = data;
	g_free(link->a);
	g_free(link->b);
	g_free(link);
}

static void zone_free(gpointer data)
{
	ScenarioZone *zone = data;
	g_free(zone->origin);
	g_free(zone->server);
	g_free(zone->text);
	g_free(zone);
}

static void dnsbl_free(gpointer data)
{
	ScenarioDnsblEntry *entry = data;
	g_free(entry->zone);
	g_free(entry->server);
	g_free(entry->listed);
	g_free(entry->reason);
	g_free(entry->code);
	g_free(entry);
}

static void user_free(gpointer data)
{
	ScenarioUser *user = data;
	g_free(user->address);
	g_free(user->password);
	g_free(user->host);
	g_free(user);
}

static void alias_free(gpointer data)
{
	ScenarioAlias *alias = data;
	g_free(alias->source);
	g_clear_pointer(&alias->destinations, g_ptr_array_unref);
	g_free(alias);
}

static void domain_free(gpointer data)
{
	ScenarioDomain *domain = data;
	g_free(domain->name);
	g_free(domain->host);
	g_free(domain);
}

static void setting_free(gpointer data)
{
	ScenarioSetting *setting = data;
	g_free(setting->host);
	g_free(setting->name);
	g_free(setting->value);
	g_strfreev(setting->items);
	g_free(setting);
}

static void sieve_free(gpointer data)
{
	ScenarioSieve *sieve = data;
	g_free(sieve->address);
	g_free(sieve->text);
	g_free(sieve);
}

static void client_free(gpointer data)
{
	ScenarioClient *client = data;
	g_free(client->name);
	g_free(client->display_name);
	g_free(client->incoming_host);
	g_free(client->smtp_host);
	g_free(client->host);
	g_free(client);
}

static void firewall_free(gpointer data)
{
	ScenarioFirewallRule *rule = data;
	g_free(rule->host);
	g_free(rule->from);
	g_free(rule);
}

static Scenario *scenario_new(const char *filename)
{
	Scenario *scn = g_new0(Scenario, 1);
	scn->filename = g_strdup(filename);
	scn->seed = 1;
	scn->hosts = g_ptr_array_new_with_free_func(host_free);
	scn->links = g_ptr_array_new_with_free_func(link_free);
	scn->zones = g_ptr_array_new_with_free_func(zone_free);
	scn->dnsbl = g_ptr_array_new_with_free_func(dnsbl_free);
	scn->users = g_ptr_array_new_with_free_func(user_free);
	scn->aliases = g_ptr_array_new_with_free_func(alias_free);
	scn->domains = g_ptr_array_new_with_free_func(domain_free);
	scn->settings = g_ptr_array_new_with_free_func(setting_free);
	scn->sieves = g_ptr_array_new_with_free_func(sieve_free);
	scn->clients = g_ptr_array_new_with_free_func(client_free);
	scn->firewall = g_ptr_array_new_with_free_func(firewall_free);
	scn->actions = g_ptr_array_new_with_free_func((GDestroyNotify)scenario_action_free);
	scn->expects = g_ptr_array_new_with_free_func((GDestroyNotify)scenario_expect_free);
	return scn;
}

/* ---- the index: a world of ten thousand users is looked up often ---- */

struct ScenarioIndex {
	GHashTable *hosts, *users, *clients, *domains;  /* name, any case -> struct */
	GHashTable *addresses;                          /* IPv4 address, as written -> host */
	GHashTable *settings;                           /* "host\nname", any case -> value */
};

guint scenario_caseless_hash(gconstpointer key)
{
	guint h = 5381;
	for (const char *c = key; *c; c++)
		h = h * 33 + (guchar)g_ascii_tolower(*c);
	return h;
}

gboolean scenario_caseless_equal(gconstpointer a, gconstpointer b)
{
	return g_ascii_strcasecmp(a, b) == 0;
}

/* items by the string at key_offset; equal keys as key_equal says */
static GHashTable *index_table(GPtrArray *items, gsize key_offset, GHashFunc key_hash, GEqualFunc key_equal)
{
	GHashTable *t = g_hash_table_new(key_hash, key_equal);
	/* the first of equal names wins, as the scans did */
	for (guint i = items->len; i-- > 0;) {
		gpointer item = items->pdata[i];
		g_hash_table_replace(t, G_STRUCT_MEMBER(char *, item, key_offset), item);
	}
	return t;
}

static struct ScenarioIndex *index_new(const Scenario *scn)
{
	struct ScenarioIndex *x = g_new0(struct ScenarioIndex, 1);
	GHashFunc h = scenario_caseless_hash;
	GEqualFunc eq = scenario_caseless_equal;
	x->hosts = index_table(scn->hosts, G_STRUCT_OFFSET(ScenarioHost, name), h, eq);
	x->addresses = index_table(scn->hosts, G_STRUCT_OFFSET(ScenarioHost, address), g_str_hash, g_str_equal);
	x->users = index_table(scn->users, G_STRUCT_OFFSET(ScenarioUser, address), h, eq);
	x->clients = index_table(scn->clients, G_STRUCT_OFFSET(ScenarioClient, name), h, eq);
	x->domains = index_table(scn->domains, G_STRUCT_OFFSET(ScenarioDomain, name), h, eq);
	x->settings = g_hash_table_new_full(scenario_caseless_hash, scenario_caseless_equal, g_free, NULL);
	for (guint i = scn->settings->len; i-- > 0;) {
		const ScenarioSetting *s = scn->settings->pdata[i];
		g_hash_table_replace(x->settings, g_strconcat(s->host, "\n", s->name, NULL), s->value);
	}
	return x;
}

static void index_free(struct ScenarioIndex *x)
{
	if (!x)
		return;
	g_hash_table_unref(x->hosts);
	g_hash_table_unref(x->addresses);
	g_hash_table_unref(x->users);
	g_hash_table_unref(x->clients);
	g_hash_table_unref(x->domains);
	g_hash_table_unref(x->settings);
	g_free(x);
}

void scenario_free(Scenario *scn)
{
	if (scn == NULL)
		return;
	g_free(scn->filename);
	g_free(scn->title);
	g_free(scn->description);
	g_ptr_array_unref(scn->hosts);
	g_ptr_array_unref(scn->links);
	g_ptr_array_unref(scn->zones);
	g_ptr_array_unref(scn->dnsbl);
	g_ptr_array_unref(scn->users);
	g_ptr_array_unref(scn->aliases);
	g_ptr_array_unref(scn->domains);
	g_ptr_array_unref(scn->settings);
	g_ptr_array_unref(scn->sieves);
	g_ptr_array_unref(scn->clients);
	g_ptr_array_unref(scn->firewall);
	g_ptr_array_unref(scn->actions);
	g_ptr_array_unref(scn->expects);
	index_free(scn->index);
	g_free(scn);
}

static void parser_init(ScnParser *p, const char *filename)
{
	memset(p, 0, sizeof *p);
	p->filename = filename;
	p->scn = scenario_new(filename);
	p->problems = g_array_new(FALSE, TRUE, sizeof(ScnProblem));
	g_array_set_clear_func(p->problems, problem_clear);
	p->refs = g_array_new(FALSE, TRUE, sizeof(ScnRef));
	g_array_set_clear_func(p->refs, ref_clear);
	/* The tables borrow the structs (the Scenario owns them) but own their keys. */
	p->hosts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->addresses = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->mua_hosts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->clients = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->aliases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->zones = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->sieves = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->links = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

static void parser_clear(ScnParser *p)
{
	g_array_unref(p->problems);
	g_array_unref(p->refs);
	g_hash_table_unref(p->hosts);
	g_hash_table_unref(p->addresses);
	g_hash_table_unref(p->mua_hosts);
	g_hash_table_unref(p->clients);
	g_hash_table_unref(p->users);
	g_hash_table_unref(p->domains);
	g_hash_table_unref(p->aliases);
	g_hash_table_unref(p->zones);
	g_hash_table_unref(p->sieves);
	g_hash_table_unref(p->settings);
	g_hash_table_unref(p->links);
	g_free(p->block_host);
	scenario_free(p->scn);
}

/* By time; one line holds one action, so the line settles ties in file order. */
static gint action_compare(gconstpointer a, gconstpointer b)
{
	const ScenarioAction *x = *(ScenarioAction *const *)a, *y = *(ScenarioAction *const *)b;
	if (x->time_us != y->time_us)
		return x->time_us < y->time_us ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return 0;
}

Scenario *scenario_parse(const char *text, gssize len, const char *filename, GError **error)
{
	return scenario_parse_scaled(text, len, filename, NULL, error);
}

Scenario *scenario_parse_scaled(const char *text, gssize len, const char *filename,
                                const ScenarioScale *scale, GError **error)
{
	g_return_val_if_fail(text != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);
	if (filename == NULL)
		filename = "scenario";

	ScnParser p;
	parser_init(&p, filename);
	p.scale = scale;
	gsize size = len < 0 ? strlen(text) : (gsize)len;
	if (size > SCENARIO_MAX_FILE_SIZE) {
		scenario_report(&p, SCENARIO_ERROR_LIMIT, 1, 1,
		                "the file is %" G_GSIZE_FORMAT " bytes, more than the %d a scenario may hold",
		                size, SCENARIO_MAX_FILE_SIZE);
	} else {
		scenario_lex_read(&p, text, size);
		/* Cross-references only once every line reads: see scenario.h. */
		if (p.problems->len == 0 && !p.stopped)
			scenario_check(&p);
	}

	Scenario *scn = NULL;
	if (p.problems->len > 0) {
		problems_to_error(&p, error);
	} else {
		g_ptr_array_sort(p.scn->actions, action_compare);
		p.scn->index = index_new(p.scn);
		scn = g_steal_pointer(&p.scn);
	}
	parser_clear(&p);
	return scn;
}

Scenario *scenario_load_file(const char *path, GError **error)
{
	return scenario_load_file_scaled(path, NULL, error);
}

Scenario *scenario_load_file_scaled(const char *path, const ScenarioScale *scale, GError **error)
{
	g_return_val_if_fail(path != NULL, NULL);
	/* Refuse a huge file before reading it all into memory. */
	GStatBuf st;
	if (g_stat(path, &st) == 0 && st.st_size > SCENARIO_MAX_FILE_SIZE) {
		g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_LIMIT,
		            "%s: the file is %lld bytes, more than the %d a scenario may hold",
		            path, (long long)st.st_size, SCENARIO_MAX_FILE_SIZE);
		return NULL;
	}
	g_autofree char *contents = NULL;
	gsize len = 0;
	GError *local = NULL;
	if (!g_file_get_contents(path, &contents, &len, &local)) {
		g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_IO, "%s", local->message);
		g_error_free(local);
		return NULL;
	}
	return scenario_parse_scaled(contents, (gssize)len, path, scale, error);
}

/* ---- look-ups ---------------------------------------------------------------------- */

/* Every Scenario comes from scenario_parse_scaled, which builds the index. */

const ScenarioHost *scenario_find_host(const Scenario *scn, const char *name)
{
	g_return_val_if_fail(scn != NULL && scn->index != NULL && name != NULL, NULL);
	return g_hash_table_lookup(scn->index->hosts, name);
}

const ScenarioHost *scenario_find_host_by_address(const Scenario *scn, const char *address)
{
	g_return_val_if_fail(scn != NULL && scn->index != NULL && address != NULL, NULL);
	return g_hash_table_lookup(scn->index->addresses, address);
}

const ScenarioUser *scenario_find_user(const Scenario *scn, const char *address)
{
	g_return_val_if_fail(scn != NULL && scn->index != NULL && address != NULL, NULL);
	return g_hash_table_lookup(scn->index->users, address);
}

const ScenarioClient *scenario_find_client(const Scenario *scn, const char *name)
{
	g_return_val_if_fail(scn != NULL && scn->index != NULL && name != NULL, NULL);
	return g_hash_table_lookup(scn->index->clients, name);
}

const ScenarioDomain *scenario_find_domain(const Scenario *scn, const char *name)
{
	g_return_val_if_fail(scn != NULL && scn->index != NULL && name != NULL, NULL);
	return g_hash_table_lookup(scn->index->domains, name);
}

const char *scenario_find_setting(const Scenario *scn, const char *host, const char *name)
{
	g_return_val_if_fail(scn != NULL && scn->index != NULL && host != NULL && name != NULL, NULL);
	g_autofree char *key = g_strconcat(host, "\n", name, NULL);
	return g_hash_table_lookup(scn->index->settings, key);
}
