#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include "fdio.h"
#include "mbox.h"

static const char from[5] = { 'F', 'r', 'o', 'm', ' ' };

void mbox_quote_init(struct mbox_quote *q, mbox_writer w, void *ctx)
{
	q->state = 1;
	q->gt = q->match = 0;
	q->last = '\n';
	q->w = w;
	q->ctx = ctx;
}

static int put(struct mbox_quote *q, const char *s, size_t n)
{
	if (n == 0) return 0;
	q->last = s[n - 1];
	return q->w(q->ctx, s, n);
}

static int put_gt(struct mbox_quote *q, size_t n)
{
	static const char gts[64] = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";
	while (n) {
		size_t k = n < sizeof gts ? n : sizeof gts;
		if (put(q, gts, k) < 0) return -1;
		n -= k;
	}
	return 0;
}

/* Releases what a line start held back, unchanged. */
static int release(struct mbox_quote *q)
{
	if (put_gt(q, q->gt) < 0 || put(q, from, q->match) < 0) return -1;
	q->gt = q->match = 0;
	q->state = 0;
	return 0;
}

int mbox_quote_feed(struct mbox_quote *q, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (q->state == 0) {
			const char *nl = memchr(s + i, '\n', n - i);
			size_t end = nl ? (size_t)(nl - s) + 1 : n;
			if (put(q, s + i, end - i) < 0) return -1;
			i = end;
			if (nl) q->state = 1;
			continue;
		}
		char c = s[i];
		if (q->state == 1 && c == '>') { q->gt++; i++; continue; }
		q->state = 2;
		if (c == from[q->match]) {
			i++;
			if (++q->match == sizeof from) {
				if (put_gt(q, 1) < 0) return -1;
				if (release(q) < 0) return -1;
			}
			continue;
		}
		/* Not a From line: pass on what was held; c is handled as inside a line. */
		if (release(q) < 0) return -1;
	}
	return 0;
}

int mbox_quote_end(struct mbox_quote *q)
{
	if (q->state != 0 && release(q) < 0) return -1;
	if (q->last != '\n' && put(q, "\n", 1) < 0) return -1;
	return put(q, "\n", 1);
}

size_t mbox_fromline(char *out, size_t n, const char *sender, time_t t)
{
	char date[64];
	struct tm tm;
	if (!*sender || strcmp(sender, "#@[]") == 0) sender = "MAILER-DAEMON";
	if (!gmtime_r(&t, &tm)) return 0;
	size_t dl = strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	size_t sl = strlen(sender);
	size_t len = 5 + sl + 1 + dl + 1;
	if (dl == 0 || len + 1 > n) return 0;
	memcpy(out, "From ", 5);
	for (size_t i = 0; i < sl; i++) {
		unsigned char c = (unsigned char)sender[i];
		out[5 + i] = (c <= ' ' || c == 0x7f) ? '_' : (char)c;
	}
	out[5 + sl] = ' ';
	memcpy(out + 6 + sl, date, dl);
	out[6 + sl + dl] = '\n';
	out[len] = 0;
	return len;
}

/* ---- output ---- */

struct out {
	int fd;
	size_t n;
	char buf[65536];
};

static int out_flush(struct out *o)
{
	int r = fd_write_all(o->fd, o->buf, o->n);
	o->n = 0;
	return r;
}

static int out_write(void *ctx, const char *s, size_t n)
{
	struct out *o = ctx;
	if (o->n + n > sizeof o->buf && out_flush(o) < 0) return -1;
	if (n >= sizeof o->buf) return fd_write_all(o->fd, s, n);
	memcpy(o->buf + o->n, s, n);
	o->n += n;
	return 0;
}

/* ---- locking ---- */

static double now(void)
{
	struct timeval tv;
	gettimeofday(&tv, 0);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void pause_a_little(unsigned *k)
{
	/* 10 ms, growing to 500 ms: short waits stay short, long ones stay cheap. */
	unsigned ms = 10u << (*k < 6 ? *k : 6);
	if (ms > 500) ms = 500;
	(*k)++;
	usleep(ms * 1000);
}

/* 1 locked, 0 no dot lock possible here, -1 error (EAGAIN: timed out). */
static int dotlock(const char *lock, double deadline)
{
	unsigned k = 0;
	for (;;) {
		int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			char pid[32];
			int n = snprintf(pid, sizeof pid, "%lu\n", (unsigned long)getpid());
			if (n > 0) (void)!write(fd, pid, (size_t)n);
			if (close(fd) != 0) { int e = errno; unlink(lock); errno = e; return -1; }
			return 1;
		}
		if (errno == EACCES || errno == EROFS || errno == EPERM) return 0;
		if (errno != EEXIST) return -1;
		struct stat st;
		if (lstat(lock, &st) == 0 && st.st_mtime + MBOX_LOCKSTALE < time(0)) {
			if (unlink(lock) != 0 && errno != ENOENT) return -1;
			continue;
		}
		if (now() > deadline) { errno = EAGAIN; return -1; }
		pause_a_little(&k);
	}
}

static int fcntl_lock(int fd, double deadline)
{
	unsigned k = 0;
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (;;) {
		if (fcntl(fd, F_SETLK, &fl) == 0) return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) return -1;
		if (now() > deadline) { errno = EAGAIN; return -1; }
		pause_a_little(&k);
	}
}

static char inbuf[65536];

/* Writes the message at the end of the locked fd; the caller cuts back on failure. */
static int append(int fd, const char *fromline, const char *prefix, size_t plen,
		  const struct msgsrc *src, const char **step)
{
	static struct out o;
	struct mbox_quote q;
	o.fd = fd;
	o.n = 0;
	mbox_quote_init(&q, out_write, &o);
	*step = "writing the mbox";
	if (out_write(&o, fromline, strlen(fromline)) < 0) return -1;
	if (mbox_quote_feed(&q, prefix, plen) < 0) return -1;
	for (;;) {
		ssize_t r = src->read(src->ctx, inbuf, sizeof inbuf);
		if (r < 0) { *step = "reading the message"; return -1; }
		if (r == 0) break;
		if (mbox_quote_feed(&q, inbuf, (size_t)r) < 0) return -1;
	}
	if (mbox_quote_end(&q) < 0 || out_flush(&o) < 0) return -1;
	*step = "fsync the mbox";
	return fsync(fd);
}

/* Lock, check, append; -1 with errno after cutting the file back. */
static int locked_append(int fd, double deadline, const char *fromline, const char *prefix,
			 size_t plen, const struct msgsrc *src, const char **step)
{
	struct stat st;
	*step = "fcntl lock";
	if (fcntl_lock(fd, deadline) < 0) return -1;
	*step = "fstat the mbox";
	if (fstat(fd, &st) != 0) return -1;
	if (!S_ISREG(st.st_mode)) { *step = "the mbox is not a regular file"; errno = EINVAL; return -1; }
	if (append(fd, fromline, prefix, plen, src, step) == 0) return 0;
	/* Leave the mbox as it was: half a message would corrupt the next one. */
	int e = errno;
	if (ftruncate(fd, st.st_size) == 0) (void)fsync(fd);
	errno = e;
	return -1;
}

int mbox_deliver(const char *path, const char *fromline, const char *prefix, size_t plen,
		 const struct msgsrc *src, const char **step, int *nodotlock)
{
	char lock[4200];
	double deadline = now() + MBOX_LOCKWAIT;
	int n = snprintf(lock, sizeof lock, "%s.lock", path);
	*nodotlock = 0;
	*step = "lock file name";
	if (n < 0 || (size_t)n >= sizeof lock) { errno = ENAMETOOLONG; return -1; }
	*step = "dot lock";
	int dl = dotlock(lock, deadline);
	if (dl < 0) return -1;
	if (dl == 0) *nodotlock = 1;
	int r = -1, e;
	*step = "opening the mbox";
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd >= 0) {
		r = locked_append(fd, deadline, fromline, prefix, plen, src, step);
		e = errno;
		/* Its result does not matter: on success fsync has put the bytes on disk, on
		 * failure the first error is the one to report. */
		(void)close(fd);
	} else e = errno;
	if (dl > 0) unlink(lock);
	errno = e;
	return r;
}
