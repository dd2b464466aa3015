/* tern-qdel: remove queued messages safely, whether tern-send runs or not.
 *   tern-qdel QID...   exit 0 all removed, 100 some not found, 111 some busy or error.
 * tern-send holds an flock on a message while delivering it; tern-qdel takes the same
 * lock, so a message is never removed in the middle of a delivery. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include "die.h"
#include "home.h"
#include "qfile.h"
#include "qlog.h"

#define LOCKWAIT_MS 30000

static int lock_wait(int fd)
{
	for (int waited = 0; waited < LOCKWAIT_MS; waited += 50) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
		if (errno != EWOULDBLOCK) return -1;
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, 0);
	}
	errno = EWOULDBLOCK;
	return -1;
}

int main(int argc, char **argv)
{
	tern_prog = "tern-qdel";
	if (argc < 2) tern_die(64, "usage: tern-qdel QID...");
	int rc = 0;
	for (int a = 1; a < argc; a++) {
		char mess[4096], info[4096];
		const char *qid = argv[a];
		if (!qid_valid(qid)) { tern_warn("not a queue id: ", qid); if (!rc) rc = 100; continue; }
		if (qfile_path(mess, sizeof mess, "mess", qid) < 0 || qfile_path(info, sizeof info, "info", qid) < 0) {
			tern_warn("path too long for ", qid); rc = 111; continue;
		}
		int fd = open(mess, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT) { tern_warn("no such message: ", qid); if (!rc) rc = 100; }
			else { tern_warn_sys("opening ", mess); rc = 111; }
			continue;
		}
		if (lock_wait(fd) != 0) { tern_warn_sys("message busy, try again: ", qid); close(fd); rc = 111; continue; }
		if (unlink(info) != 0 && errno != ENOENT) tern_warn_sys("removing ", info);
		if (unlink(mess) != 0) { tern_warn_sys("removing ", mess); close(fd); rc = 111; continue; }
		close(fd);
		char dir[4096];
		if (tern_path(dir, sizeof dir, "queue/mess") == 0) {
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0) { if (fsync(dfd) != 0) tern_warn_sys("fsync of ", dir); close(dfd); }
		}
		struct qlog l;
		qlog_start(&l);
		qlog_kv(&l, "qid", qid);
		qlog_kv(&l, "event", "deleted");
		qlog_kvu(&l, "uid", (unsigned long long)getuid());
		qlog_emit(&l);
		printf("removed %s\n", qid);
	}
	fflush(stdout);
	return rc;
}
