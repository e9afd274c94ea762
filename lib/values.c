/*
 * Column values to text: the public entry points. They clear the thread's
 * message, render through pgrepl__render and cut the caller's buffer back to
 * where it was when rendering fails.
 */
#include "render.h"

/* Cut out back to len after a failure, so that the caller's buffer is as it was. */
static int finish(pgrepl_buf *out, size_t len, int rc)
{
    if (rc != 0)
        pgrepl__buf_cut(out, len);
    return rc;
}

int pgrepl_binary_to_text(pgrepl_buf *out, uint32_t type_oid, const uint8_t *data, size_t len)
{
    pgrepl__render_clear();
    if (out == NULL || (data == NULL && len > 0))
        return PGREPL_EINVAL;
    if (type_oid >= PGREPL_FIRST_NON_BUILTIN_OID)
        return pgrepl__render_notfound(type_oid);
    size_t start = out->len;
    return finish(out, start, pgrepl__render(out, type_oid, data, len, 0));
}

/* Enum labels are text; a value with control bytes is not one (ranges, arrays and records have them). */
static bool looks_like_label(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
    return true;
}

/*
 * A column type pgoutput described by name only. A built-in pg_type name in
 * pg_catalog is a domain's base type. Otherwise the bytes decide: a composite
 * type sends a record, an array of a composite type an array of records, an
 * enum its label.
 */
static int render_described(pgrepl_buf *out, const pgrepl_column *col, const uint8_t *p, size_t n)
{
    if (col->type_name == NULL)
        return pgrepl__render_notfound(col->type_oid);
    if (col->type_schema != NULL && strcmp(col->type_schema, "pg_catalog") == 0) {
        uint32_t base = pgrepl__typname_oid(col->type_name);
        if (base != 0)
            return pgrepl__render(out, base, p, n, 0);
    }
    size_t start = out->len;
    int rc = pgrepl__render_record(out, p, n, 0);
    if (rc == PGREPL_EPROTOCOL && col->type_name[0] == '_') {
        pgrepl__buf_cut(out, start);
        rc = pgrepl__render_array(out, 0, p, n, 0);
    }
    if (rc != PGREPL_EPROTOCOL)
        return rc;
    pgrepl__buf_cut(out, start);
    if (!looks_like_label(p, n))
        return pgrepl__render_notfound(col->type_oid);
    return pgrepl__put(out, (const char *)p, n);
}

int pgrepl_value_to_text(pgrepl_buf *out, const pgrepl_column *col, const pgrepl_value *v)
{
    pgrepl__render_clear();
    if (out == NULL || col == NULL || v == NULL || (v->data == NULL && v->len > 0))
        return PGREPL_EINVAL;
    size_t start = out->len;
    switch (v->kind) {
    case PGREPL_VALUE_TEXT:
        return pgrepl_buf_append(out, v->data, v->len);
    case PGREPL_VALUE_BINARY:
        if (col->type_oid < PGREPL_FIRST_NON_BUILTIN_OID)
            return finish(out, start, pgrepl__render(out, col->type_oid, v->data, v->len, 0));
        return finish(out, start, render_described(out, col, v->data, v->len));
    default:
        (void)pgrepl__render_bad("a value of kind '%c' has no text", v->kind);
        return PGREPL_EINVAL;
    }
}
