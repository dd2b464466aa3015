/* tern-qstat: counts of what is in the queue, and whether tern-send runs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "die.h"
#include "home.h"
#include "qfile.h"

/* Files in rel; optional: a directory not yet made counts 0 (else it is an error). */
static unsigned long count_dir(const char *rel, int optional)
{
	char dir[4096];
	unsigned long n = 0;
	if (tern_path(dir, sizeof dir, rel) < 0) return 0;
	DIR *d = opendir(dir);
	if (!d && errno == ENOENT && optional) return 0;
	if (!d) tern_die_sys(111, "opening ", dir);
	struct dirent *e;
	while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	(void)argv;
	tern_prog = "tern-qstat";
	if (argc > 1) tern_die(64, "usage: tern-qstat");
	char dir[4096];
	if (tern_path(dir, sizeof dir, "queue/mess") < 0) tern_die(111, "home path too long");
	DIR *d = opendir(dir);
	if (!d) tern_die_sys(111, "opening ", dir);
	unsigned long msgs = 0, pending = 0, deferred = 0, failed = 0, done = 0;
	unsigned long long bytes = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!qid_valid(e->d_name)) continue;
		struct qfile q;
		if (qfile_open(&q, e->d_name, 0) != 0) continue;
		struct qinfo_rcpt *info = calloc(q.nrcpt, sizeof *info);
		if (!info) tern_die(111, "out of memory");
		qinfo_load(q.qid, info, q.nrcpt);
		msgs++;
		bytes += q.msglen;
		for (size_t i = 0; i < q.nrcpt; i++) {
			if (q.state[i] == QS_PENDING) { if (info[i].attempts) deferred++; else pending++; }
			else if (q.state[i] == QS_FAILED) failed++;
			else done++;
		}
		free(info);
		qfile_close(&q);
	}
	closedir(d);
	char pidpath[4096], buf[32] = "";
	long pid = 0;
	if (tern_path(pidpath, sizeof pidpath, "queue/pid") == 0) {
		FILE *f = fopen(pidpath, "re");
		if (f) { if (fgets(buf, sizeof buf, f)) pid = strtol(buf, 0, 10); fclose(f); }
	}
	int running = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
	printf("messages=%lu bytes=%llu recipients_pending=%lu recipients_deferred=%lu "
	       "recipients_failed=%lu recipients_done=%lu tmp_files=%lu corrupt_files=%lu tern_send=%s\n",
	       msgs, bytes, pending, deferred, failed, done, count_dir("queue/tmp", 0), count_dir("queue/corrupt", 1),
	       running ? "running" : "stopped");
	if (fflush(stdout) != 0) tern_die_sys(111, "writing output");
	return 0;
}
