/* agents/mda/sieve.c - a Sieve subset: lexer, parser, checker, evaluator.
 *
 * The lexer and the recursive-descent parser follow the grammar of RFC 5228
 * section 8; each command and test is one row of sieve_commands[], each tag
 * one row of sieve_tags[].  The evaluator walks the AST and collects
 * actions (RFC 5228 2.10) for the MDA to carry out.
 */
#include "agents/mda/sieve.h"

#include <string.h>

G_DEFINE_QUARK(sieve-error-quark, sieve_error)

/* How much of a command an error message quotes ("fileinto "Lists""). */
#define SIEVE_SNIPPET_MAX 48

const char *sieve_error_to_string(SieveError code)
{
	switch (code) {
	case SIEVE_ERROR_SYNTAX:      return "syntax";
	case SIEVE_ERROR_UNSUPPORTED: return "unsupported";
	case SIEVE_ERROR_INVALID:     return "invalid";
	case SIEVE_ERROR_LIMIT:       return "limit";
	case SIEVE_ERROR_RUNTIME:     return "runtime";
	}
	return "unknown";
}

const char *sieve_match_type_to_string(SieveMatchType match)
{
	switch (match) {
	case SIEVE_MATCH_IS:       return ":is";
	case SIEVE_MATCH_CONTAINS: return ":contains";
	case SIEVE_MATCH_MATCHES:  return ":matches";
	}
	return "?";
}

const char *sieve_comparator_to_string(SieveComparator cmp)
{
	switch (cmp) {
	case SIEVE_COMPARATOR_ASCII_CASEMAP: return "i;ascii-casemap";
	case SIEVE_COMPARATOR_OCTET:         return "i;octet";
	}
	return "?";
}

const char *sieve_action_kind_to_string(SieveActionKind kind)
{
	switch (kind) {
	case SIEVE_ACTION_KEEP:     return "keep";
	case SIEVE_ACTION_FILEINTO: return "fileinto";
	case SIEVE_ACTION_REDIRECT: return "redirect";
	case SIEVE_ACTION_DISCARD:  return "discard";
	case SIEVE_ACTION_REJECT:   return "reject";
	case SIEVE_ACTION_VACATION: return "vacation";
	}
	return "unknown";
}

/* RFC 5228 2.7.4: which part of an address a test compares. */
typedef enum {
	SIEVE_ADDRESS_ALL,
	SIEVE_ADDRESS_LOCALPART,
	SIEVE_ADDRESS_DOMAIN,
} SieveAddressPart;

static const char *sieve_address_part_to_string(SieveAddressPart part)
{
	switch (part) {
	case SIEVE_ADDRESS_ALL:       return ":all";
	case SIEVE_ADDRESS_LOCALPART: return ":localpart";
	case SIEVE_ADDRESS_DOMAIN:    return ":domain";
	}
	return "?";
}

/* ======================================================================== */
/* Matching                                                                 */
/* ======================================================================== */

/* Octets in the UTF-8 character at s; a stray byte counts as one. */
static gsize utf8_char_len(const char *s, const char *end)
{
	guchar c = (guchar)*s;
	gsize n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 :
	          (c & 0xF8) == 0xF0 ? 4 : 1;
	if (n > (gsize)(end - s))
		return 1;
	for (gsize i = 1; i < n; i++)
		if (((guchar)s[i] & 0xC0) != 0x80)
			return 1;
	return n;
}

static gboolean chars_equal(char a, char b, SieveComparator cmp)
{
	/* RFC 4790 9.2: i;ascii-casemap folds A-Z only, every other octet is itself */
	if (cmp == SIEVE_COMPARATOR_ASCII_CASEMAP)
		return g_ascii_tolower(a) == g_ascii_tolower(b);
	return a == b;
}

/* Match a star-free piece of a pattern at t.  With wildcards, '?' eats one
 * character and '\' quotes the next one; without, the piece is literal.
 * On success *after_r is where the piece ended in the text. */
static gboolean piece_match_at(const char *pat, const char *pat_end,
                               const char *t, const char *t_end,
                               gboolean wildcards, SieveComparator cmp,
                               const char **after_r)
{
	while (pat < pat_end) {
		if (wildcards && *pat == '?') {
			if (t >= t_end)
				return FALSE;
			t += utf8_char_len(t, t_end);
			pat++;
			continue;
		}
		/* RFC 5228 2.7.1: "\" makes the next "*", "?" or "\" literal */
		if (wildcards && *pat == '\\' && pat + 1 < pat_end)
			pat++;
		if (t >= t_end || !chars_equal(*pat, *t, cmp))
			return FALSE;
		pat++;
		t++;
	}
	*after_r = t;
	return TRUE;
}

/* The first unescaped '*' in [p, end), or end. */
static const char *next_star(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		else if (*p == '*')
			return p;
	}
	return end;
}

/* Leftmost character position at or after t where the piece matches. */
static gboolean piece_find(const char *pat, const char *pat_end,
                           const char *t, const char *t_end, gboolean wildcards,
                           SieveComparator cmp, gboolean anchor_end, const char **after_r)
{
	for (const char *s = t;; s += utf8_char_len(s, t_end)) {
		const char *after;
		if (piece_match_at(pat, pat_end, s, t_end, wildcards, cmp, &after) &&
		    (!anchor_end || after == t_end)) {
			*after_r = after;
			return TRUE;
		}
		if (s >= t_end)
			return FALSE;
	}
}

/* RFC 5228 2.7.1 :matches without backtracking.  Cut the pattern at its
 * stars into pieces: the first piece must match at the start, the last at
 * the end, and each middle piece is taken at its leftmost place, because a
 * piece that ends earlier leaves more room for the rest and can never make
 * a match fail.  So "*a*a*a*b" against "aaaa...a" is linear, not
 * exponential. */
static gboolean glob_matches(const char *value, const char *pattern, SieveComparator cmp)
{
	const char *t = value, *t_end = value + strlen(value);
	const char *p = pattern, *p_end = pattern + strlen(pattern);
	const char *piece_end = next_star(p, p_end);

	if (!piece_match_at(p, piece_end, t, t_end, TRUE, cmp, &t))
		return FALSE;
	if (piece_end == p_end)
		return t == t_end;  /* no star: the whole value, exactly */
	for (p = piece_end + 1;; p = piece_end + 1) {
		piece_end = next_star(p, p_end);
		if (piece_end == p_end) {
			if (p == p_end)
				return TRUE;  /* the pattern ends in '*' */
			return piece_find(p, p_end, t, t_end, TRUE, cmp, TRUE, &t);
		}
		if (!piece_find(p, piece_end, t, t_end, TRUE, cmp, FALSE, &t))
			return FALSE;
	}
}

gboolean sieve_string_matches(const char *value, const char *key,
                              SieveMatchType match, SieveComparator cmp)
{
	g_return_val_if_fail(value != NULL && key != NULL, FALSE);

	switch (match) {
	case SIEVE_MATCH_IS:
		return cmp == SIEVE_COMPARATOR_OCTET ? strcmp(value, key) == 0
		                                     : g_ascii_strcasecmp(value, key) == 0;
	case SIEVE_MATCH_CONTAINS: {
		const char *after;
		const char *v_end = value + strlen(value);
		return piece_find(key, key + strlen(key), value, v_end, FALSE, cmp, FALSE, &after);
	}
	case SIEVE_MATCH_MATCHES:
		return glob_matches(value, key, cmp);
	}
	return FALSE;
}

/* ======================================================================== */
/* The tables: capabilities, commands and tests, tags                       */
/* ======================================================================== */

/* Bits of SieveParser.caps: what `require` asked for. */
#define CAP_FILEINTO  (1u << 0)
#define CAP_ENVELOPE  (1u << 1)
#define CAP_REJECT    (1u << 2)
#define CAP_VACATION  (1u << 3)
#define CAP_COPY      (1u << 4)
#define CAP_CMP_OCTET (1u << 5)
#define CAP_CMP_CASE  (1u << 6)

static const struct {
	const char *name;
	guint       bit;
} sieve_capabilities[] = {
	{ "fileinto",                   CAP_FILEINTO },
	{ "envelope",                   CAP_ENVELOPE },
	{ "reject",                     CAP_REJECT },   /* RFC 5429 */
	{ "vacation",                   CAP_VACATION }, /* RFC 5230 */
	{ "copy",                       CAP_COPY },     /* RFC 3894 */
	/* RFC 5228 2.7.3: the two built-in comparators may be required too */
	{ "comparator-i;octet",         CAP_CMP_OCTET },
	{ "comparator-i;ascii-casemap", CAP_CMP_CASE },
};

typedef enum {
	SIEVE_NODE_REQUIRE,
	SIEVE_NODE_IF,
	SIEVE_NODE_ELSIF,
	SIEVE_NODE_ELSE,
	SIEVE_NODE_STOP,
	SIEVE_NODE_KEEP,
	SIEVE_NODE_DISCARD,
	SIEVE_NODE_FILEINTO,
	SIEVE_NODE_REDIRECT,
	SIEVE_NODE_REJECT,
	SIEVE_NODE_VACATION,
	SIEVE_NODE_ALLOF,
	SIEVE_NODE_ANYOF,
	SIEVE_NODE_NOT,
	SIEVE_NODE_HEADER,
	SIEVE_NODE_ADDRESS,
	SIEVE_NODE_ENVELOPE,
	SIEVE_NODE_SIZE,
	SIEVE_NODE_EXISTS,
	SIEVE_NODE_TRUE,
	SIEVE_NODE_FALSE,
} SieveNodeKind;

/* Groups of tags a command may take (SieveCommandDef.tag_groups). */
#define TAGS_MATCH        (1u << 0)
#define TAGS_COMPARATOR   (1u << 1)
#define TAGS_ADDRESS_PART (1u << 2)
#define TAGS_SIZE         (1u << 3)
#define TAGS_COPY         (1u << 4)
#define TAGS_VACATION     (1u << 5)

typedef struct SieveParser SieveParser;
typedef struct SieveNode   SieveNode;

typedef struct {
	const char   *name;
	SieveNodeKind kind;
	gboolean      is_test;
	guint         capability; /* CAP_* that `require` must name, or 0 */
	guint         tag_groups; /* TAGS_* accepted */
	const char   *positional; /* per positional argument: s string, l string list, n number */
	guint8        tests;      /* 0 none, 1 one test, 2 a test list in ( ) */
	gboolean      block;      /* followed by { commands } */
	/* checks beyond the shape of the arguments, or NULL */
	gboolean    (*check)(SieveParser *p, SieveNode *node, GError **error);
	const char   *usage;      /* shown when the arguments are wrong */
} SieveCommandDef;

static gboolean check_require(SieveParser *p, SieveNode *node, GError **error);
static gboolean check_fileinto(SieveParser *p, SieveNode *node, GError **error);
static gboolean check_redirect(SieveParser *p, SieveNode *node, GError **error);
static gboolean check_vacation(SieveParser *p, SieveNode *node, GError **error);
static gboolean check_header_names(SieveParser *p, SieveNode *node, GError **error);
static gboolean check_address(SieveParser *p, SieveNode *node, GError **error);
static gboolean check_envelope(SieveParser *p, SieveNode *node, GError **error);

#define MATCHING (TAGS_COMPARATOR | TAGS_MATCH)

static const SieveCommandDef sieve_commands[] = {
	/* RFC 5228 3: control commands */
	{ "require",  SIEVE_NODE_REQUIRE,  FALSE, 0, 0, "l", 0, FALSE, check_require,
	  "require <capabilities: string-list>" },
	{ "if",       SIEVE_NODE_IF,       FALSE, 0, 0, "", 1, TRUE, NULL, "if <test> { ... }" },
	{ "elsif",    SIEVE_NODE_ELSIF,    FALSE, 0, 0, "", 1, TRUE, NULL, "elsif <test> { ... }" },
	{ "else",     SIEVE_NODE_ELSE,     FALSE, 0, 0, "", 0, TRUE, NULL, "else { ... }" },
	{ "stop",     SIEVE_NODE_STOP,     FALSE, 0, 0, "", 0, FALSE, NULL, "stop" },
	/* RFC 5228 4: actions */
	{ "keep",     SIEVE_NODE_KEEP,     FALSE, 0, 0, "", 0, FALSE, NULL, "keep" },
	{ "discard",  SIEVE_NODE_DISCARD,  FALSE, 0, 0, "", 0, FALSE, NULL, "discard" },
	{ "fileinto", SIEVE_NODE_FILEINTO, FALSE, CAP_FILEINTO, TAGS_COPY, "s", 0, FALSE,
	  check_fileinto, "fileinto [:copy] <folder: string>" },
	{ "redirect", SIEVE_NODE_REDIRECT, FALSE, 0, TAGS_COPY, "s", 0, FALSE,
	  check_redirect, "redirect [:copy] <address: string>" },
	{ "reject",   SIEVE_NODE_REJECT,   FALSE, CAP_REJECT, 0, "s", 0, FALSE, NULL,
	  "reject <reason: string>" },
	{ "vacation", SIEVE_NODE_VACATION, FALSE, CAP_VACATION, TAGS_VACATION, "s", 0, FALSE,
	  check_vacation, "vacation [:days N] [:subject S] [:from S] [:addresses L] [:mime] "
	  "[:handle S] <reason: string>" },
	/* RFC 5228 5: tests */
	{ "allof",    SIEVE_NODE_ALLOF,    TRUE, 0, 0, "", 2, FALSE, NULL, "allof (<test>, ...)" },
	{ "anyof",    SIEVE_NODE_ANYOF,    TRUE, 0, 0, "", 2, FALSE, NULL, "anyof (<test>, ...)" },
	{ "not",      SIEVE_NODE_NOT,      TRUE, 0, 0, "", 1, FALSE, NULL, "not <test>" },
	{ "header",   SIEVE_NODE_HEADER,   TRUE, 0, MATCHING, "ll", 0, FALSE, check_header_names,
	  "header [:comparator C] [:is|:contains|:matches] <header-names> <keys>" },
	{ "address",  SIEVE_NODE_ADDRESS,  TRUE, 0, MATCHING | TAGS_ADDRESS_PART, "ll", 0, FALSE,
	  check_address, "address [:comparator C] [:all|:localpart|:domain] "
	  "[:is|:contains|:matches] <header-names> <keys>" },
	{ "envelope", SIEVE_NODE_ENVELOPE, TRUE, CAP_ENVELOPE, MATCHING | TAGS_ADDRESS_PART, "ll", 0,
	  FALSE, check_envelope, "envelope [:comparator C] [:all|:localpart|:domain] "
	  "[:is|:contains|:matches] <\"from\"|\"to\"> <keys>" },
	{ "size",     SIEVE_NODE_SIZE,     TRUE, 0, TAGS_SIZE, "n", 0, FALSE, NULL,
	  "size <:over|:under> <limit: number>" },
	{ "exists",   SIEVE_NODE_EXISTS,   TRUE, 0, 0, "l", 0, FALSE, check_header_names,
	  "exists <header-names>" },
	{ "true",     SIEVE_NODE_TRUE,     TRUE, 0, 0, "", 0, FALSE, NULL, "true" },
	{ "false",    SIEVE_NODE_FALSE,    TRUE, 0, 0, "", 0, FALSE, NULL, "false" },
};

static const SieveCommandDef *sieve_command_lookup(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(sieve_commands); i++)
		if (g_ascii_strcasecmp(sieve_commands[i].name, name) == 0)
			return &sieve_commands[i];
	return NULL;
}

/* What follows a tag: nothing, or one argument of this kind. */
#define TAG_FLAG   0
#define TAG_STRING 's'
#define TAG_LIST   'l'
#define TAG_NUMBER 'n'

/* Vacation tags (RFC 5230 4), SieveTagDef.id within TAGS_VACATION. */
enum { VAC_DAYS, VAC_SUBJECT, VAC_FROM, VAC_ADDRESSES, VAC_MIME, VAC_HANDLE };

typedef struct {
	const char *name;       /* without the ':' */
	guint       group;      /* TAGS_* */
	char        value;      /* TAG_* */
	guint       capability; /* CAP_* needed, or 0 */
	int         id;         /* its meaning within the group */
	const char *what;       /* for "given twice" errors */
} SieveTagDef;

static const SieveTagDef sieve_tags[] = {
	{ "is",         TAGS_MATCH,        TAG_FLAG,   0, SIEVE_MATCH_IS,       "match type" },
	{ "contains",   TAGS_MATCH,        TAG_FLAG,   0, SIEVE_MATCH_CONTAINS, "match type" },
	{ "matches",    TAGS_MATCH,        TAG_FLAG,   0, SIEVE_MATCH_MATCHES,  "match type" },
	{ "comparator", TAGS_COMPARATOR,   TAG_STRING, 0, 0,                    "comparator" },
	{ "all",        TAGS_ADDRESS_PART, TAG_FLAG,   0, SIEVE_ADDRESS_ALL,    "address part" },
	{ "localpart",  TAGS_ADDRESS_PART, TAG_FLAG,   0, SIEVE_ADDRESS_LOCALPART, "address part" },
	{ "domain",     TAGS_ADDRESS_PART, TAG_FLAG,   0, SIEVE_ADDRESS_DOMAIN, "address part" },
	{ "over",       TAGS_SIZE,         TAG_FLAG,   0, TRUE,                 ":over/:under" },
	{ "under",      TAGS_SIZE,         TAG_FLAG,   0, FALSE,                ":over/:under" },
	{ "copy",       TAGS_COPY,         TAG_FLAG,   CAP_COPY, 0,             ":copy" },
	{ "days",       TAGS_VACATION,     TAG_NUMBER, 0, VAC_DAYS,             ":days" },
	{ "subject",    TAGS_VACATION,     TAG_STRING, 0, VAC_SUBJECT,          ":subject" },
	{ "from",       TAGS_VACATION,     TAG_STRING, 0, VAC_FROM,             ":from" },
	{ "addresses",  TAGS_VACATION,     TAG_LIST,   0, VAC_ADDRESSES,        ":addresses" },
	{ "mime",       TAGS_VACATION,     TAG_FLAG,   0, VAC_MIME,             ":mime" },
	{ "handle",     TAGS_VACATION,     TAG_STRING, 0, VAC_HANDLE,           ":handle" },
};

static const SieveTagDef *sieve_tag_lookup(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(sieve_tags); i++)
		if (g_ascii_strcasecmp(sieve_tags[i].name, name) == 0)
			return &sieve_tags[i];
	return NULL;
}

/* RFC 5228 5.1: the address test is for header fields that hold addresses. */
static const char *const sieve_address_headers[] = {
	"from", "sender", "reply-to", "to", "cc", "bcc",
	"resent-from", "resent-sender", "resent-to", "resent-cc", "resent-bcc",
	"return-path", "delivered-to", "x-original-to", "errors-to",
	"disposition-notification-to",
};

/* ======================================================================== */
/* The AST                                                                  */
/* ======================================================================== */

struct SieveNode {
	const SieveCommandDef *def;
	guint            line, column;
	/* tests */
	SieveMatchType   match;
	SieveComparator  comparator;
	SieveAddressPart part;
	gboolean         over;       /* size: :over, else :under */
	guint64          number;     /* size: the limit in octets; vacation: :days */
	gboolean         has_number;
	GPtrArray       *names;      /* header names, envelope parts, capabilities */
	GPtrArray       *keys;
	/* actions */
	char            *argument;   /* folder, address, or reason */
	gboolean         copy;
	char            *subject, *from, *handle;  /* vacation */
	GPtrArray       *addresses;
	gboolean         mime;
	/* structure */
	GPtrArray       *tests;      /* SieveNode: allof/anyof many; not, if, elsif one */
	GPtrArray       *block;      /* SieveNode: the commands in { } */
	SieveNode       *orelse;     /* if/elsif: the elsif or else that follows */
};

struct SieveScript {
	GPtrArray *commands;
};

static void sieve_node_free(SieveNode *node)
{
	/* the elsif/else chain can be long, so walk it instead of recursing */
	while (node) {
		SieveNode *next = node->orelse;
		g_clear_pointer(&node->names, g_ptr_array_unref);
		g_clear_pointer(&node->keys, g_ptr_array_unref);
		g_clear_pointer(&node->addresses, g_ptr_array_unref);
		g_clear_pointer(&node->tests, g_ptr_array_unref);
		g_clear_pointer(&node->block, g_ptr_array_unref);
		g_free(node->argument);
		g_free(node->subject);
		g_free(node->from);
		g_free(node->handle);
		g_free(node);
		node = next;
	}
}

static SieveNode *sieve_node_new(const SieveCommandDef *def, guint line, guint column)
{
	SieveNode *node = g_new0(SieveNode, 1);
	node->def = def;
	node->line = line;
	node->column = column;
	node->match = SIEVE_MATCH_IS;
	node->comparator = SIEVE_COMPARATOR_ASCII_CASEMAP;
	node->part = SIEVE_ADDRESS_ALL;
	return node;
}

static GPtrArray *node_array_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)sieve_node_free);
}

void sieve_script_free(SieveScript *script)
{
	if (!script)
		return;
	g_clear_pointer(&script->commands, g_ptr_array_unref);
	g_free(script);
}

/* ======================================================================== */
/* The lexer (RFC 5228 2.2 - 2.4, 8.1)                                      */
/* ======================================================================== */

typedef enum {
	TOK_EOF,
	TOK_IDENTIFIER,
	TOK_TAG,
	TOK_NUMBER,
	TOK_STRING,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_COMMA,
	TOK_SEMICOLON,
} SieveTokenKind;

static const char *sieve_token_kind_to_string(SieveTokenKind kind)
{
	switch (kind) {
	case TOK_EOF:        return "end of script";
	case TOK_IDENTIFIER: return "identifier";
	case TOK_TAG:        return "tag";
	case TOK_NUMBER:     return "number";
	case TOK_STRING:     return "string";
	case TOK_LBRACKET:   return "'['";
	case TOK_RBRACKET:   return "']'";
	case TOK_LPAREN:     return "'('";
	case TOK_RPAREN:     return "')'";
	case TOK_LBRACE:     return "'{'";
	case TOK_RBRACE:     return "'}'";
	case TOK_COMMA:      return "','";
	case TOK_SEMICOLON:  return "';'";
	}
	return "?";
}

typedef struct {
	SieveTokenKind kind;
	guint          line, column;          /* where it starts */
	guint          end_line, end_column;  /* just after it */
	gsize          start, end;            /* octet offsets */
	GString       *text;                  /* identifier, tag (no ':'), string */
	guint64        number;
} SieveToken;

struct SieveParser {
	const char *src;
	gsize       len;
	gsize       pos;                 /* the lexer's cursor ... */
	guint       line, column;        /* ... and where that is */
	SieveToken  tok;                 /* the lookahead token */
	gsize       prev_end;            /* just after the token before it */
	guint       prev_line, prev_column;
	guint       depth;               /* nested blocks and tests */
	guint       caps;                /* CAP_* required so far */
	gboolean    past_requires;       /* a command other than require was seen */
};

static void set_error_at(GError **error, SieveError code, guint line, guint column,
                         const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static void set_error_at(GError **error, SieveError code, guint line, guint column,
                         const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, SIEVE_ERROR, code, "sieve: line %u, column %u: %s", line, column, msg);
}

#define ERROR_AT_TOKEN(p, code, ...) \
	set_error_at(error, (code), (p)->tok.line, (p)->tok.column, __VA_ARGS__)
#define ERROR_AT_CURSOR(p, code, ...) \
	set_error_at(error, (code), (p)->line, (p)->column, __VA_ARGS__)

/* The script is validated UTF-8 without NUL, so 0 means "past the end". */
static char lex_peek(const SieveParser *p, gsize ahead)
{
	return p->pos + ahead < p->len ? p->src[p->pos + ahead] : '\0';
}

static void lex_advance(SieveParser *p)
{
	guchar c = (guchar)p->src[p->pos++];
	if (c == '\n') {
		p->line++;
		p->column = 1;
	} else if ((c & 0xC0) != 0x80) {
		p->column++;  /* columns count characters, not octets */
	}
}

/* RFC 5228 2.3: white space, "#" comments and bracketed comments. */
static gboolean lex_skip_space(SieveParser *p, GError **error)
{
	for (;;) {
		char c = lex_peek(p, 0);
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lex_advance(p);
		} else if (c == '#') {
			while (p->pos < p->len && lex_peek(p, 0) != '\n')
				lex_advance(p);
		} else if (c == '/' && lex_peek(p, 1) == '*') {
			guint line = p->line, column = p->column;
			lex_advance(p);
			lex_advance(p);
			while (!(lex_peek(p, 0) == '*' && lex_peek(p, 1) == '/')) {
				if (p->pos >= p->len) {
					set_error_at(error, SIEVE_ERROR_SYNTAX, line, column,
					             "unterminated comment: '/*' without '*/'");
					return FALSE;
				}
				lex_advance(p);
			}
			lex_advance(p);
			lex_advance(p);
		} else {
			return TRUE;
		}
	}
}

static gboolean lex_append(SieveParser *p, char c, GError **error)
{
	if (p->tok.text->len >= SIEVE_MAX_STRING_LEN) {
		ERROR_AT_TOKEN(p, SIEVE_ERROR_LIMIT, "string longer than %d octets",
		               SIEVE_MAX_STRING_LEN);
		return FALSE;
	}
	g_string_append_c(p->tok.text, c);
	return TRUE;
}

/* RFC 5228 2.4.2: "quoted string" with \" and \\; any other \x is x. */
static gboolean lex_quoted_string(SieveParser *p, GError **error)
{
	lex_advance(p);
	for (;;) {
		if (p->pos >= p->len) {
			ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "unterminated string: missing '\"'");
			return FALSE;
		}
		char c = lex_peek(p, 0);
		if (c == '"') {
			lex_advance(p);
			return TRUE;
		}
		if (c == '\\') {
			lex_advance(p);
			if (p->pos >= p->len)
				continue;  /* reported as unterminated above */
			c = lex_peek(p, 0);
		}
		if (!lex_append(p, c, error))
			return FALSE;
		lex_advance(p);
	}
}

/* RFC 5228 2.4.2: text: multi-line strings, ended by a line holding only
 * ".", with the first "." of any other line removed (dot-unstuffing).
 * Lines are joined with CRLF whatever ending the script used. */
static gboolean lex_multiline(SieveParser *p, GError **error)
{
	while (lex_peek(p, 0) == ' ' || lex_peek(p, 0) == '\t')
		lex_advance(p);
	if (lex_peek(p, 0) == '#')
		while (p->pos < p->len && lex_peek(p, 0) != '\n')
			lex_advance(p);
	if (lex_peek(p, 0) == '\r')
		lex_advance(p);
	if (lex_peek(p, 0) != '\n') {
		ERROR_AT_CURSOR(p, SIEVE_ERROR_SYNTAX, "expected the end of the line after 'text:'");
		return FALSE;
	}
	lex_advance(p);

	for (;;) {
		if (p->pos >= p->len) {
			ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX,
			               "unterminated text: string: end it with a line holding only '.'");
			return FALSE;
		}
		const char *line = p->src + p->pos;
		const char *nl = memchr(line, '\n', p->len - p->pos);
		gsize n = nl ? (gsize)(nl - line) : p->len - p->pos;
		gsize content = n > 0 && line[n - 1] == '\r' ? n - 1 : n;

		gboolean last = content == 1 && line[0] == '.';
		gsize from = (content > 0 && line[0] == '.') ? 1 : 0;
		if (!last) {
			for (gsize i = from; i < content; i++)
				if (!lex_append(p, line[i], error))
					return FALSE;
			if (!lex_append(p, '\r', error) || !lex_append(p, '\n', error))
				return FALSE;
		}
		for (gsize i = 0; i < n; i++)
			lex_advance(p);
		if (nl)
			lex_advance(p);
		if (last)
			return TRUE;
	}
}

/* RFC 5228 2.4.1: digits with an optional K, M or G quantifier. */
static gboolean lex_number(SieveParser *p, GError **error)
{
	guint64 value = 0;
	while (g_ascii_isdigit(lex_peek(p, 0))) {
		guint digit = (guint)(lex_peek(p, 0) - '0');
		if (value > (G_MAXUINT64 - digit) / 10) {
			ERROR_AT_TOKEN(p, SIEVE_ERROR_LIMIT, "number too large");
			return FALSE;
		}
		value = value * 10 + digit;
		lex_advance(p);
	}
	guint shift = 0;
	switch (g_ascii_toupper(lex_peek(p, 0))) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	}
	if (shift) {
		lex_advance(p);
		if (value > (G_MAXUINT64 >> shift)) {
			ERROR_AT_TOKEN(p, SIEVE_ERROR_LIMIT, "number too large");
			return FALSE;
		}
		value <<= shift;
	}
	p->tok.number = value;
	return TRUE;
}

static gboolean is_identifier_start(char c)
{
	return g_ascii_isalpha(c) || c == '_';
}

static gboolean lex_identifier(SieveParser *p, GError **error)
{
	while (g_ascii_isalnum(lex_peek(p, 0)) || lex_peek(p, 0) == '_') {
		if (p->tok.text->len >= SIEVE_MAX_IDENTIFIER_LEN) {
			ERROR_AT_TOKEN(p, SIEVE_ERROR_LIMIT, "identifier longer than %d characters",
			               SIEVE_MAX_IDENTIFIER_LEN);
			return FALSE;
		}
		g_string_append_c(p->tok.text, lex_peek(p, 0));
		lex_advance(p);
	}
	return TRUE;
}

static gboolean lex_next(SieveParser *p, GError **error)
{
	static const char punctuation[] = "[](){},;";
	static const SieveTokenKind punctuation_kinds[] = {
		TOK_LBRACKET, TOK_RBRACKET, TOK_LPAREN, TOK_RPAREN,
		TOK_LBRACE, TOK_RBRACE, TOK_COMMA, TOK_SEMICOLON,
	};

	p->prev_end = p->tok.end;
	p->prev_line = p->tok.end_line;
	p->prev_column = p->tok.end_column;
	if (!lex_skip_space(p, error))
		return FALSE;

	SieveToken *t = &p->tok;
	g_string_truncate(t->text, 0);
	t->number = 0;
	t->line = p->line;
	t->column = p->column;
	t->start = p->pos;

	char c = lex_peek(p, 0);
	const char *punct = c ? strchr(punctuation, c) : NULL;
	if (p->pos >= p->len) {
		t->kind = TOK_EOF;
	} else if (punct) {
		t->kind = punctuation_kinds[punct - punctuation];
		lex_advance(p);
	} else if (c == '"') {
		t->kind = TOK_STRING;
		if (!lex_quoted_string(p, error))
			return FALSE;
	} else if (c == ':') {
		t->kind = TOK_TAG;
		lex_advance(p);
		if (!is_identifier_start(lex_peek(p, 0))) {
			ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "expected a tag name after ':'");
			return FALSE;
		}
		if (!lex_identifier(p, error))
			return FALSE;
	} else if (g_ascii_isdigit(c)) {
		t->kind = TOK_NUMBER;
		if (!lex_number(p, error))
			return FALSE;
	} else if (is_identifier_start(c)) {
		t->kind = TOK_IDENTIFIER;
		if (!lex_identifier(p, error))
			return FALSE;
		if (g_ascii_strcasecmp(t->text->str, "text") == 0 && lex_peek(p, 0) == ':') {
			lex_advance(p);
			t->kind = TOK_STRING;
			g_string_truncate(t->text, 0);
			if (!lex_multiline(p, error))
				return FALSE;
		}
	} else if (g_ascii_isprint(c)) {
		ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "unexpected character '%c'", c);
		return FALSE;
	} else {
		ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "unexpected character 0x%02X", (guchar)c);
		return FALSE;
	}
	t->end = p->pos;
	t->end_line = p->line;
	t->end_column = p->column;
	return TRUE;
}

/* A token for an error message: "'}'", "identifier \"keep\"". */
static char *describe_token(const SieveToken *t)
{
	switch (t->kind) {
	case TOK_IDENTIFIER: return g_strdup_printf("\"%s\"", t->text->str);
	case TOK_TAG:        return g_strdup_printf(":%s", t->text->str);
	case TOK_NUMBER:     return g_strdup_printf("number %" G_GUINT64_FORMAT, t->number);
	default:             return g_strdup(sieve_token_kind_to_string(t->kind));
	}
}

/* The script text of [start, end), white space squeezed and cut short. */
static char *snippet(const SieveParser *p, gsize start, gsize end)
{
	GString *s = g_string_new(NULL);
	gboolean space = FALSE;
	gsize i;
	for (i = start; i < end; i++) {
		char c = p->src[i];
		if (s->len >= SIEVE_SNIPPET_MAX && ((guchar)c & 0xC0) != 0x80)
			break;  /* cut at a character boundary */
		if (g_ascii_isspace(c)) {
			space = TRUE;
			continue;
		}
		if (space && s->len > 0)
			g_string_append_c(s, ' ');
		space = FALSE;
		g_string_append_c(s, c);
	}
	if (i < end)
		g_string_append(s, "...");
	return g_string_free(s, FALSE);
}

/* ======================================================================== */
/* The parser (RFC 5228 8.2)                                                */
/* ======================================================================== */

typedef enum {
	SIEVE_ARG_STRINGS,
	SIEVE_ARG_NUMBER,
	SIEVE_ARG_TAG,
} SieveArgKind;

static const char *sieve_arg_kind_to_string(SieveArgKind kind)
{
	switch (kind) {
	case SIEVE_ARG_STRINGS: return "string";
	case SIEVE_ARG_NUMBER:  return "number";
	case SIEVE_ARG_TAG:     return "tag";
	}
	return "?";
}

/* One argument as written, before the command's table row gives it meaning. */
typedef struct {
	SieveArgKind kind;
	guint        line, column;
	GPtrArray   *strings;   /* SIEVE_ARG_STRINGS */
	gboolean     bracketed; /* written as [ ... ] */
	guint64      number;    /* SIEVE_ARG_NUMBER */
	char        *tag;       /* SIEVE_ARG_TAG, without ':' */
} SieveArg;

static void sieve_arg_free(SieveArg *arg)
{
	g_clear_pointer(&arg->strings, g_ptr_array_unref);
	g_free(arg->tag);
	g_free(arg);
}

static GPtrArray *string_array_new(void)
{
	return g_ptr_array_new_with_free_func(g_free);
}

static GPtrArray *string_array_copy(const GPtrArray *src)
{
	GPtrArray *dst = string_array_new();
	for (guint i = 0; src && i < src->len; i++)
		g_ptr_array_add(dst, g_strdup(src->pdata[i]));
	return dst;
}

static SieveNode *parse_test(SieveParser *p, GError **error);
static GPtrArray *parse_commands(SieveParser *p, GError **error);

/* string-list = "[" string *("," string) "]" / string */
static gboolean parse_string_list(SieveParser *p, SieveArg *arg, GError **error)
{
	arg->strings = string_array_new();
	if (p->tok.kind == TOK_STRING) {
		g_ptr_array_add(arg->strings, g_strdup(p->tok.text->str));
		return lex_next(p, error);
	}
	arg->bracketed = TRUE;
	if (!lex_next(p, error))
		return FALSE;
	for (;;) {
		if (p->tok.kind != TOK_STRING) {
			g_autofree char *found = describe_token(&p->tok);
			ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "expected a string in the list but found %s",
			               found);
			return FALSE;
		}
		if (arg->strings->len >= SIEVE_MAX_LIST_ITEMS) {
			ERROR_AT_TOKEN(p, SIEVE_ERROR_LIMIT, "more than %d strings in a list",
			               SIEVE_MAX_LIST_ITEMS);
			return FALSE;
		}
		g_ptr_array_add(arg->strings, g_strdup(p->tok.text->str));
		if (!lex_next(p, error))
			return FALSE;
		if (p->tok.kind == TOK_RBRACKET)
			return lex_next(p, error);
		if (p->tok.kind != TOK_COMMA) {
			g_autofree char *found = describe_token(&p->tok);
			ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "expected ',' or ']' in the string list "
			               "but found %s", found);
			return FALSE;
		}
		if (!lex_next(p, error))
			return FALSE;
	}
}

/* arguments = *argument, argument = string-list / number / tag */
static GPtrArray *parse_arguments(SieveParser *p, GError **error)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func((GDestroyNotify)sieve_arg_free);
	for (;;) {
		SieveTokenKind k = p->tok.kind;
		if (k != TOK_STRING && k != TOK_LBRACKET && k != TOK_NUMBER && k != TOK_TAG)
			return g_steal_pointer(&args);
		if (args->len >= SIEVE_MAX_ARGUMENTS) {
			ERROR_AT_TOKEN(p, SIEVE_ERROR_LIMIT, "more than %d arguments", SIEVE_MAX_ARGUMENTS);
			return NULL;
		}
		SieveArg *arg = g_new0(SieveArg, 1);
		arg->line = p->tok.line;
		arg->column = p->tok.column;
		g_ptr_array_add(args, arg);
		if (k == TOK_NUMBER) {
			arg->kind = SIEVE_ARG_NUMBER;
			arg->number = p->tok.number;
		} else if (k == TOK_TAG) {
			arg->kind = SIEVE_ARG_TAG;
			arg->tag = g_strdup(p->tok.text->str);
		} else {
			arg->kind = SIEVE_ARG_STRINGS;
			if (!parse_string_list(p, arg, error))
				return NULL;
			continue;
		}
		if (!lex_next(p, error))
			return NULL;
	}
}

static gboolean require_capability(SieveParser *p, const SieveNode *node, guint cap,
                                   const char *what, GError **error)
{
	if (cap == 0 || (p->caps & cap))
		return TRUE;
	const char *name = "?";
	for (gsize i = 0; i < G_N_ELEMENTS(sieve_capabilities); i++)
		if (sieve_capabilities[i].bit == cap)
			name = sieve_capabilities[i].name;
	/* RFC 5228 3.2: an extension is used only after `require` names it */
	set_error_at(error, SIEVE_ERROR_INVALID, node->line, node->column,
	             "%s needs require \"%s\" at the top of the script", what, name);
	return FALSE;
}

static gboolean bind_tag(SieveParser *p, SieveNode *node, GPtrArray *args, guint *i,
                         guint *seen, GError **error)
{
	const SieveArg *arg = args->pdata[*i];
	const SieveTagDef *tag = sieve_tag_lookup(arg->tag);
	const char *cmd = node->def->name;

	if (!tag) {
		set_error_at(error, SIEVE_ERROR_UNSUPPORTED, arg->line, arg->column,
		             "unknown tag :%s; usage: %s", arg->tag, node->def->usage);
		return FALSE;
	}
	if (!(tag->group & node->def->tag_groups)) {
		set_error_at(error, SIEVE_ERROR_SYNTAX, arg->line, arg->column,
		             "%s does not take :%s; usage: %s", cmd, tag->name, node->def->usage);
		return FALSE;
	}
	g_autofree char *what = g_strdup_printf(":%s", tag->name);
	if (!require_capability(p, node, tag->capability, what, error))
		return FALSE;
	/* one bit per tag for vacation, one per group for the rest */
	guint bit = tag->group == TAGS_VACATION ? 1u << (8 + tag->id) : tag->group;
	if (*seen & bit) {
		set_error_at(error, SIEVE_ERROR_SYNTAX, arg->line, arg->column,
		             "%s given twice (:%s)", tag->what, tag->name);
		return FALSE;
	}
	*seen |= bit;

	const SieveArg *value = NULL;
	if (tag->value != TAG_FLAG) {
		value = *i + 1 < args->len ? args->pdata[*i + 1] : NULL;
		gboolean ok = value && (tag->value == TAG_NUMBER
		                        ? value->kind == SIEVE_ARG_NUMBER
		                        : value->kind == SIEVE_ARG_STRINGS &&
		                          (tag->value == TAG_LIST || !value->bracketed));
		if (!ok) {
			set_error_at(error, SIEVE_ERROR_SYNTAX, arg->line, arg->column,
			             "expected a %s after :%s",
			             tag->value == TAG_NUMBER ? "number" :
			             tag->value == TAG_LIST ? "string list" : "string", tag->name);
			return FALSE;
		}
		(*i)++;
	}

	switch (tag->group) {
	case TAGS_MATCH:
		node->match = (SieveMatchType)tag->id;
		break;
	case TAGS_COMPARATOR: {
		const char *name = value->strings->pdata[0];
		/* RFC 5228 2.7.3: these two comparators are always there */
		if (strcmp(name, "i;ascii-casemap") == 0) {
			node->comparator = SIEVE_COMPARATOR_ASCII_CASEMAP;
		} else if (strcmp(name, "i;octet") == 0) {
			node->comparator = SIEVE_COMPARATOR_OCTET;
		} else {
			set_error_at(error, SIEVE_ERROR_UNSUPPORTED, value->line, value->column,
			             "comparator \"%s\" is not supported (only \"i;ascii-casemap\" "
			             "and \"i;octet\")", name);
			return FALSE;
		}
		break;
	}
	case TAGS_ADDRESS_PART:
		node->part = (SieveAddressPart)tag->id;
		break;
	case TAGS_SIZE:
		node->over = tag->id;
		break;
	case TAGS_COPY:
		node->copy = TRUE;
		break;
	case TAGS_VACATION:
		switch (tag->id) {
		case VAC_DAYS:
			node->number = value->number;
			node->has_number = TRUE;
			break;
		case VAC_SUBJECT: node->subject = g_strdup(value->strings->pdata[0]); break;
		case VAC_FROM:    node->from = g_strdup(value->strings->pdata[0]); break;
		case VAC_HANDLE:  node->handle = g_strdup(value->strings->pdata[0]); break;
		case VAC_ADDRESSES: node->addresses = string_array_copy(value->strings); break;
		case VAC_MIME:    node->mime = TRUE; break;
		}
		break;
	}
	return TRUE;
}

/* Give the written arguments their meaning from the command's table row:
 * tags first (RFC 5228 2.6.2), then the positional arguments in order. */
static gboolean bind_arguments(SieveParser *p, SieveNode *node, GPtrArray *args,
                               GError **error)
{
	const SieveCommandDef *def = node->def;
	gsize want = strlen(def->positional);
	guint seen = 0, npos = 0;

	for (guint i = 0; i < args->len; i++) {
		SieveArg *arg = args->pdata[i];
		if (arg->kind == SIEVE_ARG_TAG) {
			if (npos > 0) {
				set_error_at(error, SIEVE_ERROR_SYNTAX, arg->line, arg->column,
				             ":%s must come before the other arguments; usage: %s",
				             arg->tag, def->usage);
				return FALSE;
			}
			if (!bind_tag(p, node, args, &i, &seen, error))
				return FALSE;
			continue;
		}
		char type = npos < want ? def->positional[npos] : 0;
		gboolean ok = (type == 'n' && arg->kind == SIEVE_ARG_NUMBER) ||
		              (type == 'l' && arg->kind == SIEVE_ARG_STRINGS) ||
		              (type == 's' && arg->kind == SIEVE_ARG_STRINGS && !arg->bracketed);
		if (!ok) {
			set_error_at(error, SIEVE_ERROR_SYNTAX, arg->line, arg->column,
			             "%s: unexpected %s%s; usage: %s", def->name,
			             arg->bracketed ? "string list" : sieve_arg_kind_to_string(arg->kind),
			             type ? "" : " (too many arguments)", def->usage);
			return FALSE;
		}
		if (type == 'n') {
			node->number = arg->number;
			node->has_number = TRUE;
		} else if (type == 's') {
			node->argument = g_strdup(arg->strings->pdata[0]);
		} else if (!node->names) {
			node->names = g_steal_pointer(&arg->strings);  /* first list: names */
		} else {
			node->keys = g_steal_pointer(&arg->strings);   /* second list: keys */
		}
		npos++;
	}
	if (npos < want) {
		set_error_at(error, SIEVE_ERROR_SYNTAX, node->line, node->column,
		             "%s: missing argument; usage: %s", def->name, def->usage);
		return FALSE;
	}
	if ((def->tag_groups & TAGS_SIZE) && !(seen & TAGS_SIZE)) {
		/* RFC 5228 5.9: size says :over or :under, there is no default */
		set_error_at(error, SIEVE_ERROR_SYNTAX, node->line, node->column,
		             "size needs :over or :under; usage: %s", def->usage);
		return FALSE;
	}
	return def->check ? def->check(p, node, error) : TRUE;
}

static gboolean depth_enter(SieveParser *p, GError **error)
{
	if (++p->depth > SIEVE_MAX_DEPTH) {
		ERROR_AT_TOKEN(p, SIEVE_ERROR_LIMIT, "nested too deeply (more than %d levels)",
		               SIEVE_MAX_DEPTH);
		return FALSE;
	}
	return TRUE;
}

/* test-list = "(" test *("," test) ")" */
static gboolean parse_test_list(SieveParser *p, SieveNode *node, GError **error)
{
	if (p->tok.kind != TOK_LPAREN) {
		g_autofree char *found = describe_token(&p->tok);
		ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "expected '(' after %s but found %s",
		               node->def->name, found);
		return FALSE;
	}
	if (!lex_next(p, error))
		return FALSE;
	for (;;) {
		if (node->tests->len >= SIEVE_MAX_LIST_ITEMS) {
			ERROR_AT_TOKEN(p, SIEVE_ERROR_LIMIT, "more than %d tests in a list",
			               SIEVE_MAX_LIST_ITEMS);
			return FALSE;
		}
		SieveNode *test = parse_test(p, error);
		if (!test)
			return FALSE;
		g_ptr_array_add(node->tests, test);
		if (p->tok.kind == TOK_RPAREN)
			return lex_next(p, error);
		if (p->tok.kind != TOK_COMMA) {
			g_autofree char *found = describe_token(&p->tok);
			ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "expected ',' or ')' in the test list "
			               "but found %s", found);
			return FALSE;
		}
		if (!lex_next(p, error))
			return FALSE;
	}
}

/* The part common to commands and tests: identifier, arguments, tests. */
static SieveNode *parse_head(SieveParser *p, gboolean want_test, GError **error)
{
	const char *kind = want_test ? "test" : "command";
	if (p->tok.kind != TOK_IDENTIFIER) {
		g_autofree char *found = describe_token(&p->tok);
		ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "expected a %s but found %s", kind, found);
		return NULL;
	}
	const SieveCommandDef *def = sieve_command_lookup(p->tok.text->str);
	if (!def) {
		ERROR_AT_TOKEN(p, SIEVE_ERROR_UNSUPPORTED, "unknown %s \"%s\"", kind, p->tok.text->str);
		return NULL;
	}
	if (def->is_test != want_test) {
		ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "\"%s\" is a %s, but a %s belongs here",
		               def->name, want_test ? "command" : "test", kind);
		return NULL;
	}

	g_autoptr(GPtrArray) args = NULL;
	SieveNode *node = sieve_node_new(def, p->tok.line, p->tok.column);
	if (!require_capability(p, node, def->capability, def->name, error) ||
	    !lex_next(p, error) || !(args = parse_arguments(p, error)))
		goto fail;

	if (def->tests == 1) {
		node->tests = node_array_new();
		if (p->tok.kind != TOK_IDENTIFIER) {
			g_autofree char *found = describe_token(&p->tok);
			ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "expected a test after %s but found %s",
			               def->name, found);
			goto fail;
		}
		SieveNode *test = parse_test(p, error);
		if (!test)
			goto fail;
		g_ptr_array_add(node->tests, test);
	} else if (def->tests == 2) {
		node->tests = node_array_new();
		if (!parse_test_list(p, node, error))
			goto fail;
	}
	if (!bind_arguments(p, node, args, error))
		goto fail;
	return node;
fail:
	sieve_node_free(node);
	return NULL;
}

/* test = identifier arguments [ test / test-list ] */
static SieveNode *parse_test(SieveParser *p, GError **error)
{
	if (!depth_enter(p, error))
		return NULL;
	SieveNode *node = parse_head(p, TRUE, error);
	p->depth--;
	return node;
}

/* block = "{" commands "}" */
static gboolean parse_block(SieveParser *p, SieveNode *node, gsize start, GError **error)
{
	if (p->tok.kind != TOK_LBRACE) {
		g_autofree char *after = snippet(p, start, p->prev_end);
		set_error_at(error, SIEVE_ERROR_SYNTAX, p->prev_line, p->prev_column,
		             "expected '{' after %s", after);
		return FALSE;
	}
	if (!depth_enter(p, error) || !lex_next(p, error))
		return FALSE;
	node->block = parse_commands(p, error);
	if (!node->block)
		return FALSE;
	if (p->tok.kind != TOK_RBRACE) {
		g_autofree char *found = describe_token(&p->tok);
		ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "expected '}' but found %s", found);
		return FALSE;
	}
	p->depth--;
	return lex_next(p, error);
}

/* command = identifier arguments (";" / block) */
static SieveNode *parse_command(SieveParser *p, GError **error)
{
	gsize start = p->tok.start;
	SieveNode *node = parse_head(p, FALSE, error);
	if (!node)
		return NULL;

	if (node->def->kind == SIEVE_NODE_REQUIRE) {
		/* RFC 5228 3.2: require comes before anything else */
		if (p->past_requires || p->depth > 0) {
			set_error_at(error, SIEVE_ERROR_INVALID, node->line, node->column,
			             "require must come before every other command");
			goto fail;
		}
	} else {
		p->past_requires = TRUE;
	}

	if (node->def->block) {
		if (!parse_block(p, node, start, error))
			goto fail;
	} else if (p->tok.kind != TOK_SEMICOLON) {
		g_autofree char *after = snippet(p, start, p->prev_end);
		set_error_at(error, SIEVE_ERROR_SYNTAX, p->prev_line, p->prev_column,
		             "expected ';' after %s", after);
		goto fail;
	} else if (!lex_next(p, error)) {
		goto fail;
	}
	return node;
fail:
	sieve_node_free(node);
	return NULL;
}

static gboolean token_is(const SieveParser *p, const char *identifier)
{
	return p->tok.kind == TOK_IDENTIFIER && g_ascii_strcasecmp(p->tok.text->str, identifier) == 0;
}

/* commands = *command, with elsif and else hung on the if before them */
static GPtrArray *parse_commands(SieveParser *p, GError **error)
{
	g_autoptr(GPtrArray) commands = node_array_new();
	while (p->tok.kind != TOK_EOF && p->tok.kind != TOK_RBRACE) {
		if (token_is(p, "elsif") || token_is(p, "else")) {
			ERROR_AT_TOKEN(p, SIEVE_ERROR_SYNTAX, "%s without an if before it",
			               p->tok.text->str);
			return NULL;
		}
		SieveNode *node = parse_command(p, error);
		if (!node)
			return NULL;
		g_ptr_array_add(commands, node);
		SieveNode *tail = node;
		while ((tail->def->kind == SIEVE_NODE_IF || tail->def->kind == SIEVE_NODE_ELSIF) &&
		       (token_is(p, "elsif") || token_is(p, "else"))) {
			tail->orelse = parse_command(p, error);
			if (!tail->orelse)
				return NULL;
			tail = tail->orelse;
		}
	}
	return g_steal_pointer(&commands);
}

SieveScript *sieve_script_parse(const char *text, gsize len, GError **error)
{
	g_return_val_if_fail(text != NULL || len == 0, NULL);

	if (len > SIEVE_MAX_SCRIPT_SIZE) {
		g_set_error(error, SIEVE_ERROR, SIEVE_ERROR_LIMIT,
		            "sieve: script of %" G_GSIZE_FORMAT " octets is larger than %d",
		            len, SIEVE_MAX_SCRIPT_SIZE);
		return NULL;
	}
	const char *bad;
	/* RFC 5228 1: scripts are UTF-8; a NUL would end our C strings early */
	if (len > 0 && !g_utf8_validate_len(text, len, &bad)) {
		guint line = 1, column = 1;
		for (const char *c = text; c < bad; c++) {
			if (*c == '\n') {
				line++;
				column = 1;
			} else if (((guchar)*c & 0xC0) != 0x80) {
				column++;
			}
		}
		set_error_at(error, SIEVE_ERROR_SYNTAX, line, column,
		             "the script is not valid UTF-8 text (or holds a NUL byte)");
		return NULL;
	}

	SieveParser p = {
		.src = text ? text : "", .len = len, .line = 1, .column = 1,
		.tok = { .text = g_string_new(NULL), .end_line = 1, .end_column = 1 },
	};
	SieveScript *script = NULL;
	GPtrArray *commands = NULL;
	if (lex_next(&p, error) && (commands = parse_commands(&p, error))) {
		if (p.tok.kind == TOK_EOF) {
			script = g_new0(SieveScript, 1);
			script->commands = g_steal_pointer(&commands);
		} else {
			set_error_at(error, SIEVE_ERROR_SYNTAX, p.tok.line, p.tok.column,
			             "'}' without a '{' before it");
		}
	}
	g_clear_pointer(&commands, g_ptr_array_unref);
	g_string_free(p.tok.text, TRUE);
	return script;
}

/* ======================================================================== */
/* Checks beyond the grammar: things RFC 5228 makes compile-time errors     */
/* ======================================================================== */

static gboolean check_require(SieveParser *p, SieveNode *node, GError **error)
{
	for (guint i = 0; i < node->names->len; i++) {
		const char *name = node->names->pdata[i];
		guint bit = 0;
		for (gsize j = 0; j < G_N_ELEMENTS(sieve_capabilities); j++)
			if (strcmp(sieve_capabilities[j].name, name) == 0)
				bit = sieve_capabilities[j].bit;
		if (!bit) {
			/* RFC 5228 3.2: an unknown capability fails the whole script */
			set_error_at(error, SIEVE_ERROR_UNSUPPORTED, node->line, node->column,
			             "unknown capability \"%s\"", name);
			return FALSE;
		}
		p->caps |= bit;
	}
	return TRUE;
}

/* Why a fileinto folder name is unusable, or NULL.  The MDA turns it into
 * a Maildir++ folder ".Name", so no path tricks may hide in it. */
static const char *folder_name_problem(const char *name)
{
	gsize len = strlen(name);
	if (len == 0)
		return "it is empty";
	if (len > SIEVE_MAX_FOLDER_LEN)
		return "it is too long";
	for (const char *c = name; *c; c++) {
		if ((guchar)*c < 0x20 || *c == 0x7F)
			return "it holds a control character";
		if (*c == '/' || *c == '\\')
			return "it holds '/' or '\\'";
	}
	if (name[0] == '.' || name[len - 1] == '.' || strstr(name, ".."))
		return "'.' separates levels, so it may not start or end a name or be doubled";
	return NULL;
}

static gboolean check_fileinto(SieveParser *p, SieveNode *node, GError **error)
{
	const char *problem = folder_name_problem(node->argument);
	if (problem) {
		set_error_at(error, SIEVE_ERROR_INVALID, node->line, node->column,
		             "bad folder name \"%s\": %s", node->argument, problem);
		return FALSE;
	}
	return TRUE;
}

/* RFC 5321 4.1.2 Mailbox, simplified: dot-atom-ish local@domain, no
 * quoted local parts.  Enough to refuse garbage at compile time. */
static gboolean address_is_valid(const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (!at || at == addr || at[1] == '\0' || strlen(addr) > 254 || at - addr > 64)
		return FALSE;
	for (const char *c = addr; c < at; c++)
		if ((guchar)*c <= ' ' || *c == 0x7F || strchr("()<>[]:;@\\,\"", *c))
			return FALSE;
	const char *domain = at + 1;
	if (domain[0] == '.' || domain[0] == '-' || strstr(domain, ".."))
		return FALSE;
	for (const char *c = domain; *c; c++)
		if (!g_ascii_isalnum(*c) && *c != '-' && *c != '.')
			return FALSE;
	return domain[strlen(domain) - 1] != '.';
}

static gboolean check_redirect(SieveParser *p, SieveNode *node, GError **error)
{
	/* RFC 5228 4.2: a constant bad address is a compile-time error */
	if (!address_is_valid(node->argument)) {
		set_error_at(error, SIEVE_ERROR_INVALID, node->line, node->column,
		             "redirect: \"%s\" is not a mail address", node->argument);
		return FALSE;
	}
	return TRUE;
}

static gboolean check_vacation(SieveParser *p, SieveNode *node, GError **error)
{
	if (node->from && !address_is_valid(node->from)) {
		set_error_at(error, SIEVE_ERROR_INVALID, node->line, node->column,
		             "vacation :from \"%s\" is not a mail address", node->from);
		return FALSE;
	}
	for (guint i = 0; node->addresses && i < node->addresses->len; i++) {
		const char *addr = node->addresses->pdata[i];
		if (!address_is_valid(addr)) {
			set_error_at(error, SIEVE_ERROR_INVALID, node->line, node->column,
			             "vacation :addresses \"%s\" is not a mail address", addr);
			return FALSE;
		}
	}
	return TRUE;
}

/* RFC 5322 3.6.8: field-name = 1*ftext, printable ASCII except ':' */
static gboolean check_header_names(SieveParser *p, SieveNode *node, GError **error)
{
	for (guint i = 0; i < node->names->len; i++) {
		const char *name = node->names->pdata[i];
		gboolean ok = name[0] != '\0';
		for (const char *c = name; *c && ok; c++)
			ok = *c >= 33 && *c <= 126 && *c != ':';
		if (!ok) {
			set_error_at(error, SIEVE_ERROR_INVALID, node->line, node->column,
			             "\"%s\" is not a header field name", name);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean check_address(SieveParser *p, SieveNode *node, GError **error)
{
	if (!check_header_names(p, node, error))
		return FALSE;
	for (guint i = 0; i < node->names->len; i++) {
		const char *name = node->names->pdata[i];
		gboolean known = FALSE;
		for (gsize j = 0; j < G_N_ELEMENTS(sieve_address_headers); j++)
			known = known || g_ascii_strcasecmp(name, sieve_address_headers[j]) == 0;
		if (!known) {
			/* RFC 5228 5.1: only header fields known to hold addresses */
			set_error_at(error, SIEVE_ERROR_INVALID, node->line, node->column,
			             "address: \"%s\" does not hold addresses; use header", name);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean check_envelope(SieveParser *p, SieveNode *node, GError **error)
{
	for (guint i = 0; i < node->names->len; i++) {
		const char *part = node->names->pdata[i];
		/* RFC 5228 5.4: "from" is MAIL FROM, "to" is RCPT TO */
		if (g_ascii_strcasecmp(part, "from") != 0 && g_ascii_strcasecmp(part, "to") != 0) {
			set_error_at(error, SIEVE_ERROR_UNSUPPORTED, node->line, node->column,
			             "envelope part \"%s\" is not supported (only \"from\" and \"to\")",
			             part);
			return FALSE;
		}
	}
	return TRUE;
}

/* ======================================================================== */
/* Writing the AST back                                                     */
/* ======================================================================== */

static void dump_string(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *s);
	}
	g_string_append_c(out, '"');
}

static void dump_list(GString *out, const GPtrArray *list)
{
	if (list->len == 1) {
		dump_string(out, list->pdata[0]);
		return;
	}
	g_string_append_c(out, '[');
	for (guint i = 0; i < list->len; i++) {
		if (i)
			g_string_append(out, ", ");
		dump_string(out, list->pdata[i]);
	}
	g_string_append_c(out, ']');
}

static void dump_commands(GString *out, const GPtrArray *commands, SieveDumpFlags flags);

static void dump_node(GString *out, const SieveNode *n, SieveDumpFlags flags)
{
	const SieveCommandDef *def = n->def;
	g_string_append(out, def->name);
	if (flags & SIEVE_DUMP_POSITIONS)
		g_string_append_printf(out, "@%u:%u", n->line, n->column);
	if (n->copy)
		g_string_append(out, " :copy");
	if (n->comparator != SIEVE_COMPARATOR_ASCII_CASEMAP)
		g_string_append_printf(out, " :comparator \"%s\"", sieve_comparator_to_string(n->comparator));
	if (n->part != SIEVE_ADDRESS_ALL)
		g_string_append_printf(out, " %s", sieve_address_part_to_string(n->part));
	if (n->match != SIEVE_MATCH_IS)
		g_string_append_printf(out, " %s", sieve_match_type_to_string(n->match));
	if (def->kind == SIEVE_NODE_SIZE)
		g_string_append(out, n->over ? " :over" : " :under");
	if (def->kind == SIEVE_NODE_VACATION) {
		if (n->has_number)
			g_string_append_printf(out, " :days %" G_GUINT64_FORMAT, n->number);
		const struct { const char *tag; const char *value; } strs[] = {
			{ ":subject", n->subject }, { ":from", n->from }, { ":handle", n->handle },
		};
		for (gsize i = 0; i < G_N_ELEMENTS(strs); i++) {
			if (!strs[i].value)
				continue;
			g_string_append_printf(out, " %s ", strs[i].tag);
			dump_string(out, strs[i].value);
		}
		if (n->addresses) {
			g_string_append(out, " :addresses ");
			dump_list(out, n->addresses);
		}
		if (n->mime)
			g_string_append(out, " :mime");
	}
	if (n->names) {
		g_string_append_c(out, ' ');
		dump_list(out, n->names);
	}
	if (n->keys) {
		g_string_append_c(out, ' ');
		dump_list(out, n->keys);
	}
	if (n->argument) {
		g_string_append_c(out, ' ');
		dump_string(out, n->argument);
	}
	if (def->kind == SIEVE_NODE_SIZE)
		g_string_append_printf(out, " %" G_GUINT64_FORMAT, n->number);
	if (def->tests == 1) {
		g_string_append_c(out, ' ');
		dump_node(out, n->tests->pdata[0], flags);
	} else if (def->tests == 2) {
		g_string_append(out, " (");
		for (guint i = 0; i < n->tests->len; i++) {
			if (i)
				g_string_append(out, ", ");
			dump_node(out, n->tests->pdata[i], flags);
		}
		g_string_append_c(out, ')');
	}
	if (def->block) {
		g_string_append(out, " {");
		if (n->block->len) {
			g_string_append_c(out, ' ');
			dump_commands(out, n->block, flags);
		}
		g_string_append(out, " }");
	} else if (!def->is_test) {
		g_string_append_c(out, ';');
	}
}

static void dump_commands(GString *out, const GPtrArray *commands, SieveDumpFlags flags)
{
	for (guint i = 0; i < commands->len; i++) {
		if (i)
			g_string_append_c(out, ' ');
		for (const SieveNode *n = commands->pdata[i]; n; n = n->orelse) {
			if (n != commands->pdata[i])
				g_string_append_c(out, ' ');
			dump_node(out, n, flags);
		}
	}
}

char *sieve_script_to_string(const SieveScript *script, SieveDumpFlags flags)
{
	g_return_val_if_fail(script != NULL, NULL);
	GString *out = g_string_new(NULL);
	dump_commands(out, script->commands, flags);
	return g_string_free(out, FALSE);
}

/* ======================================================================== */
/* Addresses in header fields                                               */
/* ======================================================================== */

/* RFC 5322 3.4 address-list, read leniently: for each mailbox what is
 * inside <...>, or else the bare addr-spec; comments, display names and
 * group names ("team: a@x, b@y;") are dropped, as are source routes. */
static GPtrArray *address_list_parse(const char *value)
{
	GPtrArray *out = string_array_new();
	g_autoptr(GString) bare = g_string_new(NULL);
	g_autoptr(GString) angle = g_string_new(NULL);
	gboolean in_angle = FALSE, have_angle = FALSE, in_quote = FALSE;
	guint comment = 0;

	for (const char *c = value;; c++) {
		gboolean top = !in_quote && comment == 0 && !in_angle;
		if (*c == '\0' || (top && (*c == ',' || *c == ';'))) {
			GString *addr = have_angle ? angle : bare;
			if (addr->len)
				g_ptr_array_add(out, g_strndup(addr->str, addr->len));
			g_string_truncate(bare, 0);
			g_string_truncate(angle, 0);
			have_angle = in_angle = in_quote = FALSE;
			comment = 0;
			if (*c == '\0')
				return out;
			continue;
		}
		GString *cur = in_angle ? angle : bare;
		if (in_quote) {
			if (*c == '\\' && c[1])
				c++;
			else if (*c == '"') {
				in_quote = FALSE;
				continue;
			}
			g_string_append_c(cur, *c);
		} else if (comment) {
			if (*c == '\\' && c[1])
				c++;
			else if (*c == '(')
				comment++;
			else if (*c == ')')
				comment--;
		} else if (*c == '(') {
			comment = 1;
		} else if (*c == '"') {
			in_quote = TRUE;
		} else if (*c == '<' && !in_angle) {
			in_angle = have_angle = TRUE;
			g_string_truncate(angle, 0);
		} else if (*c == '>' && in_angle) {
			in_angle = FALSE;
		} else if (*c == ':') {
			g_string_truncate(cur, 0);  /* a group name, or <@route:addr> */
		} else if (!g_ascii_isspace(*c)) {
			g_string_append_c(cur, *c);
		}
	}
}

static char *address_part(const char *addr, SieveAddressPart part)
{
	const char *at = strrchr(addr, '@');
	switch (part) {
	case SIEVE_ADDRESS_LOCALPART:
		return at ? g_strndup(addr, (gsize)(at - addr)) : g_strdup(addr);
	case SIEVE_ADDRESS_DOMAIN:
		return g_strdup(at ? at + 1 : "");
	case SIEVE_ADDRESS_ALL:
		break;
	}
	return g_strdup(addr);
}

/* ======================================================================== */
/* The evaluator (RFC 5228 2.10)                                            */
/* ======================================================================== */

typedef struct {
	const SieveMessage *msg;
	GPtrArray *actions;
	gboolean   implicit_keep;  /* RFC 5228 2.10.2 */
	gboolean   stopped;
	guint      redirects;
	guint64    cost;
} SieveRun;

void sieve_action_free(SieveAction *action)
{
	if (!action)
		return;
	if (action->vacation) {
		SieveVacation *v = action->vacation;
		g_free(v->subject);
		g_free(v->from);
		g_clear_pointer(&v->addresses, g_ptr_array_unref);
		g_free(v->handle);
		g_free(v->reason);
		g_free(v->to);
		g_free(v);
	}
	g_free(action->argument);
	g_free(action);
}

static GPtrArray *header_values(const SieveMessage *msg, const char *name)
{
	GPtrArray *values = string_array_new();
	if (msg->get_header)
		msg->get_header(msg, name, values);
	return values;
}

/* Does value match any key?  Each comparison is paid for from the run's
 * budget first, so no script can make one delivery take forever. */
static gboolean match_keys(SieveRun *run, const SieveNode *test, const char *value,
                           gboolean *matched_r, GError **error)
{
	gsize value_len = strlen(value);
	for (guint i = 0; i < test->keys->len; i++) {
		const char *key = test->keys->pdata[i];
		run->cost += (guint64)(value_len + 1) * (strlen(key) + 1);
		if (run->cost > SIEVE_MAX_EVAL_COST) {
			set_error_at(error, SIEVE_ERROR_RUNTIME, test->line, test->column,
			             "%s: too much matching work for one message", test->def->name);
			return FALSE;
		}
		if (sieve_string_matches(value, key, test->match, test->comparator)) {
			*matched_r = TRUE;
			return TRUE;
		}
	}
	*matched_r = FALSE;
	return TRUE;
}

/* header, address: does any value of any named field match any key? */
static gboolean run_header_test(SieveRun *run, const SieveNode *test, gboolean *result_r,
                                GError **error)
{
	gboolean is_address = test->def->kind == SIEVE_NODE_ADDRESS;
	*result_r = FALSE;
	for (guint i = 0; i < test->names->len && !*result_r; i++) {
		g_autoptr(GPtrArray) values = header_values(run->msg, test->names->pdata[i]);
		for (guint j = 0; j < values->len && !*result_r; j++) {
			if (!is_address) {
				if (!match_keys(run, test, values->pdata[j], result_r, error))
					return FALSE;
				continue;
			}
			g_autoptr(GPtrArray) addrs = address_list_parse(values->pdata[j]);
			for (guint k = 0; k < addrs->len && !*result_r; k++) {
				g_autofree char *part = address_part(addrs->pdata[k], test->part);
				if (!match_keys(run, test, part, result_r, error))
					return FALSE;
			}
		}
	}
	return TRUE;
}

static gboolean run_envelope_test(SieveRun *run, const SieveNode *test, gboolean *result_r,
                                  GError **error)
{
	*result_r = FALSE;
	for (guint i = 0; i < test->names->len && !*result_r; i++) {
		gboolean from = g_ascii_strcasecmp(test->names->pdata[i], "from") == 0;
		const char *addr = from ? run->msg->envelope_from : run->msg->envelope_to;
		if (!addr)
			continue;
		/* RFC 5228 5.4: the null reverse-path <> is the empty string */
		g_autofree char *part = address_part(addr, test->part);
		if (!match_keys(run, test, part, result_r, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean run_test(SieveRun *run, const SieveNode *test, gboolean *result_r,
                         GError **error)
{
	switch (test->def->kind) {
	case SIEVE_NODE_ALLOF:
	case SIEVE_NODE_ANYOF: {
		/* RFC 5228 5.2, 5.3: evaluated left to right, stopping early */
		gboolean all = test->def->kind == SIEVE_NODE_ALLOF;
		for (guint i = 0; i < test->tests->len; i++) {
			if (!run_test(run, test->tests->pdata[i], result_r, error))
				return FALSE;
			if (*result_r != all)
				return TRUE;
		}
		*result_r = all;
		return TRUE;
	}
	case SIEVE_NODE_NOT:
		if (!run_test(run, test->tests->pdata[0], result_r, error))
			return FALSE;
		*result_r = !*result_r;
		return TRUE;
	case SIEVE_NODE_HEADER:
	case SIEVE_NODE_ADDRESS:
		return run_header_test(run, test, result_r, error);
	case SIEVE_NODE_ENVELOPE:
		return run_envelope_test(run, test, result_r, error);
	case SIEVE_NODE_SIZE:
		*result_r = test->over ? run->msg->size > test->number : run->msg->size < test->number;
		return TRUE;
	case SIEVE_NODE_EXISTS:
		/* RFC 5228 5.5: true only if every named field is there */
		*result_r = TRUE;
		for (guint i = 0; i < test->names->len && *result_r; i++) {
			g_autoptr(GPtrArray) values = header_values(run->msg, test->names->pdata[i]);
			*result_r = values->len > 0;
		}
		return TRUE;
	case SIEVE_NODE_TRUE:
		*result_r = TRUE;
		return TRUE;
	case SIEVE_NODE_FALSE:
		*result_r = FALSE;
		return TRUE;
	default:
		g_assert_not_reached();
	}
}

static gboolean is_delivery(SieveActionKind kind)
{
	return kind == SIEVE_ACTION_KEEP || kind == SIEVE_ACTION_FILEINTO ||
	       kind == SIEVE_ACTION_REDIRECT;
}

static gboolean same_folder(const char *a, const char *b)
{
	/* RFC 3501 5.1: INBOX is INBOX in any case; other names are exact */
	if (g_ascii_strcasecmp(a, "INBOX") == 0)
		return g_ascii_strcasecmp(b, "INBOX") == 0;
	return strcmp(a, b) == 0;
}

/* Is `action` the same as one already taken (RFC 5228 2.10.3)?  Or can it
 * not stand beside one (RFC 5429 2.1, RFC 5230 4.7)? */
static gboolean check_action(SieveRun *run, const SieveAction *action, gboolean *duplicate_r,
                             const SieveNode *node, GError **error)
{
	*duplicate_r = FALSE;
	for (guint i = 0; i < run->actions->len; i++) {
		const SieveAction *old = run->actions->pdata[i];
		gboolean stores = old->kind == SIEVE_ACTION_KEEP || old->kind == SIEVE_ACTION_FILEINTO;
		gboolean conflict =
			(old->kind == action->kind && (action->kind == SIEVE_ACTION_REJECT ||
			                               action->kind == SIEVE_ACTION_VACATION)) ||
			(old->kind == SIEVE_ACTION_REJECT && (is_delivery(action->kind) ||
			                                      action->kind == SIEVE_ACTION_VACATION)) ||
			(action->kind == SIEVE_ACTION_REJECT && (is_delivery(old->kind) ||
			                                         old->kind == SIEVE_ACTION_VACATION));
		if (conflict) {
			set_error_at(error, SIEVE_ERROR_RUNTIME, node->line, node->column,
			             "%s cannot be combined with the %s on line %u",
			             sieve_action_kind_to_string(action->kind),
			             sieve_action_kind_to_string(old->kind), old->line);
			return FALSE;
		}
		if ((stores && (action->kind == SIEVE_ACTION_KEEP ||
		                action->kind == SIEVE_ACTION_FILEINTO) &&
		     same_folder(old->argument, action->argument)) ||
		    (old->kind == action->kind && action->kind == SIEVE_ACTION_REDIRECT &&
		     g_ascii_strcasecmp(old->argument, action->argument) == 0) ||
		    (old->kind == action->kind && action->kind == SIEVE_ACTION_DISCARD))
			*duplicate_r = TRUE;
	}
	return TRUE;
}

/* Take an action unless it repeats one; it is freed either way. */
static gboolean add_action(SieveRun *run, SieveAction *action, const SieveNode *node,
                           GError **error)
{
	gboolean duplicate;
	if (!check_action(run, action, &duplicate, node, error)) {
		sieve_action_free(action);
		return FALSE;
	}
	if (duplicate) {
		sieve_action_free(action);
		return TRUE;
	}
	if (action->kind == SIEVE_ACTION_REDIRECT && ++run->redirects > SIEVE_MAX_REDIRECTS) {
		set_error_at(error, SIEVE_ERROR_RUNTIME, node->line, node->column,
		             "more than %d redirects", SIEVE_MAX_REDIRECTS);
		sieve_action_free(action);
		return FALSE;
	}
	if (run->actions->len >= SIEVE_MAX_ACTIONS) {
		set_error_at(error, SIEVE_ERROR_RUNTIME, node->line, node->column,
		             "more than %d actions", SIEVE_MAX_ACTIONS);
		sieve_action_free(action);
		return FALSE;
	}
	g_ptr_array_add(run->actions, action);
	return TRUE;
}

static SieveAction *action_new(SieveActionKind kind, const char *argument, guint line)
{
	SieveAction *action = g_new0(SieveAction, 1);
	action->kind = kind;
	action->argument = g_strdup(argument);
	action->line = line;
	return action;
}

/* Does any of the user's addresses appear in a recipient field? */
static gboolean vacation_addressed_to_user(SieveRun *run, const GPtrArray *mine)
{
	/* RFC 5230 4.5: reply only to mail sent to the user, not via a list or Bcc */
	static const char *const fields[] = {
		"to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc",
	};
	for (gsize f = 0; f < G_N_ELEMENTS(fields); f++) {
		g_autoptr(GPtrArray) values = header_values(run->msg, fields[f]);
		for (guint i = 0; i < values->len; i++) {
			g_autoptr(GPtrArray) addrs = address_list_parse(values->pdata[i]);
			for (guint j = 0; j < addrs->len; j++)
				for (guint k = 0; k < mine->len; k++)
					if (g_ascii_strcasecmp(addrs->pdata[j], mine->pdata[k]) == 0)
						return TRUE;
		}
	}
	return FALSE;
}

/* NULL if a vacation reply may go out, else why not. */
static const char *vacation_suppressed(SieveRun *run, const SieveVacation *v)
{
	const char *sender = run->msg->envelope_from;
	if (!sender || !*sender)
		return "the sender is <>: never answer a bounce";

	/* RFC 5230 4.6: no replies to daemons and list robots */
	g_autofree char *local = address_part(sender, SIEVE_ADDRESS_LOCALPART);
	g_autofree char *lower = g_ascii_strdown(local, -1);
	if (strcmp(lower, "mailer-daemon") == 0 || strcmp(lower, "postmaster") == 0 ||
	    g_str_has_prefix(lower, "owner-") || g_str_has_suffix(lower, "-request"))
		return "the sender is a mail daemon or a list robot";

	/* RFC 3834 5 and RFC 5230 4.6: nothing automatic gets an answer */
	g_autoptr(GPtrArray) auto_submitted = header_values(run->msg, "auto-submitted");
	for (guint i = 0; i < auto_submitted->len; i++) {
		const char *value = g_strstrip((char *)auto_submitted->pdata[i]);
		gsize word = strcspn(value, " \t;(");
		if (!(word == 2 && g_ascii_strncasecmp(value, "no", 2) == 0))
			return "the message was sent automatically (Auto-Submitted)";
	}
	g_autoptr(GPtrArray) list_id = header_values(run->msg, "list-id");
	if (list_id->len > 0)
		return "the message came from a mailing list (List-Id)";
	g_autoptr(GPtrArray) precedence = header_values(run->msg, "precedence");
	for (guint i = 0; i < precedence->len; i++) {
		const char *value = g_strstrip((char *)precedence->pdata[i]);
		if (g_ascii_strcasecmp(value, "bulk") == 0 || g_ascii_strcasecmp(value, "list") == 0 ||
		    g_ascii_strcasecmp(value, "junk") == 0)
			return "the message is bulk mail (Precedence)";
	}

	g_autoptr(GPtrArray) mine = string_array_copy(v->addresses);
	if (run->msg->envelope_to)
		g_ptr_array_add(mine, g_strdup(run->msg->envelope_to));
	for (guint i = 0; i < mine->len; i++)
		if (g_ascii_strcasecmp(mine->pdata[i], sender) == 0)
			return "the message is from yourself";
	if (!vacation_addressed_to_user(run, mine))
		return "none of your addresses is in To or Cc";
	return NULL;
}

static SieveAction *vacation_action(SieveRun *run, const SieveNode *node)
{
	SieveVacation *v = g_new0(SieveVacation, 1);
	/* RFC 5230 4.1: out-of-range :days are moved into range, not refused */
	guint64 days = node->has_number ? node->number : SIEVE_VACATION_DAYS_DEFAULT;
	v->days = (guint)CLAMP(days, SIEVE_VACATION_DAYS_MIN, SIEVE_VACATION_DAYS_MAX);
	if (node->subject) {
		v->subject = g_strdup(node->subject);
	} else {
		/* RFC 5230 4.3: "Auto: " and the subject of the message answered */
		g_autoptr(GPtrArray) subjects = header_values(run->msg, "subject");
		v->subject = g_strconcat("Auto: ", subjects->len ? (char *)subjects->pdata[0] : "", NULL);
	}
	v->from = g_strdup(node->from);
	v->addresses = string_array_copy(node->addresses);
	v->handle = g_strdup(node->handle);
	v->mime = node->mime;
	v->reason = g_strdup(node->argument);
	v->to = g_strdup(run->msg->envelope_from ? run->msg->envelope_from : "");
	v->suppressed = vacation_suppressed(run, v);

	SieveAction *action = action_new(SIEVE_ACTION_VACATION, NULL, node->line);
	action->vacation = v;
	return action;
}

static gboolean run_commands(SieveRun *run, const GPtrArray *commands, GError **error);

static gboolean run_command(SieveRun *run, const SieveNode *node, GError **error)
{
	SieveAction *action = NULL;
	switch (node->def->kind) {
	case SIEVE_NODE_REQUIRE:
		return TRUE;
	case SIEVE_NODE_IF:
		/* RFC 5228 3.1: the first branch whose test holds, else the else */
		for (const SieveNode *branch = node; branch; branch = branch->orelse) {
			gboolean holds = TRUE;
			if (branch->def->kind != SIEVE_NODE_ELSE &&
			    !run_test(run, branch->tests->pdata[0], &holds, error))
				return FALSE;
			if (holds)
				return run_commands(run, branch->block, error);
		}
		return TRUE;
	case SIEVE_NODE_ELSIF:
	case SIEVE_NODE_ELSE:
		g_assert_not_reached();  /* the parser hangs them on their if */
	case SIEVE_NODE_STOP:
		run->stopped = TRUE;  /* RFC 5228 3.3 */
		return TRUE;
	case SIEVE_NODE_KEEP:
		/* RFC 5228 4.3: an explicit keep stores in INBOX */
		run->implicit_keep = FALSE;
		action = action_new(SIEVE_ACTION_KEEP, "INBOX", node->line);
		break;
	case SIEVE_NODE_DISCARD:
		run->implicit_keep = FALSE;  /* RFC 5228 4.4: cancels the implicit keep only */
		action = action_new(SIEVE_ACTION_DISCARD, NULL, node->line);
		break;
	case SIEVE_NODE_FILEINTO:
	case SIEVE_NODE_REDIRECT:
		/* RFC 3894 3: with :copy the implicit keep still happens */
		if (!node->copy)
			run->implicit_keep = FALSE;
		action = action_new(node->def->kind == SIEVE_NODE_FILEINTO ? SIEVE_ACTION_FILEINTO
		                                                           : SIEVE_ACTION_REDIRECT,
		                    node->argument, node->line);
		action->copy = node->copy;
		break;
	case SIEVE_NODE_REJECT:
		run->implicit_keep = FALSE;  /* RFC 5429 2.1 */
		action = action_new(SIEVE_ACTION_REJECT, node->argument, node->line);
		break;
	case SIEVE_NODE_VACATION:
		action = vacation_action(run, node);
		break;
	default:
		g_assert_not_reached();  /* tests never stand as commands */
	}
	return add_action(run, action, node, error);
}

static gboolean run_commands(SieveRun *run, const GPtrArray *commands, GError **error)
{
	for (guint i = 0; i < commands->len && !run->stopped; i++)
		if (!run_command(run, commands->pdata[i], error))
			return FALSE;
	return TRUE;
}

static SieveAction *implicit_keep_new(void)
{
	SieveAction *keep = action_new(SIEVE_ACTION_KEEP, "INBOX", 0);
	keep->implicit = TRUE;
	return keep;
}

GPtrArray *sieve_script_evaluate(const SieveScript *script, const SieveMessage *msg,
                                 GError **error)
{
	g_return_val_if_fail(script != NULL && msg != NULL, NULL);

	SieveRun run = {
		.msg = msg,
		.actions = g_ptr_array_new_with_free_func((GDestroyNotify)sieve_action_free),
		.implicit_keep = TRUE,
	};
	if (!run_commands(&run, script->commands, error)) {
		/* RFC 5228 2.10.6: after a runtime error, file the message in INBOX */
		g_ptr_array_set_size(run.actions, 0);
		g_ptr_array_add(run.actions, implicit_keep_new());
		return run.actions;
	}
	if (run.implicit_keep) {
		gboolean in_inbox = FALSE;
		for (guint i = 0; i < run.actions->len; i++) {
			const SieveAction *a = run.actions->pdata[i];
			if ((a->kind == SIEVE_ACTION_KEEP || a->kind == SIEVE_ACTION_FILEINTO) &&
			    same_folder(a->argument, "INBOX"))
				in_inbox = TRUE;
		}
		if (!in_inbox)
			g_ptr_array_add(run.actions, implicit_keep_new());
	}
	return run.actions;
}
