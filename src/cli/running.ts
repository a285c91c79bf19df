/**
 * Finds the proxy of a configuration, however it was started: by its
 * `/health` answer (which names its pid), its pidfile, or its service. A
 * pidfile left stale by a reboot or a service restart is healed from the
 * `/health` answer.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { isAlive, readPid, removePid, writePid } from "./daemon.ts";
import { type Health, ProxyClient } from "./proxy_client.ts";
import { findService, type InstalledService, isServiceActive } from "./service.ts";

/** What is known about the proxy of one configuration. */
export interface ProxyState {
  readonly client: ProxyClient;
  /** Its `/health` answer, when something answers at the configured address. */
  readonly health: Health | undefined;
  /** The proxy's pid: from `/health`, else from a pidfile naming a live process. */
  readonly pid: number | undefined;
  /** The installed boot service, if any. */
  readonly service: InstalledService | undefined;
  /** True when the service manager runs it. */
  readonly serviceActive: boolean;
  /** True when the pidfile was rewritten (or removed) to match what runs. */
  readonly healed: boolean;
}

/**
 * Looks for the proxy and heals its pidfile.
 *
 * @param config the configuration
 * @returns what runs, where, and under which manager
 */
export async function findProxy(config: Config): Promise<ProxyState> {
  const client = ProxyClient.for(config);
  const [health, recorded, service] = await Promise.all([
    client.health(1000),
    readPid(config),
    findService(config).catch(() => undefined),
  ]);
  const serviceActive = service ? await isServiceActive(service).catch(() => false) : false;
  const alive = recorded !== undefined && isAlive(recorded) ? recorded : undefined;
  const pid = health?.pid ?? alive;
  let healed = false;
  if (health && recorded !== health.pid) {
    healed = await writePid(config, health.pid).then(() => true, () => false);
  } else if (!health && recorded !== undefined && alive === undefined) {
    await removePid(config, recorded);
    healed = true;
  }
  return { client, health, pid, service, serviceActive, healed };
}
