/**
 * What a machine presents to a Supabase project, and what it must never present.
 *
 * - The `apikey` is the project's publishable key (sb_publishable_…), or the legacy anon key. A
 *   secret key (sb_secret_…) or the legacy service_role key bypasses row-level security: it is
 *   refused as a machine's sync credential, and belongs only where `ccm-sync fleet` runs.
 * - The access token is this machine's JWT (`ccm-sync remote token`), from CCM_SYNC_ACCESS_TOKEN,
 *   from a file read again whenever it changes (remote.access_token_file), or from a command run
 *   for a fresh one when the current token is near expiry or was refused
 *   (remote.access_token_command, as kubectl's exec credentials or Claude Code's apiKeyHelper).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { ConfigError, RemoteRejectedError, messageOf } from '../errors.ts';
import { registerSecret } from '../redact.ts';
import type { Settings } from '../config/load.ts';

/**
 * A token's claims, unverified, or undefined when it is not a JWT. Read here, not with jose, so
 * that `sync status` and the alert check load no JWT library; nothing is trusted on these claims.
 */
export function claimsOf(token: string | undefined): Record<string, unknown> | undefined {
  const payload = token?.split('.')[1];
  if (!payload || token!.split('.').length !== 3) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** When a token expires (ISO), if it says. */
export function expiryOf(token: string | undefined): string | undefined {
  const exp = claimsOf(token)?.exp;
  return typeof exp === 'number' ? new Date(exp * 1000).toISOString() : undefined;
}

function bypassesRls(value: string): boolean {
  return value.startsWith('sb_secret_') || claimsOf(value)?.role === 'service_role';
}

/** Refuses a key or token that bypasses row-level security as a machine's sync credential. */
export function refuseAdminCredential(key: string | undefined, keyVar: string | undefined, token: string | undefined, tokenFrom: string): void {
  if (key && bypassesRls(key)) {
    throw new ConfigError(`${keyVar} holds a secret or service_role key, which bypasses row-level security: a fleet machine must not carry it. Set SUPABASE_PUBLISHABLE_KEY to the project's publishable key (sb_publishable_…, Project Settings → API Keys), and keep the secret key for \`ccm-sync fleet\` on an operator's machine`);
  }
  if (token && bypassesRls(token)) {
    throw new ConfigError(`the access token (${tokenFrom}) is a secret or service_role credential, which bypasses row-level security; mint this machine's own token with \`ccm-sync remote token\``);
  }
}

const shown = new Set<string>();

/** Each legacy-key notice once per process, on stderr (the daemon logs them at start instead). */
export function noticeOnce(notices: readonly string[]): void {
  if (!isMainThread) return;
  for (const n of notices) {
    if (shown.has(n)) continue;
    shown.add(n);
    process.stderr.write(`ccm-sync: notice: ${n}\n`);
  }
}

export type TokenSource = 'env' | 'file' | 'command';

export interface TokenOptions {
  value?: string;
  file?: string;
  command?: string;
  /** A command's token is renewed when it has less than this left (ms). */
  renewBeforeMs?: number;
  now?: () => number;
}

/** Where this machine's token comes from, as the settings say: file, command, or the environment. */
export function tokenOptions(s: Pick<Settings, 'remote' | 'secrets' | 'paths'>): TokenOptions {
  const file = s.remote.access_token_file;
  return {
    value: s.secrets.accessToken,
    file: file ? path.resolve(s.paths.home, file) : undefined,
    command: s.remote.access_token_command,
  };
}

export function describeSource(o: TokenOptions): string {
  if (o.command) return `remote.access_token_command (${o.command.split(/\s+/)[0]})`;
  if (o.file) return `remote.access_token_file (${o.file})`;
  return 'CCM_SYNC_ACCESS_TOKEN';
}

function runCommand(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { timeout: 30_000, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) reject(new RemoteRejectedError(`remote.access_token_command failed (${messageOf(err).split('\n')[0]}); it must print a token on stdout and exit 0`));
      else resolve(stdout.trim());
    });
  });
}

/** This machine's token, kept current from its source. */
export class AccessToken {
  private readonly o: TokenOptions;
  private value?: string;
  private fileStamp = '';
  private stale = false;

  constructor(o: TokenOptions) {
    this.o = o;
    this.value = o.value;
  }

  get source(): TokenSource {
    return this.o.command ? 'command' : this.o.file ? 'file' : 'env';
  }

  get expiresAt(): string | undefined {
    return expiryOf(this.value);
  }

  /** The remote refused the token: the next call reads the file again or runs the command. */
  refused(): void {
    this.stale = true;
  }

  async current(): Promise<string> {
    if (this.o.command) {
      const left = (Date.parse(this.expiresAt ?? '') || Infinity) - (this.o.now ?? Date.now)();
      if (!this.value || this.stale || left < (this.o.renewBeforeMs ?? 120_000)) this.value = await runCommand(this.o.command);
    } else if (this.o.file) {
      this.readFile();
    }
    this.stale = false;
    if (!this.value) throw new ConfigError(`no access token: ${describeSource(this.o)} gave none; mint one with \`ccm-sync remote token\``);
    registerSecret(this.value);
    return this.value;
  }

  private readFile(): void {
    const file = this.o.file!;
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (err) {
      throw new ConfigError(`cannot read remote.access_token_file ${file}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`);
    }
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    if (stamp === this.fileStamp && !this.stale) return;
    this.value = fs.readFileSync(file, 'utf8').trim() || undefined;
    this.fileStamp = stamp;
  }
}

/** The token's source and expiry, for status and alerts (a command is not run for it). */
export function tokenFacts(s: Settings): { source: string; expires_at: string | null } | null {
  if (s.remote.kind !== 'supabase') return null;
  const o = tokenOptions(s);
  let token = o.command ? undefined : o.value;
  if (!o.command && o.file) {
    try {
      token = fs.readFileSync(o.file, 'utf8').trim();
    } catch {
      token = undefined;
    }
  }
  return { source: describeSource(o), expires_at: expiryOf(token) ?? null };
}
