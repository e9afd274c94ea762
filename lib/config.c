/*
 * The configuration: what the application sets before it starts the
 * session (the setters refuse once it is running, but for the positions,
 * which may also change while a reconnection is pending), with its
 * defaults. The other parts read it; only this file writes it.
 */
#include <string.h>

#include "alloc.h"
#include "session_int.h"

#define DEFAULT_STATUS_INTERVAL_MS 10000
#define DEFAULT_RECONNECT_MIN_MS 1000
#define DEFAULT_RECONNECT_MAX_MS 60000
#define DEFAULT_STOP_TIMEOUT_MS 5000
/* Longest interval or timeout accepted: its microseconds must fit an int64_t. */
#define MAX_MS (UINT64_C(1) << 40)

void pgrepl__config_init(pgrepl_session *s)
{
    s->cfg.idle_advance = true;
    s->cfg.interval_ms = DEFAULT_STATUS_INTERVAL_MS;
    s->cfg.retry_min_ms = DEFAULT_RECONNECT_MIN_MS;
    s->cfg.retry_max_ms = DEFAULT_RECONNECT_MAX_MS;
    s->cfg.stop_timeout_ms = DEFAULT_STOP_TIMEOUT_MS;
    s->cfg.batch_bytes = PGREPL_READ_BATCH_BYTES;
    s->cfg.batch_pause_us = PGREPL_READ_BATCH_PAUSE_US;
}

void pgrepl__config_free(pgrepl_session *s)
{
    for (int i = 0; i < s->cfg.npubs; i++)
        pgrepl__free(s->cfg.pubs[i]);
    pgrepl__free(s->cfg.pubs);
    pgrepl__free(s->cfg.conninfo);
    pgrepl__free(s->cfg.slot);
}

/* Stopped, and neither a connection nor close asked for. */
bool pgrepl__configurable(const pgrepl_session *s)
{
    return pgrepl_session_get_state(s) == PGREPL_STREAM_STOPPED && !pgrepl__connect_asked(s) && !pgrepl__closing(s);
}

/* ---- public API: heartbeats ------------------------------------------------------------- */

int pgrepl_session_set_heartbeat_interval(pgrepl_session *s, uint64_t ms)
{
    int rc = s == NULL || ms > MAX_MS ? PGREPL_EINVAL : pgrepl__configurable(s) ? 0 : PGREPL_ESTATE;
    if (rc == 0)
        pgrepl__heartbeat_set_interval(pgrepl__hb(s), ms);
    return rc;
}

int pgrepl_session_set_heartbeat_deadline(pgrepl_session *s, uint64_t ms)
{
    int rc = s == NULL || ms > MAX_MS ? PGREPL_EINVAL : pgrepl__configurable(s) ? 0 : PGREPL_ESTATE;
    if (rc == 0)
        pgrepl__heartbeat_set_deadline(pgrepl__hb(s), ms);
    return rc;
}

int pgrepl_session_set_heartbeat_prefix(pgrepl_session *s, const char *prefix)
{
    int rc = s == NULL || prefix == NULL || *prefix == '\0' ? PGREPL_EINVAL
                                                            : pgrepl__configurable(s) ? 0 : PGREPL_ESTATE;
    return rc == 0 ? pgrepl__heartbeat_set_prefix(pgrepl__hb(s), prefix) : rc;
}

int pgrepl_session_set_deliver_heartbeats(pgrepl_session *s, bool on)
{
    int rc = s == NULL ? PGREPL_EINVAL : pgrepl__configurable(s) ? 0 : PGREPL_ESTATE;
    if (rc == 0)
        pgrepl__heartbeat_set_deliver(pgrepl__hb(s), on);
    return rc;
}

/* ---- public API: the stream ------------------------------------------------------------ */

static int replace_string(char **dst, const char *src)
{
    char *copy = pgrepl__strndup(src, strlen(src));
    if (copy == NULL)
        return PGREPL_ENOMEM;
    pgrepl__free(*dst);
    *dst = copy;
    return 0;
}

int pgrepl_session_set_conninfo(pgrepl_session *s, const char *conninfo)
{
    if (s == NULL || conninfo == NULL)
        return PGREPL_EINVAL;
    if (!pgrepl__configurable(s))
        return PGREPL_ESTATE;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (opts == NULL) {
        pgrepl__set_errmsg(s, NULL, "invalid conninfo: %s", err != NULL ? err : "out of memory");
        pgrepl__chomp_errmsg(s);
        int rc = err != NULL ? PGREPL_EINVAL : PGREPL_ENOMEM;
        PQfreemem(err);
        return rc;
    }
    PQconninfoFree(opts);
    return replace_string(&s->cfg.conninfo, conninfo);
}

int pgrepl_session_set_slot(pgrepl_session *s, const char *slot)
{
    if (s == NULL || pgrepl__bad_slot_name(slot))
        return PGREPL_EINVAL;
    if (!pgrepl__configurable(s))
        return PGREPL_ESTATE;
    if (s->cfg.slot != NULL && strcmp(s->cfg.slot, slot) != 0) {
        /* another slot: nothing is known of it yet */
        pgrepl__setup_new_slot(s);
    }
    return replace_string(&s->cfg.slot, slot);
}

int pgrepl_session_add_publication(pgrepl_session *s, const char *name)
{
    if (s == NULL || name == NULL || *name == '\0')
        return PGREPL_EINVAL;
    if (!pgrepl__configurable(s))
        return PGREPL_ESTATE;
    char **pubs = pgrepl__realloc(s->cfg.pubs, (size_t)(s->cfg.npubs + 1) * sizeof *pubs);
    if (pubs == NULL)
        return PGREPL_ENOMEM;
    s->cfg.pubs = pubs;
    pubs[s->cfg.npubs] = pgrepl__strndup(name, strlen(name));
    if (pubs[s->cfg.npubs] == NULL)
        return PGREPL_ENOMEM;
    s->cfg.npubs++;
    return 0;
}

/* The common guard of the setters below: 0 when s may be configured. */
static int check_config(const pgrepl_session *s)
{
    if (s == NULL)
        return PGREPL_EINVAL;
    return pgrepl__configurable(s) ? 0 : PGREPL_ESTATE;
}

/*
 * The plain setters: the state first (PGREPL_EINVAL for NULL, PGREPL_ESTATE
 * once running), then the value (PGREPL_EINVAL unless valid), then stored.
 */
#define SETTER(name, type, param, field, valid)                                                                        \
    int pgrepl_session_set_##name(pgrepl_session *s, type param)                                                       \
    {                                                                                                                  \
        int rc = check_config(s);                                                                                      \
        if (rc == 0 && !(valid))                                                                                       \
            rc = PGREPL_EINVAL;                                                                                        \
        if (rc == 0)                                                                                                   \
            s->cfg.field = param;                                                                                      \
        return rc;                                                                                                     \
    }

SETTER(proto_version, int, version, proto_req, version >= 0 && version <= 4)
SETTER(binary, bool, on, binary, true)
SETTER(messages, bool, on, messages, true)
SETTER(streaming, pgrepl_streaming_mode, mode, streaming,
       mode >= PGREPL_STREAMING_OFF && mode <= PGREPL_STREAMING_PARALLEL)
SETTER(two_phase, bool, on, two_phase, true)
SETTER(origin, pgrepl_origin_filter, origin, origin, origin >= PGREPL_ORIGIN_DEFAULT && origin <= PGREPL_ORIGIN_NONE)
SETTER(stop_timeout, uint64_t, ms, stop_timeout_ms, ms > 0 && ms <= MAX_MS)
SETTER(allow_gaps, bool, on, allow_gaps, true)
SETTER(status_interval, uint64_t, ms, interval_ms, ms > 0 && ms <= MAX_MS)
SETTER(receive_timeout, uint64_t, ms, recv_timeout_ms, ms <= MAX_MS)
SETTER(connect_timeout, uint64_t, ms, connect_timeout_ms, ms <= MAX_MS)
SETTER(auto_ack, bool, on, auto_ack, true)
SETTER(idle_advance, bool, on, idle_advance, true)

/* Positions may also be set while a reconnection is pending: for the next connection. */
static int check_position(const pgrepl_session *s)
{
    return s != NULL && pgrepl_session_get_state(s) == PGREPL_STREAM_RECONNECTING && !pgrepl__closing(s)
               ? 0
               : check_config(s);
}

int pgrepl_session_set_start_lsn(pgrepl_session *s, pgrepl_lsn lsn)
{
    int rc = check_position(s);
    if (rc == 0)
        s->cfg.start_lsn = lsn;
    return rc;
}

int pgrepl_session_set_durable_lsn(pgrepl_session *s, pgrepl_lsn lsn)
{
    int rc = check_position(s);
    if (rc == 0)
        s->cfg.durable_lsn = lsn;
    return rc;
}

int pgrepl_session_set_read_batch(pgrepl_session *s, size_t min_bytes, uint64_t pause_us)
{
    int rc = check_config(s);
    if (rc == 0 && min_bytes != 0 &&
        (min_bytes > PGREPL_READ_BATCH_MAX_BYTES || pause_us == 0 || pause_us > PGREPL_READ_BATCH_MAX_PAUSE_US))
        rc = PGREPL_EINVAL;
    if (rc == 0) {
        s->cfg.batch_bytes = min_bytes;
        s->cfg.batch_pause_us = pause_us;
    }
    return rc;
}

int pgrepl_session_set_reconnect(pgrepl_session *s, uint64_t min_ms, uint64_t max_ms)
{
    int rc = check_config(s);
    bool off = min_ms == 0 && max_ms == 0;
    if (rc == 0 && !off && (min_ms == 0 || max_ms < min_ms || max_ms > MAX_MS))
        rc = PGREPL_EINVAL;
    if (rc == 0) {
        s->cfg.retry_min_ms = min_ms;
        s->cfg.retry_max_ms = max_ms;
    }
    return rc;
}

int pgrepl_session_set_callbacks(pgrepl_session *s, const pgrepl_decoder_callbacks *dcb, size_t dcb_size,
                                const pgrepl_session_callbacks *scb, size_t scb_size)
{
    int rc = check_config(s);
    if (rc != 0)
        return rc;
    if ((dcb != NULL && dcb_size > sizeof s->cfg.dcb) || (scb != NULL && scb_size > sizeof s->cfg.scb))
        return PGREPL_EINVAL;
    memset(&s->cfg.dcb, 0, sizeof s->cfg.dcb);
    memset(&s->cfg.scb, 0, sizeof s->cfg.scb);
    if (dcb != NULL)
        memcpy(&s->cfg.dcb, dcb, dcb_size);
    if (scb != NULL)
        memcpy(&s->cfg.scb, scb, scb_size);
    return 0;
}

void pgrepl_session_set_data(pgrepl_session *s, void *data)
{
    if (s != NULL)
        s->cfg.data = data;
}

void *pgrepl_session_get_data(const pgrepl_session *s)
{
    return s != NULL ? s->cfg.data : NULL;
}
