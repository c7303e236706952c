/* sim/cmd_web.c - `mailsim web`: the settings web server on real sockets.
 *
 *   mailsim web --domain example.com --imap mail.example.com:143 \
 *               --smtp mail.example.com:587 --port 8080
 *   curl 'http://127.0.0.1:8080/mail/config-v1.1.xml?emailaddress=alice@example.com'
 *
 * Serves Thunderbird's autoconfig and Outlook's autodiscover documents for
 * the domains given, until SIGINT or SIGTERM, printing every event.
 */
#include "agents/web/web.h"
#include "net/realnet.h"
#include "sim/signals.h"
#include "ui/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WEB_CMD_DEFAULT_PORT 8080   /* 80 needs root */

/* "mail.example.com:143", or a bare host name that takes the usual port. */
static gboolean parse_server(const char *arg, guint16 usual, char **host_r, guint16 *port_r)
{
	const char *colon = strrchr(arg, ':');
	*port_r = usual;
	if (colon) {
		char *end = NULL;
		long port = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || port <= 0 || port > 65535)
			return FALSE;
		*port_r = (guint16)port;
	}
	*host_r = g_strndup(arg, colon ? (gsize)(colon - arg) : strlen(arg));
	return **host_r != '\0' && !strpbrk(*host_r, " \t\r\n<>&\"'");
}

static gboolean add_server(MailConfig *cfg, MailConfigProtocol protocol, const char *arg, guint16 usual,
                           const char *option)
{
	g_autofree char *host = NULL;
	guint16 port;
	if (!parse_server(arg, usual, &host, &port)) {
		fprintf(stderr, "mailsim web: %s wants HOST[:PORT], got \"%s\"\n", option, arg);
		return FALSE;
	}
	/* the address as user name, the way the course's servers take it */
	mailconfig_add_server(cfg, protocol, host, port, MAILCONFIG_SOCKET_PLAIN,
	                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
	return TRUE;
}

int ms_cmd_web(int argc, char **argv)
{
	g_auto(GStrv) domains = NULL;
	char *imap = NULL, *pop3 = NULL, *smtp = NULL, *listen = NULL;
	gint port = WEB_CMD_DEFAULT_PORT;
	GOptionEntry entries[] = {
		{ "domain", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &domains, "Serve settings for this domain (repeatable)", "DOMAIN" },
		{ "imap", 0, 0, G_OPTION_ARG_STRING, &imap, "The IMAP server the documents name", "HOST[:PORT]" },
		{ "pop3", 0, 0, G_OPTION_ARG_STRING, &pop3, "The POP3 server the documents name (optional)", "HOST[:PORT]" },
		{ "smtp", 0, 0, G_OPTION_ARG_STRING, &smtp, "The submission server the documents name", "HOST[:PORT]" },
		{ "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Address to listen on (127.0.0.1)", "ADDR" },
		{ "port", 'p', 0, G_OPTION_ARG_INT, &port, "HTTP port (8080)", "N" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- serve autoconfig and autodiscover on real sockets");
	g_option_context_set_description(ctx,
		"Example:\n  mailsim web --domain example.com --imap mail.example.com:143 --smtp mail.example.com:587 --port 8080\n"
		"  curl 'http://127.0.0.1:8080/mail/config-v1.1.xml?emailaddress=alice@example.com'");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) error = NULL;
	int status = 0;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim web: %s\n", error->message);
		status = 2;
	} else if (!domains || !domains[0] || (!imap && !pop3) || !smtp) {
		fprintf(stderr, "mailsim web: give --domain, --imap (or --pop3) and --smtp\n");
		status = 2;
	} else if (port < 0 || port > 65535) {
		fprintf(stderr, "mailsim web: --port must be 0..65535\n");
		status = 2;
	}
	g_autoptr(MailConfig) cfg = status ? NULL : mailconfig_new(domains[0], NULL);
	for (guint i = 0; cfg && domains[i]; i++)
		mailconfig_add_domain(cfg, domains[i]);
	if (cfg && ((imap && !add_server(cfg, MAILCONFIG_PROTOCOL_IMAP, imap, 143, "--imap")) ||
	            (pop3 && !add_server(cfg, MAILCONFIG_PROTOCOL_POP3, pop3, 110, "--pop3")) ||
	            !add_server(cfg, MAILCONFIG_PROTOCOL_SMTP, smtp, 587, "--smtp")))
		status = 2;
	if (status) {
		g_free(imap);
		g_free(pop3);
		g_free(smtp);
		g_free(listen);
		return status;
	}

	const char *addr = listen ? listen : "127.0.0.1";
	MsSched *s = ms_sched_new(MS_SCHED_REAL, 1);
	UiTextOptions topts = { .color = isatty(STDOUT_FILENO) };
	ms_bus_add_sink(ms_sched_bus(s), ui_text_sink_new(stdout, &topts));
	MsStack *st = ms_realnet_stack_new(s, "web", addr);
	/* Date fields: the real time now, carried on by the scheduler's clock */
	WebConfig wc = { .hostname = "web", .listen_address = addr, .port = (guint16)port,
	                 .epoch_us = g_get_real_time() };
	WebServer *web = web_new(st, &wc);
	web_add_config(web, g_steal_pointer(&cfg));
	GThread *sig = ms_signals_watch(s);
	if (!web_start(web, &error)) {
		fprintf(stderr, "mailsim web: cannot listen on %s port %d: %s\n", addr, port, error->message);
		status = 1;
	} else {
		printf("mailsim web: serving autoconfig and autodiscover for %s on %s port %u; Ctrl-C stops\n",
		       domains[0], addr, web_port(web));
		fflush(stdout);
		ms_sched_run(s, MS_FOREVER);
	}
	web_stop(web);
	ms_sched_shutdown(s);
	ms_signals_finish(sig);
	web_free(web);
	ms_stack_unref(st);
	ms_sched_free(s);
	g_free(imap);
	g_free(pop3);
	g_free(smtp);
	g_free(listen);
	return status;
}
