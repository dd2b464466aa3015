/* pop3: what tern-pop3d and tern-pop3d-box parse and produce (RFC 1939, 2449, 5034):
 * command lines, message numbers, a message's CRLF form (size, dot-stuffing, TOP) and
 * UIDLs from Maildir file names.  No I/O here: everything works on caller's buffers. */
#ifndef TERN_POP3_H
#define TERN_POP3_H
#include <stddef.h>

#define POP3_LINEMAX 255	/* a command line, CRLF included (RFC 2449 section 4) */
#define POP3_UIDLMAX 70		/* RFC 1939 section 7 */

enum pop3_cmd {
	P3_UNKNOWN, P3_USER, P3_PASS, P3_APOP, P3_AUTH, P3_STLS, P3_CAPA, P3_QUIT,
	P3_STAT, P3_LIST, P3_RETR, P3_DELE, P3_NOOP, P3_RSET, P3_TOP, P3_UIDL
};

#define POP3_MAXARGS 2
struct pop3_req {
	enum pop3_cmd cmd;
	const char *rest;	/* everything after the keyword's space (USER, PASS), NUL-ended */
	size_t restlen;
	size_t nargs;		/* arguments split on spaces, at most POP3_MAXARGS */
	const char *arg[POP3_MAXARGS];
	size_t alen[POP3_MAXARGS];
	int toomany;		/* more than POP3_MAXARGS arguments */
};

/* Splits a command line (n bytes, no CRLF, line[n] == 0).  The keyword (case ignored)
 * ends at the first space; the arguments are separated by spaces (runs of them count as
 * one; leading and trailing ones are ignored).  0, or -1 when the line is empty, the
 * keyword is empty or longer than 4, or the line holds a NUL or a control byte (bytes
 * 0x80 and up are allowed: passwords may be UTF-8).  An unknown keyword is P3_UNKNOWN. */
int pop3_parse(const char *line, size_t n, struct pop3_req *r);

#define POP3_NUM_SYNTAX -1	/* not a number: empty, a sign, junk, a space */
#define POP3_NUM_RANGE -2	/* a number, but 0 or over the count */
/* A message number: decimal digits only (leading zeros allowed), 1..count.  0 with *out,
 * or POP3_NUM_SYNTAX / POP3_NUM_RANGE.  Never overflows, whatever the length. */
int pop3_msgnum(const char *s, size_t n, size_t count, size_t *out);
/* TOP's line count: decimal digits only, 0 allowed; a value too big for unsigned long
 * long becomes its maximum.  0, or POP3_NUM_SYNTAX. */
int pop3_count(const char *s, size_t n, unsigned long long *out);

/* ---- a message in its CRLF form ----
 * Every LF not preceded by CR becomes CRLF; every other byte is sent as it is.  A message
 * that does not end in LF gets a CRLF at its end (an empty one gets nothing).  On the wire
 * a '.' starting a line is doubled (dot-stuffing).  The size (LIST, STAT) is that of the
 * CRLF form without the stuffing: what a client has after undoing it. */

struct pop3_conv {
	int bol;		/* at the start of a line */
	int prevcr;		/* the last byte was CR */
	int crline;		/* the line so far is one CR (an empty CRLF line may follow) */
	int inbody;		/* the empty line ending the header was sent */
	int done;		/* TOP: all its lines are out; nothing more is converted */
	int limited;		/* TOP: lines counts the body lines still to send */
	unsigned long long lines;
	unsigned long long size;	/* bytes of CRLF form so far, stuffing not counted */
	int any;		/* a byte was seen */
};

/* lines: -1 for the whole message (RETR, a size), else TOP's count. */
void pop3_conv_init(struct pop3_conv *c, long long lines);
/* Converts in (n bytes) into out, which has room for 2 * n bytes; stuff: double leading
 * dots.  Returns the bytes written; *used says how many of in were consumed (all of them
 * unless TOP's lines are done: then c->done is set). */
size_t pop3_conv(struct pop3_conv *c, const char *in, size_t n, size_t *used, char *out, int stuff);
/* The end of the message: CRLF if one is owed (out has room for 2).  The bytes written. */
size_t pop3_conv_end(struct pop3_conv *c, char *out);
/* The size of n more bytes, counting into c->size (pop3_conv_end adds the final CRLF). */
void pop3_size(struct pop3_conv *c, const char *in, size_t n);

/* ---- Maildir file names ---- */

/* The unique part of a Maildir file name: the bytes before the first ':' (all of name
 * when it has none).  Returns its length. */
size_t pop3_uniqlen(const char *name, size_t n);
/* The ",W=<size>" field of the unique part (Dovecot's and tern's CRLF size), if any.
 * 1 with *w, 0 if there is none or it is malformed. */
int pop3_wsize(const char *name, size_t n, unsigned long long *w);
/* The UIDL of a file name (n bytes) into out (room for POP3_UIDLMAX + 1): its unique part
 * without ",S=" and ",W=" fields; when that is longer than POP3_UIDLMAX or holds a byte
 * outside 0x21..0x7E, "~" and the first 32 hex digits of the SHA-256 of the unique part
 * (a real unique part never starts with "~": a tern name starts with digits).  Returns
 * the length. */
size_t pop3_uidl(const char *name, size_t n, char *out);
/* A UIDL for a file whose UIDL clashed with another's: "~" and 32 hex digits of the
 * SHA-256 of the whole name with a leading '!'. */
size_t pop3_uidl_alt(const char *name, size_t n, char *out);

#endif
