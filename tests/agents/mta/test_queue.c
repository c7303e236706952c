/* tests/agents/mta/test_queue.c - the MTA's durable queue (agents/mta/queue.c).
 *
 * Add, reopen, update, remove; the envelope's exact text and a table of
 * valid and invalid envelopes; recovery of every kind of leftover; crash
 * simulations (a child that _exit()s or is SIGKILLed mid-stream: every
 * add that returned is there once, nothing partial); group commit, also
 * in arrivals cut for several threads; recycled files; due order; hostile
 * ids; a full disk; back-off.
 */
#include "tests/ms_test.h"
#include "agents/mta/queue.h"
#include "agents/common/durable.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEC ((gint64)G_USEC_PER_SEC)

/* ---- helpers ------------------------------------------------------------- */

static const char *const two_rcpts[] = { "bob@example.org", "carol@example.org", NULL };

static const char sample_message[] =
	"Received: from mail.example.com ([192.0.2.10]) by mx.example.org\r\n"
	"From: Alice <alice@example.com>\r\n"
	"Subject: hello\r\n"
	"\r\n"
	"Hi Bob.\r\n";

static MtaQueueIncoming incoming(const char *id, GBytes *message)
{
	MtaQueueIncoming in = {
		.id = id,
		.from = "alice@example.com",
		.rcpts = two_rcpts,
		.message = message,
		.arrival_us = 1000 * SEC,
		.client_address = "192.0.2.10",
		.client_helo = "mail.example.com",
		.client_user = "alice",
	};
	return in;
}

static GBytes *sample_bytes(void)
{
	return g_bytes_new_static(sample_message, strlen(sample_message));
}

/* The names in dir, sorted, joined with " ". */
static char *dir_listing(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d)
		return g_strdup("(none)");
	GList *names = NULL;
	const char *name;
	while ((name = g_dir_read_name(d)))
		names = g_list_insert_sorted(names, g_strdup(name), (GCompareFunc)strcmp);
	g_dir_close(d);
	GString *out = g_string_new(NULL);
	for (GList *l = names; l; l = l->next)
		g_string_append_printf(out, "%s%s", out->len ? " " : "", (char *)l->data);
	g_list_free_full(names, g_free);
	return g_string_free(out, FALSE);
}

static void assert_listing(const char *dir, const char *expected)
{
	g_autofree char *got = dir_listing(dir);
	ck_assert_str_eq(got, expected);
}

static void write_file(const char *dir, const char *name, const char *data)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	ck_assert(g_file_set_contents(path, data, -1, NULL));
}

static char *read_file(const char *dir, const char *name)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	char *data = NULL;
	ck_assert_msg(g_file_get_contents(path, &data, NULL, NULL), "%s missing", name);
	return data;
}

static void assert_bytes(GBytes *bytes, const char *data, gsize len)
{
	ck_assert_ptr_nonnull(bytes);
	ck_assert_uint_eq(g_bytes_get_size(bytes), len);
	ck_assert_mem_eq(g_bytes_get_data(bytes, NULL), data, len);
}

static MtaQueue *open_ok(const char *dir, gboolean sync, GPtrArray **notes_r)
{
	g_autoptr(GError) error = NULL;
	MtaQueue *q = mta_queue_open(dir, sync, notes_r, &error);
	ck_assert_msg(q != NULL, "open: %s", error ? error->message : "?");
	return q;
}

/* The notes as "kind:id kind:id ...". */
static char *notes_summary(GPtrArray *notes)
{
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < notes->len; i++) {
		const MtaQueueNote *n = g_ptr_array_index(notes, i);
		ck_assert_ptr_nonnull(n->text);
		ck_assert(n->text[0] != '\0');
		g_string_append_printf(out, "%s%s:%s", out->len ? " " : "",
		                       mta_queue_note_kind_to_string(n->kind), n->id);
	}
	return g_string_free(out, FALSE);
}

static void assert_notes(GPtrArray *notes, const char *expected)
{
	g_autofree char *got = notes_summary(notes);
	ck_assert_str_eq(got, expected);
}

static void assert_same_entry(const MtaQueueEntry *a, const MtaQueueEntry *b)
{
	ck_assert_str_eq(a->id, b->id);
	ck_assert_str_eq(a->from, b->from);
	ck_assert_int_eq(a->arrival_us, b->arrival_us);
	ck_assert_uint_eq(a->size, b->size);
	ck_assert_int_eq(a->is_bounce, b->is_bounce);
	ck_assert_str_eq(a->client_address, b->client_address);
	ck_assert_str_eq(a->client_helo, b->client_helo);
	ck_assert_str_eq(a->client_user, b->client_user);
	ck_assert_uint_eq(a->rcpts->len, b->rcpts->len);
	for (guint i = 0; i < a->rcpts->len; i++) {
		const MtaQueueRcpt *x = g_ptr_array_index(a->rcpts, i);
		const MtaQueueRcpt *y = g_ptr_array_index(b->rcpts, i);
		ck_assert_str_eq(x->address, y->address);
		ck_assert_int_eq(x->state, y->state);
		ck_assert_uint_eq(x->attempts, y->attempts);
		ck_assert_str_eq(x->last_reply, y->last_reply);
		ck_assert_int_eq(x->next_attempt_us, y->next_attempt_us);
	}
}

static MtaQueueRcpt *rcpt_at(MtaQueueEntry *e, guint i)
{
	return g_ptr_array_index(e->rcpts, i);
}

/* ---- names and small helpers ---------------------------------------------- */

START_TEST(test_to_string)
{
	static const char *const states[] = { "pending", "deferred", "delivered", "failed" };
	for (guint i = 0; i < G_N_ELEMENTS(states); i++) {
		ck_assert_str_eq(mta_queue_rcpt_state_to_string((MtaQueueRcptState)i), states[i]);
		MtaQueueRcptState st;
		ck_assert(mta_queue_rcpt_state_from_string(states[i], &st));
		ck_assert_int_eq(st, (int)i);
	}
	MtaQueueRcptState st;
	ck_assert(!mta_queue_rcpt_state_from_string("Pending", &st));
	ck_assert(!mta_queue_rcpt_state_from_string(NULL, &st));
	ck_assert_str_eq(mta_queue_rcpt_state_to_string((MtaQueueRcptState)99), "unknown");
	ck_assert(!mta_queue_rcpt_state_is_final(MTA_QUEUE_RCPT_PENDING));
	ck_assert(!mta_queue_rcpt_state_is_final(MTA_QUEUE_RCPT_DEFERRED));
	ck_assert(mta_queue_rcpt_state_is_final(MTA_QUEUE_RCPT_DELIVERED));
	ck_assert(mta_queue_rcpt_state_is_final(MTA_QUEUE_RCPT_FAILED));

	static const char *const notes[] = { "loaded", "temp-removed", "orphan-removed",
	                                     "finished-removed", "corrupt", "ignored" };
	for (guint i = 0; i < G_N_ELEMENTS(notes); i++)
		ck_assert_str_eq(mta_queue_note_kind_to_string((MtaQueueNoteKind)i), notes[i]);
	ck_assert_str_eq(mta_queue_note_kind_to_string((MtaQueueNoteKind)99), "unknown");
}
END_TEST

START_TEST(test_ids)
{
	static const char *const good[] = { "a", "Q1", "20240101T120000x42", "0", NULL };
	for (gsize i = 0; good[i]; i++)
		ck_assert_msg(mta_queue_id_validate(good[i], NULL), "%s", good[i]);
	g_autofree char *max = g_strnfill(MTA_QUEUE_MAX_ID, 'a');
	ck_assert(mta_queue_id_validate(max, NULL));

	g_autofree char *long_id = g_strnfill(300, 'a');
	g_autofree char *one_over = g_strnfill(MTA_QUEUE_MAX_ID + 1, 'a');
	const char *bad[] = { "../x", "a/b", "", long_id, one_over, ".", "..", "a.b", "a b",
	                      "a\nb", "-x", "\xc3\xa4", ".hidden", "x.env", NULL };
	for (gsize i = 0; bad[i]; i++) {
		g_autoptr(GError) error = NULL;
		ck_assert_msg(!mta_queue_id_validate(bad[i], &error), "%s", bad[i]);
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME));
	}
	ck_assert(!mta_queue_id_validate(NULL, NULL));
}
END_TEST

START_TEST(test_backoff)
{
	static const struct { guint attempts; gint64 expect_s; } cases[] = {
		{ 0, 0 }, { 1, 300 }, { 2, 600 }, { 3, 1200 }, { 4, 2400 }, { 5, 4000 },
		{ 6, 4000 }, { 100, 4000 }, { G_MAXUINT, 4000 },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
		ck_assert_int_eq(mta_queue_backoff(cases[i].attempts, MTA_QUEUE_MINIMAL_BACKOFF_US,
		                                   MTA_QUEUE_MAXIMAL_BACKOFF_US),
		                 cases[i].expect_s * SEC);
	/* no overflow with a huge cap */
	ck_assert_int_eq(mta_queue_backoff(200, 1, G_MAXINT64), G_MAXINT64);
	ck_assert_int_eq(mta_queue_backoff(3, 10, G_MAXINT64), 40);
	ck_assert_int_eq(mta_queue_backoff(1, 0, 100), 0);
	ck_assert_int_eq(mta_queue_backoff(4, 500, 100), 100);
	ck_assert_int_eq(MTA_QUEUE_MAXIMAL_LIFETIME_US, (gint64)432000 * SEC);
}
END_TEST

START_TEST(test_expired_and_reply)
{
	static const char text[] = "version 1\nid A\narrival 100\nsize 0\nfrom <>\nbounce no\n"
	                           "rcpt <b@x>\n  state pending\n  attempts 0\n  next 100\nend\n";
	g_autoptr(MtaQueueEntry) e = mta_queue_envelope_parse(text, strlen(text), NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert(!mta_queue_entry_expired(e, 100, 50));
	ck_assert(!mta_queue_entry_expired(e, 149, 50));
	ck_assert(mta_queue_entry_expired(e, 150, 50));
	ck_assert(!mta_queue_entry_expired(e, G_MININT64, 50));
	ck_assert(mta_queue_entry_expired(e, G_MAXINT64, MTA_QUEUE_MAXIMAL_LIFETIME_US));

	MtaQueueRcpt *r = rcpt_at(e, 0);
	mta_queue_rcpt_set_reply(r, "250 2.0.0 Ok");
	ck_assert_str_eq(r->last_reply, "250 2.0.0 Ok");
	mta_queue_rcpt_set_reply(r, NULL);
	ck_assert_str_eq(r->last_reply, "");
	/* cut to the limit, never inside a UTF-8 character */
	GString *long_reply = g_string_new(NULL);
	for (guint i = 0; i < MTA_QUEUE_MAX_REPLY; i++)
		g_string_append(long_reply, "\xc3\xa9");  /* é, two octets */
	mta_queue_rcpt_set_reply(r, long_reply->str);
	ck_assert_uint_eq(strlen(r->last_reply), MTA_QUEUE_MAX_REPLY);
	g_string_insert_c(long_reply, 0, 'x');
	mta_queue_rcpt_set_reply(r, long_reply->str);
	ck_assert_uint_eq(strlen(r->last_reply), MTA_QUEUE_MAX_REPLY - 1);
	ck_assert(g_utf8_validate(r->last_reply, -1, NULL));
	g_string_free(long_reply, TRUE);
}
END_TEST

/* ---- the envelope text ------------------------------------------------------ */

static const char expected_envelope[] =
	"# mailsim queue envelope; the message is in Q1.msg beside this file\n"
	"version 1\n"
	"id Q1\n"
	"arrival 1000000000\n"
	"size 126\n"
	"client-address 192.0.2.10\n"
	"client-helo mail.example.com\n"
	"client-user alice\n"
	"from <alice@example.com>\n"
	"bounce no\n"
	"rcpt <bob@example.org>\n"
	"  state pending\n"
	"  attempts 0\n"
	"  next 1000000000\n"
	"rcpt <carol@example.org>\n"
	"  state pending\n"
	"  attempts 0\n"
	"  next 1000000000\n"
	"end\n";

START_TEST(test_envelope_exact)
{
	g_autofree char *dir = ms_test_tmpdir();
	MtaQueue *q = open_ok(dir, TRUE, NULL);
	g_autoptr(GBytes) msg = sample_bytes();
	MtaQueueIncoming in = incoming("Q1", msg);
	ck_assert_ptr_nonnull(mta_queue_add(q, &in, NULL));
	g_autofree char *env = read_file(dir, "Q1.env");
	ck_assert_str_eq(env, expected_envelope);
	assert_listing(dir, "Q1.env Q1.msg");

	/* after a delivery attempt */
	MtaQueueEntry *e = mta_queue_lookup(q, "Q1");
	rcpt_at(e, 0)->state = MTA_QUEUE_RCPT_DELIVERED;
	rcpt_at(e, 0)->attempts = 1;
	mta_queue_rcpt_set_reply(rcpt_at(e, 0), "250 2.0.0 Ok: queued as X");
	rcpt_at(e, 1)->state = MTA_QUEUE_RCPT_DEFERRED;
	rcpt_at(e, 1)->attempts = 1;
	rcpt_at(e, 1)->next_attempt_us = 1300 * SEC;
	mta_queue_rcpt_set_reply(rcpt_at(e, 1), "451 4.3.0 Try again\\later\r\nsecond line");
	ck_assert(mta_queue_update(q, e, NULL));
	g_autofree char *env2 = read_file(dir, "Q1.env");
	ck_assert_ptr_nonnull(strstr(env2,
		"rcpt <bob@example.org>\n"
		"  state delivered\n"
		"  attempts 1\n"
		"  next 1000000000\n"
		"  reply 250 2.0.0 Ok: queued as X\n"
		"rcpt <carol@example.org>\n"
		"  state deferred\n"
		"  attempts 1\n"
		"  next 1300000000\n"
		"  reply 451 4.3.0 Try again\\x5Clater\\x0D\\x0Asecond line\n"
		"end\n"));
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

/* Envelopes that parse, and what must come back out of them. */
static const struct {
	const char *name;
	const char *text;
	const char *from;
	const char *rcpt0;
	const char *reply0;
	gboolean    bounce;
} valid_envelopes[] = {
	{ "minimal",
	  "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce yes\n"
	  "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n",
	  "", "b@x", "", TRUE },
	{ "comments anywhere",
	  "# hello\nversion 1\n# there\nid A\narrival 5\nsize 7\nfrom <a@x>\nbounce no\n"
	  "rcpt <b@x>\n# mid-recipient\n  state failed\n  attempts 3\n  reply 550 no\n  next 9\nend\n# bye\n",
	  "a@x", "b@x", "550 no", FALSE },
	{ "fields in another order",
	  "version 1\nbounce no\nfrom <a@x>\nsize 1\narrival 2\nid Z9\nclient-user u\n"
	  "rcpt <b@x>\n  next 0\n  attempts 0\n  state deferred\nend\n",
	  "a@x", "b@x", "", FALSE },
	{ "escapes and UTF-8",
	  "version 1\nid A\narrival 0\nsize 0\nfrom <\"a>b\\x5C\"@x>\nbounce no\n"
	  "rcpt <j\xc3\xbcrgen@b\xc3\xbc\x63her.example>\n  state pending\n  attempts 0\n  next 0\n"
	  "  reply 4\\x0A5\\x7F\nend\n",
	  "\"a>b\\\"@x", "j\xc3\xbcrgen@b\xc3\xbc\x63her.example", "4\n5\x7f", FALSE },
	{ "largest numbers",
	  "version 1\nid A\narrival 9223372036854775807\nsize 67108864\nfrom <>\nbounce no\n"
	  "rcpt <b@x>\n  state pending\n  attempts 1000000\n  next 9223372036854775807\nend\n",
	  "", "b@x", "", FALSE },
};

/* Envelopes that must be refused. */
static const struct {
	const char *name;
	const char *text;
} invalid_envelopes[] = {
	{ "empty", "" },
	{ "no end", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	            "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\n" },
	{ "no final newline", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                      "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend" },
	{ "version 2", "version 2\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	               "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "version not first", "id A\nversion 1\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                       "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "repeated field", "version 1\nid A\nid B\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                    "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "unknown field", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\ncolour red\n"
	                   "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "missing size", "version 1\nid A\narrival 0\nfrom <>\nbounce no\n"
	                  "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "negative time", "version 1\nid A\narrival -1\nsize 0\nfrom <>\nbounce no\n"
	                   "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "leading zero", "version 1\nid A\narrival 01\nsize 0\nfrom <>\nbounce no\n"
	                  "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "time overflow", "version 1\nid A\narrival 9223372036854775808\nsize 0\nfrom <>\nbounce no\n"
	                   "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "huge number", "version 1\nid A\narrival 99999999999999999999999\nsize 0\nfrom <>\nbounce no\n"
	                 "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "size over limit", "version 1\nid A\narrival 0\nsize 67108865\nfrom <>\nbounce no\n"
	                     "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "attempts over limit", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                         "rcpt <b@x>\n  state pending\n  attempts 1000001\n  next 0\nend\n" },
	{ "bounce maybe", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce maybe\n"
	                  "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "bad state", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	               "rcpt <b@x>\n  state lost\n  attempts 0\n  next 0\nend\n" },
	{ "bad id", "version 1\nid ../A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	            "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "from without <>", "version 1\nid A\narrival 0\nsize 0\nfrom a@x\nbounce no\n"
	                     "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "empty rcpt", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                "rcpt <>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "no rcpt", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\nend\n" },
	{ "rcpt without state", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                        "rcpt <b@x>\n  attempts 0\n  next 0\nend\n" },
	{ "indented before rcpt", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                          "  state pending\nrcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "head after rcpt", "version 1\nid A\narrival 0\nsize 0\nfrom <>\n"
	                     "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nbounce no\nend\n" },
	{ "rcpt before head done", "version 1\nid A\narrival 0\nsize 0\nfrom <>\n"
	                           "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "text after end", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                    "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\nid B\n" },
	{ "raw CR", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	            "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\n  reply a\rb\nend\n" },
	{ "CRLF lines", "version 1\r\nid A\r\narrival 0\r\nsize 0\r\nfrom <>\r\nbounce no\r\n"
	                "rcpt <b@x>\r\n  state pending\r\n  attempts 0\r\n  next 0\r\nend\r\n" },
	{ "lone backslash", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                    "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\n  reply a\\b\nend\n" },
	{ "short escape", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                  "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\n  reply a\\x4\nend\n" },
	{ "escaped NUL", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                 "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\n  reply a\\x00\nend\n" },
	{ "empty value", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\nclient-user \n"
	                 "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "key alone", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\nclient-user\n"
	               "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "blank line", "version 1\n\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n" },
	{ "three-space indent", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                        "rcpt <b@x>\n   state pending\n  attempts 0\n  next 0\nend\n" },
	{ "end with a value", "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                      "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend now\n" },
};

START_TEST(test_envelope_valid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(valid_envelopes); i++) {
		const char *text = valid_envelopes[i].text;
		g_autoptr(GError) error = NULL;
		g_autoptr(MtaQueueEntry) e = mta_queue_envelope_parse(text, strlen(text), &error);
		ck_assert_msg(e != NULL, "%s: %s", valid_envelopes[i].name, error ? error->message : "");
		ck_assert_str_eq(e->from, valid_envelopes[i].from);
		ck_assert_str_eq(rcpt_at(e, 0)->address, valid_envelopes[i].rcpt0);
		ck_assert_str_eq(rcpt_at(e, 0)->last_reply, valid_envelopes[i].reply0);
		ck_assert_int_eq(e->is_bounce, valid_envelopes[i].bounce);
		/* what we write we read back the same, and write the same again */
		g_autofree char *out = mta_queue_envelope_format(e);
		g_autoptr(MtaQueueEntry) back = mta_queue_envelope_parse(out, strlen(out), &error);
		ck_assert_msg(back != NULL, "%s: reformatted: %s", valid_envelopes[i].name,
		              error ? error->message : "");
		assert_same_entry(e, back);
		g_autofree char *out2 = mta_queue_envelope_format(back);
		ck_assert_str_eq(out, out2);
		/* every prefix cut before the end is a truncated file, and refused */
		gsize end = (gsize)(g_strrstr(text, "\nend\n") - text) + strlen("\nend\n");
		for (gsize n = 0; n < end; n++) {
			MtaQueueEntry *cut = mta_queue_envelope_parse(text, n, NULL);
			ck_assert_msg(cut == NULL, "%s: prefix of %zu parsed", valid_envelopes[i].name, n);
		}
	}
}
END_TEST

START_TEST(test_envelope_invalid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(invalid_envelopes); i++) {
		const char *text = invalid_envelopes[i].text;
		g_autoptr(GError) error = NULL;
		MtaQueueEntry *e = mta_queue_envelope_parse(text, strlen(text), &error);
		ck_assert_msg(e == NULL, "%s parsed", invalid_envelopes[i].name);
		ck_assert_msg(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA), "%s: %s",
		              invalid_envelopes[i].name, error ? error->message : "no error");
	}
	/* a NUL inside a value, which strlen-based code would not see */
	static const char with_nul[] = "version 1\nid A\narrival 0\nsize 0\nfrom <a\0b>\nbounce no\n"
	                               "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n";
	ck_assert_ptr_null(mta_queue_envelope_parse(with_nul, sizeof with_nul - 1, NULL));
	static const char state_nul[] = "version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n"
	                                "rcpt <b@x>\n  state pending\0x\n  attempts 0\n  next 0\nend\n";
	ck_assert_ptr_null(mta_queue_envelope_parse(state_nul, sizeof state_nul - 1, NULL));

	/* limits: too many recipients, a line too long, an address too long */
	GString *many = g_string_new("version 1\nid A\narrival 0\nsize 0\nfrom <>\nbounce no\n");
	for (guint i = 0; i <= MTA_QUEUE_MAX_RCPTS; i++)
		g_string_append_printf(many, "rcpt <r%u@x>\n  state pending\n  attempts 0\n  next 0\n", i);
	g_string_append(many, "end\n");
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(mta_queue_envelope_parse(many->str, many->len, &error));
	ck_assert_ptr_nonnull(strstr(error->message, "too many recipients"));
	g_string_free(many, TRUE);

	g_autofree char *long_addr = g_strnfill(MTA_QUEUE_MAX_ADDRESS + 1, 'a');
	g_autofree char *t1 = g_strdup_printf("version 1\nid A\narrival 0\nsize 0\nfrom <%s>\nbounce no\n"
	                                      "rcpt <b@x>\n  state pending\n  attempts 0\n  next 0\nend\n",
	                                      long_addr);
	ck_assert_ptr_null(mta_queue_envelope_parse(t1, strlen(t1), NULL));
	g_autofree char *long_line = g_strnfill(100000, 'a');
	g_autofree char *t2 = g_strdup_printf("version 1\n# %s\n", long_line);
	g_clear_error(&error);
	ck_assert_ptr_null(mta_queue_envelope_parse(t2, strlen(t2), &error));
	ck_assert_ptr_nonnull(strstr(error->message, "line 2"));
	ck_assert_ptr_null(mta_queue_envelope_parse(long_line, strlen(long_line), NULL));
}
END_TEST

/* ---- add, reopen, update, remove ---------------------------------------------- */

START_TEST(test_add_reopen)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *qdir = g_build_filename(dir, "state", "queue", NULL);
	MtaQueue *q = open_ok(qdir, TRUE, NULL);
	ck_assert_str_eq(mta_queue_get_dir(q), qdir);
	ck_assert_uint_eq(mta_queue_count(q), 0);
	ck_assert_int_eq(mta_queue_next_wakeup(q), G_MAXINT64);

	g_autoptr(GBytes) msg = sample_bytes();
	MtaQueueIncoming in = incoming("Q1", msg);
	g_autoptr(GError) error = NULL;
	MtaQueueEntry *e = mta_queue_add(q, &in, &error);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->id, "Q1");
	ck_assert_uint_eq(e->size, strlen(sample_message));
	ck_assert_uint_eq(e->rcpts->len, 2);
	ck_assert_int_eq(rcpt_at(e, 1)->state, MTA_QUEUE_RCPT_PENDING);
	ck_assert_int_eq(rcpt_at(e, 1)->next_attempt_us, 1000 * SEC);
	ck_assert_ptr_eq(mta_queue_lookup(q, "Q1"), e);
	ck_assert_uint_eq(mta_queue_count(q), 1);
	ck_assert_int_eq(mta_queue_next_wakeup(q), 1000 * SEC);

	/* a bounce with the null sender and no client */
	static const char *const one[] = { "alice@example.com", NULL };
	g_autoptr(GBytes) dsn = g_bytes_new_static("DSN\r\n", 5);
	MtaQueueIncoming bounce = { .id = "B1", .from = "", .rcpts = one, .message = dsn,
	                            .arrival_us = 2000 * SEC, .is_bounce = TRUE };
	ck_assert_ptr_nonnull(mta_queue_add(q, &bounce, &error));

	/* the same id twice is refused, and changes nothing */
	ck_assert_ptr_null(mta_queue_add(q, &in, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
	g_clear_error(&error);
	g_autofree char *env_before = read_file(qdir, "Q1.env");
	ck_assert_str_eq(env_before, expected_envelope);

	g_autoptr(MtaQueueEntry) copy = mta_queue_envelope_parse(env_before, strlen(env_before), NULL);
	mta_queue_free(q);
	assert_listing(qdir, "B1.env B1.msg Q1.env Q1.msg");

	g_autoptr(GPtrArray) notes = NULL;
	q = open_ok(qdir, TRUE, &notes);
	assert_notes(notes, "loaded:B1 loaded:Q1");
	ck_assert_uint_eq(mta_queue_count(q), 2);
	e = mta_queue_lookup(q, "Q1");
	ck_assert_ptr_nonnull(e);
	assert_same_entry(e, copy);
	g_autoptr(GBytes) back = mta_queue_read_message(q, e, &error);
	assert_bytes(back, sample_message, strlen(sample_message));
	MtaQueueEntry *b = mta_queue_lookup(q, "B1");
	ck_assert(b->is_bounce);
	ck_assert_str_eq(b->from, "");
	ck_assert_str_eq(b->client_address, "");
	g_autoptr(GBytes) back_dsn = mta_queue_read_message(q, b, &error);
	assert_bytes(back_dsn, "DSN\r\n", 5);

	g_autoptr(GPtrArray) all = mta_queue_entries(q);
	ck_assert_uint_eq(all->len, 2);
	ck_assert_str_eq(((MtaQueueEntry *)all->pdata[0])->id, "Q1");
	ck_assert_str_eq(((MtaQueueEntry *)all->pdata[1])->id, "B1");
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_update_remove)
{
	g_autofree char *dir = ms_test_tmpdir();
	for (int sync = 0; sync <= 1; sync++) {
		MtaQueue *q = open_ok(dir, sync, NULL);
		g_autoptr(GBytes) msg = sample_bytes();
		MtaQueueIncoming in = incoming("Q1", msg);
		MtaQueueEntry *e = mta_queue_add(q, &in, NULL);
		ck_assert_ptr_nonnull(e);

		/* bob delivered, carol deferred for the first back-off */
		rcpt_at(e, 0)->state = MTA_QUEUE_RCPT_DELIVERED;
		rcpt_at(e, 0)->attempts++;
		mta_queue_rcpt_set_reply(rcpt_at(e, 0), "250 2.0.0 Ok");
		rcpt_at(e, 1)->state = MTA_QUEUE_RCPT_DEFERRED;
		rcpt_at(e, 1)->attempts++;
		rcpt_at(e, 1)->next_attempt_us = 1000 * SEC + mta_queue_backoff(1,
			MTA_QUEUE_MINIMAL_BACKOFF_US, MTA_QUEUE_MAXIMAL_BACKOFF_US);
		mta_queue_rcpt_set_reply(rcpt_at(e, 1), "451 4.4.1 No answer");
		g_autoptr(GError) error = NULL;
		ck_assert(mta_queue_update(q, e, &error));
		ck_assert(!mta_queue_entry_is_done(e));
		ck_assert_int_eq(mta_queue_entry_next_attempt(e), 1300 * SEC);
		ck_assert_int_eq(mta_queue_next_wakeup(q), 1300 * SEC);
		g_autofree char *env = mta_queue_envelope_format(e);
		mta_queue_free(q);
		assert_listing(dir, "Q1.env Q1.msg");

		/* the update survived */
		g_autoptr(GPtrArray) notes = NULL;
		q = open_ok(dir, sync, &notes);
		assert_notes(notes, "loaded:Q1");
		e = mta_queue_lookup(q, "Q1");
		g_autofree char *env2 = mta_queue_envelope_format(e);
		ck_assert_str_eq(env, env2);
		ck_assert_str_eq(rcpt_at(e, 1)->last_reply, "451 4.4.1 No answer");

		/* a refused update leaves the disk as it was */
		g_free(rcpt_at(e, 1)->last_reply);
		rcpt_at(e, 1)->last_reply = g_strnfill(MTA_QUEUE_MAX_REPLY + 1, 'x');
		ck_assert(!mta_queue_update(q, e, &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
		g_clear_error(&error);
		g_autofree char *on_disk = read_file(dir, "Q1.env");
		ck_assert_str_eq(on_disk, env);
		mta_queue_rcpt_set_reply(rcpt_at(e, 1), "550 5.1.1 No such user");

		/* carol fails: done, removed */
		rcpt_at(e, 1)->state = MTA_QUEUE_RCPT_FAILED;
		ck_assert(mta_queue_entry_is_done(e));
		ck_assert_int_eq(mta_queue_entry_next_attempt(e), G_MAXINT64);
		ck_assert(mta_queue_remove(q, e, &error));
		ck_assert_uint_eq(mta_queue_count(q), 0);
		ck_assert_ptr_null(mta_queue_lookup(q, "Q1"));
		assert_listing(dir, "");
		mta_queue_free(q);
		q = open_ok(dir, sync, &notes);
		ck_assert_uint_eq(mta_queue_count(q), 0);
		mta_queue_free(q);
	}
	ms_test_rmtree(dir);
}
END_TEST

/* Updated to all-final, then a crash before the removal: gone on open. */
START_TEST(test_finished_removed_on_open)
{
	g_autofree char *dir = ms_test_tmpdir();
	MtaQueue *q = open_ok(dir, TRUE, NULL);
	g_autoptr(GBytes) msg = sample_bytes();
	MtaQueueIncoming in = incoming("Q1", msg);
	MtaQueueEntry *e = mta_queue_add(q, &in, NULL);
	rcpt_at(e, 0)->state = MTA_QUEUE_RCPT_DELIVERED;
	rcpt_at(e, 1)->state = MTA_QUEUE_RCPT_FAILED;
	ck_assert(mta_queue_update(q, e, NULL));
	mta_queue_free(q);

	g_autoptr(GPtrArray) notes = NULL;
	q = open_ok(dir, TRUE, &notes);
	assert_notes(notes, "finished-removed:Q1");
	ck_assert_uint_eq(mta_queue_count(q), 0);
	assert_listing(dir, "");
	mta_queue_free(q);

	/* the same with the .msg already removed (the removal half done) */
	q = open_ok(dir, TRUE, NULL);
	e = mta_queue_add(q, &in, NULL);
	rcpt_at(e, 0)->state = MTA_QUEUE_RCPT_DELIVERED;
	rcpt_at(e, 1)->state = MTA_QUEUE_RCPT_DELIVERED;
	ck_assert(mta_queue_update(q, e, NULL));
	mta_queue_free(q);
	g_autofree char *msg_path = g_build_filename(dir, "Q1.msg", NULL);
	g_unlink(msg_path);
	g_clear_pointer(&notes, g_ptr_array_unref);
	q = open_ok(dir, TRUE, &notes);
	assert_notes(notes, "finished-removed:Q1");
	assert_listing(dir, "");
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

/* ---- recovery --------------------------------------------------------------- */

START_TEST(test_recovery)
{
	g_autofree char *dir = ms_test_tmpdir();
	MtaQueue *q = open_ok(dir, TRUE, NULL);
	g_autoptr(GBytes) msg = sample_bytes();
	MtaQueueIncoming in = incoming("Good", msg);
	ck_assert_ptr_nonnull(mta_queue_add(q, &in, NULL));
	in.id = "Mism";
	ck_assert_ptr_nonnull(mta_queue_add(q, &in, NULL));
	in.id = "Short";
	ck_assert_ptr_nonnull(mta_queue_add(q, &in, NULL));
	mta_queue_free(q);

	/* every kind of leftover */
	write_file(dir, "Orphan.msg", "never acknowledged");         /* .msg without .env */
	write_file(dir, "Garbage.env", "this is not an envelope\n"); /* unparseable */
	write_file(dir, "Garbage.msg", "its message");
	g_autofree char *good_env = read_file(dir, "Good.env");
	g_auto(GStrv) parts = g_strsplit(good_env, "Good", -1);
	g_autofree char *lonely = g_strjoinv("Lonely", parts);
	write_file(dir, "Lonely.env", lonely);                       /* .env without .msg */
	write_file(dir, "Mism.env", good_env);                       /* says id Good */
	write_file(dir, "Short.msg", "cut");                         /* size mismatch */
	write_file(dir, ".Next.env.tmp", "half an envelo");          /* a crash mid-write */
	write_file(dir, ".Next.msg.tmp", "half a mess");
	write_file(dir, "README", "left alone");                     /* not ours */
	write_file(dir, "bad.id.msg", "left alone");
	g_autofree char *sub = g_build_filename(dir, "subdir", NULL);
	g_mkdir(sub, 0700);

	g_autoptr(GPtrArray) notes = NULL;
	q = open_ok(dir, TRUE, &notes);
	assert_notes(notes,
	             "temp-removed:.Next.env.tmp temp-removed:.Next.msg.tmp ignored:README "
	             "ignored:bad.id.msg ignored:subdir "
	             "corrupt:Garbage loaded:Good corrupt:Lonely corrupt:Mism "
	             "orphan-removed:Orphan corrupt:Short");
	ck_assert_uint_eq(mta_queue_count(q), 1);
	ck_assert_ptr_nonnull(mta_queue_lookup(q, "Good"));
	assert_listing(dir, "Good.env Good.msg README bad.id.msg corrupt subdir");
	g_autofree char *corrupt = g_build_filename(dir, MTA_QUEUE_CORRUPT_DIR, NULL);
	assert_listing(corrupt, "Garbage.env Garbage.msg Lonely.env Mism.env Mism.msg "
	                        "Short.env Short.msg");
	g_autofree char *kept = read_file(corrupt, "Garbage.msg");
	ck_assert_str_eq(kept, "its message");
	/* each note says why */
	for (guint i = 0; i < notes->len; i++) {
		const MtaQueueNote *n = g_ptr_array_index(notes, i);
		if (strcmp(n->id, "Garbage") == 0)
			ck_assert_ptr_nonnull(strstr(n->text, "line 1"));
		if (strcmp(n->id, "Lonely") == 0)
			ck_assert_ptr_nonnull(strstr(n->text, "no message"));
		if (strcmp(n->id, "Mism") == 0)
			ck_assert_ptr_nonnull(strstr(n->text, "id Good"));
		if (strcmp(n->id, "Short") == 0)
			ck_assert_ptr_nonnull(strstr(n->text, "octets"));
	}
	/* a damaged id can be used again; its new damage does not overwrite */
	in.id = "Garbage";
	ck_assert_ptr_nonnull(mta_queue_add(q, &in, NULL));
	mta_queue_free(q);
	write_file(dir, "Garbage.env", "broken again\n");
	g_clear_pointer(&notes, g_ptr_array_unref);
	q = open_ok(dir, FALSE, &notes);
	assert_notes(notes, "ignored:README ignored:bad.id.msg ignored:subdir corrupt:Garbage loaded:Good");
	assert_listing(corrupt, "Garbage.env Garbage.env.1 Garbage.msg Garbage.msg.1 Lonely.env "
	                        "Mism.env Mism.msg Short.env Short.msg");
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

/* A damaged entry that cannot be moved stays, and its id stays taken. */
START_TEST(test_recovery_corrupt_blocked)
{
	g_autofree char *dir = ms_test_tmpdir();
	write_file(dir, "corrupt", "a file where the directory should be");
	write_file(dir, "Bad.env", "nonsense\n");
	g_autoptr(GPtrArray) notes = NULL;
	MtaQueue *q = open_ok(dir, TRUE, &notes);
	assert_notes(notes, "corrupt:Bad");
	const MtaQueueNote *n = g_ptr_array_index(notes, 0);
	ck_assert_ptr_nonnull(strstr(n->text, "left in place"));
	assert_listing(dir, "Bad.env corrupt");
	g_autoptr(GBytes) msg = sample_bytes();
	MtaQueueIncoming in = incoming("Bad", msg);
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(mta_queue_add(q, &in, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

/* ---- crash simulations ------------------------------------------------------ */

#define CRASH_MAX_ADDS 5000

/* The message for add number i: its size varies, so a partial file shows. */
static GBytes *crash_message(guint round, guint i)
{
	GString *s = g_string_new(NULL);
	g_string_append_printf(s, "Received: by crash-test; round %u message %u\r\n\r\n", round, i);
	guint lines = (i * 37 + round * 11) % 200;
	for (guint l = 0; l < lines; l++)
		g_string_append_printf(s, "line %u of message %u, padded to make it longer.\r\n", l, i);
	return g_string_free_to_bytes(s);
}

static char *crash_id(guint round, guint i)
{
	return g_strdup_printf("R%uN%u", round, i);
}

/* The child: add messages until stop_after (0: forever), telling the
 * parent the number of each add that returned.  Never returns. */
static void crash_child(const char *dir, guint round, guint stop_after, int ack_fd)
{
	MtaQueue *q = mta_queue_open(dir, TRUE, NULL, NULL);
	if (!q)
		_exit(2);
	static const char *const rcpts[] = { "bob@example.org", NULL };
	for (guint i = 0; i < CRASH_MAX_ADDS; i++) {
		g_autofree char *id = crash_id(round, i);
		g_autoptr(GBytes) msg = crash_message(round, i);
		MtaQueueIncoming in = { .id = id, .from = "a@example.com", .rcpts = rcpts,
		                        .message = msg, .arrival_us = i };
		if (!mta_queue_add(q, &in, NULL))
			_exit(3);
		/* only now may the server say 250 */
		if (write(ack_fd, &i, sizeof i) != sizeof i)
			_exit(4);
		if (stop_after && i + 1 == stop_after)
			_exit(0);  /* no cleanup, no free: as sudden as a crash */
	}
	_exit(0);
}

/* Reopen after a crash: every acknowledged add is there once, with its
 * bytes; whatever else is there is complete; nothing half-written is. */
static void crash_check(const char *dir, guint rounds, GHashTable *acked)
{
	g_autoptr(GPtrArray) notes = NULL;
	MtaQueue *q = open_ok(dir, TRUE, &notes);
	for (guint i = 0; i < notes->len; i++) {
		const MtaQueueNote *n = g_ptr_array_index(notes, i);
		ck_assert_msg(n->kind != MTA_QUEUE_NOTE_CORRUPT && n->kind != MTA_QUEUE_NOTE_IGNORED,
		              "%s", n->text);
	}
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, acked);
	while (g_hash_table_iter_next(&it, &key, NULL))
		ck_assert_msg(mta_queue_lookup(q, key) != NULL, "acknowledged %s lost", (char *)key);

	g_autoptr(GPtrArray) all = mta_queue_entries(q);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < all->len; i++) {
		MtaQueueEntry *e = all->pdata[i];
		guint round, n;
		ck_assert_int_eq(sscanf(e->id, "R%uN%u", &round, &n), 2);
		ck_assert(round < rounds);
		ck_assert_msg(g_hash_table_add(seen, e->id), "%s twice", e->id);
		g_autoptr(GBytes) expect = crash_message(round, n);
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) got = mta_queue_read_message(q, e, &error);
		ck_assert_msg(got != NULL, "%s: %s", e->id, error ? error->message : "");
		ck_assert(g_bytes_equal(got, expect));
	}
	/* at most one add per round was in flight, unacknowledged but complete */
	ck_assert_uint_le(all->len, g_hash_table_size(acked) + rounds);
	ck_assert_uint_ge(all->len, g_hash_table_size(acked));
	mta_queue_free(q);

	/* on disk: pairs only */
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	guint files = 0;
	while ((name = g_dir_read_name(d))) {
		ck_assert_msg(g_str_has_suffix(name, ".env") || g_str_has_suffix(name, ".msg"), "%s", name);
		files++;
	}
	g_dir_close(d);
	ck_assert_uint_eq(files, 2 * all->len);
}

/* Read the child's acknowledgements until it is gone. */
static void crash_collect(int fd, guint round, GHashTable *acked)
{
	guint i;
	ssize_t n;
	while ((n = read(fd, &i, sizeof i)) == sizeof i)
		g_hash_table_add(acked, crash_id(round, i));
	ck_assert_int_eq(n, 0);
}

START_TEST(test_crash_exit)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autoptr(GHashTable) acked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	static const guint stops[] = { 1, 7, 20 };
	for (guint round = 0; round < G_N_ELEMENTS(stops); round++) {
		int fds[2];
		ck_assert_int_eq(pipe(fds), 0);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(dir, round, stops[round], fds[1]);
		}
		close(fds[1]);
		crash_collect(fds[0], round, acked);
		close(fds[0]);
		int status;
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		crash_check(dir, round + 1, acked);
	}
	ck_assert_uint_eq(g_hash_table_size(acked), 1 + 7 + 20);
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_crash_kill)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autoptr(GHashTable) acked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	guint32 seed = g_random_int();
	GRand *rand = g_rand_new_with_seed(seed);
	for (guint round = 0; round < 6; round++) {
		int fds[2];
		ck_assert_int_eq(pipe(fds), 0);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(dir, round, 0, fds[1]);
		}
		close(fds[1]);
		/* wait for the first add, then kill at a random moment */
		guint first;
		ck_assert_int_eq(read(fds[0], &first, sizeof first), sizeof first);
		g_hash_table_add(acked, crash_id(round, first));
		g_usleep(g_rand_int_range(rand, 0, 40000));
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		int status;
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		              "child ended early (seed %u)", seed);
		crash_collect(fds[0], round, acked);
		close(fds[0]);
		crash_check(dir, round + 1, acked);
	}
	g_rand_free(rand);
	ms_test_rmtree(dir);
}
END_TEST

/* ---- group commit ------------------------------------------------------------ */

START_TEST(test_stage_commit)
{
	g_autofree char *dir = ms_test_tmpdir();
	for (int sync = 0; sync <= 1; sync++) {
		MtaQueue *q = open_ok(dir, sync, NULL);
		g_autoptr(GBytes) msg = sample_bytes();
		g_autoptr(GError) error = NULL;
		const char *ids[] = { "S1", "S2", "S3" };
		MtaQueueEntry *staged[3];
		for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
			MtaQueueIncoming in = incoming(ids[i], msg);
			in.arrival_us += i;
			staged[i] = mta_queue_stage(q, &in, &error);
			ck_assert_ptr_nonnull(staged[i]);
		}
		/* staged: not in the queue, not under a final name, id taken */
		ck_assert_uint_eq(mta_queue_staged_count(q), 3);
		ck_assert_uint_eq(mta_queue_count(q), 0);
		ck_assert_ptr_null(mta_queue_lookup(q, "S1"));
		g_autoptr(GPtrArray) due = mta_queue_due(q, G_MAXINT64);
		ck_assert_uint_eq(due->len, 0);
		assert_listing(dir, ".S1.env.tmp .S1.msg.tmp .S2.env.tmp .S2.msg.tmp .S3.env.tmp .S3.msg.tmp");
		MtaQueueIncoming again = incoming("S2", msg);
		ck_assert_ptr_null(mta_queue_stage(q, &again, &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
		g_clear_error(&error);

		ck_assert(mta_queue_commit(q, &error));
		ck_assert_uint_eq(mta_queue_staged_count(q), 0);
		ck_assert_uint_eq(mta_queue_count(q), 3);
		ck_assert_ptr_eq(mta_queue_lookup(q, "S2"), staged[1]);
		assert_listing(dir, "S1.env S1.msg S2.env S2.msg S3.env S3.msg");
		ck_assert(mta_queue_commit(q, &error));  /* nothing staged: fine */
		mta_queue_free(q);

		g_autoptr(GPtrArray) notes = NULL;
		q = open_ok(dir, sync, &notes);
		assert_notes(notes, "loaded:S1 loaded:S2 loaded:S3");
		g_autoptr(GBytes) back = mta_queue_read_message(q, mta_queue_lookup(q, "S3"), &error);
		assert_bytes(back, sample_message, strlen(sample_message));
		/* clean up for the next round */
		g_autoptr(GPtrArray) all = mta_queue_entries(q);
		for (guint i = 0; i < all->len; i++)
			ck_assert(mta_queue_remove(q, all->pdata[i], NULL));
		mta_queue_free(q);
		assert_listing(dir, "");
	}
	ms_test_rmtree(dir);
}
END_TEST

/* A commit that fails leaves nothing: no entry, no file. */
START_TEST(test_commit_fails)
{
	g_autofree char *dir = ms_test_tmpdir();
	for (int sync = 0; sync <= 1; sync++) {
		MtaQueue *q = open_ok(dir, sync, NULL);
		g_autoptr(GBytes) msg = sample_bytes();
		MtaQueueIncoming a = incoming("A", msg), b = incoming("B", msg);
		ck_assert_ptr_nonnull(mta_queue_stage(q, &a, NULL));
		ck_assert_ptr_nonnull(mta_queue_stage(q, &b, NULL));
		/* B's envelope vanishes before the commit: with sync the fsync
		 * fails first, without it the rename, after A is in place */
		g_autofree char *tmp = g_build_filename(dir, ".B.env.tmp", NULL);
		ck_assert_int_eq(g_unlink(tmp), 0);
		g_autoptr(GError) error = NULL;
		ck_assert(!mta_queue_commit(q, &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
		ck_assert_uint_eq(mta_queue_count(q), 0);
		ck_assert_uint_eq(mta_queue_staged_count(q), 0);
		assert_listing(dir, "");
		/* the ids are free again */
		ck_assert_ptr_nonnull(mta_queue_add(q, &a, NULL));
		ck_assert(mta_queue_remove(q, mta_queue_lookup(q, "A"), NULL));
		mta_queue_free(q);
	}
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_free_drops_staged)
{
	g_autofree char *dir = ms_test_tmpdir();
	MtaQueue *q = open_ok(dir, TRUE, NULL);
	g_autoptr(GBytes) msg = sample_bytes();
	MtaQueueIncoming in = incoming("S1", msg);
	ck_assert_ptr_nonnull(mta_queue_stage(q, &in, NULL));
	in.id = "S2";
	ck_assert_ptr_nonnull(mta_queue_add(q, &in, NULL));
	mta_queue_free(q);
	assert_listing(dir, "S2.env S2.msg");
	mta_queue_free(NULL);
	ms_test_rmtree(dir);
}
END_TEST

/* ---- group commit from several threads ---------------------------------------- */

/* Arrivals: reserved, written (temporaries only), committed together
 * (final names), finished into the queue; a second arrival with a taken id
 * is refused; one not written is left out of the commit and leaves nothing. */
START_TEST(test_arrivals)
{
	g_autofree char *dir = ms_test_tmpdir();
	for (int sync = 0; sync <= 1; sync++) {
		MtaQueue *q = open_ok(dir, sync, NULL);
		g_autoptr(GBytes) msg = sample_bytes();
		g_autoptr(GError) error = NULL;
		MtaQueueIncoming a = incoming("A1", msg), b = incoming("A2", msg), c = incoming("A3", msg);
		MtaQueueArrival *arr[3] = {
			mta_queue_arrival_new(q, &a, &error), mta_queue_arrival_new(q, &b, &error),
			mta_queue_arrival_new(q, &c, &error),
		};
		for (guint i = 0; i < 3; i++)
			ck_assert_ptr_nonnull(arr[i]);
		ck_assert_str_eq(mta_queue_arrival_id(arr[1]), "A2");
		/* the ids are taken while they arrive */
		ck_assert_ptr_null(mta_queue_arrival_new(q, &a, &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
		g_clear_error(&error);
		ck_assert_ptr_null(mta_queue_add(q, &b, &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
		g_clear_error(&error);

		ck_assert(mta_queue_arrival_write(arr[0], &error));
		ck_assert(mta_queue_arrival_write(arr[1], &error));
		assert_listing(dir, ".A1.env.tmp .A1.msg.tmp .A2.env.tmp .A2.msg.tmp");
		ck_assert_uint_eq(mta_queue_count(q), 0);
		ck_assert(mta_queue_arrivals_commit(arr, 3, &error));
		assert_listing(dir, "A1.env A1.msg A2.env A2.msg");
		MtaQueueEntry *e1 = mta_queue_arrival_finish(q, arr[0]);
		MtaQueueEntry *e2 = mta_queue_arrival_finish(q, arr[1]);
		ck_assert_ptr_null(mta_queue_arrival_finish(q, arr[2]));   /* never written */
		ck_assert_ptr_eq(mta_queue_lookup(q, "A1"), e1);
		ck_assert_ptr_eq(mta_queue_lookup(q, "A2"), e2);
		ck_assert_uint_eq(mta_queue_count(q), 2);
		g_autoptr(GBytes) back = mta_queue_read_message(q, e2, &error);
		assert_bytes(back, sample_message, strlen(sample_message));
		/* A3 is free again */
		ck_assert_ptr_nonnull(mta_queue_add(q, &c, &error));
		mta_queue_free(q);

		g_autoptr(GPtrArray) notes = NULL;
		q = open_ok(dir, sync, &notes);
		assert_notes(notes, "loaded:A1 loaded:A2 loaded:A3");
		g_autoptr(GPtrArray) all = mta_queue_entries(q);
		for (guint i = 0; i < all->len; i++)
			ck_assert(mta_queue_remove(q, all->pdata[i], NULL));
		mta_queue_free(q);
		assert_listing(dir, "");
	}
	ms_test_rmtree(dir);
}
END_TEST

/* A commit that fails takes back every name it gave: nothing is queued. */
START_TEST(test_arrivals_commit_fails)
{
	g_autofree char *dir = ms_test_tmpdir();
	for (int sync = 0; sync <= 1; sync++) {
		MtaQueue *q = open_ok(dir, sync, NULL);
		g_autoptr(GBytes) msg = sample_bytes();
		MtaQueueIncoming a = incoming("F1", msg), b = incoming("F2", msg);
		MtaQueueArrival *arr[2] = { mta_queue_arrival_new(q, &a, NULL), mta_queue_arrival_new(q, &b, NULL) };
		ck_assert(mta_queue_arrival_write(arr[0], NULL) && mta_queue_arrival_write(arr[1], NULL));
		/* F2's envelope vanishes: F1 is renamed into place, then the
		 * rename of F2's fails */
		g_autofree char *tmp = g_build_filename(dir, ".F2.env.tmp", NULL);
		ck_assert_int_eq(g_unlink(tmp), 0);
		g_autoptr(GError) error = NULL;
		ck_assert(!mta_queue_arrivals_commit(arr, 2, &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
		ck_assert_ptr_null(mta_queue_arrival_finish(q, arr[0]));
		ck_assert_ptr_null(mta_queue_arrival_finish(q, arr[1]));
		ck_assert_uint_eq(mta_queue_count(q), 0);
		assert_listing(dir, "");
		mta_queue_free(q);
	}
	ms_test_rmtree(dir);
}
END_TEST

/* Recycling: removed files become ".free.N", the next arrivals write over
 * them (no file left over, the bytes right), a reopened queue finds them
 * again; a free file with a second link is never written over. */
START_TEST(test_recycle)
{
	g_autofree char *dir = ms_test_tmpdir();
	MtaQueue *q = open_ok(dir, TRUE, NULL);
	mta_queue_set_recycle(q, TRUE);
	g_autoptr(GBytes) msg = sample_bytes();
	MtaQueueIncoming in = incoming("R1", msg);
	ck_assert(mta_queue_remove_unsynced(q, mta_queue_add(q, &in, NULL), NULL));
	assert_listing(dir, ".free.0 .free.1");
	mta_queue_free(q);

	g_autoptr(GPtrArray) notes = NULL;
	q = open_ok(dir, TRUE, &notes);
	assert_notes(notes, "");   /* free files are nobody's: no note */
	static const char other[] = "Subject: another\r\n\r\nA longer body than the first one had.\r\n";
	g_autoptr(GBytes) msg2 = g_bytes_new_static(other, strlen(other));
	MtaQueueIncoming in2 = incoming("R2", msg2);
	MtaQueueArrival *a = mta_queue_arrival_new(q, &in2, NULL);
	ck_assert(mta_queue_arrival_write(a, NULL));
	ck_assert(mta_queue_arrivals_commit(&a, 1, NULL));
	MtaQueueEntry *e = mta_queue_arrival_finish(q, a);
	ck_assert_ptr_nonnull(e);
	assert_listing(dir, "R2.env R2.msg");
	g_autoptr(GBytes) back = mta_queue_read_message(q, e, NULL);
	assert_bytes(back, other, strlen(other));
	g_autofree char *env = read_file(dir, "R2.env");
	g_autofree char *expect = mta_queue_envelope_format(e);
	ck_assert_str_eq(env, expect);

	/* without recycling, removal deletes */
	mta_queue_set_recycle(q, FALSE);
	ck_assert(mta_queue_remove(q, e, NULL));
	assert_listing(dir, "");

	/* a free file that is also someone else's name is left alone */
	g_autofree char *free0 = g_build_filename(dir, ".free.0", NULL);
	g_autofree char *keep = g_build_filename(dir, "keep", NULL);
	ck_assert(g_file_set_contents(free0, "precious", -1, NULL));
	ck_assert_int_eq(link(free0, keep), 0);
	mta_queue_free(q);
	q = open_ok(dir, TRUE, NULL);
	MtaQueueIncoming in3 = incoming("R3", msg);
	a = mta_queue_arrival_new(q, &in3, NULL);
	ck_assert(mta_queue_arrival_write(a, NULL));
	ck_assert(mta_queue_arrivals_commit(&a, 1, NULL));
	ck_assert_ptr_nonnull(mta_queue_arrival_finish(q, a));
	g_autofree char *kept = read_file(dir, "keep");
	ck_assert_str_eq(kept, "precious");
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

/* The queue manager's view: entries in flight are skipped, and the next
 * wake-up is the earliest of the others. */
START_TEST(test_due_skip)
{
	g_autofree char *dir = ms_test_tmpdir();
	MtaQueue *q = open_ok(dir, FALSE, NULL);
	g_autoptr(GBytes) msg = sample_bytes();
	const char *ids[] = { "D1", "D2", "D3" };
	for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
		MtaQueueIncoming in = incoming(ids[i], msg);
		in.arrival_us = (gint64)(i + 1) * 100 * SEC;
		ck_assert_ptr_nonnull(mta_queue_add(q, &in, NULL));
	}
	g_autoptr(GHashTable) skip = g_hash_table_new(g_str_hash, g_str_equal);
	g_hash_table_add(skip, (gpointer)"D1");
	gint64 next = 0;
	g_autoptr(GPtrArray) due = mta_queue_due_skip(q, 200 * SEC, skip, &next);
	ck_assert_uint_eq(due->len, 1);
	ck_assert_str_eq(((MtaQueueEntry *)due->pdata[0])->id, "D2");
	ck_assert_int_eq(next, 300 * SEC);
	g_autoptr(GPtrArray) all = mta_queue_due_skip(q, 300 * SEC, NULL, &next);
	ck_assert_uint_eq(all->len, 3);
	ck_assert_int_eq(next, G_MAXINT64);
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

/* ---- due order ----------------------------------------------------------------- */

START_TEST(test_due_order)
{
	g_autofree char *dir = ms_test_tmpdir();
	MtaQueue *q = open_ok(dir, FALSE, NULL);
	g_autoptr(GBytes) msg = sample_bytes();
	/* id, arrival, next attempt of each recipient (-1: delivered) */
	static const struct { const char *id; gint64 arrival; gint64 next[2]; } rows[] = {
		{ "E", 50, { 300, 200 } },  /* due at 200: the earlier recipient counts */
		{ "D", 10, { 200, -1 } },   /* due at 200, arrived first */
		{ "C", 10, { 200, 900 } },  /* due at 200, same arrival as D: by id */
		{ "B", 5,  { 100, 100 } },  /* due first */
		{ "F", 1,  { 500, 500 } },  /* not yet due at 400 */
		{ "A", 0,  { -1, -1 } },    /* all delivered: never due */
	};
	for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
		MtaQueueIncoming in = incoming(rows[i].id, msg);
		in.arrival_us = rows[i].arrival;
		MtaQueueEntry *e = mta_queue_add(q, &in, NULL);
		ck_assert_ptr_nonnull(e);
		for (guint r = 0; r < 2; r++) {
			if (rows[i].next[r] < 0) {
				rcpt_at(e, r)->state = MTA_QUEUE_RCPT_DELIVERED;
			} else {
				rcpt_at(e, r)->state = MTA_QUEUE_RCPT_DEFERRED;
				rcpt_at(e, r)->next_attempt_us = rows[i].next[r];
			}
		}
		ck_assert(mta_queue_update(q, e, NULL));
	}
	static const struct { gint64 now; const char *order; } cases[] = {
		{ 99,        "" },
		{ 100,       "B" },
		{ 400,       "B C D E" },
		{ G_MAXINT64, "B C D E F" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GPtrArray) due = mta_queue_due(q, cases[i].now);
		GString *got = g_string_new(NULL);
		for (guint j = 0; j < due->len; j++)
			g_string_append_printf(got, "%s%s", j ? " " : "", ((MtaQueueEntry *)due->pdata[j])->id);
		ck_assert_str_eq(got->str, cases[i].order);
		g_string_free(got, TRUE);
	}
	ck_assert_int_eq(mta_queue_next_wakeup(q), 100);
	/* mailq order: by arrival, then id */
	g_autoptr(GPtrArray) all = mta_queue_entries(q);
	static const char *const by_arrival[] = { "A", "F", "B", "C", "D", "E" };
	ck_assert_uint_eq(all->len, G_N_ELEMENTS(by_arrival));
	for (guint j = 0; j < all->len; j++)
		ck_assert_str_eq(((MtaQueueEntry *)all->pdata[j])->id, by_arrival[j]);
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

/* ---- bad input and failures ------------------------------------------------------ */

START_TEST(test_hostile_ids)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *qdir = g_build_filename(dir, "queue", NULL);
	MtaQueue *q = open_ok(qdir, TRUE, NULL);
	g_autoptr(GBytes) msg = sample_bytes();
	g_autofree char *long_id = g_strnfill(300, 'a');
	const char *bad[] = { "../x", "a/b", "", long_id, "..", "x.env", NULL };
	for (gsize i = 0; bad[i]; i++) {
		MtaQueueIncoming in = incoming(bad[i], msg);
		g_autoptr(GError) error = NULL;
		ck_assert_ptr_null(mta_queue_add(q, &in, &error));
		ck_assert_msg(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME), "%s", bad[i]);
		g_clear_error(&error);
		ck_assert_ptr_null(mta_queue_stage(q, &in, &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME));
	}
	MtaQueueIncoming in = incoming(NULL, msg);
	ck_assert_ptr_null(mta_queue_add(q, &in, NULL));
	ck_assert_uint_eq(mta_queue_count(q), 0);
	assert_listing(qdir, "");
	assert_listing(dir, "queue");
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_bad_arguments)
{
	g_autofree char *dir = ms_test_tmpdir();
	MtaQueue *q = open_ok(dir, FALSE, NULL);
	g_autoptr(GBytes) msg = sample_bytes();
	g_autofree char *long_addr = g_strnfill(MTA_QUEUE_MAX_ADDRESS + 1, 'a');
	g_autofree char *long_helo = g_strnfill(MTA_QUEUE_MAX_CLIENT_FIELD + 1, 'h');
	static const char *const none[] = { NULL };
	static const char *const empty[] = { "", NULL };
	const char *long_rcpt[] = { long_addr, NULL };
	GPtrArray *many = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i <= MTA_QUEUE_MAX_RCPTS; i++)
		g_ptr_array_add(many, g_strdup_printf("r%u@x", i));
	g_ptr_array_add(many, NULL);

	for (int kind = 0; kind < 8; kind++) {
		MtaQueueIncoming in = incoming("X", msg);
		switch (kind) {
		case 0: in.rcpts = none; break;
		case 1: in.rcpts = empty; break;
		case 2: in.rcpts = long_rcpt; break;
		case 3: in.rcpts = (const char *const *)many->pdata; break;
		case 4: in.from = long_addr; break;
		case 5: in.client_helo = long_helo; break;
		case 6: in.arrival_us = -1; break;
		case 7: in.from = NULL; break;
		}
		g_autoptr(GError) error = NULL;
		ck_assert_msg(mta_queue_add(q, &in, &error) == NULL, "kind %d", kind);
		ck_assert_msg(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT), "kind %d: %s", kind,
		              error ? error->message : "");
	}
	g_ptr_array_unref(many);

	/* exactly MTA_QUEUE_MAX_RCPTS is fine */
	GPtrArray *max = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < MTA_QUEUE_MAX_RCPTS; i++)
		g_ptr_array_add(max, g_strdup_printf("some.longer.name.%u@some.longer.domain.example", i));
	g_ptr_array_add(max, NULL);
	MtaQueueIncoming in = incoming("Max", msg);
	in.rcpts = (const char *const *)max->pdata;
	ck_assert_ptr_nonnull(mta_queue_add(q, &in, NULL));
	g_ptr_array_unref(max);

	/* a message over the size limit (calloc'd: the pages are never touched) */
	GBytes *huge = g_bytes_new_take(g_malloc0(MTA_QUEUE_MAX_MESSAGE_SIZE + 1),
	                                MTA_QUEUE_MAX_MESSAGE_SIZE + 1);
	in = incoming("Huge", huge);
	g_autoptr(GError) error = NULL;
	ck_assert_ptr_null(mta_queue_add(q, &in, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE));
	g_bytes_unref(huge);
	assert_listing(dir, "Max.env Max.msg");
	mta_queue_free(q);

	/* the 1000-recipient entry comes back */
	q = open_ok(dir, FALSE, NULL);
	ck_assert_uint_eq(mta_queue_lookup(q, "Max")->rcpts->len, MTA_QUEUE_MAX_RCPTS);
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

START_TEST(test_io_errors)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autoptr(GError) error = NULL;

	/* a queue directory whose parent is a regular file */
	g_autofree char *file = g_build_filename(dir, "file", NULL);
	write_file(dir, "file", "x");
	g_autofree char *under = g_build_filename(file, "queue", NULL);
	ck_assert_ptr_null(mta_queue_open(under, TRUE, NULL, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY));
	g_clear_error(&error);

	/* the directory removed under a running queue */
	g_autofree char *qdir = g_build_filename(dir, "queue", NULL);
	MtaQueue *q = open_ok(qdir, TRUE, NULL);
	ck_assert_int_eq(g_rmdir(qdir), 0);
	g_autoptr(GBytes) msg = sample_bytes();
	MtaQueueIncoming in = incoming("Q1", msg);
	ck_assert_ptr_null(mta_queue_add(q, &in, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);
	ck_assert_ptr_null(mta_queue_stage(q, &in, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	ck_assert_uint_eq(mta_queue_count(q), 0);
	ck_assert_uint_eq(mta_queue_staged_count(q), 0);
	ck_assert(!g_file_test(qdir, G_FILE_TEST_EXISTS));
	mta_queue_free(q);
	assert_listing(dir, "file");

	/* the message file damaged behind the queue's back */
	q = open_ok(qdir, TRUE, NULL);
	MtaQueueEntry *e = mta_queue_add(q, &in, NULL);
	write_file(qdir, "Q1.msg", "short");
	g_clear_error(&error);
	ck_assert_ptr_null(mta_queue_read_message(q, e, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

/* A full disk, faked with RLIMIT_FSIZE (write(2) fails with EFBIG): the
 * add fails with NO_SPACE (the server answers 452) and leaves nothing. */
START_TEST(test_no_space)
{
	g_autofree char *dir = ms_test_tmpdir();
	MtaQueue *q = open_ok(dir, TRUE, NULL);
	g_autoptr(GBytes) msg = sample_bytes();
	MtaQueueIncoming in = incoming("Q1", msg);
	ck_assert_ptr_nonnull(mta_queue_add(q, &in, NULL));
	g_autoptr(GBytes) big = g_bytes_new_take(g_malloc0(10000), 10000);

	struct rlimit saved;
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	struct rlimit small = { .rlim_cur = 1000, .rlim_max = saved.rlim_max };
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	GError *add_error = NULL, *stage_error = NULL;
	MtaQueueIncoming in2 = incoming("Q2", big);
	MtaQueueEntry *added = mta_queue_add(q, &in2, &add_error);
	MtaQueueEntry *staged = mta_queue_stage(q, &in2, &stage_error);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old_handler);

	ck_assert_ptr_null(added);
	ck_assert(g_error_matches(add_error, G_IO_ERROR, G_IO_ERROR_NO_SPACE));
	ck_assert_ptr_null(staged);
	ck_assert(g_error_matches(stage_error, G_IO_ERROR, G_IO_ERROR_NO_SPACE));
	g_error_free(add_error);
	g_error_free(stage_error);
	ck_assert_uint_eq(mta_queue_count(q), 1);
	ck_assert_uint_eq(mta_queue_staged_count(q), 0);
	assert_listing(dir, "Q1.env Q1.msg");
	mta_queue_free(q);
	ms_test_rmtree(dir);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("mta_queue");
	MS_ADD_TEST(s, test_to_string, 10);
	MS_ADD_TEST(s, test_ids, 10);
	MS_ADD_TEST(s, test_backoff, 10);
	MS_ADD_TEST(s, test_expired_and_reply, 10);
	MS_ADD_TEST(s, test_envelope_exact, 10);
	MS_ADD_TEST(s, test_envelope_valid, 10);
	MS_ADD_TEST(s, test_envelope_invalid, 10);
	MS_ADD_TEST(s, test_add_reopen, 10);
	MS_ADD_TEST(s, test_update_remove, 10);
	MS_ADD_TEST(s, test_finished_removed_on_open, 10);
	MS_ADD_TEST(s, test_recovery, 10);
	MS_ADD_TEST(s, test_recovery_corrupt_blocked, 10);
	MS_ADD_TEST(s, test_crash_exit, 60);
	MS_ADD_TEST(s, test_crash_kill, 60);
	MS_ADD_TEST(s, test_stage_commit, 10);
	MS_ADD_TEST(s, test_commit_fails, 10);
	MS_ADD_TEST(s, test_free_drops_staged, 10);
	MS_ADD_TEST(s, test_arrivals, 10);
	MS_ADD_TEST(s, test_arrivals_commit_fails, 10);
	MS_ADD_TEST(s, test_recycle, 10);
	MS_ADD_TEST(s, test_due_skip, 10);
	MS_ADD_TEST(s, test_due_order, 10);
	MS_ADD_TEST(s, test_hostile_ids, 10);
	MS_ADD_TEST(s, test_bad_arguments, 30);
	MS_ADD_TEST(s, test_io_errors, 10);
	MS_ADD_TEST(s, test_no_space, 10);
	return s;
}

MS_TEST_MAIN(queue_suite)
