/* net/conn.h - one connection API for two worlds.
 *
 * An MsStack is a host's view of the network: the simulated one (simnet.c)
 * or the real one (realnet.c).  Agents listen, accept, connect and send
 * datagrams through it and never learn which world they are in.
 *
 * MsConn is a blocking byte stream.  One task may read while another writes;
 * two readers (or two writers) must not share a direction.  Every write
 * becomes a SEND event (one per protocol line), every arrival a RECV event.
 * Errors are GError in G_IO_ERROR: REFUSED (CONNECTION_REFUSED), unreachable
 * (HOST_UNREACHABLE / NETWORK_UNREACHABLE), TIMED_OUT, BROKEN_PIPE /
 * CONNECTION_CLOSED, CANCELLED at shutdown.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include "sim/kernel/sched.h"

typedef struct MsStack    MsStack;
typedef struct MsListener MsListener;
typedef struct MsConn     MsConn;
typedef struct MsDgram    MsDgram;

/* How read_line found the end of a line. */
typedef enum {
	MS_EOL_CRLF,      /* "\r\n": the only ending the mail protocols allow */
	MS_EOL_LF,        /* a bare "\n" */
	MS_EOL_CR,        /* a bare "\r" not followed by "\n" */
	MS_EOL_EOF,       /* the peer closed mid-line: the bytes are what came */
	MS_EOL_TOO_LONG,  /* longer than max: the first max bytes are returned,
	                     the rest of the line up to its ending is discarded */
} MsEol;

const char *ms_eol_to_string(MsEol eol);

/* Limits for a connection's input; reads never buffer more than this. */
#define MS_CONN_BUFSIZE 16384
/* Default time a read waits for the peer. */
#define MS_CONN_DEFAULT_TIMEOUT (300 * MS_SECOND)

/* ---- stacks ------------------------------------------------------------ */

MsStack    *ms_stack_ref(MsStack *st);
void        ms_stack_unref(MsStack *st);
/* The host name events use for this stack ("mx.example.org"). */
const char *ms_stack_name(MsStack *st);
/* The stack's primary address ("198.51.100.20", "127.0.0.1"). */
const char *ms_stack_address(MsStack *st);
MsSched    *ms_stack_sched(MsStack *st);

/* Listen on addr (NULL: every address of the host) and port (0: any free
 * port, see ms_listener_port). */
MsListener *ms_stack_listen(MsStack *st, const char *addr, guint16 port, GError **error);
/* Connect to addr:port; fails after timeout_us without an answer. */
MsConn     *ms_stack_connect(MsStack *st, const char *addr, guint16 port,
                             gint64 timeout_us, GError **error);
MsDgram    *ms_stack_udp_bind(MsStack *st, const char *addr, guint16 port, GError **error);

/* ---- listeners --------------------------------------------------------- */

/* Blocks until a connection arrives; NULL with an error when the listener
 * is closed or the scheduler shuts down. */
MsConn     *ms_listener_accept(MsListener *l, GError **error);
guint16     ms_listener_port(MsListener *l);
/* Stops accepting; a task blocked in accept returns an error.  Safe to call
 * from another task.  Frees nothing: ms_listener_free does. */
void        ms_listener_close(MsListener *l);
void        ms_listener_free(MsListener *l);

/* ---- connections ------------------------------------------------------- */

MsConn     *ms_conn_ref(MsConn *c);
/* Dropping the last reference closes the connection. */
void        ms_conn_unref(MsConn *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MsConn, ms_conn_unref)

/* Read one line into buf (at most max bytes, then a NUL: buf holds max+1).
 * Returns the number of bytes stored (the ending is not stored), with the
 * ending in *eol; -1 with error on failure.  A clean close before any byte
 * returns 0 with MS_EOL_EOF. */
gssize      ms_conn_read_line(MsConn *c, char *buf, gsize max, MsEol *eol, GError **error);
/* Read exactly len bytes; FALSE on error or early close. */
gboolean    ms_conn_read_exact(MsConn *c, void *buf, gsize len, GError **error);
/* Bytes already received and not yet read: a reader can drain a pipelined
 * burst before it answers. */
gsize       ms_conn_pending(MsConn *c);

/* Write all of data.  Each line in it becomes one SEND event whose text is
 * the line itself.  ms_conn_write_masked shows display instead (for AUTH
 * secrets) while the payload keeps the real bytes. */
gboolean    ms_conn_write(MsConn *c, const void *data, gsize len, GError **error);
gboolean    ms_conn_write_masked(MsConn *c, const void *data, gsize len,
                                 const char *display, GError **error);
gboolean    ms_conn_printf(MsConn *c, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* A stretch of a gathered reply that events show as display (owned), not
 * as its lines: message data, shown as a summary. */
typedef struct {
	gsize start, len;
	char *display;
} MsConnMasked;

/* Send a reply gathered in *out: the stretches of masked (MsConnMasked,
 * ascending, not overlapping) as ms_conn_write_masked, the bytes between
 * them as ms_conn_write.  Afterwards *out is empty (a new GString when it
 * had grown past keep_max bytes, so a large message's memory goes back)
 * and masked is empty, its displays freed, whether or not the writes
 * worked.  FALSE with error at the first write that failed; nothing is
 * written after it. */
gboolean    ms_conn_write_gathered(MsConn *c, GString **out, GArray *masked, gsize keep_max,
                                   GError **error);
/* Corking: a reply written in pieces (a line, message data, the closing
 * line) leaves in one system call and as few TCP segments as it fills,
 * instead of one send per piece.  After ms_conn_cork the writes of this
 * task are held (up to MS_CONN_CORK_MAX octets, then sent) until the
 * matching ms_conn_uncork sends them; corks nest.  Events are what they are
 * without corking: each write still makes its SEND events, when it is made.
 * A held write returns TRUE; a failure to send it is ms_conn_uncork's
 * (FALSE with error; the peer is gone).  Only the writing task corks, and
 * it uncorks before it waits for the peer.  The simulated network sends
 * each write as it comes, corked or not, so its transcripts stay the same. */
#define MS_CONN_CORK_MAX (64 * 1024)
void        ms_conn_cork(MsConn *c);
gboolean    ms_conn_uncork(MsConn *c, GError **error);

/* TLS from here on (RFC 3207, RFC 2595): the server side passes its
 * certificate, the client side NULL (it checks the server's only after
 * ms_conn_set_tls_check; otherwise it takes any, as lab certificates are
 * self-signed).  Bytes the peer sent before the
 * handshake and we have not read yet are thrown away: commands pipelined
 * behind STARTTLS must not be executed as if they came encrypted
 * (CVE-2011-0411).  On the simulated network the stream is only marked
 * encrypted.  FALSE with an error when the handshake fails. */
gboolean    ms_conn_starttls(MsConn *c, GTlsCertificate *cert, GError **error);
gboolean    ms_conn_is_tls(MsConn *c);
/* The client side's next handshake checks the server (RFC 6125): its
 * certificate must chain to ca_file (PEM; NULL: the system's authorities)
 * and name server_name (a host name or an address); a handshake with any
 * other certificate fails.  Without this call a client takes any
 * certificate.  The simulated network has no certificates: nothing is
 * checked there, and ms_conn_tls_verified stays FALSE. */
void        ms_conn_set_tls_check(MsConn *c, const char *server_name, const char *ca_file);
/* TRUE once a handshake checked the server's certificate. */
gboolean    ms_conn_tls_verified(MsConn *c);

/* Half of a close: no more writes; the peer reads EOF after the data. */
void        ms_conn_close(MsConn *c);

const char *ms_conn_peer_address(MsConn *c);
guint16     ms_conn_peer_port(MsConn *c);
const char *ms_conn_local_address(MsConn *c);
guint16     ms_conn_local_port(MsConn *c);
/* Peer host name as events show it (the address when unknown). */
const char *ms_conn_peer_name(MsConn *c);
const char *ms_conn_local_name(MsConn *c);
guint64     ms_conn_id(MsConn *c);
MsSched    *ms_conn_sched(MsConn *c);

/* What events about this connection say: protocol ("smtp"), the course
 * step of what is being done now ("in.2"), and which side is the client
 * (its lines show "C: ", the server's "S: ").  Copies the strings. */
void        ms_conn_set_proto(MsConn *c, const char *proto);
void        ms_conn_set_step(MsConn *c, const char *step);
const char *ms_conn_step(MsConn *c);
gboolean    ms_conn_is_client(MsConn *c);
/* Time a read waits for the peer before G_IO_ERROR_TIMED_OUT. */
void        ms_conn_set_timeout(MsConn *c, gint64 us);

/* Emit an event about c (its names, protocol, step and id): a refusal, a
 * note, an error the protocol layer saw. */
void        ms_conn_emit(MsConn *c, MsEventKind kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* ---- datagrams --------------------------------------------------------- */

/* Receive one datagram (truncated to max) with the sender's address
 * (*from_addr newly allocated).  Waits until deadline (absolute). */
gssize      ms_dgram_recv(MsDgram *d, void *buf, gsize max, char **from_addr,
                          guint16 *from_port, gint64 deadline, GError **error);
gboolean    ms_dgram_send(MsDgram *d, const char *to_addr, guint16 to_port,
                          const void *data, gsize len, GError **error);
guint16     ms_dgram_port(MsDgram *d);
void        ms_dgram_set_proto(MsDgram *d, const char *proto);
void        ms_dgram_close(MsDgram *d);
void        ms_dgram_free(MsDgram *d);

/* Protocol and step given to every connection this listener accepts (and to
 * its ACCEPT event).  Copies the strings. */
void        ms_listener_set_proto(MsListener *l, const char *proto);
void        ms_listener_set_step(MsListener *l, const char *step);
