"""Per-client quotas: requests per minute for each API key, JWT subject and anonymous
address, checked before a request's body is read (gateway.service, for /graphql and /export).

- :mod:`gateway.quota.rate`: the arithmetic (GCRA) and this process's own table;
- :mod:`gateway.quota.shared`: the same in one Lua script on Redis, for every replica;
- :mod:`gateway.quota.clients`: who the caller is, the check and its metric.
"""
