import { useEffect, useState } from 'react';
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { Dashboard } from './Dashboard.tsx';
import { runAction, type ActionKey } from './actions.ts';
import { buildModel, type DashboardModel } from './model.ts';
import { FLEET_REFRESH_MS, fleetUnavailable, loadFleet, type FleetState } from './fleet-source.ts';
import { redact } from '../redact.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';

export interface AppProps {
  readonly settings: Settings;
  /** A read-only handle on the local database. */
  readonly local: Local;
  readonly refreshMs?: number;
}

/** How long an action's answer stays in place of the key line. */
const MESSAGE_MS = 15_000;

/** The live dashboard: reads the model every refresh, maps keys to daemon actions. */
export function App({ settings, local, refreshMs = 1000 }: AppProps) {
  const { exit } = useApp();
  const stdout = useStdout().stdout as unknown as NodeJS.WriteStream;
  const [model, setModel] = useState<DashboardModel>(() => buildModel(local, settings));
  const [message, setMessage] = useState<string | undefined>();
  const [help, setHelp] = useState(false);
  const [failures, setFailures] = useState(false);
  const [fleetShown, setFleetShown] = useState(false);
  const [fleet, setFleet] = useState<FleetState>();
  const [size, setSize] = useState({ width: stdout.columns || 80, height: stdout.rows || 24 });

  useEffect(() => {
    const timer = setInterval(() => {
      try {
        setModel(buildModel(local, settings));
        // The database reads again: a message that said it could not is no longer true.
        setMessage((m) => (m?.startsWith('cannot read the database') ? undefined : m));
      } catch (err) {
        setMessage(`cannot read the database: ${String(err)}`);
      }
    }, refreshMs);
    const onResize = () => setSize({ width: stdout.columns || 80, height: stdout.rows || 24 });
    stdout.on('resize', onResize);
    return () => {
      clearInterval(timer);
      stdout.off('resize', onResize);
    };
  }, [local, settings, refreshMs, stdout]);

  useEffect(() => {
    if (fleetUnavailable(settings)) return undefined;
    let live = true;
    const load = () => void loadFleet(settings, Date.now()).then((f) => live && setFleet(f));
    load();
    const timer = setInterval(load, FLEET_REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [settings]);

  useInput((input) => {
    if (input === 'q') {
      exit();
      return;
    }
    if (input === '?') {
      setHelp((h) => !h);
      return;
    }
    if (input === 'f') {
      setFailures((f) => !f);
      setFleetShown(false);
      return;
    }
    if (input === 'm') {
      setFleetShown((v) => !v);
      setFailures(false);
      if (!fleet) void loadFleet(settings, Date.now()).then(setFleet);
      return;
    }
    if ('sdpor'.includes(input) && input.length === 1) {
      setMessage(`${input}: working…`);
      void runAction(input as ActionKey, settings, local.state).then((m) => {
        const said = redact(m);
        setMessage(said);
        setModel(buildModel(local, settings));
        // An action's answer is news for a while, not for good: the key line comes back.
        setTimeout(() => setMessage((now) => (now === said ? undefined : now)), MESSAGE_MS).unref();
      });
    }
  });

  if (size.width < MIN_WIDTH || size.height < MIN_HEIGHT) return <TooSmall width={size.width} height={size.height} />;
  return <Dashboard model={model} width={size.width} height={size.height} message={message} showHelp={help} showFailures={failures} fleet={fleet} showFleet={fleetShown} />;
}

/** The smallest terminal the dashboard's panels fit in without wrapping. */
export const MIN_WIDTH = 80;
export const MIN_HEIGHT = 24;

/** In place of the dashboard while the terminal is too small; it comes back on resize. */
function TooSmall({ width, height }: { width: number; height: number }) {
  return (
    <Box flexDirection="column">
      <Text>{`The terminal is ${width}×${height}; the dashboard needs at least ${MIN_WIDTH}×${MIN_HEIGHT}.`}</Text>
      <Text>Enlarge the window (it redraws by itself), or run `ccm-sync tui --once`.</Text>
      <Text dimColor>q quits</Text>
    </Box>
  );
}
