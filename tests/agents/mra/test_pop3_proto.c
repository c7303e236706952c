/* tests/agents/mra/test_pop3_proto.c - POP3 commands, responses, stuffing.
 *
 * A valid and an invalid table of command lines; byte-stuffing cases run
 * whole and byte by byte, plus an exhaustive check over short inputs that a
 * client undoing the stuffing gets the message back; TOP; response lines.
 */
#include "tests/ms_test.h"
#include "agents/mra/pop3_proto.h"

static char *dump_command(const Pop3Command *c)
{
	GString *out = g_string_new(pop3_command_kind_to_string(c->kind));
	if (c->arg)
		g_string_append_printf(out, " arg=%s", c->arg);
	if (c->arg2)
		g_string_append_printf(out, " arg2=%s", c->arg2);
	if (c->has_msg)
		g_string_append_printf(out, " msg=%u", c->msg);
	if (c->kind == POP3_CMD_TOP)
		g_string_append_printf(out, " lines=%u", c->lines);
	return g_string_free(out, FALSE);
}

typedef struct {
	const char *in;
	const char *out;
} ValidCase;

static const ValidCase valid_cases[] = {
	{ "USER bob", "USER arg=bob" },
	{ "user bob@example.org", "USER arg=bob@example.org" },
	{ "PASS secret", "PASS arg=secret" },
	{ "PASS secret with spaces", "PASS arg=secret with spaces" },
	{ "PASS  leading space", "PASS arg= leading space" },
	{ "PASS p\xc3\xa4ss", "PASS arg=p\xc3\xa4ss" },
	{ "APOP mrose c4c9334bac560ecc979e58001b3e22fb", "APOP arg=mrose arg2=c4c9334bac560ecc979e58001b3e22fb" },
	{ "APOP mrose C4C9334BAC560ECC979E58001B3E22FB", "APOP arg=mrose arg2=c4c9334bac560ecc979e58001b3e22fb" },
	{ "AUTH", "AUTH" },
	{ "auth plain", "AUTH arg=PLAIN" },
	{ "AUTH PLAIN AGJvYgBzZWNyZXQ=", "AUTH arg=PLAIN arg2=AGJvYgBzZWNyZXQ=" },
	{ "AUTH PLAIN =", "AUTH arg=PLAIN arg2==" },
	{ "AUTH SCRAM-SHA-256", "AUTH arg=SCRAM-SHA-256" },
	{ "STAT", "STAT" },
	{ "stat", "STAT" },
	{ "LIST", "LIST" },
	{ "LIST 1", "LIST msg=1" },
	{ "LIST 4294967295", "LIST msg=4294967295" },
	{ "RETR 1", "RETR msg=1" },
	{ "RETR 007", "RETR msg=7" },
	{ "DELE 7", "DELE msg=7" },
	{ "RSET", "RSET" },
	{ "NOOP", "NOOP" },
	{ "QUIT", "QUIT" },
	{ "UIDL", "UIDL" },
	{ "UIDL 3", "UIDL msg=3" },
	{ "TOP 1 0", "TOP msg=1 lines=0" },
	{ "top 2 10", "TOP msg=2 lines=10" },
	{ "CAPA", "CAPA" },
	{ "STLS", "STLS" },
};

START_TEST(test_valid_table)
{
	const ValidCase *c = &valid_cases[_i];
	gsize len = strlen(c->in);
	g_autofree char *copy = g_memdup2(c->in, len);
	g_autoptr(GError) error = NULL;
	g_autoptr(Pop3Command) cmd = pop3_proto_parse_command(copy, len, &error);
	ck_assert_msg(cmd != NULL, "%s: %s", c->in, error ? error->message : "");
	g_autofree char *got = dump_command(cmd);
	ck_assert_msg(strcmp(got, c->out) == 0, "%s: got %s, want %s", c->in, got, c->out);
	/* every prefix from an exact-size copy: no over-read, no crash */
	for (gsize n = 0; n < len; n++) {
		g_autofree char *p = g_memdup2(c->in, n);
		g_autoptr(Pop3Command) part = pop3_proto_parse_command(p, n, NULL);
		(void)part;
	}
}
END_TEST

typedef struct {
	const char *in;
	gsize len;            /* 0: strlen */
	Pop3ProtoError code;
} InvalidCase;

static const InvalidCase invalid_cases[] = {
	{ "", 0,            POP3_PROTO_ERROR_UNKNOWN_COMMAND },
	{ "FOO", 0,         POP3_PROTO_ERROR_UNKNOWN_COMMAND },
	{ "STATX", 0,       POP3_PROTO_ERROR_UNKNOWN_COMMAND },
	{ "ST", 0,          POP3_PROTO_ERROR_UNKNOWN_COMMAND },
	{ "USERbob", 0,     POP3_PROTO_ERROR_UNKNOWN_COMMAND },
	{ " STAT", 0,       POP3_PROTO_ERROR_UNKNOWN_COMMAND },
	{ "STAT\t", 0,      POP3_PROTO_ERROR_UNKNOWN_COMMAND },
	{ "STAT ", 0,       POP3_PROTO_ERROR_SYNTAX },
	{ "STAT 1", 0,      POP3_PROTO_ERROR_SYNTAX },
	{ "QUIT now", 0,    POP3_PROTO_ERROR_SYNTAX },
	{ "USER", 0,        POP3_PROTO_ERROR_SYNTAX },
	{ "USER ", 0,       POP3_PROTO_ERROR_SYNTAX },
	{ "USER a b", 0,    POP3_PROTO_ERROR_SYNTAX },
	{ "USER  a", 0,     POP3_PROTO_ERROR_SYNTAX },
	{ "USER bo\x01" "b", 0, POP3_PROTO_ERROR_SYNTAX },
	{ "PASS", 0,        POP3_PROTO_ERROR_SYNTAX },
	{ "PASS ", 0,       POP3_PROTO_ERROR_SYNTAX },
	{ "LIST 0", 0,      POP3_PROTO_ERROR_SYNTAX },
	{ "LIST -1", 0,     POP3_PROTO_ERROR_SYNTAX },
	{ "LIST +1", 0,     POP3_PROTO_ERROR_SYNTAX },
	{ "LIST a", 0,      POP3_PROTO_ERROR_SYNTAX },
	{ "LIST 1a", 0,     POP3_PROTO_ERROR_SYNTAX },
	{ "LIST 1 2", 0,    POP3_PROTO_ERROR_SYNTAX },
	{ "LIST  1", 0,     POP3_PROTO_ERROR_SYNTAX },
	{ "LIST 1 ", 0,     POP3_PROTO_ERROR_SYNTAX },
	{ "LIST 4294967296", 0, POP3_PROTO_ERROR_SYNTAX },
	{ "LIST 99999999999999999999", 0, POP3_PROTO_ERROR_SYNTAX },
	{ "RETR", 0,        POP3_PROTO_ERROR_SYNTAX },
	{ "RETR 0", 0,      POP3_PROTO_ERROR_SYNTAX },
	{ "DELE", 0,        POP3_PROTO_ERROR_SYNTAX },
	{ "TOP 1", 0,       POP3_PROTO_ERROR_SYNTAX },
	{ "TOP 1 -1", 0,    POP3_PROTO_ERROR_SYNTAX },
	{ "TOP 0 1", 0,     POP3_PROTO_ERROR_SYNTAX },
	{ "TOP 1 1 1", 0,   POP3_PROTO_ERROR_SYNTAX },
	{ "TOP 1 4294967296", 0, POP3_PROTO_ERROR_SYNTAX },
	{ "AUTH ", 0,       POP3_PROTO_ERROR_SYNTAX },
	{ "AUTH PL@IN", 0,  POP3_PROTO_ERROR_SYNTAX },
	{ "AUTH A23456789012345678901", 0, POP3_PROTO_ERROR_SYNTAX },
	{ "AUTH PLAIN abc", 0, POP3_PROTO_ERROR_SYNTAX },
	{ "AUTH PLAIN a*bc", 0, POP3_PROTO_ERROR_SYNTAX },
	{ "AUTH PLAIN AAAA BBBB", 0, POP3_PROTO_ERROR_SYNTAX },
	{ "APOP mrose", 0,  POP3_PROTO_ERROR_SYNTAX },
	{ "APOP mrose xyz", 0, POP3_PROTO_ERROR_SYNTAX },
	{ "APOP mrose c4c9334bac560ecc979e58001b3e22fg", 0, POP3_PROTO_ERROR_SYNTAX },
	{ "STAT\0", 5,      POP3_PROTO_ERROR_SYNTAX },
	{ "USER a\rb", 0,   POP3_PROTO_ERROR_SYNTAX },
	{ "STAT\r\n", 0,    POP3_PROTO_ERROR_SYNTAX },
	{ "PASS a\nb", 0,   POP3_PROTO_ERROR_SYNTAX },
};

START_TEST(test_invalid_table)
{
	const InvalidCase *c = &invalid_cases[_i];
	gsize len = c->len ? c->len : strlen(c->in);
	g_autofree char *copy = g_memdup2(c->in, len);
	g_autoptr(GError) error = NULL;
	g_autoptr(Pop3Command) cmd = pop3_proto_parse_command(copy, len, &error);
	ck_assert_msg(cmd == NULL, "\"%s\" accepted", c->in);
	ck_assert_msg(error->domain == POP3_PROTO_ERROR && error->code == (int)c->code,
	              "\"%s\": %s (%s)", c->in, pop3_proto_error_to_string(error->code), error->message);
}
END_TEST

START_TEST(test_line_length)
{
	/* RFC 2449 4: 255 octets with CRLF, so 253 without */
	GString *line = g_string_new("USER ");
	while (line->len < POP3_PROTO_MAX_LINE - 2)
		g_string_append_c(line, 'a');
	g_autoptr(Pop3Command) cmd = pop3_proto_parse_command(line->str, line->len, NULL);
	ck_assert_ptr_nonnull(cmd);
	g_string_append_c(line, 'a');
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(pop3_proto_parse_command(line->str, line->len, &error));
	ck_assert_int_eq(error->code, POP3_PROTO_ERROR_TOO_LONG);
	g_string_free(line, TRUE);
}
END_TEST

/* ---- byte-stuffing ------------------------------------------------------ */

typedef struct {
	const char *in;
	const char *out;
} StuffCase;

static const StuffCase stuff_cases[] = {
	{ "", ".\r\n" },
	{ "a\r\n", "a\r\n.\r\n" },
	{ "a", "a\r\n.\r\n" },
	{ ".", "..\r\n.\r\n" },
	{ ".\r\n", "..\r\n.\r\n" },
	{ "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n" },
	{ ".a\n..b\n", "..a\r\n...b\r\n.\r\n" },
	{ "a\nb", "a\r\nb\r\n.\r\n" },
	{ "a\rb\r\n", "a\rb\r\n.\r\n" },
	{ "a\r", "a\r\n.\r\n" },
	{ "\r.\r\n", "\r.\r\n.\r\n" },
	{ "x\r\n.", "x\r\n..\r\n.\r\n" },
	{ "\r\n\r\n", "\r\n\r\n.\r\n" },
	{ "a.b\r\n", "a.b\r\n.\r\n" },
};

START_TEST(test_stuff_table)
{
	const StuffCase *c = &stuff_cases[_i];
	gsize len = strlen(c->in);
	/* whole */
	g_autoptr(GString) whole = g_string_new(NULL);
	pop3_proto_append_multiline(whole, c->in, len);
	ck_assert_msg(strcmp(whole->str, c->out) == 0, "\"%s\": got \"%s\"", g_strescape(c->in, NULL),
	              g_strescape(whole->str, NULL));
	/* byte by byte */
	g_autoptr(GString) bytes = g_string_new(NULL);
	Pop3Stuffer st = POP3_STUFFER_INIT;
	for (gsize i = 0; i < len; i++)
		pop3_proto_stuff(&st, bytes, c->in + i, 1);
	pop3_proto_stuff_end(&st, bytes);
	ck_assert_str_eq(bytes->str, c->out);
}
END_TEST

/* What a client does: lines until ".", one leading '.' removed. */
static GString *unstuff(const GString *wire)
{
	GString *msg = g_string_new(NULL);
	gsize pos = 0;
	for (;;) {
		const char *crlf = g_strstr_len(wire->str + pos, (gssize)(wire->len - pos), "\r\n");
		ck_assert_ptr_nonnull(crlf);
		gsize end = (gsize)(crlf - wire->str);
		if (end - pos == 1 && wire->str[pos] == '.') {
			ck_assert_uint_eq(end + 2, wire->len);   /* the end is the end */
			return msg;
		}
		gsize from = wire->str[pos] == '.' ? pos + 1 : pos;
		g_string_append_len(msg, wire->str + from, (gssize)(end - from));
		g_string_append(msg, "\r\n");
		pos = end + 2;
	}
}

/* The message as the stuffer should normalise it: bare LF and a final bare
 * CR become CRLF, and an unended last line is ended. */
static GString *normalise(const char *in, gsize len)
{
	GString *out = g_string_new(NULL);
	for (gsize i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			g_string_append_c(out, '\r');
		g_string_append_c(out, in[i]);
	}
	if (out->len > 0 && out->str[out->len - 1] == '\r')
		g_string_append_c(out, '\n');
	if (out->len > 0 && !g_str_has_suffix(out->str, "\r\n"))
		g_string_append(out, "\r\n");
	return out;
}

START_TEST(test_stuff_exhaustive)
{
	/* every string of up to 7 bytes over the interesting alphabet */
	static const char alphabet[] = ".\r\na";
	char buf[8];
	for (guint len = 0; len <= 7; len++) {
		guint total = 1;
		for (guint i = 0; i < len; i++)
			total *= 4;
		for (guint n = 0; n < total; n++) {
			guint v = n;
			for (guint i = 0; i < len; i++, v /= 4)
				buf[i] = alphabet[v % 4];
			g_autoptr(GString) wire = g_string_new(NULL);
			pop3_proto_append_multiline(wire, buf, len);
			g_autoptr(GString) back = unstuff(wire);
			g_autoptr(GString) want = normalise(buf, len);
			ck_assert_msg(g_string_equal(back, want), "input %s", g_strescape(g_strndup(buf, len), NULL));
		}
	}
}
END_TEST

static const char top_msg[] =
	"Subject: x\r\n"
	"From: y\r\n"
	"\r\n"
	"l1\r\n"
	"l2\r\n"
	".l3\r\n";

START_TEST(test_top)
{
	static const struct { const char *msg; guint32 lines; const char *want; } cases[] = {
		{ top_msg, 0, "Subject: x\r\nFrom: y\r\n\r\n.\r\n" },
		{ top_msg, 2, "Subject: x\r\nFrom: y\r\n\r\nl1\r\nl2\r\n.\r\n" },
		{ top_msg, 3, "Subject: x\r\nFrom: y\r\n\r\nl1\r\nl2\r\n..l3\r\n.\r\n" },
		{ top_msg, 4000000000u, "Subject: x\r\nFrom: y\r\n\r\nl1\r\nl2\r\n..l3\r\n.\r\n" },
		{ "A: 1\n\nb1\nb2\n", 1, "A: 1\r\n\r\nb1\r\n.\r\n" },
		{ "A: 1\r\nB: 2", 5, "A: 1\r\nB: 2\r\n.\r\n" },
		{ "\r\nbody\r\n", 0, "\r\n.\r\n" },
		{ "", 3, ".\r\n" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GString) out = g_string_new(NULL);
		pop3_proto_append_top(out, cases[i].msg, strlen(cases[i].msg), cases[i].lines);
		ck_assert_msg(strcmp(out->str, cases[i].want) == 0, "case %zu: %s", i, g_strescape(out->str, NULL));
	}
}
END_TEST

/* ---- responses ---------------------------------------------------------- */

START_TEST(test_responses)
{
	g_autoptr(GString) out = g_string_new(NULL);
	pop3_proto_append_ok(out, POP3_CODE_NONE, "2 messages (320 octets)");
	ck_assert_str_eq(out->str, "+OK 2 messages (320 octets)\r\n");
	g_string_truncate(out, 0);
	pop3_proto_append_err(out, POP3_CODE_IN_USE, "maildrop already locked");
	ck_assert_str_eq(out->str, "-ERR [IN-USE] maildrop already locked\r\n");
	g_string_truncate(out, 0);
	pop3_proto_append_err(out, POP3_CODE_AUTH, NULL);
	ck_assert_str_eq(out->str, "-ERR [AUTH]\r\n");
	g_string_truncate(out, 0);
	pop3_proto_append_err(out, POP3_CODE_SYS_TEMP, "try\r\n+OK later");
	ck_assert_str_eq(out->str, "-ERR [SYS/TEMP] try  +OK later\r\n");
	g_string_truncate(out, 0);
	pop3_proto_append_ok(out, POP3_CODE_NONE, NULL);
	ck_assert_str_eq(out->str, "+OK\r\n");

	/* RFC 2449 4: a response line stays within 512 octets */
	g_string_truncate(out, 0);
	g_autofree char *longtext = g_strnfill(2000, 'x');
	pop3_proto_append_err(out, POP3_CODE_LOGIN_DELAY, longtext);
	ck_assert_uint_le(out->len, POP3_PROTO_MAX_RESPONSE_LINE);
	ck_assert(g_str_has_suffix(out->str, "x\r\n"));
	ck_assert(g_str_has_prefix(out->str, "-ERR [LOGIN-DELAY] xxx"));

	ck_assert_str_eq(pop3_resp_code_to_string(POP3_CODE_SYS_PERM), "SYS/PERM");
	ck_assert_str_eq(pop3_resp_code_to_string(POP3_CODE_NONE), "");
	ck_assert_str_eq(pop3_command_kind_to_string(POP3_CMD_UIDL), "UIDL");
	ck_assert_str_eq(pop3_proto_error_to_string(POP3_PROTO_ERROR_TOO_LONG), "TOO_LONG");
}
END_TEST

START_TEST(test_apop_digest)
{
	/* RFC 1939 7's example */
	g_autofree char *d = pop3_proto_apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf");
	ck_assert_str_eq(d, "c4c9334bac560ecc979e58001b3e22fb");
}
END_TEST

static Suite *pop3_proto_suite(void)
{
	Suite *s = suite_create("pop3_proto");
	TCase *tc = tcase_create("commands");
	tcase_add_loop_test(tc, test_valid_table, 0, G_N_ELEMENTS(valid_cases));
	tcase_add_loop_test(tc, test_invalid_table, 0, G_N_ELEMENTS(invalid_cases));
	tcase_add_test(tc, test_line_length);
	suite_add_tcase(s, tc);
	TCase *st = tcase_create("stuffing");
	tcase_set_timeout(st, 30);
	tcase_add_loop_test(st, test_stuff_table, 0, G_N_ELEMENTS(stuff_cases));
	tcase_add_test(st, test_stuff_exhaustive);
	tcase_add_test(st, test_top);
	suite_add_tcase(s, st);
	MS_ADD_TEST(s, test_responses, 5);
	MS_ADD_TEST(s, test_apop_digest, 5);
	return s;
}

MS_TEST_MAIN(pop3_proto_suite)
