-- Sessions whose rows landed today (UTC), by the Hive partitions Firehose writes.
-- Portable between Athena (Trino) and DuckDB: year/month/day/lpad/CAST exist in both.
SELECT *
FROM aggregated
WHERE year = CAST(year(current_date) AS varchar)
  AND month = lpad(CAST(month(current_date) AS varchar), 2, '0')
  AND day = lpad(CAST(day(current_date) AS varchar), 2, '0')
