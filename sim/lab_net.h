/* sim/lab_net.h - a scenario's firewall rules and links as a lab applies
 * them (mailsim lab up): an nftables table (nft(8)) in each host's network
 * namespace, and tc(8) shaping on each host's eth0, with the simulation's
 * meaning (net/simnet.c) kept exactly where the kernel allows it.
 *
 * Pure: a scenario in, text and argument lists out; sim/cmd_lab.c runs them.
 */
#pragma once

#include "sim/scenario.h"

/* The table every lab namespace gets for the scenario's rules: "table inet
 * mailsim"; a namespace holds nothing else, so down needs no clean-up. */
#define LAB_NET_TABLE          "mailsim"
/* An HTB class only for a latency (netem below it) still needs a rate:
 * far above what a veth pair carries here, so it never limits. */
#define LAB_NET_UNLIMITED_BITS G_GUINT64_CONSTANT(100000000000)   /* 100 Gbit/s */
/* HTB lends between classes by quanta; ours never borrow (ceil = rate), so
 * the quantum only has to hold a full frame and stay below the kernel's
 * "quantum is big" warning. */
#define LAB_NET_QUANTUM_MIN    1514
#define LAB_NET_QUANTUM_MAX    200000
/* The first HTB class and netem handle (hex in tc's syntax): 1:10, 1:11 ... */
#define LAB_NET_CLASS_FIRST    0x10

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

/* A link as the simulation takes it (net/simnet.c link_for, sim/world.c):
 * the most specific "link" line naming both ends (A B over A * over *),
 * a later line winning a tie; its latency, or the default one when the
 * line gives none; its bandwidth, or none.  No line: the default latency,
 * no limit, line 0.  Hosts by name, any case. */
typedef struct {
	gint64  latency_us;   /* one way */
	guint64 bandwidth;    /* bytes per second; 0: no limit */
	guint   line;         /* of the link line; 0: none applies */
} LabNetLink;

LabNetLink lab_net_link(const Scenario *scn, const char *a, const char *b);

/* What one host's eth0 does to what it sends to one peer. */
typedef struct {
	const char *address;      /* the peer's IPv4 address */
	guint64     bandwidth;    /* bytes per second; 0: no limit */
	gint64      latency_us;   /* added by netem; <= 0: none */
} LabNetShape;

/* The tc commands (each a NULL-terminated argument list without "tc",
 * freed with the array) that shape dev's egress: an HTB root whose
 * unclassified traffic goes unshaped, and for each shape that needs one a
 * class at its rate (ceil the same: it never borrows), a netem delay below
 * it if netem is TRUE and it has a latency, and a u32 filter sending the
 * peer's destination address there.  Both ends of a link shape what they
 * send, so its rate holds both ways.  Empty when nothing needs shaping. */
GPtrArray *lab_net_tc_commands(const char *dev, const LabNetShape *shapes, guint n, gboolean netem);

/* Run a command of the lab's (ip, tc, nft; argv NULL-terminated, found in
 * PATH): its output in *out_r (out_r NULL: thrown away); FALSE with error
 * naming the command and saying its error output when it fails. */
gboolean   lab_net_run(const char *const *argv, char **out_r, GError **error);

/* "100.0 kB/s", "20 ms": for what up and status print. */
char      *lab_net_shape_describe(guint64 bandwidth, gint64 latency_us);
