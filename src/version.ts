/** This ccm-sync's version, from its package.json (one place for --version, heartbeats, caches). */
import { fs } from './builtins.ts';

export const VERSION: string = (JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
