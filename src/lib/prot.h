/* prot: dropping privileges for good. */
#ifndef TERN_PROT_H
#define TERN_PROT_H
#include <sys/types.h>

/* setgroups to gid alone, setgid, setuid, then checks that none can be undone.
 * 0, or -1 with errno. */
int prot_drop(uid_t uid, gid_t gid);
/* "UID:GID", both decimal, into *uid and *gid.  0, or -1 when malformed. */
int prot_scan(const char *s, uid_t *uid, gid_t *gid);

#endif
