/* sim/cmd_serve.c - `mailsim serve`: the course's mail system on real sockets.
 *
 * One machine plays every server of the course for real clients (swaks,
 * curl, Thunderbird, Python's smtplib/imaplib/poplib, dig): DNS, the MTA
 * (SMTP and submission), the MDA (LMTP, account service) and the MRA (IMAP,
 * POP3), all on 127.0.0.1 by default, with the live events on stdout.
 * With --host, one host of a scenario at its own address and the standard
 * ports: what mailsim lab up starts in each network namespace.
 */
#include "agents/dns/dns_server.h"
#include "agents/mda/mda.h"
#include "agents/mra/mra.h"
#include "agents/mta/mta.h"
#include "agents/web/web.h"
#include "net/realnet.h"
#include "net/resolver.h"
#include "sim/lab_events.h"
#include "sim/signals.h"
#include "sim/world.h"
#include "ui/text.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SERVE_DEMO_PASSWORD "secret"
/* What --host prints last, once every listener is up ("mailsim serve:
 * HOST ready"): mailsim lab up waits for it in the host's log. */
#define SERVE_HOST_READY "ready"

typedef struct {
	gint smtp, submission, smtps, imap, imaps, pop3, pop3s, dns, lmtp, auth;
} Ports;

/* A self-signed certificate for the lab, made once in the state directory
 * with the openssl tool (Debian's openssl package), for the name cn and
 * the subjectAltName entries san ("DNS:x,IP:y"). */
static gboolean make_certificate(const char *cert, const char *key, const char *cn, const char *san,
                                 GError **error)
{
	g_autofree char *dir = g_path_get_dirname(cert);
	g_mkdir_with_parents(dir, 0700);
	g_autofree char *subject = g_strdup_printf("/CN=%s", cn);
	g_autofree char *ext = g_strdup_printf("subjectAltName=%s", san);
	const char *argv[] = {
		"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
		"-subj", subject, "-keyout", key, "-out", cert, "-addext", ext,
		NULL,
	};
	g_autofree char *err_out = NULL;
	int status = 0;
	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
	                  NULL, NULL, NULL, &err_out, &status, error))
		return FALSE;
	if (!g_spawn_check_wait_status(status, error)) {
		g_prefix_error(error, "openssl could not make a certificate: ");
		return FALSE;
	}
	return TRUE;
}

static const char *const demo_users[] = { "alice@example.org", "bob@example.org" };

/* The course's two domains, both served here: every name points at us. */
static char *zone_text(const char *domain, const char *addr)
{
	return g_strdup_printf("$ORIGIN %s.\n$TTL 300\n"
	                       "@            MX 10 mail\n"
	                       "mail         A  %s\n"
	                       "imap         A  %s\n"
	                       "smtp         A  %s\n"
	                       "autoconfig   A  %s\n"
	                       "autodiscover A  %s\n"
	                       "@            TXT \"v=spf1 mx -all\"\n",
	                       domain, addr, addr, addr, addr, addr);
}

/* --host: one scenario host's agents, as its own machine would run them. */
typedef struct {
	const char *scenario;    /* a file or builtin:NAME */
	const char *host;
	const char *state;       /* the host's files go in STATE/HOST */
	const char *cert_file, *key_file;   /* NULL: made in STATE/HOST/tls */
	gboolean    plaintext;
	gboolean    fsync_off;
	const char *events;      /* JSON Lines log on the monotonic clock (sim/lab_events.h), or NULL */
} HostServe;

/* The roles a host runs, and their ports, for the opening lines. */
static void print_host_roles(const ScenarioHost *h)
{
	if (h->roles & SCENARIO_ROLE_DNS)
		printf("  dns: DNS %u (UDP+TCP)\n", DNS_SERVER_PORT);
	if (h->roles & SCENARIO_ROLE_MTA)
		printf("  mta: SMTP %u, submission %u (STARTTLS), SMTPS %u\n", MTA_SMTP_PORT, MTA_SUBMISSION_PORT,
		       MS_WORLD_SMTPS_PORT);
	if (h->roles & SCENARIO_ROLE_MDA)
		printf("  mda: LMTP %u, account service %u\n", MDA_LMTP_PORT, AUTHSVC_PORT);
	if (h->roles & SCENARIO_ROLE_MRA)
		printf("  mra: IMAP %u (STARTTLS), IMAPS %u, POP3 %u (STLS), POP3S %u\n", MRA_IMAP_PORT,
		       MS_WORLD_IMAPS_PORT, MRA_POP3_PORT, MS_WORLD_POP3S_PORT);
	if (h->roles & SCENARIO_ROLE_WEB)
		printf("  web: HTTP %u (autoconfig, autodiscover)\n", WEB_HTTP_PORT);
}

static int serve_host(const HostServe *o)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(Scenario) scn = ms_world_load_scenario(o->scenario, &error);
	if (!scn) {
		fprintf(stderr, "%s\n", error->message);
		return 2;
	}
	const ScenarioHost *h = scenario_find_host(scn, o->host);
	if (!h) {
		fprintf(stderr, "mailsim serve: %s has no host named %s\n", o->scenario, o->host);
		return 2;
	}
	g_autofree char *host_dir = g_build_filename(o->state, h->name, NULL);
	g_autofree char *cert_path = o->cert_file ? g_strdup(o->cert_file)
	                                          : g_build_filename(host_dir, "tls", "cert.pem", NULL);
	g_autofree char *key_path = o->key_file ? g_strdup(o->key_file)
	                                        : g_build_filename(host_dir, "tls", "key.pem", NULL);
	g_autofree char *san = g_strdup_printf("DNS:%s,IP:%s", h->name, h->address);
	if (!o->cert_file && !g_file_test(cert_path, G_FILE_TEST_EXISTS) &&
	    !make_certificate(cert_path, key_path, h->name, san, &error)) {
		fprintf(stderr, "mailsim serve: %s\n", error->message);
		return 1;
	}
	g_autoptr(GTlsCertificate) cert = g_tls_certificate_new_from_files(cert_path, key_path, &error);
	if (!cert) {
		fprintf(stderr, "mailsim serve: %s\n", error->message);
		return 1;
	}

	MsSched *s = ms_sched_new(MS_SCHED_REAL, (guint64)g_get_real_time());
	UiTextOptions topts = { .color = isatty(STDOUT_FILENO) };
	ms_bus_add_sink(ms_sched_bus(s), ui_text_sink_new(stdout, &topts));
	if (o->events && !lab_events_attach(s, o->events, &error)) {
		fprintf(stderr, "mailsim serve: %s\n", error->message);
		ms_sched_free(s);
		return 1;
	}
	MsWorldHostOptions wo = { .host = h->name, .tls_cert = cert, .plaintext_auth = o->plaintext,
	                          .fsync = !o->fsync_off };
	MsWorld *w = ms_world_new_host(scn, s, o->state, &wo, &error);
	GThread *sig = NULL;
	int rc = 0;
	if (!w)
		goto fail;
	sig = ms_signals_watch(s);
	if (!ms_world_start(w, &error))
		goto fail;
	printf("mailsim serve: %s of %s on %s (state in %s)\n", h->name, o->scenario, h->address, host_dir);
	print_host_roles(h);
	if (ms_world_dns_address(w))
		printf("  resolver: %s (%s)\n", ms_world_dns_address(w), ms_world_dns_name(w));
	printf("  TLS certificate: %s (self-signed unless --cert)\n", cert_path);
	printf(o->plaintext ? "  passwords are accepted before STARTTLS (--allow-plaintext-auth)\n"
	                    : "  passwords only over TLS: STARTTLS/STLS first, or the implicit-TLS ports\n");
	/* the last line: mailsim lab up waits for it */
	printf("mailsim serve: %s " SERVE_HOST_READY "\n", h->name);
	fflush(stdout);
	ms_sched_run(s, MS_FOREVER);
	printf("mailsim serve: %s stopping; its queue stays in %s\n", h->name, host_dir);
	goto out;

fail:
	fprintf(stderr, "mailsim serve: %s\n", error ? error->message : "failed");
	rc = 1;
out:
	if (w)
		ms_world_stop(w);
	ms_sched_shutdown(s);
	ms_signals_finish(sig);
	ms_world_free(w);
	ms_sched_free(s);
	return rc;
}

int ms_cmd_serve(int argc, char **argv)
{
	char *state = NULL, *listen = NULL;
	Ports p = { 2525, 2587, 2465, 2143, 2993, 2110, 2995, 5353, 2424, 2345 };
	gboolean demo = FALSE, no_demo = FALSE, fsync_off = FALSE, plaintext = FALSE;
	char *cert_file = NULL, *key_file = NULL, *host = NULL, *events = NULL;
	/* Postfix's smtpd limits; -1: not given */
	gint conn_count = -1, conn_rate = -1, smtpd_timeout = -1;
	char *limit_exceptions = NULL;
	GOptionEntry entries[] = {
		{ "host", 0, 0, G_OPTION_ARG_STRING, &host,
		  "Serve only this host of SCENARIO, at its address and standard ports (lab mode)", "NAME" },
		{ "events", 'e', 0, G_OPTION_ARG_FILENAME, &events,
		  "With --host: every event as JSON Lines, appended to FILE, t_us on the monotonic clock "
		  "(what mailsim lab check reads)", "FILE" },
		{ "state", 0, 0, G_OPTION_ARG_FILENAME, &state, "Where queue, accounts and Maildirs live (./mailsim-data)", "DIR" },
		{ "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Address to listen on (127.0.0.1)", "ADDR" },
		{ "smtp-port", 0, 0, G_OPTION_ARG_INT, &p.smtp, "SMTP between servers (2525)", "N" },
		{ "submission-port", 0, 0, G_OPTION_ARG_INT, &p.submission, "Submission with AUTH (2587)", "N" },
		{ "smtps-port", 0, 0, G_OPTION_ARG_INT, &p.smtps, "Submission over implicit TLS (2465)", "N" },
		{ "cert", 0, 0, G_OPTION_ARG_FILENAME, &cert_file, "TLS certificate (PEM); default: made in STATE/tls", "FILE" },
		{ "key", 0, 0, G_OPTION_ARG_FILENAME, &key_file, "Its private key (PEM)", "FILE" },
		{ "allow-plaintext-auth", 0, 0, G_OPTION_ARG_NONE, &plaintext, "Accept passwords before STARTTLS (SMTP, IMAP, POP3)", NULL },
		{ "imap-port", 0, 0, G_OPTION_ARG_INT, &p.imap, "IMAP (2143)", "N" },
		{ "imaps-port", 0, 0, G_OPTION_ARG_INT, &p.imaps, "IMAP over implicit TLS (2993)", "N" },
		{ "pop3-port", 0, 0, G_OPTION_ARG_INT, &p.pop3, "POP3 (2110)", "N" },
		{ "pop3s-port", 0, 0, G_OPTION_ARG_INT, &p.pop3s, "POP3 over implicit TLS (2995)", "N" },
		{ "dns-port", 0, 0, G_OPTION_ARG_INT, &p.dns, "DNS, UDP and TCP (5353)", "N" },
		{ "lmtp-port", 0, 0, G_OPTION_ARG_INT, &p.lmtp, "LMTP, MTA to MDA (2424)", "N" },
		{ "auth-port", 0, 0, G_OPTION_ARG_INT, &p.auth, "The MDA's account service (2345)", "N" },
		{ "demo-accounts", 0, 0, G_OPTION_ARG_NONE, &demo, "Create the demo accounts even beyond loopback", NULL },
		{ "no-demo-accounts", 0, 0, G_OPTION_ARG_NONE, &no_demo, "Do not create the demo accounts", NULL },
		{ "no-fsync", 0, 0, G_OPTION_ARG_NONE, &fsync_off, "Do not sync files before acknowledging (faster, unsafe)", NULL },
		{ "smtpd-client-connection-count-limit", 0, 0, G_OPTION_ARG_INT, &conn_count,
		  "SMTP sessions at once from one client (50; 0: no limit)", "N" },
		{ "smtpd-client-connection-rate-limit", 0, 0, G_OPTION_ARG_INT, &conn_rate,
		  "SMTP connections a minute from one client (0: no limit)", "N" },
		{ "smtpd-client-event-limit-exceptions", 0, 0, G_OPTION_ARG_STRING, &limit_exceptions,
		  "Clients the two limits spare ($mynetworks: 127.0.0.1)", "CIDRS" },
		{ "smtpd-timeout", 0, 0, G_OPTION_ARG_INT, &smtpd_timeout, "Seconds the SMTP server waits for a client (300)", "S" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("[SCENARIO --host NAME] - the course's mail system on real sockets");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx,
		"Try it:\n"
		"  swaks --server 127.0.0.1:2587 --tls --auth-user alice@example.org --auth-password secret \\\n"
		"        --from alice@example.org --to bob@example.org\n"
		"  curl imap://127.0.0.1:2143/INBOX -u bob@example.org:secret\n"
		"  dig @127.0.0.1 -p 5353 example.org MX\n"
		"\n"
		"One host of a scenario (SCENARIO: a file or builtin:NAME, builtin:course.scn by default)\n"
		"at its scenario address, as mailsim lab up runs it in the host's network namespace:\n"
		"  mailsim serve builtin:course.scn --host mx.example.org --state DIR\n"
		"The port and --listen options do not apply there: the standard ports are free in a namespace.");
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim serve: %s\n", error->message);
		return 2;
	}
	if (events && !host) {
		fprintf(stderr, "mailsim serve: --events is for one host of a scenario (--host NAME)\n");
		g_free(events);
		return 2;
	}
	if (argc > 2 || (argc == 2 && !host) || (host && listen)) {
		fprintf(stderr, "mailsim serve: %s\n",
		        host ? (listen ? "--host listens at the host's scenario address: no --listen"
		                       : "one scenario at most")
		             : "a scenario's hosts each have their own address: give --host NAME "
		               "(mailsim lab up runs them all)");
		return 2;
	}
	if (host) {
		HostServe hs = { .scenario = argc == 2 ? argv[1] : "builtin:course.scn", .host = host,
		                 .state = state ? state : "./mailsim-data", .cert_file = cert_file,
		                 .key_file = key_file, .plaintext = plaintext, .fsync_off = fsync_off,
		                 .events = events };
		int hrc = serve_host(&hs);   /* its limits are the scenario's settings */
		g_free(events);
		g_free(limit_exceptions);
		g_free(host);
		g_free(state);
		g_free(cert_file);
		g_free(key_file);
		return hrc;
	}
	gint *all[] = { &p.smtp, &p.submission, &p.smtps, &p.imap, &p.imaps, &p.pop3, &p.pop3s, &p.dns, &p.lmtp, &p.auth };
	for (guint i = 0; i < G_N_ELEMENTS(all); i++)
		if (*all[i] < 0 || *all[i] > 65535) {
			fprintf(stderr, "mailsim serve: ports are 0..65535\n");
			return 2;
		}
	if (conn_count < -1 || conn_rate < -1 || smtpd_timeout == 0 || smtpd_timeout < -1) {
		fprintf(stderr, "mailsim serve: limits are 0 or more, the time-out 1 s or more\n");
		return 2;
	}
	const char *addr = listen ? listen : "127.0.0.1";
	const char *dir = state ? state : "./mailsim-data";
	gboolean loopback = g_str_has_prefix(addr, "127.") || !strcmp(addr, "::1");
	/* Known passwords on a network others reach would be an open door. */
	gboolean make_demo = !no_demo && (loopback || demo);

	/* Real time, real randomness: queue ids and Message-IDs must not repeat
	 * after a restart, as a seeded simulation's would. */
	guint64 seed = (guint64)g_get_real_time();
	MsSched *s = ms_sched_new(MS_SCHED_REAL, seed);
	UiTextOptions topts = { .color = isatty(STDOUT_FILENO) };
	ms_bus_add_sink(ms_sched_bus(s), ui_text_sink_new(stdout, &topts));
	MsStack *st = ms_realnet_stack_new(s, "mailsim", addr);
	MsStack *mda_st = ms_realnet_stack_new(s, "mda", addr);
	MsStack *mra_st = ms_realnet_stack_new(s, "mra", addr);
	MsStack *dns_st = ms_realnet_stack_new(s, "dns", addr);
	int rc = 0;
	DnsServer *dns = NULL;
	Mda *mda = NULL;
	Mta *mta = NULL;
	Mra *mra = NULL;
	GThread *sig = NULL;
	MsDnsDirectory *dirdns = NULL;
	GTlsCertificate *cert = NULL;
	g_autofree char *cert_path = NULL, *key_path = NULL;

	if (g_mkdir_with_parents(dir, 0700) != 0) {
		fprintf(stderr, "mailsim serve: cannot create %s\n", dir);
		rc = 2;
		goto out;
	}
	cert_path = cert_file ? g_strdup(cert_file) : g_build_filename(dir, "tls", "cert.pem", NULL);
	key_path = key_file ? g_strdup(key_file) : g_build_filename(dir, "tls", "key.pem", NULL);
	if (!cert_file && !g_file_test(cert_path, G_FILE_TEST_EXISTS) &&
	    !make_certificate(cert_path, key_path, "mail.example.org",
	                      "DNS:mail.example.org,DNS:localhost,IP:127.0.0.1", &error))
		goto fail;
	cert = g_tls_certificate_new_from_files(cert_path, key_path, &error);
	if (!cert)
		goto fail;
	dns = dns_server_new(dns_st, "dns");
	dns_server_set_log_queries(dns, TRUE);
	for (guint i = 0; i < 2; i++) {
		const char *domain = i ? "example.com" : "example.org";
		g_autofree char *z = zone_text(domain, addr);
		if (!dns_server_add_zone_text(dns, domain, z, domain, 1, &error))
			goto fail;
	}
	dirdns = ms_dns_directory_new(addr, (guint16)p.dns, "dns");

	MdaConfig dc = { .hostname = "mail.example.org", .state_dir = dir, .lmtp_port = (guint16)p.lmtp,
	                 .authsvc_port = (guint16)p.auth, .fsync = !fsync_off, .seed = seed,
	                 .epoch_us = g_get_real_time() - ms_sched_now(s),
	                 .mta_port = (guint16)p.smtp };
	mda = mda_new(mda_st, &dc, &error);
	if (!mda)
		goto fail;
	if (make_demo)
		for (guint i = 0; i < G_N_ELEMENTS(demo_users); i++)
			if (!mda_add_user(mda, demo_users[i], SERVE_DEMO_PASSWORD, 0, NULL))
				g_debug("%s already exists", demo_users[i]);   /* a state dir kept from last time */

	MtaConfig mc = { .hostname = "mail.example.org", .state_dir = dir, .fsync = !fsync_off,
	                 .smtp_port = (guint16)p.smtp, .submission_port = (guint16)p.submission,
	                 .smtps_port = (guint16)p.smtps, .tls_cert = cert, .auth_needs_tls = !plaintext,
	                 .mydestination = "example.org example.com", .mynetworks = "127.0.0.1/32",
	                 .dns = dirdns, .mda_address = addr, .lmtp_port = (guint16)p.lmtp,
	                 .authsvc_port = (guint16)p.auth, .mda_name = "mda", .seed = seed,
	                 .epoch_us = dc.epoch_us,
	                 .client_connection_count_limit = conn_count < 0 ? 0 : conn_count == 0 ? MTA_NO_LIMIT : (guint)conn_count,
	                 .client_connection_rate_limit = conn_rate <= 0 ? 0 : (guint)conn_rate,
	                 .client_event_limit_exceptions = limit_exceptions,
	                 .smtpd_timeout = smtpd_timeout < 0 ? 0 : smtpd_timeout * MS_SECOND };
	mta = mta_new(st, &mc, &error);
	if (!mta)
		goto fail;
	MraConfig rc_ = { .hostname = "mail.example.org", .state_dir = dir, .imap_port = (guint16)p.imap,
	                  .pop3_port = (guint16)p.pop3, .authsvc_address = addr,
	                  .authsvc_port = (guint16)p.auth, .fsync = !fsync_off, .seed = seed,
	                  .epoch_us = dc.epoch_us, .tls_cert = cert, .login_needs_tls = !plaintext,
	                  .imaps_port = (guint16)p.imaps, .pop3s_port = (guint16)p.pop3s };
	mra = mra_new(mra_st, &rc_, &error);
	if (!mra)
		goto fail;

	sig = ms_signals_watch(s);
	if (!dns_server_start(dns, addr, (guint16)p.dns, &error) || !mda_start(mda, &error) ||
	    !mta_start(mta, &error) || !mra_start(mra, &error))
		goto fail;
	printf("mailsim serve: the course's mail system on %s (state in %s)\n"
	       "  SMTP %u, submission %u (STARTTLS), SMTPS %u, IMAP %u (STARTTLS), IMAPS %u, POP3 %u (STLS), POP3S %u,\n"
	       "  DNS %u (UDP+TCP), LMTP %u, account service %u\n",
	       addr, dir, mta_smtp_port(mta), mta_submission_port(mta), mta_smtps_port(mta), (guint)p.imap,
	       (guint)p.imaps, (guint)p.pop3, (guint)p.pop3s, dns_server_udp_port(dns), mda_lmtp_port(mda),
	       mda_authsvc_port(mda));
	if (make_demo)
		printf("  demo accounts: alice@example.org and bob@example.org, password \"%s\"\n", SERVE_DEMO_PASSWORD);
	else
		printf("  no demo accounts (listening beyond loopback); add users with: mailsim accounts --state %s add …\n", dir);
	printf("  TLS certificate: %s (self-signed unless --cert)\n", cert_path);
	printf(plaintext ? "  passwords are accepted before STARTTLS (--allow-plaintext-auth)\n"
	                 : "  passwords only over TLS: STARTTLS/STLS first, or the implicit-TLS ports\n");
	printf("  Ctrl-C stops.\n");
	fflush(stdout);
	ms_sched_run(s, MS_FOREVER);
	printf("mailsim serve: stopping; the queue stays in %s\n", dir);
	goto out;

fail:
	fprintf(stderr, "mailsim serve: %s\n", error ? error->message : "failed");
	rc = 1;
out:
	if (mta)
		mta_stop(mta);
	if (mra)
		mra_stop(mra);
	if (mda)
		mda_stop(mda);
	if (dns)
		dns_server_stop(dns);
	ms_sched_shutdown(s);
	ms_signals_finish(sig);
	mta_free(mta);
	mra_free(mra);
	mda_free(mda);
	dns_server_free(dns);
	if (dirdns)
		ms_dns_directory_unref(dirdns);
	g_clear_object(&cert);
	g_free(cert_file);
	g_free(key_file);
	g_free(limit_exceptions);
	ms_stack_unref(st);
	ms_stack_unref(mda_st);
	ms_stack_unref(mra_st);
	ms_stack_unref(dns_st);
	ms_sched_free(s);
	g_free(state);
	g_free(listen);
	return rc;
}
