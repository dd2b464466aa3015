/* Unit tests: envelope codec (env.h). */
#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "env.h"

static const struct env_limits lim = { 100, 3 };

static int parse(const char *s, size_t n) { size_t k; return env_parse(s, n, &lim, &k); }
#define P(lit) parse(lit, sizeof(lit) - 1)

START_TEST(good)
{
	size_t n = 0;
	ck_assert_int_eq(env_parse("Fa@b\0Tc@d\0Te@f\0", 16, &lim, &n), ENV_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(P("F\0Tpostmaster\0\0"), ENV_OK);	/* null sender */
}
END_TEST

START_TEST(bad)
{
	ck_assert_int_eq(P("Fa@b\0\0"), ENV_FORMAT);			/* no recipient */
	ck_assert_int_eq(P("Ta@b\0\0"), ENV_FORMAT);			/* no sender */
	ck_assert_int_eq(P("Fa@b\0T\0\0"), ENV_FORMAT);			/* empty recipient */
	ck_assert_int_eq(P("Fa@b\0Xc@d\0\0"), ENV_FORMAT);		/* unknown record */
	ck_assert_int_eq(P("Fa@b\0Tc@d\0"), ENV_FORMAT);		/* unterminated */
	ck_assert_int_eq(P("Fa@b\0Tc@d\0\0junk"), ENV_FORMAT);		/* trailing bytes */
	ck_assert_int_eq(P("Fa@b\0Tc\nd@e\0\0"), ENV_FORMAT);		/* control byte */
	ck_assert_int_eq(P("Fa@b\0Ta\0Tb\0Tc\0Td\0\0"), ENV_FORMAT);	/* too many recipients */
	char big[300];
	memset(big, 'x', sizeof big);
	big[0] = 'F'; big[150] = 0; big[151] = 'T'; big[153] = 0; big[154] = 0;
	ck_assert_int_eq(parse(big, 155), ENV_TOOLONG);
	ck_assert_int_eq(parse("", 0), ENV_FORMAT);
}
END_TEST

START_TEST(build_iterate)
{
	stralloc sa = {0};
	ck_assert(env_start(&sa, "s@x") && env_add_rcpt(&sa, "r1@y") && env_add_rcpt(&sa, "r2@z") && env_finish(&sa));
	size_t n;
	ck_assert_int_eq(env_parse(sa.s, sa.len, &lim, &n), ENV_OK);
	ck_assert_str_eq(env_sender(sa.s), "s@x");
	size_t pos = 0;
	ck_assert_str_eq(env_next_rcpt(sa.s, sa.len, &pos), "r1@y");
	ck_assert_str_eq(env_next_rcpt(sa.s, sa.len, &pos), "r2@z");
	ck_assert_ptr_null(env_next_rcpt(sa.s, sa.len, &pos));
	stralloc_free(&sa);
}
END_TEST

static int pipe_with(const char *s, size_t n)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], s, n), (ssize_t)n);
	close(p[1]);
	return p[0];
}

START_TEST(read_fd)
{
	stralloc sa = {0};
	size_t n;
	int fd = pipe_with("Fa@b\0Tc@d\0\0", 11);
	ck_assert_int_eq(env_read_fd(fd, &sa, &lim, &n), ENV_OK);
	ck_assert_uint_eq(sa.len, 11);
	close(fd);
	sa.len = 0;
	fd = pipe_with("Fa@b\0Tc@d\0", 10);				/* EOF before the end */
	ck_assert_int_eq(env_read_fd(fd, &sa, &lim, &n), ENV_FORMAT);
	close(fd);
	sa.len = 0;
	fd = pipe_with("", 0);
	ck_assert_int_eq(env_read_fd(fd, &sa, &lim, &n), ENV_READ);
	close(fd);
	stralloc_free(&sa);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("env");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, good);
	tcase_add_test(tc, bad);
	tcase_add_test(tc, build_iterate);
	tcase_add_test(tc, read_fd);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
