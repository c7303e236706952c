/* tests/agents/common/test_mime.c - the MIME tree: offsets, types, limits.
 *
 * Each case gives a message and the tree it must become, written as a
 * compact outline ("multipart/mixed(text/plain,image/png)"), plus the body
 * bytes of chosen parts.  Broken messages have their own table: they must
 * still parse, into what a reader would expect.
 */
#include "tests/ms_test.h"
#include "agents/common/mime.h"

/* "type/subtype" and children in parentheses; '!' marks a degraded part. */
static void outline(GString *out, const MimePart *part)
{
	g_string_append_printf(out, "%s/%s%s", part->type, part->subtype, part->degraded ? "!" : "");
	if (part->children->len == 0)
		return;
	g_string_append_c(out, '(');
	for (guint i = 0; i < part->children->len; i++) {
		if (i > 0)
			g_string_append_c(out, ',');
		outline(out, g_ptr_array_index(part->children, i));
	}
	g_string_append_c(out, ')');
}

static char *outline_of(const MimePart *root)
{
	GString *out = g_string_new(NULL);
	outline(out, root);
	return g_string_free(out, FALSE);
}

/* Walk child indexes "0.1" (0-based, through message/rfc822 children too). */
static const MimePart *walk(const MimePart *root, const char *path)
{
	const MimePart *part = root;
	if (!path || !*path)
		return part;
	g_auto(GStrv) steps = g_strsplit(path, ".", -1);
	for (guint i = 0; steps[i]; i++) {
		guint n = (guint)atoi(steps[i]);
		ck_assert_uint_lt(n, part->children->len);
		part = g_ptr_array_index(part->children, n);
	}
	return part;
}

static char *body_of(const char *msg, const MimePart *part)
{
	return g_strndup(msg + part->body_start, part->body_end - part->body_start);
}

static const char simple_msg[] =
	"From: Alice <alice@example.org>\r\n"
	"To: Bob <bob@example.com>\r\n"
	"Subject: Hello\r\n"
	"\r\n"
	"Hi Bob.\r\n"
	"Bye.\r\n";

static const char multipart_msg[] =
	"From: a@example.org\r\n"
	"Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--XYZ\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"part one\r\n"
	"--XYZ\r\n"
	"Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
	"Content-Transfer-Encoding: BASE64\r\n"
	"Content-Disposition: attachment; filename=\"a.bin\"\r\n"
	"\r\n"
	"AAEC\r\n"
	"--XYZ--\r\n"
	"epilogue\r\n";

static const char nested_msg[] =
	"Content-Type: multipart/mixed; boundary=outer\r\n"
	"\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=inner\r\n"
	"\r\n"
	"--inner\r\n"
	"\r\n"
	"plain\r\n"
	"--inner\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"<p>html</p>\r\n"
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner message\r\n"
	"\r\n"
	"inner body\r\n"
	"--outer--\r\n";

typedef struct {
	const char *name;
	const char *msg;
	const char *outline;
	const char *path;       /* a part to check, or NULL */
	const char *body;       /* its expected body */
	guint64 lines;          /* its expected body_lines */
} MimeCase;

static const MimeCase valid_cases[] = {
	{ "simple", simple_msg, "text/plain", "", "Hi Bob.\r\nBye.\r\n", 2 },
	{ "multipart part 1", multipart_msg, "multipart/mixed(text/plain,application/octet-stream)",
	  "0", "part one", 1 },
	{ "multipart part 2", multipart_msg, "multipart/mixed(text/plain,application/octet-stream)",
	  "1", "AAEC", 1 },
	{ "nested alternative", nested_msg,
	  "multipart/mixed(multipart/alternative(text/plain,text/html),message/rfc822(text/plain))",
	  "0.1", "<p>html</p>", 1 },
	{ "encapsulated message body", nested_msg,
	  "multipart/mixed(multipart/alternative(text/plain,text/html),message/rfc822(text/plain))",
	  "1.0", "inner body", 1 },
	{ "message/rfc822 body is the whole inner message", nested_msg,
	  "multipart/mixed(multipart/alternative(text/plain,text/html),message/rfc822(text/plain))",
	  "1", "Subject: inner message\r\n\r\ninner body", 3 },
	{ "LF line endings",
	  "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n--b--\n",
	  "multipart/mixed(text/plain,text/plain)", "1", "two", 1 },
	{ "digest parts default to message/rfc822",
	  "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: x\r\n\r\nhi\r\n--d--\r\n",
	  "multipart/digest(message/rfc822(text/plain))", "0.0", "hi", 1 },
	{ "boundary with transport padding",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b  \t\r\n\r\nx\r\n--b--\r\n",
	  "multipart/mixed(text/plain)", "0", "x", 1 },
	{ "longer boundary line is not a delimiter",
	  "Content-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\n\r\n--abc\r\n--ab--\r\n",
	  "multipart/mixed(text/plain)", "0", "--abc", 1 },
	{ "type in capitals, comments, quoted parameters",
	  "Content-Type: (c) TEXT / HTML (x) ; CharSet = \"iso-8859-1\" ; a=b\r\n\r\nhi",
	  "text/html", "", "hi", 1 },
	{ "empty body part", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n\r\n--b--",
	  "multipart/mixed(text/plain)", "0", "", 0 },
};

static const MimeCase broken_cases[] = {
	{ "empty message", "", "text/plain", "", "", 0 },
	{ "no header at all", "Hello world\r\nsecond line", "text/plain", "",
	  "Hello world\r\nsecond line", 2 },
	{ "header without body", "Subject: x\r\n", "text/plain", "", "", 0 },
	{ "starts with blank line", "\r\nbody", "text/plain", "", "body", 1 },
	{ "multipart without boundary", "Content-Type: multipart/mixed\r\n\r\nbody\r\n",
	  "text/plain!", "", "body\r\n", 1 },
	{ "boundary never used",
	  "Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts here\r\n", "text/plain!", "",
	  "no parts here\r\n", 1 },
	{ "no close delimiter",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nfirst\r\n--b\r\n\r\nlast\r\n",
	  "multipart/mixed(text/plain,text/plain)", "1", "last\r\n", 1 },
	{ "invalid content type", "Content-Type: garbage\r\n\r\nx", "text/plain", "", "x", 1 },
	{ "empty boundary", "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\nx\r\n",
	  "text/plain!", "", "--\r\n\r\nx\r\n", 3 },
	{ "base64 message/rfc822 is not opened",
	  "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA==\r\n",
	  "text/plain!", "", "U3ViamVjdDogeA==\r\n", 1 },
	{ "garbage line in header is skipped",
	  "Subject: a\r\nthis is no field\r\nContent-Type: text/html\r\n\r\nx", "text/html", "", "x", 1 },
	{ "unclosed comment and quote",
	  "Content-Type: text/plain; a=\"unclosed (\r\n\r\nx", "text/plain", "", "x", 1 },
};

static void check_case(const MimeCase *c)
{
	gsize len = strlen(c->msg);
	g_autoptr(MimePart) root = mime_parse(c->msg, len);
	ck_assert_ptr_nonnull(root);
	g_autofree char *got = outline_of(root);
	ck_assert_msg(strcmp(got, c->outline) == 0, "%s: outline %s, expected %s", c->name, got, c->outline);
	ck_assert_uint_eq(root->header_start, 0);
	ck_assert_uint_eq(root->body_end, len);
	if (c->path) {
		const MimePart *part = walk(root, c->path);
		g_autofree char *body = body_of(c->msg, part);
		ck_assert_msg(strcmp(body, c->body) == 0, "%s: body \"%s\", expected \"%s\"", c->name, body, c->body);
		ck_assert_msg(part->body_lines == c->lines, "%s: %" G_GUINT64_FORMAT " lines, expected %"
		              G_GUINT64_FORMAT, c->name, part->body_lines, c->lines);
		ck_assert_uint_eq(part->header_end, part->body_start);
		ck_assert_uint_le(part->header_start, part->header_end);
		ck_assert_uint_le(part->body_end, len);
	}
}

START_TEST(test_valid_table)
{
	check_case(&valid_cases[_i]);
}
END_TEST

START_TEST(test_broken_table)
{
	check_case(&broken_cases[_i]);
}
END_TEST

START_TEST(test_simple_offsets)
{
	gsize len = strlen(simple_msg);
	g_autoptr(MimePart) root = mime_parse(simple_msg, len);
	const char *body = strstr(simple_msg, "Hi Bob");
	ck_assert_uint_eq(root->header_end, (gsize)(body - simple_msg));
	/* the header includes its blank line */
	ck_assert_int_eq(memcmp(simple_msg + root->header_end - 4, "\r\n\r\n", 4), 0);
	ck_assert_str_eq(mime_part_param(root, "CHARSET"), "us-ascii");
	ck_assert_str_eq(root->encoding, "7bit");
	ck_assert_uint_eq(mime_part_count(root), 1);
}
END_TEST

START_TEST(test_multipart_fields)
{
	g_autoptr(MimePart) root = mime_parse(multipart_msg, strlen(multipart_msg));
	ck_assert_str_eq(mime_part_param(root, "boundary"), "XYZ");
	const MimePart *text = walk(root, "0");
	const MimePart *bin = walk(root, "1");
	ck_assert_str_eq(mime_part_param(text, "charset"), "utf-8");
	ck_assert_str_eq(bin->encoding, "base64");
	ck_assert_str_eq(bin->disposition, "attachment");
	ck_assert_uint_eq(bin->disposition_params->len, 1);
	const MimeParam *fn = g_ptr_array_index(bin->disposition_params, 0);
	ck_assert_str_eq(fn->name, "filename");
	ck_assert_str_eq(fn->value, "a.bin");
	ck_assert_str_eq(mime_part_param(bin, "name"), "a.bin");
	/* a part's header starts right after its boundary line */
	ck_assert(g_str_has_prefix(multipart_msg + text->header_start, "Content-Type: text/plain"));
	ck_assert_ptr_eq(text->parent, root);
	ck_assert_uint_eq(text->depth, 1);
	ck_assert_uint_eq(mime_part_count(root), 3);
}
END_TEST

START_TEST(test_content_fields)
{
	static const char msg[] =
		"Content-Type: text/plain\r\n"
		"Content-ID: <part1@example.org>\r\n"
		"Content-Description: a\r\n  folded description\r\n"
		"Content-Language: en, (comment) de-CH\r\n"
		"Content-Location: http://example.org/x\r\n"
		"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
		"Content-Disposition: INLINE\r\n"
		"\r\nx";
	g_autoptr(MimePart) root = mime_parse(msg, strlen(msg));
	ck_assert_str_eq(root->id, "<part1@example.org>");
	ck_assert_str_eq(root->description, "a  folded description");
	ck_assert_uint_eq(root->languages->len, 2);
	ck_assert_str_eq(g_ptr_array_index(root->languages, 0), "en");
	ck_assert_str_eq(g_ptr_array_index(root->languages, 1), "de-CH");
	ck_assert_str_eq(root->location, "http://example.org/x");
	ck_assert_str_eq(root->md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
	ck_assert_str_eq(root->disposition, "inline");
	/* text/plain given without charset: no invented parameter */
	ck_assert_uint_eq(root->params->len, 0);
}
END_TEST

START_TEST(test_parameter_edges)
{
	static const struct { const char *field; const char *name; const char *want; } cases[] = {
		/* garbage between parameters: skipped up to the next ';' */
		{ "text/plain; junk here ; charset=x", "charset", "x" },
		{ "text/plain; junk here", "charset", NULL },
		{ "text/plain; name=\"a\\\"b\"", "name", "a\"b" },
		{ "text/plain; name=\"a;b\"; c=d", "c", "d" },
		{ "text/plain (a \\) b) ; charset=y", "charset", "y" },
		{ "text/plain; =x; charset=z", "charset", "z" },
		{ "text/plain; charset=", "charset", NULL },
		{ "text/plain;;;charset=w", "charset", "w" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *msg = g_strdup_printf("Content-Type: %s\r\n\r\nx", cases[i].field);
		g_autoptr(MimePart) root = mime_parse(msg, strlen(msg));
		ck_assert_str_eq(root->type, "text");
		const char *got = mime_part_param(root, cases[i].name);
		ck_assert_msg(g_strcmp0(got, cases[i].want) == 0, "%s: %s=%s", cases[i].field,
		              cases[i].name, got ? got : "(null)");
	}
	/* a disposition without a type is no disposition */
	static const char msg[] = "Content-Disposition: ; filename=x\r\n\r\n";
	g_autoptr(MimePart) root = mime_parse(msg, strlen(msg));
	ck_assert_ptr_null(root->disposition);
	/* the first Content-Type wins */
	static const char two[] = "Content-Type: text/html\r\nContent-Type: image/png\r\n\r\n";
	g_autoptr(MimePart) r2 = mime_parse(two, strlen(two));
	ck_assert_str_eq(r2->subtype, "html");
}
END_TEST

START_TEST(test_header_iteration)
{
	static const char msg[] =
		"Subject: one\r\n"
		"  two\r\n"
		" three\r\n"
		"no colon here\r\n"
		"X-Empty:\r\n"
		"Name With Space: x\r\n"
		"To : bob@example.org\r\n"
		"\r\n"
		"Subject: in the body\r\n";
	gsize len = strlen(msg);
	g_autoptr(MimePart) root = mime_parse(msg, len);
	gsize pos = root->header_start;
	MimeHeaderField f;
	const char *want_names[] = { "Subject", "X-Empty", "To" };
	const char *want_values[] = { "one  two three", "", "bob@example.org" };
	guint n = 0;
	while (mime_header_next(msg, &pos, root->header_end, &f)) {
		ck_assert_uint_lt(n, G_N_ELEMENTS(want_names));
		ck_assert(mime_header_field_is(msg, &f, want_names[n]));
		g_autofree char *v = mime_header_field_value(msg, &f);
		ck_assert_str_eq(v, want_values[n]);
		n++;
	}
	ck_assert_uint_eq(n, 3);
	g_autofree char *subject = mime_part_header_get(msg, root, "SUBJECT");
	ck_assert_str_eq(subject, "one  two three");
	ck_assert_ptr_null(mime_part_header_get(msg, root, "Cc"));
	/* the folded field keeps its continuation lines in its byte range */
	gsize p2 = 0;
	ck_assert(mime_header_next(msg, &p2, len, &f));
	ck_assert_uint_eq(f.end, strlen("Subject: one\r\n  two\r\n three\r\n"));
}
END_TEST

START_TEST(test_nul_in_header_value)
{
	static const char msg[] = "Subject: a\0b\r\n\r\nx";
	g_autoptr(MimePart) root = mime_parse(msg, sizeof(msg) - 1);
	g_autofree char *v = mime_part_header_get(msg, root, "Subject");
	ck_assert_str_eq(v, "ab");
}
END_TEST

START_TEST(test_depth_limit)
{
	/* 200 message/rfc822 wrapped in each other */
	GString *msg = g_string_new(NULL);
	for (int i = 0; i < 200; i++)
		g_string_append(msg, "Content-Type: message/rfc822\r\n\r\n");
	g_string_append(msg, "Subject: core\r\n\r\ncore\r\n");
	g_autoptr(MimePart) root = mime_parse(msg->str, msg->len);
	const MimePart *p = root;
	guint depth = 0;
	while (p->children->len > 0) {
		p = g_ptr_array_index(p->children, 0);
		depth++;
	}
	ck_assert_uint_eq(depth, MIME_MAX_DEPTH);
	ck_assert(p->degraded);
	ck_assert_str_eq(p->type, "text");
	g_string_free(msg, TRUE);
}
END_TEST

START_TEST(test_nested_multipart_depth_limit)
{
	GString *msg = g_string_new(NULL);
	for (int i = 0; i < 100; i++)
		g_string_append_printf(msg, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	g_string_append(msg, "\r\nleaf\r\n");
	g_autoptr(MimePart) root = mime_parse(msg->str, msg->len);
	ck_assert_uint_le(mime_part_count(root), MIME_MAX_DEPTH + 1);
	g_string_free(msg, TRUE);
}
END_TEST

START_TEST(test_part_count_limit)
{
	GString *msg = g_string_new("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 3 * MIME_MAX_PARTS; i++)
		g_string_append(msg, "--b\r\n\r\nx\r\n");
	g_string_append(msg, "--b--\r\n");
	g_autoptr(MimePart) root = mime_parse(msg->str, msg->len);
	ck_assert_uint_eq(mime_part_count(root), MIME_MAX_PARTS);
	g_string_free(msg, TRUE);
}
END_TEST

START_TEST(test_params_limit)
{
	GString *msg = g_string_new("Content-Type: text/plain");
	for (int i = 0; i < 5 * MIME_MAX_PARAMS; i++)
		g_string_append_printf(msg, "; p%d=v", i);
	g_string_append(msg, "\r\n\r\nx");
	g_autoptr(MimePart) root = mime_parse(msg->str, msg->len);
	ck_assert_uint_eq(root->params->len, MIME_MAX_PARAMS);
	g_string_free(msg, TRUE);
}
END_TEST

START_TEST(test_every_prefix)
{
	/* cutting a message anywhere must still give a sane tree */
	gsize len = strlen(nested_msg);
	for (gsize n = 0; n <= len; n++) {
		g_autofree char *copy = g_memdup2(nested_msg, n);
		g_autoptr(MimePart) root = mime_parse(copy, n);
		ck_assert_uint_eq(root->body_end, n);
		ck_assert_uint_le(root->header_end, n);
	}
}
END_TEST

static Suite *mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *tc = tcase_create("tables");
	tcase_add_loop_test(tc, test_valid_table, 0, G_N_ELEMENTS(valid_cases));
	tcase_add_loop_test(tc, test_broken_table, 0, G_N_ELEMENTS(broken_cases));
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_simple_offsets, 5);
	MS_ADD_TEST(s, test_multipart_fields, 5);
	MS_ADD_TEST(s, test_content_fields, 5);
	MS_ADD_TEST(s, test_parameter_edges, 5);
	MS_ADD_TEST(s, test_header_iteration, 5);
	MS_ADD_TEST(s, test_nul_in_header_value, 5);
	MS_ADD_TEST(s, test_depth_limit, 10);
	MS_ADD_TEST(s, test_nested_multipart_depth_limit, 10);
	MS_ADD_TEST(s, test_part_count_limit, 10);
	MS_ADD_TEST(s, test_params_limit, 5);
	MS_ADD_TEST(s, test_every_prefix, 10);
	return s;
}

MS_TEST_MAIN(mime_suite)
