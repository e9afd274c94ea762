#include "pgrepl/decode.h"
#include "copydata.h"
#include "wire.h"

static int parse_xlogdata(pgrepl_cursor *c, pgrepl_copydata *out)
{
    pgrepl_copydata m = {.kind = 'w'};
    m.wal_start = pgrepl__cur_u64(c);
    m.wal_end = pgrepl__cur_u64(c);
    m.send_time = pgrepl__cur_i64(c);
    if (!pgrepl__cur_ok(c))
        return c->err;
    m.data = c->buf + c->pos;
    m.len = c->len - c->pos;
    *out = m;
    return 0;
}

static int parse_keepalive(pgrepl_cursor *c, pgrepl_copydata *out)
{
    pgrepl_copydata m = {.kind = 'k'};
    m.wal_end = pgrepl__cur_u64(c);
    m.send_time = pgrepl__cur_i64(c);
    m.reply_requested = pgrepl__cur_u8(c) != 0;
    if (!pgrepl__cur_ok(c))
        return c->err;
    if (c->pos != c->len)
        return PGREPL_ETRAILING;
    *out = m;
    return 0;
}

int pgrepl_copydata_parse(const void *buf, size_t len, pgrepl_copydata *out)
{
    if (out == NULL || (buf == NULL && len > 0))
        return PGREPL_EINVAL;
    if (len == 0)
        return PGREPL_EUNKNOWNMSG;
    pgrepl_cursor c;
    pgrepl__cur_init(&c, buf, len);
    switch (pgrepl__cur_u8(&c)) {
    case 'w':
        return parse_xlogdata(&c, out);
    case 'k':
        return parse_keepalive(&c, out);
    default:
        return PGREPL_EUNKNOWNMSG;
    }
}

size_t pgrepl_status_update_encode(uint8_t out[PGREPL_STATUS_UPDATE_SIZE], pgrepl_lsn write, pgrepl_lsn flush,
                                   pgrepl_lsn apply, pgrepl_timestamp now, bool reply_requested)
{
    uint8_t *p = pgrepl__put_u8(out, 'r');
    p = pgrepl__put_u64(p, write);
    p = pgrepl__put_u64(p, flush);
    p = pgrepl__put_u64(p, apply);
    p = pgrepl__put_u64(p, (uint64_t)now);
    pgrepl__put_u8(p, reply_requested ? 1 : 0);
    return PGREPL_STATUS_UPDATE_SIZE;
}

int pgrepl__status_update_decode(const void *buf, size_t len, pgrepl_lsn *write, pgrepl_lsn *flush,
                                 pgrepl_lsn *apply, pgrepl_timestamp *now, bool *reply_requested)
{
    if (buf == NULL)
        len = 0;
    pgrepl_cursor c;
    pgrepl__cur_init(&c, buf, len);
    if (pgrepl__cur_u8(&c) != 'r')
        return PGREPL_EUNKNOWNMSG;
    pgrepl_lsn w = pgrepl__cur_u64(&c);
    pgrepl_lsn f = pgrepl__cur_u64(&c);
    pgrepl_lsn a = pgrepl__cur_u64(&c);
    pgrepl_timestamp t = pgrepl__cur_i64(&c);
    bool r = pgrepl__cur_u8(&c) != 0;
    if (!pgrepl__cur_ok(&c))
        return c.err;
    if (c.pos != c.len)
        return PGREPL_ETRAILING;
    if (write != NULL)
        *write = w;
    if (flush != NULL)
        *flush = f;
    if (apply != NULL)
        *apply = a;
    if (now != NULL)
        *now = t;
    if (reply_requested != NULL)
        *reply_requested = r;
    return 0;
}

const char *pgrepl_message_type_name(char type)
{
    switch (type) {
    case 'B':
        return "Begin";
    case 'C':
        return "Commit";
    case 'O':
        return "Origin";
    case 'R':
        return "Relation";
    case 'Y':
        return "Type";
    case 'I':
        return "Insert";
    case 'U':
        return "Update";
    case 'D':
        return "Delete";
    case 'T':
        return "Truncate";
    case 'M':
        return "Message";
    case 'S':
        return "Stream Start";
    case 'E':
        return "Stream Stop";
    case 'c':
        return "Stream Commit";
    case 'A':
        return "Stream Abort";
    case 'b':
        return "Begin Prepare";
    case 'P':
        return "Prepare";
    case 'K':
        return "Commit Prepared";
    case 'r':
        return "Rollback Prepared";
    case 'p':
        return "Stream Prepare";
    default:
        return "unknown";
    }
}
