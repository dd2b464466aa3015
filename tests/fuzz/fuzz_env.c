/* libFuzzer: the qmail-queue envelope parser (outside input to tern-queue), with the DSN
 * extension records: whatever env_parse accepts, the accessors walk consistently, and
 * rebuilding it with the builders gives an envelope env_parse accepts with the same values. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "env.h"

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* NOTIFY values compare as sets: the builder writes its canonical order. */
static unsigned bitsof(const char *v)
{
	unsigned b = 0;
	if (v && !env_notify_parse(v, strlen(v), 1, &b)) __builtin_trap();
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct env_limits lim = { 1000, 10000 };
	size_t n;
	const char *s = (const char *)data;
	if (env_parse(s, size, &lim, &n) != ENV_OK) return 0;
	size_t pos = 0, k = 0;
	const char *a, *no, *oc;
	(void)env_sender(s);
	while (env_next_rcpt(s, size, &pos)) k++;
	if (k != n) __builtin_trap();

	struct env_dsn d;
	env_dsn(s, size, &d);
	if (d.envid && !env_envid_ok(d.envid, strlen(d.envid))) __builtin_trap();
	if (d.ret && strcmp(d.ret, "FULL") && strcmp(d.ret, "HDRS")) __builtin_trap();
	static stralloc b;
	if (!env_start(&b, env_sender(s))) return 0;
	if (d.envid && !env_add_envid(&b, d.envid)) return 0;
	if (d.ret && !env_add_ret(&b, d.ret)) return 0;
	pos = 0;
	for (k = 0; (a = env_next_rcpt_dsn(s, size, &pos, &no, &oc)); k++) {
		unsigned bits = 0;
		if (no && !env_notify_parse(no, strlen(no), 1, &bits)) __builtin_trap();
		if (oc && !env_orcpt_ok(oc, strlen(oc))) __builtin_trap();
		if (!env_add_rcpt(&b, a) || !env_add_notify(&b, bits) || (oc && !env_add_orcpt(&b, oc))) return 0;
	}
	if (k != n || !env_finish(&b)) return 0;
	size_t n2;
	if (env_parse(b.s, b.len, &lim, &n2) != ENV_OK || n2 != n) __builtin_trap();
	struct env_dsn d2;
	env_dsn(b.s, b.len, &d2);
	if (!same(d.envid, d2.envid) || !same(d.ret, d2.ret)) __builtin_trap();
	size_t p1 = 0, p2 = 0;
	const char *no2, *oc2;
	while ((a = env_next_rcpt_dsn(s, size, &p1, &no, &oc))) {
		const char *a2 = env_next_rcpt_dsn(b.s, b.len, &p2, &no2, &oc2);
		if (!a2 || strcmp(a, a2) || bitsof(no) != bitsof(no2) || !same(oc, oc2)) __builtin_trap();
	}
	/* By index: the last recipient, and one past the end. */
	if (!same(env_rcpt_dsn(s, size, n - 1, &no, &oc), env_rcpt_dsn(b.s, b.len, n - 1, &no2, &oc2)) ||
	    env_rcpt_dsn(s, size, n, 0, 0)) __builtin_trap();
	return 0;
}
