/* net/conn.c - the transport-independent half of MsConn: buffering, lines,
 * and the SEND/RECV events that make every byte on the wire visible.  Each
 * event about packets also carries them as data (MsEvent.net, the contract
 * in sim/kernel/event.h), so its text is free to say it for people.
 *
 * Lines are split by the strict rules the mail protocols need (RFC 5321
 * 2.3.8: only CRLF ends a line); a bare CR or LF is reported, not hidden,
 * so a server can refuse SMTP smuggling instead of guessing.
 */
#include "net/conn_impl.h"

#include <stdarg.h>
#include <string.h>

static const char *const eol_names[] = { "CRLF", "LF", "CR", "EOF", "TOO_LONG" };

const char *ms_eol_to_string(MsEol eol)
{
	return (guint)eol < G_N_ELEMENTS(eol_names) ? eol_names[eol] : "?";
}

/* ---- stacks ------------------------------------------------------------ */

void ms_stack_init(MsStack *st, const struct MsStackClass *klass, MsSched *s,
                   const char *name, const char *address)
{
	st->klass = klass;
	st->ref = 1;
	st->sched = s;
	st->name = g_strdup(name);
	st->address = g_strdup(address);
}

MsStack *ms_stack_ref(MsStack *st)
{
	g_atomic_int_inc(&st->ref);
	return st;
}

void ms_stack_unref(MsStack *st)
{
	if (!st || !g_atomic_int_dec_and_test(&st->ref))
		return;
	g_free(st->name);
	g_free(st->address);
	st->klass->destroy(st);
}

const char *ms_stack_name(MsStack *st) { return st->name; }
const char *ms_stack_address(MsStack *st) { return st->address; }
MsSched *ms_stack_sched(MsStack *st) { return st->sched; }

MsListener *ms_stack_listen(MsStack *st, const char *addr, guint16 port, GError **error)
{
	return st->klass->listen(st, addr, port, error);
}

MsConn *ms_stack_connect(MsStack *st, const char *addr, guint16 port, gint64 timeout_us, GError **error)
{
	return st->klass->connect(st, addr, port, timeout_us, error);
}

MsDgram *ms_stack_udp_bind(MsStack *st, const char *addr, guint16 port, GError **error)
{
	return st->klass->udp_bind(st, addr, port, error);
}

/* ---- listeners --------------------------------------------------------- */

MsConn *ms_listener_accept(MsListener *l, GError **error)
{
	MsConn *c = l->klass->accept(l, error);
	if (c) {
		if (l->proto)
			ms_conn_set_proto(c, l->proto);
		if (l->step)
			ms_conn_set_step(c, l->step);
		ms_conn_emit_net(c, MS_EV_ACCEPT, MS_NET_ACCEPT, "accepted %s:%u on port %u",
		                 c->peer_addr, c->peer_port, c->local_port);
	}
	return c;
}

guint16 ms_listener_port(MsListener *l) { return l->port; }
void ms_listener_close(MsListener *l) { l->klass->close(l); }

void ms_listener_set_proto(MsListener *l, const char *proto)
{
	g_free(l->proto);
	l->proto = g_strdup(proto);
}

void ms_listener_set_step(MsListener *l, const char *step)
{
	g_free(l->step);
	l->step = g_strdup(step);
}

void ms_listener_free(MsListener *l)
{
	if (!l)
		return;
	l->klass->close(l);
	g_free(l->proto);
	g_free(l->step);
	l->klass->destroy(l);
}

/* ---- connections: life ------------------------------------------------- */

void ms_conn_init(MsConn *c, const MsConnClass *klass, MsSched *s, guint64 id, gboolean is_client,
                  const char *local_addr, guint16 local_port, const char *local_name,
                  const char *peer_addr, guint16 peer_port, const char *peer_name)
{
	c->klass = klass;
	c->ref = 1;
	c->sched = s;
	c->id = id;
	c->is_client = is_client;
	c->local_addr = g_strdup(local_addr);
	c->local_port = local_port;
	c->local_name = g_strdup(local_name ? local_name : local_addr);
	c->peer_addr = g_strdup(peer_addr);
	c->peer_port = peer_port;
	c->peer_name = g_strdup(peer_name ? peer_name : peer_addr);
	ms_endpoint_set(&c->local_ep, local_addr, local_port);
	ms_endpoint_set(&c->peer_ep, peer_addr, peer_port);
	c->timeout = MS_CONN_DEFAULT_TIMEOUT;
}

MsConn *ms_conn_ref(MsConn *c)
{
	g_atomic_int_inc(&c->ref);
	return c;
}

void ms_conn_unref(MsConn *c)
{
	if (!c || !g_atomic_int_dec_and_test(&c->ref))
		return;
	ms_conn_close(c);
	g_free(c->local_addr);
	g_free(c->peer_addr);
	g_free(c->local_name);
	g_free(c->peer_name);
	g_free(c->proto);
	g_free(c->step);
	g_free(c->tls_check_name);
	g_free(c->tls_ca_file);
	if (c->held)
		g_byte_array_unref(c->held);
	c->klass->destroy(c);
}

static gboolean send_held(MsConn *c, GError **error);

void ms_conn_close(MsConn *c)
{
	if (c->write_closed)
		return;
	send_held(c, NULL);   /* what was written goes before the end */
	c->write_closed = TRUE;
	c->klass->shutdown_write(c);
	ms_conn_emit_net(c, MS_EV_CLOSE, MS_NET_FIN, "close");
}

const char *ms_conn_peer_address(MsConn *c) { return c->peer_addr; }
guint16 ms_conn_peer_port(MsConn *c) { return c->peer_port; }
const char *ms_conn_local_address(MsConn *c) { return c->local_addr; }
guint16 ms_conn_local_port(MsConn *c) { return c->local_port; }
const char *ms_conn_peer_name(MsConn *c) { return c->peer_name; }
const char *ms_conn_local_name(MsConn *c) { return c->local_name; }
guint64 ms_conn_id(MsConn *c) { return c->id; }
MsSched *ms_conn_sched(MsConn *c) { return c->sched; }
gboolean ms_conn_is_client(MsConn *c) { return c->is_client; }
const char *ms_conn_step(MsConn *c) { return c->step; }
void ms_conn_set_timeout(MsConn *c, gint64 us) { c->timeout = us; }

void ms_conn_set_proto(MsConn *c, const char *proto)
{
	g_free(c->proto);
	c->proto = g_strdup(proto);
}

void ms_conn_set_step(MsConn *c, const char *step)
{
	if (g_strcmp0(c->step, step) == 0)
		return;
	g_free(c->step);
	c->step = g_strdup(step);
}

/* ---- events ------------------------------------------------------------ */

char *ms_conn_escape(const guint8 *data, gsize len)
{
	GString *out = g_string_sized_new(len + 8);
	const char *p = (const char *)data, *end = p + len;
	while (p < end) {
		guchar ch = (guchar)*p;
		if (ch >= 0x80) {
			const char *next;
			gunichar u = g_utf8_get_char_validated(p, end - p);
			if (u != (gunichar)-1 && u != (gunichar)-2) {
				next = g_utf8_next_char(p);
				g_string_append_len(out, p, next - p);
				p = next;
				continue;
			}
			g_string_append_printf(out, "\\x%02X", ch);
		} else if (ch == '\r') {
			g_string_append(out, "\\r");
		} else if (ch == '\n') {
			g_string_append(out, "\\n");
		} else if (ch == '\t') {
			g_string_append(out, "\\t");
		} else if (ch < 0x20 || ch == 0x7f) {
			g_string_append_printf(out, "\\x%02X", ch);
		} else {
			g_string_append_c(out, (char)ch);
		}
		p++;
	}
	return g_string_free(out, FALSE);
}

MsNetInfo ms_conn_net_info(MsNetAction action, const char *src_addr, guint16 src_port,
                           const char *dst_addr, guint16 dst_port)
{
	MsNetInfo net = { .action = action, .transport = ms_net_action_transport(action) };
	gboolean src_ok = ms_endpoint_set(&net.src, src_addr, src_port) || !src_addr;
	if (!ms_endpoint_set(&net.dst, dst_addr, dst_port) || !src_ok)
		return (MsNetInfo){ 0 };   /* not an address: no fact to give */
	return net;
}

/* The net of an event about c's packets, sent by its own end or (arrived)
 * by its peer; none when an address of c is not one (never on either
 * network, but the contract wants both ends known). */
static MsNetInfo conn_net(const MsConn *c, MsNetAction action, gboolean from_peer)
{
	if (c->local_ep.family == MS_ADDR_NONE || c->peer_ep.family == MS_ADDR_NONE)
		return (MsNetInfo){ 0 };
	MsNetInfo net = { .action = action, .transport = ms_net_action_transport(action),
	                  .src = from_peer ? c->peer_ep : c->local_ep, .dst = from_peer ? c->local_ep : c->peer_ep };
	return net;
}

static void conn_vemit(MsConn *c, MsEventKind kind, MsNetAction action, const char *fmt, va_list ap)
	G_GNUC_PRINTF(4, 0);

static void conn_vemit(MsConn *c, MsEventKind kind, MsNetAction action, const char *fmt, va_list ap)
{
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	MsEvent ev = { .kind = kind, .from = c->local_name, .to = c->peer_name,
	               .proto = c->proto ? c->proto : "tcp", .step = c->step,
	               .text = text, .conn = c->id };
	if (action != MS_NET_NONE)
		ev.net = conn_net(c, action, FALSE);
	ms_bus_emit(ms_sched_bus(c->sched), &ev);
}

void ms_conn_emit(MsConn *c, MsEventKind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_vemit(c, kind, MS_NET_NONE, fmt, ap);
	va_end(ap);
}

void ms_conn_emit_net(MsConn *c, MsEventKind kind, MsNetAction action, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_vemit(c, kind, action, fmt, ap);
	va_end(ap);
}

void ms_conn_emit_arrived(MsConn *c, gsize n)
{
	/* on the stack: one of these for every read */
	char text[sizeof "18446744073709551615 bytes arrived"];
	g_snprintf(text, sizeof text, "%" G_GSIZE_FORMAT " bytes arrived", n);
	MsEvent ev = { .kind = MS_EV_RECV, .from = c->peer_name, .to = c->local_name,
	               .proto = c->proto ? c->proto : "tcp", .text = text, .conn = c->id,
	               .net = conn_net(c, MS_NET_ARRIVED, TRUE) };
	if (ev.net.action != MS_NET_NONE)
		ev.net.bytes = n;
	ms_bus_emit(ms_sched_bus(c->sched), &ev);
}

static void emit_send(MsConn *c, const guint8 *data, gsize len, const char *display)
{
	MsEvent ev = { .kind = MS_EV_SEND, .from = c->local_name, .to = c->peer_name,
	               .proto = c->proto ? c->proto : "tcp", .step = c->step, .conn = c->id,
	               .net = conn_net(c, MS_NET_DATA, FALSE) };
	const char *who = c->is_client ? "C: " : "S: ";
	MsBus *bus = ms_sched_bus(c->sched);

	if (display) {
		g_autofree char *text = g_strconcat(who, display, NULL);
		g_autoptr(GBytes) payload = g_bytes_new(data, len);
		ev.text = text;
		ev.payload = payload;
		ms_bus_emit(bus, &ev);
		return;
	}
	/* One event per line, so a transcript reads like the protocol. */
	gsize start = 0;
	while (start < len) {
		const guint8 *nl = memchr(data + start, '\n', len - start);
		gsize stop = nl ? (gsize)(nl - data) + 1 : len;
		gsize shown = stop - start;
		if (shown >= 2 && data[stop - 2] == '\r' && data[stop - 1] == '\n')
			shown -= 2;   /* the proper ending is not worth showing */
		g_autofree char *esc = ms_conn_escape(data + start, shown);
		g_autofree char *text = g_strconcat(who, esc, NULL);
		g_autoptr(GBytes) payload = g_bytes_new(data + start, stop - start);
		ev.text = text;
		ev.payload = payload;
		ms_bus_emit(bus, &ev);
		start = stop;
	}
}

/* ---- writing ----------------------------------------------------------- */

gboolean ms_conn_write_masked(MsConn *c, const void *data, gsize len, const char *display, GError **error)
{
	if (c->write_closed) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "connection already closed for writing");
		return FALSE;
	}
	if (len == 0)
		return TRUE;
	if (c->corked && c->klass->gathers_writes && len < MS_CONN_CORK_MAX) {
		if (c->held && c->held->len + len > MS_CONN_CORK_MAX && !send_held(c, error))
			return FALSE;
		if (!c->held)
			c->held = g_byte_array_sized_new(MS_CONN_BUFSIZE);
		g_byte_array_append(c->held, data, (guint)len);
		emit_send(c, data, len, display);
		return TRUE;
	}
	/* corked or not, a piece this big goes at once: after what is held */
	if (!send_held(c, error))
		return FALSE;
	if (ms_sched_mode(c->sched) == MS_SCHED_REAL) {
		/* Said before it is sent: stamped before the bytes leave, the
		 * event comes before whatever the peer does with them, even when
		 * this thread is descheduled in between, and in logs of several
		 * processes merged by time (mailsim lab check).  A write that
		 * fails shows as the SEND, then the error. */
		emit_send(c, data, len, display);
		return c->klass->write_raw(c, data, len, error);
	}
	if (!c->klass->write_raw(c, data, len, error))
		return FALSE;
	emit_send(c, data, len, display);
	return TRUE;
}

/* Send the corked writes held so far. */
static gboolean send_held(MsConn *c, GError **error)
{
	if (!c->held || c->held->len == 0)
		return TRUE;
	gboolean ok = c->klass->write_raw(c, c->held->data, c->held->len, error);
	if (c->held->len > MS_CONN_BUFSIZE) {
		g_byte_array_unref(c->held);   /* a connection keeps a small buffer, not its largest */
		c->held = NULL;
	} else {
		g_byte_array_set_size(c->held, 0);
	}
	return ok;
}

void ms_conn_cork(MsConn *c)
{
	c->corked++;
}

gboolean ms_conn_uncork(MsConn *c, GError **error)
{
	g_return_val_if_fail(c->corked > 0, FALSE);
	if (--c->corked > 0)
		return TRUE;
	if (c->write_closed) {
		/* closed while corked: ms_conn_close sent what was held */
		return TRUE;
	}
	return send_held(c, error);
}

gboolean ms_conn_write(MsConn *c, const void *data, gsize len, GError **error)
{
	return ms_conn_write_masked(c, data, len, NULL, error);
}

gboolean ms_conn_write_gathered(MsConn *c, GString **out, GArray *masked, gsize keep_max, GError **error)
{
	const char *data = (*out)->str;
	gboolean ok = TRUE;
	gsize pos = 0;
	ms_conn_cork(c);   /* the pieces leave in one send */
	for (guint i = 0; i < masked->len; i++) {
		MsConnMasked *m = &g_array_index(masked, MsConnMasked, i);
		if (ok && m->start > pos)
			ok = ms_conn_write(c, data + pos, m->start - pos, error);
		if (ok)
			ok = ms_conn_write_masked(c, data + m->start, m->len, m->display, error);
		pos = m->start + m->len;
		g_free(m->display);
	}
	if (ok && (*out)->len > pos)
		ok = ms_conn_write(c, data + pos, (*out)->len - pos, error);
	ok = ms_conn_uncork(c, ok ? error : NULL) && ok;
	g_array_set_size(masked, 0);
	if ((*out)->allocated_len > keep_max) {
		g_string_free(*out, TRUE);
		*out = g_string_new(NULL);
	}
	g_string_truncate(*out, 0);
	return ok;
}

gboolean ms_conn_printf(MsConn *c, GError **error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return ms_conn_write(c, s, strlen(s), error);
}

/* ---- reading ----------------------------------------------------------- */

/* Make room and read more from the transport.  1: got bytes, 0: EOF,
 * -1: error. */
static int fill(MsConn *c, GError **error)
{
	if (c->eof)
		return 0;
	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	g_assert(c->rlen < sizeof c->rbuf);
	gint64 deadline = c->timeout == MS_FOREVER ? MS_FOREVER : ms_sched_now(c->sched) + c->timeout;
	gssize n = c->klass->fill(c, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, deadline, error);
	if (n < 0)
		return -1;
	if (n == 0) {
		c->eof = TRUE;
		return 0;
	}
	c->rlen += (gsize)n;
	return 1;
}

gssize ms_conn_read_line(MsConn *c, char *buf, gsize max, MsEol *eol, GError **error)
{
	gsize n = 0;
	gboolean too_long = FALSE;

	for (;;) {
		if (c->rpos == c->rlen) {
			int r = fill(c, error);
			if (r < 0)
				return -1;
			if (r == 0) {
				buf[MIN(n, max)] = '\0';
				*eol = too_long ? MS_EOL_TOO_LONG : MS_EOL_EOF;
				return (gssize)MIN(n, max);
			}
		}
		while (c->rpos < c->rlen) {
			guint8 b = c->rbuf[c->rpos];
			if (b == '\n') {
				c->rpos++;
				*eol = MS_EOL_LF;
				goto done;
			}
			if (b == '\r') {
				if (c->rpos + 1 == c->rlen) {
					/* Is it CRLF?  The next byte decides. */
					int r = fill(c, error);
					if (r < 0)
						return -1;
					if (r == 0) {
						c->rpos++;
						*eol = MS_EOL_CR;
						goto done;
					}
				}
				if (c->rbuf[c->rpos + 1] == '\n') {
					c->rpos += 2;
					*eol = MS_EOL_CRLF;
				} else {
					c->rpos++;
					*eol = MS_EOL_CR;
				}
				goto done;
			}
			if (n < max)
				buf[n] = (char)b;
			else
				too_long = TRUE;   /* keep consuming up to the ending */
			n++;
			c->rpos++;
		}
	}
done:
	if (too_long)
		*eol = MS_EOL_TOO_LONG;
	n = MIN(n, max);
	buf[n] = '\0';
	return (gssize)n;
}

gboolean ms_conn_read_exact(MsConn *c, void *buf, gsize len, GError **error)
{
	guint8 *out = buf;
	while (len > 0) {
		if (c->rpos == c->rlen) {
			int r = fill(c, error);
			if (r < 0)
				return FALSE;
			if (r == 0) {
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
				            "peer closed the connection with %" G_GSIZE_FORMAT " bytes still expected", len);
				return FALSE;
			}
		}
		gsize take = MIN(len, c->rlen - c->rpos);
		memcpy(out, c->rbuf + c->rpos, take);
		c->rpos += take;
		out += take;
		len -= take;
	}
	return TRUE;
}

gboolean ms_conn_starttls(MsConn *c, GTlsCertificate *cert, GError **error)
{
	if (c->tls) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "the connection is already encrypted");
		return FALSE;
	}
	if (!send_held(c, error))   /* the reply to STARTTLS goes in the clear */
		return FALSE;
	/* CVE-2011-0411: what came in the clear after STARTTLS is dropped */
	gsize dropped = c->rlen - c->rpos;
	c->rpos = c->rlen = 0;
	if (dropped)
		ms_conn_emit(c, MS_EV_REFUSE, "%" G_GSIZE_FORMAT " bytes sent in the clear after STARTTLS thrown away",
		             dropped);
	if (c->klass->starttls && !c->klass->starttls(c, cert, error)) {
		ms_conn_emit(c, MS_EV_ERROR, "TLS handshake failed: %s", error && *error ? (*error)->message : "?");
		return FALSE;
	}
	c->tls = TRUE;
	ms_conn_emit(c, MS_EV_NOTE, "TLS established%s: from here on the bytes are encrypted",
	             c->klass->starttls ? "" : " (simulated)");
	return TRUE;
}

gboolean ms_conn_is_tls(MsConn *c) { return c->tls; }

void ms_conn_set_tls_check(MsConn *c, const char *server_name, const char *ca_file)
{
	g_return_if_fail(c != NULL && server_name != NULL);
	g_free(c->tls_check_name);
	g_free(c->tls_ca_file);
	c->tls_check_name = g_strdup(server_name);
	c->tls_ca_file = g_strdup(ca_file);
}

gboolean ms_conn_tls_verified(MsConn *c) { return c->tls_verified; }

gsize ms_conn_pending(MsConn *c)
{
	return (c->rlen - c->rpos) + c->klass->available(c);
}

/* ---- datagrams --------------------------------------------------------- */

gssize ms_dgram_recv(MsDgram *d, void *buf, gsize max, char **from_addr,
                     guint16 *from_port, gint64 deadline, GError **error)
{
	return d->klass->recv(d, buf, max, from_addr, from_port, deadline, error);
}

gboolean ms_dgram_send(MsDgram *d, const char *to_addr, guint16 to_port,
                       const void *data, gsize len, GError **error)
{
	return d->klass->send(d, to_addr, to_port, data, len, error);
}

guint16 ms_dgram_port(MsDgram *d) { return d->port; }
void ms_dgram_close(MsDgram *d) { d->klass->close(d); }

void ms_dgram_set_proto(MsDgram *d, const char *proto)
{
	g_free(d->proto);
	d->proto = g_strdup(proto);
}

void ms_dgram_free(MsDgram *d)
{
	if (!d)
		return;
	d->klass->close(d);
	g_free(d->proto);
	d->klass->destroy(d);
}

void ms_dgram_emit_send(MsDgram *d, const char *to_name, const char *to_addr, guint16 to_port,
                        const void *data, gsize len)
{
	g_autofree char *text = g_strdup_printf("datagram %s:%u -> %s:%u, %" G_GSIZE_FORMAT " bytes",
	                                        ms_stack_address(d->stack), d->port, to_addr, to_port, len);
	g_autoptr(GBytes) payload = g_bytes_new(data, len);
	MsEvent ev = { .kind = MS_EV_SEND, .from = ms_stack_name(d->stack), .to = to_name,
	               .proto = d->proto ? d->proto : "udp", .text = text, .payload = payload,
	               .net = ms_conn_net_info(MS_NET_DATAGRAM, ms_stack_address(d->stack), d->port,
	                                       to_addr, to_port) };
	ms_bus_emit(ms_sched_bus(d->stack->sched), &ev);
}
