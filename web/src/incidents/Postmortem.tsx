import { useId, useMemo, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import MarkdownIt from 'markdown-it';
import { ApiError, errorMessage } from '../shell/api.ts';
import { Spinner } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { incidentsApi, incidentsKeys } from './api.ts';
import type { IncidentDetail, PostmortemFields } from './types.ts';

/**
 * Markdown for people, safely: raw HTML in the source is escaped (html: false), link targets are
 * checked by markdown-it's validateLink (no javascript:, vbscript:, file: or non-image data: URLs),
 * and links open in a new tab without an opener.
 */
const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
const defaultLink = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const t = tokens[idx]!;
  t.attrSet('target', '_blank');
  t.attrSet('rel', 'noreferrer noopener');
  return defaultLink(tokens, idx, options, env, self);
};

export function Markdown({ source, className = '' }: { source: string; className?: string }) {
  const html = useMemo(() => md.render(source), [source]);
  // the HTML comes from markdown-it with raw HTML disabled: every tag in it is one markdown-it made
  return <div className={`md ${className}`} dangerouslySetInnerHTML={{ __html: html }} />;
}

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

const lines = (text: string) =>
  text
    .split(/\r?\n/)
    .map((l) => l.replace(/^\s*[-*]\s+/, '').trim())
    .filter(Boolean);

/**
 * The parts of the post-mortem people write: summary, root cause (Markdown), what went well and
 * what went badly (one point a line). Saved with PUT /api/v1/incidents/:id/postmortem; the
 * Markdown above is rebuilt from it.
 */
function PostmortemEditor({ inc, onDone }: { inc: IncidentDetail; onDone: () => void }) {
  const pm = inc.postmortem ?? {};
  const [summary, setSummary] = useState(pm.summary ?? '');
  const [rootCause, setRootCause] = useState(pm.root_cause ?? '');
  const [well, setWell] = useState((pm.went_well ?? []).join('\n'));
  const [badly, setBadly] = useState((pm.went_badly ?? []).join('\n'));
  const ids = useId();
  const qc = useQueryClient();
  const save = useMutation({
    mutationFn: (fields: PostmortemFields) => incidentsApi.setPostmortem(inc.id, fields),
    onSuccess: async () => {
      await Promise.all([qc.invalidateQueries({ queryKey: incidentsKeys.incident(inc.id) }), qc.invalidateQueries({ queryKey: incidentsKeys.all })]);
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    // only what changed, so the timeline says which parts were edited
    const next: PostmortemFields = {};
    if (summary.trim() !== (pm.summary ?? '').trim()) next.summary = summary.trim();
    if (rootCause.trim() !== (pm.root_cause ?? '').trim()) next.root_cause = rootCause.trim();
    if (lines(well).join('\n') !== (pm.went_well ?? []).join('\n')) next.went_well = lines(well);
    if (lines(badly).join('\n') !== (pm.went_badly ?? []).join('\n')) next.went_badly = lines(badly);
    if (Object.keys(next).length === 0) onDone();
    else save.mutate(next);
  };
  const area = (key: string, label: string, hint: string, value: string, set: (v: string) => void, rows: number, max: number) => (
    <div className="inc-pm-field">
      <label className="label" htmlFor={`${ids}-${key}`}>
        {label} <span className="muted small">{hint}</span>
      </label>
      <textarea id={`${ids}-${key}`} className="input inc-textarea" rows={rows} maxLength={max} value={value} onChange={(e) => set(e.target.value)} data-testid={`pm-${key}`} />
    </div>
  );
  return (
    <form className="inc-pm-form" onSubmit={submit} data-testid="postmortem-form">
      {area('summary', 'Summary', 'what happened, in a few sentences (Markdown)', summary, setSummary, 3, 20_000)}
      {area('root_cause', 'Root cause', 'why it happened (Markdown)', rootCause, setRootCause, 4, 20_000)}
      {area('went_well', 'What went well', 'one point a line', well, setWell, 3, 100 * 2000)}
      {area('went_badly', 'What went badly', 'one point a line', badly, setBadly, 3, 100 * 2000)}
      {save.isError && <div className="form-error">{save.error instanceof ApiError && save.error.status === 403 ? 'Your token may not change incidents (write scope needed).' : errorMessage(save.error)}</div>}
      <div className="inc-pm-form-foot">
        <button type="button" className="btn btn-ghost btn-sm" onClick={onDone} disabled={save.isPending}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary btn-sm" disabled={save.isPending} data-testid="pm-save">
          {save.isPending ? <Spinner label="Saving" /> : null}
          Save post-mortem
        </button>
      </div>
    </form>
  );
}

/** The post-mortem as the API renders it (the same Markdown as `shipshape incident postmortem`), in the viewer's time zone; writers edit its written parts. */
export function Postmortem({ inc, writable }: { inc: IncidentDetail; writable: boolean }) {
  const id = inc.id;
  const [editing, setEditing] = useState(false);
  const q = useQuery({ queryKey: [...incidentsKeys.postmortem(id), zone], queryFn: ({ signal }) => incidentsApi.postmortem(id, zone, signal) });
  return (
    <QueryState query={q} errorTitle="Could not build the post-mortem">
      {(text) => (
        <div className="inc-pm">
          <div className="inc-pm-bar">
            <span className="muted small">Generated from the timeline and stored data · times in {zone}</span>
            <span className="inc-pm-tools">
              {writable && inc.state !== 'merged' && !editing && (
                <button type="button" className="btn btn-secondary btn-sm" onClick={() => setEditing(true)} data-testid="pm-edit">
                  Edit summary, root cause…
                </button>
              )}
              <button
                type="button"
                className="btn btn-secondary btn-sm"
                onClick={() => {
                  const url = URL.createObjectURL(new Blob([text], { type: 'text/markdown' }));
                  const a = document.createElement('a');
                  a.href = url;
                  a.download = `postmortem-INC-${id}.md`;
                  a.click();
                  setTimeout(() => URL.revokeObjectURL(url), 1000);
                }}
              >
                Download .md
              </button>
            </span>
          </div>
          {editing && <PostmortemEditor inc={inc} onDone={() => setEditing(false)} />}
          <Markdown source={text} className="inc-pm-body" />
        </div>
      )}
    </QueryState>
  );
}

export default Postmortem;
