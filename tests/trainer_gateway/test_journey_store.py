"""The journey store on both engines: one journey per dataset, replaced as it changes, and the
unfinished journeys a replica finds again after a restart (its own only)."""

from __future__ import annotations

from rft_runtime.sql import open_sql_store
from rft_schemas import Journey, JourneyRequest, JourneyStatus, StepStatus
from rft_trainer_gateway.journey_store import JourneyStore


def test_a_journey_is_replaced_as_it_changes_and_found_again_by_its_replica(
    sql_store_url: str,
) -> None:
    store = JourneyStore(open_sql_store(sql_store_url))
    assert store.get("drone") is None and store.unfinished("gw-0") == []
    journey = Journey(dataset="drone", request=JourneyRequest(until="H"))
    store.put(journey, "gw-0")
    store.put(Journey(dataset="bank", request=JourneyRequest()), "gw-1")
    journey.step("F").status = StepStatus.DONE
    store.put(journey, "gw-0")
    assert store.get("drone") == journey and store.owner("drone") == "gw-0"
    assert store.unfinished("gw-0") == ["drone"] and store.unfinished("gw-1") == ["bank"]
    journey.status = JourneyStatus.DONE
    store.put(journey, "gw-0")
    assert store.unfinished("gw-0") == []
    reopened = JourneyStore(open_sql_store(sql_store_url))  # the schema is created once
    assert reopened.get("drone") == journey
