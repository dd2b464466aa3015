/* route: control/smtproutes, where mail for a domain goes instead of its MX (qmail's
 * format, doc/control.md).  Lines "domain:relay", each relay "host", "host:port",
 * "[ip]" or "[ip]:port" (an IPv6 literal as "[IPv6:addr]"), or empty for "look up
 * the MX as usual":
 *   example.org:relay.example.net     exactly this domain
 *   .example.org:relay.example.net    every subdomain of example.org (not itself)
 *   :smarthost.example.net:587        every domain no other line names
 * The first matching line in that order wins: the domain itself, then its parent
 * suffixes from the longest, then the default.  Used by tern-remote to route and by
 * tern-send to group deliveries by destination. */
#ifndef TERN_ROUTE_H
#define TERN_ROUTE_H
#include <stddef.h>
#include <stralloc.h>

struct route {
	char host[256];		/* relay host, or "[literal]"; "" = the domain's MX */
	unsigned port;		/* 25 unless the line says */
};

/* Parses one smtproutes line into its domain part (*dom, *dlen, pointing into line) and
 * relay.  0, or -1 when the line is malformed (no ':', a bad port, an unclosed '['). */
int route_parse(const char *line, const char **dom, size_t *dlen, struct route *r);
/* Route for domain (n bytes, any case) given the lines of smtproutes (control_readlines).
 * 1 a line matched (r->host may still be "" for MX), 0 none (r->host = "", port 25). */
int route_lookup(const stralloc *lines, const char *domain, size_t n, struct route *r);
/* The lookup behind route_lookup, for any table of "domain:value" lines (control/
 * tlsdestinations uses it too): the line for the domain itself, else for each parent
 * suffix ".parent" from the longest, else the default line (empty domain).  A route_split
 * gives a line's domain part: 0 with *dlen its length (the domain starts the line; trailing
 * dots are ignored), or -1 for a line that does not count.  Returns the matching line
 * (split was called on it last), or 0. */
typedef int route_split(const char *line, size_t *dlen, void *arg);
const char *route_match(const stralloc *lines, const char *domain, size_t n, route_split *split, void *arg);
/* The destination a delivery is grouped by: "host:port" of a relay, else the domain in
 * lowercase.  Into out (size n); 0, or -1 if it does not fit. */
int route_dest(char *out, size_t n, const struct route *r, const char *domain, size_t dlen);

#endif
