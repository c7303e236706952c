/* sim/cmd_netdemo.c - `mailsim netdemo`: the simulated network on its own.
 *
 * Two hosts; an echo service (RFC 862) on TCP and UDP port 7; a client that
 * talks to it, then knocks on a port where nothing listens.  Every segment,
 * handshake and refusal is an event, printed as text.
 */
#include "net/simnet.h"
#include "ui/text.h"

#include <stdio.h>
#include <unistd.h>

typedef struct {
	MsListener *tcp;
	MsStack    *client;
} Demo;

static void echo_tcp(gpointer data)
{
	Demo *d = data;
	MsConn *c = ms_listener_accept(d->tcp, NULL);
	if (!c)
		return;
	char line[256];
	MsEol eol;
	gssize n;
	while ((n = ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL)) > 0) {
		if (!ms_conn_printf(c, NULL, "%s\r\n", line))
			break;
	}
	ms_conn_unref(c);
}

static void echo_udp(gpointer data)
{
	MsDgram *u = data;
	char buf[512];
	char *from = NULL;
	guint16 port;
	gssize n = ms_dgram_recv(u, buf, sizeof buf, &from, &port, MS_FOREVER, NULL);
	if (n > 0)
		ms_dgram_send(u, from, port, buf, (gsize)n, NULL);
	g_free(from);
}

static void client(gpointer data)
{
	Demo *d = data;
	MsSched *s = ms_stack_sched(d->client);
	MsConn *c = ms_stack_connect(d->client, "198.51.100.7", 7, 5 * MS_SECOND, NULL);
	if (c) {
		ms_conn_set_proto(c, "echo");
		ms_conn_printf(c, NULL, "hello, network\r\nsecond line\r\n");
		char line[256];
		MsEol eol;
		ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
		ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
		ms_conn_unref(c);
	}
	MsDgram *u = ms_stack_udp_bind(d->client, NULL, 0, NULL);
	if (u) {
		ms_dgram_set_proto(u, "echo");
		ms_dgram_send(u, "198.51.100.7", 7, "ping", 4, NULL);
		char buf[16];
		ms_dgram_recv(u, buf, sizeof buf, NULL, NULL, ms_sched_now(s) + MS_SECOND, NULL);
		ms_dgram_free(u);
	}
	ms_bus_emitf(ms_sched_bus(s), MS_EV_NOTE, "home-pc", NULL, NULL, NULL,
	             "now a port where nothing listens: the server answers with a reset");
	MsConn *none = ms_stack_connect(d->client, "198.51.100.7", 25, 5 * MS_SECOND, NULL);
	if (none)
		ms_conn_unref(none);
}

int ms_cmd_netdemo(int argc, char **argv)
{
	gint64 seed = 1, latency_ms = 20;
	char *events = NULL;
	gboolean verbose = FALSE;
	GOptionEntry entries[] = {
		{ "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed for repeatable randomness", "N" },
		{ "latency", 'l', 0, G_OPTION_ARG_INT64, &latency_ms, "One-way link latency", "MS" },
		{ "events", 'e', 0, G_OPTION_ARG_FILENAME, &events, "Also write the events as JSON Lines", "FILE" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Show arrivals too", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- the simulated network on its own");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim netdemo: %s\n", error->message);
		return 2;
	}

	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, (guint64)seed);
	UiTextOptions topts = { .color = isatty(STDOUT_FILENO), .verbose = verbose };
	ms_bus_add_sink(ms_sched_bus(s), ui_text_sink_new(stdout, &topts));
	if (events) {
		FILE *f = fopen(events, "w");
		if (!f) {
			fprintf(stderr, "mailsim netdemo: cannot write %s\n", events);
			ms_sched_free(s);
			return 2;
		}
		ms_bus_add_sink(ms_sched_bus(s), ms_sink_jsonl_new(f, TRUE));
	}
	MsNet *net = ms_net_new(s);
	ms_net_set_link(net, "*", "*", latency_ms * MS_MSEC, 0);
	MsHost *pc = ms_net_add_host(net, "home-pc", "192.0.2.77", NULL);
	MsHost *srv = ms_net_add_host(net, "echo.example.org", "198.51.100.7", NULL);
	Demo d = { .client = ms_host_stack(pc) };
	d.tcp = ms_stack_listen(ms_host_stack(srv), NULL, 7, NULL);
	ms_listener_set_proto(d.tcp, "echo");
	MsDgram *udp = ms_stack_udp_bind(ms_host_stack(srv), NULL, 7, NULL);
	ms_dgram_set_proto(udp, "echo");

	ms_task_spawn(s, "echo-tcp", echo_tcp, &d);
	ms_task_spawn(s, "echo-udp", echo_udp, udp);
	ms_task_spawn(s, "client", client, &d);
	ms_sched_run(s, MS_FOREVER);

	ms_listener_free(d.tcp);
	ms_sched_shutdown(s);
	ms_dgram_free(udp);
	ms_net_free(net);
	ms_sched_free(s);
	g_free(events);
	return 0;
}
