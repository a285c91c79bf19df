import assert from "node:assert/strict";
import { buildConfig, ConfigError, isLoopback, loadConfig } from "../src/config.ts";

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
    CACHE_UPSTREAM: "http://127.0.0.1:9/prefix/",
  }, "/h");
  assert.deepEqual(
    [config.apiKey, config.port, config.host, config.authToken, config.ttlSec],
    ["sk-ant-real", 4100, "0.0.0.0", "tok", 60],
  );
  assert.deepEqual([config.maxEntries, config.off, config.logLevel], [7, true, "debug"]);
  assert.equal(config.upstream, "http://127.0.0.1:9/prefix");
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
    [
      { CACHE_LOG_LEVEL: "loud" },
      /^CACHE_LOG_LEVEL="loud" is not one of silent\|error\|info\|debug$/,
    ],
    [{ CACHE_OFF: "maybe" }, /^CACHE_OFF="maybe" is not a switch/],
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
