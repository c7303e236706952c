/* sim/kernel/event.h - the one stream: every thing that happens is an MsEvent.
 *
 * Agents emit events on a bus; the UI, the transcript, the JSON Lines log,
 * the pcap writer and the tests are sinks that read them.  The bus gives each
 * event its place in a total order (seq, from 1) and the time it happened.
 * An event's text is for people; what a program needs to know about the
 * packets (endpoints, transport, what happened on the wire) is in its `net`.
 */
#pragma once

#include <glib.h>

typedef enum {
	MS_EV_NOTE,        /* narration or a state change worth a line */
	MS_EV_STEP,        /* a course step begins (text says what happens) */
	MS_EV_CONNECT,     /* a client opened a connection */
	MS_EV_ACCEPT,      /* a server accepted one */
	MS_EV_REFUSE,      /* a connection or a command was refused */
	MS_EV_CLOSE,       /* a connection ended */
	MS_EV_SEND,        /* bytes written: one protocol line, or one datagram */
	MS_EV_RECV,        /* bytes arrived at the peer */
	MS_EV_DNS_QUERY,
	MS_EV_DNS_ANSWER,
	MS_EV_DB_QUERY,    /* SQL against the account database */
	MS_EV_AUTH,        /* a credential check and its result */
	MS_EV_STORE,       /* a message written to a queue or a mailbox */
	MS_EV_ERROR,       /* something failed (timeout, unreachable, 4xx/5xx) */
	MS_EV_HOST,        /* a host went up or down, a link changed */
	MS_EV_KIND_COUNT
} MsEventKind;

const char *ms_event_kind_to_string(MsEventKind kind);
/* Returns -1 for an unknown name. */
int ms_event_kind_from_string(const char *name);

/* ---- endpoints ----------------------------------------------------------- */

typedef enum {
	MS_ADDR_NONE,      /* no address: the endpoint is not known */
	MS_ADDR_IPV4,
	MS_ADDR_IPV6,
	MS_ADDR_FAMILY_COUNT
} MsAddrFamily;

const char *ms_addr_family_to_string(MsAddrFamily family);

/* One end of a flow, held in place: events are made on the stack by the
 * thousand, so an endpoint costs no allocation.  A zeroed MsEndpoint is
 * "not known". */
typedef struct {
	MsAddrFamily family;
	guint16      port;       /* host byte order */
	guint8       addr[16];   /* network byte order; IPv4 uses the first 4 */
} MsEndpoint;

/* Room for the longest text form, "[ffff:...:255.255.255.255]:65535". */
#define MS_ENDPOINT_TEXT_MAX 56

/* Set *ep from an address in text ("192.0.2.7", "::1") and a port.  FALSE
 * (and *ep not known) when addr is NULL or not an IPv4 or IPv6 address. */
gboolean    ms_endpoint_set(MsEndpoint *ep, const char *addr, guint16 port);
/* "192.0.2.7:25" or "[2001:db8::1]:25" into buf (MS_ENDPOINT_TEXT_MAX
 * bytes), which is returned; "" when the endpoint is not known. */
const char *ms_endpoint_format(const MsEndpoint *ep, char *buf);
/* The inverse of ms_endpoint_format for a known endpoint: FALSE (and *ep
 * not known) for anything else, including "" and a port above 65535. */
gboolean    ms_endpoint_parse(MsEndpoint *ep, const char *text);
/* Same family, address and port (two unknown endpoints are equal). */
gboolean    ms_endpoint_equal(const MsEndpoint *a, const MsEndpoint *b);
/* For a GHashTable keyed by MsEndpoint* (with ms_endpoint_equal). */
guint       ms_endpoint_hash(gconstpointer ep);

/* ---- what happened on the wire ------------------------------------------- */

typedef enum {
	MS_TRANSPORT_NONE,
	MS_TRANSPORT_TCP,
	MS_TRANSPORT_UDP,
	MS_TRANSPORT_COUNT
} MsTransport;

const char *ms_transport_to_string(MsTransport t);
/* Returns -1 for an unknown name. */
int         ms_transport_from_string(const char *name);

/* The fact about packets an event records, for programs that rebuild the
 * traffic (the pcap writer) instead of reading the text.  src is always
 * the end the event's `from` names, dst the end its `to` names.  Emitted by
 * net/conn.c, net/simnet.c and net/realnet.c (and, for a capture, by
 * net/pcap_decode.c), on these kinds of event:
 *
 *   action       kind     conn  transport  meaning
 *   SYN          CONNECT  0     TCP   src asks dst for a connection
 *   ACCEPT       ACCEPT   id    TCP   the server src took the client dst's
 *   ESTABLISHED  CONNECT  id    TCP   the client src's connect to dst succeeded
 *   REFUSED      ERROR    0     TCP   dst answered src's SYN with a reset
 *   UNANSWERED   ERROR    0     TCP   src gave up its SYN to dst: no answer
 *                                     (time-out, no such host, shutdown)
 *   DATA         SEND     id    TCP   src wrote the payload towards dst
 *   ARRIVED      RECV     id    TCP   `bytes` that src sent reached dst
 *   FIN          CLOSE    id    TCP   src will send no more (dst reads EOF
 *                                     after the data)
 *   RESET        ERROR    id    TCP   the connection between src and dst
 *                                     was torn down (by the network or a peer)
 *   DATAGRAM     SEND     0     UDP   src sent the payload to dst
 *
 * A connection's events come after its SYN; ACCEPT before the server's
 * others, ESTABLISHED before the client's.  On the real network a SYN's (and a failure's) src is not known
 * (MS_ADDR_NONE): the system picks it while connecting.  Every other event
 * has action NONE, transport NONE and nothing else set. */
typedef enum {
	MS_NET_NONE,
	MS_NET_SYN,
	MS_NET_ACCEPT,
	MS_NET_ESTABLISHED,
	MS_NET_REFUSED,
	MS_NET_UNANSWERED,
	MS_NET_DATA,
	MS_NET_ARRIVED,
	MS_NET_FIN,
	MS_NET_RESET,
	MS_NET_DATAGRAM,
	MS_NET_ACTION_COUNT
} MsNetAction;

const char *ms_net_action_to_string(MsNetAction a);
/* Returns -1 for an unknown name. */
int         ms_net_action_from_string(const char *name);
/* The transport an action belongs to (NONE for MS_NET_NONE). */
MsTransport ms_net_action_transport(MsNetAction a);

typedef struct {
	MsNetAction action;
	MsTransport transport;   /* ms_net_action_transport(action) */
	MsEndpoint  src, dst;
	guint64     bytes;       /* ARRIVED: how many (> 0); else 0: DATA and
	                            DATAGRAM carry theirs as the payload */
} MsNetInfo;

/* Does net keep the contract above: action and transport agree, dst is
 * known and src too (but for SYN, REFUSED, UNANSWERED), bytes is given for
 * ARRIVED only?  An action NONE with nothing else set is valid.  Readers of
 * outside input (a JSONL log) check this before trusting net. */
gboolean    ms_net_info_valid(const MsNetInfo *net);

/* ---- events ---------------------------------------------------------------- */

/* An event on the bus.  Immutable once emitted; sinks borrow it for the
 * duration of their write callback and must copy what they keep
 * (ms_event_copy). */
typedef struct {
	guint64      seq;      /* total order, starts at 1 */
	gint64       t_us;     /* virtual time (sim) or monotonic time (real) */
	MsEventKind  kind;
	const char  *from;     /* host or agent name, or NULL */
	const char  *to;       /* host or agent name, or NULL */
	const char  *proto;    /* "smtp", "lmtp", "imap", "pop3", "dns", "http", "sql", "tcp", or NULL */
	const char  *step;     /* course step id ("in.3"), or NULL */
	const char  *text;     /* one line a student reads; secrets already masked */
	guint64      conn;     /* connection id, 0 when not about one connection */
	GBytes      *payload;  /* raw bytes on the wire, or NULL */
	MsNetInfo    net;      /* held in place; action NONE unless about packets */
} MsEvent;

/* A deep copy that owns its strings; free with ms_event_free. */
MsEvent *ms_event_copy(const MsEvent *ev);
void     ms_event_free(MsEvent *ev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsEvent, ms_event_free)
