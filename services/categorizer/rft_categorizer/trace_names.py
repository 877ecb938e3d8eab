"""Names for topics of agent traces, from what the traces say rather than from the user's words.

A user turn of an agent trace is often a reply inside a task ("yes, go ahead", "my id is
...") whose words name nothing; what the agent did next does. The reference continuation holds
the tool the agent called for that turn (``cancel_reservation``), and the system prompt says
which agent it is (an airline's, a drone controller's): a topic whose prompts mostly lead to one
tool is named for that tool, and a parent topic whose prompts share a system prompt that other
parents lack is named for a phrase of that system prompt.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rft_categorizer.keyphrases import Embed, cluster_keyphrases, phrase_runs
from rft_categorizer.keywords import snake_case
from rft_categorizer.labeling import TopicLabel
from rft_schemas.traces import SanitizedPrompt

MIN_SHARE = 0.5
"""A tool or a domain phrase names a topic only where at least half of its prompts share it."""


@dataclass(frozen=True)
class TraceHints:
    tools: tuple[str, ...]
    """The tools the first assistant turn of the reference continuation calls, in order."""
    system: str
    """The prompt's system message ("" when it has none)."""


def trace_hints(prompt: SanitizedPrompt) -> TraceHints:
    tools: tuple[str, ...] = ()
    for message in prompt.reference:
        if message.role == "assistant":
            tools = tuple(call.function.name for call in message.tool_calls or [])
            break
    system = "\n".join(m.text() for m in prompt.messages if m.role in ("system", "developer"))
    return TraceHints(tools=tools, system=system)


def tool_label(hints: Sequence[TraceHints | None]) -> TopicLabel | None:
    """The tool most of the topic's prompts lead to, or None when no tool holds half of them."""
    first_tools = Counter(h.tools[0] for h in hints if h is not None and h.tools)
    if not first_tools or not hints:
        return None
    tool, count = first_tools.most_common(1)[0]
    name = snake_case(tool)
    if not name or count / len(hints) < MIN_SHARE:
        return None
    return TopicLabel(
        name=name,
        description=f"Requests the agent answers by calling {tool} ({count} of {len(hints)}).",
        from_llm=False,
    )


def role_statement(system: str) -> str:
    """The system prompt's first sentence or heading: where it says what the agent is ("You are
    an intelligent AI that controls a drone.", "# Airline Agent Policy"); the rules after it
    ("call the reject_request function") are shared by agents of every domain."""
    for piece in re.split(r"(?<=[.!?])\s+|\n+", system):
        text = piece.strip().lstrip("#").strip()
        if text:
            return text
    return ""


def domain_labels(
    hints: Mapping[int, Sequence[TraceHints | None]], embed: Embed | None = None
) -> dict[int, TopicLabel]:
    """Per topic, a label from the keyphrase of its system prompts' role statements (distinctive
    against the other topics', ranked by ``embed`` as for prompts), where most of its prompts'
    system prompts hold that phrase."""
    systems = {c: [role_statement(h.system) for h in group if h is not None and h.system]
               for c, group in hints.items()}
    systems = {c: texts for c, texts in systems.items() if texts}
    if len(systems) < 2 or len({t for texts in systems.values() for t in texts}) < 2:
        return {}  # one agent's traces only: the system prompt tells no topic from another
    centroids = {}
    if embed is not None:
        for c, texts in systems.items():
            distinct = sorted(set(texts))
            centroids[c] = embed(distinct).mean(axis=0)
    phrases = cluster_keyphrases(systems, centroids, embed, top_n=3)
    labels: dict[int, TopicLabel] = {}
    for c, found in phrases.items():
        for phrase in found:
            holders = sum(1 for t in systems[c] if phrase in phrase_runs(t, 3))
            if holders / max(len(hints[c]), 1) >= MIN_SHARE:
                labels[c] = TopicLabel(
                    name=snake_case(phrase),
                    description=f"Prompts to the agent whose system prompt speaks of {phrase}.",
                    from_llm=False,
                )
                break
    return labels
