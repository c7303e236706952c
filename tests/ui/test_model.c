/* tests/ui/test_model.c - ui/model.c and ui/steps.c: the history cut into
 * moments (one party speaking at one instant), the step active at each
 * (in the course's order, on a hand-written run and on the real relay-path
 * scenario), a transcript per connection, stepping back and forth through
 * the history, the protocol filter and the search.
 */
#include "tests/ms_test.h"
#include "sim/runner.h"
#include "ui/model.h"
#include "ui/steps.h"
#include "ui/view.h"   /* ui_pane_sequence_label */

typedef struct {
	MsEventKind kind;
	gint64      t_us;
	const char *from, *to, *proto, *step, *text;
	guint64     conn;
} E;

/* A run shaped like scenarios/rbl-refused.scn's start: submission with
 * AUTH, the password check, the MX lookup, the relay, a refusal. */
static const E run[] = {
	/*  0 */ { MS_EV_NOTE, 0, "scenario", NULL, NULL, NULL, "A run (t.scn), seed 1", 0 },
	/*  1 */ { MS_EV_CONNECT, 1000000, "pc", "mail", "tcp", NULL, "SYN 192.0.2.77:49152 -> 192.0.2.10:587", 0 },
	/*  2 */ { MS_EV_ACCEPT, 1020000, "mail", "pc", "smtp", "out.1", "accepted 192.0.2.77:49152 on port 587", 1 },
	/*  3 */ { MS_EV_SEND, 1020000, "mail", "pc", "smtp", "out.1", "S: 220 mail ESMTP", 1 },
	/*  4 */ { MS_EV_CONNECT, 1040000, "pc", "mail", "tcp", NULL, "connected", 1 },
	/*  5 */ { MS_EV_RECV, 1040000, "mail", "pc", "tcp", NULL, "36 bytes arrived", 1 },
	/*  6 */ { MS_EV_SEND, 1040000, "pc", "mail", "smtp", NULL, "C: EHLO pc", 1 },
	/*  7 */ { MS_EV_SEND, 1040000, "pc", "mail", "smtp", NULL, "C: AUTH PLAIN ••••••", 1 },
	/*  8 */ { MS_EV_RECV, 1060000, "pc", "mail", "tcp", NULL, "99 bytes arrived", 1 },
	/*  9 */ { MS_EV_SEND, 1060000, "mail", "pc", "smtp", "out.1", "S: 250 mail", 1 },
	/* 10 */ { MS_EV_CONNECT, 1060000, "mail", "mail", "tcp", NULL, "SYN 192.0.2.10:49153 -> 192.0.2.10:12345", 0 },
	/* 11 */ { MS_EV_ACCEPT, 1060050, "mda@mail", "mail", "auth", NULL, "accepted 192.0.2.10:49153 on port 12345", 2 },
	/* 12 */ { MS_EV_SEND, 1060100, "mail", "mda@mail", "auth", "out.2", "C: AUTH alice ••••••", 2 },
	/* 13 */ { MS_EV_DB_QUERY, 1060150, "mda@mail", "accounts.sqlite", "sql", "out.3", "SELECT password", 2 },
	/* 14 */ { MS_EV_SEND, 1060150, "mda@mail", "mail", "auth", "out.3", "S: +OK", 2 },
	/* 15 */ { MS_EV_SEND, 1060200, "mail", "pc", "smtp", "out.1", "S: 235 ok", 1 },
	/* 16 */ { MS_EV_SEND, 1060200, "mail", "mda@mail", "auth", "out.2", "C: QUIT", 2 },
	/* 17 */ { MS_EV_STEP, 1060200, "mail", "dns", "dns", "out.4", "ask DNS for the MX", 0 },
	/* 18 */ { MS_EV_DNS_QUERY, 1060200, "mail", "ns", "dns", "out.4", "example.org MX ?", 0 },
	/* 19 */ { MS_EV_SEND, 1060200, "mail", "ns", "dns", NULL, "datagram", 0 },
	/* 20 */ { MS_EV_SEND, 1060250, "mda@mail", "mail", "auth", "out.3", "S: +OK bye", 2 },
	/* 21 */ { MS_EV_DNS_ANSWER, 1100200, "ns", "mail", "dns", "out.4", "example.org. MX → 10 mx.", 0 },
	/* 22 */ { MS_EV_STEP, 1140200, "mail", "mx", "smtp", "out.5", "relay to mx", 0 },
	/* 23 */ { MS_EV_CONNECT, 1140200, "mail", "mx", "tcp", NULL, "SYN 192.0.2.10:49155 -> 198.51.100.20:25", 0 },
	/* 24 */ { MS_EV_ACCEPT, 1160200, "mx", "mail", "smtp", "in.1", "accepted 192.0.2.10:49155 on port 25", 3 },
	/* 25 */ { MS_EV_SEND, 1160200, "mx", "mail", "smtp", "in.1", "S: 220 mx", 3 },
	/* 26 */ { MS_EV_SEND, 1180200, "mail", "mx", "smtp", "out.5", "C: EHLO mail", 3 },
	/* 27 */ { MS_EV_SEND, 1200200, "mx", "mail", "smtp", "in.2", "S: 250 mx", 3 },
	/* 28 */ { MS_EV_SEND, 1220200, "mail", "mx", "smtp", "out.5", "C: MAIL FROM:<alice@example.com>", 3 },
	/* 29 */ { MS_EV_SEND, 1220200, "mail", "mx", "smtp", "out.5", "C: RCPT TO:<bob@example.org>", 3 },
	/* 30 */ { MS_EV_DNS_QUERY, 1240200, "mx", "rbl", "dns", "in.3", "10.2.0.192.rbl A ?", 0 },
	/* 31 */ { MS_EV_DNS_ANSWER, 1280200, "rbl", "mx", "dns", "in.3", "A → 127.0.0.2", 0 },
	/* 32 */ { MS_EV_REFUSE, 1280200, "mx", "mail", "smtp", "in.3", "listed by rbl", 3 },
	/* 33 */ { MS_EV_SEND, 1280200, "mx", "mail", "smtp", "in.2", "S: 554 5.7.1 rejected", 3 },
	/* 34 */ { MS_EV_CLOSE, 1300200, "mx", "mail", "smtp", "in.2", "close", 3 },
};

/* Where each moment starts, and the step active after it. */
static const struct {
	guint       start;
	const char *step;
} beats[] = {
	{ 0, NULL }, { 1, NULL }, { 2, "out.1" }, { 4, "out.1" }, { 8, "out.1" }, { 11, "out.2" },
	{ 13, "out.3" }, { 15, "out.3" }, { 17, "out.4" }, { 20, "out.4" }, { 21, "out.4" }, { 22, "out.5" },
	{ 24, "in.1" }, { 26, "in.1" }, { 27, "in.2" }, { 28, "in.2" }, { 30, "in.3" }, { 31, "in.3" },
	{ 32, "in.3" },
};

static void add(UiModel *m, const E *e)
{
	MsEvent ev = { .seq = ui_model_count(m) + 1, .t_us = e->t_us, .kind = e->kind, .from = e->from,
	               .to = e->to, .proto = e->proto, .step = e->step, .text = e->text, .conn = e->conn };
	ui_model_add(m, &ev);
}

static UiModel *model_of_run(guint n)
{
	UiModel *m = ui_model_new();
	for (guint i = 0; i < n; i++)
		add(m, &run[i]);
	return m;
}

static guint events_of(const UiConversation *c, guint *out, guint max)
{
	guint n = MIN(c->lines->len, max);
	for (guint i = 0; i < n; i++)
		out[i] = g_array_index(c->lines, guint, i);
	return n;
}

/* ---- rows and moments ------------------------------------------------------ */

START_TEST(test_row_kinds)
{
	static const struct {
		MsEventKind kind;
		const char *proto;
		guint64     conn;
		gboolean    both;
		UiRowKind   row;
	} cases[] = {
		{ MS_EV_SEND, "smtp", 1, TRUE, UI_ROW_ARROW },
		{ MS_EV_SEND, "dns", 0, TRUE, UI_ROW_NONE },        /* the datagram's bytes */
		{ MS_EV_RECV, "tcp", 1, TRUE, UI_ROW_NONE },
		{ MS_EV_CONNECT, "tcp", 0, TRUE, UI_ROW_ARROW },    /* the SYN */
		{ MS_EV_CONNECT, "tcp", 4, TRUE, UI_ROW_NONE },     /* "connected": said already */
		{ MS_EV_ACCEPT, "smtp", 4, TRUE, UI_ROW_NONE },
		{ MS_EV_CLOSE, "smtp", 4, TRUE, UI_ROW_NONE },
		{ MS_EV_DNS_QUERY, "dns", 0, TRUE, UI_ROW_ARROW },
		{ MS_EV_DB_QUERY, "sql", 2, TRUE, UI_ROW_ARROW },
		{ MS_EV_STORE, "smtp", 0, FALSE, UI_ROW_COMMENT },  /* "queued", at one host */
		{ MS_EV_ERROR, NULL, 0, FALSE, UI_ROW_COMMENT },
		{ MS_EV_STEP, "dns", 0, TRUE, UI_ROW_COMMENT },
		{ MS_EV_NOTE, NULL, 0, FALSE, UI_ROW_COMMENT },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		MsEvent ev = { .kind = cases[i].kind, .from = "a", .to = cases[i].both ? "b" : NULL,
		               .proto = cases[i].proto, .conn = cases[i].conn, .text = "x" };
		ck_assert_msg(ui_model_row_kind(&ev) == cases[i].row, "case %u: %s", i,
		              ui_row_kind_to_string(ui_model_row_kind(&ev)));
	}
}
END_TEST

START_TEST(test_beats)
{
	g_autoptr(UiModel) m = model_of_run(G_N_ELEMENTS(run));
	ck_assert_uint_eq(ui_model_count(m), G_N_ELEMENTS(run));
	ck_assert_uint_eq(ui_model_beat_count(m), G_N_ELEMENTS(beats));
	for (guint b = 0; b < G_N_ELEMENTS(beats); b++) {
		ck_assert_msg(ui_model_beat_start(m, b) == beats[b].start, "moment %u starts at %u", b,
		              ui_model_beat_start(m, b));
		ck_assert_msg(g_strcmp0(ui_model_beat_step(m, b), beats[b].step) == 0, "moment %u: %s, not %s", b,
		              ui_model_beat_step(m, b), beats[b].step);
		guint end = ui_model_beat_end(m, b);
		for (guint i = ui_model_beat_start(m, b); i < end; i++)
			ck_assert_uint_eq(ui_model_beat_of(m, i), b);
	}
	/* a moment's time is that of what the class sees in it */
	ck_assert_int_eq(ui_model_beat_time(m, 3), 1040000);
	ck_assert_int_eq(ui_model_beat_time(m, 5), 1060100);
	/* an arrival is the prelude of the answer it brings */
	ck_assert_uint_eq(ui_model_beat_of(m, 8), ui_model_beat_of(m, 9));
	/* one party's pipelined burst is one moment; the next speaker another */
	ck_assert_uint_eq(ui_model_beat_of(m, 6), ui_model_beat_of(m, 7));
	ck_assert_uint_ne(ui_model_beat_of(m, 31), ui_model_beat_of(m, 32));
	/* narration goes with what it introduces */
	ck_assert_uint_eq(ui_model_beat_of(m, 22), ui_model_beat_of(m, 23));
	/* a course step's narration starts a moment, with what it introduces */
	ck_assert_uint_ne(ui_model_beat_of(m, 16), ui_model_beat_of(m, 17));
	ck_assert_uint_eq(ui_model_beat_of(m, 17), ui_model_beat_of(m, 18));
	/* the arrows of a moment */
	g_autoptr(GArray) arrows = g_array_new(FALSE, FALSE, sizeof(guint));
	ui_model_beat_arrows(m, 7, arrows);
	ck_assert_uint_eq(arrows->len, 2);   /* 235 and QUIT */
	g_array_set_size(arrows, 0);
	ui_model_beat_arrows(m, 8, arrows);
	ck_assert_uint_eq(arrows->len, 1);   /* the DNS question; not the narration, not the datagram */
	ck_assert_uint_eq(g_array_index(arrows, guint, 0), 18);
}
END_TEST

START_TEST(test_beats_incremental)
{
	/* events come one by one; the moments seen after each are a prefix of
	 * the final ones, except that the last may still grow */
	g_autoptr(UiModel) all = model_of_run(G_N_ELEMENTS(run));
	g_autoptr(UiModel) m = ui_model_new();
	for (guint i = 0; i < G_N_ELEMENTS(run); i++) {
		add(m, &run[i]);
		ck_assert(ui_model_following(m));
		ck_assert_uint_eq(ui_model_cursor(m), ui_model_beat_count(m) - 1);
		ck_assert_uint_eq(ui_model_visible(m), i + 1);   /* following: everything is seen */
		for (guint b = 0; b + 1 < ui_model_beat_count(m); b++)
			ck_assert_uint_eq(ui_model_beat_start(m, b), ui_model_beat_start(all, b));
	}
}
END_TEST

/* ---- steps ---------------------------------------------------------------------- */

START_TEST(test_steps_order)
{
	g_autoptr(UiModel) m = model_of_run(G_N_ELEMENTS(run));
	/* stepping through, the active step goes in the course's order */
	static const char *const expected[] = { "out.1", "out.2", "out.3", "out.4", "out.5", "in.1", "in.2", "in.3" };
	guint k = 0;
	const char *last = NULL;
	ui_model_seek(m, 0);
	do {
		const char *s = ui_model_active_step(m);
		if (s && g_strcmp0(s, last) != 0) {
			ck_assert_uint_lt(k, G_N_ELEMENTS(expected));
			ck_assert_str_eq(s, expected[k]);
			k++;
			last = s;
		}
	} while (ui_model_forward(m));
	ck_assert_uint_eq(k, G_N_ELEMENTS(expected));

	/* every step seen, in course order */
	GPtrArray *steps = ui_model_steps(m);
	ck_assert_uint_eq(steps->len, G_N_ELEMENTS(expected));
	for (guint i = 0; i < steps->len; i++)
		ck_assert_str_eq(g_ptr_array_index(steps, i), expected[i]);

	/* at the end: in.3 is happening and was refused */
	ck_assert_uint_eq(ui_model_step_flags(m, "in.3"), UI_STEP_SEEN | UI_STEP_ACTIVE | UI_STEP_REFUSED);
	ck_assert_uint_eq(ui_model_step_flags(m, "out.1"), UI_STEP_SEEN);
	ck_assert_uint_eq(ui_model_step_flags(m, "in.7"), 0);
	/* earlier, the future is not seen yet */
	ui_model_seek(m, 5);
	ck_assert_str_eq(ui_model_active_step(m), "out.2");
	ck_assert_uint_eq(ui_model_step_flags(m, "out.2"), UI_STEP_SEEN | UI_STEP_ACTIVE);
	ck_assert_uint_eq(ui_model_step_flags(m, "out.3"), 0);
	ck_assert_uint_eq(ui_model_step_flags(m, "in.3"), 0);
	/* n: on to the next step */
	ck_assert_int_eq(ui_model_next_step_beat(m), 6);
	ui_model_seek(m, 7);
	ck_assert_int_eq(ui_model_next_step_beat(m), 8);
	ui_model_follow(m);
	ck_assert_int_eq(ui_model_next_step_beat(m), -1);
	/* the latest narration the class can see */
	ck_assert_int_eq(ui_model_narration(m), 32);
	ui_model_seek(m, 9);
	ck_assert_int_eq(ui_model_narration(m), 17);
	ui_model_seek(m, 0);
	ck_assert_int_eq(ui_model_narration(m), -1);
}
END_TEST

START_TEST(test_steps_table)
{
	static const char *const sorted[] = { "setup.1", "setup.7", "out.1", "out.5", "in.1", "in.2", "in.10",
	                                      "retr.1", "def.2", "zz.1", NULL };
	for (guint i = 0; sorted[i + 1]; i++)
		ck_assert_msg(ui_steps_compare(sorted[i], sorted[i + 1]) < 0, "%s before %s", sorted[i], sorted[i + 1]);
	ck_assert_int_eq(ui_steps_family("in.3"), UI_FAMILY_IN);
	ck_assert_int_eq(ui_steps_family("out.5"), UI_FAMILY_OUT);
	ck_assert_int_eq(ui_steps_family("setup.2"), UI_FAMILY_SETUP);
	static const char *const bad[] = { NULL, "", "in.", "in.0", "in.03", "in.3x", "into.3", "in.1234", "out" };
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		ck_assert_int_eq(ui_steps_family(bad[i]), UI_FAMILY_NONE);
		ck_assert_uint_eq(ui_steps_number(bad[i]), 0);
	}
	ck_assert_uint_eq(ui_steps_number("in.8"), 8);
	/* every step of the course has a title and a sentence */
	static const char *const families[] = { "setup.", "out.", "in.", "retr." };
	static const guint counts[] = { 7, 5, 8, 6 };
	for (guint f = 0; f < G_N_ELEMENTS(families); f++)
		for (guint n = 1; n <= counts[f]; n++) {
			g_autofree char *id = g_strdup_printf("%s%u", families[f], n);
			ck_assert_msg(ui_steps_title(id) && ui_steps_describe(id), "%s", id);
		}
	ck_assert(ui_steps_describe("in.9") == NULL);
}
END_TEST

/* ---- the cursor -------------------------------------------------------------------- */

START_TEST(test_back_forward)
{
	g_autoptr(UiModel) m = model_of_run(G_N_ELEMENTS(run));
	guint last = ui_model_beat_count(m) - 1;
	ck_assert(ui_model_following(m));
	ck_assert_uint_eq(ui_model_cursor(m), last);
	ck_assert(!ui_model_forward(m));          /* the end: the caller asks the world */
	ck_assert(ui_model_back(m));
	ck_assert(!ui_model_following(m));
	ck_assert_uint_eq(ui_model_cursor(m), last - 1);
	ck_assert_uint_eq(ui_model_visible(m), ui_model_beat_start(m, last));
	ck_assert_str_eq(ui_model_active_step(m), "in.3");
	ck_assert_uint_eq(ui_model_step_flags(m, "in.3") & UI_STEP_REFUSED, 0);   /* not yet */
	ck_assert(ui_model_forward(m));
	ck_assert(ui_model_following(m));
	/* all the way back, and forward again: the same moments */
	guint n = 0;
	while (ui_model_back(m))
		n++;
	ck_assert_uint_eq(n, last);
	ck_assert_uint_eq(ui_model_cursor(m), 0);
	ck_assert_uint_eq(ui_model_visible(m), 1);
	ck_assert(!ui_model_back(m));
	n = 0;
	while (ui_model_forward(m))
		n++;
	ck_assert_uint_eq(n, last);
	ck_assert_uint_eq(ui_model_visible(m), ui_model_count(m));
	/* seek clamps */
	ui_model_seek(m, 1000);
	ck_assert_uint_eq(ui_model_cursor(m), last);
	ck_assert(ui_model_following(m));
}
END_TEST

START_TEST(test_hold_and_follow)
{
	/* looking back, new events do not move the cursor; following, they do */
	g_autoptr(UiModel) m = model_of_run(20);
	ui_model_seek(m, 3);
	guint before = ui_model_visible(m);
	for (guint i = 20; i < G_N_ELEMENTS(run); i++)
		add(m, &run[i]);
	ck_assert_uint_eq(ui_model_cursor(m), 3);
	ck_assert_uint_eq(ui_model_visible(m), before);
	ui_model_follow(m);
	ck_assert_uint_eq(ui_model_cursor(m), ui_model_beat_count(m) - 1);

	/* held on the last moment (waiting for the world), a new one does not take the cursor */
	g_autoptr(UiModel) h = model_of_run(25);
	guint cur = ui_model_cursor(h);
	ui_model_hold(h);
	for (guint i = 25; i < G_N_ELEMENTS(run); i++)
		add(h, &run[i]);
	ck_assert_uint_eq(ui_model_cursor(h), cur);
	ck_assert(ui_model_forward(h));
	ck_assert_uint_eq(ui_model_cursor(h), cur + 1);

	/* an empty model */
	g_autoptr(UiModel) e = ui_model_new();
	ck_assert(!ui_model_forward(e));
	ck_assert(!ui_model_back(e));
	ck_assert_uint_eq(ui_model_visible(e), 0);
	ck_assert(ui_model_active_step(e) == NULL);
	ck_assert_int_eq(ui_model_next_step_beat(e), -1);
}
END_TEST

/* ---- transcripts ---------------------------------------------------------------------- */

START_TEST(test_transcripts)
{
	g_autoptr(UiModel) m = model_of_run(G_N_ELEMENTS(run));
	guint got[16], n;

	const UiConversation *sub = ui_model_conversation_of(m, 6);
	ck_assert_ptr_nonnull(sub);
	ck_assert_str_eq(sub->client, "pc");
	ck_assert_str_eq(sub->server, "mail");
	ck_assert_str_eq(sub->proto, "smtp");
	ck_assert_uint_eq(sub->port, 587);
	static const guint sub_lines[] = { 2, 3, 6, 7, 9, 15 };
	n = events_of(sub, got, G_N_ELEMENTS(got));
	ck_assert_uint_eq(n, G_N_ELEMENTS(sub_lines));
	for (guint i = 0; i < n; i++)
		ck_assert_uint_eq(got[i], sub_lines[i]);

	/* the password check: the SQL the MDA ran is in its transcript */
	const UiConversation *auth = ui_model_conversation_of(m, 12);
	ck_assert_str_eq(auth->client, "mail");
	ck_assert_str_eq(auth->server, "mda@mail");
	ck_assert_str_eq(auth->proto, "auth");
	ck_assert_uint_eq(auth->port, 12345);
	static const guint auth_lines[] = { 11, 12, 13, 14, 16, 20 };
	n = events_of(auth, got, G_N_ELEMENTS(got));
	ck_assert_uint_eq(n, G_N_ELEMENTS(auth_lines));
	for (guint i = 0; i < n; i++)
		ck_assert_uint_eq(got[i], auth_lines[i]);

	/* DNS: one exchange per asker and server, question and answer */
	const UiConversation *mx = ui_model_conversation_of(m, 21);
	ck_assert_ptr_eq(mx, ui_model_conversation_of(m, 18));
	ck_assert_uint_eq(mx->conn, 0);
	ck_assert_str_eq(mx->client, "mail");
	ck_assert_str_eq(mx->server, "ns");
	ck_assert_uint_eq(mx->lines->len, 2);
	ck_assert_ptr_ne(ui_model_conversation_of(m, 30), mx);

	/* the relay, with its refusal and its end */
	const UiConversation *relay = ui_model_conversation_of(m, 28);
	ck_assert_uint_eq(relay->port, 25);
	ck_assert_uint_eq(g_array_index(relay->lines, guint, relay->lines->len - 1), 34);
	ck_assert_ptr_eq(ui_model_conversation_of(m, 32), relay);

	/* no conversation: narration, the SYN, arrivals */
	ck_assert(ui_model_conversation_of(m, 17) == NULL);
	ck_assert(ui_model_conversation_of(m, 1) == NULL);
	ck_assert(ui_model_conversation_of(m, 5) == NULL);
	ck_assert_uint_eq(ui_model_conversation_count(m), 5);
}
END_TEST

/* ---- filter and search --------------------------------------------------------------------- */

START_TEST(test_filter_and_search)
{
	g_autoptr(UiModel) m = model_of_run(G_N_ELEMENTS(run));
	GPtrArray *protos = ui_model_protocols(m);
	static const char *const order[] = { "tcp", "smtp", "auth", "sql", "dns" };
	ck_assert_uint_eq(protos->len, G_N_ELEMENTS(order));
	for (guint i = 0; i < protos->len; i++)
		ck_assert_str_eq(g_ptr_array_index(protos, i), order[i]);
	/* f cycles: all -> tcp -> smtp -> ... -> dns -> all */
	for (guint i = 0; i <= G_N_ELEMENTS(order); i++) {
		const char *next = ui_model_next_filter(m);
		if (i < G_N_ELEMENTS(order))
			ck_assert_str_eq(next, order[i]);
		else
			ck_assert(next == NULL);
		ui_model_set_filter(m, next);
	}
	ui_model_set_filter(m, "dns");
	guint passing = 0;
	for (guint r = 0; r < ui_model_row_count(m); r++)
		if (ui_model_row_passes(m, r)) {
			passing++;
			ck_assert_str_eq(ui_model_event(m, ui_model_row_event(m, r))->proto, "dns");
			ck_assert_int_eq(ui_model_row_kind(ui_model_event(m, ui_model_row_event(m, r))), UI_ROW_ARROW);
		}
	ck_assert_uint_eq(passing, 4);   /* two questions, two answers; not the narration */

	/* search: any case, sender and receiver too, wrapping, within the filter */
	ui_model_set_filter(m, NULL);
	guint limit = ui_model_row_count(m);
	gint r = ui_model_find_row(m, "rcpt to", -1, limit, TRUE);
	ck_assert_int_ge(r, 0);
	ck_assert_uint_eq(ui_model_row_event(m, (guint)r), 29);
	ck_assert_int_eq(ui_model_find_row(m, "rcpt to", r, limit, TRUE), r);     /* wraps to itself */
	gint first = ui_model_find_row(m, "EHLO", -1, limit, TRUE);
	gint second = ui_model_find_row(m, "EHLO", first, limit, TRUE);
	ck_assert_uint_eq(ui_model_row_event(m, (guint)first), 6);
	ck_assert_uint_eq(ui_model_row_event(m, (guint)second), 26);
	ck_assert_int_eq(ui_model_find_row(m, "EHLO", second, limit, FALSE), first);
	ck_assert_int_eq(ui_model_find_row(m, "nowhere", -1, limit, TRUE), -1);
	ck_assert_int_eq(ui_model_find_row(m, "", -1, limit, TRUE), -1);
	/* only what the class has seen */
	ck_assert_int_eq(ui_model_find_row(m, "RCPT", -1, ui_model_rows_before(m, 20), TRUE), -1);
	ui_model_set_filter(m, "dns");
	ck_assert_int_eq(ui_model_find_row(m, "EHLO", -1, limit, TRUE), -1);
	ck_assert(ui_model_row_matches(m, (guint)ui_model_row_of(m, 18), "MX"));
	ck_assert_int_eq(ui_model_row_of(m, 5), -1);
}
END_TEST

START_TEST(test_hostile_text)
{
	/* text from the network: cut UTF-8, bytes that are never UTF-8, control
	 * characters, a long line; the model keeps it and searches it safely */
	static const char *const texts[] = { "C: \xe2", "S: \xff\xfe\xfd", "C: a\rb\x1b[2J", "\xc3", "" };
	g_autoptr(UiModel) m = ui_model_new();
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		E e = { MS_EV_SEND, (gint64)i, "a\xe2", "b", "smtp", "in.\xff", texts[i], 1 };
		add(m, &e);
	}
	g_autofree char *longline = g_strnfill(100000, 'x');
	E e = { MS_EV_SEND, 10, "a", "b", "smtp", NULL, longline, 1 };
	add(m, &e);
	guint limit = ui_model_row_count(m);
	ck_assert_uint_eq(limit, G_N_ELEMENTS(texts) + 1);
	ck_assert_int_eq(ui_model_find_row(m, "xxxx", -1, limit, TRUE), (gint)limit - 1);
	ck_assert_int_eq(ui_model_find_row(m, "\xe2", -1, limit, TRUE) >= -1, TRUE);
	ck_assert_int_eq(ui_model_find_row(m, "zzz", -1, limit, FALSE), -1);
	ck_assert_uint_eq(ui_model_beat_count(m), G_N_ELEMENTS(texts) + 1);
	ck_assert_int_eq(ui_steps_family("in.\xff"), UI_FAMILY_NONE);
}
END_TEST

/* ---- the real thing ------------------------------------------------------------------------ */

typedef struct {
	MsSink   base;
	UiModel *model;
} ModelSink;

static void model_sink_write(MsSink *self, const MsEvent *ev)
{
	ui_model_add(((ModelSink *)self)->model, ev);
}

START_TEST(test_relay_path_run)
{
	/* scenarios/relay-path.scn through the runner: stepping through its
	 * moments shows out.1 ... out.5, then in.1 ... in.7, in that order */
	g_autoptr(UiModel) m = ui_model_new();
	ModelSink sink = { .base = { .write = model_sink_write }, .model = m };
	MsRunOptions o = { .until = -1, .quiet = TRUE, .extra_sink = &sink.base };
	ck_assert_int_eq(ms_runner_run("scenarios/relay-path.scn", &o), 0);
	ck_assert_uint_gt(ui_model_beat_count(m), 30);
	static const char *const path[] = { "out.1", "out.2", "out.3", "out.4", "out.5", "in.1",
	                                    "in.2",  "in.3",  "in.4",  "in.5",  "in.6",  "in.7" };
	guint k = 0;
	const char *last = NULL;
	ui_model_seek(m, 0);
	do {
		const char *s = ui_model_active_step(m);
		if (s && g_strcmp0(s, last) != 0) {
			ck_assert_msg(k < G_N_ELEMENTS(path) && strcmp(s, path[k]) == 0, "step %u is %s", k, s);
			k++;
			last = s;
		}
	} while (ui_model_forward(m));
	ck_assert_uint_eq(k, G_N_ELEMENTS(path));
	/* the submission's transcript holds the SMTP dialogue, in order */
	gint ehlo = -1, mail = -1, rcpt = -1;
	for (guint i = 0; i < ui_model_count(m); i++) {
		const MsEvent *ev = ui_model_event(m, i);
		if (ev->kind != MS_EV_SEND || !ev->text || ev->conn != 1)
			continue;
		if (g_str_has_prefix(ev->text, "C: EHLO") && ehlo < 0)
			ehlo = (gint)i;
		if (g_str_has_prefix(ev->text, "C: MAIL FROM") && mail < 0)
			mail = (gint)i;
		if (g_str_has_prefix(ev->text, "C: RCPT TO") && rcpt < 0)
			rcpt = (gint)i;
	}
	ck_assert(ehlo >= 0 && ehlo < mail && mail < rcpt);
	const UiConversation *c = ui_model_conversation_of(m, (guint)rcpt);
	ck_assert_ptr_eq(c, ui_model_conversation_of(m, (guint)ehlo));
	ck_assert_uint_eq(c->port, 587);
}
END_TEST

/* A port shown comes from the event's net when it has one, whatever its
 * text says (texts may be reworded); logs from before nets keep theirs. */
START_TEST(test_ports_from_net)
{
	UiModel *m = ui_model_new();
	MsEvent syn = { .seq = 1, .kind = MS_EV_CONNECT, .from = "pc", .to = "mail", .proto = "tcp",
	                .text = "the client knocks on port 587",
	                .net = { .action = MS_NET_SYN, .transport = MS_TRANSPORT_TCP } };
	ck_assert(ms_endpoint_set(&syn.net.src, "192.0.2.77", 49152));
	ck_assert(ms_endpoint_set(&syn.net.dst, "192.0.2.10", 2525));
	MsEvent acc = { .seq = 2, .kind = MS_EV_ACCEPT, .from = "mail", .to = "pc", .proto = "smtp",
	                .text = "accepted 192.0.2.77:49152 on port 587", .conn = 1,
	                .net = { .action = MS_NET_ACCEPT, .transport = MS_TRANSPORT_TCP,
	                         .src = syn.net.dst, .dst = syn.net.src } };
	ui_model_add(m, &syn);
	ui_model_add(m, &acc);
	g_autofree char *label = ui_pane_sequence_label(&syn);
	ck_assert_str_eq(label, "SYN :2525");
	ck_assert_uint_eq(ui_model_conversation_of(m, 1)->port, 2525);
	/* without a net, the text as the network layer used to word it */
	syn.net = (MsNetInfo){ 0 };
	syn.text = "SYN 192.0.2.77:49152 -> 192.0.2.10:587";
	g_autofree char *old = ui_pane_sequence_label(&syn);
	ck_assert_str_eq(old, "SYN :587");
	ui_model_free(m);
}
END_TEST

static Suite *model_suite(void)
{
	Suite *s = suite_create("ui-model");
	MS_ADD_TEST(s, test_row_kinds, 10);
	MS_ADD_TEST(s, test_beats, 10);
	MS_ADD_TEST(s, test_beats_incremental, 10);
	MS_ADD_TEST(s, test_steps_order, 10);
	MS_ADD_TEST(s, test_steps_table, 10);
	MS_ADD_TEST(s, test_back_forward, 10);
	MS_ADD_TEST(s, test_hold_and_follow, 10);
	MS_ADD_TEST(s, test_transcripts, 10);
	MS_ADD_TEST(s, test_filter_and_search, 10);
	MS_ADD_TEST(s, test_hostile_text, 10);
	MS_ADD_TEST(s, test_relay_path_run, 60);
	MS_ADD_TEST(s, test_ports_from_net, 10);
	return s;
}

MS_TEST_MAIN(model_suite)
