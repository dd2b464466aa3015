/* Unit tests: envelope codec (env.h). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
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

/* RFC 3461 extension records (doc/queue.md). */
START_TEST(dsn_good)
{
	static const char e[] = "Fa@b\0Eid+2Bx\0RHDRS\0Tc@d\0NSUCCESS,FAILURE\0Orfc822;c+40d\0Te@f\0Tg@h\0ONEVER;x\0NNEVER\0\0";
	size_t n = 0, len = sizeof e - 1;
	ck_assert_int_eq(env_parse(e, len, &lim, &n), ENV_OK);
	ck_assert_uint_eq(n, 3);				/* only T records count */
	ck_assert_str_eq(env_sender(e), "a@b");
	struct env_dsn d;
	env_dsn(e, len, &d);
	ck_assert_str_eq(d.envid, "id+2Bx");
	ck_assert_str_eq(d.ret, "HDRS");
	size_t pos = 0;
	const char *no, *oc;
	ck_assert_str_eq(env_next_rcpt_dsn(e, len, &pos, &no, &oc), "c@d");
	ck_assert_str_eq(no, "SUCCESS,FAILURE");
	ck_assert_str_eq(oc, "rfc822;c+40d");
	ck_assert_str_eq(env_next_rcpt_dsn(e, len, &pos, &no, &oc), "e@f");
	ck_assert_ptr_null(no);
	ck_assert_ptr_null(oc);
	ck_assert_str_eq(env_next_rcpt_dsn(e, len, &pos, &no, &oc), "g@h");
	ck_assert_str_eq(no, "NEVER");
	ck_assert_str_eq(oc, "NEVER;x");
	ck_assert_ptr_null(env_next_rcpt_dsn(e, len, &pos, &no, &oc));
	pos = 0;
	ck_assert_str_eq(env_next_rcpt(e, len, &pos), "c@d");	/* plain iteration skips them */
	ck_assert_str_eq(env_next_rcpt(e, len, &pos), "e@f");
	ck_assert_str_eq(env_next_rcpt(e, len, &pos), "g@h");
	ck_assert_ptr_null(env_next_rcpt(e, len, &pos));
	ck_assert_str_eq(env_rcpt_dsn(e, len, 2, &no, &oc), "g@h");
	ck_assert_str_eq(no, "NEVER");
	ck_assert_str_eq(env_rcpt_dsn(e, len, 0, &no, 0), "c@d");
	ck_assert_str_eq(no, "SUCCESS,FAILURE");
	ck_assert_ptr_null(env_rcpt_dsn(e, len, 3, &no, &oc));
	/* A plain envelope has none. */
	env_dsn("Fa@b\0Tc@d\0\0", 11, &d);
	ck_assert_ptr_null(d.envid);
	ck_assert_ptr_null(d.ret);
	/* Order among the owner's records is free; R alone, O before N. */
	ck_assert_int_eq(P("F\0RFULL\0Eabc\0Tc\0Ox-y;z\0NDELAY\0\0"), ENV_OK);
	ck_assert_int_eq(P("Fa\0Tc\0NNEVER\0Td\0Te\0\0"), ENV_OK);		/* 3 = maxrcpt */
}
END_TEST

START_TEST(dsn_bad)
{
	ck_assert_int_eq(P("Fa@b\0Tc@d\0Eid\0\0"), ENV_FORMAT);		/* E after a T */
	ck_assert_int_eq(P("Fa@b\0Tc@d\0RFULL\0\0"), ENV_FORMAT);		/* R after a T */
	ck_assert_int_eq(P("Fa@b\0NNEVER\0Tc@d\0\0"), ENV_FORMAT);		/* N before any T */
	ck_assert_int_eq(P("Fa@b\0Orfc822;x\0Tc@d\0\0"), ENV_FORMAT);	/* O before any T */
	ck_assert_int_eq(P("Fa@b\0Ex\0Ey\0Tc@d\0\0"), ENV_FORMAT);		/* twice */
	ck_assert_int_eq(P("Fa@b\0RFULL\0RHDRS\0Tc@d\0\0"), ENV_FORMAT);
	ck_assert_int_eq(P("Fa@b\0Tc@d\0NNEVER\0NNEVER\0\0"), ENV_FORMAT);
	ck_assert_int_eq(P("Fa@b\0Tc@d\0Orfc822;x\0Orfc822;y\0\0"), ENV_FORMAT);
	ck_assert_int_eq(P("Fa@b\0Tc@d\0Orfc822;x\0Te@f\0Orfc822;y\0\0"), ENV_OK);	/* once per T */
	ck_assert_int_eq(P("Fa@b\0Tc@d\0NNEVER\0\0"), ENV_OK);
	ck_assert_int_eq(P("Fa@b\0RFULL\0\0"), ENV_FORMAT);			/* still needs a T */
	ck_assert_int_eq(P("Fa@b\0Rfull\0Tc@d\0\0"), ENV_FORMAT);		/* RET value */
	ck_assert_int_eq(P("Fa@b\0R\0Tc@d\0\0"), ENV_FORMAT);
	ck_assert_int_eq(P("Fa@b\0RFULLX\0Tc@d\0\0"), ENV_FORMAT);
	static const char *badnotify[] = { "", "never", "NEVER,SUCCESS", "SUCCESS,SUCCESS", "SUCCESS,",
					   ",DELAY", "FAILURE DELAY", "SOMETIMES" };
	for (size_t i = 0; i < sizeof badnotify / sizeof badnotify[0]; i++) {
		char e[80];
		int k = snprintf(e, sizeof e, "Fa%cTc%cN%s%c%c", 0, 0, badnotify[i], 0, 0);
		ck_assert_msg(parse(e, (size_t)k) == ENV_FORMAT, "NOTIFY %s", badnotify[i]);
	}
	static const char *badenvid[] = { "", "a=b", "a b", "a+4", "a+GG", "a+", "\x01", "\xc3\xa9" };
	for (size_t i = 0; i < sizeof badenvid / sizeof badenvid[0]; i++) {
		char e[80];
		int k = snprintf(e, sizeof e, "Fa%cE%s%cTc%c%c", 0, badenvid[i], 0, 0, 0);
		ck_assert_msg(parse(e, (size_t)k) == ENV_FORMAT, "ENVID %s", badenvid[i]);
	}
	static const char *badorcpt[] = { "", "rfc822", "rfc822;", ";a@b", "rfc 822;a@b", "rfc822;a=b",
					  "rfc822;a b", "rfc822;a+1" };
	for (size_t i = 0; i < sizeof badorcpt / sizeof badorcpt[0]; i++) {
		char e[80];
		int k = snprintf(e, sizeof e, "Fa%cTc%cO%s%c%c", 0, 0, badorcpt[i], 0, 0);
		ck_assert_msg(parse(e, (size_t)k) == ENV_FORMAT, "ORCPT %s", badorcpt[i]);
	}
	/* Length limits (RFC 3461): ENVID 100, ORCPT 500. */
	char e[700];
	memcpy(e, "Fa\0E", 4);
	memset(e + 4, 'x', ENV_MAXENVID);
	memcpy(e + 4 + ENV_MAXENVID, "\0Tc\0\0", 5);
	ck_assert_int_eq(parse(e, 9 + ENV_MAXENVID), ENV_OK);
	memset(e + 4, 'x', ENV_MAXENVID + 1);
	memcpy(e + 5 + ENV_MAXENVID, "\0Tc\0\0", 5);
	ck_assert_int_eq(parse(e, 10 + ENV_MAXENVID), ENV_FORMAT);
	memcpy(e, "Fa\0Tc\0Orfc822;", 14);
	memset(e + 14, 'y', ENV_MAXORCPT - 7);
	memcpy(e + 7 + ENV_MAXORCPT, "\0\0", 2);
	ck_assert_int_eq(parse(e, 9 + ENV_MAXORCPT), ENV_OK);
	memset(e + 14, 'y', ENV_MAXORCPT - 6);
	memcpy(e + 8 + ENV_MAXORCPT, "\0\0", 2);
	ck_assert_int_eq(parse(e, 10 + ENV_MAXORCPT), ENV_FORMAT);
}
END_TEST

START_TEST(dsn_build)
{
	stralloc sa = {0};
	ck_assert(env_start(&sa, "s@x") && env_add_envid(&sa, "q+2B1") && env_add_ret(&sa, "FULL") &&
		  env_add_rcpt(&sa, "r1@y") && env_add_notify(&sa, ENV_NOTIFY_DELAY | ENV_NOTIFY_SUCCESS) &&
		  env_add_orcpt(&sa, "rfc822;R1@Y") &&
		  env_add_rcpt(&sa, "r2@z") && env_add_notify(&sa, 0) &&		/* 0: no record */
		  env_add_rcpt(&sa, "r3@z") && env_add_notify(&sa, ENV_NOTIFY_NEVER | ENV_NOTIFY_FAILURE) &&
		  env_finish(&sa));
	static const char want[] = "Fs@x\0Eq+2B1\0RFULL\0Tr1@y\0NSUCCESS,DELAY\0Orfc822;R1@Y\0Tr2@z\0Tr3@z\0NNEVER\0\0";
	ck_assert_uint_eq(sa.len, sizeof want - 1);
	ck_assert(memcmp(sa.s, want, sa.len) == 0);
	size_t n;
	ck_assert_int_eq(env_parse(sa.s, sa.len, &lim, &n), ENV_OK);
	ck_assert_uint_eq(n, 3);
	stralloc_free(&sa);

	unsigned b = 0;
	ck_assert(env_notify_parse("success,Failure", 15, 0, &b));
	ck_assert_uint_eq(b, ENV_NOTIFY_SUCCESS | ENV_NOTIFY_FAILURE);
	ck_assert(!env_notify_parse("success,Failure", 15, 1, &b));
	ck_assert(env_notify_parse("NEVER", 5, 1, &b));
	ck_assert_uint_eq(b, ENV_NOTIFY_NEVER);
	ck_assert(!env_notify_parse("Never,delay", 11, 0, &b));
	ck_assert(env_envid_ok("abc+2b", 6));
	/* xtext, RFC 3461 4 (the cases tern-smtpd relies on for ENVID and ORCPT) */
	static const char *goodx[] = { "abc", "abc+2B", "+41", "+2B+3D", "!~<>;@", "a+2b" };
	for (size_t i = 0; i < sizeof goodx / sizeof goodx[0]; i++)
		ck_assert_msg(env_envid_ok(goodx[i], strlen(goodx[i])), "refused: %s", goodx[i]);
	static const char *badx[] = { "", "a+4", "a+", "+", "a+GG", "a+4G", "a=b", "a b", "\x01", "\x7f", "\xc3\xa9" };
	for (size_t i = 0; i < sizeof badx / sizeof badx[0]; i++)
		ck_assert_msg(!env_envid_ok(badx[i], strlen(badx[i])), "accepted: %s", badx[i]);
	ck_assert(!env_envid_ok("a+41", 3));	/* n bounds it */
	ck_assert(env_envid_ok("ab=", 2));
	ck_assert(!env_envid_ok("a\0b", 3));
	ck_assert(!env_envid_ok("abc=", 4));
	ck_assert(env_orcpt_ok("utf-8;a\\x{E9}@b", 15));
	ck_assert(!env_orcpt_ok("rfc822;a@b", 6));	/* n cuts it before ';' */
}
END_TEST

START_TEST(dsn_read_fd)
{
	/* The size bound leaves room for the extension records. */
	struct env_limits l = { 10, 1 };
	char e[1024];
	size_t k = 0;
	memcpy(e, "Fa\0E", 4); k = 4;
	memset(e + k, 'x', ENV_MAXENVID); k += ENV_MAXENVID;
	memcpy(e + k, "\0RHDRS\0Tc\0NSUCCESS,FAILURE,DELAY\0Orfc822;", 41); k += 41;
	memset(e + k, 'y', ENV_MAXORCPT - 7); k += ENV_MAXORCPT - 7;
	memcpy(e + k, "\0\0", 2); k += 2;
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], e, k), (ssize_t)k);
	close(p[1]);
	stralloc sa = {0};
	size_t n;
	ck_assert_int_eq(env_read_fd(p[0], &sa, &l, &n), ENV_OK);
	ck_assert_uint_eq(sa.len, k);
	ck_assert_uint_eq(n, 1);
	close(p[0]);
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
	tcase_add_test(tc, dsn_good);
	tcase_add_test(tc, dsn_bad);
	tcase_add_test(tc, dsn_build);
	tcase_add_test(tc, dsn_read_fd);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
