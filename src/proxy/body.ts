/**
 * Reads a request body with a size limit, refusing an oversized one without
 * buffering it.
 *
 * @module
 */
import { joinChunks } from "../cache/recorder.ts";
import { HttpError } from "./errors.ts";

/**
 * Reads the whole body of `req`, up to `maxBytes`.
 *
 * A declared `content-length` over the limit is refused before a byte is
 * read; a chunked body is refused as soon as it passes the limit.
 *
 * @param req the request
 * @param maxBytes the largest body accepted
 * @returns the body bytes (empty when there is none)
 * @throws {HttpError} 413 `request_too_large` past the limit
 */
export async function readBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await req.body?.cancel();
    throw tooLarge(maxBytes);
  }
  if (!req.body) return new Uint8Array();
  if (declared !== null) return await req.bytes();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of req.body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  return joinChunks(chunks);
}

function tooLarge(maxBytes: number): HttpError {
  const mib = Math.round(maxBytes / 1024 / 1024);
  return new HttpError(
    413,
    "request_too_large",
    `Request body exceeds the proxy's ${mib} MiB limit; send a smaller request`,
  );
}
