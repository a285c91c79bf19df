/**
 * Runs the `wrk` load generator (Debian package `wrk`) and reads its report.
 *
 * @module
 */

/** What one wrk run measured. */
export interface WrkResult {
  /** Requests per second. */
  readonly rps: number;
  /** Median latency in ms. */
  readonly p50Ms: number;
  /** 99th percentile latency in ms. */
  readonly p99Ms: number;
  /** Requests completed. */
  readonly requests: number;
  /** Non-2xx responses and socket errors, as wrk words them; empty when there were none. */
  readonly errors: string[];
}

/**
 * Tells whether `wrk` can be run.
 *
 * @returns true when `wrk -v` starts
 */
export async function wrkAvailable(): Promise<boolean> {
  try {
    await new Deno.Command("wrk", { args: ["-v"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a wrk Lua script that POSTs the body held in a file beside it.
 *
 * @param dir a folder for the script and the body
 * @param name a name for both files
 * @param body the request body
 * @param headers the request headers
 * @returns the path of the Lua script
 */
export async function writePostScript(
  dir: string,
  name: string,
  body: string,
  headers: Record<string, string>,
): Promise<string> {
  const bodyPath = `${dir}/${name}.body`;
  const luaPath = `${dir}/${name}.lua`;
  await Deno.writeTextFile(bodyPath, body);
  const lines = [
    `local f = assert(io.open(${JSON.stringify(bodyPath)}, "rb"))`,
    "wrk.body = f:read('*a')",
    "f:close()",
    ...luaHeaders(headers),
  ];
  await Deno.writeTextFile(luaPath, `${lines.join("\n")}\n`);
  return luaPath;
}

/** Lua lines that set the method and headers of every request. */
function luaHeaders(headers: Record<string, string>): string[] {
  return [
    'wrk.method = "POST"',
    ...Object.entries(headers).map(([k, v]) =>
      `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`
    ),
  ];
}

/**
 * Writes a wrk Lua script whose every request is a new one: `template` with
 * `__N__` replaced by a running number from the script argument on.
 *
 * @param dir a folder for the script
 * @param name a name for it
 * @param template the request body, with `__N__` where the number goes
 * @param headers the request headers
 * @returns the path of the Lua script
 */
export async function writeDistinctScript(
  dir: string,
  name: string,
  template: string,
  headers: Record<string, string>,
): Promise<string> {
  const luaPath = `${dir}/${name}.lua`;
  const lines = [
    `local template = ${JSON.stringify(template)}`,
    "local n = 0",
    "function init(args)",
    "  n = tonumber(args[1]) - 1",
    "end",
    ...luaHeaders(headers),
    "function request()",
    "  n = n + 1",
    '  local body = template:gsub("__N__", tostring(n))',
    "  return wrk.format(nil, nil, nil, body)",
    "end",
  ];
  await Deno.writeTextFile(luaPath, `${lines.join("\n")}\n`);
  return luaPath;
}

/**
 * Writes a wrk Lua script that POSTs one of `bodies`, picked at random each time.
 *
 * @param dir a folder for the script and the bodies
 * @param name a name for both files
 * @param bodies request bodies, each on one line (JSON text has no raw line breaks)
 * @param headers the request headers
 * @returns the path of the Lua script
 */
export async function writeSpreadScript(
  dir: string,
  name: string,
  bodies: readonly string[],
  headers: Record<string, string>,
): Promise<string> {
  const bodiesPath = `${dir}/${name}.bodies`;
  const luaPath = `${dir}/${name}.lua`;
  await Deno.writeTextFile(bodiesPath, `${bodies.join("\n")}\n`);
  const lines = [
    "local bodies = {}",
    `for line in io.lines(${JSON.stringify(bodiesPath)}) do bodies[#bodies + 1] = line end`,
    ...luaHeaders(headers),
    "function request()",
    "  return wrk.format(nil, nil, nil, bodies[math.random(#bodies)])",
    "end",
  ];
  await Deno.writeTextFile(luaPath, `${lines.join("\n")}\n`);
  return luaPath;
}

/**
 * Runs `wrk -t1 -c<connections> -d<seconds>s --latency -s <script> <url> [-- <args>]`.
 *
 * @param url the full URL
 * @param script the Lua script
 * @param seconds duration (the most, for a script that stops itself)
 * @param connections open connections
 * @param scriptArgs arguments for the script's `init`
 * @returns the parsed report
 */
export async function runWrk(
  url: string,
  script: string,
  seconds: number,
  connections = 32,
  scriptArgs: readonly string[] = [],
): Promise<WrkResult> {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, url];
  if (scriptArgs.length > 0) args.push("--", ...scriptArgs);
  const out = await new Deno.Command("wrk", { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`wrk failed (${out.code}):\n${text}`);
  return parseWrk(text);
}

/**
 * Reads req/s, the 50%/99% latencies and errors from wrk's `--latency` report.
 *
 * @param text wrk's output
 * @returns the figures
 */
export function parseWrk(text: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  const requests = /(\d+) requests in/.exec(text);
  if (!rps || !p50 || !p99 || !requests) throw new Error(`cannot read wrk's report:\n${text}`);
  const errors = [/Non-2xx or 3xx responses: \d+/, /Socket errors: .*/]
    .map((re) => re.exec(text)?.[0])
    .filter((e): e is string => e !== undefined);
  return {
    rps: Number(rps[1]),
    p50Ms: toMs(p50[1]!, p50[2]!),
    p99Ms: toMs(p99[1]!, p99[2]!),
    requests: Number(requests[1]),
    errors,
  };
}

function toMs(value: string, unit: string): number {
  const scale: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 6e4 };
  return Number(value) * scale[unit]!;
}
