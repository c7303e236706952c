/* agents/mra/pop3_proto.c - the POP3 grammar, both directions.
 *
 * Commands are a table: keyword and the shape of its arguments (RFC 1939 9,
 * RFC 2449 5, RFC 2595 4, RFC 5034 4).  Responses are status lines with
 * RFC 2449 8 response codes and RFC 1939 3 byte-stuffed multi-line bodies.
 */
#include "agents/mra/pop3_proto.h"

#include <string.h>

G_DEFINE_QUARK(pop3-proto-error-quark, pop3_proto_error)

const char *pop3_proto_error_to_string(Pop3ProtoError e)
{
	switch (e) {
	case POP3_PROTO_ERROR_SYNTAX:          return "SYNTAX";
	case POP3_PROTO_ERROR_UNKNOWN_COMMAND: return "UNKNOWN_COMMAND";
	case POP3_PROTO_ERROR_TOO_LONG:        return "TOO_LONG";
	}
	return "?";
}

/* How a command's arguments look. */
typedef enum {
	ARGS_NONE,       /* STAT */
	ARGS_OPT_MSG,    /* LIST [msg] */
	ARGS_MSG,        /* RETR msg */
	ARGS_MSG_LINES,  /* TOP msg n */
	ARGS_NAME,       /* USER name */
	ARGS_REST,       /* PASS the rest of the line, spaces included */
	ARGS_AUTH,       /* AUTH [mechanism [initial-response]] */
	ARGS_APOP,       /* APOP name digest */
} Pop3Args;

static const struct {
	const char *name;
	Pop3CommandKind kind;
	Pop3Args args;
} commands[] = {
	{ "USER", POP3_CMD_USER, ARGS_NAME },
	{ "PASS", POP3_CMD_PASS, ARGS_REST },
	{ "APOP", POP3_CMD_APOP, ARGS_APOP },
	{ "AUTH", POP3_CMD_AUTH, ARGS_AUTH },
	{ "STAT", POP3_CMD_STAT, ARGS_NONE },
	{ "LIST", POP3_CMD_LIST, ARGS_OPT_MSG },
	{ "RETR", POP3_CMD_RETR, ARGS_MSG },
	{ "DELE", POP3_CMD_DELE, ARGS_MSG },
	{ "RSET", POP3_CMD_RSET, ARGS_NONE },
	{ "NOOP", POP3_CMD_NOOP, ARGS_NONE },
	{ "QUIT", POP3_CMD_QUIT, ARGS_NONE },
	{ "UIDL", POP3_CMD_UIDL, ARGS_OPT_MSG },
	{ "TOP",  POP3_CMD_TOP,  ARGS_MSG_LINES },
	{ "CAPA", POP3_CMD_CAPA, ARGS_NONE },
	{ "STLS", POP3_CMD_STLS, ARGS_NONE },
};

const char *pop3_command_kind_to_string(Pop3CommandKind k)
{
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		if (commands[i].kind == k)
			return commands[i].name;
	return "?";
}

/* Arguments can be secrets (PASS, AUTH's initial response): they must
 * not linger in freed memory. */
static void wipe_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		g_free(s);
	}
}

void pop3_command_free(Pop3Command *cmd)
{
	if (!cmd)
		return;
	wipe_free(cmd->arg);
	wipe_free(cmd->arg2);
	g_free(cmd);
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct {
	const char *line;
	gsize len;
	gsize pos;
	GError **error;
} Pop3Parser;

static gboolean fail(Pop3Parser *p, Pop3ProtoError code, const char *msg)
{
	g_set_error_literal(p->error, POP3_PROTO_ERROR, code, msg);
	return FALSE;
}

/* RFC 1939 3: "keywords and arguments consist of printable ASCII" */
static gboolean is_arg_char(char c)
{
	return c > 0x20 && c < 0x7f;
}

/* One argument after one space: 1*printable, borrowed. */
static gboolean read_arg(Pop3Parser *p, const char **s_r, gsize *len_r)
{
	if (p->pos >= p->len || p->line[p->pos] != ' ')
		return fail(p, POP3_PROTO_ERROR_SYNTAX, "Missing argument");
	p->pos++;
	gsize start = p->pos;
	while (p->pos < p->len && is_arg_char(p->line[p->pos]))
		p->pos++;
	if (p->pos == start)
		return fail(p, POP3_PROTO_ERROR_SYNTAX, "Empty argument");
	if (p->pos < p->len && p->line[p->pos] != ' ')
		return fail(p, POP3_PROTO_ERROR_SYNTAX, "Invalid character in argument");
	*s_r = p->line + start;
	*len_r = p->pos - start;
	return TRUE;
}

/* A decimal number within 32 bits; positive unless zero_ok.  No sign, no
 * space, no overflow: "RETR -1" and "RETR 99999999999" are refused. */
static gboolean read_number(Pop3Parser *p, gboolean zero_ok, guint32 *n_r)
{
	const char *s;
	gsize len;
	if (!read_arg(p, &s, &len))
		return FALSE;
	guint64 v = 0;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]))
			return fail(p, POP3_PROTO_ERROR_SYNTAX, "Not a number");
		v = v * 10 + (guint64)(s[i] - '0');
		if (v > G_MAXUINT32)
			return fail(p, POP3_PROTO_ERROR_SYNTAX, "Number too large");
	}
	if (v == 0 && !zero_ok)
		return fail(p, POP3_PROTO_ERROR_SYNTAX, "Message numbers start at 1");
	*n_r = (guint32)v;
	return TRUE;
}

static gboolean read_string_arg(Pop3Parser *p, char **out_r)
{
	const char *s;
	gsize len;
	if (!read_arg(p, &s, &len))
		return FALSE;
	*out_r = g_strndup(s, len);
	return TRUE;
}

/* RFC 4422 3.1: mechanism names are 1 to 20 of [A-Z0-9-_] */
static gboolean valid_mechanism(const char *s)
{
	gsize len = strlen(s);
	if (len == 0 || len > POP3_PROTO_MAX_MECHANISM)
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isupper(s[i]) && !g_ascii_isdigit(s[i]) && s[i] != '-' && s[i] != '_')
			return FALSE;
	return TRUE;
}

/* RFC 5034 4: initial-response = base64 / "=" */
static gboolean valid_initial_response(const char *s)
{
	gsize len = strlen(s);
	if (len == 1 && s[0] == '=')
		return TRUE;
	if (len % 4 != 0)
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '+' && s[i] != '/' && s[i] != '=')
			return FALSE;
	return TRUE;
}

static gboolean parse_args(Pop3Parser *p, Pop3Args args, Pop3Command *cmd)
{
	switch (args) {
	case ARGS_NONE:
		return TRUE;
	case ARGS_OPT_MSG:
		if (p->pos == p->len)
			return TRUE;
		cmd->has_msg = TRUE;
		return read_number(p, FALSE, &cmd->msg);
	case ARGS_MSG:
		cmd->has_msg = TRUE;
		return read_number(p, FALSE, &cmd->msg);
	case ARGS_MSG_LINES:
		/* RFC 1939 7: TOP msg n, n a non-negative number of lines */
		cmd->has_msg = TRUE;
		return read_number(p, FALSE, &cmd->msg) && read_number(p, TRUE, &cmd->lines);
	case ARGS_NAME:
		return read_string_arg(p, &cmd->arg);
	case ARGS_REST:
		/* RFC 1939 7: PASS may treat spaces as part of the password */
		if (p->pos >= p->len || p->line[p->pos] != ' ' || p->pos + 1 == p->len)
			return fail(p, POP3_PROTO_ERROR_SYNTAX, "Missing argument");
		cmd->arg = g_strndup(p->line + p->pos + 1, p->len - p->pos - 1);
		p->pos = p->len;
		return TRUE;
	case ARGS_AUTH:
		/* a bare AUTH asks for the mechanisms (a common client habit) */
		if (p->pos == p->len)
			return TRUE;
		if (!read_string_arg(p, &cmd->arg))
			return FALSE;
		for (char *c = cmd->arg; *c; c++)
			*c = g_ascii_toupper(*c);
		if (!valid_mechanism(cmd->arg))
			return fail(p, POP3_PROTO_ERROR_SYNTAX, "Invalid SASL mechanism name");
		if (p->pos == p->len)
			return TRUE;
		if (!read_string_arg(p, &cmd->arg2))
			return FALSE;
		if (!valid_initial_response(cmd->arg2))
			return fail(p, POP3_PROTO_ERROR_SYNTAX, "Invalid base64 initial response");
		return TRUE;
	case ARGS_APOP:
		if (!read_string_arg(p, &cmd->arg) || !read_string_arg(p, &cmd->arg2))
			return FALSE;
		/* RFC 1939 7: the digest is 16 octets in hexadecimal */
		if (strlen(cmd->arg2) != 32 || strspn(cmd->arg2, "0123456789abcdefABCDEF") != 32)
			return fail(p, POP3_PROTO_ERROR_SYNTAX, "APOP digest must be 32 hex digits");
		for (char *c = cmd->arg2; *c; c++)
			*c = g_ascii_tolower(*c);
		return TRUE;
	}
	return FALSE;
}

Pop3Command *pop3_proto_parse_command(const char *line, gsize len, GError **error)
{
	g_return_val_if_fail(line != NULL || len == 0, NULL);
	Pop3Parser p = { .line = line ? line : "", .len = len, .error = error };

	/* RFC 2449 4: 255 octets including the CRLF the caller removed */
	if (len > POP3_PROTO_MAX_LINE - 2) {
		fail(&p, POP3_PROTO_ERROR_TOO_LONG, "Command line too long");
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n') {
			fail(&p, POP3_PROTO_ERROR_SYNTAX, "NUL, CR or LF in command line");
			return NULL;
		}
	}
	while (p.pos < len && g_ascii_isalpha(line[p.pos]))
		p.pos++;
	gsize row = 0;
	while (row < G_N_ELEMENTS(commands) &&
	       !(strlen(commands[row].name) == p.pos &&
	         g_ascii_strncasecmp(line, commands[row].name, p.pos) == 0))
		row++;
	if (row == G_N_ELEMENTS(commands) || (p.pos < len && line[p.pos] != ' ')) {
		fail(&p, POP3_PROTO_ERROR_UNKNOWN_COMMAND, "Unknown command");
		return NULL;
	}

	g_autoptr(Pop3Command) cmd = g_new0(Pop3Command, 1);
	cmd->kind = commands[row].kind;
	if (!parse_args(&p, commands[row].args, cmd))
		return NULL;
	if (p.pos != len) {
		fail(&p, POP3_PROTO_ERROR_SYNTAX, "Too many arguments");
		return NULL;
	}
	return g_steal_pointer(&cmd);
}

/* ---- responses ---------------------------------------------------------- */

const char *pop3_resp_code_to_string(Pop3RespCode c)
{
	switch (c) {
	case POP3_CODE_NONE:        return "";
	case POP3_CODE_LOGIN_DELAY: return "LOGIN-DELAY";
	case POP3_CODE_IN_USE:      return "IN-USE";
	case POP3_CODE_SYS_TEMP:    return "SYS/TEMP";
	case POP3_CODE_SYS_PERM:    return "SYS/PERM";
	case POP3_CODE_AUTH:        return "AUTH";
	}
	return "";
}

static void append_status(GString *out, const char *status, Pop3RespCode code, const char *text)
{
	gsize start = out->len;
	g_string_append(out, status);
	/* RFC 2449 8: "+OK" / "-ERR" SP "[" resp-code "]" SP text */
	if (code != POP3_CODE_NONE)
		g_string_append_printf(out, " [%s]", pop3_resp_code_to_string(code));
	if (text && *text) {
		g_string_append_c(out, ' ');
		for (const char *t = text; *t && out->len - start < POP3_PROTO_MAX_RESPONSE_LINE - 2; t++)
			g_string_append_c(out, (*t == '\r' || *t == '\n') ? ' ' : *t);
	}
	g_string_append(out, "\r\n");
}

void pop3_proto_append_ok(GString *out, Pop3RespCode code, const char *text)
{
	append_status(out, "+OK", code, text);
}

void pop3_proto_append_err(GString *out, Pop3RespCode code, const char *text)
{
	append_status(out, "-ERR", code, text);
}

/* Where the next c is at or after from, or len if none. */
static gsize next_of(const char *data, gsize from, gsize len, char c)
{
	const char *hit = memchr(data + from, c, len - from);
	return hit ? (gsize)(hit - data) : len;
}

void pop3_proto_stuff(Pop3Stuffer *st, GString *out, const char *data, gsize len)
{
	/* the next LF and CR, each looked for once: the text between goes out
	 * in one piece, and a message of bare LFs (or bare CRs) stays linear */
	gsize lf = 0, cr = 0;
	gboolean looked = FALSE;
	gsize i = 0;
	while (i < len) {
		char c = data[i];
		if (st->pending_cr) {
			st->pending_cr = FALSE;
			if (c == '\n') {
				g_string_append_len(out, "\r\n", 2);
				st->line_start = TRUE;
				i++;
				continue;
			}
			/* a bare CR is not a line end: pass it through */
			g_string_append_c(out, '\r');
			st->line_start = FALSE;
		}
		if (c == '\r') {
			st->pending_cr = TRUE;
			i++;
			continue;
		}
		if (c == '\n') {
			/* RFC 1939 3: lines end in CRLF */
			g_string_append_len(out, "\r\n", 2);
			st->line_start = TRUE;
			i++;
			continue;
		}
		/* RFC 1939 3: a line starting with the termination octet gets
		 * another one, so ".\r\n" can only ever mean the end */
		if (st->line_start && c == '.')
			g_string_append_c(out, '.');
		st->line_start = FALSE;
		if (!looked || lf < i)
			lf = next_of(data, i, len, '\n');
		if (!looked || cr < i)
			cr = next_of(data, i, len, '\r');
		looked = TRUE;
		gsize stop = MIN(lf, cr);
		g_string_append_len(out, data + i, (gssize)(stop - i));
		i = stop;
	}
}

void pop3_proto_stuff_end(Pop3Stuffer *st, GString *out)
{
	if (st->pending_cr || !st->line_start)
		g_string_append(out, "\r\n");
	st->pending_cr = FALSE;
	st->line_start = TRUE;
	g_string_append(out, ".\r\n");
}

void pop3_proto_append_multiline(GString *out, const char *data, gsize len)
{
	Pop3Stuffer st = POP3_STUFFER_INIT;
	pop3_proto_stuff(&st, out, data, len);
	pop3_proto_stuff_end(&st, out);
}

void pop3_proto_append_top(GString *out, const char *data, gsize len, guint32 lines)
{
	/* the header ends after the first empty line */
	gsize pos = 0;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		gsize next = nl ? (gsize)(nl - data) + 1 : len;
		gboolean blank = next - pos == 1 || (next - pos == 2 && data[pos] == '\r');
		pos = next;
		if (blank && nl)
			break;
	}
	/* then `lines` more lines of the body */
	for (guint32 n = 0; n < lines && pos < len; n++) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		pos = nl ? (gsize)(nl - data) + 1 : len;
	}
	pop3_proto_append_multiline(out, data, pos);
}

char *pop3_proto_apop_digest(const char *timestamp, const char *secret)
{
	g_autoptr(GChecksum) md5 = g_checksum_new(G_CHECKSUM_MD5);
	g_checksum_update(md5, (const guchar *)timestamp, -1);
	g_checksum_update(md5, (const guchar *)secret, -1);
	return g_strdup(g_checksum_get_string(md5));
}
