import assert from "node:assert/strict";
import { DASHBOARD_FILES } from "../../src/stats/dashboard.ts";

const FOLDER = new URL("../../src/stats/dashboard/", import.meta.url);
/** Modules the page shares with the proxy, outside its folder: served as they are. */
const OUTSIDE: Readonly<Record<string, URL>> = {
  "/format_usd.js": new URL("../../src/format_usd.js", import.meta.url),
  "/values/hit_kinds.js": new URL("../../src/values/hit_kinds.js", import.meta.url),
};

Deno.test("the proxy serves every file of the page's folder, byte for byte", async () => {
  const names = [];
  for await (const entry of Deno.readDir(FOLDER)) {
    if (entry.name !== "deno.json") names.push(entry.name);
  }
  const served = [...DASHBOARD_FILES.keys()].filter((path) => !Object.hasOwn(OUTSIDE, path)).map((
    path,
  ) => path === "/" ? "index.html" : path.slice(1));
  assert.deepEqual(served.sort(), names.sort());
  for (const name of names) {
    const file = DASHBOARD_FILES.get(name === "index.html" ? "/" : `/${name}`)!;
    assert.equal(file.text, await Deno.readTextFile(new URL(name, FOLDER)), name);
  }
  for (const [path, source] of Object.entries(OUTSIDE)) {
    assert.equal(DASHBOARD_FILES.get(path)?.text, await Deno.readTextFile(source), path);
  }
});

Deno.test("every module a page module imports is served, at the path the browser asks for", () => {
  for (const [path, { text, contentType }] of DASHBOARD_FILES) {
    if (!contentType.startsWith("text/javascript")) continue;
    for (const [, target] of text.matchAll(/^\s*(?:import|export)\b[^"]*?from "(\.[^"]+)";/gm)) {
      const asked = new URL(target!, `http://proxy.test${path}`).pathname;
      assert.ok(DASHBOARD_FILES.has(asked), `${path} imports ${target}, which is not served`);
    }
  }
});
