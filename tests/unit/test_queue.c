/* Unit tests: queue file format (qfile.h), ids, states and retry notes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "qfile.h"

static char home[] = "/tmp/tern-unit-queue.XXXXXX";

static void mk(const char *rel)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", home, rel);
	if (mkdir(p, 0700) != 0) { perror(p); exit(1); }
}

/* Writes a queue file the way tern-queue lays it out. */
static void write_q(const char *qid, const char *msg, const char *env, size_t envlen, size_t nrcpt)
{
	struct qfile q;
	memset(&q, 0, sizeof q);
	q.msgoff = QF_HDRLEN; q.msglen = strlen(msg);
	q.envoff = q.msgoff + q.msglen; q.envlen = envlen;
	q.stateoff = q.envoff + envlen; q.nrcpt = nrcpt; q.ctime = 1000; q.uid = 7;
	char hdr[QF_HDRLEN], path[512];
	qfile_header(hdr, &q);
	ck_assert_int_eq(qfile_path(path, sizeof path, "mess", qid), 0);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fwrite(hdr, 1, QF_HDRLEN, f);
	fputs(msg, f);
	fwrite(env, 1, envlen, f);
	for (size_t i = 0; i < nrcpt; i++) fputc('.', f);
	fputc('\n', f);
	fclose(f);
}

START_TEST(ids)
{
	char id[QID_MAX];
	qid_make(id, 1764057195, 123456, 0xabcdef);
	ck_assert(qid_valid(id));
	ck_assert_str_eq(id, "6925606b1e240abcdef");
	ck_assert(!qid_valid(""));
	ck_assert(!qid_valid("../x"));
	ck_assert(!qid_valid("ABC"));
	ck_assert(!qid_valid("0123456789abcdef0123456789abcdef0123456789"));
}
END_TEST

START_TEST(roundtrip)
{
	write_q("abc1", "Subject: x\n\nhi\n", "Fs@x\0Ta@y\0Tb@z\0", 16, 2);
	struct qfile q;
	ck_assert_int_eq(qfile_open(&q, "abc1", 1), 0);
	ck_assert_uint_eq(q.nrcpt, 2);
	ck_assert_str_eq(q.sender, "s@x");
	ck_assert_str_eq(q.rcpt[1], "b@z");
	ck_assert_uint_eq(q.msglen, 15);
	ck_assert_int_eq(q.ctime, 1000);
	ck_assert_int_eq(q.state[0], QS_PENDING);
	ck_assert_int_eq(qfile_setstate(&q, 1, QS_DONE), 0);
	int fd = qfile_msgfd(&q);
	char b[16] = {0};
	ck_assert_int_eq(read(fd, b, 10), 10);
	ck_assert_str_eq(b, "Subject: x");
	close(fd);
	qfile_close(&q);
	ck_assert_int_eq(qfile_open(&q, "abc1", 0), 0);
	ck_assert_int_eq(q.state[1], QS_DONE);
	ck_assert_int_eq(q.state[0], QS_PENDING);
	qfile_close(&q);
}
END_TEST

START_TEST(malformed)
{
	struct qfile q;
	char path[512];
	ck_assert_int_eq(qfile_open(&q, "fff", 0), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* recipient count disagrees with the envelope */
	write_q("abc2", "x\n", "Fs@x\0Ta@y\0", 11, 2);
	ck_assert_int_eq(qfile_open(&q, "abc2", 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* truncated file: a crash must never make this look like a message */
	write_q("abc3", "x\n", "Fs@x\0Ta@y\0", 11, 1);
	ck_assert_int_eq(qfile_path(path, sizeof path, "mess", "abc3"), 0);
	ck_assert_int_eq(truncate(path, 140), 0);
	ck_assert_int_eq(qfile_open(&q, "abc3", 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* garbage header */
	FILE *f = fopen(path, "w");
	fputs("TQ1 12 x", f);
	fclose(f);
	ck_assert_int_eq(qfile_open(&q, "abc3", 0), -1);
}
END_TEST

START_TEST(notes)
{
	struct qinfo_rcpt in[3], out[3];
	memset(in, 0, sizeof in);
	in[1].attempts = 2; in[1].next = 12345;
	strcpy(in[1].status, "4.2.2");
	strcpy(in[1].text, "mailbox full\nsecond line");
	ck_assert_int_eq(qinfo_save("abc4", in, 3, 1), 0);
	ck_assert_int_eq(qinfo_load("abc4", out, 3), 0);
	ck_assert_uint_eq(out[0].attempts, 0);
	ck_assert_uint_eq(out[1].attempts, 2);
	ck_assert_int_eq(out[1].next, 12345);
	ck_assert_str_eq(out[1].status, "4.2.2");
	ck_assert_str_eq(out[1].text, "mailbox full second line");
	ck_assert_int_eq(qinfo_load("abc5", out, 3), 0);	/* absent: no notes */
	ck_assert_uint_eq(out[1].attempts, 0);
}
END_TEST

int main(void)
{
	if (!mkdtemp(home)) { perror("mkdtemp"); return 1; }
	mk("queue"); mk("queue/mess"); mk("queue/info");
	setenv("TERN_HOME", home, 1);
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, ids);
	tcase_add_test(tc, roundtrip);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, notes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", home);
	if (system(cmd) != 0) f++;
	return f != 0;
}
