/* Unit tests: RFC 3464 notifications (dsn.h); python's email package checks them
 * again end to end in the integration tests. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dsn.h"

static char *render(const struct dsn *d)
{
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(dsn_write(fileno(f), d), 0);
	long n = ftell(f);
	n = lseek(fileno(f), 0, SEEK_END);
	char *s = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(pread(fileno(f), s, (size_t)n, 0), n);
	fclose(f);
	return s;
}

START_TEST(fields)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	const char *orig = "Subject: hello\nFrom: a@b\n\nbody must not appear\n";
	ck_assert_int_eq(write(p[1], orig, strlen(orig)), (ssize_t)strlen(orig));
	close(p[1]);
	struct dsn_rcpt r[2] = { { "x@example.test", "5.1.1", "no such user: x@example.test" },
				 { "y@remote.test", "5.7.1", "550 5.7.1 relay\r\ndenied" } };
	struct dsn d = { "mx.test", "abc", 1000, 2000, "a@b", "a@b", 0, r, 2, p[0] };
	char *s = render(&d);
	close(p[0]);
	ck_assert_ptr_nonnull(strstr(s, "Content-Type: multipart/report; report-type=delivery-status;"));
	ck_assert_ptr_nonnull(strstr(s, "Reporting-MTA: dns; mx.test\n"));
	ck_assert_ptr_nonnull(strstr(s, "Final-Recipient: rfc822; x@example.test\nAction: failed\nStatus: 5.1.1\n"));
	ck_assert_ptr_nonnull(strstr(s, "Diagnostic-Code: x-tern; no such user: x@example.test\n"));
	ck_assert_ptr_nonnull(strstr(s, "Diagnostic-Code: smtp; 550 5.7.1 relay  denied\n"));	/* CR LF flattened */
	ck_assert_ptr_nonnull(strstr(s, "Content-Type: text/rfc822-headers\n\nSubject: hello\nFrom: a@b\n"));
	ck_assert_ptr_null(strstr(s, "body must not appear"));
	ck_assert_ptr_nonnull(strstr(s, "From: Mail Delivery System <MAILER-DAEMON@mx.test>\n"));
	free(s);
}
END_TEST

START_TEST(diagtype)
{
	ck_assert_str_eq(dsn_diagtype("550 5.1.1 unknown"), "smtp");
	ck_assert_str_eq(dsn_diagtype("421-busy"), "smtp");
	ck_assert_str_eq(dsn_diagtype("no such user"), "x-tern");
	ck_assert_str_eq(dsn_diagtype("55"), "x-tern");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dsn");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, fields);
	tcase_add_test(tc, diagtype);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
