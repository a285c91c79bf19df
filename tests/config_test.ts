import assert from "node:assert/strict";
import { buildConfig, loadConfig } from "../src/config.ts";
import { ConfigError } from "../src/config_vars.ts";
import { isLoopback } from "../src/config_addresses.ts";
import { checkConfig } from "../src/config_check.ts";
import { NO_RULES, parseNormalizeRules } from "../src/values/normalize_rules.ts";

Deno.test("buildConfig() uses the llm-cache-proxy v2 defaults", () => {
  const config = buildConfig({}, "/home/u/.llm-cache-proxy");
  assert.equal(config.port, 4000);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.ttlSec, 604800);
  assert.equal(config.maxEntries, 5000);
  assert.equal(config.off, false);
  assert.equal(config.logLevel, "info");
  assert.equal(config.upstream, "https://api.anthropic.com");
  assert.equal(config.apiKey, undefined);
  assert.equal(config.dbPath, "/home/u/.llm-cache-proxy/cache.db");
  assert.equal(config.maxBodyBytes, 32 * 1024 * 1024);
  assert.equal(config.maxAnswerBytes, 32 * 1024 * 1024);
  assert.equal(config.upstreamTimeoutMs, 600_000);
  assert.deepEqual(
    [config.headerTimeoutSec, config.idleTimeoutSec, config.maxConnections],
    [30, 75, 512],
  );
});

Deno.test("buildConfig() reads the answer cap in bytes and the upstream timeout in seconds", () => {
  const config = buildConfig(
    { CACHE_MAX_ANSWER_BYTES: "65536", CACHE_UPSTREAM_TIMEOUT_SEC: "0.25" },
    "/h",
  );
  assert.deepEqual([config.maxAnswerBytes, config.upstreamTimeoutMs], [65536, 250]);
});

Deno.test("buildConfig() reads every variable", () => {
  const config = buildConfig({
    ANTHROPIC_API_KEY_REAL: "sk-ant-real",
    CACHE_PORT: "4100",
    CACHE_HOST: "0.0.0.0",
    CACHE_AUTH_TOKEN: "tok",
    CACHE_TTL_SEC: "60",
    CACHE_MAX_ENTRIES: "7",
    CACHE_OFF: "true",
    CACHE_LOG_LEVEL: "DEBUG",
    CACHE_UPSTREAM: "http://127.0.0.1:8/prefix/",
    CACHE_HEADER_TIMEOUT_SEC: "0",
    CACHE_IDLE_TIMEOUT_SEC: "5",
    CACHE_MAX_CONNECTIONS: "64",
  }, "/h");
  assert.deepEqual(
    [config.apiKey, config.port, config.host, config.authToken, config.ttlSec],
    ["sk-ant-real", 4100, "0.0.0.0", "tok", 60],
  );
  assert.deepEqual([config.maxEntries, config.off, config.logLevel], [7, true, "debug"]);
  assert.equal(config.upstream, "http://127.0.0.1:8/prefix");
  assert.deepEqual(
    [config.headerTimeoutSec, config.idleTimeoutSec, config.maxConnections],
    [0, 5, 64],
  );
});

Deno.test("buildConfig() rejects bad values with one line naming variable, value and what is allowed", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ CACHE_PORT: "abc" }, /^CACHE_PORT="abc" is not a port number \(0-65535\)$/],
    [{ CACHE_PORT: "70000" }, /^CACHE_PORT="70000"/],
    [{ CACHE_TTL_SEC: "-1" }, /^CACHE_TTL_SEC="-1" is not whole seconds, at least 1$/],
    [{ CACHE_TTL_SEC: "1.5" }, /^CACHE_TTL_SEC="1.5"/],
    [{ CACHE_MAX_ENTRIES: "0" }, /^CACHE_MAX_ENTRIES="0"/],
    [{ CACHE_UPSTREAM: "not a url" }, /^CACHE_UPSTREAM="not a url" is not a URL/],
    [{ CACHE_UPSTREAM: "ftp://x" }, /^CACHE_UPSTREAM="ftp:\/\/x" must be an http\(s\) URL/],
    [{ CACHE_UPSTREAM: "http://127.0.0.1:6000" }, /names port 6000, to which fetch refuses/],
    [
      { CACHE_LOG_LEVEL: "loud" },
      /^CACHE_LOG_LEVEL="loud" is not one of silent\|error\|info\|debug$/,
    ],
    [{ CACHE_OFF: "maybe" }, /^CACHE_OFF="maybe" is not a switch/],
    [{ CACHE_MAX_ANSWER_BYTES: "32MB" }, /^CACHE_MAX_ANSWER_BYTES="32MB" is not a whole number/],
    [{ CACHE_MAX_ANSWER_BYTES: "0" }, /^CACHE_MAX_ANSWER_BYTES="0"/],
    [{ CACHE_UPSTREAM_TIMEOUT_SEC: "0" }, /^CACHE_UPSTREAM_TIMEOUT_SEC="0" is not seconds/],
    [{ CACHE_UPSTREAM_TIMEOUT_SEC: "-5" }, /^CACHE_UPSTREAM_TIMEOUT_SEC="-5"/],
    [{ CACHE_UPSTREAM_TIMEOUT_SEC: "1e3" }, /^CACHE_UPSTREAM_TIMEOUT_SEC="1e3"/],
    [{ CACHE_HEADER_TIMEOUT_SEC: "2.5" }, /^CACHE_HEADER_TIMEOUT_SEC="2.5" is not whole seconds/],
    [{ CACHE_IDLE_TIMEOUT_SEC: "90000" }, /^CACHE_IDLE_TIMEOUT_SEC="90000" is not whole seconds/],
    [{ CACHE_MAX_CONNECTIONS: "-1" }, /^CACHE_MAX_CONNECTIONS="-1" is not a whole number/],
    [
      { CACHE_HOST: "0.0.0.0" },
      /^CACHE_HOST="0.0.0.0" is not a loopback address.*CACHE_AUTH_TOKEN/,
    ],
  ];
  for (const [vars, message] of cases) {
    await t.step(Object.entries(vars).flat().join("="), () => {
      assert.throws(() => buildConfig(vars, "/h"), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, message);
        assert.ok(!e.message.includes("\n"), "one line");
        return true;
      });
    });
  }
});

Deno.test("CACHE_LOG_FILE: a path, the default, or off by none or a switch's off word", () => {
  const home = "/home/u/.llm-cache-proxy";
  const file = (value: string | undefined) => buildConfig({ CACHE_LOG_FILE: value }, home).logFile;
  assert.equal(file(undefined), `${home}/proxy.log`);
  assert.equal(file(""), `${home}/proxy.log`);
  assert.equal(file("/var/log/cache.log"), "/var/log/cache.log");
  assert.equal(file("logs/on"), "logs/on");
  for (const off of ["none", "NONE", "off", "Off", "false", "no", "0", " off "]) {
    assert.equal(file(off), undefined, off);
  }
});

Deno.test("buildConfig() takes CACHE_QUIET=1 as the silent level", () => {
  assert.equal(
    buildConfig({ CACHE_QUIET: "1", CACHE_LOG_LEVEL: "debug" }, "/h").logLevel,
    "silent",
  );
});

Deno.test("isLoopback() knows 127/8, ::1 and localhost", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"]) {
    assert.ok(isLoopback(host), host);
  }
  for (const host of ["0.0.0.0", "::", "192.168.1.2", "128.0.0.1", "localhost.example.com"]) {
    assert.ok(!isLoopback(host), host);
  }
});

Deno.test("loadConfig() applies $CACHE_HOME/.env where the environment has no value", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${home}/.env`,
      "ANTHROPIC_API_KEY_REAL=sk-ant-file\nCACHE_PORT=4321\nCACHE_TTL_SEC=99\n",
    );
    const config = await loadConfig({ CACHE_HOME: home, CACHE_TTL_SEC: "5" });
    assert.equal(config.apiKey, "sk-ant-file");
    assert.equal(config.port, 4321);
    assert.equal(config.ttlSec, 5, "the environment wins over the file");
    assert.equal(config.home, home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("loadConfig() defaults CACHE_HOME to ~/.llm-cache-proxy and tolerates a missing .env", async () => {
  const config = await loadConfig({ HOME: "/nonexistent-home" });
  assert.equal(config.home, "/nonexistent-home/.llm-cache-proxy");
});

/** Runs `body` with a fresh cache home holding `normalize` as its normalize.json, if given. */
async function withNormalize<T>(
  normalize: string | undefined,
  body: (home: string) => Promise<T>,
): Promise<T> {
  const home = await Deno.makeTempDir({ prefix: "config_normalize_" });
  try {
    if (normalize !== undefined) await Deno.writeTextFile(`${home}/normalize.json`, normalize);
    return await body(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("loadConfig() without normalize.json: exact keys only, billing rule on", async () => {
  await withNormalize(undefined, async (home) => {
    const config = await loadConfig({ CACHE_HOME: home });
    assert.equal(config.normalize, NO_RULES);
    assert.equal(config.normalize.claudeCodeBilling, true);
  });
  assert.equal(buildConfig({}, "/h").normalize, NO_RULES);
});

Deno.test("loadConfig() reads $CACHE_HOME/normalize.json", async () => {
  const file = JSON.stringify({
    system_strip: ["Today's date[^\\n]*", "Working directory: [^\\n]*"],
    message_strip: ["/home/[^/]+"],
    ignore_fields: ["temperature"],
    suffix_only: true,
    suffix_turns: 2,
    claude_code_billing: false,
  });
  await withNormalize(file, async (home) => {
    const { normalize } = await loadConfig({ CACHE_HOME: home });
    assert.deepEqual(normalize.systemStrip.map((r) => r.source), [
      "Today's date[^\\n]*",
      "Working directory: [^\\n]*",
    ]);
    assert.deepEqual(normalize.ignoreFields.map((p) => p.source), ["temperature"]);
    assert.deepEqual(
      [normalize.messageStrip.length, normalize.suffixOnly, normalize.suffixTurns],
      [1, true, 2],
    );
    assert.equal(normalize.claudeCodeBilling, false);
  });
});

Deno.test("buildConfig() takes the normalize rules from its files argument", () => {
  const rules = parseNormalizeRules({ suffix_only: true });
  assert.equal(buildConfig({}, "/h", { normalize: rules }).normalize, rules);
});

Deno.test("loadConfig() rejects a bad normalize.json, naming the file and the problem", async (t) => {
  const cases: [string, RegExp][] = [
    [
      '{"system_strip": ["Today.*", "([a-z]+"]}',
      /^\S+\/normalize\.json is not valid: system_strip\[1\] "\(\[a-z\]\+" is not a regular expression \(Unterminated group\)/,
    ],
    ['{"message_strip": "x"}', /normalize\.json is not valid: message_strip must be a list/],
    ['{"suffix_turns": 0}', /normalize\.json is not valid: suffix_turns must be a whole number/],
    ['{"suffix_only": "true"}', /normalize\.json is not valid: suffix_only must be true or false/],
    ['{"ignore_fields": ["a[*]"]}', /normalize\.json is not valid: ignore_fields\[0\] "a\[\*\]"/],
    ['{"sytem_strip": []}', /normalize\.json is not valid: unknown field "sytem_strip"/],
    [
      '{"profile": "claude_code"}',
      /normalize\.json is not valid: profile "claude_code" is not a built-in profile \(the profiles are claude-code\)$/,
    ],
    ['{"keep_git_status": true}', /normalize\.json is not valid: keep_git_status needs "profile"/],
    ['{"system_strip": [', /normalize\.json is not valid JSON: /],
    ["[]", /normalize\.json is not valid: it must be a JSON object/],
  ];
  for (const [text, message] of cases) {
    await t.step(text, async () => {
      await withNormalize(text, async (home) => {
        await assert.rejects(loadConfig({ CACHE_HOME: home }), (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.match(e.message, message);
          assert.ok(e.message.startsWith(`${home}/normalize.json `), "names the file");
          assert.ok(!e.message.includes("\n"), "one line");
          return true;
        });
      });
    });
  }
});

Deno.test("checkConfig() reports normalize.json in one line: absent, valid or what is wrong", async () => {
  const line = async (file: string | undefined) =>
    await withNormalize(file, async (home) => {
      const report = await checkConfig({ CACHE_HOME: home });
      const check = report.checks.find((c) => c.name === "normalize.json");
      assert.ok(check !== undefined);
      return { ...check, normalize: report.config.normalize };
    });
  const absent = await line(undefined);
  assert.deepEqual([absent.ok, absent.detail], [
    true,
    "normalize.json not present (exact keys only; Claude Code billing block ignored)",
  ]);
  const valid = await line(
    '{"system_strip": ["a", "b"], "message_strip": ["c"], "ignore_fields": ["d"]}',
  );
  assert.deepEqual([valid.ok, valid.detail], [
    true,
    "normalize.json valid (2 system_strip, 1 message_strip, 1 ignore_fields; suffix_only=false)",
  ]);
  assert.equal(valid.normalize.systemStrip.length, 2, "the report's config uses the rules");
  const suffix = await line('{"suffix_only": true, "claude_code_billing": false}');
  assert.equal(
    suffix.detail,
    "normalize.json valid (0 system_strip, 0 message_strip, 0 ignore_fields; " +
      "suffix_only=true, suffix_turns=3; Claude Code billing block kept in keys)",
  );
  const profile = await line('{"profile": "claude-code", "keep_git_status": true}');
  assert.equal(
    profile.detail,
    "normalize.json valid (0 system_strip, 0 message_strip, 0 ignore_fields; " +
      "suffix_only=false; profile claude-code keeping git status)",
  );
  assert.equal(profile.normalize.profile, "claude-code");
  const bad = await line('{"system_strip": ["("]}');
  assert.equal(bad.ok, false);
  assert.match(bad.detail, /normalize\.json is not valid: system_strip\[0\] "\(" is not a reg/);
  assert.match(bad.fix ?? "", /^Fix or remove \S+\/normalize\.json: /);
  assert.equal(bad.normalize, NO_RULES);
});

Deno.test("CACHE_STORE selects Redis by URL; a bad one is refused without echoing its password", () => {
  assert.equal(buildConfig({}, "/h").storeUrl, undefined);
  assert.equal(buildConfig({ CACHE_STORE: "sqlite" }, "/h").storeUrl, undefined);
  for (
    const url of ["redis://127.0.0.1:6379", "redis://u:p@cache:6380/2", "rediss://cache.example"]
  ) {
    assert.equal(buildConfig({ CACHE_STORE: url }, "/h").storeUrl, url);
  }
  for (
    const bad of ["http://cache:6379", "redis://", "redis://u:hunter2@cache:6379/x", "cache:6379"]
  ) {
    assert.throws(
      () => buildConfig({ CACHE_STORE: bad }, "/h"),
      (e: Error) =>
        e instanceof ConfigError && /CACHE_STORE=/.test(e.message) &&
        !e.message.includes("hunter2"),
      bad,
    );
  }
});

Deno.test("checkConfig() shows the client connection limits and how to fix a bad one", async () => {
  const home = await Deno.makeTempDir();
  try {
    const report = await checkConfig({
      CACHE_HOME: home,
      CACHE_HEADER_TIMEOUT_SEC: "0",
      CACHE_MAX_CONNECTIONS: "lots",
    });
    const check = (name: string) => report.checks.find((c) => c.name === name)!;
    assert.equal(check("CACHE_HEADER_TIMEOUT_SEC").ok, true);
    assert.match(check("CACHE_HEADER_TIMEOUT_SEC").detail, /=0 \(off;/);
    assert.match(check("CACHE_IDLE_TIMEOUT_SEC").detail, /=75 \(seconds before an idle/);
    const bad = check("CACHE_MAX_CONNECTIONS");
    assert.equal(bad.ok, false);
    assert.match(bad.fix ?? "", /Set CACHE_MAX_CONNECTIONS to a whole number such as 512, or 0/);
    assert.equal(report.config.maxConnections, 512, "the default stands in for the bad value");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
