/* dotern: delivery instruction files (.tern, .tern-EXT; doc/dot-tern.5).
 * One instruction per line, in order:
 *   # comment, blank            ignored
 *   ./path/   /abs/path/        Maildir (the path ends in '/')
 *   ./path    /abs/path         mbox file
 *   |command                    program, run by /bin/sh -c
 *   &address                    forward
 * Blanks (space, tab, CR) around a line are ignored, and after '|' and '&'. */
#ifndef TERN_DOTERN_H
#define TERN_DOTERN_H
#include <stddef.h>

#define DOTERN_MAXFILE (64 * 1024)	/* a bigger instruction file is an error */
#define DOTERN_MAXLINE 4000		/* longest instruction, blanks trimmed */
#define DOTERN_MAXLINES 1000		/* most instructions in one file */

enum dotern_kind { DT_MAILDIR = 1, DT_MBOX, DT_PROGRAM, DT_FORWARD };

struct dotern_line {
	enum dotern_kind kind;
	const char *arg;	/* path, command or address: points into the buffer, not NUL-terminated */
	size_t len;		/* at least 1 */
	size_t lineno;		/* 1-based line number in the file */
	size_t index;		/* 0-based number among the instructions */
};

struct dotern_iter {
	const char *s;
	size_t len, pos, lineno, count;
};

/* Starts reading the file s (len bytes). */
void dotern_init(struct dotern_iter *it, const char *s, size_t len);
/* Next instruction.  Returns 1 with *l filled, 0 at the end, -1 on a bad line: *err then
 * names the problem and l->lineno the line (0 for the whole file).  A file over
 * DOTERN_MAXFILE, a NUL byte, a line over DOTERN_MAXLINE, more than DOTERN_MAXLINES
 * instructions, an unknown first character, an empty command or address, a control byte
 * in a path or an address, and a path that is only "./" or "/" are errors. */
int dotern_next(struct dotern_iter *it, struct dotern_line *l, const char **err);
/* Whole file check: 0 when every line parses, else -1 with *err and *lineno set;
 * *ninstr gets the number of instructions. */
int dotern_check(const char *s, size_t len, size_t *ninstr, size_t *lineno, const char **err);
/* Short name of a kind: "maildir", "mbox", "program", "forward". */
const char *dotern_kindname(enum dotern_kind k);

#endif
