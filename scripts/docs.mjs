// `npm run docs`: regenerates the README's generated sections from the code that defines them:
// the table reference (src/catalog.ts, as `ccm-sync tables --markdown` prints it) and the config
// reference (src/config/schema.ts, as `ccm-sync config reference --markdown` prints it).
// test/contract.test.ts and test/cli.test.ts fail when the README is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { tablesMarkdown } from '../dist/cli/commands/tables.js';
import { configMarkdown } from '../dist/cli/commands/setup.js';

const file = new URL('../README.md', import.meta.url);
let text = readFileSync(file, 'utf8');
for (const [name, body] of [['tables', tablesMarkdown()], ['config', await configMarkdown()]]) {
  const re = new RegExp(`<!-- ${name}:begin -->\\n(?:[\\s\\S]*?\\n)?<!-- ${name}:end -->`);
  if (!re.test(text)) throw new Error(`README.md has no <!-- ${name}:begin --> … <!-- ${name}:end --> section`);
  text = text.replace(re, `<!-- ${name}:begin -->\n${body}\n<!-- ${name}:end -->`);
}
writeFileSync(file, text);
process.stdout.write('README.md: generated sections updated\n');
