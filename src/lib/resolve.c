#include "resolve.h"

#include <stdio.h>
#include <string.h>
#include "addr.h"

int res_parse(struct res_rcpt *r, const char *local, size_t n, const char *domain, size_t dn,
	      const char *delim)
{
	if (n == 0 || dn == 0 || n > RES_ADDRMAX || dn >= sizeof r->domain || n + 1 + dn > RES_ADDRMAX) return -1;
	memcpy(r->local, local, n);
	r->local[n] = 0;
	addr_lower(r->local, n);
	memcpy(r->domain, domain, dn);
	r->domain[dn] = 0;
	addr_lower(r->domain, dn);
	snprintf(r->lower, sizeof r->lower, "%s@%s", r->local, r->domain);
	r->hasdelim = 0;
	r->base[0] = r->ext[0] = 0;
	/* A delimiter in first place is part of the name ("+list"), not an extension. */
	const char *d = *delim ? strstr(r->local + 1, delim) : 0;
	if (d) {
		r->hasdelim = 1;
		memcpy(r->base, r->local, (size_t)(d - r->local));
		r->base[d - r->local] = 0;
		snprintf(r->ext, sizeof r->ext, "%s", d + strlen(delim));
	}
	return 0;
}

int res_lookup(const char *a, stralloc *targets, struct user_rec *u)
{
	targets->len = 0;
	int r = users_findalias(a, strlen(a), targets);
	if (r) return r < 0 ? -1 : 1;
	r = users_finduser(a, strlen(a), u);
	if (r) return r < 0 ? -1 : 2;
	return 0;
}

static int sysacct_find(const char *name, struct sysacct *acct)
{
	if (!addr_pathsafe(name, strlen(name))) return 0;
	int r = getpw_mailbox(name, acct);
	if (r == -1) return RES_EGETPW;
	if (r == -2) return RES_EHOME;
	return r;
}

int res_local(const struct res_rcpt *r, stralloc *targets, struct user_rec *u, struct sysacct *acct,
	      char *key)
{
	size_t keyn = RES_ADDRMAX + 258;
	int k;
	snprintf(key, keyn, "%s", r->lower);
	if ((k = res_lookup(key, targets, u)) != 0) return k < 0 ? RES_EUSERS : k == 1 ? RES_ALIAS : RES_USER;
	if (r->hasdelim) {
		snprintf(key, keyn, "%s@%s", r->base, r->domain);
		if ((k = res_lookup(key, targets, u)) != 0)
			return k < 0 ? RES_EUSERS : k == 1 ? RES_EXT_ALIAS : RES_EXT_USER;
	}
	snprintf(key, keyn, "@%s", r->domain);
	targets->len = 0;
	k = users_findalias(key, strlen(key), targets);
	if (k) return k < 0 ? RES_EUSERS : RES_CATCHALL;
	k = users_systemaccounts(r->domain, strlen(r->domain));
	if (k < 0) return RES_ECONTROL;
	if (k) {
		snprintf(key, keyn, "%s", r->local);
		if ((k = sysacct_find(key, acct)) != 0) return k < 0 ? k : RES_SYSTEM;
		if (r->hasdelim) {
			snprintf(key, keyn, "%s", r->base);
			if ((k = sysacct_find(key, acct)) != 0) return k < 0 ? k : RES_SYSTEM_EXT;
		}
	}
	if (users_role(r->local, strlen(r->local))) {
		snprintf(key, keyn, "%s", r->lower);
		return RES_ROLE;
	}
	return RES_NONE;
}
