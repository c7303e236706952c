/* sim/cmd_mda.c - `mailsim mda`: the MDA agent alone, on real sockets.
 *
 *   mailsim accounts --state ./lab add bob@example.org secret
 *   mailsim mda --state ./lab --lmtp-port 2424
 *   python3 -c 'import smtplib; smtplib.LMTP("127.0.0.1", 2424).sendmail(...)'
 *
 * Serves LMTP (RFC 2033) and the account service until SIGINT or SIGTERM,
 * printing every event as text; mail lands in STATE/mail/DOMAIN/USER.
 */
#include "agents/mda/authsvc.h"
#include "agents/mda/mda.h"
#include "net/realnet.h"
#include "sim/signals.h"
#include "ui/text.h"

#include <stdio.h>
#include <unistd.h>

#define MDA_CMD_DEFAULT_STATE  "./mailsim-data"
#define MDA_CMD_DEFAULT_LMTP   2424   /* 24 needs root */

static gboolean port_ok(const char *what, gint port)
{
	if (port >= 0 && port <= 65535)
		return TRUE;
	fprintf(stderr, "mailsim mda: %s must be 0..65535\n", what);
	return FALSE;
}

int ms_cmd_mda(int argc, char **argv)
{
	char *state = NULL;
	char *listen = NULL;
	gint lmtp_port = MDA_CMD_DEFAULT_LMTP;
	gint auth_port = AUTHSVC_PORT;
	gint mta_port = MDA_SMTP_PORT;
	gboolean no_fsync = FALSE;
	gdouble threshold = 0;
	GOptionEntry entries[] = {
		{ "state", 's', 0, G_OPTION_ARG_FILENAME, &state,
		  "State directory: accounts.sqlite, mail/, sieve/ (" MDA_CMD_DEFAULT_STATE ")", "DIR" },
		{ "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Address to listen on (127.0.0.1)", "ADDR" },
		{ "lmtp-port", 0, 0, G_OPTION_ARG_INT, &lmtp_port, "LMTP port (2424)", "N" },
		{ "auth-port", 0, 0, G_OPTION_ARG_INT, &auth_port, "Account service port (12345)", "N" },
		{ "mta-port", 0, 0, G_OPTION_ARG_INT, &mta_port,
		  "Where redirects and vacation replies go, on the listen address (25)", "N" },
		{ "spam-threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold, "Score from which mail is spam (5.0)", "X" },
		{ "no-fsync", 0, 0, G_OPTION_ARG_NONE, &no_fsync, "Do not fsync (faster, not crash-safe)", NULL },
		G_OPTION_ENTRY_NULL,
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- the MDA (LMTP, account service) on real sockets");
	g_option_context_set_description(ctx,
		"Example:\n  mailsim accounts --state ./lab add bob@example.org secret\n"
		"  mailsim mda --state ./lab --lmtp-port 2424\n"
		"then deliver with any LMTP client, such as Python's smtplib.LMTP.");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim mda: %s\n", error->message);
		g_free(state);
		g_free(listen);
		return 2;
	}
	g_autofree char *state_dir = state ? state : g_strdup(MDA_CMD_DEFAULT_STATE);
	g_autofree char *addr = listen ? listen : g_strdup("127.0.0.1");
	if (argc > 1) {
		fprintf(stderr, "mailsim mda: unexpected argument \"%s\"\n", argv[1]);
		return 2;
	}
	if (!port_ok("--lmtp-port", lmtp_port) || !port_ok("--auth-port", auth_port) ||
	    !port_ok("--mta-port", mta_port))
		return 2;
	if (lmtp_port == 0 || auth_port == 0 || lmtp_port == auth_port) {
		fprintf(stderr, "mailsim mda: give two different, nonzero ports\n");
		return 2;
	}
	if (threshold < 0) {
		fprintf(stderr, "mailsim mda: --spam-threshold must not be negative\n");
		return 2;
	}

	const char *hostname = g_get_host_name();
	g_autofree char *name = g_strdup_printf("mda@%s", hostname);
	MsSched *s = ms_sched_new(MS_SCHED_REAL, (guint64)getpid());
	UiTextOptions topts = { .color = isatty(STDOUT_FILENO) };
	ms_bus_add_sink(ms_sched_bus(s), ui_text_sink_new(stdout, &topts));
	MsStack *st = ms_realnet_stack_new(s, name, addr);
	MdaConfig cfg = {
		.hostname = hostname,
		.state_dir = state_dir,
		.listen_address = addr,
		.lmtp_port = (guint16)lmtp_port,
		.authsvc_port = (guint16)auth_port,
		.fsync = !no_fsync,
		.spam_threshold = threshold,
		.seed = (guint64)getpid(),
		/* the only wall-clock read: where the scheduler's time 0 lies */
		.epoch_us = g_get_real_time(),
		.mta_port = (guint16)mta_port,
	};
	int status = 0;
	GThread *sig = NULL;
	Mda *mda = mda_new(st, &cfg, &error);
	if (!mda) {
		fprintf(stderr, "mailsim mda: %s\n", error->message);
		status = 1;
	} else {
		sig = ms_signals_watch(s);
		if (!mda_start(mda, &error)) {
			fprintf(stderr, "mailsim mda: cannot listen on %s: %s\n", addr, error->message);
			status = 1;
		} else {
			printf("mailsim mda: LMTP on %s port %u, account service on port %u, state in %s; Ctrl-C stops\n",
			       addr, mda_lmtp_port(mda), mda_authsvc_port(mda), state_dir);
			fflush(stdout);
			ms_sched_run(s, MS_FOREVER);
		}
	}
	mda_stop(mda);
	ms_sched_shutdown(s);
	ms_signals_finish(sig);
	mda_free(mda);
	ms_stack_unref(st);
	ms_sched_free(s);
	return status;
}
