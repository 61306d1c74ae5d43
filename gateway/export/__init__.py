"""Export for BI tools: one query's top-level list, paged to its end, as CSV or NDJSON.

``document`` checks and rewrites the query (one top-level list; paging through variables),
``flatten`` lays a selection out as columns and rows (pure), ``writers`` encodes them, and
``route`` serves ``/export``: every page is an execution of the same schema as
``/graphql``, so an export and a query never disagree on a value.
"""
