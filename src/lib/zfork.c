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
#include "die.h"
#include "fdio.h"
#include "sig.h"
#include "spawn.h"
#include "zfork.h"

#define EX_TEMP 111

/* ---- server ---- */

static struct { pid_t pid; unsigned long id; } kids[ZFORK_KIDS];
static size_t nkids;

static void answer(unsigned long id, int code)
{
	char b[48];
	int n = snprintf(b, sizeof b, "R%lu %d", id, code);
	ssize_t w;
	do w = send(0, b, (size_t)n, MSG_NOSIGNAL); while (w < 0 && errno == EINTR);
}

/* One packet into buf (NUL-terminated after *len bytes) and its descriptors: 1, 0 at
 * the end, -1 on error.  fds[] gets exactly two, else both are -1 and whatever came
 * is closed. */
static int receive(char *buf, size_t size, size_t *len, int fds[2])
{
	struct iovec iov = { buf, size - 1 };
	union { struct cmsghdr h; char b[CMSG_SPACE(4 * sizeof(int))]; } cm;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b };
	ssize_t n;
	do n = recvmsg(0, &mh, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
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

static void reap(void)
{
	pid_t pid;
	int st;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		for (size_t k = 0; k < nkids; k++)
			if (kids[k].pid == pid) {
				answer(kids[k].id, code);
				kids[k] = kids[--nkids];
				break;
			}
	}
}

static void __attribute__((noreturn)) child(void (*run)(char **), char **f, int in, int out, int pdeath, pid_t server)
{
	sig_forget(SIGCHLD);
	if (pdeath && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != server)) _exit(EX_TEMP);
	if (dup2(in, 0) != 0 || dup2(out, 1) != 1) _exit(EX_TEMP);
	close(in);
	close(out);
	run(f);
	_exit(EX_TEMP);		/* run does not return */
}

/* The server's loop: forked children running run, or inline's jobs in this process. */
static void __attribute__((noreturn)) serve(size_t nfields, void (*run)(char **), int (*inline_run)(char **, int, int), int pdeath)
{
	int sfd = -1;
	if (!inline_run && ((sfd = sig_pipe()) < 0 || sig_catch(SIGCHLD) != 0))
		tern_die_sys(EX_TEMP, "setting up signals");
	if (sig_ignore(SIGPIPE) != 0) tern_die_sys(EX_TEMP, "setting up signals");
	static char buf[ZFORK_PACKET + 1];
	pid_t self = getpid();
	for (;;) {
		struct pollfd p[2] = { { 0, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		if (poll(p, sfd < 0 ? 1 : 2, -1) < 0) {
			if (errno == EINTR) continue;
			tern_die_sys(EX_TEMP, "poll");
		}
		if (sfd >= 0 && p[1].revents) {
			unsigned char c[64];
			while (read(sfd, c, sizeof c) > 0) {}
			reap();
		}
		if (!p[0].revents) continue;
		size_t len;
		int fds[2];
		int r = receive(buf, sizeof buf, &len, fds);
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
		if (nkids == ZFORK_KIDS) {
			tern_warn("fork server: too many jobs at once");
			answer(id, EX_TEMP);
		} else {
			pid_t pid = fork();
			if (pid == 0) child(run, f, fds[0], fds[1], pdeath, self);
			if (pid < 0) {
				tern_warn_sys("fork server: fork", "");
				answer(id, EX_TEMP);
			} else {
				kids[nkids].pid = pid;
				kids[nkids].id = id;
				nkids++;
			}
		}
		close(fds[0]);
		close(fds[1]);
	}
	/* Children still running see their own descriptors end; wait for them, so that
	 * pdeath kills only when the server itself is killed. */
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

void zfork_serve(size_t nfields, void (*run)(char **), int pdeath)
{
	serve(nfields, run, 0, pdeath);
}

void zfork_serve_inline(size_t nfields, int (*run)(char **, int, int))
{
	serve(nfields, 0, run, 0);
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
