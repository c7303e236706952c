/* tests/agents/mua/test_imap_client.c - the IMAP client: the response
 * reader on a table of valid and a table of invalid responses, then the
 * session over the simulated network against a scripted server that
 * answers each line the client sends with the next entry of its script
 * (and may dribble its answers one byte at a time).
 */
#include "tests/ms_test.h"
#include "agents/mua/imap_client.h"
#include "net/simnet.h"

/* ---- the reader ------------------------------------------------------------- */

static void describe_value(GString *out, const ImapValue *v)
{
	switch (v->kind) {
	case IMAP_VALUE_ATOM:
		g_string_append(out, v->str);
		break;
	case IMAP_VALUE_NIL:
		g_string_append(out, "NIL");
		break;
	case IMAP_VALUE_STRING:
		/* as g_strescape writes it, but every byte of len (NUL too) */
		g_string_append_c(out, '"');
		for (gsize i = 0; i < v->len; i++) {
			guchar ch = (guchar)v->str[i];
			if (ch == '"' || ch == '\\')
				g_string_append_printf(out, "\\%c", ch);
			else if (ch == '\r')
				g_string_append(out, "\\r");
			else if (ch == '\n')
				g_string_append(out, "\\n");
			else if (ch < 0x20 || ch >= 0x7f)
				g_string_append_printf(out, "\\%03o", ch);
			else
				g_string_append_c(out, (char)ch);
		}
		g_string_append_c(out, '"');
		break;
	case IMAP_VALUE_LIST:
		g_string_append_c(out, '(');
		for (guint i = 0; i < v->items->len; i++) {
			if (i)
				g_string_append_c(out, ' ');
			describe_value(out, g_ptr_array_index(v->items, i));
		}
		g_string_append_c(out, ')');
		break;
	}
}

/* A response as one line of text, to compare with the tables. */
static char *describe(const ImapResponse *r)
{
	GString *out = g_string_new(imap_response_kind_to_string(r->kind));
	if (r->kind == IMAP_RESPONSE_STATUS) {
		g_string_append_printf(out, " %s %s", r->tag ? r->tag : "*", imap_cond_to_string(r->cond));
		if (r->code)
			g_string_append_printf(out, " [%s|%s]", r->code, r->code_arg ? r->code_arg : "");
		g_string_append_printf(out, " %s", r->text);
	} else if (r->kind == IMAP_RESPONSE_CONTINUATION) {
		g_string_append_printf(out, " %s", r->text);
	} else {
		if (r->has_number)
			g_string_append_printf(out, " %u", r->number);
		g_string_append_printf(out, " %s", r->name);
		for (guint i = 0; i < r->args->len; i++) {
			g_string_append_c(out, ' ');
			describe_value(out, g_ptr_array_index(r->args, i));
		}
	}
	return g_string_free(out, FALSE);
}

typedef struct {
	const char *in;
	gsize       len;       /* 0: strlen(in) */
	const char *out;
	gboolean    literals;  /* imap_client_line_may_have_literal on its first line */
} ValidCase;

static const ValidCase valid_cases[] = {
	{ "* OK [CAPABILITY IMAP4rev1 MOVE] ready", 0, "status * OK [CAPABILITY|IMAP4rev1 MOVE] ready", FALSE },
	{ "A001 NO [TRYCREATE] no such mailbox", 0, "status A001 NO [TRYCREATE|] no such mailbox", FALSE },
	{ "A001 OK", 0, "status A001 OK ", FALSE },
	{ "* ok hi {5}", 0, "status * OK hi {5}", FALSE },
	{ "* PREAUTH welcome back\r\n", 0, "status * PREAUTH welcome back", FALSE },
	{ "* BYE server shutting down", 0, "status * BYE server shutting down", FALSE },
	{ "* OK [UIDVALIDITY 3857529045] UIDs valid", 0, "status * OK [UIDVALIDITY|3857529045] UIDs valid", FALSE },
	{ "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited", 0,
	  "status * OK [PERMANENTFLAGS|(\\Deleted \\Seen \\*)] Limited", FALSE },
	{ "+ Ready for literal data", 0, "continuation Ready for literal data", FALSE },
	{ "+", 0, "continuation ", FALSE },
	{ "+ dGVzdA==", 0, "continuation dGVzdA==", FALSE },
	{ "* 23 EXISTS", 0, "data 23 EXISTS", TRUE },
	{ "* CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE", 0, "data CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE", TRUE },
	{ "* SEARCH", 0, "data SEARCH", TRUE },
	{ "* SEARCH 2 3 5 ", 0, "data SEARCH 2 3 5", TRUE },
	{ "* LIST (\\HasNoChildren \\Sent) \"/\" Sent", 0, "data LIST (\\HasNoChildren \\Sent) \"/\" Sent", TRUE },
	{ "* LIST (\\Noselect) NIL \"\"", 0, "data LIST (\\Noselect) NIL \"\"", TRUE },
	{ "* LIST () \"/\" {11}\r\nhello world", 0, "data LIST () \"/\" \"hello world\"", TRUE },
	{ "* STATUS INBOX (MESSAGES 3 UIDNEXT 4)", 0, "data STATUS INBOX (MESSAGES 3 UIDNEXT 4)", TRUE },
	{ "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk)", 0,
	  "data FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk)", TRUE },
	{ "* 1 FETCH (UID 7 FLAGS (\\Seen) BODY[] {12}\r\nHi (there)\r\n)", 0,
	  "data 1 FETCH (UID 7 FLAGS (\\Seen) BODY[] \"Hi (there)\\r\\n\")", TRUE },
	{ "* 2 FETCH (BODY[HEADER.FIELDS (FROM TO)] {4}\r\nA: b UID 9)\r\n", 0,
	  "data 2 FETCH (BODY[HEADER.FIELDS (FROM TO)] \"A: b\" UID 9)", TRUE },
	{ "* 3 FETCH (BODY[]<0> NIL RFC822.SIZE 0)", 0, "data 3 FETCH (BODY[]<0> NIL RFC822.SIZE 0)", TRUE },
	{ "* 4 FETCH (BODY[] {0}\r\n)", 0, "data 4 FETCH (BODY[] \"\")", TRUE },
	{ "* ID (\"name\" \"a\\\"b\\\\c\")", 0, "data ID (\"name\" \"a\\\"b\\\\c\")", TRUE },
	{ "* NAMESPACE ((\"\" \"/\")) NIL NIL", 0, "data NAMESPACE ((\"\" \"/\")) NIL NIL", TRUE },
	{ "* 1 FETCH (BODY[] {3}\r\na\0b)", 27, "data 1 FETCH (BODY[] \"a\\000b\")", TRUE },
	{ "* X-WEIRD some-atom", 0, "data X-WEIRD some-atom", TRUE },
};

START_TEST(test_valid_responses)
{
	const ValidCase *c = &valid_cases[_i];
	gsize len = c->len ? c->len : strlen(c->in);
	GError *err = NULL;
	g_autoptr(ImapResponse) r = imap_client_parse_response(c->in, len, &err);
	ck_assert_msg(r != NULL, "\"%s\" refused: %s", c->in, err ? err->message : "");
	g_autofree char *got = describe(r);
	ck_assert_str_eq(got, c->out);
	gsize first = strcspn(c->in, "\r");
	ck_assert_msg(imap_client_line_may_have_literal(c->in, first) == c->literals,
	              "literals on \"%s\"", c->in);
	/* the same response parsed from a copy that ends exactly at len: the
	 * reader never looks past it */
	g_autofree char *copy = g_memdup2(c->in, len);
	g_autoptr(ImapResponse) again = imap_client_parse_response(copy, len, NULL);
	ck_assert_ptr_nonnull(again);
}
END_TEST

typedef struct {
	const char *name;
	const char *in;
} InvalidCase;

static const InvalidCase invalid_cases[] = {
	{ "empty", "" },
	{ "a star alone", "*" },
	{ "a star and a space", "* " },
	{ "tagged PREAUTH", "A001 PREAUTH hi" },
	{ "tagged BYE", "A001 BYE hi" },
	{ "a tag without a condition", "A001" },
	{ "an unknown condition", "A001 MAYBE x" },
	{ "a status with a number", "* 5 OK hi" },
	{ "a number without a name", "* 5" },
	{ "a number too large", "* 99999999999 EXISTS" },
	{ "an unclosed list", "* LIST (\\Noselect" },
	{ "an unclosed quoted string", "* LIST () \"/\" \"Sent" },
	{ "a literal longer than the response", "* LIST () \"/\" {5}\r\nabc" },
	{ "a literal without CRLF", "* X {5}abcde" },
	{ "a literal without digits", "* X {}\r\n" },
	{ "CR in a quoted string", "* X \"a\rb\"" },
	{ "two responses glued", "* X a\r\n* Y b" },
	{ "text past the status line", "A1 OK done\r\nA2 OK more" },
	{ "a bad escape", "* X \"bad \\escape\"" },
	{ "an unclosed response code", "* OK [UIDNEXT 4 ready" },
	{ "an empty response code", "* OK [] x" },
	{ "a bad tag character", "(A1 OK x" },
	{ "an unclosed section", "* 1 FETCH (BODY[HEADER x)" },
	{ "NUL in an atom", "* X a\001b" },
	{ "no space between list items", "* X (a)(b)" },
	{ "a bad character in the name", "* EX!STS" },
	{ "a stray close", "* X )" },
	{ "NUL in status text", "* OK a\0b" },
};

START_TEST(test_invalid_responses)
{
	const InvalidCase *c = &invalid_cases[_i];
	gsize len = strlen(c->in);
	if (strcmp(c->name, "NUL in status text") == 0)
		len = 8;
	GError *err = NULL;
	ImapResponse *r = imap_client_parse_response(c->in, len, &err);
	ck_assert_msg(r == NULL, "%s: accepted", c->name);
	ck_assert(g_error_matches(err, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL));
	g_error_free(err);
}
END_TEST

START_TEST(test_limits)
{
	/* nesting deeper than IMAP_CLIENT_MAX_DEPTH */
	GString *deep = g_string_new("* X ");
	for (int i = 0; i < IMAP_CLIENT_MAX_DEPTH + 5; i++)
		g_string_append_c(deep, '(');
	for (int i = 0; i < IMAP_CLIENT_MAX_DEPTH + 5; i++)
		g_string_append_c(deep, ')');
	GError *err = NULL;
	ck_assert_ptr_null(imap_client_parse_response(deep->str, deep->len, &err));
	ck_assert_ptr_nonnull(strstr(err->message, "nested"));
	g_clear_error(&err);
	g_string_free(deep, TRUE);
	/* more values than IMAP_CLIENT_MAX_VALUES */
	GString *many = g_string_new("* SEARCH");
	for (int i = 0; i <= IMAP_CLIENT_MAX_VALUES; i++)
		g_string_append(many, " 1");
	ck_assert_ptr_null(imap_client_parse_response(many->str, many->len, &err));
	ck_assert_ptr_nonnull(strstr(err->message, "too many values"));
	g_clear_error(&err);
	g_string_free(many, TRUE);
	/* more literals than IMAP_CLIENT_MAX_LITERALS */
	GString *lits = g_string_new("* X");
	for (int i = 0; i <= IMAP_CLIENT_MAX_LITERALS; i++)
		g_string_append(lits, " {1}\r\nx");
	ck_assert_ptr_null(imap_client_parse_response(lits->str, lits->len, &err));
	ck_assert_ptr_nonnull(strstr(err->message, "too many literals"));
	g_clear_error(&err);
	g_string_free(lits, TRUE);
}
END_TEST

START_TEST(test_fetch_helpers)
{
	const char *in = "* 4 FETCH (UID 12 RFC822.SIZE 99 FLAGS (\\Seen \\Flagged) BODY[] {2}\r\nhi)";
	g_autoptr(ImapResponse) r = imap_client_parse_response(in, strlen(in), NULL);
	ck_assert_ptr_nonnull(r);
	guint32 n = 0;
	ck_assert(imap_value_get_number(imap_response_fetch_item(r, "uid"), &n));
	ck_assert_uint_eq(n, 12);
	const ImapValue *body = imap_response_fetch_item(r, "BODY[]");
	ck_assert_int_eq(body->kind, IMAP_VALUE_STRING);
	ck_assert_str_eq(body->str, "hi");
	ck_assert_ptr_null(imap_response_fetch_item(r, "ENVELOPE"));
	ck_assert(!imap_value_get_number(imap_response_fetch_item(r, "FLAGS"), &n));
	ImapValue big = { IMAP_VALUE_ATOM, (char *)"4294967296", 10, NULL };
	ck_assert(!imap_value_get_number(&big, &n));
	ImapValue max = { IMAP_VALUE_ATOM, (char *)"4294967295", 10, NULL };
	ck_assert(imap_value_get_number(&max, &n));
	ck_assert_uint_eq(n, G_MAXUINT32);
	ck_assert_str_eq(imap_client_error_to_string(IMAP_CLIENT_ERROR_BYE), "bye");
	ck_assert_str_eq(imap_client_state_to_string(IMAP_CLIENT_STATE_SELECTED), "selected");
	ck_assert_str_eq(imap_value_kind_to_string(IMAP_VALUE_NIL), "nil");
	ck_assert_str_eq(imap_response_kind_to_string((ImapResponseKind)9), "unknown");
	ck_assert_str_eq(imap_mailbox_attr_to_string(IMAP_MAILBOX_DRAFTS), "\\Drafts");
	ck_assert_str_eq(imap_mailbox_attr_to_string(IMAP_MAILBOX_SENT | IMAP_MAILBOX_TRASH), "");
}
END_TEST

/* ---- the session against a scripted server ---------------------------------------- */

#define SERVER_ADDR "192.0.2.10"
#define PASSWORD    "wonderland"

typedef struct Run Run;
typedef void (*Body)(Run *r, ImapClient *ic);

struct Run {
	MsSched     *s;
	MsNet       *net;
	MsSink      *rec;
	MsStack     *client;
	MsListener  *l;
	const char  *greeting;
	const char *const *script;   /* one reply per line the client sends; NULL ends */
	gboolean     dribble;        /* write replies one byte at a time */
	GString     *wire;           /* what the server received */
	Body         body;
	/* results */
	GError      *error;
	gboolean     ok;
	GPtrArray   *list;
	ImapSelected sel;
	GPtrArray   *fetched;
	GArray      *uids;
	char        *code;
	ImapClientState state;
};

static void server_write(Run *r, MsConn *c, const char *s)
{
	if (!r->dribble) {
		ms_conn_write(c, s, strlen(s), NULL);
		return;
	}
	for (const char *p = s; *p; p++) {
		ms_conn_write(c, p, 1, NULL);
		ms_sleep(MS_MSEC);
	}
}

static void server_task(gpointer data)
{
	Run *r = data;
	MsConn *c = ms_listener_accept(r->l, NULL);
	if (!c)
		return;
	ms_conn_set_proto(c, "imap");
	server_write(r, c, r->greeting);
	char line[IMAP_PROTO_MAX_LINE + 1];
	for (guint i = 0; r->script && r->script[i]; i++) {
		MsEol eol;
		gssize n = ms_conn_read_line(c, line, IMAP_PROTO_MAX_LINE, &eol, NULL);
		if (n < 0 || eol == MS_EOL_EOF)
			break;
		g_string_append_printf(r->wire, "%s\n", line);
		const char *reply = r->script[i];
		if (strcmp(reply, "(close)") == 0)
			break;
		server_write(r, c, reply);
		guint64 size;
		if (imap_proto_line_literal(line, (gsize)n, &size, NULL) == IMAP_LITERAL_FOLLOWS &&
		    g_str_has_prefix(reply, "+")) {
			char *lit = g_malloc(size + 1);
			ms_conn_read_exact(c, lit, size, NULL);
			g_string_append_len(r->wire, lit, (gssize)size);
			g_free(lit);
		}
	}
	ms_conn_close(c);
	ms_conn_unref(c);
}

static void client_task(gpointer data)
{
	Run *r = data;
	MsConn *c = ms_stack_connect(r->client, SERVER_ADDR, 143, MS_SECOND, &r->error);
	ck_assert_ptr_nonnull(c);
	ImapClient *ic = imap_client_new(c);
	ms_conn_unref(c);
	r->body(r, ic);
	r->state = imap_client_state(ic);
	imap_client_free(ic);
}

static void run_script(Run *r)
{
	r->s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	r->rec = ms_sink_recorder_new();
	ms_bus_add_sink(ms_sched_bus(r->s), r->rec);
	r->net = ms_net_new(r->s);
	MsHost *server = ms_net_add_host(r->net, "mail.example.com", SERVER_ADDR, NULL);
	MsHost *client = ms_net_add_host(r->net, "home-pc-alice", "192.0.2.77", NULL);
	r->client = ms_host_stack(client);
	r->l = ms_stack_listen(ms_host_stack(server), NULL, 143, NULL);
	r->wire = g_string_new(NULL);
	ms_task_spawn(r->s, "server", server_task, r);
	ms_task_spawn(r->s, "client", client_task, r);
	ck_assert(ms_sched_run(r->s, MS_FOREVER));
	ms_listener_close(r->l);
	ms_sched_shutdown(r->s);
}

static void free_run(Run *r)
{
	ms_listener_free(r->l);
	ms_net_free(r->net);
	ms_sched_free(r->s);
	g_string_free(r->wire, TRUE);
	g_clear_error(&r->error);
	if (r->list)
		g_ptr_array_unref(r->list);
	if (r->fetched)
		g_ptr_array_unref(r->fetched);
	if (r->uids)
		g_array_unref(r->uids);
	g_free(r->code);
}

/* No event text anywhere shows the password or its base64. */
static void assert_no_secret(Run *r)
{
	GPtrArray *evs = ms_sink_recorder_events(r->rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		ck_assert_msg(!e->text || (!strstr(e->text, PASSWORD) && !strstr(e->text, "d29uZGVybGFuZA")),
		              "secret in \"%s\"", e->text);
	}
}

static gboolean has_event(Run *r, MsEventKind kind, const char *text)
{
	GPtrArray *evs = ms_sink_recorder_events(r->rec);
	for (guint i = 0; i < evs->len; i++) {
		const MsEvent *e = g_ptr_array_index(evs, i);
		if (e->kind == kind && e->text && strcmp(e->text, text) == 0)
			return TRUE;
	}
	return FALSE;
}

static void body_fetch(Run *r, ImapClient *ic)
{
	r->ok = imap_client_greeting(ic, &r->error) &&
	        imap_client_login(ic, "alice@example.com", PASSWORD, &r->error) &&
	        (r->list = imap_client_list(ic, "", "*", &r->error)) != NULL &&
	        imap_client_select(ic, "INBOX", &r->sel, &r->error) &&
	        (r->uids = imap_client_uid_search(ic, "UNSEEN", &r->error)) != NULL &&
	        (r->fetched = imap_client_uid_fetch(ic, "1:*", "(UID FLAGS BODY.PEEK[])", &r->error)) != NULL &&
	        imap_client_uid_store(ic, "7", "+FLAGS", "(\\Seen)", &r->error);
	imap_client_logout(ic);
}

static const char *const fetch_script[] = {
	"A001 OK [CAPABILITY IMAP4rev1 MOVE UIDPLUS] Logged in\r\n",
	"* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	"* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n"
	"* LIST (\\Noselect) \"/\" {10}\r\nK&AOQ-se/x\r\n"
	"A002 OK List completed\r\n",
	"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
	"* 2 EXISTS\r\n* 1 RECENT\r\n"
	"* OK [UIDVALIDITY 1767225600] UIDs valid\r\n* OK [UIDNEXT 9] Predicted next UID\r\n"
	"A003 OK [READ-WRITE] Select completed\r\n",
	"* SEARCH 7\r\nA004 OK Search completed\r\n",
	"* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {16}\r\nSubject: old\r\n\r\n)\r\n"
	"* 2 FETCH (UID 7 FLAGS () BODY[] {17}\r\nSubject: new\r\n\r\n.)\r\n"
	"A005 OK Fetch completed\r\n",
	"A006 OK Store completed\r\n",
	"* BYE Logging out\r\nA007 OK Logout completed\r\n",
	NULL,
};

static void check_fetch(Run *r)
{
	ck_assert_msg(r->ok, "%s", r->error ? r->error->message : "");
	ck_assert_str_eq(r->wire->str,
		"A001 LOGIN alice@example.com " PASSWORD "\n"
		"A002 LIST \"\" \"*\"\n"
		"A003 SELECT INBOX\n"
		"A004 UID SEARCH UNSEEN\n"
		"A005 UID FETCH 1:* (UID FLAGS BODY.PEEK[])\n"
		"A006 UID STORE 7 +FLAGS.SILENT (\\Seen)\n"
		"A007 LOGOUT\n");
	ck_assert_uint_eq(r->list->len, 3);
	ImapMailbox *sent = g_ptr_array_index(r->list, 1);
	ck_assert_str_eq(sent->name, "Sent Items");
	ck_assert_int_eq(sent->delimiter, '/');
	ck_assert_uint_eq(sent->attributes, IMAP_MAILBOX_SENT);
	ImapMailbox *kaese = g_ptr_array_index(r->list, 2);
	ck_assert_str_eq(kaese->name, "Käse/x");   /* modified UTF-7, decoded */
	ck_assert(kaese->attributes & IMAP_MAILBOX_NOSELECT);
	ck_assert_uint_eq(r->sel.exists, 2);
	ck_assert_uint_eq(r->sel.recent, 1);
	ck_assert_uint_eq(r->sel.uidvalidity, 1767225600);
	ck_assert_uint_eq(r->sel.uidnext, 9);
	ck_assert_uint_eq(r->uids->len, 1);
	ck_assert_uint_eq(g_array_index(r->uids, guint32, 0), 7);
	ck_assert_uint_eq(r->fetched->len, 2);
	ImapMessage *m = g_ptr_array_index(r->fetched, 1);
	ck_assert_uint_eq(m->seq, 2);
	ck_assert_uint_eq(m->uid, 7);
	ck_assert(!imap_message_has_flag(m, "\\Seen"));
	ck_assert(imap_message_has_flag(g_ptr_array_index(r->fetched, 0), "\\seen"));
	ck_assert_uint_eq(g_bytes_get_size(m->body), 17);
	ck_assert_int_eq(memcmp(g_bytes_get_data(m->body, NULL), "Subject: new\r\n\r\n.", 17), 0);
	ck_assert_int_eq(r->state, IMAP_CLIENT_STATE_LOGOUT);
	/* the transcript shows the login with the password masked */
	ck_assert(has_event(r, MS_EV_SEND, "C: A001 LOGIN alice@example.com ••••••"));
	assert_no_secret(r);
}

START_TEST(test_session_fetch)
{
	Run r = { .greeting = "* OK [CAPABILITY IMAP4rev1 LITERAL+] mail.example.com ready\r\n",
	          .script = fetch_script, .body = body_fetch };
	run_script(&r);
	check_fetch(&r);
	free_run(&r);
}
END_TEST

START_TEST(test_session_fetch_dribbled)
{
	/* every byte of every answer in its own segment: the reader must not care */
	Run r = { .greeting = "* OK [CAPABILITY IMAP4rev1] ready\r\n",
	          .script = fetch_script, .body = body_fetch, .dribble = TRUE };
	run_script(&r);
	check_fetch(&r);
	free_run(&r);
}
END_TEST

static void body_append(Run *r, ImapClient *ic)
{
	static const char *const flags[] = { "\\Seen", NULL };
	g_autoptr(GBytes) msg = g_bytes_new_static("Subject: hi\r\n\r\nbody\r\n", 21);
	r->ok = imap_client_greeting(ic, &r->error) && imap_client_capability(ic, &r->error) &&
	        imap_client_login(ic, "alice", PASSWORD, &r->error);
	if (!r->ok)
		return;
	/* refused before the literal: NO [TRYCREATE] instead of "+" */
	ck_assert(!imap_client_append(ic, "Sent", flags, msg, &r->error));
	ck_assert(g_error_matches(r->error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_NO));
	r->code = g_strdup(imap_client_last_code(ic));
	g_clear_error(&r->error);
	r->ok = imap_client_create(ic, "Sent", &r->error) && imap_client_append(ic, "Sent", flags, msg, &r->error);
	imap_client_logout(ic);
}

START_TEST(test_session_append_trycreate)
{
	static const char *const script[] = {
		"* CAPABILITY IMAP4rev1\r\nA001 OK done\r\n",
		"A002 OK [CAPABILITY IMAP4rev1] in\r\n",
		"A003 NO [TRYCREATE] Mailbox doesn't exist: Sent\r\n",
		"A004 OK Create completed\r\n",
		"+ OK\r\n",
		"A005 OK [APPENDUID 1 1] Append completed\r\n",
		"* BYE\r\nA006 OK bye\r\n",
		NULL,
	};
	Run r = { .greeting = "* OK ready\r\n", .script = script, .body = body_append };
	run_script(&r);
	ck_assert_msg(r.ok, "%s", r.error ? r.error->message : "");
	ck_assert_str_eq(r.code, "TRYCREATE");
	ck_assert_str_eq(r.wire->str,
		"A001 CAPABILITY\n"
		"A002 LOGIN alice " PASSWORD "\n"
		"A003 APPEND Sent (\\Seen) {21}\n"
		"A004 CREATE Sent\n"
		"A005 APPEND Sent (\\Seen) {21}\n"
		"Subject: hi\r\n\r\nbody\r\n\n"
		"A006 LOGOUT\n");
	ck_assert(has_event(&r, MS_EV_SEND, "C: (message: 21 bytes, 3 lines)"));
	free_run(&r);
}
END_TEST

static void body_login_only(Run *r, ImapClient *ic)
{
	r->ok = imap_client_greeting(ic, &r->error) &&
	        imap_client_login(ic, "alice@example.com", PASSWORD "ü", &r->error);
	imap_client_logout(ic);
}

START_TEST(test_session_login_literal)
{
	/* an 8-bit password cannot be quoted: it goes as a literal, after "+" */
	static const char *const script[] = {
		"+ go ahead\r\n",
		"A001 OK [CAPABILITY IMAP4rev1] in\r\n",
		"A002 OK bye\r\n",
		NULL,
	};
	Run r = { .greeting = "* OK [CAPABILITY IMAP4rev1] ready\r\n", .script = script, .body = body_login_only };
	run_script(&r);
	ck_assert_msg(r.ok, "%s", r.error ? r.error->message : "");
	ck_assert_str_eq(r.wire->str, "A001 LOGIN alice@example.com {12}\n" PASSWORD "ü\nA002 LOGOUT\n");
	ck_assert(has_event(&r, MS_EV_SEND, "C: A001 LOGIN alice@example.com ••••••"));
	assert_no_secret(&r);
	free_run(&r);
}
END_TEST

START_TEST(test_session_authenticate_plain)
{
	static const char *const script[] = {
		"A001 OK [CAPABILITY IMAP4rev1] in\r\n",
		"A002 OK bye\r\n",
		NULL,
	};
	Run r = { .greeting = "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN SASL-IR] ready\r\n",
	          .script = script, .body = body_login_only };
	run_script(&r);
	ck_assert_msg(r.ok, "%s", r.error ? r.error->message : "");
	/* RFC 4959: one line, base64 of "\0alice@example.com\0wonderlandü" */
	ck_assert(g_str_has_prefix(r.wire->str, "A001 AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHdvbmRlcmxhbmTDvA==\n"));
	ck_assert(has_event(&r, MS_EV_SEND, "C: A001 AUTHENTICATE PLAIN ••••••"));
	assert_no_secret(&r);
	free_run(&r);
}
END_TEST

START_TEST(test_session_login_refused)
{
	static const char *const script[] = { "A001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", "A002 OK\r\n", NULL };
	Run r = { .greeting = "* OK [CAPABILITY IMAP4rev1] ready\r\n", .script = script, .body = body_login_only };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_AUTH));
	ck_assert_str_eq(r.error->message,
	                 "LOGIN alice@example.com ••••••: NO [AUTHENTICATIONFAILED] Authentication failed.");
	free_run(&r);
}
END_TEST

START_TEST(test_session_greeting_bye)
{
	Run r = { .greeting = "* BYE too many connections\r\n", .body = body_login_only };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_BYE));
	ck_assert_int_eq(r.state, IMAP_CLIENT_STATE_LOGOUT);
	free_run(&r);
}
END_TEST

START_TEST(test_session_server_vanishes)
{
	static const char *const script[] = { "(close)", NULL };
	Run r = { .greeting = "* OK [CAPABILITY IMAP4rev1] ready\r\n", .script = script, .body = body_login_only };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL));
	ck_assert_int_eq(r.state, IMAP_CLIENT_STATE_LOGOUT);   /* logout after a failure only closes */
	free_run(&r);
}
END_TEST

START_TEST(test_session_bye_then_close)
{
	static const char *const script[] = { "* BYE shutting down\r\n", NULL };
	Run r = { .greeting = "* OK [CAPABILITY IMAP4rev1] ready\r\n", .script = script, .body = body_login_only };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_BYE));
	ck_assert_ptr_nonnull(strstr(r.error->message, "shutting down"));
	free_run(&r);
}
END_TEST

START_TEST(test_session_wrong_tag)
{
	static const char *const script[] = { "B999 OK who are you\r\n", NULL };
	Run r = { .greeting = "* OK [CAPABILITY IMAP4rev1] ready\r\n", .script = script, .body = body_login_only };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL));
	ck_assert_ptr_nonnull(strstr(r.error->message, "tag we never sent"));
	free_run(&r);
}
END_TEST

static void body_select(Run *r, ImapClient *ic)
{
	r->ok = imap_client_greeting(ic, &r->error) && imap_client_select(ic, "INBOX", &r->sel, &r->error);
}

START_TEST(test_session_line_too_long)
{
	GString *huge = g_string_new("* OK ");
	for (int i = 0; i < IMAP_CLIENT_MAX_LINE + 10; i++)
		g_string_append_c(huge, 'x');
	g_string_append(huge, "\r\n");
	const char *script[] = { huge->str, NULL };
	Run r = { .greeting = "* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n", .script = script, .body = body_select };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL));
	ck_assert_ptr_nonnull(strstr(r.error->message, "longer than"));
	ck_assert_int_eq(r.state, IMAP_CLIENT_STATE_FAILED);
	free_run(&r);
	g_string_free(huge, TRUE);
}
END_TEST

START_TEST(test_session_select_refused)
{
	static const char *const script[] = { "A001 NO [NONEXISTENT] Unknown Mailbox: INBOX\r\n", NULL };
	Run r = { .greeting = "* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n", .script = script, .body = body_select };
	run_script(&r);
	ck_assert(!r.ok);
	ck_assert(g_error_matches(r.error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_NO));
	ck_assert_str_eq(r.error->message, "SELECT INBOX: NO [NONEXISTENT] Unknown Mailbox: INBOX");
	ck_assert_int_eq(r.state, IMAP_CLIENT_STATE_AUTHENTICATED);
	free_run(&r);
}
END_TEST

static Suite *imap_client_suite(void)
{
	Suite *s = suite_create("imap_client");
	TCase *valid = tcase_create("valid");
	tcase_add_loop_test(valid, test_valid_responses, 0, G_N_ELEMENTS(valid_cases));
	suite_add_tcase(s, valid);
	TCase *invalid = tcase_create("invalid");
	tcase_add_loop_test(invalid, test_invalid_responses, 0, G_N_ELEMENTS(invalid_cases));
	suite_add_tcase(s, invalid);
	MS_ADD_TEST(s, test_limits, 30);
	MS_ADD_TEST(s, test_fetch_helpers, 10);
	MS_ADD_TEST(s, test_session_fetch, 10);
	MS_ADD_TEST(s, test_session_fetch_dribbled, 30);
	MS_ADD_TEST(s, test_session_append_trycreate, 10);
	MS_ADD_TEST(s, test_session_login_literal, 10);
	MS_ADD_TEST(s, test_session_authenticate_plain, 10);
	MS_ADD_TEST(s, test_session_login_refused, 10);
	MS_ADD_TEST(s, test_session_greeting_bye, 10);
	MS_ADD_TEST(s, test_session_server_vanishes, 10);
	MS_ADD_TEST(s, test_session_bye_then_close, 10);
	MS_ADD_TEST(s, test_session_wrong_tag, 10);
	MS_ADD_TEST(s, test_session_line_too_long, 10);
	MS_ADD_TEST(s, test_session_select_refused, 10);
	return s;
}

MS_TEST_MAIN(imap_client_suite)
