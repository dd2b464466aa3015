/* userdb: the text source of the users database (doc/users.5) in memory: parsing and
 * checking lines, editing records, writing the text back and compiling the cdb that
 * users.h reads.  Shared by tern-users and the fuzz target; lookups live in users.c.
 *
 * A line is a record "D:domain", "U:local@domain:pwhash:dir", "A:local@domain:targets"
 * (or "A:@domain:targets", a catch-all), a comment (first non-blank byte '#') or blank.
 * Blanks (space, tab, CR) around a line are ignored.  No field holds ':', white space or
 * a control byte; addresses and domains are lowercased in place when parsed. */
#ifndef TERN_USERDB_H
#define TERN_USERDB_H
#include <stddef.h>
#include <stralloc.h>

#define USERDB_MAXSRC (64UL * 1024 * 1024)	/* a bigger source is refused */
#define USERDB_MAXLINE 65536			/* longest line, blanks included */
#define USERDB_MAXADDR 511			/* local@domain; fits user_rec.addr */
#define USERDB_MAXLOCAL 255
#define USERDB_MAXPW 255			/* fits user_rec.pwhash */
#define USERDB_MAXDIR 1023			/* fits user_rec.dir */
#define USERDB_MAXTARGETS 1000			/* targets of one alias */

struct userdb_line {
	char kind;		/* 'D', 'U', 'A'; 0 for a blank or comment line */
	char *addr;		/* D: the domain; U, A: local@domain ("@domain" for a catch-all) */
	size_t addrlen;
	size_t at;		/* U, A: position of the '@' in addr */
	char *pwhash;		/* U: the password hash, may be empty */
	size_t pwlen;
	char *dir;		/* U: the directory, may be empty (the default) */
	size_t dirlen;
	char *targets;		/* A: targets separated by ',' */
	size_t tlen;
	size_t ntargets;
};

/* Parses one line s (n bytes, no '\n'), in place.  0 with *l filled, or -1 with *err
 * naming the problem. */
int userdb_parse(char *s, size_t n, struct userdb_line *l, const char **err);

/* Checks for single fields (the argument checks of tern-users use them too).  The ones
 * taking char * lowercase it first.  0 ok, -1 with *err. */
int userdb_domain(char *d, size_t n, const char **err);
/* local@domain; with catchall, "@domain" too.  *at gets the position of the '@'. */
int userdb_address(char *a, size_t n, int catchall, size_t *at, const char **err);
int userdb_target(char *t, size_t n, const char **err);
int userdb_dir(const char *d, size_t n, const char **err);
int userdb_pwhash(const char *p, size_t n, const char **err);

struct userdb_ent {
	char *text;		/* the line, without '\n' (lowercased where parsed) */
	size_t len;
	size_t lineno;		/* 1-based line in the source; 0 for a line added since */
	int gone;		/* deleted: not written back */
	char *own;		/* text allocated for this entry (freed by userdb_free) */
	const char *bad;	/* why the line does not parse, or 0 */
	struct userdb_line rec;
};

struct userdb_err {
	size_t lineno;		/* the bad line */
	size_t other;		/* for a duplicate: the line of the first definition, else 0 */
	const char *msg;
};

struct userdb {
	char *buf;		/* the source, split into lines in place */
	struct userdb_ent *ent;
	size_t nent, capent;
	struct userdb_err *err;	/* bad lines, in line order */
	size_t nerr, caperr;
};

/* Loads a whole source (len bytes; copied), parses every line and looks for duplicate
 * records: a domain twice, an address twice (as user or alias, in any mix).  Bad lines
 * go to db->err.  Returns 0, or -1 with errno (ENOMEM; EFBIG over USERDB_MAXSRC). */
int userdb_load(struct userdb *db, const char *src, size_t len);
/* Looks for duplicates again (after edits), replacing db->err.  Number of errors, or -1
 * with errno ENOMEM. */
long userdb_check(struct userdb *db);
/* Index of the live record of kind ('D', 'U', 'A') with that key (lowercase), or -1. */
long userdb_find(const struct userdb *db, char kind, const char *key, size_t n);
/* Sets a record from a line: it replaces entry idx, or is appended when idx is -1.
 * 0 ok, -1 the line is bad (*err), -2 no memory. */
int userdb_put(struct userdb *db, long idx, const char *line, size_t n, const char **err);
void userdb_del(struct userdb *db, size_t idx);
/* The source text, every live line ending in '\n', appended to out.  1 ok, 0 no memory. */
int userdb_text(const struct userdb *db, stralloc *out);
/* Compiles the live records into a cdb written to fd (a regular file at offset 0; not
 * synced, not closed): a key per record, and the "S" keys that reverse the aliases
 * (users.h).  0, or -1 with errno. */
int userdb_cdb(const struct userdb *db, int fd);
void userdb_free(struct userdb *db);

/* Sorting for listings: indexes of the live records of kind into *idx (malloc'd), in
 * byte order of their keys.  The count, or -1 with errno ENOMEM. */
long userdb_sorted(const struct userdb *db, char kind, size_t **idx);

#endif
