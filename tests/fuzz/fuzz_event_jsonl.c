/* tests/fuzz/fuzz_event_jsonl.c - libFuzzer target for the JSON Lines
 * reader (`mailsim replay` reads files given to it) and for the pcap writer
 * fed what it reads.
 *
 * A line that parses must carry a net that keeps the contract
 * (sim/kernel/event.h), must write as a line that parses to the same
 * bytes again, and goes to one pcap writer kept across inputs, so SYNs,
 * accepts and data from different inputs meet in its state machine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/pcap_writer.h"
#include "sim/kernel/bus.h"

static char *to_line(const MsEvent *ev)
{
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);
	MsSink *sink = ms_sink_jsonl_new(mem, FALSE);
	sink->write(sink, ev);
	sink->destroy(sink);
	fclose(mem);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static MsSink *writer;
	if (!writer && !(writer = pcap_writer_new("/dev/null", NULL, NULL)))
		abort();
	char *why = NULL;
	MsEvent *ev = ms_sink_jsonl_parse_line((const char *)data, size, &why);
	if (!ev) {
		if (!why)
			abort();
		g_free(why);
		return 0;
	}
	if (why || !ms_net_info_valid(&ev->net))
		abort();
	char *line = to_line(ev);
	MsEvent *again = ms_sink_jsonl_parse_line(line, strlen(line), &why);
	if (!again)
		abort();
	char *line2 = to_line(again);
	if (strcmp(line, line2) != 0)
		abort();
	writer->write(writer, ev);
	free(line);
	free(line2);
	ms_event_free(again);
	ms_event_free(ev);
	return 0;
}
