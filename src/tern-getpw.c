/* tern-getpw: looks up one system account for tern-local and tern-smtpd.
 *   tern-getpw NAME
 * Prints "UID GID HOME" and a second line with the supplementary group ids, comma
 * separated (may be empty); exit 0 found, 100 no such account, 111 lookup failed.
 * It is a program of its own (qmail-getpw's idea) so that only it links glibc's NSS
 * dynamically: the delivery programs stay static, which makes every delivery cheaper,
 * and NSS modules (systemd, ldap, sss) crash inside static binaries. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "die.h"

#define MAXGROUPS 1024

int main(int argc, char **argv)
{
	tern_prog = "tern-getpw";
	if (argc != 2 || !*argv[1]) tern_die(111, "usage: tern-getpw NAME");
	errno = 0;
	struct passwd *pw = getpwnam(argv[1]);
	if (!pw) {
		if (errno && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM)
			tern_die_sys(111, "looking up ", argv[1]);
		return 100;
	}
	if (strchr(pw->pw_dir, '\n')) tern_die(111, "home directory of ", argv[1], " holds a newline");
	static gid_t groups[MAXGROUPS];
	int n = MAXGROUPS;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0) tern_die(111, "too many groups for ", argv[1]);
	printf("%lu %lu %s\n", (unsigned long)pw->pw_uid, (unsigned long)pw->pw_gid, pw->pw_dir);
	for (int i = 0; i < n; i++) printf(i ? ",%lu" : "%lu", (unsigned long)groups[i]);
	printf("\n");
	if (fflush(stdout) != 0 || ferror(stdout)) tern_die_sys(111, "writing the answer");
	return 0;
}
