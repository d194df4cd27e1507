/**
 * Teardown at the end of a test file, before the leak check (./no-leaks.ts) looks. Vitest tears
 * down file-scoped fixtures after the file's last afterAll, which is after that check; the
 * fixtures (./fixtures.ts) register their teardown here as well, and the check runs it first,
 * newest first (a PostgREST stops before its database is dropped). Each teardown runs once.
 */
const teardowns: (() => Promise<void>)[] = [];

/** Registers `fn` to run at the end of the file; the function returned runs it (once) now. */
export function atFileEnd(fn: () => Promise<unknown> | unknown): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => (done ??= Promise.resolve().then(fn).then(() => undefined));
  teardowns.push(once);
  return once;
}

/** Runs every registered teardown, newest first; the first failure is thrown after all have run. */
export async function runFileEnd(): Promise<void> {
  let failure: unknown;
  for (const fn of teardowns.splice(0).reverse()) await fn().catch((err: unknown) => void (failure ??= err));
  if (failure) throw failure;
}
