/* tests/agents/mta/test_anvil.c - per-client connection limits: the count
 * of open connections, the rate per time unit, refusals that do not count
 * as open, clients kept apart, and the clean-up of clients gone quiet. */
#include "tests/ms_test.h"
#include "agents/mta/anvil.h"

#define UNIT (60 * G_USEC_PER_SEC)

START_TEST(test_count_limit)
{
	g_autoptr(Anvil) a = anvil_new(3, 0, UNIT);
	guint count = 0;
	for (guint i = 1; i <= 3; i++) {
		ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 0, &count, NULL), ANVIL_OK);
		ck_assert_uint_eq(count, i);
	}
	/* the fourth at once is refused, and does not stay counted */
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 0, &count, NULL), ANVIL_TOO_MANY);
	ck_assert_uint_eq(count, 4);
	ck_assert_uint_eq(anvil_count(a, "192.0.2.1"), 3);
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 0, NULL, NULL), ANVIL_TOO_MANY);
	/* another client is not affected */
	ck_assert_int_eq(anvil_connect(a, "192.0.2.2", 0, &count, NULL), ANVIL_OK);
	ck_assert_uint_eq(count, 1);
	/* one ends: one more may come */
	anvil_disconnect(a, "192.0.2.1");
	ck_assert_uint_eq(anvil_count(a, "192.0.2.1"), 2);
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 0, NULL, NULL), ANVIL_OK);
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 0, NULL, NULL), ANVIL_TOO_MANY);
	ck_assert_str_eq(anvil_verdict_to_string(ANVIL_TOO_MANY), "too many connections");
}
END_TEST

START_TEST(test_no_limit)
{
	g_autoptr(Anvil) a = anvil_new(0, 0, UNIT);
	for (guint i = 0; i < 1000; i++)
		ck_assert_int_eq(anvil_connect(a, "192.0.2.1", i, NULL, NULL), ANVIL_OK);
	ck_assert_uint_eq(anvil_count(a, "192.0.2.1"), 1000);
}
END_TEST

START_TEST(test_rate_limit)
{
	g_autoptr(Anvil) a = anvil_new(0, 2, UNIT);
	guint rate = 0;
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 0, NULL, &rate), ANVIL_OK);
	anvil_disconnect(a, "192.0.2.1");
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 10 * G_USEC_PER_SEC, NULL, &rate), ANVIL_OK);
	anvil_disconnect(a, "192.0.2.1");
	ck_assert_uint_eq(rate, 2);
	/* a third in the same minute, even with none open */
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 20 * G_USEC_PER_SEC, NULL, &rate), ANVIL_TOO_FAST);
	ck_assert_uint_eq(rate, 3);
	ck_assert_uint_eq(anvil_count(a, "192.0.2.1"), 0);
	/* refused ones count towards the rate: still refused near the end */
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", UNIT - 1, NULL, &rate), ANVIL_TOO_FAST);
	ck_assert_uint_eq(rate, 4);
	/* a new window starts a unit after the first connection */
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", UNIT, NULL, &rate), ANVIL_OK);
	ck_assert_uint_eq(rate, 1);
}
END_TEST

START_TEST(test_count_checked_before_rate)
{
	g_autoptr(Anvil) a = anvil_new(1, 1, UNIT);
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 0, NULL, NULL), ANVIL_OK);
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 0, NULL, NULL), ANVIL_TOO_MANY);
	anvil_disconnect(a, "192.0.2.1");
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", 0, NULL, NULL), ANVIL_TOO_FAST);
}
END_TEST

START_TEST(test_quiet_clients_are_forgotten)
{
	g_autoptr(Anvil) a = anvil_new(5, 0, UNIT);
	char addr[32];
	for (guint i = 0; i < ANVIL_SWEEP_AT; i++) {
		g_snprintf(addr, sizeof addr, "10.0.%u.%u", i / 256, i % 256);
		ck_assert_int_eq(anvil_connect(a, addr, 0, NULL, NULL), ANVIL_OK);
		if (i > 0)   /* the first stays connected */
			anvil_disconnect(a, addr);
	}
	ck_assert_uint_eq(anvil_clients(a), ANVIL_SWEEP_AT);
	/* within the unit nothing is dropped; after it, all but the open one */
	ck_assert_int_eq(anvil_connect(a, "192.0.2.1", UNIT / 2, NULL, NULL), ANVIL_OK);
	ck_assert_uint_eq(anvil_clients(a), ANVIL_SWEEP_AT + 1);
	ck_assert_int_eq(anvil_connect(a, "192.0.2.2", 2 * UNIT, NULL, NULL), ANVIL_OK);
	ck_assert_uint_eq(anvil_clients(a), 3);   /* 10.0.0.0, 192.0.2.1 and .2: all open */
	ck_assert_uint_eq(anvil_count(a, "10.0.0.0"), 1);
}
END_TEST

typedef struct {
	Anvil *a;
	gint   refused;
} Race;

static gpointer racer(gpointer data)
{
	Race *r = data;
	for (guint i = 0; i < 10000; i++) {
		if (anvil_connect(r->a, "192.0.2.1", 0, NULL, NULL) == ANVIL_OK)
			anvil_disconnect(r->a, "192.0.2.1");
		else
			g_atomic_int_inc(&r->refused);
	}
	return NULL;
}

START_TEST(test_threads)
{
	g_autoptr(Anvil) a = anvil_new(4, 0, UNIT);
	Race r = { a, 0 };
	GThread *t[4];
	for (guint i = 0; i < G_N_ELEMENTS(t); i++)
		t[i] = g_thread_new("racer", racer, &r);
	for (guint i = 0; i < G_N_ELEMENTS(t); i++)
		g_thread_join(t[i]);
	/* four threads, limit four: never refused, and all closed again */
	ck_assert_int_eq(r.refused, 0);
	ck_assert_uint_eq(anvil_count(a, "192.0.2.1"), 0);
}
END_TEST

static Suite *anvil_suite(void)
{
	Suite *s = suite_create("anvil");
	MS_ADD_TEST(s, test_count_limit, 5);
	MS_ADD_TEST(s, test_no_limit, 5);
	MS_ADD_TEST(s, test_rate_limit, 5);
	MS_ADD_TEST(s, test_count_checked_before_rate, 5);
	MS_ADD_TEST(s, test_quiet_clients_are_forgotten, 5);
	MS_ADD_TEST(s, test_threads, 20);
	return s;
}

MS_TEST_MAIN(anvil_suite)
