/**
 * docs/architecture.md stays true: every file it names exists, each stage of its glossary is the
 * folder of that name, each sync path is at most five steps, and imports run the way it says (the
 * dashboard never imports the CLI, commands never import each other, stores import nothing above
 * them, no cycles).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [path.join(dir, e.name)] : []));
// Static imports and re-exports, and dynamic import('…') (the CLI loads its commands that way).
const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'|import\('(\.[^']+)'\)/gm)]
  .map((m) => path.normalize(path.join(path.dirname(file), (m[1] ?? m[2])!)));

describe('docs/architecture.md', () => {
  it('names only files that exist', () => {
    const doc = readFileSync('docs/architecture.md', 'utf8');
    const named = [...new Set([...doc.matchAll(/`((?:src|supabase|test)\/[^`\s]+)`/g)].map((m) => m[1]!))];
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter((f) => !existsSync(f))).toEqual([]);
  });

  it('has a folder per stage, and walks each sync path in at most five steps', () => {
    const doc = readFileSync('docs/architecture.md', 'utf8');
    const stages = [...doc.matchAll(/^\| \d \| \*\*(\w+)\*\* \|.*\|(.*)\|$/gm)];
    expect(stages.map((m) => m[1])).toEqual(['record', 'triggers', 'jobs', 'package', 'remote', 'settle', 'monitor']);
    for (const [, stage, where] of stages) {
      expect(existsSync(`src/${stage}`), `src/${stage}/`).toBe(true);
      const first = where!.match(/`src\/([^/`]+)\//)?.[1];
      expect(first, `${stage} lives first in src/${stage}/`).toBe(stage);
    }
    const paths = doc.split(/^## /m).filter((sec) => sec.startsWith('`ccm-sync sync now`'));
    expect(paths).toHaveLength(2);
    for (const sec of paths) {
      const steps = sec.match(/^\d+\. /gm) ?? [];
      expect(steps.length).toBeGreaterThan(2);
      expect(steps.length).toBeLessThanOrEqual(5);
    }
  });

  it('has no import cycle in src', () => {
    const graph = new Map(files('src').map((f) => [f, importsOf(f)]));
    const cycles: string[] = [];
    const done = new Set<string>();
    const walk = (f: string, trail: string[]) => {
      if (trail.includes(f)) return void cycles.push([...trail.slice(trail.indexOf(f)), f].join(' → '));
      if (done.has(f)) return;
      for (const to of graph.get(f) ?? []) walk(to, [...trail, f]);
      done.add(f);
    };
    for (const f of graph.keys()) walk(f, []);
    expect(cycles).toEqual([]);
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
