/* tests/fuzz/fuzz_pop3_command.c - arbitrary bytes into the POP3 layer.
 *
 * The input is parsed as a command line and then byte-stuffed, whole and
 * in pieces (which must agree), and cut by TOP; the stuffed output must
 * never contain the terminator before its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/mra/pop3_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	GError *error = NULL;
	Pop3Command *cmd = pop3_proto_parse_command(buf, size, &error);
	if (cmd) {
		if (error || (cmd->has_msg && cmd->msg == 0))
			abort();
		pop3_command_free(cmd);
	} else {
		if (!error)
			abort();
		g_error_free(error);
	}

	GString *whole = g_string_new(NULL);
	pop3_proto_append_multiline(whole, buf, size);
	/* RFC 1939 3: ".\r\n" at a line start only at the very end */
	for (gsize i = 0; i + 3 < whole->len; i++)
		if ((i == 0 || (whole->str[i - 1] == '\n' && i >= 2 && whole->str[i - 2] == '\r')) &&
		    memcmp(whole->str + i, ".\r\n", 3) == 0)
			abort();

	GString *pieces = g_string_new(NULL);
	Pop3Stuffer st = POP3_STUFFER_INIT;
	gsize step = size > 0 ? (guchar)buf[0] % 7 + 1 : 1;
	for (gsize i = 0; i < size; i += step)
		pop3_proto_stuff(&st, pieces, buf + i, MIN(step, size - i));
	pop3_proto_stuff_end(&st, pieces);
	if (!g_string_equal(whole, pieces))
		abort();

	GString *top = g_string_new(NULL);
	pop3_proto_append_top(top, buf, size, size > 0 ? (guchar)buf[size - 1] % 5 : 0);
	if (top->len > whole->len)
		abort();

	g_string_free(whole, TRUE);
	g_string_free(pieces, TRUE);
	g_string_free(top, TRUE);
	return 0;
}
