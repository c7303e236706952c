/* sim/kernel/event.c - event kinds by name, endpoints and their text form,
 * the net contract's check, and owned copies of events. */
#include "sim/kernel/event.h"

#include <arpa/inet.h>
#include <string.h>

/* The longest address text inet_pton takes, with its NUL (INET6_ADDRSTRLEN). */
#define ADDR_TEXT_MAX 46
/* Digits of the largest port, 65535. */
#define PORT_DIGITS_MAX 5

static const char *const kind_names[MS_EV_KIND_COUNT] = {
	[MS_EV_NOTE] = "NOTE",           [MS_EV_STEP] = "STEP",
	[MS_EV_CONNECT] = "CONNECT",     [MS_EV_ACCEPT] = "ACCEPT",
	[MS_EV_REFUSE] = "REFUSE",       [MS_EV_CLOSE] = "CLOSE",
	[MS_EV_SEND] = "SEND",           [MS_EV_RECV] = "RECV",
	[MS_EV_DNS_QUERY] = "DNS_QUERY", [MS_EV_DNS_ANSWER] = "DNS_ANSWER",
	[MS_EV_DB_QUERY] = "DB_QUERY",   [MS_EV_AUTH] = "AUTH",
	[MS_EV_STORE] = "STORE",         [MS_EV_ERROR] = "ERROR",
	[MS_EV_HOST] = "HOST",
};

const char *ms_event_kind_to_string(MsEventKind kind)
{
	return (guint)kind < MS_EV_KIND_COUNT ? kind_names[kind] : "?";
}

int ms_event_kind_from_string(const char *name)
{
	for (int i = 0; i < MS_EV_KIND_COUNT; i++)
		if (g_strcmp0(kind_names[i], name) == 0)
			return i;
	return -1;
}

/* ---- endpoints ------------------------------------------------------------ */

static const char *const family_names[MS_ADDR_FAMILY_COUNT] = { "none", "ipv4", "ipv6" };

const char *ms_addr_family_to_string(MsAddrFamily family)
{
	return (guint)family < MS_ADDR_FAMILY_COUNT ? family_names[family] : "?";
}

static gsize addr_len(MsAddrFamily family)
{
	return family == MS_ADDR_IPV4 ? 4 : family == MS_ADDR_IPV6 ? 16 : 0;
}

gboolean ms_endpoint_set(MsEndpoint *ep, const char *addr, guint16 port)
{
	memset(ep, 0, sizeof *ep);
	if (!addr)
		return FALSE;
	if (inet_pton(AF_INET, addr, ep->addr) == 1)
		ep->family = MS_ADDR_IPV4;
	else if (inet_pton(AF_INET6, addr, ep->addr) == 1)
		ep->family = MS_ADDR_IPV6;
	else {
		memset(ep, 0, sizeof *ep);
		return FALSE;
	}
	ep->port = port;
	return TRUE;
}

const char *ms_endpoint_format(const MsEndpoint *ep, char *buf)
{
	char a[ADDR_TEXT_MAX];
	buf[0] = '\0';
	if (ep->family == MS_ADDR_IPV4 && inet_ntop(AF_INET, ep->addr, a, sizeof a))
		g_snprintf(buf, MS_ENDPOINT_TEXT_MAX, "%s:%u", a, ep->port);
	else if (ep->family == MS_ADDR_IPV6 && inet_ntop(AF_INET6, ep->addr, a, sizeof a))
		g_snprintf(buf, MS_ENDPOINT_TEXT_MAX, "[%s]:%u", a, ep->port);
	return buf;
}

gboolean ms_endpoint_parse(MsEndpoint *ep, const char *text)
{
	memset(ep, 0, sizeof *ep);
	if (!text)
		return FALSE;
	const char *a = text, *a_end, *port;
	gboolean bracketed = text[0] == '[';
	if (bracketed) {
		a = text + 1;
		a_end = strchr(a, ']');
		if (!a_end || a_end[1] != ':')
			return FALSE;
		port = a_end + 2;
	} else {
		a_end = strrchr(text, ':');
		if (!a_end)
			return FALSE;
		port = a_end + 1;
	}
	gsize n = (gsize)(a_end - a), digits = strlen(port);
	if (n == 0 || n >= ADDR_TEXT_MAX || digits == 0 || digits > PORT_DIGITS_MAX)
		return FALSE;
	guint v = 0;
	for (const char *p = port; *p; p++) {
		if (!g_ascii_isdigit(*p))
			return FALSE;
		v = v * 10 + (guint)(*p - '0');
	}
	if (v > G_MAXUINT16)
		return FALSE;
	char buf[ADDR_TEXT_MAX];
	memcpy(buf, a, n);
	buf[n] = '\0';
	/* the brackets are how the text tells an IPv6 address: one without
	 * them, or an IPv4 one inside them, is not a form we write */
	if (!ms_endpoint_set(ep, buf, (guint16)v) || (ep->family == MS_ADDR_IPV6) != bracketed) {
		memset(ep, 0, sizeof *ep);
		return FALSE;
	}
	return TRUE;
}

gboolean ms_endpoint_equal(const MsEndpoint *a, const MsEndpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, addr_len(a->family)) == 0;
}

guint ms_endpoint_hash(gconstpointer data)
{
	const MsEndpoint *ep = data;
	/* FNV-1a over the fields (not the struct: its padding is not ours) */
	guint32 h = 2166136261u;
	guint8 head[3] = { (guint8)ep->family, (guint8)(ep->port >> 8), (guint8)ep->port };
	for (gsize i = 0; i < sizeof head; i++)
		h = (h ^ head[i]) * 16777619u;
	for (gsize i = 0; i < addr_len(ep->family); i++)
		h = (h ^ ep->addr[i]) * 16777619u;
	return h;
}

/* ---- the net contract ----------------------------------------------------- */

static const char *const transport_names[MS_TRANSPORT_COUNT] = { "none", "tcp", "udp" };

const char *ms_transport_to_string(MsTransport t)
{
	return (guint)t < MS_TRANSPORT_COUNT ? transport_names[t] : "?";
}

int ms_transport_from_string(const char *name)
{
	for (int i = 0; i < MS_TRANSPORT_COUNT; i++)
		if (g_strcmp0(transport_names[i], name) == 0)
			return i;
	return -1;
}

static const char *const action_names[MS_NET_ACTION_COUNT] = {
	[MS_NET_NONE] = "none",             [MS_NET_SYN] = "syn",
	[MS_NET_ACCEPT] = "accept",         [MS_NET_ESTABLISHED] = "established",
	[MS_NET_REFUSED] = "refused",       [MS_NET_UNANSWERED] = "unanswered",
	[MS_NET_DATA] = "data",             [MS_NET_ARRIVED] = "arrived",
	[MS_NET_FIN] = "fin",               [MS_NET_RESET] = "reset",
	[MS_NET_DATAGRAM] = "datagram",
};

const char *ms_net_action_to_string(MsNetAction a)
{
	return (guint)a < MS_NET_ACTION_COUNT ? action_names[a] : "?";
}

int ms_net_action_from_string(const char *name)
{
	for (int i = 0; i < MS_NET_ACTION_COUNT; i++)
		if (g_strcmp0(action_names[i], name) == 0)
			return i;
	return -1;
}

MsTransport ms_net_action_transport(MsNetAction a)
{
	switch (a) {
	case MS_NET_NONE:
	case MS_NET_ACTION_COUNT:
		return MS_TRANSPORT_NONE;
	case MS_NET_DATAGRAM:
		return MS_TRANSPORT_UDP;
	default:
		return MS_TRANSPORT_TCP;
	}
}

gboolean ms_net_info_valid(const MsNetInfo *net)
{
	if ((guint)net->action >= MS_NET_ACTION_COUNT || (guint)net->src.family >= MS_ADDR_FAMILY_COUNT ||
	    (guint)net->dst.family >= MS_ADDR_FAMILY_COUNT || net->transport != ms_net_action_transport(net->action))
		return FALSE;
	if (net->action == MS_NET_NONE)
		return net->src.family == MS_ADDR_NONE && net->dst.family == MS_ADDR_NONE && net->bytes == 0;
	/* the real network learns a client's own address only once connected */
	gboolean src_optional = net->action == MS_NET_SYN || net->action == MS_NET_REFUSED ||
	                        net->action == MS_NET_UNANSWERED;
	if (net->dst.family == MS_ADDR_NONE || (net->src.family == MS_ADDR_NONE && !src_optional))
		return FALSE;
	return (net->action == MS_NET_ARRIVED) == (net->bytes > 0);
}

/* ---- copies ---------------------------------------------------------------- */

MsEvent *ms_event_copy(const MsEvent *ev)
{
	MsEvent *c = g_new0(MsEvent, 1);
	*c = *ev;   /* net is held in place: copied with the rest */
	c->from = g_strdup(ev->from);
	c->to = g_strdup(ev->to);
	c->proto = g_strdup(ev->proto);
	c->step = g_strdup(ev->step);
	c->text = g_strdup(ev->text);
	c->payload = ev->payload ? g_bytes_ref(ev->payload) : NULL;
	return c;
}

void ms_event_free(MsEvent *ev)
{
	if (!ev)
		return;
	g_free((char *)ev->from);
	g_free((char *)ev->to);
	g_free((char *)ev->proto);
	g_free((char *)ev->step);
	g_free((char *)ev->text);
	if (ev->payload)
		g_bytes_unref(ev->payload);
	g_free(ev);
}
