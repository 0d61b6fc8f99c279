/**
 * HTTP through the egress policy (src/core/egress.ts): an undici connector that checks literal IP
 * hosts and resolves names with the policy's lookup, a shared keep-alive Agent built on it
 * (renewed when the policy in force changes, so a pooled connection never outlives the policy it
 * was checked against), and `egressFetch`, a fetch that uses it. Every redirect hop fetch
 * follows connects through the same connector, so redirects are checked too.
 */
import { Agent, buildConnector, fetch as undiciFetch, type Dispatcher } from 'undici';
import { egressCheck, egressLookup, egressPolicy, EgressDeniedError, type EgressPolicy } from './egress.js';

/** Wrap an undici connector: refuse a denied literal-IP or denied-name host before any socket is made. */
export function egressConnector(base: buildConnector.connector): buildConnector.connector {
  return (opts, cb) => {
    const why = egressCheck(opts.hostname);
    if (why) {
      queueMicrotask(() => cb(new EgressDeniedError(why), null));
      return;
    }
    base(opts, cb);
  };
}

/** buildConnector with the policy's lookup, wrapped by egressConnector. */
export function buildEgressConnector(options: buildConnector.BuildOptions = {}): buildConnector.connector {
  return egressConnector(buildConnector({ ...options, lookup: egressLookup } as buildConnector.BuildOptions));
}

let shared: { agent: Agent; policy: EgressPolicy } | undefined;

/** The shared Agent for outbound HTTP (channels, scrapes). */
export function egressAgent(): Dispatcher {
  const policy = egressPolicy();
  if (shared && shared.policy !== policy) {
    void shared.agent.close().catch(() => undefined);
    shared = undefined;
  }
  shared ??= { agent: new Agent({ connect: buildEgressConnector({ timeout: 10_000 }), keepAliveTimeout: 30_000 }), policy };
  return shared.agent;
}

/** Drop the shared Agent (Shipshape stopping, tests): in-flight requests are aborted, not waited for. */
export async function closeEgressAgent(): Promise<void> {
  const s = shared;
  shared = undefined;
  await s?.agent.destroy().catch(() => undefined);
}

type FetchInit = NonNullable<Parameters<typeof undiciFetch>[1]>;

/** fetch through the egress policy. A refused connection rejects with a TypeError whose cause is an EgressDeniedError (see egressDenial). */
export function egressFetch(url: string | URL, init: FetchInit = {}): ReturnType<typeof undiciFetch> {
  return undiciFetch(url, { ...init, dispatcher: egressAgent() });
}
