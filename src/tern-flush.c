/* tern-flush: ask tern-send to retry every queued message now. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "die.h"
#include "home.h"

int main(int argc, char **argv)
{
	(void)argv;
	tern_prog = "tern-flush";
	if (argc > 1) tern_die(64, "usage: tern-flush");
	char path[4096];
	if (tern_path(path, sizeof path, "queue/trigger") < 0) tern_die(111, "home path too long");
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENXIO) tern_die(111, "tern-send is not running (nobody reads ", path, ")");
		tern_die_sys(111, "opening ", path);
	}
	if (write(fd, "F\n", 2) != 2) tern_die_sys(111, "writing ", path);
	if (close(fd) != 0) tern_die_sys(111, "closing ", path);
	return 0;
}
