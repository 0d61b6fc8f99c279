import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, ApiError, enc } from '../shell/api.ts';
import type { Problem } from '../shell/types.ts';
import type { DeployLock, DeployOverview, EnvView, Progress, ReleaseDetailView, ReleaseView } from './types.ts';

const base = (service: string) => `/api/v1/deploy/${enc(service)}`;

/** Query keys of the deploy domain; the live handler marks them stale. */
export const deployKeys = {
  all: ['deploy'] as const,
  overview: ['deploy', 'overview'] as const,
  service: (service: string) => ['deploy', 'service', service] as const,
  releases: (service: string) => ['deploy', 'releases', service] as const,
  release: (service: string, id: number) => ['deploy', 'release', service, id] as const,
};

export const deployPath = () => '/deploys';
export const servicePath = (service: string) => `/deploys/${enc(service)}`;
export const releasePath = (service: string, id: number) => `/deploys/${enc(service)}/releases/${id}`;

/**
 * A long operation (deploy, promote, rollback) with its progress streamed as NDJSON. Resolves as
 * soon as the release is known (the first `release` line), so the screen can show it while it
 * runs; `done` settles when the operation ends (with the release, or an ApiError for an `error`
 * line). A refusal before it starts (locked, unknown ref or environment) is a problem+json answer:
 * the returned promise rejects with it as ApiError.
 */
async function startLong(path: string, body: unknown): Promise<{ release: ReleaseView; done: Promise<ReleaseDetailView> }> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'application/x-ndjson, application/problem+json', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'Network error');
  }
  if (!res.ok || !res.body) {
    let problem: Partial<Problem> | null = null;
    try {
      problem = (await res.json()) as Partial<Problem>;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, problem?.title ?? `${res.status} ${res.statusText}`, problem);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  const lines = async function* (): AsyncGenerator<Progress> {
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffered += value;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) yield JSON.parse(line) as Progress;
      }
      if (done) return;
    }
  };
  const it = lines();
  const failed = (p: Extract<Progress, { type: 'error' }>) => new ApiError(p.status, p.title, { title: p.title, detail: p.detail, status: p.status });
  const lost = () => new ApiError(0, 'The connection ended before the operation did; its release shows how it went');
  // the first line names the release (or says why it failed at once)
  for (;;) {
    const n = await it.next();
    if (n.done) throw lost();
    const p = n.value;
    if (p.type === 'error') throw failed(p);
    if (p.type === 'done') return { release: p.release, done: Promise.resolve(p.release) };
    if (p.type === 'release') {
      // read on until it ends (the live view follows it over the event stream meanwhile)
      const done = (async () => {
        for await (const q of it) {
          if (q.type === 'done') return q.release as ReleaseDetailView;
          if (q.type === 'error') throw failed(q);
        }
        throw lost();
      })();
      done.catch(() => undefined);
      return { release: p.release, done };
    }
  }
}

export const deployApi = {
  overview: (signal?: AbortSignal) => api.get<DeployOverview>('/api/v1/deploy', undefined, signal),
  service: (service: string, signal?: AbortSignal) => api.get<{ service: string; environments: EnvView[] }>(base(service), undefined, signal),
  releases: (service: string, opts: { env?: string; limit?: number }, signal?: AbortSignal) => api.get<{ items: ReleaseView[] }>(`${base(service)}/releases`, { env: opts.env, limit: opts.limit }, signal),
  release: (service: string, id: number, signal?: AbortSignal) => api.get<ReleaseDetailView>(`${base(service)}/releases/${id}`, undefined, signal),
  deploy: (service: string, body: { env?: string; ref?: string; canary?: string }) => startLong(`${base(service)}/deploys`, body),
  promote: (service: string, release: number, to: string) => startLong(`${base(service)}/releases/${release}/promote`, { to }),
  rollback: (service: string, body: { env?: string; release?: number }) => startLong(`${base(service)}/rollback`, body),
  lock: (service: string, body: { env?: string; reason: string; for?: string }) => api.put<DeployLock>(`${base(service)}/lock`, body),
  unlock: (service: string, env: string) => api.delete<{ unlocked: DeployLock | null }>(`${base(service)}/lock?env=${enc(env)}`),
};

export const overviewQuery = () => queryOptions({ queryKey: deployKeys.overview, queryFn: ({ signal }) => deployApi.overview(signal), refetchInterval: 30_000 });

export function useDeployOverview() {
  return useQuery(overviewQuery());
}

export function useServiceDeploys(service: string) {
  return useQuery({ queryKey: deployKeys.service(service), queryFn: ({ signal }) => deployApi.service(service, signal), refetchInterval: 30_000 });
}

export function useReleases(service: string, env: string, limit: number) {
  return useQuery({
    queryKey: [...deployKeys.releases(service), env, limit],
    queryFn: async ({ signal }) => (await deployApi.releases(service, { env: env || undefined, limit }, signal)).items,
    refetchInterval: 30_000,
    placeholderData: (prev) => prev,
  });
}

export function useRelease(service: string, id: number) {
  return useQuery({
    queryKey: deployKeys.release(service, id),
    queryFn: ({ signal }) => deployApi.release(service, id, signal),
    // a running release also follows the event stream; this is the fallback
    refetchInterval: (q) => (q.state.data?.state === 'running' ? 5_000 : 60_000),
  });
}
