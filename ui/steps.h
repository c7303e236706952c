/* ui/steps.h - the course's numbered steps as the classroom view shows them.
 *
 * COURSE.md gives every step an id (setup.N, out.N, in.N; docs/COURSE-STEPS.md
 * adds retr.N).  This table puts them in the course's order, gives each a
 * family (the colour of its circle) and says in one sentence what happens.
 * Pure: strings in, strings out.
 */
#pragma once

#include <glib.h>

/* The families of steps; each has its own colour on screen. */
typedef enum {
	UI_FAMILY_NONE,   /* no step, or an id of no known family */
	UI_FAMILY_SETUP,  /* setting up the client */
	UI_FAMILY_OUT,    /* sending: the course's blue path */
	UI_FAMILY_IN,     /* receiving: the course's green path */
	UI_FAMILY_RETR,   /* IMAP versus POP3 */
	UI_FAMILY_DEF,    /* defences */
	UI_FAMILY_COUNT
} UiFamily;

/* "setup", "out", "in", "retr", "def"; "" for NONE. */
const char *ui_family_to_string(UiFamily f);
/* What a class calls the family: "the blue path (sending)". */
const char *ui_family_describe(UiFamily f);

/* The family of a step id ("in.3" -> IN); NONE for NULL or anything else. */
UiFamily    ui_steps_family(const char *id);
/* The N of "in.N", 0 when id is not a step id. */
guint       ui_steps_number(const char *id);
/* Course order: setup, out, in, retr, def, then by number; ids of no family
 * sort last, by name.  NULL sorts after everything.  A GCompareFunc on
 * strings (for g_ptr_array_sort use ui_steps_compare_indirect). */
gint        ui_steps_compare(const char *a, const char *b);
gint        ui_steps_compare_indirect(gconstpointer a, gconstpointer b);

/* A few words for an arrow or a list ("MX lookup"), or NULL for an id the
 * course does not number. */
const char *ui_steps_title(const char *id);
/* One sentence saying what happens in the step, or NULL. */
const char *ui_steps_describe(const char *id);
