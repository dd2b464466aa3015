/* libFuzzer: DNS answers (outside input to tern-remote) through both parsers of dnsmx.h, as
 * the answer to a query for example.com: results are one of the documented ones, and what
 * is returned keeps its promises (count, order, host form). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "dnsmx.h"

static const char qname[] = "\7example\3com";

static int check_mx(const char *pkt, unsigned len, struct dnsmx_mx mx[8], size_t max, size_t *np)
{
	size_t n = 99;
	int r = dnsmx_parse_mx(pkt, len, qname, mx, max, &n);
	if (r != DNSMX_OK && r != DNSMX_NODATA && r != DNSMX_NXDOMAIN && r != DNSMX_NULLMX &&
	    r != DNSMX_TEMP) __builtin_trap();
	if (n > max || (r != DNSMX_OK && n != 0) || (r == DNSMX_OK && max && !n)) __builtin_trap();
	for (size_t i = 0; i < n; i++) {
		const char *h = mx[i].host;
		size_t l = strnlen(h, sizeof mx[i].host);
		if (l == 0 || l > 253 || mx[i].pref > 65535) __builtin_trap();
		if (i && mx[i - 1].pref > mx[i].pref) __builtin_trap();
		if (h[0] == '.' || h[l - 1] == '.' || strstr(h, "..")) __builtin_trap();
		for (size_t k = 0; k < l; k++) {
			unsigned char c = (unsigned char)h[k];
			if ((c >= 'A' && c <= 'Z') || c <= ' ' || c == 0x7f || c == '\\') __builtin_trap();
		}
		char w[DNSMX_WIRE];
		if (!dnsmx_wire(h, w)) __builtin_trap();	/* usable for the next lookup */
	}
	*np = n;
	return r;
}

static void check_addr(const char *pkt, unsigned len, const char qtype[2], int v6)
{
	struct dnsmx_addr a[8];
	size_t n = 99;
	int r = dnsmx_parse_addr(pkt, len, qname, qtype, a, 8, &n);
	if (r != DNSMX_OK && r != DNSMX_NODATA && r != DNSMX_NXDOMAIN && r != DNSMX_TEMP)
		__builtin_trap();
	if (n > 8 || (r != DNSMX_OK && n != 0) || (r == DNSMX_OK && !n)) __builtin_trap();
	for (size_t i = 0; i < n; i++) {
		if (a[i].v6 != v6) __builtin_trap();
		if (!v6)
			for (int k = 4; k < 16; k++)
				if (a[i].ip[k]) __builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535) return 0;
	const char *pkt = (const char *)data;
	unsigned len = (unsigned)size;
	static struct dnsmx_mx all[8], two[8];
	size_t n8, n2;
	int r8 = check_mx(pkt, len, all, 8, &n8), r2 = check_mx(pkt, len, two, 2, &n2);
	/* fewer places: the same result, the most preferred of the same records */
	if (r8 != r2 || n2 != (n8 < 2 ? n8 : 2)) __builtin_trap();
	for (size_t i = 0; i < n2; i++)
		if (two[i].pref != all[i].pref || strcmp(two[i].host, all[i].host)) __builtin_trap();
	check_addr(pkt, len, "\0\1", 0);
	check_addr(pkt, len, "\0\34", 1);
	return 0;
}
