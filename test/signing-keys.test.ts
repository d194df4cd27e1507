/**
 * A Supabase project as it is created today, with real components: PostgREST 12 verifying ES256
 * tokens against a JWKS (what the project's JWT Keys page publishes), behind a gateway that takes
 * publishable and secret API keys. Keys made by `remote keys new`, tokens by `remote token --key`,
 * rotation, identities from app_metadata, an expired token that waits instead of failing, and keys
 * that must not be a machine's credential.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { importJWK, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon } from '../src/daemon/daemon.ts';
import { runCli } from './helpers/cli.ts';
import { makeEnv } from './helpers/env.ts';
import { pgUrl } from './helpers/pg.ts';
import { startPostgrest, type GatewayKeys, type PostgrestServer } from './helpers/postgrest.ts';
import { scaled, until } from './helpers/wait.ts';
import { pgTest, type TestDatabase } from './helpers/fixtures.ts';

type Jwk = Record<string, unknown> & { kid: string; d: string };

let dir: ReturnType<typeof makeEnv>;
let keyA: { file: string; jwk: Jwk };
let keyB: { file: string; jwk: Jwk };
let keys: GatewayKeys;
let both: PostgrestServer;
const servers: PostgrestServer[] = [];

const publicOf = ({ d: _d, ...k }: Jwk) => ({ ...k, key_ops: ['verify'] });
const jwks = (...ks: Jwk[]) => JSON.stringify({ keys: ks.map(publicOf) });

/** What Supabase Auth would sign: any claims, with the key's kid. */
async function sign(jwk: Jwk, claims: Record<string, unknown>, expSeconds = 3600): Promise<string> {
  const { d, x, y, crv, kty } = jwk;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'JWT' }).setIssuedAt(now - 120).setExpirationTime(now + expSeconds).sign(await importJWK({ d, x, y, crv, kty } as never, 'ES256'));
}

async function newKey(name: string): Promise<{ file: string; jwk: Jwk }> {
  const file = path.join(dir.dir, name);
  const r = await runCli(['remote', 'keys', 'new', '--out', file], { env: dir.env });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/JWT Keys/);
  return { file, jwk: JSON.parse(readFileSync(file, 'utf8')) as Jwk };
}

async function token(key: string, systemId: string, expires = '1h'): Promise<string> {
  const r = await runCli(['remote', 'token', '--key', key, '--system-id', systemId, '--expires', expires], { env: dir.env });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

async function serve(db: TestDatabase, ...trusted: Jwk[]): Promise<PostgrestServer> {
  const s = await startPostgrest(db, { jwtSecret: jwks(...trusted), keys });
  servers.push(s);
  return s;
}

/** A machine on `rest` with this token: its config and environment. */
function machine(rest: PostgrestServer, systemId: string, env: Record<string, string>, config: Record<string, unknown> = {}) {
  const m = makeEnv({ system: { id: systemId }, remote: { kind: 'supabase', ...config } }, { SUPABASE_URL: rest.url, SUPABASE_PUBLISHABLE_KEY: keys.publishable, ...env });
  return m;
}

async function syncOne(m: ReturnType<typeof makeEnv>, id: string) {
  expect((await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', id, '--data', '{"title":"t"}'], { env: m.env })).code).toBe(0);
  return runCli(['sync', 'now'], { env: m.env });
}

const rows = async (db: TestDatabase, sys: string) => Number((await db.query<{ n: string }>('select count(*) n from tasks where system_id = $1', [sys]))[0]!.n);

pgTest.beforeAll(async ({ db }) => {
  dir = makeEnv();
  keyA = await newKey('a.json');
  keyB = await newKey('b.json');
  keys = {
    publishable: 'sb_publishable_test_0123456789abcdef',
    secret: 'sb_secret_test_0123456789abcdefghijkl',
    anonJwt: await sign(keyA.jwk, { role: 'anon' }, 86_400),
    serviceJwt: await sign(keyA.jwk, { role: 'service_role' }, 86_400),
  };
  both = await serve(db, keyA.jwk, keyB.jwk);
});
afterAll(async () => {
  for (const s of servers) await s.close();
  dir?.cleanup();
});

describe('asymmetric signing keys', () => {
  it('writes the key 0600 in the shape Supabase imports, and signs ES256 with its kid', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(keyA.file).mode & 0o777).toBe(0o600);
    expect(keyA.jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', key_ops: ['sign', 'verify'] });
    for (const k of ['kid', 'd', 'x', 'y']) expect(typeof keyA.jwk[k]).toBe('string');
    const t = await token(keyA.file, 'shape-1', '30d');
    const [header, claims] = t.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header).toMatchObject({ alg: 'ES256', kid: keyA.jwk.kid });
    expect(claims).toMatchObject({ role: 'authenticated', aud: 'authenticated', sub: 'ccm-sync:shape-1', system_id: 'shape-1' });
    expect(claims.exp - claims.iat).toBe(30 * 86_400);
    // A key file as the Supabase CLI's `gen signing-key` prints it, or a set of keys, signs too.
    writeFileSync(path.join(dir.dir, 'set.json'), JSON.stringify({ keys: [keyA.jwk, keyB.jwk] }));
    const many = await runCli(['remote', 'token', '--key', path.join(dir.dir, 'set.json'), '--system-id', 'x'], { env: dir.env });
    expect(many.code).toBe(2);
    expect(many.stderr).toMatch(/holds 2 private keys; choose one with --kid/);
    const one = await runCli(['remote', 'token', '--key', path.join(dir.dir, 'set.json'), '--kid', keyB.jwk.kid, '--system-id', 'x'], { env: dir.env });
    expect(one.code).toBe(0);
    expect(JSON.parse(Buffer.from(one.stdout.split('.')[0]!, 'base64url').toString()).kid).toBe(keyB.jwk.kid);
    const pub = path.join(dir.dir, 'pub.json');
    writeFileSync(pub, jwks(keyA.jwk));
    expect((await runCli(['remote', 'token', '--key', pub, '--system-id', 'x'], { env: dir.env })).stderr).toMatch(/a public key cannot sign/);
  });

  pgTest('syncs with tokens of either trusted key, and refuses one whose key was taken out, with what to check', async ({ db }) => {
    for (const [k, sys] of [[keyA, 'rot-a'], [keyB, 'rot-b']] as const) {
      const m = machine(both, sys, { CCM_SYNC_ACCESS_TOKEN: await token(k.file, sys) });
      try {
        const r = await syncOne(m, `${sys}-1`);
        expect(r.code, r.stderr).toBe(0);
        expect(await rows(db, sys)).toBe(1);
      } finally {
        m.cleanup();
      }
    }
    // Rotated: the project now trusts B only. A's token is refused, and nothing is dead-lettered.
    const onlyB = await serve(db, keyB.jwk);
    const m = machine(onlyB, 'rot-a', { CCM_SYNC_ACCESS_TOKEN: await token(keyA.file, 'rot-a') });
    try {
      const r = await syncOne(m, 'rot-a-2');
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toMatch(/refused this machine's token \(HTTP 401/);
      expect(r.stdout + r.stderr).toMatch(/JWT Keys page/);
      const status = JSON.parse((await runCli(['sync', 'status', '--json'], { env: m.env })).stdout);
      expect(status).toMatchObject({ failed: 0, pending: { total: 1 } });
      expect(await rows(db, 'rot-a')).toBe(1);
    } finally {
      m.cleanup();
    }
  });

  pgTest('takes the system id from app_metadata, never from user_metadata', async ({ db }) => {
    const appMeta = machine(both, 'app-1', { CCM_SYNC_ACCESS_TOKEN: await sign(keyA.jwk, { role: 'authenticated', aud: 'authenticated', sub: 'user-1', app_metadata: { system_id: 'app-1' } }) });
    const userMeta = machine(both, 'usr-1', { CCM_SYNC_ACCESS_TOKEN: await sign(keyA.jwk, { role: 'authenticated', aud: 'authenticated', sub: 'user-2', user_metadata: { system_id: 'usr-1' } }) });
    try {
      expect((await syncOne(appMeta, 'app-1-1')).code).toBe(0);
      expect(await rows(db, 'app-1')).toBe(1);
      const r = await syncOne(userMeta, 'usr-1-1');
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toMatch(/system_id claim/);
      expect(await rows(db, 'usr-1')).toBe(0);
    } finally {
      appMeta.cleanup();
      userMeta.cleanup();
    }
  });
});

describe('a token that expires', () => {
  pgTest('waits online, alerts, dead-letters nothing, and syncs once a fresh token is in the token file', async ({ db }) => {
    const tokenFile = 'machine.token';
    const m = machine(both, 'exp-1', {}, { access_token_file: tokenFile });
    const settingsFile = path.join(path.dirname(m.configPath), tokenFile);
    writeFileSync(settingsFile, await sign(keyA.jwk, { role: 'authenticated', system_id: 'exp-1' }, -60), { mode: 0o600 });
    const { stringify, parse } = await import('yaml');
    const cfg = parse(readFileSync(m.configPath, 'utf8'));
    writeFileSync(m.configPath, stringify({ ...cfg, offline: { probe_initial_ms: 200, probe_max_ms: 500 } }));
    const { loadSettings } = await import('../src/config/load.ts');
    const daemon = await startDaemon(loadSettings({ configPath: m.configPath, env: m.env }), { alertIntervalMs: 3_600_000 });
    try {
      daemon.local.recorder.record(Array.from({ length: 20 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `exp-${i}`, record_data: { title: 'waits' } })));
      const first = await daemon.syncNow('manual');
      expect(first.status).toBe('failed');
      expect(first.error).toMatch(/it has expired/);
      const status = JSON.parse((await runCli(['sync', 'status', '--json'], { env: m.env })).stdout);
      expect(status.connection.state).toBe('online');
      expect(status.credential_refused.reason).toMatch(/expired/);
      expect(status.failed).toBe(0);
      expect(Date.parse(status.token.expires_at)).toBeLessThan(Date.now());
      expect(status.alerts.map((a: { rule: string }) => a.rule)).toEqual(expect.arrayContaining(['token_expired', 'credential_refused']));
      expect((await runCli(['sync', 'status'], { env: m.env })).stdout).toMatch(/^Token: from remote\.access_token_file .*expired/m);
      // A fresh token arrives in the file (a refresh script would put it there): everything syncs.
      writeFileSync(settingsFile, await token(keyA.file, 'exp-1', '10d'));
      await until(async () => (await rows(db, 'exp-1')) === 20, 'the waiting operations to sync with the fresh token', scaled(20_000));
      await until(() => daemon.local.state.get('credential_refused') === undefined, 'the credential to be accepted');
      const after = JSON.parse((await runCli(['sync', 'status', '--json'], { env: m.env })).stdout);
      expect(after.alerts.map((a: { rule: string }) => a.rule)).toContain('token_expiring');
      expect(after.failed).toBe(0);
    } finally {
      await daemon.stop();
      m.cleanup();
    }
  });
});

describe('a token from a command', () => {
  it('runs the command once, and again only when the token nears expiry or is refused', async () => {
    const { AccessToken } = await import('../src/remote/credentials.ts');
    const file = path.join(dir.dir, 'cmd.token');
    const runs = path.join(dir.dir, 'cmd.runs');
    const t = new AccessToken({ command: `echo run >> ${runs}; cat ${file}` });
    const first = await token(keyA.file, 'cmd-1', '1h');
    writeFileSync(file, first);
    expect(await t.current()).toBe(first);
    const second = await token(keyA.file, 'cmd-1', '1h');
    writeFileSync(file, second);
    expect(await t.current()).toBe(first); // still valid: not run again
    t.refused();
    expect(await t.current()).toBe(second);
    const short = await sign(keyA.jwk, { role: 'authenticated', system_id: 'cmd-1' }, 60); // a minute left
    writeFileSync(file, short);
    t.refused();
    expect(await t.current()).toBe(short);
    writeFileSync(file, first);
    expect(await t.current()).toBe(first); // the current one nears expiry: run again
    expect(readFileSync(runs, 'utf8').trim().split('\n')).toHaveLength(4);
    const failing = new AccessToken({ command: 'exit 3' });
    await expect(failing.current()).rejects.toThrow(/remote\.access_token_command failed .*print a token on stdout and exit 0/);
  });
});

describe('keys that do not belong on a machine', () => {
  it('refuses a secret key as the sync credential, names legacy keys, and reads the fleet only with the secret key', async () => {
    const t = await token(keyA.file, 'keys-1');
    const secret = machine(both, 'keys-1', { SUPABASE_PUBLISHABLE_KEY: keys.secret, CCM_SYNC_ACCESS_TOKEN: t });
    const legacy = makeEnv({ system: { id: 'keys-2' }, remote: { kind: 'supabase' } }, { SUPABASE_URL: both.url, SUPABASE_ANON_KEY: keys.publishable, CCM_SYNC_ACCESS_TOKEN: await token(keyA.file, 'keys-2') });
    try {
      const r = await syncOne(secret, 'keys-1-1');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/SUPABASE_PUBLISHABLE_KEY holds a secret or service_role key, which bypasses row-level security/);
      expect(r.stderr).not.toContain(keys.secret);
      const l = await syncOne(legacy, 'keys-2-1');
      expect(l.code, l.stderr).toBe(0);
      expect(l.stderr).toMatch(/^ccm-sync: notice: SUPABASE_ANON_KEY is a legacy Supabase key.*SUPABASE_PUBLISHABLE_KEY/m);

      const fleet = (env: Record<string, string>) => runCli(['fleet', '--json'], { env: { ...secret.env, ...env } });
      const ok = await fleet({ SUPABASE_SECRET_KEY: keys.secret });
      expect(ok.code, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout).systems.map((s: { system_id: string }) => s.system_id)).toContain('keys-2');
      const wrongKind = await fleet({ SUPABASE_SECRET_KEY: keys.publishable });
      expect(wrongKind.code).toBe(2);
      expect(wrongKind.stderr).toMatch(/SUPABASE_SECRET_KEY holds a key that may read only its own rows/);
      const wrong = await fleet({ SUPABASE_SECRET_KEY: 'sb_secret_not_this_project_000000' });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/the project refused SUPABASE_SECRET_KEY \(HTTP 401/);
      expect(wrong.stderr).not.toMatch(/SUPABASE_ANON_KEY|CCM_SYNC_ACCESS_TOKEN|sb_secret_not/);
    } finally {
      secret.cleanup();
      legacy.cleanup();
    }
  });

  pgTest('says so when a postgres user may read only its own rows, instead of showing an empty fleet', async ({ db }) => {
    await db.query("do $$ begin create role ccm_only_sync login; exception when duplicate_object then null; end $$; grant authenticated to ccm_only_sync");
    const m = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: pgUrl(db.name).replace('//postgres@', '//ccm_only_sync@') });
    try {
      const r = await runCli(['fleet'], { env: m.env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/the database user ccm_only_sync may not read other systems' rows/);
      // It still syncs its own rows: the sync path needs no more than authenticated.
      expect((await syncOne(m, 'own-1')).code).toBe(0);
    } finally {
      m.cleanup();
    }
  });
});
