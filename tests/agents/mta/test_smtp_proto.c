/* tests/agents/mta/test_smtp_proto.c - the SMTP grammar, table by table.
 *
 * Commands and paths (valid and invalid tables), relay-trick classes,
 * replies both ways, EHLO extensions, and the DATA reader fed through a
 * line splitter that behaves like ms_conn_read_line, once with the whole
 * stream and once byte by byte, including every smuggling variant.
 */
#include "tests/ms_test.h"
#include "agents/mta/smtp_proto.h"

/* ---- commands -------------------------------------------------------------- */

typedef struct {
	const char *line;
	SmtpVerb    verb;
	const char *arg;        /* expected cmd->arg, NULL for none */
	const char *address;    /* expected path->address, NULL for no path */
	guint       path_flags;
	const char *initial_response;
	gboolean    has_size;
	guint64     size;
	SmtpBody    body;
	const char *auth;
	guint       n_params;
} CommandCase;

static const CommandCase command_valid[] = {
	{ .line = "EHLO client.example.org", .verb = SMTP_VERB_EHLO, .arg = "client.example.org" },
	{ .line = "ehlo [192.0.2.1]", .verb = SMTP_VERB_EHLO, .arg = "[192.0.2.1]" },
	{ .line = "HELO x", .verb = SMTP_VERB_HELO, .arg = "x" },
	/* Kept as sent; whether it is a proper name is policy's business. */
	{ .line = "Helo MY_PC", .verb = SMTP_VERB_HELO, .arg = "MY_PC" },
	{ .line = "LHLO mda.example.org", .verb = SMTP_VERB_LHLO, .arg = "mda.example.org" },
	{ .line = "MAIL FROM:<alice@example.org>", .verb = SMTP_VERB_MAIL, .address = "alice@example.org" },
	{ .line = "mail from:<Alice@Example.ORG>", .verb = SMTP_VERB_MAIL, .address = "Alice@example.org" },
	{ .line = "MAIL FROM:<>", .verb = SMTP_VERB_MAIL, .address = "", .path_flags = SMTP_PATH_NULL },
	{ .line = "MAIL FROM: <bob@example.org>", .verb = SMTP_VERB_MAIL, .address = "bob@example.org" },
	{ .line = "MAIL  FROM:<bob@example.org>  ", .verb = SMTP_VERB_MAIL, .address = "bob@example.org" },
	{ .line = "MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME", .verb = SMTP_VERB_MAIL, .address = "a@b.example",
	  .has_size = TRUE, .size = 1000, .body = SMTP_BODY_8BITMIME, .n_params = 2 },
	{ .line = "MAIL FROM:<a@b.example> size=0  body=7bit", .verb = SMTP_VERB_MAIL, .address = "a@b.example",
	  .has_size = TRUE, .body = SMTP_BODY_7BIT, .n_params = 2 },
	{ .line = "MAIL FROM:<a@b.example> SIZE=18446744073709551615", .verb = SMTP_VERB_MAIL, .address = "a@b.example",
	  .has_size = TRUE, .size = G_MAXUINT64, .n_params = 1 },
	{ .line = "MAIL FROM:<a@b.example> AUTH=<>", .verb = SMTP_VERB_MAIL, .address = "a@b.example",
	  .auth = "<>", .n_params = 1 },
	{ .line = "MAIL FROM:<a@b.example> AUTH=e+3Dmc2@example.org", .verb = SMTP_VERB_MAIL, .address = "a@b.example",
	  .auth = "e=mc2@example.org", .n_params = 1 },
	{ .line = "MAIL FROM:<@relay.example:a@b.example>", .verb = SMTP_VERB_MAIL, .address = "a@b.example",
	  .path_flags = SMTP_PATH_SOURCE_ROUTE },
	{ .line = "RCPT TO:<bob@example.org>", .verb = SMTP_VERB_RCPT, .address = "bob@example.org" },
	{ .line = "rcpt to:<Postmaster>", .verb = SMTP_VERB_RCPT, .address = "Postmaster",
	  .path_flags = SMTP_PATH_POSTMASTER },
	{ .line = "RCPT TO:<postmaster@example.org>", .verb = SMTP_VERB_RCPT,
	  .address = "postmaster@example.org" },
	{ .line = "RCPT TO:<\"john doe\"@example.org>", .verb = SMTP_VERB_RCPT, .address = "\"john doe\"@example.org",
	  .path_flags = SMTP_PATH_QUOTED },
	{ .line = "RCPT TO:<bob@[192.0.2.1]>", .verb = SMTP_VERB_RCPT, .address = "bob@[192.0.2.1]",
	  .path_flags = SMTP_PATH_ADDRESS_LITERAL },
	{ .line = "RCPT TO:<bob@[IPv6:2001:db8::1]>", .verb = SMTP_VERB_RCPT, .address = "bob@[IPv6:2001:db8::1]",
	  .path_flags = SMTP_PATH_ADDRESS_LITERAL },
	{ .line = "RCPT TO:<bob@example.org.>", .verb = SMTP_VERB_RCPT, .address = "bob@example.org.",
	  .path_flags = SMTP_PATH_TRAILING_DOT },
	{ .line = "DATA", .verb = SMTP_VERB_DATA },
	{ .line = "data", .verb = SMTP_VERB_DATA },
	{ .line = "RSET", .verb = SMTP_VERB_RSET },
	{ .line = "NOOP", .verb = SMTP_VERB_NOOP },
	{ .line = "NOOP hello there", .verb = SMTP_VERB_NOOP, .arg = "hello there" },
	{ .line = "QUIT", .verb = SMTP_VERB_QUIT },
	{ .line = "QUIT   ", .verb = SMTP_VERB_QUIT },
	{ .line = "VRFY bob", .verb = SMTP_VERB_VRFY, .arg = "bob" },
	{ .line = "EXPN staff", .verb = SMTP_VERB_EXPN, .arg = "staff" },
	{ .line = "HELP", .verb = SMTP_VERB_HELP },
	{ .line = "HELP MAIL", .verb = SMTP_VERB_HELP, .arg = "MAIL" },
	{ .line = "AUTH PLAIN", .verb = SMTP_VERB_AUTH, .arg = "PLAIN" },
	{ .line = "auth plain AGJvYgBzZWNyZXQ=", .verb = SMTP_VERB_AUTH, .arg = "PLAIN",
	  .initial_response = "AGJvYgBzZWNyZXQ=" },
	{ .line = "AUTH LOGIN =", .verb = SMTP_VERB_AUTH, .arg = "LOGIN", .initial_response = "=" },
	{ .line = "AUTH SCRAM-SHA-256", .verb = SMTP_VERB_AUTH, .arg = "SCRAM-SHA-256" },
	{ .line = "STARTTLS", .verb = SMTP_VERB_STARTTLS },
	{ .line = "StartTLS", .verb = SMTP_VERB_STARTTLS },
};

static void check_command(const CommandCase *tc, const SmtpCommand *cmd)
{
	ck_assert_msg(cmd->verb == tc->verb, "%s: verb %s", tc->line, smtp_proto_verb_to_string(cmd->verb));
	if (tc->arg)
		ck_assert_str_eq(cmd->arg, tc->arg);
	else
		ck_assert_msg(cmd->arg == NULL, "%s: unexpected arg '%s'", tc->line, cmd->arg);
	if (tc->address) {
		ck_assert_ptr_nonnull(cmd->path);
		ck_assert_str_eq(cmd->path->address, tc->address);
		ck_assert_uint_eq(cmd->path->flags, tc->path_flags);
	} else {
		ck_assert_ptr_null(cmd->path);
	}
	if (tc->initial_response)
		ck_assert_str_eq(cmd->initial_response, tc->initial_response);
	else
		ck_assert_ptr_null(cmd->initial_response);
	ck_assert_int_eq(cmd->has_size, tc->has_size);
	ck_assert_uint_eq(cmd->size, tc->size);
	ck_assert_int_eq(cmd->body, tc->body);
	if (tc->auth)
		ck_assert_str_eq(cmd->auth, tc->auth);
	else
		ck_assert_ptr_null(cmd->auth);
	ck_assert_ptr_nonnull(cmd->params);
	ck_assert_uint_eq(cmd->params->len, tc->n_params);
}

START_TEST(test_command_valid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(command_valid); i++) {
		const CommandCase *tc = &command_valid[i];
		g_autoptr(GError) error = NULL;
		g_autoptr(SmtpCommand) cmd = smtp_proto_parse_command(tc->line, strlen(tc->line), NULL, &error);
		ck_assert_msg(cmd != NULL, "%s: %s", tc->line, error ? error->message : "?");
		check_command(tc, cmd);
	}
}
END_TEST

START_TEST(test_command_params_kept)
{
	const char *line = "MAIL FROM:<a@b.example> size=42 Body=8bitmime";
	g_autoptr(SmtpCommand) cmd = smtp_proto_parse_command(line, strlen(line), NULL, NULL);
	ck_assert_ptr_nonnull(cmd);
	const SmtpParam *p0 = g_ptr_array_index(cmd->params, 0);
	const SmtpParam *p1 = g_ptr_array_index(cmd->params, 1);
	ck_assert_str_eq(p0->keyword, "SIZE");
	ck_assert_str_eq(p0->value, "42");
	ck_assert_str_eq(p1->keyword, "BODY");
	ck_assert_str_eq(p1->value, "8bitmime");
}
END_TEST

typedef struct {
	const char    *line;
	SmtpProtoError error;
	guint          reply;     /* what smtp_proto_error_reply gives */
	const char    *enhanced;
} CommandErrorCase;

static const CommandErrorCase command_invalid[] = {
	{ "",                       SMTP_PROTO_ERROR_UNKNOWN_COMMAND, 500, "5.5.1" },
	{ "   ",                    SMTP_PROTO_ERROR_UNKNOWN_COMMAND, 500, "5.5.1" },
	{ "FOO",                    SMTP_PROTO_ERROR_UNKNOWN_COMMAND, 500, "5.5.1" },
	{ " MAIL FROM:<a@b.example>", SMTP_PROTO_ERROR_UNKNOWN_COMMAND, 500, "5.5.1" },
	{ "MAILFROM:<a@b.example>", SMTP_PROTO_ERROR_UNKNOWN_COMMAND, 500, "5.5.1" },
	{ "QUIT!",                  SMTP_PROTO_ERROR_UNKNOWN_COMMAND, 500, "5.5.1" },
	{ "NOOP\x01",               SMTP_PROTO_ERROR_BAD_CHARACTER,   500, "5.5.2" },
	{ "NOOP\tx",                SMTP_PROTO_ERROR_BAD_CHARACTER,   500, "5.5.2" },
	{ "EHLO caf\xc3\xa9",       SMTP_PROTO_ERROR_BAD_CHARACTER,   500, "5.5.2" },
	{ "EHLO",                   SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "EHLO a b",               SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "DATA now",               SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "QUIT x",                 SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "RSET x",                 SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "STARTTLS x",             SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "VRFY",                   SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "EXPN",                   SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "MAIL",                   SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "MAIL TO:<a@b.example>",  SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "RCPT FROM:<a@b.example>", SMTP_PROTO_ERROR_SYNTAX,         501, "5.5.4" },
	{ "MAIL FROM:<a@b.example>x", SMTP_PROTO_ERROR_SYNTAX,        501, "5.5.4" },
	{ "AUTH",                   SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "AUTH PL@IN",             SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "AUTH THISMECHANISMISTOOLONG", SMTP_PROTO_ERROR_SYNTAX,     501, "5.5.4" },
	{ "AUTH PLAIN a b",         SMTP_PROTO_ERROR_SYNTAX,          501, "5.5.4" },
	{ "MAIL FROM:a@b.example",  SMTP_PROTO_ERROR_BAD_SENDER,      501, "5.1.7" },
	{ "MAIL FROM:<a@b.example", SMTP_PROTO_ERROR_BAD_SENDER,      501, "5.1.7" },
	{ "MAIL FROM:",             SMTP_PROTO_ERROR_BAD_SENDER,      501, "5.1.7" },
	{ "MAIL FROM:<postmaster>", SMTP_PROTO_ERROR_BAD_SENDER,      501, "5.1.7" },
	{ "RCPT TO:<>",             SMTP_PROTO_ERROR_BAD_RECIPIENT,   501, "5.1.3" },
	{ "RCPT TO:<bob>",          SMTP_PROTO_ERROR_BAD_RECIPIENT,   501, "5.1.3" },
	{ "RCPT TO:<a..b@example.org>", SMTP_PROTO_ERROR_BAD_RECIPIENT, 501, "5.1.3" },
	{ "RCPT TO:<a@exa_mple.org>", SMTP_PROTO_ERROR_BAD_RECIPIENT, 501, "5.1.3" },
	{ "RCPT TO:<\"bob@example.org>", SMTP_PROTO_ERROR_BAD_RECIPIENT, 501, "5.1.3" },
	{ "RCPT TO:<a@b.example> NOTIFY=NEVER", SMTP_PROTO_ERROR_UNSUPPORTED_PARAMETER, 555, "5.5.4" },
	{ "MAIL FROM:<a@b.example> SMTPUTF8", SMTP_PROTO_ERROR_UNSUPPORTED_PARAMETER, 555, "5.5.4" },
	{ "MAIL FROM:<a@b.example> SIZE=1 X-FOO=bar", SMTP_PROTO_ERROR_UNSUPPORTED_PARAMETER, 555, "5.5.4" },
	{ "MAIL FROM:<a@b.example> SIZE=abc", SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> SIZE=-1", SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> SIZE=",  SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> SIZE",   SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> SIZE=1 size=2", SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> SIZE=18446744073709551616", SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> SIZE=000000000000000000001", SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> BODY=BINARYMIME", SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> AUTH=+zz", SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> AUTH=a+0Ab", SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> AUTH=a+", SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> =x",     SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> -X=1",   SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
	{ "MAIL FROM:<a@b.example> A=b=c",  SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4" },
};

static void check_command_error(const char *line, gsize len, SmtpProtoError expect,
                                guint reply, const char *enhanced)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SmtpCommand) cmd = smtp_proto_parse_command(line, len, NULL, &error);
	ck_assert_msg(cmd == NULL, "'%s' was accepted", line);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(g_error_matches(error, SMTP_PROTO_ERROR, (gint)expect),
	              "'%s': got %s (%s), want %s", line, smtp_proto_error_to_string(error->code),
	              error->message, smtp_proto_error_to_string(expect));
	ck_assert(error->message[0] != '\0');
	guint code;
	const char *enh;
	smtp_proto_error_reply(error, &code, &enh);
	ck_assert_uint_eq(code, reply);
	ck_assert_str_eq(enh, enhanced);
}

START_TEST(test_command_invalid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(command_invalid); i++) {
		const CommandErrorCase *tc = &command_invalid[i];
		check_command_error(tc->line, strlen(tc->line), tc->error, tc->reply, tc->enhanced);
	}
	/* A NUL never hides the rest of a line. */
	check_command_error("NOOP\0QUIT", 9, SMTP_PROTO_ERROR_BAD_CHARACTER, 500, "5.5.2");
}
END_TEST

START_TEST(test_command_too_many_params)
{
	g_autoptr(GString) line = g_string_new("MAIL FROM:<a@b.example>");
	for (int i = 0; i < SMTP_PROTO_MAX_PARAMS; i++)
		g_string_append_printf(line, " X%d=1", i);
	/* 16 unknown parameters: well-formed, so the verdict is 555... */
	check_command_error(line->str, line->len, SMTP_PROTO_ERROR_UNSUPPORTED_PARAMETER, 555, "5.5.4");
	/* ...and one more is too many, whatever they are. */
	g_string_append(line, " SIZE=1");
	check_command_error(line->str, line->len, SMTP_PROTO_ERROR_BAD_PARAMETER, 501, "5.5.4");
}
END_TEST

START_TEST(test_command_line_limit)
{
	/* RFC 5321 4.5.3.1.4: 512 with CRLF, so 510 without. */
	g_autoptr(GString) line = g_string_new("NOOP ");
	while (line->len < SMTP_PROTO_MAX_COMMAND_LINE - 2)
		g_string_append_c(line, 'x');
	g_autoptr(SmtpCommand) ok = smtp_proto_parse_command(line->str, line->len, NULL, NULL);
	ck_assert_ptr_nonnull(ok);
	g_string_append_c(line, 'x');
	check_command_error(line->str, line->len, SMTP_PROTO_ERROR_LINE_TOO_LONG, 500, "5.5.2");

	/* A smaller setting is honoured. */
	SmtpLimits limits;
	smtp_proto_limits_init(&limits);
	limits.command_line = 8;
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(smtp_proto_parse_command("NOOP xx", 7, &limits, &error));
	ck_assert(g_error_matches(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_LINE_TOO_LONG));
	g_autoptr(SmtpCommand) quit = smtp_proto_parse_command("QUIT", 4, &limits, NULL);
	ck_assert_ptr_nonnull(quit);
}
END_TEST

/* ---- paths ------------------------------------------------------------------- */

typedef struct {
	const char  *input;
	SmtpPathKind kind;
	const char  *address;
	const char  *local;
	const char  *unquoted;
	const char  *domain;
	const char  *route;
	guint        flags;
} PathCase;

static const PathCase path_valid[] = {
	{ .input = "<alice@example.org>", .kind = SMTP_PATH_FORWARD,
	  .address = "alice@example.org", .local = "alice", .unquoted = "alice", .domain = "example.org" },
	{ .input = "<Alice.Smith@Mail.Example.ORG>", .kind = SMTP_PATH_REVERSE,
	  .address = "Alice.Smith@mail.example.org", .local = "Alice.Smith", .unquoted = "Alice.Smith", .domain = "mail.example.org" },
	{ .input = "<>", .kind = SMTP_PATH_REVERSE,
	  .address = "", .local = "", .unquoted = "", .flags = SMTP_PATH_NULL },
	{ .input = "<postmaster>", .kind = SMTP_PATH_FORWARD,
	  .address = "postmaster", .local = "postmaster", .unquoted = "postmaster", .flags = SMTP_PATH_POSTMASTER },
	{ .input = "<PostMaster>", .kind = SMTP_PATH_FORWARD,
	  .address = "PostMaster", .local = "PostMaster", .unquoted = "PostMaster", .flags = SMTP_PATH_POSTMASTER },
	{ .input = "<\"john doe\"@example.org>", .kind = SMTP_PATH_FORWARD,
	  .address = "\"john doe\"@example.org", .local = "\"john doe\"", .unquoted = "john doe", .domain = "example.org", .flags = SMTP_PATH_QUOTED },
	{ .input = "<\"a\\\"b\\\\c\"@example.org>", .kind = SMTP_PATH_FORWARD,
	  .address = "\"a\\\"b\\\\c\"@example.org", .local = "\"a\\\"b\\\\c\"", .unquoted = "a\"b\\c", .domain = "example.org", .flags = SMTP_PATH_QUOTED },
	{ .input = "<\"\"@example.org>", .kind = SMTP_PATH_FORWARD,
	  .address = "\"\"@example.org", .local = "\"\"", .unquoted = "", .domain = "example.org", .flags = SMTP_PATH_QUOTED },
	{ .input = "<@A.example,@b.example:user@c.example>", .kind = SMTP_PATH_FORWARD,
	  .address = "user@c.example", .local = "user", .unquoted = "user", .domain = "c.example", .route = "@a.example,@b.example", .flags = SMTP_PATH_SOURCE_ROUTE },
	{ .input = "<@a.example:postmaster@c.example>", .kind = SMTP_PATH_FORWARD,
	  .address = "postmaster@c.example", .local = "postmaster", .unquoted = "postmaster", .domain = "c.example", .route = "@a.example", .flags = SMTP_PATH_SOURCE_ROUTE },
	{ .input = "<user@[192.0.2.1]>", .kind = SMTP_PATH_FORWARD,
	  .address = "user@[192.0.2.1]", .local = "user", .unquoted = "user", .domain = "[192.0.2.1]", .flags = SMTP_PATH_ADDRESS_LITERAL },
	{ .input = "<user@[ipv6:2001:DB8::1]>", .kind = SMTP_PATH_FORWARD,
	  .address = "user@[IPv6:2001:db8::1]", .local = "user", .unquoted = "user", .domain = "[IPv6:2001:db8::1]", .flags = SMTP_PATH_ADDRESS_LITERAL },
	{ .input = "<user@[IPv6:::ffff:192.0.2.1]>", .kind = SMTP_PATH_FORWARD,
	  .address = "user@[IPv6:::ffff:192.0.2.1]", .local = "user", .unquoted = "user", .domain = "[IPv6:::ffff:192.0.2.1]", .flags = SMTP_PATH_ADDRESS_LITERAL },
	{ .input = "<user@Example.org.>", .kind = SMTP_PATH_FORWARD,
	  .address = "user@example.org.", .local = "user", .unquoted = "user", .domain = "example.org.", .flags = SMTP_PATH_TRAILING_DOT },
	{ .input = "<user%other.example@here.example>", .kind = SMTP_PATH_FORWARD,
	  .address = "user%other.example@here.example", .local = "user%other.example", .unquoted = "user%other.example", .domain = "here.example" },
	{ .input = "<x@a-b.c-d.example>", .kind = SMTP_PATH_FORWARD,
	  .address = "x@a-b.c-d.example", .local = "x", .unquoted = "x", .domain = "a-b.c-d.example" },
	{ .input = "<x@localhost>", .kind = SMTP_PATH_FORWARD,
	  .address = "x@localhost", .local = "x", .unquoted = "x", .domain = "localhost" },
	{ .input = "<!#$&'*+-/=?^_`{|}~@example.org>", .kind = SMTP_PATH_FORWARD,
	  .address = "!#$&'*+-/=?^_`{|}~@example.org", .local = "!#$&'*+-/=?^_`{|}~", .unquoted = "!#$&'*+-/=?^_`{|}~", .domain = "example.org" },
};

static const struct {
	const char  *input;
	SmtpPathKind kind;
} path_invalid[] = {
	{ "<postmaster>", SMTP_PATH_REVERSE },
	{ "<>", SMTP_PATH_FORWARD },
	{ "<@a.example:postmaster>", SMTP_PATH_FORWARD },
	{ "<\"postmaster\">", SMTP_PATH_FORWARD },
	{ "alice@example.org", SMTP_PATH_FORWARD },
	{ "<alice@example.org> ", SMTP_PATH_FORWARD },
	{ "<alice@example.org", SMTP_PATH_FORWARD },
	{ "<alice@example.org>>", SMTP_PATH_FORWARD },
	{ "", SMTP_PATH_FORWARD },
	{ "<", SMTP_PATH_REVERSE },
	{ "<a", SMTP_PATH_REVERSE },
	{ "<a@", SMTP_PATH_REVERSE },
	{ "<a@>", SMTP_PATH_FORWARD },
	{ "<@example.org>", SMTP_PATH_FORWARD },
	{ "<@a.example,b.example:x@c.example>", SMTP_PATH_FORWARD },
	{ "<@a.example x@c.example>", SMTP_PATH_FORWARD },
	{ "<@[192.0.2.1]:x@c.example>", SMTP_PATH_FORWARD },  /* routes name domains only */
	{ "<.a@example.org>", SMTP_PATH_FORWARD },
	{ "<a.@example.org>", SMTP_PATH_FORWARD },
	{ "<a..b@example.org>", SMTP_PATH_FORWARD },
	{ "<a b@example.org>", SMTP_PATH_FORWARD },
	{ "<a(b)@example.org>", SMTP_PATH_FORWARD },
	{ "<a@b@example.org>", SMTP_PATH_FORWARD },
	{ "<\"a\"b@example.org>", SMTP_PATH_FORWARD },
	{ "<\"a@example.org>", SMTP_PATH_FORWARD },
	{ "<\"a\\\"@example.org>", SMTP_PATH_FORWARD },
	{ "<a@-example.org>", SMTP_PATH_FORWARD },
	{ "<a@example-.org>", SMTP_PATH_FORWARD },
	{ "<a@exa_mple.org>", SMTP_PATH_FORWARD },
	{ "<a@example..org>", SMTP_PATH_FORWARD },
	{ "<a@.example.org>", SMTP_PATH_FORWARD },
	{ "<a@.>", SMTP_PATH_FORWARD },
	{ "<a@example.org..>", SMTP_PATH_FORWARD },
	{ "<a@[300.1.1.1]>", SMTP_PATH_FORWARD },
	{ "<a@[1.2.3]>", SMTP_PATH_FORWARD },
	{ "<a@[1.2.3.4.5]>", SMTP_PATH_FORWARD },
	{ "<a@[1.2.3.0004]>", SMTP_PATH_FORWARD },
	{ "<a@[]>", SMTP_PATH_FORWARD },
	{ "<a@[IPv6:zz::1]>", SMTP_PATH_FORWARD },
	{ "<a@[IPv6:1.2.3.4]>", SMTP_PATH_FORWARD },
	{ "<a@[IPv6:fe80::1%eth0]>", SMTP_PATH_FORWARD },
	{ "<a@[tag:foo]>", SMTP_PATH_FORWARD },
	{ "<a@[1.2.3.4>", SMTP_PATH_FORWARD },
	{ "<a@[1.2.3.4]x>", SMTP_PATH_FORWARD },
};

START_TEST(test_path_valid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(path_valid); i++) {
		const PathCase *tc = &path_valid[i];
		g_autoptr(GError) error = NULL;
		g_autoptr(SmtpPath) path = smtp_proto_parse_path(tc->input, strlen(tc->input), tc->kind, &error);
		ck_assert_msg(path != NULL, "%s: %s", tc->input, error ? error->message : "?");
		ck_assert_str_eq(path->address, tc->address);
		ck_assert_str_eq(path->local, tc->local);
		ck_assert_str_eq(path->local_unquoted, tc->unquoted);
		if (tc->domain)
			ck_assert_str_eq(path->domain, tc->domain);
		else
			ck_assert_ptr_null(path->domain);
		if (tc->route)
			ck_assert_str_eq(path->route, tc->route);
		else
			ck_assert_ptr_null(path->route);
		ck_assert_msg(path->flags == tc->flags, "%s: flags %#x", tc->input, path->flags);

		g_autoptr(SmtpPath) copy = smtp_proto_path_copy(path);
		ck_assert_str_eq(copy->address, path->address);
		ck_assert_uint_eq(copy->flags, path->flags);
	}
}
END_TEST

START_TEST(test_path_invalid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(path_invalid); i++) {
		const char *in = path_invalid[i].input;
		SmtpPathKind kind = path_invalid[i].kind;
		g_autoptr(GError) error = NULL;
		g_autoptr(SmtpPath) path = smtp_proto_parse_path(in, strlen(in), kind, &error);
		ck_assert_msg(path == NULL, "'%s' accepted as %s", in, smtp_proto_path_kind_to_string(kind));
		SmtpProtoError want = kind == SMTP_PATH_REVERSE ? SMTP_PROTO_ERROR_BAD_SENDER
		                                                : SMTP_PROTO_ERROR_BAD_RECIPIENT;
		ck_assert_msg(g_error_matches(error, SMTP_PROTO_ERROR, (gint)want), "%s: %s", in,
		              error ? error->message : "no error");
	}
}
END_TEST

START_TEST(test_path_length_limits)
{
	/* RFC 1035 2.3.4: 63-octet labels, 255-octet names. */
	g_autoptr(GString) in = g_string_new("<a@");
	for (int i = 0; i < SMTP_PROTO_MAX_LABEL; i++)
		g_string_append_c(in, 'l');
	g_string_append(in, ".example>");
	g_autoptr(SmtpPath) ok = smtp_proto_parse_path(in->str, in->len, SMTP_PATH_FORWARD, NULL);
	ck_assert_ptr_nonnull(ok);
	g_string_insert_c(in, 3, 'l');
	ck_assert_ptr_null(smtp_proto_parse_path(in->str, in->len, SMTP_PATH_FORWARD, NULL));

	g_autoptr(GString) name = g_string_new(NULL);
	while (name->len + 2 <= SMTP_PROTO_MAX_DOMAIN)
		g_string_append(name, "a.");
	g_string_append_c(name, 'b');
	ck_assert_uint_eq(name->len, SMTP_PROTO_MAX_DOMAIN);
	ck_assert(smtp_proto_domain_is_valid(name->str, name->len));
	g_string_append(name, "x");
	ck_assert(!smtp_proto_domain_is_valid(name->str, name->len));
}
END_TEST

START_TEST(test_mailbox_and_domain)
{
	g_autoptr(SmtpPath) mb = smtp_proto_parse_mailbox("Bob@Example.ORG", 15, NULL);
	ck_assert_ptr_nonnull(mb);
	ck_assert_str_eq(mb->address, "Bob@example.org");
	ck_assert_ptr_null(smtp_proto_parse_mailbox("<bob@example.org>", 17, NULL));
	ck_assert_ptr_null(smtp_proto_parse_mailbox("postmaster", 10, NULL));
	ck_assert_ptr_null(smtp_proto_parse_mailbox("bob@example.org x", 17, NULL));

	static const struct { const char *s; gboolean ok; } domains[] = {
		{ "example.org", TRUE }, { "a", TRUE }, { "1.2.3.4", TRUE }, { "x-1.example", TRUE },
		{ "[192.0.2.1]", TRUE }, { "[IPv6:::1]", TRUE },
		{ "", FALSE }, { ".", FALSE }, { "example.org.", FALSE }, { "-a.example", FALSE },
		{ "a-.example", FALSE }, { "a_b.example", FALSE }, { "a..b", FALSE }, { "[1.2.3.4", FALSE },
		{ "[IPv6:]", FALSE }, { "caf\xc3\xa9.example", FALSE },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(domains); i++)
		ck_assert_msg(smtp_proto_domain_is_valid(domains[i].s, strlen(domains[i].s)) == domains[i].ok,
		              "%s", domains[i].s);
}
END_TEST

/* ---- relay tricks --------------------------------------------------------------- */

static const struct {
	const char  *input;
	SmtpPathKind kind;
	guint        tricks;
} trick_cases[] = {
	{ "<alice@example.org>", SMTP_PATH_FORWARD, 0 },
	{ "<\"john doe\"@here.example>", SMTP_PATH_FORWARD, 0 },
	{ "<>", SMTP_PATH_REVERSE, 0 },
	{ "<postmaster>", SMTP_PATH_FORWARD, 0 },
	{ "<user%other.example@here.example>", SMTP_PATH_FORWARD, SMTP_TRICK_PERCENT_HACK },
	{ "<other.example!user@here.example>", SMTP_PATH_FORWARD, SMTP_TRICK_BANG_PATH },
	{ "<@here.example:user@other.example>", SMTP_PATH_FORWARD, SMTP_TRICK_SOURCE_ROUTE },
	{ "<\"user@other.example\"@here.example>", SMTP_PATH_FORWARD, SMTP_TRICK_QUOTED_ROUTE },
	{ "<\"user%other.example\"@here.example>", SMTP_PATH_FORWARD, SMTP_TRICK_QUOTED_ROUTE },
	{ "<\"other!user\"@here.example>", SMTP_PATH_FORWARD, SMTP_TRICK_QUOTED_ROUTE },
	{ "<\"user\\@other.example\"@here.example>", SMTP_PATH_FORWARD, SMTP_TRICK_QUOTED_ROUTE },
	{ "<user@[192.0.2.1]>", SMTP_PATH_FORWARD, SMTP_TRICK_IP_LITERAL },
	{ "<user@[IPv6:2001:db8::1]>", SMTP_PATH_FORWARD, SMTP_TRICK_IP_LITERAL },
	{ "<user@here.example.>", SMTP_PATH_FORWARD, SMTP_TRICK_TRAILING_DOT },
	{ "<@a.example:x%y!z@[192.0.2.1]>", SMTP_PATH_FORWARD,
	  SMTP_TRICK_SOURCE_ROUTE | SMTP_TRICK_PERCENT_HACK | SMTP_TRICK_BANG_PATH | SMTP_TRICK_IP_LITERAL },
};

START_TEST(test_relay_tricks)
{
	for (gsize i = 0; i < G_N_ELEMENTS(trick_cases); i++) {
		const char *in = trick_cases[i].input;
		g_autoptr(GError) error = NULL;
		g_autoptr(SmtpPath) path = smtp_proto_parse_path(in, strlen(in), trick_cases[i].kind, &error);
		ck_assert_msg(path != NULL, "%s: %s", in, error ? error->message : "?");
		guint got = smtp_proto_path_relay_tricks(path);
		ck_assert_msg(got == trick_cases[i].tricks, "%s: tricks %#x, want %#x", in, got,
		              trick_cases[i].tricks);
		ck_assert_uint_eq(got & ~SMTP_TRICK_ALL, 0);
	}
}
END_TEST

/* ---- names -------------------------------------------------------------------- */

/* Every value of an enum has its own name, and only they do.  to_string
 * takes an int: each enum's function is wrapped below. */
static void check_names(const char *(*to_string)(int), int first, int last, gboolean bits)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (int v = first; v <= last; v++) {
		int value = bits ? 1 << v : v;
		const char *name = to_string(value);
		ck_assert_ptr_nonnull(name);
		ck_assert_msg(strcmp(name, "unknown") != 0, "value %d has no name", value);
		ck_assert_msg(!g_hash_table_contains(seen, name), "name %s twice", name);
		g_hash_table_add(seen, (gpointer)name);
	}
	ck_assert_str_eq(to_string(bits ? 1 << (last + 1) : last + 1), "unknown");
}

#define NAME_OF(fn, type) static const char *fn##_int(int v) { return fn((type)v); }
NAME_OF(smtp_proto_verb_to_string, SmtpVerb)
NAME_OF(smtp_proto_error_to_string, SmtpProtoError)
NAME_OF(smtp_proto_path_flag_to_string, SmtpPathFlag)
NAME_OF(smtp_proto_relay_trick_to_string, SmtpRelayTrick)
NAME_OF(smtp_proto_extension_to_string, SmtpExtension)
NAME_OF(smtp_proto_path_kind_to_string, SmtpPathKind)
NAME_OF(smtp_proto_body_to_string, SmtpBody)
NAME_OF(smtp_proto_reply_status_to_string, SmtpReplyStatus)
NAME_OF(smtp_proto_eol_to_string, SmtpEol)
NAME_OF(smtp_proto_data_status_to_string, SmtpDataStatus)
NAME_OF(smtp_proto_data_outcome_to_string, SmtpDataOutcome)
#define NAMES(fn, first, last, bits) check_names(fn##_int, (first), (last), (bits))

START_TEST(test_enum_names)
{
	NAMES(smtp_proto_verb_to_string, 0, SMTP_VERB_COUNT - 1, 0);
	NAMES(smtp_proto_error_to_string, 0, SMTP_PROTO_ERROR_BAD_REPLY, 0);
	NAMES(smtp_proto_path_flag_to_string, 0, 5, 1);
	NAMES(smtp_proto_relay_trick_to_string, 0, 5, 1);
	NAMES(smtp_proto_extension_to_string, 0, 8, 1);
	NAMES(smtp_proto_path_kind_to_string, 0, SMTP_PATH_FORWARD, 0);
	NAMES(smtp_proto_body_to_string, 0, SMTP_BODY_8BITMIME, 0);
	NAMES(smtp_proto_reply_status_to_string, 0, SMTP_REPLY_ERROR, 0);
	NAMES(smtp_proto_eol_to_string, 0, SMTP_EOL_TOO_LONG, 0);
	NAMES(smtp_proto_data_status_to_string, 0, SMTP_DATA_CLOSED, 0);
	NAMES(smtp_proto_data_outcome_to_string, 0, SMTP_DATA_OUTCOME_BARE_EOL, 0);
	ck_assert_str_eq(smtp_proto_verb_to_string(SMTP_VERB_LHLO), "LHLO");
	ck_assert_str_eq(smtp_proto_relay_trick_to_string(SMTP_TRICK_PERCENT_HACK), "percent-hack");
	ck_assert_str_eq(smtp_proto_extension_to_string(SMTP_EXT_8BITMIME), "8BITMIME");
}
END_TEST

START_TEST(test_limits_and_error_reply)
{
	SmtpLimits limits;
	smtp_proto_limits_init(&limits);
	ck_assert_uint_eq(limits.command_line, 512);
	ck_assert_uint_eq(limits.text_line, 1000);
	ck_assert_uint_eq(limits.message_size, 10 * 1024 * 1024);
	ck_assert_uint_eq(limits.recipients, 100);
	ck_assert_uint_eq(limits.errors, 10);

	guint code;
	const char *enh;
	g_autoptr(GError) local = g_error_new(G_FILE_ERROR, G_FILE_ERROR_NOSPC, "disk full");
	smtp_proto_error_reply(local, &code, &enh);
	ck_assert_uint_eq(code, 451);
	ck_assert_str_eq(enh, "4.3.0");
}
END_TEST

/* ---- reply encoder -------------------------------------------------------------- */

START_TEST(test_reply_format)
{
	static const struct {
		guint code;
		const char *enhanced, *text, *wire;
	} cases[] = {
		{ 250, "2.1.0", "Sender <a@b.example> ok", "250 2.1.0 Sender <a@b.example> ok\r\n" },
		{ 220, NULL, "mx.example.org ESMTP", "220 mx.example.org ESMTP\r\n" },
		{ 250, NULL, "mx\nPIPELINING\nSIZE 100", "250-mx\r\n250-PIPELINING\r\n250 SIZE 100\r\n" },
		{ 550, "5.1.1", "No such\nuser", "550-5.1.1 No such\r\n550 5.1.1 user\r\n" },
		{ 354, NULL, "", "354 \r\n" },
		{ 221, NULL, "tab\there", "221 tab\there\r\n" },
		/* A peer's bytes echoed back cannot end a line or change the code. */
		{ 501, "5.5.4", "bad x\r\n250 ok\x7f\xc3\xa9", "501-5.5.4 bad x?\r\n501 5.5.4 250 ok???\r\n" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *wire = smtp_proto_format_reply(cases[i].code, cases[i].enhanced, "%s", cases[i].text);
		ck_assert_str_eq(wire, cases[i].wire);
	}

	const char *lines[] = { "first", "second" };
	g_autoptr(GString) out = g_string_new("X");
	smtp_proto_encode_reply(out, 250, NULL, lines, 2);
	ck_assert_str_eq(out->str, "X250-first\r\n250 second\r\n");
	g_string_truncate(out, 0);
	smtp_proto_encode_reply(out, 221, "2.0.0", NULL, 0);
	ck_assert_str_eq(out->str, "221 2.0.0 \r\n");
}
END_TEST

START_TEST(test_reply_format_bounded)
{
	g_autofree char *big = g_strnfill(2000, 'x');
	g_autofree char *wire = smtp_proto_format_reply(550, "5.7.1", "%s", big);
	/* RFC 5321 4.5.3.1.5: 512 with CRLF. */
	ck_assert_uint_eq(strlen(wire), SMTP_PROTO_MAX_REPLY_LINE);
	ck_assert(g_str_has_suffix(wire, "x\r\n"));
	ck_assert(g_str_has_prefix(wire, "550 5.7.1 xxx"));

	/* More '\n' than lines a reply may have: the rest stays on the last line. */
	g_autoptr(GString) many = g_string_new(NULL);
	for (int i = 0; i < SMTP_PROTO_MAX_REPLY_LINES + 10; i++)
		g_string_append(many, "a\n");
	g_autofree char *w2 = smtp_proto_format_reply(250, NULL, "%s", many->str);
	g_auto(GStrv) lines = g_strsplit(w2, "\r\n", -1);
	ck_assert_uint_eq(g_strv_length(lines), SMTP_PROTO_MAX_REPLY_LINES + 1);  /* + the "" after the last */
}
END_TEST

/* ---- reply parser -------------------------------------------------------------- */

typedef struct {
	const char *lines[4];
	guint       code;
	const char *enhanced;
	const char *text;   /* lines joined by '\n' */
} ReplyCase;

static const ReplyCase reply_valid[] = {
	{ { "250 OK" }, 250, NULL, "OK" },
	{ { "250-mx.example.org", "250-PIPELINING", "250 SIZE 1000" }, 250, NULL,
	  "mx.example.org\nPIPELINING\nSIZE 1000" },
	{ { "550 5.1.1 No such user" }, 550, "5.1.1", "No such user" },
	{ { "550-5.1.1 No such", "550 5.1.1 user here" }, 550, "5.1.1", "No such\nuser here" },
	{ { "250" }, 250, NULL, "" },
	{ { "250-" , "250 " }, 250, NULL, "\n" },
	{ { "250 2.0.0" }, 250, "2.0.0", "" },
	{ { "250 2.0.0 " }, 250, "2.0.0", "" },
	{ { "452 4.5.3 Too many recipients" }, 452, "4.5.3", "Too many recipients" },
	{ { "250 5.1.1 class mismatch" }, 250, NULL, "5.1.1 class mismatch" },
	{ { "250 2.1.5x" }, 250, NULL, "2.1.5x" },
	{ { "250 2.1234.5 too many digits" }, 250, NULL, "2.1234.5 too many digits" },
	{ { "354 Start mail input; end with <CRLF>.<CRLF>" }, 354, NULL,
	  "Start mail input; end with <CRLF>.<CRLF>" },
	{ { "220 caf\xc3\xa9" }, 220, NULL, "caf\xc3\xa9" },
	{ { "220 a\x01" "b" }, 220, NULL, "a?b" },
	{ { "220 \xff" }, 220, NULL, "\xef\xbf\xbd" },
	{ { "559 top" }, 559, NULL, "top" },
};

START_TEST(test_reply_parser_valid)
{
	g_autoptr(SmtpReplyParser) parser = smtp_proto_reply_parser_new();
	/* One parser for all: each complete reply leaves it ready for the next. */
	for (gsize i = 0; i < G_N_ELEMENTS(reply_valid); i++) {
		const ReplyCase *tc = &reply_valid[i];
		g_autoptr(SmtpReply) reply = NULL;
		for (int l = 0; tc->lines[l]; l++) {
			g_autoptr(GError) error = NULL;
			SmtpReplyStatus st = smtp_proto_reply_parser_feed(parser, tc->lines[l], strlen(tc->lines[l]),
			                                                  &reply, &error);
			gboolean last = tc->lines[l + 1] == NULL;
			ck_assert_msg(st == (last ? SMTP_REPLY_COMPLETE : SMTP_REPLY_NEED_MORE), "%s: %s %s",
			              tc->lines[l], smtp_proto_reply_status_to_string(st), error ? error->message : "");
			ck_assert(last ? reply != NULL : reply == NULL);
		}
		ck_assert_uint_eq(reply->code, tc->code);
		if (tc->enhanced)
			ck_assert_str_eq(reply->enhanced, tc->enhanced);
		else
			ck_assert_msg(reply->enhanced == NULL, "%s: enhanced %s", tc->lines[0], reply->enhanced);
		g_autofree char *text = smtp_proto_reply_text(reply);
		ck_assert_str_eq(text, tc->text);
	}
}
END_TEST

typedef struct {
	const char *lines[4];
	int         fails_at;
} ReplyErrorCase;

static const ReplyErrorCase reply_invalid[] = {
	{ { "" }, 0 },
	{ { "25" }, 0 },
	{ { "abc" }, 0 },
	{ { "2x0 ok" }, 0 },
	{ { "600 no" }, 0 },
	{ { "199 no" }, 0 },
	{ { "260 no" }, 0 },
	{ { "250_ok" }, 0 },
	{ { "250\tok" }, 0 },
	{ { " 250 ok" }, 0 },
	{ { "250-a", "251 b" }, 1 },
	{ { "250-a", "550 b" }, 1 },
	{ { "250-a", "250-b", "xyz" }, 2 },
	{ { "250-a", "250+b" }, 1 },
};

START_TEST(test_reply_parser_invalid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(reply_invalid); i++) {
		const ReplyErrorCase *tc = &reply_invalid[i];
		g_autoptr(SmtpReplyParser) parser = smtp_proto_reply_parser_new();
		SmtpReplyStatus st = SMTP_REPLY_NEED_MORE;
		int l;
		g_autoptr(GError) error = NULL;
		for (l = 0; tc->lines[l] && st == SMTP_REPLY_NEED_MORE; l++) {
			SmtpReply *reply = NULL;
			st = smtp_proto_reply_parser_feed(parser, tc->lines[l], strlen(tc->lines[l]), &reply, &error);
			ck_assert_ptr_null(reply);
		}
		ck_assert_msg(st == SMTP_REPLY_ERROR, "case %zu accepted", i);
		ck_assert_int_eq(l - 1, tc->fails_at);
		ck_assert(g_error_matches(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_REPLY));

		/* After an error the parser starts afresh. */
		g_autoptr(SmtpReply) next = NULL;
		ck_assert_int_eq(smtp_proto_reply_parser_feed(parser, "221 bye", 7, &next, NULL), SMTP_REPLY_COMPLETE);
		ck_assert_uint_eq(next->code, 221);
	}
}
END_TEST

START_TEST(test_reply_parser_bounds)
{
	g_autoptr(SmtpReplyParser) parser = smtp_proto_reply_parser_new();
	g_autoptr(GString) line = g_string_new("250 ");
	while (line->len < SMTP_PROTO_MAX_REPLY_LINE - 2)
		g_string_append_c(line, 'x');
	g_autoptr(SmtpReply) ok = NULL;
	ck_assert_int_eq(smtp_proto_reply_parser_feed(parser, line->str, line->len, &ok, NULL), SMTP_REPLY_COMPLETE);
	g_string_append_c(line, 'x');
	SmtpReply *none = NULL;
	ck_assert_int_eq(smtp_proto_reply_parser_feed(parser, line->str, line->len, &none, NULL), SMTP_REPLY_ERROR);

	/* SMTP_PROTO_MAX_REPLY_LINES lines pass, one more does not. */
	for (int i = 0; i < SMTP_PROTO_MAX_REPLY_LINES - 1; i++)
		ck_assert_int_eq(smtp_proto_reply_parser_feed(parser, "250-x", 5, &none, NULL), SMTP_REPLY_NEED_MORE);
	g_autoptr(SmtpReply) full = NULL;
	ck_assert_int_eq(smtp_proto_reply_parser_feed(parser, "250 x", 5, &full, NULL), SMTP_REPLY_COMPLETE);
	ck_assert_uint_eq(full->lines->len, SMTP_PROTO_MAX_REPLY_LINES);
	for (int i = 0; i < SMTP_PROTO_MAX_REPLY_LINES; i++)
		ck_assert_int_eq(smtp_proto_reply_parser_feed(parser, "250-x", 5, &none, NULL), SMTP_REPLY_NEED_MORE);
	ck_assert_int_eq(smtp_proto_reply_parser_feed(parser, "250 x", 5, &none, NULL), SMTP_REPLY_ERROR);
	ck_assert_ptr_null(none);
}
END_TEST

/* Feed wire text (CRLF-separated lines) to a parser; the last line must
 * complete the reply. */
static SmtpReply *parse_wire(const char *wire)
{
	g_autoptr(SmtpReplyParser) parser = smtp_proto_reply_parser_new();
	g_auto(GStrv) lines = g_strsplit(wire, "\r\n", -1);
	SmtpReply *reply = NULL;
	for (int i = 0; lines[i] && lines[i][0]; i++) {
		ck_assert_ptr_null(reply);
		SmtpReplyStatus st = smtp_proto_reply_parser_feed(parser, lines[i], strlen(lines[i]), &reply, NULL);
		ck_assert_int_ne(st, SMTP_REPLY_ERROR);
	}
	ck_assert_ptr_nonnull(reply);
	return reply;
}

START_TEST(test_reply_round_trip)
{
	g_autofree char *wire = smtp_proto_format_reply(550, "5.7.1", "Relaying denied\nfor <%s>", "x@y.example");
	g_autoptr(SmtpReply) reply = parse_wire(wire);
	ck_assert_uint_eq(reply->code, 550);
	ck_assert_str_eq(reply->enhanced, "5.7.1");
	g_autofree char *text = smtp_proto_reply_text(reply);
	ck_assert_str_eq(text, "Relaying denied\nfor <x@y.example>");
}
END_TEST

/* ---- EHLO extensions -------------------------------------------------------------- */

START_TEST(test_ehlo_extensions)
{
	g_autofree char *wire = smtp_proto_format_reply(250, NULL,
		"mx.example.org Hello client.example\nPIPELINING\nSIZE 10485760\n8BITMIME\n"
		"ENHANCEDSTATUSCODES\nAUTH PLAIN login\nAUTH=LOGIN CRAM-MD5\nstarttls\nX-FOO bar baz\n"
		"smtputf8\nCHUNKING\nDSN\nbad_keyword\n-nope");
	g_autoptr(SmtpReply) reply = parse_wire(wire);
	g_autoptr(GError) error = NULL;
	g_autoptr(SmtpExtensions) ext = smtp_proto_parse_ehlo_reply(reply, &error);
	ck_assert_ptr_nonnull(ext);
	ck_assert_str_eq(ext->domain, "mx.example.org");
	ck_assert_uint_eq(ext->flags, 0x1ff);
	ck_assert_uint_eq(ext->size, 10485760);
	ck_assert_uint_eq(ext->auth_mechanisms->len, 3);
	ck_assert_str_eq(g_ptr_array_index(ext->auth_mechanisms, 0), "PLAIN");
	ck_assert_str_eq(g_ptr_array_index(ext->auth_mechanisms, 1), "LOGIN");
	ck_assert_str_eq(g_ptr_array_index(ext->auth_mechanisms, 2), "CRAM-MD5");
	ck_assert(smtp_proto_extensions_has_auth(ext, "plain"));
	ck_assert(!smtp_proto_extensions_has_auth(ext, "XOAUTH2"));
	ck_assert_uint_eq(ext->others->len, 1);
	ck_assert_str_eq(g_ptr_array_index(ext->others, 0), "X-FOO bar baz");

	/* A bare greeting: no extensions at all. */
	g_autoptr(SmtpReply) bare = parse_wire("250 mx.example.org\r\n");
	g_autoptr(SmtpExtensions) none = smtp_proto_parse_ehlo_reply(bare, NULL);
	ck_assert_uint_eq(none->flags, 0);
	ck_assert_uint_eq(none->size, 0);

	/* SIZE without a number, or with nonsense: advertised, no limit known. */
	g_autoptr(SmtpReply) sz = parse_wire("250-mx\r\n250 SIZE 99999999999999999999999\r\n");
	g_autoptr(SmtpExtensions) ext2 = smtp_proto_parse_ehlo_reply(sz, NULL);
	ck_assert_uint_eq(ext2->flags, SMTP_EXT_SIZE);
	ck_assert_uint_eq(ext2->size, 0);

	g_autoptr(SmtpReply) refused = parse_wire("502 5.5.1 EHLO not supported\r\n");
	g_autoptr(GError) e2 = NULL;
	ck_assert_ptr_null(smtp_proto_parse_ehlo_reply(refused, &e2));
	ck_assert(g_error_matches(e2, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_REPLY));
}
END_TEST

/* ---- DATA -------------------------------------------------------------------------- */

/* Splits bytes into lines the way ms_conn_read_line does (net/conn.h): CRLF,
 * bare LF and bare CR end a line; a line longer than max comes back cut to
 * max with TOO_LONG and the rest up to its ending dropped; EOF mid-line gives
 * the bytes with EOF.  Incremental, so a CR at the end of one chunk and an LF
 * at the start of the next are still one CRLF. */
typedef struct {
	GString        *line;
	gsize           max;
	gboolean        pending_cr;   /* a CR seen, its meaning waits for the next byte */
	gboolean        discarding;   /* after TOO_LONG, until the line's ending */
	gsize           consumed;     /* bytes that belong to emitted lines */
	SmtpDataReader *reader;
	SmtpDataStatus  status;
} Splitter;

static void splitter_emit(Splitter *sp, SmtpEol eol)
{
	if (sp->status == SMTP_DATA_CONTINUE)
		sp->status = smtp_proto_data_reader_feed(sp->reader, sp->line->str, sp->line->len, eol);
	g_string_truncate(sp->line, 0);
}

/* Push bytes until the reader says END/CLOSED. */
static void splitter_push(Splitter *sp, const char *data, gsize len)
{
	for (gsize i = 0; i < len && sp->status == SMTP_DATA_CONTINUE; i++) {
		char ch = data[i];
		if (sp->pending_cr) {
			sp->pending_cr = FALSE;
			if (ch == '\n') {
				sp->consumed++;
				if (sp->discarding)
					sp->discarding = FALSE;
				else
					splitter_emit(sp, SMTP_EOL_CRLF);
				continue;
			}
			if (sp->discarding)
				sp->discarding = FALSE;
			else
				splitter_emit(sp, SMTP_EOL_CR);
			if (sp->status != SMTP_DATA_CONTINUE)
				return;
		}
		sp->consumed++;
		if (ch == '\r') {
			sp->pending_cr = TRUE;
		} else if (ch == '\n') {
			if (sp->discarding)
				sp->discarding = FALSE;
			else
				splitter_emit(sp, SMTP_EOL_LF);
		} else if (!sp->discarding) {
			if (sp->line->len == sp->max) {
				splitter_emit(sp, SMTP_EOL_TOO_LONG);
				sp->discarding = TRUE;
			} else {
				g_string_append_c(sp->line, ch);
			}
		}
	}
}

static void splitter_eof(Splitter *sp)
{
	if (sp->pending_cr) {
		sp->pending_cr = FALSE;
		if (!sp->discarding)
			splitter_emit(sp, SMTP_EOL_CR);
	}
	splitter_emit(sp, SMTP_EOL_EOF);
}

#define SPLITTER_MAX 4096

typedef struct {
	const char     *name;
	const char     *input;
	SmtpDataStatus  status;
	SmtpDataOutcome outcome;
	const char     *body;   /* checked when the outcome is OK */
	const char     *rest;   /* bytes after the end: the next commands */
} DataCase;

#define SMUGGLED "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nFrom: ceo\r\n"

static const DataCase data_cases[] = {
	{ "simple", "Subject: hi\r\n\r\nHello\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_OK,
	  "Subject: hi\r\n\r\nHello\r\n", "" },
	{ "empty message", ".\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_OK, "", "" },
	{ "empty lines", "\r\n\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_OK, "\r\n\r\n", "" },
	{ "pipelined commands after", "a\r\n.\r\nQUIT\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_OK,
	  "a\r\n", "QUIT\r\n" },
	{ "dot-unstuffing", "..hidden\r\n...\r\n..\r\n.x\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_OK,
	  ".hidden\r\n..\r\n.\r\nx\r\n", "" },
	{ "dots not at the start", "a.b\r\n .\r\n.. \r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_OK,
	  "a.b\r\n .\r\n. \r\n", "" },
	{ "dot with a blank is text", ". \r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_OK, " \r\n", "" },
	{ "8-bit kept", "caf\xc3\xa9\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_OK,
	  "caf\xc3\xa9\r\n", "" },

	/* Smuggling: none of these is the end; the real end is still found. */
	{ "LF . CRLF", "hello\n.\r\n" SMUGGLED "\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "CR . CRLF", "hello\r.\r\n" SMUGGLED "\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "CRLF . LF", "hello\r\n.\n" SMUGGLED "\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "CRLF . CR", "hello\r\n.\r" SMUGGLED "\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "LF . LF", "hello\n.\n" SMUGGLED "\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "CR . CR", "hello\r.\r" SMUGGLED "\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "CRLF . CR CRLF", "hello\r\n.\r\r\n" SMUGGLED "\r\n.\r\n", SMTP_DATA_END,
	  SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "LF at the start", "\n.\r\n" SMUGGLED ".\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "CR at the start", "\r.\r\n" SMUGGLED ".\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "LF . CRLF . CRLF", "x\n.\r\n.\r\nQUIT\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL,
	  "QUIT\r\n" },
	{ "bare CR mid-line", "abc\rdef\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "bare LF mid-body", "abc\ndef\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "CR LF split by a byte", "a\r \n.\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },

	/* The peer vanishes. */
	{ "no end", "abc\r\n", SMTP_DATA_CLOSED, SMTP_DATA_OUTCOME_OK, "abc\r\n", "" },
	{ "eof mid-line", "abc\r\ndef", SMTP_DATA_CLOSED, SMTP_DATA_OUTCOME_OK, "abc\r\n", "" },
	{ "eof after . CR", "abc\r\n.\r", SMTP_DATA_CLOSED, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "eof after . LF", "abc\r\n.\n", SMTP_DATA_CLOSED, SMTP_DATA_OUTCOME_BARE_EOL, NULL, "" },
	{ "nothing at all", "", SMTP_DATA_CLOSED, SMTP_DATA_OUTCOME_OK, "", "" },
};

static void run_data_case(const DataCase *tc, gsize chunk, const SmtpLimits *limits)
{
	g_autoptr(SmtpDataReader) reader = smtp_proto_data_reader_new(limits);
	Splitter sp = { g_string_new(NULL), SPLITTER_MAX, FALSE, FALSE, 0, reader, SMTP_DATA_CONTINUE };
	gsize len = strlen(tc->input);
	for (gsize off = 0; off < len && sp.status == SMTP_DATA_CONTINUE; off += chunk)
		splitter_push(&sp, tc->input + off, MIN(chunk, len - off));
	if (sp.status == SMTP_DATA_CONTINUE)
		splitter_eof(&sp);
	g_string_free(sp.line, TRUE);

	ck_assert_msg(sp.status == tc->status, "%s (chunk %zu): status %s", tc->name, chunk,
	              smtp_proto_data_status_to_string(sp.status));
	SmtpDataOutcome outcome = smtp_proto_data_reader_outcome(reader);
	ck_assert_msg(outcome == tc->outcome, "%s (chunk %zu): outcome %s", tc->name, chunk,
	              smtp_proto_data_outcome_to_string(outcome));
	const GString *body = smtp_proto_data_reader_body(reader);
	if (tc->outcome == SMTP_DATA_OUTCOME_OK) {
		ck_assert_uint_eq(body->len, strlen(tc->body));
		ck_assert_msg(memcmp(body->str, tc->body, body->len) == 0, "%s: body", tc->name);
	} else {
		ck_assert_uint_eq(body->len, 0);
	}
	if (tc->status == SMTP_DATA_END) {
		ck_assert_msg(strcmp(tc->input + sp.consumed, tc->rest) == 0, "%s (chunk %zu): rest '%s'",
		              tc->name, chunk, tc->input + sp.consumed);
		/* Once ended, more lines change nothing. */
		ck_assert_int_eq(smtp_proto_data_reader_feed(reader, "x", 1, SMTP_EOL_CRLF), SMTP_DATA_END);
		ck_assert_uint_eq(smtp_proto_data_reader_body(reader)->len, body->len);
	}
}

START_TEST(test_data_reader_whole)
{
	for (gsize i = 0; i < G_N_ELEMENTS(data_cases); i++)
		run_data_case(&data_cases[i], G_MAXSIZE / 2, NULL);
}
END_TEST

START_TEST(test_data_reader_byte_by_byte)
{
	for (gsize i = 0; i < G_N_ELEMENTS(data_cases); i++)
		run_data_case(&data_cases[i], 1, NULL);
}
END_TEST

/* Fed straight, line by line, including endings a splitter makes rarely. */
START_TEST(test_data_reader_lines)
{
	g_autoptr(SmtpDataReader) r = smtp_proto_data_reader_new(NULL);
	ck_assert_int_eq(smtp_proto_data_reader_feed(r, "a", 1, SMTP_EOL_CRLF), SMTP_DATA_CONTINUE);
	/* A line the connection cut: its ending is unknown, so "." after it is
	 * not the end... */
	ck_assert_int_eq(smtp_proto_data_reader_feed(r, "xxxx", 4, SMTP_EOL_TOO_LONG), SMTP_DATA_CONTINUE);
	ck_assert_int_eq(smtp_proto_data_reader_feed(r, ".", 1, SMTP_EOL_CRLF), SMTP_DATA_CONTINUE);
	/* ...but the next real CRLF "." CRLF is. */
	ck_assert_int_eq(smtp_proto_data_reader_feed(r, ".", 1, SMTP_EOL_CRLF), SMTP_DATA_END);
	ck_assert_int_eq(smtp_proto_data_reader_outcome(r), SMTP_DATA_OUTCOME_LINE_TOO_LONG);
	ck_assert_uint_eq(smtp_proto_data_reader_lines(r), 4);

	/* A CR or LF inside a line (a caller that split elsewhere) is bare too. */
	g_autoptr(SmtpDataReader) r2 = smtp_proto_data_reader_new(NULL);
	smtp_proto_data_reader_feed(r2, "a\nb", 3, SMTP_EOL_CRLF);
	ck_assert_int_eq(smtp_proto_data_reader_feed(r2, ".", 1, SMTP_EOL_CRLF), SMTP_DATA_END);
	ck_assert_int_eq(smtp_proto_data_reader_outcome(r2), SMTP_DATA_OUTCOME_BARE_EOL);

	/* Closed is final as well. */
	g_autoptr(SmtpDataReader) r3 = smtp_proto_data_reader_new(NULL);
	ck_assert_int_eq(smtp_proto_data_reader_feed(r3, "", 0, SMTP_EOL_EOF), SMTP_DATA_CLOSED);
	ck_assert_int_eq(smtp_proto_data_reader_feed(r3, ".", 1, SMTP_EOL_CRLF), SMTP_DATA_CLOSED);
}
END_TEST

START_TEST(test_data_reader_size_limit)
{
	SmtpLimits limits = SMTP_LIMITS_INIT;
	limits.message_size = 10;
	/* Exactly 10 octets stored: accepted. */
	DataCase fits = { "fits", "12345678\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_OK, "12345678\r\n", "" };
	run_data_case(&fits, G_MAXSIZE / 2, &limits);
	run_data_case(&fits, 1, &limits);
	/* Stuffed dots do not count: the limit is on the message. */
	DataCase stuffed = { "stuffed", "..345678\r\n.\r\n", SMTP_DATA_END, SMTP_DATA_OUTCOME_OK, ".345678\r\n", "" };
	run_data_case(&stuffed, 1, &limits);
	/* One more: refused, and the end still found. */
	DataCase big = { "big", "123456789\r\nmore\r\n.\r\nQUIT\r\n", SMTP_DATA_END,
	                 SMTP_DATA_OUTCOME_TOO_BIG, NULL, "QUIT\r\n" };
	run_data_case(&big, G_MAXSIZE / 2, &limits);
	run_data_case(&big, 1, &limits);

	g_autoptr(SmtpDataReader) r = smtp_proto_data_reader_new(&limits);
	smtp_proto_data_reader_feed(r, "123456789", 9, SMTP_EOL_CRLF);
	smtp_proto_data_reader_feed(r, "more", 4, SMTP_EOL_CRLF);
	ck_assert_int_eq(smtp_proto_data_reader_feed(r, ".", 1, SMTP_EOL_CRLF), SMTP_DATA_END);
	/* What the client sent is still counted for the log line. */
	ck_assert_uint_eq(smtp_proto_data_reader_received(r), 17);

	guint code;
	const char *enh, *text;
	smtp_proto_data_outcome_reply(SMTP_DATA_OUTCOME_TOO_BIG, &code, &enh, &text);
	ck_assert_uint_eq(code, 552);
	ck_assert_str_eq(enh, "5.3.4");
	smtp_proto_data_outcome_reply(SMTP_DATA_OUTCOME_BARE_EOL, &code, &enh, &text);
	ck_assert_uint_eq(code, 550);
	ck_assert_str_eq(enh, "5.6.0");
	smtp_proto_data_outcome_reply(SMTP_DATA_OUTCOME_LINE_TOO_LONG, &code, &enh, &text);
	ck_assert_uint_eq(code, 500);
	smtp_proto_data_outcome_reply(SMTP_DATA_OUTCOME_OK, &code, &enh, &text);
	ck_assert_uint_eq(code, 250);
}
END_TEST

START_TEST(test_data_reader_line_limit)
{
	/* RFC 5321 4.5.3.1.6: 998 octets and CRLF fit, 999 do not. */
	g_autofree char *ok_line = g_strnfill(SMTP_PROTO_MAX_TEXT_LINE - 2, 'x');
	g_autofree char *long_line = g_strnfill(SMTP_PROTO_MAX_TEXT_LINE - 1, 'x');
	g_autofree char *ok_in = g_strconcat(ok_line, "\r\n.\r\n", NULL);
	g_autofree char *ok_body = g_strconcat(ok_line, "\r\n", NULL);
	g_autofree char *long_in = g_strconcat(long_line, "\r\n.\r\n", NULL);
	/* A stuffed dot counts: the line on the wire is what is limited. */
	g_autofree char *stuffed_in = g_strconcat(".", ok_line, "\r\n.\r\n", NULL);
	/* Longer than the connection's buffer: TOO_LONG from the splitter. */
	g_autofree char *huge = g_strnfill(SPLITTER_MAX * 2, 'y');
	g_autofree char *huge_in = g_strconcat("a\r\n", huge, "\r\n.\r\n.\r\n", NULL);
	/* The first problem wins: too long, then bare LF, then too big. */
	g_autofree char *first_in = g_strconcat(long_line, "\r\nx\ny\r\n.\r\n", NULL);

	DataCase cases[] = {
		{ "998", ok_in, SMTP_DATA_END, SMTP_DATA_OUTCOME_OK, ok_body, "" },
		{ "999", long_in, SMTP_DATA_END, SMTP_DATA_OUTCOME_LINE_TOO_LONG, NULL, "" },
		{ "stuffed 999", stuffed_in, SMTP_DATA_END, SMTP_DATA_OUTCOME_LINE_TOO_LONG, NULL, "" },
		/* After a cut line the first "." is not taken as the end. */
		{ "huge", huge_in, SMTP_DATA_END, SMTP_DATA_OUTCOME_LINE_TOO_LONG, NULL, "" },
		{ "first wins", first_in, SMTP_DATA_END, SMTP_DATA_OUTCOME_LINE_TOO_LONG, NULL, "" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		run_data_case(&cases[i], G_MAXSIZE / 2, NULL);
		run_data_case(&cases[i], 1, NULL);
	}
}
END_TEST

/* ---- dot-stuffing -------------------------------------------------------------- */

static const struct {
	const char *in;
	const char *wire;
	const char *received;  /* what a DATA reader stores from wire */
} stuff_cases[] = {
	{ "", ".\r\n", "" },
	{ "a\r\n", "a\r\n.\r\n", "a\r\n" },
	{ "a", "a\r\n.\r\n", "a\r\n" },
	{ ".", "..\r\n.\r\n", ".\r\n" },
	{ ".a\r\n..b\r\n", "..a\r\n...b\r\n.\r\n", ".a\r\n..b\r\n" },
	{ "a\nb\rc\r\n", "a\r\nb\r\nc\r\n.\r\n", "a\r\nb\r\nc\r\n" },
	{ "\n.\r\n", "\r\n..\r\n.\r\n", "\r\n.\r\n" },
	{ "x\r\n.\r\nMAIL FROM:<a@b>\r\n", "x\r\n..\r\nMAIL FROM:<a@b>\r\n.\r\n", "x\r\n.\r\nMAIL FROM:<a@b>\r\n" },
	{ "a\r\r\nb", "a\r\n\r\nb\r\n.\r\n", "a\r\n\r\nb\r\n" },
	{ "a\n\n", "a\r\n\r\n.\r\n", "a\r\n\r\n" },
};

START_TEST(test_dot_stuff)
{
	for (gsize i = 0; i < G_N_ELEMENTS(stuff_cases); i++) {
		g_autoptr(GString) out = g_string_new(NULL);
		smtp_proto_dot_stuff(out, stuff_cases[i].in, strlen(stuff_cases[i].in));
		ck_assert_str_eq(out->str, stuff_cases[i].wire);

		/* What the client sends, the server reads back. */
		DataCase back = { stuff_cases[i].in, out->str, SMTP_DATA_END, SMTP_DATA_OUTCOME_OK,
		                  stuff_cases[i].received, "" };
		run_data_case(&back, G_MAXSIZE / 2, NULL);
		run_data_case(&back, 1, NULL);
	}
}
END_TEST

START_TEST(test_steal_body)
{
	g_autoptr(SmtpDataReader) r = smtp_proto_data_reader_new(NULL);
	smtp_proto_data_reader_feed(r, "hello", 5, SMTP_EOL_CRLF);
	smtp_proto_data_reader_feed(r, ".", 1, SMTP_EOL_CRLF);
	GString *body = smtp_proto_data_reader_steal_body(r);
	ck_assert_str_eq(body->str, "hello\r\n");
	ck_assert_uint_eq(smtp_proto_data_reader_body(r)->len, 0);
	g_string_free(body, TRUE);
}
END_TEST

static Suite *smtp_proto_suite(void)
{
	Suite *s = suite_create("smtp_proto");
	MS_ADD_TEST(s, test_command_valid, 10);
	MS_ADD_TEST(s, test_command_params_kept, 10);
	MS_ADD_TEST(s, test_command_invalid, 10);
	MS_ADD_TEST(s, test_command_too_many_params, 10);
	MS_ADD_TEST(s, test_command_line_limit, 10);
	MS_ADD_TEST(s, test_path_valid, 10);
	MS_ADD_TEST(s, test_path_invalid, 10);
	MS_ADD_TEST(s, test_path_length_limits, 10);
	MS_ADD_TEST(s, test_mailbox_and_domain, 10);
	MS_ADD_TEST(s, test_relay_tricks, 10);
	MS_ADD_TEST(s, test_enum_names, 10);
	MS_ADD_TEST(s, test_limits_and_error_reply, 10);
	MS_ADD_TEST(s, test_reply_format, 10);
	MS_ADD_TEST(s, test_reply_format_bounded, 10);
	MS_ADD_TEST(s, test_reply_parser_valid, 10);
	MS_ADD_TEST(s, test_reply_parser_invalid, 10);
	MS_ADD_TEST(s, test_reply_parser_bounds, 10);
	MS_ADD_TEST(s, test_reply_round_trip, 10);
	MS_ADD_TEST(s, test_ehlo_extensions, 10);
	MS_ADD_TEST(s, test_data_reader_whole, 10);
	MS_ADD_TEST(s, test_data_reader_byte_by_byte, 10);
	MS_ADD_TEST(s, test_data_reader_lines, 10);
	MS_ADD_TEST(s, test_data_reader_size_limit, 10);
	MS_ADD_TEST(s, test_data_reader_line_limit, 30);
	MS_ADD_TEST(s, test_dot_stuff, 10);
	MS_ADD_TEST(s, test_steal_body, 10);
	return s;
}

MS_TEST_MAIN(smtp_proto_suite)
