/* sim/cmd_mra.c - `mailsim mra`: the MRA agent alone, on real sockets.
 *
 *   mailsim accounts --state ./lab add bob@example.org secret
 *   mailsim mda --state ./lab &                       (the account service)
 *   mailsim mra --state ./lab --imap-port 1143 --pop3-port 1110
 *   curl -u bob@example.org:secret imap://127.0.0.1:1143/INBOX
 *
 * Serves IMAP4rev1 and POP3 over STATE/mail until SIGINT or SIGTERM,
 * printing every event as text; passwords are checked by asking the MDA's
 * account service (--auth), as Dovecot's IMAP asks its auth process.
 */
#include "agents/mda/authsvc.h"
#include "agents/mra/mra.h"
#include "net/realnet.h"
#include "sim/signals.h"
#include "ui/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MRA_CMD_DEFAULT_STATE "./mailsim-data"
#define MRA_CMD_DEFAULT_IMAP  1143   /* 143 and 110 need root */
#define MRA_CMD_DEFAULT_POP3  1110

static gboolean port_ok(const char *what, gint port)
{
	if (port >= 0 && port <= 65535)
		return TRUE;
	fprintf(stderr, "mailsim mra: %s must be 0..65535\n", what);
	return FALSE;
}

/* "127.0.0.1:12345", "[::1]:12345" or a bare port "12345". */
static gboolean parse_auth(const char *arg, char **addr_r, guint16 *port_r)
{
	const char *colon = strrchr(arg, ':');
	const char *port_text = colon ? colon + 1 : arg;
	char *end = NULL;
	long port = strtol(port_text, &end, 10);
	if (!*port_text || *end || port <= 0 || port > 65535)
		return FALSE;
	*port_r = (guint16)port;
	if (!colon || colon == arg) {
		*addr_r = g_strdup("127.0.0.1");
	} else if (arg[0] == '[' && colon[-1] == ']') {
		*addr_r = g_strndup(arg + 1, (gsize)(colon - arg) - 2);
	} else {
		*addr_r = g_strndup(arg, (gsize)(colon - arg));
	}
	return **addr_r != '\0';
}

int ms_cmd_mra(int argc, char **argv)
{
	char *state = NULL;
	char *listen = NULL;
	char *auth = NULL;
	gint imap_port = MRA_CMD_DEFAULT_IMAP;
	gint pop3_port = MRA_CMD_DEFAULT_POP3;
	gboolean no_fsync = FALSE;
	GOptionEntry entries[] = {
		{ "state", 's', 0, G_OPTION_ARG_FILENAME, &state,
		  "State directory; the Maildirs are in DIR/mail (" MRA_CMD_DEFAULT_STATE ")", "DIR" },
		{ "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Address to listen on (127.0.0.1)", "ADDR" },
		{ "imap-port", 0, 0, G_OPTION_ARG_INT, &imap_port, "IMAP port (1143; 0: any free port)", "N" },
		{ "pop3-port", 0, 0, G_OPTION_ARG_INT, &pop3_port, "POP3 port (1110; 0: any free port)", "N" },
		{ "auth", 'a', 0, G_OPTION_ARG_STRING, &auth,
		  "The MDA's account service (127.0.0.1:12345)", "ADDR:PORT" },
		{ "no-fsync", 0, 0, G_OPTION_ARG_NONE, &no_fsync, "Do not fsync APPEND and COPY (faster, not crash-safe)",
		  NULL },
		G_OPTION_ENTRY_NULL,
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- the MRA (IMAP, POP3) on real sockets");
	g_option_context_set_description(ctx,
		"Example:\n  mailsim accounts --state ./lab add bob@example.org secret\n"
		"  mailsim mda --state ./lab &\n"
		"  mailsim mra --state ./lab\n"
		"  curl -u bob@example.org:secret imap://127.0.0.1:1143/INBOX\n"
		"  curl -u bob@example.org:secret pop3://127.0.0.1:1110/");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim mra: %s\n", error->message);
		g_free(state);
		g_free(listen);
		g_free(auth);
		return 2;
	}
	g_autofree char *state_dir = state ? state : g_strdup(MRA_CMD_DEFAULT_STATE);
	g_autofree char *addr = listen ? listen : g_strdup("127.0.0.1");
	g_autofree char *auth_arg = auth;
	if (argc > 1) {
		fprintf(stderr, "mailsim mra: unexpected argument \"%s\"\n", argv[1]);
		return 2;
	}
	if (!port_ok("--imap-port", imap_port) || !port_ok("--pop3-port", pop3_port))
		return 2;
	if (imap_port != 0 && imap_port == pop3_port) {
		fprintf(stderr, "mailsim mra: IMAP and POP3 need two different ports\n");
		return 2;
	}
	g_autofree char *auth_addr = NULL;
	guint16 auth_port = AUTHSVC_PORT;
	if (auth_arg && !parse_auth(auth_arg, &auth_addr, &auth_port)) {
		fprintf(stderr, "mailsim mra: --auth wants ADDR:PORT, got \"%s\"\n", auth_arg);
		return 2;
	}

	const char *hostname = g_get_host_name();
	g_autofree char *name = g_strdup_printf("mra@%s", hostname);
	MsSched *s = ms_sched_new(MS_SCHED_REAL, (guint64)getpid());
	UiTextOptions topts = { .color = isatty(STDOUT_FILENO) };
	ms_bus_add_sink(ms_sched_bus(s), ui_text_sink_new(stdout, &topts));
	MsStack *st = ms_realnet_stack_new(s, name, addr);
	MraConfig cfg = {
		.hostname = hostname,
		.state_dir = state_dir,
		.listen_address = addr,
		.imap_port = (guint16)imap_port,
		.pop3_port = (guint16)pop3_port,
		.authsvc_address = auth_addr ? auth_addr : "127.0.0.1",
		.authsvc_port = auth_port,
		.fsync = !no_fsync,
		.seed = (guint64)getpid(),
		/* the only wall-clock read: where the scheduler's time 0 lies */
		.epoch_us = g_get_real_time(),
	};
	int status = 0;
	GThread *sig = NULL;
	Mra *mra = mra_new(st, &cfg, &error);
	if (!mra) {
		fprintf(stderr, "mailsim mra: %s\n", error->message);
		status = 1;
	} else {
		sig = ms_signals_watch(s);
		if (!mra_start(mra, &error)) {
			fprintf(stderr, "mailsim mra: cannot listen on %s: %s\n", addr, error->message);
			status = 1;
		} else {
			printf("mailsim mra: IMAP on %s port %u, POP3 on port %u, accounts asked at %s:%u, mail in %s/%s; "
			       "Ctrl-C stops\n", addr, mra_imap_port(mra), mra_pop3_port(mra), cfg.authsvc_address,
			       cfg.authsvc_port, state_dir, MRA_MAIL_DIR);
			fflush(stdout);
			ms_sched_run(s, MS_FOREVER);
		}
	}
	if (mra)
		mra_stop(mra);
	ms_sched_shutdown(s);
	ms_signals_finish(sig);
	mra_free(mra);
	ms_stack_unref(st);
	ms_sched_free(s);
	return status;
}
