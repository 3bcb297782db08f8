"""Reads a service's Prometheus exposition and holds it to both checkers the metrics docs name: the official
`prometheus_client` text parser and `promtool check metrics` (Debian's `prometheus` package, installed by
scripts/setup.sh), which also lints names, units and help texts."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def checked_exposition(url: str) -> str:
    """The text of GET URL (a /metrics endpoint), after both checkers accepted it; AssertionError otherwise,
    with what the checker said. A missing promtool fails too: the check is part of the test, not optional."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    list(text_string_to_metric_families(text))  # raises ValueError on anything it cannot parse
    promtool = shutil.which("promtool")
    if promtool is None:
        raise AssertionError("promtool not found: run scripts/setup.sh (it installs Debian's prometheus package)")
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    if checked.returncode != 0:
        raise AssertionError(f"promtool check metrics rejected {url} (exit {checked.returncode}): "
                             f"{checked.stdout}{checked.stderr}\n{text}")
    return text


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of an exposition by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found
