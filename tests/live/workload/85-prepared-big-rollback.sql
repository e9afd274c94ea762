-- A streamed prepared transaction that is rolled back (Stream Prepare, then
-- Rollback Prepared on 15+; Stream Abort on 14). Not on 18: it skips the rest
-- of a transaction it finds already aborted when it would stream it, so what
-- each plugin gets depends on how far decoding had got at the rollback.
BEGIN;
INSERT INTO big SELECT g, 'prepared, rolled back ' || g FROM generate_series(400001, 403000) g;
PREPARE TRANSACTION 'big rolled back';
ROLLBACK PREPARED 'big rolled back';
