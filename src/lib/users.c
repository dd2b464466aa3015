#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cdb.h>
#include "addr.h"
#include "control.h"
#include "home.h"
#include "users.h"

#define DATAMAX (1024 * 1024)	/* no sane record is bigger: a bigger one is corrupt */
#define KEYMAX 511		/* user_rec.addr holds 511 bytes and a NUL */

static struct cdb db;
static int dbfd = -1;
static dev_t dbdev;
static ino_t dbino;
static stralloc locals;
static int localsread;

static void db_close(void)
{
	if (dbfd < 0) return;
	cdb_free(&db);
	close(dbfd);
	dbfd = -1;
}

/* 1 open, 0 no cdb (an empty database), -1 error.  tern-users replaces the cdb by
 * rename, and a long-running reader (tern-send) is not told: so every lookup checks that
 * the path still names the open file, and a rebuilt, new or removed cdb is seen at once. */
static int db_open(void)
{
	char path[4096];
	struct stat st;
	if (tern_path(path, sizeof path, "users/users.cdb") < 0) { errno = ENAMETOOLONG; return -1; }
	if (stat(path, &st) != 0) {
		if (errno != ENOENT) return -1;
		db_close();
		return 0;
	}
	if (dbfd >= 0 && st.st_dev == dbdev && st.st_ino == dbino) return 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) != 0) { int e = errno; close(fd); errno = e; return -1; }
	db_close();
	cdb_init(&db, fd);
	dbfd = fd;
	dbdev = st.st_dev;
	dbino = st.st_ino;
	return 1;
}

/* Finds kind+lowercase(s); 1 found (cdb_datapos/len valid), 0 not, -1 error. */
static int find(char kind, const char *s, size_t n)
{
	char key[1 + KEYMAX];
	if (n == 0 || n > KEYMAX) return 0;
	int r = db_open();
	if (r <= 0) return r;
	key[0] = kind;
	memcpy(key + 1, s, n);
	addr_lower(key + 1, n);
	errno = 0;
	r = cdb_find(&db, (const unsigned char *)key, n + 1);
	if (r < 0 && !errno) errno = EIO;
	return r < 0 ? -1 : r > 0;
}

/* The found record's data into buf (size bufn, NUL added).  0, or -1 with errno. */
static int data(char *buf, size_t bufn, size_t *len)
{
	size_t dl = cdb_datalen(&db);
	if (dl >= bufn) { errno = EINVAL; return -1; }
	errno = 0;
	if (cdb_read(&db, (unsigned char *)buf, dl, cdb_datapos(&db)) < 0) {
		if (!errno) errno = EIO;
		return -1;
	}
	buf[dl] = 0;
	*len = dl;
	return 0;
}

int users_isdomain(const char *domain, size_t n)
{
	return find('D', domain, n);
}

static int read_locals(void)
{
	if (!localsread) {
		if (control_readlines(&locals, "locals") < 0) return -1;
		localsread = 1;
	}
	return 0;
}

int users_islocal(const char *domain, size_t n)
{
	if (read_locals() < 0) return -1;
	if (control_inlist(&locals, domain, n)) return 1;
	return users_isdomain(domain, n);
}

int users_systemaccounts(const char *domain, size_t n)
{
	unsigned long on;
	if (control_readulong(&on, "systemaccounts", geteuid() == 0) < 0) return -1;
	if (!on) return 0;
	if (read_locals() < 0) return -1;
	return control_inlist(&locals, domain, n);
}

int users_role(const char *local, size_t n)
{
	return (n == 10 && !strncasecmp(local, "postmaster", 10)) || (n == 5 && !strncasecmp(local, "abuse", 5)) ||
	       (n == 13 && !strncasecmp(local, "mailer-daemon", 13));
}

int users_finduser(const char *addr, size_t n, struct user_rec *u)
{
	int r = find('U', addr, n);
	if (r <= 0) return r;
	char buf[sizeof u->pwhash + sizeof u->dir];
	size_t len;
	if (data(buf, sizeof buf, &len) < 0) return -1;
	size_t pl = strlen(buf);
	if (pl == len || pl >= sizeof u->pwhash || len - pl - 1 >= sizeof u->dir) { errno = EINVAL; return -1; }
	const char *dir = buf + pl + 1;
	size_t dl = len - pl - 1;
	if (memchr(dir, 0, dl)) { errno = EINVAL; return -1; }

	memcpy(u->addr, addr, n);
	u->addr[n] = 0;
	addr_lower(u->addr, n);
	memcpy(u->pwhash, buf, pl + 1);
	if (dl) {
		if (dir[0] != '/') { errno = EINVAL; return -1; }
		memcpy(u->dir, dir, dl + 1);
		return 1;
	}
	/* The default directory: both parts become path components, through the one gate. */
	size_t at = addr_at(u->addr, n);
	if (at == n || !addr_pathsafe(u->addr, at) || !addr_pathsafe(u->addr + at + 1, n - at - 1)) {
		memset(u, 0, sizeof *u);
		return 0;
	}
	char rel[600];
	size_t ll = at, dn = n - at - 1;
	memcpy(rel, "mail/", 5);
	memcpy(rel + 5, u->addr + at + 1, dn);
	rel[5 + dn] = '/';
	memcpy(rel + 6 + dn, u->addr, ll);
	rel[6 + dn + ll] = 0;
	if (tern_path(u->dir, sizeof u->dir, rel) < 0) { errno = ENAMETOOLONG; return -1; }
	return 1;
}

int users_findalias(const char *addr, size_t n, stralloc *targets)
{
	int r = find('A', addr, n);
	if (r <= 0) return r;
	size_t dl = cdb_datalen(&db);
	if (dl == 0 || dl > DATAMAX) { errno = EINVAL; return -1; }
	size_t old = targets->len;
	if (!stralloc_readyplus(targets, dl)) { errno = ENOMEM; return -1; }
	errno = 0;
	if (cdb_read(&db, (unsigned char *)targets->s + old, dl, cdb_datapos(&db)) < 0) {
		if (!errno) errno = EIO;
		return -1;
	}
	/* Each target NUL-terminated, none empty. */
	const char *t = targets->s + old;
	if (t[dl - 1] != 0 || t[0] == 0) { errno = EINVAL; return -1; }
	for (size_t i = 1; i < dl; i++)
		if (t[i] == 0 && t[i - 1] == 0) { errno = EINVAL; return -1; }
	targets->len = old + dl;
	return 1;
}

/* ---- SMTP AUTH: which senders a login may use ---- */

/* 1 if the found record's data, NUL-terminated entries, holds want (wn bytes); 0 if not;
 * -1 with errno.  Read in blocks: an address may be the target of any number of aliases. */
static int data_has(const char *want, size_t wn)
{
	char buf[4096];		/* holds at least one whole entry (USERDB_MAXADDR + 1) */
	size_t pos = cdb_datapos(&db), left = cdb_datalen(&db), have = 0;
	while (left || have) {
		size_t take = left < sizeof buf - have ? left : sizeof buf - have;
		errno = 0;
		if (take && cdb_read(&db, (unsigned char *)buf + have, take, (uint32)pos) < 0) {
			if (!errno) errno = EIO;
			return -1;
		}
		have += take;
		pos += take;
		left -= take;
		size_t i = 0;
		const char *z;
		while ((z = memchr(buf + i, 0, have - i))) {
			size_t el = (size_t)(z - (buf + i));
			if (el == 0) { errno = EINVAL; return -1; }
			if (el == wn && memcmp(buf + i, want, wn) == 0) return 1;
			i += el + 1;
		}
		/* An entry longer than the buffer, or a last one with no NUL: not ours. */
		if (i == 0 || (!left && i < have)) { errno = EINVAL; return -1; }
		memmove(buf, buf + i, have - i);
		have -= i;
	}
	return 0;
}

/* 1 if from (lowercase, local@domain, at its '@') is the login's local part, the
 * delimiter and an extension, in the login's domain. */
static int is_extension(const char *login, size_t ln, size_t lat, const char *from, size_t fn, size_t fat)
{
	char delim[64];
	if (control_readline(delim, sizeof delim, "delimiter", "+") < 0) return -1;
	size_t dl = strlen(delim);
	if (!dl || ln - lat != fn - fat || memcmp(login + lat, from + fat, ln - lat)) return 0;
	/* The first delimiter splits the local part, as tern-local splits it. */
	const char *d = memmem(from, fat, delim, dl);
	return d && (size_t)(d - from) == lat && memcmp(from, login, lat) == 0;
}

int users_mayuse(const char *login, size_t ln, const char *from, size_t fn)
{
	char l[KEYMAX + 1], f[KEYMAX + 1];
	if (ln == 0 || fn == 0 || ln > KEYMAX || fn > KEYMAX) return 0;
	memcpy(l, login, ln);
	memcpy(f, from, fn);
	addr_lower(l, ln);
	addr_lower(f, fn);
	size_t lat = addr_at(l, ln), fat = addr_at(f, fn);
	if (lat == 0 || lat == ln || fat == 0 || fat == fn) return 0;
	if (ln == fn && memcmp(l, f, ln) == 0) return 1;
	int r = find('S', l, ln);
	if (r < 0) return -1;
	if (r > 0 && (r = data_has(f, fn)) != 0) return r;
	r = is_extension(l, ln, lat, f, fn, fat);
	if (r <= 0) return r;
	/* An address that is a user or an alias of its own is not the login's extension. */
	if ((r = find('U', f, fn)) != 0) return r < 0 ? -1 : 0;
	if ((r = find('A', f, fn)) != 0) return r < 0 ? -1 : 0;
	return 1;
}

void users_close(void)
{
	db_close();
	stralloc_free(&locals);
	localsread = 0;
}
