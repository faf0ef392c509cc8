"""Make docs/report.png: a real session's report rendered by headless Chromium at 1,400 px.

A small project (README's trader without its guard against a late fill, so one case goes short
by accident; a verdict over a coin-flip claim; a hypothesis property test) is run twice: once to
save a baseline with detail, once with the trader's size doubled, compared with that baseline
and drawing the report. Then Chromium screenshots the top of the page.

    python benchmarks/report_screenshot.py [--out docs/report.png] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CONFTEST = textwrap.dedent('''
    import os
    import pytest
    from pytest_stress import buy

    class Naive:
        """README's trader without its guard: a timed-out exit that fills late leaves it short."""
        def __init__(self):
            self.size = float(os.environ.get("RISK_SIZE", "0.3"))

        def on_bar(self, ctx):
            if ctx.position() == 0 and ctx.price > ctx.close[-24:].mean():
                return buy(self.size * ctx.equity / ctx.price)
            if ctx.position() > 0 and ctx.price < ctx.close[-24:].mean():
                return ctx.close_position()

    @pytest.fixture(scope="session")
    def trader_factory():
        return Naive
''')

TESTS = textwrap.dedent('''
    from hypothesis import Phase, given, settings
    from pytest_stress import stress
    from pytest_stress import strategies as sst

    @stress("Black Swan Combo", "Correlation Breakdown", "ETH Liquidity Collapse", verdict="seed")
    def test_single(stress_result):
        assert stress_result.max_drawdown < 10

    @stress("BTC Flash Crash 2021", bars=300)
    def test_verdict(stress_result):
        assert stress_result.max_drawdown < 8

    @settings(max_examples=6, deadline=None, database=None, phases=[p for p in Phase if p is not Phase.explain])
    @given(scenario=sst.scenarios(types=["flash_crash"], bars=200))
    def test_property(stress_runner, scenario):
        assert stress_runner(scenario).max_drawdown < 5
''')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "report.png"))
    parser.add_argument("--keep", default=None, help="run in this folder and keep it (default: a temporary one)")
    parser.add_argument("--height", type=int, default=1800)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed")
    work = Path(args.keep or tempfile.mkdtemp(prefix="report-shot-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "conftest.py").write_text(CONFTEST)
    (work / "test_risk.py").write_text(TESTS)
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                                   os.environ.get("PYTHONPATH")]))}
    subprocess.run([*base, "--stress-save=baseline.json", "--stress-save-detail"], cwd=work, env=env,
                   capture_output=True)
    env["RISK_SIZE"] = "0.6"
    done = subprocess.run([*base, "--stress-compare=baseline.json", "--stress-report=report.html"], cwd=work, env=env,
                          capture_output=True, text=True)
    print(done.stdout[-3000:])
    shot = Path(args.out)
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={work / 'profile'}", f"--screenshot={shot}",
                    f"--window-size=1400,{args.height}", (work / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    print(f"{shot}: {shot.stat().st_size / 1e3:,.0f} KB; report {(work / 'report.html').stat().st_size / 1e3:,.0f} KB "
          f"in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
