from __future__ import annotations

import os
from typing import Any

import pytest

pytest_plugins = ["rft_runtime.testing"]

# `make test` runs the suite on two pytest-xdist workers (`-n 2 --dist loadgroup`, Makefile).
# Each worker is its own process with its own session fixtures (broker, PostgreSQL, local LLM
# server: each on a free port, in its own temporary directory).
#
# What runs where is decided on the controller from test ids alone (the scheduler below):
#   * the tests that train the real model on the CPU (TRL GRPO, a full fine-tune of the 135M
#     model in a worker process of several GB) form one unit, run one after another on one
#     worker: two such trainings side by side have been OOM-killed on 24 GiB. A test that
#     starts a real training belongs in this list;
#   * every other test runs with the rest of its module: on one worker, in the order a serial
#     run gives them, and a module-scoped fixture is built once.
# (xdist's own `xdist_group` mark cannot do this here: it renames `item._nodeid`, which pytest 9.2
# no longer reads, so its groups are silently ignored.)
REAL_TRAINING = "real-training"
REAL_TRAINING_TESTS = (
    "tests/cli/test_rft_command.py::test_run_goes_from_traces_through_training_to_results",
    "tests/training/test_train_cli.py",
    "tests/training/test_cancel.py",
    "tests/trainer_gateway/test_real_worker.py",
    "tests/e2e/test_cluster_journey.py",  # the journey's step I trains the real model
)


def schedule_unit(nodeid: str) -> str:
    """The unit a test is scheduled in: the real trainings' group, else its module."""
    for prefix in REAL_TRAINING_TESTS:
        if nodeid == prefix or nodeid.startswith(prefix + "::") or nodeid.startswith(prefix + "["):
            return REAL_TRAINING
    return nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadgroup":
        return None  # xdist's own scheduler for the other --dist modes
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return schedule_unit(nodeid)

    return UnitScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a plain serial run keeps pytest's order
    # The longest unit first (several minutes of training): the other worker takes the rest
    # meanwhile, instead of one worker starting it when the rest is nearly done. Every worker
    # sorts alike, so their collections stay equal (xdist aborts otherwise); the Makefile's
    # --no-loadscope-reorder keeps this order.
    items.sort(key=lambda item: schedule_unit(item.nodeid) != REAL_TRAINING)
