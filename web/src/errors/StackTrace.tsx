import { useState } from 'react';
import type { ExceptionValue, Frame } from './types.ts';

function frameFile(f: Frame): string {
  return f.filename || f.abs_path || f.module || '<unknown>';
}

function Code({ f }: { f: Frame }) {
  const pre = f.pre_context ?? [];
  const post = f.post_context ?? [];
  const start = f.lineno !== undefined ? f.lineno - pre.length : null;
  const lines = [...pre.map((text) => ({ text, hit: false })), { text: f.context_line ?? '', hit: true }, ...post.map((text) => ({ text, hit: false }))];
  return (
    <ol className="code" start={start ?? undefined} aria-label={`Source around line ${f.lineno ?? '?'}`}>
      {lines.map((l, i) => (
        <li key={i} className={l.hit ? 'code-hit' : undefined}>
          <span className="code-n" aria-hidden="true">
            {start !== null ? start + i : ''}
          </span>
          <code>{l.text || ' '}</code>
        </li>
      ))}
    </ol>
  );
}

function FrameRow({ f, open }: { f: Frame; open: boolean }) {
  const hasCode = f.context_line !== undefined;
  const head = (
    <>
      <span className="frame-file">{frameFile(f)}</span>
      {f.function && (
        <>
          <span className="frame-in"> in </span>
          <span className="frame-fn">{f.function}</span>
        </>
      )}
      {f.lineno !== undefined && (
        <span className="frame-line">
          {' '}
          at line {f.lineno}
          {f.colno !== undefined ? `:${f.colno}` : ''}
        </span>
      )}
      {f.in_app && <span className="frame-app-tag">in app</span>}
    </>
  );
  if (!hasCode) {
    return (
      <li className={`frame${f.in_app ? ' frame-app' : ''}`}>
        <div className="frame-head">{head}</div>
      </li>
    );
  }
  return (
    <li className={`frame${f.in_app ? ' frame-app' : ''}`}>
      <details open={open}>
        <summary className="frame-head">{head}</summary>
        <Code f={f} />
      </details>
    </li>
  );
}

type Item = { kind: 'frame'; f: Frame; open: boolean } | { kind: 'library'; frames: Frame[]; key: number };

/**
 * One exception: type and message, then its frames with the most recent call first. In-app
 * frames stand out (the top one opens with its source); runs of library frames fold away.
 */
export function ExceptionView({ ex, chained }: { ex: ExceptionValue; chained?: boolean }) {
  const [expanded, setExpanded] = useState<Set<number>>(new Set());
  const [allOpen, setAllOpen] = useState(false);
  const frames = [...ex.frames].reverse();
  const anyApp = frames.some((f) => f.in_app);
  const items: Item[] = [];
  let firstApp = true;
  frames.forEach((f, i) => {
    const app = !anyApp || f.in_app;
    if (app) {
      items.push({ kind: 'frame', f, open: firstApp && f.context_line !== undefined });
      if (f.in_app) firstApp = false;
      return;
    }
    const last = items[items.length - 1];
    if (last?.kind === 'library') last.frames.push(f);
    else items.push({ kind: 'library', frames: [f], key: i });
  });
  const libraryCount = frames.filter((f) => anyApp && !f.in_app).length;

  return (
    <div className="exception">
      <div className="exception-head">
        <div>
          <span className="exception-type">{ex.type ?? 'Error'}</span>
          {ex.mechanism?.handled === false && <span className="badge badge-unhandled">Unhandled</span>}
          {ex.mechanism?.handled === true && <span className="badge">Handled</span>}
          {chained && <span className="badge">Caused the next exception</span>}
        </div>
        {libraryCount > 0 && (
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => setAllOpen((v) => !v)} aria-pressed={allOpen}>
            {allOpen ? 'Only app frames' : 'Full stack'}
          </button>
        )}
      </div>
      {ex.value && <p className="exception-value">{ex.value}</p>}
      {frames.length === 0 ? (
        <p className="muted small">No stack trace was sent with this exception.</p>
      ) : (
        <ol className="frames" data-testid="frames">
          {items.map((it, idx) =>
            it.kind === 'frame' ? (
              <FrameRow key={`f${idx}`} f={it.f} open={it.open} />
            ) : allOpen || expanded.has(it.key) ? (
              it.frames.map((f, j) => <FrameRow key={`${it.key}-${j}`} f={f} open={false} />)
            ) : (
              <li key={it.key} className="frame frame-fold">
                <button type="button" className="linkish" onClick={() => setExpanded((prev) => new Set(prev).add(it.key))}>
                  {it.frames.length === 1 ? 'Show 1 library frame' : `Show ${it.frames.length} library frames`}
                </button>
              </li>
            ),
          )}
        </ol>
      )}
      {ex.frames_omitted ? <p className="muted small">{ex.frames_omitted} frames from the middle of this very deep stack were left out.</p> : null}
    </div>
  );
}
