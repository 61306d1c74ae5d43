"""State shared by the replicas through Redis: the one connection every user of it
(cache, budgets, credentials, quotas, live events) shares, and the sealing of what they keep."""
