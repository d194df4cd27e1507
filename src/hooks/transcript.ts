/**
 * Reading a Claude Code session transcript for what each API response used.
 *
 * A transcript is JSONL that Claude Code appends to (`transcript_path` in every hook event;
 * `agent_transcript_path` for a subagent's own file). An assistant response is written as one line
 * per content block, each carrying the response's `message.usage`, and lines are copied again
 * across resumes and branches. So a response is keyed, as ccusage keys it, on its message id and
 * request id, and counted once (store/usage.ts keeps the largest figures seen for a key: the
 * usage of a streamed response only grows). Lines that errors leave (model `<synthetic>`, or
 * `isApiErrorMessage`) cost nothing and are skipped.
 *
 * The file is read from a remembered offset, in fixed chunks: memory stays bounded whatever its
 * size, and a line longer than MAX_LINE (a huge tool result; never a usage line) is skipped
 * unparsed. A file that shrank or was replaced (another inode) is read again from the start; the
 * keys make that count nothing twice.
 */
import { fs } from '../builtins.ts';

export interface TranscriptCursor {
  offset: number;
  inode: number;
}

/** What one API response used, as its transcript line says. */
export interface UsageLine {
  key: string;
  session_id: string | null;
  agent_id: string | null;
  at: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_creation_tokens: number;
  cache_read_tokens: number;
  git_branch: string | null;
}

const CHUNK = 1 << 20;
const MAX_LINE = 16 << 20;

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The usage of one transcript line, or undefined when it has none that costs anything. */
export function usageOf(line: string, agentFromFile: string | null): UsageLine | undefined {
  // Most lines are prompts and tool results, some of them large: parse only what may hold usage.
  if (!line.includes('"usage"') || !line.includes('"assistant"')) return undefined;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined; // a line cut by a crash of Claude Code; the next read gets a whole one
  }
  const message = entry.message as Record<string, unknown> | undefined;
  const usage = message?.usage as Record<string, unknown> | undefined;
  const id = text(message?.id);
  const model = text(message?.model);
  if (entry.type !== 'assistant' || !usage || !id || !model || model === '<synthetic>' || entry.isApiErrorMessage === true) return undefined;
  const at = Date.parse(String(entry.timestamp));
  if (!Number.isFinite(at)) return undefined;
  return {
    key: `${id}:${text(entry.requestId) ?? ''}`,
    session_id: text(entry.sessionId),
    agent_id: text(entry.agentId) ?? (entry.isSidechain === true ? agentFromFile : null),
    at: new Date(at).toISOString(),
    model,
    input_tokens: count(usage.input_tokens),
    output_tokens: count(usage.output_tokens),
    cache_creation_tokens: count(usage.cache_creation_input_tokens),
    cache_read_tokens: count(usage.cache_read_input_tokens),
    git_branch: entry.gitBranch === 'HEAD' ? null : text(entry.gitBranch), // HEAD: detached, or no repository
  };
}

/** A subagent transcript is `…/subagents/agent-<id>.jsonl`: its agent id. */
export function agentOfFile(file: string): string | null {
  const m = /(?:^|[\\/])agent-([^\\/]+)\.jsonl$/.exec(file);
  return m ? m[1]! : null;
}

/**
 * Reads what was appended to a transcript since `from`, calling `onUsage` for each response line.
 * Returns the cursor to read from next time (at the end of the last whole line), or undefined when
 * the file is not there: a deleted transcript costs nothing already counted.
 */
export function readTranscript(file: string, from: TranscriptCursor | undefined, onUsage: (u: UsageLine) => void): TranscriptCursor | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    const restart = !from || from.inode !== st.ino || st.size < from.offset;
    let offset = restart ? 0 : from.offset;
    const agent = agentOfFile(file);
    const buf = Buffer.allocUnsafe(CHUNK);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let skipping = false;
    let consumed = offset; // the end of the last whole line
    while (offset < st.size) {
      const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, st.size - offset), offset);
      if (n <= 0) break;
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl !== -1 && nl < n; nl = buf.indexOf(10, start)) {
        if (!skipping) {
          const line = pendingBytes ? Buffer.concat([...pending, buf.subarray(start, nl)]).toString('utf8') : buf.toString('utf8', start, nl);
          const u = usageOf(line, agent);
          if (u) onUsage(u);
        }
        pending = [];
        pendingBytes = 0;
        skipping = false;
        start = nl + 1;
        consumed = offset + start;
      }
      if (start < n && !skipping) {
        pending.push(Buffer.from(buf.subarray(start, n)));
        pendingBytes += n - start;
        if (pendingBytes > MAX_LINE) {
          pending = [];
          pendingBytes = 0;
          skipping = true;
        }
      }
      offset += n;
    }
    // A last line without its newline may still be being written: it is read again next time.
    return { offset: consumed, inode: st.ino };
  } finally {
    fs.closeSync(fd);
  }
}
