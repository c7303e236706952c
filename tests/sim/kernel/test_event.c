/* tests/sim/kernel/test_event.c - what an event says about packets: the
 * endpoints' text form (a valid and an invalid table), the check of the net
 * contract, the names of kinds, transports and actions, and copies that
 * keep the net. */
#include "tests/ms_test_net.h"
#include "sim/kernel/event.h"

/* ---- endpoints ------------------------------------------------------------ */

typedef struct {
	const char  *text;
	MsAddrFamily family;
	guint16      port;
} EndpointCase;

static const EndpointCase valid_endpoints[] = {
	{ "192.0.2.7:25", MS_ADDR_IPV4, 25 },
	{ "0.0.0.0:0", MS_ADDR_IPV4, 0 },
	{ "255.255.255.255:65535", MS_ADDR_IPV4, 65535 },
	{ "[2001:db8::1]:587", MS_ADDR_IPV6, 587 },
	{ "[::1]:49152", MS_ADDR_IPV6, 49152 },
	{ "[::ffff:192.0.2.7]:25", MS_ADDR_IPV6, 25 },
};

static const char *const invalid_endpoints[] = {
	"", "192.0.2.7", "192.0.2.7:", ":25", "192.0.2.7:65536", "192.0.2.7:123456", "192.0.2.7:-1",
	"192.0.2.7:+25", "192.0.2.7:2x", "192.0.2.7: 25", "1.2.3:25", "192.0.2.256:25", "host.example:25",
	"::1:25", "[192.0.2.7]:25", "[::1]25", "[::1]:", "[::1", "[]:25", "[::1]:25x",
};

START_TEST(test_endpoint_valid)
{
	const EndpointCase *c = &valid_endpoints[_i];
	MsEndpoint ep;
	ck_assert_msg(ms_endpoint_parse(&ep, c->text), "%s", c->text);
	ck_assert_int_eq(ep.family, c->family);
	ck_assert_uint_eq(ep.port, c->port);
	char buf[MS_ENDPOINT_TEXT_MAX];
	ck_assert_str_eq(ms_endpoint_format(&ep, buf), c->text);   /* the text we write */
	/* the address part alone sets the same endpoint */
	MsEndpoint again;
	const char *colon = strrchr(c->text, ':');
	g_autofree char *addr = c->family == MS_ADDR_IPV6 ? g_strndup(c->text + 1, (gsize)(colon - c->text - 2))
	                                                  : g_strndup(c->text, (gsize)(colon - c->text));
	ck_assert(ms_endpoint_set(&again, addr, c->port));
	ck_assert(ms_endpoint_equal(&ep, &again));
	ck_assert_uint_eq(ms_endpoint_hash(&ep), ms_endpoint_hash(&again));
	again.port++;
	ck_assert(!ms_endpoint_equal(&ep, &again));
}
END_TEST

START_TEST(test_endpoint_invalid)
{
	const char *text = invalid_endpoints[_i];
	MsEndpoint ep = { .family = MS_ADDR_IPV4, .port = 7 };
	ck_assert_msg(!ms_endpoint_parse(&ep, text), "\"%s\" parsed", text);
	ck_assert_int_eq(ep.family, MS_ADDR_NONE);   /* left not known */
	ck_assert_uint_eq(ep.port, 0);
}
END_TEST

START_TEST(test_endpoint_edges)
{
	MsEndpoint ep, none = { 0 };
	ck_assert(!ms_endpoint_parse(&ep, NULL));
	ck_assert(!ms_endpoint_set(&ep, NULL, 25));
	ck_assert(!ms_endpoint_set(&ep, "mx.example.org", 25));
	ck_assert(ms_endpoint_equal(&ep, &none));
	char buf[MS_ENDPOINT_TEXT_MAX];
	ck_assert_str_eq(ms_endpoint_format(&none, buf), "");
	/* the longest text fits */
	ck_assert(ms_endpoint_set(&ep, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535));
	ms_endpoint_format(&ep, buf);
	ck_assert_uint_lt(strlen(buf), MS_ENDPOINT_TEXT_MAX);
	MsEndpoint back;
	ck_assert(ms_endpoint_parse(&back, buf));
	ck_assert(ms_endpoint_equal(&ep, &back));
	/* the same port and bytes in another family are another endpoint */
	MsEndpoint v4, v6;
	ck_assert(ms_endpoint_set(&v4, "0.0.0.0", 25));
	ck_assert(ms_endpoint_set(&v6, "::", 25));
	ck_assert(!ms_endpoint_equal(&v4, &v6));
}
END_TEST

/* ---- the contract ------------------------------------------------------------ */

#define A "192.0.2.7:49152"
#define B "198.51.100.20:25"

START_TEST(test_net_info_valid)
{
	const MsNetInfo valid[] = {
		{ 0 },
		ms_test_net(MS_NET_SYN, A, B, 0),
		ms_test_net(MS_NET_SYN, NULL, B, 0),   /* the real network's SYN */
		ms_test_net(MS_NET_ACCEPT, B, A, 0),
		ms_test_net(MS_NET_ESTABLISHED, A, B, 0),
		ms_test_net(MS_NET_REFUSED, NULL, B, 0),
		ms_test_net(MS_NET_UNANSWERED, A, B, 0),
		ms_test_net(MS_NET_DATA, A, B, 0),
		ms_test_net(MS_NET_ARRIVED, B, A, 1),
		ms_test_net(MS_NET_FIN, A, B, 0),
		ms_test_net(MS_NET_RESET, A, B, 0),
		ms_test_net(MS_NET_DATAGRAM, "[2001:db8::1]:53", "[2001:db8::2]:40000", 0),
	};
	for (guint i = 0; i < G_N_ELEMENTS(valid); i++)
		ck_assert_msg(ms_net_info_valid(&valid[i]), "valid[%u]", i);

	MsNetInfo invalid[] = {
		ms_test_net(MS_NET_ACCEPT, NULL, A, 0),     /* only a SYN or its failure may lack src */
		ms_test_net(MS_NET_DATA, A, NULL, 0),       /* dst is always known */
		ms_test_net(MS_NET_ARRIVED, B, A, 0),       /* an arrival of nothing */
		ms_test_net(MS_NET_DATA, A, B, 5),          /* bytes belong to ARRIVED */
		ms_test_net(MS_NET_DATA, A, B, 0),          /* ... with the wrong transport, below */
		ms_test_net(MS_NET_DATAGRAM, A, B, 0),
		ms_test_net(MS_NET_NONE, A, NULL, 0),       /* NONE sets nothing */
		ms_test_net(MS_NET_NONE, NULL, NULL, 3),
		ms_test_net(MS_NET_FIN, A, B, 0),           /* an action out of range, below */
		ms_test_net(MS_NET_FIN, A, B, 0),           /* a family out of range, below */
	};
	invalid[4].transport = MS_TRANSPORT_UDP;
	invalid[5].transport = MS_TRANSPORT_TCP;
	invalid[8].action = MS_NET_ACTION_COUNT;
	invalid[9].src.family = MS_ADDR_FAMILY_COUNT;
	for (guint i = 0; i < G_N_ELEMENTS(invalid); i++)
		ck_assert_msg(!ms_net_info_valid(&invalid[i]), "invalid[%u]", i);
	MsNetInfo none_with_transport = { .transport = MS_TRANSPORT_TCP };
	ck_assert(!ms_net_info_valid(&none_with_transport));
}
END_TEST

START_TEST(test_names)
{
	for (int a = 0; a < MS_NET_ACTION_COUNT; a++) {
		const char *name = ms_net_action_to_string((MsNetAction)a);
		ck_assert_str_ne(name, "?");
		ck_assert_int_eq(ms_net_action_from_string(name), a);
	}
	for (int t = 0; t < MS_TRANSPORT_COUNT; t++)
		ck_assert_int_eq(ms_transport_from_string(ms_transport_to_string((MsTransport)t)), t);
	ck_assert_int_eq(ms_net_action_from_string("SYN"), -1);   /* names are exact */
	ck_assert_int_eq(ms_net_action_from_string(NULL), -1);
	ck_assert_int_eq(ms_transport_from_string("sctp"), -1);
	ck_assert_str_eq(ms_net_action_to_string(MS_NET_ACTION_COUNT), "?");
	ck_assert_str_eq(ms_transport_to_string(MS_TRANSPORT_COUNT), "?");
	ck_assert_str_eq(ms_addr_family_to_string(MS_ADDR_IPV6), "ipv6");
	ck_assert_str_eq(ms_addr_family_to_string(MS_ADDR_FAMILY_COUNT), "?");
	ck_assert_int_eq(ms_net_action_transport(MS_NET_DATAGRAM), MS_TRANSPORT_UDP);
	ck_assert_int_eq(ms_net_action_transport(MS_NET_RESET), MS_TRANSPORT_TCP);
	ck_assert_int_eq(ms_net_action_transport(MS_NET_NONE), MS_TRANSPORT_NONE);
	ck_assert_int_eq(ms_event_kind_from_string(ms_event_kind_to_string(MS_EV_RECV)), MS_EV_RECV);
}
END_TEST

/* ---- copies ---------------------------------------------------------------- */

START_TEST(test_copy_keeps_net)
{
	char text[] = "14 bytes arrived";
	MsEvent ev = { .seq = 9, .kind = MS_EV_RECV, .from = "mx", .to = "pc", .text = text, .conn = 3,
	               .net = ms_test_net(MS_NET_ARRIVED, "[2001:db8::1]:25", A, 14) };
	MsEvent *c = ms_event_copy(&ev);
	text[0] = 'X';   /* the copy owns its strings */
	ck_assert_str_eq(c->text, "14 bytes arrived");
	ck_assert_int_eq(c->net.action, MS_NET_ARRIVED);
	ck_assert_int_eq(c->net.transport, MS_TRANSPORT_TCP);
	ck_assert(ms_endpoint_equal(&c->net.src, &ev.net.src));
	ck_assert(ms_endpoint_equal(&c->net.dst, &ev.net.dst));
	ck_assert_uint_eq(c->net.bytes, 14);
	ck_assert(ms_net_info_valid(&c->net));
	ms_event_free(c);
}
END_TEST

static Suite *event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("endpoints");
	tcase_add_loop_test(tc, test_endpoint_valid, 0, G_N_ELEMENTS(valid_endpoints));
	tcase_add_loop_test(tc, test_endpoint_invalid, 0, G_N_ELEMENTS(invalid_endpoints));
	tcase_add_test(tc, test_endpoint_edges);
	suite_add_tcase(s, tc);
	MS_ADD_TEST(s, test_net_info_valid, 5);
	MS_ADD_TEST(s, test_names, 5);
	MS_ADD_TEST(s, test_copy_keeps_net, 5);
	return s;
}

MS_TEST_MAIN(event_suite)
