/** `ccm-sync tables`: the table catalog (src/catalog.ts), as text, JSON or the README's markdown. */
import { BOOKKEEPING_COLUMNS, TABLES, type TableSpec } from '../../catalog.ts';
import { emit, type GlobalOptions } from '../output.ts';

function sync(t: TableSpec): string {
  return t.sync === 'rows' ? 'rows, upserted under last-write-wins per column' : `kept locally; uploaded as ${t.summarisedInto} rows`;
}

/** The README's table reference (between its `tables:begin` and `tables:end` markers). */
export function tablesMarkdown(): string {
  const out: string[] = [];
  for (const t of TABLES) {
    out.push(`#### \`${t.name}\``, '', `${t.description}. Synced as ${sync(t)}; written by ${t.writtenBy}${t.localCopy ? '; ccm-sync keeps a local copy of each record' : ''}.`, '');
    out.push('| column | type | meaning |', '|---|---|---|');
    for (const c of t.columns) out.push(`| \`${c.name}\` | ${c.type} | ${c.description} |`);
    out.push('');
  }
  out.push('Every remote table also has these columns, which ccm-sync maintains (they are refused as keys of `record_data`):', '');
  out.push('| column | type | meaning |', '|---|---|---|');
  for (const c of BOOKKEEPING_COLUMNS) out.push(`| \`${c.name}\` | ${c.type} | ${c.description} |`);
  return out.join('\n');
}

export async function tablesCommand(opts: GlobalOptions & { markdown?: boolean }): Promise<void> {
  if (opts.markdown) {
    process.stdout.write(`${tablesMarkdown()}\n`);
    return;
  }
  emit(opts, { tables: TABLES, bookkeeping_columns: BOOKKEEPING_COLUMNS }, () =>
    TABLES.map((t) => [
      `${t.name} (${sync(t)}${t.localCopy ? '; local copy kept' : ''}): ${t.description}`,
      ...t.columns.map((c) => `  ${c.name.padEnd(16)} ${c.type.padEnd(12)} ${c.description}`),
    ].join('\n')).join('\n\n') + `\n\nEvery remote table also has: ${BOOKKEEPING_COLUMNS.map((c) => c.name).join(', ')} (kept by ccm-sync).\nKeys that name no column are kept in \`extra\` (or refused with sync.strict_columns: true).`);
}
