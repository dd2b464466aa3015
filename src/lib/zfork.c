#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include "die.h"
#include "fdio.h"
#include "sig.h"
#include "spawn.h"
#include "zfork.h"

#define EX_TEMP 111

/* ---- server ---- */

/* A child the server forked: the job it runs (0 when idle), and for a child that may
 * take more jobs with the same key, our end of its channel (else -1). */
static struct kid {
	pid_t pid;
	unsigned long id;
	int chan;
	char *key;
	long long idle;		/* when it last became idle, ms */
} kids[ZFORK_KIDS];
static size_t nkids;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void answer(unsigned long id, int code)
{
	char b[48];
	int n = snprintf(b, sizeof b, "R%lu %d", id, code);
	ssize_t w;
	do w = send(0, b, (size_t)n, MSG_NOSIGNAL); while (w < 0 && errno == EINTR);
}

/* One packet from fd into buf (NUL-terminated after *len bytes) and its descriptors: 1,
 * 0 at the end, -1 on error.  fds[] gets exactly two, else both are -1 and whatever came
 * is closed. */
static int receive(int fd, char *buf, size_t size, size_t *len, int fds[2])
{
	struct iovec iov = { buf, size - 1 };
	union { struct cmsghdr h; char b[CMSG_SPACE(4 * sizeof(int))]; } cm;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b };
	ssize_t n;
	do n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ECONNRESET) n = 0;	/* closed with answers unread: the same end */
	if (n <= 0) return n < 0 ? -1 : 0;
	buf[n] = 0;
	*len = (size_t)n;
	fds[0] = fds[1] = -1;
	int got[4], ngot = 0;
	for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch)) {
		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS) continue;
		size_t k = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && ngot < 4; i++)
			memcpy(&got[ngot++], CMSG_DATA(ch) + i * sizeof(int), sizeof(int));
	}
	if (ngot == 2 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		fds[0] = got[0];
		fds[1] = got[1];
	} else
		for (int i = 0; i < ngot; i++) close(got[i]);
	return 1;
}

int zfork_parse(char *buf, size_t len, unsigned long *id, char **f)
{
	*id = 0;
	if (len < 2 || buf[0] != 'L' || buf[len - 1] != 0) return -1;
	char *end;
	errno = 0;
	unsigned long v = strtoul(buf + 1, &end, 10);
	if (buf[1] < '0' || buf[1] > '9' || *end || errno || !v) return -1;
	*id = v;
	size_t pos = strlen(buf) + 1, n = 0;
	while (pos < len) {
		if (n == ZFORK_FIELDS) return -1;
		f[n++] = buf + pos;
		pos += strlen(buf + pos) + 1;
	}
	return (int)n;
}

/* No more jobs for k: its channel closed, which ends it when idle. */
static void unchain(struct kid *k)
{
	if (k->chan >= 0) close(k->chan);
	k->chan = -1;
	free(k->key);
	k->key = 0;
}

/* At most ZFORK_SPARE idle children: the one idle longest is let go. */
static void spare(void)
{
	size_t idle = 0, oldest = 0;
	for (size_t k = 0; k < nkids; k++) {
		if (kids[k].id || kids[k].chan < 0) continue;
		if (idle++ == 0 || kids[k].idle < kids[oldest].idle) oldest = k;
	}
	if (idle > ZFORK_SPARE) unchain(&kids[oldest]);
}

/* k's report that its job ended ("D" code), if one is there.  Anything else on the
 * channel, or its end, and k takes no more jobs; a child that ends without a report is
 * answered by reap() from its exit status. */
static void report(struct kid *k)
{
	char b[32];
	ssize_t n;
	do n = recv(k->chan, b, sizeof b - 1, MSG_DONTWAIT); while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) return;
	if (n > 0) b[n] = 0;
	char *e = 0;
	long code = n > 1 && b[0] == 'D' ? strtol(b + 1, &e, 10) : -1;
	int ok = e && !*e && code >= 0 && code <= 255;
	if (n > 0 && !ok && k->id) {
		tern_warn("fork server: malformed report from a child");
		answer(k->id, EX_TEMP);
		k->id = 0;
	}
	if (!ok || !k->id) { unchain(k); return; }
	answer(k->id, (int)code);
	k->id = 0;
	k->idle = now_ms();
	spare();
}

static void reap(void)
{
	pid_t pid;
	int st;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		for (size_t k = 0; k < nkids; k++)
			if (kids[k].pid == pid) {
				if (kids[k].id && kids[k].chan >= 0) report(&kids[k]);	/* sent before it ended */
				if (kids[k].id) answer(kids[k].id, code);
				unchain(&kids[k]);
				kids[k] = kids[--nkids];
				break;
			}
	}
}

/* Hands a job to an idle child whose jobs have its key: 0, or -1 when there is none. */
static int pass(const char *buf, size_t len, unsigned long id, const char *key, const int fds[2])
{
	for (size_t k = 0; k < nkids; k++) {
		if (kids[k].id || kids[k].chan < 0 || strcmp(kids[k].key, key) != 0) continue;
		if (fd_send_fds(kids[k].chan, buf, len, fds, 2) != 0) { unchain(&kids[k]); continue; }
		kids[k].id = id;
		return 0;
	}
	return -1;
}

/* Idle children past ZFORK_IDLE are let go; ms until the next one is, or -1. */
static int expire(void)
{
	long long t = now_ms(), next = -1;
	for (size_t k = 0; k < nkids; k++) {
		if (kids[k].id || kids[k].chan < 0) continue;
		long long left = kids[k].idle + ZFORK_IDLE - t;
		if (left <= 0) unchain(&kids[k]);
		else if (next < 0 || left < next) next = left;
	}
	return (int)next;
}

/* Between a kept child's jobs: nothing of the last one stays open (its descriptors, and
 * with them its locks), and fds 0 and 1 are /dev/null until the next one's. */
static int between_jobs(int chan)
{
	alarm(0);
	while (waitpid(-1, 0, WNOHANG) > 0) {}
	close(0);
	close(1);
	if (chan > 3 && close_range(3, (unsigned)chan - 1, 0) != 0) return -1;
	if (close_range((unsigned)chan + 1, ~0U, 0) != 0) return -1;
	if (open("/dev/null", O_RDONLY) != 0 || open("/dev/null", O_WRONLY) != 1) return -1;
	return 0;
}

static void __attribute__((noreturn)) child(int (*run)(char **, int *), size_t nfields, char **f, int in, int out,
					    int pdeath, pid_t server, int chan)
{
	sig_forget(SIGCHLD);
	if (pdeath && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != server)) _exit(EX_TEMP);
	static char buf[ZFORK_PACKET + 1];
	long long born = now_ms();
	for (unsigned jobs = 1;; jobs++) {
		if (dup2(in, 0) != 0 || dup2(out, 1) != 1) _exit(EX_TEMP);
		close(in);
		close(out);
		int again = 0;
		int code = run(f, &again);
		if (chan < 0 || !again || jobs >= ZFORK_REUSE || now_ms() - born >= ZFORK_AGE) _exit(code);
		if (between_jobs(chan) != 0) _exit(code);
		char rep[16];
		int n = snprintf(rep, sizeof rep, "D%d", code);
		if (send(chan, rep, (size_t)n, MSG_NOSIGNAL) != n) _exit(code);
		size_t len;
		int fds[2];
		unsigned long id;
		int r = receive(chan, buf, sizeof buf, &len, fds);
		if (r == 0) _exit(0);	/* let go: no job was ours */
		if (r < 0 || fds[0] < 0 || zfork_parse(buf, len, &id, f) != (int)nfields) _exit(EX_TEMP);
		in = fds[0];
		out = fds[1];
	}
}

/* The server's loop: forked children running run, or inline's jobs in this process. */
static void __attribute__((noreturn)) serve(size_t nfields, size_t key, int (*run)(char **, int *),
					    int (*inline_run)(char **, int, int), int pdeath)
{
	int sfd = -1;
	if (!inline_run && ((sfd = sig_pipe()) < 0 || sig_catch(SIGCHLD) != 0))
		tern_die_sys(EX_TEMP, "setting up signals");
	if (sig_ignore(SIGPIPE) != 0) tern_die_sys(EX_TEMP, "setting up signals");
	static char buf[ZFORK_PACKET + 1];
	static struct pollfd p[2 + ZFORK_KIDS];
	static size_t who[ZFORK_KIDS];
	pid_t self = getpid();
	for (;;) {
		int wait = expire();
		p[0] = (struct pollfd){ 0, POLLIN, 0 };
		p[1] = (struct pollfd){ sfd, POLLIN, 0 };
		size_t np = 2;
		for (size_t k = 0; k < nkids; k++)
			if (kids[k].chan >= 0) { who[np - 2] = k; p[np++] = (struct pollfd){ kids[k].chan, POLLIN, 0 }; }
		if (poll(p, np, wait) < 0) {
			if (errno == EINTR) continue;
			tern_die_sys(EX_TEMP, "poll");
		}
		/* Reports first: a child that reported and then ended is answered once. */
		for (size_t i = 2; i < np; i++)	/* (spare() may have let one go meanwhile) */
			if (p[i].revents && kids[who[i - 2]].chan == p[i].fd) report(&kids[who[i - 2]]);
		if (sfd >= 0 && p[1].revents) {
			unsigned char c[64];
			while (read(sfd, c, sizeof c) > 0) {}
			reap();
		}
		if (!p[0].revents) continue;
		size_t len;
		int fds[2];
		int r = receive(0, buf, sizeof buf, &len, fds);
		if (r == 0) break;	/* the client is gone; its jobs end on their own */
		if (r < 0) tern_die_sys(EX_TEMP, "reading a request");
		char *f[ZFORK_FIELDS];
		unsigned long id;
		int n = zfork_parse(buf, len, &id, f);
		if (fds[0] < 0 || n != (int)nfields) {
			/* The client's bug: say so, and answer what can be answered. */
			tern_warn("fork server: malformed request");
			if (fds[0] >= 0) { close(fds[0]); close(fds[1]); }
			if (id) answer(id, EX_TEMP);
			continue;
		}
		if (inline_run) {
			/* Answered once the job's descriptors are closed: then it is over. */
			int code = inline_run(f, fds[0], fds[1]);
			close(fds[0]);
			close(fds[1]);
			answer(id, code);
			continue;
		}
		if (pass(buf, len, id, f[key], fds) == 0) {
			close(fds[0]);
			close(fds[1]);
			continue;
		}
		if (nkids == ZFORK_KIDS) {
			tern_warn("fork server: too many jobs at once");
			answer(id, EX_TEMP);
			for (size_t k = 0; k < nkids; k++)
				if (!kids[k].id) unchain(&kids[k]);	/* idle ones make room as they end */
		} else {
			int sv[2] = { -1, -1 };
			char *kkey = strdup(f[key]);
			if (!kkey || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
				free(kkey);	/* a child for this one job only */
				kkey = 0;
				sv[0] = sv[1] = -1;
			}
			pid_t pid = fork();
			if (pid == 0) {
				for (size_t k = 0; k < nkids; k++)
					if (kids[k].chan >= 0) close(kids[k].chan);
				if (sv[0] >= 0) close(sv[0]);
				child(run, nfields, f, fds[0], fds[1], pdeath, self, sv[1]);
			}
			if (sv[1] >= 0) close(sv[1]);
			if (pid < 0) {
				tern_warn_sys("fork server: fork", "");
				answer(id, EX_TEMP);
				if (sv[0] >= 0) close(sv[0]);
				free(kkey);
			} else
				kids[nkids++] = (struct kid){ pid, id, sv[0], kkey, 0 };
		}
		close(fds[0]);
		close(fds[1]);
	}
	/* Children still running see their own descriptors end; idle ones their channel.
	 * Wait for them, so that pdeath kills only when the server itself is killed. */
	for (size_t k = 0; k < nkids; k++) unchain(&kids[k]);
	while (nkids) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		if (pid < 0 && errno == EINTR) continue;
		if (pid < 0) break;
		for (size_t k = 0; k < nkids; k++)
			if (kids[k].pid == pid) { kids[k] = kids[--nkids]; break; }
	}
	exit(0);
}

void zfork_serve(size_t nfields, size_t key, int (*run)(char **, int *), int pdeath)
{
	serve(nfields, key, run, 0, pdeath);
}

void zfork_serve_inline(size_t nfields, int (*run)(char **, int, int))
{
	serve(nfields, 0, 0, run, 0);
}

/* ---- client ---- */

int zfork_start(struct zfork *z, const char *path, const char *name, int nonblock)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
	/* fd 1 is /dev/null: the client's own fd 1 may be its network connection. */
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0) { int e = errno; close(sv[0]); close(sv[1]); errno = e; return -1; }
	char *argv[] = { (char *)name, "-z", 0 };
	int fds[3] = { sv[1], null, -1 };
	pid_t pid = tern_spawn(path, argv, 0, fds);
	int e = errno;
	close(sv[1]);
	close(null);
	if (pid < 0) { close(sv[0]); errno = e; return -1; }
	if (nonblock) fcntl(sv[0], F_SETFL, O_NONBLOCK);
	z->fd = sv[0];
	z->pid = pid;
	return 0;
}

int zfork_send(struct zfork *z, unsigned long id, const char *const *fields, size_t n, int in, int out)
{
	char pk[ZFORK_PACKET];
	int k = snprintf(pk, sizeof pk, "L%lu", id);
	size_t len = (size_t)k + 1;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(fields[i]) + 1;
		if (len + l > sizeof pk) { errno = EMSGSIZE; return -1; }
		memcpy(pk + len, fields[i], l);
		len += l;
	}
	int fds[2] = { in, out };
	return fd_send_fds(z->fd, pk, len, fds, 2);
}

int zfork_answer(struct zfork *z, unsigned long *id, int *code)
{
	char b[64];
	ssize_t n;
	do n = recv(z->fd, b, sizeof b - 1, 0); while (n < 0 && errno == EINTR);
	if (n <= 0) return n < 0 ? -1 : 0;
	b[n] = 0;
	char *e;
	errno = 0;
	*id = b[0] == 'R' ? strtoul(b + 1, &e, 10) : 0;
	if (!*id || errno || *e != ' ') { errno = EPROTO; return -1; }
	*code = atoi(e + 1);
	return 1;
}

void zfork_stop(struct zfork *z)
{
	if (z->fd >= 0) close(z->fd);
	z->fd = -1;
}
