/* tests/agents/mra/test_pop3_server.c - the POP3 session of the MRA over
 * the simulated network: a scripted client, the real account service
 * protocol (authsvc_serve over a one-user backend), a Maildir on disk.
 * Every command, the maildrop lock, deletions only at QUIT, RSET, hostile
 * input, and COURSE.md section 5: what POP3 does is not seen by IMAP. */
#include "tests/ms_test.h"
#include "agents/mra/pop3_server.h"
#include "agents/mra/pop3_proto.h"
#include "agents/mra/mra.h"
#include "agents/mda/authsvc.h"
#include "agents/mda/maildir.h"
#include "agents/common/sasl.h"
#include "net/simnet.h"

#include <stdarg.h>

#define MAIL_ADDR "192.0.2.20"
#define USER      "bob@example.org"
#define PASSWORD  "secret"

/* ---- the world (as in test_imap_server.c) ------------------------------- */

typedef struct World World;
typedef void (*Script)(World *w);

struct World {
	MsSched     *s;
	MsNet       *net;
	MsHost      *mail, *client;
	MsStack     *mda_stack, *mra_stack;
	MsSink      *rec;
	Mra         *mra;
	MsListener  *auth_l;
	char        *dir;
	Script       scripts[2];
	MaildirStamp stamp;
	guint        finished;
};

static gboolean backend_verify(gpointer ud, const char *user, const char *password, GError **error)
{
	return g_ascii_strcasecmp(user, USER) == 0 && strcmp(password, PASSWORD) == 0;
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

static void world_init(World *w)
{
	memset(w, 0, sizeof *w);
	w->dir = ms_test_tmpdir();
	w->s = ms_sched_new(MS_SCHED_VIRTUAL, 3);
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
	MraConfig cfg = { .hostname = "mail.example.org", .state_dir = w->dir, .seed = 3 };
	w->mra = mra_new(w->mra_stack, &cfg, NULL);
	ck_assert_ptr_nonnull(w->mra);
	ck_assert(mra_start(w->mra, NULL));
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
		ms_task_spawn(w->s, i == 0 ? "client-a" : "client-b", script_task, r);
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
}

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

static Maildir *user_maildir(World *w)
{
	g_autofree char *mail = g_build_filename(w->dir, MRA_MAIL_DIR, NULL);
	g_autofree char *root = maildir_user_root(mail, USER, NULL);
	Maildir *md = maildir_new(root, "mail.example.org", FALSE);
	ck_assert(maildir_ensure_defaults(md, 1000, NULL));
	return md;
}

static void deliver(World *w, const char *text)
{
	g_autoptr(Maildir) md = user_maildir(w);
	g_autofree char *data = crlf(text);
	w->stamp.time_us = MRA_DEFAULT_EPOCH_US + ms_sched_now(w->s);
	ck_assert(maildir_deliver(md, NULL, data, strlen(data), 0, &w->stamp, NULL, NULL));
}

static const char *const msg_hello =
	"From: Alice <alice@example.com>\n"
	"To: bob@example.org\n"
	"Subject: Hello Bob\n"
	"\n"
	"Hi Bob,\n"
	".a line that starts with a dot\n"
	"see you\n";

static const char *const msg_two =
	"From: carol@example.net\n"
	"Subject: Two\n"
	"\n"
	"second\n";

static const char *const msg_three =
	"From: dave@example.com\n"
	"Subject: Three\n"
	"\n"
	"third\n";

static void deliver_three(World *w)
{
	deliver(w, msg_hello);
	deliver(w, msg_two);
	deliver(w, msg_three);
}

/* ---- the scripted client ------------------------------------------------ */

typedef struct {
	MsConn *c;
	char    line[4096];
	char   *greeting;
} Client;

static char *read_line(Client *cl)
{
	MsEol eol = MS_EOL_EOF;
	gssize n = ms_conn_read_line(cl->c, cl->line, sizeof cl->line - 1, &eol, NULL);
	if (n < 0 || (n == 0 && eol == MS_EOL_EOF))
		return NULL;
	return g_strndup(cl->line, (gsize)n);
}

static Client *client_new(World *w, guint16 port)
{
	Client *cl = g_new0(Client, 1);
	cl->c = ms_stack_connect(ms_host_stack(w->client), MAIL_ADDR, port, MS_SECOND, NULL);
	ck_assert_ptr_nonnull(cl->c);
	cl->greeting = read_line(cl);
	ck_assert_ptr_nonnull(cl->greeting);
	return cl;
}

static void client_free(Client *cl)
{
	ms_conn_unref(cl->c);
	g_free(cl->greeting);
	g_free(cl);
}

static void send_str(Client *cl, const char *text)
{
	ck_assert(ms_conn_write(cl->c, text, strlen(text), NULL));
}

static char *pop(Client *cl, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* One command and its one-line reply ("(closed)" if the server left). */
static char *pop(Client *cl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_autofree char *line = g_strdup_printf("%s\r\n", text);
	send_str(cl, line);
	char *reply = read_line(cl);
	return reply ? reply : g_strdup("(closed)");
}

/* The lines of a multi-line body after a +OK, as sent (still stuffed),
 * each followed by "\n", up to but not including the ".". */
static char *read_body(Client *cl)
{
	GString *all = g_string_new(NULL);
	for (;;) {
		g_autofree char *line = read_line(cl);
		ck_assert_ptr_nonnull(line);
		if (strcmp(line, ".") == 0)
			break;
		g_string_append_printf(all, "%s\n", line);
	}
	return g_string_free(all, FALSE);
}

static char *pop_multi(Client *cl, const char *command, char **status_r)
{
	*status_r = pop(cl, "%s", command);
	if (!g_str_has_prefix(*status_r, "+OK"))
		return g_strdup("");
	return read_body(cl);
}

#define HAS(hay, needle) ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\" in:\n%s", (needle), (hay))
#define HASNT(hay, needle) ck_assert_msg(strstr((hay), (needle)) == NULL, "did not expect \"%s\" in:\n%s", (needle), (hay))
#define OK(reply) ck_assert_msg(g_str_has_prefix((reply), "+OK"), "expected +OK, got %s", (reply))
#define ERR(reply) ck_assert_msg(g_str_has_prefix((reply), "-ERR"), "expected -ERR, got %s", (reply))

static Client *login(World *w)
{
	Client *cl = client_new(w, MRA_POP3_PORT);
	g_autofree char *r1 = pop(cl, "USER %s", USER);
	OK(r1);
	g_autofree char *r2 = pop(cl, "PASS %s", PASSWORD);
	OK(r2);
	return cl;
}

static void quit(Client *cl)
{
	g_autofree char *r = pop(cl, "QUIT");
	OK(r);
	g_autofree char *after = read_line(cl);
	ck_assert_ptr_null(after);
	client_free(cl);
}

/* ---- the commands ------------------------------------------------------- */

static void script_commands(World *w)
{
	deliver_three(w);
	g_autofree char *hello = crlf(msg_hello), *two = crlf(msg_two), *three = crlf(msg_three);
	gsize total = strlen(hello) + strlen(two) + strlen(three);

	Client *cl = client_new(w, MRA_POP3_PORT);
	ck_assert(g_str_has_prefix(cl->greeting, "+OK mail.example.org"));
	g_autofree char *st = NULL;
	g_autofree char *capa = pop_multi(cl, "CAPA", &st);
	OK(st);
	HAS(capa, "USER\n");
	HAS(capa, "UIDL\n");
	HAS(capa, "TOP\n");
	HAS(capa, "SASL PLAIN LOGIN\n");
	HAS(capa, "RESP-CODES\n");
	HASNT(capa, "STLS");
	g_autofree char *r1 = pop(cl, "STLS");
	ck_assert_str_eq(r1, "-ERR not available");
	g_autofree char *r2 = pop(cl, "STAT");
	ERR(r2);
	g_autofree char *r3 = pop(cl, "PASS %s", PASSWORD);
	ERR(r3);   /* USER first */
	g_autofree char *r4 = pop(cl, "USER %s", USER);
	OK(r4);
	g_autofree char *r5 = pop(cl, "PASS nope");
	ck_assert(g_str_has_prefix(r5, "-ERR [AUTH]"));
	g_autofree char *r6 = pop(cl, "USER %s", USER);
	g_autofree char *r7 = pop(cl, "PASS %s", PASSWORD);
	g_autofree char *expect7 = g_strdup_printf("+OK %s has 3 messages (%zu octets)", USER, total);
	ck_assert_str_eq(r7, expect7);

	g_autofree char *r8 = pop(cl, "STAT");
	g_autofree char *expect8 = g_strdup_printf("+OK 3 %zu", total);
	ck_assert_str_eq(r8, expect8);
	g_autofree char *st2 = NULL;
	g_autofree char *list = pop_multi(cl, "LIST", &st2);
	OK(st2);
	g_autofree char *expect_list = g_strdup_printf("1 %zu\n2 %zu\n3 %zu\n", strlen(hello), strlen(two), strlen(three));
	ck_assert_str_eq(list, expect_list);
	g_autofree char *r9 = pop(cl, "LIST 2");
	g_autofree char *expect9 = g_strdup_printf("+OK 2 %zu", strlen(two));
	ck_assert_str_eq(r9, expect9);
	g_autofree char *r10 = pop(cl, "LIST 9");
	ERR(r10);

	/* UIDL: the Maildir base names, which never change */
	g_autoptr(Maildir) md = user_maildir(w);
	g_autoptr(MaildirIndex) index = NULL;
	ck_assert(maildir_folder_sync(md, MAILDIR_INBOX, 1, &index, NULL));
	g_autofree char *st3 = NULL;
	g_autofree char *uidl = pop_multi(cl, "UIDL", &st3);
	OK(st3);
	for (guint i = 0; i < index->messages->len; i++) {
		const MaildirMessage *m = index->messages->pdata[i];
		g_autofree char *row = g_strdup_printf("%u %s\n", i + 1, m->base);
		HAS(uidl, row);
	}
	g_autofree char *r11 = pop(cl, "UIDL 1");
	g_autofree char *expect11 = g_strdup_printf("+OK 1 %s", ((MaildirMessage *)index->messages->pdata[0])->base);
	ck_assert_str_eq(r11, expect11);

	/* TOP: the header, the blank line, n body lines */
	g_autofree char *st4 = NULL;
	g_autofree char *top0 = pop_multi(cl, "TOP 1 0", &st4);
	OK(st4);
	ck_assert_str_eq(top0, "From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: Hello Bob\n\n");
	g_autofree char *st5 = NULL;
	g_autofree char *top2 = pop_multi(cl, "TOP 1 2", &st5);
	HAS(top2, "\n\nHi Bob,\n..a line that starts with a dot\n");
	HASNT(top2, "see you");

	/* RETR: byte-stuffed (RFC 1939 3), CRLF, the octets LIST promised */
	send_str(cl, "RETR 1\r\n");
	g_autofree char *r12 = read_line(cl);
	g_autofree char *expect12 = g_strdup_printf("+OK %zu octets", strlen(hello));
	ck_assert_str_eq(r12, expect12);
	GString *got = g_string_new(NULL);
	for (;;) {
		g_autofree char *line = read_line(cl);
		ck_assert_ptr_nonnull(line);
		if (strcmp(line, ".") == 0)
			break;
		g_string_append_printf(got, "%s\r\n", line[0] == '.' ? line + 1 : line);
	}
	ck_assert_str_eq(got->str, hello);
	g_string_free(got, TRUE);

	/* DELE marks; RSET unmarks; only QUIT removes */
	g_autofree char *r13 = pop(cl, "DELE 1");
	OK(r13);
	g_autofree char *r14 = pop(cl, "RETR 1");
	ck_assert_str_eq(r14, "-ERR Message 1 is deleted");
	g_autofree char *r15 = pop(cl, "LIST 1");
	ERR(r15);
	g_autofree char *r16 = pop(cl, "DELE 1");
	ERR(r16);
	g_autofree char *r17 = pop(cl, "STAT");
	g_autofree char *expect17 = g_strdup_printf("+OK 2 %zu", strlen(two) + strlen(three));
	ck_assert_str_eq(r17, expect17);
	g_autofree char *r18 = pop(cl, "RSET");
	OK(r18);
	g_autofree char *r19 = pop(cl, "STAT");
	ck_assert_str_eq(r19, expect8);
	g_autofree char *r20 = pop(cl, "DELE 2");
	OK(r20);
	g_autofree char *r21 = pop(cl, "NOOP");
	OK(r21);
	g_autofree char *r22 = pop(cl, "USER %s", USER);
	ERR(r22);   /* already logged in */
	g_autofree char *r23 = pop(cl, "QUIT");
	ck_assert_str_eq(r23, "+OK Bye (1 message deleted)");
	client_free(cl);

	/* a new session: message 2 is gone, the others keep their UIDL */
	cl = login(w);
	g_autofree char *r24 = pop(cl, "STAT");
	g_autofree char *expect24 = g_strdup_printf("+OK 2 %zu", strlen(hello) + strlen(three));
	ck_assert_str_eq(r24, expect24);
	g_autofree char *r25 = pop(cl, "UIDL 2");
	g_autofree char *expect25 = g_strdup_printf("+OK 2 %s", ((MaildirMessage *)index->messages->pdata[2])->base);
	ck_assert_str_eq(r25, expect25);
	quit(cl);
}

START_TEST(test_commands)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_commands;
	world_run(&w);
	world_free(&w);
}
END_TEST

/* ---- deletions happen at QUIT only -------------------------------------- */

static void script_no_quit(World *w)
{
	deliver_three(w);
	Client *cl = login(w);
	g_autofree char *r1 = pop(cl, "DELE 1");
	OK(r1);
	g_autofree char *r2 = pop(cl, "DELE 2");
	OK(r2);
	client_free(cl);   /* the connection drops: no UPDATE state */
	ms_sleep(MS_SECOND);
	cl = login(w);
	g_autofree char *r3 = pop(cl, "STAT");
	ck_assert(g_str_has_prefix(r3, "+OK 3 "));
	quit(cl);
}

START_TEST(test_deletions_only_at_quit)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_no_quit;
	world_run(&w);
	world_free(&w);
}
END_TEST

/* ---- the maildrop lock -------------------------------------------------- */

static void script_lock_holder(World *w)
{
	deliver(w, msg_hello);
	Client *cl = login(w);
	ms_sleep(2 * MS_SECOND);
	quit(cl);
}

static void script_lock_waiter(World *w)
{
	ms_sleep(MS_SECOND);
	Client *cl = client_new(w, MRA_POP3_PORT);
	g_autofree char *r1 = pop(cl, "USER %s", USER);
	g_autofree char *r2 = pop(cl, "PASS %s", PASSWORD);
	ck_assert_str_eq(r2, "-ERR [IN-USE] The maildrop is in use by another POP3 session");
	ms_sleep(2 * MS_SECOND);   /* the holder quits meanwhile */
	g_autofree char *r3 = pop(cl, "USER %s", USER);
	g_autofree char *r4 = pop(cl, "PASS %s", PASSWORD);
	g_autofree char *hello = crlf(msg_hello);
	g_autofree char *expect = g_strdup_printf("+OK %s has 1 message (%zu octets)", USER, strlen(hello));
	ck_assert_str_eq(r4, expect);
	quit(cl);
}

START_TEST(test_maildrop_lock)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_lock_holder;
	w.scripts[1] = script_lock_waiter;
	world_run(&w);
	/* no lock is left behind */
	g_autoptr(Maildir) md = user_maildir(&w);
	g_autofree char *lock = g_build_filename(maildir_get_root(md), MAILDIR_LOCK_FILE, NULL);
	ck_assert(!g_file_test(lock, G_FILE_TEST_EXISTS));
	world_free(&w);
}
END_TEST

/* ---- AUTH and hostile input --------------------------------------------- */

static void script_auth_and_bad_input(World *w)
{
	deliver(w, msg_two);
	Client *cl = client_new(w, MRA_POP3_PORT);
	g_autofree char *st = NULL;
	g_autofree char *mechs = pop_multi(cl, "AUTH", &st);
	OK(st);
	ck_assert_str_eq(mechs, "PLAIN\nLOGIN\n");
	g_autofree char *r1 = pop(cl, "AUTH CRAM-MD5");
	ERR(r1);
	g_autofree char *r2 = pop(cl, "APOP %s 0123456789abcdef0123456789abcdef", USER);
	ERR(r2);
	g_autofree char *r3 = pop(cl, "AUTH PLAIN");
	ck_assert_str_eq(r3, "+ ");
	g_autofree char *r4 = pop(cl, "*");
	ERR(r4);
	/* garbage of every kind, and the session goes on */
	char longline[POP3_PROTO_MAX_LINE + 50];
	memset(longline, 'X', sizeof longline - 1);
	longline[sizeof longline - 1] = '\0';
	g_autofree char *r5 = pop(cl, "%s", longline);
	ck_assert(g_str_has_prefix(r5, "-ERR Line too long"));
	g_autofree char *r6 = pop(cl, "FROB");
	ERR(r6);
	g_autofree char *r7 = pop(cl, "RETR 1");
	ck_assert_str_eq(r7, "-ERR Log in first (USER/PASS or AUTH)");
	g_autofree char *plain = sasl_plain_encode(NULL, USER, PASSWORD);
	g_autofree char *r8 = pop(cl, "AUTH PLAIN %s", plain);
	OK(r8);
	static const char *const bad[] = { "RETR", "RETR abc", "RETR 0", "RETR 2", "RETR 4294967296", "TOP 1",
	                                   "TOP 1 x", "DELE -1", "LIST 1 2", "AUTH PLAIN", "PASS x" };
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *r = pop(cl, "%s", bad[i]);
		ck_assert_msg(g_str_has_prefix(r, "-ERR"), "%s: %s", bad[i], r);
	}
	g_autofree char *r9 = pop(cl, "NOOP");
	OK(r9);
	/* pipelined (RFC 2449 6.8): answered in order */
	send_str(cl, "STAT\r\nNOOP\r\nLIST 1\r\n");
	g_autofree char *p1 = read_line(cl), *p2 = read_line(cl), *p3 = read_line(cl);
	ck_assert(g_str_has_prefix(p1, "+OK 1 "));
	ck_assert_str_eq(p2, "+OK Still here");
	ck_assert(g_str_has_prefix(p3, "+OK 1 "));
	quit(cl);

	/* AUTH LOGIN, answering the challenges */
	cl = client_new(w, MRA_POP3_PORT);
	g_autofree char *c1 = pop(cl, "AUTH LOGIN");
	ck_assert_str_eq(c1, "+ " SASL_LOGIN_PROMPT_USERNAME);
	g_autofree char *u = sasl_login_encode(USER), *p = sasl_login_encode(PASSWORD);
	g_autofree char *c2 = pop(cl, "%s", u);
	ck_assert_str_eq(c2, "+ " SASL_LOGIN_PROMPT_PASSWORD);
	g_autofree char *c3 = pop(cl, "%s", p);
	OK(c3);
	quit(cl);

	/* too many wrong passwords: the server hangs up */
	cl = client_new(w, MRA_POP3_PORT);
	for (guint i = 0; i < POP3_SERVER_MAX_AUTH_FAILURES; i++) {
		g_autofree char *ru = pop(cl, "USER %s", USER);
		g_autofree char *rp = pop(cl, "PASS wrong%u", i);
		ck_assert(g_str_has_prefix(rp, "-ERR [AUTH]"));
	}
	g_autofree char *last = read_line(cl);
	ck_assert_str_eq(last, "-ERR Too many failed logins");
	g_autofree char *gone = read_line(cl);
	ck_assert_ptr_null(gone);
	client_free(cl);

	/* and too much nonsense in a row */
	cl = client_new(w, MRA_POP3_PORT);
	for (guint i = 0; i < POP3_SERVER_MAX_BAD; i++) {
		g_autofree char *r = pop(cl, "NONSENSE%u", i);
		ERR(r);
	}
	g_autofree char *bye = read_line(cl);
	ck_assert_str_eq(bye, "-ERR Too many invalid commands");
	client_free(cl);
}

START_TEST(test_auth_and_bad_input)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_auth_and_bad_input;
	world_run(&w);
	world_free(&w);
}
END_TEST

/* ---- COURSE.md section 5: the same user over POP3 and over IMAP --------- */

static char *imap_cmd(Client *cl, const char *tag, const char *text)
{
	g_autofree char *line = g_strdup_printf("%s %s\r\n", tag, text);
	send_str(cl, line);
	GString *all = g_string_new(NULL);
	g_autofree char *prefix = g_strdup_printf("%s ", tag);
	for (;;) {
		g_autofree char *l = read_line(cl);
		ck_assert_ptr_nonnull(l);
		g_string_append_printf(all, "%s\n", l);
		if (g_str_has_prefix(l, prefix))
			break;
	}
	return g_string_free(all, FALSE);
}

static void script_imap_watcher(World *w)
{
	deliver(w, msg_hello);
	deliver(w, msg_two);
	Client *im = client_new(w, MRA_IMAP_PORT);
	g_autofree char *r1 = imap_cmd(im, "i1", "LOGIN " USER " " PASSWORD);
	HAS(r1, "i1 OK");
	g_autofree char *r2 = imap_cmd(im, "i2", "SELECT INBOX");
	HAS(r2, "* 2 EXISTS");
	ms_sleep(2 * MS_SECOND);   /* the POP3 client reads message 1 */
	/* read over POP3: nothing changed on the server (retr.1) */
	g_autofree char *r3 = imap_cmd(im, "i3", "FETCH 1 FLAGS");
	HAS(r3, "* 1 FETCH (FLAGS (\\Recent))");
	ms_sleep(2 * MS_SECOND);   /* the POP3 client deletes message 2 and quits */
	/* deleted over POP3: gone from the server for everyone (retr.2) */
	g_autofree char *r4 = imap_cmd(im, "i4", "NOOP");
	HAS(r4, "* 2 EXPUNGE");
	/* and flagged over IMAP: POP3 has no way to know */
	g_autofree char *r5 = imap_cmd(im, "i5", "STORE 1 +FLAGS (\\Flagged)");
	HAS(r5, "\\Flagged");
	g_autofree char *r6 = imap_cmd(im, "i6", "LOGOUT");
	HAS(r6, "i6 OK");
	client_free(im);
}

static void script_pop3_reader(World *w)
{
	ms_sleep(MS_SECOND);
	Client *cl = login(w);
	send_str(cl, "RETR 1\r\n");
	g_autofree char *ok1 = read_line(cl);
	OK(ok1);
	g_autofree char *body = read_body(cl);
	HAS(body, "Subject: Hello Bob");
	quit(cl);
	ms_sleep(2 * MS_SECOND);
	cl = login(w);
	g_autofree char *r1 = pop(cl, "DELE 2");
	OK(r1);
	quit(cl);
}

START_TEST(test_pop3_versus_imap)
{
	World w;
	world_init(&w);
	w.scripts[0] = script_imap_watcher;
	w.scripts[1] = script_pop3_reader;
	world_run(&w);
	static const struct {
		const char *step, *text;
	} wanted[] = {
		{ "retr.1", "POP3 keeps no \\Seen flag" },
		{ "retr.2", "marked deleted: it leaves the server at QUIT" },
		{ "retr.2", "removed from the server" },
	};
	GPtrArray *evs = ms_sink_recorder_events(w.rec);
	for (guint k = 0; k < G_N_ELEMENTS(wanted); k++) {
		gboolean found = FALSE;
		for (guint i = 0; i < evs->len && !found; i++) {
			const MsEvent *e = evs->pdata[i];
			found = e->kind == MS_EV_NOTE && e->text && strstr(e->text, wanted[k].text) &&
			        !g_strcmp0(e->step, wanted[k].step) && !g_strcmp0(e->proto, "pop3");
		}
		ck_assert_msg(found, "no pop3 note with step %s saying \"%s\"", wanted[k].step, wanted[k].text);
	}
	world_free(&w);
}
END_TEST

static Suite *pop3_server_suite(void)
{
	Suite *s = suite_create("pop3_server");
	MS_ADD_TEST(s, test_commands, 30);
	MS_ADD_TEST(s, test_deletions_only_at_quit, 30);
	MS_ADD_TEST(s, test_maildrop_lock, 30);
	MS_ADD_TEST(s, test_auth_and_bad_input, 30);
	MS_ADD_TEST(s, test_pop3_versus_imap, 30);
	return s;
}

MS_TEST_MAIN(pop3_server_suite)
