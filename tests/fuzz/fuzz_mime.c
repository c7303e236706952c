/* tests/fuzz/fuzz_mime.c - arbitrary bytes as a message.
 *
 * Parses the bytes into a MIME tree, checks every offset against the
 * input, and runs everything IMAP builds on the tree: ENVELOPE, BODY,
 * BODYSTRUCTURE and BODY[section] for each part.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/common/mime.h"
#include "agents/mra/imap_proto.h"

static const ImapSectionText texts[] = {
	IMAP_SECTION_BODY, IMAP_SECTION_HEADER, IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT, IMAP_SECTION_TEXT, IMAP_SECTION_MIME,
};

static void check_part(const char *data, gsize size, const MimePart *root, const MimePart *part,
                       GArray *path, GPtrArray *fields)
{
	if (part->header_start > part->header_end || part->header_end != part->body_start ||
	    part->body_start > part->body_end || part->body_end > size || !part->type || !part->subtype)
		abort();
	if (part->parent && (part->header_start < part->parent->body_start ||
	                     part->body_end > part->parent->body_end))
		abort();

	ImapSection sec = { .parts = path, .fields = fields };
	for (gsize t = 0; t < G_N_ELEMENTS(texts); t++) {
		sec.text = texts[t];
		GBytes *b = imap_proto_fetch_section(data, size, root, &sec, FALSE, 0, 0);
		GBytes *p = imap_proto_fetch_section(data, size, root, &sec, TRUE, 3, 5);
		if ((b == NULL) != (p == NULL) || (p && g_bytes_get_size(p) > 5))
			abort();
		if (b)
			g_bytes_unref(b);
		if (p)
			g_bytes_unref(p);
	}

	gsize pos = part->header_start;
	MimeHeaderField f;
	guint guard = 0;
	while (mime_header_next(data, &pos, part->header_end, &f)) {
		if (f.end > part->header_end || f.value_start > f.end || ++guard > size + 1)
			abort();
		g_free(mime_header_field_value(data, &f));
	}

	for (guint i = 0; i < part->children->len; i++) {
		const MimePart *child = g_ptr_array_index(part->children, i);
		if (child->depth != part->depth + 1 || child->depth > MIME_MAX_DEPTH)
			abort();
		/* part numbers count the parts of a multipart; a message's one
		 * child is reached through the same number as the message */
		guint32 n = mime_part_is_multipart(part) ? i + 1 : 1;
		gboolean pushed = part != root || mime_part_is_multipart(part);
		if (pushed)
			g_array_append_val(path, n);
		check_part(data, size, root, child, path, fields);
		if (pushed)
			g_array_set_size(path, path->len - 1);
		if (mime_part_is_message(part)) {
			GString *env = g_string_new(NULL);
			imap_proto_append_envelope(env, data, child);
			g_string_free(env, TRUE);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	MimePart *root = mime_parse(buf, size);
	if (!root || root->body_end != size || mime_part_count(root) > MIME_MAX_PARTS)
		abort();

	GString *out = g_string_new(NULL);
	imap_proto_append_envelope(out, buf, root);
	imap_proto_append_bodystructure(out, buf, root, TRUE);
	imap_proto_append_bodystructure(out, buf, root, FALSE);
	g_string_free(out, TRUE);

	GArray *path = g_array_new(FALSE, FALSE, sizeof(guint32));
	GPtrArray *fields = g_ptr_array_new();
	g_ptr_array_add(fields, (char *)"From");
	g_ptr_array_add(fields, (char *)"Content-Type");
	check_part(buf, size, root, root, path, fields);
	g_array_free(path, TRUE);
	g_ptr_array_free(fields, TRUE);
	mime_part_free(root);
	return 0;
}
