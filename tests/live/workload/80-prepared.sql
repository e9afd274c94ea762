-- Two-phase transactions (decoded at PREPARE on 15+, where the slots are
-- two_phase; at COMMIT PREPARED as a plain commit on 14).
BEGIN;
INSERT INTO rid_default VALUES (500, 'prepared', 5);
UPDATE rid_default SET n = 50 WHERE id = 500;
PREPARE TRANSACTION 'gid commit';
COMMIT PREPARED 'gid commit';
BEGIN;
INSERT INTO rid_default VALUES (501, 'prepared then rolled back', 5);
PREPARE TRANSACTION 'it''s rolled back';
ROLLBACK PREPARED 'it''s rolled back';
BEGIN;
SELECT pg_logical_emit_message(true, 'tx', 'the only content of a prepared transaction');
PREPARE TRANSACTION 'message only';
COMMIT PREPARED 'message only';
-- Prepared while another transaction commits in between.
BEGIN;
DELETE FROM rid_default WHERE id = 500;
PREPARE TRANSACTION 'interleaved';
INSERT INTO rid_default VALUES (502, 'committed between prepare and commit prepared', 5);
COMMIT PREPARED 'interleaved';
-- Large enough to be streamed: Stream Prepare on 15+.
BEGIN;
INSERT INTO big SELECT g, 'prepared ' || g FROM generate_series(300001, 303000) g;
PREPARE TRANSACTION 'big prepared';
COMMIT PREPARED 'big prepared';
