/* sim/expect.c - a scenario's expectations judged against Maildirs, queues
 * and the steps seen (sim/expect.h): the words mailsim run and mailsim lab
 * check both print.
 */
#include "sim/expect.h"
#include "agents/common/rfc5322.h"

#include <string.h>

/* ---- which steps the stream showed --------------------------------------- */

typedef struct {
	gboolean  refused;
	GArray   *seqs;   /* guint64, every occurrence (up to the limit), rising */
} StepSeen;

struct ExpectSteps {
	GHashTable *seen;   /* step id -> StepSeen* */
};

static void step_seen_free(gpointer data)
{
	StepSeen *s = data;
	g_array_free(s->seqs, TRUE);
	g_free(s);
}

ExpectSteps *expect_steps_new(void)
{
	ExpectSteps *steps = g_new0(ExpectSteps, 1);
	steps->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, step_seen_free);
	return steps;
}

void expect_steps_free(ExpectSteps *steps)
{
	if (!steps)
		return;
	g_hash_table_destroy(steps->seen);
	g_free(steps);
}

void expect_steps_note(ExpectSteps *steps, const char *step, guint64 seq, gboolean refused)
{
	if (!step)
		return;
	StepSeen *s = g_hash_table_lookup(steps->seen, step);
	if (!s) {
		s = g_new0(StepSeen, 1);
		s->seqs = g_array_new(FALSE, FALSE, sizeof(guint64));
		g_hash_table_insert(steps->seen, g_strdup(step), s);
	}
	if (s->seqs->len < EXPECT_STEP_OCCURRENCES_KEPT)
		g_array_append_val(s->seqs, seq);
	if (refused)
		s->refused = TRUE;
}

typedef struct {
	MsSink       base;
	ExpectSteps *steps;
} StepsSink;

static void steps_sink_write(MsSink *self, const MsEvent *ev)
{
	StepsSink *k = (StepsSink *)self;
	expect_steps_note(k->steps, ev->step, ev->seq, ev->kind == MS_EV_REFUSE);
}

static void steps_sink_destroy(MsSink *self)
{
	g_free(self);
}

MsSink *expect_steps_sink_new(ExpectSteps *steps)
{
	StepsSink *k = g_new0(StepsSink, 1);
	k->base.write = steps_sink_write;
	k->base.destroy = steps_sink_destroy;
	k->steps = steps;
	return &k->base;
}

/* ---- Maildirs -------------------------------------------------------------- */

/* Messages of a folder ("INBOX", "Sent", "Lists.Sub") as file paths. */
static GPtrArray *folder_files(const ExpectSource *src, const char *address, const char *folder,
                               GError **error)
{
	g_autofree char *root = src->maildir(src->data, address, error);
	if (!root)
		return NULL;
	g_autofree char *dir = g_ascii_strcasecmp(folder, "INBOX") == 0
	                       ? g_strdup(root) : g_strdup_printf("%s/.%s", root, folder);
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	static const char *const subs[] = { "new", "cur" };
	for (guint i = 0; i < G_N_ELEMENTS(subs); i++) {
		g_autofree char *sub = g_build_filename(dir, subs[i], NULL);
		GDir *d = g_dir_open(sub, 0, NULL);
		if (!d)
			continue;
		const char *name;
		while ((name = g_dir_read_name(d)))
			g_ptr_array_add(files, g_build_filename(sub, name, NULL));
		g_dir_close(d);
	}
	g_ptr_array_sort(files, (GCompareFunc)g_strcmp0);
	return files;
}

/* Every message the script has sent so far to a user of the world is in
 * that user's INBOX: as many files as messages, none lost, none twice. */
static gboolean check_all_delivered(const Scenario *scn, const ExpectSource *src, char **got_r)
{
	g_autoptr(GHashTable) wanted = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	guint total = 0;
	for (guint i = 0; i < scn->actions->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(scn->actions, i);
		if (a->kind != SCENARIO_ACTION_SEND || a->time_us > src->now_us)
			continue;
		for (guint k = 0; k < 2; k++) {
			GPtrArray *list = k == 0 ? a->to : a->cc;
			for (guint j = 0; list && j < list->len; j++) {
				const ScenarioUser *u = scenario_find_user(scn, g_ptr_array_index(list, j));
				if (!u)
					continue;
				g_autofree char *key = g_ascii_strdown(u->address, -1);
				guint n = GPOINTER_TO_UINT(g_hash_table_lookup(wanted, key));
				g_hash_table_replace(wanted, g_steal_pointer(&key), GUINT_TO_POINTER(n + 1));
				total++;
			}
		}
	}
	guint delivered = 0, short_boxes = 0, over_boxes = 0;
	g_autofree char *example = NULL;
	GHashTableIter it;
	gpointer key, value;
	g_hash_table_iter_init(&it, wanted);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		g_autoptr(GPtrArray) files = folder_files(src, key, "INBOX", NULL);
		guint have = files ? files->len : 0, want = GPOINTER_TO_UINT(value);
		delivered += MIN(have, want);
		short_boxes += have < want;
		over_boxes += have > want;
		if (have != want && !example)
			example = g_strdup_printf("; %s has %u of %u", (char *)key, have, want);
	}
	*got_r = g_strdup_printf("%u of %u delivered, %u mailbox(es) short, %u with too many%s", delivered,
	                         total, short_boxes, over_boxes, example ? example : "");
	return short_boxes == 0 && over_boxes == 0;
}

static char *header_of(const char *path, const char *name)
{
	g_autofree char *data = NULL;
	gsize len = 0;
	if (!g_file_get_contents(path, &data, &len, NULL))
		return NULL;
	g_autoptr(Rfc5322Header) h = rfc5322_parse_header(data, len, NULL);
	const char *v = h ? rfc5322_header_get(h, name) : NULL;
	return v ? g_strstrip(g_strdup(v)) : NULL;
}

static gboolean is_bounce(const char *path)
{
	g_autofree char *ct = header_of(path, "Content-Type");
	g_autofree char *from = header_of(path, "From");
	return (ct && strstr(ct, "delivery-status")) || (from && g_str_has_prefix(from, "MAILER-DAEMON@"));
}

/* ---- the judge ------------------------------------------------------------- */

gboolean expect_needs_steps(const ScenarioExpect *e)
{
	return e->kind == SCENARIO_EXPECT_STEP || e->kind == SCENARIO_EXPECT_STEPS_SEEN ||
	       e->kind == SCENARIO_EXPECT_STEPS_IN_ORDER;
}

static gboolean check_steps(const ScenarioExpect *e, GHashTable *seen, char **got_r)
{
	if (e->kind == SCENARIO_EXPECT_STEP) {
		StepSeen *s = g_hash_table_lookup(seen, e->step);
		*got_r = g_strdup(!s ? "not seen" : s->refused ? "seen, with a refusal" : "seen");
		switch (e->step_state) {
		case SCENARIO_STEP_SEEN: return s != NULL;
		case SCENARIO_STEP_REFUSED: return s && s->refused;
		case SCENARIO_STEP_NOT_SEEN: return s == NULL;
		}
		return FALSE;
	}
	/* In order: the run shows each step after the previous one, i.e. the
	 * steps appear as a subsequence of the event stream (an earlier,
	 * unrelated occurrence does not spoil it). */
	guint64 last = 0;
	const char *prev = NULL;
	for (guint i = 0; i < e->steps->len; i++) {
		const char *id = g_ptr_array_index(e->steps, i);
		StepSeen *s = g_hash_table_lookup(seen, id);
		if (!s) {
			*got_r = g_strdup_printf("%s was never seen", id);
			return FALSE;
		}
		if (e->kind == SCENARIO_EXPECT_STEPS_IN_ORDER) {
			guint64 next = 0;
			for (guint k = 0; k < s->seqs->len && !next; k++)
				if (g_array_index(s->seqs, guint64, k) > last)
					next = g_array_index(s->seqs, guint64, k);
			if (!next) {
				*got_r = g_strdup_printf("%s never came after %s", id, prev);
				return FALSE;
			}
			last = next;
		}
		prev = id;
	}
	*got_r = g_strdup("all seen");
	return TRUE;
}

static gboolean check_state(const Scenario *scn, const ExpectSource *src, const ScenarioExpect *e,
                            char **got_r)
{
	g_autoptr(GError) err = NULL;
	switch (e->kind) {
	case SCENARIO_EXPECT_FOLDER_COUNT: {
		g_autoptr(GPtrArray) files = folder_files(src, e->address, e->folder, &err);
		if (!files) {
			*got_r = g_strdup(err->message);
			return FALSE;
		}
		guint n = 0;
		for (guint i = 0; i < files->len; i++) {
			g_autofree char *subj = e->subject ? header_of(g_ptr_array_index(files, i), "Subject") : NULL;
			if (!e->subject || (subj && strcmp(subj, e->subject) == 0))
				n++;
		}
		*got_r = g_strdup_printf("%u message(s)", n);
		return n == e->count;
	}
	case SCENARIO_EXPECT_BOUNCE:
	case SCENARIO_EXPECT_NO_BOUNCE: {
		g_autoptr(GPtrArray) files = folder_files(src, e->address, "INBOX", &err);
		guint n = 0;
		for (guint i = 0; files && i < files->len; i++)
			if (is_bounce(g_ptr_array_index(files, i)))
				n++;
		*got_r = g_strdup_printf("%u bounce(s) in INBOX", n);
		return e->kind == SCENARIO_EXPECT_BOUNCE ? n > 0 : n == 0;
	}
	case SCENARIO_EXPECT_ALL_DELIVERED:
		return check_all_delivered(scn, src, got_r);
	case SCENARIO_EXPECT_QUEUE_EMPTY: {
		guint n = src->queue_length(src->data, e->host);
		*got_r = g_strdup_printf("%u message(s) queued", n);
		return n == 0;
	}
	default:
		break;
	}
	*got_r = g_strdup("unknown expectation");
	return FALSE;
}

ExpectVerdict expect_check(const Scenario *scn, const ExpectSource *src, const ScenarioExpect *e,
                           char **got_r)
{
	if (expect_needs_steps(e)) {
		if (!src->steps) {
			*got_r = g_strdup(src->no_steps_why ? src->no_steps_why : "the steps are not known");
			return EXPECT_SKIPPED;
		}
		return check_steps(e, src->steps->seen, got_r) ? EXPECT_OK : EXPECT_FAILED;
	}
	return check_state(scn, src, e, got_r) ? EXPECT_OK : EXPECT_FAILED;
}

char *expect_verdict_line(const Scenario *scn, const ScenarioExpect *e, ExpectVerdict v,
                          const char *when, const char *got)
{
	switch (v) {
	case EXPECT_OK:
		return g_strdup_printf("ok      %s:%u: expect %s", scn->filename, e->line, e->text);
	case EXPECT_FAILED:
		return g_strdup_printf("FAILED  %s:%u: expect %s (at %s: %s)", scn->filename, e->line, e->text,
		                       when, got);
	case EXPECT_SKIPPED:
		break;
	}
	return g_strdup_printf("SKIPPED %s:%u: expect %s (%s)", scn->filename, e->line, e->text, got);
}
