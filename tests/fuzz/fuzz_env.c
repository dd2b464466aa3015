/* libFuzzer: the qmail-queue envelope parser (outside input to tern-queue). */
#include <stddef.h>
#include <stdint.h>
#include "env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct env_limits lim = { 1000, 10000 };
	size_t n;
	const char *s = (const char *)data;
	if (env_parse(s, size, &lim, &n) == ENV_OK) {
		size_t pos = 0, k = 0;
		(void)env_sender(s);
		while (env_next_rcpt(s, size, &pos)) k++;
		if (k != n) __builtin_trap();
	}
	return 0;
}
