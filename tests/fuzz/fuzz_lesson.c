/* tests/fuzz/fuzz_lesson.c - libFuzzer target for the lesson parser
 * (sim/lesson.c).
 *
 * Parses arbitrary bytes as a lesson.  A failure must be one LESSON_ERROR
 * starting "FILE:LINE: "; a success must hold the header's promises: every
 * step a course step in an existing part, 3-5 questions each with its
 * answer among its choices, every text within its limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/lesson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GError *error = NULL;
	Lesson *l = lesson_parse((const char *)data, (gssize)size, "fuzz", &error);
	if (!l) {
		if (!error || error->domain != LESSON_ERROR || !g_str_has_prefix(error->message, "fuzz:") ||
		    strlen(error->message) > 512)
			abort();
		g_error_free(error);
		return 0;
	}
	if (!l->id || !l->title || !l->language || !l->intro || !l->scenario || l->number < 1 ||
	    l->number > LESSON_MAX_NUMBER || l->parts->len < 1 || l->parts->len > LESSON_MAX_PARTS ||
	    l->steps->len < 1 || l->steps->len > LESSON_MAX_STEPS || l->quiz->len < LESSON_MIN_QUIZ ||
	    l->quiz->len > LESSON_MAX_QUIZ || strlen(l->intro) > LESSON_MAX_TEXT_BYTES)
		abort();
	for (guint i = 0; i < l->steps->len; i++) {
		const LessonStep *s = g_ptr_array_index(l->steps, i);
		if (!lesson_step_is_course_step(s->step) || s->part >= l->parts->len || !s->narration ||
		    !*s->narration || strlen(s->narration) > LESSON_MAX_TEXT_BYTES ||
		    lesson_part_narration_for(l, s->part, s->step) == NULL)
			abort();
	}
	for (guint i = 0; i < l->quiz->len; i++) {
		const LessonQuestion *q = g_ptr_array_index(l->quiz, i);
		if (!q->question || !q->why || q->choices->len < LESSON_MIN_CHOICES ||
		    q->choices->len > LESSON_MAX_CHOICES || q->answer >= q->choices->len)
			abort();
	}
	lesson_free(l);
	return 0;
}
