"""Bulk writes of samples, inside the import job's transaction.

PostgreSQL: each batch goes through psycopg's binary ``COPY ... FROM STDIN``
(payload packed by numpy, rows in (series, ts) order, sent by a writer
thread so the server works while Python parses on) straight into
``metrics_sample`` inside a savepoint; that is as fast as a raw
COPY, and it is the common case (new data). When the batch hits a sample
that already exists (a re-import, an overlap, a timestamp repeated in the
file), the savepoint is rolled back and the batch goes the safe way: COPY
into a temporary staging table, then ``INSERT INTO metrics_sample SELECT ...
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
import queue
import struct
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from django.db import connection
from psycopg.errors import UniqueViolation

from metrics.models import Sample, Series

__all__ = ["BATCH_SIZE", "SampleWriter", "SeriesKey", "TooManySeries", "series_key_hash"]

BATCH_SIZE = 50_000
# Batches waiting for the COPY thread: bounds memory (~2 MB each) while
# letting parsing run ahead of the database.
QUEUE_BATCHES = 2
_LOOKUP_CHUNK = 500  # SQLite allows 999 variables per statement on old builds

# (metric id, component, le or None, sorted label items)
SeriesKey = tuple[int, str, float | None, tuple[tuple[str, str], ...]]

_STAGING = "metrics_sample_staging"
# PostgreSQL binary COPY: header, then per row 3 fields of 8 bytes each
# (bigint series id, timestamptz as microseconds since 2000-01-01, float8).
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("id_len", ">i4"),
        ("series_id", ">i8"),
        ("ts_len", ">i4"),
        ("ts", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
    ]
)
_PG_EPOCH_US = 946_684_800_000_000


class TooManySeries(Exception):
    """The file would create more new series than the writer may."""

    def __init__(self, new_series: int, limit: int) -> None:
        self.new_series = new_series
        self.limit = limit
        super().__init__(f"{new_series} new series, limit {limit}")


def _binary_copy(ids: np.ndarray, pg_micros: np.ndarray, values: np.ndarray) -> bytes:
    """One binary COPY payload for a whole batch, built by numpy."""
    rows = np.empty(len(ids), dtype=_COPY_ROW)
    rows["fields"] = 3
    rows["id_len"] = 8
    rows["series_id"] = ids
    rows["ts_len"] = 8
    rows["ts"] = pg_micros
    rows["value_len"] = 8
    rows["value"] = values
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


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
    """Collects samples and writes them in batches.

    Samples arrive as ``(key index, epoch seconds, value)`` in three
    parallel lists (``pending_keys``, ``pending_ts``, ``pending_values``):
    ``intern(key)`` gives a series key its small integer index once, so the
    hot loop never hashes a nested key tuple again. ``flush()`` writes a
    batch; call ``finish()`` once at the end (it returns the number of
    samples actually stored) and ``close()`` on every way out (it stops the
    COPY thread). Must run inside the job's transaction.

    On PostgreSQL the COPY of each batch runs on a writer thread fed by a
    bounded queue, on the job's own connection (so in its transaction):
    the server ingests one batch while Python parses the next. The main
    thread only touches that connection after draining the queue (to
    create series), so the two never interleave statements.
    """

    def __init__(
        self,
        *,
        backend_id: int,
        pilot_id: int | None,
        batch_size: int | None = None,
        on_batch: Callable[[], None] | None = None,
        max_new_series: int | None = None,
        pilot_labels: dict[str, int] | None = None,
    ) -> None:
        self.backend_id = backend_id
        # A ``pilot`` label whose value is a key here (a pilot's id or name)
        # tags the series with that pilot instead of keeping the label.
        self.pilot_labels = pilot_labels or {}
        # Cardinality guard: once the file would create more new series than
        # this, nothing more is written; the rest of the file is only read,
        # to say how many it would have created (``finish`` raises).
        self.max_new_series = max_new_series
        self.new_series = 0
        self.series_limit_hit = False
        self._limit_checked = 0
        self.pilot_id = pilot_id
        self.batch_size = batch_size or BATCH_SIZE
        self.on_batch = on_batch
        self.series_ids: dict[SeriesKey, int] = {}
        self.key_index: dict[SeriesKey, int] = {}
        self.keys: list[SeriesKey] = []
        self._index_ids: list[int] = []  # key index -> series id, once resolved
        self.touched: set[int] = set()
        self.pending_keys: list[int] = []
        self.pending_ts: list[float] = []
        self.pending_values: list[float] = []
        self.accepted = 0
        self._stored = 0
        self.min_ts: float | None = None
        self.max_ts: float | None = None
        self.postgres = connection.vendor == "postgresql"
        self._copier: _CopyThread | None = None

    @property
    def stored(self) -> int:
        return self._stored + (self._copier.stored if self._copier is not None else 0)

    def intern(self, key: SeriesKey) -> int:
        """The index of ``key`` (allocated on first sight)."""
        index = self.key_index.get(key)
        if index is None:
            index = len(self.keys)
            self.key_index[key] = index
            self.keys.append(key)
        return index

    def add(self, key: SeriesKey, ts: float, value: float) -> None:
        self.pending_keys.append(self.intern(key))
        self.pending_ts.append(ts)
        self.pending_values.append(value)
        if len(self.pending_keys) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending_keys:
            return
        # Swap in fresh lists; callers re-read the attributes after a flush.
        key_list, self.pending_keys = self.pending_keys, []
        ts_list, self.pending_ts = self.pending_ts, []
        value_list, self.pending_values = self.pending_values, []
        if self.series_limit_hit:
            return  # refused: the job rolls back; only the keys still count
        if len(self._index_ids) < len(self.keys):
            self._drain()  # the connection is the main thread's again
            if not self._resolve(
                {k for k in self.keys[len(self._index_ids) :] if k not in self.series_ids}
            ):
                self.series_limit_hit = True
                self._limit_checked = len(self.keys)
                return
            self._index_ids.extend(self.series_ids[k] for k in self.keys[len(self._index_ids) :])
        ids = np.asarray(self._index_ids, dtype=np.int64)[np.asarray(key_list, dtype=np.intp)]
        ts = np.asarray(ts_list, dtype=np.float64)
        values = np.asarray(value_list, dtype=np.float64)
        self.accepted += len(ids)
        low, high = float(ts.min()), float(ts.max())
        self.min_ts = low if self.min_ts is None else min(self.min_ts, low)
        self.max_ts = high if self.max_ts is None else max(self.max_ts, high)
        self.touched.update(np.unique(ids).tolist())
        # Exactly round(ts * 1e6) per value: rint rounds half to even like round().
        micros = np.rint(ts * 1_000_000).astype(np.int64)
        # Written in (series, ts) order: the primary key's inserts stay on a
        # few leaf pages, and each series' rows sit together in the heap, so
        # the rollup's ordered scan reads pages once instead of once per row.
        # lexsort is stable: of two rows with the same key, the file's first
        # still comes first (and is the one kept).
        order = np.lexsort((micros, ids))
        ids, micros, values = ids[order], micros[order], values[order]
        if self.postgres:
            if self._copier is None:
                self._copier = _CopyThread()
            self._copier.put(_binary_copy(ids, micros - _PG_EPOCH_US, values), len(ids))
        else:
            self._insert_sqlite(ids.tolist(), micros.tolist(), values.tolist())
        if self.on_batch is not None:
            self.on_batch()

    def finish(self) -> int:
        self.flush()
        self._drain()
        if self.series_limit_hit:
            rest = {k for k in self.keys[self._limit_checked :] if k not in self.series_ids}
            hashes = list({series_key_hash(self.backend_id, *self._identity(key)) for key in rest})
            self.new_series += len(hashes) - len(self._lookup(hashes))
            raise TooManySeries(self.new_series, self.max_new_series or 0)
        if self._copier is not None:
            self._copier.close()
        return self.stored

    def close(self) -> None:
        """Stop the COPY thread (idempotent); on an error path the batches
        still queued are dropped, the transaction rolls back anyway."""
        if self._copier is not None:
            self._copier.stop()

    def _drain(self) -> None:
        if self._copier is not None:
            self._copier.drain()

    @property
    def duplicates(self) -> int:
        return self.accepted - self.stored

    # -- series ---------------------------------------------------------

    def _resolve(self, keys: set[SeriesKey]) -> bool:
        """Series ids for ``keys``, creating the missing ones; False (and
        nothing created) when that would pass ``max_new_series``."""
        if not keys:
            return True
        identities = {key: self._identity(key) for key in keys}
        # Two keys may be one series (a pilot label by id and by name).
        by_hash: dict[str, list[SeriesKey]] = {}
        for key, identity in identities.items():
            by_hash.setdefault(series_key_hash(self.backend_id, *identity), []).append(key)
        hashes = list(by_hash)
        found = self._lookup(hashes)
        missing = [h for h in hashes if h not in found]
        self.new_series += len(missing)
        if self.max_new_series is not None and self.new_series > self.max_new_series:
            return False
        if missing:
            # Internal rows built from validated input; a concurrent job that
            # creates the same series first makes ours a no-op (the hash is unique).
            rows = []
            for h in missing:
                pilot_id, (metric_id, component, le, labels) = identities[by_hash[h][0]]
                rows.append(
                    Series(
                        backend_id=self.backend_id,
                        pilot_id=pilot_id,
                        metric_id=metric_id,
                        component=component,
                        le=le,
                        labels=dict(labels),
                        key_hash=h,
                    )
                )
            Series.objects.bulk_create(rows, ignore_conflicts=True, batch_size=_LOOKUP_CHUNK)
            found.update(self._lookup(missing))
        for h, series_id in found.items():
            for key in by_hash[h]:
                self.series_ids[key] = series_id
        return True

    def _identity(self, key: SeriesKey) -> tuple[int | None, SeriesKey]:
        """(pilot id, key) the series is stored under: a ``pilot`` label
        naming a pilot the import may tag becomes the series' pilot."""
        if self.pilot_labels:
            for name, value in key[3]:
                if name == "pilot" and value in self.pilot_labels:
                    labels = tuple(item for item in key[3] if item[0] != "pilot")
                    return self.pilot_labels[value], (key[0], key[1], key[2], labels)
        return self.pilot_id, key

    @staticmethod
    def _lookup(hashes: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            chunk = hashes[start : start + _LOOKUP_CHUNK]
            found.update(Series.objects.filter(key_hash__in=chunk).values_list("key_hash", "id"))
        return found

    # -- samples --------------------------------------------------------

    def _insert_sqlite(self, ids: list[int], micros: list[int], values: list[float]) -> None:
        adapt = connection.ops.adapt_datetimefield_value
        utc = dt.UTC
        epoch = dt.datetime(1970, 1, 1, tzinfo=utc)
        delta = dt.timedelta
        params = [
            (series_id, adapt(epoch + delta(microseconds=us)), value)
            for series_id, us, value in zip(ids, micros, values, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {Sample._meta.db_table} (series_id, ts, value) "  # noqa: S608
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                params,
            )
            self._stored += max(cursor.rowcount, 0)


class _CopyThread:
    """Runs the batches' COPYs on the job's psycopg connection, one after
    the other, while the main thread parses.

    Each batch goes straight into ``metrics_sample`` inside a savepoint; when
    it hits a sample that already exists, the savepoint is rolled back and
    the batch goes through the staging table and ``INSERT ... ON CONFLICT
    DO NOTHING``. An error stops the thread and is raised in the main
    thread at its next ``put``/``drain``/``close``.
    """

    def __init__(self) -> None:
        connection.ensure_connection()
        self.conn: Any = connection.connection  # the psycopg connection under Django's wrapper
        self.queue: queue.Queue[tuple[bytes, int] | None] = queue.Queue(maxsize=QUEUE_BATCHES)
        self.stored = 0
        self.error: BaseException | None = None
        self._staging_ready = False
        self._stopping = False
        self.thread = threading.Thread(target=self._run, name="metrics-copy", daemon=True)
        self.thread.start()

    def put(self, data: bytes, rows: int) -> None:
        self._raise()
        self.queue.put((data, rows))

    def drain(self) -> None:
        self.queue.join()
        self._raise()

    def close(self) -> None:
        """Wait for the queued batches, drop the staging table, end the thread."""
        self.drain()
        if self._staging_ready:
            with self.conn.cursor() as cursor:
                cursor.execute(f"DROP TABLE {_STAGING}")
            self._staging_ready = False
        self.stop()
        self._raise()

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        self._stopping = True
        self.queue.put(None)
        self.thread.join()

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            self._stopping = True
            raise error

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                if self._stopping or self.error is not None:
                    continue  # drop the rest after an error or an abort
                try:
                    self._copy(*item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                    self.error = exc
            finally:
                self.queue.task_done()

    def _copy(self, data: bytes, rows: int) -> None:
        table = Sample._meta.db_table
        with self.conn.cursor() as cursor:
            cursor.execute("SAVEPOINT metrics_copy")
            try:
                with cursor.copy(
                    f"COPY {table} (series_id, ts, value) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.write(data)
            except UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT metrics_copy")
                cursor.execute("RELEASE SAVEPOINT metrics_copy")
                self._copy_staged(cursor, data)
                return
            cursor.execute("RELEASE SAVEPOINT metrics_copy")
        self.stored += rows

    def _copy_staged(self, cursor: Any, data: bytes) -> None:
        table = Sample._meta.db_table
        if not self._staging_ready:
            # ON COMMIT DROP cleans up after a failure too; close() drops it
            # explicitly for jobs that share one outer transaction (tests, a
            # caller's atomic block).
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} "
                "(series_id bigint, ts timestamptz, value double precision) "
                "ON COMMIT DROP"
            )
            self._staging_ready = True
        cursor.execute(f"TRUNCATE {_STAGING}")
        with cursor.copy(
            f"COPY {_STAGING} (series_id, ts, value) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(data)
        cursor.execute(
            f"INSERT INTO {table} (series_id, ts, value) "  # noqa: S608
            f"SELECT series_id, ts, value FROM {_STAGING} ON CONFLICT DO NOTHING"
        )
        self.stored += max(cursor.rowcount, 0)
