/**
 * The dashboard with sample data, no database needed: `node dist/tui/example.js [width height]`.
 * Handy for working on the layout. Keys: f failures, m fleet, ? help, q quits.
 */
import { useState } from 'react';
import { render, useApp, useInput } from 'ink';
import { Dashboard } from './Dashboard.tsx';
import { fixtureFleet, fixtureModel } from './sample.ts';

function Example({ width, height }: { readonly width: number; readonly height: number }) {
  const { exit } = useApp();
  const [view, setView] = useState<'main' | 'f' | 'm' | '?'>('main');
  useInput((input) => {
    if (input === 'q') exit();
    if (input === 'f' || input === 'm' || input === '?') setView((v) => (v === input ? 'main' : input));
  });
  return <Dashboard model={fixtureModel()} width={width} height={height} fleet={fixtureFleet()} showFailures={view === 'f'} showFleet={view === 'm'} showHelp={view === '?'} />;
}

const [w, h] = process.argv.slice(2).map(Number);
render(<Example width={w || process.stdout.columns || 80} height={h || process.stdout.rows || 24} />);
