/* agents/mda/authsvc.c - the account service protocol, both sides.
 *
 * One command per line, one reply per command; see authsvc.h for the
 * exchange.  The server delays every failed AUTH by the same amount on the
 * scheduler's clock, so guessing is slow and timing tells nothing.
 */
#include "agents/mda/authsvc.h"

#include <string.h>

static const char *const result_names[] = { "ok", "no", "temporary failure" };

const char *authsvc_result_to_string(AuthsvcResult r)
{
	return (guint)r < G_N_ELEMENTS(result_names) ? result_names[r] : "?";
}

/* ---- client ------------------------------------------------------------ */

struct AuthsvcClient {
	MsConn *conn;
};

static gboolean read_reply(MsConn *c, char *buf, gsize max, GError **error)
{
	MsEol eol;
	gssize n = ms_conn_read_line(c, buf, max, &eol, error);
	if (n < 0)
		return FALSE;
	if (n == 0 && eol == MS_EOL_EOF) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "the account service closed the connection");
		return FALSE;
	}
	if (buf[0] != '+' && buf[0] != '-') {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the account service said \"%s\"", buf);
		return FALSE;
	}
	return TRUE;
}

AuthsvcClient *authsvc_client_connect(MsStack *stack, const char *addr, guint16 port, GError **error)
{
	MsConn *conn = ms_stack_connect(stack, addr, port, AUTHSVC_TIMEOUT, error);
	if (!conn)
		return NULL;
	ms_conn_set_proto(conn, "auth");
	ms_conn_set_timeout(conn, AUTHSVC_TIMEOUT);
	char line[AUTHSVC_MAX_LINE + 1];
	if (!read_reply(conn, line, AUTHSVC_MAX_LINE, error) || line[0] != '+') {
		if (error && !*error)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the account service refused: %s", line);
		ms_conn_unref(conn);
		return NULL;
	}
	AuthsvcClient *c = g_new0(AuthsvcClient, 1);
	c->conn = conn;
	return c;
}

void authsvc_client_free(AuthsvcClient *c)
{
	if (!c)
		return;
	char line[AUTHSVC_MAX_LINE + 1];
	if (ms_conn_printf(c->conn, NULL, "QUIT\r\n"))
		read_reply(c->conn, line, AUTHSVC_MAX_LINE, NULL);
	ms_conn_unref(c->conn);
	g_free(c);
}

static AuthsvcResult result_of(const char *line, GError **error)
{
	if (line[0] == '+')
		return AUTHSVC_OK;
	if (g_str_has_prefix(line, "-TEMP")) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", line[5] ? line + 6 : "temporary failure");
		return AUTHSVC_TEMPFAIL;
	}
	return AUTHSVC_NO;
}

AuthsvcResult authsvc_client_auth(AuthsvcClient *c, const char *user, const char *password,
                                  const char *step, GError **error)
{
	if (strpbrk(user, " \r\n") || strlen(user) > AUTHSVC_MAX_LINE / 2)
		return AUTHSVC_NO;   /* no such user can exist; do not garble the protocol */
	ms_conn_set_step(c->conn, step);
	g_autofree char *b64 = g_base64_encode((const guchar *)password, strlen(password));
	g_autofree char *line = g_strdup_printf("AUTH %s %s\r\n", user, b64);
	g_autofree char *shown = g_strdup_printf("AUTH %s ••••••", user);
	if (!ms_conn_write_masked(c->conn, line, strlen(line), shown, error))
		return AUTHSVC_TEMPFAIL;
	char reply[AUTHSVC_MAX_LINE + 1];
	if (!read_reply(c->conn, reply, AUTHSVC_MAX_LINE, error))
		return AUTHSVC_TEMPFAIL;
	return result_of(reply, error);
}

AuthsvcResult authsvc_client_rcpt(AuthsvcClient *c, const char *address, const char *step,
                                  GPtrArray **mailboxes_r, GError **error)
{
	if (mailboxes_r)
		*mailboxes_r = NULL;
	if (strpbrk(address, " \r\n") || strlen(address) > AUTHSVC_MAX_LINE / 2)
		return AUTHSVC_NO;
	ms_conn_set_step(c->conn, step);
	if (!ms_conn_printf(c->conn, error, "RCPT %s\r\n", address))
		return AUTHSVC_TEMPFAIL;
	char reply[AUTHSVC_MAX_LINE + 1];
	if (!read_reply(c->conn, reply, AUTHSVC_MAX_LINE, error))
		return AUTHSVC_TEMPFAIL;
	AuthsvcResult r = result_of(reply, error);
	if (r == AUTHSVC_OK && mailboxes_r) {
		GPtrArray *boxes = g_ptr_array_new_with_free_func(g_free);
		g_auto(GStrv) words = g_strsplit(reply + 3, " ", -1);   /* after "+OK" */
		for (guint i = 0; words[i]; i++)
			if (words[i][0])
				g_ptr_array_add(boxes, g_strdup(words[i]));
		*mailboxes_r = boxes;
	}
	return r;
}

/* ---- server ------------------------------------------------------------ */

static void serve_auth(MsConn *conn, const AuthsvcBackend *b, gpointer ud, const char *args,
                       const char *step)
{
	const char *sp = strchr(args, ' ');
	g_autofree char *user = sp ? g_strndup(args, sp - args) : NULL;
	gsize plen = 0;
	g_autofree guchar *pass = sp ? g_base64_decode(sp + 1, &plen) : NULL;
	g_autofree char *password = pass ? g_strndup((const char *)pass, plen) : NULL;
	ms_conn_set_step(conn, step);
	if (!user || !password || strlen(password) != plen) {
		ms_conn_printf(conn, NULL, "-NO malformed AUTH\r\n");
		return;
	}
	g_autoptr(GError) err = NULL;
	gboolean ok = b->verify(ud, user, password, &err);
	if (err) {
		ms_conn_printf(conn, NULL, "-TEMP %s\r\n", err->message);
		return;
	}
	if (!ok) {
		/* Same delay and same answer whether the user or the password was
		 * wrong: a guesser learns nothing and learns it slowly. */
		ms_conn_emit(conn, MS_EV_AUTH, "authentication failed for %s", user);
		ms_sleep(AUTHSVC_FAIL_DELAY);
		ms_conn_printf(conn, NULL, "-NO\r\n");
		return;
	}
	ms_conn_emit(conn, MS_EV_AUTH, "%s authenticated", user);
	ms_conn_printf(conn, NULL, "+OK\r\n");
}

static void serve_rcpt(MsConn *conn, const AuthsvcBackend *b, gpointer ud, const char *address,
                       const char *step)
{
	ms_conn_set_step(conn, step);
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) boxes = b->resolve(ud, address, &err);
	if (!boxes) {
		ms_conn_printf(conn, NULL, "-TEMP %s\r\n", err ? err->message : "lookup failed");
		return;
	}
	if (boxes->len == 0) {
		ms_conn_printf(conn, NULL, "-NOUSER\r\n");
		return;
	}
	GString *line = g_string_new("+OK");
	for (guint i = 0; i < boxes->len; i++)
		g_string_append_printf(line, " %s", (char *)g_ptr_array_index(boxes, i));
	g_string_append(line, "\r\n");
	ms_conn_write(conn, line->str, line->len, NULL);
	g_string_free(line, TRUE);
}

void authsvc_serve(MsConn *conn, const AuthsvcBackend *backend, gpointer ud,
                   const char *step_auth, const char *step_rcpt)
{
	ms_conn_set_proto(conn, "auth");
	ms_conn_set_timeout(conn, AUTHSVC_TIMEOUT);
	ms_conn_printf(conn, NULL, "+OK mailsim account service\r\n");
	char line[AUTHSVC_MAX_LINE + 1];
	for (;;) {
		MsEol eol;
		gssize n = ms_conn_read_line(conn, line, AUTHSVC_MAX_LINE, &eol, NULL);
		if (n < 0 || (n == 0 && eol == MS_EOL_EOF))
			return;
		if (eol == MS_EOL_TOO_LONG) {
			ms_conn_printf(conn, NULL, "-ERR line too long\r\n");
			continue;
		}
		if (g_ascii_strncasecmp(line, "AUTH ", 5) == 0)
			serve_auth(conn, backend, ud, line + 5, step_auth);
		else if (g_ascii_strncasecmp(line, "RCPT ", 5) == 0)
			serve_rcpt(conn, backend, ud, line + 5, step_rcpt);
		else if (g_ascii_strcasecmp(line, "QUIT") == 0) {
			ms_conn_printf(conn, NULL, "+OK bye\r\n");
			return;
		} else
			ms_conn_printf(conn, NULL, "-ERR unknown command\r\n");
	}
}
