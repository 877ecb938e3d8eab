"""The dry run scores the base model as training will sample it: with ``tool_choice`` set to
"required", every rollout of a prompt that offers tools asks the endpoint for a call (the local
server prefills one, vLLM constrains decoding), and a prompt without tools is asked as before."""

from __future__ import annotations

import json

import httpx

from rft_grader.dryrun.prompts import DryRunPrompt
from rft_grader.dryrun.rollouts import roll_out, rollout_requests
from rft_runtime.llm.client import LLMClient
from rft_schemas.conversation import Message, ToolSpec

LAND = ToolSpec.model_validate({"type": "function", "function": {
    "name": "land_drone", "parameters": {"type": "object", "properties": {}}}})


def prompts() -> list[DryRunPrompt]:
    ask = [Message(role="user", content="Land here.")]
    return [DryRunPrompt("with-tools", "all", ask, [LAND], {}),
            DryRunPrompt("no-tools", "all", ask, None, {})]


async def sent_tool_choices(tool_choice: str) -> dict[str, object]:
    seen: dict[str, object] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen["with-tools" if body.get("tools") else "no-tools"] = body.get("tool_choice")
        return httpx.Response(200, json={
            "id": "c", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                         "finish_reason": "stop"}]})

    client = LLMClient(base_url="http://llm.test/v1", transport=httpx.MockTransport(answer))
    requests = rollout_requests("job", prompts(), k=1, model="m", grader={}, max_tokens=8,
                                temperature=1.0, seed=0, tool_choice=tool_choice)
    for request in requests:
        await roll_out(client, request)
    return seen


async def test_required_asks_for_a_call_only_where_tools_are_offered() -> None:
    assert await sent_tool_choices("required") == {"with-tools": "required", "no-tools": None}


async def test_auto_sends_no_tool_choice_as_before() -> None:
    assert await sent_tool_choices("auto") == {"with-tools": None, "no-tools": None}
