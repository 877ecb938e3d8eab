"""Step B names: keyphrases the prompts use, tools the traces call, the agent's domain."""

from __future__ import annotations

import numpy as np

from rft_categorizer.discovery import discover_topics
from rft_categorizer.keyphrases import cluster_keyphrases, phrase_runs
from rft_categorizer.trace_names import (
    TraceHints,
    domain_labels,
    role_statement,
    tool_label,
    trace_hints,
)
from rft_schemas.traces import SanitizedPrompt
from tests.categorizer.conftest import sanitized


def test_phrase_runs_never_span_a_stop_word():
    assert phrase_runs("When will my new card arrive, please?") == {
        "new", "card", "arrive", "new card", "card arrive", "new card arrive"
    }
    assert "drone follow" not in phrase_runs("You control a delivery drone. Follow commands.")


def test_keyphrase_names_a_group_with_a_phrase_its_members_use(hwu_subset, embed):
    fine = np.asarray(hwu_subset.fine)
    intents = sorted(set(hwu_subset.fine))
    groups = {i: [t for t, f in zip(hwu_subset.texts, fine, strict=True) if f == intent]
              for i, intent in enumerate(intents)}
    centroids = {i: hwu_subset.vectors[fine == intent].mean(axis=0)
                 for i, intent in enumerate(intents)}
    phrases = cluster_keyphrases(groups, centroids, embed)
    named = {intents[i]: found[0] for i, found in phrases.items()}
    assert "alarm" in named["alarm_set"] and "weather" in named["weather_query"]
    assert "taxi" in named["transport_taxi"] or "uber" in named["transport_taxi"]
    for i, found in phrases.items():
        assert 1 <= len(found) <= 3 and len(set(found)) == len(found)
        # the name is the group's own wording: at least two of its prompts say it
        assert sum(found[0] in " ".join(phrase_runs(t)) for t in groups[i]) >= 2


async def test_leaves_of_agent_traces_are_named_for_the_tool_their_reference_calls(hwu_subset):
    tool_of = {"alarm_set": "set_alarm", "takeaway_order": "place_food_order"}
    hints = [TraceHints(tools=(tool_of[f],) if f in tool_of else (), system="")
             for f in hwu_subset.fine]
    found = await discover_topics("hwu", hwu_subset.texts, hwu_subset.vectors, hints=hints)
    for intent, tool in tool_of.items():
        rows = [i for i, f in enumerate(hwu_subset.fine) if f == intent]
        leaf_names = {found.paths[i][-1] for i in rows}
        majority = max(leaf_names, key=lambda n: sum(found.paths[i][-1] == n for i in rows))
        assert majority == tool
    # leaves whose prompts call no tool keep names from their own words
    assert "set_alarm" not in {found.paths[i][-1] for i, f in enumerate(hwu_subset.fine)
                               if f == "weather_query"}


def test_a_tool_names_a_topic_only_where_half_its_prompts_call_it():
    calls = [TraceHints(("cancel_reservation",), "")] * 3 + [TraceHints((), "")] * 2
    label = tool_label(calls)
    assert label is not None and label.name == "cancel_reservation"
    assert "3 of 5" in label.description
    assert tool_label([TraceHints(("search",), "")] + [TraceHints((), "")] * 2) is None


def test_parents_are_named_for_the_system_prompt_phrase_that_sets_them_apart(embed):
    airline = "You are an airline customer service agent. Help users book flights."
    drone = "You control a delivery drone. Follow the pilot's commands."
    hints = {
        0: [TraceHints((), airline)] * 4,
        1: [TraceHints((), drone)] * 4,
    }
    labels = domain_labels(hints, embed)
    assert "airline" in labels[0].name and "drone" in labels[1].name
    # one agent's traces only: the system prompt tells no topic apart
    assert domain_labels({0: [TraceHints((), airline)] * 2, 1: [TraceHints((), airline)]}) == {}


def test_trace_hints_read_the_first_reference_tool_call_and_the_system_prompt():
    prompt = SanitizedPrompt.model_validate(
        sanitized("p1", "cancel my flight please").model_dump()
        | {
            "messages": [
                {"role": "system", "content": "You are an airline agent."},
                {"role": "user", "content": "cancel my flight please"},
            ],
            "reference": [
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "function": {"name": "get_reservation", "arguments": "{}"}},
                    {"id": "c2", "function": {"name": "cancel_reservation", "arguments": "{}"}},
                ]},
                {"role": "tool", "content": "ok", "tool_call_id": "c1"},
            ],
        }
    )
    hints = trace_hints(prompt)
    assert hints.tools == ("get_reservation", "cancel_reservation")
    assert hints.system == "You are an airline agent."


def test_the_domain_comes_from_the_system_prompts_role_statement_not_its_rules():
    assert role_statement(
        "You are an intelligent AI that controls a drone. Given a command,\\ncall one of your "
        "functions. If it cannot be done, call the reject_request function."
    ) == "You are an intelligent AI that controls a drone."
    assert role_statement("# Airline Agent Policy\n\nThe current time is 2024-05-15.") == (
        "Airline Agent Policy"
    )
