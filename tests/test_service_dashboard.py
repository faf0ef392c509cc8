"""The service's dashboard in headless Chromium (Debian's package), driven over the DevTools
protocol: the page loads with no console errors, a run submitted from its form moves to
``finished`` on the page, and its report opens. Chromium gets a dead proxy on 127.0.0.1,
so nothing but the local server is reachable from it."""
from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

httpx = pytest.importorskip("httpx")
websocket = pytest.importorskip("websocket")   # websocket-client
pytest.importorskip("fastapi")

# the same real server as the API tests, and their breaking-point case
from test_service import API, LEVERED, NO_LIQUIDATION, Server, wait_state   # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")


class DevTools:
    """A minimal DevTools-protocol client: commands by id, events kept in order."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=20, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                assert "error" not in msg, msg
                return msg.get("result", {})
            self.events.append(msg)

    def js(self, expression: str):
        out = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in out, out
        return out["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"{expression!r} still false after {timeout} s")

    def errors(self) -> list[dict]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown" or (m == "Runtime.consoleAPICalled" and p.get("type") == "error") \
                    or (m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error"):
                out.append(e)
        return out


@pytest.fixture()
def browser(tmp_path):
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
         "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
         "--proxy-server=http://127.0.0.1:9", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None and time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page"]
        tools = DevTools(pages[0]["webSocketDebuggerUrl"])
        for domain in ("Runtime", "Log", "Page"):
            tools.call(f"{domain}.enable")
        yield tools
        tools.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_dashboard_submits_a_run_and_shows_it_finish(tmp_path, browser):
    srv = Server(tmp_path, tmp_path / "d.db").start()
    try:
        browser.call("Page.navigate", url=srv.base + "/")
        browser.wait_for("document.readyState === 'complete' && document.querySelectorAll('#scenario option').length >= 10")
        assert browser.wait_for("document.getElementById('status').textContent.includes('workers')")
        browser.js("document.getElementById('scenario').value = 'btc-flash-crash-2021';"
                   "document.getElementById('bars').value = '1500';"
                   "document.querySelector('#submit button').click(); true")
        text = browser.wait_for("document.getElementById('submitted').textContent")
        assert text.startswith("submitted run "), text
        run_id = text.split()[-1]
        cell = f"(document.querySelector('[data-state=\"{run_id}\"]') || {{}}).textContent"
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = browser.js(cell)
            if state and (not seen or seen[-1] != state):
                seen.append(state)
            if state == "finished":
                break
            time.sleep(0.05)
        assert seen[-1] == "finished" and len(seen) >= 2 and set(seen[:-1]) <= {"queued", "running"}, seen
        # a breaking-point run (submitted over the API) shows its answer in a few words under its scenario
        with httpx.Client(base_url=srv.base + API, timeout=20) as c:
            r = c.post("/scenarios/run", json={**LEVERED, "breaking_point": "drop_pct", "search_range": [0.1, 0.3],
                                               "precision": 0.02, "check": NO_LIQUIDATION})
            assert r.status_code == 202, r.text
            bp_id = r.json()["run_id"]
            note = wait_state(c, bp_id)["breaking_point_note"]
        assert note.startswith("breaks at drop_pct")
        assert browser.wait_for(f"(document.querySelector('[data-bp=\"{bp_id}\"]') || {{}}).textContent") == note
        assert browser.js(f"document.querySelector('[data-progress=\"{bp_id}\"]').value") == \
            browser.js(f"document.querySelector('[data-progress=\"{bp_id}\"]').max")     # a finished search: full
        href = browser.wait_for(f"(document.querySelector('tr[data-run=\"{run_id}\"] a') || {{}}).href")
        assert href.endswith(f"/results/{run_id}/report")
        browser.call("Page.navigate", url=href)
        title = browser.wait_for("document.readyState === 'complete' && document.title")
        assert "BTC Flash Crash 2021" in title and run_id in title
        assert browser.js("document.querySelectorAll('svg').length") >= 1
        time.sleep(0.5)
        browser.js("true")   # collect the events (console, network errors) of the last half second
        assert [e["params"].get("entry", e["params"]) for e in browser.errors()] == []
    finally:
        srv.stop()


def test_dashboard_stays_answered_with_many_runs_active(tmp_path, browser):
    """Eight runs queued or running: the page follows them on one event stream, so its own
    requests still get a connection (a browser allows 6 per host: one stream per run left none)."""
    srv = Server(tmp_path, tmp_path / "m.db", "--max-active", "12").start()
    try:
        with httpx.Client(base_url=srv.base + API, timeout=20) as c:
            ids = []
            for _ in range(8):
                r = c.post("/scenarios/run", json={"name": "slow", "type": "synthetic", "symbols": ["SLOWUSDT"],
                                                   "bars": 3000})
                assert r.status_code == 202, r.text
                ids.append(r.json()["run_id"])
            wait_state(c, ids[0], ("running",))
            browser.call("Page.navigate", url=srv.base + "/")
            browser.wait_for(f"document.querySelectorAll('[data-state]').length >= 8")
            took = browser.js("""(async () => {
                const out = [];
                for (let i = 0; i < 5; i++) {
                  const t0 = performance.now();
                  const r = await Promise.race([fetch(API + "/status").then(r => r.status),
                                                new Promise(ok => setTimeout(() => ok("no answer in 3 s"), 3000))]);
                  out.push([r, Math.round(performance.now() - t0)]);
                }
                return out;
            })()""")
            assert [r for r, _ in took] == [200] * 5, took
            # live progress reaches the page on the one stream
            first = f"document.querySelector('[data-progress=\"{ids[0]}\"]').value"
            start = browser.js(first)
            assert browser.wait_for(f"{first} > {start} + 20", timeout=10)
            for rid in ids:
                c.post(f"/results/{rid}/cancel", json={})
        assert [e["params"].get("entry", e["params"]) for e in browser.errors()] == []
    finally:
        srv.stop()


def _screenshot_project():
    """The trader and the breaking-point request of benchmarks/service_screenshot.py (one copy: the page
    tested is the page in docs/service-dashboard.png)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "service_screenshot.py"
    spec = importlib.util.spec_from_file_location("service_screenshot", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _set(browser, element_id: str, value: str) -> None:
    browser.js(f"(() => {{ const e = document.getElementById({element_id!r}); e.value = {value!r};"
               "e.dispatchEvent(new Event('change')); return true; })()")


def test_dashboard_shows_a_runs_charts_settings_history_and_filters(tmp_path, browser, monkeypatch):
    """Two releases of a trader on one store (the second with twice the size): the page shows the
    latest run's settings, duration, equity and drawdown chart, its scenario's history with the
    regression marked, a breaking-point search's levels and verdicts, filters, and pages of older runs."""
    shot = _screenshot_project()
    (tmp_path / "shot_traders.py").write_text(shot.TRADERS)
    flash = {"scenario_name": "btc-flash-crash-2021", "bars": 600}
    db = tmp_path / "h.db"
    monkeypatch.setenv("RISK_SIZE", "0.3")
    srv = Server(tmp_path, db, "--trader", "shot_traders:make", "--trader-version", "1.0").start()
    try:
        with httpx.Client(base_url=srv.base + API, timeout=20) as c:
            before = wait_state(c, c.post("/scenarios/run", json=flash).json()["run_id"])["run_id"]
            other = wait_state(c, c.post("/scenarios/run", json={**flash, "bars": 500}).json()["run_id"])["run_id"]
            bp_id = wait_state(c, c.post("/scenarios/run", json=shot.LEVERED).json()["run_id"])["run_id"]
            calm = [c.post("/scenarios/run", json={"name": "calm", "type": "synthetic", "bars": 50, "seed": seed})
                    for seed in range(8)]   # with the next one, 12 runs: two pages of 10
            for r in calm:
                wait_state(c, r.json()["run_id"])
    finally:
        srv.stop()
    monkeypatch.setenv("RISK_SIZE", "0.6")
    srv = Server(tmp_path, db, "--trader", "shot_traders:make", "--trader-version", "2.0").start()
    try:
        with httpx.Client(base_url=srv.base + API, timeout=20) as c:
            latest = wait_state(c, c.post("/scenarios/run", json=flash).json()["run_id"])["run_id"]
            check = c.get("/scenarios/btc-flash-crash-2021/history").json()["regression"]
            assert check["latest_run_id"] == latest and check["against_run_id"] == before, check
            regressed = {r["metric"] for r in check["regressions"]}
            assert "max_drawdown" in regressed, check   # twice the size: a deeper drawdown
            r = c.get(f"/results/{latest}/chart")
            assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml" and "<svg" in r.text
            assert c.get(f"/results/{latest}/chart?of=breaking").status_code == 409   # not a search
        browser.call("Page.navigate", url=f"{srv.base}/")
        browser.wait_for("document.querySelectorAll('#runs tr').length === 12")
        # pages: 10 a page, the older page holds the rest
        _set(browser, "f-limit", "10")
        assert browser.wait_for("document.getElementById('range').textContent === 'runs 1-10 of 12'")
        browser.js("document.getElementById('older').click(); true")
        assert browser.wait_for("document.getElementById('range').textContent === 'runs 11-12 of 12'")
        assert browser.js("[...document.querySelectorAll('#runs tr')].map(r => r.dataset.run)") == [other, before]
        browser.js("document.getElementById('newer').click(); true")
        assert browser.wait_for("document.getElementById('range').textContent === 'runs 1-10 of 12'")
        # filters: scenario, state, time
        _set(browser, "f-scenario", "btc-flash-crash-2021")
        assert browser.wait_for("document.getElementById('range').textContent === 'runs 1-3 of 3 matching'")
        rows = "[...document.querySelectorAll('#runs tr')].map(r => r.dataset.run)"
        assert browser.js(rows) == [latest, other, before]
        _set(browser, "f-state", "cancelled")
        assert browser.wait_for("document.getElementById('range').textContent.startsWith('no runs match')")
        _set(browser, "f-state", "finished")
        _set(browser, "f-since", "2099-01-01T00:00")
        assert browser.wait_for("document.getElementById('range').textContent.startsWith('no runs match')")
        _set(browser, "f-since", "2000-01-01T00:00")
        assert browser.wait_for("document.getElementById('range').textContent === 'runs 1-3 of 3 matching'")
        # the latest run: settings, timing, metrics, its chart, its scenario's history with the regression marked
        browser.js(f"document.querySelector('[data-open=\"{latest}\"]').click(); true")
        loaded = ("[...document.querySelectorAll('#detail img[data-chart]')]"
                  ".every(i => i.complete && i.naturalWidth > 0)")
        browser.wait_for(f"document.querySelectorAll('#detail img[data-chart]').length === 2 && {loaded}")
        text = browser.js("document.getElementById('detail').innerText")
        for seen in (f"Run {latest}", "trader version\t2.0", "bars\t600", "flash_crash", "duration\t", "max DD %",
                     "Equity and drawdown", "History of BTC Flash Crash 2021 (3 latest runs)", "REGRESSION"):
            assert seen in text, (seen, text)
        assert browser.js("document.querySelector('#history [data-check]').dataset.check") == "regressed"
        marked = browser.js(f"[...document.querySelectorAll('tr[data-hrun=\"{latest}\"] td[data-regressed]')]"
                            ".map(td => td.dataset.regressed)")
        assert set(marked) == regressed & {"max_drawdown", "total_pnl", "sharpe_ratio", "total_trades"}, marked
        roles = browser.js("Object.fromEntries([...document.querySelectorAll('#history-runs tr[data-hrun]')]"
                           ".map(r => [r.dataset.hrun, r.className]))")
        assert roles == {latest: "latest", before: "against", other: "other"}, roles
        # the history chart marks the regression (an "x" with an SVG id per regressed metric)
        with httpx.Client(base_url=srv.base + API, timeout=20) as c:
            svg = c.get("/scenarios/btc-flash-crash-2021/history/chart").text
        assert 'id="history-max_drawdown-regression"' in svg and 'id="history-max_drawdown-against"' in svg
        # a breaking-point search: its answer, each level's verdict, its chart
        _set(browser, "f-scenario", "")
        browser.wait_for(f"!!document.querySelector('[data-open=\"{bp_id}\"]')")
        browser.js(f"document.querySelector('[data-open=\"{bp_id}\"]').click(); true")
        browser.wait_for(f"!!document.querySelector('[data-levels=\"{bp_id}\"]') && {loaded}")
        verdicts = browser.js(f"[...document.querySelectorAll('[data-levels=\"{bp_id}\"] tr')].slice(1)"
                              ".map(r => r.lastChild.textContent)")
        assert "pass" in verdicts and "fail" in verdicts and set(verdicts) == {"pass", "fail"}, verdicts
        assert "breaks at drop_pct" in browser.js("document.getElementById('detail').innerText")
        assert browser.js("document.querySelector('#detail img[data-chart=\"breaking\"]').naturalWidth") > 0
        # the API reference: served by the server itself, no script (FastAPI's needed a CDN)
        browser.call("Page.navigate", url=f"{srv.base}/redoc")
        browser.wait_for("document.readyState === 'complete' && location.pathname === '/docs'")
        assert browser.js("document.scripts.length") == 0
        assert browser.js("document.querySelectorAll('h2').length") >= 18
        assert "/api/stress-testing/scenarios/run" in browser.js("document.body.innerText")
        time.sleep(0.3)
        browser.js("true")
        assert [e["params"].get("entry", e["params"]) for e in browser.errors()] == []
    finally:
        srv.stop()
