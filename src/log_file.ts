/**
 * The log file: lines are appended from a bounded in-memory queue by a
 * background task, in order, a batch per write, and the file rotates by size
 * (`proxy.log` → `proxy.log.1` … `.keep`). When the disk falls behind, lines
 * are dropped and counted, and the next line written says how many.
 *
 * @module
 */

/** The log file cannot be opened; the message names the path and the fix. */
export class LogFileError extends Error {
  /** @param message one line naming the file, the reason and the fix */
  constructor(message: string) {
    super(message);
    this.name = "LogFileError";
  }
}

/** How long file lines wait to be written together. */
const DRAIN_DELAY_MS = 10;

/** How a {@link FileSink} rotates, bounds its queue and reports. */
export interface FileSinkOptions {
  readonly maxBytes: number;
  readonly keep: number;
  readonly maxQueueBytes: number;
  /** The line that reports `dropped` lost lines. */
  readonly notice: (dropped: number) => string;
  /** Tells the operator that the file cannot be written. */
  readonly report: (message: string) => void;
}

const encoder = new TextEncoder();

/** Appends lines to a file from a bounded queue, rotating it by size. */
export class FileSink {
  readonly #path: string;
  readonly #opts: FileSinkOptions;
  #file: Deno.FsFile | undefined;
  #size = 0;
  #queue: string[] = [];
  #queued = 0;
  #dropped = 0;
  #draining: Promise<void> | undefined;
  #closed = false;
  #failing = false;

  constructor(path: string, opts: FileSinkOptions) {
    this.#path = path;
    this.#opts = opts;
    try {
      const dir = path.replace(/[\\/][^\\/]*$/, "");
      if (dir && dir !== path) Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.#file = Deno.openSync(path, { append: true, create: true, mode: 0o600 });
      this.#size = this.#file.statSync().size;
    } catch (e) {
      this.#file?.close();
      throw new LogFileError(
        `Cannot open the log file ${path} (${(e as Error).message}); ` +
          `set CACHE_LOG_FILE to a writable path, or to "none" to log to the console only`,
      );
    }
  }

  /** Queues a line, or counts it as dropped when the queue is full. */
  push(line: string): void {
    if (this.#closed) return;
    if (this.#queued >= this.#opts.maxQueueBytes) {
      this.#dropped++;
      return;
    }
    if (this.#dropped > 0) {
      this.#enqueue(this.#opts.notice(this.#dropped));
      this.#dropped = 0;
    }
    this.#enqueue(line);
    this.#draining ??= this.#drain();
  }

  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async close(): Promise<void> {
    if (this.#closed) return await this.flush();
    this.#closed = true;
    if (this.#dropped > 0) {
      this.#enqueue(this.#opts.notice(this.#dropped));
      this.#dropped = 0;
      this.#draining ??= this.#drain();
    }
    await this.flush();
    this.#closeFile();
  }

  #enqueue(line: string): void {
    this.#queue.push(`${line}\n`);
    this.#queued += line.length + 1; // characters: a close enough bound on bytes for a queue limit
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        // Gather lines for a moment before every write (not only the first), so
        // that under load each write carries many of them.
        if (!this.#closed) await new Promise((resolve) => setTimeout(resolve, DRAIN_DELAY_MS));
        const batch = this.#queue;
        this.#queue = [];
        this.#queued = 0;
        await this.#writeBatch(batch);
      }
    } finally {
      this.#draining = undefined;
    }
  }

  /** Writes a batch in one piece when the file has room for it, else line by line. */
  async #writeBatch(lines: string[]): Promise<void> {
    const joined = encoder.encode(lines.join(""));
    if (!this.#file || !this.#fits(joined.length)) {
      return await this.#writeLines(lines.map((line) => encoder.encode(line)));
    }
    try {
      await writeAll(this.#file, joined);
      this.#size += joined.length;
      this.#failing = false;
    } catch (e) {
      this.#failed(e, lines.length);
    }
  }

  /** Writes line by line, rotating before any line that would not fit. */
  async #writeLines(lines: Uint8Array[]): Promise<void> {
    let written = 0;
    try {
      let start = 0;
      while (start < lines.length) {
        if (!this.#file) await this.#reopen();
        let end = start;
        let bytes = 0;
        while (end < lines.length && (end === start || this.#fits(bytes + lines[end]!.length))) {
          bytes += lines[end++]!.length;
        }
        if (this.#size > 0 && !this.#fits(bytes)) await this.#rotate();
        await writeAll(this.#file!, concat(lines.slice(start, end), bytes));
        this.#size += bytes;
        written = end;
        start = end;
      }
      this.#failing = false;
    } catch (e) {
      this.#failed(e, lines.length - written);
    }
  }

  #failed(e: unknown, lost: number): void {
    this.#dropped += lost;
    if (!this.#failing) {
      this.#opts.report(
        `llm-cache-proxy: cannot write the log file ${this.#path} ` +
          `(${(e as Error).message}); dropping lines until it works again`,
      );
    }
    this.#failing = true;
    this.#closeFile();
  }

  #fits(bytes: number): boolean {
    return this.#size + bytes <= this.#opts.maxBytes;
  }

  #closeFile(): void {
    try {
      this.#file?.close();
    } catch {
      // already closed by a failed write
    }
    this.#file = undefined;
  }

  async #rotate(): Promise<void> {
    this.#closeFile();
    const { keep } = this.#opts;
    if (keep <= 0) await ignoreMissing(Deno.remove(this.#path));
    for (let i = keep - 1; i >= 1; i--) {
      await ignoreMissing(Deno.rename(`${this.#path}.${i}`, `${this.#path}.${i + 1}`));
    }
    if (keep > 0) await ignoreMissing(Deno.rename(this.#path, `${this.#path}.1`));
    await this.#reopen();
  }

  async #reopen(): Promise<void> {
    this.#file = await Deno.open(this.#path, { append: true, create: true, mode: 0o600 });
    this.#size = (await this.#file.stat()).size;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await file.write(bytes.subarray(offset));
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function ignoreMissing(op: Promise<void>): Promise<void> {
  try {
    await op;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
