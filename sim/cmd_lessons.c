/* sim/cmd_lessons.c - `mailsim lessons` lists the course's lessons and
 * `mailsim lesson N` acts one out: its scenario runs while the narration of
 * each step appears just above the traffic, then the quiz and its answers.
 * The language comes from --lang, else LC_ALL / LC_MESSAGES / LANG.
 */
#include "sim/lesson.h"
#include "sim/lesson_sink.h"
#include "sim/runner.h"
#include "ui/app.h"
#include "ui/text.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static LessonCatalog *load_catalog(const char *cmd, const char *dir, const char *lang)
{
	g_autoptr(GError) error = NULL;
	LessonCatalog *cat = lesson_catalog_load(dir, lang, &error);
	if (!cat) {
		fprintf(stderr, "mailsim %s: %s\n", cmd, error->message);
		if (!dir && !lesson_language_name(lang)) {
			g_autofree char *all = g_strjoinv(", ", (char **)lesson_languages());
			fprintf(stderr, "  hint: the lessons are written in %s\n", all);
		}
	}
	return cat;
}

/* Pad s to width display columns. */
static void print_padded(const char *s, guint width)
{
	fputs(s, stdout);
	for (glong i = g_utf8_strlen(s, -1); i < (glong)width; i++)
		fputc(' ', stdout);
}

int ms_cmd_lessons(int argc, char **argv)
{
	char *lang_opt = NULL, *dir = NULL;
	GOptionEntry entries[] = {
		{ "lang", 'l', 0, G_OPTION_ARG_STRING, &lang_opt, "Language of the lessons: en, fr or de (default: from LANG)", "LANG" },
		{ "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "Read the lessons from DIR/LANG/*.lesson instead of the built-in ones", "DIR" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- list the lessons of the course");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 1) {
		fprintf(stderr, "mailsim lessons: %s\n", error ? error->message : "no arguments wanted besides the options");
		g_free(lang_opt);
		g_free(dir);
		return 2;
	}
	const char *lang = lang_opt ? lang_opt : lesson_language_from_env();
	g_autoptr(LessonCatalog) cat = load_catalog("lessons", dir, lang);
	int rc = 2;
	if (cat) {
		guint width = 0;
		for (guint i = 0; i < cat->lessons->len; i++) {
			const Lesson *l = g_ptr_array_index(cat->lessons, i);
			width = MAX(width, (guint)g_utf8_strlen(l->title, -1));
		}
		const char *name = lesson_language_name(lang);
		printf("%s (%s)%s mailsim lesson N --lang %s\n", lesson_word(lang, LESSON_WORD_LESSONS), name ? name : lang,
		       lesson_word(lang, LESSON_WORD_COLON), lang);
		for (guint i = 0; i < cat->lessons->len; i++) {
			const Lesson *l = g_ptr_array_index(cat->lessons, i);
			printf("  %2u  ", l->number);
			print_padded(l->title, width);
			printf("  %s", l->scenario);
			if (l->parts->len > 1)
				printf(" +%u", l->parts->len - 1);
			putchar('\n');
		}
		rc = 0;
	}
	g_free(lang_opt);
	g_free(dir);
	return rc;
}

/* Where a part's scenario is: beside the lesson directory when the lessons
 * come from files (DIR/../scenarios/NAME), else the built-in copy. */
static char *scenario_path(const char *dir, const char *name)
{
	if (dir) {
		g_autofree char *path = g_build_filename(dir, "..", "scenarios", name, NULL);
		if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
			return g_steal_pointer(&path);
	}
	return g_strdup_printf("builtin:%s", name);
}

static void print_wrapped(const char *text, const char *first, const char *indent)
{
	g_autofree char *s = lesson_sink_wrap(text, first, indent, LESSON_SINK_WIDTH);
	fputs(s, stdout);
}

static void print_quiz(const Lesson *l)
{
	const char *lang = l->language;
	printf("\n%s\n", lesson_word(lang, LESSON_WORD_QUIZ));
	for (guint i = 0; i < l->quiz->len; i++) {
		const LessonQuestion *q = g_ptr_array_index(l->quiz, i);
		g_autofree char *num = g_strdup_printf("%2u. ", i + 1);
		print_wrapped(q->question, num, "    ");
		for (guint c = 0; c < q->choices->len; c++) {
			g_autofree char *letter = g_strdup_printf("      %c) ", 'a' + c);
			print_wrapped(g_ptr_array_index(q->choices, c), letter, "         ");
		}
		g_autofree char *answer = g_strdup_printf("%s%s %c) %s. %s", lesson_word(lang, LESSON_WORD_ANSWER),
		                                          lesson_word(lang, LESSON_WORD_COLON), 'a' + q->answer,
		                                          (const char *)g_ptr_array_index(q->choices, q->answer), q->why);
		print_wrapped(answer, "    → ", "      ");
	}
}

/* What the classroom view asks for each step: this part's narration. */
typedef struct {
	const Lesson *lesson;
	guint         part;
} Narrator;

static const char *narrate_step(gpointer data, const char *step)
{
	const Narrator *n = data;
	return lesson_part_narration_for(n->lesson, n->part, step);
}

/* Act out one part in the classroom view; *quit_r tells whether the user
 * left before the end.  Returns the runner's exit code. */
static int run_part_in_ui(const Lesson *l, guint part, const char *path, gboolean *quit_r)
{
	Narrator n = { l, part };
	g_autofree char *title = g_strdup_printf("%s %u%s %s", lesson_word(l->language, LESSON_WORD_LESSON), l->number,
	                                         lesson_word(l->language, LESSON_WORD_COLON), l->title);
	UiOptions uo = { .title = title, .narrate = narrate_step, .narrate_data = &n };
	UiApp *app = ui_app_new(&uo);
	MsRunOptions o = { .until = -1, .quiet = TRUE, .extra_sink = ui_app_sink(app),
	                   .attach = ui_app_attach, .finish = ui_app_finish, .front_data = app };
	int rc = ms_runner_run(path, &o);
	*quit_r = ui_app_quit_early(app);
	ui_app_free(app);
	return rc;
}

/* Act out one part as text: its scenario with the narrating sink around
 * the text transcript.  Returns the runner's exit code. */
static int run_part(const Lesson *l, guint part, const char *dir, gboolean ui, gboolean *quit_r, GPtrArray *shown)
{
	const LessonPart *p = g_ptr_array_index(l->parts, part);
	g_autofree char *path = scenario_path(dir, p->scenario);
	gboolean color = isatty(STDOUT_FILENO) && !g_getenv("NO_COLOR");
	if (l->parts->len > 1) {
		printf("\n── %s %u %s %u: %s ──\n", lesson_word(l->language, LESSON_WORD_PART), part + 1,
		       lesson_word(l->language, LESSON_WORD_OF), l->parts->len, p->scenario);
		if (p->intro)
			print_wrapped(p->intro, "", "");
		putchar('\n');
	}
	if (ui) {
		/* the class reads the introduction before the view covers it */
		printf("%s … ", lesson_word(l->language, LESSON_WORD_ENTER));
		fflush(stdout);
		char line[LESSON_MAX_LINE_BYTES];
		if (!fgets(line, sizeof line, stdin))
			putchar('\n');
		return run_part_in_ui(l, part, path, quit_r);
	}
	fflush(stdout);
	UiTextOptions to = { .color = color };
	LessonSinkOptions lo = { .out = stdout, .color = color };
	/* quiet: the runner's own transcript would come before the sink's
	 * narration; the lesson sink prints the transcript itself, after it. */
	MsRunOptions o = { .until = -1, .quiet = TRUE, .color = color,
	                   .extra_sink = lesson_sink_new(l, part, ui_text_sink_new(stdout, &to), &lo, shown) };
	return ms_runner_run(path, &o);
}

/* Tell lesson `number`: introduction, each part with its narration, quiz. */
static int tell_lesson(guint number, const char *lang, const char *dir, gboolean ui)
{
	g_autoptr(LessonCatalog) cat = load_catalog("lesson", dir, lang);
	if (!cat)
		return 2;
	const Lesson *l = lesson_catalog_find(cat, number);
	if (!l) {
		fprintf(stderr, "mailsim lesson: there is no lesson %u in %s (mailsim lessons --lang %s lists them)\n",
		        number, lang, lang);
		return 2;
	}
	const char *colon = lesson_word(lang, LESSON_WORD_COLON);
	printf("%s %u%s %s\n", lesson_word(lang, LESSON_WORD_LESSON), l->number, colon, l->title);
	printf("%s%s %s", lesson_word(lang, LESSON_WORD_SCENARIO), colon, l->scenario);
	for (guint i = 1; i < l->parts->len; i++)
		printf(", %s", ((const LessonPart *)g_ptr_array_index(l->parts, i))->scenario);
	printf("\n\n");
	print_wrapped(l->intro, "", "");
	putchar('\n');

	int rc = 0;
	gboolean quit = FALSE;
	for (guint part = 0; part < l->parts->len && rc != 2 && !quit; part++) {
		g_autoptr(GPtrArray) shown = g_ptr_array_new_with_free_func(g_free);
		int part_rc = run_part(l, part, dir, ui, &quit, shown);
		rc = MAX(rc, part_rc);
		/* A narration its scenario never reached is a mistake of the
		 * lesson (or of the scenario): say so, the teacher can fix it.
		 * (The classroom view asks for narrations itself: no record.) */
		for (guint i = 0; i < l->steps->len && part_rc != 2 && !ui; i++) {
			const LessonStep *s = g_ptr_array_index(l->steps, i);
			gboolean seen = FALSE;
			for (guint j = 0; j < shown->len && !seen; j++)
				seen = strcmp(g_ptr_array_index(shown, j), s->step) == 0;
			if (s->part == part && !seen)
				fprintf(stderr, "mailsim lesson: %s:%u: step %s is narrated but never happened in %s\n",
				        l->source, s->line, s->step, ((const LessonPart *)g_ptr_array_index(l->parts, part))->scenario);
		}
	}
	if (rc != 2)
		print_quiz(l);
	return rc;
}

int ms_cmd_lesson(int argc, char **argv)
{
	char *lang_opt = NULL, *dir = NULL;
	gboolean headless = FALSE;
	GOptionEntry entries[] = {
		{ "lang", 'l', 0, G_OPTION_ARG_STRING, &lang_opt, "Language of the lesson: en, fr or de (default: from LANG)", "LANG" },
		{ "headless", 0, 0, G_OPTION_ARG_NONE, &headless, "Narration and transcript as text instead of the classroom view", NULL },
		{ "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "Read the lessons from DIR/LANG/*.lesson instead of the built-in ones", "DIR" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("N - act out lesson N of the course (mailsim lessons lists them)");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx, "Exit status: 0 the lesson's scenario ran as expected, 1 an expectation failed, 2 bad usage or a broken lesson.");
	g_autoptr(GError) error = NULL;
	guint64 number = 0;
	int rc = 2;
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2 ||
	    !g_ascii_string_to_unsigned(argv[1], 10, 1, LESSON_MAX_NUMBER, &number, NULL)) {
		fprintf(stderr, "mailsim lesson: %s\n", error ? error->message : "give the number of one lesson (mailsim lessons lists them)");
	} else {
		/* The classroom view when there is a terminal for it; the quiz
		 * follows as text once the view is closed. */
		gboolean ui = !headless && ui_app_possible();
		rc = tell_lesson((guint)number, lang_opt ? lang_opt : lesson_language_from_env(), dir, ui);
	}
	g_free(lang_opt);
	g_free(dir);
	return rc;
}
