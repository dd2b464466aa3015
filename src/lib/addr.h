/* addr: envelope addresses (local@domain) and the one function that lets an address
 * part become a path component. */
#ifndef TERN_ADDR_H
#define TERN_ADDR_H
#include <stddef.h>

/* Position of the '@' that separates local part and domain (the last one), or len if none. */
size_t addr_at(const char *a, size_t len);
/* ASCII-lowercase n bytes in place. */
void addr_lower(char *s, size_t n);
/* 1 if s (n bytes) may be used as one path component: 1..255 bytes, no '/', no NUL or
 * control bytes, does not start with '.', not "." or "..".  The only gate between
 * outside input and a file name (DESIGN invariant 3). */
int addr_pathsafe(const char *s, size_t n);
/* 1 if domain (n bytes) is a syntactically plausible DNS name or [literal]. */
int addr_domain_ok(const char *d, size_t n);

#endif
