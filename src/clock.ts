/** Time, injected. Tests pass a clock they move by hand instead of sleeping or patching Date. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function iso(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  private t: number;
  constructor(start: number | string = '2026-01-01T00:00:00.000Z') {
    this.t = typeof start === 'string' ? Date.parse(start) : start;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
