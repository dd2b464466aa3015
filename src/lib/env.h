/* env: the qmail-queue envelope: 'F' sender '\0', then 'T' recipient '\0' for each
 * recipient, then a final '\0'.  Stored in the queue exactly as received. */
#ifndef TERN_ENV_H
#define TERN_ENV_H
#include <stddef.h>
#include <stralloc.h>

struct env_limits {
	size_t maxaddr;		/* longest address in bytes */
	size_t maxrcpt;		/* most recipients */
};

/* Exit codes of the qmail-queue protocol that envelope handling can produce. */
#define ENV_OK 0
#define ENV_TOOLONG 11
#define ENV_NOMEM 51
#define ENV_READ 54
#define ENV_FORMAT 91

#define ENV_MAXBYTES (256UL * 1024 * 1024)	/* no envelope is bigger, whatever the limits */

/* Checks a whole envelope in memory; returns ENV_OK or the exit code; counts recipients. */
int env_parse(const char *s, size_t len, const struct env_limits *lim, size_t *nrcpt);
/* Reads one envelope from fd up to and including its final '\0', appending it to sa,
 * then checks it with env_parse.  Returns ENV_OK or an exit code. */
int env_read_fd(int fd, stralloc *sa, const struct env_limits *lim, size_t *nrcpt);

/* The sender of a checked envelope (points into it). */
const char *env_sender(const char *s);
/* Recipients of a checked envelope: start with *pos = 0; returns each address in turn,
 * then 0 at the end. */
const char *env_next_rcpt(const char *s, size_t len, size_t *pos);

/* Builders: env_start(sa, sender), env_add_rcpt(sa, rcpt)..., env_finish(sa). 1 ok, 0 no memory. */
int env_start(stralloc *sa, const char *sender);
int env_add_rcpt(stralloc *sa, const char *rcpt);
int env_finish(stralloc *sa);

#endif
