"""Helpers of the accessibility tests: axe-core in the page, focus and live-region probes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).with_name("vendor") / "axe-4.14.1.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

_RUN_AXE = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + (n.failureSummary || "").replace(/\\s+/g, " ")),
  }));
}"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """WCAG 2.1 A/AA violations axe-core finds in the page as it is now (the context must bypass CSP)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(_RUN_AXE, WCAG_21_AA)


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        lines.extend(f"    {node}" for node in v["nodes"])
    return "\n".join(lines)


FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  const inView = r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0
    && r.left < window.innerWidth && r.top < window.innerHeight;
  let hidden = false;
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
    const s = getComputedStyle(n);
    if (s.visibility === "hidden" || s.display === "none" || s.opacity === "0") hidden = true;
  }
  return { html: el.outerHTML.slice(0, 160), visible: inView && !hidden && style.visibility !== "hidden",
           inSidebar: !!el.closest("#sidebar"), isMenu: el.matches("[data-toggle-sidebar]"), id: el.id };
}"""

# Records what the page's live regions are given: each element or text node added to (or text
# changed in) a region that assistive technology reads out, with the region's id.
WATCH_LIVE_REGIONS = """() => {
  window.__announced = [];
  const live = (n) => n && n.nodeType === 1
    && n.closest('[aria-live]:not([aria-live="off"]), [role=log], [role=status], [role=alert]');
  new MutationObserver((records) => {
    for (const r of records) {
      const region = live(r.target.nodeType === 1 ? r.target : r.target.parentElement);
      if (!region) continue;
      if (r.type === "characterData") { window.__announced.push({ region: region.id, text: r.target.data }); continue; }
      for (const n of r.addedNodes) {
        const text = (n.textContent || "").trim();
        if (text) window.__announced.push({ region: region.id, text });
      }
    }
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
}"""


def watch_live_regions(page: Page) -> None:
    page.evaluate(WATCH_LIVE_REGIONS)


def announced(page: Page) -> list[dict[str, str]]:
    return page.evaluate("window.__announced")
