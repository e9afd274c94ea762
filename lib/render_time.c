/*
 * Dates and times as the server prints them with DateStyle ISO, TimeZone UTC
 * and IntervalStyle postgres.
 */
#include <stdlib.h>

#include "digits.h"
#include "render.h"

#define USECS_PER_SEC INT64_C(1000000)
#define USECS_PER_MINUTE (60 * USECS_PER_SEC)
#define USECS_PER_HOUR (60 * USECS_PER_MINUTE)
#define USECS_PER_DAY (24 * USECS_PER_HOUR)

/*
 * Valid dates (days) and timestamps (microseconds) relative to 2000-01-01:
 * from 4714-11-24 BC up to, not including, 5874898-01-01 and 294277-01-01.
 */
#define DATE_MIN (-2451545)
#define DATE_END (2147483494 - 2451545)
#define TIMESTAMP_MIN INT64_C(-211813488000000000)
#define TIMESTAMP_END INT64_C(9223371331200000000)
/* Time zone displacements the server accepts: +-15:59:59. */
#define TZDISP_LIMIT ((15 * 60 + 59) * 60 + 59)

/* A scratch line long enough for any timestamp or time of day with zone. */
struct line {
    char s[96];
    size_t k;
};

static void add(struct line *l, const char *s, size_t n)
{
    memcpy(l->s + l->k, s, n);
    l->k += n;
}

static void add_c(struct line *l, char c)
{
    l->s[l->k++] = c;
}

static void add_num(struct line *l, uint64_t v, int min_digits)
{
    char *o = l->s + l->k;
    /* the common fields (MM, DD, HH, MI, SS, a four-digit year) without a copy */
    if (min_digits == 2 && v < 100) {
        o[0] = (char)('0' + v / 10);
        o[1] = (char)('0' + v % 10);
        l->k += 2;
        return;
    }
    if (min_digits == 4 && v < 10000) {
        o[0] = (char)('0' + v / 1000);
        o[1] = (char)('0' + v / 100 % 10);
        o[2] = (char)('0' + v / 10 % 10);
        o[3] = (char)('0' + v % 10);
        l->k += 4;
        return;
    }
    char tmp[24];
    int n = pgrepl__fmt_u64(tmp + sizeof tmp, v, min_digits);
    add(l, tmp + sizeof tmp - n, (size_t)n);
}

/* Proleptic Gregorian date of a day count from 2000-01-01; year 0 is 1 BC. */
static void civil_date(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 730425; /* days from 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

/* "YYYY-MM-DD", the year of a BC date counted from 1; returns whether it is BC. */
static bool add_date(struct line *l, int64_t days)
{
    int64_t year;
    int month, day;
    civil_date(days, &year, &month, &day);
    bool bc = year <= 0;
    add_num(l, (uint64_t)(bc ? 1 - year : year), 4);
    add_c(l, '-');
    add_num(l, (uint64_t)month, 2);
    add_c(l, '-');
    add_num(l, (uint64_t)day, 2);
    return bc;
}

/* Seconds with the fraction trimmed of trailing zeros, as AppendSeconds does. */
static void add_seconds(struct line *l, int64_t sec, int64_t usec)
{
    add_num(l, (uint64_t)sec, 2);
    if (usec == 0)
        return;
    char frac[6];
    pgrepl__fmt_u64(frac + 6, (uint64_t)usec, 6);
    size_t n = 6;
    while (frac[n - 1] == '0')
        n--;
    add_c(l, '.');
    add(l, frac, n);
}

/* "HH:MM:SS[.ffffff]" of a non-negative time of day in microseconds. */
static void add_time(struct line *l, int64_t t)
{
    add_num(l, (uint64_t)(t / USECS_PER_HOUR), 2);
    add_c(l, ':');
    add_num(l, (uint64_t)(t / USECS_PER_MINUTE % 60), 2);
    add_c(l, ':');
    add_seconds(l, t / USECS_PER_SEC % 60, t % USECS_PER_SEC);
}

/* EncodeTimezone: zone is seconds west of Greenwich; minutes and seconds only when not zero. */
static void add_zone(struct line *l, int32_t zone)
{
    int32_t sec = abs(zone);
    add_c(l, zone <= 0 ? '+' : '-');
    add_num(l, (uint64_t)(sec / 3600), 2);
    if (sec % 3600 == 0)
        return;
    add_c(l, ':');
    add_num(l, (uint64_t)(sec / 60 % 60), 2);
    if (sec % 60 == 0)
        return;
    add_c(l, ':');
    add_num(l, (uint64_t)(sec % 60), 2);
}

static int put_line(pgrepl_buf *out, const struct line *l)
{
    return pgrepl__put(out, l->s, l->k);
}

static int render_date(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    int rc = pgrepl__want_len("date", n, 4);
    if (rc != 0)
        return rc;
    int32_t days = (int32_t)pgrepl__rd32(p);
    if (days == INT32_MIN)
        return pgrepl__puts(out, "-infinity");
    if (days == INT32_MAX)
        return pgrepl__puts(out, "infinity");
    if (days < DATE_MIN || days >= DATE_END)
        return pgrepl__render_bad("date %d out of range", (int)days);
    struct line l = {.k = 0};
    if (add_date(&l, days))
        add(&l, " BC", 3);
    return put_line(out, &l);
}

/* Floor division, so that times before 2000 fall on the right day. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int render_timestamp(pgrepl_buf *out, const uint8_t *p, size_t n, bool tz)
{
    int rc = pgrepl__want_len(tz ? "timestamptz" : "timestamp", n, 8);
    if (rc != 0)
        return rc;
    int64_t ts = (int64_t)pgrepl__rd64(p);
    if (ts == INT64_MIN)
        return pgrepl__puts(out, "-infinity");
    if (ts == INT64_MAX)
        return pgrepl__puts(out, "infinity");
    if (ts < TIMESTAMP_MIN || ts >= TIMESTAMP_END)
        return pgrepl__render_bad("timestamp %lld out of range", (long long)ts);
    int64_t days = floor_div(ts, USECS_PER_DAY);
    struct line l = {.k = 0};
    bool bc = add_date(&l, days);
    add_c(&l, ' ');
    add_time(&l, ts - days * USECS_PER_DAY);
    if (tz)
        add(&l, "+00", 3);
    if (bc)
        add(&l, " BC", 3);
    return put_line(out, &l);
}

static int render_time_of_day(pgrepl_buf *out, const uint8_t *p, size_t n, bool tz)
{
    int rc = pgrepl__want_len(tz ? "timetz" : "time", n, tz ? 12 : 8);
    if (rc != 0)
        return rc;
    int64_t t = (int64_t)pgrepl__rd64(p);
    if (t < 0 || t > USECS_PER_DAY)
        return pgrepl__render_bad("time of day %lld out of range", (long long)t);
    struct line l = {.k = 0};
    add_time(&l, t);
    if (tz) {
        int32_t zone = (int32_t)pgrepl__rd32(p + 8);
        if (zone < -TZDISP_LIMIT || zone > TZDISP_LIMIT)
            return pgrepl__render_bad("time zone displacement %d out of range", (int)zone);
        add_zone(&l, zone);
    }
    return put_line(out, &l);
}

/*
 * One "N unit(s)" part of an interval (AddPostgresIntPart): zero parts are
 * left out; a positive part after a negative one gets an explicit '+'.
 */
static void add_interval_part(struct line *l, int64_t v, const char *unit, bool *is_zero, bool *is_before)
{
    if (v == 0)
        return;
    if (!*is_zero)
        add_c(l, ' ');
    if (*is_before && v > 0)
        add_c(l, '+');
    if (v < 0)
        add_c(l, '-');
    add_num(l, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 1);
    add_c(l, ' ');
    add(l, unit, strlen(unit));
    if (v != 1)
        add_c(l, 's');
    *is_before = v < 0;
    *is_zero = false;
}

/* IntervalStyle postgres: "1 year 2 mons -3 days +04:05:06.5"; all zero is "00:00:00". */
static int render_interval(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    int rc = pgrepl__want_len("interval", n, 16);
    if (rc != 0)
        return rc;
    int64_t time = (int64_t)pgrepl__rd64(p);
    int32_t day = (int32_t)pgrepl__rd32(p + 8);
    int32_t month = (int32_t)pgrepl__rd32(p + 12);
    /* PostgreSQL 17's infinite intervals (earlier versions cannot store these values). */
    if (time == INT64_MIN && day == INT32_MIN && month == INT32_MIN)
        return pgrepl__puts(out, "-infinity");
    if (time == INT64_MAX && day == INT32_MAX && month == INT32_MAX)
        return pgrepl__puts(out, "infinity");
    struct line l = {.k = 0};
    bool is_zero = true, is_before = false;
    add_interval_part(&l, month / 12, "year", &is_zero, &is_before);
    add_interval_part(&l, month % 12, "mon", &is_zero, &is_before);
    add_interval_part(&l, day, "day", &is_zero, &is_before);
    if (is_zero || time != 0) {
        uint64_t mag = time < 0 ? 0 - (uint64_t)time : (uint64_t)time;
        if (!is_zero)
            add_c(&l, ' ');
        if (time < 0)
            add_c(&l, '-');
        else if (is_before)
            add_c(&l, '+');
        add_num(&l, mag / (uint64_t)USECS_PER_HOUR, 2);
        add_c(&l, ':');
        add_num(&l, mag / (uint64_t)USECS_PER_MINUTE % 60, 2);
        add_c(&l, ':');
        add_seconds(&l, (int64_t)(mag / (uint64_t)USECS_PER_SEC % 60), (int64_t)(mag % (uint64_t)USECS_PER_SEC));
    }
    return put_line(out, &l);
}

int pgrepl__render_time(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n)
{
    switch (oid) {
    case PGREPL_DATEOID: return render_date(out, p, n);
    case PGREPL_TIMEOID: return render_time_of_day(out, p, n, false);
    case PGREPL_TIMETZOID: return render_time_of_day(out, p, n, true);
    case PGREPL_TIMESTAMPOID: return render_timestamp(out, p, n, false);
    case PGREPL_TIMESTAMPTZOID: return render_timestamp(out, p, n, true);
    default: return render_interval(out, p, n);
    }
}
