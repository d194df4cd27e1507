/**
 * The price table that turns a response's tokens into an estimated cost: config/pricing.yaml,
 * shipped with the package, with hooks.pricing_file's models over it. Dollars per million tokens.
 * Loaded on first use (yaml and zod are not on the hook's path).
 */
import { createRequire } from 'node:module';
import { fs } from '../builtins.ts';
import { ConfigError, messageOf } from '../errors.ts';
import type { UsageLine } from './transcript.ts';

export interface ModelPrice {
  input: number;
  output: number;
  cache_write: number;
  cache_read: number;
}

export type PriceTable = ReadonlyMap<string, ModelPrice>;

const requireHere = createRequire(import.meta.url);
export const SHIPPED_PRICING = new URL('../../config/pricing.yaml', import.meta.url);

function readTable(file: string | URL): Map<string, ModelPrice> {
  const { z } = requireHere('zod') as typeof import('zod');
  const price = z.number().nonnegative();
  const shape = z.object({ models: z.record(z.string(), z.object({ input: price, output: price, cache_write: price, cache_read: price }).strict()) }).strict();
  let parsed;
  try {
    parsed = shape.safeParse((requireHere('yaml') as typeof import('yaml')).parse(fs.readFileSync(file, 'utf8')));
  } catch (err) {
    throw new ConfigError(`cannot read the price table ${String(file)}: ${messageOf(err)}`);
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`price table ${String(file)}: ${issue.path.join('.') || '(top)'}: ${issue.message} (expected models: {<model>: {input, output, cache_write, cache_read}} in dollars per million tokens)`);
  }
  return new Map(Object.entries(parsed.data.models));
}

/** The shipped table, with the models of `overrideFile` (hooks.pricing_file) replacing its own. */
export function loadPricing(overrideFile?: string): PriceTable {
  const table = readTable(SHIPPED_PRICING);
  if (overrideFile) for (const [model, p] of readTable(overrideFile)) table.set(model, p);
  return table;
}

/**
 * What may follow a key in a model's name that is still that model: a date (-20250514), a
 * provider's suffix (@20250514 on Vertex, -v1:0 on Bedrock), a context tag ([1m]), -latest, or
 * the minor version 0 of the API's aliases (claude-opus-4-0 is Opus 4). Anything else, -8 or
 * -1-…, is another version, with a price of its own.
 */
const SAME_MODEL = /^(?:$|-\d{8}(?!\d)|@|:|\[|-v\d|-latest\b|-0(?![\d.]))/;

/**
 * The price of a model: the longest key its name starts with, followed by nothing or what
 * SAME_MODEL allows (Bedrock's "anthropic." and region prefixes aside). claude-opus-4 prices
 * claude-opus-4-20250514, not claude-opus-4-8: a version the table does not know is unpriced.
 */
export function priceOf(table: PriceTable, model: string): ModelPrice | undefined {
  const name = model.replace(/^(?:[a-z]+(?:-[a-z]+)?\.)?anthropic\./, ''); // us., eu., apac., global., us-gov.
  let best: string | undefined;
  for (const key of table.keys()) {
    if (name.startsWith(key) && SAME_MODEL.test(name.slice(key.length)) && (!best || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : table.get(best);
}

/** The estimated cost of one response in dollars, or null when its model has no price. */
export function costOf(table: PriceTable, u: Pick<UsageLine, 'model' | 'input_tokens' | 'output_tokens' | 'cache_creation_tokens' | 'cache_read_tokens'>): number | null {
  const p = priceOf(table, u.model);
  if (!p) return null;
  return (u.input_tokens * p.input + u.output_tokens * p.output + u.cache_creation_tokens * p.cache_write + u.cache_read_tokens * p.cache_read) / 1e6;
}
