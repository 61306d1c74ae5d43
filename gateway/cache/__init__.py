"""Sharing between requests, processes and replicas: the entity cache, coalesced calls and
one rate budget per source. Everything here is used from one seam, sources/http.py."""
