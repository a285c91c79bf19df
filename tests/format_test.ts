import assert from "node:assert/strict";
import fc from "fast-check";
import { formatPrice, formatUsd } from "../src/format.ts";
import { formatUsd as pageFormatUsd } from "../src/format_usd.js";
import { DASHBOARD_FILES } from "../src/stats/dashboard.ts";

Deno.test("formatUsd() keeps two significant digits below ten cents and cents above", () => {
  const cases: [number, string][] = [
    [0, "$0"],
    [4e-7, "<$0.000001"],
    [0.00042, "$0.00042"],
    [0.016, "$0.016"],
    [0.05, "$0.05"],
    [0.0999, "$0.10"],
    [0.1, "$0.10"],
    [1.234, "$1.23"],
    [1234.5, "$1,234.50"],
    [1234567.891, "$1,234,567.89"],
    [0.1 + 0.2, "$0.30"],
  ];
  for (const [dollars, text] of cases) assert.equal(formatUsd(dollars), text, String(dollars));
});

Deno.test("formatUsd() from ten cents up: the cents of toFixed(2), the whole dollars in groups of three", () => {
  fc.assert(
    fc.property(fc.double({ min: 0.1, max: 1e15, noNaN: true }), (dollars) => {
      const text = formatUsd(dollars);
      assert.match(text, /^\$\d{1,3}(,\d{3})*\.\d\d$/, `${dollars}: ${text}`);
      assert.equal(text.slice(1).replaceAll(",", ""), dollars.toFixed(2), String(dollars));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("formatPrice() is exact to a millionth, with at least two decimals", () => {
  const cases: [number, string][] = [
    [0.30000000000000004, "$0.30"],
    [15, "$15.00"],
    [0.025, "$0.025"],
    [0.3125, "$0.3125"],
    [0.08000000000000002, "$0.08"],
  ];
  for (const [dollars, text] of cases) assert.equal(formatPrice(dollars), text, String(dollars));
});

Deno.test("the dashboard formats money with the command line's own function", async () => {
  assert.equal(formatUsd, pageFormatUsd, "src/format.ts re-exports the page's module");
  const served = DASHBOARD_FILES.get("/format_usd.js")?.text;
  const file = new URL("../src/format_usd.js", import.meta.url);
  assert.equal(served, await Deno.readTextFile(file), "the page loads that very file");
  const users = [...DASHBOARD_FILES].filter(([, f]) =>
    f.text.includes('import { formatUsd } from "../../format_usd.js";')
  );
  assert.deepEqual(users.map(([path]) => path).sort(), ["/panels.js", "/text.js"]);
  for (const [path, { text }] of DASHBOARD_FILES) {
    if (path !== "/format_usd.js") {
      assert.doesNotMatch(text, /function formatUsd|toFixed\(2\)\.split/, `no copy in ${path}`);
    }
  }
});
