"""Look at the pull-request comment as a reviewer does: GitHub's markdown, in a browser.

Builds plans of a few sizes from generated data (`reconciler sim generate`, and
bench/run.py's two-system company), renders each comment with cmark-gfm and
GitHub's extensions (table, strikethrough, autolink, tagfilter), wraps it in a
small GitHub-like stylesheet (written here: nothing is fetched), turns GitHub's
alerts (`> [!WARNING]`) into their boxes as GitHub does after rendering, and
takes a screenshot of each page with headless Chromium:

    apt-get install -y chromium      # Debian's package
    python bench/render_comment.py   # -> bench/out/comments/*.md, *.html, *.png

The screenshots are the whole page (as tall as the comment, up to 16,000 px:
its shape) and its first screens (1000 x 1300 px each, `--slices`: readable). bench/out/ is
not committed. Cases (`--cases`): changes-10, changes-300, changes-5000,
systems-2x5000 (both systems at 5,000 changes each) and people-5000 (a company
of 5,000 people in both systems, 5% changing: the plan of issue 24).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import cmarkgfm
from cmarkgfm.cmark import Options

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package `bench`

from bench.systems_data import build_systems_data
from reconciler import engine
from reconciler.desired import load_desired
from reconciler.journeys import accounts
from reconciler.providers.dealhub.sim_generate import generate_desired, generate_tenant
from reconciler.render import render_plans

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "comments"
EXTENSIONS = ["table", "strikethrough", "autolink", "tagfilter"]
#: The height of one readable screenshot (a laptop's screen, at the page's width).
SLICE = 1_300

# A small stylesheet after GitHub's markdown-body (Primer's light theme): the fonts,
# spacing, tables, code, <details> and alerts a comment uses.
CSS = """
body { margin: 0; background: #fff; }
.comment { box-sizing: border-box; width: 920px; margin: 16px auto; border: 1px solid #d0d7de;
  border-radius: 6px; }
.comment-header { background: #f6f8fa; border-bottom: 1px solid #d0d7de; padding: 8px 16px;
  font: 14px -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
  sans-serif; color: #656d76; border-radius: 6px 6px 0 0; }
.markdown-body { padding: 16px; color: #1f2328; font-size: 14px; line-height: 1.5;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
  sans-serif; word-wrap: break-word; }
.markdown-body > *:first-child { margin-top: 0 !important; }
.markdown-body p, .markdown-body ul, .markdown-body table, .markdown-body blockquote,
.markdown-body details, .markdown-body .markdown-alert { margin-top: 0; margin-bottom: 16px; }
.markdown-body h3 { font-size: 1.25em; font-weight: 600; line-height: 1.25; margin: 24px 0 16px; }
.markdown-body ul { padding-left: 2em; }
.markdown-body li + li { margin-top: .25em; }
.markdown-body code { padding: .2em .4em; margin: 0; font-size: 85%; white-space: break-spaces;
  background-color: rgba(175,184,193,0.2); border-radius: 6px;
  font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono",
  monospace; }
.markdown-body table { border-spacing: 0; border-collapse: collapse; display: block;
  width: max-content; max-width: 100%; overflow: auto; }
.markdown-body th { font-weight: 600; }
.markdown-body th, .markdown-body td { padding: 6px 13px; border: 1px solid #d0d7de; }
.markdown-body tr { background-color: #fff; border-top: 1px solid #d1d9e0; }
.markdown-body tr:nth-child(2n) { background-color: #f6f8fa; }
.markdown-body blockquote { padding: 0 1em; color: #656d76; border-left: .25em solid #d0d7de;
  margin-left: 0; margin-right: 0; }
.markdown-body details summary { cursor: pointer; display: list-item; }
.markdown-body details[open] > summary { margin-bottom: 8px; }
.markdown-body hr { height: .25em; padding: 0; margin: 24px 0; background-color: #d0d7de;
  border: 0; }
.markdown-alert { padding: .5rem 1rem; color: inherit; border-left: .25em solid #d0d7de; }
.markdown-alert > :last-child { margin-bottom: 0; }
.markdown-alert-title { font-weight: 500; display: flex; align-items: center; line-height: 1; }
.markdown-alert-warning { border-left-color: #9a6700; }
.markdown-alert-warning .markdown-alert-title { color: #9a6700; }
.markdown-alert-important { border-left-color: #8250df; }
.markdown-alert-important .markdown-alert-title { color: #8250df; }
.markdown-alert-caution { border-left-color: #d1242f; }
.markdown-alert-caution .markdown-alert-title { color: #d1242f; }
.markdown-alert-note { border-left-color: #0969da; }
.markdown-alert-note .markdown-alert-title { color: #0969da; }
"""

# GitHub turns `> [!KIND]` quotes into alerts after rendering the markdown.
_ALERT = re.compile(r"<blockquote>\n<p>\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\n")


def _alert(match: re.Match[str]) -> str:
    kind = match.group(1)
    return (
        f'<div class="markdown-alert markdown-alert-{kind.lower()}">'
        f'<p class="markdown-alert-title">{kind.title()}</p>\n<p>'
    )


def to_html(markdown: str, name: str) -> str:
    """The comment as GitHub shows it, as a page of its own."""
    body: str = cmarkgfm.markdown_to_html_with_extensions(
        markdown, options=Options.CMARK_OPT_UNSAFE, extensions=EXTENSIONS
    )
    # An alert's quote closes with </blockquote>: close the box instead.
    out, opened = [], 0
    for part in re.split(r"(<blockquote>\n<p>\[![A-Z]+\]\n|</blockquote>)", body):
        if _ALERT.fullmatch(part):
            out.append(_ALERT.sub(_alert, part))
            opened += 1
        elif part == "</blockquote>" and opened:
            out.append("</div>")
            opened -= 1
        else:
            out.append(part)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(name)}</title>"
        f"<style>{CSS}</style></head><body><div class='comment'>"
        f"<div class='comment-header'><b>github-actions</b> bot commented · "
        f"{len(markdown):,} characters</div><div class='markdown-body'>{''.join(out)}</div>"
        "</div></body></html>"
    )


# -- the plans ------------------------------------------------------------------------


def dealhub_only(users: int, share: float, work: Path) -> list[str]:
    """A DealHub tenant of `users` and a desired state changing `share` of them."""
    tenant = generate_tenant(users, 1)
    (work / "tenant.json").write_text(json.dumps(tenant), encoding="utf-8")
    desired = generate_desired(tenant, changes=share, seed=1)
    (work / "desired.yaml").write_text(desired, encoding="utf-8")
    return [str(work / "desired.yaml"), f"sim:{work / 'tenant.json'}"]


def both_systems(users: int, share: float, work: Path) -> list[str]:
    """bench/run.py's section 6 data: one people file, a tenant and a company."""
    tenant = generate_tenant(users, 1)
    (work / "tenant.json").write_text(json.dumps(tenant), encoding="utf-8")
    (work / "desired.yaml").write_text(generate_desired(tenant, changes=share, seed=1), "utf-8")
    built = build_systems_data(
        str(work / "tenant.json"), str(work / "desired.yaml"), users, 1, f"{share}", str(work)
    )
    return [built["people"], f"sim:{work / 'tenant.json'}", f"pipedrive=sim:{built['company']}"]


#: name -> (how to make the files, users, share of them changing)
CASES: dict[str, tuple[Callable[[int, float, Path], list[str]], int, float]] = {
    "changes-10": (dealhub_only, 200, 0.05),
    "changes-300": (dealhub_only, 6_000, 0.05),
    "changes-5000": (dealhub_only, 20_000, 0.25),
    "systems-2x5000": (both_systems, 20_000, 0.25),
    "people-5000": (both_systems, 5_000, 0.05),
}


def comment(files: list[str]) -> str:
    """`reconciler plan --format markdown` of the files, in-process, with the accounts."""
    people, *urls = files
    state = load_desired([people])
    chosen = engine.select(state, ())
    where = engine.Targets.parse(tuple(urls), ())
    with ExitStack() as stack:
        remotes = [
            stack.enter_context(where.connect(provider, state, writable=False))
            for provider in chosen
        ]
        runs = engine.plan_all(state, chosen, remotes, allow_mass_deactivation=False)
    held = {
        run.plan.system: accounts(run.provider.tenant_view(raw) for raw in run.tenant)
        for run in runs
    }
    plans = [run.plan for run in runs]
    return render_plans(plans, "markdown", journeys=engine.journeys_of(state, runs), accounts=held)


# -- the browser ----------------------------------------------------------------------


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    raise SystemExit("no Chromium: apt-get update && apt-get install -y chromium")


def page_height(browser: str, page: Path) -> int:
    """How tall the page is, as Chromium lays it out (a script writes it into the DOM)."""
    probe = page.with_suffix(".probe.html")
    script = "<script>document.title='H'+document.documentElement.scrollHeight</script>"
    probe.write_text(page.read_text(encoding="utf-8") + script, encoding="utf-8")
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    probe.unlink()
    found = re.search(r"<title>H(\d+)</title>", dom)
    return int(found.group(1)) if found else 3000


def screenshot(browser: str, page: Path, out: Path, height: int) -> None:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={out}",
            f"--window-size=1000,{height}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=300,
        check=True,
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-screenshots", action="store_true")
    parser.add_argument("--slices", type=int, default=3, help="readable screens of each page")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    browser = None if args.no_screenshots else chromium()
    for name in args.cases.split(","):
        make, users, share = CASES[name]
        with tempfile.TemporaryDirectory() as work:
            markdown = comment(make(users, share, Path(work)))
        (args.out / f"{name}.md").write_text(markdown, encoding="utf-8")
        page = args.out / f"{name}.html"
        page.write_text(to_html(markdown, name), encoding="utf-8")
        line = f"{name}: {len(markdown):,} characters"
        if browser:
            height = page_height(browser, page)
            screenshot(browser, page, args.out / f"{name}-page.png", min(height, 16_000))
            # Readable slices, a screen each: the page moved up under a fixed window.
            for number, top in enumerate(range(0, min(height, args.slices * SLICE), SLICE)):
                moved = page.with_suffix(f".{number}.html")
                moved.write_text(
                    page.read_text(encoding="utf-8").replace(
                        "<body>", f"<body style='margin-top:-{top}px'>"
                    ),
                    encoding="utf-8",
                )
                screenshot(browser, moved, args.out / f"{name}-{number}.png", SLICE)
                moved.unlink()
            line += f", {height:,} px tall"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
