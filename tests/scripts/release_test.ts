import assert from "node:assert/strict";
import { basename, join } from "node:path";
import denoJson from "../../deno.json" with { type: "json" };
import { UsageError } from "../../src/cli/args.ts";
import { binaryPath, TARGETS } from "../../scripts/compile.ts";
import { DEFAULT_REPO, parseReleaseArgs } from "../../scripts/release.ts";
import { ROOT } from "../support/process.ts";
import { needs } from "../support/tools.ts";

/** The flags scripts/release.ts documents (and the release workflow uses). */
const RELEASE_FLAGS = ["--allow-read", "--allow-write", "--allow-run", "--allow-env"];
const HOST = Deno.build.target;
const EXTRAS = ["README.md", "LICENSE"].filter((f) => existsSync(join(ROOT, f)));

function existsSync(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** A stand-in binary: a shell script that prints `version`, different for every target. */
function fakeBinary(target: string, version: string): string {
  return `#!/bin/sh\necho "llm-cache-proxy ${version}"\n# built for ${target}\n`;
}

/** Writes fake binaries named as compile.ts names them; only the host's is executable. */
async function makeDist(
  dir: string,
  { version, skip = [] }: { version: string; skip?: string[] },
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const target of TARGETS.filter((t) => !skip.includes(t))) {
    const path = join(dir, basename(binaryPath(target)));
    await Deno.writeTextFile(path, fakeBinary(target, version));
    await Deno.chmod(path, target === HOST ? 0o755 : 0o644);
  }
}

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program; without NO_COLOR (even if ours has it), so a pipe alone must turn colour off. */
async function run(command: string, args: string[], cwd = ROOT): Promise<Output> {
  const env = { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", TERM: "xterm" };
  const out = await new Deno.Command(command, { args, cwd, clearEnv: true, env }).output();
  const decode = (b: Uint8Array): string => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

function runRelease(args: string[]): Promise<Output> {
  return run(Deno.execPath(), ["run", ...RELEASE_FLAGS, "scripts/release.ts", ...args]);
}

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "release-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

function archiveOf(target: string): string {
  return `llm-cache-proxy-3.1.0-${target}.${target.includes("windows") ? "zip" : "tar.gz"}`;
}

async function hasRuby(): Promise<boolean> {
  try {
    return (await new Deno.Command("ruby", { args: ["--version"] }).output()).success;
  } catch {
    return false;
  }
}

Deno.test(
  "release packs every binary, checksums the archives and renders the formula",
  needs("zip", "unzip"),
  async (t) => {
    await using tmp = await tempDir();
    const dist = join(tmp.path, "dist");
    const out = join(tmp.path, "out");
    await makeDist(dist, { version: "3.1.0" });
    const result = await runRelease(
      ["--version", "v3.1.0", "--repo", "acme/proxy", "--dist", dist, "--out", out, "--json"],
    );
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);

    await t.step("one archive per target, named for the version and target", async () => {
      const names = [];
      for await (const entry of Deno.readDir(out)) names.push(entry.name);
      assert.deepEqual(names.sort(), [...TARGETS.map(archiveOf), "Formula", "SHA256SUMS"].sort());
      assert.match(report.versionCheck, /^checked: .* version → llm-cache-proxy 3\.1\.0$/);
    });

    await t.step("each tar.gz holds llm-cache-proxy (0755) for its own target", async () => {
      for (const target of TARGETS.filter((t) => !t.includes("windows"))) {
        const archive = join(out, archiveOf(target));
        const listing = (await run("tar", ["-tvzf", archive])).stdout.trim().split("\n");
        assert.deepEqual(listing.map((l) => l.split(/\s+/).at(-1)), ["llm-cache-proxy", ...EXTRAS]);
        assert.match(listing[0]!, /^-rwxr-xr-x /, `mode in ${archive}`);
        const content = await run("tar", ["-xzOf", archive, "llm-cache-proxy"]);
        assert.equal(content.stdout, fakeBinary(target, "3.1.0"));
      }
    });

    await t.step("the zip holds llm-cache-proxy.exe for Windows", async () => {
      const archive = join(out, archiveOf("x86_64-pc-windows-msvc"));
      const listing = (await run("unzip", ["-Z1", archive])).stdout.trim().split("\n");
      assert.deepEqual(listing, ["llm-cache-proxy.exe", ...EXTRAS]);
      const content = await run("unzip", ["-p", archive, "llm-cache-proxy.exe"]);
      assert.equal(content.stdout, fakeBinary("x86_64-pc-windows-msvc", "3.1.0"));
    });

    const sums = await Deno.readTextFile(join(out, "SHA256SUMS"));
    const sha = new Map(
      sums.trim().split("\n").map((l) => l.split("  ").reverse() as [string, string]),
    );

    await t.step(
      "SHA256SUMS lists every archive, sorted, and sha256sum -c accepts it",
      async () => {
        assert.deepEqual([...sha.keys()], TARGETS.map(archiveOf).sort());
        const check = await run("sha256sum", ["-c", "SHA256SUMS"], out);
        assert.equal(check.code, 0, check.stdout + check.stderr);
      },
    );

    const formula = await Deno.readTextFile(join(out, "Formula/llm-cache-proxy.rb"));

    await t.step("the formula pins each platform's archive URL and checksum", () => {
      assert.match(formula, /^class LlmCacheProxy < Formula$/m);
      assert.match(formula, /^ {2}version "3\.1\.0"$/m);
      const url = (target: string): string =>
        `https://github.com/acme/proxy/releases/download/v3.1.0/${archiveOf(target)}`;
      const block = (target: string): string =>
        `url "${url(target)}"\\s+sha256 "${sha.get(archiveOf(target))}"`;
      for (const os of ["macos", "linux"] as const) {
        const [arm, intel] = os === "macos"
          ? ["aarch64-apple-darwin", "x86_64-apple-darwin"]
          : ["aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"];
        const pattern = `on_${os} do\\s+on_arm do\\s+${block(arm)}\\s+end\\s+` +
          `on_intel do\\s+${block(intel)}\\s+end\\s+end`;
        assert.match(formula, new RegExp(pattern), `${os} block`);
      }
      assert.equal(formula.match(/^\s+url /gm)?.length, 4);
      assert.equal(formula.match(/^\s+sha256 /gm)?.length, 4);
      assert.match(formula, /def install\s+bin\.install "llm-cache-proxy"\s+end/);
      assert.match(formula, /run \[opt_bin\/"llm-cache-proxy", "serve"\]\s+keep_alive true/);
      assert.match(formula, /log_path var\/"log\/llm-cache-proxy\.log"/);
      assert.match(
        formula,
        /assert_match version\.to_s, shell_output\("#\{bin\}\/llm-cache-proxy version"\)/,
      );
    });

    const ruby = await hasRuby();
    await t.step({
      name: `ruby -c accepts the formula${ruby ? "" : " (ignored: ruby is not installed)"}`,
      ignore: !ruby,
      fn: async () => {
        const check = await run("ruby", ["-c", join(out, "Formula/llm-cache-proxy.rb")]);
        assert.equal(check.code, 0, check.stderr);
      },
    });

    await t.step("a tampered archive fails sha256sum -c", async () => {
      const victim = join(out, archiveOf("aarch64-apple-darwin"));
      await Deno.writeFile(victim, new Uint8Array([0]), { append: true });
      const check = await run("sha256sum", ["-c", "SHA256SUMS"], out);
      assert.equal(check.code, 1);
      assert.match(check.stdout, new RegExp(`${archiveOf("aarch64-apple-darwin")}: FAILED`));
    });
  },
);

Deno.test("release names the missing binaries and how to build them, exit 1", async () => {
  await using tmp = await tempDir();
  const dist = join(tmp.path, "dist");
  const missing = ["aarch64-apple-darwin", "x86_64-pc-windows-msvc"];
  await makeDist(dist, { version: "3.1.0", skip: missing });
  const out = join(tmp.path, "out");
  const result = await runRelease(["--version", "3.1.0", "--dist", dist, "--out", out]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^Missing 2 of 5 binaries in /);
  for (const target of missing) {
    assert.ok(result.stderr.includes(join(dist, basename(binaryPath(target)))), result.stderr);
  }
  assert.match(result.stderr, /deno task compile --target aarch64-apple-darwin --target x86_64-pc/);
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
});

Deno.test({
  name: "release refuses binaries that report another version, exit 1",
  ignore: !(TARGETS as readonly string[]).includes(HOST),
  fn: async () => {
    await using tmp = await tempDir();
    const dist = join(tmp.path, "dist");
    await makeDist(dist, { version: "3.0.0" });
    const out = join(tmp.path, "out");
    const result = await runRelease(["--version", "v3.1.0", "--dist", dist, "--out", out]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /says "llm-cache-proxy 3\.0\.0", not 3\.1\.0: set "version" in deno/,
    );
  },
});

Deno.test(
  "release defaults to deno.json's version and prints a plain summary in a pipe",
  needs("zip"),
  async () => {
    await using tmp = await tempDir();
    const dist = join(tmp.path, "dist");
    await makeDist(dist, { version: denoJson.version });
    const result = await runRelease(["--dist", dist, "--out", join(tmp.path, "out")]);
    assert.equal(result.code, 0, result.stderr);
    for (const target of TARGETS) {
      assert.ok(result.stdout.includes(`  llm-cache-proxy-${denoJson.version}-${target}.`));
    }
    assert.match(result.stdout, /^ {2}SHA256SUMS\n/m);
    assert.match(result.stdout, /^ {2}Formula\/llm-cache-proxy\.rb/m);
    assert.ok(!result.stdout.includes("\x1b["), "no colour in a pipe");
  },
);

Deno.test("parseReleaseArgs() reads a tag as a version and defaults the repository", async (t) => {
  await t.step("no flags: deno.json's version, dist/ and dist/release/", () => {
    const options = parseReleaseArgs([]);
    assert.equal(options.version, denoJson.version);
    assert.equal(options.repo, DEFAULT_REPO);
    assert.equal(options.dist, "dist");
    assert.equal(options.out, join("dist", "release"));
  });
  await t.step("a tag loses its v; GITHUB_REPOSITORY is the default repo", () => {
    const options = parseReleaseArgs(["--version", "v3.1.0-rc.1"], "acme/proxy");
    assert.equal(options.version, "3.1.0-rc.1");
    assert.equal(options.repo, "acme/proxy");
    assert.equal(parseReleaseArgs(["--repo", "o/n"], "acme/proxy").repo, "o/n");
  });
  await t.step("a malformed version or repository is a usage error", () => {
    assert.throws(() => parseReleaseArgs(["--version", "latest"]), UsageError);
    assert.throws(() => parseReleaseArgs(["--repo", "no-slash"]), UsageError);
    assert.throws(() => parseReleaseArgs(["--bogus"]), UsageError);
  });
});
