"""A real two-node Ray cluster for the tests, kept on loopback and cleaned up whatever happens.

Ray binds its servers to every interface and advertises the machine's address, so the cluster
lives in a network namespace of its own whose only interface is loopback (``ip netns``, root).
Every node is a ``ray start --block`` process in its own process group with its own temp dir;
commands that talk to the cluster (the ``hybench run`` driver) run in the same namespace.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PORT = 6379
BIN = Path(sys.executable).parent
WAIT_SECONDS = 90


def _default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def unavailable_reason() -> str | None:
    """Why this machine cannot host the test cluster, or None."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "the Ray cluster tests need root and iproute2 (a loopback-only network namespace)"
    return None


class Cluster:
    """Head node plus worker nodes in namespace ``ns``; ``env`` is given to every process."""

    def __init__(self, env: dict[str, str]):
        self.ns = f"hybench-ray-{os.getpid()}"
        self.root = Path(tempfile.mkdtemp(prefix="hbray-"))  # short: Ray's socket paths are long
        self.env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
                    **env}
        self.nodes: dict[str, subprocess.Popen] = {}
        self.address = f"127.0.0.1:{PORT}"
        subprocess.run(["ip", "netns", "add", self.ns], check=True, timeout=30)
        self.run(["ip", "link", "set", "lo", "up"], check=True, timeout=30)

    def command(self, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *args]

    def run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(args), env=kwargs.pop("env", self.env), **kwargs)

    def popen(self, args: list[str], **kwargs) -> subprocess.Popen:
        """A process in its own group with SIGINT/SIGTERM at their defaults, as from a terminal
        (a disposition the test process inherited as ignored would otherwise pass on)."""
        return subprocess.Popen(self.command(args), env=kwargs.pop("env", self.env),
                                start_new_session=True, preexec_fn=_default_signals, **kwargs)

    def start_node(self, name: str, cpus: int = 1) -> None:
        """Start a node (the first is the head) and wait until the cluster counts it."""
        temp = self.root / name
        temp.mkdir()
        head = not self.nodes
        args = [str(BIN / "ray"), "start", "--block", f"--num-cpus={cpus}", f"--temp-dir={temp}"]
        args += ([f"--port={PORT}", "--head", "--node-ip-address=127.0.0.1",
                  "--include-dashboard=false", "--disable-usage-stats"] if head
                 else [f"--address={self.address}"])
        log = (self.root / f"{name}.log").open("wb")
        env = {**self.env, "HYBENCH_TEST_NODE": name}
        self.nodes[name] = self.popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        self._wait_for_nodes(len(self.alive()))

    def alive(self) -> list[str]:
        return [name for name, process in self.nodes.items() if process.poll() is None]

    def _wait_for_nodes(self, count: int) -> None:
        probe = ("import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); "
                 "print(sum(n['Alive'] for n in ray.nodes()))")
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            done = self.run([sys.executable, "-c", probe, self.address], capture_output=True,
                            text=True, timeout=60)
            if done.returncode == 0 and done.stdout.strip().splitlines()[-1:] == [str(count)]:
                return
            time.sleep(1)
        raise TimeoutError(f"Ray cluster did not reach {count} nodes in {WAIT_SECONDS} s; "
                           f"logs in {self.root}")

    def kill_node(self, name: str) -> None:
        """SIGKILL every process of the node (its process group), as a crashed machine."""
        process = self.nodes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        """Stop every node this cluster started, then anything left in its namespace."""
        for process in self.nodes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.nodes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        left = subprocess.run(["ip", "netns", "pids", self.ns], capture_output=True, text=True,
                              timeout=30).stdout.split()
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "delete", self.ns], timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)
