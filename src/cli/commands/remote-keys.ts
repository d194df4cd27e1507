/**
 * `ccm-sync remote keys new` and `remote token`: a machine's identity on a Supabase project.
 *
 * A project created today signs with an asymmetric key. `keys new` makes an ES256 key in the shape
 * the project imports (and that `supabase gen signing-key --algorithm ES256` prints): an EC JWK
 * with kid, use, key_ops, alg, d, crv, x and y. `token --key` signs with it, naming its kid; the
 * project verifies against its published keys, so tokens of a previous key keep working while the
 * project still trusts that key. HS256 with the legacy JWT secret stays for older projects.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, InputError } from '../../errors.ts';
import { loadSettings } from '../../config/load.ts';
import { createFileDurably } from '../../store/durable-file.ts';
import type { GlobalOptions } from '../output.ts';

const SPAN = /^0*[1-9]\d*\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks|y|yr|yrs|year|years)$/i;

type Jwk = Record<string, unknown> & { kid?: string; d?: string; kty?: string; crv?: string };

/** The public half of a JWK: what a project publishes and a verifier needs. */
function publicJwk(k: Jwk): Jwk {
  const { d: _d, ...rest } = k;
  return { ...rest, key_ops: ['verify'] };
}

export async function keysNewCommand(opts: GlobalOptions & { out: string }): Promise<void> {
  const { exportJWK, generateKeyPair } = await import('jose');
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { kty: 'EC', kid: randomUUID(), use: 'sig', key_ops: ['sign', 'verify'], alg: 'ES256', ext: true, ...(await exportJWK(privateKey)) };
  const file = path.resolve(opts.out);
  try {
    createFileDurably(file, `${JSON.stringify(jwk, null, 2)}\n`, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new InputError(`${file} exists; ccm-sync never overwrites a signing key: choose another --out, or remove it yourself`);
    throw err;
  }
  const jwks = { keys: [publicJwk(jwk)] };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ file, kid: jwk.kid, jwks })}\n`);
    return;
  }
  process.stdout.write([
    `Wrote the private signing key (ES256, kid ${jwk.kid}) to ${file}, readable by you only.`,
    'Keep it where you mint tokens, never on the fleet\'s machines. To have the project trust it:',
    '  1. Supabase Dashboard → Project Settings → JWT Keys → JWT Signing Keys.',
    `  2. "Create standby key" → "Import an existing private key", and paste the contents of ${path.basename(file)}.`,
    '  3. Wait about 20 minutes (the published keys are cached), then "Rotate keys": the imported key becomes',
    '     the current key, and the previous one stays trusted as "previously used" until you revoke it.',
    `  4. Mint each machine's token: ccm-sync remote token --key ${file} --system-id <id> --expires 90d`,
    'The public key set (for a verifier of your own, or PostgREST\'s jwt-secret):',
    JSON.stringify(jwks),
    '',
  ].join('\n'));
}

/** The private key in a key file: one JWK, an array of them, or a {keys: [...]} set. */
export function signingKeyOf(text: string, file: string, kid?: string): Jwk {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InputError(`${file} is not JSON; it must hold a private JWK (from \`ccm-sync remote keys new\` or \`supabase gen signing-key --algorithm ES256\`)`);
  }
  const all = (Array.isArray(parsed) ? parsed : Array.isArray((parsed as { keys?: unknown })?.keys) ? (parsed as { keys: unknown[] }).keys : [parsed]) as Jwk[];
  const usable = all.filter((k) => k && typeof k === 'object' && k.kty === 'EC' && k.crv === 'P-256' && typeof k.d === 'string' && (!kid || k.kid === kid));
  if (usable.length === 0) throw new InputError(`${file} holds no private ES256 key${kid ? ` with kid ${kid}` : ''} (an EC P-256 JWK with d); a public key cannot sign`);
  if (usable.length > 1) throw new InputError(`${file} holds ${usable.length} private keys; choose one with --kid (${usable.map((k) => k.kid).join(', ')})`);
  const key = usable[0]!;
  if (!key.kid) throw new InputError(`the key in ${file} has no kid; the project finds its key by the token's kid, so add the kid the JWT Keys page shows for it`);
  return key;
}

export interface TokenOptions extends GlobalOptions {
  systemId?: string;
  secretEnv: string;
  expires: string;
  key?: string;
  kid?: string;
}

async function signingKey(opts: TokenOptions): Promise<{ alg: 'ES256' | 'HS256'; kid?: string; key: Awaited<ReturnType<typeof import('jose').importJWK>> }> {
  const { importJWK } = await import('jose');
  if (opts.key) {
    let text: string;
    try {
      text = fs.readFileSync(opts.key, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read --key ${opts.key}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const jwk = signingKeyOf(text, opts.key, opts.kid);
    const { ext: _ext, key_ops: _ops, use: _use, ...material } = jwk;
    return { alg: 'ES256', kid: jwk.kid, key: await importJWK(material, 'ES256') };
  }
  const secret = process.env[opts.secretEnv];
  if (!secret || secret.length < 32) {
    throw new ConfigError(`sign with the project's signing key (--key FILE, see \`ccm-sync remote keys new\`), or, on a project that still uses the legacy JWT secret, put it in ${opts.secretEnv} (32+ characters; Project Settings → JWT Keys → Legacy JWT Secret)`);
  }
  return { alg: 'HS256', key: new TextEncoder().encode(secret) };
}

export async function tokenCommand(opts: TokenOptions): Promise<void> {
  if (!SPAN.test(opts.expires.trim())) throw new InputError(`--expires must be a span like 30d, 12h or 1y (a number above 0 and s, m, h, d, w or y), got ${JSON.stringify(opts.expires)}`);
  const { SYSTEM_ID } = await import('../../config/schema.ts');
  if (opts.systemId !== undefined && !SYSTEM_ID.test(opts.systemId)) {
    throw new InputError(`--system-id must be 1–128 letters, digits and . _ : - (got ${JSON.stringify(opts.systemId)})`);
  }
  const signer = await signingKey(opts);
  const systemId = opts.systemId ?? loadSettings({ configPath: opts.config }).system.id;
  const { SignJWT, decodeJwt } = await import('jose');
  const token = await new SignJWT({ role: 'authenticated', system_id: systemId })
    .setProtectedHeader({ alg: signer.alg, typ: 'JWT', ...(signer.kid ? { kid: signer.kid } : {}) })
    .setAudience('authenticated')
    .setIssuedAt()
    .setSubject(`ccm-sync:${systemId}`)
    .setExpirationTime(opts.expires.trim())
    .sign(signer.key);
  const exp = new Date((decodeJwt(token).exp ?? 0) * 1000).toISOString();
  // The token itself is the output: it is printed raw, on purpose, and never logged.
  process.stdout.write(opts.json ? `${JSON.stringify({ system_id: systemId, alg: signer.alg, kid: signer.kid ?? null, expires_at: exp, token })}\n` : `${token}\n`);
}
