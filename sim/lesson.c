/* sim/lesson.c - the lesson file parser, the catalogue of lessons and the
 * language a student gets.
 *
 * The format (docs/LESSONS.md) is line-based: an entry starts at the left
 * margin ("step in.3: ..."), indented lines continue it, a blank line
 * between them starts a new paragraph.  One pass, one line at a time, every
 * line and text bounded; the first mistake stops the parse with FILE:LINE.
 */
#include "sim/lesson.h"
#include "sim/builtin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK(lesson-error-quark, lesson_error)

#define QUOTE_MAX_CHARS 40   /* how much of a bad word an error repeats */
#define SCENARIO_NAME_MAX 64

const char *lesson_error_code_to_string(LessonErrorCode code)
{
	switch (code) {
	case LESSON_ERROR_SYNTAX: return "syntax";
	case LESSON_ERROR_TOO_BIG: return "too-big";
	case LESSON_ERROR_CATALOGUE: return "catalogue";
	}
	return "unknown";
}

/* ---- course steps ------------------------------------------------------ */

/* COURSE.md's tables (and docs/COURSE-STEPS.md for retr.*): each family
 * and how many steps it numbers. */
static const struct {
	const char *family;
	guint       count;
} course_families[] = {
	{ "setup", 7 },
	{ "out", 5 },
	{ "in", 8 },
	{ "retr", 6 },
};

gboolean lesson_step_is_course_step(const char *step)
{
	if (!step)
		return FALSE;
	const char *dot = strchr(step, '.');
	if (!dot || dot[1] < '1' || dot[1] > '9')
		return FALSE;
	for (const char *p = dot + 1; *p; p++)
		if (!g_ascii_isdigit(*p) || p - dot > 2)
			return FALSE;
	guint n = (guint)atoi(dot + 1);
	for (guint i = 0; i < G_N_ELEMENTS(course_families); i++)
		if (strlen(course_families[i].family) == (gsize)(dot - step) &&
		    strncmp(step, course_families[i].family, (gsize)(dot - step)) == 0)
			return n >= 1 && n <= course_families[i].count;
	return FALSE;
}

/* ---- languages --------------------------------------------------------- */

static const struct {
	const char *code;
	const char *name;
	const char *words[LESSON_WORD_COUNT];
} languages[] = {
	{ "en", "English", { "Lessons", "Lesson", "Part", "of", "scenario", "Quiz", "Answer", ":",
	           "Press Enter to begin" } },
	{ "fr", "français", { "Leçons", "Leçon", "Partie", "sur", "scénario", "Quiz", "Réponse", "\u00a0:",
	           "Appuyez sur Entrée pour commencer" } },
	{ "de", "Deutsch", { "Lektionen", "Lektion", "Teil", "von", "Szenario", "Quiz", "Antwort", ":",
	           "Eingabetaste drücken, um zu beginnen" } },
};

const char *const *lesson_languages(void)
{
	static const char *codes[G_N_ELEMENTS(languages) + 1];
	for (guint i = 0; i < G_N_ELEMENTS(languages); i++)
		codes[i] = languages[i].code;
	return codes;
}

static gint language_index(const char *lang)
{
	for (guint i = 0; lang && i < G_N_ELEMENTS(languages); i++)
		if (strcmp(languages[i].code, lang) == 0)
			return (gint)i;
	return -1;
}

const char *lesson_language_name(const char *lang)
{
	gint i = language_index(lang);
	return i < 0 ? NULL : languages[i].name;
}

const char *lesson_word_to_string(LessonWord word)
{
	static const char *names[LESSON_WORD_COUNT] = {
		"lessons", "lesson", "part", "of", "scenario", "quiz", "answer", "colon", "enter",
	};
	return (guint)word < LESSON_WORD_COUNT ? names[word] : "unknown";
}

const char *lesson_word(const char *lang, LessonWord word)
{
	g_return_val_if_fail((guint)word < LESSON_WORD_COUNT, "");
	gint i = language_index(lang);
	return languages[i < 0 ? 0 : i].words[word];
}

const char *lesson_language_from_locale(const char *lc_all, const char *lc_messages, const char *lang)
{
	/* POSIX: LC_ALL overrides LC_MESSAGES, which overrides LANG; the
	 * first one set decides, even when it says "C". */
	const char *locale = NULL;
	const char *const order[] = { lc_all, lc_messages, lang };
	for (guint i = 0; i < G_N_ELEMENTS(order) && !locale; i++)
		if (order[i] && *order[i])
			locale = order[i];
	if (!locale)
		return languages[0].code;
	/* language[_TERRITORY][.codeset][@modifier] */
	gsize n = strcspn(locale, "_.@");
	for (guint i = 0; i < G_N_ELEMENTS(languages); i++)
		if (strlen(languages[i].code) == n && g_ascii_strncasecmp(locale, languages[i].code, n) == 0)
			return languages[i].code;
	return languages[0].code;
}

const char *lesson_language_from_env(void)
{
	return lesson_language_from_locale(g_getenv("LC_ALL"), g_getenv("LC_MESSAGES"), g_getenv("LANG"));
}

/* ---- the parser -------------------------------------------------------- */

typedef enum {
	ENTRY_NONE,
	ENTRY_ID,
	ENTRY_NUMBER,
	ENTRY_TITLE,
	ENTRY_LANGUAGE,
	ENTRY_INTRO,
	ENTRY_SCENARIO,
	ENTRY_STEP,
	ENTRY_QUIZ,
	ENTRY_COUNT
} EntryKind;

/* The entries a line at the left margin may start: "WORD[ ARG]: text". */
static const struct {
	const char *word;
	EntryKind   kind;
	gboolean    takes_arg;     /* "step in.3:" */
	gboolean    header;        /* before the first "scenario:", once each */
	gboolean    continues;     /* indented lines may follow */
} entry_table[] = {
	{ "id", ENTRY_ID, FALSE, TRUE, FALSE },
	{ "number", ENTRY_NUMBER, FALSE, TRUE, FALSE },
	{ "title", ENTRY_TITLE, FALSE, TRUE, FALSE },
	{ "language", ENTRY_LANGUAGE, FALSE, TRUE, FALSE },
	{ "intro", ENTRY_INTRO, FALSE, TRUE, TRUE },
	{ "scenario", ENTRY_SCENARIO, FALSE, FALSE, TRUE },
	{ "step", ENTRY_STEP, TRUE, FALSE, TRUE },
	{ "quiz", ENTRY_QUIZ, FALSE, FALSE, TRUE },
};

/* Where the indented lines of a quiz go. */
typedef enum { QUIZ_IN_QUESTION, QUIZ_IN_CHOICE, QUIZ_IN_ANSWER, QUIZ_IN_WHY } QuizSlot;

typedef struct {
	const char *file;
	Lesson     *lesson;
	GError     *error;
	guint       line;
	/* the entry being read */
	EntryKind   kind;
	guint       entry_line;
	GString    *text;           /* its text so far */
	gboolean    paragraph;      /* a blank line came since the last text */
	guint       header_line[ENTRY_COUNT];   /* where each header entry was, 0: not yet */
	/* the quiz question being read */
	LessonQuestion *question;
	QuizSlot    slot;
	GString    *slot_text;
	gboolean    has_answer;
} Parser;

static gboolean fail(Parser *p, guint line, LessonErrorCode code, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static gboolean fail(Parser *p, guint line, LessonErrorCode code, const char *fmt, ...)
{
	if (p->error)
		return FALSE;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	p->error = g_error_new(LESSON_ERROR, code, "%s:%u: %s", p->file, line, msg);
	return FALSE;
}


/* A word of the file for an error: quoted, cut at QUOTE_MAX_CHARS, control
 * characters shown as '?'.  s is valid UTF-8 (every line is checked first). */
static char *quote(const char *s)
{
	GString *out = g_string_new("\"");
	const char *c = s;
	for (guint i = 0; *c && i < QUOTE_MAX_CHARS; c = g_utf8_next_char(c), i++) {
		gunichar u = g_utf8_get_char(c);
		if (u < 0x20 || u == 0x7f)
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, u);
	}
	g_string_append(out, *c ? "\"…" : "\"");
	return g_string_free(out, FALSE);
}

/* Add one line's words to a text: lines join with a space, a blank line
 * between them starts a paragraph ('\n'). */
static gboolean text_add(Parser *p, GString *text, const char *s, const char *what)
{
	if (!*s)
		return TRUE;
	if (text->len)
		g_string_append_c(text, p->paragraph ? '\n' : ' ');
	p->paragraph = FALSE;
	g_string_append(text, s);
	if (text->len > LESSON_MAX_TEXT_BYTES)
		return fail(p, p->line, LESSON_ERROR_TOO_BIG, "%s is longer than %d bytes", what, LESSON_MAX_TEXT_BYTES);
	return TRUE;
}

static gboolean is_slug(const char *s)
{
	gsize n = strlen(s);
	if (n == 0 || n > LESSON_MAX_ID_BYTES || s[0] == '-')
		return FALSE;
	for (; *s; s++)
		if (!g_ascii_islower(*s) && !g_ascii_isdigit(*s) && *s != '-')
			return FALSE;
	return TRUE;
}

/* "en", "fr", "de": two or three lowercase letters (also keeps a catalogue
 * path from leaving its directory). */
static gboolean is_language_code(const char *s)
{
	gsize n = strlen(s);
	if (n < 2 || n > 3)
		return FALSE;
	for (; *s; s++)
		if (!g_ascii_islower(*s))
			return FALSE;
	return TRUE;
}

/* A file of scenarios/: a plain name, no directory, ending in .scn. */
static gboolean is_scenario_name(const char *s)
{
	gsize n = strlen(s);
	if (n <= strlen(".scn") || n > SCENARIO_NAME_MAX || s[0] == '.' || !g_str_has_suffix(s, ".scn"))
		return FALSE;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && *s != '-' && *s != '_' && *s != '.')
			return FALSE;
	return TRUE;
}

/* 1..LESSON_MAX_NUMBER, digits only, no leading zero. */
static gboolean parse_number(const char *s, guint *out)
{
	gsize n = strlen(s);
	if (n == 0 || n > 2 || s[0] == '0')
		return FALSE;
	for (const char *c = s; *c; c++)
		if (!g_ascii_isdigit(*c))
			return FALSE;
	*out = (guint)atoi(s);
	return *out >= 1 && *out <= LESSON_MAX_NUMBER;
}

static void part_free(gpointer data)
{
	LessonPart *part = data;
	g_free(part->scenario);
	g_free(part->intro);
	g_free(part);
}

static void step_free(gpointer data)
{
	LessonStep *step = data;
	g_free(step->step);
	g_free(step->narration);
	g_free(step);
}

static void question_free(gpointer data)
{
	LessonQuestion *q = data;
	if (!q)
		return;
	g_free(q->question);
	g_ptr_array_unref(q->choices);
	g_free(q->why);
	g_free(q);
}

static Lesson *lesson_new(const char *source)
{
	Lesson *lesson = g_new0(Lesson, 1);
	lesson->parts = g_ptr_array_new_with_free_func(part_free);
	lesson->steps = g_ptr_array_new_with_free_func(step_free);
	lesson->quiz = g_ptr_array_new_with_free_func(question_free);
	lesson->source = g_strdup(source);
	return lesson;
}

void lesson_free(Lesson *lesson)
{
	if (!lesson)
		return;
	g_free(lesson->id);
	g_free(lesson->title);
	g_free(lesson->language);
	g_free(lesson->intro);
	g_ptr_array_unref(lesson->parts);
	g_ptr_array_unref(lesson->steps);
	g_ptr_array_unref(lesson->quiz);
	g_free(lesson->source);
	g_free(lesson);
}

static const char *entry_word(EntryKind kind)
{
	for (guint i = 0; i < G_N_ELEMENTS(entry_table); i++)
		if (entry_table[i].kind == kind)
			return entry_table[i].word;
	return "?";
}

static gboolean entry_continues(EntryKind kind)
{
	for (guint i = 0; i < G_N_ELEMENTS(entry_table); i++)
		if (entry_table[i].kind == kind)
			return entry_table[i].continues;
	return FALSE;
}

/* ---- the quiz ---- */

/* The quiz item being read (the question, a choice, the why) is complete. */
static void quiz_slot_end(Parser *p)
{
	LessonQuestion *q = p->question;
	char *text = g_string_free(p->slot_text, FALSE);
	p->slot_text = g_string_new(NULL);
	switch (p->slot) {
	case QUIZ_IN_QUESTION:
		g_free(q->question);
		q->question = text;
		return;
	case QUIZ_IN_CHOICE:
		g_ptr_array_add(q->choices, text);
		return;
	case QUIZ_IN_WHY:
		g_free(q->why);
		q->why = text;
		return;
	case QUIZ_IN_ANSWER:
		break;
	}
	g_free(text);
}

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* An indented line under "quiz:": "a) a choice", "answer: b", "why: ...",
 * or more words for the item above it. */
static gboolean quiz_line(Parser *p, const char *s)
{
	LessonQuestion *q = p->question;
	guint n_choices = q->choices->len + (p->slot == QUIZ_IN_CHOICE ? 1 : 0);
	p->paragraph = FALSE;   /* quiz items are one paragraph each */

	if (g_ascii_islower(s[0]) && s[1] == ')' && (s[2] == ' ' || s[2] == '\t' || s[2] == '\0')) {
		char want = (char)('a' + n_choices);
		if (p->has_answer || q->why || p->slot == QUIZ_IN_WHY)
			return fail(p, p->line, LESSON_ERROR_SYNTAX,
			            "expected the choices before \"answer:\" and \"why:\", got \"%c)\"", s[0]);
		if (n_choices >= LESSON_MAX_CHOICES)
			return fail(p, p->line, LESSON_ERROR_TOO_BIG, "expected at most %d choices (a to %c), got \"%c)\"",
			            LESSON_MAX_CHOICES, 'a' + LESSON_MAX_CHOICES - 1, s[0]);
		if (s[0] != want)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected the choice \"%c)\" next, got \"%c)\"", want, s[0]);
		quiz_slot_end(p);
		p->slot = QUIZ_IN_CHOICE;
		const char *t = skip_blanks(s + 2);
		if (!*t)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected the text of choice \"%c)\"", s[0]);
		return text_add(p, p->slot_text, t, "a choice");
	}
	if (g_str_has_prefix(s, "answer:")) {
		if (p->has_answer)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected one \"answer:\" per question, got a second one");
		if (n_choices < LESSON_MIN_CHOICES)
			return fail(p, p->line, LESSON_ERROR_SYNTAX,
			            "expected at least %d choices a), b) before \"answer:\"", LESSON_MIN_CHOICES);
		quiz_slot_end(p);
		p->slot = QUIZ_IN_ANSWER;
		const char *t = skip_blanks(s + strlen("answer:"));
		/* "b" or "b)" */
		gboolean ok = t[0] >= 'a' && t[0] < (char)('a' + n_choices) &&
		              (t[1] == '\0' || (t[1] == ')' && t[2] == '\0'));
		if (!ok) {
			g_autofree char *got = quote(t);
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected \"answer:\" and one of the letters a to %c, got %s",
			            'a' + n_choices - 1, got);
		}
		q->answer = (guint)(t[0] - 'a');
		p->has_answer = TRUE;
		return TRUE;
	}
	if (g_str_has_prefix(s, "why:")) {
		if (q->why || p->slot == QUIZ_IN_WHY)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected one \"why:\" per question, got a second one");
		if (n_choices < LESSON_MIN_CHOICES)
			return fail(p, p->line, LESSON_ERROR_SYNTAX,
			            "expected at least %d choices a), b) before \"why:\"", LESSON_MIN_CHOICES);
		quiz_slot_end(p);
		p->slot = QUIZ_IN_WHY;
		const char *t = skip_blanks(s + strlen("why:"));
		return text_add(p, p->slot_text, t, "the explanation");
	}
	if (p->slot == QUIZ_IN_ANSWER) {
		g_autofree char *got = quote(s);
		return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected \"why:\" or the next entry after \"answer:\", got %s", got);
	}
	return text_add(p, p->slot_text, s,
	                p->slot == QUIZ_IN_QUESTION ? "the question" : p->slot == QUIZ_IN_CHOICE ? "a choice" : "the explanation");
}

/* ---- entries ---- */

static LessonPart *last_part(Parser *p)
{
	GPtrArray *parts = p->lesson->parts;
	return parts->len ? g_ptr_array_index(parts, parts->len - 1) : NULL;
}

/* A part must narrate something: checked when the next part or the quiz
 * begins, and at the end. */
static gboolean part_check(Parser *p)
{
	LessonPart *part = last_part(p);
	if (!part)
		return TRUE;
	guint index = p->lesson->parts->len - 1;
	if (lesson_part_step_count(p->lesson, index) == 0)
		return fail(p, part->line, LESSON_ERROR_SYNTAX,
		            "expected at least one \"step\" after \"scenario: %s\"", part->scenario);
	return TRUE;
}

/* The entry being read is complete: store its text. */
static gboolean entry_end(Parser *p)
{
	EntryKind kind = p->kind;
	p->kind = ENTRY_NONE;
	p->paragraph = FALSE;
	g_autofree char *text = g_string_free(p->text, FALSE);
	p->text = g_string_new(NULL);
	switch (kind) {
	case ENTRY_INTRO:
		if (!*text)
			return fail(p, p->entry_line, LESSON_ERROR_SYNTAX, "expected the introduction's text after \"intro:\"");
		p->lesson->intro = g_steal_pointer(&text);
		return TRUE;
	case ENTRY_SCENARIO:
		if (*text)
			last_part(p)->intro = g_steal_pointer(&text);
		return TRUE;
	case ENTRY_STEP: {
		LessonStep *step = g_ptr_array_index(p->lesson->steps, p->lesson->steps->len - 1);
		if (!*text)
			return fail(p, p->entry_line, LESSON_ERROR_SYNTAX, "expected the narration of step %s", step->step);
		step->narration = g_steal_pointer(&text);
		return TRUE;
	}
	case ENTRY_QUIZ: {
		quiz_slot_end(p);
		LessonQuestion *q = g_steal_pointer(&p->question);
		g_ptr_array_add(p->lesson->quiz, q);
		if (!q->question || !*q->question)
			return fail(p, p->entry_line, LESSON_ERROR_SYNTAX, "expected the question after \"quiz:\"");
		if (q->choices->len < LESSON_MIN_CHOICES)
			return fail(p, p->entry_line, LESSON_ERROR_SYNTAX,
			            "expected at least %d choices a), b) under the question", LESSON_MIN_CHOICES);
		if (!p->has_answer)
			return fail(p, p->entry_line, LESSON_ERROR_SYNTAX, "expected \"answer:\" and the right choice's letter under the question");
		if (!q->why || !*q->why)
			return fail(p, p->entry_line, LESSON_ERROR_SYNTAX, "expected \"why:\" and a line saying why that answer is right");
		return TRUE;
	}
	default:
		return TRUE;
	}
}

static gboolean header_value(Parser *p, EntryKind kind, const char *value)
{
	Lesson *l = p->lesson;
	g_autofree char *got = quote(value);
	switch (kind) {
	case ENTRY_ID:
		if (!is_slug(value))
			return fail(p, p->line, LESSON_ERROR_SYNTAX,
			            "expected an id of lowercase letters, digits and '-' (at most %d), like \"sending\", got %s",
			            LESSON_MAX_ID_BYTES, got);
		l->id = g_strdup(value);
		return TRUE;
	case ENTRY_NUMBER:
		if (!parse_number(value, &l->number))
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected a lesson number from 1 to %d, got %s",
			            LESSON_MAX_NUMBER, got);
		return TRUE;
	case ENTRY_TITLE:
		if (!*value)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected the lesson's title after \"title:\"");
		l->title = g_strdup(value);
		return TRUE;
	case ENTRY_LANGUAGE:
		if (!is_language_code(value))
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected a language code like en, fr or de, got %s", got);
		l->language = g_strdup(value);
		return TRUE;
	case ENTRY_INTRO:
		return text_add(p, p->text, value, "the introduction");
	default:
		g_assert_not_reached();
	}
}

/* A line at the left margin: "WORD[ ARG]: VALUE" starts an entry. */
static gboolean entry_start(Parser *p, const char *line)
{
	Lesson *l = p->lesson;
	const char *colon = strchr(line, ':');
	g_autofree char *head = g_strndup(line, colon ? (gsize)(colon - line) : strlen(line));
	g_autofree char *value = g_strstrip(g_strdup(colon ? colon + 1 : ""));
	char *arg = strpbrk(head, " \t");
	if (arg) {
		*arg++ = '\0';
		arg = (char *)skip_blanks(arg);
		g_strchomp(arg);
	}
	gint found = -1;
	for (guint i = 0; i < G_N_ELEMENTS(entry_table); i++)
		if (g_ascii_strcasecmp(head, entry_table[i].word) == 0)
			found = (gint)i;
	if (found < 0 || !colon) {
		g_autofree char *got = quote(line);
		return fail(p, p->line, LESSON_ERROR_SYNTAX,
		            "expected an entry like \"title:\", \"scenario:\", \"step in.3:\" or \"quiz:\", got %s", got);
	}
	EntryKind kind = entry_table[found].kind;
	const char *word = entry_table[found].word;
	if (entry_table[found].takes_arg && (!arg || !*arg))
		return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected a course step after \"%s\", like \"%s in.3:\"", word, word);
	if (!entry_table[found].takes_arg && arg && *arg)
		return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected \":\" right after \"%s\"", word);

	p->kind = kind;
	p->entry_line = p->line;
	if (entry_table[found].header) {
		if (l->parts->len)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected \"%s:\" in the header, before the first \"scenario:\"", word);
		if (p->header_line[kind])
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected \"%s:\" once, got a second one (the first is on line %u)",
			            word, p->header_line[kind]);
		p->header_line[kind] = p->line;
		return header_value(p, kind, value);
	}

	switch (kind) {
	case ENTRY_SCENARIO: {
		for (guint i = 0; i < G_N_ELEMENTS(entry_table); i++)
			if (entry_table[i].header && !p->header_line[entry_table[i].kind])
				return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected \"%s:\" in the header, before the first \"scenario:\"",
				            entry_table[i].word);
		if (l->quiz->len)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected every \"scenario:\" and its steps before the quiz");
		if (!part_check(p))
			return FALSE;
		if (l->parts->len >= LESSON_MAX_PARTS)
			return fail(p, p->line, LESSON_ERROR_TOO_BIG, "expected at most %d scenarios in one lesson", LESSON_MAX_PARTS);
		if (!is_scenario_name(value)) {
			g_autofree char *got = quote(value);
			return fail(p, p->line, LESSON_ERROR_SYNTAX,
			            "expected a scenario file name like relay-path.scn (a file of scenarios/), got %s", got);
		}
		LessonPart *part = g_new0(LessonPart, 1);
		part->scenario = g_strdup(value);
		part->line = p->line;
		g_ptr_array_add(l->parts, part);
		return TRUE;
	}
	case ENTRY_STEP: {
		if (!l->parts->len)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected \"scenario:\" before the first \"step\"");
		if (l->quiz->len)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected every \"step\" before the quiz");
		if (!lesson_step_is_course_step(arg)) {
			g_autofree char *got = quote(arg);
			return fail(p, p->line, LESSON_ERROR_SYNTAX,
			            "expected a step of COURSE.md (setup.1-7, out.1-5, in.1-8, retr.1-6), got %s", got);
		}
		guint part = l->parts->len - 1;
		for (guint i = 0; i < l->steps->len; i++) {
			const LessonStep *s = g_ptr_array_index(l->steps, i);
			if (s->part == part && strcmp(s->step, arg) == 0)
				return fail(p, p->line, LESSON_ERROR_SYNTAX,
				            "expected each step once in a scenario, got %s again (first on line %u)", arg, s->line);
		}
		if (l->steps->len >= LESSON_MAX_STEPS)
			return fail(p, p->line, LESSON_ERROR_TOO_BIG, "expected at most %d steps in one lesson", LESSON_MAX_STEPS);
		LessonStep *step = g_new0(LessonStep, 1);
		step->step = g_strdup(arg);
		step->part = part;
		step->line = p->line;
		g_ptr_array_add(l->steps, step);
		return text_add(p, p->text, value, "the narration");
	}
	case ENTRY_QUIZ:
		if (!l->parts->len)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected \"scenario:\" and its steps before the quiz");
		if (!l->quiz->len && !part_check(p))
			return FALSE;
		if (l->quiz->len >= LESSON_MAX_QUIZ)
			return fail(p, p->line, LESSON_ERROR_TOO_BIG, "expected at most %d quiz questions", LESSON_MAX_QUIZ);
		p->question = g_new0(LessonQuestion, 1);
		p->question->choices = g_ptr_array_new_with_free_func(g_free);
		p->question->line = p->line;
		p->slot = QUIZ_IN_QUESTION;
		p->has_answer = FALSE;
		return text_add(p, p->slot_text, value, "the question");
	default:
		g_assert_not_reached();
	}
}

/* An indented line: more of the entry above. */
static gboolean entry_more(Parser *p, const char *s)
{
	if (p->kind == ENTRY_NONE)
		return fail(p, p->line, LESSON_ERROR_SYNTAX,
		            "expected an entry at the left margin (like \"step in.3:\"), got an indented line");
	if (!entry_continues(p->kind))
		return fail(p, p->line, LESSON_ERROR_SYNTAX,
		            "expected \"%s:\" on one line (only intro, scenario, step and quiz go on indented)", entry_word(p->kind));
	if (p->kind == ENTRY_QUIZ)
		return quiz_line(p, s);
	return text_add(p, p->text, s, p->kind == ENTRY_STEP ? "the narration" : "the introduction");
}

static gboolean parse_line(Parser *p, const char *s, gsize n)
{
	if (n > LESSON_MAX_LINE_BYTES)
		return fail(p, p->line, LESSON_ERROR_TOO_BIG, "expected lines of at most %d bytes", LESSON_MAX_LINE_BYTES);
	if (n && s[n - 1] == '\r')
		n--;
	if (p->line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;   /* a byte-order mark some editors write */
		n -= 3;
	}
	for (gsize i = 0; i < n; i++) {
		guchar c = (guchar)s[i];
		/* narration goes to terminals: no escape sequences, no NUL */
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected text, got the control character 0x%02x", c);
	}
	if (!g_utf8_validate(s, (gssize)n, NULL))
		return fail(p, p->line, LESSON_ERROR_SYNTAX, "expected UTF-8 text");

	g_autofree char *line = g_strndup(s, n);
	g_strchomp(line);
	const char *body = skip_blanks(line);
	if (!*body) {
		p->paragraph = p->text->len > 0;
		return TRUE;
	}
	if (*body == '#')
		return TRUE;
	if (body != line)
		return entry_more(p, body);
	return entry_end(p) && entry_start(p, line);
}

static gboolean parse_finish(Parser *p)
{
	if (!entry_end(p))
		return FALSE;
	guint last = p->line ? p->line : 1;
	for (guint i = 0; i < G_N_ELEMENTS(entry_table); i++)
		if (entry_table[i].header && !p->header_line[entry_table[i].kind])
			return fail(p, last, LESSON_ERROR_SYNTAX, "expected \"%s:\" in the header", entry_table[i].word);
	if (!p->lesson->parts->len)
		return fail(p, last, LESSON_ERROR_SYNTAX, "expected \"scenario:\" and the steps it shows");
	if (!p->lesson->quiz->len && !part_check(p))
		return FALSE;
	if (p->lesson->quiz->len < LESSON_MIN_QUIZ)
		return fail(p, last, LESSON_ERROR_SYNTAX, "expected %d to %d quiz questions, got %u",
		            LESSON_MIN_QUIZ, LESSON_MAX_QUIZ, p->lesson->quiz->len);
	return TRUE;
}

Lesson *lesson_parse(const char *text, gssize len, const char *filename, GError **error)
{
	g_return_val_if_fail(text || len == 0, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);
	gsize n = len < 0 ? strlen(text) : (gsize)len;
	Parser p = { .file = filename ? filename : "lesson" };
	p.lesson = lesson_new(p.file);
	p.text = g_string_new(NULL);
	p.slot_text = g_string_new(NULL);

	if (n > LESSON_MAX_FILE_BYTES) {
		fail(&p, 1, LESSON_ERROR_TOO_BIG, "expected a file of at most %d bytes, got %" G_GSIZE_FORMAT,
		     LESSON_MAX_FILE_BYTES, n);
	} else {
		const char *pos = text, *end = text + n;
		while (pos < end && !p.error) {
			const char *nl = memchr(pos, '\n', (gsize)(end - pos));
			gsize line_len = nl ? (gsize)(nl - pos) : (gsize)(end - pos);
			p.line++;
			parse_line(&p, pos, line_len);
			pos = nl ? nl + 1 : end;
		}
		if (!p.error)
			parse_finish(&p);
	}

	g_string_free(p.text, TRUE);
	g_string_free(p.slot_text, TRUE);
	question_free(p.question);
	if (p.error) {
		g_propagate_error(error, p.error);
		lesson_free(p.lesson);
		return NULL;
	}
	p.lesson->scenario = ((LessonPart *)g_ptr_array_index(p.lesson->parts, 0))->scenario;
	return p.lesson;
}

Lesson *lesson_load_file(const char *path, GError **error)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s", path, g_strerror(e));
		return NULL;
	}
	/* one byte more than allowed, so the parser sees that it is too big */
	g_autofree char *buf = g_malloc(LESSON_MAX_FILE_BYTES + 1);
	gsize n = fread(buf, 1, LESSON_MAX_FILE_BYTES + 1, f);
	gboolean bad = ferror(f);
	fclose(f);
	if (bad) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO, "%s: read error", path);
		return NULL;
	}
	return lesson_parse(buf, (gssize)n, path, error);
}

/* ---- look-ups ---------------------------------------------------------- */

const char *lesson_part_narration_for(const Lesson *lesson, guint part, const char *step)
{
	g_return_val_if_fail(lesson && step, NULL);
	for (guint i = 0; i < lesson->steps->len; i++) {
		const LessonStep *s = g_ptr_array_index(lesson->steps, i);
		if (s->part == part && strcmp(s->step, step) == 0)
			return s->narration;
	}
	return NULL;
}

const char *lesson_narration_for(const Lesson *lesson, const char *step)
{
	g_return_val_if_fail(lesson && step, NULL);
	for (guint i = 0; i < lesson->steps->len; i++) {
		const LessonStep *s = g_ptr_array_index(lesson->steps, i);
		if (strcmp(s->step, step) == 0)
			return s->narration;
	}
	return NULL;
}

guint lesson_part_step_count(const Lesson *lesson, guint part)
{
	g_return_val_if_fail(lesson, 0);
	guint n = 0;
	for (guint i = 0; i < lesson->steps->len; i++)
		if (((const LessonStep *)g_ptr_array_index(lesson->steps, i))->part == part)
			n++;
	return n;
}

/* ---- the catalogue ----------------------------------------------------- */

void lesson_catalog_free(LessonCatalog *catalog)
{
	if (!catalog)
		return;
	g_free(catalog->language);
	g_ptr_array_unref(catalog->lessons);
	g_free(catalog);
}

static gint by_number(gconstpointer a, gconstpointer b)
{
	const Lesson *la = *(const Lesson *const *)a, *lb = *(const Lesson *const *)b;
	return (la->number > lb->number) - (la->number < lb->number);
}

static gint by_name(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Add a parsed lesson, checking that it belongs in this catalogue. */
static gboolean catalog_add(LessonCatalog *cat, Lesson *lesson, GError **error)
{
	if (strcmp(lesson->language, cat->language) != 0) {
		g_set_error(error, LESSON_ERROR, LESSON_ERROR_CATALOGUE,
		            "%s: expected \"language: %s\" (the language of its directory), got \"%s\"",
		            lesson->source, cat->language, lesson->language);
		lesson_free(lesson);
		return FALSE;
	}
	for (guint i = 0; i < cat->lessons->len; i++) {
		const Lesson *other = g_ptr_array_index(cat->lessons, i);
		if (other->number == lesson->number) {
			g_set_error(error, LESSON_ERROR, LESSON_ERROR_CATALOGUE,
			            "%s: expected a lesson number of its own, but %u is also %s's",
			            lesson->source, lesson->number, other->source);
			lesson_free(lesson);
			return FALSE;
		}
	}
	if (cat->lessons->len >= LESSON_MAX_LESSONS) {
		g_set_error(error, LESSON_ERROR, LESSON_ERROR_TOO_BIG, "%s: expected at most %d lessons in one language",
		            lesson->source, LESSON_MAX_LESSONS);
		lesson_free(lesson);
		return FALSE;
	}
	g_ptr_array_add(cat->lessons, lesson);
	return TRUE;
}

LessonCatalog *lesson_catalog_load(const char *dir, const char *lang, GError **error)
{
	g_return_val_if_fail(lang, NULL);
	if (!is_language_code(lang)) {
		g_set_error(error, LESSON_ERROR, LESSON_ERROR_CATALOGUE, "expected a language code like en, fr or de, got \"%s\"",
		            g_utf8_validate(lang, -1, NULL) ? lang : "(not UTF-8)");
		return NULL;
	}
	g_autoptr(LessonCatalog) cat = g_new0(LessonCatalog, 1);
	cat->language = g_strdup(lang);
	cat->lessons = g_ptr_array_new_with_free_func((GDestroyNotify)lesson_free);
	g_autofree char *where = NULL;

	if (!dir) {
		g_autofree char *prefix = g_strdup_printf("%s/", lang);
		for (const char *const *name = ms_builtin_lesson_names(); *name; name++) {
			if (!g_str_has_prefix(*name, prefix) || !g_str_has_suffix(*name, ".lesson") ||
			    strchr(*name + strlen(prefix), '/'))
				continue;
			g_autofree char *label = g_strdup_printf("lessons/%s", *name);
			Lesson *lesson = lesson_parse(ms_builtin_lesson(*name), -1, label, error);
			if (!lesson || !catalog_add(cat, lesson, error))
				return NULL;
		}
	} else {
		where = g_build_filename(dir, lang, NULL);
		g_autoptr(GDir) d = g_dir_open(where, 0, NULL);
		if (!d) {
			g_set_error(error, LESSON_ERROR, LESSON_ERROR_CATALOGUE, "no lessons in %s: not a readable directory", where);
			return NULL;
		}
		g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
		const char *name;
		while ((name = g_dir_read_name(d)))
			if (g_str_has_suffix(name, ".lesson") && names->len <= LESSON_MAX_LESSONS)
				g_ptr_array_add(names, g_strdup(name));
		g_ptr_array_sort(names, by_name);
		for (guint i = 0; i < names->len; i++) {
			g_autofree char *path = g_build_filename(where, g_ptr_array_index(names, i), NULL);
			Lesson *lesson = lesson_load_file(path, error);
			if (!lesson || !catalog_add(cat, lesson, error))
				return NULL;
		}
	}
	if (!cat->lessons->len) {
		if (where)
			g_set_error(error, LESSON_ERROR, LESSON_ERROR_CATALOGUE, "no lessons in %s", where);
		else
			g_set_error(error, LESSON_ERROR, LESSON_ERROR_CATALOGUE, "mailsim has no built-in lessons in \"%s\"", lang);
		return NULL;
	}
	g_ptr_array_sort(cat->lessons, by_number);
	return g_steal_pointer(&cat);
}

const Lesson *lesson_catalog_find(const LessonCatalog *catalog, guint number)
{
	g_return_val_if_fail(catalog, NULL);
	for (guint i = 0; i < catalog->lessons->len; i++) {
		const Lesson *l = g_ptr_array_index(catalog->lessons, i);
		if (l->number == number)
			return l;
	}
	return NULL;
}
