/* tests/sim/test_lab_play.c - which lab machine acts each line of a
 * scenario's script (sim/lab_play.c lab_play_machine): a client's host, a
 * raw session's source (a host, or the client-ADDR machine the lab adds),
 * the host of host and link lines; DNS changes none, with the reason.
 */
#include "tests/ms_test.h"
#include "sim/lab_play.h"

static const char world[] =
	"title \"t\"\n"
	"host mail.example.com 192.0.2.10 runs mta mda\n"
	"host mx.example.org 198.51.100.20 runs mta mda\n"
	"host ns.example.net 203.0.113.53 runs dns\n"
	"host home-pc 192.0.2.77 runs mua alice\n"
	"host spammer 203.0.113.66\n"
	"zone example.org on ns.example.net <<\n"
	"  @ MX 10 mx\n"
	"  mx A 198.51.100.20\n"
	">>\n"
	"user alice@example.com password \"w\" on mail.example.com\n"
	"at 0s alice sets up account alice@example.com password \"w\"\n"                /* line 12 */
	"at 1s alice sends to bob@example.org subject \"Hi\"\n"                          /* 13 */
	"at 2s client spammer connects to mx.example.org port 25 and sends <<\n"        /* 14 */
	"  QUIT\n"
	">>\n"
	"at 2s client 198.51.100.7 connects to mx.example.org port 25 and sends <<\n"   /* 17 */
	"  QUIT\n"
	">>\n"
	"at 2s client 192.0.2.77 connects to mail.example.com port 587 and sends <<\n"  /* 20 */
	"  QUIT\n"
	">>\n"
	"at 3s host mx.example.org goes down\n"                                         /* 23 */
	"at 4s link home-pc mail.example.com cut\n"                                     /* 24 */
	"at 5s dns removes mx A from example.org\n";                                    /* 25 */

static const struct {
	guint       line;
	const char *machine;   /* NULL: not acted in a lab */
} cases[] = {
	{ 12, "home-pc" },
	{ 13, "home-pc" },
	{ 14, "spammer" },
	{ 17, "client-198.51.100.7" },
	{ 20, "home-pc" },            /* an address a host has: that host */
	{ 23, "mx.example.org" },
	{ 24, "home-pc" },
	{ 25, NULL },
};

START_TEST(test_machine)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(Scenario) scn = scenario_parse(world, -1, "t.scn", &err);
	ck_assert_msg(scn != NULL, "%s", err ? err->message : "?");
	const ScenarioAction *a = NULL;
	for (guint i = 0; i < scn->actions->len; i++)
		if (((ScenarioAction *)g_ptr_array_index(scn->actions, i))->line == cases[_i].line)
			a = g_ptr_array_index(scn->actions, i);
	ck_assert_msg(a != NULL, "no action on line %u", cases[_i].line);
	const char *why = "unset";
	g_autofree char *machine = lab_play_machine(scn, a, &why);
	if (cases[_i].machine) {
		ck_assert_str_eq(machine, cases[_i].machine);
		ck_assert_ptr_null(why);
	} else {
		ck_assert_ptr_null(machine);
		ck_assert_ptr_nonnull(why);
		ck_assert_msg(strstr(why, "name server") != NULL, "%s", why);
	}
}
END_TEST

static Suite *lab_play_suite(void)
{
	Suite *s = suite_create("lab_play");
	TCase *tc = tcase_create("machines");
	tcase_add_loop_test(tc, test_machine, 0, G_N_ELEMENTS(cases));
	suite_add_tcase(s, tc);
	return s;
}

MS_TEST_MAIN(lab_play_suite)
