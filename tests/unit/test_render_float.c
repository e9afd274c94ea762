/*
 * The shortest-digits formatter (render_float.c) against the reference it
 * replaced: the search over precisions with the C library's %e and strtod
 * below (kept here verbatim as the oracle; it matched the server's float8out
 * and float4out byte for byte, see test_values.c and the live suites).
 * A million random bit patterns (twenty million in a one-off run, see
 * bench/README.md), every tiny subnormal, the powers of two
 * (whose interval is lopsided), integers beyond 2^53 (where candidates can
 * sit exactly on the interval's edge) and values near the layout limits.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "testutil.h"

/* ---- the reference ---------------------------------------------------------- */

/* Shortest decimal form of a finite nonzero magnitude: its digits and the exponent of the first one. */
struct decimal {
    char d[24];
    int n;   /* number of digits */
    int exp; /* value = 0.d1d2... * 10^(exp + 1) */
};

static bool parses_to(const char *text, double v, bool single)
{
    if (single)
        return strtof(text, NULL) == (float)v;
    return strtod(text, NULL) == v;
}

/*
 * The server's Ryu does not accept a candidate lying exactly halfway between
 * v and a neighbour (its acceptBounds is off), though round-half-even may
 * read it back as v. Such ties are integers, and only occur where the
 * spacing of floats is 2 or more (v >= 2^53, 2^24 for float4): there an
 * integer candidate c is strictly inside v's interval exactly when c - 0.5
 * and c + 0.5 also read back as v.
 */
static bool strictly_inside(const struct decimal *dec, double v, bool single)
{
    int zeros = dec->exp - dec->n + 1;
    if (zeros < 0 || v < (single ? 16777216.0 : 9007199254740992.0))
        return true;
    char text[400];
    size_t k = (size_t)dec->n;
    memcpy(text, dec->d, k);
    memset(text + k, '0', (size_t)zeros);
    k += (size_t)zeros;
    memcpy(text + k, "5e-1", 5);
    if (!parses_to(text, v, single))
        return false;
    /* c - 0.5: c - 1 followed by 5. */
    size_t i = k;
    while (i-- > 0 && text[i] == '0')
        text[i] = '9';
    text[i]--;
    return parses_to(text, v, single);
}

/* The value d1d2...dn * 10^(exp-n+1) parses back (in the C library, any locale) to v? */
static bool round_trips(const struct decimal *dec, double v, bool single)
{
    char text[48];
    memcpy(text, dec->d, (size_t)dec->n);
    snprintf(text + dec->n, sizeof text - (size_t)dec->n, "e%d", dec->exp - dec->n + 1);
    return parses_to(text, v, single) && strictly_inside(dec, v, single);
}

/* Digits and exponent of the C library's %e (whose decimal point depends on the locale). */
static void print_e(double v, int prec, struct decimal *dec)
{
    char text[48];
    snprintf(text, sizeof text, "%.*e", prec - 1, v);
    dec->n = 0;
    const char *s = text;
    for (; *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            dec->d[dec->n++] = *s;
    dec->exp = atoi(s + 1);
}

/*
 * v correctly rounded to prec significant digits. Taken from its 17 digits
 * (printed once) unless they end in exactly 5 then zeros after prec, where
 * only the full value can tell which way to round.
 */
static void rounded(double v, const struct decimal *all, int prec, struct decimal *dec)
{
    bool up = false;
    if (prec < all->n && all->d[prec] >= '5') {
        bool rest_zero = true;
        for (int k = prec + 1; k < all->n; k++)
            rest_zero = rest_zero && all->d[k] == '0';
        if (all->d[prec] == '5' && rest_zero) {
            print_e(v, prec, dec);
            return;
        }
        up = true;
    }
    memcpy(dec->d, all->d, (size_t)prec);
    dec->n = prec;
    dec->exp = all->exp;
    if (!up)
        return;
    int k = prec - 1;
    while (k >= 0 && dec->d[k] == '9')
        dec->d[k--] = '0';
    if (k >= 0) {
        dec->d[k]++;
    } else {
        dec->d[0] = '1';
        dec->exp++;
    }
}

/* Add one in the last digit; false when the digit count would change. */
static bool step(struct decimal *dec)
{
    int i = dec->n - 1;
    while (i >= 0 && dec->d[i] == '9')
        dec->d[i--] = '0';
    if (i < 0)
        return false;
    dec->d[i]++;
    return true;
}

/*
 * The candidate with prec digits closest to v among those that read back as
 * v: the correctly rounded one, or, when v is a power of two (whose interval
 * reaches only half as far below as above), the next one up. Ryu, which the
 * server uses, picks the same.
 */
static bool try_prec(double v, bool single, bool lopsided, const struct decimal *all, int prec, struct decimal *dec)
{
    rounded(v, all, prec, dec);
    if (round_trips(dec, v, single))
        return true;
    struct decimal up = *dec;
    if (lopsided && step(&up) && round_trips(&up, v, single)) {
        *dec = up;
        return true;
    }
    return false;
}

/*
 * Shortest digits: binary search on the precision (a candidate at p digits
 * gives one at p + 1); 17 digits (9 for float4) always read back.
 */
static void shortest(double v, bool single, struct decimal *dec)
{
    struct decimal all, cand;
    int lo = 1, hi = single ? 9 : 17, e2;
    bool lopsided = frexp(v, &e2) == 0.5 && v >= (single ? 2 * (double)FLT_MIN : 2 * DBL_MIN);
    print_e(v, 17, &all);
    *dec = all;
    dec->n = hi;
    if (single)
        rounded(v, &all, hi, dec);
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (try_prec(v, single, lopsided, &all, mid, &cand)) {
            *dec = cand;
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    while (dec->n > 1 && dec->d[dec->n - 1] == '0')
        dec->n--;
}

/* ---- the checks --------------------------------------------------------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static long checked;

/* Both ways for a finite v; a mismatch fails with both answers. Zero (a neighbour of the smallest subnormal) is not asked. */
static void check(double v, bool single)
{
    if (v == 0)
        return;
    struct decimal want;
    shortest(v, single, &want);
    char got[17];
    int exp10 = 12345;
    int n = pgrepl__float_shortest(v, single, got, &exp10);
    ck_assert_msg(n == want.n && exp10 == want.exp && memcmp(got, want.d, (size_t)n) == 0,
                  "%s %.17g (%a): got %.*s e%d, want %.*s e%d", single ? "float4" : "float8", v, v, n, got, exp10,
                  want.n, want.d, want.exp);
    checked++;
}

static double from_bits64(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static double from_bits32(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

START_TEST(random_doubles)
{
    for (int i = 0; i < 500000; i++) {
        double v = fabs(from_bits64(rng()));
        if (isfinite(v) && v != 0)
            check(v, false);
    }
}
END_TEST

START_TEST(random_floats)
{
    for (int i = 0; i < 500000; i++) {
        double v = fabs(from_bits32((uint32_t)rng()));
        if (isfinite(v) && v != 0)
            check(v, true);
    }
}
END_TEST

/* Doubles with short decimal forms (the kind tables hold): n / 10^k, and random digits at every exponent. */
START_TEST(decimal_like_doubles)
{
    for (int i = 0; i < 200000; i++) {
        char text[64];
        snprintf(text, sizeof text, "%llue%d", (unsigned long long)(rng() % 1000000000), (int)(rng() % 640) - 330);
        double v = strtod(text, NULL);
        if (isfinite(v) && v != 0) {
            check(v, false);
            if (v <= FLT_MAX && v >= FLT_TRUE_MIN)
                check((float)v, true);
        }
    }
}
END_TEST

START_TEST(edges)
{
    /* the smallest subnormals, where the interval holds several one-digit candidates */
    for (uint64_t c = 1; c <= 20000; c++) {
        check(from_bits64(c), false);
        check(from_bits32((uint32_t)c), true);
    }
    /* the largest values, and around the smallest normals */
    for (uint64_t c = 0; c <= 20000; c++) {
        check(from_bits64(UINT64_C(0x7fefffffffffffff) - c), false);
        check(from_bits32(0x7f7fffffu - (uint32_t)c), true);
        check(from_bits64(UINT64_C(0x0010000000000000) + c), false);
        check(from_bits64(UINT64_C(0x0010000000000000) - c - 1), false);
        check(from_bits32(0x00800000u + (uint32_t)c), true);
        check(from_bits32(0x00800000u - (uint32_t)c - 1), true);
    }
    /* every power of two and its neighbours: the lopsided intervals */
    for (int e = -1074; e <= 1023; e++) {
        double p = ldexp(1, e);
        check(p, false);
        check(nextafter(p, 0), false);
        check(nextafter(p, INFINITY), false);
        if (p >= FLT_TRUE_MIN && p <= FLT_MAX) {
            check((float)p, true);
            check(nextafterf((float)p, 0), true);
            if ((float)p < FLT_MAX)
                check(nextafterf((float)p, INFINITY), true);
        }
    }
    /* integers past 2^53 (2^24 for float4): candidates can lie exactly on the interval's edge */
    for (int e = 53; e <= 80; e++)
        for (int i = -3000; i <= 3000; i++)
            check(ldexp(1, e) + ldexp(i, e - 52), false);
    for (int e = 24; e <= 40; e++)
        for (int i = -3000; i <= 3000; i++)
            check((float)(ldexp(1, e) + ldexp(i, e - 23)), true);
    /* round decimal values and their neighbours */
    for (int k = -320; k <= 308; k++) {
        double p = strtod(k < 0 ? "1e-1" : "1", NULL) * pow(10, k < 0 ? k + 1 : k);
        if (p == 0 || !isfinite(p))
            continue;
        check(p, false);
        check(nextafter(p, 0), false);
        check(nextafter(p, INFINITY), false);
    }
}
END_TEST

static Suite *render_float_suite(void)
{
    Suite *s = suite_create("render_float");
    TCase *tc = tcase_create("against_reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, random_doubles);
    tcase_add_test(tc, random_floats);
    tcase_add_test(tc, decimal_like_doubles);
    tcase_add_test(tc, edges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(render_float_suite());
}
