import type { ReactNode } from 'react';
import { Link } from '../shell/router.tsx';
import { releasePath } from './api.ts';
import type { ReleaseState, ReleaseStep } from './types.ts';

/** Shared pieces of the deploy screens: state pills, short shas, step icons, the fields still to come. */

export const STATE_TEXT: Record<ReleaseState, string> = { running: 'Deploying', failed: 'Failed', live: 'Live', warm: 'Warm', retired: 'Retired', rolled_back: 'Rolled back' };

const STATE_HINT: Record<ReleaseState, string> = {
  running: 'Being gated, built or started',
  failed: 'Never served: the release before it kept serving',
  live: 'Serving its environment',
  warm: 'Replaced, still running: a rollback to it is instant',
  retired: 'Stopped; a rollback to it starts it again (while its directory is kept)',
  rolled_back: 'Was live, taken out by a rollback',
};

export function ReleaseStatePill({ state, testId }: { state: ReleaseState; testId?: string }) {
  return (
    <span className={`pill pill-sm dep-pill dep-pill-${state}`} title={STATE_HINT[state]} data-state={state}>
      <span className="pill-dot" aria-hidden="true" />
      <span data-testid={testId}>{STATE_TEXT[state]}</span>
    </span>
  );
}

export function ShortSha({ sha }: { sha: string }) {
  return (
    <code className="mono dep-sha" title={sha}>
      {sha.slice(0, 7)}
    </code>
  );
}

/** `#12` linking to the release's page. */
export function ReleaseLink({ service, id, children, testId }: { service: string; id: number; children?: ReactNode; testId?: string }) {
  return (
    <Link to={releasePath(service, id)} className="dep-rel-link" data-testid={testId}>
      {children ?? `#${id}`}
    </Link>
  );
}

/** A short, readable actor: `token:admin (SHIPSHAPE_ADMIN_TOKEN)` → admin. */
export function actorName(actor: string): string {
  const m = /^(?:token|person|user):([^\s(]+)/.exec(actor);
  return m ? m[1]! : actor;
}

/** A commit author without the address: `Ada Lovelace <ada@example.com>` → Ada Lovelace. */
export function authorName(author: string): string {
  return author.replace(/\s*<[^>]*>\s*$/, '') || author;
}

export function StepIcon({ state }: { state: ReleaseStep['state'] }) {
  if (state === 'running') return <span className="dep-step-spin" aria-hidden="true" />;
  return (
    <svg className={`dep-step-icon dep-step-icon-${state}`} width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
      <circle cx="8" cy="8" r="7.25" fill="currentColor" opacity="0.14" />
      {state === 'ok' && <path d="M4.8 8.3l2.1 2.1 4.3-4.6" fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinecap="round" strokeLinejoin="round" />}
      {state === 'failed' && <path d="M5.5 5.5l5 5m0-5l-5 5" fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinecap="round" />}
      {state === 'skipped' && <path d="M5 8h6" fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinecap="round" />}
    </svg>
  );
}

export const STEP_TEXT: Record<ReleaseStep['state'], string> = { running: 'running', ok: 'passed', failed: 'failed', skipped: 'skipped' };

/** The canary share in words, whatever shape the field takes (10, "10%", { weight: 10 }); null when absent. */
export function canaryText(v: unknown): string | null {
  if (v === null || v === undefined || v === false) return null;
  if (typeof v === 'number') return `${v}% of clients`;
  if (typeof v === 'string') return /%$/.test(v) ? `${v} of clients` : v;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const w = o.weight ?? o.percent ?? o.share;
    const base = canaryText(w);
    if (base) return base;
  }
  return 'canary';
}

/** The `pinned` flag of an environment in words, or null (`true`, or `{ reason }`). */
export function pinnedText(v: unknown): string | null {
  if (!v) return null;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const reason = typeof o.reason === 'string' ? o.reason : null;
    return reason ? `Pinned: ${reason}` : 'Pinned';
  }
  return typeof v === 'string' ? `Pinned: ${v}` : 'Pinned';
}

interface Check {
  name: string;
  passed: boolean | null;
  summary: string | null;
}

/** Verification results in a common shape: a list of `{ name, passed|ok|state, summary|detail }`, or a map of name → result. */
export function verificationChecks(v: unknown): Check[] {
  if (!v || typeof v !== 'object') return [];
  const one = (name: string, r: unknown): Check => {
    if (typeof r === 'boolean') return { name, passed: r, summary: null };
    const o = (r && typeof r === 'object' ? r : {}) as Record<string, unknown>;
    const passed = typeof o.passed === 'boolean' ? o.passed : typeof o.ok === 'boolean' ? o.ok : o.state === 'ok' || o.state === 'passed' ? true : o.state === 'failed' ? false : null;
    const summary = typeof o.summary === 'string' ? o.summary : typeof o.detail === 'string' ? o.detail : typeof o.message === 'string' ? o.message : null;
    return { name: typeof o.name === 'string' ? o.name : name, passed, summary };
  };
  const o = v as Record<string, unknown>;
  if (Array.isArray(v)) return v.map((r, i) => one(`check ${i + 1}`, r));
  if (Array.isArray(o.checks)) return verificationChecks(o.checks);
  return Object.entries(o).map(([k, r]) => one(k, r));
}

