/* Unit tests: mboxrd quoting and mbox delivery (mbox.h). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utime.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stralloc.h>
#include "mbox.h"

static char top[64];

static int sa_writer(void *ctx, const char *s, size_t n)
{
	return stralloc_catb((stralloc *)ctx, s, n) ? 0 : -1;
}

/* Quotes in, fed in pieces of chunk bytes (0 = all at once), into a string. */
static const char *quote(const char *in, size_t chunk)
{
	static stralloc out;
	struct mbox_quote q;
	out.len = 0;
	mbox_quote_init(&q, sa_writer, &out);
	size_t n = strlen(in);
	for (size_t i = 0; i < n;) {
		size_t k = chunk && n - i > chunk ? chunk : n - i;
		ck_assert_int_eq(mbox_quote_feed(&q, in + i, k), 0);
		i += k;
	}
	ck_assert_int_eq(mbox_quote_end(&q), 0);
	stralloc_0(&out);
	return out.s;
}

static void both(const char *in, const char *want)
{
	for (size_t c = 0; c <= 7; c++)
		ck_assert_msg(strcmp(quote(in, c), want) == 0, "chunk %zu: in=[%s] got=[%s] want=[%s]",
			      c, in, quote(in, c), want);
}

START_TEST(quoting)
{
	both("a\n", "a\n\n");
	both("From x\n", ">From x\n\n");
	both("a\nFrom me\n>From you\n>>From them\n", "a\n>From me\n>>From you\n>>>From them\n\n");
	both("From", "From\n\n");			/* no space: not a From line */
	both("From\n", "From\n\n");
	both(">From", ">From\n\n");
	both(">>From ", ">>>From \n\n");
	both(" From x\n", " From x\n\n");		/* not at the line start */
	both("xFrom x\nFrom: header\n", "xFrom x\nFrom: header\n\n");
	both(">>>\n>x\n", ">>>\n>x\n\n");
	both("Fro\nFrom \n", "Fro\n>From \n\n");
	both("body without newline", "body without newline\n\n");
	both("", "\n");
	both("a\n\nFrom b\n", "a\n\n>From b\n\n");
	both("from lowercase\n", "from lowercase\n\n");
	/* A long run of '>' is counted, not buffered. */
	static char big[200000], want[200010];
	memset(big, '>', 199990);
	memcpy(big + 199990, "From x\n", 8);
	want[0] = '>';
	memcpy(want + 1, big, 199997);
	memcpy(want + 199998, "\n", 2);
	ck_assert_str_eq(quote(big, 4096), want);
}
END_TEST

START_TEST(fromline)
{
	char out[200];
	ck_assert_uint_eq(mbox_fromline(out, sizeof out, "a@b.c", 0), 36);
	ck_assert_str_eq(out, "From a@b.c Thu Jan  1 00:00:00 1970\n");
	mbox_fromline(out, sizeof out, "", 1700000000);
	ck_assert_str_eq(out, "From MAILER-DAEMON Tue Nov 14 22:13:20 2023\n");
	mbox_fromline(out, sizeof out, "#@[]", 1700000000);
	ck_assert_str_eq(out, "From MAILER-DAEMON Tue Nov 14 22:13:20 2023\n");
	mbox_fromline(out, sizeof out, "a b\tc\nd@x", 1700000000);
	ck_assert_str_eq(out, "From a_b_c_d@x Tue Nov 14 22:13:20 2023\n");
	ck_assert_uint_eq(mbox_fromline(out, 20, "a@b.c", 0), 0);
}
END_TEST

struct mem { const char *s; size_t n, pos; int fail; };

static ssize_t memread(void *ctx, char *buf, size_t n)
{
	struct mem *m = ctx;
	if (m->fail && m->pos > 0) { errno = EIO; return -1; }
	size_t k = m->n - m->pos;
	if (k > n) k = n;
	if (k > 5) k = 5;
	memcpy(buf, m->s + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

static const char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

START_TEST(deliver)
{
	char path[128], lock[140];
	const char *step;
	int nodot;
	snprintf(path, sizeof path, "%s/mbox", top);
	snprintf(lock, sizeof lock, "%s.lock", path);
	const char *msg = "Subject: s\n\nFrom here\nbye";
	struct mem m = { msg, strlen(msg), 0, 0 };
	struct msgsrc src = { memread, &m };
	ck_assert_int_eq(mbox_deliver(path, "From a@b Thu Jan  1 00:00:00 1970\n", "RP\n", 3, &src, &step, &nodot), 0);
	ck_assert_int_eq(nodot, 0);
	ck_assert_int_eq(access(lock, F_OK), -1);
	const char *one = "From a@b Thu Jan  1 00:00:00 1970\nRP\nSubject: s\n\n>From here\nbye\n\n";
	ck_assert_str_eq(slurp(path), one);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	/* A failure half way leaves the file as it was. */
	m.pos = 0;
	m.fail = 1;
	ck_assert_int_eq(mbox_deliver(path, "From x Thu Jan  1 00:00:00 1970\n", "", 0, &src, &step, &nodot), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_str_eq(slurp(path), one);
	ck_assert_int_eq(access(lock, F_OK), -1);

	/* A stale dot lock (older than MBOX_LOCKSTALE) is removed. */
	int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	struct utimbuf ut = { time(0) - MBOX_LOCKSTALE - 60, time(0) - MBOX_LOCKSTALE - 60 };
	ck_assert_int_eq(utime(lock, &ut), 0);
	m.pos = 0;
	m.fail = 0;
	ck_assert_int_eq(mbox_deliver(path, "From b@c Thu Jan  1 00:00:00 1970\n", "", 0, &src, &step, &nodot), 0);
	ck_assert_int_eq(access(lock, F_OK), -1);
	char two[512];
	snprintf(two, sizeof two, "%sFrom b@c Thu Jan  1 00:00:00 1970\nSubject: s\n\n>From here\nbye\n\n", one);
	ck_assert_str_eq(slurp(path), two);

	/* Not a regular file: refused. */
	snprintf(path, sizeof path, "%s", top);
	m.pos = 0;
	ck_assert_int_eq(mbox_deliver(path, "From b@c Thu Jan  1 00:00:00 1970\n", "", 0, &src, &step, &nodot), -1);
}
END_TEST

START_TEST(fcntl_lock_waits)
{
	/* A child holds the fcntl lock for a moment: the delivery waits, then succeeds. */
	char path[128];
	const char *step;
	int nodot, p[2];
	snprintf(path, sizeof path, "%s/locked", top);
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT, 0600);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		if (fd < 0 || fcntl(fd, F_SETLK, &fl) != 0) _exit(1);
		(void)!write(p[1], "x", 1);
		usleep(300000);
		_exit(0);
	}
	char c;
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	struct mem m = { "x\n", 2, 0, 0 };
	struct msgsrc src = { memread, &m };
	time_t t0 = time(0);
	ck_assert_int_eq(mbox_deliver(path, "From b@c Thu Jan  1 00:00:00 1970\n", "", 0, &src, &step, &nodot), 0);
	ck_assert_int_le(time(0) - t0, 5);
	int st;
	waitpid(pid, &st, 0);
	ck_assert_str_eq(slurp(path), "From b@c Thu Jan  1 00:00:00 1970\nx\n\n");
}
END_TEST

int main(void)
{
	snprintf(top, sizeof top, "/tmp/tern-unit-mbox.XXXXXX");
	if (!mkdtemp(top)) return 1;
	Suite *s = suite_create("mbox");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, quoting);
	tcase_add_test(tc, fromline);
	tcase_add_test(tc, deliver);
	tcase_add_test(tc, fcntl_lock_waits);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int f = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", top);
	if (system(cmd) != 0) f++;
	return f != 0;
}
