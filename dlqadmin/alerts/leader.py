"""Leader election for run_scheduler: a session-level Postgres advisory lock.

The lock lives on a dedicated connection (not Django's). Postgres releases it when that
session ends, which happens at once when the holder's process dies (its socket
closes); for a host that vanishes, TCP keepalives set below end the session within
about 15 s. Followers retry every few seconds, so one of them takes over within
seconds.
"""

import logging
import threading

import psycopg
from django.db import connections

log = logging.getLogger(__name__)
LEADER_LOCK_KEY = 0x646C_7161_0002  # 'dlqa' + 2


class LeaderLock:
    def __init__(self, key=LEADER_LOCK_KEY, alias="default"):
        self.key = key
        self.alias = alias
        self.conn = None
        self.is_leader = False
        self._mutex = threading.Lock()

    def _connect(self):
        params = connections[self.alias].get_connection_params()
        params = {k: v for k, v in params.items() if k not in ("cursor_factory", "context", "server_side_binding")}
        conn = psycopg.connect(**params, autocommit=True, application_name="dlqadmin-scheduler-leader")
        try:
            conn.execute("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3")
        except psycopg.Error:
            pass
        return conn

    def poll(self):
        """Try to become (or confirm we still are) the leader. Returns is_leader."""
        with self._mutex:
            try:
                if self.conn is None or self.conn.closed:
                    self.conn, self.is_leader = self._connect(), False
                if self.is_leader:
                    self.conn.execute("SELECT 1")  # our session (and so the lock) is alive
                else:
                    row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()
                    self.is_leader = bool(row[0])
            except psycopg.Error as exc:
                if self.is_leader:
                    log.warning("lost the leader lock connection: %s", exc)
                self.is_leader = False
                self._close()
            return self.is_leader

    def _close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
        self.conn = None

    def release(self):
        with self._mutex:
            self.is_leader = False
            self._close()
