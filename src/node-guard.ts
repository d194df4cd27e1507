/**
 * The Node version guard. better-sqlite3 13 ends an older Node with a segmentation fault and no
 * message, so every entry point checks the version before anything native loads: the CLI
 * (cli/main.ts) exits 1 with this message, the library (index.ts) throws it.
 * No imports: it must run first, on any Node.
 */
export const MIN_NODE_MAJOR = 22;

/** Why this Node cannot run ccm-sync, or undefined when it can. */
export function nodeProblem(version: string = process.version): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (Number.isInteger(major) && major >= MIN_NODE_MAJOR) return undefined;
  return `ccm-sync needs Node ≥ ${MIN_NODE_MAJOR} (found ${version}); install Node ${MIN_NODE_MAJOR} or later (https://nodejs.org/) and run it with that`;
}
