/* agents/mta/smtp_server.c - one SMTP session, server side (RFC 5321).
 *
 * A state (greeted, ready, in a transaction) and a table of commands, each
 * with the states it is allowed in and its handler.  Replies are collected
 * and sent when the client has nothing more in flight, so a pipelined burst
 * (RFC 2920 3.1) is answered with one segment.  Every peer mistake is a
 * reply and a visible event; only a bug aborts.
 */
#include "agents/mta/smtp_server.h"
#include "agents/common/sasl.h"

#include <stdarg.h>
#include <string.h>

typedef enum { ST_GREETED, ST_READY, ST_MAIL, ST_RCPT, ST_QUIT } State;

struct SmtpSession {
	MsConn                 *conn;
	const SmtpServerConfig *cfg;
	const SmtpServerHooks  *hooks;
	gpointer                ud;
	State                   state;
	guint                   errors;
	gboolean                esmtp;
	char                   *helo;
	char                   *auth_user;
	SmtpPath               *sender;
	GPtrArray              *rcpts;      /* SmtpPath* */
	GString                *out;        /* replies not yet sent */
	char                   *out_step;   /* the course step they belong to */
	gboolean                corked;     /* replies of earlier steps held in the connection */
	gpointer                data;
	GDestroyNotify          data_destroy;
};

static const char *const stage_names[SMTP_STAGE_COUNT] = {
	"connect", "hello", "auth", "mail", "rcpt", "data", "accept", "quit",
};

const char *smtp_stage_to_string(SmtpStage stage)
{
	return (guint)stage < SMTP_STAGE_COUNT ? stage_names[stage] : "?";
}

void smtp_verdict_set(SmtpVerdict *v, guint code, const char *enhanced, const char *step,
                      const char *fmt, ...)
{
	va_list ap;
	v->code = code;
	v->enhanced = enhanced;
	v->step = step;
	va_start(ap, fmt);
	g_vsnprintf(v->text, sizeof v->text, fmt, ap);
	va_end(ap);
}

static gboolean flush(SmtpSession *s);
static gboolean write_out(SmtpSession *s);

/* ---- accessors --------------------------------------------------------- */

MsConn *smtp_session_conn(SmtpSession *s) { return s->conn; }
const char *smtp_session_client_address(SmtpSession *s) { return ms_conn_peer_address(s->conn); }
const char *smtp_session_helo(SmtpSession *s) { return s->helo; }
const char *smtp_session_auth_user(SmtpSession *s) { return s->auth_user; }
const SmtpPath *smtp_session_sender(SmtpSession *s) { return s->sender; }
GPtrArray *smtp_session_recipients(SmtpSession *s) { return s->rcpts; }
gboolean smtp_session_esmtp(SmtpSession *s) { return s->esmtp; }
gboolean smtp_session_tls(SmtpSession *s) { return ms_conn_is_tls(s->conn); }
gpointer smtp_session_get_data(SmtpSession *s) { return s->data; }

void smtp_session_set_data(SmtpSession *s, gpointer data, GDestroyNotify destroy)
{
	if (s->data && s->data_destroy)
		s->data_destroy(s->data);
	s->data = data;
	s->data_destroy = destroy;
}

/* ---- replies ----------------------------------------------------------- */

static void stage(SmtpSession *s, SmtpStage st)
{
	ms_conn_set_step(s->conn, s->cfg->steps[st]);
}

static void reply(SmtpSession *s, guint code, const char *enhanced, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void reply(SmtpSession *s, guint code, const char *enhanced, const char *fmt, ...)
{
	/* Replies wait to go out together (RFC 2920), but not across a change
	 * of course step: each reply is shown under the step that made it. */
	g_autofree char *step = g_strdup(ms_conn_step(s->conn));
	if (s->out->len && g_strcmp0(step, s->out_step) != 0) {
		/* written now, under its own step, but sent with the rest of
		 * the group: one send for a pipelined burst's replies */
		if (!s->corked) {
			ms_conn_cork(s->conn);
			s->corked = TRUE;
		}
		write_out(s);
	}
	if (!s->out->len) {
		g_free(s->out_step);
		s->out_step = g_strdup(step);
	}
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_autofree char *line = smtp_proto_format_reply(code, enhanced, "%s", text);
	g_string_append(s->out, line);
}

/* Write the replies gathered, under their step (held if corked). */
static gboolean write_out(SmtpSession *s)
{
	if (s->out->len == 0)
		return TRUE;
	if (g_strcmp0(ms_conn_step(s->conn), s->out_step) != 0) {
		g_autofree char *now = g_strdup(ms_conn_step(s->conn));
		ms_conn_set_step(s->conn, s->out_step);
		gboolean ok = ms_conn_write(s->conn, s->out->str, s->out->len, NULL);
		g_string_truncate(s->out, 0);
		ms_conn_set_step(s->conn, now);
		return ok;
	}
	gboolean ok = ms_conn_write(s->conn, s->out->str, s->out->len, NULL);
	g_string_truncate(s->out, 0);
	return ok;
}

/* Send every reply not yet sent: before the session waits for anyone. */
static gboolean flush(SmtpSession *s)
{
	gboolean ok = write_out(s);
	if (s->corked) {
		s->corked = FALSE;
		ok = ms_conn_uncork(s->conn, NULL) && ok;
	}
	return ok;
}

gboolean smtp_session_flush(SmtpSession *s)
{
	return flush(s);
}

static void reply_verdict(SmtpSession *s, const SmtpVerdict *v)
{
	if (v->step)
		ms_conn_set_step(s->conn, v->step);
	reply(s, v->code, v->enhanced, "%s", v->text);
}

/* A peer's mistake.  FALSE when there were too many: the session ends
 * (RFC 5321 4.5.3.1.x leaves the number to us; Postfix hangs up too). */
static gboolean peer_error(SmtpSession *s)
{
	if (++s->errors < s->cfg->limits.errors)
		return TRUE;
	reply(s, 421, "4.7.0", "%s Error: too many errors", s->cfg->hostname);
	s->state = ST_QUIT;
	return FALSE;
}

static void reset_transaction(SmtpSession *s)
{
	g_clear_pointer(&s->sender, smtp_proto_path_free);
	g_ptr_array_set_size(s->rcpts, 0);
	if (s->state == ST_MAIL || s->state == ST_RCPT)
		s->state = ST_READY;
}

/* Read a line with the session's limit; FALSE when the client is gone. */
static gboolean read_line(SmtpSession *s, char *buf, gsize max, gssize *n_r, MsEol *eol_r)
{
	/* replies wait while the client has more in flight; asking costs a
	 * system call, so only when there is a reply to send */
	if (s->out->len && ms_conn_pending(s->conn) == 0 && !flush(s))
		return FALSE;
	g_autoptr(GError) err = NULL;
	gssize n = ms_conn_read_line(s->conn, buf, max, eol_r, &err);
	if (n < 0) {
		if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
			reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->cfg->hostname);
			flush(s);
		}
		return FALSE;
	}
	if (n == 0 && *eol_r == MS_EOL_EOF)
		return FALSE;
	*n_r = n;
	return TRUE;
}

static SmtpEol eol_for_smtp(MsEol eol)
{
	switch (eol) {
	case MS_EOL_CRLF: return SMTP_EOL_CRLF;
	case MS_EOL_LF: return SMTP_EOL_LF;
	case MS_EOL_CR: return SMTP_EOL_CR;
	case MS_EOL_EOF: return SMTP_EOL_EOF;
	case MS_EOL_TOO_LONG: return SMTP_EOL_TOO_LONG;
	}
	return SMTP_EOL_EOF;
}

/* ---- commands ---------------------------------------------------------- */

static void cmd_hello(SmtpSession *s, const SmtpCommand *cmd)
{
	stage(s, SMTP_STAGE_HELLO);
	reset_transaction(s);
	g_free(s->helo);
	s->helo = g_strdup(cmd->arg);
	s->state = ST_READY;
	if (cmd->verb == SMTP_VERB_HELO) {
		g_assert(!s->cfg->lmtp);
		s->esmtp = FALSE;
		reply(s, 250, NULL, "%s", s->cfg->hostname);
		return;
	}
	/* RFC 5321 4.1.1.1: the first line greets, the rest are extensions */
	s->esmtp = TRUE;
	GString *lines = g_string_new(s->cfg->hostname);
	g_string_append(lines, "\nPIPELINING");
	g_string_append_printf(lines, "\nSIZE %" G_GSIZE_FORMAT, s->cfg->limits.message_size);
	gboolean tls = ms_conn_is_tls(s->conn);
	if (s->cfg->tls_cert && !tls)
		g_string_append(lines, "\nSTARTTLS");
	/* RFC 4954 4 and smtpd_tls_auth_only: no passwords in the clear */
	if (s->cfg->offer_auth && !s->auth_user && (tls || !s->cfg->auth_needs_tls))
		g_string_append(lines, "\nAUTH PLAIN LOGIN");
	g_string_append(lines, "\nENHANCEDSTATUSCODES\n8BITMIME");
	reply(s, 250, NULL, "%s", lines->str);
	g_string_free(lines, TRUE);
}

/* Read one SASL response line; NULL when cancelled or the peer left. */
static char *auth_read(SmtpSession *s, const char *challenge)
{
	reply(s, 334, NULL, "%s", challenge);
	char line[SMTP_PROTO_MAX_COMMAND_LINE + 1];
	gssize n;
	MsEol eol;
	if (!read_line(s, line, s->cfg->limits.command_line, &n, &eol))
		return NULL;
	if (sasl_is_cancel(line, (gsize)n)) {
		reply(s, 501, "5.0.0", "Authentication cancelled");
		return NULL;
	}
	return g_strndup(line, (gsize)n);
}

static void cmd_auth(SmtpSession *s, const SmtpCommand *cmd)
{
	stage(s, SMTP_STAGE_AUTH);
	if (!s->cfg->offer_auth) {
		reply(s, 502, "5.5.1", "Error: authentication not enabled");
		peer_error(s);
		return;
	}
	if (s->cfg->auth_needs_tls && !ms_conn_is_tls(s->conn)) {
		reply(s, 538, "5.7.11", "Encryption required for requested authentication mechanism");
		peer_error(s);
		return;
	}
	if (s->auth_user) {   /* RFC 4954 4: once per session */
		reply(s, 503, "5.5.1", "Error: already authenticated");
		peer_error(s);
		return;
	}
	g_autofree char *user = NULL, *password = NULL;
	g_autoptr(GError) err = NULL;
	if (g_ascii_strcasecmp(cmd->arg, "PLAIN") == 0) {
		g_autofree char *resp = cmd->initial_response ? g_strdup(cmd->initial_response) : auth_read(s, "");
		if (!resp)
			return;
		g_autoptr(SaslCredentials) cr = sasl_plain_decode(resp, strlen(resp), &err);
		if (cr) {
			user = g_strdup(cr->authcid);
			password = g_strdup(cr->passwd);
		}
	} else if (g_ascii_strcasecmp(cmd->arg, "LOGIN") == 0) {
		g_autofree char *u64 = cmd->initial_response ? g_strdup(cmd->initial_response)
		                                            : auth_read(s, SASL_LOGIN_PROMPT_USERNAME);
		if (!u64)
			return;
		user = sasl_login_decode(u64, strlen(u64), &err);
		if (user) {
			g_autofree char *p64 = auth_read(s, SASL_LOGIN_PROMPT_PASSWORD);
			if (!p64)
				return;
			password = sasl_login_decode(p64, strlen(p64), &err);
		}
	} else {
		reply(s, 504, "5.5.4", "Error: unsupported authentication mechanism");
		peer_error(s);
		return;
	}
	if (!user || !password) {
		reply(s, 501, "5.5.2", "Error: malformed authentication response: %s",
		      err ? err->message : "empty");
		peer_error(s);
		return;
	}
	stage(s, SMTP_STAGE_AUTH);
	flush(s);   /* the check goes over the network: show the replies so far first */
	if (s->hooks->auth && s->hooks->auth(s->ud, s, user, password)) {
		s->auth_user = g_steal_pointer(&user);
		stage(s, SMTP_STAGE_AUTH);
		reply(s, 235, "2.7.0", "Authentication successful");
	} else {
		stage(s, SMTP_STAGE_AUTH);
		reply(s, 535, "5.7.8", "Error: authentication failed");
		peer_error(s);
	}
}

static void cmd_mail(SmtpSession *s, const SmtpCommand *cmd)
{
	stage(s, SMTP_STAGE_MAIL);
	if (cmd->has_size && cmd->size > s->cfg->limits.message_size) {
		/* RFC 1870 6.1: refuse at MAIL when the declared size is too big */
		reply(s, 552, "5.3.4", "Message size exceeds fixed limit");
		return;
	}
	SmtpVerdict v = { 250, "2.1.0", "Ok", NULL };
	if (s->hooks->mail && !s->hooks->mail(s->ud, s, cmd, &v)) {
		reply_verdict(s, &v);
		peer_error(s);
		return;
	}
	s->sender = smtp_proto_path_copy(cmd->path);
	s->state = ST_MAIL;
	reply_verdict(s, &v);
}

static void cmd_rcpt(SmtpSession *s, const SmtpCommand *cmd)
{
	stage(s, SMTP_STAGE_RCPT);
	if (s->rcpts->len >= s->cfg->limits.recipients) {
		reply(s, 452, "4.5.3", "Error: too many recipients");   /* RFC 5321 4.5.3.1.10 */
		return;
	}
	SmtpVerdict v = { 250, "2.1.5", "Ok", NULL };
	if (s->hooks->rcpt && !s->hooks->rcpt(s->ud, s, cmd, &v)) {
		reply_verdict(s, &v);
		if (v.code >= 500)
			peer_error(s);
		return;
	}
	g_ptr_array_add(s->rcpts, smtp_proto_path_copy(cmd->path));
	s->state = ST_RCPT;
	stage(s, SMTP_STAGE_RCPT);
	reply_verdict(s, &v);
}

static void cmd_data(SmtpSession *s, const SmtpCommand *cmd)
{
	stage(s, SMTP_STAGE_DATA);
	reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	g_autoptr(SmtpDataReader) rd = smtp_proto_data_reader_new(&s->cfg->limits);
	/* Read well past the 1000-octet limit and let the DATA reader judge the
	 * length: a line the connection had to cut has no known ending. */
	gsize max = MAX(s->cfg->limits.text_line, SMTP_SERVER_DATA_READ_MAX);
	char *line = g_malloc(max + 1);
	SmtpDataStatus st = SMTP_DATA_CONTINUE;
	/* RFC 5321 4.5.3.2.6: 10 minutes, unless the agent set its own time-out
	 * (Postfix's smtpd_timeout covers DATA too) */
	ms_conn_set_timeout(s->conn, s->cfg->idle_timeout ? s->cfg->idle_timeout : SMTP_SERVER_DATA_TIMEOUT);
	while (st == SMTP_DATA_CONTINUE) {
		gssize n = 0;
		MsEol eol = MS_EOL_EOF;
		if (!read_line(s, line, max, &n, &eol)) {
			st = SMTP_DATA_CLOSED;
			break;
		}
		st = smtp_proto_data_reader_feed(rd, line, (gsize)n, eol_for_smtp(eol));
	}
	g_free(line);
	ms_conn_set_timeout(s->conn, s->cfg->idle_timeout ? s->cfg->idle_timeout : SMTP_SERVER_IDLE_TIMEOUT);
	if (st == SMTP_DATA_CLOSED) {
		s->state = ST_QUIT;   /* nothing acknowledged, nothing kept */
		return;
	}
	stage(s, SMTP_STAGE_ACCEPT);
	SmtpDataOutcome outcome = smtp_proto_data_reader_outcome(rd);
	if (outcome != SMTP_DATA_OUTCOME_OK) {
		guint code;
		const char *enhanced, *text;
		smtp_proto_data_outcome_reply(outcome, &code, &enhanced, &text);
		ms_conn_emit(s->conn, MS_EV_REFUSE, "message refused: %s", smtp_proto_data_outcome_to_string(outcome));
		reply(s, code, enhanced, "%s", text);
		reset_transaction(s);
		peer_error(s);
		return;
	}
	g_autoptr(GString) body = smtp_proto_data_reader_steal_body(rd);
	if (s->cfg->lmtp) {
		/* RFC 2033 4.2: one reply for each recipient that RCPT accepted */
		guint n = s->rcpts->len;
		SmtpVerdict *v = g_new0(SmtpVerdict, n);
		for (guint i = 0; i < n; i++)
			smtp_verdict_set(&v[i], 250, "2.0.0", NULL, "<%s> Ok",
			                 ((SmtpPath *)g_ptr_array_index(s->rcpts, i))->address);
		if (s->hooks->data_lmtp)
			s->hooks->data_lmtp(s->ud, s, body, v);
		for (guint i = 0; i < n; i++)
			reply_verdict(s, &v[i]);
		g_free(v);
	} else {
		SmtpVerdict v = { 250, "2.0.0", "Ok", NULL };
		if (s->hooks->data)
			s->hooks->data(s->ud, s, body, &v);
		reply_verdict(s, &v);
	}
	reset_transaction(s);
}

static void cmd_rset(SmtpSession *s, const SmtpCommand *cmd)
{
	reset_transaction(s);
	reply(s, 250, "2.0.0", "Ok");
}

static void cmd_noop(SmtpSession *s, const SmtpCommand *cmd)
{
	reply(s, 250, "2.0.0", "Ok");
}

static void cmd_vrfy(SmtpSession *s, const SmtpCommand *cmd)
{
	/* RFC 5321 3.5.3: 252 when we will not say whether a user exists */
	reply(s, 252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(SmtpSession *s, const SmtpCommand *cmd)
{
	reply(s, 502, "5.5.1", "Error: command not implemented");
}

static void cmd_help(SmtpSession *s, const SmtpCommand *cmd)
{
	reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP%s",
	      s->cfg->offer_auth ? " AUTH" : "");
}

static void cmd_quit(SmtpSession *s, const SmtpCommand *cmd)
{
	stage(s, SMTP_STAGE_QUIT);
	reply(s, 221, "2.0.0", "Bye");
	s->state = ST_QUIT;
}

static void cmd_starttls(SmtpSession *s, const SmtpCommand *cmd)
{
	if (!s->cfg->tls_cert) {
		reply(s, 502, "5.5.1", "Error: STARTTLS is not offered here");
		return;
	}
	if (ms_conn_is_tls(s->conn)) {
		reply(s, 554, "5.5.1", "Error: TLS already active");
		return;
	}
	reply(s, 220, "2.0.0", "Ready to start TLS");
	flush(s);
	g_autoptr(GError) err = NULL;
	if (!ms_conn_starttls(s->conn, s->cfg->tls_cert, &err)) {
		s->state = ST_QUIT;   /* the stream is unusable now */
		return;
	}
	/* RFC 3207 4.2: forget everything learnt before; the client starts over */
	reset_transaction(s);
	g_clear_pointer(&s->helo, g_free);
	g_clear_pointer(&s->auth_user, g_free);
	s->esmtp = FALSE;
	s->state = ST_GREETED;
}

/* Which states a command may come in, and what it does. */
#define IN(st) (1u << (st))
#define ANY (IN(ST_GREETED) | IN(ST_READY) | IN(ST_MAIL) | IN(ST_RCPT))

static const struct {
	SmtpVerb    verb;
	guint       states;
	const char *wrong_state;   /* the 503 text */
	void (*run)(SmtpSession *s, const SmtpCommand *cmd);
} commands[] = {
	{ SMTP_VERB_EHLO, ANY, NULL, cmd_hello },
	{ SMTP_VERB_HELO, ANY, NULL, cmd_hello },
	{ SMTP_VERB_AUTH, IN(ST_READY), "send EHLO first, and not during a mail transaction", cmd_auth },
	{ SMTP_VERB_MAIL, IN(ST_READY), "send HELO/EHLO first, or finish the current transaction", cmd_mail },
	{ SMTP_VERB_RCPT, IN(ST_MAIL) | IN(ST_RCPT), "need MAIL command", cmd_rcpt },
	{ SMTP_VERB_DATA, IN(ST_RCPT), "need RCPT command", cmd_data },
	{ SMTP_VERB_RSET, ANY, NULL, cmd_rset },
	{ SMTP_VERB_NOOP, ANY, NULL, cmd_noop },
	{ SMTP_VERB_VRFY, ANY, NULL, cmd_vrfy },
	{ SMTP_VERB_EXPN, ANY, NULL, cmd_expn },
	{ SMTP_VERB_HELP, ANY, NULL, cmd_help },
	{ SMTP_VERB_QUIT, ANY, NULL, cmd_quit },
	{ SMTP_VERB_STARTTLS, ANY, NULL, cmd_starttls },
};

static void dispatch(SmtpSession *s, const SmtpCommand *cmd)
{
	/* RFC 2033 4.1: LMTP greets with LHLO only; SMTP never with LHLO */
	gboolean lhlo = cmd->verb == SMTP_VERB_LHLO;
	gboolean hello = cmd->verb == SMTP_VERB_EHLO || cmd->verb == SMTP_VERB_HELO;
	if ((s->cfg->lmtp && hello) || (!s->cfg->lmtp && lhlo)) {
		reply(s, 500, "5.5.1", "Error: %s is not spoken here", smtp_proto_verb_to_string(cmd->verb));
		peer_error(s);
		return;
	}
	if (lhlo) {
		cmd_hello(s, cmd);
		return;
	}
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (commands[i].verb != cmd->verb)
			continue;
		if (!(commands[i].states & IN(s->state))) {
			reply(s, 503, "5.5.1", "Error: %s", commands[i].wrong_state);
			peer_error(s);
			return;
		}
		commands[i].run(s, cmd);
		return;
	}
	/* LHLO and anything the parser knows but SMTP does not serve */
	reply(s, 502, "5.5.1", "Error: command not implemented");
	peer_error(s);
}

/* ---- the session ------------------------------------------------------- */

void smtp_server_run(MsConn *conn, const SmtpServerConfig *cfg,
                     const SmtpServerHooks *hooks, gpointer ud)
{
	SmtpSession s = {
		.conn = conn, .cfg = cfg, .hooks = hooks, .ud = ud, .state = ST_GREETED,
		.rcpts = g_ptr_array_new_with_free_func((GDestroyNotify)smtp_proto_path_free),
		.out = g_string_new(NULL),
	};
	ms_conn_set_proto(conn, cfg->lmtp ? "lmtp" : "smtp");
	ms_conn_set_timeout(conn, cfg->idle_timeout ? cfg->idle_timeout : SMTP_SERVER_IDLE_TIMEOUT);
	stage(&s, SMTP_STAGE_CONNECT);

	SmtpVerdict v = { 220, NULL, "", NULL };
	g_snprintf(v.text, sizeof v.text, "%s %s mailsim", cfg->hostname, cfg->lmtp ? "LMTP" : "ESMTP");
	if (hooks->connect && !hooks->connect(ud, &s, &v)) {
		reply_verdict(&s, &v);   /* RFC 5321 3.1: 554 instead of 220 */
		s.state = ST_QUIT;
	} else {
		reply_verdict(&s, &v);
	}

	char line[SMTP_PROTO_MAX_COMMAND_LINE + 1];
	while (s.state != ST_QUIT) {
		gssize n;
		MsEol eol;
		if (!read_line(&s, line, MIN(cfg->limits.command_line, sizeof line - 1), &n, &eol))
			break;
		if (eol == MS_EOL_TOO_LONG) {
			reply(&s, 500, "5.5.2", "Error: line too long");   /* RFC 5321 4.5.3.1.4 */
			peer_error(&s);
			continue;
		}
		g_autoptr(GError) err = NULL;
		g_autoptr(SmtpCommand) cmd = smtp_proto_parse_command(line, (gsize)n, &cfg->limits, &err);
		if (!cmd) {
			guint code;
			const char *enhanced;
			smtp_proto_error_reply(err, &code, &enhanced);
			reply(&s, code, enhanced, "Error: %s", err->message);
			peer_error(&s);
			continue;
		}
		dispatch(&s, cmd);
	}
	flush(&s);
	ms_conn_close(conn);
	smtp_session_set_data(&s, NULL, NULL);
	g_free(s.helo);
	g_free(s.auth_user);
	g_clear_pointer(&s.sender, smtp_proto_path_free);
	g_ptr_array_free(s.rcpts, TRUE);
	g_string_free(s.out, TRUE);
	g_free(s.out_step);
}
