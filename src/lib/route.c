#include <stdio.h>
#include <string.h>
#include "addr.h"
#include "route.h"

int route_parse(const char *line, const char **dom, size_t *dlen, struct route *r)
{
	const char *c = strchr(line, ':');
	if (!c) return -1;
	*dom = line;
	*dlen = (size_t)(c - line);
	const char *h = c + 1, *e;
	r->port = 25;
	if (*h == '[') {
		e = strchr(h, ']');
		if (!e) return -1;
		e++;
	} else {
		e = strchr(h, ':');
		if (!e) e = h + strlen(h);
	}
	size_t hl = (size_t)(e - h);
	if (hl >= sizeof r->host) return -1;
	memcpy(r->host, h, hl);
	r->host[hl] = 0;
	addr_lower(r->host, hl);
	while (hl && r->host[hl - 1] == '.') r->host[--hl] = 0;
	if (*e == ':') {
		unsigned long p = 0;
		const char *d = e + 1;
		if (!*d) return -1;
		for (; *d; d++) {
			if (*d < '0' || *d > '9') return -1;
			p = p * 10 + (unsigned long)(*d - '0');
			if (p > 65535) return -1;
		}
		if (p == 0) return -1;
		r->port = (unsigned)p;
	} else if (*e) return -1;
	return 0;
}

/* The first line whose domain part is key (klen bytes, case-insensitive), if any. */
static const char *find(const stralloc *lines, const char *key, size_t klen, route_split *split, void *arg)
{
	for (size_t i = 0; i < lines->len;) {
		const char *line = lines->s + i;
		size_t dl;
		i += strlen(line) + 1;
		if (split(line, &dl, arg) != 0) continue;
		while (dl && line[dl - 1] == '.') dl--;
		if (dl != klen) continue;
		if (strncasecmp(line, key, klen) == 0) return line;
	}
	return 0;
}

const char *route_match(const stralloc *lines, const char *domain, size_t n, route_split *split, void *arg)
{
	const char *l;
	while (n && domain[n - 1] == '.') n--;
	if (!lines || !lines->len) return 0;
	if ((l = find(lines, domain, n, split, arg))) return l;
	for (size_t i = 0; i < n; i++)
		if (domain[i] == '.' && (l = find(lines, domain + i, n - i, split, arg))) return l;
	return find(lines, "", 0, split, arg);
}

static int split_route(const char *line, size_t *dlen, void *arg)
{
	const char *dom;
	return route_parse(line, &dom, dlen, arg);
}

int route_lookup(const stralloc *lines, const char *domain, size_t n, struct route *r)
{
	/* The matching line was parsed last: r holds its relay. */
	if (route_match(lines, domain, n, split_route, r)) return 1;
	r->host[0] = 0;
	r->port = 25;
	return 0;
}

int route_dest(char *out, size_t n, const struct route *r, const char *domain, size_t dlen)
{
	int k;
	if (r->host[0]) k = snprintf(out, n, "%s:%u", r->host, r->port);
	else k = snprintf(out, n, "%.*s", (int)dlen, domain);
	if (k < 0 || (size_t)k >= n) return -1;
	if (!r->host[0]) {
		addr_lower(out, (size_t)k);
		while (k && out[k - 1] == '.') out[--k] = 0;
	}
	return 0;
}
