#include <string.h>

#include "alloc.h"
#include "ledger.h"

void pgrepl__ledger_init(pgrepl_ledger *l, pgrepl_lsn start)
{
    memset(l, 0, sizeof *l);
    l->received = start;
    l->acked = start;
    l->reported = start;
    l->reported_write = start;
    l->delivered_end = start;
}

void pgrepl__ledger_free(pgrepl_ledger *l)
{
    pgrepl__free(l->streams);
    l->streams = NULL;
    l->nstreams = 0;
    l->streams_cap = 0;
}

void pgrepl__ledger_restart(pgrepl_ledger *l, pgrepl_lsn from)
{
    l->in_txn = false;
    l->nstreams = 0;
    /* What was delivered below from but not acknowledged is not sent again:
     * it blocks the idle rule until acknowledged. Above from it will be sent
     * again, and the re-sent copy blocks it. */
    l->delivered_end = pgrepl__lsn_max(l->acked, from);
    l->keepalive_end = 0;
}

pgrepl_lsn pgrepl__ledger_start_at(const pgrepl_ledger *l, pgrepl_lsn start, pgrepl_lsn durable)
{
    return pgrepl__lsn_max(pgrepl__lsn_max(start, durable), l->acked);
}

void pgrepl__ledger_durable(pgrepl_ledger *l, pgrepl_lsn lsn)
{
    l->received = pgrepl__lsn_max(l->received, lsn);
    l->acked = pgrepl__lsn_max(l->acked, lsn);
    l->delivered_end = pgrepl__lsn_max(l->delivered_end, l->acked);
}

void pgrepl__ledger_received(pgrepl_ledger *l, pgrepl_lsn lsn)
{
    l->received = pgrepl__lsn_max(l->received, lsn);
}

void pgrepl__ledger_keepalive(pgrepl_ledger *l, pgrepl_lsn wal_end)
{
    l->received = pgrepl__lsn_max(l->received, wal_end);
    l->keepalive_end = pgrepl__lsn_max(l->keepalive_end, wal_end);
}

void pgrepl__ledger_begin(pgrepl_ledger *l)
{
    l->in_txn = true;
}

void pgrepl__ledger_unit_end(pgrepl_ledger *l, pgrepl_lsn end_lsn)
{
    l->in_txn = false;
    l->delivered_end = pgrepl__lsn_max(l->delivered_end, end_lsn);
}

static int find_stream(const pgrepl_ledger *l, uint32_t xid)
{
    for (int i = 0; i < l->nstreams; i++)
        if (l->streams[i] == xid)
            return i;
    return -1;
}

int pgrepl__ledger_stream_open(pgrepl_ledger *l, uint32_t xid)
{
    if (find_stream(l, xid) >= 0)
        return 0;
    if (l->nstreams == l->streams_cap) {
        int cap = l->streams_cap ? l->streams_cap * 2 : 8;
        uint32_t *p = pgrepl__realloc(l->streams, (size_t)cap * sizeof *p);
        if (p == NULL)
            return PGREPL_ENOMEM;
        l->streams = p;
        l->streams_cap = cap;
    }
    l->streams[l->nstreams++] = xid;
    return 0;
}

void pgrepl__ledger_stream_close(pgrepl_ledger *l, uint32_t xid, pgrepl_lsn end_lsn)
{
    int i = find_stream(l, xid);
    if (i >= 0)
        l->streams[i] = l->streams[--l->nstreams];
    l->delivered_end = pgrepl__lsn_max(l->delivered_end, end_lsn);
}

pgrepl_lsn pgrepl__ledger_ack(pgrepl_ledger *l, pgrepl_lsn lsn)
{
    if (lsn > l->received)
        lsn = l->received;
    l->acked = pgrepl__lsn_max(l->acked, lsn);
    return l->acked;
}

bool pgrepl__ledger_idle(const pgrepl_ledger *l)
{
    return !l->in_txn && l->nstreams == 0;
}

void pgrepl__ledger_positions(const pgrepl_ledger *l, pgrepl_lsn *write, pgrepl_lsn *flush)
{
    pgrepl_lsn f = l->acked;
    /* Everything before a keepalive's walEnd that the publication passes was
     * sent ahead of that keepalive; with nothing open and all of it
     * acknowledged, confirming walEnd lets a quiet slot advance. */
    if (pgrepl__ledger_idle(l) && l->acked >= l->delivered_end)
        f = pgrepl__lsn_max(f, l->keepalive_end);
    if (f > l->received)
        f = l->received;
    *flush = pgrepl__lsn_max(f, l->reported);
    *write = pgrepl__lsn_max(pgrepl__lsn_max(l->received, l->reported_write), *flush);
}

void pgrepl__ledger_reported(pgrepl_ledger *l, pgrepl_lsn write, pgrepl_lsn flush)
{
    l->reported_write = pgrepl__lsn_max(l->reported_write, write);
    l->reported = pgrepl__lsn_max(l->reported, flush);
}
