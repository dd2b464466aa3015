/* qprog: starting the queue program, for every program that hands it a message
 * (tern-inject/tern-sendmail, tern-smtpd, tern-local's forwards, tern-send's reports). */
#ifndef TERN_QPROG_H
#define TERN_QPROG_H
#include <stddef.h>
#include <sys/types.h>

struct qprog {
	pid_t pid;
	int m, e;	/* write ends: the message (its fd 0) and the envelope (its fd 1) */
};

/* The queue program's path into out: $TERN_QUEUE (a filter, DESIGN.md) when filters
 * are allowed and this program does not run set-uid or set-gid, else tern-queue beside
 * this program.  0, or -1 with errno ENAMETOOLONG. */
int qprog_path(char *out, size_t n, int filters);
/* The message pipe mp and the envelope pipe ep (close-on-exec), the queue program's fds
 * 0 and 1 at their read ends.  0, or -1 with errno and nothing open. */
int qprog_pipes(int mp[2], int ep[2]);
/* Starts path with pipes on its fds 0 and 1.  0, or -1 with errno and nothing open. */
int qprog_start(struct qprog *q, const char *path);

#endif
