/**
 * Operation ids: UUID version 7 (RFC 9562), time-ordered, so consecutive operations land side by
 * side in the outbox's op_id index and in the remote ledger's primary key instead of each on a
 * random page.
 *
 * Written here rather than taken from node:crypto: loading node:crypto (or Web Crypto) costs 5 ms,
 * and `ccm-sync hook` runs once per coding-agent event. The random bits come from whoever records,
 * which has SQLite open: its randomblob() is a ChaCha20 generator seeded from the OS.
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL = 4096;

/** Random bytes, drawn from `fill` 4 KiB at a time and handed out 10 per id. */
export class OpIds {
  private pool: Uint8Array = new Uint8Array(0);
  private at = 0;
  private readonly fill: (n: number) => Uint8Array;

  constructor(fill: (n: number) => Uint8Array) {
    this.fill = fill;
  }

  next(nowMs: number): string {
    if (this.at + 10 > this.pool.length) {
      this.pool = this.fill(POOL);
      this.at = 0;
      if (this.pool.length < 10) throw new Error('the random source returned too few bytes');
    }
    this.at += 10;
    return uuidv7(nowMs, this.pool.subarray(this.at - 10, this.at));
  }
}

/** A UUIDv7 string from a time (ms) and 10 random bytes. */
export function uuidv7(nowMs: number, r: Uint8Array): string {
  let ms = Math.max(0, Math.floor(nowMs));
  const time: string[] = [];
  for (let i = 0; i < 6; i++) {
    time.unshift(HEX[ms % 256]!);
    ms = Math.floor(ms / 256);
  }
  const h = (i: number) => HEX[r[i]!]!;
  return `${time[0]}${time[1]}${time[2]}${time[3]}-${time[4]}${time[5]}-${HEX[0x70 | (r[0]! & 0x0f)]}${h(1)}-${HEX[0x80 | (r[2]! & 0x3f)]}${h(3)}-${h(4)}${h(5)}${h(6)}${h(7)}${h(8)}${h(9)}`;
}
