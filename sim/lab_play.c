/* sim/lab_play.c - a scenario's script acted out in one lab machine's
 * network namespace, on real sockets, at the times the scenario gives.
 *
 * The lines mean what sim/runner.c makes of them in a simulation; where a
 * real network cannot do the same (a pulled cable stalls connections the
 * simulation resets), sim/lab_play.h says so.  A raw session speaks SMTP
 * as written (RFC 5321), with no STARTTLS of its own.
 */
#include "sim/lab_play.h"
#include "sim/lab_events.h"
#include "sim/lab_net.h"
#include "sim/script_block.h"
#include "sim/signals.h"
#include "sim/world.h"
#include "agents/mua/mua.h"
#include "net/conn_impl.h"   /* ms_conn_escape */
#include "net/realnet.h"
#include "ui/text.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A raw session's reply lines are read into this, as the runner reads them. */
#define LAB_PLAY_LINE_MAX 1024

typedef struct {
	const LabPlayOptions *o;
	const Scenario *scn;
	MsSched        *sched;
	MsWorld        *world;     /* the machine's mail clients; NULL when it acts none */
	MsStack        *stack;     /* raw sessions leave from here */
	const char     *address;
	MsTask         *script;    /* the script's task, unparked when the last action ends */
	gint            running;   /* actions started and not yet done (atomic) */
	gint            failed;    /* atomic */
	GMutex          cut_lock;  /* the nft set of cuts is made once */
	gboolean        cut_made;
} Player;

typedef struct {
	Player               *p;
	const ScenarioAction *a;
} Act;

char *lab_play_machine(const Scenario *scn, const ScenarioAction *a, const char **why_r)
{
	*why_r = NULL;
	switch (a->kind) {
	case SCENARIO_ACTION_HOST_DOWN:
	case SCENARIO_ACTION_HOST_UP:
	case SCENARIO_ACTION_LINK_CUT:
	case SCENARIO_ACTION_LINK_RESTORE:
		return g_strdup(a->host);
	case SCENARIO_ACTION_RAW_SESSION: {
		if (a->source_host)
			return g_strdup(a->source_host);
		const ScenarioHost *h = scenario_find_host_by_address(scn, a->address);
		return h ? g_strdup(h->name) : g_strdup_printf("client-%s", a->address);
	}
	case SCENARIO_ACTION_DNS_REMOVE:
	case SCENARIO_ACTION_DNS_ADD:
		*why_r = "a name server is a process of its own (mailsim serve), whose zones stay as they were read";
		return NULL;
	default: {
		const ScenarioClient *c = scenario_find_client(scn, a->client);
		return c ? g_strdup(c->host) : NULL;
	}
	}
}

static void say(Player *p, MsEventKind kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void say(Player *p, MsEventKind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	ms_bus_emitf(ms_sched_bus(p->sched), kind, p->o->machine, NULL, NULL, NULL, "%s", text);
}

/* ---- the lines ---------------------------------------------------------- */

/* The server's line as events show what a server sends: "S: ...", from it. */
static void show_reply(MsConn *c, const char *line, gsize len)
{
	g_autofree char *esc = ms_conn_escape((const guint8 *)line, len);
	g_autofree char *text = g_strconcat("S: ", esc, NULL);
	MsEvent ev = { .kind = MS_EV_NOTE, .from = ms_conn_peer_name(c), .to = ms_conn_local_name(c),
	               .proto = "smtp", .text = text, .conn = ms_conn_id(c) };
	ms_bus_emit(ms_sched_bus(ms_conn_sched(c)), &ev);
}

/* As sim/runner.c: the greeting, then the block (script_block_send), then
 * every line of the answer until the server closes or falls silent. */
static gboolean raw_session(Player *p, const ScenarioAction *a, GError **error)
{
	const ScenarioHost *dst = scenario_find_host(p->scn, a->host);
	if (!dst) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no host %s", a->host);
		return FALSE;
	}
	g_autoptr(MsConn) c = ms_stack_connect(p->stack, dst->address, (guint16)a->port, LAB_PLAY_CONNECT_TIMEOUT,
	                                       error);
	if (!c)
		return FALSE;
	ms_conn_set_proto(c, a->port == 25 || a->port == 587 ? "smtp" : "tcp");
	ms_conn_set_timeout(c, LAB_PLAY_REPLY_TIMEOUT);
	char line[LAB_PLAY_LINE_MAX + 1];
	MsEol eol;
	gssize n = ms_conn_read_line(c, line, LAB_PLAY_LINE_MAX, &eol, error);
	if (n < 0)
		return FALSE;
	show_reply(c, line, (gsize)n);
	if (!script_block_send(c, a->data, error))
		return FALSE;
	for (;;) {
		g_autoptr(GError) err = NULL;
		n = ms_conn_read_line(c, line, LAB_PLAY_LINE_MAX, &eol, &err);
		if (n < 0) {
			/* the answer ends when the server falls silent too: said, not failed */
			say(p, MS_EV_NOTE, "line %u: the session ends: %s", a->line, err->message);
			break;
		}
		if (n == 0 && eol == MS_EOL_EOF)
			break;
		show_reply(c, line, (gsize)n);
	}
	return TRUE;
}

/* Run a command (ip, nft) of this machine's; its error output in error. */
static gboolean run(Player *p, GError **error, const char *const *argv)
{
	g_autofree char *line = g_strjoinv(" ", (char **)argv);
	say(p, MS_EV_NOTE, "%s", line);
	return lab_net_run(argv, NULL, error);
}

/* The cable pulled out of (or put back into) the switch: the host's
 * routes stay, nothing crosses. */
static gboolean host_up_down(Player *p, const ScenarioAction *a, GError **error)
{
	if (!p->o->switch_netns || !p->o->port) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no switch port given for %s", a->host);
		return FALSE;
	}
	const char *state = a->kind == SCENARIO_ACTION_HOST_UP ? "up" : "down";
	const char *argv[] = { "ip", "-n", p->o->switch_netns, "link", "set", p->o->port, state, NULL };
	return run(p, error, argv);
}

/* Every packet to and from the peer dropped here, in this machine's
 * table: both ways are cut at one end. */
static gboolean link_cut(Player *p, const ScenarioAction *a, GError **error)
{
	const ScenarioHost *peer = scenario_find_host(p->scn, a->peer);
	if (!peer) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no host %s", a->peer);
		return FALSE;
	}
	g_mutex_lock(&p->cut_lock);
	gboolean ok = TRUE;
	if (!p->cut_made) {
		const char *table[] = { "nft", "add", "table", "inet", LAB_NET_TABLE, NULL };
		const char *set[] = { "nft", "add", "set", "inet", LAB_NET_TABLE, LAB_PLAY_CUT_SET,
		                      "{ type ipv4_addr; }", NULL };
		/* before the scenario's firewall (priority filter): a cut link
		 * carries nothing, whatever the rules accept */
		const char *in[] = { "nft", "add", "chain", "inet", LAB_NET_TABLE, "cut_in",
		                     "{ type filter hook input priority filter - 10; policy accept; }", NULL };
		const char *out[] = { "nft", "add", "chain", "inet", LAB_NET_TABLE, "cut_out",
		                      "{ type filter hook output priority filter - 10; policy accept; }", NULL };
		const char *in_rule[] = { "nft", "add", "rule", "inet", LAB_NET_TABLE, "cut_in", "ip", "saddr",
		                          "@" LAB_PLAY_CUT_SET, "counter", "drop", NULL };
		const char *out_rule[] = { "nft", "add", "rule", "inet", LAB_NET_TABLE, "cut_out", "ip", "daddr",
		                           "@" LAB_PLAY_CUT_SET, "counter", "drop", NULL };
		ok = run(p, error, table) && run(p, error, set) && run(p, error, in) && run(p, error, out) &&
		     run(p, error, in_rule) && run(p, error, out_rule);
		p->cut_made = ok;
	}
	g_mutex_unlock(&p->cut_lock);
	if (!ok)
		return FALSE;
	g_autofree char *element = g_strdup_printf("{ %s }", peer->address);
	const char *argv[] = { "nft", a->kind == SCENARIO_ACTION_LINK_CUT ? "add" : "delete", "element", "inet",
	                       LAB_NET_TABLE, LAB_PLAY_CUT_SET, element, NULL };
	return run(p, error, argv);
}

static void act_task(gpointer data)
{
	Act *act = data;
	Player *p = act->p;
	const ScenarioAction *a = act->a;
	g_autoptr(GError) err = NULL;
	say(p, MS_EV_NOTE, "%s:%u: %s", p->scn->filename, a->line, a->text);
	gboolean ok;
	switch (a->kind) {
	case SCENARIO_ACTION_RAW_SESSION:
		ok = raw_session(p, a, &err);
		break;
	case SCENARIO_ACTION_HOST_DOWN:
	case SCENARIO_ACTION_HOST_UP:
		ok = host_up_down(p, a, &err);
		break;
	case SCENARIO_ACTION_LINK_CUT:
	case SCENARIO_ACTION_LINK_RESTORE:
		ok = link_cut(p, a, &err);
		break;
	default:
		ok = p->world && ms_world_client_action(p->world, a, &err);
		/* the message went; only its copy in Sent did not: as mailsim send */
		if (!ok && g_error_matches(err, MUA_ERROR, MUA_ERROR_SENT_COPY))
			ok = TRUE;
		break;
	}
	if (!ok) {
		say(p, MS_EV_ERROR, "line %u: %s failed: %s", a->line, scenario_action_kind_to_string(a->kind),
		    err ? err->message : "no mail client here");
		g_atomic_int_inc(&p->failed);
	} else {
		say(p, MS_EV_NOTE, "line %u: done", a->line);
	}
	g_free(act);
	if (g_atomic_int_dec_and_test(&p->running))
		ms_task_unpark(p->script);
}

/* The machine's lines in time order (file order within a time), each
 * started at its time on a task of its own; then the wait for the last. */
static void script_task(gpointer data)
{
	Player *p = data;
	p->script = ms_task_self();   /* before any action can end and wake it */
	g_autoptr(GPtrArray) mine = g_ptr_array_new();
	for (guint i = 0; i < p->scn->actions->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(p->scn->actions, i);
		const char *why;
		g_autofree char *machine = lab_play_machine(p->scn, a, &why);
		if (machine && !g_ascii_strcasecmp(machine, p->o->machine))
			g_ptr_array_add(mine, (gpointer)a);   /* the parser keeps them sorted by time */
	}
	g_atomic_int_set(&p->running, 1);   /* this task's own count, so the last action cannot end early */
	for (guint i = 0; i < mine->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(mine, i);
		gint64 wait = p->o->t0_us + a->time_us - g_get_monotonic_time();
		if (wait > 0 && !ms_sleep(wait))
			break;
		Act *act = g_new0(Act, 1);
		act->p = p;
		act->a = a;
		g_atomic_int_inc(&p->running);
		g_autofree char *name = g_strdup_printf("line@%u", a->line);
		ms_task_spawn(p->sched, name, act_task, act);
	}
	if (!g_atomic_int_dec_and_test(&p->running))
		while (g_atomic_int_get(&p->running) > 0)
			if (ms_task_park(MS_FOREVER) == MS_PARK_CANCELLED)
				break;
	ms_sched_stop(p->sched);
}

static gboolean acts_a_client(const Scenario *scn, const char *machine)
{
	for (guint i = 0; i < scn->actions->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(scn->actions, i);
		const ScenarioClient *c = a->client ? scenario_find_client(scn, a->client) : NULL;
		if (c && !g_ascii_strcasecmp(c->host, machine))
			return TRUE;
	}
	return FALSE;
}

int lab_play_machine_run(const LabPlayOptions *o)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(Scenario) scn = ms_world_load_scenario(o->scenario, &error);
	if (!scn) {
		fprintf(stderr, "%s\n", error->message);
		return 2;
	}
	const ScenarioHost *h = scenario_find_host(scn, o->machine);
	g_autofree char *client_address = g_str_has_prefix(o->machine, "client-")
	                                  ? g_strdup(o->machine + strlen("client-")) : NULL;
	if (!h && !client_address) {
		fprintf(stderr, "mailsim lab: %s has no machine named %s\n", o->scenario, o->machine);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);   /* one write a line: players share the log */
	Player p = { .o = o, .scn = scn, .address = h ? h->address : client_address };
	g_mutex_init(&p.cut_lock);
	p.sched = ms_sched_new(MS_SCHED_REAL, (guint64)g_get_real_time());
	UiTextOptions topts = { .color = FALSE };
	ms_bus_add_sink(ms_sched_bus(p.sched), ui_text_sink_new(stdout, &topts));
	int rc = 0;
	if (o->events && !lab_events_attach(p.sched, o->events, &error)) {
		fprintf(stderr, "mailsim lab: %s\n", error->message);
		rc = 2;
	}
	p.stack = ms_realnet_stack_new(p.sched, o->machine, p.address);
	if (!rc && h && acts_a_client(scn, h->name)) {
		MsWorldHostOptions wo = { .host = h->name };
		p.world = ms_world_new_host(scn, p.sched, o->state, &wo, &error);
		if (!p.world) {
			fprintf(stderr, "mailsim lab: %s\n", error->message);
			rc = 2;
		}
	}
	GThread *sig = NULL;
	if (!rc) {
		sig = ms_signals_watch(p.sched);
		ms_task_spawn(p.sched, "script", script_task, &p);
		ms_sched_run(p.sched, MS_FOREVER);
		rc = g_atomic_int_get(&p.failed) ? 1 : 0;
	}
	ms_sched_shutdown(p.sched);
	ms_signals_finish(sig);
	ms_world_free(p.world);
	ms_stack_unref(p.stack);
	ms_sched_free(p.sched);
	g_mutex_clear(&p.cut_lock);
	return rc;
}
