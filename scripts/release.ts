/**
 * Packs the binaries `scripts/compile.ts` built into `dist/` for a GitHub
 * release: one archive per target (`.tar.gz`, `.zip` for Windows), a
 * `SHA256SUMS` that `sha256sum -c` checks, and the Homebrew formula for the
 * tap, all under `dist/release/`.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run --allow-env scripts/release.ts \
 *   [--version v3.1.0] [--repo owner/name] [--dist dist] [--out dist/release] [--json]
 * ```
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };
import { parseFlags, UsageError } from "../src/cli/args.ts";
import { formatBytes, styleFor } from "../src/cli/term.ts";
import { renderFormula } from "./_formula.ts";
import { binaryPath, TARGETS } from "./compile.ts";

/** The repository the release URLs point at when neither `--repo` nor GITHUB_REPOSITORY says. */
export const DEFAULT_REPO = "llm-cache-proxy/llm-cache-proxy";

/** Where the formula is written, under the output directory (and in the tap). */
export const FORMULA_PATH = "Formula/llm-cache-proxy.rb";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const EXTRAS = ["README.md", "LICENSE"];
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** A release that cannot be made as asked; the message says what to do. Exit code 1. */
export class ReleaseError extends Error {
  /** @param message what is wrong and how to fix it */
  constructor(message: string) {
    super(message);
    this.name = "ReleaseError";
  }
}

/** What to release and where. */
export interface ReleaseOptions {
  /** e.g. `3.1.0` (no leading v). */
  readonly version: string;
  /** `owner/name` on GitHub. */
  readonly repo: string;
  /** Where the compiled binaries are. @default "dist" */
  readonly dist: string;
  /** Where the archives, SHA256SUMS and formula go. @default "dist/release" */
  readonly out: string;
}

/** One archive written. */
export interface Archive {
  readonly target: string;
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  /** SHA-256 of the archive, hex. */
  readonly sha256: string;
}

/** Everything a release run wrote. */
export interface Release {
  readonly version: string;
  readonly archives: readonly Archive[];
  /** Path of `SHA256SUMS`. */
  readonly checksums: string;
  /** Path of the Homebrew formula. */
  readonly formula: string;
  /** How the version inside the binaries was checked. */
  readonly versionCheck: string;
}

/**
 * The archive file name for a target.
 *
 * @param version e.g. `3.1.0`
 * @param target a `deno compile` target triple
 * @returns e.g. `llm-cache-proxy-3.1.0-x86_64-apple-darwin.tar.gz`
 */
export function archiveName(version: string, target: string): string {
  return `llm-cache-proxy-${version}-${target}.${isWindows(target) ? "zip" : "tar.gz"}`;
}

/**
 * The download URL of a release asset on GitHub.
 *
 * @param repo `owner/name`
 * @param version e.g. `3.1.0`; the tag is `v3.1.0`
 * @param name the asset's file name
 * @returns the URL
 */
export function releaseUrl(repo: string, version: string, name: string): string {
  return `https://github.com/${repo}/releases/download/v${version}/${name}`;
}

/**
 * `SHA256SUMS` in `sha256sum`'s format, sorted by name.
 *
 * @param archives the archives with their hashes
 * @returns lines of `<hex>  <name>`
 */
export function checksumsText(archives: readonly Pick<Archive, "name" | "sha256">[]): string {
  const sorted = [...archives].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return sorted.map((a) => `${a.sha256}  ${a.name}\n`).join("");
}

/**
 * Writes the archives, `SHA256SUMS` and the formula for `options.version`.
 *
 * @param options what to release and where
 * @returns what was written
 * @throws {ReleaseError} when binaries are missing, or say another version, or a tool fails
 */
export async function release(options: ReleaseOptions): Promise<Release> {
  await requireBinaries(options.dist);
  const versionCheck = await checkBinaryVersion(options.dist, options.version);
  const out = resolve(options.out);
  await Deno.mkdir(join(out, "Formula"), { recursive: true });
  const stage = await Deno.makeTempDir({ prefix: "llm-cache-proxy-release-" });
  const archives: Archive[] = [];
  try {
    for (const target of TARGETS) archives.push(await pack(target, options, { out, stage }));
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
  const checksums = join(out, "SHA256SUMS");
  await Deno.writeTextFile(checksums, checksumsText(archives));
  const formula = join(out, FORMULA_PATH);
  await Deno.writeTextFile(formula, formulaFor(options, archives));
  return { version: options.version, archives, checksums, formula, versionCheck };
}

function formulaFor(options: ReleaseOptions, archives: readonly Archive[]): string {
  const assets = Object.fromEntries(archives.map((a) => [a.target, {
    url: releaseUrl(options.repo, options.version, a.name),
    sha256: a.sha256,
  }]));
  return renderFormula({
    version: options.version,
    homepage: `https://github.com/${options.repo}`,
    assets,
  });
}

function distBinary(dist: string, target: string): string {
  return join(dist, basename(binaryPath(target)));
}

function isWindows(target: string): boolean {
  return target.includes("windows");
}

async function requireBinaries(dist: string): Promise<void> {
  const missing: string[] = [];
  for (const target of TARGETS) {
    if (!await exists(distBinary(dist, target))) missing.push(target);
  }
  if (missing.length === 0) return;
  const build = missing.length === TARGETS.length
    ? "deno task compile"
    : `deno task compile ${missing.map((t) => `--target ${t}`).join(" ")}`;
  const where = resolve(dist) === resolve(ROOT, "dist") ? "" : " (it writes to dist/)";
  throw new ReleaseError(
    [
      `Missing ${missing.length} of ${TARGETS.length} binaries in ${dist}:`,
      ...missing.map((t) => `  ${distBinary(dist, t)}`),
      `Build them with: ${build}${where}`,
    ].join("\n"),
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Runs the binary built for this machine, if any, and checks it reports `version`. */
async function checkBinaryVersion(dist: string, version: string): Promise<string> {
  const host = Deno.build.target;
  if (!(TARGETS as readonly string[]).includes(host)) {
    return `not checked (no binary for ${host} to run here)`;
  }
  const path = distBinary(dist, host);
  const said = (await run(path, ["version"], { cwd: ROOT })).trim();
  if (!said.split(/\s+/).includes(version)) {
    throw new ReleaseError(
      `${path} says "${said}", not ${version}: set "version" in deno.json to ${version}, ` +
        "run deno task compile, then release again",
    );
  }
  return `checked: ${basename(path)} version → ${said}`;
}

/** Packs one target's binary (as `llm-cache-proxy[.exe]`, mode 0755) with README.md and LICENSE. */
async function pack(
  target: string,
  options: ReleaseOptions,
  dirs: { out: string; stage: string },
): Promise<Archive> {
  const dir = join(dirs.stage, target);
  await Deno.mkdir(dir);
  const exe = isWindows(target) ? "llm-cache-proxy.exe" : "llm-cache-proxy";
  await Deno.copyFile(distBinary(options.dist, target), join(dir, exe));
  if (Deno.build.os !== "windows") await Deno.chmod(join(dir, exe), 0o755);
  const files = [exe];
  for (const extra of EXTRAS) {
    if (!await exists(join(ROOT, extra))) continue;
    await Deno.copyFile(join(ROOT, extra), join(dir, extra));
    files.push(extra);
  }
  const name = archiveName(options.version, target);
  const path = join(dirs.out, name);
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }); // zip adds to an existing archive
  if (isWindows(target)) await run("zip", ["-q", "-X", path, ...files], { cwd: dir });
  else await run("tar", [...await tarOwnerFlags(), "-czf", path, ...files], { cwd: dir });
  const bytes = await Deno.readFile(path);
  return { target, name, path, bytes: bytes.length, sha256: await sha256Hex(bytes) };
}

let gnuTar: Promise<boolean> | undefined;

/** GNU tar can record root as the owner instead of the build user; bsdtar (macOS) differs. */
async function tarOwnerFlags(): Promise<string[]> {
  gnuTar ??= run("tar", ["--version"], { cwd: ROOT }).then((v) => v.includes("GNU tar"));
  return await gnuTar ? ["--owner=0", "--group=0", "--numeric-owner"] : [];
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs a program to completion; its stdout, or a ReleaseError that says what failed. */
async function run(command: string, args: string[], options: { cwd: string }): Promise<string> {
  let output;
  try {
    output = await new Deno.Command(command, {
      args,
      cwd: options.cwd,
      env: { COPYFILE_DISABLE: "1" }, // no ._* files in macOS tarballs
      stdin: "null",
      signal: AbortSignal.timeout(60_000),
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ReleaseError(`Cannot run ${command}: not found. Install it and run again`);
    }
    throw new ReleaseError(`Cannot run ${command}: ${(e as Error).message}`);
  }
  const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
  if (!output.success) {
    const detail = decode(output.stderr).trim() || `exit code ${output.code}`;
    throw new ReleaseError(`${command} ${args.join(" ")} failed: ${detail}`);
  }
  return decode(output.stdout);
}

/**
 * Reads the command line.
 *
 * @param args the flags
 * @param githubRepository GITHUB_REPOSITORY, the default of `--repo`
 * @returns the release options and whether to print JSON
 * @throws {UsageError} on a malformed flag, version or repository
 */
export function parseReleaseArgs(
  args: string[],
  githubRepository?: string,
): ReleaseOptions & { json: boolean } {
  const { values } = parseFlags(args, {
    version: { type: "string" },
    repo: { type: "string" },
    dist: { type: "string", default: "dist" },
    out: { type: "string", default: join("dist", "release") },
    json: { type: "boolean", default: false },
  });
  const raw = values.version ?? denoJson.version;
  const version = raw.replace(/^refs\/tags\//, "").replace(/^v/, "");
  if (!SEMVER.test(version)) {
    throw new UsageError(`--version "${raw}" is not a version like 3.1.0 or v3.1.0`);
  }
  const repo = values.repo ?? (githubRepository || DEFAULT_REPO);
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw new UsageError(`--repo "${repo}" is not a GitHub repository like owner/name`);
  }
  return { version, repo, dist: values.dist, out: values.out, json: values.json };
}

function printSummary(result: Release, out: string): void {
  const style = styleFor(Deno.stdout);
  console.log(style.bold(`llm-cache-proxy ${result.version} → ${out}`));
  for (const a of result.archives) console.log(`  ${style.ok(a.name)}  ${formatBytes(a.bytes)}`);
  console.log(`  ${style.ok("SHA256SUMS")}`);
  console.log(`  ${style.ok(FORMULA_PATH)}  ${style.dim("(copy to <owner>/homebrew-tap)")}`);
  console.log(style.dim(`Version inside the binaries ${result.versionCheck}`));
}

async function main(args: string[]): Promise<number> {
  try {
    const options = parseReleaseArgs(args, Deno.env.get("GITHUB_REPOSITORY"));
    const result = await release(options);
    if (options.json) console.log(JSON.stringify(result, null, 2));
    else printSummary(result, options.out);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`release: ${e.message}. Flags: --version --repo --dist --out --json`);
      return 2;
    }
    if (e instanceof ReleaseError) return console.error(e.message), 1;
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
