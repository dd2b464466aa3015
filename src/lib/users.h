/* users: the users database.  Text source $TERN_HOME/users/users, compiled atomically
 * into $TERN_HOME/users/users.cdb by tern-users.  Addresses are compared in lowercase.
 * Source lines (one record each, fields separated by ':'; '#' comments):
 *   D:domain                         a virtual domain
 *   U:local@domain:pwhash:dir        a user; pwhash empty until passwords exist;
 *                                    dir empty = $TERN_HOME/mail/domain/local
 *   A:local@domain:target,target...  an alias; A:@domain:target is a catch-all (opt-in)
 * cdb keys: "D" domain -> "";  "U" addr -> pwhash '\0' dir;  "A" addr -> targets, each
 * NUL-terminated;  "S" target -> the alias addresses (catch-alls left out) that list the
 * target, each NUL-terminated, in source order: the reverse of "A", for SMTP AUTH (which
 * senders may a login use).  pwhash is a crypt(3) hash: tern-users passwd writes yescrypt
 * ("$y$"), or SHA-512-crypt ("$6$") where libxcrypt has no yescrypt. */
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

/* Longest password, in bytes: libxcrypt hashes at most CRYPT_MAX_PASSPHRASE_SIZE (512)
 * bytes, its NUL included. */
#define USERS_MAXPASS 511

/* The password functions are in checkpw.c (they need libcrypt; most programs do not). */

/* Why pass (n bytes) cannot be a password, or 0 if it can: empty, over USERS_MAXPASS
 * bytes, or holding NUL, CR or LF. */
const char *users_passbad(const char *pass, size_t n);
/* A new crypt(3) hash of pass into out (size n, at least USERS_HASHSIZE): yescrypt with
 * libxcrypt's default cost, else SHA-512-crypt; the salt from the kernel's entropy.
 * 0, or -1 with errno (EINVAL for a password users_passbad refuses). */
#define USERS_HASHSIZE 256
int users_hashpass(const char *pass, size_t pn, char *out, size_t n);
/* Checks a login (local@domain, any case) and its password against the database: 1 good
 * (*u filled, if u is not 0), 0 bad (unknown login, no password set, wrong password, or
 * a hash crypt(3) cannot use), -1 error (errno).  The hashes compare in constant time,
 * and an unknown login or an empty hash still costs one crypt(3) of a fixed dummy hash,
 * so the time taken does not tell which logins exist. */
int users_checkpass(const char *login, size_t ln, const char *pass, size_t pn, struct user_rec *u);
/* 1 if the authenticated login (local@domain) may use from (fn bytes) as its envelope
 * sender, comparing without case: from is the login itself; or the login's local part,
 * control/delimiter (default "+") and an extension, in the login's domain, and no user or
 * alias of its own (as tern-local would deliver it to the login); or an alias (not a
 * catch-all) that lists the login among its targets.  0 if not, -1 error (errno). */
int users_mayuse(const char *login, size_t ln, const char *from, size_t fn);
void users_close(void);

#endif
