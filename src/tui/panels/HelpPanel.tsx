import { Text } from 'ink';
import { Panel } from './Panel.tsx';

export const KEYS: readonly [string, string][] = [
  ['s', 'sync now'],
  ['d', 'drain the queue'],
  ['p', 'pause / resume automatic syncs'],
  ['o', 'toggle simulated offline (5 minutes)'],
  ['r', 'retry failed operations'],
  ['f', 'failed operations with their whole reason'],
  ['m', 'the fleet: every system feeding the remote (postgres, or supabase with the service-role key)'],
  ['?', 'this help'],
  ['q', 'quit'],
];

/** The key list. */
export function HelpPanel() {
  return (
    <Panel title="Keys">
      {KEYS.map(([k, what]) => (
        <Text key={k}>
          <Text bold>{k}</Text>  {what}
        </Text>
      ))}
    </Panel>
  );
}
