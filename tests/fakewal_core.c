/*
 * The protocol side of the scripted fake walsender (fakewal_core.h): the
 * server's answers, the script's actions and the log, on non-blocking
 * sockets, stepped by the caller. It shares no code with the library on
 * purpose: a fake built on the code under test would agree with its bugs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakewal_core.h"

#define MAX_LISTENERS 4
#define MAX_SLOTS 16
/* Largest message a client may send (the stream's are far smaller). */
#define MAX_CLIENT_MSG (1u << 20)
#define IDLE_EVERY_US (300 * 1000)
/* What pg_logical_emit_message moves the WAL by. */
#define HEARTBEAT_STEP 0x40

/* ---- growable buffer --------------------------------------------------------- */

typedef struct buf {
    unsigned char *data;
    size_t len, cap;
} buf;

/* A test tool has nothing better to do when memory runs out. */
static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL && n > 0) {
        fprintf(stderr, "fakewal: out of memory\n");
        abort();
    }
    return q;
}

static void reserve(buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    b->cap = (b->len + more) * 2 + 64;
    b->data = xrealloc(b->data, b->cap);
}

static void put(buf *b, const void *p, size_t n)
{
    reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put8(buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}

static void put16(buf *b, unsigned v)
{
    put8(b, (v >> 8) & 0xff);
    put8(b, v & 0xff);
}

static void put32(buf *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}

static void put64(buf *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}

static void puts0(buf *b, const char *s)
{
    put(b, s, strlen(s) + 1);
}

/* A message: type, then the length (itself included) patched in when done. */
static size_t begin_msg(buf *b, char type)
{
    put8(b, (unsigned char)type);
    size_t at = b->len;
    put32(b, 0);
    return at;
}

static void end_msg(buf *b, size_t at)
{
    uint32_t n = (uint32_t)(b->len - at);
    b->data[at] = (unsigned char)(n >> 24);
    b->data[at + 1] = (unsigned char)(n >> 16);
    b->data[at + 2] = (unsigned char)(n >> 8);
    b->data[at + 3] = (unsigned char)n;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- the script ------------------------------------------------------------------ */

typedef enum act_kind { ACT_SILENT, ACT_DATA, ACT_RAW, ACT_FILL, ACT_SLEEP, ACT_CLOSE, ACT_HANG, ACT_IDLE } act_kind;

typedef struct action {
    act_kind kind;
    unsigned char *bytes; /* d, raw */
    size_t len;
    uint64_t n;           /* fill: count; sleep: milliseconds */
    unsigned char fill;
} action;

typedef struct block {
    int from, to; /* actions [from, to) */
} block;

/* ---- connections ------------------------------------------------------------------- */

typedef enum conn_state {
    CS_STARTUP,  /* waiting for the startup packet */
    CS_SILENT,   /* drops everything it reads */
    CS_COMMANDS, /* answering commands until START_REPLICATION */
    CS_SCRIPT,   /* running its block at pc */
    CS_SLEEP,    /* until wake_at */
    CS_HANG,     /* reading only */
    CS_IDLE      /* a keepalive at wake_at while copying */
} conn_state;

typedef struct fconn {
    struct fconn *next;
    int fd;
    conn_state state;
    bool side;     /* a normal backend: the heartbeat's connection */
    bool copy;     /* in CopyBoth */
    bool gone;     /* the client went away, or the script closed it */
    bool skip;     /* extended protocol: an error happened, ignore until Sync */
    int pc;        /* next action */
    int block_to;
    int nth;       /* a replication connection: its number among them, from 1 */
    int64_t wake_at;
    buf in;
    buf out;
    size_t out_start;
    char slot[64]; /* the slot START_REPLICATION named */
} fconn;

typedef struct fslot {
    bool used;
    bool temporary;
    bool two_phase;
    char name[64];
    uint64_t confirmed;
    fconn *owner; /* a temporary slot's connection, or the one streaming from it */
} fslot;

struct fakewal {
    fakewal_config cfg;
    char version[32];
    action *acts;
    int nacts;
    block *blocks;
    int nblocks;
    int next_block;    /* of the next replication connection */
    int accepted;
    int listeners[MAX_LISTENERS];
    int nlisteners;
    fconn *conns;
    fslot slots[MAX_SLOTS];
    uint64_t wal;      /* the highest LSN sent, or the last heartbeat's */
    uint64_t hb_lsn;   /* the last heartbeat's LSN: what idle keepalives carry */
    buf log;
};

/* ---- the log ----------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void logline(fakewal *fw, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    put(&fw->log, line, strlen(line));
    put(&fw->log, "\n", 2);
    fw->log.len--; /* keep the text NUL-terminated */
    if (fw->cfg.log != NULL)
        fw->cfg.log(fw->cfg.arg, line);
}

static int64_t now_us(const fakewal *fw)
{
    return fw->cfg.now(fw->cfg.arg);
}

/* ---- parsing the script --------------------------------------------------------------- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static bool parse_hex(const char *hex, action *a)
{
    size_t n = strlen(hex);
    if (n % 2 != 0)
        return false;
    a->bytes = xrealloc(NULL, n / 2 + 1);
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        a->bytes[a->len++] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

static bool parse_action(const char *line, action *a)
{
    memset(a, 0, sizeof *a);
    char *end;
    if (strncmp(line, "d ", 2) == 0) {
        a->kind = ACT_DATA;
        return parse_hex(line + 2, a);
    }
    if (strncmp(line, "raw ", 4) == 0) {
        a->kind = ACT_RAW;
        return parse_hex(line + 4, a);
    }
    if (strncmp(line, "fill ", 5) == 0) {
        a->kind = ACT_FILL;
        a->n = strtoull(line + 5, &end, 10);
        int hi = end[0] == ' ' ? hexval(end[1]) : -1, lo = hi < 0 ? -1 : hexval(end[2]);
        a->fill = (unsigned char)(hi << 4 | lo);
        return lo >= 0 && end[3] == '\0';
    }
    if (strncmp(line, "sleep ", 6) == 0) {
        a->kind = ACT_SLEEP;
        a->n = strtoull(line + 6, &end, 10);
        return end != line + 6 && *end == '\0';
    }
    static const struct {
        const char *word;
        act_kind kind;
    } words[] = {{"silent", ACT_SILENT}, {"close", ACT_CLOSE}, {"hang", ACT_HANG}, {"idle", ACT_IDLE}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcmp(line, words[i].word) == 0) {
            a->kind = words[i].kind;
            return true;
        }
    }
    return false;
}

static void add_block(fakewal *fw, int from, int to)
{
    fw->blocks = xrealloc(fw->blocks, (size_t)(fw->nblocks + 1) * sizeof *fw->blocks);
    fw->blocks[fw->nblocks++] = (block){from, to};
}

/* Appends text's blocks (actions and blocks) to what fw has. */
static bool parse_script(fakewal *fw, const char *text, char *why, size_t why_size)
{
    int from = fw->nacts, lineno = 0;
    for (const char *p = text; *p != '\0';) {
        size_t n = strcspn(p, "\r\n");
        char *line = xrealloc(NULL, n + 1);
        memcpy(line, p, n);
        line[n] = '\0';
        p += n;
        if (*p == '\r')
            p++;
        if (*p == '\n')
            p++;
        lineno++;
        bool ok = true;
        if (line[0] == '#' || line[0] == '\0') {
            /* a comment or an empty line */
        } else if (strcmp(line, "---") == 0) {
            add_block(fw, from, fw->nacts);
            from = fw->nacts;
        } else {
            fw->acts = xrealloc(fw->acts, (size_t)(fw->nacts + 1) * sizeof *fw->acts);
            action *a = &fw->acts[fw->nacts++];
            ok = parse_action(line, a) && (a->kind != ACT_SILENT || fw->nacts - 1 == from);
            if (!ok)
                snprintf(why, why_size, "script line %d: not an action: %.60s", lineno, line);
        }
        free(line);
        if (!ok)
            return false;
    }
    add_block(fw, from, fw->nacts);
    return true;
}

fakewal *fakewal_new(const fakewal_config *cfg, char *why, size_t why_size)
{
    if (cfg == NULL || cfg->now == NULL || cfg->script == NULL) {
        snprintf(why, why_size, "incomplete configuration");
        return NULL;
    }
    fakewal *fw = xrealloc(NULL, sizeof *fw);
    memset(fw, 0, sizeof *fw);
    fw->cfg = *cfg;
    snprintf(fw->version, sizeof fw->version, "%s", cfg->version != NULL ? cfg->version : "16.4");
    fw->cfg.version = fw->version;
    put(&fw->log, "", 1);
    fw->log.len = 0;
    if (!parse_script(fw, cfg->script, why, why_size)) {
        fakewal_free(fw);
        return NULL;
    }
    return fw;
}

/* ---- connections: output and the end ------------------------------------------------- */

static void conn_gone(fconn *c)
{
    c->gone = true;
}

/* Write what the socket takes now. */
static void flush_out(fconn *c)
{
    while (!c->gone && c->out_start < c->out.len) {
        ssize_t w = send(c->fd, c->out.data + c->out_start, c->out.len - c->out_start, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w <= 0) {
            conn_gone(c);
            return;
        }
        c->out_start += (size_t)w;
    }
    if (c->out_start == c->out.len)
        c->out.len = c->out_start = 0;
}

static bool drained(const fconn *c)
{
    return c->out_start == c->out.len;
}

static void close_conn(fakewal *fw, fconn *c)
{
    for (fconn **p = &fw->conns; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    for (int i = 0; i < MAX_SLOTS; i++) {
        fslot *sl = &fw->slots[i];
        if (sl->used && sl->owner == c) {
            sl->owner = NULL;
            sl->used = !sl->temporary;
        }
    }
    close(c->fd);
    logline(fw, "closed");
    free(c->in.data);
    free(c->out.data);
    free(c);
}

/* ---- answers ----------------------------------------------------------------------------- */

static void ready(buf *b)
{
    size_t at = begin_msg(b, 'Z');
    put8(b, 'I');
    end_msg(b, at);
}

static void complete(buf *b, const char *tag)
{
    size_t at = begin_msg(b, 'C');
    puts0(b, tag);
    end_msg(b, at);
}

static void parameter(buf *b, const char *name, const char *value)
{
    size_t at = begin_msg(b, 'S');
    puts0(b, name);
    puts0(b, value);
    end_msg(b, at);
}

static void row_description(buf *b, int n, const char *const *names, const uint32_t *types)
{
    size_t at = begin_msg(b, 'T');
    put16(b, (unsigned)n);
    for (int i = 0; i < n; i++) {
        puts0(b, names[i]);
        put32(b, 0);
        put16(b, 0);
        put32(b, types[i]);
        put16(b, 0xffff);
        put32(b, 0xffffffff);
        put16(b, 0);
    }
    end_msg(b, at);
}

static void data_row(buf *b, int n, const char *const *values)
{
    size_t at = begin_msg(b, 'D');
    put16(b, (unsigned)n);
    for (int i = 0; i < n; i++) {
        if (values[i] == NULL) {
            put32(b, 0xffffffff);
            continue;
        }
        put32(b, (uint32_t)strlen(values[i]));
        put(b, values[i], strlen(values[i]));
    }
    end_msg(b, at);
}

/* RowDescription of text columns (type OID per column), then one DataRow (NULL for a NULL value). */
static void rows(buf *b, int n, const char *const *names, const uint32_t *types, const char *const *values)
{
    row_description(b, n, names, types);
    data_row(b, n, values);
}

static void error_response(buf *b, const char *sqlstate, const char *message)
{
    size_t at = begin_msg(b, 'E');
    put8(b, 'S');
    puts0(b, "ERROR");
    put8(b, 'V');
    puts0(b, "ERROR");
    put8(b, 'C');
    puts0(b, sqlstate);
    put8(b, 'M');
    puts0(b, message);
    put8(b, 0);
    end_msg(b, at);
}

static void keepalive(buf *b, uint64_t wal_end)
{
    size_t at = begin_msg(b, 'd');
    put8(b, 'k');
    put64(b, wal_end);
    put64(b, 0);
    put8(b, 0);
    end_msg(b, at);
}

static void format_lsn(char *out, size_t size, uint64_t lsn)
{
    snprintf(out, size, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

/* ---- startup ---------------------------------------------------------------------------- */

static void log_startup(fakewal *fw, const unsigned char *p, size_t n)
{
    char line[1024];
    size_t used = (size_t)snprintf(line, sizeof line, "startup");
    for (size_t i = 8; i < n && p[i] != '\0';) {
        const char *key = (const char *)p + i;
        size_t klen = strnlen(key, n - i);
        const char *val = key + klen + 1;
        if (i + klen + 1 >= n)
            break;
        size_t vlen = strnlen(val, n - i - klen - 1);
        if (used < sizeof line)
            used += (size_t)snprintf(line + used, sizeof line - used, " %s=%.*s", key, (int)vlen, val);
        i += klen + 1 + vlen + 1;
    }
    logline(fw, "%s", line);
}

/* The value of a startup parameter, or NULL. */
static const char *startup_param(const unsigned char *p, size_t n, const char *name)
{
    for (size_t i = 8; i < n && p[i] != '\0';) {
        const char *key = (const char *)p + i;
        size_t klen = strnlen(key, n - i);
        if (i + klen + 1 >= n)
            return NULL;
        const char *val = key + klen + 1;
        size_t vlen = strnlen(val, n - i - klen - 1);
        if (i + klen + 1 + vlen >= n)
            return NULL;
        if (strcmp(key, name) == 0)
            return val;
        i += klen + 1 + vlen + 1;
    }
    return NULL;
}

static bool is_replication(const char *v)
{
    static const char *const yes[] = {"database", "true", "on", "yes", "1"};
    for (size_t i = 0; v != NULL && i < sizeof yes / sizeof yes[0]; i++)
        if (strcmp(v, yes[i]) == 0)
            return true;
    return false;
}

static void answer_startup(fakewal *fw, fconn *c, const unsigned char *p, size_t n)
{
    uint32_t code = get32(p + 4);
    if (code == 80877103 || code == 80877104) { /* SSLRequest, GSSENCRequest */
        put8(&c->out, 'N');
        return;
    }
    if (code == 80877102) { /* CancelRequest */
        conn_gone(c);
        return;
    }
    c->side = !is_replication(startup_param(p, n, "replication"));
    if (!c->side) {
        /* with a block callback, the blocks are written at START_REPLICATION */
        const block *bl = fw->cfg.block == NULL && fw->next_block < fw->nblocks ? &fw->blocks[fw->next_block] : NULL;
        c->nth = ++fw->next_block;
        c->pc = bl != NULL ? bl->from : 0;
        c->block_to = bl != NULL ? bl->to : 0;
        if (c->pc < c->block_to && fw->acts[c->pc].kind == ACT_SILENT) {
            c->state = CS_SILENT;
            return;
        }
    }
    log_startup(fw, p, n);
    if (c->side && fw->cfg.side == FAKEWAL_SIDE_CLOSE) {
        conn_gone(c);
        return;
    }
    c->state = CS_COMMANDS;
    size_t at = begin_msg(&c->out, 'R');
    put32(&c->out, 0);
    end_msg(&c->out, at);
    parameter(&c->out, "server_version", fw->version);
    parameter(&c->out, "server_encoding", "UTF8");
    parameter(&c->out, "client_encoding", "UTF8");
    parameter(&c->out, "DateStyle", "ISO, MDY");
    parameter(&c->out, "integer_datetimes", "on");
    parameter(&c->out, "standard_conforming_strings", "on");
    parameter(&c->out, "TimeZone", "UTC");
    at = begin_msg(&c->out, 'K');
    put32(&c->out, (uint32_t)getpid());
    put32(&c->out, 12345);
    end_msg(&c->out, at);
    ready(&c->out);
}

/* ---- slots ------------------------------------------------------------------------------- */

/* An identifier at p: "quoted" (with "" inside) or bare. Returns what follows it. */
static const char *read_ident(const char *p, char *out, size_t size)
{
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p != '\0'; p++) {
            if (*p == '"' && p[1] != '"') {
                p++;
                break;
            }
            if (*p == '"')
                p++;
            if (n + 1 < size)
                out[n++] = *p;
        }
    } else {
        for (; *p != '\0' && *p != ' ' && *p != '(' && *p != ';'; p++)
            if (n + 1 < size)
                out[n++] = *p;
    }
    out[n] = '\0';
    return p;
}

/* A 'quoted' literal (with '' inside) at p. */
static void read_literal(const char *p, char *out, size_t size)
{
    size_t n = 0;
    if (*p == '\'')
        p++;
    for (; *p != '\0'; p++) {
        if (*p == '\'' && p[1] != '\'')
            break;
        if (*p == '\'')
            p++;
        if (n + 1 < size)
            out[n++] = *p;
    }
    out[n] = '\0';
}

static fslot *find_slot(fakewal *fw, const char *name)
{
    for (int i = 0; i < MAX_SLOTS; i++)
        if (fw->slots[i].used && strcmp(fw->slots[i].name, name) == 0)
            return &fw->slots[i];
    return NULL;
}

static void create_slot(fakewal *fw, fconn *c, const char *sql)
{
    char name[64], msg[160];
    const char *rest = read_ident(sql + strlen("CREATE_REPLICATION_SLOT "), name, sizeof name);
    if (find_slot(fw, name) != NULL) {
        snprintf(msg, sizeof msg, "replication slot \"%s\" already exists", name);
        error_response(&c->out, "42710", msg);
        return;
    }
    fslot *sl = NULL;
    for (int i = 0; i < MAX_SLOTS && sl == NULL; i++)
        if (!fw->slots[i].used)
            sl = &fw->slots[i];
    if (sl == NULL) {
        error_response(&c->out, "53400", "all replication slots are in use");
        return;
    }
    memset(sl, 0, sizeof *sl);
    sl->used = true;
    snprintf(sl->name, sizeof sl->name, "%s", name);
    sl->temporary = strncmp(rest, " TEMPORARY", 10) == 0;
    sl->two_phase = strstr(rest, "TWO_PHASE") != NULL;
    sl->owner = sl->temporary ? c : NULL;
    uint64_t at = fw->wal > 0x1000000 ? fw->wal : 0x1000000;
    sl->confirmed = at;
    bool snapshot = strstr(rest, "'export'") != NULL || strstr(rest, "'use'") != NULL ||
                    strstr(rest, "EXPORT_SNAPSHOT") != NULL || strstr(rest, "USE_SNAPSHOT") != NULL;
    if (strstr(rest, "NOEXPORT_SNAPSHOT") != NULL)
        snapshot = false;
    char lsn[32];
    format_lsn(lsn, sizeof lsn, at);
    static const char *const names[] = {"slot_name", "consistent_point", "snapshot_name", "output_plugin"};
    static const uint32_t types[] = {25, 25, 25, 25};
    const char *const values[] = {sl->name, lsn, snapshot ? "00000003-00000002-1" : NULL, "pgoutput"};
    rows(&c->out, 4, names, types, values);
    complete(&c->out, "CREATE_REPLICATION_SLOT");
}

static void drop_slot(fakewal *fw, fconn *c, const char *sql)
{
    char name[64], msg[160];
    (void)read_ident(sql + strlen("DROP_REPLICATION_SLOT "), name, sizeof name);
    fslot *sl = find_slot(fw, name);
    if (sl == NULL) {
        snprintf(msg, sizeof msg, "replication slot \"%s\" does not exist", name);
        error_response(&c->out, "42704", msg);
        return;
    }
    sl->used = false;
    complete(&c->out, "DROP_REPLICATION_SLOT");
}

/* The slot query (lib/command.c's pgrepl__cmd_slot_info): one row, all NULL but the WAL position when no slot. */
static void slot_info(fakewal *fw, fconn *c, const char *sql)
{
    static const char *const names[] = {"slot_name",   "plugin",    "slot_type", "database",   "temporary",  "active",
                                        "active_pid",  "restart",   "confirmed", "lsn",        "wal_status", "safe",
                                        "two_phase",   "conflicting", "reason",  "failover"};
    static const uint32_t types[] = {19, 19, 25, 19, 16, 16, 23, 3220, 3220, 3220, 25, 20, 16, 16, 25, 16};
    char name[64] = "", confirmed[32], wal[32], pid[16];
    const char *at = strstr(sql, "s.slot_name = '");
    if (at != NULL)
        read_literal(at + strlen("s.slot_name = "), name, sizeof name);
    fslot *sl = find_slot(fw, name);
    format_lsn(wal, sizeof wal, fw->wal > 0x1000000 ? fw->wal : 0x1000000);
    const char *values[16] = {NULL};
    values[9] = wal;
    if (sl != NULL) {
        format_lsn(confirmed, sizeof confirmed, sl->confirmed);
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        bool active = sl->owner != NULL && sl->owner->copy;
        values[0] = sl->name;
        values[1] = "pgoutput";
        values[2] = "logical";
        values[3] = "fake";
        values[4] = sl->temporary ? "t" : "f";
        values[5] = active ? "t" : "f";
        values[6] = active ? pid : NULL;
        values[7] = confirmed;
        values[8] = confirmed;
        values[10] = "reserved";
        values[12] = sl->two_phase ? "t" : "f";
        values[13] = "f";
        values[15] = "f";
    }
    rows(&c->out, 16, names, types, values);
    complete(&c->out, "SELECT 1");
}

/* ---- commands ---------------------------------------------------------------------------- */

/* The block the configuration's callback writes for replication connection n, starting at the LSN sql asks for. */
static bool written_block(fakewal *fw, fconn *c, int n, const char *sql)
{
    unsigned hi = 0, lo = 0;
    const char *at = strstr(sql, " LOGICAL ");
    if (at != NULL && sscanf(at, " LOGICAL %X/%X", &hi, &lo) != 2)
        hi = lo = 0;
    const char *text = fw->cfg.block(fw->cfg.arg, n, (uint64_t)hi << 32 | lo);
    int first = fw->nblocks;
    char why[160] = "";
    if (text == NULL || !parse_script(fw, text, why, sizeof why) || fw->nblocks != first + 1 ||
        fw->acts[fw->blocks[first].from].kind == ACT_SILENT) {
        logline(fw, "script error: %s", why[0] != '\0' ? why : "not one block");
        conn_gone(c);
        return false;
    }
    c->pc = fw->blocks[first].from;
    c->block_to = fw->blocks[first].to;
    return true;
}

static void start_replication(fakewal *fw, fconn *c, const char *sql)
{
    if (fw->cfg.block != NULL && !written_block(fw, c, c->nth, sql))
        return;
    (void)read_ident(sql + strlen("START_REPLICATION SLOT "), c->slot, sizeof c->slot);
    fslot *sl = find_slot(fw, c->slot);
    if (sl != NULL)
        sl->owner = c;
    size_t at = begin_msg(&c->out, 'W');
    put8(&c->out, 0);
    put16(&c->out, 0);
    end_msg(&c->out, at);
    c->copy = true;
    c->state = CS_SCRIPT;
}

static void answer_query(fakewal *fw, fconn *c, const char *sql)
{
    logline(fw, "query %s", sql);
    buf *out = &c->out;
    if (strcmp(sql, "IDENTIFY_SYSTEM") == 0) {
        static const char *const names[] = {"systemid", "timeline", "xlogpos", "dbname"};
        const uint32_t types[] = {25, atoi(fw->version) >= 16 ? 20 : 23, 25, 25};
        /* the end of the WAL: beyond every LSN a script sends */
        static const char *const values[] = {"7000000000000000001", "1", "1/0", "postgres"};
        rows(out, 4, names, types, values);
        complete(out, "IDENTIFY_SYSTEM");
    } else if (strncmp(sql, "SHOW ", 5) == 0) {
        static const char *const names[] = {"wal_sender_timeout"};
        static const uint32_t types[] = {25};
        static const char *const values[] = {"60s"};
        rows(out, 1, names, types, values);
        complete(out, "SHOW");
    } else if (strncmp(sql, "SET ", 4) == 0) {
        complete(out, "SET");
    } else if (strncmp(sql, "BEGIN", 5) == 0 || strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0) {
        char tag[16];
        snprintf(tag, sizeof tag, "%.*s", (int)strcspn(sql, " "), sql);
        complete(out, tag);
    } else if (strncmp(sql, "SELECT s.slot_name", 18) == 0) {
        slot_info(fw, c, sql);
    } else if (strncmp(sql, "SELECT ", 7) == 0) {
        static const char *const names[] = {"missing",  "exists",   "wal_status", "conflicting", "reason",
                                            "slot_type", "database", "here",       "confirmed"};
        static const uint32_t types[] = {25, 16, 25, 16, 25, 25, 19, 19, 3220};
        static const char *const values[] = {NULL, "t", "reserved", NULL, NULL, "logical", "fake", "fake", NULL};
        rows(out, 9, names, types, values);
        complete(out, "SELECT 1");
    } else if (strncmp(sql, "CREATE_REPLICATION_SLOT ", 24) == 0) {
        create_slot(fw, c, sql);
    } else if (strncmp(sql, "DROP_REPLICATION_SLOT ", 22) == 0) {
        drop_slot(fw, c, sql);
    } else if (strncmp(sql, "START_REPLICATION SLOT ", 23) == 0) {
        start_replication(fw, c, sql);
        return;
    } else {
        error_response(out, "42601", "fakewal does not know this command");
    }
    ready(out);
}

static void answer_copydone(fakewal *fw, fconn *c)
{
    logline(fw, "copydone");
    c->copy = false;
    size_t at = begin_msg(&c->out, 'c');
    end_msg(&c->out, at);
    complete(&c->out, "COPY 0");
    complete(&c->out, "START_REPLICATION");
    ready(&c->out);
}

static void on_copydata(fakewal *fw, fconn *c, const unsigned char *p, size_t n)
{
    if (n == 34 && p[0] == 'r') {
        uint64_t w = get64(p + 1), f = get64(p + 9);
        logline(fw, "status %X/%X %X/%X%s", (unsigned)(w >> 32), (unsigned)w, (unsigned)(f >> 32), (unsigned)f,
                p[33] != 0 ? " reply" : "");
        fslot *sl = find_slot(fw, c->slot);
        if (sl != NULL && f > sl->confirmed)
            sl->confirmed = f;
    } else {
        logline(fw, "copydata %zu bytes, first 0x%02x", n, n > 0 ? p[0] : 0);
    }
}

/* ---- the extended protocol of a normal connection (the heartbeat's query) ------------------ */

static void side_bind(fakewal *fw, const unsigned char *p, size_t n)
{
    char line[1024];
    size_t used = (size_t)snprintf(line, sizeof line, "bind");
    size_t i = strnlen((const char *)p, n) + 1; /* portal */
    i += i < n ? strnlen((const char *)p + i, n - i) + 1 : 0; /* statement */
    unsigned nfmt = i + 2 <= n ? get16(p + i) : 0;
    i += 2 + 2 * (size_t)nfmt;
    unsigned nparams = i + 2 <= n ? get16(p + i) : 0;
    i += 2;
    for (unsigned k = 0; k < nparams && i + 4 <= n; k++) {
        uint32_t len = get32(p + i);
        i += 4;
        if (len == 0xffffffff) {
            used += (size_t)snprintf(line + used, used < sizeof line ? sizeof line - used : 0, " NULL");
            continue;
        }
        if (len > n - i)
            break;
        if (used < sizeof line)
            used += (size_t)snprintf(line + used, sizeof line - used, " [%.*s]", (int)len, (const char *)p + i);
        i += len;
    }
    logline(fw, "%s", line);
}

static const char *const emit_names[] = {"pg_logical_emit_message"};
static const uint32_t emit_types[] = {3220};

static void side_execute(fakewal *fw, fconn *c)
{
    if (fw->cfg.side == FAKEWAL_SIDE_ERROR) {
        error_response(&c->out, "42501", "permission denied for function pg_logical_emit_message");
        c->skip = true;
        return;
    }
    /* the message is WAL after everything sent so far */
    fw->wal = (fw->wal > fw->hb_lsn ? fw->wal : fw->hb_lsn) + HEARTBEAT_STEP;
    fw->hb_lsn = fw->wal;
    char lsn[32];
    format_lsn(lsn, sizeof lsn, fw->hb_lsn);
    const char *const values[] = {lsn};
    data_row(&c->out, 1, values);
    complete(&c->out, "SELECT 1");
}

/* One message of the extended protocol; the simple protocol's 'Q' is answered as on a replication connection. */
static void side_message(fakewal *fw, fconn *c, char type, const unsigned char *body, size_t blen)
{
    if (c->skip && type != 'S')
        return;
    switch (type) {
    case 'P': {
        size_t name = strnlen((const char *)body, blen) + 1;
        logline(fw, "query %.*s", (int)strnlen((const char *)body + name, blen - name), (const char *)body + name);
        size_t at = begin_msg(&c->out, '1');
        end_msg(&c->out, at);
        break;
    }
    case 'B': {
        side_bind(fw, body, blen);
        size_t at = begin_msg(&c->out, '2');
        end_msg(&c->out, at);
        break;
    }
    case 'D':
        row_description(&c->out, 1, emit_names, emit_types);
        break;
    case 'E':
        side_execute(fw, c);
        break;
    case 'S':
        c->skip = false;
        ready(&c->out);
        break;
    case 'C': {
        size_t at = begin_msg(&c->out, '3');
        end_msg(&c->out, at);
        break;
    }
    case 'H':
        break;
    default:
        logline(fw, "message 0x%02x", (unsigned char)type);
        break;
    }
}

/* ---- input ------------------------------------------------------------------------------- */

/* One complete message at p (len bytes): handle it and return its size, or 0 if incomplete. */
static size_t one_message(fakewal *fw, fconn *c, const unsigned char *p, size_t len)
{
    if (c->state == CS_STARTUP) {
        if (len < 8)
            return 0;
        size_t n = get32(p);
        if (n < 8 || n > MAX_CLIENT_MSG) {
            conn_gone(c);
            return 0;
        }
        if (len < n)
            return 0;
        answer_startup(fw, c, p, n);
        return n;
    }
    if (len < 5)
        return 0;
    size_t n = (size_t)get32(p + 1) + 1;
    if (n < 5 || n > MAX_CLIENT_MSG) {
        conn_gone(c);
        return 0;
    }
    if (len < n)
        return 0;
    char type = (char)p[0];
    const unsigned char *body = p + 5;
    size_t blen = n - 5;
    if (type == 'Q') {
        char *sql = xrealloc(NULL, blen + 1);
        memcpy(sql, body, blen);
        sql[blen > 0 ? blen - 1 : 0] = '\0';
        answer_query(fw, c, sql);
        free(sql);
    } else if (type == 'd') {
        on_copydata(fw, c, body, blen);
    } else if (type == 'c') {
        answer_copydone(fw, c);
    } else if (type == 'X') {
        conn_gone(c);
    } else if (c->side) {
        side_message(fw, c, type, body, blen);
    } else {
        logline(fw, "message 0x%02x", (unsigned char)type);
    }
    return n;
}

/* Read what the socket has, then handle every complete message. */
static void read_in(fakewal *fw, fconn *c)
{
    for (;;) {
        reserve(&c->in, 64 * 1024);
        ssize_t got = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (got <= 0) {
            conn_gone(c);
            break;
        }
        c->in.len += (size_t)got;
        if (c->state == CS_SILENT)
            c->in.len = 0;
    }
    size_t used = 0;
    while (!c->gone && c->state != CS_SILENT) {
        size_t n = one_message(fw, c, c->in.data + used, c->in.len - used);
        if (n == 0)
            break;
        used += n;
    }
    /* a silent connection drops what came after its startup too */
    if (c->state == CS_SILENT)
        used = c->in.len;
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;
}

/* ---- the script, run --------------------------------------------------------------------- */

/* An XLogData or keepalive payload moves the fake's WAL position. */
static void note_wal(fakewal *fw, const unsigned char *p, size_t n)
{
    uint64_t end = 0;
    if (n >= 25 && p[0] == 'w')
        end = get64(p + 9);
    else if (n >= 17 && p[0] == 'k')
        end = get64(p + 1);
    if (end > fw->wal)
        fw->wal = end;
}

static void run_action(fakewal *fw, fconn *c, const action *a)
{
    switch (a->kind) {
    case ACT_DATA: {
        size_t at = begin_msg(&c->out, 'd');
        put(&c->out, a->bytes, a->len);
        end_msg(&c->out, at);
        note_wal(fw, a->bytes, a->len);
        break;
    }
    case ACT_RAW:
        put(&c->out, a->bytes, a->len);
        break;
    case ACT_FILL:
        reserve(&c->out, a->n);
        memset(c->out.data + c->out.len, a->fill, a->n);
        c->out.len += a->n;
        break;
    case ACT_SLEEP:
        c->state = CS_SLEEP;
        c->wake_at = now_us(fw) + (int64_t)a->n * 1000;
        break;
    case ACT_CLOSE:
        conn_gone(c);
        break;
    case ACT_HANG:
        c->state = CS_HANG;
        break;
    case ACT_IDLE:
    case ACT_SILENT:
        c->state = CS_IDLE;
        c->wake_at = now_us(fw) + IDLE_EVERY_US;
        break;
    }
}

/* Everything the connection can do now: the next actions, once what went before was written. */
static void advance(fakewal *fw, fconn *c)
{
    int64_t now = now_us(fw);
    if (c->state == CS_SLEEP && now >= c->wake_at)
        c->state = CS_SCRIPT;
    if (c->state == CS_IDLE && now >= c->wake_at) {
        if (c->copy)
            keepalive(&c->out, fw->hb_lsn);
        c->wake_at = now + IDLE_EVERY_US;
    }
    flush_out(c);
    while (!c->gone && c->state == CS_SCRIPT && drained(c)) {
        if (c->pc >= c->block_to) {
            run_action(fw, c, &(action){.kind = ACT_IDLE});
            break;
        }
        run_action(fw, c, &fw->acts[c->pc++]);
        flush_out(c);
    }
}

/* Step every connection; close those that are over once their output is written (or cannot be). */
static void advance_all(fakewal *fw)
{
    for (fconn *c = fw->conns, *next; c != NULL; c = next) {
        next = c->next;
        advance(fw, c);
        if (c->gone)
            close_conn(fw, c);
    }
}

/* ---- the caller's entries ------------------------------------------------------------------ */

static void set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int fakewal_listen(fakewal *fw, int fd)
{
    if (fw->nlisteners == MAX_LISTENERS)
        return -1;
    set_nonblocking(fd);
    fw->listeners[fw->nlisteners++] = fd;
    return 0;
}

static void accept_all(fakewal *fw, int ls)
{
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0 && errno == EINTR)
            continue;
        if (fd < 0)
            return;
        set_nonblocking(fd);
        fconn *c = xrealloc(NULL, sizeof *c);
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->state = CS_STARTUP;
        /* at the end of the list: connections are stepped in the order they came */
        fconn **p = &fw->conns;
        while (*p != NULL)
            p = &(*p)->next;
        *p = c;
        logline(fw, "conn %d", ++fw->accepted);
    }
}

int fakewal_fds(const fakewal *fw, struct pollfd *fds, int max)
{
    int n = 0;
    for (int i = 0; i < fw->nlisteners; i++, n++)
        if (n < max)
            fds[n] = (struct pollfd){.fd = fw->listeners[i], .events = POLLIN};
    for (const fconn *c = fw->conns; c != NULL; c = c->next, n++)
        if (n < max)
            fds[n] = (struct pollfd){.fd = c->fd, .events = (short)(POLLIN | (drained(c) ? 0 : POLLOUT))};
    return n;
}

void fakewal_io(fakewal *fw, int fd, short revents)
{
    for (int i = 0; i < fw->nlisteners; i++)
        if (fw->listeners[i] == fd && (revents & POLLIN))
            accept_all(fw, fd);
    for (fconn *c = fw->conns; c != NULL; c = c->next) {
        if (c->fd != fd)
            continue;
        if (revents & (POLLIN | POLLHUP | POLLERR))
            read_in(fw, c);
        if (revents & POLLOUT)
            flush_out(c);
        break;
    }
    advance_all(fw);
}

void fakewal_timeout(fakewal *fw)
{
    advance_all(fw);
}

int64_t fakewal_due(const fakewal *fw)
{
    int64_t due = -1;
    for (const fconn *c = fw->conns; c != NULL; c = c->next) {
        bool timed = c->state == CS_SLEEP || (c->state == CS_IDLE && c->copy);
        if (timed && (due < 0 || c->wake_at < due))
            due = c->wake_at;
    }
    return due;
}

const char *fakewal_log_text(const fakewal *fw)
{
    return (const char *)fw->log.data;
}

int fakewal_connections(const fakewal *fw)
{
    int n = 0;
    for (const fconn *c = fw->conns; c != NULL; c = c->next)
        n++;
    return n;
}

void fakewal_free(fakewal *fw)
{
    if (fw == NULL)
        return;
    while (fw->conns != NULL) {
        fconn *c = fw->conns;
        fw->conns = c->next;
        close(c->fd);
        free(c->in.data);
        free(c->out.data);
        free(c);
    }
    for (int i = 0; i < fw->nacts; i++)
        free(fw->acts[i].bytes);
    free(fw->acts);
    free(fw->blocks);
    free(fw->log.data);
    free(fw);
}
