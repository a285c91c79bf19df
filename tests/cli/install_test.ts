/**
 * `llm-cache-proxy install` and `uninstall` as real subprocesses, with fake
 * `systemctl` and `loginctl` first on PATH that log their arguments.
 */
import assert from "node:assert/strict";
import { install, uninstall } from "../../src/cli/install.ts";
import { RUN_FLAGS } from "../../src/cli/self.ts";
import { VERSION } from "../../src/version.ts";
import { baseEnv, ROOT } from "../support/process.ts";
import { denoDir } from "../support/cli.ts";

const decoder = new TextDecoder();
const UNIT = "llm-cache-proxy.service";

/** A temp HOME, CACHE_HOME and XDG_CONFIG_HOME, and a folder of fake service managers. */
interface Sandbox extends AsyncDisposable {
  readonly root: string;
  readonly cacheHome: string;
  readonly unitFile: string;
  readonly bin: string;
  /** The calls the fakes recorded, one `program args…` per line. */
  calls(): Promise<string[]>;
}

async function sandbox(): Promise<Sandbox> {
  const root = await Deno.makeTempDir({ prefix: "install_test_" });
  const bin = `${root}/bin`;
  await Deno.mkdir(bin);
  for (const program of ["systemctl", "loginctl"]) await fake(bin, program);
  return {
    root,
    cacheHome: `${root}/cache`,
    unitFile: `${root}/config/systemd/user/${UNIT}`,
    bin,
    calls: async () => {
      const log = await Deno.readTextFile(`${root}/calls.log`).catch(() => "");
      return log.split("\n").filter(Boolean);
    },
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/** A stand-in for `program` that logs its arguments and runs `body` (default: exit 0). */
async function fake(bin: string, program: string, body = "exit 0"): Promise<void> {
  const script = `#!/bin/sh\nprintf '%s\\n' "${program} $*" >> "$FAKE_LOG"\n${body}\n`;
  await Deno.writeTextFile(`${bin}/${program}`, script, { mode: 0o755 });
  await Deno.chmod(`${bin}/${program}`, 0o755);
}

interface Output {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(box: Sandbox, args: string[], path = `${box.bin}:${Deno.env.get("PATH")}`) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...RUN_FLAGS, "src/main.ts", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: {
      ...baseEnv(),
      NO_COLOR: "1",
      HOME: box.root,
      CACHE_PORT: "1", // nothing answers there: install must not find (and stop) a real proxy
      CACHE_HOME: box.cacheHome,
      XDG_CONFIG_HOME: `${box.root}/config`,
      DENO_DIR: denoDir(),
      FAKE_LOG: `${box.root}/calls.log`,
      PATH: path,
    },
    stdin: "null",
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  } satisfies Output;
}

/** The ExecStart= words, which are plain here (temp paths need no quoting). */
function execStart(unit: string): string[] {
  const line = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  assert.ok(line && !/["\\%$]/.test(line), `unexpected ExecStart: ${line}`);
  return line.split(" ");
}

Deno.test("install writes the unit, enables it with linger; uninstall undoes it", async () => {
  await using box = await sandbox();
  const first = await cli(box, ["install"]);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(await box.calls(), [
    "systemctl --user daemon-reload",
    `systemctl --user enable --now ${UNIT}`,
    "loginctl enable-linger",
  ]);
  assert.deepEqual(first.stdout.split("\n").slice(0, 4), [
    `wrote ${box.unitFile}`,
    "systemctl --user daemon-reload",
    `systemctl --user enable --now ${UNIT}`,
    "loginctl enable-linger: starts at boot",
  ]);
  assert.match(first.stdout, /llm-cache-proxy status/);
  assert.match(first.stdout, /llm-cache-proxy uninstall/);
  assert.match(first.stderr, /^warning: no .*\/cache\/\.env yet.*llm-cache-proxy setup/);

  assert.equal((await Deno.stat(box.unitFile)).mode! & 0o777, 0o644);
  const unit = await Deno.readTextFile(box.unitFile);
  assert.match(unit, new RegExp(`^Environment="CACHE_HOME=${box.cacheHome}"$`, "m"));
  assert.match(unit, new RegExp(`^EnvironmentFile=-${box.cacheHome}/\\.env$`, "m"));
  assert.match(unit, /^Restart=on-failure$/m);
  const [program, ...args] = execStart(unit);
  assert.equal(program, Deno.execPath());
  assert.equal(args.at(-1), "serve");
  assert.ok(RUN_FLAGS.every((flag) => args.includes(flag)), args.join(" "));
  // The very command line, with `version` for `serve`, runs this program.
  const ran = await new Deno.Command(program!, {
    args: [...args.slice(0, -1), "version"],
    stdin: "null",
  }).output();
  assert.equal(decoder.decode(ran.stdout).trim(), `llm-cache-proxy ${VERSION}`);

  await Deno.mkdir(box.cacheHome, { recursive: true });
  await Deno.writeTextFile(`${box.cacheHome}/.env`, "CACHE_PORT=4000\n");
  await Deno.writeTextFile(box.unitFile, "stale");
  const again = await cli(box, ["install"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stderr, "");
  assert.equal(await Deno.readTextFile(box.unitFile), unit);
  assert.deepEqual((await box.calls()).slice(3), [
    `systemctl --user is-active --quiet ${UNIT}`, // is a proxy running outside the service?
    "systemctl --user daemon-reload",
    `systemctl --user enable --now ${UNIT}`,
    `systemctl --user restart ${UNIT}`,
    "loginctl enable-linger",
  ]);

  const removed = await cli(box, ["uninstall"]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual((await box.calls()).slice(8), [
    `systemctl --user disable --now ${UNIT}`,
    "systemctl --user daemon-reload",
  ]);
  await assert.rejects(Deno.stat(box.unitFile), Deno.errors.NotFound);
  assert.match(removed.stdout, new RegExp(`^removed ${box.unitFile}$`, "m"));
  assert.match(removed.stdout, /Left linger on.*loginctl disable-linger/);
  assert.doesNotMatch(removed.stdout + first.stdout, /✓/);

  const nothing = await cli(box, ["uninstall"]);
  assert.equal(nothing.code, 0, nothing.stderr);
  assert.match(nothing.stdout, /^Not installed \(no .*llm-cache-proxy\.service\): nothing to do/);
  assert.equal((await box.calls()).length, 10);
});

Deno.test("install fails with systemctl's message when systemctl fails", async () => {
  await using box = await sandbox();
  await fake(box.bin, "systemctl", 'echo "Failed to connect to bus: No medium found" >&2\nexit 1');
  const out = await cli(box, ["install"]);
  assert.equal(out.code, 1);
  assert.match(
    out.stderr,
    /llm-cache-proxy install: `systemctl --user daemon-reload` failed \(exit 1\): Failed to connect to bus: No medium found\. .*llm-cache-proxy on/,
  );
  assert.deepEqual(await box.calls(), ["systemctl --user daemon-reload"]);
  assert.match(out.stdout, new RegExp(`^wrote ${box.unitFile}\n`, "m"));
  assert.match(
    out.stdout,
    new RegExp(`^removed ${box.unitFile} again: the install did not finish$`, "m"),
    "what was reported written is reported removed",
  );
  await assert.rejects(
    Deno.stat(box.unitFile),
    Deno.errors.NotFound,
    "a failed first install leaves no unit behind for on/stop to trip over",
  );
});

Deno.test("install without systemctl on PATH says systemd is needed", async () => {
  await using box = await sandbox();
  const out = await cli(box, ["install"], `${box.root}/empty`);
  assert.equal(out.code, 1);
  assert.match(
    out.stderr,
    /systemctl not found: install needs systemd \(or run `llm-cache-proxy on` instead\)/,
  );
});

Deno.test("install and uninstall document their exit codes", () => {
  for (const command of [install, uninstall]) {
    assert.match(command.help, /^Usage: llm-cache-proxy (un)?install\n/);
    assert.match(command.help, /Exit codes: 0 .*, 1 .*, 2 bad command line/s);
  }
});
