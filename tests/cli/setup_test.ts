/**
 * `llm-cache-proxy setup`: by flags, by piped answers, over an existing .env, with bad flags,
 * and once at a real terminal (tmux) for the hidden key.
 */
import assert from "node:assert/strict";
import { UsageError } from "../../src/cli/args.ts";
import { run } from "../../src/cli/setup.ts";
import { runCli } from "../support/cli.ts";
import { baseEnv } from "../support/process.ts";
import { cliScript, Tmux } from "../support/tmux.ts";
import { needs } from "../support/tools.ts";

const KEY = "sk-ant-api03-Zq9vXbN4mT7rL2kP8wY5hJ3gF6dS1aQ0eRtUiOpLkJhG-abcd";

/** A temporary CACHE_HOME, removed with `await using`. */
async function tempHome(): Promise<
  { path: string; env: Record<string, string> } & AsyncDisposable
> {
  const path = await Deno.makeTempDir({ prefix: "setup_test_" });
  return {
    path,
    env: { CACHE_HOME: path, HOME: path },
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

function setup(home: { env: Record<string, string> }, args: string[], stdin?: string) {
  return runCli(["setup", ...args], { env: home.env, ...(stdin === undefined ? {} : { stdin }) });
}

/** The `NAME=value` lines of a .env text. */
function settings(text: string): Record<string, string> {
  return Object.fromEntries(
    text.split("\n").flatMap((line) => {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      return m ? [[m[1]!, m[2]!]] : [];
    }),
  );
}

async function envFile(home: { path: string }): Promise<{ text: string; mode: number }> {
  const path = `${home.path}/.env`;
  return { text: await Deno.readTextFile(path), mode: (await Deno.stat(path)).mode! & 0o777 };
}

Deno.test("setup --yes writes the defaults to a new 0600 .env, with hints, and says what next", async () => {
  await using home = await tempHome();
  const out = await setup(home, ["--yes"]);
  assert.equal(out.code, 0, out.stderr);
  const { text, mode } = await envFile(home);
  assert.equal(mode, 0o600);
  assert.deepEqual(settings(text), {
    CACHE_PORT: "4000",
    CACHE_TTL_SEC: "604800",
    CACHE_MAX_ENTRIES: "5000",
    CACHE_HOST: "127.0.0.1",
  });
  assert.match(text, /^# CACHE_LOG_LEVEL=info/m);
  assert.match(text, new RegExp(`^# CACHE_LOG_FILE=${home.path}/proxy\\.log`, "m"));
  assert.ok(out.stdout.includes(`${home.path}/.env`), out.stdout);
  assert.match(out.stdout, /^\s+llm-cache-proxy on$/m);
  assert.match(out.stdout, /export ANTHROPIC_BASE_URL=http:\/\/localhost:4000$/m);
  assert.ok(!out.stdout.includes("Port ["), "--yes asks nothing");
});

Deno.test("setup by flags: a network host gets a token, printed once; the key is never printed", async () => {
  await using home = await tempHome();
  const out = await setup(home, [
    "--api-key",
    KEY,
    "--port",
    "4100",
    "--ttl",
    "2d",
    "--max-entries",
    "10",
    "--host",
    "0.0.0.0",
  ]);
  assert.equal(out.code, 0, out.stderr);
  const vars = settings((await envFile(home)).text);
  assert.equal(vars.ANTHROPIC_API_KEY_REAL, KEY);
  assert.deepEqual(
    [vars.CACHE_PORT, vars.CACHE_TTL_SEC, vars.CACHE_MAX_ENTRIES, vars.CACHE_HOST],
    ["4100", "172800", "10", "0.0.0.0"],
  );
  assert.match(vars.CACHE_AUTH_TOKEN ?? "", /^[0-9a-f]{48}$/);
  assert.ok(out.stdout.includes(`x-cache-auth: ${vars.CACHE_AUTH_TOKEN}`), out.stdout);
  assert.ok(!out.stdout.includes(KEY) && !out.stderr.includes(KEY), "key printed");
  assert.ok(out.stdout.includes("sk-ant-…abcd"), "masked key shown");
  assert.ok(!out.stdout.includes("Port ["), "flags answer every question: nothing asked");

  await rerunKeepsToken(home, vars.CACHE_AUTH_TOKEN!);
});

/** Running again with the same network host keeps the token and does not print it. */
async function rerunKeepsToken(home: { env: Record<string, string>; path: string }, token: string) {
  const again = await setup(home, ["--yes"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(settings((await envFile(home)).text).CACHE_AUTH_TOKEN, token);
  assert.ok(!again.stdout.includes(token), again.stdout);
}

Deno.test("setup --no-api-key removes the key line and keeps every other line", async () => {
  await using home = await tempHome();
  const before = "# my notes\nANTHROPIC_API_KEY_REAL=" + KEY +
    "\nCACHE_LOG_LEVEL=debug\nCACHE_PORT=4200\n";
  await Deno.writeTextFile(`${home.path}/.env`, before, { mode: 0o644 });
  await Deno.chmod(`${home.path}/.env`, 0o644);
  const out = await setup(home, ["--no-api-key", "--yes"]);
  assert.equal(out.code, 0, out.stderr);
  const { text, mode } = await envFile(home);
  assert.equal(mode, 0o600, "made private");
  assert.ok(!text.includes("ANTHROPIC_API_KEY_REAL"), text);
  assert.match(text, /^# my notes$/m);
  assert.match(text, /^CACHE_LOG_LEVEL=debug$/m);
  assert.match(text, /^CACHE_PORT=4200$/m, "the existing value is the default");
  assert.ok(!text.includes("# CACHE_LOG_FILE="), "hints only on creation");
  assert.match(out.stdout, /clients' own credentials pass through/);
});

Deno.test("setup reads piped answers in order, asks again after a bad one, defaults at EOF", async (t) => {
  await t.step("a bad port answer is refused with the reason", async () => {
    await using home = await tempHome();
    const out = await setup(home, [], "sk-ant-x\nabc\n4100\n\n\n\n");
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /"abc" is not a port from 1 to 65535; try again/);
    assert.equal(out.stdout.match(/^Port \[4000\]: $/gm)?.length, 2, out.stdout);
    const vars = settings((await envFile(home)).text);
    assert.equal(vars.ANTHROPIC_API_KEY_REAL, "sk-ant-x");
    assert.equal(vars.CACHE_PORT, "4100");
    assert.ok(!out.stdout.includes("sk-ant-x"), "the piped key is not echoed");
  });
  await t.step("EOF after the first answer takes the defaults for the rest", async () => {
    await using home = await tempHome();
    const out = await setup(home, ["--port", "4300"], "\n1h");
    assert.equal(out.code, 0, out.stderr);
    const vars = settings((await envFile(home)).text);
    assert.equal(vars.ANTHROPIC_API_KEY_REAL, undefined, "empty answer: no key");
    assert.deepEqual(
      [vars.CACHE_PORT, vars.CACHE_TTL_SEC, vars.CACHE_MAX_ENTRIES, vars.CACHE_HOST],
      ["4300", "3600", "5000", "127.0.0.1"],
    );
    assert.ok(!out.stdout.includes("Port ["), "--port answered the port question");
  });
});

Deno.test("setup offers the existing .env values as defaults, the key masked", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(
    `${home.path}/.env`,
    `# keep me\nANTHROPIC_API_KEY_REAL=${KEY}\nCACHE_PORT=4242\nCACHE_TTL_SEC=60\nEXTRA=1\n`,
  );
  const out = await setup(home, [], "\n\n\n\n\n");
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    /Anthropic API key \(enter keeps it, "none" removes it\) \[sk-ant-…abcd\]/,
  );
  assert.match(out.stdout, /^Port \[4242\]: $/m);
  assert.match(out.stdout, /\[60\]: $/m);
  assert.ok(!out.stdout.includes(KEY));
  const { text } = await envFile(home);
  assert.deepEqual(settings(text), {
    ANTHROPIC_API_KEY_REAL: KEY,
    CACHE_PORT: "4242",
    CACHE_TTL_SEC: "60",
    EXTRA: "1",
    CACHE_MAX_ENTRIES: "5000",
    CACHE_HOST: "127.0.0.1",
  });
  assert.match(text, /^# keep me$/m);
});

Deno.test("setup offers a setting of the environment as the default, since it wins over .env", async () => {
  await using home = await tempHome();
  await Deno.writeTextFile(`${home.path}/.env`, "CACHE_PORT=4242\n");
  const out = await runCli(["setup"], {
    env: { ...home.env, CACHE_PORT: "4150" },
    stdin: "\n\n\n\n\n",
  });
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /^Port \[4150\]: $/m);
  assert.equal(settings((await envFile(home)).text).CACHE_PORT, "4150");
});

Deno.test("setup refuses bad flag values, naming the flag and what is allowed", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--port", "abc"], /^--port "abc" must be a whole number from 1 to 65535$/],
    [["--port", "0"], /^--port "0"/],
    [["--ttl", "soon"], /^--ttl "soon" must be whole seconds from 1 to \d+, or .*7d/],
    [["--max-entries", "0"], /^--max-entries "0" must be a whole number from 1/],
    [["--host", "bad host"], /^--host "bad host" is not a host name or IP address/],
    [["--api-key", "hunter2"], /^--api-key is not an Anthropic API key: .*"sk-ant-"/],
    [["--api-key", KEY, "--no-api-key"], /^--api-key and --no-api-key cannot be used together$/],
    [["--auth-token", "short"], /^--auth-token is not usable: use at least 16 characters/],
    [["--bogus"], /Unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), async () => {
      await assert.rejects(() => run(args), (e: unknown) => {
        assert.ok(e instanceof UsageError, String(e));
        assert.match(e.message, message);
        assert.ok(!e.message.includes("hunter2"), "the refused key is not repeated");
        return true;
      });
    });
  }
  await t.step("as a process: exit 2, nothing written", async () => {
    await using home = await tempHome();
    const out = await setup(home, ["--yes", "--port", "99999"]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /--port "99999" must be a whole number from 1 to 65535/);
    await assert.rejects(() => Deno.stat(`${home.path}/.env`), Deno.errors.NotFound);
  });
});

Deno.test("setup at a real terminal hides the key as it is typed", needs("tmux"), async () => {
  await using home = await tempHome();
  const env = { ...baseEnv(), CACHE_HOME: home.path, NO_COLOR: "1" };
  await using tmux = await Tmux.start(home.path, await cliScript(home.path, env, ["setup"]), {
    columns: 200,
    rows: 50,
  });
  await tmux.screen("the key question", (p) => /Anthropic API key .*: $/m.test(p));
  await tmux.run("send-keys", "-l", KEY);
  await tmux.run("send-keys", "Enter");
  await tmux.screen("the port question", (p) => /^Port \[4000\]: $/m.test(p));
  await tmux.run("send-keys", "4555", "Enter", "Enter", "Enter", "Enter");
  const text = await tmux.screen("the exit", (p) => /exit=\d+/.test(p));
  assert.match(text, /exit=0/);
  assert.ok(!text.includes(KEY.slice(10, 30)), `the key is on screen:\n${text}`);
  assert.ok(text.includes("*".repeat(KEY.length)), text);
  const vars = settings((await envFile(home)).text);
  assert.equal(vars.ANTHROPIC_API_KEY_REAL, KEY);
  assert.equal(vars.CACHE_PORT, "4555");
});
