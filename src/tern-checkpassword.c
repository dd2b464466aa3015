/* tern-checkpassword: checks a login against the users database, checkpassword style.
 *   tern-checkpassword [PROG ARGS...]
 * Reads login\0password\0[timestamp\0] from fd 3 (at most CHECKPW_MAX, 4096 bytes, to end of file).
 * A good login runs PROG as the owner of the user's directory, in it, with USER, HOME and
 * TERN_USER set (exit 0 without PROG); a bad one waits control/authfaildelay seconds and
 * exits 1.  Exit 2: the input is malformed; 111: temporary trouble (doc/tern-checkpassword.8). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "checkpw.h"
#include "control.h"
#include "die.h"
#include "prot.h"
#include "qlog.h"
#include "users.h"

#define EX_BAD 1		/* the checkpassword interface's codes */
#define EX_MISUSE 2
#define EX_TEMP 111

#define DELAY_DEFAULT 2
#define DELAY_MAX 30
#define LOG_LOGINMAX 128	/* of a login that failed: it may be anything the client sent */

static void logline(const char *event, const char *login, size_t ln)
{
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "event", event);
	qlog_kvb(&l, "user", login, ln < LOG_LOGINMAX ? ln : LOG_LOGINMAX);
	const char *ip = getenv("TCPREMOTEIP");
	if (ip) qlog_kv(&l, "remote", ip);
	qlog_emit(&l);
}

static void pause_s(unsigned long secs)
{
	struct timespec ts = { (time_t)secs, 0 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* As root: become the owner of the user's directory (a virtual user's mail belongs to
 * the virtual-mail user), never root.  No getpwnam: this program links statically. */
static void become(const char *dir)
{
	if (geteuid() != 0) return;
	struct stat st;
	if (stat(dir, &st) != 0) tern_die_sys(EX_TEMP, "finding the owner of ", dir);
	if (st.st_uid == 0) {
		/* Only a self-contained instance started by root (tern-run) says so. */
		unsigned long rootok;
		if (control_readulong(&rootok, "rootmailboxes", 0) < 0) tern_die_sys(EX_TEMP, "reading control/rootmailboxes");
		if (rootok == 1) return;
		tern_die(EX_TEMP, dir, ": owned by root; refusing to run a program as root for it");
	}
	if (prot_drop(st.st_uid, st.st_gid) != 0) tern_die_sys(EX_TEMP, "dropping privileges to the owner of ", dir);
}

static void run(char **argv, const struct user_rec *u)
{
	if (setenv("USER", u->addr, 1) != 0 || setenv("HOME", u->dir, 1) != 0 || setenv("TERN_USER", u->addr, 1) != 0)
		tern_die_sys(EX_TEMP, "setenv");
	become(u->dir);
	if (chdir(u->dir) != 0) tern_die_sys(EX_TEMP, "chdir ", u->dir);
	execvp(argv[0], argv);
	tern_die_sys(EX_TEMP, "running ", argv[0]);
}

int main(int argc, char **argv)
{
	static char buf[CHECKPW_MAX + 1];
	tern_prog = "tern-checkpassword";
	(void)argc;
	unsigned long delay;
	if (control_readulong(&delay, "authfaildelay", DELAY_DEFAULT) < 0)
		tern_die_sys(EX_TEMP, "reading control/authfaildelay");
	if (delay > DELAY_MAX) delay = DELAY_MAX;

	ssize_t n = checkpw_read(3, buf, sizeof buf);
	if (n == -1 && errno == EBADF) tern_die(EX_MISUSE, "nothing to read: fd 3 is not open");
	if (n == -1) tern_die_sys(EX_TEMP, "reading fd 3");
	if (n == -2) tern_die(EX_MISUSE, "bad input on fd 3: more than 4096 bytes");
	if (close(3) != 0) tern_die_sys(EX_TEMP, "closing fd 3");
	const char *login, *pass;
	size_t ln, pn;
	if (checkpw_parse(buf, (size_t)n, &login, &ln, &pass, &pn) < 0)
		tern_die(EX_MISUSE, "bad input on fd 3: not login\\0password\\0");

	struct user_rec u;
	int r = users_checkpass(login, ln, pass, pn, &u);
	explicit_bzero((char *)pass, pn);
	if (r < 0) tern_die_sys(EX_TEMP, "reading the users database");
	if (r == 0) {
		logline("auth-fail", login, ln);
		explicit_bzero(buf, sizeof buf);
		pause_s(delay);
		return EX_BAD;
	}
	explicit_bzero(buf, sizeof buf);
	logline("auth-ok", u.addr, strlen(u.addr));
	if (argv[1]) run(argv + 1, &u);
	return 0;
}
