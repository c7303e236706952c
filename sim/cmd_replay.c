/* sim/cmd_replay.c - `mailsim replay EVENTS.jsonl`: a recorded run (the
 * JSON Lines of `mailsim run --events`, sim/kernel/sink_jsonl.c) shown in
 * the classroom view, or as the text transcript when stdout is not a
 * terminal.  The scenario named in the log's first line gives the world's
 * boxes when it can be found; --scenario names it.
 */
#include "sim/builtin.h"
#include "sim/kernel/bus.h"
#include "sim/scenario.h"
#include "ui/app.h"
#include "ui/text.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A line of the log longer than this is not one the sink wrote (a 10 MB
 * message is 14 MB of base64). */
#define REPLAY_MAX_LINE (64 * 1024 * 1024)

static GPtrArray *read_log(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		fprintf(stderr, "mailsim replay: cannot read %s: %s\n", path, g_strerror(errno));
		return NULL;
	}
	GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)ms_event_free);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	guint lineno = 0;
	gboolean ok = TRUE;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		g_autofree char *why = NULL;
		MsEvent *ev = n > REPLAY_MAX_LINE ? NULL : ms_sink_jsonl_parse_line(line, (gsize)n, &why);
		if (!ev) {
			fprintf(stderr, "%s:%u: not an event of mailsim's log: %s\n", path, lineno,
			        why ? why : "the line is too long");
			ok = FALSE;
			break;
		}
		g_ptr_array_add(events, ev);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	if (!ok) {
		g_ptr_array_free(events, TRUE);
		return NULL;
	}
	return events;
}

static Scenario *load_scenario(const char *path, gboolean quiet)
{
	g_autoptr(GError) err = NULL;
	Scenario *scn;
	if (g_str_has_prefix(path, "builtin:")) {
		const char *text = ms_builtin_scenario(path + 8);
		if (!text) {
			if (!quiet)
				fprintf(stderr, "mailsim replay: no built-in scenario \"%s\"\n", path + 8);
			return NULL;
		}
		scn = scenario_parse(text, -1, path + 8, &err);
	} else {
		scn = scenario_load_file(path, &err);
	}
	if (!scn && !quiet)
		fprintf(stderr, "%s\n", err->message);
	return scn;
}

/* The runner's first note says "TITLE (PATH), seed N". */
static char *scenario_of_log(GPtrArray *events, char **title_r)
{
	for (guint i = 0; i < events->len && i < 8; i++) {
		const MsEvent *ev = g_ptr_array_index(events, i);
		if (ev->kind != MS_EV_NOTE || g_strcmp0(ev->from, "scenario") != 0 || !ev->text)
			continue;
		const char *open = strrchr(ev->text, '(');
		const char *close = open ? strstr(open, "), seed ") : NULL;
		if (!open || !close)
			continue;
		*title_r = g_strndup(ev->text, (gsize)(open - ev->text));
		g_strchomp(*title_r);
		return g_strndup(open + 1, (gsize)(close - open - 1));
	}
	return NULL;
}

int ms_cmd_replay(int argc, char **argv)
{
	char *scenario = NULL;
	gboolean headless = FALSE, play = FALSE, verbose = FALSE;
	GOptionEntry entries[] = {
		{ "scenario", 0, 0, G_OPTION_ARG_FILENAME, &scenario, "The scenario the run played (its world gives the boxes)", "FILE" },
		{ "headless", 0, 0, G_OPTION_ARG_NONE, &headless, "Text transcript instead of the classroom view", NULL },
		{ "play", 'p', 0, G_OPTION_ARG_NONE, &play, "Start playing instead of waiting for a key", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Text: also show arrivals", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("EVENTS.jsonl - show a recorded run (mailsim run --events)");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx, "Space steps, ← steps back, p plays, ? lists every key.");
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2) {
		fprintf(stderr, "mailsim replay: %s\n", error ? error->message : "give one events file");
		g_free(scenario);
		return 2;
	}
	GPtrArray *events = read_log(argv[1]);
	if (!events) {
		g_free(scenario);
		return 2;
	}
	int rc = 0;
	if (headless || !ui_app_possible()) {
		UiTextOptions to = { .color = !headless && isatty(fileno(stdout)), .verbose = verbose };
		MsSink *text = ui_text_sink_new(stdout, &to);
		for (guint i = 0; i < events->len; i++)
			text->write(text, g_ptr_array_index(events, i));
		if (text->flush)
			text->flush(text);
		text->destroy(text);
	} else {
		g_autofree char *title = NULL;
		g_autofree char *named = scenario_of_log(events, &title);
		Scenario *scn = scenario ? load_scenario(scenario, FALSE) : named ? load_scenario(named, TRUE) : NULL;
		if (scenario && !scn)
			rc = 2;
		else {
			UiOptions uo = { .play = play, .title = scn ? NULL : title };
			rc = ui_replay(events, scn, &uo);
		}
		if (scn)
			scenario_free(scn);
	}
	g_ptr_array_free(events, TRUE);
	g_free(scenario);
	return rc;
}
