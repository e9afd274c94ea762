#include "digits.h"

/* "00" to "99": two digits per division. */
static const char two_digits[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                    "8081828384858687888990919293949596979899";

int pgrepl__fmt_u64(char *end, uint64_t v, int min_digits)
{
    int n = 0;
    while (v >= 10) {
        const char *d = two_digits + 2 * (v % 100);
        *--end = d[1];
        *--end = d[0];
        v /= 100;
        n += 2;
    }
    if (v != 0 || n == 0) {
        *--end = (char)('0' + v);
        n++;
    }
    while (n < min_digits) {
        *--end = '0';
        n++;
    }
    return n;
}

int pgrepl__put_u64(pgrepl_buf *b, uint64_t v, int min_digits)
{
    char tmp[32];
    int n = pgrepl__fmt_u64(tmp + sizeof tmp, v, min_digits > 30 ? 30 : min_digits);
    return pgrepl__put(b, tmp + sizeof tmp - n, (size_t)n);
}

int pgrepl__put_i64(pgrepl_buf *b, int64_t v)
{
    char tmp[32];
    /* Negate in unsigned arithmetic: INT64_MIN has no positive counterpart. */
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int n = pgrepl__fmt_u64(tmp + sizeof tmp, mag, 1);
    if (v < 0)
        tmp[sizeof tmp - ++n] = '-';
    return pgrepl__put(b, tmp + sizeof tmp - n, (size_t)n);
}
