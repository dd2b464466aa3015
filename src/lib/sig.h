/* sig: signals delivered as bytes on a self-pipe, for poll()-driven loops. */
#ifndef TERN_SIG_H
#define TERN_SIG_H

/* Creates the pipe once; returns its read end (non-blocking, close-on-exec), -1 on error. */
int sig_pipe(void);
/* Catch sig: each delivery writes one byte (the signal number) to the pipe. */
int sig_catch(int sig);
/* Ignore sig (SIGPIPE, typically). */
int sig_ignore(int sig);
/* In a forked child that goes on without exec: sig back to its default action and the
 * pipe closed (the parent's pipe is not the child's to read).  A later sig_pipe or
 * sig_catch makes a new one. */
void sig_forget(int sig);

#endif
