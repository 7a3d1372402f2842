"""The "one event" benchmark: `user_followed_user` in the repository's example project.

`build_warehouse` writes N backend events over 7 days, a quarter of them user_followed_user (a few
broken), and `SCAN_SQL` is the hand-written single scan computing the same metrics in one pass.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

EVENT = "user_followed_user"


def build_warehouse(path: Path, rows: int, since: datetime, span: timedelta) -> None:
    """`rows` backend events; every 4th a user_followed_user, a few of them broken."""
    import duckdb

    seconds = int(span.total_seconds())
    with duckdb.connect(str(path)) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(
            f"""
            CREATE TABLE backend__events AS
            SELECT 'evt_' || i AS event_id,
                   CASE WHEN i % 4 = 0 THEN 'user_followed_user'
                        ELSE 'seller_started_livestream' END AS event_name,
                   TIMESTAMPTZ '{since.isoformat()}' + to_seconds((i * {seconds}) // {rows})
                     AS event_timestamp,
                   CASE
                     WHEN i % 4 <> 0 THEN json_object('livestream_id', i, 'seller_id', i % 977)
                     WHEN i % 4000 = 0 THEN json_object('follower_id', i, 'followee_id', i)
                     WHEN i % 10000 = 4 THEN json_object('follower_id', i, 'followee_id', CAST(i AS VARCHAR))
                     ELSE json_object('follower_id', i, 'followee_id', (i * 7919) % 100000007)
                   END::JSON AS payload
            FROM range({rows}) AS t(i)
            """
        )
        connection.execute(
            "CREATE TABLE frontend__events AS SELECT * FROM backend__events WHERE false"
        )


SCAN_SQL = """
SELECT
  count(*) AS events,
  count(*) - count(event_id) AS missing_ids,
  count(*) - count(DISTINCT event_id) AS duplicate_ids,
  count(*) - count(event_timestamp) AS missing_timestamps,
  count(*) FILTER (WHERE event_timestamp > CAST($until AS TIMESTAMPTZ) + INTERVAL 5 MINUTE) AS future,
  max(event_timestamp) AS newest,
  count(*) FILTER (WHERE json_type(payload) <> 'OBJECT') AS not_objects,
  count(*) FILTER (WHERE list_has_any(json_keys(payload), ['follower_id', 'followee_id']) = false
                     OR len(list_filter(json_keys(payload), lambda k: k NOT IN ('follower_id', 'followee_id'))) > 0)
    AS undeclared_keys,
  count(*) FILTER (WHERE json_type(payload, '$.follower_id') NOT IN ('BIGINT', 'UBIGINT', 'NULL'))
    AS bad_follower,
  count(*) FILTER (WHERE json_type(payload, '$.followee_id') NOT IN ('BIGINT', 'UBIGINT', 'NULL'))
    AS bad_followee,
  count(*) FILTER (WHERE payload->>'follower_id' = payload->>'followee_id') AS self_follows,
  count(*) FILTER (WHERE payload->>'follower_id' IS NULL) AS null_followers,
  count(*) FILTER (WHERE payload->>'followee_id' IS NULL) AS null_followees,
  count(*) - count(DISTINCT (payload->>'follower_id', payload->>'followee_id')) AS duplicate_pairs
FROM backend__events
WHERE event_name = 'user_followed_user' AND event_timestamp >= $since AND event_timestamp < $until
"""
