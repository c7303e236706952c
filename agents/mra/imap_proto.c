/* agents/mra/imap_proto.c - the IMAP4rev1 grammar, both directions.
 *
 * A hand-written recursive-descent parser over RFC 3501 section 9, one
 * function per grammar rule, with the extensions named in imap_proto.h.
 * Only search keys nest, and they carry a depth counter.  The encoders
 * follow RFC 3501 4.3 (strings), 7.4.2 (ENVELOPE, BODYSTRUCTURE) and 6.4.5
 * (BODY[section]); mailbox names follow RFC 3501 5.1.3 (modified UTF-7).
 */
#include "agents/mra/imap_proto.h"

#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK(imap-proto-error-quark, imap_proto_error)

/* Strings longer than this go out as literals even when they could be
 * quoted: a reader finds a long value easier to follow that way. */
#define IMAP_PROTO_MAX_QUOTED 1024
/* RFC 2971 3.3: at most 30 ID pairs, fields of 30 and values of 1024 octets. */
#define IMAP_PROTO_MAX_ID_PAIRS 30
#define IMAP_PROTO_MAX_ID_FIELD 30
#define IMAP_PROTO_MAX_ID_VALUE 1024

/* ---- enum names --------------------------------------------------------- */

const char *imap_proto_error_to_string(ImapProtoError e)
{
	switch (e) {
	case IMAP_PROTO_ERROR_SYNTAX:          return "SYNTAX";
	case IMAP_PROTO_ERROR_UNKNOWN_COMMAND: return "UNKNOWN_COMMAND";
	case IMAP_PROTO_ERROR_LIMIT:           return "LIMIT";
	case IMAP_PROTO_ERROR_MAILBOX_NAME:    return "MAILBOX_NAME";
	}
	return "?";
}

const char *imap_literal_to_string(ImapLiteral l)
{
	switch (l) {
	case IMAP_LITERAL_NONE:      return "NONE";
	case IMAP_LITERAL_FOLLOWS:   return "FOLLOWS";
	case IMAP_LITERAL_TOO_LARGE: return "TOO_LARGE";
	}
	return "?";
}

const char *imap_store_mode_to_string(ImapStoreMode m)
{
	switch (m) {
	case IMAP_STORE_REPLACE: return "FLAGS";
	case IMAP_STORE_ADD:     return "+FLAGS";
	case IMAP_STORE_REMOVE:  return "-FLAGS";
	}
	return "?";
}

const char *imap_cond_to_string(ImapCond c)
{
	switch (c) {
	case IMAP_COND_OK:      return "OK";
	case IMAP_COND_NO:      return "NO";
	case IMAP_COND_BAD:     return "BAD";
	case IMAP_COND_PREAUTH: return "PREAUTH";
	case IMAP_COND_BYE:     return "BYE";
	}
	return "?";
}

static const struct {
	const char *name;
	ImapStatusItems item;
} status_items[] = {
	{ "MESSAGES",    IMAP_STATUS_ITEM_MESSAGES },
	{ "RECENT",      IMAP_STATUS_ITEM_RECENT },
	{ "UIDNEXT",     IMAP_STATUS_ITEM_UIDNEXT },
	{ "UIDVALIDITY", IMAP_STATUS_ITEM_UIDVALIDITY },
	{ "UNSEEN",      IMAP_STATUS_ITEM_UNSEEN },
};

const char *imap_status_item_to_string(ImapStatusItems item)
{
	for (gsize i = 0; i < G_N_ELEMENTS(status_items); i++)
		if (status_items[i].item == item)
			return status_items[i].name;
	return "?";
}

static const char *const section_text_names[] = {
	[IMAP_SECTION_BODY]              = "",
	[IMAP_SECTION_HEADER]            = "HEADER",
	[IMAP_SECTION_HEADER_FIELDS]     = "HEADER.FIELDS",
	[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
	[IMAP_SECTION_TEXT]              = "TEXT",
	[IMAP_SECTION_MIME]              = "MIME",
};

const char *imap_section_text_to_string(ImapSectionText t)
{
	return (guint)t < G_N_ELEMENTS(section_text_names) ? section_text_names[t] : "?";
}

/* ---- the parser's cursor ------------------------------------------------ */

typedef struct {
	const char *buf;
	gsize len;
	gsize pos;
	guint n_literals;   /* literals read, bounded by IMAP_PROTO_MAX_ARGS */
	guint n_keys;       /* search keys read, bounded by IMAP_PROTO_MAX_ARGS */
	GError **error;
	gboolean failed;
} ImapParser;

static gboolean fail(ImapParser *p, ImapProtoError code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean fail(ImapParser *p, ImapProtoError code, const char *fmt, ...)
{
	if (!p->failed) {
		p->failed = TRUE;
		va_list ap;
		va_start(ap, fmt);
		g_autofree char *msg = g_strdup_vprintf(fmt, ap);
		va_end(ap);
		g_set_error_literal(p->error, IMAP_PROTO_ERROR, code, msg);
	}
	return FALSE;
}

/* The next byte, or -1 at the end of the buffer. */
static int peek(const ImapParser *p)
{
	return p->pos < p->len ? (guchar)p->buf[p->pos] : -1;
}

/* The command may end with the CRLF of its last line, or without it. */
static gboolean at_end(const ImapParser *p)
{
	return p->pos == p->len ||
	       (p->pos + 2 == p->len && p->buf[p->pos] == '\r' && p->buf[p->pos + 1] == '\n');
}

static gboolean expect_char(ImapParser *p, char c, const char *what)
{
	if (peek(p) != (guchar)c)
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Expected %s", what);
	p->pos++;
	return TRUE;
}

static gboolean expect_sp(ImapParser *p)
{
	return expect_char(p, ' ', "a space");
}

/* RFC 3501 9: atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
 * quoted-specials / resp-specials; CHAR is 7-bit. */
static gboolean is_atom_char(int c)
{
	return c > 0x1f && c < 0x7f && strchr("(){ %*\"\\]", c) == NULL;
}

/* RFC 3501 9: ASTRING-CHAR = ATOM-CHAR / resp-specials */
static gboolean is_astring_char(int c)
{
	return is_atom_char(c) || c == ']';
}

/* RFC 3501 9: list-char = ATOM-CHAR / list-wildcards / resp-specials */
static gboolean is_list_char(int c)
{
	return is_astring_char(c) || c == '%' || c == '*';
}

/* Read 1*c where accept(c); the token is borrowed from the buffer. */
static gboolean read_chars(ImapParser *p, gboolean (*accept)(int), const char *what,
                           const char **s_r, gsize *len_r)
{
	gsize start = p->pos;
	while (p->pos < p->len && accept((guchar)p->buf[p->pos]))
		p->pos++;
	if (p->pos == start)
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Expected %s", what);
	*s_r = p->buf + start;
	*len_r = p->pos - start;
	return TRUE;
}

static gboolean read_atom(ImapParser *p, const char **s_r, gsize *len_r)
{
	return read_chars(p, is_atom_char, "an atom", s_r, len_r);
}

static gboolean token_is(const char *s, gsize len, const char *word)
{
	return strlen(word) == len && g_ascii_strncasecmp(s, word, len) == 0;
}

/* Look ahead without consuming: is the next word `word` (any case),
 * followed by a space (then_end FALSE) or by the end of the command? */
static gboolean next_word_is(const ImapParser *p, const char *word, gboolean then_end)
{
	gsize n = strlen(word);
	if (p->len - p->pos < n || g_ascii_strncasecmp(p->buf + p->pos, word, n) != 0)
		return FALSE;
	ImapParser after = *p;
	after.pos += n;
	return then_end ? at_end(&after) : peek(&after) == ' ';
}

/* RFC 3501 9: number = 1*DIGIT, an unsigned 32-bit integer; nz-number =
 * digit-nz *DIGIT. */
static gboolean read_number(ImapParser *p, gboolean nonzero, guint32 *n_r)
{
	gsize start = p->pos;
	guint64 v = 0;
	while (p->pos < p->len && g_ascii_isdigit(p->buf[p->pos])) {
		v = v * 10 + (guint64)(p->buf[p->pos] - '0');
		if (v > G_MAXUINT32)
			return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Number too large");
		p->pos++;
	}
	if (p->pos == start)
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Expected a number");
	if (nonzero && p->buf[start] == '0')
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Expected a non-zero number");
	*n_r = (guint32)v;
	return TRUE;
}

/* RFC 3501 4.3, 9: quoted = DQUOTE *QUOTED-CHAR DQUOTE.  Like Dovecot we
 * take 8-bit bytes (RFC 6855 makes UTF-8 legal); CR, LF and NUL never. */
static gboolean read_quoted(ImapParser *p, char **out_r)
{
	g_autoptr(GString) s = g_string_new(NULL);
	p->pos++;
	for (;;) {
		int c = peek(p);
		if (c < 0)
			return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Unterminated quoted string");
		p->pos++;
		if (c == '"')
			break;
		if (c == '\\') {
			c = peek(p);
			if (c != '"' && c != '\\')
				return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Bad escape in quoted string");
			p->pos++;
		} else if (c == '\r' || c == '\n' || c == '\0') {
			return fail(p, IMAP_PROTO_ERROR_SYNTAX, "CR, LF or NUL in quoted string");
		}
		g_string_append_c(s, (char)c);
	}
	*out_r = g_string_free(g_steal_pointer(&s), FALSE);
	return TRUE;
}

/* RFC 3501 4.3: literal = "{" number "}" CRLF *CHAR8, RFC 7888 3: or
 * "{" number "+}".  The bytes are borrowed from the buffer. */
static gboolean read_literal(ImapParser *p, const char **data_r, gsize *len_r)
{
	guint32 n;
	p->pos++;
	if (!read_number(p, FALSE, &n))
		return FALSE;
	if (peek(p) == '+')
		p->pos++;
	if (!expect_char(p, '}', "'}' after the literal's size"))
		return FALSE;
	if (p->len - p->pos < 2 || p->buf[p->pos] != '\r' || p->buf[p->pos + 1] != '\n')
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Expected CRLF after a literal's size");
	p->pos += 2;
	if (++p->n_literals > IMAP_PROTO_MAX_ARGS)
		return fail(p, IMAP_PROTO_ERROR_LIMIT, "Too many literals");
	if (n > IMAP_PROTO_MAX_LITERAL)
		return fail(p, IMAP_PROTO_ERROR_LIMIT, "Literal too large");
	if (n > p->len - p->pos)
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Literal shorter than announced");
	*data_r = p->buf + p->pos;
	*len_r = n;
	p->pos += n;
	return TRUE;
}

/* RFC 3501 9: string = quoted / literal, returned as a C string, so a
 * literal holding NUL (which CHAR8 excludes anyway) is refused. */
static gboolean read_string(ImapParser *p, char **out_r)
{
	int c = peek(p);
	if (c == '"')
		return read_quoted(p, out_r);
	if (c != '{')
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Expected a string");
	const char *data;
	gsize len = 0;
	if (!read_literal(p, &data, &len))
		return FALSE;
	if (memchr(data, '\0', len))
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "NUL in literal");
	*out_r = g_strndup(data, len);
	return TRUE;
}

/* RFC 3501 9: astring = 1*ASTRING-CHAR / string */
static gboolean read_astring(ImapParser *p, char **out_r)
{
	int c = peek(p);
	if (c == '"' || c == '{')
		return read_string(p, out_r);
	const char *s = NULL;
	gsize len = 0;
	if (!read_chars(p, is_astring_char, "a string", &s, &len))
		return FALSE;
	*out_r = g_strndup(s, len);
	return TRUE;
}

/* RFC 3501 9: nstring = string / nil */
static gboolean read_nstring(ImapParser *p, char **out_r)
{
	int c = peek(p);
	if (c == '"' || c == '{')
		return read_string(p, out_r);
	const char *s = NULL;
	gsize len = 0;
	if (!read_atom(p, &s, &len))
		return FALSE;
	if (!token_is(s, len, "NIL"))
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Expected a string or NIL");
	*out_r = NULL;
	return TRUE;
}

/* RFC 3501 9: list-mailbox = 1*list-char / string */
static gboolean read_list_mailbox(ImapParser *p, char **out_r)
{
	int c = peek(p);
	if (c == '"' || c == '{')
		return read_string(p, out_r);
	const char *s = NULL;
	gsize len = 0;
	if (!read_chars(p, is_list_char, "a mailbox pattern", &s, &len))
		return FALSE;
	*out_r = g_strndup(s, len);
	return TRUE;
}

static gboolean is_seqset_char(int c)
{
	return g_ascii_isdigit(c) || c == '*' || c == ':' || c == ',';
}

static gboolean read_seqset(ImapParser *p, ImapSeqSet **set_r)
{
	const char *s = NULL;
	gsize len = 0;
	if (!read_chars(p, is_seqset_char, "a sequence set", &s, &len))
		return FALSE;
	GError *err = NULL;
	*set_r = imap_proto_seqset_parse(s, len, &err);
	if (!*set_r) {
		fail(p, err->code, "%s", err->message);
		g_error_free(err);
		return FALSE;
	}
	return TRUE;
}

/* RFC 3501 2.3.2: the system flags a client may set; \Recent it may not. */
static const char *const system_flags[] = {
	"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft",
};

/* RFC 3501 9: flag = "\Answered" / ... / flag-keyword / flag-extension.
 * System flags come back in their canonical spelling. */
static gboolean read_flag(ImapParser *p, char **flag_r)
{
	gboolean system = peek(p) == '\\';
	if (system)
		p->pos++;
	const char *s = NULL;
	gsize len = 0;
	if (!read_atom(p, &s, &len))
		return FALSE;
	if (!system) {
		*flag_r = g_strndup(s, len);
		return TRUE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(system_flags); i++) {
		if (token_is(s, len, system_flags[i] + 1)) {
			*flag_r = g_strdup(system_flags[i]);
			return TRUE;
		}
	}
	return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Invalid system flag \\%.*s", (int)MIN(len, 64), s);
}

/* RFC 3501 9: flag-list = "(" [flag *(SP flag)] ")" */
static gboolean read_flag_list(ImapParser *p, GPtrArray *flags)
{
	if (!expect_char(p, '(', "'('"))
		return FALSE;
	while (peek(p) != ')') {
		if (flags->len > 0 && !expect_sp(p))
			return FALSE;
		if (flags->len >= IMAP_PROTO_MAX_ARGS)
			return fail(p, IMAP_PROTO_ERROR_LIMIT, "Too many flags");
		char *flag;
		if (!read_flag(p, &flag))
			return FALSE;
		g_ptr_array_add(flags, flag);
	}
	p->pos++;
	return TRUE;
}

/* ---- dates -------------------------------------------------------------- */

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static gboolean read_digits(ImapParser *p, guint n, int *v_r)
{
	int v = 0;
	for (guint i = 0; i < n; i++) {
		int c = peek(p);
		if (c < 0 || !g_ascii_isdigit(c))
			return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Bad date");
		v = v * 10 + (c - '0');
		p->pos++;
	}
	*v_r = v;
	return TRUE;
}

/* RFC 3501 9: date-text = date-day "-" date-month "-" date-year, where
 * date-day is 1*2DIGIT, or for date-time date-day-fixed = (SP DIGIT) / 2DIGIT. */
static gboolean read_date_text(ImapParser *p, gboolean fixed_day, ImapDate *d)
{
	int day = 0;
	if (fixed_day && peek(p) == ' ') {
		p->pos++;
		if (!read_digits(p, 1, &day))
			return FALSE;
	} else {
		if (!read_digits(p, 1, &day))
			return FALSE;
		int c = peek(p);
		if (c >= 0 && g_ascii_isdigit(c)) {
			day = day * 10 + (c - '0');
			p->pos++;
		} else if (fixed_day) {
			return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Bad date");
		}
	}
	if (!expect_char(p, '-', "'-' in a date"))
		return FALSE;
	if (p->len - p->pos < 3)
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Bad month");
	int month = 0;
	for (int m = 0; m < 12; m++)
		if (g_ascii_strncasecmp(p->buf + p->pos, month_names[m], 3) == 0)
			month = m + 1;
	if (month == 0)
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Bad month");
	p->pos += 3;
	int year = 0;
	if (!expect_char(p, '-', "'-' in a date") || !read_digits(p, 4, &year))
		return FALSE;
	if (!g_date_valid_dmy((GDateDay)day, (GDateMonth)month, (GDateYear)year))
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "No such date");
	d->year = year;
	d->month = month;
	d->day = day;
	return TRUE;
}

/* RFC 3501 9: date = date-text / DQUOTE date-text DQUOTE */
static gboolean read_date(ImapParser *p, ImapDate *d)
{
	gboolean quoted = peek(p) == '"';
	if (quoted)
		p->pos++;
	if (!read_date_text(p, FALSE, d))
		return FALSE;
	return !quoted || expect_char(p, '"', "'\"' after a date");
}

/* RFC 3501 9: date-time = DQUOTE date-day-fixed "-" date-month "-" date-year
 * SP time SP zone DQUOTE */
static gboolean read_date_time(ImapParser *p, ImapDateTime *dt)
{
	int zh = 0, zm = 0;
	if (!expect_char(p, '"', "'\"'") || !read_date_text(p, TRUE, &dt->date) ||
	    !expect_sp(p) || !read_digits(p, 2, &dt->hour) ||
	    !expect_char(p, ':', "':'") || !read_digits(p, 2, &dt->minute) ||
	    !expect_char(p, ':', "':'") || !read_digits(p, 2, &dt->second) ||
	    !expect_sp(p))
		return FALSE;
	int sign = peek(p);
	if (sign != '+' && sign != '-')
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Bad time zone");
	p->pos++;
	if (!read_digits(p, 2, &zh) || !read_digits(p, 2, &zm) || !expect_char(p, '"', "'\"'"))
		return FALSE;
	/* a leap second (60) is a real time of day */
	if (dt->hour > 23 || dt->minute > 59 || dt->second > 60 || zm > 59)
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Bad time");
	dt->zone_minutes = (sign == '-' ? -1 : 1) * (zh * 60 + zm);
	return TRUE;
}

gint64 imap_proto_date_time_to_unix(const ImapDateTime *dt)
{
	g_autoptr(GDateTime) t = g_date_time_new_utc(dt->date.year, dt->date.month, dt->date.day,
	                                             dt->hour, dt->minute, MIN(dt->second, 59));
	if (!t)
		return 0;
	return g_date_time_to_unix(t) - (gint64)dt->zone_minutes * 60;
}

gint64 imap_proto_date_to_unix(const ImapDate *d)
{
	ImapDateTime dt = { .date = *d };
	return imap_proto_date_time_to_unix(&dt);
}

/* ---- sequence sets ------------------------------------------------------ */

typedef struct {
	guint32 first, last;   /* IMAP_SEQ_STAR for "*" */
} ImapSeqRange;

struct ImapSeqSet {
	GArray *ranges;
};

static gboolean seq_number(const char *s, gsize len, gsize *i, guint32 *n_r)
{
	if (*i < len && s[*i] == '*') {
		(*i)++;
		*n_r = IMAP_SEQ_STAR;
		return TRUE;
	}
	/* RFC 3501 9: nz-number = digit-nz *DIGIT, within 32 bits */
	if (*i >= len || s[*i] < '1' || s[*i] > '9')
		return FALSE;
	guint64 v = 0;
	while (*i < len && g_ascii_isdigit(s[*i])) {
		v = v * 10 + (guint64)(s[*i] - '0');
		if (v > G_MAXUINT32)
			return FALSE;
		(*i)++;
	}
	*n_r = (guint32)v;
	return TRUE;
}

/* RFC 3501 9: sequence-set = (seq-number / seq-range) *("," sequence-set) */
ImapSeqSet *imap_proto_seqset_parse(const char *s, gsize len, GError **error)
{
	g_return_val_if_fail(s != NULL || len == 0, NULL);
	GArray *ranges = g_array_new(FALSE, FALSE, sizeof(ImapSeqRange));
	gsize i = 0;
	for (;;) {
		ImapSeqRange r;
		if (!seq_number(s, len, &i, &r.first))
			break;
		r.last = r.first;
		if (i < len && s[i] == ':') {
			i++;
			if (!seq_number(s, len, &i, &r.last))
				break;
		}
		g_array_append_val(ranges, r);
		if (i == len) {
			ImapSeqSet *set = g_new0(ImapSeqSet, 1);
			set->ranges = ranges;
			return set;
		}
		if (s[i] != ',')
			break;
		i++;
	}
	g_array_free(ranges, TRUE);
	g_set_error_literal(error, IMAP_PROTO_ERROR, IMAP_PROTO_ERROR_SYNTAX, "Invalid sequence set");
	return NULL;
}

void imap_proto_seqset_free(ImapSeqSet *set)
{
	if (!set)
		return;
	g_array_free(set->ranges, TRUE);
	g_free(set);
}

gboolean imap_proto_seqset_contains(const ImapSeqSet *set, guint32 n, guint32 max)
{
	for (guint i = 0; i < set->ranges->len; i++) {
		const ImapSeqRange *r = &g_array_index(set->ranges, ImapSeqRange, i);
		guint32 a = r->first == IMAP_SEQ_STAR ? max : r->first;
		guint32 b = r->last == IMAP_SEQ_STAR ? max : r->last;
		if (n >= MIN(a, b) && n <= MAX(a, b))
			return TRUE;
	}
	return FALSE;
}

guint imap_proto_seqset_n_ranges(const ImapSeqSet *set)
{
	return set->ranges->len;
}

void imap_proto_seqset_range(const ImapSeqSet *set, guint i, guint32 *first_r, guint32 *last_r)
{
	g_return_if_fail(i < set->ranges->len);
	const ImapSeqRange *r = &g_array_index(set->ranges, ImapSeqRange, i);
	*first_r = r->first;
	*last_r = r->last;
}

static void append_seq_number(GString *out, guint32 n)
{
	if (n == IMAP_SEQ_STAR)
		g_string_append_c(out, '*');
	else
		g_string_append_printf(out, "%u", n);
}

char *imap_proto_seqset_to_string(const ImapSeqSet *set)
{
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < set->ranges->len; i++) {
		const ImapSeqRange *r = &g_array_index(set->ranges, ImapSeqRange, i);
		if (i > 0)
			g_string_append_c(out, ',');
		append_seq_number(out, r->first);
		if (r->last != r->first) {
			g_string_append_c(out, ':');
			append_seq_number(out, r->last);
		}
	}
	return g_string_free(out, FALSE);
}

/* ---- search keys -------------------------------------------------------- */

typedef enum {
	SEARCH_ARG_NONE,
	SEARCH_ARG_ASTRING,   /* FROM "bob" */
	SEARCH_ARG_DATE,      /* SINCE 1-Feb-1994 */
	SEARCH_ARG_NUMBER,    /* LARGER 1000 */
	SEARCH_ARG_KEYWORD,   /* KEYWORD $Junk */
	SEARCH_ARG_HEADER,    /* HEADER X-Spam yes */
	SEARCH_ARG_SEQSET,    /* UID 1:5 */
	SEARCH_ARG_KEY,       /* NOT key */
	SEARCH_ARG_KEY2,      /* OR key key */
} SearchArg;

/* RFC 3501 6.4.4 and 9 (search-key), one row per key. */
static const struct {
	const char *name;
	ImapSearchKind kind;
	SearchArg arg;
} search_keys[] = {
	{ "ALL",        IMAP_SEARCH_ALL,        SEARCH_ARG_NONE },
	{ "ANSWERED",   IMAP_SEARCH_ANSWERED,   SEARCH_ARG_NONE },
	{ "BCC",        IMAP_SEARCH_BCC,        SEARCH_ARG_ASTRING },
	{ "BEFORE",     IMAP_SEARCH_BEFORE,     SEARCH_ARG_DATE },
	{ "BODY",       IMAP_SEARCH_BODY,       SEARCH_ARG_ASTRING },
	{ "CC",         IMAP_SEARCH_CC,         SEARCH_ARG_ASTRING },
	{ "DELETED",    IMAP_SEARCH_DELETED,    SEARCH_ARG_NONE },
	{ "DRAFT",      IMAP_SEARCH_DRAFT,      SEARCH_ARG_NONE },
	{ "FLAGGED",    IMAP_SEARCH_FLAGGED,    SEARCH_ARG_NONE },
	{ "FROM",       IMAP_SEARCH_FROM,       SEARCH_ARG_ASTRING },
	{ "HEADER",     IMAP_SEARCH_HEADER,     SEARCH_ARG_HEADER },
	{ "KEYWORD",    IMAP_SEARCH_KEYWORD,    SEARCH_ARG_KEYWORD },
	{ "LARGER",     IMAP_SEARCH_LARGER,     SEARCH_ARG_NUMBER },
	{ "NEW",        IMAP_SEARCH_NEW,        SEARCH_ARG_NONE },
	{ "NOT",        IMAP_SEARCH_NOT,        SEARCH_ARG_KEY },
	{ "OLD",        IMAP_SEARCH_OLD,        SEARCH_ARG_NONE },
	{ "ON",         IMAP_SEARCH_ON,         SEARCH_ARG_DATE },
	{ "OR",         IMAP_SEARCH_OR,         SEARCH_ARG_KEY2 },
	{ "RECENT",     IMAP_SEARCH_RECENT,     SEARCH_ARG_NONE },
	{ "SEEN",       IMAP_SEARCH_SEEN,       SEARCH_ARG_NONE },
	{ "SENTBEFORE", IMAP_SEARCH_SENTBEFORE, SEARCH_ARG_DATE },
	{ "SENTON",     IMAP_SEARCH_SENTON,     SEARCH_ARG_DATE },
	{ "SENTSINCE",  IMAP_SEARCH_SENTSINCE,  SEARCH_ARG_DATE },
	{ "SINCE",      IMAP_SEARCH_SINCE,      SEARCH_ARG_DATE },
	{ "SMALLER",    IMAP_SEARCH_SMALLER,    SEARCH_ARG_NUMBER },
	{ "SUBJECT",    IMAP_SEARCH_SUBJECT,    SEARCH_ARG_ASTRING },
	{ "TEXT",       IMAP_SEARCH_TEXT,       SEARCH_ARG_ASTRING },
	{ "TO",         IMAP_SEARCH_TO,         SEARCH_ARG_ASTRING },
	{ "UID",        IMAP_SEARCH_UID,        SEARCH_ARG_SEQSET },
	{ "UNANSWERED", IMAP_SEARCH_UNANSWERED, SEARCH_ARG_NONE },
	{ "UNDELETED",  IMAP_SEARCH_UNDELETED,  SEARCH_ARG_NONE },
	{ "UNDRAFT",    IMAP_SEARCH_UNDRAFT,    SEARCH_ARG_NONE },
	{ "UNFLAGGED",  IMAP_SEARCH_UNFLAGGED,  SEARCH_ARG_NONE },
	{ "UNKEYWORD",  IMAP_SEARCH_UNKEYWORD,  SEARCH_ARG_KEYWORD },
	{ "UNSEEN",     IMAP_SEARCH_UNSEEN,     SEARCH_ARG_NONE },
};

const char *imap_search_kind_to_string(ImapSearchKind k)
{
	if (k == IMAP_SEARCH_SEQSET)
		return "SEQSET";
	if (k == IMAP_SEARCH_AND)
		return "AND";
	for (gsize i = 0; i < G_N_ELEMENTS(search_keys); i++)
		if (search_keys[i].kind == k)
			return search_keys[i].name;
	return "?";
}

void imap_search_key_free(ImapSearchKey *key)
{
	if (!key)
		return;
	g_free(key->header);
	g_free(key->value);
	imap_proto_seqset_free(key->set);
	g_clear_pointer(&key->children, g_ptr_array_unref);
	g_free(key);
}

static ImapSearchKey *search_key_new(ImapSearchKind kind)
{
	ImapSearchKey *key = g_new0(ImapSearchKey, 1);
	key->kind = kind;
	if (kind == IMAP_SEARCH_AND || kind == IMAP_SEARCH_NOT || kind == IMAP_SEARCH_OR)
		key->children = g_ptr_array_new_with_free_func((GDestroyNotify)imap_search_key_free);
	return key;
}

static ImapSearchKey *parse_search_key(ImapParser *p, guint depth);

/* Read one key into parent's children. */
static gboolean parse_search_child(ImapParser *p, guint depth, ImapSearchKey *parent)
{
	ImapSearchKey *child = parse_search_key(p, depth);
	if (!child)
		return FALSE;
	g_ptr_array_add(parent->children, child);
	return TRUE;
}

/* RFC 3501 9: search-key.  Recursion is bounded: each "(", NOT and OR goes
 * one level deeper and IMAP_PROTO_MAX_DEPTH stops it, so 10,000 nested
 * parentheses cost 33 stack frames and an error. */
static ImapSearchKey *parse_search_key(ImapParser *p, guint depth)
{
	if (depth > IMAP_PROTO_MAX_DEPTH) {
		fail(p, IMAP_PROTO_ERROR_LIMIT, "Search keys nested too deeply");
		return NULL;
	}
	if (++p->n_keys > IMAP_PROTO_MAX_ARGS) {
		fail(p, IMAP_PROTO_ERROR_LIMIT, "Too many search keys");
		return NULL;
	}
	g_autoptr(ImapSearchKey) key = NULL;
	int c = peek(p);

	if (c == '(') {
		p->pos++;
		key = search_key_new(IMAP_SEARCH_AND);
		do {
			if (key->children->len > 0 && !expect_sp(p))
				return NULL;
			if (!parse_search_child(p, depth + 1, key))
				return NULL;
		} while (peek(p) != ')' && !p->failed && peek(p) >= 0);
		if (!expect_char(p, ')', "')'"))
			return NULL;
		return g_steal_pointer(&key);
	}
	if (c >= 0 && (g_ascii_isdigit(c) || c == '*')) {
		key = search_key_new(IMAP_SEARCH_SEQSET);
		return read_seqset(p, &key->set) ? g_steal_pointer(&key) : NULL;
	}

	const char *name = NULL;
	gsize len = 0;
	if (!read_atom(p, &name, &len))
		return NULL;
	gsize row = 0;
	while (row < G_N_ELEMENTS(search_keys) && !token_is(name, len, search_keys[row].name))
		row++;
	if (row == G_N_ELEMENTS(search_keys)) {
		fail(p, IMAP_PROTO_ERROR_SYNTAX, "Unknown search key %.*s", (int)MIN(len, 64), name);
		return NULL;
	}
	key = search_key_new(search_keys[row].kind);
	if (search_keys[row].arg != SEARCH_ARG_NONE && !expect_sp(p))
		return NULL;

	gboolean ok = TRUE;
	switch (search_keys[row].arg) {
	case SEARCH_ARG_NONE:
		break;
	case SEARCH_ARG_ASTRING:
		ok = read_astring(p, &key->value);
		break;
	case SEARCH_ARG_DATE:
		ok = read_date(p, &key->date);
		break;
	case SEARCH_ARG_NUMBER:
		ok = read_number(p, FALSE, &key->number);
		break;
	case SEARCH_ARG_KEYWORD: {
		const char *kw = NULL;
		gsize kwlen = 0;
		/* RFC 3501 9: flag-keyword = atom */
		ok = read_atom(p, &kw, &kwlen);
		if (ok)
			key->value = g_strndup(kw, kwlen);
		break;
	}
	case SEARCH_ARG_HEADER:
		/* RFC 3501 9: "HEADER" SP header-fld-name SP astring */
		ok = read_astring(p, &key->header) && expect_sp(p) && read_astring(p, &key->value);
		break;
	case SEARCH_ARG_SEQSET:
		ok = read_seqset(p, &key->set);
		break;
	case SEARCH_ARG_KEY:
		ok = parse_search_child(p, depth + 1, key);
		break;
	case SEARCH_ARG_KEY2:
		ok = parse_search_child(p, depth + 1, key) && expect_sp(p) &&
		     parse_search_child(p, depth + 1, key);
		break;
	}
	return ok ? g_steal_pointer(&key) : NULL;
}

/* ---- fetch items -------------------------------------------------------- */

const char *imap_fetch_kind_to_string(ImapFetchKind k)
{
	switch (k) {
	case IMAP_FETCH_FLAGS:          return "FLAGS";
	case IMAP_FETCH_UID:            return "UID";
	case IMAP_FETCH_INTERNALDATE:   return "INTERNALDATE";
	case IMAP_FETCH_RFC822_SIZE:    return "RFC822.SIZE";
	case IMAP_FETCH_ENVELOPE:       return "ENVELOPE";
	case IMAP_FETCH_BODY:           return "BODY";
	case IMAP_FETCH_BODYSTRUCTURE:  return "BODYSTRUCTURE";
	case IMAP_FETCH_BODY_SECTION:   return "BODY[]";
	case IMAP_FETCH_RFC822:         return "RFC822";
	case IMAP_FETCH_RFC822_HEADER:  return "RFC822.HEADER";
	case IMAP_FETCH_RFC822_TEXT:    return "RFC822.TEXT";
	}
	return "?";
}

typedef enum { SECTION_NONE, SECTION_OPTIONAL, SECTION_REQUIRED } SectionRule;

/* RFC 3501 9: fetch-att, one row per name. */
static const struct {
	const char *name;
	ImapFetchKind kind;
	SectionRule section;
	gboolean peek;
} fetch_atts[] = {
	{ "ENVELOPE",      IMAP_FETCH_ENVELOPE,      SECTION_NONE,     FALSE },
	{ "FLAGS",         IMAP_FETCH_FLAGS,         SECTION_NONE,     FALSE },
	{ "INTERNALDATE",  IMAP_FETCH_INTERNALDATE,  SECTION_NONE,     FALSE },
	{ "RFC822",        IMAP_FETCH_RFC822,        SECTION_NONE,     FALSE },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER, SECTION_NONE,     FALSE },
	{ "RFC822.SIZE",   IMAP_FETCH_RFC822_SIZE,   SECTION_NONE,     FALSE },
	{ "RFC822.TEXT",   IMAP_FETCH_RFC822_TEXT,   SECTION_NONE,     FALSE },
	{ "BODY",          IMAP_FETCH_BODY,          SECTION_OPTIONAL, FALSE },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, SECTION_NONE,     FALSE },
	{ "UID",           IMAP_FETCH_UID,           SECTION_NONE,     FALSE },
	{ "BODY.PEEK",     IMAP_FETCH_BODY_SECTION,  SECTION_REQUIRED, TRUE },
};

/* RFC 3501 6.4.5: the macros, as the items they stand for. */
static const struct {
	const char *name;
	ImapFetchKind items[5];
	guint n;
} fetch_macros[] = {
	{ "ALL",  { IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE, IMAP_FETCH_ENVELOPE }, 4 },
	{ "FAST", { IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE }, 3 },
	{ "FULL", { IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
	            IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY }, 5 },
};

static void fetch_item_free(gpointer p)
{
	ImapFetchItem *item = p;
	if (item->section.parts)
		g_array_free(item->section.parts, TRUE);
	g_clear_pointer(&item->section.fields, g_ptr_array_unref);
	g_free(item);
}

static ImapFetchItem *fetch_item_new(ImapFetchKind kind)
{
	ImapFetchItem *item = g_new0(ImapFetchItem, 1);
	item->kind = kind;
	item->section.parts = g_array_new(FALSE, FALSE, sizeof(guint32));
	return item;
}

static gboolean is_section_name_char(int c)
{
	return g_ascii_isalpha(c) || c == '.';
}

/* RFC 3501 9: header-list = "(" header-fld-name *(SP header-fld-name) ")" */
static gboolean read_header_list(ImapParser *p, GPtrArray *fields)
{
	if (!expect_char(p, '(', "'(' before header names"))
		return FALSE;
	do {
		if (fields->len > 0 && !expect_sp(p))
			return FALSE;
		if (fields->len >= IMAP_PROTO_MAX_ARGS)
			return fail(p, IMAP_PROTO_ERROR_LIMIT, "Too many header names");
		char *name;
		if (!read_astring(p, &name))
			return FALSE;
		g_ptr_array_add(fields, name);
	} while (peek(p) != ')' && peek(p) >= 0 && !p->failed);
	return expect_char(p, ')', "')' after header names");
}

/* RFC 3501 9: section = "[" [section-spec] "]" */
static gboolean read_section(ImapParser *p, ImapSection *sec)
{
	p->pos++;   /* '[' */
	sec->text = IMAP_SECTION_BODY;
	if (peek(p) == ']') {
		p->pos++;
		return TRUE;
	}
	gboolean have_parts = FALSE;
	if (peek(p) >= 0 && g_ascii_isdigit(peek(p))) {
		/* section-part = nz-number *("." nz-number), then ["." section-text] */
		have_parts = TRUE;
		gboolean text_follows = FALSE;
		while (!text_follows) {
			guint32 n;
			if (sec->parts->len >= IMAP_PROTO_MAX_DEPTH)
				return fail(p, IMAP_PROTO_ERROR_LIMIT, "Section part numbers nested too deeply");
			if (!read_number(p, TRUE, &n))
				return FALSE;
			g_array_append_val(sec->parts, n);
			if (peek(p) != '.')
				return expect_char(p, ']', "']' after a section");
			p->pos++;
			text_follows = peek(p) < 0 || !g_ascii_isdigit(peek(p));
		}
	}
	const char *name = NULL;
	gsize len = 0;
	if (!read_chars(p, is_section_name_char, "a section", &name, &len))
		return FALSE;
	if (token_is(name, len, "HEADER"))
		sec->text = IMAP_SECTION_HEADER;
	else if (token_is(name, len, "HEADER.FIELDS"))
		sec->text = IMAP_SECTION_HEADER_FIELDS;
	else if (token_is(name, len, "HEADER.FIELDS.NOT"))
		sec->text = IMAP_SECTION_HEADER_FIELDS_NOT;
	else if (token_is(name, len, "TEXT"))
		sec->text = IMAP_SECTION_TEXT;
	else if (have_parts && token_is(name, len, "MIME"))   /* RFC 3501 9: section-text */
		sec->text = IMAP_SECTION_MIME;
	else
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Invalid section %.*s", (int)MIN(len, 64), name);

	if (sec->text == IMAP_SECTION_HEADER_FIELDS || sec->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		sec->fields = g_ptr_array_new_with_free_func(g_free);
		if (!expect_sp(p) || !read_header_list(p, sec->fields))
			return FALSE;
	}
	return expect_char(p, ']', "']' after a section");
}

static gboolean is_fetch_name_char(int c)
{
	return g_ascii_isalnum(c) || c == '.';
}

/* RFC 3501 9: fetch-att */
static ImapFetchItem *parse_fetch_att(ImapParser *p)
{
	const char *name = NULL;
	gsize len = 0;
	if (!read_chars(p, is_fetch_name_char, "a fetch item", &name, &len))
		return NULL;
	gsize row = 0;
	while (row < G_N_ELEMENTS(fetch_atts) && !token_is(name, len, fetch_atts[row].name))
		row++;
	if (row == G_N_ELEMENTS(fetch_atts)) {
		fail(p, IMAP_PROTO_ERROR_SYNTAX, "Unknown fetch item %.*s", (int)MIN(len, 64), name);
		return NULL;
	}
	ImapFetchItem *item = fetch_item_new(fetch_atts[row].kind);
	item->peek = fetch_atts[row].peek;
	gboolean has_section = peek(p) == '[';
	if (has_section && fetch_atts[row].section == SECTION_NONE) {
		fail(p, IMAP_PROTO_ERROR_SYNTAX, "%s takes no section", fetch_atts[row].name);
		goto err;
	}
	if (!has_section && fetch_atts[row].section == SECTION_REQUIRED) {
		fail(p, IMAP_PROTO_ERROR_SYNTAX, "%s needs a section", fetch_atts[row].name);
		goto err;
	}
	if (has_section) {
		item->kind = IMAP_FETCH_BODY_SECTION;
		if (!read_section(p, &item->section))
			goto err;
		/* RFC 3501 9: ["<" number "." nz-number ">"] */
		if (peek(p) == '<') {
			p->pos++;
			item->partial = TRUE;
			if (!read_number(p, FALSE, &item->partial_origin) ||
			    !expect_char(p, '.', "'.' in a partial range") ||
			    !read_number(p, TRUE, &item->partial_count) ||
			    !expect_char(p, '>', "'>' after a partial range"))
				goto err;
		}
	}
	return item;
err:
	fetch_item_free(item);
	return NULL;
}

static void append_section(GString *out, const ImapSection *sec)
{
	for (guint i = 0; i < sec->parts->len; i++)
		g_string_append_printf(out, "%s%u", i ? "." : "", g_array_index(sec->parts, guint32, i));
	if (sec->text != IMAP_SECTION_BODY) {
		if (sec->parts->len > 0)
			g_string_append_c(out, '.');
		g_string_append(out, section_text_names[sec->text]);
	}
	if (sec->fields) {
		g_string_append(out, " (");
		for (guint i = 0; i < sec->fields->len; i++) {
			if (i > 0)
				g_string_append_c(out, ' ');
			imap_proto_append_astring(out, g_ptr_array_index(sec->fields, i));
		}
		g_string_append_c(out, ')');
	}
}

char *imap_proto_fetch_item_name(const ImapFetchItem *item)
{
	if (item->kind != IMAP_FETCH_BODY_SECTION)
		return g_strdup(imap_fetch_kind_to_string(item->kind));
	GString *out = g_string_new("BODY[");
	append_section(out, &item->section);
	g_string_append_c(out, ']');
	/* RFC 3501 7.4.2: BODY[section]<origin> in the reply */
	if (item->partial)
		g_string_append_printf(out, "<%u>", item->partial_origin);
	return g_string_free(out, FALSE);
}

/* ---- command arguments -------------------------------------------------- */

typedef gboolean (*ArgsParser)(ImapParser *p, ImapCommand *cmd);

static gboolean args_none(ImapParser *p, ImapCommand *cmd)
{
	return TRUE;
}

/* mailbox = "INBOX" / astring: kept as sent; the session checks the name */
static gboolean args_mailbox(ImapParser *p, ImapCommand *cmd)
{
	return expect_sp(p) && read_astring(p, &cmd->mailbox);
}

static gboolean args_rename(ImapParser *p, ImapCommand *cmd)
{
	return args_mailbox(p, cmd) && expect_sp(p) && read_astring(p, &cmd->new_mailbox);
}

/* RFC 3501 9: "LOGIN" SP userid SP password */
static gboolean args_login(ImapParser *p, ImapCommand *cmd)
{
	return expect_sp(p) && read_astring(p, &cmd->user) &&
	       expect_sp(p) && read_astring(p, &cmd->password);
}

static gboolean is_base64_char(int c)
{
	return g_ascii_isalnum(c) || c == '+' || c == '/' || c == '=';
}

/* RFC 3501 9: "AUTHENTICATE" SP auth-type, RFC 4959 7: [SP (base64 / "=")] */
static gboolean args_authenticate(ImapParser *p, ImapCommand *cmd)
{
	const char *s = NULL;
	gsize len = 0;
	if (!expect_sp(p) || !read_atom(p, &s, &len))
		return FALSE;
	cmd->mechanism = g_ascii_strup(s, len);
	if (at_end(p))
		return TRUE;
	if (!expect_sp(p) || !read_chars(p, is_base64_char, "an initial response", &s, &len))
		return FALSE;
	if (!(len == 1 && s[0] == '=') && len % 4 != 0)
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Invalid base64 initial response");
	cmd->initial_response = g_strndup(s, len);
	return TRUE;
}

/* RFC 3501 9: "LIST" SP mailbox SP list-mailbox (LSUB alike) */
static gboolean args_list(ImapParser *p, ImapCommand *cmd)
{
	return expect_sp(p) && read_astring(p, &cmd->reference) &&
	       expect_sp(p) && read_list_mailbox(p, &cmd->pattern);
}

/* RFC 3501 9: "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")" */
static gboolean args_status(ImapParser *p, ImapCommand *cmd)
{
	if (!args_mailbox(p, cmd) || !expect_sp(p) || !expect_char(p, '(', "'('"))
		return FALSE;
	guint n = 0;
	do {
		if (n > 0 && !expect_sp(p))
			return FALSE;
		if (++n > IMAP_PROTO_MAX_ARGS)
			return fail(p, IMAP_PROTO_ERROR_LIMIT, "Too many STATUS items");
		const char *s = NULL;
		gsize len = 0;
		if (!read_atom(p, &s, &len))
			return FALSE;
		gsize i = 0;
		while (i < G_N_ELEMENTS(status_items) && !token_is(s, len, status_items[i].name))
			i++;
		if (i == G_N_ELEMENTS(status_items))
			return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Unknown STATUS item %.*s", (int)MIN(len, 64), s);
		cmd->status_items |= status_items[i].item;
	} while (peek(p) != ')' && peek(p) >= 0);
	return expect_char(p, ')', "')'");
}

/* RFC 3501 9: "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal */
static gboolean args_append(ImapParser *p, ImapCommand *cmd)
{
	if (!args_mailbox(p, cmd) || !expect_sp(p))
		return FALSE;
	cmd->flags = g_ptr_array_new_with_free_func(g_free);
	if (peek(p) == '(') {
		if (!read_flag_list(p, cmd->flags) || !expect_sp(p))
			return FALSE;
	}
	if (peek(p) == '"') {
		cmd->has_date = TRUE;
		if (!read_date_time(p, &cmd->date_time) || !expect_sp(p))
			return FALSE;
	}
	if (peek(p) != '{')
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "APPEND needs the message as a literal");
	const char *data;
	gsize len = 0;
	if (!read_literal(p, &data, &len))
		return FALSE;
	cmd->message = g_bytes_new(data, len);
	return TRUE;
}

/* RFC 3501 9: "SEARCH" [SP "CHARSET" SP astring] 1*(SP search-key) */
static gboolean args_search(ImapParser *p, ImapCommand *cmd)
{
	if (!expect_sp(p))
		return FALSE;
	if (next_word_is(p, "CHARSET", FALSE)) {
		p->pos += strlen("CHARSET ");
		if (!read_astring(p, &cmd->charset) || !expect_sp(p))
			return FALSE;
	}
	cmd->search = search_key_new(IMAP_SEARCH_AND);
	do {
		if (cmd->search->children->len > 0 && !expect_sp(p))
			return FALSE;
		if (!parse_search_child(p, 1, cmd->search))
			return FALSE;
	} while (!at_end(p));
	return TRUE;
}

/* RFC 3501 9: "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
 * fetch-att / "(" fetch-att *(SP fetch-att) ")") */
static gboolean args_fetch(ImapParser *p, ImapCommand *cmd)
{
	if (!expect_sp(p) || !read_seqset(p, &cmd->set) || !expect_sp(p))
		return FALSE;
	cmd->fetch_items = g_ptr_array_new_with_free_func(fetch_item_free);

	if (peek(p) == '(') {
		p->pos++;
		do {
			if (cmd->fetch_items->len > 0 && !expect_sp(p))
				return FALSE;
			if (cmd->fetch_items->len >= IMAP_PROTO_MAX_ARGS)
				return fail(p, IMAP_PROTO_ERROR_LIMIT, "Too many fetch items");
			ImapFetchItem *item = parse_fetch_att(p);
			if (!item)
				return FALSE;
			g_ptr_array_add(cmd->fetch_items, item);
		} while (peek(p) != ')' && peek(p) >= 0);
		return expect_char(p, ')', "')'");
	}

	for (gsize m = 0; m < G_N_ELEMENTS(fetch_macros); m++) {
		if (!next_word_is(p, fetch_macros[m].name, TRUE))
			continue;
		p->pos += strlen(fetch_macros[m].name);
		for (guint i = 0; i < fetch_macros[m].n; i++)
			g_ptr_array_add(cmd->fetch_items, fetch_item_new(fetch_macros[m].items[i]));
		return TRUE;
	}
	ImapFetchItem *item = parse_fetch_att(p);
	if (!item)
		return FALSE;
	g_ptr_array_add(cmd->fetch_items, item);
	return TRUE;
}

/* RFC 3501 9: "STORE" SP sequence-set SP store-att-flags, where
 * store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP
 *                   (flag-list / (flag *(SP flag))) */
static gboolean args_store(ImapParser *p, ImapCommand *cmd)
{
	if (!expect_sp(p) || !read_seqset(p, &cmd->set) || !expect_sp(p))
		return FALSE;
	if (peek(p) == '+' || peek(p) == '-') {
		cmd->store_mode = peek(p) == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		p->pos++;
	}
	const char *s = NULL;
	gsize len = 0;
	if (!read_atom(p, &s, &len))
		return FALSE;
	if (token_is(s, len, "FLAGS.SILENT"))
		cmd->silent = TRUE;
	else if (!token_is(s, len, "FLAGS"))
		return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Expected FLAGS, +FLAGS or -FLAGS");
	if (!expect_sp(p))
		return FALSE;
	cmd->flags = g_ptr_array_new_with_free_func(g_free);
	if (peek(p) == '(')
		return read_flag_list(p, cmd->flags);
	do {
		if (cmd->flags->len > 0 && !expect_sp(p))
			return FALSE;
		if (cmd->flags->len >= IMAP_PROTO_MAX_ARGS)
			return fail(p, IMAP_PROTO_ERROR_LIMIT, "Too many flags");
		char *flag;
		if (!read_flag(p, &flag))
			return FALSE;
		g_ptr_array_add(cmd->flags, flag);
	} while (!at_end(p));
	return TRUE;
}

/* RFC 3501 9: "COPY" SP sequence-set SP mailbox; RFC 6851 3: MOVE alike */
static gboolean args_copy(ImapParser *p, ImapCommand *cmd)
{
	return expect_sp(p) && read_seqset(p, &cmd->set) && args_mailbox(p, cmd);
}

/* RFC 4315 2.1: "UID EXPUNGE" SP sequence-set; plain EXPUNGE takes none */
static gboolean args_expunge(ImapParser *p, ImapCommand *cmd)
{
	if (!cmd->uid)
		return TRUE;
	return expect_sp(p) && read_seqset(p, &cmd->set);
}

/* RFC 2971 4: "ID" SP ("(" *(string SP nstring) ")" / nil) */
static gboolean args_id(ImapParser *p, ImapCommand *cmd)
{
	if (!expect_sp(p))
		return FALSE;
	if (peek(p) != '(') {
		const char *s = NULL;
		gsize len = 0;
		if (!read_atom(p, &s, &len) || !token_is(s, len, "NIL"))
			return fail(p, IMAP_PROTO_ERROR_SYNTAX, "Expected a list or NIL");
		cmd->id_nil = TRUE;
		return TRUE;
	}
	p->pos++;
	cmd->id_params = g_ptr_array_new_with_free_func(g_free);
	while (peek(p) != ')') {
		if (cmd->id_params->len > 0 && !expect_sp(p))
			return FALSE;
		/* RFC 2971 3.3: the limits a client must keep to */
		if (cmd->id_params->len / 2 >= IMAP_PROTO_MAX_ID_PAIRS)
			return fail(p, IMAP_PROTO_ERROR_LIMIT, "Too many ID pairs");
		char *field, *value;
		if (!read_string(p, &field))
			return FALSE;
		g_ptr_array_add(cmd->id_params, field);
		if (!expect_sp(p) || !read_nstring(p, &value))
			return FALSE;
		g_ptr_array_add(cmd->id_params, value);
		if (strlen(field) > IMAP_PROTO_MAX_ID_FIELD || (value && strlen(value) > IMAP_PROTO_MAX_ID_VALUE))
			return fail(p, IMAP_PROTO_ERROR_LIMIT, "ID field or value too long");
	}
	p->pos++;
	return TRUE;
}

/* RFC 5161 4: "ENABLE" 1*(SP capability) */
static gboolean args_enable(ImapParser *p, ImapCommand *cmd)
{
	cmd->capabilities = g_ptr_array_new_with_free_func(g_free);
	do {
		const char *s = NULL;
		gsize len = 0;
		if (cmd->capabilities->len >= IMAP_PROTO_MAX_ARGS)
			return fail(p, IMAP_PROTO_ERROR_LIMIT, "Too many capabilities");
		if (!expect_sp(p) || !read_atom(p, &s, &len))
			return FALSE;
		g_ptr_array_add(cmd->capabilities, g_strndup(s, len));
	} while (!at_end(p));
	return TRUE;
}

/* The commands: name, kind, argument grammar, and whether "UID" may
 * precede it (RFC 3501 6.4.8, RFC 4315 2.1, RFC 6851 3). */
static const struct {
	const char *name;
	ImapCommandKind kind;
	ArgsParser args;
	gboolean uid_ok;
} commands[] = {
	{ "CAPABILITY",   IMAP_CMD_CAPABILITY,   args_none,         FALSE },
	{ "NOOP",         IMAP_CMD_NOOP,         args_none,         FALSE },
	{ "LOGOUT",       IMAP_CMD_LOGOUT,       args_none,         FALSE },
	{ "STARTTLS",     IMAP_CMD_STARTTLS,     args_none,         FALSE },
	{ "AUTHENTICATE", IMAP_CMD_AUTHENTICATE, args_authenticate, FALSE },
	{ "LOGIN",        IMAP_CMD_LOGIN,        args_login,        FALSE },
	{ "SELECT",       IMAP_CMD_SELECT,       args_mailbox,      FALSE },
	{ "EXAMINE",      IMAP_CMD_EXAMINE,      args_mailbox,      FALSE },
	{ "CREATE",       IMAP_CMD_CREATE,       args_mailbox,      FALSE },
	{ "DELETE",       IMAP_CMD_DELETE,       args_mailbox,      FALSE },
	{ "RENAME",       IMAP_CMD_RENAME,       args_rename,       FALSE },
	{ "SUBSCRIBE",    IMAP_CMD_SUBSCRIBE,    args_mailbox,      FALSE },
	{ "UNSUBSCRIBE",  IMAP_CMD_UNSUBSCRIBE,  args_mailbox,      FALSE },
	{ "LIST",         IMAP_CMD_LIST,         args_list,         FALSE },
	{ "LSUB",         IMAP_CMD_LSUB,         args_list,         FALSE },
	{ "STATUS",       IMAP_CMD_STATUS,       args_status,       FALSE },
	{ "APPEND",       IMAP_CMD_APPEND,       args_append,       FALSE },
	{ "CHECK",        IMAP_CMD_CHECK,        args_none,         FALSE },
	{ "CLOSE",        IMAP_CMD_CLOSE,        args_none,         FALSE },
	{ "UNSELECT",     IMAP_CMD_UNSELECT,     args_none,         FALSE },
	{ "EXPUNGE",      IMAP_CMD_EXPUNGE,      args_expunge,      TRUE },
	{ "SEARCH",       IMAP_CMD_SEARCH,       args_search,       TRUE },
	{ "FETCH",        IMAP_CMD_FETCH,        args_fetch,        TRUE },
	{ "STORE",        IMAP_CMD_STORE,        args_store,        TRUE },
	{ "COPY",         IMAP_CMD_COPY,         args_copy,         TRUE },
	{ "MOVE",         IMAP_CMD_MOVE,         args_copy,         TRUE },
	{ "IDLE",         IMAP_CMD_IDLE,         args_none,         FALSE },
	{ "NAMESPACE",    IMAP_CMD_NAMESPACE,    args_none,         FALSE },
	{ "ID",           IMAP_CMD_ID,           args_id,           FALSE },
	{ "ENABLE",       IMAP_CMD_ENABLE,       args_enable,       FALSE },
};

const char *imap_command_kind_to_string(ImapCommandKind k)
{
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		if (commands[i].kind == k)
			return commands[i].name;
	return "?";
}

void imap_command_free(ImapCommand *cmd)
{
	if (!cmd)
		return;
	g_free(cmd->tag);
	g_free(cmd->mailbox);
	g_free(cmd->new_mailbox);
	g_free(cmd->reference);
	g_free(cmd->pattern);
	g_free(cmd->user);
	g_free(cmd->password);
	g_free(cmd->mechanism);
	g_free(cmd->initial_response);
	g_clear_pointer(&cmd->flags, g_ptr_array_unref);
	g_clear_pointer(&cmd->message, g_bytes_unref);
	imap_proto_seqset_free(cmd->set);
	g_clear_pointer(&cmd->fetch_items, g_ptr_array_unref);
	g_free(cmd->charset);
	imap_search_key_free(cmd->search);
	g_clear_pointer(&cmd->id_params, g_ptr_array_unref);
	g_clear_pointer(&cmd->capabilities, g_ptr_array_unref);
	g_free(cmd);
}

/* RFC 3501 9: tag = 1*<any ASTRING-CHAR except "+"> */
static gboolean is_tag_char(int c)
{
	return is_astring_char(c) && c != '+';
}

static gboolean is_command_name_char(int c)
{
	return g_ascii_isalpha(c);
}

ImapCommand *imap_proto_parse_command(const char *buf, gsize len, char **tag_r, GError **error)
{
	g_return_val_if_fail(buf != NULL || len == 0, NULL);
	ImapParser p = { .buf = buf ? buf : "", .len = len, .error = error };
	g_autoptr(ImapCommand) cmd = g_new0(ImapCommand, 1);
	const char *s = NULL;
	gsize slen = 0;

	if (tag_r)
		*tag_r = NULL;
	if (!read_chars(&p, is_tag_char, "a tag", &s, &slen))
		return NULL;
	cmd->tag = g_strndup(s, slen);
	if (len > IMAP_PROTO_MAX_COMMAND) {
		fail(&p, IMAP_PROTO_ERROR_LIMIT, "Command too long");
		goto err;
	}
	if (!expect_sp(&p) || !read_chars(&p, is_command_name_char, "a command", &s, &slen))
		goto err;

	gsize row = 0;
	if (token_is(s, slen, "UID")) {
		cmd->uid = TRUE;
		if (!expect_sp(&p) || !read_chars(&p, is_command_name_char, "a command after UID", &s, &slen))
			goto err;
	}
	while (row < G_N_ELEMENTS(commands) && !token_is(s, slen, commands[row].name))
		row++;
	if (row == G_N_ELEMENTS(commands) || (cmd->uid && !commands[row].uid_ok)) {
		fail(&p, IMAP_PROTO_ERROR_UNKNOWN_COMMAND, "Unknown command %s%.*s",
		     cmd->uid ? "UID " : "", (int)MIN(slen, 64), s);
		goto err;
	}
	cmd->kind = commands[row].kind;
	if (!commands[row].args(&p, cmd))
		goto err;
	if (!at_end(&p)) {
		fail(&p, IMAP_PROTO_ERROR_SYNTAX, "Unexpected characters after %s", commands[row].name);
		goto err;
	}
	return g_steal_pointer(&cmd);
err:
	if (tag_r)
		*tag_r = g_steal_pointer(&cmd->tag);
	return NULL;
}

/* ---- literals and IDLE -------------------------------------------------- */

ImapLiteral imap_proto_line_literal(const char *line, gsize len, guint64 *size_r, gboolean *nonsync_r)
{
	g_return_val_if_fail(line != NULL || len == 0, IMAP_LITERAL_NONE);
	if (size_r)
		*size_r = 0;
	if (nonsync_r)
		*nonsync_r = FALSE;
	if (len < 3 || line[len - 1] != '}')
		return IMAP_LITERAL_NONE;
	gsize end = len - 1;        /* the '}' */
	gboolean nonsync = line[end - 1] == '+';
	if (nonsync)
		end--;
	gsize start = end;
	while (start > 0 && g_ascii_isdigit(line[start - 1]))
		start--;
	if (start == end || start == 0 || line[start - 1] != '{')
		return IMAP_LITERAL_NONE;

	guint64 n = 0;
	gboolean overflow = FALSE;
	for (gsize i = start; i < end && !overflow; i++) {
		guint d = (guint)(line[i] - '0');
		if (n > (G_MAXUINT64 - d) / 10)
			overflow = TRUE;
		else
			n = n * 10 + d;
	}
	if (size_r)
		*size_r = overflow ? G_MAXUINT64 : n;
	if (nonsync_r)
		*nonsync_r = nonsync;
	/* RFC 3501 9: number is 32-bit; anything longer is refused unread */
	if (overflow || n > G_MAXUINT32 || n > IMAP_PROTO_MAX_LITERAL)
		return IMAP_LITERAL_TOO_LARGE;
	return IMAP_LITERAL_FOLLOWS;
}

gboolean imap_proto_line_is_done(const char *line, gsize len)
{
	return len == 4 && g_ascii_strncasecmp(line, "DONE", 4) == 0;
}

/* ---- modified UTF-7 (RFC 3501 5.1.3) ------------------------------------ */

static const char mbase64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static gboolean mutf7_printable(gunichar c)
{
	return c >= 0x20 && c <= 0x7e;
}

char *imap_proto_mutf7_encode(const char *utf8, GError **error)
{
	g_return_val_if_fail(utf8 != NULL, NULL);
	if (!g_utf8_validate(utf8, -1, NULL)) {
		g_set_error_literal(error, IMAP_PROTO_ERROR, IMAP_PROTO_ERROR_MAILBOX_NAME,
		                    "Mailbox name is not UTF-8");
		return NULL;
	}
	GString *out = g_string_new(NULL);
	const char *s = utf8;
	while (*s) {
		gunichar c = g_utf8_get_char(s);
		if (mutf7_printable(c)) {
			/* RFC 3501 5.1.3: "&" is represented by "&-" */
			g_string_append(out, c == '&' ? "&-" : (char[]){ (char)c, 0 });
			s = g_utf8_next_char(s);
			continue;
		}
		/* a run of characters that need base64, as UTF-16BE */
		const char *run = s;
		while (*s && !mutf7_printable(g_utf8_get_char(s)))
			s = g_utf8_next_char(s);
		glong n16 = 0;
		g_autofree gunichar2 *u16 = g_utf8_to_utf16(run, s - run, NULL, &n16, NULL);
		g_autofree guchar *be = g_new(guchar, (gsize)n16 * 2 + 1);
		for (glong i = 0; i < n16; i++) {
			be[2 * i] = (guchar)(u16[i] >> 8);
			be[2 * i + 1] = (guchar)(u16[i] & 0xff);
		}
		g_autofree char *b64 = g_base64_encode(be, (gsize)n16 * 2);
		/* RFC 3501 5.1.3: modified BASE64 uses "," for "/" and no "=" padding */
		g_string_append_c(out, '&');
		for (char *b = b64; *b && *b != '='; b++)
			g_string_append_c(out, *b == '/' ? ',' : *b);
		g_string_append_c(out, '-');
	}
	return g_string_free(out, FALSE);
}

static char *mutf7_fail(GString *out, GError **error, const char *why)
{
	g_string_free(out, TRUE);
	g_set_error(error, IMAP_PROTO_ERROR, IMAP_PROTO_ERROR_MAILBOX_NAME,
	            "Invalid modified UTF-7: %s", why);
	return NULL;
}

/* GLib's base64 decoder skips bad characters, so this strict one is
 * written out: every character counts and leftover bits must be zero. */
char *imap_proto_mutf7_decode(const char *mutf7, GError **error)
{
	g_return_val_if_fail(mutf7 != NULL, NULL);
	GString *out = g_string_new(NULL);
	const char *s = mutf7;

	while (*s) {
		guchar c = (guchar)*s++;
		if (!mutf7_printable(c))
			return mutf7_fail(out, error, "8-bit or control character");
		if (c != '&') {
			g_string_append_c(out, (char)c);
			continue;
		}
		if (*s == '-') {
			g_string_append_c(out, '&');
			s++;
			continue;
		}
		g_autoptr(GArray) u16 = g_array_new(FALSE, FALSE, sizeof(gunichar2));
		guint32 bits = 0;
		guint nbits = 0;
		while (*s && *s != '-') {
			const char *at = strchr(mbase64_alphabet, *s);
			if (!at)
				return mutf7_fail(out, error, "bad base64 character");
			bits = (bits << 6) | (guint32)(at - mbase64_alphabet);
			nbits += 6;
			if (nbits >= 16) {
				nbits -= 16;
				gunichar2 unit = (gunichar2)(bits >> nbits);
				g_array_append_val(u16, unit);
			}
			bits &= (1u << nbits) - 1;
			s++;
		}
		if (*s != '-')
			return mutf7_fail(out, error, "unterminated base64");
		s++;
		if (nbits >= 6 || bits != 0)
			return mutf7_fail(out, error, "bad base64 padding");
		g_autofree char *utf8 = g_utf16_to_utf8((const gunichar2 *)u16->data, u16->len, NULL, NULL, NULL);
		if (!utf8)
			return mutf7_fail(out, error, "bad UTF-16");
		for (const char *u = utf8; *u; u = g_utf8_next_char(u)) {
			/* RFC 3501 5.1.3: printable US-ASCII must represent itself */
			if (mutf7_printable(g_utf8_get_char(u)))
				return mutf7_fail(out, error, "base64 hides a plain character");
		}
		g_string_append(out, utf8);
	}
	/* One spelling per name: re-encoding must give back the input, which
	 * also refuses two base64 runs in a row and an encoded NUL (dropped
	 * by the UTF-8 conversion above, so the round trip differs). */
	g_autofree char *again = imap_proto_mutf7_encode(out->str, NULL);
	if (!again || strcmp(again, mutf7) != 0)
		return mutf7_fail(out, error, "not in canonical form");
	return g_string_free(out, FALSE);
}

char *imap_proto_mailbox_name_check(const char *mutf7, GError **error)
{
	g_return_val_if_fail(mutf7 != NULL, NULL);
	/* mUTF-7 takes at most 2 bytes per UTF-8 byte ("&" is "&-"), so a
	 * longer input cannot decode to an acceptable name: skip the work. */
	if (strlen(mutf7) > 2 * IMAP_PROTO_MAX_MAILBOX_NAME + 2) {
		g_set_error_literal(error, IMAP_PROTO_ERROR, IMAP_PROTO_ERROR_MAILBOX_NAME,
		                    "Mailbox name too long");
		return NULL;
	}
	g_autofree char *name = imap_proto_mutf7_decode(mutf7, error);
	if (!name)
		return NULL;
	const char *why = NULL;
	gsize len = strlen(name);
	if (len == 0)
		why = "Mailbox name is empty";
	else if (len > IMAP_PROTO_MAX_MAILBOX_NAME)
		why = "Mailbox name too long";
	for (gsize i = 0; !why && i < len; i++)
		if ((guchar)name[i] < 0x20 || name[i] == 0x7f)
			why = "Control character in mailbox name";
	if (why) {
		g_set_error_literal(error, IMAP_PROTO_ERROR, IMAP_PROTO_ERROR_MAILBOX_NAME, why);
		return NULL;
	}

	g_auto(GStrv) parts = g_strsplit(name, (char[]){ IMAP_PROTO_HIERARCHY_SEP, 0 }, -1);
	for (guint i = 0; parts[i]; i++) {
		/* a leading separator would be an absolute path, "." and ".." would
		 * climb out of the user's directory */
		if (*parts[i] == '\0' || strcmp(parts[i], ".") == 0 || strcmp(parts[i], "..") == 0) {
			g_set_error_literal(error, IMAP_PROTO_ERROR, IMAP_PROTO_ERROR_MAILBOX_NAME,
			                    "Empty, \".\" or \"..\" component in mailbox name");
			return NULL;
		}
	}
	/* RFC 3501 5.1: INBOX is case-insensitive */
	if (g_ascii_strcasecmp(parts[0], "INBOX") == 0)
		memcpy(name, "INBOX", 5);
	return g_steal_pointer(&name);
}

/* ---- response encoders -------------------------------------------------- */

static gboolean can_quote(const char *s, gsize len)
{
	if (len > IMAP_PROTO_MAX_QUOTED)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)s[i];
		/* RFC 3501 9: QUOTED-CHAR is 7-bit TEXT-CHAR: no NUL, CR, LF */
		if (c == 0 || c == '\r' || c == '\n' || c > 0x7f)
			return FALSE;
	}
	return TRUE;
}

void imap_proto_append_literal(GString *out, const char *data, gsize len)
{
	g_string_append_printf(out, "{%" G_GSIZE_FORMAT "}\r\n", len);
	g_string_append_len(out, data, (gssize)len);
}

void imap_proto_append_string(GString *out, const char *s, gsize len)
{
	if (!can_quote(s, len)) {
		imap_proto_append_literal(out, s, len);
		return;
	}
	g_string_append_c(out, '"');
	for (gsize i = 0; i < len; i++) {
		/* RFC 3501 9: "\" quoted-specials */
		if (s[i] == '"' || s[i] == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, s[i]);
	}
	g_string_append_c(out, '"');
}

void imap_proto_append_nstring(GString *out, const char *s)
{
	if (s)
		imap_proto_append_string(out, s, strlen(s));
	else
		g_string_append(out, "NIL");
}

void imap_proto_append_astring(GString *out, const char *s)
{
	gsize len = strlen(s);
	gboolean atom = len > 0 && g_ascii_strcasecmp(s, "NIL") != 0;
	for (gsize i = 0; atom && i < len; i++)
		atom = is_astring_char((guchar)s[i]);
	if (atom)
		g_string_append_len(out, s, (gssize)len);
	else
		imap_proto_append_string(out, s, len);
}

void imap_proto_append_mailbox(GString *out, const char *utf8)
{
	g_autofree char *mutf7 = imap_proto_mutf7_encode(utf8, NULL);
	imap_proto_append_astring(out, mutf7 ? mutf7 : utf8);
}

void imap_proto_append_flag_list(GString *out, const char *const *flags, guint n)
{
	g_string_append_c(out, '(');
	for (guint i = 0; i < n; i++) {
		if (i > 0)
			g_string_append_c(out, ' ');
		g_string_append(out, flags[i]);
	}
	g_string_append_c(out, ')');
}

void imap_proto_append_untagged(GString *out, const char *fmt, ...)
{
	va_list ap;
	g_string_append(out, "* ");
	va_start(ap, fmt);
	g_string_append_vprintf(out, fmt, ap);
	va_end(ap);
	g_string_append(out, "\r\n");
}

/* One reply is one line: a CR or LF smuggled into text would start another. */
static void append_one_line(GString *out, const char *text)
{
	for (const char *t = text; *t; t++)
		g_string_append_c(out, (*t == '\r' || *t == '\n') ? ' ' : *t);
}

void imap_proto_append_tagged(GString *out, const char *tag, ImapCond cond,
                              const char *code, const char *text)
{
	g_string_append(out, tag ? tag : "*");
	g_string_append_c(out, ' ');
	g_string_append(out, imap_cond_to_string(cond));
	if (code) {
		/* RFC 3501 7.1: resp-text = ["[" resp-text-code "]" SP] text */
		g_string_append(out, " [");
		append_one_line(out, code);
		g_string_append_c(out, ']');
	}
	g_string_append_c(out, ' ');
	append_one_line(out, text && *text ? text : imap_cond_to_string(cond));
	g_string_append(out, "\r\n");
}

void imap_proto_append_continuation(GString *out, const char *text)
{
	g_string_append(out, "+ ");
	if (text)
		append_one_line(out, text);
	g_string_append(out, "\r\n");
}

/* The Unix times of 0001-01-01 and 9999-12-31 23:59:59, GDateTime's range. */
#define UNIX_TIME_MIN G_GINT64_CONSTANT(-62135596800)
#define UNIX_TIME_MAX G_GINT64_CONSTANT(253402300799)

void imap_proto_append_internaldate(GString *out, gint64 unix_time, int zone_minutes)
{
	/* keep the sum below from overflowing; out of range shows the epoch */
	if (unix_time < UNIX_TIME_MIN || unix_time > UNIX_TIME_MAX || ABS(zone_minutes) >= 100 * 60) {
		unix_time = 0;
		zone_minutes = 0;
	}
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(unix_time + (gint64)zone_minutes * 60);
	if (!t)
		t = g_date_time_new_from_unix_utc(0);
	int z = ABS(zone_minutes);
	/* RFC 3501 9: date-time; English month names whatever the locale */
	g_string_append_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"",
	                       g_date_time_get_day_of_month(t),
	                       month_names[g_date_time_get_month(t) - 1],
	                       g_date_time_get_year(t),
	                       g_date_time_get_hour(t), g_date_time_get_minute(t),
	                       g_date_time_get_second(t),
	                       zone_minutes < 0 ? '-' : '+', z / 60, z % 60);
}

/* ---- ENVELOPE ----------------------------------------------------------- */

/* RFC 3501 7.4.2: an address is (name adl mailbox host); a group is
 * announced by (NIL NIL "group" NIL) and closed by (NIL NIL NIL NIL).
 * This is a small forgiving RFC 5322 3.4 address-list reader. */
typedef struct {
	char *name, *adl, *mailbox, *host;
} EnvAddress;

static void env_address_free(gpointer p)
{
	EnvAddress *a = p;
	g_free(a->name);
	g_free(a->adl);
	g_free(a->mailbox);
	g_free(a->host);
	g_free(a);
}

static void env_address_add(GPtrArray *list, char *name, char *adl, char *mailbox, char *host)
{
	EnvAddress *a = g_new0(EnvAddress, 1);
	a->name = name;
	a->adl = adl;
	a->mailbox = mailbox;
	a->host = host;
	g_ptr_array_add(list, a);
}

/* RFC 5322 3.2.2: skip white space and (nested) comments; a depth counter,
 * not recursion, follows the nesting. */
static void addr_skip_cfws(const char *s, gsize *i)
{
	guint depth = 0;
	while (s[*i]) {
		char c = s[*i];
		if (depth > 0 && c == '\\' && s[*i + 1]) {
			*i += 2;
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !g_ascii_isspace(c))
			return;
		(*i)++;
	}
}

/* RFC 5322 3.2.3: atext, plus "." so that dot-atoms and obs-phrase
 * ("John Q. Public") read as single words; 8-bit bytes are kept as text. */
static gboolean addr_is_atext(char c)
{
	/* c != 0 first: strchr() would find the terminating NUL */
	return c != '\0' &&
	       ((guchar)c > 0x7f || g_ascii_isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

static void addr_read_quoted(const char *s, gsize *i, GString *out)
{
	(*i)++;
	while (s[*i] && s[*i] != '"') {
		if (s[*i] == '\\' && s[*i + 1])
			(*i)++;
		g_string_append_c(out, s[(*i)++]);
	}
	if (s[*i] == '"')
		(*i)++;
}

/* A phrase or local part: words, each an atom or a quoted string.  The
 * display form joins words with a space, the local form without. */
static guint addr_read_words(const char *s, gsize *i, GString *display, GString *local)
{
	guint n = 0;
	for (;;) {
		addr_skip_cfws(s, i);
		gsize before = local->len;
		if (s[*i] == '"') {
			addr_read_quoted(s, i, local);
		} else if (addr_is_atext(s[*i])) {
			while (addr_is_atext(s[*i]))
				g_string_append_c(local, s[(*i)++]);
		} else {
			return n;
		}
		if (n++ > 0)
			g_string_append_c(display, ' ');
		g_string_append(display, local->str + before);
	}
}

/* RFC 5322 3.4.1: domain = dot-atom / domain-literal */
static char *addr_read_domain(const char *s, gsize *i)
{
	addr_skip_cfws(s, i);
	GString *d = g_string_new(NULL);
	if (s[*i] == '[') {
		while (s[*i] && s[*i] != ']')
			g_string_append_c(d, s[(*i)++]);
		if (s[*i] == ']')
			g_string_append_c(d, s[(*i)++]);
	} else {
		while (addr_is_atext(s[*i]))
			g_string_append_c(d, s[(*i)++]);
	}
	if (d->len == 0) {
		g_string_free(d, TRUE);
		return NULL;
	}
	return g_string_free(d, FALSE);
}

/* Dovecot's spelling for the parts a broken address lacks: a non-group
 * address must have a host (RFC 3501 7.4.2: NIL host means a group). */
#define ENV_MISSING_MAILBOX "MISSING_MAILBOX"
#define ENV_MISSING_DOMAIN  "MISSING_DOMAIN"

static char *or_missing(GString *s, const char *missing)
{
	return s->len ? g_strdup(s->str) : g_strdup(missing);
}

/* RFC 5322 3.4.1: angle-addr = "<" [obs-route] addr-spec ">" */
static void addr_read_angle(const char *s, gsize *i, char *name, GPtrArray *list)
{
	g_autoptr(GString) route = g_string_new(NULL);
	g_autoptr(GString) display = g_string_new(NULL);
	g_autoptr(GString) local = g_string_new(NULL);
	char *host = NULL;
	(*i)++;
	addr_skip_cfws(s, i);
	/* RFC 5322 4.4: obs-route = obs-domain-list ":" */
	if (s[*i] == '@') {
		while (s[*i] && s[*i] != ':' && s[*i] != '>')
			g_string_append_c(route, s[(*i)++]);
		if (s[*i] == ':')
			(*i)++;
	}
	addr_read_words(s, i, display, local);
	addr_skip_cfws(s, i);
	if (s[*i] == '@') {
		(*i)++;
		host = addr_read_domain(s, i);
	}
	while (s[*i] && s[*i] != '>')
		(*i)++;
	if (s[*i] == '>')
		(*i)++;
	env_address_add(list, name, route->len ? g_strdup(route->str) : NULL,
	                or_missing(local, ENV_MISSING_MAILBOX),
	                host ? host : g_strdup(ENV_MISSING_DOMAIN));
}

/* RFC 5322 3.4: address-list, forgiving: every step consumes at least one
 * character, so garbage costs time linear in its length and never loops. */
static GPtrArray *addr_list_parse(const char *s)
{
	GPtrArray *list = g_ptr_array_new_with_free_func(env_address_free);
	gboolean in_group = FALSE;
	gsize i = 0;

	for (;;) {
		addr_skip_cfws(s, &i);
		if (!s[i])
			break;
		if (s[i] == ',') {
			i++;
			continue;
		}
		if (s[i] == ';') {
			i++;
			if (in_group)
				env_address_add(list, NULL, NULL, NULL, NULL);
			in_group = FALSE;
			continue;
		}
		g_autoptr(GString) display = g_string_new(NULL);
		g_autoptr(GString) local = g_string_new(NULL);
		guint words = addr_read_words(s, &i, display, local);
		addr_skip_cfws(s, &i);
		char c = s[i];
		if (c == ':' && !in_group) {
			/* RFC 5322 3.4: group = display-name ":" [group-list] ";" */
			i++;
			env_address_add(list, NULL, NULL, g_strdup(display->str), NULL);
			in_group = TRUE;
		} else if (c == '<') {
			addr_read_angle(s, &i, words ? g_strdup(display->str) : NULL, list);
		} else if (c == '@') {
			i++;
			char *host = addr_read_domain(s, &i);
			env_address_add(list, NULL, NULL, or_missing(local, ENV_MISSING_MAILBOX),
			                host ? host : g_strdup(ENV_MISSING_DOMAIN));
		} else {
			if (words)
				env_address_add(list, NULL, NULL, g_strdup(local->str),
				                g_strdup(ENV_MISSING_DOMAIN));
			if (c && c != ',' && c != ';')
				i++;   /* a stray special: skip it */
		}
	}
	if (in_group)
		env_address_add(list, NULL, NULL, NULL, NULL);
	return list;
}

/* env-from etc.: "(" 1*address ")" / nil; FALSE if there was none. */
static gboolean append_address_list(GString *out, const char *value)
{
	if (!value)
		return FALSE;
	g_autoptr(GPtrArray) list = addr_list_parse(value);
	if (list->len == 0)
		return FALSE;
	g_string_append_c(out, '(');
	for (guint i = 0; i < list->len; i++) {
		const EnvAddress *a = g_ptr_array_index(list, i);
		g_string_append_c(out, '(');
		imap_proto_append_nstring(out, a->name);
		g_string_append_c(out, ' ');
		imap_proto_append_nstring(out, a->adl);
		g_string_append_c(out, ' ');
		imap_proto_append_nstring(out, a->mailbox);
		g_string_append_c(out, ' ');
		imap_proto_append_nstring(out, a->host);
		g_string_append_c(out, ')');
	}
	g_string_append_c(out, ')');
	return TRUE;
}

void imap_proto_append_envelope(GString *out, const char *data, const MimePart *msg)
{
	static const char *const fields[] = {
		"Date", "Subject", "From", "Sender", "Reply-To",
		"To", "Cc", "Bcc", "In-Reply-To", "Message-ID",
	};
	char *values[G_N_ELEMENTS(fields)];
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++)
		values[i] = mime_part_header_get(data, msg, fields[i]);

	/* RFC 3501 7.4.2: env-date SP env-subject SP env-from SP env-sender SP
	 * env-reply-to SP env-to SP env-cc SP env-bcc SP env-in-reply-to SP
	 * env-message-id */
	g_string_append_c(out, '(');
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
		if (i > 0)
			g_string_append_c(out, ' ');
		if (i < 2 || i >= 8) {
			imap_proto_append_nstring(out, values[i]);
			continue;
		}
		if (append_address_list(out, values[i]))
			continue;
		/* RFC 3501 7.4.2: an absent or empty Sender or Reply-To is From */
		if ((i == 3 || i == 4) && append_address_list(out, values[2]))
			continue;
		g_string_append(out, "NIL");
	}
	g_string_append_c(out, ')');
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++)
		g_free(values[i]);
}

/* ---- BODYSTRUCTURE ------------------------------------------------------ */

/* Media types, encodings and parameter names go out upper-cased as in RFC
 * 3501's examples ("TEXT" "PLAIN" ("CHARSET" "us-ascii")); values as sent. */
static void append_upper_string(GString *out, const char *s)
{
	g_autofree char *up = g_ascii_strup(s, -1);
	imap_proto_append_string(out, up, strlen(up));
}

/* RFC 3501 9: body-fld-param = "(" string SP string *(SP string SP string) ")" / nil */
static void append_params(GString *out, const GPtrArray *params)
{
	if (params->len == 0) {
		g_string_append(out, "NIL");
		return;
	}
	g_string_append_c(out, '(');
	for (guint i = 0; i < params->len; i++) {
		const MimeParam *p = g_ptr_array_index(params, i);
		if (i > 0)
			g_string_append_c(out, ' ');
		append_upper_string(out, p->name);
		g_string_append_c(out, ' ');
		imap_proto_append_string(out, p->value, strlen(p->value));
	}
	g_string_append_c(out, ')');
}

/* RFC 3501 9: SP body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void append_dsp_lang_loc(GString *out, const MimePart *part)
{
	g_string_append_c(out, ' ');
	if (part->disposition) {
		g_string_append_c(out, '(');
		append_upper_string(out, part->disposition);
		g_string_append_c(out, ' ');
		append_params(out, part->disposition_params);
		g_string_append_c(out, ')');
	} else {
		g_string_append(out, "NIL");
	}
	g_string_append_c(out, ' ');
	/* body-fld-lang = nstring / "(" string *(SP string) ")" */
	if (part->languages->len == 0) {
		g_string_append(out, "NIL");
	} else if (part->languages->len == 1) {
		imap_proto_append_nstring(out, g_ptr_array_index(part->languages, 0));
	} else {
		g_string_append_c(out, '(');
		for (guint i = 0; i < part->languages->len; i++) {
			if (i > 0)
				g_string_append_c(out, ' ');
			imap_proto_append_nstring(out, g_ptr_array_index(part->languages, i));
		}
		g_string_append_c(out, ')');
	}
	g_string_append_c(out, ' ');
	imap_proto_append_nstring(out, part->location);
}

/* RFC 3501 9: body.  Recursion follows the MIME tree, whose depth
 * mime_parse bounds by MIME_MAX_DEPTH. */
static void append_body(GString *out, const char *data, const MimePart *part, gboolean ext)
{
	g_string_append_c(out, '(');
	if (mime_part_is_multipart(part)) {
		/* body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart] */
		for (guint i = 0; i < part->children->len; i++)
			append_body(out, data, g_ptr_array_index(part->children, i), ext);
		g_string_append_c(out, ' ');
		append_upper_string(out, part->subtype);
		if (ext) {
			g_string_append_c(out, ' ');
			append_params(out, part->params);
			append_dsp_lang_loc(out, part);
		}
		g_string_append_c(out, ')');
		return;
	}
	/* body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP
	 * body-fld-enc SP body-fld-octets */
	append_upper_string(out, part->type);
	g_string_append_c(out, ' ');
	append_upper_string(out, part->subtype);
	g_string_append_c(out, ' ');
	append_params(out, part->params);
	g_string_append_c(out, ' ');
	imap_proto_append_nstring(out, part->id);
	g_string_append_c(out, ' ');
	imap_proto_append_nstring(out, part->description);
	g_string_append_c(out, ' ');
	append_upper_string(out, part->encoding);
	g_string_append_printf(out, " %" G_GSIZE_FORMAT, part->body_end - part->body_start);

	if (mime_part_is_message(part) && part->children->len == 1) {
		/* body-type-msg: ... SP envelope SP body SP body-fld-lines */
		const MimePart *inner = g_ptr_array_index(part->children, 0);
		g_string_append_c(out, ' ');
		imap_proto_append_envelope(out, data, inner);
		g_string_append_c(out, ' ');
		append_body(out, data, inner, ext);
		g_string_append_printf(out, " %" G_GUINT64_FORMAT, part->body_lines);
	} else if (g_strcmp0(part->type, "text") == 0) {
		/* body-type-text: ... SP body-fld-lines */
		g_string_append_printf(out, " %" G_GUINT64_FORMAT, part->body_lines);
	}
	if (ext) {
		/* body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
		 * [SP body-fld-loc]]] */
		g_string_append_c(out, ' ');
		imap_proto_append_nstring(out, part->md5);
		append_dsp_lang_loc(out, part);
	}
	g_string_append_c(out, ')');
}

void imap_proto_append_bodystructure(GString *out, const char *data, const MimePart *root,
                                     gboolean extensible)
{
	append_body(out, data, root, extensible);
}

/* ---- BODY[section] ------------------------------------------------------ */

/* RFC 3501 6.4.5: follow part numbers.  Inside a message/rfc822 part the
 * numbers name the parts of the encapsulated message; a non-multipart
 * message has only part 1, its body. */
static const MimePart *section_find_part(const MimePart *root, const GArray *parts)
{
	const MimePart *part = root;
	for (guint i = 0; i < parts->len; i++) {
		guint32 n = g_array_index(parts, guint32, i);
		if (part != root && mime_part_is_message(part) && part->children->len == 1)
			part = g_ptr_array_index(part->children, 0);
		if (mime_part_is_multipart(part)) {
			if (n == 0 || n > part->children->len)
				return NULL;
			part = g_ptr_array_index(part->children, n - 1);
		} else if (n != 1) {
			return NULL;
		}
	}
	return part;
}

/* The blank line that ends a header, if it has one. */
static gsize header_blank_line(const char *data, const MimePart *msg, gsize *start_r)
{
	gsize end = msg->header_end;
	if (end == msg->header_start || data[end - 1] != '\n')
		return 0;
	gsize start = end - 1;
	if (start > msg->header_start && data[start - 1] == '\r')
		start--;
	/* blank only if it is a line of its own */
	if (start != msg->header_start && data[start - 1] != '\n')
		return 0;
	*start_r = start;
	return end - start;
}

static gboolean field_listed(const char *data, const MimeHeaderField *f, const GPtrArray *names)
{
	for (guint i = 0; names && i < names->len; i++)
		if (mime_header_field_is(data, f, g_ptr_array_index(names, i)))
			return TRUE;
	return FALSE;
}

GBytes *imap_proto_fetch_section(const char *data, gsize len, const MimePart *root,
                                 const ImapSection *section, gboolean partial,
                                 guint32 origin, guint32 count)
{
	g_return_val_if_fail(root != NULL && section != NULL, NULL);
	g_return_val_if_fail(root->body_end <= len, NULL);
	gboolean have_parts = section->parts && section->parts->len > 0;
	const MimePart *part = have_parts ? section_find_part(root, section->parts) : root;
	if (!part)
		return NULL;

	/* HEADER and TEXT after part numbers address an encapsulated message */
	const MimePart *msg = part;
	if (have_parts && section->text != IMAP_SECTION_BODY && section->text != IMAP_SECTION_MIME) {
		if (!mime_part_is_message(part) || part->children->len != 1)
			return NULL;
		msg = g_ptr_array_index(part->children, 0);
	}

	gsize start = 0, end = 0;
	g_autoptr(GString) built = NULL;
	switch (section->text) {
	case IMAP_SECTION_BODY:
		start = have_parts ? part->body_start : root->header_start;
		end = have_parts ? part->body_end : len;
		break;
	case IMAP_SECTION_MIME:
		if (!have_parts)
			return NULL;
		start = part->header_start;
		end = part->header_end;
		break;
	case IMAP_SECTION_HEADER:
		start = msg->header_start;
		end = msg->header_end;
		break;
	case IMAP_SECTION_TEXT:
		start = msg->body_start;
		end = msg->body_end;
		break;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT: {
		gboolean want = section->text == IMAP_SECTION_HEADER_FIELDS;
		built = g_string_new(NULL);
		gsize pos = msg->header_start, blank_start = 0;
		MimeHeaderField f;
		while (mime_header_next(data, &pos, msg->header_end, &f))
			if (field_listed(data, &f, section->fields) == want)
				g_string_append_len(built, data + f.start, (gssize)(f.end - f.start));
		/* RFC 3501 6.4.5: the blank line is included in all header fetches */
		gsize blank = header_blank_line(data, msg, &blank_start);
		g_string_append_len(built, data + blank_start, (gssize)blank);
		data = built->str;
		start = 0;
		end = built->len;
		break;
	}
	}

	if (partial) {
		/* RFC 3501 6.4.5: <origin.count>; past the end is an empty string */
		gsize avail = end - start;
		gsize from = MIN((gsize)origin, avail);
		gsize n = MIN((gsize)count, avail - from);
		start += from;
		end = start + n;
	}
	return g_bytes_new(data + start, end - start);
}
