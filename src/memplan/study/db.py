"""The study database: one SQLite file (``memplan study --db study.sqlite``).

Every finished cell is committed as soon as it arrives, so an interrupted study loses
nothing; a rerun skips every cell whose key is already ``ok`` and retries the failed ones.

Schema (version `SCHEMA_VERSION`, in ``meta.schema_version``)::

    meta(key TEXT PRIMARY KEY, value TEXT)        -- schema_version, created_by
    models(hash TEXT PRIMARY KEY, name, size)     -- SHA-256 of the model file, display name, bytes
    devices(hash TEXT PRIMARY KEY, name)          -- SHA-256 of the device TOML ('-': no device)
    settings(key TEXT PRIMARY KEY, json)          -- GridSettings.key -> its fields as JSON
    runs(id INTEGER PRIMARY KEY, started, finished, version, settings_key, backend, workers,
         grid JSON, cells, skipped, done, failed, wall_seconds)
    cells(model_hash, device_hash, dtype, stage, budget, settings_key, version,   -- the key
          model, device, status ('ok' | 'failed'), error,
          arena_bytes, lower_bound_bytes, naive_bytes, weights_bytes, order_method, algorithm,
          fits_device (0/1/NULL), bytes_moved, spilled, est_seconds, placement,
          plan_seconds, place_seconds, worker, run_id, finished_at,
          untiled_bytes, macs_overhead, tiling, note,                  -- version 2: the tiled stage
          PRIMARY KEY (model_hash, device_hash, dtype, stage, budget, settings_key, version))
    pictures(model_hash, dtype, stage, settings_key, version, blob,   -- zlib JSON buffer layout
             PRIMARY KEY (model_hash, dtype, stage, settings_key, version))

``budget`` is 0 for stages that do not depend on it; ``version`` is memplan's. The ``tiled``
stage (`memplan.study.tiled`) fills the version-2 columns: ``untiled_bytes`` (the arena
without tiling), ``macs_overhead`` (extra MACs, 0.07 = 7% more), ``tiling`` (split node and
grid, e.g. ``n46 3x3``; empty when untiled) and ``note`` (why untiled: ``fits untiled``,
``untiled: ...``); other stages leave them NULL / empty. A version-1 file is upgraded in place
when opened for writing (the four columns added, NULL in its old cells) and read as it is
(the columns read as NULL). A file from a newer schema, a file that is not SQLite, or a path that cannot be written is a one-line
`InputError` (exit 2).
"""
from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import time
from typing import Iterable

from ..errors import InputError

SCHEMA_VERSION = 2

_TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS models(hash TEXT PRIMARY KEY, name TEXT, size INTEGER);
CREATE TABLE IF NOT EXISTS devices(hash TEXT PRIMARY KEY, name TEXT);
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, json TEXT);
CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, started REAL, finished REAL, version TEXT,
    settings_key TEXT, backend TEXT, workers INTEGER, grid TEXT, cells INTEGER, skipped INTEGER,
    done INTEGER, failed INTEGER, wall_seconds REAL);
CREATE TABLE IF NOT EXISTS cells(model_hash TEXT, device_hash TEXT, dtype TEXT, stage TEXT, budget INTEGER,
    settings_key TEXT, version TEXT, model TEXT, device TEXT, status TEXT, error TEXT,
    arena_bytes INTEGER, lower_bound_bytes INTEGER, naive_bytes INTEGER, weights_bytes INTEGER,
    order_method TEXT, algorithm TEXT, fits_device INTEGER, bytes_moved INTEGER, spilled INTEGER,
    est_seconds REAL, placement TEXT, plan_seconds REAL, place_seconds REAL, worker TEXT, run_id INTEGER,
    finished_at REAL, untiled_bytes INTEGER, macs_overhead REAL, tiling TEXT, note TEXT,
    PRIMARY KEY (model_hash, device_hash, dtype, stage, budget, settings_key, version));
CREATE TABLE IF NOT EXISTS pictures(model_hash TEXT, dtype TEXT, stage TEXT, settings_key TEXT, version TEXT,
    blob BLOB, PRIMARY KEY (model_hash, dtype, stage, settings_key, version));
"""
KEY = ("model_hash", "device_hash", "dtype", "stage", "budget", "settings_key", "version")
VALUES = ("model", "device", "status", "error", "arena_bytes", "lower_bound_bytes", "naive_bytes", "weights_bytes",
          "order_method", "algorithm", "fits_device", "bytes_moved", "spilled", "est_seconds", "placement",
          "plan_seconds", "place_seconds", "worker", "untiled_bytes", "macs_overhead", "tiling", "note")
# Columns added by each schema version after the first (name, SQL type).
ADDED = {2: (("untiled_bytes", "INTEGER"), ("macs_overhead", "REAL"), ("tiling", "TEXT"), ("note", "TEXT"))}


class StudyDB:
    """A study database opened for writing (``readonly=False``) or reading."""

    def __init__(self, path: str, *, readonly: bool = False):
        self.path = path
        if path != ":memory:":
            _check_path(path, readonly)
        try:
            if readonly:
                self.con = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True)
            else:
                self.con = sqlite3.connect(path)
                self.con.execute("PRAGMA journal_mode=WAL" if path != ":memory:" else "PRAGMA journal_mode=MEMORY")
                self.con.execute("PRAGMA synchronous=NORMAL")
            self.con.row_factory = sqlite3.Row
            self._check_schema(readonly)
        except sqlite3.OperationalError as exc:
            raise InputError(f"{path}: cannot open the study database for {'reading' if readonly else 'writing'} "
                             f"({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{path}: not a memplan study database ({exc})") from None

    def _check_schema(self, readonly: bool) -> None:
        has_meta = self.con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if has_meta:
            row = self.con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise InputError(f"{self.path}: study database schema version {version} is newer than this memplan's "
                                 f"({SCHEMA_VERSION}); upgrade memplan or use another --db")
            if version < 1:
                raise InputError(f"{self.path}: not a memplan study database (no schema version)")
            self.schema_version = version
            if version < SCHEMA_VERSION and not readonly:
                self._upgrade(version)
            return
        tables = self.con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        if tables:
            raise InputError(f"{self.path}: an SQLite file, but not a memplan study database")
        if readonly:
            raise InputError(f"{self.path}: an empty file, not a memplan study database")
        from .. import __version__

        self.schema_version = SCHEMA_VERSION
        with self.con:
            self.con.executescript(_TABLES)
            self.con.execute("INSERT INTO meta VALUES ('schema_version', ?), ('created_by', ?)",
                             (str(SCHEMA_VERSION), f"memplan {__version__}"))

    def _upgrade(self, version: int) -> None:
        """Add the columns of the newer versions to an older file; its cells keep their keys."""
        with self.con:
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for name, kind in ADDED.get(v, ()):
                    self.con.execute(f"ALTER TABLE cells ADD COLUMN {name} {kind}")
            self.con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        self.schema_version = SCHEMA_VERSION

    def _missing_columns(self) -> str:
        """``, NULL AS untiled_bytes, ...`` for the columns a read-only older file lacks."""
        missing = [name for v, cols in ADDED.items() if v > self.schema_version for name, _ in cols]
        return "".join(f", NULL AS {name}" for name in missing)

    def close(self) -> None:
        self.con.close()

    # ------------------------------------------------------------ writing

    def start_run(self, grid, backend: str, workers: int, cells: int, skipped: int) -> int:
        from .. import __version__

        s = grid.settings
        with self.con:
            self.con.execute("INSERT OR IGNORE INTO settings VALUES (?, ?)", (s.key, json.dumps(s.as_dict())))
            self.con.executemany("INSERT OR REPLACE INTO models VALUES (?, ?, ?)",
                                 [(m.hash, m.name, m.size) for m in grid.models])
            self.con.executemany("INSERT OR REPLACE INTO devices VALUES (?, ?)",
                                 [(d.hash, d.name) for d in grid.devices])
            described = {"models": [m.name for m in grid.models], "devices": [d.name for d in grid.devices],
                         "dtypes": list(grid.dtypes), "stages": list(grid.stages), "budgets": list(grid.budgets)}
            cur = self.con.execute("INSERT INTO runs(started, version, settings_key, backend, workers, grid, cells, "
                                   "skipped, done, failed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
                                   (time.time(), __version__, s.key, backend, workers, json.dumps(described), cells,
                                    skipped))
            return int(cur.lastrowid)

    def record(self, result, run_id: int) -> None:
        """One task's cells (and picture), committed at once."""
        now = time.time()
        rows = []
        for c in result.cells:
            values = [getattr(c, v) for v in VALUES]
            values[VALUES.index("fits_device")] = None if c.fits_device is None else int(c.fits_device)
            rows.append((*dataclasses.astuple(c.key), *values, run_id, now))
        columns = KEY + VALUES + ("run_id", "finished_at")
        with self.con:
            self.con.executemany(f"INSERT OR REPLACE INTO cells({', '.join(columns)}) "
                                 f"VALUES ({', '.join('?' * len(columns))})", rows)
            if result.picture:
                t = result.task
                self.con.execute("INSERT OR REPLACE INTO pictures VALUES (?, ?, ?, ?, ?, ?)",
                                 (t.model.hash, t.dtype, t.stage, t.settings.key, t.version, result.picture))
            ok = sum(c.status == "ok" for c in result.cells)
            self.con.execute("UPDATE runs SET done = done + ?, failed = failed + ? WHERE id = ?",
                             (ok, len(result.cells) - ok, run_id))

    def finish_run(self, run_id: int, wall_seconds: float) -> None:
        with self.con:
            self.con.execute("UPDATE runs SET finished = ?, wall_seconds = ? WHERE id = ?",
                             (time.time(), wall_seconds, run_id))

    # ------------------------------------------------------------ reading

    def finished(self, keys: Iterable) -> set:
        """The keys among ``keys`` whose cell is ``ok``."""
        keys = list(keys)
        out = set()
        for i in range(0, len(keys), 100):
            chunk = keys[i:i + 100]
            where = " OR ".join(["(" + " AND ".join(f"{k} = ?" for k in KEY) + ")"] * len(chunk))
            params = [v for key in chunk for v in dataclasses.astuple(key)]
            for row in self.con.execute(f"SELECT {', '.join(KEY)} FROM cells WHERE status = 'ok' AND ({where})",
                                        params):
                out.add(tuple(row))
        return {k for k in keys if dataclasses.astuple(k) in out}

    def last_run(self) -> sqlite3.Row | None:
        return self.con.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()

    def runs(self) -> list[sqlite3.Row]:
        return self.con.execute("SELECT * FROM runs ORDER BY id").fetchall()

    def cells(self, settings_key: str | None = None, version: str | None = None) -> list[sqlite3.Row]:
        """Cells of one settings key and version (default: those of the last run)."""
        if settings_key is None:
            run = self.last_run()
            if run is None:
                return []
            settings_key, version = run["settings_key"], run["version"]
        return self.con.execute(f"SELECT *{self._missing_columns()} FROM cells WHERE settings_key = ? AND version = ? "
                                "ORDER BY model, device, dtype, stage, budget", (settings_key, version)).fetchall()

    def pictures(self, settings_key: str, version: str) -> dict[tuple[str, str], bytes]:
        """(model hash, dtype) -> picture blob."""
        rows = self.con.execute("SELECT model_hash, dtype, blob FROM pictures WHERE settings_key = ? AND version = ?",
                                (settings_key, version))
        return {(r[0], r[1]): r[2] for r in rows}

    def settings(self, key: str) -> dict:
        row = self.con.execute("SELECT json FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else {}


def _check_path(path: str, readonly: bool) -> None:
    """A missing directory, a directory given as the file, or a file/directory we may not write."""
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory; give a file for the study database")
    if readonly:
        if not os.path.exists(path):
            raise InputError(f"{path}: no such study database")
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"{path}: directory {directory} does not exist")
    if os.path.exists(path) and (not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222):
        raise InputError(f"{path}: read-only; the study writes every finished cell there, give a writable --db")
    if not os.access(directory, os.W_OK):
        raise InputError(f"{path}: directory {directory} is read-only; the study database needs a writable place")
