/** Small text helpers shared by the panels. */
export { ago, byteChange, bytes } from '../text.ts';

const BARS = '▁▂▃▄▅▆▇█';

export function sparkline(values: readonly number[]): string {
  const max = Math.max(...values, 0);
  if (max === 0) return BARS[0]!.repeat(values.length);
  return values.map((v) => BARS[Math.min(BARS.length - 1, Math.floor((v / max) * (BARS.length - 1)))]).join('');
}

export function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return s % 60 === 0 ? `${s / 60}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.floor((s % 3600) / 60);
  return m === 0 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 3600)}h${String(m).padStart(2, '0')}m`;
}
