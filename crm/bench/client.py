"""A small HTTP load client: two threads, one connection per request (gunicorn's sync workers close it anyway)."""

from __future__ import annotations

import http.client
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

THREADS = 2
WARM = 6  # requests per side before measuring
BROWSER = {"Accept-Encoding": "br, gzip", "Accept-Language": "fr"}


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    ms: float


def get(port: int, path: str, headers: dict[str, str] | None = None) -> Reply:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={**BROWSER, **(headers or {})})
        response = conn.getresponse()
        body = response.read()
        return Reply(
            response.status,
            body,
            {k.lower(): v for k, v in response.getheaders()},
            (time.perf_counter() - start) * 1000,
        )
    finally:
        conn.close()


@dataclass
class Series:
    """The requests of one side (app or floor) of one page, over every round."""

    times: list[float] = field(default_factory=list)
    wall: float = 0.0  # seconds spent in its batches, for requests per second
    last: Reply | None = None
    errors: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def p95(self) -> float:
        if len(self.times) < 2:
            return self.median
        return statistics.quantiles(self.times, n=20)[18]

    @property
    def rps(self) -> float:
        return len(self.times) / self.wall if self.wall else 0.0


def batch(pool: ThreadPoolExecutor, series: Series, port: int, path: str, n: int, headers=None) -> None:
    start = time.perf_counter()
    replies = list(pool.map(lambda _: get(port, path, headers), range(n)))
    series.wall += time.perf_counter() - start
    for reply in replies:
        if reply.status != 200:
            series.errors += 1
        series.times.append(reply.ms)
        series.last = reply


def interleaved(a: tuple[int, str], b: tuple[int, str], rounds: int, per_round: int, headers_a=None, headers_b=None):
    """A, B, A, B …: both sides see the same moments of a noisy machine, so their ratio holds."""
    first, second = Series(), Series()
    with ThreadPoolExecutor(THREADS) as pool:
        # Warm: a first request pays imports, template compilation, caches, in each worker. Requests sent two at a
        # time reach both of a server's workers; one request warmed only one, and the page measured first then
        # paid the other worker's first request in its figures.
        batch(pool, Series(), *a, WARM, headers_a)
        batch(pool, Series(), *b, WARM, headers_b)
        for _ in range(rounds):
            batch(pool, first, *a, per_round, headers_a)
            batch(pool, second, *b, per_round, headers_b)
    return first, second
