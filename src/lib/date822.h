/* date822: RFC 5322 date-time. */
#ifndef TERN_DATE822_H
#define TERN_DATE822_H
#include <stddef.h>
#include <time.h>

#define DATE822_LEN 40
/* "Wed, 25 Nov 2026 07:53:15 +0000" (local time zone) into out; returns its length. */
size_t date822_fmt(char out[DATE822_LEN], time_t t);

#endif
