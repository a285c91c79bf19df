import assert from "node:assert/strict";
import { COMMAND_NAMES, main } from "../../src/cli/mod.ts";

/** Runs `main` in this process with console output captured. */
async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { log, error } = console;
  let out = "";
  let err = "";
  console.log = (...parts: unknown[]) => void (out += parts.join(" ") + "\n");
  console.error = (...parts: unknown[]) => void (err += parts.join(" ") + "\n");
  try {
    return { code: await main(args), out, err };
  } finally {
    Object.assign(console, { log, error });
  }
}

const VERBS = [
  "serve",
  "run",
  "on",
  "off",
  "stop",
  "restart",
  "status",
  "stats",
  "setup",
  "validate",
  "monitor",
  "explore",
  "export",
  "import",
  "install",
  "uninstall",
  "key",
  "price",
  "usage",
  "version",
  "help",
];

Deno.test("every verb of llm-cache-proxy v2's control surface is here, each with --help", async () => {
  assert.deepEqual([...COMMAND_NAMES].sort(), [...VERBS].sort());
  for (const verb of VERBS) {
    const { code, out, err } = await capture([verb, "--help"]);
    assert.equal(code, 0, verb);
    assert.equal(err, "", verb);
    assert.match(
      out,
      new RegExp(`^Usage: llm-cache-proxy ${verb === "run" ? "serve" : verb}\\b`),
      verb,
    );
    if (!["version", "help"].includes(verb)) {
      assert.match(out, /Exit codes:/, `${verb} documents its exit codes`);
    }
  }
  const help = await capture(["--help"]);
  for (const verb of VERBS) assert.match(help.out, new RegExp(`^  ${verb} +\\S`, "m"), verb);
  assert.deepEqual(await capture(["help", "status"]), await capture(["status", "--help"]));
});

Deno.test("unknown verbs and flags get one line that points at --help, and exit 2", async () => {
  const verb = await capture(["frobnicate"]);
  assert.equal(verb.code, 2);
  assert.equal(
    verb.err,
    'llm-cache-proxy: unknown command "frobnicate". Run "llm-cache-proxy --help" for the list\n',
  );
  for (const verb of VERBS) {
    const flag = await capture([verb, "--frobnicate"]);
    assert.equal(flag.code, 2, verb);
    assert.equal(flag.out, "", verb);
    const lines = flag.err.trimEnd().split("\n");
    assert.equal(lines.length, 1, `${verb}: ${flag.err}`);
    assert.match(lines[0]!, /--frobnicate/, verb);
    assert.match(lines[0]!, new RegExp(`Run "llm-cache-proxy ${verb} --help"$`), verb);
  }
});

Deno.test("version prints the version from deno.json", async () => {
  const { version } = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  for (const args of [["version"], ["--version"], ["-V"]]) {
    assert.deepEqual(await capture(args), {
      code: 0,
      out: `llm-cache-proxy ${version}\n`,
      err: "",
    });
  }
});
