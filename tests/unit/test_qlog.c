/* Unit tests: logfmt lines (qlog.h).  Outside bytes (addresses, reasons) go into log
 * values; they must never split a line or forge a key. */
#include <check.h>
#include <string.h>
#include <unistd.h>
#include "die.h"
#include "qlog.h"

/* Emits l and returns what reached fd 2. */
static const char *capture(struct qlog *l)
{
	static char out[4096];
	int p[2], saved = dup(2);
	ck_assert_int_eq(pipe(p), 0);
	dup2(p[1], 2);
	qlog_emit(l);
	dup2(saved, 2);
	close(saved);
	close(p[1]);
	ssize_t n = read(p[0], out, sizeof out - 1);
	close(p[0]);
	ck_assert_int_gt(n, 0);
	out[n] = 0;
	return out;
}

START_TEST(plain_and_numbers)
{
	struct qlog l;
	tern_prog = "tern-test";
	qlog_start(&l);
	qlog_kv(&l, "qid", "6b06a7a1653aaa72b99");
	qlog_kvu(&l, "size", 1234);
	qlog_kvt(&l, "delay", 0.0456);
	qlog_kvt(&l, "neg", -3);
	ck_assert_str_eq(capture(&l), "prog=tern-test qid=6b06a7a1653aaa72b99 size=1234 delay=0.046 neg=0.000\n");
}
END_TEST

START_TEST(quoting)
{
	struct qlog l;
	tern_prog = "tern-test";
	qlog_start(&l);
	qlog_kv(&l, "empty", "");
	qlog_kv(&l, "null", 0);
	qlog_kv(&l, "text", "no such user");
	qlog_kv(&l, "forge", "x event=delivered");
	qlog_kv(&l, "q", "a\"b\\c");
	qlog_kvb(&l, "ctl", "a\nb\r\0\x7f", 6);
	qlog_kv(&l, "eight", "\xc3\xa9");
	ck_assert_str_eq(capture(&l), "prog=tern-test empty=\"\" null=\"\" text=\"no such user\""
			 " forge=\"x event=delivered\" q=\"a\\\"b\\\\c\" ctl=\"a\\x0ab\\x0d\\x00\\x7f\""
			 " eight=\"\xc3\xa9\"\n");
}
END_TEST

START_TEST(truncated_is_one_line)
{
	struct qlog l;
	char big[5000];
	memset(big, '\n', sizeof big);
	tern_prog = "tern-test";
	qlog_start(&l);
	qlog_kvb(&l, "v", big, sizeof big);
	const char *out = capture(&l);
	size_t n = strlen(out);
	ck_assert_uint_eq(n, sizeof l.buf);
	ck_assert_int_eq(out[n - 1], '\n');
	ck_assert_ptr_eq(strchr(out, '\n'), out + n - 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qlog");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, plain_and_numbers);
	tcase_add_test(tc, quoting);
	tcase_add_test(tc, truncated_is_one_line);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf != 0;
}
