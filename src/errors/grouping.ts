/**
 * Grouping events into issues, the way Sentry users expect: the client's `fingerprint` when sent
 * (with `{{ default }}` standing for the default grouping), else the exception types and their
 * in-app frames (module or file, and function; never line numbers, so an edit above the crash
 * does not open a new issue), else the message with numbers, ids and addresses normalised.
 */
import { createHash } from 'node:crypto';
import type { ExceptionValue, Frame, StoredEvent } from './event.js';

import type { GroupingMethod } from './types.js';

export type { GroupingMethod };

export interface Grouping {
  hash: string;
  method: GroupingMethod;
  /** what went into the hash (for the API, so people can see why events grouped) */
  components: string[];
}

/** Replace the variable parts of a message (ids, numbers, addresses, dates) with placeholders. */
export function normalizeMessage(m: string): string {
  return m
    .split('\n')[0]!
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replace(/[\w.+-]+@[\w-]+(\.[\w-]+)+/g, '<email>')
    .replace(/\b\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?\b/g, '<date>')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '<ip>')
    .replace(/\b(0x)?[0-9a-f]{8,}\b/gi, (h) => (/\d/.test(h) ? '<hex>' : h))
    .replace(/\b\d+(\.\d+)?\b/g, '<n>')
    .trim()
    .slice(0, 500);
}

/** A file name as it groups: no origin, query or content hash (`/assets/index-Bx3f9aQ1.js` -> `/assets/index.js`). */
export function normalizeFilename(f: string): string {
  let s = f.replace(/[?#].*$/, '');
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, ''); // http://host:port, app://, webpack://…
  s = s.replace(/([.-])(?=[A-Za-z0-9_]*\d)(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{8,32}(?=\.(?:chunk\.)?(?:[cm]?js|css)$)/, '');
  return s;
}

const frameKey = (f: Frame): string | undefined => {
  const where = f.module ?? (f.filename ?? f.abs_path ? normalizeFilename((f.filename ?? f.abs_path) as string) : undefined);
  const fn = f.function && f.function !== '?' && f.function !== '<anonymous>' ? f.function.replace(/^async /, '') : undefined;
  if (!where && !fn) return undefined;
  return `${where ?? '?'} ${fn ?? '?'}`;
};

/** The frames that describe the app: those marked in-app, or all of them when none is marked. */
export function appFrames(ev: StoredEvent, e: ExceptionValue): Frame[] {
  const anyInApp = ev.exceptions.some((x) => x.frames.some((f) => f.in_app === true));
  return anyInApp ? e.frames.filter((f) => f.in_app === true) : e.frames;
}

function defaultComponents(ev: StoredEvent): { method: 'exception' | 'message'; components: string[] } {
  if (ev.exceptions.length > 0) {
    const components: string[] = [];
    for (const e of ev.exceptions) {
      components.push(`type:${e.type ?? 'Error'}`);
      const keys = appFrames(ev, e)
        .map(frameKey)
        .filter((k): k is string => !!k)
        .slice(-50);
      if (keys.length) components.push(...keys.map((k) => `frame:${k}`));
      else if (e.value) components.push(`value:${normalizeMessage(e.value)}`);
    }
    return { method: 'exception', components };
  }
  const m = ev.message_template ?? ev.message;
  return { method: 'message', components: [`message:${m ? normalizeMessage(m) : '<no message>'}`, ...(m ? [] : [`level:${ev.level}`])] };
}

function topFrame(ev: StoredEvent): Frame | undefined {
  const last = ev.exceptions[ev.exceptions.length - 1];
  if (!last) return undefined;
  const frames = appFrames(ev, last);
  return frames[frames.length - 1] ?? last.frames[last.frames.length - 1];
}

export function groupEvent(ev: StoredEvent): Grouping {
  const def = defaultComponents(ev);
  let method: GroupingMethod = def.method;
  let components = def.components;
  const fp = ev.fingerprint?.filter((x) => typeof x === 'string');
  if (fp && fp.length > 0) {
    const last = ev.exceptions[ev.exceptions.length - 1];
    const top = topFrame(ev);
    const vars: Record<string, string | undefined> = {
      transaction: ev.transaction,
      type: last?.type,
      error_type: last?.type,
      value: last?.value,
      function: top?.function,
      module: top?.module,
      level: ev.level,
      message: ev.message,
      logger: ev.logger,
    };
    const expanded = fp.flatMap((part) => {
      const m = /^\{\{\s*([a-z_.]+)\s*\}\}$/i.exec(part);
      if (!m) return [`fp:${part}`];
      const name = (m[1] as string).toLowerCase();
      if (name === 'default') return def.components;
      return [`${name}:${vars[name] ?? '<none>'}`];
    });
    // `['{{ default }}']` alone is the default grouping
    if (!(fp.length === 1 && /^\{\{\s*default\s*\}\}$/i.test(fp[0] as string))) {
      method = 'fingerprint';
      components = expanded;
    }
  }
  const hash = createHash('sha256').update(JSON.stringify([method === 'fingerprint' ? 'fp' : 'default', ...components])).digest('hex').slice(0, 32);
  return { hash, method, components };
}

/** `TypeError: x is undefined`, or the message's first line. */
export function issueTitle(ev: StoredEvent): string {
  const cut = (s: string) => {
    const first = s.split('\n')[0] as string;
    return first.length > 200 ? `${first.slice(0, 199)}…` : first;
  };
  const last = ev.exceptions[ev.exceptions.length - 1];
  if (last && (last.type || last.value)) return cut(last.type && last.value ? `${last.type}: ${last.value}` : ((last.type ?? last.value) as string));
  if (ev.message) return cut(ev.message);
  return '<unlabeled event>';
}

/** Where it happened: the innermost in-app frame (`app/checkout in chargeCard`), else the transaction. */
export function issueCulprit(ev: StoredEvent): string {
  const f = topFrame(ev);
  if (f) {
    const where = f.module ?? (f.filename ? normalizeFilename(f.filename) : f.abs_path);
    if (where || f.function) return `${where ?? '?'} in ${f.function ?? '?'}`.slice(0, 200);
  }
  return (ev.transaction ?? ev.culprit ?? '').slice(0, 200);
}

/** The exception type the issue is about (null for message events). */
export function issueType(ev: StoredEvent): string | null {
  return ev.exceptions[ev.exceptions.length - 1]?.type ?? null;
}
