/* tests/agents/common/test_rfc5322.c - headers, addresses and dates.
 *
 * Valid and invalid tables for the header splitter and the address-list
 * parser, the bounds that keep hostile headers finite, and Date fields
 * checked against an independent computation.
 */
#include "tests/ms_test.h"
#include "agents/common/rfc5322.h"

/* ---- header -------------------------------------------------------------------- */

typedef struct {
	const char *name;
	const char *msg;
	const char *fields;     /* "Name=value" joined with '|', "" for none */
	const char *body;
	gboolean    separator;
} HeaderCase;

static const HeaderCase header_valid[] = {
	{ "plain", "From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\n\r\nbody\r\n",
	  "From=a@b.example|To=c@d.example|Subject=hi", "body\r\n", TRUE },
	{ "folded", "Subject: a\r\n b\r\n\tc\r\nX: y\r\n\r\n",
	  "Subject=a b\tc|X=y", "", TRUE },
	{ "LF endings", "A: 1\nB:  2 \n\nbody", "A=1|B=2", "body", TRUE },
	{ "no body", "A: 1\r\n", "A=1", "", FALSE },
	{ "no final line ending", "A: 1", "A=1", "", FALSE },
	{ "empty message", "", "", "", FALSE },
	{ "body only", "\r\nbody\r\n", "", "body\r\n", TRUE },
	{ "not a field ends it", "A: 1\r\nnot a field\r\nB: 2\r\n", "A=1", "not a field\r\nB: 2\r\n", FALSE },
	{ "mbox From line", "From bob@x.example Mon Jan  1 00:00:00 2024\r\nA: 1\r\n", "",
	  "From bob@x.example Mon Jan  1 00:00:00 2024\r\nA: 1\r\n", FALSE },
	{ "fold with nothing above", " x\r\nA: 1\r\n", "", " x\r\nA: 1\r\n", FALSE },
	{ "blank before colon", "Subject  : hi\r\n\r\n", "Subject=hi", "", TRUE },
	{ "empty value", "X-Empty:\r\nY:\r\n \r\n\r\nb", "X-Empty=|Y=", "b", TRUE },
	{ "colons in value", "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n\r\n",
	  "Date=Tue, 1 Jul 2003 10:52:37 +0200", "", TRUE },
	{ "CRLF inside a body", "A: 1\r\n\r\nx\r\n\r\nB: 2\r\n", "A=1", "x\r\n\r\nB: 2\r\n", TRUE },
	{ "odd field names", "X-Weird!#$: v\r\n~: w\r\n\r\n", "X-Weird!#$=v|~=w", "", TRUE },
};

static char *fields_string(const Rfc5322Header *h)
{
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < h->fields->len; i++) {
		const Rfc5322Field *f = g_ptr_array_index(h->fields, i);
		g_string_append_printf(out, "%s%s=%s", i ? "|" : "", f->name, f->value);
	}
	return g_string_free(out, FALSE);
}

START_TEST(test_header_valid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(header_valid); i++) {
		const HeaderCase *tc = &header_valid[i];
		gsize len = strlen(tc->msg);
		g_autoptr(GError) error = NULL;
		g_autoptr(Rfc5322Header) h = rfc5322_parse_header(tc->msg, len, &error);
		ck_assert_msg(h != NULL, "%s: %s", tc->name, error ? error->message : "?");
		g_autofree char *fields = fields_string(h);
		ck_assert_msg(strcmp(fields, tc->fields) == 0, "%s: fields '%s'", tc->name, fields);
		ck_assert_msg(strcmp(tc->msg + h->body_offset, tc->body) == 0, "%s: body '%s'", tc->name,
		              tc->msg + h->body_offset);
		ck_assert_msg(h->has_separator == tc->separator, "%s: separator", tc->name);
		ck_assert_uint_le(h->body_offset, len);

		/* Fields tile the header: each starts where the last ended. */
		gsize at = 0;
		for (guint f = 0; f < h->fields->len; f++) {
			const Rfc5322Field *field = g_ptr_array_index(h->fields, f);
			ck_assert_uint_eq(field->offset, at);
			ck_assert(strncmp(tc->msg + field->offset, field->name, strlen(field->name)) == 0);
			at += field->length;
		}
	}
}
END_TEST

START_TEST(test_header_lookup)
{
	const char *msg = "Received: from a\r\nreceived: from b\r\n (folded)\r\nSubject: s\r\nRECEIVED: from c\r\n\r\n";
	g_autoptr(Rfc5322Header) h = rfc5322_parse_header(msg, strlen(msg), NULL);
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(rfc5322_header_get(h, "subject"), "s");
	ck_assert_str_eq(rfc5322_header_get(h, "RECEIVED"), "from a");
	ck_assert_ptr_null(rfc5322_header_get(h, "To"));
	ck_assert_ptr_null(rfc5322_header_find(h, "Receive"));

	g_autoptr(GPtrArray) all = rfc5322_header_find_all(h, "Received");
	ck_assert_uint_eq(all->len, 3);
	ck_assert_str_eq(((Rfc5322Field *)g_ptr_array_index(all, 1))->value, "from b (folded)");
	ck_assert_str_eq(((Rfc5322Field *)g_ptr_array_index(all, 2))->value, "from c");
	const Rfc5322Field *second = g_ptr_array_index(all, 1);
	ck_assert_uint_eq(second->length, strlen("received: from b\r\n (folded)\r\n"));

	g_autoptr(GPtrArray) none = rfc5322_header_find_all(h, "Cc");
	ck_assert_uint_eq(none->len, 0);
}
END_TEST

START_TEST(test_header_bounds)
{
	/* RFC5322_MAX_FIELDS fields pass; one more does not. */
	g_autoptr(GString) msg = g_string_new(NULL);
	for (int i = 0; i < RFC5322_MAX_FIELDS; i++)
		g_string_append_printf(msg, "X-%d: v\r\n", i);
	g_autoptr(Rfc5322Header) ok = rfc5322_parse_header(msg->str, msg->len, NULL);
	ck_assert_ptr_nonnull(ok);
	ck_assert_uint_eq(ok->fields->len, RFC5322_MAX_FIELDS);
	g_string_append(msg, "X-last: v\r\n\r\n");
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(rfc5322_parse_header(msg->str, msg->len, &error));
	ck_assert(g_error_matches(error, RFC5322_ERROR, RFC5322_ERROR_TOO_MANY_FIELDS));

	/* A field of exactly the limit, line ending included, passes. */
	g_autoptr(GString) field = g_string_new("X: ");
	while (field->len < RFC5322_MAX_FIELD_LENGTH - 2)
		g_string_append_c(field, 'v');
	g_string_append(field, "\r\n");
	g_autoptr(Rfc5322Header) fits = rfc5322_parse_header(field->str, field->len, NULL);
	ck_assert_ptr_nonnull(fits);
	/* One more octet, on one line or spread over folds, does not. */
	g_string_insert_c(field, 3, 'v');
	g_autoptr(GError) e1 = NULL;
	ck_assert_ptr_null(rfc5322_parse_header(field->str, field->len, &e1));
	ck_assert(g_error_matches(e1, RFC5322_ERROR, RFC5322_ERROR_FIELD_TOO_LONG));

	g_autoptr(GString) folded = g_string_new("X: a\r\n");
	while (folded->len <= RFC5322_MAX_FIELD_LENGTH)
		g_string_append(folded, " folded line\r\n");
	g_autoptr(GError) e2 = NULL;
	ck_assert_ptr_null(rfc5322_parse_header(folded->str, folded->len, &e2));
	ck_assert(g_error_matches(e2, RFC5322_ERROR, RFC5322_ERROR_FIELD_TOO_LONG));

	/* NULs do not stop the parser early or let it read past the end. */
	const char nul_msg[] = "A: x\0y\r\nB: 2\r\n\r\nbody";
	g_autoptr(Rfc5322Header) h = rfc5322_parse_header(nul_msg, sizeof(nul_msg) - 1, NULL);
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->fields->len, 2);
	ck_assert_str_eq(rfc5322_header_get(h, "B"), "2");
}
END_TEST

START_TEST(test_unfold)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "  a\r\n b  ", "a b" },
		{ "a\r\n\tb", "a\tb" },
		{ "a\n b", "a b" },
		{ "a\r\nb", "a\r\nb" },   /* no blank after: not a fold */
		{ "a\r\n", "a" },
		{ "\r\n ", "" },
		{ "", "" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *out = rfc5322_unfold(cases[i].in, strlen(cases[i].in));
		ck_assert_str_eq(out, cases[i].out);
	}
}
END_TEST

/* ---- addresses ------------------------------------------------------------------ */

typedef struct {
	const char *value;
	const char *want;   /* "display|addr" joined with ';', display empty when none */
} AddressCase;

static const AddressCase address_valid[] = {
	{ "alice@example.org", "|alice@example.org" },
	{ "Alice <alice@example.org>", "Alice|alice@example.org" },
	{ "\"Doe, John\" <john@example.org>, bob@example.org",
	  "Doe, John|john@example.org;|bob@example.org" },
	{ "Alice Smith (work) <a@x.example>", "Alice Smith|a@x.example" },
	{ "a@x.example (Alice)", "|a@x.example" },
	{ "team: a@x.example, B <b@y.example>;, c@z.example",
	  "|a@x.example;B|b@y.example;|c@z.example" },
	{ "undisclosed-recipients:;", "" },
	{ "", "" },
	{ " , ,", "" },
	{ "a@x.example, , b@y.example", "|a@x.example;|b@y.example" },
	{ "<@route.example,@r2.example:a@x.example>", "|a@x.example" },
	{ "\"john doe\"@example.org", "|\"john doe\"@example.org" },
	{ "<\"odd>addr\"@example.org>", "|\"odd>addr\"@example.org" },
	{ "a@[192.0.2.1]", "|a@[192.0.2.1]" },
	{ "x <a@[IPv6:2001:db8::1]>", "x|a@[IPv6:2001:db8::1]" },
	{ "  Bob   Jones  <bob@x.example>", "Bob Jones|bob@x.example" },
	{ "Alice\r\n <a@x.example>", "Alice|a@x.example" },
	{ "bob @ example.org", "|bob@example.org" },
	{ "< bob@example.org >", "|bob@example.org" },
	{ "=?UTF-8?Q?J=C3=B6rg?= <j@x.example>", "=?UTF-8?Q?J=C3=B6rg?=|j@x.example" },
	{ "\"a\\\"b\" <q@x.example>", "a\"b|q@x.example" },
	{ "((nested) comment) a@x.example", "|a@x.example" },
	{ "g: a@x.example;", "|a@x.example" },
	{ "a@x.example; b@y.example", "|a@x.example;|b@y.example" },
	/* Sloppy but common: an unquoted '@' in the display name. */
	{ "bob@x.example <bob@x.example>", "bob@x.example|bob@x.example" },
	{ "J\xc3\xb6rg <j\xc3\xb6rg@x.example>", "J\xc3\xb6rg|j\xc3\xb6rg@x.example" },
	{ "<\"a@b\"@x.example>", "|\"a@b\"@x.example" },
};

static char *addresses_string(GPtrArray *list)
{
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < list->len; i++) {
		const Rfc5322Address *a = g_ptr_array_index(list, i);
		g_string_append_printf(out, "%s%s|%s", i ? ";" : "", a->display_name ? a->display_name : "",
		                       a->addr_spec);
	}
	return g_string_free(out, FALSE);
}

START_TEST(test_address_valid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(address_valid); i++) {
		const AddressCase *tc = &address_valid[i];
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) list = rfc5322_parse_address_list(tc->value, strlen(tc->value), &error);
		ck_assert_msg(list != NULL, "'%s': %s", tc->value, error ? error->message : "?");
		g_autofree char *got = addresses_string(list);
		ck_assert_msg(strcmp(got, tc->want) == 0, "'%s': got '%s'", tc->value, got);
	}
}
END_TEST

static const char *const address_invalid[] = {
	"\"unterminated <a@b.example>",
	"(unterminated a@b.example",
	"<a@b.example",
	"a@b.example>",
	"a@b.example)",
	"Alice",
	"<a@b.example> <c@d.example>",
	"<a@b.example <c@d.example>>",
	"g1: g2: a@b.example;;",
	"<>",
	"@b.example",
	"a@",
	"a@[1.2.3.4",
	"<@route.example a@b.example>",
	"(((((((((((((((((deep))))))))))))))))) a@b.example",
	"a@b.example\\",
	"a@b@c.example",
	"<a;b@c.example>",
};

START_TEST(test_address_invalid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(address_invalid); i++) {
		const char *v = address_invalid[i];
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) list = rfc5322_parse_address_list(v, strlen(v), &error);
		ck_assert_msg(list == NULL, "'%s' accepted", v);
		ck_assert_msg(g_error_matches(error, RFC5322_ERROR, RFC5322_ERROR_BAD_ADDRESS), "'%s': %s", v,
		              error ? error->message : "no error");
	}
}
END_TEST

START_TEST(test_address_bounds)
{
	g_autoptr(GString) v = g_string_new(NULL);
	for (int i = 0; i < RFC5322_MAX_ADDRESSES; i++)
		g_string_append(v, "a@b.example,");
	g_autoptr(GPtrArray) ok = rfc5322_parse_address_list(v->str, v->len, NULL);
	ck_assert_ptr_nonnull(ok);
	ck_assert_uint_eq(ok->len, RFC5322_MAX_ADDRESSES);
	g_string_append(v, "one@more.example");
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(rfc5322_parse_address_list(v->str, v->len, &error));
	ck_assert(g_error_matches(error, RFC5322_ERROR, RFC5322_ERROR_TOO_MANY_ADDRESSES));

	/* Comments nested exactly RFC5322_MAX_COMMENT_DEPTH deep pass. */
	g_autoptr(GString) deep = g_string_new(NULL);
	for (int i = 0; i < RFC5322_MAX_COMMENT_DEPTH; i++)
		g_string_append_c(deep, '(');
	for (int i = 0; i < RFC5322_MAX_COMMENT_DEPTH; i++)
		g_string_append_c(deep, ')');
	g_string_append(deep, " a@b.example");
	g_autoptr(GPtrArray) d = rfc5322_parse_address_list(deep->str, deep->len, NULL);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->len, 1);
}
END_TEST

START_TEST(test_address_from_header)
{
	const char *msg = "From: \"Alice A.\" <alice@example.org>\r\n"
	                  "To: bob@example.net,\r\n  Carol <carol@example.com>\r\n\r\nHi\r\n";
	g_autoptr(Rfc5322Header) h = rfc5322_parse_header(msg, strlen(msg), NULL);
	const char *to = rfc5322_header_get(h, "To");
	g_autoptr(GPtrArray) list = rfc5322_parse_address_list(to, strlen(to), NULL);
	g_autofree char *got = addresses_string(list);
	ck_assert_str_eq(got, "|bob@example.net;Carol|carol@example.com");
	const char *from = rfc5322_header_get(h, "From");
	g_autoptr(GPtrArray) f = rfc5322_parse_address_list(from, strlen(from), NULL);
	g_autofree char *got_from = addresses_string(f);
	ck_assert_str_eq(got_from, "Alice A.|alice@example.org");
}
END_TEST

/* ---- date ------------------------------------------------------------------------ */

START_TEST(test_format_date)
{
	/* Expected values computed with Python's datetime, not with GLib. */
	static const struct { gint64 secs; int zone; const char *want; } cases[] = {
		{ 0, 0, "Thu, 1 Jan 1970 00:00:00 +0000" },
		{ 1057049557, 120, "Tue, 1 Jul 2003 10:52:37 +0200" },
		{ 1057049557, -600, "Mon, 30 Jun 2003 22:52:37 -1000" },
		{ -1, 0, "Wed, 31 Dec 1969 23:59:59 +0000" },
		{ 1700000000, -330, "Tue, 14 Nov 2023 16:43:20 -0530" },
		{ 951782400, 0, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ 253402300799, 0, "Fri, 31 Dec 9999 23:59:59 +0000" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *date = rfc5322_format_date(cases[i].secs * G_USEC_PER_SEC, cases[i].zone);
		ck_assert_str_eq(date, cases[i].want);
	}
	/* Microseconds round down, also before the epoch. */
	g_autofree char *before = rfc5322_format_date(-1, 0);
	ck_assert_str_eq(before, "Wed, 31 Dec 1969 23:59:59 +0000");
	g_autofree char *after = rfc5322_format_date(999999, 0);
	ck_assert_str_eq(after, "Thu, 1 Jan 1970 00:00:00 +0000");
	/* Out of GDateTime's years: no date rather than a wrong one. */
	ck_assert_ptr_null(rfc5322_format_date(253402300800 * G_USEC_PER_SEC, 0));
	ck_assert_ptr_null(rfc5322_format_date(G_MININT64, 0));
}
END_TEST

START_TEST(test_error_names)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (int e = RFC5322_ERROR_TOO_MANY_FIELDS; e <= RFC5322_ERROR_TOO_MANY_ADDRESSES; e++) {
		const char *name = rfc5322_error_to_string((Rfc5322Error)e);
		ck_assert_str_ne(name, "unknown");
		ck_assert(g_hash_table_add(seen, (gpointer)name));
	}
	ck_assert_str_eq(rfc5322_error_to_string((Rfc5322Error)(RFC5322_ERROR_TOO_MANY_ADDRESSES + 1)),
	                 "unknown");
}
END_TEST

static Suite *rfc5322_suite(void)
{
	Suite *s = suite_create("rfc5322");
	MS_ADD_TEST(s, test_header_valid, 10);
	MS_ADD_TEST(s, test_header_lookup, 10);
	MS_ADD_TEST(s, test_header_bounds, 10);
	MS_ADD_TEST(s, test_unfold, 10);
	MS_ADD_TEST(s, test_address_valid, 10);
	MS_ADD_TEST(s, test_address_invalid, 10);
	MS_ADD_TEST(s, test_address_bounds, 10);
	MS_ADD_TEST(s, test_address_from_header, 10);
	MS_ADD_TEST(s, test_format_date, 10);
	MS_ADD_TEST(s, test_error_names, 10);
	return s;
}

MS_TEST_MAIN(rfc5322_suite)
