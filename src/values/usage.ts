// deno-lint-ignore-file camelcase -- usage keeps the API's own field names, end to end
/**
 * Token usage as the Messages API reports it: a plain value shape that the
 * store keeps with each entry, the ledger counts and the prices apply to.
 *
 * @module
 */

/** Token usage, named as the API names it. */
export interface Usage {
  readonly input_tokens: number;
  /** All cache writes; the two fields below split it by lifetime. */
  readonly cache_creation_input_tokens: number;
  readonly ephemeral_5m_input_tokens: number;
  readonly ephemeral_1h_input_tokens: number;
  readonly cache_read_input_tokens: number;
  readonly output_tokens: number;
}

/** Usage of an answer that used nothing (or could not be read). */
export const NO_USAGE: Usage = {
  input_tokens: 0,
  cache_creation_input_tokens: 0,
  ephemeral_5m_input_tokens: 0,
  ephemeral_1h_input_tokens: 0,
  cache_read_input_tokens: 0,
  output_tokens: 0,
};
