/**
 * The full-screen browser of `explore`: a list of entries to move through,
 * an entry's metadata and body, invalidation after a y/n question, and a
 * search. It draws on the alternate screen with the terminal in raw mode, and
 * always gives the terminal back as it found it, on quit, on a signal or on
 * an error.
 *
 * @module
 */
import type { CacheStore, EntrySummary } from "../store/store.ts";
import { Terminal } from "./explore_terminal.ts";
import { bodyText, entryTable, fit, metaLines, oneLine, SHORT_KEY, wrap } from "./explore_view.ts";
import { formatBytes, formatCount, type Style, styleFor } from "./term.ts";

/** Options of {@link exploreScreen}. */
export interface ScreenOptions {
  /** Search to start with; empty shows every entry. */
  readonly query?: string;
  /** What to say when the cache is empty: how to fill it (lines separated by `\n`). */
  readonly emptyHint: string;
}

/** Rows loaded into the list; a search finds the others. */
const LIST_CAP = 2000;
/** Body bytes and lines an entry view shows. */
const VIEW_BYTES = 1024 * 1024;
const VIEW_LINES = 5000;

const LIST_HELP = "↑/↓ move  enter view  d invalidate  / search  r reload  q quit";
const VIEW_HELP = "↑/↓ scroll  PgUp/PgDn  d invalidate  esc back";

type Mode = "list" | "view" | "search" | "confirm";

/** An entry being viewed: its metadata and body as lines of text. */
interface Viewed {
  readonly meta: EntrySummary;
  readonly lines: readonly string[];
  scroll: number;
}

/**
 * Runs the browser until the user quits.
 *
 * @param store the cache store
 * @param options the starting search and the empty-cache hint
 * @returns the exit code: 0
 */
export async function exploreScreen(store: CacheStore, options: ScreenOptions): Promise<number> {
  const browser = new Browser(store, options);
  await browser.reload();
  const style = styleFor(Deno.stdout);
  const terminal = Terminal.open();
  try {
    terminal.draw(browser.render(terminal.size(), style));
    for (let key = await terminal.next(); key !== "quit"; key = await terminal.next()) {
      if (key !== "resize" && !(await browser.press(key))) break;
      terminal.draw(browser.render(terminal.size(), style));
    }
    return 0;
  } finally {
    terminal.restore();
  }
}

/** The browser's state and what each key does to it. */
class Browser {
  #store: CacheStore;
  #emptyHint: string;
  #entries: EntrySummary[] = [];
  #total = 0;
  #bytes = 0;
  #selected = 0;
  #top = 0;
  #query: string;
  #draft = "";
  #mode: Mode = "list";
  #viewed: Viewed | undefined;
  #status = "";
  #page = 10;

  constructor(store: CacheStore, options: ScreenOptions) {
    this.#store = store;
    this.#emptyHint = options.emptyHint;
    this.#query = options.query ?? "";
  }

  /** Reads the list again, keeping the selection in range. */
  async reload(): Promise<void> {
    this.#entries = await this.#store.list({ limit: LIST_CAP, query: this.#query });
    this.#total = await this.#store.count();
    this.#bytes = await this.#store.bytes();
    this.#select(this.#selected);
  }

  /** Handles one key; false when the user quits. */
  async press(key: string): Promise<boolean> {
    if (key === "ctrl-c") return false;
    this.#status = "";
    try {
      if (this.#mode === "search") return await this.#pressSearch(key), true;
      if (this.#mode === "confirm") return await this.#pressConfirm(key), true;
      if (this.#mode === "view") return this.#pressView(key), true;
      return await this.#pressList(key);
    } catch (e) {
      this.#status = `The cache failed: ${oneLine((e as Error).message)}; r reloads`;
      return true;
    }
  }

  async #pressList(key: string): Promise<boolean> {
    const move = movement(key, this.#page);
    if (move !== undefined) this.#select(this.#selected + move);
    else if (key === "q") return false;
    else if (key === "enter" || key === "right" || key === "l") await this.#open();
    else if (key === "d" && this.#current()) this.#mode = "confirm";
    else if (key === "/") this.#draft = this.#query, this.#mode = "search";
    else if (key === "r") await this.reload(), this.#status = "Reloaded";
    else if (key === "esc" && this.#query) {
      this.#query = "", this.#selected = 0, await this.reload();
    }
    return true;
  }

  #pressView(key: string): void {
    const viewed = this.#viewed!;
    const move = movement(key, this.#page);
    if (move !== undefined) viewed.scroll = Math.max(0, viewed.scroll + move);
    else if (["esc", "q", "left", "h"].includes(key)) this.#mode = "list", this.#viewed = undefined;
    else if (key === "d") this.#mode = "confirm";
  }

  async #pressSearch(key: string): Promise<void> {
    if (key === "enter") {
      this.#query = this.#draft.trim();
      this.#mode = "list";
      this.#selected = 0;
      await this.reload();
    } else if (key === "esc") this.#mode = "list";
    else if (key === "backspace") this.#draft = [...this.#draft].slice(0, -1).join("");
    else if (key === "ctrl-u") this.#draft = "";
    else if ([...key].length === 1) this.#draft += key;
  }

  async #pressConfirm(key: string): Promise<void> {
    const target = this.#viewed?.meta ?? this.#current()!;
    const short = target.key.slice(0, SHORT_KEY);
    this.#mode = this.#viewed ? "view" : "list";
    if (key !== "y" && key !== "Y") {
      this.#status = `Kept ${short}`;
      return;
    }
    const deleted = await this.#store.delete(target.key);
    this.#viewed = undefined;
    this.#mode = "list";
    await this.reload();
    this.#status = deleted ? `Invalidated ${short}` : `${short} was already gone`;
  }

  async #open(): Promise<void> {
    const current = this.#current();
    if (!current) return;
    const entry = await this.#store.inspect(current.key);
    if (!entry) {
      await this.reload();
      this.#status = `${current.key.slice(0, SHORT_KEY)} is gone (invalidated or evicted)`;
      return;
    }
    const { body, ...meta } = entry;
    const summary = { ...meta, size: body.byteLength };
    let lines = bodyText(entry.contentType, body.subarray(0, VIEW_BYTES)).split("\n");
    const cut = body.byteLength > VIEW_BYTES || lines.length > VIEW_LINES;
    lines = lines.slice(0, VIEW_LINES);
    const title = `body (${oneLine(entry.contentType)}, ${formatBytes(body.byteLength)})` +
      (cut
        ? `, the first ${formatCount(lines.length)} lines; --view KEY --json prints it all`
        : "");
    this.#viewed = {
      meta: summary,
      lines: [...metaLines(summary, Date.now()), "", title, ...lines],
      scroll: 0,
    };
    this.#mode = "view";
  }

  #current(): EntrySummary | undefined {
    return this.#entries[this.#selected];
  }

  #select(index: number): void {
    this.#selected = Math.max(0, Math.min(this.#entries.length - 1, index));
  }

  /** The screen as lines, exactly `size.rows` of them, none wider than `size.columns`. */
  render(size: { columns: number; rows: number }, style: Style): string[] {
    const body = Math.max(1, size.rows - 3);
    this.#page = Math.max(1, body - 1);
    const lines = this.#viewed ? this.#viewLines(size.columns, body + 1, style) : [
      style.bold(fit(this.#title(), size.columns)),
      ...this.#listLines(size.columns, body, style),
    ];
    while (lines.length < size.rows - 1) lines.push("");
    return [...lines.slice(0, size.rows - 1), this.#footer(size.columns, style)];
  }

  #title(): string {
    const stored = `${formatCount(this.#total)} ${this.#total === 1 ? "entry" : "entries"}`;
    const search = this.#query
      ? ` · search "${oneLine(this.#query)}": ${formatCount(this.#entries.length)} shown`
      : this.#entries.length < this.#total
      ? ` · newest ${formatCount(this.#entries.length)} shown, / finds the rest`
      : "";
    return `llm-cache-proxy explore · ${stored}, ${formatBytes(this.#bytes)}${search}`;
  }

  #listLines(columns: number, rows: number, style: Style): string[] {
    if (this.#entries.length === 0) {
      const text = this.#query
        ? `Nothing matches "${oneLine(this.#query)}". Press esc to show every entry.`
        : this.#emptyHint;
      const lines = text.split("\n").flatMap((line) => wrap(line, columns - 2));
      return ["", ...lines.map((line) => `  ${line}`)];
    }
    const table = entryTable(this.#entries, Date.now(), columns - 2);
    const visible = rows - 1;
    if (this.#selected < this.#top) this.#top = this.#selected;
    if (this.#selected >= this.#top + visible) this.#top = this.#selected - visible + 1;
    this.#top = Math.max(0, Math.min(this.#top, this.#entries.length - visible));
    const shown = table.rows.slice(this.#top, this.#top + visible).map((row, i) =>
      this.#top + i === this.#selected ? style.cyan(style.bold(`▸ ${row}`)) : `  ${row}`
    );
    return [style.dim(fit(`  ${table.header}`, columns)), ...shown];
  }

  #viewLines(columns: number, rows: number, style: Style): string[] {
    const viewed = this.#viewed!;
    const wrapped = viewed.lines.flatMap((line) => wrap(line, columns));
    viewed.scroll = Math.min(viewed.scroll, Math.max(0, wrapped.length - rows));
    const end = Math.min(wrapped.length, viewed.scroll + rows);
    const where = `lines ${viewed.scroll + 1}-${end} of ${wrapped.length}`;
    const title = `entry ${viewed.meta.key.slice(0, SHORT_KEY)} · ${where}`;
    return [style.bold(fit(title, columns)), ...wrapped.slice(viewed.scroll, end)];
  }

  #footer(columns: number, style: Style): string {
    if (this.#mode === "search") {
      return fit(`Search: ${this.#draft}▏  (enter apply, esc cancel)`, columns);
    }
    if (this.#mode === "confirm") {
      const target = this.#viewed?.meta ?? this.#current()!;
      const what = `${target.key.slice(0, SHORT_KEY)} (${oneLine(target.snippet) || "no text"})`;
      return style.yellow(fit(`Invalidate ${what}? y/n`, columns));
    }
    if (this.#status) return fit(this.#status, columns);
    return style.dim(fit(this.#viewed ? VIEW_HELP : LIST_HELP, columns));
  }
}

/** Lines a key moves the selection or the view by; undefined for other keys. */
function movement(key: string, page: number): number | undefined {
  if (key === "up" || key === "k") return -1;
  if (key === "down" || key === "j") return 1;
  if (key === "pageup") return -page;
  if (key === "pagedown" || key === " ") return page;
  if (key === "home" || key === "g") return -Infinity;
  if (key === "end" || key === "G") return Infinity;
  return undefined;
}
