/* net/simnet.h - the simulated Internet: hosts, links, firewalls, faults.
 *
 * Runs only on a virtual-mode scheduler.  Every delivery (a TCP segment, a
 * SYN, a datagram) is a gated action on the scheduler's heap at the time
 * it would arrive, so latency, bandwidth and the UI's step gate all act on
 * real protocol traffic.  Faults are real errors at the right moment:
 * refused (RST), unreachable, time-outs, resets when a host goes down.
 */
#pragma once

#include "net/conn.h"

typedef struct MsNet  MsNet;
typedef struct MsHost MsHost;

typedef enum { MS_FW_ACCEPT, MS_FW_REJECT, MS_FW_DROP } MsFwAction;
typedef enum { MS_FW_ANY, MS_FW_TCP, MS_FW_UDP } MsFwProto;

const char *ms_fw_action_to_string(MsFwAction a);

/* Default link: 10 ms one way, no bandwidth limit. */
#define MS_NET_DEFAULT_LATENCY   (10 * MS_MSEC)
/* Between two agents on the same host. */
#define MS_NET_LOOPBACK_LATENCY  (50)
#define MS_NET_LISTEN_BACKLOG    128
#define MS_NET_EPHEMERAL_FIRST   49152
#define MS_NET_UDP_QUEUE_MAX     256

MsNet      *ms_net_new(MsSched *s);
/* Frees hosts and stacks; call after ms_sched_shutdown. */
void        ms_net_free(MsNet *net);
MsSched    *ms_net_sched(MsNet *net);

/* Add a host with one IPv4 address; error if the name or address is taken
 * or the address does not parse.  The host is owned by net. */
MsHost     *ms_net_add_host(MsNet *net, const char *name, const char *address, GError **error);
MsHost     *ms_net_host_by_name(MsNet *net, const char *name);
MsHost     *ms_net_host_by_address(MsNet *net, const char *address);
/* Every host, in the order they were added (borrowed). */
GPtrArray  *ms_net_hosts(MsNet *net);

const char *ms_host_name(MsHost *h);
const char *ms_host_address(MsHost *h);
/* The host's network stack, borrowed: agents on the host use it. */
MsStack    *ms_host_stack(MsHost *h);
/* A stack on the same host (same address, ports, firewall) that events
 * call name: an agent's own face, such as "mda@mx.example.org".  Returns
 * a new reference. */
MsStack    *ms_host_stack_alias(MsHost *h, const char *name);
gboolean    ms_host_is_up(MsHost *h);
/* A host that goes down resets its connections and answers nothing until
 * it comes up; its agents keep running (the cable is pulled). */
void        ms_host_set_up(MsHost *h, gboolean up);

/* Firewall rules of a host for traffic arriving to it: the first rule
 * that matches (protocol, destination port or 0 for any, source CIDR or
 * NULL for any) decides; no match accepts.  FALSE for a bad CIDR. */
gboolean    ms_host_firewall_add(MsHost *h, MsFwAction action, MsFwProto proto,
                                 guint16 port, const char *from_cidr, GError **error);

/* Link properties between two hosts (by name, "*" for the default). */
void        ms_net_set_link(MsNet *net, const char *a, const char *b,
                            gint64 latency_us, guint64 bandwidth_bytes_per_s);
/* Cut or heal the path between two hosts. */
void        ms_net_set_partition(MsNet *net, const char *a, const char *b, gboolean cut);

/* Does an IPv4 address fall in a CIDR ("203.0.113.0/24" or a bare address)? */
gboolean    ms_net_cidr_match(const char *cidr, const char *address);
gboolean    ms_net_cidr_valid(const char *cidr);
