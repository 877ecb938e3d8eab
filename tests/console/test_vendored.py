"""The front-end files the console ships are the pinned releases, and the pages load only them."""

from __future__ import annotations

import hashlib
import re

from rft_console.rendering import STATIC, TEMPLATES

PINNED = {
    "htmx-2.0.8.min.js": "22283ef68cb7545914f0a88a1bdedc7256a703d1d580c1d255217d0a50d31313",
    "chart-4.5.1.umd.min.js": "48444a82d4edcb5bec0f1965faacdde18d9c17db3063d042abada2f705c9f54a",
}


def test_vendored_files_are_the_pinned_releases() -> None:
    for name, digest in PINNED.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
        assert digest in (STATIC / "VENDORED.md").read_text(), name


def test_templates_load_scripts_from_the_console_only() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        for src in re.findall(r"<script[^>]*\ssrc=\"([^\"]+)\"", text):
            assert src.startswith("/static/"), (template.name, src)
        assert "<script>" not in text, f"{template.name}: an inline script (the CSP refuses it)"
        assert " style=" not in text, f"{template.name}: an inline style (the CSP refuses it)"
