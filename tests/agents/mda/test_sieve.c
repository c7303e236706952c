/* tests/agents/mda/test_sieve.c - the Sieve subset (agents/mda/sieve.c).
 *
 * Parser: a table of valid scripts with their canonical form, a table of
 * invalid ones with the line (and column) the error must name.  Evaluator:
 * a table of scripts run against one fixed message, with the actions they
 * must produce; then :matches edge cases, vacation, limits.
 */
#include "tests/ms_test.h"
#include "agents/mda/sieve.h"

/* ---- a message to run scripts against ---------------------------------- */

typedef struct {
	const char *const *headers; /* name, value, name, value, ..., NULL */
} FixtureHeaders;

static void fixture_get_header(const SieveMessage *msg, const char *name, GPtrArray *values)
{
	const FixtureHeaders *h = msg->user_data;
	for (const char *const *p = h->headers; *p; p += 2)
		if (g_ascii_strcasecmp(p[0], name) == 0)
			g_ptr_array_add(values, g_strdup(p[1]));
}

static const char *const fixture_headers[] = {
	"From", "\"Bob Example\" <Bob@Example.ORG>",
	"To", "alice@example.com, \"Carol\" <carol@example.net> (a friend)",
	"Cc", "team: dave@example.com, erin@example.com;",
	"Subject", "[lists] Weekly News",
	"Subject", "second subject",
	"Received", "from mx.example.org by mail.example.com",
	"Received", "from client.example.org by mx.example.org",
	"Date", "Mon, 2 Jun 2025 10:00:00 +0000",
	"X-Empty", "",
	NULL,
};

static FixtureHeaders fixture = { fixture_headers };

static SieveMessage fixture_message(void)
{
	return (SieveMessage){
		.get_header = fixture_get_header,
		.envelope_from = "bob@example.org",
		.envelope_to = "alice@example.com",
		.size = 2048,
		.user_data = &fixture,
	};
}

/* "fileinto:Lists keep:INBOX(implicit)" */
static char *summarize(const GPtrArray *actions)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < actions->len; i++) {
		const SieveAction *a = actions->pdata[i];
		if (i)
			g_string_append_c(s, ' ');
		g_string_append(s, sieve_action_kind_to_string(a->kind));
		if (a->argument)
			g_string_append_printf(s, ":%s", a->argument);
		if (a->copy)
			g_string_append(s, "+copy");
		if (a->implicit)
			g_string_append(s, "(implicit)");
	}
	return g_string_free(s, FALSE);
}

static SieveScript *parse_ok(const char *text)
{
	GError *error = NULL;
	SieveScript *script = sieve_script_parse(text, strlen(text), &error);
	ck_assert_msg(script != NULL, "script %s: %s", text, error ? error->message : "?");
	return script;
}

/* Parse and run; returns the summary and sets *error on a runtime error. */
static char *run_script(const char *text, const SieveMessage *msg, GError **error)
{
	g_autoptr(SieveScript) script = parse_ok(text);
	g_autoptr(GPtrArray) actions = sieve_script_evaluate(script, msg, error);
	ck_assert_ptr_nonnull(actions);
	return summarize(actions);
}

/* ---- parser: valid ------------------------------------------------------ */

static const struct {
	const char *script;
	const char *canonical;
} valid_cases[] = {
	{ "", "" },
	{ "# only a comment\n", "" },
	{ "/* a bracket\n comment */ keep;", "keep;" },
	{ "keep;", "keep;" },
	{ "KEEP ; Discard;stop;", "keep; discard; stop;" },
	{ "require \"fileinto\";\nif header :contains \"subject\" \"[lists]\" { fileinto \"Lists\"; }",
	  "require \"fileinto\"; if header :contains \"subject\" \"[lists]\" { fileinto \"Lists\"; }" },
	{ "require [\"fileinto\", \"envelope\", \"copy\", \"reject\", \"vacation\"];",
	  "require [\"fileinto\", \"envelope\", \"copy\", \"reject\", \"vacation\"];" },
	{ "require [\"comparator-i;octet\"]; require \"comparator-i;ascii-casemap\";",
	  "require \"comparator-i;octet\"; require \"comparator-i;ascii-casemap\";" },
	{ "if true { } elsif false { keep; } else { discard; }",
	  "if true { } elsif false { keep; } else { discard; }" },
	{ "if true {} if false {}", "if true { } if false { }" },
	{ "if not not true { stop; }", "if not not true { stop; }" },
	{ "if allof (true, false) { keep; }", "if allof (true, false) { keep; }" },
	{ "if anyof(true,anyof(false,true)){keep;}", "if anyof (true, anyof (false, true)) { keep; }" },
	/* string escapes: \" and \\ stay, any other \x is x */
	{ "if header \"subject\" \"say \\\"hi\\\" \\\\ \\q\" { keep; }",
	  "if header \"subject\" \"say \\\"hi\\\" \\\\ q\" { keep; }" },
	{ "if header [\"to\", \"cc\"] [\"a\", \"b\", \"c\"] { keep; }",
	  "if header [\"to\", \"cc\"] [\"a\", \"b\", \"c\"] { keep; }" },
	{ "if header [\"subject\"] [\"x\"] { keep; }", "if header \"subject\" \"x\" { keep; }" },
	/* defaults are left out of the canonical form */
	{ "if header :is :comparator \"i;ascii-casemap\" \"a\" \"b\" {}", "if header \"a\" \"b\" { }" },
	{ "if header :comparator \"i;octet\" :matches \"a\" \"b*\" {}",
	  "if header :comparator \"i;octet\" :matches \"a\" \"b*\" { }" },
	{ "if address :all :is \"from\" \"x@y\" {}", "if address \"from\" \"x@y\" { }" },
	{ "if address :domain :contains \"from\" \"y\" {}",
	  "if address :domain :contains \"from\" \"y\" { }" },
	{ "require \"envelope\"; if envelope :localpart \"from\" \"bob\" {}",
	  "require \"envelope\"; if envelope :localpart \"from\" \"bob\" { }" },
	/* numbers and their quantifiers */
	{ "if size :over 100 {}", "if size :over 100 { }" },
	{ "if size :under 1k {}", "if size :under 1024 { }" },
	{ "if size :over 2M {}", "if size :over 2097152 { }" },
	{ "if size :over 1G {}", "if size :over 1073741824 { }" },
	{ "if exists [\"date\", \"from\"] {}", "if exists [\"date\", \"from\"] { }" },
	{ "require [\"fileinto\", \"copy\"]; fileinto :copy \"A\"; redirect :copy \"x@example.org\";",
	  "require [\"fileinto\", \"copy\"]; fileinto :copy \"A\"; redirect :copy \"x@example.org\";" },
	{ "require \"reject\"; reject \"go away\";", "require \"reject\"; reject \"go away\";" },
	/* multi-line strings: dot-unstuffing, a comment after text:, CRLF */
	{ "require \"reject\";\nreject text:\nline one\n..dot\n.\n;",
	  "require \"reject\"; reject \"line one\r\n.dot\r\n\";" },
	{ "require \"reject\";\r\nreject text: # why\r\nhi\r\n.\r\n;",
	  "require \"reject\"; reject \"hi\r\n\";" },
	{ "require \"reject\"; reject text:\n.\n;", "require \"reject\"; reject \"\";" },
	{ "require \"vacation\"; vacation :days 3 :subject \"Away\" :from \"me@example.com\" "
	  ":addresses [\"a@example.com\", \"b@example.com\"] :mime :handle \"h\" \"reason\";",
	  "require \"vacation\"; vacation :days 3 :subject \"Away\" :from \"me@example.com\" "
	  ":handle \"h\" :addresses [\"a@example.com\", \"b@example.com\"] :mime \"reason\";" },
	{ "require \"fileinto\"; fileinto \"Lists.GTK\";", "require \"fileinto\"; fileinto \"Lists.GTK\";" },
	{ "require \"fileinto\"; fileinto \"Bücher\";", "require \"fileinto\"; fileinto \"Bücher\";" },
	{ "if header \"subject\" \"caf\xc3\xa9\" {}", "if header \"subject\" \"caf\xc3\xa9\" { }" },
};

START_TEST(test_parse_valid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(valid_cases); i++) {
		g_autoptr(SieveScript) script = parse_ok(valid_cases[i].script);
		g_autofree char *dump = sieve_script_to_string(script, SIEVE_DUMP_PLAIN);
		if (valid_cases[i].canonical)
			ck_assert_msg(strcmp(dump, valid_cases[i].canonical) == 0,
			              "case %zu: got <%s> want <%s>", i, dump, valid_cases[i].canonical);
		/* the canonical form is itself a script that reads back the same */
		g_autoptr(SieveScript) again = parse_ok(dump);
		g_autofree char *dump2 = sieve_script_to_string(again, SIEVE_DUMP_PLAIN);
		ck_assert_str_eq(dump, dump2);
	}
}
END_TEST

START_TEST(test_parse_escape_value)
{
	/* "a\@b\"c@example.org" is a@b"c@example.org: not an address */
	GError *error = NULL;
	const char *text = "redirect \"a\\@b\\\"c@example.org\";";
	ck_assert_ptr_null(sieve_script_parse(text, strlen(text), &error));
	ck_assert_ptr_nonnull(strstr(error->message, "\"a@b\"c@example.org\" is not a mail address"));
	g_clear_error(&error);
}
END_TEST

START_TEST(test_parse_positions)
{
	const char *text =
		"require \"fileinto\";\n"
		"# comment\n"
		"if anyof (header :is \"x\" \"y\",\n"
		"          exists \"z\") {\n"
		"\tfileinto \"A\";\n"
		"} elsif true { stop; }\n"
		"/* multi\n line */ keep;";
	g_autoptr(SieveScript) script = parse_ok(text);
	g_autofree char *dump = sieve_script_to_string(script, SIEVE_DUMP_POSITIONS);
	ck_assert_str_eq(dump,
		"require@1:1 \"fileinto\"; if@3:1 anyof@3:4 (header@3:11 \"x\" \"y\", "
		"exists@4:11 \"z\") { fileinto@5:2 \"A\"; } elsif@6:3 true@6:9 { stop@6:16; } "
		"keep@8:10;");
}
END_TEST

START_TEST(test_parse_columns_count_characters)
{
	/* "é" is two octets but one column */
	g_autoptr(SieveScript) script = parse_ok("if header \"x\" \"\xc3\xa9\" { keep; }");
	g_autofree char *dump = sieve_script_to_string(script, SIEVE_DUMP_POSITIONS);
	ck_assert_str_eq(dump, "if@1:1 header@1:4 \"x\" \"\xc3\xa9\" { keep@1:21; }");
}
END_TEST

/* ---- parser: invalid ---------------------------------------------------- */

static const struct {
	const char *script;
	guint       line;
	guint       column;   /* 0: not checked */
	SieveError  code;
	const char *message;  /* must appear in the error */
} invalid_cases[] = {
	{ "require \"fileinto\";\nif true {\n  fileinto \"Lists\" }", 3, 19, SIEVE_ERROR_SYNTAX,
	  "expected ';' after fileinto \"Lists\"" },
	{ "keep\nkeep;", 1, 5, SIEVE_ERROR_SYNTAX, "expected ';' after keep" },
	{ "keep", 1, 5, SIEVE_ERROR_SYNTAX, "expected ';' after keep" },
	{ "if true\n keep;", 1, 8, SIEVE_ERROR_SYNTAX, "expected '{' after if true" },
	{ "if true { keep;", 1, 16, SIEVE_ERROR_SYNTAX, "expected '}' but found end of script" },
	{ "keep; }", 1, 7, SIEVE_ERROR_SYNTAX, "'}' without a '{'" },
	{ "\n\nfilein \"x\";", 3, 1, SIEVE_ERROR_UNSUPPORTED, "unknown command \"filein\"" },
	{ "if headr \"a\" \"b\" {}", 1, 4, SIEVE_ERROR_UNSUPPORTED, "unknown test \"headr\"" },
	{ "header \"a\" \"b\";", 1, 1, SIEVE_ERROR_SYNTAX, "\"header\" is a test" },
	{ "if keep {}", 1, 4, SIEVE_ERROR_SYNTAX, "\"keep\" is a command" },
	{ "if {}", 1, 4, SIEVE_ERROR_SYNTAX, "expected a test after if but found '{'" },
	{ "if (true) {}", 1, 4, SIEVE_ERROR_SYNTAX, "expected a test after if" },
	{ "if allof true {}", 1, 10, SIEVE_ERROR_SYNTAX, "expected '(' after allof" },
	{ "if anyof (true false) {}", 1, 16, SIEVE_ERROR_SYNTAX, "expected ',' or ')'" },
	{ "if anyof () {}", 1, 11, SIEVE_ERROR_SYNTAX, "expected a test but found ')'" },
	{ "elsif true {}", 1, 1, SIEVE_ERROR_SYNTAX, "elsif without an if" },
	{ "keep;\nelse {}", 2, 1, SIEVE_ERROR_SYNTAX, "else without an if" },
	{ "if true {} else {} else {}", 1, 20, SIEVE_ERROR_SYNTAX, "else without an if" },
	{ "require \"foo\";", 1, 1, SIEVE_ERROR_UNSUPPORTED, "unknown capability \"foo\"" },
	{ "require [\"fileinto\", \"imap4flags\"];", 1, 1, SIEVE_ERROR_UNSUPPORTED,
	  "unknown capability \"imap4flags\"" },
	{ "keep;\nrequire \"fileinto\";", 2, 1, SIEVE_ERROR_INVALID, "require must come before" },
	{ "if true { require \"fileinto\"; }", 1, 11, SIEVE_ERROR_INVALID, "require must come before" },
	{ "\nfileinto \"x\";", 2, 1, SIEVE_ERROR_INVALID, "fileinto needs require \"fileinto\"" },
	{ "if envelope \"from\" \"x\" {}", 1, 4, SIEVE_ERROR_INVALID, "needs require \"envelope\"" },
	{ "reject \"no\";", 1, 1, SIEVE_ERROR_INVALID, "needs require \"reject\"" },
	{ "vacation \"away\";", 1, 1, SIEVE_ERROR_INVALID, "needs require \"vacation\"" },
	{ "require \"fileinto\"; fileinto :copy \"x\";", 1, 21, SIEVE_ERROR_INVALID,
	  ":copy needs require \"copy\"" },
	{ "require \"fileinto\"; fileinto;", 1, 21, SIEVE_ERROR_SYNTAX, "fileinto: missing argument" },
	{ "require \"fileinto\"; fileinto \"a\" \"b\";", 1, 34, SIEVE_ERROR_SYNTAX,
	  "too many arguments" },
	{ "require \"fileinto\"; fileinto [\"a\", \"b\"];", 1, 30, SIEVE_ERROR_SYNTAX,
	  "unexpected string list" },
	{ "require \"fileinto\"; fileinto 5;", 1, 30, SIEVE_ERROR_SYNTAX, "unexpected number" },
	{ "require \"fileinto\"; fileinto \"a\" :copy;", 1, 34, SIEVE_ERROR_SYNTAX,
	  ":copy must come before" },
	{ "if header :is :contains \"a\" \"b\" {}", 1, 15, SIEVE_ERROR_SYNTAX,
	  "match type given twice" },
	{ "if header :over \"a\" \"b\" {}", 1, 11, SIEVE_ERROR_SYNTAX, "header does not take :over" },
	{ "if header :regex \"a\" \"b\" {}", 1, 11, SIEVE_ERROR_UNSUPPORTED, "unknown tag :regex" },
	{ "if header :comparator \"i;ascii-numeric\" \"a\" \"b\" {}", 1, 23,
	  SIEVE_ERROR_UNSUPPORTED, "comparator \"i;ascii-numeric\" is not supported" },
	{ "if header :comparator {}", 1, 11, SIEVE_ERROR_SYNTAX, "expected a string after :comparator" },
	{ "if header \"a\" {}", 1, 4, SIEVE_ERROR_SYNTAX, "header: missing argument" },
	{ "if size 100 {}", 1, 4, SIEVE_ERROR_SYNTAX, "size needs :over or :under" },
	{ "if size :over :under 1 {}", 1, 15, SIEVE_ERROR_SYNTAX, ":over/:under given twice" },
	{ "if size :over \"1\" {}", 1, 15, SIEVE_ERROR_SYNTAX, "unexpected string" },
	{ "if size :over 99999999999999999999 {}", 1, 15, SIEVE_ERROR_LIMIT, "number too large" },
	{ "if size :over 99999999999G {}", 1, 15, SIEVE_ERROR_LIMIT, "number too large" },
	{ "if address \"subject\" \"x\" {}", 1, 4, SIEVE_ERROR_INVALID,
	  "\"subject\" does not hold addresses" },
	{ "if header \"a b\" \"x\" {}", 1, 4, SIEVE_ERROR_INVALID, "is not a header field name" },
	{ "if exists \"\" {}", 1, 4, SIEVE_ERROR_INVALID, "is not a header field name" },
	{ "require \"envelope\";\nif envelope \"auth\" \"x\" {}", 2, 4, SIEVE_ERROR_UNSUPPORTED,
	  "envelope part \"auth\"" },
	{ "require \"fileinto\";\nfileinto \"../etc\";", 2, 1, SIEVE_ERROR_INVALID, "bad folder name" },
	{ "require \"fileinto\"; fileinto \"\";", 1, 21, SIEVE_ERROR_INVALID, "it is empty" },
	{ "require \"fileinto\"; fileinto \".hidden\";", 1, 21, SIEVE_ERROR_INVALID, "bad folder" },
	{ "require \"fileinto\"; fileinto \"a\tb\";", 1, 21, SIEVE_ERROR_INVALID, "control character" },
	{ "redirect \"not an address\";", 1, 1, SIEVE_ERROR_INVALID, "is not a mail address" },
	{ "redirect \"@example.org\";", 1, 1, SIEVE_ERROR_INVALID, "is not a mail address" },
	{ "redirect \"a@b..c\";", 1, 1, SIEVE_ERROR_INVALID, "is not a mail address" },
	{ "require \"vacation\"; vacation :from \"nobody\" \"x\";", 1, 21, SIEVE_ERROR_INVALID,
	  ":from \"nobody\" is not" },
	{ "require \"vacation\"; vacation :days 1 :days 2 \"x\";", 1, 38, SIEVE_ERROR_SYNTAX,
	  ":days given twice" },
	{ "require \"vacation\"; vacation :days \"x\";", 1, 30, SIEVE_ERROR_SYNTAX,
	  "expected a number after :days" },
	{ "require \"vacation\"; vacation :addresses [\"a@example.com\", \"b\"] \"x\";", 1, 21,
	  SIEVE_ERROR_INVALID, ":addresses \"b\" is not" },
	{ "require \"fileinto\"; fileinto \"ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	  "ffffffffffffffffffffffffffffffffffff\";", 1, 21, SIEVE_ERROR_INVALID, "too long" },
	{ "keep \"x\";", 1, 6, SIEVE_ERROR_SYNTAX, "too many arguments" },
	{ "if true \"x\" {}", 1, 9, SIEVE_ERROR_SYNTAX, "true: unexpected string" },
	{ "if header \"a\" \"b\"\n", 1, 18, SIEVE_ERROR_SYNTAX, "expected '{' after if header" },
	/* the lexer */
	{ "keep;\n\"open", 2, 1, SIEVE_ERROR_SYNTAX, "unterminated string" },
	{ "keep;\n\"open\\", 2, 1, SIEVE_ERROR_SYNTAX, "unterminated string" },
	{ "keep; /* open\n", 1, 7, SIEVE_ERROR_SYNTAX, "unterminated comment" },
	{ "require \"reject\";\nreject text:\nno end\n", 2, 8, SIEVE_ERROR_SYNTAX,
	  "unterminated text:" },
	{ "require \"reject\";\nreject text: junk\n.\n;", 2, 14, SIEVE_ERROR_SYNTAX,
	  "expected the end of the line after 'text:'" },
	{ "keep;\n  @", 2, 3, SIEVE_ERROR_SYNTAX, "unexpected character '@'" },
	{ "keep; \x01", 1, 7, SIEVE_ERROR_SYNTAX, "unexpected character 0x01" },
	{ "if header : \"a\" {}", 1, 11, SIEVE_ERROR_SYNTAX, "expected a tag name after ':'" },
	{ "if header [\"a\" \"b\"] \"c\" {}", 1, 16, SIEVE_ERROR_SYNTAX, "expected ',' or ']'" },
	{ "if header [] \"c\" {}", 1, 12, SIEVE_ERROR_SYNTAX, "expected a string in the list" },
	{ "if header [\"a\", 1] \"c\" {}", 1, 17, SIEVE_ERROR_SYNTAX, "expected a string in the list" },
	{ "keep;\nx\xff;", 2, 2, SIEVE_ERROR_SYNTAX, "not valid UTF-8" },
};

static void check_invalid(const char *full_text, gsize len, guint line, guint column,
                          SieveError code, const char *message)
{
	/* long generated scripts would overflow Check's message buffer */
	g_autofree char *text = g_strndup(full_text, MIN(len, 80));
	GError *error = NULL;
	SieveScript *script = sieve_script_parse(full_text, len, &error);
	ck_assert_msg(script == NULL, "parsed but should not: %s", text);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(error->domain == SIEVE_ERROR && error->code == (int)code,
	              "%s: code %s, want %s (%s)", text, sieve_error_to_string(error->code),
	              sieve_error_to_string(code), error->message);
	g_autofree char *where = column
		? g_strdup_printf("sieve: line %u, column %u: ", line, column)
		: g_strdup_printf("sieve: line %u, ", line);
	ck_assert_msg(g_str_has_prefix(error->message, where), "%s: <%s> does not start <%s>",
	              text, error->message, where);
	ck_assert_msg(strstr(error->message, message), "%s: <%s> lacks <%s>", text,
	              error->message, message);
	g_error_free(error);
}

START_TEST(test_parse_invalid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(invalid_cases); i++)
		check_invalid(invalid_cases[i].script, strlen(invalid_cases[i].script),
		              invalid_cases[i].line, invalid_cases[i].column, invalid_cases[i].code,
		              invalid_cases[i].message);
}
END_TEST

START_TEST(test_parse_exact_message)
{
	GError *error = NULL;
	const char *text = "require \"fileinto\";\nif true {\n  fileinto \"Lists\" }";
	ck_assert_ptr_null(sieve_script_parse(text, strlen(text), &error));
	ck_assert_str_eq(error->message,
	                 "sieve: line 3, column 19: expected ';' after fileinto \"Lists\"");
	g_error_free(error);
}
END_TEST

START_TEST(test_parse_nul_byte)
{
	static const char text[] = "keep;\0keep;";
	check_invalid(text, sizeof text - 1, 1, 6, SIEVE_ERROR_SYNTAX, "NUL");
}
END_TEST

/* Every prefix of every valid script either parses or fails cleanly. */
START_TEST(test_parse_prefixes)
{
	for (gsize i = 0; i < G_N_ELEMENTS(valid_cases); i++) {
		const char *text = valid_cases[i].script;
		for (gsize n = 0; n <= strlen(text); n++) {
			GError *error = NULL;
			SieveScript *script = sieve_script_parse(text, n, &error);
			ck_assert((script == NULL) == (error != NULL));
			if (error)
				ck_assert(g_str_has_prefix(error->message, "sieve: "));
			sieve_script_free(script);
			g_clear_error(&error);
		}
	}
}
END_TEST

/* ---- limits ------------------------------------------------------------- */

static char *nested_ifs(guint n)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < n; i++)
		g_string_append(s, "if true {\n");
	g_string_append(s, "keep;\n");
	for (guint i = 0; i < n; i++)
		g_string_append(s, "}\n");
	return g_string_free(s, FALSE);
}

START_TEST(test_limit_depth)
{
	g_autofree char *ok = nested_ifs(SIEVE_MAX_DEPTH);
	g_autoptr(SieveScript) script = parse_ok(ok);
	SieveMessage msg = fixture_message();
	g_autoptr(GPtrArray) actions = sieve_script_evaluate(script, &msg, NULL);
	g_autofree char *got = summarize(actions);
	ck_assert_str_eq(got, "keep:INBOX");

	g_autofree char *deep = nested_ifs(SIEVE_MAX_DEPTH + 1);
	check_invalid(deep, strlen(deep), SIEVE_MAX_DEPTH + 1, 4, SIEVE_ERROR_LIMIT, "nested too deeply");

	/* tests nest too: not not not ... true */
	GString *nots = g_string_new("if ");
	for (guint i = 0; i < SIEVE_MAX_DEPTH; i++)
		g_string_append(nots, "not ");
	g_string_append(nots, "true {}");
	check_invalid(nots->str, nots->len, 1, 0, SIEVE_ERROR_LIMIT, "nested too deeply");
	g_string_free(nots, TRUE);

	/* a deep hostile script is refused quickly, not by a stack overflow */
	GString *hostile = g_string_new("if ");
	for (guint i = 0; i < 10000; i++)
		g_string_append(hostile, "anyof(");
	check_invalid(hostile->str, hostile->len, 1, 0, SIEVE_ERROR_LIMIT, "nested too deeply");
	g_string_free(hostile, TRUE);
}
END_TEST

START_TEST(test_limit_sizes)
{
	/* script size */
	g_autofree char *big = g_strnfill(SIEVE_MAX_SCRIPT_SIZE + 1, ' ');
	GError *error = NULL;
	ck_assert_ptr_null(sieve_script_parse(big, strlen(big), &error));
	ck_assert_int_eq(error->code, SIEVE_ERROR_LIMIT);
	g_clear_error(&error);

	/* string length */
	GString *s = g_string_new("require \"reject\";\nreject \"");
	for (guint i = 0; i <= SIEVE_MAX_STRING_LEN; i++)
		g_string_append_c(s, 'x');
	g_string_append(s, "\";");
	check_invalid(s->str, s->len, 2, 8, SIEVE_ERROR_LIMIT, "string longer than");
	g_string_free(s, TRUE);

	/* strings in a list */
	s = g_string_new("if header \"a\" [");
	for (guint i = 0; i <= SIEVE_MAX_LIST_ITEMS; i++)
		g_string_append_printf(s, "%s\"k\"", i ? "," : "");
	g_string_append(s, "] {}");
	check_invalid(s->str, s->len, 1, 0, SIEVE_ERROR_LIMIT, "strings in a list");
	g_string_free(s, TRUE);

	/* tests in a list */
	s = g_string_new("if anyof(");
	for (guint i = 0; i <= SIEVE_MAX_LIST_ITEMS; i++)
		g_string_append_printf(s, "%strue", i ? "," : "");
	g_string_append(s, ") {}");
	check_invalid(s->str, s->len, 1, 0, SIEVE_ERROR_LIMIT, "tests in a list");
	g_string_free(s, TRUE);

	/* arguments */
	s = g_string_new("keep");
	for (guint i = 0; i <= SIEVE_MAX_ARGUMENTS; i++)
		g_string_append(s, " 1");
	g_string_append(s, ";");
	check_invalid(s->str, s->len, 1, 0, SIEVE_ERROR_LIMIT, "arguments");
	g_string_free(s, TRUE);

	/* identifiers */
	g_autofree char *ident = g_strnfill(SIEVE_MAX_IDENTIFIER_LEN + 1, 'k');
	g_autofree char *long_ident = g_strconcat(ident, ";", NULL);
	check_invalid(long_ident, strlen(long_ident), 1, 1, SIEVE_ERROR_LIMIT, "identifier longer");
}
END_TEST

/* ---- evaluator ---------------------------------------------------------- */

static const struct {
	const char *script;
	const char *actions;
} eval_cases[] = {
	/* implicit keep, RFC 5228 2.10.2 */
	{ "", "keep:INBOX(implicit)" },
	{ "stop; discard;", "keep:INBOX(implicit)" },
	{ "keep;", "keep:INBOX" },
	{ "keep; keep;", "keep:INBOX" },
	{ "discard;", "discard" },
	{ "discard; keep;", "discard keep:INBOX" },
	{ "require \"fileinto\"; fileinto \"A\";", "fileinto:A" },
	{ "require \"fileinto\"; fileinto \"A\"; fileinto \"A\"; fileinto \"B\";",
	  "fileinto:A fileinto:B" },
	{ "require \"fileinto\"; keep; fileinto \"INBOX\"; fileinto \"inbox\";", "keep:INBOX" },
	{ "require \"fileinto\"; fileinto \"A\"; keep;", "fileinto:A keep:INBOX" },
	{ "require [\"fileinto\", \"copy\"]; fileinto :copy \"A\";", "fileinto:A+copy keep:INBOX(implicit)" },
	{ "require [\"fileinto\", \"copy\"]; fileinto :copy \"INBOX\";", "fileinto:INBOX+copy" },
	{ "redirect \"carol@example.net\";", "redirect:carol@example.net" },
	{ "redirect \"c@example.net\"; redirect \"C@EXAMPLE.NET\";", "redirect:c@example.net" },
	{ "require \"copy\"; redirect :copy \"carol@example.net\";",
	  "redirect:carol@example.net+copy keep:INBOX(implicit)" },
	{ "require \"reject\"; reject \"no thanks\";", "reject:no thanks" },
	{ "require \"reject\"; discard; reject \"no\";", "discard reject:no" },
	{ "require \"fileinto\"; fileinto \"A\"; stop; fileinto \"B\";", "fileinto:A" },
	{ "if true { stop; } keep;", "keep:INBOX(implicit)" },
	/* if / elsif / else */
	{ "if false { discard; } elsif true { keep; } else { stop; }", "keep:INBOX" },
	{ "if false { discard; } elsif false { keep; } else { discard; }", "discard" },
	{ "if true { discard; } elsif true { keep; }", "discard" },
	{ "if false { discard; }", "keep:INBOX(implicit)" },
	/* true, false, not, allof, anyof */
	{ "if not false { discard; }", "discard" },
	{ "if allof(true, true) { discard; }", "discard" },
	{ "if allof(true, false) { discard; }", "keep:INBOX(implicit)" },
	{ "if anyof(false, true) { discard; }", "discard" },
	{ "if anyof(false, false) { discard; }", "keep:INBOX(implicit)" },
	/* header */
	{ "if header :contains \"subject\" \"[lists]\" { discard; }", "discard" },
	{ "if header :contains \"Subject\" \"WEEKLY\" { discard; }", "discard" },
	{ "if header :comparator \"i;octet\" :contains \"subject\" \"WEEKLY\" { discard; }",
	  "keep:INBOX(implicit)" },
	{ "if header :is \"subject\" \"[LISTS] weekly news\" { discard; }", "discard" },
	{ "if header :is \"subject\" \"[lists] Weekly\" { discard; }", "keep:INBOX(implicit)" },
	{ "if header :is \"subject\" \"second subject\" { discard; }", "discard" },
	{ "if header :matches \"subject\" \"*weekly*\" { discard; }", "discard" },
	{ "if header :matches \"subject\" \"weekly*\" { discard; }", "keep:INBOX(implicit)" },
	{ "if header :matches \"subject\" \"[lists] ??????*\" { discard; }", "discard" },
	{ "if header :is \"x-empty\" \"\" { discard; }", "discard" },
	{ "if header :contains \"x-missing\" \"\" { discard; }", "keep:INBOX(implicit)" },
	{ "if header :contains [\"x-missing\", \"received\"] [\"nope\", \"client\"] { discard; }",
	  "discard" },
	/* address */
	{ "if address :is \"from\" \"bob@example.org\" { discard; }", "discard" },
	{ "if address :comparator \"i;octet\" :is \"from\" \"bob@example.org\" { discard; }",
	  "keep:INBOX(implicit)" },
	{ "if address :localpart :is \"from\" \"bob\" { discard; }", "discard" },
	{ "if address :domain :is \"from\" \"example.org\" { discard; }", "discard" },
	{ "if address :domain :is \"from\" \"Example\" { discard; }", "keep:INBOX(implicit)" },
	{ "if address :is \"from\" \"Bob Example\" { discard; }", "keep:INBOX(implicit)" },
	{ "if address :is \"to\" \"carol@example.net\" { discard; }", "discard" },
	{ "if address :domain :is \"to\" \"example.net\" { discard; }", "discard" },
	{ "if address :is \"to\" \"a friend\" { discard; }", "keep:INBOX(implicit)" },
	{ "if address :is \"cc\" \"erin@example.com\" { discard; }", "discard" },
	{ "if address :is \"cc\" \"team\" { discard; }", "keep:INBOX(implicit)" },
	{ "if address :matches :domain \"to\" \"*.com\" { discard; }", "discard" },
	/* envelope */
	{ "require \"envelope\"; if envelope :is \"from\" \"bob@example.org\" { discard; }", "discard" },
	{ "require \"envelope\"; if envelope :domain \"to\" \"EXAMPLE.COM\" { discard; }", "discard" },
	{ "require \"envelope\"; if envelope :localpart \"to\" \"bob\" { discard; }",
	  "keep:INBOX(implicit)" },
	{ "require \"envelope\"; if envelope :contains [\"from\", \"to\"] \"alice\" { discard; }",
	  "discard" },
	/* size: the fixture is 2048 octets */
	{ "if size :over 2K { discard; }", "keep:INBOX(implicit)" },
	{ "if size :over 2047 { discard; }", "discard" },
	{ "if size :under 2K { discard; }", "keep:INBOX(implicit)" },
	{ "if size :under 2049 { discard; }", "discard" },
	{ "if size :under 1M { discard; }", "discard" },
	/* exists */
	{ "if exists \"date\" { discard; }", "discard" },
	{ "if exists [\"date\", \"from\", \"x-empty\"] { discard; }", "discard" },
	{ "if exists [\"date\", \"x-missing\"] { discard; }", "keep:INBOX(implicit)" },
	{ "if not exists \"message-id\" { discard; }", "discard" },
	/* the SCENARIO.md example */
	{ "require \"fileinto\";\nif header :contains \"subject\" \"[lists]\" { fileinto \"Lists\"; }",
	  "fileinto:Lists" },
};

START_TEST(test_evaluate)
{
	SieveMessage msg = fixture_message();
	for (gsize i = 0; i < G_N_ELEMENTS(eval_cases); i++) {
		GError *error = NULL;
		g_autofree char *got = run_script(eval_cases[i].script, &msg, &error);
		ck_assert_msg(error == NULL, "%s: %s", eval_cases[i].script, error->message);
		ck_assert_msg(strcmp(got, eval_cases[i].actions) == 0, "%s: got <%s> want <%s>",
		              eval_cases[i].script, got, eval_cases[i].actions);
	}
}
END_TEST

START_TEST(test_evaluate_action_lines)
{
	SieveMessage msg = fixture_message();
	g_autoptr(SieveScript) script = parse_ok("require \"fileinto\";\n\nif true {\n  fileinto \"A\";\n}\n");
	g_autoptr(GPtrArray) actions = sieve_script_evaluate(script, &msg, NULL);
	ck_assert_uint_eq(actions->len, 1);
	const SieveAction *a = actions->pdata[0];
	ck_assert_uint_eq(a->line, 4);
	ck_assert(!a->implicit);
}
END_TEST

START_TEST(test_evaluate_null_sender_and_no_headers)
{
	SieveMessage msg = { .envelope_from = "", .envelope_to = NULL, .size = 0 };
	GError *error = NULL;
	const char *script =
		"require \"envelope\";\n"
		"if allof (envelope :is \"from\" \"\", envelope :domain :is \"from\" \"\",\n"
		"          not envelope :matches \"to\" \"*\", not exists \"from\") { discard; }";
	g_autofree char *got = run_script(script, &msg, &error);
	ck_assert_ptr_null(error);
	ck_assert_str_eq(got, "discard");
}
END_TEST

static const struct {
	const char *script;
	guint       line;
	const char *message;
} runtime_error_cases[] = {
	{ "require \"reject\"; reject \"a\";\nreject \"b\";", 2, "reject cannot be combined with the reject on line 1" },
	{ "require [\"reject\", \"fileinto\"]; fileinto \"A\";\nreject \"b\";", 2,
	  "reject cannot be combined with the fileinto" },
	{ "require \"reject\"; reject \"a\";\nkeep;", 2, "keep cannot be combined with the reject" },
	{ "require [\"reject\", \"copy\"]; reject \"a\";\nredirect :copy \"x@example.org\";", 2,
	  "cannot be combined" },
	{ "require [\"reject\", \"vacation\"]; vacation \"away\";\nreject \"b\";", 2,
	  "reject cannot be combined with the vacation" },
	{ "require \"vacation\"; vacation \"a\";\nvacation \"b\";", 2,
	  "vacation cannot be combined with the vacation" },
	{ "redirect \"a@example.org\"; redirect \"b@example.org\"; redirect \"c@example.org\";\n"
	  "redirect \"d@example.org\"; redirect \"e@example.org\";", 2, "more than 4 redirects" },
};

START_TEST(test_evaluate_runtime_errors)
{
	SieveMessage msg = fixture_message();
	for (gsize i = 0; i < G_N_ELEMENTS(runtime_error_cases); i++) {
		GError *error = NULL;
		g_autofree char *got = run_script(runtime_error_cases[i].script, &msg, &error);
		/* RFC 5228 2.10.6: a failed run keeps the message */
		ck_assert_str_eq(got, "keep:INBOX(implicit)");
		ck_assert_ptr_nonnull(error);
		ck_assert_int_eq(error->code, SIEVE_ERROR_RUNTIME);
		g_autofree char *where = g_strdup_printf("sieve: line %u,", runtime_error_cases[i].line);
		ck_assert_msg(g_str_has_prefix(error->message, where), "%s", error->message);
		ck_assert_msg(strstr(error->message, runtime_error_cases[i].message), "%s",
		              error->message);
		g_error_free(error);
	}
}
END_TEST

START_TEST(test_evaluate_action_limit)
{
	GString *s = g_string_new("require \"fileinto\";\n");
	for (guint i = 0; i < SIEVE_MAX_ACTIONS; i++)
		g_string_append_printf(s, "fileinto \"F%u\";\n", i);
	SieveMessage msg = fixture_message();
	GError *error = NULL;
	g_autofree char *ok = run_script(s->str, &msg, &error);
	ck_assert_ptr_null(error);
	ck_assert(g_str_has_suffix(ok, "fileinto:F31"));

	g_string_append(s, "fileinto \"one too many\";\n");
	g_autofree char *got = run_script(s->str, &msg, &error);
	ck_assert_str_eq(got, "keep:INBOX(implicit)");
	ck_assert_ptr_nonnull(error);
	ck_assert_int_eq(error->code, SIEVE_ERROR_RUNTIME);
	ck_assert_ptr_nonnull(strstr(error->message, "more than 32 actions"));
	g_error_free(error);
	g_string_free(s, TRUE);
}
END_TEST

/* A header value 200000 octets long against keys of 8000 octets: the
 * run stops at the budget instead of comparing for minutes. */
static const char *const heavy_headers_names[] = { "Subject", NULL };

static void heavy_get_header(const SieveMessage *msg, const char *name, GPtrArray *values)
{
	if (g_ascii_strcasecmp(name, heavy_headers_names[0]) == 0)
		g_ptr_array_add(values, g_strnfill(200000, 'a'));
}

START_TEST(test_evaluate_cost_budget)
{
	GString *s = g_string_new("if header :matches \"subject\" [");
	for (guint i = 0; i < 4; i++) {
		g_string_append_printf(s, "%s\"", i ? "," : "");
		for (guint j = 0; j < 4000; j++)
			g_string_append(s, "*a");
		g_string_append(s, "b\"");
	}
	g_string_append(s, "] { discard; }");
	SieveMessage msg = { .get_header = heavy_get_header, .envelope_from = "a@b.example" };
	GError *error = NULL;
	g_autofree char *got = run_script(s->str, &msg, &error);
	ck_assert_str_eq(got, "keep:INBOX(implicit)");
	ck_assert_ptr_nonnull(error);
	ck_assert_int_eq(error->code, SIEVE_ERROR_RUNTIME);
	ck_assert_ptr_nonnull(strstr(error->message, "too much matching work"));
	g_error_free(error);
	g_string_free(s, TRUE);
}
END_TEST

/* ---- vacation ----------------------------------------------------------- */

static const SieveVacation *only_vacation(const GPtrArray *actions)
{
	for (guint i = 0; i < actions->len; i++) {
		const SieveAction *a = actions->pdata[i];
		if (a->kind == SIEVE_ACTION_VACATION)
			return a->vacation;
	}
	ck_abort_msg("no vacation action");
	return NULL;
}

START_TEST(test_vacation_fields)
{
	SieveMessage msg = fixture_message();
	g_autoptr(SieveScript) script = parse_ok(
		"require \"vacation\";\n"
		"vacation :days 3 :from \"alice@example.com\" :addresses \"al@example.com\" :mime "
		":handle \"h1\" text:\nI am away.\n.\n;");
	g_autoptr(GPtrArray) actions = sieve_script_evaluate(script, &msg, NULL);
	g_autofree char *sum = summarize(actions);
	/* vacation does not cancel the implicit keep */
	ck_assert_str_eq(sum, "vacation keep:INBOX(implicit)");
	const SieveVacation *v = only_vacation(actions);
	ck_assert_uint_eq(v->days, 3);
	ck_assert_str_eq(v->subject, "Auto: [lists] Weekly News");
	ck_assert_str_eq(v->from, "alice@example.com");
	ck_assert_uint_eq(v->addresses->len, 1);
	ck_assert_str_eq(v->addresses->pdata[0], "al@example.com");
	ck_assert(v->mime);
	ck_assert_str_eq(v->handle, "h1");
	ck_assert_str_eq(v->reason, "I am away.\r\n");
	ck_assert_str_eq(v->to, "bob@example.org");
	ck_assert_ptr_null(v->suppressed);
}
END_TEST

START_TEST(test_vacation_days)
{
	static const struct { const char *tag; guint days; } cases[] = {
		{ "", SIEVE_VACATION_DAYS_DEFAULT },
		{ ":days 0", SIEVE_VACATION_DAYS_MIN },
		{ ":days 5", 5 },
		{ ":days 1000", SIEVE_VACATION_DAYS_MAX },
		{ ":days 1G", SIEVE_VACATION_DAYS_MAX },
	};
	SieveMessage msg = fixture_message();
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *text = g_strdup_printf(
			"require \"vacation\"; vacation %s :subject \"Away\" \"x\";", cases[i].tag);
		g_autoptr(SieveScript) script = parse_ok(text);
		g_autoptr(GPtrArray) actions = sieve_script_evaluate(script, &msg, NULL);
		const SieveVacation *v = only_vacation(actions);
		ck_assert_uint_eq(v->days, cases[i].days);
		ck_assert_str_eq(v->subject, "Away");
	}
}
END_TEST

static const char *const list_headers[] = {
	"To", "alice@example.com", "List-Id", "<news.example.org>", NULL };
static const char *const auto_headers[] = {
	"To", "alice@example.com", "Auto-Submitted", "auto-replied", NULL };
static const char *const auto_no_headers[] = {
	"To", "alice@example.com", "Auto-Submitted", " no ", NULL };
static const char *const bulk_headers[] = {
	"To", "alice@example.com", "Precedence", "bulk", NULL };
static const char *const bcc_headers[] = {
	"To", "someone@example.net", "Subject", "hi", NULL };
static const char *const alias_headers[] = {
	"To", "Alice <al@example.com>", NULL };
static const char *const resent_headers[] = {
	"Resent-To", "ALICE@example.com", NULL };

START_TEST(test_vacation_suppressed)
{
	static const struct {
		const char *const *headers;
		const char *sender;
		const char *why;  /* NULL: the reply goes out */
	} cases[] = {
		{ fixture_headers, "bob@example.org", NULL },
		{ fixture_headers, "", "the sender is <>" },
		{ fixture_headers, "MAILER-DAEMON@example.org", "mail daemon" },
		{ fixture_headers, "owner-news@example.org", "list robot" },
		{ fixture_headers, "news-request@example.org", "list robot" },
		{ fixture_headers, "alice@example.com", "from yourself" },
		{ list_headers, "bob@example.org", "mailing list" },
		{ auto_headers, "bob@example.org", "Auto-Submitted" },
		{ auto_no_headers, "bob@example.org", NULL },
		{ bulk_headers, "bob@example.org", "Precedence" },
		{ bcc_headers, "bob@example.org", "none of your addresses" },
		{ alias_headers, "bob@example.org", NULL },  /* via :addresses */
		{ resent_headers, "bob@example.org", NULL },
	};
	g_autoptr(SieveScript) script = parse_ok(
		"require \"vacation\"; vacation :addresses \"al@example.com\" \"away\";");
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		FixtureHeaders h = { cases[i].headers };
		SieveMessage msg = {
			.get_header = fixture_get_header, .envelope_from = cases[i].sender,
			.envelope_to = "alice@example.com", .user_data = &h,
		};
		g_autoptr(GPtrArray) actions = sieve_script_evaluate(script, &msg, NULL);
		const SieveVacation *v = only_vacation(actions);
		if (!cases[i].why)
			ck_assert_msg(v->suppressed == NULL, "case %zu: %s", i, v->suppressed);
		else
			ck_assert_msg(v->suppressed && strstr(v->suppressed, cases[i].why),
			              "case %zu: <%s> lacks <%s>", i, v->suppressed, cases[i].why);
	}
}
END_TEST

/* ---- matching ----------------------------------------------------------- */

static const struct {
	const char     *value;
	const char     *key;
	SieveMatchType  match;
	SieveComparator cmp;
	gboolean        expected;
} match_cases[] = {
#define CASE SIEVE_COMPARATOR_ASCII_CASEMAP
#define OCTET SIEVE_COMPARATOR_OCTET
	{ "", "", SIEVE_MATCH_IS, CASE, TRUE },
	{ "abc", "ABC", SIEVE_MATCH_IS, CASE, TRUE },
	{ "abc", "ABC", SIEVE_MATCH_IS, OCTET, FALSE },
	{ "abc", "ab", SIEVE_MATCH_IS, CASE, FALSE },
	{ "\xc3\xa9", "\xc3\x89", SIEVE_MATCH_IS, CASE, FALSE },  /* only ASCII folds */
	{ "abc", "", SIEVE_MATCH_CONTAINS, CASE, TRUE },
	{ "", "", SIEVE_MATCH_CONTAINS, CASE, TRUE },
	{ "", "a", SIEVE_MATCH_CONTAINS, CASE, FALSE },
	{ "Hello World", "o w", SIEVE_MATCH_CONTAINS, CASE, TRUE },
	{ "Hello World", "o w", SIEVE_MATCH_CONTAINS, OCTET, FALSE },
	{ "abc", "abcd", SIEVE_MATCH_CONTAINS, CASE, FALSE },
	{ "a*c", "*", SIEVE_MATCH_CONTAINS, CASE, TRUE },   /* no wildcards in :contains */
	{ "abc", "*", SIEVE_MATCH_CONTAINS, CASE, FALSE },
	{ "", "", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "", "*", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "", "**", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "", "?", SIEVE_MATCH_MATCHES, CASE, FALSE },
	{ "a", "?", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "ab", "?", SIEVE_MATCH_MATCHES, CASE, FALSE },
	{ "\xc3\xa9", "?", SIEVE_MATCH_MATCHES, CASE, TRUE },  /* '?' is one character */
	{ "\xe2\x82\xac" "x", "??", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "\xf0\x9f\x98\x80", "?", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "abc", "a?c", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "abc", "A*", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "abc", "A*", SIEVE_MATCH_MATCHES, OCTET, FALSE },
	{ "abc", "*c", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "abc", "*b", SIEVE_MATCH_MATCHES, CASE, FALSE },
	{ "abc", "b*", SIEVE_MATCH_MATCHES, CASE, FALSE },
	{ "abc", "a*b*c", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "abc", "a*c*b", SIEVE_MATCH_MATCHES, CASE, FALSE },
	{ "abab", "*ab*ab", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "aaab", "*aab", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "aaa", "a*aa", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "aa", "a*aa", SIEVE_MATCH_MATCHES, CASE, FALSE },
	{ "aa", "*a*a", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "a", "*a*a", SIEVE_MATCH_MATCHES, CASE, FALSE },
	{ "mississippi", "*ss*ss*", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "mississippi", "m*iss*ppi", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "mississippi", "m*?ss?*pi", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "mississippi", "*sip*sip*", SIEVE_MATCH_MATCHES, CASE, FALSE },
	{ "www.example.org", "*.example.org", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "example.org", "*.example.org", SIEVE_MATCH_MATCHES, CASE, FALSE },
	/* RFC 5228 2.7.1: backslash quotes '*', '?' and '\' */
	{ "a*c", "a\\*c", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "abc", "a\\*c", SIEVE_MATCH_MATCHES, CASE, FALSE },
	{ "a?c", "a\\?c", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "abc", "a\\?c", SIEVE_MATCH_MATCHES, CASE, FALSE },
	{ "a\\c", "a\\\\c", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "a\\", "a\\", SIEVE_MATCH_MATCHES, CASE, TRUE },   /* a lone trailing '\' is itself */
	{ "xa*", "*\\*", SIEVE_MATCH_MATCHES, CASE, TRUE },
	{ "ab", "a\\b", SIEVE_MATCH_MATCHES, CASE, TRUE },   /* '\' before other chars: dropped */
#undef CASE
#undef OCTET
};

START_TEST(test_match_table)
{
	for (gsize i = 0; i < G_N_ELEMENTS(match_cases); i++) {
		gboolean got = sieve_string_matches(match_cases[i].value, match_cases[i].key,
		                                    match_cases[i].match, match_cases[i].cmp);
		ck_assert_msg(got == match_cases[i].expected, "\"%s\" %s \"%s\" (%s): got %d",
		              match_cases[i].value, sieve_match_type_to_string(match_cases[i].match),
		              match_cases[i].key, sieve_comparator_to_string(match_cases[i].cmp), got);
	}
}
END_TEST

START_TEST(test_match_hostile_pattern)
{
	g_autofree char *as = g_strnfill(200000, 'a');
	gint64 start = g_get_monotonic_time();
	ck_assert(!sieve_string_matches(as, "*a*a*a*a*a*a*a*a*a*b", SIEVE_MATCH_MATCHES,
	                                SIEVE_COMPARATOR_ASCII_CASEMAP));
	ck_assert(sieve_string_matches(as, "*a*a*a*a*a*a*a*a*a*", SIEVE_MATCH_MATCHES,
	                               SIEVE_COMPARATOR_ASCII_CASEMAP));
	ck_assert(!sieve_string_matches(as, "*?*?*?*?*?*?*?*?*b*", SIEVE_MATCH_MATCHES,
	                                SIEVE_COMPARATOR_OCTET));
	/* a backtracking matcher needs ~n^9 steps here; ours a few n */
	ck_assert_int_lt(g_get_monotonic_time() - start, 2 * G_USEC_PER_SEC);

	/* and through a whole script */
	g_autofree char *many = g_strnfill(20000, 'a');
	const char *const headers[] = { "Subject", many, NULL };
	FixtureHeaders h = { headers };
	SieveMessage msg = { .get_header = fixture_get_header, .user_data = &h };
	GError *error = NULL;
	g_autofree char *got = run_script(
		"if header :matches \"subject\" \"*a*a*a*a*a*a*a*a*a*b\" { discard; }", &msg, &error);
	ck_assert_ptr_null(error);
	ck_assert_str_eq(got, "keep:INBOX(implicit)");
}
END_TEST

/* ---- names -------------------------------------------------------------- */

START_TEST(test_to_string)
{
	ck_assert_str_eq(sieve_action_kind_to_string(SIEVE_ACTION_KEEP), "keep");
	ck_assert_str_eq(sieve_action_kind_to_string(SIEVE_ACTION_FILEINTO), "fileinto");
	ck_assert_str_eq(sieve_action_kind_to_string(SIEVE_ACTION_REDIRECT), "redirect");
	ck_assert_str_eq(sieve_action_kind_to_string(SIEVE_ACTION_DISCARD), "discard");
	ck_assert_str_eq(sieve_action_kind_to_string(SIEVE_ACTION_REJECT), "reject");
	ck_assert_str_eq(sieve_action_kind_to_string(SIEVE_ACTION_VACATION), "vacation");
	ck_assert_str_eq(sieve_match_type_to_string(SIEVE_MATCH_MATCHES), ":matches");
	ck_assert_str_eq(sieve_comparator_to_string(SIEVE_COMPARATOR_OCTET), "i;octet");
	ck_assert_str_eq(sieve_error_to_string(SIEVE_ERROR_RUNTIME), "runtime");
}
END_TEST

static Suite *sieve_suite(void)
{
	Suite *s = suite_create("sieve");
	MS_ADD_TEST(s, test_parse_valid, 10);
	MS_ADD_TEST(s, test_parse_escape_value, 10);
	MS_ADD_TEST(s, test_parse_positions, 10);
	MS_ADD_TEST(s, test_parse_columns_count_characters, 10);
	MS_ADD_TEST(s, test_parse_invalid, 10);
	MS_ADD_TEST(s, test_parse_exact_message, 10);
	MS_ADD_TEST(s, test_parse_nul_byte, 10);
	MS_ADD_TEST(s, test_parse_prefixes, 30);
	MS_ADD_TEST(s, test_limit_depth, 10);
	MS_ADD_TEST(s, test_limit_sizes, 10);
	MS_ADD_TEST(s, test_evaluate, 10);
	MS_ADD_TEST(s, test_evaluate_action_lines, 10);
	MS_ADD_TEST(s, test_evaluate_null_sender_and_no_headers, 10);
	MS_ADD_TEST(s, test_evaluate_runtime_errors, 10);
	MS_ADD_TEST(s, test_evaluate_action_limit, 10);
	MS_ADD_TEST(s, test_evaluate_cost_budget, 30);
	MS_ADD_TEST(s, test_vacation_fields, 10);
	MS_ADD_TEST(s, test_vacation_days, 10);
	MS_ADD_TEST(s, test_vacation_suppressed, 10);
	MS_ADD_TEST(s, test_match_table, 10);
	MS_ADD_TEST(s, test_match_hostile_pattern, 30);
	MS_ADD_TEST(s, test_to_string, 10);
	return s;
}

MS_TEST_MAIN(sieve_suite)
