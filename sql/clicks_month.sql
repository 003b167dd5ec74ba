-- Sessions whose rows landed this month (UTC).
SELECT *
FROM aggregated
WHERE year = CAST(year(current_date) AS varchar)
  AND month = lpad(CAST(month(current_date) AS varchar), 2, '0')
