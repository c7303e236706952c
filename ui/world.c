/* ui/world.c - hosts as boxes, and event names to boxes.
 *
 * The DNS names a host answers to come from the scenario's zones (RFC 1035
 * 5.1 master files, read with net/dns_zone.h): an event that says
 * "autoconfig.example.com" lands in the box of the host that name's A
 * record points at.
 */
#include "ui/world.h"
#include "net/dns_zone.h"

#include <string.h>

struct UiWorld {
	GPtrArray  *nodes;    /* UiNode*, owned */
	GHashTable *names;    /* lowercase name -> node index + 1 */
	GHashTable *clients;  /* lowercase client name -> node index + 1 */
	GHashTable *users;    /* lowercase mailbox or domain -> node index + 1 */
	GArray     *tiers[UI_TIER_COUNT];
	char       *title;
	gboolean    from_world;   /* built from a scenario */
	guint       generation;
};

const char *ui_tier_to_string(UiTier t)
{
	static const char *const names[] = { "left", "path", "right", "below" };
	return (guint)t < G_N_ELEMENTS(names) ? names[t] : "?";
}

const char *ui_part_to_string(UiPart p)
{
	static const char *const names[] = { "host", "MUA", "MTA", "MDA", "MRA", "web", "DNS", "db", "Maildir" };
	return (guint)p < G_N_ELEMENTS(names) ? names[p] : "?";
}

/* The roles of a scenario host, as parts. */
static const struct {
	ScenarioRole role;
	UiPart       part;
} role_parts[] = {
	{ SCENARIO_ROLE_MUA, UI_PART_MUA }, { SCENARIO_ROLE_MTA, UI_PART_MTA },
	{ SCENARIO_ROLE_MDA, UI_PART_MDA }, { SCENARIO_ROLE_MRA, UI_PART_MRA },
	{ SCENARIO_ROLE_WEB, UI_PART_WEB }, { SCENARIO_ROLE_DNS, UI_PART_DNS },
};

/* Event names of agents inside a host: "mda@mx.example.org". */
static const struct {
	const char *prefix;
	UiPart      part;
} agent_prefixes[] = {
	{ "mta", UI_PART_MTA }, { "mda", UI_PART_MDA }, { "mra", UI_PART_MRA },
	{ "web", UI_PART_WEB }, { "dns", UI_PART_DNS }, { "mua", UI_PART_MUA },
};

/* Which agent of a host speaks a protocol, best first. */
static const struct {
	const char *proto;
	UiPart      parts[3];
} proto_parts[] = {
	{ "smtp", { UI_PART_MTA, UI_PART_MUA, UI_PART_HOST } },
	{ "lmtp", { UI_PART_MTA, UI_PART_MDA, UI_PART_HOST } },
	{ "auth", { UI_PART_MTA, UI_PART_MRA, UI_PART_MDA } },
	{ "imap", { UI_PART_MRA, UI_PART_MUA, UI_PART_HOST } },
	{ "pop3", { UI_PART_MRA, UI_PART_MUA, UI_PART_HOST } },
	{ "http", { UI_PART_WEB, UI_PART_MUA, UI_PART_HOST } },
	{ "dns",  { UI_PART_DNS, UI_PART_MTA, UI_PART_MUA } },
	{ "sql",  { UI_PART_MDA, UI_PART_HOST, UI_PART_HOST } },
	{ "maildir", { UI_PART_MDA, UI_PART_HOST, UI_PART_HOST } },
};

/* Names of things that live inside the host that uses them. */
static const char *const inside_suffixes[] = { ".sqlite", ".db" };

static void add_name(GHashTable *table, const char *name, guint node)
{
	g_autofree char *key = g_ascii_strdown(name, -1);
	gsize n = strlen(key);
	if (n > 1 && key[n - 1] == '.')
		key[n - 1] = '\0';
	if (!g_hash_table_contains(table, key))
		g_hash_table_insert(table, g_steal_pointer(&key), GUINT_TO_POINTER(node + 1));
}

static gint lookup(GHashTable *table, const char *name)
{
	g_autofree char *key = g_ascii_strdown(name, -1);
	gsize n = strlen(key);
	if (n > 1 && key[n - 1] == '.')
		key[n - 1] = '\0';
	gpointer v = g_hash_table_lookup(table, key);
	return v ? (gint)GPOINTER_TO_UINT(v) - 1 : -1;
}

/* "mail" for mail.example.com, when no other node's label starts so. */
static void update_short_labels(UiWorld *w)
{
	for (guint i = 0; i < w->nodes->len; i++) {
		UiNode *n = g_ptr_array_index(w->nodes, i);
		const char *dot = strchr(n->label, '.');
		gsize len = dot && dot != n->label ? (gsize)(dot - n->label) : strlen(n->label);
		gboolean unique = TRUE;
		for (guint k = 0; k < w->nodes->len && unique; k++) {
			UiNode *o = g_ptr_array_index(w->nodes, k);
			unique = k == i || strncmp(o->label, n->label, len) != 0 ||
			         (o->label[len] != '.' && o->label[len] != '\0');
		}
		g_free(n->short_label);
		n->short_label = unique ? g_strndup(n->label, len) : g_strdup(n->label);
	}
}

static UiNode *node_add(UiWorld *w, const char *name, UiTier tier, guint parts, gboolean seen)
{
	UiNode *n = g_new0(UiNode, 1);
	n->index = w->nodes->len;
	n->name = g_strdup(name);
	n->label = g_strdup(name);
	n->tier = tier;
	n->parts = parts;
	n->seen = seen;
	g_ptr_array_add(w->nodes, n);
	g_array_append_val(w->tiers[tier], n->index);
	add_name(w->names, name, n->index);
	update_short_labels(w);
	w->generation++;
	return n;
}

static void node_free(gpointer p)
{
	UiNode *n = p;
	g_free(n->name);
	g_free(n->label);
	g_free(n->short_label);
	g_free(n->detail);
	g_free(n->address);
	g_free(n);
}

/* The host whose mailboxes hold a client's account: from the script's
 * "CLIENT sets up account ADDRESS", else from hand-typed settings. */
static const char *client_home(const Scenario *scn, const ScenarioClient *c)
{
	for (guint i = 0; i < scn->actions->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(scn->actions, i);
		if (a->kind != SCENARIO_ACTION_SETUP_ACCOUNT || g_ascii_strcasecmp(a->client, c->name) != 0)
			continue;
		const ScenarioUser *u = scenario_find_user(scn, a->address);
		if (u)
			return u->host;
		const char *at = strrchr(a->address, '@');
		const ScenarioDomain *d = at ? scenario_find_domain(scn, at + 1) : NULL;
		if (d)
			return d->host;
	}
	return c->incoming_host ? c->incoming_host : c->smtp_host;
}

/* Does the script only ever fetch with this client (a recipient)? */
static gboolean client_only_reads(const Scenario *scn, const char *client)
{
	gboolean reads = FALSE;
	for (guint i = 0; i < scn->actions->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(scn->actions, i);
		if (!a->client || g_ascii_strcasecmp(a->client, client) != 0)
			continue;
		if (a->kind == SCENARIO_ACTION_SEND || a->kind == SCENARIO_ACTION_REPLY)
			return FALSE;
		if (a->kind == SCENARIO_ACTION_FETCH)
			reads = TRUE;
	}
	return reads;
}

static UiTier host_tier(const ScenarioHost *h)
{
	if (h->roles & (SCENARIO_ROLE_MTA | SCENARIO_ROLE_MDA | SCENARIO_ROLE_MRA))
		return UI_TIER_PATH;
	if (h->roles & SCENARIO_ROLE_MUA)
		return UI_TIER_LEFT;   /* or RIGHT: decided once the path is known */
	if (h->roles & (SCENARIO_ROLE_DNS | SCENARIO_ROLE_WEB))
		return UI_TIER_BELOW;
	return UI_TIER_LEFT;       /* a bare machine: a sender, or an attacker */
}

/* A mail client's machine stands right of the path when its account lives
 * on a later server than the first (Bob reads at mx.example.org). */
static UiTier client_side(const Scenario *scn, const ScenarioHost *h, const char *first_path)
{
	for (guint i = 0; h->clients && i < h->clients->len; i++) {
		const ScenarioClient *c = scenario_find_client(scn, g_ptr_array_index(h->clients, i));
		if (!c)
			continue;
		const char *home = client_home(scn, c);
		if (home && first_path)
			return g_ascii_strcasecmp(home, first_path) == 0 ? UI_TIER_LEFT : UI_TIER_RIGHT;
		if (client_only_reads(scn, c->name))
			return UI_TIER_RIGHT;
	}
	return UI_TIER_LEFT;
}

/* Every A record of the world's zones names its host; CNAMEs follow. */
static void add_zone_names(UiWorld *w, const Scenario *scn)
{
	GPtrArray *cnames = g_ptr_array_new();   /* DnsRecord*, borrowed from zones */
	GPtrArray *zones = g_ptr_array_new_with_free_func((GDestroyNotify)dns_zone_free);
	for (guint i = 0; i < scn->zones->len; i++) {
		const ScenarioZone *z = g_ptr_array_index(scn->zones, i);
		DnsZone *zone = dns_zone_parse(z->origin, z->text, scn->filename, z->text_line, NULL);
		if (!zone)
			continue;
		g_ptr_array_add(zones, zone);
		const GPtrArray *recs = dns_zone_records(zone);
		for (guint j = 0; j < recs->len; j++) {
			const DnsRecord *r = g_ptr_array_index(recs, j);
			if (r->type == DNS_TYPE_CNAME) {
				g_ptr_array_add(cnames, (gpointer)r);
			} else if (r->type == DNS_TYPE_A) {
				char addr[16];
				g_snprintf(addr, sizeof addr, "%u.%u.%u.%u", r->rdata.a[0], r->rdata.a[1],
				           r->rdata.a[2], r->rdata.a[3]);
				const ScenarioHost *h = scenario_find_host_by_address(scn, addr);
				gint node = h ? lookup(w->names, h->name) : -1;
				if (node >= 0)
					add_name(w->names, r->name, (guint)node);
			}
		}
	}
	/* a chain resolves in as many passes as it is long */
	for (guint pass = 0; pass < DNS_ZONE_MAX_CNAME_CHAIN; pass++)
		for (guint j = 0; j < cnames->len; j++) {
			const DnsRecord *r = g_ptr_array_index(cnames, j);
			gint node = lookup(w->names, r->rdata.name);
			if (node >= 0)
				add_name(w->names, r->name, (guint)node);
		}
	g_ptr_array_free(cnames, TRUE);
	g_ptr_array_free(zones, TRUE);
}

UiWorld *ui_world_new(const Scenario *scn)
{
	UiWorld *w = g_new0(UiWorld, 1);
	w->nodes = g_ptr_array_new_with_free_func(node_free);
	w->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	w->clients = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	w->users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint t = 0; t < UI_TIER_COUNT; t++)
		w->tiers[t] = g_array_new(FALSE, FALSE, sizeof(guint));
	if (!scn)
		return w;

	w->from_world = TRUE;
	w->title = g_strdup(scn->title);
	const char *first_path = NULL;
	for (guint i = 0; i < scn->hosts->len; i++) {
		const ScenarioHost *h = g_ptr_array_index(scn->hosts, i);
		if (host_tier(h) == UI_TIER_PATH) {
			first_path = h->name;
			break;
		}
	}
	for (guint i = 0; i < scn->hosts->len; i++) {
		const ScenarioHost *h = g_ptr_array_index(scn->hosts, i);
		guint parts = 0;
		for (guint r = 0; r < G_N_ELEMENTS(role_parts); r++)
			if (h->roles & role_parts[r].role)
				parts |= 1u << role_parts[r].part;
		if (h->roles & SCENARIO_ROLE_MDA)
			parts |= 1u << UI_PART_DB | 1u << UI_PART_MAILDIR;
		UiTier tier = host_tier(h);
		if (h->roles & SCENARIO_ROLE_MUA && tier == UI_TIER_LEFT)
			tier = client_side(scn, h, first_path);
		UiNode *n = node_add(w, h->name, tier, parts, FALSE);
		n->address = g_strdup(h->address);
		if (h->roles == 0)
			n->detail = g_strdup(h->address);   /* a bare machine: its address is what servers see */
		add_name(w->names, h->address, n->index);
		if (h->clients && h->clients->len) {
			/* the array is not NULL-terminated: join by hand */
			GString *label = g_string_new(NULL);
			for (guint c = 0; c < h->clients->len; c++)
				g_string_append_printf(label, "%s%s", c ? ", " : "",
				                       (char *)g_ptr_array_index(h->clients, c));
			g_free(n->label);
			n->label = g_string_free(label, FALSE);
			update_short_labels(w);
			n->detail = g_strdup(h->name);
			for (guint c = 0; c < h->clients->len; c++)
				add_name(w->clients, g_ptr_array_index(h->clients, c), n->index);
		}
	}
	for (guint i = 0; i < scn->users->len; i++) {
		const ScenarioUser *u = g_ptr_array_index(scn->users, i);
		gint node = lookup(w->names, u->host);
		if (node >= 0)
			add_name(w->users, u->address, (guint)node);
	}
	for (guint i = 0; i < scn->domains->len; i++) {
		const ScenarioDomain *d = g_ptr_array_index(scn->domains, i);
		gint node = lookup(w->names, d->host);
		if (node >= 0)
			add_name(w->users, d->name, (guint)node);
	}
	add_zone_names(w, scn);
	return w;
}

void ui_world_free(UiWorld *w)
{
	if (!w)
		return;
	g_ptr_array_free(w->nodes, TRUE);
	g_hash_table_destroy(w->names);
	g_hash_table_destroy(w->clients);
	g_hash_table_destroy(w->users);
	for (guint t = 0; t < UI_TIER_COUNT; t++)
		g_array_free(w->tiers[t], TRUE);
	g_free(w->title);
	g_free(w);
}

guint ui_world_count(const UiWorld *w)
{
	return w->nodes->len;
}

const UiNode *ui_world_node(const UiWorld *w, guint i)
{
	g_return_val_if_fail(i < w->nodes->len, NULL);
	return g_ptr_array_index(w->nodes, i);
}

guint ui_world_generation(const UiWorld *w)
{
	return w->generation;
}

GArray *ui_world_tier(const UiWorld *w, UiTier t)
{
	g_return_val_if_fail(t < UI_TIER_COUNT, NULL);
	return w->tiers[t];
}

const char *ui_world_title(const UiWorld *w)
{
	return w->title;
}

/* ---- placing a party ------------------------------------------------------------ */

static UiPart part_for_proto(const UiNode *n, const char *proto)
{
	if (!proto)
		return UI_PART_HOST;
	for (guint i = 0; i < G_N_ELEMENTS(proto_parts); i++) {
		if (strcmp(proto_parts[i].proto, proto) != 0)
			continue;
		for (guint k = 0; k < G_N_ELEMENTS(proto_parts[i].parts); k++)
			if (n->parts & 1u << proto_parts[i].parts[k])
				return proto_parts[i].parts[k];
		/* a server met only in events shows what it was seen doing; a
		 * stranger on the left is someone at a keyboard */
		return n->seen && n->tier != UI_TIER_LEFT ? proto_parts[i].parts[0] : UI_PART_HOST;
	}
	return UI_PART_HOST;
}

static gboolean is_inside_name(const char *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(inside_suffixes); i++)
		if (g_str_has_suffix(name, inside_suffixes[i]))
			return TRUE;
	return FALSE;
}

/* Where a box nobody declared stands, from what its first event shows. */
static UiTier tier_of_stranger(MsEventKind kind, gboolean is_from, gboolean have_world)
{
	if ((kind == MS_EV_DNS_ANSWER && is_from) || (kind == MS_EV_DNS_QUERY && !is_from))
		return UI_TIER_BELOW;
	if (kind == MS_EV_CONNECT || kind == MS_EV_REFUSE)
		return is_from ? UI_TIER_LEFT : UI_TIER_PATH;
	return have_world ? UI_TIER_LEFT : UI_TIER_PATH;
}

static void node_show_part(UiWorld *w, UiNode *n, UiPart part)
{
	/* the world says what runs where; a stranger shows what it did */
	if (!n->seen || part == UI_PART_HOST || (n->parts & 1u << part))
		return;
	n->parts |= 1u << part;
	w->generation++;
}

gint ui_world_place(UiWorld *w, const char *name, const char *other, const char *proto,
                    MsEventKind kind, gboolean is_from, UiPart *part_r)
{
	UiPart dummy;
	if (!part_r)
		part_r = &dummy;
	*part_r = UI_PART_HOST;
	if (!name || !*name || strcmp(name, "scenario") == 0)
		return -1;

	gint node = lookup(w->names, name);
	if (node >= 0) {
		UiNode *n = g_ptr_array_index(w->nodes, node);
		*part_r = part_for_proto(n, proto);
		node_show_part(w, n, *part_r);
		return node;
	}
	/* "mda@mx.example.org": an agent inside a host */
	const char *at = strchr(name, '@');
	if (at) {
		gint host = lookup(w->names, at + 1);
		for (guint i = 0; i < G_N_ELEMENTS(agent_prefixes); i++) {
			gsize n = strlen(agent_prefixes[i].prefix);
			if ((gsize)(at - name) != n || g_ascii_strncasecmp(name, agent_prefixes[i].prefix, n) != 0)
				continue;
			if (host < 0)
				host = (gint)node_add(w, at + 1, UI_TIER_PATH, 0, TRUE)->index;
			*part_r = agent_prefixes[i].part;
			node_show_part(w, g_ptr_array_index(w->nodes, host), *part_r);
			return host;
		}
	}
	node = lookup(w->clients, name);
	if (node >= 0) {
		*part_r = UI_PART_MUA;
		return node;
	}
	/* a mailbox, a domain: where the mail is kept */
	node = lookup(w->users, name);
	if (node >= 0) {
		*part_r = at ? UI_PART_MAILDIR : UI_PART_MDA;
		return node;
	}
	/* the account database, or a mailbox of a world we do not know: it is
	 * inside whoever uses it */
	if ((is_inside_name(name) || at) && other && strcmp(other, name) != 0) {
		gint host = ui_world_place(w, other, NULL, proto, kind, !is_from, NULL);
		if (host >= 0) {
			*part_r = at ? UI_PART_MAILDIR : UI_PART_DB;
			node_show_part(w, g_ptr_array_index(w->nodes, host), *part_r);
			return host;
		}
	}
	/* "dns": whichever name server there is */
	if (g_ascii_strcasecmp(name, "dns") == 0) {
		for (guint i = 0; i < w->nodes->len; i++) {
			UiNode *n = g_ptr_array_index(w->nodes, i);
			if (n->parts & 1u << UI_PART_DNS) {
				*part_r = UI_PART_DNS;
				return (gint)i;
			}
		}
	}
	UiNode *n = node_add(w, name, tier_of_stranger(kind, is_from, w->from_world), 0, TRUE);
	*part_r = part_for_proto(n, proto);
	if (kind == MS_EV_DNS_ANSWER || kind == MS_EV_DNS_QUERY)
		*part_r = n->tier == UI_TIER_BELOW ? UI_PART_DNS : *part_r;
	node_show_part(w, n, *part_r);
	return (gint)n->index;
}

void ui_world_place_event(UiWorld *w, const MsEvent *ev, gint *from_r, UiPart *from_part_r,
                          gint *to_r, UiPart *to_part_r)
{
	*from_r = ui_world_place(w, ev->from, ev->to, ev->proto, ev->kind, TRUE, from_part_r);
	*to_r = ui_world_place(w, ev->to, ev->from, ev->proto, ev->kind, FALSE, to_part_r);
}
