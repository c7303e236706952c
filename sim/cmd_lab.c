/* sim/cmd_lab.c - `mailsim lab up|down|status|check`: a scenario's hosts as
 * machines of their own on one computer.
 *
 * Each machine gets a network namespace (ip-netns(8)) holding its scenario
 * address on eth0, one end of a veth pair (veth(4)) whose other end is a
 * port of a private bridge in a "switch" namespace of its own, and, if it
 * runs servers, a `mailsim serve --host` serving that host's agents on the
 * standard ports.  The root namespace gets no address and no route: the
 * scenario's addresses (documentation ranges, RFC 5737) exist only inside
 * the lab.  The scenario's firewall rules become an nftables table in each
 * host's namespace, its links tc shaping on each eth0 (sim/lab_net.h);
 * with --play, a player in each machine that has script lines acts them
 * out (sim/lab_play.h).  What up made is recorded in STATE/lab.ini; down
 * undoes exactly that, stopping only the processes it recorded.
 */
#include "sim/world.h"
#include "sim/lab_check.h"
#include "sim/lab_events.h"
#include "sim/lab_net.h"
#include "sim/lab_play.h"

#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define LAB_DEFAULT_STATE   "./mailsim-lab"
#define LAB_DEFAULT_PREFIX  "ms-"
#define LAB_DEFAULT_SCENARIO "builtin:course.scn"
#define LAB_STATE_FILE      "lab.ini"
/* Every name the lab makes starts with the prefix, which starts with
 * LAB_DEFAULT_PREFIX: down never deletes a namespace that is not a lab's. */
#define LAB_PREFIX_MAX      16
/* Namespace names may be long (files in /run/netns); bounded to stay
 * readable in `ip netns list`. */
#define LAB_NETNS_NAME_MAX  40
#define LAB_IFNAME_MAX      15     /* IFNAMSIZ - 1 */
#define LAB_SWITCH_SUFFIX   "switch"
#define LAB_BRIDGE          "ms-br0"
#define LAB_HOST_IFACE      "eth0"
#define LAB_NETNS_DIR       "/run/netns"   /* where ip netns add puts its names */
#define LAB_READY_TIMEOUT   (30 * G_USEC_PER_SEC)
#define LAB_STOP_TIMEOUT    (10 * G_USEC_PER_SEC)
#define LAB_POLL_INTERVAL   (100 * 1000)   /* us */
#define LAB_LOG_TAIL        2000           /* bytes of a log shown when a server fails */
/* Which boot the monotonic clock counts from: a script's time 0 recorded
 * on it means nothing after a reboot. */
#define LAB_BOOT_ID_FILE    "/proc/sys/kernel/random/boot_id"

typedef struct {
	char    *name;       /* the scenario's host, or "client-ADDR" for a script's address no host has */
	char    *address;
	guint    roles;      /* ScenarioRole bits; 0: a bare machine */
	char    *netns;      /* "ms-mx-example-org" */
	char    *peer;       /* the switch's end of the veth pair: "v2-mx-example-o" */
	char    *log;        /* STATE/HOST.log */
	gboolean serves;     /* runs a server role (not only mail clients) */
	GPid     pid;
} LabHost;

typedef struct {
	gboolean  verbose;   /* print every ip command */
	GKeyFile *record;
	char     *record_path;
} Lab;

/* ---- small helpers ----------------------------------------------------- */

static void lab_host_free(LabHost *lh)
{
	g_free(lh->name);
	g_free(lh->address);
	g_free(lh->netns);
	g_free(lh->peer);
	g_free(lh->log);
	g_free(lh);
}

/* "mx.example.org" -> "ms-mx-example-org", bounded; taken names get -2, -3 ... */
static char *netns_name(const char *prefix, const char *host, GHashTable *taken)
{
	GString *s = g_string_new(prefix);
	for (const char *p = host; *p; p++)
		g_string_append_c(s, g_ascii_isalnum(*p) ? g_ascii_tolower(*p) : '-');
	if (s->len > LAB_NETNS_NAME_MAX)
		g_string_truncate(s, LAB_NETNS_NAME_MAX);
	g_autofree char *base = g_strdup(s->str);
	for (guint n = 2; g_hash_table_contains(taken, s->str); n++) {
		char suffix[16];
		g_snprintf(suffix, sizeof suffix, "-%u", n);
		g_string_assign(s, base);
		g_string_truncate(s, MIN(s->len, LAB_NETNS_NAME_MAX - strlen(suffix)));
		g_string_append(s, suffix);
	}
	g_hash_table_add(taken, g_strdup(s->str));
	return g_string_free(s, FALSE);
}

static gboolean netns_exists(const char *name)
{
	g_autofree char *path = g_build_filename(LAB_NETNS_DIR, name, NULL);
	return g_file_test(path, G_FILE_TEST_EXISTS);
}

static gboolean prefix_valid(const char *p)
{
	if (!g_str_has_prefix(p, LAB_DEFAULT_PREFIX) || strlen(p) > LAB_PREFIX_MAX)
		return FALSE;
	for (; *p; p++)
		if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-')
			return FALSE;
	return TRUE;
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
 * since boot.  With the pid it names one process for good, so down never
 * signals a stranger that got a recycled pid.  0 when there is no such
 * process (or only its zombie is left). */
static guint64 process_start_time(GPid pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
	g_autofree char *text = NULL;
	if (pid <= 0 || !g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	const char *p = strrchr(text, ')');   /* the command name may hold spaces */
	if (!p || !p[1] || !p[2] || p[2] == 'Z')
		return 0;
	g_auto(GStrv) fields = g_strsplit(p + 2, " ", 0);
	/* fields[0] is field 3 (the state) */
	if (g_strv_length(fields) < 20)
		return 0;
	return g_ascii_strtoull(fields[19], NULL, 10);
}

/* Run a command (ip, tc, nft), printed first with -v; its output in *out_r
 * (may be NULL: thrown away), its error output in error on failure. */
static gboolean run_argv(Lab *lab, char **argv, char **out_r, GError **error)
{
	if (lab->verbose) {
		g_autofree char *line = g_strjoinv(" ", argv);
		printf("  %s\n", line);
	}
	return lab_net_run((const char *const *)argv, out_r, error);
}

/* The arguments of a va_list up to NULL, as an argv (NULL-terminated). */
static GPtrArray *argv_from(va_list ap)
{
	GPtrArray *argv = g_ptr_array_new();
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
		g_ptr_array_add(argv, (char *)a);
	g_ptr_array_add(argv, NULL);
	return argv;
}

/* run_argv with the arguments listed, NULL last: "ip", "-n", ns, ... */
static gboolean run_cmd(Lab *lab, GError **error, ...) G_GNUC_NULL_TERMINATED;

static gboolean run_cmd(Lab *lab, GError **error, ...)
{
	va_list ap;
	va_start(ap, error);
	g_autoptr(GPtrArray) argv = argv_from(ap);
	va_end(ap);
	return run_argv(lab, (char **)argv->pdata, NULL, error);
}

/* run_cmd keeping the output in *out_r. */
static gboolean run_cmd_output(Lab *lab, char **out_r, GError **error, ...) G_GNUC_NULL_TERMINATED;

static gboolean run_cmd_output(Lab *lab, char **out_r, GError **error, ...)
{
	va_list ap;
	va_start(ap, error);
	g_autoptr(GPtrArray) argv = argv_from(ap);
	va_end(ap);
	return run_argv(lab, (char **)argv->pdata, out_r, error);
}

#define run_ip(lab, error, ...) run_cmd((lab), (error), "ip", __VA_ARGS__)

static gboolean record_save(Lab *lab, GError **error)
{
	return g_key_file_save_to_file(lab->record, lab->record_path, error);
}

static char *host_group(const char *name)
{
	return g_strdup_printf("host %s", name);
}

static char *boot_id(void)
{
	char *text = NULL;
	if (!g_file_get_contents(LAB_BOOT_ID_FILE, &text, NULL, NULL))
		return g_strdup("?");
	return g_strstrip(text);
}

/* The script's time 0 (lab up --play's, or lab up's), on the monotonic
 * clock of this boot: what lab check measures "after TIME" from. */
static void record_t0(Lab *lab, gint64 t0, gboolean played)
{
	g_autofree char *boot = boot_id();
	g_key_file_set_int64(lab->record, "lab", "t0", t0);
	g_key_file_set_string(lab->record, "lab", "boot", boot);
	g_key_file_set_boolean(lab->record, "lab", "played", played);
}

/* ---- down -------------------------------------------------------------- */

/* Stop one recorded process: SIGTERM, then SIGKILL if it lingers. */
static void stop_process(const char *name, GPid pid, guint64 started)
{
	if (!started || process_start_time(pid) != started) {
		printf("  %s: not running\n", name);
		return;
	}
	kill(pid, SIGTERM);
	gint64 deadline = g_get_monotonic_time() + LAB_STOP_TIMEOUT;
	while (process_start_time(pid) == started && g_get_monotonic_time() < deadline) {
		waitpid(pid, NULL, WNOHANG);   /* our own child when up fails half-way */
		g_usleep(LAB_POLL_INTERVAL);
	}
	if (process_start_time(pid) == started) {
		kill(pid, SIGKILL);
		printf("  %s: pid %d killed (no exit %d s after SIGTERM)\n", name, (int)pid,
		       (int)(LAB_STOP_TIMEOUT / G_USEC_PER_SEC));
		waitpid(pid, NULL, WNOHANG);
	} else {
		printf("  %s: pid %d stopped\n", name, (int)pid);
	}
}

/* Undo what the record says: processes first (a namespace lives on while
 * a process is in it), then the hosts' namespaces (deleting one deletes
 * its veth pair), then the switch with its bridge. */
static int lab_teardown(Lab *lab)
{
	int rc = 0;
	gsize n = 0;
	g_auto(GStrv) groups = g_key_file_get_groups(lab->record, &n);
	/* the script's players first: nothing new starts while the servers stop */
	for (gsize i = 0; i < n; i++) {
		if (!g_str_has_prefix(groups[i], "host "))
			continue;
		GPid pid = (GPid)g_key_file_get_integer(lab->record, groups[i], "play_pid", NULL);
		guint64 started = g_key_file_get_uint64(lab->record, groups[i], "play_started", NULL);
		g_autofree char *name = g_strdup_printf("the script on %s", groups[i] + 5);
		if (pid > 0)
			stop_process(name, pid, started);
	}
	for (gsize i = 0; i < n; i++) {
		if (!g_str_has_prefix(groups[i], "host "))
			continue;
		GPid pid = (GPid)g_key_file_get_integer(lab->record, groups[i], "pid", NULL);
		guint64 started = g_key_file_get_uint64(lab->record, groups[i], "started", NULL);
		if (pid > 0)
			stop_process(groups[i] + 5, pid, started);
	}
	g_autofree char *prefix = g_key_file_get_string(lab->record, "lab", "prefix", NULL);
	g_autofree char *sw = g_key_file_get_string(lab->record, "lab", "switch", NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	for (gsize i = 0; i < n; i++)
		if (g_str_has_prefix(groups[i], "host "))
			g_ptr_array_add(names, g_key_file_get_string(lab->record, groups[i], "netns", NULL));
	if (sw)
		g_ptr_array_add(names, g_strdup(sw));
	for (guint i = 0; i < names->len; i++) {
		const char *ns = g_ptr_array_index(names, i);
		if (!ns || !prefix || !prefix_valid(prefix) || !g_str_has_prefix(ns, prefix))
			continue;   /* not a name this lab could have made: leave it */
		if (!netns_exists(ns))
			continue;
		g_autoptr(GError) err = NULL;
		if (run_ip(lab, &err, "netns", "del", ns, NULL)) {
			printf("  namespace %s deleted\n", ns);
		} else {
			fprintf(stderr, "mailsim lab: %s\n", err->message);
			rc = 1;
		}
	}
	return rc;
}

static Lab *lab_open(const char *state, gboolean verbose)
{
	Lab *lab = g_new0(Lab, 1);
	lab->verbose = verbose;
	lab->record = g_key_file_new();
	lab->record_path = g_build_filename(state, LAB_STATE_FILE, NULL);
	return lab;
}

static void lab_close(Lab *lab)
{
	g_key_file_free(lab->record);
	g_free(lab->record_path);
	g_free(lab);
}

/* Is anything recorded still there: a namespace or a process? */
static gboolean lab_alive(Lab *lab)
{
	gsize n = 0;
	g_auto(GStrv) groups = g_key_file_get_groups(lab->record, &n);
	g_autofree char *sw = g_key_file_get_string(lab->record, "lab", "switch", NULL);
	if (sw && netns_exists(sw))
		return TRUE;
	for (gsize i = 0; i < n; i++) {
		if (!g_str_has_prefix(groups[i], "host "))
			continue;
		g_autofree char *ns = g_key_file_get_string(lab->record, groups[i], "netns", NULL);
		GPid pid = (GPid)g_key_file_get_integer(lab->record, groups[i], "pid", NULL);
		guint64 started = g_key_file_get_uint64(lab->record, groups[i], "started", NULL);
		GPid play = (GPid)g_key_file_get_integer(lab->record, groups[i], "play_pid", NULL);
		guint64 play_started = g_key_file_get_uint64(lab->record, groups[i], "play_started", NULL);
		if ((ns && netns_exists(ns)) || (started && process_start_time(pid) == started) ||
		    (play_started && process_start_time(play) == play_started))
			return TRUE;
	}
	return FALSE;
}

/* ---- up ---------------------------------------------------------------- */

static LabHost *lab_host_by_address(GPtrArray *hosts, const char *address)
{
	for (guint i = 0; i < hosts->len; i++) {
		LabHost *lh = g_ptr_array_index(hosts, i);
		if (!strcmp(lh->address, address))
			return lh;
	}
	return NULL;
}

/* One machine of the lab: its namespace's name, its cable's, its log. */
static void plan_host(GPtrArray *hosts, const char *prefix, const char *state, GHashTable *taken,
                      const char *name, const char *address, guint roles)
{
	LabHost *lh = g_new0(LabHost, 1);
	lh->name = g_strdup(name);
	lh->address = g_strdup(address);
	lh->roles = roles;
	lh->netns = netns_name(prefix, name, taken);
	g_autofree char *peer = g_strdup_printf("v%u-%s", hosts->len + 1, name);
	for (char *p = peer; *p; p++)
		if (*p == '.')
			*p = '-';
	peer[MIN(strlen(peer), LAB_IFNAME_MAX)] = '\0';
	lh->peer = g_steal_pointer(&peer);
	g_autofree char *logname = g_strconcat(name, ".log", NULL);
	lh->log = g_build_filename(state, logname, NULL);
	lh->serves = (roles & ~(guint)SCENARIO_ROLE_MUA) != 0;
	g_ptr_array_add(hosts, lh);
}

/* The host's own wire: eth0 in its namespace with its scenario address,
 * the other end a port of the bridge; a route to each other host. */
static gboolean wire_host(Lab *lab, const char *sw, LabHost *lh, GPtrArray *all, GError **error)
{
	g_autofree char *cidr = g_strdup_printf("%s/32", lh->address);
	if (!run_ip(lab, error, "netns", "add", lh->netns, NULL) ||
	    !run_ip(lab, error, "link", "add", LAB_HOST_IFACE, "netns", lh->netns, "type", "veth",
	            "peer", "name", lh->peer, "netns", sw, NULL) ||
	    /* no IPv6 link-local addresses: nothing but the lab's IPv4 traffic on the wire */
	    !run_ip(lab, error, "-n", sw, "link", "set", lh->peer, "addrgenmode", "none", NULL) ||
	    !run_ip(lab, error, "-n", sw, "link", "set", lh->peer, "master", LAB_BRIDGE, "up", NULL) ||
	    !run_ip(lab, error, "-n", lh->netns, "link", "set", "lo", "up", NULL) ||
	    !run_ip(lab, error, "-n", lh->netns, "link", "set", LAB_HOST_IFACE, "addrgenmode", "none", NULL) ||
	    !run_ip(lab, error, "-n", lh->netns, "link", "set", LAB_HOST_IFACE, "up", NULL) ||
	    !run_ip(lab, error, "-n", lh->netns, "addr", "add", cidr, "dev", LAB_HOST_IFACE, NULL))
		return FALSE;
	/* One segment, addresses from several networks: a host route to each
	 * neighbour, answered by ARP on the bridge, as on a shared Ethernet. */
	for (guint i = 0; i < all->len; i++) {
		LabHost *other = g_ptr_array_index(all, i);
		if (other == lh)
			continue;
		g_autofree char *to = g_strdup_printf("%s/32", other->address);
		if (!run_ip(lab, error, "-n", lh->netns, "route", "add", to, "dev", LAB_HOST_IFACE, NULL))
			return FALSE;
	}
	return TRUE;
}

/* The scenario's firewall rules for the host, as the simulation judges
 * them (sim/lab_net.h), loaded into its namespace before any server
 * starts.  The script stays beside the log (STATE/HOST.nft) for reading. */
static gboolean apply_firewall(Lab *lab, const Scenario *scn, LabHost *lh, const char *state, GError **error)
{
	guint rules = 0;
	g_autofree char *script = lab_net_firewall_script(scn, lh->name, &rules);
	if (!script)
		return TRUE;
	g_autofree char *file = g_strconcat(lh->name, ".nft", NULL);
	g_autofree char *path = g_build_filename(state, file, NULL);
	if (!g_file_set_contents(path, script, -1, error) ||
	    !run_cmd(lab, error, "ip", "netns", "exec", lh->netns, "nft", "-f", path, NULL))
		return FALSE;
	g_autofree char *group = host_group(lh->name);
	g_key_file_set_string(lab->record, group, "firewall", path);
	g_key_file_set_integer(lab->record, group, "firewall_rules", (gint)rules);
	return record_save(lab, error);
}

/* Can this kernel delay packets (the netem qdisc, CONFIG_NET_SCH_NETEM)?
 * Asked once, on the loopback of one namespace, and undone.  *why_r: tc's
 * answer when it cannot. */
static gboolean netem_works(Lab *lab, const char *netns, char **why_r)
{
	g_autoptr(GError) err = NULL;
	if (!run_cmd(lab, &err, "tc", "-n", netns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms", NULL)) {
		const char *colon = strstr(err->message, ": ");   /* after the command line */
		const char *why = colon ? colon + 2 : err->message;
		if (g_str_has_prefix(why, "Error: "))
			why += strlen("Error: ");
		*why_r = g_strdup(why);
		gsize len = strlen(*why_r);
		if (len && (*why_r)[len - 1] == '.')
			(*why_r)[len - 1] = '\0';
		return FALSE;
	}
	run_cmd(lab, NULL, "tc", "-n", netns, "qdisc", "del", "dev", "lo", "root", NULL);
	*why_r = NULL;
	return TRUE;
}

/* What the host sends to each other machine, shaped as their link says
 * (sim/lab_net.h); the peer shapes its own way back.  Recorded as text
 * for status. */
static gboolean apply_links(Lab *lab, const Scenario *scn, LabHost *lh, GPtrArray *all, gboolean netem,
                            GError **error)
{
	g_autoptr(GArray) shapes = g_array_new(FALSE, TRUE, sizeof(LabNetShape));
	g_autoptr(GString) said = g_string_new(NULL);
	for (guint i = 0; i < all->len; i++) {
		LabHost *other = g_ptr_array_index(all, i);
		if (other == lh)
			continue;
		LabNetLink link = lab_net_link(scn, lh->name, other->name);
		LabNetShape sh = { .address = other->address, .bandwidth = link.bandwidth,
		                   .latency_us = netem ? link.latency_us : 0 };
		g_array_append_val(shapes, sh);
		if (sh.bandwidth || sh.latency_us > 0) {
			g_autofree char *what = lab_net_shape_describe(sh.bandwidth, sh.latency_us);
			g_string_append_printf(said, "%s%s %s", said->len ? "; " : "", other->name, what);
		}
	}
	g_autoptr(GPtrArray) cmds = lab_net_tc_commands(LAB_HOST_IFACE, (LabNetShape *)shapes->data, shapes->len,
	                                                 netem);
	for (guint i = 0; i < cmds->len; i++) {
		char **args = g_ptr_array_index(cmds, i);
		g_autoptr(GPtrArray) argv = g_ptr_array_new();
		g_ptr_array_add(argv, "tc");
		g_ptr_array_add(argv, "-n");
		g_ptr_array_add(argv, lh->netns);
		for (char **a = args; *a; a++)
			g_ptr_array_add(argv, *a);
		g_ptr_array_add(argv, NULL);
		if (!run_argv(lab, (char **)argv->pdata, NULL, error))
			return FALSE;
	}
	if (!said->len)
		return TRUE;
	g_autofree char *group = host_group(lh->name);
	g_key_file_set_string(lab->record, group, "links", said->str);
	return record_save(lab, error);
}

static void child_detach(gpointer data)
{
	setsid();   /* the servers outlive the terminal that ran lab up */
}

/* Start argv in its own session, output appended to log, stdin from
 * /dev/null: it outlives lab up. */
static gboolean spawn_detached(Lab *lab, const char **argv, const char *log_path, GPid *pid_r, GError **error)
{
	if (lab->verbose) {
		g_autofree char *line = g_strjoinv(" ", (char **)argv);
		printf("  %s >>%s 2>&1 &\n", line, log_path);
	}
	int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (log < 0 || null < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", log_path, g_strerror(errno));
		if (log >= 0)
			close(log);
		if (null >= 0)
			close(null);
		return FALSE;
	}
	gboolean ok = g_spawn_async_with_fds(NULL, (char **)argv, NULL,
	                                     G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
	                                     child_detach, NULL, pid_r, null, log, log, error);
	close(log);
	close(null);
	return ok;
}

/* ip netns exec NS mailsim serve SCENARIO --host NAME ...: ip execs
 * mailsim in place, so the pid is the server's. */
static gboolean start_server(Lab *lab, LabHost *lh, const char *self, const char *scenario,
                             const char *state, gboolean plaintext, gboolean no_fsync, GError **error)
{
	const char *argv[16];
	guint a = 0;
	argv[a++] = "ip";
	argv[a++] = "netns";
	argv[a++] = "exec";
	argv[a++] = lh->netns;
	argv[a++] = self;
	argv[a++] = "serve";
	argv[a++] = scenario;
	argv[a++] = "--host";
	argv[a++] = lh->name;
	argv[a++] = "--state";
	argv[a++] = state;
	if (plaintext)
		argv[a++] = "--allow-plaintext-auth";
	if (no_fsync)
		argv[a++] = "--no-fsync";
	g_autofree char *events = lab_events_path(state, lh->name, LAB_EVENTS_SERVE_SUFFIX);
	argv[a++] = "--events";
	argv[a++] = events;
	argv[a] = NULL;
	if (!spawn_detached(lab, argv, lh->log, &lh->pid, error))
		return FALSE;
	g_autofree char *group = host_group(lh->name);
	g_key_file_set_integer(lab->record, group, "pid", (gint)lh->pid);
	g_key_file_set_uint64(lab->record, group, "started", process_start_time(lh->pid));
	g_key_file_set_string(lab->record, group, "events", events);
	return record_save(lab, error);
}

/* The script (--play): one player per machine with lines to act, in its
 * namespace (lab play-host, sim/lab_play.h), all from one time 0, now;
 * what no machine can act is said at the top of the script's log.
 * *machines_r: how many players started. */
static gboolean start_players(Lab *lab, const Scenario *scn, GPtrArray *hosts, const char *self,
                              const char *scenario, const char *state, const char *sw, guint *machines_r,
                              GError **error)
{
	*machines_r = 0;
	g_autofree char *log = g_build_filename(state, LAB_PLAY_LOG, NULL);
	g_autoptr(GHashTable) acting = g_hash_table_new_full(scenario_caseless_hash, scenario_caseless_equal,
	                                                     g_free, NULL);
	g_autoptr(GString) head = g_string_new(NULL);
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree char *when = g_date_time_format(now, "%F %T");
	g_string_append_printf(head, "mailsim lab: the script of %s, time 0 at %s\n", scn->filename, when);
	for (guint i = 0; i < scn->actions->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(scn->actions, i);
		const char *why = NULL;
		char *machine = lab_play_machine(scn, a, &why);
		if (machine)
			g_hash_table_add(acting, machine);
		else
			g_string_append_printf(head, "mailsim lab: line %u not played (%s): %s\n", a->line, a->text,
			                       why ? why : "no machine acts it");
	}
	if (!g_file_set_contents(log, head->str, -1, error))
		return FALSE;
	gint64 t0_us = g_get_monotonic_time();
	g_autofree char *t0 = g_strdup_printf("%" G_GINT64_FORMAT, t0_us);
	record_t0(lab, t0_us, TRUE);
	for (guint i = 0; i < hosts->len; i++) {
		LabHost *lh = g_ptr_array_index(hosts, i);
		if (!g_hash_table_contains(acting, lh->name))
			continue;
		g_autofree char *events = lab_events_path(state, lh->name, LAB_EVENTS_PLAY_SUFFIX);
		const char *argv[] = { "ip", "netns", "exec", lh->netns, self, "lab", "play-host", scenario,
		                       "--state", state, "--host", lh->name, "--t0", t0, "--switch", sw,
		                       "--port", lh->peer, "--events", events, NULL };
		GPid pid = 0;
		if (!spawn_detached(lab, argv, log, &pid, error))
			return FALSE;
		g_autofree char *group = host_group(lh->name);
		g_key_file_set_integer(lab->record, group, "play_pid", (gint)pid);
		g_key_file_set_uint64(lab->record, group, "play_started", process_start_time(pid));
		g_key_file_set_string(lab->record, group, "play_events", events);
		if (!record_save(lab, error))
			return FALSE;
		(*machines_r)++;
	}
	g_key_file_set_string(lab->record, "lab", "script", log);
	return record_save(lab, error);
}

/* Wait for every server's "mailsim serve: HOST ready" line (cmd_serve.c),
 * or its death. */
static gboolean wait_ready(GPtrArray *hosts, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + LAB_READY_TIMEOUT;
	for (guint i = 0; i < hosts->len; i++) {
		LabHost *lh = g_ptr_array_index(hosts, i);
		if (!lh->serves)
			continue;
		g_autofree char *ready = g_strdup_printf("mailsim serve: %s ready\n", lh->name);
		for (;;) {
			g_autofree char *text = NULL;
			gsize len = 0;
			if (g_file_get_contents(lh->log, &text, &len, NULL) && strstr(text, ready))
				break;
			int status = 0;
			gboolean dead = waitpid(lh->pid, &status, WNOHANG) == lh->pid;
			if (dead || g_get_monotonic_time() > deadline) {
				const char *tail = text && len > LAB_LOG_TAIL ? text + len - LAB_LOG_TAIL : text;
				g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "the server of %s %s; its log (%s):\n%s",
				            lh->name, dead ? "exited" : "is not ready in time", lh->log,
				            tail ? tail : "");
				return FALSE;
			}
			g_usleep(LAB_POLL_INTERVAL);
		}
	}
	return TRUE;
}

static const char *find_role(GPtrArray *hosts, guint role, gboolean want_netns)
{
	for (guint i = 0; i < hosts->len; i++) {
		LabHost *lh = g_ptr_array_index(hosts, i);
		if (lh->roles & role)
			return want_netns ? lh->netns : lh->address;
	}
	return NULL;
}

static char *roles_text(guint roles)
{
	GString *s = g_string_new(NULL);
	for (guint bit = 1; bit <= SCENARIO_ROLE_MUA; bit <<= 1)
		if (roles & bit)
			g_string_append_printf(s, "%s%s", s->len ? " " : "", scenario_role_to_string(bit));
	return g_string_free(s, FALSE);
}

/* self: this mailsim, named so in the hints unless it is the one on the PATH. */
static void print_lab(Lab *lab, const Scenario *scn, GPtrArray *hosts, const char *sw, const char *state, const char *self)
{
	g_autofree char *on_path = g_find_program_in_path("mailsim");
	g_autofree char *on_path_real = on_path ? g_canonicalize_filename(on_path, NULL) : NULL;
	const char *cmd = on_path_real && !strcmp(on_path_real, self) ? "mailsim" : self;
	printf("mailsim lab: the hosts of %s, each in its own network namespace, on bridge %s in %s\n",
	       scn->filename, LAB_BRIDGE, sw);
	printf("  %-28s %-16s %-20s %s\n", "namespace", "address", "runs", "server");
	for (guint i = 0; i < hosts->len; i++) {
		LabHost *lh = g_ptr_array_index(hosts, i);
		g_autofree char *roles = roles_text(lh->roles);
		g_autofree char *server = lh->serves ? g_strdup_printf("pid %d, log %s", (int)lh->pid, lh->log)
		                                     : g_strdup("(clients: run your own here)");
		printf("  %-28s %-16s %-20s %s\n", lh->netns, lh->address, *roles ? roles : "-", server);
	}
	for (guint i = 0; i < hosts->len; i++) {
		LabHost *lh = g_ptr_array_index(hosts, i);
		g_autofree char *group = host_group(lh->name);
		g_autofree char *fw = g_key_file_get_string(lab->record, group, "firewall", NULL);
		g_autofree char *links = g_key_file_get_string(lab->record, group, "links", NULL);
		if (fw)
			printf("Firewall of %s: %d rule(s) from the scenario (%s); its counters:\n"
			       "  ip netns exec %s nft list table inet " LAB_NET_TABLE "\n", lh->name,
			       g_key_file_get_integer(lab->record, group, "firewall_rules", NULL), fw, lh->netns);
		if (links)
			printf("Links from %s: %s\n", lh->name, links);
	}
	LabHost *first = g_ptr_array_index(hosts, 0);
	printf("Watch the traffic (as root):\n"
	       "  every frame between the hosts: ip netns exec %s %s watch -i %s\n"
	       "  one host's cable:              ip netns exec %s %s watch -i %s  (or tcpdump -ni %s)\n",
	       sw, cmd, LAB_BRIDGE, first->netns, cmd, LAB_HOST_IFACE, LAB_HOST_IFACE);
	printf("Work on a host:\n");
	const char *client = find_role(hosts, SCENARIO_ROLE_MUA, TRUE);
	const char *dns = find_role(hosts, SCENARIO_ROLE_DNS, FALSE);
	const ScenarioUser *from = scn->users->len ? g_ptr_array_index(scn->users, 0) : NULL;
	const ScenarioUser *to = scn->users->len > 1 ? g_ptr_array_index(scn->users, 1) : from;
	const ScenarioDomain *dom = NULL;
	if (to && strchr(to->address, '@'))
		dom = scenario_find_domain(scn, strchr(to->address, '@') + 1);
	const ScenarioHost *mail = from ? scenario_find_host(scn, from->host) : NULL;
	if (client && dns && dom)
		printf("  ask a name server:             ip netns exec %s dig @%s MX %s\n", client, dns, dom->name);
	if (client && mail && (mail->roles & SCENARIO_ROLE_MTA))
		printf("  send a message:                ip netns exec %s swaks --server %s:%u --tls \\\n"
		       "                                   --auth-user %s --auth-password '%s' --from %s --to %s\n",
		       client, mail->address, MTA_SUBMISSION_PORT, from->address, from->password, from->address,
		       to->address);
	printf("  a shell on a machine:          ip netns exec NAMESPACE bash\n"
	       "Status: %s lab status --state %s\n"
	       "Check the scenario's expectations: %s lab check --state %s\n"
	       "Stop:   %s lab down --state %s\n", cmd, state, cmd, state, cmd, state);
}

static int lab_up(const char *scenario_arg, const char *state_arg, const char *prefix, gboolean plaintext,
                  gboolean no_fsync, gboolean play, gboolean verbose)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(Scenario) scn = ms_world_load_scenario(scenario_arg, &error);
	if (!scn) {
		fprintf(stderr, "%s\n", error->message);
		return 2;
	}
	g_autofree char *nft = g_find_program_in_path("nft");
	if (scn->firewall->len && !nft) {
		fprintf(stderr, "mailsim lab: %s has firewall rules, and the nft command is missing "
		        "(Debian: apt-get install nftables)\n", scn->filename);
		return 1;
	}
	/* the servers run elsewhere (cwd kept, but the record must not depend on it) */
	g_autofree char *scenario = g_str_has_prefix(scenario_arg, "builtin:") || g_path_is_absolute(scenario_arg)
	                            ? g_strdup(scenario_arg) : g_canonicalize_filename(scenario_arg, NULL);
	g_autofree char *state = g_canonicalize_filename(state_arg, NULL);
	g_autofree char *self = g_file_read_link("/proc/self/exe", &error);
	if (!self) {
		fprintf(stderr, "mailsim lab: %s\n", error->message);
		return 1;
	}
	if (g_mkdir_with_parents(state, 0700) != 0) {
		fprintf(stderr, "mailsim lab: cannot create %s: %s\n", state, g_strerror(errno));
		return 1;
	}
	Lab *lab = lab_open(state, verbose);
	if (g_key_file_load_from_file(lab->record, lab->record_path, G_KEY_FILE_NONE, NULL) && lab_alive(lab)) {
		fprintf(stderr, "mailsim lab: a lab from %s is up; mailsim lab down --state %s first\n", state, state);
		lab_close(lab);
		return 1;
	}
	g_key_file_free(lab->record);
	lab->record = g_key_file_new();

	/* the plan: names first, so that nothing is touched if one is taken */
	g_autoptr(GHashTable) taken = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree char *sw = g_strconcat(prefix, LAB_SWITCH_SUFFIX, NULL);
	g_hash_table_add(taken, g_strdup(sw));
	g_autoptr(GPtrArray) hosts = g_ptr_array_new_with_free_func((GDestroyNotify)lab_host_free);
	for (guint i = 0; i < scn->hosts->len; i++) {
		const ScenarioHost *h = g_ptr_array_index(scn->hosts, i);
		plan_host(hosts, prefix, state, taken, h->name, h->address, h->roles);
	}
	/* A raw session from an address no host has: a bare machine there, as
	 * the simulation adds one (sim/world.c), named as it names it. */
	for (guint i = 0; i < scn->actions->len; i++) {
		const ScenarioAction *a = g_ptr_array_index(scn->actions, i);
		if (a->kind != SCENARIO_ACTION_RAW_SESSION || a->source_host || lab_host_by_address(hosts, a->address))
			continue;
		g_autofree char *name = g_strdup_printf("client-%s", a->address);
		plan_host(hosts, prefix, state, taken, name, a->address, 0);
	}
	int rc = 0;
	for (guint i = 0; i <= hosts->len; i++) {
		const char *ns = i < hosts->len ? ((LabHost *)g_ptr_array_index(hosts, i))->netns : sw;
		if (netns_exists(ns)) {
			fprintf(stderr, "mailsim lab: the namespace %s exists already (another lab? mailsim lab down, "
			        "or another --prefix)\n", ns);
			rc = 1;
		}
	}
	if (rc || !hosts->len) {
		if (!hosts->len)
			fprintf(stderr, "mailsim lab: no host of %s runs anything\n", scenario);
		lab_close(lab);
		return 1;
	}

	/* the record before the first change: down can undo a half-made lab */
	g_key_file_set_string(lab->record, "lab", "scenario", scenario);
	g_key_file_set_string(lab->record, "lab", "prefix", prefix);
	g_key_file_set_string(lab->record, "lab", "switch", sw);
	g_key_file_set_string(lab->record, "lab", "bridge", LAB_BRIDGE);
	for (guint i = 0; i < hosts->len; i++) {
		LabHost *lh = g_ptr_array_index(hosts, i);
		g_autofree char *group = host_group(lh->name);
		g_key_file_set_string(lab->record, group, "netns", lh->netns);
		g_key_file_set_string(lab->record, group, "address", lh->address);
		g_key_file_set_string(lab->record, group, "port", lh->peer);
		g_key_file_set_boolean(lab->record, group, "serves", lh->serves);
	}
	if (!record_save(lab, &error))
		goto fail;

	if (verbose)
		printf("mailsim lab: making the network\n");
	/* The bridge promiscuous: a capture on it (mailsim watch -i) sees the
	 * frames it forwards between hosts, not only those sent to itself. */
	if (!run_ip(lab, &error, "netns", "add", sw, NULL) ||
	    !run_ip(lab, &error, "-n", sw, "link", "add", LAB_BRIDGE, "type", "bridge", NULL) ||
	    !run_ip(lab, &error, "-n", sw, "link", "set", LAB_BRIDGE, "addrgenmode", "none", NULL) ||
	    !run_ip(lab, &error, "-n", sw, "link", "set", LAB_BRIDGE, "promisc", "on", "up", NULL))
		goto fail;
	for (guint i = 0; i < hosts->len; i++)
		if (!wire_host(lab, sw, g_ptr_array_index(hosts, i), hosts, &error))
			goto fail;
	if (verbose)
		printf("mailsim lab: the scenario's firewall rules and links\n");
	for (guint i = 0; i < hosts->len; i++)
		if (!apply_firewall(lab, scn, g_ptr_array_index(hosts, i), state, &error))
			goto fail;
	{
		LabHost *first = g_ptr_array_index(hosts, 0);
		g_autofree char *why = NULL;
		gboolean netem = netem_works(lab, first->netns, &why);
		g_autofree char *latency = netem ? g_strdup("applied (netem)")
		                           : g_strdup_printf("not applied: this kernel has no netem qdisc "
		                                             "(CONFIG_NET_SCH_NETEM; tc: %s)", why);
		g_key_file_set_string(lab->record, "lab", "latency", latency);
		if (!netem)
			printf("mailsim lab: link latencies are %s; bandwidths are applied\n", latency);
		for (guint i = 0; i < hosts->len; i++)
			if (!apply_links(lab, scn, g_ptr_array_index(hosts, i), hosts, netem, &error))
				goto fail;
	}
	if (verbose)
		printf("mailsim lab: starting the servers\n");
	for (guint i = 0; i < hosts->len; i++) {
		LabHost *lh = g_ptr_array_index(hosts, i);
		if (lh->serves && !start_server(lab, lh, self, scenario, state, plaintext, no_fsync, &error))
			goto fail;
	}
	if (!wait_ready(hosts, &error))
		goto fail;
	guint players = 0;
	if (!play) {
		record_t0(lab, g_get_monotonic_time(), FALSE);
		if (!record_save(lab, &error))
			goto fail;
	}
	if (play && !start_players(lab, scn, hosts, self, scenario, state, sw, &players, &error))
		goto fail;
	print_lab(lab, scn, hosts, sw, state, self);
	if (play)
		printf("Script: acted from now on by %u machine(s); what they do and what the servers answer:\n"
		       "  %s/" LAB_PLAY_LOG "\n"
		       "  once it is done (lab status: script done), lab check says which expectations held\n",
		       players, state);
	else if (scn->actions->len)
		printf("Script: %u line(s) not acted (up --play acts them)\n", scn->actions->len);
	lab_close(lab);
	return 0;

fail:
	fflush(stdout);
	fprintf(stderr, "mailsim lab: %s\nmailsim lab: undoing what was made\n", error->message);
	lab_teardown(lab);
	g_remove(lab->record_path);
	lab_close(lab);
	return 1;
}

static int lab_down(const char *state, gboolean verbose)
{
	Lab *lab = lab_open(state, verbose);
	g_autoptr(GError) error = NULL;
	if (!g_key_file_load_from_file(lab->record, lab->record_path, G_KEY_FILE_NONE, &error)) {
		fprintf(stderr, "mailsim lab: no lab recorded in %s (%s)\n", state, error->message);
		lab_close(lab);
		return 1;
	}
	printf("mailsim lab: taking down the lab of %s\n", state);
	int rc = lab_teardown(lab);
	if (rc == 0) {
		g_remove(lab->record_path);
		printf("mailsim lab: down; queues, mailboxes and logs stay in %s\n", state);
	}
	lab_close(lab);
	return rc;
}

/* Under a host in status: its firewall, each rule with what it counted
 * (read from the kernel when the namespace is up and we may), its links,
 * its part of the script. */
static void show_host_details(Lab *lab, const char *group, const char *netns)
{
	g_autofree char *fw = g_key_file_get_string(lab->record, group, "firewall", NULL);
	g_autofree char *links = g_key_file_get_string(lab->record, group, "links", NULL);
	if (fw) {
		int rules = g_key_file_get_integer(lab->record, group, "firewall_rules", NULL);
		printf("      firewall: %d rule%s (%s)\n", rules, rules == 1 ? "" : "s", fw);
		g_autofree char *listing = NULL;
		g_autoptr(GError) err = NULL;
		if (netns && run_cmd_output(lab, &listing, &err, "ip", "netns", "exec", netns, "nft", "list", "table",
		                            "inet", LAB_NET_TABLE, NULL)) {
			g_auto(GStrv) lines = g_strsplit(listing, "\n", -1);
			for (char **l = lines; *l; l++)
				if (strstr(*l, " counter "))
					printf("        %s\n", g_strstrip(*l));
		} else if (netns) {
			printf("        (the counters: %s)\n", err ? err->message : "?");
		}
	}
	if (links)
		printf("      links: %s\n", links);
	GPid play = (GPid)g_key_file_get_integer(lab->record, group, "play_pid", NULL);
	guint64 play_started = g_key_file_get_uint64(lab->record, group, "play_started", NULL);
	if (play > 0)
		printf("      script: %s\n", play_started && process_start_time(play) == play_started
		                             ? "playing" : "done");
}

static int lab_status(const char *state)
{
	Lab *lab = lab_open(state, FALSE);
	g_autoptr(GError) error = NULL;
	if (!g_key_file_load_from_file(lab->record, lab->record_path, G_KEY_FILE_NONE, &error)) {
		printf("mailsim lab: no lab recorded in %s (%s)\n", state, error->message);
		lab_close(lab);
		return 1;
	}
	g_autofree char *scenario = g_key_file_get_string(lab->record, "lab", "scenario", NULL);
	g_autofree char *sw = g_key_file_get_string(lab->record, "lab", "switch", NULL);
	printf("mailsim lab: %s from %s; switch %s %s\n", scenario ? scenario : "?", state, sw ? sw : "?",
	       sw && netns_exists(sw) ? "up" : "missing");
	printf("  %-20s %-28s %-10s %-16s %s\n", "host", "namespace", "", "address", "server");
	gsize n = 0;
	guint up = 0, total = 0;
	g_auto(GStrv) groups = g_key_file_get_groups(lab->record, &n);
	for (gsize i = 0; i < n; i++) {
		if (!g_str_has_prefix(groups[i], "host "))
			continue;
		g_autofree char *ns = g_key_file_get_string(lab->record, groups[i], "netns", NULL);
		g_autofree char *addr = g_key_file_get_string(lab->record, groups[i], "address", NULL);
		gboolean serves = g_key_file_get_boolean(lab->record, groups[i], "serves", NULL);
		GPid pid = (GPid)g_key_file_get_integer(lab->record, groups[i], "pid", NULL);
		guint64 started = g_key_file_get_uint64(lab->record, groups[i], "started", NULL);
		gboolean ns_up = ns && netns_exists(ns);
		gboolean running = started && process_start_time(pid) == started;
		g_autofree char *server = !serves ? g_strdup("-")
		                          : running ? g_strdup_printf("pid %d running", (int)pid)
		                                    : g_strdup("not running");
		printf("  %-20s %-28s %-10s %-16s %s\n", groups[i] + 5, ns ? ns : "?", ns_up ? "up" : "missing",
		       addr ? addr : "?", server);
		total++;
		if (ns_up && (!serves || running))
			up++;
		show_host_details(lab, groups[i], ns_up ? ns : NULL);
	}
	g_autofree char *latency = g_key_file_get_string(lab->record, "lab", "latency", NULL);
	g_autofree char *script = g_key_file_get_string(lab->record, "lab", "script", NULL);
	if (latency)
		printf("  link latencies: %s\n", latency);
	if (script)
		printf("  the script's log: %s\n", script);
	printf("  the scenario's expectations: mailsim lab check --state %s\n", state);
	printf("mailsim lab: %u of %u hosts up\n", up, total);
	lab_close(lab);
	return up == total && sw && netns_exists(sw) ? 0 : 1;
}

/* The end of the script: its last line's time, or its last "after". */
static gint64 script_end(const Scenario *scn)
{
	gint64 end = 0;
	for (guint i = 0; i < scn->actions->len; i++)
		end = MAX(end, ((const ScenarioAction *)g_ptr_array_index(scn->actions, i))->time_us);
	for (guint i = 0; i < scn->expects->len; i++)
		end = MAX(end, ((const ScenarioExpect *)g_ptr_array_index(scn->expects, i))->after_us);
	return end;
}

/* The recorded scenario's expectations against the lab's files and event
 * logs (sim/lab_check.h): 0 all held, 1 one failed, 2 no lab or no scenario. */
static int lab_check(const char *state)
{
	Lab *lab = lab_open(state, FALSE);
	g_autoptr(GError) error = NULL;
	if (!g_key_file_load_from_file(lab->record, lab->record_path, G_KEY_FILE_NONE, &error)) {
		fprintf(stderr, "mailsim lab: no lab recorded in %s (%s)\n", state, error->message);
		lab_close(lab);
		return 2;
	}
	g_autofree char *scenario = g_key_file_get_string(lab->record, "lab", "scenario", NULL);
	g_autoptr(Scenario) scn = scenario ? ms_world_load_scenario(scenario, &error) : NULL;
	if (!scn) {
		fprintf(stderr, "mailsim lab: %s\n", error ? error->message : "the record names no scenario");
		lab_close(lab);
		return 2;
	}
	gint64 t0 = g_key_file_get_int64(lab->record, "lab", "t0", NULL);
	g_autofree char *boot = g_key_file_get_string(lab->record, "lab", "boot", NULL);
	g_autofree char *boot_now = boot_id();
	gint64 now = g_get_monotonic_time() - t0;
	if (t0 <= 0 || !boot || strcmp(boot, boot_now) != 0 || now < 0) {
		/* the machine has restarted since (or an older lab up kept no time
		 * 0): whatever the script did is long done */
		now = script_end(scn);
		printf("(the script's start is not known on this boot: checked as at its end)\n");
	}
	LabCheckOptions o = { .scn = scn, .state = state, .now_us = now,
	                      .played = g_key_file_get_boolean(lab->record, "lab", "played", NULL) };
	g_autoptr(GPtrArray) logs = g_ptr_array_new_with_free_func(g_free);
	gsize n = 0;
	g_auto(GStrv) groups = g_key_file_get_groups(lab->record, &n);
	for (gsize i = 0; i < n; i++) {
		if (!g_str_has_prefix(groups[i], "host "))
			continue;
		static const char *const keys[] = { "events", "play_events" };
		for (guint k = 0; k < G_N_ELEMENTS(keys); k++) {
			char *path = g_key_file_get_string(lab->record, groups[i], keys[k], NULL);
			if (path)
				g_ptr_array_add(logs, path);
		}
		GPid play = (GPid)g_key_file_get_integer(lab->record, groups[i], "play_pid", NULL);
		guint64 play_started = g_key_file_get_uint64(lab->record, groups[i], "play_started", NULL);
		if (play_started && process_start_time(play) == play_started)
			o.playing++;
	}
	o.event_logs = (const char *const *)logs->pdata;
	o.n_event_logs = logs->len;
	int rc = lab_check_run(&o);
	lab_close(lab);
	return rc;
}

int ms_cmd_lab(int argc, char **argv)
{
	char *state = NULL, *prefix = NULL, *ip = NULL;
	gboolean plaintext = FALSE, no_fsync = FALSE, play = FALSE, verbose = FALSE;
	/* play-host: what up gives each player */
	char *machine = NULL, *sw = NULL, *port = NULL, *events = NULL;
	gint64 t0 = 0;
	GOptionEntry entries[] = {
		{ "state", 0, 0, G_OPTION_ARG_FILENAME, &state,
		  "Where the record, the logs and each host's files live (" LAB_DEFAULT_STATE ")", "DIR" },
		{ "prefix", 0, 0, G_OPTION_ARG_STRING, &prefix,
		  "up: start of every namespace name (" LAB_DEFAULT_PREFIX "), " LAB_DEFAULT_PREFIX "...", "PREFIX" },
		{ "allow-plaintext-auth", 0, 0, G_OPTION_ARG_NONE, &plaintext,
		  "up: servers accept passwords before STARTTLS", NULL },
		{ "no-fsync", 0, 0, G_OPTION_ARG_NONE, &no_fsync, "up: servers do not sync files (faster, unsafe)", NULL },
		{ "play", 0, 0, G_OPTION_ARG_NONE, &play,
		  "up: act out the scenario's script (its at lines) from the machines, log in STATE/" LAB_PLAY_LOG, NULL },
		{ "host", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &machine, "play-host: the machine", "NAME" },
		{ "t0", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT64, &t0, "play-host: time 0 (monotonic us)", "US" },
		{ "switch", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &sw, "play-host: the switch", "NETNS" },
		{ "port", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &port, "play-host: its cable", "IFNAME" },
		{ "events", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &events, "play-host: its event log", "FILE" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print every ip, tc and nft command", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("up [SCENARIO] | down | status | check - each host in its own network namespace");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx,
		"up makes a namespace per host of SCENARIO (" LAB_DEFAULT_SCENARIO " by default) with its\n"
		"address on eth0, joins them on a private bridge and runs each host's servers there\n"
		"(mailsim serve --host).  Needs root.  docs/LAB.md tells more.\n"
		"  sudo mailsim lab up -v\n"
		"  sudo mailsim lab up --play                  # and act out its script: STATE/" LAB_PLAY_LOG "\n"
		"  sudo mailsim lab check                      # its expect lines, judged as mailsim run does\n"
		"  sudo ip netns exec " LAB_DEFAULT_PREFIX "home-pc-alice dig @203.0.113.53 MX example.org\n"
		"  sudo mailsim lab down");
	g_autoptr(GError) error = NULL;
	int rc = 2;
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "mailsim lab: %s\n", error->message);
		goto out;
	}
	const char *verb = argc >= 2 ? argv[1] : NULL;
	const char *dir = state ? state : LAB_DEFAULT_STATE;
	if (verb && !strcmp(verb, "play-host")) {
		/* what lab up --play runs in a machine's namespace: not for hands */
		if (argc != 3 || !machine || !state || t0 <= 0) {
			fprintf(stderr, "mailsim lab: play-host SCENARIO --state DIR --host NAME --t0 US, as up --play runs it\n");
			goto out;
		}
		LabPlayOptions po = { .scenario = argv[2], .state = state, .machine = machine, .t0_us = t0,
		                      .switch_netns = sw, .port = port, .events = events };
		rc = lab_play_machine_run(&po);
		goto out;
	}
	if (!verb || (strcmp(verb, "up") && strcmp(verb, "down") && strcmp(verb, "status") && strcmp(verb, "check")) ||
	    argc > (strcmp(verb, "up") ? 2 : 3)) {
		fprintf(stderr, "mailsim lab: say up [SCENARIO], down, status or check (mailsim lab --help)\n");
		goto out;
	}
	if (prefix && !prefix_valid(prefix)) {
		fprintf(stderr, "mailsim lab: --prefix: \"%s\" must start with " LAB_DEFAULT_PREFIX
		        " and hold only a-z, 0-9 and -, at most %d characters\n", prefix, LAB_PREFIX_MAX);
		goto out;
	}
	if (!strcmp(verb, "status")) {
		rc = lab_status(dir);
		goto out;
	}
	if (!strcmp(verb, "check")) {
		rc = lab_check(dir);
		goto out;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "mailsim lab: making and removing network namespaces needs root "
		        "(CAP_SYS_ADMIN): sudo mailsim lab %s\n", verb);
		rc = 1;
		goto out;
	}
	ip = g_find_program_in_path("ip");
	if (!ip) {
		fprintf(stderr, "mailsim lab: the ip command is missing (Debian: apt-get install iproute2)\n");
		rc = 1;
		goto out;
	}
	rc = !strcmp(verb, "up")
	     ? lab_up(argc == 3 ? argv[2] : LAB_DEFAULT_SCENARIO, dir, prefix ? prefix : LAB_DEFAULT_PREFIX,
	              plaintext, no_fsync, play, verbose)
	     : lab_down(dir, verbose);
out:
	g_free(state);
	g_free(prefix);
	g_free(ip);
	g_free(machine);
	g_free(sw);
	g_free(port);
	g_free(events);
	return rc;
}
