"""The seed's step-E screen ("Generate Synthetic Samples") as text, from a job's progress."""

from __future__ import annotations

from rft_schemas import GenerationJob

WIDTH = 45
BAR = 20


def _line(text: str = "") -> str:
    return f"│ {text[: WIDTH - 4]:<{WIDTH - 4}} │"


def render_generation_screen(job: GenerationJob) -> str:
    rule = "─" * (WIDTH - 2)
    lines = [f"┌{rule}┐", _line("Generate Synthetic Samples"), f"├{rule}┤"]
    lines.append(_line(f"Filling coverage gaps... ({job.status.value})"))
    lines.append(_line())
    for topic in job.topics:
        share = topic.valid_share
        filled = round(share * BAR)
        lines.append(_line(f"{topic.topic}:"))
        lines.append(_line(f"  Target: +{topic.target:,}  Generated: {topic.generated:,}"))
        lines.append(_line(f"  {'█' * filled}{'░' * (BAR - filled)} {share:.0%} valid"))
        if topic.failures:
            top = sorted(topic.failures.items(), key=lambda kv: -kv[1])[:3]
            lines.append(_line("  failed: " + ", ".join(f"{r} {n}" for r, n in top)))
        lines.append(_line())
    lines.append(_line(f"Validation pass rate: {job.pass_rate:.0%}"))
    preview = next((p for t in job.topics for p in t.previews), None)
    if preview:
        lines.append(_line("Preview generated sample:"))
        text = f'"{preview[: WIDTH - 13]}..."' if len(preview) > WIDTH - 10 else f'"{preview}"'
        lines.append(_line(f"┌{'─' * (WIDTH - 6)}┐"))
        lines.append(_line(f"│ {text:<{WIDTH - 8}} │"))
        lines.append(_line(f"└{'─' * (WIDTH - 6)}┘"))
    if job.error:
        lines.append(_line("Error: " + job.error[: WIDTH - 11]))
    lines.append(f"└{rule}┘")
    return "\n".join(lines)
