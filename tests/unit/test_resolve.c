/* Unit tests: the one resolution order of local addresses (resolve.h), on a users
 * database built here with userdb.h. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "resolve.h"
#include "userdb.h"
#include "users.h"

static char home[] = "/tmp/tern-unit-resolve.XXXXXX";

static void build(const char *src)
{
	char p[512];
	struct userdb db;
	memset(&db, 0, sizeof db);
	ck_assert_int_eq(userdb_load(&db, src, strlen(src)), 0);
	snprintf(p, sizeof p, "%s/users/users.cdb", home);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(userdb_cdb(&db, fd), 0);
	close(fd);
	userdb_free(&db);
	users_close();
}

static struct res_rcpt r;
static stralloc t;
static struct user_rec u;
static struct sysacct sa;
static char key[RES_ADDRMAX + 258];

static int res(const char *local, const char *domain)
{
	ck_assert_int_eq(res_parse(&r, local, strlen(local), domain, strlen(domain), "+"), 0);
	return res_local(&r, &t, &u, &sa, key);
}

START_TEST(split)
{
	ck_assert_int_eq(res_parse(&r, "Alice+Lists", 11, "Example.ORG", 11, "+"), 0);
	ck_assert_str_eq(r.lower, "alice+lists@example.org");
	ck_assert_str_eq(r.base, "alice");
	ck_assert_str_eq(r.ext, "lists");
	ck_assert_int_eq(r.hasdelim, 1);
	/* In first place the delimiter is part of the name; the first one after it splits. */
	ck_assert_int_eq(res_parse(&r, "+a+b+c", 6, "d", 1, "+"), 0);
	ck_assert_str_eq(r.base, "+a");
	ck_assert_str_eq(r.ext, "b+c");
	ck_assert_int_eq(res_parse(&r, "+x", 2, "d", 1, "+"), 0);
	ck_assert_int_eq(r.hasdelim, 0);
	ck_assert_int_eq(res_parse(&r, "a+b", 3, "d", 1, ""), 0);
	ck_assert_int_eq(r.hasdelim, 0);
	ck_assert_int_eq(res_parse(&r, "a--b", 4, "d", 1, "--"), 0);
	ck_assert_str_eq(r.ext, "b");
	ck_assert_int_eq(res_parse(&r, "", 0, "d", 1, "+"), -1);
	ck_assert_int_eq(res_parse(&r, "a", 1, "", 0, "+"), -1);
	static char big[RES_ADDRMAX + 2];
	memset(big, 'x', sizeof big - 1);
	ck_assert_int_eq(res_parse(&r, big, RES_ADDRMAX, "d", 1, "+"), -1);
}
END_TEST

START_TEST(order)
{
	build("D:ex.test\nU:alice@ex.test::\nA:al@ex.test:alice@ex.test\nU:bob@ex.test::\n"
	      "A:bob+x@ex.test:alice@ex.test\nA:carol@ex.test:alice@ex.test\nU:carol@ex.test::\n");
	ck_assert_int_eq(res("alice", "ex.test"), RES_USER);
	ck_assert_str_eq(key, "alice@ex.test");
	ck_assert_int_eq(res("AL", "ex.test"), RES_ALIAS);
	ck_assert_uint_gt(t.len, 0);
	ck_assert_int_eq(res("carol", "ex.test"), RES_ALIAS);	/* an alias wins over a user */
	ck_assert_int_eq(res("bob+x", "ex.test"), RES_ALIAS);	/* the whole address first */
	ck_assert_int_eq(res("bob+y", "ex.test"), RES_EXT_USER);
	ck_assert_str_eq(key, "bob@ex.test");
	ck_assert_int_eq(res("al+z", "ex.test"), RES_EXT_ALIAS);
	ck_assert_int_eq(res("nobody", "ex.test"), RES_NONE);
	ck_assert_int_eq(res("Postmaster", "ex.test"), RES_ROLE);
	ck_assert_int_eq(res("abuse", "ex.test"), RES_ROLE);
	/* The catch-all is opt-in: once there, it takes what no one else does. */
	build("D:ex.test\nU:alice@ex.test::\nA:@ex.test:alice@ex.test\n");
	ck_assert_int_eq(res("nobody", "ex.test"), RES_CATCHALL);
	ck_assert_str_eq(key, "@ex.test");
	ck_assert_int_eq(res("alice+q", "ex.test"), RES_EXT_USER);
	stralloc_free(&t);
	users_close();
}
END_TEST

int main(void)
{
	if (!mkdtemp(home)) return 1;
	char p[512];
	snprintf(p, sizeof p, "%s/users", home);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/control", home);
	mkdir(p, 0755);
	/* No system accounts here: the resolver must not ask tern-getpw. */
	snprintf(p, sizeof p, "%s/control/systemaccounts", home);
	FILE *f = fopen(p, "w");
	fputs("0\n", f);
	fclose(f);
	setenv("TERN_HOME", home, 1);
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, split);
	tcase_add_test(tc, order);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", home);
	if (system(cmd) != 0) return 1;
	return failed ? 1 : 0;
}
