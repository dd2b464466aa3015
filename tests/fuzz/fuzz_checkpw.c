/* libFuzzer: the checkpassword input (checkpw.h), which tern-checkpassword reads from
 * whatever program runs it: parsing it must stay inside the buffer and split it exactly
 * at its first two NULs; reading it from a pipe must give the same bytes or "too long". */
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "checkpw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *login, *pass;
	size_t ln, pn;
	int r = checkpw_parse(buf, size, &login, &ln, &pass, &pn);
	const char *z1 = memchr(buf, 0, size);
	const char *z2 = z1 ? memchr(z1 + 1, 0, size - (size_t)(z1 - buf) - 1) : 0;
	int good = size <= CHECKPW_MAX && z2;
	if (r != (good ? 0 : -1)) __builtin_trap();
	if (r == 0) {
		if (login != buf || ln != (size_t)(z1 - buf) || pass != z1 + 1) __builtin_trap();
		if (pass + pn != z2 || memchr(login, 0, ln) || memchr(pass, 0, pn)) __builtin_trap();
	}

	/* The same bytes through a pipe (small enough to fit its buffer). */
	if (size > 4096) return 0;
	int p[2];
	if (pipe(p) != 0) return 0;
	if (write(p[1], data, size) != (ssize_t)size) { close(p[0]); close(p[1]); return 0; }
	close(p[1]);
	char in[CHECKPW_MAX + 1];
	ssize_t n = checkpw_read(p[0], in, sizeof in);
	close(p[0]);
	if (size > CHECKPW_MAX ? n != -2 : n != (ssize_t)size || memcmp(in, data, size)) __builtin_trap();
	return 0;
}
