/**
 * A TCP proxy we control, for real network faults: pass traffic, refuse new connections, reset
 * every open connection, or black-hole (accept and never answer).
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

export class FaultProxy {
  mode: ProxyMode = 'pass';
  port = 0;
  private server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly targetPort: number;
  private readonly targetHost: string;

  constructor(targetPort: number, targetHost = '127.0.0.1') {
    this.targetPort = targetPort;
    this.targetHost = targetHost;
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
  }

  private accept(client: net.Socket): void {
    this.track(client);
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'blackhole') return; // hold it open, say nothing
    const upstream = net.connect(this.targetPort, this.targetHost);
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', kill);
    upstream.on('close', kill);
  }

  /** Resets every open connection (both sides). */
  resetAll(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  /** Link down: reset what is open and refuse what comes. */
  cut(): void {
    this.mode = 'refuse';
    this.resetAll();
  }

  restore(): void {
    this.mode = 'pass';
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
