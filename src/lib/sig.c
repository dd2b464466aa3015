#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "sig.h"

static int pfd[2] = { -1, -1 };

static void handler(int sig)
{
	int e = errno;
	unsigned char c = (unsigned char)sig;
	ssize_t w = write(pfd[1], &c, 1);
	(void)w;
	errno = e;
}

int sig_pipe(void)
{
	if (pfd[0] >= 0) return pfd[0];
	if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
	return pfd[0];
}

int sig_catch(int sig)
{
	struct sigaction sa;
	if (sig_pipe() < 0) return -1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	return sigaction(sig, &sa, 0);
}

int sig_ignore(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, 0);
}

void sig_forget(int sig)
{
	signal(sig, SIG_DFL);
	for (int i = 0; i < 2; i++)
		if (pfd[i] >= 0) { close(pfd[i]); pfd[i] = -1; }
}
