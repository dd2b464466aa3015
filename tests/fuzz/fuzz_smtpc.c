/* libFuzzer: the SMTP client's reply reader (smtpc.h), which tern-remote runs on whatever
 * a remote server sends. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "smtpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int p[2];
	if (size > 60000 || pipe(p) != 0) return 0;
	if (write(p[1], data, size) != (ssize_t)size) { close(p[0]); close(p[1]); return 0; }
	close(p[1]);
	struct smtp_io io;
	smtp_init(&io, p[0], -1, 1);
	for (int i = 0; i < 2000; i++) {
		struct smtpc_reply r;
		struct smtpc_ext x;
		int code = smtpc_reply(&io, &r, i & 1 ? &x : 0);
		if (code == 0) break;
		if (code < 200 || code > 599 || r.code != code) __builtin_trap();
		size_t n = strlen(r.text);
		if (n >= sizeof r.text) __builtin_trap();
		for (size_t k = 0; k < n; k++)
			if ((unsigned char)r.text[k] < 0x20 || r.text[k] == 0x7f) __builtin_trap();
		if (r.status[0] != '0' + code / 100 || r.status[1] != '.') __builtin_trap();
	}
	close(p[0]);
	return 0;
}
