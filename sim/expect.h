/* sim/expect.h - a scenario's expectations ("expect ..." lines) judged
 * against what a mail system left: Maildirs, queues, and the steps its
 * events showed.
 *
 * One judge for the simulation (sim/runner.c, its world in memory) and for
 * a lab (mailsim lab check, sim/lab_check.h, each host's files on disk):
 * the caller says where an address's Maildir is, how many messages a
 * host's queue holds, and which steps were seen; the verdict and its words
 * ("got" text) are the same in both.
 */
#pragma once

#include <glib.h>
#include "sim/kernel/bus.h"
#include "sim/scenario.h"

/* Enough occurrences of one step to check an order; a run with more (the
 * big-internet benchmark) keeps the first ones. */
#define EXPECT_STEP_OCCURRENCES_KEPT 100000

/* ---- the steps seen ------------------------------------------------------ */

typedef struct ExpectSteps ExpectSteps;

ExpectSteps *expect_steps_new(void);
void         expect_steps_free(ExpectSteps *steps);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExpectSteps, expect_steps_free)

/* One occurrence of step (NULL: ignored) at position seq, rising from call
 * to call; refused: the event was a refusal (MS_EV_REFUSE). */
void         expect_steps_note(ExpectSteps *steps, const char *step, guint64 seq, gboolean refused);
/* A sink noting every event of a bus (ev->seq, ev->kind); steps stays the
 * caller's and must outlive the sink. */
MsSink      *expect_steps_sink_new(ExpectSteps *steps);

/* ---- the judge ----------------------------------------------------------- */

typedef struct {
	/* The root of address's Maildir (INBOX; folder F in ROOT/.F), new, or
	 * NULL with error (a user the scenario does not know, a host not here). */
	char  *(*maildir)(gpointer data, const char *address, GError **error);
	/* How many messages host's MTA queue holds (0: no MTA there). */
	guint  (*queue_length)(gpointer data, const char *host);
	gpointer     data;
	/* The script's clock: "every message delivered" counts the sends at or
	 * before it. */
	gint64       now_us;
	/* The steps seen; NULL: not known, a step expectation cannot be judged
	 * (expect_check says so and returns EXPECT_SKIPPED). */
	ExpectSteps *steps;
	/* Why steps are not known, for the SKIPPED line; NULL with steps. */
	const char  *no_steps_why;
} ExpectSource;

typedef enum {
	EXPECT_FAILED,
	EXPECT_OK,
	EXPECT_SKIPPED,   /* cannot be judged from this source */
} ExpectVerdict;

/* Is a step expectation (needs the events)? */
gboolean      expect_needs_steps(const ScenarioExpect *e);
/* Judge e; *got_r (new): what was found, as "2 message(s)", "not seen",
 * "3 of 4 delivered, ...". */
ExpectVerdict expect_check(const Scenario *scn, const ExpectSource *src, const ScenarioExpect *e,
                           char **got_r);
/* The verdict's line, as mailsim run and lab check print it (new):
 * "ok      FILE:LINE: expect ...", "FAILED  ... (at WHEN: GOT)",
 * "SKIPPED ... (GOT)". */
char         *expect_verdict_line(const Scenario *scn, const ScenarioExpect *e, ExpectVerdict v,
                                  const char *when, const char *got);
