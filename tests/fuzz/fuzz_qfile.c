/* libFuzzer: the queue file header parser (a damaged disk must not crash tern-send), its
 * round trip through qfile_header, and qsum's independence of how bytes are cut. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "qfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char hdr[QF_HDRLEN];
	struct qfile q, r;
	memset(hdr, ' ', sizeof hdr);
	memcpy(hdr, data, size < sizeof hdr ? size : sizeof hdr);
	memset(&q, 0, sizeof q);
	if (qfile_parse_header(&q, hdr) == 0) {
		if (q.envoff != q.msgoff + q.msglen) __builtin_trap();
		/* A parsed header written again parses to the same fields (with a sum now), for
		 * values tern-queue can write: 128 bytes have no room for every field at 20 digits. */
		char again[QF_HDRLEN];
		if (q.msglen > 1000000000000ULL || q.ctime < 0 || q.ctime > 99999999999LL || q.uid > 0xffffffffUL)
			goto ids;
		qfile_header(again, &q);
		memset(&r, 0, sizeof r);
		if (qfile_parse_header(&r, again) != 0) __builtin_trap();
		if (r.msglen != q.msglen || r.envlen != q.envlen || r.nrcpt != q.nrcpt ||
		    r.ctime != q.ctime || r.uid != q.uid || r.sum != q.sum || !r.hassum) __builtin_trap();
	}
ids:;
	char id[QID_MAX + 8];
	size_t n = size < sizeof id - 1 ? size : sizeof id - 1;
	memcpy(id, data, n);
	id[n] = 0;
	(void)qid_valid(id);
	/* qsum: the whole input at once, and cut in three at places the input chooses. */
	struct qsum a, b;
	qsum_init(&a);
	qsum_add(&a, data, size);
	size_t c1 = size ? data[0] % (size + 1) : 0, c2 = size > 1 ? c1 + data[1] % (size - c1 + 1) : c1;
	qsum_init(&b);
	qsum_add(&b, data, c1);
	qsum_add(&b, data + c1, c2 - c1);
	qsum_add(&b, data + c2, size - c2);
	if (qsum_end(&a) != qsum_end(&b)) __builtin_trap();
	return 0;
}
