/* net/simnet.c - the simulated Internet under MsConn.
 *
 * A TCP connection is a Pipe with two ends.  A write computes when its bytes
 * arrive (after the link's bandwidth and latency, never overtaking earlier
 * bytes) and schedules a gated delivery on the scheduler's heap.  Connect is
 * a SYN delivered the same way; the answer (SYN-ACK or RST) travels back.
 * Nothing here runs on its own thread: it all happens inside the baton.
 */
#include "net/simnet.h"
#include "net/conn_impl.h"

#include <arpa/inet.h>
#include <string.h>

typedef struct {
	MsFwAction action;
	MsFwProto  proto;
	guint16    port;
	char      *cidr;
} FwRule;

typedef struct {
	char   *a, *b;
	gint64  latency;
	guint64 bandwidth;
} LinkRule;

typedef struct SimStack SimStack;
typedef struct SimListener SimListener;
typedef struct SimDgram SimDgram;

struct MsHost {
	MsNet      *net;
	char       *name;
	char       *address;
	gboolean    up;
	SimStack   *stack;
	GPtrArray  *fw;          /* of FwRule* */
	GHashTable *listeners;   /* port -> SimListener* */
	GHashTable *udp;         /* port -> SimDgram* */
	guint16     next_port;
};

struct MsNet {
	MsSched    *sched;
	GPtrArray  *hosts;
	GHashTable *by_name, *by_addr;
	GPtrArray  *links;       /* of LinkRule*, most recent first wins */
	GHashTable *cuts;        /* "a\nb" set */
	GPtrArray  *pipes;       /* live pipes, for host down */
	guint64     next_conn_id;
};

struct SimStack {
	MsStack  base;
	MsHost  *host;
};

/* ---- small helpers ----------------------------------------------------- */

static const char *const fw_names[] = { "accept", "reject", "drop" };

const char *ms_fw_action_to_string(MsFwAction a)
{
	return (guint)a < G_N_ELEMENTS(fw_names) ? fw_names[a] : "?";
}

static gboolean parse_ipv4(const char *s, guint32 *out)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return FALSE;
	*out = ntohl(a.s_addr);
	return TRUE;
}

static gboolean cidr_parse(const char *cidr, guint32 *net_r, guint32 *mask_r)
{
	char buf[64];
	if (!cidr || strlen(cidr) >= sizeof buf)
		return FALSE;
	strcpy(buf, cidr);
	guint bits = 32;
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		char *end;
		guint64 v = g_ascii_strtoull(slash + 1, &end, 10);
		if (end == slash + 1 || *end || v > 32)
			return FALSE;
		bits = (guint)v;
	}
	guint32 ip;
	if (!parse_ipv4(buf, &ip))
		return FALSE;
	*mask_r = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
	*net_r = ip & *mask_r;
	return TRUE;
}

gboolean ms_net_cidr_valid(const char *cidr)
{
	guint32 n, m;
	return cidr_parse(cidr, &n, &m);
}

gboolean ms_net_cidr_match(const char *cidr, const char *address)
{
	guint32 n, m, ip;
	return cidr_parse(cidr, &n, &m) && parse_ipv4(address, &ip) && (ip & m) == n;
}

static void vemit(MsNet *net, const MsNetInfo *wire, MsEventKind kind, const char *from, const char *to,
                  const char *proto, guint64 conn, const char *fmt, va_list ap) G_GNUC_PRINTF(8, 0);

static void vemit(MsNet *net, const MsNetInfo *wire, MsEventKind kind, const char *from, const char *to,
                  const char *proto, guint64 conn, const char *fmt, va_list ap)
{
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	MsEvent ev = { .kind = kind, .from = from, .to = to, .proto = proto, .text = text, .conn = conn };
	if (wire)
		ev.net = *wire;
	ms_bus_emit(ms_sched_bus(net->sched), &ev);
}

static void emit(MsNet *net, MsEventKind kind, const char *from, const char *to,
                 const char *proto, guint64 conn, const char *fmt, ...) G_GNUC_PRINTF(7, 8);

static void emit(MsNet *net, MsEventKind kind, const char *from, const char *to,
                 const char *proto, guint64 conn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vemit(net, NULL, kind, from, to, proto, conn, fmt, ap);
	va_end(ap);
}

/* An event about packets: wire is its net (sim/kernel/event.h). */
static void emit_net(MsNet *net, const MsNetInfo *wire, MsEventKind kind, const char *from, const char *to,
                     guint64 conn, const char *fmt, ...) G_GNUC_PRINTF(7, 8);

static void emit_net(MsNet *net, const MsNetInfo *wire, MsEventKind kind, const char *from, const char *to,
                     guint64 conn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vemit(net, wire, kind, from, to, "tcp", conn, fmt, ap);
	va_end(ap);
}

static char *cut_key(const char *a, const char *b)
{
	return strcmp(a, b) < 0 ? g_strconcat(a, "\n", b, NULL) : g_strconcat(b, "\n", a, NULL);
}

static gboolean is_cut(MsNet *net, MsHost *a, MsHost *b)
{
	if (g_hash_table_size(net->cuts) == 0)
		return FALSE;
	const char *pairs[3][2] = { { a->name, b->name }, { a->name, "*" }, { b->name, "*" } };
	for (int i = 0; i < 3; i++) {
		g_autofree char *k = cut_key(pairs[i][0], pairs[i][1]);
		if (g_hash_table_contains(net->cuts, k))
			return TRUE;
	}
	return FALSE;
}

static gboolean path_ok(MsNet *net, MsHost *a, MsHost *b)
{
	return a->up && b->up && !is_cut(net, a, b);
}

static const LinkRule *link_for(MsNet *net, const char *a, const char *b)
{
	const LinkRule *best = NULL;
	int best_score = -1;
	for (guint i = 0; i < net->links->len; i++) {
		const LinkRule *r = g_ptr_array_index(net->links, i);
		int score = -1;
		gboolean fwd_a = !strcmp(r->a, a) || !strcmp(r->a, "*");
		gboolean fwd_b = !strcmp(r->b, b) || !strcmp(r->b, "*");
		gboolean rev_a = !strcmp(r->a, b) || !strcmp(r->a, "*");
		gboolean rev_b = !strcmp(r->b, a) || !strcmp(r->b, "*");
		if ((fwd_a && fwd_b) || (rev_a && rev_b))
			score = (strcmp(r->a, "*") != 0) + (strcmp(r->b, "*") != 0);
		if (score > best_score) {   /* later rules of equal score win */
			best = r;
			best_score = score;
		} else if (score == best_score && score >= 0) {
			best = r;
		}
	}
	return best;
}

static gint64 latency(MsNet *net, MsHost *a, const char *b_name)
{
	if (strcmp(a->name, b_name) == 0)
		return MS_NET_LOOPBACK_LATENCY;   /* two agents on one machine */
	const LinkRule *r = link_for(net, a->name, b_name);
	return r ? r->latency : MS_NET_DEFAULT_LATENCY;
}

static guint64 bandwidth(MsNet *net, MsHost *a, MsHost *b)
{
	if (a == b)
		return 0;
	const LinkRule *r = link_for(net, a->name, b->name);
	return r ? r->bandwidth : 0;
}

static MsFwAction firewall_check(MsHost *h, MsFwProto proto, guint16 port, const char *from)
{
	for (guint i = 0; i < h->fw->len; i++) {
		const FwRule *r = g_ptr_array_index(h->fw, i);
		if (r->proto != MS_FW_ANY && r->proto != proto)
			continue;
		if (r->port && r->port != port)
			continue;
		if (r->cidr && !ms_net_cidr_match(r->cidr, from))
			continue;
		return r->action;
	}
	return MS_FW_ACCEPT;
}

/* ---- pipes: the two ends of a TCP connection --------------------------- */

typedef struct {
	GByteArray *inq;         /* arrived, not yet read */
	gboolean    fin;         /* the peer closed its writing */
	gboolean    reset;
	gboolean    gone;        /* this end's MsConn was freed */
	MsTask     *waiter;
	gint64      tx_free;     /* when our outgoing link is free again */
	gint64      last_arrival;
} PipeEnd;

typedef struct {
	gint     ref;
	MsNet   *net;
	guint64  id;
	MsHost  *host[2];        /* 0: the client, 1: the server */
	char    *name[2];        /* what events call each end (a host or an agent on it) */
	guint16  port[2];
	MsEndpoint ep[2];        /* address and port of each end, for events' net */
	PipeEnd  end[2];
} Pipe;

typedef struct {
	MsConn  base;
	Pipe   *pipe;
	int     side;
} SimConn;

static Pipe *pipe_new(MsNet *net, MsHost *client, const char *cname, guint16 cport,
                      MsHost *server, const char *sname, guint16 sport)
{
	Pipe *p = g_new0(Pipe, 1);
	p->ref = 1;
	p->net = net;
	p->id = ++net->next_conn_id;
	p->host[0] = client;
	p->host[1] = server;
	p->name[0] = g_strdup(cname);
	p->name[1] = g_strdup(sname);
	p->port[0] = cport;
	p->port[1] = sport;
	ms_endpoint_set(&p->ep[0], client->address, cport);
	ms_endpoint_set(&p->ep[1], server->address, sport);
	for (int i = 0; i < 2; i++)
		p->end[i].inq = g_byte_array_new();
	g_ptr_array_add(net->pipes, p);
	return p;
}

static Pipe *pipe_ref(Pipe *p)
{
	p->ref++;
	return p;
}

static void pipe_unref(Pipe *p)
{
	if (--p->ref > 0)
		return;
	g_ptr_array_remove_fast(p->net->pipes, p);
	for (int i = 0; i < 2; i++) {
		g_byte_array_free(p->end[i].inq, TRUE);
		g_free(p->name[i]);
	}
	g_free(p);
}

static void pipe_reset(Pipe *p, const char *why)
{
	if (p->end[0].reset && p->end[1].reset)
		return;
	for (int i = 0; i < 2; i++) {
		p->end[i].reset = TRUE;
		if (p->end[i].waiter)
			ms_task_unpark(p->end[i].waiter);
	}
	MsNetInfo wire = { .action = MS_NET_RESET, .transport = MS_TRANSPORT_TCP, .src = p->ep[0], .dst = p->ep[1] };
	emit_net(p->net, &wire, MS_EV_ERROR, p->name[0], p->name[1], p->id, "connection reset: %s", why);
}

typedef struct {
	Pipe   *pipe;
	int     to;
	GBytes *data;            /* NULL: FIN */
} Segment;

static void segment_free(gpointer data)
{
	Segment *seg = data;
	if (seg->data)
		g_bytes_unref(seg->data);
	pipe_unref(seg->pipe);
	g_free(seg);
}

static void segment_deliver(gpointer data)
{
	Segment *seg = data;
	Pipe *p = seg->pipe;
	PipeEnd *dst = &p->end[seg->to];
	MsHost *from = p->host[1 - seg->to], *to = p->host[seg->to];

	if (!dst->reset && !dst->gone) {
		if (!path_ok(p->net, from, to)) {
			pipe_reset(p, !to->up ? "host down" : !from->up ? "sender down" : "network partition");
		} else if (seg->data) {
			gsize len;
			const guint8 *bytes = g_bytes_get_data(seg->data, &len);
			g_byte_array_append(dst->inq, bytes, (guint)len);
			MsNetInfo wire = { .action = MS_NET_ARRIVED, .transport = MS_TRANSPORT_TCP,
			                   .src = p->ep[1 - seg->to], .dst = p->ep[seg->to], .bytes = len };
			emit_net(p->net, &wire, MS_EV_RECV, p->name[1 - seg->to], p->name[seg->to], p->id,
			         "%" G_GSIZE_FORMAT " bytes arrived", len);
		} else {
			dst->fin = TRUE;
		}
		if (dst->waiter)
			ms_task_unpark(dst->waiter);
	}
	segment_free(seg);
}

/* Schedule bytes (or a FIN) from side `from` to the other side. */
static void pipe_send(Pipe *p, int from, GBytes *data)
{
	MsSched *s = p->net->sched;
	PipeEnd *src = &p->end[from];
	gint64 now = ms_sched_now(s);
	guint64 bw = bandwidth(p->net, p->host[from], p->host[1 - from]);
	gsize len = data ? g_bytes_get_size(data) : 0;
	gint64 start = MAX(now, src->tx_free);
	gint64 tx = bw ? (gint64)(len * G_GUINT64_CONSTANT(1000000) / bw) : 0;
	src->tx_free = start + tx;
	gint64 arrival = start + tx + latency(p->net, p->host[from], p->host[1 - from]->name);
	arrival = MAX(arrival, src->last_arrival);   /* TCP never reorders */
	src->last_arrival = arrival;

	Segment *seg = g_new0(Segment, 1);
	seg->pipe = pipe_ref(p);
	seg->to = 1 - from;
	seg->data = data;
	ms_sched_at(s, arrival, TRUE, segment_deliver, seg, segment_free);
}

static gssize simconn_fill(MsConn *c, guint8 *buf, gsize max, gint64 deadline, GError **error)
{
	SimConn *sc = (SimConn *)c;
	PipeEnd *e = &sc->pipe->end[sc->side];
	for (;;) {
		if (e->inq->len > 0) {
			gsize n = MIN(max, e->inq->len);
			memcpy(buf, e->inq->data, n);
			g_byte_array_remove_range(e->inq, 0, (guint)n);
			return (gssize)n;
		}
		if (e->reset) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
			            "connection to %s reset", c->peer_name);
			return -1;
		}
		if (e->fin)
			return 0;
		e->waiter = ms_task_self();
		MsParkResult r = ms_task_park(deadline);
		e->waiter = NULL;
		if (r == MS_PARK_CANCELLED) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "simulation stopped");
			return -1;
		}
		if (r == MS_PARK_TIMEOUT && e->inq->len == 0 && !e->fin && !e->reset) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			            "%s said nothing for %" G_GINT64_FORMAT " s", c->peer_name,
			            c->timeout / MS_SECOND);
			return -1;
		}
	}
}

static gboolean simconn_write(MsConn *c, const guint8 *data, gsize len, GError **error)
{
	SimConn *sc = (SimConn *)c;
	Pipe *p = sc->pipe;
	if (p->end[sc->side].reset || !p->host[sc->side]->up) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
		            "connection to %s reset", c->peer_name);
		return FALSE;
	}
	pipe_send(p, sc->side, g_bytes_new(data, len));
	return TRUE;
}

static void simconn_shutdown(MsConn *c)
{
	SimConn *sc = (SimConn *)c;
	if (!sc->pipe->end[sc->side].reset)
		pipe_send(sc->pipe, sc->side, NULL);
}

static gsize simconn_available(MsConn *c)
{
	SimConn *sc = (SimConn *)c;
	return sc->pipe->end[sc->side].inq->len;
}

static void simconn_destroy(MsConn *c)
{
	SimConn *sc = (SimConn *)c;
	sc->pipe->end[sc->side].gone = TRUE;
	pipe_unref(sc->pipe);
	g_free(sc);
}

static const MsConnClass simconn_class = {
	.fill = simconn_fill,
	.write_raw = simconn_write,
	.shutdown_write = simconn_shutdown,
	.available = simconn_available,
	.destroy = simconn_destroy,
};

static MsConn *simconn_new(MsNet *net, Pipe *p, int side)
{
	SimConn *sc = g_new0(SimConn, 1);
	MsHost *me = p->host[side], *peer = p->host[1 - side];
	ms_conn_init(&sc->base, &simconn_class, net->sched, p->id, side == 0,
	             me->address, p->port[side], p->name[side],
	             peer->address, p->port[1 - side], p->name[1 - side]);
	sc->pipe = pipe_ref(p);
	sc->side = side;
	return &sc->base;
}

/* ---- listeners --------------------------------------------------------- */

struct SimListener {
	MsListener  base;
	MsHost     *host;
	GQueue      backlog;     /* of Pipe* (a reference each) */
	MsTask     *waiter;
	gboolean    closed;
};

static MsConn *simlistener_accept(MsListener *l, GError **error)
{
	SimListener *sl = (SimListener *)l;
	for (;;) {
		if (sl->closed) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "listener closed");
			return NULL;
		}
		Pipe *p = g_queue_pop_head(&sl->backlog);
		if (p) {
			MsConn *c = simconn_new(sl->host->net, p, 1);
			pipe_unref(p);
			return c;
		}
		sl->waiter = ms_task_self();
		MsParkResult r = ms_task_park(MS_FOREVER);
		sl->waiter = NULL;
		if (r == MS_PARK_CANCELLED) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "simulation stopped");
			return NULL;
		}
	}
}

static void simlistener_close(MsListener *l)
{
	SimListener *sl = (SimListener *)l;
	if (sl->closed)
		return;
	sl->closed = TRUE;
	g_hash_table_remove(sl->host->listeners, GUINT_TO_POINTER(l->port));
	Pipe *p;
	while ((p = g_queue_pop_head(&sl->backlog))) {
		pipe_reset(p, "listener closed");
		pipe_unref(p);
	}
	if (sl->waiter)
		ms_task_unpark(sl->waiter);
}

static void simlistener_destroy(MsListener *l)
{
	g_free(l);
}

static const MsListenerClass simlistener_class = {
	.accept = simlistener_accept,
	.close = simlistener_close,
	.destroy = simlistener_destroy,
};

static guint16 ephemeral_port(MsHost *h, GHashTable *taken)
{
	for (guint tries = 0; tries < 16384; tries++) {
		guint16 port = h->next_port++;
		if (h->next_port == 0)
			h->next_port = MS_NET_EPHEMERAL_FIRST;
		if (!taken || !g_hash_table_contains(taken, GUINT_TO_POINTER(port)))
			return port;
	}
	return 0;
}

static MsListener *sim_listen(MsStack *st, const char *addr, guint16 port, GError **error)
{
	MsHost *h = ((SimStack *)st)->host;
	if (addr && strcmp(addr, h->address) != 0 && strcmp(addr, "0.0.0.0") != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "%s has no address %s", h->name, addr);
		return NULL;
	}
	if (port == 0)
		port = ephemeral_port(h, h->listeners);
	if (g_hash_table_contains(h->listeners, GUINT_TO_POINTER(port))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
		            "%s: port %u is already in use", h->name, port);
		return NULL;
	}
	SimListener *sl = g_new0(SimListener, 1);
	sl->base.klass = &simlistener_class;
	sl->base.stack = st;
	sl->base.port = port;
	sl->host = h;
	g_queue_init(&sl->backlog);
	g_hash_table_insert(h->listeners, GUINT_TO_POINTER(port), sl);
	return &sl->base;
}

/* ---- connect: SYN there, SYN-ACK or RST back --------------------------- */

typedef enum { ATT_PENDING, ATT_OK, ATT_REFUSED, ATT_UNREACHABLE } AttemptResult;

typedef struct {
	gint          ref;
	MsNet        *net;
	MsHost       *src;
	char         *src_name;
	guint16       src_port;
	char         *dst_addr;
	guint16       dst_port;
	MsTask       *task;
	AttemptResult result;
	AttemptResult answer;    /* travelling back */
	Pipe         *pipe;
	gboolean      abandoned;
} Attempt;

static void attempt_unref(gpointer data)
{
	Attempt *a = data;
	if (--a->ref > 0)
		return;
	if (a->pipe)
		pipe_unref(a->pipe);
	g_free(a->dst_addr);
	g_free(a->src_name);
	g_free(a);
}

static void attempt_answer_arrives(gpointer data)
{
	Attempt *a = data;
	if (a->abandoned) {
		if (a->pipe)
			pipe_reset(a->pipe, "the client gave up before the handshake finished");
	} else {
		a->result = a->answer;
		ms_task_unpark(a->task);
	}
	attempt_unref(a);
}

static void attempt_reply(Attempt *a, MsHost *from, AttemptResult answer)
{
	a->answer = answer;
	a->ref++;
	gint64 lat = latency(a->net, from, a->src->name);
	ms_sched_at(a->net->sched, ms_sched_now(a->net->sched) + lat, TRUE,
	            attempt_answer_arrives, a, attempt_unref);
}

static void syn_arrives(gpointer data)
{
	Attempt *a = data;
	MsNet *net = a->net;
	MsHost *dst = ms_net_host_by_address(net, a->dst_addr);

	if (!dst) {
		attempt_reply(a, a->src, ATT_UNREACHABLE);
	} else if (path_ok(net, a->src, dst)) {
		SimListener *sl = g_hash_table_lookup(dst->listeners, GUINT_TO_POINTER(a->dst_port));
		MsFwAction fw = firewall_check(dst, MS_FW_TCP, a->dst_port, a->src->address);
		if (fw == MS_FW_DROP) {
			emit(net, MS_EV_REFUSE, a->src->name, dst->name, "tcp", 0,
			     "firewall of %s drops the connection to port %u", dst->name, a->dst_port);
		} else if (fw == MS_FW_REJECT) {
			emit(net, MS_EV_REFUSE, a->src->name, dst->name, "tcp", 0,
			     "firewall of %s rejects the connection to port %u", dst->name, a->dst_port);
			attempt_reply(a, dst, ATT_REFUSED);
		} else if (!sl || sl->closed || g_queue_get_length(&sl->backlog) >= MS_NET_LISTEN_BACKLOG) {
			attempt_reply(a, dst, ATT_REFUSED);
		} else {
			Pipe *p = pipe_new(net, a->src, a->src_name, a->src_port,
			                   dst, ms_stack_name(sl->base.stack), a->dst_port);
			a->pipe = p;   /* the attempt's reference */
			g_queue_push_tail(&sl->backlog, pipe_ref(p));
			if (sl->waiter)
				ms_task_unpark(sl->waiter);
			attempt_reply(a, dst, ATT_OK);
		}
	}
	/* A host that is down or cut off answers nothing: the client times out. */
	attempt_unref(a);
}

static MsConn *sim_connect(MsStack *st, const char *addr, guint16 port, gint64 timeout_us, GError **error)
{
	MsHost *src = ((SimStack *)st)->host;
	MsNet *net = src->net;
	MsSched *s = net->sched;

	if (!src->up) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE, "%s is down", src->name);
		return NULL;
	}
	Attempt *a = g_new0(Attempt, 1);
	a->ref = 2;   /* ours and the SYN's */
	a->net = net;
	a->src = src;
	a->src_name = g_strdup(ms_stack_name(st));
	a->src_port = ephemeral_port(src, NULL);
	a->dst_addr = g_strdup(addr);
	a->dst_port = port;
	a->task = ms_task_self();
	MsHost *dst = ms_net_host_by_address(net, addr);
	const char *dst_name = dst ? dst->name : addr;
	MsNetInfo wire = ms_conn_net_info(MS_NET_SYN, src->address, a->src_port, addr, port);
	emit_net(net, &wire, MS_EV_CONNECT, a->src_name, dst_name, 0, "SYN %s:%u -> %s:%u",
	         src->address, a->src_port, addr, port);
	ms_sched_at(s, ms_sched_now(s) + latency(net, src, dst_name), TRUE, syn_arrives, a, attempt_unref);

	gint64 deadline = ms_sched_now(s) + timeout_us;
	MsConn *c = NULL;
	GError *err = NULL;
	while (a->result == ATT_PENDING) {
		MsParkResult r = ms_task_park(deadline);
		if (r == MS_PARK_CANCELLED) {
			g_set_error(&err, G_IO_ERROR, G_IO_ERROR_CANCELLED, "simulation stopped");
			break;
		}
		if (r == MS_PARK_TIMEOUT && a->result == ATT_PENDING) {
			g_set_error(&err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			            "connection to %s:%u timed out after %" G_GINT64_FORMAT " s",
			            addr, port, timeout_us / MS_SECOND);
			break;
		}
	}
	switch (a->result) {
	case ATT_OK:
		c = simconn_new(net, a->pipe, 0);
		ms_conn_emit_net(c, MS_EV_CONNECT, MS_NET_ESTABLISHED, "connected %s:%u -> %s:%u",
		                 src->address, a->src_port, addr, port);
		break;
	case ATT_REFUSED:
		g_set_error(&err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
		            "%s:%u refused the connection", addr, port);
		break;
	case ATT_UNREACHABLE:
		g_set_error(&err, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE, "no host has the address %s", addr);
		break;
	case ATT_PENDING:
		a->abandoned = TRUE;
		break;
	}
	if (!c) {
		/* a refusal is a reset answering the SYN; anything else left it unanswered */
		if (wire.action != MS_NET_NONE)
			wire.action = a->result == ATT_REFUSED ? MS_NET_REFUSED : MS_NET_UNANSWERED;
		emit_net(net, &wire, MS_EV_ERROR, a->src_name, dst_name, 0, "connect to %s:%u failed: %s",
		         addr, port, err ? err->message : "stopped");
		g_propagate_error(error, err);
	}
	attempt_unref(a);
	return c;
}

/* ---- datagrams --------------------------------------------------------- */

typedef struct {
	GBytes  *data;
	char    *from_addr;
	guint16  from_port;
} Datagram;

static void datagram_free(gpointer data)
{
	Datagram *d = data;
	g_bytes_unref(d->data);
	g_free(d->from_addr);
	g_free(d);
}

struct SimDgram {
	MsDgram   base;
	MsHost   *host;
	GQueue    queue;   /* of Datagram* */
	MsTask   *waiter;
	gboolean  closed;
};

typedef struct {
	MsNet   *net;
	MsHost  *src;
	guint16  src_port;
	char    *dst_addr;
	guint16  dst_port;
	GBytes  *data;
	char    *proto;
} Flight;

static void flight_free(gpointer data)
{
	Flight *f = data;
	g_bytes_unref(f->data);
	g_free(f->dst_addr);
	g_free(f->proto);
	g_free(f);
}

static void datagram_arrives(gpointer data)
{
	Flight *f = data;
	MsHost *dst = ms_net_host_by_address(f->net, f->dst_addr);
	const char *why = NULL;
	SimDgram *sd = NULL;
	if (!dst)
		why = "no host has that address";
	else if (!path_ok(f->net, f->src, dst))
		why = dst->up ? "the network is cut" : "the host is down";
	else if (firewall_check(dst, MS_FW_UDP, f->dst_port, f->src->address) != MS_FW_ACCEPT)
		why = "the firewall drops it";
	else if (!(sd = g_hash_table_lookup(dst->udp, GUINT_TO_POINTER(f->dst_port))) || sd->closed)
		why = "nothing listens on that port";
	else if (g_queue_get_length(&sd->queue) >= MS_NET_UDP_QUEUE_MAX)
		why = "the receiver's queue is full";

	if (why) {
		emit(f->net, MS_EV_ERROR, f->src->name, dst ? dst->name : f->dst_addr,
		     f->proto ? f->proto : "udp", 0, "datagram to %s:%u lost: %s",
		     f->dst_addr, f->dst_port, why);
	} else {
		Datagram *d = g_new0(Datagram, 1);
		d->data = g_bytes_ref(f->data);
		d->from_addr = g_strdup(f->src->address);
		d->from_port = f->src_port;
		g_queue_push_tail(&sd->queue, d);
		if (sd->waiter)
			ms_task_unpark(sd->waiter);
	}
	flight_free(f);
}

static gssize simdgram_recv(MsDgram *d, void *buf, gsize max, char **from_addr, guint16 *from_port,
                            gint64 deadline, GError **error)
{
	SimDgram *sd = (SimDgram *)d;
	for (;;) {
		Datagram *dg = g_queue_pop_head(&sd->queue);
		if (dg) {
			gsize len;
			const guint8 *bytes = g_bytes_get_data(dg->data, &len);
			gsize n = MIN(len, max);
			memcpy(buf, bytes, n);
			if (from_addr)
				*from_addr = g_strdup(dg->from_addr);
			if (from_port)
				*from_port = dg->from_port;
			datagram_free(dg);
			return (gssize)n;
		}
		if (sd->closed) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "socket closed");
			return -1;
		}
		sd->waiter = ms_task_self();
		MsParkResult r = ms_task_park(deadline);
		sd->waiter = NULL;
		if (r == MS_PARK_CANCELLED) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "simulation stopped");
			return -1;
		}
		if (r == MS_PARK_TIMEOUT && g_queue_is_empty(&sd->queue)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no answer in time");
			return -1;
		}
	}
}

static gboolean simdgram_send(MsDgram *d, const char *to_addr, guint16 to_port, const void *data,
                              gsize len, GError **error)
{
	SimDgram *sd = (SimDgram *)d;
	MsNet *net = sd->host->net;
	if (!sd->host->up) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE, "%s is down", sd->host->name);
		return FALSE;
	}
	MsHost *dst = ms_net_host_by_address(net, to_addr);
	ms_dgram_emit_send(d, dst ? dst->name : to_addr, to_addr, to_port, data, len);
	Flight *f = g_new0(Flight, 1);
	f->net = net;
	f->src = sd->host;
	f->src_port = d->port;
	f->dst_addr = g_strdup(to_addr);
	f->dst_port = to_port;
	f->data = g_bytes_new(data, len);
	f->proto = g_strdup(d->proto);
	gint64 lat = latency(net, sd->host, dst ? dst->name : to_addr);
	ms_sched_at(net->sched, ms_sched_now(net->sched) + lat, TRUE, datagram_arrives, f, flight_free);
	return TRUE;
}

static void simdgram_close(MsDgram *d)
{
	SimDgram *sd = (SimDgram *)d;
	if (sd->closed)
		return;
	sd->closed = TRUE;
	g_hash_table_remove(sd->host->udp, GUINT_TO_POINTER(d->port));
	if (sd->waiter)
		ms_task_unpark(sd->waiter);
}

static void simdgram_destroy(MsDgram *d)
{
	SimDgram *sd = (SimDgram *)d;
	g_queue_clear_full(&sd->queue, datagram_free);
	g_free(sd);
}

static const MsDgramClass simdgram_class = {
	.recv = simdgram_recv,
	.send = simdgram_send,
	.close = simdgram_close,
	.destroy = simdgram_destroy,
};

static MsDgram *sim_udp_bind(MsStack *st, const char *addr, guint16 port, GError **error)
{
	MsHost *h = ((SimStack *)st)->host;
	if (port == 0)
		port = ephemeral_port(h, h->udp);
	if (g_hash_table_contains(h->udp, GUINT_TO_POINTER(port))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
		            "%s: UDP port %u is already in use", h->name, port);
		return NULL;
	}
	SimDgram *sd = g_new0(SimDgram, 1);
	sd->base.klass = &simdgram_class;
	sd->base.stack = st;
	sd->base.port = port;
	sd->host = h;
	g_queue_init(&sd->queue);
	g_hash_table_insert(h->udp, GUINT_TO_POINTER(port), sd);
	return &sd->base;
}

/* ---- stacks, hosts, the net -------------------------------------------- */

static void sim_stack_destroy(MsStack *st)
{
	g_free(st);
}

static const struct MsStackClass sim_stack_class;

MsStack *ms_host_stack_alias(MsHost *h, const char *name)
{
	SimStack *alias = g_new0(SimStack, 1);
	alias->host = h;
	ms_stack_init(&alias->base, &sim_stack_class, h->net->sched, name, h->address);
	return &alias->base;
}

static const struct MsStackClass sim_stack_class = {
	.listen = sim_listen,
	.connect = sim_connect,
	.udp_bind = sim_udp_bind,
	.destroy = sim_stack_destroy,
};

MsNet *ms_net_new(MsSched *s)
{
	g_return_val_if_fail(ms_sched_mode(s) == MS_SCHED_VIRTUAL, NULL);
	MsNet *net = g_new0(MsNet, 1);
	net->sched = s;
	net->hosts = g_ptr_array_new();
	net->by_name = g_hash_table_new(g_str_hash, g_str_equal);
	net->by_addr = g_hash_table_new(g_str_hash, g_str_equal);
	net->links = g_ptr_array_new();
	net->cuts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	net->pipes = g_ptr_array_new();
	return net;
}

static void fw_rule_free(gpointer data)
{
	FwRule *r = data;
	g_free(r->cidr);
	g_free(r);
}

static void host_free(MsHost *h)
{
	ms_stack_unref(&h->stack->base);
	g_ptr_array_free(h->fw, TRUE);
	g_hash_table_destroy(h->listeners);
	g_hash_table_destroy(h->udp);
	g_free(h->name);
	g_free(h->address);
	g_free(h);
}

void ms_net_free(MsNet *net)
{
	if (!net)
		return;
	for (guint i = 0; i < net->hosts->len; i++)
		host_free(g_ptr_array_index(net->hosts, i));
	for (guint i = 0; i < net->links->len; i++) {
		LinkRule *r = g_ptr_array_index(net->links, i);
		g_free(r->a);
		g_free(r->b);
		g_free(r);
	}
	g_ptr_array_free(net->links, TRUE);
	g_ptr_array_free(net->hosts, TRUE);
	g_ptr_array_free(net->pipes, TRUE);
	g_hash_table_destroy(net->by_name);
	g_hash_table_destroy(net->by_addr);
	g_hash_table_destroy(net->cuts);
	g_free(net);
}

MsSched *ms_net_sched(MsNet *net) { return net->sched; }
GPtrArray *ms_net_hosts(MsNet *net) { return net->hosts; }

MsHost *ms_net_add_host(MsNet *net, const char *name, const char *address, GError **error)
{
	guint32 ip;
	if (!parse_ipv4(address, &ip)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "\"%s\" is not an IPv4 address", address);
		return NULL;
	}
	if (g_hash_table_contains(net->by_name, name)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "there is already a host named %s", name);
		return NULL;
	}
	if (g_hash_table_contains(net->by_addr, address)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "the address %s is already taken", address);
		return NULL;
	}
	MsHost *h = g_new0(MsHost, 1);
	h->net = net;
	h->name = g_strdup(name);
	h->address = g_strdup(address);
	h->up = TRUE;
	h->fw = g_ptr_array_new_with_free_func(fw_rule_free);
	h->listeners = g_hash_table_new(g_direct_hash, g_direct_equal);
	h->udp = g_hash_table_new(g_direct_hash, g_direct_equal);
	h->next_port = MS_NET_EPHEMERAL_FIRST;
	h->stack = g_new0(SimStack, 1);
	h->stack->host = h;
	ms_stack_init(&h->stack->base, &sim_stack_class, net->sched, name, address);
	g_ptr_array_add(net->hosts, h);
	g_hash_table_insert(net->by_name, h->name, h);
	g_hash_table_insert(net->by_addr, h->address, h);
	return h;
}

MsHost *ms_net_host_by_name(MsNet *net, const char *name)
{
	return g_hash_table_lookup(net->by_name, name);
}

MsHost *ms_net_host_by_address(MsNet *net, const char *address)
{
	return g_hash_table_lookup(net->by_addr, address);
}

const char *ms_host_name(MsHost *h) { return h->name; }
const char *ms_host_address(MsHost *h) { return h->address; }
MsStack *ms_host_stack(MsHost *h) { return &h->stack->base; }
gboolean ms_host_is_up(MsHost *h) { return h->up; }

void ms_host_set_up(MsHost *h, gboolean up)
{
	if (h->up == up)
		return;
	h->up = up;
	emit(h->net, MS_EV_HOST, h->name, NULL, NULL, 0, "%s is %s", h->name, up ? "up" : "down");
	if (up)
		return;
	/* Copy first: a reset may drop the last reference of a pipe. */
	g_autoptr(GPtrArray) hit = g_ptr_array_new();
	for (guint i = 0; i < h->net->pipes->len; i++) {
		Pipe *p = g_ptr_array_index(h->net->pipes, i);
		if (p->host[0] == h || p->host[1] == h)
			g_ptr_array_add(hit, pipe_ref(p));
	}
	for (guint i = 0; i < hit->len; i++) {
		Pipe *p = g_ptr_array_index(hit, i);
		pipe_reset(p, "host down");
		pipe_unref(p);
	}
}

gboolean ms_host_firewall_add(MsHost *h, MsFwAction action, MsFwProto proto,
                              guint16 port, const char *from_cidr, GError **error)
{
	if (from_cidr && !ms_net_cidr_valid(from_cidr)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "\"%s\" is not an IPv4 address or CIDR range", from_cidr);
		return FALSE;
	}
	FwRule *r = g_new0(FwRule, 1);
	r->action = action;
	r->proto = proto;
	r->port = port;
	r->cidr = g_strdup(from_cidr);
	g_ptr_array_add(h->fw, r);
	return TRUE;
}

void ms_net_set_link(MsNet *net, const char *a, const char *b, gint64 latency_us, guint64 bandwidth_bps)
{
	LinkRule *r = g_new0(LinkRule, 1);
	r->a = g_strdup(a);
	r->b = g_strdup(b);
	r->latency = latency_us;
	r->bandwidth = bandwidth_bps;
	g_ptr_array_add(net->links, r);
}

void ms_net_set_partition(MsNet *net, const char *a, const char *b, gboolean cut)
{
	char *k = cut_key(a, b);
	if (cut) {
		g_hash_table_add(net->cuts, k);
	} else {
		g_hash_table_remove(net->cuts, k);
		g_free(k);
	}
	emit(net, MS_EV_HOST, a, b, NULL, 0, "network between %s and %s %s", a, b,
	     cut ? "cut" : "restored");
}
