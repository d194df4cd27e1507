/**
 * Secret redaction. Every secret ccm-sync reads (database URL, keys, JWTs, the API token) is
 * registered here when it is loaded; `redact()` replaces them, and anything that looks like a JWT or
 * a URL password, with `***`. The logger, the CLI's error output, status output and the TUI all
 * pass text through it. No dependencies: the enqueue path imports it.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 4) return;
  secrets.add(value);
  try {
    const url = new URL(value);
    // A password too short to be told from ordinary text is left to URL_PASSWORD_RE, which
    // masks it wherever it appears inside a URL.
    const password = decodeURIComponent(url.password);
    if (password.length >= 4) secrets.add(password);
  } catch {
    // not a URL
  }
}

const JWT_RE = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g;
/** Supabase's secret API keys, wherever they turn up (a key pasted into the wrong variable, say). */
const SECRET_KEY_RE = /\bsb_secret_[A-Za-z0-9_-]{4,}/g;
const URL_PASSWORD_RE = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:)[^@\s]+@/gi;

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out.replace(JWT_RE, '***').replace(SECRET_KEY_RE, 'sb_secret_***').replace(URL_PASSWORD_RE, '$1***@');
}

