/* net/pcap_decode_impl.h - what the two halves of the capture decoder share.
 *
 * Private to net/pcap_decode.c (frames, IP, TCP connections) and
 * net/pcap_proto.c (the bytes of each direction: protocol lines, bodies,
 * DNS, TLS, and the course steps they show).  Nothing else includes it.
 */
#pragma once

#include "net/pcap_decode.h"
#include "net/pcap_stream.h"

#define POP3_MAX_PIPELINE 32     /* answers awaited at once (RFC 2449 6.6) */

/* The protocols the decoder reads, by the port of the server. */
typedef enum { APP_NONE, APP_SMTP, APP_LMTP, APP_IMAP, APP_POP3, APP_DNS, APP_HTTP, APP_AUTH, APP_COUNT } App;

/* What a port is for: SMTP between servers, or the MUA's submission. */
typedef enum { ROLE_ANY, ROLE_RELAY, ROLE_SUBMISSION } Role;

typedef enum { POP3_SINGLE, POP3_LIST, POP3_MESSAGE } Pop3Answer;

enum { CLIENT, SERVER };

typedef enum {
	MODE_LINES,           /* commands and replies: one event a line */
	MODE_SMTP_BODY,       /* after 354: the message, up to "." */
	MODE_POP3_BODY,       /* RETR/TOP: the message, up to "." */
	MODE_POP3_LIST,       /* a multi-line answer shown line by line, up to "." */
	MODE_COUNT,           /* a literal, a BDAT chunk or an HTTP body: counted */
	MODE_HTTP_CHUNK_SIZE, /* RFC 9112 7.1: a chunk's size line */
	MODE_HTTP_CHUNK_END,  /* the CRLF after a chunk's data */
	MODE_HTTP_TRAILER,    /* trailer fields up to an empty line */
	MODE_DNS_TCP,         /* two length bytes, then a message */
	MODE_TLS,             /* encrypted: only sizes can be shown */
	MODE_LOST,            /* the framing is lost (a gap): skipped to the end */
} Mode;

typedef struct {
	guint8   family;      /* 4 or 6 */
	guint8   a[16], b[16];
	guint16  ap, bp;
} FlowKey;

typedef struct Flow Flow;

typedef struct {
	Flow       *flow;
	int         side;          /* the sender: CLIENT or SERVER */
	PcapStream *stream;
	Mode        mode;
	GByteArray *line;          /* a line so far (at most MAX_LINE + 2 bytes) */
	gboolean    line_cut;      /* it was longer: the rest is skipped */
	gboolean    line_skip;     /* after a gap: drop bytes up to the next line ending */
	/* MODE_COUNT */
	guint64     remaining;
	Mode        after_count;
	const char *count_what;    /* "literal", "body"...: NULL inside a chunked body */
	gboolean    until_close;   /* an HTTP body that ends with the connection */
	gboolean    literal_tail;  /* the rest of an IMAP line after its literal comes next */
	gboolean    literal_held;  /* and the literal's summary waits for it */
	/* bodies shown as one summary */
	GByteArray *body;          /* NULL once over PCAP_DECODE_MAX_BODY_PAYLOAD */
	guint64     body_bytes, body_lines;
	gboolean    body_gap;      /* part of it was not captured */
	/* HTTP */
	gboolean    http_in_message;
	gint64      http_length;   /* Content-Length, -1: none */
	gboolean    http_chunked;
	guint       http_status;
	GByteArray *dns;           /* MODE_DNS_TCP: the message so far */
	gboolean    fin;
	/* how much of what this side sent the other acknowledged (RFC 9293
	 * 3.4), for the ARRIVED events: sequence numbers, once seq_known */
	gboolean    seq_known;
	guint32     acked;         /* acknowledged up to here */
	guint32     sent_end;      /* this side's data seen ends here (its FIN not counted) */
} Dir;

struct Flow {
	FlowKey     key;
	PcapDecoder *decoder;   /* for the stream callbacks */
	guint64     id;
	App         app;
	Role        role;
	guint8      client_addr[16];
	guint16     client_port;
	MsEndpoint  ep[2];      /* CLIENT's and SERVER's, for the events' net */
	char       *name[2];    /* the same as text */
	gboolean    syn, synack, established, data_seen, dead, tls_noted;
	Dir         dir[2];
	GList      *lru;
	/* what the client asked, for the replies */
	const char *last_step;
	gboolean    client_spoke;
	gboolean    smtp_data_asked;   /* DATA sent, 354 awaited */
	gboolean    secret_next;       /* the next client line answers a challenge */
	gboolean    auth_pending;      /* IMAP/POP3 AUTHENTICATE until its answer */
	gboolean    http_head;         /* the request was HEAD: no body comes */
	const char *http_step;
	guint8      pop3_expect[POP3_MAX_PIPELINE];
	guint       pop3_head, pop3_count;
};

struct PcapDecoder {
	PcapDecodeEmit  emit;
	gpointer        emit_data;
	guint8          port_app[65536];
	guint8          port_role[65536];
	GHashTable     *flows;      /* FlowKey* -> Flow* */
	GQueue          lru;        /* of Flow*, least recently active first */
	GPtrArray      *dead;       /* flows to free once the frame is done */
	guint64         next_id;
	gint64          now;
	GHashTable     *mx_names;   /* exchange names from MX answers */
	GQueue          mx_order;
	PcapDecodeStats stats;
};

/* ---- pcap_proto.c: the bytes of a direction --------------------------------- */

/* "smtp", "imap"...: the protocol name events carry. */
const char *pcap_proto_app_name(App app);
/* The streams' callback: user is the Dir. */
void        pcap_proto_stream_piece(PcapStreamPiece piece, const guint8 *data, gsize len, gpointer user);
/* The sender is done: show what was still being collected. */
void        pcap_proto_dir_end(PcapDecoder *d, Dir *dir);
/* One DNS message, from UDP or from a DNS-over-TCP stream. */
void        pcap_proto_dns_message(PcapDecoder *d, const char *from, const char *to, guint64 conn,
                                   const guint8 *data, gsize len);
/* pcap_decode_dns_step's table. */
const char *pcap_proto_dns_step(const char *qname, guint16 qtype, gboolean is_mx_host);
/* Step of the connection itself (its SYN, its greeting). */
const char *pcap_proto_connect_step(const Flow *f);
/* Step of what this side says now. */
const char *pcap_proto_dir_step(Dir *dir);
/* Events: at the decoder's current time, counted.  net (NULL: none) is
 * copied; the caller makes it keep event.h's contract (ms_net_info_valid). */
void        pcap_proto_emit(PcapDecoder *d, MsEventKind kind, const char *from, const char *to,
                            const char *proto, const char *step, guint64 conn, const char *text,
                            const guint8 *payload, gsize len, const MsNetInfo *net);
/* The net of a direction's packets: action, from its sender's endpoint to
 * the other end's (bytes 0). */
MsNetInfo   pcap_proto_dir_net(const Dir *dir, MsNetAction action);
/* An event about a direction, on its connection: from its sender to the
 * other end, with action as its net (MS_NET_NONE: no net). */
void        pcap_proto_emit_dir(PcapDecoder *d, Dir *dir, MsEventKind kind, MsNetAction action,
                                const char *step, const char *text, const guint8 *payload, gsize len);
