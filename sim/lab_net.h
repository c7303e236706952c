/* sim/lab_net.h - a scenario's firewall rules as a lab applies them
 * (mailsim lab up): an nftables table (nft(8)) in each host's network
 * namespace, with the simulation's meaning (net/simnet.c) kept exactly.
 *
 * Pure: a scenario in, text out; sim/cmd_lab.c runs it.
 */
#pragma once

#include "sim/scenario.h"

/* The table every lab namespace gets for the scenario's rules: "table inet
 * mailsim"; a namespace holds nothing else, so down needs no clean-up. */
#define LAB_NET_TABLE          "mailsim"

/* The nft script (for nft -f) holding the firewall rules of host, in file
 * order, or NULL when the scenario gives it none.  As net/simnet.c judges
 * them: traffic arriving at the host, the first rule that matches decides,
 * no match accepts.  A TCP rule judges a connection attempt (a SYN without
 * ACK), so replies to the host's own connections always pass; reject
 * answers it with a TCP reset (the client's connect is refused), drop with
 * nothing (it times out).  A UDP rule judges every datagram, and reject
 * loses it as drop does (the simulation sends no ICMP).  "any" is both;
 * ICMP and ARP are not judged (the simulation has neither).  Every rule
 * counts what it matched (nft list table inet mailsim) and carries its
 * scenario line as a comment.  *rules_r (may be NULL): the scenario's rules
 * for the host. */
char      *lab_net_firewall_script(const Scenario *scn, const char *host, guint *rules_r);
