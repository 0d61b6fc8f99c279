/** What the env store's API answers (the dashboard and the CLI read these). Values appear only in pulls and reveals. */

/** One variable as listed: masked, never its value. */
export interface EnvVarView {
  service: string;
  env: string;
  name: string;
  /** `sk_l…(32)`: a 4-character hint for values of 16+ characters, then the length */
  masked: string;
  version: number;
  updated_at: string;
  updated_by: string;
  rotated_at: string;
  rotated_by: string;
  /** the rotation policy in force (`vars.<NAME>.rotate` or the service's `env.rotate`), null when none */
  rotate_every_ms: number | null;
  /** when it is due for rotation, null without a policy */
  rotation_due_at: string | null;
  overdue: boolean;
  /** how long past due, null when not overdue */
  overdue_by_ms: number | null;
  /** days since it last changed */
  age_days: number;
}

export interface EnvSetResult {
  service: string;
  env: string;
  name: string;
  version: number;
  /** false when the value was the same as the current one (nothing stored, no event) */
  changed: boolean;
}

/** An immutable reference to the exact variables a release was made with. */
export interface EnvSnapshotRef {
  id: string;
  service: string;
  env: string;
  vars: { name: string; version: number }[];
  created_at: string;
}

export interface EnvSnapshot {
  id: string;
  names: string[];
  values: Record<string, string>;
}

/** The store's state for a status line: whether the server holds a usable key. */
export interface EnvKeyStatus {
  /** SHIPSHAPE_SECRET_KEY is set and valid */
  configured: boolean;
  /** the id of the key the store is encrypted with (null: nothing stored yet) */
  store_key_id: string | null;
  /** the configured key matches the store's (true when nothing is stored yet) */
  matches: boolean;
  /** why it is not usable, when it is not */
  problem: string | null;
}

/** One change `env push` made (or, with dry_run, would make) on a platform: names only. */
export interface EnvPushChange {
  name: string;
  /** add: not on the platform; update: there with another value (or one this store did not send); remove: only there (--prune) */
  action: 'add' | 'update' | 'remove';
  /** planned: a dry run; done; failed: the CLI failed on it (the push stopped there); not_attempted: after a failure */
  status: 'planned' | 'done' | 'failed' | 'not_attempted';
}

/** What `env push` did: the platform's variables for one environment made equal to the store's. */
export interface EnvPushResult {
  service: string;
  env: string;
  platform: 'vercel' | 'netlify';
  /** the platform's environment (Vercel) or context (Netlify) */
  target: string;
  dry_run: boolean;
  prune: boolean;
  /** every change done (or, dry run, the plan could be made) */
  ok: boolean;
  changes: EnvPushChange[];
  /** in the store and already on the platform as they are */
  unchanged: string[];
  /** on the platform, not in the store, left there (no --prune) */
  kept: string[];
  /** why it stopped, naming the variable and the platform; null when ok */
  error: string | null;
}
