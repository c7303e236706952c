/* agents/mra/pop3_server.c - one POP3 session, server side (RFC 1939).
 *
 * A state (AUTHORIZATION, TRANSACTION, UPDATE) and a table of commands.
 * At login the maildrop is locked and listed once: message numbers keep
 * their meaning for the whole session.  DELE only marks; QUIT enters the
 * UPDATE state, where marked messages are removed (RFC 1939 6).  Replies
 * are gathered and sent when the client has nothing more in flight.
 */
#include "agents/mra/pop3_server.h"
#include "agents/mra/pop3_proto.h"
#include "agents/common/sasl.h"

#include <stdarg.h>
#include <string.h>

static const char *const state_names[] = { "AUTHORIZATION", "TRANSACTION", "UPDATE", "closed" };

const char *pop3_server_state_to_string(Pop3ServerState state)
{
	return (guint)state < G_N_ELEMENTS(state_names) ? state_names[state] : "?";
}

/* A stretch of the reply buffer holding message data, shown in events as
 * a summary. */
typedef struct {
	gsize start, len;
	char *display;
} Masked;

typedef struct {
	MsConn         *conn;
	Mra            *mra;
	Pop3ServerState state;
	GString        *out;
	GArray         *masked;       /* Masked, ascending */
	char            line[POP3_PROTO_MAX_SASL_LINE + 1];
	guint           bad_in_a_row;
	guint           auth_failures;
	char           *pending_user; /* after USER, before PASS */

	/* TRANSACTION */
	char           *user;
	Maildir        *md;
	MraMailbox     *mb;
	MaildirLock    *lock;
	gint64          lock_time;
	GPtrArray      *msgs;         /* MaildirMessage*: message n is msgs[n - 1] */
	MraReader      *reader;       /* their files, read ahead when the disk is cold */
	gboolean       *deleted;      /* marked by DELE, by index */
} Pop3Session;

/* ---- replies ------------------------------------------------------------ */

static gboolean flush(Pop3Session *s)
{
	gboolean ok = TRUE;
	gsize pos = 0;
	ms_conn_cork(s->conn);   /* the pieces leave in one send */
	for (guint i = 0; i < s->masked->len; i++) {
		Masked *m = &g_array_index(s->masked, Masked, i);
		if (ok && m->start > pos)
			ok = ms_conn_write(s->conn, s->out->str + pos, m->start - pos, NULL);
		if (ok)
			ok = ms_conn_write_masked(s->conn, s->out->str + m->start, m->len, m->display, NULL);
		pos = m->start + m->len;
		g_free(m->display);
	}
	if (ok && s->out->len > pos)
		ok = ms_conn_write(s->conn, s->out->str + pos, s->out->len - pos, NULL);
	ok = ms_conn_uncork(s->conn, NULL) && ok;
	g_array_set_size(s->masked, 0);
	if (s->out->allocated_len > 2 * POP3_SERVER_FLUSH_AT) {
		g_string_free(s->out, TRUE);   /* after a large message, give the memory back */
		s->out = g_string_new(NULL);
	}
	g_string_truncate(s->out, 0);
	if (!ok)
		s->state = POP3_STATE_CLOSED;
	return ok;
}

static void set_step(Pop3Session *s, MraAction action)
{
	const char *step = mra_action_step(action);
	if (g_strcmp0(step, ms_conn_step(s->conn)) == 0)
		return;
	flush(s);
	ms_conn_set_step(s->conn, step);
}

static void ok(Pop3Session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void err(Pop3Session *s, Pop3RespCode code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void ok(Pop3Session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	pop3_proto_append_ok(s->out, POP3_CODE_NONE, text);
}

static void err(Pop3Session *s, Pop3RespCode code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	pop3_proto_append_err(s->out, code, text);
}

static void note(Pop3Session *s, MraAction action, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* A note tagged with action's step, whatever step the replies carry. */
static void note(Pop3Session *s, MraAction action, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	MsEvent ev = { .kind = MS_EV_NOTE, .from = ms_conn_local_name(s->conn), .to = ms_conn_peer_name(s->conn),
	               .proto = "pop3", .step = mra_action_step(action), .text = text,
	               .conn = ms_conn_id(s->conn) };
	ms_bus_emit(ms_sched_bus(ms_conn_sched(s->conn)), &ev);
}

static void enter_state(Pop3Session *s, Pop3ServerState state)
{
	if (state == s->state)
		return;
	ms_conn_emit(s->conn, MS_EV_NOTE, "POP3 state: %s -> %s", pop3_server_state_to_string(s->state),
	             pop3_server_state_to_string(state));
	s->state = state;
}

/* A multi-line body (already stuffed, RFC 1939 3), shown as a summary, and
 * its terminator as itself. */
static void append_body(Pop3Session *s, gsize start, const char *what)
{
	/* the ".\r\n" the stuffer wrote last stays visible */
	gsize len = s->out->len - start - 3;
	if (len == 0)
		return;
	guint64 lines = 0;
	for (const char *p = s->out->str + start, *end = p + len; (p = memchr(p, '\n', (gsize)(end - p))); p++)
		lines++;
	Masked m = { start, len, g_strdup_printf("(%s: %" G_GSIZE_FORMAT " bytes, %" G_GUINT64_FORMAT " lines)",
	                                          what, len, lines) };
	g_array_append_val(s->masked, m);
}

/* ---- reading ------------------------------------------------------------ */

/* One line of at most max octets into s->line; FALSE when the client is
 * gone. */
static gboolean read_line(Pop3Session *s, gsize max, gssize *n_r, MsEol *eol_r)
{
	if (ms_conn_pending(s->conn) == 0 && !flush(s))
		return FALSE;
	g_autoptr(GError) error = NULL;
	gssize n = ms_conn_read_line(s->conn, s->line, max, eol_r, &error);
	if (n < 0) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
			/* RFC 1939 3: autologout, without entering UPDATE */
			err(s, POP3_CODE_NONE, "Autologout; idle for too long");
			flush(s);
		}
		return FALSE;
	}
	if (*eol_r == MS_EOL_EOF)
		return FALSE;
	*n_r = n;
	return TRUE;
}

static gboolean bad_command(Pop3Session *s)
{
	if (++s->bad_in_a_row < POP3_SERVER_MAX_BAD)
		return TRUE;
	err(s, POP3_CODE_NONE, "Too many invalid commands");
	s->state = POP3_STATE_CLOSED;
	return FALSE;
}

/* ---- the maildrop ------------------------------------------------------- */

static guint64 message_size(const MaildirMessage *m)
{
	return m->size;   /* the shared state's size counts CRLF (mra.c) */
}

/* Message n if it exists and is not marked deleted; else the -ERR reply
 * is gathered and NULL returned. */
static MaildirMessage *message_arg(Pop3Session *s, guint32 n)
{
	if (n == 0 || n > s->msgs->len) {
		err(s, POP3_CODE_NONE, "No such message: the maildrop has %u", s->msgs->len);
		return NULL;
	}
	if (s->deleted[n - 1]) {
		err(s, POP3_CODE_NONE, "Message %u is deleted", n);   /* RFC 1939 5 */
		return NULL;
	}
	return s->msgs->pdata[n - 1];
}

static void totals(Pop3Session *s, guint *count_r, guint64 *size_r)
{
	*count_r = 0;
	*size_r = 0;
	for (guint i = 0; i < s->msgs->len; i++) {
		if (s->deleted[i])
			continue;
		(*count_r)++;
		*size_r += message_size(s->msgs->pdata[i]);
	}
}

/* RFC 1939 7: the unique-id: the Maildir base name (it never changes)
 * when it is made of the allowed characters, else UIDVALIDITY and UID. */
static char *uidl_of(Pop3Session *s, const MaildirMessage *m)
{
	gsize len = strlen(m->base);
	gboolean fits = len >= 1 && len <= POP3_SERVER_MAX_UIDL;
	for (gsize i = 0; fits && i < len; i++)
		fits = m->base[i] >= 0x21 && m->base[i] <= 0x7e;
	if (fits)
		return g_strdup(m->base);
	return g_strdup_printf("%08x%08x", mra_mailbox_uidvalidity(s->mb), m->uid);
}

static void close_maildrop(Pop3Session *s)
{
	g_clear_pointer(&s->reader, mra_reader_free);
	g_clear_pointer(&s->msgs, g_ptr_array_unref);
	g_clear_pointer(&s->deleted, g_free);
	g_clear_pointer(&s->mb, mra_mailbox_close);
	g_clear_pointer(&s->lock, maildir_lock_release);
	g_clear_pointer(&s->md, maildir_free);
}

/* Log in, lock the maildrop (RFC 1939 4) and list it. */
static void login(Pop3Session *s, const char *user, const char *password)
{
	if (mra_login_needs_tls(s->mra) && !ms_conn_is_tls(s->conn)) {
		err(s, POP3_CODE_AUTH, "Use STLS first: no passwords in the clear");
		return;
	}
	g_autoptr(GError) error = NULL;
	AuthsvcResult r = mra_authenticate(s->mra, user, password, &error);
	if (r == AUTHSVC_TEMPFAIL) {
		ms_conn_emit(s->conn, MS_EV_ERROR, "the account service could not be asked: %s",
		             error ? error->message : "no answer");
		err(s, POP3_CODE_SYS_TEMP, "The account service cannot be reached; try again later");
		return;
	}
	if (r == AUTHSVC_NO) {
		ms_conn_emit(s->conn, MS_EV_AUTH, "login refused for %s", user);
		err(s, POP3_CODE_AUTH, "Authentication failed");   /* RFC 3206 4 */
		if (++s->auth_failures >= POP3_SERVER_MAX_AUTH_FAILURES) {
			err(s, POP3_CODE_NONE, "Too many failed logins");
			s->state = POP3_STATE_CLOSED;
		}
		return;
	}
	s->md = mra_user_maildir(s->mra, user, FALSE, &error);
	if (!s->md) {
		err(s, POP3_CODE_SYS_PERM, "Your maildrop cannot be opened");
		return;
	}
	g_autofree char *owner = g_strdup_printf("pop3 %.40s:%u", ms_conn_peer_address(s->conn),
	                                         ms_conn_peer_port(s->conn));
	s->lock_time = mra_now_us(s->mra);
	if (!maildir_lock_acquire(s->md, owner, s->lock_time, POP3_SERVER_LOCK_STALE, &s->lock, &error)) {
		gboolean busy = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BUSY);
		ms_conn_emit(s->conn, MS_EV_REFUSE, "maildrop of %s not opened: %s", user, error->message);
		/* RFC 2449 8.1.2: [IN-USE] when another session holds the lock */
		err(s, busy ? POP3_CODE_IN_USE : POP3_CODE_SYS_TEMP, "%s",
		    busy ? "The maildrop is in use by another POP3 session" : "The maildrop cannot be locked");
		close_maildrop(s);
		return;
	}
	/* the listing holds for the whole session: read as it is now */
	s->mb = mra_mailbox_open(s->mra, s->md, MAILDIR_INBOX, TRUE, &error);
	if (!s->mb) {
		err(s, POP3_CODE_SYS_TEMP, "The maildrop cannot be read: %s", error->message);
		close_maildrop(s);
		return;
	}
	s->msgs = g_ptr_array_new_with_free_func((GDestroyNotify)maildir_message_free);
	g_autoptr(GArray) changed = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GArray) expunged = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GPtrArray) listed = g_ptr_array_new();
	guint64 version = 0;
	mra_mailbox_compare(s->mb, &version, TRUE, s->msgs, changed, expunged, listed);
	g_ptr_array_extend_and_steal(s->msgs, g_steal_pointer(&listed));
	s->deleted = g_new0(gboolean, s->msgs->len + 1);
	s->reader = mra_reader_new(s->md);
	s->user = g_ascii_strdown(user, -1);
	ms_conn_emit(s->conn, MS_EV_AUTH, "%s logged in", s->user);
	enter_state(s, POP3_STATE_TRANSACTION);
	guint count;
	guint64 size;
	totals(s, &count, &size);
	ok(s, "%s has %u message%s (%" G_GUINT64_FORMAT " octets)", s->user, count, count == 1 ? "" : "s", size);
}

/* ---- commands ----------------------------------------------------------- */

static void cmd_capa(Pop3Session *s, const Pop3Command *cmd)
{
	/* RFC 2449 5, RFC 2595 4: STLS before TLS; USER and SASL only when a
	 * password may be sent */
	ok(s, "Capability list follows");
	if (mra_tls_cert(s->mra) && !ms_conn_is_tls(s->conn))
		g_string_append(s->out, "STLS\r\n");
	if (!mra_login_needs_tls(s->mra) || ms_conn_is_tls(s->conn))
		g_string_append(s->out, "USER\r\nSASL PLAIN LOGIN\r\n");
	g_string_append(s->out, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	                        "PIPELINING\r\nEXPIRE NEVER\r\nIMPLEMENTATION mailsim\r\n.\r\n");
}

static void cmd_user(Pop3Session *s, const Pop3Command *cmd)
{
	g_free(s->pending_user);
	s->pending_user = g_strdup(cmd->arg);
	ok(s, "Send PASS");
}

static void cmd_pass(Pop3Session *s, const Pop3Command *cmd)
{
	if (!s->pending_user) {
		err(s, POP3_CODE_NONE, "Send USER first");
		bad_command(s);
		return;
	}
	g_autofree char *user = g_steal_pointer(&s->pending_user);
	login(s, user, cmd->arg);
}

static void cmd_apop(Pop3Session *s, const Pop3Command *cmd)
{
	/* RFC 1939 7: APOP needs the password in clear on the server; the
	 * account database keeps only hashes */
	err(s, POP3_CODE_NONE, "APOP is not supported here: use USER/PASS or AUTH");
}

/* One SASL response line (RFC 5034 4); NULL when cancelled or broken,
 * with the reply gathered. */
static char *sasl_read(Pop3Session *s, const char *challenge)
{
	g_string_append_printf(s->out, "+ %s\r\n", challenge);
	gssize n;
	MsEol eol;
	if (!read_line(s, POP3_PROTO_MAX_SASL_LINE, &n, &eol)) {
		s->state = POP3_STATE_CLOSED;
		return NULL;
	}
	if (eol != MS_EOL_CRLF && eol != MS_EOL_LF) {
		err(s, POP3_CODE_NONE, "Authentication line too long or broken");
		return NULL;
	}
	if (sasl_is_cancel(s->line, (gsize)n)) {
		err(s, POP3_CODE_NONE, "Authentication cancelled");
		return NULL;
	}
	return g_strndup(s->line, (gsize)n);
}

static void cmd_auth(Pop3Session *s, const Pop3Command *cmd)
{
	if (!cmd->arg) {
		/* the list of mechanisms, as RFC 1734 clients ask for it */
		ok(s, "Mechanisms follow");
		g_string_append(s->out, "PLAIN\r\nLOGIN\r\n.\r\n");
		return;
	}
	SaslMech mech;
	if (!sasl_mech_from_string(cmd->arg, &mech)) {
		err(s, POP3_CODE_NONE, "Unsupported authentication mechanism");
		return;
	}
	g_autofree char *user = NULL, *password = NULL;
	g_autoptr(GError) error = NULL;
	if (mech == SASL_MECH_PLAIN) {
		g_autofree char *resp = cmd->arg2 ? g_strdup(cmd->arg2) : sasl_read(s, "");
		if (!resp)
			return;
		g_autoptr(SaslCredentials) cr = sasl_plain_decode(resp, strlen(resp), &error);
		if (cr && cr->authzid[0] && strcmp(cr->authzid, cr->authcid) != 0) {
			err(s, POP3_CODE_AUTH, "Acting as another user is not allowed");
			return;
		}
		if (cr) {
			user = g_strdup(cr->authcid);
			password = g_strdup(cr->passwd);
		}
	} else {
		g_autofree char *u64 = cmd->arg2 ? g_strdup(cmd->arg2) : sasl_read(s, SASL_LOGIN_PROMPT_USERNAME);
		if (!u64)
			return;
		user = sasl_login_decode(u64, strlen(u64), &error);
		if (user) {
			g_autofree char *p64 = sasl_read(s, SASL_LOGIN_PROMPT_PASSWORD);
			if (!p64)
				return;
			password = sasl_login_decode(p64, strlen(p64), &error);
		}
	}
	if (!user || !password || !*user) {
		err(s, POP3_CODE_NONE, "Malformed authentication response: %s", error ? error->message : "empty");
		return;
	}
	login(s, user, password);
}

static void cmd_stls(Pop3Session *s, const Pop3Command *cmd)
{
	if (!mra_tls_cert(s->mra) || ms_conn_is_tls(s->conn)) {
		err(s, POP3_CODE_NONE, ms_conn_is_tls(s->conn) ? "TLS is already active" : "not available");
		return;
	}
	ok(s, "Begin TLS negotiation");
	flush(s);
	if (!ms_conn_starttls(s->conn, mra_tls_cert(s->mra), NULL))
		s->state = POP3_STATE_CLOSED;   /* the stream is unusable */
}

static void cmd_stat(Pop3Session *s, const Pop3Command *cmd)
{
	guint count;
	guint64 size;
	totals(s, &count, &size);
	ok(s, "%u %" G_GUINT64_FORMAT, count, size);   /* RFC 1939 5: exactly this */
}

static void cmd_list(Pop3Session *s, const Pop3Command *cmd)
{
	gboolean uidl = cmd->kind == POP3_CMD_UIDL;
	if (cmd->has_msg) {
		MaildirMessage *m = message_arg(s, cmd->msg);
		if (!m)
			return;
		if (uidl) {
			g_autofree char *id = uidl_of(s, m);
			ok(s, "%u %s", cmd->msg, id);
		} else {
			ok(s, "%u %" G_GUINT64_FORMAT, cmd->msg, message_size(m));
		}
		return;
	}
	guint count;
	guint64 size;
	totals(s, &count, &size);
	if (uidl)
		ok(s, "Unique-id listing follows");
	else
		ok(s, "%u messages (%" G_GUINT64_FORMAT " octets)", count, size);
	for (guint i = 0; i < s->msgs->len; i++) {
		if (s->deleted[i])
			continue;
		const MaildirMessage *m = s->msgs->pdata[i];
		if (uidl) {
			g_autofree char *id = uidl_of(s, m);
			g_string_append_printf(s->out, "%u %s\r\n", i + 1, id);
		} else {
			g_string_append_printf(s->out, "%u %" G_GUINT64_FORMAT "\r\n", i + 1, message_size(m));
		}
	}
	g_string_append(s->out, ".\r\n");
}

static void cmd_retr(Pop3Session *s, const Pop3Command *cmd)
{
	MaildirMessage *m = message_arg(s, cmd->msg);
	if (!m)
		return;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GError) error = NULL;
	if (!mra_reader_read(s->reader, s->msgs, cmd->msg - 1, &bytes, &error)) {
		err(s, POP3_CODE_NONE, "Message %u cannot be read: %s", cmd->msg, error->message);
		return;
	}
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);
	gboolean top = cmd->kind == POP3_CMD_TOP;
	if (top)
		ok(s, "Top of message %u follows", cmd->msg);
	else
		ok(s, "%" G_GUINT64_FORMAT " octets", message_size(m));
	gsize start = s->out->len;
	/* byte-stuffed, bare LF made CRLF (RFC 1939 3) */
	if (top)
		pop3_proto_append_top(s->out, data, len, cmd->lines);
	else
		pop3_proto_append_multiline(s->out, data, len);
	append_body(s, start, top ? "message top" : "message");
	if (!top)
		note(s, MRA_ACTION_FLAG, "message %u of %s downloaded: POP3 keeps no \\Seen flag, so every other "
		     "client still sees it unread", cmd->msg, s->user);
	if (s->out->len >= POP3_SERVER_FLUSH_AT)
		flush(s);
}

static void cmd_dele(Pop3Session *s, const Pop3Command *cmd)
{
	MaildirMessage *m = message_arg(s, cmd->msg);
	if (!m)
		return;
	set_step(s, MRA_ACTION_DELETE);
	s->deleted[cmd->msg - 1] = TRUE;
	note(s, MRA_ACTION_DELETE, "message %u of %s marked deleted: it leaves the server at QUIT", cmd->msg, s->user);
	ok(s, "Message %u deleted", cmd->msg);
}

static void cmd_rset(Pop3Session *s, const Pop3Command *cmd)
{
	memset(s->deleted, 0, (s->msgs->len + 1) * sizeof *s->deleted);   /* RFC 1939 5 */
	guint count;
	guint64 size;
	totals(s, &count, &size);
	ok(s, "Maildrop has %u messages (%" G_GUINT64_FORMAT " octets)", count, size);
}

static void cmd_noop(Pop3Session *s, const Pop3Command *cmd)
{
	ok(s, "Still here");
}

static void cmd_quit(Pop3Session *s, const Pop3Command *cmd)
{
	if (s->state != POP3_STATE_TRANSACTION) {
		ok(s, "Bye");
		s->state = POP3_STATE_CLOSED;
		return;
	}
	/* RFC 1939 6: only now are the marked messages removed */
	enter_state(s, POP3_STATE_UPDATE);
	g_autoptr(GArray) uids = g_array_new(FALSE, FALSE, sizeof(guint32));
	for (guint i = 0; i < s->msgs->len; i++)
		if (s->deleted[i])
			g_array_append_val(uids, ((MaildirMessage *)s->msgs->pdata[i])->uid);
	guint removed = 0;
	g_autoptr(GError) error = NULL;
	gboolean done = uids->len == 0 || mra_mailbox_expunge(s->mb, s->md, uids, &removed, &error);
	if (uids->len > 0) {
		set_step(s, MRA_ACTION_DELETE);
		note(s, MRA_ACTION_DELETE, "%u message(s) of %s removed from the server: the client has the only "
		     "copy now", removed, s->user);
	}
	if (done)
		ok(s, "Bye (%u message%s deleted)", uids->len, uids->len == 1 ? "" : "s");
	else
		err(s, POP3_CODE_SYS_TEMP, "Some deleted messages were not removed: %s", error->message);
	close_maildrop(s);
	s->state = POP3_STATE_CLOSED;
}

/* ---- the command table -------------------------------------------------- */

#define IN(st)  (1u << (st))
#define AUTHZ   IN(POP3_STATE_AUTHORIZATION)
#define TRANS   IN(POP3_STATE_TRANSACTION)

static const struct {
	Pop3CommandKind kind;
	guint           states;
	void (*run)(Pop3Session *s, const Pop3Command *cmd);
} commands[] = {
	{ POP3_CMD_CAPA, AUTHZ | TRANS, cmd_capa },
	{ POP3_CMD_USER, AUTHZ, cmd_user },
	{ POP3_CMD_PASS, AUTHZ, cmd_pass },
	{ POP3_CMD_APOP, AUTHZ, cmd_apop },
	{ POP3_CMD_AUTH, AUTHZ, cmd_auth },
	{ POP3_CMD_STLS, AUTHZ, cmd_stls },
	{ POP3_CMD_QUIT, AUTHZ | TRANS, cmd_quit },
	{ POP3_CMD_STAT, TRANS, cmd_stat },
	{ POP3_CMD_LIST, TRANS, cmd_list },
	{ POP3_CMD_UIDL, TRANS, cmd_list },
	{ POP3_CMD_RETR, TRANS, cmd_retr },
	{ POP3_CMD_TOP,  TRANS, cmd_retr },
	{ POP3_CMD_DELE, TRANS, cmd_dele },
	{ POP3_CMD_RSET, TRANS, cmd_rset },
	{ POP3_CMD_NOOP, TRANS, cmd_noop },
};

static void dispatch(Pop3Session *s, const Pop3Command *cmd)
{
	gsize row = 0;
	while (row < G_N_ELEMENTS(commands) && commands[row].kind != cmd->kind)
		row++;
	g_assert(row < G_N_ELEMENTS(commands));
	if (!(commands[row].states & IN(s->state))) {
		ms_conn_emit(s->conn, MS_EV_REFUSE, "%s refused in state %s", pop3_command_kind_to_string(cmd->kind),
		             pop3_server_state_to_string(s->state));
		err(s, POP3_CODE_NONE, "%s", s->state == POP3_STATE_AUTHORIZATION ? "Log in first (USER/PASS or AUTH)"
		                                                                   : "Already logged in");
		bad_command(s);
		return;
	}
	s->bad_in_a_row = 0;
	set_step(s, MRA_ACTION_RETRIEVE);
	if (s->state == POP3_STATE_TRANSACTION) {
		gint64 now = mra_now_us(s->mra);
		if (now - s->lock_time >= POP3_SERVER_LOCK_REFRESH && maildir_lock_refresh(s->lock, now, NULL))
			s->lock_time = now;
	}
	commands[row].run(s, cmd);
}

void pop3_server_run(MsConn *conn, Mra *mra)
{
	Pop3Session s = {
		.conn = conn, .mra = mra, .state = POP3_STATE_AUTHORIZATION,
		.out = g_string_new(NULL), .masked = g_array_new(FALSE, FALSE, sizeof(Masked)),
	};
	ms_conn_set_proto(conn, "pop3");
	ms_conn_set_step(conn, mra_action_step(MRA_ACTION_RETRIEVE));
	ms_conn_set_timeout(conn, POP3_SERVER_TIMEOUT);
	ok(&s, "%s mailsim POP3 ready", mra_hostname(mra));   /* RFC 1939 4: the greeting */

	while (s.state == POP3_STATE_AUTHORIZATION || s.state == POP3_STATE_TRANSACTION) {
		gssize n;
		MsEol eol;
		/* RFC 2449 4: a command line is at most 255 octets with its CRLF */
		if (!read_line(&s, POP3_PROTO_MAX_LINE - 2, &n, &eol))
			break;
		if (eol == MS_EOL_TOO_LONG) {
			err(&s, POP3_CODE_NONE, "Line too long: at most %d octets", POP3_PROTO_MAX_LINE);
			bad_command(&s);
			continue;
		}
		g_autoptr(GError) error = NULL;
		g_autoptr(Pop3Command) cmd = pop3_proto_parse_command(s.line, (gsize)n, &error);
		if (!cmd) {
			err(&s, POP3_CODE_NONE, "%s", error->message);
			bad_command(&s);
			continue;
		}
		dispatch(&s, cmd);
	}
	flush(&s);
	ms_conn_close(conn);
	/* a session that ended without QUIT deletes nothing (RFC 1939 6) */
	close_maildrop(&s);
	g_free(s.pending_user);
	g_free(s.user);
	g_string_free(s.out, TRUE);
	g_array_free(s.masked, TRUE);
}
