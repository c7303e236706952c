/* tests/ms_test_net.h - what an event says about packets, for the tests of
 * the event contract, the JSONL log and the pcap exporter. */
#pragma once

#include "tests/ms_test.h"
#include "sim/kernel/event.h"

/* An MsNetInfo from endpoints in text ("192.0.2.7:25"; NULL or "": not
 * known); the transport is the action's. */
static inline MsNetInfo ms_test_net(MsNetAction action, const char *src, const char *dst, guint64 bytes)
{
	MsNetInfo n = { .action = action, .transport = ms_net_action_transport(action), .bytes = bytes };
	if (src && *src)
		ck_assert(ms_endpoint_parse(&n.src, src));
	if (dst && *dst)
		ck_assert(ms_endpoint_parse(&n.dst, dst));
	return n;
}
