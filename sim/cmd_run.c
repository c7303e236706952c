/* sim/cmd_run.c - `mailsim run FILE` and `mailsim check FILE`. */
#include "sim/runner.h"
#include "net/pcap_writer.h"
#include "sim/scenario.h"
#include "ui/app.h"

#include <stdio.h>
#include <unistd.h>

int ms_cmd_run(int argc, char **argv)
{
	gint64 seed = -1;
	char *events = NULL, *transcript = NULL, *until = NULL, *state = NULL, *pcap = NULL, *internet = NULL;
	gboolean headless = FALSE, quiet = FALSE, verbose = FALSE, stats = FALSE;
	GOptionEntry entries[] = {
		{ "headless", 0, 0, G_OPTION_ARG_NONE, &headless, "Text transcript instead of the classroom view", NULL },
		{ "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed (overrides the scenario's)", "N" },
		{ "events", 'e', 0, G_OPTION_ARG_FILENAME, &events, "Write every event as JSON Lines", "FILE" },
		{ "pcap", 0, 0, G_OPTION_ARG_FILENAME, &pcap, "Write the traffic as a pcap file (Wireshark, tshark)", "FILE" },
		{ "transcript", 't', 0, G_OPTION_ARG_FILENAME, &transcript, "Write the text transcript to FILE", "FILE" },
		{ "until", 'u', 0, G_OPTION_ARG_STRING, &until, "Stop the virtual clock at TIME (like 45m)", "TIME" },
		{ "state", 0, 0, G_OPTION_ARG_FILENAME, &state, "Keep the hosts' files in DIR", "DIR" },
		{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Only the verdict", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Also show arrivals", NULL },
		{ "internet", 0, 0, G_OPTION_ARG_STRING, &internet,
		  "Replace the counts of the scenario's internet line", "DOMAINS,USERS,MESSAGES" },
		{ "stats", 0, 0, G_OPTION_ARG_NONE, &stats, "Print what the run cost: wall time, hand-offs, memory", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("FILE.scn - run a scenario and check its expectations");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx, "Exit status: 0 every expectation held, 1 one failed, 2 the scenario has errors.");
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2) {
		fprintf(stderr, "mailsim run: %s\n", error ? error->message : "give one scenario file");
		return 2;
	}
	MsRunOptions o = { .until = -1, .events_path = events, .transcript_path = transcript,
	                   .quiet = quiet, .verbose = verbose, .state_dir = state, .stats = stats,
	                   .color = isatty(STDOUT_FILENO) };
	if (seed >= 0) {
		o.has_seed = TRUE;
		o.seed = (guint64)seed;
	}
	if (internet && sscanf(internet, "%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT,
	                       &o.scale.domains, &o.scale.users, &o.scale.messages) != 3) {
		fprintf(stderr, "mailsim run: --internet wants DOMAINS,USERS,MESSAGES like 20,200,2000, got \"%s\"\n",
		        internet);
		return 2;
	}
	g_free(internet);
	if (until && !scenario_parse_duration(until, &o.until)) {
		fprintf(stderr, "mailsim run: --until wants a time like 90s or 45m, got \"%s\"\n", until);
		return 2;
	}
	if (pcap) {
		o.pcap_sink = pcap_writer_new(pcap, NULL, &error);
		if (!o.pcap_sink) {
			fprintf(stderr, "mailsim run: %s\n", error->message);
			return 2;
		}
	}
	/* On a terminal the class watches the classroom view, in step mode;
	 * otherwise (a pipe, --headless, --quiet) the text transcript. */
	UiApp *ui = NULL;
	if (!headless && !quiet && ui_app_possible()) {
		ui = ui_app_new(NULL);
		o.quiet = TRUE;
		o.extra_sink = ui_app_sink(ui);
		o.attach = ui_app_attach;
		o.finish = ui_app_finish;
		o.front_data = ui;
	}
	int rc = ms_runner_run(argv[1], &o);
	ui_app_free(ui);
	g_free(events);
	g_free(transcript);
	g_free(until);
	g_free(state);
	g_free(pcap);
	return rc;
}

int ms_cmd_check(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new("FILE.scn - check a scenario without running it");
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2) {
		fprintf(stderr, "mailsim check: %s\n", error ? error->message : "give one scenario file");
		return 2;
	}
	return ms_runner_check(argv[1]);
}
