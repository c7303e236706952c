/* sim/runner.c - plays a scenario's script and checks its expectations.
 *
 * The script is a task of its own: it sleeps on the virtual clock until an
 * action's time, then starts the action as a task (actions overlap, like
 * people do) or checks an expectation that names a time.  When the world
 * goes quiet (or --until comes) the remaining expectations are checked
 * against what the run left: Maildirs, queues, and the steps the event
 * stream showed.
 */
#include "sim/runner.h"
#include "sim/builtin.h"
#include "sim/expect.h"
#include "sim/script_block.h"
#include "sim/world.h"
#include "ui/text.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <glib/gstdio.h>

#define RUNNER_MEMORY_FS "/dev/shm"   /* tmpfs on Linux */

/* ---- the run ----------------------------------------------------------- */

typedef struct {
	const Scenario *scn;
	MsSched        *sched;
	MsWorld        *world;
	ExpectSteps    *steps;     /* the steps the stream showed */
	GPtrArray      *results;   /* char*: one line per expectation, "ok"/"FAILED" */
	guint           failed;
	GHashTable     *checked;   /* ScenarioExpect* already checked at their time */
} Runner;

static void say(Runner *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void say(Runner *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	ms_bus_emitf(ms_sched_bus(r->sched), MS_EV_NOTE, "scenario", NULL, NULL, NULL, "%s", text);
}

/* ---- expectations ------------------------------------------------------ */

/* Where the world keeps a user's Maildir, and how much its MTA holds:
 * what sim/expect.h judges. */
static char *runner_maildir(gpointer data, const char *address, GError **error)
{
	return ms_world_maildir(((Runner *)data)->world, address, error);
}

static guint runner_queue_length(gpointer data, const char *host)
{
	Mta *mta = ms_world_mta(((Runner *)data)->world, host);
	return mta ? mta_queue_length(mta) : 0;
}

static void record_expect(Runner *r, const ScenarioExpect *e)
{
	g_autofree char *got = NULL;
	ExpectSource src = { .maildir = runner_maildir, .queue_length = runner_queue_length, .data = r,
	                     .now_us = ms_sched_now(r->sched), .steps = r->steps };
	/* the simulation has every step: a verdict that is not ok failed */
	gboolean ok = expect_check(r->scn, &src, e, &got) == EXPECT_OK;
	g_autofree char *when = ui_text_format_time(ms_sched_now(r->sched));
	if (!ok)
		r->failed++;
	g_ptr_array_add(r->results, expect_verdict_line(r->scn, e, ok ? EXPECT_OK : EXPECT_FAILED, when, got));
	g_hash_table_add(r->checked, (gpointer)e);
}

/* ---- actions ----------------------------------------------------------- */

typedef struct {
	Runner               *r;
	const ScenarioAction *a;
} ActionRun;

/* A connection a scenario scripts byte for byte: to show an attack (SMTP
 * smuggling, an open-relay probe) on the real server code. */
static void raw_session(Runner *r, const ScenarioAction *a)
{
	MsNet *net = ms_world_net(r->world);
	MsHost *src = a->source_host ? ms_net_host_by_name(net, a->source_host)
	                             : ms_net_host_by_address(net, a->address);
	MsHost *dst = ms_net_host_by_name(net, a->host);
	if (!src || !dst)
		return;
	g_autoptr(GError) err = NULL;
	g_autoptr(MsConn) c = ms_stack_connect(ms_host_stack(src), ms_host_address(dst), (guint16)a->port,
	                                       30 * MS_SECOND, &err);
	if (!c)
		return;
	ms_conn_set_proto(c, a->port == 25 || a->port == 587 ? "smtp" : "tcp");
	ms_conn_set_timeout(c, 30 * MS_SECOND);
	char line[1024];
	MsEol eol;
	/* the greeting first, like any client; then the script in one burst */
	ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
	script_block_send(c, a->data, NULL);   /* a peer gone: the reads below end */
	for (;;) {
		gssize n = ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
		if (n < 0 || (n == 0 && eol == MS_EOL_EOF))
			break;
	}
}

static gboolean dns_change(Runner *r, const ScenarioAction *a, GError **error)
{
	const char *name = a->kind == SCENARIO_ACTION_DNS_ADD ? (a->zone ? a->zone : a->record) : a->name;
	DnsServer *srv = ms_world_dns_for(r->world, a->zone ? a->zone : name);
	DnsZone *zone = srv ? dns_zone_set_find(dns_server_zones(srv), a->zone ? a->zone : name) : NULL;
	if (!zone) {
		g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_INVALID, "no DNS server holds a zone for %s", name);
		return FALSE;
	}
	if (a->kind == SCENARIO_ACTION_DNS_REMOVE) {
		guint16 type = 0;
		g_autofree char *owner = g_str_has_suffix(a->name, ".") ? g_strdup(a->name)
		                         : g_strdup_printf("%s.%s", a->name, dns_zone_origin(zone));
		if (!dns_type_from_string(a->rrtype, &type))
			return FALSE;
		guint n = dns_zone_remove_records(zone, owner, type);
		say(r, "DNS: removed %u %s record(s) of %s", n, a->rrtype, owner);
		return TRUE;
	}
	g_autoptr(DnsRecord) rec = dns_zone_parse_record(zone, a->record, r->scn->filename, a->line, error);
	if (!rec || !dns_zone_add_record(zone, rec, error))
		return FALSE;
	g_autofree char *text = dns_record_to_text(rec);
	say(r, "DNS: added %s", text);
	return TRUE;
}

static void action_task(gpointer data)
{
	ActionRun *ar = data;
	Runner *r = ar->r;
	const ScenarioAction *a = ar->a;
	MsNet *net = ms_world_net(r->world);
	g_autoptr(GError) err = NULL;
	say(r, "%s:%u: %s", r->scn->filename, a->line, a->text);
	switch (a->kind) {
	case SCENARIO_ACTION_HOST_DOWN:
	case SCENARIO_ACTION_HOST_UP: {
		MsHost *h = ms_net_host_by_name(net, a->host);
		/* MTAs waiting to retry keep waiting, as Postfix does: a host that
		 * comes back is noticed at the next retry time. */
		if (h)
			ms_host_set_up(h, a->kind == SCENARIO_ACTION_HOST_UP);
		break;
	}
	case SCENARIO_ACTION_LINK_CUT:
	case SCENARIO_ACTION_LINK_RESTORE:
		ms_net_set_partition(net, a->host, a->peer, a->kind == SCENARIO_ACTION_LINK_CUT);
		break;
	case SCENARIO_ACTION_DNS_REMOVE:
	case SCENARIO_ACTION_DNS_ADD:
		if (!dns_change(r, a, &err))
			say(r, "%s:%u: the DNS change failed: %s", r->scn->filename, a->line,
			    err ? err->message : "bad record type");
		break;
	case SCENARIO_ACTION_RAW_SESSION:
		raw_session(r, a);
		break;
	default:
		if (!ms_world_client_action(r->world, a, &err))
			ms_bus_emitf(ms_sched_bus(r->sched), MS_EV_ERROR, a->client, NULL, NULL, NULL,
			             "%s failed: %s", scenario_action_kind_to_string(a->kind),
			             err ? err->message : "?");
		break;
	}
	g_free(ar);
}

/* The script: actions and timed checks, in time order. */
typedef struct {
	gint64  t;
	guint   order;
	const ScenarioAction *action;
	const ScenarioExpect *expect;
} Cue;

static gint cue_compare(gconstpointer a, gconstpointer b)
{
	const Cue *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return (gint)x->order - (gint)y->order;
}

static void script_task(gpointer data)
{
	Runner *r = data;
	GArray *cues = g_array_new(FALSE, TRUE, sizeof(Cue));
	guint order = 0;
	for (guint i = 0; i < r->scn->actions->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(r->scn->actions, i);
		Cue c = { a->time_us, order++, a, NULL };
		g_array_append_val(cues, c);
	}
	for (guint i = 0; i < r->scn->expects->len; i++) {
		const ScenarioExpect *e = g_ptr_array_index(r->scn->expects, i);
		if (e->after_us < 0)
			continue;
		Cue c = { e->after_us, order++, NULL, e };
		g_array_append_val(cues, c);
	}
	g_array_sort(cues, cue_compare);
	for (guint i = 0; i < cues->len; i++) {
		Cue *c = &g_array_index(cues, Cue, i);
		gint64 wait = c->t - ms_sched_now(r->sched);
		if (wait > 0 && !ms_sleep(wait))
			break;
		if (c->expect) {
			record_expect(r, c->expect);
			continue;
		}
		ActionRun *ar = g_new0(ActionRun, 1);
		ar->r = r;
		ar->a = c->action;
		g_autofree char *name = g_strdup_printf("action@%u", c->action->line);
		ms_task_spawn(r->sched, name, action_task, ar);
	}
	g_array_free(cues, TRUE);
}

/* ---- entry points ------------------------------------------------------ */

/* A file, or "builtin:NAME" for a scenario compiled into mailsim. */
static Scenario *load(const char *path, guint64 *seed_override, const ScenarioScale *scale)
{
	g_autoptr(GError) err = NULL;
	Scenario *scn;
	if (g_str_has_prefix(path, "builtin:")) {
		const char *text = ms_builtin_scenario(path + 8);
		if (!text) {
			fprintf(stderr, "mailsim: no built-in scenario \"%s\"\n", path + 8);
			return NULL;
		}
		scn = scenario_parse_scaled(text, -1, path + 8, scale, &err);
	} else {
		scn = scenario_load_file_scaled(path, scale, &err);
	}
	if (!scn) {
		fprintf(stderr, "%s\n", err->message);
		return NULL;
	}
	if (seed_override)
		scn->seed = *seed_override;
	return scn;
}

static char *make_state_dir(const char *given, gboolean *temporary)
{
	*temporary = given == NULL;
	if (given) {
		g_mkdir_with_parents(given, 0700);
		return g_strdup(given);
	}
	/* A simulated host's files die with the run: keep them in memory when
	 * the machine has a memory file system, so that a big world is not
	 * slowed by the real disk's inode allocation. */
	if (g_access(RUNNER_MEMORY_FS, W_OK) == 0) {
		g_autofree char *tmpl = g_build_filename(RUNNER_MEMORY_FS, "mailsim-run-XXXXXX", NULL);
		if (g_mkdtemp(tmpl))
			return g_steal_pointer(&tmpl);
	}
	return g_dir_make_tmp("mailsim-run-XXXXXX", NULL);
}

static void remove_tree(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	if (d) {
		const char *name;
		while ((name = g_dir_read_name(d))) {
			g_autofree char *child = g_build_filename(path, name, NULL);
			if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
				remove_tree(child);
			else
				remove(child);
		}
		g_dir_close(d);
	}
	remove(path);
}

/* What the run cost, for make bench: one line a script can parse. */
static void print_stats(const Scenario *scn, MsSched *s, gint64 build_us, gint64 run_us,
                        guint64 handoffs)
{
	guint sends = 0, fetches = 0;
	for (guint i = 0; i < scn->actions->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(scn->actions, i);
		sends += a->kind == SCENARIO_ACTION_SEND;
		fetches += a->kind == SCENARIO_ACTION_FETCH;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double run_s = MAX(run_us, 1) / 1e6;
	g_autofree char *virt = ui_text_format_time(ms_sched_now(s));
	printf("stats: hosts %u users %u sends %u fetches %u build_s %.2f run_s %.2f virtual %s "
	       "sends_per_s %.0f handoffs %" G_GUINT64_FORMAT " handoffs_per_s %.0f "
	       "handoffs_per_send %.1f peak_rss_mb %.0f\n",
	       scn->hosts->len, scn->users->len, sends, fetches, build_us / 1e6, run_s, virt,
	       sends / run_s, handoffs, handoffs / run_s, sends ? (double)handoffs / sends : 0.0,
	       ru.ru_maxrss / 1024.0);
	fflush(stdout);
}

int ms_runner_check(const char *path)
{
	g_autoptr(Scenario) scn = load(path, NULL, NULL);
	if (!scn)
		return 2;
	gboolean temporary;
	g_autofree char *dir = make_state_dir(NULL, &temporary);
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, scn->seed);
	g_autoptr(GError) err = NULL;
	MsWorld *w = ms_world_new(scn, s, dir, &err);
	int rc = 0;
	if (!w) {
		fprintf(stderr, "%s\n", err->message);
		rc = 2;
	} else {
		printf("%s: %s: %u hosts, %u users, %u actions, %u expectations: ok\n", path, scn->title,
		       scn->hosts->len, scn->users->len, scn->actions->len, scn->expects->len);
	}
	ms_sched_shutdown(s);
	ms_world_free(w);
	ms_sched_free(s);
	remove_tree(dir);
	return rc;
}

int ms_runner_run(const char *path, const MsRunOptions *opts)
{
	g_autoptr(Scenario) scn = load(path, opts->has_seed ? (guint64 *)&opts->seed : NULL, &opts->scale);
	if (!scn)
		return 2;
	gboolean temporary;
	g_autofree char *dir = make_state_dir(opts->state_dir, &temporary);
	if (!dir) {
		fprintf(stderr, "mailsim: cannot make a state directory\n");
		return 2;
	}

	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, scn->seed);
	MsBus *bus = ms_sched_bus(s);
	g_autoptr(GError) err = NULL;
	int rc = 0;
	gint64 wall_start = g_get_monotonic_time();
	/* The world is built before anyone watches: filling the account
	 * database is the teacher's preparation, not part of the lesson. */
	MsWorld *world = ms_world_new(scn, s, dir, &err);
	FILE *transcript = NULL;
	if (opts->transcript_path) {
		transcript = fopen(opts->transcript_path, "w");
		if (!transcript) {
			fprintf(stderr, "mailsim: cannot write %s: %s\n", opts->transcript_path, g_strerror(errno));
			ms_world_free(world);
			ms_sched_free(s);
			return 2;
		}
		UiTextOptions to = { .verbose = opts->verbose };
		ms_bus_add_sink(bus, ui_text_sink_new(transcript, &to));
	} else if (!opts->quiet) {
		UiTextOptions to = { .color = opts->color, .verbose = opts->verbose };
		ms_bus_add_sink(bus, ui_text_sink_new(stdout, &to));
	}
	if (opts->events_path) {
		FILE *f = fopen(opts->events_path, "w");
		if (!f) {
			fprintf(stderr, "mailsim: cannot write %s: %s\n", opts->events_path, g_strerror(errno));
			ms_world_free(world);
			ms_sched_free(s);
			return 2;
		}
		ms_bus_add_sink(bus, ms_sink_jsonl_new(f, TRUE));
	}
	if (opts->extra_sink)
		ms_bus_add_sink(bus, opts->extra_sink);
	if (opts->pcap_sink)
		ms_bus_add_sink(bus, opts->pcap_sink);
	Runner r = { .scn = scn, .sched = s, .results = g_ptr_array_new_with_free_func(g_free),
	             .checked = g_hash_table_new(g_direct_hash, g_direct_equal) };
	r.steps = expect_steps_new();
	ms_bus_add_sink(bus, expect_steps_sink_new(r.steps));

	r.world = world;
	if (!r.world || !ms_world_start(r.world, &err)) {
		fprintf(stderr, "%s\n", err->message);
		rc = 2;
	} else {
		say(&r, "%s (%s), seed %" G_GUINT64_FORMAT, scn->title, path, scn->seed);
		gint64 wall_built = g_get_monotonic_time();
		guint64 handoffs_built = ms_sched_handoffs(s);
		ms_task_spawn(s, "script", script_task, &r);
		if (opts->attach)
			opts->attach(opts->front_data, s, scn);
		ms_sched_run(s, opts->until >= 0 ? opts->until : MS_FOREVER);
		if (opts->stats)
			print_stats(scn, s, wall_built - wall_start, g_get_monotonic_time() - wall_built,
			            ms_sched_handoffs(s) - handoffs_built);
		for (guint i = 0; i < scn->expects->len; i++) {
			const ScenarioExpect *e = g_ptr_array_index(scn->expects, i);
			if (!g_hash_table_contains(r.checked, e))
				record_expect(&r, e);
		}
		g_autofree char *end = ui_text_format_time(ms_sched_now(s));
		ms_world_stop(r.world);
		ms_bus_flush(bus);
		GString *verdict = g_string_new(NULL);
		g_string_append_printf(verdict, "%s: the run ended at %s of virtual time\n", scn->title, end);
		for (guint i = 0; i < r.results->len; i++)
			g_string_append_printf(verdict, "%s\n", (char *)g_ptr_array_index(r.results, i));
		g_string_append_printf(verdict, "expectations: %u passed, %u failed\n", r.results->len - r.failed, r.failed);
		if (opts->finish)
			opts->finish(opts->front_data, verdict->str);
		printf("\n%s", verdict->str);
		g_string_free(verdict, TRUE);
		rc = r.failed ? 1 : 0;
	}
	ms_sched_shutdown(s);
	ms_world_free(r.world);
	ms_sched_free(s);   /* flushes and closes the sinks */
	if (transcript)
		fclose(transcript);
	g_ptr_array_free(r.results, TRUE);
	g_hash_table_destroy(r.checked);
	expect_steps_free(r.steps);   /* after its sink, which the scheduler's bus freed */
	if (temporary)
		remove_tree(dir);
	return rc;
}
