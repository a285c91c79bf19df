/**
 * The questions `llm-cache-proxy setup` asks: their defaults (taken from an
 * existing `.env` where its values are usable), the check of each answer,
 * given as a flag or typed at the prompt, and the asking itself; a
 * {@link Prompter} asks again after an answer its question rejects.
 *
 * @module
 */
import { DEFAULTS, LIMITS } from "../config_vars.ts";
import { apiKeyProblem, authTokenProblem, hostProblem, maskKey } from "../config_check.ts";
import { UsageError, wholeFlag } from "./args.ts";
import type { Prompter, Question } from "./prompt.ts";

/** The settings `setup` writes. */
export interface Answers {
  /** The Anthropic API key; undefined: the clients' own credentials pass through. */
  apiKey: string | undefined;
  /** The port to listen on. */
  port: number;
  /** How long answers stay cached, in seconds. */
  ttlSec: number;
  /** Entries kept before the least recently used go. */
  maxEntries: number;
  /** The address to bind. */
  host: string;
}

/** The flags, checked; a missing property is a question still to ask. */
export type Given = Partial<Answers> & { authToken?: string };

/** The `setup` flags that answer a question, as parsed and not yet checked. */
export interface AnswerFlags {
  /** `--api-key` */
  readonly "api-key"?: string | undefined;
  /** `--no-api-key` */
  readonly "no-api-key"?: boolean | undefined;
  /** `--port` */
  readonly port?: string | undefined;
  /** `--ttl` */
  readonly ttl?: string | undefined;
  /** `--max-entries` */
  readonly "max-entries"?: string | undefined;
  /** `--host` */
  readonly host?: string | undefined;
  /** `--auth-token` */
  readonly "auth-token"?: string | undefined;
}

/** The questions' names, in the order they are asked. */
export const ANSWER_NAMES: readonly (keyof Answers)[] = [
  "apiKey",
  "port",
  "ttlSec",
  "maxEntries",
  "host",
];
const TTL_UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Checks the flags that answer a question.
 *
 * @param values the parsed `setup` flags
 * @returns the answers the flags give
 * @throws {UsageError} when a flag's value is not usable, or two flags disagree
 */
export function checkFlags(values: AnswerFlags): Given {
  const given: Given = {};
  if (values["api-key"] !== undefined && values["no-api-key"]) {
    throw new UsageError("--api-key and --no-api-key cannot be used together");
  }
  if (values["no-api-key"]) given.apiKey = undefined;
  if (values["api-key"] !== undefined) {
    const problem = apiKeyProblem(values["api-key"].trim());
    if (problem) throw new UsageError(`--api-key is not an Anthropic API key: ${problem}`);
    given.apiKey = values["api-key"].trim();
  }
  const port = wholeFlag("port", values.port, 1, LIMITS.port[1]);
  if (port !== undefined) given.port = port;
  if (values.ttl !== undefined) {
    const ttl = parseTtl(values.ttl);
    if (ttl === undefined) throw new UsageError(`--ttl "${values.ttl}" ${TTL_ALLOWED}`);
    given.ttlSec = ttl;
  }
  const maxEntries = wholeFlag("max-entries", values["max-entries"], ...LIMITS.maxEntries);
  if (maxEntries !== undefined) given.maxEntries = maxEntries;
  if (values.host !== undefined) {
    const problem = hostProblem(values.host);
    if (problem) throw new UsageError(`--host "${values.host}" is ${problem} (e.g. 0.0.0.0)`);
    given.host = values.host;
  }
  if (values["auth-token"] !== undefined) {
    const problem = authTokenProblem(values["auth-token"]);
    if (problem) throw new UsageError(`--auth-token is not usable: ${problem}`);
    given.authToken = values["auth-token"];
  }
  return given;
}

const TTL_ALLOWED = `must be whole seconds from 1 to ${LIMITS.ttlSec[1]}, or a number with ` +
  "m, h or d (30m, 12h, 7d)";

/** Seconds from `604800`, `90s`, `30m`, `12h` or `7d`; undefined when out of range. */
function parseTtl(raw: string): number | undefined {
  const match = /^(\d+)\s*([smhd]?)$/i.exec(raw.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * TTL_UNITS[match[2]!.toLowerCase()]!;
  return seconds >= LIMITS.ttlSec[0] && seconds <= LIMITS.ttlSec[1] ? seconds : undefined;
}

/**
 * The current `.env` values where usable, else the built-in defaults.
 *
 * @param existing the variables of the current `.env` (empty when there is none)
 * @returns the default for each question
 */
export function defaultsFrom(existing: Record<string, string>): Answers {
  const key = existing.ANTHROPIC_API_KEY_REAL?.trim();
  const whole = (raw: string | undefined, [min, max]: readonly [number, number], d: number) => {
    const n = /^\d+$/.test(raw?.trim() ?? "") ? Number(raw) : NaN;
    return n >= min && n <= max ? n : d;
  };
  const host = existing.CACHE_HOST?.trim();
  return {
    apiKey: key ? key : undefined,
    port: whole(existing.CACHE_PORT, [1, LIMITS.port[1]], DEFAULTS.port),
    ttlSec: parseTtl(existing.CACHE_TTL_SEC ?? "") ?? DEFAULTS.ttlSec,
    maxEntries: whole(existing.CACHE_MAX_ENTRIES, LIMITS.maxEntries, DEFAULTS.maxEntries),
    host: host && !hostProblem(host) ? host : DEFAULTS.host,
  };
}

/**
 * Asks each question the flags left open, or takes its default without a prompter.
 *
 * @param defaults the answer to an empty reply, and to a question not asked
 * @param given the answers the flags gave; their questions are not asked
 * @param prompter asks the open questions; absent (`--yes`): take the defaults
 * @returns every answer
 * @throws {PromptAborted} when the user cancels a question
 */
export async function ask(defaults: Answers, given: Given, prompter?: Prompter): Promise<Answers> {
  const questions = questionsFor(defaults);
  const answers = { ...defaults };
  for (const name of ANSWER_NAMES) {
    if (Object.hasOwn(given, name)) Object.assign(answers, { [name]: given[name] });
    else if (prompter) {
      const question = questions[name] as Question<Answers[keyof Answers]>;
      Object.assign(answers, { [name]: await prompter.ask(question) });
    }
  }
  return answers;
}

/** The questions in the order asked, with `defaults` shown and used for an empty answer. */
function questionsFor(d: Answers): { [K in keyof Answers]: Question<Answers[K]> } {
  const whole =
    (label: string, [min, max]: readonly [number, number], fallback: number) =>
    (answer: string): number => {
      if (answer === "") return fallback;
      const n = /^\d+$/.test(answer) ? Number(answer) : NaN;
      if (n >= min && n <= max) return n;
      throw new Error(`"${answer}" is not ${label} from ${min} to ${max}`);
    };
  return {
    apiKey: {
      text: d.apiKey === undefined
        ? "Anthropic API key (empty: clients' own credentials pass through)"
        : 'Anthropic API key (enter keeps it, "none" removes it)',
      shown: d.apiKey === undefined ? "none" : maskKey(d.apiKey, { tail: true }),
      secret: true,
      parse: (answer) => {
        if (answer === "") return d.apiKey;
        if (answer.toLowerCase() === "none") return undefined;
        const problem = apiKeyProblem(answer);
        if (problem) throw new Error(`That is not an Anthropic API key: ${problem}`);
        return answer;
      },
    },
    port: { text: "Port", shown: String(d.port), parse: whole("a port", [1, 65535], d.port) },
    ttlSec: {
      text: "Keep answers for (seconds, or 30m, 12h, 7d)",
      shown: `${d.ttlSec}`,
      parse: (answer) => {
        if (answer === "") return d.ttlSec;
        const ttl = parseTtl(answer);
        if (ttl === undefined) throw new Error(`"${answer}" ${TTL_ALLOWED}`);
        return ttl;
      },
    },
    maxEntries: {
      text: "Entries to keep",
      shown: String(d.maxEntries),
      parse: whole("a whole number", LIMITS.maxEntries, d.maxEntries),
    },
    host: {
      text: "Bind host (127.0.0.1: this machine only; 0.0.0.0: the network, with a token)",
      shown: d.host,
      parse: (answer) => {
        if (answer === "") return d.host;
        const problem = hostProblem(answer);
        if (problem) throw new Error(`"${answer}" is ${problem}`);
        return answer;
      },
    },
  };
}
