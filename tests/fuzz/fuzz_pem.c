/* libFuzzer: PEM files into DER objects (pem.h).  Certificates and keys are the
 * administrator's, but trust anchors may come from anywhere, and a bad file must give an
 * error, never a crash or a leak. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so that ASan sees any read past the end. */
	char *s = malloc(size ? size : 1);
	if (!s) abort();
	memcpy(s, data, size);
	struct pem_list l = { 0, 0, 0 };
	errno = 0;
	int r = pem_decode(&l, s, size);
	if (r != 0 && (r != -1 || (errno != EINVAL && errno != ENOMEM && errno != E2BIG))) abort();
	if (l.n > l.cap || l.n > 1000 || (l.n && !l.obj)) abort();
	for (size_t i = 0; i < l.n; i++) {
		const struct pem_obj *o = &l.obj[i];
		size_t ln = strnlen(o->label, sizeof o->label);
		if (ln == sizeof o->label) abort();
		/* A label never ends in a dash or a blank. */
		if (ln && (o->label[ln - 1] == '-' || o->label[ln - 1] == ' ' || o->label[ln - 1] == '\r')) abort();
		if (o->len && !o->der) abort();
		/* base64 gives at most 3 bytes for 4 of input. */
		if (o->len > size / 4 * 3) abort();
		for (size_t k = 0; k < o->len; k++) (void)*(volatile unsigned char *)&o->der[k];
	}
	pem_free(&l);
	if (l.n || l.cap || l.obj) abort();
	free(s);
	return 0;
}
