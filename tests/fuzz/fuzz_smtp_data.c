/* tests/fuzz/fuzz_smtp_data.c - arbitrary bytes after "354".
 *
 * Splits the input into lines the way ms_conn_read_line does (CRLF, bare
 * LF, bare CR, TOO_LONG, EOF) and feeds the DATA reader, with the default
 * limits and with tiny ones.  The smuggling invariant is checked on every
 * input: the reader may only say END right after a real CRLF "." CRLF.  An
 * accepted body must round-trip through the client's dot-stuffer, and its
 * header goes through the RFC 5322 parser as the MTA's would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/mta/smtp_proto.h"
#include "agents/common/rfc5322.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* Feed data to a reader line by line; returns the status and sets
 * *consumed to the bytes the lines took up. */
static SmtpDataStatus feed_all(SmtpDataReader *reader, const char *data, gsize size, gsize max,
                               gsize *consumed)
{
	gsize pos = 0;
	SmtpDataStatus st = SMTP_DATA_CONTINUE;
	while (st == SMTP_DATA_CONTINUE) {
		gsize start = pos;
		while (pos < size && data[pos] != '\r' && data[pos] != '\n' && pos - start < max)
			pos++;
		gsize len = pos - start;
		SmtpEol eol;
		if (pos < size && data[pos] != '\r' && data[pos] != '\n') {
			/* Cut at max: the rest of the line, through its ending, is dropped. */
			eol = SMTP_EOL_TOO_LONG;
			while (pos < size && data[pos] != '\r' && data[pos] != '\n')
				pos++;
			if (pos < size)
				pos += (data[pos] == '\r' && pos + 1 < size && data[pos + 1] == '\n') ? 2 : 1;
		} else if (pos >= size) {
			eol = SMTP_EOL_EOF;
		} else if (data[pos] == '\n') {
			eol = SMTP_EOL_LF;
			pos++;
		} else if (pos + 1 < size && data[pos + 1] == '\n') {
			eol = SMTP_EOL_CRLF;
			pos += 2;
		} else {
			eol = SMTP_EOL_CR;
			pos++;
		}
		st = smtp_proto_data_reader_feed(reader, data + start, len, eol);
	}
	*consumed = pos;
	return st;
}

static gboolean has_bare_eol(const char *s, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (s[i] == '\r' && (i + 1 >= len || s[i + 1] != '\n'))
			return TRUE;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return TRUE;
	}
	return FALSE;
}

static void check_header(const GString *body)
{
	Rfc5322Header *header = rfc5322_parse_header(body->str, body->len, NULL);
	if (!header)
		return;
	CHECK(header->body_offset <= body->len);
	static const char *const names[] = { "From", "To", "Cc" };
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		const char *value = rfc5322_header_get(header, names[i]);
		if (!value)
			continue;
		GPtrArray *list = rfc5322_parse_address_list(value, strlen(value), NULL);
		if (list) {
			CHECK(list->len <= RFC5322_MAX_ADDRESSES);
			g_ptr_array_unref(list);
		}
	}
	rfc5322_header_free(header);
}

static void run(const char *data, gsize size, const SmtpLimits *limits, gsize max)
{
	SmtpDataReader *reader = smtp_proto_data_reader_new(limits);
	gsize consumed = 0;
	SmtpDataStatus st = feed_all(reader, data, size, max, &consumed);
	SmtpDataOutcome outcome = smtp_proto_data_reader_outcome(reader);
	const GString *body = smtp_proto_data_reader_body(reader);
	CHECK(consumed <= size);

	if (st == SMTP_DATA_END) {
		/* RFC 5321 4.1.1.4: the end is CRLF "." CRLF, nothing else. */
		CHECK(consumed >= 3 && memcmp(data + consumed - 3, ".\r\n", 3) == 0);
		CHECK(consumed == 3 || (consumed >= 5 && memcmp(data + consumed - 5, "\r\n", 2) == 0));
	}
	if (outcome == SMTP_DATA_OUTCOME_OK) {
		CHECK(body->len <= limits->message_size);
		CHECK(!has_bare_eol(body->str, body->len));
	} else {
		CHECK(body->len == 0);
	}
	/* A message with a bare line ending anywhere before its end is refused. */
	if (st == SMTP_DATA_END && has_bare_eol(data, consumed))
		CHECK(outcome != SMTP_DATA_OUTCOME_OK);

	if (st == SMTP_DATA_END && outcome == SMTP_DATA_OUTCOME_OK) {
		check_header(body);
		/* What the server stored, a client sends back identically. */
		GString *wire = g_string_new(NULL);
		smtp_proto_dot_stuff(wire, body->str, body->len);
		SmtpDataReader *again = smtp_proto_data_reader_new(limits);
		gsize used = 0;
		CHECK(feed_all(again, wire->str, wire->len, max, &used) == SMTP_DATA_END);
		CHECK(used == wire->len);
		CHECK(smtp_proto_data_reader_outcome(again) == SMTP_DATA_OUTCOME_OK);
		const GString *b2 = smtp_proto_data_reader_body(again);
		CHECK(b2->len == body->len && memcmp(b2->str, body->str, body->len) == 0);
		smtp_proto_data_reader_free(again);
		g_string_free(wire, TRUE);
	}
	smtp_proto_data_reader_free(reader);
}

/* The client's side: any bytes, dot-stuffed, reach the server whole. */
static void run_stuffed(const char *data, gsize size)
{
	GString *wire = g_string_new(NULL);
	smtp_proto_dot_stuff(wire, data, size);
	CHECK(!has_bare_eol(wire->str, wire->len));
	SmtpDataReader *reader = smtp_proto_data_reader_new(NULL);
	gsize used = 0;
	/* A connection buffer larger than any line: only the reader judges. */
	CHECK(feed_all(reader, wire->str, wire->len, wire->len + 1, &used) == SMTP_DATA_END);
	CHECK(used == wire->len);
	SmtpDataOutcome outcome = smtp_proto_data_reader_outcome(reader);
	CHECK(outcome == SMTP_DATA_OUTCOME_OK || outcome == SMTP_DATA_OUTCOME_LINE_TOO_LONG);
	smtp_proto_data_reader_free(reader);
	g_string_free(wire, TRUE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	SmtpLimits limits = SMTP_LIMITS_INIT;
	run(s, size, &limits, 4096);

	limits.message_size = 64;
	limits.text_line = 40;
	run(s, size, &limits, 80);

	run_stuffed(s, size);
	return 0;
}
