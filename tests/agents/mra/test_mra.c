/* tests/agents/mra/test_mra.c - what the MRA's sessions share, on a real
 * Maildir: the reader that reads message files ahead of a client going
 * through a folder in order, and the folder state that notices changes
 * made behind its back (inotify, or a look) and is kept while closed.
 * Sessions themselves are tested in test_imap_server.c and
 * test_pop3_server.c. */
#include "tests/ms_test.h"
#include "agents/mra/mra.h"
#include "agents/mda/maildir.h"
#include "net/simnet.h"

#include <fcntl.h>
#include <unistd.h>

#define USER "bob@example.org"

typedef struct {
	char        *dir;
	MsSched     *s;
	MsNet       *net;
	MsStack     *stack;
	Mra         *mra;
	Maildir     *md;      /* the "session's" handle */
	Maildir     *other;   /* another process: the MDA, a second MRA */
	MaildirStamp stamp;
} Fixture;

static void fixture_init(Fixture *f)
{
	memset(f, 0, sizeof *f);
	f->dir = ms_test_tmpdir();
	f->s = ms_sched_new(MS_SCHED_VIRTUAL, 7);
	f->net = ms_net_new(f->s);
	MsHost *host = ms_net_add_host(f->net, "mail.example.org", "192.0.2.20", NULL);
	f->stack = ms_host_stack_alias(host, "mra@mail.example.org");
	MraConfig cfg = { .hostname = "mail.example.org", .state_dir = f->dir, .seed = 7 };
	GError *err = NULL;
	f->mra = mra_new(f->stack, &cfg, &err);
	ck_assert_ptr_nonnull(f->mra);
	f->md = mra_user_maildir(f->mra, USER, FALSE, &err);
	ck_assert_ptr_nonnull(f->md);
	f->other = maildir_new(maildir_get_root(f->md), "mail.example.org", FALSE);
	f->stamp.process = 99;
	f->stamp.time_us = MRA_DEFAULT_EPOCH_US;
}

static void fixture_free(Fixture *f)
{
	maildir_free(f->md);
	maildir_free(f->other);
	mra_free(f->mra);
	ms_stack_unref(f->stack);
	ms_net_free(f->net);
	ms_sched_free(f->s);
	ms_test_rmtree(f->dir);
	g_free(f->dir);
}

/* Message n: n lines, so every size differs; some with bare LF ends. */
static char *message_text(guint n)
{
	GString *t = g_string_new(NULL);
	const char *eol = n % 5 == 0 ? "\n" : "\r\n";
	g_string_append_printf(t, "From: alice@example.com%sSubject: message %u%s%s", eol, n, eol, eol);
	for (guint i = 0; i < n; i++)
		g_string_append_printf(t, "%sline %u of message %u%s", i % 7 == 0 ? "." : "", i, n, eol);
	return g_string_free(t, FALSE);
}

static char *deliver(Fixture *f, const char *folder, guint n)
{
	g_autofree char *text = message_text(n);
	char *base = NULL;
	GError *err = NULL;
	f->stamp.time_us += MS_SECOND;
	ck_assert_msg(maildir_deliver(f->other, folder, text, strlen(text), 0, &f->stamp, &base, &err), "%s",
	              err ? err->message : "");
	return base;
}

static MaildirIndex *folder_index(Fixture *f, const char *folder)
{
	MaildirIndex *index = NULL;
	GError *err = NULL;
	ck_assert_msg(maildir_folder_sync(f->md, folder, 1000, &index, &err), "%s", err ? err->message : "");
	return index;
}

/* What the reader gives for message i must be what maildir.c gives. */
static void check_read(MraReader *r, Maildir *md, GPtrArray *messages, guint i)
{
	g_autoptr(GBytes) got = NULL;
	g_autoptr(GBytes) want = NULL;
	GError *err = NULL;
	ck_assert_msg(mra_reader_read(r, messages, i, &got, &err), "message %u: %s", i, err ? err->message : "");
	ck_assert(maildir_message_read(md, messages->pdata[i], &want, NULL));
	ck_assert(g_bytes_equal(got, want));
}

/* ---- the reader --------------------------------------------------------- */

#define N_READ 40

/* Push the files out of the page cache, so that reads come from the disk
 * (for the reader: a read that would wait, which starts its read-ahead). */
static void evict(Fixture *f, GPtrArray *messages)
{
	for (guint i = 0; i < messages->len; i++) {
		g_autofree char *path = maildir_message_path(f->md, messages->pdata[i]);
		int fd = open(path, O_RDONLY);
		ck_assert_int_ge(fd, 0);
		fdatasync(fd);   /* dirty pages cannot be dropped */
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

START_TEST(test_reader_orders)
{
	/* in order, backwards, by strides, and again in order: every read is
	 * what maildir.c reads, whatever the reader guessed would come next */
	static const struct {
		const char *name;
		guint       first, step, count;
		gboolean    backwards;
	} orders[] = {
		{ "in order",         0, 1, N_READ, FALSE },
		{ "backwards",        0, 1, N_READ, TRUE },
		{ "every third",      1, 3, N_READ / 3, FALSE },
		{ "in order, again",  0, 1, N_READ, FALSE },
	};
	Fixture f;
	fixture_init(&f);
	for (guint n = 0; n < N_READ; n++)
		g_free(deliver(&f, NULL, n));
	g_autoptr(MaildirIndex) index = folder_index(&f, NULL);
	ck_assert_uint_eq(index->messages->len, N_READ);
	for (gsize o = 0; o < G_N_ELEMENTS(orders); o++) {
		evict(&f, index->messages);
		MraReader *r = mra_reader_new(f.md);
		for (guint k = 0; k < orders[o].count; k++) {
			guint i = orders[o].first + k * orders[o].step;
			check_read(r, f.md, index->messages, orders[o].backwards ? N_READ - 1 - i : i);
		}
		mra_reader_free(r);
	}
	fixture_free(&f);
}
END_TEST

START_TEST(test_reader_follows_changes)
{
	Fixture f;
	fixture_init(&f);
	for (guint n = 0; n < 10; n++)
		g_free(deliver(&f, NULL, n + 3));
	g_autoptr(MaildirIndex) index = folder_index(&f, NULL);
	GPtrArray *msgs = index->messages;
	evict(&f, msgs);
	MraReader *r = mra_reader_new(f.md);
	check_read(r, f.md, msgs, 0);
	check_read(r, f.md, msgs, 1);   /* reading ahead now: 2.. were advised under their old names */

	/* behind the reader's back: 2 gets flags (new/ -> cur/ with ":2,S"),
	 * 3 is moved to cur/, 4 is expunged, 5 becomes a symbolic link */
	g_autoptr(MaildirMessage) two = maildir_message_dup(msgs->pdata[2]);
	ck_assert(maildir_message_set_flags(f.other, two, MAILDIR_FLAG_SEEN, NULL));
	g_autoptr(MaildirMessage) three = maildir_message_dup(msgs->pdata[3]);
	ck_assert(maildir_message_to_cur(f.other, three, NULL));
	g_autoptr(MaildirMessage) four = maildir_message_dup(msgs->pdata[4]);
	ck_assert(maildir_message_expunge(f.other, four, NULL));
	g_autofree char *five = maildir_message_path(f.md, msgs->pdata[5]);
	g_autofree char *outside = g_build_filename(f.dir, "secret", NULL);
	ck_assert(g_file_set_contents(outside, "not mail\r\n", -1, NULL));
	ck_assert_int_eq(unlink(five), 0);
	ck_assert_int_eq(symlink(outside, five), 0);

	check_read(r, f.md, msgs, 2);   /* found under its new name */
	check_read(r, f.md, msgs, 3);
	g_autoptr(GBytes) gone = NULL;
	GError *err = NULL;
	ck_assert(!mra_reader_read(r, msgs, 4, &gone, &err));
	ck_assert(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&err);
	g_autoptr(GBytes) linked = NULL;
	ck_assert(!mra_reader_read(r, msgs, 5, &linked, &err));   /* never followed */
	ck_assert_ptr_nonnull(err);
	g_clear_error(&err);
	check_read(r, f.md, msgs, 6);
	check_read(r, f.md, msgs, 9);
	mra_reader_free(r);
	fixture_free(&f);
}
END_TEST

/* ---- noticing changes, keeping closed folders --------------------------- */

typedef struct {
	GPtrArray *view;   /* MaildirMessage copies, as a session keeps them */
	guint64    version;
	GArray    *changed, *expunged;
} View;

static void view_init(View *v)
{
	v->view = g_ptr_array_new_with_free_func((GDestroyNotify)maildir_message_free);
	v->version = 0;
	v->changed = g_array_new(FALSE, FALSE, sizeof(guint32));
	v->expunged = g_array_new(FALSE, FALSE, sizeof(guint32));
}

static void view_clear(View *v)
{
	g_ptr_array_unref(v->view);
	g_array_unref(v->changed);
	g_array_unref(v->expunged);
}

/* Refresh cheaply (as before FETCH) and bring the view up to date; how many
 * messages were added. */
static guint view_update(View *v, MraMailbox *mb, Maildir *md)
{
	GError *err = NULL;
	ck_assert_msg(mra_mailbox_refresh(mb, md, FALSE, &err), "%s", err ? err->message : "");
	g_array_set_size(v->changed, 0);
	g_array_set_size(v->expunged, 0);
	g_autoptr(GPtrArray) added = g_ptr_array_new();
	mra_mailbox_compare(mb, &v->version, FALSE, v->view, v->changed, v->expunged, added);
	guint n = added->len;
	g_ptr_array_extend_and_steal(v->view, g_steal_pointer(&added));
	return n;
}

START_TEST(test_changes_are_seen_at_once)
{
	/* another process changes the folder right after each refresh, within
	 * the same tick of the file system clock: the next cheap refresh must
	 * see it all the same (a look by mtime alone could not) */
	Fixture f;
	fixture_init(&f);
	for (guint n = 0; n < 3; n++)
		g_free(deliver(&f, NULL, n));
	GError *err = NULL;
	MraMailbox *mb = mra_mailbox_open(f.mra, f.md, "INBOX", FALSE, &err);
	ck_assert_ptr_nonnull(mb);
	View v;
	view_init(&v);
	ck_assert_uint_eq(view_update(&v, mb, f.md), 3);
	g_autoptr(GArray) claimed = g_array_new(FALSE, FALSE, sizeof(guint32));
	ck_assert(mra_mailbox_claim_recent(mb, f.md, claimed, NULL));   /* all in cur/ now */
	ck_assert_uint_eq(claimed->len, 3);
	view_update(&v, mb, f.md);
	for (guint round = 0; round < 20; round++) {
		/* a flag set by the other handle: a rename inside cur/ */
		MaildirMessage *m = maildir_message_dup(v.view->pdata[round % 3]);
		guint flags = m->flags ^ MAILDIR_FLAG_FLAGGED;
		ck_assert(maildir_message_set_flags(f.other, m, flags, NULL));
		ck_assert_uint_eq(view_update(&v, mb, f.md), 0);
		ck_assert_uint_eq(v.changed->len, 1);
		ck_assert_uint_eq(g_array_index(v.changed, guint32, 0), m->uid);
		maildir_message_free(m);
		/* a delivery */
		g_free(deliver(&f, NULL, 10 + round));
		ck_assert_uint_eq(view_update(&v, mb, f.md), 1);
	}
	/* and an expunge */
	MaildirMessage *gone = maildir_message_dup(v.view->pdata[0]);
	ck_assert(maildir_message_expunge(f.other, gone, NULL));
	view_update(&v, mb, f.md);
	ck_assert_uint_eq(v.expunged->len, 1);
	ck_assert_uint_eq(g_array_index(v.expunged, guint32, 0), gone->uid);
	maildir_message_free(gone);
	view_clear(&v);
	mra_mailbox_close(mb);
	fixture_free(&f);
}
END_TEST

START_TEST(test_closed_folders_kept)
{
	Fixture f;
	fixture_init(&f);
	for (guint n = 0; n < 4; n++)
		g_free(deliver(&f, NULL, n));
	GError *err = NULL;
	MraMailbox *mb = mra_mailbox_open(f.mra, f.md, "INBOX", TRUE, &err);
	ck_assert_ptr_nonnull(mb);
	guint32 uidvalidity = mra_mailbox_uidvalidity(mb);
	guint32 uidnext = mra_mailbox_uidnext(mb);
	mra_mailbox_close(mb);

	/* nothing changed in new/ or cur/: opening it again reads nothing (the
	 * uidlist, gone meanwhile, is not missed); a change is read */
	g_autofree char *uidlist = g_build_filename(maildir_get_root(f.md), MAILDIR_UIDLIST_FILE, NULL);
	gboolean watched = TRUE;
#ifndef __linux__
	watched = FALSE;   /* no inotify: every open reads the folder */
#endif
	if (watched) {
		ck_assert_int_eq(unlink(uidlist), 0);
		mb = mra_mailbox_open(f.mra, f.md, "INBOX", TRUE, &err);
		ck_assert_ptr_nonnull(mb);
		ck_assert_uint_eq(mra_mailbox_uidvalidity(mb), uidvalidity);
		ck_assert(!g_file_test(uidlist, G_FILE_TEST_EXISTS));
		mra_mailbox_close(mb);
	}
	g_free(deliver(&f, NULL, 9));
	mb = mra_mailbox_open(f.mra, f.md, "INBOX", FALSE, &err);
	ck_assert_ptr_nonnull(mb);
	ck_assert(g_file_test(uidlist, G_FILE_TEST_EXISTS));
	MraStatus st;
	mra_mailbox_close(mb);
	ck_assert(mra_mailbox_status(f.mra, f.md, "INBOX", &st, NULL));
	ck_assert_uint_eq(st.messages, 5);
	if (!watched)
		ck_assert_uint_eq(st.uidnext, uidnext + 1);

	/* more folders than are kept: each still opens right */
	for (guint i = 0; i < MRA_KEEP_CLOSED + 4; i++) {
		g_autofree char *name = g_strdup_printf("Box%u", i);
		ck_assert(mra_folder_create(f.mra, f.md, name, NULL));
		g_free(deliver(&f, name, i));
		ck_assert(mra_mailbox_status(f.mra, f.md, name, &st, NULL));
		ck_assert_uint_eq(st.messages, 1);
	}
	for (guint i = 0; i < MRA_KEEP_CLOSED + 4; i++) {
		g_autofree char *name = g_strdup_printf("Box%u", i);
		ck_assert(mra_mailbox_status(f.mra, f.md, name, &st, NULL));
		ck_assert_uint_eq(st.messages, 1);
	}

	/* a kept folder deleted, then made again: gone, then new */
	ck_assert(maildir_folder_delete(f.other, "Box3", NULL));
	ck_assert(!mra_mailbox_status(f.mra, f.md, "Box3", &st, &err));
	ck_assert(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&err);
	ck_assert(maildir_folder_create(f.other, "Box3", 4242, NULL));
	ck_assert(mra_mailbox_status(f.mra, f.md, "Box3", &st, NULL));
	ck_assert_uint_eq(st.messages, 0);
	ck_assert_uint_eq(st.uidvalidity, 4242);
	fixture_free(&f);
}
END_TEST

START_TEST(test_open_folder_renamed_away)
{
	/* the watches go with the directory: a folder renamed while open is
	 * gone for its sessions, not silently served from the old state */
	Fixture f;
	fixture_init(&f);
	ck_assert(mra_folder_create(f.mra, f.md, "Lists", NULL));
	g_free(deliver(&f, "Lists", 1));
	GError *err = NULL;
	MraMailbox *mb = mra_mailbox_open(f.mra, f.md, "Lists", FALSE, &err);
	ck_assert_ptr_nonnull(mb);
	ck_assert(maildir_folder_rename(f.other, "Lists", "Archive.Lists", NULL));
	ck_assert(!mra_mailbox_refresh(mb, f.md, FALSE, &err));
	ck_assert(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&err);
	mra_mailbox_close(mb);
	/* under its new name it is all there */
	MraStatus st;
	ck_assert(mra_mailbox_status(f.mra, f.md, "Archive.Lists", &st, NULL));
	ck_assert_uint_eq(st.messages, 1);
	fixture_free(&f);
}
END_TEST

static Suite *mra_suite(void)
{
	Suite *s = suite_create("mra");
	MS_ADD_TEST(s, test_reader_orders, 30);
	MS_ADD_TEST(s, test_reader_follows_changes, 30);
	MS_ADD_TEST(s, test_changes_are_seen_at_once, 30);
	MS_ADD_TEST(s, test_closed_folders_kept, 30);
	MS_ADD_TEST(s, test_open_folder_renamed_away, 30);
	return s;
}

MS_TEST_MAIN(mra_suite)
