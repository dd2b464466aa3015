/* libFuzzer: the queue file header parser (a damaged disk must not crash tern-send). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "qfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char hdr[QF_HDRLEN];
	struct qfile q;
	memset(hdr, ' ', sizeof hdr);
	memcpy(hdr, data, size < sizeof hdr ? size : sizeof hdr);
	memset(&q, 0, sizeof q);
	if (qfile_parse_header(&q, hdr) == 0 && q.envoff != q.msgoff + q.msglen) __builtin_trap();
	char id[QID_MAX + 8];
	size_t n = size < sizeof id - 1 ? size : sizeof id - 1;
	memcpy(id, data, n);
	id[n] = 0;
	(void)qid_valid(id);
	return 0;
}
