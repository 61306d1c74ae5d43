"""Zaveit API choices its public docs leave open (docs/backends.md), kept in one place.

The client and the simulator both read these, so a correction is made once.
"""

#: Newest first on the detailed order list.
LIST_SORT = "-created"
#: The list's paging block: ``{"orders": [...], "pagination": {page, perPage, total, pages}}``.
PAGINATION_KEY = "pagination"
#: Filter the order list by customer account.
ACCOUNT_FILTER = "~filter[account]"
#: Account search by email: GET /v1/account?~search=<email> → {"accounts": [...], pagination}.
ACCOUNT_SEARCH_PATH = "/v1/account"
#: The largest page the list serves.
MAX_PER_PAGE = 100
#: Error body: {"code": "...", "message": "..."}.
