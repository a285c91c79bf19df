/**
 * `llm-cache-proxy validate` as a real subprocess: passing against a running proxy, and failing
 * once for each kind of bad configuration, each problem named on its own error line.
 */
import assert from "node:assert/strict";
import { runCli } from "../support/cli.ts";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { spawnServe } from "../support/process.ts";
import { messageBody } from "../support/proxy.ts";
import { freePort, tempHome } from "../support/harness.ts";

const KEY = "sk-ant-api03-Zq9vXbN4mT7rL2kP8wY5hJ3gF6dS1aQ0eRtUiOpLkJhG-abcd";
const TOKEN = "0123456789abcdef0123456789abcdef";

interface JsonReport {
  ok: boolean;
  checks: { section: string; name: string; ok: boolean; detail: string; fix?: string }[];
}

async function writeEnv(home: string, text: string, mode = 0o600): Promise<void> {
  await Deno.writeTextFile(`${home}/.env`, text);
  await Deno.chmod(`${home}/.env`, mode);
}

function validate(home: string, args: string[] = [], env: Record<string, string> = {}) {
  return runCli(["validate", ...args], { env: { CACHE_HOME: home, HOME: home, ...env } });
}

Deno.test("validate passes with a valid .env and a running proxy, and checks its routes", async (t) => {
  await using home = await tempHome("validate_test_");
  await using mock = await startMockAnthropic();
  await writeEnv(
    home.path,
    `ANTHROPIC_API_KEY_REAL=${KEY}\nCACHE_AUTH_TOKEN=${TOKEN}\nCACHE_UPSTREAM=${mock.url}\n`,
  );
  await using proxy = await spawnServe({ CACHE_HOME: home.path, CACHE_PORT: "0" });
  const auth = { "x-cache-auth": TOKEN };
  const res = await fetch(`${proxy.url}/v1/messages`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: messageBody("validate me"),
  });
  assert.equal(res.status, 200);
  await res.text(); // read to the end: a cancelled answer may not be stored
  await waitFor(async () => {
    const stats = await (await fetch(`${proxy.url}/stats`, { headers: auth })).json();
    return stats.calls >= 1 && stats.store?.entries >= 1;
  });
  const env = { CACHE_PORT: String(proxy.port) };

  await t.step("text", async () => {
    const out = await validate(home.path, [], env);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.ok(out.stdout.includes(`Runtime (proxy at ${proxy.url}):`), out.stdout);
    assert.match(out.stdout, /ANTHROPIC_API_KEY_REAL=sk-ant-api03-\*\*\*\*/);
    assert.match(out.stdout, /\.env at .* mode 0600/);
    assert.match(out.stdout, new RegExp(`/health → 200 \\(pid ${proxy.child.pid}, version `));
    assert.match(out.stdout, /\/stats → 200 \(1 call, 0 hits, 0\.0% hit rate, cache on\)/);
    assert.match(out.stdout, /\/metrics → 200 \(Prometheus text, \d+ metric families/);
    assert.match(out.stdout, /cache\.db opens \(1 entry\)/);
    assert.match(out.stdout, /^Result: all checks passed$/m);
    assert.ok(!out.stdout.includes(KEY) && !out.stdout.includes(TOKEN), "no secret printed");
  });

  await t.step("--json", async () => {
    const out = await validate(home.path, ["--json"], env);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const report: JsonReport = JSON.parse(out.stdout);
    assert.equal(report.ok, true);
    const runtime = report.checks.filter((c) => c.section === "runtime").map((c) => c.name);
    assert.deepEqual(runtime, ["/health", "/stats", "/metrics"]);
    assert.ok(report.checks.every((c) => c.section === "config" || c.section === "runtime"));
  });

  await t.step("a token the proxy does not expect fails /stats with the fix", async () => {
    const out = await validate(home.path, [], { ...env, CACHE_AUTH_TOKEN: "f".repeat(32) });
    assert.equal(out.code, 1, out.stdout);
    assert.match(out.stdout, /error: \/stats answered 401/);
    assert.match(out.stdout, /fix: The running proxy expects another CACHE_AUTH_TOKEN/);
  });
});

Deno.test("validate says when the proxy is not running, without failing", async () => {
  await using home = await tempHome("validate_test_");
  await writeEnv(home.path, `CACHE_PORT=${freePort()}\n`);
  const out = await validate(home.path);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.match(
    out.stdout,
    /ANTHROPIC_API_KEY_REAL unset \(clients' own credentials pass through\)/,
  );
  assert.match(out.stdout, /proxy not running \(start it with `llm-cache-proxy on`\)/);
  assert.match(out.stdout, /prices\.json not present/);
  assert.match(out.stdout, /cache\.db not created yet/);
  await assert.rejects(() => Deno.stat(`${home.path}/cache.db`), Deno.errors.NotFound, "created");
});

Deno.test("validate fails on each kind of bad configuration, naming it on an error line", async (t) => {
  const cases: {
    name: string;
    env: string;
    mode?: number;
    prices?: string;
    normalize?: string;
    line: RegExp;
  }[] = [
    {
      name: "bad port",
      env: "CACHE_PORT=abc",
      line: /error: CACHE_PORT="abc" is not a port number/,
    },
    {
      name: "bad TTL",
      env: "CACHE_TTL_SEC=0",
      line: /error: CACHE_TTL_SEC="0" is not whole seconds, at least 1/,
    },
    {
      name: "bad max entries",
      env: "CACHE_MAX_ENTRIES=lots",
      line: /error: CACHE_MAX_ENTRIES="lots" is not a whole number/,
    },
    {
      name: "network host without a token",
      env: "CACHE_HOST=0.0.0.0",
      line:
        /error: CACHE_HOST="0\.0\.0\.0" is not a loopback address and CACHE_AUTH_TOKEN is unset/,
    },
    {
      name: "bad log level",
      env: "CACHE_LOG_LEVEL=loud",
      line: /error: CACHE_LOG_LEVEL="loud" is not one of silent\|error\|info\|debug/,
    },
    {
      name: "an upstream port fetch refuses",
      env: "CACHE_UPSTREAM=http://127.0.0.1:4190",
      line:
        /error: CACHE_UPSTREAM="http:\/\/127\.0\.0\.1:4190" names port 4190, to which fetch refuses/,
    },
    {
      name: "bad upstream URL",
      env: "CACHE_UPSTREAM=ftp://example.com",
      line: /error: CACHE_UPSTREAM="ftp:\/\/example\.com" must be an http\(s\) URL/,
    },
    {
      name: "broken prices.json",
      env: "",
      prices: '{"haiku": [1]}',
      line: /error: .*prices\.json is not valid: "haiku": a v2 price is \[input, output\]/,
    },
    {
      name: "unknown normalize profile",
      env: "",
      normalize: '{"profile": "aider"}',
      line:
        /error: .*\/normalize\.json is not valid: profile "aider" is not a built-in profile \(the profiles are claude-code\)\n/,
    },
    {
      name: "invalid .env line",
      env: "this is not a setting",
      line: /error: \.env line 3 is not NAME=value and ignored/,
    },
    {
      name: ".env readable by others",
      env: "",
      mode: 0o644,
      line: /error: \.env at .* is readable by other users \(mode 0644\)[^\n]*\n\s+fix: chmod 600 /,
    },
    {
      name: "misspelt variable",
      env: "CACHE_TTL=60",
      line:
        /error: CACHE_TTL in \.env is not a setting of llm-cache-proxy; did you mean CACHE_TTL_SEC\?/,
    },
    {
      name: "the client's variable name for the key",
      env: "ANTHROPIC_API_KEY=sk-ant-api03-x",
      line:
        /error: ANTHROPIC_API_KEY in \.env is not a setting .*; did you mean ANTHROPIC_API_KEY_REAL\?/,
    },
    {
      name: "log file in a folder that cannot be made",
      env: "CACHE_LOG_FILE=${home}/.env/proxy.log",
      line:
        /error: CACHE_LOG_FILE=".*\/\.env\/proxy\.log": cannot open it for writing \(Not a directory/,
    },
    {
      name: "not an Anthropic key",
      env: "ANTHROPIC_API_KEY_REAL=sk-proj-0123456789",
      line: /error: ANTHROPIC_API_KEY_REAL=\*\*\*\* is not an API key: .*start with "sk-ant-"/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using home = await tempHome("validate_test_");
      // The bad line comes last so that it wins over the good CACHE_PORT above it.
      const bad = c.env.replace("${home}", home.path);
      await writeEnv(
        home.path,
        `ANTHROPIC_API_KEY_REAL=${KEY}\nCACHE_PORT=${freePort()}\n${bad}\n`,
        c.mode,
      );
      if (c.prices !== undefined) await Deno.writeTextFile(`${home.path}/prices.json`, c.prices);
      if (c.normalize !== undefined) {
        await Deno.writeTextFile(`${home.path}/normalize.json`, c.normalize);
      }
      const out = await validate(home.path);
      assert.equal(out.code, 1, out.stdout + out.stderr);
      assert.match(out.stdout, c.line);
      assert.match(out.stdout, /^Result: 1 problem$/m, "only this problem");
      assert.match(out.stdout, /\n\s+fix: /, "says how to fix it");
      assert.ok(!out.stdout.includes("sk-proj-0123456789"), "a wrong key is not printed either");
    });
  }
});

Deno.test("validate reports every problem at once, also as JSON", async () => {
  await using home = await tempHome("validate_test_");
  await writeEnv(home.path, "CACHE_PORT=abc\nCACHE_TTL_SEC=-1\nCACHE_OFF=maybe\n");
  const out = await validate(home.path, ["--json"]);
  assert.equal(out.code, 1, out.stderr);
  const report: JsonReport = JSON.parse(out.stdout);
  assert.equal(report.ok, false);
  const failed = report.checks.filter((c) => !c.ok);
  assert.deepEqual(failed.map((c) => c.name), ["CACHE_PORT", "CACHE_TTL_SEC", "CACHE_OFF"]);
  assert.ok(failed.every((c) => c.section === "config" && c.fix?.includes(`${home.path}/.env`)));
  const runtime = report.checks.filter((c) => c.section === "runtime");
  assert.deepEqual(runtime.map((c) => [c.name, c.ok]), [["proxy", true]]);
  assert.match(runtime[0]!.detail, /^not checked until CACHE_PORT/, "no probe on a bad port");
  const text = await validate(home.path, []);
  assert.match(text.stdout, /^Runtime: not checked until CACHE_PORT/m, "and no address in doubt");
  assert.doesNotMatch(text.stdout, /Runtime \(proxy at/);
});

Deno.test("validate refuses an unknown flag with exit 2", async () => {
  await using home = await tempHome("validate_test_");
  const out = await validate(home.path, ["--bogus"]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /Unknown option '--bogus'/);
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not met in ${timeoutMs} ms: ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
