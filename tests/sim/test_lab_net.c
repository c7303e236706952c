/* tests/sim/test_lab_net.c - a scenario's firewall and links as a lab
 * applies them (sim/lab_net.c): the nft script keeps the rules' order and
 * the simulation's meaning of each clause, a link is the most specific
 * line as net/simnet.c takes it, and the tc commands shape by destination.
 */
#include "tests/ms_test.h"
#include "sim/lab_net.h"
#include "net/simnet.h"

#define WORLD                                                             \
	"title \"t\"\n"                                                       \
	"host mail.example.com 192.0.2.10 runs mta mda\n"                     \
	"host mx.example.org 198.51.100.20 runs mta mda\n"                    \
	"host ns.example.net 203.0.113.53 runs dns\n"                         \
	"user alice@example.com password \"w\" on mail.example.com\n"         \
	"user bob@example.org password \"b\" on mx.example.org\n"

static Scenario *parse(const char *extra)
{
	g_autofree char *text = g_strconcat(WORLD, extra, NULL);
	g_autoptr(GError) err = NULL;
	Scenario *scn = scenario_parse(text, -1, "t.scn", &err);
	ck_assert_msg(scn != NULL, "%s", err ? err->message : "?");
	return scn;
}

/* The rule lines of a script, in order, without their comments. */
static char **rule_lines(const char *script)
{
	g_auto(GStrv) lines = g_strsplit(script, "\n", -1);
	GPtrArray *out = g_ptr_array_new();
	for (char **l = lines; *l; l++) {
		if (!strstr(*l, " counter "))
			continue;
		char *c = strstr(*l, " comment ");
		g_ptr_array_add(out, g_strstrip(g_strndup(*l, c ? (gsize)(c - *l) : strlen(*l))));
	}
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

static const struct {
	const char *rules;       /* scenario lines */
	const char *expected[6]; /* the nft rules for mx.example.org, in order */
} firewall_cases[] = {
	/* a TCP rule judges a SYN without ACK: replies to mx's own connections pass */
	{ "firewall mx.example.org drop tcp port 25\n",
	  { "tcp flags & (syn | ack) == syn tcp dport 25 counter drop" } },
	/* reject: a reset, the refusal a client sees at once */
	{ "firewall mx.example.org reject tcp port 25 from 203.0.113.0/24\n",
	  { "ip saddr 203.0.113.0/24 tcp flags & (syn | ack) == syn tcp dport 25 counter reject with tcp reset" } },
	/* a datagram rejected is lost as one dropped, as in the simulation */
	{ "firewall mx.example.org reject udp port 53\n",
	  { "meta l4proto udp udp dport 53 counter drop" } },
	/* any: both protocols, TCP's first; order of the file kept, first match wins */
	{ "firewall mx.example.org accept any from 192.0.2.10\n"
	  "firewall mx.example.org reject any\n",
	  { "ip saddr 192.0.2.10 tcp flags & (syn | ack) == syn counter accept",
	    "ip saddr 192.0.2.10 meta l4proto udp counter accept",
	    "tcp flags & (syn | ack) == syn counter reject with tcp reset",
	    "meta l4proto udp counter drop" } },
	/* another host's rules are not mx's */
	{ "firewall mail.example.com drop tcp\n"
	  "firewall mx.example.org accept tcp port 587\n",
	  { "tcp flags & (syn | ack) == syn tcp dport 587 counter accept" } },
};

START_TEST(test_firewall_script)
{
	g_autoptr(Scenario) scn = parse(firewall_cases[_i].rules);
	guint n = 0;
	g_autofree char *script = lab_net_firewall_script(scn, "MX.example.org", &n);
	ck_assert_ptr_nonnull(script);
	ck_assert_msg(strstr(script, "table inet " LAB_NET_TABLE " {") != NULL, "%s", script);
	ck_assert_msg(strstr(script, "type filter hook input priority filter; policy accept;") != NULL, "%s", script);
	g_auto(GStrv) got = rule_lines(script);
	guint expected = 0;
	while (expected < G_N_ELEMENTS(firewall_cases[_i].expected) && firewall_cases[_i].expected[expected])
		expected++;
	ck_assert_msg(g_strv_length(got) == expected, "%u rules, not %u:\n%s", g_strv_length(got), expected, script);
	for (guint i = 0; i < expected; i++)
		ck_assert_str_eq(got[i], firewall_cases[_i].expected[i]);
	guint mine = 0;
	for (guint i = 0; i < scn->firewall->len; i++)
		mine += !g_ascii_strcasecmp(((ScenarioFirewallRule *)g_ptr_array_index(scn->firewall, i))->host,
		                            "mx.example.org");
	ck_assert_uint_eq(n, mine);
}
END_TEST

START_TEST(test_firewall_comment_and_none)
{
	g_autoptr(Scenario) scn = parse("firewall mx.example.org drop tcp port 25 from 203.0.113.0/24\n");
	g_autofree char *script = lab_net_firewall_script(scn, "mx.example.org", NULL);
	/* the scenario's line and words beside the kernel's rule */
	ck_assert_msg(strstr(script, "comment \"line 7: drop tcp port 25 from 203.0.113.0/24\"") != NULL, "%s", script);
	guint n = 99;
	ck_assert_ptr_null(lab_net_firewall_script(scn, "mail.example.com", &n));
	ck_assert_uint_eq(n, 0);
}
END_TEST

static const struct {
	const char *links;
	const char *a, *b;
	gint64      latency_us;
	guint64     bandwidth;
	guint       line;        /* 0: none applies */
} link_cases[] = {
	{ "", "mail.example.com", "mx.example.org", MS_NET_DEFAULT_LATENCY, 0, 0 },
	{ "link * latency 20ms\n", "mail.example.com", "mx.example.org", 20000, 0, 7 },
	/* the most specific wins, whichever order the lines come in */
	{ "link mail.example.com mx.example.org bandwidth 100kB/s\nlink * latency 20ms\n",
	  "mx.example.org", "mail.example.com", MS_NET_DEFAULT_LATENCY, 100000, 7 },
	{ "link * latency 20ms\nlink mx.example.org latency 5ms bandwidth 1MB/s\n",
	  "mail.example.com", "mx.example.org", 5000, 1000000, 8 },
	{ "link * latency 20ms\nlink mx.example.org latency 5ms\n",
	  "mail.example.com", "ns.example.net", 20000, 0, 7 },
	/* two lines of one score: the later wins */
	{ "link mail.example.com latency 7ms\nlink mx.example.org latency 9ms\n",
	  "mail.example.com", "mx.example.org", 9000, 0, 8 },
	/* a machine only the script names is reached by "*" lines only */
	{ "link mx.example.org latency 9ms\nlink * bandwidth 10kB/s\n",
	  "client-192.0.2.77", "mail.example.com", MS_NET_DEFAULT_LATENCY, 10000, 8 },
};

START_TEST(test_link)
{
	g_autoptr(Scenario) scn = parse(link_cases[_i].links);
	LabNetLink l = lab_net_link(scn, link_cases[_i].a, link_cases[_i].b);
	ck_assert_int_eq(l.latency_us, link_cases[_i].latency_us);
	ck_assert_uint_eq(l.bandwidth, link_cases[_i].bandwidth);
	ck_assert_uint_eq(l.line, link_cases[_i].line);
	LabNetLink back = lab_net_link(scn, link_cases[_i].b, link_cases[_i].a);
	ck_assert_int_eq(back.latency_us, l.latency_us);
	ck_assert_uint_eq(back.bandwidth, l.bandwidth);
}
END_TEST

static char *joined(GPtrArray *cmds, guint i)
{
	return g_strjoinv(" ", g_ptr_array_index(cmds, i));
}

START_TEST(test_tc_commands)
{
	LabNetShape shapes[] = {
		{ "198.51.100.20", 100000, 20000 },
		{ "203.0.113.53", 0, 20000 },
		{ "192.0.2.77", 2000000000, 0 },
	};
	/* without netem: a class for each bandwidth, none for a latency alone */
	g_autoptr(GPtrArray) plain = lab_net_tc_commands("eth0", shapes, G_N_ELEMENTS(shapes), FALSE);
	ck_assert_uint_eq(plain->len, 5);
	const char *want[] = {
		"qdisc add dev eth0 root handle 1: htb",
		"class add dev eth0 parent 1: classid 1:10 htb rate 800000bit ceil 800000bit quantum 10000",
		"filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 198.51.100.20/32 flowid 1:10",
		"class add dev eth0 parent 1: classid 1:11 htb rate 16000000000bit ceil 16000000000bit quantum 200000",
		"filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 192.0.2.77/32 flowid 1:11",
	};
	for (guint i = 0; i < plain->len; i++) {
		g_autofree char *got = joined(plain, i);
		ck_assert_str_eq(got, want[i]);
	}
	/* with netem: a delay below each class, and a class for a latency alone */
	g_autoptr(GPtrArray) delayed = lab_net_tc_commands("eth0", shapes, G_N_ELEMENTS(shapes), TRUE);
	ck_assert_uint_eq(delayed->len, 1 + 3 + 3 + 2);
	g_autofree char *netem = joined(delayed, 2);
	ck_assert_str_eq(netem, "qdisc add dev eth0 parent 1:10 handle 10: netem delay 20000us");
	g_autofree char *unlimited = joined(delayed, 4);
	ck_assert_msg(strstr(unlimited, "classid 1:11 htb rate 100000000000bit") != NULL, "%s", unlimited);
	/* nothing to shape: no qdisc at all */
	LabNetShape none[] = { { "198.51.100.20", 0, 20000 } };
	g_autoptr(GPtrArray) empty = lab_net_tc_commands("eth0", none, 1, FALSE);
	ck_assert_uint_eq(empty->len, 0);
}
END_TEST

START_TEST(test_describe)
{
	g_autofree char *both = lab_net_shape_describe(100000, 20000);
	ck_assert_str_eq(both, "100.0 kB/s, 20ms");
	g_autofree char *rate = lab_net_shape_describe(1000000, 0);
	ck_assert_str_eq(rate, "1.0 MB/s");
	g_autofree char *none = lab_net_shape_describe(0, 0);
	ck_assert_str_eq(none, "no limit");
}
END_TEST

static Suite *lab_net_suite(void)
{
	Suite *s = suite_create("lab_net");
	TCase *tc = tcase_create("tables");
	tcase_add_loop_test(tc, test_firewall_script, 0, G_N_ELEMENTS(firewall_cases));
	tcase_add_loop_test(tc, test_link, 0, G_N_ELEMENTS(link_cases));
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_firewall_comment_and_none, 10);
	MS_ADD_TEST(s, test_tc_commands, 10);
	MS_ADD_TEST(s, test_describe, 10);
	return s;
}

MS_TEST_MAIN(lab_net_suite)
