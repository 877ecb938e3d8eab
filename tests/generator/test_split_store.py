"""The generator's split store on both engines: a dataset's split with its rows in order, the
distribution without them, and a new split replacing the old in full."""

from __future__ import annotations

from rft_generator.split_store import SplitStore
from rft_runtime.sql import open_sql_store
from rft_schemas import DatasetSplit, SplitManifest, SplitRequest


def split(train: int, valid: int, seed: int = 0) -> DatasetSplit:
    manifest = SplitManifest(dataset="drone", seed=seed, valid_fraction=0.1,
                             near_duplicate_cosine=0.95,
                             counts={"train": {"a": train}, "valid": {"a": valid}},
                             sources={"train": {"trace": train}, "valid": {"trace": valid}})
    return DatasetSplit(dataset="drone", request=SplitRequest(seed=seed), manifest=manifest,
                        train_rows=train, valid_rows=valid,
                        train=[{"id": f"t{i}", "messages": []} for i in range(train)],
                        valid=[{"id": f"v{i}", "messages": []} for i in range(valid)])


def test_a_split_is_served_with_its_rows_in_order_and_replaced_in_full(
    sql_store_url: str,
) -> None:
    store = SplitStore(open_sql_store(sql_store_url))
    assert store.get("drone") is None
    first = split(12, 3)
    store.put(first)
    stored = store.get("drone")
    assert stored == first
    assert stored is not None and [r["id"] for r in stored.train or []][:3] == ["t0", "t1", "t2"]
    summary = store.get("drone", with_rows=False)
    assert summary is not None and summary.train is None and summary.train_rows == 12
    second = split(2, 1, seed=5)
    store.put(second)
    assert store.get("drone") == second  # no row of the first split is left
