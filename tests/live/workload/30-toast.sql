-- Out-of-line values (about 12 kB of hex, kept uncompressed): an UPDATE of
-- another column leaves them unchanged ('u'); the whole old row of a FULL
-- identity table carries them inline.
INSERT INTO toasted SELECT 1, string_agg(md5(g::text), '' ORDER BY g), 1 FROM generate_series(1, 400) g;
INSERT INTO toasted VALUES (2, 'short', 2);
UPDATE toasted SET n = n + 10;
UPDATE toasted SET big = big || 'x' WHERE id = 1;
DELETE FROM toasted WHERE id = 1;

INSERT INTO toasted_full SELECT 1, string_agg(md5((-g)::text), '' ORDER BY g), 1 FROM generate_series(1, 400) g;
UPDATE toasted_full SET n = 2;
DELETE FROM toasted_full;
