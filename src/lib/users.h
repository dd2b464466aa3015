/* users: the users database.  Text source $TERN_HOME/users/users, compiled atomically
 * into $TERN_HOME/users/users.cdb by tern-users.  Addresses are compared in lowercase.
 * Source lines (one record each, fields separated by ':'; '#' comments):
 *   D:domain                         a virtual domain
 *   U:local@domain:pwhash:dir        a user; pwhash empty until passwords exist;
 *                                    dir empty = $TERN_HOME/mail/domain/local
 *   A:local@domain:target,target...  an alias; A:@domain:target is a catch-all (opt-in)
 * cdb keys: "D" domain -> "";  "U" addr -> pwhash '\0' dir;  "A" addr -> targets, each
 * NUL-terminated. */
#ifndef TERN_USERS_H
#define TERN_USERS_H
#include <stddef.h>
#include <stralloc.h>

struct user_rec {
	char addr[512];		/* local@domain, lowercase */
	char pwhash[256];	/* crypt(3) hash, or "" */
	char dir[1024];		/* the user's directory (holds .tern and Maildir/) */
};

/* Each lookup opens the cdb if needed, and reopens it when users/users.cdb is no longer
 * the open file (a rebuild renames a new one into place), so no reader needs telling.
 * users_close() drops the cdb and the cached control/locals (call it after SIGHUP).
 * Lookups return 1 found, 0 not found, -1 error (errno); a missing cdb is an empty
 * database, not an error. */
int users_isdomain(const char *domain, size_t n);
/* 1 if the domain is local: listed in control/locals or a virtual domain. */
int users_islocal(const char *domain, size_t n);
int users_finduser(const char *addr, size_t n, struct user_rec *u);
/* Targets appended to sa, each NUL-terminated. Tries the exact address only. */
int users_findalias(const char *addr, size_t n, stralloc *targets);
/* 1 if local (n bytes) is postmaster, abuse or mailer-daemon, in any case: these
 * always resolve, whatever the database holds. */
int users_role(const char *local, size_t n);
/* 1 if system accounts may get mail at domain: control/systemaccounts (default 1 when
 * running as root) and the domain listed in control/locals.  0 no, -1 error (errno). */
int users_systemaccounts(const char *domain, size_t n);
void users_close(void);

#endif
