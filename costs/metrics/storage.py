"""Bulk writes of samples, inside the import job's transaction.

PostgreSQL: each batch goes through psycopg's binary ``COPY ... FROM STDIN``
straight into ``costs_sample`` inside a savepoint; that is as fast as a raw
COPY, and it is the common case (new data). When the batch hits a sample
that already exists (a re-import, an overlap, a timestamp repeated in the
file), the savepoint is rolled back and the batch goes the safe way: COPY
into a temporary staging table, then ``INSERT INTO costs_sample SELECT ...
ON CONFLICT DO NOTHING``, whose row count says how many were stored; the
rest were duplicates. ``bulk_create`` would be about 6.7x slower than COPY
(DESIGN.md, performance facts). Timestamps travel as integer microseconds
in the binary format, so both ways store exactly the same instant and a
re-import always finds its duplicates.

SQLite (the embedded default): batched ``INSERT ... ON CONFLICT DO NOTHING``
through ``executemany``, whose row count says how many were stored; that is
``bulk_create(ignore_conflicts=True)`` plus the count it cannot give.

Series are resolved in bulk per batch: a dict cache of key → id, one query
for the keys not yet seen, one ``bulk_create`` for the missing ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import struct
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from psycopg.errors import UniqueViolation

from costs.models import Sample, Series

__all__ = ["BATCH_SIZE", "SampleWriter", "SeriesKey", "series_key_hash"]

BATCH_SIZE = 50_000
_LOOKUP_CHUNK = 500  # SQLite allows 999 variables per statement on old builds

# (metric id, component, le or None, sorted label items)
SeriesKey = tuple[int, str, float | None, tuple[tuple[str, str], ...]]

_STAGING = "costs_sample_staging"
# PostgreSQL binary COPY: header, then per row 3 fields of 8 bytes each
# (bigint series id, timestamptz as microseconds since 2000-01-01, float8).
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_COPY_ROW = struct.Struct(">hiqiqid")
_PG_EPOCH_US = 946_684_800_000_000


def _binary_copy(rows: list[tuple[int, float, float]]) -> bytes:
    pack = _COPY_ROW.pack
    body = b"".join(
        [
            pack(3, 8, sid, 8, round(ts * 1_000_000) - _PG_EPOCH_US, 8, value)
            for sid, ts, value in rows
        ]
    )
    return _COPY_HEADER + body + _COPY_TRAILER


def _le_text(le: float | None) -> str | None:
    if le is None:
        return None
    if math.isinf(le):
        return "+Inf" if le > 0 else "-Inf"
    return repr(le)


def series_key_hash(backend_id: int, pilot_id: int | None, key: SeriesKey) -> str:
    """SHA-256 of everything that identifies a series (NULLs included)."""
    metric_id, component, le, labels = key
    payload = json.dumps(
        [backend_id, pilot_id, metric_id, component, _le_text(le), [list(item) for item in labels]],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class SampleWriter:
    """Collects ``(series key, epoch seconds, value)`` and writes batches.

    Call ``finish()`` once at the end: it returns the number of samples
    actually stored. Must run inside the job's transaction.
    """

    def __init__(
        self,
        *,
        backend_id: int,
        pilot_id: int | None,
        batch_size: int | None = None,
        on_batch: Callable[[], None] | None = None,
    ) -> None:
        self.backend_id = backend_id
        self.pilot_id = pilot_id
        self.batch_size = batch_size or BATCH_SIZE
        self.on_batch = on_batch
        self.series_ids: dict[SeriesKey, int] = {}
        self.touched: set[int] = set()
        self.pending: list[tuple[SeriesKey, float, float]] = []
        self.accepted = 0
        self.stored = 0
        self.min_ts: float | None = None
        self.max_ts: float | None = None
        self.postgres = connection.vendor == "postgresql"
        self._staging_ready = False

    def add(self, key: SeriesKey, ts: float, value: float) -> None:
        self.pending.append((key, ts, value))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        self._resolve({key for key, _, _ in batch if key not in self.series_ids})
        ids = self.series_ids
        rows = [(ids[key], ts, value) for key, ts, value in batch]
        self.accepted += len(rows)
        low = min(row[1] for row in rows)
        high = max(row[1] for row in rows)
        self.min_ts = low if self.min_ts is None else min(self.min_ts, low)
        self.max_ts = high if self.max_ts is None else max(self.max_ts, high)
        self.touched.update(row[0] for row in rows)
        if self.postgres:
            self._copy(rows)
        else:
            self._insert_sqlite(rows)
        if self.on_batch is not None:
            self.on_batch()

    def finish(self) -> int:
        self.flush()
        if self.postgres and self._staging_ready:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {_STAGING}")
            self._staging_ready = False
        return self.stored

    @property
    def duplicates(self) -> int:
        return self.accepted - self.stored

    # -- series ---------------------------------------------------------

    def _resolve(self, keys: set[SeriesKey]) -> None:
        if not keys:
            return
        by_hash = {series_key_hash(self.backend_id, self.pilot_id, key): key for key in keys}
        hashes = list(by_hash)
        found = self._lookup(hashes)
        missing = [h for h in hashes if h not in found]
        if missing:
            # Internal rows built from validated input; a concurrent job that
            # creates the same series first makes ours a no-op (the hash is unique).
            Series.objects.bulk_create(
                [
                    Series(
                        backend_id=self.backend_id,
                        pilot_id=self.pilot_id,
                        metric_id=by_hash[h][0],
                        component=by_hash[h][1],
                        le=by_hash[h][2],
                        labels=dict(by_hash[h][3]),
                        key_hash=h,
                    )
                    for h in missing
                ],
                ignore_conflicts=True,
                batch_size=_LOOKUP_CHUNK,
            )
            found.update(self._lookup(missing))
        for h, series_id in found.items():
            self.series_ids[by_hash[h]] = series_id

    @staticmethod
    def _lookup(hashes: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            chunk = hashes[start : start + _LOOKUP_CHUNK]
            found.update(Series.objects.filter(key_hash__in=chunk).values_list("key_hash", "id"))
        return found

    # -- samples --------------------------------------------------------

    def _copy(self, rows: list[tuple[int, float, float]]) -> None:
        data = _binary_copy(rows)
        table = Sample._meta.db_table
        savepoint = transaction.savepoint()
        try:
            with connection.cursor() as cursor:
                raw: Any = cursor.cursor  # the psycopg cursor under Django's wrapper
                with raw.copy(
                    f"COPY {table} (series_id, ts, value) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.write(data)
        except UniqueViolation:
            transaction.savepoint_rollback(savepoint)
            self._copy_staged(data)
            return
        transaction.savepoint_commit(savepoint)
        self.stored += len(rows)

    def _copy_staged(self, data: bytes) -> None:
        table = Sample._meta.db_table
        with connection.cursor() as cursor:
            if not self._staging_ready:
                # ON COMMIT DROP cleans up after a failure too; finish() drops
                # it explicitly for jobs that share one outer transaction
                # (tests, a caller's atomic block).
                cursor.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} "
                    "(series_id bigint, ts timestamptz, value double precision) "
                    "ON COMMIT DROP"
                )
                self._staging_ready = True
            cursor.execute(f"TRUNCATE {_STAGING}")
            raw: Any = cursor.cursor
            with raw.copy(
                f"COPY {_STAGING} (series_id, ts, value) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(data)
            cursor.execute(
                f"INSERT INTO {table} (series_id, ts, value) "  # noqa: S608
                f"SELECT series_id, ts, value FROM {_STAGING} ON CONFLICT DO NOTHING"
            )
            self.stored += max(cursor.rowcount, 0)

    def _insert_sqlite(self, rows: list[tuple[int, float, float]]) -> None:
        adapt = connection.ops.adapt_datetimefield_value
        utc = dt.UTC
        fromtimestamp = dt.datetime.fromtimestamp
        params = [
            (series_id, adapt(fromtimestamp(round(ts, 6), utc)), value)
            for series_id, ts, value in rows
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {Sample._meta.db_table} (series_id, ts, value) "  # noqa: S608
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                params,
            )
            self.stored += max(cursor.rowcount, 0)
