/* agents/mda/authsvc.c - the account service protocol, both sides.
 *
 * One command per line, one reply per command; see authsvc.h for the
 * exchange.  The server delays every failed AUTH by the same amount on the
 * scheduler's clock, so guessing is slow and timing tells nothing.
 */
#include "agents/mda/authsvc.h"

#include <string.h>

static const char *const result_names[] = { "ok", "no", "temporary failure" };

const char *authsvc_result_to_string(AuthsvcResult r)
{
	return (guint)r < G_N_ELEMENTS(result_names) ? result_names[r] : "?";
}

/* ---- client ------------------------------------------------------------ */

struct AuthsvcClient {
	MsConn  *conn;
	gboolean broken;       /* a read or write failed: never used again */
	gint64   idle_since;   /* in a pool: when it was given back */
};

static gboolean read_reply(MsConn *c, char *buf, gsize max, GError **error)
{
	MsEol eol;
	gssize n = ms_conn_read_line(c, buf, max, &eol, error);
	if (n < 0)
		return FALSE;
	if (n == 0 && eol == MS_EOL_EOF) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "the account service closed the connection");
		return FALSE;
	}
	if (buf[0] != '+' && buf[0] != '-') {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the account service said \"%s\"", buf);
		return FALSE;
	}
	return TRUE;
}

AuthsvcClient *authsvc_client_connect(MsStack *stack, const char *addr, guint16 port, GError **error)
{
	MsConn *conn = ms_stack_connect(stack, addr, port, AUTHSVC_TIMEOUT, error);
	if (!conn)
		return NULL;
	ms_conn_set_proto(conn, "auth");
	ms_conn_set_timeout(conn, AUTHSVC_TIMEOUT);
	char line[AUTHSVC_MAX_LINE + 1];
	if (!read_reply(conn, line, AUTHSVC_MAX_LINE, error) || line[0] != '+') {
		if (error && !*error)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the account service refused: %s", line);
		ms_conn_unref(conn);
		return NULL;
	}
	AuthsvcClient *c = g_new0(AuthsvcClient, 1);
	c->conn = conn;
	return c;
}

/* Close without a word: the connection is broken, or the world stops. */
static void client_drop(AuthsvcClient *c)
{
	ms_conn_unref(c->conn);
	g_free(c);
}

void authsvc_client_free(AuthsvcClient *c)
{
	if (!c)
		return;
	char line[AUTHSVC_MAX_LINE + 1];
	/* a broken connection could make us wait a whole time-out for "+OK bye" */
	if (!c->broken && ms_conn_printf(c->conn, NULL, "QUIT\r\n"))
		read_reply(c->conn, line, AUTHSVC_MAX_LINE, NULL);
	client_drop(c);
}

gboolean authsvc_client_usable(AuthsvcClient *c)
{
	return !c->broken;
}

static AuthsvcResult result_of(const char *line, GError **error)
{
	if (line[0] == '+')
		return AUTHSVC_OK;
	if (g_str_has_prefix(line, "-TEMP")) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", line[5] ? line + 6 : "temporary failure");
		return AUTHSVC_TEMPFAIL;
	}
	return AUTHSVC_NO;
}

AuthsvcResult authsvc_client_auth(AuthsvcClient *c, const char *user, const char *password,
                                  const char *step, GError **error)
{
	if (strpbrk(user, " \r\n") || strlen(user) > AUTHSVC_MAX_LINE / 2)
		return AUTHSVC_NO;   /* no such user can exist; do not garble the protocol */
	ms_conn_set_step(c->conn, step);
	g_autofree char *b64 = g_base64_encode((const guchar *)password, strlen(password));
	g_autofree char *line = g_strdup_printf("AUTH %s %s\r\n", user, b64);
	g_autofree char *shown = g_strdup_printf("AUTH %s ••••••", user);
	char reply[AUTHSVC_MAX_LINE + 1];
	if (!ms_conn_write_masked(c->conn, line, strlen(line), shown, error) ||
	    !read_reply(c->conn, reply, AUTHSVC_MAX_LINE, error)) {
		c->broken = TRUE;
		return AUTHSVC_TEMPFAIL;
	}
	return result_of(reply, error);
}

AuthsvcResult authsvc_client_rcpt(AuthsvcClient *c, const char *address, const char *step,
                                  GPtrArray **mailboxes_r, GError **error)
{
	if (mailboxes_r)
		*mailboxes_r = NULL;
	if (strpbrk(address, " \r\n") || strlen(address) > AUTHSVC_MAX_LINE / 2)
		return AUTHSVC_NO;
	ms_conn_set_step(c->conn, step);
	char reply[AUTHSVC_MAX_LINE + 1];
	if (!ms_conn_printf(c->conn, error, "RCPT %s\r\n", address) ||
	    !read_reply(c->conn, reply, AUTHSVC_MAX_LINE, error)) {
		c->broken = TRUE;
		return AUTHSVC_TEMPFAIL;
	}
	AuthsvcResult r = result_of(reply, error);
	if (r == AUTHSVC_OK && mailboxes_r) {
		GPtrArray *boxes = g_ptr_array_new_with_free_func(g_free);
		g_auto(GStrv) words = g_strsplit(reply + 3, " ", -1);   /* after "+OK" */
		for (guint i = 0; words[i]; i++)
			if (words[i][0])
				g_ptr_array_add(boxes, g_strdup(words[i]));
		*mailboxes_r = boxes;
	}
	return r;
}

/* ---- pool -------------------------------------------------------------- */

G_STATIC_ASSERT(AUTHSVC_POOL_IDLE_TIME < AUTHSVC_TIMEOUT);   /* we hang up before the service does */

struct AuthsvcPool {
	gint      refs;       /* the owner's, and the reaper's while it runs */
	GMutex    lock;       /* the fields below */
	GQueue    idle;       /* AuthsvcClient *, the oldest given back at the head */
	MsTask   *reaper;     /* says QUIT to the idle ones in time; NULL: none runs */
	gboolean  closing;
	MsStack  *stack;
	MsSched  *sched;
	char     *addr;
	guint16   port;
};

static void pool_unref(AuthsvcPool *pool)
{
	if (!g_atomic_int_dec_and_test(&pool->refs))
		return;
	AuthsvcClient *c;
	while ((c = g_queue_pop_head(&pool->idle)))
		client_drop(c);
	g_mutex_clear(&pool->lock);
	ms_stack_unref(pool->stack);
	g_free(pool->addr);
	g_free(pool);
}

AuthsvcPool *authsvc_pool_new(MsStack *stack, const char *addr, guint16 port)
{
	AuthsvcPool *pool = g_new0(AuthsvcPool, 1);
	pool->refs = 1;
	g_mutex_init(&pool->lock);
	g_queue_init(&pool->idle);
	pool->stack = ms_stack_ref(stack);
	pool->sched = ms_stack_sched(stack);
	pool->addr = g_strdup(addr);
	pool->port = port;
	return pool;
}

/* The reaper: QUIT each idle connection when its idle time is up (all of
 * them once the pool closes); end when none is left. */
static void pool_reaper(gpointer data)
{
	AuthsvcPool *pool = data;
	for (;;) {
		g_mutex_lock(&pool->lock);
		AuthsvcClient *oldest = g_queue_peek_head(&pool->idle);
		if (!oldest) {
			pool->reaper = NULL;
			g_mutex_unlock(&pool->lock);
			break;
		}
		gint64 due = oldest->idle_since + AUTHSVC_POOL_IDLE_TIME;
		gboolean closing = pool->closing, now = closing || due <= ms_sched_now(pool->sched);
		if (now)
			g_queue_pop_head(&pool->idle);
		g_mutex_unlock(&pool->lock);
		if (now) {
			/* the goodbye belongs to no course step: say why it comes late */
			ms_conn_set_step(oldest->conn, NULL);
			if (!closing)
				ms_conn_emit(oldest->conn, MS_EV_NOTE, "kept open %d s for another question; none came: QUIT",
				             (int)(AUTHSVC_POOL_IDLE_TIME / MS_SECOND));
			authsvc_client_free(oldest);
			continue;
		}
		if (ms_task_park(due) == MS_PARK_CANCELLED) {
			/* the world stops: nobody is left to answer a QUIT */
			g_mutex_lock(&pool->lock);
			pool->closing = TRUE;
			AuthsvcClient *c;
			while ((c = g_queue_pop_head(&pool->idle)))
				client_drop(c);
			pool->reaper = NULL;
			g_mutex_unlock(&pool->lock);
			break;
		}
	}
	pool_unref(pool);
}

void authsvc_pool_close(AuthsvcPool *pool)
{
	g_mutex_lock(&pool->lock);
	pool->closing = TRUE;
	if (pool->reaper)
		ms_task_unpark(pool->reaper);
	g_mutex_unlock(&pool->lock);
}

void authsvc_pool_free(AuthsvcPool *pool)
{
	if (!pool)
		return;
	authsvc_pool_close(pool);
	pool_unref(pool);
}

AuthsvcClient *authsvc_pool_take(AuthsvcPool *pool, gboolean *reused_r, GError **error)
{
	g_mutex_lock(&pool->lock);
	/* the one given back last: the least likely to be closed meanwhile */
	AuthsvcClient *c = g_queue_pop_tail(&pool->idle);
	g_mutex_unlock(&pool->lock);
	if (reused_r)
		*reused_r = c != NULL;
	return c ? c : authsvc_client_connect(pool->stack, pool->addr, pool->port, error);
}

void authsvc_pool_give(AuthsvcPool *pool, AuthsvcClient *c, gboolean reusable)
{
	if (!c)
		return;
	g_mutex_lock(&pool->lock);
	gboolean keep = reusable && !c->broken && !pool->closing &&
	                g_queue_get_length(&pool->idle) < AUTHSVC_POOL_IDLE_MAX;
	if (keep) {
		c->idle_since = ms_sched_now(pool->sched);
		g_queue_push_tail(&pool->idle, c);
		if (!pool->reaper) {
			g_atomic_int_inc(&pool->refs);
			g_autofree char *name = g_strdup_printf("authsvc-pool@%s", ms_stack_name(pool->stack));
			pool->reaper = ms_task_spawn(pool->sched, name, pool_reaper, pool);
		}
	}
	g_mutex_unlock(&pool->lock);
	if (!keep)
		authsvc_client_free(c);
}

guint authsvc_pool_idle(AuthsvcPool *pool)
{
	g_mutex_lock(&pool->lock);
	guint n = g_queue_get_length(&pool->idle);
	g_mutex_unlock(&pool->lock);
	return n;
}

/* A reused connection that the service closed while it waited: worth one
 * more try on a new connection.  Not after a time-out: the service is slow,
 * not gone, and a second wait would only double the first. */
static gboolean retry_fresh(gboolean reused, AuthsvcClient *c, const GError *err)
{
	return reused && c->broken && !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) &&
	       !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

typedef struct {
	gboolean    auth;                        /* AUTH user password, or RCPT address */
	const char *user, *password, *address;
	const char *step;
	GPtrArray **mailboxes_r;
} PoolQuestion;

static AuthsvcResult pool_ask(AuthsvcPool *pool, const PoolQuestion *q, GError **error)
{
	for (guint attempt = 0;; attempt++) {
		g_autoptr(GError) err = NULL;
		gboolean reused = FALSE;
		AuthsvcClient *c = attempt == 0 ? authsvc_pool_take(pool, &reused, &err)
		                                : authsvc_client_connect(pool->stack, pool->addr, pool->port, &err);
		if (!c) {
			g_propagate_error(error, g_steal_pointer(&err));
			return AUTHSVC_TEMPFAIL;
		}
		AuthsvcResult r = q->auth ? authsvc_client_auth(c, q->user, q->password, q->step, &err)
		                              : authsvc_client_rcpt(c, q->address, q->step, q->mailboxes_r, &err);
		gboolean again = attempt == 0 && retry_fresh(reused, c, err);
		authsvc_pool_give(pool, c, TRUE);
		if (!again) {
			if (err)
				g_propagate_error(error, g_steal_pointer(&err));
			return r;
		}
	}
}

AuthsvcResult authsvc_pool_auth(AuthsvcPool *pool, const char *user, const char *password,
                                const char *step, GError **error)
{
	PoolQuestion q = { .auth = TRUE, .user = user, .password = password, .step = step };
	return pool_ask(pool, &q, error);
}

AuthsvcResult authsvc_pool_rcpt(AuthsvcPool *pool, const char *address, const char *step,
                                GPtrArray **mailboxes_r, GError **error)
{
	PoolQuestion q = { .address = address, .step = step, .mailboxes_r = mailboxes_r };
	return pool_ask(pool, &q, error);
}

/* ---- server ------------------------------------------------------------ */

static void serve_auth(MsConn *conn, const AuthsvcBackend *b, gpointer ud, const char *args,
                       const char *step)
{
	const char *sp = strchr(args, ' ');
	g_autofree char *user = sp ? g_strndup(args, sp - args) : NULL;
	gsize plen = 0;
	g_autofree guchar *pass = sp ? g_base64_decode(sp + 1, &plen) : NULL;
	g_autofree char *password = pass ? g_strndup((const char *)pass, plen) : NULL;
	ms_conn_set_step(conn, step);
	if (!user || !password || strlen(password) != plen) {
		ms_conn_printf(conn, NULL, "-NO malformed AUTH\r\n");
		return;
	}
	g_autoptr(GError) err = NULL;
	gboolean ok = b->verify(ud, user, password, &err);
	if (err) {
		ms_conn_printf(conn, NULL, "-TEMP %s\r\n", err->message);
		return;
	}
	if (!ok) {
		/* Same delay and same answer whether the user or the password was
		 * wrong: a guesser learns nothing and learns it slowly. */
		ms_conn_emit(conn, MS_EV_AUTH, "authentication failed for %s", user);
		ms_sleep(AUTHSVC_FAIL_DELAY);
		ms_conn_printf(conn, NULL, "-NO\r\n");
		return;
	}
	ms_conn_emit(conn, MS_EV_AUTH, "%s authenticated", user);
	ms_conn_printf(conn, NULL, "+OK\r\n");
}

static void serve_rcpt(MsConn *conn, const AuthsvcBackend *b, gpointer ud, const char *address,
                       const char *step)
{
	ms_conn_set_step(conn, step);
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) boxes = b->resolve(ud, address, &err);
	if (!boxes) {
		ms_conn_printf(conn, NULL, "-TEMP %s\r\n", err ? err->message : "lookup failed");
		return;
	}
	if (boxes->len == 0) {
		ms_conn_printf(conn, NULL, "-NOUSER\r\n");
		return;
	}
	GString *line = g_string_new("+OK");
	for (guint i = 0; i < boxes->len; i++)
		g_string_append_printf(line, " %s", (char *)g_ptr_array_index(boxes, i));
	g_string_append(line, "\r\n");
	ms_conn_write(conn, line->str, line->len, NULL);
	g_string_free(line, TRUE);
}

void authsvc_serve(MsConn *conn, const AuthsvcBackend *backend, gpointer ud,
                   const char *step_auth, const char *step_rcpt)
{
	ms_conn_set_proto(conn, "auth");
	ms_conn_set_timeout(conn, AUTHSVC_TIMEOUT);
	ms_conn_printf(conn, NULL, "+OK mailsim account service\r\n");
	char line[AUTHSVC_MAX_LINE + 1];
	for (;;) {
		MsEol eol;
		gssize n = ms_conn_read_line(conn, line, AUTHSVC_MAX_LINE, &eol, NULL);
		if (n < 0 || (n == 0 && eol == MS_EOL_EOF))
			return;
		if (eol == MS_EOL_TOO_LONG) {
			ms_conn_printf(conn, NULL, "-ERR line too long\r\n");
			continue;
		}
		if (g_ascii_strncasecmp(line, "AUTH ", 5) == 0)
			serve_auth(conn, backend, ud, line + 5, step_auth);
		else if (g_ascii_strncasecmp(line, "RCPT ", 5) == 0)
			serve_rcpt(conn, backend, ud, line + 5, step_rcpt);
		else if (g_ascii_strcasecmp(line, "QUIT") == 0) {
			ms_conn_set_step(conn, NULL);   /* the goodbye is no step of the course */
			ms_conn_printf(conn, NULL, "+OK bye\r\n");
			return;
		} else
			ms_conn_printf(conn, NULL, "-ERR unknown command\r\n");
	}
}
