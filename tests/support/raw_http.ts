/**
 * A raw TCP client for tests that must send bytes `fetch` and curl would not:
 * request lines with dot segments, half-sent headers, bodies cut short.
 *
 * @module
 */

/** What the server sent back on a raw connection. */
export interface RawReply {
  /** The status code of the first response, 0 when none came. */
  readonly status: number;
  /** Everything received, decoded as UTF-8. */
  readonly text: string;
}

/**
 * Reads a connection until the server closes it (or resets it) and closes our side.
 *
 * @param conn the connection
 * @returns what was received
 */
export async function readToEnd(conn: Deno.Conn): Promise<RawReply> {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  try {
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      chunks.push(decoder.decode(buffer.subarray(0, n), { stream: true }));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.ConnectionReset)) throw e;
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
  const text = chunks.join("");
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text };
}

/**
 * Opens a connection to `127.0.0.1:port` and writes `request` verbatim.
 *
 * @param port the server's port
 * @param request the bytes to send, e.g. a request line and headers
 * @returns the open connection
 */
export async function rawConnect(port: number, request = ""): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  if (request) await conn.write(new TextEncoder().encode(request));
  return conn;
}

/**
 * Sends `METHOD target HTTP/1.1` with `Connection: close` exactly as given and
 * reads the answer until the server closes the connection.
 *
 * @param port the server's port
 * @param method the request method
 * @param target the request target, sent byte for byte
 * @returns the reply
 */
export async function rawRequest(port: number, method: string, target: string): Promise<RawReply> {
  const request = `${method} ${target} HTTP/1.1\r\nhost: proxy.test\r\n` +
    "x-api-key: client-key\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
  return await readToEnd(await rawConnect(port, request));
}

/**
 * Reads one response from a kept-alive connection: the head, then a body of
 * `content-length` bytes or chunks up to the last one. The connection stays open.
 *
 * @param conn the connection
 * @returns the response, or status 0 and what came when the server closed first
 */
export async function readResponse(conn: Deno.Conn): Promise<RawReply> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  let bytes = 0;
  while (!complete(text, bytes)) {
    const n = await conn.read(buffer).catch((e) => {
      if (e instanceof Deno.errors.ConnectionReset) return null;
      throw e;
    });
    if (n === null) return { status: 0, text };
    bytes += n;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text };
}

/** Whether `text` (`bytes` long on the wire) holds a whole response; the head is ASCII. */
function complete(text: string, bytes: number): boolean {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const head = text.slice(0, end);
  const length = /\r\ncontent-length: (\d+)/i.exec(head);
  if (length) return bytes - end - 4 >= Number(length[1]);
  return !/\r\ntransfer-encoding: chunked/i.test(head) || text.endsWith("0\r\n\r\n");
}
