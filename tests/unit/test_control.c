/* Unit tests: control files (control.h) in a temporary home. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "control.h"

static char home[] = "/tmp/tern-unit-control.XXXXXX";

static void put(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof p, "%s/control/%s", home, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	char p[256];
	if (!mkdtemp(home)) { perror("mkdtemp"); exit(1); }
	snprintf(p, sizeof p, "%s/control", home);
	if (mkdir(p, 0755) != 0) { perror(p); exit(1); }
	setenv("TERN_HOME", home, 1);
}

START_TEST(lines)
{
	char buf[64];
	put("me", "  mail.example.test  \n# comment\n");
	ck_assert_int_eq(control_readline(buf, sizeof buf, "me", "dflt"), 1);
	ck_assert_str_eq(buf, "mail.example.test");
	ck_assert_int_eq(control_readline(buf, sizeof buf, "absent", "dflt"), 0);
	ck_assert_str_eq(buf, "dflt");
	put("long", "0123456789012345678901234567890123456789\n");
	ck_assert_int_eq(control_readline(buf, 10, "long", 0), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

START_TEST(numbers)
{
	unsigned long v;
	put("databytes", "1000\n");
	ck_assert_int_eq(control_readulong(&v, "databytes", 5), 1);
	ck_assert_uint_eq(v, 1000);
	ck_assert_int_eq(control_readulong(&v, "none", 5), 0);
	ck_assert_uint_eq(v, 5);
	put("bad", "12abc\n");
	ck_assert_int_eq(control_readulong(&v, "bad", 5), -1);
	ck_assert_int_eq(errno, EINVAL);
	put("huge", "99999999999999999999999999\n");
	ck_assert_int_eq(control_readulong(&v, "huge", 5), -1);
	put("neg", "-1\n");
	ck_assert_int_eq(control_readulong(&v, "neg", 5), -1);
}
END_TEST

START_TEST(list)
{
	stralloc sa = {0};
	put("locals", "localhost\n\n# x\nExample.TEST\r\n");
	ck_assert_int_eq(control_readlines(&sa, "locals"), 1);
	ck_assert(control_inlist(&sa, "example.test", 12));
	ck_assert(control_inlist(&sa, "LOCALHOST", 9));
	ck_assert(!control_inlist(&sa, "local", 5));
	ck_assert(!control_inlist(&sa, "x", 1));
	stralloc_free(&sa);
}
END_TEST

int main(void)
{
	setup();
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, lines);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, list);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", home);
	if (system(cmd) != 0) f++;
	return f != 0;
}
