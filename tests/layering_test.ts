/**
 * The house's rooms depend only downward, and no module imports itself round a circle: read
 * from `deno info --json` over every entry point, so an import added anywhere is checked.
 *
 * values/ (shared value types) ← the top-level utilities and config ← store/ ← cache/, stats/
 * ← proxy/ ← cli/ ← main.ts; cache/ and stats/ stand side by side and never import each other.
 */
import assert from "node:assert/strict";
import { ROOT } from "./support/process.ts";

const SRC = `file://${ROOT}src/`;

/** How low each room stands: a module may import only from rooms at its level or below. */
const LEVEL: Readonly<Record<string, number>> = {
  values: 0,
  top: 1,
  store: 2,
  cache: 3,
  stats: 3,
  proxy: 4,
  cli: 5,
  main: 6,
};

function roomOf(path: string): string {
  if (path === "main.ts") return "main";
  const slash = path.indexOf("/");
  return slash < 0 ? "top" : path.slice(0, slash);
}

/** Every import between two of our modules: `from → to`, paths below src/. */
async function imports(): Promise<Map<string, Set<string>>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "src/main.ts"],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  assert.equal(out.code, 0);
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const edges = new Map<string, Set<string>>();
  for (const module of info.modules) {
    if (!module.specifier?.startsWith(SRC)) continue;
    const from = module.specifier.slice(SRC.length);
    const to = edges.get(from) ?? new Set<string>();
    edges.set(from, to);
    for (const dep of module.dependencies ?? []) {
      for (const target of [dep.code?.specifier, dep.type?.specifier]) {
        if (target?.startsWith(SRC)) to.add(target.slice(SRC.length));
      }
    }
  }
  return edges;
}

Deno.test("every module imports only from its own room or the rooms below it", async () => {
  const edges = await imports();
  assert.ok(edges.size > 50, "deno info saw the whole house");
  const upward: string[] = [];
  for (const [from, targets] of edges) {
    for (const to of targets) {
      const [a, b] = [roomOf(from), roomOf(to)];
      if (a === b) continue;
      if (LEVEL[b]! > LEVEL[a]! || (LEVEL[b] === LEVEL[a])) upward.push(`${from} → ${to}`);
    }
  }
  assert.deepEqual(upward, [], "imports that reach up or sideways");
});

Deno.test("no import cycle", async () => {
  const edges = await imports();
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const path: string[] = [];
  const visit = (module: string) => {
    state.set(module, "open");
    path.push(module);
    for (const next of edges.get(module) ?? []) {
      if (state.get(next) === "open") {
        cycles.push([...path.slice(path.indexOf(next)), next].join(" → "));
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(module, "done");
  };
  for (const module of edges.keys()) if (!state.has(module)) visit(module);
  assert.deepEqual(cycles, []);
});
