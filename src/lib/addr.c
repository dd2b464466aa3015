#include <string.h>
#include "addr.h"

size_t addr_at(const char *a, size_t len)
{
	for (size_t i = len; i > 0; i--)
		if (a[i - 1] == '@') return i - 1;
	return len;
}

void addr_lower(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z') s[i] = (char)(s[i] + 32);
}

int addr_pathsafe(const char *s, size_t n)
{
	if (n == 0 || n > 255 || s[0] == '.') return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c < 0x20 || c == 0x7f) return 0;
	}
	return 1;
}

int addr_domain_ok(const char *d, size_t n)
{
	if (n == 0 || n > 255) return 0;
	if (d[0] == '[') return n > 2 && d[n - 1] == ']';
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0) return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c >= 0x80)) return 0;
		if (++label > 63) return 0;
	}
	return 1;
}
