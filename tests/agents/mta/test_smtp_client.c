/* tests/agents/mta/test_smtp_client.c - the SMTP/LMTP client over the
 * simulated network, against a scripted server written here: it answers
 * each command line (or whole data block) with the next reply of its
 * script and records the exact bytes it received.  (On the simulated
 * network STARTTLS only marks the client's side encrypted.)
 */
#include "tests/ms_test.h"
#include "agents/mta/smtp_client.h"
#include "net/simnet.h"

/* ---- the scripted server --------------------------------------------------- */

/* Script entries are raw reply bytes, sent as they are, with two tricks: */
#define HANG  "(hang)"    /* answer nothing ever again (but keep reading) */
#define CLOSE "(close)"   /* prefix: send the rest, then close at once */

#define GREETING  "220 mx.example.org ESMTP ready\r\n"
#define EHLO_BARE "250 mx.example.org\r\n"
#define EHLO_PIPE "250-mx.example.org\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n"
#define OK        "250 2.0.0 ok\r\n"
#define GO_AHEAD  "354 go ahead\r\n"
#define QUEUED    "250 2.0.0 queued as 1A2B\r\n"
#define BYE       "221 2.0.0 bye\r\n"

#define SERVER_ADDR "198.51.100.20"
#define SERVER_NAME "mx.example.org"
#define SECRET      "s3cret"
#define SECRET_B64  "czNjcmV0"              /* base64("s3cret") */
#define PLAIN_B64   "AGFsaWNlAHMzY3JldA=="  /* base64("\0alice\0s3cret") */

typedef struct Run Run;
typedef void (*ClientBody)(Run *run, SmtpClient *client);

struct Run {
	/* the world */
	MsSched    *s;
	MsNet      *net;
	MsSink     *rec;
	MsStack    *client_stack;
	MsListener *listener;
	/* the server: its script and what it received */
	const char *const *script;   /* greeting first; NULL-terminated */
	GString    *wire;            /* every byte received after the greeting */
	GPtrArray  *units;           /* char *: each command line, or a whole data block */
	GArray     *pending;         /* gsize: ms_conn_pending right after each unit */
	/* the client: what to do */
	SmtpClientMode mode;
	guint16     port;
	ClientBody  body;            /* NULL: standard_body */
	const char *mechanism, *user, *password;
	const char *from;            /* NULL: alice@example.com */
	const char *const *rcpts;    /* NULL: no transaction */
	const char *message;         /* NULL: a small default */
	const char *second_message;  /* a second transaction when non-NULL */
	gboolean    quit;
	/* the client: what happened */
	const char *failed_at;       /* "greeting", "hello", "auth", "send", or NULL */
	gboolean    ok, ok2;
	GError     *error, *error2;
	SmtpSendResult *result, *result2;
	SmtpClientState state;       /* before quit */
	SmtpClientState final_state; /* after quit */
	SmtpClientState after_starttls;
	gboolean    authenticated;
	guint       ext_flags;
	guint64     ext_size;
	char       *ext_domain, *ext_mechs, *ext_others;
	guint       last_code;
	gint64      t_connected, t_failed;
};

static const char *eol_bytes(MsEol eol)
{
	switch (eol) {
	case MS_EOL_CRLF: return "\r\n";
	case MS_EOL_LF:   return "\n";
	case MS_EOL_CR:   return "\r";
	default:          return "";
	}
}

/* Read one command line, or with data a block up to its "." line. */
static gboolean server_read_unit(Run *run, MsConn *c, gboolean data)
{
	GString *unit = g_string_new(NULL);
	char line[2048];
	for (;;) {
		MsEol eol;
		gssize n = ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
		if (n < 0 || eol == MS_EOL_EOF) {
			g_string_append_len(run->wire, line, MAX(n, 0));
			g_string_free(unit, TRUE);
			return FALSE;
		}
		g_string_append_len(unit, line, n);
		g_string_append(unit, eol_bytes(eol));
		if (!data || (eol == MS_EOL_CRLF && n == 1 && line[0] == '.'))
			break;
	}
	g_string_append_len(run->wire, unit->str, unit->len);
	g_ptr_array_add(run->units, g_string_free(unit, FALSE));
	gsize pending = ms_conn_pending(c);
	g_array_append_val(run->pending, pending);
	return TRUE;
}

static void server_task(gpointer data)
{
	Run *run = data;
	MsConn *c = ms_listener_accept(run->listener, NULL);
	if (!c)
		return;
	ms_conn_set_timeout(c, MS_FOREVER);
	gboolean in_data = FALSE, open = TRUE;
	for (guint i = 0; open && run->script[i]; i++) {
		const char *reply = run->script[i];
		if (i > 0 && !server_read_unit(run, c, in_data)) {
			open = FALSE;
			break;
		}
		if (strcmp(reply, HANG) == 0)
			break;
		gboolean close = g_str_has_prefix(reply, CLOSE);
		if (close)
			reply += strlen(CLOSE);
		ms_conn_write(c, reply, strlen(reply), NULL);
		if (close)
			open = FALSE;
		in_data = g_str_has_prefix(reply, "354");
	}
	/* The script is over: keep listening, answer nothing. */
	while (open && server_read_unit(run, c, FALSE))
		;
	ms_conn_unref(c);
}

/* ---- the client ---------------------------------------------------------- */

static void record_extensions(Run *run, SmtpClient *client)
{
	const SmtpExtensions *ext = smtp_client_extensions(client);
	run->ext_flags = ext->flags;
	run->ext_size = ext->size;
	run->ext_domain = g_strdup(ext->domain);
	GString *mechs = g_string_new(NULL), *others = g_string_new(NULL);
	for (guint i = 0; i < ext->auth_mechanisms->len; i++)
		g_string_append_printf(mechs, "%s%s", i ? " " : "", (char *)g_ptr_array_index(ext->auth_mechanisms, i));
	for (guint i = 0; i < ext->others->len; i++)
		g_string_append_printf(others, "%s%s", i ? "|" : "", (char *)g_ptr_array_index(ext->others, i));
	run->ext_mechs = g_string_free(mechs, FALSE);
	run->ext_others = g_string_free(others, FALSE);
}

static gboolean send_message(Run *run, SmtpClient *client, const char *text,
                             SmtpSendResult **result_r, GError **error)
{
	g_autoptr(GBytes) message = g_bytes_new_static(text, strlen(text));
	return smtp_client_send(client, run->from ? run->from : "alice@example.com", run->rcpts,
	                        message, result_r, error);
}

/* Greeting, hello, AUTH when there is a user, a transaction when there are
 * recipients, QUIT when asked; stops at the first failure. */
static void standard_body(Run *run, SmtpClient *client)
{
	if (!smtp_client_greeting(client, &run->error)) {
		run->failed_at = "greeting";
		return;
	}
	if (!smtp_client_hello(client, &run->error)) {
		run->failed_at = "hello";
		return;
	}
	record_extensions(run, client);
	if (run->user) {
		run->authenticated = smtp_client_auth(client, run->mechanism, run->user, run->password,
		                                      &run->error);
		if (!run->authenticated) {
			run->failed_at = "auth";
			return;
		}
	}
	if (run->rcpts) {
		run->ok = send_message(run, client, run->message ? run->message : "Subject: hi\r\n\r\nhello\r\n",
		                       &run->result, &run->error);
		if (!run->ok)
			run->failed_at = "send";
		if (run->second_message)
			run->ok2 = send_message(run, client, run->second_message, &run->result2, &run->error2);
	}
}

static void client_task(gpointer data)
{
	Run *run = data;
	MsConn *c = ms_stack_connect(run->client_stack, SERVER_ADDR, run->port, 5 * MS_SECOND, &run->error);
	if (!c)
		return;
	run->t_connected = ms_sched_now(run->s);
	SmtpClient *client = smtp_client_new(c, run->mode, "client.example.com");
	ms_conn_unref(c);
	(run->body ? run->body : standard_body)(run, client);
	run->t_failed = ms_sched_now(run->s);
	run->state = smtp_client_state(client);
	if (run->quit)
		smtp_client_quit(client);
	run->final_state = smtp_client_state(client);
	const SmtpReply *last = smtp_client_last_reply(client);
	run->last_code = last ? last->code : 0;
	smtp_client_free(client);
}

/* ---- the world -------------------------------------------------------------- */

static void run_world(Run *run)
{
	run->s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	run->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(run->s), run->rec);
	run->net = ms_net_new(run->s);
	MsHost *a = ms_net_add_host(run->net, "client.example.com", "192.0.2.10", NULL);
	MsHost *b = ms_net_add_host(run->net, SERVER_NAME, SERVER_ADDR, NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	if (!run->port)
		run->port = run->mode == SMTP_CLIENT_MODE_LMTP ? 24 : 25;
	run->client_stack = ms_host_stack(a);
	run->listener = ms_stack_listen(ms_host_stack(b), NULL, run->port, NULL);
	ck_assert_ptr_nonnull(run->listener);
	run->wire = g_string_new(NULL);
	run->units = g_ptr_array_new_with_free_func(g_free);
	run->pending = g_array_new(FALSE, FALSE, sizeof(gsize));
	ms_task_spawn(run->s, "server", server_task, run);
	ms_task_spawn(run->s, "client", client_task, run);
	ck_assert(ms_sched_run(run->s, MS_FOREVER));
}

static void run_free(Run *run)
{
	ms_listener_free(run->listener);
	ms_sched_shutdown(run->s);
	ms_net_free(run->net);
	ms_sched_free(run->s);
	g_string_free(run->wire, TRUE);
	g_ptr_array_unref(run->units);
	g_array_unref(run->pending);
	g_clear_error(&run->error);
	g_clear_error(&run->error2);
	smtp_send_result_free(run->result);
	smtp_send_result_free(run->result2);
	g_free(run->ext_domain);
	g_free(run->ext_mechs);
	g_free(run->ext_others);
}

/* The units from index first on, concatenated. */
static char *units_from(Run *run, guint first)
{
	GString *s = g_string_new(NULL);
	for (guint i = first; i < run->units->len; i++)
		g_string_append(s, g_ptr_array_index(run->units, i));
	return g_string_free(s, FALSE);
}

static const char *unit(Run *run, guint i)
{
	ck_assert_uint_lt(i, run->units->len);
	return g_ptr_array_index(run->units, i);
}

static gsize pending_after(Run *run, guint i)
{
	ck_assert_uint_lt(i, run->pending->len);
	return g_array_index(run->pending, gsize, i);
}

/* Every "C: " text of the client's SEND events, one per line. */
static char *client_transcript(Run *run)
{
	GString *s = g_string_new(NULL);
	GPtrArray *evs = ms_sink_recorder_events(run->rec);
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *ev = g_ptr_array_index(evs, i);
		if (ev->kind == MS_EV_SEND && ev->text && g_str_has_prefix(ev->text, "C: "))
			g_string_append_printf(s, "%s\n", ev->text);
	}
	return g_string_free(s, FALSE);
}

static MsEvent *find_send(Run *run, const char *text)
{
	GPtrArray *evs = ms_sink_recorder_events(run->rec);
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *ev = g_ptr_array_index(evs, i);
		if (ev->kind == MS_EV_SEND && g_strcmp0(ev->text, text) == 0)
			return ev;
	}
	return NULL;
}

static gint64 last_client_send_time(Run *run)
{
	gint64 t = -1;
	GPtrArray *evs = ms_sink_recorder_events(run->rec);
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *ev = g_ptr_array_index(evs, i);
		if (ev->kind == MS_EV_SEND && ev->text && g_str_has_prefix(ev->text, "C: "))
			t = ev->t_us;
	}
	return t;
}

/* How many segments of exactly len bytes reached the server. */
static guint segments_to_server(Run *run, gsize len)
{
	g_autofree char *text = g_strdup_printf("%" G_GSIZE_FORMAT " bytes arrived", len);
	guint n = 0;
	GPtrArray *evs = ms_sink_recorder_events(run->rec);
	for (guint i = 0; i < evs->len; i++) {
		MsEvent *ev = g_ptr_array_index(evs, i);
		if (ev->kind == MS_EV_RECV && g_strcmp0(ev->to, SERVER_NAME) == 0 && g_strcmp0(ev->text, text) == 0)
			n++;
	}
	return n;
}

static SmtpRecipientResult *rcpt_result(SmtpSendResult *result, guint i)
{
	ck_assert_ptr_nonnull(result);
	ck_assert_uint_lt(i, result->recipients->len);
	return g_ptr_array_index(result->recipients, i);
}

static void assert_error(const GError *error, GQuark domain, int code, const char *needle)
{
	ck_assert_msg(error != NULL, "expected an error containing \"%s\"", needle ? needle : "");
	ck_assert_msg(error->domain == domain && error->code == code,
	              "wrong error %s/%d: %s", g_quark_to_string(error->domain), error->code, error->message);
	if (needle)
		ck_assert_msg(strstr(error->message, needle) != NULL, "\"%s\" not in \"%s\"", needle, error->message);
}

#define assert_client_error(error, code, needle) assert_error((error), SMTP_CLIENT_ERROR, (code), (needle))

static const char *const BOB_AND_CAROL[] = { "bob@example.org", "carol@example.org", NULL };
static const char *const BOB[] = { "bob@example.org", NULL };

/* ---- the greeting and malformed replies ---------------------------------- */

typedef struct {
	const char     *name;
	char           *greeting;  /* reply bytes, or HANG / CLOSE forms */
	gboolean        ok;
	int             code;      /* SMTP_CLIENT_ERROR code when !ok */
	SmtpClientState state;
	const char     *needle;
} GreetingCase;

static void greeting_only(Run *run, SmtpClient *client)
{
	run->ok = smtp_client_greeting(client, &run->error);
}

START_TEST(test_greeting_table)
{
	GString *long_ok = g_string_new("220 ");
	while (long_ok->len < SMTP_PROTO_MAX_REPLY_LINE - 2)
		g_string_append_c(long_ok, 'x');
	g_string_append(long_ok, "\r\n");
	GString *too_long = g_string_new("220 ");
	while (too_long->len < SMTP_PROTO_MAX_REPLY_LINE - 1)
		g_string_append_c(too_long, 'x');
	g_string_append(too_long, "\r\n");
	GString *max_lines = g_string_new(NULL);
	for (int i = 0; i < SMTP_PROTO_MAX_REPLY_LINES - 1; i++)
		g_string_append(max_lines, "220-line\r\n");
	g_string_append(max_lines, "220 last\r\n");
	GString *too_many = g_string_new(NULL);
	for (int i = 0; i < SMTP_PROTO_MAX_REPLY_LINES; i++)
		g_string_append(too_many, "220-line\r\n");
	g_string_append(too_many, "220 last\r\n");

	GreetingCase cases[] = {
		{ "plain 220",    g_strdup(GREETING), TRUE, 0, SMTP_CLIENT_STATE_GREETED, NULL },
		{ "multi-line",   g_strdup("220-mx.example.org\r\n220 welcome\r\n"), TRUE, 0, SMTP_CLIENT_STATE_GREETED, NULL },
		{ "510 octets",   g_string_free(long_ok, FALSE), TRUE, 0, SMTP_CLIENT_STATE_GREETED, NULL },
		{ "100 lines",    g_string_free(max_lines, FALSE), TRUE, 0, SMTP_CLIENT_STATE_GREETED, NULL },
		{ "554 refused",  g_strdup("554 5.7.1 no service for you\r\n"), FALSE, SMTP_CLIENT_ERROR_PERMFAIL,
		  SMTP_CLIENT_STATE_REJECTED, "refuses the session in its greeting: 554 5.7.1 no service for you" },
		{ "450 later",    g_strdup("450 4.7.1 come back later\r\n"), FALSE, SMTP_CLIENT_ERROR_TEMPFAIL,
		  SMTP_CLIENT_STATE_REJECTED, "450 4.7.1 come back later" },
		{ "421 closing",  g_strdup("421 4.3.2 too busy\r\n"), FALSE, SMTP_CLIENT_ERROR_TEMPFAIL,
		  SMTP_CLIENT_STATE_FAILED, "mx.example.org is closing the connection: 421 4.3.2 too busy (in reply to the greeting)" },
		{ "wrong code",   g_strdup("250 hello\r\n"), FALSE, SMTP_CLIENT_ERROR_PROTOCOL,
		  SMTP_CLIENT_STATE_FAILED, "unexpected reply to the greeting: 250 hello" },
		{ "letter O",     g_strdup("25O ok\r\n"), FALSE, SMTP_CLIENT_ERROR_PROTOCOL,
		  SMTP_CLIENT_STATE_FAILED, "bad reply to the greeting" },
		{ "mixed codes",  g_strdup("220-mx.example.org\r\n250 mixed\r\n"), FALSE, SMTP_CLIENT_ERROR_PROTOCOL,
		  SMTP_CLIENT_STATE_FAILED, "code changes between lines" },
		{ "bad separator", g_strdup("220+hello\r\n"), FALSE, SMTP_CLIENT_ERROR_PROTOCOL,
		  SMTP_CLIENT_STATE_FAILED, "bad reply" },
		{ "bare LF",      g_strdup("220 hello\n"), FALSE, SMTP_CLIENT_ERROR_PROTOCOL,
		  SMTP_CLIENT_STATE_FAILED, "ends with a bare LF" },
		{ "too long",     g_string_free(too_long, FALSE), FALSE, SMTP_CLIENT_ERROR_PROTOCOL,
		  SMTP_CLIENT_STATE_FAILED, "longer than 512 octets" },
		{ "too many lines", g_string_free(too_many, FALSE), FALSE, SMTP_CLIENT_ERROR_PROTOCOL,
		  SMTP_CLIENT_STATE_FAILED, "too many lines" },
		{ "closed mid-reply", g_strdup(CLOSE "220-mx.example.org\r\n"), FALSE, SMTP_CLIENT_ERROR_PROTOCOL,
		  SMTP_CLIENT_STATE_FAILED, "mx.example.org closed the connection in the middle of the reply to the greeting" },
		{ "closed mid-line", g_strdup(CLOSE "220 mx.exa"), FALSE, SMTP_CLIENT_ERROR_PROTOCOL,
		  SMTP_CLIENT_STATE_FAILED, "in the middle of the reply" },
		{ "closed at once", g_strdup(CLOSE), FALSE, SMTP_CLIENT_ERROR_PROTOCOL,
		  SMTP_CLIENT_STATE_FAILED, "closed the connection instead of replying to the greeting" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		GreetingCase *gc = &cases[i];
		const char *script[] = { gc->greeting, NULL };
		Run run = { .script = script, .body = greeting_only };
		run_world(&run);
		ck_assert_msg(run.ok == gc->ok, "%s: ok=%d", gc->name, run.ok);
		if (gc->ok)
			ck_assert_msg(run.error == NULL, "%s: %s", gc->name, run.error->message);
		else
			assert_client_error(run.error, gc->code, gc->needle);
		ck_assert_msg(run.state == gc->state, "%s: state %s", gc->name, smtp_client_state_to_string(run.state));
		run_free(&run);
		g_free(gc->greeting);
	}
}
END_TEST

/* STARTTLS (RFC 3207), then EHLO again; or, refused, the session goes on
 * in the clear; or, not offered, nothing is said. */
static void starttls_body(Run *run, SmtpClient *client)
{
	if (!smtp_client_greeting(client, &run->error) || !smtp_client_hello(client, &run->error))
		return;
	run->ok = smtp_client_starttls(client, &run->error);
	run->after_starttls = smtp_client_state(client);
	run->ext_flags = smtp_client_extensions(client) ? smtp_client_extensions(client)->flags : 0;
	if (run->ok && smtp_client_hello(client, &run->error2))
		record_extensions(run, client);
	run->ok2 = ms_conn_is_tls(smtp_client_conn(client));
}

START_TEST(test_starttls)
{
	const char *script[] = { GREETING, "250-mx.example.org\r\n250 STARTTLS\r\n", "220 2.0.0 go ahead\r\n",
	                         "250-mx.example.org\r\n250 AUTH PLAIN\r\n", BYE, NULL };
	Run run = { .script = script, .body = starttls_body, .quit = TRUE };
	run_world(&run);
	ck_assert_msg(run.ok, "%s", run.error ? run.error->message : "");
	ck_assert(run.ok2);
	/* RFC 3207 4.2: what EHLO said before is forgotten, and EHLO is said again */
	ck_assert_int_eq(run.after_starttls, SMTP_CLIENT_STATE_GREETED);
	ck_assert_uint_eq(run.ext_flags & SMTP_EXT_STARTTLS, 0);
	ck_assert_str_eq(run.ext_mechs, "PLAIN");
	ck_assert_str_eq(run.wire->str, "EHLO client.example.com\r\nSTARTTLS\r\nEHLO client.example.com\r\nQUIT\r\n");
	run_free(&run);

	/* refused (454): still READY, still in the clear */
	const char *refused[] = { GREETING, "250-mx.example.org\r\n250 STARTTLS\r\n", "454 4.7.0 TLS not available\r\n",
	                          NULL };
	Run r2 = { .script = refused, .body = starttls_body };
	run_world(&r2);
	ck_assert(!r2.ok && !r2.ok2);
	assert_client_error(r2.error, SMTP_CLIENT_ERROR_TEMPFAIL, "STARTTLS refused: 454 4.7.0 TLS not available");
	ck_assert_int_eq(r2.after_starttls, SMTP_CLIENT_STATE_READY);
	run_free(&r2);

	/* not offered: LOCAL, and no STARTTLS on the wire */
	const char *plain[] = { GREETING, EHLO_BARE, NULL };
	Run r3 = { .script = plain, .body = starttls_body };
	run_world(&r3);
	assert_client_error(r3.error, SMTP_CLIENT_ERROR_LOCAL, "does not offer STARTTLS");
	ck_assert_str_eq(r3.wire->str, "EHLO client.example.com\r\n");
	run_free(&r3);
}
END_TEST

START_TEST(test_greeting_refused_then_quit)
{
	const char *script[] = { "554 5.7.1 go away\r\n", BYE, NULL };
	Run run = { .script = script, .quit = TRUE };
	run_world(&run);
	ck_assert_str_eq(run.failed_at, "greeting");
	assert_client_error(run.error, SMTP_CLIENT_ERROR_PERMFAIL, "554 5.7.1 go away");
	ck_assert_int_eq(run.state, SMTP_CLIENT_STATE_REJECTED);
	/* RFC 5321 3.1: QUIT is all that is left, and it is said. */
	ck_assert_str_eq(run.wire->str, "QUIT\r\n");
	ck_assert_int_eq(run.last_code, 221);
	ck_assert_int_eq(run.final_state, SMTP_CLIENT_STATE_CLOSED);
	run_free(&run);
}
END_TEST

/* ---- hello ----------------------------------------------------------------- */

typedef struct {
	const char    *name;
	SmtpClientMode mode;
	const char    *ehlo_reply;
	const char    *helo_reply;    /* NULL: no HELO expected */
	gboolean       ok;
	int            code;
	const char    *wire;
	const char    *domain;
	const char    *needle;
} HelloCase;

static const HelloCase hello_cases[] = {
	{ "EHLO ok", SMTP_CLIENT_MODE_SMTP, EHLO_PIPE, NULL, TRUE, 0,
	  "EHLO client.example.com\r\n", "mx.example.org", NULL },
	{ "500 then HELO", SMTP_CLIENT_MODE_SMTP, "500 5.5.1 command unrecognized\r\n", "250 old.example.org hi\r\n",
	  TRUE, 0, "EHLO client.example.com\r\nHELO client.example.com\r\n", "old.example.org", NULL },
	{ "502 then HELO", SMTP_CLIENT_MODE_SMTP, "502 5.5.1 not implemented\r\n", "250 old.example.org\r\n",
	  TRUE, 0, "EHLO client.example.com\r\nHELO client.example.com\r\n", "old.example.org", NULL },
	{ "HELO refused too", SMTP_CLIENT_MODE_SMTP, "500 what\r\n", "550 5.7.1 no\r\n", FALSE,
	  SMTP_CLIENT_ERROR_PERMFAIL, "EHLO client.example.com\r\nHELO client.example.com\r\n", NULL,
	  "HELO client.example.com refused: 550 5.7.1 no" },
	{ "550 no fallback", SMTP_CLIENT_MODE_SMTP, "550 5.7.1 go away\r\n", NULL, FALSE,
	  SMTP_CLIENT_ERROR_PERMFAIL, "EHLO client.example.com\r\n", NULL,
	  "EHLO client.example.com refused: 550 5.7.1 go away" },
	{ "451 tempfail", SMTP_CLIENT_MODE_SMTP, "451 4.3.0 later\r\n", NULL, FALSE,
	  SMTP_CLIENT_ERROR_TEMPFAIL, "EHLO client.example.com\r\n", NULL, "451 4.3.0 later" },
	{ "LHLO ok", SMTP_CLIENT_MODE_LMTP, EHLO_PIPE, NULL, TRUE, 0,
	  "LHLO client.example.com\r\n", "mx.example.org", NULL },
	{ "LHLO has no HELO", SMTP_CLIENT_MODE_LMTP, "500 5.5.1 what\r\n", NULL, FALSE,
	  SMTP_CLIENT_ERROR_PERMFAIL, "LHLO client.example.com\r\n", NULL, "LHLO client.example.com refused: 500" },
	{ "EHLO 354", SMTP_CLIENT_MODE_SMTP, "354 what\r\n", NULL, FALSE,
	  SMTP_CLIENT_ERROR_PROTOCOL, "EHLO client.example.com\r\n", NULL, "unexpected reply to EHLO" },
	{ "closed mid-reply", SMTP_CLIENT_MODE_SMTP, CLOSE "250-mx.example.org\r\n250-PIPELINING\r\n", NULL, FALSE,
	  SMTP_CLIENT_ERROR_PROTOCOL, "EHLO client.example.com\r\n", NULL,
	  "closed the connection in the middle of the reply to EHLO client.example.com" },
};

START_TEST(test_hello_table)
{
	for (gsize i = 0; i < G_N_ELEMENTS(hello_cases); i++) {
		const HelloCase *hc = &hello_cases[i];
		const char *script[] = { GREETING, hc->ehlo_reply, hc->helo_reply, NULL };
		Run run = { .script = script, .mode = hc->mode };
		run_world(&run);
		ck_assert_msg(run.failed_at == NULL || !hc->ok, "%s: failed at %s", hc->name, run.failed_at);
		if (hc->ok) {
			ck_assert_ptr_null(run.error);
			ck_assert_str_eq(run.ext_domain, hc->domain);
			ck_assert_int_eq(run.state, SMTP_CLIENT_STATE_READY);
		} else {
			ck_assert_str_eq(run.failed_at, "hello");
			assert_client_error(run.error, hc->code, hc->needle);
		}
		ck_assert_msg(strcmp(run.wire->str, hc->wire) == 0, "%s: wire %s", hc->name, run.wire->str);
		if (hc->helo_reply && hc->ok)
			ck_assert_uint_eq(run.ext_flags, 0);   /* HELO promises nothing */
		run_free(&run);
	}
}
END_TEST

START_TEST(test_extensions_read)
{
	const char *script[] = {
		GREETING,
		"250-mx.example.org at your service\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n"
		"250-8BITMIME\r\n250-auth plain LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250 XFOO bar\r\n",
		NULL,
	};
	Run run = { .script = script };
	run_world(&run);
	ck_assert_ptr_null(run.error);
	ck_assert_str_eq(run.ext_domain, "mx.example.org");
	ck_assert_uint_eq(run.ext_flags, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
	                                 SMTP_EXT_AUTH | SMTP_EXT_ENHANCEDSTATUSCODES);
	ck_assert_uint_eq(run.ext_size, 35882577);
	ck_assert_str_eq(run.ext_mechs, "PLAIN LOGIN");
	ck_assert_str_eq(run.ext_others, "XFOO bar");
	run_free(&run);
}
END_TEST

/* ---- AUTH ------------------------------------------------------------------ */

typedef struct {
	const char *name;
	const char *offer;        /* the EHLO reply */
	const char *mechanism;    /* NULL: best offered */
	const char *replies[4];   /* after EHLO */
	gboolean    ok;
	int         code;
	const char *wire;         /* after EHLO */
	const char *needle;
} AuthCase;

#define OFFER(mechs) "250-mx.example.org\r\n250 AUTH " mechs "\r\n"

static const AuthCase auth_cases[] = {
	{ "PLAIN", OFFER("PLAIN LOGIN"), "PLAIN", { "235 2.7.0 ok\r\n" }, TRUE, 0,
	  "AUTH PLAIN " PLAIN_B64 "\r\n", NULL },
	{ "best is PLAIN", OFFER("LOGIN PLAIN"), NULL, { "235 2.7.0 ok\r\n" }, TRUE, 0,
	  "AUTH PLAIN " PLAIN_B64 "\r\n", NULL },
	{ "LOGIN", OFFER("PLAIN LOGIN"), "login", { "334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n", "235 2.7.0 ok\r\n" },
	  TRUE, 0, "AUTH LOGIN\r\nYWxpY2U=\r\n" SECRET_B64 "\r\n", NULL },
	{ "best is LOGIN", OFFER("CRAM-MD5 LOGIN"), NULL, { "334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n", "235 ok\r\n" },
	  TRUE, 0, "AUTH LOGIN\r\nYWxpY2U=\r\n" SECRET_B64 "\r\n", NULL },
	{ "PLAIN 535", OFFER("PLAIN"), "PLAIN", { "535 5.7.8 bad credentials\r\n" }, FALSE,
	  SMTP_CLIENT_ERROR_PERMFAIL, "AUTH PLAIN " PLAIN_B64 "\r\n", "AUTH PLAIN refused: 535 5.7.8 bad credentials" },
	{ "LOGIN 454", OFFER("LOGIN"), NULL, { "334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n", "454 4.7.0 try later\r\n" },
	  FALSE, SMTP_CLIENT_ERROR_TEMPFAIL, "AUTH LOGIN\r\nYWxpY2U=\r\n" SECRET_B64 "\r\n",
	  "AUTH LOGIN refused: 454 4.7.0 try later" },
	{ "LOGIN refused at once", OFFER("LOGIN"), NULL, { "504 5.5.4 no\r\n" }, FALSE,
	  SMTP_CLIENT_ERROR_PERMFAIL, "AUTH LOGIN\r\n", "AUTH LOGIN refused: 504 5.5.4 no" },
	{ "PLAIN not offered", OFFER("LOGIN"), "PLAIN", { NULL }, FALSE, SMTP_CLIENT_ERROR_LOCAL, "",
	  "does not offer AUTH PLAIN" },
	{ "unknown mechanism", OFFER("PLAIN"), "XOAUTH2", { NULL }, FALSE, SMTP_CLIENT_ERROR_LOCAL, "",
	  "not a mechanism this client speaks" },
	{ "no AUTH at all", EHLO_PIPE, NULL, { NULL }, FALSE, SMTP_CLIENT_ERROR_LOCAL, "", "offers no AUTH" },
	{ "nothing in common", OFFER("CRAM-MD5 GSSAPI"), NULL, { NULL }, FALSE, SMTP_CLIENT_ERROR_LOCAL, "",
	  "(it offers: CRAM-MD5 GSSAPI)" },
	{ "PLAIN challenged", OFFER("PLAIN"), NULL, { "334 \r\n", "501 5.7.0 cancelled\r\n" }, FALSE,
	  SMTP_CLIENT_ERROR_PROTOCOL, "AUTH PLAIN " PLAIN_B64 "\r\n*\r\n", "challenge after the complete" },
};

START_TEST(test_auth_table)
{
	for (gsize i = 0; i < G_N_ELEMENTS(auth_cases); i++) {
		const AuthCase *ac = &auth_cases[i];
		const char *script[8] = { GREETING, ac->offer };
		for (guint k = 0; k < G_N_ELEMENTS(ac->replies) && ac->replies[k]; k++)
			script[2 + k] = ac->replies[k];
		Run run = { .script = script, .user = "alice", .password = SECRET, .mechanism = ac->mechanism };
		run_world(&run);
		ck_assert_msg(run.authenticated == ac->ok, "%s", ac->name);
		if (ac->ok) {
			ck_assert_msg(run.error == NULL, "%s: %s", ac->name, run.error ? run.error->message : "");
		} else {
			assert_client_error(run.error, ac->code, ac->needle);
			ck_assert(strstr(run.error->message, SECRET) == NULL);
		}
		g_autofree char *after_ehlo = units_from(&run, 1);
		ck_assert_msg(strcmp(after_ehlo, ac->wire) == 0, "%s: wire %s", ac->name, after_ehlo);
		/* The password and its base64 are on the wire but in no event's text. */
		g_autofree char *transcript = client_transcript(&run);
		ck_assert_msg(strstr(transcript, SECRET) == NULL, "%s: %s", ac->name, transcript);
		ck_assert_msg(strstr(transcript, SECRET_B64) == NULL, "%s: %s", ac->name, transcript);
		ck_assert_msg(strstr(transcript, PLAIN_B64) == NULL, "%s: %s", ac->name, transcript);
		run_free(&run);
	}
}
END_TEST

START_TEST(test_auth_masked_events_keep_payload)
{
	const char *script[] = { GREETING, OFFER("PLAIN"), "235 2.7.0 ok\r\n", NULL };
	Run run = { .script = script, .user = "alice", .password = SECRET, .mechanism = "PLAIN" };
	run_world(&run);
	ck_assert(run.authenticated);
	MsEvent *ev = find_send(&run, "C: AUTH PLAIN ••••••");
	ck_assert_ptr_nonnull(ev);
	gsize len;
	const char *payload = g_bytes_get_data(ev->payload, &len);
	ck_assert_int_eq(len, strlen("AUTH PLAIN " PLAIN_B64 "\r\n"));
	ck_assert(memcmp(payload, "AUTH PLAIN " PLAIN_B64 "\r\n", len) == 0);
	run_free(&run);

	const char *login_script[] = { GREETING, OFFER("LOGIN"), "334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n",
	                               "235 2.7.0 ok\r\n", NULL };
	Run login = { .script = login_script, .user = "alice", .password = SECRET };
	run_world(&login);
	ck_assert(login.authenticated);
	ck_assert_ptr_nonnull(find_send(&login, "C: AUTH LOGIN"));
	ck_assert_ptr_nonnull(find_send(&login, "C: YWxpY2U="));   /* the user name is no secret */
	ck_assert_ptr_nonnull(find_send(&login, "C: ••••••"));
	run_free(&login);
}
END_TEST

/* ---- transactions ------------------------------------------------------------- */

#define MAIL_LINE  "MAIL FROM:<alice@example.com>\r\n"
#define RCPT_BOB   "RCPT TO:<bob@example.org>\r\n"
#define RCPT_CAROL "RCPT TO:<carol@example.org>\r\n"

START_TEST(test_pipelined_one_segment)
{
	const char *script[] = { GREETING, EHLO_PIPE, "250 2.1.0 ok\r\n", "250 2.1.5 ok\r\n", "250 2.1.5 ok\r\n",
	                         GO_AHEAD, QUEUED, BYE, NULL };
	Run run = { .script = script, .rcpts = BOB_AND_CAROL, .quit = TRUE };
	run_world(&run);
	ck_assert_msg(run.ok, "%s", run.error ? run.error->message : "");
	ck_assert_str_eq(unit(&run, 1), MAIL_LINE);
	ck_assert_str_eq(unit(&run, 2), RCPT_BOB);
	ck_assert_str_eq(unit(&run, 3), RCPT_CAROL);
	ck_assert_str_eq(unit(&run, 4), "DATA\r\n");
	ck_assert_str_eq(unit(&run, 5), "Subject: hi\r\n\r\nhello\r\n.\r\n");
	ck_assert_str_eq(unit(&run, 6), "QUIT\r\n");
	/* RFC 2920: when MAIL was read, the RCPTs and DATA had already arrived ... */
	ck_assert_uint_eq(pending_after(&run, 1), strlen(RCPT_BOB RCPT_CAROL "DATA\r\n"));
	/* ... in the same segment. */
	ck_assert_uint_eq(segments_to_server(&run, strlen(MAIL_LINE RCPT_BOB RCPT_CAROL "DATA\r\n")), 1);
	SmtpSendResult *res = run.result;
	ck_assert_uint_eq(res->n_delivered, 2);
	ck_assert_uint_eq(res->mail_reply->code, 250);
	ck_assert_uint_eq(res->data_reply->code, 354);
	ck_assert_uint_eq(res->end_reply->code, 250);
	for (guint i = 0; i < 2; i++) {
		SmtpRecipientResult *r = rcpt_result(res, i);
		ck_assert_int_eq(r->status, SMTP_RECIPIENT_DELIVERED);
		ck_assert_int_eq(r->stage, SMTP_CLIENT_STAGE_DATA_END);
		ck_assert(r->rcpt_accepted);
		ck_assert_uint_eq(r->code, 250);
		ck_assert_str_eq(r->enhanced, "2.0.0");
		ck_assert_str_eq(r->text, "queued as 1A2B");
	}
	ck_assert_str_eq(rcpt_result(res, 1)->address, "carol@example.org");
	ck_assert_int_eq(run.state, SMTP_CLIENT_STATE_READY);
	ck_assert_int_eq(run.final_state, SMTP_CLIENT_STATE_CLOSED);
	run_free(&run);
}
END_TEST

START_TEST(test_lockstep_one_command_at_a_time)
{
	const char *script[] = { GREETING, EHLO_BARE, OK, OK, OK, GO_AHEAD, QUEUED, BYE, NULL };
	Run run = { .script = script, .rcpts = BOB_AND_CAROL, .quit = TRUE };
	run_world(&run);
	ck_assert(run.ok);
	g_autofree char *wire = units_from(&run, 1);
	ck_assert_str_eq(wire, MAIL_LINE RCPT_BOB RCPT_CAROL "DATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n");
	/* Each command waited for its reply: nothing was queued behind MAIL. */
	for (guint i = 1; i <= 4; i++)
		ck_assert_uint_eq(pending_after(&run, i), 0);
	ck_assert_uint_eq(segments_to_server(&run, strlen(MAIL_LINE)), 1);
	ck_assert_uint_eq(segments_to_server(&run, strlen(MAIL_LINE RCPT_BOB RCPT_CAROL "DATA\r\n")), 0);
	ck_assert_uint_eq(run.result->n_delivered, 2);
	run_free(&run);
}
END_TEST

START_TEST(test_one_recipient_refused)
{
	const char *const *scripts[] = {
		(const char *const[]){ GREETING, EHLO_BARE, OK, "550 5.1.1 no such user\r\n", OK, GO_AHEAD, QUEUED, NULL },
		(const char *const[]){ GREETING, EHLO_PIPE, OK, "550 5.1.1 no such user\r\n", OK, GO_AHEAD, QUEUED, NULL },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(scripts); i++) {
		Run run = { .script = scripts[i], .rcpts = BOB_AND_CAROL };
		run_world(&run);
		ck_assert_msg(run.ok, "%s", run.error ? run.error->message : "");
		ck_assert_ptr_null(run.error);
		ck_assert_uint_eq(run.result->n_delivered, 1);
		SmtpRecipientResult *bob = rcpt_result(run.result, 0), *carol = rcpt_result(run.result, 1);
		ck_assert_int_eq(bob->status, SMTP_RECIPIENT_PERMFAIL);
		ck_assert_int_eq(bob->stage, SMTP_CLIENT_STAGE_RCPT);
		ck_assert(!bob->rcpt_accepted);
		ck_assert_uint_eq(bob->code, 550);
		ck_assert_str_eq(bob->enhanced, "5.1.1");
		ck_assert_str_eq(bob->text, "no such user");
		ck_assert_int_eq(carol->status, SMTP_RECIPIENT_DELIVERED);
		ck_assert_uint_eq(carol->code, 250);
		/* The body went to the one recipient left. */
		ck_assert_str_eq(unit(&run, 5), "Subject: hi\r\n\r\nhello\r\n.\r\n");
		run_free(&run);
	}
}
END_TEST

START_TEST(test_all_recipients_refused_lockstep)
{
	const char *script[] = { GREETING, EHLO_BARE, OK, "550 5.1.1 no such user\r\n",
	                         "550 5.1.1 nobody here\r\n", "250 2.0.0 reset\r\n", BYE, NULL };
	Run run = { .script = script, .rcpts = BOB_AND_CAROL, .quit = TRUE };
	run_world(&run);
	ck_assert(!run.ok);
	assert_client_error(run.error, SMTP_CLIENT_ERROR_PERMFAIL,
	                    "RCPT TO:<bob@example.org> refused: 550 5.1.1 no such user; "
	                    "RCPT TO:<carol@example.org> refused: 550 5.1.1 nobody here");
	/* No DATA, no body: RSET instead. */
	g_autofree char *wire = units_from(&run, 1);
	ck_assert_str_eq(wire, MAIL_LINE RCPT_BOB RCPT_CAROL "RSET\r\nQUIT\r\n");
	ck_assert_ptr_nonnull(run.result);
	ck_assert_uint_eq(run.result->n_delivered, 0);
	ck_assert_ptr_null(run.result->data_reply);
	ck_assert_int_eq(rcpt_result(run.result, 1)->status, SMTP_RECIPIENT_PERMFAIL);
	ck_assert_int_eq(run.state, SMTP_CLIENT_STATE_READY);
	ck_assert_int_eq(run.last_code, 221);
	run_free(&run);
}
END_TEST

START_TEST(test_all_recipients_refused_pipelined)
{
	/* The server refuses DATA as it should (RFC 2920 3.1). */
	const char *script[] = { GREETING, EHLO_PIPE, OK, "550 5.1.1 no such user\r\n", "450 4.2.1 try later\r\n",
	                         "554 5.5.1 no valid recipients\r\n", OK, NULL };
	Run run = { .script = script, .rcpts = BOB_AND_CAROL };
	run_world(&run);
	/* One recipient may work later: the whole is a temporary failure. */
	assert_client_error(run.error, SMTP_CLIENT_ERROR_TEMPFAIL, "RCPT TO:<carol@example.org> refused: 450 4.2.1");
	g_autofree char *wire = units_from(&run, 1);
	ck_assert_str_eq(wire, MAIL_LINE RCPT_BOB RCPT_CAROL "DATA\r\nRSET\r\n");
	ck_assert_uint_eq(run.result->data_reply->code, 554);
	ck_assert_int_eq(rcpt_result(run.result, 0)->status, SMTP_RECIPIENT_PERMFAIL);
	ck_assert_int_eq(rcpt_result(run.result, 1)->status, SMTP_RECIPIENT_TEMPFAIL);
	ck_assert_int_eq(rcpt_result(run.result, 1)->stage, SMTP_CLIENT_STAGE_RCPT);
	run_free(&run);

	/* A server that says 354 anyway gets a lone "." and no body. */
	const char *lax[] = { GREETING, EHLO_PIPE, OK, "550 5.1.1 no such user\r\n", "550 5.1.1 no such user\r\n",
	                      GO_AHEAD, "554 5.5.1 no valid recipients\r\n", OK, NULL };
	Run run2 = { .script = lax, .rcpts = BOB_AND_CAROL };
	run_world(&run2);
	assert_client_error(run2.error, SMTP_CLIENT_ERROR_PERMFAIL, "RCPT TO:<bob@example.org> refused: 550 5.1.1");
	ck_assert_str_eq(unit(&run2, 5), ".\r\n");
	ck_assert_str_eq(unit(&run2, 6), "RSET\r\n");
	ck_assert(strstr(run2.wire->str, "Subject") == NULL);
	ck_assert_int_eq(run2.state, SMTP_CLIENT_STATE_READY);
	run_free(&run2);
}
END_TEST

START_TEST(test_mail_refused)
{
	const char *script[] = { GREETING, EHLO_BARE, "553 5.7.1 sender rejected\r\n", BYE, NULL };
	Run run = { .script = script, .rcpts = BOB_AND_CAROL, .quit = TRUE };
	run_world(&run);
	assert_client_error(run.error, SMTP_CLIENT_ERROR_PERMFAIL,
	                    "MAIL FROM:<alice@example.com> refused: 553 5.7.1 sender rejected");
	/* Said once, although it decided for both recipients. */
	ck_assert(strstr(strstr(run.error->message, "553") + 1, "553") == NULL);
	g_autofree char *wire = units_from(&run, 1);
	ck_assert_str_eq(wire, MAIL_LINE "QUIT\r\n");   /* no RCPT, no RSET: nothing was open */
	for (guint i = 0; i < 2; i++) {
		ck_assert_int_eq(rcpt_result(run.result, i)->status, SMTP_RECIPIENT_PERMFAIL);
		ck_assert_int_eq(rcpt_result(run.result, i)->stage, SMTP_CLIENT_STAGE_MAIL);
		ck_assert_uint_eq(rcpt_result(run.result, i)->code, 553);
	}
	run_free(&run);

	/* Pipelined, the RCPTs and DATA were already out: their 503s are read,
	 * and the session stays in step for the next transaction. */
	const char *piped[] = { GREETING, EHLO_PIPE, "451 4.3.0 try later\r\n", "503 5.5.1 MAIL first\r\n",
	                        "503 5.5.1 MAIL first\r\n", OK, OK, GO_AHEAD, QUEUED, NULL };
	Run run2 = { .script = piped, .rcpts = BOB, .second_message = "second\r\n" };
	run_world(&run2);
	ck_assert(!run2.ok);
	assert_client_error(run2.error, SMTP_CLIENT_ERROR_TEMPFAIL, "MAIL FROM:<alice@example.com> refused: 451 4.3.0");
	ck_assert_int_eq(rcpt_result(run2.result, 0)->status, SMTP_RECIPIENT_TEMPFAIL);
	ck_assert_msg(run2.ok2, "%s", run2.error2 ? run2.error2->message : "");
	ck_assert_uint_eq(run2.result2->n_delivered, 1);
	run_free(&run2);
}
END_TEST

START_TEST(test_data_end_tempfail)
{
	const char *script[] = { GREETING, EHLO_PIPE, OK, OK, OK, GO_AHEAD, "451 4.3.0 try again later\r\n", BYE, NULL };
	Run run = { .script = script, .rcpts = BOB_AND_CAROL, .quit = TRUE };
	run_world(&run);
	ck_assert(!run.ok);
	assert_client_error(run.error, SMTP_CLIENT_ERROR_TEMPFAIL, "the message refused: 451 4.3.0 try again later");
	for (guint i = 0; i < 2; i++) {
		SmtpRecipientResult *r = rcpt_result(run.result, i);
		ck_assert_int_eq(r->status, SMTP_RECIPIENT_TEMPFAIL);
		ck_assert_int_eq(r->stage, SMTP_CLIENT_STAGE_DATA_END);
		ck_assert(r->rcpt_accepted);
	}
	/* The transaction ended with the "." : no RSET. */
	ck_assert_str_eq(unit(&run, 6), "QUIT\r\n");
	ck_assert_int_eq(run.state, SMTP_CLIENT_STATE_READY);
	run_free(&run);

	/* A refused DATA decides for the recipients RCPT had accepted. */
	const char *refused[] = { GREETING, EHLO_BARE, OK, OK, "452 4.3.1 out of space\r\n", OK, NULL };
	Run run2 = { .script = refused, .rcpts = BOB };
	run_world(&run2);
	assert_client_error(run2.error, SMTP_CLIENT_ERROR_TEMPFAIL, "DATA refused: 452 4.3.1 out of space");
	ck_assert_int_eq(rcpt_result(run2.result, 0)->stage, SMTP_CLIENT_STAGE_DATA);
	ck_assert_str_eq(unit(&run2, 4), "RSET\r\n");
	run_free(&run2);
}
END_TEST

START_TEST(test_lmtp_reply_per_recipient)
{
	const char *script[] = { GREETING, EHLO_PIPE, OK, OK, OK, GO_AHEAD,
	                         "250 2.0.0 <bob@example.org> delivered\r\n"
	                         "452 4.2.2 <carol@example.org> mailbox full\r\n",
	                         BYE, NULL };
	Run run = { .script = script, .mode = SMTP_CLIENT_MODE_LMTP, .rcpts = BOB_AND_CAROL, .quit = TRUE };
	run_world(&run);
	ck_assert_msg(run.ok, "%s", run.error ? run.error->message : "");
	ck_assert_str_eq(unit(&run, 0), "LHLO client.example.com\r\n");
	ck_assert_uint_eq(run.result->n_delivered, 1);
	ck_assert_ptr_null(run.result->end_reply);
	SmtpRecipientResult *bob = rcpt_result(run.result, 0), *carol = rcpt_result(run.result, 1);
	ck_assert_int_eq(bob->status, SMTP_RECIPIENT_DELIVERED);
	ck_assert_str_eq(bob->text, "<bob@example.org> delivered");
	ck_assert_int_eq(carol->status, SMTP_RECIPIENT_TEMPFAIL);
	ck_assert_int_eq(carol->stage, SMTP_CLIENT_STAGE_DATA_END);
	ck_assert_uint_eq(carol->code, 452);
	ck_assert_str_eq(carol->enhanced, "4.2.2");
	/* Both replies read, so QUIT's 221 was the next. */
	ck_assert_int_eq(run.last_code, 221);
	ck_assert_int_eq(run.final_state, SMTP_CLIENT_STATE_CLOSED);
	run_free(&run);

	/* Only accepted recipients get a reply after the ".". */
	const char *one[] = { GREETING, EHLO_PIPE, OK, "550 5.1.1 unknown\r\n", OK, GO_AHEAD,
	                      "250 2.0.0 <carol@example.org> delivered\r\n", BYE, NULL };
	Run run2 = { .script = one, .mode = SMTP_CLIENT_MODE_LMTP, .rcpts = BOB_AND_CAROL, .quit = TRUE };
	run_world(&run2);
	ck_assert(run2.ok);
	ck_assert_int_eq(rcpt_result(run2.result, 0)->status, SMTP_RECIPIENT_PERMFAIL);
	ck_assert_int_eq(rcpt_result(run2.result, 1)->status, SMTP_RECIPIENT_DELIVERED);
	ck_assert_int_eq(run2.last_code, 221);
	run_free(&run2);

	/* Every recipient refused after the data: the error names each. */
	const char *none[] = { GREETING, EHLO_PIPE, OK, OK, OK, GO_AHEAD,
	                       "552 5.2.2 over quota\r\n452 4.2.2 mailbox full\r\n", NULL };
	Run run3 = { .script = none, .mode = SMTP_CLIENT_MODE_LMTP, .rcpts = BOB_AND_CAROL };
	run_world(&run3);
	assert_client_error(run3.error, SMTP_CLIENT_ERROR_TEMPFAIL,
	                    "the message for <bob@example.org> refused: 552 5.2.2 over quota; "
	                    "the message for <carol@example.org> refused: 452 4.2.2 mailbox full");
	run_free(&run3);
}
END_TEST

START_TEST(test_lmtp_closed_between_replies)
{
	const char *script[] = { GREETING, EHLO_PIPE, OK, OK, OK, GO_AHEAD,
	                         CLOSE "250 2.0.0 <bob@example.org> delivered\r\n", NULL };
	Run run = { .script = script, .mode = SMTP_CLIENT_MODE_LMTP, .rcpts = BOB_AND_CAROL };
	run_world(&run);
	ck_assert(!run.ok);
	assert_client_error(run.error, SMTP_CLIENT_ERROR_PROTOCOL,
	                    "closed the connection instead of replying to the message for <carol@example.org>");
	/* bob has it, carol's fate is unknown: the caller must not resend to bob. */
	ck_assert_uint_eq(run.result->n_delivered, 1);
	ck_assert_int_eq(rcpt_result(run.result, 0)->status, SMTP_RECIPIENT_DELIVERED);
	ck_assert_int_eq(rcpt_result(run.result, 1)->status, SMTP_RECIPIENT_UNKNOWN);
	ck_assert_uint_eq(rcpt_result(run.result, 1)->code, 0);
	ck_assert_int_eq(run.state, SMTP_CLIENT_STATE_FAILED);
	run_free(&run);
}
END_TEST

/* ---- the message ----------------------------------------------------------- */

START_TEST(test_dot_stuffing_on_the_wire)
{
	static const char message[] = "Subject: dots\n\n.hidden line\n..two dots\n.\r\nbare CR\rlast line";
	static const char stuffed[] = "Subject: dots\r\n\r\n..hidden line\r\n...two dots\r\n..\r\n"
	                              "bare CR\r\nlast line\r\n.\r\n";
	/* what the server stores: CRLFs counted, stuffing dots not */
	const gsize size = strlen(stuffed) - 3 - 3;
	const char *script[] = { GREETING, "250-mx.example.org\r\n250 SIZE 1000\r\n", OK, OK, GO_AHEAD, QUEUED, NULL };
	Run run = { .script = script, .rcpts = BOB, .message = message };
	run_world(&run);
	ck_assert_msg(run.ok, "%s", run.error ? run.error->message : "");
	ck_assert_str_eq(unit(&run, 4), stuffed);
	g_autofree char *mail = g_strdup_printf("MAIL FROM:<alice@example.com> SIZE=%" G_GSIZE_FORMAT "\r\n", size);
	ck_assert_str_eq(unit(&run, 1), mail);
	/* One readable event for the whole body; its payload is the real bytes. */
	g_autofree char *display = g_strdup_printf("C: (message: %" G_GSIZE_FORMAT " bytes, 7 lines)", size);
	MsEvent *ev = find_send(&run, display);
	ck_assert_msg(ev != NULL, "no event \"%s\"", display);
	gsize len;
	const char *payload = g_bytes_get_data(ev->payload, &len);
	ck_assert_uint_eq(len, strlen(stuffed));
	ck_assert(memcmp(payload, stuffed, len) == 0);
	g_autofree char *transcript = client_transcript(&run);
	ck_assert(strstr(transcript, "hidden") == NULL);
	run_free(&run);
}
END_TEST

START_TEST(test_empty_message)
{
	const char *script[] = { GREETING, EHLO_BARE, OK, OK, GO_AHEAD, QUEUED, NULL };
	Run run = { .script = script, .rcpts = BOB, .message = "" };
	run_world(&run);
	ck_assert(run.ok);
	ck_assert_str_eq(unit(&run, 4), ".\r\n");
	ck_assert_ptr_nonnull(find_send(&run, "C: (message: 0 bytes, 0 lines)"));
	run_free(&run);
}
END_TEST

typedef struct {
	const char *name;
	const char *ehlo;
	const char *message;
	const char *mail_line;   /* NULL: refused locally */
} MailParamCase;

#define EHLO_WITH(ext) "250-mx.example.org\r\n250 " ext "\r\n"
#define SIZE_20 "Subject: x\r\n\r\nbody\r\n"   /* 20 octets */

static const MailParamCase mail_param_cases[] = {
	{ "no SIZE offered", EHLO_BARE, SIZE_20, MAIL_LINE },
	{ "SIZE with room", EHLO_WITH("SIZE 1000"), SIZE_20, "MAIL FROM:<alice@example.com> SIZE=20\r\n" },
	{ "SIZE exactly", EHLO_WITH("SIZE 20"), SIZE_20, "MAIL FROM:<alice@example.com> SIZE=20\r\n" },
	{ "SIZE one short", EHLO_WITH("SIZE 19"), SIZE_20, NULL },
	{ "SIZE without limit", EHLO_WITH("SIZE"), SIZE_20, "MAIL FROM:<alice@example.com> SIZE=20\r\n" },
	{ "LF counted as CRLF", EHLO_WITH("SIZE 20"), "Subject: x\n\nbody", "MAIL FROM:<alice@example.com> SIZE=20\r\n" },
	{ "8-bit with 8BITMIME", EHLO_WITH("8BITMIME"), "Subject: caf\xc3\xa9\r\n\r\n",
	  "MAIL FROM:<alice@example.com> BODY=8BITMIME\r\n" },
	{ "7-bit with 8BITMIME", EHLO_WITH("8BITMIME"), SIZE_20, MAIL_LINE },
	{ "8-bit without 8BITMIME", EHLO_BARE, "caf\xc3\xa9\r\n", MAIL_LINE },
	{ "both", "250-mx.example.org\r\n250-8BITMIME\r\n250 SIZE 100\r\n", "caf\xc3\xa9\r\n",
	  "MAIL FROM:<alice@example.com> SIZE=7 BODY=8BITMIME\r\n" },
};

START_TEST(test_mail_parameters)
{
	for (gsize i = 0; i < G_N_ELEMENTS(mail_param_cases); i++) {
		const MailParamCase *mc = &mail_param_cases[i];
		const char *script[] = { GREETING, mc->ehlo, OK, OK, GO_AHEAD, QUEUED, OK, OK, GO_AHEAD, QUEUED, NULL };
		/* After a local refusal the session is still good for a small message. */
		Run run = { .script = script, .rcpts = BOB, .message = mc->message,
		            .second_message = mc->mail_line ? NULL : "tiny\r\n" };
		run_world(&run);
		if (mc->mail_line) {
			ck_assert_msg(run.ok, "%s: %s", mc->name, run.error ? run.error->message : "");
			ck_assert_msg(strcmp(unit(&run, 1), mc->mail_line) == 0, "%s: %s", mc->name, unit(&run, 1));
		} else {
			assert_client_error(run.error, SMTP_CLIENT_ERROR_LOCAL,
			                    "message of 20 octets is larger than the 19 octets mx.example.org accepts");
			ck_assert_ptr_null(run.result);
			ck_assert_msg(run.ok2, "%s: %s", mc->name, run.error2 ? run.error2->message : "");
			/* Nothing of the big one went out. */
			ck_assert_str_eq(unit(&run, 1), "MAIL FROM:<alice@example.com> SIZE=6\r\n");
			ck_assert_str_eq(unit(&run, 4), "tiny\r\n.\r\n");
		}
		run_free(&run);
	}
}
END_TEST

typedef struct {
	const char *from;
	const char *rcpt;
	const char *mail_line;   /* NULL: refused locally */
	const char *rcpt_line;
} AddressCase;

static const AddressCase address_cases[] = {
	{ "", "bob@example.org", "MAIL FROM:<>\r\n", RCPT_BOB },
	{ "alice@example.com", "postmaster", MAIL_LINE, "RCPT TO:<postmaster>\r\n" },
	{ "alice@example.com", "\"bob smith\"@example.org", MAIL_LINE, "RCPT TO:<\"bob smith\"@example.org>\r\n" },
	{ "alice@example.com", "bob@example.org>\r\nDATA", NULL, NULL },
	{ "alice@example.com", "<bob@example.org>", NULL, NULL },
	{ "alice@example.com\r\nRSET", "bob@example.org", NULL, NULL },
	{ "alice@example.com", "", NULL, NULL },
	{ "alice@example.com", "bob", NULL, NULL },
};

START_TEST(test_addresses)
{
	for (gsize i = 0; i < G_N_ELEMENTS(address_cases); i++) {
		const AddressCase *ac = &address_cases[i];
		const char *rcpts[] = { ac->rcpt, NULL };
		const char *script[] = { GREETING, EHLO_BARE, OK, OK, GO_AHEAD, QUEUED, NULL };
		Run run = { .script = script, .from = ac->from, .rcpts = rcpts };
		run_world(&run);
		if (ac->mail_line) {
			ck_assert_msg(run.ok, "%s: %s", ac->rcpt, run.error ? run.error->message : "");
			ck_assert_str_eq(unit(&run, 1), ac->mail_line);
			ck_assert_str_eq(unit(&run, 2), ac->rcpt_line);
		} else {
			assert_client_error(run.error, SMTP_CLIENT_ERROR_LOCAL, NULL);
			ck_assert_msg(run.units->len == 1, "case %zu: something was sent", i);
			ck_assert_int_eq(run.state, SMTP_CLIENT_STATE_READY);
		}
		run_free(&run);
	}
}
END_TEST

/* ---- broken servers ------------------------------------------------------ */

START_TEST(test_malformed_reply_mid_transaction)
{
	static const char *const bad_replies[] = {
		"25O ok\r\n",                         /* letter O */
		"250-ok\r\n550 5.1.1 changed my mind\r\n",   /* mixed codes */
		"354 go on\r\n",                      /* a code that makes no sense here */
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad_replies); i++) {
		const char *script[] = { GREETING, EHLO_BARE, OK, bad_replies[i], OK, OK, NULL };
		Run run = { .script = script, .rcpts = BOB, .second_message = "again\r\n" };
		run_world(&run);
		ck_assert(!run.ok);
		assert_client_error(run.error, SMTP_CLIENT_ERROR_PROTOCOL, "reply to RCPT TO:<bob@example.org>");
		ck_assert_int_eq(run.state, SMTP_CLIENT_STATE_FAILED);
		ck_assert_int_eq(rcpt_result(run.result, 0)->status, SMTP_RECIPIENT_UNKNOWN);
		/* Out of step: the session says nothing more. */
		ck_assert(!run.ok2);
		assert_client_error(run.error2, SMTP_CLIENT_ERROR_PROTOCOL, "is failed");
		ck_assert_ptr_null(run.result2);
		ck_assert_uint_eq(run.units->len, 3);
		run_free(&run);
	}
}
END_TEST

START_TEST(test_421_mid_transaction)
{
	const char *script[] = { GREETING, EHLO_PIPE, OK, "421 4.3.2 shutting down\r\n", NULL };
	Run run = { .script = script, .rcpts = BOB_AND_CAROL };
	run_world(&run);
	assert_client_error(run.error, SMTP_CLIENT_ERROR_TEMPFAIL,
	                    "mx.example.org is closing the connection: 421 4.3.2 shutting down "
	                    "(in reply to RCPT TO:<bob@example.org>)");
	ck_assert_int_eq(run.state, SMTP_CLIENT_STATE_FAILED);
	ck_assert_int_eq(rcpt_result(run.result, 0)->status, SMTP_RECIPIENT_UNKNOWN);
	run_free(&run);
}
END_TEST

typedef struct {
	const char *name;
	const char *script[8];
	gint64      patience;
	const char *needle;
} TimeoutCase;

static const TimeoutCase timeout_cases[] = {
	{ "greeting", { HANG }, SMTP_CLIENT_TIMEOUT_GREETING, "the greeting" },
	{ "EHLO", { GREETING, HANG }, SMTP_CLIENT_TIMEOUT_COMMAND, "EHLO client.example.com" },
	{ "MAIL", { GREETING, EHLO_BARE, HANG }, SMTP_CLIENT_TIMEOUT_MAIL, "MAIL FROM:<alice@example.com>" },
	{ "RCPT", { GREETING, EHLO_BARE, OK, HANG }, SMTP_CLIENT_TIMEOUT_RCPT, "RCPT TO:<bob@example.org>" },
	{ "DATA", { GREETING, EHLO_BARE, OK, OK, HANG }, SMTP_CLIENT_TIMEOUT_DATA_INIT, "DATA" },
	{ "end of data", { GREETING, EHLO_BARE, OK, OK, GO_AHEAD, HANG }, SMTP_CLIENT_TIMEOUT_DATA_END, "the message" },
};

START_TEST(test_timeouts_on_the_virtual_clock)
{
	ck_assert_int_eq(SMTP_CLIENT_TIMEOUT_GREETING, 300 * MS_SECOND);
	ck_assert_int_eq(SMTP_CLIENT_TIMEOUT_DATA_INIT, 120 * MS_SECOND);
	ck_assert_int_eq(SMTP_CLIENT_TIMEOUT_DATA_END, 600 * MS_SECOND);
	for (gsize i = 0; i < G_N_ELEMENTS(timeout_cases); i++) {
		const TimeoutCase *tc = &timeout_cases[i];
		Run run = { .script = tc->script, .rcpts = BOB };
		run_world(&run);
		assert_error(run.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, tc->needle);
		ck_assert(g_str_has_prefix(run.error->message, "waiting for the reply to "));
		ck_assert_int_eq(run.state, SMTP_CLIENT_STATE_FAILED);
		/* The wait began when the command went out (or, for the greeting, at connect). */
		gint64 began = i == 0 ? run.t_connected : last_client_send_time(&run);
		ck_assert_msg(run.t_failed - began == tc->patience, "%s: waited %" G_GINT64_FORMAT " us",
		              tc->name, run.t_failed - began);
		run_free(&run);
	}
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(smtp_client_error_to_string(SMTP_CLIENT_ERROR_LOCAL), "local");
	ck_assert_str_eq(smtp_client_mode_to_string(SMTP_CLIENT_MODE_LMTP), "lmtp");
	ck_assert_str_eq(smtp_client_state_to_string(SMTP_CLIENT_STATE_REJECTED), "rejected");
	ck_assert_str_eq(smtp_client_stage_to_string(SMTP_CLIENT_STAGE_DATA_END), "data-end");
	ck_assert_str_eq(smtp_recipient_status_to_string(SMTP_RECIPIENT_UNKNOWN), "unknown");
	ck_assert_str_eq(smtp_client_state_to_string((SmtpClientState)99), "unknown");
	ck_assert_str_eq(smtp_client_stage_to_string(SMTP_CLIENT_STAGE_COUNT), "unknown");
}
END_TEST

static Suite *smtp_client_suite(void)
{
	Suite *s = suite_create("smtp_client");
	MS_ADD_TEST(s, test_greeting_table, 30);
	MS_ADD_TEST(s, test_greeting_refused_then_quit, 10);
	MS_ADD_TEST(s, test_starttls, 30);
	MS_ADD_TEST(s, test_hello_table, 30);
	MS_ADD_TEST(s, test_extensions_read, 10);
	MS_ADD_TEST(s, test_auth_table, 30);
	MS_ADD_TEST(s, test_auth_masked_events_keep_payload, 10);
	MS_ADD_TEST(s, test_pipelined_one_segment, 10);
	MS_ADD_TEST(s, test_lockstep_one_command_at_a_time, 10);
	MS_ADD_TEST(s, test_one_recipient_refused, 10);
	MS_ADD_TEST(s, test_all_recipients_refused_lockstep, 10);
	MS_ADD_TEST(s, test_all_recipients_refused_pipelined, 10);
	MS_ADD_TEST(s, test_mail_refused, 10);
	MS_ADD_TEST(s, test_data_end_tempfail, 10);
	MS_ADD_TEST(s, test_lmtp_reply_per_recipient, 10);
	MS_ADD_TEST(s, test_lmtp_closed_between_replies, 10);
	MS_ADD_TEST(s, test_dot_stuffing_on_the_wire, 10);
	MS_ADD_TEST(s, test_empty_message, 10);
	MS_ADD_TEST(s, test_mail_parameters, 30);
	MS_ADD_TEST(s, test_addresses, 30);
	MS_ADD_TEST(s, test_malformed_reply_mid_transaction, 10);
	MS_ADD_TEST(s, test_421_mid_transaction, 10);
	MS_ADD_TEST(s, test_timeouts_on_the_virtual_clock, 30);
	MS_ADD_TEST(s, test_names, 5);
	return s;
}

MS_TEST_MAIN(smtp_client_suite)
