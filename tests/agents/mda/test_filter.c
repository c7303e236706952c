/* tests/agents/mda/test_filter.c - virus scan and spam rules (agents/mda/filter.c).
 *
 * The EICAR test file plain, base64 encoded, deep in multiparts, and clean
 * mail; each spam rule firing alone on an otherwise clean message, a
 * spammy message over the threshold, and the exact header lines.
 */
#include "tests/ms_test.h"
#include "agents/mda/filter.h"

/* Split in two, as in filter.c, so no scanner quarantines this file. */
#define EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-" "ANTIVIRUS-TEST-FILE!$H+H*"

/* base64 of s, wrapped at width characters per CRLF line */
static char *base64_wrapped(const char *s, gsize width)
{
	g_autofree char *b64 = g_base64_encode((const guchar *)s, strlen(s));
	GString *out = g_string_new(NULL);
	for (gsize i = 0; b64[i]; i++) {
		g_string_append_c(out, b64[i]);
		if ((i + 1) % width == 0)
			g_string_append(out, "\r\n");
	}
	g_string_append(out, "\r\n");
	return g_string_free(out, FALSE);
}

static void assert_virus(const char *msg, gboolean found, guint part)
{
	FilterVirusResult r;
	gboolean got = filter_virus_scan(msg, strlen(msg), &r);
	ck_assert_int_eq(got, found);
	ck_assert_int_eq(r.found, found);
	if (found) {
		ck_assert_str_eq(r.signature, "Eicar-Test-Signature");
		ck_assert_uint_eq(r.part, part);
	} else {
		ck_assert_ptr_null(r.signature);
	}
}

/* ---- virus -------------------------------------------------------------- */

START_TEST(test_virus_plain)
{
	assert_virus("From: a@example.org\r\nSubject: test\r\n\r\n" EICAR "\r\n", TRUE, 0);
	/* anywhere: even in a header, even with LF lines */
	assert_virus("X-Note: " EICAR "\n\nhello\n", TRUE, 0);
	assert_virus(EICAR, TRUE, 0);
	/* one octet changed is not the signature */
	assert_virus("Subject: t\r\n\r\nX5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-"
	             "ANTIVIRUS-TEST-FILE!$H+H-\r\n", FALSE, 0);
}
END_TEST

START_TEST(test_virus_base64_single_part)
{
	g_autofree char *b64 = base64_wrapped(EICAR, 20);
	g_autofree char *msg = g_strconcat(
		"From: a@example.org\r\nMIME-Version: 1.0\r\n"
		"Content-Type: application/octet-stream\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n", b64, NULL);
	ck_assert_ptr_null(strstr(msg, "EICAR"));  /* not visible without decoding */
	assert_virus(msg, TRUE, 1);
}
END_TEST

START_TEST(test_virus_base64_multipart)
{
	g_autofree char *b64 = base64_wrapped(EICAR, 76);
	g_autofree char *msg = g_strconcat(
		"From: a@example.org\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed;\r\n boundary=\"=_Part_1\"\r\n\r\n"
		"This is a multi-part message in MIME format.\r\n"
		"--=_Part_1\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
		"--=_Part_1\r\nContent-Type: application/x-msdownload; name=\"eicar.com\"\r\n"
		"Content-Transfer-Encoding: BASE64\r\n\r\n", b64,
		"--=_Part_1--\r\nepilogue\r\n", NULL);
	assert_virus(msg, TRUE, 2);
}
END_TEST

START_TEST(test_virus_nested_and_attached_message)
{
	g_autofree char *b64 = base64_wrapped(EICAR, 60);
	/* mixed( alternative(text, html), message/rfc822( mixed( base64 ) ) ) */
	g_autofree char *msg = g_strconcat(
		"Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
		"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
		"--inner\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
		"--inner\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n"
		"--inner--\r\n"
		"--outer\r\nContent-Type: message/rfc822\r\n\r\n"
		"Subject: forwarded\r\nContent-Type: multipart/mixed; boundary=\"fw\"\r\n\r\n"
		"--fw\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		b64, "--fw--\r\n"
		"--outer--\r\n", NULL);
	assert_virus(msg, TRUE, 3);
}
END_TEST

START_TEST(test_virus_unterminated_multipart)
{
	g_autofree char *b64 = base64_wrapped(EICAR, 76);
	g_autofree char *msg = g_strconcat(
		"Content-Type: multipart/mixed; boundary=b\n\n"
		"--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n",
		b64, NULL);
	assert_virus(msg, TRUE, 1);
}
END_TEST

START_TEST(test_virus_clean)
{
	assert_virus("", FALSE, 0);
	assert_virus("From: a@example.org\r\nSubject: hello\r\n\r\nJust text.\r\n", FALSE, 0);
	g_autofree char *b64 = base64_wrapped("a harmless attachment, not a virus", 76);
	g_autofree char *msg = g_strconcat(
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
		"--b\r\nContent-Type: application/octet-stream\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n", b64, "--b--\r\n", NULL);
	assert_virus(msg, FALSE, 0);
	/* a base64 part that is not declared base64 is not decoded */
	g_autofree char *b64v = base64_wrapped(EICAR, 76);
	g_autofree char *undeclared = g_strconcat("Content-Type: text/plain\r\n\r\n", b64v, NULL);
	assert_virus(undeclared, FALSE, 0);
	/* garbage MIME does not crash */
	assert_virus("Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n", FALSE, 0);
	assert_virus("Content-Type: multipart/mixed; boundary=\"x\r\n\r\n--x\r\n", FALSE, 0);
	assert_virus("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x--\r\n", FALSE, 0);
	/* no boundary parameter (only one that merely ends in "boundary"): not split */
	g_autofree char *nob = g_strconcat("Content-Type: multipart/mixed; xboundary=b\r\n\r\n"
	                                   "--b\r\nContent-Transfer-Encoding: base64\r\n\r\n",
	                                   b64v, "--b--\r\n", NULL);
	assert_virus(nob, FALSE, 0);
	assert_virus("Content-Transfer-Encoding: base64\r\n\r\n====!!!!\r\n", FALSE, 0);
}
END_TEST

/* EICAR in a base64 part under `levels` nested multiparts. */
static char *nested_multipart(guint levels, const char *b64)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < levels; i++)
		g_string_append_printf(s, "Content-Type: multipart/mixed; boundary=b%u\r\n\r\n--b%u\r\n",
		                       i, i);
	g_string_append(s, "Content-Transfer-Encoding: base64\r\n\r\n");
	g_string_append(s, b64);
	for (guint i = levels; i-- > 0;)
		g_string_append_printf(s, "--b%u--\r\n", i);
	return g_string_free(s, FALSE);
}

START_TEST(test_virus_depth_limit)
{
	g_autofree char *b64 = base64_wrapped(EICAR, 76);
	g_autofree char *ok = nested_multipart(FILTER_MIME_MAX_DEPTH, b64);
	assert_virus(ok, TRUE, 1);
	/* deeper than the limit is not looked at (and does not recurse) */
	g_autofree char *deep = nested_multipart(FILTER_MIME_MAX_DEPTH + 1, b64);
	assert_virus(deep, FALSE, 0);
	g_autofree char *very_deep = nested_multipart(5000, b64);
	assert_virus(very_deep, FALSE, 0);
}
END_TEST

START_TEST(test_virus_part_limit)
{
	g_autofree char *b64 = base64_wrapped(EICAR, 76);
	GString *s = g_string_new("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (guint i = 0; i < FILTER_MIME_MAX_PARTS; i++)
		g_string_append(s, "--b\r\nContent-Type: text/plain\r\n\r\nfiller\r\n");
	g_string_append_printf(s, "--b\r\nContent-Transfer-Encoding: base64\r\n\r\n%s--b--\r\n", b64);
	assert_virus(s->str, FALSE, 0);  /* the 101st part is past the limit */
	g_string_free(s, TRUE);
}
END_TEST

/* ---- spam --------------------------------------------------------------- */

#define H_FROM "From: Bob <bob@example.org>\r\n"
#define H_TO   "To: alice@example.com\r\n"
#define H_DATE "Date: Mon, 2 Jun 2025 10:00:00 +0000\r\n"
#define H_MID  "Message-ID: <1@example.org>\r\n"
#define H_SUBJ "Subject: Lunch on Friday?\r\n"
#define BODY   "\r\nShall we meet at noon?\r\n"

static const char clean_message[] = H_FROM H_TO H_DATE H_MID H_SUBJ BODY;

static const struct {
	const char *rule;
	const char *message;
	const char *explanation; /* must appear in the hit's explanation */
} single_rule_cases[] = {
	{ "RCVD_IN_RBL", H_FROM H_TO H_DATE H_MID H_SUBJ
	  "X-Mailsim-RBL: rbl.example: 192.0.2.10 listed\r\n" BODY,
	  "DNS blacklist: rbl.example: 192.0.2.10 listed" },
	{ "MISSING_DATE", H_FROM H_TO H_MID H_SUBJ BODY, "no Date:" },
	{ "MISSING_DATE", H_FROM H_TO "Date:   \r\n" H_MID H_SUBJ BODY, "no Date:" },
	{ "MISSING_MID", H_FROM H_TO H_DATE H_SUBJ BODY, "no Message-ID:" },
	{ "SUBJ_ALL_CAPS", H_FROM H_TO H_DATE H_MID "Subject: LUNCH ON FRIDAY?\r\n" BODY,
	  "all capitals: \"LUNCH ON FRIDAY?\"" },
	{ "SUBJ_ALL_CAPS", H_FROM H_TO H_DATE H_MID
	  "Subject: =?ISO-8859-1?Q?=C4RGER_=DCBER_ALLES?=\r\n" BODY,
	  "all capitals: \"\xc3\x84RGER \xc3\x9c" "BER ALLES\"" },
	{ "SUBJ_SPAM_WORDS", H_FROM H_TO H_DATE H_MID "Subject: You are a Winner\r\n" BODY,
	  "the Subject contains \"winner\"" },
	{ "SUBJ_SPAM_WORDS", H_FROM H_TO H_DATE H_MID "Subject: you are a\r\n\twinner\r\n" BODY,
	  "the Subject contains \"winner\"" },
	{ "SUBJ_SPAM_WORDS", H_FROM H_TO H_DATE H_MID
	  "Subject: =?UTF-8?Q?act?= =?UTF-8?Q?_now?=\r\n" BODY,
	  "the Subject contains \"act now\"" },
	/* "Grüße, you are a WINNER" in base64: only readable after RFC 2047 decoding */
	{ "SUBJ_SPAM_WORDS", H_FROM H_TO H_DATE H_MID
	  "Subject: =?utf-8*en?b?R3LDvMOfZSwgeW91IGFyZSBhIFdJTk5FUg==?=\r\n" BODY,
	  "the Subject contains \"winner\"" },
	{ "BODY_SPAM_WORDS", H_FROM H_TO H_DATE H_MID H_SUBJ "\r\nBuy Bitcoin today.\r\n",
	  "the body contains \"bitcoin\"" },
	/* a near miss first, the word later; phrases in any case; at the very
	 * start and the very end of the text */
	{ "SUBJ_SPAM_WORDS", H_FROM H_TO H_DATE H_MID "Subject: Winners are a WINNER\r\n" BODY,
	  "the Subject contains \"winner\"" },
	{ "BODY_SPAM_WORDS", H_FROM H_TO H_DATE H_MID H_SUBJ "\r\nwinnerwinner: Click HERE, 100% FREE\r\n",
	  "the body contains \"click here\", \"100% free\"" },
	{ "BODY_SPAM_WORDS", H_FROM H_TO H_DATE H_MID H_SUBJ "\r\nCASINO", "the body contains \"casino\"" },
	{ "SUBJ_EXCLAMATIONS", H_FROM H_TO H_DATE H_MID "Subject: Lunch!!! on Friday\r\n" BODY,
	  "3 exclamation marks" },
	{ "FROM_NAME_MISMATCH", "From: \"service@bank.example\" <bob@example.org>\r\n"
	  H_TO H_DATE H_MID H_SUBJ BODY,
	  "shows service@bank.example but the mail is from bob@example.org" },
	{ "EMPTY_BODY", H_FROM H_TO H_DATE H_MID H_SUBJ "\r\n \r\n\t\r\n", "no text" },
	{ "EMPTY_BODY", H_FROM H_TO H_DATE H_MID H_SUBJ, "no text" },
};

static const FilterSpamRule *rule_named(const char *name)
{
	gsize n;
	const FilterSpamRule *rules = filter_spam_rules(&n);
	for (gsize i = 0; i < n; i++)
		if (strcmp(rules[i].name, name) == 0)
			return &rules[i];
	ck_abort_msg("no rule %s", name);
	return NULL;
}

START_TEST(test_spam_clean)
{
	g_autoptr(FilterSpamReport) r = filter_spam_score(clean_message, strlen(clean_message),
	                                                  FILTER_SPAM_DEFAULT_THRESHOLD);
	ck_assert_uint_eq(r->hits->len, 0);
	ck_assert(r->score == 0.0);
	ck_assert(!r->is_spam);
	ck_assert_str_eq(r->score_header, "X-Spam-Score: 0.0");
	ck_assert_str_eq(r->status_header, "X-Spam-Status: No, score=0.0 required=5.0 tests=none");
}
END_TEST

START_TEST(test_spam_each_rule_alone)
{
	for (gsize i = 0; i < G_N_ELEMENTS(single_rule_cases); i++) {
		const char *msg = single_rule_cases[i].message;
		g_autoptr(FilterSpamReport) r = filter_spam_score(msg, strlen(msg),
		                                                  FILTER_SPAM_DEFAULT_THRESHOLD);
		ck_assert_msg(r->hits->len == 1, "case %zu (%s): %u hits: %s", i,
		              single_rule_cases[i].rule, r->hits->len, r->status_header);
		const FilterSpamHit *hit = r->hits->pdata[0];
		ck_assert_str_eq(hit->rule->name, single_rule_cases[i].rule);
		ck_assert(hit->rule == rule_named(single_rule_cases[i].rule));
		ck_assert_msg(strstr(hit->explanation, single_rule_cases[i].explanation),
		              "case %zu: <%s> lacks <%s>", i, hit->explanation,
		              single_rule_cases[i].explanation);
		ck_assert(r->score == hit->rule->score);
		g_autofree char *tests = g_strdup_printf("tests=%s", hit->rule->name);
		ck_assert(g_str_has_suffix(r->status_header, tests));
	}
}
END_TEST

START_TEST(test_spam_rbl_alone_is_spam)
{
	const char *msg = single_rule_cases[0].message;
	g_autoptr(FilterSpamReport) r = filter_spam_score(msg, strlen(msg),
	                                                  FILTER_SPAM_DEFAULT_THRESHOLD);
	ck_assert(r->is_spam);
	ck_assert_str_eq(r->status_header,
	                 "X-Spam-Status: Yes, score=5.0 required=5.0 tests=RCVD_IN_RBL");
}
END_TEST

/* Near misses: look like a rule but must not fire. */
static const char *const near_misses[] = {
	H_FROM H_TO H_DATE H_MID "Subject: The winners' list\r\n" BODY,         /* not the word */
	H_FROM H_TO H_DATE H_MID "Subject: Sussex casinos\r\n" BODY,
	H_FROM H_TO H_DATE H_MID "Subject: NASA IS GREAT\r\n" BODY,             /* fires: 11 capitals */
	H_FROM H_TO H_DATE H_MID "Subject: OK THX\r\n" BODY,                    /* too short */
	H_FROM H_TO H_DATE H_MID "Subject: Hi!! there\r\n" BODY,                /* two '!' */
	"From: bob@example.org <Bob@Example.org>\r\n" H_TO H_DATE H_MID H_SUBJ BODY,
	"From: \"Bob at home\" <bob@example.org>\r\n" H_TO H_DATE H_MID H_SUBJ BODY,
	"From: \"a@b\" <bob@example.org>\r\n" H_TO H_DATE H_MID H_SUBJ BODY,   /* no domain dot */
	H_FROM H_TO H_DATE H_MID H_SUBJ "\r\nSee the lottery-free zone.\r\n",   /* fires: "-" ends a word */
};

START_TEST(test_spam_near_misses)
{
	static const char *const expect[] = {
		"none", "none", "SUBJ_ALL_CAPS", "none", "none", "none", "none", "none",
		"BODY_SPAM_WORDS",
	};
	G_STATIC_ASSERT(G_N_ELEMENTS(expect) == G_N_ELEMENTS(near_misses));
	for (gsize i = 0; i < G_N_ELEMENTS(near_misses); i++) {
		g_autoptr(FilterSpamReport) r = filter_spam_score(near_misses[i], strlen(near_misses[i]),
		                                                  FILTER_SPAM_DEFAULT_THRESHOLD);
		g_autofree char *tests = g_strdup_printf("tests=%s", expect[i]);
		ck_assert_msg(g_str_has_suffix(r->status_header, tests), "case %zu: %s", i,
		              r->status_header);
	}
}
END_TEST

static const char spammy_message[] =
	"From: Bob <bob@example.org>\r\n"
	"To: alice@example.com\r\n"
	"Subject: WINNER OF THE LOTTERY\r\n"
	"\r\n"
	"Act now to claim your prize.\r\n";

START_TEST(test_spam_spammy)
{
	g_autoptr(FilterSpamReport) r = filter_spam_score(spammy_message, strlen(spammy_message),
	                                                  FILTER_SPAM_DEFAULT_THRESHOLD);
	ck_assert(r->is_spam);
	ck_assert(r->score == 6.5);
	ck_assert(r->threshold == 5.0);
	ck_assert_str_eq(r->score_header, "X-Spam-Score: 6.5");
	ck_assert_str_eq(r->status_header,
	                 "X-Spam-Status: Yes, score=6.5 required=5.0 tests=MISSING_DATE,MISSING_MID,"
	                 "SUBJ_ALL_CAPS,SUBJ_SPAM_WORDS,BODY_SPAM_WORDS");
	ck_assert_uint_eq(r->hits->len, 5);
	const FilterSpamHit *words = r->hits->pdata[3];
	ck_assert_str_eq(words->explanation, "the Subject contains \"lottery\", \"winner\"");
	const FilterSpamHit *body = r->hits->pdata[4];
	ck_assert_str_eq(body->explanation, "the body contains \"act now\", \"claim your prize\"");
}
END_TEST

START_TEST(test_spam_threshold)
{
	g_autoptr(FilterSpamReport) high = filter_spam_score(spammy_message, strlen(spammy_message), 7.0);
	ck_assert(!high->is_spam);
	ck_assert_str_eq(high->status_header,
	                 "X-Spam-Status: No, score=6.5 required=7.0 tests=MISSING_DATE,MISSING_MID,"
	                 "SUBJ_ALL_CAPS,SUBJ_SPAM_WORDS,BODY_SPAM_WORDS");
	g_autoptr(FilterSpamReport) equal = filter_spam_score(spammy_message, strlen(spammy_message), 6.5);
	ck_assert(equal->is_spam);
}
END_TEST

START_TEST(test_spam_many_words_and_long_values)
{
	const char *msg = H_FROM H_TO H_DATE H_MID H_SUBJ
		"\r\nviagra cialis lottery winner bitcoin casino\r\n";
	g_autoptr(FilterSpamReport) r = filter_spam_score(msg, strlen(msg), 5.0);
	const FilterSpamHit *hit = r->hits->pdata[0];
	ck_assert_str_eq(hit->explanation,
	                 "the body contains \"viagra\", \"cialis\", \"lottery\", ...");

	GString *s = g_string_new(H_FROM H_TO H_DATE H_MID H_SUBJ "X-Mailsim-RBL: ");
	for (guint i = 0; i < 200; i++)
		g_string_append(s, "listed ");
	g_string_append(s, "\r\n" BODY);
	g_autoptr(FilterSpamReport) r2 = filter_spam_score(s->str, s->len, 5.0);
	hit = r2->hits->pdata[0];
	ck_assert(g_str_has_suffix(hit->explanation, "..."));
	ck_assert_uint_lt(strlen(hit->explanation), 160);
	g_string_free(s, TRUE);
}
END_TEST

START_TEST(test_spam_line_endings_and_garbage)
{
	const char *lf = "From: Bob <bob@example.org>\nTo: a@example.com\nDate: x\n"
	                 "Message-ID: <1@x>\nSubject: hello\n\nbody\n";
	g_autoptr(FilterSpamReport) r = filter_spam_score(lf, strlen(lf), 5.0);
	ck_assert_str_eq(r->status_header, "X-Spam-Status: No, score=0.0 required=5.0 tests=none");

	/* NUL bytes, invalid UTF-8, no colon, no body: scored without trouble */
	static const char junk[] = "Subject: \xff\xfe WIN\0NER\r\nno colon here\r\n: empty name\r\n";
	g_autoptr(FilterSpamReport) j = filter_spam_score(junk, sizeof junk - 1, 5.0);
	ck_assert(g_str_has_prefix(j->status_header, "X-Spam-Status: "));
	ck_assert(g_str_has_suffix(j->status_header, "MISSING_DATE,MISSING_MID,EMPTY_BODY"));

	g_autoptr(FilterSpamReport) e = filter_spam_score("", 0, 5.0);
	ck_assert_str_eq(e->score_header, "X-Spam-Score: 2.5");
}
END_TEST

START_TEST(test_spam_rule_table)
{
	gsize n;
	const FilterSpamRule *rules = filter_spam_rules(&n);
	ck_assert_uint_eq(n, 9);
	for (gsize i = 0; i < n; i++) {
		ck_assert(rules[i].score > 0);
		ck_assert(rules[i].description && *rules[i].description);
		ck_assert_ptr_nonnull(rules[i].check);
		for (gsize j = 0; j < i; j++)
			ck_assert_str_ne(rules[i].name, rules[j].name);
	}
	ck_assert(rule_named("RCVD_IN_RBL")->score >= FILTER_SPAM_DEFAULT_THRESHOLD);
}
END_TEST

static Suite *filter_suite(void)
{
	Suite *s = suite_create("filter");
	MS_ADD_TEST(s, test_virus_plain, 10);
	MS_ADD_TEST(s, test_virus_base64_single_part, 10);
	MS_ADD_TEST(s, test_virus_base64_multipart, 10);
	MS_ADD_TEST(s, test_virus_nested_and_attached_message, 10);
	MS_ADD_TEST(s, test_virus_unterminated_multipart, 10);
	MS_ADD_TEST(s, test_virus_clean, 10);
	MS_ADD_TEST(s, test_virus_depth_limit, 10);
	MS_ADD_TEST(s, test_virus_part_limit, 10);
	MS_ADD_TEST(s, test_spam_clean, 10);
	MS_ADD_TEST(s, test_spam_each_rule_alone, 10);
	MS_ADD_TEST(s, test_spam_rbl_alone_is_spam, 10);
	MS_ADD_TEST(s, test_spam_near_misses, 10);
	MS_ADD_TEST(s, test_spam_spammy, 10);
	MS_ADD_TEST(s, test_spam_threshold, 10);
	MS_ADD_TEST(s, test_spam_many_words_and_long_values, 10);
	MS_ADD_TEST(s, test_spam_line_endings_and_garbage, 10);
	MS_ADD_TEST(s, test_spam_rule_table, 10);
	return s;
}

MS_TEST_MAIN(filter_suite)
