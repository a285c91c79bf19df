/**
 * The Homebrew formula for a release: one binary archive per OS and CPU,
 * a `brew services` definition and a smoke test. It lives in a tap
 * repository (`<owner>/homebrew-tap`, file `Formula/llm-cache-proxy.rb`).
 *
 * @module
 */

/** One archive the formula downloads. */
export interface FormulaAsset {
  /** Where Homebrew downloads it. */
  readonly url: string;
  /** Its SHA-256, hex. */
  readonly sha256: string;
}

/** What the formula is rendered from. */
export interface FormulaInput {
  /** e.g. `3.1.0` (no leading v). */
  readonly version: string;
  /** The project page, e.g. `https://github.com/owner/name`. */
  readonly homepage: string;
  /** The archive for each `deno compile` target, keyed by target triple. */
  readonly assets: Readonly<Record<string, FormulaAsset>>;
}

/** The targets the formula installs, by Homebrew's `on_<os>` and `on_<cpu>` blocks. */
export const FORMULA_TARGETS = {
  macos: { arm: "aarch64-apple-darwin", intel: "x86_64-apple-darwin" },
  linux: { arm: "aarch64-unknown-linux-gnu", intel: "x86_64-unknown-linux-gnu" },
} as const;

/**
 * Renders `Formula/llm-cache-proxy.rb`.
 *
 * @param input the version, homepage and the archive of every target in {@link FORMULA_TARGETS}
 * @returns the Ruby source
 * @throws {RangeError} when an archive the formula needs is missing
 * @example
 * ```ts
 * const rb = renderFormula({ version: "3.1.0", homepage: "https://github.com/o/n", assets });
 * ```
 */
export function renderFormula(input: FormulaInput): string {
  const os = (name: keyof typeof FORMULA_TARGETS): string =>
    [
      `  on_${name} do`,
      cpuBlock("arm", FORMULA_TARGETS[name].arm, input.assets),
      cpuBlock("intel", FORMULA_TARGETS[name].intel, input.assets),
      "  end",
    ].join("\n");
  return `class LlmCacheProxy < Formula
  desc "Local caching reverse proxy for the Anthropic Messages API"
  homepage ${rubyString(input.homepage)}
  version ${rubyString(input.version)}

${os("macos")}

${os("linux")}

  def install
    bin.install "llm-cache-proxy"
  end

  service do
    run [opt_bin/"llm-cache-proxy", "serve"]
    keep_alive true
    log_path var/"log/llm-cache-proxy.log"
    error_log_path var/"log/llm-cache-proxy.log"
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/llm-cache-proxy version")
  end
end
`;
}

function cpuBlock(
  cpu: "arm" | "intel",
  target: string,
  assets: Readonly<Record<string, FormulaAsset>>,
): string {
  const asset = assets[target];
  if (!asset) throw new RangeError(`Cannot render the formula: no archive for ${target}`);
  return [
    `    on_${cpu} do`,
    `      url ${rubyString(asset.url)}`,
    `      sha256 ${rubyString(asset.sha256)}`,
    "    end",
  ].join("\n");
}

/** A double-quoted Ruby literal; `#` is escaped so nothing is interpolated. */
function rubyString(text: string): string {
  return `"${text.replace(/[\\"#]/g, (c) => `\\${c}`)}"`;
}
