/* sim/cmd_dns.c - `mailsim dns`: the DNS server agent on real sockets.
 *
 *   mailsim dns --zone example.org.zone --port 5353
 *   dig @127.0.0.1 -p 5353 example.org MX
 *
 * Serves master files (RFC 1035 5) and DNS blacklists over UDP and TCP
 * until SIGINT or SIGTERM, printing each query and answer as an event.
 */
#include "agents/dns/dns_server.h"
#include "net/realnet.h"
#include "sim/signals.h"
#include "ui/text.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The zone's origin: the file's first $ORIGIN, else its name without a
 * ".zone" or ".db" ending ("example.org.zone" -> "example.org"). */
static char *zone_origin(const char *path, const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i]; i++) {
		g_autofree char *t = g_strstrip(g_strdup(lines[i]));
		if (g_ascii_strncasecmp(t, "$ORIGIN", 7) == 0 && g_ascii_isspace(t[7])) {
			g_autofree char *rest = g_strstrip(g_strdup(t + 8));
			char *end = strpbrk(rest, " \t;");
			if (end)
				*end = '\0';
			return g_strdup(rest);
		}
	}
	g_autofree char *base = g_path_get_basename(path);
	for (const char *suffix = ".zone"; suffix; suffix = strcmp(suffix, ".zone") ? NULL : ".db") {
		if (g_str_has_suffix(base, suffix)) {
			base[strlen(base) - strlen(suffix)] = '\0';
			break;
		}
	}
	return g_strdup(base);
}

/* "rbl.example.net=203.0.113.0/24" or "…=203.0.113.66:listed for spam" */
static gboolean add_dnsbl_arg(DnsServer *srv, const char *arg, GError **error)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1]) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		            "--dnsbl wants ZONE=ADDRESS[/BITS][:REASON], got \"%s\"", arg);
		return FALSE;
	}
	g_autofree char *zone = g_strndup(arg, eq - arg);
	g_autofree char *entry = g_strdup(eq + 1);
	char *colon = strchr(entry, ':');
	const char *reason = "listed by mailsim";
	if (colon) {
		*colon = '\0';
		reason = colon + 1;
	}
	Dnsbl *list = dns_server_dnsbl(srv, zone);
	if (!list) {
		list = dnsbl_new(zone, error);
		if (!list)
			return FALSE;
		dns_server_add_dnsbl(srv, list);
	}
	return dnsbl_add(list, entry, NULL, reason, error);
}

int ms_cmd_dns(int argc, char **argv)
{
	g_auto(GStrv) zones = NULL;
	g_auto(GStrv) dnsbls = NULL;
	char *listen = NULL;
	gint port = 5353;
	GOptionEntry entries[] = {
		{ "zone", 'z', 0, G_OPTION_ARG_FILENAME_ARRAY, &zones, "Serve this master file (repeatable)", "FILE" },
		{ "dnsbl", 'b', 0, G_OPTION_ARG_STRING_ARRAY, &dnsbls,
		  "Serve a blacklist entry (repeatable)", "ZONE=ADDR[/BITS][:REASON]" },
		{ "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Address to listen on (127.0.0.1)", "ADDR" },
		{ "port", 'p', 0, G_OPTION_ARG_INT, &port, "UDP and TCP port (5353)", "N" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- serve DNS zones and blacklists on real sockets");
	g_option_context_set_description(ctx,
		"Example:\n  mailsim dns --zone example.org.zone --dnsbl rbl.example.net=203.0.113.0/24 --port 5353\n"
		"  dig @127.0.0.1 -p 5353 example.org MX");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim dns: %s\n", error->message);
		return 2;
	}
	if ((!zones || !zones[0]) && (!dnsbls || !dnsbls[0])) {
		fprintf(stderr, "mailsim dns: give at least one --zone FILE or --dnsbl\n");
		return 2;
	}
	if (port < 0 || port > 65535) {
		fprintf(stderr, "mailsim dns: --port must be 0..65535\n");
		return 2;
	}
	const char *addr = listen ? listen : "127.0.0.1";

	MsSched *s = ms_sched_new(MS_SCHED_REAL, 1);
	UiTextOptions topts = { .color = isatty(STDOUT_FILENO) };
	ms_bus_add_sink(ms_sched_bus(s), ui_text_sink_new(stdout, &topts));
	MsStack *st = ms_realnet_stack_new(s, "dns", addr);
	DnsServer *srv = dns_server_new(st, "dns");
	dns_server_set_log_queries(srv, TRUE);
	int status = 0;

	for (guint i = 0; zones && zones[i] && status == 0; i++) {
		g_autofree char *text = NULL;
		if (!g_file_get_contents(zones[i], &text, NULL, &error)) {
			fprintf(stderr, "mailsim dns: %s\n", error->message);
			status = 2;
			break;
		}
		g_autofree char *origin = zone_origin(zones[i], text);
		if (!dns_server_add_zone_text(srv, origin, text, zones[i], 1, &error)) {
			fprintf(stderr, "%s\n", error->message);
			status = 2;
		}
	}
	for (guint i = 0; dnsbls && dnsbls[i] && status == 0; i++) {
		if (!add_dnsbl_arg(srv, dnsbls[i], &error)) {
			fprintf(stderr, "mailsim dns: %s\n", error->message);
			status = 2;
		}
	}
	GThread *sig = NULL;
	if (status == 0) {
		sig = ms_signals_watch(s);
		if (!dns_server_start(srv, addr, (guint16)port, &error)) {
			fprintf(stderr, "mailsim dns: cannot listen on %s port %d: %s\n", addr, port, error->message);
			status = 1;
		} else {
			printf("mailsim dns: serving %u zone(s) on %s port %u (UDP and TCP); Ctrl-C stops\n",
			       dns_zone_set_count(dns_server_zones(srv)), addr, dns_server_udp_port(srv));
			fflush(stdout);
			ms_sched_run(s, MS_FOREVER);
		}
	}
	dns_server_stop(srv);
	ms_sched_shutdown(s);
	ms_signals_finish(sig);
	dns_server_free(srv);
	ms_stack_unref(st);
	ms_sched_free(s);
	g_free(listen);
	return status;
}
