/**
 * Certificates for TLS tests, made by `openssl` in a temp folder: a private
 * CA, a server certificate for 127.0.0.1 and a client certificate it signed,
 * and a second CA that signed nothing (a server it is asked to trust fails).
 *
 * @module
 */

/** PEM file paths. */
export interface TestCerts extends AsyncDisposable {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA that signed none of the above. */
  readonly otherCa: string;
}

/**
 * Makes the certificates (EC P-256 keys, valid for a day).
 *
 * @returns their paths; dispose to delete them
 * @throws when openssl is missing or fails
 */
export async function makeCerts(): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "tls-test-" });
  const at = (name: string) => `${dir}/${name}`;
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  for (const ca of ["ca", "other-ca"]) {
    await openssl([
      ...["req", "-x509", ...key, "-keyout", at(`${ca}.key`), "-out", at(`${ca}.crt`)],
      ...["-days", "1", "-subj", `/CN=llm-cache-proxy test ${ca}`],
    ]);
  }
  for (const [name, ext] of [["server", "subjectAltName=IP:127.0.0.1"], ["client", ""]]) {
    await openssl([
      ...["req", ...key, "-keyout", at(`${name}.key`), "-out", at(`${name}.csr`)],
      ...["-subj", `/CN=${name === "server" ? "127.0.0.1" : "proxy"}`],
    ]);
    await Deno.writeTextFile(
      at(`${name}.ext`),
      `basicConstraints=CA:FALSE\n${ext ? `${ext}\n` : ""}extendedKeyUsage=${
        name === "server" ? "serverAuth,clientAuth" : "clientAuth"
      }\n`,
    );
    await openssl([
      ...["x509", "-req", "-in", at(`${name}.csr`), "-CA", at("ca.crt"), "-CAkey", at("ca.key")],
      ...[
        "-CAcreateserial",
        "-days",
        "1",
        "-out",
        at(`${name}.crt`),
        "-extfile",
        at(`${name}.ext`),
      ],
    ]);
  }
  return {
    dir,
    ca: at("ca.crt"),
    serverCert: at("server.crt"),
    serverKey: at("server.key"),
    clientCert: at("client.crt"),
    clientKey: at("client.key"),
    otherCa: at("other-ca.crt"),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}
