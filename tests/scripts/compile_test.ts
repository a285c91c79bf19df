import assert from "node:assert/strict";
import { join } from "node:path";
import {
  binaryPath,
  compileArgs,
  INCLUDED,
  RUN_FLAGS,
  runtimeDownloadHint,
  TARGETS,
} from "../../scripts/compile.ts";
import { ROOT, startTaskFlags } from "../support/process.ts";

Deno.test("the start task runs with exactly the flags the binary is compiled with", async () => {
  assert.deepEqual(await startTaskFlags(), [...RUN_FLAGS]);
});

Deno.test("compile builds Linux, macOS (x86_64, aarch64) and Windows binaries", () => {
  assert.deepEqual(TARGETS.map(binaryPath), [
    "dist/llm-cache-proxy-x86_64-unknown-linux-gnu",
    "dist/llm-cache-proxy-aarch64-unknown-linux-gnu",
    "dist/llm-cache-proxy-x86_64-apple-darwin",
    "dist/llm-cache-proxy-aarch64-apple-darwin",
    "dist/llm-cache-proxy-x86_64-pc-windows-msvc.exe",
  ]);
});

Deno.test("compileArgs() type-checks, grants exactly RUN_FLAGS and embeds the workers", () => {
  assert.deepEqual(compileArgs("x86_64-apple-darwin"), [
    "compile",
    ...RUN_FLAGS,
    "--target",
    "x86_64-apple-darwin",
    "--output",
    "dist/llm-cache-proxy-x86_64-apple-darwin",
    "--include",
    "src/store/_sqlite_checkpoint_worker.ts",
    "src/main.ts",
  ]);
});

// What `deno compile` 2.9.6 printed here, where dl.deno.land cannot be resolved.
const OFFLINE_STDERR = `\x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Writing deno compile executable to \
temporary file 'dist/llm-cache-proxy-x86_64-unknown-linux-gnu.tmp-baa2e2c945ca8aef'

Caused by:
    0: Setting up base binary.
    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): client error (Connect): dns error: failed to lookup address information: Name or service not known
    2: client error (Connect)
    3: dns error
    4: failed to lookup address information: Name or service not known
`;

Deno.test("runtimeDownloadHint() says why and what to do when denort cannot be downloaded", () => {
  const hint = runtimeDownloadHint("x86_64-unknown-linux-gnu", OFFLINE_STDERR);
  assert.ok(hint, "expected a hint");
  assert.match(
    hint,
    /^Cannot compile for x86_64-unknown-linux-gnu: deno compile could not download/,
  );
  assert.match(
    hint,
    /https:\/\/dl\.deno\.land\/release\/v2\.9\.6\/denort-x86_64-unknown-linux-gnu\.zip/,
  );
  assert.match(hint, /\(failed to lookup address information: Name or service not known\)/);
  assert.match(hint, /DENORT_BIN/);
  assert.match(hint, /deno task compile --target x86_64-unknown-linux-gnu$/);
});

Deno.test("runtimeDownloadHint() leaves other compile failures alone", () => {
  assert.equal(runtimeDownloadHint("x", "error: Type checking failed.\n"), undefined);
  const notFound = "error: Writing deno compile executable to temporary file 'x'\n\nCaused by:\n" +
    "    0: Could not find denort at '/nonexistent'\n    1: No such file or directory (os error 2)\n";
  assert.equal(runtimeDownloadHint("x", notFound), undefined);
});

Deno.test("compile stops with a clear message, exit 1, when deno cannot fetch its runtime", async () => {
  // A copy of the script in a tiny project, with an empty DENO_DIR (no cached denort) and a proxy
  // that refuses connections, so the download fails the same way wherever the test runs.
  await using tmp = await tempDir();
  for (const file of ["scripts/compile.ts", "src/cli/args.ts", "src/cli/self.ts"]) {
    await Deno.mkdir(join(tmp.path, file, ".."), { recursive: true });
    await Deno.copyFile(join(ROOT, file), join(tmp.path, file));
  }
  await Deno.writeTextFile(join(tmp.path, "src/main.ts"), 'console.log("hi");\n');
  await Deno.writeTextFile(join(tmp.path, "deno.json"), "{}\n");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "scripts/compile.ts",
    ],
    cwd: tmp.path,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: tmp.path,
      DENO_DIR: join(tmp.path, "deno_dir"),
      HTTPS_PROXY: "http://127.0.0.1:8",
      NO_COLOR: "1",
    },
  }).output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 1, err);
  assert.match(err, /Cannot compile for x86_64-unknown-linux-gnu: deno compile could not download/);
  assert.doesNotMatch(err, /Stack backtrace|Caused by/);
  assert.equal(out.match(/^deno compile /gm)?.length, 1, "it should stop after the first target");
});

Deno.test("src/ reads no file next to its modules at run time (deno compile embeds imports only)", async () => {
  // self.ts resolves deno.json only when running from source, never in the binary.
  const allowed = new Set(["src/cli/self.ts"]);
  const offenders: string[] = [];
  for await (const path of sourceFiles(join(ROOT, "src"))) {
    const relative = path.slice(ROOT.length);
    if (allowed.has(relative)) continue;
    // A worker module is the one file a module may name: compileArgs() embeds it with --include.
    const text = (await Deno.readTextFile(path)).replace(WORKER, (_, file: string) => {
      const worker = join(relative, "..", file);
      return INCLUDED.includes(worker) ? "" : `not included: ${worker}`;
    });
    if (/import\.meta\.(url|dirname|filename|resolve)\b|not included/.test(text)) {
      offenders.push(relative);
    }
  }
  assert.deepEqual(offenders, [], "import files as text/JSON instead, so the binary embeds them");
});

/** `new Worker(new URL("./file.ts", import.meta.url)`: the worker module's path. */
const WORKER = /new Worker\(new URL\("\.\/([^"]+)", import\.meta\.url\)/g;

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (/\.(ts|js|mjs)$/.test(entry.name)) yield path;
  }
}

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "compile-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}
