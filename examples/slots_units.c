/* Sizes and durations for pgrepl-slots: option values in, human text out. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "slots.h"

typedef struct unit {
    const char *name;
    double factor;
} unit;

static const unit size_units[] = {
    {"", 1},
    {"B", 1},
    {"bytes", 1},
    {"kB", 1024.0},
    {"MB", 1024.0 * 1024},
    {"GB", 1024.0 * 1024 * 1024},
    {"TB", 1024.0 * 1024 * 1024 * 1024},
    {"PB", 1024.0 * 1024 * 1024 * 1024 * 1024},
};

static const unit duration_units[] = {
    {"", 1}, {"ms", 0.001}, {"s", 1}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800},
};

/*
 * Digits with at most one '.', and nothing strtod would also take (signs,
 * exponents, hex, "inf"), so that "1e3" or "-1" are rejected, not guessed at.
 */
static int parse_scaled(const char *text, const unit *units, size_t nunits, double *out)
{
    const char *p = text;
    size_t digits = 0;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits++;
        }
    }
    char number[64];
    size_t len = (size_t)(p - text);
    if (digits == 0 || len >= sizeof number)
        return -1;
    memcpy(number, text, len);
    number[len] = '\0';
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < nunits; i++) {
        if (strcasecmp(p, units[i].name) == 0) {
            *out = strtod(number, NULL) * units[i].factor;
            return 0;
        }
    }
    return -1;
}

int slots_parse_size(const char *text, uint64_t *out)
{
    double v;
    if (parse_scaled(text, size_units, sizeof size_units / sizeof size_units[0], &v) != 0)
        return -1;
    /* 2^63: the largest size PostgreSQL itself can express is below it. */
    if (!(v < 9223372036854775808.0))
        return -1;
    uint64_t bytes = (uint64_t)(v + 0.5);
    if (bytes > (uint64_t)INT64_MAX)
        return -1;
    *out = bytes;
    return 0;
}

int slots_parse_duration(const char *text, double *out)
{
    double v;
    if (parse_scaled(text, duration_units, sizeof duration_units / sizeof duration_units[0], &v) != 0 ||
        !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/*
 * pg_size_pretty's rule: bytes below 10 kB; otherwise the first unit in which
 * the value, rounded half away from zero, is below 10240. Counting in halves
 * of the unit and then rounding gives exactly its rounding.
 */
void slots_format_size(int64_t bytes, char buf[SLOTS_SIZE_BUFSIZE])
{
    static const char *const names[] = {"kB", "MB", "GB", "TB", "PB"};
    const size_t last = sizeof names / sizeof names[0] - 1;
    const char *sign = bytes < 0 ? "-" : "";
    uint64_t magnitude = bytes < 0 ? 0 - (uint64_t)bytes : (uint64_t)bytes;
    if (magnitude < 10 * 1024) {
        snprintf(buf, SLOTS_SIZE_BUFSIZE, "%s%" PRIu64 " bytes", sign, magnitude);
        return;
    }
    for (size_t i = 0;; i++) {
        uint64_t halves = magnitude >> (10 * (i + 1) - 1);
        uint64_t value = (halves + 1) / 2;
        if (value < 10 * 1024 || i == last) {
            snprintf(buf, SLOTS_SIZE_BUFSIZE, "%s%" PRIu64 " %s", sign, value, names[i]);
            return;
        }
    }
}

void slots_format_duration(double seconds, char buf[SLOTS_DURATION_BUFSIZE])
{
    static const struct {
        char name;
        uint64_t seconds;
    } parts[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    if (!(seconds > 0)) {
        snprintf(buf, SLOTS_DURATION_BUFSIZE, "0s");
        return;
    }
    if (seconds < 1) {
        snprintf(buf, SLOTS_DURATION_BUFSIZE, "%.0fms", seconds * 1000);
        return;
    }
    uint64_t total = seconds < 1e15 ? (uint64_t)seconds : UINT64_C(1000000000000000);
    size_t i = 0;
    while (total < parts[i].seconds)
        i++;
    uint64_t major = total / parts[i].seconds, rest = total % parts[i].seconds;
    if (i + 1 < sizeof parts / sizeof parts[0] && rest / parts[i + 1].seconds > 0)
        snprintf(buf, SLOTS_DURATION_BUFSIZE, "%" PRIu64 "%c %" PRIu64 "%c", major, parts[i].name,
                 rest / parts[i + 1].seconds, parts[i + 1].name);
    else
        snprintf(buf, SLOTS_DURATION_BUFSIZE, "%" PRIu64 "%c", major, parts[i].name);
}
