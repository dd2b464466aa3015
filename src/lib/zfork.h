/* zfork: fork servers, which save an exec (and the C library's start-up) per job.
 * A program started as "PROG -z" reads requests on fd 0, one end of a SOCK_SEQPACKET
 * socket pair: "L" id NUL field NUL ... with two descriptors attached.  For each it forks
 * a child whose fds 0 and 1 are those two, and which runs the program's normal code on the
 * fields; when the child ends the server answers "R" id " " exit-code (128 + signal when
 * killed).  The server itself keeps no state of a job, so each child starts as clean as
 * after exec.  When the socket's other end closes it waits for its running children and
 * exits; with pdeath, children killed with the server when it is killed.  tern-local(8)
 * describes the protocol.
 * A server for jobs that come one at a time and clean up after themselves (tern-queue
 * for one SMTP session) may run them in its own process instead (zfork_serve_inline):
 * the same protocol without the fork, whose cost was half of tern-queue's CPU time. */
#ifndef TERN_ZFORK_H
#define TERN_ZFORK_H
#include <stddef.h>
#include <sys/types.h>

#define ZFORK_PACKET 8192	/* a request's largest size */
#define ZFORK_FIELDS 8		/* fields after the id, at most */
#define ZFORK_KIDS 1024		/* children running at once */

/* Server: never returns.  For each well-formed request with exactly nfields fields after
 * the id, a child calls run(fields) with its fds 0 and 1 in place and SIGCHLD back to
 * default; run must not return.  pdeath: children get SIGKILL when the server dies. */
void __attribute__((noreturn)) zfork_serve(size_t nfields, void (*run)(char **fields), int pdeath);
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
