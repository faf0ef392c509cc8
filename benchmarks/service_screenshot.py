"""Make docs/service-dashboard.png: the service's dashboard, from a real server with real runs,
rendered by headless Chromium at 1,400 px with one run opened.

A real ``pytest-stress serve`` (SQLite file in a temporary folder, 127.0.0.1) runs README's
trader, whose size comes from $RISK_SIZE. Four releases of it are served one after the other on
the same store (``--trader-version`` 1.0, 1.1, 1.2, then 2.0 with twice the size), each running
"BTC Flash Crash 2021" at 2,000 bars, so the scenario has a history made under the same settings
whose latest run regressed (2.0's deeper drawdown); plus runs of other scenarios, one at other
bars (not comparable), and a breaking-point search (README's levered long, along drop_pct).
Then Chromium opens the dashboard at ``/#run=<2.0's run>`` and screenshots it.

    python benchmarks/service_screenshot.py [--out docs/service-dashboard.png] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
API = "/api/stress-testing"

TRADERS = textwrap.dedent('''
    import os

    from pytest_stress import buy


    class Trend:
        """README's trader; its size (a share of equity) from $RISK_SIZE."""

        def __init__(self):
            self.size = float(os.environ.get("RISK_SIZE", "0.3"))

        def on_bar(self, ctx):
            if ctx.symbol == "LEVUSDT":   # README's levered long, for the breaking-point search
                return buy(4.9 * ctx.equity / ctx.price) if ctx.t == 0 else None
            if ctx.position() < 0:
                return ctx.close_position()
            if ctx.position() == 0 and ctx.price > ctx.close[-24:].mean():
                return buy(self.size * ctx.equity / ctx.price)
            if ctx.position() > 0 and ctx.price < ctx.close[-24:].mean():
                return ctx.close_position()


    def make():
        return Trend()
''')

LEVERED = {"type": "flash_crash", "name": "levered crash", "bars": 60, "seed": 7, "symbols": ["LEVUSDT"],
           "parameters": {"drop_pct": 0.3, "duration_bars": 6, "front": 1.0, "recovery_pct": 0.0, "start": 0.5,
                          "base_vol": 0.05},
           "exchange": "frictionless", "account": "perpetual:leverage=5", "breaking_point": "drop_pct",
           "search_range": [0.1, 0.3], "precision": 0.02, "check": {"metric": "liquidations", "op": "<=", "value": 0}}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """One release of the trader served on the shared store until the block ends."""

    def __init__(self, work: Path, version: str, size: float) -> None:
        self.work, self.version, self.size = work, version, size
        self.base = f"http://127.0.0.1:{_port()}"

    def __enter__(self) -> httpx.Client:
        env = {**os.environ, "RISK_SIZE": str(self.size),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(self.work), os.environ.get("PYTHONPATH")]))}
        self.log = open(self.work / f"server-{self.version}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_stress", "serve", "--trader", "shot_traders:make", "--db",
             str(self.work / "runs.db"), "--port", self.base.rsplit(":", 1)[1], "--workers", "2",
             "--trader-version", self.version], cwd=self.work, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.client = httpx.Client(base_url=self.base + API, timeout=60)
        for _ in range(300):
            try:
                if self.client.get("/status").status_code == 200:
                    return self.client
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit(f"the server did not start: {(self.work / f'server-{self.version}.log').read_text()}")

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def run(c: httpx.Client, body: dict) -> str:
    r = c.post("/scenarios/run", json=body)
    r.raise_for_status()
    rid = r.json()["run_id"]
    for _ in range(1200):
        if c.get(f"/results/{rid}").json()["state"] in ("finished", "failed", "cancelled"):
            return rid
        time.sleep(0.1)
    raise SystemExit(f"run {rid} did not end in 120 s")


def screenshot(chromium: str, profile: Path, url: str, width: int, height: int) -> bytes:
    """A PNG of ``url`` once its charts have loaded, over the DevTools protocol (the command line's
    ``--screenshot`` waits for the network to go idle, which a page with an event stream never does)."""
    import base64
    import json

    import websocket   # websocket-client, in the dev extra

    proc = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
                             f"--user-data-dir={profile}", "--no-first-run", f"--window-size={width},{height}",
                             "--proxy-server=http://127.0.0.1:9", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        target = next(t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page")
        ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        ids = iter(range(1, 10_000))

        def call(method: str, **params: object) -> dict:
            my = next(ids)
            ws.send(json.dumps({"id": my, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("id") == my:
                    return msg.get("result", {})

        call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        call("Page.navigate", url=url)
        ready = ("document.querySelectorAll('img[data-chart]').length >= 2 && [...document.querySelectorAll("
                 "'img[data-chart]')].every(i => i.complete && i.naturalWidth > 0)")
        for _ in range(600):
            if call("Runtime.evaluate", expression=ready, returnByValue=True)["result"].get("value"):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        data = call("Page.captureScreenshot", format="png")["data"]
        ws.close()
        return base64.b64decode(data)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "service-dashboard.png"))
    parser.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--height", type=int, default=1560)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed")
    work = Path(args.keep or tempfile.mkdtemp(prefix="service-shot-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "shot_traders.py").write_text(TRADERS)
    flash = {"scenario_name": "btc-flash-crash-2021", "bars": 2000}
    with Served(work, "1.0", 0.3) as c:
        run(c, flash)
        run(c, {"scenario_name": "eth-liquidity-collapse", "bars": 1500})
        run(c, {**flash, "bars": 1000})   # other settings: shown, not compared
    with Served(work, "1.1", 0.35) as c:
        run(c, flash)
        run(c, LEVERED)
    with Served(work, "1.2", 0.3) as c:
        run(c, flash)
        run(c, {"scenario_name": "black-swan-combo", "bars": 1500})
    with Served(work, "2.0", 0.6) as c:
        latest = run(c, flash)
        run(c, {"scenario_name": "sol-volatility-explosion", "bars": 1500})
        check = c.get("/scenarios/btc-flash-crash-2021/history").json()["regression"]
        print(f"latest run {latest}: {check['detail']}; regressions: "
              f"{[r['describe'] for r in check['regressions']]}")
        shot = Path(args.out)
        page = f"http://{c.base_url.host}:{c.base_url.port}/#run={latest}"
        shot.write_bytes(screenshot(chromium, work / "profile", page, 1400, args.height))
    print(f"{shot}: {shot.stat().st_size / 1e3:,.0f} KB, from the runs in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
