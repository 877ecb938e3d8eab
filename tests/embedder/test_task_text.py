"""Which text names a prompt's task, by setting."""

from __future__ import annotations

from rft_embedder import TaskTextSource, task_text
from rft_schemas import SanitizedPrompt


def test_default_task_text_is_the_last_user_turn(toy_prompts: list[SanitizedPrompt]) -> None:
    tennis = toy_prompts[1]
    assert task_text(tennis, TaskTextSource.LAST_USER_TURN) == "I don't even know how to play golf."


def test_all_user_turns_joins_them_in_order(toy_prompts: list[SanitizedPrompt]) -> None:
    tennis = toy_prompts[1]
    assert task_text(tennis, TaskTextSource.ALL_USER_TURNS) == (
        "I lost my tennis match today.\nBut I trained so hard!\n"
        "I'm going to switch to golf.\nI don't even know how to play golf."
    )


def test_system_and_tools_names_the_system_prompt_and_every_tool(
    drone_prompts: list[SanitizedPrompt],
) -> None:
    text = task_text(drone_prompts[0], TaskTextSource.SYSTEM_AND_TOOLS)
    assert text.startswith("You are an intelligent AI that controls a drone.")
    assert "tools: takeoff_drone, land_drone, control_drone_movement" in text


def test_system_and_tools_falls_back_to_the_user_turn_when_there_are_neither(
    toy_prompts: list[SanitizedPrompt],
) -> None:
    prompt = toy_prompts[0].model_copy(
        update={"messages": [m for m in toy_prompts[0].messages if m.role == "user"]}
    )
    assert task_text(prompt, TaskTextSource.SYSTEM_AND_TOOLS) == "I fell off my bike today."


def test_task_text_is_cut_to_the_character_limit(drone_prompts: list[SanitizedPrompt]) -> None:
    assert len(task_text(drone_prompts[0], TaskTextSource.SYSTEM_AND_TOOLS, max_chars=40)) == 40


def test_toy_file_record_without_user_turn_yields_no_prompt(
    toy_prompts: list[SanitizedPrompt],
) -> None:
    # The real file has 5 records, one without any user turn.
    assert len(toy_prompts) == 4
