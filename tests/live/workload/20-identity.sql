-- Every replica identity: old keys ('K'), whole old rows ('O'), none.
INSERT INTO rid_default VALUES (1, 'one', 1), (2, 'two', NULL), (3, 'three', 3);
UPDATE rid_default SET v = 'one again' WHERE id = 1;
UPDATE rid_default SET id = 10 WHERE id = 2;
UPDATE rid_default SET id = id + 100;
DELETE FROM rid_default WHERE id = 103;

INSERT INTO rid_full VALUES (1, 'one', NULL), (2, NULL, 2), (2, NULL, 2);
UPDATE rid_full SET n = 5 WHERE id = 1;
UPDATE rid_full SET v = 'dup' WHERE id = 2;
DELETE FROM rid_full WHERE id = 1;

INSERT INTO rid_index VALUES (1, 1, 'a'), (1, 2, 'b');
UPDATE rid_index SET v = 'a2' WHERE a = 1 AND b = 1;
UPDATE rid_index SET b = 3 WHERE b = 2;
DELETE FROM rid_index WHERE b = 1;

INSERT INTO rid_nothing VALUES ('no identity', 1), (NULL, NULL);

INSERT INTO dropped_col VALUES (1, 'after the drop');
UPDATE dropped_col SET v = 'changed';
