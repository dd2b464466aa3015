#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "control.h"
#include "home.h"

#define CONTROL_MAX (1024 * 1024)	/* no control file is bigger; a bigger one is an error */

/* Whole file into sa; 1 read, 0 absent, -1 error. */
static int slurp(stralloc *sa, const char *name)
{
	char path[4096], rel[512];
	size_t ln = strlen(name);
	if (ln + 9 > sizeof rel) { errno = ENAMETOOLONG; return -1; }
	memcpy(rel, "control/", 8);
	memcpy(rel + 8, name, ln + 1);
	if (tern_path(path, sizeof path, rel) < 0) { errno = ENAMETOOLONG; return -1; }
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return errno == ENOENT ? 0 : -1;
	sa->len = 0;
	for (;;) {
		if (!stralloc_readyplus(sa, 4096)) { close(fd); errno = ENOMEM; return -1; }
		ssize_t r = read(fd, sa->s + sa->len, 4096);
		if (r < 0) { if (errno == EINTR) continue; int e = errno; close(fd); errno = e; return -1; }
		if (r == 0) break;
		sa->len += (size_t)r;
		if (sa->len > CONTROL_MAX) { close(fd); errno = EFBIG; return -1; }
	}
	close(fd);
	return 1;
}

static int isspace_(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int control_readlines(stralloc *sa, const char *name)
{
	stralloc raw = {0};
	int r = slurp(&raw, name);
	sa->len = 0;
	if (r <= 0) { stralloc_free(&raw); return r; }
	size_t i = 0;
	while (i < raw.len) {
		size_t j = i;
		while (j < raw.len && raw.s[j] != '\n') j++;
		size_t a = i, b = j;
		while (a < b && isspace_(raw.s[a])) a++;
		while (b > a && isspace_(raw.s[b - 1])) b--;
		if (b > a && raw.s[a] != '#') {
			if (!stralloc_catb(sa, raw.s + a, b - a) || !stralloc_catb(sa, "", 1)) {
				stralloc_free(&raw); errno = ENOMEM; return -1;
			}
		}
		i = j + 1;
	}
	stralloc_free(&raw);
	return 1;
}

int control_readline(char *out, size_t n, const char *name, const char *def)
{
	stralloc sa = {0};
	int r = control_readlines(&sa, name);
	if (r < 0) { stralloc_free(&sa); return -1; }
	const char *v = r > 0 && sa.len ? sa.s : (r > 0 ? "" : (def ? def : ""));
	size_t l = strlen(v);
	if (l + 1 > n) { stralloc_free(&sa); errno = ENAMETOOLONG; return -1; }
	memcpy(out, v, l + 1);
	stralloc_free(&sa);
	return r > 0 ? 1 : 0;
}

int tern_scan_ulong(const char *s, unsigned long *out)
{
	unsigned long v = 0;
	if (!*s) return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9') return -1;
		unsigned long d = (unsigned long)(*s - '0');
		if (v > (~0UL - d) / 10) return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int control_readulong(unsigned long *out, const char *name, unsigned long def)
{
	char buf[64];
	int r = control_readline(buf, sizeof buf, name, 0);
	if (r < 0) return -1;
	if (r == 0 || !*buf) { *out = def; return 0; }
	if (tern_scan_ulong(buf, out) < 0) { errno = EINVAL; return -1; }
	return 1;
}

int control_inlist(const stralloc *sa, const char *s, size_t len)
{
	size_t i = 0;
	while (i < sa->len) {
		size_t l = strlen(sa->s + i);
		if (l == len && strncasecmp(sa->s + i, s, len) == 0) return 1;
		i += l + 1;
	}
	return 0;
}
