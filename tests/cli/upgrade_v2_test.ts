/**
 * Upgrading from llm-cache-proxy v2: a home written by v2 itself (npm `llm-cache-proxy@2.0.6`,
 * run against the mock), imported with `import --from-v2`, then served by this release.
 */
import assert from "node:assert/strict";
import { denoDir, runCli } from "../support/cli.ts";
import { eventually, tempHome } from "../support/harness.ts";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { spawnServe } from "../support/process.ts";
import { messageBody } from "../support/proxy.ts";
import { needs } from "../support/tools.ts";
import { startV2 } from "../support/v2.ts";

const HEADERS = { "content-type": "application/json", "anthropic-version": "2023-06-01" };
const JSON_BODY = messageBody("an answer v2 kept");
const STREAM_BODY = messageBody("a stream v2 kept", { stream: true });

/** The calls v2's ledger counts: it writes a line once the answer is stored and shared. */
async function ledgerLines(home: string): Promise<number> {
  const text = await Deno.readTextFile(`${home}/.llm-cache-a/metrics.jsonl`).catch(() => "");
  return text.split("\n").filter(Boolean).length;
}

async function post(base: string, body: string, path = "/v1/messages", extra = {}) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { ...HEADERS, ...extra },
    body,
  });
  return { cache: res.headers.get("x-cache"), status: res.status, bytes: await res.bytes() };
}

Deno.test(
  "import --from-v2 brings v2's answers and ledger; HIT-V2 replays its bytes",
  needs("llm-cache-proxy-v2"),
  async () => {
    await using mock = await startMockAnthropic();
    await using v2Home = await tempHome("upgrade_v2_home_");
    const v2Answers = new Map<string, Uint8Array>();
    {
      await using v2 = await startV2(v2Home.path, mock.url);
      for (const [i, body] of [JSON_BODY, STREAM_BODY].entries()) {
        assert.equal((await post(v2.url, body)).cache, "MISS");
        // v2 stores an answer after sending it: until then a repeat joins the call instead.
        await eventually(
          "v2 to store its answer",
          async () => await ledgerLines(v2Home.path) > 2 * i || undefined,
        );
        const again = await post(v2.url, body);
        assert.equal(again.cache, "HIT", "v2 replays it");
        v2Answers.set(body, again.bytes);
      }
      const count = messageBody("count my tokens");
      assert.equal((await post(v2.url, count, "/v1/messages/count_tokens")).status, 200);
      await eventually(
        "v2 to store the count",
        async () => await ledgerLines(v2Home.path) > 4 || undefined,
      );
    }

    await using home = await tempHome("upgrade_v2_");
    // The user's HOME is v2's: setup offers the import, which finds ~/.llm-cache-a by itself.
    const env = { CACHE_HOME: home.path, HOME: v2Home.path };
    const dir = `${v2Home.path}/.llm-cache-a`;
    const setup = await runCli(["setup", "--yes"], { env });
    assert.equal(setup.code, 0, setup.stderr);
    assert.ok(
      setup.stdout.includes(
        `Found llm-cache-proxy v2's cache in ${dir} (3 answers): ` +
          '"llm-cache-proxy import --from-v2"',
      ),
      setup.stdout,
    );
    const imported = await runCli(["import", "--from-v2", "--json"], { env });
    assert.equal(imported.code, 0, imported.stderr);
    const report = JSON.parse(imported.stdout);
    // count_tokens shared v2's key scheme, but its answer is no answer to a message.
    assert.deepEqual([report.added, report.kept, report.skipped], [2, 0, 1]);
    assert.equal(report.calls, 5, "every line of v2's ledger: 3 misses, 2 hits");

    await using proxy = await spawnServe({
      ...env,
      CACHE_UPSTREAM: mock.url,
      DENO_DIR: denoDir(), // HOME is v2's temporary one: keep Deno's own cache
    });
    const upstreamBefore = mock.calls.length;
    for (const [body, bytes] of v2Answers) {
      const hit = await post(proxy.url, body);
      assert.equal(hit.cache, "HIT-V2");
      assert.deepEqual(hit.bytes, bytes, "byte-identical to what v2 replayed");
    }
    assert.equal(mock.calls.length, upstreamBefore, "no upstream call");
    const kept = await post(proxy.url, JSON_BODY);
    assert.equal(kept.cache, "HIT", "kept under this release's key after the v2 hit");
    assert.deepEqual(kept.bytes, v2Answers.get(JSON_BODY));

    const namespaced = await post(proxy.url, STREAM_BODY, "/v1/messages", {
      "x-cache-namespace": "team-a",
    });
    assert.equal(namespaced.cache, "MISS", "v2 had no namespaces: its answers serve none");

    const stats = await (await fetch(`${proxy.url}/stats`)).json();
    assert.equal(stats.calls, 5 + 4, "v2's calls are in the all-time totals");
    assert.equal(stats.hits, 2 + 3);
    assert.equal(stats.byKind["HIT-V2"], 2);

    const again = await runCli(["import", "--from-v2", dir, "--json"], { env });
    const second = JSON.parse(again.stdout);
    assert.deepEqual([second.added, second.kept, second.calls], [0, 2, 0], "nothing twice");
    const noOffer = await runCli(["setup", "--yes"], { env });
    assert.doesNotMatch(noOffer.stdout, /Found llm-cache-proxy v2/, "no offer once imported");
  },
);

Deno.test("import --from-v2 without a v2 home says where it looked", async () => {
  await using home = await tempHome("upgrade_v2_none_");
  const out = await runCli(["import", "--from-v2"], {
    env: { CACHE_HOME: home.path, HOME: home.path },
  });
  assert.equal(out.code, 1);
  assert.match(out.stderr, new RegExp(`${home.path}/\\.llm-cache-a/entries cannot be read`));
});

Deno.test(
  "on, status and stop leave llm-cache-proxy v2 on the same port alone",
  needs("llm-cache-proxy-v2"),
  async () => {
    await using mock = await startMockAnthropic();
    await using v2Home = await tempHome("upgrade_v2_port_");
    await using v2 = await startV2(v2Home.path, mock.url);
    await using home = await tempHome("upgrade_v2_mine_");
    const env = {
      CACHE_HOME: home.path,
      HOME: home.path,
      CACHE_PORT: new URL(v2.url).port,
      ANTHROPIC_API_KEY_REAL: "sk-ant-api03-upgrade-test",
    };
    const on = await runCli(["on"], { env });
    assert.equal(on.code, 1, on.stdout);
    assert.match(
      on.stderr,
      /taken by a proxy that does not say which cache home it serves \(llm-cache-proxy v2/,
    );
    const status = await runCli(["status"], { env });
    assert.equal(status.code, 3, status.stdout);
    const stop = await runCli(["stop"], { env });
    assert.equal(stop.code, 0);
    assert.equal((await fetch(`${v2.url}/health`)).status, 200, "v2 still runs");
  },
);
