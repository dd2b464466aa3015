/* tern-users: manage the users database (doc/tern-users.8, doc/users.5).
 *   tern-users add-domain DOMAIN | del-domain [-f] DOMAIN | add ADDRESS [DIR] | del ADDRESS
 *            | passwd [-d] ADDRESS | alias ADDRESS TARGET... | unalias ADDRESS | list
 *            | show ADDRESS | build
 * Every change holds users/lock, rewrites users/users and compiles users/users.cdb, each
 * through a temporary file, fsync and rename, so readers only ever see whole files. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "fdio.h"
#include "addr.h"
#include "control.h"
#include "die.h"
#include "home.h"
#include "userdb.h"
#include "users.h"

#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_OSERR 71
#define EX_CANTCREAT 73
#define EX_IOERR 74
#define EX_TEMPFAIL 75

#define LOCKWAIT_DEFAULT 10	/* seconds to wait for another tern-users */

static const char usage_text[] =
	"usage: tern-users add-domain DOMAIN | del-domain [-f] DOMAIN | add ADDRESS [DIR] | "
	"del ADDRESS | passwd [-d] ADDRESS | alias ADDRESS TARGET... | unalias ADDRESS | list | "
	"show ADDRESS | build";

static void usage(void) { tern_die(EX_USAGE, usage_text); }
static void nomem(void) { tern_die(EX_OSERR, "out of memory"); }

static char srcpath[4096];	/* $TERN_HOME/users/users */

static void homepath(char *out, size_t n, const char *rel)
{
	if (tern_path(out, n, rel) < 0) tern_die(EX_USAGE, "TERN_HOME too long");
}

static void fmtulong(char out[24], unsigned long v)
{
	char t[24];
	size_t n = 0;
	do { t[n++] = (char)('0' + v % 10); v /= 10; } while (v);
	for (size_t i = 0; i < n; i++) out[i] = t[n - 1 - i];
	out[n] = 0;
}

/* ---- output ---- */

static stralloc out;

static void put(const char *s, size_t n) { if (!stralloc_catb(&out, s, n)) nomem(); }
static void puts_(const char *s) { put(s, strlen(s)); }

static void flush(void)
{
	size_t i = 0;
	while (i < out.len) {
		ssize_t w = write(1, out.s + i, out.len - i);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) tern_die_sys(EX_IOERR, "writing to standard output");
		i += (size_t)w;
	}
	out.len = 0;
}

/* ---- lock ---- */

static void onalarm(int sig) { (void)sig; }

/* An exclusive flock on users/lock, waited for at most TERN_USERS_LOCKWAIT seconds.
 * Held until exit. */
static void lock(void)
{
	char path[4200];
	unsigned long wait = LOCKWAIT_DEFAULT;
	const char *w = getenv("TERN_USERS_LOCKWAIT");
	if (w && *w && (tern_scan_ulong(w, &wait) < 0 || wait > 86400))
		tern_die(EX_USAGE, "bad TERN_USERS_LOCKWAIT: ", w);
	homepath(path, sizeof path, "users");
	if (mkdir(path, 0750) != 0 && errno != EEXIST) tern_die_sys(EX_CANTCREAT, "creating ", path);
	homepath(path, sizeof path, "users/lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) tern_die_sys(EX_CANTCREAT, "opening ", path);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) return;
	if (errno != EWOULDBLOCK) tern_die_sys(EX_IOERR, "locking ", path);
	/* A blocking flock interrupted by SIGALRM: the kernel queues waiters fairly, which
	 * polling would not. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onalarm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, 0) != 0) tern_die_sys(EX_OSERR, "sigaction");
	alarm((unsigned)wait);
	int r = wait ? flock(fd, LOCK_EX) : -1;
	int e = wait ? errno : EINTR;
	alarm(0);
	if (r == 0) return;
	char n[24];
	fmtulong(n, wait);
	errno = e;
	if (e == EINTR) tern_die(EX_TEMPFAIL, "users database busy: ", path, " still locked after ", n, " s");
	tern_die_sys(EX_IOERR, "locking ", path);
}

/* ---- reading and writing the database ---- */

static void report(const struct userdb *db)
{
	for (size_t i = 0; i < db->nerr; i++) {
		char ln[24], other[24];
		fmtulong(ln, db->err[i].lineno);
		fmtulong(other, db->err[i].other);
		if (db->err[i].other)
			tern_warn(srcpath, ":", ln, ": ", db->err[i].msg, " (see line ", other, ")");
		else
			tern_warn(srcpath, ":", ln, ": ", db->err[i].msg);
	}
}

/* Loads the source; with strict, a source with bad lines is fatal (nothing may be
 * compiled from it).  Returns the number of bad lines. */
static size_t load(struct userdb *db, int strict)
{
	stralloc sa = {0};
	homepath(srcpath, sizeof srcpath, "users/users");
	int fd = open(srcpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) tern_die_sys(EX_IOERR, "opening ", srcpath);
	while (fd >= 0) {
		if (!stralloc_readyplus(&sa, 65536)) nomem();
		ssize_t r = read(fd, sa.s + sa.len, 65536);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) tern_die_sys(EX_IOERR, "reading ", srcpath);
		if (r == 0) break;
		sa.len += (size_t)r;
		if (sa.len > USERDB_MAXSRC) tern_die(EX_DATAERR, srcpath, " is bigger than 64 MiB");
	}
	if (fd >= 0 && close(fd) != 0) tern_die_sys(EX_IOERR, "reading ", srcpath);
	if (userdb_load(db, sa.len ? sa.s : "", sa.len) < 0) nomem();
	stralloc_free(&sa);
	if (db->nerr && strict) {
		char n[24];
		report(db);
		fmtulong(n, db->nerr);
		tern_die(EX_DATAERR, srcpath, " has ", n, " bad lines; fix them (tern-users build checks)");
	}
	return db->nerr;
}

/* A temporary file next to target, with target's mode and group (0640 when new). */
static int tmpfile_for(const char *tmp, const char *target)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) tern_die_sys(EX_CANTCREAT, "creating ", tmp);
	struct stat st;
	mode_t mode = 0640;
	if (stat(target, &st) == 0) {
		mode = st.st_mode & 07777;
		if (fchown(fd, (uid_t)-1, st.st_gid) != 0 && errno != EPERM)
			tern_die_sys(EX_IOERR, "fchown ", tmp);
	}
	if (fchmod(fd, mode) != 0) tern_die_sys(EX_IOERR, "fchmod ", tmp);
	return fd;
}

static void done_file(int fd, const char *tmp)
{
	if (fsync(fd) != 0) tern_die_sys(EX_IOERR, "fsync ", tmp);
	if (close(fd) != 0) tern_die_sys(EX_IOERR, "writing ", tmp);
}

static void syncdir(const char *dir)
{
	if (fd_sync_dir(dir) != 0 && errno != EINVAL) tern_die_sys(EX_IOERR, "fsync ", dir);
}

/* Writes the source (when src) and the cdb to temporary files, syncs them, renames them
 * into place and syncs the directory.  Readers see the old or the new cdb, never a part. */
static void install(const struct userdb *db, int src)
{
	char dir[4200], tsrc[4200], cdb[4200], tcdb[4200];
	homepath(dir, sizeof dir, "users");
	homepath(tsrc, sizeof tsrc, "users/users.tmp");
	homepath(cdb, sizeof cdb, "users/users.cdb");
	homepath(tcdb, sizeof tcdb, "users/users.cdb.tmp");
	if (src) {
		stralloc t = {0};
		if (!userdb_text(db, &t)) nomem();
		int fd = tmpfile_for(tsrc, srcpath);
		size_t i = 0;
		while (i < t.len) {
			ssize_t w = write(fd, t.s + i, t.len - i);
			if (w < 0 && errno == EINTR) continue;
			if (w < 0) tern_die_sys(EX_IOERR, "writing ", tsrc);
			i += (size_t)w;
		}
		done_file(fd, tsrc);
		stralloc_free(&t);
	}
	int fd = tmpfile_for(tcdb, cdb);
	if (userdb_cdb(db, fd) < 0) {
		if (errno == ENOMEM) nomem();
		tern_die_sys(EX_IOERR, "writing ", tcdb);
	}
	done_file(fd, tcdb);
	if (src && rename(tsrc, srcpath) != 0) tern_die_sys(EX_IOERR, "renaming ", tsrc);
	if (rename(tcdb, cdb) != 0) tern_die_sys(EX_IOERR, "renaming ", tcdb);
	syncdir(dir);
}

/* ---- arguments ---- */

static void arg_domain(char *d)
{
	const char *err;
	if (userdb_domain(d, strlen(d), &err) < 0) tern_die(EX_DATAERR, "bad domain: ", d, ": ", err);
}

static size_t arg_address(char *a, int catchall)
{
	const char *err;
	size_t at;
	if (userdb_address(a, strlen(a), catchall, &at, &err) < 0)
		tern_die(EX_DATAERR, "bad address: ", a, ": ", err);
	return at;
}

/* The domain must be a virtual domain (in db) or listed in control/locals. */
static void need_local(const struct userdb *db, const char *d)
{
	size_t n = strlen(d);
	if (userdb_find(db, 'D', d, n) >= 0) return;
	stralloc loc = {0};
	if (control_readlines(&loc, "locals") < 0) tern_die_sys(EX_IOERR, "reading control/locals");
	int ok = control_inlist(&loc, d, n);
	stralloc_free(&loc);
	if (!ok) tern_die(EX_DATAERR, "unknown domain: ", d, " (neither a virtual domain nor in control/locals)");
}

static void line3(stralloc *l, const char *a, const char *b, const char *c)
{
	l->len = 0;
	if (!stralloc_cats(l, a) || !stralloc_cats(l, b) || !stralloc_cats(l, c)) nomem();
}

static void set(struct userdb *db, long idx, const stralloc *l)
{
	const char *err;
	int r = userdb_put(db, idx, l->s, l->len, &err);
	if (r == -2) nomem();
	/* Arguments were checked one by one; this catches what only the whole line shows. */
	if (r < 0) tern_die(EX_DATAERR, "bad record: ", err);
	if (userdb_check(db) != 0) {
		if (db->nerr) tern_die(EX_DATAERR, "bad record: ", db->err[0].msg);
		nomem();
	}
}

/* ---- user directories ---- */

static int chowning;
static uid_t mailuid;
static gid_t mailgid;

/* mkdir; 1 created, 0 was there already (a directory). */
static int mkone(const char *path)
{
	if (mkdir(path, 0700) == 0) {
		if (chowning && fchownat(AT_FDCWD, path, mailuid, mailgid, AT_SYMLINK_NOFOLLOW) != 0)
			tern_die_sys(EX_CANTCREAT, "chown ", path);
		return 1;
	}
	struct stat st;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
	if (errno == EEXIST) tern_die(EX_CANTCREAT, "creating ", path, ": exists and is not a directory");
	tern_die_sys(EX_CANTCREAT, "creating ", path);
}

static void cat3(char *out, size_t n, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	if (la + lb + lc + 1 > n) tern_die(EX_DATAERR, "path too long: ", a, b, c);
	memcpy(out, a, la);
	memcpy(out + la, b, lb);
	memcpy(out + la + lb, c, lc + 1);
}

/* The user's directory and its Maildir/{tmp,new,cur}, mode 0700; as root, owned by the
 * owner of $TERN_HOME/mail (the virtual-mail user).  Each new entry's parent is synced. */
static void make_dirs(const char *addr, size_t at, const char *dir)
{
	char mail[4200], dom[4200], user[4200], md[4200], sub[4200];
	homepath(mail, sizeof mail, "mail");
	struct stat st;
	if (geteuid() == 0) {
		if (stat(mail, &st) != 0) tern_die_sys(EX_CANTCREAT, "finding the virtual-mail user: ", mail);
		chowning = 1;
		mailuid = st.st_uid;
		mailgid = st.st_gid;
	}
	if (*dir) {
		cat3(user, sizeof user, dir, "", "");
	} else {
		if (!chowning && mkdir(mail, 0755) == 0) syncdir(tern_home());
		char d[256];
		memcpy(d, addr + at + 1, strlen(addr + at + 1) + 1);
		cat3(dom, sizeof dom, mail, "/", d);
		if (mkone(dom)) syncdir(mail);
		memcpy(d, addr, at);
		d[at] = 0;
		cat3(user, sizeof user, dom, "/", d);
	}
	if (mkone(user)) {
		char parent[4200];
		cat3(parent, sizeof parent, user, "", "");
		char *slash = strrchr(parent, '/');
		if (slash == parent) slash[1] = 0; else *slash = 0;
		syncdir(parent);
	}
	cat3(md, sizeof md, user, "/Maildir", "");
	if (mkone(md)) syncdir(user);
	int made = 0;
	static const char *subs[] = { "/tmp", "/new", "/cur" };
	for (size_t i = 0; i < 3; i++) {
		cat3(sub, sizeof sub, md, subs[i], "");
		made |= mkone(sub);
	}
	if (made) syncdir(md);
}

/* The directory a user record stands for (its own, or the default). */
static void user_dir(char *out, size_t n, const struct userdb_line *r)
{
	if (r->dirlen) {
		if (r->dirlen >= n) tern_die(EX_DATAERR, "path too long");
		memcpy(out, r->dir, r->dirlen);
		out[r->dirlen] = 0;
		return;
	}
	char dom[256], loc[256], m[4200];
	memcpy(dom, r->addr + r->at + 1, r->addrlen - r->at - 1);
	dom[r->addrlen - r->at - 1] = 0;
	memcpy(loc, r->addr, r->at);
	loc[r->at] = 0;
	homepath(m, sizeof m, "mail/");
	char t[4200];
	cat3(t, sizeof t, m, dom, "/");
	cat3(out, n, t, loc, "");
}

/* ---- commands ---- */

static void cmd_add_domain(char *d)
{
	struct userdb db;
	stralloc l = {0};
	arg_domain(d);
	lock();
	load(&db, 1);
	if (userdb_find(&db, 'D', d, strlen(d)) >= 0) tern_die(EX_DATAERR, "domain already exists: ", d);
	line3(&l, "D:", d, "");
	set(&db, -1, &l);
	install(&db, 1);
	userdb_free(&db);
	stralloc_free(&l);
}

static int in_domain(const struct userdb_line *r, const char *d, size_t n)
{
	return (r->kind == 'U' || r->kind == 'A') && r->addrlen - r->at - 1 == n &&
	       memcmp(r->addr + r->at + 1, d, n) == 0;
}

static void cmd_del_domain(char *d, int force)
{
	struct userdb db;
	size_t n = strlen(d), nu = 0, na = 0;
	arg_domain(d);
	lock();
	load(&db, 1);
	long i = userdb_find(&db, 'D', d, n);
	if (i < 0) tern_die(EX_DATAERR, "no such virtual domain: ", d);
	for (size_t k = 0; k < db.nent; k++) {
		const struct userdb_ent *e = &db.ent[k];
		if (e->gone || !in_domain(&e->rec, d, n)) continue;
		if (e->rec.kind == 'U') nu++; else na++;
		if (force) userdb_del(&db, k);
	}
	char cu[24], ca[24];
	fmtulong(cu, nu);
	fmtulong(ca, na);
	if ((nu || na) && !force)
		tern_die(EX_DATAERR, "domain ", d, " still has ", cu, " users and ", ca,
			 " aliases (delete them first, or use -f)");
	userdb_del(&db, (size_t)i);
	install(&db, 1);
	puts_("deleted domain ");
	puts_(d);
	if (nu || na) {
		puts_(" with ");
		puts_(cu);
		puts_(" users and ");
		puts_(ca);
		puts_(" aliases; their mail is left on disk");
	}
	puts_("\n");
	flush();
	userdb_free(&db);
}

static void cmd_add(char *a, char *dir)
{
	struct userdb db;
	stralloc l = {0};
	const char *err;
	size_t at = arg_address(a, 0), n = strlen(a);
	if (dir && (!*dir || userdb_dir(dir, strlen(dir), &err) < 0))
		tern_die(EX_DATAERR, "bad directory: ", dir, ": ", *dir ? err : "empty");
	lock();
	load(&db, 1);
	need_local(&db, a + at + 1);
	if (userdb_find(&db, 'U', a, n) >= 0) tern_die(EX_DATAERR, "user already exists: ", a);
	if (userdb_find(&db, 'A', a, n) >= 0) tern_die(EX_DATAERR, "address is an alias: ", a);
	make_dirs(a, at, dir ? dir : "");
	/* The password hash field stays empty until tern-users passwd sets it. */
	line3(&l, "U:", a, "::");
	if (dir && !stralloc_cats(&l, dir)) nomem();
	set(&db, -1, &l);
	install(&db, 1);
	userdb_free(&db);
	stralloc_free(&l);
}

/* The entry of user a (lowercase, n bytes), or a fatal error. */
static long need_user(const struct userdb *db, const char *a, size_t n)
{
	long i = userdb_find(db, 'U', a, n);
	if (i < 0 && userdb_find(db, 'A', a, n) >= 0) tern_die(EX_DATAERR, "not a user but an alias (use unalias): ", a);
	if (i < 0) tern_die(EX_DATAERR, "no such user: ", a);
	return i;
}

static void cmd_del(char *a)
{
	struct userdb db;
	char dir[4200];
	size_t n = strlen(a);
	arg_address(a, 0);
	lock();
	load(&db, 1);
	long i = need_user(&db, a, n);
	user_dir(dir, sizeof dir, &db.ent[i].rec);
	userdb_del(&db, (size_t)i);
	install(&db, 1);
	puts_("deleted user ");
	puts_(a);
	puts_("; mail left in ");
	puts_(dir);
	puts_("\n");
	flush();
	userdb_free(&db);
}

/* ---- passwords ---- */

static char pw[2][USERS_MAXPASS + 2];
static int ttyfd = -1;
static struct termios ttysaved;

static void tty_restore(void)
{
	if (ttyfd >= 0) (void)tcsetattr(ttyfd, TCSAFLUSH, &ttysaved);
}

/* Nothing of a password outlives its use, not even on the way out. */
static void wipe_pw(void)
{
	tty_restore();
	explicit_bzero(pw, sizeof pw);
}

/* One line from fd into buf, without its '\n'; stops after USERS_MAXPASS + 1 bytes (too
 * long, as users_passbad will say).  Byte by byte: nothing after the line is consumed. */
static size_t read_line(int fd, char *buf, const char *what)
{
	size_t n = 0;
	while (n <= USERS_MAXPASS) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) { wipe_pw(); tern_die_sys(EX_IOERR, "reading the password from ", what); }
		if (r == 0 || c == '\n') break;
		buf[n++] = c;
	}
	return n;
}

/* A signal while echo is off: echo back on, then die of the signal. */
static void onsig(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int ttysigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void tty_signals(void (*h)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof ttysigs / sizeof *ttysigs; i++)
		if (sigaction(ttysigs[i], &sa, 0) != 0) tern_die_sys(EX_OSERR, "sigaction");
}

static size_t ask(const char *prompt, char *buf)
{
	if (fd_write_all(ttyfd, prompt, strlen(prompt)) != 0) {
		wipe_pw();
		tern_die_sys(EX_IOERR, "writing to /dev/tty");
	}
	size_t n = read_line(ttyfd, buf, "/dev/tty");
	(void)fd_write_all(ttyfd, "\n", 1);	/* the newline echo did not show */
	return n;
}

/* Twice on /dev/tty, echo off; both must match. */
static size_t read_tty(void)
{
	ttyfd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (ttyfd < 0) tern_die_sys(EX_IOERR, "opening /dev/tty");
	if (tcgetattr(ttyfd, &ttysaved) != 0) tern_die_sys(EX_IOERR, "reading the terminal settings");
	struct termios t = ttysaved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	tty_signals(onsig);
	if (tcsetattr(ttyfd, TCSAFLUSH, &t) != 0) tern_die_sys(EX_IOERR, "turning off echo");
	size_t n = ask("New password: ", pw[0]);
	size_t n2 = n <= USERS_MAXPASS && n ? ask("Retype new password: ", pw[1]) : n;
	tty_restore();
	tty_signals(SIG_DFL);
	if (close(ttyfd) != 0) tern_die_sys(EX_IOERR, "closing /dev/tty");
	ttyfd = -1;
	if (n2 != n || memcmp(pw[0], pw[1], n) != 0) {
		wipe_pw();
		tern_die(EX_DATAERR, "bad password: the two do not match");
	}
	return n;
}

/* The new password's hash into out (size USERS_HASHSIZE): the password from the first
 * line of standard input, or asked for twice on the terminal. */
static void new_hash(char *out)
{
	size_t n = isatty(0) ? read_tty() : read_line(0, pw[0], "standard input");
	const char *bad = users_passbad(pw[0], n);
	if (bad) {
		wipe_pw();
		tern_die(EX_DATAERR, "bad password: ", bad);
	}
	int r = users_hashpass(pw[0], n, out, USERS_HASHSIZE);
	wipe_pw();
	if (r < 0) tern_die_sys(EX_OSERR, "hashing the password");
}

/* Sets (or with clear, empties) a user's password hash. */
static void cmd_passwd(char *a, int clear)
{
	struct userdb db;
	stralloc l = {0};
	char hash[USERS_HASHSIZE] = "";
	size_t n = strlen(a);
	arg_address(a, 0);
	if (!clear) {
		/* No prompt for a user that does not exist; hashing takes a while, so it is done
		 * before the lock is taken, and the user looked for again under it. */
		load(&db, 1);
		need_user(&db, a, n);
		userdb_free(&db);
		new_hash(hash);
	}
	lock();
	load(&db, 1);
	long i = need_user(&db, a, n);
	const struct userdb_line *r = &db.ent[i].rec;
	line3(&l, "U:", a, ":");
	if (!stralloc_cats(&l, hash) || !stralloc_cats(&l, ":") || !stralloc_catb(&l, r->dir, r->dirlen)) nomem();
	set(&db, i, &l);
	install(&db, 1);
	explicit_bzero(hash, sizeof hash);
	userdb_free(&db);
	stralloc_free(&l);
}

static void cmd_alias(char *a, char **t, size_t nt)
{
	struct userdb db;
	stralloc l = {0};
	const char *err;
	size_t at = arg_address(a, 1), n = strlen(a);
	line3(&l, "A:", a, ":");
	for (size_t i = 0; i < nt; i++) {
		if (userdb_target(t[i], strlen(t[i]), &err) < 0) tern_die(EX_DATAERR, "bad target: ", t[i], ": ", err);
		if ((i && !stralloc_cats(&l, ",")) || !stralloc_cats(&l, t[i])) nomem();
	}
	if (l.len > USERDB_MAXLINE) tern_die(EX_DATAERR, "too many targets");
	lock();
	load(&db, 1);
	need_local(&db, a + at + 1);
	if (userdb_find(&db, 'U', a, n) >= 0) tern_die(EX_DATAERR, "address is a user: ", a);
	set(&db, userdb_find(&db, 'A', a, n), &l);
	install(&db, 1);
	userdb_free(&db);
	stralloc_free(&l);
}

static void cmd_unalias(char *a)
{
	struct userdb db;
	arg_address(a, 1);
	lock();
	load(&db, 1);
	long i = userdb_find(&db, 'A', a, strlen(a));
	if (i < 0) tern_die(EX_DATAERR, "no such alias: ", a);
	userdb_del(&db, (size_t)i);
	install(&db, 1);
	userdb_free(&db);
}

static void list_kind(const struct userdb *db, char kind, const char *word)
{
	size_t *idx;
	long n = userdb_sorted(db, kind, &idx);
	if (n < 0) nomem();
	for (long k = 0; k < n; k++) {
		const struct userdb_line *r = &db->ent[idx[k]].rec;
		puts_(word);
		put(r->addr, r->addrlen);
		if (kind == 'U') {
			char dir[4200];
			user_dir(dir, sizeof dir, r);
			puts_(" ");
			puts_(dir);
		} else if (kind == 'A') {
			puts_(" ");
			put(r->targets, r->tlen);
		}
		puts_("\n");
	}
	free(idx);
}

static void cmd_list(void)
{
	struct userdb db;
	size_t bad = load(&db, 0);
	list_kind(&db, 'D', "domain ");
	list_kind(&db, 'U', "user ");
	list_kind(&db, 'A', "alias ");
	flush();
	if (bad) {
		char n[24];
		report(&db);
		fmtulong(n, bad);
		tern_die(EX_DATAERR, srcpath, " has ", n, " bad lines (not listed)");
	}
	userdb_free(&db);
}

static void targets_out(const stralloc *t)
{
	for (size_t i = 0; i < t->len; i += strlen(t->s + i) + 1) {
		if (i) puts_(", ");
		puts_(t->s + i);
	}
}

/* How delivery sees an address: from the compiled cdb, in the order user, alias,
 * catch-all. */
static void cmd_show(char *a)
{
	size_t at = arg_address(a, 1), n = strlen(a);
	struct user_rec u;
	stralloc t = {0};
	const char *dom = a + at + 1;
	int r = at ? users_finduser(a, n, &u) : 0;
	if (r < 0) tern_die_sys(EX_IOERR, "reading the users database");
	puts_(a);
	if (r > 0) {
		puts_(": user, directory ");
		puts_(u.dir);
		puts_(*u.pwhash ? ", password set\n" : ", no password\n");
		goto out;
	}
	r = users_findalias(a, n, &t);
	if (r < 0) tern_die_sys(EX_IOERR, "reading the users database");
	if (r > 0) {
		puts_(at ? ": alias: " : ": catch-all: ");
		targets_out(&t);
		puts_("\n");
		goto out;
	}
	r = at ? users_findalias(a + at, n - at, &t) : 0;
	if (r < 0) tern_die_sys(EX_IOERR, "reading the users database");
	if (r > 0) {
		puts_(": catch-all @");
		puts_(dom);
		puts_(": ");
		targets_out(&t);
		puts_("\n");
		goto out;
	}
	r = users_islocal(dom, strlen(dom));
	if (r < 0) tern_die_sys(EX_IOERR, "reading control/locals or the users database");
	puts_(r ? ": none (local domain)\n" : ": none (not a local domain)\n");
out:
	flush();
	stralloc_free(&t);
	users_close();
}

static void cmd_build(void)
{
	struct userdb db;
	lock();
	size_t bad = load(&db, 0);
	if (bad) {
		char n[24];
		report(&db);
		fmtulong(n, bad);
		tern_die(EX_DATAERR, srcpath, " has ", n, " bad lines; users.cdb not changed");
	}
	install(&db, 0);
	userdb_free(&db);
}

int main(int argc, char **argv)
{
	tern_prog = "tern-users";
	int force = 0, opt;
	while ((opt = getopt(argc, argv, "+f")) != -1) {
		if (opt == 'f') force = 1;
		else usage();
	}
	argv += optind;
	argc -= optind;
	if (argc < 1) usage();
	const char *cmd = argv[0];
	char **args = argv + 1;
	size_t n = (size_t)argc - 1;
	if (!strcmp(cmd, "del-domain") && n && !strcmp(args[0], "-f")) { force = 1; args++; n--; }
	if (force && strcmp(cmd, "del-domain")) usage();

	if (!strcmp(cmd, "add-domain") && n == 1) cmd_add_domain(args[0]);
	else if (!strcmp(cmd, "del-domain") && n == 1) cmd_del_domain(args[0], force);
	else if (!strcmp(cmd, "add") && (n == 1 || n == 2)) cmd_add(args[0], n == 2 ? args[1] : 0);
	else if (!strcmp(cmd, "del") && n == 1) cmd_del(args[0]);
	else if (!strcmp(cmd, "passwd") && n == 1) cmd_passwd(args[0], 0);
	else if (!strcmp(cmd, "passwd") && n == 2 && !strcmp(args[0], "-d")) cmd_passwd(args[1], 1);
	else if (!strcmp(cmd, "alias") && n >= 2) cmd_alias(args[0], args + 1, n - 1);
	else if (!strcmp(cmd, "unalias") && n == 1) cmd_unalias(args[0]);
	else if (!strcmp(cmd, "list") && n == 0) cmd_list();
	else if (!strcmp(cmd, "show") && n == 1) cmd_show(args[0]);
	else if (!strcmp(cmd, "build") && n == 0) cmd_build();
	else usage();
	stralloc_free(&out);
	return 0;
}
