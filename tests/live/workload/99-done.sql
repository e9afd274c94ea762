-- The last transaction: everything before it is flushed when it commits.
INSERT INTO done VALUES (1);
