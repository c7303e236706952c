/* sim/builtin.h - the scenarios compiled into mailsim (from scenarios/). */
#pragma once

/* The text of a built-in scenario ("course.scn"), or NULL. */
const char *ms_builtin_scenario(const char *name);
/* Names of every built-in scenario, NULL-terminated (borrowed). */
const char *const *ms_builtin_scenario_names(void);
