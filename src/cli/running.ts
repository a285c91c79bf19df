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
  /** Its `/health` answer, when this home's proxy answers at the configured address. */
  readonly health: Health | undefined;
  /** The `/health` of a proxy serving another cache home at this address, if one does. */
  readonly foreign: Health | undefined;
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
  const [{ health, foreign }, recorded, service] = await Promise.all([
    client.probe(1000),
    readPid(config),
    findService(config).catch(() => undefined),
  ]);
  const serviceActive = service ? await isServiceActive(service).catch(() => false) : false;
  // A pidfile naming another home's proxy is never ours to stop or report.
  const alive = recorded !== undefined && recorded !== foreign?.pid && isAlive(recorded)
    ? recorded
    : undefined;
  const pid = health?.pid ?? alive;
  let healed = false;
  if (health && recorded !== health.pid) {
    healed = await writePid(config, health.pid).then(() => true, () => false);
  } else if (!health && recorded !== undefined && alive === undefined) {
    await removePid(config, recorded);
    healed = true;
  }
  return { client, health, foreign, pid, service, serviceActive, healed };
}

/**
 * Says that another cache home's proxy holds this home's address, and how to
 * get past it.
 *
 * @param config this home's configuration
 * @param foreign the other proxy's `/health`
 * @returns one line
 */
export function foreignProxy(config: Config, foreign: Health): string {
  if (foreign.home === undefined) {
    return `Port ${config.port} is taken by a proxy that does not say which cache home it ` +
      `serves (llm-cache-proxy v2, or an older build${
        foreign.pid ? `, pid ${foreign.pid}` : ""
      }). ` +
      `Stop it with the tool that started it, or give this home another CACHE_PORT`;
  }
  return `Port ${config.port} is taken by the llm-cache-proxy of another cache home ` +
    `(${foreign.home}, pid ${foreign.pid}), not of ${config.home}. Stop that one ` +
    `(CACHE_HOME=${foreign.home} llm-cache-proxy stop) or give this home another CACHE_PORT`;
}
