/**
 * The web dashboard served at `GET /`: one self-contained HTML page with its
 * CSS and JavaScript inline, so `deno compile` embeds it and the browser fetches
 * nothing but the proxy's own endpoints (`/stats`, `/monitor`, `/cache/entries`).
 *
 * @module
 */
import { formatUsd } from "../format.ts";

/**
 * The dashboard page, complete HTML, to be served as `text/html; charset=utf-8`.
 *
 * It shows the headline numbers of `GET /stats` (refreshed every 5 s and after
 * each call), a per-minute chart of hits, misses and errors over the last 30
 * minutes and a table of the last 100 calls, both fed live by `GET /monitor`
 * (read with `fetch` and parsed as SSE in the page, reconnecting with backoff),
 * and a cache browser over `GET /cache/entries` with search, paging, details
 * and an Invalidate button (`DELETE /cache/entries/:key`).
 *
 * When any endpoint answers 401 the page asks for the token in a small form,
 * keeps it in `sessionStorage` and sends it as `x-cache-auth` on every request.
 * The page uses inline `<script>` and `<style>`: a Content-Security-Policy on
 * `/`, if any, must allow them.
 */
export const DASHBOARD_HTML: string = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>llm-cache-proxy</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='8' fill='%234f46e5'/%3E%3Cpath d='M9 11h14M9 16h14M9 21h9' stroke='white' stroke-width='2.6' stroke-linecap='round'/%3E%3C/svg%3E">
<style>
:root {
  --bg: #f4f5f8; --card: #ffffff; --fg: #111827; --muted: #6b7280; --faint: #9ca3af;
  --border: #e5e7eb; --row: #f9fafb; --accent: #4f46e5; --accent-fg: #ffffff;
  --hit: #16a34a; --miss: #ea8a0c; --err: #dc2626; --grid: #eceef2;
  --shadow: 0 1px 2px rgb(16 24 40 / 5%), 0 1px 3px rgb(16 24 40 / 6%);
  --mono: ui-monospace, "SF Mono", SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0c0e13; --card: #151821; --fg: #e6e8ee; --muted: #9aa1b1; --faint: #6b7283;
    --border: #262a36; --row: #1a1e29; --accent: #818cf8; --accent-fg: #0c0e13;
    --hit: #34d399; --miss: #fbbf24; --err: #f87171; --grid: #222633;
    --shadow: none;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
button, input { font: inherit; color: inherit; }
.num, td.n, .kpi .v { font-variant-numeric: tabular-nums; }
.mono { font-family: var(--mono); font-size: 12.5px; }
.muted { color: var(--muted); }
[hidden] { display: none !important; }

header.top {
  position: sticky; top: 0; z-index: 5; display: flex; align-items: center; gap: 16px;
  padding: 12px max(20px, calc((100vw - 1400px) / 2)); background: color-mix(in srgb, var(--bg) 85%, transparent);
  backdrop-filter: blur(8px); border-bottom: 1px solid var(--border);
}
.brand { display: flex; align-items: center; gap: 10px; min-width: 0; }
.brand svg { flex: none; }
.brand h1 { font-size: 16px; margin: 0; font-weight: 650; letter-spacing: -0.01em; white-space: nowrap; }
.brand .host { color: var(--muted); font-size: 13px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.spacer { flex: 1; }
.seg { display: inline-flex; border: 1px solid var(--border); border-radius: 8px; overflow: hidden; background: var(--card); }
.seg button { border: 0; background: none; padding: 5px 11px; cursor: pointer; color: var(--muted); font-size: 13px; }
.seg button[aria-pressed="true"] { background: var(--accent); color: var(--accent-fg); }
.pill {
  display: inline-flex; align-items: center; gap: 7px; padding: 4px 10px; border-radius: 999px;
  border: 1px solid var(--border); background: var(--card); font-size: 12.5px; color: var(--muted); white-space: nowrap;
}
.pill::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--faint); }
.pill.live::before { background: var(--hit); box-shadow: 0 0 0 0 color-mix(in srgb, var(--hit) 60%, transparent); animation: pulse 2s infinite; }
.pill.wait::before { background: var(--miss); }
.pill.down::before { background: var(--err); }
@keyframes pulse { 70% { box-shadow: 0 0 0 6px transparent; } 100% { box-shadow: 0 0 0 0 transparent; } }

main { max-width: 1400px; margin: 0 auto; padding: 20px; display: grid; gap: 16px; }
.banner {
  padding: 10px 14px; border-radius: 10px; border: 1px solid color-mix(in srgb, var(--err) 35%, var(--border));
  background: color-mix(in srgb, var(--err) 8%, var(--card)); color: var(--fg);
}
.banner.info { border-color: color-mix(in srgb, var(--miss) 40%, var(--border)); background: color-mix(in srgb, var(--miss) 10%, var(--card)); }

.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; }
.kpi { background: var(--card); border: 1px solid var(--border); border-radius: 12px; padding: 14px 16px; box-shadow: var(--shadow); min-width: 0; }
.kpi h2 { margin: 0 0 6px; font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; }
.kpi .v { font-size: 28px; font-weight: 680; letter-spacing: -0.02em; line-height: 1.15; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.kpi .v.good { color: var(--hit); }
.kpi .sub { margin: 6px 0 0; font-size: 12.5px; color: var(--muted); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.meter { height: 6px; border-radius: 3px; background: var(--grid); margin-top: 9px; overflow: hidden; display: flex; }
.meter span { display: block; height: 100%; background: var(--hit); transition: width 0.4s; }
.meter span.m { background: var(--miss); }

.card { background: var(--card); border: 1px solid var(--border); border-radius: 12px; box-shadow: var(--shadow); min-width: 0; }
.card > header { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; padding: 12px 16px; border-bottom: 1px solid var(--border); }
.card > header h2 { margin: 0; font-size: 14px; font-weight: 650; }
.card > header .note { color: var(--muted); font-size: 12.5px; }
.row2 { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 16px; }
@media (max-width: 1000px) { .row2 { grid-template-columns: minmax(0, 1fr); } }

.legend { display: flex; gap: 14px; font-size: 12.5px; color: var(--muted); margin-left: auto; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 5px; vertical-align: -1px; background: currentColor; }
.legend .h::before { background: var(--hit); } .legend .m::before { background: var(--miss); } .legend .e::before { background: var(--err); }
.chart { position: relative; padding: 10px 12px 6px 4px; height: 232px; }
.chart svg { display: block; width: 100%; height: 100%; overflow: visible; }
.chart text { fill: var(--faint); font-size: 11px; }
.chart .gl { stroke: var(--grid); stroke-width: 1; }
.chart .bh { fill: var(--hit); } .chart .bm { fill: var(--miss); } .chart .be { fill: var(--err); }
.chart .hov { fill: var(--fg); opacity: 0; } .chart .hov:hover { opacity: 0.05; }
.tip {
  position: absolute; pointer-events: none; background: var(--fg); color: var(--bg); font-size: 12px; padding: 6px 9px;
  border-radius: 7px; white-space: nowrap; transform: translate(-50%, -100%); box-shadow: 0 4px 12px rgb(0 0 0 / 18%);
}

.tw { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-size: 11.5px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; padding: 8px 12px; border-bottom: 1px solid var(--border); white-space: nowrap; background: var(--card); }
td { padding: 7px 12px; border-bottom: 1px solid var(--border); white-space: nowrap; vertical-align: middle; }
tbody tr:last-child td { border-bottom: 0; }
th.n, td.n { text-align: right; }
td.snip { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 0; width: 40%; color: var(--muted); }
tr.click { cursor: pointer; }
tr.click:hover td, tr.click:focus-visible td { background: var(--row); }
tr.click:focus-visible { outline: 2px solid var(--accent); outline-offset: -2px; }
tr.new { animation: flash 1.2s ease-out; }
@keyframes flash { from { background: color-mix(in srgb, var(--accent) 16%, transparent); } to { background: transparent; } }
.scroll { max-height: 468px; overflow: auto; }
.scroll.tall { max-height: 620px; }
.scroll thead th { position: sticky; top: 0; z-index: 1; }
td.empty { text-align: center; color: var(--muted); padding: 28px 12px; white-space: normal; }
.saved { color: var(--hit); }
.bad { color: var(--err); font-weight: 600; }

.badge {
  --c: var(--faint); display: inline-block; padding: 1px 7px; border-radius: 6px; font-size: 11px; font-weight: 650;
  letter-spacing: 0.02em; color: var(--c); background: color-mix(in srgb, var(--c) 14%, transparent);
  border: 1px solid color-mix(in srgb, var(--c) 30%, transparent); font-family: var(--mono);
}
.k-HIT { --c: #16a34a; } .k-HIT-NORM { --c: #0d9488; } .k-HIT-SUFFIX { --c: #0891b2; }
.k-HIT-COALESCED { --c: #7c3aed; } .k-HIT-V2 { --c: #15803d; } .k-STALE { --c: #65a30d; }
.k-MISS { --c: #d97706; }
.k-ERROR { --c: #dc2626; } .k-BYPASS { --c: #64748b; } .k-PASS { --c: #64748b; }
@media (prefers-color-scheme: dark) {
  .k-HIT { --c: #4ade80; } .k-HIT-NORM { --c: #2dd4bf; } .k-HIT-SUFFIX { --c: #22d3ee; }
  .k-HIT-COALESCED { --c: #a78bfa; } .k-HIT-V2 { --c: #86efac; } .k-STALE { --c: #a3e635; }
  .k-MISS { --c: #fbbf24; }
  .k-ERROR { --c: #f87171; } .k-BYPASS { --c: #94a3b8; } .k-PASS { --c: #94a3b8; }
}
.mini { display: inline-block; width: 48px; height: 5px; border-radius: 3px; background: var(--grid); vertical-align: middle; margin-left: 6px; overflow: hidden; }
.mini span { display: block; height: 100%; background: var(--hit); }
.models { container-type: inline-size; }
@container (max-width: 460px) { .mini { display: none; } .models td, .models th { padding-left: 8px; padding-right: 8px; } }

.tools { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-left: auto; }
.search { position: relative; }
.search input {
  width: 260px; max-width: 60vw; padding: 6px 10px 6px 30px; border: 1px solid var(--border); border-radius: 8px; background: var(--bg);
}
.search input:focus { outline: 2px solid color-mix(in srgb, var(--accent) 45%, transparent); border-color: var(--accent); }
.search svg { position: absolute; left: 9px; top: 50%; transform: translateY(-50%); color: var(--faint); }
.btn {
  display: inline-flex; align-items: center; gap: 6px; border: 1px solid var(--border); background: var(--card); border-radius: 8px;
  padding: 6px 12px; cursor: pointer; font-size: 13px; font-weight: 550; white-space: nowrap;
}
.btn:hover:not(:disabled) { background: var(--row); }
.btn:disabled { opacity: 0.45; cursor: default; }
.btn:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.btn.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-fg); }
.btn.primary:hover:not(:disabled) { background: color-mix(in srgb, var(--accent) 88%, black); }
.btn.danger { color: var(--err); border-color: color-mix(in srgb, var(--err) 40%, var(--border)); }
.btn.danger:hover:not(:disabled) { background: color-mix(in srgb, var(--err) 10%, var(--card)); }
.pager { display: flex; align-items: center; gap: 10px; justify-content: flex-end; padding: 10px 16px; border-top: 1px solid var(--border); color: var(--muted); font-size: 13px; }

dialog {
  border: 1px solid var(--border); border-radius: 14px; background: var(--card); color: var(--fg); padding: 0;
  box-shadow: 0 24px 60px rgb(0 0 0 / 30%); max-width: calc(100vw - 24px);
}
dialog::backdrop { background: rgb(8 10 16 / 45%); backdrop-filter: blur(2px); }
#entry { width: 860px; max-height: calc(100vh - 48px); }
#entry[open] { display: flex; flex-direction: column; }
#entry > header { display: flex; align-items: center; gap: 12px; padding: 14px 18px; border-bottom: 1px solid var(--border); }
#entry > header h2 { margin: 0; font-size: 15px; }
#entry .x { margin-left: auto; border: 0; background: none; font-size: 22px; line-height: 1; cursor: pointer; color: var(--muted); padding: 2px 6px; border-radius: 6px; }
#entry .x:hover { background: var(--row); }
#entry .body { padding: 16px 18px; overflow: auto; }
#entry footer { display: flex; gap: 8px; align-items: center; padding: 12px 18px; border-top: 1px solid var(--border); }
dl.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px 18px; margin: 0 0 16px; }
dl.meta div { min-width: 0; }
dl.meta dt { font-size: 11.5px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
dl.meta dd { margin: 2px 0 0; overflow-wrap: anywhere; }
pre.bodyhead {
  margin: 0; padding: 12px 14px; background: var(--bg); border: 1px solid var(--border); border-radius: 10px;
  font: 12px/1.5 var(--mono); white-space: pre-wrap; overflow-wrap: anywhere; max-height: 46vh; overflow: auto;
}
.h3 { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; margin: 0 0 8px; display: flex; gap: 8px; }
#auth { width: 380px; }
#auth form { padding: 22px; display: grid; gap: 12px; }
#auth h2 { margin: 0; font-size: 17px; }
#auth p { margin: 0; color: var(--muted); }
#auth input { width: 100%; padding: 8px 10px; border: 1px solid var(--border); border-radius: 8px; background: var(--bg); font-family: var(--mono); }
#auth input:focus { outline: 2px solid color-mix(in srgb, var(--accent) 45%, transparent); border-color: var(--accent); }
#auth .err { color: var(--err); font-size: 13px; }
#toast {
  position: fixed; right: 20px; bottom: 20px; z-index: 50; background: var(--fg); color: var(--bg); padding: 10px 14px;
  border-radius: 10px; box-shadow: 0 8px 24px rgb(0 0 0 / 25%); transition: opacity 0.25s, transform 0.25s; opacity: 0;
  transform: translateY(8px); pointer-events: none;
}
#toast.show { opacity: 1; transform: none; }

@media (max-width: 720px) {
  header.top { flex-wrap: wrap; padding: 10px 14px; gap: 10px; }
  .brand .host { display: none; }
  main { padding: 12px; gap: 12px; }
  .kpi .v { font-size: 23px; }
  .opt { display: none; }
  td, th { padding: 7px 6px; }
  td:first-child, th:first-child { padding-left: 12px; }
  .mini { display: none; }
  .search input { width: 100%; max-width: none; }
  .tools, .search { width: 100%; }
  .search { flex: 1; }
  #entry { width: 100vw; max-height: 100vh; border-radius: 0; }
}
@media (prefers-reduced-motion: reduce) { *, *::before { animation: none !important; transition: none !important; } }
</style>
</head>
<body>
<header class="top">
  <div class="brand">
    <svg width="26" height="26" viewBox="0 0 32 32" aria-hidden="true"><rect width="32" height="32" rx="8" fill="#4f46e5"/><path d="M9 11h14M9 16h14M9 21h9" stroke="#fff" stroke-width="2.6" stroke-linecap="round"/></svg>
    <h1>llm-cache-proxy</h1>
    <span class="host" id="host"></span>
  </div>
  <span class="spacer"></span>
  <div class="seg" role="group" aria-label="Counters over">
    <button type="button" data-scope="all" aria-pressed="true">All time</button>
    <button type="button" data-scope="session" aria-pressed="false">This session</button>
  </div>
  <span id="conn" class="pill wait" role="status">Connecting</span>
</header>

<main>
  <div id="banner" class="banner" role="alert" hidden></div>
  <div id="offBanner" class="banner info" hidden>The cache is off (<span class="mono">llm-cache-proxy off</span>): every call is forwarded and nothing is stored. <span class="mono">llm-cache-proxy on</span> turns it back on.</div>
  <div id="storeBanner" class="banner info" hidden>The shared cache store is unreachable: every call goes straight to Anthropic until it is back. Caching resumes by itself.</div>

  <section class="kpis" aria-label="Headline numbers">
    <article class="kpi"><h2>Hit rate</h2><div class="v good" id="kHitRate">–</div>
      <div class="meter" aria-hidden="true"><span id="kHitBar" style="width:0"></span><span class="m" id="kMissBar" style="width:0"></span></div>
      <p class="sub" id="kHitSub">&nbsp;</p></article>
    <article class="kpi"><h2>Tokens saved</h2><div class="v" id="kTokSaved">–</div><p class="sub" id="kTokSub">&nbsp;</p></article>
    <article class="kpi"><h2>Dollars saved</h2><div class="v good" id="kUsdSaved">–</div><p class="sub" id="kUsdSavedSub">&nbsp;</p></article>
    <article class="kpi"><h2>Dollars spent</h2><div class="v" id="kUsdSpent">–</div><p class="sub" id="kUsdSpentSub">&nbsp;</p></article>
    <article class="kpi"><h2>Cache entries</h2><div class="v" id="kEntries">–</div><p class="sub" id="kEntriesSub">&nbsp;</p></article>
    <article class="kpi"><h2>Uptime</h2><div class="v" id="kUptime">–</div><p class="sub" id="kUptimeSub">&nbsp;</p></article>
  </section>

  <div class="row2">
    <section class="card" aria-labelledby="chartTitle">
      <header><h2 id="chartTitle">Calls per minute</h2><span class="note" id="chartNote">last 30 minutes</span>
        <div class="legend"><span class="h">Hits</span><span class="m">Misses</span><span class="e">Errors</span></div></header>
      <div class="chart" id="chart"><div class="tip" id="tip" hidden></div></div>
    </section>
    <section class="card models" aria-labelledby="modelsTitle">
      <header><h2 id="modelsTitle">By model</h2><span class="note" id="modelsNote"></span></header>
      <div class="tw"><table>
        <thead><tr><th>Model</th><th class="n">Calls</th><th class="n">Hit rate</th><th class="n">Saved</th><th class="n">Spent</th></tr></thead>
        <tbody id="models"><tr><td colspan="5" class="empty">No calls yet</td></tr></tbody>
      </table></div>
    </section>
  </div>

  <section class="card" aria-labelledby="callsTitle">
    <header><h2 id="callsTitle">Recent calls</h2><span class="note" id="callsNote">live · newest first · last 100</span></header>
    <div class="tw scroll"><table>
      <thead><tr><th>Time</th><th>Kind</th><th>Model</th><th class="n opt">Status</th><th class="n opt" title="input + output tokens">Tokens in + out</th><th class="n">$</th><th class="n">ms</th><th class="opt">Answer</th></tr></thead>
      <tbody id="calls"><tr class="placeholder"><td colspan="8" class="empty" id="callsEmpty">Waiting for calls…</td></tr></tbody>
    </table></div>
  </section>

  <section class="card" aria-labelledby="cacheTitle">
    <header><h2 id="cacheTitle">Cache</h2><span class="note" id="cacheNote"></span>
      <div class="tools">
        <label class="search"><svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true"><circle cx="7" cy="7" r="5" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M11 11l3.5 3.5" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>
          <input id="q" type="search" placeholder="Search model or answer text" aria-label="Search cache entries" autocomplete="off" spellcheck="false"></label>
        <button type="button" class="btn" id="reload" title="Reload the list">Refresh</button>
      </div>
    </header>
    <div class="tw scroll tall"><table>
      <thead><tr><th>Key</th><th>Model</th><th class="opt">Answer</th><th class="n opt">Size</th><th class="n">Hits</th><th class="n opt">Created</th><th class="n opt">Last hit</th><th class="n opt">Expires</th></tr></thead>
      <tbody id="entries"><tr><td colspan="8" class="empty">Loading…</td></tr></tbody>
    </table></div>
    <div class="pager"><span id="pageInfo"></span>
      <button type="button" class="btn" id="prev" disabled>‹ Previous</button>
      <button type="button" class="btn" id="next" disabled>Next ›</button></div>
  </section>
</main>

<dialog id="entry" aria-labelledby="entryTitle">
  <header><h2 id="entryTitle">Cache entry</h2><span class="mono muted" id="entryKeyShort"></span>
    <button type="button" class="x" id="entryClose" aria-label="Close">×</button></header>
  <div class="body">
    <div id="entryErr" class="banner" hidden></div>
    <dl class="meta" id="entryMeta"></dl>
    <div class="h3"><span>Response body</span><span id="entryBodyNote" style="text-transform:none;letter-spacing:0;font-weight:400"></span></div>
    <pre class="bodyhead" id="entryBody">Loading…</pre>
  </div>
  <footer><span class="muted" style="font-size:12.5px">Invalidating removes the stored answer: the next identical call goes upstream.</span>
    <span class="spacer"></span>
    <button type="button" class="btn danger" id="invalidate" disabled>Invalidate</button></footer>
</dialog>

<dialog id="auth" aria-labelledby="authTitle">
  <form id="authForm" autocomplete="off">
    <h2 id="authTitle">Token required</h2>
    <p>This proxy is protected by <span class="mono">CACHE_AUTH_TOKEN</span>. Enter the token to see its dashboard; it is kept for this browser tab only.</p>
    <input id="authToken" type="password" placeholder="Token" aria-label="Token" autocomplete="off" required>
    <div class="err" id="authErr" hidden></div>
    <button type="submit" class="btn primary">Unlock</button>
  </form>
</dialog>

<div id="toast" role="status" aria-live="polite"></div>

<script>
(() => {
  "use strict";
  const TOKEN_KEY = "llm-cache-proxy.token";
  const HIT_KINDS = new Set(["HIT", "HIT-NORM", "HIT-SUFFIX", "HIT-COALESCED", "HIT-V2", "STALE"]);
  const MAX_CALLS = 100;
  const PAGE = 50;
  const MINUTES = 30;
  const $ = (id) => document.getElementById(id);

  // ---------- formatting ----------
  const intFmt = new Intl.NumberFormat();
  const fmtInt = (n) => intFmt.format(Math.round(Number(n) || 0));
  function fmtCompact(n) {
    n = Number(n) || 0;
    const a = Math.abs(n);
    if (a < 1e4) return fmtInt(n);
    if (a < 1e6) return (n / 1e3).toFixed(a < 1e5 ? 1 : 0) + "k";
    if (a < 1e9) return (n / 1e6).toFixed(a < 1e7 ? 2 : 1) + "M";
    return (n / 1e9).toFixed(2) + "B";
  }
  // The command line's own money format (src/format.ts), embedded.
  ${formatUsd}
  const fmtUsd = (x) => formatUsd(Number(x) || 0);
  function fmtBytes(b) {
    b = Number(b) || 0;
    if (b < 1024) return b + " B";
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let i = -1;
    do { b /= 1024; i++; } while (b >= 1024 && i < units.length - 1);
    return (b < 10 ? b.toFixed(1) : Math.round(b)) + " " + units[i];
  }
  function fmtDuration(sec) {
    sec = Math.max(0, Math.floor(Number(sec) || 0));
    const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600);
    const m = Math.floor(sec % 3600 / 60), s = sec % 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + String(m).padStart(2, "0") + "m";
    if (m) return m + "m " + String(s).padStart(2, "0") + "s";
    return s + "s";
  }
  function fmtMs(ms) {
    ms = Number(ms) || 0;
    if (ms < 10) return ms.toFixed(1);
    if (ms < 10000) return fmtInt(ms);
    return (ms / 1000).toFixed(1) + " s";
  }
  function fmtRel(t) {
    if (!t) return "–";
    const d = (Number(t) - Date.now()) / 1000;
    const a = Math.abs(d);
    let v;
    if (a < 5) return "just now";
    if (a < 60) v = Math.round(a) + " s";
    else if (a < 3600) v = Math.round(a / 60) + " min";
    else if (a < 86400 * 2) v = Math.round(a / 3600) + " h";
    else v = Math.round(a / 86400) + " d";
    return d < 0 ? v + " ago" : "in " + v;
  }
  const plural = (n, one, many) => fmtInt(n) + " " + (n === 1 ? one : many);
  const pad2 = (n) => String(n).padStart(2, "0");
  const clock = (d) => pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
  const hhmm = (d) => pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  const pct = (x) => (x * 100 >= 99.95 || x === 0 ? (x * 100).toFixed(0) : (x * 100).toFixed(1)) + "%";
  function fmtDate(t) {
    if (!t) return "–";
    const d = new Date(Number(t));
    return d.toLocaleDateString(undefined, { month: "short", day: "numeric" }) + " " + clock(d) + " (" + fmtRel(t) + ")";
  }
  function usageTotals(u) {
    u = u || {};
    const input = (u.input_tokens || 0) + (u.cache_creation_input_tokens || 0) + (u.cache_read_input_tokens || 0);
    return { input, output: u.output_tokens || 0 };
  }
  function usageTitle(u) {
    u = u || {};
    return "input " + fmtInt(u.input_tokens) + " · cache write " + fmtInt(u.cache_creation_input_tokens) +
      " · cache read " + fmtInt(u.cache_read_input_tokens) + " · output " + fmtInt(u.output_tokens);
  }

  // DOM helper: el("td", { class: "n", title: "…" }, child or text…)
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k in attrs) {
        const v = attrs[k];
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") e.className = v;
        else if (k === "text") e.textContent = v;
        else e.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  /** "claude-sonnet-4-5-20250929" -> "sonnet-4-5"; the full name goes in a title. */
  const shortModel = (m) => String(m).replace(/^claude-/, "").replace(/-\d{8}$/, "");
  const badge = (kind) => el("span", { class: "badge k-" + String(kind).replace(/[^A-Z-]/g, ""), text: kind });
  const setText = (id, text, title) => {
    const e = $(id);
    e.textContent = text;
    if (title !== undefined) e.title = title;
  };

  let toastTimer = 0;
  function toast(msg) {
    const t = $("toast");
    t.textContent = msg;
    t.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.remove("show"), 2600);
  }
  function showBanner(msg) {
    const b = $("banner");
    b.textContent = msg;
    b.hidden = !msg;
  }

  // ---------- requests, with the token ----------
  let token = "";
  try { token = sessionStorage.getItem(TOKEN_KEY) || ""; } catch { /* storage disabled */ }
  let authWait = null;

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, init) {
    for (;;) {
      const sent = token;
      const headers = new Headers((init && init.headers) || {});
      if (sent) headers.set("x-cache-auth", sent);
      const res = await fetch(path, { ...init, headers, cache: "no-store" });
      if (res.status !== 401) return res;
      try { await res.body?.cancel(); } catch { /* already closed */ }
      await askToken(sent);
    }
  }
  async function json(path, init) {
    const res = await api(path, init);
    let body = null;
    try { body = await res.json(); } catch { /* not JSON */ }
    if (!res.ok) {
      const msg = body && body.error && body.error.message ? body.error.message : "HTTP " + res.status;
      throw new ApiError(res.status, msg);
    }
    return body;
  }

  /** Resolves once a token other than the one just refused is set. */
  function askToken(refused) {
    if (token !== refused) return Promise.resolve();
    if (!authWait) {
      authWait = new Promise((resolve) => {
        const dlg = $("auth"), input = $("authToken"), err = $("authErr");
        err.textContent = refused ? "That token was not accepted. Try again." : "";
        err.hidden = !refused;
        input.value = "";
        const conn = $("conn"), before = [conn.className.replace("pill ", ""), conn.textContent];
        setConn("down", "Locked");
        const form = $("authForm");
        const onSubmit = (ev) => {
          ev.preventDefault();
          const value = input.value.trim();
          if (!value) return;
          form.removeEventListener("submit", onSubmit);
          token = value;
          try { sessionStorage.setItem(TOKEN_KEY, value); } catch { /* storage disabled */ }
          dlg.close();
          if ($("conn").textContent === "Locked") setConn(before[0], before[1]);
          authWait = null;
          resolve();
        };
        form.addEventListener("submit", onSubmit);
        if (!dlg.open) dlg.showModal();
        input.focus();
      });
    }
    return authWait;
  }
  $("auth").addEventListener("cancel", (ev) => ev.preventDefault());

  // ---------- headline numbers ----------
  let stats = null;
  let statsAt = 0;
  let scope = "all";
  let statsBusy = false, statsAgain = false;

  const scheduleStats = throttled(() => refreshStats());
  async function refreshStats() {
    if (statsBusy) { statsAgain = true; return; }
    statsBusy = true;
    try {
      stats = await json("/stats");
      statsAt = Date.now();
      showBanner("");
      renderStats();
    } catch (e) {
      showBanner("Could not load /stats: " + (e && e.message ? e.message : e));
    } finally {
      statsBusy = false;
      if (statsAgain) { statsAgain = false; scheduleStats(100); }
    }
  }

  function renderStats() {
    if (!stats) return;
    const s = scope === "session" && stats.session ? stats.session : stats;
    const hits = s.hits || 0, misses = s.misses || 0, calls = s.calls || 0;
    const rate = typeof s.hitRate === "number" ? s.hitRate : (hits + misses ? hits / (hits + misses) : 0);
    setText("kHitRate", hits + misses ? pct(rate) : "–");
    $("kHitBar").style.width = (hits + misses ? rate * 100 : 0) + "%";
    $("kMissBar").style.width = (hits + misses ? (1 - rate) * 100 : 0) + "%";
    setText("kHitSub", plural(hits, "hit", "hits") + " · " + plural(misses, "miss", "misses"),
      fmtInt(calls) + " calls: " + fmtInt(hits) + " hits, " + fmtInt(misses) + " misses, " + fmtInt(s.errors || 0) +
      " errors, " + fmtInt(s.bypassed || 0) + " bypassed");
    setText("kTokSaved", fmtCompact(s.tokensSaved), fmtInt(s.tokensSaved) + " tokens");
    setText("kTokSub", fmtCompact(s.tokensSpent) + " spent", fmtInt(s.tokensSpent) + " tokens spent");
    setText("kUsdSaved", fmtUsd(s.usdSaved), "$" + (Number(s.usdSaved) || 0).toFixed(6));
    setText("kUsdSavedSub", Math.round(Number(s.savingsPct) || 0) + "% of total cost",
      "Saved over saved plus spent: what the calls would have cost without the cache");
    setText("kUsdSpent", fmtUsd(s.usdSpent), "$" + (Number(s.usdSpent) || 0).toFixed(6));
    setText("kUsdSpentSub", "on " + plural(misses, "upstream call", "upstream calls"));
    const c = stats.store || {};
    setText("kEntries", fmtInt(c.entries));
    setText("kEntriesSub", fmtBytes(c.bytes) + " stored", fmtInt(c.bytes) + " bytes");
    $("offBanner").hidden = stats.cache !== "off";
    $("storeBanner").hidden = c.state !== "degraded";
    renderUptime();
    renderModels(s.models || {});
    document.title = (hits + misses ? pct(rate) + " hits · " : "") + "llm-cache-proxy";
  }
  function renderUptime() {
    if (!stats) return;
    setText("kUptime", fmtDuration((stats.uptimeSec || 0) + (Date.now() - statsAt) / 1000));
    if (stats.startedAt) {
      const d = new Date(stats.startedAt);
      setText("kUptimeSub", "since " + d.toLocaleDateString(undefined, { month: "short", day: "numeric" }) + " " + hhmm(d), d.toString());
    }
  }
  function renderModels(models) {
    const tbody = $("models");
    const rows = Object.entries(models).sort((a, b) => (b[1].calls || 0) - (a[1].calls || 0));
    tbody.replaceChildren();
    if (!rows.length) {
      tbody.append(el("tr", null, el("td", { colspan: 5, class: "empty", text: "No calls yet" })));
    }
    for (const [name, m] of rows) {
      const hm = (m.hits || 0) + (m.misses || 0);
      const r = hm ? (m.hits || 0) / hm : 0;
      tbody.append(el("tr", null,
        el("td", { class: "mono", text: shortModel(name), title: name }),
        el("td", { class: "n", text: fmtInt(m.calls) }),
        el("td", { class: "n" }, hm ? pct(r) : "–", el("span", { class: "mini" }, el("span", { style: "width:" + r * 100 + "%" }))),
        el("td", { class: "n saved", text: fmtUsd(m.usdSaved) }),
        el("td", { class: "n", text: fmtUsd(m.usdSpent) })));
    }
    setText("modelsNote", scope === "session" ? "this session" : "all time");
  }
  for (const b of document.querySelectorAll(".seg button")) {
    b.addEventListener("click", () => {
      scope = b.dataset.scope;
      for (const o of document.querySelectorAll(".seg button")) o.setAttribute("aria-pressed", String(o === b));
      renderStats();
    });
  }

  // ---------- chart ----------
  // Minute number -> { h, m, e }. Only /monitor feeds it, so it starts when the page does; it is
  // kept in sessionStorage so that a reload does not empty it.
  const CHART_KEY = "llm-cache-proxy.chart";
  const buckets = new Map();
  let chartSince = Date.now();
  try {
    const saved = JSON.parse(sessionStorage.getItem(CHART_KEY) || "null");
    if (saved && typeof saved.since === "number" && Array.isArray(saved.buckets)) {
      chartSince = Math.min(chartSince, saved.since);
      for (const [minute, h, m, e] of saved.buckets) buckets.set(minute, { h, m, e });
    }
  } catch { /* storage disabled or garbled */ }
  function saveChart() {
    const rows = [...buckets].map(([minute, b]) => [minute, b.h, b.m, b.e]);
    try { sessionStorage.setItem(CHART_KEY, JSON.stringify({ since: chartSince, buckets: rows })); } catch { /* full or disabled */ }
  }
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function countInChart(ev) {
    let t = Date.parse(ev.time);
    if (!Number.isFinite(t) || Math.abs(t - Date.now()) > 120000) t = Date.now(); // clock skew: use ours
    const minute = Math.floor(t / 60000);
    let b = buckets.get(minute);
    if (!b) buckets.set(minute, b = { h: 0, m: 0, e: 0 });
    if (HIT_KINDS.has(ev.kind)) b.h++;
    else if (ev.kind === "MISS") b.m++;
    else if (ev.kind === "ERROR") b.e++;
    else return;
    saveChart();
    scheduleChart();
  }
  let chartQueued = false;
  function scheduleChart() {
    if (chartQueued) return;
    chartQueued = true;
    requestAnimationFrame(() => { chartQueued = false; drawChart(); });
  }
  function niceStep(max) {
    const raw = max / 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const f of [1, 2, 5, 10]) if (f * p >= raw) return Math.max(1, f * p);
    return 10 * p;
  }
  function drawChart() {
    const box = $("chart");
    const W = Math.max(240, box.clientWidth - 16), H = Math.max(120, box.clientHeight - 16);
    const L = 34, R = 6, T = 8, B = 22;
    const pw = W - L - R, ph = H - T - B;
    const now = Math.floor(Date.now() / 60000);
    for (const k of buckets.keys()) if (k <= now - MINUTES) buckets.delete(k);
    const data = [];
    let max = 0, th = 0, tm = 0, te = 0;
    for (let i = MINUTES - 1; i >= 0; i--) {
      const minute = now - i;
      const b = buckets.get(minute) || { h: 0, m: 0, e: 0 };
      data.push({ minute, ...b });
      max = Math.max(max, b.h + b.m + b.e);
      th += b.h; tm += b.m; te += b.e;
    }
    const step = niceStep(Math.max(max, 4));
    const top = Math.max(step * Math.ceil(max / step), step * 2);
    const y = (v) => T + ph - (v / top) * ph;
    const s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
      "aria-label": "Hits, misses and errors per minute over the last 30 minutes" });
    for (let v = 0; v <= top + 1e-9; v += step) {
      s.append(svg("line", { class: "gl", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      const t = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" });
      t.textContent = fmtCompact(v);
      s.append(t);
    }
    const slot = pw / MINUTES;
    const bw = Math.max(2, Math.min(22, slot * 0.68));
    data.forEach((d, i) => {
      const x = L + i * slot + (slot - bw) / 2;
      let base = 0;
      for (const [v, cls] of [[d.h, "bh"], [d.m, "bm"], [d.e, "be"]]) {
        if (!v) continue;
        const y0 = y(base), y1 = y(base + v);
        s.append(svg("rect", { class: cls, x, y: y1, width: bw, height: Math.max(1, y0 - y1), rx: Math.min(2, bw / 4) }));
        base += v;
      }
      const date = new Date(d.minute * 60000);
      const every = slot < 14 ? 10 : 5;
      if (i === MINUTES - 1 || (d.minute % every === 0 && i < MINUTES - 4)) {
        const t = svg("text", { x: L + i * slot + slot / 2, y: H - 6, "text-anchor": "middle" });
        t.textContent = i === MINUTES - 1 ? "now" : hhmm(date);
        s.append(t);
      }
      const hov = svg("rect", { class: "hov", x: L + i * slot, y: T, width: slot, height: ph });
      hov.addEventListener("mouseenter", () => {
        const tip = $("tip");
        tip.textContent = hhmm(date) + " · " + plural(d.h, "hit", "hits") + " · " + plural(d.m, "miss", "misses") +
          (d.e ? " · " + plural(d.e, "error", "errors") : "");
        tip.style.left = (L + i * slot + slot / 2 + 4) + "px";
        tip.style.top = (y(d.h + d.m + d.e) + 4) + "px";
        tip.hidden = false;
      });
      hov.addEventListener("mouseleave", () => { $("tip").hidden = true; });
      s.append(hov);
    });
    const old = box.querySelector("svg");
    if (old) old.replaceWith(s); else box.prepend(s);
    const since = chartSince > Date.now() - MINUTES * 60000 ? "since " + hhmm(new Date(chartSince)) : "last 30 min";
    setText("chartNote", since + " · " + plural(th, "hit", "hits") + " · " + plural(tm, "miss", "misses") +
      (te ? " · " + plural(te, "error", "errors") : ""));
  }
  new ResizeObserver(() => scheduleChart()).observe($("chart"));

  // ---------- live calls ----------
  function addCall(ev) {
    const tbody = $("calls");
    const ph = tbody.querySelector(".placeholder");
    if (ph) ph.remove();
    const t = new Date(ev.time);
    const tok = usageTotals(ev.usage);
    const hit = HIT_KINDS.has(ev.kind);
    const status = Number(ev.status) || 0;
    const tr = el("tr", { class: "new" + (ev.key ? " click" : ""), tabindex: ev.key ? 0 : null,
        title: ev.key ? "Open cache entry " + ev.key : null, "data-kind": ev.kind },
      el("td", { class: "mono", text: isNaN(t) ? "" : clock(t), title: ev.time }),
      el("td", null, badge(ev.kind)),
      el("td", { class: "mono", text: ev.model ? shortModel(ev.model) : ev.path, title: (ev.model || "") + " " + ev.path }),
      el("td", { class: "n opt" + (status >= 400 ? " bad" : ""), text: status || "–" }),
      el("td", { class: "n opt", text: tok.input + tok.output ? fmtCompact(tok.input) + " + " + fmtCompact(tok.output) : "–", title: usageTitle(ev.usage) }),
      el("td", { class: "n" + (hit && ev.dollars ? " saved" : ""), text: ev.dollars ? fmtUsd(ev.dollars) : "–", title: ev.dollars ? (hit ? "saved" : "spent") : null }),
      el("td", { class: "n", text: fmtMs(ev.durationMs) }),
      el("td", { class: "snip opt", text: ev.snippet || "", title: ev.snippet || "" }));
    if (ev.key) {
      tr.addEventListener("click", () => openEntry(ev.key));
      tr.addEventListener("keydown", (k) => { if (k.key === "Enter") openEntry(ev.key); });
    }
    tr.addEventListener("animationend", () => tr.classList.remove("new"), { once: true });
    tbody.prepend(tr);
    while (tbody.rows.length > MAX_CALLS) tbody.lastElementChild.remove();
  }

  // ---------- monitor: SSE over fetch ----------
  let monitorServer = null, lastSeq = 0;
  function setConn(state, text) {
    const c = $("conn");
    c.className = "pill " + state;
    c.textContent = text;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function readSse(body, onEvent, onActivity) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "", event = "", data = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        onActivity();
        buf += value;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          let line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.endsWith("\r")) line = line.slice(0, -1);
          if (line === "") {
            if (data.length) onEvent(event || "message", data.join("\n"));
            event = ""; data = [];
            continue;
          }
          if (line[0] === ":") continue;
          const c = line.indexOf(":");
          const field = c < 0 ? line : line.slice(0, c);
          let val = c < 0 ? "" : line.slice(c + 1);
          if (val[0] === " ") val = val.slice(1);
          if (field === "event") event = val;
          else if (field === "data") data.push(val);
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  function onSse(event, data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (event === "connected") {
      if (monitorServer !== msg.startedAt) { monitorServer = msg.startedAt; lastSeq = 0; }
      scheduleStats(0);
      return;
    }
    if (event !== "call" || !msg || typeof msg !== "object") return;
    if (typeof msg.seq === "number") {
      if (msg.seq <= lastSeq) return;
      lastSeq = msg.seq;
    }
    addCall(msg);
    countInChart(msg);
    scheduleStats(150);
    if (entriesOffset === 0 && (HIT_KINDS.has(msg.kind) || msg.kind === "MISS")) scheduleEntries(700);
  }

  async function monitor() {
    let delay = 1000;
    for (;;) {
      const ctl = new AbortController();
      let watchdog = 0;
      const arm = () => { clearTimeout(watchdog); watchdog = setTimeout(() => ctl.abort(), 75000); };
      try {
        setConn("wait", "Connecting");
        const res = await api("/monitor", { headers: { accept: "text/event-stream" }, signal: ctl.signal });
        if (!res.ok || !res.body) {
          try { await res.body?.cancel(); } catch { /* closed */ }
          throw new Error("/monitor answered " + res.status);
        }
        setConn("live", "Live");
        delay = 1000;
        arm();
        await readSse(res.body, onSse, arm);
      } catch {
        // dropped, refused or timed out: retry below
      } finally {
        clearTimeout(watchdog);
      }
      if (ctl.signal.aborted) continue; // silent stream: reconnect at once
      for (let left = Math.round(delay / 1000); left > 0; left--) {
        setConn("down", "Reconnecting in " + left + " s");
        await sleep(1000);
      }
      delay = Math.min(delay * 2, 30000);
    }
  }

  // ---------- cache browser ----------
  let entriesOffset = 0, entriesQuery = "", entriesGen = 0;
  const scheduleEntries = throttled(() => loadEntries());
  async function loadEntries() {
    const gen = ++entriesGen;
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(entriesOffset) });
    if (entriesQuery) params.set("q", entriesQuery);
    const tbody = $("entries");
    let body;
    try {
      body = await json("/cache/entries?" + params);
    } catch (e) {
      if (gen !== entriesGen) return;
      tbody.replaceChildren(el("tr", null, el("td", { colspan: 8, class: "empty", text: "Could not list entries: " + e.message })));
      return;
    }
    if (gen !== entriesGen) return;
    const list = Array.isArray(body && body.entries) ? body.entries : [];
    tbody.replaceChildren();
    if (!list.length) {
      const text = entriesOffset ? "No more entries." : entriesQuery ? "No entry matches \u201c" + entriesQuery + "\u201d." : "The cache is empty.";
      tbody.append(el("tr", null, el("td", { colspan: 8, class: "empty", text })));
    }
    for (const e of list) {
      const tr = el("tr", { class: "click", tabindex: 0, "data-key": e.key, title: "Open " + e.key },
        el("td", { class: "mono", text: String(e.key).slice(0, 12) }),
        el("td", { class: "mono", text: e.model ? shortModel(e.model) : "–", title: e.model || "" }),
        el("td", { class: "snip opt", text: e.snippet || "", title: e.snippet || "" }),
        el("td", { class: "n opt", text: fmtBytes(e.size), title: fmtInt(e.size) + " bytes" }),
        el("td", { class: "n", text: fmtInt(e.hitCount) }),
        el("td", { class: "n opt", text: fmtRel(e.createdAt), title: new Date(e.createdAt).toString() }),
        el("td", { class: "n opt", text: e.hitCount ? fmtRel(e.lastHitAt) : "never", title: e.lastHitAt ? new Date(e.lastHitAt).toString() : "" }),
        el("td", { class: "n opt", text: fmtRel(e.expiresAt), title: new Date(e.expiresAt).toString() }));
      tr.addEventListener("click", () => openEntry(e.key));
      tr.addEventListener("keydown", (k) => { if (k.key === "Enter") openEntry(e.key); });
      tbody.append(tr);
    }
    setText("pageInfo", list.length ? "Showing " + fmtInt(entriesOffset + 1) + "–" + fmtInt(entriesOffset + list.length) : "");
    $("prev").disabled = entriesOffset === 0;
    $("next").disabled = list.length < PAGE;
    setText("cacheNote", entriesQuery ? "matching \u201c" + entriesQuery + "\u201d" : "newest first");
  }
  let searchTimer = 0;
  $("q").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      entriesQuery = $("q").value.trim();
      entriesOffset = 0;
      loadEntries().catch(report);
    }, 250);
  });
  $("reload").addEventListener("click", () => { loadEntries().catch(report); });
  $("prev").addEventListener("click", () => { entriesOffset = Math.max(0, entriesOffset - PAGE); loadEntries().catch(report); });
  $("next").addEventListener("click", () => { entriesOffset += PAGE; loadEntries().catch(report); });

  // ---------- entry details ----------
  let openKey = null, openGen = 0;
  async function openEntry(key) {
    const gen = ++openGen;
    openKey = null;
    const dlg = $("entry");
    $("entryErr").hidden = true;
    $("entryMeta").replaceChildren();
    setText("entryKeyShort", String(key).slice(0, 12));
    setText("entryBody", "Loading…");
    setText("entryBodyNote", "");
    $("invalidate").disabled = true;
    if (!dlg.open) dlg.showModal();
    let e;
    try {
      e = await json("/cache/entries/" + encodeURIComponent(key));
    } catch (err) {
      if (gen !== openGen) return;
      const gone = err.status === 404;
      $("entryErr").textContent = gone ? "This entry is no longer in the cache (expired, evicted or invalidated)." : "Could not load the entry: " + err.message;
      $("entryErr").hidden = false;
      setText("entryBody", "");
      return;
    }
    if (gen !== openGen) return;
    openKey = e.key;
    setText("entryKeyShort", String(e.key).slice(0, 12));
    const tok = usageTotals(e.usage);
    const meta = [
      ["Key", el("span", { class: "mono", text: e.key })],
      ["Model", e.model || "–"],
      ["Path", e.path || "–"],
      ["Status · type", (e.status || "–") + " · " + (e.contentType || "–")],
      ["Size", fmtBytes(e.size ?? e.bodyBytes) + " (" + fmtInt(e.size ?? e.bodyBytes) + " bytes)"],
      ["Hits", fmtInt(e.hitCount)],
      ["Tokens", fmtInt(tok.input) + " in · " + fmtInt(tok.output) + " out"],
      ["Created", fmtDate(e.createdAt)],
      ["Last hit", e.hitCount ? fmtDate(e.lastHitAt) : "never"],
      ["Expires", fmtDate(e.expiresAt)],
    ];
    $("entryMeta").replaceChildren(...meta.map(([k, v]) => el("div", null, el("dt", { text: k }), el("dd", null, v))));
    let text = typeof e.bodyHead === "string" ? e.bodyHead : "";
    const total = Number(e.bodyBytes ?? e.size) || 0;
    const shown = new TextEncoder().encode(text).length;
    if (text && shown >= total) {
      try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* SSE or not JSON */ }
    }
    setText("entryBody", text || "(empty)");
    setText("entryBodyNote", total > shown ? "first " + fmtBytes(shown) + " of " + fmtBytes(total) : fmtBytes(total));
    $("invalidate").disabled = false;
  }
  $("entryClose").addEventListener("click", () => $("entry").close());
  $("entry").addEventListener("click", (ev) => { if (ev.target === $("entry")) $("entry").close(); });
  $("entry").addEventListener("close", () => { openGen++; openKey = null; });
  $("invalidate").addEventListener("click", async () => {
    const key = openKey;
    if (!key) return;
    const btn = $("invalidate");
    btn.disabled = true;
    try {
      const res = await api("/cache/entries/" + encodeURIComponent(key), { method: "DELETE" });
      try { await res.body?.cancel(); } catch { /* closed */ }
      if (!res.ok && res.status !== 404) throw new Error("HTTP " + res.status);
      $("entry").close();
      toast(res.ok ? "Invalidated " + key.slice(0, 12) + ": the next identical call goes upstream." : "That entry was already gone.");
      loadEntries().catch(report);
      scheduleStats(0);
    } catch (e) {
      btn.disabled = false;
      $("entryErr").textContent = "Could not invalidate: " + (e && e.message ? e.message : e);
      $("entryErr").hidden = false;
    }
  });

  /**
   * Wraps an async job so that schedule(ms) runs it once within ms: a pending run is kept (or
   * brought forward), never pushed back, so a steady stream of events cannot starve it.
   */
  function throttled(job) {
    let timer = 0, due = Infinity;
    return (delay) => {
      const at = Date.now() + delay;
      if (at >= due) return;
      clearTimeout(timer);
      due = at;
      timer = setTimeout(() => { due = Infinity; job().catch(report); }, delay);
    };
  }

  function report(e) {
    showBanner(String(e && e.message ? e.message : e));
  }

  // ---------- start ----------
  setText("host", location.host);
  setText("callsEmpty", "Waiting for calls… Point a client at ANTHROPIC_BASE_URL=" + location.origin);
  drawChart();
  refreshStats().catch(report);
  loadEntries().catch(report);
  monitor().catch(report);
  setInterval(() => { refreshStats().catch(report); }, 5000);
  setInterval(renderUptime, 1000);
  setInterval(scheduleChart, 10000);
})();
</script>
</body>
</html>
`;
