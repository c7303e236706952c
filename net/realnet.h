/* net/realnet.h - the real network under MsConn (lab mode).
 *
 * The same agents, on real TCP and UDP sockets through GIO.  Runs on a
 * real-mode scheduler; every blocking call can be cancelled by shutting the
 * scheduler down.
 */
#pragma once

#include "net/conn.h"

/* A stack that listens and connects from address (e.g. "127.0.0.1"); name
 * is what events call this side.  Returns a new reference. */
MsStack *ms_realnet_stack_new(MsSched *s, const char *name, const char *address);
