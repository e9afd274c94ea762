-- A transaction far above logical_decoding_work_mem (64kB), so pgoutput
-- streams it in blocks; a savepoint, with nested ones released and not,
-- streamed before it is rolled back (Stream Abort for each subtransaction);
-- messages, a truncate and changes of other tables inside the blocks.
BEGIN;
INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, 2500) g;
SELECT pg_logical_emit_message(true, 'stream', 'transactional, in a stream block');
SELECT pg_logical_emit_message(false, 'stream', 'non-transactional, between blocks');
SAVEPOINT s1;
INSERT INTO big SELECT g, 'rolled back ' || g FROM generate_series(100001, 101000) g;
INSERT INTO rid_default VALUES (400, 'rolled back inside the stream', 4);
SAVEPOINT s1_released;
INSERT INTO big SELECT g, 'rolled back, nested ' || g FROM generate_series(101001, 102000) g;
RELEASE SAVEPOINT s1_released;
SAVEPOINT s1_open;
INSERT INTO big SELECT g, 'rolled back, nested ' || g FROM generate_series(102001, 103000) g;
ROLLBACK TO SAVEPOINT s1;
SAVEPOINT s2;
INSERT INTO rid_default VALUES (401, 'kept inside the stream', 4);
TRUNCATE trunc_plain;
RELEASE SAVEPOINT s2;
UPDATE rid_default SET n = 40 WHERE id = 401;
INSERT INTO big SELECT g, 'row ' || g FROM generate_series(2501, 5000) g;
DELETE FROM big WHERE id % 1000 = 0;
COMMIT;
