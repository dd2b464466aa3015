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
	struct dsn_rcpt r[2] = { { "x@example.test", "5.1.1", "no such user: x@example.test", DSN_FAILED, 0 },
				 { "y@remote.test", "5.7.1", "550 5.7.1 relay\r\ndenied", DSN_FAILED, 0 } };
	struct dsn d = { .me = "mx.test", .qid = "abc", .arrival = 1000, .now = 2000, .to = "a@b",
			 .orig_sender = "a@b", .rcpt = r, .nrcpt = 2, .msgfd = p[0], .msglen = strlen(orig) };
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
	ck_assert_ptr_nonnull(strstr(s, "Subject: Undelivered Mail Returned to Sender\n"));
	ck_assert_ptr_null(strstr(s, "Original-Envelope-Id"));		/* no ENVID, no ORCPT */
	ck_assert_ptr_null(strstr(s, "Original-Recipient"));
	free(s);
}
END_TEST

/* A file standing for the queue file: the message, then bytes that are not (the envelope). */
static int msgfile(const char *msg, const char *after)
{
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	int fd = dup(fileno(f));
	fclose(f);
	ck_assert_int_eq(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg));
	ck_assert_int_eq(write(fd, after, strlen(after)), (ssize_t)strlen(after));
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

START_TEST(delivered)
{
	const char *msg = "Subject: ok\n\nsecret body\n";
	int fd = msgfile(msg, "Fenvelope");
	struct dsn_rcpt r[1] = { { "x@example.test", "2.0.0", "delivered to Maildir", DSN_DELIVERED, "rfc822;X+2Bt@example.test" } };
	struct dsn d = { .me = "mx.test", .qid = "abc", .arrival = 1000, .now = 2000, .to = "a@b",
			 .orig_sender = "a@b", .rcpt = r, .nrcpt = 1, .msgfd = fd, .msglen = strlen(msg),
			 .envid = "QQ+2B1", .ret_full = 1 };
	char *s = render(&d);
	close(fd);
	ck_assert_ptr_nonnull(strstr(s, "Subject: Successful Mail Delivery Report\n"));
	ck_assert_ptr_nonnull(strstr(s, "message/delivery-status\n\nOriginal-Envelope-Id: QQ+1\nReporting-MTA: dns; mx.test\n"));
	ck_assert_ptr_nonnull(strstr(s, "\nOriginal-Recipient: rfc822; X+t@example.test\n"
					"Final-Recipient: rfc822; x@example.test\nAction: delivered\nStatus: 2.0.0\n"
					"Last-Attempt-Date: "));
	ck_assert_ptr_null(strstr(s, "Diagnostic-Code"));
	/* RET=FULL is for failures: a success report returns only the header. */
	ck_assert_ptr_nonnull(strstr(s, "Content-Description: Delivered Message Headers\nContent-Type: text/rfc822-headers\n\nSubject: ok\n\n--"));
	ck_assert_ptr_null(strstr(s, "secret body"));
	ck_assert_ptr_null(strstr(s, "Fenvelope"));
	free(s);
}
END_TEST

START_TEST(ret_full)
{
	const char *msg = "Subject: big\nX: y\n\nline 1\nlast line without newline";
	struct dsn_rcpt r[1] = { { "x@example.test", "5.1.1", "no such user", DSN_FAILED, 0 } };
	int fd = msgfile(msg, "Fenvelope\0Tx\0");
	struct dsn d = { .me = "mx.test", .qid = "abc", .arrival = 1000, .now = 2000, .to = "a@b",
			 .orig_sender = "a@b", .rcpt = r, .nrcpt = 1, .msgfd = fd, .msglen = strlen(msg),
			 .ret_full = 1, .maxbytes = 100000 };
	char *s = render(&d);
	ck_assert_ptr_nonnull(strstr(s, "Content-Description: Undelivered Message\nContent-Type: message/rfc822\n\n"
					"Subject: big\nX: y\n\nline 1\nlast line without newline\n\n--abc."));
	ck_assert_ptr_null(strstr(s, "Fenvelope"));
	free(s);
	/* Too big for maxbytes: the header only, so that tern-queue takes the report.  The
	 * limit leaves 30 bytes for the original beyond the fixed room (200 + 400) dsn.c
	 * keeps: enough for the 18-byte header, not for the 51-byte message. */
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	d.ret_full = 0; d.maxbytes = 0;
	s = render(&d);
	const char *third = strstr(s, "\n--abc.2000/mx.test\nContent-Description: Undelivered Message Headers");
	ck_assert_ptr_nonnull(third);
	size_t used = (size_t)(third - s);
	free(s);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	d.ret_full = 1; d.maxbytes = used + 600 + 30;
	s = render(&d);
	ck_assert_ptr_null(strstr(s, "message/rfc822"));
	ck_assert_ptr_nonnull(strstr(s, "Content-Type: text/rfc822-headers\n\nSubject: big\nX: y\n\n--"));
	ck_assert_uint_le(strlen(s), d.maxbytes);
	free(s);
	/* No room even for the whole header: it is cut, the report still fits. */
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	d.maxbytes = 1;
	s = render(&d);
	ck_assert_ptr_nonnull(strstr(s, "Content-Type: text/rfc822-headers\n\n\n--"));
	free(s);
	/* A message without a body: the header copy stops at the message's end, not in the
	 * bytes that follow it in the queue file. */
	close(fd);
	const char *nobody = "Subject: no body\n";
	fd = msgfile(nobody, "Fenvelope");
	d.msgfd = fd; d.msglen = strlen(nobody); d.ret_full = 0; d.maxbytes = 0;
	s = render(&d);
	ck_assert_ptr_nonnull(strstr(s, "text/rfc822-headers\n\nSubject: no body\n\n--"));
	ck_assert_ptr_null(strstr(s, "Fenvelope"));
	free(s);
	close(fd);
}
END_TEST

START_TEST(xtext_unsafe)
{
	/* An ENVID or ORCPT decoding to a control byte stays in its xtext form: no header
	 * line can be split by what a client sent. */
	struct dsn_rcpt r[2] = { { "x@t", "5.0.0", "nope", DSN_FAILED, "rfc822;a+0D+0Ab@t" },
				 { "y@t", "2.0.0", "ok", DSN_DELIVERED, "rfc822;plain@t" } };
	struct dsn d = { .me = "mx.test", .qid = "abc", .arrival = 1000, .now = 2000, .to = "a@b",
			 .orig_sender = "a@b", .rcpt = r, .nrcpt = 2, .msgfd = -1, .envid = "x+0Ay" };
	char *s = render(&d);
	ck_assert_ptr_nonnull(strstr(s, "Original-Envelope-Id: x+0Ay\n"));
	ck_assert_ptr_nonnull(strstr(s, "Original-Recipient: rfc822; a+0D+0Ab@t\nFinal-Recipient: rfc822; x@t\nAction: failed\n"));
	ck_assert_ptr_nonnull(strstr(s, "Original-Recipient: rfc822; plain@t\nFinal-Recipient: rfc822; y@t\nAction: delivered\n"));
	ck_assert_ptr_nonnull(strstr(s, "Subject: Delivery Status Notification\n"));	/* mixed */
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
	tcase_add_test(tc, delivered);
	tcase_add_test(tc, ret_full);
	tcase_add_test(tc, xtext_unsafe);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	return f != 0;
}
