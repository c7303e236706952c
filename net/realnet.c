/* net/realnet.c - MsConn over GIO sockets (TCP and UDP), for lab mode.
 *
 * Blocking GIO calls with a per-object GCancellable chained to the
 * scheduler's, so closing a listener or stopping mailsim wakes every thread
 * that waits on the network.
 */
#include "net/realnet.h"
#include "net/conn_impl.h"

#include <errno.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

static gint next_conn_id;   /* atomic; real connections count from 1 */

typedef struct {
	MsStack base;
} RealStack;

/* A cancellable that fires when the scheduler shuts down, or by itself.
 *
 * GIO polls a cancellable's file descriptor beside the socket whenever a
 * call must wait, and makes that descriptor on demand: without a holder it
 * would open and close an eventfd for every wait (two system calls each,
 * a dozen waits per message).  The Cancel holds it for its whole life, so
 * every wait shares the one made here. */
typedef struct {
	GCancellable *own;
	GCancellable *parent;
	gulong        handler;
	gboolean      holds_fd;
} Cancel;

static void cancel_forward(GCancellable *parent, gpointer own)
{
	g_cancellable_cancel(own);
}

static void cancel_init(Cancel *c, MsSched *s)
{
	c->own = g_cancellable_new();
	c->parent = g_object_ref(ms_sched_cancellable(s));
	c->handler = g_cancellable_connect(c->parent, G_CALLBACK(cancel_forward), c->own, NULL);
	GPollFD unused;
	c->holds_fd = g_cancellable_make_pollfd(c->own, &unused);
}

static void cancel_clear(Cancel *c)
{
	g_cancellable_disconnect(c->parent, c->handler);
	if (c->holds_fd)
		g_cancellable_release_fd(c->own);
	g_clear_object(&c->parent);
	g_clear_object(&c->own);
}

static guint timeout_seconds(MsSched *s, gint64 deadline)
{
	if (deadline == MS_FOREVER)
		return 0;   /* GIO: no time-out */
	gint64 left = deadline - ms_sched_now(s);
	if (left <= 0)
		return 1;
	return (guint)MIN((left + MS_SECOND - 1) / MS_SECOND, G_MAXUINT);
}

static char *sockaddr_string(GSocketAddress *sa, guint16 *port_r)
{
	if (!G_IS_INET_SOCKET_ADDRESS(sa)) {
		*port_r = 0;
		return g_strdup("?");
	}
	GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS(sa);
	*port_r = g_inet_socket_address_get_port(isa);
	return g_inet_address_to_string(g_inet_socket_address_get_address(isa));
}

/* ---- connections -------------------------------------------------------
 * A plain connection reads and writes its socket itself: a call that would
 * block polls the socket and the scheduler's cancellable (whose descriptor
 * the connection holds from start to end), nothing more.  GIO's blocking
 * calls cost more per call (a lock around the cancellable's descriptor, a
 * GError for each EAGAIN, the current-cancellable stack) and count the
 * time-out in whole seconds.  Over TLS the bytes go through GIO's stream. */

typedef struct {
	MsConn             base;
	GSocketConnection *sc;
	GIOStream         *stream;      /* sc, or a TLS connection over it */
	int                fd;          /* sc's socket: non-blocking, as GIO made it */
	GCancellable      *cancel;      /* the scheduler's: fires at shutdown */
	GPollFD            wake;        /* cancel's descriptor, held while we live */
	gboolean           holds_wake;
	gint               drained;     /* atomic: available() just found nothing */
} RealConn;

static void set_errno_error(GError **error, int errsv, const char *what)
{
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errsv), "%s: %s", what, g_strerror(errsv));
}

/* Wait until the socket is ready for events (POLLIN, POLLOUT), deadline
 * (absolute) passes (G_IO_ERROR_TIMED_OUT) or the scheduler shuts down
 * (G_IO_ERROR_CANCELLED). */
static gboolean realconn_wait(RealConn *rc, short events, gint64 deadline, GError **error)
{
	for (;;) {
		if (g_cancellable_set_error_if_cancelled(rc->cancel, error))
			return FALSE;
		int timeout_ms = -1;
		if (deadline != MS_FOREVER) {
			gint64 left = deadline - ms_sched_now(rc->base.sched);
			if (left <= 0) {
				g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Socket I/O timed out");
				return FALSE;
			}
			timeout_ms = (int)MIN((left + MS_MSEC - 1) / MS_MSEC, G_MAXINT);
		}
		struct pollfd fds[2] = {
			{ .fd = rc->fd, .events = events },
			{ .fd = rc->wake.fd, .events = POLLIN },
		};
		int n = poll(fds, rc->holds_wake ? 2 : 1, timeout_ms);
		if (n < 0 && errno != EINTR) {
			set_errno_error(error, errno, "Error waiting on the socket");
			return FALSE;
		}
		if (n > 0 && fds[0].revents)
			return TRUE;   /* ready, or an error or hang-up the next call reports */
	}
}

static gint64 write_deadline(MsConn *c)
{
	return c->timeout == MS_FOREVER ? MS_FOREVER : ms_sched_now(c->sched) + c->timeout;
}

static gssize realconn_receive(RealConn *rc, guint8 *buf, gsize max, gint64 deadline, GError **error)
{
	MsConn *c = &rc->base;
	if (c->tls) {
		GSocket *sock = g_socket_connection_get_socket(rc->sc);
		g_socket_set_timeout(sock, timeout_seconds(c->sched, deadline));
		return g_input_stream_read(g_io_stream_get_input_stream(rc->stream), buf, max, rc->cancel, error);
	}
	/* A server asks what is pending before it answers (to gather a
	 * pipelined burst) and then reads the next command: when nothing was
	 * pending, that read would only find EAGAIN.  Wait first instead; poll
	 * returns at once if something came meanwhile. */
	if (g_atomic_int_compare_and_exchange(&rc->drained, TRUE, FALSE) &&
	    !realconn_wait(rc, POLLIN, deadline, error))
		return -1;
	for (;;) {
		if (g_cancellable_set_error_if_cancelled(rc->cancel, error))
			return -1;
		ssize_t n = recv(rc->fd, buf, max, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			set_errno_error(error, errno, "Error receiving data");
			return -1;
		}
		if (!realconn_wait(rc, POLLIN, deadline, error))
			return -1;
	}
}

static gssize realconn_fill(MsConn *c, guint8 *buf, gsize max, gint64 deadline, GError **error)
{
	gssize n = realconn_receive((RealConn *)c, buf, max, deadline, error);
	if (n > 0)
		ms_conn_emit_arrived(c, (gsize)n);
	return n;
}

static gboolean realconn_write(MsConn *c, const guint8 *data, gsize len, GError **error)
{
	RealConn *rc = (RealConn *)c;
	if (c->tls) {
		GSocket *sock = g_socket_connection_get_socket(rc->sc);
		g_socket_set_timeout(sock, timeout_seconds(c->sched, write_deadline(c)));
		return g_output_stream_write_all(g_io_stream_get_output_stream(rc->stream), data, len,
		                                 NULL, rc->cancel, error);
	}
	gint64 deadline = write_deadline(c);
	gsize done = 0;
	while (done < len) {
		if (g_cancellable_set_error_if_cancelled(rc->cancel, error))
			return FALSE;
		/* a peer gone must be an error here, not a SIGPIPE */
		ssize_t n = send(rc->fd, data + done, len - done, MSG_NOSIGNAL);
		if (n >= 0) {
			done += (gsize)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			set_errno_error(error, errno, "Error sending data");
			return FALSE;
		}
		if (!realconn_wait(rc, POLLOUT, deadline, error))
			return FALSE;
	}
	return TRUE;
}

static void realconn_shutdown(MsConn *c)
{
	RealConn *rc = (RealConn *)c;
	g_output_stream_flush(g_io_stream_get_output_stream(rc->stream), NULL, NULL);
	g_socket_shutdown(g_socket_connection_get_socket(rc->sc), FALSE, TRUE, NULL);
}

static gsize realconn_available(MsConn *c)
{
	RealConn *rc = (RealConn *)c;
	if (c->tls)
		return g_pollable_input_stream_is_readable(G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(rc->stream)))
		       ? 1 : 0;
	gssize n = g_socket_get_available_bytes(g_socket_connection_get_socket(rc->sc));
	g_atomic_int_set(&rc->drained, n == 0);
	return n > 0 ? (gsize)n : 0;
}

static void realconn_destroy(MsConn *c)
{
	RealConn *rc = (RealConn *)c;
	g_io_stream_close(rc->stream, NULL, NULL);
	if (rc->stream != G_IO_STREAM(rc->sc))
		g_object_unref(rc->stream);
	g_object_unref(rc->sc);
	if (rc->holds_wake)
		g_cancellable_release_fd(rc->cancel);
	g_object_unref(rc->cancel);
	g_free(rc);
}

/* Lab certificates are self-signed: a client told to check nothing
 * accepts whatever it gets. */
static gboolean accept_any_certificate(GTlsConnection *conn, GTlsCertificate *peer,
                                       GTlsCertificateFlags errors, gpointer data)
{
	return TRUE;
}

static gboolean realconn_starttls(MsConn *c, GTlsCertificate *cert, GError **error)
{
	RealConn *rc = (RealConn *)c;
	GIOStream *tls;
	if (cert) {
		tls = g_tls_server_connection_new(rc->stream, cert, error);
	} else if (c->tls_check_name) {
		/* RFC 6125: the certificate must name the server we meant */
		g_autoptr(GSocketConnectable) id = g_network_address_new(c->tls_check_name, c->peer_port);
		tls = g_tls_client_connection_new(rc->stream, id, error);
		if (tls && c->tls_ca_file) {
			GTlsDatabase *db = g_tls_file_database_new(c->tls_ca_file, error);
			if (!db) {
				g_object_unref(tls);
				return FALSE;
			}
			g_tls_connection_set_database(G_TLS_CONNECTION(tls), db);
			g_object_unref(db);
		}
	} else {
		tls = g_tls_client_connection_new(rc->stream, NULL, error);
		if (tls)
			g_signal_connect(tls, "accept-certificate", G_CALLBACK(accept_any_certificate), NULL);
	}
	if (!tls)
		return FALSE;
	GSocket *sock = g_socket_connection_get_socket(rc->sc);
	g_socket_set_timeout(sock, timeout_seconds(c->sched, write_deadline(c)));
	if (!g_tls_connection_handshake(G_TLS_CONNECTION(tls), rc->cancel, error)) {
		g_object_unref(tls);
		return FALSE;
	}
	rc->stream = tls;
	c->tls_verified = !cert && c->tls_check_name != NULL;
	return TRUE;
}

static const MsConnClass realconn_class = {
	.fill = realconn_fill,
	.write_raw = realconn_write,
	.shutdown_write = realconn_shutdown,
	.available = realconn_available,
	.destroy = realconn_destroy,
	.starttls = realconn_starttls,
	.gathers_writes = TRUE,
};

static MsConn *realconn_new(MsStack *st, GSocketConnection *sc, gboolean is_client)
{
	RealConn *rc = g_new0(RealConn, 1);
	g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address(sc, NULL);
	g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address(sc, NULL);
	guint16 lport = 0, rport = 0;
	g_autofree char *laddr = local ? sockaddr_string(local, &lport) : g_strdup("?");
	g_autofree char *raddr = remote ? sockaddr_string(remote, &rport) : g_strdup("?");
	g_autofree char *rname = g_strdup_printf("%s:%u", raddr, rport);
	ms_conn_init(&rc->base, &realconn_class, st->sched,
	             (guint64)g_atomic_int_add(&next_conn_id, 1) + 1, is_client,
	             laddr, lport, st->name, raddr, rport, rname);
	rc->sc = sc;
	rc->stream = G_IO_STREAM(sc);
	rc->fd = g_socket_get_fd(g_socket_connection_get_socket(sc));
	/* nothing but the shutdown cancels a connection: the scheduler's
	 * cancellable serves all of them, with one descriptor */
	rc->cancel = g_object_ref(ms_sched_cancellable(st->sched));
	rc->holds_wake = g_cancellable_make_pollfd(rc->cancel, &rc->wake);
	return &rc->base;
}

/* ---- listeners --------------------------------------------------------- */

typedef struct {
	MsListener        base;
	GSocketListener  *gl;
	Cancel            cancel;
	gboolean          closed;
} RealListener;

static MsConn *reallistener_accept(MsListener *l, GError **error)
{
	RealListener *rl = (RealListener *)l;
	GSocketConnection *sc = g_socket_listener_accept(rl->gl, NULL, rl->cancel.own, error);
	if (!sc)
		return NULL;
	/* replies go out in a few writes: Nagle plus delayed ACKs would stall
	 * each by 40 ms */
	g_socket_set_option(g_socket_connection_get_socket(sc), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	return realconn_new(l->stack, sc, FALSE);
}

static void reallistener_close(MsListener *l)
{
	RealListener *rl = (RealListener *)l;
	if (rl->closed)
		return;
	rl->closed = TRUE;
	g_cancellable_cancel(rl->cancel.own);
	g_socket_listener_close(rl->gl);
}

static void reallistener_destroy(MsListener *l)
{
	RealListener *rl = (RealListener *)l;
	g_object_unref(rl->gl);
	cancel_clear(&rl->cancel);
	ms_stack_unref(l->stack);
	g_free(rl);
}

static const MsListenerClass reallistener_class = {
	.accept = reallistener_accept,
	.close = reallistener_close,
	.destroy = reallistener_destroy,
};

static GInetSocketAddress *inet_address(const char *addr, guint16 port, GError **error)
{
	g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(addr);
	if (!ia) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "\"%s\" is not an IP address", addr);
		return NULL;
	}
	return G_INET_SOCKET_ADDRESS(g_inet_socket_address_new(ia, port));
}

static MsListener *real_listen(MsStack *st, const char *addr, guint16 port, GError **error)
{
	g_autoptr(GInetSocketAddress) sa = inet_address(addr ? addr : st->address, port, error);
	if (!sa)
		return NULL;
	GSocketListener *gl = g_socket_listener_new();
	g_socket_listener_set_backlog(gl, 128);
	g_autoptr(GSocketAddress) effective = NULL;
	if (!g_socket_listener_add_address(gl, G_SOCKET_ADDRESS(sa), G_SOCKET_TYPE_STREAM,
	                                   G_SOCKET_PROTOCOL_TCP, NULL, &effective, error)) {
		g_object_unref(gl);
		return NULL;
	}
	RealListener *rl = g_new0(RealListener, 1);
	rl->base.klass = &reallistener_class;
	rl->base.stack = ms_stack_ref(st);
	rl->base.port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
	rl->gl = gl;
	cancel_init(&rl->cancel, st->sched);
	return &rl->base;
}

static MsConn *real_connect(MsStack *st, const char *addr, guint16 port, gint64 timeout_us, GError **error)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_socket_client_set_enable_proxy(client, FALSE);   /* a lab talks directly: no proxy look-up per connect */
	g_socket_client_set_timeout(client, (guint)MAX(1, timeout_us / MS_SECOND));
	g_autoptr(GInetSocketAddress) sa = inet_address(addr, port, error);
	if (!sa)
		return NULL;
	/* the system picks our own address and port while connecting: the
	 * SYN's source is not known yet (sim/kernel/event.h) */
	g_autofree char *syn = g_strdup_printf("SYN -> %s:%u", addr, port);
	MsEvent ev = { .kind = MS_EV_CONNECT, .from = st->name, .to = addr, .proto = "tcp", .text = syn,
	               .net = ms_conn_net_info(MS_NET_SYN, NULL, 0, addr, port) };
	ms_bus_emit(ms_sched_bus(st->sched), &ev);
	GError *err = NULL;
	GSocketConnection *sc = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(sa),
	                                                ms_sched_cancellable(st->sched), &err);
	if (!sc) {
		g_autofree char *failed = g_strdup_printf("connect to %s:%u failed: %s", addr, port, err->message);
		ev.kind = MS_EV_ERROR;
		ev.text = failed;
		if (ev.net.action != MS_NET_NONE)
			ev.net.action = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)
			                ? MS_NET_REFUSED : MS_NET_UNANSWERED;
		ms_bus_emit(ms_sched_bus(st->sched), &ev);
		g_propagate_error(error, err);
		return NULL;
	}
	g_socket_set_option(g_socket_connection_get_socket(sc), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	MsConn *c = realconn_new(st, sc, TRUE);
	ms_conn_emit_net(c, MS_EV_CONNECT, MS_NET_ESTABLISHED, "connected %s:%u -> %s:%u",
	                 c->local_addr, c->local_port, addr, port);
	return c;
}

/* ---- datagrams --------------------------------------------------------- */

typedef struct {
	MsDgram  base;
	GSocket *sock;
	Cancel   cancel;
	gboolean closed;
} RealDgram;

static gssize realdgram_recv(MsDgram *d, void *buf, gsize max, char **from_addr, guint16 *from_port,
                             gint64 deadline, GError **error)
{
	RealDgram *rd = (RealDgram *)d;
	gint64 left = deadline == MS_FOREVER ? -1 : MAX(0, deadline - ms_sched_now(d->stack->sched));
	if (!g_socket_condition_timed_wait(rd->sock, G_IO_IN, left, rd->cancel.own, error))
		return -1;
	GSocketAddress *sa = NULL;
	gssize n = g_socket_receive_from(rd->sock, &sa, buf, max, rd->cancel.own, error);
	if (n >= 0) {
		guint16 port = 0;
		char *addr = sa ? sockaddr_string(sa, &port) : g_strdup("?");
		if (from_addr)
			*from_addr = addr;
		else
			g_free(addr);
		if (from_port)
			*from_port = port;
	}
	g_clear_object(&sa);
	return n;
}

static gboolean realdgram_send(MsDgram *d, const char *to_addr, guint16 to_port, const void *data,
                               gsize len, GError **error)
{
	RealDgram *rd = (RealDgram *)d;
	g_autoptr(GInetSocketAddress) sa = inet_address(to_addr, to_port, error);
	if (!sa)
		return FALSE;
	ms_dgram_emit_send(d, to_addr, to_addr, to_port, data, len);
	return g_socket_send_to(rd->sock, G_SOCKET_ADDRESS(sa), data, len, rd->cancel.own, error) >= 0;
}

static void realdgram_close(MsDgram *d)
{
	RealDgram *rd = (RealDgram *)d;
	if (rd->closed)
		return;
	rd->closed = TRUE;
	g_cancellable_cancel(rd->cancel.own);
	g_socket_close(rd->sock, NULL);
}

static void realdgram_destroy(MsDgram *d)
{
	RealDgram *rd = (RealDgram *)d;
	g_object_unref(rd->sock);
	cancel_clear(&rd->cancel);
	ms_stack_unref(d->stack);
	g_free(rd);
}

static const MsDgramClass realdgram_class = {
	.recv = realdgram_recv,
	.send = realdgram_send,
	.close = realdgram_close,
	.destroy = realdgram_destroy,
};

static MsDgram *real_udp_bind(MsStack *st, const char *addr, guint16 port, GError **error)
{
	g_autoptr(GInetSocketAddress) sa = inet_address(addr ? addr : st->address, port, error);
	if (!sa)
		return NULL;
	GSocketFamily family = g_socket_address_get_family(G_SOCKET_ADDRESS(sa));
	GSocket *sock = g_socket_new(family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
	if (!sock)
		return NULL;
	if (!g_socket_bind(sock, G_SOCKET_ADDRESS(sa), TRUE, error)) {
		g_object_unref(sock);
		return NULL;
	}
	g_autoptr(GSocketAddress) bound = g_socket_get_local_address(sock, NULL);
	RealDgram *rd = g_new0(RealDgram, 1);
	rd->base.klass = &realdgram_class;
	rd->base.stack = ms_stack_ref(st);
	rd->base.port = bound ? g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)) : port;
	rd->sock = sock;
	cancel_init(&rd->cancel, st->sched);
	return &rd->base;
}

/* ---- the stack --------------------------------------------------------- */

static void real_stack_destroy(MsStack *st)
{
	g_free(st);
}

static const struct MsStackClass real_stack_class = {
	.listen = real_listen,
	.connect = real_connect,
	.udp_bind = real_udp_bind,
	.destroy = real_stack_destroy,
};

MsStack *ms_realnet_stack_new(MsSched *s, const char *name, const char *address)
{
	RealStack *rs = g_new0(RealStack, 1);
	ms_stack_init(&rs->base, &real_stack_class, s, name, address);
	return &rs->base;
}
