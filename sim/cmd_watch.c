/* sim/cmd_watch.c - `mailsim watch`: real mail traffic, as the course sees it.
 *
 * Reads a capture file (-r) or an interface (-i, live, as root) and shows
 * SMTP, LMTP, IMAP, POP3, DNS and HTTP as the same event lines a simulation
 * prints, with the course steps they show; --events writes them as the
 * JSON Lines log `mailsim run --events` writes, each packet's endpoints
 * (net) included.  Ctrl-C ends a live capture.
 */
#include "net/pcap_reader.h"
#include "ui/text.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* SIGINT/SIGTERM stop the capture from a thread of their own (sigwait), so
 * no code runs in a signal handler; SIGUSR1 means "done, no signal came". */
static gpointer signal_waiter(gpointer data)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	int sig = 0;
	sigwait(&set, &sig);
	if (sig != SIGUSR1)
		pcap_reader_stop(data);
	return NULL;
}

/* "2600=smtp" */
static gboolean add_port(PcapReader *r, const char *spec)
{
	const char *eq = strchr(spec, '=');
	if (!eq)
		return FALSE;
	char *end;
	guint64 port = g_ascii_strtoull(spec, &end, 10);
	if (end != eq || end == spec || port == 0 || port > G_MAXUINT16)
		return FALSE;
	return pcap_reader_set_port(r, (guint16)port, eq + 1);
}

static void print_summary(PcapReader *r)
{
	const PcapDecodeStats *st = pcap_reader_stats(r);
	fprintf(stderr, "mailsim watch: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT " connections, %"
	        G_GUINT64_FORMAT " datagrams; %" G_GUINT64_FORMAT " retransmitted and %" G_GUINT64_FORMAT
	        " out-of-order segments, %" G_GUINT64_FORMAT " gaps",
	        st->frames, st->connections, st->datagrams, st->retransmissions, st->out_of_order, st->gaps);
	guint64 dropped = pcap_reader_dropped(r);
	if (dropped)
		fprintf(stderr, "; %" G_GUINT64_FORMAT " dropped by the kernel", dropped);
	if (st->fragments)
		fprintf(stderr, "; %" G_GUINT64_FORMAT " IP fragments skipped", st->fragments);
	fprintf(stderr, "\n");
}

int ms_cmd_watch(int argc, char **argv)
{
	char *file = NULL, *iface = NULL, *filter = NULL, *events = NULL;
	char **ports = NULL;
	gboolean verbose = FALSE, quiet = FALSE;
	GOptionEntry entries[] = {
		{ "read", 'r', 0, G_OPTION_ARG_FILENAME, &file, "Read a capture file (pcap or pcapng)", "FILE" },
		{ "interface", 'i', 0, G_OPTION_ARG_STRING, &iface, "Capture live on an interface (needs root)", "IFACE" },
		{ "filter", 'f', 0, G_OPTION_ARG_STRING, &filter, "Only frames matching a BPF filter", "'tcp port 25'" },
		{ "port", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &ports,
		  "Decode PORT as PROTO (smtp, submission, lmtp, imap, pop3, dns, http, auth, none)", "PORT=PROTO" },
		{ "events", 'e', 0, G_OPTION_ARG_FILENAME, &events,
		  "Also write every event as JSON Lines, endpoints included (as mailsim run --events)", "FILE" },
		{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No event lines (with --events)", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Also show arrivals (what ACKs acknowledge) and the DNS datagrams", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- show real mail traffic as the course's events");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx,
		"Examples:\n"
		"  mailsim watch -r relay.pcap                    (from mailsim run X.scn --pcap relay.pcap)\n"
		"  mailsim watch -i lo -f 'tcp port 2525 or tcp port 2587 or udp port 5353'\n"
		"Known ports: SMTP 25 2525, submission 587 2587 465 2465, LMTP 24 2424, IMAP 143 2143 993 2993,\n"
		"POP3 110 2110 995 2995, DNS 53 5353, HTTP 80 8080, mailsim's account service 12345 2345.");
	g_autoptr(GError) error = NULL;
	int rc = 2;
	PcapReader *r = NULL;
	GThread *waiter = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 1 || !file == !iface) {
		fprintf(stderr, "mailsim watch: %s\n", error ? error->message : "give -r FILE or -i INTERFACE");
		goto out;
	}
	r = file ? pcap_reader_open_file(file, &error) : pcap_reader_open_live(iface, &error);
	if (!r || (filter && !pcap_reader_set_filter(r, filter, &error))) {
		fprintf(stderr, "mailsim watch: %s\n", error->message);
		goto out;
	}
	for (guint i = 0; ports && ports[i]; i++) {
		if (!add_port(r, ports[i])) {
			fprintf(stderr, "mailsim watch: --port wants PORT=PROTO with a known protocol, got \"%s\"\n", ports[i]);
			goto out;
		}
	}
	MsBus *bus = pcap_reader_bus(r);
	if (!quiet) {
		UiTextOptions to = { .color = isatty(STDOUT_FILENO), .verbose = verbose };
		ms_bus_add_sink(bus, ui_text_sink_new(stdout, &to));
	}
	if (events) {
		FILE *f = fopen(events, "w");
		if (!f) {
			fprintf(stderr, "mailsim watch: cannot write %s: %s\n", events, g_strerror(errno));
			goto out;
		}
		ms_bus_add_sink(bus, ms_sink_jsonl_new(f, TRUE));
	}

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	waiter = g_thread_new("signals", signal_waiter, r);
	if (iface) {
		fprintf(stderr, "mailsim watch: capturing on %s%s%s; Ctrl-C stops\n", iface,
		        filter ? " with filter " : "", filter ? filter : "");
	}
	rc = 0;
	if (!pcap_reader_run(r, &error)) {
		fprintf(stderr, "mailsim watch: %s\n", error->message);
		rc = 1;
	}
	print_summary(r);
out:
	if (waiter) {
		kill(getpid(), SIGUSR1);
		g_thread_join(waiter);
	}
	pcap_reader_free(r);
	g_free(file);
	g_free(iface);
	g_free(filter);
	g_free(events);
	g_strfreev(ports);
	return rc;
}
