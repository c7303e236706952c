/* tests/fuzz/fuzz_imap_response.c - the IMAP client's response reader on
 * arbitrary bytes.
 *
 * The input is read twice: whole, as one response; and framed the way the
 * session frames a stream (a line, and for each literal its bytes and the
 * line after them), each response parsed.  Every value of every response
 * is walked, and the FETCH helpers are asked about it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/mua/imap_client.h"

static gsize walk(const ImapValue *v, guint depth)
{
	if (depth > IMAP_CLIENT_MAX_DEPTH + 1)
		abort();   /* the reader promised a bound */
	gsize n = 1;
	guint32 number;
	switch (v->kind) {
	case IMAP_VALUE_ATOM:
		if (!v->str || strlen(v->str) != v->len)
			abort();
		imap_value_get_number(v, &number);
		break;
	case IMAP_VALUE_STRING:
		if (!v->str || v->str[v->len] != '\0')
			abort();
		break;
	case IMAP_VALUE_NIL:
		break;
	case IMAP_VALUE_LIST:
		for (guint i = 0; i < v->items->len; i++)
			n += walk(g_ptr_array_index(v->items, i), depth + 1);
		break;
	}
	return n;
}

static void check(const char *buf, gsize len)
{
	ImapResponse *r = imap_client_parse_response(buf, len, NULL);
	if (!r)
		return;
	gsize values = 0;
	if (r->kind == IMAP_RESPONSE_DATA) {
		for (guint i = 0; i < r->args->len; i++)
			values += walk(g_ptr_array_index(r->args, i), 0);
		if (values > IMAP_CLIENT_MAX_VALUES)
			abort();
		static const char *const items[] = { "UID", "FLAGS", "BODY[]", "RFC822.SIZE", "INTERNALDATE" };
		for (guint i = 0; i < G_N_ELEMENTS(items); i++) {
			const ImapValue *v = imap_response_fetch_item(r, items[i]);
			if (v)
				walk(v, 0);
		}
	} else if (!r->text || !g_utf8_validate(r->text, -1, NULL)) {
		abort();   /* status and continuation text is always there, and UTF-8 */
	}
	imap_response_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	check(in, size);

	/* The session's framing: lines end with LF (a CR before it dropped);
	 * a data response's line ending in {N} is followed by N bytes. */
	gsize off = 0;
	guint responses = 0;
	while (off < size && responses++ < 1000) {
		GString *buf = g_string_new(NULL);
		gboolean first = TRUE, literals = FALSE;
		for (;;) {
			const char *lf = memchr(in + off, '\n', size - off);
			gsize end = lf ? (gsize)(lf - in) : size;
			gsize n = end - off;
			if (n > 0 && in[end - 1] == '\r')
				n--;
			g_string_append_len(buf, in + off, (gssize)n);
			if (first)
				literals = imap_client_line_may_have_literal(in + off, n);
			first = FALSE;
			off = lf ? end + 1 : size;
			guint64 lit = 0;
			if (!literals || imap_proto_line_literal(buf->str + buf->len - n, n, &lit, NULL) != IMAP_LITERAL_FOLLOWS)
				break;
			if (lit > size - off)
				lit = size - off;   /* the stream ended inside the literal */
			g_string_append(buf, "\r\n");
			g_string_append_len(buf, in + off, (gssize)lit);
			off += (gsize)lit;
			if (off >= size)
				break;
		}
		check(buf->str, buf->len);
		g_string_free(buf, TRUE);
	}
	return 0;
}
