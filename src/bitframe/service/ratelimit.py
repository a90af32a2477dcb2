"""Throttling of failed sign-in attempts, in memory of bounded size.

Every failed authentication (a token that is unknown, rotated or revoked, on ``/login`` or
as an API bearer token) takes one unit from a token bucket of the client's address
(Turner 1986's leaky bucket as a meter: ``burst`` failures at once, then one per
``1 / refill_per_s`` seconds). While a client's bucket is empty every authentication it
attempts is refused with 429 and ``Retry-After``, *before* the token is looked at, so an
attacker learns nothing from the refused guesses. Successful requests cost nothing: 50
enrolment clients behind one address are never slowed down by their own traffic.

There is no per-account bucket because there is nothing to key it on: the credential is
a 256-bit random token, not a name plus a guessable password, so a failed attempt names
no account (OWASP Authentication Cheat Sheet: account lockout protects guessable
passwords; here it would only let anyone lock out a user). The bucket protects the
service (CPU, log noise) and makes even a hopeless search visibly refused and audited.

Memory is bounded by ``max_clients``: the table is ordered by last failure, and a client
whose bucket has refilled completely is indistinguishable from one never seen, so such
entries are dropped first. If the table is full of clients that are all still draining
(thousands of addresses failing within a refill period: a distributed attack), new
addresses share one *overflow* bucket instead of getting a fresh one each, so spreading a
search over many addresses does not multiply its rate.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: The key under which clients are counted once the table is full.
OVERFLOW = "*overflow*"


@dataclass
class _Bucket:
    tokens: float
    updated: float


class LoginThrottle:
    """Token buckets of failed authentications per client address (see the module docs)."""

    def __init__(self, *, burst: int = 10, refill_per_s: float = 0.2, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or refill_per_s <= 0 or max_clients < 1:
            raise ValueError("burst and max_clients must be at least 1 and refill_per_s positive")
        self.burst = float(burst)
        self.refill_per_s = refill_per_s
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def _level(self, bucket: _Bucket, now: float) -> float:
        return min(self.burst, bucket.tokens + (now - bucket.updated) * self.refill_per_s)

    def _key(self, client: str) -> str:
        return client if client in self._buckets or len(self._buckets) < self.max_clients else OVERFLOW

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None when it may try now."""
        with self._lock:
            bucket = self._buckets.get(self._key(client))
            if bucket is None:
                return None
            level = self._level(bucket, self.clock())
            return None if level >= 1 else (1 - level) / self.refill_per_s

    def failed(self, client: str) -> bool:
        """Count a failed attempt; True when it emptied the bucket (the moment to log, once)."""
        with self._lock:
            now = self.clock()
            self._drop_refilled(now)
            key = self._key(client)
            bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
            level = self._level(bucket, now)
            bucket.tokens, bucket.updated = max(0.0, level - 1), now
            self._buckets[key] = bucket  # most recent failure last
            return level >= 1 > bucket.tokens

    def _drop_refilled(self, now: float) -> None:
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if self._level(oldest, now) < self.burst:
                # The oldest failure is the likeliest to have refilled; looking no further keeps
                # this O(1) per call (a full entry further on is dropped when it comes first).
                return
            self._buckets.popitem(last=False)
