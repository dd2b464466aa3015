#include <stdio.h>
#include <time.h>
#include "date822.h"

size_t date822_fmt(char out[DATE822_LEN], time_t t)
{
	static const char *wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	if (!localtime_r(&t, &tm)) { gmtime_r(&t, &tm); tm.tm_gmtoff = 0; }
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0) off = -off;
	int n = snprintf(out, DATE822_LEN, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
			 wd[tm.tm_wday % 7], tm.tm_mday, mo[tm.tm_mon % 12], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
	return n < 0 ? 0 : (size_t)n >= DATE822_LEN ? DATE822_LEN - 1 : (size_t)n;
}
