"""A client's quota as the generic cell rate algorithm (GCRA), in this process.

``per_minute`` requests may come at once; after that one more every ``60 / per_minute``
seconds, so a client that keeps sending is held to ``per_minute`` a minute while one that
was quiet may spend its minute's allowance in a burst. A refused request costs nothing.

Each client is one number, its *theoretical arrival time* (TAT): when its allowance would
be whole again. A request adds one interval to it (from now, if it is in the past) and is
admitted while that lies at most a minute ahead; otherwise the wait is what lies beyond
the minute. Times are whole microseconds, so the same steps in Lua on Redis
(:mod:`gateway.quota.shared`) give the same answers.
"""

from __future__ import annotations

from gateway.clock import Clock

#: The quota's window: requests per minute.
WINDOW_US = 60_000_000

#: Clients this process remembers at most; past it the longest unseen are forgotten (a
#: forgotten client starts with its whole allowance again).
MAX_CLIENTS = 100_000


def interval_us(per_minute: int) -> int:
    """The time one request uses of the allowance (rounded down: never stricter)."""
    return max(1, WINDOW_US // per_minute)


def admit(tat: int, now: int, interval: int) -> tuple[int, int]:
    """``(new TAT, 0)`` when a request at ``now`` is admitted, else ``(tat, µs to wait)``."""
    after = max(tat, now) + interval
    if after - now > WINDOW_US:
        return tat, after - WINDOW_US - now
    return after, 0


class LocalQuota:
    """Every client's TAT in this process, on ``clock`` (injectable for tests)."""

    def __init__(self, clock: Clock, max_clients: int = MAX_CLIENTS) -> None:
        self.clock = clock
        self.max_clients = max_clients
        # insertion order is the order clients were last seen (each take re-inserts)
        self._tat: dict[str, int] = {}

    def now_us(self) -> int:
        return int(self.clock.monotonic() * 1_000_000)

    def take(self, identity: str, per_minute: int) -> float:
        """0.0 when the request is admitted (and counted), else the seconds to wait."""
        now = self.now_us()
        tats = self._tat
        tat, wait = admit(tats.pop(identity, 0), now, interval_us(per_minute))
        if tat > now:
            tats[identity] = tat
        self._forget(now)
        return wait / 1_000_000

    def _forget(self, now: int) -> None:
        """Drops clients from the least recently seen on while their allowance is whole
        again (they are as if never seen), and any past ``max_clients``."""
        tats = self._tat
        while tats:
            oldest = next(iter(tats))
            if tats[oldest] > now and len(tats) <= self.max_clients:
                return
            del tats[oldest]

    def __len__(self) -> int:
        return len(self._tat)
