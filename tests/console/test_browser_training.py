"""Steps I and J in a real headless Chromium: a training job followed live through the events
the console relays from the gateway (server-sent, no polling), its results and the deploy gate,
and a second job cancelled from its screen. The gateway runs the stand-in worker
(tests/trainer_gateway/standin_worker.py): the real supervisor and event log, no model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.console.conftest import DATASET, ConsoleErrors
from tests.trainer_gateway.conftest import request_body

HYPERPARAMETERS = {"prompts_per_step": 2, "samples_per_prompt": 2, "max_completion_tokens": 8,
                   "eval_prompts": 2}


async def start_job(gateway_url: str, max_steps: int) -> str:
    """A job as `rft train` or the gateway's journey would queue it (not a console screen)."""
    body = request_body(dataset=DATASET, hyperparameters={**HYPERPARAMETERS,
                                                          "max_steps": max_steps})
    async with httpx.AsyncClient(base_url=gateway_url) as http:
        created = await http.post("/v1/training-jobs", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_training_live_results_and_cancel_in_the_browser(
    page: tuple[Any, ConsoleErrors], training_console_url: str, gateway_url: str,
    artifacts: Path,
) -> None:
    tab, errors = page
    from playwright.async_api import expect

    tab.on("dialog", lambda dialog: dialog.accept())  # the cancel button's confirmation
    short = await start_job(gateway_url, max_steps=4)
    # Open the job from the list as soon as it is queued, and watch it to the end live.
    await tab.goto(f"{training_console_url}/d/{DATASET}/train")
    await tab.get_by_role("link", name=short).click()
    await expect(tab.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    await expect(tab.locator("#job-step")).to_have_text("4")
    await expect(tab.locator("#job-valid")).to_have_text("0.400")
    labels = await tab.evaluate(
        "document.getElementById('reward-chart')._chart.data.datasets.map(d => d.label)"
    )
    assert {"train reward", "valid reward"} <= set(labels)
    points = await tab.evaluate(
        "document.getElementById('reward-chart')._chart.data.datasets[0].data.length"
    )
    assert points == 4, "one point per step, each event once"
    assert await tab.get_by_role("button", name="Cancel training").is_disabled()
    await shot(tab, artifacts, "I-train")

    # J: the comparison and the deploy gate, which holds: its reason is shown.
    await tab.get_by_role("link", name="Results →").click()
    await expect(tab.get_by_role("heading", name=re.compile("J · Results"))).to_be_visible()
    await expect(tab.get_by_text("closed", exact=True)).to_be_visible()
    await tab.get_by_label("Target").select_option("export")
    await tab.get_by_role("button", name="Deploy model").click()
    await expect(tab.locator("#deploy-outcome")).to_contain_text(
        "the change's interval includes zero"
    )
    await shot(tab, artifacts, "J-results")

    # A long job, cancelled from its screen by keyboard while the events stream in.
    long = await start_job(gateway_url, max_steps=200)
    await tab.goto(f"{training_console_url}/d/{DATASET}/train/{long}")
    await expect(tab.locator("#job-status")).to_have_text("running", timeout=30_000)
    await expect(tab.locator("#job-step")).not_to_have_text("0", timeout=30_000)
    await tab.get_by_role("button", name="Cancel training").focus()
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#alerts")).to_contain_text("Cancel requested")
    await expect(tab.locator("#job-status")).to_have_text("cancelled", timeout=30_000)
    await expect(tab.locator("#job-message")).to_contain_text("cancelled at step")
    await shot(tab, artifacts, "I-cancelled")

    assert errors.messages == []


async def shot(page: Any, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
