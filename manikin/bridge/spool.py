"""The bridge's on-disk spool (SQLite, WAL).

Every frame is written here *before* it is sent and deleted only when the
server acknowledges it, so nothing is lost while the server or the network
is away. The database also keeps:

- ``bridge_id``: a random UUID created once; the server dedups on
  ``(bridge_id, seq)``;
- ``next_seq``: the sequence counter, one per bridge, strictly increasing,
  surviving restarts;
- ``assignment``: the last manikin list the server sent (used when the bridge
  starts while the server is unreachable).

Durability: WAL with ``synchronous=NORMAL``: a crash or kill of the bridge
loses nothing committed; a power cut may lose the last few hundred
milliseconds of frames (it never corrupts the file or reuses a seq that
reached the server, because ``next_seq`` is advanced in the same
transaction and the server's ``acked_seq`` also moves ``next_seq`` forward).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from typing import Any, Optional

log = logging.getLogger("manikin.bridge")

DEFAULT_SPOOL_PATH = os.path.join("~", ".local", "share", "redcross-lms", "bridge-spool.sqlite3")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
    seq INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


class Spool:
    def __init__(self, path: str) -> None:
        self.path = os.path.expanduser(path)
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        bridge_id = self.get_meta("bridge_id")
        if bridge_id is None:
            bridge_id = str(uuid.uuid4())
            self.set_meta("bridge_id", bridge_id)
        self.bridge_id = bridge_id

    # -- meta --------------------------------------------------------------------------

    def get_meta(self, key: str) -> Optional[str]:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO meta(key, value) VALUES(?, ?) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    @property
    def next_seq(self) -> int:
        value = self.get_meta("next_seq")
        return 1 if value is None else int(value)

    # -- frames ------------------------------------------------------------------------

    def append(self, frame: dict[str, Any]) -> int:
        """Assign the next seq to ``frame``, store it, and return the seq."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
                seq = 1 if row is None else int(row[0])
                body = dict(frame)
                body["seq"] = seq
                body.pop("sent_at", None)  # set when (re)sent
                self._db.execute("INSERT INTO frames(seq, body, created_at) VALUES(?, ?, ?)",
                                 (seq, json.dumps(body, separators=(",", ":")), time.time()))
                self._db.execute("INSERT INTO meta(key, value) VALUES('next_seq', ?) "
                                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(seq + 1),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return seq

    def ack(self, seq: int) -> bool:
        """Delete one acknowledged frame; True if it was still spooled."""
        with self._lock:
            cur = self._db.execute("DELETE FROM frames WHERE seq = ?", (int(seq),))
        return cur.rowcount > 0

    def ack_many(self, seqs: list[int]) -> int:
        """Delete acknowledged frames in one transaction; returns how many were still spooled."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.executemany("DELETE FROM frames WHERE seq = ?", [(int(s),) for s in seqs])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return cur.rowcount

    def ack_through(self, seq: int) -> int:
        """Delete every frame with ``seq <= seq`` (server's ``acked_seq``); returns how many.

        Also makes sure the counter never hands out a seq the server already has.
        """
        seq = int(seq)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute("DELETE FROM frames WHERE seq <= ?", (seq,))
                row = self._db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
                nxt = 1 if row is None else int(row[0])
                if seq >= nxt:
                    log.warning("server has seq %d but the spool's counter is at %d: moving it on", seq, nxt)
                    self._db.execute("INSERT INTO meta(key, value) VALUES('next_seq', ?) "
                                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(seq + 1),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return cur.rowcount

    def pending(self, after_seq: int = 0, limit: int = 256) -> list[tuple[int, dict]]:
        """Unacknowledged frames with ``seq > after_seq``, in seq order."""
        with self._lock:
            rows = self._db.execute("SELECT seq, body FROM frames WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (int(after_seq), int(limit))).fetchall()
        return [(seq, json.loads(body)) for seq, body in rows]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
