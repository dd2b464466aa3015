/* Unit tests: address helpers (addr.h), the path-component gate above all. */
#include <check.h>
#include <string.h>
#include "addr.h"

#define S(x) x, strlen(x)

START_TEST(at)
{
	ck_assert_uint_eq(addr_at(S("a@b@c")), 3);
	ck_assert_uint_eq(addr_at(S("nobody")), 6);
	ck_assert_uint_eq(addr_at(S("@x")), 0);
}
END_TEST

START_TEST(pathsafe)
{
	ck_assert(addr_pathsafe(S("demo")));
	ck_assert(addr_pathsafe(S("a.b-c_d+e")));
	ck_assert(!addr_pathsafe(S("")));
	ck_assert(!addr_pathsafe(S(".")));
	ck_assert(!addr_pathsafe(S("..")));
	ck_assert(!addr_pathsafe(S(".hidden")));
	ck_assert(!addr_pathsafe(S("a/b")));
	ck_assert(!addr_pathsafe(S("../../etc")));
	ck_assert(!addr_pathsafe("a\0b", 3));
	ck_assert(!addr_pathsafe(S("a\nb")));
	char big[300];
	memset(big, 'a', sizeof big);
	ck_assert(!addr_pathsafe(big, 256));
	ck_assert(addr_pathsafe(big, 255));
}
END_TEST

START_TEST(domain)
{
	ck_assert(addr_domain_ok(S("example.test")));
	ck_assert(addr_domain_ok(S("[127.0.0.1]")));
	ck_assert(!addr_domain_ok(S("")));
	ck_assert(!addr_domain_ok(S("a..b")));
	ck_assert(!addr_domain_ok(S(".a")));
	ck_assert(!addr_domain_ok(S("a/b")));
	ck_assert(!addr_domain_ok(S("a b")));
	char lab[70];
	memset(lab, 'a', sizeof lab);
	ck_assert(!addr_domain_ok(lab, 64));
	ck_assert(addr_domain_ok(lab, 63));
}
END_TEST

START_TEST(lower)
{
	char s[] = "MiXeD@Example.TEST";
	addr_lower(s, strlen(s));
	ck_assert_str_eq(s, "mixed@example.test");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, at);
	tcase_add_test(tc, pathsafe);
	tcase_add_test(tc, domain);
	tcase_add_test(tc, lower);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
