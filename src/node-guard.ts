/**
 * The Node version guard. better-sqlite3 13 ends Node 20 with a segmentation fault and no
 * message, so every entry point checks the version before anything native loads: the CLI
 * (cli/main.ts) exits 1 with this message, the library (index.ts) throws it.
 * No imports: it must run first, on any Node.
 */
/**
 * better-sqlite3 13's binary crashes Node with a segmentation fault up to 22.13 and 23.5 (tested:
 * 20.x, 22.12, 22.13, 23.0, 23.5 crash; 22.14, 22.20, 23.6, 23.8, 24.x run; .ci/package-check runs
 * the quick start on 22.14). Also needed, and older: `require()` of an ES module without a flag
 * (22.12) and `process.getBuiltinModule` (22.3).
 */
export const MIN_NODE = [22, 14] as const;
export const MIN_NODE_TEXT = `${MIN_NODE[0]}.${MIN_NODE[1]}`;
/** The first minor that runs, per major line below 24. */
const FIRST_MINOR: Readonly<Record<number, number>> = { 22: 14, 23: 6 };

export function nodeProblem(version: string = process.version): string | undefined {
  const m = /^v?(\d+)\.(\d+)\./.exec(version);
  const [major, minor] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (major >= 24 || (FIRST_MINOR[major] !== undefined && minor >= FIRST_MINOR[major]!)) return undefined;
  const line = major === 23 ? ' (on the 23 line, 23.6)' : '';
  return `ccm-sync needs Node ≥ ${MIN_NODE_TEXT}${line} (found ${version}); install Node ${MIN_NODE_TEXT} or later (https://nodejs.org/) and run it with that`;
}
