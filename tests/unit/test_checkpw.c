/* Unit tests: the checkpassword input (checkpw.h): login\0password\0, an optional
 * timestamp\0 and anything after it ignored, at most 512 bytes. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "checkpw.h"

static int parse(const char *s, size_t n, const char **l, size_t *ln, const char **p, size_t *pn)
{
	*l = *p = 0;
	*ln = *pn = 99;
	return checkpw_parse(s, n, l, ln, p, pn);
}
#define PARSE(lit) parse(lit, sizeof(lit) - 1, &l, &ln, &p, &pn)

START_TEST(good)
{
	const char *l, *p;
	size_t ln, pn;
	static const char a[] = "alice@example.org\0secret word\0<123.456@host>\0";
	ck_assert_int_eq(parse(a, sizeof a - 1, &l, &ln, &p, &pn), 0);
	ck_assert_ptr_eq(l, a);
	ck_assert_uint_eq(ln, 17);
	ck_assert_ptr_eq(p, a + 18);
	ck_assert_uint_eq(pn, 11);
	ck_assert_int_eq(memcmp(p, "secret word", 11), 0);
	ck_assert_int_eq(PARSE("bob\0pw\0"), 0);			/* no timestamp */
	ck_assert_uint_eq(ln, 3);
	ck_assert_uint_eq(pn, 2);
	ck_assert_int_eq(PARSE("bob\0pw\0ts\0junk after it"), 0);	/* the rest is ignored */
	ck_assert_uint_eq(pn, 2);
	ck_assert_int_eq(PARSE("bob\0pw\0ts"), 0);		/* an unterminated timestamp */
	ck_assert_int_eq(PARSE("\0\0"), 0);			/* both empty: a bad login, not misuse */
	ck_assert_uint_eq(ln, 0);
	ck_assert_uint_eq(pn, 0);
	ck_assert_int_eq(PARSE("bob\0\xc3\xa9 \x01\xff\0"), 0);	/* any bytes but NUL */
	ck_assert_uint_eq(pn, 5);
}
END_TEST

START_TEST(bad)
{
	const char *l, *p;
	size_t ln, pn;
	ck_assert_int_eq(PARSE(""), -1);
	ck_assert_int_eq(PARSE("bob"), -1);
	ck_assert_int_eq(PARSE("bob\0pw"), -1);			/* the password needs its NUL */
	ck_assert_int_eq(PARSE("\0"), -1);
	static char big[CHECKPW_MAX + 1];
	memset(big, 0, sizeof big);
	ck_assert_int_eq(parse(big, CHECKPW_MAX, &l, &ln, &p, &pn), 0);
	ck_assert_int_eq(parse(big, CHECKPW_MAX + 1, &l, &ln, &p, &pn), -1);	/* too long */
}
END_TEST

/* Reads what a pipe holds, n bytes written and closed. */
static ssize_t viapipe(const char *s, size_t n, char *buf, size_t size)
{
	int fd[2];
	ck_assert_int_eq(pipe(fd), 0);
	ck_assert_int_eq(write(fd[1], s, n), (ssize_t)n);
	ck_assert_int_eq(close(fd[1]), 0);
	ssize_t r = checkpw_read(fd[0], buf, size);
	ck_assert_int_eq(close(fd[0]), 0);
	return r;
}

START_TEST(reading)
{
	char buf[CHECKPW_MAX + 1], in[CHECKPW_MAX + 100];
	memset(in, 'x', sizeof in);
	ck_assert_int_eq(viapipe("a\0b\0", 4, buf, sizeof buf), 4);
	ck_assert_int_eq(memcmp(buf, "a\0b\0", 4), 0);
	ck_assert_int_eq(viapipe("", 0, buf, sizeof buf), 0);
	ck_assert_int_eq(viapipe(in, CHECKPW_MAX, buf, sizeof buf), CHECKPW_MAX);
	ck_assert_int_eq(viapipe(in, CHECKPW_MAX + 1, buf, sizeof buf), -2);
	ck_assert_int_eq(viapipe(in, sizeof in, buf, sizeof buf), -2);
	errno = 0;
	ck_assert_int_eq(viapipe("a", 1, buf, CHECKPW_MAX), -1);	/* buffer too small */
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(checkpw_read(999, buf, sizeof buf), -1);	/* not open */
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("checkpw");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, good);
	tcase_add_test(tc, bad);
	tcase_add_test(tc, reading);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf != 0;
}
