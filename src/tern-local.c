/* tern-local: delivers one message to one local recipient.
 *   tern-local SENDER RECIPIENT
 *   tern-local -z        (fork server for tern-send: see "fork server" below)
 * Message on fd 0 (TERN_MSGSIZE bytes of it when set), one result line on fd 1, log on
 * fd 2; exit 0 delivered, 99 delivered and stop, 100 permanent, 111 temporary failure.
 * The contract is doc/tern-local.8; the instruction files are doc/dot-tern.5. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <stralloc.h>
#include "fdio.h"
#include "addr.h"
#include "control.h"
#include "die.h"
#include "dotern.h"
#include "env.h"
#include "getpw.h"
#include "home.h"
#include "maildir.h"
#include "mbox.h"
#include "qfile.h"
#include "qlog.h"
#include "resolve.h"
#include "qprog.h"
#include "sig.h"
#include "users.h"
#include "zfork.h"

#define EX_DONE 0
#define EX_STOP 99
#define EX_PERM 100
#define EX_TEMP 111

#define ADDRMAX 1000		/* longest address (as tern-queue's queuemaxaddrlen default) */
#define REASONMAX 400		/* longest reason taken from a child's output */
#define MAXHOPS 100		/* Received: + Delivered-To: fields a message may carry */
#define PATHMAX 4096
#define ABUF (ADDRMAX + 1 + 256 + 1)	/* room for local@domain built from parts */

extern char **environ;

/* ---- the result: one line on fd 1, one log line, the exit code ---- */

static const char *qid = "";
static jmp_buf *back;		/* tern-local -z: where finish() ends a job (zrun) */
static int resolved;		/* t and the privileges are the recipient's (zrun) */
static const char *dtag;	/* TERN_DTAG when usable in a file name */
static const char *sender;
static char rcpt[ABUF];	/* the recipient: local part as given, domain lowercased */

static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
}

static void qlog_head(struct qlog *l, const char *event)
{
	qlog_start(l);
	qlog_kv(l, "qid", qid);
	qlog_kv(l, "rcpt", rcpt);
	qlog_kv(l, "event", event);
}

static void finish(int code, const char *status, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
static void finish(int code, const char *status, const char *fmt, ...)
{
	char text[REASONMAX + 100], line[REASONMAX + 120];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	clean(text);
	int n = snprintf(line, sizeof line, "%s %s\n", status, text);
	if (n < 0 || (size_t)n >= sizeof line) { n = (int)sizeof line - 1; line[n - 1] = '\n'; }
	ssize_t w = write(1, line, (size_t)n);
	(void)w;
	struct qlog l;
	qlog_head(&l, "end");
	qlog_kvu(&l, "exit", (unsigned long long)code);
	qlog_kv(&l, "status", status);
	qlog_kv(&l, "text", text);
	qlog_emit(&l);
	if (back) longjmp(*back, code + 1);
	_exit(code);
}

static void finish_sys(int code, const char *status, const char *what)
	__attribute__((noreturn));
static void finish_sys(int code, const char *status, const char *what)
{
	finish(code, status, "%s: %s", what, strerror(errno));
}

/* ---- the recipient ---- */

/* The recipient, parsed as src/lib/resolve.h does for tern-smtpd too. */
#define rcptinfo res_rcpt

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
	return 0;
}

static void parse_rcpt(const char *arg, struct rcptinfo *ri)
{
	size_t len = strlen(arg);
	if (len == 0 || len > ADDRMAX || has_ctl(arg)) {
		memcpy(rcpt, "(invalid)", 10);
		finish(EX_PERM, "5.1.3", "bad recipient address");
	}
	size_t at = addr_at(arg, len);
	const char *dom = at < len ? arg + at + 1 : tern_me();
	size_t dl = strlen(dom);
	if (at == 0 || dl == 0 || dl >= sizeof ri->domain || at + 1 + dl > ADDRMAX) {
		snprintf(rcpt, sizeof rcpt, "%s", arg);
		finish(EX_PERM, "5.1.3", "bad recipient address: %s", arg);
	}
	char delim[64];
	if (control_readline(delim, sizeof delim, "delimiter", "+") < 0)
		finish_sys(EX_TEMP, "4.3.5", "control/delimiter unreadable");
	if (res_parse(ri, arg, at, dom, dl, delim) != 0) {
		snprintf(rcpt, sizeof rcpt, "%s", arg);
		finish(EX_PERM, "5.1.3", "bad recipient address: %s", arg);
	}
	snprintf(rcpt, sizeof rcpt, "%.*s@%s", (int)at, arg, ri->domain);
}

/* ---- resolution ---- */

enum tkind { T_ALIAS, T_DIR, T_MAILDIR };

struct target {
	enum tkind kind;
	const char *how;		/* for the log: user, alias, extension, catch-all, ... */
	stralloc targets;		/* T_ALIAS: addresses, each NUL-terminated */
	char dir[PATHMAX];		/* T_DIR: the user's directory; T_MAILDIR: the Maildir */
	char user[ADDRMAX + 1];		/* USER */
	char local[ADDRMAX + 1];	/* LOCAL */
	const char *ext;		/* EXT, or 0 */
	int system;			/* a system account: switch to uid/gid */
	uid_t uid;
	gid_t gid;
	int virtual;			/* switch to the owner of $TERN_HOME/mail when root */
};

static void asalias(struct target *t, const char *how)
{
	t->kind = T_ALIAS;
	t->how = how;
	t->virtual = 1;
}

/* A user of the database: its directory, absolute. */
static void asuser(const char *addr, const struct user_rec *u, struct target *t, const char *how)
{
	size_t at = addr_at(addr, strlen(addr));
	char local[ADDRMAX + 1];
	memcpy(local, addr, at);
	local[at] = 0;
	const char *domain = addr + at + 1;
	int n;
	if (!u->dir[0]) {
		/* The default place is built from the address: only through the gate. */
		if (!addr_pathsafe(local, at) || !addr_pathsafe(domain, strlen(domain)))
			finish(EX_PERM, "5.1.3", "address not usable as a mailbox name: %s", addr);
		n = snprintf(t->dir, sizeof t->dir, "%s/mail/%s/%s", tern_home(), domain, local);
	} else if (u->dir[0] == '/') n = snprintf(t->dir, sizeof t->dir, "%s", u->dir);
	else n = snprintf(t->dir, sizeof t->dir, "%s/%s", tern_home(), u->dir);
	if (n < 0 || (size_t)n >= sizeof t->dir) finish(EX_TEMP, "4.3.5", "directory name too long for %s", addr);
	t->kind = T_DIR;
	t->how = how;
	t->virtual = 1;
	snprintf(t->user, sizeof t->user, "%s", local);
}

/* A system account (tern-getpw): only ordinary users whose home is theirs. */
static struct sysacct sysacc;

static void assystem(const char *name, struct target *t)
{
	if (strlen(sysacc.home) >= sizeof t->dir) finish(EX_TEMP, "4.3.5", "home directory name too long");
	memcpy(t->dir, sysacc.home, strlen(sysacc.home) + 1);
	snprintf(t->user, sizeof t->user, "%.1000s", name);	/* a local part: <= ADDRMAX */
	t->kind = T_DIR;
	t->how = "system account";
	t->system = 1;
	t->uid = sysacc.uid;
	t->gid = sysacc.gid;
}

/* Looks up one address as an alias or a user (the postmaster's), filling t. */
static int findrole(const char *addr, struct target *t, const char *how_alias, const char *how_user)
{
	struct user_rec u;
	int r = res_lookup(addr, &t->targets, &u);
	if (r < 0) finish_sys(EX_TEMP, "4.3.0", "users database unreadable");
	if (r == 1) asalias(t, how_alias);
	else if (r == 2) asuser(addr, &u, t, how_user);
	return r > 0;
}

/* Steps 7: the role addresses never bounce. */
static void resolve_role(const struct rcptinfo *ri, struct target *t)
{
	char pm[ABUF], me[256];
	snprintf(me, sizeof me, "%s", tern_me());
	addr_lower(me, strlen(me));
	snprintf(pm, sizeof pm, "postmaster@%s", me);
	if (strcmp(pm, ri->lower) != 0 && findrole(pm, t, "postmaster alias", "postmaster user")) return;
	int n = snprintf(t->dir, sizeof t->dir, "%s/mail/postmaster/Maildir/", tern_home());
	if (n < 0 || (size_t)n >= sizeof t->dir) finish(EX_TEMP, "4.3.5", "TERN_HOME too long");
	t->kind = T_MAILDIR;
	t->how = "postmaster mailbox";
	t->virtual = 1;
	snprintf(t->user, sizeof t->user, "postmaster");
}

static void resolve(const struct rcptinfo *ri, struct target *t)
{
	static char key[RES_ADDRMAX + 258];
	struct user_rec u;
	int r = users_islocal(ri->domain, strlen(ri->domain));
	if (r < 0) finish_sys(EX_TEMP, "4.3.0", "users database unreadable");
	if (r == 0) finish(EX_PERM, "5.1.2", "not a local domain: %s", ri->domain);
	snprintf(t->local, sizeof t->local, "%s", ri->local);
	switch (res_local(ri, &t->targets, &u, &sysacc, key)) {
	case RES_ALIAS: asalias(t, "alias"); return;
	case RES_USER: asuser(key, &u, t, "user"); return;
	case RES_EXT_ALIAS: t->ext = ri->ext; asalias(t, "extension alias"); return;
	case RES_EXT_USER: t->ext = ri->ext; asuser(key, &u, t, "extension"); return;
	case RES_CATCHALL: asalias(t, "catch-all"); return;
	case RES_SYSTEM: assystem(key, t); return;
	case RES_SYSTEM_EXT: t->ext = ri->ext; assystem(key, t); return;
	case RES_ROLE: resolve_role(ri, t); return;
	case RES_EUSERS: finish_sys(EX_TEMP, "4.3.0", "users database unreadable");
	case RES_ECONTROL: finish_sys(EX_TEMP, "4.3.5", "control/systemaccounts or control/locals unreadable");
	case RES_EGETPW: finish_sys(EX_TEMP, "4.3.0", "password database unreadable (tern-getpw)");
	case RES_EHOME: finish_sys(EX_TEMP, "4.3.0", "home directory inaccessible");
	}
	finish(EX_PERM, "5.1.1", "no such user: %s", rcpt);
}

/* ---- privileges ---- */

static void become(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups)
{
	if (geteuid() != 0) {
		if (uid != geteuid())
			finish(EX_TEMP, "4.3.0", "cannot deliver as uid %lu: not running as root", (unsigned long)uid);
		return;
	}
	if (setgid(gid) != 0) finish_sys(EX_TEMP, "4.3.0", "setgid");
	if ((groups && ngroups ? setgroups(ngroups, groups) : setgroups(1, &gid)) != 0)
		finish_sys(EX_TEMP, "4.3.0", "setting groups");
	if (setuid(uid) != 0) finish_sys(EX_TEMP, "4.3.0", "setuid");
	if (uid != 0 && setuid(0) == 0) finish(EX_TEMP, "4.3.0", "could not drop root");
}

static void drop_privileges(const struct target *t)
{
	if (t->system) { become(t->uid, t->gid, sysacc.groups, sysacc.ngroups); return; }
	if (geteuid() != 0) return;
	char mail[PATHMAX];
	struct stat st;
	if (tern_path(mail, sizeof mail, "mail") < 0) finish(EX_TEMP, "4.3.5", "TERN_HOME too long");
	if (stat(mail, &st) != 0) finish_sys(EX_TEMP, "4.3.0", "$TERN_HOME/mail");
	become(st.st_uid, st.st_gid, 0, 0);
}

/* ---- the message: re-readable from its start ---- */

struct msg {
	int fd;
	off_t start;
	unsigned long long size, pos;
	time_t when;		/* stable time for tagged Maildir names */
};

static struct msg M;
static char iobuf[65536];

static ssize_t msg_read(void *ctx, char *buf, size_t n)
{
	struct msg *m = ctx;
	unsigned long long left = m->size - m->pos;
	if (left == 0) return 0;
	if (n > left) n = (size_t)left;
	for (;;) {
		ssize_t r = pread(m->fd, buf, n, m->start + (off_t)m->pos);
		if (r < 0 && errno == EINTR) continue;
		if (r == 0) { errno = EIO; return -1; }	/* the file shrank */
		if (r > 0) m->pos += (unsigned long long)r;
		return r;
	}
}

static void msg_rewind(struct msg *m) { m->pos = 0; }

static const struct msgsrc msgsrc = { msg_read, &M };

/* An anonymous file for a message that came on a pipe. */
static int tmpfile_open(void)
{
	char dir[PATHMAX];
	if (tern_path(dir, sizeof dir, "queue/tmp") == 0) {
		int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0) return fd;
	}
	int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0) return fd;
	char name[] = "/tmp/tern-local.XXXXXX";
	fd = mkostemp(name, O_CLOEXEC);
	if (fd < 0) return -1;
	if (unlink(name) != 0) { int e = errno; close(fd); errno = e; return -1; }
	return fd;
}

static void msg_copy(struct msg *m, int have, unsigned long long want)
{
	m->fd = tmpfile_open();
	if (m->fd < 0) finish_sys(EX_TEMP, "4.3.0", "creating a temporary file");
	m->start = 0;
	m->size = 0;
	for (;;) {
		size_t n = sizeof iobuf;
		if (have && want - m->size < n) n = (size_t)(want - m->size);
		if (n == 0) break;
		ssize_t r = read(0, iobuf, n);
		if (r < 0) { if (errno == EINTR) continue; finish_sys(EX_TEMP, "4.3.0", "reading the message"); }
		if (r == 0) break;
		if (fd_write_all(m->fd, iobuf, (size_t)r) < 0) {
			if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG) finish_sys(EX_TEMP, "4.3.1", "copying the message");
			finish_sys(EX_TEMP, "4.3.0", "copying the message");
		}
		m->size += (unsigned long long)r;
	}
	if (have && m->size != want) finish(EX_TEMP, "4.3.0", "message shorter than TERN_MSGSIZE");
	m->when = time(0);
}

/* The time in a tagged name must not change when the delivery is repeated: the queue
 * file's creation time when fd 0 is a queue file, else the input file's mtime. */
static time_t stable_time(int fd, off_t start, const struct stat *st)
{
	char hdr[QF_HDRLEN];
	struct qfile q;
	if (pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr && qfile_parse_header(&q, hdr) == 0 &&
	    (off_t)q.msgoff == start) return q.ctime;
	return st->st_mtime;
}

static void msg_open(struct msg *m)
{
	const char *ms = getenv("TERN_MSGSIZE");
	unsigned long want = 0;
	int have = 0;
	if (ms) {
		if (tern_scan_ulong(ms, &want) < 0) finish(EX_TEMP, "4.3.5", "bad TERN_MSGSIZE: %s", ms);
		have = 1;
	}
	struct stat st;
	if (fstat(0, &st) != 0) finish_sys(EX_TEMP, "4.3.0", "fstat fd 0");
	off_t cur = S_ISREG(st.st_mode) ? lseek(0, 0, SEEK_CUR) : -1;
	if (cur < 0) { msg_copy(m, have, want); return; }
	m->fd = 0;
	m->start = cur;
	unsigned long long avail = st.st_size > cur ? (unsigned long long)(st.st_size - cur) : 0;
	if (have && avail < want) finish(EX_TEMP, "4.3.0", "message shorter than TERN_MSGSIZE");
	m->size = have ? want : avail;
	m->when = stable_time(0, cur, &st);
}

/* ---- loop and hop checks: the header only, streamed ---- */

static int prefix_ci(const char *s, size_t n, const char *p)
{
	size_t l = strlen(p);
	return n >= l && strncasecmp(s, p, l) == 0;
}

/* One header line (no line end).  Returns 1 when it counts as a hop. */
static int header_line(const char *s, size_t n)
{
	if (prefix_ci(s, n, "received:")) return 1;
	if (!prefix_ci(s, n, "delivered-to:")) return 0;
	size_t a = 13, b = n;
	while (a < b && (s[a] == ' ' || s[a] == '\t')) a++;
	while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) b--;
	if (b - a == strlen(rcpt) && strncasecmp(s + a, rcpt, b - a) == 0)
		finish(EX_PERM, "5.4.6", "mail loop: already delivered to %s (Delivered-To)", rcpt);
	return 1;
}

static void scan_header(struct msg *m)
{
	char line[ADDRMAX + 64];
	size_t ll = 0, hops = 0;
	msg_rewind(m);
	for (;;) {
		ssize_t r = msg_read(m, iobuf, sizeof iobuf);
		if (r < 0) finish_sys(EX_TEMP, "4.3.0", "reading the message");
		if (r == 0) return;
		for (ssize_t i = 0; i < r; i++) {
			char c = iobuf[i];
			if (c != '\n') {
				if (ll < sizeof line) line[ll++] = c;
				continue;
			}
			if (ll > 0 && line[ll - 1] == '\r') ll--;
			if (ll == 0) return;	/* the empty line: the header is over */
			hops += (size_t)header_line(line, ll);
			if (hops > MAXHOPS)
				finish(EX_PERM, "5.4.6", "too many hops: more than %d Received and Delivered-To fields", MAXHOPS);
			ll = 0;
		}
	}
}

/* ---- children: |program and the queue program ---- */

struct child_io {
	const char *prefix;	/* sent on the child's fd 0 before the message */
	size_t plen;
	const char *extra;	/* sent on the child's fd 1 (the envelope), or 0 */
	size_t elen;
	unsigned long timeout;	/* seconds; 0 = none */
	char reason[REASONMAX + 1];	/* first line of the captured output */
	size_t rlen;
	int rdone;
	int timedout, readerr;
};

static double now(void)
{
	struct timeval tv;
	gettimeofday(&tv, 0);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void capture(struct child_io *io, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !io->rdone; i++) {
		if (s[i] == '\n') { io->rdone = 1; break; }
		if (io->rlen < REASONMAX) io->reason[io->rlen++] = s[i];
	}
	io->reason[io->rlen] = 0;
}

/* Reads what is there now; -1 at EOF. */
static int drain(int fd, struct child_io *io)
{
	char b[4096];
	for (;;) {
		ssize_t r = read(fd, b, sizeof b);
		if (r < 0) return errno == EINTR ? 0 : (errno == EAGAIN ? 0 : -1);
		if (r == 0) return -1;
		capture(io, b, (size_t)r);
	}
}

static void closefd(int *fd)
{
	if (*fd >= 0) close(*fd);
	*fd = -1;
}

static pid_t spawn_child(char *const argv[], char *const envp[], int in, int envfd, int cap)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	pid_t pid;
	int r = posix_spawn_file_actions_init(&fa);
	if (r) { errno = r; return -1; }
	if ((r = posix_spawnattr_init(&at))) { posix_spawn_file_actions_destroy(&fa); errno = r; return -1; }
	sigfillset(&all);
	sigemptyset(&none);
	/* Its own process group, so that a timeout kills whatever it started too. */
	r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	if (!r) r = posix_spawnattr_setpgroup(&at, 0);
	if (!r) r = posix_spawnattr_setsigdefault(&at, &all);
	if (!r) r = posix_spawnattr_setsigmask(&at, &none);
	if (!r) r = posix_spawn_file_actions_adddup2(&fa, in, 0);
	if (!r) r = posix_spawn_file_actions_adddup2(&fa, envfd >= 0 ? envfd : cap, 1);
	if (!r) r = posix_spawn_file_actions_adddup2(&fa, cap, 2);
	if (!r) r = posix_spawn(&pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r) { errno = r; return -1; }
	return pid;
}

struct feeder {
	int fd;
	const char *p;		/* pending bytes */
	size_t n;
	int stage;		/* 0 prefix, 1 message, 2 done */
};

/* Pushes more of the prefix + message into f->fd.  -1 on a read error. */
static int feed(struct feeder *f, struct child_io *io)
{
	if (f->n == 0) {
		if (f->stage == 0) { f->p = io->prefix; f->n = io->plen; f->stage = 1; }
		if (f->n == 0 && f->stage == 1) {
			ssize_t r = msg_read(&M, iobuf, sizeof iobuf);
			if (r < 0) return -1;
			if (r == 0) f->stage = 2;
			f->p = iobuf;
			f->n = (size_t)r;
		}
		if (f->n == 0 && f->stage == 2) { closefd(&f->fd); return 0; }
	}
	ssize_t w = write(f->fd, f->p, f->n);
	if (w < 0) {
		if (errno == EAGAIN || errno == EINTR) return 0;
		closefd(&f->fd);	/* EPIPE: the child does not want more; that is its business */
		return 0;
	}
	f->p += w;
	f->n -= (size_t)w;
	return 0;
}

static int feed_extra(int *fd, const char **p, size_t *n)
{
	if (*n == 0) { closefd(fd); return 0; }
	ssize_t w = write(*fd, *p, *n);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR) closefd(fd);
		return 0;
	}
	*p += w;
	*n -= (size_t)w;
	return 0;
}

static int mkpipe(int p[2], int parent_end)
{
	if (pipe2(p, O_CLOEXEC) != 0) return -1;
	return fcntl(p[parent_end], F_SETFL, O_NONBLOCK);
}

/* Runs argv with the message on fd 0 and its output captured; waits, bounded.
 * Returns the exit code (128 + signal when killed), or -1 with errno when it could not
 * be started. */
static int run_child(char *const argv[], char *const envp[], struct child_io *io)
{
	int in[2], cap[2], ev[2] = { -1, -1 };
	int sigfd = sig_pipe();
	if (sigfd < 0 || sig_catch(SIGCHLD) != 0) return -1;
	if (mkpipe(in, 1) < 0) return -1;
	if (mkpipe(cap, 0) < 0) { close(in[0]); close(in[1]); return -1; }
	if (io->extra && mkpipe(ev, 1) < 0) { close(in[0]); close(in[1]); close(cap[0]); close(cap[1]); return -1; }
	pid_t pid = spawn_child(argv, envp, in[0], ev[0], cap[1]);
	int e = errno;
	closefd(&in[0]);
	closefd(&cap[1]);
	closefd(&ev[0]);
	if (pid < 0) { closefd(&in[1]); closefd(&cap[0]); closefd(&ev[1]); errno = e; return -1; }

	struct feeder f = { in[1], 0, 0, 0 };
	const char *ep = io->extra;
	size_t en = io->elen;
	int capfd = cap[0], evfd = ev[1], status = -1;
	double deadline = io->timeout ? now() + (double)io->timeout : 0;
	msg_rewind(&M);
	io->rlen = 0;
	io->reason[0] = 0;
	for (;;) {
		struct pollfd pf[4];
		nfds_t np = 0;
		int ifd = -1, efd = -1, cfd = -1;
		pf[np].fd = sigfd; pf[np].events = POLLIN; np++;
		if (f.fd >= 0) { ifd = (int)np; pf[np].fd = f.fd; pf[np].events = POLLOUT; np++; }
		if (evfd >= 0) { efd = (int)np; pf[np].fd = evfd; pf[np].events = POLLOUT; np++; }
		if (capfd >= 0) { cfd = (int)np; pf[np].fd = capfd; pf[np].events = POLLIN; np++; }
		int ms = -1;
		if (deadline) {
			double left = deadline - now();
			if (left <= 0) { io->timedout = 1; break; }
			ms = left > 1e6 ? 1000000000 : (int)(left * 1000) + 1;
		}
		if (poll(pf, np, ms) < 0 && errno != EINTR) break;
		if (ifd >= 0 && pf[ifd].revents && feed(&f, io) < 0) { io->readerr = 1; break; }
		if (efd >= 0 && pf[efd].revents) feed_extra(&evfd, &ep, &en);
		if (cfd >= 0 && pf[cfd].revents && drain(capfd, io) < 0) closefd(&capfd);
		if (pf[0].revents) {
			char b[64];
			while (read(sigfd, b, sizeof b) > 0) {}
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid) {
				status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
				/* Output already written is in the pipe; later output of leftover
				 * background processes is not waited for. */
				if (capfd >= 0) drain(capfd, io);
				break;
			}
		}
	}
	closefd(&f.fd);
	closefd(&evfd);
	closefd(&capfd);
	if (status < 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
		status = 128 + SIGKILL;
	}
	clean(io->reason);
	return status;
}

/* ---- instructions ---- */

struct ctx {
	const struct rcptinfo *ri;
	const struct target *t;
	char rp[ADDRMAX + 40];		/* "Return-Path: <sender>\n" */
	char dt[ADDRMAX + 40];		/* "Delivered-To: rcpt\n" */
	char prefix[2 * ADDRMAX + 80];
	size_t plen;
	char host[256];			/* sanitized host name for Maildir names */
	unsigned long timeout;
	char summary[300];
	size_t ndone;
	stralloc fwd;			/* forward targets, NUL-terminated */
	size_t nfwd;
};

/* A delivery instruction's outcome. */
struct outcome {
	int code;		/* EX_DONE, EX_STOP, EX_PERM, EX_TEMP */
	char status[16];
	char text[REASONMAX + 100];
};

static void set_outcome(struct outcome *o, int code, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_outcome(struct outcome *o, int code, const char *status, const char *fmt, ...)
{
	va_list ap;
	o->code = code;
	snprintf(o->status, sizeof o->status, "%s", status);
	va_start(ap, fmt);
	vsnprintf(o->text, sizeof o->text, fmt, ap);
	va_end(ap);
	clean(o->text);
}

static void log_instr(const char *event, const char *kind, const char *arg, const char *file,
		      const struct outcome *o)
{
	struct qlog l;
	qlog_head(&l, event);
	qlog_kv(&l, "kind", kind);
	if (arg) qlog_kv(&l, "dest", arg);
	if (file) qlog_kv(&l, "file", file);
	if (o && o->code != EX_DONE && o->code != EX_STOP) {
		qlog_kv(&l, "status", o->status);
		qlog_kv(&l, "text", o->text);
	}
	qlog_emit(&l);
}

static void summary_add(struct ctx *c, const char *kind, const char *arg)
{
	size_t n = strlen(c->summary);
	if (n + 8 >= sizeof c->summary) return;
	snprintf(c->summary + n, sizeof c->summary - n, "%s%s%s%s", c->ndone ? ", " : "", kind,
		 arg ? " " : "", arg ? arg : "");
	c->ndone++;
}

static void fail_sys(struct outcome *o, const char *kind, const char *path, const char *step)
{
	int e = errno;
	const char *status = (e == ENOSPC || e == EDQUOT || e == EFBIG) ? "4.2.2" : "4.2.0";
	set_outcome(o, EX_TEMP, status, "%s %s: %s: %s", kind, path, step, strerror(e));
}

static void do_maildir(struct ctx *c, const char *path, size_t index, struct outcome *o)
{
	char name[MAILDIR_NAMEMAX], tag[MAILDIR_NAMEMAX];
	const char *step = "creating the Maildir";
	if (maildir_make(path) < 0) { fail_sys(o, "maildir", path, step); return; }
	const char *tagname = 0;
	if (dtag) {
		if (maildir_name_tag(tag, sizeof tag, M.when, dtag, index, c->host) < 0) {
			fail_sys(o, "maildir", path, "file name");
			return;
		}
		tagname = tag;
	}
	msg_rewind(&M);
	int r = maildir_deliver(path, tagname, c->host, c->prefix, c->plen, &msgsrc, name, &step);
	if (r < 0) { fail_sys(o, "maildir", path, step); return; }
	set_outcome(o, EX_DONE, "2.0.0", "ok");
	log_instr(r == MD_DUP ? "duplicate" : "delivered", "maildir", path, name, 0);
	summary_add(c, r == MD_DUP ? "maildir (already there)" : "maildir", path);
}

static void do_mbox(struct ctx *c, const char *path, struct outcome *o)
{
	char from[ADDRMAX + 80];
	const char *step;
	int nodot;
	if (mbox_fromline(from, sizeof from, sender, time(0)) == 0) {
		set_outcome(o, EX_TEMP, "4.3.0", "mbox %s: From line too long", path);
		return;
	}
	msg_rewind(&M);
	if (mbox_deliver(path, from, c->prefix, c->plen, &msgsrc, &step, &nodot) < 0) {
		if (errno == EAGAIN) set_outcome(o, EX_TEMP, "4.2.1", "mbox %s: still locked after %d s", path, MBOX_LOCKWAIT);
		else fail_sys(o, "mbox", path, step);
		return;
	}
	if (nodot) tern_warn("mbox ", path, ": no dot lock possible in its directory; fcntl lock only");
	set_outcome(o, EX_DONE, "2.0.0", "ok");
	log_instr("delivered", "mbox", path, 0, 0);
	summary_add(c, "mbox", path);
}

/* Environment for a |program: inherited, minus what is set here and tern-send's
 * per-delivery variables. */
static char **program_env(struct ctx *c)
{
	static const char *const drop[] = { "SENDER=", "RECIPIENT=", "LOCAL=", "EXT=", "HOST=", "DTLINE=",
					    "RPLINE=", "HOME=", "USER=", "TERN_MSGSIZE=", "TERN_DTAG=", 0 };
	static char *set[9];
	static stralloc sa[9];
	const char *val[9] = { sender, rcpt, c->t->local, c->t->ext ? c->t->ext : "", c->ri->domain,
			       c->dt, c->rp, c->t->dir, c->t->user };
	size_t ne = 0;
	while (environ[ne]) ne++;
	char **envp = calloc(ne + 10, sizeof *envp);
	if (!envp) return 0;
	size_t k = 0;
	for (size_t i = 0; i < ne; i++) {
		int keep = 1;
		for (size_t d = 0; drop[d]; d++)
			if (!strncmp(environ[i], drop[d], strlen(drop[d]))) keep = 0;
		if (keep) envp[k++] = environ[i];
	}
	for (size_t i = 0; i < 9; i++) {
		size_t nl = strlen(drop[i]);
		sa[i].len = 0;
		if (!stralloc_catb(&sa[i], drop[i], nl) || !stralloc_cats(&sa[i], val[i]) || !stralloc_0(&sa[i])) {
			free(envp);
			return 0;
		}
		set[i] = sa[i].s;
		envp[k++] = set[i];
	}
	envp[k] = 0;
	return envp;
}

static int permanent_exit(int code)
{
	return code == 100 || code == 64 || code == 65 || code == 70 || code == 76 || code == 77 ||
	       code == 78 || code == 112;
}

/* A reason that already starts with an enhanced code of the right class is kept. */
static void child_outcome(struct outcome *o, int code, const char *cls, const char *dflt,
			  const char *reason, const char *what, int exitcode)
{
	size_t k = 0;
	while (k < 15 && (reason[k] == '.' || (reason[k] >= '0' && reason[k] <= '9'))) k++;
	if (k >= 5 && reason[0] == cls[0] && reason[1] == '.' && (reason[k] == ' ' || !reason[k])) {
		char st[16];
		memcpy(st, reason, k);
		st[k] = 0;
		const char *t = reason[k] ? reason + k + 1 : "";
		set_outcome(o, code, st, "%s", *t ? t : what);
	} else if (*reason) set_outcome(o, code, dflt, "%s", reason);
	else set_outcome(o, code, dflt, "%s exited %d", what, exitcode);
}

static void do_program(struct ctx *c, const char *cmd, struct outcome *o)
{
	char **envp = program_env(c);
	if (!envp) { set_outcome(o, EX_TEMP, "4.3.0", "out of memory"); return; }
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, 0 };
	struct child_io io;
	memset(&io, 0, sizeof io);
	io.timeout = c->timeout;
	int code = run_child(argv, envp, &io);
	free(envp);
	if (code < 0) { set_outcome(o, EX_TEMP, "4.3.0", "starting /bin/sh: %s", strerror(errno)); }
	else if (io.readerr) set_outcome(o, EX_TEMP, "4.3.0", "reading the message: %s", strerror(EIO));
	else if (io.timedout) set_outcome(o, EX_TEMP, "4.2.0", "program timed out after %lu s", c->timeout);
	else if (code == 0 || code == 99) set_outcome(o, code == 99 ? EX_STOP : EX_DONE, "2.0.0", "ok");
	else if (permanent_exit(code)) child_outcome(o, EX_PERM, "5", "5.2.0", io.reason, "program", code);
	else child_outcome(o, EX_TEMP, "4", "4.2.0", io.reason, "program", code);
	struct qlog l;
	qlog_head(&l, o->code <= EX_STOP ? "delivered" : o->code == EX_PERM ? "failed" : "deferred");
	qlog_kv(&l, "kind", "program");
	qlog_kvu(&l, "exit", (unsigned long long)(code < 0 ? 0 : code));
	if (o->code > EX_STOP) { qlog_kv(&l, "status", o->status); qlog_kv(&l, "text", o->text); }
	qlog_emit(&l);
	if (o->code <= EX_STOP) summary_add(c, "program", 0);
}

/* Queues the collected forward targets, once.  Sender unchanged. */
static void do_forward(struct ctx *c, struct outcome *o)
{
	stralloc env = {0};
	char qpath[PATHMAX];
	if (!env_start(&env, sender)) { set_outcome(o, EX_TEMP, "4.3.0", "out of memory"); return; }
	for (size_t i = 0; i < c->fwd.len; i += strlen(c->fwd.s + i) + 1)
		if (!env_add_rcpt(&env, c->fwd.s + i)) { set_outcome(o, EX_TEMP, "4.3.0", "out of memory"); return; }
	if (!env_finish(&env)) { set_outcome(o, EX_TEMP, "4.3.0", "out of memory"); return; }
	if (qprog_path(qpath, sizeof qpath, 1) < 0) {
		set_outcome(o, EX_TEMP, "4.3.5", "queue program path too long");
		return;
	}
	const char *q = qpath;
	char *argv[] = { (char *)q, 0 };
	struct child_io io;
	memset(&io, 0, sizeof io);
	io.prefix = c->dt;
	io.plen = strlen(c->dt);
	io.extra = env.s;
	io.elen = env.len;
	io.timeout = c->timeout;
	int code = run_child(argv, environ, &io);
	stralloc_free(&env);
	if (code < 0) set_outcome(o, EX_TEMP, "4.3.0", "forwarding failed: starting %.300s: %s", q, strerror(errno));
	else if (io.readerr) set_outcome(o, EX_TEMP, "4.3.0", "forwarding failed: reading the message: %s", strerror(EIO));
	else if (io.timedout) set_outcome(o, EX_TEMP, "4.3.0", "forwarding failed: queue program timed out after %lu s", c->timeout);
	else if (code == 0) set_outcome(o, EX_DONE, "2.0.0", "ok");
	else set_outcome(o, code < 40 ? EX_PERM : EX_TEMP, code < 40 ? "5.3.0" : "4.3.0",
			 "forwarding failed: queue program exited %d%s%.300s", code, *io.reason ? ": " : "", io.reason);
	struct qlog l;
	qlog_head(&l, o->code == EX_DONE ? "delivered" : o->code == EX_PERM ? "failed" : "deferred");
	qlog_kv(&l, "kind", "forward");
	qlog_kvu(&l, "targets", (unsigned long long)c->nfwd);
	for (size_t i = 0, k = 0; i < c->fwd.len && k < 5; i += strlen(c->fwd.s + i) + 1, k++)
		qlog_kv(&l, "to", c->fwd.s + i);
	if (o->code != EX_DONE) { qlog_kv(&l, "status", o->status); qlog_kv(&l, "text", o->text); }
	qlog_emit(&l);
	if (o->code == EX_DONE) {
		char n[32];
		snprintf(n, sizeof n, "%zu", c->nfwd);
		summary_add(c, "forward to", n);
	}
}

/* A forward target; a bare name gets the recipient's domain. */
static int add_forward(struct ctx *c, const char *a, size_t n)
{
	while (n && (*a == ' ' || *a == '\t')) { a++; n--; }
	while (n && (a[n - 1] == ' ' || a[n - 1] == '\t')) n--;
	if (n == 0) return 0;
	if (*a == '&') return add_forward(c, a + 1, n - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f) return -1;
	int bare = addr_at(a, n) == n;
	size_t total = n + (bare ? 1 + strlen(c->ri->domain) : 0);
	if (total > ADDRMAX) return -1;
	if (!stralloc_catb(&c->fwd, a, n)) return -2;
	if (bare && (!stralloc_cats(&c->fwd, "@") || !stralloc_cats(&c->fwd, c->ri->domain))) return -2;
	if (!stralloc_0(&c->fwd)) return -2;
	c->nfwd++;
	return 0;
}

/* The instruction file of a user directory (the cwd): .tern-EXT, .tern, or the default.
 * Its text goes into buf; *name names it for messages. */
static size_t read_instructions(const struct target *t, char *buf, size_t size, const char **name)
{
	static char fname[ADDRMAX + 16];
	int fd = -1;
	if (t->ext && *t->ext && addr_pathsafe(t->ext, strlen(t->ext))) {
		snprintf(fname, sizeof fname, ".tern-%s", t->ext);
		fd = open(fname, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 && errno != ENOENT) finish_sys(EX_TEMP, "4.3.0", fname);
	}
	if (fd < 0) {
		snprintf(fname, sizeof fname, ".tern");
		fd = open(fname, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 && errno != ENOENT) finish_sys(EX_TEMP, "4.3.0", fname);
	}
	if (fd < 0) {
		*name = "control/defaultdelivery";
		int r = control_readline(buf, size, "defaultdelivery", "./Maildir/");
		if (r < 0) finish_sys(EX_TEMP, "4.3.5", "control/defaultdelivery unreadable");
		if (!*buf) snprintf(buf, size, "./Maildir/");
		return strlen(buf);
	}
	*name = fname;
	struct stat st;
	if (fstat(fd, &st) != 0) finish_sys(EX_TEMP, "4.3.0", fname);
	/* Whoever may write it may run programs as this user. */
	if (st.st_mode & 022) finish(EX_TEMP, "4.7.0", "%s is writable by group or others", fname);
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, size - n);
		if (r < 0) { if (errno == EINTR) continue; finish_sys(EX_TEMP, "4.3.0", fname); }
		if (r == 0) break;
		n += (size_t)r;
		if (n == size) break;
	}
	close(fd);
	return n;
}

/* Creates the directory path (and missing parents) with mode 0700.  It is there
 * nearly always: one mkdir says so, and only ENOENT walks the parents. */
static int mkdirs(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
	if (errno != ENOENT) return -1;
	char p[PATHMAX];
	size_t n = strlen(path);
	if (n >= sizeof p) { errno = ENAMETOOLONG; return -1; }
	memcpy(p, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != 0) continue;
		char c = p[i];
		p[i] = 0;
		if (mkdir(p, 0700) != 0 && errno != EEXIST) return -1;
		p[i] = c;
	}
	return 0;
}

static void run_instructions(struct ctx *c, const char *text, size_t len, const char *fname)
{
	struct dotern_iter it;
	struct dotern_line l;
	const char *err;
	size_t ninstr, lineno;
	char arg[DOTERN_MAXLINE + 1];
	int code = EX_DONE;
	if (dotern_check(text, len, &ninstr, &lineno, &err) < 0)
		finish(EX_TEMP, "4.3.5", "%s line %zu: %s", fname, lineno, err);
	if (ninstr == 0) finish(EX_TEMP, "4.3.5", "%s holds no delivery instruction", fname);
	dotern_init(&it, text, len);
	while (dotern_next(&it, &l, &err) == 1) {
		struct outcome o;
		set_outcome(&o, EX_DONE, "2.0.0", "ok");
		memcpy(arg, l.arg, l.len);
		arg[l.len] = 0;
		switch (l.kind) {
		case DT_MAILDIR: do_maildir(c, arg, l.index, &o); break;
		case DT_MBOX: do_mbox(c, arg, &o); break;
		case DT_PROGRAM: do_program(c, arg, &o); break;
		case DT_FORWARD: {
			int r = add_forward(c, arg, l.len);
			if (r == -1) set_outcome(&o, EX_TEMP, "4.3.5", "%s line %zu: bad forward address", fname, l.lineno);
			if (r == -2) set_outcome(&o, EX_TEMP, "4.3.0", "out of memory");
			break;
		}
		}
		if (o.code == EX_PERM || o.code == EX_TEMP) {
			if (l.kind != DT_PROGRAM) log_instr(o.code == EX_PERM ? "failed" : "deferred",
							    dotern_kindname(l.kind), l.kind == DT_FORWARD ? 0 : arg, 0, &o);
			finish(o.code, o.status, "%s", o.text);
		}
		if (o.code == EX_STOP) { code = EX_STOP; break; }
	}
	if (c->nfwd) {
		struct outcome o;
		do_forward(c, &o);
		if (o.code != EX_DONE) finish(o.code, o.status, "%s", o.text);
	}
	if (c->ndone == 0) finish(code, "2.0.0", "delivered: nothing to do");
	finish(code, "2.0.0", "delivered to %s", c->summary);
}

static void ctx_init(struct ctx *c, const struct rcptinfo *ri, const struct target *t)
{
	memset(c, 0, sizeof *c);
	c->ri = ri;
	c->t = t;
	snprintf(c->rp, sizeof c->rp, "Return-Path: <%s>\n", sender);
	snprintf(c->dt, sizeof c->dt, "Delivered-To: %s\n", rcpt);
	c->plen = (size_t)snprintf(c->prefix, sizeof c->prefix, "%s%s", c->rp, c->dt);
	char host[256];
	snprintf(host, sizeof host, "%s", tern_me());
	if (gethostname(host, sizeof host - 1) != 0 || !*host) snprintf(host, sizeof host, "%s", tern_me());
	host[sizeof host - 1] = 0;
	if (maildir_host(c->host, sizeof c->host, host) < 0) snprintf(c->host, sizeof c->host, "localhost");
	if (control_readulong(&c->timeout, "timeoutprogram", 3600) < 0)
		finish_sys(EX_TEMP, "4.3.5", "control/timeoutprogram unreadable");
}

/* fds 0, 1, 2 must exist, or files opened later would take their place. */
static void fix_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0) {
			int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
			if (n != fd) _exit(EX_TEMP);
		}
}

static void deliver(const struct rcptinfo *ri, struct target *t)
{
	static char text[DOTERN_MAXFILE + 1];
	struct ctx c;
	ctx_init(&c, ri, t);
	if (t->kind == T_ALIAS) {
		for (size_t i = 0; i < t->targets.len; i += strlen(t->targets.s + i) + 1) {
			int r = add_forward(&c, t->targets.s + i, strlen(t->targets.s + i));
			if (r == -1) finish(EX_TEMP, "4.3.5", "%s: bad alias target: %s", t->how, t->targets.s + i);
			if (r == -2) finish(EX_TEMP, "4.3.0", "out of memory");
		}
		if (!c.nfwd) finish(EX_TEMP, "4.3.5", "%s for %s has no targets", t->how, rcpt);
		struct outcome o;
		do_forward(&c, &o);
		if (o.code != EX_DONE) finish(o.code, o.status, "%s", o.text);
		finish(EX_DONE, "2.0.0", "forwarded (%s) to %zu address%s", t->how, c.nfwd, c.nfwd == 1 ? "" : "es");
	}
	if (t->kind == T_MAILDIR) {
		char parent[PATHMAX];
		snprintf(parent, sizeof parent, "%s/mail/postmaster", tern_home());
		if (mkdirs(parent) < 0) finish_sys(EX_TEMP, "4.3.0", parent);
		struct outcome o;
		do_maildir(&c, t->dir, 0, &o);
		if (o.code != EX_DONE) finish(o.code, o.status, "%s", o.text);
		finish(EX_DONE, "2.0.0", "delivered to %s (%s)", c.summary, t->how);
	}
	if (!t->system && mkdirs(t->dir) < 0) finish_sys(EX_TEMP, "4.3.0", t->dir);
	if (chdir(t->dir) != 0) finish_sys(EX_TEMP, "4.3.0", t->dir);
	const char *fname;
	size_t n = read_instructions(t, text, sizeof text, &fname);
	run_instructions(&c, text, n, fname);
}

static int deliver_main(int argc, char **argv)
{
	/* Static: t points into ri, and both stay for a kept child's next job (zrun). */
	static struct rcptinfo ri;
	static struct target t;
	const char *q = getenv("TERN_QID");
	qid = q && qid_valid(q) ? q : "";
	if (argc != 3) finish(EX_TEMP, "4.3.5", "usage: tern-local SENDER RECIPIENT");
	sig_ignore(SIGPIPE);
	/* RLIMIT_FSIZE: get EFBIG and a clean 111, not death with a file left in tmp/. */
	sig_ignore(SIGXFSZ);
	parse_rcpt(argv[2], &ri);
	sender = argv[1];
	if (strlen(sender) > ADDRMAX || has_ctl(sender)) finish(EX_PERM, "5.1.7", "bad sender address");
	dtag = getenv("TERN_DTAG");
	if (dtag && !maildir_tag_ok(dtag)) {
		tern_warn("TERN_DTAG unusable in a file name; delivering without it");
		dtag = 0;
	}
	if (!resolved) resolve(&ri, &t);
	{
		struct qlog l;
		qlog_head(&l, "resolved");
		qlog_kv(&l, "how", t.how);
		if (t.ext) qlog_kv(&l, "ext", t.ext);
		qlog_emit(&l);
	}
	msg_open(&M);
	scan_header(&M);
	if (!resolved) drop_privileges(&t);
	resolved = 1;
	deliver(&ri, &t);
	return EX_TEMP;	/* not reached: deliver() finishes */
}

/* ---- fork server (tern-local -z; zfork.h) ----
 * tern-send starts one and hands it each local delivery: the fields are sender,
 * recipient and the values of TERN_QID, TERN_DTAG and TERN_MSGSIZE; the descriptors the
 * message and the result pipe.  A forked child becomes that delivery, exactly as an
 * exec'd tern-local would be, and drops its own privileges.  Once it has (the recipient
 * resolved, running as its user) it may take more deliveries to the same recipient: the
 * server keeps it for them (key: field 1).  Those skip the lookup and the privilege drop,
 * which are the same for the same recipient; everything else is done afresh, and
 * finish() ends each one here instead of the process. */
static int zrun(char **f, int *again)
{
	if (setenv("TERN_QID", f[2], 1) || setenv("TERN_DTAG", f[3], 1) || setenv("TERN_MSGSIZE", f[4], 1))
		finish(EX_TEMP, "4.3.0", "out of memory");
	char *argv[] = { "tern-local", f[0], f[1], 0 };
	jmp_buf jb;
	int r = setjmp(jb);
	if (r == 0) {
		back = &jb;
		deliver_main(3, argv);
		r = EX_TEMP + 1;	/* not reached: deliver_main finishes */
	}
	back = 0;
	/* What the next job must not find: the users database's descriptor and the signal
	 * pipe of a program delivery (the server closes all descriptors next). */
	users_close();
	sig_forget(SIGCHLD);
	*again = resolved;
	return r - 1;
}

int main(int argc, char **argv)
{
	tern_prog = "tern-local";
	fix_fds();
	/* pdeath: a delivery dies with the server, so that tern-send's "lost" is true. */
	if (argc == 2 && strcmp(argv[1], "-z") == 0) zfork_serve(5, 1, zrun, 1);
	return deliver_main(argc, argv);
}
