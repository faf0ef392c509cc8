"""The dashboard page served at ``/``: one HTML page, no external resources (no CDN).

It lists the library, offers a form to submit a library scenario, and shows the stored runs
(``GET /results``), filtered by scenario, state and submission time, a page at a time (newer and
older pages: every stored run can be reached). Running runs are followed on one server-sent-event
stream for all of them (``GET /events``: a browser opens at most 6 connections to a host, so one
stream per run froze the page with 6 runs active). A breaking-point run shows its answer in a few
words under its scenario (``result.breaking.short_note``); its progress bar fills with the share of
its budget of paths spent, and is full once it finished.

Opening a run (its id) shows, below the table: its settings (the scenario's definition, paths,
exchange, account, trader and its version), when it was submitted, started and finished and how
long it ran, its key metrics, its error, its equity and drawdown (``GET /results/{id}/chart``, the
report's own matplotlib chart as SVG), a breaking-point search's answer with each level's verdict
(failures over paths, pass or fail) and its chart; and the history of its scenario
(``GET /scenarios/{name}/history`` and ``/history/chart``): its key metrics run after run, the runs
made under other settings apart, and the latest run's regressions marked, in the chart and in the
table. ``/#run=ID`` opens that run when the page loads. A token, when the server needs one, is read
from the page address (``/#token=...``).
"""
from __future__ import annotations

__all__ = ["DASHBOARD_HTML"]

DASHBOARD_HTML = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>pytest-stress service</title>
<link rel="icon" href="data:,">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .3em} h2{font-size:1.05em;margin:1.2em 0 .4em} h3{font-size:.95em;margin:.9em 0 .3em}
table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f4f4f4} .state{font-weight:600} .finished{color:#176b2c} .failed{color:#b3261e} .cancelled{color:#777}
.running{color:#0b57d0} .queued{color:#8a6d00} progress{width:7em} #status{color:#555} form{margin:.3em 0}
.err{color:#b3261e;white-space:pre-wrap;max-width:40em;font-size:12px} .bp{color:#6a1b9a;font-size:12px}
#filters label{margin-right:.8em} #filters input,#filters select{font:inherit} .pager{margin:.4em 0} .pager span{margin:0 .6em;color:#555}
button.open{font:inherit;font-family:ui-monospace,monospace;font-size:12px;border:0;background:none;color:#0b57d0;cursor:pointer;padding:0;text-decoration:underline}
tr.selected{background:#eef4ff} .panel{border:1px solid #ccd;border-radius:4px;padding:.6em 1em;margin:1em 0;background:#fcfcff}
.cols{display:flex;gap:1.5em;flex-wrap:wrap} .cols>div{flex:1 1 30em;min-width:0} .cols>.narrow{flex:1 1 24em} .cols>.wide{flex:1.5 1 34em} .facts{display:flex;gap:1.2em;flex-wrap:wrap} .facts>div{flex:1 1 14em} .chart img{width:100%;height:auto;border:1px solid #eee}
table.kv{width:auto} table.kv th{background:none;font-weight:500;color:#555;padding-right:1.2em} .pass{color:#176b2c;font-weight:600}
.fail,.regressed{color:#b3261e;font-weight:600} tr.other td{color:#999} tr.latest td:first-child{border-left:3px solid #0b57d0}
tr.against td:first-child{border-left:3px solid #9e9e9e} td.regressed{background:#fdecea} code{font-size:12px;word-break:break-all}
table.nowrap td{white-space:nowrap} .check{padding:.3em .6em;border-radius:3px;display:inline-block} .check.pass{background:#e8f5e9} .check.fail{background:#fdecea}
</style></head><body>
<h1>pytest-stress service</h1>
<p id="status">connecting...</p>
<details id="submit-box" open><summary><b>Submit a library scenario</b></summary>
<form id="submit"><select id="scenario" name="scenario"></select>
 bars <input id="bars" type="number" min="2" placeholder="default" style="width:7em">
 seed <input id="seed" type="number" min="0" placeholder="default" style="width:7em">
 <button type="submit">Run</button> <span id="submitted"></span></form></details>
<h2>Runs</h2>
<form id="filters">
 <label>scenario <input id="f-scenario" list="scenario-names" placeholder="any" size="24"></label><datalist id="scenario-names"></datalist>
 <label>state <select id="f-state"><option value="">any</option><option>queued</option><option>running</option><option>finished</option><option>failed</option><option>cancelled</option></select></label>
 <label>submitted from <input id="f-since" type="datetime-local"></label>
 <label>to <input id="f-until" type="datetime-local"></label>
 <label>per page <select id="f-limit"><option>10</option><option>25</option><option selected>50</option><option>100</option><option>200</option></select></label>
 <button type="button" id="f-clear">clear</button>
</form>
<div class="pager"><button type="button" id="newer">&larr; newer</button><span id="range"></span><button type="button" id="older">older &rarr;</button></div>
<table><thead><tr><th>run</th><th>submitted (UTC)</th><th>scenario</th><th>state</th><th>progress</th><th>took</th><th>equity</th><th>max DD %</th>
<th>PnL</th><th>trades</th><th>report</th><th></th></tr></thead><tbody id="runs"></tbody></table>
<div id="detail" class="panel" hidden></div>
<details><summary><b>Library</b></summary>
<table><thead><tr><th>scenario</th><th>id</th><th>type</th><th>symbols</th><th>bars</th></tr></thead><tbody id="library"></tbody></table></details>
<script>
"use strict";
const API = "/api/stress-testing";
const TOKEN = (new URLSearchParams(location.hash.slice(1))).get("token");
const HEAD = TOKEN ? {"Authorization": "Bearer " + TOKEN} : {};
const KEY = [["final_equity", "final equity", 0], ["total_pnl", "PnL", 2], ["total_return_pct", "return %", 2],
             ["max_drawdown", "max DD %", 2], ["sharpe_ratio", "Sharpe", 2], ["total_trades", "trades", 0],
             ["winrate", "win rate", 2], ["liquidations", "liquidations", 0]];
let offset = 0, selected = null, lastTotal = 0;
function el(tag, text, cls){const e=document.createElement(tag); if(text!==undefined&&text!==null) e.textContent=text; if(cls) e.className=cls; return e;}
function num(v, d){ if(v===null||v===undefined) return ""; const x=Number(v); return isFinite(x)? x.toFixed(d): String(v); }
function q(params){ const u = new URLSearchParams(); for(const [k, v] of Object.entries(params)) if(v!==""&&v!==null&&v!==undefined) u.append(k, v); const s = u.toString(); return s ? "?" + s : ""; }
function withToken(url){ return TOKEN ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN) : url; }
async function get(path){ const r = await fetch(API + path, {headers: HEAD}); if(!r.ok) throw new Error(path + ": " + r.status); return r.json(); }
function iso(local){ if(!local) return ""; const d = new Date(local); return isNaN(d) ? "" : d.toISOString(); }
function when(t){ return t ? t.slice(0, 19).replace("T", " ") : ""; }
function kv(rows){ const t = el("table", null, "kv"); for(const [k, v] of rows){ if(v===null||v===undefined||v==="") continue; const tr = el("tr"); tr.appendChild(el("th", k)); const td = el("td"); if(v instanceof Node) td.appendChild(v); else td.textContent = v; tr.appendChild(td); t.appendChild(tr); } return t; }
async function loadLibrary(){
  const lib = await get("/scenarios/library");
  const sel = document.getElementById("scenario"), body = document.getElementById("library"), names = document.getElementById("scenario-names");
  for(const s of lib.scenarios){
    const o = el("option", s.name); o.value = s.id; sel.appendChild(o);
    const n = el("option"); n.value = s.id; n.label = s.name; names.appendChild(n);
    const tr = el("tr"); for(const v of [s.name, s.id, s.type, s.symbols.join(", "), s.bars]) tr.appendChild(el("td", v));
    body.appendChild(tr);
  }
}
let stream = null;
function followAll(){
  // one event stream for every active run: a browser opens at most 6 connections to a host,
  // and one stream per run froze the page (its refreshes waited) with 6 runs active
  if(stream) return;
  stream = new EventSource(withToken(API + "/events"));   // it reconnects by itself when the server ends it
  stream.addEventListener("progress", ev => { const p = JSON.parse(ev.data); paintProgress(p.run_id, p.bar, p.bars, p.equity, p.max_drawdown); });
  stream.addEventListener("state", ev => {
    const p = JSON.parse(ev.data); const c = document.querySelector('[data-state="'+p.run_id+'"]');
    if(c){ c.textContent = p.state; c.className = "state " + p.state; } else { refresh(); }
  });
  stream.addEventListener("end", ev => { refresh(); const p = JSON.parse(ev.data); if(p.run_id === selected) openRun(selected); });
}
function paintProgress(id, bar, bars, equity, dd){
  const pr = document.querySelector('[data-progress="'+id+'"]'); if(pr){ pr.max = bars; pr.value = bar + 1; }
  const eq = document.querySelector('[data-equity="'+id+'"]'); if(eq) eq.textContent = num(equity, 0);
  const d = document.querySelector('[data-dd="'+id+'"]'); if(d) d.textContent = num(dd, 1);
}
function filters(){
  return {scenario: document.getElementById("f-scenario").value.trim(), state: document.getElementById("f-state").value,
          since: iso(document.getElementById("f-since").value), until: iso(document.getElementById("f-until").value),
          limit: Number(document.getElementById("f-limit").value)};
}
async function refresh(){
  const f = filters();
  let page, st;
  try { [page, st] = await Promise.all([get("/results" + q({...f, offset})), get("/status")]); }
  catch(e){ document.getElementById("status").textContent = "server unreachable: " + e.message; return; }
  if(page.total && offset >= page.total){ offset = Math.max(0, Math.floor((page.total - 1) / f.limit) * f.limit); return refresh(); }
  lastTotal = page.total;
  document.getElementById("status").textContent = st.workers + " workers, " + st.running_tests + " running, " +
    st.queued_tests + " queued, " + st.completed_tests + " finished; trader " + st.trader;
  document.getElementById("range").textContent = page.total ? "runs " + (offset + 1) + "-" + (offset + page.results.length) + " of " + page.total + (f.scenario || f.state || f.since || f.until ? " matching" : "") : "no runs" + (f.scenario || f.state || f.since || f.until ? " match these filters" : " yet");
  document.getElementById("newer").disabled = offset === 0;
  document.getElementById("older").disabled = offset + page.results.length >= page.total;
  const names = document.getElementById("scenario-names");
  const body = document.getElementById("runs"); body.textContent = "";
  for(const r of page.results){
    if(r.scenario_id && r.scenario_id.startsWith("custom.") && !names.querySelector('option[value="'+CSS.escape(r.scenario_id)+'"]')){ const n = el("option"); n.value = r.scenario_id; n.label = r.scenario_name; names.appendChild(n); }
    const m = r.metrics || {}, tr = el("tr"); tr.dataset.run = r.run_id; if(r.run_id === selected) tr.className = "selected";
    const idc = el("td"), open = el("button", r.run_id, "open"); open.type = "button"; open.dataset.open = r.run_id; open.title = "settings, charts and history of this run"; open.onclick = () => openRun(r.run_id); idc.appendChild(open); tr.appendChild(idc);
    tr.appendChild(el("td", when(r.created_at)));
    const sc = el("td", r.scenario_name); if(r.breaking_point_note){ const n = el("div", r.breaking_point_note, "bp"); n.dataset.bp = r.run_id; sc.appendChild(n); } tr.appendChild(sc);
    const s = el("td", r.state, "state " + r.state); s.dataset.state = r.run_id; tr.appendChild(s);
    const pt = el("td"), pr = el("progress"); pr.dataset.progress = r.run_id; pr.max = r.progress.bars; pr.value = r.state === "finished" ? r.progress.bars : Math.max(r.progress.bar + 1, 0); pt.appendChild(pr); tr.appendChild(pt);
    tr.appendChild(el("td", r.duration_s === null ? "" : num(r.duration_s, 2) + " s"));
    const eq = el("td", num(r.state === "finished" ? m.final_equity : r.progress.equity, 0)); eq.dataset.equity = r.run_id; tr.appendChild(eq);
    const dd = el("td", num(r.state === "finished" ? m.max_drawdown : r.progress.max_drawdown, 1)); dd.dataset.dd = r.run_id; tr.appendChild(dd);
    tr.appendChild(el("td", num(m.total_pnl, 2))); tr.appendChild(el("td", m.total_trades));
    const rep = el("td"); if(r.state === "finished"){ const a = el("a", "report"); a.href = withToken(r.report_url); a.target = "_blank"; rep.appendChild(a); } tr.appendChild(rep);
    const act = el("td");
    if(r.state === "queued" || r.state === "running"){
      const b = el("button", "cancel"); b.onclick = async () => { await fetch(API + "/results/" + r.run_id + "/cancel", {method: "POST", headers: {"Content-Type": "application/json", ...HEAD}}); refresh(); }; act.appendChild(b);
    } else if(r.error){ act.appendChild(el("div", r.error.split("\n")[0], "err")); }
    tr.appendChild(act); body.appendChild(tr);
  }
}
function settingsOf(r){
  const s = (r.spec || {}).settings || {}, d = s.scenario || {};
  const params = d.parameters ? Object.entries(d.parameters).map(([k, v]) => k + "=" + v).join(", ") : "";
  return [["scenario type", d.type], ["bars", d.bars], ["timeframe", d.timeframe], ["seed", d.seed], ["symbols", (d.symbols || []).join(", ")],
          ["parameters", params], ["Monte Carlo paths", s.paths], ["exchange", s.exchange], ["account", s.account || "margin (default)"],
          ["trader", s.trader], ["trader version", s.trader_version]];
}
function breakingOf(r){
  const bp = r.breaking_point, box = el("div");
  box.appendChild(el("h3", "Breaking point: " + (r.breaking_point_note || bp.status)));
  box.appendChild(kv([["check on each path", (r.summary || {}).check], ["status", bp.status], ["bracket", (bp.bracket || []).map(x => x === null ? "-" : Number(x).toPrecision(4)).join(" to ")],
                      ["paths run", bp.evaluations], ["mildest failing scenario", bp.scenario_repr ? el("code", bp.scenario_repr) : null]]));
  const t = el("table"); t.dataset.levels = r.run_id; const h = el("tr");
  for(const c of [bp.axis || "severity", "paths", "failures", "failure rate", "verdict"]) h.appendChild(el("th", c)); t.appendChild(h);
  for(const lv of (bp.levels || [])){
    const tr = el("tr"); const rate = lv.paths ? lv.failures / lv.paths : null;
    for(const v of [Number(lv.x).toPrecision(4), lv.paths, lv.failures, rate === null ? "" : (100 * rate).toFixed(1) + "%"]) tr.appendChild(el("td", v));
    tr.appendChild(el("td", lv.verdict, lv.verdict === "fail" ? "fail" : "pass")); t.appendChild(tr);
  }
  box.appendChild(t);
  const c = el("div", null, "chart"), img = el("img"); img.alt = "failure rate by level"; img.dataset.chart = "breaking"; img.src = withToken(r.result_url + "/chart?of=breaking"); c.appendChild(img); box.appendChild(c);
  return box;
}
async function openRun(id){
  selected = id;
  for(const tr of document.querySelectorAll("tr[data-run]")) tr.className = tr.dataset.run === id ? "selected" : "";
  const box = document.getElementById("detail"); let r;
  try { r = await get("/results/" + encodeURIComponent(id)); } catch(e){ box.hidden = false; box.textContent = "run " + id + ": " + e.message; return; }
  box.textContent = ""; box.hidden = false; box.dataset.run = id;
  const h = el("h2", "Run " + r.run_id + ": " + r.scenario_name + " "); h.appendChild(el("span", r.state, "state " + r.state));
  const outcome = (r.summary || {}).outcome; if(outcome) h.appendChild(el("span", " (" + outcome + ")", outcome === "failed" ? "fail" : "pass"));
  box.appendChild(h);
  const cols = el("div", null, "cols"), left = el("div", null, "facts"), right = el("div"); cols.appendChild(left); cols.appendChild(right); box.appendChild(cols);
  const a1 = el("div"), a2 = el("div"); left.appendChild(a1); left.appendChild(a2);
  a1.appendChild(el("h3", "Settings"));
  a1.appendChild(kv(settingsOf(r)));
  const m = r.metrics || {};
  a2.appendChild(el("h3", "Key metrics"));
  a2.appendChild(kv(KEY.map(([k, label, d]) => [label, m[k] === undefined ? null : num(m[k], d)])));
  a2.appendChild(el("h3", "Timing"));
  a2.appendChild(kv([["submitted", when(r.created_at)], ["started", when(r.started_at)], ["finished", when(r.finished_at)],
                     ["duration", r.duration_s === null ? null : num(r.duration_s, 3) + " s"]]));
  if(r.error){ left.appendChild(el("h3", "Error" + (r.failure ? " (" + r.failure + ")" : ""))); left.appendChild(el("div", r.error, "err")); }
  if(r.state === "finished"){
    const h3 = el("h3", "Equity and drawdown ("), a = el("a", "the full report"); a.href = withToken(r.report_url); a.target = "_blank"; h3.appendChild(a); h3.appendChild(document.createTextNode(")"));
    const c = el("div", null, "chart"), img = el("img"); img.alt = "equity and drawdown"; img.dataset.chart = "equity"; img.src = withToken(r.result_url + "/chart"); c.appendChild(img);
    right.appendChild(h3); right.appendChild(c);
  }
  if(r.breaking_point) box.appendChild(breakingOf(r));
  const hist = el("div"); hist.id = "history"; box.appendChild(hist);
  await showHistory(r.scenario_id, r.scenario_name, hist);
}
async function showHistory(sid, name, box){
  let h;
  try { h = await get("/scenarios/" + encodeURIComponent(sid) + "/history?limit=30"); } catch(e){ box.textContent = "history: " + e.message; return; }
  const c = h.regression;
  box.appendChild(el("h3", "History of " + name + " (" + h.runs.length + " latest runs)"));
  const line = el("p"); line.dataset.check = c.checked ? (c.passed ? "passed" : "regressed") : "unchecked";
  if(!c.checked) line.appendChild(el("span", c.detail, "check"));
  else if(c.passed) line.appendChild(el("span", "no regression: " + c.detail + " (thresholds " + c.thresholds.join(", ") + ")", "check pass"));
  else { line.appendChild(el("span", "REGRESSION: " + c.detail + ": " + c.regressions.map(x => x.describe).join("; "), "check fail")); }
  box.appendChild(line);
  const regressed = new Set(c.regressions.map(x => x.metric)), same = new Set([...c.comparable_run_ids, c.latest_run_id, c.against_run_id]);
  const why = Object.fromEntries(c.not_comparable.map(x => [x.run_id, x.why]));
  const cols = el("div", null, "cols"), left = el("div", null, "narrow"), right = el("div", null, "wide"); cols.appendChild(left); cols.appendChild(right); box.appendChild(cols);
  if(h.runs.some(x => x.state === "finished")){
    const ch = el("div", null, "chart"), img = el("img"); img.alt = "key metrics run after run"; img.dataset.chart = "history";
    img.src = withToken(API + "/scenarios/" + encodeURIComponent(sid) + "/history/chart?limit=30"); ch.appendChild(img); left.appendChild(ch);
  }
  const t = el("table"); t.id = "history-runs"; const hr = el("tr");
  for(const x of ["run", "submitted", "state", "compared", "max DD %", "PnL", "Sharpe", "trades"]) hr.appendChild(el("th", x)); t.appendChild(hr); t.className = "nowrap";
  for(const r of h.runs){
    const m = r.metrics || {}, tr = el("tr"); tr.dataset.hrun = r.run_id;
    const role = r.run_id === c.latest_run_id ? "latest" : r.run_id === c.against_run_id ? "against" : same.has(r.run_id) ? "same" : "other";
    tr.className = role;
    const b = el("button", r.run_id, "open"); b.type = "button"; b.onclick = () => openRun(r.run_id); const td = el("td"); td.appendChild(b); tr.appendChild(td);
    tr.appendChild(el("td", when(r.created_at).slice(5, 16))); tr.appendChild(el("td", r.state, "state " + r.state));
    const cmp = el("td", role === "latest" ? "latest" : role === "against" ? "compared with" : role === "same" ? "same settings" : why[r.run_id] && why[r.run_id].startsWith("made under") ? "other settings" : (why[r.run_id] || "other settings"));
    if(why[r.run_id]) cmp.title = why[r.run_id]; tr.appendChild(cmp);
    for(const [k, d] of [["max_drawdown", 2], ["total_pnl", 2], ["sharpe_ratio", 2], ["total_trades", 0]]){
      const cell = el("td", num(m[k], d)); if(role === "latest" && regressed.has(k)){ cell.className = "regressed"; cell.dataset.regressed = k; cell.title = "regressed beyond its threshold"; } tr.appendChild(cell);
    }
    t.appendChild(tr);
  }
  right.appendChild(t);
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
for(const id of ["f-scenario", "f-state", "f-since", "f-until", "f-limit"]) document.getElementById(id).addEventListener("change", () => { offset = 0; refresh(); });
document.getElementById("filters").addEventListener("submit", ev => { ev.preventDefault(); offset = 0; refresh(); });
document.getElementById("f-clear").onclick = () => { for(const id of ["f-scenario", "f-state", "f-since", "f-until"]) document.getElementById(id).value = ""; offset = 0; refresh(); };
document.getElementById("newer").onclick = () => { offset = Math.max(0, offset - filters().limit); refresh(); };
document.getElementById("older").onclick = () => { if(offset + filters().limit < lastTotal){ offset += filters().limit; refresh(); } };
const OPEN = (new URLSearchParams(location.hash.slice(1))).get("run");   // /#run=ID opens that run
loadLibrary().then(refresh).then(() => OPEN && openRun(OPEN)).then(followAll).catch(e => { document.getElementById("status").textContent = "error: " + e.message; });
setInterval(refresh, 2000);
</script></body></html>
"""
