/**
 * The dashboard with sample data, no database needed: `node dist/tui/example.js [width height]`.
 * Handy for working on the layout; q quits.
 */
import { render, useApp, useInput } from 'ink';
import { Dashboard } from './Dashboard.tsx';
import { fixtureModel } from './sample.ts';

function Example({ width, height }: { readonly width: number; readonly height: number }) {
  const { exit } = useApp();
  useInput((input) => {
    if (input === 'q') exit();
  });
  return <Dashboard model={fixtureModel()} width={width} height={height} />;
}

const [w, h] = process.argv.slice(2).map(Number);
render(<Example width={w || process.stdout.columns || 80} height={h || process.stdout.rows || 24} />);
