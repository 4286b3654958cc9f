"""Serve apps on real loopback sockets for the length of a test module, and stop them."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
import pytest

from services.cli import Service, make_servers, serve


@contextmanager
def serving(services: Sequence[Service], name: str, *, timeout: float = 30.0) -> Iterator[None]:
    """Run ``services`` as ``gar-testbed up`` does, in a thread, until the block ends.

    Fails the test if they never start (with the reason), and raises what stopped a server
    while the block ran. The services' sockets are closed afterwards.
    """
    servers = make_servers(services, access_log=False)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(serve(services, servers))
        except BaseException as exc:  # reported here, in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not all(s.started for s in servers):
            if failure or not thread.is_alive():
                pytest.fail(f"{name} did not start: {failure[0] if failure else 'thread ended'}")
            if time.monotonic() > deadline:
                pytest.fail(f"{name} did not start within {timeout:.0f} s")
            time.sleep(0.02)
        yield
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(timeout=15)
        for service in services:
            service.sock.close()
    assert not thread.is_alive(), f"{name} did not stop within 15 s"
    if failure:
        raise failure[0]


def free_port() -> int:
    """A loopback port free now, for a process that binds it itself (a command under test)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_answering(process: subprocess.Popen[str], url: str) -> None:
    """Wait until the command ``process`` answers ``url``; fail if it ends or never does."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"{url} never answered")
