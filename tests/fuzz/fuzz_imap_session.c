/* tests/fuzz/fuzz_imap_session.c - arbitrary bytes from a client to an MRA
 * session over the simulated network, after a good login (and SELECT).
 * The first byte picks the protocol: even IMAP, odd POP3.  Each run gets a
 * fresh Maildir with two messages, a fresh world and a real account
 * service; the session must neither crash nor leak, whatever it is sent. */
#include "agents/mra/mra.h"
#include "agents/mda/authsvc.h"
#include "agents/mda/maildir.h"
#include "net/simnet.h"

#include <glib/gstdio.h>
#include <stdint.h>
#include <string.h>

#define FUZZ_MAX_INPUT (64 * 1024)

typedef struct {
	MsSched    *s;
	MsHost     *client;
	MsListener *auth_l;
	const uint8_t *data;
	size_t      size;
	gboolean    pop3;
} World;

static gboolean verify(gpointer ud, const char *user, const char *password, GError **error)
{
	return strcmp(user, "bob@example.org") == 0 && strcmp(password, "secret") == 0;
}

static GPtrArray *resolve(gpointer ud, const char *address, GError **error)
{
	return g_ptr_array_new_with_free_func(g_free);
}

static const AuthsvcBackend backend = { verify, resolve };

static void auth_conn_task(gpointer data)
{
	MsConn *c = data;
	authsvc_serve(c, &backend, NULL, "in.8", "in.5");
	ms_conn_unref(c);
}

static void auth_accept_task(gpointer data)
{
	World *w = data;
	for (;;) {
		MsConn *c = ms_listener_accept(w->auth_l, NULL);
		if (!c)
			return;
		ms_task_spawn(w->s, "authsvc", auth_conn_task, c);
	}
}

static void client_task(gpointer data)
{
	World *w = data;
	MsConn *c = ms_stack_connect(ms_host_stack(w->client), "192.0.2.20", w->pop3 ? MRA_POP3_PORT : MRA_IMAP_PORT,
	                             MS_SECOND, NULL);
	if (!c)
		return;
	const char *prefix = w->pop3 ? "USER bob@example.org\r\nPASS secret\r\n"
	                             : "a LOGIN bob@example.org secret\r\nb SELECT INBOX\r\n";
	ms_conn_write(c, prefix, strlen(prefix), NULL);
	ms_conn_write_masked(c, w->data, w->size, "(fuzz input)", NULL);
	ms_conn_close(c);   /* the server reads EOF after the input */
	char buf[4096];
	while (ms_conn_read_exact(c, buf, 1, NULL))
		;
	ms_conn_unref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	World w = { .data = data + 1, .size = size - 1, .pop3 = data[0] & 1 };
	char *dir = g_dir_make_tmp("mailsim-fuzz-XXXXXX", NULL);
	if (!dir)
		return 0;

	/* two messages, one multipart, as the MDA would have written them */
	char *mail = g_build_filename(dir, MRA_MAIL_DIR, NULL);
	char *root = maildir_user_root(mail, "bob@example.org", NULL);
	Maildir *md = maildir_new(root, "mail.example.org", FALSE);
	maildir_ensure_defaults(md, 42, NULL);
	MaildirStamp stamp = { .time_us = MRA_DEFAULT_EPOCH_US, .process = 1 };
	static const char m1[] = "From: a@example.com\r\nSubject: one\r\n\r\nbody\r\n.dot\r\n";
	static const char m2[] = "Subject: two\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	                         "Content-Type: text/plain\r\n\r\npart\r\n--b--\r\n";
	maildir_deliver(md, NULL, m1, sizeof m1 - 1, 0, &stamp, NULL, NULL);
	maildir_deliver(md, NULL, m2, sizeof m2 - 1, MAILDIR_FLAG_SEEN, &stamp, NULL, NULL);
	maildir_free(md);

	w.s = ms_sched_new(MS_SCHED_VIRTUAL, 1);
	MsNet *net = ms_net_new(w.s);
	MsHost *mail_host = ms_net_add_host(net, "mail.example.org", "192.0.2.20", NULL);
	w.client = ms_net_add_host(net, "client.example.com", "192.0.2.10", NULL);
	MsStack *mda_stack = ms_host_stack_alias(mail_host, "mda@mail.example.org");
	MsStack *mra_stack = ms_host_stack_alias(mail_host, "mra@mail.example.org");
	w.auth_l = ms_stack_listen(mda_stack, NULL, AUTHSVC_PORT, NULL);
	ms_task_spawn(w.s, "authsvc-accept", auth_accept_task, &w);
	MraConfig cfg = { .hostname = "mail.example.org", .state_dir = dir, .seed = 1 };
	Mra *mra = mra_new(mra_stack, &cfg, NULL);
	mra_start(mra, NULL);
	ms_task_spawn(w.s, "client", client_task, &w);
	/* an hour of virtual time is plenty: IDLE without DONE ends at EOF */
	ms_sched_run(w.s, 3600 * MS_SECOND);

	mra_stop(mra);
	ms_listener_close(w.auth_l);
	ms_sched_shutdown(w.s);
	mra_free(mra);
	ms_listener_free(w.auth_l);
	ms_stack_unref(mda_stack);
	ms_stack_unref(mra_stack);
	ms_net_free(net);
	ms_sched_free(w.s);

	/* remove the state, whatever the session made of it */
	GPtrArray *stack = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(stack, g_strdup(dir));
	while (stack->len) {
		char *d = g_ptr_array_steal_index(stack, stack->len - 1);
		g_ptr_array_add(dirs, d);
		GDir *gd = g_dir_open(d, 0, NULL);
		const char *name;
		while (gd && (name = g_dir_read_name(gd))) {
			char *child = g_build_filename(d, name, NULL);
			if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
				g_ptr_array_add(stack, child);
			else {
				g_unlink(child);
				g_free(child);
			}
		}
		if (gd)
			g_dir_close(gd);
	}
	for (guint i = dirs->len; i-- > 0;)
		g_rmdir(dirs->pdata[i]);
	g_ptr_array_free(dirs, TRUE);
	g_ptr_array_free(stack, TRUE);
	g_free(root);
	g_free(mail);
	g_free(dir);
	return 0;
}
