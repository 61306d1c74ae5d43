"""The loaders, asserted by the keys each batch was called with (real sources, loopback)."""

from __future__ import annotations

import asyncio

from gateway.app import build_sources
from gateway.loaders import Loaders
from tests.conftest import Simulators


async def test_one_batch_per_tick_deduped_and_grouped_by_source(sims: Simulators) -> None:
    sources = build_sources(sims.settings())
    try:
        loaders = Loaders(sources)
        keys = [
            ("eu-shop", "45"),
            ("hl-main", "XPLSw2SVagl12LMDeTmQ"),
            ("eu-shop", "45"),
            ("eu-shop", "100"),
            ("nowhere", "1"),
        ]
        results = await asyncio.gather(
            *(loaders.customers.load(k) for k in keys), return_exceptions=True
        )
        assert loaders.customer_calls == [
            [
                ("eu-shop", "45"),
                ("hl-main", "XPLSw2SVagl12LMDeTmQ"),
                ("eu-shop", "100"),
                ("nowhere", "1"),
            ]
        ]
        assert [getattr(r, "email", None) for r in results[:4]] == [
            "sara.ahmadi@example.ir",
            "anish+11@hoopai.com",
            "sara.ahmadi@example.ir",
            sims.set.data["hamgam"].customers["100"]["email"],
        ]
        assert type(results[4]).__name__ == "NotFound"
        # Hamgam was asked once per distinct customer, HighLevel once.
        assert sorted(e.path for e in sims.log.of("hamgam")) == [
            "/api/customers/100",
            "/api/customers/45",
        ]
        assert len(sims.log.of("highlevel")) == 1
        again = await loaders.customers.load(("eu-shop", "45"))
        assert again is results[0] and len(loaders.customer_calls) == 1  # cached
    finally:
        for source in sources.values():
            await source.aclose()


async def test_naive_loaders_call_once_per_load(sims: Simulators) -> None:
    sources = build_sources(sims.settings())
    try:
        loaders = Loaders(sources, batch=False)
        await asyncio.gather(*(loaders.customers.load(("eu-shop", "45")) for _ in range(3)))
        assert loaders.customer_calls == [[("eu-shop", "45")]] * 3
        # three loads at once are one backend call all the same: the HTTP seam coalesces
        assert len(sims.log.of("hamgam")) == 1
        await loaders.customers.load(("eu-shop", "45"))
        await loaders.customers.load(("eu-shop", "45"))
        assert loaders.customer_calls == [[("eu-shop", "45")]] * 5
        assert len(sims.log.of("hamgam")) == 3  # one after the other: a call each
    finally:
        for source in sources.values():
            await source.aclose()


async def test_a_batch_is_one_iterations_loads_and_the_cache_spans_batches(
    sims: Simulators,
) -> None:
    sources = build_sources(sims.settings())
    try:
        loaders = Loaders(sources)
        first = loaders.customers.load(("eu-shop", "45"))
        await asyncio.sleep(0)  # one loop iteration: that batch has taken its key
        second = loaders.customers.load(("eu-shop", "100"))
        again = loaders.customers.load(("eu-shop", "45"))
        a, b, c = await asyncio.gather(first, second, again)
        assert loaders.customer_calls == [[("eu-shop", "45")], [("eu-shop", "100")]]
        assert c is a and a is not None and a.email == "sara.ahmadi@example.ir"
        assert b is not None and b.email == sims.set.data["hamgam"].customers["100"]["email"]
        assert sorted(e.path for e in sims.log.of("hamgam")) == [
            "/api/customers/100",
            "/api/customers/45",
        ]
    finally:
        for source in sources.values():
            await source.aclose()
