/* tests/agents/mua/test_compose.c - writing messages: the exact bytes of a
 * plain and a multipart message, quoted-printable, base64, RFC 2047 words
 * both ways, folding, the envelope, replies, and a table of inputs that
 * must be refused.
 */
#include "tests/ms_test.h"
#include "agents/mua/compose.h"
#include "agents/common/mime.h"
#include "agents/common/rfc5322.h"

/* 2026-01-01 00:00:00 UTC, a Thursday */
#define NEW_YEAR_US (G_GINT64_CONSTANT(1767225600) * G_USEC_PER_SEC)

static ComposeInput base_input(void)
{
	ComposeInput in = {
		.from_name = "Alice Liddell",
		.from_address = "alice@example.com",
		.to = "Bob <bob@example.org>",
		.subject = "Hello Bob",
		.body = "See you at 5?\n",
		.message_id = "<abc@example.com>",
		.date_us = NEW_YEAR_US,
	};
	return in;
}

static char *compose_string(const ComposeInput *in)
{
	GError *err = NULL;
	GBytes *b = compose_message(in, &err);
	ck_assert_msg(b != NULL, "compose failed: %s", err ? err->message : "?");
	gsize len;
	const char *data = g_bytes_get_data(b, &len);
	char *s = g_strndup(data, len);
	ck_assert_uint_eq(strlen(s), len);   /* no NUL inside */
	g_bytes_unref(b);
	return s;
}

START_TEST(test_plain_message_exact)
{
	ComposeInput in = base_input();
	g_autofree char *m = compose_string(&in);
	ck_assert_str_eq(m,
		"Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
		"From: Alice Liddell <alice@example.com>\r\n"
		"To: Bob <bob@example.org>\r\n"
		"Subject: Hello Bob\r\n"
		"Message-ID: <abc@example.com>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=UTF-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"See you at 5?\r\n");
}
END_TEST

START_TEST(test_threading_cc_bcc_and_zone)
{
	ComposeInput in = base_input();
	in.cc = "carol@example.org, \"Doe, John\" <john@example.net>";
	in.bcc = "secret@example.net";
	in.in_reply_to = "<p@example.org>";
	in.references = "<o@example.org> <p@example.org>";
	in.user_agent = "mailsim (thunderbird)";
	in.zone_minutes = 60;
	in.body = "line one\r\nline two";
	g_autofree char *m = compose_string(&in);
	ck_assert_str_eq(m,
		"Date: Thu, 1 Jan 2026 01:00:00 +0100\r\n"
		"From: Alice Liddell <alice@example.com>\r\n"
		"To: Bob <bob@example.org>\r\n"
		"Cc: carol@example.org, \"Doe, John\" <john@example.net>\r\n"
		"Subject: Hello Bob\r\n"
		"Message-ID: <abc@example.com>\r\n"
		"In-Reply-To: <p@example.org>\r\n"
		"References: <o@example.org> <p@example.org>\r\n"
		"User-Agent: mailsim (thunderbird)\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=UTF-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"line one\r\n"
		"line two\r\n");
	/* Bcc is the envelope's, never the header's */
	ck_assert_ptr_null(strstr(m, "secret"));
}
END_TEST

START_TEST(test_only_bcc_is_undisclosed)
{
	ComposeInput in = base_input();
	in.to = NULL;
	in.bcc = "bob@example.org";
	g_autofree char *m = compose_string(&in);
	ck_assert_ptr_nonnull(strstr(m, "\r\nTo: undisclosed-recipients:;\r\n"));
	ck_assert_ptr_null(strstr(m, "bob@"));
}
END_TEST

START_TEST(test_multipart_exact)
{
	ComposeInput in = base_input();
	in.body = "Body";
	in.boundary = "b1";
	g_autoptr(GBytes) file = g_bytes_new_static("hi\n", 3);
	g_autoptr(GBytes) bin = g_bytes_new_static("\x00\xff\x10", 3);
	ComposeAttachment att[] = {
		{ "hello.txt", "text/plain", file },
		{ "Grüße.bin", "not a type", bin },
	};
	in.attachments = att;
	in.n_attachments = 2;
	g_autofree char *m = compose_string(&in);
	const char *tail = strstr(m, "MIME-Version");
	ck_assert_ptr_nonnull(tail);
	ck_assert_str_eq(tail,
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
		"\r\n"
		"This is a multi-part message in MIME format.\r\n"
		"--b1\r\n"
		"Content-Type: text/plain; charset=UTF-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"Body\r\n"
		"--b1\r\n"
		"Content-Type: text/plain; name=\"hello.txt\"\r\n"
		"Content-Disposition: attachment; filename=\"hello.txt\"\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"aGkK\r\n"
		"--b1\r\n"
		"Content-Type: application/octet-stream; name=\"=?UTF-8?B?R3LDvMOfZS5iaW4=?=\"\r\n"
		"Content-Disposition: attachment; filename*=UTF-8''Gr%C3%BC%C3%9Fe.bin\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"AP8Q\r\n"
		"--b1--\r\n");

	/* and a MIME reader sees what we meant */
	g_autoptr(MimePart) root = mime_parse(m, strlen(m));
	ck_assert_str_eq(root->type, "multipart");
	ck_assert_str_eq(root->subtype, "mixed");
	ck_assert_uint_eq(root->children->len, 3);
	MimePart *text = g_ptr_array_index(root->children, 0);
	ck_assert_str_eq(text->subtype, "plain");
	ck_assert_str_eq(mime_part_param(text, "charset"), "UTF-8");
	MimePart *a = g_ptr_array_index(root->children, 1);
	ck_assert_str_eq(a->disposition, "attachment");
	ck_assert_str_eq(a->encoding, "base64");
	g_autofree char *b64 = g_strndup(m + a->body_start, a->body_end - a->body_start);
	gsize n;
	g_autofree guchar *raw = g_base64_decode(b64, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(memcmp(raw, "hi\n", 3), 0);
}
END_TEST

START_TEST(test_long_attachment_lines)
{
	ComposeInput in = base_input();
	in.boundary = "------------0123456789abcdef";
	guint8 data[1000];
	for (guint i = 0; i < sizeof data; i++)
		data[i] = (guint8)(i * 7);
	g_autoptr(GBytes) file = g_bytes_new(data, sizeof data);
	ComposeAttachment att = { "data.bin", "application/octet-stream", file };
	in.attachments = &att;
	in.n_attachments = 1;
	g_autofree char *m = compose_string(&in);
	/* RFC 2045 6.8: base64 lines of at most 76 characters */
	g_auto(GStrv) lines = g_strsplit(m, "\r\n", -1);
	GString *b64 = g_string_new(NULL);
	gboolean in_body = FALSE;
	for (guint i = 0; lines[i]; i++) {
		ck_assert_uint_le(strlen(lines[i]), COMPOSE_FOLD_WIDTH);
		if (g_str_has_prefix(lines[i], "--------------0123456789abcdef"))
			in_body = FALSE;
		else if (in_body)
			g_string_append(b64, lines[i]);
		if (strstr(lines[i], "Content-Transfer-Encoding: base64"))
			in_body = TRUE;
	}
	gsize n;
	g_autofree guchar *raw = g_base64_decode(b64->str + 0, &n);
	g_string_free(b64, TRUE);
	ck_assert_uint_eq(n, sizeof data);
	ck_assert_int_eq(memcmp(raw, data, n), 0);
}
END_TEST

/* ---- quoted-printable ----------------------------------------------------------- */

typedef struct {
	const char *in;
	const char *out;
} QpCase;

static const QpCase qp_cases[] = {
	{ "Grüße aus Köln\n", "Gr=C3=BC=C3=9Fe aus K=C3=B6ln\r\n" },
	{ "a=b\n", "a=3Db\r\n" },
	{ "trailing space \nand tab\t\n", "trailing space=20\r\nand tab=09\r\n" },
	{ "no final newline", "no final newline\r\n" },
	{ "crlf\r\nlf\n", "crlf\r\nlf\r\n" },
	{ "", "" },
	{ "\n\n", "\r\n\r\n" },
	{ "cr\rinside\n", "cr=0Dinside\r\n" },
};

START_TEST(test_quoted_printable_table)
{
	const QpCase *c = &qp_cases[_i];
	g_autoptr(GString) out = g_string_new(NULL);
	compose_append_quoted_printable(out, c->in, strlen(c->in));
	ck_assert_str_eq(out->str, c->out);
}
END_TEST

/* Decode quoted-printable (for checking round trips). */
static GString *qp_decode(const char *s)
{
	GString *out = g_string_new(NULL);
	for (const char *p = s; *p; p++) {
		if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
			p += 2;
		} else if (p[0] == '=' && g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2])) {
			g_string_append_c(out, (char)(g_ascii_xdigit_value(p[1]) * 16 + g_ascii_xdigit_value(p[2])));
			p += 2;
		} else {
			g_string_append_c(out, *p);
		}
	}
	return out;
}

START_TEST(test_quoted_printable_long_lines)
{
	GString *text = g_string_new(NULL);
	for (int i = 0; i < 300; i++)
		g_string_append(text, i % 3 ? "é" : "= ");
	g_string_append(text, "\nshort\n");
	g_autoptr(GString) out = g_string_new(NULL);
	compose_append_quoted_printable(out, text->str, text->len);
	g_auto(GStrv) lines = g_strsplit(out->str, "\r\n", -1);
	for (guint i = 0; lines[i]; i++)
		ck_assert_uint_le(strlen(lines[i]), COMPOSE_ENCODED_LINE);
	g_autoptr(GString) back = qp_decode(out->str);
	g_autofree char *want = g_strdup(text->str);
	/* hard breaks come back as CRLF */
	g_autoptr(GString) want_crlf = g_string_new(NULL);
	for (const char *p = want; *p; p++) {
		if (*p == '\n')
			g_string_append_c(want_crlf, '\r');
		g_string_append_c(want_crlf, *p);
	}
	ck_assert_str_eq(back->str, want_crlf->str);
	g_string_free(text, TRUE);
}
END_TEST

START_TEST(test_non_ascii_body_is_quoted_printable)
{
	ComposeInput in = base_input();
	in.body = "Grüße\n";
	g_autofree char *m = compose_string(&in);
	ck_assert_ptr_nonnull(strstr(m, "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n"));
	/* 7-bit clean on the wire */
	for (const char *p = m; *p; p++)
		ck_assert_int_lt((guchar)*p, 0x80);
	/* and a line over 998 characters, though ASCII, is encoded too */
	GString *long_body = g_string_new(NULL);
	for (int i = 0; i < 1200; i++)
		g_string_append_c(long_body, 'x');
	in.body = long_body->str;
	g_autofree char *m2 = compose_string(&in);
	ck_assert_ptr_nonnull(strstr(m2, "Content-Transfer-Encoding: quoted-printable"));
	g_string_free(long_body, TRUE);
}
END_TEST

/* ---- RFC 2047, names, folding ---------------------------------------------------- */

typedef struct {
	const char *name;
	const char *address;
	const char *out;
} MailboxCase;

static const MailboxCase mailbox_cases[] = {
	{ "Alice Liddell", "alice@example.com", "Alice Liddell <alice@example.com>" },
	{ NULL, "alice@example.com", "alice@example.com" },
	{ "", "alice@example.com", "alice@example.com" },
	{ "Doe, John", "j@example.com", "\"Doe, John\" <j@example.com>" },
	{ "say \"hi\"", "j@example.com", "\"say \\\"hi\\\"\" <j@example.com>" },
	{ "two  spaces", "j@example.com", "\"two  spaces\" <j@example.com>" },
	{ "Zoë", "z@example.com", "=?UTF-8?B?Wm/Dqw==?= <z@example.com>" },
	{ "=?x?", "z@example.com", "=?UTF-8?B?PT94Pw==?= <z@example.com>" },
};

START_TEST(test_format_mailbox)
{
	const MailboxCase *c = &mailbox_cases[_i];
	g_autofree char *got = compose_format_mailbox(c->name, c->address);
	ck_assert_str_eq(got, c->out);
}
END_TEST

START_TEST(test_encoded_words_round_trip)
{
	g_autofree char *plain = compose_encode_words("plain text");
	ck_assert_str_eq(plain, "plain text");
	g_autofree char *one = compose_encode_words("Grüße");
	ck_assert_str_eq(one, "=?UTF-8?B?R3LDvMOfZQ==?=");
	GString *long_text = g_string_new(NULL);
	for (int i = 0; i < 100; i++)
		g_string_append(long_text, i % 10 ? "é" : "€ ");
	g_autofree char *words = compose_encode_words(long_text->str);
	g_auto(GStrv) parts = g_strsplit(words, " ", -1);
	ck_assert_uint_gt(g_strv_length(parts), 3);
	for (guint i = 0; parts[i]; i++)
		ck_assert_uint_le(strlen(parts[i]), COMPOSE_MAX_ENCODED_WORD);
	g_autofree char *back = compose_decode_words(words);
	ck_assert_str_eq(back, long_text->str);
	g_string_free(long_text, TRUE);
	ck_assert_ptr_null(compose_encode_words("\xff\xfe"));
}
END_TEST

typedef struct {
	const char *in;
	const char *out;
} DecodeCase;

static const DecodeCase decode_cases[] = {
	{ "=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße" },
	{ "=?ISO-8859-1?Q?Caf=E9?= au lait", "Café au lait" },
	{ "=?utf-8?q?a_b?= =?UTF-8?Q?c?=", "a bc" },
	{ "Re: =?UTF-8?B?R3LDvMOfZQ==?= again", "Re: Grüße again" },
	{ "=?UTF-8*en?Q?hi?=", "hi" },
	{ "plain =?bogus", "plain =?bogus" },
	{ "=?NO-SUCH-CHARSET?Q?x?=", "=?NO-SUCH-CHARSET?Q?x?=" },
	{ "=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=" },
	{ "=?UTF-8?B?/w==?=", "=?UTF-8?B?/w==?=" },   /* not UTF-8 inside: left alone */
	{ "", "" },
};

START_TEST(test_decode_words)
{
	const DecodeCase *c = &decode_cases[_i];
	g_autofree char *got = compose_decode_words(c->in);
	ck_assert_str_eq(got, c->out);
}
END_TEST

START_TEST(test_folding)
{
	GString *subject = g_string_new(NULL);
	for (int i = 0; i < 30; i++)
		g_string_append_printf(subject, "%sword%d", i ? " " : "", i);
	g_autoptr(GString) out = g_string_new(NULL);
	compose_append_field(out, "Subject", subject->str);
	g_auto(GStrv) lines = g_strsplit(out->str, "\r\n", -1);
	ck_assert_uint_gt(g_strv_length(lines), 2);
	for (guint i = 0; lines[i] && *lines[i]; i++) {
		ck_assert_uint_le(strlen(lines[i]), COMPOSE_FOLD_WIDTH);
		if (i > 0)
			ck_assert_int_eq(lines[i][0], ' ');
	}
	/* RFC 5322 2.2.3: unfolding gives the value back */
	g_autofree char *unfolded = rfc5322_unfold(out->str + strlen("Subject: "), out->len - strlen("Subject: "));
	ck_assert_str_eq(unfolded, subject->str);
	g_string_free(subject, TRUE);

	/* a word longer than the line stays whole; trailing blanks go */
	g_autoptr(GString) out2 = g_string_new(NULL);
	GString *word = g_string_new(NULL);
	for (int i = 0; i < 120; i++)
		g_string_append_c(word, 'w');
	g_string_append(word, "  ");
	compose_append_field(out2, "X", word->str);
	ck_assert_uint_eq(out2->len, strlen("X: ") + 120 + 2);
	g_string_free(word, TRUE);
}
END_TEST

START_TEST(test_non_ascii_subject_and_name)
{
	ComposeInput in = base_input();
	in.from_name = "Zoë";
	in.subject = "Grüße\r\nBcc: injected@evil.example";
	g_autofree char *m = compose_string(&in);
	ck_assert_ptr_nonnull(strstr(m, "From: =?UTF-8?B?Wm/Dqw==?= <alice@example.com>\r\n"));
	/* the line break in the subject became blanks, not a new field */
	ck_assert_ptr_null(strstr(m, "\r\nBcc:"));
	g_autoptr(Rfc5322Header) h = rfc5322_parse_header(m, strlen(m), NULL);
	g_autofree char *subject = compose_decode_words(rfc5322_header_get(h, "Subject"));
	ck_assert_str_eq(subject, "Grüße  Bcc: injected@evil.example");
}
END_TEST

/* ---- envelope and replies ------------------------------------------------------- */

START_TEST(test_recipients)
{
	GError *err = NULL;
	g_autoptr(GPtrArray) r = compose_recipients("Bob <bob@example.org>, carol@example.org",
	                                            "BOB@example.org", "dave@example.net", &err);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->len, 3);
	ck_assert_str_eq(g_ptr_array_index(r, 0), "bob@example.org");
	ck_assert_str_eq(g_ptr_array_index(r, 1), "carol@example.org");
	ck_assert_str_eq(g_ptr_array_index(r, 2), "dave@example.net");
	ck_assert_ptr_null(compose_recipients(NULL, "  ", NULL, &err));
	ck_assert(g_error_matches(err, COMPOSE_ERROR, COMPOSE_ERROR_NO_RECIPIENT));
	g_clear_error(&err);
	ck_assert_ptr_null(compose_recipients("bob", NULL, NULL, &err));
	ck_assert(g_error_matches(err, COMPOSE_ERROR, COMPOSE_ERROR_ADDRESS));
	g_clear_error(&err);
	GString *many = g_string_new(NULL);
	for (int i = 0; i <= COMPOSE_MAX_RECIPIENTS; i++)
		g_string_append_printf(many, "%su%d@example.org", i ? "," : "", i);
	ck_assert_ptr_null(compose_recipients(many->str, NULL, NULL, &err));
	ck_assert(g_error_matches(err, COMPOSE_ERROR, COMPOSE_ERROR_TOO_LARGE));
	g_clear_error(&err);
	g_string_free(many, TRUE);
}
END_TEST

START_TEST(test_reply_helpers)
{
	const char *subjects[][2] = {
		{ "Hello", "Re: Hello" }, { "Re: Hello", "Re: Hello" }, { "RE: x", "RE: x" },
		{ "  re:x", "re:x" }, { "Reply hazy", "Re: Reply hazy" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(subjects); i++) {
		g_autofree char *got = compose_reply_subject(subjects[i][0]);
		ck_assert_str_eq(got, subjects[i][1]);
	}
	g_autofree char *none = compose_reply_subject(NULL);
	ck_assert_str_eq(none, "Re: ");
	g_autofree char *r1 = compose_reply_references(NULL, NULL, "<a@b>");
	ck_assert_str_eq(r1, "<a@b>");
	g_autofree char *r2 = compose_reply_references("<x@y>", "<z@w>", "<a@b>");
	ck_assert_str_eq(r2, "<x@y> <a@b>");
	g_autofree char *r3 = compose_reply_references(NULL, "<p@q>", "<a@b>");
	ck_assert_str_eq(r3, "<p@q> <a@b>");
	g_autofree char *r4 = compose_reply_references("<x@y>", NULL, NULL);
	ck_assert_str_eq(r4, "<x@y>");
	ck_assert_ptr_null(compose_reply_references(NULL, "", NULL));
}
END_TEST

START_TEST(test_draft_without_recipient)
{
	ComposeInput in = base_input();
	in.to = NULL;
	GError *err = NULL;
	ck_assert_ptr_null(compose_message(&in, &err));
	ck_assert(g_error_matches(err, COMPOSE_ERROR, COMPOSE_ERROR_NO_RECIPIENT));
	g_clear_error(&err);
	in.draft = TRUE;
	g_autofree char *m = compose_string(&in);
	ck_assert_ptr_null(strstr(m, "\r\nTo:"));
}
END_TEST

/* ---- what must be refused --------------------------------------------------------- */

typedef struct {
	const char  *name;
	void       (*spoil)(ComposeInput *in);
	ComposeError code;
} BadCase;

static void bad_to(ComposeInput *in) { in->to = "bob"; }
static void bad_to_unbalanced(ComposeInput *in) { in->to = "Bob <bob@example.org"; }
static void no_recipient(ComposeInput *in) { in->to = NULL; }
static void bad_id(ComposeInput *in) { in->message_id = "abc"; }
static void id_with_space(ComposeInput *in) { in->message_id = "<a b@c>"; }
static void bad_subject(ComposeInput *in) { in->subject = "\xc3\x28"; }
static void bad_body(ComposeInput *in) { in->body = "\xff\n"; }
static void no_from(ComposeInput *in) { in->from_address = ""; }
static void from_injection(ComposeInput *in) { in->from_address = "a@b\r\nBcc: x@y"; }
static void bad_refs(ComposeInput *in) { in->references = "<a@b>\r\nX: y"; }
static void bad_date(ComposeInput *in) { in->date_us = G_MAXINT64; }

static GBytes *one_byte;
static ComposeAttachment one_attachment;
static ComposeAttachment many_attachments[COMPOSE_MAX_ATTACHMENTS + 1];

static void boundary_in_text(ComposeInput *in)
{
	in->body = "before\n--b1\nafter\n";
	in->boundary = "b1";
	in->attachments = &one_attachment;
	in->n_attachments = 1;
}

static void boundary_with_space(ComposeInput *in)
{
	in->boundary = "has space";
	in->attachments = &one_attachment;
	in->n_attachments = 1;
}

static void no_boundary(ComposeInput *in)
{
	in->boundary = NULL;
	in->attachments = &one_attachment;
	in->n_attachments = 1;
}

static void too_many_attachments(ComposeInput *in)
{
	in->boundary = "b";
	in->attachments = many_attachments;
	in->n_attachments = G_N_ELEMENTS(many_attachments);
}

static void long_file_name(ComposeInput *in)
{
	static char name[300];
	memset(name, 'n', sizeof name - 1);
	static ComposeAttachment a;
	a.filename = name;
	a.data = one_byte;
	in->boundary = "b";
	in->attachments = &a;
	in->n_attachments = 1;
}

static const BadCase bad_cases[] = {
	{ "To without a domain", bad_to, COMPOSE_ERROR_ADDRESS },
	{ "To with an open <", bad_to_unbalanced, COMPOSE_ERROR_ADDRESS },
	{ "nobody to send to", no_recipient, COMPOSE_ERROR_NO_RECIPIENT },
	{ "a Message-ID without <>", bad_id, COMPOSE_ERROR_INVALID },
	{ "a Message-ID with a blank", id_with_space, COMPOSE_ERROR_INVALID },
	{ "a subject that is not UTF-8", bad_subject, COMPOSE_ERROR_INVALID },
	{ "a body that is not UTF-8", bad_body, COMPOSE_ERROR_INVALID },
	{ "no sender", no_from, COMPOSE_ERROR_INVALID },
	{ "a sender with a line break", from_injection, COMPOSE_ERROR_INVALID },
	{ "References with a line break", bad_refs, COMPOSE_ERROR_INVALID },
	{ "a date beyond year 9999", bad_date, COMPOSE_ERROR_INVALID },
	{ "the boundary in the text", boundary_in_text, COMPOSE_ERROR_BOUNDARY },
	{ "a boundary with a space", boundary_with_space, COMPOSE_ERROR_INVALID },
	{ "attachments without a boundary", no_boundary, COMPOSE_ERROR_INVALID },
	{ "too many attachments", too_many_attachments, COMPOSE_ERROR_TOO_LARGE },
	{ "a file name over the limit", long_file_name, COMPOSE_ERROR_INVALID },
};

START_TEST(test_refused)
{
	const BadCase *c = &bad_cases[_i];
	one_byte = g_bytes_new_static("x", 1);
	one_attachment = (ComposeAttachment){ "x.txt", "text/plain", one_byte };
	for (guint i = 0; i < G_N_ELEMENTS(many_attachments); i++)
		many_attachments[i] = one_attachment;
	ComposeInput in = base_input();
	c->spoil(&in);
	GError *err = NULL;
	GBytes *b = compose_message(&in, &err);
	ck_assert_msg(b == NULL, "%s: composed anyway", c->name);
	ck_assert_msg(g_error_matches(err, COMPOSE_ERROR, c->code), "%s: got %s", c->name,
	              err ? err->message : "no error");
	g_error_free(err);
	g_bytes_unref(one_byte);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(compose_error_to_string(COMPOSE_ERROR_BOUNDARY), "boundary");
	ck_assert_str_eq(compose_cte_to_string(COMPOSE_CTE_QUOTED_PRINTABLE), "quoted-printable");
	ck_assert_str_eq(compose_cte_to_string((ComposeCte)42), "unknown");
}
END_TEST

static Suite *compose_suite(void)
{
	Suite *s = suite_create("compose");
	MS_ADD_TEST(s, test_plain_message_exact, 10);
	MS_ADD_TEST(s, test_threading_cc_bcc_and_zone, 10);
	MS_ADD_TEST(s, test_only_bcc_is_undisclosed, 10);
	MS_ADD_TEST(s, test_multipart_exact, 10);
	MS_ADD_TEST(s, test_long_attachment_lines, 10);
	TCase *qp = tcase_create("quoted-printable");
	tcase_add_loop_test(qp, test_quoted_printable_table, 0, G_N_ELEMENTS(qp_cases));
	suite_add_tcase(s, qp);
	MS_ADD_TEST(s, test_quoted_printable_long_lines, 10);
	MS_ADD_TEST(s, test_non_ascii_body_is_quoted_printable, 10);
	TCase *mb = tcase_create("mailboxes");
	tcase_add_loop_test(mb, test_format_mailbox, 0, G_N_ELEMENTS(mailbox_cases));
	suite_add_tcase(s, mb);
	MS_ADD_TEST(s, test_encoded_words_round_trip, 10);
	TCase *dec = tcase_create("decode words");
	tcase_add_loop_test(dec, test_decode_words, 0, G_N_ELEMENTS(decode_cases));
	suite_add_tcase(s, dec);
	MS_ADD_TEST(s, test_folding, 10);
	MS_ADD_TEST(s, test_non_ascii_subject_and_name, 10);
	MS_ADD_TEST(s, test_recipients, 10);
	MS_ADD_TEST(s, test_reply_helpers, 10);
	MS_ADD_TEST(s, test_draft_without_recipient, 10);
	TCase *bad = tcase_create("refused");
	tcase_add_loop_test(bad, test_refused, 0, G_N_ELEMENTS(bad_cases));
	suite_add_tcase(s, bad);
	MS_ADD_TEST(s, test_names, 10);
	return s;
}

MS_TEST_MAIN(compose_suite)
