/* libFuzzer: a fork server's request (zfork.h).  tern-queue -z is set-uid: its requests
 * come from the less privileged tern-smtpd.  Whatever parses must have an id, fields
 * that lie inside the buffer and are NUL-terminated there, and at most ZFORK_FIELDS. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "zfork.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy plus the NUL the server adds, so that ASan sees any read past it. */
	char *s = malloc(size + 1);
	if (!s) abort();
	memcpy(s, data, size);
	s[size] = 0;
	unsigned long id;
	char *f[ZFORK_FIELDS];
	int n = zfork_parse(s, size, &id, f);
	if (n >= 0) {
		if (!id || n > ZFORK_FIELDS || s[0] != 'L') abort();
		for (int i = 0; i < n; i++) {
			if (f[i] <= s || f[i] >= s + size) abort();
			size_t l = strlen(f[i]);
			if (f[i] + l >= s + size + 1 || f[i][l] != 0) abort();
			if (i && f[i] != f[i - 1] + strlen(f[i - 1]) + 1) abort();
		}
		if (n && f[n - 1] + strlen(f[n - 1]) + 1 != s + size) abort();
	}
	free(s);
	return 0;
}
