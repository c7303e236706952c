/* tests/fuzz/fuzz_sieve.c - libFuzzer target for agents/mda/sieve.c.
 *
 * Input without a NUL byte: a script.  Parse it, write it back, check the
 * canonical form parses to the same AST, and run it against a fixed
 * message.  Input "value\0pattern": compare :matches with a naive
 * backtracking matcher on short inputs, where the naive one is still fast.
 */
#include "agents/mda/sieve.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inputs small enough for the exponential reference matcher. */
#define FUZZ_REFERENCE_MAX       24
#define FUZZ_REFERENCE_MAX_STARS 5

static const char *const fuzz_headers[] = {
	"From", "\"Bob\" <bob@example.org>",
	"To", "alice@example.com, team: carol@example.net, <@route:dave@x.example>;",
	"Cc", "(comment) \"quoted, name\" <erin@example.com>",
	"Subject", "[lists] Weekly \xc3\xa9 News *?\\",
	"Received", "from a by b",
	"Received", "from c by d",
	"Auto-Submitted", "no",
	"X-Empty", "",
	NULL,
};

static void fuzz_get_header(const SieveMessage *msg, const char *name, GPtrArray *values)
{
	for (const char *const *h = fuzz_headers; *h; h += 2)
		if (g_ascii_strcasecmp(h[0], name) == 0)
			g_ptr_array_add(values, g_strdup(h[1]));
}

static void fuzz_script(const char *text, size_t size)
{
	SieveScript *script = sieve_script_parse(text, size, NULL);
	if (!script)
		return;

	char *plain = sieve_script_to_string(script, SIEVE_DUMP_PLAIN);
	char *positions = sieve_script_to_string(script, SIEVE_DUMP_POSITIONS);
	/* the canonical form is a script with the same meaning */
	if (strlen(plain) <= SIEVE_MAX_SCRIPT_SIZE) {
		GError *error = NULL;
		SieveScript *again = sieve_script_parse(plain, strlen(plain), &error);
		if (!again) {
			fprintf(stderr, "canonical form does not parse: %s\n%s\n", error->message, plain);
			abort();
		}
		char *plain2 = sieve_script_to_string(again, SIEVE_DUMP_PLAIN);
		if (strcmp(plain, plain2) != 0) {
			fprintf(stderr, "round trip changed:\n%s\n%s\n", plain, plain2);
			abort();
		}
		g_free(plain2);
		sieve_script_free(again);
	}

	SieveMessage msg = {
		.get_header = fuzz_get_header,
		.envelope_from = "bob@example.org",
		.envelope_to = "alice@example.com",
		.size = 12345,
	};
	GPtrArray *actions = sieve_script_evaluate(script, &msg, NULL);
	if (!actions || actions->len == 0)
		abort();  /* there is always at least the implicit keep or an action */
	g_ptr_array_unref(actions);

	msg.envelope_from = "";
	msg.envelope_to = NULL;
	actions = sieve_script_evaluate(script, &msg, NULL);
	g_ptr_array_unref(actions);

	g_free(plain);
	g_free(positions);
	sieve_script_free(script);
}

static gboolean ref_equal(char a, char b, SieveComparator cmp)
{
	return cmp == SIEVE_COMPARATOR_OCTET ? a == b : g_ascii_tolower(a) == g_ascii_tolower(b);
}

/* The textbook recursive glob: tries every split, exponential at worst. */
static gboolean ref_matches(const char *t, const char *t_end, const char *p, const char *p_end,
                            SieveComparator cmp)
{
	if (p == p_end)
		return t == t_end;
	if (*p == '*') {
		for (const char *s = t;; s = g_utf8_next_char(s)) {
			if (ref_matches(s, t_end, p + 1, p_end, cmp))
				return TRUE;
			if (s >= t_end)
				return FALSE;
		}
	}
	if (t == t_end)
		return FALSE;
	if (*p == '?')
		return ref_matches(g_utf8_next_char(t), t_end, p + 1, p_end, cmp);
	if (*p == '\\' && p + 1 < p_end)
		p++;
	return ref_equal(*p, *t, cmp) && ref_matches(t + 1, t_end, p + 1, p_end, cmp);
}

static void fuzz_matcher(const char *data, size_t size, size_t nul)
{
	char *value = g_strndup(data, nul);
	char *key = g_strndup(data + nul + 1, size - nul - 1);
	SieveComparator cmp = size % 2 ? SIEVE_COMPARATOR_OCTET : SIEVE_COMPARATOR_ASCII_CASEMAP;
	gboolean got = sieve_string_matches(value, key, SIEVE_MATCH_MATCHES, cmp);
	(void)sieve_string_matches(value, key, SIEVE_MATCH_CONTAINS, cmp);
	(void)sieve_string_matches(value, key, SIEVE_MATCH_IS, cmp);

	gsize vlen = strlen(value), klen = strlen(key), stars = 0;
	for (const char *c = key; *c; c++)
		stars += *c == '*';
	if (vlen <= FUZZ_REFERENCE_MAX && klen <= FUZZ_REFERENCE_MAX &&
	    stars <= FUZZ_REFERENCE_MAX_STARS &&
	    g_utf8_validate(value, -1, NULL) && g_utf8_validate(key, -1, NULL)) {
		gboolean want = ref_matches(value, value + vlen, key, key + klen, cmp);
		if (got != want) {
			fprintf(stderr, "\"%s\" :matches \"%s\": got %d, reference %d\n", value, key,
			        got, want);
			abort();
		}
	}
	g_free(value);
	g_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = memchr(text, '\0', size);
	if (nul)
		fuzz_matcher(text, size, (size_t)(nul - text));
	else
		fuzz_script(text, size);
	return 0;
}
