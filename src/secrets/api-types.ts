/** Shapes of the secrets API, shared with the dashboard (types only, no imports). */

/** One finding as the API gives it: `match` is the scanner's redaction (4 characters and …), never the secret. */
export interface SecretFindingView {
  ruleId: string;
  description: string;
  severity: 'high' | 'medium' | 'low';
  file: string;
  line: number;
  column: number;
  match: string;
  /** what the allowlist (`.shipshape-secrets-allow`) accepts */
  fingerprint: string;
  commit?: string;
}

/** One item of `GET /api/v1/secrets/findings`: a configured `secrets` check and its latest scan. */
export interface SecretsCheckScan {
  service: string;
  /** the check's name in the config, when it has one */
  check: string | null;
  /** the path as the config gives it */
  path: string;
  git_history: boolean;
  scanned_at: string;
  /** files (history: file changes) scanned; 0 when the scan failed */
  files: number;
  skipped: { file: string; reason: string }[];
  findings: SecretFindingView[];
  /** findings in all (the list holds at most the first 500) */
  findings_total: number;
  error: string | null;
}
