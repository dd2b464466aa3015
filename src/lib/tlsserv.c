#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "control.h"
#include "die.h"
#include "fdio.h"
#include "tlsserv.h"

int tlsserv_setup(int *ctl, struct tls_info *ti)
{
	const char *d = getenv("TERN_TLS"), *c = getenv("TERN_TLSCTL");
	int tls = 0;
	*ctl = -1;
	if (d) {
		/* Implicit TLS: tern-tlsd finished the handshake before starting us. */
		if (tlsctl_parse(d, strlen(d), ti) != 0) tern_die(111, "TERN_TLS is not a TLS description");
		tls = 1;
	} else if (c) {
		unsigned long fd;
		int fl;
		if (tern_scan_ulong(c, &fd) != 0 || fd < 3 || fd > 1023 || (fl = fcntl((int)fd, F_GETFD)) < 0)
			tern_die(111, "TERN_TLSCTL is not an open file descriptor");
		if (fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC) != 0) tern_die_sys(111, "fcntl");
		*ctl = (int)fd;
	}
	unsetenv("TERN_TLS");
	unsetenv("TERN_TLSCTL");
	return tls;
}

/* tern-tlsd's answer, one line, within wait seconds.  Its length, or -1. */
static int answer(int ctl, unsigned wait, char *line, size_t max)
{
	size_t n = 0;
	while (n < max - 1) {
		struct pollfd p = { ctl, POLLIN, 0 };
		int r = poll(&p, 1, (int)wait * 1000);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return -1;
		ssize_t k = read(ctl, line + n, 1);	/* byte by byte: what follows is TLS data */
		if (k < 0 && errno == EINTR) continue;
		if (k <= 0) return -1;
		if (line[n] == '\n') { line[n] = 0; return (int)n; }
		n++;
	}
	return -1;
}

int tlsserv_start(int *ctl, unsigned wait, struct tls_info *ti, const char **why)
{
	static char line[TLSCTL_LINEMAX];
	if (fd_write_all(*ctl, TLSCTL_REQUEST, strlen(TLSCTL_REQUEST)) != 0) { *why = "tern-tlsd gone"; return -1; }
	int n = answer(*ctl, wait, line, sizeof line);
	if (n < 3 || memcmp(line, "ok ", 3) != 0 || tlsctl_parse(line + 3, (size_t)n - 3, ti) != 0) {
		*why = n > 5 && !memcmp(line, "fail ", 5) ? line + 5 : "no answer from tern-tlsd";
		return -1;
	}
	/* From now on the client is the cleartext side of tern-tlsd. */
	if (dup2(*ctl, 0) < 0 || dup2(*ctl, 1) < 0) tern_die_sys(111, "dup2");
	close(*ctl);
	*ctl = -1;
	return 0;
}
