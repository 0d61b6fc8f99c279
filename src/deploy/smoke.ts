/**
 * Smoke steps: one HTTP request to a release's own port (before the proxy sends it traffic) and
 * the expectations on its answer — a status (default any 2xx), text in the body, headers.
 */
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SmokeStep } from './config.js';

const MAX_BODY = 1024 * 1024;

/** Send one smoke step to a release on a loopback `port`, or (driver: command) to a deployment's base URL. */
export async function smokeRequest(target: number | string, st: SmokeStep): Promise<{ ok: boolean; detail: string }> {
  let answer: { status: number; headers: Record<string, string | string[] | undefined>; body: string };
  try {
    answer = await new Promise((done, fail) => {
      const base = typeof target === 'string' ? new URL(target) : null;
      const where = base
        ? { protocol: base.protocol, host: base.hostname, port: base.port || undefined, path: `${base.pathname.replace(/\/+$/, '')}${st.path}` }
        : { host: '127.0.0.1', port: target, path: st.path };
      const send = base?.protocol === 'https:' ? httpsRequest : request;
      const req = send({ ...where, method: st.method, headers: st.headers, agent: false, timeout: st.timeout }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          if (size < MAX_BODY) chunks.push(d);
          size += d.length;
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', fail);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${st.timeout} ms`)));
      req.on('error', fail);
      req.end(st.body);
    });
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
  const want = st.expect.status;
  const statusOk = want === undefined ? answer.status >= 200 && answer.status < 300 : Array.isArray(want) ? want.includes(answer.status) : want === answer.status;
  if (!statusOk) return { ok: false, detail: `answered ${answer.status}, expected ${want === undefined ? '2xx' : Array.isArray(want) ? want.join(' or ') : want}${answer.body ? ` (${JSON.stringify(answer.body.slice(0, 200))})` : ''}` };
  if (st.expect.body !== undefined && !answer.body.includes(st.expect.body)) return { ok: false, detail: `answered ${answer.status} but the body does not contain ${JSON.stringify(st.expect.body)}` };
  for (const [name, value] of Object.entries(st.expect.headers)) {
    const got = answer.headers[name.toLowerCase()];
    const text = Array.isArray(got) ? got.join(', ') : got;
    if (text === undefined || !text.toLowerCase().includes(value.toLowerCase())) return { ok: false, detail: `answered ${answer.status} but header ${name} is ${text === undefined ? 'missing' : JSON.stringify(text)}, expected it to contain ${JSON.stringify(value)}` };
  }
  return { ok: true, detail: `answered ${answer.status}` };
}
