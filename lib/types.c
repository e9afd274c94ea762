/*
 * Built-in type names as format_type() spells them.
 *
 * The table holds every pg_type row below FirstGenbkiObjectId (10000) of a
 * fresh cluster, which is identical in PostgreSQL 14 through 18: these are the
 * types pgoutput never describes with a Type message, so the library must
 * know their names itself. It was captured from the servers with
 * format_type(oid, NULL); elem is typelem for the "true" arrays that
 * format_type prints as element + "[]" (not int2vector, oidvector, name,
 * point, ... which have a typelem but print under their own name).
 */
#include <stdio.h>
#include <string.h>

#include "pgrepl/types.h"
#include "types_internal.h"

struct type_entry {
    uint32_t oid;
    uint32_t elem;
    const char *name;
};

/* Sorted by oid for the binary search. */
static const struct type_entry types[] = {
    {16, 0, "boolean"},
    {17, 0, "bytea"},
    {18, 0, "\"char\""},
    {19, 0, "name"},
    {20, 0, "bigint"},
    {21, 0, "smallint"},
    {22, 0, "int2vector"},
    {23, 0, "integer"},
    {24, 0, "regproc"},
    {25, 0, "text"},
    {26, 0, "oid"},
    {27, 0, "tid"},
    {28, 0, "xid"},
    {29, 0, "cid"},
    {30, 0, "oidvector"},
    {32, 0, "pg_ddl_command"},
    {71, 0, "pg_type"},
    {75, 0, "pg_attribute"},
    {81, 0, "pg_proc"},
    {83, 0, "pg_class"},
    {114, 0, "json"},
    {142, 0, "xml"},
    {143, 142, "xml[]"},
    {194, 0, "pg_node_tree"},
    {199, 114, "json[]"},
    {210, 71, "pg_type[]"},
    {269, 0, "table_am_handler"},
    {270, 75, "pg_attribute[]"},
    {271, 5069, "xid8[]"},
    {272, 81, "pg_proc[]"},
    {273, 83, "pg_class[]"},
    {325, 0, "index_am_handler"},
    {600, 0, "point"},
    {601, 0, "lseg"},
    {602, 0, "path"},
    {603, 0, "box"},
    {604, 0, "polygon"},
    {628, 0, "line"},
    {629, 628, "line[]"},
    {650, 0, "cidr"},
    {651, 650, "cidr[]"},
    {700, 0, "real"},
    {701, 0, "double precision"},
    {705, 0, "unknown"},
    {718, 0, "circle"},
    {719, 718, "circle[]"},
    {774, 0, "macaddr8"},
    {775, 774, "macaddr8[]"},
    {790, 0, "money"},
    {791, 790, "money[]"},
    {829, 0, "macaddr"},
    {869, 0, "inet"},
    {1000, 16, "boolean[]"},
    {1001, 17, "bytea[]"},
    {1002, 18, "\"char\"[]"},
    {1003, 19, "name[]"},
    {1005, 21, "smallint[]"},
    {1006, 22, "int2vector[]"},
    {1007, 23, "integer[]"},
    {1008, 24, "regproc[]"},
    {1009, 25, "text[]"},
    {1010, 27, "tid[]"},
    {1011, 28, "xid[]"},
    {1012, 29, "cid[]"},
    {1013, 30, "oidvector[]"},
    {1014, 1042, "character[]"},
    {1015, 1043, "character varying[]"},
    {1016, 20, "bigint[]"},
    {1017, 600, "point[]"},
    {1018, 601, "lseg[]"},
    {1019, 602, "path[]"},
    {1020, 603, "box[]"},
    {1021, 700, "real[]"},
    {1022, 701, "double precision[]"},
    {1027, 604, "polygon[]"},
    {1028, 26, "oid[]"},
    {1033, 0, "aclitem"},
    {1034, 1033, "aclitem[]"},
    {1040, 829, "macaddr[]"},
    {1041, 869, "inet[]"},
    {1042, 0, "character"},
    {1043, 0, "character varying"},
    {1082, 0, "date"},
    {1083, 0, "time without time zone"},
    {1114, 0, "timestamp without time zone"},
    {1115, 1114, "timestamp without time zone[]"},
    {1182, 1082, "date[]"},
    {1183, 1083, "time without time zone[]"},
    {1184, 0, "timestamp with time zone"},
    {1185, 1184, "timestamp with time zone[]"},
    {1186, 0, "interval"},
    {1187, 1186, "interval[]"},
    {1231, 1700, "numeric[]"},
    {1248, 0, "pg_database"},
    {1263, 2275, "cstring[]"},
    {1266, 0, "time with time zone"},
    {1270, 1266, "time with time zone[]"},
    {1560, 0, "bit"},
    {1561, 1560, "bit[]"},
    {1562, 0, "bit varying"},
    {1563, 1562, "bit varying[]"},
    {1700, 0, "numeric"},
    {1790, 0, "refcursor"},
    {2201, 1790, "refcursor[]"},
    {2202, 0, "regprocedure"},
    {2203, 0, "regoper"},
    {2204, 0, "regoperator"},
    {2205, 0, "regclass"},
    {2206, 0, "regtype"},
    {2207, 2202, "regprocedure[]"},
    {2208, 2203, "regoper[]"},
    {2209, 2204, "regoperator[]"},
    {2210, 2205, "regclass[]"},
    {2211, 2206, "regtype[]"},
    {2249, 0, "record"},
    {2275, 0, "cstring"},
    {2276, 0, "\"any\""},
    {2277, 0, "anyarray"},
    {2278, 0, "void"},
    {2279, 0, "trigger"},
    {2280, 0, "language_handler"},
    {2281, 0, "internal"},
    {2283, 0, "anyelement"},
    {2287, 2249, "record[]"},
    {2776, 0, "anynonarray"},
    {2842, 0, "pg_authid"},
    {2843, 0, "pg_auth_members"},
    {2949, 2970, "txid_snapshot[]"},
    {2950, 0, "uuid"},
    {2951, 2950, "uuid[]"},
    {2970, 0, "txid_snapshot"},
    {3115, 0, "fdw_handler"},
    {3220, 0, "pg_lsn"},
    {3221, 3220, "pg_lsn[]"},
    {3310, 0, "tsm_handler"},
    {3361, 0, "pg_ndistinct"},
    {3402, 0, "pg_dependencies"},
    {3500, 0, "anyenum"},
    {3614, 0, "tsvector"},
    {3615, 0, "tsquery"},
    {3642, 0, "gtsvector"},
    {3643, 3614, "tsvector[]"},
    {3644, 3642, "gtsvector[]"},
    {3645, 3615, "tsquery[]"},
    {3734, 0, "regconfig"},
    {3735, 3734, "regconfig[]"},
    {3769, 0, "regdictionary"},
    {3770, 3769, "regdictionary[]"},
    {3802, 0, "jsonb"},
    {3807, 3802, "jsonb[]"},
    {3831, 0, "anyrange"},
    {3838, 0, "event_trigger"},
    {3904, 0, "int4range"},
    {3905, 3904, "int4range[]"},
    {3906, 0, "numrange"},
    {3907, 3906, "numrange[]"},
    {3908, 0, "tsrange"},
    {3909, 3908, "tsrange[]"},
    {3910, 0, "tstzrange"},
    {3911, 3910, "tstzrange[]"},
    {3912, 0, "daterange"},
    {3913, 3912, "daterange[]"},
    {3926, 0, "int8range"},
    {3927, 3926, "int8range[]"},
    {4066, 0, "pg_shseclabel"},
    {4072, 0, "jsonpath"},
    {4073, 4072, "jsonpath[]"},
    {4089, 0, "regnamespace"},
    {4090, 4089, "regnamespace[]"},
    {4096, 0, "regrole"},
    {4097, 4096, "regrole[]"},
    {4191, 0, "regcollation"},
    {4192, 4191, "regcollation[]"},
    {4451, 0, "int4multirange"},
    {4532, 0, "nummultirange"},
    {4533, 0, "tsmultirange"},
    {4534, 0, "tstzmultirange"},
    {4535, 0, "datemultirange"},
    {4536, 0, "int8multirange"},
    {4537, 0, "anymultirange"},
    {4538, 0, "anycompatiblemultirange"},
    {4600, 0, "pg_brin_bloom_summary"},
    {4601, 0, "pg_brin_minmax_multi_summary"},
    {5017, 0, "pg_mcv_list"},
    {5038, 0, "pg_snapshot"},
    {5039, 5038, "pg_snapshot[]"},
    {5069, 0, "xid8"},
    {5077, 0, "anycompatible"},
    {5078, 0, "anycompatiblearray"},
    {5079, 0, "anycompatiblenonarray"},
    {5080, 0, "anycompatiblerange"},
    {6101, 0, "pg_subscription"},
    {6150, 4451, "int4multirange[]"},
    {6151, 4532, "nummultirange[]"},
    {6152, 4533, "tsmultirange[]"},
    {6153, 4534, "tstzmultirange[]"},
    {6155, 4535, "datemultirange[]"},
    {6157, 4536, "int8multirange[]"},
};

#define NTYPES (sizeof types / sizeof types[0])

static const struct type_entry *lookup(uint32_t oid)
{
    size_t lo = 0, hi = NTYPES;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (types[mid].oid == oid)
            return &types[mid];
        if (types[mid].oid < oid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *pgrepl_type_name(uint32_t oid)
{
    const struct type_entry *t = lookup(oid);
    return t != NULL ? t->name : NULL;
}

uint32_t pgrepl__type_elem(uint32_t oid)
{
    const struct type_entry *t = lookup(oid);
    return t != NULL ? t->elem : 0;
}

/* snprintf-style output: counts every byte, stores those that fit. */
struct sink {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct sink *s, const char *str)
{
    size_t n = strlen(str);
    if (s->len + 1 < s->size) {
        size_t room = s->size - 1 - s->len;
        memcpy(s->buf + s->len, str, n < room ? n : room);
    }
    s->len += n;
}

static void put_paren_int(struct sink *s, int32_t v)
{
    char num[16];
    snprintf(num, sizeof num, "(%d)", (int)v);
    put(s, num);
}

/* bpchar/varchar: typmod includes the 4-byte varlena header; <= 4 prints nothing. */
static void put_char_mod(struct sink *s, int32_t typmod)
{
    if (typmod > 4)
        put_paren_int(s, typmod - 4);
}

/*
 * Precision in the high 16 bits, scale in the low 11 as a signed value
 * (PostgreSQL 15 allows negative scale and scale > precision). PostgreSQL 14
 * read the low 16 bits unsigned and printed typmods 0-3; both agree on every
 * typmod a PostgreSQL 14 column can have.
 */
static void put_numeric_mod(struct sink *s, int32_t typmod)
{
    if (typmod < 4)
        return;
    int32_t t = typmod - 4;
    int32_t precision = (t >> 16) & 0xffff;
    int32_t scale = ((t & 0x7ff) ^ 1024) - 1024;
    char num[32];
    snprintf(num, sizeof num, "(%d,%d)", (int)precision, (int)scale);
    put(s, num);
}

/* The precision goes between the name and the zone words: "time(3) with time zone". */
static void put_datetime(struct sink *s, const char *name, const char *zone, int32_t typmod)
{
    put(s, name);
    if (typmod >= 0)
        put_paren_int(s, typmod);
    put(s, zone);
}

/* Field masks (1 << YEAR etc. from datetime.h) in the high half of an interval typmod. */
#define IV_MONTH (1 << 1)
#define IV_YEAR (1 << 2)
#define IV_DAY (1 << 3)
#define IV_HOUR (1 << 10)
#define IV_MINUTE (1 << 11)
#define IV_SECOND (1 << 12)
#define IV_FULL_RANGE 0x7fff
#define IV_FULL_PRECISION 0xffff

static const char *interval_fields(int32_t range)
{
    switch (range) {
    case IV_YEAR: return " year";
    case IV_MONTH: return " month";
    case IV_DAY: return " day";
    case IV_HOUR: return " hour";
    case IV_MINUTE: return " minute";
    case IV_SECOND: return " second";
    case IV_YEAR | IV_MONTH: return " year to month";
    case IV_DAY | IV_HOUR: return " day to hour";
    case IV_DAY | IV_HOUR | IV_MINUTE: return " day to minute";
    case IV_DAY | IV_HOUR | IV_MINUTE | IV_SECOND: return " day to second";
    case IV_HOUR | IV_MINUTE: return " hour to minute";
    case IV_HOUR | IV_MINUTE | IV_SECOND: return " hour to second";
    case IV_MINUTE | IV_SECOND: return " minute to second";
    case IV_FULL_RANGE: return "";
    default: return NULL;
    }
}

/* The server rejects other field combinations ("invalid INTERVAL typmod"), and so do we. */
static int put_interval(struct sink *s, int32_t typmod)
{
    put(s, "interval");
    if (typmod < 0)
        return 0;
    const char *fields = interval_fields((typmod >> 16) & 0x7fff);
    if (fields == NULL)
        return PGREPL_EINVAL;
    put(s, fields);
    int32_t precision = typmod & 0xffff;
    if (precision != IV_FULL_PRECISION)
        put_paren_int(s, precision);
    return 0;
}

/*
 * One non-array type with a typmod the way format_type(oid, typmod) prints
 * it for a column. typmod -1 is a given "no modifier", not an unknown one:
 * the server then spells bpchar and bit so that they do not read back as
 * character(1) and bit(1).
 */
static int put_element(struct sink *s, const struct type_entry *t, int32_t typmod)
{
    bool mod = typmod >= 0;
    switch (t->oid) {
    case PGREPL_BPCHAROID:
        put(s, mod ? "character" : "bpchar");
        put_char_mod(s, typmod);
        return 0;
    case PGREPL_VARCHAROID:
        put(s, t->name);
        put_char_mod(s, typmod);
        return 0;
    case PGREPL_BITOID:
        put(s, mod ? "bit" : "\"bit\"");
        break;
    case PGREPL_NUMERICOID:
        put(s, t->name);
        put_numeric_mod(s, typmod);
        return 0;
    case PGREPL_TIMEOID:
        put_datetime(s, "time", " without time zone", typmod);
        return 0;
    case PGREPL_TIMETZOID:
        put_datetime(s, "time", " with time zone", typmod);
        return 0;
    case PGREPL_TIMESTAMPOID:
        put_datetime(s, "timestamp", " without time zone", typmod);
        return 0;
    case PGREPL_TIMESTAMPTZOID:
        put_datetime(s, "timestamp", " with time zone", typmod);
        return 0;
    case PGREPL_INTERVALOID:
        return put_interval(s, typmod);
    case PGREPL_BOOLOID:
    case PGREPL_INT2OID:
    case PGREPL_INT4OID:
    case PGREPL_INT8OID:
    case PGREPL_FLOAT4OID:
    case PGREPL_FLOAT8OID:
    case PGREPL_JSONOID:
        /*
         * Printed without any modifier. json joined the list in PostgreSQL
         * 17 (before, a typmod json can never have printed as "json(n)").
         */
        put(s, t->name);
        return 0;
    default:
        /* varbit and every type without a typmodout function: "name(typmod)". */
        put(s, t->name);
        break;
    }
    if (mod)
        put_paren_int(s, typmod);
    return 0;
}

int pgrepl_format_type(char *buf, size_t size, uint32_t oid, int32_t typmod)
{
    if (buf == NULL && size > 0)
        return PGREPL_EINVAL;
    const struct type_entry *t = lookup(oid);
    if (t == NULL)
        return PGREPL_ENOTFOUND;
    struct sink s = {buf, size, 0};
    int rc = put_element(&s, t->elem != 0 ? lookup(t->elem) : t, typmod);
    if (rc < 0) {
        if (size > 0)
            buf[0] = '\0';
        return rc;
    }
    if (t->elem != 0)
        put(&s, "[]");
    if (size > 0)
        buf[s.len < size ? s.len : size - 1] = '\0';
    return (int)s.len;
}
