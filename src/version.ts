/** This ccm-sync's version, from its package.json (one place for --version, heartbeats, caches). */
import { createRequire } from 'node:module';

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
