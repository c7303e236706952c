/* agents/mra/imap_server.c - one IMAP4rev1 session, server side (RFC 3501).
 *
 * A state (not authenticated, authenticated, selected) and a table of
 * commands, each with the states it is allowed in.  A command is read line
 * by line with its literals (RFC 3501 7.5, RFC 7888), parsed by
 * imap_proto.c and run; replies are gathered and sent when the client has
 * nothing more in flight.  The selected folder is the client's view of a
 * folder the agent shares: before a command, what other sessions and
 * deliveries changed is told as untagged EXISTS, EXPUNGE and FETCH.
 *
 * Course steps (docs/COURSE-STEPS.md): a command that acts carries its
 * action's step (retr.1-retr.6, in.8 for reading); the first one says
 * what the session is for, and the session's own exchanges (login, LIST,
 * LOGOUT) carry that step from then on, none before it: a session that
 * only APPENDs the Sent copy is retr.3 throughout, not in.8.
 */
#include "agents/mra/imap_server.h"
#include "agents/mra/imap_proto.h"
#include "agents/common/mime.h"
#include "agents/common/sasl.h"

#include <stdarg.h>
#include <string.h>

#define CAPABILITIES "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT " \
                     "SPECIAL-USE CHILDREN"
/* RFC 3501 6.2.2 and 7.2.1: mechanisms are offered before login only */

static const char *const state_names[] = {
	"not authenticated", "authenticated", "selected", "logout",
};

const char *imap_server_state_to_string(ImapServerState state)
{
	return (guint)state < G_N_ELEMENTS(state_names) ? state_names[state] : "?";
}

/* The flags kept on the server: RFC 3501 2.3.2 system flags, in the
 * Maildir file name (maildir.h); $Forwarded is Maildir's P. */
static const struct {
	guint       flag;
	const char *name;
} flag_table[] = {
	{ MAILDIR_FLAG_REPLIED, "\\Answered" },
	{ MAILDIR_FLAG_FLAGGED, "\\Flagged" },
	{ MAILDIR_FLAG_TRASHED, "\\Deleted" },
	{ MAILDIR_FLAG_SEEN,    "\\Seen" },
	{ MAILDIR_FLAG_DRAFT,   "\\Draft" },
	{ MAILDIR_FLAG_PASSED,  "$Forwarded" },
};
#define FLAG_LIST "(\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)"

typedef struct {
	MsConn         *conn;
	Mra            *mra;
	ImapServerState state;
	GString        *out;            /* replies not yet sent */
	GArray         *masked;         /* MsConnMasked, ascending: message data */
	GString        *cmd;            /* the command being read, literals included */
	char            line[IMAP_PROTO_MAX_LINE + 1];
	guint           bad_in_a_row;
	guint           auth_failures;

	/* authenticated */
	char           *user;
	Maildir        *md;             /* writes that must last (APPEND, COPY) */
	Maildir        *md_fast;        /* renames and reads: no fsync */

	/* selected */
	MraMailbox     *mb;
	char           *folder;         /* its Maildir name */
	gboolean        readonly;       /* EXAMINE */
	guint32         uidvalidity;
	GPtrArray      *view;           /* MaildirMessage*: message n is view[n - 1] */
	MraReader      *reader;         /* the view's files, read ahead when the disk is cold */
	GHashTable     *recent;         /* UIDs \Recent in this session */
	/* what the session is for: the action of its first command that acts */
	gboolean        has_purpose;
	MraAction       purpose;
	guint64         version;        /* of the shared state the view matches */
	gboolean        expunge_pending;/* the client must still be told of EXPUNGEs */
} ImapSession;

/* ---- small helpers ------------------------------------------------------ */

static void note(ImapSession *s, MraAction action, MsEventKind kind, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* An event about this session tagged with action's step, without changing
 * the step the replies carry. */
static void note(ImapSession *s, MraAction action, MsEventKind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	MsEvent ev = { .kind = kind, .from = ms_conn_local_name(s->conn), .to = ms_conn_peer_name(s->conn),
	               .proto = "imap", .step = mra_action_step(action), .text = text,
	               .conn = ms_conn_id(s->conn) };
	ms_bus_emit(ms_sched_bus(ms_conn_sched(s->conn)), &ev);
}

static void enter_state(ImapSession *s, ImapServerState state)
{
	if (state == s->state)
		return;
	ms_conn_emit(s->conn, MS_EV_NOTE, "IMAP state: %s -> %s", imap_server_state_to_string(s->state),
	             imap_server_state_to_string(state));
	s->state = state;
}

/* Send what is gathered: text as it is (one event per line), message
 * data with its summary. */
static gboolean flush(ImapSession *s)
{
	/* after a large message, the buffer's memory goes back */
	if (ms_conn_write_gathered(s->conn, &s->out, s->masked, 2 * IMAP_SERVER_FLUSH_AT, NULL))
		return TRUE;
	s->state = IMAP_STATE_LOGOUT;   /* the client is gone */
	return FALSE;
}

/* The replies that follow carry step: what is gathered so far goes out
 * under the step it was made under. */
static void use_step(ImapSession *s, const char *step)
{
	if (g_strcmp0(step, ms_conn_step(s->conn)) == 0)
		return;
	flush(s);
	ms_conn_set_step(s->conn, step);
}

/* The replies that follow are this action's; the session's first action
 * says what the session is for. */
static void set_step(ImapSession *s, MraAction action)
{
	if (!s->has_purpose) {
		s->has_purpose = TRUE;
		s->purpose = action;
	}
	use_step(s, mra_action_step(action));
}

/* The replies that follow are the session's own: its purpose's step, or
 * none before it has one. */
static void set_session_step(ImapSession *s)
{
	use_step(s, s->has_purpose ? mra_action_step(s->purpose) : NULL);
}

static void tagged(ImapSession *s, const char *tag, ImapCond cond, const char *code,
                   const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static void tagged(ImapSession *s, const char *tag, ImapCond cond, const char *code,
                   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	imap_proto_append_tagged(s->out, tag, cond, code, text);
}

static void untagged(ImapSession *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void untagged(ImapSession *s, const char *fmt, ...)
{
	va_list ap;
	g_string_append(s->out, "* ");
	va_start(ap, fmt);
	g_string_append_vprintf(s->out, fmt, ap);
	va_end(ap);
	g_string_append(s->out, "\r\n");
}

static void bye(ImapSession *s, const char *code, const char *text)
{
	imap_proto_append_tagged(s->out, NULL, IMAP_COND_BYE, code, text);
	s->state = IMAP_STATE_LOGOUT;
}

#define LINES_UNCOUNTED G_MAXUINT64

/* A literal holding message data, shown in events as a summary: what it
 * is, its size and its lines (counted here if LINES_UNCOUNTED). */
static void append_data_literal(ImapSession *s, const char *what, const char *data, gsize len, guint64 lines)
{
	g_string_append_printf(s->out, "{%" G_GSIZE_FORMAT "}\r\n", len);
	if (len == 0)
		return;
	if (lines == LINES_UNCOUNTED) {
		lines = 0;
		for (const char *p = data, *end = data + len; (p = memchr(p, '\n', (gsize)(end - p))); p++)
			lines++;
	}
	MsConnMasked m = { s->out->len, len,
	                   g_strdup_printf("(%s: %" G_GSIZE_FORMAT " bytes, %" G_GUINT64_FORMAT " lines)", what, len, lines) };
	g_array_append_val(s->masked, m);
	g_string_append_len(s->out, data, (gssize)len);
}

static void append_flags(GString *out, guint flags, gboolean recent)
{
	const char *names[G_N_ELEMENTS(flag_table) + 1];
	guint n = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(flag_table); i++)
		if (flags & flag_table[i].flag)
			names[n++] = flag_table[i].name;
	if (recent)
		names[n++] = "\\Recent";
	imap_proto_append_flag_list(out, names, n);
}

/* The flags of a STORE or APPEND list that the server keeps.  \Recent is
 * the server's alone (RFC 3501 2.3.2); other keywords are not kept
 * (PERMANENTFLAGS does not offer \*). */
static guint flags_from_names(const GPtrArray *names)
{
	guint flags = 0;
	for (guint i = 0; names && i < names->len; i++)
		for (gsize j = 0; j < G_N_ELEMENTS(flag_table); j++)
			if (g_ascii_strcasecmp(names->pdata[i], flag_table[j].name) == 0)
				flags |= flag_table[j].flag;
	return flags;
}

static gboolean is_recent(ImapSession *s, const MaildirMessage *m)
{
	return g_hash_table_contains(s->recent, GUINT_TO_POINTER(m->uid));
}

/* The tag at the start of a line, for a BAD reply when the command could
 * not be parsed at all; NULL if there is none (reply "* BAD"). */
static char *tag_of(const char *line, gsize len)
{
	gsize n = 0;
	/* RFC 3501 9: tag = 1*<any ASTRING-CHAR except "+"> */
	while (n < len && n <= 64 && g_ascii_isgraph(line[n]) && !strchr("(){%*\"\\+", line[n]))
		n++;
	if (n == 0 || n > 64 || (n < len && line[n] != ' '))
		return NULL;
	return g_strndup(line, n);
}

/* The Maildir folder an IMAP mailbox name (modified UTF-7, '/' between
 * levels) names, or NULL with an error for a NO. */
static char *folder_of(const char *mailbox, GError **error)
{
	g_autofree char *utf8 = imap_proto_mailbox_name_check(mailbox, error);
	if (!utf8)
		return NULL;
	if (strchr(utf8, MAILDIR_SEPARATOR)) {
		g_set_error(error, IMAP_PROTO_ERROR, IMAP_PROTO_ERROR_MAILBOX_NAME,
		            "'%c' separates folder levels in a Maildir++ directory: use '%c' instead",
		            MAILDIR_SEPARATOR, IMAP_PROTO_HIERARCHY_SEP);
		return NULL;
	}
	g_strdelimit(utf8, (const char[]){ IMAP_PROTO_HIERARCHY_SEP, 0 }, MAILDIR_SEPARATOR);
	if (!maildir_folder_name_validate(utf8, strlen(utf8), error))
		return NULL;
	return g_steal_pointer(&utf8);
}

/* The IMAP name (UTF-8, '/' between levels) of a Maildir folder. */
static char *name_of(const char *folder)
{
	char *name = g_strdup(folder);
	g_strdelimit(name, (const char[]){ MAILDIR_SEPARATOR, 0 }, IMAP_PROTO_HIERARCHY_SEP);
	return name;
}

/* Bare LF line ends become CRLF (RFC 3501 2.3.4: message data has CRLF).
 * Takes bytes; returns them, or a converted copy.  *lines_r (may be NULL):
 * how many lines, counted on the way. */
static GBytes *crlf_normalize(GBytes *bytes, guint64 *lines_r)
{
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);
	gsize bare = 0;
	guint64 lines = 0;
	for (const char *p = data, *end = data + len; (p = memchr(p, '\n', (gsize)(end - p))); p++) {
		lines++;
		if (p == data || p[-1] != '\r')
			bare++;
	}
	if (lines_r)
		*lines_r = lines;
	if (bare == 0)
		return bytes;
	GString *out = g_string_sized_new(len + bare);
	for (gsize i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			g_string_append_c(out, '\r');
		g_string_append_c(out, data[i]);
	}
	g_bytes_unref(bytes);
	return g_string_free_to_bytes(out);
}

/* ---- reading ------------------------------------------------------------ */

/* One line into s->line; FALSE when the client is gone. */
static gboolean read_line(ImapSession *s, gssize *n_r, MsEol *eol_r)
{
	if (ms_conn_pending(s->conn) == 0 && !flush(s))
		return FALSE;
	g_autoptr(GError) err = NULL;
	gssize n = ms_conn_read_line(s->conn, s->line, IMAP_PROTO_MAX_LINE, eol_r, &err);
	if (n < 0) {
		if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
			bye(s, NULL, "Autologout; idle for too long");   /* RFC 3501 5.4 */
			flush(s);
		}
		return FALSE;
	}
	if (*eol_r == MS_EOL_EOF)
		return FALSE;   /* closed, perhaps in the middle of a line */
	*n_r = n;
	return TRUE;
}

typedef enum {
	READ_COMMAND,   /* s->cmd holds a whole command */
	READ_REFUSED,   /* it was refused and the reply gathered; read the next */
	READ_GONE,      /* the client left or the session must end */
} ReadResult;

/* A literal over the limits was announced: refuse it without keeping a
 * byte of it. */
static ReadResult refuse_literal(ImapSession *s, guint64 size, gboolean nonsync)
{
	g_autofree char *tag = tag_of(s->cmd->str, s->cmd->len);
	ms_conn_emit(s->conn, MS_EV_REFUSE, "literal of %" G_GUINT64_FORMAT " octets refused (at most %u per "
	             "literal, %u per command)", size, IMAP_PROTO_MAX_LITERAL, IMAP_PROTO_MAX_COMMAND);
	if (!nonsync) {
		/* RFC 3501 7.5: without our "+", the client sends none of it */
		tagged(s, tag, IMAP_COND_BAD, "TOOBIG", "Literal too large: at most %u octets", IMAP_PROTO_MAX_LITERAL);
		return READ_REFUSED;
	}
	/* RFC 7888 4: a non-synchronising literal is already on its way */
	if (size > IMAP_SERVER_MAX_DISCARD) {
		bye(s, "TOOBIG", "Literal too large; closing the connection");
		return READ_GONE;
	}
	char sink[4096];
	for (guint64 left = size; left > 0;) {
		gsize n = (gsize)MIN(left, sizeof sink);
		if (!ms_conn_read_exact(s->conn, sink, n, NULL))
			return READ_GONE;
		left -= n;
	}
	/* and the rest of the line after it, which belongs to the refused command */
	gssize n;
	MsEol eol;
	if (!read_line(s, &n, &eol))
		return READ_GONE;
	tagged(s, tag, IMAP_COND_BAD, "TOOBIG", "Literal too large: at most %u octets", IMAP_PROTO_MAX_LITERAL);
	return READ_REFUSED;
}

/* Read a command: a line, and while it ends with {N} or {N+} (RFC 3501
 * 7.5, RFC 7888), N octets and the next line. */
static ReadResult read_command(ImapSession *s)
{
	/* a 30 MB APPEND need not stay allocated for the rest of the session */
	if (s->cmd->allocated_len > IMAP_SERVER_FLUSH_AT) {
		g_string_free(s->cmd, TRUE);
		s->cmd = g_string_new(NULL);
	}
	g_string_truncate(s->cmd, 0);
	guint literals = 0;
	for (;;) {
		gssize n;
		MsEol eol;
		if (!read_line(s, &n, &eol))
			return READ_GONE;
		if (eol == MS_EOL_TOO_LONG || eol == MS_EOL_CR) {
			g_autofree char *tag = s->cmd->len ? tag_of(s->cmd->str, s->cmd->len) : tag_of(s->line, (gsize)n);
			if (eol == MS_EOL_TOO_LONG)
				tagged(s, tag, IMAP_COND_BAD, NULL, "Line too long: at most %d octets", IMAP_PROTO_MAX_LINE);
			else
				tagged(s, tag, IMAP_COND_BAD, NULL, "A line ends with CRLF, not a bare CR");
			return READ_REFUSED;
		}
		g_string_append_len(s->cmd, s->line, n);
		g_string_append(s->cmd, "\r\n");
		guint64 size = 0;
		gboolean nonsync = FALSE;
		ImapLiteral lit = imap_proto_line_literal(s->line, (gsize)n, &size, &nonsync);
		if (lit == IMAP_LITERAL_NONE)
			return READ_COMMAND;
		if (lit == IMAP_LITERAL_TOO_LARGE || s->cmd->len + size > IMAP_PROTO_MAX_COMMAND ||
		    ++literals > IMAP_PROTO_MAX_ARGS)
			return refuse_literal(s, size, nonsync);
		if (!nonsync) {
			/* the command is not known yet: the session's step */
			set_session_step(s);
			imap_proto_append_continuation(s->out, "Ready for literal data");
			if (!flush(s))
				return READ_GONE;
		}
		gsize at = s->cmd->len;
		g_string_set_size(s->cmd, at + (gsize)size);
		if (!ms_conn_read_exact(s->conn, s->cmd->str + at, (gsize)size, NULL))
			return READ_GONE;
	}
}

/* A peer's mistake.  FALSE when there were too many in a row. */
static gboolean bad_command(ImapSession *s)
{
	if (++s->bad_in_a_row < IMAP_SERVER_MAX_BAD)
		return TRUE;
	bye(s, NULL, "Too many invalid commands");
	return FALSE;
}

/* ---- the selected folder ------------------------------------------------ */

/* The view index of uid, or -1. */
static gint view_index(ImapSession *s, guint32 uid)
{
	guint lo = 0, hi = s->view->len;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		guint32 u = ((MaildirMessage *)s->view->pdata[mid])->uid;
		if (u == uid)
			return (gint)mid;
		if (u < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void deselect(ImapSession *s)
{
	g_clear_pointer(&s->mb, mra_mailbox_close);
	g_clear_pointer(&s->reader, mra_reader_free);
	g_clear_pointer(&s->folder, g_free);
	g_ptr_array_set_size(s->view, 0);
	g_hash_table_remove_all(s->recent);
	s->expunge_pending = FALSE;
	s->version = 0;
	if (s->state == IMAP_STATE_SELECTED)
		enter_state(s, IMAP_STATE_AUTHENTICATED);
}

static void append_fetch_flags(ImapSession *s, guint msn, const MaildirMessage *m)
{
	g_string_append_printf(s->out, "* %u FETCH (FLAGS ", msn);
	append_flags(s->out, m->flags, is_recent(s, m));
	g_string_append_printf(s->out, " UID %u)\r\n", m->uid);
}

/* Tell the client what changed in the shared folder since its view was
 * made: EXPUNGE (when allowed now), FETCH FLAGS, EXISTS and RECENT. */
static void view_update(ImapSession *s, gboolean expunge_ok)
{
	g_autoptr(GArray) changed = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GArray) expunged = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func((GDestroyNotify)maildir_message_free);
	if (!mra_mailbox_compare(s->mb, &s->version, s->expunge_pending, s->view, changed, expunged, added))
		return;
	s->expunge_pending = FALSE;
	if (expunged->len > 0 && !expunge_ok) {
		/* RFC 3501 7.4.1: not during FETCH, STORE or SEARCH, whose message
		 * numbers must keep meaning what the client meant */
		s->expunge_pending = TRUE;
	} else if (expunged->len > 0) {
		/* each EXPUNGE renumbers the messages after it: the highest first
		 * leaves the numbers of the others as they are */
		g_autofree gboolean *gone = g_new0(gboolean, s->view->len + 1);
		for (guint k = expunged->len; k-- > 0;) {
			guint32 uid = g_array_index(expunged, guint32, k);
			gint i = view_index(s, uid);
			if (i < 0)
				continue;
			untagged(s, "%d EXPUNGE", i + 1);
			gone[i] = TRUE;
			g_hash_table_remove(s->recent, GUINT_TO_POINTER(uid));
		}
		GPtrArray *keep = g_ptr_array_new_full(s->view->len, (GDestroyNotify)maildir_message_free);
		for (guint i = 0; i < s->view->len; i++) {
			if (gone[i])
				maildir_message_free(s->view->pdata[i]);
			else
				g_ptr_array_add(keep, s->view->pdata[i]);
		}
		g_ptr_array_set_free_func(s->view, NULL);
		g_ptr_array_unref(s->view);
		s->view = keep;
	}
	for (guint k = 0; k < changed->len; k++) {
		gint i = view_index(s, g_array_index(changed, guint32, k));
		if (i >= 0)
			append_fetch_flags(s, (guint)i + 1, s->view->pdata[i]);
	}
	if (added->len > 0) {
		for (guint i = 0; i < added->len; i++) {
			MaildirMessage *m = added->pdata[i];
			added->pdata[i] = NULL;
			/* read-only: new/ is what nobody claimed yet */
			if (s->readonly && m->in_new)
				g_hash_table_add(s->recent, GUINT_TO_POINTER(m->uid));
			g_ptr_array_add(s->view, m);
		}
		untagged(s, "%u EXISTS", s->view->len);
		untagged(s, "%u RECENT", g_hash_table_size(s->recent));
	}
}

/* Bring the selected folder up to date and tell the client. */
static void sync_selected(ImapSession *s, gboolean full, gboolean expunge_ok)
{
	g_autoptr(GError) err = NULL;
	if (!mra_mailbox_refresh(s->mb, s->md_fast, full, &err)) {
		g_autofree char *text = g_strdup_printf("The selected folder is gone: %s", err->message);
		bye(s, "UNAVAILABLE", text);
		return;
	}
	if (mra_mailbox_uidvalidity(s->mb) != s->uidvalidity) {
		/* RFC 3501 2.3.1.1: UIDs may not change during a session */
		bye(s, "UNAVAILABLE", "The folder's UIDVALIDITY changed; please reconnect");
		return;
	}
	if (!s->readonly) {
		g_autoptr(GArray) claimed = g_array_new(FALSE, FALSE, sizeof(guint32));
		mra_mailbox_claim_recent(s->mb, s->md_fast, claimed, NULL);
		for (guint i = 0; i < claimed->len; i++)
			g_hash_table_add(s->recent, GUINT_TO_POINTER(g_array_index(claimed, guint32, i)));
	}
	view_update(s, expunge_ok);
}

/* The first view index whose UID is at least uid. */
static guint view_lower_bound(ImapSession *s, guint32 uid)
{
	guint left = 0, right = s->view->len;
	while (left < right) {
		guint mid = left + (right - left) / 2;
		if (((MaildirMessage *)s->view->pdata[mid])->uid < uid)
			left = mid + 1;
		else
			right = mid;
	}
	return left;
}

typedef struct {
	guint from, to;   /* view indices [from, to) */
} Span;

static gint span_compare(gconstpointer a, gconstpointer b)
{
	const Span *x = a, *y = b;
	return x->from < y->from ? -1 : x->from > y->from;
}

/* The view indices a sequence set names, ascending and each once.  RFC
 * 3501 9: a message number must exist ("*" is the last); UIDs that name
 * no message are simply not there (6.4.8).  NULL with a reason when a
 * number is out of range.  Each range becomes a span of indices (by binary
 * search for UIDs), so "UID FETCH 7" costs nothing like the folder's size. */
static GArray *resolve_set(ImapSession *s, const ImapSeqSet *set, gboolean uid, char **why_r)
{
	guint n = s->view->len;
	guint32 max_uid = n ? ((MaildirMessage *)s->view->pdata[n - 1])->uid : 0;
	g_autoptr(GArray) spans = g_array_new(FALSE, FALSE, sizeof(Span));
	for (guint r = 0; r < imap_proto_seqset_n_ranges(set); r++) {
		guint32 a, b;
		imap_proto_seqset_range(set, r, &a, &b);
		if (!uid && ((a != IMAP_SEQ_STAR && a > n) || (b != IMAP_SEQ_STAR && b > n))) {
			*why_r = g_strdup_printf("Invalid message number: the folder has %u message%s", n,
			                         n == 1 ? "" : "s");
			return NULL;
		}
		if (n == 0)
			continue;
		guint32 last = uid ? max_uid : n;
		guint32 lo = a == IMAP_SEQ_STAR ? last : a, hi = b == IMAP_SEQ_STAR ? last : b;
		if (lo > hi) {
			guint32 t = lo;
			lo = hi;
			hi = t;
		}
		Span sp;
		if (uid) {
			sp.from = view_lower_bound(s, lo);
			sp.to = hi == G_MAXUINT32 ? n : view_lower_bound(s, hi + 1);
		} else {
			sp.from = lo - 1;
			sp.to = hi;
		}
		if (sp.from < sp.to)
			g_array_append_val(spans, sp);
	}
	g_array_sort(spans, span_compare);
	GArray *out = g_array_new(FALSE, FALSE, sizeof(guint));
	guint done = 0;   /* indices below this are in out */
	for (guint k = 0; k < spans->len; k++) {
		const Span *sp = &g_array_index(spans, Span, k);
		for (guint i = MAX(sp->from, done); i < sp->to; i++)
			g_array_append_val(out, i);
		done = MAX(done, sp->to);
	}
	return out;
}

/* "4:6,9" from UIDs in their order (RFC 4315 3: COPYUID's two sets
 * correspond element by element). */
static void append_uid_set(GString *out, const GArray *uids)
{
	for (guint i = 0; i < uids->len;) {
		guint32 first = g_array_index(uids, guint32, i), last = first;
		guint j = i + 1;
		while (j < uids->len && g_array_index(uids, guint32, j) == last + 1)
			last = g_array_index(uids, guint32, j++);
		if (i > 0)
			g_string_append_c(out, ',');
		if (last != first)
			g_string_append_printf(out, "%u:%u", first, last);
		else
			g_string_append_printf(out, "%u", first);
		i = j;
	}
}

/* ---- commands: any state ------------------------------------------------ */

/* What the server offers now: STARTTLS before TLS, and no passwords in
 * the clear when it must not take them (RFC 2595 3.2: LOGINDISABLED). */
static char *capabilities(ImapSession *s)
{
	if (s->state != IMAP_STATE_NOT_AUTHENTICATED)
		return g_strdup(CAPABILITIES);
	gboolean tls = ms_conn_is_tls(s->conn);
	GString *c = g_string_new(CAPABILITIES);
	if (mra_tls_cert(s->mra) && !tls)
		g_string_append(c, " STARTTLS");
	if (mra_login_needs_tls(s->mra) && !tls)
		g_string_append(c, " LOGINDISABLED");
	else
		g_string_append(c, " AUTH=PLAIN AUTH=LOGIN");
	return g_string_free(c, FALSE);
}

static void cmd_capability(ImapSession *s, const ImapCommand *cmd)
{
	g_autofree char *caps = capabilities(s);
	untagged(s, "CAPABILITY %s", caps);
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Capability completed");
}

static void cmd_noop(ImapSession *s, const ImapCommand *cmd)
{
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "%s completed", imap_command_kind_to_string(cmd->kind));
}

static void cmd_logout(ImapSession *s, const ImapCommand *cmd)
{
	bye(s, NULL, "Logging out");
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Logout completed");
}

static void cmd_id(ImapSession *s, const ImapCommand *cmd)
{
	/* RFC 2971 3.1: the server's own fields; the client's are only shown */
	untagged(s, "ID (\"name\" \"mailsim\" \"vendor\" \"mailsim, a mail course\")");
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "ID completed");
}

/* ---- commands: not authenticated ---------------------------------------- */

static void cmd_starttls(ImapSession *s, const ImapCommand *cmd)
{
	if (!mra_tls_cert(s->mra)) {
		tagged(s, cmd->tag, IMAP_COND_BAD, NULL, "STARTTLS is not available: this server has no certificate");
		return;
	}
	if (ms_conn_is_tls(s->conn)) {
		tagged(s, cmd->tag, IMAP_COND_BAD, NULL, "TLS is already active");
		return;
	}
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Begin TLS negotiation now");
	flush(s);
	/* RFC 3501 6.2.1: the client asks for the capabilities again after */
	if (!ms_conn_starttls(s->conn, mra_tls_cert(s->mra), NULL))
		s->state = IMAP_STATE_LOGOUT;
}

static void login(ImapSession *s, const char *tag, const char *user, const char *password)
{
	if (mra_login_needs_tls(s->mra) && !ms_conn_is_tls(s->conn)) {
		tagged(s, tag, IMAP_COND_NO, "PRIVACYREQUIRED", "Use STARTTLS first: no passwords in the clear");
		return;
	}
	g_autoptr(GError) err = NULL;
	AuthsvcResult r = mra_authenticate(s->mra, ms_conn_step(s->conn), user, password, &err);
	if (r == AUTHSVC_TEMPFAIL) {
		ms_conn_emit(s->conn, MS_EV_ERROR, "the account service could not be asked: %s",
		             err ? err->message : "no answer");
		tagged(s, tag, IMAP_COND_NO, "UNAVAILABLE", "The account service cannot be reached; try again later");
		return;
	}
	if (r == AUTHSVC_NO) {
		ms_conn_emit(s->conn, MS_EV_AUTH, "login refused for %s", user);
		tagged(s, tag, IMAP_COND_NO, "AUTHENTICATIONFAILED", "Authentication failed");
		if (++s->auth_failures >= IMAP_SERVER_MAX_AUTH_FAILURES)
			bye(s, NULL, "Too many failed logins");
		return;
	}
	s->md = mra_user_maildir(s->mra, user, TRUE, &err);
	s->md_fast = s->md ? mra_user_maildir(s->mra, user, FALSE, &err) : NULL;
	if (!s->md_fast) {
		g_clear_pointer(&s->md, maildir_free);
		ms_conn_emit(s->conn, MS_EV_ERROR, "no mailbox for %s: %s", user, err->message);
		tagged(s, tag, IMAP_COND_NO, "UNAVAILABLE", "Your mailbox cannot be opened");
		return;
	}
	s->user = g_ascii_strdown(user, -1);
	ms_conn_emit(s->conn, MS_EV_AUTH, "%s logged in", s->user);
	enter_state(s, IMAP_STATE_AUTHENTICATED);
	tagged(s, tag, IMAP_COND_OK, "CAPABILITY " CAPABILITIES, "Logged in");
}

static void cmd_login(ImapSession *s, const ImapCommand *cmd)
{
	login(s, cmd->tag, cmd->user, cmd->password);
}

/* One SASL response line (RFC 3501 6.2.2); NULL when cancelled or bad,
 * with the reply gathered. */
static char *sasl_read(ImapSession *s, const char *tag, const char *challenge)
{
	imap_proto_append_continuation(s->out, challenge);
	gssize n;
	MsEol eol;
	if (!read_line(s, &n, &eol)) {
		s->state = IMAP_STATE_LOGOUT;
		return NULL;
	}
	if (eol != MS_EOL_CRLF && eol != MS_EOL_LF) {
		tagged(s, tag, IMAP_COND_BAD, NULL, "Authentication line too long or broken");
		return NULL;
	}
	if (sasl_is_cancel(s->line, (gsize)n)) {
		tagged(s, tag, IMAP_COND_BAD, NULL, "Authentication cancelled");
		return NULL;
	}
	return g_strndup(s->line, (gsize)n);
}

static void cmd_authenticate(ImapSession *s, const ImapCommand *cmd)
{
	SaslMech mech;
	if (!sasl_mech_from_string(cmd->mechanism, &mech)) {
		tagged(s, cmd->tag, IMAP_COND_NO, "CANNOT", "Unsupported authentication mechanism");
		return;
	}
	g_autofree char *user = NULL, *password = NULL;
	g_autoptr(GError) err = NULL;
	if (mech == SASL_MECH_PLAIN) {
		g_autofree char *resp = cmd->initial_response ? g_strdup(cmd->initial_response)
		                                              : sasl_read(s, cmd->tag, "");
		if (!resp)
			return;
		g_autoptr(SaslCredentials) cr = sasl_plain_decode(resp, strlen(resp), &err);
		if (cr && cr->authzid[0] && strcmp(cr->authzid, cr->authcid) != 0) {
			tagged(s, cmd->tag, IMAP_COND_NO, "AUTHORIZATIONFAILED", "Acting as another user is not allowed");
			return;
		}
		if (cr) {
			user = g_strdup(cr->authcid);
			password = g_strdup(cr->passwd);
		}
	} else {
		g_autofree char *u64 = cmd->initial_response ? g_strdup(cmd->initial_response)
		                                             : sasl_read(s, cmd->tag, SASL_LOGIN_PROMPT_USERNAME);
		if (!u64)
			return;
		user = sasl_login_decode(u64, strlen(u64), &err);
		if (user) {
			g_autofree char *p64 = sasl_read(s, cmd->tag, SASL_LOGIN_PROMPT_PASSWORD);
			if (!p64)
				return;
			password = sasl_login_decode(p64, strlen(p64), &err);
		}
	}
	if (!user || !password || !*user) {
		tagged(s, cmd->tag, IMAP_COND_BAD, NULL, "Malformed authentication response: %s",
		       err ? err->message : "empty");
		return;
	}
	login(s, cmd->tag, user, password);
}

/* ---- commands: authenticated -------------------------------------------- */

static void cmd_select(ImapSession *s, const ImapCommand *cmd)
{
	/* RFC 3501 6.3.1: a SELECT, even a failed one, closes the folder first */
	deselect(s);
	g_autoptr(GError) err = NULL;
	g_autofree char *folder = folder_of(cmd->mailbox, &err);
	if (!folder) {
		tagged(s, cmd->tag, IMAP_COND_NO, "CANNOT", "%s", err->message);
		return;
	}
	MraMailbox *mb = mra_mailbox_open(s->mra, s->md_fast, folder, FALSE, &err);
	if (!mb) {
		gboolean missing = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
		tagged(s, cmd->tag, IMAP_COND_NO, missing ? "NONEXISTENT" : "SERVERBUG", "%s",
		       missing ? "No such folder" : err->message);
		return;
	}
	s->mb = mb;
	s->reader = mra_reader_new(s->md_fast);
	s->folder = g_steal_pointer(&folder);
	s->readonly = cmd->kind == IMAP_CMD_EXAMINE;
	s->uidvalidity = mra_mailbox_uidvalidity(mb);
	enter_state(s, IMAP_STATE_SELECTED);
	if (!s->readonly) {
		g_autoptr(GArray) claimed = g_array_new(FALSE, FALSE, sizeof(guint32));
		mra_mailbox_claim_recent(mb, s->md_fast, claimed, NULL);
		for (guint i = 0; i < claimed->len; i++)
			g_hash_table_add(s->recent, GUINT_TO_POINTER(g_array_index(claimed, guint32, i)));
	}
	g_autoptr(GArray) changed = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GArray) expunged = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GPtrArray) added = g_ptr_array_new();
	mra_mailbox_compare(mb, &s->version, TRUE, s->view, changed, expunged, added);
	g_ptr_array_extend_and_steal(s->view, g_steal_pointer(&added));
	guint first_unseen = 0;
	for (guint i = 0; i < s->view->len; i++) {
		MaildirMessage *m = s->view->pdata[i];
		if (s->readonly && m->in_new)
			g_hash_table_add(s->recent, GUINT_TO_POINTER(m->uid));
		if (!first_unseen && !(m->flags & MAILDIR_FLAG_SEEN))
			first_unseen = i + 1;
	}
	/* RFC 3501 6.3.1: the responses a SELECT must give */
	untagged(s, "FLAGS " FLAG_LIST);
	untagged(s, "OK [PERMANENTFLAGS %s] %s", s->readonly ? "()" : FLAG_LIST,
	         s->readonly ? "Read-only folder" : "Flags permitted");
	untagged(s, "%u EXISTS", s->view->len);
	untagged(s, "%u RECENT", g_hash_table_size(s->recent));
	if (first_unseen)
		untagged(s, "OK [UNSEEN %u] First unseen", first_unseen);
	untagged(s, "OK [UIDVALIDITY %u] UIDs valid", s->uidvalidity);
	untagged(s, "OK [UIDNEXT %u] Predicted next UID", mra_mailbox_uidnext(mb));
	g_autofree char *name = name_of(s->folder);
	ms_conn_emit(s->conn, MS_EV_NOTE, "%s opened %s%s: %u message(s), %u new", s->user, name,
	             s->readonly ? " read-only" : "", s->view->len, g_hash_table_size(s->recent));
	tagged(s, cmd->tag, IMAP_COND_OK, s->readonly ? "READ-ONLY" : "READ-WRITE", "%s completed",
	       imap_command_kind_to_string(cmd->kind));
}

/* A mailbox argument as a folder, or NULL with the NO reply gathered. */
static char *folder_arg(ImapSession *s, const char *tag, const char *mailbox)
{
	g_autoptr(GError) err = NULL;
	char *folder = folder_of(mailbox, &err);
	if (!folder)
		tagged(s, tag, IMAP_COND_NO, "CANNOT", "%s", err->message);
	return folder;
}

static gboolean is_inbox(const char *folder)
{
	return strcmp(maildir_folder_canonical(folder), MAILDIR_INBOX) == 0;
}

static void cmd_create(ImapSession *s, const ImapCommand *cmd)
{
	set_step(s, MRA_ACTION_FOLDER);
	/* RFC 3501 6.3.3: a trailing separator says "a parent of others" */
	g_autofree char *name = g_strdup(cmd->mailbox);
	gsize len = strlen(name);
	if (len > 1 && name[len - 1] == IMAP_PROTO_HIERARCHY_SEP)
		name[len - 1] = '\0';
	g_autofree char *folder = folder_arg(s, cmd->tag, name);
	if (!folder)
		return;
	g_autoptr(GError) err = NULL;
	if (is_inbox(folder) || maildir_folder_exists(s->md, folder)) {
		tagged(s, cmd->tag, IMAP_COND_NO, "ALREADYEXISTS", "The folder exists already");
		return;
	}
	if (!mra_folder_create(s->mra, s->md, folder, &err)) {
		tagged(s, cmd->tag, IMAP_COND_NO, g_error_matches(err, G_IO_ERROR, G_IO_ERROR_EXISTS) ? "ALREADYEXISTS"
		       : "CANNOT", "%s", err->message);
		return;
	}
	g_autofree char *shown = name_of(folder);
	note(s, MRA_ACTION_FOLDER, MS_EV_NOTE, "folder %s created on the server: every IMAP client of %s "
	     "sees it (POP3 knows only the inbox)", shown, s->user);
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Create completed");
}

static void cmd_delete(ImapSession *s, const ImapCommand *cmd)
{
	set_step(s, MRA_ACTION_FOLDER);
	g_autofree char *folder = folder_arg(s, cmd->tag, cmd->mailbox);
	if (!folder)
		return;
	if (is_inbox(folder)) {
		tagged(s, cmd->tag, IMAP_COND_NO, "CANNOT", "INBOX cannot be deleted");   /* RFC 3501 6.3.4 */
		return;
	}
	if (s->folder && strcmp(s->folder, folder) == 0) {
		tagged(s, cmd->tag, IMAP_COND_NO, "INUSE", "Close the folder before deleting it");
		return;
	}
	g_autoptr(GError) err = NULL;
	if (!maildir_folder_delete(s->md, folder, &err)) {
		gboolean missing = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
		tagged(s, cmd->tag, IMAP_COND_NO, missing ? "NONEXISTENT" : "CANNOT", "%s",
		       missing ? "No such folder" : err->message);
		return;
	}
	g_autofree char *shown = name_of(folder);
	note(s, MRA_ACTION_FOLDER, MS_EV_NOTE, "folder %s deleted on the server, with its messages", shown);
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Delete completed");
}

static void cmd_rename(ImapSession *s, const ImapCommand *cmd)
{
	set_step(s, MRA_ACTION_FOLDER);
	g_autofree char *from = folder_arg(s, cmd->tag, cmd->mailbox);
	if (!from)
		return;
	g_autofree char *to = folder_arg(s, cmd->tag, cmd->new_mailbox);
	if (!to)
		return;
	if (is_inbox(from) || is_inbox(to)) {
		tagged(s, cmd->tag, IMAP_COND_NO, "CANNOT", "Renaming INBOX is not supported here");
		return;
	}
	g_autoptr(GError) err = NULL;
	if (!maildir_folder_rename(s->md, from, to, &err)) {
		const char *code = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_EXISTS)      ? "ALREADYEXISTS"
		                   : g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ? "NONEXISTENT"
		                                                                            : "CANNOT";
		tagged(s, cmd->tag, IMAP_COND_NO, code, "%s", err->message);
		return;
	}
	g_autofree char *a = name_of(from), *b = name_of(to);
	note(s, MRA_ACTION_FOLDER, MS_EV_NOTE, "folder %s renamed to %s on the server", a, b);
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Rename completed");
}

static void cmd_subscribe(ImapSession *s, const ImapCommand *cmd)
{
	set_step(s, MRA_ACTION_FOLDER);
	gboolean on = cmd->kind == IMAP_CMD_SUBSCRIBE;
	g_autofree char *folder = folder_arg(s, cmd->tag, cmd->mailbox);
	if (!folder)
		return;
	g_autoptr(GError) err = NULL;
	if (!maildir_subscription_set(s->md, maildir_folder_canonical(folder), on, &err)) {
		tagged(s, cmd->tag, IMAP_COND_NO, "SERVERBUG", "%s", err->message);
		return;
	}
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "%s completed", on ? "Subscribe" : "Unsubscribe");
}

/* RFC 3501 6.3.8: '*' matches anything, '%' anything but the hierarchy
 * separator.  A table of booleans, not backtracking: linear in the
 * pattern times the name, whatever the pattern. */
static gboolean list_match(const char *pattern, const char *name)
{
	gsize m = strlen(pattern), n = strlen(name);
	g_autofree gboolean *prev = g_new0(gboolean, n + 1);
	g_autofree gboolean *cur = g_new0(gboolean, n + 1);
	prev[0] = TRUE;
	for (gsize i = 0; i < m; i++) {
		char c = pattern[i];
		gboolean wild = c == '*' || c == '%';
		cur[0] = prev[0] && wild;
		for (gsize j = 1; j <= n; j++) {
			if (c == '*')
				cur[j] = prev[j] || cur[j - 1];
			else if (c == '%')
				cur[j] = prev[j] || (cur[j - 1] && name[j - 1] != IMAP_PROTO_HIERARCHY_SEP);
			else
				cur[j] = prev[j - 1] && name[j - 1] == c;
		}
		gboolean *t = prev;
		prev = cur;
		cur = t;
	}
	return prev[n];
}

/* Does a folder's IMAP name (modified UTF-7) match?  RFC 3501 5.1: the
 * INBOX part of a name is case-insensitive. */
static gboolean folder_matches(const char *pattern, const char *mutf7)
{
	if (g_ascii_strncasecmp(pattern, MAILDIR_INBOX, 5) == 0 && strncmp(mutf7, MAILDIR_INBOX, 5) == 0) {
		g_autofree char *p = g_strdup(pattern);
		memcpy(p, MAILDIR_INBOX, 5);
		return list_match(p, mutf7);
	}
	return list_match(pattern, mutf7);
}

static void cmd_list(ImapSession *s, const ImapCommand *cmd)
{
	gboolean lsub = cmd->kind == IMAP_CMD_LSUB;
	const char *verb = lsub ? "LSUB" : "LIST";
	if (!lsub && !cmd->pattern[0]) {
		/* RFC 3501 6.3.8: the separator and the root of the reference */
		untagged(s, "LIST (\\Noselect) \"%c\" \"\"", IMAP_PROTO_HIERARCHY_SEP);
		tagged(s, cmd->tag, IMAP_COND_OK, NULL, "List completed");
		return;
	}
	g_autofree char *pattern = g_strconcat(cmd->reference, cmd->pattern, NULL);
	if (strlen(pattern) > IMAP_SERVER_MAX_PATTERN) {
		tagged(s, cmd->tag, IMAP_COND_BAD, NULL, "Pattern too long: at most %d octets", IMAP_SERVER_MAX_PATTERN);
		return;
	}
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) folders = NULL;
	g_autoptr(GPtrArray) subscribed = NULL;
	if (!maildir_folder_list(s->md, &folders, &err) ||
	    (lsub && !maildir_subscriptions_read(s->md, &subscribed, &err))) {
		tagged(s, cmd->tag, IMAP_COND_NO, "SERVERBUG", "%s", err->message);
		return;
	}
	g_autoptr(GHashTable) subs = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; subscribed && i < subscribed->len; i++)
		g_hash_table_add(subs, subscribed->pdata[i]);
	for (guint i = 0; i < folders->len; i++) {
		const MaildirFolder *f = folders->pdata[i];
		if (lsub && !g_hash_table_remove(subs, f->name))
			continue;
		g_autofree char *utf8 = name_of(f->name);
		g_autofree char *mutf7 = imap_proto_mutf7_encode(utf8, NULL);
		if (!mutf7 || !folder_matches(pattern, mutf7))
			continue;
		GString *attrs = g_string_new(NULL);
		if (!f->selectable)
			g_string_append(attrs, " \\Noselect");
		g_string_append(attrs, f->has_children ? " \\HasChildren" : " \\HasNoChildren");   /* RFC 3348 */
		if (f->special_use != MAILDIR_SPECIAL_NONE && !is_inbox(f->name))
			g_string_append_printf(attrs, " %s", maildir_special_use_to_string(f->special_use));   /* RFC 6154 */
		g_string_append_printf(s->out, "* %s (%s) \"%c\" ", verb, attrs->len ? attrs->str + 1 : "",
		                       IMAP_PROTO_HIERARCHY_SEP);
		imap_proto_append_astring(s->out, mutf7);
		g_string_append(s->out, "\r\n");
		g_string_free(attrs, TRUE);
	}
	/* RFC 3501 6.3.9: a subscription outlives its folder */
	for (guint i = 0; lsub && i < subscribed->len; i++) {
		const char *name = subscribed->pdata[i];
		if (!g_hash_table_contains(subs, name))
			continue;
		g_autofree char *utf8 = name_of(name);
		g_autofree char *mutf7 = imap_proto_mutf7_encode(utf8, NULL);
		if (!mutf7 || !folder_matches(pattern, mutf7))
			continue;
		g_string_append_printf(s->out, "* LSUB (\\Noselect) \"%c\" ", IMAP_PROTO_HIERARCHY_SEP);
		imap_proto_append_astring(s->out, mutf7);
		g_string_append(s->out, "\r\n");
	}
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "%s completed", lsub ? "Lsub" : "List");
}

static void cmd_status(ImapSession *s, const ImapCommand *cmd)
{
	g_autofree char *folder = folder_arg(s, cmd->tag, cmd->mailbox);
	if (!folder)
		return;
	MraStatus st;
	g_autoptr(GError) err = NULL;
	if (!mra_mailbox_status(s->mra, s->md_fast, folder, &st, &err)) {
		gboolean missing = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
		tagged(s, cmd->tag, IMAP_COND_NO, missing ? "NONEXISTENT" : "SERVERBUG", "%s",
		       missing ? "No such folder" : err->message);
		return;
	}
	const guint32 values[] = { st.messages, st.recent, st.uidnext, st.uidvalidity, st.unseen };
	g_autofree char *utf8 = name_of(folder);
	g_string_append(s->out, "* STATUS ");
	imap_proto_append_mailbox(s->out, utf8);
	g_string_append(s->out, " (");
	gboolean first = TRUE;
	for (guint bit = 0; bit < G_N_ELEMENTS(values); bit++) {
		if (!(cmd->status_items & (1u << bit)))
			continue;
		g_string_append_printf(s->out, "%s%s %u", first ? "" : " ", imap_status_item_to_string(1u << bit),
		                       values[bit]);
		first = FALSE;
	}
	g_string_append(s->out, ")\r\n");
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Status completed");
}

static void cmd_append(ImapSession *s, const ImapCommand *cmd)
{
	g_autofree char *folder = folder_arg(s, cmd->tag, cmd->mailbox);
	if (!folder)
		return;
	if (!maildir_folder_exists(s->md, folder)) {
		/* RFC 3501 6.3.11: the client may create it and try again */
		tagged(s, cmd->tag, IMAP_COND_NO, "TRYCREATE", "No such folder");
		return;
	}
	if (g_bytes_get_size(cmd->message) == 0) {
		tagged(s, cmd->tag, IMAP_COND_NO, NULL, "An empty message cannot be saved");
		return;
	}
	guint flags = flags_from_names(cmd->flags);
	gint64 date_us = cmd->has_date ? imap_proto_date_time_to_unix(&cmd->date_time) * G_USEC_PER_SEC
	                               : mra_now_us(s->mra);
	MraAction action = (flags & MAILDIR_FLAG_DRAFT) ? MRA_ACTION_DRAFT
	                                                : mra_action_for_folder(folder, MRA_ACTION_RETRIEVE);
	set_step(s, action);
	g_autoptr(GBytes) message = crlf_normalize(g_bytes_ref(cmd->message), NULL);
	gsize len;
	const char *data = g_bytes_get_data(message, &len);
	guint32 uidvalidity = 0, uid = 0;
	g_autoptr(GError) err = NULL;
	if (!mra_mailbox_append(s->mra, s->md, folder, data, len, flags, date_us, &uidvalidity, &uid, &err)) {
		gboolean full = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
		tagged(s, cmd->tag, IMAP_COND_NO, full ? "OVERQUOTA" : "SERVERBUG", "%s", err->message);
		return;
	}
	g_autofree char *shown = name_of(folder);
	const char *why = action == MRA_ACTION_SENT  ? ": the sent mail is kept on the server for every client"
	                  : action == MRA_ACTION_DRAFT ? ": the draft is kept on the server"
	                  : action == MRA_ACTION_JUNK  ? ": filed as junk on the server"
	                                               : "";
	note(s, action, MS_EV_STORE, "APPEND: %" G_GSIZE_FORMAT " bytes saved in %s as UID %u%s", len, shown, uid, why);
	if (s->state == IMAP_STATE_SELECTED && strcmp(s->folder, maildir_folder_canonical(folder)) == 0)
		sync_selected(s, FALSE, TRUE);   /* RFC 3501 6.3.11: the client learns of it (EXISTS) */
	g_autofree char *code = g_strdup_printf("APPENDUID %u %u", uidvalidity, uid);   /* RFC 4315 3 */
	tagged(s, cmd->tag, IMAP_COND_OK, code, "Append completed");
}

static void cmd_namespace(ImapSession *s, const ImapCommand *cmd)
{
	/* RFC 2342 5: one personal namespace, no others */
	untagged(s, "NAMESPACE ((\"\" \"%c\")) NIL NIL", IMAP_PROTO_HIERARCHY_SEP);
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Namespace completed");
}

static void cmd_enable(ImapSession *s, const ImapCommand *cmd)
{
	/* RFC 5161 3.1: list what was enabled: no extension here needs it */
	untagged(s, "ENABLED");
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Enable completed");
}

/* ---- IDLE (RFC 2177) ----------------------------------------------------
 * The session waits for two things at once: the client's DONE and a
 * change of the folder.  A task blocks in one place only, so a helper task
 * reads the line (reading and writing one connection from two tasks is
 * allowed, net/conn.h) and unparks the session, which parks until
 * unparked by it, by the change notifier, or by its periodic look. */

typedef struct {
	gint    refs;     /* atomic: the session and the reader */
	gint    done;     /* atomic: the line (or an error) is in */
	MsConn *conn;
	MsTask *session;  /* a reference: the session may end before the reader */
	gssize  n;
	MsEol   eol;
	char    line[IMAP_PROTO_MAX_LINE + 1];
} IdleReader;

static void idle_reader_unref(IdleReader *r)
{
	if (!g_atomic_int_dec_and_test(&r->refs))
		return;
	ms_conn_unref(r->conn);
	ms_task_unref(r->session);
	g_free(r);
}

static void idle_reader_task(gpointer data)
{
	IdleReader *r = data;
	r->n = ms_conn_read_line(r->conn, r->line, IMAP_PROTO_MAX_LINE, &r->eol, NULL);
	g_atomic_int_set(&r->done, 1);
	ms_task_unpark(r->session);
	idle_reader_unref(r);
}

static void cmd_idle(ImapSession *s, const ImapCommand *cmd)
{
	imap_proto_append_continuation(s->out, "idling");
	if (!flush(s))
		return;
	IdleReader *r = g_new0(IdleReader, 1);
	r->refs = 2;
	r->conn = ms_conn_ref(s->conn);
	r->session = ms_task_ref(ms_task_self());
	g_autofree char *name = g_strdup_printf("%s:idle", ms_task_name(r->session));
	ms_task_spawn(ms_conn_sched(s->conn), name, idle_reader_task, r);
	MraMailbox *watched = s->mb;
	if (watched)
		mra_mailbox_watch(watched, r->session);
	MsSched *sched = ms_conn_sched(s->conn);
	gint64 every = mra_idle_rescan(s->mra);
	gint64 next_look = ms_sched_now(sched) + every;
	while (!g_atomic_int_get(&r->done)) {
		if (s->state == IMAP_STATE_SELECTED) {
			gboolean look = ms_sched_now(sched) >= next_look;
			if (look)
				next_look = ms_sched_now(sched) + every;
			/* RFC 2177 3: changes are told while idling, EXPUNGE included */
			sync_selected(s, look, TRUE);
			if (!flush(s) || s->state == IMAP_STATE_LOGOUT)
				break;
		}
		if (g_atomic_int_get(&r->done))
			break;
		if (ms_task_park(s->state == IMAP_STATE_SELECTED ? next_look : MS_FOREVER) == MS_PARK_CANCELLED) {
			s->state = IMAP_STATE_LOGOUT;
			break;
		}
	}
	if (watched)
		mra_mailbox_unwatch(watched, r->session);
	if (!g_atomic_int_get(&r->done)) {
		/* leaving without the client's answer: the reader ends with the connection */
		s->state = IMAP_STATE_LOGOUT;
		idle_reader_unref(r);
		return;
	}
	if (r->n < 0 || r->eol == MS_EOL_EOF) {
		if (r->n < 0)   /* the reader waited the whole autologout time */
			bye(s, NULL, "Autologout; idle for too long");
		s->state = IMAP_STATE_LOGOUT;
	} else if (r->eol == MS_EOL_TOO_LONG || !imap_proto_line_is_done(r->line, (gsize)r->n)) {
		tagged(s, cmd->tag, IMAP_COND_BAD, NULL, "Expected DONE to end IDLE");
	} else {
		tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Idle completed");
	}
	idle_reader_unref(r);
}

/* ---- commands: selected ------------------------------------------------- */

static void cmd_check(ImapSession *s, const ImapCommand *cmd)
{
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Check completed");
}

/* The UIDs of the view's \Deleted messages (in set, if given). */
static GArray *deleted_uids(ImapSession *s, const ImapSeqSet *set)
{
	GArray *uids = g_array_new(FALSE, FALSE, sizeof(guint32));
	guint32 max = s->view->len ? ((MaildirMessage *)s->view->pdata[s->view->len - 1])->uid : 0;
	for (guint i = 0; i < s->view->len; i++) {
		const MaildirMessage *m = s->view->pdata[i];
		if ((m->flags & MAILDIR_FLAG_TRASHED) && (!set || imap_proto_seqset_contains(set, m->uid, max)))
			g_array_append_val(uids, m->uid);
	}
	return uids;
}

/* Remove the \Deleted messages; how many went. */
static guint expunge_deleted(ImapSession *s, const ImapSeqSet *set, GError **error)
{
	g_autoptr(GArray) uids = deleted_uids(s, set);
	guint removed = 0;
	if (uids->len == 0)
		return 0;
	set_step(s, MRA_ACTION_DELETE);
	mra_mailbox_expunge(s->mb, s->md_fast, uids, &removed, error);
	if (removed > 0) {
		g_autofree char *shown = name_of(s->folder);
		note(s, MRA_ACTION_DELETE, MS_EV_NOTE, "%u message(s) removed from %s on the server: gone for "
		     "every client of %s", removed, shown, s->user);
	}
	return removed;
}

static void cmd_close(ImapSession *s, const ImapCommand *cmd)
{
	/* RFC 3501 6.4.2: expunge silently, unless read-only */
	if (!s->readonly)
		expunge_deleted(s, NULL, NULL);
	deselect(s);
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Close completed");
}

static void cmd_unselect(ImapSession *s, const ImapCommand *cmd)
{
	deselect(s);   /* RFC 3691 2: like CLOSE, without the expunge */
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Unselect completed");
}

static void cmd_expunge(ImapSession *s, const ImapCommand *cmd)
{
	if (s->readonly) {
		tagged(s, cmd->tag, IMAP_COND_NO, "READ-ONLY", "The folder is read-only (EXAMINE)");
		return;
	}
	g_autoptr(GError) err = NULL;
	expunge_deleted(s, cmd->uid ? cmd->set : NULL, &err);
	view_update(s, TRUE);   /* the EXPUNGE responses */
	if (err)
		tagged(s, cmd->tag, IMAP_COND_NO, "SERVERBUG", "%s", err->message);
	else
		tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Expunge completed");
}

/* ---- SEARCH (RFC 3501 6.4.4) -------------------------------------------- */

typedef struct {
	ImapSession          *s;
	const MaildirMessage *m;
	guint32               msn, max_msn, max_uid;
	gboolean              loaded;
	GBytes               *data;      /* NULL if the file is gone */
	MimePart             *root;
	char                 *lower;     /* the whole message, ASCII lower case */
} Probe;

static void probe_load(Probe *p)
{
	if (p->loaded)
		return;
	p->loaded = TRUE;
	GBytes *bytes = NULL;
	if (!mra_reader_read(p->s->reader, p->s->view, p->msn - 1, &bytes, NULL))
		return;
	p->data = crlf_normalize(bytes, NULL);
	gsize len;
	const char *data = g_bytes_get_data(p->data, &len);
	p->root = mime_parse(data, len);
}

/* ASCII case-insensitive substring (RFC 3501 6.4.4); linear (memmem on
 * lowered text), whatever the strings. */
static gboolean contains_ci(const char *hay, gsize hay_len, const char *needle)
{
	g_autofree char *n = g_ascii_strdown(needle, -1);
	return memmem(hay, hay_len, n, strlen(n)) != NULL;
}

static gboolean header_contains(Probe *p, const char *field, const char *value)
{
	probe_load(p);
	if (!p->data)
		return FALSE;
	const char *data = g_bytes_get_data(p->data, NULL);
	gsize pos = p->root->header_start;
	MimeHeaderField f;
	while (mime_header_next(data, &pos, p->root->header_end, &f)) {
		if (!mime_header_field_is(data, &f, field))
			continue;
		if (!*value)
			return TRUE;   /* RFC 3501 6.4.4: HEADER with "" asks only whether it is there */
		g_autofree char *v = mime_header_field_value(data, &f);
		g_autofree char *low = g_ascii_strdown(v, -1);
		if (contains_ci(low, strlen(low), value))
			return TRUE;
	}
	return FALSE;
}

static gboolean text_contains(Probe *p, gboolean body_only, const char *value)
{
	probe_load(p);
	if (!p->data)
		return FALSE;
	gsize len;
	const char *data = g_bytes_get_data(p->data, &len);
	if (!p->lower)
		p->lower = g_ascii_strdown(data, (gssize)len);
	gsize start = body_only ? MIN(p->root->body_start, len) : 0;
	return contains_ci(p->lower + start, len - start, value);
}

/* Days since 1970-01-01 of a date. */
static gint64 day_of_date(const ImapDate *d)
{
	return imap_proto_date_to_unix(d) / 86400;
}

/* The date of an RFC 5322 Date field ("Tue, 1 Jul 2003 10:52:37 +0200"),
 * time and zone disregarded (RFC 3501 6.4.4 SENT*). */
static gboolean sent_day(Probe *p, gint64 *day_r)
{
	probe_load(p);
	if (!p->data)
		return FALSE;
	g_autofree char *value = mime_part_header_get(g_bytes_get_data(p->data, NULL), p->root, "Date");
	if (!value)
		return FALSE;
	static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
	                                      "jul", "aug", "sep", "oct", "nov", "dec" };
	const char *s = strchr(value, ',') ? strchr(value, ',') + 1 : value;
	char mon[4] = { 0 };
	int day = 0, year = 0;
	if (sscanf(s, " %2d %3s %4d", &day, mon, &year) != 3)
		return FALSE;
	if (year < 50)
		year += 2000;   /* RFC 5322 4.3: obsolete two-digit years */
	else if (year < 1000)
		year += 1900;
	for (int i = 0; i < 12; i++) {
		if (g_ascii_strcasecmp(mon, months[i]) == 0 && day >= 1 && day <= 31) {
			ImapDate d = { year, i + 1, day };
			*day_r = day_of_date(&d);
			return TRUE;
		}
	}
	return FALSE;
}

static gboolean search_match(Probe *p, const ImapSearchKey *k)
{
	const MaildirMessage *m = p->m;
	gboolean recent = is_recent(p->s, m);
	gint64 internal_day = m->internal_date_us / G_USEC_PER_SEC / 86400;
	gint64 sday;
	switch (k->kind) {
	case IMAP_SEARCH_ALL:        return TRUE;
	case IMAP_SEARCH_ANSWERED:   return (m->flags & MAILDIR_FLAG_REPLIED) != 0;
	case IMAP_SEARCH_UNANSWERED: return !(m->flags & MAILDIR_FLAG_REPLIED);
	case IMAP_SEARCH_DELETED:    return (m->flags & MAILDIR_FLAG_TRASHED) != 0;
	case IMAP_SEARCH_UNDELETED:  return !(m->flags & MAILDIR_FLAG_TRASHED);
	case IMAP_SEARCH_DRAFT:      return (m->flags & MAILDIR_FLAG_DRAFT) != 0;
	case IMAP_SEARCH_UNDRAFT:    return !(m->flags & MAILDIR_FLAG_DRAFT);
	case IMAP_SEARCH_FLAGGED:    return (m->flags & MAILDIR_FLAG_FLAGGED) != 0;
	case IMAP_SEARCH_UNFLAGGED:  return !(m->flags & MAILDIR_FLAG_FLAGGED);
	case IMAP_SEARCH_SEEN:       return (m->flags & MAILDIR_FLAG_SEEN) != 0;
	case IMAP_SEARCH_UNSEEN:     return !(m->flags & MAILDIR_FLAG_SEEN);
	case IMAP_SEARCH_RECENT:     return recent;
	case IMAP_SEARCH_OLD:        return !recent;
	case IMAP_SEARCH_NEW:        return recent && !(m->flags & MAILDIR_FLAG_SEEN);
	case IMAP_SEARCH_KEYWORD:
	case IMAP_SEARCH_UNKEYWORD: {
		gboolean has = g_ascii_strcasecmp(k->value, "$Forwarded") == 0 && (m->flags & MAILDIR_FLAG_PASSED);
		return k->kind == IMAP_SEARCH_KEYWORD ? has : !has;
	}
	case IMAP_SEARCH_LARGER:     return m->size > k->number;
	case IMAP_SEARCH_SMALLER:    return m->size < k->number;
	case IMAP_SEARCH_BEFORE:     return internal_day < day_of_date(&k->date);
	case IMAP_SEARCH_ON:         return internal_day == day_of_date(&k->date);
	case IMAP_SEARCH_SINCE:      return internal_day >= day_of_date(&k->date);
	case IMAP_SEARCH_SENTBEFORE: return sent_day(p, &sday) && sday < day_of_date(&k->date);
	case IMAP_SEARCH_SENTON:     return sent_day(p, &sday) && sday == day_of_date(&k->date);
	case IMAP_SEARCH_SENTSINCE:  return sent_day(p, &sday) && sday >= day_of_date(&k->date);
	case IMAP_SEARCH_FROM:       return header_contains(p, "From", k->value);
	case IMAP_SEARCH_TO:         return header_contains(p, "To", k->value);
	case IMAP_SEARCH_CC:         return header_contains(p, "Cc", k->value);
	case IMAP_SEARCH_BCC:        return header_contains(p, "Bcc", k->value);
	case IMAP_SEARCH_SUBJECT:    return header_contains(p, "Subject", k->value);
	case IMAP_SEARCH_HEADER:     return header_contains(p, k->header, k->value);
	case IMAP_SEARCH_BODY:       return text_contains(p, TRUE, k->value);
	case IMAP_SEARCH_TEXT:       return text_contains(p, FALSE, k->value);
	case IMAP_SEARCH_UID:        return imap_proto_seqset_contains(k->set, m->uid, p->max_uid);
	case IMAP_SEARCH_SEQSET:     return imap_proto_seqset_contains(k->set, p->msn, p->max_msn);
	case IMAP_SEARCH_NOT:        return !search_match(p, k->children->pdata[0]);
	case IMAP_SEARCH_OR:
		return search_match(p, k->children->pdata[0]) || search_match(p, k->children->pdata[1]);
	case IMAP_SEARCH_AND:
		for (guint i = 0; i < k->children->len; i++)
			if (!search_match(p, k->children->pdata[i]))
				return FALSE;
		return TRUE;
	}
	return FALSE;
}

static void cmd_search(ImapSession *s, const ImapCommand *cmd)
{
	/* RFC 3501 6.4.4: US-ASCII must be known; UTF-8 is what clients send */
	if (cmd->charset && g_ascii_strcasecmp(cmd->charset, "UTF-8") != 0 &&
	    g_ascii_strcasecmp(cmd->charset, "US-ASCII") != 0) {
		tagged(s, cmd->tag, IMAP_COND_NO, "BADCHARSET (UTF-8 US-ASCII)", "Unknown charset %s", cmd->charset);
		return;
	}
	guint n = s->view->len;
	guint32 max_uid = n ? ((MaildirMessage *)s->view->pdata[n - 1])->uid : 0;
	g_string_append(s->out, "* SEARCH");
	for (guint i = 0; i < n; i++) {
		Probe p = { .s = s, .m = s->view->pdata[i], .msn = i + 1, .max_msn = n, .max_uid = max_uid };
		if (search_match(&p, cmd->search))
			g_string_append_printf(s->out, " %u", cmd->uid ? p.m->uid : p.msn);
		g_clear_pointer(&p.data, g_bytes_unref);
		g_clear_pointer(&p.root, mime_part_free);
		g_free(p.lower);
	}
	g_string_append(s->out, "\r\n");
	tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Search completed");
}

/* ---- FETCH (RFC 3501 6.4.5, 7.4.2) -------------------------------------- */

typedef struct {
	gboolean need_data;   /* the message's bytes */
	gboolean need_tree;   /* its MIME structure */
	gboolean sets_seen;   /* BODY[...] without PEEK, RFC822, RFC822.TEXT */
	gboolean has_flags, has_uid;
} FetchPlan;

static gboolean is_whole_message(const ImapFetchItem *item)
{
	return item->kind == IMAP_FETCH_RFC822 ||
	       (item->kind == IMAP_FETCH_BODY_SECTION && item->section.parts->len == 0 &&
	        item->section.text == IMAP_SECTION_BODY);
}

static FetchPlan fetch_plan(const ImapCommand *cmd)
{
	FetchPlan plan = { 0 };
	for (guint i = 0; i < cmd->fetch_items->len; i++) {
		const ImapFetchItem *item = cmd->fetch_items->pdata[i];
		switch (item->kind) {
		case IMAP_FETCH_FLAGS: plan.has_flags = TRUE; break;
		case IMAP_FETCH_UID: plan.has_uid = TRUE; break;
		case IMAP_FETCH_INTERNALDATE:
		case IMAP_FETCH_RFC822_SIZE: break;
		case IMAP_FETCH_ENVELOPE:
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODYSTRUCTURE:
		case IMAP_FETCH_RFC822_HEADER:
			plan.need_data = plan.need_tree = TRUE;
			break;
		case IMAP_FETCH_RFC822_TEXT:
			plan.need_data = plan.need_tree = plan.sets_seen = TRUE;
			break;
		case IMAP_FETCH_RFC822:
		case IMAP_FETCH_BODY_SECTION:
			plan.need_data = TRUE;
			/* the whole message needs no parsing: the common bulk fetch */
			if (!is_whole_message(item))
				plan.need_tree = TRUE;
			if (item->kind == IMAP_FETCH_RFC822 || !item->peek)
				plan.sets_seen = TRUE;
			break;
		}
	}
	return plan;
}

/* One fetch item's bytes: a section, RFC822.HEADER/TEXT, or the whole
 * message with an optional partial range.  NULL: the section names no
 * part of this message. */
static GBytes *fetch_item_bytes(const ImapFetchItem *item, GBytes *message, const MimePart *root)
{
	gsize len;
	const char *data = g_bytes_get_data(message, &len);
	if (is_whole_message(item)) {
		if (!item->partial)
			return g_bytes_ref(message);
		gsize from = MIN((gsize)item->partial_origin, len);
		return g_bytes_new_from_bytes(message, from, MIN((gsize)item->partial_count, len - from));
	}
	ImapSection section = { 0 };
	GArray *no_parts = g_array_new(FALSE, FALSE, sizeof(guint32));
	const ImapSection *sec = &item->section;
	if (item->kind == IMAP_FETCH_RFC822_HEADER || item->kind == IMAP_FETCH_RFC822_TEXT) {
		/* RFC 3501 6.4.5: RFC822.HEADER is BODY.PEEK[HEADER], RFC822.TEXT BODY[TEXT] */
		section.parts = no_parts;
		section.text = item->kind == IMAP_FETCH_RFC822_HEADER ? IMAP_SECTION_HEADER : IMAP_SECTION_TEXT;
		sec = &section;
	}
	GBytes *out = imap_proto_fetch_section(data, len, root, sec, item->partial, item->partial_origin,
	                                       item->partial_count);
	g_array_free(no_parts, TRUE);
	return out;
}

/* One message's FETCH response; FALSE if its file is gone. */
static gboolean fetch_one(ImapSession *s, const ImapCommand *cmd, const FetchPlan *plan, guint msn,
                          guint *seen_set)
{
	MaildirMessage *m = s->view->pdata[msn - 1];
	g_autoptr(GBytes) message = NULL;
	g_autoptr(MimePart) root = NULL;
	guint64 lines = LINES_UNCOUNTED;
	if (plan->need_data) {
		GBytes *bytes = NULL;
		if (!mra_reader_read(s->reader, s->view, msn - 1, &bytes, NULL))
			return FALSE;
		message = crlf_normalize(bytes, &lines);
	}
	gsize len = 0;
	const char *data = message ? g_bytes_get_data(message, &len) : NULL;
	if (plan->need_tree)
		root = mime_parse(data, len);

	gboolean flags_changed = FALSE;
	if (plan->sets_seen && !s->readonly && !(m->flags & MAILDIR_FLAG_SEEN)) {
		/* RFC 3501 6.4.5: reading a body sets \Seen, and says so */
		guint flags;
		if (mra_mailbox_change_flags(s->mb, s->md_fast, m->uid, MAILDIR_FLAG_SEEN, 0, &flags, NULL)) {
			m->flags = flags;
			flags_changed = TRUE;
			(*seen_set)++;
		}
	}

	GString *o = s->out;
	g_string_append_printf(o, "* %u FETCH (", msn);
	gboolean first = TRUE;
#define SEP() do { if (!first) g_string_append_c(o, ' '); first = FALSE; } while (0)
	if (cmd->uid && !plan->has_uid) {
		SEP();   /* RFC 3501 6.4.8: UID FETCH always tells the UID */
		g_string_append_printf(o, "UID %u", m->uid);
	}
	for (guint i = 0; i < cmd->fetch_items->len; i++) {
		const ImapFetchItem *item = cmd->fetch_items->pdata[i];
		SEP();
		switch (item->kind) {
		case IMAP_FETCH_FLAGS:
			g_string_append(o, "FLAGS ");
			append_flags(o, m->flags, is_recent(s, m));
			break;
		case IMAP_FETCH_UID:
			g_string_append_printf(o, "UID %u", m->uid);
			break;
		case IMAP_FETCH_INTERNALDATE:
			g_string_append(o, "INTERNALDATE ");
			imap_proto_append_internaldate(o, m->internal_date_us / G_USEC_PER_SEC, 0);
			break;
		case IMAP_FETCH_RFC822_SIZE:
			g_string_append_printf(o, "RFC822.SIZE %" G_GUINT64_FORMAT, m->size);
			break;
		case IMAP_FETCH_ENVELOPE:
			g_string_append(o, "ENVELOPE ");
			imap_proto_append_envelope(o, data, root);
			break;
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODYSTRUCTURE:
			g_string_append_printf(o, "%s ", imap_fetch_kind_to_string(item->kind));
			imap_proto_append_bodystructure(o, data, root, item->kind == IMAP_FETCH_BODYSTRUCTURE);
			break;
		case IMAP_FETCH_BODY_SECTION:
		case IMAP_FETCH_RFC822:
		case IMAP_FETCH_RFC822_HEADER:
		case IMAP_FETCH_RFC822_TEXT: {
			g_autofree char *name = imap_proto_fetch_item_name(item);
			g_string_append_printf(o, "%s ", name);
			g_autoptr(GBytes) part = fetch_item_bytes(item, message, root);
			if (!part) {
				g_string_append(o, "NIL");
				break;
			}
			gsize plen;
			const char *pdata = g_bytes_get_data(part, &plen);
			gboolean whole = is_whole_message(item) && !item->partial;
			append_data_literal(s, whole ? "message" : name, pdata, plen, whole ? lines : LINES_UNCOUNTED);
			break;
		}
		}
	}
	if (flags_changed && !plan->has_flags) {
		SEP();
		g_string_append(o, "FLAGS ");
		append_flags(o, m->flags, is_recent(s, m));
	}
#undef SEP
	g_string_append(o, ")\r\n");
	if (o->len >= IMAP_SERVER_FLUSH_AT)
		flush(s);
	return TRUE;
}

static void cmd_fetch(ImapSession *s, const ImapCommand *cmd)
{
	g_autofree char *why = NULL;
	g_autoptr(GArray) idx = resolve_set(s, cmd->set, cmd->uid, &why);
	if (!idx) {
		tagged(s, cmd->tag, IMAP_COND_BAD, NULL, "%s", why);
		return;
	}
	FetchPlan plan = fetch_plan(cmd);
	guint gone = 0, seen_set = 0;
	for (guint k = 0; k < idx->len && s->state != IMAP_STATE_LOGOUT; k++)
		if (!fetch_one(s, cmd, &plan, g_array_index(idx, guint, k) + 1, &seen_set))
			gone++;
	if (seen_set > 0) {
		g_autofree char *shown = name_of(s->folder);
		note(s, MRA_ACTION_FLAG, MS_EV_NOTE, "%u message(s) of %s read: \\Seen is kept on the server, "
		     "so every IMAP client of %s shows them read", seen_set, shown, s->user);
	}
	if (gone > 0)
		/* RFC 5530 3: another session expunged them; the client hears it later */
		tagged(s, cmd->tag, IMAP_COND_NO, "EXPUNGEISSUED", "Some of the messages were expunged meanwhile");
	else
		tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Fetch completed");
}

/* ---- STORE, COPY, MOVE -------------------------------------------------- */

static void cmd_store(ImapSession *s, const ImapCommand *cmd)
{
	if (s->readonly) {
		tagged(s, cmd->tag, IMAP_COND_NO, "READ-ONLY", "The folder is read-only (EXAMINE)");
		return;
	}
	g_autofree char *why = NULL;
	g_autoptr(GArray) idx = resolve_set(s, cmd->set, cmd->uid, &why);
	if (!idx) {
		tagged(s, cmd->tag, IMAP_COND_BAD, NULL, "%s", why);
		return;
	}
	guint flags = flags_from_names(cmd->flags), add = 0, remove = 0;
	switch (cmd->store_mode) {
	case IMAP_STORE_REPLACE: add = flags; remove = MAILDIR_FLAGS_ALL & ~flags; break;
	case IMAP_STORE_ADD:     add = flags; break;
	case IMAP_STORE_REMOVE:  remove = flags; break;
	}
	MraAction action = (flags & MAILDIR_FLAG_TRASHED) ? MRA_ACTION_DELETE : MRA_ACTION_FLAG;
	set_step(s, action);
	guint done = 0, gone = 0;
	for (guint k = 0; k < idx->len; k++) {
		guint i = g_array_index(idx, guint, k);
		MaildirMessage *m = s->view->pdata[i];
		guint now;
		if (!mra_mailbox_change_flags(s->mb, s->md_fast, m->uid, add, remove, &now, NULL)) {
			gone++;
			continue;
		}
		m->flags = now;
		done++;
		if (cmd->silent)
			continue;
		/* RFC 3501 6.4.6: the new flags of each message */
		g_string_append_printf(s->out, "* %u FETCH (FLAGS ", i + 1);
		append_flags(s->out, m->flags, is_recent(s, m));
		if (cmd->uid)
			g_string_append_printf(s->out, " UID %u", m->uid);
		g_string_append(s->out, ")\r\n");
	}
	if (done > 0) {
		g_autofree char *shown = name_of(s->folder);
		GString *names = g_string_new(NULL);
		for (guint i = 0; i < cmd->flags->len; i++)
			g_string_append_printf(names, "%s%s", i ? " " : "", (char *)cmd->flags->pdata[i]);
		note(s, action, MS_EV_NOTE, "%s%s (%s) on %u message(s) of %s, kept in the Maildir file names: "
		     "every IMAP client of %s sees it", cmd->store_mode == IMAP_STORE_REMOVE ? "-" :
		     cmd->store_mode == IMAP_STORE_ADD ? "+" : "", "FLAGS", names->str, done, shown, s->user);
		g_string_free(names, TRUE);
	}
	if (gone > 0)
		tagged(s, cmd->tag, IMAP_COND_NO, "EXPUNGEISSUED", "Some of the messages were expunged meanwhile");
	else
		tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Store completed");
}

static void cmd_copy(ImapSession *s, const ImapCommand *cmd)
{
	gboolean move = cmd->kind == IMAP_CMD_MOVE;
	const char *verb = move ? "Move" : "Copy";
	if (move && s->readonly) {
		tagged(s, cmd->tag, IMAP_COND_NO, "READ-ONLY", "The folder is read-only (EXAMINE)");
		return;
	}
	g_autofree char *why = NULL;
	g_autoptr(GArray) idx = resolve_set(s, cmd->set, cmd->uid, &why);
	if (!idx) {
		tagged(s, cmd->tag, IMAP_COND_BAD, NULL, "%s", why);
		return;
	}
	g_autofree char *folder = folder_arg(s, cmd->tag, cmd->mailbox);
	if (!folder)
		return;
	if (!maildir_folder_exists(s->md, folder)) {
		tagged(s, cmd->tag, IMAP_COND_NO, "TRYCREATE", "No such folder");   /* RFC 3501 6.4.7 */
		return;
	}
	if (idx->len == 0) {
		tagged(s, cmd->tag, IMAP_COND_OK, NULL, "No messages to %s", move ? "move" : "copy");
		return;
	}
	g_autoptr(GArray) uids = g_array_new(FALSE, FALSE, sizeof(guint32));
	for (guint k = 0; k < idx->len; k++)
		g_array_append_val(uids, ((MaildirMessage *)s->view->pdata[g_array_index(idx, guint, k)])->uid);
	MraAction action = mra_action_for_folder(folder, MRA_ACTION_DELETE);
	if (maildir_special_use_of(s->folder) == MAILDIR_SPECIAL_JUNK)
		action = MRA_ACTION_JUNK;   /* out of the junk folder: "not junk" */
	set_step(s, action);
	g_autoptr(GArray) done = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GArray) dst = g_array_new(FALSE, FALSE, sizeof(guint32));
	guint32 uidvalidity = 0;
	g_autoptr(GError) err = NULL;
	gboolean ok = mra_mailbox_copy(s->mb, s->md, uids, folder, move, done, dst, &uidvalidity, &err);
	g_autofree char *code = NULL;
	if (done->len > 0) {
		/* RFC 4315 3: COPYUID uidvalidity source-uids destination-uids */
		GString *c = g_string_new(NULL);
		g_string_append_printf(c, "COPYUID %u ", uidvalidity);
		append_uid_set(c, done);
		g_string_append_c(c, ' ');
		append_uid_set(c, dst);
		code = g_string_free(c, FALSE);
		g_autofree char *from = name_of(s->folder), *to = name_of(folder);
		note(s, action, MS_EV_STORE, "%s of %u message(s) from %s to %s on the server: every IMAP "
		     "client of %s sees it", move ? "move" : "copy", done->len, from, to, s->user);
	}
	if (move) {
		/* RFC 6851 4.3: COPYUID untagged, then the EXPUNGEs, then OK */
		if (code)
			untagged(s, "OK [%s] Moved", code);
		view_update(s, TRUE);
		if (ok)
			tagged(s, cmd->tag, IMAP_COND_OK, NULL, "Move completed");
	} else if (ok) {
		tagged(s, cmd->tag, IMAP_COND_OK, code, "Copy completed");
	}
	if (!ok) {
		gboolean gone = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
		tagged(s, cmd->tag, IMAP_COND_NO, gone ? "EXPUNGEISSUED" : "SERVERBUG", "%s failed: %s", verb,
		       err->message);
	}
}

/* ---- the command table -------------------------------------------------- */

#define IN(st)   (1u << (st))
#define NOAUTH   IN(IMAP_STATE_NOT_AUTHENTICATED)
#define AUTHED   (IN(IMAP_STATE_AUTHENTICATED) | IN(IMAP_STATE_SELECTED))
#define SELECTED IN(IMAP_STATE_SELECTED)
#define ANY      (NOAUTH | AUTHED)

/* Before a command in the selected state the client is told what changed:
 * cheaply (a look at the directories) or fully (the folder read again). */
typedef enum { SYNC_NONE, SYNC_CHEAP, SYNC_FULL } SyncRule;

/* The course step a command's replies carry: the session's own (login,
 * LIST, LOGOUT: what the session is for), reading (in.8), or the one the
 * command chooses when it knows its folder (APPEND into Sent: retr.3). */
typedef enum { STEP_SESSION, STEP_RETRIEVE, STEP_OWN } StepRule;

static const struct {
	ImapCommandKind kind;
	guint           states;
	SyncRule        sync;
	/* takes message numbers: no EXPUNGE before it unless it is a UID
	 * command (RFC 3501 7.4.1), or the numbers would shift under it */
	gboolean        numbers;
	StepRule        step;
	void (*run)(ImapSession *s, const ImapCommand *cmd);
} commands[] = {
	{ IMAP_CMD_CAPABILITY,   ANY,      SYNC_CHEAP, FALSE, STEP_SESSION,  cmd_capability },
	{ IMAP_CMD_NOOP,         ANY,      SYNC_FULL,  FALSE, STEP_SESSION,  cmd_noop },
	{ IMAP_CMD_LOGOUT,       ANY,      SYNC_NONE,  FALSE, STEP_SESSION,  cmd_logout },
	{ IMAP_CMD_ID,           ANY,      SYNC_CHEAP, FALSE, STEP_SESSION,  cmd_id },
	{ IMAP_CMD_STARTTLS,     NOAUTH,   SYNC_NONE,  FALSE, STEP_SESSION,  cmd_starttls },
	{ IMAP_CMD_AUTHENTICATE, NOAUTH,   SYNC_NONE,  FALSE, STEP_SESSION,  cmd_authenticate },
	{ IMAP_CMD_LOGIN,        NOAUTH,   SYNC_NONE,  FALSE, STEP_SESSION,  cmd_login },
	{ IMAP_CMD_SELECT,       AUTHED,   SYNC_NONE,  FALSE, STEP_RETRIEVE, cmd_select },
	{ IMAP_CMD_EXAMINE,      AUTHED,   SYNC_NONE,  FALSE, STEP_RETRIEVE, cmd_select },
	{ IMAP_CMD_CREATE,       AUTHED,   SYNC_CHEAP, FALSE, STEP_OWN,      cmd_create },
	{ IMAP_CMD_DELETE,       AUTHED,   SYNC_CHEAP, FALSE, STEP_OWN,      cmd_delete },
	{ IMAP_CMD_RENAME,       AUTHED,   SYNC_CHEAP, FALSE, STEP_OWN,      cmd_rename },
	{ IMAP_CMD_SUBSCRIBE,    AUTHED,   SYNC_CHEAP, FALSE, STEP_OWN,      cmd_subscribe },
	{ IMAP_CMD_UNSUBSCRIBE,  AUTHED,   SYNC_CHEAP, FALSE, STEP_OWN,      cmd_subscribe },
	{ IMAP_CMD_LIST,         AUTHED,   SYNC_CHEAP, FALSE, STEP_SESSION,  cmd_list },
	{ IMAP_CMD_LSUB,         AUTHED,   SYNC_CHEAP, FALSE, STEP_SESSION,  cmd_list },
	{ IMAP_CMD_STATUS,       AUTHED,   SYNC_CHEAP, FALSE, STEP_RETRIEVE, cmd_status },
	{ IMAP_CMD_APPEND,       AUTHED,   SYNC_CHEAP, FALSE, STEP_OWN,      cmd_append },
	{ IMAP_CMD_NAMESPACE,    AUTHED,   SYNC_CHEAP, FALSE, STEP_SESSION,  cmd_namespace },
	{ IMAP_CMD_IDLE,         AUTHED,   SYNC_NONE,  FALSE, STEP_RETRIEVE, cmd_idle },
	{ IMAP_CMD_ENABLE,       IN(IMAP_STATE_AUTHENTICATED), SYNC_NONE, FALSE, STEP_SESSION, cmd_enable },
	{ IMAP_CMD_CHECK,        SELECTED, SYNC_FULL,  FALSE, STEP_RETRIEVE, cmd_check },
	{ IMAP_CMD_CLOSE,        SELECTED, SYNC_NONE,  FALSE, STEP_RETRIEVE, cmd_close },
	{ IMAP_CMD_UNSELECT,     SELECTED, SYNC_NONE,  FALSE, STEP_RETRIEVE, cmd_unselect },
	{ IMAP_CMD_EXPUNGE,      SELECTED, SYNC_CHEAP, FALSE, STEP_RETRIEVE, cmd_expunge },
	{ IMAP_CMD_SEARCH,       SELECTED, SYNC_CHEAP, TRUE,  STEP_RETRIEVE, cmd_search },
	{ IMAP_CMD_FETCH,        SELECTED, SYNC_CHEAP, TRUE,  STEP_RETRIEVE, cmd_fetch },
	{ IMAP_CMD_STORE,        SELECTED, SYNC_CHEAP, TRUE,  STEP_RETRIEVE, cmd_store },
	{ IMAP_CMD_COPY,         SELECTED, SYNC_CHEAP, TRUE,  STEP_RETRIEVE, cmd_copy },
	{ IMAP_CMD_MOVE,         SELECTED, SYNC_CHEAP, TRUE,  STEP_RETRIEVE, cmd_copy },
};

/* Why a command cannot come now. */
static const char *wrong_state(guint allowed, ImapServerState state)
{
	if (state == IMAP_STATE_NOT_AUTHENTICATED)
		return "Log in first (LOGIN or AUTHENTICATE)";
	if (allowed == NOAUTH)
		return "Already logged in";
	if (allowed == SELECTED)
		return "No folder selected (SELECT or EXAMINE first)";
	return "Not allowed with a folder selected (UNSELECT first)";
}

static void dispatch(ImapSession *s, const ImapCommand *cmd)
{
	gsize row = 0;
	while (row < G_N_ELEMENTS(commands) && commands[row].kind != cmd->kind)
		row++;
	g_assert(row < G_N_ELEMENTS(commands));   /* the parser knows no other command */
	if (!(commands[row].states & IN(s->state))) {
		ms_conn_emit(s->conn, MS_EV_REFUSE, "%s refused in state %s", imap_command_kind_to_string(cmd->kind),
		             imap_server_state_to_string(s->state));
		tagged(s, cmd->tag, IMAP_COND_BAD, NULL, "%s", wrong_state(commands[row].states, s->state));
		bad_command(s);
		return;
	}
	s->bad_in_a_row = 0;
	if (commands[row].step == STEP_RETRIEVE)
		set_step(s, MRA_ACTION_RETRIEVE);
	else
		set_session_step(s);
	if (s->state == IMAP_STATE_SELECTED && commands[row].sync != SYNC_NONE) {
		sync_selected(s, commands[row].sync == SYNC_FULL, cmd->uid || !commands[row].numbers);
		if (s->state != IMAP_STATE_SELECTED)
			return;   /* the folder went away: BYE */
	}
	commands[row].run(s, cmd);
}

/* ---- the session -------------------------------------------------------- */

void imap_server_run(MsConn *conn, Mra *mra)
{
	ImapSession s = {
		.conn = conn, .mra = mra, .state = IMAP_STATE_NOT_AUTHENTICATED,
		.out = g_string_new(NULL), .masked = g_array_new(FALSE, FALSE, sizeof(MsConnMasked)),
		.cmd = g_string_new(NULL),
		.view = g_ptr_array_new_with_free_func((GDestroyNotify)maildir_message_free),
		.recent = g_hash_table_new(g_direct_hash, g_direct_equal),
	};
	ms_conn_set_proto(conn, "imap");
	ms_conn_set_step(conn, NULL);   /* what the session is for is not known yet */
	ms_conn_set_timeout(conn, IMAP_SERVER_TIMEOUT);
	/* RFC 3501 7.1.1: the greeting, with the capabilities (7.2.1) */
	g_autofree char *greeting = g_strdup_printf("%s mailsim IMAP4rev1 ready", mra_hostname(mra));
	g_autofree char *caps = capabilities(&s);
	g_autofree char *code = g_strconcat("CAPABILITY ", caps, NULL);
	imap_proto_append_tagged(s.out, NULL, IMAP_COND_OK, code, greeting);

	while (s.state != IMAP_STATE_LOGOUT) {
		ReadResult r = read_command(&s);
		if (r == READ_GONE)
			break;
		if (r == READ_REFUSED) {
			bad_command(&s);
			continue;
		}
		g_autofree char *tag = NULL;
		g_autoptr(GError) err = NULL;
		g_autoptr(ImapCommand) cmd = imap_proto_parse_command(s.cmd->str, s.cmd->len, &tag, &err);
		if (!cmd) {
			tagged(&s, tag, IMAP_COND_BAD, NULL, "%s", err->message);
			bad_command(&s);
			continue;
		}
		dispatch(&s, cmd);
	}
	flush(&s);
	ms_conn_close(conn);
	deselect(&s);
	g_clear_pointer(&s.md, maildir_free);
	g_clear_pointer(&s.md_fast, maildir_free);
	g_free(s.user);
	g_string_free(s.out, TRUE);
	g_array_free(s.masked, TRUE);
	g_string_free(s.cmd, TRUE);
	g_ptr_array_free(s.view, TRUE);
	g_hash_table_destroy(s.recent);
}
