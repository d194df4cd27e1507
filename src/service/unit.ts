/**
 * The service definitions `ccm-sync service install` writes: a systemd unit (a user unit, or a
 * system unit run as the home's owner) and a launchd agent. Pure: what to write, given where
 * things are; service/install.ts writes them and asks systemctl or launchctl to start them.
 *
 * The daemon runs `start --secrets-file <home>/service.env`: the remote's secrets stay in that file
 * (0600), never in the unit or the plist, which other users may read. A first line names the home
 * and says who wrote it, so `uninstall` removes only what `install` wrote.
 */
export const MARKER = 'Written by `ccm-sync service install`';

export interface ServicePlan {
  /** The unit's name (ccm-sync, or --name). */
  name: string;
  /** This installation's Node and its CLI, by absolute path. */
  node: string;
  cli: string;
  /** The home the daemon serves, pinned (CCM_SYNC_HOME), or its config file (CCM_SYNC_CONFIG). */
  home: string;
  config?: string;
  envFile: string;
  /** A system unit: run as this user and group (the home's owner). */
  system?: { user: string; group: string };
  version: string;
}

const quoteArg = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, '\\$1')}"`);
const pin = (p: ServicePlan) => (p.config ? `CCM_SYNC_CONFIG=${quoteArg(p.config)}` : `CCM_SYNC_HOME=${quoteArg(p.home)}`);

/** The systemd unit. */
export function systemdUnit(p: ServicePlan): string {
  return [
    `# ${MARKER} (ccm-sync ${p.version}) for the home ${p.home}.`,
    '# `ccm-sync service uninstall` removes it. The remote\'s secrets are in the env file, never here.',
    '[Unit]',
    `Description=ccm-sync: keeps the remote up to date from ${p.home}`,
    'After=network-online.target',
    'Wants=network-online.target',
    // Five failed starts in five minutes: systemd stops trying, and `service status` says so.
    'StartLimitIntervalSec=300',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    ...(p.system ? [`User=${p.system.user}`, `Group=${p.system.group}`] : []),
    `Environment=${pin(p)}`,
    `ExecStart=${quoteArg(p.node)} ${quoteArg(p.cli)} start --secrets-file ${quoteArg(p.envFile)}`,
    // SIGTERM: the daemon finishes the sync in progress and exits, as `ccm-sync stop` asks it to.
    'KillSignal=SIGTERM',
    'TimeoutStopSec=90',
    'Restart=on-failure',
    'RestartSec=5',
    // Its logs are JSON lines on stderr (pino): the journal keeps them.
    'StandardOutput=journal',
    'StandardError=journal',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    `ReadWritePaths=${quoteArg(p.home)}`,
    'PrivateTmp=yes',
    'ProtectKernelTunables=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    '',
    '[Install]',
    `WantedBy=${p.system ? 'multi-user.target' : 'default.target'}`,
    '',
  ].join('\n');
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The launchd agent (macOS). */
export function launchdPlist(p: ServicePlan, label: string, logDir: string): string {
  const arg = (s: string) => `    <string>${xml(s)}</string>`;
  const [key, value] = pin(p).split('=') as [string, string];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    `<!-- ${MARKER} (ccm-sync ${xml(p.version)}) for the home ${xml(p.home)}. \`ccm-sync service uninstall\` removes it. -->`,
    '<plist version="1.0">',
    '<dict>',
    '  <key>Label</key>',
    `  <string>${xml(label)}</string>`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    arg(p.node), arg(p.cli), arg('start'), arg('--secrets-file'), arg(p.envFile),
    '  </array>',
    '  <key>EnvironmentVariables</key>',
    '  <dict>',
    `    <key>${xml(key)}</key>`,
    `    <string>${xml(value.replace(/^"|"$/g, ''))}</string>`,
    '  </dict>',
    '  <key>RunAtLoad</key>',
    '  <true/>',
    '  <key>KeepAlive</key>',
    '  <dict>',
    '    <key>SuccessfulExit</key>',
    '    <false/>',
    '  </dict>',
    '  <key>ThrottleInterval</key>',
    '  <integer>10</integer>',
    '  <key>StandardOutPath</key>',
    `  <string>${xml(`${logDir}/daemon.out.log`)}</string>`,
    '  <key>StandardErrorPath</key>',
    `  <string>${xml(`${logDir}/daemon.log`)}</string>`,
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}

/** The env file: the secrets the daemon needs, one KEY=value a line (process.loadEnvFile reads it). */
export function envFileText(values: Readonly<Record<string, string>>): string {
  const lines = Object.entries(values).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return [`# ${MARKER}: the remote's secrets for the daemon (mode 0600). Edit, then restart the service.`, ...lines, ''].join('\n');
}

/** The variables ccm-sync reads that hold secrets or say where the remote is. */
export const SERVICE_ENV = ['CCM_SYNC_DATABASE_URL', 'SUPABASE_URL', 'SUPABASE_PUBLISHABLE_KEY', 'SUPABASE_ANON_KEY', 'CCM_SYNC_ACCESS_TOKEN', 'CCM_SYNC_PATH_SALT'] as const;
