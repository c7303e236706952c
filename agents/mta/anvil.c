/* agents/mta/anvil.c - per-client connection counts and rates.
 *
 * One entry per client: its open connections and the connections it made
 * in the current rate window, which starts at its first connection and
 * lasts the time unit (as Postfix's anvil counts).  Entries with nothing
 * open and an expired window are dropped once many clients are tracked.
 */
#include "agents/mta/anvil.h"

static const char *const verdict_names[] = { "ok", "too many connections", "too many connections per time unit" };

const char *anvil_verdict_to_string(AnvilVerdict v)
{
	return (guint)v < G_N_ELEMENTS(verdict_names) ? verdict_names[v] : "?";
}

typedef struct {
	guint  count;          /* open now */
	guint  rate;           /* made since window */
	gint64 window;         /* when the rate window started */
} Client;

struct Anvil {
	GMutex      lock;
	GHashTable *clients;   /* address (owned) -> Client (owned) */
	guint       count_limit, rate_limit;
	gint64      unit;
};

Anvil *anvil_new(guint count_limit, guint rate_limit, gint64 time_unit)
{
	g_return_val_if_fail(time_unit > 0, NULL);
	Anvil *a = g_new0(Anvil, 1);
	g_mutex_init(&a->lock);
	a->clients = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	a->count_limit = count_limit;
	a->rate_limit = rate_limit;
	a->unit = time_unit;
	return a;
}

void anvil_free(Anvil *a)
{
	if (!a)
		return;
	g_hash_table_destroy(a->clients);
	g_mutex_clear(&a->lock);
	g_free(a);
}

static gboolean stale(gpointer key, gpointer value, gpointer user_data)
{
	const Client *c = value;
	const gint64 *limit = user_data;   /* windows that started before this are over */
	return c->count == 0 && c->window < *limit;
}

AnvilVerdict anvil_connect(Anvil *a, const char *client, gint64 now, guint *count_r, guint *rate_r)
{
	g_mutex_lock(&a->lock);
	if (g_hash_table_size(a->clients) >= ANVIL_SWEEP_AT) {
		gint64 limit = now - a->unit;
		g_hash_table_foreach_remove(a->clients, stale, &limit);
	}
	Client *c = g_hash_table_lookup(a->clients, client);
	if (!c) {
		c = g_new0(Client, 1);
		c->window = now;
		g_hash_table_insert(a->clients, g_strdup(client), c);
	}
	if (now - c->window >= a->unit) {
		c->window = now;
		c->rate = 0;
	}
	c->count++;
	if (c->rate < G_MAXUINT)
		c->rate++;
	AnvilVerdict v = ANVIL_OK;
	/* the count first, as Postfix's smtpd checks it */
	if (a->count_limit && c->count > a->count_limit)
		v = ANVIL_TOO_MANY;
	else if (a->rate_limit && c->rate > a->rate_limit)
		v = ANVIL_TOO_FAST;
	if (count_r)
		*count_r = c->count;
	if (rate_r)
		*rate_r = c->rate;
	if (v != ANVIL_OK)
		c->count--;   /* refused: it closes at once */
	g_mutex_unlock(&a->lock);
	return v;
}

void anvil_disconnect(Anvil *a, const char *client)
{
	g_mutex_lock(&a->lock);
	Client *c = g_hash_table_lookup(a->clients, client);
	g_warn_if_fail(c && c->count > 0);
	if (c && c->count > 0)
		c->count--;
	g_mutex_unlock(&a->lock);
}

guint anvil_count(Anvil *a, const char *client)
{
	g_mutex_lock(&a->lock);
	Client *c = g_hash_table_lookup(a->clients, client);
	guint n = c ? c->count : 0;
	g_mutex_unlock(&a->lock);
	return n;
}

guint anvil_clients(Anvil *a)
{
	g_mutex_lock(&a->lock);
	guint n = g_hash_table_size(a->clients);
	g_mutex_unlock(&a->lock);
	return n;
}
