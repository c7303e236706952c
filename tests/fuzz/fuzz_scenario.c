/* tests/fuzz/fuzz_scenario.c - libFuzzer target for the scenario file parser.
 *
 * Parses arbitrary bytes as a scenario.  A failure must be one SCENARIO_ERROR
 * of bounded length; a success must hold its promises: actions by time,
 * every name resolvable, durations that print and read back.  The bytes are
 * also fed to the value parsers alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenario.h"

static void check_values(const char *text)
{
	gint64 us;
	guint64 n;
	if (scenario_parse_duration(text, &us)) {
		char *again = scenario_format_duration(us);
		gint64 round;
		if (again == NULL || !scenario_parse_duration(again, &round) || round != us)
			abort();
		g_free(again);
	}
	if (scenario_parse_rate(text, &n) && (n == 0 || n > SCENARIO_MAX_RATE))
		abort();
	if (scenario_parse_size(text, &n) && n > SCENARIO_MAX_SIZE)
		abort();
	char **items = scenario_setting_list(text);
	for (char **item = items; *item != NULL; item++)
		if (**item == '\0')
			abort();
	g_strfreev(items);
	(void)scenario_step_id_valid(text);
}

static void check_scenario(const Scenario *scn)
{
	if (scn->title == NULL)
		abort();
	for (guint i = 0; i < scn->hosts->len; i++) {
		const ScenarioHost *host = scn->hosts->pdata[i];
		if (scenario_find_host(scn, host->name) != host || scenario_find_host_by_address(scn, host->address) != host)
			abort();
	}
	for (guint i = 0; i < scn->users->len; i++) {
		const ScenarioUser *user = scn->users->pdata[i];
		if (scenario_find_user(scn, user->address) != user || scenario_find_host(scn, user->host) == NULL)
			abort();
		if (scenario_find_domain(scn, strchr(user->address, '@') + 1) == NULL)
			abort();
	}
	for (guint i = 0; i < scn->clients->len; i++) {
		const ScenarioClient *client = scn->clients->pdata[i];
		if (scenario_find_client(scn, client->name) != client || client->host == NULL)
			abort();
	}
	for (guint i = 0; i < scn->settings->len; i++) {
		const ScenarioSetting *setting = scn->settings->pdata[i];
		if (setting->items == NULL || scenario_find_setting(scn, setting->host, setting->name) == NULL)
			abort();
	}
	gint64 last = 0;
	for (guint i = 0; i < scn->actions->len; i++) {
		const ScenarioAction *action = scn->actions->pdata[i];
		if (action->time_us < last || action->text == NULL)
			abort();
		last = action->time_us;
		g_free(scenario_format_duration(action->time_us));
		(void)scenario_action_kind_to_string(action->kind);
		if (action->kind == SCENARIO_ACTION_RAW_SESSION && (action->data == NULL || action->host == NULL ||
		                                                    scenario_find_host(scn, action->host) == NULL))
			abort();
		if (action->client != NULL && scenario_find_client(scn, action->client) == NULL)
			abort();
	}
	for (guint i = 0; i < scn->expects->len; i++) {
		const ScenarioExpect *expect = scn->expects->pdata[i];
		if (expect->steps != NULL && (expect->steps->len == 0 || expect->steps->len > SCENARIO_MAX_STEPS_IN_LIST))
			abort();
		for (guint k = 0; expect->steps != NULL && k < expect->steps->len; k++)
			if (!scenario_step_id_valid(expect->steps->pdata[k]))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GError *error = NULL;
	/* From exactly size bytes: no NUL after them to lean on. */
	const char *text = size > 0 ? (const char *)data : "";
	/* An internet line may rightly ask for a million messages; the fuzzer
	 * reads every line it can write, small, as make check runs it. */
	static const ScenarioScale small = { .domains = 3, .users = 7, .messages = 20 };
	Scenario *scn = scenario_parse_scaled(text, (gssize)size, "fuzz.scn", &small, &error);
	if (scn == NULL) {
		if (error == NULL || error->domain != SCENARIO_ERROR || error->message[0] == '\0')
			abort();
		/* Bounded: at most SCENARIO_MAX_ERRORS problems, a hint each, one "stopping" line. */
		guint lines = 1;
		for (const char *s = error->message; *s != '\0'; s++)
			lines += *s == '\n';
		if (lines > 2 * SCENARIO_MAX_ERRORS + 1)
			abort();
		g_error_free(error);
	} else {
		check_scenario(scn);
		scenario_free(scn);
	}

	if (size <= 256) {
		char *text = g_strndup((const char *)data, size);
		check_values(text);
		g_free(text);
	}
	return 0;
}
