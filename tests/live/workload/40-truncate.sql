-- TRUNCATE with both options across a foreign key, and plain.
INSERT INTO trunc_parent (v) VALUES ('p1'), ('p2');
INSERT INTO trunc_child (parent_id) VALUES (1), (2);
TRUNCATE trunc_parent RESTART IDENTITY CASCADE;
INSERT INTO trunc_parent (v) VALUES ('after restart');
INSERT INTO trunc_plain VALUES (1), (2);
TRUNCATE trunc_plain;
BEGIN;
INSERT INTO trunc_plain VALUES (3);
TRUNCATE trunc_plain, trunc_child;
INSERT INTO trunc_plain VALUES (4);
COMMIT;
