/* agents/mda/filter.c - virus signature scan and spam rules.
 *
 * A small header splitter (RFC 5322 2.2: fields, unfolding; RFC 2047 encoded
 * words), a MIME walk that decodes base64 parts (RFC 2045 6.8, RFC 2046
 * 5.1.1), the signature table and the spam rule table.
 */
#include "agents/mda/filter.h"

#include <string.h>

/* Longest header value quoted in an explanation, in characters. */
#define FILTER_EXPLAIN_QUOTE_MAX 60
/* RFC 2047 2 allows 75 characters; senders write longer ones anyway. */
#define FILTER_ENCODED_WORD_MAX 1024
/* Spam words named in one explanation. */
#define FILTER_EXPLAIN_MAX_WORDS 3

/* ======================================================================== */
/* Header fields                                                            */
/* ======================================================================== */

typedef struct {
	char *name;
	char *value;  /* unfolded, encoded words decoded, trimmed, valid UTF-8 */
} FilterField;

struct FilterMail {
	GPtrArray  *fields;    /* FilterField *, in order */
	const char *body;      /* borrowed: the octets after the empty line */
	gsize       body_len;
};

static void filter_field_free(FilterField *field)
{
	g_free(field->name);
	g_free(field->value);
	g_free(field);
}

/* ISO-8859-1 octets to UTF-8: each octet is the code point of its value. */
static void append_latin1(GString *out, const guint8 *s, gsize len)
{
	for (gsize i = 0; i < len; i++)
		g_string_append_unichar(out, s[i]);
}

/* Decode one RFC 2047 encoded word "=?charset?B|Q?text?=" starting at s.
 * Returns the octets consumed (0: not an encoded word) and appends the
 * text.  Only UTF-8, US-ASCII and ISO-8859-1 are converted; other
 * charsets pass their octets through, made valid later. */
static gsize decode_encoded_word(const char *s, GString *out)
{
	if (s[0] != '=' || s[1] != '?')
		return 0;
	/* look no further than a generous word length, or "=?=?=?..." is slow */
	gsize avail = strnlen(s, FILTER_ENCODED_WORD_MAX);
	const char *charset = s + 2;
	const char *q1 = memchr(charset, '?', avail - 2);
	if (!q1 || q1 == charset || (gsize)(q1 - s) + 3 > avail || q1[2] != '?')
		return 0;
	char encoding = g_ascii_toupper(q1[1]);
	const char *text = q1 + 3;
	const char *end = memmem(text, avail - (gsize)(text - s), "?=", 2);
	if (!end || (encoding != 'B' && encoding != 'Q'))
		return 0;

	g_autofree char *cs = g_strndup(charset, (gsize)(q1 - charset));
	char *star = strchr(cs, '*');  /* RFC 2231 5: "charset*language" */
	if (star)
		*star = '\0';

	g_autoptr(GByteArray) raw = g_byte_array_new();
	if (encoding == 'B') {
		g_autofree char *b64 = g_strndup(text, (gsize)(end - text));
		gsize n = 0;
		g_autofree guchar *bytes = g_base64_decode(b64, &n);
		g_byte_array_append(raw, bytes, (guint)n);
	} else {
		/* RFC 2047 4.2: "_" is a space, "=XX" an octet */
		for (const char *c = text; c < end; c++) {
			guint8 b = (guint8)*c;
			if (*c == '_') {
				b = ' ';
			} else if (*c == '=' && c + 2 < end && g_ascii_isxdigit(c[1]) &&
			           g_ascii_isxdigit(c[2])) {
				b = (guint8)(g_ascii_xdigit_value(c[1]) * 16 + g_ascii_xdigit_value(c[2]));
				c += 2;
			}
			g_byte_array_append(raw, &b, 1);
		}
	}
	if (g_ascii_strcasecmp(cs, "iso-8859-1") == 0 || g_ascii_strcasecmp(cs, "latin1") == 0)
		append_latin1(out, raw->data, raw->len);
	else
		g_string_append_len(out, (const char *)raw->data, (gssize)raw->len);
	return (gsize)(end + 2 - s);
}

/* RFC 2047 6.1: decode the encoded words of an unstructured value;
 * white space between two encoded words is dropped (RFC 2047 6.2). */
static char *decode_header_value(const char *value)
{
	GString *out = g_string_new(NULL);
	gboolean after_word = FALSE;
	for (const char *c = value; *c;) {
		if (after_word && (*c == ' ' || *c == '\t')) {
			const char *next = c + strspn(c, " \t");
			g_autoptr(GString) probe = g_string_new(NULL);
			if (decode_encoded_word(next, probe) > 0) {
				c = next;
				continue;
			}
		}
		gsize used = decode_encoded_word(c, out);
		after_word = used > 0;
		if (used) {
			c += used;
		} else {
			g_string_append_c(out, *c);
			c++;
		}
	}
	char *valid = g_utf8_make_valid(out->str, (gssize)out->len);
	g_string_free(out, TRUE);
	return g_strstrip(valid);
}

/* RFC 5322 2.2: split the header block into fields, unfolding lines that
 * start with white space (2.2.3).  It ends at the first empty line; what
 * follows is the body.  Lines without a colon are skipped. */
static void mail_parse(FilterMail *mail, const char *msg, gsize len)
{
	mail->fields = g_ptr_array_new_with_free_func((GDestroyNotify)filter_field_free);
	mail->body = msg + len;
	mail->body_len = 0;

	g_autoptr(GString) name = g_string_new(NULL);
	g_autoptr(GString) value = g_string_new(NULL);
	gboolean in_field = FALSE;
	const char *end = msg + len;
	const char *p = msg;
	for (;;) {
		const char *nl = p < end ? memchr(p, '\n', (gsize)(end - p)) : NULL;
		const char *line_end = nl ? nl : end;
		gsize line_len = (gsize)(line_end - p);
		if (line_len > 0 && p[line_len - 1] == '\r')
			line_len--;
		gboolean folded = line_len > 0 && (p[0] == ' ' || p[0] == '\t');

		if (in_field && !folded) {  /* the field before is complete */
			if (mail->fields->len < FILTER_MAX_HEADER_FIELDS) {
				FilterField *f = g_new0(FilterField, 1);
				/* RFC 5322 4.5.8: obsolete syntax allows "Subject :" */
				f->name = g_strstrip(g_strdup(name->str));
				f->value = decode_header_value(value->str);
				g_ptr_array_add(mail->fields, f);
			}
			in_field = FALSE;
		}
		if (p >= end)
			return;
		if (line_len == 0) {  /* the empty line */
			mail->body = nl ? nl + 1 : end;
			mail->body_len = (gsize)(end - mail->body);
			return;
		}
		if (folded) {
			/* RFC 5322 2.2.3: unfolding removes the CRLF, keeps the space */
			if (in_field)
				g_string_append_len(value, p, (gssize)line_len);
		} else {
			const char *colon = memchr(p, ':', line_len);
			if (colon && colon > p) {
				g_string_assign(name, "");
				g_string_append_len(name, p, colon - p);
				g_string_assign(value, "");
				g_string_append_len(value, colon + 1, (gssize)(line_len - (gsize)(colon + 1 - p)));
				in_field = TRUE;
			}
		}
		p = nl ? nl + 1 : end;
	}
}

static void mail_clear(FilterMail *mail)
{
	g_clear_pointer(&mail->fields, g_ptr_array_unref);
}

/* The first value of a field, or NULL. */
static const char *mail_header(const FilterMail *mail, const char *name)
{
	for (guint i = 0; i < mail->fields->len; i++) {
		const FilterField *f = mail->fields->pdata[i];
		if (g_ascii_strcasecmp(f->name, name) == 0)
			return f->value;
	}
	return NULL;
}

/* ======================================================================== */
/* Virus                                                                    */
/* ======================================================================== */

/* The EICAR test file.  Written in two halves so that scanners on the
 * machines of people reading this source leave the file alone. */
#define EICAR_HEAD "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-"
#define EICAR_TAIL "ANTIVIRUS-TEST-FILE!$H+H*"

static const struct {
	const char *name;
	const char *bytes;
} filter_signatures[] = {
	{ "Eicar-Test-Signature", EICAR_HEAD EICAR_TAIL },
};

G_STATIC_ASSERT(sizeof(EICAR_HEAD EICAR_TAIL) - 1 == 68);

static const char *find_signature(const char *data, gsize len)
{
	for (gsize i = 0; i < G_N_ELEMENTS(filter_signatures); i++) {
		const char *sig = filter_signatures[i].bytes;
		if (memmem(data, len, sig, strlen(sig)))
			return filter_signatures[i].name;
	}
	return NULL;
}

typedef struct {
	FilterVirusResult *result;
	guint              parts;  /* leaf parts seen so far */
} VirusScan;

/* The boundary parameter of a multipart Content-Type (RFC 2046 5.1.1),
 * or NULL. */
static char *content_type_boundary(const char *content_type)
{
	g_autofree char *lower = g_ascii_strdown(content_type, -1);
	const char *b = lower;
	while ((b = strstr(b, "boundary=")) != NULL) {
		if (b == lower || b[-1] == ';' || b[-1] == ' ' || b[-1] == '\t')
			break;
		b++;
	}
	if (!b)
		return NULL;
	/* the value keeps its case: take it from the original */
	const char *v = content_type + (b - lower) + strlen("boundary=");
	gsize n;
	if (*v == '"') {
		v++;
		const char *q = strchr(v, '"');
		n = q ? (gsize)(q - v) : strlen(v);
	} else {
		n = strcspn(v, "; \t");
	}
	if (n == 0 || n > FILTER_MIME_MAX_BOUNDARY)
		return NULL;
	return g_strndup(v, n);
}

static void scan_entity(VirusScan *scan, const char *data, gsize len, guint depth);

/* RFC 2046 5.1.1: parts sit between lines "--boundary"; "--boundary--"
 * closes.  The CRLF before a delimiter line belongs to the delimiter. */
static void scan_multipart(VirusScan *scan, const char *body, gsize len,
                           const char *boundary, guint depth)
{
	gsize blen = strlen(boundary);
	const char *end = body + len;
	const char *part = NULL;
	for (const char *p = body; p < end && !scan->result->found;) {
		const char *nl = memchr(p, '\n', (gsize)(end - p));
		const char *next = nl ? nl + 1 : end;
		gsize line_len = (gsize)((nl ? nl : end) - p);
		if (line_len >= 2 + blen && p[0] == '-' && p[1] == '-' &&
		    memcmp(p + 2, boundary, blen) == 0) {
			if (part) {
				const char *part_end = p;
				if (part_end > part && part_end[-1] == '\n')
					part_end--;
				if (part_end > part && part_end[-1] == '\r')
					part_end--;
				scan_entity(scan, part, (gsize)(part_end - part), depth + 1);
			}
			if (line_len >= 4 + blen && p[2 + blen] == '-' && p[3 + blen] == '-')
				return;  /* the close delimiter */
			part = next;
		}
		p = next;
	}
	if (part && !scan->result->found)  /* no close delimiter: take the rest */
		scan_entity(scan, part, (gsize)(end - part), depth + 1);
}

static void scan_base64(VirusScan *scan, const char *body, gsize len)
{
	/* decode only as much input as yields FILTER_VIRUS_MAX_DECODED octets */
	gsize in = MIN(len, (gsize)FILTER_VIRUS_MAX_DECODED / 3 * 4);
	g_autofree guchar *out = g_malloc(in / 4 * 3 + 3);
	gint state = 0;
	guint save = 0;
	gsize n = g_base64_decode_step(body, in, out, &state, &save);
	const char *sig = find_signature((const char *)out, n);
	if (sig) {
		scan->result->found = TRUE;
		scan->result->signature = sig;
		scan->result->part = scan->parts;
	}
}

/* One MIME entity: recurse into multiparts and attached messages, decode
 * a base64 leaf and look inside. */
static void scan_entity(VirusScan *scan, const char *data, gsize len, guint depth)
{
	if (depth > FILTER_MIME_MAX_DEPTH || scan->parts >= FILTER_MIME_MAX_PARTS ||
	    scan->result->found)
		return;
	FilterMail mail;
	mail_parse(&mail, data, len);
	const char *type = mail_header(&mail, "content-type");
	const char *cte = mail_header(&mail, "content-transfer-encoding");
	g_autofree char *boundary = NULL;

	if (type && g_ascii_strncasecmp(type, "multipart/", 10) == 0 &&
	    (boundary = content_type_boundary(type)) != NULL) {
		scan_multipart(scan, mail.body, mail.body_len, boundary, depth);
	} else if (type && g_ascii_strncasecmp(type, "message/rfc822", 14) == 0) {
		scan_entity(scan, mail.body, mail.body_len, depth + 1);
	} else {
		scan->parts++;
		/* RFC 2045 6.1: the encoding name is case-insensitive */
		if (cte && g_ascii_strncasecmp(cte, "base64", 6) == 0)
			scan_base64(scan, mail.body, mail.body_len);
	}
	mail_clear(&mail);
}

gboolean filter_virus_scan(const char *msg, gsize len, FilterVirusResult *result)
{
	g_return_val_if_fail(result != NULL, FALSE);
	g_return_val_if_fail(msg != NULL || len == 0, FALSE);

	*result = (FilterVirusResult){ 0 };
	const char *sig = len ? find_signature(msg, len) : NULL;
	if (sig) {
		result->found = TRUE;
		result->signature = sig;
		return TRUE;
	}
	VirusScan scan = { .result = result };
	if (len)
		scan_entity(&scan, msg, len, 0);
	return result->found;
}

/* ======================================================================== */
/* Spam                                                                     */
/* ======================================================================== */

/* Words (and phrases) spam uses and mail between people rarely does.
 * Matched case-insensitively as whole words; written in lower case. */
static const char *const filter_spam_words[] = {
	"viagra", "cialis", "lottery", "winner", "act now", "free money", "bitcoin",
	"click here", "casino", "claim your prize", "million dollars", "risk free",
	"100% free", "urgent reply",
};

/* A value shortened for an explanation line. */
static char *quote_value(const char *value)
{
	if (g_utf8_strlen(value, -1) <= FILTER_EXPLAIN_QUOTE_MAX)
		return g_strdup(value);
	g_autofree char *cut = g_utf8_substring(value, 0, FILTER_EXPLAIN_QUOTE_MAX);
	return g_strconcat(cut, "...", NULL);
}

static gboolean is_word_char(char c)
{
	return g_ascii_isalnum(c);
}

/* What the word scan looks up per octet, made once: a table lookup instead
 * of a call (the body scan runs for every message delivered). */
G_STATIC_ASSERT(G_N_ELEMENTS(filter_spam_words) <= 32);
typedef struct {
	guint8  lower[256];      /* ASCII lower case of each octet; others as they are */
	guint32 by_first[256];   /* bit w: filter_spam_words[w] starts with this octet */
	gsize   len[G_N_ELEMENTS(filter_spam_words)];
} WordTable;

static const WordTable *word_table(void)
{
	static WordTable t;
	static gsize ready = 0;
	if (g_once_init_enter(&ready)) {
		for (guint i = 0; i < 256; i++)
			t.lower[i] = (guint8)g_ascii_tolower((gchar)i);
		for (guint w = 0; w < G_N_ELEMENTS(filter_spam_words); w++) {
			const char *word = filter_spam_words[w];
			t.len[w] = strlen(word);
			for (gsize k = 0; k < t.len[w]; k++)
				g_assert(t.lower[(guint8)word[k]] == (guint8)word[k]);   /* the table is lower case */
			t.by_first[(guint8)word[0]] |= 1u << w;
		}
		g_once_init_leave(&ready, 1);
	}
	return &t;
}

/* Which spam words are in text[0, len) as whole words, ignoring ASCII
 * case: bit w for filter_spam_words[w].  One pass over the text; where a
 * word may start, only the words with that first letter are compared. */
static guint32 spam_words_found(const char *text, gsize len)
{
	const WordTable *tb = word_table();
	const guint8 *t = (const guint8 *)text;
	guint32 found = 0;
	for (gsize i = 0; i < len; i++) {
		guint32 cand = tb->by_first[tb->lower[t[i]]] & ~found;
		if (!cand || (i > 0 && is_word_char((char)t[i - 1])))
			continue;
		for (; cand; cand &= cand - 1) {
			guint w = (guint)__builtin_ctz(cand);
			const guint8 *word = (const guint8 *)filter_spam_words[w];
			gsize n = tb->len[w];
			if (i + n > len || (i + n < len && is_word_char((char)t[i + n])))
				continue;
			gsize k = 1;
			while (k < n && tb->lower[t[i + k]] == word[k])
				k++;
			if (k == n)
				found |= 1u << w;
		}
	}
	return found;
}

/* "where contains "lottery", "winner"", or NULL if no spam word is there. */
static char *spam_words_in(const char *where, const char *text, gsize len)
{
	guint32 found = spam_words_found(text, len);
	if (!found)
		return NULL;
	GString *out = g_string_new(where);
	guint n = 0;
	for (gsize i = 0; i < G_N_ELEMENTS(filter_spam_words); i++) {
		if (!(found & (1u << i)))
			continue;
		if (n++ < FILTER_EXPLAIN_MAX_WORDS)
			g_string_append_printf(out, "%s \"%s\"", n > 1 ? "," : " contains", filter_spam_words[i]);
	}
	if (n > FILTER_EXPLAIN_MAX_WORDS)
		g_string_append(out, ", ...");
	return g_string_free(out, FALSE);
}

static char *rule_rbl(const FilterMail *mail)
{
	const char *listed = mail_header(mail, "x-mailsim-rbl");
	if (!listed)
		return NULL;
	g_autofree char *q = quote_value(listed);
	return g_strdup_printf("the MTA found the sending client on a DNS blacklist: %s", q);
}

static char *rule_missing_date(const FilterMail *mail)
{
	const char *date = mail_header(mail, "date");
	return date && *date ? NULL : g_strdup("the message has no Date: field");
}

static char *rule_missing_mid(const FilterMail *mail)
{
	const char *mid = mail_header(mail, "message-id");
	return mid && *mid ? NULL : g_strdup("the message has no Message-ID: field");
}

static char *rule_subject_caps(const FilterMail *mail)
{
	const char *subject = mail_header(mail, "subject");
	if (!subject)
		return NULL;
	guint letters = 0;
	for (const char *c = subject; *c; c = g_utf8_next_char(c)) {
		gunichar u = g_utf8_get_char(c);
		if (g_unichar_islower(u))
			return NULL;
		if (g_unichar_isalpha(u))
			letters++;
	}
	if (letters < FILTER_SPAM_CAPS_MIN_LETTERS)
		return NULL;
	g_autofree char *q = quote_value(subject);
	return g_strdup_printf("the Subject is all capitals: \"%s\"", q);
}

static char *rule_subject_words(const FilterMail *mail)
{
	const char *subject = mail_header(mail, "subject");
	return subject ? spam_words_in("the Subject", subject, strlen(subject)) : NULL;
}

static char *rule_body_words(const FilterMail *mail)
{
	return spam_words_in("the body", mail->body, MIN(mail->body_len, FILTER_SPAM_MAX_BODY_SCAN));
}

static char *rule_subject_bangs(const FilterMail *mail)
{
	const char *subject = mail_header(mail, "subject");
	guint bangs = 0;
	for (const char *c = subject; c && *c; c++)
		bangs += *c == '!';
	if (bangs < FILTER_SPAM_MIN_BANGS)
		return NULL;
	return g_strdup_printf("the Subject has %u exclamation marks", bangs);
}

static gboolean is_address_char(char c)
{
	return g_ascii_isalnum(c) || (c && strchr("._%+-", c));
}

/* A display name that shows one address while the mail comes from another:
 * "service@bank.example" <thief@evil.example>. */
static char *rule_from_mismatch(const FilterMail *mail)
{
	const char *from = mail_header(mail, "from");
	const char *lt = from ? strrchr(from, '<') : NULL;
	const char *gt = lt ? strchr(lt, '>') : NULL;
	if (!gt)
		return NULL;
	g_autofree char *real = g_strndup(lt + 1, (gsize)(gt - lt - 1));
	const char *name_end = lt;
	for (const char *at = from; (at = memchr(at, '@', (gsize)(name_end - at))) != NULL; at++) {
		const char *s = at, *e = at + 1;
		while (s > from && is_address_char(s[-1]))
			s--;
		while (e < name_end && is_address_char(*e))
			e++;
		if (s == at || e == at + 1 || !memchr(at, '.', (gsize)(e - at)))
			continue;  /* not an address, just an '@' */
		g_autofree char *shown = g_strndup(s, (gsize)(e - s));
		if (g_ascii_strcasecmp(g_strstrip(real), shown) != 0) {
			g_autofree char *qr = quote_value(real);
			return g_strdup_printf("the From name shows %s but the mail is from %s",
			                       shown, qr);
		}
	}
	return NULL;
}

static char *rule_empty_body(const FilterMail *mail)
{
	for (gsize i = 0; i < mail->body_len; i++)
		if (!g_ascii_isspace(mail->body[i]))
			return NULL;
	return g_strdup("the message has no text in its body");
}

static const FilterSpamRule filter_spam_rule_table[] = {
	{ "RCVD_IN_RBL",        5.0, "the MTA found the client on a DNS blacklist", rule_rbl },
	{ "MISSING_DATE",       1.0, "no Date: field", rule_missing_date },
	{ "MISSING_MID",        0.5, "no Message-ID: field", rule_missing_mid },
	{ "SUBJ_ALL_CAPS",      1.5, "the Subject is written in capitals", rule_subject_caps },
	{ "SUBJ_SPAM_WORDS",    2.0, "the Subject uses words typical of spam", rule_subject_words },
	{ "BODY_SPAM_WORDS",    1.5, "the body uses words typical of spam", rule_body_words },
	{ "SUBJ_EXCLAMATIONS",  1.0, "the Subject shouts with many '!'", rule_subject_bangs },
	{ "FROM_NAME_MISMATCH", 2.0, "the From name shows another address than the real one",
	  rule_from_mismatch },
	{ "EMPTY_BODY",         1.0, "the body is empty", rule_empty_body },
};

const FilterSpamRule *filter_spam_rules(gsize *n_rules_r)
{
	if (n_rules_r)
		*n_rules_r = G_N_ELEMENTS(filter_spam_rule_table);
	return filter_spam_rule_table;
}

static void filter_spam_hit_free(FilterSpamHit *hit)
{
	g_free(hit->explanation);
	g_free(hit);
}

void filter_spam_report_free(FilterSpamReport *report)
{
	if (!report)
		return;
	g_clear_pointer(&report->hits, g_ptr_array_unref);
	g_free(report->score_header);
	g_free(report->status_header);
	g_free(report);
}

static gint64 to_tenths(double x)
{
	return x >= 0 ? (gint64)(x * 10 + 0.5) : -(gint64)(-x * 10 + 0.5);
}

FilterSpamReport *filter_spam_score(const char *msg, gsize len, double threshold)
{
	g_return_val_if_fail(msg != NULL || len == 0, NULL);

	FilterMail mail;
	mail_parse(&mail, msg ? msg : "", len);

	FilterSpamReport *report = g_new0(FilterSpamReport, 1);
	report->hits = g_ptr_array_new_with_free_func((GDestroyNotify)filter_spam_hit_free);
	report->threshold = threshold;
	/* add in tenths so that 0.1 + 0.2 is 0.3 and the comparison is exact */
	gint64 tenths = 0;
	g_autoptr(GString) tests = g_string_new(NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(filter_spam_rule_table); i++) {
		const FilterSpamRule *rule = &filter_spam_rule_table[i];
		char *why = rule->check(&mail);
		if (!why)
			continue;
		FilterSpamHit *hit = g_new0(FilterSpamHit, 1);
		hit->rule = rule;
		hit->explanation = why;
		g_ptr_array_add(report->hits, hit);
		tenths += to_tenths(rule->score);
		g_string_append_printf(tests, "%s%s", tests->len ? "," : "", rule->name);
	}
	mail_clear(&mail);

	report->score = (double)tenths / 10.0;
	report->is_spam = tenths >= to_tenths(threshold);

	char score[G_ASCII_DTOSTR_BUF_SIZE], required[G_ASCII_DTOSTR_BUF_SIZE];
	g_ascii_formatd(score, sizeof score, "%.1f", report->score);
	g_ascii_formatd(required, sizeof required, "%.1f", threshold);
	report->score_header = g_strdup_printf("X-Spam-Score: %s", score);
	report->status_header = g_strdup_printf("X-Spam-Status: %s, score=%s required=%s tests=%s",
	                                        report->is_spam ? "Yes" : "No", score, required,
	                                        tests->len ? tests->str : "none");
	return report;
}
