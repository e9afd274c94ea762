-- The flush argument of pg_logical_emit_message (17+).
SELECT pg_logical_emit_message(false, 'nontx', 'flushed at once', true);
SELECT pg_logical_emit_message(true, 'tx', 'transactional, flush requested', flush => true);
