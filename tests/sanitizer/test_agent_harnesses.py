"""Agent-harness trajectories (mini-swe-agent, SWE-agent), control markers, and the token
bound from the trained model's context window.

The fixtures are synthesized in the exact shapes the harnesses write (read off their
repositories: mini-swe-agent's DefaultAgent.serialize and litellm message dumps, SWE-agent's
Agent.get_trajectory_data); no real trajectories of either ship with the shared data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rft_sanitizer import SanitizerSettings, sanitize_files
from rft_sanitizer.adapters import adapt, detect_format
from rft_sanitizer.bounds import resolve_token_bound
from rft_sanitizer.core import Accepted, Policy, sanitize
from rft_sanitizer.reader import read_traces
from rft_schemas.traces import RawTrace, Rejection, TraceFormat
from tests.sanitizer.chats import SYSTEM, assistant, conversation, user

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini_swe_agent_toolcall.traj.json"
MINI_TEXT = FIXTURES / "mini_swe_agent_text.traj.json"
SWE = FIXTURES / "swe_agent_function_calling.traj"


def _accepted(result: Accepted | Rejection) -> Accepted:
    assert isinstance(result, Accepted), result
    return result


def _one_record(path: Path) -> RawTrace:
    (record,) = list(read_traces(path, "test", 1 << 20))
    assert isinstance(record, RawTrace)
    return record


def test_mini_swe_agent_exit_role_and_extra_fields_are_dropped_and_counted(policy):
    record = json.loads(MINI.read_text())
    assert detect_format(record) is TraceFormat.MINI_SWE_AGENT
    adapted = adapt(record)
    roles = [m.role for m in adapted.conversation.messages]
    assert "exit" not in roles and roles[-1] == "assistant"
    assert adapted.harness["role:exit"] == 1
    assert adapted.harness["message.extra"] == 6  # 3 call turns, 2 outputs, 1 format error
    assert adapted.harness["tool_call.index"] == 3
    assert all(
        "index" not in (c.model_extra or {})
        for m in adapted.conversation.messages
        for c in m.tool_calls or ()
    )
    assert adapted.item_fields["submission"].startswith("diff --git")
    assert adapted.item_fields["exit_status"] == "Submitted"


def test_mini_swe_agent_prompt_is_the_task_and_the_run_is_its_reference(policy):
    result = _accepted(sanitize(_one_record(MINI), policy))
    (prompt,) = result.prompts
    # the format-error feedback is a user turn the harness wrote: the prompt ends on the task
    assert [m.role for m in prompt.messages] == ["system", "user"]
    assert "add() in src/calc.py subtracts" in prompt.messages[-1].text()
    # the submitting call was never answered (the harness stopped on it): it ends the reference
    assert prompt.reference[-1].tool_calls[0].id == "call_a3"
    assert result.harness["role:exit"] == 1
    assert prompt.lineage.format is TraceFormat.MINI_SWE_AGENT


def test_mini_swe_agent_text_based_output_turns_never_end_a_prompt(policy):
    (prompt,) = _accepted(sanitize(_one_record(MINI_TEXT), policy)).prompts
    assert [m.role for m in prompt.messages] == ["system", "user"]
    # command output and the final submission come back as user turns, inside the reference
    assert [m.role for m in prompt.reference] == ["assistant", "user", "assistant", "user"]


def test_mini_swe_agent_runs_saved_before_the_format_version_are_recognized(trace, policy):
    record = json.loads(MINI_TEXT.read_text())
    del record["trajectory_format"], record["info"]["mini_version"]
    assert detect_format(record) is TraceFormat.MINI_SWE_AGENT
    (prompt,) = _accepted(sanitize(trace(record), policy)).prompts
    assert [m.role for m in prompt.messages] == ["system", "user"]


def test_swe_agent_history_is_read_with_tool_call_ids_and_demos(policy):
    record = json.loads(SWE.read_text())
    assert detect_format(record) is TraceFormat.SWE_AGENT
    result = _accepted(sanitize(_one_record(SWE), policy))
    (prompt,) = result.prompts
    assert prompt.lineage.format is TraceFormat.SWE_AGENT
    # the demonstration stays in the prompt (the model saw it) but is not the turn cut at
    assert [m.role for m in prompt.messages] == ["system", "user", "user"]
    assert "We're currently solving the following issue" in prompt.messages[-1].text()
    tool_replies = [m for m in prompt.reference if m.role == "tool"]
    assert [m.tool_call_id for m in tool_replies] == ["call_s1", "call_s2"]
    assert prompt.reference[-1].tool_calls[0].function.name == "submit"
    for name in ("message.thought", "message.action", "message.agent", "message.message_type"):
        assert result.harness[name] > 0
    assert prompt.item_fields["exit_status"] == "submitted"


def test_an_exit_role_in_a_plain_openai_record_is_dropped_not_rejected(trace, policy):
    record = conversation(SYSTEM, user("Fix the failing test in utils.py please"),
                          assistant("Done, the assertion was off by one."))
    record["messages"].append({"role": "exit", "content": "", "extra": {"exit_status": "ok"}})
    result = _accepted(sanitize(trace(record), policy))
    assert result.harness == {"role:exit": 1}


def test_control_markers_never_stay_in_a_prompt(trace, policy):
    record = conversation(
        SYSTEM, user("I need to change my flight to Friday."), assistant("Which reservation?"),
        user("Reservation ABC123 please.###TRANSFER"), assistant("Transferring you now."),
        user("Thanks, you too! ###STOP###"))
    (prompt,) = _accepted(sanitize(trace(record), policy)).prompts
    assert prompt.messages[-1].content == "Reservation ABC123 please."
    assert all("###" not in m.text() for m in prompt.messages + prompt.reference)


def test_the_turn_a_simulator_stopped_on_is_not_a_prompt_end(trace, policy):
    # the agent never acted on the last turn: the trace holds no reply to it
    record = conversation(
        SYSTEM, user("Please cancel reservation ABC123."), assistant("Cancelled."),
        user("Yes, please transfer me to a human agent. Thank you!###STOP###"))
    result = _accepted(sanitize(trace(record), policy))
    (prompt,) = result.prompts
    assert prompt.messages[-1].content == "Please cancel reservation ABC123."
    assert result.harness == {"control_marker": 1}


def test_a_last_user_turn_without_markers_is_still_a_prompt(trace, policy):
    record = conversation(SYSTEM, user("Hi"), assistant("Hello! How can I help?"),
                          user("Book a table for two at 8pm tonight."))
    (prompt,) = _accepted(sanitize(trace(record), policy)).prompts
    assert prompt.messages[-1].content == "Book a table for two at 8pm tonight."


def test_the_report_counts_harness_fields_and_names_the_bound(tmp_path: Path, counter):
    settings = SanitizerSettings(data_dir=tmp_path / "d", context_window=4096,
                                 completion_budget=512)
    report = sanitize_files([MINI, SWE], tmp_path / "out", settings, counter=counter)
    assert report.valid == 2
    assert report.formats == {"mini_swe_agent": 1, "swe_agent": 1}
    assert report.harness_dropped["role:exit"] == 1
    assert report.closing_test == "phrases"  # pinned for these tests (conftest)
    assert report.token_bound is not None
    assert (report.token_bound.max_tokens, report.token_bound.source) == (
        3584, "context_window_setting")
    written = json.loads((tmp_path / "out" / "sanitize_report.json").read_text())
    assert written["token_bound"]["context_window"] == 4096


def test_max_tokens_setting_overrides_the_model_bound(tmp_path: Path):
    settings = SanitizerSettings(data_dir=tmp_path, max_tokens=1000, context_window=4096)
    bound = resolve_token_bound(settings)
    assert (bound.max_tokens, bound.source, bound.detail) == (
        1000, "setting", "RFT_SANITIZER_MAX_TOKENS")


def test_local_model_bound_is_its_context_window_minus_the_completion_budget(tmp_path: Path):
    settings = SanitizerSettings(data_dir=tmp_path, tokenizer_cache=tmp_path / "tok")
    bound = resolve_token_bound(settings)
    # SmolLM2-135M-Instruct: max_position_embeddings (GGUF llama.context_length) 8192; the
    # trainer's default max_completion_tokens is 256
    assert bound.source == "model_config"
    assert (bound.context_window, bound.completion_budget, bound.max_tokens) == (8192, 256, 7936)
    again = resolve_token_bound(settings)  # read once, then kept beside the tokenizer
    assert again == bound


def test_a_tokenizer_path_reads_the_config_beside_it(tmp_path: Path, tokenizer_cache: Path):
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 32768}))
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("{}")
    bound = resolve_token_bound(SanitizerSettings(tokenizer=str(tokenizer)))
    assert (bound.max_tokens, bound.source) == (32768 - 256, "model_config")


def test_a_window_smaller_than_the_budget_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="no room"):
        resolve_token_bound(SanitizerSettings(context_window=200, completion_budget=256))


def test_policy_without_a_bound_keeps_the_explicit_max(counter):
    assert Policy(counter=counter).max_tokens == 8192


def _bag_of_words(texts):
    """A stand-in embedder: closing words on one axis, request words on another."""
    import numpy as np

    closing = {"thanks", "thank", "bye", "appreciate", "great"}
    asking = {"please", "cancel", "book", "change", "need"}
    rows = []
    for text in texts:
        words = {w.strip(".,!").lower() for w in text.split()}
        row = np.array([len(words & closing), len(words & asking), 0.1], dtype=np.float32)
        rows.append(row / np.linalg.norm(row))
    return np.stack(rows)


def test_exemplar_test_needs_every_sentence_to_close():
    from rft_sanitizer.closing_semantic import ExemplarTest

    test = ExemplarTest(_bag_of_words, name="bag", margin=0.0,
                        closing=["thanks bye"], meaningful=["please cancel"])
    assert test("Great, I appreciate it. Thanks!###STOP###")
    assert not test("Please cancel my booking. Thanks!")  # one sentence asks
    assert not test("Great, thanks! Could you book it")  # no question mark: its words ask
    assert not test("Thanks, all good?")  # a question mark is never closing
    assert test("###STOP###")


def test_closing_test_setting_picks_the_phrase_list_or_refuses_a_missing_export(tmp_path):
    from rft_sanitizer.closing import PHRASES
    from rft_sanitizer.closing_semantic import load_closing_test

    assert load_closing_test(SanitizerSettings(closing_test="phrases")) is PHRASES
    missing = SanitizerSettings(closing_test="auto", closing_model_dir=tmp_path)
    assert load_closing_test(missing) is PHRASES  # auto: the cheap path when no model is here
    with pytest.raises(RuntimeError, match="closing_test=embedding"):
        load_closing_test(SanitizerSettings(closing_test="embedding", closing_model_dir=tmp_path))


def test_embedding_closing_test_with_the_embedders_onnx_export(tmp_path):
    from rft_embedder import EmbedderSettings, load_embedder
    from rft_sanitizer.closing import is_closing_turn
    from rft_sanitizer.closing_semantic import load_closing_test

    settings = SanitizerSettings(closing_test="auto")
    test = load_closing_test(settings)
    if not test.name.startswith("embedding"):
        # A new machine has no export until the embedder first runs: have it write one, as
        # the embedder service or `rft run` would, instead of skipping.
        load_embedder(EmbedderSettings(backend="onnx"), data_dir=tmp_path)
        test = load_closing_test(settings)
    assert test.name.startswith("embedding"), test.name
    # closing turns of unseen tau2 airline runs (quoted in issue 15) that the phrase list misses
    for turn in ("Thanks, you too! ###STOP###",
                 "You too! Thanks again for your patience and assistance. ###STOP###"):
        assert test(turn) and not is_closing_turn(turn)
    assert not test("Yes, please change the seat to 14C and charge the card on file.")
