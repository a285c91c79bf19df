/**
 * A real headless Chromium for browser tests, driven by playwright-core. It uses the system
 * Chromium (Debian package `chromium`), never a downloaded one; when it is missing, launching
 * fails with a message that says how to install it, so the test fails instead of skipping.
 *
 * @module
 */
import { type Browser, chromium, type Page } from "playwright-core";

/** Where Chromium is expected; `CHROMIUM_PATH` overrides it. */
export const CHROMIUM_PATH: string = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Launches headless Chromium; close it with `await using`.
 *
 * @returns the browser
 * @throws {Error} when Chromium is not installed at {@link CHROMIUM_PATH}
 */
export async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM_PATH);
  } catch {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}, and the browser tests need it: ` +
        "install it with `apt-get update && apt-get install -y chromium` " +
        "(or set CHROMIUM_PATH to a Chromium binary)",
    );
  }
  return await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, timeout: 15_000 });
}

/** What a page reported while a test watched it. */
export interface PageProblems {
  /** `console.error` calls and browser-logged errors (e.g. failed loads). */
  readonly consoleErrors: string[];
  /** Uncaught exceptions and unhandled rejections. */
  readonly pageErrors: string[];
}

/**
 * Collects console errors and page errors (uncaught exceptions, unhandled rejections).
 *
 * @param page the page to watch, before it navigates
 * @returns the lists, filled as the page runs
 */
export function watchProblems(page: Page): PageProblems {
  const problems: PageProblems = { consoleErrors: [], pageErrors: [] };
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      problems.consoleErrors.push(`${message.type()}: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.pageErrors.push(error.stack ?? error.message));
  return problems;
}
