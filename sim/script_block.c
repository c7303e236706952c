/* sim/script_block.c - a scenario's raw block on a connection (see the
 * header). */
#include "sim/script_block.h"
#include "net/conn_impl.h"   /* ms_conn_escape */

#include <string.h>

gboolean script_block_send(MsConn *c, GBytes *block, GError **error)
{
	gsize len;
	const char *data = g_bytes_get_data(block, &len);
	/* What each line looks like to a student: the line itself, but
	 * "AUTH PLAIN <secret>" as "AUTH PLAIN ••••••". */
	GPtrArray *shown = g_ptr_array_new_with_free_func(g_free);
	gboolean secret = FALSE;
	for (const char *p = data, *end = data + len; p < end;) {
		const char *nl = memchr(p, '\n', end - p);
		gsize n = nl ? (gsize)(nl - p) + 1 : (gsize)(end - p);
		const char *sp = n > 5 && g_ascii_strncasecmp(p, "AUTH ", 5) == 0 ? memchr(p + 5, ' ', n - 5) : NULL;
		if (sp) {
			g_ptr_array_add(shown, g_strdup_printf("%.*s ••••••", (int)(sp - p), p));
			secret = TRUE;
		} else {
			g_ptr_array_add(shown, ms_conn_escape((const guint8 *)p, n >= 2 && p[n - 2] == '\r' ? n - 2 : n));
		}
		p += n;
	}
	gboolean ok;
	if (!secret || shown->len == 0) {
		ok = ms_conn_write(c, data, len, error);   /* shown line by line as sent */
	} else {
		ok = ms_conn_write_masked(c, data, len, g_ptr_array_index(shown, 0), error);
		for (guint i = 1; ok && i < shown->len; i++)
			ms_conn_emit(c, MS_EV_SEND, "C: %s", (const char *)g_ptr_array_index(shown, i));
	}
	g_ptr_array_free(shown, TRUE);
	return ok;
}
