/**
 * The entry point that `deno compile` builds into `llm-cache-proxy`.
 *
 * @module
 */
import { main } from "./cli/mod.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
