/* sim/lab_check.c - a scenario's expectations judged against a lab's
 * files and event logs (sim/lab_check.h), by the judge mailsim run uses
 * (sim/expect.h).
 */
#include "sim/lab_check.h"
#include "sim/expect.h"
#include "sim/lab_events.h"
#include "agents/mda/maildir.h"
#include "agents/mta/queue.h"
#include "ui/text.h"

#include <stdio.h>
#include <string.h>

/* What mailsim serve --host keeps in STATE/HOST (sim/world.c). */
#define LAB_CHECK_MAIL_DIR  "mail"
#define LAB_CHECK_QUEUE_DIR "queue"

guint lab_check_queue_count(const char *queue_dir)
{
	GDir *d = g_dir_open(queue_dir, 0, NULL);
	if (!d)
		return 0;
	guint n = 0;
	const char *name;
	while ((name = g_dir_read_name(d))) {
		/* ID.env is the commit point; ".ID.env.tmp" and ".free.N" start with a dot */
		if (!g_str_has_suffix(name, MTA_QUEUE_ENV_SUFFIX))
			continue;
		g_autofree char *id = g_strndup(name, strlen(name) - strlen(MTA_QUEUE_ENV_SUFFIX));
		if (!mta_queue_id_validate(id, NULL))
			continue;
		g_autofree char *path = g_build_filename(queue_dir, name, NULL);
		g_autofree char *text = NULL;
		gsize len = 0;
		if (!g_file_get_contents(path, &text, &len, NULL))
			continue;   /* removed as we looked: delivered */
		g_autoptr(MtaQueueEntry) e = mta_queue_envelope_parse(text, len, NULL);
		/* a damaged envelope is still a message the queue holds */
		if (!e || !mta_queue_entry_is_done(e))
			n++;
	}
	g_dir_close(d);
	return n;
}

static char *lab_maildir(gpointer data, const char *address, GError **error)
{
	const LabCheckOptions *o = data;
	const ScenarioUser *u = scenario_find_user(o->scn, address);
	if (!u) {
		g_set_error(error, SCENARIO_ERROR, SCENARIO_ERROR_INVALID, "%s is no user of this world", address);
		return NULL;
	}
	g_autofree char *mail = g_build_filename(o->state, u->host, LAB_CHECK_MAIL_DIR, NULL);
	return maildir_user_root(mail, address, error);
}

static guint lab_queue_length(gpointer data, const char *host)
{
	const LabCheckOptions *o = data;
	const ScenarioHost *h = scenario_find_host(o->scn, host);
	if (!h)
		return 0;
	g_autofree char *dir = g_build_filename(o->state, h->name, LAB_CHECK_QUEUE_DIR, NULL);
	return lab_check_queue_count(dir);
}

int lab_check_run(const LabCheckOptions *o)
{
	g_autoptr(ExpectSteps) steps = NULL;
	guint step_events = 0;
	if (o->n_event_logs)
		steps = lab_events_read_steps(o->event_logs, o->n_event_logs, &step_events);
	ExpectSource src = { .maildir = lab_maildir, .queue_length = lab_queue_length, .data = (gpointer)o,
	                     .now_us = o->now_us, .steps = steps,
	                     .no_steps_why = "steps are not checked in this lab: it keeps no event logs "
	                                     "(made by an older mailsim lab up)" };
	g_autofree char *when = ui_text_format_time(o->now_us);
	printf("%s: checked at %s of the script%s, in the lab of %s\n", o->scn->title, when,
	       o->played ? "" : " (not played: lab up had no --play; time since lab up)", o->state);
	if (o->playing)
		printf("(the script is still playing on %u machine(s): what it has not done yet is missing)\n",
		       o->playing);
	guint passed = 0, failed = 0, not_due = 0, skipped = 0;
	for (guint i = 0; i < o->scn->expects->len; i++) {
		const ScenarioExpect *e = g_ptr_array_index(o->scn->expects, i);
		if (e->after_us >= 0 && e->after_us > o->now_us) {
			g_autofree char *after = ui_text_format_time(e->after_us);
			printf("not due %s:%u: expect %s (the script is at %s, before %s)\n", o->scn->filename, e->line,
			       e->text, when, after);
			not_due++;
			continue;
		}
		if (e->kind == SCENARIO_EXPECT_ALL_DELIVERED && !o->played) {
			g_autofree char *line = expect_verdict_line(o->scn, e, EXPECT_SKIPPED, when,
			                                            "the script sent nothing: lab up had no --play");
			printf("%s\n", line);
			skipped++;
			continue;
		}
		g_autofree char *got = NULL;
		ExpectVerdict v = expect_check(o->scn, &src, e, &got);
		g_autofree char *line = expect_verdict_line(o->scn, e, v, when, got);
		printf("%s\n", line);
		passed += v == EXPECT_OK;
		failed += v == EXPECT_FAILED;
		skipped += v == EXPECT_SKIPPED;
	}
	printf("expectations: %u passed, %u failed", passed, failed);
	if (not_due)
		printf(", %u not due yet", not_due);
	if (skipped)
		printf(", %u skipped", skipped);
	printf("\n");
	if (steps)
		printf("(steps from %u event(s) with a step in %u log(s) under %s/" LAB_EVENTS_DIR ")\n",
		       step_events, o->n_event_logs, o->state);
	return failed ? 1 : 0;
}
