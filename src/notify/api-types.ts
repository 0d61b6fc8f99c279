/**
 * The JSON shapes of the silences API, self-contained (no imports) so the dashboard can import
 * them too.
 */

export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export type SilenceState = 'pending' | 'active' | 'expired';

export interface Silence {
  id: string;
  matchers: Matcher[];
  /** human form: `alertname=high-error-rate, service=~web|api` */
  match: string;
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  createdAt: string;
  updatedAt: string;
  status: { state: SilenceState };
}
