/* tern-inject: qmail-inject style injection.  Fills in From:, Date:, Message-ID:;
 * recipients from the arguments, or (-t, or no arguments) from To/Cc/Bcc.
 *   tern-inject [-f sender] [-F fullname] [-t] [-i] [address ...] */
#include <unistd.h>
#include "die.h"
#include "inject.h"

#define USAGE "usage: tern-inject [-f sender] [-F fullname] [-t] [-i] [address ...]"

int main(int argc, char **argv)
{
	struct inject_opt o = {0};
	const char *fullname = 0;
	int opt, t = 0;
	tern_prog = "tern-inject";
	opterr = 0;
	while ((opt = getopt(argc, argv, "+f:F:ti")) != -1) {
		switch (opt) {
		case 'f': o.sender = optarg; break;
		case 'F': fullname = optarg; break;
		case 't': t = 1; break;
		case 'i': break;	/* dots are always data here */
		default: tern_die(64, USAGE);
		}
	}
	o.fullname = fullname;
	inject_defaults(&o);
	o.args = argv + optind;
	o.nargs = (size_t)(argc - optind);
	o.rcpt_headers = t || o.nargs == 0;
	o.dotend = 0;
	inject_main(&o, 0);
}
