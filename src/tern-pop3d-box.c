/* tern-pop3d-box: the POP3 server's part after login (RFC 1939 TRANSACTION and UPDATE
 * states) on a Maildir, run by tern-checkpassword as the mailbox's owner in its HOME.
 *   tern-pop3d-box [MAILDIR]        (default ./Maildir)
 * At start it takes the mailbox's lock, moves new/ to cur/ and numbers the messages; only
 * QUIT deletes.  Before it writes to the client it reports to tern-pop3d on the fd named
 * by TERN_POP3_STATUS: "ok", or "in-use" / "temp" / "perm" and exits without a word to the
 * client.  The contract is doc/tern-pop3d-box.8. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stralloc.h>
#include "control.h"
#include "die.h"
#include "fdio.h"
#include "maildir.h"
#include "pop3.h"
#include "qlog.h"
#include "smtp.h"

#define MAXBAD 10
#define MAXMSGS 1000000		/* messages served in one session; the oldest first */
#define LOCKFILE "tern-pop3d.lock"
#define BLK 65536

static struct smtp_io io;
static unsigned long timeout;
static const char *sid = "", *user = "";
static int statusfd = -1;
static int badcmds;
static unsigned long nretr, ndele;

struct msg {
	size_t name;		/* offset of the file name in names */
	size_t uidl;		/* offset of the UIDL in uidls */
	unsigned long long size;
	char dir;		/* 'c' cur/, 'n' new/ (could not be moved) */
	char del;		/* DELE'd in this session */
};
static struct msg *msgs;
static size_t nmsg, msgcap, nlive;
static unsigned long long total, livesize;
static stralloc names, uidls;

/* ---- output, the log ---- */

static void out(const char *s) { smtp_puts(&io, s); smtp_puts(&io, "\r\n"); }

/* The session's start (why 0: what it serves) or end (why it ended, what it did). */
static void logev(const char *why)
{
	struct qlog l;
	qlog_start(&l);
	qlog_kv(&l, "sid", sid);
	qlog_kv(&l, "event", why ? "end" : "session");
	qlog_kv(&l, "user", user);
	if (why) {
		qlog_kv(&l, "why", why);
		qlog_kvu(&l, "retr", nretr);
		qlog_kvu(&l, "dele", ndele);
	} else {
		qlog_kvu(&l, "messages", nmsg);
		qlog_kvu(&l, "octets", total);
	}
	qlog_emit(&l);
}

/* Nothing is deleted: a session that does not end in QUIT changes nothing. */
static void __attribute__((noreturn)) quit(const char *reply, const char *why)
{
	if (reply) out(reply);
	smtp_flush(&io);
	logev(why);
	_exit(0);
}

static void bad(const char *reply)
{
	out(reply);
	if (++badcmds >= MAXBAD) quit("-ERR too many bad commands, closing", "too many bad commands");
}

/* Before the session is ours: tell tern-pop3d (which answers the client), or without it
 * the client itself, and end. */
static void __attribute__((noreturn)) refuse(const char *status, const char *reply, const char *why)
{
	tern_warn(why);
	if (statusfd >= 0) {
		char l[32];
		int k = snprintf(l, sizeof l, "%s\n", status);
		if (fd_write_all(statusfd, l, (size_t)k) != 0) {}
		_exit(111);
	}
	out(reply);
	smtp_flush(&io);
	_exit(111);
}

/* ---- the maildrop ---- */

static const char *mname(size_t i) { return names.s + msgs[i].name; }

/* The CRLF size of an open message file. */
static int fsize(int fd, unsigned long long *size)
{
	static char buf[BLK];
	struct pop3_conv c;
	char end[2];
	pop3_conv_init(&c, -1);
	for (;;) {
		ssize_t k = read(fd, buf, sizeof buf);
		if (k < 0 && errno == EINTR) continue;
		if (k < 0) return -1;
		if (k == 0) break;
		pop3_size(&c, buf, (size_t)k);
	}
	pop3_conv_end(&c, end);
	*size = c.size;
	return 0;
}

/* Opens dir/name for reading, a regular file only.  -1 with errno. */
static int openmsg(char dir, const char *name)
{
	char path[300];
	if (snprintf(path, sizeof path, "%s/%s", dir == 'n' ? "new" : "cur", name) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* A file's size: from its ",W=" field, else by reading it.  0, or -1 (skip it). */
static int msgsize(char dir, const char *name, unsigned long long *size)
{
	if (pop3_wsize(name, strlen(name), size)) return 0;
	int fd = openmsg(dir, name);
	if (fd < 0) return -1;
	int r = fsize(fd, size);
	close(fd);
	return r;
}

static void add(char dir, const char *name, unsigned long long size)
{
	if (nmsg == MAXMSGS) return;
	if (nmsg == msgcap) {
		size_t cap = msgcap ? msgcap * 2 : 256;
		struct msg *m = realloc(msgs, cap * sizeof *m);
		if (!m) refuse("temp", "-ERR [SYS/TEMP] out of memory", "out of memory");
		msgs = m;
		msgcap = cap;
	}
	struct msg *m = &msgs[nmsg++];
	m->name = names.len;
	m->size = size;
	m->dir = dir;
	m->del = 0;
	if (!stralloc_catb(&names, name, strlen(name) + 1)) refuse("temp", "-ERR [SYS/TEMP] out of memory", "out of memory");
}

/* Regular files only, and no names starting with '.' (Maildir readers skip them). */
static int wanted(DIR *d, const struct dirent *e)
{
	if (e->d_name[0] == '.') return 0;
	if (e->d_type == DT_REG) return 1;
	if (e->d_type != DT_UNKNOWN) return 0;
	struct stat st;
	return fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static void scan_cur(void)
{
	DIR *d = opendir("cur");
	if (!d) refuse("temp", "-ERR [SYS/TEMP] cannot read the mailbox", "opendir cur");
	struct dirent *e;
	unsigned long long size;
	while ((e = readdir(d)))
		if (wanted(d, e) && msgsize('c', e->d_name, &size) == 0) add('c', e->d_name, size);
	closedir(d);
}

/* new/NAME -> cur/UNIQ,W=SIZE:2, (the info kept if NAME has one).  The size in the name
 * spares every later session reading the file. */
static void move_new(const char *name)
{
	int fd = openmsg('n', name);
	unsigned long long size;
	if (fd < 0) return;
	int r = fsize(fd, &size);
	close(fd);
	if (r != 0) return;
	size_t n = strlen(name), ul = pop3_uniqlen(name, n);
	unsigned long long w;
	char to[300], from[300];
	const char *info = ul < n ? name + ul : ":2,";
	int k = pop3_wsize(name, n, &w)
		? snprintf(to, sizeof to, "cur/%.*s%s", (int)ul, name, info)
		: snprintf(to, sizeof to, "cur/%.*s,W=%llu%s", (int)ul, name, size, info);
	if (k >= (int)sizeof to || k - 4 > 255) k = snprintf(to, sizeof to, "cur/%.*s%s", (int)ul, name, info);
	snprintf(from, sizeof from, "new/%s", name);
	if (k - 4 <= 255 && renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) add('c', to + 4, size);
	else add('n', name, size);	/* served from new/ where it is */
}

static void scan_new(void)
{
	DIR *d = opendir("new");
	if (!d) refuse("temp", "-ERR [SYS/TEMP] cannot read the mailbox", "opendir new");
	struct dirent *e;
	while ((e = readdir(d)))
		if (wanted(d, e)) move_new(e->d_name);
	closedir(d);
}

/* Oldest first: by the leading number of the name (its time), then by the name. */
static int bytime(const void *a, const void *b)
{
	const char *x = names.s + ((const struct msg *)a)->name, *y = names.s + ((const struct msg *)b)->name;
	size_t dx = strspn(x, "0123456789"), dy = strspn(y, "0123456789");
	const char *px = x, *py = y;
	while (dx > 1 && *px == '0') { px++; dx--; }
	while (dy > 1 && *py == '0') { py++; dy--; }
	if (dx != dy) return dx < dy ? -1 : 1;
	int c = memcmp(px, py, dx);
	return c ? c : strcmp(x, y);
}

static const char *muidl(size_t i) { return uidls.s + msgs[i].uidl; }

static int byuidl(const void *a, const void *b)
{
	int c = strcmp(muidl(*(const size_t *)a), muidl(*(const size_t *)b));
	if (c) return c;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* UIDLs from the names; of two messages with one UIDL, the later gets one from its whole
 * name, so that each stays unique and the same in every session. */
static void number(void)
{
	char u[POP3_UIDLMAX + 1];
	for (size_t i = 0; i < nmsg; i++) {
		size_t k = pop3_uidl(mname(i), strlen(mname(i)), u);
		msgs[i].uidl = uidls.len;
		if (!stralloc_catb(&uidls, u, k + 1)) refuse("temp", "-ERR [SYS/TEMP] out of memory", "out of memory");
	}
	size_t *ix = malloc((nmsg ? nmsg : 1) * sizeof *ix);
	if (!ix) refuse("temp", "-ERR [SYS/TEMP] out of memory", "out of memory");
	for (size_t i = 0; i < nmsg; i++) ix[i] = i;
	qsort(ix, nmsg, sizeof *ix, byuidl);
	for (size_t i = 1; i < nmsg; i++) {
		if (strcmp(muidl(ix[i - 1]), muidl(ix[i])) != 0) continue;
		size_t k = pop3_uidl_alt(mname(ix[i]), strlen(mname(ix[i])), u);
		msgs[ix[i]].uidl = uidls.len;
		if (!stralloc_catb(&uidls, u, k + 1)) refuse("temp", "-ERR [SYS/TEMP] out of memory", "out of memory");
	}
	free(ix);
	for (size_t i = 0; i < nmsg; i++) total += msgs[i].size;
	nlive = nmsg;
	livesize = total;
}

static void open_box(const char *maildir)
{
	if (chdir(maildir) != 0) {
		/* A user who never got mail has no Maildir yet: an empty one is the truth. */
		if (errno != ENOENT || maildir_make(maildir) != 0 || chdir(maildir) != 0)
			refuse("temp", "-ERR [SYS/TEMP] cannot open the mailbox", "cannot open the Maildir");
	}
	int lk = open(LOCKFILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (lk < 0) refuse("temp", "-ERR [SYS/TEMP] cannot lock the mailbox", "cannot open " LOCKFILE);
	/* Held until the process ends, however it ends.  Never closed. */
	if (flock(lk, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) refuse("in-use", "-ERR [IN-USE] the mailbox is in use by another session", "mailbox in use");
		refuse("temp", "-ERR [SYS/TEMP] cannot lock the mailbox", "flock " LOCKFILE);
	}
	scan_cur();
	scan_new();
	qsort(msgs, nmsg, sizeof *msgs, bytime);
	number();
}

/* ---- sending a message ---- */

/* The file again, when another program renamed it since the login (new flags): the same
 * unique part in cur/ or new/. */
static int refind(size_t i)
{
	const char *name = mname(i);
	size_t ul = pop3_uniqlen(name, strlen(name));
	static const char dirs[2] = { 'c', 'n' };
	for (int k = 0; k < 2; k++) {
		DIR *d = opendir(dirs[k] == 'c' ? "cur" : "new");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			size_t n = strlen(e->d_name);
			if (pop3_uniqlen(e->d_name, n) != ul || memcmp(e->d_name, name, ul) || !strcmp(e->d_name, name)) continue;
			msgs[i].name = names.len;
			msgs[i].dir = dirs[k];
			int ok = stralloc_catb(&names, e->d_name, n + 1);
			closedir(d);
			return ok ? openmsg(dirs[k], mname(i)) : -1;
		}
		if (d) closedir(d);
	}
	errno = ENOENT;
	return -1;
}

static void put_big(const char *s, size_t n)
{
	if (io.olen + n <= sizeof io.obuf) { smtp_put(&io, s, n); return; }
	if (smtp_flush(&io) != 0) quit(0, "connection lost");
	alarm((unsigned)timeout);
	int r = fd_write_all(1, s, n);
	alarm(0);
	if (r != 0) quit(0, "connection lost");
}

/* RETR (lines -1) or TOP: the +OK, the message in CRLF form, dot-stuffed, and ".". */
static void send_msg(size_t i, long long lines)
{
	int fd = openmsg(msgs[i].dir, mname(i));
	if (fd < 0 && errno == ENOENT) fd = refind(i);
	if (fd < 0) { out("-ERR that message is gone: removed by another program"); return; }
	char ok[64];
	if (lines < 0) snprintf(ok, sizeof ok, "+OK %llu octets", msgs[i].size);
	else snprintf(ok, sizeof ok, "+OK top of message follows");
	out(ok);
	static char in[BLK], conv[2 * BLK + 2];
	struct pop3_conv c;
	pop3_conv_init(&c, lines);
	while (!c.done) {
		ssize_t k = read(fd, in, sizeof in);
		if (k < 0 && errno == EINTR) continue;
		/* After the +OK there is no way to say -ERR: the session ends, deleting nothing. */
		if (k < 0) { close(fd); quit(0, "read error in RETR"); }
		if (k == 0) break;
		size_t used, o = pop3_conv(&c, in, (size_t)k, &used, conv, 1);
		put_big(conv, o);
	}
	close(fd);
	size_t o = pop3_conv_end(&c, conv);
	memcpy(conv + o, ".\r\n", 3);
	put_big(conv, o + 3);
	if (lines < 0) nretr++;
}

/* ---- commands ---- */

/* The message named by a (n bytes): its index, or -1 (answered). */
static long pick(const char *a, size_t n)
{
	size_t k;
	int r = pop3_msgnum(a, n, nmsg, &k);
	if (r == POP3_NUM_SYNTAX) { bad("-ERR syntax: a message number is digits only"); return -1; }
	if (r == POP3_NUM_RANGE) { bad("-ERR no such message"); return -1; }
	if (msgs[k - 1].del) { out("-ERR message already deleted"); return -1; }
	return (long)(k - 1);
}

static void listing(const struct pop3_req *r, int uidl)
{
	char l[128];
	if (r->toomany || r->nargs > 1) { bad(uidl ? "-ERR syntax: UIDL [msg]" : "-ERR syntax: LIST [msg]"); return; }
	if (r->nargs == 1) {
		long i = pick(r->arg[0], r->alen[0]);
		if (i < 0) return;
		if (uidl) snprintf(l, sizeof l, "+OK %ld %s", i + 1, muidl((size_t)i));
		else snprintf(l, sizeof l, "+OK %ld %llu", i + 1, msgs[i].size);
		out(l);
		return;
	}
	snprintf(l, sizeof l, "+OK %zu messages (%llu octets)", nlive, livesize);
	out(l);
	for (size_t i = 0; i < nmsg; i++) {
		if (msgs[i].del) continue;
		if (uidl) snprintf(l, sizeof l, "%zu %s", i + 1, muidl(i));
		else snprintf(l, sizeof l, "%zu %llu", i + 1, msgs[i].size);
		out(l);
	}
	out(".");
}

static void cmd_retr(const struct pop3_req *r)
{
	if (r->nargs != 1 || r->toomany) { bad("-ERR syntax: RETR msg"); return; }
	long i = pick(r->arg[0], r->alen[0]);
	if (i >= 0) send_msg((size_t)i, -1);
}

static void cmd_top(const struct pop3_req *r)
{
	unsigned long long n;
	if (r->nargs != 2 || r->toomany) { bad("-ERR syntax: TOP msg lines"); return; }
	long i = pick(r->arg[0], r->alen[0]);
	if (i < 0) return;
	if (pop3_count(r->arg[1], r->alen[1], &n) != 0) { bad("-ERR syntax: the line count is digits only"); return; }
	send_msg((size_t)i, n > (unsigned long long)0x7fffffffffffffffLL ? 0x7fffffffffffffffLL : (long long)n);
}

static void cmd_dele(const struct pop3_req *r)
{
	if (r->nargs != 1 || r->toomany) { bad("-ERR syntax: DELE msg"); return; }
	long i = pick(r->arg[0], r->alen[0]);
	if (i < 0) return;
	msgs[i].del = 1;
	nlive--;
	livesize -= msgs[i].size;
	out("+OK message deleted");
}

static void maildrop(const char *pre)
{
	char l[128];
	snprintf(l, sizeof l, "%s%zu messages (%llu octets)", pre, nlive, livesize);
	out(l);
}

static void cmd_stat(void)
{
	char l[64];
	snprintf(l, sizeof l, "+OK %zu %llu", nlive, livesize);
	out(l);
}

static void cmd_rset(void)
{
	for (size_t i = 0; i < nmsg; i++) msgs[i].del = 0;
	nlive = nmsg;
	livesize = total;
	maildrop("+OK maildrop has ");
}

/* The UPDATE state: the DELE'd messages go; a file already gone counts as deleted. */
static void __attribute__((noreturn)) cmd_quit(void)
{
	int fails = 0, synced[2] = { 0, 0 };
	char path[300];
	for (size_t i = 0; i < nmsg; i++) {
		if (!msgs[i].del) continue;
		snprintf(path, sizeof path, "%s/%s", msgs[i].dir == 'n' ? "new" : "cur", mname(i));
		if (unlink(path) == 0 || errno == ENOENT) { ndele++; synced[msgs[i].dir == 'n'] = 1; }
		else fails++;
	}
	/* Durable before the +OK: a crash must not bring a deleted message back. */
	if ((synced[0] && fd_sync_dir("cur") != 0) || (synced[1] && fd_sync_dir("new") != 0)) fails++;
	if (fails) quit("-ERR [SYS/TEMP] some deleted messages not removed", "quit");
	char l[128];
	snprintf(l, sizeof l, "+OK bye: %lu messages deleted, %zu left", ndele, nlive);
	quit(l, "quit");
}

static void cmd_capa(void)
{
	static const char *const caps[] = { "+OK capability list follows", "TOP", "UIDL", "RESP-CODES",
		"AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "IMPLEMENTATION tern", "." };
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) out(caps[i]);
}

static void command(char *line, size_t n)
{
	struct pop3_req r;
	if (pop3_parse(line, n, &r) != 0) { bad("-ERR syntax error"); return; }
	int noarg = r.nargs == 0;
	switch (r.cmd) {
	case P3_STAT: if (noarg) cmd_stat(); else bad("-ERR syntax: STAT takes no argument"); break;
	case P3_LIST: listing(&r, 0); break;
	case P3_UIDL: listing(&r, 1); break;
	case P3_RETR: cmd_retr(&r); break;
	case P3_TOP: cmd_top(&r); break;
	case P3_DELE: cmd_dele(&r); break;
	case P3_NOOP: if (noarg) out("+OK"); else bad("-ERR syntax: NOOP takes no argument"); break;
	case P3_RSET: if (noarg) cmd_rset(); else bad("-ERR syntax: RSET takes no argument"); break;
	case P3_QUIT: cmd_quit();
	case P3_CAPA: cmd_capa(); break;
	case P3_UNKNOWN: bad("-ERR unknown command"); break;
	default: bad("-ERR already logged in: command not valid in this state"); break;
	}
}

int main(int argc, char **argv)
{
	tern_prog = "tern-pop3d-box";
	if (argc > 2) tern_die(64, "usage: tern-pop3d-box [MAILDIR]");
	const char *s = getenv("TERN_POP3_STATUS");
	unsigned long fd;
	if (s && tern_scan_ulong(s, &fd) == 0 && fd >= 3 && fd < 1024 && fcntl((int)fd, F_SETFD, FD_CLOEXEC) == 0)
		statusfd = (int)fd;
	unsetenv("TERN_POP3_STATUS");
	if ((s = getenv("TERN_SID"))) sid = s;
	if ((s = getenv("USER"))) user = s;
	signal(SIGPIPE, SIG_IGN);
	if (control_readulong(&timeout, "timeoutpop3d", 600) < 0) refuse("temp", "-ERR [SYS/TEMP] configuration unreadable", "reading control/timeoutpop3d");
	if (timeout == 0) timeout = 1;
	smtp_init(&io, 0, 1, (unsigned)timeout);
	open_box(argc == 2 ? argv[1] : "Maildir");
	if (statusfd >= 0 && (fd_write_all(statusfd, "ok\n", 3) != 0 || close(statusfd) != 0)) _exit(111);
	logev(0);
	maildrop("+OK logged in: maildrop has ");
	static char line[POP3_LINEMAX + 1];
	for (;;) {
		size_t n;
		int r = smtp_getline_max(&io, line, POP3_LINEMAX, &n);
		if (r == SMTP_EOF) quit(0, "client closed");
		if (r == SMTP_TIMEOUT) quit("-ERR idle timeout, closing", "timeout");
		if (r == SMTP_TOOLONG) bad("-ERR line too long");
		else command(line, n);	/* a bare LF ends a line too; a CR inside is refused */
	}
}
