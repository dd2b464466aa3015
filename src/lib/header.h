/* header: RFC 5322 header fields and address lists.
 * All functions work on bytes with LF line ends (CRLF is accepted where noted); nothing
 * here allocates except into the caller's stralloc. */
#ifndef TERN_HEADER_H
#define TERN_HEADER_H
#include <stddef.h>
#include <stralloc.h>

/* Longest line a header field may have, without its line end (RFC 5322 2.1.1). */
#define HEADER_LINEMAX 998

/* Length of the field name if line (len bytes, no line end needed) starts a header field:
 * one or more printable ASCII bytes (33..126) other than ':', then ':'.  0 otherwise. */
size_t header_namelen(const char *line, size_t len);

struct header_field {
	const char *name;	/* the name, without the ':' */
	size_t namelen;
	const char *value;	/* after the ':', folded lines included, final line end excluded */
	size_t valuelen;
	size_t start, end;	/* the raw field in the block: [start, end), final '\n' included */
};

/* Iterates the fields of a header block s (len bytes): a field is a line that
 * header_namelen accepts plus the following lines that begin with space or tab.
 * Lines that are neither are skipped.  Start with *pos = 0; returns 1 with *f filled,
 * 0 at the end. */
int header_next(const char *s, size_t len, size_t *pos, struct header_field *f);
/* 1 if the field's name is name, ignoring ASCII case. */
int header_is(const struct header_field *f, const char *name);

/* Unfolds a value: removes every line end (LF or CRLF) that is followed by a space or
 * tab, and a trailing line end.  Appends to out.  1 ok, 0 no memory. */
int header_unfold(stralloc *out, const char *v, size_t n);

/* Parses an address list (To, Cc, Bcc, Resent-*, and the like): display names, quoted
 * strings, comments, groups ("undisclosed-recipients:;"), <angle> forms with or without
 * an obsolete source route, empty elements, folded lines.  A ';' outside a group is taken
 * as a ',' (a common mistake).  Each address is appended to out as local@domain (or just
 * local when it has no domain), quotes and quoted-pairs decoded, comments and white space
 * removed, NUL-terminated; "<>" gives nothing.  *count (if not 0) is increased by the
 * number appended.
 * Returns 0, or -1: syntax error (out is left as it was on entry; *count too), or no memory
 * (errno ENOMEM).  An address holding a control byte, an empty local part or an empty
 * domain is a syntax error. */
int header_addrlist(const char *s, size_t n, stralloc *out, size_t *count);

/* Appends a display name in a form safe for a header: as is when it is a sequence of
 * atoms separated by single spaces, else as a quoted string; control bytes (CR and LF
 * included) are dropped, runs of white space become one space.  1 ok, 0 no memory. */
int header_phrase(stralloc *out, const char *name, size_t n);
/* Appends a local part as is when it is a dot-atom, else as a quoted string.  1 or 0. */
int header_localpart(stralloc *out, const char *local, size_t n);

#endif
