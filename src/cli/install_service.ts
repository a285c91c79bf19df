/**
 * Installs and uninstalls the proxy as a boot service: a systemd user unit
 * (with linger, so it starts at boot) on Linux or a launchd agent (starts at
 * login) on macOS, restarted when it fails. The `install` and `uninstall`
 * commands in `install.ts` run these steps and print them.
 *
 * @module
 */
import { resolve } from "node:path";
import type { Config } from "../config.ts";
import { exists, replaceFile } from "../fs.ts";
import { type Invocation, selfInvocation } from "./self.ts";
import {
  findService,
  type InstalledService,
  launchctl,
  launchdDomain,
  launchdLoaded,
  launchdTarget,
  runChecked,
  ServiceError,
  type ServiceManager,
  servicePlace,
  SYSTEM_MANAGER,
  systemctl,
} from "./service.ts";
import { renderPlist, renderUnit, type ServiceSpec } from "./service_files.ts";

/** One line of progress: a step done, a warning, or a note. */
export interface Step {
  /** `done` gets a ✓ on a terminal, `warn` goes to stderr, `note` is plain. */
  readonly kind: "done" | "warn" | "note";
  /** One line, e.g. `wrote /home/u/.config/systemd/user/llm-cache-proxy.service`. */
  readonly text: string;
}

/** How {@link installService} and {@link uninstallService} run; defaults are the real system. */
export interface ServiceOptions {
  /** @default Deno.build.os */
  readonly os?: typeof Deno.build.os;
  /** @default SYSTEM_MANAGER */
  readonly manager?: ServiceManager;
  /** What the service runs. @default selfInvocation(["serve"]) */
  readonly invocation?: Invocation;
  /** Receives each step as it happens. */
  readonly report?: (step: Step) => void;
}

/**
 * Writes the unit or plist and has the service manager run it now and at
 * boot (Linux) or login (macOS); run again, it rewrites the file and restarts
 * the service.
 *
 * @param config the configuration
 * @param options the OS, service manager, program and progress callback
 * @returns the installed service
 * @throws {ServiceError} when the OS has no supported service manager or a step fails
 * @example
 * ```ts
 * await installService(await loadConfig(Deno.env.toObject()), { report: console.log });
 * ```
 */
export async function installService(
  config: Config,
  options: ServiceOptions = {},
): Promise<InstalledService> {
  const os = options.os ?? Deno.build.os;
  const manager = options.manager ?? SYSTEM_MANAGER;
  const report = options.report ?? (() => {});
  const service = servicePlace(config, os) ?? unsupported(config, os);
  const spec: ServiceSpec = {
    invocation: options.invocation ?? selfInvocation(["serve"]),
    cacheHome: resolve(config.home),
  };
  if (!(await exists(`${spec.cacheHome}/.env`))) {
    report({
      kind: "warn",
      text: `no ${spec.cacheHome}/.env yet, so the service has no API key or settings: run ` +
        "`llm-cache-proxy setup` first, then install again",
    });
  }
  const existed = await exists(service.file);
  try {
    if (service.kind === "systemd") await installUnit(service, spec, manager, report);
    else await installAgent(service, spec, manager, report);
  } catch (e) {
    // A half-done first install must not leave a file that makes `on` and `stop` go
    // through a service manager that cannot run it; the user saw it written, so say so.
    if (!existed && await Deno.remove(service.file).then(() => true, () => false)) {
      report({ kind: "note", text: `removed ${service.file} again: the install did not finish` });
    }
    throw e;
  }
  return service;
}

async function installUnit(
  service: InstalledService,
  spec: ServiceSpec,
  manager: ServiceManager,
  report: (step: Step) => void,
): Promise<void> {
  const existed = await exists(service.file);
  await writeServiceFile(service.file, rendered(renderUnit, spec));
  report({ kind: "done", text: `wrote ${service.file}` });
  for (const args of [["daemon-reload"], ["enable", "--now", service.label]]) {
    await systemctl(manager, args);
    report({ kind: "done", text: `systemctl --user ${args.join(" ")}` });
  }
  if (existed) {
    await systemctl(manager, ["restart", service.label]);
    report({ kind: "done", text: `systemctl --user restart ${service.label}: runs the new unit` });
  }
  await runChecked(
    manager,
    "loginctl",
    ["enable-linger"],
    "The service runs now but starts only when you log in; to start it at boot, ask an " +
      "administrator to run `sudo loginctl enable-linger <your user name>`",
  );
  report({ kind: "done", text: "loginctl enable-linger: starts at boot" });
}

async function installAgent(
  service: InstalledService,
  spec: ServiceSpec,
  manager: ServiceManager,
  report: (step: Step) => void,
): Promise<void> {
  const loaded = await launchdLoaded(service, manager);
  await writeServiceFile(service.file, rendered(renderPlist, spec));
  report({ kind: "done", text: `wrote ${service.file}` });
  if (loaded) {
    await bootout(service, manager);
    report({
      kind: "done",
      text: `launchctl bootout ${launchdTarget(service)}: stopped the old one`,
    });
  }
  await launchctl(manager, ["enable", launchdTarget(service)], service);
  await launchctl(manager, ["bootstrap", launchdDomain(), service.file], service);
  report({
    kind: "done",
    text: `launchctl bootstrap ${launchdDomain()} ${service.file}: runs now and at every login`,
  });
}

/**
 * Stops the service and removes its unit or plist; does nothing (and says
 * so) when none is installed. Linger stays on: other user services may need it.
 *
 * @param config the configuration
 * @param options the OS, service manager and progress callback
 * @returns the removed service, or undefined when none was installed
 * @throws {ServiceError} when a step fails
 */
export async function uninstallService(
  config: Config,
  options: ServiceOptions = {},
): Promise<InstalledService | undefined> {
  const os = options.os ?? Deno.build.os;
  const manager = options.manager ?? SYSTEM_MANAGER;
  const report = options.report ?? (() => {});
  const service = await findService(config, os);
  if (!service) {
    const where = servicePlace(config, os)?.file;
    report({ kind: "note", text: `Not installed${where ? ` (no ${where})` : ""}: nothing to do` });
    return undefined;
  }
  if (service.kind === "systemd") {
    await systemctl(manager, ["disable", "--now", service.label]);
    report({ kind: "done", text: `systemctl --user disable --now ${service.label}` });
  } else if (await launchdLoaded(service, manager)) {
    await bootout(service, manager);
    report({ kind: "done", text: `launchctl bootout ${launchdTarget(service)}` });
  }
  await Deno.remove(service.file).catch(ignoreNotFound);
  report({ kind: "done", text: `removed ${service.file}` });
  if (service.kind === "systemd") {
    await systemctl(manager, ["daemon-reload"]);
    report({ kind: "done", text: "systemctl --user daemon-reload" });
    report({
      kind: "note",
      text: "Left linger on, as other user services may need it; `loginctl disable-linger` " +
        "turns it off",
    });
  }
  return service;
}

/** Boots the agent out and waits (up to 5 s) until launchd has let go of it. */
async function bootout(service: InstalledService, manager: ServiceManager): Promise<void> {
  await launchctl(manager, ["bootout", launchdTarget(service)], service);
  const deadline = Date.now() + 5000;
  while (await launchdLoaded(service, manager) && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 100));
  }
}

function unsupported(config: Config, os: string): never {
  if (os === "linux" || os === "darwin") {
    throw new ServiceError("Cannot find your home folder: HOME is unset. Set HOME and try again");
  }
  const { command, args } = selfInvocation(["serve"]);
  throw new ServiceError(
    `install supports systemd (Linux) and launchd (macOS), not ${os}. Run \`llm-cache-proxy ` +
      `on\` to start the proxy in the background now` +
      (os === "windows"
        ? `, or have Task Scheduler run \`${[command, ...args].join(" ")}\` at log on ` +
          `with CACHE_HOME=${config.home}`
        : ""),
  );
}

function rendered(render: (spec: ServiceSpec) => string, spec: ServiceSpec): string {
  try {
    return render(spec);
  } catch (e) {
    if (e instanceof RangeError) throw new ServiceError(e.message);
    throw e;
  }
}

/** Replaces `path` through a temporary file and a rename; mode 0644, as service files are. */
function writeServiceFile(path: string, text: string): Promise<void> {
  return replaceFile(path, text, 0o644);
}

function ignoreNotFound(e: unknown): undefined {
  if (e instanceof Deno.errors.NotFound) return undefined;
  throw e;
}
