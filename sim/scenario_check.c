/* sim/scenario_check.c - once every line reads: do the names fit together?
 *
 * Resolves the names statements use (hosts, clients, users, domains, zones)
 * against what the file declares, checks each host runs the role a
 * statement needs (a mailbox needs an mda, a zone a dns server), adds the
 * clients only "runs mua" names, and orders the domains.
 */
#include <string.h>

#include "sim/scenario_internal.h"

/* The names of one kind of thing, in file order, for "did you mean". */
static GPtrArray *names_of(GPtrArray *things, gsize name_offset)
{
	GPtrArray *names = g_ptr_array_new();
	for (guint i = 0; i < things->len; i++)
		g_ptr_array_add(names, *(char **)((char *)things->pdata[i] + name_offset));
	g_ptr_array_add(names, NULL);
	return names;
}

/* A "did you mean" hint; FALSE when no name is close. */
static gboolean hint_closest(ScnParser *p, const char *name, GPtrArray *things, gsize name_offset)
{
	g_autoptr(GPtrArray) names = names_of(things, name_offset);
	const char *best = scenario_value_closest(name, (const char *const *)names->pdata);
	if (best != NULL)
		scenario_hint(p, "did you mean %s?", best);
	return best != NULL;
}

static void unknown(ScnParser *p, const ScnRef *ref, const char *kind)
{
	scenario_report(p, SCENARIO_ERROR_INVALID, ref->line, ref->column, "unknown %s \"%s\" for %s", kind,
	                ref->name, ref->what);
}

/* The roles in roles that host lacks, as "mda" or "mta and mda". */
static char *missing_roles(const ScenarioHost *host, guint roles)
{
	GString *out = g_string_new(NULL);
	for (guint bit = 1; bit <= SCENARIO_ROLE_MUA; bit <<= 1)
		if ((roles & bit) != 0 && (host->roles & bit) == 0)
			g_string_append_printf(out, "%s%s", out->len > 0 ? " and " : "", scenario_role_to_string(bit));
	return g_string_free(out, out->len == 0);
}

static const ScenarioHost *resolve_host(ScnParser *p, const ScnRef *ref)
{
	const ScenarioHost *host = g_hash_table_lookup(p->hosts, ref->name);
	if (host == NULL) {
		unknown(p, ref, "host");
		if (scenario_value_ipv4(ref->name, NULL))
			scenario_hint(p, "name the host here, not its address");
		else
			hint_closest(p, ref->name, p->scn->hosts, G_STRUCT_OFFSET(ScenarioHost, name));
		return NULL;
	}
	g_autofree char *missing = missing_roles(host, ref->roles);
	if (missing != NULL) {
		scenario_report(p, SCENARIO_ERROR_INVALID, ref->line, ref->column,
		                "%s does not run %s, which %s needs", host->name, missing, ref->what);
		scenario_hint(p, "add %s to the roles of %s on line %u", missing, host->name, host->line);
		return NULL;
	}
	return host;
}

static void set_fix(const ScnRef *ref, const char *value)
{
	g_free(*ref->fix);
	*ref->fix = g_strdup(value);
}

static void check_ref(ScnParser *p, const ScnRef *ref)
{
	const ScenarioHost *host;
	switch (ref->kind) {
	case SCN_REF_HOST:
		resolve_host(p, ref);
		break;
	case SCN_REF_HOST_OR_IP:
	case SCN_REF_SOURCE:
		host = g_hash_table_lookup(p->hosts, ref->name);
		if (host == NULL)
			host = g_hash_table_lookup(p->addresses, ref->name);
		if (host != NULL)
			set_fix(ref, host->name);
		else if (ref->kind == SCN_REF_SOURCE && scenario_value_ipv4(ref->name, NULL))
			set_fix(ref, NULL);  /* a stranger's address: the runner adds a bare machine */
		else {
			unknown(p, ref, "host");
			hint_closest(p, ref->name, p->scn->hosts, G_STRUCT_OFFSET(ScenarioHost, name));
		}
		break;
	case SCN_REF_ROLE:
		for (guint i = 0; i < p->scn->hosts->len; i++)
			if ((((ScenarioHost *)p->scn->hosts->pdata[i])->roles & ref->roles) == ref->roles)
				return;
		scenario_report(p, SCENARIO_ERROR_INVALID, ref->line, ref->column, "no host runs %s for %s",
		                scenario_role_to_string(ref->roles), ref->what);
		if (ref->roles == SCENARIO_ROLE_DNS)
			scenario_hint(p, "declare one: host ns.example.net 203.0.113.53 runs dns");
		break;
	case SCN_REF_CLIENT:
		if (g_hash_table_lookup(p->clients, ref->name) == NULL) {
			unknown(p, ref, "client");
			if (!hint_closest(p, ref->name, p->scn->clients, G_STRUCT_OFFSET(ScenarioClient, name)))
				scenario_hint(p, "a client is the mua a host runs: host pc 192.0.2.77 runs mua %s", ref->name);
		}
		break;
	case SCN_REF_CLIENT_HOST:
		host = g_hash_table_lookup(p->mua_hosts, ref->name);
		if (host == NULL) {
			scenario_report(p, SCENARIO_ERROR_INVALID, ref->line, ref->column, "no host runs client %s",
			                ref->name);
			scenario_hint(p, "give it a machine: host pc-%s 192.0.2.77 runs mua %s", ref->name, ref->name);
		}
		break;
	case SCN_REF_USER: {
		g_autofree char *key = g_ascii_strdown(ref->name, -1);
		if (g_hash_table_lookup(p->users, key) == NULL) {
			unknown(p, ref, "user");
			hint_closest(p, ref->name, p->scn->users, G_STRUCT_OFFSET(ScenarioUser, address));
		}
		break;
	}
	case SCN_REF_DOMAIN:
		if (g_hash_table_lookup(p->domains, ref->name) == NULL) {
			unknown(p, ref, "domain");
			scenario_hint(p, "a domain is served once a user or domain line names it: domain %s on HOST",
			              ref->name);
		}
		break;
	case SCN_REF_ZONE:
		for (guint i = 0; i < p->scn->zones->len; i++)
			if (strcmp(((ScenarioZone *)p->scn->zones->pdata[i])->origin, ref->name) == 0)
				return;
		for (guint i = 0; i < p->scn->dnsbl->len; i++)
			if (strcmp(((ScenarioDnsblEntry *)p->scn->dnsbl->pdata[i])->zone, ref->name) == 0)
				return;
		unknown(p, ref, "zone");
		hint_closest(p, ref->name, p->scn->zones, G_STRUCT_OFFSET(ScenarioZone, origin));
		break;
	}
}

/* Every client a host runs exists: a "client" line, or the defaults. */
static void add_clients(ScnParser *p)
{
	for (guint i = 0; i < p->scn->hosts->len; i++) {
		const ScenarioHost *host = p->scn->hosts->pdata[i];
		for (guint k = 0; k < host->clients->len; k++) {
			const char *name = host->clients->pdata[k];
			ScenarioClient *client = g_hash_table_lookup(p->clients, name);
			if (client == NULL) {
				client = g_new0(ScenarioClient, 1);
				client->name = g_strdup(name);
				client->flavour = SCENARIO_FLAVOUR_THUNDERBIRD;
				client->line = host->line;
				g_ptr_array_add(p->scn->clients, client);
				g_hash_table_insert(p->clients, g_strdup(name), client);
			}
			g_free(client->host);
			client->host = g_strdup(host->name);
		}
	}
}

/* Domain lines first, then the domains only users imply; each group in file order. */
static void order_domains(Scenario *scn)
{
	guint n = scn->domains->len, k = 0;
	if (n == 0)
		return;
	g_autofree gpointer *ordered = g_new(gpointer, n + 1);
	for (int pass = 0; pass < 2; pass++)
		for (guint i = 0; i < n; i++) {
			ScenarioDomain *domain = scn->domains->pdata[i];
			if (domain->implied == (pass == 1))
				ordered[k++] = domain;
		}
	memcpy(scn->domains->pdata, ordered, n * sizeof(gpointer));
}

void scenario_check(ScnParser *p)
{
	Scenario *scn = p->scn;
	if (scn->title == NULL) {
		scenario_report(p, SCENARIO_ERROR_INVALID, 1, 1, "the scenario has no title");
		scenario_hint(p, "add a line: title \"From Alice to Bob\"");
	}
	add_clients(p);
	for (guint i = 0; i < p->refs->len; i++)
		check_ref(p, &g_array_index(p->refs, ScnRef, i));
	order_domains(scn);
	for (guint i = 0; i < scn->settings->len; i++) {
		ScenarioSetting *setting = scn->settings->pdata[i];
		setting->items = scenario_setting_list(setting->value);
	}
}
