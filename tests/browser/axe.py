"""axe-core in the browser tests: `assert_no_violations(page)` runs every default axe rule
(WCAG 2 A/AA and best practices) on the page as it is now.

axe is evaluated through the browser's debugging protocol, which the page's strict CSP
does not govern, so the CSP stays exactly as production serves it."""

from functools import lru_cache
from pathlib import Path

from tests.support.npm import ensure_installed

AXE_DIR = Path(__file__).resolve().parents[1] / "support" / "axe"


@lru_cache(maxsize=1)
def _axe_source():
    return (ensure_installed(AXE_DIR) / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


def violations(page):
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result]


def assert_no_violations(page, where=""):
    found = violations(page)
    assert not found, f"axe-core violations on {where or page.url}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in found)
