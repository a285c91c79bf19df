import assert from "node:assert/strict";
import type { CallEvent } from "../../src/stats/events.ts";
import type { Page } from "playwright-core";
import { launchChromium, watchProblems } from "../support/browser.ts";
import { messageBody, postMessage, type ProxyUnderTest, startProxy } from "../support/proxy.ts";
import { needs } from "../support/tools.ts";

/** Sends a message through the proxy, reads the answer, returns its `x-cache`. */
async function call(
  proxy: ProxyUnderTest,
  text: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<string | null> {
  const res = await postMessage(proxy, messageBody(text, extra), headers);
  await res.arrayBuffer();
  return res.headers.get("x-cache");
}

const VIEWPORT = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

/** Eleven calls of every sort: 4 hits, 5 misses (one in namespace "team"), a bypass and an error. */
async function elevenCalls(proxy: ProxyUnderTest): Promise<void> {
  const capital = (max_tokens: number) => ({ max_tokens });
  const served = [
    await call(proxy, "hi"),
    await call(proxy, "hi"),
    await call(proxy, "hi"),
    await call(proxy, "Tell me a story", { stream: true }),
    await call(proxy, "Tell me a story", { stream: true }),
    await call(proxy, "[mock:529]"),
    await call(proxy, "hi", {}, { "x-cache-bypass": "1" }),
    await call(proxy, "hi", {}, { "x-cache-namespace": "team" }),
    await call(proxy, "hi", {}, { "x-cache-namespace": "team" }),
    await call(proxy, "What is the capital of France?", capital(100)),
    await call(proxy, "What is the capital of France?", capital(200)),
  ];
  assert.deepEqual(served, [
    "MISS",
    "HIT",
    "HIT",
    "MISS",
    "HIT",
    "MISS",
    "BYPASS",
    "MISS",
    "HIT",
    "MISS",
    "MISS",
  ]);
}

interface Sizes {
  page: number;
  viewport: number;
  /** Each table's box: how wide its content is, how wide it shows, where it ends. */
  tables: { id: string; scroll: number; client: number; right: number }[];
}

/** The page has no horizontal scroll, and every table ("By model" first) fits its card. */
async function assertNoOverflow(page: Page): Promise<void> {
  // A string, run in the page: this file is type-checked without the DOM's types.
  const sizes: Sizes = await page.evaluate(`({
    page: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    tables: [...document.querySelectorAll(".tw")].map((box) => ({
      id: box.querySelector("tbody").id,
      scroll: box.scrollWidth,
      client: box.clientWidth,
      right: box.querySelector("table").getBoundingClientRect().right,
    })),
  })`);
  assert.ok(sizes.page <= sizes.viewport, `the page scrolls sideways: ${JSON.stringify(sizes)}`);
  assert.equal(sizes.tables[0]?.id, "models");
  for (const table of sizes.tables) {
    const where = JSON.stringify(table);
    assert.ok(table.scroll <= table.client, `#${table.id} is cut off: ${where}`);
    assert.ok(table.right <= sizes.viewport, `#${table.id} leaves the screen: ${where}`);
  }
}

Deno.test(
  "dashboard: shows calls live, keeps them over a reload, filters them, explains a miss, and Invalidate asks first",
  needs("chromium"),
  async () => {
    await using proxy = await startProxy();
    const seen: CallEvent[] = [];
    proxy.stats.events.subscribe((event) => seen.push(event));
    await using browser = await launchChromium();
    const page = await browser.newPage({ viewport: VIEWPORT, colorScheme: "light" });
    const problems = watchProblems(page);

    const loaded = await page.goto(`${proxy.url}/`);
    assert.equal(loaded?.status(), 200);
    assert.match(loaded?.headers()["content-type"] ?? "", /^text\/html/);
    const csp = loaded?.headers()["content-security-policy"] ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/, "no inline script or style is allowed");
    await page.locator("#conn.live").waitFor({ timeout: 5_000 });
    await page.locator("#kEntries", { hasText: "0" }).waitFor({ timeout: 5_000 });
    await page.locator("#entries td.empty", { hasText: "empty" }).waitFor({ timeout: 5_000 });
    await page.locator("#chart text.nodata").waitFor({ timeout: 5_000 });

    // A call made through the proxy shows up in the live table within a second.
    assert.equal(await call(proxy, "warm-up"), "MISS");
    await page.locator("#calls tr[data-kind=MISS]").first().waitFor({ timeout: 1_000 });
    await elevenCalls(proxy);
    const calls = page.locator("#calls tr:not(.placeholder)");
    await calls.nth(11).waitFor({ timeout: 3_000 });
    await page.locator("#kHitRate", { hasText: "40.0%" }).waitFor({ timeout: 3_000 });
    await page.locator("#kEntries", { hasText: "6" }).waitFor({ timeout: 3_000 });

    /** What the charts and the table show, read from the page. */
    const shown = (): Promise<Record<string, number | string | boolean>> =>
      page.evaluate(`({
        calls: document.querySelectorAll("#calls tr:not(.placeholder):not([hidden])").length,
        hitBars: document.querySelectorAll("#chart rect.bh").length,
        missBars: document.querySelectorAll("#chart rect.bm").length,
        bypassBars: document.querySelectorAll("#chart rect.bb").length,
        errorBars: document.querySelectorAll("#errChart rect.be").length,
        hitLatency: document.querySelectorAll("#latChart circle.lh").length > 0,
        missLatency: document.querySelectorAll("#latChart circle.lm").length > 0,
        rate: document.getElementById("rateNote").textContent,
        note: document.getElementById("chartNote").textContent,
      })`);
    // One bar per minute that had such calls (almost always one: the calls take a moment).
    const bars = (test: (kind: string) => boolean, binMs = 60_000) =>
      new Set(seen.filter((e) => test(e.kind)).map((e) => Math.floor(Date.parse(e.time) / binMs)))
        .size;
    const isHit = (kind: string) => kind.startsWith("HIT");
    const everything = {
      calls: 12,
      hitBars: bars(isHit),
      missBars: bars((kind) => kind === "MISS"),
      bypassBars: bars((kind) => kind === "BYPASS"),
      errorBars: bars((kind) => kind === "ERROR"),
      hitLatency: true,
      missLatency: true,
      rate: "40.0% over the range",
      note: "4 hits · 6 misses · 1 bypassed · 1 error",
    };
    assert.deepEqual(await shown(), everything);
    await page.locator("#entries tr.click").nth(5).waitFor({ timeout: 3_000 });
    await page.screenshot({ path: "/tmp/dashboard.png", fullPage: true });

    // A reload a moment later shows the same: the proxy kept them.
    await page.reload();
    await page.locator("#conn.live").waitFor({ timeout: 5_000 });
    await calls.nth(11).waitFor({ timeout: 3_000 });
    assert.deepEqual(await shown(), everything);
    assert.equal(await calls.count(), 12, "no call twice");
    assert.deepEqual(
      await page.locator("#calls tr:not(.placeholder) .badge").allInnerTexts(),
      seen.map((e) => e.kind).reverse(),
      "the recent calls, newest first",
    );

    // Filters: kind, namespace, then a wider range.
    await page.locator("#fKind").selectOption("ERROR");
    assert.deepEqual(
      [(await shown()).calls, (await shown()).hitBars, (await shown()).note],
      [1, 0, "0 hits · 0 misses · 1 error"],
    );
    await page.locator("#fKind").selectOption("");
    await page.locator("#fNs").selectOption("team");
    assert.deepEqual([(await shown()).calls, (await shown()).note], [2, "1 hit · 1 miss"]);
    await page.locator("#fNs").selectOption("");
    await page.locator("#range button[data-range='24h']").click();
    await page.locator("#filterNote", { hasText: "last 24h" }).waitFor({ timeout: 2_000 });
    assert.equal((await shown()).hitBars, bars(isHit, 900_000), "15-minute bars");

    // A live call after the reload adds to what the proxy had: counted once.
    assert.equal(await call(proxy, "hi"), "HIT");
    await calls.nth(12).waitFor({ timeout: 2_000 });
    await page.locator("#chartNote", { hasText: "5 hits" }).waitFor({ timeout: 2_000 });

    // The last miss: its entry shows the request and why it missed.
    const lastMiss = seen.filter((e) => e.kind === "MISS").at(-1)!;
    await page.locator(`#calls tr[data-kind=MISS][title$="${lastMiss.key}"]`).click();
    await page.locator("#entry[open]").waitFor({ timeout: 2_000 });
    await page.locator("#whyReason", { hasText: "max_tokens differs" }).waitFor({ timeout: 2_000 });
    assert.match(await page.locator("#whyDiff").innerText(), /max_tokens[\s\S]*100[\s\S]*200/);
    await page.locator("#requestBox summary").click();
    assert.match(await page.locator("#entryRequest").innerText(), /"max_tokens": 200/);
    await page.locator("#entryBody", { hasText: "Paris" }).waitFor({ timeout: 2_000 });
    await page.screenshot({ path: "/tmp/dashboard-entry.png" });

    // Invalidate asks first; Cancel keeps the entry, confirming removes it.
    await page.locator("#invalidate:enabled").click();
    await page.locator("#confirmBar").waitFor({ timeout: 1_000 });
    await page.locator("#cancelInvalidate").click();
    await page.locator("#confirmBar").waitFor({ state: "hidden", timeout: 1_000 });
    assert.equal((await proxy.fetch(`/cache/entries/${lastMiss.key}`)).status, 200, "still there");
    await page.locator("#invalidate").click();
    await page.locator("#confirmInvalidate").click();
    await page.locator("#entry").waitFor({ state: "hidden", timeout: 2_000 });
    const again = await call(proxy, "What is the capital of France?", { "max_tokens": 200 });
    assert.equal(again, "MISS", "the invalidated entry is gone");

    // An errored call leaves no entry, and the page says why.
    await page.locator("#calls tr[data-kind=ERROR]").click();
    await page.locator("#entryErr", { hasText: "leaves no entry" }).waitFor({ timeout: 2_000 });
    await page.locator("#entryClose").click();

    assert.deepEqual(problems, { consoleErrors: [], pageErrors: [] });
  },
);

Deno.test(
  "dashboard: on a 390 px phone nothing is cut off, after a reload too",
  needs("chromium"),
  async () => {
    await using proxy = await startProxy();
    await elevenCalls(proxy);
    assert.equal(await call(proxy, "hi", { model: "claude-3-5-haiku-20241022-long-name" }), "MISS");
    await using browser = await launchChromium();
    const page = await browser.newPage({ viewport: PHONE, colorScheme: "dark", isMobile: true });
    const problems = watchProblems(page);
    await page.goto(`${proxy.url}/`);
    await page.locator("#conn.live").waitFor({ timeout: 5_000 });
    await page.locator("#models tr").nth(1).waitFor({ timeout: 3_000 });
    await page.locator("#calls tr:not(.placeholder)").nth(11).waitFor({ timeout: 3_000 });
    await page.locator("#chart rect.bh").first().waitFor({ timeout: 3_000 });
    await assertNoOverflow(page);
    await page.screenshot({ path: "/tmp/dashboard-phone.png", fullPage: true });
    await page.reload();
    await page.locator("#calls tr:not(.placeholder)").nth(11).waitFor({ timeout: 3_000 });
    await assertNoOverflow(page);

    // Past 100 calls the oldest rows go, and the page keeps up.
    for (let i = 0; i < 95; i++) await call(proxy, "hi");
    await page.locator("#chartNote", { hasText: "99 hits" }).waitFor({ timeout: 5_000 });
    assert.equal(await page.locator("#calls tr:not(.placeholder)").count(), 100);
    assert.deepEqual(problems, { consoleErrors: [], pageErrors: [] });
  },
);

Deno.test(
  "dashboard: with CACHE_AUTH_TOKEN the page asks for the token once, then loads",
  needs("chromium"),
  async () => {
    await using proxy = await startProxy({
      env: { CACHE_HOST: "127.0.0.1", CACHE_AUTH_TOKEN: "t0k" },
    });
    await using browser = await launchChromium();
    const page = await browser.newPage({ viewport: VIEWPORT, colorScheme: "dark" });
    const problems = watchProblems(page);

    const loaded = await page.goto(`${proxy.url}/`);
    assert.equal(loaded?.status(), 200, "the page itself needs no token: it holds no data");
    await page.locator("#auth[open]").waitFor({ timeout: 5_000 });
    assert.equal(
      await page.locator("dialog[open]").count(),
      1,
      "one form for all refused requests",
    );

    await page.locator("#authToken").fill("wrong");
    await page.locator("#auth button[type=submit]").click();
    await page.locator("#authErr", { hasText: "not accepted" }).waitFor({ timeout: 3_000 });
    await page.locator("#authToken").fill("t0k");
    await page.locator("#authToken").press("Enter");
    await page.locator("#auth").waitFor({ state: "hidden", timeout: 3_000 });

    await page.locator("#kEntries", { hasText: "0" }).waitFor({ timeout: 3_000 });
    await page.locator("#conn.live").waitFor({ timeout: 3_000 });
    assert.equal(
      await page.evaluate(() => sessionStorage.getItem("llm-cache-proxy.token")),
      "t0k",
    );
    assert.equal(await call(proxy, "hi", {}, { "x-cache-auth": "t0k" }), "MISS");
    await page.locator("#calls tr[data-kind=MISS]").waitFor({ timeout: 1_000 });
    await page.locator("#kEntries", { hasText: "1" }).waitFor({ timeout: 2_000 });

    assert.deepEqual(problems.pageErrors, []);
    // Chromium logs each refused request; nothing else may appear.
    const unexpected = problems.consoleErrors.filter((line) =>
      !/Failed to load resource: the server responded with a status of 401/.test(line)
    );
    assert.deepEqual(unexpected, []);
  },
);
