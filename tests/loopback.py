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
def serving(services: Sequence[Service], name: str) -> Iterator[None]:
    """Run ``services`` in a thread until the block ends; fail the test if they never start."""
    servers = make_servers(services, access_log=False)
    thread = threading.Thread(target=lambda: asyncio.run(serve(services, servers)),
                              name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not all(s.started for s in servers):
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"{name} did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(timeout=15)
        for service in services:
            service.sock.close()


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
