/* tests/fuzz/fuzz_queue_envelope.c - arbitrary bytes as a queue envelope.
 *
 * The input is an ID.env file for mta_queue_envelope_parse, a reply for
 * mta_queue_rcpt_set_reply and an id for mta_queue_id_validate.  Checks
 * what must hold whatever the bytes: no crash, no leak, every limit kept,
 * and what parses formats to text that parses to the same entry and
 * formats to the same text again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/mta/queue.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void check_entry(const MtaQueueEntry *e)
{
	CHECK(mta_queue_id_validate(e->id, NULL));
	CHECK(strlen(e->from) <= MTA_QUEUE_MAX_ADDRESS);
	CHECK(e->arrival_us >= 0 && e->size <= MTA_QUEUE_MAX_MESSAGE_SIZE);
	CHECK(e->rcpts->len >= 1 && e->rcpts->len <= MTA_QUEUE_MAX_RCPTS);
	for (guint i = 0; i < e->rcpts->len; i++) {
		const MtaQueueRcpt *r = g_ptr_array_index(e->rcpts, i);
		CHECK(r->address[0] != '\0' && strlen(r->address) <= MTA_QUEUE_MAX_ADDRESS);
		CHECK(strlen(r->last_reply) <= MTA_QUEUE_MAX_REPLY);
		CHECK(r->attempts <= MTA_QUEUE_MAX_ATTEMPTS && r->next_attempt_us >= 0);
		CHECK(strcmp(mta_queue_rcpt_state_to_string(r->state), "unknown") != 0);
	}
	if (mta_queue_entry_is_done(e))
		CHECK(mta_queue_entry_next_attempt(e) == G_MAXINT64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	GError *error = NULL;
	MtaQueueEntry *e = mta_queue_envelope_parse(text, size, &error);
	if (e) {
		CHECK(error == NULL);
		check_entry(e);
		char *out = mta_queue_envelope_format(e);
		MtaQueueEntry *back = mta_queue_envelope_parse(out, strlen(out), NULL);
		CHECK(back != NULL);
		char *again = mta_queue_envelope_format(back);
		CHECK(strcmp(out, again) == 0);

		/* any reply, cut to the limit, still formats to a valid envelope */
		char *reply = g_strndup(text, size);
		mta_queue_rcpt_set_reply(g_ptr_array_index(back->rcpts, 0), reply);
		CHECK(strlen(((MtaQueueRcpt *)g_ptr_array_index(back->rcpts, 0))->last_reply) <=
		      MTA_QUEUE_MAX_REPLY);
		char *with_reply = mta_queue_envelope_format(back);
		MtaQueueEntry *third = mta_queue_envelope_parse(with_reply, strlen(with_reply), NULL);
		CHECK(third != NULL);
		CHECK(strcmp(((MtaQueueRcpt *)g_ptr_array_index(third->rcpts, 0))->last_reply,
		             ((MtaQueueRcpt *)g_ptr_array_index(back->rcpts, 0))->last_reply) == 0);
		mta_queue_entry_free(third);
		g_free(with_reply);
		g_free(reply);
		g_free(again);
		g_free(out);
		mta_queue_entry_free(back);
		mta_queue_entry_free(e);
	} else {
		CHECK(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
		g_error_free(error);
	}

	/* the same bytes as an id: accepted only if letters and digits */
	char *id = g_strndup(text, MIN(size, 100));
	if (mta_queue_id_validate(id, NULL)) {
		CHECK(strlen(id) >= 1 && strlen(id) <= MTA_QUEUE_MAX_ID);
		for (const char *p = id; *p; p++)
			CHECK(g_ascii_isalnum(*p));
	}
	g_free(id);

	if (size >= 2) {
		gint64 b = mta_queue_backoff(data[0], (gint64)data[1] + 1, MTA_QUEUE_MAXIMAL_BACKOFF_US);
		CHECK(b >= 0 && b <= MTA_QUEUE_MAXIMAL_BACKOFF_US);
	}
	return 0;
}
