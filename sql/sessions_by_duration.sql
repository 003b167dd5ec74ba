-- The seed's question: how long do today's sessions last?
SELECT duration_sec, count(1) AS sessions
FROM clicks_today
WHERE duration_sec > 0
GROUP BY duration_sec
ORDER BY sessions DESC, duration_sec
