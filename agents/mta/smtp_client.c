/* agents/mta/smtp_client.c - the SMTP/LMTP client session, read top to bottom.
 *
 * RFC 5321 3.1-3.3 and 4.1.1 (the dialogue), 4.5.3.2 (time-outs); RFC 2920
 * (PIPELINING), RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
 * RFC 2033 (LMTP).  Every byte goes through the MsConn, every reply through
 * smtp_proto.c's parser; this file only decides what to say next.
 */
#include "agents/mta/smtp_client.h"
#include "agents/common/sasl.h"

#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK(smtp-client-error-quark, smtp_client_error)

/* What a transcript shows instead of a secret. */
#define SMTP_CLIENT_MASK "••••••"
/* The longest reply line read, its CRLF not counted (RFC 5321 4.5.3.1.5). */
#define SMTP_CLIENT_LINE_MAX (SMTP_PROTO_MAX_REPLY_LINE - 2)

struct SmtpClient {
	MsConn          *conn;
	SmtpClientMode   mode;
	char            *helo_name;
	SmtpClientState  state;
	SmtpReplyParser *parser;
	SmtpReply       *last_reply;
	SmtpExtensions  *extensions;     /* NULL before hello */
	gboolean         authenticated;
};

/* ---- names ---------------------------------------------------------------- */

static const char *const error_names[] = { "tempfail", "permfail", "protocol", "local" };
static const char *const mode_names[] = { "smtp", "lmtp" };
static const char *const state_names[] = {
	"connected", "greeted", "ready", "rejected", "failed", "closed",
};
static const char *const status_names[] = { "delivered", "tempfail", "permfail", "unknown" };

#define NAME_OF(table, i) ((guint)(i) < G_N_ELEMENTS(table) ? (table)[i] : "unknown")

const char *smtp_client_error_to_string(SmtpClientError e) { return NAME_OF(error_names, e); }
const char *smtp_client_mode_to_string(SmtpClientMode mode) { return NAME_OF(mode_names, mode); }
const char *smtp_client_state_to_string(SmtpClientState state) { return NAME_OF(state_names, state); }
const char *smtp_recipient_status_to_string(SmtpRecipientStatus status) { return NAME_OF(status_names, status); }

/* Every stage: its name, how long its reply may take, and the one reply
 * that lets the dialogue go on (RFC 5321 4.3.2). */
static const struct {
	const char *name;
	gint64      timeout;
	guint       ok_code;
} stage_table[SMTP_CLIENT_STAGE_COUNT] = {
	[SMTP_CLIENT_STAGE_GREETING] = { "greeting", SMTP_CLIENT_TIMEOUT_GREETING,  220 },
	[SMTP_CLIENT_STAGE_HELLO]    = { "hello",    SMTP_CLIENT_TIMEOUT_COMMAND,   250 },
	[SMTP_CLIENT_STAGE_STARTTLS] = { "starttls", SMTP_CLIENT_TIMEOUT_COMMAND,   220 },
	[SMTP_CLIENT_STAGE_AUTH]     = { "auth",     SMTP_CLIENT_TIMEOUT_COMMAND,   235 },
	[SMTP_CLIENT_STAGE_MAIL]     = { "mail",     SMTP_CLIENT_TIMEOUT_MAIL,      250 },
	[SMTP_CLIENT_STAGE_RCPT]     = { "rcpt",     SMTP_CLIENT_TIMEOUT_RCPT,      250 },
	[SMTP_CLIENT_STAGE_DATA]     = { "data",     SMTP_CLIENT_TIMEOUT_DATA_INIT, 354 },
	[SMTP_CLIENT_STAGE_DATA_END] = { "data-end", SMTP_CLIENT_TIMEOUT_DATA_END,  250 },
	[SMTP_CLIENT_STAGE_RSET]     = { "rset",     SMTP_CLIENT_TIMEOUT_COMMAND,   250 },
	[SMTP_CLIENT_STAGE_QUIT]     = { "quit",     SMTP_CLIENT_TIMEOUT_COMMAND,   221 },
};

const char *smtp_client_stage_to_string(SmtpClientStage stage)
{
	return (guint)stage < SMTP_CLIENT_STAGE_COUNT ? stage_table[stage].name : "unknown";
}

typedef enum { VERDICT_OK, VERDICT_TEMPFAIL, VERDICT_PERMFAIL, VERDICT_UNEXPECTED } Verdict;

static Verdict reply_verdict(SmtpClientStage stage, guint code)
{
	if (code == stage_table[stage].ok_code)
		return VERDICT_OK;
	/* RFC 5321 3.4: 251 "User not local; will forward" accepts the recipient too. */
	if (stage == SMTP_CLIENT_STAGE_RCPT && code == 251)
		return VERDICT_OK;
	switch (code / 100) {
	case 4:  return VERDICT_TEMPFAIL;
	case 5:  return VERDICT_PERMFAIL;
	default: return VERDICT_UNEXPECTED;
	}
}

/* ---- small helpers -------------------------------------------------------- */

static void enter_state(SmtpClient *client, SmtpClientState state)
{
	if (client->state == state)
		return;
	g_debug("smtp client, connection %" G_GUINT64_FORMAT ": %s -> %s", ms_conn_id(client->conn),
	        smtp_client_state_to_string(client->state), smtp_client_state_to_string(state));
	client->state = state;
}

/* Overwrite a secret before its memory goes back to the allocator. */
static void wipe(char *s, gsize len)
{
	volatile char *p = s;
	while (s && len--)
		*p++ = 0;
}

/* "550 5.1.1 no such user": a reply on one line, for error messages. */
static char *summary(guint code, const char *enhanced, const char *text)
{
	GString *s = g_string_new(NULL);
	g_string_append_printf(s, "%u", code);
	if (enhanced)
		g_string_append_printf(s, " %s", enhanced);
	if (text && *text) {
		g_string_append_c(s, ' ');
		for (const char *p = text; *p; p++)
			g_string_append_c(s, *p == '\n' ? ' ' : *p);
	}
	return g_string_free(s, FALSE);
}

static char *reply_summary(const SmtpReply *reply)
{
	g_autofree char *text = smtp_proto_reply_text(reply);
	return summary(reply->code, reply->enhanced, text);
}

/* smtp_proto has no copy; a result keeps its own replies. */
static SmtpReply *reply_copy(const SmtpReply *reply)
{
	SmtpReply *copy = g_new0(SmtpReply, 1);
	copy->code = reply->code;
	copy->enhanced = g_strdup(reply->enhanced);
	copy->lines = g_ptr_array_new_full(reply->lines->len, g_free);
	for (guint i = 0; i < reply->lines->len; i++)
		g_ptr_array_add(copy->lines, g_strdup(g_ptr_array_index(reply->lines, i)));
	return copy;
}

/* The session is out of step with the server: nothing more can be said. */
static gboolean session_fail(SmtpClient *client)
{
	enter_state(client, SMTP_CLIENT_STATE_FAILED);
	return FALSE;
}

static gboolean protocol_error(SmtpClient *client, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean protocol_error(SmtpClient *client, GError **error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_PROTOCOL, message);
	return session_fail(client);
}

static gboolean unexpected(SmtpClient *client, const char *what, const SmtpReply *reply, GError **error)
{
	g_autofree char *said = reply_summary(reply);
	return protocol_error(client, error, "unexpected reply to %s: %s", what, said);
}

/* "RCPT TO:<bob@example.org> refused: 550 5.1.1 no such user". */
static void set_refusal(GError **error, const char *what, const SmtpReply *reply)
{
	g_autofree char *said = reply_summary(reply);
	g_set_error(error, SMTP_CLIENT_ERROR,
	            reply->code >= 500 ? SMTP_CLIENT_ERROR_PERMFAIL : SMTP_CLIENT_ERROR_TEMPFAIL,
	            "%s refused: %s", what, said);
}

/* TRUE for the stage's success code; otherwise an error saying why. */
static gboolean check_reply(SmtpClient *client, SmtpClientStage stage, const char *what,
                            const SmtpReply *reply, GError **error)
{
	switch (reply_verdict(stage, reply->code)) {
	case VERDICT_OK:
		return TRUE;
	case VERDICT_TEMPFAIL:
	case VERDICT_PERMFAIL:
		set_refusal(error, what, reply);
		return FALSE;
	default:
		return unexpected(client, what, reply, error);
	}
}

/* A session that failed, was refused or was closed says nothing more. */
static gboolean session_usable(SmtpClient *client, GError **error)
{
	switch (client->state) {
	case SMTP_CLIENT_STATE_REJECTED:
	case SMTP_CLIENT_STATE_FAILED:
	case SMTP_CLIENT_STATE_CLOSED:
		g_set_error(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_PROTOCOL,
		            "the session with %s is %s", ms_conn_peer_name(client->conn),
		            smtp_client_state_to_string(client->state));
		return FALSE;
	default:
		return TRUE;
	}
}

/* ---- the wire ------------------------------------------------------------- */

/* Write bytes; display (NULL: the bytes themselves) is what events show. */
static gboolean send_bytes(SmtpClient *client, const char *data, gsize len, const char *display,
                           const char *what, GError **error)
{
	GError *io_error = NULL;
	if (ms_conn_write_masked(client->conn, data, len, display, &io_error))
		return TRUE;
	g_propagate_prefixed_error(error, io_error, "sending %s: ", what);
	return session_fail(client);
}

static gboolean send_line(SmtpClient *client, const char *line, const char *what, GError **error)
{
	return send_bytes(client, line, strlen(line), NULL, what, error);
}

/* Read one whole reply to what (a command as messages name it), each line
 * within the stage's time-out.  Returns it borrowed (it is also the last
 * reply), or NULL with the session FAILED: the transport broke, the reply
 * was malformed, or it was a 421. */
static const SmtpReply *read_reply(SmtpClient *client, SmtpClientStage stage, const char *what,
                                   GError **error)
{
	char line[SMTP_CLIENT_LINE_MAX + 1];
	gboolean started = FALSE;

	/* RFC 5321 4.5.3.2: each stage has its own patience. */
	ms_conn_set_timeout(client->conn, stage_table[stage].timeout);
	for (;;) {
		MsEol eol;
		GError *local = NULL;
		gssize n = ms_conn_read_line(client->conn, line, SMTP_CLIENT_LINE_MAX, &eol, &local);
		if (n < 0) {
			g_propagate_prefixed_error(error, local, "waiting for the reply to %s: ", what);
			session_fail(client);
			return NULL;
		}
		if (eol == MS_EOL_EOF) {
			protocol_error(client, error, "%s closed the connection %s %s",
			               ms_conn_peer_name(client->conn),
			               started || n > 0 ? "in the middle of the reply to" : "instead of replying to",
			               what);
			return NULL;
		}
		if (eol == MS_EOL_TOO_LONG) {
			/* RFC 5321 4.5.3.1.5: 512 octets, CRLF included. */
			protocol_error(client, error, "a line of the reply to %s is longer than %d octets",
			               what, SMTP_PROTO_MAX_REPLY_LINE);
			return NULL;
		}
		if (eol != MS_EOL_CRLF) {
			/* RFC 5321 2.3.8: only CRLF ends a line. */
			protocol_error(client, error, "a line of the reply to %s ends with a bare %s",
			               what, ms_eol_to_string(eol));
			return NULL;
		}

		SmtpReply *reply = NULL;
		switch (smtp_proto_reply_parser_feed(client->parser, line, (gsize)n, &reply, &local)) {
		case SMTP_REPLY_NEED_MORE:
			started = TRUE;
			continue;
		case SMTP_REPLY_ERROR:
			protocol_error(client, error, "bad reply to %s: %s", what, local->message);
			g_error_free(local);
			return NULL;
		case SMTP_REPLY_COMPLETE:
			break;
		}
		smtp_proto_reply_free(client->last_reply);
		client->last_reply = reply;
		if (reply->code == 421) {
			/* RFC 5321 3.8: whatever the command, 421 means the server hangs up now. */
			g_autofree char *said = reply_summary(reply);
			g_set_error(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_TEMPFAIL,
			            "%s is closing the connection: %s (in reply to %s)",
			            ms_conn_peer_name(client->conn), said, what);
			session_fail(client);
			return NULL;
		}
		return reply;
	}
}

/* Say what (a command without its CRLF) and read the reply. */
static const SmtpReply *command(SmtpClient *client, SmtpClientStage stage, const char *what,
                                GError **error)
{
	g_autofree char *line = g_strconcat(what, "\r\n", NULL);
	if (!send_line(client, line, what, error))
		return NULL;
	return read_reply(client, stage, what, error);
}

/* ---- life ----------------------------------------------------------------- */

SmtpClient *smtp_client_new(MsConn *conn, SmtpClientMode mode, const char *helo_name)
{
	g_return_val_if_fail(conn != NULL, NULL);
	g_return_val_if_fail(mode == SMTP_CLIENT_MODE_SMTP || mode == SMTP_CLIENT_MODE_LMTP, NULL);
	g_return_val_if_fail(helo_name != NULL && smtp_proto_domain_is_valid(helo_name, strlen(helo_name)),
	                     NULL);
	SmtpClient *client = g_new0(SmtpClient, 1);
	client->conn = ms_conn_ref(conn);
	client->mode = mode;
	client->helo_name = g_strdup(helo_name);
	client->state = SMTP_CLIENT_STATE_CONNECTED;
	client->parser = smtp_proto_reply_parser_new();
	ms_conn_set_proto(conn, mode_names[mode]);
	return client;
}

void smtp_client_free(SmtpClient *client)
{
	if (!client)
		return;
	g_clear_pointer(&client->conn, ms_conn_unref);
	g_clear_pointer(&client->helo_name, g_free);
	g_clear_pointer(&client->parser, smtp_proto_reply_parser_free);
	g_clear_pointer(&client->last_reply, smtp_proto_reply_free);
	g_clear_pointer(&client->extensions, smtp_proto_extensions_free);
	g_free(client);
}

SmtpClientState smtp_client_state(const SmtpClient *client) { return client->state; }
SmtpClientMode smtp_client_mode(const SmtpClient *client) { return client->mode; }
MsConn *smtp_client_conn(SmtpClient *client) { return client->conn; }
const SmtpExtensions *smtp_client_extensions(const SmtpClient *client) { return client->extensions; }
const SmtpReply *smtp_client_last_reply(const SmtpClient *client) { return client->last_reply; }
gboolean smtp_client_is_authenticated(const SmtpClient *client) { return client->authenticated; }

/* ---- greeting and hello (RFC 5321 3.1, 4.1.1.1; RFC 2033 4.1) -------------- */

gboolean smtp_client_greeting(SmtpClient *client, GError **error)
{
	g_return_val_if_fail(client != NULL, FALSE);
	g_return_val_if_fail(client->state == SMTP_CLIENT_STATE_CONNECTED, FALSE);

	const SmtpReply *reply = read_reply(client, SMTP_CLIENT_STAGE_GREETING, "the greeting", error);
	if (!reply)
		return FALSE;
	switch (reply_verdict(SMTP_CLIENT_STAGE_GREETING, reply->code)) {
	case VERDICT_OK:
		enter_state(client, SMTP_CLIENT_STATE_GREETED);
		return TRUE;
	case VERDICT_TEMPFAIL:
	case VERDICT_PERMFAIL: {
		/* RFC 5321 3.1: a server that refuses service (554) still waits for QUIT. */
		g_autofree char *said = reply_summary(reply);
		g_set_error(error, SMTP_CLIENT_ERROR,
		            reply->code >= 500 ? SMTP_CLIENT_ERROR_PERMFAIL : SMTP_CLIENT_ERROR_TEMPFAIL,
		            "%s refuses the session in its greeting: %s", ms_conn_peer_name(client->conn), said);
		enter_state(client, SMTP_CLIENT_STATE_REJECTED);
		return FALSE;
	}
	default:
		return unexpected(client, "the greeting", reply, error);
	}
}

/* A HELO reply names the server and promises nothing more. */
static SmtpExtensions *extensions_from_helo(const SmtpReply *reply)
{
	const char *first = reply->lines->len > 0 ? g_ptr_array_index(reply->lines, 0) : "";
	SmtpExtensions *ext = g_new0(SmtpExtensions, 1);
	ext->domain = g_strndup(first, strcspn(first, " "));
	ext->auth_mechanisms = g_ptr_array_new_with_free_func(g_free);
	ext->others = g_ptr_array_new_with_free_func(g_free);
	return ext;
}

static void set_extensions(SmtpClient *client, SmtpExtensions *ext)
{
	smtp_proto_extensions_free(client->extensions);
	client->extensions = ext;
	enter_state(client, SMTP_CLIENT_STATE_READY);
}

gboolean smtp_client_hello(SmtpClient *client, GError **error)
{
	g_return_val_if_fail(client != NULL, FALSE);
	if (!session_usable(client, error))
		return FALSE;
	g_return_val_if_fail(client->state == SMTP_CLIENT_STATE_GREETED ||
	                     client->state == SMTP_CLIENT_STATE_READY, FALSE);

	/* RFC 2033 4.1: LMTP says LHLO and has no HELO to fall back to. */
	const char *verb = client->mode == SMTP_CLIENT_MODE_LMTP ? "LHLO" : "EHLO";
	g_autofree char *ehlo = g_strdup_printf("%s %s", verb, client->helo_name);
	const SmtpReply *reply = command(client, SMTP_CLIENT_STAGE_HELLO, ehlo, error);
	if (!reply)
		return FALSE;

	if (client->mode == SMTP_CLIENT_MODE_SMTP && (reply->code == 500 || reply->code == 502)) {
		/* RFC 5321 4.1.4: a server that does not know EHLO still knows HELO. */
		g_autofree char *helo = g_strdup_printf("HELO %s", client->helo_name);
		reply = command(client, SMTP_CLIENT_STAGE_HELLO, helo, error);
		if (!reply || !check_reply(client, SMTP_CLIENT_STAGE_HELLO, helo, reply, error))
			return FALSE;
		set_extensions(client, extensions_from_helo(reply));
		return TRUE;
	}
	if (!check_reply(client, SMTP_CLIENT_STAGE_HELLO, ehlo, reply, error))
		return FALSE;
	GError *parse_error = NULL;
	SmtpExtensions *ext = smtp_proto_parse_ehlo_reply(reply, &parse_error);
	if (!ext) {
		protocol_error(client, error, "bad reply to %s: %s", ehlo, parse_error->message);
		g_error_free(parse_error);
		return FALSE;
	}
	set_extensions(client, ext);
	return TRUE;
}

/* ---- STARTTLS (RFC 3207) --------------------------------------------------- */

gboolean smtp_client_starttls(SmtpClient *client, GError **error)
{
	g_return_val_if_fail(client != NULL, FALSE);
	if (!session_usable(client, error))
		return FALSE;
	g_return_val_if_fail(client->state == SMTP_CLIENT_STATE_READY, FALSE);
	if (!(client->extensions->flags & SMTP_EXT_STARTTLS)) {
		g_set_error(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_LOCAL, "%s does not offer STARTTLS",
		            ms_conn_peer_name(client->conn));
		return FALSE;
	}
	const SmtpReply *reply = command(client, SMTP_CLIENT_STAGE_STARTTLS, "STARTTLS", error);
	if (!reply || !check_reply(client, SMTP_CLIENT_STAGE_STARTTLS, "STARTTLS", reply, error))
		return FALSE;
	GError *tls_error = NULL;
	if (!ms_conn_starttls(client->conn, NULL, &tls_error)) {
		g_propagate_prefixed_error(error, tls_error, "TLS with %s: ", ms_conn_peer_name(client->conn));
		return session_fail(client);
	}
	/* RFC 3207 4.2: forget what the server said in the clear; EHLO again */
	g_clear_pointer(&client->extensions, smtp_proto_extensions_free);
	enter_state(client, SMTP_CLIENT_STATE_GREETED);
	return TRUE;
}

/* ---- AUTH (RFC 4954) ------------------------------------------------------- */

/* The mechanisms spoken here, best first: PLAIN takes one round trip, LOGIN two. */
static const SaslMech auth_preference[] = { SASL_MECH_PLAIN, SASL_MECH_LOGIN };

static gboolean auth_choose(SmtpClient *client, const char *wanted, SaslMech *mech_r, GError **error)
{
	const SmtpExtensions *ext = client->extensions;
	const char *peer = ms_conn_peer_name(client->conn);

	if (!(ext->flags & SMTP_EXT_AUTH)) {
		g_set_error(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_LOCAL, "%s offers no AUTH", peer);
		return FALSE;
	}
	if (wanted) {
		if (!sasl_mech_from_string(wanted, mech_r)) {
			g_set_error(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_LOCAL,
			            "AUTH %s is not a mechanism this client speaks", wanted);
			return FALSE;
		}
		/* RFC 4954 4: only what the server advertised. */
		if (!smtp_proto_extensions_has_auth(ext, wanted)) {
			g_set_error(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_LOCAL,
			            "%s does not offer AUTH %s", peer, sasl_mech_to_string(*mech_r));
			return FALSE;
		}
		return TRUE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(auth_preference); i++) {
		if (smtp_proto_extensions_has_auth(ext, sasl_mech_to_string(auth_preference[i]))) {
			*mech_r = auth_preference[i];
			return TRUE;
		}
	}
	g_autoptr(GString) offered = g_string_new(NULL);
	for (guint i = 0; i < ext->auth_mechanisms->len; i++)
		g_string_append_printf(offered, " %s", (const char *)g_ptr_array_index(ext->auth_mechanisms, i));
	g_set_error(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_LOCAL,
	            "%s offers no AUTH mechanism this client speaks (it offers:%s)", peer,
	            offered->len ? offered->str : " none");
	return FALSE;
}

/* A 334 challenge where one belongs; a refusal or a surprise otherwise. */
static gboolean expect_challenge(SmtpClient *client, const char *what, const SmtpReply *reply,
                                 GError **error)
{
	if (reply->code == 334)
		return TRUE;
	if (reply->code / 100 == 4 || reply->code / 100 == 5) {
		set_refusal(error, what, reply);
		return FALSE;
	}
	return unexpected(client, what, reply, error);
}

/* RFC 4954 4 with RFC 4616 2: the whole credential as the initial response. */
static gboolean auth_plain(SmtpClient *client, const char *user, const char *password, GError **error)
{
	static const char what[] = "AUTH PLAIN";
	char *b64 = sasl_plain_encode(NULL, user, password);
	char *line = g_strconcat(what, " ", b64, "\r\n", NULL);
	gboolean sent = send_bytes(client, line, strlen(line), "AUTH PLAIN " SMTP_CLIENT_MASK, what, error);
	wipe(b64, strlen(b64));
	wipe(line, strlen(line));
	g_free(b64);
	g_free(line);
	if (!sent)
		return FALSE;

	const SmtpReply *reply = read_reply(client, SMTP_CLIENT_STAGE_AUTH, what, error);
	if (!reply)
		return FALSE;
	if (reply->code == 334) {
		/* Everything went with the command, so a challenge means we disagree
		 * about the mechanism: cancel with "*" (RFC 4954 4), keep in step. */
		if (!send_line(client, "*\r\n", "the AUTH cancel", error) ||
		    !read_reply(client, SMTP_CLIENT_STAGE_AUTH, "the AUTH cancel", error))
			return FALSE;
		g_set_error(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_PROTOCOL,
		            "%s sent a challenge after the complete %s response; cancelled",
		            ms_conn_peer_name(client->conn), what);
		return FALSE;
	}
	return check_reply(client, SMTP_CLIENT_STAGE_AUTH, what, reply, error);
}

/* draft-murchison-sasl-login: the server asks "Username:" then "Password:"
 * in base64 and gets each answer in base64.  The user name is shown: it is
 * no secret, and its base64 on the wire is the lesson. */
static gboolean auth_login(SmtpClient *client, const char *user, const char *password, GError **error)
{
	static const char what[] = "AUTH LOGIN";
	const SmtpReply *reply = command(client, SMTP_CLIENT_STAGE_AUTH, what, error);
	if (!reply || !expect_challenge(client, what, reply, error))
		return FALSE;

	g_autofree char *user64 = sasl_login_encode(user);
	g_autofree char *user_line = g_strconcat(user64, "\r\n", NULL);
	if (!send_line(client, user_line, "the AUTH LOGIN user name", error))
		return FALSE;
	reply = read_reply(client, SMTP_CLIENT_STAGE_AUTH, "the AUTH LOGIN user name", error);
	if (!reply || !expect_challenge(client, what, reply, error))
		return FALSE;

	char *pass64 = sasl_login_encode(password);
	char *pass_line = g_strconcat(pass64, "\r\n", NULL);
	gboolean sent = send_bytes(client, pass_line, strlen(pass_line), SMTP_CLIENT_MASK,
	                           "the AUTH LOGIN password", error);
	wipe(pass64, strlen(pass64));
	wipe(pass_line, strlen(pass_line));
	g_free(pass64);
	g_free(pass_line);
	if (!sent)
		return FALSE;
	reply = read_reply(client, SMTP_CLIENT_STAGE_AUTH, "the AUTH LOGIN password", error);
	return reply && check_reply(client, SMTP_CLIENT_STAGE_AUTH, what, reply, error);
}

gboolean smtp_client_auth(SmtpClient *client, const char *mechanism, const char *user,
                          const char *password, GError **error)
{
	g_return_val_if_fail(client != NULL && user != NULL && password != NULL, FALSE);
	if (!session_usable(client, error))
		return FALSE;
	/* RFC 4954 4: once per session, outside a transaction. */
	g_return_val_if_fail(client->state == SMTP_CLIENT_STATE_READY && !client->authenticated, FALSE);

	SaslMech mech;
	if (!auth_choose(client, mechanism, &mech, error))
		return FALSE;
	/* RFC 4616 2: what a server must take is what we send. */
	if (strlen(user) > SASL_MAX_FIELD || strlen(password) > SASL_MAX_FIELD) {
		g_set_error(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_LOCAL,
		            "user name or password longer than %d octets", SASL_MAX_FIELD);
		return FALSE;
	}
	gboolean ok = mech == SASL_MECH_PLAIN ? auth_plain(client, user, password, error)
	                                      : auth_login(client, user, password, error);
	client->authenticated = ok;
	return ok;
}

/* ---- one transaction (RFC 5321 3.3, RFC 2920, RFC 2033 4.2) ------------------- */

void smtp_send_result_free(SmtpSendResult *result)
{
	if (!result)
		return;
	g_clear_pointer(&result->mail_reply, smtp_proto_reply_free);
	g_clear_pointer(&result->data_reply, smtp_proto_reply_free);
	g_clear_pointer(&result->end_reply, smtp_proto_reply_free);
	g_clear_pointer(&result->recipients, g_ptr_array_unref);
	g_free(result);
}

static void recipient_result_free(gpointer data)
{
	SmtpRecipientResult *r = data;
	g_free(r->address);
	g_free(r->enhanced);
	g_free(r->text);
	g_free(r);
}

/* Everything one smtp_client_send works with. */
typedef struct {
	SmtpSendResult *result;
	char      *mail_what;     /* "MAIL FROM:<alice@example.com>", as messages name it */
	char      *mail_line;     /* the same with its parameters and CRLF */
	GPtrArray *rcpt_whats;    /* "RCPT TO:<bob@example.org>", one per recipient */
	GString   *body;          /* dot-stuffed, CRLF endings, ending with ".\r\n" */
	char      *body_display;  /* "(message: 1234 bytes, 25 lines)" */
	gboolean   mail_ok;
	guint      n_accepted;    /* RCPTs that got 250/251 */
	gboolean   data_started;  /* DATA got 354 */
	gboolean   data_done;     /* the "." got its reply(s): the transaction is over */
} Transaction;

static void transaction_clear(Transaction *t)
{
	g_clear_pointer(&t->result, smtp_send_result_free);
	g_clear_pointer(&t->mail_what, g_free);
	g_clear_pointer(&t->mail_line, g_free);
	g_clear_pointer(&t->rcpt_whats, g_ptr_array_unref);
	if (t->body)
		g_string_free(g_steal_pointer(&t->body), TRUE);
	g_clear_pointer(&t->body_display, g_free);
}

static SmtpRecipientResult *recipient(Transaction *t, guint i)
{
	return g_ptr_array_index(t->result->recipients, i);
}

/* This reply is the recipient's final outcome. */
static void decide(SmtpRecipientResult *r, SmtpClientStage stage, const SmtpReply *reply)
{
	r->stage = stage;
	r->code = reply->code;
	g_free(r->enhanced);
	r->enhanced = g_strdup(reply->enhanced);
	g_free(r->text);
	r->text = smtp_proto_reply_text(reply);
	r->status = reply->code / 100 == 2 ? SMTP_RECIPIENT_DELIVERED
	          : reply->code / 100 == 4 ? SMTP_RECIPIENT_TEMPFAIL
	          : SMTP_RECIPIENT_PERMFAIL;
}

static gboolean set_local_error(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean set_local_error(GError **error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_LOCAL, message);
	return FALSE;
}

/* "MAIL FROM:<a@b>" or "RCPT TO:<c@d>" for address, if it parses: an
 * address is checked before anything is said, since a CR or LF in one
 * would smuggle commands onto the wire. */
static char *path_command(const char *verb, const char *address, SmtpPathKind kind, GError **error)
{
	g_autofree char *bracketed = g_strdup_printf("<%s>", address);
	GError *parse_error = NULL;
	SmtpPath *path = smtp_proto_parse_path(bracketed, strlen(bracketed), kind, &parse_error);
	if (!path) {
		set_local_error(error, "%s %s: %s", verb, bracketed, parse_error->message);
		g_error_free(parse_error);
		return NULL;
	}
	smtp_proto_path_free(path);
	char *what = g_strconcat(verb, bracketed, NULL);
	/* RFC 5321 4.5.3.1.4: 512 octets for a command line, CRLF included. */
	if (strlen(what) + 2 > SMTP_PROTO_MAX_COMMAND_LINE) {
		set_local_error(error, "%s: address too long for a command line", verb);
		g_free(what);
		return NULL;
	}
	return what;
}

/* Size and lines of the message the server will store: the stuffed text
 * without its added dots and its final ".\r\n" (RFC 1870 3 counts the
 * CRLFs but not the dots of transparency). */
static void measure_body(const GString *body, guint64 *size_r, guint64 *lines_r)
{
	gsize end = body->len - 3;
	guint64 size = end, lines = 0;
	for (gsize i = 0; i < end; lines++) {
		if (body->str[i] == '.')
			size--;   /* RFC 5321 4.5.2: the dot stuffing added */
		const char *nl = memchr(body->str + i, '\n', end - i);
		i = (gsize)(nl - body->str) + 1;
	}
	*size_r = size;
	*lines_r = lines;
}

static gboolean has_8bit(const guint8 *data, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if (data[i] & 0x80)
			return TRUE;
	return FALSE;
}

/* Everything that can be refused without a word to the server. */
static gboolean transaction_prepare(SmtpClient *client, Transaction *t, const char *reverse_path,
                                    const char *const *recipients, GBytes *message, GError **error)
{
	const SmtpExtensions *ext = client->extensions;

	t->mail_what = path_command("MAIL FROM:", reverse_path, SMTP_PATH_REVERSE, error);
	if (!t->mail_what)
		return FALSE;
	t->rcpt_whats = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; recipients[i]; i++) {
		char *what = path_command("RCPT TO:", recipients[i], SMTP_PATH_FORWARD, error);
		if (!what)
			return FALSE;
		g_ptr_array_add(t->rcpt_whats, what);
	}

	gsize len;
	const guint8 *data = g_bytes_get_data(message, &len);
	t->body = g_string_sized_new(len + len / 32 + 8);
	smtp_proto_dot_stuff(t->body, (const char *)data, len);
	guint64 size, lines;
	measure_body(t->body, &size, &lines);

	GString *mail = g_string_new(t->mail_what);
	if (ext->flags & SMTP_EXT_SIZE) {
		/* RFC 1870 6.1: never send what the server said it cannot take. */
		if (ext->size > 0 && size > ext->size) {
			g_string_free(mail, TRUE);
			return set_local_error(error, "the message of %" G_GUINT64_FORMAT " octets is larger than "
			                       "the %" G_GUINT64_FORMAT " octets %s accepts (SIZE)",
			                       size, ext->size, ms_conn_peer_name(client->conn));
		}
		/* RFC 1870 3: announce the size so the server can refuse early. */
		g_string_append_printf(mail, " SIZE=%" G_GUINT64_FORMAT, size);
	}
	/* RFC 6152 3: say the body is 8-bit when it is and the server can take it. */
	if ((ext->flags & SMTP_EXT_8BITMIME) && has_8bit(data, len))
		g_string_append(mail, " BODY=8BITMIME");
	g_string_append(mail, "\r\n");
	t->mail_line = g_string_free(mail, FALSE);
	t->body_display = g_strdup_printf("(message: %" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT " lines)",
	                                  size, lines);

	t->result = g_new0(SmtpSendResult, 1);
	t->result->recipients = g_ptr_array_new_with_free_func(recipient_result_free);
	for (guint i = 0; recipients[i]; i++) {
		SmtpRecipientResult *r = g_new0(SmtpRecipientResult, 1);
		r->address = g_strdup(recipients[i]);
		r->status = SMTP_RECIPIENT_UNKNOWN;
		g_ptr_array_add(t->result->recipients, r);
	}
	return TRUE;
}

static gboolean read_mail_reply(SmtpClient *client, Transaction *t, GError **error)
{
	const SmtpReply *reply = read_reply(client, SMTP_CLIENT_STAGE_MAIL, t->mail_what, error);
	if (!reply)
		return FALSE;
	t->result->mail_reply = reply_copy(reply);
	switch (reply_verdict(SMTP_CLIENT_STAGE_MAIL, reply->code)) {
	case VERDICT_OK:
		t->mail_ok = TRUE;
		return TRUE;
	case VERDICT_TEMPFAIL:
	case VERDICT_PERMFAIL:
		/* RFC 5321 3.3: no transaction, so the same answer for everyone. */
		for (guint i = 0; i < t->result->recipients->len; i++)
			decide(recipient(t, i), SMTP_CLIENT_STAGE_MAIL, reply);
		return TRUE;
	default:
		return unexpected(client, t->mail_what, reply, error);
	}
}

static gboolean read_rcpt_reply(SmtpClient *client, Transaction *t, guint i, GError **error)
{
	const char *what = g_ptr_array_index(t->rcpt_whats, i);
	const SmtpReply *reply = read_reply(client, SMTP_CLIENT_STAGE_RCPT, what, error);
	if (!reply)
		return FALSE;
	/* RFC 2920 3.1: RCPTs pipelined after a refused MAIL only earn 503s. */
	if (!t->mail_ok)
		return TRUE;
	SmtpRecipientResult *r = recipient(t, i);
	switch (reply_verdict(SMTP_CLIENT_STAGE_RCPT, reply->code)) {
	case VERDICT_OK:
		r->rcpt_accepted = TRUE;
		t->n_accepted++;
		return TRUE;
	case VERDICT_TEMPFAIL:
	case VERDICT_PERMFAIL:
		decide(r, SMTP_CLIENT_STAGE_RCPT, reply);
		return TRUE;
	default:
		return unexpected(client, what, reply, error);
	}
}

static gboolean read_data_reply(SmtpClient *client, Transaction *t, GError **error)
{
	const SmtpReply *reply = read_reply(client, SMTP_CLIENT_STAGE_DATA, "DATA", error);
	if (!reply)
		return FALSE;
	t->result->data_reply = reply_copy(reply);
	switch (reply_verdict(SMTP_CLIENT_STAGE_DATA, reply->code)) {
	case VERDICT_OK:
		t->data_started = TRUE;
		return TRUE;
	case VERDICT_TEMPFAIL:
	case VERDICT_PERMFAIL:
		for (guint i = 0; i < t->result->recipients->len; i++)
			if (recipient(t, i)->rcpt_accepted)
				decide(recipient(t, i), SMTP_CLIENT_STAGE_DATA, reply);
		return TRUE;
	default:
		return unexpected(client, "DATA", reply, error);
	}
}

/* RFC 2033 4.2: after the ".", one reply for each recipient RCPT accepted,
 * in the order of the RCPTs. */
static gboolean read_lmtp_replies(SmtpClient *client, Transaction *t, GError **error)
{
	for (guint i = 0; i < t->result->recipients->len; i++) {
		SmtpRecipientResult *r = recipient(t, i);
		if (!r->rcpt_accepted)
			continue;
		g_autofree char *what = g_strdup_printf("the message for <%s>", r->address);
		const SmtpReply *reply = read_reply(client, SMTP_CLIENT_STAGE_DATA_END, what, error);
		if (!reply)
			return FALSE;
		if (reply_verdict(SMTP_CLIENT_STAGE_DATA_END, reply->code) == VERDICT_UNEXPECTED)
			return unexpected(client, what, reply, error);
		decide(r, SMTP_CLIENT_STAGE_DATA_END, reply);
	}
	t->data_done = TRUE;
	return TRUE;
}

/* After a 354: the message and the reply (or replies) to its end. */
static gboolean send_data(SmtpClient *client, Transaction *t, GError **error)
{
	if (!t->data_started)
		return TRUE;
	if (t->n_accepted == 0) {
		/* RFC 2920 3.1: a 354 after every RCPT failed gets an empty message,
		 * which the server cannot deliver to anyone; RSET follows. */
		static const char what[] = "the end of an empty message";
		return send_line(client, ".\r\n", what, error) &&
		       read_reply(client, SMTP_CLIENT_STAGE_DATA_END, what, error) != NULL;
	}
	/* RFC 5321 4.5.3.2.5: the patience for each block written (real sockets
	 * apply it to writes; the simulated network never blocks a writer). */
	ms_conn_set_timeout(client->conn, SMTP_CLIENT_TIMEOUT_DATA_BLOCK);
	if (!send_bytes(client, t->body->str, t->body->len, t->body_display, "the message", error))
		return FALSE;
	if (client->mode == SMTP_CLIENT_MODE_LMTP)
		return read_lmtp_replies(client, t, error);

	const SmtpReply *reply = read_reply(client, SMTP_CLIENT_STAGE_DATA_END, "the message", error);
	if (!reply)
		return FALSE;
	t->result->end_reply = reply_copy(reply);
	if (reply_verdict(SMTP_CLIENT_STAGE_DATA_END, reply->code) == VERDICT_UNEXPECTED)
		return unexpected(client, "the message", reply, error);
	for (guint i = 0; i < t->result->recipients->len; i++)
		if (recipient(t, i)->rcpt_accepted)
			decide(recipient(t, i), SMTP_CLIENT_STAGE_DATA_END, reply);
	t->data_done = TRUE;
	return TRUE;
}

/* RFC 2920 3.1: MAIL, the RCPTs and DATA go out as one group, DATA last,
 * and their replies come back in the same order. */
static gboolean transaction_pipelined(SmtpClient *client, Transaction *t, GError **error)
{
	g_autoptr(GString) group = g_string_new(t->mail_line);
	for (guint i = 0; i < t->rcpt_whats->len; i++)
		g_string_append_printf(group, "%s\r\n", (const char *)g_ptr_array_index(t->rcpt_whats, i));
	g_string_append(group, "DATA\r\n");
	if (!send_bytes(client, group->str, group->len, NULL, "the pipelined commands", error))
		return FALSE;

	if (!read_mail_reply(client, t, error))
		return FALSE;
	for (guint i = 0; i < t->rcpt_whats->len; i++)
		if (!read_rcpt_reply(client, t, i, error))
			return FALSE;
	return read_data_reply(client, t, error) && send_data(client, t, error);
}

/* One command, one reply, stopping as soon as the transaction cannot succeed. */
static gboolean transaction_lockstep(SmtpClient *client, Transaction *t, GError **error)
{
	if (!send_line(client, t->mail_line, t->mail_what, error) || !read_mail_reply(client, t, error))
		return FALSE;
	if (!t->mail_ok)
		return TRUE;
	for (guint i = 0; i < t->rcpt_whats->len; i++) {
		const char *what = g_ptr_array_index(t->rcpt_whats, i);
		g_autofree char *line = g_strconcat(what, "\r\n", NULL);
		if (!send_line(client, line, what, error) || !read_rcpt_reply(client, t, i, error))
			return FALSE;
	}
	/* RFC 5321 3.3: no DATA without a recipient. */
	if (t->n_accepted == 0)
		return TRUE;
	return send_line(client, "DATA\r\n", "DATA", error) && read_data_reply(client, t, error) &&
	       send_data(client, t, error);
}

/* What names the reply that decided r, for the error message. */
static char *decided_by(Transaction *t, guint i, SmtpClientMode mode)
{
	SmtpRecipientResult *r = recipient(t, i);
	switch (r->stage) {
	case SMTP_CLIENT_STAGE_MAIL:
		return g_strdup(t->mail_what);
	case SMTP_CLIENT_STAGE_RCPT:
		return g_strdup(g_ptr_array_index(t->rcpt_whats, i));
	case SMTP_CLIENT_STAGE_DATA:
		return g_strdup("DATA");
	default:
		return mode == SMTP_CLIENT_MODE_LMTP ? g_strdup_printf("the message for <%s>", r->address)
		                                     : g_strdup("the message");
	}
}

/* Nobody got the message: say why, naming the replies that decided.  One
 * reply shared by every recipient (MAIL, DATA, SMTP's end) is said once. */
static void set_transaction_error(SmtpClient *client, Transaction *t, GError **error)
{
	g_autoptr(GString) why = g_string_new(NULL);
	g_autofree char *previous = NULL;
	gboolean temporary = FALSE;
	guint shown = 0, hidden = 0;

	for (guint i = 0; i < t->result->recipients->len; i++) {
		SmtpRecipientResult *r = recipient(t, i);
		if (r->status != SMTP_RECIPIENT_PERMFAIL)
			temporary = TRUE;
		g_autofree char *what = decided_by(t, i, client->mode);
		g_autofree char *said = summary(r->code, r->enhanced, r->text);
		char *line = g_strdup_printf("%s refused: %s", what, said);
		if (previous && strcmp(previous, line) == 0) {
			g_free(line);
			continue;
		}
		g_free(previous);
		previous = line;
		if (shown == SMTP_CLIENT_ERROR_RECIPIENTS_SHOWN) {
			hidden++;
			continue;
		}
		g_string_append_printf(why, "%s%s", shown++ ? "; " : "", line);
	}
	if (hidden)
		g_string_append_printf(why, "; and %u more", hidden);
	g_set_error_literal(error, SMTP_CLIENT_ERROR,
	                    temporary ? SMTP_CLIENT_ERROR_TEMPFAIL : SMTP_CLIENT_ERROR_PERMFAIL, why->str);
}

gboolean smtp_client_send(SmtpClient *client, const char *reverse_path,
                          const char *const *recipients, GBytes *message,
                          SmtpSendResult **result_r, GError **error)
{
	g_return_val_if_fail(client != NULL && reverse_path != NULL && message != NULL, FALSE);
	g_return_val_if_fail(recipients != NULL && recipients[0] != NULL, FALSE);
	if (result_r)
		*result_r = NULL;
	if (!session_usable(client, error))
		return FALSE;
	g_return_val_if_fail(client->state == SMTP_CLIENT_STATE_READY, FALSE);

	Transaction t = { 0 };
	if (!transaction_prepare(client, &t, reverse_path, recipients, message, error)) {
		transaction_clear(&t);
		return FALSE;
	}
	gboolean pipelining = (client->extensions->flags & SMTP_EXT_PIPELINING) != 0;
	gboolean ok = pipelining ? transaction_pipelined(client, &t, error)
	                         : transaction_lockstep(client, &t, error);
	if (ok && t.mail_ok && !t.data_done) {
		/* RFC 5321 4.1.1.5: a transaction that never reached its end is
		 * still open on the server.  Its outcome is known already; a failed
		 * RSET only leaves the session FAILED. */
		GError *rset_error = NULL;
		const SmtpReply *reply = command(client, SMTP_CLIENT_STAGE_RSET, "RSET", &rset_error);
		if (reply && reply_verdict(SMTP_CLIENT_STAGE_RSET, reply->code) != VERDICT_OK)
			session_fail(client);
		g_clear_error(&rset_error);
	}
	for (guint i = 0; i < t.result->recipients->len; i++)
		if (recipient(&t, i)->status == SMTP_RECIPIENT_DELIVERED)
			t.result->n_delivered++;
	if (ok && t.result->n_delivered == 0) {
		set_transaction_error(client, &t, error);
		ok = FALSE;
	}
	if (result_r)
		*result_r = g_steal_pointer(&t.result);
	transaction_clear(&t);
	return ok;
}

/* ---- the end (RFC 5321 4.1.1.10) --------------------------------------------- */

void smtp_client_quit(SmtpClient *client)
{
	g_return_if_fail(client != NULL);
	switch (client->state) {
	case SMTP_CLIENT_STATE_GREETED:
	case SMTP_CLIENT_STATE_READY:
	case SMTP_CLIENT_STATE_REJECTED: {
		/* Wait for the 221 before closing: the server may still be writing. */
		GError *ignored = NULL;
		command(client, SMTP_CLIENT_STAGE_QUIT, "QUIT", &ignored);
		g_clear_error(&ignored);
		break;
	}
	default:
		break;
	}
	ms_conn_close(client->conn);
	enter_state(client, SMTP_CLIENT_STATE_CLOSED);
}
