/** `ccm-sync start` as a real child process, for kill -9 and cross-process tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { childEnv, CLI } from './cli.ts';

export interface DaemonProcess {
  child: ChildProcess;
  port: number;
  stderr(): string;
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
}

export async function startDaemonProcess(env: NodeJS.ProcessEnv): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [CLI, 'start', '--json'], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start within 90 s: ${err}`)), 90_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /"port": (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code}: ${err}`));
    });
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    port,
    stderr: () => err,
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
