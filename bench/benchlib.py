"""Helpers the benchmarks share: peak memory, free ports, waiting for a server, CPU time.

Bench scripts run as ``python bench/<name>.py``, so this folder is on ``sys.path``.
"""

from __future__ import annotations

import os
import resource
import socket
import time
from collections.abc import Callable
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak RSS of this process image: VmHWM (ru_maxrss survives exec and would
    report the parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, tries: int = 300) -> None:
    """Poll ``url`` every 0.1 s until it answers 2xx-4xx (the server is up)."""
    import httpx

    for _ in range(tries):
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), or NaN."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def closed_loop(
    url: str,
    requests: list[bytes],
    clients: int,
    seconds: float,
    ok: Callable[[bytes, bytes], bool],
) -> tuple[list[float], int, float]:
    """``clients`` keep-alive connections, each sending one request at a time for ``seconds``.

    A minimal HTTP/1.1 client on asyncio streams (httpx's async pool topped out near 250 req/s
    here and would have measured itself, not the server). ``requests`` are whole encoded
    requests, sent round-robin; ``ok(head, body)`` judges each answer. Returns the latencies
    (seconds), the number of bad answers and the elapsed time.
    """
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        i = n
        while time.perf_counter() < stop:
            data = requests[i % len(requests)]
            i += clients
            t0 = time.perf_counter()
            writer.write(data)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not ok(head, payload):
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    return latencies, errors, time.perf_counter() - started
