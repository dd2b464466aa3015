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
	struct qsum sum;
	qsum_init(&sum);
	qsum_add(&sum, msg, strlen(msg));
	qsum_add(&sum, env, envlen);
	q.sum = qsum_end(&sum);
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
	ck_assert_int_eq(errno, EBADMSG);
	/* garbage header */
	FILE *f = fopen(path, "w");
	fputs("TQ1 12 x", f);
	fclose(f);
	ck_assert_int_eq(qfile_open(&q, "abc3", 0), -1);
	ck_assert_int_eq(errno, EBADMSG);
	/* a placeholder header (spaces): the file as it is before tern-queue's last pwrite */
	f = fopen(path, "w");
	for (int i = 0; i < 300; i++) fputc(i < QF_HDRLEN - 1 ? ' ' : 'x', f);
	fclose(f);
	ck_assert_int_eq(qfile_open(&q, "abc3", 0), -1);
	ck_assert_int_eq(errno, EBADMSG);
}
END_TEST

/* The sum does not depend on how the bytes are cut into calls. */
START_TEST(sum_pieces)
{
	char data[5000];
	for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 7 + i / 13);
	struct qsum s;
	qsum_init(&s);
	qsum_add(&s, data, sizeof data);
	uint64_t whole = qsum_end(&s);
	for (size_t cut = 0; cut < 40; cut++) {
		qsum_init(&s);
		size_t pos = 0, step = cut % 11 + 1;
		while (pos < sizeof data) {
			size_t n = sizeof data - pos < step ? sizeof data - pos : step;
			qsum_add(&s, data + pos, n);
			pos += n;
			step = step * 3 % 17 + 1;
		}
		ck_assert_uint_eq(qsum_end(&s), whole);
	}
	/* A block of zeros, two swapped words, one changed byte: each changes the sum. */
	char d2[sizeof data];
	memcpy(d2, data, sizeof d2);
	memset(d2 + 4096, 0, 512);
	qsum_init(&s);
	qsum_add(&s, d2, sizeof d2);
	ck_assert_uint_ne(qsum_end(&s), whole);
	memcpy(d2, data, sizeof d2);
	memcpy(d2 + 8, data + 16, 8);
	memcpy(d2 + 16, data + 8, 8);
	qsum_init(&s);
	qsum_add(&s, d2, sizeof d2);
	ck_assert_uint_ne(qsum_end(&s), whole);
	memcpy(d2, data, sizeof d2);
	d2[sizeof d2 - 1] ^= 1;
	qsum_init(&s);
	qsum_add(&s, d2, sizeof d2);
	ck_assert_uint_ne(qsum_end(&s), whole);
}
END_TEST

/* Overwrites n bytes at off of abc6's file: it still opens, qfile_verify finds it damaged. */
static void damage(const char *path, const void *b, size_t n, off_t off)
{
	int fd = open(path, O_RDWR);
	ck_assert_int_eq(pwrite(fd, b, n, off), (ssize_t)n);
	close(fd);
	struct qfile q;
	ck_assert_int_eq(qfile_open(&q, "abc6", 0), 0);
	ck_assert_int_eq(qfile_verify(&q), -1);
	ck_assert_int_eq(errno, EBADMSG);
	qfile_close(&q);
}

/* What a crash between tern-queue's link and its fsync can leave: every kind fails
 * qfile_open or qfile_verify; a whole file and one from before the sum pass. */
START_TEST(verify)
{
	char msg[20000], path[512];
	for (size_t i = 0; i < sizeof msg - 1; i++) msg[i] = "abcdefghij\n"[i % 11];
	msg[sizeof msg - 1] = 0;
	write_q("abc6", msg, "Fs@x\0Ta@y\0", 11, 1);
	struct qfile q;
	ck_assert_int_eq(qfile_open(&q, "abc6", 0), 0);
	ck_assert_int_eq(q.hassum, 1);
	ck_assert_int_eq(qfile_verify(&q), 0);
	qfile_close(&q);
	ck_assert_int_eq(qfile_path(path, sizeof path, "mess", "abc6"), 0);
	/* a block in the middle reads as zeros (an extent whose write never finished) */
	char z[4096] = {0};
	damage(path, z, sizeof z, 8192);
	/* the envelope covered too: a recipient's byte changed, still a valid envelope */
	write_q("abc6", msg, "Fs@x\0Ta@y\0", 11, 1);
	damage(path, "b", 1, QF_HDRLEN + (off_t)strlen(msg) + 6);
	/* a header from before the sum: nothing to check against, it passes */
	write_q("abc6", msg, "Fs@x\0Ta@y\0", 11, 1);
	int fd = open(path, O_RDWR);
	char hdr[QF_HDRLEN + 1] = {0};
	ck_assert_int_eq(pread(fd, hdr, QF_HDRLEN, 0), QF_HDRLEN);
	/* blank out the 17 characters of " sum" after the uid */
	char *uid = strstr(hdr, " 1000 7 ");
	ck_assert_ptr_nonnull(uid);
	memset(uid + 7, ' ', 17);
	ck_assert_int_eq(pwrite(fd, hdr, QF_HDRLEN, 0), QF_HDRLEN);
	ck_assert_int_eq(pwrite(fd, z, 100, 1000), 100);
	close(fd);
	ck_assert_int_eq(qfile_open(&q, "abc6", 0), 0);
	ck_assert_int_eq(q.hassum, 0);
	ck_assert_int_eq(qfile_verify(&q), 0);
	qfile_close(&q);
	/* a sum that is not 16 hex digits makes the header unreadable */
	write_q("abc6", msg, "Fs@x\0Ta@y\0", 11, 1);
	fd = open(path, O_RDWR);
	ck_assert_int_eq(pread(fd, hdr, QF_HDRLEN, 0), QF_HDRLEN);
	uid = strstr(hdr, " 1000 7 ");
	ck_assert_ptr_nonnull(uid);
	uid[10] = 'g';
	ck_assert_int_eq(pwrite(fd, hdr, QF_HDRLEN, 0), QF_HDRLEN);
	close(fd);
	ck_assert_int_eq(qfile_open(&q, "abc6", 0), -1);
	ck_assert_int_eq(errno, EBADMSG);
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
	tcase_add_test(tc, sum_pieces);
	tcase_add_test(tc, verify);
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
