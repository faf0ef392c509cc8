"""The dashboard page served at ``/``: one HTML page, no external resources (no CDN).

It lists the library, offers a form to submit a library scenario, shows the runs with
their states and key metrics (polled from ``GET /results``), follows running runs with
one server-sent-event stream for all of them (``GET /events``: a browser opens at most 6
connections to a host, so one stream per run froze the page with 6 runs active), and links each finished run's report. A breaking-point
run shows its answer in a few words under its scenario (``result.breaking.short_note``); its
progress bar fills with the share of its budget of paths spent, and is full once it finished. A token,
when the server needs one, is read from the page address (``/#token=...``).
"""
from __future__ import annotations

__all__ = ["DASHBOARD_HTML"]

DASHBOARD_HTML = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>pytest-stress service</title>
<link rel="icon" href="data:,">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .3em} h2{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f4f4f4} .state{font-weight:600} .finished{color:#176b2c} .failed{color:#b3261e} .cancelled{color:#777}
.running{color:#0b57d0} .queued{color:#8a6d00} progress{width:8em} #status{color:#555} form{margin:.3em 0}
.err{color:#b3261e;white-space:pre-wrap;max-width:40em;font-size:12px} .bp{color:#6a1b9a;font-size:12px}
</style></head><body>
<h1>pytest-stress service</h1>
<p id="status">connecting...</p>
<h2>Submit a library scenario</h2>
<form id="submit"><select id="scenario" name="scenario"></select>
 bars <input id="bars" type="number" min="2" placeholder="default" style="width:7em">
 seed <input id="seed" type="number" min="0" placeholder="default" style="width:7em">
 <button type="submit">Run</button> <span id="submitted"></span></form>
<h2>Runs</h2>
<table><thead><tr><th>run</th><th>scenario</th><th>state</th><th>progress</th><th>equity</th><th>max DD %</th>
<th>PnL</th><th>trades</th><th>report</th><th></th></tr></thead><tbody id="runs"></tbody></table>
<h2>Library</h2>
<table><thead><tr><th>scenario</th><th>id</th><th>type</th><th>symbols</th><th>bars</th></tr></thead><tbody id="library"></tbody></table>
<script>
"use strict";
const API = "/api/stress-testing";
const TOKEN = (new URLSearchParams(location.hash.slice(1))).get("token");
const HEAD = TOKEN ? {"Authorization": "Bearer " + TOKEN} : {};
function el(tag, text, cls){const e=document.createElement(tag); if(text!==undefined&&text!==null) e.textContent=text; if(cls) e.className=cls; return e;}
function num(v, d){ if(v===null||v===undefined) return ""; const x=Number(v); return isFinite(x)? x.toFixed(d): String(v); }
async function get(path){ const r = await fetch(API + path, {headers: HEAD}); if(!r.ok) throw new Error(path + ": " + r.status); return r.json(); }
async function loadLibrary(){
  const lib = await get("/scenarios/library");
  const sel = document.getElementById("scenario"), body = document.getElementById("library");
  for(const s of lib.scenarios){
    const o = el("option", s.name); o.value = s.id; sel.appendChild(o);
    const tr = el("tr"); for(const v of [s.name, s.id, s.type, s.symbols.join(", "), s.bars]) tr.appendChild(el("td", v));
    body.appendChild(tr);
  }
}
let stream = null;
function followAll(){
  // one event stream for every active run: a browser opens at most 6 connections to a host,
  // and one stream per run froze the page (its refreshes waited) with 6 runs active
  if(stream) return;
  const url = API + "/events" + (TOKEN ? "?token=" + encodeURIComponent(TOKEN) : "");
  stream = new EventSource(url);   // it reconnects by itself when the server ends it
  stream.addEventListener("progress", ev => { const p = JSON.parse(ev.data); paintProgress(p.run_id, p.bar, p.bars, p.equity, p.max_drawdown); });
  stream.addEventListener("state", ev => {
    const p = JSON.parse(ev.data); const c = document.querySelector('[data-state="'+p.run_id+'"]');
    if(c){ c.textContent = p.state; c.className = "state " + p.state; } else { refresh(); }
  });
  stream.addEventListener("end", () => refresh());
}
function paintProgress(id, bar, bars, equity, dd){
  const pr = document.querySelector('[data-progress="'+id+'"]'); if(pr){ pr.max = bars; pr.value = bar + 1; }
  const eq = document.querySelector('[data-equity="'+id+'"]'); if(eq) eq.textContent = num(equity, 0);
  const d = document.querySelector('[data-dd="'+id+'"]'); if(d) d.textContent = num(dd, 1);
}
async function refresh(){
  let page, st;
  try { [page, st] = await Promise.all([get("/results?limit=50"), get("/status")]); }
  catch(e){ document.getElementById("status").textContent = "server unreachable: " + e.message; return; }
  document.getElementById("status").textContent = st.workers + " workers, " + st.running_tests + " running, " +
    st.queued_tests + " queued, " + st.completed_tests + " finished; trader " + st.trader + "; " + page.total + " runs stored";
  const body = document.getElementById("runs"); body.textContent = "";
  for(const r of page.results){
    const m = r.metrics || {}, tr = el("tr"); tr.dataset.run = r.run_id;
    tr.appendChild(el("td", r.run_id));
    const sc = el("td", r.scenario_name); if(r.breaking_point_note){ const n = el("div", r.breaking_point_note, "bp"); n.dataset.bp = r.run_id; sc.appendChild(n); } tr.appendChild(sc);
    const s = el("td", r.state, "state " + r.state); s.dataset.state = r.run_id; tr.appendChild(s);
    const pt = el("td"), pr = el("progress"); pr.dataset.progress = r.run_id; pr.max = r.progress.bars; pr.value = r.state === "finished" ? r.progress.bars : Math.max(r.progress.bar + 1, 0); pt.appendChild(pr); tr.appendChild(pt);
    const eq = el("td", num(r.state === "finished" ? m.final_equity : r.progress.equity, 0)); eq.dataset.equity = r.run_id; tr.appendChild(eq);
    const dd = el("td", num(r.state === "finished" ? m.max_drawdown : r.progress.max_drawdown, 1)); dd.dataset.dd = r.run_id; tr.appendChild(dd);
    tr.appendChild(el("td", num(m.total_pnl, 2))); tr.appendChild(el("td", m.total_trades));
    const rep = el("td"); if(r.state === "finished"){ const a = el("a", "report"); a.href = r.report_url; a.target = "_blank"; rep.appendChild(a); } tr.appendChild(rep);
    const act = el("td");
    if(r.state === "queued" || r.state === "running"){
      const b = el("button", "cancel"); b.onclick = async () => { await fetch(API + "/results/" + r.run_id + "/cancel", {method: "POST", headers: {"Content-Type": "application/json", ...HEAD}}); refresh(); }; act.appendChild(b);
    } else if(r.error){ act.appendChild(el("div", r.error.split("\n")[0], "err")); }
    tr.appendChild(act); body.appendChild(tr);
  }
}
document.getElementById("submit").addEventListener("submit", async ev => {
  ev.preventDefault();
  const body = {scenario_name: document.getElementById("scenario").value};
  const bars = document.getElementById("bars").value, seed = document.getElementById("seed").value;
  if(bars) body.bars = Number(bars); if(seed) body.seed = Number(seed);
  const r = await fetch(API + "/scenarios/run", {method: "POST", headers: {"Content-Type": "application/json", ...HEAD}, body: JSON.stringify(body)});
  const out = await r.json();
  document.getElementById("submitted").textContent = r.ok ? "submitted run " + out.run_id : "refused (" + r.status + "): " + JSON.stringify(out.detail);
  await refresh();
});
loadLibrary().then(refresh).then(followAll).catch(e => { document.getElementById("status").textContent = "error: " + e.message; });
setInterval(refresh, 2000);
</script></body></html>
"""
