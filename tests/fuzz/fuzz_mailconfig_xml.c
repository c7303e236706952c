/* tests/fuzz/fuzz_mailconfig_xml.c - the autoconfig/Autodiscover parsers on arbitrary bytes.
 *
 * Every parser reads the input; whatever parses must survive a round trip:
 * generated again it parses again to the same servers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/web/mailconfig.h"

#define ADDRESS "fuzz@example.com"

static void same_servers(const GPtrArray *a, const GPtrArray *b)
{
	if (a->len != b->len)
		abort();
	for (guint i = 0; i < a->len; i++) {
		const MailConfigServer *x = g_ptr_array_index(a, i), *y = g_ptr_array_index(b, i);
		if (x->protocol != y->protocol || strcmp(x->hostname, y->hostname) != 0 ||
		    x->port != y->port || x->socket != y->socket || x->auth != y->auth ||
		    g_strcmp0(x->username, y->username) != 0)
			abort();
	}
}

/* A GLib warning or critical (an overwritten GError, a failed
 * g_return_if_fail) is a finding too: make it abort. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;

	MailConfig *cfg = mailconfig_parse_autoconfig_xml(xml, size, NULL);
	if (cfg) {
		char *again = mailconfig_to_autoconfig_xml(cfg);
		GError *error = NULL;
		MailConfig *back = mailconfig_parse_autoconfig_xml(again, strlen(again), &error);
		if (!back)
			abort();
		same_servers(cfg->incoming, back->incoming);
		same_servers(cfg->outgoing, back->outgoing);
		if (g_strcmp0(cfg->display_name, back->display_name) != 0 ||
		    cfg->domains->len != back->domains->len)
			abort();
		mailconfig_free(back);
		g_free(again);
		mailconfig_free(cfg);
	}

	cfg = mailconfig_parse_autodiscover_xml(xml, size, NULL);
	if (cfg) {
		char *again = mailconfig_to_autodiscover_xml(cfg, ADDRESS);
		MailConfig *back = mailconfig_parse_autodiscover_xml(again, strlen(again), NULL);
		if (!back)
			abort();
		/* LoginName went out expanded: compare with the expanded original */
		mailconfig_expand_usernames(cfg, ADDRESS);
		same_servers(cfg->incoming, back->incoming);
		same_servers(cfg->outgoing, back->outgoing);
		mailconfig_free(back);
		g_free(again);
		mailconfig_free(cfg);
	}

	char *email = mailconfig_parse_autodiscover_request(xml, size, NULL);
	if (email) {
		char *req = mailconfig_encode_autodiscover_request(email);
		char *back = mailconfig_parse_autodiscover_request(req, strlen(req), NULL);
		if (!back || strcmp(back, email) != 0)
			abort();
		g_free(back);
		g_free(req);
		g_free(email);
	}
	return 0;
}
