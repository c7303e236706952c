/* tests/agents/mda/test_mda.c - the MDA agent over the simulated network:
 * LMTP with a reply per recipient (RFC 2033 4.2), the stored file byte for
 * byte, EICAR, Junk, Sieve (fileinto, redirect, reject, discard, vacation),
 * aliases, catch-alls and forwards, write failures (452), the account
 * service with its delay, the DB_QUERY events, and repeatable runs. */
#include "tests/ms_test.h"
#include "agents/mda/mda.h"
#include "agents/mda/authsvc.h"
#include "agents/mda/sieve.h"
#include "agents/mta/smtp_server.h"
#include "net/simnet.h"

#define MX_ADDR "198.51.100.20"
#define MX_NAME "mx.example.org"
#define MDA_NAME "mda@mx.example.org"
#define EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-" "ANTIVIRUS-TEST-FILE!$H+H*"

/* A clean, ordinary message: scores 0.  Note the line that starts with a
 * dot: it travels stuffed and must be stored unstuffed. */
#define PLAIN_MESSAGE \
	"From: Alice <alice@example.com>\r\n" \
	"To: bob@example.org\r\n" \
	"Subject: Lunch on Friday\r\n" \
	"Date: Thu, 1 Jan 2026 09:00:00 +0000\r\n" \
	"Message-ID: <1@example.com>\r\n" \
	"\r\n" \
	"Hi Bob,\r\n" \
	".see you there\r\n"

typedef struct World World;
typedef void (*Script)(World *w);

/* What the stand-in MTA on port 25 received. */
typedef struct {
	char *sender;
	char *rcpts;     /* space separated */
	char *message;
} Captured;

static void captured_free(gpointer p)
{
	Captured *c = p;
	g_free(c->sender);
	g_free(c->rcpts);
	g_free(c->message);
	g_free(c);
}

struct World {
	char       *dir;
	MsSched    *s;
	MsNet      *net;
	MsHost     *mx;
	MsStack    *mda_stack;
	Mda        *mda;
	MsSink     *rec;
	MsListener *mta;        /* the stand-in MTA: takes redirects and vacation replies */
	GPtrArray  *captured;   /* Captured * */
	Script      script;
	/* what the script saw: one reply line per command of interest */
	GPtrArray  *replies;
	gint64      elapsed[4];
	GPtrArray  *mailboxes;
};

/* ---- the stand-in MTA -------------------------------------------------- */

static gboolean mta_data(gpointer ud, SmtpSession *s, GString *message, SmtpVerdict *v)
{
	World *w = ud;
	Captured *c = g_new0(Captured, 1);
	c->sender = g_strdup(smtp_session_sender(s)->address);
	GString *r = g_string_new(NULL);
	GPtrArray *rcpts = smtp_session_recipients(s);
	for (guint i = 0; i < rcpts->len; i++)
		g_string_append_printf(r, "%s%s", i ? " " : "", ((SmtpPath *)rcpts->pdata[i])->address);
	c->rcpts = g_string_free(r, FALSE);
	c->message = g_strndup(message->str, message->len);
	g_ptr_array_add(w->captured, c);
	smtp_verdict_set(v, 250, "2.0.0", NULL, "Ok: queued as Q%u", w->captured->len);
	return TRUE;
}

/* It refuses to relay to "refused@...": a redirect that fails for good. */
static gboolean mta_rcpt(gpointer ud, SmtpSession *s, const SmtpCommand *cmd, SmtpVerdict *v)
{
	if (!g_str_has_prefix(cmd->path->address, "refused@"))
		return TRUE;
	smtp_verdict_set(v, 554, "5.7.1", NULL, "<%s>: Relay access denied", cmd->path->address);
	return FALSE;
}

static const SmtpServerHooks mta_hooks = { .rcpt = mta_rcpt, .data = mta_data };

typedef struct {
	World  *w;
	MsConn *c;
} MtaConn;

static void mta_conn_task(gpointer data)
{
	MtaConn *m = data;
	SmtpServerConfig cfg = { .hostname = MX_NAME };
	smtp_proto_limits_init(&cfg.limits);
	smtp_server_run(m->c, &cfg, &mta_hooks, m->w);
	ms_conn_unref(m->c);
	g_free(m);
}

static void mta_accept_task(gpointer data)
{
	World *w = data;
	for (;;) {
		MsConn *c = ms_listener_accept(w->mta, NULL);
		if (!c)
			return;
		MtaConn *m = g_new0(MtaConn, 1);
		m->w = w;
		m->c = c;
		ms_task_spawn(w->s, "mta-session", mta_conn_task, m);
	}
}

/* ---- the world --------------------------------------------------------- */

static void script_task(gpointer data)
{
	World *w = data;
	w->script(w);
}

static void world_add_accounts(World *w)
{
	GError *err = NULL;
	static const char *const users[][2] = {
		{ "bob@example.org", "secret" },    { "carol@example.org", "hunter2" },
		{ "dave@example.net", "pw-dave" },  { "erin@example.org", "pw-erin" },
		{ "frank@example.org", "pw-frank" }, { "grace@example.org", "pw-grace" },
		{ "henry@example.org", "pw-henry" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(users); i++)
		ck_assert_msg(mda_add_user(w->mda, users[i][0], users[i][1], 0, &err), "%s", err ? err->message : "");
	ck_assert(mda_add_user(w->mda, "ivy@example.org", "pw-ivy", 300, &err));   /* a tiny quota */
	ck_assert(mda_add_alias(w->mda, "info@example.org", "bob@example.org", &err));
	ck_assert(mda_add_alias(w->mda, "@example.net", "carol@example.org", &err));   /* the catch-all */
	ck_assert(mda_add_alias(w->mda, "fwd@example.org", "someone@elsewhere.net", &err));
	ck_assert(mda_set_sieve(w->mda, "carol@example.org",
	                        "require \"fileinto\";\n"
	                        "if header :contains \"subject\" \"[lists]\" { fileinto \"Lists\"; }\n", &err));
	ck_assert(mda_set_sieve(w->mda, "erin@example.org", "redirect \"erin@elsewhere.net\";\n", &err));
	ck_assert(mda_set_sieve(w->mda, "frank@example.org",
	                        "require \"reject\";\nreject \"I do not take mail here\";\n", &err));
	ck_assert(mda_set_sieve(w->mda, "grace@example.org", "discard;\n", &err));
	ck_assert(mda_set_sieve(w->mda, "henry@example.org",
	                        "require \"vacation\";\nvacation :days 7 :subject \"Away\" \"Back on Monday.\";\n", &err));
}

static void world_run(World *w, guint64 seed, Script script, void (*prepare)(World *w))
{
	memset(w, 0, sizeof *w);
	w->dir = ms_test_tmpdir();
	w->s = ms_sched_new(MS_SCHED_VIRTUAL, seed);
	w->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(w->s), w->rec);
	w->net = ms_net_new(w->s);
	w->mx = ms_net_add_host(w->net, MX_NAME, MX_ADDR, NULL);
	w->mda_stack = ms_host_stack_alias(w->mx, MDA_NAME);
	w->captured = g_ptr_array_new_with_free_func(captured_free);
	w->replies = g_ptr_array_new_with_free_func(g_free);
	w->script = script;

	MdaConfig cfg = { .hostname = MX_NAME, .state_dir = w->dir, .fsync = FALSE, .seed = seed };
	GError *err = NULL;
	w->mda = mda_new(w->mda_stack, &cfg, &err);
	ck_assert_msg(w->mda != NULL, "%s", err ? err->message : "");
	world_add_accounts(w);
	if (prepare)
		prepare(w);
	ck_assert(mda_start(w->mda, &err));
	ck_assert_int_eq(mda_lmtp_port(w->mda), MDA_LMTP_PORT);
	ck_assert_int_eq(mda_authsvc_port(w->mda), AUTHSVC_PORT);
	w->mta = ms_stack_listen(ms_host_stack(w->mx), NULL, 25, &err);
	ck_assert(w->mta != NULL);
	ms_task_spawn(w->s, "mta-accept", mta_accept_task, w);
	ms_task_spawn(w->s, "script", script_task, w);
	ck_assert(ms_sched_run(w->s, MS_FOREVER));
	mda_stop(w->mda);
	ms_listener_close(w->mta);
	ms_sched_shutdown(w->s);
}

static void world_free(World *w)
{
	mda_free(w->mda);
	ms_listener_free(w->mta);
	ms_stack_unref(w->mda_stack);
	ms_net_free(w->net);
	ms_sched_free(w->s);
	ms_test_rmtree(w->dir);
	g_free(w->dir);
	g_ptr_array_unref(w->captured);
	g_ptr_array_unref(w->replies);
	if (w->mailboxes)
		g_ptr_array_unref(w->mailboxes);
}

static GPtrArray *events(World *w)
{
	return ms_sink_recorder_events(w->rec);
}

/* ---- a scripted LMTP client (the MTA's side of in.6) ------------------- */

/* The last line of one reply, newly allocated. */
static char *read_reply(MsConn *c)
{
	char line[1024];
	for (;;) {
		MsEol eol;
		gssize n = ms_conn_read_line(c, line, sizeof line - 1, &eol, NULL);
		if (n <= 0)
			return g_strdup("(closed)");
		if (n < 4 || line[3] != '-')
			return g_strdup(line);
	}
}

static MsConn *lmtp_open(World *w)
{
	MsConn *c = ms_stack_connect(ms_host_stack(w->mx), MX_ADDR, MDA_LMTP_PORT, MS_SECOND, NULL);
	ck_assert_ptr_nonnull(c);
	ms_conn_set_proto(c, "lmtp");
	g_autofree char *greeting = read_reply(c);
	ck_assert_msg(g_str_has_prefix(greeting, "220 " MX_NAME), "%s", greeting);
	ms_conn_printf(c, NULL, "LHLO " MX_NAME "\r\n");
	g_autofree char *lhlo = read_reply(c);
	ck_assert_msg(g_str_has_prefix(lhlo, "250 "), "%s", lhlo);
	return c;
}

static void lmtp_close(MsConn *c)
{
	ms_conn_printf(c, NULL, "QUIT\r\n");
	g_free(read_reply(c));
	ms_conn_unref(c);
}

/* One transaction; every reply goes into w->replies, in order: MAIL, each
 * RCPT, then (if any RCPT was accepted) DATA's 354 and one per accepted
 * recipient. */
static void lmtp_send(World *w, MsConn *c, const char *from, const char *const *rcpts, const char *message)
{
	ms_conn_printf(c, NULL, "MAIL FROM:<%s>\r\n", from);
	g_ptr_array_add(w->replies, read_reply(c));
	guint accepted = 0;
	for (guint i = 0; rcpts[i]; i++) {
		ms_conn_printf(c, NULL, "RCPT TO:<%s>\r\n", rcpts[i]);
		char *r = read_reply(c);
		accepted += r[0] == '2';
		g_ptr_array_add(w->replies, r);
	}
	if (accepted == 0) {
		ms_conn_printf(c, NULL, "RSET\r\n");
		g_free(read_reply(c));
		return;
	}
	ms_conn_printf(c, NULL, "DATA\r\n");
	g_ptr_array_add(w->replies, read_reply(c));
	GString *body = g_string_new(NULL);
	smtp_proto_dot_stuff(body, message, strlen(message));
	ms_conn_write(c, body->str, body->len, NULL);
	g_string_free(body, TRUE);
	for (guint i = 0; i < accepted; i++)   /* RFC 2033 4.2 */
		g_ptr_array_add(w->replies, read_reply(c));
}

/* One connection, one transaction. */
static void lmtp_deliver(World *w, const char *from, const char *const *rcpts, const char *message)
{
	MsConn *c = lmtp_open(w);
	lmtp_send(w, c, from, rcpts, message);
	lmtp_close(c);
}

#define REPLY(w, i) ((const char *)g_ptr_array_index((w)->replies, (i)))

static void assert_reply(World *w, guint i, const char *prefix)
{
	ck_assert_msg(i < w->replies->len, "reply %u missing (%u replies)", i, w->replies->len);
	ck_assert_msg(g_str_has_prefix(REPLY(w, i), prefix), "reply %u: expected \"%s\", got \"%s\"", i, prefix,
	              REPLY(w, i));
}

/* ---- looking at the disk ----------------------------------------------- */

/* The files in STATE/mail/example.org/USER/SUB (SUB "new", ".Junk/new"...),
 * sorted, as full paths. */
static GPtrArray *files_in(World *w, const char *domain, const char *user, const char *sub)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *dir = g_build_filename(w->dir, "mail", domain, user, sub, NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d)
		return out;
	const char *name;
	while ((name = g_dir_read_name(d)))
		g_ptr_array_add(out, g_build_filename(dir, name, NULL));
	g_dir_close(d);
	g_ptr_array_sort(out, (GCompareFunc)g_strcmp0);
	return out;
}

static char *file_text(const char *path, gsize *len_r)
{
	char *text = NULL;
	ck_assert_msg(g_file_get_contents(path, &text, len_r, NULL), "cannot read %s", path);
	return text;
}

/* The one file in that folder, read. */
static char *only_file(World *w, const char *domain, const char *user, const char *sub)
{
	g_autoptr(GPtrArray) files = files_in(w, domain, user, sub);
	ck_assert_msg(files->len == 1, "%s/%s/%s: %u files, expected 1", domain, user, sub, files->len);
	return file_text(files->pdata[0], NULL);
}

static guint count_files(World *w, const char *domain, const char *user, const char *sub)
{
	g_autoptr(GPtrArray) files = files_in(w, domain, user, sub);
	return files->len;
}

/* The first event of kind whose text holds text_part (NULL: any) and whose
 * step is step (NULL: any). */
static const MsEvent *find_event_step(World *w, MsEventKind kind, const char *text_part, const char *step)
{
	GPtrArray *evs = events(w);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = evs->pdata[i];
		if (e->kind == kind && (!text_part || (e->text && strstr(e->text, text_part))) &&
		    (!step || !g_strcmp0(e->step, step)))
			return e;
	}
	return NULL;
}

static const MsEvent *find_event(World *w, MsEventKind kind, const char *text_part)
{
	return find_event_step(w, kind, text_part, NULL);
}

/* ======================================================================== */
/* The tests                                                                */
/* ======================================================================== */

static void script_two_rcpts(World *w)
{
	static const char *const rcpts[] = { "bob@example.org", "nobody@example.org", NULL };
	lmtp_deliver(w, "alice@example.com", rcpts, PLAIN_MESSAGE);
}

START_TEST(test_per_recipient_replies_and_exact_file)
{
	World w;
	world_run(&w, 1, script_two_rcpts, NULL);
	assert_reply(&w, 0, "250 ");                              /* MAIL */
	assert_reply(&w, 1, "250 2.1.5 <bob@example.org>");       /* RCPT bob */
	assert_reply(&w, 2, "550 5.1.1 <nobody@example.org>");    /* RCPT nobody */
	assert_reply(&w, 3, "354 ");
	assert_reply(&w, 4, "250 2.0.0 <bob@example.org> Ok: INBOX");
	ck_assert_int_eq(w.replies->len, 5);                      /* one reply: one accepted recipient */

	/* the stored file: exactly our fields on top, then every byte as sent */
	gsize len = 0;
	g_autoptr(GPtrArray) files = files_in(&w, "example.org", "bob", "new");
	ck_assert_int_eq(files->len, 1);
	g_autofree char *text = file_text(files->pdata[0], &len);
	const gsize mlen = strlen(PLAIN_MESSAGE);
	ck_assert_uint_gt(len, mlen);
	ck_assert_mem_eq(text + len - mlen, PLAIN_MESSAGE, mlen);
	g_autofree char *prefix = g_strndup(text, len - mlen);
	ck_assert_msg(g_regex_match_simple(
		"^Return-Path: <alice@example\\.com>\r\n"
		"Delivered-To: bob@example\\.org\r\n"
		"Received: from mx\\.example\\.org \\(mx\\.example\\.org \\[198\\.51\\.100\\.20\\]\\)\r\n"
		"\tby mx\\.example\\.org \\(mailsim MDA\\) with LMTP id [0-9A-F]{10}\r\n"
		"\tfor <bob@example\\.org>; Thu, 1 Jan 2026 00:00:0[0-9] \\+0000\r\n"
		"X-Spam-Score: 0\\.0\r\n"
		"X-Spam-Status: No, score=0\\.0 required=5\\.0 tests=none\r\n$",
		prefix, 0, 0), "added fields:\n%s", prefix);
	/* nothing left in tmp/, and the Maildir came with the usual folders */
	ck_assert_int_eq(count_files(&w, "example.org", "bob", "tmp"), 0);
	ck_assert_int_eq(count_files(&w, "example.org", "bob", ".Junk/new"), 0);
	ck_assert_int_eq(count_files(&w, "example.org", "bob", ".Sent/cur"), 0);
	g_autofree char *sent = g_build_filename(w.dir, "mail/example.org/bob/.Sent", NULL);
	ck_assert(g_file_test(sent, G_FILE_TEST_IS_DIR));

	/* the STORE event names the file from the state dir, and the folder */
	const MsEvent *store = find_event(&w, MS_EV_STORE, NULL);
	ck_assert_ptr_nonnull(store);
	g_autofree char *base = g_path_get_basename(files->pdata[0]);
	g_autofree char *want = g_strdup_printf("stored for bob@example.org in INBOX: mail/example.org/bob/new/%s", base);
	ck_assert_str_eq(store->text, want);
	ck_assert_str_eq(store->step, "in.7");
	ck_assert_str_eq(store->from, MDA_NAME);
	/* the RCPT lookup is in.5, from the MDA to the database */
	const MsEvent *q = find_event(&w, MS_EV_DB_QUERY, "nobody@example.org");
	ck_assert_ptr_nonnull(q);
	ck_assert_str_eq(q->step, "in.5");
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_DB_QUERY, "INSERT INTO users"));   /* the world's setup, shown too */
	ck_assert_str_eq(q->proto, "sql");
	ck_assert_str_eq(q->to, "accounts.sqlite");
	world_free(&w);
}
END_TEST

static void script_eicar(World *w)
{
	static const char *const rcpts[] = { "bob@example.org", "nobody@example.org", "carol@example.org", NULL };
	MsConn *c = lmtp_open(w);
	lmtp_send(w, c, "alice@example.com", rcpts,
	          "From: alice@example.com\r\nSubject: a file\r\n\r\n" EICAR "\r\n");
	static const char *const bob[] = { "bob@example.org", NULL };
	lmtp_send(w, c, "alice@example.com", bob, PLAIN_MESSAGE);   /* the session goes on */
	lmtp_close(c);
}

START_TEST(test_eicar_refused_per_recipient)
{
	World w;
	world_run(&w, 2, script_eicar, NULL);
	assert_reply(&w, 1, "250 ");
	assert_reply(&w, 2, "550 5.1.1");
	assert_reply(&w, 3, "250 ");
	assert_reply(&w, 4, "354 ");
	assert_reply(&w, 5, "554 5.7.1 <bob@example.org> Message refused: virus Eicar-Test-Signature");
	assert_reply(&w, 6, "554 5.7.1 <carol@example.org>");
	/* then the clean message is delivered */
	assert_reply(&w, 10, "250 2.0.0 <bob@example.org> Ok: INBOX");
	ck_assert_int_eq(count_files(&w, "example.org", "bob", "new"), 1);
	ck_assert_int_eq(count_files(&w, "example.org", "carol", "new"), 0);
	const MsEvent *r = find_event(&w, MS_EV_REFUSE, "<carol@example.org>: virus Eicar-Test-Signature");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->step, "in.7");
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_REFUSE, "<bob@example.org>: virus Eicar-Test-Signature"));
	world_free(&w);
}
END_TEST

static void script_spam_and_folders(World *w)
{
	static const char *const bob[] = { "bob@example.org", NULL };
	lmtp_deliver(w, "winner@lottery.example", bob,
	             "From: winner@lottery.example\r\nTo: bob@example.org\r\n"
	             "Subject: YOU ARE A WINNER!!! CLAIM YOUR LOTTERY PRIZE\r\n\r\nAct now.\r\n");
	static const char *const carol[] = { "carol@example.org", NULL };
	lmtp_deliver(w, "list@example.com", carol,
	             "From: list@example.com\r\nSubject: [lists] weekly\r\nDate: Thu, 1 Jan 2026 09:00:00 +0000\r\n"
	             "Message-ID: <2@example.com>\r\n\r\nNews.\r\n");
	lmtp_deliver(w, "alice@example.com", carol, PLAIN_MESSAGE);
}

START_TEST(test_spam_to_junk_and_sieve_fileinto)
{
	World w;
	world_run(&w, 3, script_spam_and_folders, NULL);
	assert_reply(&w, 3, "250 2.0.0 <bob@example.org> Ok: Junk");
	assert_reply(&w, 7, "250 2.0.0 <carol@example.org> Ok: Lists");
	assert_reply(&w, 11, "250 2.0.0 <carol@example.org> Ok: INBOX");
	ck_assert_int_eq(count_files(&w, "example.org", "bob", "new"), 0);
	g_autofree char *junk = only_file(&w, "example.org", "bob", ".Junk/new");
	ck_assert_ptr_nonnull(strstr(junk, "\r\nX-Spam-Status: Yes, score="));
	ck_assert_ptr_nonnull(strstr(junk, "SUBJ_SPAM_WORDS"));
	g_autofree char *list = only_file(&w, "example.org", "carol", ".Lists/new");
	ck_assert_ptr_nonnull(strstr(list, "Subject: [lists] weekly"));
	g_autofree char *marker = g_build_filename(w.dir, "mail/example.org/carol/.Lists/maildirfolder", NULL);
	ck_assert(g_file_test(marker, G_FILE_TEST_EXISTS));   /* a real Maildir++ folder */
	g_autofree char *inbox = only_file(&w, "example.org", "carol", "new");
	ck_assert_ptr_nonnull(strstr(inbox, "Subject: Lunch on Friday"));
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_NOTE, "spam rule SUBJ_ALL_CAPS"));
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_NOTE, "created folder Lists for carol@example.org"));
	world_free(&w);
}
END_TEST

static void script_aliases(World *w)
{
	static const char *const rcpts[] = { "info@example.org", "whoever@example.net", "dave@example.net",
	                                     "fwd@example.org", NULL };
	lmtp_deliver(w, "alice@example.com", rcpts, PLAIN_MESSAGE);
}

START_TEST(test_alias_catch_all_and_forward)
{
	World w;
	world_run(&w, 4, script_aliases, NULL);
	for (guint i = 1; i <= 4; i++)
		assert_reply(&w, i, "250 2.1.5");
	assert_reply(&w, 6, "250 2.0.0 <info@example.org> Ok: INBOX");
	assert_reply(&w, 7, "250 2.0.0 <whoever@example.net> Ok: INBOX");
	assert_reply(&w, 8, "250 2.0.0 <dave@example.net> Ok: INBOX");
	assert_reply(&w, 9, "250 2.0.0 <fwd@example.org> Ok: forwarded to someone@elsewhere.net");
	g_autofree char *bob = only_file(&w, "example.org", "bob", "new");
	ck_assert_ptr_nonnull(strstr(bob, "Delivered-To: bob@example.org\r\n"));
	ck_assert_ptr_nonnull(strstr(bob, "\tfor <info@example.org>; "));
	g_autofree char *carol = only_file(&w, "example.org", "carol", "new");
	ck_assert_ptr_nonnull(strstr(carol, "Delivered-To: carol@example.org\r\n"));
	ck_assert_ptr_nonnull(strstr(carol, "\tfor <whoever@example.net>; "));
	g_autofree char *dave = only_file(&w, "example.net", "dave", "new");
	ck_assert_ptr_nonnull(strstr(dave, "Delivered-To: dave@example.net\r\n"));
	/* the forward went back out through the MTA, with the old sender */
	ck_assert_int_eq(w.captured->len, 1);
	Captured *c = w.captured->pdata[0];
	ck_assert_str_eq(c->sender, "alice@example.com");
	ck_assert_str_eq(c->rcpts, "someone@elsewhere.net");
	ck_assert(g_str_has_prefix(c->message, "Delivered-To: fwd@example.org\r\nReceived: from "));
	ck_assert(g_str_has_suffix(c->message, PLAIN_MESSAGE));
	ck_assert_ptr_null(strstr(c->message, "Return-Path:"));
	world_free(&w);
}
END_TEST

static void script_sieve_actions(World *w)
{
	static const char *const erin[] = { "erin@example.org", NULL };
	static const char *const frank[] = { "frank@example.org", "bob@example.org", NULL };
	static const char *const grace[] = { "grace@example.org", NULL };
	static const char *const henry[] = { "henry@example.org", NULL };
	lmtp_deliver(w, "alice@example.com", erin, PLAIN_MESSAGE);     /* replies 0..3 */
	lmtp_deliver(w, "alice@example.com", frank, PLAIN_MESSAGE);    /* 4..9 */
	lmtp_deliver(w, "alice@example.com", grace, PLAIN_MESSAGE);    /* 10..13 */
	static const char *const msg_henry =
		"From: alice@example.com\r\nTo: henry@example.org\r\nSubject: Meeting\r\n"
		"Date: Thu, 1 Jan 2026 09:00:00 +0000\r\nMessage-ID: <3@example.com>\r\n\r\nTomorrow?\r\n";
	/* a second message, not the first sent again (that one would be a
	 * duplicate, not filed twice: test_redelivery_filed_once) */
	static const char *const msg_henry_2 =
		"From: alice@example.com\r\nTo: henry@example.org\r\nSubject: Meeting\r\n"
		"Date: Thu, 1 Jan 2026 09:05:00 +0000\r\nMessage-ID: <4@example.com>\r\n\r\nTomorrow?\r\n";
	lmtp_deliver(w, "alice@example.com", henry, msg_henry);        /* 14..17 */
	lmtp_deliver(w, "alice@example.com", henry, msg_henry_2);      /* 18..21 */
}

START_TEST(test_sieve_redirect_reject_discard_vacation)
{
	World w;
	world_run(&w, 5, script_sieve_actions, NULL);
	/* redirect: back out through the MTA, nothing kept */
	assert_reply(&w, 3, "250 2.0.0 <erin@example.org> Ok: redirected to erin@elsewhere.net");
	ck_assert_int_eq(count_files(&w, "example.org", "erin", "new"), 0);
	Captured *r = w.captured->pdata[0];
	ck_assert_str_eq(r->sender, "alice@example.com");
	ck_assert_str_eq(r->rcpts, "erin@elsewhere.net");
	ck_assert(g_str_has_suffix(r->message, PLAIN_MESSAGE));
	ck_assert(g_str_has_prefix(r->message, "Delivered-To: erin@example.org\r\n"));
	/* reject: that recipient only; bob in the same transaction gets it */
	assert_reply(&w, 8, "550 5.7.1 <frank@example.org> I do not take mail here");
	assert_reply(&w, 9, "250 2.0.0 <bob@example.org> Ok: INBOX");
	ck_assert_int_eq(count_files(&w, "example.org", "frank", "new"), 0);
	/* discard: accepted, nothing stored */
	assert_reply(&w, 13, "250 2.0.0 <grace@example.org> Ok: discarded");
	ck_assert_int_eq(count_files(&w, "example.org", "grace", "new"), 0);
	/* vacation: one reply from <>, the second message gets none */
	assert_reply(&w, 17, "250 2.0.0 <henry@example.org> Ok: INBOX");
	assert_reply(&w, 21, "250 2.0.0 <henry@example.org> Ok: INBOX");
	ck_assert_int_eq(count_files(&w, "example.org", "henry", "new"), 2);
	ck_assert_int_eq(w.captured->len, 2);
	Captured *v = w.captured->pdata[1];
	ck_assert_str_eq(v->sender, "");
	ck_assert_str_eq(v->rcpts, "alice@example.com");
	ck_assert_ptr_nonnull(strstr(v->message, "Subject: Away\r\n"));
	ck_assert_ptr_nonnull(strstr(v->message, "Auto-Submitted: auto-replied"));
	ck_assert_ptr_nonnull(strstr(v->message, "In-Reply-To: <3@example.com>\r\n"));
	ck_assert_ptr_nonnull(strstr(v->message, "\r\n\r\nBack on Monday.\r\n"));
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_NOTE, "alice@example.com was answered less than 7 days ago"));
	world_free(&w);
}
END_TEST

static void script_refusals(World *w)
{
	static const char *const ivy[] = { "ivy@example.org", NULL };
	lmtp_deliver(w, "alice@example.com", ivy, PLAIN_MESSAGE);              /* replies 0..3 */
	GString *loop = g_string_new(NULL);
	for (guint i = 0; i <= MDA_MAX_HOPS; i++)
		g_string_append_printf(loop, "Received: from hop%u.example by hop%u.example\r\n", i, i + 1);
	g_string_append(loop, PLAIN_MESSAGE);
	static const char *const bob[] = { "bob@example.org", NULL };
	lmtp_deliver(w, "alice@example.com", bob, loop->str);                  /* 4..7 */
	g_string_free(loop, TRUE);
}

START_TEST(test_quota_and_mail_loop_refused)
{
	World w;
	world_run(&w, 8, script_refusals, NULL);
	assert_reply(&w, 3, "552 5.2.2 <ivy@example.org> Quota exceeded");
	ck_assert_int_eq(count_files(&w, "example.org", "ivy", "new"), 0);
	ck_assert_int_eq(count_files(&w, "example.org", "ivy", "tmp"), 0);
	/* RFC 5321 6.3: over MDA_MAX_HOPS Received fields is a loop */
	assert_reply(&w, 7, "554 5.4.6 <bob@example.org> Too many hops");
	ck_assert_int_eq(count_files(&w, "example.org", "bob", "new"), 0);
	world_free(&w);
}
END_TEST

/* bob's script does not parse (edited by hand); carol's redirect is refused */
static void break_scripts(World *w)
{
	g_autofree char *path = mda_sieve_path(w->dir, "bob@example.org", NULL);
	g_autofree char *dir = g_path_get_dirname(path);
	ck_assert_int_eq(g_mkdir_with_parents(dir, 0700), 0);
	ck_assert(g_file_set_contents(path, "if true {\n  discard\n", -1, NULL));
	ck_assert(mda_set_sieve(w->mda, "carol@example.org", "redirect \"refused@elsewhere.net\";\n", NULL));
	ck_assert(mda_add_alias(w->mda, "gone@example.org", "refused@elsewhere.net", NULL));
}

static void script_fallbacks(World *w)
{
	static const char *const rcpts[] = { "bob@example.org", "carol@example.org", "gone@example.org", NULL };
	lmtp_deliver(w, "alice@example.com", rcpts, PLAIN_MESSAGE);   /* replies 0..7 */
}

START_TEST(test_broken_script_and_failed_redirect_keep_the_mail)
{
	World w;
	world_run(&w, 9, script_fallbacks, break_scripts);
	/* RFC 5228 2.10.6: a script that fails keeps the message */
	assert_reply(&w, 5, "250 2.0.0 <bob@example.org> Ok: INBOX");
	ck_assert_int_eq(count_files(&w, "example.org", "bob", "new"), 1);
	const MsEvent *e = find_event(&w, MS_EV_ERROR, "sieve for bob@example.org: sieve: line ");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->step, "in.7");
	/* a redirect the MTA refuses: kept instead, never lost */
	assert_reply(&w, 6, "250 2.0.0 <carol@example.org> Ok: INBOX");
	ck_assert_int_eq(count_files(&w, "example.org", "carol", "new"), 1);
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_ERROR, "redirect to refused@elsewhere.net failed"));
	/* a forward the MTA refuses: the recipient is refused (a bounce, not a loss) */
	assert_reply(&w, 7, "550 5.4.0 <gone@example.org> forward to refused@elsewhere.net refused");
	ck_assert_int_eq(w.captured->len, 0);
	world_free(&w);
}
END_TEST

/* bob's new/ is a file: every write into his INBOX fails */
static void break_bobs_maildir(World *w)
{
	g_autofree char *root = g_build_filename(w->dir, "mail/example.org/bob", NULL);
	g_autofree char *cur = g_build_filename(root, "cur", NULL);
	g_autofree char *tmp = g_build_filename(root, "tmp", NULL);
	g_autofree char *new_ = g_build_filename(root, "new", NULL);
	ck_assert_int_eq(g_mkdir_with_parents(cur, 0700), 0);
	ck_assert_int_eq(g_mkdir_with_parents(tmp, 0700), 0);
	ck_assert(g_file_set_contents(new_, "not a directory", -1, NULL));
}

static void script_write_failure(World *w)
{
	static const char *const rcpts[] = { "bob@example.org", "carol@example.org", NULL };
	lmtp_deliver(w, "alice@example.com", rcpts, PLAIN_MESSAGE);
}

START_TEST(test_write_failure_is_452_and_leaves_nothing)
{
	World w;
	world_run(&w, 6, script_write_failure, break_bobs_maildir);
	assert_reply(&w, 4, "452 4.3.1 <bob@example.org> cannot store the message now");
	assert_reply(&w, 5, "250 2.0.0 <carol@example.org> Ok: INBOX");
	ck_assert_int_eq(count_files(&w, "example.org", "bob", "tmp"), 0);
	ck_assert_int_eq(count_files(&w, "example.org", "bob", "cur"), 0);
	g_autofree char *new_ = g_build_filename(w.dir, "mail/example.org/bob/new", NULL);
	ck_assert(g_file_test(new_, G_FILE_TEST_IS_REGULAR));
	ck_assert_int_eq(count_files(&w, "example.org", "carol", "new"), 1);
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_ERROR, "cannot store for bob@example.org in INBOX"));
	ck_assert_ptr_null(find_event(&w, MS_EV_STORE, "bob@example.org"));
	world_free(&w);
}
END_TEST

/* The MTA's retries (RFC 5321 6.1): the same bytes for the same recipient
 * are filed once (agents/mda/dedup.h); another recipient, another message,
 * or a recipient refused before, are not duplicates. */
static void script_redelivery(World *w)
{
	static const char *const bob_carol[] = { "bob@example.org", "carol@example.org", NULL };
	static const char *const bob[] = { "bob@example.org", NULL };
	static const char *const bob_frank_info[] = { "bob@example.org", "frank@example.org", "info@example.org", NULL };
	static const char *const other =
		"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: Lunch on Friday\r\n"
		"Message-ID: <2@example.com>\r\n\r\nHi Bob,\r\n";
	lmtp_deliver(w, "alice@example.com", bob_carol, PLAIN_MESSAGE);        /* replies 0..5 */
	lmtp_deliver(w, "alice@example.com", bob, PLAIN_MESSAGE);              /* 6..9 */
	lmtp_deliver(w, "alice@example.com", bob_frank_info, PLAIN_MESSAGE);   /* 10..17 */
	lmtp_deliver(w, "alice@example.com", bob, other);                      /* 18..21 */
}

START_TEST(test_redelivery_filed_once)
{
	World w;
	world_run(&w, 8, script_redelivery, NULL);
	assert_reply(&w, 4, "250 2.0.0 <bob@example.org> Ok: INBOX");
	assert_reply(&w, 5, "250 2.0.0 <carol@example.org> Ok: INBOX");
	assert_reply(&w, 9, "250 2.0.0 <bob@example.org> Ok: already delivered");
	assert_reply(&w, 15, "250 2.0.0 <bob@example.org> Ok: already delivered");
	assert_reply(&w, 16, "550 5.7.1 <frank@example.org> I do not take mail here");   /* refused again */
	assert_reply(&w, 17, "250 2.0.0 <info@example.org> Ok: INBOX");   /* another RCPT: its own copy */
	assert_reply(&w, 21, "250 2.0.0 <bob@example.org> Ok: INBOX");
	ck_assert_int_eq(count_files(&w, "example.org", "bob", "new"), 3);   /* first, info@'s, the other */
	ck_assert_int_eq(count_files(&w, "example.org", "carol", "new"), 1);
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_NOTE, "<bob@example.org>: this copy (MTA queue id unknown) "
	                                                 "was filed before: not filed again"));
	/* the log on disk: three copies filed (bob, carol, info), then the other */
	g_autofree char *log_path = g_build_filename(w.dir, "delivered.log", NULL);
	g_autofree char *log = NULL;
	ck_assert(g_file_get_contents(log_path, &log, NULL, NULL));
	guint promises = 0, done = 0;
	for (const char *p = log; (p = strchr(p, '\n')) != NULL;) {
		p++;
		promises += g_str_has_prefix(p, "P ");
		done += g_str_has_prefix(p, "D ");
	}
	promises += g_str_has_prefix(log, "P ");
	ck_assert_uint_eq(promises, 4);
	ck_assert_uint_eq(done, 4);
	world_free(&w);
}
END_TEST

/* bob's INBOX is broken, then mended: the MTA's retry of the whole
 * transaction files bob's copy and not carol's again. */
static void script_retry_after_452(World *w)
{
	static const char *const rcpts[] = { "bob@example.org", "carol@example.org", NULL };
	lmtp_deliver(w, "alice@example.com", rcpts, PLAIN_MESSAGE);   /* replies 0..5 */
	g_autofree char *new_ = g_build_filename(w->dir, "mail/example.org/bob/new", NULL);
	ck_assert_int_eq(g_unlink(new_), 0);
	ck_assert_int_eq(g_mkdir(new_, 0700), 0);
	lmtp_deliver(w, "alice@example.com", rcpts, PLAIN_MESSAGE);   /* 6..11 */
}

START_TEST(test_retry_after_452_files_the_rest_once)
{
	World w;
	world_run(&w, 9, script_retry_after_452, break_bobs_maildir);
	assert_reply(&w, 4, "452 4.3.1 <bob@example.org> cannot store the message now");
	assert_reply(&w, 5, "250 2.0.0 <carol@example.org> Ok: INBOX");
	assert_reply(&w, 10, "250 2.0.0 <bob@example.org> Ok: INBOX");
	assert_reply(&w, 11, "250 2.0.0 <carol@example.org> Ok: already delivered");
	ck_assert_int_eq(count_files(&w, "example.org", "bob", "new"), 1);
	ck_assert_int_eq(count_files(&w, "example.org", "carol", "new"), 1);
	world_free(&w);
}
END_TEST

static void script_authsvc(World *w)
{
	MsSched *s = w->s;
	GError *err = NULL;
	AuthsvcClient *c = authsvc_client_connect(ms_host_stack(w->mx), MX_ADDR, AUTHSVC_PORT, &err);
	ck_assert_msg(c != NULL, "%s", err ? err->message : "");
	static const char *const tries[][2] = {
		{ "bob@example.org", "secret" }, { "bob@example.org", "wrong-pass" }, { "nobody@example.org", "secret" },
	};
	static const AuthsvcResult want[] = { AUTHSVC_OK, AUTHSVC_NO, AUTHSVC_NO };
	for (guint i = 0; i < G_N_ELEMENTS(tries); i++) {
		gint64 t0 = ms_sched_now(s);
		AuthsvcResult r = authsvc_client_auth(c, tries[i][0], tries[i][1], "out.2", NULL);
		w->elapsed[i] = ms_sched_now(s) - t0;
		ck_assert_msg(r == want[i], "try %u: %s", i, authsvc_result_to_string(r));
	}
	GPtrArray *boxes = NULL;
	ck_assert_int_eq(authsvc_client_rcpt(c, "info@example.org", "in.4", &boxes, NULL), AUTHSVC_OK);
	w->mailboxes = boxes;
	ck_assert_int_eq(authsvc_client_rcpt(c, "nobody@example.org", "in.4", NULL, NULL), AUTHSVC_NO);
	ck_assert_int_eq(authsvc_client_rcpt(c, "fwd@example.org", "in.4", &boxes, NULL), AUTHSVC_OK);
	ck_assert_int_eq(boxes->len, 1);
	ck_assert_str_eq(boxes->pdata[0], "someone@elsewhere.net");   /* a forward, reported for the MTA */
	g_ptr_array_unref(boxes);
	authsvc_client_free(c);
}

START_TEST(test_authsvc_same_answer_and_delay)
{
	World w;
	world_run(&w, 7, script_authsvc, NULL);
	ck_assert_int_lt(w.elapsed[0], AUTHSVC_FAIL_DELAY);
	ck_assert_int_ge(w.elapsed[1], AUTHSVC_FAIL_DELAY);
	ck_assert_int_ge(w.elapsed[2], AUTHSVC_FAIL_DELAY);
	ck_assert_int_eq(w.mailboxes->len, 1);
	ck_assert_str_eq(w.mailboxes->pdata[0], "bob@example.org");

	/* the MDA's two failure answers are the same line */
	GPtrArray *evs = events(&w);
	g_autoptr(GPtrArray) answers = g_ptr_array_new();
	gboolean saw_check = FALSE;
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = evs->pdata[i];
		if (e->kind == MS_EV_SEND && !g_strcmp0(e->from, MDA_NAME) && !g_strcmp0(e->proto, "auth") &&
		    !g_strcmp0(e->step, "out.3"))
			g_ptr_array_add(answers, (gpointer)e->text);
		/* no event shows a password in clear */
		ck_assert_msg(!e->text || (!strstr(e->text, "secret") && !strstr(e->text, "wrong-pass")),
		              "password in event: %s", e->text);
		if (e->kind == MS_EV_DB_QUERY) {
			ck_assert_str_eq(e->from, MDA_NAME);
			ck_assert_str_eq(e->to, "accounts.sqlite");
			ck_assert_str_eq(e->proto, "sql");
			if (!g_strcmp0(e->step, "out.3") && strstr(e->text, "'bob@example.org'") &&
			    g_str_has_prefix(e->text, "SELECT"))
				saw_check = TRUE;
		}
	}
	ck_assert(saw_check);
	ck_assert_int_eq(answers->len, 3);
	ck_assert_str_eq(answers->pdata[0], "S: +OK");
	ck_assert_str_eq(answers->pdata[1], "S: -NO");
	ck_assert_str_eq(answers->pdata[2], "S: -NO");
	/* the failures are logged */
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_AUTH, "authentication failed for bob@example.org"));
	ck_assert_ptr_nonnull(find_event(&w, MS_EV_AUTH, "authentication failed for nobody@example.org"));
	/* the alias lookup for RCPT: in.5 (the setup's INSERT had no step) */
	ck_assert_ptr_nonnull(find_event_step(&w, MS_EV_DB_QUERY, "WHERE source='info@example.org'", "in.5"));
	world_free(&w);
}
END_TEST

/* The same seed gives the same run, event for event. */
static char *run_transcript(guint64 seed)
{
	World w;
	world_run(&w, seed, script_spam_and_folders, NULL);
	GString *t = g_string_new(NULL);
	GPtrArray *evs = events(&w);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = evs->pdata[i];
		g_string_append_printf(t, "%" G_GINT64_FORMAT " %s %s %s %s\n", e->t_us, ms_event_kind_to_string(e->kind),
		                       e->from ? e->from : "-", e->step ? e->step : "-", e->text ? e->text : "");
	}
	world_free(&w);
	return g_string_free(t, FALSE);
}

START_TEST(test_same_seed_same_run)
{
	g_autofree char *a = run_transcript(42);
	g_autofree char *b = run_transcript(42);
	ck_assert_ptr_nonnull(strstr(a, "stored for bob@example.org in Junk"));
	ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(test_sieve_install_checks_and_paths)
{
	g_autofree char *dir = ms_test_tmpdir();
	GError *err = NULL;
	ck_assert(!mda_sieve_install(dir, "bob@example.org", "if true {\n  fileinto \"x\"\n}\n", FALSE, &err));
	ck_assert(g_error_matches(err, SIEVE_ERROR, SIEVE_ERROR_SYNTAX) ||
	          g_error_matches(err, SIEVE_ERROR, SIEVE_ERROR_INVALID));
	ck_assert_ptr_nonnull(strstr(err->message, "line "));
	g_clear_error(&err);
	g_autofree char *path = mda_sieve_path(dir, "Bob@Example.ORG", &err);
	g_autofree char *want = g_build_filename(dir, "sieve/example.org/bob.sieve", NULL);
	ck_assert_str_eq(path, want);
	ck_assert_ptr_null(mda_sieve_path(dir, "../x@example.org", &err));
	g_clear_error(&err);
	ck_assert(mda_sieve_install(dir, "bob@example.org", "keep;\n", FALSE, &err));
	ck_assert(g_file_test(want, G_FILE_TEST_IS_REGULAR));
	ck_assert(mda_sieve_install(dir, "bob@example.org", NULL, FALSE, &err));
	ck_assert(!g_file_test(want, G_FILE_TEST_EXISTS));
	ck_assert(mda_sieve_install(dir, "bob@example.org", "", FALSE, &err));   /* removing twice is fine */
	ck_assert_str_eq(mda_action_step(MDA_ACT_CHECK_PASSWORD), "out.3");
	ck_assert_str_eq(mda_action_step(MDA_ACT_STORE), "in.7");
	ck_assert_str_eq(mda_action_to_string(MDA_ACT_FILTER), "filter");
	ck_assert_ptr_nonnull(strstr(mda_action_describe(MDA_ACT_LOOKUP_RECIPIENT), "database"));
	ck_assert_str_eq(mda_action_to_string(MDA_ACT_COUNT), "?");
	ck_assert_str_eq(mda_error_to_string(MDA_ERROR_PERMFAIL), "permfail");
	ms_test_rmtree(dir);
}
END_TEST

static Suite *mda_suite(void)
{
	Suite *s = suite_create("mda");
	MS_ADD_TEST(s, test_per_recipient_replies_and_exact_file, 30);
	MS_ADD_TEST(s, test_eicar_refused_per_recipient, 30);
	MS_ADD_TEST(s, test_spam_to_junk_and_sieve_fileinto, 30);
	MS_ADD_TEST(s, test_alias_catch_all_and_forward, 30);
	MS_ADD_TEST(s, test_sieve_redirect_reject_discard_vacation, 30);
	MS_ADD_TEST(s, test_write_failure_is_452_and_leaves_nothing, 30);
	MS_ADD_TEST(s, test_redelivery_filed_once, 30);
	MS_ADD_TEST(s, test_retry_after_452_files_the_rest_once, 30);
	MS_ADD_TEST(s, test_quota_and_mail_loop_refused, 30);
	MS_ADD_TEST(s, test_broken_script_and_failed_redirect_keep_the_mail, 30);
	MS_ADD_TEST(s, test_authsvc_same_answer_and_delay, 30);
	MS_ADD_TEST(s, test_same_seed_same_run, 60);
	MS_ADD_TEST(s, test_sieve_install_checks_and_paths, 30);
	return s;
}

MS_TEST_MAIN(mda_suite)
