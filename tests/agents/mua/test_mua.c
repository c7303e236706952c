/* tests/agents/mua/test_mua.c - the MUA agent on the simulated Internet,
 * with the real DNS server, web server, MTA, MDA and MRA: one test per
 * discovery method (autoconfig, the well-known URL, autodiscover by SRV
 * and by host, RFC 6186, guessing, manual) and the fallback chain;
 * submission with AUTH (out.1) and the masking of the transcript; fetching
 * over IMAP and POP3 (in.8); the IMAP-versus-POP3 lesson (retr.*); TLS:
 * STARTTLS and STLS before every password, TLS from the first byte, no
 * password in the clear and no session over a certificate not accepted;
 * and alice writing to bob from set-up to the Sent copy.
 */
#include "tests/ms_test.h"
#include "agents/mua/mua.h"
#include "agents/web/web.h"
#include "agents/dns/dns_server.h"
#include "agents/mta/mta.h"
#include "agents/mda/mda.h"
#include "agents/mda/maildir.h"
#include "agents/mra/mra.h"
#include "agents/mta/smtp_client.h"
#include "agents/mua/imap_client.h"
#include "net/simnet.h"

/* ---- the world ------------------------------------------------------------------ */

#define NS_ADDR "203.0.113.53"

/* The usual zones; tests add records or use others. */
#define ZONE_COM  "$ORIGIN example.com.\n@ MX 10 mail\nmail A 192.0.2.10\n"
#define ZONE_ORG  "$ORIGIN example.org.\n@ MX 10 mx\nmx A 198.51.100.20\n"
/* A domain whose mail lives on mail.example.com but has no name a client
 * could guess. */
#define ZONE_NET  "$ORIGIN example.net.\n@ MX 10 mail.example.com.\n"

typedef struct {
	const char *name, *addr, *domain;
	const char *users[2][2];
} MailSpec;

static const MailSpec mail_specs[] = {
	{ "mail.example.com", "192.0.2.10", "example.com",
	  { { "alice@example.com", "wonderland" }, { "alice@example.net", "wonderland" } } },
	{ "mx.example.org", "198.51.100.20", "example.org", { { "bob@example.org", "builder" }, { NULL, NULL } } },
};

/* A self-signed certificate, made with openssl for these tests.  The
 * simulated network only marks a connection encrypted, but the servers
 * offer STARTTLS only when they have a certificate. */
static const char test_cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBjDCCATOgAwIBAgIUYed/P75NsXkrEbLKAu8yROi1EMMwCgYIKoZIzj0EAwIw\n"
	"GzEZMBcGA1UEAwwQbWFpbC5leGFtcGxlLmNvbTAgFw0yNjExMjUyMzQ4MTdaGA8y\n"
	"MTI2MTEwMTIzNDgxN1owGzEZMBcGA1UEAwwQbWFpbC5leGFtcGxlLmNvbTBZMBMG\n"
	"ByqGSM49AgEGCCqGSM49AwEHA0IABI7MXOuK3Vr3NtuCFuUhDPpfqxk2VGw4PZqo\n"
	"ZTJuiHy7ylFDtH94wA4Zy7MO/vJnpI6IVJrHRFiOVMuclJnAFuyjUzBRMB0GA1Ud\n"
	"DgQWBBQQW/VGogSRFezV1xWVx1lnbmaqmzAfBgNVHSMEGDAWgBQQW/VGogSRFezV\n"
	"1xWVx1lnbmaqmzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCICRz\n"
	"5G2KJqr1usm1c9NAyp82lW4KU2qsYrMEEHFf21VmAiBAtrjn1Lkt4ExdlRxOsU+t\n"
	"XJwWBn/kQ8eNDqkjLSCMGA==\n"
	"-----END CERTIFICATE-----\n"
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg6EbjHH8Udqjumehx\n"
	"8xw/RJctWaf8v5uJlp8LmxU5x+ShRANCAASOzFzrit1a9zbbghblIQz6X6sZNlRs\n"
	"OD2aqGUyboh8u8pRQ7R/eMAOGcuzDv7yZ6SOiFSax0RYjlTLnJSZwBbs\n"
	"-----END PRIVATE KEY-----\n"
;

/* Set before world_new: the mail hosts offer STARTTLS, SMTPS, IMAPS and
 * POP3S, and take passwords only over TLS, as `mailsim serve` does. */
static GTlsCertificate *tls_cert;

static void use_tls(gboolean on)
{
	g_clear_object(&tls_cert);
	if (!on)
		return;
	GError *err = NULL;
	tls_cert = g_tls_certificate_new_from_pem(test_cert_pem, -1, &err);
	ck_assert_msg(tls_cert, "%s", err ? err->message : "");
}

typedef struct {
	MsHost    *host;
	MsStack   *mda_stack, *mra_stack, *web_stack;
	Mta       *mta;
	Mda       *mda;
	Mra       *mra;
	WebServer *web;
	char      *dir;
} MailHost;

typedef struct World World;
typedef void (*Script)(World *w);

struct World {
	MsSched        *s;
	MsNet          *net;
	MsSink         *rec;
	char           *dir;
	DnsServer      *dns;
	MsDnsDirectory *dirdns;
	MailHost        mh[G_N_ELEMENTS(mail_specs)];
	MsStack        *alice_stack, *bob_stack, *bob2_stack;
	Mua            *alice, *bob, *bob2;
	Script          script;
	gboolean        done;
	/* what scripts leave for the checks */
	gboolean        ok, ok2, ok3;
	GError         *error;
	GError         *error2;
	char           *note;
};

/* The settings the world builder would hand the web server: the servers
 * that really run on the host. */
static MailConfig *settings_for(const MailSpec *spec)
{
	MailConfig *cfg = mailconfig_new(spec->domain, NULL);
	mailconfig_add_domain(cfg, spec->domain);
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_IMAP, spec->name, 143, MAILCONFIG_SOCKET_PLAIN,
	                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_POP3, spec->name, 110, MAILCONFIG_SOCKET_PLAIN,
	                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
	mailconfig_add_server(cfg, MAILCONFIG_PROTOCOL_SMTP, spec->name, 587, MAILCONFIG_SOCKET_PLAIN,
	                      MAILCONFIG_AUTH_PASSWORD_CLEARTEXT, "%EMAILADDRESS%");
	return cfg;
}

static void build_mail_host(World *w, guint i)
{
	const MailSpec *spec = &mail_specs[i];
	MailHost *m = &w->mh[i];
	GError *err = NULL;
	m->host = ms_net_add_host(w->net, spec->name, spec->addr, NULL);
	m->dir = g_build_filename(w->dir, spec->name, NULL);
	g_autofree char *mda_name = g_strdup_printf("mda@%s", spec->name);
	g_autofree char *mra_name = g_strdup_printf("mra@%s", spec->name);
	g_autofree char *web_name = g_strdup_printf("web@%s", spec->name);
	m->mda_stack = ms_host_stack_alias(m->host, mda_name);
	m->mra_stack = ms_host_stack_alias(m->host, mra_name);
	m->web_stack = ms_host_stack_alias(m->host, web_name);

	MdaConfig dc = { .hostname = spec->name, .state_dir = m->dir, .seed = 1 };
	m->mda = mda_new(m->mda_stack, &dc, &err);
	ck_assert_msg(m->mda, "%s", err ? err->message : "");
	for (guint u = 0; u < G_N_ELEMENTS(spec->users) && spec->users[u][0]; u++) {
		const char *at = strchr(spec->users[u][0], '@');
		mda_add_domain(m->mda, at + 1, NULL);
		ck_assert(mda_add_user(m->mda, spec->users[u][0], spec->users[u][1], 0, NULL));
	}
	g_autofree char *mynetworks = g_strdup_printf("127.0.0.0/8 %s/32", spec->addr);
	const char *mydest = i == 0 ? "example.com, example.net" : "example.org";
	MtaConfig mc = {
		.hostname = spec->name, .state_dir = m->dir, .submission_port = MTA_SUBMISSION_PORT,
		.mydestination = mydest, .mynetworks = mynetworks, .dns = w->dirdns,
		.mda_address = spec->addr, .mda_name = mda_name, .epoch_us = MTA_SIM_EPOCH_US, .seed = 1,
		.tls_cert = tls_cert, .auth_needs_tls = tls_cert != NULL, .smtps_port = tls_cert ? MUA_SUBMISSIONS_PORT : 0,
	};
	m->mta = mta_new(ms_host_stack(m->host), &mc, &err);
	ck_assert_msg(m->mta, "%s", err ? err->message : "");
	MraConfig rc = { .hostname = spec->name, .state_dir = m->dir, .seed = 1, .tls_cert = tls_cert,
	                 .login_needs_tls = tls_cert != NULL, .imaps_port = tls_cert ? MUA_IMAPS_PORT : 0,
	                 .pop3s_port = tls_cert ? MUA_POP3S_PORT : 0 };
	m->mra = mra_new(m->mra_stack, &rc, &err);
	ck_assert_msg(m->mra, "%s", err ? err->message : "");
	WebConfig wc = { .hostname = spec->name };
	m->web = web_new(m->web_stack, &wc);
	web_add_config(m->web, settings_for(spec));
}

static MuaConfig alice_config(MuaFlavor flavor)
{
	MuaConfig c = { .name = "alice", .flavor = flavor, .display_name = "Alice Liddell", .seed = 1 };
	return c;
}

static MuaConfig bob_config(MuaFlavor flavor)
{
	MuaConfig c = { .name = "bob", .flavor = flavor, .display_name = "Bob Builder", .seed = 2 };
	return c;
}

/* A world with zones for example.com, example.org and example.net (NULL:
 * the usual ones), the mail hosts, and the clients.  Nothing runs yet. */
static void world_new(World *w, const char *zone_com, const char *zone_org, const char *zone_net,
                      MuaConfig *alice, MuaConfig *bob, MuaConfig *bob2)
{
	memset(w, 0, sizeof *w);
	w->dir = ms_test_tmpdir();
	w->s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	w->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(w->s), w->rec);
	w->net = ms_net_new(w->s);
	ms_net_set_link(w->net, "*", "*", 10 * MS_MSEC, 0);
	MsHost *ns = ms_net_add_host(w->net, "ns.example.net", NS_ADDR, NULL);
	w->dns = dns_server_new(ms_host_stack(ns), "ns.example.net");
	const char *zones[][2] = {
		{ "example.com", zone_com ? zone_com : ZONE_COM },
		{ "example.org", zone_org ? zone_org : ZONE_ORG },
		{ "example.net", zone_net ? zone_net : ZONE_NET },
	};
	for (guint i = 0; i < G_N_ELEMENTS(zones); i++) {
		GError *err = NULL;
		ck_assert_msg(dns_server_add_zone_text(w->dns, zones[i][0], zones[i][1], zones[i][0], 1, &err),
		              "%s", err ? err->message : "");
	}
	w->dirdns = ms_dns_directory_new(NS_ADDR, 53, "ns.example.net");
	for (guint i = 0; i < G_N_ELEMENTS(mail_specs); i++)
		build_mail_host(w, i);

	MsHost *pc_alice = ms_net_add_host(w->net, "home-pc-alice", "192.0.2.77", NULL);
	MsHost *pc_bob = ms_net_add_host(w->net, "laptop-bob", "198.51.100.99", NULL);
	MsHost *pc_bob2 = ms_net_add_host(w->net, "phone-bob", "198.51.100.98", NULL);
	GError *err = NULL;
	if (alice) {
		w->alice_stack = ms_host_stack_alias(pc_alice, "alice");
		alice->dns = w->dirdns;
		w->alice = mua_new(w->alice_stack, alice, &err);
		ck_assert_msg(w->alice, "%s", err ? err->message : "");
	}
	if (bob) {
		w->bob_stack = ms_host_stack_alias(pc_bob, "bob");
		bob->dns = w->dirdns;
		w->bob = mua_new(w->bob_stack, bob, &err);
		ck_assert_ptr_nonnull(w->bob);
	}
	if (bob2) {
		w->bob2_stack = ms_host_stack_alias(pc_bob2, "bob-phone");
		bob2->dns = w->dirdns;
		w->bob2 = mua_new(w->bob2_stack, bob2, &err);
		ck_assert_ptr_nonnull(w->bob2);
	}
}

static void script_task(gpointer data)
{
	World *w = data;
	w->script(w);
	w->done = TRUE;
}

static void world_run(World *w, Script script)
{
	ck_assert(dns_server_start(w->dns, NULL, 53, NULL));
	for (guint i = 0; i < G_N_ELEMENTS(mail_specs); i++) {
		GError *err = NULL;
		ck_assert_msg(mda_start(w->mh[i].mda, &err), "%s", err ? err->message : "");
		ck_assert_msg(mta_start(w->mh[i].mta, &err), "%s", err ? err->message : "");
		ck_assert_msg(mra_start(w->mh[i].mra, &err), "%s", err ? err->message : "");
		ck_assert_msg(web_start(w->mh[i].web, &err), "%s", err ? err->message : "");
	}
	w->script = script;
	ms_task_spawn(w->s, "runner", script_task, w);
	ck_assert(ms_sched_run(w->s, MS_FOREVER));
	ck_assert_msg(w->done, "the script did not finish");
}

static void world_free(World *w)
{
	for (guint i = 0; i < G_N_ELEMENTS(mail_specs); i++) {
		web_stop(w->mh[i].web);
		mra_stop(w->mh[i].mra);
		mta_stop(w->mh[i].mta);
		mda_stop(w->mh[i].mda);
	}
	dns_server_stop(w->dns);
	ms_sched_shutdown(w->s);
	mua_free(w->alice);
	mua_free(w->bob);
	mua_free(w->bob2);
	for (guint i = 0; i < G_N_ELEMENTS(mail_specs); i++) {
		MailHost *m = &w->mh[i];
		web_free(m->web);
		mra_free(m->mra);
		mta_free(m->mta);
		mda_free(m->mda);
		ms_stack_unref(m->mda_stack);
		ms_stack_unref(m->mra_stack);
		ms_stack_unref(m->web_stack);
		g_free(m->dir);
	}
	if (w->alice_stack)
		ms_stack_unref(w->alice_stack);
	if (w->bob_stack)
		ms_stack_unref(w->bob_stack);
	if (w->bob2_stack)
		ms_stack_unref(w->bob2_stack);
	dns_server_free(w->dns);
	ms_dns_directory_unref(w->dirdns);
	ms_net_free(w->net);
	ms_sched_free(w->s);
	ms_test_rmtree(w->dir);
	g_free(w->dir);
	g_clear_error(&w->error);
	g_clear_error(&w->error2);
	g_free(w->note);
	use_tls(FALSE);
}

/* ---- looking at what happened ------------------------------------------------------- */

static const MsEvent *find(World *w, MsEventKind kind, const char *from, const char *step, const char *needle)
{
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		if ((kind == (MsEventKind)-1 || e->kind == kind) && (!from || !g_strcmp0(e->from, from)) &&
		    (!step || !g_strcmp0(e->step, step)) && (!needle || (e->text && strstr(e->text, needle))))
			return e;
	}
	return NULL;
}

static void assert_saw(World *w, MsEventKind kind, const char *from, const char *step, const char *needle)
{
	ck_assert_msg(find(w, kind, from, step, needle), "no %s event from %s, step %s, with \"%s\"",
	              ms_event_kind_to_string(kind), from ? from : "anyone", step ? step : "any", needle);
}

/* The course steps of who's STEP events, in order, without repeats. */
static char *steps_of(World *w, const char *who)
{
	GString *s = g_string_new(NULL);
	const char *last = NULL;
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind != MS_EV_STEP || g_strcmp0(e->from, who) || !e->step || !g_strcmp0(last, e->step))
			continue;
		g_string_append_printf(s, "%s%s", s->len ? " " : "", e->step);
		last = e->step;
	}
	return g_string_free(s, FALSE);
}

/* No event anywhere shows a password, nor the base64 forms that carry it. */
static void assert_no_secrets(World *w)
{
	const char *secrets[] = { "wonderland", "builder" };
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	for (guint k = 0; k < G_N_ELEMENTS(secrets); k++) {
		g_autofree char *b64 = g_base64_encode((const guchar *)secrets[k], strlen(secrets[k]));
		g_autofree char *plain_alice = g_base64_encode((const guchar *)"\0alice@example.com\0wonderland", 29);
		for (guint i = 0; i < evs->len; i++) {
			const MsEvent *e = g_ptr_array_index(evs, i);
			if (!e->text)
				continue;
			ck_assert_msg(!strstr(e->text, secrets[k]), "secret in event: %s", e->text);
			ck_assert_msg(!strstr(e->text, b64), "base64 secret in event: %s", e->text);
			ck_assert_msg(!strstr(e->text, plain_alice), "PLAIN secret in event: %s", e->text);
		}
	}
}

/* Messages in a folder of a user's Maildir on a mail host ("" is INBOX). */
static guint maildir_count(World *w, guint host, const char *address, const char *folder)
{
	g_autofree char *mail = g_build_filename(w->mh[host].dir, MDA_MAIL_DIR, NULL);
	g_autofree char *root = maildir_user_root(mail, address, NULL);
	ck_assert_ptr_nonnull(root);
	g_autofree char *dotted = *folder ? g_strconcat(".", folder, NULL) : g_strdup("");
	guint n = 0;
	static const char *const subs[] = { "new", "cur" };
	for (guint i = 0; i < 2; i++) {
		g_autofree char *d = g_build_filename(root, dotted, subs[i], NULL);
		GDir *dir = g_dir_open(d, 0, NULL);
		if (!dir)
			continue;
		while (g_dir_read_name(dir))
			n++;
		g_dir_close(dir);
	}
	return n;
}

static const MuaLocalMessage *local_first(Mua *mua, const char *folder)
{
	GPtrArray *msgs = mua_local_messages(mua, folder);
	ck_assert_msg(msgs && msgs->len > 0, "%s has nothing in %s", mua_name(mua), folder);
	return g_ptr_array_index(msgs, 0);
}

static guint local_count(Mua *mua, const char *folder)
{
	GPtrArray *msgs = mua_local_messages(mua, folder);
	return msgs ? msgs->len : 0;
}

/* ---- setup: one test per method --------------------------------------------------------- */

static void setup_alice(World *w)
{
	w->ok = mua_setup_account(w->alice, "alice@example.com", "wonderland", &w->error);
}

static void check_servers(World *w, Mua *mua, MuaMethod method, MailConfigProtocol in_proto,
                          const char *in_host, guint16 in_port, const char *out_host)
{
	ck_assert_msg(w->ok, "setup failed: %s", w->error ? w->error->message : "");
	ck_assert_msg(mua_setup_method(mua) == method, "found by %s", mua_method_to_string(mua_setup_method(mua)));
	const MailConfigServer *in = mua_incoming_server(mua), *out = mua_outgoing_server(mua);
	ck_assert_int_eq(in->protocol, in_proto);
	ck_assert_str_eq(in->hostname, in_host);
	ck_assert_uint_eq(in->port, in_port);
	ck_assert_str_eq(out->hostname, out_host);
	ck_assert_uint_eq(out->port, 587);
	ck_assert_str_eq(in->username, mua_address(mua));
}

START_TEST(test_thunderbird_autoconfig)
{
	World w;
	MuaConfig a = alice_config(MUA_FLAVOR_THUNDERBIRD);
	world_new(&w, ZONE_COM "autoconfig A 192.0.2.10\n", NULL, NULL, &a, NULL, NULL);
	world_run(&w, setup_alice);
	check_servers(&w, w.alice, MUA_METHOD_AUTOCONFIG, MAILCONFIG_PROTOCOL_IMAP, "mail.example.com", 143,
	              "mail.example.com");
	g_autofree char *steps = steps_of(&w, "alice");
	ck_assert_str_eq(steps, "setup.1 setup.4 setup.7");
	assert_saw(&w, MS_EV_STEP, "alice", "setup.1", "address (alice@example.com) and a password (••••••)");
	/* Thunderbird needs no special record: it asks DNS for the web server's address */
	assert_saw(&w, MS_EV_DNS_QUERY, "alice", "setup.4", "autoconfig.example.com");
	assert_saw(&w, MS_EV_SEND, "alice", "setup.4",
	           "C: GET /mail/config-v1.1.xml?emailaddress=alice%40example.com HTTP/1.1");
	assert_saw(&w, MS_EV_SEND, "alice", "setup.4", "C: Host: autoconfig.example.com");
	assert_saw(&w, MS_EV_SEND, "web@mail.example.com", "setup.4", "S: HTTP/1.1 200 OK");
	assert_saw(&w, MS_EV_STEP, "alice", "setup.7", "incoming IMAP mail.example.com port 143, outgoing SMTP "
	           "mail.example.com port 587, user alice@example.com");
	assert_saw(&w, MS_EV_NOTE, "alice", "setup.7", "one name, mail.example.com, for both");
	ck_assert_ptr_null(find(&w, MS_EV_ERROR, "alice", NULL, NULL));
	assert_no_secrets(&w);
	world_free(&w);
}
END_TEST

START_TEST(test_thunderbird_well_known)
{
	World w;
	MuaConfig a = alice_config(MUA_FLAVOR_THUNDERBIRD);
	world_new(&w, ZONE_COM "@ A 192.0.2.10\n", NULL, NULL, &a, NULL, NULL);
	world_run(&w, setup_alice);
	check_servers(&w, w.alice, MUA_METHOD_WELL_KNOWN, MAILCONFIG_PROTOCOL_IMAP, "mail.example.com", 143,
	              "mail.example.com");
	/* the first method fails visibly and names the next */
	assert_saw(&w, MS_EV_ERROR, "alice", "setup.4",
	           "autoconfig failed: autoconfig.example.com does not exist (NXDOMAIN); next: well-known autoconfig");
	assert_saw(&w, MS_EV_SEND, "alice", "setup.4",
	           "C: GET /.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.com HTTP/1.1");
	assert_saw(&w, MS_EV_SEND, "alice", "setup.4", "C: Host: example.com");
	world_free(&w);
}
END_TEST

START_TEST(test_thunderbird_falls_back_to_guessing)
{
	World w;
	MuaConfig a = alice_config(MUA_FLAVOR_THUNDERBIRD);
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, setup_alice);
	check_servers(&w, w.alice, MUA_METHOD_GUESS, MAILCONFIG_PROTOCOL_IMAP, "mail.example.com", 143,
	              "mail.example.com");
	g_autofree char *steps = steps_of(&w, "alice");
	ck_assert_str_eq(steps, "setup.1 setup.4 setup.5 setup.7");
	assert_saw(&w, MS_EV_ERROR, "alice", "setup.4", "next: guessing");
	/* guessing really probes: DNS, a connection, a greeting, capabilities */
	assert_saw(&w, MS_EV_ERROR, "alice", "setup.5", "guess imap.example.com");
	assert_saw(&w, MS_EV_DNS_QUERY, "alice", "setup.5", "mail.example.com");
	assert_saw(&w, MS_EV_SEND, "mra@mail.example.com", NULL, "S: * OK");
	assert_saw(&w, MS_EV_SEND, "alice", "setup.5", "C: A001 CAPABILITY");
	assert_saw(&w, MS_EV_NOTE, "alice", "setup.5", "mail.example.com port 143 answers as a imap server");
	assert_saw(&w, MS_EV_SEND, "alice", "setup.5", "C: EHLO [192.0.2.77]");
	assert_saw(&w, MS_EV_NOTE, "alice", "setup.5", "mail.example.com port 587 answers as a smtp server");
	world_free(&w);
}
END_TEST

static void setup_alice_pop3(World *w)
{
	w->ok = mua_setup_account(w->alice, "alice@example.com", "wonderland", &w->error);
}

START_TEST(test_guessing_prefers_pop3_when_asked)
{
	World w;
	MuaConfig a = alice_config(MUA_FLAVOR_THUNDERBIRD);
	a.incoming = MUA_PROTOCOL_POP3;
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, setup_alice_pop3);
	check_servers(&w, w.alice, MUA_METHOD_GUESS, MAILCONFIG_PROTOCOL_POP3, "mail.example.com", 110,
	              "mail.example.com");
	assert_saw(&w, MS_EV_SEND, "alice", "setup.5", "C: CAPA");
	world_free(&w);
}
END_TEST

static void setup_bob(World *w)
{
	w->ok = mua_setup_account(w->bob, "bob@example.org", "builder", &w->error);
}

START_TEST(test_outlook_autodiscover_srv)
{
	World w;
	MuaConfig b = bob_config(MUA_FLAVOR_OUTLOOK);
	world_new(&w, NULL, ZONE_ORG "_autodiscover._tcp SRV 0 0 80 mx.example.org.\n", NULL, NULL, &b, NULL);
	world_run(&w, setup_bob);
	check_servers(&w, w.bob, MUA_METHOD_AUTODISCOVER_SRV, MAILCONFIG_PROTOCOL_IMAP, "mx.example.org", 143,
	              "mx.example.org");
	g_autofree char *steps = steps_of(&w, "bob");
	ck_assert_str_eq(steps, "setup.1 setup.2 setup.3 setup.7");
	assert_saw(&w, MS_EV_DNS_QUERY, "bob", "setup.2", "_autodiscover._tcp.example.org");
	assert_saw(&w, MS_EV_NOTE, "bob", "setup.2", "the record points at the web server mx.example.org port 80");
	assert_saw(&w, MS_EV_SEND, "bob", "setup.3", "C: POST /autodiscover/autodiscover.xml HTTP/1.1");
	assert_saw(&w, MS_EV_SEND, "bob", "setup.3", "C: (Autodiscover request for bob@example.org, ");
	assert_saw(&w, MS_EV_SEND, "web@mx.example.org", "setup.3", "S: HTTP/1.1 200 OK");
	world_free(&w);
}
END_TEST

START_TEST(test_outlook_autodiscover_host)
{
	World w;
	MuaConfig b = bob_config(MUA_FLAVOR_OUTLOOK);
	world_new(&w, NULL, ZONE_ORG "autodiscover CNAME mx\n", NULL, NULL, &b, NULL);
	world_run(&w, setup_bob);
	check_servers(&w, w.bob, MUA_METHOD_AUTODISCOVER_HOST, MAILCONFIG_PROTOCOL_IMAP, "mx.example.org", 143,
	              "mx.example.org");
	assert_saw(&w, MS_EV_ERROR, "bob", "setup.2", "autodiscover (SRV) failed: no SRV record "
	           "_autodiscover._tcp.example.org (NXDOMAIN); next: autodiscover (host)");
	assert_saw(&w, MS_EV_DNS_QUERY, "bob", "setup.2", "autodiscover.example.org");
	assert_saw(&w, MS_EV_SEND, "bob", "setup.3", "C: Host: autodiscover.example.org");
	world_free(&w);
}
END_TEST

/* A web server that moved: it answers every request with a 302 to the
 * real one (Outlook's "HTTP redirect method"). */
typedef struct {
	MsListener *l;
	guint       served;
} Mover;

static void mover_task(gpointer data)
{
	Mover *mv = data;
	MsConn *c;
	while ((c = ms_listener_accept(mv->l, NULL))) {
		ms_conn_set_proto(c, "http");
		char line[1024];
		MsEol eol;
		gsize length = 0;
		for (;;) {
			gssize n = ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
			if (n <= 0)
				break;
			if (g_ascii_strncasecmp(line, "Content-Length:", 15) == 0)
				length = (gsize)g_ascii_strtoull(line + 15, NULL, 10);
		}
		g_autofree char *body = g_malloc(length + 1);
		ms_conn_read_exact(c, body, length, NULL);
		static const char reply[] = "HTTP/1.1 302 Found\r\n"
		                            "Location: http://mx.example.org/autodiscover/autodiscover.xml\r\n"
		                            "Content-Length: 0\r\nConnection: close\r\n\r\n";
		ms_conn_write(c, reply, strlen(reply), NULL);
		mv->served++;
		ms_conn_close(c);
		ms_conn_unref(c);
	}
}

START_TEST(test_outlook_follows_http_redirect)
{
	World w;
	MuaConfig b = bob_config(MUA_FLAVOR_OUTLOOK);
	world_new(&w, NULL, ZONE_ORG "autodiscover A 198.51.100.30\n", NULL, NULL, &b, NULL);
	MsHost *old = ms_net_add_host(w.net, "old-web.example.org", "198.51.100.30", NULL);
	Mover mv = { .l = ms_stack_listen(ms_host_stack(old), NULL, 80, NULL) };
	ms_task_spawn(w.s, "mover", mover_task, &mv);
	world_run(&w, setup_bob);
	check_servers(&w, w.bob, MUA_METHOD_AUTODISCOVER_HOST, MAILCONFIG_PROTOCOL_IMAP, "mx.example.org", 143,
	              "mx.example.org");
	ck_assert_uint_eq(mv.served, 1);
	assert_saw(&w, MS_EV_NOTE, "bob", "setup.3", "302 redirect to http://mx.example.org/autodiscover/autodiscover.xml");
	/* the request goes again, whole, to where the redirect points */
	assert_saw(&w, MS_EV_SEND, "bob", "setup.3", "C: Host: mx.example.org");
	assert_saw(&w, MS_EV_SEND, "web@mx.example.org", "setup.3", "S: HTTP/1.1 200 OK");
	ms_listener_close(mv.l);
	world_free(&w);
	ms_listener_free(mv.l);
}
END_TEST

START_TEST(test_rfc6186_srv_records)
{
	World w;
	MuaConfig b = bob_config(MUA_FLAVOR_RFC6186);
	world_new(&w, NULL,
	          ZONE_ORG
	          "_submission._tcp SRV 0 1 587 mx.example.org.\n"
	          "_imaps._tcp SRV 0 1 993 mx.example.org.\n"
	          "_imap._tcp SRV 10 1 143 mx.example.org.\n"
	          "_pop3._tcp SRV 20 1 110 mx.example.org.\n"
	          "_pop3s._tcp SRV 0 0 0 .\n",
	          NULL, NULL, &b, NULL);
	world_run(&w, setup_bob);
	check_servers(&w, w.bob, MUA_METHOD_SRV, MAILCONFIG_PROTOCOL_IMAP, "mx.example.org", 993, "mx.example.org");
	assert_saw(&w, MS_EV_DNS_QUERY, "bob", "setup.2", "_submission._tcp.example.org");
	assert_saw(&w, MS_EV_DNS_QUERY, "bob", "setup.2", "_pop3s._tcp.example.org");
	/* _imaps comes first (priority 0): TLS from the first byte, said at setup.7 */
	ck_assert_int_eq(mua_incoming_server(w.bob)->socket, MAILCONFIG_SOCKET_SSL);
	assert_saw(&w, MS_EV_NOTE, "bob", "setup.7", "mx.example.org port 993, connection security SSL/TLS");
	world_free(&w);
}
END_TEST

static void setup_alice_net(World *w)
{
	w->ok = mua_setup_account(w->alice, "alice@example.net", "wonderland", &w->error);
}

START_TEST(test_nothing_found_then_manual)
{
	World w;
	MuaConfig a = alice_config(MUA_FLAVOR_THUNDERBIRD);
	a.manual_incoming_host = "mail.example.com";
	a.manual_outgoing_host = "mail.example.com";
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, setup_alice_net);
	check_servers(&w, w.alice, MUA_METHOD_MANUAL, MAILCONFIG_PROTOCOL_IMAP, "mail.example.com", 143,
	              "mail.example.com");
	g_autofree char *steps = steps_of(&w, "alice");
	ck_assert_str_eq(steps, "setup.1 setup.4 setup.5 setup.6 setup.7");
	assert_saw(&w, MS_EV_ERROR, "alice", "setup.5", "guessing failed: no incoming or outgoing server "
	           "answered under example.net; next: manual settings");
	assert_saw(&w, MS_EV_STEP, "alice", "setup.6", "alice types the server settings by hand: incoming IMAP "
	           "mail.example.com port 143, outgoing SMTP mail.example.com port 587");
	world_free(&w);
}
END_TEST

START_TEST(test_nothing_at_all)
{
	World w;
	MuaConfig a = alice_config(MUA_FLAVOR_OUTLOOK);
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, setup_alice_net);
	ck_assert(!w.ok);
	ck_assert(g_error_matches(w.error, MUA_ERROR, MUA_ERROR_NO_SERVERS));
	ck_assert_ptr_null(mua_incoming_server(w.alice));
	ck_assert_int_eq(mua_setup_method(w.alice), MUA_METHOD_COUNT);
	g_autofree char *steps = steps_of(&w, "alice");
	ck_assert_str_eq(steps, "setup.1 setup.2 setup.5 setup.6");
	assert_saw(&w, MS_EV_STEP, "alice", "setup.6", "has none to type");
	assert_saw(&w, MS_EV_ERROR, "alice", "setup.6", "manual settings failed: no server settings to type");
	/* an action without an account says so */
	world_free(&w);
}
END_TEST

START_TEST(test_autoconfig_404_falls_through)
{
	/* autoconfig.example.net answers, but knows nothing of example.net */
	World w;
	MuaConfig a = alice_config(MUA_FLAVOR_THUNDERBIRD);
	a.manual_incoming_host = "192.0.2.10";
	a.manual_outgoing_host = "192.0.2.10";
	a.manual_incoming_protocol = MUA_PROTOCOL_POP3;
	world_new(&w, NULL, NULL, ZONE_NET "autoconfig A 192.0.2.10\n", &a, NULL, NULL);
	world_run(&w, setup_alice_net);
	check_servers(&w, w.alice, MUA_METHOD_MANUAL, MAILCONFIG_PROTOCOL_POP3, "192.0.2.10", 110, "192.0.2.10");
	assert_saw(&w, MS_EV_SEND, "web@mail.example.com", NULL, "S: HTTP/1.1 404 Not Found");
	assert_saw(&w, MS_EV_ERROR, "alice", "setup.4", "autoconfig.example.net answered 404 Not Found");
	world_free(&w);
}
END_TEST

static void setup_manual_flavour(World *w)
{
	w->ok = mua_setup_account(w->alice, "alice@example.com", "wonderland", &w->error);
	w->ok2 = mua_setup_account(w->alice, "no-domain", "x", &w->error2);
}

START_TEST(test_manual_flavour)
{
	World w;
	MuaConfig a = alice_config(MUA_FLAVOR_MANUAL);
	a.manual_incoming_host = "mail.example.com";
	a.manual_outgoing_host = "mail.example.com";
	a.manual_outgoing_port = 587;
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, setup_manual_flavour);
	ck_assert(w.ok);
	g_autofree char *steps = steps_of(&w, "alice");
	ck_assert_str_eq(steps, "setup.1 setup.6 setup.7");
	ck_assert(!w.ok2);
	ck_assert(g_error_matches(w.error2, MUA_ERROR, MUA_ERROR_CONFIG));
	world_free(&w);
}
END_TEST

/* ---- out.1: submission ------------------------------------------------------------------ */

static MuaConfig manual_alice(void)
{
	MuaConfig a = alice_config(MUA_FLAVOR_MANUAL);
	a.manual_incoming_host = "mail.example.com";
	a.manual_outgoing_host = "mail.example.com";
	return a;
}

static MuaConfig manual_bob(MuaProtocol p, const char *name)
{
	MuaConfig b = bob_config(MUA_FLAVOR_MANUAL);
	b.name = name;
	b.manual_incoming_protocol = p;
	b.manual_incoming_host = "mx.example.org";
	b.manual_outgoing_host = "mx.example.org";
	return b;
}

static void send_to_bob(World *w)
{
	MuaMessage m = {
		.to = "Bob Builder <bob@example.org>",
		.bcc = "alice@example.net",
		.subject = "Hello Bob",
		.body = "See you at 5?\n",
	};
	w->ok = mua_setup_account(w->alice, "alice@example.com", "wonderland", &w->error) &&
	        mua_send(w->alice, &m, &w->error);
	ms_sleep(30 * MS_SECOND);   /* the MTA relays to example.org */
}

/* The text of the only message in a Maildir folder. */
static char *maildir_first(World *w, guint host, const char *address)
{
	g_autofree char *mail = g_build_filename(w->mh[host].dir, MDA_MAIL_DIR, NULL);
	g_autofree char *root = maildir_user_root(mail, address, NULL);
	static const char *const subs[] = { "new", "cur" };
	for (guint i = 0; i < 2; i++) {
		g_autofree char *d = g_build_filename(root, subs[i], NULL);
		GDir *dir = g_dir_open(d, 0, NULL);
		const char *name = dir ? g_dir_read_name(dir) : NULL;
		char *data = NULL;
		if (name) {
			g_autofree char *path = g_build_filename(d, name, NULL);
			g_file_get_contents(path, &data, NULL, NULL);
		}
		if (dir)
			g_dir_close(dir);
		if (data)
			return data;
	}
	return NULL;
}

START_TEST(test_send_submission_with_auth)
{
	World w;
	MuaConfig a = manual_alice();
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, send_to_bob);
	ck_assert_msg(w.ok, "%s", w.error ? w.error->message : "");
	/* out.1: the client logs in on 587, the password masked */
	assert_saw(&w, MS_EV_STEP, "alice", "out.1", "alice sends “Hello Bob” to bob@example.org, alice@example.net "
	           "through mail.example.com port 587, logging in as alice@example.com");
	assert_saw(&w, MS_EV_CONNECT, "alice", NULL, "-> 192.0.2.10:587");
	assert_saw(&w, MS_EV_SEND, "alice", "out.1", "C: EHLO [192.0.2.77]");
	assert_saw(&w, MS_EV_SEND, "alice", "out.1", "C: AUTH PLAIN ••••••");
	assert_saw(&w, MS_EV_SEND, "alice", "out.1", "C: MAIL FROM:<alice@example.com>");
	assert_saw(&w, MS_EV_SEND, "alice", "out.1", "C: RCPT TO:<alice@example.net>");
	assert_saw(&w, MS_EV_NOTE, "alice", "out.1", "mail.example.com accepted “Hello Bob” for delivery");
	assert_no_secrets(&w);
	/* it travelled on to bob, and to the Bcc, who is not in the header */
	g_autofree char *at_bob = maildir_first(&w, 1, "bob@example.org");
	ck_assert_ptr_nonnull(at_bob);
	ck_assert_ptr_nonnull(strstr(at_bob, "\nFrom: Alice Liddell <alice@example.com>\r\n"));
	ck_assert_ptr_nonnull(strstr(at_bob, "\nTo: Bob Builder <bob@example.org>\r\n"));
	ck_assert_ptr_nonnull(strstr(at_bob, "\nSubject: Hello Bob\r\n"));
	ck_assert_ptr_nonnull(strstr(at_bob, "\nDate: Thu, 1 Jan 2026 00:00:"));
	ck_assert_ptr_nonnull(strstr(at_bob, "\nMIME-Version: 1.0\r\n"));
	ck_assert_ptr_null(strstr(at_bob, "Bcc"));
	ck_assert_ptr_null(strstr(at_bob, "example.net"));
	ck_assert_uint_eq(maildir_count(&w, 0, "alice@example.net", ""), 1);
	/* the Sent copy: IMAP APPEND into the server's Sent folder (retr.3) */
	ck_assert_uint_eq(maildir_count(&w, 0, "alice@example.com", "Sent"), 1);
	assert_saw(&w, MS_EV_SEND, "alice", "retr.3", "APPEND Sent (\\Seen) {");
	ck_assert_uint_eq(local_count(w.alice, "Sent"), 1);
	const MuaLocalMessage *sent = local_first(w.alice, "Sent");
	ck_assert_str_eq(sent->subject, "Hello Bob");
	ck_assert(sent->seen);
	world_free(&w);
}
END_TEST

static char *message_id_of_run(void)
{
	World w;
	MuaConfig a = manual_alice();
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, send_to_bob);
	ck_assert(w.ok);
	char *id = g_strdup(local_first(w.alice, "Sent")->message_id);
	world_free(&w);
	return id;
}

START_TEST(test_message_id_follows_the_seed)
{
	g_autofree char *one = message_id_of_run();
	g_autofree char *two = message_id_of_run();
	ck_assert_str_eq(one, two);
	ck_assert(g_str_has_prefix(one, "<"));
	ck_assert(g_str_has_suffix(one, "@example.com>"));
	ck_assert_uint_eq(strlen(one), 1 + 24 + strlen("@example.com>"));
}
END_TEST

static void send_wrong_password(World *w)
{
	MuaMessage m = { .to = "bob@example.org", .subject = "x", .body = "y" };
	w->ok = mua_setup_account(w->alice, "alice@example.com", "not-the-password", &w->error) &&
	        mua_send(w->alice, &m, &w->error);
	MuaMessage bad = { .to = "nobody", .body = "y" };
	w->ok2 = mua_send(w->alice, &bad, &w->error2);
}

START_TEST(test_send_wrong_password)
{
	World w;
	MuaConfig a = manual_alice();
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, send_wrong_password);
	ck_assert(!w.ok);
	ck_assert_msg(g_error_matches(w.error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_PERMFAIL), "%s", w.error->message);
	assert_saw(&w, MS_EV_ERROR, "alice", "out.1", "sending failed: AUTH PLAIN refused: 535");
	ck_assert_uint_eq(local_count(w.alice, "Sent"), 0);
	/* a bad address is refused before any connection */
	ck_assert(!w.ok2);
	ck_assert(g_error_matches(w.error2, COMPOSE_ERROR, COMPOSE_ERROR_ADDRESS));
	world_free(&w);
}
END_TEST

static void send_attachment(World *w)
{
	g_autoptr(GBytes) data = g_bytes_new_static("%PDF-1.4 fake", 13);
	ComposeAttachment att = { "plan.pdf", "application/pdf", data };
	MuaMessage m = { .to = "bob@example.org", .subject = "Grüße", .body = "Anbei der Plan.\n",
	                 .attachments = &att, .n_attachments = 1 };
	w->ok = mua_setup_account(w->alice, "alice@example.com", "wonderland", &w->error) &&
	        mua_send(w->alice, &m, &w->error);
	ms_sleep(30 * MS_SECOND);
}

START_TEST(test_send_attachment)
{
	World w;
	MuaConfig a = manual_alice();
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, send_attachment);
	ck_assert_msg(w.ok, "%s", w.error ? w.error->message : "");
	g_autofree char *at_bob = maildir_first(&w, 1, "bob@example.org");
	ck_assert_ptr_nonnull(at_bob);
	ck_assert_ptr_nonnull(strstr(at_bob, "\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"));
	ck_assert_ptr_nonnull(strstr(at_bob, "Content-Type: multipart/mixed; boundary=\"------------"));
	ck_assert_ptr_nonnull(strstr(at_bob, "Content-Type: application/pdf; name=\"plan.pdf\""));
	ck_assert_ptr_nonnull(strstr(at_bob, "JVBERi0xLjQgZmFrZQ==\r\n"));
	ck_assert_ptr_nonnull(strstr(at_bob, "Anbei der Plan.\r\n"));
	world_free(&w);
}
END_TEST

/* ---- in.8 and the IMAP/POP3 lesson --------------------------------------------------------- */

static void deliver_two(World *w)
{
	MuaMessage one = { .to = "bob@example.org", .subject = "first", .body = "1\n" };
	MuaMessage two = { .to = "bob@example.org", .subject = "second", .body = "2\n" };
	ck_assert(mua_setup_account(w->alice, "alice@example.com", "wonderland", NULL));
	ck_assert(mua_send(w->alice, &one, NULL));
	ck_assert(mua_send(w->alice, &two, NULL));
	ms_sleep(30 * MS_SECOND);
	ck_assert(mua_setup_account(w->bob, "bob@example.org", "builder", NULL));
	ck_assert(mua_setup_account(w->bob2, "bob@example.org", "builder", NULL));
}

static void imap_fetch_script(World *w)
{
	deliver_two(w);
	w->ok = mua_fetch(w->bob, MUA_PROTOCOL_DEFAULT, FALSE, &w->error);
	ck_assert_uint_eq(mua_last_fetched(w->bob), 2);
	/* a second fetch finds nothing new */
	w->ok2 = mua_fetch(w->bob, MUA_PROTOCOL_IMAP, FALSE, &w->error2);
	ck_assert_uint_eq(mua_last_fetched(w->bob), 0);
}

START_TEST(test_fetch_imap)
{
	World w;
	MuaConfig a = manual_alice(), b = manual_bob(MUA_PROTOCOL_IMAP, "bob"),
	          b2 = manual_bob(MUA_PROTOCOL_POP3, "bob-phone");
	world_new(&w, NULL, NULL, NULL, &a, &b, &b2);
	world_run(&w, imap_fetch_script);
	ck_assert_msg(w.ok && w.ok2, "%s", w.error ? w.error->message : w.error2 ? w.error2->message : "");
	ck_assert_uint_eq(local_count(w.bob, "INBOX"), 2);
	const MuaLocalMessage *m = local_first(w.bob, "INBOX");
	ck_assert_str_eq(m->subject, "first");
	ck_assert_str_eq(m->from, "Alice Liddell <alice@example.com>");
	ck_assert_uint_gt(m->uid, 0);
	ck_assert(m->seen);
	/* the folders came with LIST */
	g_autoptr(GPtrArray) folders = mua_local_folders(w.bob);
	ck_assert_uint_ge(folders->len, 5);
	ck_assert_str_eq(g_ptr_array_index(folders, 0), "INBOX");
	ck_assert_ptr_nonnull(mua_local_messages(w.bob, "Sent"));
	ck_assert_ptr_nonnull(mua_local_messages(w.bob, "Drafts"));
	g_autofree char *steps = steps_of(&w, "bob");
	ck_assert_str_eq(steps, "setup.1 setup.6 setup.7 in.8");
	assert_saw(&w, MS_EV_SEND, "bob", "in.8", "C: A001 LOGIN bob@example.org ••••••");
	assert_saw(&w, MS_EV_SEND, "bob", "in.8", "C: A002 LIST \"\" \"*\"");
	assert_saw(&w, MS_EV_SEND, "bob", "in.8", "C: A003 SELECT INBOX");
	assert_saw(&w, MS_EV_SEND, "bob", "in.8", "(UID FLAGS BODY.PEEK[])");
	assert_saw(&w, MS_EV_SEND, "bob", "in.8", "+FLAGS.SILENT (\\Seen)");
	assert_saw(&w, MS_EV_NOTE, "bob", "in.8", "2 new messages: “first” from Alice Liddell");
	assert_saw(&w, MS_EV_NOTE, "bob", "in.8", "no new mail for bob@example.org");
	assert_no_secrets(&w);
	world_free(&w);
}
END_TEST

static void pop3_fetch_script(World *w)
{
	deliver_two(w);
	/* leave on the server */
	w->ok = mua_fetch(w->bob2, MUA_PROTOCOL_DEFAULT, FALSE, &w->error);
	ck_assert_uint_eq(mua_last_fetched(w->bob2), 2);
	ck_assert(mua_fetch(w->bob2, MUA_PROTOCOL_POP3, FALSE, NULL));
	ck_assert_uint_eq(mua_last_fetched(w->bob2), 0);
	/* the IMAP client still finds both on the server */
	ck_assert(mua_fetch(w->bob, MUA_PROTOCOL_IMAP, FALSE, NULL));
	ck_assert_uint_eq(mua_last_fetched(w->bob), 2);
	/* now delete: POP3 downloads and empties the maildrop */
	w->ok2 = mua_fetch(w->bob2, MUA_PROTOCOL_POP3, TRUE, &w->error2);
	ck_assert(mua_fetch(w->bob, MUA_PROTOCOL_IMAP, FALSE, NULL));
}

START_TEST(test_fetch_pop3)
{
	World w;
	MuaConfig a = manual_alice(), b = manual_bob(MUA_PROTOCOL_IMAP, "bob"),
	          b2 = manual_bob(MUA_PROTOCOL_POP3, "bob-phone");
	world_new(&w, NULL, NULL, NULL, &a, &b, &b2);
	world_run(&w, pop3_fetch_script);
	ck_assert_msg(w.ok && w.ok2, "%s", w.error ? w.error->message : w.error2 ? w.error2->message : "");
	ck_assert_uint_eq(local_count(w.bob2, "INBOX"), 2);
	const MuaLocalMessage *m = local_first(w.bob2, "INBOX");
	ck_assert_str_eq(m->subject, "first");
	ck_assert_ptr_nonnull(m->pop3_uid);
	ck_assert_uint_eq(m->uid, 0);
	assert_saw(&w, MS_EV_SEND, "bob-phone", "in.8", "C: PASS ••••••");
	assert_saw(&w, MS_EV_SEND, "bob-phone", "in.8", "C: UIDL");
	assert_saw(&w, MS_EV_SEND, "bob-phone", "in.8", "C: RETR 1");
	assert_saw(&w, MS_EV_SEND, "bob-phone", "in.8", "C: DELE 2");
	assert_saw(&w, MS_EV_STEP, "bob-phone", "in.8", "leaves it on the server");
	assert_saw(&w, MS_EV_STEP, "bob-phone", "in.8", "deletes it there");
	/* after DELE and QUIT the server's INBOX is empty, and the IMAP client,
	 * in step with the server, lost its copies too */
	ck_assert_uint_eq(maildir_count(&w, 1, "bob@example.org", ""), 0);
	ck_assert_uint_eq(local_count(w.bob, "INBOX"), 0);
	assert_saw(&w, MS_EV_NOTE, "bob", "in.8", "is no longer in INBOX on the server: removed here too");
	assert_no_secrets(&w);
	world_free(&w);
}
END_TEST

/* The lesson of COURSE.md section 5: the same actions, over IMAP and over
 * POP3, and what another IMAP client of the same user sees afterwards. */
static void lesson_script(World *w)
{
	deliver_two(w);
	GError *e = NULL;
	/* the POP3 client acts: all of it stays on the phone */
	ck_assert(mua_fetch(w->bob2, MUA_PROTOCOL_POP3, FALSE, &e));
	ck_assert(mua_mark_first(w->bob2, MUA_MARK_FLAGGED, &e));
	ck_assert(mua_create_folder(w->bob2, "Phone-only", &e));
	ck_assert(mua_move_first(w->bob2, "Phone-only", &e));
	ck_assert(mua_delete_first(w->bob2, &e));
	MuaMessage draft = { .subject = "draft on the phone", .body = "..." };
	ck_assert(mua_save_draft(w->bob2, &draft, &e));

	/* the IMAP client sees none of it */
	ck_assert(mua_fetch(w->bob, MUA_PROTOCOL_IMAP, FALSE, &e));
	ck_assert_uint_eq(mua_last_fetched(w->bob), 2);
	ck_assert(!local_first(w->bob, "INBOX")->flagged);
	ck_assert_ptr_null(mua_local_messages(w->bob, "Phone-only"));

	/* the IMAP client acts: the server keeps it */
	ck_assert(mua_mark_first(w->bob, MUA_MARK_FLAGGED, &e));
	ck_assert(mua_create_folder(w->bob, "Projects", &e));
	MuaMessage d2 = { .to = "alice@example.com", .subject = "draft on the laptop", .body = "..." };
	ck_assert(mua_save_draft(w->bob, &d2, &e));
	w->ok = TRUE;

	/* a third client (the phone, now over IMAP) sees it all */
	ck_assert(mua_fetch(w->bob2, MUA_PROTOCOL_IMAP, FALSE, &e));
	ck_assert_ptr_nonnull(mua_local_messages(w->bob2, "Projects"));
	GPtrArray *inbox = mua_local_messages(w->bob2, "INBOX");
	gboolean seen_flag = FALSE;
	for (guint i = 0; i < inbox->len; i++) {
		const MuaLocalMessage *m = g_ptr_array_index(inbox, i);
		if (m->uid && m->flagged)
			seen_flag = TRUE;
	}
	ck_assert(seen_flag);

	/* moving and deleting over IMAP change the server */
	ck_assert(mua_move_first(w->bob, "Projects", &e));
	ck_assert(mua_delete_first(w->bob, &e));
	w->ok2 = e == NULL;
	g_clear_error(&e);
}

START_TEST(test_imap_versus_pop3)
{
	World w;
	MuaConfig a = manual_alice(), b = manual_bob(MUA_PROTOCOL_IMAP, "bob"),
	          b2 = manual_bob(MUA_PROTOCOL_POP3, "bob-phone");
	world_new(&w, NULL, NULL, NULL, &a, &b, &b2);
	world_run(&w, lesson_script);
	ck_assert(w.ok && w.ok2);
	/* on the phone, the POP3 actions were local and said so */
	assert_saw(&w, MS_EV_STEP, "bob-phone", "retr.1", "POP3 cannot tell the server, so only this client knows");
	assert_saw(&w, MS_EV_STEP, "bob-phone", "retr.4", "in this client only");
	assert_saw(&w, MS_EV_STEP, "bob-phone", "retr.2", "on the server it stays in the one POP3 mailbox");
	assert_saw(&w, MS_EV_STEP, "bob-phone", "retr.5", "inside this client only");
	/* the phone's draft stayed on the phone; fetching over IMAP brings INBOX,
	 * not the other folders' messages */
	ck_assert_uint_eq(local_count(w.bob2, "Drafts"), 1);
	/* on the server: the laptop's folder, its draft, its move and delete */
	ck_assert_uint_eq(maildir_count(&w, 1, "bob@example.org", "Projects"), 1);
	ck_assert_uint_eq(maildir_count(&w, 1, "bob@example.org", "Drafts"), 1);
	ck_assert_uint_eq(maildir_count(&w, 1, "bob@example.org", ""), 0);
	ck_assert_uint_eq(local_count(w.bob, "Projects"), 1);
	ck_assert_uint_eq(local_count(w.bob, "INBOX"), 0);
	assert_saw(&w, MS_EV_SEND, "bob", "retr.1", "UID STORE");
	assert_saw(&w, MS_EV_SEND, "bob", "retr.4", "CREATE Projects");
	assert_saw(&w, MS_EV_SEND, "bob", "retr.5", "APPEND Drafts (\\Draft \\Seen) {");
	assert_saw(&w, MS_EV_SEND, "bob", "retr.2", "UID MOVE");
	assert_saw(&w, MS_EV_SEND, "bob", "retr.2", "+FLAGS.SILENT (\\Deleted)");
	world_free(&w);
}
END_TEST

static void reply_script(World *w)
{
	deliver_two(w);
	ck_assert(mua_fetch(w->bob, MUA_PROTOCOL_IMAP, FALSE, NULL));
	w->ok = mua_reply_first(w->bob, "Yes, at five.\n", &w->error);
	ms_sleep(30 * MS_SECOND);
	w->ok2 = mua_fetch(w->alice, MUA_PROTOCOL_IMAP, FALSE, &w->error2);
}

START_TEST(test_reply)
{
	World w;
	MuaConfig a = manual_alice(), b = manual_bob(MUA_PROTOCOL_IMAP, "bob"),
	          b2 = manual_bob(MUA_PROTOCOL_POP3, "bob-phone");
	world_new(&w, NULL, NULL, NULL, &a, &b, &b2);
	world_run(&w, reply_script);
	ck_assert_msg(w.ok, "%s", w.error ? w.error->message : "");
	ck_assert_msg(w.ok2, "%s", w.error2 ? w.error2->message : "");
	const MuaLocalMessage *orig = local_first(w.bob, "INBOX");
	ck_assert(orig->answered);
	const MuaLocalMessage *reply = local_first(w.alice, "INBOX");
	ck_assert_str_eq(reply->subject, "Re: first");
	ck_assert_str_eq(reply->from, "Bob Builder <bob@example.org>");
	const char *data = g_bytes_get_data(reply->data, NULL);
	g_autofree char *irt = g_strdup_printf("In-Reply-To: %s\r\n", orig->message_id);
	ck_assert_ptr_nonnull(strstr(data, irt));
	g_autofree char *refs = g_strdup_printf("References: %s\r\n", orig->message_id);
	ck_assert_ptr_nonnull(strstr(data, refs));
	assert_saw(&w, MS_EV_SEND, "bob", "retr.1", "+FLAGS.SILENT (\\Answered)");
	world_free(&w);
}
END_TEST

static void no_account_script(World *w)
{
	MuaMessage m = { .to = "bob@example.org", .body = "x" };
	w->ok = mua_send(w->alice, &m, &w->error);
	w->ok2 = mua_fetch(w->alice, MUA_PROTOCOL_DEFAULT, FALSE, &w->error2);
	ck_assert(!mua_mark_first(w->alice, MUA_MARK_SEEN, NULL));
	ck_assert(mua_setup_account(w->alice, "alice@example.com", "wonderland", NULL));
	GError *e = NULL;
	ck_assert(!mua_delete_first(w->alice, &e));
	ck_assert(g_error_matches(e, MUA_ERROR, MUA_ERROR_NO_MESSAGE));
	g_error_free(e);
}

START_TEST(test_actions_need_an_account)
{
	World w;
	MuaConfig a = manual_alice();
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, no_account_script);
	ck_assert(!w.ok && !w.ok2);
	ck_assert(g_error_matches(w.error, MUA_ERROR, MUA_ERROR_NOT_SET_UP));
	ck_assert(g_error_matches(w.error2, MUA_ERROR, MUA_ERROR_NOT_SET_UP));
	world_free(&w);
}
END_TEST

/* ---- TLS ---------------------------------------------------------------------------------- */

/* Every event of who's that carries a password (AUTH, LOGIN, PASS) comes
 * on a connection where TLS was set up before it.  Returns their number. */
static guint passwords_over_tls(World *w, const char *who)
{
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	g_autoptr(GHashTable) tls = g_hash_table_new(g_int64_hash, g_int64_equal);
	guint n = 0;
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		if (g_strcmp0(e->from, who) || !e->text || !e->conn)
			continue;
		if (e->kind == MS_EV_NOTE && g_str_has_prefix(e->text, "TLS established"))
			g_hash_table_add(tls, (gpointer)&e->conn);
		if (e->kind == MS_EV_SEND && (strstr(e->text, "C: AUTH ") || strstr(e->text, " LOGIN ") ||
		                              strstr(e->text, "C: PASS "))) {
			ck_assert_msg(g_hash_table_contains(tls, &e->conn), "a password before TLS: %s", e->text);
			n++;
		}
	}
	return n;
}

/* No event of who's carries a password. */
static void assert_no_password_sent(World *w, const char *who)
{
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind == MS_EV_SEND && !g_strcmp0(e->from, who) && e->text)
			ck_assert_msg(!strstr(e->text, "C: AUTH ") && !strstr(e->text, " LOGIN ") &&
			              !strstr(e->text, "C: PASS "), "a password went: %s", e->text);
	}
}

/* alice writes to herself, reads it over IMAP, then over POP3. */
static void send_fetch_both(World *w)
{
	MuaMessage m = { .to = "alice@example.com", .subject = "Note to self", .body = "TLS, always" };
	w->ok = mua_setup_account(w->alice, "alice@example.com", "wonderland", &w->error) &&
	        mua_send(w->alice, &m, &w->error);
	ms_sleep(5 * MS_SECOND);
	w->ok2 = w->ok && mua_fetch(w->alice, MUA_PROTOCOL_IMAP, FALSE, &w->error2);
	w->ok3 = w->ok2 && mua_fetch(w->alice, MUA_PROTOCOL_POP3, FALSE, &w->error2);
}

START_TEST(test_starttls_before_every_password)
{
	use_tls(TRUE);
	World w;
	MuaConfig a = manual_alice();
	a.manual_security = MAILCONFIG_SOCKET_STARTTLS;
	a.accept_any_certificate = TRUE;
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, send_fetch_both);
	ck_assert_msg(w.ok && w.ok2 && w.ok3, "%s", w.error ? w.error->message : w.error2 ? w.error2->message : "");
	ck_assert_uint_eq(mua_last_fetched(w.alice), 1);
	/* the upgrade is a step of each action, then the client's own words */
	assert_saw(&w, MS_EV_STEP, "alice", "out.1", "alice asks mail.example.com to encrypt the connection (STARTTLS)");
	assert_saw(&w, MS_EV_SEND, "alice", "out.1", "C: STARTTLS");
	assert_saw(&w, MS_EV_STEP, "alice", "retr.3", "(STARTTLS) before logging in");
	assert_saw(&w, MS_EV_STEP, "alice", "in.8", "(STARTTLS) before logging in");
	assert_saw(&w, MS_EV_STEP, "alice", "in.8", "(STLS) before logging in");
	assert_saw(&w, MS_EV_SEND, "alice", "in.8", "C: STLS");
	assert_saw(&w, MS_EV_NOTE, "alice", "out.1", "TLS established (simulated)");
	assert_saw(&w, MS_EV_NOTE, "alice", "out.1", "alice takes the certificate of mail.example.com as it is");
	/* after TLS the server offers AUTH; the client asked for what it offers again */
	assert_saw(&w, MS_EV_SEND, "mail.example.com", "out.1", "S: 250-AUTH PLAIN LOGIN");
	/* submission, the Sent copy, the IMAP fetch, the POP3 fetch: four
	 * passwords, each over TLS */
	ck_assert_uint_eq(passwords_over_tls(&w, "alice"), 4);
	assert_no_secrets(&w);
	world_free(&w);
}
END_TEST

static void send_only(World *w)
{
	MuaMessage m = { .to = "bob@example.org", .subject = "Clear?" };
	w->ok = mua_setup_account(w->alice, "alice@example.com", "wonderland", &w->error) &&
	        mua_send(w->alice, &m, &w->error);
	w->ok2 = w->ok || mua_fetch(w->alice, MUA_PROTOCOL_POP3, FALSE, &w->error2);
}

START_TEST(test_no_password_in_the_clear)
{
	/* the account asks for STARTTLS; the servers have no certificate */
	World w;
	MuaConfig a = manual_alice();
	a.manual_security = MAILCONFIG_SOCKET_STARTTLS;
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, send_only);
	ck_assert(!w.ok && !w.ok2);
	ck_assert_msg(g_error_matches(w.error, MUA_ERROR, MUA_ERROR_PLAINTEXT), "%s", w.error->message);
	ck_assert_msg(g_error_matches(w.error2, MUA_ERROR, MUA_ERROR_PLAINTEXT), "%s", w.error2->message);
	assert_saw(&w, MS_EV_REFUSE, "alice", "out.1", "mail.example.com offers no STARTTLS: alice will not send "
	           "the password in the clear (connection security: STARTTLS)");
	assert_saw(&w, MS_EV_REFUSE, "alice", "in.8", "mail.example.com offers no STLS");
	assert_no_password_sent(&w, "alice");
	ck_assert_uint_eq(maildir_count(&w, 0, "alice@example.com", "Sent"), 0);
	world_free(&w);

	/* unless the user allows it: then aloud */
	a.allow_plaintext_auth = TRUE;
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, send_only);
	ck_assert_msg(w.ok, "%s", w.error ? w.error->message : "");
	assert_saw(&w, MS_EV_NOTE, "alice", "out.1", "mail.example.com offers no STARTTLS: alice's password goes "
	           "in the clear, as the user allowed");
	assert_saw(&w, MS_EV_SEND, "alice", "out.1", "C: AUTH PLAIN ••••••");
	assert_no_secrets(&w);
	world_free(&w);
}
END_TEST

START_TEST(test_certificate_must_be_accepted)
{
	use_tls(TRUE);
	World w;
	MuaConfig a = manual_alice();
	a.manual_security = MAILCONFIG_SOCKET_STARTTLS;
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, send_only);
	ck_assert(!w.ok && !w.ok2);
	ck_assert_msg(g_error_matches(w.error, MUA_ERROR, MUA_ERROR_CERTIFICATE), "%s", w.error->message);
	ck_assert_msg(g_error_matches(w.error2, MUA_ERROR, MUA_ERROR_CERTIFICATE), "%s", w.error2->message);
	assert_saw(&w, MS_EV_SEND, "alice", "out.1", "C: STARTTLS");
	assert_saw(&w, MS_EV_REFUSE, "alice", "out.1", "alice cannot check the certificate of mail.example.com");
	assert_no_password_sent(&w, "alice");
	world_free(&w);
}
END_TEST

START_TEST(test_tls_from_the_first_byte)
{
	use_tls(TRUE);
	World w;
	MuaConfig a = manual_alice();
	a.manual_security = MAILCONFIG_SOCKET_SSL;   /* ports 465, 993 and 995 unless given */
	a.accept_any_certificate = TRUE;
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, send_fetch_both);
	ck_assert_msg(w.ok && w.ok2 && w.ok3, "%s", w.error ? w.error->message : w.error2 ? w.error2->message : "");
	assert_saw(&w, MS_EV_CONNECT, "alice", NULL, "-> 192.0.2.10:465");
	assert_saw(&w, MS_EV_CONNECT, "alice", NULL, "-> 192.0.2.10:993");
	assert_saw(&w, MS_EV_CONNECT, "alice", NULL, "-> 192.0.2.10:995");
	assert_saw(&w, MS_EV_STEP, "alice", "out.1", "alice speaks TLS from the first byte with mail.example.com port 465");
	assert_saw(&w, MS_EV_STEP, "alice", "in.8", "with mail.example.com port 995 (pop3 over TLS");
	ck_assert_ptr_null(find(&w, MS_EV_SEND, "alice", NULL, "STARTTLS"));
	ck_assert_ptr_null(find(&w, MS_EV_SEND, "alice", NULL, "STLS"));
	ck_assert_uint_eq(passwords_over_tls(&w, "alice"), 4);
	world_free(&w);
}
END_TEST

START_TEST(test_guessing_records_starttls)
{
	use_tls(TRUE);
	World w;
	MuaConfig a = alice_config(MUA_FLAVOR_THUNDERBIRD);
	world_new(&w, NULL, NULL, NULL, &a, NULL, NULL);
	world_run(&w, setup_alice);
	check_servers(&w, w.alice, MUA_METHOD_GUESS, MAILCONFIG_PROTOCOL_IMAP, "mail.example.com", 143,
	              "mail.example.com");
	/* as Thunderbird: a server that offers STARTTLS is recorded with it */
	ck_assert_int_eq(mua_incoming_server(w.alice)->socket, MAILCONFIG_SOCKET_STARTTLS);
	ck_assert_int_eq(mua_outgoing_server(w.alice)->socket, MAILCONFIG_SOCKET_STARTTLS);
	assert_saw(&w, MS_EV_NOTE, "alice", "setup.5", "mail.example.com port 143 answers as a imap server offering STARTTLS");
	assert_saw(&w, MS_EV_NOTE, "alice", "setup.7", "mail.example.com port 587, connection security STARTTLS: "
	           "the client encrypts before it logs in, and never logs in in the clear");
	world_free(&w);
}
END_TEST

/* ---- alice to bob, the whole course path ------------------------------------------------ */

static void course_script(World *w)
{
	MuaMessage m = { .to = "bob@example.org", .subject = "Hello Bob", .body = "See you at 5?" };
	w->ok = mua_setup_account(w->alice, "alice@example.com", "wonderland", &w->error) &&
	        mua_send(w->alice, &m, &w->error);
	ms_sleep(3 * MS_SECOND);
	w->ok2 = mua_setup_account(w->bob, "bob@example.org", "builder", &w->error2) &&
	         mua_fetch(w->bob, MUA_PROTOCOL_IMAP, FALSE, &w->error2);
	/* and once more over POP3, from the same client */
	w->ok3 = w->ok2 && mua_fetch(w->bob, MUA_PROTOCOL_POP3, FALSE, &w->error2);
}

START_TEST(test_alice_to_bob)
{
	World w;
	MuaConfig a = alice_config(MUA_FLAVOR_THUNDERBIRD), b = bob_config(MUA_FLAVOR_OUTLOOK);
	world_new(&w, ZONE_COM "autoconfig A 192.0.2.10\n", ZONE_ORG "autodiscover A 198.51.100.20\n", NULL,
	          &a, &b, NULL);
	world_run(&w, course_script);
	ck_assert_msg(w.ok, "%s", w.error ? w.error->message : "");
	ck_assert_msg(w.ok2 && w.ok3, "%s", w.error2 ? w.error2->message : "");
	g_autofree char *alice_steps = steps_of(&w, "alice");
	ck_assert_str_eq(alice_steps, "setup.1 setup.4 setup.7 out.1 retr.3");
	g_autofree char *bob_steps = steps_of(&w, "bob");
	ck_assert_str_eq(bob_steps, "setup.1 setup.2 setup.3 setup.7 in.8");
	/* bob has it, by IMAP and again by POP3 (the server kept it) */
	ck_assert_uint_eq(mua_last_fetched(w.bob), 1);
	ck_assert_uint_eq(local_count(w.bob, "INBOX"), 2);
	ck_assert_str_eq(local_first(w.bob, "INBOX")->subject, "Hello Bob");
	ck_assert_uint_eq(maildir_count(&w, 1, "bob@example.org", ""), 1);
	/* the Sent copy is on alice's server */
	ck_assert_uint_eq(maildir_count(&w, 0, "alice@example.com", "Sent"), 1);
	assert_saw(&w, MS_EV_SEND, "alice", "retr.3", "APPEND Sent (\\Seen)");
	assert_no_secrets(&w);
	world_free(&w);
}
END_TEST

START_TEST(test_names_and_tables)
{
	ck_assert_str_eq(mua_action_step(MUA_ACT_TYPE_ACCOUNT), "setup.1");
	ck_assert_str_eq(mua_action_step(MUA_ACT_RECORD), "setup.7");
	ck_assert_str_eq(mua_action_step(MUA_ACT_SUBMIT), "out.1");
	ck_assert_str_eq(mua_action_step(MUA_ACT_FETCH), "in.8");
	ck_assert_str_eq(mua_action_step(MUA_ACT_DRAFT), "retr.5");
	ck_assert_str_eq(mua_action_step((MuaAction)99), "unknown");
	MuaFlavor f;
	ck_assert(mua_flavor_from_string("Outlook", &f));
	ck_assert_int_eq(f, MUA_FLAVOR_OUTLOOK);
	ck_assert(!mua_flavor_from_string("mutt", &f));
	MuaProtocol p;
	ck_assert(mua_protocol_from_string("pop3", &p));
	ck_assert_int_eq(p, MUA_PROTOCOL_POP3);
	ck_assert_str_eq(mua_method_to_string(MUA_METHOD_GUESS), "guessing");
	ck_assert_str_eq(mua_error_to_string(MUA_ERROR_SENT_COPY), "sent-copy");
	ck_assert_str_eq(mua_mark_to_string(MUA_MARK_FLAGGED), "flagged");
	/* a client without a name is refused */
	MsSched *s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsNet *net = ms_net_new(s);
	MsHost *h = ms_net_add_host(net, "pc", "192.0.2.1", NULL);
	MuaConfig c = { .name = "" };
	GError *err = NULL;
	ck_assert_ptr_null(mua_new(ms_host_stack(h), &c, &err));
	ck_assert(g_error_matches(err, MUA_ERROR, MUA_ERROR_CONFIG));
	g_error_free(err);
	ms_net_free(net);
	ms_sched_free(s);
}
END_TEST

static Suite *mua_suite(void)
{
	Suite *s = suite_create("mua");
	MS_ADD_TEST(s, test_names_and_tables, 10);
	MS_ADD_TEST(s, test_thunderbird_autoconfig, 30);
	MS_ADD_TEST(s, test_thunderbird_well_known, 30);
	MS_ADD_TEST(s, test_thunderbird_falls_back_to_guessing, 30);
	MS_ADD_TEST(s, test_guessing_prefers_pop3_when_asked, 30);
	MS_ADD_TEST(s, test_outlook_autodiscover_srv, 30);
	MS_ADD_TEST(s, test_outlook_autodiscover_host, 30);
	MS_ADD_TEST(s, test_outlook_follows_http_redirect, 30);
	MS_ADD_TEST(s, test_rfc6186_srv_records, 30);
	MS_ADD_TEST(s, test_nothing_found_then_manual, 30);
	MS_ADD_TEST(s, test_nothing_at_all, 30);
	MS_ADD_TEST(s, test_autoconfig_404_falls_through, 30);
	MS_ADD_TEST(s, test_manual_flavour, 30);
	MS_ADD_TEST(s, test_send_submission_with_auth, 30);
	MS_ADD_TEST(s, test_message_id_follows_the_seed, 60);
	MS_ADD_TEST(s, test_send_wrong_password, 30);
	MS_ADD_TEST(s, test_send_attachment, 30);
	MS_ADD_TEST(s, test_fetch_imap, 30);
	MS_ADD_TEST(s, test_fetch_pop3, 30);
	MS_ADD_TEST(s, test_imap_versus_pop3, 60);
	MS_ADD_TEST(s, test_reply, 30);
	MS_ADD_TEST(s, test_actions_need_an_account, 30);
	MS_ADD_TEST(s, test_starttls_before_every_password, 60);
	MS_ADD_TEST(s, test_no_password_in_the_clear, 60);
	MS_ADD_TEST(s, test_certificate_must_be_accepted, 30);
	MS_ADD_TEST(s, test_tls_from_the_first_byte, 60);
	MS_ADD_TEST(s, test_guessing_records_starttls, 30);
	MS_ADD_TEST(s, test_alice_to_bob, 60);
	return s;
}

MS_TEST_MAIN(mua_suite)
