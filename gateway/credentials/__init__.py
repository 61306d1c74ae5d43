"""Backend credentials that renew themselves (docs/backends.md, "Credentials that renew").

A source with a fixed ``token`` has none of this: its Authorization header is fixed on its
connection pool. A source configured with OAuth keys gets a :class:`Credential` that the
HTTP seam asks for a token on every attempt: a kind's ``grant`` module, in its own folder
(``gateway/sources/<kind>/grant.py``), speaks to its token endpoint through ``endpoint``;
``keeper`` modules decide where tokens and rotated refresh tokens live (this process and a
file, or Redis shared by every replica), ``renewing`` puts one renewal at a time around them.
"""
