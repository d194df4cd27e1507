/** How times and sizes read, for the CLI and the dashboard alike. */
export function ago(iso: string | null | undefined, nowMs = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.round((nowMs - Date.parse(iso)) / 1000);
  const abs = Math.abs(s);
  const text = abs < 60 ? `${abs} second${abs === 1 ? '' : 's'}` : abs < 3600 ? `${Math.round(abs / 60)} minute${Math.round(abs / 60) === 1 ? '' : 's'}` : abs < 172_800 ? `${(abs / 3600).toFixed(1)} hours` : `${Math.round(abs / 86_400)} days`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

export function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1_048_576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1_048_576).toFixed(1)} MiB`;
}

/**
 * What packaging did to the bytes: "98.2% fewer bytes", or for a few small operations, where the
 * batch envelope outweighs what aggregation saves, "12.0% more bytes: the batch envelope".
 */
export function byteChange(bytesIn: number, bytesOut: number, digits = 1): string {
  if (bytesIn <= 0) return `${(0).toFixed(digits)}% fewer bytes`;
  const saved = 100 * (1 - bytesOut / bytesIn);
  return saved >= 0 ? `${saved.toFixed(digits)}% fewer bytes` : `${(-saved).toFixed(digits)}% more bytes: the batch envelope`;
}

/** Text another system or machine wrote, safe to print: no control characters (terminal escapes), capped; null when none is left. */
export function printable(v: unknown, max = 64): string | null {
  if (typeof v !== 'string') return null;
  const clean = [...v].filter((c) => c.charCodeAt(0) >= 0x20 && (c.charCodeAt(0) < 0x7f || c.charCodeAt(0) > 0x9f)).join('').slice(0, max);
  return clean === '' ? null : clean;
}
