/* tests/sim/test_lesson.c - lessons (sim/lesson.c, sim/lesson_sink.c).
 *
 * A valid table and an invalid table (FILE:LINE and a fragment of each
 * message); every truncation of a shipped lesson; the shipped lessons
 * themselves (built in and on disk): they parse, name steps of COURSE.md's
 * tables and scenarios that exist, and say the same in every language; the
 * language a locale gets; the catalogue; the narrating sink.
 */
#include "tests/ms_test.h"
#include "sim/builtin.h"
#include "sim/lesson.h"
#include "sim/lesson_sink.h"

#include <stdio.h>

#define FILE_LABEL "test.lesson"

/* Lines 1-5: a complete header. */
#define HDR "id: t\nnumber: 1\ntitle: T\nlanguage: en\nintro: I\n"
/* Lines 6-7: one part with one step. */
#define PART "scenario: a.scn\nstep in.1: N\n"
/* Five lines: one question. */
#define Q "quiz: Q?\n  a) x\n  b) y\n  answer: a\n  why: W\n"
#define QUIZ3 Q Q Q

/* ---- the valid table --------------------------------------------------- */

typedef struct {
	const char *name;
	const char *text;
	const char *id;
	guint       number;
	const char *title;
	const char *intro;
	guint       parts, steps, quiz;
	/* the last step's id, part and narration */
	const char *last_step;
	guint       last_part;
	const char *last_narration;
	/* the first question */
	const char *question;
	guint       choices, answer;
	const char *why;
} ValidCase;

static const ValidCase valid_cases[] = {
	{ "minimal", HDR PART QUIZ3, "t", 1, "T", "I", 1, 1, 3, "in.1", 0, "N", "Q?", 2, 0, "W" },
	{ "crlf", "id: t\r\nnumber: 1\r\ntitle: T\r\nlanguage: en\r\nintro: I\r\nscenario: a.scn\r\nstep in.1: N\r\n"
	          "quiz: Q?\r\n  a) x\r\n  b) y\r\n  answer: a\r\n  why: W\r\n" Q Q,
	  "t", 1, "T", "I", 1, 1, 3, "in.1", 0, "N", "Q?", 2, 0, "W" },
	{ "bom, comments, paragraphs, continuation",
	  "\xEF\xBB\xBF# a comment\nid: roles\nnumber: 12\ntitle: Who: does what\nlanguage: fr\n"
	  "intro:\n  first line\n  continued\n\n  # not a paragraph break by itself\n  second paragraph\n"
	  "scenario: course.scn\n\nstep out.4:\n  Ask DNS\n\tfor \"MX\".\n" QUIZ3,
	  "roles", 12, "Who: does what", "first line continued\nsecond paragraph", 1, 1, 3, "out.4", 0,
	  "Ask DNS for \"MX\".", "Q?", 2, 0, "W" },
	{ "parts, the same step in two of them",
	  HDR "scenario: a.scn\n  part one\nstep in.3: A\nscenario: b_2.scn\nstep in.3: B\nstep retr.6: C\n" QUIZ3,
	  "t", 1, "T", "I", 2, 3, 3, "retr.6", 1, "C", "Q?", 2, 0, "W" },
	{ "long question, six choices, answer with parenthesis",
	  HDR PART "quiz: Which\n  record?\n  a) A\n  b) MX\n    (mail)\n  c) c\n  d) d\n  e) e\n  f) f\n"
	  "  why: the\n  MX one\n  answer: b)\n" Q Q Q Q,
	  "t", 1, "T", "I", 1, 1, 5, "in.1", 0, "N", "Which record?", 6, 1, "the MX one" },
	{ "keywords in any case, blanks around values",
	  "ID:   t  \nNumber: 99\nTITLE: T\nLanguage: de\nIntro: I\nScenario: a.scn\nSTEP   setup.7  : N\n" QUIZ3,
	  "t", 99, "T", "I", 1, 1, 3, "setup.7", 0, "N", "Q?", 2, 0, "W" },
};

START_TEST(test_valid)
{
	const ValidCase *c = &valid_cases[_i];
	g_autoptr(GError) error = NULL;
	g_autoptr(Lesson) l = lesson_parse(c->text, -1, FILE_LABEL, &error);
	ck_assert_msg(l != NULL, "%s: %s", c->name, error ? error->message : "?");
	ck_assert_str_eq(l->id, c->id);
	ck_assert_uint_eq(l->number, c->number);
	ck_assert_str_eq(l->title, c->title);
	ck_assert_str_eq(l->intro, c->intro);
	ck_assert_str_eq(l->source, FILE_LABEL);
	ck_assert_uint_eq(l->parts->len, c->parts);
	ck_assert_uint_eq(l->steps->len, c->steps);
	ck_assert_uint_eq(l->quiz->len, c->quiz);
	ck_assert_str_eq(l->scenario, ((LessonPart *)g_ptr_array_index(l->parts, 0))->scenario);
	const LessonStep *s = g_ptr_array_index(l->steps, l->steps->len - 1);
	ck_assert_str_eq(s->step, c->last_step);
	ck_assert_uint_eq(s->part, c->last_part);
	ck_assert_str_eq(s->narration, c->last_narration);
	const LessonQuestion *q = g_ptr_array_index(l->quiz, 0);
	ck_assert_str_eq(q->question, c->question);
	ck_assert_uint_eq(q->choices->len, c->choices);
	ck_assert_uint_eq(q->answer, c->answer);
	ck_assert_str_eq(q->why, c->why);

	/* the same bytes, not NUL-terminated, give the same lesson */
	gsize n = strlen(c->text);
	g_autofree char *copy = g_memdup2(c->text, n);
	g_autoptr(Lesson) again = lesson_parse(copy, (gssize)n, FILE_LABEL, NULL);
	ck_assert_ptr_nonnull(again);
	ck_assert_uint_eq(again->steps->len, c->steps);
}
END_TEST

START_TEST(test_valid_details)
{
	g_autoptr(Lesson) l = lesson_parse(valid_cases[3].text, -1, FILE_LABEL, NULL);
	ck_assert_ptr_nonnull(l);
	const LessonPart *p0 = g_ptr_array_index(l->parts, 0), *p1 = g_ptr_array_index(l->parts, 1);
	ck_assert_str_eq(p0->scenario, "a.scn");
	ck_assert_str_eq(p0->intro, "part one");
	ck_assert_uint_eq(p0->line, 6);
	ck_assert_str_eq(p1->scenario, "b_2.scn");
	ck_assert_ptr_null(p1->intro);
	ck_assert_str_eq(lesson_narration_for(l, "in.3"), "A");
	ck_assert_str_eq(lesson_part_narration_for(l, 1, "in.3"), "B");
	ck_assert_str_eq(lesson_part_narration_for(l, 1, "retr.6"), "C");
	ck_assert_ptr_null(lesson_part_narration_for(l, 0, "retr.6"));
	ck_assert_ptr_null(lesson_narration_for(l, "in.4"));
	ck_assert_uint_eq(lesson_part_step_count(l, 0), 1);
	ck_assert_uint_eq(lesson_part_step_count(l, 1), 2);
	ck_assert_uint_eq(lesson_part_step_count(l, 2), 0);
	ck_assert_uint_eq(((LessonStep *)g_ptr_array_index(l->steps, 2))->line, 11);

	g_autoptr(Lesson) q = lesson_parse(valid_cases[4].text, -1, FILE_LABEL, NULL);
	ck_assert_ptr_nonnull(q);
	const LessonQuestion *first = g_ptr_array_index(q->quiz, 0);
	ck_assert_str_eq(g_ptr_array_index(first->choices, 1), "MX (mail)");
	ck_assert_str_eq(g_ptr_array_index(first->choices, 5), "f");
	ck_assert_uint_eq(first->line, 8);
}
END_TEST

/* ---- the invalid table ------------------------------------------------- */

typedef struct {
	const char     *name;
	const char     *text;
	gssize          len;      /* -1: a C string */
	guint           line;
	const char     *fragment;
	LessonErrorCode code;
} InvalidCase;

#define SYN LESSON_ERROR_SYNTAX
#define BIG LESSON_ERROR_TOO_BIG

static const InvalidCase invalid_cases[] = {
	{ "empty", "", -1, 1, "expected \"id:\" in the header", SYN },
	{ "only comments", "# nothing\n\n", -1, 2, "expected \"id:\" in the header", SYN },
	{ "unknown entry", HDR "titel: x\n", -1, 6, "expected an entry like \"title:\"", SYN },
	{ "no colon", "id t\n", -1, 1, "expected an entry like", SYN },
	{ "argument where none", "title x: y\n", -1, 1, "expected \":\" right after \"title\"", SYN },
	{ "bad id", "id: Sending\n", -1, 1, "expected an id of lowercase letters", SYN },
	{ "id too long", "id: abcdefghijabcdefghijabcdefghijabc\n", -1, 1, "expected an id", SYN },
	{ "number zero", "id: t\nnumber: 0\n", -1, 2, "expected a lesson number from 1 to 99, got \"0\"", SYN },
	{ "number 100", "id: t\nnumber: 100\n", -1, 2, "from 1 to 99", SYN },
	{ "number leading zero", "id: t\nnumber: 01\n", -1, 2, "from 1 to 99", SYN },
	{ "number word", "id: t\nnumber: one\n", -1, 2, "got \"one\"", SYN },
	{ "empty title", "id: t\nnumber: 1\ntitle:\n", -1, 3, "expected the lesson's title", SYN },
	{ "bad language", "id: t\nnumber: 1\ntitle: T\nlanguage: English\n", -1, 4, "expected a language code", SYN },
	{ "title twice", HDR "title: U\n", -1, 6, "expected \"title:\" once, got a second one (the first is on line 3)", SYN },
	{ "empty intro", "id: t\nnumber: 1\ntitle: T\nlanguage: en\nintro:\n" PART QUIZ3, -1, 5, "expected the introduction's text", SYN },
	{ "scenario before the header is done", "id: t\nnumber: 1\nscenario: a.scn\n", -1, 3, "expected \"title:\" in the header", SYN },
	{ "header entry after a scenario", HDR PART "title: x\n", -1, 8, "in the header, before the first \"scenario:\"", SYN },
	{ "scenario with a path", HDR "scenario: ../x.scn\n", -1, 6, "expected a scenario file name", SYN },
	{ "scenario not .scn", HDR "scenario: course\n", -1, 6, "expected a scenario file name", SYN },
	{ "no scenario", HDR, -1, 5, "expected \"scenario:\" and the steps it shows", SYN },
	{ "step before scenario", HDR "step in.1: x\n", -1, 6, "expected \"scenario:\" before the first \"step\"", SYN },
	{ "step without id", HDR "scenario: a.scn\nstep: x\n", -1, 7, "expected a course step after \"step\"", SYN },
	{ "step not in COURSE.md", HDR "scenario: a.scn\nstep in.9: x\n", -1, 7, "expected a step of COURSE.md", SYN },
	{ "def step (not numbered yet)", HDR "scenario: a.scn\nstep def.1: x\n", -1, 7, "got \"def.1\"", SYN },
	{ "step with leading zero", HDR "scenario: a.scn\nstep in.01: x\n", -1, 7, "expected a step of COURSE.md", SYN },
	{ "step family unknown", HDR "scenario: a.scn\nstep up.1: x\n", -1, 7, "expected a step of COURSE.md", SYN },
	{ "step twice in a part", HDR PART "step in.1: again\n", -1, 8, "got in.1 again (first on line 7)", SYN },
	{ "empty narration", HDR "scenario: a.scn\nstep in.1:\n" QUIZ3, -1, 7, "expected the narration of step in.1", SYN },
	{ "part without steps", HDR "scenario: a.scn\nscenario: b.scn\nstep in.1: x\n" QUIZ3, -1, 6,
	  "expected at least one \"step\" after \"scenario: a.scn\"", SYN },
	{ "last part without steps", HDR PART "scenario: b.scn\n" QUIZ3, -1, 8, "expected at least one \"step\"", SYN },
	{ "two questions", HDR PART Q Q, -1, 17, "expected 3 to 5 quiz questions, got 2", SYN },
	{ "six questions", HDR PART Q Q Q Q Q Q, -1, 33, "expected at most 5 quiz questions", BIG },
	{ "step after the quiz", HDR PART QUIZ3 "step in.2: x\n", -1, 23, "expected every \"step\" before the quiz", SYN },
	{ "scenario after the quiz", HDR PART QUIZ3 "scenario: b.scn\n", -1, 23, "before the quiz", SYN },
	{ "quiz before any scenario", HDR Q, -1, 6, "expected \"scenario:\" and its steps before the quiz", SYN },
	{ "choices out of order", HDR PART "quiz: Q\n  a) x\n  c) y\n", -1, 10, "expected the choice \"b)\" next, got \"c)\"", SYN },
	{ "choice without text", HDR PART "quiz: Q\n  a)\n", -1, 9, "expected the text of choice \"a)\"", SYN },
	{ "seven choices", HDR PART "quiz: Q\n  a) 1\n  b) 2\n  c) 3\n  d) 4\n  e) 5\n  f) 6\n  g) 7\n", -1, 15,
	  "expected at most 6 choices", BIG },
	{ "one choice, then answer", HDR PART "quiz: Q\n  a) x\n  answer: a\n", -1, 10, "expected at least 2 choices", SYN },
	{ "answer out of range", HDR PART "quiz: Q\n  a) x\n  b) y\n  answer: c\n", -1, 11,
	  "expected \"answer:\" and one of the letters a to b, got \"c\"", SYN },
	{ "answer twice", HDR PART "quiz: Q\n  a) x\n  b) y\n  answer: a\n  answer: b\n", -1, 12, "one \"answer:\" per question", SYN },
	{ "why twice", HDR PART "quiz: Q\n  a) x\n  b) y\n  why: a\n  why: b\n", -1, 12, "one \"why:\" per question", SYN },
	{ "choice after answer", HDR PART "quiz: Q\n  a) x\n  b) y\n  answer: a\n  c) z\n", -1, 12,
	  "expected the choices before \"answer:\"", SYN },
	{ "words after answer", HDR PART "quiz: Q\n  a) x\n  b) y\n  answer: a\n  more\n", -1, 12,
	  "expected \"why:\" or the next entry", SYN },
	{ "no answer", HDR PART "quiz: Q\n  a) x\n  b) y\n  why: W\n" Q Q, -1, 8, "expected \"answer:\"", SYN },
	{ "no why", HDR PART "quiz: Q\n  a) x\n  b) y\n  answer: a\n" Q Q, -1, 8, "expected \"why:\"", SYN },
	{ "no choices", HDR PART "quiz: Q\n" Q Q, -1, 8, "expected at least 2 choices", SYN },
	{ "no question", HDR PART "quiz:\n  a) x\n  b) y\n  answer: a\n  why: W\n" Q Q, -1, 8, "expected the question", SYN },
	{ "indented line first", "  hello\n", -1, 1, "expected an entry at the left margin", SYN },
	{ "indented header continuation", "id: t\n  more\n", -1, 2, "expected \"id:\" on one line", SYN },
	{ "escape sequence", "id: t\x1b[2J\n", -1, 1, "control character 0x1b", SYN },
	{ "NUL byte", "id: t\nnumber: 1\0\n", 17, 2, "control character 0x00", SYN },
	{ "not UTF-8", "id: t\nnumber: 1\ntitle: \xff\xfe\n", -1, 3, "expected UTF-8 text", SYN },
	{ "nine parts", HDR "scenario: a.scn\nstep in.1: x\nscenario: a.scn\nstep in.1: x\nscenario: a.scn\nstep in.1: x\n"
	  "scenario: a.scn\nstep in.1: x\nscenario: a.scn\nstep in.1: x\nscenario: a.scn\nstep in.1: x\n"
	  "scenario: a.scn\nstep in.1: x\nscenario: a.scn\nstep in.1: x\nscenario: a.scn\n", -1, 22,
	  "expected at most 8 scenarios", BIG },
};

START_TEST(test_invalid)
{
	const InvalidCase *c = &invalid_cases[_i];
	g_autoptr(GError) error = NULL;
	Lesson *l = lesson_parse(c->text, c->len, FILE_LABEL, &error);
	ck_assert_msg(l == NULL, "%s: parsed", c->name);
	ck_assert_ptr_nonnull(error);
	ck_assert(g_error_matches(error, LESSON_ERROR, (gint)c->code));
	g_autofree char *prefix = g_strdup_printf(FILE_LABEL ":%u: ", c->line);
	ck_assert_msg(g_str_has_prefix(error->message, prefix), "%s: wanted %s, got %s", c->name, prefix, error->message);
	ck_assert_msg(strstr(error->message, c->fragment), "%s: wanted \"%s\" in %s", c->name, c->fragment, error->message);
}
END_TEST

/* Limits that need big inputs, built here rather than in the table. */
START_TEST(test_limits)
{
	g_autoptr(GError) error = NULL;
	/* a line over LESSON_MAX_LINE_BYTES */
	g_autofree char *pad = g_strnfill(LESSON_MAX_LINE_BYTES, 'x');
	g_autofree char *long_line = g_strdup_printf("id: t\ntitle: %s\n", pad);
	ck_assert_ptr_null(lesson_parse(long_line, -1, FILE_LABEL, &error));
	ck_assert(g_error_matches(error, LESSON_ERROR, LESSON_ERROR_TOO_BIG));
	ck_assert(g_str_has_prefix(error->message, FILE_LABEL ":2: "));
	g_clear_error(&error);

	/* a narration over LESSON_MAX_TEXT_BYTES, from lines that are each fine */
	GString *s = g_string_new(HDR "scenario: a.scn\nstep in.1:\n");
	g_autofree char *words = g_strnfill(100, 'w');
	for (guint i = 0; i < LESSON_MAX_TEXT_BYTES / 100 + 2; i++)
		g_string_append_printf(s, "  %s\n", words);
	g_string_append(s, QUIZ3);
	ck_assert_ptr_null(lesson_parse(s->str, (gssize)s->len, FILE_LABEL, &error));
	ck_assert(g_error_matches(error, LESSON_ERROR, LESSON_ERROR_TOO_BIG));
	ck_assert_msg(strstr(error->message, "the narration is longer than"), "%s", error->message);
	g_string_free(s, TRUE);
	g_clear_error(&error);

	/* a file over LESSON_MAX_FILE_BYTES: refused before it is read */
	gsize big = LESSON_MAX_FILE_BYTES + 1;
	g_autofree char *huge = g_malloc(big);
	memset(huge, '#', big);
	ck_assert_ptr_null(lesson_parse(huge, (gssize)big, FILE_LABEL, &error));
	ck_assert(g_error_matches(error, LESSON_ERROR, LESSON_ERROR_TOO_BIG));
	ck_assert(g_str_has_prefix(error->message, FILE_LABEL ":1: "));
	g_clear_error(&error);

	/* LESSON_MAX_STEPS steps are fine, one more is not: parts of every
	 * course step (26 each) until the limit is passed */
	const char *families[] = { "setup", "out", "in", "retr" };
	const guint counts[] = { 7, 5, 8, 6 };
	GString *many = g_string_new(HDR);
	guint total = 0, fail_line = 0, line = 5;
	while (total <= LESSON_MAX_STEPS) {
		g_string_append(many, "scenario: a.scn\n");
		line++;
		for (guint f = 0; f < G_N_ELEMENTS(families) && total <= LESSON_MAX_STEPS; f++)
			for (guint k = 1; k <= counts[f] && total <= LESSON_MAX_STEPS; k++) {
				g_string_append_printf(many, "step %s.%u: x\n", families[f], k);
				line++;
				if (++total == LESSON_MAX_STEPS + 1)
					fail_line = line;
			}
	}
	ck_assert_ptr_null(lesson_parse(many->str, -1, FILE_LABEL, &error));
	ck_assert(g_error_matches(error, LESSON_ERROR, LESSON_ERROR_TOO_BIG));
	g_autofree char *want = g_strdup_printf(FILE_LABEL ":%u: expected at most %d steps", fail_line, LESSON_MAX_STEPS);
	ck_assert_msg(g_str_has_prefix(error->message, want), "%s", error->message);
	g_string_free(many, TRUE);
}
END_TEST

/* ---- the shipped lessons ----------------------------------------------- */

/* Every built-in lesson name, e.g. "en/1-roles.lesson". */
static guint builtin_lesson_count(void)
{
	guint n = 0;
	for (const char *const *name = ms_builtin_lesson_names(); *name; name++)
		n++;
	return n;
}

/* Cut every shipped lesson at every byte: each prefix parses or fails with
 * FILE:LINE, never crashes (ASan watches). */
START_TEST(test_truncations)
{
	ck_assert_uint_gt(builtin_lesson_count(), 0);
	for (const char *const *name = ms_builtin_lesson_names(); *name; name++) {
		const char *text = ms_builtin_lesson(*name);
		gsize n = strlen(text);
		for (gsize cut = 0; cut <= n; cut++) {
			g_autoptr(GError) error = NULL;
			Lesson *l = lesson_parse(text, (gssize)cut, "cut", &error);
			if (l)
				lesson_free(l);
			else
				ck_assert_msg(g_str_has_prefix(error->message, "cut:"), "%s", error->message);
		}
	}
}
END_TEST

START_TEST(test_builtin_catalogues)
{
	const char *const *langs = lesson_languages();
	ck_assert_str_eq(langs[0], "en");
	ck_assert_str_eq(langs[1], "fr");
	ck_assert_str_eq(langs[2], "de");
	ck_assert_ptr_null(langs[3]);
	for (const char *const *lang = langs; *lang; lang++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(LessonCatalog) cat = lesson_catalog_load(NULL, *lang, &error);
		ck_assert_msg(cat != NULL, "%s: %s", *lang, error ? error->message : "?");
		ck_assert_str_eq(cat->language, *lang);
		/* one lesson per part of COURSE.md */
		ck_assert_uint_eq(cat->lessons->len, 6);
		for (guint i = 0; i < cat->lessons->len; i++) {
			const Lesson *l = g_ptr_array_index(cat->lessons, i);
			ck_assert_uint_eq(l->number, i + 1);
			ck_assert_ptr_eq(lesson_catalog_find(cat, i + 1), l);
			ck_assert_str_eq(l->language, *lang);
			ck_assert_uint_ge(l->quiz->len, 3);
			ck_assert_uint_le(l->quiz->len, 5);
		}
		ck_assert_ptr_null(lesson_catalog_find(cat, 7));
	}
	/* 6 lessons in each of the 3 languages, and nothing else compiled in */
	ck_assert_uint_eq(builtin_lesson_count(), 18);
}
END_TEST

/* The files under lessons/ parse too, and are what was compiled in. */
START_TEST(test_files_match_builtin)
{
	for (const char *const *lang = lesson_languages(); *lang; lang++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(LessonCatalog) cat = lesson_catalog_load("lessons", *lang, &error);
		ck_assert_msg(cat != NULL, "%s: %s", *lang, error ? error->message : "?");
		ck_assert_uint_eq(cat->lessons->len, 6);
	}
	for (const char *const *name = ms_builtin_lesson_names(); *name; name++) {
		g_autofree char *path = g_build_filename("lessons", *name, NULL);
		g_autofree char *text = NULL;
		ck_assert_msg(g_file_get_contents(path, &text, NULL, NULL), "%s is built in but not in the tree", path);
		ck_assert_msg(strcmp(text, ms_builtin_lesson(*name)) == 0, "%s changed since the build: run make", path);
	}
}
END_TEST

/* The step ids of COURSE.md's tables ("| in.3 | ..."), read from the
 * course itself where it is reachable (the shared folder beside the tree,
 * or $MS_COURSE_MD), plus docs/COURSE-STEPS.md (retr.*).  NULL when no
 * copy of COURSE.md is found. */
static GHashTable *course_steps(void)
{
	const char *candidates[] = { g_getenv("MS_COURSE_MD"), "../shared/COURSE.md", "shared/COURSE.md",
	                             "/work/shared/COURSE.md" };
	g_autofree char *course = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(candidates) && !course; i++)
		if (candidates[i] && !g_file_get_contents(candidates[i], &course, NULL, NULL))
			course = NULL;
	if (!course)
		return NULL;
	g_autofree char *extra = NULL;
	g_file_get_contents("docs/COURSE-STEPS.md", &extra, NULL, NULL);
	GHashTable *steps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GRegex) row = g_regex_new("^\\| ((?:setup|out|in|retr|def)\\.[0-9]+) \\|", G_REGEX_MULTILINE, 0, NULL);
	const char *texts[] = { course, extra };
	for (guint t = 0; t < G_N_ELEMENTS(texts); t++) {
		if (!texts[t])
			continue;
		g_autoptr(GMatchInfo) m = NULL;
		g_regex_match(row, texts[t], 0, &m);
		while (g_match_info_matches(m)) {
			g_hash_table_add(steps, g_match_info_fetch(m, 1));
			g_match_info_next(m, NULL);
		}
	}
	return steps;
}

START_TEST(test_steps_are_course_steps)
{
	g_autoptr(GHashTable) course = course_steps();
	if (course) {
		/* the parser's table and the course agree, both ways */
		ck_assert_uint_ge(g_hash_table_size(course), 20);
		GHashTableIter it;
		gpointer key;
		g_hash_table_iter_init(&it, course);
		while (g_hash_table_iter_next(&it, &key, NULL))
			ck_assert_msg(lesson_step_is_course_step(key), "%s is in COURSE.md but not accepted", (char *)key);
		const char *families[] = { "setup", "out", "in", "retr" };
		for (guint f = 0; f < G_N_ELEMENTS(families); f++)
			for (guint n = 1; n <= 9; n++) {
				g_autofree char *id = g_strdup_printf("%s.%u", families[f], n);
				ck_assert_msg(lesson_step_is_course_step(id) == g_hash_table_contains(course, id),
				              "%s: the parser and COURSE.md disagree", id);
			}
	} else {
		fprintf(stderr, "test_lesson: COURSE.md not found (set MS_COURSE_MD); checking against the built-in table only\n");
	}
	for (const char *const *lang = lesson_languages(); *lang; lang++) {
		g_autoptr(LessonCatalog) cat = lesson_catalog_load(NULL, *lang, NULL);
		ck_assert_ptr_nonnull(cat);
		for (guint i = 0; i < cat->lessons->len; i++) {
			const Lesson *l = g_ptr_array_index(cat->lessons, i);
			for (guint s = 0; s < l->steps->len; s++) {
				const LessonStep *st = g_ptr_array_index(l->steps, s);
				ck_assert(lesson_step_is_course_step(st->step));
				if (course)
					ck_assert_msg(g_hash_table_contains(course, st->step), "%s:%u: %s is not in COURSE.md",
					              l->source, st->line, st->step);
				/* a narration is a few sentences, not an essay */
				ck_assert_msg(strlen(st->narration) <= 600, "%s:%u: narration of %u bytes", l->source, st->line,
				              (guint)strlen(st->narration));
			}
		}
	}
}
END_TEST

START_TEST(test_scenarios_exist)
{
	for (const char *const *lang = lesson_languages(); *lang; lang++) {
		g_autoptr(LessonCatalog) cat = lesson_catalog_load(NULL, *lang, NULL);
		ck_assert_ptr_nonnull(cat);
		for (guint i = 0; i < cat->lessons->len; i++) {
			const Lesson *l = g_ptr_array_index(cat->lessons, i);
			for (guint p = 0; p < l->parts->len; p++) {
				const LessonPart *part = g_ptr_array_index(l->parts, p);
				ck_assert_msg(ms_builtin_scenario(part->scenario) != NULL, "%s:%u: no built-in scenario %s",
				              l->source, part->line, part->scenario);
				g_autofree char *path = g_build_filename("scenarios", part->scenario, NULL);
				ck_assert_msg(g_file_test(path, G_FILE_TEST_IS_REGULAR), "%s missing in the tree", path);
			}
		}
	}
}
END_TEST

/* Every language tells the same lesson: same ids, scenarios, steps in the
 * same parts and order, same number of questions and choices, the right
 * answer at the same place. */
START_TEST(test_languages_agree)
{
	g_autoptr(LessonCatalog) en = lesson_catalog_load(NULL, "en", NULL);
	ck_assert_ptr_nonnull(en);
	for (const char *const *lang = lesson_languages() + 1; *lang; lang++) {
		g_autoptr(LessonCatalog) other = lesson_catalog_load(NULL, *lang, NULL);
		ck_assert_ptr_nonnull(other);
		ck_assert_uint_eq(other->lessons->len, en->lessons->len);
		for (guint i = 0; i < en->lessons->len; i++) {
			const Lesson *a = g_ptr_array_index(en->lessons, i), *b = g_ptr_array_index(other->lessons, i);
			ck_assert_msg(strcmp(a->id, b->id) == 0, "%s: id %s, in English %s", b->source, b->id, a->id);
			ck_assert_uint_eq(a->number, b->number);
			ck_assert_uint_eq(a->parts->len, b->parts->len);
			for (guint p = 0; p < a->parts->len; p++) {
				const LessonPart *pa = g_ptr_array_index(a->parts, p), *pb = g_ptr_array_index(b->parts, p);
				ck_assert_str_eq(pa->scenario, pb->scenario);
				ck_assert_msg((pa->intro == NULL) == (pb->intro == NULL), "%s:%u: part intro differs", b->source, pb->line);
			}
			ck_assert_msg(a->steps->len == b->steps->len, "%s: %u steps, in English %u", b->source, b->steps->len,
			              a->steps->len);
			for (guint s = 0; s < a->steps->len; s++) {
				const LessonStep *sa = g_ptr_array_index(a->steps, s), *sb = g_ptr_array_index(b->steps, s);
				ck_assert_msg(strcmp(sa->step, sb->step) == 0 && sa->part == sb->part, "%s:%u: step %s, in English %s",
				              b->source, sb->line, sb->step, sa->step);
			}
			ck_assert_uint_eq(a->quiz->len, b->quiz->len);
			for (guint q = 0; q < a->quiz->len; q++) {
				const LessonQuestion *qa = g_ptr_array_index(a->quiz, q), *qb = g_ptr_array_index(b->quiz, q);
				ck_assert_msg(qa->answer == qb->answer, "%s:%u: answer %c, in English %c", b->source, qb->line,
				              'a' + qb->answer, 'a' + qa->answer);
				ck_assert_uint_eq(qa->choices->len, qb->choices->len);
			}
		}
	}
}
END_TEST

/* ---- languages ------------------------------------------------------------ */

static const struct {
	const char *lc_all, *lc_messages, *lang, *want;
} locale_cases[] = {
	{ NULL, NULL, NULL, "en" },
	{ NULL, NULL, "fr_FR.UTF-8", "fr" },
	{ NULL, NULL, "de_DE@euro", "de" },
	{ NULL, NULL, "de", "de" },
	{ NULL, NULL, "en_GB.UTF-8", "en" },
	{ "", "", "fr_CA", "fr" },             /* empty counts as unset */
	{ "C", NULL, "fr_FR.UTF-8", "en" },    /* LC_ALL decides, even "C" */
	{ "de_CH.UTF-8", "fr_FR", "fr_FR", "de" },
	{ NULL, "de_AT.UTF-8", "fr_FR.UTF-8", "de" },
	{ NULL, NULL, "es_ES.UTF-8", "en" },   /* no lessons in Spanish */
	{ NULL, NULL, "POSIX", "en" },
	{ NULL, NULL, "FR_fr", "fr" },
	{ NULL, NULL, "french", "en" },
	{ NULL, NULL, "fra", "en" },
	{ NULL, NULL, ".UTF-8", "en" },
};

START_TEST(test_locale)
{
	const char *got = lesson_language_from_locale(locale_cases[_i].lc_all, locale_cases[_i].lc_messages,
	                                              locale_cases[_i].lang);
	ck_assert_msg(strcmp(got, locale_cases[_i].want) == 0, "case %d: got %s, want %s", _i, got, locale_cases[_i].want);
}
END_TEST

START_TEST(test_locale_env)
{
	g_unsetenv("LC_ALL");
	g_unsetenv("LC_MESSAGES");
	g_setenv("LANG", "fr_FR.UTF-8", TRUE);
	ck_assert_str_eq(lesson_language_from_env(), "fr");
	g_setenv("LC_MESSAGES", "de_DE.UTF-8", TRUE);
	ck_assert_str_eq(lesson_language_from_env(), "de");
	g_setenv("LC_ALL", "C", TRUE);
	ck_assert_str_eq(lesson_language_from_env(), "en");
	g_unsetenv("LC_ALL");
	g_unsetenv("LC_MESSAGES");
	g_unsetenv("LANG");
	ck_assert_str_eq(lesson_language_from_env(), "en");
}
END_TEST

START_TEST(test_words)
{
	for (const char *const *lang = lesson_languages(); *lang; lang++) {
		ck_assert_ptr_nonnull(lesson_language_name(*lang));
		for (guint w = 0; w < LESSON_WORD_COUNT; w++) {
			ck_assert_ptr_nonnull(lesson_word(*lang, (LessonWord)w));
			ck_assert(*lesson_word(*lang, (LessonWord)w));
			ck_assert_str_ne(lesson_word_to_string((LessonWord)w), "unknown");
		}
	}
	ck_assert_str_eq(lesson_word("fr", LESSON_WORD_ANSWER), "Réponse");
	ck_assert_str_eq(lesson_word("de", LESSON_WORD_LESSON), "Lektion");
	ck_assert_str_eq(lesson_word("xx", LESSON_WORD_QUIZ), "Quiz");   /* English when unknown */
	ck_assert_ptr_null(lesson_language_name("xx"));
	ck_assert_str_eq(lesson_error_code_to_string(LESSON_ERROR_TOO_BIG), "too-big");
	ck_assert_str_eq(lesson_error_code_to_string(LESSON_ERROR_CATALOGUE), "catalogue");
}
END_TEST

/* ---- the catalogue from a directory -------------------------------------- */

static void write_lesson(const char *dir, const char *name, const char *text)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	ck_assert(g_file_set_contents(path, text, -1, NULL));
}

START_TEST(test_catalog_dir)
{
	g_autofree char *root = ms_test_tmpdir();
	g_autofree char *en = g_build_filename(root, "en", NULL);
	ck_assert_int_eq(g_mkdir(en, 0700), 0);
	g_autoptr(GError) error = NULL;

	/* empty: an error that names the directory */
	ck_assert_ptr_null(lesson_catalog_load(root, "en", &error));
	ck_assert(g_error_matches(error, LESSON_ERROR, LESSON_ERROR_CATALOGUE));
	ck_assert(strstr(error->message, "no lessons in"));
	g_clear_error(&error);

	/* two lessons, written out of order, come sorted by number */
	write_lesson(en, "b.lesson", "id: t\nnumber: 2\ntitle: Two\nlanguage: en\nintro: I\n" PART QUIZ3);
	write_lesson(en, "a.lesson", "id: u\nnumber: 10\ntitle: Ten\nlanguage: en\nintro: I\n" PART QUIZ3);
	write_lesson(en, "notes.txt", "not a lesson");
	LessonCatalog *cat = lesson_catalog_load(root, "en", &error);
	ck_assert_msg(cat != NULL, "%s", error ? error->message : "?");
	ck_assert_uint_eq(cat->lessons->len, 2);
	ck_assert_str_eq(((Lesson *)g_ptr_array_index(cat->lessons, 0))->title, "Two");
	ck_assert_str_eq(lesson_catalog_find(cat, 10)->title, "Ten");
	lesson_catalog_free(cat);

	/* a number twice */
	write_lesson(en, "c.lesson", "id: v\nnumber: 2\ntitle: Again\nlanguage: en\nintro: I\n" PART QUIZ3);
	ck_assert_ptr_null(lesson_catalog_load(root, "en", &error));
	ck_assert_msg(strstr(error->message, "2 is also"), "%s", error->message);
	g_clear_error(&error);

	/* a lesson in the wrong language's directory */
	write_lesson(en, "c.lesson", "id: v\nnumber: 3\ntitle: Drei\nlanguage: de\nintro: I\n" PART QUIZ3);
	ck_assert_ptr_null(lesson_catalog_load(root, "en", &error));
	ck_assert_msg(strstr(error->message, "expected \"language: en\""), "%s", error->message);
	g_clear_error(&error);

	/* a broken lesson: its FILE:LINE comes through */
	write_lesson(en, "c.lesson", "id: v\nnumber: x\n");
	ck_assert_ptr_null(lesson_catalog_load(root, "en", &error));
	ck_assert_msg(strstr(error->message, "c.lesson:2: expected a lesson number"), "%s", error->message);
	g_clear_error(&error);

	/* a language that is not a code cannot leave the directory */
	ck_assert_ptr_null(lesson_catalog_load(root, "../en", &error));
	ck_assert(g_error_matches(error, LESSON_ERROR, LESSON_ERROR_CATALOGUE));
	g_clear_error(&error);
	ck_assert_ptr_null(lesson_catalog_load(NULL, "xx", &error));
	ck_assert_msg(strstr(error->message, "no built-in lessons in \"xx\""), "%s", error->message);
	g_clear_error(&error);

	/* a missing file */
	ck_assert_ptr_null(lesson_load_file("/nonexistent/x.lesson", &error));
	ck_assert(error->domain == G_FILE_ERROR);
	ms_test_rmtree(root);
}
END_TEST

/* ---- the narrating sink ------------------------------------------------- */

static gint64 zero_clock(gpointer data)
{
	return 0;
}

START_TEST(test_sink)
{
	g_autoptr(Lesson) l = lesson_parse(HDR "scenario: a.scn\nstep in.1: First words.\nstep in.3: Third words.\n"
	                                   "scenario: b.scn\nstep in.2: Only in part two.\n" QUIZ3, -1, FILE_LABEL, NULL);
	ck_assert_ptr_nonnull(l);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(out);
	MsSink *rec = ms_sink_recorder_new();
	g_autoptr(GPtrArray) shown = g_ptr_array_new_with_free_func(g_free);
	LessonSinkOptions o = { .out = out };
	MsBus *bus = ms_bus_new(zero_clock, NULL);
	/* the bus owns the lesson sink, which owns the recorder: look at the
	 * recorder through a second handle before the bus frees it */
	MsSink *sink = lesson_sink_new(l, 0, rec, &o, shown);
	ms_bus_add_sink(bus, sink);
	const char *steps[] = { NULL, "in.1", "in.1", "in.2", "in.3", "in.3" };
	for (guint i = 0; i < G_N_ELEMENTS(steps); i++)
		ms_bus_emitf(bus, MS_EV_NOTE, "a", "b", "smtp", steps[i], "event %u", i);
	ck_assert_uint_eq(ms_sink_recorder_events(rec)->len, G_N_ELEMENTS(steps));
	ms_bus_free(bus);
	fclose(out);

	/* once each, in order, only this part's steps */
	ck_assert_uint_eq(shown->len, 2);
	ck_assert_str_eq(g_ptr_array_index(shown, 0), "in.1");
	ck_assert_str_eq(g_ptr_array_index(shown, 1), "in.3");
	ck_assert_str_eq(buf, "\n» in.1    First words.\n\n» in.3    Third words.\n");
	free(buf);
}
END_TEST

START_TEST(test_wrap)
{
	g_autofree char *a = lesson_sink_wrap("one two three four", "> ", "  ", 10);
	ck_assert_str_eq(a, "> one two\n  three\n  four\n");
	g_autofree char *b = lesson_sink_wrap("first\nsecond para", "", "", 80);
	ck_assert_str_eq(b, "first\nsecond para\n");
	/* a word longer than the line stands alone, unbroken */
	g_autofree char *c = lesson_sink_wrap("a verylongword b", "", "", 5);
	ck_assert_str_eq(c, "a\nverylongword\nb\n");
	/* columns count characters, not bytes */
	g_autofree char *d = lesson_sink_wrap("été été été", "", "", 7);
	ck_assert_str_eq(d, "été été\nété\n");
}
END_TEST

static Suite *lesson_suite(void)
{
	Suite *s = suite_create("lesson");
	TCase *tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_valid, 0, G_N_ELEMENTS(valid_cases));
	tcase_add_test(tc, test_valid_details);
	tcase_add_loop_test(tc, test_invalid, 0, G_N_ELEMENTS(invalid_cases));
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_truncations, 120);
	MS_ADD_TEST(s, test_builtin_catalogues, 10);
	MS_ADD_TEST(s, test_files_match_builtin, 10);
	MS_ADD_TEST(s, test_steps_are_course_steps, 10);
	MS_ADD_TEST(s, test_scenarios_exist, 10);
	MS_ADD_TEST(s, test_languages_agree, 10);
	TCase *loc = tcase_create("locale");
	tcase_add_loop_test(loc, test_locale, 0, G_N_ELEMENTS(locale_cases));
	tcase_add_test(loc, test_locale_env);
	tcase_add_test(loc, test_words);
	suite_add_tcase(s, loc);
	MS_ADD_TEST(s, test_catalog_dir, 10);
	MS_ADD_TEST(s, test_sink, 10);
	MS_ADD_TEST(s, test_wrap, 10);
	return s;
}

MS_TEST_MAIN(lesson_suite)
