/**
 * `llm-cache-proxy install` and `uninstall`: the proxy as a boot service, a
 * systemd user unit (with linger, so it starts at boot) on Linux or a launchd
 * agent (starts at login) on macOS, restarted when it fails. The steps
 * themselves are in `install_service.ts`.
 *
 * @module
 */
import { resolve } from "node:path";
import { type Config, loadConfig } from "../config.ts";
import { parseFlags } from "./args.ts";
import { findProxy } from "./running.ts";
import { stopProxy } from "./stop.ts";
import type { Command } from "./command.ts";
import { installService, type Step, uninstallService } from "./install_service.ts";
import { ServiceError } from "./service.ts";
import { styleFor } from "./term.ts";

/** Prints steps: `✓`/`!` marks and colour on a terminal, plain words in a pipe. */
function printer(): (step: Step) => void {
  const out = styleFor(Deno.stdout);
  const err = styleFor(Deno.stderr);
  return ({ kind, text }) => {
    if (kind === "warn") console.error(err.warn(text));
    else console.log(kind === "done" ? out.ok(text) : text);
  };
}

/** Runs a service step for a command: exit 0, or 1 with the error on stderr. */
async function runStep(
  name: string,
  args: string[],
  step: (config: Config) => Promise<void>,
): Promise<number> {
  parseFlags(args, {});
  const config = await loadConfig(Deno.env.toObject());
  try {
    await step(config);
    return 0;
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    console.error(`llm-cache-proxy ${name}: ${e.message}`);
    return 1;
  }
}

/** `llm-cache-proxy install`. */
export const install: Command = {
  summary: "Run the proxy as a service: at boot (Linux) or login (macOS), restarted on failure",
  help: `Usage: llm-cache-proxy install

Runs the proxy as a service of the operating system, now and from then on:
  Linux   a systemd user unit, ~/.config/systemd/user/llm-cache-proxy.service
          ($XDG_CONFIG_HOME if set), enabled and started, with linger so that it
          starts at boot, before you log in
  macOS   a launchd agent, ~/Library/LaunchAgents/com.llm-cache-proxy.plist,
          started now and at every login
Either way it runs "llm-cache-proxy serve" with this CACHE_HOME, reads its
settings from CACHE_HOME/.env (run "llm-cache-proxy setup" first) and is
restarted when it fails. Running install again rewrites the file and restarts
the service, e.g. after an upgrade or a change to CACHE_HOME.

Check it with "llm-cache-proxy status"; undo it with "llm-cache-proxy uninstall".
On Windows, use "llm-cache-proxy on" or a Task Scheduler task instead.

Exit codes: 0 installed and started, 1 the service manager failed or is
missing (the message says why), 2 bad command line or configuration.`,
  run: (args) =>
    runStep("install", args, async (config) => {
      const running = await findProxy(config);
      if (running.pid !== undefined && !running.serviceActive) await stopProxy(config); // the service takes over
      const service = await installService(config, { report: printer() });
      const logs = service.kind === "systemd"
        ? "journalctl --user -u llm-cache-proxy"
        : `${resolve(config.home)}/launchd.err.log`;
      console.log(
        `\nCheck it:  llm-cache-proxy status\nLogs:      ${logs}\n` +
          "Undo:      llm-cache-proxy uninstall",
      );
    }),
};

/** `llm-cache-proxy uninstall`. */
export const uninstall: Command = {
  summary: "Stop the service and remove what install wrote",
  help: `Usage: llm-cache-proxy uninstall

Stops and disables the service that "llm-cache-proxy install" set up and
removes its file: on Linux "systemctl --user disable --now", then the unit and a
daemon-reload; on macOS "launchctl bootout", then the plist. Linger stays on,
as other user services may need it ("loginctl disable-linger" turns it off).
The cache, its settings and the logs in CACHE_HOME stay. With no service
installed it says so and does nothing.

Exit codes: 0 removed or nothing to remove, 1 the service manager failed (the
message says why), 2 bad command line or configuration.`,
  run: (args) =>
    runStep("uninstall", args, async (config) => {
      await uninstallService(config, { report: printer() });
    }),
};
