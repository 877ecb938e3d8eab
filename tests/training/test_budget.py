"""Defaults fit the machine: a small budget on a CPU, an epoch on a GPU; the user's word wins."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rft_schemas import AdapterKind, TrainingHyperparameters
from rft_trainer_gateway.budget import default_budget


def test_a_cpu_gets_a_small_fixed_budget_and_says_why(monkeypatch):
    monkeypatch.delenv("RFT_TRAIN_MAX_STEPS", raising=False)
    budget = default_budget("cpu", {})
    hp = budget.hyperparameters
    assert hp.max_steps == 40 and hp.completions_per_step == 8
    assert hp.adapter is AdapterKind.FULL
    assert "CPU budget" in budget.reason and "30 minutes" in budget.reason
    # the half hour holds whatever the prompts' length: the clock stops a slower run
    assert hp.wall_clock_budget_s == 1800


def test_a_gpu_has_no_clock_and_the_users_clock_wins(monkeypatch):
    monkeypatch.delenv("RFT_TRAIN_MAX_STEPS", raising=False)
    assert default_budget("cuda", {}).hyperparameters.wall_clock_budget_s is None
    monkeypatch.setenv("RFT_TRAIN_WALL_CLOCK_BUDGET_S", "600")
    assert default_budget("cpu", {}).hyperparameters.wall_clock_budget_s == 600


def test_a_gpu_gets_an_epoch(monkeypatch):
    monkeypatch.delenv("RFT_TRAIN_MAX_STEPS", raising=False)
    hp = default_budget("cuda", {}).hyperparameters
    assert hp.max_steps is None and hp.epochs == 1.0 and hp.adapter is AdapterKind.LORA


def test_flags_win_over_settings_which_win_over_defaults(monkeypatch):
    monkeypatch.setenv("RFT_TRAIN_MAX_STEPS", "3")
    monkeypatch.setenv("RFT_TRAIN_SAMPLES_PER_PROMPT", "2")
    budget = default_budget("cpu", {"max_steps": 5, "learning_rate": None})
    assert budget.hyperparameters.max_steps == 5
    assert budget.hyperparameters.samples_per_prompt == 2
    assert "set by you: max_steps, samples_per_prompt" in budget.reason


def test_k_below_two_and_a_batch_not_divisible_by_k_are_refused():
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        TrainingHyperparameters(samples_per_prompt=1)
    with pytest.raises(ValidationError, match="not divisible by samples_per_prompt 4"):
        TrainingHyperparameters(samples_per_prompt=4, batch_size=6)
    assert TrainingHyperparameters(samples_per_prompt=4, batch_size=8).step_prompts == 2
