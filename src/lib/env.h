/* env: the qmail-queue envelope: 'F' sender '\0', then 'T' recipient '\0' for each
 * recipient, then a final '\0'.  Stored in the queue exactly as received.
 *
 * DSN extension (RFC 3461; doc/queue.md).  A plain envelope is unchanged; optional records
 * keep the DSN parameters an SMTP client gave:
 *   right after the F record, in any order, each at most once:
 *     'E' envid '\0'      ENVID, as the client sent it (xtext, 1..ENV_MAXENVID bytes)
 *     'R' FULL|HDRS '\0'  RET
 *   right after a T record, applying to that recipient, in any order, each at most once:
 *     'N' notify '\0'     NOTIFY: "NEVER", or a comma list of SUCCESS, FAILURE, DELAY
 *                         (uppercase, each at most once)
 *     'O' orcpt '\0'      ORCPT: addr-type ";" xtext (1..ENV_MAXORCPT bytes)
 * Only T records are recipients: counts, limits and state bytes are one per T. */
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
#define ENV_MAXENVID 100	/* RFC 3461 4.4: ENVID at most 100 characters */
#define ENV_MAXORCPT 500	/* RFC 3461 4.2: ORCPT at most 500 characters */

/* NOTIFY as bits (env_notify_parse); 0 = no NOTIFY given. */
#define ENV_NOTIFY_NEVER 1u
#define ENV_NOTIFY_SUCCESS 2u
#define ENV_NOTIFY_FAILURE 4u
#define ENV_NOTIFY_DELAY 8u

/* Checks a whole envelope in memory; returns ENV_OK or the exit code; counts recipients
 * (T records only). */
int env_parse(const char *s, size_t len, const struct env_limits *lim, size_t *nrcpt);
/* Reads one envelope from fd up to and including its final '\0', appending it to sa,
 * then checks it with env_parse.  Returns ENV_OK or an exit code. */
int env_read_fd(int fd, stralloc *sa, const struct env_limits *lim, size_t *nrcpt);

/* The sender of a checked envelope (points into it). */
const char *env_sender(const char *s);
/* Recipients of a checked envelope: start with *pos = 0; returns each address in turn,
 * then 0 at the end.  Extension records are skipped. */
const char *env_next_rcpt(const char *s, size_t len, size_t *pos);
/* The same, also giving the recipient's NOTIFY and ORCPT values (0 when absent);
 * notify or orcpt may be null pointers when not wanted. */
const char *env_next_rcpt_dsn(const char *s, size_t len, size_t *pos,
			      const char **notify, const char **orcpt);

/* The message's DSN values of a checked envelope; each 0 when absent. */
struct env_dsn {
	const char *envid;	/* ENVID, xtext as received */
	const char *ret;	/* "FULL" or "HDRS" */
};
void env_dsn(const char *s, size_t len, struct env_dsn *d);
/* Recipient idx (0-based) of a checked envelope: returns its address and sets *notify and
 * *orcpt (0 when absent; either pointer may be null), or returns 0 when idx is past the
 * end.  Walks the envelope: for every recipient in turn, use env_next_rcpt_dsn. */
const char *env_rcpt_dsn(const char *s, size_t len, size_t idx, const char **notify, const char **orcpt);

/* Syntax checks shared by env_parse and tern-smtpd (n bytes, no NUL needed):
 * xtext (RFC 3461 4: '+' takes two hex digits, either case; no '=', no byte outside
 * 33..126), 1..ENV_MAXENVID bytes; ORCPT "addr-type;xtext", 1..ENV_MAXORCPT bytes. */
int env_envid_ok(const char *s, size_t n);
int env_orcpt_ok(const char *s, size_t n);
/* NOTIFY value to bits.  strict: uppercase only (the stored form); else any case (the
 * SMTP parameter).  1 ok, 0 bad (unknown word, a repeat, NEVER with others, empty). */
int env_notify_parse(const char *s, size_t n, int strict, unsigned *bits);

/* Builders, called in envelope order: env_start(sa, sender), then env_add_envid and
 * env_add_ret (optional), then for each recipient env_add_rcpt followed by optional
 * env_add_notify and env_add_orcpt, then env_finish(sa).  1 ok, 0 no memory.  The
 * values are appended as given: the caller checks them first (env_envid_ok,
 * env_orcpt_ok, env_notify_parse); env_parse refuses what does not pass. */
int env_start(stralloc *sa, const char *sender);
int env_add_envid(stralloc *sa, const char *xtext);
int env_add_ret(stralloc *sa, const char *ret);		/* "FULL" or "HDRS" */
int env_add_rcpt(stralloc *sa, const char *rcpt);
int env_add_notify(stralloc *sa, unsigned bits);	/* written in canonical form */
int env_add_orcpt(stralloc *sa, const char *value);	/* addr-type;xtext */
int env_finish(stralloc *sa);

#endif
