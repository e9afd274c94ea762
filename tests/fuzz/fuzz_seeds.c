/*
 * fuzz_seeds: write the seed corpus of fuzz_decode (or, with --copyreader,
 * of fuzz_copyreader) into a directory.
 *
 *   fuzz_seeds OUTDIR [FIXTURE.cap ...]
 *   fuzz_seeds --copyreader OUTDIR [FIXTURE.cap ...]
 *
 * Seeds are in fuzz_decode's input format (see fuzz_decode.c): a 2-byte
 * header, then [2-byte big-endian length][bytes] records. They come from
 *   - the byte examples of protocol.md section 4, in the orders a server sends
 *     them (framing, schema, changes, streaming, two-phase), as bare pgoutput
 *     messages and wrapped in XLogData headers, with header variants that
 *     pause, fail callbacks and fail allocations;
 *   - forty relations with an Insert each and a Truncate of them all;
 *   - every capture file given (tests/fixtures/pg<major>/<name>.cap:
 *     "PGRCAP01", then [4-byte length][CopyData payload] records): each
 *     XLogData's pgoutput message alone, and the whole file as one input.
 * fuzz_copyreader's seeds (see fuzz_copyreader.c: a 2-byte header, then a
 * backend message stream) are the end of a copy, a server's error and
 * notice, headers that announce too little or too much, and each capture
 * file's CopyData payloads framed as the server sent them (its first 16 kB),
 * with header variants for the pieces the stream arrives in and failing
 * allocations.
 * A seed's file name is a hash of its bytes, so duplicates collapse.
 * Exit status 0, or 1 with a message on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORD 0xffff
#define MAX_SEED (1024 * 1024)
#define XLOGDATA_HEADER 25

typedef struct seed {
    uint8_t b[MAX_SEED];
    size_t len;
} seed;

static const char *outdir;
static unsigned long written;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz_seeds: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- protocol.md section 4 examples, in the order a server sends them ---- */

#define B_774 "42 0000000001be85c8 000303c880102892 00000306"
#define C_774 "43 00 0000000001be85c8 0000000001be85f8 000303c880102892"
#define ORIGIN "4f 00000000abcdef01 6d796f726967696e00"
#define Y_MOOD "59 00004002 7075626c696300 6d6f6f6400"
#define Y_POSINT "59 00004049 00 696e743400"
#define R_T                                                                                                           \
    "52 00004009 7075626c696300 7400 64 0004 01 696400 00000017 ffffffff 00 6e616d6500 00000019 ffffffff"             \
    " 00 6d00 00004002 ffffffff 00 62696700 00000019 ffffffff"
#define TT_COLS                                                                                                       \
    "0004 01 696400 00000017 ffffffff 00 7600 00000413 0000000e 00 6e00 000006a4 00080006 00 7800 00000019 ffffffff"
#define R_TT "52 00004025 7075626c696300 747400 64 " TT_COLS
#define R_TT_S "52 0000031d 00004025 7075626c69630074740064 " TT_COLS
#define R_TF "52 00004011 7075626c696300 746600 66 0002 01 696400 00000017 ffffffff 01 7600 00000019 ffffffff"
#define R_TK                                                                                                          \
    "52 00004016 7075626c696300 746b00 69 0003 01 6100 00000017 ffffffff 01 6200 00000017 ffffffff"                   \
    " 00 6300 00000019 ffffffff"
#define R_DOM "52 00004200 7075626c696300 646f6d00 64 0001 01 7000 00004049 ffffffff"
#define R_PG "52 00004100 00 706700 6e 0000"
#define I_T "49 00004009 4e 0004 74 00000001 31 74 00000005 616c696365 74 00000005 6861707079 6e"
#define I_TT_BIN                                                                                                      \
    "49 00004025 4e 0004 62 00000004 00000003 62 00000003 78797a 62 0000000c 0002000000000002000309c4 6e"
#define U_NONE "55 00004009 4e 0004 74 00000001 31 74 00000003 626f62 74 00000005 6861707079 6e"
#define U_K                                                                                                           \
    "55 00004009 4b 0004 74 00000001 31 6e 6e 6e 4e 0004 74 00000001 32 74 00000005 616c696365"                       \
    " 74 00000005 6861707079 6e"
#define U_O "55 00004011 4f 0002 74 00000001 31 74 00000001 78 4e 0002 74 00000001 31 74 00000001 79"
#define U_TOAST "55 00004009 4e 0004 74 00000001 33 74 00000004 62696732 74 00000002 6f6b 75"
#define D_K "44 00004016 4b 0003 74 00000001 31 74 00000001 32 6e"
#define D_O "44 00004011 4f 0002 74 00000001 31 74 00000001 79"
#define T_1 "54 00000001 00 00004011"
#define T_2 "54 00000002 03 00004016 00004011"
#define M_TX "4d 01 0000000001bed4f0 70667800 00000005 68656c6c6f"
#define M_NONTX "4d 00 0000000001bed560 70667800 00000005 6e6f6e7478"
#define M_STREAM "4d 0000031d 01 0000000001cb6be0 736d00 00000009 696e2d73747265616d"
#define S_797 "53 0000031d 01"
#define S_797_NEXT "53 0000031d 00"
#define E_STOP "45"
#define C_797 "63 0000031d 00 0000000001cb6c28 0000000001cb6c60 000303c881ff9999"
#define A_PARALLEL "41 0000031d 0000031e 0000000001c622c8 000303c881ff67b4"
#define A_ON "41 00000322 00000322"
#define BP_806 "62 0000000001ee38b8 0000000001ee39b0 000303c883e94eee 00000326 673100"
#define P_806 "50 00 0000000001ee38b8 0000000001ee39b0 000303c883e94eee 00000326 673100"
#define K_806 "4b 00 0000000001ee39b0 0000000001ee39e8 000303c883e95154 00000326 673100"
#define RB_807 "72 00 0000000001ee3b68 0000000001ee3ba0 000303c883e9534b 000303c883e9543d 00000327 673200"
#define SP_808 "70 00 0000000001f495a0 0000000001f49698 000303c883e9836e 00000328 673300"
#define I_TT_S "49 0000031d 00004025 4e 0004 74 00000001 35 6e 6e 6e"
#define I_TT_SUB "49 0000031e 00004025 4e 0004 74 00000001 36 6e 6e 6e"
#define T_S "54 0000031e 00000001 01 00004011"
#define KEEPALIVE "6b 000000000d06c958 000303c8a1349757 00"

#define MAX_STEPS 16

static const char *const sequences[][MAX_STEPS] = {
    {B_774, Y_MOOD, R_T, I_T, U_NONE, U_K, U_TOAST, C_774},
    {B_774, ORIGIN, R_TT, I_TT_BIN, M_TX, C_774, M_NONTX},
    {B_774, R_TF, R_TK, U_O, D_O, D_K, T_1, T_2, C_774},
    {Y_POSINT, R_DOM, R_PG, T_1},
    {S_797, Y_MOOD, R_TT_S, I_TT_S, I_TT_SUB, M_STREAM, E_STOP, M_NONTX, S_797_NEXT, I_TT_S, E_STOP, C_797},
    {R_TF, S_797, T_S, E_STOP, A_PARALLEL, A_ON},
    {BP_806, ORIGIN, R_T, I_T, P_806, K_806, RB_807},
    {S_797, R_TT_S, I_TT_S, E_STOP, SP_808, K_806},
};

static const char *const singles[] = {
    B_774,  C_774,  ORIGIN, Y_MOOD,  Y_POSINT, R_T,    R_TT,    R_TT_S, R_TF,   R_TK,   R_DOM,  R_PG,
    I_T,    U_NONE, U_K,    U_O,     U_TOAST,  D_K,    D_O,     T_1,    T_2,    M_TX,   M_NONTX, M_STREAM,
    S_797,  E_STOP, C_797,  A_PARALLEL, A_ON,  BP_806, P_806,   K_806,  RB_807, SP_808, KEEPALIVE,
};

/* Header variants: plain, callbacks pause, every third callback fails, every 2nd/3rd allocation fails. */
static const uint8_t headers[][2] = {{0, 0}, {1, 0}, {2, 0}, {0, 2}, {0, 3}};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p != '\0'; p++) {
        if (*p == ' ')
            continue;
        int v = hexval(*p);
        if (v < 0 || (hi >= 0 && n == cap))
            die("bad example \"%s\"", hex);
        if (hi < 0) {
            hi = v;
            continue;
        }
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0)
        die("odd number of hex digits in \"%s\"", hex);
    return n;
}

/* ---- writing seeds ---------------------------------------------------------- */

static void seed_start(seed *s, const uint8_t header[2])
{
    s->b[0] = header[0];
    s->b[1] = header[1];
    s->len = 2;
}

/* Append one record; false (seed unchanged) when it does not fit the format or the buffer. */
static bool seed_record(seed *s, const uint8_t *p, size_t n)
{
    if (n > MAX_RECORD || n + 2 > MAX_SEED - s->len)
        return false;
    s->b[s->len] = (uint8_t)(n >> 8);
    s->b[s->len + 1] = (uint8_t)n;
    memcpy(s->b + s->len + 2, p, n);
    s->len += n + 2;
    return true;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

static void seed_write(const seed *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%016llx", outdir, (unsigned long long)fnv1a(s->b, s->len));
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(s->b, 1, s->len, f) != s->len || fclose(f) != 0)
        die("cannot write %s: %s", path, strerror(errno));
    written++;
}

/* An XLogData header around msg, with dataStart = walEnd = lsn as pgoutput sends them. */
static size_t xlogdata(uint8_t *out, uint64_t lsn, const uint8_t *msg, size_t n)
{
    out[0] = 'w';
    for (int i = 0; i < 8; i++) {
        out[1 + i] = (uint8_t)(lsn >> (56 - 8 * i));
        out[9 + i] = out[1 + i];
        out[17 + i] = (uint8_t)(UINT64_C(0x000303c880102892) >> (56 - 8 * i));
    }
    memcpy(out + XLOGDATA_HEADER, msg, n);
    return XLOGDATA_HEADER + n;
}

static void write_examples(void)
{
    static seed s;
    uint8_t msg[1024], framed[1024 + XLOGDATA_HEADER];
    for (size_t q = 0; q < sizeof sequences / sizeof sequences[0]; q++) {
        for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++) {
            for (int wrap = 0; wrap <= 1; wrap++) {
                seed_start(&s, headers[h]);
                for (int i = 0; i < MAX_STEPS && sequences[q][i] != NULL; i++) {
                    size_t n = unhex(sequences[q][i], msg, sizeof msg);
                    if (wrap)
                        n = xlogdata(framed, UINT64_C(0x1be85c8) + (uint64_t)i * 0x40, msg, n);
                    seed_record(&s, wrap ? framed : msg, n);
                }
                seed_write(&s);
            }
        }
    }
    for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++) {
        seed_start(&s, headers[0]);
        seed_record(&s, msg, unhex(singles[i], msg, sizeof msg));
        seed_write(&s);
    }
}

/*
 * More relations than the relation cache's first table holds, each with an
 * Insert, then one Truncate of them all: reaches the cache's growth (and,
 * with the failing-allocation headers, its failure).
 */
#define MANY_RELATIONS 40
#define MANY_OID 0x5000u

static size_t put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return 4;
}

static size_t put_str(uint8_t *p, const char *str)
{
    size_t n = strlen(str) + 1;
    memcpy(p, str, n);
    return n;
}

static size_t many_relation(uint8_t *p, int i)
{
    char name[16];
    size_t n = 0;
    int ncols = 1 + i % 4;
    p[n++] = 'R';
    n += put_u32(p + n, MANY_OID + (uint32_t)i);
    n += put_str(p + n, i % 2 ? "public" : "");
    snprintf(name, sizeof name, "r%d", i);
    n += put_str(p + n, name);
    p[n++] = 'd';
    p[n++] = 0;
    p[n++] = (uint8_t)ncols;
    for (int c = 0; c < ncols; c++) {
        p[n++] = c == 0;
        snprintf(name, sizeof name, "c%d", c);
        n += put_str(p + n, name);
        n += put_u32(p + n, c == 1 ? 0x4002 : 23); /* the enum of Y_MOOD, or int4 */
        n += put_u32(p + n, UINT32_MAX);
    }
    return n;
}

static size_t many_insert(uint8_t *p, int i)
{
    size_t n = 0;
    int ncols = 1 + i % 4;
    p[n++] = 'I';
    n += put_u32(p + n, MANY_OID + (uint32_t)i);
    p[n++] = 'N';
    p[n++] = 0;
    p[n++] = (uint8_t)ncols;
    for (int c = 0; c < ncols; c++) {
        p[n++] = 't';
        n += put_u32(p + n, 1);
        p[n++] = (uint8_t)('0' + c);
    }
    return n;
}

static size_t many_truncate(uint8_t *p)
{
    size_t n = 0;
    p[n++] = 'T';
    n += put_u32(p + n, MANY_RELATIONS);
    p[n++] = 0;
    for (int i = 0; i < MANY_RELATIONS; i++)
        n += put_u32(p + n, MANY_OID + (uint32_t)i);
    return n;
}

static void write_many_relations(void)
{
    static seed s;
    uint8_t msg[1024];
    for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++) {
        seed_start(&s, headers[h]);
        seed_record(&s, msg, unhex(Y_MOOD, msg, sizeof msg));
        for (int i = 0; i < MANY_RELATIONS; i++) {
            seed_record(&s, msg, many_relation(msg, i));
            seed_record(&s, msg, many_insert(msg, i));
        }
        seed_record(&s, msg, many_truncate(msg));
        seed_write(&s);
    }
}

/* ---- capture files ---------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        die("cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            die("out of memory reading %s", path);
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    if (ferror(f))
        die("cannot read %s", path);
    fclose(f);
    *len = n;
    return buf;
}

static void write_capture(const char *path)
{
    static seed whole, one;
    size_t len;
    uint8_t *buf = read_file(path, &len);
    if (len < 8 || memcmp(buf, "PGRCAP01", 8) != 0)
        die("%s is not a capture file (no PGRCAP01 magic)", path);
    seed_start(&whole, headers[0]);
    for (size_t pos = 8; pos < len;) {
        if (len - pos < 4)
            die("%s: truncated record length at offset %zu", path, pos);
        size_t n = (size_t)buf[pos] << 24 | (size_t)buf[pos + 1] << 16 | (size_t)buf[pos + 2] << 8 | buf[pos + 3];
        pos += 4;
        if (n > len - pos)
            die("%s: record at offset %zu runs past the end", path, pos - 4);
        const uint8_t *rec = buf + pos;
        pos += n;
        /* A record too large for the seed format is left out of the whole-file seed. */
        seed_record(&whole, rec, n);
        if (n < XLOGDATA_HEADER || rec[0] != 'w')
            continue;
        seed_start(&one, headers[0]);
        if (seed_record(&one, rec + XLOGDATA_HEADER, n - XLOGDATA_HEADER))
            seed_write(&one);
    }
    seed_write(&whole);
    free(buf);
}

/* ---- fuzz_copyreader ------------------------------------------------------- */

#define COPY_SEED_MAX 16384

/* [allocation failure period][pieces]: all at once, byte by byte, up to 3, 64 and 1000 bytes, failing allocations */
static const uint8_t copy_headers[][2] = {{0, 7}, {0, 0}, {0, 2 | 8}, {0, 4 | 40}, {0, 5 | 80}, {2, 4 | 16}, {3, 7}};

static const char *const copy_streams[] = {
    "64 00000007 010203",
    /* the end of a copy: CopyDone, CommandComplete, ReadyForQuery */
    "63 00000004 43 0000000b 434f5059203000 5a 00000005 49",
    /* a keepalive, then how a walsender ends at a server shutdown */
    "64 00000016 " KEEPALIVE " 43 0000000b 434f5059203000",
    /* NoticeResponse, ErrorResponse, ReadyForQuery */
    ("4e 00000012 53574152 4e494e4700 4d6869 00 00 45 00000022 53 4552524f52 00 56 4552524f52 00"
     " 43 3432373034 00 4d 6e6f20707562 00 00 5a 00000005 49"),
    "64 00000003",
    "64 00000005 2a 64 00000000",
    "64 ffffffff",
    "64 40000044 77777777",
    "64 40000045",
    "45 00100004 4d",
    "45 00100005",
    "53 40000004",
    "21 00000004",
};

static void seed_bytes(seed *s, const uint8_t *p, size_t n)
{
    if (n > MAX_SEED - s->len)
        die("seed too long");
    memcpy(s->b + s->len, p, n);
    s->len += n;
}

static void write_copy_stream(const uint8_t *p, size_t n)
{
    static seed s;
    for (size_t h = 0; h < sizeof copy_headers / sizeof copy_headers[0]; h++) {
        seed_start(&s, copy_headers[h]);
        seed_bytes(&s, p, n);
        seed_write(&s);
    }
}

/* A capture file's CopyData payloads framed as messages, as long as they fit COPY_SEED_MAX. */
static void write_copy_capture(const char *path)
{
    static uint8_t stream[COPY_SEED_MAX];
    size_t len, n = 0;
    uint8_t *buf = read_file(path, &len);
    if (len < 8 || memcmp(buf, "PGRCAP01", 8) != 0)
        die("%s is not a capture file (no PGRCAP01 magic)", path);
    for (size_t pos = 8; len - pos >= 4;) {
        size_t k = (size_t)buf[pos] << 24 | (size_t)buf[pos + 1] << 16 | (size_t)buf[pos + 2] << 8 | buf[pos + 3];
        pos += 4;
        if (k > len - pos || k + 5 > sizeof stream - n)
            break;
        stream[n] = 'd';
        put_u32(stream + n + 1, (uint32_t)k + 4);
        memcpy(stream + n + 5, buf + pos, k);
        n += 5 + k;
        pos += k;
    }
    write_copy_stream(stream, n);
    free(buf);
}

static void write_copyreader_seeds(int nfiles, char **files)
{
    uint8_t b[4096];
    for (size_t i = 0; i < sizeof copy_streams / sizeof copy_streams[0]; i++)
        write_copy_stream(b, unhex(copy_streams[i], b, sizeof b));
    for (int i = 0; i < nfiles; i++)
        write_copy_capture(files[i]);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--copyreader") == 0) {
        outdir = argv[2];
        write_copyreader_seeds(argc - 3, argv + 3);
        printf("fuzz_seeds: %lu seeds written to %s\n", written, outdir);
        return 0;
    }
    if (argc < 2)
        die("usage: fuzz_seeds [--copyreader] OUTDIR [FIXTURE.cap ...]");
    outdir = argv[1];
    write_examples();
    write_many_relations();
    for (int i = 2; i < argc; i++)
        write_capture(argv[i]);
    printf("fuzz_seeds: %lu seeds written to %s\n", written, outdir);
    return 0;
}
