#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include "home.h"
#include "control.h"

#ifndef TERN_HOME_DEFAULT
#define TERN_HOME_DEFAULT "/var/tern"
#endif
#ifndef TERN_BINDIR
#define TERN_BINDIR "/usr/local/bin"
#endif

const char *tern_home(void)
{
	static const char *home;
	if (home) return home;
	const char *h = getauxval(AT_SECURE) ? 0 : getenv("TERN_HOME");
	home = (h && *h) ? h : TERN_HOME_DEFAULT;
	return home;
}

static int join(char *out, size_t n, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la + 1 + lb + 1 > n) return -1;
	memcpy(out, a, la);
	out[la] = '/';
	memcpy(out + la + 1, b, lb + 1);
	return 0;
}

int tern_path(char *out, size_t n, const char *rel)
{
	return join(out, n, tern_home(), rel);
}

const char *tern_bindir(void)
{
	static char dir[4096];
	if (*dir) return dir;
	ssize_t r = readlink("/proc/self/exe", dir, sizeof dir - 1);
	if (r > 0 && (size_t)r < sizeof dir - 1) {
		dir[r] = 0;
		char *slash = strrchr(dir, '/');
		if (slash && slash != dir) { *slash = 0; return dir; }
	}
	if (strlen(TERN_BINDIR) < sizeof dir) memcpy(dir, TERN_BINDIR, strlen(TERN_BINDIR) + 1);
	return dir;
}

int tern_binpath(char *out, size_t n, const char *name)
{
	return join(out, n, tern_bindir(), name);
}

const char *tern_me(void)
{
	static char me[256];
	if (*me) return me;
	if (control_readline(me, sizeof me, "me", 0) > 0) return me;
	if (gethostname(me, sizeof me - 1) != 0 || !*me) memcpy(me, "localhost", 10);
	me[sizeof me - 1] = 0;
	return me;
}
