/**
 * What a hook event keeps locally. Events are kept whole (the summaries are computed from them),
 * but one event must not grow the local store without bound, nor be refused for its size: a Write
 * that replaces a large file carries the file twice and a patch of every line. So:
 *
 * - every string longer than hooks.max_field_chars is cut, noting its size in bytes;
 * - every array longer than MAX_ITEMS keeps its first MAX_ITEMS items and a note of how many more;
 * - NUL characters (binary output) and lone UTF-16 surrogates (half a character, also what a cut
 *   can leave) become U+FFFD;
 * - an event still over the record size cap loses whole fields, largest first, each replaced by a
 *   note of its size, keeping what summaries read (the event, tool, ids, cwd, and tool_input's
 *   file_path, notebook_path and command).
 */
const MAX_ITEMS = 100;
/** Top-level fields a summary or the task grouping reads: never dropped. */
const KEEP = new Set(['task_id', 'session_id', 'prompt_id', 'agent_id', 'agent_type', 'hook_event_name', 'event_name', 'tool_name', 'tool_use_id', 'cwd', 'timestamp', 'success', 'error']);
/** tool_input fields the summaries read. */
const KEEP_INPUT = ['file_path', 'notebook_path', 'command'];

function storable(s: string): string {
  const whole = s.isWellFormed() ? s : s.toWellFormed();
  return whole.includes('\0') ? whole.replaceAll('\0', '\uFFFD') : whole;
}

/**
 * Cuts long strings and long arrays however deep they sit. `size` bounds the JSON size of the
 * result from above (6 bytes per UTF-16 unit covers escapes such as \u0001), so that the usual
 * event needs no JSON.stringify here: recording is on the hook's path.
 */
export function truncateStrings(value: unknown, max: number): { value: unknown; cut: boolean; size: number } {
  if (typeof value === 'string') {
    if (value.length <= max) return { value: storable(value), cut: false, size: value.length * 6 + 2 };
    const out = `${storable(value.slice(0, max))}…[truncated: ${Buffer.byteLength(value)} bytes]`;
    return { value: out, cut: true, size: out.length * 6 + 2 };
  }
  if (Array.isArray(value)) {
    let cut = value.length > MAX_ITEMS;
    let size = 2;
    const out: unknown[] = value.slice(0, MAX_ITEMS).map((v) => {
      const r = truncateStrings(v, max);
      cut ||= r.cut;
      size += r.size + 1;
      return r.value;
    });
    if (value.length > MAX_ITEMS) {
      out.push(`…[${value.length - MAX_ITEMS} more items]`);
      size += 40;
    }
    return { value: out, cut, size };
  }
  if (value && typeof value === 'object') {
    let cut = false;
    let size = 2;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = truncateStrings(v, max);
      cut ||= r.cut;
      size += k.length * 6 + 4 + r.size;
      out[k] = r.value;
    }
    return { value: out, cut, size };
  }
  return { value, cut: false, size: 32 };
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? '');

/** The event as it is kept: see the module comment. `cut` says whether anything was cut. */
export function keepableEvent(data: Record<string, unknown>, maxChars: number, maxBytes: number): { value: Record<string, unknown>; cut: boolean } {
  const t = truncateStrings(data, maxChars);
  const value = t.value as Record<string, unknown>;
  let cut = t.cut;
  if (t.size <= maxBytes) return { value, cut }; // surely fits: no need to measure
  while (bytes(value) > maxBytes) {
    const input = value.tool_input;
    if (input && typeof input === 'object' && !Array.isArray(input) && Object.keys(input).some((k) => !KEEP_INPUT.includes(k) && k !== 'removed')) {
      const kept = Object.fromEntries(KEEP_INPUT.filter((k) => k in input).map((k) => [k, (input as Record<string, unknown>)[k]]));
      value.tool_input = { ...kept, removed: `…[removed: ${bytes(input) - bytes(kept)} bytes]` };
      cut = true;
      continue;
    }
    const biggest = Object.keys(value).filter((k) => !KEEP.has(k) && k !== 'tool_input').sort((a, b) => bytes(value[b]) - bytes(value[a]))[0];
    if (!biggest || bytes(value[biggest]) < 64) break; // nothing left worth removing: the size check decides
    value[biggest] = `…[removed: ${bytes(value[biggest])} bytes]`;
    cut = true;
  }
  return { value, cut };
}
