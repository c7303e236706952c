/* sim/builtin.c - look-ups in the table tools/embed.sh generates. */
#include "sim/builtin.h"

#include <glib.h>
#include <string.h>

typedef struct {
	const char          *name;
	const unsigned char *text;
} MsEmbedded;

extern const MsEmbedded ms_embedded[];
extern const MsEmbedded ms_embedded_lessons[];

const char *ms_builtin_scenario(const char *name)
{
	for (const MsEmbedded *e = ms_embedded; e->name; e++)
		if (strcmp(e->name, name) == 0)
			return (const char *)e->text;
	return NULL;
}

const char *const *ms_builtin_scenario_names(void)
{
	static const char *names[64];
	guint n = 0;
	for (const MsEmbedded *e = ms_embedded; e->name && n + 1 < G_N_ELEMENTS(names); e++)
		names[n++] = e->name;
	names[n] = NULL;
	return names;
}

const char *ms_builtin_lesson(const char *name)
{
	for (const MsEmbedded *e = ms_embedded_lessons; e->name; e++)
		if (strcmp(e->name, name) == 0)
			return (const char *)e->text;
	return NULL;
}

const char *const *ms_builtin_lesson_names(void)
{
	static const char *names[256];
	guint n = 0;
	for (const MsEmbedded *e = ms_embedded_lessons; e->name && n + 1 < G_N_ELEMENTS(names); e++)
		names[n++] = e->name;
	names[n] = NULL;
	return names;
}
