"""List endpoints run a fixed number of queries, whatever the page size (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from passgate.sales import services as sales


def _queries(api, path, **query) -> int:
    with CaptureQueriesContext(connection) as ctx:
        status, page = api.get(path, **query)
    assert status == 200 and page["items"]
    return len(ctx.captured_queries)


@pytest.mark.parametrize("path", ["/tickets", "/orders", "/contacts", "/catalog/contingents",
                                  "/catalog/performances", "/catalog/products", "/tokens"])
def test_list_queries_do_not_grow_with_the_page(api, mine, path):
    api.get("/me")  # the token's first use of the minute writes last_used_at
    few = _queries(api, path, limit=1)
    for _ in range(3):
        order = mine.cat.sell_concert(2, buyer=mine.buyer)
        ticket = order.tickets.first()
        sales.print_ticket(mine.actor, ticket)
        sales.reprint_ticket(mine.actor, ticket)
        sales.create_contact(mine.actor, last_name="More")
    many = _queries(api, path, limit=100)
    assert many == few, (path, few, many)
