/**
 * The product's version, from deno.json (embedded in the binary by the import).
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };

/** e.g. `3.0.0`. */
export const VERSION: string = denoJson.version;
