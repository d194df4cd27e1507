/**
 * Waiting in tests. A deadline is a bound on failure, never a claim about speed: a test that passes
 * on a quiet machine must pass on one that is half as fast, or busy with other work. Deadlines are
 * written as what the work takes on a quiet machine and stretched by SLOWDOWN here, in one place.
 * Speed itself is measured by `npm run bench`, never asserted in a test.
 */

/** How much slower than a quiet 2-core machine a run may be and still pass (CCM_TEST_SLOWDOWN). */
export const SLOWDOWN = Math.max(1, Number(process.env.CCM_TEST_SLOWDOWN) || 5);

/** A quiet machine's duration, stretched for a slow or busy one. */
export function scaled(ms: number): number {
  return ms * SLOWDOWN;
}

/**
 * Polls a condition until it holds; for events that happen on their own schedule. `timeoutMs` is
 * what the wait may take on a quiet machine (it is stretched by SLOWDOWN).
 */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000, everyMs = 25): Promise<NonNullable<T>> {
  const limit = scaled(timeoutMs);
  const end = Date.now() + limit;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${limit} ms (${timeoutMs} ms × CCM_TEST_SLOWDOWN ${SLOWDOWN}) waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
