#include <stdio.h>
#include <time.h>

#include "pgrepl/common.h"
#include "pgrepl/decode.h"

pgrepl_timestamp pgrepl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (pgrepl_timestamp)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - PGREPL_EPOCH_OFFSET_US;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int pgrepl_timestamp_format(pgrepl_timestamp ts, char buf[PGREPL_TIMESTAMP_BUFSIZE])
{
    /* Work in Unix time; floor division keeps negative values right. */
    const int64_t us_per_day = INT64_C(86400000000);
    int64_t days = ts / us_per_day;
    int64_t rem = ts % us_per_day;
    if (rem < 0) {
        rem += us_per_day;
        days -= 1;
    }
    days += 10957; /* 2000-01-01 is day 10957 of the Unix epoch */
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    unsigned hour = (unsigned)(rem / INT64_C(3600000000));
    unsigned minute = (unsigned)(rem / 60000000 % 60);
    unsigned second = (unsigned)(rem / 1000000 % 60);
    unsigned micro = (unsigned)(rem % 1000000);
    if (year >= 0 && year <= 9999)
        return snprintf(buf, PGREPL_TIMESTAMP_BUFSIZE, "%04lld-%02u-%02uT%02u:%02u:%02u.%06uZ", (long long)year,
                        month, day, hour, minute, second, micro);
    return snprintf(buf, PGREPL_TIMESTAMP_BUFSIZE, "%+lld-%02u-%02uT%02u:%02u:%02u.%06uZ", (long long)year, month,
                    day, hour, minute, second, micro);
}
