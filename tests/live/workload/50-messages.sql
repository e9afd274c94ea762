-- Logical decoding messages, transactional and not.
SELECT pg_logical_emit_message(false, 'nontx', 'outside any transaction');
SELECT pg_logical_emit_message(true, 'tx', 'alone in its transaction');
BEGIN;
SELECT pg_logical_emit_message(true, 'tx', 'before the first change');
INSERT INTO rid_default VALUES (200, 'with messages', 0);
SELECT pg_logical_emit_message(true, 'tx', E'it''s\nmulti-line');
SELECT pg_logical_emit_message(false, 'nontx', 'inside a transaction');
SELECT pg_logical_emit_message(true, 'tx.bytea', '\x616263'::bytea);
COMMIT;
BEGIN;
SELECT pg_logical_emit_message(true, 'tx', 'rolled back: never seen');
SELECT pg_logical_emit_message(false, 'nontx', 'in a rolled back transaction: seen');
INSERT INTO rid_default VALUES (201, 'rolled back', 0);
ROLLBACK;
SELECT pg_logical_emit_message(true, '', '');
