#include <errno.h>
#include <spawn.h>
#include <sys/wait.h>
#include "spawn.h"

extern char **environ;

pid_t tern_spawn(const char *path, char *const argv[], char *const envp[], const int fds[3])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid;
	int r;
	if ((r = posix_spawn_file_actions_init(&fa)) != 0) { errno = r; return -1; }
	if ((r = posix_spawnattr_init(&at)) != 0) { posix_spawn_file_actions_destroy(&fa); errno = r; return -1; }
	/* The child starts with default signal handling and an empty mask. */
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	for (int i = 0; i < 3 && r == 0; i++)
		if (fds && fds[i] >= 0) r = posix_spawn_file_actions_adddup2(&fa, fds[i], i);
	if (r == 0) r = posix_spawn(&pid, path, &fa, &at, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r != 0) { errno = r; return -1; }
	return pid;
}

int tern_wait(pid_t pid)
{
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, 0);
		if (r == pid) break;
		if (r < 0 && errno == EINTR) continue;
		return -1;
	}
	if (WIFEXITED(st)) return WEXITSTATUS(st);
	if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
	return -1;
}
