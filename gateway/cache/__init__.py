"""Backend answers kept for their TTL (and served past it when the backend fails), in this
process or in Redis. Used from one seam, sources/http.py; the rate budgets and coalescing it
sits beside are in gateway/resilience/, the Redis connection in gateway/state/."""
