"""Accessibility checks shared by the browser tests: axe-core and tap-target sizes."""

from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def assert_no_axe_violations(page, label: str):
    """Run axe-core in the page (every rule, WCAG 2.1 AA included) and fail with what it found."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary),
        }))"""
    )
    assert violations == [], f"axe found problems on {label}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in violations
    )


def tap_targets_smaller_than(page, minimum: int = 44) -> list[str]:
    """Visible controls smaller than minimum×minimum px (a checkbox counts with its label).

    A word of a sentence that opens its glossary meaning (button.term) is left out: WCAG 2.5.8
    exempts targets inside a line of text, whose size the sentence sets.
    """
    return page.evaluate(
        """(minimum) => {
            const small = [];
            for (const node of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
                const target = (node.type === 'checkbox' || node.type === 'radio') && node.closest('label') ? node.closest('label') : node;
                const box = target.getBoundingClientRect();
                const style = getComputedStyle(target);
                if (!box.width || !box.height || style.visibility === 'hidden') continue;  // not shown
                if (box.bottom < 0) continue;  // the skip link, until it is focused
                if (node.matches('button.term')) continue;  // a word in a sentence
                if (box.width < minimum || box.height < minimum) {
                    small.push(`${target.tagName.toLowerCase()} "${(target.textContent || target.name || '').trim().slice(0, 30)}" ${Math.round(box.width)}x${Math.round(box.height)}`);
                }
            }
            return small;
        }""",
        minimum,
    )
