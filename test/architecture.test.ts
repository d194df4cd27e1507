/**
 * docs/architecture.md stays true: every file it names exists, and imports run the way it says
 * (the dashboard never imports the CLI, commands never import each other, stores import nothing
 * above them).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [path.join(dir, e.name)] : []));
const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)].map((m) => path.normalize(path.join(path.dirname(file), m[1]!)));

describe('docs/architecture.md', () => {
  it('names only files that exist', () => {
    const doc = readFileSync('docs/architecture.md', 'utf8');
    const named = [...new Set([...doc.matchAll(/`((?:src|supabase|test)\/[^`\s]+)`/g)].map((m) => m[1]!))];
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter((f) => !existsSync(f))).toEqual([]);
  });

  it('holds for the imports: no dashboard → CLI, no command → command, no store → above it', () => {
    const bad: string[] = [];
    for (const f of files('src')) {
      for (const to of importsOf(f)) {
        if (f.startsWith('src/tui/') && to.startsWith('src/cli/')) bad.push(`${f} → ${to}`);
        if (f.startsWith('src/cli/commands/') && to.startsWith('src/cli/commands/')) bad.push(`${f} → ${to}`);
        if (f.startsWith('src/store/') && !/^src\/(store|builtins|errors|catalog|types|clock|op-id|config\/home|hooks\/(transcript|pricing|repo))/.test(to)) bad.push(`${f} → ${to}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
