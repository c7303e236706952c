/* sim/builtin.h - the scenarios and lessons compiled into mailsim (from
 * scenarios/ and lessons/). */
#pragma once

/* The text of a built-in scenario ("course.scn"), or NULL. */
const char *ms_builtin_scenario(const char *name);
/* Names of every built-in scenario, NULL-terminated (borrowed). */
const char *const *ms_builtin_scenario_names(void);

/* The text of a built-in lesson, named by its path under lessons/
 * ("en/1-roles.lesson"), or NULL. */
const char *ms_builtin_lesson(const char *name);
/* Names of every built-in lesson, NULL-terminated (borrowed). */
const char *const *ms_builtin_lesson_names(void);
