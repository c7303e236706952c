/* sim/cmd_client.c - `mailsim send` and `mailsim fetch`: the mail client
 * agent on real sockets, pointed at any server (a lab's Postfix and
 * Dovecot, or mailsim serve), with every step shown as events.  It asks
 * for STARTTLS (RFC 3207, RFC 2595) before it logs in, or speaks TLS from
 * the first byte (--implicit-tls, RFC 8314); it sends no password in the
 * clear unless --allow-plaintext-auth, and goes on over TLS only with a
 * certificate that checks out (the system's authorities, or --cafile: for
 * serve's self-signed one, its STATE/tls/cert.pem), or with --insecure, which
 * takes any.
 *
 *   mailsim send --smtp 127.0.0.1:2587 --insecure --user alice@example.org --password secret \
 *                --to bob@example.org --subject Hello --body "See you at 5?"
 *   mailsim fetch --imap 127.0.0.1:2143 --insecure --user bob@example.org --password secret
 */
#include "agents/mua/mua.h"
#include "net/realnet.h"
#include "ui/text.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	gboolean   send;
	char      *server;      /* HOST:PORT */
	gboolean   pop3;
	char      *user, *password, *from, *to, *cc, *subject, *body, *dns;
	char      *sent_imap;   /* send: the IMAP server that keeps the Sent copy */
	gboolean   delete;
	gboolean   implicit_tls, allow_plaintext, insecure;
	char      *ca_file;     /* --cafile: the authority (PEM) the server's certificate must chain to */
	int        rc;
	Mua       *mua;
} Job;

static gboolean split_host_port(const char *s, char **host_r, guint16 *port_r)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return FALSE;
	guint64 port;
	if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL))
		return FALSE;
	*host_r = g_strndup(s, colon - s);
	*port_r = (guint16)port;
	return TRUE;
}

/* What the user can do about a refusal for want of security. */
static const char *security_hint(const GError *err)
{
	if (g_error_matches(err, MUA_ERROR, MUA_ERROR_PLAINTEXT))
		return "\n  (--allow-plaintext-auth sends it in the clear anyway)";
	if (g_error_matches(err, MUA_ERROR, MUA_ERROR_CERTIFICATE) ||
	    g_error_matches(err, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE))
		return "\n  (mailsim serve's certificate is self-signed: --cafile STATE/tls/cert.pem checks it, "
		       "--insecure accepts it as it is)";
	return "";
}

static void job_task(gpointer data)
{
	Job *j = data;
	g_autoptr(GError) err = NULL;
	if (!mua_setup_account(j->mua, j->user, j->password, &err)) {
		fprintf(stderr, "mailsim: setting up %s failed: %s\n", j->user, err->message);
		j->rc = 1;
	} else if (j->send) {
		MuaMessage m = { .to = j->to, .cc = j->cc, .subject = j->subject,
		                 .body = j->body ? j->body : "" };
		if (!mua_send(j->mua, &m, &err) && !g_error_matches(err, MUA_ERROR, MUA_ERROR_SENT_COPY)) {
			fprintf(stderr, "mailsim send: %s%s\n", err->message, security_hint(err));
			j->rc = 1;
		}
	} else if (!mua_fetch(j->mua, j->pop3 ? MUA_PROTOCOL_POP3 : MUA_PROTOCOL_IMAP, j->delete, &err)) {
		fprintf(stderr, "mailsim fetch: %s%s\n", err->message, security_hint(err));
		j->rc = 1;
	} else {
		printf("mailsim fetch: %u new message(s)\n", mua_last_fetched(j->mua));
	}
	ms_sched_stop(ms_task_sched(ms_task_self()));
}

static int run(Job *j, const char *who)
{
	g_autofree char *host = NULL, *dns_host = NULL;
	guint16 port = 0, dns_port = 53;
	if (!j->server || !split_host_port(j->server, &host, &port)) {
		fprintf(stderr, "mailsim %s: give the server as HOST:PORT\n", who);
		return 2;
	}
	if (j->dns && !split_host_port(j->dns, &dns_host, &dns_port)) {
		fprintf(stderr, "mailsim %s: --dns wants ADDR:PORT\n", who);
		return 2;
	}
	if (!j->user || !j->password || (j->send && !j->to)) {
		fprintf(stderr, "mailsim %s: --user and --password%s are needed\n", who, j->send ? " and --to" : "");
		return 2;
	}
	MsSched *s = ms_sched_new(MS_SCHED_REAL, (guint64)g_get_real_time());
	UiTextOptions topts = { .color = isatty(STDOUT_FILENO) };
	ms_bus_add_sink(ms_sched_bus(s), ui_text_sink_new(stdout, &topts));
	MsStack *st = ms_realnet_stack_new(s, "client", "0.0.0.0");
	MuaConfig mc = {
		.name = "client", .flavor = MUA_FLAVOR_MANUAL,
		.incoming = j->pop3 ? MUA_PROTOCOL_POP3 : MUA_PROTOCOL_IMAP,
		.manual_incoming_protocol = j->pop3 ? MUA_PROTOCOL_POP3 : MUA_PROTOCOL_IMAP,
		.dns_server = dns_host ? dns_host : "127.0.0.1", .dns_port = dns_port,
		/* Thunderbird's default for a server typed by hand: STARTTLS */
		.manual_security = j->implicit_tls ? MAILCONFIG_SOCKET_SSL : MAILCONFIG_SOCKET_STARTTLS,
		.allow_plaintext_auth = j->allow_plaintext, .accept_any_certificate = j->insecure,
		.ca_file = j->ca_file,
		.seed = (guint64)g_get_real_time(), .epoch_us = g_get_real_time() - ms_sched_now(s),
	};
	g_autofree char *imap_host = NULL;
	guint16 imap_port = 0;
	if (j->send) {
		mc.manual_outgoing_host = host;
		mc.manual_outgoing_port = port;
		/* the Sent copy goes to --imap, or to port 143 (993) of the same host */
		if (j->sent_imap && !split_host_port(j->sent_imap, &imap_host, &imap_port)) {
			fprintf(stderr, "mailsim send: --imap wants HOST:PORT\n");
			ms_stack_unref(st);
			ms_sched_free(s);
			return 2;
		}
		mc.manual_incoming_host = imap_host ? imap_host : host;
		mc.manual_incoming_port = imap_port;
	} else {
		mc.manual_incoming_host = host;
		mc.manual_incoming_port = port;
		mc.manual_outgoing_host = host;
	}
	g_autoptr(GError) err = NULL;
	j->mua = mua_new(st, &mc, &err);
	if (!j->mua) {
		fprintf(stderr, "mailsim %s: %s\n", who, err->message);
		j->rc = 2;
	} else {
		ms_task_spawn(s, "client", job_task, j);
		ms_sched_run(s, MS_FOREVER);
	}
	ms_sched_shutdown(s);
	mua_free(j->mua);
	ms_stack_unref(st);
	ms_sched_free(s);
	return j->rc;
}

/* The connection security options, the same for send and fetch. */
#define SECURITY_OPTIONS(j) \
	{ "implicit-tls", 0, 0, G_OPTION_ARG_NONE, &(j).implicit_tls, \
	  "TLS from the first byte (SMTPS 465, IMAPS 993, POP3S 995) instead of STARTTLS", NULL }, \
	{ "allow-plaintext-auth", 0, 0, G_OPTION_ARG_NONE, &(j).allow_plaintext, \
	  "Send the password in the clear where the server offers no STARTTLS", NULL }, \
	{ "insecure", 'k', 0, G_OPTION_ARG_NONE, &(j).insecure, \
	  "Accept the server's TLS certificate as it is, unchecked (mailsim serve's is self-signed)", NULL }, \
	{ "cafile", 0, 0, G_OPTION_ARG_FILENAME, &(j).ca_file, \
	  "Check the server's certificate against these authorities (PEM; serve's STATE/tls/cert.pem) " \
	  "instead of the system's", "FILE" }

int ms_cmd_send(int argc, char **argv)
{
	Job j = { .send = TRUE };
	GOptionEntry entries[] = {
		{ "smtp", 0, 0, G_OPTION_ARG_STRING, &j.server, "Submission server", "HOST:PORT" },
		{ "user", 'u', 0, G_OPTION_ARG_STRING, &j.user, "Account (also the sender)", "ADDRESS" },
		{ "password", 'p', 0, G_OPTION_ARG_STRING, &j.password, "Password", "PASSWORD" },
		{ "to", 0, 0, G_OPTION_ARG_STRING, &j.to, "Recipients, comma separated", "ADDRESSES" },
		{ "cc", 0, 0, G_OPTION_ARG_STRING, &j.cc, "Copies", "ADDRESSES" },
		{ "subject", 's', 0, G_OPTION_ARG_STRING, &j.subject, "Subject", "TEXT" },
		{ "body", 'b', 0, G_OPTION_ARG_STRING, &j.body, "Body", "TEXT" },
		{ "imap", 0, 0, G_OPTION_ARG_STRING, &j.sent_imap, "IMAP server for the Sent copy (HOST:143)", "HOST:PORT" },
		{ "dns", 0, 0, G_OPTION_ARG_STRING, &j.dns, "DNS server for host names (127.0.0.1:53)", "ADDR:PORT" },
		SECURITY_OPTIONS(j),
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- send a message with the mail client agent");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim send: %s\n", error->message);
		return 2;
	}
	return run(&j, "send");
}

int ms_cmd_fetch(int argc, char **argv)
{
	Job j = { 0 };
	char *imap = NULL, *pop3 = NULL;
	GOptionEntry entries[] = {
		{ "imap", 0, 0, G_OPTION_ARG_STRING, &imap, "IMAP server", "HOST:PORT" },
		{ "pop3", 0, 0, G_OPTION_ARG_STRING, &pop3, "POP3 server", "HOST:PORT" },
		{ "user", 'u', 0, G_OPTION_ARG_STRING, &j.user, "Account", "ADDRESS" },
		{ "password", 'p', 0, G_OPTION_ARG_STRING, &j.password, "Password", "PASSWORD" },
		{ "delete", 0, 0, G_OPTION_ARG_NONE, &j.delete, "Delete from the server after fetching (POP3)", NULL },
		{ "dns", 0, 0, G_OPTION_ARG_STRING, &j.dns, "DNS server for host names (127.0.0.1:53)", "ADDR:PORT" },
		SECURITY_OPTIONS(j),
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- fetch new mail with the mail client agent");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim fetch: %s\n", error->message);
		return 2;
	}
	if (!imap == !pop3) {
		fprintf(stderr, "mailsim fetch: give one of --imap HOST:PORT or --pop3 HOST:PORT\n");
		return 2;
	}
	j.server = imap ? imap : pop3;
	j.pop3 = pop3 != NULL;
	return run(&j, "fetch");
}
