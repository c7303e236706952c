/* agents/mua/pop3_client.c - the POP3 client session, read top to bottom.
 *
 * RFC 1939 3 (responses, multi-line byte-stuffing), 4-6 (the states), 7
 * (USER, PASS, UIDL); RFC 2449 (CAPA); RFC 2595 4 (STLS).  One command,
 * one reply: POP3 has no pipelining worth the complexity for a mail
 * client's few commands.
 */
#include "agents/mua/pop3_client.h"

#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK(pop3-client-error-quark, pop3_client_error)

#define POP3_CLIENT_MASK "••••••"
/* RFC 1939 7: a unique-id is 1 to 70 characters 0x21-0x7E. */
#define POP3_CLIENT_MAX_UID 70

#define NAME_OF(table, i) ((guint)(i) < G_N_ELEMENTS(table) ? (table)[i] : "unknown")

static const char *const error_names[] = { "err", "auth", "protocol" };
static const char *const state_names[] = {
	"connected", "authorization", "transaction", "update", "failed",
};

const char *pop3_client_error_to_string(Pop3ClientError e) { return NAME_OF(error_names, e); }
const char *pop3_client_state_to_string(Pop3ClientState s) { return NAME_OF(state_names, s); }

struct Pop3Client {
	MsConn          *conn;
	Pop3ClientState  state;
	GPtrArray       *caps;   /* char *, upper case: the first word of each CAPA line */
	char            *line;   /* POP3_CLIENT_MAX_LINE + 1 bytes */
};

Pop3Client *pop3_client_new(MsConn *conn)
{
	g_return_val_if_fail(conn != NULL, NULL);
	Pop3Client *c = g_new0(Pop3Client, 1);
	c->conn = ms_conn_ref(conn);
	c->state = POP3_CLIENT_STATE_CONNECTED;
	c->caps = g_ptr_array_new_with_free_func(g_free);
	c->line = g_malloc(POP3_CLIENT_MAX_LINE + 1);
	ms_conn_set_proto(conn, "pop3");
	return c;
}

void pop3_client_free(Pop3Client *c)
{
	if (!c)
		return;
	g_clear_pointer(&c->conn, ms_conn_unref);
	g_ptr_array_unref(c->caps);
	g_free(c->line);
	g_free(c);
}

Pop3ClientState pop3_client_state(const Pop3Client *c) { return c->state; }

void pop3_entry_free(Pop3Entry *e)
{
	if (!e)
		return;
	g_free(e->uid);
	g_free(e);
}

static void enter_state(Pop3Client *c, Pop3ClientState state)
{
	if (c->state == state)
		return;
	g_debug("pop3 client, connection %" G_GUINT64_FORMAT ": %s -> %s", ms_conn_id(c->conn),
	        pop3_client_state_to_string(c->state), pop3_client_state_to_string(state));
	c->state = state;
}

static gboolean fail_protocol(Pop3Client *c, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean fail_protocol(Pop3Client *c, GError **error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_PROTOCOL, msg);
	enter_state(c, POP3_CLIENT_STATE_FAILED);
	return FALSE;
}

/* One line into c->line (max bytes), CRLF or LF ended.  -1 with the
 * session FAILED on any trouble. */
static gssize read_line(Pop3Client *c, gsize max, const char *what, GError **error)
{
	MsEol eol;
	GError *local = NULL;
	ms_conn_set_timeout(c->conn, POP3_CLIENT_TIMEOUT);
	gssize n = ms_conn_read_line(c->conn, c->line, max, &eol, &local);
	if (n < 0) {
		g_propagate_prefixed_error(error, local, "waiting for the reply to %s: ", what);
		enter_state(c, POP3_CLIENT_STATE_FAILED);
		return -1;
	}
	if (eol == MS_EOL_EOF) {
		fail_protocol(c, error, "%s closed the connection instead of answering %s",
		              ms_conn_peer_name(c->conn), what);
		return -1;
	}
	if (eol == MS_EOL_TOO_LONG) {
		fail_protocol(c, error, "a line of the reply to %s is longer than %" G_GSIZE_FORMAT " bytes",
		              what, max);
		return -1;
	}
	if (eol == MS_EOL_CR) {
		fail_protocol(c, error, "a line of the reply to %s ends with a bare CR", what);
		return -1;
	}
	return n;
}

/* RFC 1939 3: a status line is "+OK" or "-ERR", then optionally a space
 * and text.  TRUE for +OK (*text_r, if given, gets the text); -ERR is
 * POP3_CLIENT_ERROR_ERR naming what. */
static gboolean read_status(Pop3Client *c, const char *what, char **text_r, GError **error)
{
	/* RFC 2449 4: the first line of a response is at most 512 octets. */
	gssize n = read_line(c, POP3_PROTO_MAX_RESPONSE_LINE - 2, what, error);
	if (n < 0)
		return FALSE;
	const char *line = c->line;
	gboolean ok;
	gsize skip;
	if (g_str_has_prefix(line, "+OK") && (n == 3 || line[3] == ' ')) {
		ok = TRUE;
		skip = 3;
	} else if (g_str_has_prefix(line, "-ERR") && (n == 4 || line[4] == ' ')) {
		ok = FALSE;
		skip = 4;
	} else {
		g_autofree char *shown = g_utf8_make_valid(line, n);
		return fail_protocol(c, error, "a reply to %s that is neither +OK nor -ERR: %s", what, shown);
	}
	const char *text = line + skip + ((gsize)n > skip ? 1 : 0);
	g_autofree char *clean = g_utf8_make_valid(text, -1);
	if (!ok) {
		g_set_error(error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_ERR, "%s: -ERR %s", what, clean);
		return FALSE;
	}
	if (text_r)
		*text_r = g_steal_pointer(&clean);
	return TRUE;
}

/* The lines of a multi-line response up to the "." line, each with its
 * stuffed dot removed (RFC 1939 3), into out as CRLF-ended lines.
 * max_lines bounds a listing; max_bytes the whole. */
static gboolean read_multiline(Pop3Client *c, const char *what, GString *out, GPtrArray *lines,
                               gsize max_bytes, GError **error)
{
	for (;;) {
		gssize n = read_line(c, POP3_CLIENT_MAX_LINE, what, error);
		if (n < 0)
			return FALSE;
		const char *line = c->line;
		if (n == 1 && line[0] == '.')
			return TRUE;
		if (n > 0 && line[0] == '.') {
			line++;
			n--;
		}
		if (out) {
			if (out->len + (gsize)n + 2 > max_bytes)
				return fail_protocol(c, error, "the reply to %s is larger than %" G_GSIZE_FORMAT " bytes",
				                     what, max_bytes);
			g_string_append_len(out, line, n);
			g_string_append(out, "\r\n");
		}
		if (lines) {
			if (lines->len >= POP3_CLIENT_MAX_LISTING)
				return fail_protocol(c, error, "the reply to %s has more than %d lines", what,
				                     POP3_CLIENT_MAX_LISTING);
			g_ptr_array_add(lines, g_strndup(line, n));
		}
	}
}

static gboolean usable(Pop3Client *c, GError **error)
{
	if (c->state == POP3_CLIENT_STATE_FAILED || c->state == POP3_CLIENT_STATE_UPDATE) {
		g_set_error(error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_PROTOCOL,
		            "the POP3 session with %s is over", ms_conn_peer_name(c->conn));
		return FALSE;
	}
	return TRUE;
}

/* Send "command" CRLF (display replaces it in events when not NULL). */
static gboolean send_command(Pop3Client *c, const char *command, const char *display, GError **error)
{
	if (!usable(c, error))
		return FALSE;
	g_autofree char *line = g_strconcat(command, "\r\n", NULL);
	GError *local = NULL;
	gboolean ok = ms_conn_write_masked(c->conn, line, strlen(line), display, &local);
	memset(line, 0, strlen(line));
	if (!ok) {
		g_propagate_prefixed_error(error, local, "sending %s: ", display ? display : command);
		enter_state(c, POP3_CLIENT_STATE_FAILED);
	}
	return ok;
}

static gboolean simple(Pop3Client *c, const char *command, char **text_r, GError **error)
{
	return send_command(c, command, NULL, error) && read_status(c, command, text_r, error);
}

/* ---- the dialogue ---------------------------------------------------------- */

gboolean pop3_client_greeting(Pop3Client *c, GError **error)
{
	g_return_val_if_fail(c->state == POP3_CLIENT_STATE_CONNECTED, FALSE);
	if (!read_status(c, "the greeting", NULL, error)) {
		enter_state(c, POP3_CLIENT_STATE_FAILED);
		return FALSE;
	}
	enter_state(c, POP3_CLIENT_STATE_AUTHORIZATION);
	return TRUE;
}

gboolean pop3_client_capa(Pop3Client *c, GError **error)
{
	GError *local = NULL;
	g_ptr_array_set_size(c->caps, 0);
	if (!simple(c, "CAPA", NULL, &local)) {
		/* RFC 2449 5: a server that predates CAPA answers -ERR: no capabilities */
		if (g_error_matches(local, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_ERR)) {
			g_error_free(local);
			return TRUE;
		}
		g_propagate_error(error, local);
		return FALSE;
	}
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	if (!read_multiline(c, "CAPA", NULL, lines, 0, error))
		return FALSE;
	for (guint i = 0; i < lines->len; i++) {
		const char *l = g_ptr_array_index(lines, i);
		g_ptr_array_add(c->caps, g_ascii_strup(l, (gssize)strcspn(l, " ")));
	}
	return TRUE;
}

gboolean pop3_client_has_capability(const Pop3Client *c, const char *name)
{
	for (guint i = 0; i < c->caps->len; i++)
		if (g_ascii_strcasecmp(g_ptr_array_index(c->caps, i), name) == 0)
			return TRUE;
	return FALSE;
}

gboolean pop3_client_stls(Pop3Client *c, GError **error)
{
	g_return_val_if_fail(c->state == POP3_CLIENT_STATE_AUTHORIZATION, FALSE);
	if (!simple(c, "STLS", NULL, error))
		return FALSE;
	GError *tls_error = NULL;
	if (!ms_conn_starttls(c->conn, NULL, &tls_error)) {
		g_propagate_prefixed_error(error, tls_error, "TLS with %s: ", ms_conn_peer_name(c->conn));
		enter_state(c, POP3_CLIENT_STATE_FAILED);
		return FALSE;
	}
	/* RFC 2595 4: the capabilities are asked again over TLS */
	g_ptr_array_set_size(c->caps, 0);
	return TRUE;
}

/* A user name or password goes on one command line: no CR, LF or NUL, and
 * RFC 2449 4's 255 octets. */
static gboolean fits_command(const char *s)
{
	return !strpbrk(s, "\r\n") && strlen(s) + 7 <= POP3_PROTO_MAX_LINE;
}

gboolean pop3_client_login(Pop3Client *c, const char *user, const char *password, GError **error)
{
	g_return_val_if_fail(user != NULL && password != NULL, FALSE);
	if (!fits_command(user) || !fits_command(password)) {
		g_set_error(error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_AUTH,
		            "the user name or password does not fit a POP3 command line");
		return FALSE;
	}
	g_autofree char *user_cmd = g_strconcat("USER ", user, NULL);
	GError *local = NULL;
	if (!simple(c, user_cmd, NULL, &local))
		goto refused;
	/* RFC 1939 7: PASS carries the password in clear; the transcript does not. */
	char *pass_cmd = g_strconcat("PASS ", password, NULL);
	gboolean sent = send_command(c, pass_cmd, "PASS " POP3_CLIENT_MASK, &local);
	memset(pass_cmd, 0, strlen(pass_cmd));
	g_free(pass_cmd);
	if (!sent || !read_status(c, "PASS", NULL, &local))
		goto refused;
	enter_state(c, POP3_CLIENT_STATE_TRANSACTION);
	return TRUE;
refused:
	if (local->domain == POP3_CLIENT_ERROR && local->code == POP3_CLIENT_ERROR_ERR)
		local->code = POP3_CLIENT_ERROR_AUTH;
	g_propagate_error(error, local);
	return FALSE;
}

/* "n m" of STAT and LIST: two decimal numbers (RFC 1939 5). */
static gboolean parse_two_numbers(const char *s, guint32 *a_r, guint64 *b_r)
{
	char *end;
	if (!g_ascii_isdigit(*s))
		return FALSE;
	guint64 a = g_ascii_strtoull(s, &end, 10);
	if (*end != ' ' || a > G_MAXUINT32 || !g_ascii_isdigit(end[1]))
		return FALSE;
	guint64 b = g_ascii_strtoull(end + 1, &end, 10);
	/* RFC 1939 5: anything after the numbers is for the future: ignore it */
	if (*end && *end != ' ')
		return FALSE;
	*a_r = (guint32)a;
	*b_r = b;
	return TRUE;
}

gboolean pop3_client_stat(Pop3Client *c, guint32 *count_r, guint64 *octets_r, GError **error)
{
	g_autofree char *text = NULL;
	if (!simple(c, "STAT", &text, error))
		return FALSE;
	guint32 count;
	guint64 octets;
	if (!parse_two_numbers(text, &count, &octets))
		return fail_protocol(c, error, "a STAT reply without two numbers: %s", text);
	if (count_r)
		*count_r = count;
	if (octets_r)
		*octets_r = octets;
	return TRUE;
}

static GPtrArray *listing(Pop3Client *c, const char *command, gboolean uidl, GError **error)
{
	if (!simple(c, command, NULL, error))
		return NULL;
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	if (!read_multiline(c, command, NULL, lines, 0, error))
		return NULL;
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)pop3_entry_free);
	for (guint i = 0; i < lines->len; i++) {
		const char *l = g_ptr_array_index(lines, i);
		Pop3Entry *e = g_new0(Pop3Entry, 1);
		gboolean ok;
		if (uidl) {
			/* RFC 1939 7: "msg SP unique-id" */
			char *end;
			guint64 msg = g_ascii_isdigit(*l) ? g_ascii_strtoull(l, &end, 10) : 0;
			ok = msg > 0 && msg <= G_MAXUINT32 && *end == ' ';
			if (ok) {
				const char *uid = end + 1;
				gsize n = strlen(uid);
				ok = n > 0 && n <= POP3_CLIENT_MAX_UID;
				for (gsize j = 0; ok && j < n; j++)
					ok = uid[j] >= 0x21 && uid[j] <= 0x7e;
				e->msg = (guint32)msg;
				e->uid = ok ? g_strdup(uid) : NULL;
			}
		} else {
			ok = parse_two_numbers(l, &e->msg, &e->size) && e->msg > 0;
		}
		if (!ok) {
			pop3_entry_free(e);
			g_ptr_array_unref(out);
			g_autofree char *shown = g_utf8_make_valid(l, -1);
			fail_protocol(c, error, "a %s line that does not parse: %s", command, shown);
			return NULL;
		}
		g_ptr_array_add(out, e);
	}
	return out;
}

GPtrArray *pop3_client_list(Pop3Client *c, GError **error)
{
	return listing(c, "LIST", FALSE, error);
}

GPtrArray *pop3_client_uidl(Pop3Client *c, GError **error)
{
	return listing(c, "UIDL", TRUE, error);
}

GBytes *pop3_client_retr(Pop3Client *c, guint32 msg, GError **error)
{
	g_autofree char *command = g_strdup_printf("RETR %u", msg);
	if (!simple(c, command, NULL, error))
		return NULL;
	GString *out = g_string_new(NULL);
	if (!read_multiline(c, command, out, NULL, POP3_CLIENT_MAX_MESSAGE, error)) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free_to_bytes(out);
}

gboolean pop3_client_dele(Pop3Client *c, guint32 msg, GError **error)
{
	g_autofree char *command = g_strdup_printf("DELE %u", msg);
	return simple(c, command, NULL, error);
}

gboolean pop3_client_quit(Pop3Client *c, GError **error)
{
	gboolean ok = TRUE;
	if (c->state == POP3_CLIENT_STATE_AUTHORIZATION || c->state == POP3_CLIENT_STATE_TRANSACTION)
		ok = simple(c, "QUIT", NULL, error);
	if (c->state != POP3_CLIENT_STATE_FAILED)
		enter_state(c, POP3_CLIENT_STATE_UPDATE);
	ms_conn_close(c->conn);
	return ok;
}
