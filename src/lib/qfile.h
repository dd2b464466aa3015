/* qfile: one queued message = one file, queue/mess/<qid>  (doc/queue.md):
 *   a 128-byte text header  "TQ1 msgoff msglen envoff envlen stateoff nrcpt ctime uid sum\n"
 *   the message (LF line ends, starting with tern-queue's Received: line)
 *   the envelope, exactly as the qmail-queue protocol delivered it
 *   one state byte per recipient, then '\n'.
 * Only the state bytes ever change after publication (pwrite of one byte). */
#ifndef TERN_QFILE_H
#define TERN_QFILE_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <stralloc.h>
#include "env.h"

#define QF_HDRLEN 128
#define QID_MAX 40

/* Recipient states. */
#define QS_PENDING '.'
#define QS_DONE 'D'		/* delivered */
#define QS_FAILED 'F'		/* failed for good, bounce not yet queued */
#define QS_BOUNCED 'B'		/* failed for good, bounce queued (or none due) */
#define QS_NOTIFY 'S'		/* delivered, NOTIFY=SUCCESS report not yet queued */

struct qfile {
	int fd;
	char qid[QID_MAX];
	uint64_t msgoff, msglen, envoff, envlen, stateoff;
	size_t nrcpt;
	time_t ctime;
	unsigned long uid;
	uint64_t sum;		/* qsum of the bytes from msgoff to stateoff */
	int hassum;		/* 0 for files written before the sum existed */
	stralloc env;		/* the envelope bytes */
	char *state;		/* nrcpt state bytes (in memory copy) */
	const char **rcpt;	/* nrcpt pointers into env */
	const char **notify;	/* nrcpt: each recipient's NOTIFY value (into env), or 0 */
	const char **orcpt;	/* nrcpt: each recipient's ORCPT value (into env), or 0 */
	struct env_dsn dsn;	/* ENVID and RET (into env), or 0 */
	const char *sender;
};

/* 1 if s is a well-formed queue id (lowercase hex digits, 1..QID_MAX-1). */
int qid_valid(const char *s);
/* Formats a queue id from time, microseconds and inode into out. */
void qid_make(char out[QID_MAX], time_t sec, long usec, unsigned long long ino);
/* Parses a header (QF_HDRLEN bytes) into q's offsets; 0, or -1 when malformed. */
int qfile_parse_header(struct qfile *q, const char *hdr);
/* Header text for the given fields into out[QF_HDRLEN]. */
void qfile_header(char out[QF_HDRLEN], const struct qfile *q);

/* qsum: what the header's sum field holds, a Fletcher-style sum over 8-byte words
 * (little-endian, the last one zero-padded) of message and envelope.  It tells a file a
 * crash left with holes or stale blocks (tern-queue links before it syncs) from a whole
 * one; it is no defence against anyone who can write the queue. */
struct qsum { uint64_t a, b; unsigned char part[8]; size_t npart; };
void qsum_init(struct qsum *s);
void qsum_add(struct qsum *s, const void *p, size_t n);
uint64_t qsum_end(struct qsum *s);

/* Opens queue/mess/<qid> (read-write if rw) and loads header, envelope and states.
 * Returns 0, or -1 with errno (ENOENT gone, EBADMSG header unreadable or the file
 * shorter than it says: a crash's leftover; EINVAL envelope malformed). */
int qfile_open(struct qfile *q, const char *qid, int rw);
/* Reads message and envelope of an open q and checks them against the header's sum
 * (a file without one passes).  0, or -1 with errno (EBADMSG: they differ). */
int qfile_verify(const struct qfile *q);
void qfile_close(struct qfile *q);
/* Sets recipient i's state byte, in memory and on disk (not synced). 0 or -1. */
int qfile_setstate(struct qfile *q, size_t i, char st);
/* A new, independent read-only fd positioned at the message start (for a child's fd 0). */
int qfile_msgfd(const struct qfile *q);
/* Path of queue/<sub>/<qid> into out. 0 or -1. */
int qfile_path(char *out, size_t n, const char *sub, const char *qid);

/* tern-send's retry notes, queue/info/<qid>: one line per recipient that has any,
 * "idx attempts next-retry-epoch status text\n".  Absent file = no notes. */
struct qinfo_rcpt {
	unsigned attempts;
	time_t next;		/* earliest next attempt; 0 = now */
	char status[16];	/* enhanced status code, e.g. 4.2.0 */
	char text[400];		/* last diagnostic, one line */
};
/* Loads notes for nrcpt recipients into info (zeroed first). 0, or -1 with errno. */
int qinfo_load(const char *qid, struct qinfo_rcpt *info, size_t nrcpt);
/* Writes notes atomically (tmp + rename; fsync when durable). 0 or -1. */
int qinfo_save(const char *qid, const struct qinfo_rcpt *info, size_t nrcpt, int durable);

#endif
