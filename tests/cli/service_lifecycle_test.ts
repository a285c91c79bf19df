/**
 * on, status, stop and uninstall with the boot service installed, as real subprocesses: a stand-in
 * `systemctl` on PATH plays systemd for one unit (it runs the unit's ExecStart with its
 * Environment, and stops it), so the test sees the commands go through the service manager
 * instead of fighting it.
 */
import assert from "node:assert/strict";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { messageBody } from "../support/proxy.ts";
import { runCli } from "../support/cli.ts";
import { eventually, freePort } from "../support/harness.ts";

const FAKE_SYSTEMCTL = `#!/bin/sh
printf '%s\\n' "systemctl $*" >> "$FAKE_LOG"
unit="$XDG_CONFIG_HOME/systemd/user/llm-cache-proxy.service"
pidfile="$FAKE_STATE/main.pid"
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
start() {
  running && return 0
  eval "export $(sed -n 's/^Environment=//p' "$unit")"
  eval "set -- $(sed -n 's/^ExecStart=//p' "$unit")"
  "$@" >/dev/null 2>&1 &
  echo $! > "$pidfile"
}
stop() {
  if running; then kill "$(cat "$pidfile")"; while running; do sleep 0.05; done; fi
  rm -f "$pidfile"
}
case "$2" in
  enable|start) start ;;
  stop|disable) stop ;;
  restart) stop; start ;;
  is-active) running ;;
esac
`;

async function health(base: string): Promise<{ pid: number } | undefined> {
  try {
    const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(500) });
    return await res.json();
  } catch {
    return undefined;
  }
}

Deno.test("with the service installed, on/stop/status go through systemctl", async () => {
  await using mock = await startMockAnthropic();
  const root = await Deno.makeTempDir({ prefix: "service_lifecycle_" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const cacheHome = `${root}/cache`;
  await Deno.mkdir(`${root}/bin`, { recursive: true });
  await Deno.mkdir(`${root}/state`);
  await Deno.writeTextFile(`${root}/bin/systemctl`, FAKE_SYSTEMCTL, { mode: 0o755 });
  await Deno.writeTextFile(`${root}/bin/loginctl`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  await Deno.mkdir(cacheHome);
  // The service reads its settings from .env, as a real one does.
  await Deno.writeTextFile(
    `${cacheHome}/.env`,
    `CACHE_PORT=${port}\nCACHE_UPSTREAM=${mock.url}\nANTHROPIC_API_KEY_REAL=sk-ant-api03-service\n`,
    { mode: 0o600 },
  );
  const env = {
    HOME: root,
    CACHE_HOME: cacheHome,
    XDG_CONFIG_HOME: `${root}/config`,
    PATH: `${root}/bin:${Deno.env.get("PATH")}`,
    FAKE_LOG: `${root}/calls.log`,
    FAKE_STATE: `${root}/state`,
  };
  const cli = (...args: string[]) => runCli(args, { env });
  const calls = async () => (await Deno.readTextFile(`${root}/calls.log`)).trim().split("\n");
  try {
    const installed = await cli("install");
    assert.equal(installed.code, 0, installed.stderr);
    const first = await eventually("the service to answer", () => health(base));

    const status = await cli("status");
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      new RegExp(`running \\(pid ${first.pid}, up .*systemd service active`),
    );

    const res = await fetch(`${base}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: messageBody("served by the service"),
    });
    await res.arrayBuffer();
    assert.equal(res.headers.get("x-cache"), "MISS");

    const stop = await cli("stop");
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /Stopped the systemd service \(llm-cache-proxy\.service\)/);
    assert.equal((await calls()).at(-1), "systemctl --user stop llm-cache-proxy.service");
    assert.equal(await health(base), undefined);

    const on = await cli("on");
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /\(pid \d+ by its systemd service\) · cache ON/);
    assert.ok((await calls()).includes("systemctl --user start llm-cache-proxy.service"));
    const second = await eventually("the restarted service", () => health(base));
    assert.notEqual(second.pid, first.pid);

    const removed = await cli("uninstall");
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(await health(base), undefined, "uninstall stops the service");
    const after = await cli("status");
    assert.equal(after.code, 3);
    assert.doesNotMatch(after.stdout, /service/);
  } finally {
    const pid = await Deno.readTextFile(`${root}/state/main.pid`).catch(() => "");
    if (pid) Deno.kill(Number(pid), "SIGKILL");
    await Deno.remove(root, { recursive: true });
  }
});
