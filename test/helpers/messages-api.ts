/**
 * A scripted Anthropic Messages API on loopback, for a real Claude Code (`ANTHROPIC_BASE_URL`).
 *
 * It answers POST /v1/messages as the API does, streamed (message_start, content_block_start /
 * delta / stop, message_delta, message_stop) or not, with a `request-id` header. What it answers
 * comes from a script: each conversation is found by a marker in its latest prompt (the main
 * prompt, a resumed second prompt, a subagent's task), and each step of it by how many assistant
 * turns follow that prompt in the request. Every answer carries fixed usage figures, and the
 * server remembers what it sent, so a test knows exactly what the transcript's tokens sum to.
 * Requests that offer no tools (titles, summaries) get a short text answer.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Block = { type: 'text'; text: string } | { type: 'tool_use'; name: string; input: Record<string, unknown> };

export interface Step {
  blocks: Block[];
  usage: { input_tokens: number; output_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number };
}

/** A conversation's steps, keyed by a marker its prompt contains. */
export type Script = Record<string, Step[]>;

export interface Sent {
  /** The conversation answered from the script, or null: an unscripted request (a title, a notice) answered "Done." with no usage. */
  marker: string | null;
  step: number;
  message_id: string;
  request_id: string;
  model: string;
  usage: Step['usage'];
}

export interface MessagesApi {
  url: string;
  /** Every answer given, in order. */
  sent: Sent[];
  close(): Promise<void>;
}

type Msg = { role: string; content: string | { type: string; text?: string }[] };

const textOf = (m: Msg) => (typeof m.content === 'string' ? m.content : m.content.map((b) => (b.type === 'text' ? (b.text ?? '') : '')).join('\n'));

/** The conversation a request continues, and its step: assistant turns since the prompt that named it. */
function place(messages: Msg[], markers: string[]): { marker: string | null; step: number } {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== 'user') continue;
    const marker = markers.find((k) => textOf(m).includes(k));
    if (marker) return { marker, step: messages.slice(i + 1).filter((x) => x.role === 'assistant').length };
  }
  return { marker: null, step: 0 };
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
}

const NO_USAGE = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

export async function startMessagesApi(script: Script): Promise<MessagesApi> {
  const sent: Sent[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not scripted' } }));
        return;
      }
      const r = await body(req);
      if (req.url.startsWith('/v1/messages/count_tokens')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ input_tokens: 100 }));
        return;
      }
      const model = String(r.model);
      const hasTools = Array.isArray(r.tools) && r.tools.length > 0;
      const where = hasTools ? place((r.messages ?? []) as Msg[], Object.keys(script)) : { marker: null, step: 0 };
      const scripted = where.marker ? script[where.marker]![where.step] : undefined;
      const step: Step = scripted ?? { blocks: [{ type: 'text', text: 'Done.' }], usage: NO_USAGE };
      n += 1;
      const id = `msg_scripted_${String(n).padStart(4, '0')}`;
      const requestId = `req_scripted_${String(n).padStart(4, '0')}`;
      sent.push({ marker: scripted ? where.marker : null, step: where.step, message_id: id, request_id: requestId, model, usage: step.usage });
      type Out = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };
      const content: Out[] = step.blocks.map((b, i) => (b.type === 'text' ? b : { type: 'tool_use' as const, id: `toolu_scripted_${n}_${i}`, name: b.name, input: b.input }));
      const stop = content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
      const headers = { 'request-id': requestId, 'anthropic-organization-id': 'org-test' };
      if (!r.stream) {
        res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify({
          id, type: 'message', role: 'assistant', model, content, stop_reason: stop, stop_sequence: null, usage: step.usage,
        }));
        return;
      }
      res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const event = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      event('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...step.usage, output_tokens: 1 } } });
      content.forEach((b, index) => {
        if (b.type === 'text') {
          event('content_block_start', { index, content_block: { type: 'text', text: '' } });
          event('content_block_delta', { index, delta: { type: 'text_delta', text: b.text } });
        } else {
          event('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
          event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) } });
        }
        event('content_block_stop', { index });
      });
      event('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: step.usage.output_tokens } });
      event('message_stop', {});
      res.end();
    })().catch((err: unknown) => {
      if (process.env.CCM_TEST_DEBUG_API) console.error(err);
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(err) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sent,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
