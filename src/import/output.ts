/**
 * From a draft to the shipshape.yaml text: the output is run through the real config loader; a
 * check condition it does not accept is rewritten in Shipshape's own syntax when that can be done
 * textually, else left out and reported. Secrets stay `${NAME}` references throughout.
 */
import { Document } from 'yaml';
import type { Draft, EnvVar, Unsupported } from './draft.js';

/** A problem the config loader found: its key path (`services.web.checks[0].conditions[1]`) and message. */
export interface LoadIssue {
  path: string;
  message: string;
}

/** Load config text with the real loader; [] when it loads. */
export type Validate = (yamlText: string) => LoadIssue[];

export interface ImportResult {
  /** the shipshape.yaml sections, as data */
  config: Record<string, unknown>;
  /** the same as YAML text, with a header comment */
  yaml: string;
  unsupported: Unsupported[];
  /** the variables the config refers to, with the values taken from the source when known */
  env: EnvVar[];
  /** problems the loader still reports (empty when the output loads) */
  invalid: LoadIssue[];
}

const CONDITION_PATH = /^services\.(.+)\.checks\[(\d+)\]\.conditions\[(\d+)\]$/;

/** The draft as a document, validated and with the conditions the loader refused fixed or reported. */
export function finalize(d: Draft, source: string, validate?: Validate): ImportResult {
  const config = d.document();
  for (const v of d.env.values()) {
    // a URL secret whose value is no URL (a placeholder such as '<slack_webhook_url>' in the source)
    if (v.value !== undefined && /^[a-z]+:\/\//.test(v.sample) && !URL.canParse(v.value)) {
      d.report(`the value of ${v.name}`, 'env', 'not a URL in the source (a placeholder?): set the variable to the real URL');
    }
  }
  let invalid: LoadIssue[] = [];
  if (validate) {
    for (let pass = 0; pass < 3; pass++) {
      const issues = validate(renderYaml(withSamples(config, d.env), ''));
      const fixes: { service: string; check: number; cond: number; message: string }[] = [];
      invalid = [];
      for (const issue of issues) {
        const m = CONDITION_PATH.exec(issue.path);
        if (m) fixes.push({ service: m[1] as string, check: Number(m[2]), cond: Number(m[3]), message: issue.message });
        else invalid.push(issue);
      }
      if (fixes.length === 0) break;
      // from the last condition backwards, so removing one does not move the next
      fixes.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : b.check - a.check || b.cond - a.cond));
      for (const f of fixes) {
        const check = (config.services as Record<string, { checks: Record<string, unknown>[] }>)[f.service]?.checks[f.check];
        const list = check?.conditions as string[] | undefined;
        const original = list?.[f.cond];
        if (!check || !list || original === undefined) continue;
        const rewritten = pass === 0 ? shipshapeCondition(original) : undefined;
        if (rewritten !== undefined && rewritten !== original) list[f.cond] = rewritten;
        else {
          list.splice(f.cond, 1);
          if (list.length === 0) delete check.conditions;
          d.report(`condition "${original}" of check ${f.service}/${String(check.name)}`, `services.${f.service}.checks[${f.check}].conditions`, `not accepted by Shipshape's condition language (${f.message.replace(/^column \d+: /, '')}); left out`);
        }
      }
    }
  }
  return { config, yaml: renderYaml(config, source), unsupported: d.unsupported, env: [...d.env.values()], invalid };
}

/** The config as YAML, with a comment naming its source. */
export function renderYaml(config: Record<string, unknown>, source: string): string {
  const doc = new Document(config);
  if (source) doc.commentBefore = ` Imported by \`shipshape import\` from ${source}.\n Check it with: shipshape validate --config <this file>`;
  return doc.toString({ lineWidth: 0 });
}

/** A copy of the config with each `${NAME}` replaced by a harmless value of the same shape. */
function withSamples(config: Record<string, unknown>, env: Map<string, EnvVar>): Record<string, unknown> {
  const sub = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => env.get(name)?.sample ?? whole);
    if (Array.isArray(v)) return v.map(sub);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sub(x)]));
    return v;
  };
  return sub(config) as Record<string, unknown>;
}

const PLACEHOLDER_NAMES: Record<string, string> = {
  STATUS: 'status',
  RESPONSE_TIME: 'latency',
  BODY: 'body',
  CONNECTED: 'connected',
  CERTIFICATE_EXPIRATION: 'cert.expires_in',
  IP: 'ip',
  DNS_RCODE: 'rcode',
};

/**
 * A Gatus condition in Shipshape's own syntax, where that is a textual rewrite: placeholders become
 * names (`[BODY].status` -> `body.status`), bare words are quoted, `any(a, b)` becomes `in [a, b]`
 * and `pat(x*)` a regular expression. Undefined when there is no such rewrite.
 */
export function shipshapeCondition(c: string): string | undefined {
  const m = /^\s*(.+?)\s+(==|!=|<=|>=|<|>)\s+(.+?)\s*$/.exec(c);
  if (!m) return undefined;
  const [, left, op, right] = m as unknown as [string, string, string, string];
  const subject = names(left);
  if (subject === undefined) return undefined;
  const latency = subject === 'latency';
  const value = (v: string): string => {
    const t = v.trim();
    if (/^-?\d+(\.\d+)?$/.test(t)) return latency ? `${t}ms` : t;
    if (/^(true|false|null)$/.test(t) || /^"([^"\\]|\\.)*"$/.test(t) || /^[1-5]xx$/i.test(t)) return t;
    if (/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(t)) return t;
    return JSON.stringify(t);
  };
  const fn = /^(any|pat)\((.*)\)$/.exec(right.trim());
  if (fn) {
    if (op !== '==') return undefined;
    if (fn[1] === 'any') return `${subject} in [${(fn[2] as string).split(',').map(value).join(', ')}]`;
    const re = (fn[2] as string).replace(/[.+?^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '.*');
    return `${subject} matches /^${re}$/`;
  }
  if (/^\[|^(len|has)\(/.test(right.trim())) return undefined;
  return `${subject} ${op} ${value(right)}`;
}

/** `[BODY].a.b` -> `body.a.b`, `len([BODY].x)` -> `len(body.x)`; undefined for an unknown placeholder. */
function names(s: string): string | undefined {
  let ok = true;
  const out = s.trim().replace(/\[([A-Z_]+)\]/g, (whole, n: string) => {
    const name = PLACEHOLDER_NAMES[n];
    if (!name) ok = false;
    return name ?? whole;
  });
  return ok ? out : undefined;
}
