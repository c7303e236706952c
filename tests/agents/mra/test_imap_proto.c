/* tests/agents/mra/test_imap_proto.c - the IMAP grammar and encoders.
 *
 * Commands: a valid table (input, and the parse written back as one line)
 * and an invalid table (input, error kind, whether the tag survives).  Each
 * valid case also goes through a simulated session (line, literal, line)
 * and every prefix of it is parsed from an exact-size copy, so an over-read
 * shows under ASan.  Then literals, sequence sets, mailbox names, and the
 * ENVELOPE/BODYSTRUCTURE/BODY[section] encoders against hand-written strings.
 */
#include "tests/ms_test.h"
#include "agents/mra/imap_proto.h"

/* ---- writing a parsed command back as text ------------------------------ */

static void dump_search(GString *out, const ImapSearchKey *k)
{
	switch (k->kind) {
	case IMAP_SEARCH_AND:
		g_string_append_c(out, '(');
		for (guint i = 0; i < k->children->len; i++) {
			if (i)
				g_string_append_c(out, ' ');
			dump_search(out, g_ptr_array_index(k->children, i));
		}
		g_string_append_c(out, ')');
		return;
	case IMAP_SEARCH_SEQSET: {
		g_autofree char *s = imap_proto_seqset_to_string(k->set);
		g_string_append(out, s);
		return;
	}
	default:
		break;
	}
	g_string_append(out, imap_search_kind_to_string(k->kind));
	if (k->header)
		g_string_append_printf(out, " %s", k->header);
	if (k->value)
		g_string_append_printf(out, " \"%s\"", k->value);
	if (k->kind == IMAP_SEARCH_LARGER || k->kind == IMAP_SEARCH_SMALLER)
		g_string_append_printf(out, " %u", k->number);
	if (k->date.year)
		g_string_append_printf(out, " %04d-%02d-%02d", k->date.year, k->date.month, k->date.day);
	if (k->set) {
		g_autofree char *s = imap_proto_seqset_to_string(k->set);
		g_string_append_printf(out, " %s", s);
	}
	for (guint i = 0; k->children && i < k->children->len; i++) {
		g_string_append_c(out, ' ');
		dump_search(out, g_ptr_array_index(k->children, i));
	}
}

static void dump_strv(GString *out, const char *name, const GPtrArray *a)
{
	g_string_append_printf(out, " %s=[", name);
	for (guint i = 0; i < a->len; i++) {
		const char *s = g_ptr_array_index(a, i);
		g_string_append_printf(out, "%s%s", i ? "," : "", s ? s : "NIL");
	}
	g_string_append_c(out, ']');
}

static char *dump_command(const ImapCommand *c)
{
	GString *out = g_string_new(NULL);
	g_string_append_printf(out, "%s %s%s", c->tag, c->uid ? "UID " : "",
	                       imap_command_kind_to_string(c->kind));
	const struct { const char *name; const char *value; } strs[] = {
		{ "mailbox", c->mailbox }, { "new", c->new_mailbox }, { "ref", c->reference },
		{ "pattern", c->pattern }, { "user", c->user }, { "pass", c->password },
		{ "mech", c->mechanism }, { "ir", c->initial_response }, { "charset", c->charset },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(strs); i++)
		if (strs[i].value)
			g_string_append_printf(out, " %s=%s", strs[i].name, strs[i].value);
	if (c->status_items) {
		g_string_append(out, " status=");
		for (guint bit = 1; bit <= IMAP_STATUS_ITEM_UNSEEN; bit <<= 1)
			if (c->status_items & bit)
				g_string_append_printf(out, "%s,", imap_status_item_to_string(bit));
	}
	if (c->set) {
		g_autofree char *s = imap_proto_seqset_to_string(c->set);
		g_string_append_printf(out, " set=%s", s);
	}
	if (c->kind == IMAP_CMD_STORE)
		g_string_append_printf(out, " %s%s", imap_store_mode_to_string(c->store_mode),
		                       c->silent ? ".SILENT" : "");
	if (c->flags)
		dump_strv(out, "flags", c->flags);
	if (c->has_date)
		g_string_append_printf(out, " date=%04d-%02d-%02dT%02d:%02d:%02d%+d",
		                       c->date_time.date.year, c->date_time.date.month,
		                       c->date_time.date.day, c->date_time.hour, c->date_time.minute,
		                       c->date_time.second, c->date_time.zone_minutes);
	if (c->message) {
		gsize n;
		const char *d = g_bytes_get_data(c->message, &n);
		g_string_append_printf(out, " msg=%.*s", (int)n, d ? d : "");
	}
	if (c->fetch_items) {
		g_string_append(out, " fetch=");
		for (guint i = 0; i < c->fetch_items->len; i++) {
			const ImapFetchItem *it = g_ptr_array_index(c->fetch_items, i);
			g_autofree char *name = imap_proto_fetch_item_name(it);
			g_string_append_printf(out, "%s%s%s", i ? "," : "", it->peek ? "PEEK:" : "", name);
			if (it->partial)
				g_string_append_printf(out, ".%u", it->partial_count);
		}
	}
	if (c->search) {
		g_string_append(out, " search=");
		dump_search(out, c->search);
	}
	if (c->id_nil)
		g_string_append(out, " id=NIL");
	if (c->id_params)
		dump_strv(out, "id", c->id_params);
	if (c->capabilities)
		dump_strv(out, "enable", c->capabilities);
	return g_string_free(out, FALSE);
}

/* ---- the session's side: lines and literals ----------------------------- */

/* Split wire bytes as a server would (line, {N} check, N bytes, line...)
 * and return what it would hand to the parser; NULL if the literal
 * detection disagreed with the bytes. */
static GString *simulate_session(const char *wire, gsize len)
{
	GString *cmd = g_string_new(NULL);
	gsize pos = 0;
	for (;;) {
		const char *crlf = g_strstr_len(wire + pos, (gssize)(len - pos), "\r\n");
		gsize line_end = crlf ? (gsize)(crlf - wire) : len;
		g_string_append_len(cmd, wire + pos, (gssize)(line_end - pos));
		g_string_append(cmd, "\r\n");
		guint64 n;
		gboolean nonsync;
		ImapLiteral lit = imap_proto_line_literal(wire + pos, line_end - pos, &n, &nonsync);
		pos = crlf ? line_end + 2 : len;
		if (lit == IMAP_LITERAL_NONE)
			break;
		ck_assert_int_eq(lit, IMAP_LITERAL_FOLLOWS);
		if (n > len - pos) {
			g_string_free(cmd, TRUE);
			return NULL;
		}
		g_string_append_len(cmd, wire + pos, (gssize)n);
		pos += n;
	}
	ck_assert_uint_eq(pos, len);
	return cmd;
}

/* ---- valid commands ----------------------------------------------------- */

typedef struct {
	const char *in;
	const char *out;
} ValidCase;

static const ValidCase valid_cases[] = {
	{ "a CAPABILITY", "a CAPABILITY" },
	{ "a noop", "a NOOP" },
	{ "A1 LOGOUT\r\n", "A1 LOGOUT" },
	{ "a.b-c_1] STARTTLS", "a.b-c_1] STARTTLS" },
	{ "a AUTHENTICATE plain", "a AUTHENTICATE mech=PLAIN" },
	{ "a AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=", "a AUTHENTICATE mech=PLAIN ir=AGJvYgBzZWNyZXQ=" },
	{ "a AUTHENTICATE PLAIN =", "a AUTHENTICATE mech=PLAIN ir==" },
	{ "a LOGIN bob secret", "a LOGIN user=bob pass=secret" },
	{ "a login \"bob\" \"se\\\"c\\\\ret\"", "a LOGIN user=bob pass=se\"c\\ret" },
	{ "a LOGIN {3}\r\nbob {6}\r\nsecret", "a LOGIN user=bob pass=secret" },
	{ "a LOGIN {3+}\r\nbob \"x y\"\r\n", "a LOGIN user=bob pass=x y" },
	{ "a LOGIN \"\" \"\"", "a LOGIN user= pass=" },
	{ "a LOGIN {0}\r\n {2}\r\n\xc3\xa9", "a LOGIN user= pass=\xc3\xa9" },
	{ "a LOGIN \"j\xc3\xb6rg\" x", "a LOGIN user=j\xc3\xb6rg pass=x" },
	{ "a SELECT INBOX", "a SELECT mailbox=INBOX" },
	{ "a select \"Sent Items\"", "a SELECT mailbox=Sent Items" },
	{ "a EXAMINE Entw&APw-rfe", "a EXAMINE mailbox=Entw&APw-rfe" },
	{ "a CREATE foo/bar", "a CREATE mailbox=foo/bar" },
	{ "a DELETE foo", "a DELETE mailbox=foo" },
	{ "a RENAME a \"b c\"", "a RENAME mailbox=a new=b c" },
	{ "a SUBSCRIBE x", "a SUBSCRIBE mailbox=x" },
	{ "a UNSUBSCRIBE x", "a UNSUBSCRIBE mailbox=x" },
	{ "a LIST \"\" *", "a LIST ref= pattern=*" },
	{ "a LIST \"\" %/%", "a LIST ref= pattern=%/%" },
	{ "a LIST foo ]x", "a LIST ref=foo pattern=]x" },
	{ "a LSUB \"\" \"*\"", "a LSUB ref= pattern=*" },
	{ "a STATUS INBOX (MESSAGES unseen UidNext)", "a STATUS mailbox=INBOX status=MESSAGES,UIDNEXT,UNSEEN," },
	{ "a STATUS x (RECENT UIDVALIDITY)", "a STATUS mailbox=x status=RECENT,UIDVALIDITY," },
	{ "a APPEND INBOX {5}\r\nhello", "a APPEND mailbox=INBOX flags=[] msg=hello" },
	{ "a APPEND Sent (\\seen $Sent) \" 7-Feb-1994 21:52:25 -0800\" {2+}\r\nhi\r\n",
	  "a APPEND mailbox=Sent flags=[\\Seen,$Sent] date=1994-02-07T21:52:25-480 msg=hi" },
	{ "a APPEND INBOX () {0}\r\n", "a APPEND mailbox=INBOX flags=[] msg=" },
	{ "a APPEND INBOX \"17-Jul-1996 02:44:25 +0130\" {1}\r\nx",
	  "a APPEND mailbox=INBOX flags=[] date=1996-07-17T02:44:25+90 msg=x" },
	{ "a APPEND INBOX (\\Answered \\Flagged \\Deleted \\Draft) {1}\r\nx",
	  "a APPEND mailbox=INBOX flags=[\\Answered,\\Flagged,\\Deleted,\\Draft] msg=x" },
	{ "a CHECK", "a CHECK" },
	{ "a CLOSE", "a CLOSE" },
	{ "a UNSELECT", "a UNSELECT" },
	{ "a EXPUNGE", "a EXPUNGE" },
	{ "a UID EXPUNGE 1:3,5", "a UID EXPUNGE set=1:3,5" },
	{ "a SEARCH ALL", "a SEARCH search=(ALL)" },
	{ "a SEARCH CHARSET UTF-8 SUBJECT {5}\r\ncaf\xc3\xa9",
	  "a SEARCH charset=UTF-8 search=(SUBJECT \"caf\xc3\xa9\")" },
	{ "a SEARCH FROM bob SINCE 1-Feb-1994 NOT SEEN",
	  "a SEARCH search=(FROM \"bob\" SINCE 1994-02-01 NOT SEEN)" },
	{ "a SEARCH OR (FROM a TO b) UNSEEN", "a SEARCH search=(OR (FROM \"a\" TO \"b\") UNSEEN)" },
	{ "a SEARCH OR OR SEEN DRAFT NOT (DELETED)", "a SEARCH search=(OR OR SEEN DRAFT NOT (DELETED))" },
	{ "a SEARCH 1:5,7 UID 10:* LARGER 1000 SMALLER 20",
	  "a SEARCH search=(1:5,7 UID 10:* LARGER 1000 SMALLER 20)" },
	{ "a SEARCH HEADER X-Spam yes KEYWORD $Junk UNKEYWORD $Sent",
	  "a SEARCH search=(HEADER X-Spam \"yes\" KEYWORD \"$Junk\" UNKEYWORD \"$Sent\")" },
	{ "a SEARCH BEFORE \"1-Jan-2000\" ON 29-Feb-2000 SENTBEFORE 01-Jan-2000 SENTON 2-jan-2000 SENTSINCE 3-JAN-2000",
	  "a SEARCH search=(BEFORE 2000-01-01 ON 2000-02-29 SENTBEFORE 2000-01-01 SENTON 2000-01-02 SENTSINCE 2000-01-03)" },
	{ "a SEARCH ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
	  "a SEARCH search=(ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN)" },
	{ "a SEARCH BCC x BODY \"y z\" CC z TEXT w TO v",
	  "a SEARCH search=(BCC \"x\" BODY \"y z\" CC \"z\" TEXT \"w\" TO \"v\")" },
	{ "a SEARCH ((((ALL))))", "a SEARCH search=(((((ALL)))))" },
	{ "a UID SEARCH ALL", "a UID SEARCH search=(ALL)" },
	{ "a FETCH 1 ALL", "a FETCH set=1 fetch=FLAGS,INTERNALDATE,RFC822.SIZE,ENVELOPE" },
	{ "a FETCH 1:* fast", "a FETCH set=1:* fetch=FLAGS,INTERNALDATE,RFC822.SIZE" },
	{ "a FETCH 2,4:7 FULL", "a FETCH set=2,4:7 fetch=FLAGS,INTERNALDATE,RFC822.SIZE,ENVELOPE,BODY" },
	{ "a FETCH 1 (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE RFC822 RFC822.HEADER RFC822.TEXT)",
	  "a FETCH set=1 fetch=FLAGS,UID,INTERNALDATE,RFC822.SIZE,ENVELOPE,BODY,BODYSTRUCTURE,RFC822,RFC822.HEADER,RFC822.TEXT" },
	{ "a FETCH 1 BODY[]", "a FETCH set=1 fetch=BODY[]" },
	{ "a FETCH 1 body.peek[header.fields (From To \"Subject\")]<0.100>",
	  "a FETCH set=1 fetch=PEEK:BODY[HEADER.FIELDS (From To Subject)]<0>.100" },
	{ "a FETCH 1 (BODY[1.2.3] BODY[1.MIME] BODY[2.HEADER] BODY[2.TEXT] BODY[TEXT] BODY[HEADER.FIELDS.NOT (Received)])",
	  "a FETCH set=1 fetch=BODY[1.2.3],BODY[1.MIME],BODY[2.HEADER],BODY[2.TEXT],BODY[TEXT],BODY[HEADER.FIELDS.NOT (Received)]" },
	{ "a FETCH 1 (BODY[2.HEADER.FIELDS (\"a b\")] BODY[HEADER]<7.1>)",
	  "a FETCH set=1 fetch=BODY[2.HEADER.FIELDS (\"a b\")],BODY[HEADER]<7>.1" },
	{ "a UID FETCH 1:* (UID FLAGS)", "a UID FETCH set=1:* fetch=UID,FLAGS" },
	{ "a FETCH *:4 body", "a FETCH set=*:4 fetch=BODY" },
	{ "a STORE 1 +FLAGS (\\Deleted)", "a STORE set=1 +FLAGS flags=[\\Deleted]" },
	{ "a STORE 1:* -FLAGS.SILENT \\Seen \\flagged", "a STORE set=1:* -FLAGS.SILENT flags=[\\Seen,\\Flagged]" },
	{ "a STORE 2 FLAGS ()", "a STORE set=2 FLAGS flags=[]" },
	{ "a UID STORE 5 flags.silent ($Junk)", "a UID STORE set=5 FLAGS.SILENT flags=[$Junk]" },
	{ "a COPY 1:3 Trash", "a COPY mailbox=Trash set=1:3" },
	{ "a MOVE 2 \"Archive/2024\"", "a MOVE mailbox=Archive/2024 set=2" },
	{ "a UID COPY 1 x", "a UID COPY mailbox=x set=1" },
	{ "a uid move 1 x", "a UID MOVE mailbox=x set=1" },
	{ "a IDLE", "a IDLE" },
	{ "a NAMESPACE", "a NAMESPACE" },
	{ "a ID NIL", "a ID id=NIL" },
	{ "a ID (\"name\" \"mutt\" \"version\" NIL)", "a ID id=[name,mutt,version,NIL]" },
	{ "a ID ()", "a ID id=[]" },
	{ "a ENABLE CONDSTORE UTF8=ACCEPT", "a ENABLE enable=[CONDSTORE,UTF8=ACCEPT]" },
};

START_TEST(test_valid_table)
{
	const ValidCase *c = &valid_cases[_i];
	gsize len = strlen(c->in);
	g_autoptr(GError) error = NULL;
	char *tag = (char *)"unset";

	/* whole, as given */
	g_autoptr(ImapCommand) cmd = imap_proto_parse_command(c->in, len, &tag, &error);
	ck_assert_msg(cmd != NULL, "%s: %s", c->in, error ? error->message : "?");
	ck_assert_ptr_null(tag);
	g_autofree char *got = dump_command(cmd);
	ck_assert_msg(strcmp(got, c->out) == 0, "%s:\n got %s\nwant %s", c->in, got, c->out);

	/* as a session assembles it, lines and literals */
	g_autoptr(GString) wire = simulate_session(c->in, len);
	ck_assert_ptr_nonnull(wire);
	g_autoptr(ImapCommand) cmd2 = imap_proto_parse_command(wire->str, wire->len, NULL, NULL);
	ck_assert_ptr_nonnull(cmd2);
	g_autofree char *got2 = dump_command(cmd2);
	ck_assert_str_eq(got2, c->out);

	/* every prefix, from an exact-size copy: never an over-read */
	for (gsize n = 0; n < len; n++) {
		g_autofree char *copy = g_memdup2(c->in, n);
		g_autoptr(ImapCommand) part = imap_proto_parse_command(copy, n, NULL, NULL);
		(void)part;
	}
}
END_TEST

/* ---- invalid commands --------------------------------------------------- */

typedef struct {
	const char *in;
	ImapProtoError code;
	const char *tag;      /* the tag for "TAG BAD", NULL for "* BAD" */
} InvalidCase;

static const InvalidCase invalid_cases[] = {
	{ "",                    IMAP_PROTO_ERROR_SYNTAX, NULL },
	{ " NOOP",               IMAP_PROTO_ERROR_SYNTAX, NULL },
	{ "+ NOOP",              IMAP_PROTO_ERROR_SYNTAX, NULL },
	{ "* NOOP",              IMAP_PROTO_ERROR_SYNTAX, NULL },
	{ "\"a\" NOOP",          IMAP_PROTO_ERROR_SYNTAX, NULL },
	{ "{3}\r\nabc NOOP",     IMAP_PROTO_ERROR_SYNTAX, NULL },
	{ "a(b NOOP",            IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a",                   IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a ",                  IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a  NOOP",             IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FOO",               IMAP_PROTO_ERROR_UNKNOWN_COMMAND, "a" },
	{ "a NOOP2",             IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a UID NOOP",          IMAP_PROTO_ERROR_UNKNOWN_COMMAND, "a" },
	{ "a UID",               IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a NOOP extra",        IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a NOOP ",             IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a NOOP\r\n\r\n",      IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a NOOP\n",            IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob",         IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob \"unterminated", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob \"bad\\escape\"", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob \"a\rb\"", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob {5}\r\nabc", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob {3}abc",  IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob {3}\nabc", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob {4294967296}\r\n", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob {99999999999999999999}\r\n", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob {40000000}\r\n", IMAP_PROTO_ERROR_LIMIT, "a" },
	{ "a LOGIN bob {}\r\n",  IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob {-1}\r\n", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN b\xc3\xb6 x", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LOGIN bob%x y",     IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SELECT",            IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SELECT (x)",        IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SELECT a b",        IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a RENAME a",          IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LIST \"\"",         IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a LIST \"\" (",       IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a STATUS INBOX ()",   IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a STATUS INBOX (FOO)", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a STATUS INBOX MESSAGES", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a STATUS INBOX (MESSAGES", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a STATUS INBOX ((MESSAGES))", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX",      IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX \"hello\"", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX hello", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX (\\Recent) {1}\r\nx", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX (\\Foo) {1}\r\nx", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX \"31-Feb-2000 00:00:00 +0000\" {1}\r\nx", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX \"1-Feb-2000 00:00:00 +0000\" {1}\r\nx", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX \"01-Feb-2000 24:00:00 +0000\" {1}\r\nx", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX \"01-Feb-2000 00:00:00 0000\" {1}\r\nx", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX \"01-Feb-2000 00:00:00 +0060\" {1}\r\nx", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a APPEND INBOX {1}\r\nxy", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH",            IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH ",           IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH FOO",        IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH CHARSETX",   IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH CHARSET UTF-8", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH FROM",       IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH ()",         IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH (ALL",       IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH ALL)",       IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH (ALL )",     IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH SINCE 1-Foo-2000", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH SINCE 32-Jan-2000", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH SINCE 1-Jan-20", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH SINCE \"1-Jan-2000", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH LARGER x",   IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH LARGER 4294967296", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH OR ALL",     IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH NOT",        IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH 0",          IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH UID a",      IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH HEADER X",   IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a SEARCH KEYWORD \\Seen", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 0 ALL",       IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1: ALL",      IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH a ALL",       IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH , ALL",       IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1,,2 FLAGS",  IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 4294967296 FLAGS", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1",           IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 ()",        IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 (ALL)",     IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 ALL FLAGS", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 FOO",       IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY.PEEK", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 FLAGS[]",   IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[MIME]", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[0]",   IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[01]",  IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[1.]",  IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[1.FOO]", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[HEADER.FIELDS]", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[HEADER.FIELDS ()]", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[HEADER.FIELDS (a]", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[1]<0.0>", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[1]<5>", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 BODY[TEXT", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 (FLAGS",    IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 (FLAGS  UID)", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a FETCH 1 ((FLAGS))", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a STORE 1 FLAGS",     IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a STORE 1 XFLAGS (\\Seen)", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a STORE 1 +FLAGS (\\Recent)", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a STORE 1 FLAGS (\\Seen", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a STORE 1 FLAGS \\Seen ", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a COPY 1",            IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a MOVE x y",          IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a EXPUNGE 1",         IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a UID EXPUNGE",       IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a ID",                IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a ID (\"a\")",        IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a ID (\"k\" \"v\" \"k2\")", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a ID (k v)",          IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a ID (\"k\" \"v\"",   IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a ID (\"a-field-name-longer-than-thirty\" \"v\")", IMAP_PROTO_ERROR_LIMIT, "a" },
	{ "a ENABLE",            IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a AUTHENTICATE",      IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a AUTHENTICATE PLAIN abc", IMAP_PROTO_ERROR_SYNTAX, "a" },
	{ "a AUTHENTICATE PLAIN a*bc", IMAP_PROTO_ERROR_SYNTAX, "a" },
};

static void check_invalid(const char *in, gsize len, ImapProtoError code, const char *want_tag)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *tag = NULL;
	g_autofree char *copy = g_memdup2(in, len);
	g_autoptr(ImapCommand) cmd = imap_proto_parse_command(copy, len, &tag, &error);
	ck_assert_msg(cmd == NULL, "%s: accepted", in);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(error->domain == IMAP_PROTO_ERROR && error->code == (int)code,
	              "%s: error %s (%s), want %s", in, imap_proto_error_to_string(error->code),
	              error->message, imap_proto_error_to_string(code));
	ck_assert_str_ne(error->message, "");
	if (want_tag)
		ck_assert_msg(tag && strcmp(tag, want_tag) == 0, "%s: tag %s", in, tag ? tag : "(null)");
	else
		ck_assert_msg(tag == NULL, "%s: tag %s, want none", in, tag);
}

START_TEST(test_invalid_table)
{
	const InvalidCase *c = &invalid_cases[_i];
	check_invalid(c->in, strlen(c->in), c->code, c->tag);
}
END_TEST

START_TEST(test_nul_in_command)
{
#define CHECK_NUL(lit) check_invalid(lit, sizeof(lit) - 1, IMAP_PROTO_ERROR_SYNTAX, "a")
	CHECK_NUL("a CAPABILITY\0");
	CHECK_NUL("a LOGIN a\0b c");
	CHECK_NUL("a LOGIN \"a\0b\" c");
	CHECK_NUL("a LOGIN {3}\r\na\0b c");
	CHECK_NUL("a\0 NOOP");
#undef CHECK_NUL
}
END_TEST

/* ---- limits ------------------------------------------------------------- */

static char *nested_search(guint depth)
{
	GString *s = g_string_new("a SEARCH ");
	for (guint i = 0; i < depth; i++)
		g_string_append_c(s, '(');
	g_string_append(s, "ALL");
	for (guint i = 0; i < depth; i++)
		g_string_append_c(s, ')');
	return g_string_free(s, FALSE);
}

START_TEST(test_nesting_limit)
{
	/* the deepest accepted and the first refused */
	g_autofree char *ok = nested_search(IMAP_PROTO_MAX_DEPTH - 1);
	g_autoptr(ImapCommand) cmd = imap_proto_parse_command(ok, strlen(ok), NULL, NULL);
	ck_assert_ptr_nonnull(cmd);
	g_autofree char *bad = nested_search(IMAP_PROTO_MAX_DEPTH);
	check_invalid(bad, strlen(bad), IMAP_PROTO_ERROR_LIMIT, "a");

	/* 10,000 parentheses: an error, not a stack overflow */
	g_autofree char *deep = nested_search(10000);
	check_invalid(deep, strlen(deep), IMAP_PROTO_ERROR_LIMIT, "a");
	g_autoptr(GString) open_only = g_string_new("a SEARCH ");
	for (int i = 0; i < 10000; i++)
		g_string_append_c(open_only, '(');
	check_invalid(open_only->str, open_only->len, IMAP_PROTO_ERROR_LIMIT, "a");

	/* NOT and OR chains nest too */
	g_autoptr(GString) nots = g_string_new("a SEARCH ");
	for (int i = 0; i < 10000; i++)
		g_string_append(nots, "NOT ");
	g_string_append(nots, "ALL");
	check_invalid(nots->str, nots->len, IMAP_PROTO_ERROR_LIMIT, "a");
	g_autoptr(GString) ors = g_string_new("a SEARCH ");
	for (int i = 0; i < 10000; i++)
		g_string_append(ors, "OR ALL ");
	g_string_append(ors, "ALL");
	check_invalid(ors->str, ors->len, IMAP_PROTO_ERROR_LIMIT, "a");

	/* other commands do not nest at all: the first extra '(' is wrong */
	g_autoptr(GString) fetch = g_string_new("a FETCH 1 ");
	for (int i = 0; i < 10000; i++)
		g_string_append_c(fetch, '(');
	check_invalid(fetch->str, fetch->len, IMAP_PROTO_ERROR_SYNTAX, "a");
}
END_TEST

START_TEST(test_argument_limits)
{
	g_autoptr(GString) flags = g_string_new("a STORE 1 FLAGS (");
	for (int i = 0; i <= IMAP_PROTO_MAX_ARGS; i++)
		g_string_append_printf(flags, "%sk%d", i ? " " : "", i);
	g_string_append_c(flags, ')');
	check_invalid(flags->str, flags->len, IMAP_PROTO_ERROR_LIMIT, "a");

	g_autoptr(GString) keys = g_string_new("a SEARCH");
	for (int i = 0; i <= IMAP_PROTO_MAX_ARGS; i++)
		g_string_append(keys, " SEEN");
	check_invalid(keys->str, keys->len, IMAP_PROTO_ERROR_LIMIT, "a");

	g_autoptr(GString) items = g_string_new("a FETCH 1 (");
	for (int i = 0; i <= IMAP_PROTO_MAX_ARGS; i++)
		g_string_append_printf(items, "%sUID", i ? " " : "");
	g_string_append_c(items, ')');
	check_invalid(items->str, items->len, IMAP_PROTO_ERROR_LIMIT, "a");

	g_autoptr(GString) id = g_string_new("a ID (");
	for (int i = 0; i <= 30; i++)
		g_string_append_printf(id, "%s\"k%d\" \"v\"", i ? " " : "", i);
	g_string_append_c(id, ')');
	check_invalid(id->str, id->len, IMAP_PROTO_ERROR_LIMIT, "a");

	g_autoptr(GString) section = g_string_new("a FETCH 1 BODY[1");
	for (int i = 0; i < IMAP_PROTO_MAX_DEPTH; i++)
		g_string_append(section, ".1");
	g_string_append_c(section, ']');
	check_invalid(section->str, section->len, IMAP_PROTO_ERROR_LIMIT, "a");

	/* two literals per key: the literal count trips before the key count */
	g_autoptr(GString) lits = g_string_new("a SEARCH");
	for (int i = 0; i <= IMAP_PROTO_MAX_ARGS / 2; i++)
		g_string_append(lits, " HEADER {1}\r\nx {1}\r\ny");
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(imap_proto_parse_command(lits->str, lits->len, NULL, &error));
	ck_assert_int_eq(error->code, IMAP_PROTO_ERROR_LIMIT);
	ck_assert_str_eq(error->message, "Too many literals");

	g_autoptr(GString) status = g_string_new("a STATUS INBOX (");
	for (int i = 0; i <= IMAP_PROTO_MAX_ARGS; i++)
		g_string_append_printf(status, "%sMESSAGES", i ? " " : "");
	g_string_append_c(status, ')');
	check_invalid(status->str, status->len, IMAP_PROTO_ERROR_LIMIT, "a");

	g_autoptr(GString) names = g_string_new("a FETCH 1 BODY[HEADER.FIELDS (");
	for (int i = 0; i <= IMAP_PROTO_MAX_ARGS; i++)
		g_string_append_printf(names, "%sX", i ? " " : "");
	g_string_append(names, ")]");
	check_invalid(names->str, names->len, IMAP_PROTO_ERROR_LIMIT, "a");

	/* a whole command over IMAP_PROTO_MAX_COMMAND is refused, tag kept */
	gsize huge_len = IMAP_PROTO_MAX_COMMAND + 1;
	g_autofree char *huge = g_malloc(huge_len);
	memset(huge, 'x', huge_len);
	memcpy(huge, "a NOOP ", 7);
	check_invalid(huge, huge_len, IMAP_PROTO_ERROR_LIMIT, "a");

	g_autoptr(GString) store = g_string_new("a STORE 1 FLAGS");
	for (int i = 0; i <= IMAP_PROTO_MAX_ARGS; i++)
		g_string_append(store, " k");
	check_invalid(store->str, store->len, IMAP_PROTO_ERROR_LIMIT, "a");
}
END_TEST

START_TEST(test_append_binary_message)
{
	static const char in[] = "a APPEND INBOX {3}\r\na\0b";
	g_autoptr(ImapCommand) cmd = imap_proto_parse_command(in, sizeof(in) - 1, NULL, NULL);
	ck_assert_ptr_nonnull(cmd);
	ck_assert_uint_eq(g_bytes_get_size(cmd->message), 3);
	ck_assert_int_eq(memcmp(g_bytes_get_data(cmd->message, NULL), "a\0b", 3), 0);
}
END_TEST

START_TEST(test_append_date_to_unix)
{
	static const char in[] = "a APPEND INBOX \"17-Jul-1996 02:44:25 -0700\" {1}\r\nx";
	g_autoptr(ImapCommand) cmd = imap_proto_parse_command(in, strlen(in), NULL, NULL);
	ck_assert_ptr_nonnull(cmd);
	ck_assert(cmd->has_date);
	ck_assert_int_eq(imap_proto_date_time_to_unix(&cmd->date_time), 837596665);
	ImapDate d = { 1970, 1, 2 };
	ck_assert_int_eq(imap_proto_date_to_unix(&d), 86400);
}
END_TEST

START_TEST(test_fetch_item_fields)
{
	static const char in[] = "a FETCH 1 BODY.PEEK[1.2.HEADER.FIELDS.NOT (x-a X-B)]<10.20>";
	g_autoptr(ImapCommand) cmd = imap_proto_parse_command(in, strlen(in), NULL, NULL);
	ck_assert_ptr_nonnull(cmd);
	ck_assert_uint_eq(cmd->fetch_items->len, 1);
	const ImapFetchItem *it = g_ptr_array_index(cmd->fetch_items, 0);
	ck_assert_int_eq(it->kind, IMAP_FETCH_BODY_SECTION);
	ck_assert(it->peek);
	ck_assert_uint_eq(it->section.parts->len, 2);
	ck_assert_uint_eq(g_array_index(it->section.parts, guint32, 0), 1);
	ck_assert_uint_eq(g_array_index(it->section.parts, guint32, 1), 2);
	ck_assert_int_eq(it->section.text, IMAP_SECTION_HEADER_FIELDS_NOT);
	ck_assert_uint_eq(it->section.fields->len, 2);
	ck_assert_str_eq(g_ptr_array_index(it->section.fields, 1), "X-B");
	ck_assert(it->partial);
	ck_assert_uint_eq(it->partial_origin, 10);
	ck_assert_uint_eq(it->partial_count, 20);
	/* RFC 3501 7.4.2: the reply names the origin only, and never PEEK */
	g_autofree char *name = imap_proto_fetch_item_name(it);
	ck_assert_str_eq(name, "BODY[1.2.HEADER.FIELDS.NOT (x-a X-B)]<10>");
}
END_TEST

/* ---- literal detection -------------------------------------------------- */

typedef struct {
	const char *line;
	ImapLiteral result;
	guint64 size;
	gboolean nonsync;
} LiteralCase;

static const LiteralCase literal_cases[] = {
	{ "a LOGIN {5}",              IMAP_LITERAL_FOLLOWS, 5, FALSE },
	{ "a LOGIN {5+}",             IMAP_LITERAL_FOLLOWS, 5, TRUE },
	{ "a LOGIN bob {0}",          IMAP_LITERAL_FOLLOWS, 0, FALSE },
	{ "{5}",                      IMAP_LITERAL_FOLLOWS, 5, FALSE },
	{ "a APPEND x {33554432}",    IMAP_LITERAL_FOLLOWS, IMAP_PROTO_MAX_LITERAL, FALSE },
	{ "a APPEND x {33554433}",    IMAP_LITERAL_TOO_LARGE, IMAP_PROTO_MAX_LITERAL + 1, FALSE },
	{ "a APPEND x {4294967295}",  IMAP_LITERAL_TOO_LARGE, 4294967295u, FALSE },
	{ "a APPEND x {4294967296}",  IMAP_LITERAL_TOO_LARGE, 4294967296u, FALSE },
	{ "a APPEND x {4294967296+}", IMAP_LITERAL_TOO_LARGE, 4294967296u, TRUE },
	{ "a APPEND x {18446744073709551615}", IMAP_LITERAL_TOO_LARGE, G_MAXUINT64, FALSE },
	{ "a APPEND x {18446744073709551616}", IMAP_LITERAL_TOO_LARGE, G_MAXUINT64, FALSE },
	{ "a APPEND x {99999999999999999999}", IMAP_LITERAL_TOO_LARGE, G_MAXUINT64, FALSE },
	{ "a APPEND x {000000000000000000000000000005}", IMAP_LITERAL_FOLLOWS, 5, FALSE },
	{ "a NOOP",                   IMAP_LITERAL_NONE, 0, FALSE },
	{ "",                         IMAP_LITERAL_NONE, 0, FALSE },
	{ "}",                        IMAP_LITERAL_NONE, 0, FALSE },
	{ "a {}",                     IMAP_LITERAL_NONE, 0, FALSE },
	{ "a {+}",                    IMAP_LITERAL_NONE, 0, FALSE },
	{ "a {5",                     IMAP_LITERAL_NONE, 0, FALSE },
	{ "a 5}",                     IMAP_LITERAL_NONE, 0, FALSE },
	{ "a {5}x",                   IMAP_LITERAL_NONE, 0, FALSE },
	{ "a {-1}",                   IMAP_LITERAL_NONE, 0, FALSE },
	{ "a {5}+",                   IMAP_LITERAL_NONE, 0, FALSE },
	{ "a {5++}",                  IMAP_LITERAL_NONE, 0, FALSE },
	{ "a { 5}",                   IMAP_LITERAL_NONE, 0, FALSE },
};

START_TEST(test_literal_table)
{
	const LiteralCase *c = &literal_cases[_i];
	gsize len = strlen(c->line);
	g_autofree char *copy = g_memdup2(c->line, len);
	guint64 size = 12345;
	gboolean nonsync = TRUE;
	ImapLiteral r = imap_proto_line_literal(copy, len, &size, &nonsync);
	ck_assert_msg(r == c->result, "%s: %s, want %s", c->line, imap_literal_to_string(r),
	              imap_literal_to_string(c->result));
	ck_assert_msg(size == c->size, "%s: size %" G_GUINT64_FORMAT, c->line, size);
	ck_assert_int_eq(nonsync, c->nonsync);
	/* NULL outputs are allowed */
	ck_assert_int_eq(imap_proto_line_literal(copy, len, NULL, NULL), c->result);
}
END_TEST

START_TEST(test_done)
{
	ck_assert(imap_proto_line_is_done("DONE", 4));
	ck_assert(imap_proto_line_is_done("done", 4));
	ck_assert(!imap_proto_line_is_done("DONE ", 5));
	ck_assert(!imap_proto_line_is_done("a DONE", 6));
	ck_assert(!imap_proto_line_is_done("DON", 3));
}
END_TEST

/* ---- sequence sets ------------------------------------------------------ */

typedef struct {
	const char *set;
	guint32 max;
	const char *in;     /* numbers that must be in, comma separated */
	const char *out;    /* numbers that must not */
	const char *str;    /* written back; NULL: as given */
} SeqCase;

static const SeqCase seq_cases[] = {
	{ "1:*",        10, "1,5,10",        "11,0", NULL },
	{ "2,4:7,9",    10, "2,4,5,6,7,9",   "1,3,8,10", NULL },
	{ "*:4",        10, "4,7,10",        "3,11", NULL },
	{ "*:4",        2,  "2,3,4",         "1,5", NULL },
	{ "7:3",        10, "3,5,7",         "2,8", NULL },
	{ "*",          10, "10",            "9,1", NULL },
	{ "*",          0,  "",              "1", NULL },
	{ "4294967295", 5,  "4294967295",    "5", NULL },
	{ "1,1,1",      3,  "1",             "2", NULL },
	{ "3:3",        9,  "3",             "2,4", "3" },
};

static void check_numbers(const ImapSeqSet *set, const char *list, guint32 max, gboolean want)
{
	g_auto(GStrv) nums = g_strsplit(list, ",", -1);
	for (guint i = 0; nums[i] && *nums[i]; i++) {
		guint32 n = (guint32)g_ascii_strtoull(nums[i], NULL, 10);
		ck_assert_msg(imap_proto_seqset_contains(set, n, max) == want, "%u in set (max %u): want %d",
		              n, max, want);
	}
}

START_TEST(test_seqset_table)
{
	const SeqCase *c = &seq_cases[_i];
	g_autoptr(GError) error = NULL;
	g_autoptr(ImapSeqSet) set = imap_proto_seqset_parse(c->set, strlen(c->set), &error);
	ck_assert_msg(set != NULL, "%s: %s", c->set, error ? error->message : "");
	check_numbers(set, c->in, c->max, TRUE);
	check_numbers(set, c->out, c->max, FALSE);
	g_autofree char *back = imap_proto_seqset_to_string(set);
	ck_assert_str_eq(back, c->str ? c->str : c->set);
}
END_TEST

static const char *const bad_seqsets[] = {
	"", "0", "1:", ":1", "a", ",", "1,", ",1", "1::2", "1:0", "0:1", "01", "4294967296",
	"99999999999999999999", "1:*:2", "**", "1 2", "-1", "1;2", "$",
};

START_TEST(test_seqset_invalid)
{
	const char *s = bad_seqsets[_i];
	g_autoptr(GError) error = NULL;
	g_autofree char *copy = g_memdup2(s, strlen(s));
	g_autoptr(ImapSeqSet) set = imap_proto_seqset_parse(copy, strlen(s), &error);
	ck_assert_msg(set == NULL, "\"%s\" accepted", s);
	ck_assert_int_eq(error->code, IMAP_PROTO_ERROR_SYNTAX);
}
END_TEST

START_TEST(test_seqset_ranges)
{
	g_autoptr(ImapSeqSet) set = imap_proto_seqset_parse("5,*:2", 5, NULL);
	ck_assert_uint_eq(imap_proto_seqset_n_ranges(set), 2);
	guint32 a, b;
	imap_proto_seqset_range(set, 1, &a, &b);
	ck_assert_uint_eq(a, IMAP_SEQ_STAR);
	ck_assert_uint_eq(b, 2);
}
END_TEST

/* ---- mailbox names ------------------------------------------------------ */

typedef struct {
	const char *utf8;
	const char *mutf7;
} Utf7Case;

static const Utf7Case utf7_cases[] = {
	{ "INBOX", "INBOX" },
	{ "&", "&-" },
	{ "a&b", "a&-b" },
	{ "Entw\xc3\xbc" "rfe", "Entw&APw-rfe" },
	{ "caf\xc3\xa9", "caf&AOk-" },
	{ "\xc3\xa9\xe2\x82\xac", "&AOkgrA-" },
	{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "&ZeVnLIqe-" },
	/* RFC 3501 5.1.3's own example */
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "\xf0\x9f\x98\x80", "&2D3eAA-" },      /* a surrogate pair */
	{ "\x01", "&AAE-" },
	{ "", "" },
};

START_TEST(test_mutf7_round_trip)
{
	const Utf7Case *c = &utf7_cases[_i];
	g_autofree char *enc = imap_proto_mutf7_encode(c->utf8, NULL);
	ck_assert_str_eq(enc, c->mutf7);
	g_autofree char *dec = imap_proto_mutf7_decode(c->mutf7, NULL);
	ck_assert_str_eq(dec, c->utf8);
}
END_TEST

static const char *const bad_mutf7[] = {
	"&",                /* unterminated */
	"&AOk",             /* unterminated base64 */
	"a&-x&",
	"&AOk-&AOk-",       /* two runs in a row: not canonical */
	"&AGE-",            /* hides a plain 'a' */
	"&ACY-",            /* hides '&' itself */
	"&Jjo!-",           /* bad base64 character */
	"&Jj/-",            /* '/' is ',' in modified base64 */
	"&AOk=-",           /* no padding in modified base64 */
	"&AOl-",            /* leftover bits not zero */
	"&AOkA-",           /* a whole leftover byte */
	"&AAA-",            /* NUL */
	"&2D0-",            /* a lone high surrogate */
	"&3gA-",            /* a lone low surrogate */
	"caf\xc3\xa9",      /* raw 8-bit */
	"a\tb",             /* raw control character */
};

START_TEST(test_mutf7_invalid)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dec = imap_proto_mutf7_decode(bad_mutf7[_i], &error);
	ck_assert_msg(dec == NULL, "\"%s\" decoded to \"%s\"", bad_mutf7[_i], dec);
	ck_assert_int_eq(error->code, IMAP_PROTO_ERROR_MAILBOX_NAME);
}
END_TEST

START_TEST(test_mutf7_encode_invalid_utf8)
{
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(imap_proto_mutf7_encode("\xff", &error));
	ck_assert_ptr_nonnull(error);
}
END_TEST

typedef struct {
	const char *in;
	const char *out;    /* NULL: refused */
} NameCase;

static const NameCase name_cases[] = {
	{ "INBOX", "INBOX" },
	{ "inbox", "INBOX" },
	{ "Inbox/Sub", "INBOX/Sub" },
	{ "INBOXes", "INBOXes" },
	{ "other/inbox", "other/inbox" },
	{ "Entw&APw-rfe", "Entw\xc3\xbcrfe" },
	{ "a.b/..c/d..", "a.b/..c/d.." },
	{ "", NULL },
	{ "/", NULL },
	{ "/etc", NULL },
	{ "/etc/passwd", NULL },
	{ "a//b", NULL },
	{ "a/", NULL },
	{ "..", NULL },
	{ "a/../b", NULL },
	{ "../../etc", NULL },
	{ ".", NULL },
	{ "a/./b", NULL },
	{ "&AAE-", NULL },       /* a control character, hidden in base64 */
	{ "a&AAo-b", NULL },     /* LF */
	{ "&AC8-etc", NULL },    /* '/' hidden in base64: not canonical */
	{ "&AC4ALg-", NULL },    /* ".." hidden in base64 */
	{ "&Jjo", NULL },
	{ "caf\xc3\xa9", NULL },
};

START_TEST(test_mailbox_name_table)
{
	const NameCase *c = &name_cases[_i];
	g_autoptr(GError) error = NULL;
	g_autofree char *name = imap_proto_mailbox_name_check(c->in, &error);
	if (c->out) {
		ck_assert_msg(name && strcmp(name, c->out) == 0, "\"%s\": got \"%s\" (%s)", c->in,
		              name ? name : "NULL", error ? error->message : "");
	} else {
		ck_assert_msg(name == NULL, "\"%s\" accepted as \"%s\"", c->in, name);
		ck_assert_int_eq(error->code, IMAP_PROTO_ERROR_MAILBOX_NAME);
	}
}
END_TEST

START_TEST(test_mailbox_name_length)
{
	char name[IMAP_PROTO_MAX_MAILBOX_NAME + 2];
	memset(name, 'a', sizeof(name));
	name[IMAP_PROTO_MAX_MAILBOX_NAME] = '\0';
	g_autofree char *ok = imap_proto_mailbox_name_check(name, NULL);
	ck_assert_ptr_nonnull(ok);
	name[IMAP_PROTO_MAX_MAILBOX_NAME] = 'a';
	name[IMAP_PROTO_MAX_MAILBOX_NAME + 1] = '\0';
	g_autofree char *bad = imap_proto_mailbox_name_check(name, NULL);
	ck_assert_ptr_null(bad);
	/* a huge name is refused before any decoding */
	g_autofree char *huge = g_strnfill(1 << 20, 'x');
	ck_assert_ptr_null(imap_proto_mailbox_name_check(huge, NULL));
}
END_TEST

/* ---- encoders ----------------------------------------------------------- */

#define ENCODE(expr) ({ GString *o_ = g_string_new(NULL); GString *out = o_; expr; g_string_free(o_, FALSE); })

START_TEST(test_string_encoders)
{
	g_autofree char *a = ENCODE(imap_proto_append_string(out, "abc", 3));
	ck_assert_str_eq(a, "\"abc\"");
	g_autofree char *b = ENCODE(imap_proto_append_string(out, "a\"b\\c", 5));
	ck_assert_str_eq(b, "\"a\\\"b\\\\c\"");
	g_autofree char *c = ENCODE(imap_proto_append_string(out, "a\r\nb", 4));
	ck_assert_str_eq(c, "{4}\r\na\r\nb");
	g_autofree char *d = ENCODE(imap_proto_append_string(out, "\xc3\xa9", 2));
	ck_assert_str_eq(d, "{2}\r\n\xc3\xa9");
	g_autofree char *long_str = g_strnfill(2000, 'x');
	g_autofree char *e = ENCODE(imap_proto_append_string(out, long_str, 2000));
	ck_assert(g_str_has_prefix(e, "{2000}\r\nxxx"));
	g_autofree char *f = ENCODE(imap_proto_append_nstring(out, NULL));
	ck_assert_str_eq(f, "NIL");
	g_autofree char *g = ENCODE(imap_proto_append_nstring(out, ""));
	ck_assert_str_eq(g, "\"\"");

	static const struct { const char *in, *out; } astrings[] = {
		{ "INBOX", "INBOX" }, { "a b", "\"a b\"" }, { "", "\"\"" }, { "NIL", "\"NIL\"" },
		{ "a]", "a]" }, { "a%", "\"a%\"" }, { "a*", "\"a*\"" }, { "(x)", "\"(x)\"" },
		{ "{5}", "\"{5}\"" }, { "&AOk-", "&AOk-" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(astrings); i++) {
		g_autofree char *s = ENCODE(imap_proto_append_astring(out, astrings[i].in));
		ck_assert_str_eq(s, astrings[i].out);
	}
	g_autofree char *m = ENCODE(imap_proto_append_mailbox(out, "Entw\xc3\xbcrfe"));
	ck_assert_str_eq(m, "Entw&APw-rfe");
	g_autofree char *m2 = ENCODE(imap_proto_append_mailbox(out, "Sent Items"));
	ck_assert_str_eq(m2, "\"Sent Items\"");
	g_autofree char *lit = ENCODE(imap_proto_append_literal(out, "a\0b", 3));
	ck_assert_int_eq(memcmp(lit, "{3}\r\na\0b", 8), 0);
}
END_TEST

START_TEST(test_response_encoders)
{
	const char *flags[] = { "\\Seen", "$Junk" };
	g_autofree char *fl = ENCODE(imap_proto_append_flag_list(out, flags, 2));
	ck_assert_str_eq(fl, "(\\Seen $Junk)");
	g_autofree char *fl0 = ENCODE(imap_proto_append_flag_list(out, flags, 0));
	ck_assert_str_eq(fl0, "()");
	g_autofree char *t1 = ENCODE(imap_proto_append_tagged(out, "a1", IMAP_COND_OK, NULL, "LOGIN completed"));
	ck_assert_str_eq(t1, "a1 OK LOGIN completed\r\n");
	g_autofree char *t2 = ENCODE(imap_proto_append_tagged(out, "a2", IMAP_COND_OK, "READ-WRITE", "SELECT completed"));
	ck_assert_str_eq(t2, "a2 OK [READ-WRITE] SELECT completed\r\n");
	g_autofree char *t3 = ENCODE(imap_proto_append_tagged(out, NULL, IMAP_COND_BAD, NULL, "bad\r\nA1 OK fake"));
	ck_assert_str_eq(t3, "* BAD bad  A1 OK fake\r\n");
	g_autofree char *t4 = ENCODE(imap_proto_append_tagged(out, NULL, IMAP_COND_BYE, "ALERT", NULL));
	ck_assert_str_eq(t4, "* BYE [ALERT] BYE\r\n");
	g_autofree char *u = ENCODE(imap_proto_append_untagged(out, "%u EXISTS", 3u));
	ck_assert_str_eq(u, "* 3 EXISTS\r\n");
	g_autofree char *cont = ENCODE(imap_proto_append_continuation(out, "go ahead"));
	ck_assert_str_eq(cont, "+ go ahead\r\n");
	g_autofree char *cont0 = ENCODE(imap_proto_append_continuation(out, NULL));
	ck_assert_str_eq(cont0, "+ \r\n");
	/* RFC 3501 2.3.3's example instant, both ways round */
	g_autofree char *d1 = ENCODE(imap_proto_append_internaldate(out, 837596665, -420));
	ck_assert_str_eq(d1, "\"17-Jul-1996 02:44:25 -0700\"");
	g_autofree char *d2 = ENCODE(imap_proto_append_internaldate(out, 0, 90));
	ck_assert_str_eq(d2, "\"01-Jan-1970 01:30:00 +0130\"");
	g_autofree char *d3 = ENCODE(imap_proto_append_internaldate(out, G_MAXINT64, 60));
	ck_assert_str_eq(d3, "\"01-Jan-1970 00:00:00 +0000\"");
	ck_assert_str_eq(imap_cond_to_string(IMAP_COND_PREAUTH), "PREAUTH");
	ck_assert_str_eq(imap_cond_to_string(IMAP_COND_NO), "NO");
	ck_assert_str_eq(imap_proto_error_to_string(IMAP_PROTO_ERROR_MAILBOX_NAME), "MAILBOX_NAME");
	ck_assert_str_eq(imap_literal_to_string(IMAP_LITERAL_TOO_LARGE), "TOO_LARGE");
	ck_assert_str_eq(imap_section_text_to_string(IMAP_SECTION_HEADER_FIELDS_NOT), "HEADER.FIELDS.NOT");
	ck_assert_str_eq(imap_search_kind_to_string(IMAP_SEARCH_SEQSET), "SEQSET");
	ck_assert_str_eq(imap_search_kind_to_string(IMAP_SEARCH_UNKEYWORD), "UNKEYWORD");
	ck_assert_str_eq(imap_fetch_kind_to_string(IMAP_FETCH_RFC822_SIZE), "RFC822.SIZE");
	ck_assert_str_eq(imap_status_item_to_string(IMAP_STATUS_ITEM_UIDVALIDITY), "UIDVALIDITY");
	ck_assert_str_eq(imap_command_kind_to_string(IMAP_CMD_UNSELECT), "UNSELECT");
}
END_TEST

/* ---- ENVELOPE, BODYSTRUCTURE, BODY[section] ----------------------------- */

/* RFC 3501 7.4.2's example message, shortened body. */
static const char rfc_msg[] =
	"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
	"From: Terry Gray <gray@cac.washington.edu>\r\n"
	"Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
	"To: imap@cac.washington.edu\r\n"
	"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
	"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
	"\r\n"
	"Hello\r\n"
	"World\r\n";

static const char multi_msg[] =
	"From: \"Smith, John\" <john@example.org>\r\n"
	"To: undisclosed-recipients:;\r\n"
	"Subject: parts\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"caf=C3=A9\r\n"
	"--b1\r\n"
	"Content-Type: image/png; name=\"dot.png\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-ID: <dot@example.org>\r\n"
	"Content-Disposition: attachment; filename=\"dot.png\"\r\n"
	"\r\n"
	"iVBORw0K\r\n"
	"--b1\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: bob@example.com\r\n"
	"Subject: fwd\r\n"
	"\r\n"
	"inner\r\n"
	"--b1--\r\n";

START_TEST(test_envelope_simple)
{
	g_autoptr(MimePart) root = mime_parse(rfc_msg, strlen(rfc_msg));
	g_autofree char *env = ENCODE(imap_proto_append_envelope(out, rfc_msg, root));
	ck_assert_str_eq(env,
		"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((NIL NIL \"imap\" \"cac.washington.edu\")) "
		"((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) "
		"NIL NIL \"<B27397-0100000@cac.washington.edu>\")");
}
END_TEST

START_TEST(test_bodystructure_simple)
{
	g_autoptr(MimePart) root = mime_parse(rfc_msg, strlen(rfc_msg));
	g_autofree char *body = ENCODE(imap_proto_append_bodystructure(out, rfc_msg, root, FALSE));
	ck_assert_str_eq(body, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2)");
	g_autofree char *bs = ENCODE(imap_proto_append_bodystructure(out, rfc_msg, root, TRUE));
	ck_assert_str_eq(bs, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2 NIL NIL NIL NIL)");
}
END_TEST

#define INNER_ENVELOPE \
	"(NIL \"fwd\" ((NIL NIL \"bob\" \"example.com\")) ((NIL NIL \"bob\" \"example.com\")) " \
	"((NIL NIL \"bob\" \"example.com\")) NIL NIL NIL NIL NIL)"

START_TEST(test_envelope_multipart)
{
	g_autoptr(MimePart) root = mime_parse(multi_msg, strlen(multi_msg));
	g_autofree char *env = ENCODE(imap_proto_append_envelope(out, multi_msg, root));
	ck_assert_str_eq(env,
		"(NIL \"parts\" ((\"Smith, John\" NIL \"john\" \"example.org\")) "
		"((\"Smith, John\" NIL \"john\" \"example.org\")) "
		"((\"Smith, John\" NIL \"john\" \"example.org\")) "
		"((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)");
	const MimePart *inner = g_ptr_array_index(((MimePart *)g_ptr_array_index(root->children, 2))->children, 0);
	g_autofree char *env2 = ENCODE(imap_proto_append_envelope(out, multi_msg, inner));
	ck_assert_str_eq(env2, INNER_ENVELOPE);
}
END_TEST

START_TEST(test_bodystructure_multipart)
{
	g_autoptr(MimePart) root = mime_parse(multi_msg, strlen(multi_msg));
	g_autofree char *bs = ENCODE(imap_proto_append_bodystructure(out, multi_msg, root, TRUE));
	ck_assert_str_eq(bs,
		"("
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 1 NIL NIL NIL NIL)"
		"(\"IMAGE\" \"PNG\" (\"NAME\" \"dot.png\") \"<dot@example.org>\" NIL \"BASE64\" 8 NIL "
		"(\"ATTACHMENT\" (\"FILENAME\" \"dot.png\")) NIL NIL)"
		"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 44 " INNER_ENVELOPE " "
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL) 4 "
		"NIL NIL NIL NIL)"
		" \"MIXED\" (\"BOUNDARY\" \"b1\") NIL NIL NIL)");
	g_autofree char *body = ENCODE(imap_proto_append_bodystructure(out, multi_msg, root, FALSE));
	ck_assert_str_eq(body,
		"("
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 1)"
		"(\"IMAGE\" \"PNG\" (\"NAME\" \"dot.png\") \"<dot@example.org>\" NIL \"BASE64\" 8)"
		"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 44 " INNER_ENVELOPE " "
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 5 1) 4)"
		" \"MIXED\")");
}
END_TEST

START_TEST(test_bodystructure_extension_fields)
{
	static const char msg[] =
		"Content-Type: text/html; charset=utf-8; format=flowed\r\n"
		"Content-ID: <x@y>\r\n"
		"Content-Description: desc\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"Content-MD5: Q2hlY2s=\r\n"
		"Content-Disposition: inline; filename=a.html; size=3\r\n"
		"Content-Language: en, de\r\n"
		"Content-Location: http://example.org/a\r\n"
		"\r\n"
		"<p>\r\n";
	g_autoptr(MimePart) root = mime_parse(msg, strlen(msg));
	g_autofree char *bs = ENCODE(imap_proto_append_bodystructure(out, msg, root, TRUE));
	ck_assert_str_eq(bs,
		"(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\" \"FORMAT\" \"flowed\") \"<x@y>\" \"desc\" "
		"\"8BIT\" 5 1 \"Q2hlY2s=\" (\"INLINE\" (\"FILENAME\" \"a.html\" \"SIZE\" \"3\")) "
		"(\"en\" \"de\") \"http://example.org/a\")");

	static const char one_lang[] =
		"Content-Type: multipart/related; boundary=r\r\nContent-Language: fr\r\n\r\n"
		"--r\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--r--\r\n";
	g_autoptr(MimePart) r2 = mime_parse(one_lang, strlen(one_lang));
	g_autofree char *bs2 = ENCODE(imap_proto_append_bodystructure(out, one_lang, r2, TRUE));
	ck_assert_str_eq(bs2,
		"((\"APPLICATION\" \"PDF\" NIL NIL NIL \"7BIT\" 4 NIL NIL NIL NIL) "
		"\"RELATED\" (\"BOUNDARY\" \"r\") NIL \"fr\" NIL)");
}
END_TEST

typedef struct {
	const char *addresses;
	const char *envelope_to;   /* what ENVELOPE shows for To: addresses */
} AddressCase;

static const AddressCase address_cases[] = {
	{ "bob@example.org", "((NIL NIL \"bob\" \"example.org\"))" },
	{ "Bob <bob@example.org>", "((\"Bob\" NIL \"bob\" \"example.org\"))" },
	{ "\"Bob \\\"B\\\" Smith\" <bob@example.org>", "((\"Bob \\\"B\\\" Smith\" NIL \"bob\" \"example.org\"))" },
	{ "John Q. Public <jqp@example.org>", "((\"John Q. Public\" NIL \"jqp\" \"example.org\"))" },
	{ "bob@example.org (Bob Smith)", "((NIL NIL \"bob\" \"example.org\"))" },
	{ "<@a.example,@b.example:bob@example.org>", "((NIL \"@a.example,@b.example\" \"bob\" \"example.org\"))" },
	{ "\"john doe\"@example.org", "((NIL NIL \"john doe\" \"example.org\"))" },
	{ "bob@[192.0.2.1]", "((NIL NIL \"bob\" \"[192.0.2.1]\"))" },
	{ "a@x, b@y", "((NIL NIL \"a\" \"x\")(NIL NIL \"b\" \"y\"))" },
	{ "team: a@x, B <b@y>;, c@z",
	  "((NIL NIL \"team\" NIL)(NIL NIL \"a\" \"x\")(\"B\" NIL \"b\" \"y\")(NIL NIL NIL NIL)(NIL NIL \"c\" \"z\"))" },
	{ "team: a@x", "((NIL NIL \"team\" NIL)(NIL NIL \"a\" \"x\")(NIL NIL NIL NIL))" },
	{ "bob", "((NIL NIL \"bob\" \"MISSING_DOMAIN\"))" },
	{ "<>", "((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))" },
	{ "bob@", "((NIL NIL \"bob\" \"MISSING_DOMAIN\"))" },
	{ "=?utf-8?q?J=C3=B6rg?= <j@example.org>", "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"example.org\"))" },
	{ "J\xc3\xb6rg <j@example.org>", "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"example.org\"))" },
	{ ",,,", "NIL" },
	{ "", "NIL" },
	{ "<<<>>>@@@;;;:::", NULL },    /* garbage: anything but a crash */
	{ "(unclosed comment", "NIL" },
	{ "\"unclosed quote", "((NIL NIL \"unclosed quote\" \"MISSING_DOMAIN\"))" },
};

START_TEST(test_envelope_addresses)
{
	const AddressCase *c = &address_cases[_i];
	g_autofree char *msg = g_strdup_printf("To: %s\r\n\r\n", c->addresses);
	g_autoptr(MimePart) root = mime_parse(msg, strlen(msg));
	g_autofree char *env = ENCODE(imap_proto_append_envelope(out, msg, root));
	/* the To member comes after date, subject, from, sender, reply-to */
	const char *to = env + strlen("(NIL NIL NIL NIL NIL ");
	if (!c->envelope_to)
		return;
	g_autofree char *want = g_strdup_printf("%s NIL NIL NIL NIL)", c->envelope_to);
	ck_assert_msg(strcmp(to, want) == 0, "%s:\n got %s\nwant %s", c->addresses, to, want);
}
END_TEST

START_TEST(test_envelope_sender_reply_to)
{
	static const char msg[] =
		"From: a@x\r\nSender: s@x\r\nReply-To:\r\nSubject:\r\n\r\n";
	g_autoptr(MimePart) root = mime_parse(msg, strlen(msg));
	g_autofree char *env = ENCODE(imap_proto_append_envelope(out, msg, root));
	/* Sender kept, an empty Reply-To becomes From; an empty Subject is "" */
	ck_assert_str_eq(env, "(NIL \"\" ((NIL NIL \"a\" \"x\")) ((NIL NIL \"s\" \"x\")) "
	                      "((NIL NIL \"a\" \"x\")) NIL NIL NIL NIL NIL)");
}
END_TEST

/* Fetch the section named in "BODY[...]" from multi_msg. */
static GBytes *fetch(const char *msg, const char *item)
{
	g_autofree char *cmdline = g_strdup_printf("a FETCH 1 %s", item);
	g_autoptr(GError) error = NULL;
	g_autoptr(ImapCommand) cmd = imap_proto_parse_command(cmdline, strlen(cmdline), NULL, &error);
	ck_assert_msg(cmd != NULL, "%s: %s", item, error ? error->message : "");
	const ImapFetchItem *it = g_ptr_array_index(cmd->fetch_items, 0);
	gsize len = strlen(msg);
	g_autoptr(MimePart) root = mime_parse(msg, len);
	return imap_proto_fetch_section(msg, len, root, &it->section, it->partial,
	                                it->partial_origin, it->partial_count);
}

typedef struct {
	const char *msg;
	const char *item;
	const char *want;   /* NULL: no such part */
} SectionCase;

static const SectionCase section_cases[] = {
	{ multi_msg, "BODY[]", multi_msg },
	{ multi_msg, "BODY[HEADER]",
	  "From: \"Smith, John\" <john@example.org>\r\nTo: undisclosed-recipients:;\r\nSubject: parts\r\n"
	  "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" },
	{ multi_msg, "BODY[1]", "caf=C3=A9" },
	{ multi_msg, "BODY[1.MIME]",
	  "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" },
	{ multi_msg, "BODY[2]", "iVBORw0K" },
	{ multi_msg, "BODY[3]", "From: bob@example.com\r\nSubject: fwd\r\n\r\ninner" },
	{ multi_msg, "BODY[3.HEADER]", "From: bob@example.com\r\nSubject: fwd\r\n\r\n" },
	{ multi_msg, "BODY[3.TEXT]", "inner" },
	{ multi_msg, "BODY[3.1]", "inner" },
	{ multi_msg, "BODY[3.MIME]", "Content-Type: message/rfc822\r\n\r\n" },
	{ multi_msg, "BODY[3.HEADER.FIELDS (subject)]", "Subject: fwd\r\n\r\n" },
	{ multi_msg, "BODY[HEADER.FIELDS (SUBJECT from)]",
	  "From: \"Smith, John\" <john@example.org>\r\nSubject: parts\r\n\r\n" },
	{ multi_msg, "BODY[HEADER.FIELDS.NOT (Content-Type To)]",
	  "From: \"Smith, John\" <john@example.org>\r\nSubject: parts\r\n\r\n" },
	{ multi_msg, "BODY[HEADER.FIELDS (X-None)]", "\r\n" },
	{ multi_msg, "BODY[1]<0.3>", "caf" },
	{ multi_msg, "BODY[1]<4.100>", "C3=A9" },
	{ multi_msg, "BODY[1]<100.5>", "" },
	{ multi_msg, "BODY[HEADER.FIELDS (Subject)]<2.5>", "bject" },
	{ multi_msg, "BODY[4]", NULL },
	{ multi_msg, "BODY[1.2]", NULL },
	{ multi_msg, "BODY[1.HEADER]", NULL },
	{ multi_msg, "BODY[3.2]", NULL },
	{ multi_msg, "BODY[3.1.1]", "inner" },
	{ rfc_msg, "BODY[1]", "Hello\r\nWorld\r\n" },
	{ rfc_msg, "BODY[TEXT]", "Hello\r\nWorld\r\n" },
	{ rfc_msg, "BODY[2]", NULL },
	{ rfc_msg, "BODY[HEADER.FIELDS (Date Cc)]",
	  "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
	  "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\r\n" },
	{ "Subject: x\r\n", "BODY[HEADER]", "Subject: x\r\n" },
	{ "Subject: x\r\n", "BODY[HEADER.FIELDS (Subject)]", "Subject: x\r\n" },
	{ "Subject: x\r\n", "BODY[TEXT]", "" },
	{ "no header\n", "BODY[HEADER]", "" },
	{ "no header\n", "BODY[TEXT]", "no header\n" },
	{ "A: 1\n\nbody", "BODY[HEADER.FIELDS.NOT (B)]", "A: 1\n\n" },
};

START_TEST(test_section_table)
{
	const SectionCase *c = &section_cases[_i];
	g_autoptr(GBytes) got = fetch(c->msg, c->item);
	if (!c->want) {
		ck_assert_msg(got == NULL, "%s: expected no part", c->item);
		return;
	}
	ck_assert_msg(got != NULL, "%s: no part", c->item);
	gsize n;
	const char *d = g_bytes_get_data(got, &n);
	/* an empty GBytes has NULL data: memcmp must not see it */
	ck_assert_msg(n == strlen(c->want) && (n == 0 || memcmp(d, c->want, n) == 0), "%s: got \"%.*s\"",
	              c->item, (int)n, d ? d : "");
}
END_TEST

static Suite *imap_proto_suite(void)
{
	Suite *s = suite_create("imap_proto");
	TCase *tc = tcase_create("commands");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_valid_table, 0, G_N_ELEMENTS(valid_cases));
	tcase_add_loop_test(tc, test_invalid_table, 0, G_N_ELEMENTS(invalid_cases));
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_nul_in_command, 5);
	MS_ADD_TEST(s, test_nesting_limit, 10);
	MS_ADD_TEST(s, test_argument_limits, 10);
	MS_ADD_TEST(s, test_append_binary_message, 5);
	MS_ADD_TEST(s, test_append_date_to_unix, 5);
	MS_ADD_TEST(s, test_fetch_item_fields, 5);

	TCase *lit = tcase_create("literals");
	tcase_add_loop_test(lit, test_literal_table, 0, G_N_ELEMENTS(literal_cases));
	tcase_add_test(lit, test_done);
	suite_add_tcase(s, lit);

	TCase *seq = tcase_create("seqsets");
	tcase_add_loop_test(seq, test_seqset_table, 0, G_N_ELEMENTS(seq_cases));
	tcase_add_loop_test(seq, test_seqset_invalid, 0, G_N_ELEMENTS(bad_seqsets));
	tcase_add_test(seq, test_seqset_ranges);
	suite_add_tcase(s, seq);

	TCase *names = tcase_create("mailbox names");
	tcase_add_loop_test(names, test_mutf7_round_trip, 0, G_N_ELEMENTS(utf7_cases));
	tcase_add_loop_test(names, test_mutf7_invalid, 0, G_N_ELEMENTS(bad_mutf7));
	tcase_add_test(names, test_mutf7_encode_invalid_utf8);
	tcase_add_loop_test(names, test_mailbox_name_table, 0, G_N_ELEMENTS(name_cases));
	tcase_add_test(names, test_mailbox_name_length);
	suite_add_tcase(s, names);

	TCase *enc = tcase_create("encoders");
	tcase_add_test(enc, test_string_encoders);
	tcase_add_test(enc, test_response_encoders);
	tcase_add_test(enc, test_envelope_simple);
	tcase_add_test(enc, test_bodystructure_simple);
	tcase_add_test(enc, test_envelope_multipart);
	tcase_add_test(enc, test_bodystructure_multipart);
	tcase_add_test(enc, test_bodystructure_extension_fields);
	tcase_add_loop_test(enc, test_envelope_addresses, 0, G_N_ELEMENTS(address_cases));
	tcase_add_test(enc, test_envelope_sender_reply_to);
	tcase_add_loop_test(enc, test_section_table, 0, G_N_ELEMENTS(section_cases));
	suite_add_tcase(s, enc);
	return s;
}

MS_TEST_MAIN(imap_proto_suite)
