/**
 * Builds the single `llm-cache-proxy` binary for every supported OS with
 * `deno compile`, into `dist/`. `deno task compile` builds them all;
 * `deno task compile --target x86_64-unknown-linux-gnu` builds one.
 *
 * The permission flags here are the ones the binary runs with: the `start`
 * task uses the same, and the subprocess tests run `src/main.ts` with them.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { RUN_FLAGS } from "../src/cli/self.ts";

/** Every target a release ships, as `deno compile --target` names them. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** The flags the binary runs with; `src/cli/self.ts` says why each is needed. */
export { RUN_FLAGS };

/**
 * The output path of the binary for `target`.
 *
 * @param target a `deno compile` target triple
 * @returns e.g. `dist/llm-cache-proxy-x86_64-unknown-linux-gnu`
 */
export function binaryPath(target: string): string {
  return `dist/llm-cache-proxy-${target}${target.includes("windows") ? ".exe" : ""}`;
}

async function compile(target: string): Promise<boolean> {
  const args = [
    "compile",
    ...RUN_FLAGS,
    "--target",
    target,
    "--output",
    binaryPath(target),
    "src/main.ts",
  ];
  console.log(`deno ${args.join(" ")}`);
  const { code } = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
  return code === 0;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { target: { type: "string", multiple: true } },
  });
  const targets = values.target ?? [...TARGETS];
  const unknown = targets.filter((t) => !(TARGETS as readonly string[]).includes(t));
  if (unknown.length > 0) {
    console.error(`Unknown target ${unknown.join(", ")}; choose from ${TARGETS.join(", ")}`);
    Deno.exit(2);
  }
  let ok = true;
  for (const target of targets) ok = (await compile(target)) && ok;
  Deno.exit(ok ? 0 : 1);
}
