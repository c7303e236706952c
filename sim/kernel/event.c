/* sim/kernel/event.c - event kinds by name, and owned copies of events. */
#include "sim/kernel/event.h"

#include <string.h>

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

MsEvent *ms_event_copy(const MsEvent *ev)
{
	MsEvent *c = g_new0(MsEvent, 1);
	*c = *ev;
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
