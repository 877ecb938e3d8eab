"""The seed's step-F screen ("Final Dataset Distribution") as text, from a split manifest."""

from __future__ import annotations

from rft_schemas import SplitManifest

MIN_WIDTH = 45
MIN_NAME = 16


def render_split_screen(manifest: SplitManifest, fixed_below: float = 0.5) -> str:
    """Before/after shares per topic, sources, totals and the split; a topic whose share grew
    from under ``fixed_below`` of the mean share to at least it is marked ``✓ Fixed``."""
    after: dict[str, int] = {}
    for split in manifest.counts.values():
        for topic, n in split.items():
            after[topic] = after.get(topic, 0) + n
    topics = sorted(set(after) | set(manifest.before), key=lambda t: -after.get(t, 0))
    total_before = sum(manifest.before.values())
    total_after = sum(after.values())
    mean_share = 1 / len(topics) if topics else 0.0
    # Topic paths are shown whole: cut to a fixed width, sibling leaves become indistinct.
    name = max([MIN_NAME, *(len(t) for t in topics)])
    width = max(MIN_WIDTH, name + 33)

    def _line(text: str = "") -> str:
        return f"│ {text[: width - 4]:<{width - 4}} │"

    rule = "─" * (width - 2)
    lines = [f"┌{rule}┐", _line("Final Dataset Distribution"), f"├{rule}┤"]
    lines.append(_line(f"{'':<{name}} Before    After"))
    for topic in topics:
        share_before = manifest.before.get(topic, 0) / total_before if total_before else 0.0
        share_after = after.get(topic, 0) / total_after if total_after else 0.0
        fixed = share_before < fixed_below * mean_share <= share_after
        mark = "  ✓ Fixed" if fixed else ""
        lines.append(_line(f"{topic:<{name}} {share_before:5.1%}  → {share_after:5.1%}{mark}"))
    lines.append(_line())
    growth = (total_after - total_before) / total_before if total_before else 0.0
    lines.append(_line(f"Total: {total_before:,} → {total_after:,} ({growth:+.1%})"))
    origins: dict[str, int] = {}
    for split in manifest.sources.values():
        for origin, n in split.items():
            origins[origin] = origins.get(origin, 0) + n
    for label, origin in (("From traces:", "trace"), ("Synthetic:", "synthetic")):
        n = origins.get(origin, 0)
        share = n / total_after if total_after else 0.0
        lines.append(_line(f"  {label:<14} {n:>7,} ({share:.1%})"))
    lines.append(_line())
    train = sum(manifest.counts.get("train", {}).values())
    valid = sum(manifest.counts.get("valid", {}).values())
    ratio = f"{round(100 * train / total_after)}/{round(100 * valid / total_after)}" if (
        total_after) else "-"
    lines.append(_line(f"Train/Valid Split: {train:,} / {valid:,} ({ratio})"))
    if manifest.leakage_moves:
        lines.append(_line(f"Leakage guard: {len(manifest.leakage_moves)} prompt(s) moved"))
    lines.append(f"└{rule}┘")
    return "\n".join(lines)
