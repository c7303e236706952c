/* sim/scenario_lex.c - reads a scenario file line by line into statements.
 *
 * A statement is one line of words, "quoted strings" (with \" and \\) and
 * commas; "#" starting a word begins a comment.  A line ending in "<<" takes
 * the lines after it, verbatim, up to a line holding only ">>".  After
 * "on HOST:", indented lines are settings, handed over as raw text.
 */
#include <string.h>

#include "sim/scenario_internal.h"

typedef struct {
	const char *text;
	gsize       len;
	gsize       pos;
	guint       line;   /* of the line last returned */
} LineReader;

/* The next line, without its "\n" or "\r\n"; FALSE at the end of the text. */
static gboolean next_line(LineReader *lr, const char **line_r, gsize *len_r)
{
	if (lr->pos >= lr->len)
		return FALSE;
	const char *start = lr->text + lr->pos;
	const char *nl = memchr(start, '\n', lr->len - lr->pos);
	gsize len = nl ? (gsize)(nl - start) : lr->len - lr->pos;
	lr->pos += len + (nl ? 1 : 0);
	if (len > 0 && start[len - 1] == '\r')
		len--;
	lr->line++;
	*line_r = start;
	*len_r = len;
	return TRUE;
}

/* Column of byte offset off in a line that is valid UTF-8. */
static guint column_at(const char *line, gsize off)
{
	return (guint)g_utf8_strlen(line, (gssize)off) + 1;
}

/* Bounded, without NUL bytes, valid UTF-8: else reported, and FALSE. */
static gboolean line_usable(ScnParser *p, guint n, const char *line, gsize len)
{
	if (len > SCENARIO_MAX_LINE_LENGTH) {
		scenario_report(p, SCENARIO_ERROR_LIMIT, n, 1, "the line is %" G_GSIZE_FORMAT
		                " bytes long, more than the %d a line may hold", len, SCENARIO_MAX_LINE_LENGTH);
		scenario_hint(p, "a long value may go on several lines (a setting continues on deeper-indented "
		                 "lines; a body can be a << block)");
		return FALSE;
	}
	const char *end;
	if (!g_utf8_validate_len(line, len, &end)) {
		gsize off = (gsize)(end - line);
		if (*end == '\0')
			scenario_report(p, SCENARIO_ERROR_SYNTAX, n, column_at(line, off), "expected text, got a NUL byte");
		else
			scenario_report(p, SCENARIO_ERROR_SYNTAX, n, column_at(line, off),
			                "expected UTF-8 text, got the byte 0x%02x", (guchar)*end);
		scenario_hint(p, "save the file as UTF-8 text");
		return FALSE;
	}
	return TRUE;
}

static gsize indentation(const char *line, gsize len)
{
	gsize i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i;
}

static void statement_clear(ScnStatement *st)
{
	for (guint i = 0; i < st->n_tokens; i++)
		g_free(st->tokens[i].text);
	g_free(st->tokens);
	st->tokens = NULL;
	st->n_tokens = 0;
}

/* Reads a "quoted string" starting at line[*i]; FALSE (reported) if bad. */
static gboolean read_string(ScnParser *p, guint n, const char *line, gsize len, gsize *i, ScnToken *tok)
{
	GString *value = g_string_new(NULL);
	gsize open = *i;
	gsize j = open + 1;
	for (;;) {
		if (j >= len) {
			scenario_report(p, SCENARIO_ERROR_SYNTAX, n, column_at(line, j),
			                "expected a closing \" for the string opened at column %u, got the end of the line",
			                column_at(line, open));
			scenario_hint(p, "a string ends on its own line; several lines go in a << block");
			g_string_free(value, TRUE);
			return FALSE;
		}
		if (line[j] == '"')
			break;
		if (line[j] == '\\') {
			if (j + 1 < len && (line[j + 1] == '"' || line[j + 1] == '\\')) {
				g_string_append_c(value, line[j + 1]);
				j += 2;
				continue;
			}
			scenario_report(p, SCENARIO_ERROR_SYNTAX, n, column_at(line, j),
			                "expected \\\" or \\\\ after a backslash in a string, got \\%.*s",
			                j + 1 < len ? (int)(g_utf8_next_char(line + j + 1) - (line + j + 1)) : 0,
			                line + j + 1);
			scenario_hint(p, "a string knows only \\\" (a quote) and \\\\ (a backslash); "
			                 "write several lines in a << block");
			g_string_free(value, TRUE);
			return FALSE;
		}
		g_string_append_c(value, line[j]);
		j++;
	}
	tok->kind = SCN_TOKEN_STRING;
	tok->text = g_string_free(value, FALSE);
	*i = j + 1;
	return TRUE;
}

/* Cuts one line into tokens; FALSE (reported) if it cannot. */
static gboolean tokenize(ScnParser *p, guint n, const char *line, gsize len, ScnStatement *st)
{
	GArray *tokens = g_array_new(FALSE, TRUE, sizeof(ScnToken));
	gsize i = 0;
	gboolean ok = TRUE;
	while (ok && i < len) {
		char c = line[i];
		if (c == ' ' || c == '\t') {
			i++;
			continue;
		}
		if (c == '#')
			break;  /* a comment, to the end of the line */
		if (tokens->len == SCENARIO_MAX_TOKENS) {
			scenario_report(p, SCENARIO_ERROR_LIMIT, n, column_at(line, i),
			                "the statement has more than %d words", SCENARIO_MAX_TOKENS);
			ok = FALSE;
			break;
		}
		ScnToken tok = { .kind = SCN_TOKEN_WORD, .line = n, .column = column_at(line, i), .start = i };
		if (c == ',') {
			tok.kind = SCN_TOKEN_COMMA;
			tok.text = g_strdup(",");
			i++;
		} else if (c == '"') {
			ok = read_string(p, n, line, len, &i, &tok);
		} else {
			while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != ',' && line[i] != '"')
				i++;
			tok.text = g_strndup(line + tok.start, i - tok.start);
		}
		tok.end = i;
		if (ok)
			g_array_append_val(tokens, tok);
	}
	st->line = n;
	st->source = line;
	st->source_len = len;
	st->n_tokens = tokens->len;
	st->end_column = tokens->len > 0
		? column_at(line, g_array_index(tokens, ScnToken, tokens->len - 1).end)
		: (guint)indentation(line, len) + 1;
	st->tokens = (ScnToken *)(void *)g_array_free(tokens, FALSE);
	if (!ok)
		statement_clear(st);
	return ok;
}

/* Reads the lines of a << block into tok, up to a line of ">>" alone. */
static gboolean read_heredoc(ScnParser *p, LineReader *lr, ScnToken *tok)
{
	GString *text = g_string_new(NULL);
	gboolean ok = TRUE, too_big = FALSE;
	const char *line;
	gsize len;
	tok->text_line = lr->line + 1;
	while (next_line(lr, &line, &len)) {
		gsize start = indentation(line, len), end = len;
		while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t'))
			end--;
		if (end - start == 2 && strncmp(line + start, ">>", 2) == 0) {
			g_free(tok->text);
			tok->kind = SCN_TOKEN_HEREDOC;
			tok->text = g_string_free(text, FALSE);
			return ok;
		}
		if (!line_usable(p, lr->line, line, len)) {
			ok = FALSE;
			continue;
		}
		if (text->len + len + 1 > SCENARIO_MAX_HEREDOC_SIZE) {
			if (!too_big)
				scenario_report(p, SCENARIO_ERROR_LIMIT, tok->line, tok->column,
				                "the block holds more than %d bytes", SCENARIO_MAX_HEREDOC_SIZE);
			too_big = TRUE;
			ok = FALSE;
			continue;
		}
		g_string_append_len(text, line, (gssize)len);
		g_string_append_c(text, '\n');
	}
	scenario_report(p, SCENARIO_ERROR_SYNTAX, tok->line, tok->column,
	                "expected >> alone on a line to end this block, got the end of the file");
	scenario_hint(p, "every << block ends with a line holding only >>");
	g_string_free(text, TRUE);
	return FALSE;
}

/* "<<" ends a line or is a mistake; TRUE when the statement has a block to read. */
static gboolean heredoc_wanted(ScnParser *p, const ScnStatement *st, gboolean *ok_r)
{
	*ok_r = TRUE;
	for (guint i = 0; i < st->n_tokens; i++) {
		const ScnToken *tok = &st->tokens[i];
		if (tok->kind != SCN_TOKEN_WORD || !g_str_has_prefix(tok->text, "<<"))
			continue;
		if (strcmp(tok->text, "<<") == 0 && i + 1 == st->n_tokens)
			return TRUE;
		*ok_r = FALSE;
		if (strcmp(tok->text, "<<") == 0) {
			scenario_report_expected(p, st, i + 1, "the end of the line after <<");
			scenario_hint(p, "a block starts on the line after << and ends with >> alone on a line");
		} else {
			scenario_report_expected(p, st, i, "<< alone, at the end of the line");
			scenario_hint(p, "a block needs no name: write << and end it with >> alone on a line");
		}
		return FALSE;
	}
	return FALSE;
}

char *scenario_lex_source_from(const ScnStatement *st, guint i)
{
	if (i >= st->n_tokens)
		return g_strdup("");
	gsize start = st->tokens[i].start, end = st->tokens[st->n_tokens - 1].end;
	return g_strndup(st->source + start, end - start);
}

void scenario_lex_read(ScnParser *p, const char *text, gsize len)
{
	LineReader lr = { .text = text, .len = len };
	const char *line;
	gsize line_len;
	while (!p->stopped && next_line(&lr, &line, &line_len)) {
		guint n = lr.line;
		if (!line_usable(p, n, line, line_len))
			continue;
		gsize indent = indentation(line, line_len);
		gboolean blank = indent == line_len || line[indent] == '#';
		if (blank)
			continue;
		if (++p->statements > SCENARIO_MAX_STATEMENTS) {
			scenario_report(p, SCENARIO_ERROR_LIMIT, n, 1,
			                "the file holds more than %d statements", SCENARIO_MAX_STATEMENTS);
			return;
		}

		/* Postfix's rule for main.cf: a line that starts with white space
		 * continues; here it continues the "on HOST:" block. */
		if (p->block_host != NULL) {
			if (indent > 0) {
				scenario_world_setting(p, n, (guint)indent, line + indent, line_len - indent);
				continue;
			}
			g_clear_pointer(&p->block_host, g_free);
			p->block_setting = NULL;
		}

		ScnStatement st = { 0 };
		if (!tokenize(p, n, line, line_len, &st))
			continue;
		gboolean ok;
		if (heredoc_wanted(p, &st, &ok))
			ok = read_heredoc(p, &lr, &st.tokens[st.n_tokens - 1]);
		if (ok && st.n_tokens > 0)
			scenario_world_statement(p, &st);
		statement_clear(&st);
	}
}

char *scenario_lex_dedent(const char *text)
{
	/* The margin: the least indentation of a line that holds something. */
	gsize margin = G_MAXSIZE;
	for (const char *s = text; *s != '\0';) {
		const char *nl = strchr(s, '\n');
		gsize len = nl ? (gsize)(nl - s) : strlen(s);
		gsize indent = indentation(s, len);
		if (indent < len && indent < margin)
			margin = indent;
		s += len + (nl ? 1 : 0);
	}
	GString *out = g_string_new(NULL);
	for (const char *s = text; *s != '\0';) {
		const char *nl = strchr(s, '\n');
		gsize len = nl ? (gsize)(nl - s) : strlen(s);
		gsize indent = indentation(s, len);
		if (indent < len)
			g_string_append_len(out, s + margin, (gssize)(len - margin));
		if (nl != NULL)
			g_string_append_c(out, '\n');
		s += len + (nl ? 1 : 0);
	}
	return g_string_free(out, FALSE);
}
