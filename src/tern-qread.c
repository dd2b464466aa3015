/* tern-qread: one line per queued message: id, age, size, sender, and each recipient
 * with its state and last error.  tern-qread [-a] (‑a: include delivered recipients) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "die.h"
#include "home.h"
#include "qfile.h"

static void age(char *out, size_t n, time_t secs)
{
	if (secs < 0) secs = 0;
	if (secs < 3600) snprintf(out, n, "%ldm%02lds", (long)secs / 60, (long)secs % 60);
	else if (secs < 86400) snprintf(out, n, "%ldh%02ldm", (long)secs / 3600, (long)secs % 3600 / 60);
	else snprintf(out, n, "%ldd%02ldh", (long)secs / 86400, (long)secs % 86400 / 3600);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	tern_prog = "tern-qread";
	int all = argc > 1 && strcmp(argv[1], "-a") == 0;
	if (argc > 1 + all) tern_die(64, "usage: tern-qread [-a]");
	char dir[4096];
	if (tern_path(dir, sizeof dir, "queue/mess") < 0) tern_die(111, "home path too long");
	DIR *d = opendir(dir);
	if (!d) tern_die_sys(111, "opening ", dir);
	static char **ids;	/* static: reachable until exit */
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!qid_valid(e->d_name)) continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			ids = realloc(ids, cap * sizeof *ids);
			if (!ids) tern_die(111, "out of memory");
		}
		if (!(ids[n++] = strdup(e->d_name))) tern_die(111, "out of memory");
	}
	closedir(d);
	if (n) qsort(ids, n, sizeof *ids, cmp);
	time_t now = time(0);
	for (size_t k = 0; k < n; k++) {
		struct qfile q;
		if (qfile_open(&q, ids[k], 0) != 0) {
			if (errno != ENOENT) printf("%s unreadable: %s\n", ids[k], strerror(errno));
			continue;
		}
		struct qinfo_rcpt *info = calloc(q.nrcpt, sizeof *info);
		if (!info) tern_die(111, "out of memory");
		qinfo_load(q.qid, info, q.nrcpt);
		char a[32];
		age(a, sizeof a, now - q.ctime);
		printf("%s %s %llu <%s>", q.qid, a, (unsigned long long)q.msglen, q.sender);
		for (size_t i = 0; i < q.nrcpt; i++) {
			char st = q.state[i];
			if (!all && (st == QS_DONE || st == QS_BOUNCED)) continue;
			const char *name = st == QS_DONE ? "delivered" : st == QS_BOUNCED ? "bounced" :
					   st == QS_FAILED ? "failed" : st == QS_NOTIFY ? "delivered-reporting" :
					   info[i].attempts ? "deferred" : "pending";
			printf(" <%s> %s", q.rcpt[i], name);
			if (info[i].attempts || info[i].status[0]) {
				char nx[32];
				age(nx, sizeof nx, info[i].next - now);
				printf(" (%u attempt%s", info[i].attempts, info[i].attempts == 1 ? "" : "s");
				if (st == QS_PENDING) printf(", next in %s", nx);
				printf("): %s %s", info[i].status, info[i].text);
			}
			printf(";");
		}
		printf("\n");
		free(info);
		qfile_close(&q);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) tern_die_sys(111, "writing output");
	return 0;
}
