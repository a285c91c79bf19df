/**
 * The boot service's files: the systemd user unit and the launchd agent plist,
 * rendered from the templates in `service/` (embedded in the binary) with
 * every value quoted by systemd's rules or escaped for XML.
 *
 * @module
 */
import type { Invocation } from "./self.ts";
import { LAUNCHD_LABEL } from "./service.ts";
import UNIT_TEMPLATE from "../../service/llm-cache-proxy.service" with { type: "text" };
import PLIST_TEMPLATE from "../../service/com.llm-cache-proxy.plist" with { type: "text" };

/** What a service file says: the program to run and the cache home it uses. */
export interface ServiceSpec {
  /** Runs this program with `serve`, e.g. `selfInvocation(["serve"])`; absolute path. */
  readonly invocation: Invocation;
  /** The absolute cache home folder. */
  readonly cacheHome: string;
}

/**
 * The systemd user unit for `spec`, every value quoted by systemd's rules.
 *
 * @param spec the program and cache home
 * @returns the unit file text
 * @throws {RangeError} when a value holds a control character (a unit cannot hold it)
 */
export function renderUnit(spec: ServiceSpec): string {
  const { invocation: { command, args }, cacheHome } = printable(spec);
  return fill(UNIT_TEMPLATE, {
    EXEC: [execPath(command), ...args.map(execArg)].join(" "),
    CACHE_HOME_ASSIGNMENT: `"${escapeQuoted(escapeSpecifiers(`CACHE_HOME=${cacheHome}`))}"`,
    ENV_FILE: escapeSpecifiers(`${cacheHome}/.env`),
  });
}

/**
 * The launchd agent plist for `spec`, every string XML-escaped.
 *
 * @param spec the program and cache home
 * @returns the plist text
 * @throws {RangeError} when a value holds a control character (XML cannot hold it)
 */
export function renderPlist(spec: ServiceSpec): string {
  const { invocation: { command, args }, cacheHome } = printable(spec);
  return fill(PLIST_TEMPLATE, {
    LABEL: escapeXml(LAUNCHD_LABEL),
    PROGRAM_ARGUMENTS: [command, ...args].map((a) => `    <string>${escapeXml(a)}</string>`)
      .join("\n"),
    CACHE_HOME: escapeXml(cacheHome),
  });
}

/**
 * The program of ExecStart=: systemd resolves `%` specifiers in it but no
 * `$` variables, and refuses quotes and backslashes however they are quoted
 * ("Executable name contains special characters").
 */
function execPath(path: string): string {
  if (/["'\\]/.test(path)) {
    throw new RangeError(
      `Cannot run ${path} from a systemd unit: systemd refuses a program path that holds a ` +
        "quote or a backslash. Move the program to a folder without one and install again",
    );
  }
  return quoteIfNeeded(path, escapeSpecifiers(path));
}

/**
 * One ExecStart= argument that systemd reads back unchanged: `%` and `$` are
 * doubled (specifiers, variables), and anything but plain characters is
 * double-quoted with `\` and `"` escaped (systemd.service(5), "Command lines").
 */
function execArg(arg: string): string {
  return quoteIfNeeded(arg, escapeSpecifiers(arg).replaceAll("$", () => "$$"));
}

function quoteIfNeeded(raw: string, escaped: string): string {
  return /^[\w@+=:,./-]+$/.test(raw) ? escaped : `"${escapeQuoted(escaped)}"`;
}

function escapeQuoted(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`);
}

function escapeSpecifiers(text: string): string {
  return text.replaceAll("%", "%%");
}

const XML_ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ENTITIES[c]!);
}

function printable(spec: ServiceSpec): ServiceSpec {
  for (const value of [spec.cacheHome, spec.invocation.command, ...spec.invocation.args]) {
    // deno-lint-ignore no-control-regex
    if (/[\x00-\x1f\x7f]/.test(value)) {
      throw new RangeError(
        `Cannot write a service file for ${JSON.stringify(value)}: it holds a control ` +
          "character. Use a cache home and program path without one",
      );
    }
  }
  return spec;
}

function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`Template placeholder {{${name}}} has no value`);
    return value;
  });
}
