"""The databases of live servers: SQLite files by default, fresh PostgreSQL databases with DATABASE_URL."""

import os
import time

import pytest

from lms.liveserver import LiveDatabase, ScratchDatabase

ON_POSTGRES = LiveDatabase(".").is_postgres


def test_without_a_postgresql_url_the_server_gets_a_sqlite_file(tmp_path):
    with LiveDatabase(tmp_path, base_url="") as db:
        env = db.env({"X": "1"})
    assert not db.is_postgres and db.url is None
    assert "DATABASE_URL" not in env and env["LMS_VAR_DIR"] == str(tmp_path) and env["X"] == "1"


@pytest.mark.skipif(not ON_POSTGRES, reason="DATABASE_URL does not name PostgreSQL")
def test_each_live_database_is_fresh_and_dropped_and_old_leftovers_go(tmp_path):
    import psycopg

    pg = LiveDatabase(tmp_path)._pg

    def databases():
        with pg._maintenance() as conn:
            return {name for (name,) in conn.execute("SELECT datname FROM pg_database")}

    now = int(time.time())
    crashed, running = f"lms_e2e_{now - 2 * 86400}_00000000", f"lms_e2e_{now - 3600}_00000001"
    with pg._maintenance() as conn:
        for name in (crashed, running):
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with LiveDatabase(tmp_path) as db:
            assert db.env()["DATABASE_URL"] == db.url and db.url.endswith("/" + db.name)
            assert db.name != os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
            present = databases()
            assert db.name in present
            assert crashed not in present  # left by a run more than a day ago
            assert running in present  # maybe another run's, still going
            with psycopg.connect(db.url) as conn:
                assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
        assert db.name not in databases()
        with ScratchDatabase(os.environ["DATABASE_URL"]) as url:  # the benchmarks' throw-away database
            assert url.rsplit("/", 1)[-1] in databases()
        assert url.rsplit("/", 1)[-1] not in databases()
    finally:
        with pg._maintenance() as conn:
            for name in (crashed, running):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rows(db, sql):
    if db.is_postgres:
        import psycopg

        with psycopg.connect(db.url) as conn:
            return conn.execute(sql).fetchall()
    import sqlite3

    with sqlite3.connect(db.var_dir / "db.sqlite3") as conn:
        return conn.execute(sql).fetchall()


def test_a_second_preparation_copies_the_first_and_is_independent_of_it(tmp_path):
    """The first prepared database of a kind is kept as a template; later ones are copies of it, not shared."""
    from lms import liveserver

    migrations = "SELECT app, name FROM django_migrations ORDER BY app, name"
    with LiveDatabase(tmp_path / "a") as a, LiveDatabase(tmp_path / "b") as b:
        a.prepare(demo=False)
        assert (a.is_postgres, False) in liveserver._TEMPLATES
        b.prepare(demo=False)
        applied = _rows(a, migrations)
        assert applied and _rows(b, migrations) == applied  # every migration, as a fresh migrate leaves it
        assert ("exams", "0001_initial") in applied
        if a.is_postgres:
            import psycopg

            with psycopg.connect(a.url) as conn:
                conn.execute("DELETE FROM django_migrations WHERE app = 'exams'")
        else:
            import sqlite3

            with sqlite3.connect(a.var_dir / "db.sqlite3") as conn:
                conn.execute("DELETE FROM django_migrations WHERE app = 'exams'")
        assert ("exams", "0001_initial") not in _rows(a, migrations)
        assert _rows(b, migrations) == applied  # b is a copy, not the same database


def test_servers_whose_test_run_was_killed_are_stopped_by_the_next_run(tmp_path, monkeypatch):
    """A run killed with SIGKILL cannot stop the servers it started in their own sessions: the next
    LiveServer's start stops the groups whose owner is gone, and only those."""
    import signal
    import subprocess
    import sys

    from lms import liveserver

    # The owner's records go where its TMPDIR says (tempfile.gettempdir()): a folder of this test.
    groups = tmp_path / f"lms-liveserver-{os.getuid()}"
    monkeypatch.setattr(liveserver, "GROUPS_DIR", groups)
    owner_code = ("import subprocess, time; from lms.liveserver import register_group\n"
                  "p = subprocess.Popen(['sleep', '300'], start_new_session=True); register_group(p.pid)\n"
                  "print(p.pid, flush=True); time.sleep(300)")
    owner = subprocess.Popen([sys.executable, "-c", owner_code], cwd=liveserver.ROOT, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    server_pid = None
    try:
        server_pid = int(owner.stdout.readline())
        assert [p.name for p in groups.iterdir()] == [str(server_pid)]
        assert liveserver.reap_orphans() == []  # its owner runs: left alone
        os.kill(server_pid, 0)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        assert liveserver.reap_orphans() == [server_pid]
        assert liveserver.wait_group(server_pid, timeout_s=5)
        assert not list(groups.iterdir()) and liveserver.reap_orphans() == []
    finally:
        owner.kill()
        if server_pid is not None:
            try:
                os.killpg(server_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
