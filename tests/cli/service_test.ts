/**
 * The boot service in-process: the rendered unit as systemd itself reads it
 * (`systemd-analyze verify`, `systemd --test`), the plist as a plist parser
 * reads it, and the launchctl calls of the macOS path through a fake launchd.
 */
import assert from "node:assert/strict";
import { parse as parsePlist } from "plist";
import { buildConfig, type Config } from "../../src/config.ts";
import { installService, type Step, uninstallService } from "../../src/cli/install_service.ts";
import {
  findService,
  isServiceActive,
  runChecked,
  ServiceError,
  type ServiceManager,
  servicePlace,
  startService,
  stopService,
  SYSTEM_MANAGER,
} from "../../src/cli/service.ts";
import { renderPlist, renderUnit, type ServiceSpec } from "../../src/cli/service_files.ts";
import { needs } from "../support/tools.ts";

const decoder = new TextDecoder();
/** Every character a path may hold that a unit or a plist must quote or escape. */
const AWKWARD = `a b %n $HOME &amp; <x> "q" 'a' \\ ;`;

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "service_test_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

function configIn(home: string): Config {
  return buildConfig({ HOME: home }, `${home}/cache`);
}

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(command, { args, env, stdin: "null" }).output();
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

/** `systemd-analyze verify --user` on the unit, offline: a clean unit prints nothing. */
async function verifyUnit(text: string): Promise<{ code: number; output: string }> {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/runtime`);
  await Deno.writeTextFile(`${dir.path}/llm-cache-proxy.service`, text);
  return await run(
    "systemd-analyze",
    ["verify", "--user", "--man=no", `${dir.path}/llm-cache-proxy.service`],
    { XDG_RUNTIME_DIR: `${dir.path}/runtime` },
  );
}

/**
 * How the systemd user manager reads the unit (`systemd --test --user` dumps it; it refuses
 * to run as root, so root runs it as nobody): ExecStart's argv and the environment settings.
 */
async function loadUnit(text: string): Promise<{ argv: string[]; env: string; envFile: string }> {
  await using dir = await tempDir();
  await Deno.chmod(dir.path, 0o755);
  await Deno.mkdir(`${dir.path}/units`, { mode: 0o755 });
  await Deno.mkdir(`${dir.path}/runtime`, { mode: 0o777 });
  await Deno.chmod(`${dir.path}/runtime`, 0o777);
  await Deno.writeTextFile(`${dir.path}/units/llm-cache-proxy.service`, text, { mode: 0o644 });
  const systemd = [
    "/usr/lib/systemd/systemd",
    "--test",
    "--user",
    "--unit=llm-cache-proxy.service",
  ];
  const asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
  const { output } = await run(
    Deno.uid() === 0 ? "setpriv" : systemd[0]!,
    Deno.uid() === 0 ? [...asNobody, ...systemd] : systemd.slice(1),
    { SYSTEMD_UNIT_PATH: `${dir.path}/units:`, XDG_RUNTIME_DIR: `${dir.path}/runtime` },
  );
  const unit = output.split("-> Unit llm-cache-proxy.service:")[1]?.split(/\n\t-> Unit /)[0];
  const field = (name: string) => new RegExp(`^\\t+${name}: (.*)$`, "m").exec(unit ?? "")?.[1];
  const commandLine = field("Command Line");
  assert.ok(commandLine !== undefined, `systemd --test did not show the unit:\n${output}`);
  return {
    argv: shellWords(commandLine),
    env: field("Environment")!,
    envFile: field("EnvironmentFile")!,
  };
}

/** Splits the dump's command line: words, or double-quoted with backslash escapes. */
function shellWords(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) =>
    m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!
  );
}

/** Parses a plist, failing on anything the (lenient) XML parser only complains about. */
function parsePlistStrictly(text: string): Record<string, unknown> {
  const complaints: unknown[] = [];
  const { error, warn } = console;
  console.error = console.warn = (...args: unknown[]) => void complaints.push(args);
  try {
    const value = parsePlist(text) as Record<string, unknown>;
    assert.deepEqual(complaints, [], "the plist is not well-formed XML");
    return value;
  } finally {
    Object.assign(console, { error, warn });
  }
}

const plainSpec = (cacheHome: string): ServiceSpec => ({
  invocation: { command: Deno.execPath(), args: ["run", "--allow-net", "/x/main.ts", "serve"] },
  cacheHome,
});

Deno.test(
  "renderUnit() passes systemd-analyze verify, which catches a broken unit",
  needs("systemd-analyze"),
  async (t) => {
    const unit = renderUnit(plainSpec("/home/u/.llm-cache-proxy"));
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^EnvironmentFile=-\/home\/u\/\.llm-cache-proxy\/\.env$/m);
    assert.match(unit, /^WantedBy=default\.target$/m);
    assert.deepEqual(await verifyUnit(unit), { code: 0, output: "" });
    await t.step("an unbalanced quote fails", async () => {
      const broken = await verifyUnit(unit.replace("ExecStart=", 'ExecStart="'));
      assert.notEqual(broken.code, 0);
      assert.match(broken.output, /Unbalanced quoting/);
    });
    await t.step("a missing program fails", async () => {
      const broken = await verifyUnit(unit.replace(Deno.execPath(), "/nonexistent/deno"));
      assert.match(broken.output, /is not executable/);
    });
    await t.step("an unknown setting is reported", async () => {
      assert.match((await verifyUnit(`${unit}\nBogus=1\n`)).output, /Unknown key/);
    });
  },
);

Deno.test(
  "renderUnit() quotes paths with spaces, %, $, &, <, quotes and backslashes",
  needs("systemd-analyze"),
  async () => {
    await using dir = await tempDir();
    const bin = `${dir.path}/a b %n $HOME &amp; <x> ;`; // systemd refuses quotes in a program path
    const home = `${dir.path}/${AWKWARD}`;
    await Deno.mkdir(bin);
    await Deno.symlink(Deno.execPath(), `${bin}/deno`);
    const spec: ServiceSpec = {
      invocation: { command: `${bin}/deno`, args: ["run", `--config=${home}/x`, ";", "serve"] },
      cacheHome: home,
    };
    const unit = renderUnit(spec);
    // verify finds the program only if systemd reads its path back exactly.
    assert.deepEqual(await verifyUnit(unit), { code: 0, output: "" });
    const loaded = await loadUnit(unit);
    // Arguments keep `$$` for run time, where systemd turns it into `$` (systemd.service(5)).
    const runTime = (arg: string) => arg.replaceAll("$", "$$$$");
    assert.deepEqual(loaded.argv, [spec.invocation.command, ...spec.invocation.args.map(runTime)]);
    assert.equal(loaded.env, `CACHE_HOME=${home}`);
    assert.equal(loaded.envFile, `-${home}/.env`);
  },
);

Deno.test("renderUnit() refuses a program path systemd cannot run", () => {
  for (const path of [`/home/o'brien/deno`, `/a"b/deno`, "/a\\b/deno"]) {
    assert.throws(
      () => renderUnit({ invocation: { command: path, args: ["serve"] }, cacheHome: "/h" }),
      /systemd refuses a program path that holds a quote or a backslash/,
    );
  }
});

Deno.test("renderUnit() and renderPlist() refuse a control character", () => {
  for (const render of [renderUnit, renderPlist]) {
    assert.throws(() => render(plainSpec("/home/u/a\nb")), RangeError);
  }
});

Deno.test("renderPlist() is a launchd agent plist that runs serve", () => {
  const spec = plainSpec("/Users/u/.llm-cache-proxy");
  const agent = parsePlistStrictly(renderPlist(spec));
  assert.deepEqual(agent, {
    Label: "com.llm-cache-proxy",
    ProgramArguments: [Deno.execPath(), "run", "--allow-net", "/x/main.ts", "serve"],
    EnvironmentVariables: { CACHE_HOME: "/Users/u/.llm-cache-proxy" },
    RunAtLoad: true,
    KeepAlive: { SuccessfulExit: false },
    StandardOutPath: "/Users/u/.llm-cache-proxy/launchd.out.log",
    StandardErrorPath: "/Users/u/.llm-cache-proxy/launchd.err.log",
  });
});

Deno.test("renderPlist() escapes every string", () => {
  const home = `/Users/${AWKWARD}`;
  const spec: ServiceSpec = {
    invocation: { command: `${home}/bin/llm-cache-proxy`, args: [`--x=${AWKWARD}`, "serve"] },
    cacheHome: home,
  };
  const agent = parsePlistStrictly(renderPlist(spec));
  assert.deepEqual(agent.ProgramArguments, [spec.invocation.command, ...spec.invocation.args]);
  assert.deepEqual(agent.EnvironmentVariables, { CACHE_HOME: home });
  assert.equal(agent.StandardErrorPath, `${home}/launchd.err.log`);
});

/** A launchd that knows one agent: loaded after bootstrap, gone after bootout. */
function fakeLaunchd(): ServiceManager & { calls: string[]; state: string } {
  let loaded = false;
  const calls: string[] = [];
  const ok = (stdout = "") => Promise.resolve({ code: 0, stdout, stderr: "" });
  return {
    calls,
    state: "running",
    run(command, args) {
      calls.push([command, ...args].join(" "));
      assert.equal(command, "launchctl");
      if (args[0] === "print") {
        return loaded
          ? ok(`gui/501/com.llm-cache-proxy = {\n\tstate = ${this.state}\n}\n`)
          : Promise.resolve({
            code: 113,
            stdout: "",
            stderr: `Could not find service "com.llm-cache-proxy" in domain for uid\n`,
          });
      }
      if (args[0] === "bootstrap") loaded = true;
      if (args[0] === "bootout") loaded = false;
      return ok();
    },
  };
}

Deno.test("the macOS path bootstraps, reloads and boots out the agent", async () => {
  await using dir = await tempDir();
  const config = configIn(dir.path);
  const launchd = fakeLaunchd();
  const steps: Step[] = [];
  const options = {
    os: "darwin",
    manager: launchd,
    invocation: { command: "/opt/bin/llm-cache-proxy", args: ["serve"] },
    report: (step: Step) => steps.push(step),
  } as const;
  const domain = `gui/${Deno.uid()}`;
  const target = `${domain}/com.llm-cache-proxy`;
  const plist = `${dir.path}/Library/LaunchAgents/com.llm-cache-proxy.plist`;

  const service = await installService(config, options);
  assert.deepEqual(service, { kind: "launchd", file: plist, label: "com.llm-cache-proxy" });
  assert.deepEqual(launchd.calls, [
    `launchctl print ${target}`,
    `launchctl enable ${target}`,
    `launchctl bootstrap ${domain} ${plist}`,
  ]);
  assert.equal((await Deno.stat(plist)).mode! & 0o777, 0o644);
  assert.equal(
    parsePlistStrictly(await Deno.readTextFile(plist)).ProgramArguments
      ?.toString(),
    "/opt/bin/llm-cache-proxy,serve",
  );
  assert.ok(steps.some((s) => s.kind === "warn" && s.text.includes("llm-cache-proxy setup")));

  launchd.calls.length = 0;
  await installService(config, options);
  assert.deepEqual(launchd.calls, [
    `launchctl print ${target}`,
    `launchctl bootout ${target}`,
    `launchctl print ${target}`,
    `launchctl enable ${target}`,
    `launchctl bootstrap ${domain} ${plist}`,
  ]);

  launchd.calls.length = 0;
  assert.deepEqual(await uninstallService(config, options), service);
  assert.deepEqual(launchd.calls, [
    `launchctl print ${target}`,
    `launchctl bootout ${target}`,
    `launchctl print ${target}`,
  ]);
  await assert.rejects(Deno.stat(plist), Deno.errors.NotFound);

  launchd.calls.length = 0;
  assert.equal(await uninstallService(config, options), undefined);
  assert.deepEqual(launchd.calls, []);
  assert.match(steps.at(-1)!.text, /^Not installed \(no .*com\.llm-cache-proxy\.plist\)/);
});

Deno.test("findService() finds the file for the OS; start, stop and status use it", async (t) => {
  await using dir = await tempDir();
  const config = configIn(dir.path);
  await t.step("launchd", async () => {
    assert.equal(await findService(config, "darwin"), undefined);
    const launchd = fakeLaunchd();
    await installService(config, {
      os: "darwin",
      manager: launchd,
      invocation: plainSpec("").invocation,
    });
    const service = await findService(config, "darwin");
    assert.deepEqual(service, servicePlace(config, "darwin"));
    const target = `gui/${Deno.uid()}/com.llm-cache-proxy`;
    launchd.calls.length = 0;
    assert.equal(await isServiceActive(service!, launchd), true);
    launchd.state = "not running"; // loaded, but exited: KeepAlive only restarts a failure
    assert.equal(await isServiceActive(service!, launchd), false);
    launchd.state = "running";
    await stopService(service!, launchd);
    assert.equal(await isServiceActive(service!, launchd), false);
    await stopService(service!, launchd); // not loaded: nothing to boot out
    await startService(service!, launchd);
    await startService(service!, launchd); // loaded: kickstart
    assert.deepEqual(launchd.calls, [
      `launchctl print ${target}`,
      `launchctl print ${target}`,
      `launchctl print ${target}`,
      `launchctl bootout ${target}`,
      `launchctl print ${target}`,
      `launchctl print ${target}`,
      `launchctl print ${target}`,
      `launchctl bootstrap gui/${Deno.uid()} ${service!.file}`,
      `launchctl print ${target}`,
      `launchctl kickstart ${target}`,
    ]);
  });
  await t.step("systemd", async () => {
    assert.equal(await findService(config, "linux"), undefined);
    const place = servicePlace(config, "linux")!;
    assert.equal(place.file, `${dir.path}/.config/systemd/user/llm-cache-proxy.service`);
    await Deno.mkdir(`${dir.path}/.config/systemd/user`, { recursive: true });
    await Deno.writeTextFile(place.file, "");
    const service = await findService(config, "linux");
    assert.deepEqual(service, {
      kind: "systemd",
      file: place.file,
      label: "llm-cache-proxy.service",
    });
    const calls: string[] = [];
    let active = 3;
    const systemd: ServiceManager = {
      run(command, args) {
        calls.push([command, ...args].join(" "));
        return Promise.resolve({
          code: args[1] === "is-active" ? active : 0,
          stdout: "",
          stderr: "",
        });
      },
    };
    assert.equal(await isServiceActive(service!, systemd), false);
    active = 0;
    assert.equal(await isServiceActive(service!, systemd), true);
    await startService(service!, systemd);
    await stopService(service!, systemd);
    assert.deepEqual(calls, [
      "systemctl --user is-active --quiet llm-cache-proxy.service",
      "systemctl --user is-active --quiet llm-cache-proxy.service",
      "systemctl --user start llm-cache-proxy.service",
      "systemctl --user stop llm-cache-proxy.service",
    ]);
  });
  await t.step("windows has none", async () => {
    assert.equal(await findService(config, "windows"), undefined);
  });
});

Deno.test("a failing service manager call says what failed, why, and what to do", async () => {
  const failing: ServiceManager = {
    run: () => Promise.resolve({ code: 1, stdout: "", stderr: "Failed to connect to bus\n" }),
  };
  await assert.rejects(
    runChecked(failing, "systemctl", ["--user", "start", "x"], "Try again"),
    (e: Error) => {
      assert.ok(e instanceof ServiceError);
      assert.equal(
        e.message,
        "`systemctl --user start x` failed (exit 1): Failed to connect to bus. Try again",
      );
      return true;
    },
  );
  await assert.rejects(
    SYSTEM_MANAGER.run("llm-cache-proxy-no-such-program", []),
    /llm-cache-proxy-no-such-program not found: install it or add it to PATH/,
  );
  assert.equal((await SYSTEM_MANAGER.run("sh", ["-c", "echo out; echo err >&2; exit 3"])).code, 3);
  assert.deepEqual(await SYSTEM_MANAGER.run("sh", ["-c", "echo out; echo err >&2"]), {
    code: 0,
    stdout: "out\n",
    stderr: "err\n",
  });
});

Deno.test("installService() on Windows points to `on` and Task Scheduler", async () => {
  await using dir = await tempDir();
  await assert.rejects(
    installService(configIn(dir.path), { os: "windows", manager: fakeLaunchd() }),
    (e: Error) =>
      e instanceof ServiceError && /llm-cache-proxy on/.test(e.message) &&
      /Task Scheduler/.test(e.message),
  );
});
