/* tern-run: a complete self-contained tern instance in the foreground (`make run`).
 *   tern-run [-i] [-d DIR]
 * Creates DIR (default ./var) as a home if needed, starts tern-send (and the listeners
 * that exist) with TERN_HOME=DIR, logs to stderr, stops everything on SIGINT/SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "die.h"
#include "home.h"
#include "sig.h"
#include "spawn.h"

#define EX_USAGE 64
#define EX_CANTCREAT 73
#define MAXCHILD 8

static char home[4096];

static void mkdir_p(const char *rel, mode_t mode)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", home, rel);
	if (mkdir(path, mode) != 0 && errno != EEXIST) tern_die_sys(EX_CANTCREAT, "mkdir ", path);
}

/* Writes control/NAME only when it does not exist yet: an admin's edit is never undone. */
static void control_default(const char *name, const char *value)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/control/%s", home, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST) return;
		tern_die_sys(EX_CANTCREAT, "creating ", path);
	}
	size_t n = strlen(value);
	if (write(fd, value, n) != (ssize_t)n || close(fd) != 0) tern_die_sys(EX_CANTCREAT, "writing ", path);
}

static int run_wait(char *const argv[])
{
	char path[4096];
	if (tern_binpath(path, sizeof path, argv[0]) < 0) return -1;
	pid_t pid = tern_spawn(path, argv, 0, 0);
	if (pid < 0) return -1;
	return tern_wait(pid);
}

static void users_default(void)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/users/users", home);
	if (access(path, F_OK) == 0) return;
	static char *cmds[][5] = {
		{ "tern-users", "add-domain", "example.test", 0 },
		{ "tern-users", "add", "demo@example.test", 0 },
		{ "tern-users", "alias", "root@localhost", "demo@example.test", 0 },
		{ "tern-users", "alias", "postmaster@localhost", "demo@example.test", 0 },
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (run_wait(cmds[i]) != 0) tern_die(EX_CANTCREAT, "tern-users ", cmds[i][1], " failed");
}

static void init_home(void)
{
	if (mkdir(home, 0755) != 0 && errno != EEXIST) tern_die_sys(EX_CANTCREAT, "mkdir ", home);
	mkdir_p("control", 0755);
	mkdir_p("queue", 0750);
	mkdir_p("queue/tmp", 0700);
	mkdir_p("queue/mess", 0700);
	mkdir_p("queue/info", 0700);
	mkdir_p("users", 0755);
	mkdir_p("mail", 0755);
	mkdir_p("log", 0755);
	char fifo[4200];
	snprintf(fifo, sizeof fifo, "%s/queue/trigger", home);
	if (mkfifo(fifo, 0622) != 0 && errno != EEXIST) tern_die_sys(EX_CANTCREAT, "mkfifo ", fifo);
	control_default("me", "localhost\n");
	control_default("locals", "localhost\nexample.test\n");
	control_default("systemaccounts", "0\n");
	control_default("doublebounceto", "postmaster@localhost\n");
	/* Started by root, every program of this instance runs as root, the demo
	 * mailbox included: let tern-checkpassword serve it (never set by make install). */
	if (geteuid() == 0) control_default("rootmailboxes", "1\n");
	users_default();
}

/* A program found in PATH (tcpserver, openssl), absolute, into out; -1 if none. */
static int inpath(char *out, size_t n, const char *name);

/* A self-signed certificate for localhost in control/tls/, made once with Debian's openssl
 * command.  1 when a certificate and key are there. */
static int tls_default(void)
{
	char pem[4200], key[4200], openssl[4096];
	mkdir_p("control/tls", 0755);
	snprintf(pem, sizeof pem, "%s/control/tls/localhost.pem", home);
	snprintf(key, sizeof key, "%s/control/tls/localhost.key", home);
	if (access(pem, R_OK) == 0 && access(key, R_OK) == 0) return 1;
	if (inpath(openssl, sizeof openssl, "openssl") < 0) {
		tern_warn("openssl not found: no certificate, so no TLS listeners");
		return 0;
	}
	char *argv[] = { openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
			 "-nodes", "-keyout", key, "-out", pem, "-days", "3650", "-subj", "/CN=localhost",
			 "-addext", "subjectAltName=DNS:localhost", 0 };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int fds[3] = { null, null, null };
	mode_t old = umask(077);	/* the key is born private */
	pid_t pid = tern_spawn(openssl, argv, 0, fds);
	int rc = pid < 0 ? -1 : tern_wait(pid);
	umask(old);
	if (null >= 0) close(null);
	if (rc != 0 || chmod(key, 0600) != 0 || chmod(pem, 0644) != 0) {
		tern_warn("openssl could not make a certificate: no TLS listeners");
		unlink(key);
		unlink(pem);
		return 0;
	}
	return 1;
}

/* demo@example.test's password: made once and kept in DIR/demo-password (mode 0600) so
 * that every start can print it.  A demo convenience: a real home has no such file. */
static int demo_password(char *out, size_t n)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/demo-password", home);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, out, n - 1);
		close(fd);
		if (r > 0) {
			out[r] = 0;
			out[strcspn(out, "\n")] = 0;
			if (*out) return 0;
		}
	}
	static const char abc[] = "abcdefghjkmnpqrstuvwxyz23456789";
	unsigned char rnd[16];
	if (n < sizeof rnd + 1 || getentropy(rnd, sizeof rnd) != 0) return -1;
	for (size_t i = 0; i < sizeof rnd; i++) out[i] = abc[rnd[i] % (sizeof abc - 1)];
	out[sizeof rnd] = 0;
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) return -1;
	char bin[4096];
	char *argv[] = { "tern-users", "passwd", "demo@example.test", 0 };
	int fds[3] = { p[0], -1, -1 };
	pid_t pid = tern_binpath(bin, sizeof bin, "tern-users") == 0 ? tern_spawn(bin, argv, 0, fds) : -1;
	close(p[0]);
	int ok = pid > 0 && write(p[1], out, strlen(out)) == (ssize_t)strlen(out) && write(p[1], "\n", 1) == 1;
	close(p[1]);
	if (pid < 0 || tern_wait(pid) != 0 || !ok) return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) return -1;
	ok = write(fd, out, strlen(out)) == (ssize_t)strlen(out) && write(fd, "\n", 1) == 1;
	if (close(fd) != 0 || !ok) return -1;
	return 0;
}

static pid_t children[MAXCHILD];	/* 0: waiting to restart, -1: given up */
static char **childargv[MAXCHILD];
static time_t started[MAXCHILD], restart_at[MAXCHILD];
static unsigned quickfails[MAXCHILD];
static size_t nchild;

static pid_t start(char **argv)
{
	char path[4096];
	if (argv[0][0] == '/') snprintf(path, sizeof path, "%s", argv[0]);
	else if (tern_binpath(path, sizeof path, argv[0]) < 0) return -1;
	pid_t pid = tern_spawn(path, argv, 0, 0);
	if (pid < 0) tern_warn_sys("starting ", argv[0]);
	return pid;
}

/* A program found in PATH (tcpserver), absolute, into out; -1 if none. */
static int inpath(char *out, size_t n, const char *name)
{
	const char *p = getenv("PATH");
	if (!p || !*p) p = "/usr/local/bin:/usr/bin:/bin";
	while (*p) {
		size_t k = strcspn(p, ":");
		int r = snprintf(out, n, "%.*s/%s", (int)k, p, name);
		if (r > 0 && (size_t)r < n && k && access(out, X_OK) == 0) return 0;
		p += k;
		if (*p) p++;
	}
	return -1;
}

static void add_child(char **argv)
{
	if (nchild == MAXCHILD) return;
	childargv[nchild] = argv;
	children[nchild] = start(argv);
	started[nchild] = time(0);
	nchild++;
}

/* What a listener is, for messages: "tcpserver 127.0.0.1:2525", else the program. */
static const char *childname(size_t i, char *buf, size_t n)
{
	char **a = childargv[i];
	for (size_t k = 0; a[k] && a[k + 1]; k++)
		if (!strcmp(a[k], "127.0.0.1")) { snprintf(buf, n, "tcpserver 127.0.0.1:%s", a[k + 1]); return buf; }
	return a[0];
}

/* A child that ended: restarted after a second, unless it keeps dying at once (a port
 * taken, a broken binary), which five quick deaths in a row say. */
static void child_ended(size_t i, int st)
{
	char name[64], how[32];
	if (WIFEXITED(st)) snprintf(how, sizeof how, "exit %d", WEXITSTATUS(st));
	else snprintf(how, sizeof how, "signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	time_t now = time(0);
	quickfails[i] = now - started[i] < 2 ? quickfails[i] + 1 : 0;
	if (quickfails[i] >= 5) {
		fprintf(stderr, "tern-run: %s keeps ending at once (%s); not restarting it\n", childname(i, name, sizeof name), how);
		children[i] = -1;
		return;
	}
	fprintf(stderr, "tern-run: %s ended (%s); restarting it in a second\n", childname(i, name, sizeof name), how);
	children[i] = 0;
	restart_at[i] = now + 1;
}

/* 1 if 127.0.0.1:port can be listened on now. */
static int port_free(const char *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0) return 1;	/* let tcpserver say what is wrong */
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	close(fd);
	return r == 0;
}

static void stop_all(void)
{
	for (size_t i = 0; i < nchild; i++)
		if (children[i] > 0) kill(children[i], SIGTERM);
	/* Bounded: 35 s (tern-send lets running deliveries finish for up to 30 s), then SIGKILL. */
	for (int tries = 0; tries < 350; tries++) {
		size_t alive = 0;
		for (size_t i = 0; i < nchild; i++) {
			if (children[i] <= 0) continue;
			if (waitpid(children[i], 0, WNOHANG) == children[i]) children[i] = 0;
			else alive++;
		}
		if (!alive) return;
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, 0);
	}
	for (size_t i = 0; i < nchild; i++)
		if (children[i] > 0) { kill(children[i], SIGKILL); waitpid(children[i], 0, 0); }
}

int main(int argc, char **argv)
{
	tern_prog = "tern-run";
	const char *dir = "var";
	int initonly = 0, opt;
	while ((opt = getopt(argc, argv, "id:")) != -1) {
		if (opt == 'i') initonly = 1;
		else if (opt == 'd') dir = optarg;
		else tern_die(EX_USAGE, "usage: tern-run [-i] [-d DIR]");
	}
	if (optind != argc) tern_die(EX_USAGE, "usage: tern-run [-i] [-d DIR]");
	if (dir[0] == '/') snprintf(home, sizeof home, "%s", dir);
	else {
		char cwd[2048];
		if (!getcwd(cwd, sizeof cwd)) tern_die_sys(EX_CANTCREAT, "getcwd");
		snprintf(home, sizeof home, "%s/%s", cwd, dir);
	}
	if (setenv("TERN_HOME", home, 1) != 0) tern_die_sys(EX_CANTCREAT, "setenv");
	init_home();
	if (initonly) return 0;

	int sfd = sig_pipe();
	if (sfd < 0 || sig_catch(SIGINT) < 0 || sig_catch(SIGTERM) < 0 || sig_catch(SIGCHLD) < 0)
		tern_die_sys(111, "setting up signals");
	static char *send_argv[] = { "tern-send", 0 };
	/* Port 2525 behaves as a public port 25: no RELAYCLIENT, recipients checked. */
	static char tcpserver[4096], smtpd[4096], tlsd[4096], pw[64];
	static char *smtp_argv[] = { tcpserver, "-q", "-R", "-H", "-l", "localhost", "127.0.0.1", "2525", smtpd, 0 };
	/* With TLS: STARTTLS on 2525 too; 2587 submission (STARTTLS, then AUTH), 2465
	 * submission over implicit TLS.  Only tern-tlsd ever opens the key. */
	static char *smtps_argv[] = { tcpserver, "-q", "-R", "-H", "-l", "localhost", "127.0.0.1", "2525", tlsd, smtpd, 0 };
	static char *sub_argv[] = { tcpserver, "-q", "-R", "-H", "-l", "localhost", "127.0.0.1", "2587", tlsd, smtpd, "-s", 0 };
	static char *subs_argv[] = { tcpserver, "-q", "-R", "-H", "-l", "localhost", "127.0.0.1", "2465", tlsd, "-i", smtpd, "-s", 0 };
	int smtp = inpath(tcpserver, sizeof tcpserver, "tcpserver") == 0 &&
		   tern_binpath(smtpd, sizeof smtpd, "tern-smtpd") == 0;
	int tls = smtp && tern_binpath(tlsd, sizeof tlsd, "tern-tlsd") == 0 && access(tlsd, X_OK) == 0 && tls_default();
	/* POP3 for the demo user: 2110 with STLS, 2995 over implicit TLS. */
	static char pop3d[4096];
	static char *pop_argv[] = { tcpserver, "-q", "-R", "-H", "-l", "localhost", "127.0.0.1", "2110", tlsd, pop3d, 0 };
	static char *pops_argv[] = { tcpserver, "-q", "-R", "-H", "-l", "localhost", "127.0.0.1", "2995", tlsd, "-i", pop3d, 0 };
	int pop = tls && tern_binpath(pop3d, sizeof pop3d, "tern-pop3d") == 0 && access(pop3d, X_OK) == 0;
	int havepw = tls && demo_password(pw, sizeof pw) == 0;
	if (tls && !havepw) tern_warn("could not set a password for demo@example.test: no AUTH for it");
	/* Another instance (a second make run) holds the ports: say so, start nothing. */
	static const char *const ports[] = { "2525", "2587", "2465", "2110", "2995" };
	size_t nports = !smtp ? 0 : !tls ? 1 : !pop ? 3 : 5;
	for (size_t i = 0; i < nports; i++)
		if (!port_free(ports[i]))
			tern_die(111, "127.0.0.1:", ports[i], " is in use (another make run or tern-run?): stop it first");
	add_child(send_argv);
	if (smtp) {
		add_child(tls ? smtps_argv : smtp_argv);
		if (tls) { add_child(sub_argv); add_child(subs_argv); }
		if (pop) { add_child(pop_argv); add_child(pops_argv); }
	} else tern_warn("tcpserver not found (package ucspi-tcp): no SMTP listener");

	fprintf(stderr,
		"tern-run: home %s\n"
		"tern-run: running: tern-send (scheduler: local and remote delivery)%s\n"
		"tern-run: try, in another shell:\n"
		"  export TERN_HOME=%s PATH=%s:$PATH\n"
		"  echo 'Hello from tern' | tern-sendmail -i demo@example.test\n"
		"  swaks --server 127.0.0.1:2525 --to demo@example.test   # SMTP, as the internet sees it\n"
		"  tern-qread    # what is still queued; no output once it is delivered\n"
		"  cat %s/mail/example.test/demo/Maildir/new/*\n"
		"  date | tern-sendmail root   # cron-style: root@localhost is an alias of demo\n"
		"tern-run: Ctrl-C stops everything.\n",
		home, smtp ? ",\n  tern-smtpd under tcpserver on 127.0.0.1:2525 (like a public port 25: no relaying)" : "",
		home, tern_bindir(), home);
	if (tls)
		fprintf(stderr,
			"tern-run: TLS (self-signed certificate for localhost in %s/control/tls/):\n"
			"  127.0.0.1:2525 offers STARTTLS; 127.0.0.1:2587 submission (STARTTLS, then AUTH);\n"
			"  127.0.0.1:2465 submission over implicit TLS.  demo@example.test's password: %s\n"
			"  swaks --server 127.0.0.1:2587 --tls --auth PLAIN --auth-user demo@example.test \\\n"
			"        --auth-password '%s' --from demo@example.test --to demo@example.test\n"
			"  (an authenticated client may relay too: such mail really leaves, to the MX's port 25)\n",
			home, havepw ? pw : "(none)", havepw ? pw : "PASSWORD");
	if (pop)
		fprintf(stderr,
			"tern-run: POP3 for demo@example.test: 127.0.0.1:2110 (STLS first), 127.0.0.1:2995 (implicit TLS)\n"
			"  python3 -c 'import poplib, ssl; p = poplib.POP3_SSL(\"127.0.0.1\", 2995, context=ssl._create_unverified_context()); "
			"p.user(\"demo@example.test\"); p.pass_(\"%s\"); print(p.stat(), p.list()); p.quit()'\n"
			"  openssl s_client -quiet -connect 127.0.0.1:2995    # then USER, PASS, LIST, RETR 1, QUIT\n",
			havepw ? pw : "PASSWORD");

	for (;;) {
		/* Wait for a signal, or until the next restart is due. */
		time_t now = time(0), next = 0;
		for (size_t i = 0; i < nchild; i++)
			if (children[i] == 0 && (!next || restart_at[i] < next)) next = restart_at[i];
		int wait = next ? (next > now ? (int)(next - now) * 1000 : 0) : -1;
		struct pollfd p = { sfd, POLLIN, 0 };
		if (poll(&p, 1, wait) < 0 && errno != EINTR) tern_die_sys(111, "poll");
		unsigned char sg[64];
		ssize_t n = read(sfd, sg, sizeof sg);
		for (ssize_t i = 0; i < n; i++) {
			if (sg[i] == SIGINT || sg[i] == SIGTERM) {
				fprintf(stderr, "tern-run: stopping\n");
				stop_all();
				return 0;
			}
		}
		pid_t pid;
		int st;
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			for (size_t i = 0; i < nchild; i++)
				if (children[i] == pid) child_ended(i, st);
		now = time(0);
		for (size_t i = 0; i < nchild; i++)
			if (children[i] == 0 && restart_at[i] <= now) {
				children[i] = start(childargv[i]);
				started[i] = now;
				if (children[i] < 0) children[i] = -1;
			}
	}
}
