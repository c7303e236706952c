/* sim/script_block.h - a scenario's raw block (`at T client ADDR connects
 * to HOST port N and sends <<...>>`) put on a connection, in the
 * simulation (sim/runner.c) and in a lab (sim/lab_play.c) alike. */
#pragma once

#include "net/conn.h"

/* Send the block in one write (one burst: a server that checks for
 * pipelining or early talkers sees it as sent by a hasty client), shown as
 * one SEND event a line, an AUTH line's secret as a mail client shows it
 * (masked).  FALSE with error when the peer is gone. */
gboolean script_block_send(MsConn *c, GBytes *block, GError **error);
