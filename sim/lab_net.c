/* sim/lab_net.c - a scenario's firewall rules as an nftables table, for the
 * namespaces of mailsim lab up.
 *
 * The meaning is net/simnet.c's (firewall_check): a lab played beside a
 * simulation of the same scenario refuses and drops the same traffic.
 * RFC 9293 3.5.2: a reset answers a SYN to a closed port, which is what
 * the simulation's reject is.
 */
#include "sim/lab_net.h"

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
