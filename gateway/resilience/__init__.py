"""What keeps a source's calls within what its backend can take: retries with backoff
(retry), a circuit breaker (breaker), the rate budget shared by every replica (budget), and
identical calls made once (coalesce)."""
