/* smtp: the server side's reading, writing and argument parsing (RFC 5321, 6531).
 * Input is read through one buffer, so commands and DATA share it and pipelined
 * commands are never lost; output is buffered and flushed before a read would block
 * (RFC 2920). */
#ifndef TERN_SMTP_H
#define TERN_SMTP_H
#include <stddef.h>

#define SMTP_LINEMAX 512	/* a command line, CRLF included (RFC 5321 4.5.3.1.4) */
#define SMTP_LOCALMAX 64	/* 4.5.3.1.1 */
#define SMTP_DOMAINMAX 255	/* 4.5.3.1.2 */
#define SMTP_PATHMAX 256	/* 4.5.3.1.3, brackets included */

struct smtp_io {
	int in, out;
	unsigned timeout;	/* seconds a read may wait */
	size_t pos, len;
	char ibuf[16384];
	size_t olen;
	char obuf[4096];
};

/* Results of smtp_getline and smtp_fill. */
#define SMTP_OK 0
#define SMTP_EOF -1		/* the client closed, or a read error */
#define SMTP_TIMEOUT -2
#define SMTP_TOOLONG -3		/* over SMTP_LINEMAX; the rest of the line was read and dropped */
#define SMTP_BARELF -4		/* the line ended in LF without CR */
#define SMTP_BARECR -5		/* a CR not followed by LF inside the line */

void smtp_init(struct smtp_io *io, int in, int out, unsigned timeout);
/* Makes sure at least one unread byte is buffered (flushing output first if a read is
 * needed).  SMTP_OK, SMTP_EOF or SMTP_TIMEOUT. */
int smtp_fill(struct smtp_io *io);
/* 1 if input is buffered or readable right now (the client is talking). */
int smtp_pending(struct smtp_io *io, int wait_ms);
/* One command line without its CRLF into line (NUL-terminated, *n bytes, may hold NULs).
 * Returns SMTP_OK or one of the errors above; on TOOLONG/BARELF/BARECR the whole line has
 * been consumed. */
int smtp_getline(struct smtp_io *io, char line[SMTP_LINEMAX + 1], size_t *n);
/* The same with another limit: max bytes with the CRLF (at least 3), line has max + 1. */
int smtp_getline_max(struct smtp_io *io, char *line, size_t max, size_t *n);
/* Queue reply bytes; smtp_flush writes them.  -1 on a write error. */
void smtp_put(struct smtp_io *io, const char *s, size_t n);
void smtp_puts(struct smtp_io *io, const char *s);
/* A write that takes longer than the timeout is ended by SIGALRM (its default action
 * ends the process). */
int smtp_flush(struct smtp_io *io);

/* A reverse-path or forward-path.  addr is local@domain with quoting removed from the local
 * part and the domain lowercased, or "" for the null path <>.  A source route is dropped. */
struct smtp_path {
	char addr[SMTP_PATHMAX + 1];
	size_t len;
	size_t at;		/* position of the '@' in addr, or len (e.g. <postmaster>) */
	int eightbit;		/* bytes >= 0x80 appear (needs SMTPUTF8) */
};
/* Parses "<path>" at the start of s (n bytes).  *rest points after the '>'.  Returns 0, or
 * -1 with *why (a reply text with its enhanced code's detail: "5.1.3 ...").  A path without
 * a domain is allowed only when nodomain_ok (RCPT TO:<postmaster>). */
int smtp_parse_path(const char *s, size_t n, int nodomain_ok, struct smtp_path *p,
		    const char **rest, const char **why);
/* 1 if the n bytes are well-formed UTF-8 (RFC 3629). */
int smtp_utf8_valid(const char *s, size_t n);
/* Next "NAME[=VALUE]" of a parameter list: skips spaces, returns 1 with name/value spans
 * (value may be empty; name uppercased in place), 0 at the end, -1 on a malformed one. */
int smtp_next_param(char **s, char *end, char **name, size_t *nlen, char **val, size_t *vlen);

#endif
