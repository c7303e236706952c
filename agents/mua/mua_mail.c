/* agents/mua/mua_mail.c - what the user does with mail once the account
 * is set up: send (out.1, with the Sent copy of retr.3), fetch (in.8), and
 * the everyday actions whose fate differs between IMAP and POP3 (COURSE.md
 * section 5: retr.1 flags, retr.2 move and delete, retr.4 folders, retr.5
 * drafts).  RFC 6409 (submission), RFC 3501 and RFC 1939 through the
 * session layers, each encrypted first where it can be (mua_tls.c); RFC
 * 5322 3.6.4 for replies.
 */
#include "agents/mua/mua_impl.h"
#include "agents/mua/imap_client.h"
#include "agents/mua/pop3_client.h"
#include "agents/mta/smtp_client.h"
#include "agents/common/rfc5322.h"

#include <string.h>

/* Hex digits of randomness in a Message-ID and a boundary. */
#define MUA_ID_HEX          24
/* New boundaries tried when one happens to occur in the text. */
#define MUA_BOUNDARY_TRIES  3

static gboolean need_account(Mua *mua, GError **error)
{
	if (mua->incoming && mua->outgoing)
		return TRUE;
	g_set_error(error, MUA_ERROR, MUA_ERROR_NOT_SET_UP, "%s has no account set up yet", mua->name);
	return FALSE;
}

static const char *protocol_name(MailConfigProtocol p)
{
	return p == MAILCONFIG_PROTOCOL_POP3 ? "POP3" : p == MAILCONFIG_PROTOCOL_IMAP ? "IMAP" : "SMTP";
}

/* “Hello Bob”, or (no subject). */
static char *quoted_subject(const MuaLocalMessage *m)
{
	return m->subject && *m->subject ? g_strdup_printf("“%s”", m->subject) : g_strdup("(no subject)");
}

/* The server of a protocol: the one setup found, or the incoming host on
 * the protocol's usual port, as a user would type it. */
static const MailConfigServer *server_for(Mua *mua, MailConfigProtocol protocol, MuaAction action)
{
	MailConfigServer **slot = protocol == MAILCONFIG_PROTOCOL_POP3 ? &mua->pop3 : &mua->imap;
	if (!*slot) {
		MailConfigServer *s = mua_server_copy(mua->incoming);
		gboolean ssl = s->socket == MAILCONFIG_SOCKET_SSL;
		s->protocol = protocol;
		s->port = protocol == MAILCONFIG_PROTOCOL_POP3 ? (ssl ? MUA_POP3S_PORT : MUA_POP3_PORT)
		                                              : (ssl ? MUA_IMAPS_PORT : MUA_IMAP_PORT);
		mua_emit(mua, MS_EV_NOTE, action, s->hostname, "no %s server was found at set-up; trying %s port %u",
		         protocol_name(protocol), s->hostname, s->port);
		*slot = s;
	}
	return *slot;
}

/* ---- IMAP sessions ------------------------------------------------------------------ */

static gboolean imap_upgrade(gpointer ic, GError **error) { return imap_client_starttls(ic, error); }
static gboolean imap_again(gpointer ic, GError **error) { return imap_client_capability(ic, error); }
static const MuaTlsOps imap_tls = { "STARTTLS", imap_upgrade, imap_again };

/* Connect, read the greeting, learn the capabilities, encrypt, log in. */
static ImapClient *imap_open(Mua *mua, MuaAction action, GError **error)
{
	const MailConfigServer *s = server_for(mua, MAILCONFIG_PROTOCOL_IMAP, action);
	MsConn *c = mua_connect_server(mua, s, "imap", action, error);
	if (!c)
		return NULL;
	ImapClient *ic = imap_client_new(c);
	ms_conn_unref(c);
	gboolean ok = imap_client_greeting(ic, error);
	if (ok && !imap_client_has_capability(ic, "IMAP4rev1"))
		ok = imap_client_capability(ic, error);
	/* RFC 2595 3.1: STARTTLS only before the login; a PREAUTH session needs none */
	gboolean login = ok && imap_client_state(ic) == IMAP_CLIENT_STATE_NOT_AUTHENTICATED;
	if (login)
		ok = mua_secure_session(mua, imap_client_conn(ic), s, action, imap_client_has_capability(ic, "STARTTLS"),
		                        &imap_tls, ic, TRUE, error) &&
		     imap_client_login(ic, mua_server_user(mua, s), mua->password, error);
	if (!ok) {
		imap_client_logout(ic);
		imap_client_free(ic);
		return NULL;
	}
	return ic;
}

static void imap_done(ImapClient *ic)
{
	imap_client_logout(ic);
	imap_client_free(ic);
}

/* The server's folder for a special use (RFC 6154), else the one named
 * like fallback, else fallback itself (to be created). */
static char *imap_special_folder(ImapClient *ic, guint attr, const char *fallback, GError **error)
{
	g_autoptr(GPtrArray) list = imap_client_list(ic, "", "*", error);
	if (!list)
		return NULL;
	for (guint i = 0; i < list->len; i++) {
		const ImapMailbox *m = g_ptr_array_index(list, i);
		if (m->attributes & attr)
			return g_strdup(m->name);
	}
	for (guint i = 0; i < list->len; i++) {
		const ImapMailbox *m = g_ptr_array_index(list, i);
		if (g_ascii_strcasecmp(m->name, fallback) == 0)
			return g_strdup(m->name);
	}
	return g_strdup(fallback);
}

/* Did the last command fail with NO [TRYCREATE] (RFC 3501 6.3.11)? */
static gboolean wants_create(ImapClient *ic, const GError *e)
{
	return g_error_matches(e, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_NO) &&
	       g_strcmp0(imap_client_last_code(ic), "TRYCREATE") == 0;
}

typedef gboolean (*ImapFolderOp)(ImapClient *ic, gpointer data, const char *folder, GError **error);

/* Run op into folder; when the server says the folder does not exist,
 * create it and run op again, as clients do. */
static gboolean imap_into_folder(Mua *mua, ImapClient *ic, MuaAction action, const char *folder,
                                 ImapFolderOp op, gpointer data, GError **error)
{
	GError *local = NULL;
	if (op(ic, data, folder, &local))
		return TRUE;
	if (!wants_create(ic, local)) {
		g_propagate_error(error, local);
		return FALSE;
	}
	g_error_free(local);
	mua_emit(mua, MS_EV_NOTE, action, NULL, "the server has no folder %s yet: %s creates it", folder, mua->name);
	return imap_client_create(ic, folder, error) && op(ic, data, folder, error);
}

typedef struct {
	GBytes            *message;
	const char *const *flags;
} AppendArgs;

static gboolean op_append(ImapClient *ic, gpointer data, const char *folder, GError **error)
{
	AppendArgs *a = data;
	return imap_client_append(ic, folder, a->flags, a->message, error);
}

/* Keep a copy of message: in the server's special folder over IMAP, only
 * in the client's own folder over POP3 (COURSE.md section 5). */
static gboolean keep_copy(Mua *mua, GBytes *message, MuaAction action, const char *folder, guint attr,
                          const char *const *flags, GError **error)
{
	MuaLocalMessage *lm = mua_local_message_new(message);
	lm->seen = TRUE;
	lm->draft = action == MUA_ACT_DRAFT;
	g_autofree char *subject = quoted_subject(lm);
	g_autofree char *where = g_strdup(folder);
	if (mua->mode == MAILCONFIG_PROTOCOL_IMAP) {
		mua_emit(mua, MS_EV_STEP, action, NULL, "%s keeps %s in the server's %s folder (IMAP APPEND): "
		         "every client of %s will see it", mua->name, subject, folder, mua->address);
		ImapClient *ic = imap_open(mua, action, error);
		gboolean ok = ic != NULL;
		if (ok) {
			g_free(where);
			where = imap_special_folder(ic, attr, folder, error);
			AppendArgs args = { message, flags };
			ok = where && imap_into_folder(mua, ic, action, where, op_append, &args, error);
			imap_done(ic);
		}
		if (!ok) {
			mua_local_message_free(lm);
			return FALSE;
		}
	} else {
		mua_emit(mua, MS_EV_STEP, action, NULL, "%s keeps %s in %s, inside this client only: POP3 has no "
		         "folders on the server, so other clients never see it", mua->name, subject, folder);
	}
	g_ptr_array_add(mua_folder(mua, where, TRUE)->messages, lm);
	return TRUE;
}

/* ---- composing ---------------------------------------------------------------------- */

static GBytes *compose(Mua *mua, const MuaMessage *msg, const char *in_reply_to, const char *references,
                       gboolean draft, GError **error)
{
	g_autofree char *id_hex = ms_rng_hex(mua->rng, MUA_ID_HEX);
	/* RFC 5322 3.6.4: unique: random left part, our domain on the right */
	g_autofree char *message_id = g_strdup_printf("<%s@%s>", id_hex, mua->domain);
	g_autofree char *agent = g_strdup_printf("mailsim (%s)", mua_flavor_to_string(mua->flavor));
	for (guint tries = 0;; tries++) {
		g_autofree char *b_hex = ms_rng_hex(mua->rng, MUA_ID_HEX);
		g_autofree char *boundary = g_strconcat("------------", b_hex, NULL);
		ComposeInput in = {
			.from_name = mua->display_name,
			.from_address = mua->address,
			.to = msg->to, .cc = msg->cc, .bcc = msg->bcc,
			.subject = msg->subject,
			.body = msg->body,
			.message_id = message_id,
			.in_reply_to = in_reply_to,
			.references = references,
			.user_agent = agent,
			.date_us = mua->epoch_us + ms_sched_now(mua->sched),
			.zone_minutes = mua->zone_minutes,
			.boundary = boundary,
			.draft = draft,
			.attachments = msg->attachments,
			.n_attachments = msg->n_attachments,
		};
		GError *local = NULL;
		GBytes *data = compose_message(&in, &local);
		if (data)
			return data;
		if (!g_error_matches(local, COMPOSE_ERROR, COMPOSE_ERROR_BOUNDARY) || tries + 1 == MUA_BOUNDARY_TRIES) {
			g_propagate_error(error, local);
			return NULL;
		}
		g_error_free(local);
	}
}

/* ---- out.1: submission -------------------------------------------------------------- */

static gboolean smtp_upgrade(gpointer sc, GError **error) { return smtp_client_starttls(sc, error); }
static gboolean smtp_again(gpointer sc, GError **error) { return smtp_client_hello(sc, error); }
static const MuaTlsOps smtp_tls = { "STARTTLS", smtp_upgrade, smtp_again };

/* RFC 6409 4: the client submits to its own server and authenticates. */
static gboolean submit(Mua *mua, GBytes *data, GPtrArray *rcpts, const char *subject, GError **error)
{
	const MailConfigServer *s = mua->outgoing;
	g_autoptr(GString) who = g_string_new(NULL);
	for (guint i = 0; i < rcpts->len; i++)
		g_string_append_printf(who, "%s%s", i ? ", " : "", (const char *)g_ptr_array_index(rcpts, i));
	mua_emit(mua, MS_EV_STEP, MUA_ACT_SUBMIT, s->hostname,
	         "%s sends %s to %s through %s port %u, logging in as %s", mua->name, subject, who->str,
	         s->hostname, s->port, mua_server_user(mua, s));
	g_autoptr(MsConn) c = mua_connect_server(mua, s, "smtp", MUA_ACT_SUBMIT, error);
	if (!c)
		return FALSE;
	/* An address literal, as desktop clients say EHLO (RFC 5321 4.1.3). */
	g_autofree char *helo = g_strdup_printf("[%s]", ms_conn_local_address(c));
	g_autoptr(SmtpClient) sc = smtp_client_new(c, SMTP_CLIENT_MODE_SMTP, helo);
	/* smtp_client_send wants the recipients NULL-terminated: end the array
	 * for the call, and take the NULL off again after */
	g_ptr_array_add(rcpts, NULL);
	gboolean auth = s->auth != MAILCONFIG_AUTH_NONE && s->auth != MAILCONFIG_AUTH_CLIENT_IP;
	gboolean ok = smtp_client_greeting(sc, error) && smtp_client_hello(sc, error) &&
	              mua_secure_session(mua, c, s, MUA_ACT_SUBMIT,
	                                 (smtp_client_extensions(sc)->flags & SMTP_EXT_STARTTLS) != 0, &smtp_tls, sc, auth,
	                                 error);
	if (ok && auth)
		ok = smtp_client_auth(sc, NULL, mua_server_user(mua, s), mua->password, error);
	if (ok)
		ok = smtp_client_send(sc, mua->address, (const char *const *)rcpts->pdata, data, NULL, error);
	g_ptr_array_remove_index(rcpts, rcpts->len - 1);
	smtp_client_quit(sc);
	return ok;
}

static gboolean send_message(Mua *mua, const MuaMessage *msg, const char *in_reply_to,
                             const char *references, GError **error)
{
	g_return_val_if_fail(msg != NULL, FALSE);
	if (!need_account(mua, error))
		return FALSE;
	g_autoptr(GPtrArray) rcpts = compose_recipients(msg->to, msg->cc, msg->bcc, error);
	if (!rcpts)
		return FALSE;
	g_autoptr(GBytes) data = compose(mua, msg, in_reply_to, references, FALSE, error);
	if (!data)
		return FALSE;
	g_autofree char *subject = msg->subject && *msg->subject ? g_strdup_printf("“%s”", msg->subject)
	                                                          : g_strdup("a message");
	GError *local = NULL;
	if (!submit(mua, data, rcpts, subject, &local)) {
		mua_emit(mua, MS_EV_ERROR, MUA_ACT_SUBMIT, mua->outgoing->hostname, "sending failed: %s", local->message);
		g_propagate_error(error, local);
		return FALSE;
	}
	mua_emit(mua, MS_EV_NOTE, MUA_ACT_SUBMIT, mua->outgoing->hostname, "%s accepted %s for delivery",
	         mua->outgoing->hostname, subject);
	static const char *const sent_flags[] = { "\\Seen", NULL };
	if (mua->no_sent_copy)
		return TRUE;
	if (!keep_copy(mua, data, MUA_ACT_SENT_COPY, MUA_FOLDER_SENT, IMAP_MAILBOX_SENT, sent_flags, &local)) {
		mua_emit(mua, MS_EV_ERROR, MUA_ACT_SENT_COPY, NULL, "the copy in Sent failed: %s", local->message);
		g_set_error(error, MUA_ERROR, MUA_ERROR_SENT_COPY, "sent, but the copy in Sent failed: %s", local->message);
		g_error_free(local);
		return FALSE;
	}
	return TRUE;
}

gboolean mua_send(Mua *mua, const MuaMessage *msg, GError **error)
{
	return send_message(mua, msg, NULL, NULL, error);
}

/* ---- in.8: fetching ------------------------------------------------------------------ */

static int compare_uid(gconstpointer a, gconstpointer b)
{
	guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;
	return x < y ? -1 : x > y;
}

/* RFC 3501 9: a sequence set, runs written as ranges ("1:3,7"). */
static char *uid_set(GArray *uids)
{
	g_array_sort(uids, compare_uid);
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < uids->len;) {
		guint32 first = g_array_index(uids, guint32, i), last = first;
		while (++i < uids->len && g_array_index(uids, guint32, i) <= last + 1)
			last = g_array_index(uids, guint32, i);
		g_string_append_printf(s, "%s%u", s->len ? "," : "", first);
		if (last != first)
			g_string_append_printf(s, ":%u", last);
	}
	return g_string_free(s, FALSE);
}

static void apply_flags(MuaLocalMessage *lm, const ImapMessage *m)
{
	if (!m->flags)
		return;
	lm->seen = imap_message_has_flag(m, "\\Seen");
	lm->flagged = imap_message_has_flag(m, "\\Flagged");
	lm->answered = imap_message_has_flag(m, "\\Answered");
	lm->draft = imap_message_has_flag(m, "\\Draft");
}

static void note_new(Mua *mua, GPtrArray *inbox, guint first_new, const char *host)
{
	guint n = inbox->len - first_new;
	if (n == 0) {
		mua_emit(mua, MS_EV_NOTE, MUA_ACT_FETCH, host, "no new mail for %s", mua->address);
		return;
	}
	g_autoptr(GString) list = g_string_new(NULL);
	for (guint i = first_new; i < inbox->len; i++) {
		const MuaLocalMessage *m = g_ptr_array_index(inbox, i);
		g_autofree char *subject = quoted_subject(m);
		g_string_append_printf(list, "%s%s from %s", list->len ? "; " : "", subject, m->from ? m->from : "?");
	}
	mua_emit(mua, MS_EV_NOTE, MUA_ACT_FETCH, host, "%u new message%s: %s", n, n == 1 ? "" : "s", list->str);
}

/* Bring the local INBOX in step with the server's: flags, messages gone
 * (moved or deleted by another client), and the new ones fetched. */
static gboolean imap_sync_inbox(Mua *mua, ImapClient *ic, const ImapSelected *info, GError **error)
{
	MuaFolder *inbox = mua_folder(mua, MUA_FOLDER_INBOX, TRUE);
	if (mua->inbox_uidvalidity && info->uidvalidity != mua->inbox_uidvalidity) {
		/* RFC 3501 2.3.1.1: the old UIDs mean nothing any more */
		mua_emit(mua, MS_EV_NOTE, MUA_ACT_FETCH, NULL, "UIDVALIDITY changed: %s fetches INBOX afresh", mua->name);
		for (guint i = inbox->messages->len; i-- > 0;)
			if (((MuaLocalMessage *)g_ptr_array_index(inbox->messages, i))->uid)
				g_ptr_array_remove_index(inbox->messages, i);
	}
	mua->inbox_uidvalidity = info->uidvalidity;

	g_autoptr(GPtrArray) on_server = info->exists ? imap_client_uid_fetch(ic, "1:*", "(UID FLAGS)", error)
	                                              : g_ptr_array_new_with_free_func((GDestroyNotify)imap_message_free);
	if (!on_server)
		return FALSE;
	g_autoptr(GHashTable) by_uid = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (guint i = 0; i < on_server->len; i++) {
		ImapMessage *m = g_ptr_array_index(on_server, i);
		if (m->uid)
			g_hash_table_insert(by_uid, GUINT_TO_POINTER(m->uid), m);
	}
	g_autoptr(GHashTable) local_uids = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (guint i = inbox->messages->len; i-- > 0;) {
		MuaLocalMessage *lm = g_ptr_array_index(inbox->messages, i);
		if (!lm->uid)
			continue;
		ImapMessage *m = g_hash_table_lookup(by_uid, GUINT_TO_POINTER(lm->uid));
		if (!m) {
			/* IMAP keeps every client in step: gone there, gone here */
			g_autofree char *subject = quoted_subject(lm);
			mua_emit(mua, MS_EV_NOTE, MUA_ACT_FETCH, NULL, "%s is no longer in INBOX on the server: "
			         "removed here too", subject);
			g_ptr_array_remove_index(inbox->messages, i);
			continue;
		}
		apply_flags(lm, m);
		g_hash_table_add(local_uids, GUINT_TO_POINTER(lm->uid));
	}

	g_autoptr(GArray) fresh = g_array_new(FALSE, FALSE, sizeof(guint32));
	for (guint i = 0; i < on_server->len; i++) {
		ImapMessage *m = g_ptr_array_index(on_server, i);
		if (m->uid && !g_hash_table_contains(local_uids, GUINT_TO_POINTER(m->uid)))
			g_array_append_val(fresh, m->uid);
	}
	guint first_new = inbox->messages->len;
	if (fresh->len) {
		g_autofree char *set = uid_set(fresh);
		/* BODY.PEEK: fetching is not reading; \Seen is set explicitly below */
		g_autoptr(GPtrArray) got = imap_client_uid_fetch(ic, set, "(UID FLAGS BODY.PEEK[])", error);
		if (!got)
			return FALSE;
		g_autoptr(GArray) unseen = g_array_new(FALSE, FALSE, sizeof(guint32));
		for (guint i = 0; i < got->len; i++) {
			ImapMessage *m = g_ptr_array_index(got, i);
			if (!m->uid || !m->body || g_hash_table_contains(local_uids, GUINT_TO_POINTER(m->uid)))
				continue;
			MuaLocalMessage *lm = mua_local_message_new(m->body);
			lm->uid = m->uid;
			apply_flags(lm, m);
			if (!lm->seen)
				g_array_append_val(unseen, m->uid);
			lm->seen = TRUE;
			g_hash_table_add(local_uids, GUINT_TO_POINTER(m->uid));
			g_ptr_array_add(inbox->messages, lm);
		}
		if (unseen->len) {
			g_autofree char *seen_set = uid_set(unseen);
			if (!imap_client_uid_store(ic, seen_set, "+FLAGS", "(\\Seen)", error))
				return FALSE;
		}
	}
	mua->last_fetched = inbox->messages->len - first_new;
	note_new(mua, inbox->messages, first_new, NULL);
	return TRUE;
}

static gboolean fetch_imap(Mua *mua, GError **error)
{
	const MailConfigServer *s = server_for(mua, MAILCONFIG_PROTOCOL_IMAP, MUA_ACT_FETCH);
	mua_emit(mua, MS_EV_STEP, MUA_ACT_FETCH, s->hostname,
	         "%s asks %s for new mail over IMAP: the mail stays on the server, the client keeps a copy in step",
	         mua->name, s->hostname);
	ImapClient *ic = imap_open(mua, MUA_ACT_FETCH, error);
	if (!ic)
		return FALSE;
	/* RFC 3501 6.3.8: the folders, as the client shows them */
	g_autoptr(GPtrArray) folders = imap_client_list(ic, "", "*", error);
	gboolean ok = folders != NULL;
	for (guint i = 0; ok && i < folders->len; i++) {
		const ImapMailbox *m = g_ptr_array_index(folders, i);
		if (!(m->attributes & IMAP_MAILBOX_NOSELECT))
			mua_folder(mua, m->name, TRUE);
	}
	ImapSelected info = { 0 };
	ok = ok && imap_client_select(ic, MUA_FOLDER_INBOX, &info, error) && imap_sync_inbox(mua, ic, &info, error);
	imap_done(ic);
	return ok;
}

static gboolean pop3_upgrade(gpointer pc, GError **error) { return pop3_client_stls(pc, error); }
static gboolean pop3_again(gpointer pc, GError **error) { return pop3_client_capa(pc, error); }
static const MuaTlsOps pop3_tls = { "STLS", pop3_upgrade, pop3_again };

static gboolean fetch_pop3(Mua *mua, gboolean delete, GError **error)
{
	const MailConfigServer *s = server_for(mua, MAILCONFIG_PROTOCOL_POP3, MUA_ACT_FETCH);
	mua_emit(mua, MS_EV_STEP, MUA_ACT_FETCH, s->hostname, "%s downloads new mail from %s over POP3 and %s",
	         mua->name, s->hostname,
	         delete ? "deletes it there: the only copy is now in this client"
	                : "leaves it on the server (\"leave messages on server\")");
	g_autoptr(MsConn) c = mua_connect_server(mua, s, "pop3", MUA_ACT_FETCH, error);
	if (!c)
		return FALSE;
	g_autoptr(Pop3Client) pc = pop3_client_new(c);
	guint32 count = 0;
	gboolean ok = pop3_client_greeting(pc, error) && pop3_client_capa(pc, error) &&
	              mua_secure_session(mua, c, s, MUA_ACT_FETCH, pop3_client_has_capability(pc, "STLS"),
	                                 &pop3_tls, pc, TRUE, error) &&
	              pop3_client_login(pc, mua_server_user(mua, s), mua->password, error) &&
	              pop3_client_stat(pc, &count, NULL, error);
	MuaFolder *inbox = mua_folder(mua, MUA_FOLDER_INBOX, TRUE);
	guint first_new = inbox->messages->len;
	if (ok && count > 0) {
		/* RFC 1939 7: UIDL tells which messages this client has already */
		g_autoptr(GHashTable) uids = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
		GError *local = NULL;
		g_autoptr(GPtrArray) uidl = pop3_client_uidl(pc, &local);
		if (!uidl && g_error_matches(local, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_ERR)) {
			mua_emit(mua, MS_EV_NOTE, MUA_ACT_FETCH, s->hostname, "no UIDL: messages are told apart by Message-ID");
			g_clear_error(&local);
		} else if (!uidl) {
			g_propagate_error(error, local);
			ok = FALSE;
		}
		for (guint i = 0; uidl && i < uidl->len; i++) {
			Pop3Entry *e = g_ptr_array_index(uidl, i);
			g_hash_table_insert(uids, GUINT_TO_POINTER(e->msg), g_strdup(e->uid));
		}
		g_autoptr(GPtrArray) list = ok ? pop3_client_list(pc, error) : NULL;
		ok = ok && list != NULL;
		for (guint i = 0; ok && i < list->len; i++) {
			guint32 msg = ((Pop3Entry *)g_ptr_array_index(list, i))->msg;
			const char *uid = g_hash_table_lookup(uids, GUINT_TO_POINTER(msg));
			if (uid && g_hash_table_contains(mua->pop3_seen, uid))
				continue;
			GBytes *data = pop3_client_retr(pc, msg, error);
			if (!data) {
				ok = FALSE;
				break;
			}
			MuaLocalMessage *lm = mua_local_message_new(data);
			g_bytes_unref(data);
			gboolean dup = FALSE;
			for (guint j = 0; !uid && lm->message_id && j < inbox->messages->len; j++)
				dup = dup || g_strcmp0(((MuaLocalMessage *)g_ptr_array_index(inbox->messages, j))->message_id,
				                       lm->message_id) == 0;
			if (dup) {
				mua_local_message_free(lm);
				continue;
			}
			lm->pop3_uid = g_strdup(uid);
			if (uid)
				g_hash_table_add(mua->pop3_seen, g_strdup(uid));
			g_ptr_array_add(inbox->messages, lm);
		}
		/* RFC 1939 6: marked now, deleted when QUIT ends the session */
		for (guint32 msg = 1; ok && delete && msg <= count; msg++)
			ok = pop3_client_dele(pc, msg, error);
	}
	if (ok)
		ok = pop3_client_quit(pc, error);
	else
		pop3_client_quit(pc, NULL);
	mua->last_fetched = inbox->messages->len - first_new;
	if (ok)
		note_new(mua, inbox->messages, first_new, s->hostname);
	return ok;
}

gboolean mua_fetch(Mua *mua, MuaProtocol protocol, gboolean delete, GError **error)
{
	if (!need_account(mua, error))
		return FALSE;
	MailConfigProtocol p = protocol == MUA_PROTOCOL_IMAP ? MAILCONFIG_PROTOCOL_IMAP
	                     : protocol == MUA_PROTOCOL_POP3 ? MAILCONFIG_PROTOCOL_POP3
	                     : mua->incoming->protocol;
	mua->last_fetched = 0;
	GError *local = NULL;
	gboolean ok = p == MAILCONFIG_PROTOCOL_POP3 ? fetch_pop3(mua, delete, &local) : fetch_imap(mua, &local);
	if (!ok) {
		mua_emit(mua, MS_EV_ERROR, MUA_ACT_FETCH, NULL, "fetching failed: %s", local->message);
		g_propagate_error(error, local);
		return FALSE;
	}
	/* the protocol of the last fetch is the one the user now works with */
	mua->mode = p;
	return TRUE;
}

/* ---- retr.*: acting on the first message ------------------------------------------------ */

static MuaLocalMessage *first_inbox(Mua *mua, GError **error)
{
	if (!need_account(mua, error))
		return NULL;
	MuaFolder *inbox = mua_folder(mua, MUA_FOLDER_INBOX, TRUE);
	if (inbox->messages->len == 0) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_NO_MESSAGE, "%s has no message in INBOX", mua->name);
		return NULL;
	}
	return g_ptr_array_index(inbox->messages, 0);
}

/* Will this action reach the server?  Over IMAP, for a message the server
 * knows (it has a UID); otherwise the change stays here. */
static gboolean on_server(Mua *mua, const MuaLocalMessage *lm)
{
	return mua->mode == MAILCONFIG_PROTOCOL_IMAP && (!lm || lm->uid != 0);
}

static const char *pop3_only_here(Mua *mua)
{
	return mua->mode == MAILCONFIG_PROTOCOL_POP3 ? "POP3 cannot tell the server, so only this client knows"
	                                             : "the server does not know this copy, so only this client knows";
}

/* Open IMAP, SELECT INBOX and STORE flags on one UID. */
static gboolean imap_store_one(Mua *mua, MuaAction action, guint32 uid, const char *flags, GError **error)
{
	ImapClient *ic = imap_open(mua, action, error);
	if (!ic)
		return FALSE;
	g_autofree char *set = g_strdup_printf("%u", uid);
	gboolean ok = imap_client_select(ic, MUA_FOLDER_INBOX, NULL, error) &&
	              imap_client_uid_store(ic, set, "+FLAGS", flags, error);
	imap_done(ic);
	return ok;
}

gboolean mua_mark_first(Mua *mua, MuaMark mark, GError **error)
{
	MuaLocalMessage *lm = first_inbox(mua, error);
	if (!lm)
		return FALSE;
	g_autofree char *subject = quoted_subject(lm);
	const char *what = mark == MUA_MARK_SEEN ? "read" : "flagged";
	const char *flag = mark == MUA_MARK_SEEN ? "(\\Seen)" : "(\\Flagged)";
	if (on_server(mua, lm)) {
		mua_emit(mua, MS_EV_STEP, MUA_ACT_FLAG, NULL, "%s marks %s as %s: the flag is kept on the server "
		         "(IMAP STORE), so every client sees it", mua->name, subject, what);
		if (!imap_store_one(mua, MUA_ACT_FLAG, lm->uid, flag, error))
			return FALSE;
	} else {
		mua_emit(mua, MS_EV_STEP, MUA_ACT_FLAG, NULL, "%s marks %s as %s: %s", mua->name, subject, what,
		         pop3_only_here(mua));
	}
	if (mark == MUA_MARK_SEEN)
		lm->seen = TRUE;
	else
		lm->flagged = TRUE;
	return TRUE;
}

typedef struct {
	guint32 uid;
} MoveArgs;

static gboolean op_move(ImapClient *ic, gpointer data, const char *folder, GError **error)
{
	MoveArgs *a = data;
	g_autofree char *set = g_strdup_printf("%u", a->uid);
	if (imap_client_has_capability(ic, "MOVE"))
		return imap_client_uid_move(ic, set, folder, error);
	/* RFC 6851 1: without MOVE, the three steps MOVE does at once */
	return imap_client_uid_copy(ic, set, folder, error) &&
	       imap_client_uid_store(ic, set, "+FLAGS", "(\\Deleted)", error) &&
	       imap_client_expunge(ic, set, error);
}

gboolean mua_move_first(Mua *mua, const char *folder, GError **error)
{
	g_return_val_if_fail(folder != NULL, FALSE);
	MuaLocalMessage *lm = first_inbox(mua, error);
	if (!lm)
		return FALSE;
	if (g_ascii_strcasecmp(folder, MUA_FOLDER_INBOX) == 0 || !*folder || strpbrk(folder, "\r\n")) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_CONFIG, "cannot move to \"%s\"", folder);
		return FALSE;
	}
	g_autofree char *subject = quoted_subject(lm);
	if (on_server(mua, lm)) {
		mua_emit(mua, MS_EV_STEP, MUA_ACT_MOVE, NULL, "%s moves %s to %s on the server (IMAP MOVE): "
		         "every client sees it there", mua->name, subject, folder);
		ImapClient *ic = imap_open(mua, MUA_ACT_MOVE, error);
		if (!ic)
			return FALSE;
		MoveArgs args = { lm->uid };
		gboolean ok = imap_client_select(ic, MUA_FOLDER_INBOX, NULL, error) &&
		              imap_into_folder(mua, ic, MUA_ACT_MOVE, folder, op_move, &args, error);
		imap_done(ic);
		if (!ok)
			return FALSE;
	} else {
		mua_emit(mua, MS_EV_STEP, MUA_ACT_MOVE, NULL, "%s moves %s to %s: %s; on the server it stays in "
		         "the one POP3 mailbox", mua->name, subject, folder, pop3_only_here(mua));
	}
	MuaFolder *inbox = mua_folder(mua, MUA_FOLDER_INBOX, TRUE);
	MuaLocalMessage *moved = g_ptr_array_steal_index(inbox->messages, 0);
	moved->uid = 0;   /* a new UID in the new folder, not known here */
	g_ptr_array_add(mua_folder(mua, folder, TRUE)->messages, moved);
	return TRUE;
}

gboolean mua_delete_first(Mua *mua, GError **error)
{
	MuaLocalMessage *lm = first_inbox(mua, error);
	if (!lm)
		return FALSE;
	g_autofree char *subject = quoted_subject(lm);
	if (on_server(mua, lm)) {
		mua_emit(mua, MS_EV_STEP, MUA_ACT_MOVE, NULL, "%s deletes %s on the server (\\Deleted, then EXPUNGE): "
		         "gone for every client", mua->name, subject);
		ImapClient *ic = imap_open(mua, MUA_ACT_MOVE, error);
		if (!ic)
			return FALSE;
		g_autofree char *set = g_strdup_printf("%u", lm->uid);
		gboolean ok = imap_client_select(ic, MUA_FOLDER_INBOX, NULL, error) &&
		              imap_client_uid_store(ic, set, "+FLAGS", "(\\Deleted)", error) &&
		              imap_client_expunge(ic, set, error);
		imap_done(ic);
		if (!ok)
			return FALSE;
	} else {
		mua_emit(mua, MS_EV_STEP, MUA_ACT_MOVE, NULL, "%s deletes %s: %s; the server keeps it until a "
		         "fetch says DELE", mua->name, subject, pop3_only_here(mua));
	}
	g_ptr_array_remove_index(mua_folder(mua, MUA_FOLDER_INBOX, TRUE)->messages, 0);
	return TRUE;
}

gboolean mua_create_folder(Mua *mua, const char *folder, GError **error)
{
	g_return_val_if_fail(folder != NULL, FALSE);
	if (!need_account(mua, error))
		return FALSE;
	if (!*folder || strpbrk(folder, "\r\n") || !g_utf8_validate(folder, -1, NULL)) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_CONFIG, "\"%s\" cannot name a folder", folder);
		return FALSE;
	}
	if (on_server(mua, NULL)) {
		mua_emit(mua, MS_EV_STEP, MUA_ACT_FOLDER, NULL, "%s creates the folder %s on the server (IMAP CREATE): "
		         "every client sees it", mua->name, folder);
		ImapClient *ic = imap_open(mua, MUA_ACT_FOLDER, error);
		if (!ic)
			return FALSE;
		GError *local = NULL;
		gboolean ok = imap_client_create(ic, folder, &local);
		/* RFC 5530 3: ALREADYEXISTS is what the user wanted anyway */
		if (!ok && g_strcmp0(imap_client_last_code(ic), "ALREADYEXISTS") == 0) {
			mua_emit(mua, MS_EV_NOTE, MUA_ACT_FOLDER, NULL, "%s exists already", folder);
			g_clear_error(&local);
			ok = TRUE;
		}
		imap_done(ic);
		if (!ok) {
			g_propagate_error(error, local);
			return FALSE;
		}
	} else {
		mua_emit(mua, MS_EV_STEP, MUA_ACT_FOLDER, NULL, "%s creates the folder %s in this client only: "
		         "POP3 knows one mailbox and no folders", mua->name, folder);
	}
	mua_folder(mua, folder, TRUE);
	return TRUE;
}

gboolean mua_save_draft(Mua *mua, const MuaMessage *msg, GError **error)
{
	g_return_val_if_fail(msg != NULL, FALSE);
	if (!need_account(mua, error))
		return FALSE;
	g_autoptr(GBytes) data = compose(mua, msg, NULL, NULL, TRUE, error);
	if (!data)
		return FALSE;
	static const char *const draft_flags[] = { "\\Draft", "\\Seen", NULL };
	return keep_copy(mua, data, MUA_ACT_DRAFT, MUA_FOLDER_DRAFTS, IMAP_MAILBOX_DRAFTS, draft_flags, error);
}

gboolean mua_reply_first(Mua *mua, const char *body, GError **error)
{
	MuaLocalMessage *lm = first_inbox(mua, error);
	if (!lm)
		return FALSE;
	gsize len;
	const char *data = g_bytes_get_data(lm->data, &len);
	g_autoptr(Rfc5322Header) h = rfc5322_parse_header(data ? data : "", len, error);
	if (!h)
		return FALSE;
	/* RFC 5322 3.6.3: answers go to Reply-To when there is one */
	const char *to = rfc5322_header_get(h, "Reply-To");
	if (!to)
		to = rfc5322_header_get(h, "From");
	if (!to) {
		g_set_error(error, MUA_ERROR, MUA_ERROR_NO_MESSAGE, "the first message has no sender to answer");
		return FALSE;
	}
	g_autofree char *subject = compose_reply_subject(lm->subject);
	const char *parent_id = rfc5322_header_get(h, "Message-ID");
	g_autofree char *refs = compose_reply_references(rfc5322_header_get(h, "References"),
	                                                 rfc5322_header_get(h, "In-Reply-To"), parent_id);
	MuaMessage reply = { .to = to, .subject = subject, .body = body };
	/* keep the message: a fetch during the send may drop lm */
	guint32 uid = lm->uid;
	gboolean tell_server = on_server(mua, lm);
	if (!send_message(mua, &reply, parent_id, refs, error))
		return FALSE;
	/* RFC 3501 2.3.2: \Answered, kept where the flags live */
	if (tell_server && !imap_store_one(mua, MUA_ACT_FLAG, uid, "(\\Answered)", error))
		return FALSE;
	GPtrArray *inbox = mua_folder(mua, MUA_FOLDER_INBOX, TRUE)->messages;
	if (inbox->len && g_ptr_array_index(inbox, 0) == lm)
		lm->answered = TRUE;
	return TRUE;
}
