/*
 * Network addresses: inet and cidr as network_out prints them (the server's
 * own inet_net_ntop rules: IPv4 always with four octets, IPv6 with the first
 * longest run of two or more zero groups shortened to "::" and the
 * IPv4-compatible and -mapped forms with a dotted tail), macaddr, macaddr8.
 */
#include "digits.h"
#include "render.h"

#define PGSQL_AF_INET 2
#define PGSQL_AF_INET6 3

static const char hexdigits[] = "0123456789abcdef";

/* Lower-case hex without leading zeros. */
static size_t fmt_hex16(char *w, unsigned v)
{
    size_t k = 0;
    for (int shift = 12; shift >= 0; shift -= 4)
        if ((v >> shift) != 0 || shift == 0)
            w[k++] = hexdigits[(v >> shift) & 15];
    return k;
}

static size_t fmt_dotted(char *w, const uint8_t *a)
{
    size_t k = 0;
    for (int i = 0; i < 4; i++) {
        if (i > 0)
            w[k++] = '.';
        char tmp[4];
        int n = pgrepl__fmt_u64(tmp + 4, a[i], 1);
        memcpy(w + k, tmp + 4 - n, (size_t)n);
        k += (size_t)n;
    }
    return k;
}

/* The first longest run of zero groups, if it is at least two long. */
static void zero_run(const unsigned words[8], int *base, int *len)
{
    *base = -1;
    *len = 0;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && words[j] == 0)
            j++;
        if (j - i > *len) {
            *base = i;
            *len = j - i;
        }
        i = j == i ? i + 1 : j;
    }
    if (*len < 2)
        *base = -1;
}

static size_t fmt_ipv6(char *w, const uint8_t *a)
{
    unsigned words[8];
    for (int i = 0; i < 8; i++)
        words[i] = (unsigned)(a[2 * i] << 8 | a[2 * i + 1]);
    int base, len;
    zero_run(words, &base, &len);
    size_t k = 0;
    for (int i = 0; i < 8; i++) {
        if (base >= 0 && i >= base && i < base + len) {
            if (i == base)
                w[k++] = ':';
            continue;
        }
        if (i != 0)
            w[k++] = ':';
        /* ::a.b.c.d and ::ffff:a.b.c.d keep the embedded IPv4 address dotted. */
        if (i == 6 && base == 0 && (len == 6 || (len == 5 && words[5] == 0xffff)))
            return k + fmt_dotted(w + k, a + 12);
        k += fmt_hex16(w + k, words[i]);
    }
    if (base >= 0 && base + len == 8)
        w[k++] = ':';
    return k;
}

static int render_inet(pgrepl_buf *out, bool cidr, const uint8_t *p, size_t n)
{
    if (n < 4)
        return pgrepl__render_bad("inet value of %zu bytes", n);
    unsigned family = p[0], bits = p[1], nb = p[3];
    unsigned maxbits = family == PGSQL_AF_INET ? 32 : 128;
    if (family != PGSQL_AF_INET && family != PGSQL_AF_INET6)
        return pgrepl__render_bad("inet address family %u", family);
    if (bits > maxbits || p[2] > 1 || nb != maxbits / 8 || n != 4 + (size_t)nb)
        return pgrepl__render_bad("inet value with %u bits, %u address bytes in %zu bytes", bits, nb, n);
    char text[64];
    size_t k = family == PGSQL_AF_INET ? fmt_dotted(text, p + 4) : fmt_ipv6(text, p + 4);
    /* inet leaves out a host-width mask; cidr always shows it. */
    if (cidr || bits != maxbits) {
        text[k++] = '/';
        char tmp[4];
        int d = pgrepl__fmt_u64(tmp + 4, bits, 1);
        memcpy(text + k, tmp + 4 - d, (size_t)d);
        k += (size_t)d;
    }
    return pgrepl__put(out, text, k);
}

static int render_mac(pgrepl_buf *out, const uint8_t *p, size_t n, size_t want)
{
    int rc = pgrepl__want_len(want == 6 ? "macaddr" : "macaddr8", n, want);
    if (rc != 0)
        return rc;
    char text[24];
    size_t k = 0;
    for (size_t i = 0; i < want; i++) {
        if (i > 0)
            text[k++] = ':';
        text[k++] = hexdigits[p[i] >> 4];
        text[k++] = hexdigits[p[i] & 15];
    }
    return pgrepl__put(out, text, k);
}

int pgrepl__render_net(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n)
{
    switch (oid) {
    case 650: return render_inet(out, true, p, n);
    case 869: return render_inet(out, false, p, n);
    case 829: return render_mac(out, p, n, 6);
    default: return render_mac(out, p, n, 8);
    }
}
