#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "getpw.h"
#include "home.h"
#include "spawn.h"

static int number(const char **s, unsigned long *out)
{
	char *end;
	if (**s < '0' || **s > '9') return -1;
	errno = 0;
	*out = strtoul(*s, &end, 10);
	if (errno) return -1;
	*s = end;
	return 0;
}

/* "UID GID HOME\nG1,G2,...\n" */
static int parse(const char *s, struct sysacct *a)
{
	unsigned long u, g;
	if (number(&s, &u) != 0 || *s++ != ' ' || number(&s, &g) != 0 || *s++ != ' ') return -1;
	const char *nl = strchr(s, '\n');
	if (!nl || nl == s || (size_t)(nl - s) >= sizeof a->home) return -1;
	a->uid = (uid_t)u;
	a->gid = (gid_t)g;
	memcpy(a->home, s, (size_t)(nl - s));
	a->home[nl - s] = 0;
	s = nl + 1;
	a->ngroups = 0;
	while (*s && *s != '\n') {
		unsigned long x;
		if (a->ngroups == GETPW_MAXGROUPS || number(&s, &x) != 0) return -1;
		a->groups[a->ngroups++] = (gid_t)x;
		if (*s == ',') s++;
	}
	return *s == '\n' ? 0 : -1;
}

int getpw_find(const char *name, struct sysacct *a)
{
	char path[4096], out[8192];
	if (tern_binpath(path, sizeof path, "tern-getpw") < 0) { errno = ENAMETOOLONG; return -1; }
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) return -1;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char *argv[] = { path, (char *)name, 0 };
	int fds[3] = { null, p[1], -1 };
	pid_t pid = null < 0 ? -1 : tern_spawn(path, argv, 0, fds);
	int e = errno;
	if (null >= 0) close(null);
	close(p[1]);
	if (pid < 0) { close(p[0]); errno = e; return -1; }
	size_t n = 0;
	for (;;) {
		ssize_t r = read(p[0], out + n, sizeof out - 1 - n);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		n += (size_t)r;
		if (n == sizeof out - 1) break;
	}
	close(p[0]);
	out[n] = 0;
	int st = tern_wait(pid);
	if (st == 100) return 0;
	if (st != 0 || parse(out, a) != 0) { errno = EIO; return -1; }
	return 1;
}

int getpw_mailbox(const char *name, struct sysacct *a)
{
	int r = getpw_find(name, a);
	if (r <= 0) return r;
	if (a->uid == 0 || a->home[0] != '/') return 0;
	struct stat st;
	if (stat(a->home, &st) != 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -2;
	return S_ISDIR(st.st_mode) && st.st_uid == a->uid;
}
