/**
 * A power cut you can script: LazyFS (../shared/tools/lazyfs, built by .ci/run) mounted over a
 * fresh backing folder. Everything written under `mnt` stays in LazyFS's cache until it is
 * fsynced; `cut()` throws the unsynced data away, as a power cut would, and `unmount()` leaves in
 * `root` what the machine would find after the reboot (an unmount drops unsynced data too).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scaled } from './wait.ts';

const BINARY = process.env.CCM_TEST_LAZYFS ?? '/tmp/lazyfs/lazyfs/build/lazyfs';

/** Why the power-cut tests cannot run here, or undefined when they can. */
export function lazyfsMissing(): string | undefined {
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse on this machine';
  if (process.getuid?.() !== 0) return 'mounting LazyFS needs root';
  if (!existsSync(BINARY)) return `no LazyFS binary at ${BINARY} (build it with ../shared/tools/lazyfs/build.sh /tmp/lazyfs, as .ci/run does)`;
  return undefined;
}

export interface LazyFs {
  /** Where the program under test works. */
  mnt: string;
  /** The backing folder: what survives. */
  root: string;
  /** Drops every write not yet fsynced. */
  cut(): Promise<void>;
  /** Unmounts (once the writers are dead); `root` then holds what a reboot would find. */
  unmount(): Promise<void>;
  /** Unmounts if still mounted and removes both folders. */
  destroy(): Promise<void>;
}

function mounted(mnt: string): boolean {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mnt);
}

interface Mounted {
  child: ChildProcess;
  exited: Promise<void>;
}

/** One attempt at mounting; undefined when LazyFS did not mount in time (it is then stopped). */
async function tryMount(mnt: string, root: string, conf: string, waitMs: number): Promise<Mounted | { failed: string }> {
  let output = '';
  const child: ChildProcess = spawn(BINARY, [mnt, '-f', '--config-path', conf, '-o', 'allow_other', '-o', 'modules=subdir', '-o', `subdir=${root}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const end = Date.now() + waitMs;
  while (Date.now() < end) {
    if (mounted(mnt)) return { child, exited };
    if (child.exitCode !== null) return { failed: `lazyfs exited with ${child.exitCode}: ${output}` };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  await exited;
  if (mounted(mnt)) execFileSync('fusermount3', ['-uz', mnt]);
  return { failed: `lazyfs did not mount within ${waitMs} ms: ${output.slice(-600)}` };
}

/**
 * A folder for one mount. LazyFS takes `--config-path P` only when P does not contain "-o" in any
 * case (main.cpp: `strcasestr(argv[i + 1], "-o")`, meant to spot a missing path before `-o`);
 * otherwise it silently reads config/default.toml and dies. A mkdtemp name like "ccm-lazyfs-Ob3x"
 * did exactly that now and then, so the name has no hyphen, and a TMPDIR with "-o" in it is avoided.
 */
function mountBase(): string {
  const parent = /-o/i.test(tmpdir()) ? '/tmp' : tmpdir();
  return mkdtempSync(path.join(parent, 'ccmlazyfs'));
}

export async function mountLazyFs(): Promise<LazyFs> {
  const base = mountBase();
  const [root, mnt, fifo, conf] = ['root', 'mnt', 'faults.fifo', 'lazyfs.toml'].map((n) => path.join(base, n)) as [string, string, string, string];
  execFileSync('mkdir', ['-p', root, mnt]);
  execFileSync('mkfifo', [fifo]);
  writeFileSync(conf, [
    '[faults]', `fifo_path="${fifo}"`,
    '[cache]', 'apply_eviction=false',
    '[cache.simple]', 'custom_size="256mb"', 'blocks_per_page=1',
    '[filesystem]', 'log_all_operations=false', 'logfile=""', '',
  ].join('\n'));
  // On a busy machine LazyFS has been seen not to mount at all now and then: try again, afresh.
  const failures: string[] = [];
  let m: Mounted | undefined;
  for (let attempt = 0; attempt < 3 && !m; attempt++) {
    const r = await tryMount(mnt, root, conf, scaled(6_000));
    if ('failed' in r) failures.push(r.failed);
    else m = r;
  }
  if (!m) {
    rmSync(base, { recursive: true, force: true });
    throw new Error(`LazyFS did not mount after 3 attempts:\n${failures.join('\n')}`);
  }
  const { child, exited } = m;
  const unmount = async () => {
    if (mounted(mnt)) execFileSync('fusermount3', ['-u', mnt]);
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  return {
    mnt,
    root,
    cut: async () => {
      writeFileSync(fifo, 'lazyfs::clear-cache\n');
      // LazyFS takes the command at once; its log line is not always flushed, so no wait on it.
      await new Promise((r) => setTimeout(r, 200));
    },
    unmount,
    destroy: async () => {
      try {
        await unmount();
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    },
  };
}
