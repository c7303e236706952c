/* sim/lab_play.h - a scenario's script ("at TIME ..." lines) acted out in a
 * lab (mailsim lab up --play): each line from the namespace of the machine
 * that acts it, at its time after the lab is ready, over real sockets.
 *
 * One player process per machine with lines to act (lab up starts it with
 * ip netns exec); every player writes to the one log of the script,
 * STATE/script.log.
 */
#pragma once

#include "sim/scenario.h"
#include "sim/kernel/sched.h"

/* The script's log, in the lab's state directory. */
#define LAB_PLAY_LOG             "script.log"
/* A raw session: how long its connection may take, and how long it waits
 * for the server's next line before it gives up (the runner's figures). */
#define LAB_PLAY_CONNECT_TIMEOUT (30 * MS_SECOND)
#define LAB_PLAY_REPLY_TIMEOUT   (30 * MS_SECOND)
/* The nft set and chains of "link A B cut" lines, in A's table. */
#define LAB_PLAY_CUT_SET         "cut"

/* The lab machine whose namespace acts a, newly allocated: the host running
 * the client of a mail client's action; the machine a raw session comes
 * from (its host, or "client-ADDR" for an address no host has, the name
 * lab up and the simulation give it); the host "host HOST goes down|comes
 * up" and "link HOST PEER cut|restored" name.  NULL for what a lab does not
 * play, with the reason in *why_r (static): DNS changes, since each name
 * server is a process of its own (mailsim serve) whose zones stay as they
 * were read. */
char *lab_play_machine(const Scenario *scn, const ScenarioAction *a, const char **why_r);

typedef struct {
	const char *scenario;     /* a file or builtin:NAME, as lab up was given it */
	const char *state;        /* the lab's state directory (the clients' files: STATE/HOST/) */
	const char *machine;      /* acts the lines lab_play_machine gives it */
	gint64      t0_us;        /* the script's time 0, on the monotonic clock (g_get_monotonic_time) */
	const char *switch_netns; /* host down and up: the switch's namespace, */
	const char *port;         /* and the machine's end of its cable there */
	const char *events;       /* the machine's events as JSON Lines (sim/lab_events.h), or NULL */
} LabPlayOptions;

/* Called in the machine's namespace: acts each of its lines at t0 + the
 * line's time, as the simulation's runner does (a line's action runs on its
 * own, lines of one time start in file order):
 *   - a mail client's action on its MUA (sim/world.h ms_world_client_action),
 *     on real sockets, taking the servers' self-signed certificates;
 *   - a raw session: the greeting read, the block sent in one burst, every
 *     line of the server's answer logged ("S: ...") until it closes;
 *   - host down / up: its cable's switch end set down / up (a pulled cable:
 *     nothing comes in or out, connections stall rather than reset);
 *   - link cut / restored: the peer's address put in / taken out of an nft
 *     set whose rules drop every packet to and from it.
 * Events go to stdout (the script's log) as text lines.  Returns when the
 * last line is done, or on SIGTERM/SIGINT: 0 when each was acted, 1 when
 * one failed, 2 when the scenario does not load. */
int   lab_play_machine_run(const LabPlayOptions *o);
