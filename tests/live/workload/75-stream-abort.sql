-- A streamed transaction that aborts (Stream Abort for the whole
-- transaction): it waits until the walsender has streamed it.
BEGIN;
INSERT INTO big SELECT g, 'aborted ' || g FROM generate_series(200001, 205000) g;
SELECT wait_decoded(pg_current_wal_insert_lsn() - 16384);
ROLLBACK;
