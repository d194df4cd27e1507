/**
 * The Node version guard. better-sqlite3 13 ends Node 20 with a segmentation fault and no
 * message, so every entry point checks the version before anything native loads: the CLI
 * (cli/main.ts) exits 1 with this message, the library (index.ts) throws it.
 * No imports: it must run first, on any Node.
 */
/**
 * 22.12: `require()` of an ES module without a flag (the config schema is loaded that way, lazily)
 * and `process.getBuiltinModule` (22.3). Older 22.x would install and then fail at first run.
 */
export const MIN_NODE = [22, 12] as const;
export const MIN_NODE_TEXT = `${MIN_NODE[0]}.${MIN_NODE[1]}`;

/** Why this Node cannot run ccm-sync, or undefined when it can. */
export function nodeProblem(version: string = process.version): string | undefined {
  const m = /^v?(\d+)\.(\d+)\./.exec(version);
  const [major, minor] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])) return undefined;
  return `ccm-sync needs Node ≥ ${MIN_NODE_TEXT} (found ${version}); install Node ${MIN_NODE_TEXT} or later (https://nodejs.org/) and run it with that`;
}
