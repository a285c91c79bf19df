/**
 * The Redis store over TLS, against a real `redis-server --tls-port` with certificates made by
 * openssl: a private CA and a client certificate from CACHE_REDIS_CA/CERT/KEY (in `.env`), a
 * certificate error said in one line, and `validate`'s checks of the three settings.
 */
import assert from "node:assert/strict";
import { RedisStore } from "../../src/store/redis.ts";
import { runCli } from "../support/cli.ts";
import { eventually, tempHome } from "../support/harness.ts";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { spawnServe } from "../support/process.ts";
import { messageBody } from "../support/proxy.ts";
import { startRedis } from "../support/redis.ts";
import { makeCerts, type TestCerts } from "../support/tls.ts";
import { needs } from "../support/tools.ts";
import { newEntry } from "../support/entry.ts";

const read = (path: string) => Deno.readTextFileSync(path);

async function tlsRedis(certs: TestCerts, authClients: boolean) {
  return await startRedis({
    cert: certs.serverCert,
    key: certs.serverKey,
    ca: certs.ca,
    authClients,
  });
}

async function pingError(url: string, tls: Parameters<typeof RedisStore.open>[1]["tls"]) {
  const store = await RedisStore.open(url, { maxEntries: 10, tls });
  try {
    await store.ping();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await store.close();
  }
}

Deno.test(
  "RedisStore over rediss:// trusts a private CA and presents a client certificate",
  needs("redis-server", "openssl"),
  async () => {
    await using certs = await makeCerts();
    await using redis = await tlsRedis(certs, true);
    const tls = { ca: read(certs.ca), cert: read(certs.clientCert), key: read(certs.clientKey) };
    await using store = await RedisStore.open(redis.url, { maxEntries: 10, tls });
    await store.put(newEntry("k"));
    assert.equal((await store.get("k"))?.key, "k");
  },
);

Deno.test(
  "RedisStore over rediss://: a certificate error says so in one line, and what to set",
  needs("redis-server", "openssl"),
  async () => {
    await using certs = await makeCerts();
    await using redis = await tlsRedis(certs, true);
    const client = { cert: read(certs.clientCert), key: read(certs.clientKey) };
    for (const tls of [{ ...client, ca: read(certs.otherCa) }, client]) {
      const message = await pingError(redis.url, tls);
      assert.match(message ?? "", /refused the TLS connection \(.*certificate.*\).*CACHE_REDIS_CA/);
      assert.doesNotMatch(message!, /Check that Redis is running|\n/);
    }
    const message = await pingError(redis.url, { ca: read(certs.ca) }); // no client certificate
    assert.match(
      message ?? "",
      /requires a client certificate: set CACHE_REDIS_CERT and CACHE_REDIS_KEY/,
    );
  },
);

Deno.test(
  "a proxy reads CACHE_REDIS_CA, CACHE_REDIS_CERT and CACHE_REDIS_KEY from .env",
  needs("redis-server", "openssl"),
  async () => {
    await using certs = await makeCerts();
    await using redis = await tlsRedis(certs, true);
    await using mock = await startMockAnthropic();
    await using home = await tempHome("tls_");
    await Deno.writeTextFile(
      `${home.path}/.env`,
      `CACHE_STORE=${redis.url}\nCACHE_REDIS_CA=${certs.ca}\n` +
        `CACHE_REDIS_CERT=${certs.clientCert}\nCACHE_REDIS_KEY=${certs.clientKey}\n`,
    );
    await Deno.chmod(`${home.path}/.env`, 0o600);
    await using proxy = await spawnServe({
      CACHE_HOME: home.path,
      CACHE_UPSTREAM: mock.url,
      CACHE_PORT: "0",
    });
    const health = async () => (await (await fetch(`${proxy.url}/health`)).json()).store;
    await eventually("the store to be ok", async () => await health() === "ok" || undefined);
    const kinds = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: messageBody("over TLS"),
      });
      await res.text();
      kinds.push(res.headers.get("x-cache"));
    }
    assert.deepEqual(kinds, ["MISS", "HIT"]);
    const out = await runCli(["validate"], { env: { CACHE_HOME: home.path, HOME: home.path } });
    assert.match(out.stdout, /CACHE_REDIS_CA=.*ca\.crt/);
    assert.match(out.stdout, /CACHE_REDIS_CERT=.*client\.crt/);
    assert.match(out.stdout, /CACHE_REDIS_KEY=.*client\.key/);
  },
);

Deno.test(
  "validate names each unusable TLS setting",
  needs("openssl"),
  async () => {
    await using certs = await makeCerts();
    await using home = await tempHome("tls_");
    const validate = async (env: Record<string, string>) => {
      const out = await runCli(["validate"], {
        env: { CACHE_HOME: home.path, HOME: home.path, ...env },
      });
      return out.stdout + out.stderr;
    };
    const tlsStore = "rediss://127.0.0.1:1";
    assert.match(
      await validate({ CACHE_STORE: tlsStore, CACHE_REDIS_CERT: certs.clientCert }),
      /error: CACHE_REDIS_CERT is set without CACHE_REDIS_KEY/,
    );
    assert.match(
      await validate({ CACHE_STORE: "redis://127.0.0.1:1", CACHE_REDIS_CA: certs.ca }),
      /error: CACHE_REDIS_CA is set but CACHE_STORE is not a rediss:\/\/ URL/,
    );
    assert.match(
      await validate({ CACHE_STORE: tlsStore, CACHE_REDIS_CA: `${certs.dir}/missing.crt` }),
      /error: CACHE_REDIS_CA=".*missing\.crt": cannot read it/,
    );
    assert.match(
      await validate({
        CACHE_STORE: tlsStore,
        CACHE_REDIS_CERT: certs.clientCert,
        CACHE_REDIS_KEY: certs.clientCert,
      }),
      /error: CACHE_REDIS_KEY=".*client\.crt" is not a PEM file with a private key/,
    );
  },
);
