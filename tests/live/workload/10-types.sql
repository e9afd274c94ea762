-- Every type family with edge values, then an update and a delete.
INSERT INTO all_types VALUES (
    1,
    -32768, 2147483647, -9223372036854775808, 4294967295,
    'NaN', 12345678.1234,
    'NaN', 'Infinity',
    'plain', 'it''s "quoted"', 'ab', 'x', 'a_name',
    '\x00ff27', true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    'infinity', '24:00:00', '23:59:59.999999+14', '4713-01-01 00:00:00 BC', '2024-02-29 12:34:56.789',
    '-infinity', '178000000 years 11 mons -3 days 04:05:06.5', '1 day 02:03:04.56',
    '{"a": [1, 2.5, null, "x\"y"]}', '{"b": {"c": true}, "a": "it''s"}',
    '192.168.1.5/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
    B'1010', B'110', 1234.56,
    '(1.5,-2)', '((0,0),(1,1))', '<(0,0),2>', '((0,0),(1,1),(1,0))',
    'the quick brown fox''s jump', '16/B374D848',
    '{1,NULL,3}', '{"a b",NULL,"it''s","q\"uote","NULL",""}', '{{1,2},{3,4}}', '{1.5,NaN,-Infinity}',
    '[1,10)', '["2024-01-01 00:00+00","2024-06-01 00:00+00")', '{[1,3),[5,7)}', '{[2024-01-01,2024-02-01)}',
    'it''s', 7, ROW(1, 'it''s, "a" pair'), '{sad,happy}',
    'mixed'
);
INSERT INTO all_types (id, c_numeric, c_float4, c_float8, c_text, c_bool, c_date, c_timestamptz, c_bit,
                       c_varbit, c_numeric_arr, c_int4range, c_int4multirange, c_mood, c_posint)
VALUES (2, '0.000000000000000000000000000000000000000000000000000000000000000000000000000001', '-0', '-Infinity',
        E'line1\nline2\ttab \\ backslash', false, '0044-03-15 BC', '2000-01-01 00:00:00+00', B'0000', B'',
        '{}', 'empty', '{}', 'sad', 1);
INSERT INTO all_types (id, c_numeric, c_float4, c_float8, c_text, c_int_arr, c_text_arr)
VALUES (3, '-123456789012345678901234567890.123456789012345678901234567890', '1e-45', '1.7976931348623157e308',
        repeat('ü€😀', 50), '[2:3]={7,8}', '{{a,b},{NULL,d}}');
INSERT INTO all_types (id) VALUES (4);
UPDATE all_types SET c_text = 'updated', c_numeric = 'Infinity', c_mood = 'ok' WHERE id = 1;
UPDATE all_types SET c_float8 = '-0', c_int_2d = '{{{1}}}' WHERE id = 2;
DELETE FROM all_types WHERE id = 4;
