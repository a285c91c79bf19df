/**
 * The proxy as a boot service: a systemd user unit on Linux, a launchd agent
 * on macOS. Finds, starts, stops and queries the installed service; the unit
 * and plist themselves are rendered in `service_files.ts`. Every call to
 * systemctl, loginctl or launchctl goes through one {@link ServiceManager},
 * so a test can watch them.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { exists } from "../fs.ts";

/** The systemd unit name. */
export const UNIT_NAME = "llm-cache-proxy.service";
/** The launchd job label. */
export const LAUNCHD_LABEL = "com.llm-cache-proxy";

/** What a service manager command printed and returned. */
export interface CommandResult {
  /** Exit code. */
  readonly code: number;
  /** Everything written to stdout. */
  readonly stdout: string;
  /** Everything written to stderr. */
  readonly stderr: string;
}

/** Runs systemctl, loginctl and launchctl; the seam a test replaces. */
export interface ServiceManager {
  /**
   * Runs `command` with `args` and collects its output.
   *
   * @param command the program, looked up on PATH, e.g. `systemctl`
   * @param args its arguments
   * @returns its exit code and output
   * @throws {ServiceError} when the program is not installed
   */
  run(command: string, args: readonly string[]): Promise<CommandResult>;
}

/** A service manager call that failed; the message says what to do next. */
export class ServiceError extends Error {
  /** @param message the failed step, its output and the way forward */
  constructor(message: string) {
    super(message);
    this.name = "ServiceError";
  }
}

const MISSING_ADVICE: Readonly<Record<string, string>> = {
  systemctl: "install needs systemd (or run `llm-cache-proxy on` instead)",
  loginctl: "starting at boot needs systemd-logind (or run `llm-cache-proxy on` after each boot)",
  launchctl: "install needs launchd, part of macOS (or run `llm-cache-proxy on` instead)",
};

/** The real service manager: runs the programs found on PATH. */
export const SYSTEM_MANAGER: ServiceManager = {
  async run(command, args) {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(command, {
        args: [...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new ServiceError(
        `${command} not found: ${MISSING_ADVICE[command] ?? "install it or add it to PATH"}`,
      );
    }
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  },
};

/**
 * Runs a service manager command that must succeed.
 *
 * @param manager runs the command
 * @param command e.g. `systemctl`
 * @param args its arguments
 * @param advice what the user can do when it fails
 * @returns what it printed
 * @throws {ServiceError} quoting the command and its output when it exits non-zero
 */
export async function runChecked(
  manager: ServiceManager,
  command: string,
  args: readonly string[],
  advice: string,
): Promise<CommandResult> {
  const result = await manager.run(command, args);
  if (result.code === 0) return result;
  const output = (result.stderr.trim() || result.stdout.trim() || "no output").replace(/\.$/, "");
  throw new ServiceError(
    `\`${[command, ...args].join(" ")}\` failed (exit ${result.code}): ${output}. ${advice}`,
  );
}

/** A boot service: which manager runs it, its file and its name there. */
export interface InstalledService {
  /** The service manager: systemd (Linux) or launchd (macOS). */
  readonly kind: "systemd" | "launchd";
  /** The unit file or plist. */
  readonly file: string;
  /** The unit name or launchd label. */
  readonly label: string;
}

/**
 * Where the service file goes on `os`, whether or not it exists.
 *
 * @param config the configuration (`configHome` on Linux, `userHome` on macOS)
 * @param os the operating system
 * @returns the service, or undefined when `os` has no supported service manager or the
 *   folder is unknown (HOME unset)
 */
export function servicePlace(
  config: Config,
  os: typeof Deno.build.os = Deno.build.os,
): InstalledService | undefined {
  if (os === "linux" && config.configHome !== undefined) {
    const file = `${config.configHome}/systemd/user/${UNIT_NAME}`;
    return { kind: "systemd", file, label: UNIT_NAME };
  }
  if (os === "darwin" && config.userHome !== undefined) {
    const file = `${config.userHome}/Library/LaunchAgents/${LAUNCHD_LABEL}.plist`;
    return { kind: "launchd", file, label: LAUNCHD_LABEL };
  }
  return undefined;
}

/**
 * The installed service, if its unit or plist file exists.
 *
 * @param config the configuration
 * @param os the operating system
 * @returns the service, or undefined when none is installed
 */
export async function findService(
  config: Config,
  os: typeof Deno.build.os = Deno.build.os,
): Promise<InstalledService | undefined> {
  const service = servicePlace(config, os);
  return service && (await exists(service.file)) ? service : undefined;
}

/**
 * Starts the service now: `systemctl --user start`; on macOS `launchctl
 * bootstrap` when the agent is not loaded, else `launchctl kickstart`.
 *
 * @param service the installed service
 * @param manager runs the commands
 * @throws {ServiceError} when the service manager fails
 */
export async function startService(
  service: InstalledService,
  manager: ServiceManager = SYSTEM_MANAGER,
): Promise<void> {
  if (service.kind === "systemd") {
    await systemctl(manager, ["start", service.label]);
  } else if (await launchdLoaded(service, manager)) {
    await launchctl(manager, ["kickstart", launchdTarget(service)], service);
  } else {
    await launchctl(manager, ["bootstrap", launchdDomain(), service.file], service);
  }
}

/**
 * Stops the service: `systemctl --user stop`; on macOS `launchctl bootout`, so
 * that KeepAlive does not start it again (it starts again at the next login).
 *
 * @param service the installed service
 * @param manager runs the commands
 * @throws {ServiceError} when the service manager fails
 */
export async function stopService(
  service: InstalledService,
  manager: ServiceManager = SYSTEM_MANAGER,
): Promise<void> {
  if (service.kind === "systemd") {
    await systemctl(manager, ["stop", service.label]);
  } else if (await launchdLoaded(service, manager)) {
    await launchctl(manager, ["bootout", launchdTarget(service)], service);
  }
}

/**
 * Tells whether the service manager runs the service now.
 *
 * @param service the installed service
 * @param manager runs the commands
 * @returns true when `systemctl --user is-active` says so, or launchd has it loaded and running
 */
export async function isServiceActive(
  service: InstalledService,
  manager: ServiceManager = SYSTEM_MANAGER,
): Promise<boolean> {
  if (service.kind === "systemd") {
    return (await manager.run("systemctl", ["--user", "is-active", "--quiet", service.label]))
      .code === 0;
  }
  const printed = await manager.run("launchctl", ["print", launchdTarget(service)]);
  const state = /^\s*state = (\S+)/m.exec(printed.stdout)?.[1];
  return printed.code === 0 && (state === undefined || state === "running");
}

/**
 * Tells whether launchd has the agent loaded (bootstrapped), running or not.
 *
 * @param service the launchd service
 * @param manager runs the commands
 * @returns true when `launchctl print gui/<uid>/<label>` knows it
 */
export async function launchdLoaded(
  service: InstalledService,
  manager: ServiceManager,
): Promise<boolean> {
  return (await manager.run("launchctl", ["print", launchdTarget(service)])).code === 0;
}

/**
 * The launchd domain of the current user's login session.
 *
 * @returns `gui/<uid>`
 */
export function launchdDomain(): string {
  const uid = Deno.uid();
  if (uid === null) throw new ServiceError("Cannot find the user id: launchd needs macOS");
  return `gui/${uid}`;
}

/**
 * The launchd service target.
 *
 * @param service the launchd service
 * @returns `gui/<uid>/<label>`
 */
export function launchdTarget(service: InstalledService): string {
  return `${launchdDomain()}/${service.label}`;
}

/**
 * Runs `systemctl --user <args>`, which must succeed.
 *
 * @param manager runs the command
 * @param args the arguments after `--user`
 * @returns what it printed
 */
export function systemctl(
  manager: ServiceManager,
  args: readonly string[],
): Promise<CommandResult> {
  return runChecked(
    manager,
    "systemctl",
    ["--user", ...args],
    "Check that `systemctl --user status` works in this login session (log in as the user " +
      "rather than through sudo or su), then try again; or run `llm-cache-proxy on` instead",
  );
}

/**
 * Runs `launchctl <args>`, which must succeed.
 *
 * @param manager runs the command
 * @param args its arguments
 * @param service the agent, for the advice
 * @returns what it printed
 */
export function launchctl(
  manager: ServiceManager,
  args: readonly string[],
  service: InstalledService,
): Promise<CommandResult> {
  return runChecked(
    manager,
    "launchctl",
    args,
    `Look at \`launchctl print ${launchdDomain()}/${service.label}\` and the launchd.err.log in ` +
      "the cache home, then try again; or run `llm-cache-proxy on` instead",
  );
}
