/* tern-sendmail: the sendmail(1) command line that programs (cron, MUAs, scripts) use.
 * Also installed as sendmail, mailq (tern-qread) and newaliases (tern-users build). */
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "die.h"
#include "env.h"
#include "home.h"
#include "inject.h"

#define USAGE "usage: tern-sendmail [-t] [-i] [-f sender] [-F name] [-B type] [-N dsn] " \
	"[-R ret] [-V envid] [-o option] [-bm | -bp | -bs | -bi] [-q] [--] [address ...]"

static void __attribute__((noreturn)) usage(void) { tern_die(64, USAGE); }

static void __attribute__((noreturn)) run(const char *name, const char *arg)
{
	char path[4096];
	if (tern_binpath(path, sizeof path, name) < 0) tern_die(69, "cannot run ", name, ": path too long");
	char *argv[] = { path, (char *)arg, 0 };
	execv(path, argv);
	tern_die_sys(69, "cannot run ", path);
}

int main(int argc, char **argv)
{
	struct inject_opt o = {0};
	const char *fullname = 0, *base = strrchr(argv[0] ? argv[0] : "", '/');
	char mode = 'm';
	int t = 0, dots = 1, i;
	unsigned notify;	/* -N is checked, not used: tern-inject has no DSN options yet */
	tern_prog = "tern-sendmail";
	base = base ? base + 1 : argv[0] ? argv[0] : "";
	if (strcmp(base, "mailq") == 0) run("tern-qread", 0);
	if (strcmp(base, "newaliases") == 0) run("tern-users", "build");

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == 0) break;
		if (strcmp(a, "--") == 0) { i++; break; }
		int stop = 0;
		for (size_t j = 1; a[j] && !stop; ) {
			char c = a[j++];
			const char *v = 0;
			if (strchr("fFrBNRVob", c)) {
				if (a[j]) v = a + j;
				else if (i + 1 < argc) v = argv[++i];
				else usage();
				if (c == 'o' && strcmp(v, "Q") == 0) {	/* -oQ dir */
					if (i + 1 >= argc) usage();
					i++;
				}
			}
			switch (c) {
			case 't': t = 1; break;
			case 'i': dots = 0; break;
			case 'v': break;
			case 'f': case 'r': o.sender = v; break;
			case 'F': fullname = v; break;
			case 'B':
				if (strcasecmp(v, "7BIT") != 0 && strcasecmp(v, "8BITMIME") != 0)
					tern_die(64, "-B takes 7BIT or 8BITMIME");
				break;
			case 'N': if (!env_notify_parse(v, strlen(v), 0, &notify)) tern_die(64, "-N takes never or success,failure,delay"); break;
			case 'R':
				if (strcasecmp(v, "hdrs") != 0 && strcasecmp(v, "full") != 0)
					tern_die(64, "-R takes hdrs or full");
				break;
			case 'V': if (!env_envid_ok(v, strlen(v))) tern_die(64, "-V takes an xtext of 1 to 100 bytes"); break;
			case 'o': if (strcmp(v, "i") == 0) dots = 0; break;	/* -oem, -odb, -oQ ...: accepted */
			case 'b':
				if (strlen(v) != 1 || !strchr("mpsi", v[0])) usage();
				mode = v[0];
				break;
			case 'q': mode = 'q'; stop = 1; break;	/* -q, -qNN, -qR...: one run */
			default: usage();
			}
			if (v) stop = 1;
		}
	}
	switch (mode) {
	case 'p': run("tern-qread", 0);
	case 'q': run("tern-flush", 0);
	case 'i': run("tern-users", "build");
	case 's': run("tern-smtpd", 0);	/* on a pipe: a local session */
	}
	if (!t && i >= argc) tern_die(64, "no recipients given (name them, or use -t to read the header)");
	o.fullname = fullname;
	inject_defaults(&o);
	o.args = argv + i;
	o.nargs = (size_t)(argc - i);
	o.rcpt_headers = t;
	o.dotend = dots;
	inject_main(&o, 0);
}
