/**
 * `serve` as a real process when its cache.db is corrupt at start, deleted while it runs, or
 * on a disk that fills up or is read-only: it keeps serving, says what happened once, and keeps
 * the all-time stats.
 */
import assert from "node:assert/strict";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { messageBody } from "../support/proxy.ts";
import { rowsInFile } from "../support/entry.ts";
import { runServe, spawnServe } from "../support/process.ts";
import { eventually, tempHome } from "../support/harness.ts";
import { needsMount, tinyDisk } from "../support/tiny_disk.ts";

function serve(home: string, upstream: string, env: Record<string, string> = {}) {
  return spawnServe({ CACHE_HOME: home, CACHE_PORT: "0", CACHE_UPSTREAM: upstream, ...env });
}

/** Sends a message request; returns its x-cache label after reading the body. */
async function call(base: string, prompt: string): Promise<string | null> {
  const res = await fetch(`${base}/v1/messages`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-api-key": "sk-ant-client-key",
    },
    body: messageBody(prompt),
  });
  assert.equal(res.status, 200, `${prompt}: ${await res.clone().text()}`);
  await res.body?.cancel();
  return res.headers.get("x-cache");
}

/** Sends `calls` distinct requests whose 16 KiB answers fill a tiny disk; returns their labels. */
async function fillUp(base: string, calls: number): Promise<(string | null)[]> {
  const labels = [];
  for (let i = 0; i < calls; i++) labels.push(await call(base, `[mock:big:16384] filling ${i}`));
  return labels;
}

function errorLines(output: { stdout: string; stderr: string }): string[] {
  return `${output.stdout}\n${output.stderr}`.split("\n").filter((line) => / ERROR /.test(line));
}

Deno.test("serve starts on a fresh cache.db when the old one is corrupt, saying so once", async (t) => {
  await using mock = await startMockAnthropic();
  const corruptions: [string, (path: string) => Promise<void>][] = [
    ["garbage", (path) => Deno.writeTextFile(path, "\x00 not sqlite \xff".repeat(1000))],
    ["a real cache cut short", async (path) => {
      const size = (await Deno.stat(path)).size;
      await Deno.truncate(path, Math.floor(size / 2));
    }],
  ];
  for (const [name, corrupt] of corruptions) {
    await t.step(name, async () => {
      await using home = await tempHome("storage_recovery_");
      const path = `${home.path}/cache.db`;
      {
        await using first = await serve(home.path, mock.url);
        for (let i = 0; i < 20; i++) await call(first.url, `[mock:big:8192] filler ${i}`);
        const out = await first.stop();
        assert.equal(out.code, 0, out.stderr);
      }
      await corrupt(path);
      const before = await Deno.readFile(path);

      await using proxy = await serve(home.path, mock.url);
      assert.match(proxy.listening, /\(0 entries\)/);
      assert.equal(await call(proxy.url, "after the corruption"), "MISS");
      assert.equal(await call(proxy.url, "after the corruption"), "HIT");
      const out = await proxy.stop();
      assert.equal(out.code, 0, out.stderr);
      const errors = errorLines(out);
      assert.equal(errors.length, 1, `one error line:\n${errors.join("\n")}`);
      const aside = /moved it aside to (\S+cache\.db\.corrupt-[0-9TZ-]+) and started on a fresh/
        .exec(errors[0]!)?.[1];
      assert.ok(aside, errors[0]);
      assert.deepEqual(await Deno.readFile(aside), before, "the corrupt file is kept as it was");
      assert.equal(rowsInFile(path), 1);
    });
  }
});

Deno.test("serve notices cache.db deleted while it runs, stores again and keeps all-time stats", async () => {
  await using mock = await startMockAnthropic();
  await using home = await tempHome("storage_recovery_");
  const path = `${home.path}/cache.db`;
  {
    await using proxy = await serve(home.path, mock.url);
    assert.equal(await call(proxy.url, "before A"), "MISS");
    assert.equal(await call(proxy.url, "before A"), "HIT");
    await Deno.remove(path);

    assert.equal(await call(proxy.url, "after B"), "MISS");
    assert.equal(await call(proxy.url, "after B"), "HIT", "stored in the new file");
    assert.equal(await call(proxy.url, "after C"), "MISS");
    assert.equal(await call(proxy.url, "before A"), "MISS", "the old entries went with the file");
    await eventually(
      "the calls in a new cache.db",
      () => Promise.resolve(rowsInFile(path) === 3 ? true : undefined),
    );
    const stats = await (await fetch(`${proxy.url}/stats`)).json();
    assert.equal(stats.store.entries, 3);
    const out = await proxy.stop();
    assert.equal(out.code, 0, out.stderr);
    const errors = errorLines(out);
    assert.equal(errors.length, 1, `one error line:\n${errors.join("\n")}`);
    assert.match(
      errors[0]!,
      /Cache database \S+cache\.db was deleted while the proxy was running: now using a new, empty one there/,
    );
  }
  await using again = await serve(home.path, mock.url);
  assert.match(again.listening, /\(3 entries\)/);
  const stats = await (await fetch(`${again.url}/stats`)).json();
  assert.equal(stats.calls, 6, "all-time calls from before and after the deletion");
  assert.equal(stats.hits, 2);
  assert.equal(stats.misses, 4);
  assert.equal(await call(again.url, "after C"), "HIT");
});

Deno.test({
  name: "serve on a disk that fills up keeps answering, says 'Disk full' once, counts true",
  ...needsMount(),
  async fn() {
    await using mock = await startMockAnthropic();
    await using disk = await tinyDisk(1024);
    await using proxy = await serve(disk.path, mock.url);
    const calls = 40;
    assert.deepEqual(await fillUp(proxy.url, calls), Array(calls).fill("MISS"));
    assert.equal(mock.count("/v1/messages"), calls);
    const rows = rowsInFile(`${disk.path}/cache.db`);
    assert.ok(rows < calls, `the disk filled up (${rows} of ${calls} stored)`);
    const stats = await (await fetch(`${proxy.url}/stats`)).json();
    assert.equal(stats.store.entries, rows, "/stats counts what the file holds");
    assert.equal(await call(proxy.url, "[mock:big:16384] filling 0"), "HIT", "stored ones replay");
    const out = await proxy.stop();
    const errors = errorLines(out);
    assert.equal(errors.length, 1, `one error line:\n${errors.join("\n")}`);
    assert.match(errors[0]!, /ERROR Disk full: cannot write the cache at \S+cache\.db \(/);
    assert.ok(errors[0]!.includes(`free space on the disk that holds ${disk.path}`), errors[0]);
  },
});

Deno.test({
  name: "serve restarts on a full disk whose expired entries cannot be pruned, and serves",
  ...needsMount(),
  async fn() {
    await using mock = await startMockAnthropic();
    await using disk = await tinyDisk(1024);
    const env = { CACHE_TTL_SEC: "1", CACHE_STALE_SEC: "0" };
    {
      await using proxy = await serve(disk.path, mock.url, env);
      await fillUp(proxy.url, 40);
      await proxy.stop();
    }
    await new Promise((resolve) => setTimeout(resolve, 1100)); // every entry is now expired
    await using proxy = await serve(disk.path, mock.url, env);
    assert.equal(await call(proxy.url, "after the restart"), "MISS");
    const out = await proxy.stop();
    assert.equal(out.code, 0, out.stderr);
    assert.match(errorLines(out).join("\n"), /ERROR Disk full: cannot write the cache at/);
  },
});

Deno.test({
  name: "serve in a read-only CACHE_HOME stops at start and says what to do",
  ...needsMount(),
  async fn() {
    await using disk = await tinyDisk(64, { readOnly: true });
    const out = await runServe({ CACHE_HOME: disk.path, CACHE_PORT: "0", CACHE_LOG_FILE: "none" });
    assert.equal(out.code, 1, out.stdout + out.stderr);
    const errors = errorLines(out).join("\n") || out.stderr;
    assert.match(errors, /Read-only: cannot write the cache at \S+cache\.db \(.+\); make \S+ and/);
    assert.doesNotMatch(errors, /cannot open the cache/, "said once, not wrapped twice");
  },
});
