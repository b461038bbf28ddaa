"""Real redis-server processes for the tests: a Cluster, a Sentinel setup, TLS.

Each setup starts all of its processes at once and only then waits for them, so
a setup costs about as long as its slowest server. Every server listens on
127.0.0.1 only, keeps nothing on disk (no RDB, no AOF) and is killed at teardown.
Ports come from the caller (the suite's conftest), never a default.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "redis-server"
REDIS_CLI = shutil.which("redis-cli") or "redis-cli"


def wait_until(predicate, timeout: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - still starting up
            last = exc
        time.sleep(step)
    raise TimeoutError(f"timed out waiting for {what} (last error: {last!r})")


@dataclass
class Server:
    """One redis-server (or sentinel) process."""

    port: int
    workdir: Path
    args: list[str] = field(default_factory=list)
    sentinel: bool = False
    proc: subprocess.Popen | None = None

    @property
    def conf(self) -> Path:
        return self.workdir / f"{self.port}.conf"

    def start(self, *extra: str) -> "Server":
        """Start the process; ``extra`` command-line options override the config."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.conf.exists():
            lines = [
                f"port {self.port}", "bind 127.0.0.1", f"dir {self.workdir}",
                'save ""', "appendonly no", "daemonize no",
                f"logfile {self.workdir / f'{self.port}.log'}",
                f"dbfilename dump-{self.port}.rdb",
                # A replica's first sync starts at once instead of after 5 s.
                "repl-diskless-sync-delay 0",
            ]
            self.conf.write_text("\n".join(lines + self.args) + "\n")
        cmd = [REDIS_SERVER, str(self.conf)]
        if self.sentinel:
            cmd.append("--sentinel")
        cmd += extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def client(self, **kw) -> redis.Redis:
        kw.setdefault("socket_timeout", 2)
        kw.setdefault("socket_connect_timeout", 1)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def wait_ready(self, timeout: float = 10, **client_kw) -> None:
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} exited: {self.log_tail()}")
            with self.client(**client_kw) as c:
                return c.ping()

        wait_until(ready, timeout, f"redis-server on port {self.port}")

    def kill(self) -> None:
        """kill -9: no shutdown, no goodbye to replicas or sentinels."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_tail(self, lines: int = 20) -> str:
        log = self.workdir / f"{self.port}.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _stop_all(servers) -> None:
    for s in servers:
        s.stop()


def start_plain(workdir: Path, port: int) -> Server:
    """One plain redis-server, ready."""
    server = Server(port, workdir / str(port)).start()
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


# --- Cluster -------------------------------------------------------------------------


@dataclass
class Cluster:
    """3 masters + 3 replicas made by ``redis-cli --cluster create``."""

    servers: list[Server]

    @property
    def ports(self) -> list[int]:
        return [s.port for s in self.servers]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:3])

    def stop(self) -> None:
        _stop_all(self.servers)


def start_cluster(workdir: Path, ports: list[int]) -> Cluster:
    assert len(ports) == 6, "3 masters + 3 replicas"
    servers = [
        Server(p, workdir / str(p), [
            "cluster-enabled yes", f"cluster-config-file nodes-{p}.conf",
            "cluster-node-timeout 2000", "cluster-require-full-coverage yes",
        ]).start()
        for p in ports
    ]
    try:
        for s in servers:
            s.wait_ready()
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )

        def converged():
            for s in servers:
                with s.client() as c:
                    info = c.cluster("info")
                    if info.get("cluster_state") != "ok" or int(info.get("cluster_known_nodes", 0)) != 6:
                        return False
                    role = c.execute_command("ROLE")
                    if role[0] == b"slave" and role[3] != b"connected":
                        return False
            return True

        wait_until(converged, 30, "the cluster to converge", step=0.1)
    except BaseException:
        _stop_all(servers)
        raise
    return Cluster(servers)


# --- Sentinel --------------------------------------------------------------------------

SENTINEL_SERVICE = "mymaster"


@dataclass
class SentinelSetup:
    """One master, one replica, three sentinels watching them as ``mymaster``."""

    data: list[Server]  # the two redis-servers (either may be master now)
    sentinels: list[Server]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SENTINEL_SERVICE}/0"

    def master_port(self) -> int:
        for s in self.sentinels:
            try:
                with s.client() as c:
                    _, port = c.sentinel_get_master_addr_by_name(SENTINEL_SERVICE)
                    return int(port)
            except redis.RedisError:
                continue
        raise RuntimeError("no sentinel answers")

    def server(self, port: int) -> Server:
        return next(s for s in self.data if s.port == port)

    def master(self) -> Server:
        return self.server(self.master_port())

    def replica(self) -> Server:
        port = self.master_port()
        return next(s for s in self.data if s.port != port)

    def wait_healthy(self, timeout: float = 30, *, strict: bool = False) -> None:
        """Every sentinel names the same master, with no failover in progress, and
        that master streams to its replica. ``strict`` (at start-up): every
        sentinel also knows the replica and the other sentinels (they refresh
        what they know of a replica only every 10 s, so not after a failover)."""

        def healthy():
            ports = set()
            for s in self.sentinels:
                with s.client() as c:
                    m = c.sentinel_master(SENTINEL_SERVICE)
                    if m.get("flags") != "master":
                        return False
                    if strict:
                        if m.get("num-slaves") < 1 or m.get("num-other-sentinels") < len(self.sentinels) - 1:
                            return False
                        replicas = c.sentinel_slaves(SENTINEL_SERVICE)
                        if not any(r.get("flags") == "slave" and r.get("master-link-status") == "ok"
                                   for r in replicas):
                            return False
                    ports.add(int(m["port"]))
            if len(ports) != 1:
                return False
            with self.server(ports.pop()).client() as c:
                info = c.info("replication")
            return info["role"] == "master" and info.get("connected_slaves") == 1 \
                and info["slave0"]["state"] == "online"

        wait_until(healthy, timeout, "the sentinel setup to be healthy", step=0.1)

    def stop(self) -> None:
        _stop_all(self.sentinels + self.data)


def start_sentinel(workdir: Path, master_port: int, replica_port: int,
                   sentinel_ports: list[int]) -> SentinelSetup:
    master = Server(master_port, workdir / str(master_port)).start()
    replica = Server(replica_port, workdir / str(replica_port),
                     [f"replicaof 127.0.0.1 {master_port}"]).start()
    try:
        master.wait_ready()
        replica.wait_ready()

        def replicating():
            with master.client() as c:
                info = c.info("replication")
            return info.get("connected_slaves") == 1 and info["slave0"]["state"] == "online"

        # Sentinels list replicas from the master's INFO: start them once it shows one.
        wait_until(replicating, 15, "the replica to sync")
    except BaseException:
        _stop_all([master, replica])
        raise
    sentinels = [
        Server(p, workdir / str(p), [
            f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {master_port} 2",
            f"sentinel down-after-milliseconds {SENTINEL_SERVICE} 1000",
            f"sentinel failover-timeout {SENTINEL_SERVICE} 4000",
            f"sentinel parallel-syncs {SENTINEL_SERVICE} 1",
        ], sentinel=True).start()
        for p in sentinel_ports
    ]
    setup = SentinelSetup([master, replica], sentinels)
    try:
        for s in setup.data + sentinels:
            s.wait_ready()
        setup.wait_healthy(strict=True)
    except BaseException:
        setup.stop()
        raise
    return setup


# --- TLS -------------------------------------------------------------------------------


@dataclass
class TLSServer:
    server: Server
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA that did not

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        self.server.stop()


def _openssl(*args, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


CERT_DAYS = 3650


def make_certs(d: Path) -> None:
    """ca.crt (+ other-ca.crt, unrelated) and server.crt/key for 127.0.0.1."""
    d.mkdir(parents=True, exist_ok=True)
    # Valid for years: `make test-dates` checks them on a client clock moved years ahead.
    for name in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(CERT_DAYS),
                 "-subj", f"/CN=dlqadmin test {name}", "-keyout", f"{name}.key",
                 "-out", f"{name}.crt", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server.key", "-out", "server.csr", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", str(CERT_DAYS), "-extfile", "san.ext", "-out", "server.crt", cwd=d)


def start_tls(workdir: Path, port: int) -> TLSServer:
    certs = workdir / "certs"
    make_certs(certs)
    server = Server(port, workdir / str(port), [
        "port 0", f"tls-port {port}", f"tls-cert-file {certs / 'server.crt'}",
        f"tls-key-file {certs / 'server.key'}", f"tls-ca-cert-file {certs / 'ca.crt'}",
        "tls-auth-clients no",
    ]).start()
    try:
        server.wait_ready(ssl=True, ssl_ca_certs=str(certs / "ca.crt"))
    except BaseException:
        server.stop()
        raise
    return TLSServer(server, certs / "ca.crt", certs / "other-ca.crt")
