#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/auxv.h>
#include "home.h"
#include "qprog.h"
#include "spawn.h"

int qprog_path(char *out, size_t n, int filters)
{
	const char *env = filters && !getauxval(AT_SECURE) ? getenv("TERN_QUEUE") : 0;
	if (env && *env) {
		int r = snprintf(out, n, "%s", env);
		if (r >= 0 && (size_t)r < n) return 0;
		errno = ENAMETOOLONG;
		return -1;
	}
	if (tern_binpath(out, n, "tern-queue") == 0) return 0;
	errno = ENAMETOOLONG;
	return -1;
}

int qprog_pipes(int mp[2], int ep[2])
{
	if (pipe2(mp, O_CLOEXEC) != 0) return -1;
	if (pipe2(ep, O_CLOEXEC) != 0) { int e = errno; close(mp[0]); close(mp[1]); errno = e; return -1; }
	return 0;
}

int qprog_start(struct qprog *q, const char *path)
{
	int mp[2], ep[2];
	if (qprog_pipes(mp, ep) != 0) return -1;
	char *argv[] = { (char *)path, 0 };
	int fds[3] = { mp[0], ep[0], -1 };
	q->pid = tern_spawn(path, argv, 0, fds);
	int e = errno;
	close(mp[0]);
	close(ep[0]);
	if (q->pid < 0) { close(mp[1]); close(ep[1]); errno = e; return -1; }
	q->m = mp[1];
	q->e = ep[1];
	return 0;
}
