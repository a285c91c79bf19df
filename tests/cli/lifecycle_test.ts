/**
 * The verbs a user lives with, end to end as real subprocesses against the mock upstream, in the
 * order of a day's use: on → status → a call → stats → off → monitor → restart → on → stop.
 */
import assert from "node:assert/strict";
import { isAlive } from "../../src/cli/daemon.ts";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { messageBody } from "../support/proxy.ts";
import { denoDir, runCli, startCli } from "../support/cli.ts";
import { freePort, tempHome } from "../support/harness.ts";
import { baseEnv, spawnServe } from "../support/process.ts";
import { exists } from "../../src/fs.ts";
import { cliScript, Tmux } from "../support/tmux.ts";
import { needs } from "../support/tools.ts";

async function call(base: string, text: string): Promise<string | null> {
  const res = await fetch(`${base}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: messageBody(text),
  });
  await res.arrayBuffer();
  assert.equal(res.status, 200);
  return res.headers.get("x-cache");
}

Deno.test("on → status → calls → stats → off → monitor → restart → on → stop", async () => {
  await using mock = await startMockAnthropic();
  const home = await Deno.makeTempDir({ prefix: "lifecycle_" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    HOME: home,
    CACHE_HOME: `${home}/cache`,
    CACHE_PORT: String(port),
    CACHE_UPSTREAM: mock.url,
    ANTHROPIC_API_KEY_REAL: "sk-ant-api03-lifecycle-test",
  };
  const cli = (...args: string[]) => runCli(args, { env });
  let pid = 0;
  try {
    const before = await cli("status");
    assert.equal(before.code, 3, before.stdout + before.stderr);
    assert.match(before.stdout, /not running/);

    const on = await cli("on");
    assert.equal(on.code, 0, on.stderr);
    const started = new RegExp(`is on at ${base} \\(pid (\\d+)\\) · cache ON`).exec(on.stdout);
    assert.ok(started, on.stdout);
    pid = Number(started[1]);
    assert.equal(Number(await Deno.readTextFile(`${home}/cache/proxy.pid`)), pid);
    assert.match(on.stdout, new RegExp(`export ANTHROPIC_BASE_URL=${base}`));
    assert.equal((await (await fetch(`${base}/health`)).json()).pid, pid);

    const again = await cli("on");
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`pid ${pid}\\)`), "a second on finds the running proxy");

    const status = await cli("status");
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`running \\(pid ${pid}, up`));
    assert.match(status.stdout, new RegExp(`accepting calls at ${base}`));
    assert.match(status.stdout, /cache ON · 0 entries/);
    assert.match(status.stdout, /last call +none yet/);
    assert.doesNotMatch(on.stdout + status.stdout, /[✓✗]/, "no marks in a pipe");

    assert.equal(await call(base, "lifecycle"), "MISS");
    assert.equal(await call(base, "lifecycle"), "HIT");
    const json = JSON.parse((await cli("status", "--json")).stdout);
    assert.deepEqual(
      [json.running, json.answering, json.pid, json.cache.entries, json.cache.off],
      [true, true, pid, 1, false],
    );
    assert.deepEqual([json.lastCall.kind, json.session.calls, json.session.errors], ["HIT", 2, 0]);

    // At once: stats asks the running proxy, whose ledger reaches the store only once a second.
    const stats = JSON.parse((await cli("stats", "--json")).stdout);
    assert.equal(stats.calls, 2);
    assert.deepEqual([stats.hits, stats.misses, stats.cache.entries], [1, 1, 1]);
    assert.ok(stats.usdSaved > 0);
    const pretty = await cli("stats");
    assert.equal(pretty.code, 0, pretty.stderr);
    assert.match(pretty.stdout, /hit rate +50\.0%/);
    assert.match(pretty.stdout, /claude-sonnet-4-5-20250929 +2 +1/);

    const off = await cli("off");
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stdout, /Cache OFF/);
    assert.equal(await call(base, "lifecycle"), "BYPASS");
    assert.match(await Deno.readTextFile(`${home}/cache/.env`), /^CACHE_OFF=1$/m);
    assert.equal((await Deno.stat(`${home}/cache/.env`)).mode! & 0o777, 0o600);
    assert.match((await cli("status")).stdout, /cache OFF/);

    // monitor prints one line per call as it happens.
    await using monitor = startCli(["monitor"], { env });
    await monitor.stderrContains("Watching");
    assert.equal(await call(base, "watched"), "BYPASS");
    const line = await monitor.stdoutLine();
    assert.match(
      line,
      /^\d{4}-\d\d-\d\dT\S+Z #\d{4} BYPASS claude-sonnet-4-5-20250929 \d+tok \$\S+ \S+ms/,
    );

    // A stale pidfile (after a reboot, say) is corrected from the proxy's own answer.
    await Deno.writeTextFile(`${home}/cache/proxy.pid`, "999999\n");
    const healed = await cli("status");
    assert.equal(healed.code, 0);
    assert.match(healed.stdout, new RegExp(`pidfile corrected to pid ${pid}`));
    assert.equal(Number(await Deno.readTextFile(`${home}/cache/proxy.pid`)), pid);

    const restart = await cli("restart");
    assert.equal(restart.code, 0, restart.stderr);
    const restarted = /\(pid (\d+)\) · cache OFF/.exec(restart.stdout);
    assert.ok(restarted, `restart keeps the cache off: ${restart.stdout}`);
    assert.ok(!isAlive(pid), "the old process is gone");
    pid = Number(restarted[1]);
    assert.equal(await call(base, "lifecycle"), "BYPASS");

    const onAgain = await cli("on");
    assert.equal(onAgain.code, 0, onAgain.stderr);
    assert.match(onAgain.stdout, /cache ON/);
    assert.equal(await call(base, "lifecycle"), "HIT", "entries survive a restart");
    assert.doesNotMatch(await Deno.readTextFile(`${home}/cache/.env`), /CACHE_OFF/);

    const stop = await cli("stop");
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, new RegExp(`Stopped llm-cache-proxy \\(pid ${pid}\\)`));
    assert.ok(!isAlive(pid));
    await assert.rejects(Deno.stat(`${home}/cache/proxy.pid`));
    assert.equal((await cli("status")).code, 3);
    const stopAgain = await cli("stop");
    assert.deepEqual([stopAgain.code, stopAgain.stdout.trim()], [
      0,
      "llm-cache-proxy is not running",
    ]);
    assert.equal(mock.count("/v1/messages"), 4, "MISS, BYPASS ×3 reached upstream; hits did not");
  } finally {
    if (pid && isAlive(pid)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("on reports why the proxy could not start, from its log", async () => {
  const home = await Deno.makeTempDir({ prefix: "lifecycle_" });
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const out = await runCli(["on"], {
      env: {
        HOME: home,
        CACHE_HOME: home,
        CACHE_PORT: String((blocker.addr as Deno.NetAddr).port),
        ANTHROPIC_API_KEY_REAL: "sk-ant-api03-x",
      },
    });
    assert.equal(out.code, 1, out.stdout);
    assert.match(out.stderr, /did not start: it exited with code 1/);
    assert.match(out.stderr, /cannot listen on 127\.0\.0\.1:\d+ .*another program/);
  } finally {
    blocker.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test(
  "the first on at a terminal asks the setup questions, then starts the proxy",
  needs("tmux"),
  async () => {
    await using mock = await startMockAnthropic();
    await using home = await tempHome("first_run_");
    const port = freePort();
    const env = {
      ...baseEnv(),
      HOME: home.path, // no ~/.llm-cache-proxy/.env: a first run
      DENO_DIR: denoDir(),
      CACHE_PORT: String(port),
      CACHE_UPSTREAM: mock.url,
      NO_COLOR: "1",
    };
    await using tmux = await Tmux.start(home.path, await cliScript(home.path, env, ["on"]));
    let pid = 0;
    try {
      await tmux.screen("the key question", (p) => /Anthropic API key .*: $/m.test(p));
      await tmux.run("send-keys", "-l", "sk-ant-api03-first-run-0123456789abcdef");
      await tmux.run("send-keys", "Enter");
      for (const question of [/^Port /m, /^Keep answers /m, /^Entries to keep /m, /^Bind host /m]) {
        await tmux.screen(`the question ${question}`, (p) => question.test(p));
        await tmux.run("send-keys", "Enter");
      }
      const screen = await tmux.screen("the proxy started", (p) => /exit=\d+/.test(p));
      assert.match(screen, /exit=0/);
      assert.match(screen, /Wrote .*\.llm-cache-proxy\/\.env \(mode 0600\)/);
      assert.doesNotMatch(
        screen,
        /Next steps/,
        "on starts it itself, so setup gives no next steps",
      );
      const started = new RegExp(`is on at http://127\\.0\\.0\\.1:${port} \\(pid (\\d+)\\)`).exec(
        screen,
      );
      assert.ok(started, screen);
      pid = Number(started[1]);
      const settings = await Deno.readTextFile(`${home.path}/.llm-cache-proxy/.env`);
      assert.match(settings, /^ANTHROPIC_API_KEY_REAL=sk-ant-api03-first-run-0123456789abcdef$/m);
      assert.equal((await (await fetch(`http://127.0.0.1:${port}/health`)).json()).pid, pid);
    } finally {
      if (pid && isAlive(pid)) Deno.kill(pid, "SIGTERM");
    }
  },
);

Deno.test("on, status, stop and off leave another cache home's proxy on the same port alone", async () => {
  await using mock = await startMockAnthropic();
  await using other = await tempHome("lifecycle_other_");
  await using mine = await tempHome("lifecycle_mine_");
  await using proxy = await spawnServe({ CACHE_HOME: other.path, CACHE_UPSTREAM: mock.url });
  const env = {
    HOME: mine.path,
    CACHE_HOME: mine.path,
    CACHE_PORT: String(proxy.port),
    CACHE_UPSTREAM: mock.url,
    ANTHROPIC_API_KEY_REAL: "sk-ant-api03-lifecycle-test",
  };
  const cli = (...args: string[]) => runCli(args, { env });
  const names = new RegExp(`another cache home \\(${other.path}, pid ${proxy.child.pid}\\)`);

  const on = await cli("on");
  assert.equal(on.code, 1, on.stdout);
  assert.match(on.stderr, names);
  assert.equal(
    await exists(`${mine.path}/proxy.pid`),
    false,
    "the other home's pid is not adopted",
  );

  const status = await cli("status");
  assert.equal(status.code, 3, status.stdout);
  assert.match(status.stdout, /not running/);
  assert.match(status.stdout, names);
  const json = JSON.parse((await cli("status", "--json")).stdout);
  assert.deepEqual([json.running, json.foreign], [false, {
    pid: proxy.child.pid,
    home: other.path,
  }]);

  const stop = await cli("stop");
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /not running/);
  const off = await cli("off");
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stdout, names);
  const health = await (await fetch(`${proxy.url}/health`)).json();
  assert.deepEqual([health.pid, health.home], [proxy.child.pid, other.path], "still up, untouched");
  const stats = await (await fetch(`${proxy.url}/stats`)).json();
  assert.equal(stats.cache, "on", "off did not switch the other home's cache");
});
