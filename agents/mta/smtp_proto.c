/* agents/mta/smtp_proto.c - the SMTP and LMTP grammar: bytes in, structs out.
 *
 * Command parsing follows RFC 5321 4.1 (paths 4.1.2, parameters 4.1.2 and
 * the extensions' RFCs), replies RFC 5321 4.2 with RFC 3463 enhanced codes,
 * DATA transparency RFC 5321 4.5.2.  Every parser walks a bounded buffer
 * with a cursor and never reads past its end.
 */
#include "agents/mta/smtp_proto.h"

#include <string.h>

G_DEFINE_QUARK(smtp-proto-error-quark, smtp_proto_error)

void smtp_proto_limits_init(SmtpLimits *limits)
{
	g_return_if_fail(limits != NULL);
	*limits = (SmtpLimits)SMTP_LIMITS_INIT;
}

/* ---- names -------------------------------------------------------------- */

/* Finds the name of the single bit set in flag, from a table of names
 * indexed by bit number. */
static const char *bit_name(guint flag, const char *const *names, guint n_names)
{
	for (guint i = 0; i < n_names; i++)
		if (flag == (1u << i))
			return names[i];
	return "unknown";
}

const char *smtp_proto_path_flag_to_string(SmtpPathFlag flag)
{
	static const char *const names[] = {
		"null", "postmaster", "quoted", "source-route", "address-literal", "trailing-dot",
	};
	return bit_name(flag, names, G_N_ELEMENTS(names));
}

const char *smtp_proto_relay_trick_to_string(SmtpRelayTrick trick)
{
	static const char *const names[] = {
		"percent-hack", "bang-path", "source-route", "quoted-route", "ip-literal", "trailing-dot",
	};
	return bit_name(trick, names, G_N_ELEMENTS(names));
}

const char *smtp_proto_extension_to_string(SmtpExtension ext)
{
	static const char *const names[] = {
		"PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "AUTH",
		"STARTTLS", "SMTPUTF8", "CHUNKING", "DSN",
	};
	return bit_name(ext, names, G_N_ELEMENTS(names));
}

const char *smtp_proto_path_kind_to_string(SmtpPathKind kind)
{
	switch (kind) {
	case SMTP_PATH_REVERSE: return "reverse";
	case SMTP_PATH_FORWARD: return "forward";
	}
	return "unknown";
}

const char *smtp_proto_body_to_string(SmtpBody body)
{
	switch (body) {
	case SMTP_BODY_UNSPECIFIED: return "unspecified";
	case SMTP_BODY_7BIT:        return "7BIT";
	case SMTP_BODY_8BITMIME:    return "8BITMIME";
	}
	return "unknown";
}

const char *smtp_proto_reply_status_to_string(SmtpReplyStatus status)
{
	switch (status) {
	case SMTP_REPLY_NEED_MORE: return "need-more";
	case SMTP_REPLY_COMPLETE:  return "complete";
	case SMTP_REPLY_ERROR:     return "error";
	}
	return "unknown";
}

const char *smtp_proto_eol_to_string(SmtpEol eol)
{
	switch (eol) {
	case SMTP_EOL_CRLF:     return "crlf";
	case SMTP_EOL_LF:       return "lf";
	case SMTP_EOL_CR:       return "cr";
	case SMTP_EOL_EOF:      return "eof";
	case SMTP_EOL_TOO_LONG: return "too-long";
	}
	return "unknown";
}

const char *smtp_proto_data_status_to_string(SmtpDataStatus status)
{
	switch (status) {
	case SMTP_DATA_CONTINUE: return "continue";
	case SMTP_DATA_END:      return "end";
	case SMTP_DATA_CLOSED:   return "closed";
	}
	return "unknown";
}

/* ---- errors ------------------------------------------------------------- */

static const struct {
	const char *name;
	guint       code;
	const char *enhanced;
} error_table[] = {
	[SMTP_PROTO_ERROR_LINE_TOO_LONG]          = { "line-too-long",          500, "5.5.2" },
	[SMTP_PROTO_ERROR_BAD_CHARACTER]          = { "bad-character",          500, "5.5.2" },
	[SMTP_PROTO_ERROR_UNKNOWN_COMMAND]        = { "unknown-command",        500, "5.5.1" },
	[SMTP_PROTO_ERROR_SYNTAX]                 = { "syntax",                 501, "5.5.4" },
	[SMTP_PROTO_ERROR_BAD_SENDER]             = { "bad-sender",             501, "5.1.7" },
	[SMTP_PROTO_ERROR_BAD_RECIPIENT]          = { "bad-recipient",          501, "5.1.3" },
	[SMTP_PROTO_ERROR_BAD_PARAMETER]          = { "bad-parameter",          501, "5.5.4" },
	[SMTP_PROTO_ERROR_UNSUPPORTED_PARAMETER]  = { "unsupported-parameter",  555, "5.5.4" },
	[SMTP_PROTO_ERROR_BAD_REPLY]              = { "bad-reply",              0,   NULL },
};

const char *smtp_proto_error_to_string(SmtpProtoError e)
{
	if ((guint)e >= G_N_ELEMENTS(error_table))
		return "unknown";
	return error_table[e].name;
}

void smtp_proto_error_reply(const GError *error, guint *code_r, const char **enhanced_r)
{
	g_return_if_fail(error != NULL && code_r != NULL && enhanced_r != NULL);
	if (error->domain != SMTP_PROTO_ERROR || (guint)error->code >= G_N_ELEMENTS(error_table)) {
		/* Not ours: a local problem, so a transient failure. */
		*code_r = 451;
		*enhanced_r = "4.3.0";
		return;
	}
	*code_r = error_table[error->code].code;
	*enhanced_r = error_table[error->code].enhanced;
}

/* ---- a cursor over a bounded buffer ---------------------------------------- */

typedef struct {
	const char *s;
	gsize       len;
	gsize       pos;
} Cursor;

static gboolean cur_end(const Cursor *c)
{
	return c->pos >= c->len;
}

/* The current byte, or 0 at the end (0 is never valid where it is tested). */
static char cur_peek(const Cursor *c)
{
	return cur_end(c) ? '\0' : c->s[c->pos];
}

static gboolean cur_eat(Cursor *c, char ch)
{
	if (cur_end(c) || c->s[c->pos] != ch)
		return FALSE;
	c->pos++;
	return TRUE;
}

/* Consume word (ASCII, case-insensitive) if the input starts with it. */
static gboolean cur_eat_word(Cursor *c, const char *word)
{
	gsize n = strlen(word);
	if (c->len - c->pos < n || g_ascii_strncasecmp(c->s + c->pos, word, n) != 0)
		return FALSE;
	c->pos += n;
	return TRUE;
}

static gsize cur_skip_spaces(Cursor *c)
{
	gsize start = c->pos;
	while (cur_peek(c) == ' ')
		c->pos++;
	return c->pos - start;
}

/* ---- character classes (RFC 5321 4.1.2, RFC 5322 3.2.3) --------------------- */

static gboolean is_atext(char ch)
{
	return g_ascii_isalnum(ch) || (ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

/* RFC 5321 4.1.2: qtextSMTP = %d32-33 / %d35-91 / %d93-126 */
static gboolean is_qtext(char ch)
{
	guchar u = (guchar)ch;
	return u == 32 || u == 33 || (u >= 35 && u <= 91) || (u >= 93 && u <= 126);
}

/* RFC 5321 4.1.2: quoted-pairSMTP = %d92 %d32-126 */
static gboolean is_quotable(char ch)
{
	guchar u = (guchar)ch;
	return u >= 32 && u <= 126;
}

/* RFC 5321 4.1.3: dcontent = %d33-90 / %d94-126 */
static gboolean is_dcontent(char ch)
{
	guchar u = (guchar)ch;
	return (u >= 33 && u <= 90) || (u >= 94 && u <= 126);
}

static gboolean is_ldh(char ch)
{
	return g_ascii_isalnum(ch) || ch == '-';
}

/* ---- domains and address literals ------------------------------------------- */

/* RFC 5321 4.1.3: IPv4-address-literal = Snum 3("." Snum), Snum 0..255 */
static gboolean ipv4_is_valid(const char *s, gsize len)
{
	guint parts = 0;
	gsize i = 0;
	while (parts < 4) {
		guint value = 0, digits = 0;
		while (i < len && g_ascii_isdigit(s[i]) && digits < 3) {
			value = value * 10 + (guint)(s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || value > 255)
			return FALSE;
		parts++;
		if (parts < 4) {
			if (i >= len || s[i] != '.')
				return FALSE;
			i++;
		}
	}
	return i == len;
}

/* RFC 5321 4.1.3: "[" ( IPv4 / "IPv6:" IPv6 ) "]".  Other tags
 * (General-address-literal) name nothing we can deliver to. */
static gboolean literal_is_valid(const char *s, gsize len)
{
	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return FALSE;
	const char *in = s + 1;
	gsize n = len - 2;
	for (gsize i = 0; i < n; i++)
		if (!is_dcontent(in[i]))
			return FALSE;
	if (n > 5 && g_ascii_strncasecmp(in, "IPv6:", 5) == 0) {
		g_autofree char *addr = g_strndup(in + 5, n - 5);
		/* g_hostname_is_ip_address also takes scope ids ("%eth0") and IPv4;
		 * neither is an IPv6-addr of RFC 5321 4.1.3. */
		return strchr(addr, ':') != NULL && strchr(addr, '%') == NULL &&
		       g_hostname_is_ip_address(addr);
	}
	return ipv4_is_valid(in, n);
}

/* RFC 5321 4.1.2: Domain = sub-domain *("." sub-domain), sub-domain =
 * Let-dig [Ldh-str]: no empty label, no hyphen at either end. */
static gboolean name_is_valid(const char *s, gsize len)
{
	if (len == 0 || len > SMTP_PROTO_MAX_DOMAIN)
		return FALSE;
	gsize label = 0;
	for (gsize i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0 || label > SMTP_PROTO_MAX_LABEL || s[i - 1] == '-' || s[i - label] == '-')
				return FALSE;
			label = 0;
		} else if (is_ldh(s[i])) {
			label++;
		} else {
			return FALSE;
		}
	}
	return TRUE;
}

gboolean smtp_proto_domain_is_valid(const char *s, gsize len)
{
	g_return_val_if_fail(s != NULL || len == 0, FALSE);
	if (len > 0 && s[0] == '[')
		return literal_is_valid(s, len);
	return name_is_valid(s, len);
}

/* Lowercase a literal's address but keep its tag spelled as RFC 5321 does. */
static char *literal_normalise(const char *s, gsize len)
{
	char *out = g_ascii_strdown(s, (gssize)len);
	if (len > 6 && g_ascii_strncasecmp(s + 1, "IPv6:", 5) == 0)
		memcpy(out + 1, "IPv6:", 5);
	return out;
}

/* ---- paths ----------------------------------------------------------------- */

void smtp_proto_path_free(SmtpPath *path)
{
	if (!path)
		return;
	g_free(path->address);
	g_free(path->local);
	g_free(path->local_unquoted);
	g_free(path->domain);
	g_free(path->route);
	g_free(path);
}

SmtpPath *smtp_proto_path_copy(const SmtpPath *path)
{
	g_return_val_if_fail(path != NULL, NULL);
	SmtpPath *copy = g_new0(SmtpPath, 1);
	copy->address = g_strdup(path->address);
	copy->local = g_strdup(path->local);
	copy->local_unquoted = g_strdup(path->local_unquoted);
	copy->domain = g_strdup(path->domain);
	copy->route = g_strdup(path->route);
	copy->flags = path->flags;
	return copy;
}

static SmtpProtoError path_error_code(SmtpPathKind kind)
{
	return kind == SMTP_PATH_REVERSE ? SMTP_PROTO_ERROR_BAD_SENDER : SMTP_PROTO_ERROR_BAD_RECIPIENT;
}

/* Read a Domain or address literal at the cursor into *domain_r
 * (lowercased).  A trailing dot is accepted only when trailing_dot_r is
 * given, and reported there. */
static gboolean parse_domain(Cursor *c, char **domain_r, gboolean *literal_r,
                             gboolean *trailing_dot_r, SmtpProtoError code, GError **error)
{
	gsize start = c->pos;
	*literal_r = FALSE;
	if (trailing_dot_r)
		*trailing_dot_r = FALSE;

	if (cur_peek(c) == '[') {
		while (!cur_end(c) && cur_peek(c) != ']')
			c->pos++;
		if (!cur_eat(c, ']')) {
			g_set_error(error, SMTP_PROTO_ERROR, code, "Address literal lacks its ']'");
			return FALSE;
		}
		gsize n = c->pos - start;
		if (!literal_is_valid(c->s + start, n)) {
			g_set_error(error, SMTP_PROTO_ERROR, code,
			            "Address literal is neither [IPv4] nor [IPv6:address]");
			return FALSE;
		}
		*literal_r = TRUE;
		*domain_r = literal_normalise(c->s + start, n);
		return TRUE;
	}

	while (is_ldh(cur_peek(c)) || cur_peek(c) == '.')
		c->pos++;
	gsize n = c->pos - start;
	if (trailing_dot_r && n > 1 && c->s[c->pos - 1] == '.') {
		*trailing_dot_r = TRUE;
		if (!name_is_valid(c->s + start, n - 1)) {
			g_set_error(error, SMTP_PROTO_ERROR, code, "Invalid domain name");
			return FALSE;
		}
	} else if (!name_is_valid(c->s + start, n)) {
		g_set_error(error, SMTP_PROTO_ERROR, code,
		            n == 0 ? "Domain missing" : "Invalid domain name");
		return FALSE;
	}
	*domain_r = g_ascii_strdown(c->s + start, (gssize)n);
	return TRUE;
}

/* RFC 5321 4.1.2: Local-part = Dot-string / Quoted-string.  Appends the
 * unquoted form to unquoted; the caller slices the written form. */
static gboolean parse_local_part(Cursor *c, GString *unquoted, gboolean *quoted_r,
                                 SmtpProtoError code, GError **error)
{
	*quoted_r = FALSE;
	if (cur_eat(c, '"')) {
		*quoted_r = TRUE;
		for (;;) {
			if (cur_end(c)) {
				g_set_error(error, SMTP_PROTO_ERROR, code, "Unterminated quoted local part");
				return FALSE;
			}
			char ch = cur_peek(c);
			if (ch == '"') {
				c->pos++;
				return TRUE;
			}
			if (ch == '\\') {
				c->pos++;
				if (!is_quotable(cur_peek(c))) {
					g_set_error(error, SMTP_PROTO_ERROR, code, "Bad quoted pair in local part");
					return FALSE;
				}
				g_string_append_c(unquoted, cur_peek(c));
				c->pos++;
				continue;
			}
			if (!is_qtext(ch)) {
				g_set_error(error, SMTP_PROTO_ERROR, code, "Bad character in quoted local part");
				return FALSE;
			}
			g_string_append_c(unquoted, ch);
			c->pos++;
		}
	}

	/* RFC 5321 4.1.2: Dot-string = Atom *("." Atom) */
	for (;;) {
		gsize atom = c->pos;
		while (is_atext(cur_peek(c)))
			c->pos++;
		if (c->pos == atom) {
			g_set_error(error, SMTP_PROTO_ERROR, code,
			            unquoted->len == 0 ? "Local part missing"
			                               : "Empty atom in local part (\"..\" or a dot at an end)");
			return FALSE;
		}
		g_string_append_len(unquoted, c->s + atom, (gssize)(c->pos - atom));
		if (cur_peek(c) != '.')
			return TRUE;
		g_string_append_c(unquoted, '.');
		c->pos++;
	}
}

/* RFC 5321 4.1.2: A-d-l = At-domain *( "," At-domain ), At-domain = "@" Domain */
static gboolean parse_route(Cursor *c, char **route_r, SmtpProtoError code, GError **error)
{
	gsize start = c->pos;
	do {
		g_autofree char *domain = NULL;
		gboolean literal;
		if (!cur_eat(c, '@')) {
			g_set_error(error, SMTP_PROTO_ERROR, code, "Source route hop lacks its '@'");
			return FALSE;
		}
		if (!parse_domain(c, &domain, &literal, NULL, code, error))
			return FALSE;
		if (literal) {
			g_set_error(error, SMTP_PROTO_ERROR, code, "Source route hops must be domain names");
			return FALSE;
		}
	} while (cur_eat(c, ','));
	gsize end = c->pos;
	if (!cur_eat(c, ':')) {
		g_set_error(error, SMTP_PROTO_ERROR, code, "Source route must end with ':'");
		return FALSE;
	}
	*route_r = g_ascii_strdown(c->s + start, (gssize)(end - start));
	return TRUE;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), or for a forward
 * path without route the bare "postmaster". */
static gboolean parse_mailbox_at(Cursor *c, SmtpPath *path, gboolean allow_postmaster,
                                 SmtpProtoError code, GError **error)
{
	g_autoptr(GString) unquoted = g_string_new(NULL);
	gsize start = c->pos;
	gboolean quoted;
	if (!parse_local_part(c, unquoted, &quoted, code, error))
		return FALSE;
	path->local = g_strndup(c->s + start, c->pos - start);
	path->local_unquoted = g_strdup(unquoted->str);
	if (quoted)
		path->flags |= SMTP_PATH_QUOTED;

	/* RFC 5321 4.1.1.3: "<Postmaster>" without a domain, any case. */
	if (allow_postmaster && !quoted && cur_peek(c) == '>' &&
	    g_ascii_strcasecmp(path->local, "postmaster") == 0) {
		path->flags |= SMTP_PATH_POSTMASTER;
		path->address = g_strdup(path->local);
		return TRUE;
	}

	if (!cur_eat(c, '@')) {
		g_set_error(error, SMTP_PROTO_ERROR, code, "Address lacks '@domain'");
		return FALSE;
	}
	gboolean literal, trailing_dot;
	if (!parse_domain(c, &path->domain, &literal, &trailing_dot, code, error))
		return FALSE;
	if (literal)
		path->flags |= SMTP_PATH_ADDRESS_LITERAL;
	if (trailing_dot)
		path->flags |= SMTP_PATH_TRAILING_DOT;
	path->address = g_strconcat(path->local, "@", path->domain, NULL);
	return TRUE;
}

/* RFC 5321 4.1.2: Path = "<" [ A-d-l ":" ] Mailbox ">", and "<>" for MAIL. */
static SmtpPath *parse_path_at(Cursor *c, SmtpPathKind kind, GError **error)
{
	SmtpProtoError code = path_error_code(kind);
	g_autoptr(SmtpPath) path = g_new0(SmtpPath, 1);

	if (!cur_eat(c, '<')) {
		g_set_error(error, SMTP_PROTO_ERROR, code, "Address must be written <user@domain>");
		return NULL;
	}
	if (cur_eat(c, '>')) {
		/* RFC 5321 4.5.5: the null reverse-path of notifications. */
		if (kind != SMTP_PATH_REVERSE) {
			g_set_error(error, SMTP_PROTO_ERROR, code, "The null path <> can only be a sender");
			return NULL;
		}
		path->flags |= SMTP_PATH_NULL;
		path->address = g_strdup("");
		path->local = g_strdup("");
		path->local_unquoted = g_strdup("");
		return g_steal_pointer(&path);
	}
	if (cur_peek(c) == '@') {
		/* RFC 5321 4.1.1.3: source routes are accepted and ignored. */
		if (!parse_route(c, &path->route, code, error))
			return NULL;
		path->flags |= SMTP_PATH_SOURCE_ROUTE;
	}
	gboolean allow_postmaster = kind == SMTP_PATH_FORWARD && path->route == NULL;
	if (!parse_mailbox_at(c, path, allow_postmaster, code, error))
		return NULL;
	if (!cur_eat(c, '>')) {
		g_set_error(error, SMTP_PROTO_ERROR, code, "Address must end with '>'");
		return NULL;
	}
	return g_steal_pointer(&path);
}

SmtpPath *smtp_proto_parse_path(const char *s, gsize len, SmtpPathKind kind, GError **error)
{
	g_return_val_if_fail(s != NULL || len == 0, NULL);
	Cursor c = { s, len, 0 };
	g_autoptr(SmtpPath) path = parse_path_at(&c, kind, error);
	if (!path)
		return NULL;
	if (!cur_end(&c)) {
		g_set_error(error, SMTP_PROTO_ERROR, path_error_code(kind), "Text after the address");
		return NULL;
	}
	return g_steal_pointer(&path);
}

SmtpPath *smtp_proto_parse_mailbox(const char *s, gsize len, GError **error)
{
	g_return_val_if_fail(s != NULL || len == 0, NULL);
	Cursor c = { s, len, 0 };
	g_autoptr(SmtpPath) path = g_new0(SmtpPath, 1);
	if (!parse_mailbox_at(&c, path, FALSE, SMTP_PROTO_ERROR_BAD_RECIPIENT, error))
		return NULL;
	if (!cur_end(&c)) {
		g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_RECIPIENT, "Text after the address");
		return NULL;
	}
	return g_steal_pointer(&path);
}

/* ---- relay tricks -------------------------------------------------------- */

guint smtp_proto_path_relay_tricks(const SmtpPath *path)
{
	g_return_val_if_fail(path != NULL, 0);
	guint tricks = 0;
	const char *local = path->local_unquoted ? path->local_unquoted : "";

	if (path->flags & SMTP_PATH_QUOTED) {
		/* "user@other"@here: the quotes hide a route from a naive check,
		 * and a later hop may unquote and obey it. */
		if (strpbrk(local, "@%!"))
			tricks |= SMTP_TRICK_QUOTED_ROUTE;
	} else {
		if (strchr(local, '%'))
			tricks |= SMTP_TRICK_PERCENT_HACK;
		if (strchr(local, '!'))
			tricks |= SMTP_TRICK_BANG_PATH;
	}
	if (path->flags & SMTP_PATH_SOURCE_ROUTE)
		tricks |= SMTP_TRICK_SOURCE_ROUTE;
	if (path->flags & SMTP_PATH_ADDRESS_LITERAL)
		tricks |= SMTP_TRICK_IP_LITERAL;
	if (path->flags & SMTP_PATH_TRAILING_DOT)
		tricks |= SMTP_TRICK_TRAILING_DOT;
	return tricks;
}

/* ---- commands ------------------------------------------------------------- */

/* What follows a verb. */
typedef enum {
	ARG_NONE,      /* nothing (DATA, RSET, QUIT, STARTTLS) */
	ARG_OPTIONAL,  /* anything or nothing (NOOP, HELP) */
	ARG_REQUIRED,  /* a non-empty string (VRFY, EXPN) */
	ARG_DOMAIN,    /* one word: the client's name (EHLO, HELO, LHLO) */
	ARG_MAIL,      /* FROM:<path> [params] */
	ARG_RCPT,      /* TO:<path> [params] */
	ARG_AUTH,      /* mechanism [initial-response] */
} ArgRule;

/* RFC 5321 4.1.1, indexed by SmtpVerb. */
static const struct {
	const char *name;
	ArgRule     rule;
	const char *syntax;   /* what a 501 reply reminds the client of */
} verb_table[SMTP_VERB_COUNT] = {
	[SMTP_VERB_EHLO]     = { "EHLO",     ARG_DOMAIN,   "EHLO hostname" },
	[SMTP_VERB_HELO]     = { "HELO",     ARG_DOMAIN,   "HELO hostname" },
	[SMTP_VERB_LHLO]     = { "LHLO",     ARG_DOMAIN,   "LHLO hostname" },
	[SMTP_VERB_MAIL]     = { "MAIL",     ARG_MAIL,     "MAIL FROM:<address> [parameters]" },
	[SMTP_VERB_RCPT]     = { "RCPT",     ARG_RCPT,     "RCPT TO:<address> [parameters]" },
	[SMTP_VERB_DATA]     = { "DATA",     ARG_NONE,     "DATA" },
	[SMTP_VERB_RSET]     = { "RSET",     ARG_NONE,     "RSET" },
	[SMTP_VERB_NOOP]     = { "NOOP",     ARG_OPTIONAL, "NOOP [text]" },
	[SMTP_VERB_QUIT]     = { "QUIT",     ARG_NONE,     "QUIT" },
	[SMTP_VERB_VRFY]     = { "VRFY",     ARG_REQUIRED, "VRFY address" },
	[SMTP_VERB_EXPN]     = { "EXPN",     ARG_REQUIRED, "EXPN list" },
	[SMTP_VERB_HELP]     = { "HELP",     ARG_OPTIONAL, "HELP [command]" },
	[SMTP_VERB_AUTH]     = { "AUTH",     ARG_AUTH,     "AUTH mechanism [initial-response]" },
	[SMTP_VERB_STARTTLS] = { "STARTTLS", ARG_NONE,     "STARTTLS" },
};

const char *smtp_proto_verb_to_string(SmtpVerb verb)
{
	if ((guint)verb >= SMTP_VERB_COUNT)
		return "unknown";
	return verb_table[verb].name;
}

static void param_free(gpointer p)
{
	SmtpParam *param = p;
	g_free(param->keyword);
	g_free(param->value);
	g_free(param);
}

static SmtpCommand *command_new(SmtpVerb verb)
{
	SmtpCommand *cmd = g_new0(SmtpCommand, 1);
	cmd->verb = verb;
	cmd->params = g_ptr_array_new_with_free_func(param_free);
	return cmd;
}

void smtp_proto_command_free(SmtpCommand *cmd)
{
	if (!cmd)
		return;
	g_free(cmd->arg);
	g_free(cmd->initial_response);
	smtp_proto_path_free(cmd->path);
	g_ptr_array_unref(cmd->params);
	g_free(cmd->auth);
	g_free(cmd);
}

static gboolean syntax_error(SmtpVerb verb, GError **error)
{
	g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_SYNTAX,
	            "Syntax: %s", verb_table[verb].syntax);
	return FALSE;
}

/* Nothing but blanks remain (trailing blanks were trimmed). */
static gboolean rest_is_empty(const Cursor *c)
{
	return cur_end(c);
}

static char *rest_dup(const Cursor *c)
{
	return g_strndup(c->s + c->pos, c->len - c->pos);
}

/* Read a run of non-space bytes. */
static char *cur_take_word(Cursor *c)
{
	gsize start = c->pos;
	while (!cur_end(c) && cur_peek(c) != ' ')
		c->pos++;
	return g_strndup(c->s + start, c->pos - start);
}

/* RFC 4422 3.1: sasl-mech = 1*20 (UPPER-ALPHA / DIGIT / "-" / "_") */
static gboolean sasl_mech_is_valid(const char *s)
{
	gsize n = strlen(s);
	if (n == 0 || n > 20)
		return FALSE;
	for (gsize i = 0; i < n; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '-' && s[i] != '_')
			return FALSE;
	return TRUE;
}

/* RFC 3461 4: xtext = *( xchar / hexchar ), hexchar = "+" 2HEXDIG.  The
 * decoded text must be printable: it ends up in logs and headers. */
static char *xtext_decode(const char *s, GError **error)
{
	g_autoptr(GString) out = g_string_new(NULL);
	for (gsize i = 0; s[i]; i++) {
		char ch = s[i];
		if (ch == '+') {
			int hi = g_ascii_xdigit_value(s[i + 1]);
			int lo = hi < 0 ? -1 : g_ascii_xdigit_value(s[i + 2]);
			if (lo < 0) {
				g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_PARAMETER,
				            "Bad xtext escape in AUTH=");
				return NULL;
			}
			ch = (char)(hi * 16 + lo);
			i += 2;
			if ((guchar)ch < 32 || (guchar)ch > 126) {
				g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_PARAMETER,
				            "AUTH= decodes to a control or 8-bit byte");
				return NULL;
			}
		}
		g_string_append_c(out, ch);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

typedef gboolean (*ParamHandler)(SmtpCommand *cmd, const char *value, GError **error);

/* RFC 1870 3: SIZE=size-value, 1*20DIGIT */
static gboolean param_size(SmtpCommand *cmd, const char *value, GError **error)
{
	guint64 size;
	if (strlen(value) > SMTP_PROTO_MAX_SIZE_DIGITS || !g_ascii_isdigit(value[0]) ||
	    !g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, &size, NULL)) {
		g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_PARAMETER,
		            "SIZE must be a number of octets");
		return FALSE;
	}
	cmd->has_size = TRUE;
	cmd->size = size;
	return TRUE;
}

/* RFC 6152 3: BODY=7BIT / BODY=8BITMIME */
static gboolean param_body(SmtpCommand *cmd, const char *value, GError **error)
{
	if (g_ascii_strcasecmp(value, "7BIT") == 0) {
		cmd->body = SMTP_BODY_7BIT;
	} else if (g_ascii_strcasecmp(value, "8BITMIME") == 0) {
		cmd->body = SMTP_BODY_8BITMIME;
	} else {
		g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_PARAMETER,
		            "BODY must be 7BIT or 8BITMIME");
		return FALSE;
	}
	return TRUE;
}

/* RFC 4954 5: AUTH=<> or AUTH=xtext(mailbox) */
static gboolean param_auth(SmtpCommand *cmd, const char *value, GError **error)
{
	if (strcmp(value, "<>") == 0) {
		cmd->auth = g_strdup(value);
		return TRUE;
	}
	cmd->auth = xtext_decode(value, error);
	return cmd->auth != NULL;
}

/* The parameters each verb understands; anything else is a 555. */
static const struct {
	SmtpVerb     verb;
	const char  *keyword;
	ParamHandler handle;
} param_table[] = {
	{ SMTP_VERB_MAIL, "SIZE", param_size },
	{ SMTP_VERB_MAIL, "BODY", param_body },
	{ SMTP_VERB_MAIL, "AUTH", param_auth },
};

/* RFC 5321 4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static gboolean keyword_is_valid(const char *s, gsize len)
{
	if (len == 0 || !g_ascii_isalnum(s[0]))
		return FALSE;
	for (gsize i = 1; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '-')
			return FALSE;
	return TRUE;
}

/* RFC 5321 4.1.2: esmtp-value = 1*(%d33-60 / %d62-126) */
static gboolean value_is_valid(const char *s, gsize len)
{
	if (len == 0)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		guchar u = (guchar)s[i];
		if (u < 33 || u > 126 || u == '=')
			return FALSE;
	}
	return TRUE;
}

/* RFC 5321 4.1.2: Mail-parameters = esmtp-param *(SP esmtp-param).  First
 * the syntax of all, then the meaning of each, so a malformed list is a 501
 * whatever it names. */
static gboolean parse_params(Cursor *c, SmtpCommand *cmd, GError **error)
{
	if (cur_end(c))
		return TRUE;
	if (cur_skip_spaces(c) == 0)
		return syntax_error(cmd->verb, error);

	while (!cur_end(c)) {
		gsize start = c->pos;
		while (!cur_end(c) && cur_peek(c) != ' ')
			c->pos++;
		const char *tok = c->s + start;
		gsize n = c->pos - start;
		const char *eq = memchr(tok, '=', n);
		gsize klen = eq ? (gsize)(eq - tok) : n;

		if (!keyword_is_valid(tok, klen) || (eq && !value_is_valid(eq + 1, n - klen - 1))) {
			g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_PARAMETER,
			            "Malformed parameter");
			return FALSE;
		}
		if (cmd->params->len >= SMTP_PROTO_MAX_PARAMS) {
			g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_PARAMETER,
			            "Too many parameters");
			return FALSE;
		}
		SmtpParam *param = g_new0(SmtpParam, 1);
		param->keyword = g_ascii_strup(tok, (gssize)klen);
		param->value = eq ? g_strndup(eq + 1, n - klen - 1) : NULL;
		for (guint i = 0; i < cmd->params->len; i++) {
			const SmtpParam *seen = g_ptr_array_index(cmd->params, i);
			if (strcmp(seen->keyword, param->keyword) == 0) {
				g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_PARAMETER,
				            "Parameter %s given twice", param->keyword);
				param_free(param);
				return FALSE;
			}
		}
		g_ptr_array_add(cmd->params, param);
		cur_skip_spaces(c);
	}

	for (guint i = 0; i < cmd->params->len; i++) {
		const SmtpParam *param = g_ptr_array_index(cmd->params, i);
		ParamHandler handle = NULL;
		for (gsize t = 0; t < G_N_ELEMENTS(param_table); t++)
			if (param_table[t].verb == cmd->verb && strcmp(param_table[t].keyword, param->keyword) == 0)
				handle = param_table[t].handle;
		if (!handle) {
			/* RFC 5321 4.1.1.11: 555 for a parameter not recognized. */
			g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_UNSUPPORTED_PARAMETER,
			            "Unsupported parameter %s", param->keyword);
			return FALSE;
		}
		if (!param->value) {
			g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_PARAMETER,
			            "%s needs a value", param->keyword);
			return FALSE;
		}
		if (!handle(cmd, param->value, error))
			return FALSE;
	}
	return TRUE;
}

/* MAIL FROM:<path> / RCPT TO:<path>, then parameters. */
static gboolean parse_path_arg(Cursor *c, SmtpCommand *cmd, const char *prefix,
                               SmtpPathKind kind, GError **error)
{
	if (!cur_eat_word(c, prefix))
		return syntax_error(cmd->verb, error);
	/* RFC 5321 4.1.2 allows no space after the colon; many clients send
	 * one anyway, and refusing them teaches nothing. */
	cur_skip_spaces(c);
	cmd->path = parse_path_at(c, kind, error);
	if (!cmd->path)
		return FALSE;
	return parse_params(c, cmd, error);
}

/* RFC 4954 4: AUTH mechanism [initial-response] */
static gboolean parse_auth_arg(Cursor *c, SmtpCommand *cmd, GError **error)
{
	if (cur_end(c))
		return syntax_error(cmd->verb, error);
	g_autofree char *mech = cur_take_word(c);
	if (!sasl_mech_is_valid(mech))
		return syntax_error(cmd->verb, error);
	cmd->arg = g_ascii_strup(mech, -1);
	cur_skip_spaces(c);
	if (cur_end(c))
		return TRUE;
	cmd->initial_response = cur_take_word(c);
	if (!cur_end(c))
		return syntax_error(cmd->verb, error);
	return TRUE;
}

static gboolean parse_argument(Cursor *c, SmtpCommand *cmd, GError **error)
{
	switch (verb_table[cmd->verb].rule) {
	case ARG_NONE:
		if (!rest_is_empty(c))
			return syntax_error(cmd->verb, error);
		return TRUE;
	case ARG_OPTIONAL:
		if (!rest_is_empty(c))
			cmd->arg = rest_dup(c);
		return TRUE;
	case ARG_REQUIRED:
		if (rest_is_empty(c))
			return syntax_error(cmd->verb, error);
		cmd->arg = rest_dup(c);
		return TRUE;
	case ARG_DOMAIN:
		/* RFC 5321 4.1.1.1: one Domain or address-literal.  The name is
		 * kept as sent: policy judges it (smtp_proto_domain_is_valid). */
		if (rest_is_empty(c))
			return syntax_error(cmd->verb, error);
		cmd->arg = cur_take_word(c);
		if (!cur_end(c))
			return syntax_error(cmd->verb, error);
		return TRUE;
	case ARG_MAIL:
		return parse_path_arg(c, cmd, "FROM:", SMTP_PATH_REVERSE, error);
	case ARG_RCPT:
		return parse_path_arg(c, cmd, "TO:", SMTP_PATH_FORWARD, error);
	case ARG_AUTH:
		return parse_auth_arg(c, cmd, error);
	}
	return syntax_error(cmd->verb, error);
}

SmtpCommand *smtp_proto_parse_command(const char *line, gsize len,
                                      const SmtpLimits *limits, GError **error)
{
	g_return_val_if_fail(line != NULL || len == 0, NULL);
	SmtpLimits defaults = SMTP_LIMITS_INIT;
	if (!limits)
		limits = &defaults;

	/* RFC 5321 4.5.3.1.4: 512 octets with the CRLF. */
	if (len + 2 > limits->command_line) {
		g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_LINE_TOO_LONG, "Line too long");
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		guchar u = (guchar)line[i];
		if (u < 32 || u > 126) {
			g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_CHARACTER,
			            "Control or 8-bit character in command");
			return NULL;
		}
	}
	while (len > 0 && line[len - 1] == ' ')
		len--;

	Cursor c = { line, len, 0 };
	while (g_ascii_isalpha(cur_peek(&c)))
		c.pos++;
	gsize verb_len = c.pos;
	if (!cur_end(&c) && cur_peek(&c) != ' ')
		verb_len = 0;   /* "MAIL:" or "QUIT!" is no verb we know */

	SmtpVerb verb = SMTP_VERB_COUNT;
	for (guint v = 0; v < SMTP_VERB_COUNT && verb_len > 0; v++)
		if (strlen(verb_table[v].name) == verb_len &&
		    g_ascii_strncasecmp(line, verb_table[v].name, verb_len) == 0)
			verb = (SmtpVerb)v;
	if (verb == SMTP_VERB_COUNT) {
		g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_UNKNOWN_COMMAND,
		            "Command not recognized");
		return NULL;
	}
	cur_skip_spaces(&c);

	g_autoptr(SmtpCommand) cmd = command_new(verb);
	if (!parse_argument(&c, cmd, error))
		return NULL;
	return g_steal_pointer(&cmd);
}

/* ---- reply encoder (RFC 5321 4.2) -------------------------------------------- */

/* RFC 5321 4.2: the first digit 2..5, the second 0..5, the third any. */
static gboolean reply_code_is_valid(guint code)
{
	return code >= 200 && code <= 559 && (code / 10) % 10 <= 5;
}

/* RFC 5321 4.2.1: textstring = 1*(%d09 / %d32-126); anything else a peer
 * managed to put into our words becomes '?', so it cannot end the line. */
static void append_reply_text(GString *out, const char *text, gsize max)
{
	for (gsize i = 0; text[i] && i < max; i++) {
		guchar u = (guchar)text[i];
		g_string_append_c(out, (u == '\t' || (u >= 32 && u <= 126)) ? (char)u : '?');
	}
}

void smtp_proto_encode_reply(GString *out, guint code, const char *enhanced,
                             const char *const *lines, gsize n_lines)
{
	g_return_if_fail(out != NULL);
	g_return_if_fail(reply_code_is_valid(code));
	g_return_if_fail(lines != NULL || n_lines == 0);
	/* "250-" and the CRLF take 6 of the 512. */
	const gsize room = SMTP_PROTO_MAX_REPLY_LINE - 6;

	for (gsize i = 0; i < MAX(n_lines, 1); i++) {
		gsize start = out->len;
		const char *text = n_lines > 0 && lines[i] ? lines[i] : "";
		/* RFC 5321 4.2.1: "250-" on every line but the last, "250 " on it. */
		g_string_append_printf(out, "%03u%c", code, i + 1 < n_lines ? '-' : ' ');
		if (enhanced) {
			/* RFC 2034 3: the enhanced code starts every line's text. */
			append_reply_text(out, enhanced, room);
			g_string_append_c(out, ' ');
		}
		gsize used = out->len - start - 4;
		if (used < room)
			append_reply_text(out, text, room - used);
		g_string_append(out, "\r\n");
	}
}

char *smtp_proto_format_reply(guint code, const char *enhanced, const char *fmt, ...)
{
	g_return_val_if_fail(fmt != NULL, NULL);
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	g_auto(GStrv) lines = g_strsplit(text, "\n", SMTP_PROTO_MAX_REPLY_LINES);
	GString *out = g_string_new(NULL);
	smtp_proto_encode_reply(out, code, enhanced, (const char *const *)lines, g_strv_length(lines));
	return g_string_free(out, FALSE);
}

/* ---- reply parser (RFC 5321 4.2) ---------------------------------------------- */

struct SmtpReplyParser {
	SmtpReply *partial;  /* lines so far, NULL between replies */
};

void smtp_proto_reply_free(SmtpReply *reply)
{
	if (!reply)
		return;
	g_free(reply->enhanced);
	g_ptr_array_unref(reply->lines);
	g_free(reply);
}

char *smtp_proto_reply_text(const SmtpReply *reply)
{
	g_return_val_if_fail(reply != NULL, NULL);
	GString *text = g_string_new(NULL);
	for (guint i = 0; i < reply->lines->len; i++) {
		if (i > 0)
			g_string_append_c(text, '\n');
		g_string_append(text, g_ptr_array_index(reply->lines, i));
	}
	return g_string_free(text, FALSE);
}

SmtpReplyParser *smtp_proto_reply_parser_new(void)
{
	return g_new0(SmtpReplyParser, 1);
}

void smtp_proto_reply_parser_free(SmtpReplyParser *parser)
{
	if (!parser)
		return;
	smtp_proto_reply_free(parser->partial);
	g_free(parser);
}

/* RFC 3463 2: status-code = class "." subject "." detail, class matching
 * the reply's first digit, subject and detail 1*3digit.  Returns the length
 * of the code at s (0 when there is none); the code must be followed by a
 * space or the end. */
static gsize enhanced_code_length(const char *s, gsize len, guint code)
{
	gsize i = 0;
	if (len < 5 || s[0] != (char)('0' + code / 100) || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		gsize digits = 0;
		while (i < len && g_ascii_isdigit(s[i]) && digits < 3) {
			i++;
			digits++;
		}
		if (digits == 0)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	return (i == len || s[i] == ' ') ? i : 0;
}

static SmtpReplyStatus reply_fail(SmtpReplyParser *parser, GError **error, const char *why)
{
	g_clear_pointer(&parser->partial, smtp_proto_reply_free);
	g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_REPLY, "Malformed reply: %s", why);
	return SMTP_REPLY_ERROR;
}

SmtpReplyStatus smtp_proto_reply_parser_feed(SmtpReplyParser *parser, const char *line, gsize len,
                                             SmtpReply **reply_r, GError **error)
{
	g_return_val_if_fail(parser != NULL && reply_r != NULL, SMTP_REPLY_ERROR);
	g_return_val_if_fail(line != NULL || len == 0, SMTP_REPLY_ERROR);
	*reply_r = NULL;

	/* RFC 5321 4.5.3.1.5: 512 octets with the CRLF. */
	if (len + 2 > SMTP_PROTO_MAX_REPLY_LINE)
		return reply_fail(parser, error, "line too long");
	/* RFC 5321 4.2: Reply-code = %x32-35 %x30-35 %x30-39 */
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
	    !g_ascii_isdigit(line[2]))
		return reply_fail(parser, error, "no three-digit code");
	guint code = (guint)((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
	/* RFC 5321 4.2.1: "ddd-" continues, "ddd " or a bare "ddd" ends. */
	char sep = len > 3 ? line[3] : ' ';
	if (sep != ' ' && sep != '-')
		return reply_fail(parser, error, "code not followed by ' ' or '-'");

	if (!parser->partial) {
		parser->partial = g_new0(SmtpReply, 1);
		parser->partial->code = code;
		parser->partial->lines = g_ptr_array_new_with_free_func(g_free);
	} else if (parser->partial->code != code) {
		/* RFC 5321 4.2.1: every line of a reply carries the same code. */
		return reply_fail(parser, error, "code changes between lines");
	}
	if (parser->partial->lines->len >= SMTP_PROTO_MAX_REPLY_LINES)
		return reply_fail(parser, error, "too many lines");

	const char *text = len > 4 ? line + 4 : "";
	gsize text_len = len > 4 ? len - 4 : 0;
	gsize enh = enhanced_code_length(text, text_len, code);
	if (enh > 0) {
		if (parser->partial->lines->len == 0)
			parser->partial->enhanced = g_strndup(text, enh);
		text += enh;
		text_len -= enh;
		if (text_len > 0) {  /* the space after the code */
			text++;
			text_len--;
		}
	}
	/* The text is for people and logs: control bytes out, valid UTF-8 in. */
	g_autofree char *clean = g_strndup(text, text_len);
	for (gsize i = 0; i < text_len; i++)
		if ((guchar)clean[i] < 32 && clean[i] != '\t')
			clean[i] = '?';
	g_ptr_array_add(parser->partial->lines, g_utf8_make_valid(clean, (gssize)text_len));

	if (sep == '-')
		return SMTP_REPLY_NEED_MORE;
	*reply_r = g_steal_pointer(&parser->partial);
	return SMTP_REPLY_COMPLETE;
}

/* ---- EHLO extensions (RFC 5321 4.1.1.1) ----------------------------------------- */

static const struct {
	const char   *keyword;
	SmtpExtension ext;
} extension_table[] = {
	{ "PIPELINING",          SMTP_EXT_PIPELINING },
	{ "SIZE",                SMTP_EXT_SIZE },
	{ "8BITMIME",            SMTP_EXT_8BITMIME },
	{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
	{ "AUTH",                SMTP_EXT_AUTH },
	{ "STARTTLS",            SMTP_EXT_STARTTLS },
	{ "SMTPUTF8",            SMTP_EXT_SMTPUTF8 },
	{ "CHUNKING",            SMTP_EXT_CHUNKING },
	{ "DSN",                 SMTP_EXT_DSN },
};

void smtp_proto_extensions_free(SmtpExtensions *ext)
{
	if (!ext)
		return;
	g_free(ext->domain);
	g_ptr_array_unref(ext->auth_mechanisms);
	g_ptr_array_unref(ext->others);
	g_free(ext);
}

gboolean smtp_proto_extensions_has_auth(const SmtpExtensions *ext, const char *mechanism)
{
	g_return_val_if_fail(ext != NULL && mechanism != NULL, FALSE);
	for (guint i = 0; i < ext->auth_mechanisms->len; i++)
		if (g_ascii_strcasecmp(g_ptr_array_index(ext->auth_mechanisms, i), mechanism) == 0)
			return TRUE;
	return FALSE;
}

static void add_auth_mechanisms(SmtpExtensions *ext, const char *params)
{
	g_auto(GStrv) words = g_strsplit(params, " ", -1);
	for (guint i = 0; words[i]; i++) {
		if (!sasl_mech_is_valid(words[i]))
			continue;
		char *mech = g_ascii_strup(words[i], -1);
		if (smtp_proto_extensions_has_auth(ext, mech))
			g_free(mech);
		else
			g_ptr_array_add(ext->auth_mechanisms, mech);
	}
}

SmtpExtensions *smtp_proto_parse_ehlo_reply(const SmtpReply *reply, GError **error)
{
	g_return_val_if_fail(reply != NULL, NULL);
	if (reply->code != 250 || reply->lines->len == 0) {
		g_set_error(error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_BAD_REPLY,
		            "EHLO refused with %u", reply->code);
		return NULL;
	}
	SmtpExtensions *ext = g_new0(SmtpExtensions, 1);
	ext->auth_mechanisms = g_ptr_array_new_with_free_func(g_free);
	ext->others = g_ptr_array_new_with_free_func(g_free);

	/* RFC 5321 4.1.1.1: ehlo-greet = Domain [ SP ehlo-greet text ] */
	const char *first = g_ptr_array_index(reply->lines, 0);
	const char *space = strchr(first, ' ');
	ext->domain = space ? g_strndup(first, (gsize)(space - first)) : g_strdup(first);

	/* RFC 5321 4.1.1.1: ehlo-line = ehlo-keyword *( SP ehlo-param ) */
	for (guint i = 1; i < reply->lines->len; i++) {
		const char *line = g_ptr_array_index(reply->lines, i);
		gsize klen = strcspn(line, " =");
		if (!keyword_is_valid(line, klen))
			continue;
		g_autofree char *keyword = g_ascii_strup(line, (gssize)klen);
		const char *params = line[klen] ? line + klen + 1 : "";

		guint flag = 0;
		for (gsize t = 0; t < G_N_ELEMENTS(extension_table); t++)
			if (strcmp(extension_table[t].keyword, keyword) == 0)
				flag = extension_table[t].ext;
		if (flag == 0) {
			g_ptr_array_add(ext->others, g_strconcat(keyword, line + klen, NULL));
			continue;
		}
		ext->flags |= flag;
		if (flag == SMTP_EXT_AUTH) {
			/* "AUTH=LOGIN PLAIN" is what pre-RFC 4954 servers said. */
			add_auth_mechanisms(ext, params);
		} else if (flag == SMTP_EXT_SIZE) {
			/* RFC 1870 4: SIZE [limit], 0 meaning none. */
			guint64 size = 0;
			if (strlen(params) <= SMTP_PROTO_MAX_SIZE_DIGITS && g_ascii_isdigit(params[0]) &&
			    g_ascii_string_to_unsigned(params, 10, 0, G_MAXUINT64, &size, NULL))
				ext->size = size;
		}
	}
	return ext;
}

/* ---- DATA (RFC 5321 4.1.1.4, 4.5.2) ---------------------------------------------- */

static const struct {
	const char *name;
	guint       code;
	const char *enhanced;
	const char *text;
} data_outcome_table[] = {
	[SMTP_DATA_OUTCOME_OK]            = { "ok",            250, "2.0.0", "Message accepted" },
	[SMTP_DATA_OUTCOME_TOO_BIG]       = { "too-big",       552, "5.3.4", "Message too big" },
	[SMTP_DATA_OUTCOME_LINE_TOO_LONG] = { "line-too-long", 500, "5.5.2", "Line too long" },
	[SMTP_DATA_OUTCOME_BARE_EOL]      = { "bare-eol",      550, "5.6.0",
	                                      "Message contains a bare CR or LF" },
};

const char *smtp_proto_data_outcome_to_string(SmtpDataOutcome outcome)
{
	if ((guint)outcome >= G_N_ELEMENTS(data_outcome_table))
		return "unknown";
	return data_outcome_table[outcome].name;
}

void smtp_proto_data_outcome_reply(SmtpDataOutcome outcome, guint *code_r,
                                   const char **enhanced_r, const char **text_r)
{
	g_return_if_fail((guint)outcome < G_N_ELEMENTS(data_outcome_table));
	g_return_if_fail(code_r != NULL && enhanced_r != NULL && text_r != NULL);
	*code_r = data_outcome_table[outcome].code;
	*enhanced_r = data_outcome_table[outcome].enhanced;
	*text_r = data_outcome_table[outcome].text;
}

struct SmtpDataReader {
	SmtpLimits      limits;
	GString        *body;
	SmtpDataStatus  status;
	SmtpDataOutcome outcome;
	/* Did the last line end with CRLF?  The DATA command's line did, so
	 * the reader starts TRUE. */
	gboolean        after_crlf;
	guint64         received;
	guint64         lines;
};

SmtpDataReader *smtp_proto_data_reader_new(const SmtpLimits *limits)
{
	SmtpDataReader *reader = g_new0(SmtpDataReader, 1);
	if (limits)
		reader->limits = *limits;
	else
		smtp_proto_limits_init(&reader->limits);
	reader->body = g_string_new(NULL);
	reader->status = SMTP_DATA_CONTINUE;
	reader->outcome = SMTP_DATA_OUTCOME_OK;
	reader->after_crlf = TRUE;
	return reader;
}

void smtp_proto_data_reader_free(SmtpDataReader *reader)
{
	if (!reader)
		return;
	g_string_free(reader->body, TRUE);
	g_free(reader);
}

/* The first problem decides the reply.  The message is refused, so its
 * bytes are dropped at once rather than held until the end. */
static void data_fail(SmtpDataReader *reader, SmtpDataOutcome outcome)
{
	if (reader->outcome != SMTP_DATA_OUTCOME_OK)
		return;
	reader->outcome = outcome;
	g_string_free(reader->body, TRUE);
	reader->body = g_string_new(NULL);
}

SmtpDataStatus smtp_proto_data_reader_feed(SmtpDataReader *reader, const char *line, gsize len,
                                           SmtpEol eol)
{
	g_return_val_if_fail(reader != NULL, SMTP_DATA_CLOSED);
	g_return_val_if_fail(line != NULL || len == 0, SMTP_DATA_CLOSED);
	if (reader->status != SMTP_DATA_CONTINUE)
		return reader->status;
	reader->lines++;

	if (eol == SMTP_EOL_EOF) {
		/* RFC 5321 4.1.1.4: no end, no message. */
		reader->status = SMTP_DATA_CLOSED;
		return reader->status;
	}

	/* RFC 5321 4.1.1.4: the end is CRLF "." CRLF, both CRLFs real. */
	if (len == 1 && line[0] == '.' && eol == SMTP_EOL_CRLF && reader->after_crlf) {
		reader->status = SMTP_DATA_END;
		return reader->status;
	}

	/* RFC 5321 2.3.8: bare CR and LF are never line endings in mail.  A
	 * CR or LF inside the line means the caller split elsewhere: the same. */
	if (eol == SMTP_EOL_LF || eol == SMTP_EOL_CR ||
	    memchr(line, '\r', len) != NULL || memchr(line, '\n', len) != NULL)
		data_fail(reader, SMTP_DATA_OUTCOME_BARE_EOL);
	/* RFC 5321 4.5.3.1.6: 1000 octets with the CRLF, dot-stuffing included. */
	if (eol == SMTP_EOL_TOO_LONG || len + 2 > reader->limits.text_line)
		data_fail(reader, SMTP_DATA_OUTCOME_LINE_TOO_LONG);
	/* A TOO_LONG line may have ended with a bare LF: not a CRLF. */
	reader->after_crlf = eol == SMTP_EOL_CRLF;

	/* RFC 5321 4.5.2: transparency, drop the first of a line's leading dots. */
	if (len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	reader->received += len + 2;
	if (reader->outcome != SMTP_DATA_OUTCOME_OK)
		return SMTP_DATA_CONTINUE;
	/* RFC 1870 6.3: over the limit, keep reading, store nothing, 552 at the end. */
	if (reader->body->len + len + 2 > reader->limits.message_size) {
		data_fail(reader, SMTP_DATA_OUTCOME_TOO_BIG);
		return SMTP_DATA_CONTINUE;
	}
	g_string_append_len(reader->body, line, (gssize)len);
	g_string_append_len(reader->body, "\r\n", 2);
	return SMTP_DATA_CONTINUE;
}

SmtpDataOutcome smtp_proto_data_reader_outcome(const SmtpDataReader *reader)
{
	g_return_val_if_fail(reader != NULL, SMTP_DATA_OUTCOME_OK);
	return reader->outcome;
}

const GString *smtp_proto_data_reader_body(const SmtpDataReader *reader)
{
	g_return_val_if_fail(reader != NULL, NULL);
	return reader->body;
}

GString *smtp_proto_data_reader_steal_body(SmtpDataReader *reader)
{
	g_return_val_if_fail(reader != NULL, NULL);
	GString *body = reader->body;
	reader->body = g_string_new(NULL);
	return body;
}

guint64 smtp_proto_data_reader_received(const SmtpDataReader *reader)
{
	g_return_val_if_fail(reader != NULL, 0);
	return reader->received;
}

guint64 smtp_proto_data_reader_lines(const SmtpDataReader *reader)
{
	g_return_val_if_fail(reader != NULL, 0);
	return reader->lines;
}

void smtp_proto_dot_stuff(GString *out, const char *data, gsize len)
{
	g_return_if_fail(out != NULL);
	g_return_if_fail(data != NULL || len == 0);
	gsize i = 0;
	while (i < len) {
		/* RFC 5321 4.5.2: a line starting with '.' gets one more. */
		if (data[i] == '.')
			g_string_append_c(out, '.');
		gsize start = i;
		while (i < len && data[i] != '\r' && data[i] != '\n')
			i++;
		g_string_append_len(out, data + start, (gssize)(i - start));
		/* RFC 5321 2.3.8: whatever ended the line, CRLF goes out. */
		g_string_append_len(out, "\r\n", 2);
		if (i < len)
			i += (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1;
	}
	g_string_append_len(out, ".\r\n", 3);
}
