/* sim/lesson.h - lessons: the course (COURSE.md) told in the student's
 * language while the agents act it out.
 *
 * A lesson file (lessons/LANG/N-name.lesson, docs/LESSONS.md) names the
 * scenario it binds to, narrates each course step the scenario shows, and
 * ends with a quiz.  The parser is pure: text in, Lesson out, no I/O; only
 * the catalogue and the environment helpers below touch the outside.
 */
#pragma once

#include <glib.h>

/* Limits of a lesson file: a teacher's file is small, hostile input stays
 * bounded. */
#define LESSON_MAX_FILE_BYTES  (64 * 1024)
#define LESSON_MAX_LINE_BYTES  1024    /* one line of the file */
#define LESSON_MAX_TEXT_BYTES  2048    /* an intro, a narration, a question, a "why" */
#define LESSON_MAX_ID_BYTES    32
#define LESSON_MAX_NUMBER      99
#define LESSON_MAX_PARTS       8       /* scenarios acted out one after another */
#define LESSON_MAX_STEPS       64      /* narrated steps, all parts together */
#define LESSON_MIN_QUIZ        3
#define LESSON_MAX_QUIZ        5
#define LESSON_MIN_CHOICES     2
#define LESSON_MAX_CHOICES     6       /* a) to f) */
#define LESSON_MAX_LESSONS     64      /* lessons in one catalogue */

#define LESSON_ERROR lesson_error_quark()
GQuark lesson_error_quark(void);

typedef enum {
	LESSON_ERROR_SYNTAX,     /* FILE:LINE: what was expected */
	LESSON_ERROR_TOO_BIG,    /* a limit above was passed */
	LESSON_ERROR_CATALOGUE,  /* a directory without lessons, a number given twice */
} LessonErrorCode;

const char *lesson_error_code_to_string(LessonErrorCode code);

/* One scenario the lesson acts out.  Most lessons have one part; the
 * defences lesson shows several short attacks, one scenario each. */
typedef struct {
	char  *scenario;   /* a file name under scenarios/: "relay-path.scn" */
	char  *intro;      /* said before this part runs, or NULL */
	guint  line;       /* of its "scenario:" line */
} LessonPart;

/* The narration of one course step within one part. */
typedef struct {
	char  *step;       /* "in.3": always a step of COURSE.md's tables */
	char  *narration;  /* 1-4 sentences; paragraphs separated by '\n' */
	guint  part;       /* index into Lesson.parts */
	guint  line;
} LessonStep;

typedef struct {
	char      *question;
	GPtrArray *choices;   /* char*, shown as a), b), ... in this order */
	guint      answer;    /* index into choices of the right one */
	char      *why;       /* one line: why that one is right */
	guint      line;
} LessonQuestion;

typedef struct {
	char       *id;        /* "sending": the same in every language */
	guint       number;    /* 1..LESSON_MAX_NUMBER: the order of the course */
	char       *title;
	char       *language;  /* "en", "fr", "de" */
	char       *intro;     /* paragraphs separated by '\n' */
	const char *scenario;  /* the first part's scenario (borrowed from parts) */
	GPtrArray  *parts;     /* LessonPart*, at least one */
	GPtrArray  *steps;     /* LessonStep*, in file order */
	GPtrArray  *quiz;      /* LessonQuestion*, LESSON_MIN_QUIZ..LESSON_MAX_QUIZ */
	char       *source;    /* the file name errors were given for */
} Lesson;

/* Parse a lesson.  text need not be NUL-terminated (len >= 0), or is a C
 * string (len < 0).  filename only labels errors.  Returns a new Lesson or
 * NULL with error set to "FILE:LINE: what was expected, got what". */
Lesson *lesson_parse(const char *text, gssize len, const char *filename, GError **error);
void    lesson_free(Lesson *lesson);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Lesson, lesson_free)

/* Read and parse one file (at most LESSON_MAX_FILE_BYTES). */
Lesson *lesson_load_file(const char *path, GError **error);

/* The narration of step in any part (the first one given), or NULL.
 * Borrowed from lesson. */
const char *lesson_narration_for(const Lesson *lesson, const char *step);
/* The narration of step in part number `part`, or NULL. */
const char *lesson_part_narration_for(const Lesson *lesson, guint part, const char *step);
/* How many steps part `part` narrates (for "step 3 of 7"). */
guint       lesson_part_step_count(const Lesson *lesson, guint part);

/* TRUE when step is a step of COURSE.md's tables: setup.1-7, out.1-5,
 * in.1-8, retr.1-6 (the def.* defences are not numbered there yet). */
gboolean lesson_step_is_course_step(const char *step);

/* ---- languages ------------------------------------------------------- */

/* The languages lessons are written in, NULL-terminated: "en", "fr", "de". */
const char *const *lesson_languages(void);
/* The language's own name ("français"), or NULL when not one of ours. */
const char *lesson_language_name(const char *lang);

/* The language a locale asks for, POSIX-style: the first of lc_all,
 * lc_messages, lang that is set and not empty decides ("fr_FR.UTF-8" ->
 * "fr"); "C", unset or a language we have no lessons in -> "en".  Returns a
 * static string. */
const char *lesson_language_from_locale(const char *lc_all, const char *lc_messages, const char *lang);
/* The same with LC_ALL, LC_MESSAGES and LANG from the environment. */
const char *lesson_language_from_env(void);

/* The few words a lesson run says around the lessons' own text, in each
 * language.  They are here and not in the gettext catalogue because
 * --lang must work on a machine where the locale is not installed. */
typedef enum {
	LESSON_WORD_LESSONS,    /* "Lessons" */
	LESSON_WORD_LESSON,     /* "Lesson" */
	LESSON_WORD_PART,       /* "Part" */
	LESSON_WORD_OF,         /* "of", as in "part 2 of 5" */
	LESSON_WORD_SCENARIO,   /* "scenario" */
	LESSON_WORD_QUIZ,       /* "Quiz" */
	LESSON_WORD_ANSWER,     /* "Answer" */
	LESSON_WORD_COLON,      /* ":" after a label ("Réponse :" in French) */
	LESSON_WORD_ENTER,      /* "Press Enter to begin" */
	LESSON_WORD_COUNT
} LessonWord;

const char *lesson_word_to_string(LessonWord word);
/* The word in lang (English when lang is not one of ours).  Static. */
const char *lesson_word(const char *lang, LessonWord word);

/* ---- the catalogue ----------------------------------------------------- */

typedef struct {
	char      *language;
	GPtrArray *lessons;   /* Lesson*, sorted by number */
} LessonCatalog;

/* The lessons of one language, sorted by number.  dir NULL: the lessons
 * compiled into mailsim (lessons/LANG/ *.lesson at build time); otherwise
 * the files DIR/LANG/ *.lesson.  Fails (LESSON_ERROR) on the first lesson
 * that does not parse, a number given twice, a lesson whose language is
 * not its directory's, or no lessons at all. */
LessonCatalog *lesson_catalog_load(const char *dir, const char *lang, GError **error);
void           lesson_catalog_free(LessonCatalog *catalog);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LessonCatalog, lesson_catalog_free)
/* Lesson number `number`, or NULL.  Borrowed from the catalogue. */
const Lesson  *lesson_catalog_find(const LessonCatalog *catalog, guint number);
