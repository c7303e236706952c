/* sim/lab_net.c - a scenario's firewall rules as an nftables table and its
 * links as tc shaping, for the namespaces of mailsim lab up.
 *
 * The meaning is net/simnet.c's (firewall_check, link_for): a lab played
 * beside a simulation of the same scenario refuses, drops and slows the
 * same traffic.  RFC 9293 3.5.2: a reset answers a SYN to a closed port,
 * which is what the simulation's reject is.
 */
#include "sim/lab_net.h"
#include "net/simnet.h"

#include <stdarg.h>
#include <string.h>

/* ---- firewall ---------------------------------------------------------------- */

/* One nft rule of a scenario rule, for one transport protocol. */
static void firewall_rule(GString *out, const ScenarioFirewallRule *r, ScenarioFirewallProto proto)
{
	gboolean tcp = proto == SCENARIO_FW_TCP;
	g_string_append(out, "\t\t");
	if (r->from)
		g_string_append_printf(out, "ip saddr %s ", r->from);
	/* net/simnet.c judges a TCP connection when its SYN arrives, never the
	 * segments of one under way: replies to the host's own connections pass */
	g_string_append(out, tcp ? "tcp flags & (syn | ack) == syn " : "meta l4proto udp ");
	if (r->port)
		g_string_append_printf(out, "%s dport %u ", tcp ? "tcp" : "udp", r->port);
	g_string_append(out, "counter ");
	switch (r->action) {
	case SCENARIO_FW_ACCEPT:
		g_string_append(out, "accept");
		break;
	case SCENARIO_FW_REJECT:
		/* a datagram the simulation rejects is lost, as one it drops */
		g_string_append(out, tcp ? "reject with tcp reset" : "drop");
		break;
	case SCENARIO_FW_DROP:
		g_string_append(out, "drop");
		break;
	}
	/* the scenario's words beside the kernel's: nft list shows both */
	g_string_append_printf(out, " comment \"line %u: %s %s", r->line, scenario_firewall_action_to_string(r->action),
	                       scenario_firewall_proto_to_string(r->proto));
	if (r->port)
		g_string_append_printf(out, " port %u", r->port);
	if (r->from)
		g_string_append_printf(out, " from %s", r->from);
	g_string_append(out, "\"\n");
}

char *lab_net_firewall_script(const Scenario *scn, const char *host, guint *rules_r)
{
	guint n = 0;
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < scn->firewall->len; i++) {
		const ScenarioFirewallRule *r = g_ptr_array_index(scn->firewall, i);
		if (g_ascii_strcasecmp(r->host, host))
			continue;
		if (r->proto != SCENARIO_FW_UDP)
			firewall_rule(out, r, SCENARIO_FW_TCP);
		if (r->proto != SCENARIO_FW_TCP)
			firewall_rule(out, r, SCENARIO_FW_UDP);
		n++;
	}
	if (rules_r)
		*rules_r = n;
	if (!n) {
		g_string_free(out, TRUE);
		return NULL;
	}
	g_autofree char *rules = g_string_free(out, FALSE);
	return g_strdup_printf(
		"# The firewall of %s, made by mailsim lab up from the scenario: traffic\n"
		"# arriving at the host, the first rule that matches decides, no match accepts.\n"
		"table inet " LAB_NET_TABLE " {\n"
		"\tchain input {\n"
		"\t\ttype filter hook input priority filter; policy accept;\n"
		"%s"
		"\t}\n"
		"}\n", host, rules);
}

/* ---- links -------------------------------------------------------------------- */

static gboolean end_is(const char *end, const char *host)
{
	return !strcmp(end, "*") || !g_ascii_strcasecmp(end, host);
}

LabNetLink lab_net_link(const Scenario *scn, const char *a, const char *b)
{
	const ScenarioLink *best = NULL;
	int best_score = -1;
	for (guint i = 0; i < scn->links->len; i++) {
		const ScenarioLink *l = g_ptr_array_index(scn->links, i);
		if (!(end_is(l->a, a) && end_is(l->b, b)) && !(end_is(l->a, b) && end_is(l->b, a)))
			continue;
		int score = (strcmp(l->a, "*") != 0) + (strcmp(l->b, "*") != 0);
		if (score >= best_score) {   /* a later line of equal score wins, as in net/simnet.c */
			best = l;
			best_score = score;
		}
	}
	LabNetLink link = { .latency_us = MS_NET_DEFAULT_LATENCY };
	if (best) {
		link.latency_us = best->latency_us >= 0 ? best->latency_us : MS_NET_DEFAULT_LATENCY;
		link.bandwidth = best->bandwidth;
		link.line = best->line;
	}
	return link;
}

static void add_command(GPtrArray *cmds, ...) G_GNUC_NULL_TERMINATED;

static void add_command(GPtrArray *cmds, ...)
{
	GPtrArray *argv = g_ptr_array_new();
	va_list ap;
	va_start(ap, cmds);
	for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
		g_ptr_array_add(argv, g_strdup(s));
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	g_ptr_array_add(cmds, g_ptr_array_free(argv, FALSE));
}

GPtrArray *lab_net_tc_commands(const char *dev, const LabNetShape *shapes, guint n, gboolean netem)
{
	GPtrArray *cmds = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	guint minor = LAB_NET_CLASS_FIRST;
	for (guint i = 0; i < n; i++) {
		const LabNetShape *sh = &shapes[i];
		gboolean delay = netem && sh->latency_us > 0;
		if (!sh->bandwidth && !delay)
			continue;
		if (!cmds->len)   /* no default class: what no filter sends to a class goes unshaped */
			add_command(cmds, "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", NULL);
		guint64 bits = sh->bandwidth ? MIN(sh->bandwidth * 8, LAB_NET_UNLIMITED_BITS) : LAB_NET_UNLIMITED_BITS;
		guint64 quantum = CLAMP(bits / 8 / 10, LAB_NET_QUANTUM_MIN, LAB_NET_QUANTUM_MAX);
		g_autofree char *classid = g_strdup_printf("1:%x", minor);
		g_autofree char *rate = g_strdup_printf("%" G_GUINT64_FORMAT "bit", bits);
		g_autofree char *q = g_strdup_printf("%" G_GUINT64_FORMAT, quantum);
		g_autofree char *dst = g_strdup_printf("%s/32", sh->address);
		add_command(cmds, "class", "add", "dev", dev, "parent", "1:", "classid", classid, "htb", "rate", rate,
		            "ceil", rate, "quantum", q, NULL);
		if (delay) {
			g_autofree char *handle = g_strdup_printf("%x:", minor);
			g_autofree char *us = g_strdup_printf("%" G_GINT64_FORMAT "us", sh->latency_us);
			add_command(cmds, "qdisc", "add", "dev", dev, "parent", classid, "handle", handle, "netem", "delay",
			            us, NULL);
		}
		add_command(cmds, "filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
		            "match", "ip", "dst", dst, "flowid", classid, NULL);
		minor++;
	}
	return cmds;
}

char *lab_net_shape_describe(guint64 bandwidth, gint64 latency_us)
{
	g_autofree char *rate = bandwidth ? g_format_size(bandwidth) : NULL;
	/* GLib puts a no-break space before the unit; the record is plain text */
	for (char *nbsp; rate && (nbsp = strstr(rate, "\xc2\xa0"));) {
		*nbsp = ' ';
		memmove(nbsp + 1, nbsp + 2, strlen(nbsp + 2) + 1);
	}
	g_autofree char *lat = latency_us > 0 ? scenario_format_duration(latency_us) : NULL;
	if (rate && lat)
		return g_strdup_printf("%s/s, %s", rate, lat);
	if (rate)
		return g_strdup_printf("%s/s", rate);
	return g_strdup(lat ? lat : "no limit");
}

gboolean lab_net_run(const char *const *argv, char **out_r, GError **error)
{
	g_autofree char *err_out = NULL;
	int status = 0;
	GSpawnFlags flags = G_SPAWN_SEARCH_PATH | (out_r ? 0 : G_SPAWN_STDOUT_TO_DEV_NULL);
	if (!g_spawn_sync(NULL, (char **)argv, NULL, flags, NULL, NULL, out_r, &err_out, &status, error))
		return FALSE;
	if (!g_spawn_check_wait_status(status, NULL)) {
		g_autofree char *line = g_strjoinv(" ", (char **)argv);
		g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "%s: %s", line,
		            err_out && *err_out ? g_strstrip(err_out) : "failed");
		if (out_r)
			g_clear_pointer(out_r, g_free);
		return FALSE;
	}
	return TRUE;
}
