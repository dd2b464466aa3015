/* zfork: fork servers, which save an exec (and the C library's start-up) per job.
 * A program started as "PROG -z" reads requests on fd 0, one end of a SOCK_SEQPACKET
 * socket pair: "L" id NUL field NUL ... with two descriptors attached.  For each it forks
 * a child whose fds 0 and 1 are those two, and which runs the program's normal code on the
 * fields; when the job ends the server answers "R" id " " exit-code (128 + signal when
 * killed).  Each child starts as clean as after exec.  A child whose job says it may go
 * on is kept for the next job with the same key field (for tern-local: the same
 * recipient, so the same user and privileges): the server passes that job to it over a
 * channel of its own, and the child reports "D" exit-code when a job ends.  Before
 * reporting it closes every descriptor of the job (fds 0 and 1 become /dev/null), so
 * that no file, lock or pipe outlives its job.  A kept child takes at most ZFORK_REUSE
 * jobs, in at most ZFORK_AGE ms, and ends after ZFORK_IDLE ms without one; of more than
 * ZFORK_SPARE idle children, the one idle longest is let go.  This saves
 * the fork, the exit and the page faults of a fresh process, which were half of a local
 * delivery's CPU time.  When the socket's other end closes the server waits for its
 * running children and exits; with pdeath, children killed with the server when it is
 * killed.  tern-local(8) describes the protocol.
 * A server for jobs that come one at a time and clean up after themselves (tern-queue
 * for one SMTP session) may run them in its own process instead (zfork_serve_inline):
 * the same protocol without the fork, whose cost was half of tern-queue's CPU time. */
#ifndef TERN_ZFORK_H
#define TERN_ZFORK_H
#include <stddef.h>
#include <sys/types.h>

#define ZFORK_PACKET 8192	/* a request's largest size */
#define ZFORK_FIELDS 8		/* fields after the id, at most */
#define ZFORK_KIDS 1024		/* children at once, idle ones too */
#define ZFORK_REUSE 100		/* jobs for one kept child, at most */
#define ZFORK_AGE 10000		/* ms a kept child may take new jobs */
#define ZFORK_IDLE 2000		/* ms an idle child is kept */
#define ZFORK_SPARE 32		/* idle children kept, at most */

/* Server: never returns.  For each well-formed request with exactly nfields fields after
 * the id, a child calls run(fields, &again) with its fds 0 and 1 in place and SIGCHLD back
 * to default; run returns the job's exit code, and sets again when the same process may
 * run the next job whose field key is the same (run must then have closed or forgotten
 * everything of this job that it does not want shared by the next, such as cached
 * descriptors: the child then closes all of its descriptors but 2 and its channel, and
 * cancels any alarm).  pdeath: children get SIGKILL when the server dies. */
void __attribute__((noreturn)) zfork_serve(size_t nfields, size_t key, int (*run)(char **fields, int *again), int pdeath);
/* Server without children: for each request run(fields, in, out) in this process, one
 * at a time, its return value the answer; the server closes in and out after it.  run
 * must leave nothing behind (descriptors, files, timers) whatever its outcome. */
void __attribute__((noreturn)) zfork_serve_inline(size_t nfields, int (*run)(char **fields, int in, int out));

/* A request of len bytes in buf (whatever its client sent; buf[len] must be writable
 * and NUL): the id into *id (0 when none can be read) and the fields after it, at most
 * ZFORK_FIELDS, into f (pointers into buf).  Their number, or -1 when malformed. */
int zfork_parse(char *buf, size_t len, unsigned long *id, char **f);

struct zfork {
	int fd;		/* our end of the socket, -1 when none */
	pid_t pid;
};

/* Client: starts path with argv { name, "-z" } and fd 0 a socket (ours close-on-exec,
 * non-blocking when nonblock).  0, or -1 with errno. */
int zfork_start(struct zfork *z, const char *path, const char *name, int nonblock);
/* One request: id, n fields (no NUL inside), fds in and out.  0, or -1 with errno
 * (EMSGSIZE: too long; EAGAIN: full, when non-blocking). */
int zfork_send(struct zfork *z, unsigned long id, const char *const *fields, size_t n, int in, int out);
/* One answer into *id and *code: 1; 0 when the server is gone; -1 with errno (EAGAIN
 * when non-blocking and there is none; EPROTO for a malformed one). */
int zfork_answer(struct zfork *z, unsigned long *id, int *code);
/* Closes our end: the server exits. */
void zfork_stop(struct zfork *z);

#endif
