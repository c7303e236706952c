/* tests/agents/mra/test_imap_server.c - the IMAP session and the MRA agent
 * over the simulated network: a scripted client, the real account service
 * protocol (authsvc_serve over a one-user backend), Maildirs on disk.
 * Every command, flags kept across sessions, two sessions seeing each
 * other's changes, IDLE woken by a change and by a delivery, UIDs across a
 * restart of the agent, hostile input, and the course steps of events. */
#include "tests/ms_test.h"
#include "agents/mra/imap_server.h"
#include "agents/mra/imap_proto.h"
#include "agents/mra/mra.h"
#include "agents/mda/authsvc.h"
#include "agents/mda/maildir.h"
#include "agents/common/sasl.h"
#include "net/simnet.h"

#include <stdarg.h>

#define MAIL_ADDR "192.0.2.20"
#define USER      "bob@example.org"
#define PASSWORD  "secret"

/* ---- the world ---------------------------------------------------------- */

typedef struct World World;
typedef void (*Script)(World *w);

struct World {
	MsSched    *s;
	MsNet      *net;
	MsHost     *mail, *client;
	MsStack    *mda_stack, *mra_stack;
	MsSink     *rec;
	Mra        *mra;
	MsListener *auth_l;
	char       *dir;
	Script      scripts[3];
	MaildirStamp stamp;       /* the "MDA"'s deliveries */
	/* what scripts leave for the checks after the run */
	guint32     uidvalidity;
	GString    *log;
	guint       finished;     /* scripts that ran to their end */
};

static gboolean backend_verify(gpointer ud, const char *user, const char *password, GError **error)
{
	return (g_ascii_strcasecmp(user, USER) == 0 && strcmp(password, PASSWORD) == 0) ||
	       (g_ascii_strcasecmp(user, "alice@example.org") == 0 && strcmp(password, "wonderland") == 0);
}

static GPtrArray *backend_resolve(gpointer ud, const char *address, GError **error)
{
	return g_ptr_array_new_with_free_func(g_free);
}

static const AuthsvcBackend backend = { backend_verify, backend_resolve };

static void auth_conn_task(gpointer data)
{
	MsConn *c = data;
	authsvc_serve(c, &backend, NULL, "in.8", "in.5");
	ms_conn_unref(c);
}

static void auth_accept_task(gpointer data)
{
	World *w = data;
	for (;;) {
		MsConn *c = ms_listener_accept(w->auth_l, NULL);
		if (!c)
			return;
		ms_task_spawn(w->s, "authsvc", auth_conn_task, c);
	}
}

static void world_start_mra(World *w)
{
	MraConfig cfg = { .hostname = "mail.example.org", .state_dir = w->dir, .seed = 7 };
	GError *err = NULL;
	w->mra = mra_new(w->mra_stack, &cfg, &err);
	ck_assert_ptr_nonnull(w->mra);
	ck_assert(mra_start(w->mra, &err));
}

static void world_init(World *w)
{
	memset(w, 0, sizeof *w);
	w->dir = ms_test_tmpdir();
	w->log = g_string_new(NULL);
	w->s = ms_sched_new(MS_SCHED_VIRTUAL, 7);
	w->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(w->s), w->rec);
	w->net = ms_net_new(w->s);
	w->mail = ms_net_add_host(w->net, "mail.example.org", MAIL_ADDR, NULL);
	w->client = ms_net_add_host(w->net, "client.example.com", "192.0.2.10", NULL);
	w->mda_stack = ms_host_stack_alias(w->mail, "mda@mail.example.org");
	w->mra_stack = ms_host_stack_alias(w->mail, "mra@mail.example.org");
	w->auth_l = ms_stack_listen(w->mda_stack, NULL, AUTHSVC_PORT, NULL);
	ck_assert_ptr_nonnull(w->auth_l);
	ms_task_spawn(w->s, "authsvc-accept", auth_accept_task, w);
	w->stamp.process = 99;
	world_start_mra(w);
}

typedef struct {
	World *w;
	Script script;
} Run;

static void script_task(gpointer data)
{
	Run *r = data;
	r->script(r->w);
	r->w->finished++;
	g_free(r);
}

static void world_run(World *w)
{
	guint n = 0;
	for (guint i = 0; i < G_N_ELEMENTS(w->scripts); i++) {
		if (!w->scripts[i])
			continue;
		Run *r = g_new0(Run, 1);
		r->w = w;
		r->script = w->scripts[i];
		ms_task_spawn(w->s, i == 0 ? "client-a" : i == 1 ? "client-b" : "client-c", script_task, r);
		n++;
	}
	ck_assert(ms_sched_run(w->s, MS_FOREVER));
	ck_assert_uint_eq(w->finished, n);
}

static void world_free(World *w)
{
	mra_stop(w->mra);
	ms_listener_close(w->auth_l);
	ms_sched_shutdown(w->s);
	mra_free(w->mra);
	ms_listener_free(w->auth_l);
	ms_stack_unref(w->mda_stack);
	ms_stack_unref(w->mra_stack);
	ms_net_free(w->net);
	ms_sched_free(w->s);
	ms_test_rmtree(w->dir);
	g_free(w->dir);
	g_string_free(w->log, TRUE);
}

/* LF to CRLF, as SMTP hands a message to the MDA. */
static char *crlf(const char *text)
{
	GString *s = g_string_new(NULL);
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			g_string_append_c(s, '\r');
		g_string_append_c(s, *p);
	}
	return g_string_free(s, FALSE);
}

static Maildir *user_maildir(World *w, const char *user)
{
	g_autofree char *mail = g_build_filename(w->dir, MRA_MAIL_DIR, NULL);
	g_autofree char *root = maildir_user_root(mail, user, NULL);
	Maildir *md = maildir_new(root, "mail.example.org", FALSE);
	ck_assert(maildir_ensure_defaults(md, 1000, NULL));
	return md;
}

/* What the MDA does: a file written into new/ (CRLF line ends). */
static void deliver(World *w, const char *folder, const char *text)
{
	g_autoptr(Maildir) md = user_maildir(w, USER);
	g_autofree char *data = crlf(text);
	w->stamp.time_us = MRA_DEFAULT_EPOCH_US + ms_sched_now(w->s);
	GError *err = NULL;
	ck_assert_msg(maildir_deliver(md, folder, data, strlen(data), 0, &w->stamp, NULL, &err), "%s",
	              err ? err->message : "");
}

static const char *const msg_hello =
	"From: Alice <alice@example.com>\n"
	"To: bob@example.org\n"
	"Subject: Hello Bob\n"
	"Date: Thu, 01 Jan 2026 10:00:00 +0000\n"
	"Message-ID: <1@example.com>\n"
	"\n"
	"Hi Bob,\n"
	".a line that starts with a dot\n"
	"see you\n";

static const char *const msg_photos =
	"From: carol@example.net\n"
	"To: bob@example.org\n"
	"Cc: dave@example.com\n"
	"Subject: Photos\n"
	"Date: Fri, 2 Jan 2026 09:30:00 +0100\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\n"
	"\n"
	"--XX\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"\n"
	"See attached.\n"
	"--XX\n"
	"Content-Type: image/png; name=\"p.png\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"iVBORw0KGgo=\n"
	"--XX--\n";

static const char *const msg_lunch =
	"From: dave@example.com\n"
	"To: bob@example.org\n"
	"Subject: Lunch\n"
	"Date: Sat, 10 Jan 2026 12:00:00 +0000\n"
	"X-Priority: 1\n"
	"\n"
	"Lunch at noon? Bring the quarterly report.\n";

static void deliver_three(World *w)
{
	deliver(w, NULL, msg_hello);
	deliver(w, NULL, msg_photos);
	deliver(w, NULL, msg_lunch);
}

/* ---- the scripted client ------------------------------------------------ */

#define LINE_MAX_TEST (1024 * 1024)

typedef struct {
	MsConn *c;
	char   *line;
	char   *greeting;
} Client;

static char *read_text_line(Client *cl, MsEol *eol_r)
{
	MsEol eol = MS_EOL_EOF;
	gssize n = ms_conn_read_line(cl->c, cl->line, LINE_MAX_TEST, &eol, NULL);
	if (eol_r)
		*eol_r = eol;
	if (n < 0 || (n == 0 && eol == MS_EOL_EOF))
		return NULL;
	return g_strndup(cl->line, (gsize)n);
}

static Client *client_new(World *w, guint16 port)
{
	Client *cl = g_new0(Client, 1);
	cl->line = g_malloc(LINE_MAX_TEST + 1);
	cl->c = ms_stack_connect(ms_host_stack(w->client), MAIL_ADDR, port, MS_SECOND, NULL);
	ck_assert_ptr_nonnull(cl->c);
	cl->greeting = read_text_line(cl, NULL);
	ck_assert_ptr_nonnull(cl->greeting);
	return cl;
}

static void client_free(Client *cl)
{
	ms_conn_unref(cl->c);
	g_free(cl->line);
	g_free(cl->greeting);
	g_free(cl);
}

static void send_raw(Client *cl, const char *data, gsize len)
{
	ck_assert(ms_conn_write(cl->c, data, len, NULL));
}

static void send_str(Client *cl, const char *text)
{
	send_raw(cl, text, strlen(text));
}

/* Read responses until the tagged one; all lines joined by "\n", literal
 * data inline.  "(closed)" is appended if the server hung up. */
static char *read_until(Client *cl, const char *tag)
{
	GString *all = g_string_new(NULL);
	g_autofree char *prefix = g_strdup_printf("%s ", tag);
	for (;;) {
		g_autofree char *line = read_text_line(cl, NULL);
		if (!line) {
			g_string_append(all, "(closed)");
			break;
		}
		g_string_append(all, line);
		gsize len = strlen(line);
		/* a literal: read its bytes, the response line goes on after them */
		if (len > 2 && line[len - 1] == '}') {
			const char *open = strrchr(line, '{');
			guint64 n = open ? g_ascii_strtoull(open + 1, NULL, 10) : 0;
			if (open && n > 0) {
				char *buf = g_malloc(n + 1);
				ck_assert(ms_conn_read_exact(cl->c, buf, n, NULL));
				g_string_append_len(all, buf, (gssize)n);
				g_free(buf);
				continue;
			}
		}
		g_string_append_c(all, '\n');
		if (g_str_has_prefix(line, prefix) || (tag[0] == '*' && line[0] == '*'))
			break;
	}
	return g_string_free(all, FALSE);
}

static char *cmd(Client *cl, const char *tag, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static char *cmd(Client *cl, const char *tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_autofree char *line = g_strdup_printf("%s %s\r\n", tag, text);
	send_raw(cl, line, strlen(line));
	return read_until(cl, tag);
}

#define HAS(hay, needle) ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\" in:\n%s", (needle), (hay))
#define HASNT(hay, needle) ck_assert_msg(strstr((hay), (needle)) == NULL, "did not expect \"%s\" in:\n%s", (needle), (hay))

/* A logged-in client. */
static Client *login(World *w)
{
	Client *cl = client_new(w, MRA_IMAP_PORT);
	g_autofree char *r = cmd(cl, "L1", "LOGIN %s %s", USER, PASSWORD);
	HAS(r, "L1 OK");
	return cl;
}

static void logout(Client *cl)
{
	g_autofree char *r = cmd(cl, "LO", "LOGOUT");
	HAS(r, "* BYE");
	HAS(r, "LO OK");
	client_free(cl);
}

/* The number after "word " in text, or 0. */
static guint64 number_after(const char *text, const char *word)
{
	const char *p = strstr(text, word);
	return p ? g_ascii_strtoull(p + strlen(word), NULL, 10) : 0;
}

/* ---- login and the not-authenticated state ------------------------------ */

static void script_login(World *w)
{
	Client *cl = client_new(w, MRA_IMAP_PORT);
	HAS(cl->greeting, "* OK [CAPABILITY IMAP4rev1");
	HAS(cl->greeting, "AUTH=PLAIN");
	g_autofree char *r1 = cmd(cl, "a1", "CAPABILITY");
	HAS(r1, "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT SPECIAL-USE");
	g_autofree char *r2 = cmd(cl, "a2", "LOGIN %s wrong", USER);
	HAS(r2, "a2 NO [AUTHENTICATIONFAILED]");
	g_autofree char *r3 = cmd(cl, "a3", "NOOP");
	HAS(r3, "a3 OK");
	g_autofree char *r4 = cmd(cl, "a4", "STARTTLS");
	HAS(r4, "a4 BAD");
	g_autofree char *r5 = cmd(cl, "a5", "ID (\"name\" \"test\")");
	HAS(r5, "* ID (\"name\" \"mailsim\"");
	g_autofree char *r6 = cmd(cl, "a6", "LOGIN \"%s\" \"%s\"", USER, PASSWORD);
	HAS(r6, "a6 OK [CAPABILITY IMAP4rev1");
	g_autofree char *r7 = cmd(cl, "a7", "NAMESPACE");
	HAS(r7, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	g_autofree char *r8 = cmd(cl, "a8", "ENABLE CONDSTORE");
	HAS(r8, "* ENABLED");
	HAS(r8, "a8 OK");
	logout(cl);

	/* AUTHENTICATE PLAIN with an initial response (RFC 4959) */
	cl = client_new(w, MRA_IMAP_PORT);
	g_autofree char *plain = sasl_plain_encode(NULL, USER, PASSWORD);
	g_autofree char *r9 = cmd(cl, "b1", "AUTHENTICATE PLAIN %s", plain);
	HAS(r9, "b1 OK");
	logout(cl);

	/* AUTHENTICATE LOGIN, answering the server's challenges */
	cl = client_new(w, MRA_IMAP_PORT);
	send_str(cl, "c1 AUTHENTICATE LOGIN\r\n");
	g_autofree char *ch1 = read_text_line(cl, NULL);
	ck_assert_str_eq(ch1, "+ " SASL_LOGIN_PROMPT_USERNAME);
	g_autofree char *u = sasl_login_encode(USER);
	g_autofree char *ul = g_strdup_printf("%s\r\n", u);
	send_raw(cl, ul, strlen(ul));
	g_autofree char *ch2 = read_text_line(cl, NULL);
	ck_assert_str_eq(ch2, "+ " SASL_LOGIN_PROMPT_PASSWORD);
	g_autofree char *p = sasl_login_encode(PASSWORD);
	g_autofree char *pl = g_strdup_printf("%s\r\n", p);
	send_raw(cl, pl, strlen(pl));
	g_autofree char *r10 = read_until(cl, "c1");
	HAS(r10, "c1 OK");
	/* a cancelled AUTHENTICATE PLAIN */
	logout(cl);
	cl = client_new(w, MRA_IMAP_PORT);
	send_str(cl, "d1 AUTHENTICATE PLAIN\r\n");
	g_autofree char *ch3 = read_text_line(cl, NULL);
	ck_assert_str_eq(ch3, "+ ");
	send_raw(cl, "*\r\n", 3);
	g_autofree char *r11 = read_until(cl, "d1");
	HAS(r11, "d1 BAD");
	g_autofree char *r12 = cmd(cl, "d2", "AUTHENTICATE CRAM-MD5");
	HAS(r12, "d2 NO");
	/* three wrong passwords and the server hangs up */
	g_autofree char *r13 = cmd(cl, "d3", "LOGIN %s x", USER);
	g_autofree char *r14 = cmd(cl, "d4", "LOGIN %s y", USER);
	g_autofree char *r15 = cmd(cl, "d5", "LOGIN %s z", USER);
	HAS(r15, "d5 NO [AUTHENTICATIONFAILED]");
	g_autofree char *bye = read_text_line(cl, NULL);
	ck_assert_str_eq(bye, "* BYE Too many failed logins");
	g_autofree char *closed = read_text_line(cl, NULL);
	ck_assert_ptr_null(closed);
	client_free(cl);
}

START_TEST(test_login_and_authenticate)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_login;
	world_run(&w);
	/* the password never shows in what the server side emits; a login
	 * comes before the session shows what it is for: no step yet */
	GPtrArray *evs = ms_sink_recorder_events(w.rec);
	gboolean asked = FALSE;
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = evs->pdata[i];
		if (e->kind == MS_EV_SEND && e->text && g_str_has_prefix(e->text, "C: AUTH " USER)) {
			asked = TRUE;
			HASNT(e->text, PASSWORD);
			ck_assert_ptr_null(e->step);
		}
	}
	ck_assert(asked);
	world_free(&w);
}
END_TEST

/* ---- SELECT and FETCH --------------------------------------------------- */

static void script_fetch(World *w)
{
	deliver_three(w);
	Client *cl = login(w);
	g_autofree char *r1 = cmd(cl, "s1", "SELECT INBOX");
	HAS(r1, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)");
	HAS(r1, "* OK [PERMANENTFLAGS (");
	HAS(r1, "* 3 EXISTS");
	HAS(r1, "* 3 RECENT");
	HAS(r1, "* OK [UNSEEN 1]");
	HAS(r1, "* OK [UIDNEXT 4]");
	HAS(r1, "s1 OK [READ-WRITE]");
	w->uidvalidity = (guint32)number_after(r1, "[UIDVALIDITY ");
	ck_assert_uint_ne(w->uidvalidity, 0);

	g_autofree char *hello = crlf(msg_hello);
	g_autofree char *r2 = cmd(cl, "f1", "FETCH 1:* (UID FLAGS RFC822.SIZE)");
	g_autofree char *expect_size = g_strdup_printf("* 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE %zu)",
	                                               strlen(hello));
	HAS(r2, expect_size);
	HAS(r2, "* 3 FETCH (UID 3 FLAGS (\\Recent) RFC822.SIZE");
	g_autofree char *r3 = cmd(cl, "f2", "FETCH 1 BODY.PEEK[]");
	g_autofree char *expect_body = g_strdup_printf("* 1 FETCH (BODY[] {%zu}%s)", strlen(hello), hello);
	HAS(r3, expect_body);
	g_autofree char *r4 = cmd(cl, "f3", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject From)] BODY.PEEK[TEXT]<0.6>)");
	HAS(r4, "BODY[HEADER.FIELDS (Subject From)] {55}From: Alice <alice@example.com>\r\nSubject: Hello Bob\r\n\r\n");
	HAS(r4, "BODY[TEXT]<0> {6}Hi Bob");
	g_autofree char *r5 = cmd(cl, "f4", "FETCH 2 (ENVELOPE BODYSTRUCTURE INTERNALDATE)");
	HAS(r5, "ENVELOPE (\"Fri, 2 Jan 2026 09:30:00 +0100\" \"Photos\" ((NIL NIL \"carol\" \"example.net\"))");
	HAS(r5, "BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\")");
	HAS(r5, "\"MIXED\"");
	HAS(r5, "INTERNALDATE \"01-Jan-2026 00:00:00 +0000\"");
	g_autofree char *r6 = cmd(cl, "f5", "FETCH 2 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY)");
	HAS(r6, "BODY[1] {13}See attached.");
	HAS(r6, "BODY[2.MIME] {");
	HAS(r6, "Content-Transfer-Encoding: base64\r\n\r\n");
	HAS(r6, "BODY (");
	g_autofree char *r7 = cmd(cl, "f6", "FETCH 2 BODY.PEEK[9]");
	HAS(r7, "BODY[9] NIL");
	g_autofree char *r8 = cmd(cl, "f7", "FETCH 3 (RFC822.HEADER FLAGS)");
	HAS(r8, "RFC822.HEADER {");
	HASNT(r8, "\\Seen");
	/* reading the body sets \Seen, and the response says so (RFC 3501 6.4.5) */
	g_autofree char *r9 = cmd(cl, "f8", "FETCH 3 BODY[TEXT]");
	HAS(r9, "FLAGS (\\Seen \\Recent)");
	g_autofree char *r10 = cmd(cl, "f9", "UID FETCH 3 FLAGS");
	HAS(r10, "* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent))");
	g_autofree char *r11 = cmd(cl, "f10", "FETCH 1 RFC822");
	HAS(r11, "RFC822 {");
	HAS(r11, "FLAGS (\\Seen \\Recent)");
	g_autofree char *r12 = cmd(cl, "f11", "FETCH 2 FAST");
	HAS(r12, "* 2 FETCH (FLAGS (\\Recent) INTERNALDATE");
	g_autofree char *r13 = cmd(cl, "f12", "FETCH 1:2 BODY.PEEK[]<5.1000000>");
	HAS(r13, "* 2 FETCH (BODY[]<5> {");
	g_autofree char *r14 = cmd(cl, "f13", "UID FETCH 2:* UID");
	HAS(r14, "* 2 FETCH (UID 2)");
	HAS(r14, "* 3 FETCH (UID 3)");
	HASNT(r14, "* 1 FETCH");
	g_autofree char *r15 = cmd(cl, "f14", "UID FETCH 10:* UID");   /* RFC 3501 6.4.8: n:* is *:n */
	HAS(r15, "* 3 FETCH (UID 3)");
	HASNT(r15, "* 2 FETCH");
	g_autofree char *r16 = cmd(cl, "s2", "EXAMINE INBOX");
	HAS(r16, "s2 OK [READ-ONLY]");
	HAS(r16, "* 0 RECENT");   /* the SELECT above claimed them */
	logout(cl);
}

START_TEST(test_select_and_fetch)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_fetch;
	world_run(&w);
	world_free(&w);
}
END_TEST

/* A file put into new/ by hand, with LF line ends and no size in its
 * name: RFC822.SIZE and the literal both count CRLF. */
static void script_lf_file(World *w)
{
	g_autoptr(Maildir) md = user_maildir(w, USER);
	g_autofree char *path = g_build_filename(maildir_get_root(md), "new", "handmade.eml", NULL);
	const char *text = "Subject: by hand\n\nline one\nline two\n";
	ck_assert(g_file_set_contents(path, text, -1, NULL));
	Client *cl = login(w);
	g_autofree char *r1 = cmd(cl, "s1", "SELECT INBOX");
	HAS(r1, "* 1 EXISTS");
	g_autofree char *r2 = cmd(cl, "f1", "FETCH 1 (RFC822.SIZE BODY.PEEK[])");
	HAS(r2, "RFC822.SIZE 40 BODY[] {40}Subject: by hand\r\n\r\nline one\r\nline two\r\n)");
	logout(cl);
}

START_TEST(test_crlf_sizes)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_lf_file;
	world_run(&w);
	world_free(&w);
}
END_TEST

/* ---- STORE, and flags across sessions ----------------------------------- */

static void script_flags(World *w)
{
	deliver_three(w);
	Client *cl = login(w);
	g_autofree char *r0 = cmd(cl, "s1", "SELECT INBOX");
	g_autofree char *r1 = cmd(cl, "t1", "STORE 1 +FLAGS (\\Flagged \\Seen)");
	HAS(r1, "* 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent))");
	g_autofree char *r2 = cmd(cl, "t2", "STORE 2 FLAGS.SILENT (\\Answered $Forwarded)");
	HASNT(r2, "FETCH");
	HAS(r2, "t2 OK");
	g_autofree char *r3 = cmd(cl, "t3", "UID STORE 3 +FLAGS (\\Draft $Junk)");
	HAS(r3, "* 3 FETCH (FLAGS (\\Draft \\Recent) UID 3)");
	g_autofree char *r4 = cmd(cl, "t4", "STORE 3 -FLAGS \\Draft");
	HAS(r4, "* 3 FETCH (FLAGS (\\Recent))");
	logout(cl);

	/* a new session: the flags were kept on the server */
	cl = login(w);
	g_autofree char *r5 = cmd(cl, "s2", "SELECT INBOX");
	HAS(r5, "* 0 RECENT");
	HAS(r5, "* OK [UNSEEN 2]");
	g_autofree char *r6 = cmd(cl, "f1", "FETCH 1:3 FLAGS");
	HAS(r6, "* 1 FETCH (FLAGS (\\Flagged \\Seen))");
	HAS(r6, "* 2 FETCH (FLAGS (\\Answered $Forwarded))");
	HAS(r6, "* 3 FETCH (FLAGS ())");
	logout(cl);
}

START_TEST(test_flags_persist)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_flags;
	world_run(&w);
	/* in the file names, as Maildir keeps them */
	g_autoptr(Maildir) md = user_maildir(&w, USER);
	g_autoptr(GPtrArray) msgs = NULL;
	ck_assert(maildir_folder_scan(md, MAILDIR_INBOX, &msgs, NULL));
	guint with_fs = 0, with_pr = 0;
	for (guint i = 0; i < msgs->len; i++) {
		const MaildirMessage *m = msgs->pdata[i];
		ck_assert(!m->in_new);
		with_fs += m->flags == (MAILDIR_FLAG_FLAGGED | MAILDIR_FLAG_SEEN);
		with_pr += m->flags == (MAILDIR_FLAG_PASSED | MAILDIR_FLAG_REPLIED);
	}
	ck_assert_uint_eq(with_fs, 1);
	ck_assert_uint_eq(with_pr, 1);
	world_free(&w);
}
END_TEST

/* ---- SEARCH ------------------------------------------------------------- */

static void script_search(World *w)
{
	deliver_three(w);
	Client *cl = login(w);
	g_autofree char *r0 = cmd(cl, "s1", "SELECT INBOX");
	g_autofree char *r00 = cmd(cl, "t1", "STORE 2 +FLAGS (\\Seen)");
	static const struct {
		const char *query, *expect;
	} cases[] = {
		{ "ALL", "* SEARCH 1 2 3\n" },
		{ "SUBJECT hello", "* SEARCH 1\n" },
		{ "FROM CAROL", "* SEARCH 2\n" },
		{ "TO bob@example.org", "* SEARCH 1 2 3\n" },
		{ "CC dave", "* SEARCH 2\n" },
		{ "UNSEEN", "* SEARCH 1 3\n" },
		{ "SEEN", "* SEARCH 2\n" },
		{ "NEW", "* SEARCH 1 3\n" },
		{ "OLD", "* SEARCH\n" },
		{ "RECENT", "* SEARCH 1 2 3\n" },
		{ "OR SUBJECT lunch SUBJECT photos", "* SEARCH 2 3\n" },
		{ "NOT SUBJECT lunch", "* SEARCH 1 2\n" },
		{ "(SEEN) (NOT DELETED)", "* SEARCH 2\n" },
		{ "HEADER X-Priority \"\"", "* SEARCH 3\n" },
		{ "HEADER Message-ID <1@example.com>", "* SEARCH 1\n" },
		{ "BODY \"quarterly report\"", "* SEARCH 3\n" },
		{ "BODY Photos", "* SEARCH\n" },
		{ "TEXT Photos", "* SEARCH 2\n" },
		{ "LARGER 300", "* SEARCH 2\n" },
		{ "SMALLER 300", "* SEARCH 1 3\n" },
		{ "SENTSINCE 2-Jan-2026", "* SEARCH 2 3\n" },
		{ "SENTBEFORE 2-Jan-2026", "* SEARCH 1\n" },
		{ "SENTON 10-Jan-2026", "* SEARCH 3\n" },
		{ "ON 1-Jan-2026", "* SEARCH 1 2 3\n" },
		{ "SINCE 2-Jan-2026", "* SEARCH\n" },
		{ "BEFORE 2-Jan-2026", "* SEARCH 1 2 3\n" },
		{ "2:3", "* SEARCH 2 3\n" },
		{ "UID 1,3", "* SEARCH 1 3\n" },
		{ "CHARSET UTF-8 SUBJECT Lunch", "* SEARCH 3\n" },
		{ "KEYWORD $Forwarded", "* SEARCH\n" },
		{ "UNKEYWORD $Forwarded", "* SEARCH 1 2 3\n" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *tag = g_strdup_printf("q%u", i);
		g_autofree char *r = cmd(cl, tag, "SEARCH %s", cases[i].query);
		ck_assert_msg(strstr(r, cases[i].expect) != NULL, "SEARCH %s: expected %s, got\n%s", cases[i].query,
		              cases[i].expect, r);
	}
	g_autofree char *r1 = cmd(cl, "u1", "UID SEARCH SUBJECT Lunch");
	HAS(r1, "* SEARCH 3\n");
	g_autofree char *r2 = cmd(cl, "u2", "SEARCH CHARSET KOI8-R ALL");
	HAS(r2, "u2 NO [BADCHARSET (UTF-8 US-ASCII)]");
	logout(cl);
}

START_TEST(test_search)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_search;
	world_run(&w);
	world_free(&w);
}
END_TEST

/* ---- COPY, MOVE, EXPUNGE, APPEND, UIDPLUS ------------------------------- */

static void script_copy_move(World *w)
{
	deliver_three(w);
	Client *cl = login(w);
	g_autofree char *r0 = cmd(cl, "s1", "SELECT INBOX");
	g_autofree char *r1 = cmd(cl, "c1", "CREATE Archive");
	HAS(r1, "c1 OK");
	g_autofree char *r2 = cmd(cl, "c2", "COPY 1 Archive");
	ck_assert_msg(strstr(r2, "c2 OK [COPYUID ") && strstr(r2, " 1 1] "), "%s", r2);
	g_autofree char *r3 = cmd(cl, "c3", "UID MOVE 2 Archive");
	HAS(r3, "* OK [COPYUID ");
	HAS(r3, " 2 2] Moved");
	HAS(r3, "* 2 EXPUNGE");
	HAS(r3, "c3 OK");
	g_autofree char *r4 = cmd(cl, "c4", "COPY 1 Nowhere");
	HAS(r4, "c4 NO [TRYCREATE]");
	g_autofree char *r5 = cmd(cl, "c5", "STORE 1 +FLAGS.SILENT (\\Deleted)");
	g_autofree char *r6 = cmd(cl, "c6", "EXPUNGE");
	HAS(r6, "* 1 EXPUNGE");
	HAS(r6, "c6 OK");
	g_autofree char *r7 = cmd(cl, "c7", "STATUS Archive (MESSAGES UIDNEXT UNSEEN RECENT)");
	HAS(r7, "* STATUS Archive (MESSAGES 2 RECENT 2 UIDNEXT 3 UNSEEN 2)");
	/* APPEND to Sent, as a client keeps its sent mail (retr.3) */
	g_autofree char *sent = crlf("From: bob@example.org\nTo: alice@example.com\nSubject: Re: Hello\n\nThanks!\n");
	g_autofree char *a1 = g_strdup_printf("a1 APPEND Sent (\\Seen) \"05-Jan-2026 10:00:00 +0000\" {%zu}\r\n",
	                                      strlen(sent));
	send_raw(cl, a1, strlen(a1));
	g_autofree char *go = read_text_line(cl, NULL);
	ck_assert(g_str_has_prefix(go, "+ "));
	send_raw(cl, sent, strlen(sent));
	send_raw(cl, "\r\n", 2);
	g_autofree char *r8 = read_until(cl, "a1");
	HAS(r8, "a1 OK [APPENDUID ");
	HAS(r8, " 1] Append completed");
	/* LITERAL+: no "+" to wait for; a draft (retr.5) */
	g_autofree char *a2 = g_strdup_printf("a2 APPEND Drafts (\\Draft) {%zu+}\r\n%s\r\n", strlen(sent), sent);
	send_raw(cl, a2, strlen(a2));
	g_autofree char *r9 = read_until(cl, "a2");
	HAS(r9, "a2 OK [APPENDUID ");
	g_autofree char *r10 = cmd(cl, "a3", "APPEND Nowhere {2+}\r\nhi");
	HAS(r10, "a3 NO [TRYCREATE]");
	/* into the selected folder: the client hears EXISTS */
	g_autofree char *a4 = g_strdup_printf("a4 APPEND INBOX {%zu+}\r\n%s\r\n", strlen(sent), sent);
	send_raw(cl, a4, strlen(a4));
	g_autofree char *r11 = read_until(cl, "a4");
	HAS(r11, "* 2 EXISTS");
	HAS(r11, "a4 OK [APPENDUID ");
	g_autofree char *r12 = cmd(cl, "f1", "FETCH 2 (UID INTERNALDATE)");
	HAS(r12, "UID 4");
	g_autofree char *r13 = cmd(cl, "g1", "SELECT Sent");
	HAS(r13, "* 1 EXISTS");
	g_autofree char *r14 = cmd(cl, "g2", "FETCH 1 (FLAGS INTERNALDATE)");
	HAS(r14, "FLAGS (\\Seen) INTERNALDATE \"05-Jan-2026 10:00:00 +0000\"");
	/* move into Junk (retr.6), then UID EXPUNGE of one of two */
	g_autofree char *r15 = cmd(cl, "g3", "SELECT Archive");
	HAS(r15, "* 2 EXISTS");
	g_autofree char *r16 = cmd(cl, "g4", "MOVE 1 Junk");
	HAS(r16, "* 1 EXPUNGE");
	g_autofree char *r17 = cmd(cl, "g5", "COPY 1 Archive");
	HAS(r17, "g5 OK [COPYUID");
	g_autofree char *r18 = cmd(cl, "g6", "STORE 1:* +FLAGS.SILENT (\\Deleted)");
	g_autofree char *r19 = cmd(cl, "g7", "UID EXPUNGE 2");
	HAS(r19, "* 1 EXPUNGE");
	HAS(r19, "g7 OK");
	g_autofree char *r20 = cmd(cl, "g8", "FETCH 1 UID");
	HAS(r20, "* 1 FETCH (UID 3)");
	g_autofree char *r21 = cmd(cl, "g9", "CLOSE");
	HAS(r21, "g9 OK");
	HASNT(r21, "EXPUNGE");
	g_autofree char *r22 = cmd(cl, "g10", "STATUS Archive (MESSAGES)");
	HAS(r22, "(MESSAGES 0)");
	g_autofree char *r23 = cmd(cl, "g11", "FETCH 1 UID");
	HAS(r23, "g11 BAD");
	logout(cl);
}

START_TEST(test_copy_move_expunge_append)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_copy_move;
	world_run(&w);
	/* each action is tagged with its course step */
	static const struct {
		MsEventKind kind;
		const char *step, *text;
	} wanted[] = {
		{ MS_EV_NOTE, "retr.4", "folder Archive created on the server" },
		{ MS_EV_STORE, "retr.2", "copy of 1 message(s) from INBOX to Archive" },
		{ MS_EV_STORE, "retr.2", "move of 1 message(s) from INBOX to Archive" },
		{ MS_EV_NOTE, "retr.2", "removed from INBOX on the server" },
		{ MS_EV_STORE, "retr.3", "saved in Sent" },
		{ MS_EV_STORE, "retr.5", "saved in Drafts" },
		{ MS_EV_STORE, "retr.6", "move of 1 message(s) from Archive to Junk" },
		{ MS_EV_SEND, "retr.3", "S: a1 OK [APPENDUID" },
		{ MS_EV_SEND, "in.8", "S: * 1 EXISTS" },
	};
	GPtrArray *evs = ms_sink_recorder_events(w.rec);
	for (guint k = 0; k < G_N_ELEMENTS(wanted); k++) {
		gboolean found = FALSE;
		for (guint i = 0; i < evs->len && !found; i++) {
			const MsEvent *e = evs->pdata[i];
			found = e->kind == wanted[k].kind && e->text && strstr(e->text, wanted[k].text) &&
			        !g_strcmp0(e->step, wanted[k].step);
		}
		ck_assert_msg(found, "no %s event with step %s saying \"%s\"", ms_event_kind_to_string(wanted[k].kind),
		              wanted[k].step, wanted[k].text);
	}
	world_free(&w);
}
END_TEST

/* Alice's client keeping its Sent copy: log in, LIST, APPEND, LOGOUT;
 * then a client reading: log in, SELECT, LOGOUT. */
static void script_sent_copy_then_read(World *w)
{
	Client *cl = login(w);
	g_autofree char *r1 = cmd(cl, "s1", "LIST \"\" \"*\"");
	HAS(r1, "\\Sent");
	g_autofree char *sent = crlf("From: bob@example.org\nTo: alice@example.com\nSubject: Hi\n\nHello\n");
	g_autofree char *a1 = g_strdup_printf("s2 APPEND Sent (\\Seen) {%zu}\r\n", strlen(sent));
	send_raw(cl, a1, strlen(a1));
	g_autofree char *go = read_text_line(cl, NULL);
	ck_assert(g_str_has_prefix(go, "+ "));
	send_raw(cl, sent, strlen(sent));
	send_raw(cl, "\r\n", 2);
	g_autofree char *done = read_text_line(cl, NULL);
	HAS(done, "s2 OK [APPENDUID");
	logout(cl);
	cl = login(w);
	g_autofree char *r2 = cmd(cl, "r1", "SELECT INBOX");
	HAS(r2, "r1 OK");
	logout(cl);
}

START_TEST(test_session_step_is_its_purpose)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_sent_copy_then_read;
	world_run(&w);
	/* the session that only keeps the Sent copy never shows in.8 (fetching):
	 * nothing before the APPEND carries a step, everything after retr.3 */
	GPtrArray *evs = ms_sink_recorder_events(w.rec);
	const MsEvent *store = NULL, *bye[2] = { NULL, NULL };
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = evs->pdata[i];
		if (e->kind == MS_EV_STORE && e->text && strstr(e->text, "saved in Sent"))
			store = e;
		if (e->kind == MS_EV_SEND && !g_strcmp0(e->text, "S: * BYE Logging out"))
			bye[bye[0] ? 1 : 0] = e;
	}
	ck_assert_ptr_nonnull(store);
	ck_assert_str_eq(store->step, "retr.3");
	guint64 sent_conn = store->conn;
	gboolean after = FALSE, saw_accept = FALSE;
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = evs->pdata[i];
		if (e == store)
			after = TRUE;
		if (e->conn != sent_conn || g_strcmp0(e->proto, "imap") || g_strcmp0(e->from, "mra@mail.example.org"))
			continue;
		saw_accept |= e->kind == MS_EV_ACCEPT;
		ck_assert_msg(g_strcmp0(e->step, "in.8") != 0, "in.8 in the Sent-copy session: %s", e->text);
		if (after)
			ck_assert_msg(!g_strcmp0(e->step, "retr.3"), "after the APPEND, %s carries %s", e->text, e->step);
		else if (e->kind != MS_EV_STORE)
			ck_assert_msg(e->step == NULL, "before the APPEND, %s carries %s", e->text, e->step);
	}
	ck_assert(saw_accept);
	/* the session that reads is in.8 from its SELECT on, to its goodbye */
	ck_assert_ptr_nonnull(bye[0]);
	ck_assert_ptr_nonnull(bye[1]);
	ck_assert_str_eq(bye[0]->step, "retr.3");
	ck_assert_str_eq(bye[1]->step, "in.8");
	world_free(&w);
}
END_TEST

/* The same world and seed give the same events, byte for byte: times,
 * UIDVALIDITY, Maildir names, replies (DESIGN.md: the network is the clock). */
static char *event_log(World *w)
{
	GString *log = g_string_new(NULL);
	GPtrArray *evs = ms_sink_recorder_events(w->rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = evs->pdata[i];
		g_string_append_printf(log, "%" G_GINT64_FORMAT " %s %s>%s %s %s\n", e->t_us,
		                       ms_event_kind_to_string(e->kind), e->from ? e->from : "", e->to ? e->to : "",
		                       e->step ? e->step : "-", e->text ? e->text : "");
	}
	return g_string_free(log, FALSE);
}

START_TEST(test_deterministic)
{
	char *logs[2];
	for (int run = 0; run < 2; run++) {
		World w;
		world_init(&w);
		w.scripts[0] = script_copy_move;
		world_run(&w);
		logs[run] = event_log(&w);
		world_free(&w);
	}
	ck_assert_uint_gt(strlen(logs[0]), 1000);
	ck_assert_str_eq(logs[0], logs[1]);
	g_free(logs[0]);
	g_free(logs[1]);
}
END_TEST

/* ---- folders ------------------------------------------------------------ */

static void script_folders(World *w)
{
	Client *cl = login(w);
	g_autofree char *r1 = cmd(cl, "l1", "LIST \"\" \"\"");
	HAS(r1, "* LIST (\\Noselect) \"/\" \"\"");
	g_autofree char *r2 = cmd(cl, "l2", "LIST \"\" *");
	HAS(r2, "* LIST (\\HasNoChildren) \"/\" INBOX");
	HAS(r2, "* LIST (\\HasNoChildren \\Sent) \"/\" Sent");
	HAS(r2, "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts");
	HAS(r2, "* LIST (\\HasNoChildren \\Junk) \"/\" Junk");
	HAS(r2, "* LIST (\\HasNoChildren \\Trash) \"/\" Trash");
	g_autofree char *r3 = cmd(cl, "c1", "CREATE Lists/Sub/");
	HAS(r3, "c1 OK");
	g_autofree char *r4 = cmd(cl, "l3", "LIST \"\" %%");
	HAS(r4, "* LIST (\\HasChildren) \"/\" Lists");
	HASNT(r4, "Lists/Sub");
	g_autofree char *r5 = cmd(cl, "l4", "LIST Lists/ %%");
	HAS(r5, "\"/\" Lists/Sub");
	g_autofree char *r6 = cmd(cl, "l5", "LIST \"\" inbox");
	HAS(r6, "\"/\" INBOX");
	g_autofree char *r7 = cmd(cl, "c2", "CREATE Lists");
	HAS(r7, "c2 NO [ALREADYEXISTS]");
	g_autofree char *r8 = cmd(cl, "c3", "CREATE inbox");
	HAS(r8, "c3 NO [ALREADYEXISTS]");
	g_autofree char *r9 = cmd(cl, "r1", "RENAME Lists/Sub Projects");
	HAS(r9, "r1 OK");
	g_autofree char *r10 = cmd(cl, "r2", "RENAME INBOX Old");
	HAS(r10, "r2 NO");
	g_autofree char *r11 = cmd(cl, "d1", "DELETE Projects");
	HAS(r11, "d1 OK");
	g_autofree char *r12 = cmd(cl, "d2", "DELETE INBOX");
	HAS(r12, "d2 NO");
	g_autofree char *r13 = cmd(cl, "d3", "DELETE Projects");
	HAS(r13, "d3 NO [NONEXISTENT]");
	/* modified UTF-7 (RFC 3501 5.1.3): "Été" */
	g_autofree char *r14 = cmd(cl, "u1", "CREATE &AMk-t&AOk-");
	HAS(r14, "u1 OK");
	g_autofree char *r15 = cmd(cl, "u2", "LIST \"\" &AMk-*");
	HAS(r15, "\"/\" &AMk-t&AOk-");
	g_autofree char *r16 = cmd(cl, "u3", "SELECT &AMk-t&AOk-");
	HAS(r16, "* 0 EXISTS");
	/* names that could leave the user's directory, or are not names */
	static const char *const bad[] = { "../escape", "/etc", "a/../../b", "a.b", "&Jjo", "&AGE-", "\"\"", ".hidden" };
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *tag = g_strdup_printf("x%u", i);
		g_autofree char *r = cmd(cl, tag, "CREATE %s", bad[i]);
		g_autofree char *no = g_strdup_printf("%s NO", tag);
		ck_assert_msg(strstr(r, no) || strstr(r, " BAD"), "CREATE %s: %s", bad[i], r);
	}
	g_autofree char *r17 = cmd(cl, "b1", "SELECT ../../..");
	HAS(r17, "b1 NO");
	g_autofree char *r18 = cmd(cl, "b2", "STATUS Nowhere (MESSAGES)");
	HAS(r18, "b2 NO [NONEXISTENT]");
	g_autofree char *r19 = cmd(cl, "sub1", "SUBSCRIBE Lists");
	g_autofree char *r20 = cmd(cl, "sub2", "SUBSCRIBE Gone");
	g_autofree char *r21 = cmd(cl, "sub3", "LSUB \"\" *");
	HAS(r21, "* LSUB (\\HasNoChildren) \"/\" Lists");
	HAS(r21, "* LSUB (\\Noselect) \"/\" Gone");
	HAS(r21, "* LSUB (\\HasNoChildren) \"/\" INBOX");   /* new accounts are subscribed to the defaults */
	g_autofree char *r22 = cmd(cl, "sub4", "UNSUBSCRIBE Gone");
	g_autofree char *r23 = cmd(cl, "sub5", "LSUB \"\" G*");
	HASNT(r23, "Gone");
	logout(cl);
}

START_TEST(test_folders)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_folders;
	world_run(&w);
	/* nothing was made outside the user's Maildir */
	g_autofree char *mail = g_build_filename(w.dir, MRA_MAIL_DIR, NULL);
	g_autofree char *escape1 = g_build_filename(w.dir, "escape", NULL);
	g_autofree char *escape2 = g_build_filename(mail, "escape", NULL);
	g_autofree char *escape3 = g_build_filename(mail, "example.org", "escape", NULL);
	ck_assert(!g_file_test(escape1, G_FILE_TEST_EXISTS));
	ck_assert(!g_file_test(escape2, G_FILE_TEST_EXISTS));
	ck_assert(!g_file_test(escape3, G_FILE_TEST_EXISTS));
	world_free(&w);
}
END_TEST

/* ---- two sessions on one folder ----------------------------------------- */

static void script_session_a(World *w)
{
	Client *a = login(w);
	g_autofree char *r1 = cmd(a, "a1", "SELECT INBOX");
	HAS(r1, "* 3 RECENT");
	ms_sleep(MS_SECOND);   /* B changes flags */
	g_autofree char *r2 = cmd(a, "a2", "NOOP");
	HAS(r2, "* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1)");
	ms_sleep(MS_SECOND);   /* B appends and expunges message 2 */
	/* FETCH may not tell EXPUNGE (RFC 3501 7.4.1): numbers stay as they were */
	g_autofree char *r3 = cmd(a, "a3", "FETCH 3 UID");
	HAS(r3, "* 4 EXISTS");
	HASNT(r3, "EXPUNGE");
	HAS(r3, "* 3 FETCH (UID 3)");
	g_autofree char *r4 = cmd(a, "a4", "FETCH 2 (BODY.PEEK[])");
	HAS(r4, "a4 NO [EXPUNGEISSUED]");
	g_autofree char *r5 = cmd(a, "a5", "NOOP");
	HAS(r5, "* 2 EXPUNGE");
	g_autofree char *r6 = cmd(a, "a6", "FETCH 1:* UID");
	HAS(r6, "* 3 FETCH (UID 4)");
	HASNT(r6, "* 4 FETCH");
	logout(a);
}

static void script_session_b(World *w)
{
	ms_sleep(MS_SECOND / 2);
	Client *b = login(w);
	g_autofree char *r1 = cmd(b, "b1", "SELECT INBOX");
	HAS(r1, "* 3 EXISTS");
	HAS(r1, "* 0 RECENT");   /* A claimed them: \Recent is for one session */
	g_autofree char *r2 = cmd(b, "b2", "STORE 1 +FLAGS (\\Seen)");
	ms_sleep(MS_SECOND);
	g_autofree char *r3 = cmd(b, "b3", "APPEND INBOX {10+}\r\nSubject: x");
	HAS(r3, "* 4 EXISTS");
	g_autofree char *r4 = cmd(b, "b4", "STORE 2 +FLAGS.SILENT (\\Deleted)");
	g_autofree char *r5 = cmd(b, "b5", "EXPUNGE");
	HAS(r5, "* 2 EXPUNGE");
	logout(b);
}

START_TEST(test_two_sessions)
{
	World w;
	world_init(&w);
	deliver_three(&w);
	w.scripts[0] = script_session_a;
	w.scripts[1] = script_session_b;
	world_run(&w);
	world_free(&w);
}
END_TEST

/* ---- IDLE --------------------------------------------------------------- */

static void script_idler(World *w)
{
	Client *a = login(w);
	g_autofree char *r1 = cmd(a, "a1", "SELECT INBOX");
	HAS(r1, "* 1 EXISTS");
	send_str(a, "a2 IDLE\r\n");
	g_autofree char *go = read_text_line(a, NULL);
	ck_assert_str_eq(go, "+ idling");
	/* B stores a flag at t=1s: told at once, by the change notifier */
	g_autofree char *l1 = read_text_line(a, NULL);
	ck_assert_str_eq(l1, "* 1 FETCH (FLAGS (\\Flagged \\Recent) UID 1)");
	gint64 t1 = ms_sched_now(w->s);
	ck_assert_int_lt(t1, 2 * MS_SECOND);
	/* the "MDA" delivers at t=2s: seen at the next periodic look */
	g_autofree char *l2 = read_text_line(a, NULL);
	ck_assert_str_eq(l2, "* 2 EXISTS");
	g_autofree char *l3 = read_text_line(a, NULL);
	ck_assert_str_eq(l3, "* 2 RECENT");
	gint64 t2 = ms_sched_now(w->s);
	ck_assert_int_le(t2, 2 * MS_SECOND + MRA_IDLE_RESCAN + MS_SECOND);
	/* B expunges message 1 at t=9s: EXPUNGE may come during IDLE */
	g_autofree char *l4 = read_text_line(a, NULL);
	ck_assert_str_eq(l4, "* 1 FETCH (FLAGS (\\Flagged \\Deleted \\Recent) UID 1)");
	g_autofree char *l5 = read_text_line(a, NULL);
	ck_assert_str_eq(l5, "* 1 EXPUNGE");
	send_str(a, "DONE\r\n");
	g_autofree char *r2 = read_until(a, "a2");
	HAS(r2, "a2 OK");
	/* IDLE again, ended by something other than DONE */
	send_str(a, "a3 IDLE\r\n");
	g_autofree char *go2 = read_text_line(a, NULL);
	ck_assert_str_eq(go2, "+ idling");
	send_str(a, "NOPE\r\n");
	g_autofree char *r4 = read_until(a, "a3");
	HAS(r4, "a3 BAD");
	g_autofree char *r5 = cmd(a, "a4", "NOOP");
	HAS(r5, "a4 OK");
	logout(a);
}

static void script_changer(World *w)
{
	ms_sleep(MS_SECOND / 2);
	Client *b = login(w);
	g_autofree char *r1 = cmd(b, "b1", "EXAMINE INBOX");
	ms_sleep(MS_SECOND / 2);
	g_autofree char *r0 = cmd(b, "b0", "SELECT INBOX");
	g_autofree char *r2 = cmd(b, "b2", "STORE 1 +FLAGS (\\Flagged)");
	HAS(r2, "b2 OK");
	ms_sleep(MS_SECOND);
	deliver(w, NULL, msg_lunch);
	ms_sleep(7 * MS_SECOND);
	g_autofree char *r3 = cmd(b, "b3", "STORE 1 +FLAGS.SILENT (\\Deleted)");
	g_autofree char *r4 = cmd(b, "b4", "EXPUNGE");
	HAS(r4, "* 1 EXPUNGE");
	logout(b);
}

START_TEST(test_idle)
{
	World w;
	world_init(&w);
	deliver(&w, NULL, msg_hello);
	w.scripts[0] = script_idler;
	w.scripts[1] = script_changer;
	world_run(&w);
	world_free(&w);
}
END_TEST

/* ---- UIDs across a restart of the agent --------------------------------- */

static void script_before_restart(World *w)
{
	Client *cl = login(w);
	g_autofree char *r1 = cmd(cl, "s1", "SELECT INBOX");
	w->uidvalidity = (guint32)number_after(r1, "[UIDVALIDITY ");
	g_autofree char *r2 = cmd(cl, "s2", "STORE 2 +FLAGS.SILENT (\\Deleted)");
	g_autofree char *r3 = cmd(cl, "s3", "EXPUNGE");
	HAS(r3, "* 2 EXPUNGE");
	logout(cl);
	ms_sleep(MS_SECOND);
	/* the agent stops and starts again on the same state */
	mra_stop(w->mra);
	ms_sleep(MS_SECOND);
	ck_assert_uint_eq(mra_sessions(w->mra), 0);
	mra_free(w->mra);
	deliver(w, NULL, msg_lunch);
	world_start_mra(w);
	ms_sleep(MS_SECOND);
	cl = login(w);
	g_autofree char *r4 = cmd(cl, "t1", "SELECT INBOX");
	g_autofree char *v = g_strdup_printf("[UIDVALIDITY %u]", w->uidvalidity);
	HAS(r4, v);
	HAS(r4, "* 3 EXISTS");
	HAS(r4, "[UIDNEXT 5]");
	g_autofree char *r5 = cmd(cl, "t2", "FETCH 1:* UID");
	HAS(r5, "* 1 FETCH (UID 1)");
	HAS(r5, "* 2 FETCH (UID 3)");
	HAS(r5, "* 3 FETCH (UID 4)");
	logout(cl);
}

START_TEST(test_uids_survive_restart)
{
	World w;
	world_init(&w);
	deliver_three(&w);
	w.scripts[0] = script_before_restart;
	world_run(&w);
	world_free(&w);
}
END_TEST

/* ---- hostile and mistaken input ----------------------------------------- */

static char *repeat(char c, gsize n)
{
	char *s = g_malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void script_bad_input(World *w)
{
	Client *cl = client_new(w, MRA_IMAP_PORT);
	/* commands in the wrong state */
	g_autofree char *r1 = cmd(cl, "w1", "SELECT INBOX");
	HAS(r1, "w1 BAD Log in first");
	g_autofree char *r2 = cmd(cl, "w2", "FETCH 1 FLAGS");
	HAS(r2, "w2 BAD");
	g_autofree char *r3 = cmd(cl, "w3", "IDLE");
	HAS(r3, "w3 BAD");
	/* a login whose arguments come as literals, synchronising... */
	send_str(cl, "w4 LOGIN {15}\r\n");
	g_autofree char *go1 = read_text_line(cl, NULL);
	ck_assert(g_str_has_prefix(go1, "+ "));
	send_str(cl, USER " {6}\r\n");
	g_autofree char *go2 = read_text_line(cl, NULL);
	ck_assert(g_str_has_prefix(go2, "+ "));
	send_str(cl, PASSWORD "\r\n");
	g_autofree char *r4 = read_until(cl, "w4");
	HAS(r4, "w4 OK");
	g_autofree char *r5 = cmd(cl, "w5", "LOGIN %s %s", USER, PASSWORD);
	HAS(r5, "w5 BAD Already logged in");
	g_autofree char *r6 = cmd(cl, "w6", "FETCH 1 FLAGS");
	HAS(r6, "w6 BAD No folder selected");
	g_autofree char *r7 = cmd(cl, "w7", "SELECT INBOX");
	HAS(r7, "w7 OK");
	g_autofree char *r8 = cmd(cl, "w8", "ENABLE IMAP4rev2");
	HAS(r8, "w8 BAD");

	/* a literal of 4294967296 octets: refused before a byte is read */
	g_autofree char *r9 = cmd(cl, "x1", "APPEND INBOX {4294967296}");
	HAS(r9, "x1 BAD [TOOBIG]");
	g_autofree char *r10 = cmd(cl, "x2", "NOOP");
	HAS(r10, "x2 OK");
	/* a LITERAL+ one just over the limit: its bytes are read and dropped */
	gsize big = IMAP_PROTO_MAX_LITERAL + 1;
	g_autofree char *head = g_strdup_printf("x3 APPEND INBOX {%zu+}\r\n", big);
	send_raw(cl, head, strlen(head));
	char *blob = repeat('a', big);
	ck_assert(ms_conn_write_masked(cl->c, blob, big, "(32 MiB of 'a')", NULL));
	g_free(blob);
	send_raw(cl, "\r\n", 2);
	g_autofree char *r11 = read_until(cl, "x3");
	HAS(r11, "x3 BAD [TOOBIG]");
	g_autofree char *r12 = cmd(cl, "x4", "STATUS INBOX (MESSAGES)");
	HAS(r12, "(MESSAGES 0)");

	/* 10,000 nested parentheses: over the line limit */
	g_autofree char *open = repeat('(', 10000), *close = repeat(')', 10000);
	g_autofree char *r13 = cmd(cl, "n1", "SEARCH %sALL%s", open, close);
	HAS(r13, "n1 BAD Line too long");
	/* 1,000 fit on a line: the parser's depth limit answers */
	open[1000] = close[1000] = '\0';
	g_autofree char *r14 = cmd(cl, "n2", "SEARCH %sALL%s", open, close);
	HAS(r14, "n2 BAD");
	g_autofree char *r15 = cmd(cl, "n3", "SEARCH NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT "
	                           "NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT ALL");
	HAS(r15, "n3 BAD");

	/* invalid sequence sets */
	static const char *const sets[] = { "0", "1:", "a", ",", "1,,2", "4294967296", "*:0", "2" };
	for (guint i = 0; i < G_N_ELEMENTS(sets); i++) {
		g_autofree char *tag = g_strdup_printf("q%u", i);
		g_autofree char *r = cmd(cl, tag, "FETCH %s FLAGS", sets[i]);
		g_autofree char *bad = g_strdup_printf("%s BAD", tag);
		ck_assert_msg(strstr(r, bad), "FETCH %s: %s", sets[i], r);
	}
	g_autofree char *r16 = cmd(cl, "q9", "UID FETCH 999 FLAGS");   /* no such UID: no error */
	HAS(r16, "q9 OK");
	g_autofree char *r17 = cmd(cl, "q10", "STORE 5 +FLAGS (\\Seen)");
	HAS(r17, "q10 BAD");
	g_autofree char *r18 = cmd(cl, "q11", "COPY 7 Sent");
	HAS(r18, "q11 BAD");

	/* a line over the limit, and garbage */
	g_autofree char *longline = repeat('A', IMAP_PROTO_MAX_LINE + 100);
	g_autofree char *r19 = cmd(cl, "g1", "NOOP %s", longline);
	HAS(r19, "g1 BAD Line too long");
	send_raw(cl, "\r\n", 2);
	g_autofree char *r20 = read_until(cl, "*");
	HAS(r20, "* BAD");
	g_autofree char *r21 = cmd(cl, "g2", "FROBNICATE");
	HAS(r21, "g2 BAD");
	g_autofree char *r22 = cmd(cl, "g3", "UID NOOP");
	HAS(r22, "g3 BAD");
	g_autofree char *r23 = cmd(cl, "g4", "FETCH 1 (FLAGS");
	HAS(r23, "g4 BAD");
	send_str(cl, "g5 NOOP\rg6 NOOP\r\n");
	g_autofree char *r24 = read_until(cl, "g5");
	HAS(r24, "g5 BAD");
	g_autofree char *r25 = read_until(cl, "g6");
	g_autofree char *r26 = cmd(cl, "g7", "NOOP");
	HAS(r26, "g7 OK");

	/* pipelined commands: answered in order */
	send_str(cl, "p1 NOOP\r\np2 CAPABILITY\r\np3 NOOP\r\n");
	g_autofree char *r27 = read_until(cl, "p3");
	ck_assert(strstr(r27, "p1 OK") < strstr(r27, "p2 OK"));
	ck_assert(strstr(r27, "p2 OK") < strstr(r27, "p3 OK"));

	/* still serving after all of that */
	g_autofree char *r28 = cmd(cl, "z1", "SELECT INBOX");
	HAS(r28, "z1 OK");
	/* and a client that only talks nonsense is shown the door */
	for (guint i = 0; i < IMAP_SERVER_MAX_BAD; i++) {
		g_autofree char *tag = g_strdup_printf("k%u", i);
		g_autofree char *r = cmd(cl, tag, "NONSENSE");
		HAS(r, " BAD");
	}
	g_autofree char *bye_line = read_text_line(cl, NULL);
	ck_assert_ptr_nonnull(bye_line);
	HAS(bye_line, "* BYE Too many invalid commands");
	g_autofree char *gone = read_text_line(cl, NULL);
	ck_assert_ptr_null(gone);
	client_free(cl);

	/* a LITERAL+ far too large to read and drop: BYE, and the connection closes cleanly */
	cl = login(w);
	send_str(cl, "y1 APPEND INBOX {5000000000+}\r\n");
	g_autofree char *r29 = read_until(cl, "y1");
	HAS(r29, "* BYE [TOOBIG]");
	HAS(r29, "(closed)");
	client_free(cl);
}

START_TEST(test_bad_input_keeps_serving)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_bad_input;
	world_run(&w);
	world_free(&w);
}
END_TEST

static Suite *imap_server_suite(void)
{
	Suite *s = suite_create("imap_server");
	MS_ADD_TEST(s, test_login_and_authenticate, 30);
	MS_ADD_TEST(s, test_select_and_fetch, 30);
	MS_ADD_TEST(s, test_crlf_sizes, 30);
	MS_ADD_TEST(s, test_flags_persist, 30);
	MS_ADD_TEST(s, test_search, 30);
	MS_ADD_TEST(s, test_copy_move_expunge_append, 30);
	MS_ADD_TEST(s, test_session_step_is_its_purpose, 30);
	MS_ADD_TEST(s, test_deterministic, 30);
	MS_ADD_TEST(s, test_folders, 30);
	MS_ADD_TEST(s, test_two_sessions, 30);
	MS_ADD_TEST(s, test_idle, 30);
	MS_ADD_TEST(s, test_uids_survive_restart, 30);
	MS_ADD_TEST(s, test_bad_input_keeps_serving, 60);
	return s;
}

MS_TEST_MAIN(imap_server_suite)
