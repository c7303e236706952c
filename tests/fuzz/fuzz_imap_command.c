/* tests/fuzz/fuzz_imap_command.c - arbitrary bytes into the IMAP grammar.
 *
 * The input is a whole command as a session would assemble it.  Besides
 * parsing it, the same bytes go through literal detection, sequence-set
 * parsing and mailbox-name checking, and whatever parses is used (item
 * names, set membership) so that every field of a result is touched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/mra/imap_proto.h"

static void use_command(const ImapCommand *cmd)
{
	for (guint i = 0; cmd->fetch_items && i < cmd->fetch_items->len; i++) {
		g_autofree char *name = imap_proto_fetch_item_name(g_ptr_array_index(cmd->fetch_items, i));
		if (strncmp(name, "BODY", 4) != 0 && strlen(name) == 0)
			abort();
	}
	if (cmd->set) {
		g_autofree char *s = imap_proto_seqset_to_string(cmd->set);
		(void)imap_proto_seqset_contains(cmd->set, 1, 10);
		(void)imap_proto_seqset_contains(cmd->set, G_MAXUINT32, G_MAXUINT32);
	}
	const char *names[] = { cmd->mailbox, cmd->new_mailbox };
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		if (!names[i])
			continue;
		g_autofree char *utf8 = imap_proto_mailbox_name_check(names[i], NULL);
		if (utf8) {
			/* a name that passed can never climb out of its directory */
			gchar **parts = g_strsplit(utf8, "/", -1);
			for (guint k = 0; parts[k]; k++)
				if (!*parts[k] || !strcmp(parts[k], ".") || !strcmp(parts[k], ".."))
					abort();
			g_strfreev(parts);
			GString *out = g_string_new(NULL);
			imap_proto_append_mailbox(out, utf8);
			g_string_free(out, TRUE);
		}
	}
	if (cmd->has_date)
		(void)imap_proto_date_time_to_unix(&cmd->date_time);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	guint64 n;
	gboolean nonsync;
	ImapLiteral lit = imap_proto_line_literal(buf, size, &n, &nonsync);
	if (lit == IMAP_LITERAL_FOLLOWS && n > IMAP_PROTO_MAX_LITERAL)
		abort();

	char *tag = NULL;
	GError *error = NULL;
	ImapCommand *cmd = imap_proto_parse_command(buf, size, &tag, &error);
	if (cmd) {
		if (error || tag)
			abort();
		use_command(cmd);
		imap_command_free(cmd);
	} else {
		if (!error || error->domain != IMAP_PROTO_ERROR)
			abort();
		GString *reply = g_string_new(NULL);
		imap_proto_append_tagged(reply, tag, IMAP_COND_BAD, NULL, error->message);
		/* one reply is one line, whatever the input smuggled in */
		if (memchr(reply->str, '\n', reply->len) != reply->str + reply->len - 1)
			abort();
		g_string_free(reply, TRUE);
		g_error_free(error);
		g_free(tag);
	}

	ImapSeqSet *set = imap_proto_seqset_parse(buf, size, NULL);
	imap_proto_seqset_free(set);

	/* modified UTF-7: whatever decodes must encode back to the same bytes */
	char *str = g_strndup(buf, size);
	if (strlen(str) == size) {
		char *utf8 = imap_proto_mutf7_decode(str, NULL);
		if (utf8) {
			char *again = imap_proto_mutf7_encode(utf8, NULL);
			if (!again || strcmp(again, str) != 0)
				abort();
			g_free(again);
			g_free(utf8);
		}
		g_free(imap_proto_mailbox_name_check(str, NULL));
	}
	g_free(str);
	return 0;
}
