/* ui/model.c - the history of events, its moments, steps and transcripts.
 *
 * Everything is computed as events arrive, so that drawing a frame with ten
 * thousand events behind it costs only what is on screen.
 */
#include "ui/model.h"
#include "ui/steps.h"

#include <stdio.h>
#include <string.h>

typedef struct {
	guint  start;
	gint64 t_us;
} Beat;

typedef struct {
	guint first;         /* event index of its first event */
	guint first_refuse;  /* of its first refusal, G_MAXUINT for none */
} StepInfo;

struct UiModel {
	GPtrArray  *events;       /* MsEvent*, owned */
	GArray     *beats;        /* Beat */
	GPtrArray  *active;       /* const char*: the active step after each event */
	GArray     *rows;         /* guint: events with a row */
	GArray     *row_of;       /* gint per event: its row or -1 */
	GArray     *conv_of;      /* gint per event: its conversation or -1 */
	GArray     *narration;    /* guint: STEP, REFUSE, ERROR events */
	GPtrArray  *convs;        /* UiConversation*, owned */
	GHashTable *conv_by_conn; /* guint64* -> index+1 */
	GHashTable *conv_by_key;  /* "dns asker server" -> index+1 */
	GHashTable *steps;        /* id (borrowed from an event) -> StepInfo* */
	GPtrArray  *step_list;    /* ids in course order */
	GPtrArray  *protocols;    /* const char*, borrowed */
	char       *filter;

	/* cutting into moments */
	gint        last_visible;   /* index of the open moment's last visible event, -1 */
	gint        change_at;      /* first event after it at another time, -1 */
	gint        last_arrow;     /* the open moment's last arrow, -1 */
	const char *current;        /* active step after the last event */

	guint       cursor;
	gboolean    following;
};

/* ---- rows ------------------------------------------------------------------- */

const char *ui_row_kind_to_string(UiRowKind k)
{
	static const char *const names[] = { "none", "arrow", "comment" };
	return (guint)k < G_N_ELEMENTS(names) ? names[k] : "?";
}

const char *ui_step_flag_to_string(UiStepFlags f)
{
	switch (f) {
	case UI_STEP_SEEN: return "seen";
	case UI_STEP_ACTIVE: return "active";
	case UI_STEP_REFUSED: return "refused";
	}
	return "?";
}

UiRowKind ui_model_row_kind(const MsEvent *ev)
{
	gboolean both = ev->from && ev->to;
	switch (ev->kind) {
	case MS_EV_SEND:
		/* a datagram's bytes: DNS_QUERY and DNS_ANSWER say it in words */
		return g_strcmp0(ev->proto, "dns") == 0 ? UI_ROW_NONE : UI_ROW_ARROW;
	case MS_EV_CONNECT:
		/* the SYN belongs to no connection yet; "connected" repeats it */
		return ev->conn == 0 && both ? UI_ROW_ARROW : UI_ROW_NONE;
	case MS_EV_RECV:
	case MS_EV_ACCEPT:
	case MS_EV_CLOSE:
		return UI_ROW_NONE;
	case MS_EV_DNS_QUERY:
	case MS_EV_DNS_ANSWER:
	case MS_EV_DB_QUERY:
	case MS_EV_AUTH:
	case MS_EV_REFUSE:
	case MS_EV_STORE:
	case MS_EV_ERROR:
		return both ? UI_ROW_ARROW : UI_ROW_COMMENT;
	case MS_EV_NOTE:
	case MS_EV_STEP:
	case MS_EV_HOST:
		return UI_ROW_COMMENT;
	case MS_EV_KIND_COUNT:
		break;
	}
	return UI_ROW_NONE;
}

/* Kinds that make their step the active one again (a new connection, the
 * narration of a step, a refusal), so that a second message, or a retry,
 * is followed; replies and teardown of an older step are not. */
static gboolean begins_step(MsEventKind kind)
{
	switch (kind) {
	case MS_EV_STEP:
	case MS_EV_ACCEPT:
	case MS_EV_CONNECT:
	case MS_EV_REFUSE:
	case MS_EV_ERROR:
		return TRUE;
	default:
		return FALSE;
	}
}

/* ---- construction ------------------------------------------------------------ */

static void conversation_free(gpointer p)
{
	UiConversation *c = p;
	g_array_free(c->lines, TRUE);
	g_free(c);
}

UiModel *ui_model_new(void)
{
	UiModel *m = g_new0(UiModel, 1);
	m->events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	m->beats = g_array_new(FALSE, FALSE, sizeof(Beat));
	m->active = g_ptr_array_new();
	m->rows = g_array_new(FALSE, FALSE, sizeof(guint));
	m->row_of = g_array_new(FALSE, FALSE, sizeof(gint));
	m->conv_of = g_array_new(FALSE, FALSE, sizeof(gint));
	m->narration = g_array_new(FALSE, FALSE, sizeof(guint));
	m->convs = g_ptr_array_new_with_free_func(conversation_free);
	m->conv_by_conn = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	m->conv_by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	m->steps = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	m->step_list = g_ptr_array_new();
	m->protocols = g_ptr_array_new();
	m->last_visible = -1;
	m->change_at = -1;
	m->last_arrow = -1;
	m->following = TRUE;
	return m;
}

void ui_model_free(UiModel *m)
{
	if (!m)
		return;
	g_ptr_array_free(m->events, TRUE);
	g_array_free(m->beats, TRUE);
	g_ptr_array_free(m->active, TRUE);
	g_array_free(m->rows, TRUE);
	g_array_free(m->row_of, TRUE);
	g_array_free(m->conv_of, TRUE);
	g_array_free(m->narration, TRUE);
	g_ptr_array_free(m->convs, TRUE);
	g_hash_table_destroy(m->conv_by_conn);
	g_hash_table_destroy(m->conv_by_key);
	g_hash_table_destroy(m->steps);
	g_ptr_array_free(m->step_list, TRUE);
	g_ptr_array_free(m->protocols, TRUE);
	g_free(m->filter);
	g_free(m);
}

/* ---- adding an event ------------------------------------------------------------ */

/* Does event kind belong in a transcript? */
static gboolean transcript_line(const MsEvent *ev)
{
	switch (ev->kind) {
	case MS_EV_SEND:
		return g_strcmp0(ev->proto, "dns") != 0;
	case MS_EV_RECV:
	case MS_EV_CONNECT:
	case MS_EV_STEP:
	case MS_EV_NOTE:
	case MS_EV_HOST:
		return FALSE;
	default:
		return TRUE;
	}
}

/* The server's port of an ACCEPT: its net says it; a log written before
 * events had one only in the text ("accepted 192.0.2.77:49152 on port 587"). */
static guint port_from_accept(const MsEvent *ev)
{
	if (ev->net.action == MS_NET_ACCEPT)
		return ev->net.src.port;
	const char *p = ev->net.action == MS_NET_NONE && ev->text ? strstr(ev->text, "on port ") : NULL;
	guint port = 0;
	if (p && sscanf(p + 8, "%u", &port) == 1 && port <= 65535)
		return port;
	return 0;
}

static UiConversation *conversation_new(UiModel *m, guint64 conn, const char *client, const char *server)
{
	UiConversation *c = g_new0(UiConversation, 1);
	c->index = m->convs->len;
	c->conn = conn;
	c->client = client;
	c->server = server;
	c->lines = g_array_new(FALSE, FALSE, sizeof(guint));
	g_ptr_array_add(m->convs, c);
	return c;
}

static UiConversation *conversation_for(UiModel *m, const MsEvent *ev)
{
	if (ev->conn != 0) {
		gpointer v = g_hash_table_lookup(m->conv_by_conn, &ev->conn);
		if (v)
			return g_ptr_array_index(m->convs, GPOINTER_TO_UINT(v) - 1);
		/* An ACCEPT comes from the server; anything else from whoever spoke first. */
		gboolean from_server = ev->kind == MS_EV_ACCEPT;
		UiConversation *c = conversation_new(m, ev->conn, from_server ? ev->to : ev->from,
		                                     from_server ? ev->from : ev->to);
		g_hash_table_insert(m->conv_by_conn, g_memdup2(&ev->conn, sizeof ev->conn),
		                    GUINT_TO_POINTER(c->index + 1));
		return c;
	}
	if (ev->kind != MS_EV_DNS_QUERY && ev->kind != MS_EV_DNS_ANSWER)
		return NULL;
	if (!ev->from || !ev->to)
		return NULL;
	gboolean query = ev->kind == MS_EV_DNS_QUERY;
	const char *asker = query ? ev->from : ev->to, *server = query ? ev->to : ev->from;
	g_autofree char *key = g_strdup_printf("dns %s %s", asker, server);
	gpointer v = g_hash_table_lookup(m->conv_by_key, key);
	if (v)
		return g_ptr_array_index(m->convs, GPOINTER_TO_UINT(v) - 1);
	UiConversation *c = conversation_new(m, 0, asker, server);
	c->proto = "dns";
	c->port = 53;   /* RFC 1035 4.2: DNS is served on port 53 */
	g_hash_table_insert(m->conv_by_key, g_steal_pointer(&key), GUINT_TO_POINTER(c->index + 1));
	return c;
}

static void note_step(UiModel *m, const MsEvent *ev, guint i)
{
	if (!ev->step)
		return;
	StepInfo *s = g_hash_table_lookup(m->steps, ev->step);
	gboolean first = s == NULL;
	if (first) {
		s = g_new0(StepInfo, 1);
		s->first = i;
		s->first_refuse = G_MAXUINT;
		g_hash_table_insert(m->steps, (gpointer)ev->step, s);
		g_ptr_array_add(m->step_list, (gpointer)ev->step);
		g_ptr_array_sort(m->step_list, ui_steps_compare_indirect);
	}
	if (ev->kind == MS_EV_REFUSE && s->first_refuse == G_MAXUINT)
		s->first_refuse = i;
	if (first || (begins_step(ev->kind) && g_strcmp0(m->current, ev->step) != 0))
		m->current = ev->step;
}

static void note_protocol(UiModel *m, const MsEvent *ev)
{
	if (!ev->proto)
		return;
	for (guint i = 0; i < m->protocols->len; i++)
		if (strcmp(g_ptr_array_index(m->protocols, i), ev->proto) == 0)
			return;
	g_ptr_array_add(m->protocols, (gpointer)ev->proto);
}

/* Cut moments.  A new one starts when another visible event comes after
 * a change of time (at the first event of the new time: invisible events
 * there, like the arrival that makes the peer answer, are its prelude);
 * within one instant, at a course step's narration, and when another party
 * starts to speak (after the last arrow of the one before: notes in between
 * introduce the new one).  So a pipelined burst is one moment, its answer
 * the next, and "out.4: ask DNS" with its question one more. */
static void cut(UiModel *m, const MsEvent *ev, guint i, UiRowKind kind)
{
	if (m->last_visible >= 0 && m->change_at < 0) {
		const MsEvent *lv = g_ptr_array_index(m->events, m->last_visible);
		if (ev->t_us != lv->t_us)
			m->change_at = (gint)i;
	}
	if (kind == UI_ROW_NONE)
		return;
	gint start = -1;
	if (m->beats->len == 0)
		start = 0;
	else if (m->change_at >= 0)
		start = m->change_at;
	else if (ev->kind == MS_EV_STEP)
		start = (gint)i;   /* a course step begins: a moment of its own */
	else if (kind == UI_ROW_ARROW && m->last_arrow >= 0 &&
	         g_strcmp0(((MsEvent *)g_ptr_array_index(m->events, m->last_arrow))->from, ev->from) != 0)
		start = m->last_arrow + 1;
	if (start >= 0) {
		Beat b = { .start = (guint)start, .t_us = ev->t_us };
		g_array_append_val(m->beats, b);
		m->last_arrow = -1;
	}
	m->last_visible = (gint)i;
	m->change_at = -1;
	if (kind == UI_ROW_ARROW)
		m->last_arrow = (gint)i;
}

void ui_model_take(UiModel *m, MsEvent *ev)
{
	guint i = m->events->len;
	g_ptr_array_add(m->events, ev);
	UiRowKind kind = ui_model_row_kind(ev);
	cut(m, ev, i, kind);

	gint row = -1;
	if (kind != UI_ROW_NONE) {
		row = (gint)m->rows->len;
		g_array_append_val(m->rows, i);
	}
	g_array_append_val(m->row_of, row);
	if (kind == UI_ROW_ARROW)
		note_protocol(m, ev);

	gint conv = -1;
	if (transcript_line(ev)) {
		UiConversation *c = conversation_for(m, ev);
		if (c) {
			conv = (gint)c->index;
			g_array_append_val(c->lines, i);
			if (!c->proto && ev->proto && strcmp(ev->proto, "tcp") != 0)
				c->proto = ev->proto;
			if (!c->port && ev->kind == MS_EV_ACCEPT)
				c->port = port_from_accept(ev);
		}
	}
	g_array_append_val(m->conv_of, conv);

	if (ev->kind == MS_EV_STEP || ev->kind == MS_EV_REFUSE || ev->kind == MS_EV_ERROR)
		g_array_append_val(m->narration, i);
	note_step(m, ev, i);
	g_ptr_array_add(m->active, (gpointer)m->current);

	if (m->following && m->beats->len)
		m->cursor = m->beats->len - 1;
}

void ui_model_add(UiModel *m, const MsEvent *ev)
{
	ui_model_take(m, ms_event_copy(ev));
}

guint ui_model_count(const UiModel *m)
{
	return m->events->len;
}

const MsEvent *ui_model_event(const UiModel *m, guint i)
{
	g_return_val_if_fail(i < m->events->len, NULL);
	return g_ptr_array_index(m->events, i);
}

/* ---- moments ------------------------------------------------------------------------ */

guint ui_model_beat_count(const UiModel *m)
{
	return m->beats->len;
}

guint ui_model_beat_start(const UiModel *m, guint b)
{
	g_return_val_if_fail(b < m->beats->len, 0);
	return g_array_index(m->beats, Beat, b).start;
}

guint ui_model_beat_end(const UiModel *m, guint b)
{
	g_return_val_if_fail(b < m->beats->len, 0);
	return b + 1 < m->beats->len ? g_array_index(m->beats, Beat, b + 1).start : m->events->len;
}

gint64 ui_model_beat_time(const UiModel *m, guint b)
{
	g_return_val_if_fail(b < m->beats->len, 0);
	return g_array_index(m->beats, Beat, b).t_us;
}

guint ui_model_beat_of(const UiModel *m, guint i)
{
	/* the last moment whose start is <= i */
	guint lo = 0, hi = m->beats->len;
	while (hi - lo > 1) {
		guint mid = (lo + hi) / 2;
		if (g_array_index(m->beats, Beat, mid).start <= i)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* ---- the cursor ------------------------------------------------------------------------ */

guint ui_model_cursor(const UiModel *m)
{
	return m->cursor;
}

gboolean ui_model_following(const UiModel *m)
{
	return m->following;
}

guint ui_model_visible(const UiModel *m)
{
	return m->beats->len ? ui_model_beat_end(m, m->cursor) : 0;
}

void ui_model_seek(UiModel *m, guint b)
{
	if (m->beats->len == 0) {
		m->following = TRUE;
		return;
	}
	m->cursor = MIN(b, m->beats->len - 1);
	m->following = m->cursor == m->beats->len - 1;
}

void ui_model_follow(UiModel *m)
{
	ui_model_seek(m, m->beats->len ? m->beats->len - 1 : 0);
}

void ui_model_hold(UiModel *m)
{
	m->following = FALSE;
}

gboolean ui_model_forward(UiModel *m)
{
	if (m->beats->len == 0 || m->cursor + 1 >= m->beats->len) {
		m->following = TRUE;
		return FALSE;
	}
	ui_model_seek(m, m->cursor + 1);
	return TRUE;
}

gboolean ui_model_back(UiModel *m)
{
	if (m->beats->len == 0 || m->cursor == 0)
		return FALSE;
	m->cursor--;
	m->following = FALSE;
	return TRUE;
}

gint ui_model_next_step_beat(const UiModel *m)
{
	if (m->beats->len == 0)
		return -1;
	const char *now = ui_model_beat_step(m, m->cursor);
	for (guint b = m->cursor + 1; b < m->beats->len; b++) {
		const char *s = ui_model_beat_step(m, b);
		if (s && g_strcmp0(s, now) != 0)
			return (gint)b;
	}
	return -1;
}

/* ---- steps ---------------------------------------------------------------------------- */

const char *ui_model_beat_step(const UiModel *m, guint b)
{
	if (b >= m->beats->len)
		return NULL;
	guint end = ui_model_beat_end(m, b);
	return end ? g_ptr_array_index(m->active, end - 1) : NULL;
}

const char *ui_model_active_step(const UiModel *m)
{
	return m->beats->len ? ui_model_beat_step(m, m->cursor) : NULL;
}

guint ui_model_step_flags(const UiModel *m, const char *id)
{
	StepInfo *s = id ? g_hash_table_lookup(m->steps, id) : NULL;
	guint visible = ui_model_visible(m);
	if (!s || s->first >= visible)
		return 0;
	guint flags = UI_STEP_SEEN;
	if (s->first_refuse < visible)
		flags |= UI_STEP_REFUSED;
	if (g_strcmp0(ui_model_active_step(m), id) == 0)
		flags |= UI_STEP_ACTIVE;
	return flags;
}

GPtrArray *ui_model_steps(const UiModel *m)
{
	return m->step_list;
}

gint ui_model_narration(const UiModel *m)
{
	guint visible = ui_model_visible(m);
	/* the last narration index < visible */
	guint lo = 0, hi = m->narration->len;
	while (lo < hi) {
		guint mid = (lo + hi) / 2;
		if (g_array_index(m->narration, guint, mid) < visible)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? (gint)g_array_index(m->narration, guint, lo - 1) : -1;
}

/* ---- arrows and rows ----------------------------------------------------------------------- */

void ui_model_beat_arrows(const UiModel *m, guint b, GArray *out)
{
	if (b >= m->beats->len)
		return;
	for (guint i = ui_model_beat_start(m, b), end = ui_model_beat_end(m, b); i < end; i++)
		if (ui_model_row_kind(g_ptr_array_index(m->events, i)) == UI_ROW_ARROW)
			g_array_append_val(out, i);
}

guint ui_model_row_count(const UiModel *m)
{
	return m->rows->len;
}

guint ui_model_row_event(const UiModel *m, guint row)
{
	g_return_val_if_fail(row < m->rows->len, 0);
	return g_array_index(m->rows, guint, row);
}

guint ui_model_rows_before(const UiModel *m, guint visible)
{
	guint lo = 0, hi = m->rows->len;
	while (lo < hi) {
		guint mid = (lo + hi) / 2;
		if (g_array_index(m->rows, guint, mid) < visible)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

gint ui_model_row_of(const UiModel *m, guint i)
{
	return i < m->row_of->len ? g_array_index(m->row_of, gint, i) : -1;
}

/* ---- filter and search ------------------------------------------------------------------------ */

void ui_model_set_filter(UiModel *m, const char *proto)
{
	g_free(m->filter);
	m->filter = g_strdup(proto);
}

const char *ui_model_filter(const UiModel *m)
{
	return m->filter;
}

GPtrArray *ui_model_protocols(const UiModel *m)
{
	return m->protocols;
}

const char *ui_model_next_filter(const UiModel *m)
{
	if (m->protocols->len == 0)
		return NULL;
	if (!m->filter)
		return g_ptr_array_index(m->protocols, 0);
	for (guint i = 0; i < m->protocols->len; i++)
		if (strcmp(g_ptr_array_index(m->protocols, i), m->filter) == 0)
			return i + 1 < m->protocols->len ? g_ptr_array_index(m->protocols, i + 1) : NULL;
	return NULL;
}

gboolean ui_model_row_passes(const UiModel *m, guint row)
{
	if (!m->filter)
		return TRUE;
	const MsEvent *ev = g_ptr_array_index(m->events, ui_model_row_event(m, row));
	return ui_model_row_kind(ev) == UI_ROW_ARROW && g_strcmp0(ev->proto, m->filter) == 0;
}

static gboolean contains_casefold(const char *hay, const char *needle_folded)
{
	if (!hay)
		return FALSE;
	/* the text came over the network: make it valid before GLib walks it */
	g_autofree char *valid = g_utf8_make_valid(hay, -1);
	g_autofree char *h = g_utf8_casefold(valid, -1);
	return strstr(h, needle_folded) != NULL;
}

static gboolean row_matches_folded(const UiModel *m, guint row, const char *folded)
{
	const MsEvent *ev = g_ptr_array_index(m->events, ui_model_row_event(m, row));
	return contains_casefold(ev->text, folded) || contains_casefold(ev->from, folded) ||
	       contains_casefold(ev->to, folded);
}

gboolean ui_model_row_matches(const UiModel *m, guint row, const char *needle)
{
	if (!needle || !*needle || row >= m->rows->len)
		return FALSE;
	g_autofree char *valid = g_utf8_make_valid(needle, -1);
	g_autofree char *folded = g_utf8_casefold(valid, -1);
	return row_matches_folded(m, row, folded);
}

gint ui_model_find_row(const UiModel *m, const char *needle, gint from, guint limit, gboolean forward)
{
	limit = MIN(limit, m->rows->len);
	if (!needle || !*needle || limit == 0)
		return -1;
	g_autofree char *valid = g_utf8_make_valid(needle, -1);
	g_autofree char *folded = g_utf8_casefold(valid, -1);
	gint n = (gint)limit;
	gint start = from < 0 ? (forward ? -1 : n) : MIN(from, n - 1);
	for (gint k = 1; k <= n; k++) {
		gint r = forward ? (start + k) % n : ((start - k) % n + n) % n;
		if (ui_model_row_passes(m, (guint)r) && row_matches_folded(m, (guint)r, folded))
			return r;
	}
	return -1;
}

/* ---- transcripts ------------------------------------------------------------------------- */

guint ui_model_conversation_count(const UiModel *m)
{
	return m->convs->len;
}

const UiConversation *ui_model_conversation(const UiModel *m, guint i)
{
	g_return_val_if_fail(i < m->convs->len, NULL);
	return g_ptr_array_index(m->convs, i);
}

const UiConversation *ui_model_conversation_of(const UiModel *m, guint i)
{
	gint c = i < m->conv_of->len ? g_array_index(m->conv_of, gint, i) : -1;
	return c < 0 ? NULL : g_ptr_array_index(m->convs, c);
}
