/* tern-pop3d: the POP3 server's part before login (RFC 1939, 2449, 2595, 5034), on fd 0/1
 * under tcpserver, optionally behind tern-tlsd (STLS, or -i for port 995).  It reads the
 * credentials (USER/PASS, AUTH PLAIN) and runs `tern-checkpassword tern-pop3d-box` on the
 * connection; tern-pop3d-box serves the mailbox as its owner.  The contract, the split of
 * privileges and the hand-over are in doc/tern-pop3d.8.
 *   tern-pop3d [-u UID:GID]
 * Exit: 0 (every session end), 64 usage, 111 temporary trouble before the greeting. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "checkpw.h"
#include "control.h"
#include "die.h"
#include "fdio.h"
#include "home.h"
#include "pop3.h"
#include "prot.h"
#include "qlog.h"
#include "sasl.h"
#include "spawn.h"
#include "tlsserv.h"

#define MAXBAD 10		/* bad commands before the session is closed */
#define MAXAUTHFAIL 3		/* failed logins before it is closed */
#define STATUSFD 4		/* where tern-pop3d-box reports to us (TERN_POP3_STATUS) */

/* What a login attempt gave. */
enum { L_OK, L_AUTH, L_TEMP, L_PERM, L_INUSE };

extern char **environ;

static unsigned long timeout, cleartext;
static char remoteip[64] = "unknown", sid[40];
static int localsession;
static int tlsctl = -1, tls;
static struct tls_info tlsinfo;
static int monsock = -1;	/* to the privileged half, when we were started as root */
static int badcmds, authfails;
static char user[SASL_FIELDMAX + 1];
static size_t userlen;

/* ---- output, the log ---- */

static void logev(const char *event, const char *k1, const char *v1, const char *k2, const char *v2)
{
	qlog_event(sid, event, k1, v1, k2, v2);
}

static void __attribute__((noreturn)) quit(const char *reply, const char *why);

/* One reply line; a client that does not read it within the timeout ends the session. */
static void out(const char *s)
{
	char buf[600];
	int k = snprintf(buf, sizeof buf, "%s\r\n", s);
	if (k < 0 || (size_t)k >= sizeof buf) k = snprintf(buf, sizeof buf, "-ERR internal error\r\n");
	alarm((unsigned)timeout);
	int r = fd_write_all(1, buf, (size_t)k);
	alarm(0);
	if (r != 0) quit(0, "connection lost");
}

static void __attribute__((noreturn)) quit(const char *reply, const char *why)
{
	if (reply) out(reply);
	logev("end", "why", why, 0, 0);
	_exit(0);
}

static void bad(const char *reply)
{
	out(reply);
	if (++badcmds >= MAXBAD) quit("-ERR too many bad commands, closing", "too many bad commands");
}

/* ---- reading: one line at a time, never a byte past its LF ----
 * What follows a line belongs to whoever serves the next one: after a login it is
 * tern-pop3d-box's, so nothing may sit in a buffer of ours.  On a socket the line is
 * peeked at and then read exactly; on a pipe (a local session) byte by byte. */

enum { RL_OK, RL_EOF, RL_TIMEOUT, RL_TOOLONG };
static int peekable = 1;

static ssize_t take(char *buf, size_t cap)
{
	if (peekable) {
		ssize_t k = recv(0, buf, cap, MSG_PEEK);
		if (k < 0 && errno == ENOTSOCK) peekable = 0;
		else {
			if (k <= 0) return k;
			char *lf = memchr(buf, '\n', (size_t)k);
			return read(0, buf, lf ? (size_t)(lf - buf) + 1 : (size_t)k);
		}
	}
	return read(0, buf, 1);
}

/* A line without its CRLF (or bare LF) into line (room for max + 1), *n bytes. */
static int getline_exact(char *line, size_t max, size_t *n)
{
	time_t deadline = time(0) + (time_t)timeout;
	size_t k = 0;
	int over = 0;
	for (;;) {
		time_t now = time(0);
		struct pollfd p = { 0, POLLIN, 0 };
		if (now >= deadline) return RL_TIMEOUT;
		int r = poll(&p, 1, (int)(deadline - now) * 1000);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) return RL_EOF;
		if (r == 0) return RL_TIMEOUT;
		char tmp[4096];
		ssize_t got = take(tmp, sizeof tmp);
		if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
		if (got <= 0) return RL_EOF;
		int end = tmp[got - 1] == '\n';	/* take() stops at the first LF */
		for (ssize_t i = 0; i < got; i++) {
			if (k < max) line[k++] = tmp[i];
			else over = 1;
		}
		explicit_bzero(tmp, (size_t)got);
		if (end) break;
	}
	if (!over) k--;
	if (k && line[k - 1] == '\r') k--;
	line[k] = 0;
	*n = k;
	return over ? RL_TOOLONG : RL_OK;
}

/* ---- configuration and the client ---- */

static void readconf(void)
{
	if (control_readulong(&timeout, "timeoutpop3d", 600) < 0 ||
	    control_readulong(&cleartext, "pop3cleartext", 0) < 0)
		tern_die_sys(111, "reading control files");
	if (timeout == 0) timeout = 1;
	if (timeout > 86400) timeout = 86400;
}

static void peer(void)
{
	const char *ip = getenv("TCPREMOTEIP");
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int inet = getsockname(0, (struct sockaddr *)&ss, &len) == 0 &&
		   (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	if (ip && *ip) snprintf(remoteip, sizeof remoteip, "%s", ip);
	else if (inet && (len = sizeof ss, getpeername(0, (struct sockaddr *)&ss, &len) == 0)) {
		void *a = ss.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
						  : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
		if (!inet_ntop(ss.ss_family, a, remoteip, sizeof remoteip)) snprintf(remoteip, sizeof remoteip, "unknown");
	} else if (!inet && !tls && tlsctl < 0 && !ip) {
		/* fd 0 is no network socket (a pipe, a test) and no tern-tlsd is in front. */
		localsession = 1;
		snprintf(remoteip, sizeof remoteip, "local");
	}
	for (char *p = remoteip; *p; p++)
		if (*p <= ' ' || *p > '~') *p = '?';
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(sid, sizeof sid, "%llx.%lx.%lx", (unsigned long long)ts.tv_sec,
		 (unsigned long)(ts.tv_nsec / 1000), (unsigned long)getpid());
}

/* Logins are taken inside TLS, on a pipe, or where control/pop3cleartext allows them. */
static int login_allowed(void) { return tls || localsession || cleartext; }

static int login_refused(void)
{
	if (login_allowed()) return 0;
	bad(tlsctl >= 0 ? "-ERR [AUTH] cleartext logins are refused here: use STLS first"
			: "-ERR [AUTH] cleartext logins are refused here: use the TLS port (995)");
	return 1;
}

/* ---- the login: tern-checkpassword tern-pop3d-box on the connection ---- */

/* fd moved to 10 or above, close-on-exec, so that the child's dup2s cannot clash. */
static int highfd(int fd)
{
	if (fd < 0) return -1;
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	close(fd);
	return h;
}

static pid_t spawn_box(int cfd, int cred, int status)
{
	static char cp[4096], box[4096];
	if (tern_binpath(cp, sizeof cp, "tern-checkpassword") != 0 ||
	    tern_binpath(box, sizeof box, "tern-pop3d-box") != 0) return -1;
	char *argv[] = { "tern-checkpassword", box, 0 };
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa) != 0) return -1;
	posix_spawn_file_actions_adddup2(&fa, cfd, 0);
	posix_spawn_file_actions_adddup2(&fa, cfd, 1);
	posix_spawn_file_actions_adddup2(&fa, cred, 3);
	posix_spawn_file_actions_adddup2(&fa, status, STATUSFD);
	pid_t pid;
	int r = posix_spawn(&pid, cp, &fa, 0, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return r == 0 ? pid : -1;
}

/* tern-pop3d-box's one line on the status pipe, or "" when it wrote none. */
static void read_status(int fd, char *line, size_t max)
{
	size_t n = 0;
	while (n < max - 1) {
		ssize_t k = read(fd, line + n, max - 1 - n);
		if (k < 0 && errno == EINTR) continue;
		if (k <= 0) break;
		n += (size_t)k;
		if (memchr(line, '\n', n)) break;
	}
	line[n] = 0;
	line[strcspn(line, "\n")] = 0;
}

/* Runs the login on the client connection cfd.  L_OK: tern-pop3d-box has the session
 * (*pid, still running) and has written to the client; any other result: nothing was
 * written to it and nothing read.  tlsdesc: the TLS description for TERN_TLS, or "". */
static int run_login(int cfd, const char *login, size_t ln, const char *pass, size_t pn,
		     const char *tlsdesc, pid_t *pid)
{
	if (ln + pn + 2 > CHECKPW_MAX || !ln || !pn) return L_AUTH;	/* could never be right */
	int cred[2], st[2];
	if (pipe2(cred, O_CLOEXEC) != 0) return L_TEMP;
	if (pipe2(st, O_CLOEXEC) != 0) { close(cred[0]); close(cred[1]); return L_TEMP; }
	cred[0] = highfd(cred[0]);
	st[1] = highfd(st[1]);
	char fdn[8];
	snprintf(fdn, sizeof fdn, "%d", STATUSFD);
	int envok = setenv("TERN_POP3_STATUS", fdn, 1) == 0 && setenv("TERN_SID", sid, 1) == 0 &&
		    (*tlsdesc ? setenv("TERN_TLS", tlsdesc, 1) : unsetenv("TERN_TLS")) == 0;
	*pid = envok && cred[0] >= 0 && st[1] >= 0 ? spawn_box(cfd, cred[0], st[1]) : -1;
	close(cred[0]);
	close(st[1]);
	int w = *pid > 0 && fd_write_all(cred[1], login, ln) == 0 && fd_write_all(cred[1], "", 1) == 0 &&
		fd_write_all(cred[1], pass, pn) == 0 && fd_write_all(cred[1], "", 1) == 0;
	if (*pid <= 0) tern_warn_sys("cannot run tern-checkpassword");
	else if (!w) tern_warn_sys("writing to tern-checkpassword");
	close(cred[1]);
	char line[64];
	read_status(st[0], line, sizeof line);
	close(st[0]);
	if (*pid <= 0) return L_TEMP;
	if (!strcmp(line, "ok")) return L_OK;
	int rc = tern_wait(*pid);
	if (!w || !strcmp(line, "temp")) return L_TEMP;
	if (!*line && rc != 1 && rc != 2 && rc != 111) tern_warn("tern-checkpassword or tern-pop3d-box failed without a word");
	if (!strcmp(line, "in-use")) return L_INUSE;
	if (!strcmp(line, "perm")) return L_PERM;
	return rc == 1 ? L_AUTH : rc == 2 ? L_PERM : L_TEMP;
}

/* ---- the privileged half (started as root): it only runs logins ----
 * The network half sends "login\0password\0tlsdesc\0" with the client connection
 * (SCM_RIGHTS) and gets one byte back: the L_ result. */

static int send_request(const char *buf, size_t n, int fd)
{
	return fd_send_fd(monsock, buf, n, fd);
}

/* One request: its length (the fields in f[]), 0 when the network half is gone, -1 when
 * the request is malformed. */
static ssize_t get_request(int sock, char *buf, size_t size, int *fd, const char *f[3], size_t fl[3])
{
	struct iovec iov = { buf, size };
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cm;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b };
	ssize_t n;
	do n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
	*fd = -1;
	struct cmsghdr *ch = n > 0 ? CMSG_FIRSTHDR(&mh) : 0;
	if (ch && ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS && ch->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(ch), sizeof *fd);
	if (n <= 0) return n < 0 ? -1 : 0;
	if (*fd < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) return -1;
	const char *p = buf, *e = buf + n;
	for (int i = 0; i < 3; i++) {
		const char *z = memchr(p, 0, (size_t)(e - p));
		if (!z) return -1;
		f[i] = p;
		fl[i] = (size_t)(z - p);
		p = z + 1;
	}
	return p == e ? n : -1;
}

static void __attribute__((noreturn)) monitor(int sock, pid_t net)
{
	static char buf[3 * SASL_FIELDMAX + TLSCTL_LINEMAX];
	int fails = 0;
	for (;;) {
		int fd;
		const char *f[3];
		size_t fl[3];
		ssize_t n = get_request(sock, buf, sizeof buf, &fd, f, fl);
		if (n == 0) break;
		struct tls_info ti;
		/* Only a real description reaches the box's environment. */
		const char *desc = n > 0 && fl[2] && tlsctl_parse(f[2], fl[2], &ti) == 0 ? f[2] : "";
		pid_t box = -1;
		unsigned char r = n < 0 || fails >= MAXAUTHFAIL ? L_AUTH : (unsigned char)run_login(fd, f[0], fl[0], f[1], fl[1], desc, &box);
		explicit_bzero(buf, sizeof buf);
		if (fd >= 0) close(fd);
		if (r == L_AUTH) fails++;
		if (send(sock, &r, 1, MSG_NOSIGNAL) != 1 && r != L_OK) break;
		if (r == L_OK) {
			close(sock);
			tern_wait(net);
			_exit(tern_wait(box) == 0 ? 0 : 111);
		}
	}
	tern_wait(net);
	_exit(0);
}

/* Started as root: the privileged half stays root and does nothing but logins; this
 * process, the network half, goes on as uid:gid. */
static void split(uid_t uid, gid_t gid)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) tern_die_sys(111, "socketpair");
	pid_t net = fork();
	if (net < 0) tern_die_sys(111, "fork");
	if (net > 0) {
		/* The connection is the network half's: it sends it along with each login. */
		close(sp[1]);
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0) tern_die_sys(111, "/dev/null");
		if (null > 1) close(null);
		if (tlsctl >= 0) close(tlsctl);
		monitor(sp[0], net);
	}
	close(sp[0]);
	monsock = sp[1];
	if (prot_drop(uid, gid) != 0) tern_die_sys(111, "dropping privileges");
}

/* The connection and the session go to tern-pop3d-box: we are done with both. */
static void __attribute__((noreturn)) handed_over(pid_t box)
{
	if (monsock >= 0) _exit(0);
	close(0);
	close(1);
	_exit(tern_wait(box) == 0 ? 0 : 111);
}

/* L_OK: the session is tern-pop3d-box's (*box, or -1 when the privileged half has it). */
static int try_login(const char *login, size_t ln, const char *pass, size_t pn, pid_t *box)
{
	char desc[TLSCTL_LINEMAX] = "";
	if (tls && !tlsctl_format(desc, sizeof desc, &tlsinfo)) desc[0] = 0;
	*box = -1;
	if (monsock < 0) return run_login(0, login, ln, pass, pn, desc, box);
	static char req[3 * SASL_FIELDMAX + TLSCTL_LINEMAX];
	size_t dl = strlen(desc), n = ln + pn + dl + 3;
	if (ln > SASL_FIELDMAX || pn > SASL_FIELDMAX) return L_AUTH;
	memcpy(req, login, ln);
	req[ln] = 0;
	memcpy(req + ln + 1, pass, pn);
	req[ln + pn + 1] = 0;
	memcpy(req + ln + pn + 2, desc, dl + 1);
	int s = send_request(req, n, 0);
	explicit_bzero(req, n);
	unsigned char r;
	ssize_t k;
	do k = recv(monsock, &r, 1, 0); while (k < 0 && errno == EINTR);
	if (s != 0 || k != 1) { tern_warn_sys("no answer from the privileged half"); return L_TEMP; }
	return r;
}

static void login(const char *mech, const char *login, size_t ln, const char *pass, size_t pn)
{
	pid_t box;
	int r = try_login(login, ln, pass, pn, &box);
	static const char *const res[] = { "ok", "fail", "temp", "perm", "in-use" };
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "sid", sid);
	qlog_kv(&l, "event", "login");
	qlog_kv(&l, "mech", mech);
	qlog_kvb(&l, "user", login, ln < 128 ? ln : 128);
	qlog_kv(&l, "result", r >= 0 && r <= L_INUSE ? res[r] : "?");
	qlog_emit(&l);
	if (r == L_OK) handed_over(box);
	if (r == L_AUTH) {
		if (++authfails >= MAXAUTHFAIL) quit("-ERR [AUTH] authentication failed, closing", "too many failed logins");
		out("-ERR [AUTH] authentication failed");
	} else if (r == L_INUSE) out("-ERR [IN-USE] the mailbox is in use by another session");
	else if (r == L_PERM) out("-ERR [SYS/PERM] the mailbox cannot be served; ask the postmaster");
	else out("-ERR [SYS/TEMP] temporary trouble, try again later");
}

/* ---- commands ---- */

static void cmd_capa(void)
{
	out("+OK capability list follows");
	out("TOP");
	out("UIDL");
	out("RESP-CODES");
	out("AUTH-RESP-CODE");
	out("PIPELINING");
	if (login_allowed()) { out("USER"); out("SASL PLAIN"); }
	if (tlsctl >= 0 && !tls) out("STLS");
	out("IMPLEMENTATION tern");
	out(".");
}

static void cmd_stls(const struct pop3_req *r)
{
	if (r->nargs) { bad("-ERR syntax: STLS takes no argument"); return; }
	if (tls) { bad("-ERR TLS already active"); return; }
	if (tlsctl < 0) { bad("-ERR STLS not available"); return; }
	out("+OK begin TLS negotiation");
	const char *why;
	if (tlsserv_start(&tlsctl, (unsigned)timeout + 60, &tlsinfo, &why) != 0) {
		logev("tls-fail", "why", why, 0, 0);
		_exit(0);
	}
	/* Nothing of the client's is buffered here (getline_exact), and all we knew of the
	 * session is forgotten (RFC 2595 section 4). */
	tls = 1;
	userlen = 0;
	logev("starttls", "tls", tlsinfo.proto, "cipher", tlsinfo.cipher);
}

static void cmd_user(const struct pop3_req *r)
{
	if (login_refused()) return;
	if (r->nargs != 1 || r->toomany) { bad("-ERR syntax: USER name"); return; }
	if (r->alen[0] > SASL_FIELDMAX) { bad("-ERR name too long"); return; }
	memcpy(user, r->arg[0], r->alen[0]);
	user[r->alen[0]] = 0;
	userlen = r->alen[0];
	out("+OK send PASS");
}

static void cmd_pass(const struct pop3_req *r)
{
	if (login_refused()) return;
	if (!userlen) { bad("-ERR USER first"); return; }
	size_t ul = userlen;
	userlen = 0;
	/* The whole rest of the line: a password may hold spaces (RFC 1939 section 7). */
	login("USER", user, ul, r->rest, r->restlen);
}

/* The client's response to "+ ", decoded into buf: its length, or -1 (answered). */
static long auth_response(unsigned char *buf, size_t bufn)
{
	static char line[SASL_LINEMAX + 1];
	size_t n;
	out("+ ");
	int r = getline_exact(line, SASL_LINEMAX, &n);
	if (r == RL_EOF) quit(0, "client closed in AUTH");
	if (r == RL_TIMEOUT) quit("-ERR timeout, closing", "timeout in AUTH");
	if (r == RL_TOOLONG) { bad("-ERR authentication exchange line too long"); return -1; }
	if (n == 1 && line[0] == '*') { bad("-ERR authentication cancelled"); return -1; }
	long k = sasl_b64decode(line, n, buf, bufn);
	explicit_bzero(line, n);
	if (k < 0) bad("-ERR cannot decode the base64 response");
	return k;
}

static void cmd_auth(const struct pop3_req *r)
{
	if (!r->nargs) { out("+OK mechanisms follow"); out("PLAIN"); out("."); return; }
	if (strncasecmp(r->arg[0], "PLAIN", r->alen[0]) || r->alen[0] != 5) { bad("-ERR unsupported mechanism"); return; }
	if (login_refused()) return;
	if (r->toomany) { bad("-ERR syntax: AUTH mechanism [initial-response]"); return; }
	static unsigned char buf[SASL_LINEMAX];
	static struct sasl_cred c;
	long k;
	if (r->nargs == 2) {
		k = sasl_b64decode(r->arg[1], r->alen[1], buf, sizeof buf);
		if (k < 0) { bad("-ERR cannot decode the base64 response"); return; }
	} else if ((k = auth_response(buf, sizeof buf)) < 0) return;
	int bad_plain = sasl_plain(buf, (size_t)k, &c);
	explicit_bzero(buf, (size_t)k);
	if (bad_plain) { sasl_wipe(&c); bad("-ERR malformed PLAIN response"); return; }
	if (c.zlen && (c.zlen != c.clen || strcasecmp(c.authzid, c.authcid))) {
		sasl_wipe(&c);
		if (++authfails >= MAXAUTHFAIL) quit("-ERR [AUTH] authorization identity refused, closing", "too many failed logins");
		out("-ERR [AUTH] authorization identity refused");
		return;
	}
	login("PLAIN", c.authcid, c.clen, c.pass, c.plen);
	sasl_wipe(&c);
}

static void command(char *line, size_t n)
{
	struct pop3_req r;
	if (pop3_parse(line, n, &r) != 0) { bad("-ERR syntax error"); return; }
	switch (r.cmd) {
	case P3_CAPA: cmd_capa(); break;
	case P3_QUIT: quit("+OK bye", "quit");
	case P3_STLS: cmd_stls(&r); break;
	case P3_USER: cmd_user(&r); break;
	case P3_PASS: cmd_pass(&r); break;
	case P3_AUTH: cmd_auth(&r); break;
	case P3_APOP: bad("-ERR APOP not supported: use USER/PASS or AUTH PLAIN inside TLS"); break;
	case P3_UNKNOWN: bad("-ERR unknown command"); break;
	default: bad("-ERR not logged in yet: command not valid in this state"); break;
	}
}

int main(int argc, char **argv)
{
	tern_prog = "tern-pop3d";
	uid_t uid = 65534;
	gid_t gid = 65534;
	int opt;
	while ((opt = getopt(argc, argv, "u:")) != -1) {
		if (opt != 'u' || prot_scan(optarg, &uid, &gid) != 0) tern_die(64, "usage: tern-pop3d [-u UID:GID]");
	}
	if (optind != argc) tern_die(64, "usage: tern-pop3d [-u UID:GID]");
	signal(SIGPIPE, SIG_IGN);
	readconf();
	tls = tlsserv_setup(&tlsctl, &tlsinfo);
	peer();
	if (geteuid() == 0) split(uid, gid);
	logev("start", "ip", remoteip, tls ? "tls" : 0, tls ? tlsinfo.proto : 0);
	out("+OK tern POP3 server ready");
	static char line[SASL_LINEMAX + 1];
	for (;;) {
		size_t n;
		int r = getline_exact(line, SASL_LINEMAX, &n);
		/* AUTH lines may be longer (RFC 5034 section 4); every other command is held to 255. */
		if (r == RL_OK && n > POP3_LINEMAX - 2 && strncasecmp(line, "AUTH ", 5) != 0) r = RL_TOOLONG;
		if (r == RL_EOF) quit(0, "client closed");
		if (r == RL_TIMEOUT) quit("-ERR idle timeout, closing", "timeout");
		if (r == RL_TOOLONG) bad("-ERR line too long");
		else command(line, n);
		explicit_bzero(line, n);
	}
}
