-- portableq migration 6: each worker's database connection budget, shown by `portableq workers`.
-- compatible_with: 3
-- (An added nullable column: binaries that know migration 3 and later work as before.)
ALTER TABLE workers ADD COLUMN db_connections integer;
