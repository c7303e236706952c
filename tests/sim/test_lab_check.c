/* tests/sim/test_lab_check.c - what mailsim lab check reads: a queue
 * directory counted without opening it (sim/lab_check.h), and the judge
 * shared with mailsim run (sim/expect.h) against a Maildir on disk and
 * steps noted by hand.
 */
#include "tests/ms_test.h"
#include "sim/expect.h"
#include "sim/lab_check.h"
#include "agents/mta/queue.h"

static void add(MtaQueue *q, const char *id)
{
	const char *rcpts[] = { "bob@example.org", NULL };
	g_autoptr(GBytes) msg = g_bytes_new_static("Subject: x\r\n\r\nhi\r\n", 19);
	MtaQueueIncoming in = { .id = id, .from = "alice@example.com", .rcpts = rcpts, .message = msg };
	g_autoptr(GError) err = NULL;
	ck_assert_msg(mta_queue_add(q, &in, &err) != NULL, "%s", err ? err->message : "?");
}

START_TEST(test_queue_count)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *qdir = g_build_filename(dir, "queue", NULL);
	ck_assert_uint_eq(lab_check_queue_count(qdir), 0);   /* no directory */
	MtaQueue *q = mta_queue_open(qdir, FALSE, NULL, NULL);
	ck_assert_ptr_nonnull(q);
	add(q, "A1");
	add(q, "B2");
	add(q, "C3");
	ck_assert_uint_eq(lab_check_queue_count(qdir), 3);
	/* C3 delivered, its removal not yet done: not counted */
	MtaQueueEntry *c = mta_queue_lookup(q, "C3");
	((MtaQueueRcpt *)g_ptr_array_index(c->rcpts, 0))->state = MTA_QUEUE_RCPT_DELIVERED;
	ck_assert(mta_queue_update(q, c, NULL));
	ck_assert_uint_eq(lab_check_queue_count(qdir), 2);
	/* temporaries, free files and names not ours do not count */
	static const char *const others[] = { ".D4.env.tmp", ".free.1", "not-an-id.env", "E5.msg" };
	for (guint i = 0; i < G_N_ELEMENTS(others); i++) {
		g_autofree char *p = g_build_filename(qdir, others[i], NULL);
		ck_assert(g_file_set_contents(p, "x", 1, NULL));
	}
	ck_assert_uint_eq(lab_check_queue_count(qdir), 2);
	ck_assert(mta_queue_remove(q, mta_queue_lookup(q, "A1"), NULL));
	ck_assert_uint_eq(lab_check_queue_count(qdir), 1);
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

static const char world[] =
	"title \"t\"\n"
	"host mx.example.org 198.51.100.20 runs mta mda\n"
	"user bob@example.org password \"b\" on mx.example.org\n"
	"expect bob@example.org INBOX has 1 message with subject \"Hi\"\n"   /* 4 */
	"expect bob@example.org INBOX has 2 messages\n"                      /* 5 */
	"expect bob@example.org receives no bounce\n"                        /* 6 */
	"expect queue on mx.example.org is empty\n"                          /* 7 */
	"expect steps out.1, in.1 in order\n"                                /* 8 */
	"expect steps in.1, out.1 in order\n";                               /* 9 */

typedef struct {
	const char *root;
	guint       queued;
} Fake;

static char *fake_maildir(gpointer data, const char *address, GError **error)
{
	return g_build_filename(((Fake *)data)->root, address, NULL);
}

static guint fake_queue(gpointer data, const char *host)
{
	return ((Fake *)data)->queued;
}

START_TEST(test_judge)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(Scenario) scn = scenario_parse(world, -1, "t.scn", &err);
	ck_assert_msg(scn != NULL, "%s", err ? err->message : "?");
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *cur = g_build_filename(dir, "bob@example.org", "cur", NULL);
	ck_assert_int_eq(g_mkdir_with_parents(cur, 0700), 0);
	g_autofree char *m1 = g_build_filename(cur, "1.M1:2,", NULL);
	g_autofree char *m2 = g_build_filename(cur, "2.M2:2,", NULL);
	ck_assert(g_file_set_contents(m1, "Subject: Hi\r\n\r\nx\r\n", -1, NULL));
	ck_assert(g_file_set_contents(m2, "Subject: Other\r\n\r\nx\r\n", -1, NULL));
	g_autoptr(ExpectSteps) steps = expect_steps_new();
	expect_steps_note(steps, "out.1", 1, FALSE);
	expect_steps_note(steps, "in.1", 2, FALSE);
	Fake fake = { dir, 1 };
	ExpectSource src = { .maildir = fake_maildir, .queue_length = fake_queue, .data = &fake,
	                     .steps = steps };
	static const struct { guint line; ExpectVerdict v; const char *got; } want[] = {
		{ 4, EXPECT_OK, "1 message(s)" },
		{ 5, EXPECT_OK, "2 message(s)" },
		{ 6, EXPECT_OK, "0 bounce(s) in INBOX" },
		{ 7, EXPECT_FAILED, "1 message(s) queued" },
		{ 8, EXPECT_OK, "all seen" },
		{ 9, EXPECT_FAILED, "out.1 never came after in.1" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
		const ScenarioExpect *e = g_ptr_array_index(scn->expects, i);
		ck_assert_uint_eq(e->line, want[i].line);
		g_autofree char *got = NULL;
		ck_assert_int_eq(expect_check(scn, &src, e, &got), want[i].v);
		ck_assert_str_eq(got, want[i].got);
	}
	/* no steps known: a step expectation is skipped, with the reason */
	src.steps = NULL;
	src.no_steps_why = "no logs";
	g_autofree char *got = NULL;
	ck_assert_int_eq(expect_check(scn, &src, g_ptr_array_index(scn->expects, 4), &got), EXPECT_SKIPPED);
	ck_assert_str_eq(got, "no logs");
	ms_test_rmtree(dir);
}
END_TEST

static Suite *lab_check_suite(void)
{
	Suite *s = suite_create("lab_check");
	MS_ADD_TEST(s, test_queue_count, 10);
	MS_ADD_TEST(s, test_judge, 10);
	return s;
}

MS_TEST_MAIN(lab_check_suite)
