/* tests/agents/mda/test_maildir.c - Maildir++ on a real file system.
 *
 * Each test works in a fresh temporary directory: delivery through tmp/
 * into new/, unique names with ",S=", flags in ":2,", folders and the
 * names refused for them, UIDs that persist and never come back, the POP3
 * lock, quota sums, and write failures that leave no partial message.
 */
#include "tests/ms_test.h"

#include "agents/mda/maildir.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000000000  /* a virtual clock, microseconds */

/* ---- fixture ------------------------------------------------------------ */

typedef struct {
	char        *dir;    /* the test's temporary directory */
	char        *root;   /* dir/mail/example.org/bob */
	Maildir     *md;
	MaildirStamp stamp;
} Fixture;

static Fixture *fixture_new_full(gboolean sync)
{
	Fixture *f = g_new0(Fixture, 1);
	f->dir = ms_test_tmpdir();
	g_autofree char *mail = g_build_filename(f->dir, "mail", NULL);
	f->root = maildir_user_root(mail, "Bob@Example.org", NULL);
	ck_assert_ptr_nonnull(f->root);
	f->md = maildir_new(f->root, "mx.example.org", sync);
	GError *error = NULL;
	ck_assert_msg(maildir_ensure(f->md, 1000, &error), "%s", error ? error->message : "?");
	f->stamp = (MaildirStamp){ .time_us = T0, .process = 1, .counter = 0 };
	return f;
}

static Fixture *fixture_new(void)
{
	return fixture_new_full(FALSE);
}

static void fixture_free(Fixture *f)
{
	maildir_free(f->md);
	ms_test_rmtree(f->dir);
	g_free(f->dir);
	g_free(f->root);
	g_free(f);
}

static char *deliver(Fixture *f, const char *folder, const char *text, guint flags)
{
	GError *error = NULL;
	char *base = NULL;
	gboolean ok = maildir_deliver(f->md, folder, text, strlen(text), flags, &f->stamp, &base, &error);
	ck_assert_msg(ok, "deliver: %s", error ? error->message : "?");
	f->stamp.time_us += 1000;
	return base;
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries of root/sub, sorted and joined with ' ' (dot files left out). */
static char *list_dir(const char *root, const char *sub)
{
	g_autofree char *path = g_build_filename(root, sub, NULL);
	GDir *d = g_dir_open(path, 0, NULL);
	if (!d)
		return g_strdup("(none)");
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	const char *n;
	while ((n = g_dir_read_name(d)))
		g_ptr_array_add(names, g_strdup(n));
	g_dir_close(d);
	g_ptr_array_sort(names, compare_strings);
	g_ptr_array_add(names, NULL);
	char *joined = g_strjoinv(" ", (char **)names->pdata);
	g_ptr_array_unref(names);
	return joined;
}

static guint count_dir(const char *root, const char *sub)
{
	g_autofree char *path = g_build_filename(root, sub, NULL);
	GDir *d = g_dir_open(path, 0, NULL);
	guint n = 0;
	if (d) {
		while (g_dir_read_name(d))
			n++;
		g_dir_close(d);
	}
	return n;
}

static char *slurp(const char *dir, const char *sub, const char *name)
{
	g_autofree char *path = g_build_filename(dir, sub, name, NULL);
	char *data = NULL;
	ck_assert_msg(g_file_get_contents(path, &data, NULL, NULL), "read %s", path);
	return data;
}

static MaildirIndex *sync_folder(Fixture *f, const char *folder, guint32 uidvalidity)
{
	MaildirIndex *index = NULL;
	GError *error = NULL;
	ck_assert_msg(maildir_folder_sync(f->md, folder, uidvalidity, &index, &error), "sync: %s",
	              error ? error->message : "?");
	return index;
}

static MaildirMessage *msg_at(MaildirIndex *index, guint i)
{
	ck_assert_uint_lt(i, index->messages->len);
	return index->messages->pdata[i];
}

/* ---- names -------------------------------------------------------------- */

static const char *const valid_folders[] = {
	"INBOX", "inbox", "Sent", "Lists.Sub", "Sent Items", "a.b.c", "x",
	"\xc3\x9c" "bersicht", "&AMk-t&AOk-",  /* UTF-8, and modified UTF-7 as sent */
};

static const struct {
	const char *name;
	gsize       len;   /* 0: strlen */
} invalid_folders[] = {
	{ "", 0 },
	{ "../x", 0 },
	{ "..", 0 },
	{ ".", 0 },
	{ "/etc", 0 },
	{ ".hidden", 0 },
	{ "a/b", 0 },
	{ "a\\b", 0 },
	{ "a..b", 0 },
	{ "trailing.", 0 },
	{ "a\0b", 3 },
	{ "tab\there", 0 },
	{ "new\nline", 0 },
	{ "bad\xff", 0 },
	{ "INBOX.child", 0 },
	{ "inbox.Child", 0 },
};

START_TEST(test_folder_name_valid)
{
	const char *name = valid_folders[_i];
	GError *error = NULL;
	ck_assert_msg(maildir_folder_name_validate(name, strlen(name), &error), "%s: %s", name,
	              error ? error->message : "?");
}
END_TEST

START_TEST(test_folder_name_invalid)
{
	const char *name = invalid_folders[_i].name;
	gsize len = invalid_folders[_i].len ? invalid_folders[_i].len : strlen(name);
	GError *error = NULL;
	ck_assert_msg(!maildir_folder_name_validate(name, len, &error), "accepted: %s", name);
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME));
	g_error_free(error);
}
END_TEST

START_TEST(test_folder_name_lengths)
{
	g_autofree char *max = g_strnfill(MAILDIR_MAX_FOLDER_NAME, 'a');
	g_autofree char *over = g_strnfill(MAILDIR_MAX_FOLDER_NAME + 1, 'a');
	ck_assert(maildir_folder_name_validate(max, strlen(max), NULL));
	ck_assert(!maildir_folder_name_validate(over, strlen(over), NULL));
	ck_assert(!maildir_folder_name_validate(NULL, 0, NULL));
	ck_assert_str_eq(maildir_folder_canonical("iNbOx"), "INBOX");
	ck_assert_str_eq(maildir_folder_canonical(NULL), "INBOX");
	ck_assert_str_eq(maildir_folder_canonical("Sent"), "Sent");
}
END_TEST

/* Refused names create nothing, anywhere. */
START_TEST(test_folder_refused_creates_nothing)
{
	Fixture *f = fixture_new();
	g_autofree char *before_root = list_dir(f->root, "");
	g_autofree char *before_parent = list_dir(f->dir, "mail/example.org");
	g_autofree char *before_top = list_dir(f->dir, "");
	for (gsize i = 0; i < G_N_ELEMENTS(invalid_folders); i++) {
		if (invalid_folders[i].len)
			continue;  /* a C string cannot carry the NUL */
		GError *error = NULL;
		ck_assert(!maildir_folder_create(f->md, invalid_folders[i].name, 5, &error));
		ck_assert_msg(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME), "%s",
		              invalid_folders[i].name);
		g_clear_error(&error);
		ck_assert(!maildir_folder_delete(f->md, invalid_folders[i].name, NULL));
		ck_assert(!maildir_folder_rename(f->md, "Sent", invalid_folders[i].name, NULL));
		ck_assert(!maildir_subscription_set(f->md, invalid_folders[i].name, TRUE, NULL));
		ck_assert(!maildir_deliver(f->md, invalid_folders[i].name, "x", 1, 0, &f->stamp, NULL, &error));
		g_clear_error(&error);
	}
	g_autofree char *after_root = list_dir(f->root, "");
	g_autofree char *after_parent = list_dir(f->dir, "mail/example.org");
	g_autofree char *after_top = list_dir(f->dir, "");
	ck_assert_str_eq(before_root, after_root);
	ck_assert_str_eq(before_parent, after_parent);
	ck_assert_str_eq(before_top, after_top);
	fixture_free(f);
}
END_TEST

START_TEST(test_user_root)
{
	GError *error = NULL;
	g_autofree char *r = maildir_user_root("/var/mail", "Bob@Example.ORG", &error);
	ck_assert_str_eq(r, "/var/mail/example.org/bob");
	static const char *const bad[] = {
		"noat", "@example.org", "bob@", "../x@example.org", "x@../etc", "a/b@example.org",
		"x@a/b", ".@example.org", "x@.", "b\nob@example.org",
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *p = maildir_user_root("/var/mail", bad[i], &error);
		ck_assert_msg(p == NULL, "accepted %s as %s", bad[i], p);
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME));
		g_clear_error(&error);
	}
	ck_assert_ptr_null(maildir_user_root("/var/mail", NULL, NULL));
}
END_TEST

START_TEST(test_flags_text)
{
	guint flags = 0;
	char buf[8];
	ck_assert(maildir_flags_parse("SRSD", &flags, NULL));
	ck_assert_uint_eq(flags, MAILDIR_FLAG_SEEN | MAILDIR_FLAG_REPLIED | MAILDIR_FLAG_DRAFT);
	ck_assert_str_eq(maildir_flags_format(flags, buf), "DRS");
	ck_assert_str_eq(maildir_flags_format(MAILDIR_FLAGS_ALL, buf), "DFPRST");
	ck_assert_str_eq(maildir_flags_format(0, buf), "");
	GError *error = NULL;
	ck_assert(!maildir_flags_parse("Sx", &flags, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
	g_error_free(error);
	ck_assert_str_eq(maildir_flag_to_imap(MAILDIR_FLAG_REPLIED), "\\Answered");
	ck_assert_str_eq(maildir_flag_to_imap(MAILDIR_FLAG_TRASHED), "\\Deleted");
	ck_assert_ptr_null(maildir_flag_to_imap(MAILDIR_FLAG_PASSED));
	ck_assert_str_eq(maildir_flag_to_string(MAILDIR_FLAG_SEEN), "Seen");
	ck_assert_int_eq(maildir_flag_to_letter(MAILDIR_FLAG_FLAGGED), 'F');
	ck_assert_int_eq(maildir_flag_to_letter(MAILDIR_FLAG_SEEN | MAILDIR_FLAG_DRAFT), 0);
	ck_assert_str_eq(maildir_flag_to_string((MaildirFlag)0), "UNKNOWN");

	ck_assert_int_eq(maildir_special_use_of("Sent"), MAILDIR_SPECIAL_SENT);
	ck_assert_int_eq(maildir_special_use_of("sent items"), MAILDIR_SPECIAL_SENT);
	ck_assert_int_eq(maildir_special_use_of("Spam"), MAILDIR_SPECIAL_JUNK);
	ck_assert_int_eq(maildir_special_use_of("Lists.Sent"), MAILDIR_SPECIAL_NONE);
	ck_assert_str_eq(maildir_special_use_to_string(MAILDIR_SPECIAL_TRASH), "\\Trash");
	ck_assert_str_eq(maildir_special_use_to_string(MAILDIR_SPECIAL_NONE), "");
}
END_TEST

/* ---- delivery ----------------------------------------------------------- */

START_TEST(test_deliver_name_and_content)
{
	Fixture *f = fixture_new();
	f->stamp = (MaildirStamp){ .time_us = T0 + 123456, .process = 42, .counter = 7 };
	const char *text = "Subject: hi\r\n\r\nHello\r\n";
	g_autofree char *base = deliver(f, NULL, text, 0);
	ck_assert_str_eq(base, "1700000000.M123456P42Q7.mx.example.org,S=22");
	ck_assert_uint_eq(f->stamp.counter, 8);

	/* byte-identical, in new/, nothing left in tmp/ */
	g_autofree char *stored = slurp(f->root, "new", base);
	ck_assert_str_eq(stored, text);
	ck_assert_uint_eq(count_dir(f->root, "tmp"), 0);
	ck_assert_uint_eq(count_dir(f->root, "cur"), 0);

	/* many deliveries at one instant: all distinct */
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	f->stamp.time_us = T0;
	for (int i = 0; i < 50; i++) {
		char *b = NULL;
		ck_assert(maildir_deliver(f->md, "INBOX", "x", 1, 0, &f->stamp, &b, NULL));
		ck_assert(g_str_has_suffix(b, ",S=1"));
		ck_assert(!g_hash_table_contains(seen, b));
		g_hash_table_add(seen, b);
	}
	g_hash_table_destroy(seen);
	ck_assert_uint_eq(count_dir(f->root, "new"), 51);

	/* with flags: straight into cur/ */
	g_autofree char *flagged = deliver(f, NULL, "draft", MAILDIR_FLAG_SEEN | MAILDIR_FLAG_DRAFT);
	g_autofree char *cur_name = g_strconcat(flagged, ":2,DS", NULL);
	g_autofree char *d = slurp(f->root, "cur", cur_name);
	ck_assert_str_eq(d, "draft");

	/* an empty message is a message */
	g_autofree char *empty = deliver(f, NULL, "", 0);
	ck_assert(g_str_has_suffix(empty, ",S=0"));
	fixture_free(f);
}
END_TEST

START_TEST(test_deliver_hostname_escaped)
{
	g_autofree char *dir = ms_test_tmpdir();
	Maildir *md = maildir_new(dir, "a/b:c,d", FALSE);
	ck_assert(maildir_ensure(md, 1, NULL));
	MaildirStamp stamp = { .time_us = 5 * G_USEC_PER_SEC, .process = 1, .counter = 1 };
	g_autofree char *base = NULL;
	ck_assert(maildir_deliver(md, NULL, "abc", 3, 0, &stamp, &base, NULL));
	ck_assert_str_eq(base, "5.M0P1Q1.a\\057b\\072c\\054d,S=3");
	maildir_free(md);

	/* an empty host name still makes a name */
	md = maildir_new(dir, "", FALSE);
	g_autofree char *base2 = NULL;
	ck_assert(maildir_deliver(md, NULL, "abc", 3, 0, &stamp, &base2, NULL));
	ck_assert_str_eq(base2, "5.M0P1Q2.localhost,S=3");
	maildir_free(md);
	ms_test_rmtree(dir);
}
END_TEST

/* Two handles with the same stamp: the second never replaces the first. */
START_TEST(test_deliver_name_clash)
{
	Fixture *f = fixture_new();
	Maildir *other = maildir_new(f->root, "mx.example.org", FALSE);
	MaildirStamp s1 = { .time_us = T0, .process = 9, .counter = 0 };
	MaildirStamp s2 = s1;
	g_autofree char *a = NULL, *b = NULL;
	ck_assert(maildir_deliver(f->md, NULL, "A", 1, 0, &s1, &a, NULL));
	ck_assert(maildir_deliver(other, NULL, "B", 1, 0, &s2, &b, NULL));
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(s2.counter, 2);  /* one name clashed, the next was free */
	g_autofree char *ca = slurp(f->root, "new", a);
	g_autofree char *cb = slurp(f->root, "new", b);
	ck_assert_str_eq(ca, "A");
	ck_assert_str_eq(cb, "B");
	maildir_free(other);
	fixture_free(f);
}
END_TEST

START_TEST(test_deliver_batch)
{
	Fixture *f = fixture_new_full(TRUE);  /* with fsync, for once */
	g_autofree char *mail = g_build_filename(f->dir, "mail", NULL);
	g_autofree char *alice_root = maildir_user_root(mail, "alice@example.org", NULL);
	Maildir *alice = maildir_new(alice_root, "mx", TRUE);
	ck_assert(maildir_ensure(alice, 7, NULL));
	ck_assert(maildir_folder_create(f->md, "Junk", 8, NULL));

	const char *msg = "Subject: to many\r\n\r\nbody\r\n";
	MaildirDelivery items[] = {
		{ .maildir = alice, .data = msg, .len = strlen(msg) },
		{ .maildir = f->md, .data = msg, .len = strlen(msg) },
		{ .maildir = f->md, .folder = "Junk", .data = msg, .len = strlen(msg) },
		{ .maildir = f->md, .folder = "Missing", .data = msg, .len = strlen(msg) },
		{ .maildir = f->md, .folder = "../escape", .data = msg, .len = strlen(msg) },
		{ .maildir = NULL, .data = msg, .len = strlen(msg) },
	};
	guint n = maildir_deliver_batch(items, G_N_ELEMENTS(items), &f->stamp);
	ck_assert_uint_eq(n, 3);
	for (guint i = 0; i < 3; i++) {
		ck_assert_ptr_nonnull(items[i].base_r);
		ck_assert_ptr_null(items[i].error_r);
	}
	ck_assert(g_error_matches(items[3].error_r, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	ck_assert(g_error_matches(items[4].error_r, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME));
	ck_assert(g_error_matches(items[5].error_r, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
	g_autofree char *c0 = slurp(alice_root, "new", items[0].base_r);
	g_autofree char *c2 = slurp(f->root, ".Junk/new", items[2].base_r);
	ck_assert_str_eq(c0, msg);
	ck_assert_str_eq(c2, msg);
	ck_assert_uint_eq(count_dir(f->root, "new"), 1);
	for (guint i = 0; i < G_N_ELEMENTS(items); i++) {
		g_free(items[i].base_r);
		g_clear_error(&items[i].error_r);
	}
	maildir_free(alice);
	fixture_free(f);
}
END_TEST

/* The batch cut for a group commit: files in place, the directories to
 * sync named (with fsync only), synced by the caller. */
START_TEST(test_deliver_batch_unsynced)
{
	for (int sync = 0; sync <= 1; sync++) {
		Fixture *f = fixture_new_full(sync);
		ck_assert(maildir_folder_create(f->md, "Junk", 8, NULL));
		const char *msg = "Subject: later\r\n\r\nbody\r\n";
		MaildirDelivery items[] = {
			{ .maildir = f->md, .data = msg, .len = strlen(msg) },
			{ .maildir = f->md, .folder = "Junk", .data = msg, .len = strlen(msg) },
			{ .maildir = f->md, .folder = "Missing", .data = msg, .len = strlen(msg) },
		};
		ck_assert_uint_eq(maildir_deliver_batch_unsynced(items, G_N_ELEMENTS(items), &f->stamp), 2);
		ck_assert_uint_eq(count_dir(f->root, "new"), 1);
		ck_assert_uint_eq(count_dir(f->root, "tmp"), 0);
		g_autofree char *c1 = slurp(f->root, ".Junk/new", items[1].base_r);
		ck_assert_str_eq(c1, msg);
		ck_assert(g_error_matches(items[2].error_r, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
		ck_assert_ptr_null(items[2].sync_dir_r);
		if (sync) {
			g_autofree char *inbox_new = g_build_filename(f->root, "new", NULL);
			g_autofree char *junk_new = g_build_filename(f->root, ".Junk", "new", NULL);
			ck_assert_str_eq(items[0].sync_dir_r, inbox_new);
			ck_assert_str_eq(items[1].sync_dir_r, junk_new);
			for (guint i = 0; i < 2; i++)
				ck_assert(maildir_sync_dir(items[i].sync_dir_r, NULL));
		} else {
			ck_assert_ptr_null(items[0].sync_dir_r);
			ck_assert_ptr_null(items[1].sync_dir_r);
		}
		GError *error = NULL;
		ck_assert(!maildir_sync_dir("/nonexistent/new", &error));
		ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
		g_clear_error(&error);
		for (guint i = 0; i < G_N_ELEMENTS(items); i++) {
			g_free(items[i].base_r);
			g_free(items[i].sync_dir_r);
			g_clear_error(&items[i].error_r);
		}
		fixture_free(f);
	}
}
END_TEST

START_TEST(test_deliver_refused)
{
	Fixture *f = fixture_new();
	GError *error = NULL;
	ck_assert(!maildir_deliver(f->md, "Nope", "x", 1, 0, &f->stamp, NULL, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);
	ck_assert(!maildir_deliver(f->md, NULL, "x", 1, 1u << 10, &f->stamp, NULL, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
	g_clear_error(&error);
	ck_assert(!maildir_deliver(f->md, NULL, "x", (gsize)MAILDIR_MAX_MESSAGE_SIZE + 1, 0,
	                           &f->stamp, NULL, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE));
	g_clear_error(&error);

	/* no Maildir there yet */
	g_autofree char *elsewhere = g_build_filename(f->dir, "nobody", NULL);
	Maildir *md = maildir_new(elsewhere, "mx", FALSE);
	ck_assert(!maildir_deliver(md, NULL, "x", 1, 0, &f->stamp, NULL, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);
	ck_assert(!maildir_ensure(md, 0, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
	g_clear_error(&error);
	maildir_free(md);
	fixture_free(f);
}
END_TEST

/* ---- write failures ----------------------------------------------------- */

/* A parent that is a file: the Maildir cannot even be made. */
START_TEST(test_fail_parent_is_file)
{
	g_autofree char *dir = ms_test_tmpdir();
	g_autofree char *file = g_build_filename(dir, "plain", NULL);
	ck_assert(g_file_set_contents(file, "x", 1, NULL));
	g_autofree char *root = g_build_filename(file, "bob", NULL);
	Maildir *md = maildir_new(root, "mx", FALSE);
	GError *error = NULL;
	ck_assert(!maildir_ensure(md, 1, &error));
	ck_assert(error->domain == G_IO_ERROR);
	ck_assert_ptr_nonnull(strstr(error->message, root));
	g_clear_error(&error);
	maildir_free(md);
	ms_test_rmtree(dir);
}
END_TEST

/* tmp/ replaced by a file: the write fails and new/ stays empty. */
START_TEST(test_fail_tmp_not_a_directory)
{
	Fixture *f = fixture_new();
	g_autofree char *tmp = g_build_filename(f->root, "tmp", NULL);
	ck_assert_int_eq(g_rmdir(tmp), 0);
	ck_assert(g_file_set_contents(tmp, "", 0, NULL));
	GError *error = NULL;
	ck_assert(!maildir_deliver(f->md, NULL, "hello", 5, 0, &f->stamp, NULL, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY));
	g_clear_error(&error);
	ck_assert_uint_eq(count_dir(f->root, "new"), 0);
	fixture_free(f);
}
END_TEST

/* A read-only tmp/: permission denied, nothing anywhere.  Root ignores
 * permissions, so the case only means something for other users. */
START_TEST(test_fail_read_only)
{
	if (geteuid() == 0)
		return;
	Fixture *f = fixture_new();
	g_autofree char *tmp = g_build_filename(f->root, "tmp", NULL);
	ck_assert_int_eq(g_chmod(tmp, 0500), 0);
	GError *error = NULL;
	ck_assert(!maildir_deliver(f->md, NULL, "hello", 5, 0, &f->stamp, NULL, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED));
	g_clear_error(&error);
	g_chmod(tmp, 0700);
	ck_assert_uint_eq(count_dir(f->root, "new"), 0);
	ck_assert_uint_eq(count_dir(f->root, "tmp"), 0);
	fixture_free(f);
}
END_TEST

/* A write cut short part way (a file size limit: EFBIG, as a full disk
 * gives ENOSPC): reported as no space, the partial file removed. */
START_TEST(test_fail_write_midway)
{
	Fixture *f = fixture_new();
	struct rlimit old, small = { .rlim_cur = 4096, .rlim_max = RLIM_INFINITY };
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);

	gsize len = 64 * 1024;
	g_autofree char *big = g_strnfill(len, 'm');
	GError *error = NULL;
	gboolean ok = maildir_deliver(f->md, NULL, big, len, 0, &f->stamp, NULL, &error);

	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, old_handler);
	ck_assert(!ok);
	ck_assert_msg(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE), "%s", error->message);
	g_clear_error(&error);
	ck_assert_uint_eq(count_dir(f->root, "tmp"), 0);
	ck_assert_uint_eq(count_dir(f->root, "new"), 0);

	/* and the next, smaller message goes through */
	g_autofree char *base = deliver(f, NULL, "small", 0);
	ck_assert_uint_eq(count_dir(f->root, "new"), 1);
	fixture_free(f);
}
END_TEST

/* ---- scanning, flags, expunge ------------------------------------------- */

START_TEST(test_scan_and_flags)
{
	Fixture *f = fixture_new();
	g_autofree char *a = deliver(f, NULL, "aaaa", 0);
	g_autofree char *b = deliver(f, NULL, "bbbbbbbb", 0);

	/* a file from elsewhere: no size, no time in its name */
	g_autofree char *foreign = g_build_filename(f->root, "cur", "foreign:2,Sa", NULL);
	ck_assert(g_file_set_contents(foreign, "123456789", 9, NULL));
	/* and files that are not messages */
	g_autofree char *dot = g_build_filename(f->root, "new", ".hidden", NULL);
	ck_assert(g_file_set_contents(dot, "x", 1, NULL));

	GPtrArray *msgs = NULL;
	ck_assert(maildir_folder_scan(f->md, "INBOX", &msgs, NULL));
	ck_assert_uint_eq(msgs->len, 3);
	MaildirMessage *ma = NULL, *mf = NULL;
	for (guint i = 0; i < msgs->len; i++) {
		MaildirMessage *m = msgs->pdata[i];
		ck_assert_str_eq(m->folder, "INBOX");
		ck_assert_uint_eq(m->uid, 0);
		if (strcmp(m->base, a) == 0)
			ma = m;
		if (strcmp(m->base, "foreign") == 0)
			mf = m;
	}
	ck_assert_ptr_nonnull(ma);
	ck_assert_ptr_nonnull(mf);
	ck_assert(ma->in_new);
	ck_assert_uint_eq(ma->size, 4);
	ck_assert_int_eq(ma->internal_date_us, T0);
	ck_assert(!mf->in_new);
	ck_assert_uint_eq(mf->size, 9);               /* from stat */
	ck_assert_int_gt(mf->internal_date_us, 0);    /* from mtime */
	ck_assert_uint_eq(mf->flags, MAILDIR_FLAG_SEEN);
	ck_assert_str_eq(mf->keywords, "a");

	/* \Recent consumed: new/ -> cur/ */
	ck_assert(maildir_message_to_cur(f->md, ma, NULL));
	ck_assert(!ma->in_new);
	g_autofree char *cur_a = g_strconcat(a, ":2,", NULL);
	g_autofree char *ca = slurp(f->root, "cur", cur_a);
	ck_assert_str_eq(ca, "aaaa");
	ck_assert(maildir_message_to_cur(f->md, ma, NULL));  /* twice is fine */

	/* flags: a rename, letters sorted, keywords kept */
	ck_assert(maildir_message_set_flags(f->md, ma, MAILDIR_FLAG_SEEN | MAILDIR_FLAG_REPLIED, NULL));
	g_autofree char *rs = g_strconcat(a, ":2,RS", NULL);
	g_autofree char *crs = slurp(f->root, "cur", rs);
	ck_assert_str_eq(crs, "aaaa");
	ck_assert(maildir_message_set_flags(f->md, mf, MAILDIR_FLAG_FLAGGED, NULL));
	g_autofree char *fa = slurp(f->root, "cur", "foreign:2,Fa");
	ck_assert_str_eq(fa, "123456789");
	GError *error = NULL;
	ck_assert(!maildir_message_set_flags(f->md, ma, 1u << 9, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
	g_clear_error(&error);

	/* a stale copy (another session changed the flags meanwhile) still works */
	MaildirMessage *stale = maildir_message_dup(ma);
	ck_assert(maildir_message_set_flags(f->md, ma, MAILDIR_FLAG_TRASHED, NULL));
	ck_assert(maildir_message_set_flags(f->md, stale, MAILDIR_FLAG_SEEN | MAILDIR_FLAG_TRASHED, NULL));
	g_autofree char *st = g_strconcat(a, ":2,ST", NULL);
	g_autofree char *cst = slurp(f->root, "cur", st);
	ck_assert_str_eq(cst, "aaaa");
	GBytes *bytes = NULL;
	ck_assert(maildir_message_read(f->md, ma, &bytes, NULL));  /* ma is stale now */
	ck_assert_uint_eq(g_bytes_get_size(bytes), 4);
	ck_assert(memcmp(g_bytes_get_data(bytes, NULL), "aaaa", 4) == 0);
	g_bytes_unref(bytes);

	/* setting flags on a message still in new/ moves it */
	MaildirMessage *mb = NULL;
	for (guint i = 0; i < msgs->len; i++)
		if (strcmp(((MaildirMessage *)msgs->pdata[i])->base, b) == 0)
			mb = msgs->pdata[i];
	ck_assert(maildir_message_set_flags(f->md, mb, MAILDIR_FLAG_SEEN, NULL));
	ck_assert_uint_eq(count_dir(f->root, "new"), 1);  /* only .hidden */

	/* expunge: gone, and a second time is an error */
	ck_assert(maildir_message_expunge(f->md, stale, NULL));
	ck_assert(!maildir_message_expunge(f->md, ma, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);
	ck_assert(!maildir_message_read(f->md, ma, &bytes, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);
	g_autofree char *path = maildir_message_path(f->md, mb);
	g_autofree char *expect = g_build_filename(f->root, "cur", NULL);
	ck_assert(g_str_has_prefix(path, expect));
	ck_assert(g_str_has_suffix(path, ":2,S"));

	maildir_message_free(stale);
	g_ptr_array_unref(msgs);
	fixture_free(f);
}
END_TEST

/* A message struct made up by a caller cannot reach outside the folder,
 * and a symbolic link planted in the Maildir is not followed. */
START_TEST(test_message_crafted)
{
	Fixture *f = fixture_new();
	g_autofree char *secret = g_build_filename(f->dir, "secret", NULL);
	ck_assert(g_file_set_contents(secret, "top secret", -1, NULL));
	static const struct { const char *folder; const char *base; } crafted[] = {
		{ "INBOX", "../../../../secret" },
		{ "INBOX", "a/b" },
		{ "INBOX", "" },
		{ "INBOX", ".hidden" },
		{ "INBOX", "x:2,S" },
		{ "../..", "secret" },
		{ ".Sent", "x" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(crafted); i++) {
		MaildirMessage msg = { .base = (char *)crafted[i].base, .folder = (char *)crafted[i].folder,
		                       .in_new = TRUE };
		GError *error = NULL;
		GBytes *bytes = NULL;
		ck_assert(!maildir_message_read(f->md, &msg, &bytes, &error));
		ck_assert_msg(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME), "%s", error->message);
		g_clear_error(&error);
		ck_assert(!maildir_message_expunge(f->md, &msg, NULL));
		ck_assert(!maildir_message_set_flags(f->md, &msg, MAILDIR_FLAG_SEEN, NULL));
		ck_assert(!maildir_message_to_cur(f->md, &msg, NULL));
		ck_assert(!maildir_message_copy(f->md, &msg, "INBOX", &f->stamp, NULL, NULL));
	}
	ck_assert(g_file_test(secret, G_FILE_TEST_EXISTS));

	g_autofree char *link = g_build_filename(f->root, "new", "evil,S=10", NULL);
	ck_assert_int_eq(symlink(secret, link), 0);
	GPtrArray *msgs = NULL;
	ck_assert(maildir_folder_scan(f->md, NULL, &msgs, NULL));
	ck_assert_uint_eq(msgs->len, 0);
	g_ptr_array_unref(msgs);
	MaildirMessage evil = { .base = "evil,S=10", .folder = "INBOX", .in_new = TRUE };
	GBytes *bytes = NULL;
	GError *error = NULL;
	ck_assert(!maildir_message_read(f->md, &evil, &bytes, &error));
	ck_assert_ptr_null(bytes);
	g_clear_error(&error);
	fixture_free(f);
}
END_TEST

/* ---- UIDs --------------------------------------------------------------- */

START_TEST(test_uids)
{
	Fixture *f = fixture_new();
	/* delivered out of time order: UIDs follow the time in the names */
	f->stamp.time_us = T0 + 3000;
	g_autofree char *late = deliver(f, NULL, "late", 0);
	f->stamp.time_us = T0 + 1000;
	g_autofree char *early = deliver(f, NULL, "early", 0);
	f->stamp.time_us = T0 + 2000;
	g_autofree char *middle = deliver(f, NULL, "middle", 0);

	MaildirIndex *index = sync_folder(f, NULL, 4242);
	ck_assert_uint_eq(index->uidvalidity, 1000);  /* from maildir_ensure, not 4242 */
	ck_assert_uint_eq(index->uidnext, 4);
	ck_assert(!index->rebuilt);
	ck_assert_uint_eq(index->messages->len, 3);
	ck_assert_str_eq(msg_at(index, 0)->base, early);
	ck_assert_str_eq(msg_at(index, 1)->base, middle);
	ck_assert_str_eq(msg_at(index, 2)->base, late);
	for (guint i = 0; i < 3; i++)
		ck_assert_uint_eq(msg_at(index, i)->uid, i + 1);

	g_autofree char *uidlist = slurp(f->root, "", MAILDIR_UIDLIST_FILE);
	g_autofree char *expect = g_strdup_printf("V1000 N4\n1 %s\n2 %s\n3 %s\n", early, middle, late);
	ck_assert_str_eq(uidlist, expect);

	/* expunge the last: its UID is never given again */
	ck_assert(maildir_message_expunge(f->md, msg_at(index, 2), NULL));
	maildir_index_free(index);

	/* a fresh handle: what the uidlist says survives */
	maildir_free(f->md);
	f->md = maildir_new(f->root, "mx.example.org", FALSE);
	g_autofree char *newest = deliver(f, NULL, "newest", 0);
	index = sync_folder(f, "INBOX", 99);
	ck_assert_uint_eq(index->uidvalidity, 1000);
	ck_assert_uint_eq(index->messages->len, 3);
	ck_assert_uint_eq(msg_at(index, 0)->uid, 1);
	ck_assert_uint_eq(msg_at(index, 1)->uid, 2);
	ck_assert_uint_eq(msg_at(index, 2)->uid, 4);
	ck_assert_str_eq(msg_at(index, 2)->base, newest);
	ck_assert_uint_eq(index->uidnext, 5);

	/* flags and new -> cur do not change a UID */
	ck_assert(maildir_message_set_flags(f->md, msg_at(index, 0), MAILDIR_FLAG_SEEN, NULL));
	maildir_index_free(index);
	index = sync_folder(f, NULL, 99);
	ck_assert_uint_eq(msg_at(index, 0)->uid, 1);
	ck_assert_uint_eq(msg_at(index, 0)->flags, MAILDIR_FLAG_SEEN);
	ck_assert(!msg_at(index, 0)->in_new);
	ck_assert_uint_eq(index->uidnext, 5);
	maildir_index_free(index);

	/* nothing changed: the file is not rewritten */
	g_autofree char *path = g_build_filename(f->root, MAILDIR_UIDLIST_FILE, NULL);
	GStatBuf before, after;
	ck_assert_int_eq(g_stat(path, &before), 0);
	index = sync_folder(f, NULL, 99);
	ck_assert_int_eq(g_stat(path, &after), 0);
	ck_assert_uint_eq(before.st_ino, after.st_ino);
	maildir_index_free(index);
	fixture_free(f);
}
END_TEST

/* Two sessions on one Maildir, each in its own thread, delivering and
 * syncing at once: a message never gets two UIDs, two messages never
 * share one (the uidlist is updated under a lock). */
typedef struct {
	const char *root;
	guint       process;
	GMutex     *mutex;
	GHashTable *seen;      /* base -> uid, as any session saw it */
	gint       *failures;
} Session;

#define RACE_ROUNDS 40

static gpointer race_session(gpointer data)
{
	Session *s = data;
	Maildir *md = maildir_new(s->root, "mx", FALSE);
	MaildirStamp stamp = { .time_us = T0, .process = s->process };
	for (int i = 0; i < RACE_ROUNDS; i++) {
		stamp.time_us += 10;
		MaildirIndex *index = NULL;
		if (!maildir_deliver(md, NULL, "race", 4, 0, &stamp, NULL, NULL) ||
		    !maildir_folder_sync(md, NULL, 1, &index, NULL)) {
			g_atomic_int_inc(s->failures);
			continue;
		}
		g_mutex_lock(s->mutex);
		for (guint j = 0; j < index->messages->len; j++) {
			const MaildirMessage *m = index->messages->pdata[j];
			gpointer uid;
			if (j > 0 && m->uid <= ((MaildirMessage *)index->messages->pdata[j - 1])->uid)
				(*s->failures)++;
			if (g_hash_table_lookup_extended(s->seen, m->base, NULL, &uid)) {
				if (GPOINTER_TO_UINT(uid) != m->uid)
					(*s->failures)++;
			} else {
				g_hash_table_insert(s->seen, g_strdup(m->base), GUINT_TO_POINTER(m->uid));
			}
		}
		g_mutex_unlock(s->mutex);
		maildir_index_free(index);
	}
	maildir_free(md);
	return NULL;
}

START_TEST(test_uids_concurrent)
{
	Fixture *f = fixture_new();
	GMutex mutex;
	g_mutex_init(&mutex);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gint failures = 0;
	Session sessions[2];
	GThread *threads[2];
	for (guint i = 0; i < 2; i++) {
		sessions[i] = (Session){ f->root, i + 1, &mutex, seen, &failures };
		threads[i] = g_thread_new("session", race_session, &sessions[i]);
	}
	for (guint i = 0; i < 2; i++)
		g_thread_join(threads[i]);
	ck_assert_int_eq(failures, 0);

	MaildirIndex *index = sync_folder(f, NULL, 1);
	ck_assert_uint_eq(index->messages->len, 2 * RACE_ROUNDS);
	ck_assert_uint_eq(index->uidnext, 2 * RACE_ROUNDS + 1);
	GHashTable *uids = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (guint i = 0; i < index->messages->len; i++)
		g_hash_table_add(uids, GUINT_TO_POINTER(msg_at(index, i)->uid));
	ck_assert_uint_eq(g_hash_table_size(uids), 2 * RACE_ROUNDS);
	g_hash_table_destroy(uids);
	maildir_index_free(index);
	g_hash_table_destroy(seen);
	g_mutex_clear(&mutex);
	fixture_free(f);
}
END_TEST

static const char *const damaged_uidlists[] = {
	"",
	"garbage\n",
	"V0 N1\n",              /* UIDVALIDITY 0 */
	"V5 N3\n2 a\n1 b\n",    /* UIDs not rising */
	"V5 N2\n2 a\n",         /* UID not below N */
	"V5 N9\n1 a\n2 a\n",    /* one name twice */
	"V5 N9\n1 a",           /* cut short */
	"V5 N9\n1 \n",          /* no name */
	"V99999999999 N1\n",    /* over 32 bits */
};

START_TEST(test_uidlist_damaged)
{
	Fixture *f = fixture_new();
	g_autofree char *a = deliver(f, NULL, "a", 0);
	g_autofree char *path = g_build_filename(f->root, MAILDIR_UIDLIST_FILE, NULL);
	ck_assert(g_file_set_contents(path, damaged_uidlists[_i], -1, NULL));

	MaildirIndex *index = sync_folder(f, NULL, 777);
	ck_assert(index->rebuilt);
	ck_assert_uint_eq(index->uidvalidity, 777);
	ck_assert_uint_eq(index->messages->len, 1);
	ck_assert_uint_eq(msg_at(index, 0)->uid, 1);
	maildir_index_free(index);

	/* and without a UIDVALIDITY to start over with: an error */
	ck_assert(g_file_set_contents(path, damaged_uidlists[_i], -1, NULL));
	GError *error = NULL;
	ck_assert(!maildir_folder_sync(f->md, NULL, 0, &index, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
	ck_assert_ptr_null(index);
	g_clear_error(&error);
	fixture_free(f);
}
END_TEST

/* ---- folders ------------------------------------------------------------ */

static char *folder_summary(Fixture *f)
{
	GPtrArray *list = NULL;
	GError *error = NULL;
	ck_assert_msg(maildir_folder_list(f->md, &list, &error), "%s", error ? error->message : "?");
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < list->len; i++) {
		const MaildirFolder *fo = list->pdata[i];
		g_string_append_printf(s, "%s%s%s%s%s ", fo->name, fo->selectable ? "" : "/noselect",
		                       fo->has_children ? "/children" : "",
		                       fo->special_use ? "/" : "",
		                       maildir_special_use_to_string(fo->special_use));
	}
	g_ptr_array_unref(list);
	return g_string_free(s, FALSE);
}

START_TEST(test_folders)
{
	Fixture *f = fixture_new();
	GError *error = NULL;
	ck_assert(maildir_ensure_defaults(f->md, 5, NULL));
	ck_assert(maildir_ensure_defaults(f->md, 6, NULL));  /* idempotent */
	ck_assert(maildir_folder_create(f->md, "Lists.Sub", 77, NULL));

	/* the parent came too; Maildir++ layout on disk */
	ck_assert(maildir_folder_exists(f->md, "Lists"));
	ck_assert(maildir_folder_exists(f->md, "inbox"));
	ck_assert(!maildir_folder_exists(f->md, "Nope"));
	g_autofree char *marker = slurp(f->root, ".Lists.Sub", MAILDIR_FOLDER_MARKER);
	ck_assert_str_eq(marker, "");
	g_autofree char *uidlist = slurp(f->root, ".Lists.Sub", MAILDIR_UIDLIST_FILE);
	ck_assert_str_eq(uidlist, "V77 N1\n");
	g_autofree char *sub = list_dir(f->root, ".Lists.Sub");
	ck_assert_str_eq(sub, "cur maildirfolder mailsim-uidlist new tmp");
	g_autofree char *staging = list_dir(f->root, "tmp");
	ck_assert_str_eq(staging, "");

	g_autofree char *s1 = folder_summary(f);
	ck_assert_str_eq(s1, "INBOX Drafts/\\Drafts Junk/\\Junk Lists/children Lists.Sub "
	                     "Sent/\\Sent Trash/\\Trash ");

	ck_assert(!maildir_folder_create(f->md, "Lists.Sub", 1, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
	g_clear_error(&error);
	ck_assert(!maildir_folder_create(f->md, "INBOX", 1, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
	g_clear_error(&error);
	ck_assert(!maildir_folder_create(f->md, "Zero", 0, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
	g_clear_error(&error);

	/* a message and its UID travel with a renamed folder */
	g_autofree char *base = deliver(f, "Lists.Sub", "list mail", 0);
	MaildirIndex *index = sync_folder(f, "Lists.Sub", 1);
	ck_assert_uint_eq(index->uidvalidity, 77);
	maildir_index_free(index);
	ck_assert(maildir_folder_rename(f->md, "Lists", "Groups", NULL));
	ck_assert(!maildir_folder_exists(f->md, "Lists"));
	ck_assert(!maildir_folder_exists(f->md, "Lists.Sub"));
	index = sync_folder(f, "Groups.Sub", 1);
	ck_assert_uint_eq(index->uidvalidity, 77);
	ck_assert_uint_eq(index->messages->len, 1);
	ck_assert_str_eq(msg_at(index, 0)->base, base);
	ck_assert_uint_eq(msg_at(index, 0)->uid, 1);
	maildir_index_free(index);

	ck_assert(!maildir_folder_rename(f->md, "Groups", "Sent", &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
	g_clear_error(&error);
	ck_assert(!maildir_folder_rename(f->md, "Nope", "Other", &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);
	ck_assert(!maildir_folder_rename(f->md, "INBOX", "Old", &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED));
	g_clear_error(&error);
	/* a child's new name taken: nothing moves */
	ck_assert(maildir_folder_create(f->md, "Clubs.Sub", 3, NULL));
	ck_assert(!maildir_folder_rename(f->md, "Groups", "Clubs", &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
	g_clear_error(&error);
	ck_assert(maildir_folder_exists(f->md, "Groups.Sub"));

	/* delete the parent: the child stays, the parent shows as \Noselect */
	ck_assert(maildir_folder_delete(f->md, "Groups", NULL));
	ck_assert(maildir_folder_delete(f->md, "Clubs", NULL));
	ck_assert(maildir_folder_delete(f->md, "Clubs.Sub", NULL));
	g_autofree char *s2 = folder_summary(f);
	ck_assert_str_eq(s2, "INBOX Drafts/\\Drafts Groups/noselect/children Groups.Sub Junk/\\Junk "
	                     "Sent/\\Sent Trash/\\Trash ");
	/* delete with messages inside */
	ck_assert(maildir_folder_delete(f->md, "Groups.Sub", NULL));
	g_autofree char *gone = g_build_filename(f->root, ".Groups.Sub", NULL);
	ck_assert(!g_file_test(gone, G_FILE_TEST_EXISTS));
	ck_assert_uint_eq(count_dir(f->root, "tmp"), 0);
	ck_assert(!maildir_folder_delete(f->md, "Groups.Sub", &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);
	ck_assert(!maildir_folder_delete(f->md, "inbox", &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED));
	g_clear_error(&error);

	/* directories that are no folders are not listed */
	g_autofree char *junk_dir = g_build_filename(f->root, ".no..good", "cur", NULL);
	ck_assert_int_eq(g_mkdir_with_parents(junk_dir, 0700), 0);
	g_autofree char *s3 = folder_summary(f);
	ck_assert_str_eq(s3, "INBOX Drafts/\\Drafts Junk/\\Junk Sent/\\Sent Trash/\\Trash ");
	fixture_free(f);
}
END_TEST

START_TEST(test_subscriptions)
{
	Fixture *f = fixture_new();
	GPtrArray *names = NULL;
	ck_assert(maildir_subscriptions_read(f->md, &names, NULL));
	ck_assert_uint_eq(names->len, 0);  /* no file yet */
	g_ptr_array_unref(names);

	ck_assert(maildir_ensure_defaults(f->md, 5, NULL));
	ck_assert(maildir_subscription_set(f->md, "Lists.Sub", TRUE, NULL));  /* need not exist */
	ck_assert(maildir_subscription_set(f->md, "Lists.Sub", TRUE, NULL));  /* once only */
	ck_assert(maildir_subscription_set(f->md, "Junk", FALSE, NULL));
	ck_assert(maildir_subscription_set(f->md, "inbox", TRUE, NULL));
	g_autofree char *file = slurp(f->root, "", MAILDIR_SUBSCRIPTIONS_FILE);
	ck_assert_str_eq(file, "INBOX\nDrafts\nSent\nTrash\nLists.Sub\n");

	ck_assert(maildir_subscriptions_read(f->md, &names, NULL));
	ck_assert_uint_eq(names->len, 5);
	ck_assert_str_eq(names->pdata[4], "Lists.Sub");
	g_ptr_array_unref(names);

	/* a hand-edited file: bad lines are skipped */
	g_autofree char *path = g_build_filename(f->root, MAILDIR_SUBSCRIPTIONS_FILE, NULL);
	ck_assert(g_file_set_contents(path, "Sent\n../etc\n\n.x\nTrash", -1, NULL));
	ck_assert(maildir_subscriptions_read(f->md, &names, NULL));
	ck_assert_uint_eq(names->len, 2);
	ck_assert_str_eq(names->pdata[1], "Trash");
	g_ptr_array_unref(names);

	GError *error = NULL;
	ck_assert(!maildir_subscription_set(f->md, NULL, TRUE, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME));
	g_clear_error(&error);
	fixture_free(f);
}
END_TEST

/* ---- copy and move ------------------------------------------------------ */

START_TEST(test_copy_move)
{
	Fixture *f = fixture_new();
	ck_assert(maildir_ensure_defaults(f->md, 5, NULL));
	g_autofree char *a = deliver(f, NULL, "message A", 0);
	g_autofree char *b = deliver(f, NULL, "message B", MAILDIR_FLAG_SEEN);
	MaildirIndex *index = sync_folder(f, NULL, 1);
	MaildirMessage *ma = msg_at(index, 0), *mb = msg_at(index, 1);

	/* copy: the source stays, the copy has a new name and the same octets */
	g_autofree char *copy = NULL;
	ck_assert(maildir_message_copy(f->md, mb, "Trash", &f->stamp, &copy, NULL));
	ck_assert_str_ne(copy, b);
	ck_assert(g_str_has_suffix(copy, ",S=9"));
	g_autofree char *copy_cur = g_strconcat(copy, ":2,S", NULL);
	g_autofree char *cc = slurp(f->root, ".Trash/cur", copy_cur);
	ck_assert_str_eq(cc, "message B");
	g_autofree char *copy_path = g_build_filename(f->root, ".Trash", "cur", copy_cur, NULL);
	GStatBuf st;
	ck_assert_int_eq(g_stat(copy_path, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);  /* a hard link: no second copy of the octets */
	ck_assert_uint_eq(count_dir(f->root, "cur"), 1);
	/* copied twice into the same folder: two messages */
	ck_assert(maildir_message_copy(f->md, mb, "Trash", &f->stamp, NULL, NULL));
	ck_assert_uint_eq(count_dir(f->root, ".Trash/cur"), 2);

	/* an unflagged message is copied into new/ */
	ck_assert(maildir_message_copy(f->md, ma, "Sent", &f->stamp, NULL, NULL));
	ck_assert_uint_eq(count_dir(f->root, ".Sent/new"), 1);

	/* move: gone here, there under a new name, msg follows it */
	ck_assert(maildir_message_move(f->md, ma, "Junk", &f->stamp, NULL));
	ck_assert_str_eq(ma->folder, "Junk");
	ck_assert_str_ne(ma->base, a);
	ck_assert_uint_eq(ma->uid, 0);
	ck_assert_uint_eq(count_dir(f->root, "new"), 0);
	GBytes *bytes = NULL;
	ck_assert(maildir_message_read(f->md, ma, &bytes, NULL));
	ck_assert_uint_eq(g_bytes_get_size(bytes), 9);
	ck_assert(memcmp(g_bytes_get_data(bytes, NULL), "message A", 9) == 0);
	g_bytes_unref(bytes);
	MaildirIndex *junk = sync_folder(f, "Junk", 1);
	ck_assert_uint_eq(junk->messages->len, 1);
	ck_assert_uint_eq(msg_at(junk, 0)->uid, 1);
	maildir_index_free(junk);

	GError *error = NULL;
	ck_assert(!maildir_message_copy(f->md, mb, "Nope", &f->stamp, NULL, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);
	ck_assert(!maildir_message_move(f->md, mb, "../x", &f->stamp, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME));
	g_clear_error(&error);

	/* the INBOX index: A is gone at the next sync, B keeps UID 2 */
	maildir_index_free(index);
	index = sync_folder(f, NULL, 1);
	ck_assert_uint_eq(index->messages->len, 1);
	ck_assert_uint_eq(msg_at(index, 0)->uid, 2);
	maildir_index_free(index);
	fixture_free(f);
}
END_TEST

/* ---- the maildrop lock -------------------------------------------------- */

START_TEST(test_lock)
{
	Fixture *f = fixture_new();
	const gint64 stale = 60 * G_USEC_PER_SEC;
	MaildirLock *a = NULL, *b = NULL, *c = NULL;
	GError *error = NULL;

	ck_assert(maildir_lock_acquire(f->md, "pop3 session 1", T0, stale, &a, NULL));
	ck_assert_ptr_nonnull(a);
	g_autofree char *text = slurp(f->root, "", MAILDIR_LOCK_FILE);
	ck_assert_str_eq(text, "1700000000000000 pop3 session 1\n");

	/* held: busy, and the message says by whom */
	ck_assert(!maildir_lock_acquire(f->md, "pop3 session 2", T0 + 1, stale, &b, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BUSY));
	ck_assert_ptr_nonnull(strstr(error->message, "pop3 session 1"));
	ck_assert_ptr_null(b);
	g_clear_error(&error);

	/* released: the next one gets it */
	maildir_lock_release(a);
	ck_assert(maildir_lock_acquire(f->md, "pop3 session 2", T0 + 2, stale, &b, NULL));

	/* its holder went quiet for longer than stale: broken and taken */
	ck_assert(maildir_lock_acquire(f->md, "pop3 session 3", T0 + 2 + stale + 1, stale, &c, NULL));
	/* the old holder can neither renew nor remove what is not its own */
	ck_assert(!maildir_lock_refresh(b, T0 + 3 + stale, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
	g_clear_error(&error);
	maildir_lock_release(b);
	g_autofree char *still = slurp(f->root, "", MAILDIR_LOCK_FILE);
	ck_assert(g_str_has_suffix(still, " pop3 session 3\n"));

	/* a refreshed lock is not stale */
	gint64 later = T0 + 2 + 2 * stale;
	ck_assert(maildir_lock_refresh(c, later, NULL));
	ck_assert(!maildir_lock_acquire(f->md, "pop3 session 4", later + stale, stale, &a, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BUSY));
	g_clear_error(&error);
	maildir_lock_release(c);
	g_autofree char *lock_path = g_build_filename(f->root, MAILDIR_LOCK_FILE, NULL);
	ck_assert(!g_file_test(lock_path, G_FILE_TEST_EXISTS));

	/* a garbled lock file is no lock */
	ck_assert(g_file_set_contents(lock_path, "???", -1, NULL));
	ck_assert(maildir_lock_acquire(f->md, "pop3 session 5", T0, stale, &a, NULL));
	maildir_lock_release(a);

	ck_assert(!maildir_lock_acquire(f->md, "bad\nowner", T0, stale, &a, &error));
	ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
	g_clear_error(&error);
	ck_assert(!maildir_lock_acquire(f->md, "", T0, stale, &a, &error));
	g_clear_error(&error);
	maildir_lock_release(NULL);
	ck_assert_uint_eq(count_dir(f->root, "tmp"), 0);
	fixture_free(f);
}
END_TEST

/* ---- quota -------------------------------------------------------------- */

START_TEST(test_quota)
{
	Fixture *f = fixture_new();
	guint64 bytes = 1, count = 1;
	ck_assert(maildir_quota_usage(f->md, &bytes, &count, NULL));
	ck_assert_uint_eq(bytes, 0);
	ck_assert_uint_eq(count, 0);

	ck_assert(maildir_ensure_defaults(f->md, 5, NULL));
	g_autofree char *m1 = deliver(f, NULL, "0123456789", 0);
	g_autofree char *m2 = deliver(f, NULL, "01234567890123456789", MAILDIR_FLAG_SEEN);
	g_autofree char *m3 = deliver(f, "Sent", "012345678901234567890123456789", 0);
	/* a name without ",S=": stat */
	g_autofree char *odd = g_build_filename(f->root, ".Trash", "cur", "odd:2,S", NULL);
	ck_assert(g_file_set_contents(odd, "12345", 5, NULL));
	/* tmp/ does not count */
	g_autofree char *tmp = g_build_filename(f->root, "tmp", "partial,S=1000", NULL);
	ck_assert(g_file_set_contents(tmp, "x", 1, NULL));

	ck_assert(maildir_quota_usage(f->md, &bytes, &count, NULL));
	ck_assert_uint_eq(bytes, 65);
	ck_assert_uint_eq(count, 4);
	fixture_free(f);
}
END_TEST

static Suite *maildir_suite(void)
{
	Suite *s = suite_create("maildir");
	TCase *tc = tcase_create("names");
	tcase_add_loop_test(tc, test_folder_name_valid, 0, G_N_ELEMENTS(valid_folders));
	tcase_add_loop_test(tc, test_folder_name_invalid, 0, G_N_ELEMENTS(invalid_folders));
	tcase_add_test(tc, test_folder_name_lengths);
	tcase_add_test(tc, test_user_root);
	tcase_add_test(tc, test_flags_text);
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_folder_refused_creates_nothing, 30);
	MS_ADD_TEST(s, test_deliver_name_and_content, 30);
	MS_ADD_TEST(s, test_deliver_hostname_escaped, 30);
	MS_ADD_TEST(s, test_deliver_name_clash, 30);
	MS_ADD_TEST(s, test_deliver_batch, 30);
	MS_ADD_TEST(s, test_deliver_batch_unsynced, 30);
	MS_ADD_TEST(s, test_deliver_refused, 30);
	MS_ADD_TEST(s, test_fail_parent_is_file, 30);
	MS_ADD_TEST(s, test_fail_tmp_not_a_directory, 30);
	MS_ADD_TEST(s, test_fail_read_only, 30);
	MS_ADD_TEST(s, test_fail_write_midway, 30);
	MS_ADD_TEST(s, test_scan_and_flags, 30);
	MS_ADD_TEST(s, test_message_crafted, 30);
	MS_ADD_TEST(s, test_uids, 30);
	MS_ADD_TEST(s, test_uids_concurrent, 60);
	TCase *td = tcase_create("uidlist_damaged");
	tcase_add_loop_test(td, test_uidlist_damaged, 0, G_N_ELEMENTS(damaged_uidlists));
	suite_add_tcase(s, td);
	MS_ADD_TEST(s, test_folders, 30);
	MS_ADD_TEST(s, test_subscriptions, 30);
	MS_ADD_TEST(s, test_copy_move, 30);
	MS_ADD_TEST(s, test_lock, 30);
	MS_ADD_TEST(s, test_quota, 30);
	return s;
}

MS_TEST_MAIN(maildir_suite)
