/* getpw: system accounts through tern-getpw(8), so that callers can stay static. */
#ifndef TERN_GETPW_H
#define TERN_GETPW_H
#include <stddef.h>
#include <sys/types.h>

#define GETPW_MAXGROUPS 1024

struct sysacct {
	uid_t uid;
	gid_t gid;
	char home[4096];
	size_t ngroups;
	gid_t groups[GETPW_MAXGROUPS];	/* supplementary groups, the primary one included */
};

/* Runs tern-getpw NAME.  1 found (a filled), 0 no such account, -1 the lookup failed. */
int getpw_find(const char *name, struct sysacct *a);
/* A system account that may get mail: found, not root (root gets mail by alias), with an
 * absolute home that is a directory it owns.  1 yes (a filled), 0 no, -1 the lookup
 * failed, -2 the home could not be examined (errno set for both). */
int getpw_mailbox(const char *name, struct sysacct *a);

#endif
