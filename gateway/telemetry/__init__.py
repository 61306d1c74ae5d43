"""What operators see of the gateway: metrics, traces, request ids and logs.

Hooks sit at two seams only: an ASGI middleware around the app (one server span, one
request count per request) and a decorator around each source's exchange (one client
span, one backend count per HTTP call).
"""
