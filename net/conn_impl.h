/* net/conn_impl.h - what a transport (simnet, realnet) provides under MsConn.
 *
 * Private to net/: agents see only net/conn.h.  conn.c owns buffering, line
 * splitting and events; a transport only moves raw bytes.
 */
#pragma once

#include "net/conn.h"

typedef struct {
	/* Block until at least one byte arrives (or deadline, absolute);
	 * return the count, 0 at EOF, -1 with error. */
	gssize   (*fill)(MsConn *c, guint8 *buf, gsize max, gint64 deadline, GError **error);
	gboolean (*write_raw)(MsConn *c, const guint8 *data, gsize len, GError **error);
	void     (*shutdown_write)(MsConn *c);
	/* Bytes that arrived and can be read without blocking. */
	gsize    (*available)(MsConn *c);
	void     (*destroy)(MsConn *c);     /* frees the transport's part */
	/* Turn the stream into TLS (server side with cert, client side
	 * without); NULL when the transport cannot. */
	gboolean (*starttls)(MsConn *c, GTlsCertificate *cert, GError **error);
	/* Corked writes may be gathered before write_raw (each write costs a
	 * system call): FALSE where every write must stay one delivery (the
	 * simulated network shows each as it arrives). */
	gboolean gathers_writes;
} MsConnClass;

struct MsConn {
	const MsConnClass *klass;
	gint        ref;
	MsSched    *sched;
	guint64     id;
	char       *local_addr, *peer_addr;
	char       *local_name, *peer_name;
	guint16     local_port, peer_port;
	MsEndpoint  local_ep, peer_ep;    /* the same, as events' net carries them */
	gboolean    is_client;
	char       *proto;
	char       *step;
	gint64      timeout;
	gboolean    eof;
	gboolean    write_closed;
	gboolean    tls;
	char       *tls_check_name;   /* client: check the server's certificate names this; NULL: take any */
	char       *tls_ca_file;      /* ... and chains to these authorities (PEM); NULL: the system's */
	gboolean    tls_verified;     /* the handshake checked the server's certificate */
	guint       corked;       /* ms_conn_cork depth (the writing task's) */
	GByteArray *held;         /* corked writes not sent yet, or NULL */
	gsize       rpos, rlen;
	guint8      rbuf[MS_CONN_BUFSIZE];
};

/* Fill the common fields; the transport allocated c (its own struct with
 * MsConn first).  Strings are copied. */
void ms_conn_init(MsConn *c, const MsConnClass *klass, MsSched *s, guint64 id, gboolean is_client,
                  const char *local_addr, guint16 local_port, const char *local_name,
                  const char *peer_addr, guint16 peer_port, const char *peer_name);

/* Printable form of bytes for an event's text: valid UTF-8 stays, control
 * bytes become \r, \n, \t or \xNN. */
char *ms_conn_escape(const guint8 *data, gsize len);

/* ---- events about packets (the net contract of sim/kernel/event.h) ---- */

/* The net of such an event between two ends given in text; an address that
 * is NULL or does not parse leaves its end not known. */
MsNetInfo ms_conn_net_info(MsNetAction action, const char *src_addr, guint16 src_port,
                           const char *dst_addr, guint16 dst_port);
/* ms_conn_emit with a net: action from c's end (src) to its peer's (dst). */
void ms_conn_emit_net(MsConn *c, MsEventKind kind, MsNetAction action, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
/* The RECV event of n bytes from the peer that reached c (ARRIVED: src is
 * the peer's end).  Cheap: a transport calls it on every read. */
void ms_conn_emit_arrived(MsConn *c, gsize n);

struct MsStackClass {
	MsListener *(*listen)(MsStack *st, const char *addr, guint16 port, GError **error);
	MsConn     *(*connect)(MsStack *st, const char *addr, guint16 port, gint64 timeout_us, GError **error);
	MsDgram    *(*udp_bind)(MsStack *st, const char *addr, guint16 port, GError **error);
	void        (*destroy)(MsStack *st);
};

struct MsStack {
	const struct MsStackClass *klass;
	gint     ref;
	MsSched *sched;
	char    *name;
	char    *address;
};

void ms_stack_init(MsStack *st, const struct MsStackClass *klass, MsSched *s,
                   const char *name, const char *address);

typedef struct {
	MsConn *(*accept)(MsListener *l, GError **error);
	void    (*close)(MsListener *l);
	void    (*destroy)(MsListener *l);
} MsListenerClass;

struct MsListener {
	const MsListenerClass *klass;
	MsStack *stack;
	guint16  port;
	char    *proto;
	char    *step;
};

typedef struct {
	gssize   (*recv)(MsDgram *d, void *buf, gsize max, char **from_addr, guint16 *from_port,
	                 gint64 deadline, GError **error);
	gboolean (*send)(MsDgram *d, const char *to_addr, guint16 to_port, const void *data,
	                 gsize len, GError **error);
	void     (*close)(MsDgram *d);
	void     (*destroy)(MsDgram *d);
} MsDgramClass;

struct MsDgram {
	const MsDgramClass *klass;
	MsStack *stack;
	guint16  port;
	char    *proto;
};

/* Events about a datagram exchange. */
void ms_dgram_emit_send(MsDgram *d, const char *to_name, const char *to_addr, guint16 to_port,
                        const void *data, gsize len);
