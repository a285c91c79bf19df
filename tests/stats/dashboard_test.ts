import assert from "node:assert/strict";
import type { CallEvent } from "../../src/stats/events.ts";
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

Deno.test(
  "dashboard: loads cleanly, shows calls live, and its Invalidate makes the next call a MISS",
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
    await page.locator("#conn.live").waitFor({ timeout: 5_000 });
    await page.locator("#kEntries", { hasText: "0" }).waitFor({ timeout: 5_000 });
    await page.locator("#entries td.empty", { hasText: "empty" }).waitFor({ timeout: 5_000 });

    // A call made through the proxy shows up in the live table within a second.
    assert.equal(await call(proxy, "hi"), "MISS");
    const started = performance.now();
    const missRow = page.locator("#calls tr[data-kind=MISS]");
    await missRow.first().waitFor({ timeout: 1_000 });
    assert.ok(performance.now() - started < 1_000);
    assert.match(await missRow.first().innerText(), /sonnet-4-5/);

    // A few more calls, so the numbers, the chart and the tables have something to show.
    assert.equal(await call(proxy, "hi"), "HIT");
    assert.equal(await call(proxy, "hi"), "HIT");
    assert.equal(await call(proxy, "Tell me a story", { stream: true }), "MISS");
    assert.equal(await call(proxy, "Tell me a story", { stream: true }), "HIT");
    assert.equal(await call(proxy, "[mock:529]"), "MISS");
    await page.locator("#calls tr").nth(5).waitFor({ timeout: 2_000 });
    assert.equal(await page.locator("#calls tr[data-kind=HIT]").count(), 3);
    assert.equal(await page.locator("#calls tr[data-kind=ERROR]").count(), 1);
    await page.locator("#kHitRate", { hasText: "60.0%" }).waitFor({ timeout: 2_000 });
    await page.locator("#kEntries", { hasText: "2" }).waitFor({ timeout: 2_000 });
    await page.locator("#entries tr.click").nth(1).waitFor({ timeout: 3_000 });
    assert.equal(await page.locator("#chart svg rect.bh").count(), 1, "one minute bar of hits");
    await page.screenshot({ path: "/tmp/dashboard.png", fullPage: true });

    // Open the "hi" entry in the cache browser and invalidate it.
    const key = seen.find((e) => e.kind === "MISS")?.key;
    assert.ok(key, "the first MISS names its cache key");
    await page.locator(`#entries tr[data-key^="${key}"]`).click();
    await page.locator("#entry[open]").waitFor({ timeout: 2_000 });
    await page.locator("#entryBody", { hasText: "Paris" }).waitFor({ timeout: 2_000 });
    assert.match(await page.locator("#entryMeta").innerText(), new RegExp(key));
    await page.locator("#invalidate:enabled").click();
    await page.locator("#entry").waitFor({ state: "hidden", timeout: 2_000 });
    await page.locator(`#entries tr[data-key^="${key}"]`).waitFor({
      state: "detached",
      timeout: 2_000,
    });
    assert.equal(await call(proxy, "hi"), "MISS", "the invalidated entry is gone");
    await page.locator("#calls tr").nth(6).waitFor({ timeout: 1_000 });

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
