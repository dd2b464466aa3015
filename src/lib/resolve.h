/* resolve: who takes mail for a local address.  The one order, used by tern-smtpd to
 * answer RCPT (does it exist?) and by tern-local to deliver (where does it go?), so the
 * two can never disagree (a recipient accepted at RCPT time and then bounced is
 * backscatter):
 *   1 alias           the address is an alias (A:)
 *   2 user            the address is a user (U:)
 *   3 extension alias base+ext: base@domain is an alias
 *   4 extension user  base@domain is a user
 *   5 catch-all       A:@domain
 *   6 system account  the local part, then the base, is an account of the system
 *                     (control/systemaccounts and a domain in control/locals)
 *   7 role            postmaster, abuse, mailer-daemon: always taken
 * The extension is what follows the first control/delimiter (default "+") after the
 * first byte of the local part. */
#ifndef TERN_RESOLVE_H
#define TERN_RESOLVE_H
#include <stddef.h>
#include <stralloc.h>
#include "getpw.h"
#include "users.h"

#define RES_ADDRMAX 1000	/* longest address (tern-queue's queuemaxaddrlen default) */

struct res_rcpt {
	char lower[RES_ADDRMAX + 258];	/* local@domain, lowercase */
	char local[RES_ADDRMAX + 1];	/* lowercase */
	char domain[256];		/* lowercase */
	char base[RES_ADDRMAX + 1];	/* local part before the delimiter */
	char ext[RES_ADDRMAX + 1];	/* after it */
	int hasdelim;
};

enum res_step {
	RES_NONE = 0, RES_ALIAS, RES_USER, RES_EXT_ALIAS, RES_EXT_USER, RES_CATCHALL,
	RES_SYSTEM, RES_SYSTEM_EXT, RES_ROLE
};
/* Errors (errno set): */
#define RES_EUSERS -1		/* the users database is unreadable */
#define RES_ECONTROL -2		/* control/systemaccounts or control/locals unreadable */
#define RES_EGETPW -3		/* tern-getpw failed */
#define RES_EHOME -4		/* a system account's home could not be examined */

/* Fills r from local (n bytes) and domain (dn bytes): lowercased, split at delim ("" for
 * none).  0, or -1 when a part is empty or too long. */
int res_parse(struct res_rcpt *r, const char *local, size_t n, const char *domain, size_t dn,
	      const char *delim);
/* Steps 1 and 2 for one address a (lowercase): 1 an alias (its targets in targets), 2 a
 * user (in u), 0 neither, -1 the users database is unreadable (errno). */
int res_lookup(const char *a, stralloc *targets, struct user_rec *u);
/* Which step takes r, whose domain the caller knows to be local: a step, RES_NONE (no such
 * user: 5.1.1), or an error above.  What the step found is left in targets (the alias
 * steps), u (the user steps) or acct (the system steps); the key that matched in key
 * (room for RES_ADDRMAX + 258 bytes): the address, base@domain or @domain. */
int res_local(const struct res_rcpt *r, stralloc *targets, struct user_rec *u, struct sysacct *acct,
	      char *key);

#endif
