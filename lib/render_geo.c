/*
 * Geometric types: float8 coordinates printed as float8out prints them,
 * with the delimiters of geo_ops.c (points "(x,y)", open paths and segments
 * in brackets, closed paths and polygons in parentheses, lines in braces,
 * circles in angle brackets).
 */
#include "render.h"

#define POINT_SIZE 16

static int put_point(pgrepl_buf *out, const uint8_t *p)
{
    int rc = pgrepl__putc(out, '(');
    if (rc == 0)
        rc = pgrepl__put_float8(out, pgrepl__rdf64(p));
    if (rc == 0)
        rc = pgrepl__putc(out, ',');
    if (rc == 0)
        rc = pgrepl__put_float8(out, pgrepl__rdf64(p + 8));
    if (rc == 0)
        rc = pgrepl__putc(out, ')');
    return rc;
}

/* path_encode: npts points separated by commas, between open and close (either may be 0). */
static int put_points(pgrepl_buf *out, const uint8_t *p, size_t npts, char open, char close)
{
    int rc = open ? pgrepl__putc(out, open) : 0;
    for (size_t i = 0; i < npts && rc == 0; i++) {
        if (i > 0)
            rc = pgrepl__putc(out, ',');
        if (rc == 0)
            rc = put_point(out, p + i * POINT_SIZE);
    }
    if (rc == 0 && close)
        rc = pgrepl__putc(out, close);
    return rc;
}

/* "{A,B,C}" or "<(x,y),r>": three floats between delimiters. */
static int put_three(pgrepl_buf *out, const uint8_t *p, char open, char close)
{
    int rc = pgrepl__putc(out, open);
    if (rc == 0 && open == '<')
        rc = put_point(out, p);
    else if (rc == 0)
        rc = pgrepl__put_float8(out, pgrepl__rdf64(p));
    for (size_t i = open == '<' ? 2 : 1; i < 3 && rc == 0; i++) {
        rc = pgrepl__putc(out, ',');
        if (rc == 0)
            rc = pgrepl__put_float8(out, pgrepl__rdf64(p + 8 * i));
    }
    if (rc == 0)
        rc = pgrepl__putc(out, close);
    return rc;
}

/* path: closed flag, point count, points; polygon: point count, points. */
static int render_points(pgrepl_buf *out, const char *type, const uint8_t *p, size_t n, bool has_flag)
{
    size_t head = has_flag ? 5 : 4;
    if (n < head)
        return pgrepl__render_bad("%s value of %zu bytes", type, n);
    bool closed = !has_flag || p[0] != 0;
    uint32_t npts = pgrepl__rd32(p + head - 4);
    if (has_flag && p[0] > 1)
        return pgrepl__render_bad("path with closed flag %u", (unsigned)p[0]);
    if (npts == 0 || npts > (n - head) / POINT_SIZE || n - head != (size_t)npts * POINT_SIZE)
        return pgrepl__render_bad("%s of %u points in %zu bytes", type, (unsigned)npts, n);
    return put_points(out, p + head, npts, closed ? '(' : '[', closed ? ')' : ']');
}

int pgrepl__render_geo(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n)
{
    int rc;
    switch (oid) {
    case 600: /* point */
        rc = pgrepl__want_len("point", n, POINT_SIZE);
        return rc != 0 ? rc : put_point(out, p);
    case 601: /* lseg */
        rc = pgrepl__want_len("lseg", n, 2 * POINT_SIZE);
        return rc != 0 ? rc : put_points(out, p, 2, '[', ']');
    case 603: /* box: high corner first, no delimiters around the pair */
        rc = pgrepl__want_len("box", n, 2 * POINT_SIZE);
        return rc != 0 ? rc : put_points(out, p, 2, 0, 0);
    case 628: /* line: A, B, C */
        rc = pgrepl__want_len("line", n, 24);
        return rc != 0 ? rc : put_three(out, p, '{', '}');
    case 718: /* circle: center, radius */
        rc = pgrepl__want_len("circle", n, 24);
        return rc != 0 ? rc : put_three(out, p, '<', '>');
    case 602:
        return render_points(out, "path", p, n, true);
    default:
        return render_points(out, "polygon", p, n, false);
    }
}
