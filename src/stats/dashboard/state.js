// @ts-check
/**
 * What the page's parts share: the filter chosen (the charts and the recent
 * calls follow it), the models and namespaces seen (the filters offer them),
 * and the proxy process the monitor reads (its `startedAt`), which tells
 * whether the history loaded already counts a live call.
 *
 * @module
 */

/** @typedef {import("./series.js").Filter} Filter */

/**
 * The page's shared state.
 *
 * @type {{ filter: Filter, known: { models: Set<string>, namespaces: Set<string> },
 *   server: string }}
 */
export const state = {
  filter: { kind: "", model: "", namespace: "" },
  known: { models: new Set(), namespaces: new Set() },
  server: "",
};
