"""What the controllers (OSC, MIDI) count and log about the input they receive.

Both keep the same books: named counters for traffic and for what they did, and
rejections per reason, so a performer (or a test) can tell "my controller sends nothing"
from "it sends, and nothing uses it" from "it sends garbage". Rejections are logged at
most once a second per reason, so a faulty cable or a fuzzer cannot bury the one line
that matters.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterable


class RateLimitedLog:
    """At most one log line per key per interval; the next line says how many were held back.

    A fuzzer or a controller stuck sending NaN would otherwise write thousands of lines a
    second and bury the one line that matters.
    """

    def __init__(self, logger: logging.Logger, interval_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, key: str, message: str, level: int = logging.WARNING, exc_info: bool = False) -> bool:
        """Log `message` unless `key` logged less than the interval ago; True when it was written."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            message = f"{message} (+{held} more like this since the last line)"
        self._logger.log(level, message, exc_info=exc_info)
        return True


class ReasonCounters:
    """Thread-safe named counters plus rejections per reason.

    ``snapshot()`` gives every counter, then "rejected" (the total) and "rejected/<reason>"
    for each reason, zeros included, which is what ``/ganloops/stats`` replies with.
    """

    def __init__(self, counters: Iterable[str], reasons: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(counters, 0)
        self._rejected = dict.fromkeys(reasons, 0)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def reject(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self._rejected[reason] += n

    def __getitem__(self, name: str) -> int:
        """A counter, or a rejection count as "rejected/<reason>"."""
        with self._lock:
            if name in self._counts:
                return self._counts[name]
            return self._rejected[name.removeprefix("rejected/")]

    @property
    def rejected(self) -> dict[str, int]:
        """Rejections per reason (every reason, zeros included)."""
        with self._lock:
            return dict(self._rejected)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = dict(self._counts)
            out["rejected"] = sum(self._rejected.values())
            out.update({f"rejected/{reason}": n for reason, n in self._rejected.items()})
            return out
