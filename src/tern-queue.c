/* tern-queue: the only writer of the queue.  qmail-queue protocol: message on fd 0,
 * envelope on fd 1; exit 0 only once message and directory entry are on disk. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include "fdio.h"
#include "control.h"
#include "date822.h"
#include "die.h"
#include "env.h"
#include "home.h"
#include "qfile.h"
#include "qlog.h"
#include "zfork.h"

#define EX_TOOLONG 11
#define EX_REFUSED 31
#define EX_NOMEM 51
#define EX_TIMEOUT 52
#define EX_WRITE 53
#define EX_READ 54
#define EX_CONTROL 55
#define EX_HOME 61
#define EX_QUEUEDIR 62
#define EX_MESSDIR 64
#define EX_BUG 81

static char tmppath[4096];	/* the file in queue/tmp or queue/mess while it is ours to remove */
static int qfd = -1;		/* and its descriptor */
static jmp_buf *back;		/* tern-queue -z: where a failed message returns to */

static void cleanup(void)
{
	if (*tmppath) unlink(tmppath);
	*tmppath = 0;
	if (qfd >= 0) close(qfd);
	qfd = -1;
}

/* The message fails with code: its file goes, then the program exits, or the fork
 * server's job ends with the same line in the log. */
static void __attribute__((noreturn)) fail(int code, const char *why)
{
	cleanup();
	if (!back) tern_die(code, why);
	tern_fatal(why);
	longjmp(*back, code);
}

static void __attribute__((noreturn)) fail_sys(int code, const char *why)
{
	int e = errno;
	cleanup();
	errno = e;
	if (!back) tern_die_sys(code, why);
	tern_fatal_sys(why);
	longjmp(*back, code);
}

static void on_alarm(int sig)
{
	(void)sig;
	cleanup();
	static const char m[] = "tern-queue: fatal: timeout reading message or envelope\n";
	ssize_t w = write(2, m, sizeof m - 1);
	(void)w;
	_exit(EX_TIMEOUT);
}

static void write_all(int fd, const char *b, size_t n)
{
	if (fd_write_all(fd, b, n) == 0) return;
	if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG)
		fail_sys(EX_WRITE, "writing the queue file (disk full or file too big)");
	fail_sys(EX_WRITE, "writing the queue file");
}

static void fsync_dir(const char *rel)
{
	char path[4096];
	if (tern_path(path, sizeof path, rel) < 0) fail(EX_HOME, "home path too long");
	if (fd_sync_dir(path) != 0) fail_sys(EX_WRITE, "fsync of queue/mess");
}

/* Wake tern-send; a missing reader is fine, it scans the queue when it starts. */
static void trigger(const char *qid)
{
	char path[4096], line[QID_MAX + 3];
	if (tern_path(path, sizeof path, "queue/trigger") < 0) return;
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) return;
	int n = snprintf(line, sizeof line, "N%s\n", qid);
	ssize_t w = write(fd, line, (size_t)n);
	(void)w;
	close(fd);
}

/* Called by tern-smtpd (TERN_SID set): one line joining its session's message id to
 * the queue id, in tern-smtpd's log.  Other callers (sendmail on a terminal) get none.
 * The value is only a label: printable ASCII, at most 63 bytes, escaped by qlog. */
static void log_sid(const struct qfile *q, const char *sid)
{
	if (!sid || !*sid) return;
	size_t n = strlen(sid);
	if (n > 63) return;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)sid[i] <= ' ' || (unsigned char)sid[i] >= 0x7f) return;
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "qid", q->qid);
	qlog_kv(&l, "event", "queued");
	qlog_kv(&l, "sid", sid);
	qlog_kvu(&l, "size", q->msglen);
	qlog_kvu(&l, "nrcpt", q->nrcpt);
	qlog_emit(&l);
}

static void signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);	/* RLIMIT_FSIZE: get EFBIG, exit 53, never a half file */
	signal(SIGALRM, on_alarm);
}

/* One message from fd in, its envelope from fd out (the qmail-queue protocol's 0 and
 * 1); sid labels the log line.  0 once it is on disk; any failure goes through fail. */
static int queue_main(int in, int out, const char *sid)
{
	unsigned long databytes, maxrcpt, maxaddr, timeout;
	if (control_readulong(&databytes, "databytes", 52428800) < 0 ||
	    control_readulong(&maxrcpt, "queuemaxrcpt", 10000) < 0 ||
	    control_readulong(&maxaddr, "queuemaxaddrlen", 1000) < 0 ||
	    control_readulong(&timeout, "timeoutqueue", 86400) < 0)
		fail_sys(EX_CONTROL, "reading control files");
	if (timeout) alarm((unsigned)(timeout > 86400 * 7 ? 86400 * 7 : timeout));

	struct timeval tv;
	gettimeofday(&tv, 0);
	char rel[128];
	snprintf(rel, sizeof rel, "queue/tmp/%ld.%06ld.%d", (long)tv.tv_sec, (long)tv.tv_usec, (int)getpid());
	if (tern_path(tmppath, sizeof tmppath, rel) < 0) { *tmppath = 0; fail(EX_HOME, "home path too long"); }
	int fd = qfd = open(tmppath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) { *tmppath = 0; fail_sys(EX_QUEUEDIR, "creating a file in queue/tmp"); }

	struct stat st;
	if (fstat(fd, &st) != 0) fail_sys(EX_QUEUEDIR, "fstat of the new queue file");
	struct qfile q;
	memset(&q, 0, sizeof q);
	qid_make(q.qid, tv.tv_sec, tv.tv_usec, (unsigned long long)st.st_ino);
	q.ctime = tv.tv_sec;
	q.uid = (unsigned long)getuid();
	q.msgoff = QF_HDRLEN;

	static char buf[131072];
	char hdr[QF_HDRLEN], date[DATE822_LEN];
	memset(hdr, ' ', sizeof hdr);
	date822_fmt(date, tv.tv_sec);
	int rl = snprintf(buf, sizeof buf, "Received: (tern-queue %s invoked by uid %lu);\n\t%s\n",
			  q.qid, q.uid, date);
	size_t fill = (size_t)rl;
	q.msglen = 0;
	/* Header placeholder; the real one is written once the offsets and the sum are known. */
	write_all(fd, hdr, sizeof hdr);
	struct qsum sum;
	qsum_init(&sum);
	for (;;) {
		if (fill == sizeof buf) {
			write_all(fd, buf, fill);
			qsum_add(&sum, buf, fill);
			q.msglen += fill;
			fill = 0;
		}
		ssize_t r = read(in, buf + fill, sizeof buf - fill);
		if (r < 0) {
			if (errno == EINTR) continue;
			fail_sys(EX_READ, "reading the message");
		}
		if (r == 0) break;
		fill += (size_t)r;
		if (databytes && q.msglen + fill > databytes + (size_t)rl)
			fail(EX_REFUSED, "message too big (5.3.4): over control/databytes");
	}
	write_all(fd, buf, fill);
	qsum_add(&sum, buf, fill);
	q.msglen += fill;

	static stralloc env;	/* static: still reachable at exit, as intended */
	if (env.a > 65536) stralloc_free(&env);	/* a big one's memory is not kept */
	env.len = 0;
	struct env_limits lim = { maxaddr, maxrcpt };
	int er = env_read_fd(out, &env, &lim, &q.nrcpt);
	if (er == ENV_TOOLONG) fail(EX_TOOLONG, "envelope address too long");
	if (er == ENV_NOMEM) fail(EX_NOMEM, "out of memory");
	if (er == ENV_READ) fail(EX_READ, "reading the envelope");
	if (er != ENV_OK) fail(er, "envelope format error");
	q.envoff = q.msgoff + q.msglen;
	q.envlen = env.len;
	q.stateoff = q.envoff + q.envlen;
	write_all(fd, env.s, env.len);
	qsum_add(&sum, env.s, env.len);
	q.sum = qsum_end(&sum);
	for (size_t i = 0; i < q.nrcpt; i += sizeof buf) {
		size_t n = q.nrcpt - i < sizeof buf ? q.nrcpt - i : sizeof buf;
		memset(buf, QS_PENDING, n);
		write_all(fd, buf, n);
	}
	write_all(fd, "\n", 1);
	qfile_header(hdr, &q);
	if (pwrite(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) fail_sys(EX_WRITE, "writing the queue file header");

	/* Published before it is synced, so that one journal commit carries the data and both
	 * directory entries.  Until the syncs return, the file is ours to remove on failure;
	 * a crash in between can leave it incomplete in queue/mess, where the header's sum
	 * gives it away to tern-send (doc/queue.md).  link, not rename: an existing id is
	 * never overwritten. */
	char messpath[4096];
	if (qfile_path(messpath, sizeof messpath, "mess", q.qid) < 0) fail(EX_BUG, "bad queue id");
	if (link(tmppath, messpath) != 0) fail_sys(EX_MESSDIR, "publishing into queue/mess");
	unlink(tmppath);
	memcpy(tmppath, messpath, strlen(messpath) + 1);
	/* A journaling file system commits the link with the file (fd_journaled): then the
	 * file's fsync is all.  The directory's would cost a commit of its own under load
	 * (ext4 commits everything pending for it, every time); elsewhere it is needed. */
	int journaled = fd_journaled(fd);
	if ((journaled ? fsync(fd) : fdatasync(fd)) != 0) fail_sys(EX_WRITE, "fsync of the queue file");
	qfd = -1;
	if (close(fd) != 0) fail_sys(EX_WRITE, "closing the queue file");
	if (!journaled) fsync_dir("queue/mess");
	*tmppath = 0;
	trigger(q.qid);
	log_sid(&q, sid);
	return 0;
}

/* Fork server (tern-queue -z; zfork.h), for tern-smtpd's sessions with more than one
 * message: the one field is TERN_SID, the descriptors the message and the envelope.  It
 * queues them one after another in its own process (zfork_serve_inline): a failed one
 * returns here through fail, its file and descriptor gone.  A timeout still ends the
 * whole process (on_alarm), and tern-smtpd then execs tern-queue per message. */
static int zrun(char **f, int in, int out)
{
	jmp_buf jb;
	int code = setjmp(jb);
	if (code == 0) {
		back = &jb;
		code = queue_main(in, out, f[0]);
	}
	back = 0;
	alarm(0);
	return code;
}

int main(int argc, char **argv)
{
	tern_prog = "tern-queue";
	signals();
	if (argc == 2 && strcmp(argv[1], "-z") == 0) zfork_serve_inline(1, zrun);
	return queue_main(0, 1, getenv("TERN_SID"));
}
