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
  /** The time part of the ids of the last millisecond seen: a batch shares it. */
  private lastMs = -1;
  private lastTime = '';

  constructor(fill: (n: number) => Uint8Array) {
    this.fill = fill;
  }

  next(nowMs: number): string {
    if (this.at + 10 > this.pool.length) {
      this.pool = this.fill(POOL);
      this.at = 0;
      if (this.pool.length < 10) throw new Error('the random source returned too few bytes');
    }
    const ms = Math.max(0, Math.floor(nowMs));
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastTime = timeHex(ms);
    }
    const r = this.pool;
    const i = this.at;
    this.at += 10;
    return `${this.lastTime}-${HEX[0x70 | (r[i]! & 0x0f)]}${HEX[r[i + 1]!]}-${HEX[0x80 | (r[i + 2]! & 0x3f)]}${HEX[r[i + 3]!]}-${HEX[r[i + 4]!]}${HEX[r[i + 5]!]}${HEX[r[i + 6]!]}${HEX[r[i + 7]!]}${HEX[r[i + 8]!]}${HEX[r[i + 9]!]}`;
  }
}

/** The first two groups of a UUIDv7: 48 bits of milliseconds, "xxxxxxxx-xxxx". */
function timeHex(ms: number): string {
  const h = ms.toString(16).padStart(12, '0').slice(-12);
  return `${h.slice(0, 8)}-${h.slice(8)}`;
}
