#include "prot.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>
#include "control.h"

int prot_drop(uid_t uid, gid_t gid)
{
	/* Already those ids (a test's own, inside a user namespace where setgroups is
	 * refused): nothing to drop. */
	if (getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid) return 0;
	if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) return -1;
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) {
		errno = EPERM;
		return -1;
	}
	/* A dropped process must not be able to take root back. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int prot_scan(const char *s, uid_t *uid, gid_t *gid)
{
	char u[32];
	const char *colon = strchr(s, ':');
	unsigned long a, b;
	if (!colon || (size_t)(colon - s) >= sizeof u) return -1;
	memcpy(u, s, (size_t)(colon - s));
	u[colon - s] = 0;
	if (tern_scan_ulong(u, &a) != 0 || tern_scan_ulong(colon + 1, &b) != 0) return -1;
	if (a > 0x7fffffffUL || b > 0x7fffffffUL) return -1;
	*uid = (uid_t)a;
	*gid = (gid_t)b;
	return 0;
}
