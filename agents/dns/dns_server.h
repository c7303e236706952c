/* agents/dns/dns_server.h - the DNS server agent: authoritative for its
 * zones and blacklists, over UDP and TCP on any MsStack.
 *
 * In the simulation it is the world's name server; in lab mode the same
 * code answers dig on 127.0.0.1.
 */
#pragma once

#include "net/conn.h"
#include "net/dns_zone.h"
#include "net/dnsbl.h"

#define DNS_SERVER_PORT 53
/* Longest a TCP client may take to send its question. */
#define DNS_SERVER_TCP_TIMEOUT (10 * MS_SECOND)

typedef struct DnsServer DnsServer;

/* A server named name (for events) on stack.  Owns nothing yet. */
DnsServer  *dns_server_new(MsStack *stack, const char *name);
/* Stops (if running) and frees the server with its zones. */
void        dns_server_free(DnsServer *srv);

/* The zones it answers from; borrowed, and changes take effect at once (a
 * scenario that removes a record).  Changes must happen on the scheduler's
 * baton (virtual mode) or before start (real mode). */
DnsZoneSet *dns_server_zones(DnsServer *srv);
/* Parse master-file text for origin and add it (see dns_zone_parse). */
gboolean    dns_server_add_zone_text(DnsServer *srv, const char *origin, const char *text,
                                     const char *filename, guint first_line, GError **error);

/* Serve a DNS blacklist (RFC 5782) under its zone; the server takes it.
 * Names under a list's zone are answered from the list, not the zones. */
void        dns_server_add_dnsbl(DnsServer *srv, Dnsbl *list);
/* The list for zone, or NULL; borrowed. */
Dnsbl      *dns_server_dnsbl(DnsServer *srv, const char *zone);

/* Log every query and answer as events (lab mode: nobody else does). */
void        dns_server_set_log_queries(DnsServer *srv, gboolean on);

/* Bind UDP and TCP on port (0: any; see dns_server_port) and start the
 * serving tasks on the stack's scheduler. */
gboolean    dns_server_start(DnsServer *srv, const char *addr, guint16 port, GError **error);
guint16     dns_server_udp_port(DnsServer *srv);
guint16     dns_server_tcp_port(DnsServer *srv);
/* Close the sockets; the tasks end. */
void        dns_server_stop(DnsServer *srv);

/* Answer one query in wire format: the bytes of the response, or NULL when
 * no answer is due (the packet is a response, or too broken to carry an
 * id).  max_size: DNS_WIRE_UDP_SIZE for UDP (the client's EDNS size if it
 * sent one), 0 for TCP.  *why_r (may be NULL) says what was wrong with a
 * malformed query.  Pure with respect to the network: the fuzzer calls it. */
GBytes     *dns_server_answer_wire(DnsServer *srv, const guint8 *query, gsize len,
                                   gboolean udp, char **why_r);
