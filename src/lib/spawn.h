/* spawn: start a program with posix_spawn (vfork speed), with chosen fds 0, 1, 2. */
#ifndef TERN_SPAWN_H
#define TERN_SPAWN_H
#include <sys/types.h>

/* fds[i] (i = 0,1,2) is the fd to become fd i in the child, or -1 to inherit as is.
 * envp 0 means the current environment. Returns the pid, or -1 with errno set. */
pid_t tern_spawn(const char *path, char *const argv[], char *const envp[], const int fds[3]);
/* waitpid, retrying on EINTR; returns the exit code, 128+signal if killed, -1 on error. */
int tern_wait(pid_t pid);

#endif
