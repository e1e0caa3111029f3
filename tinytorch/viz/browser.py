"""Check VIZ pages in a real browser: headless Chromium loads a page and reports console errors.

Takes: an HTML file (VIZ's index.html or a pass page), a Chromium binary (Debian's `chromium`;
also chromium-browser, google-chrome).
Produces: `BrowserCheck(ok, problems, graphs_loaded, dom)`: `ok` when the page loaded, printed
nothing to the console (VIZ pages print only when a graph fails to load) and every graph image
decoded (the page's script writes `data-graphs-loaded="n/n"` on <body>).

    python -m tinytorch.viz.browser viz/index.html [--screenshot shot.png]

Chromium runs as root here, hence --no-sandbox; a fresh profile directory per run, no network
services, no GPU.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--disable-extensions", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000")
_CONSOLE = re.compile(r":CONSOLE[^\]]*\]\s*(.*)")
_LOADED = re.compile(r'data-graphs-loaded="(\d+)/(\d+)"')


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for c in CANDIDATES:
        p = shutil.which(c)
        if p:
            return p
    return None


@dataclass
class BrowserCheck:
    ok: bool
    problems: list[str] = field(default_factory=list)
    graphs_loaded: tuple[int, int] | None = None
    dom: str = ""


def check_page(page: str, screenshot: str | None = None, timeout: float = 120.0,
               chromium: str | None = None) -> BrowserCheck:
    """Load `page` in headless Chromium; see the module docstring for what counts as ok."""
    exe = chromium or find_chromium()
    if exe is None:
        return BrowserCheck(False, ["no chromium on PATH (Debian: apt-get install chromium)"])
    url = "file://" + os.path.abspath(page)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tinytorch-chromium-") as profile_dir:
        base = [exe, *FLAGS, f"--user-data-dir={profile_dir}"]
        p = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=timeout)
        dom = p.stdout
        if p.returncode != 0:
            problems.append(f"chromium exited with {p.returncode}: {p.stderr.strip()[-500:]}")
        problems += [f"console: {m.group(1)}" for m in map(_CONSOLE.search, p.stderr.splitlines()) if m]
        if screenshot:
            s = subprocess.run([*base, "--hide-scrollbars", "--window-size=1400,1800",
                                f"--screenshot={os.path.abspath(screenshot)}", url],
                               capture_output=True, text=True, timeout=timeout)
            if s.returncode != 0 or not os.path.exists(screenshot):
                problems.append(f"screenshot failed: {s.stderr.strip()[-300:]}")
    m = _LOADED.search(dom)
    loaded = (int(m.group(1)), int(m.group(2))) if m else None
    if loaded is None:
        problems.append("the page's load check did not run (no data-graphs-loaded on <body>)")
    elif loaded[0] != loaded[1]:
        problems.append(f"only {loaded[0]} of {loaded[1]} graphs loaded")
    return BrowserCheck(not problems, problems, loaded, dom)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tinytorch.viz.browser",
                                 description="Load VIZ pages in headless Chromium: no console errors, every graph "
                                             "loaded. Exit 0 when every page passes, 1 otherwise, 2 without chromium.")
    ap.add_argument("pages", nargs="+", help="HTML files (e.g. viz/index.html)")
    ap.add_argument("--screenshot", help="also save a PNG of the first page")
    args = ap.parse_args(argv)
    if find_chromium() is None:
        print("no chromium on PATH (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    bad = 0
    for i, page in enumerate(args.pages):
        r = check_page(page, screenshot=args.screenshot if i == 0 else None)
        loaded = f"{r.graphs_loaded[0]}/{r.graphs_loaded[1]} graphs loaded" if r.graphs_loaded else "no load check"
        print(f"{'PASS' if r.ok else 'FAIL'}  {page}: {loaded}")
        for prob in r.problems:
            print(f"      {prob}")
        bad += not r.ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
