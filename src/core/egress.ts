/**
 * The egress policy: which addresses Shipshape's own outbound connections (checks, notification
 * channels, scrapes) may reach. It is applied where a connection is made: a host name is checked
 * against the name rules, and every address DNS returns for it is checked before it is used, so a
 * name that resolves (or is re-bound) to a metadata address is refused; literal IP hosts, which no
 * lookup sees, are checked directly.
 *
 * Config (`egress:` in shipshape.yaml, see egressSchema):
 *   deny   entries refused, whatever `allow` says (default: [link-local, metadata])
 *   allow  when non-empty, the only destinations permitted (nothing is implied: add `loopback`
 *          for local services); when empty, everything not denied is permitted
 * An entry is an IP address, a CIDR block (`10.0.0.0/8`, `fd00::/8`), a host name
 * (`db.internal`; `*.internal` matches its subdomains) or a named set: `link-local`, `metadata`,
 * `loopback`, `private`.
 *
 * The policy in force follows the config: the composition root calls `useEgressConfig(() =>
 * config.raw.egress)` once (or `setEgressPolicy(raw)` on start and each reload); until then the
 * built-in default applies.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP, Socket, type LookupFunction } from 'node:net';
import { z } from 'zod';

/** The named sets an entry may use. */
export const EGRESS_SETS: Readonly<Record<string, readonly string[]>> = {
  'link-local': ['169.254.0.0/16', 'fe80::/10'],
  // cloud instance metadata: AWS/GCP/Azure/OCI at 169.254.169.254 (in link-local), AWS's IPv6
  // endpoint, Alibaba's, and GCP's names (refused before any lookup)
  metadata: ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', 'metadata.google.internal', 'metadata.goog'],
  loopback: ['127.0.0.0/8', '::1'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

export const DEFAULT_EGRESS_DENY: readonly string[] = ['link-local', 'metadata'];

export interface EgressConfig {
  deny: string[];
  allow: string[];
}

const HOST_RE = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

interface Cidr {
  label: string;
  list: BlockList;
}

interface Rules {
  cidrs: Cidr[];
  /** exact names, lower case, no trailing dot */
  names: Set<string>;
  /** `*.example.com` as `.example.com` */
  suffixes: string[];
}

/** Why an entry is not valid, or undefined. */
export function egressEntryError(entry: string): string | undefined {
  const e = entry.trim();
  if (EGRESS_SETS[e]) return undefined;
  if (e.includes('/')) {
    const [addr = '', bits = ''] = e.split('/');
    const v = isIP(addr);
    const n = /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (v === 0) return `"${entry}": the part before "/" is not an IP address`;
    if (n < 0 || n > (v === 4 ? 32 : 128)) return `"${entry}": the prefix length must be 0-${v === 4 ? 32 : 128}`;
    return undefined;
  }
  if (isIP(e) !== 0) return undefined;
  if (HOST_RE.test(e)) return undefined;
  return `"${entry}" is not an IP address, a CIDR block, a host name or one of ${Object.keys(EGRESS_SETS).join(', ')}`;
}

const entry = z.string().superRefine((s, ctx) => {
  const why = egressEntryError(s);
  if (why) ctx.addIssue({ code: 'custom', message: why });
});

/** The `egress` section of shipshape.yaml (a core section). */
export const egressSchema = z
  .object({
    deny: z
      .array(entry)
      .default([...DEFAULT_EGRESS_DENY])
      .meta({
        description:
          'destinations outbound connections (checks, channels, scrapes) may never reach, whatever allow says: IPs, CIDRs, host names (*.example.com for subdomains) or the sets link-local, metadata, loopback, private. Default [link-local, metadata]; setting it replaces the default',
      }),
    allow: z
      .array(entry)
      .default([])
      .meta({
        description:
          'when non-empty, the only destinations outbound connections may reach (same entries as deny; loopback is not implied: add it to keep local checks). Default [] (everything not denied)',
      }),
  })
  .strict()
  .prefault({})
  .meta({ description: 'which addresses checks, notification channels and scrapes may connect to; checked on every resolved address, so DNS cannot bypass it' });

function addCidr(rules: Rules, label: string): void {
  const [addr = '', bits] = label.split('/');
  const v = isIP(addr);
  const list = new BlockList();
  const type = v === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) list.addAddress(addr, type);
  else list.addSubnet(addr, Number(bits), type);
  rules.cidrs.push({ label: bits === undefined ? addr : `${addr}/${bits}`, list });
}

function compileRules(entries: readonly string[], where: string): Rules {
  const rules: Rules = { cidrs: [], names: new Set(), suffixes: [] };
  const add = (raw: string): void => {
    const e = raw.trim();
    const set = EGRESS_SETS[e];
    if (set) {
      for (const x of set) add(x);
      return;
    }
    const why = egressEntryError(e);
    if (why) throw new Error(`${where}: ${why}`);
    if (e.includes('/') || isIP(e) !== 0) addCidr(rules, e);
    else if (e.startsWith('*.')) rules.suffixes.push(normalizeHost(e.slice(1)));
    else rules.names.add(normalizeHost(e));
  };
  for (const e of entries) add(e);
  return rules;
}

function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.length > 1 && h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** An IP address as compared: no brackets or zone, IPv4-mapped IPv6 as IPv4. */
export function normalizeIp(ip: string): string {
  let a = normalizeHost(ip);
  const zone = a.indexOf('%');
  if (zone > 0) a = a.slice(0, zone);
  if (isIP(a) !== 6) return a;
  const dotted = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (dotted?.[1] && isIP(dotted[1]) === 4) return dotted[1];
  const hex = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
  if (hex?.[1] && hex[2]) {
    const hi = parseInt(hex[1], 16);
    const lo = parseInt(hex[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return a;
}

function nameMatch(rules: Rules, host: string): boolean {
  if (rules.names.has(host)) return true;
  return rules.suffixes.some((s) => host.endsWith(s));
}

function cidrMatch(rules: Rules, ip: string): string | undefined {
  const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  return rules.cidrs.find((c) => c.list.check(ip, type))?.label;
}

/** The addresses a connection to `ip` really reaches: 0.0.0.0 and :: are this host. */
function reaches(ip: string): string[] {
  if (ip === '0.0.0.0') return [ip, '127.0.0.1'];
  if (ip === '::') return [ip, '::1'];
  return [ip];
}

export interface EgressPolicy {
  /**
   * Why a connection to `host` at address `ip` is refused (`egress denied: …`), or undefined.
   * Without `ip`: the checks that need no lookup (a literal IP host, the host-name rules).
   */
  check(host: string, ip?: string): string | undefined;
  readonly config: Readonly<EgressConfig>;
}

/** Compile a policy; throws on an invalid entry (the config schema rejects those first). */
export function compileEgressPolicy(cfg: Partial<EgressConfig> = {}): EgressPolicy {
  const config: EgressConfig = { deny: [...(cfg.deny ?? DEFAULT_EGRESS_DENY)], allow: [...(cfg.allow ?? [])] };
  const deny = compileRules(config.deny, 'egress.deny');
  const allow = config.allow.length > 0 ? compileRules(config.allow, 'egress.allow') : undefined;
  // a policy never changes once compiled, and checks ask about the same hosts on every run
  const answers = new Map<string, string | null>();
  const check = (rawHost: string, rawIp?: string): string | undefined => {
    const host = normalizeHost(rawHost);
    const literal = isIP(normalizeIp(host)) !== 0;
    const ip = rawIp !== undefined ? normalizeIp(rawIp) : literal ? normalizeIp(host) : undefined;
    if (!literal && nameMatch(deny, host)) return `egress denied: ${host} is in egress.deny`;
    if (ip === undefined) return undefined; // the addresses are checked once resolved
    const who = literal || host === ip ? ip : `${host} (${ip})`;
    for (const a of reaches(ip)) {
      const hit = cidrMatch(deny, a);
      if (hit) return `egress denied: ${who} is in ${hit} (egress.deny)`;
    }
    if (allow && !(!literal && nameMatch(allow, host)) && !reaches(ip).some((a) => cidrMatch(allow, a))) {
      return `egress denied: ${who} is not in egress.allow`;
    }
    return undefined;
  };
  return {
    config,
    check(rawHost, rawIp) {
      const key = rawIp === undefined ? rawHost : `${rawHost} ${rawIp}`;
      const known = answers.get(key);
      if (known !== undefined) return known ?? undefined;
      const why = check(rawHost, rawIp);
      if (answers.size >= 10_000) answers.clear();
      answers.set(key, why ?? null);
      return why;
    },
  };
}

/** A connection refused by the egress policy; `message` is the reason shown to users. */
export class EgressDeniedError extends Error {
  readonly code = 'EEGRESS';
  constructor(message: string) {
    super(message);
    this.name = 'EgressDeniedError';
  }
}

/** The egress refusal in an error's cause chain (undici, pg and AggregateErrors wrap it), if any. */
export function egressDenial(err: unknown): EgressDeniedError | undefined {
  let cur = err as { cause?: unknown; errors?: unknown; code?: unknown } | undefined;
  for (let i = 0; i < 8 && cur && typeof cur === 'object'; i++) {
    if (cur instanceof EgressDeniedError || cur.code === 'EEGRESS') return cur as EgressDeniedError;
    if (Array.isArray(cur.errors)) {
      const inner = cur.errors.map(egressDenial).find(Boolean);
      if (inner) return inner;
    }
    cur = cur.cause as typeof cur;
  }
  return undefined;
}

// ---- the policy in force ----

const builtIn = compileEgressPolicy();
let source: (() => Partial<EgressConfig> | undefined) | undefined;
let fixed: EgressPolicy = builtIn;
let compiled: { raw: unknown; key: string; policy: EgressPolicy } | undefined;

const keyOf = (cfg: Partial<EgressConfig>): string => JSON.stringify([cfg.deny ?? DEFAULT_EGRESS_DENY, cfg.allow ?? []]);

/** The compiled policy for `cfg`, reusing `prev` when the entries are the same (a reload that left `egress` alone keeps the pools). */
function compileIfChanged(cfg: Partial<EgressConfig>, prev: EgressPolicy): EgressPolicy {
  return keyOf(cfg) === keyOf(prev.config) ? prev : compileEgressPolicy(cfg);
}

/** Set the policy from the `egress` config section (undefined: the built-in default). Call on start and on every reload. */
export function setEgressPolicy(cfg: Partial<EgressConfig> | undefined): EgressPolicy {
  source = undefined;
  compiled = undefined;
  fixed = cfg === undefined ? builtIn : compileIfChanged(cfg, fixed);
  return fixed;
}

/** Follow the config in force: `getter` is read on every connection (the compiled policy is cached per section object). */
export function useEgressConfig(getter: (() => Partial<EgressConfig> | undefined) | undefined): void {
  source = getter;
  compiled = undefined;
}

/** The policy in force. Its identity changes when the policy does (pools keyed on it can be renewed). */
export function egressPolicy(): EgressPolicy {
  if (!source) return fixed;
  const raw = source();
  if (raw === undefined) return builtIn;
  if (compiled?.raw !== raw) {
    const key = keyOf(raw);
    compiled = { raw, key, policy: compiled?.key === key ? compiled.policy : compileEgressPolicy(raw) };
  }
  return compiled.policy;
}

/** Why the policy in force refuses `host` (at `ip`), or undefined. */
export function egressCheck(host: string, ip?: string): string | undefined {
  return egressPolicy().check(host, ip);
}

/** Throw EgressDeniedError when the policy refuses `host` before any lookup (a literal IP, a denied name). */
export function assertEgressHost(host: string): void {
  const why = egressCheck(host);
  if (why) throw new EgressDeniedError(why);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** dns.lookup's shape, for tests that want to control resolution. */
export type Resolve = (host: string, options: LookupOptions & { all: true }, cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * A `lookup` for net.connect / tls.connect / undici's connector: resolves with dns.lookup and
 * hands back only the addresses the policy permits (failing with EgressDeniedError when none is),
 * so the address connected to is the address checked.
 */
export function makeEgressLookup(resolve: Resolve = dnsLookup as unknown as Resolve, policy: () => EgressPolicy = egressPolicy): LookupFunction {
  return ((hostname: string, options: LookupOptions, callback: LookupCallback) => {
    const p = policy();
    const early = p.check(hostname);
    if (early) {
      process.nextTick(callback, new EgressDeniedError(early), options?.all ? [] : '', undefined);
      return;
    }
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, options?.all ? [] : '', undefined);
      let firstWhy: string | undefined;
      const ok = addresses.filter((a) => {
        const why = p.check(hostname, a.address);
        firstWhy ??= why;
        return why === undefined;
      });
      if (ok.length === 0) {
        const e: NodeJS.ErrnoException = firstWhy ? new EgressDeniedError(firstWhy) : Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
        return callback(e, options?.all ? [] : '', undefined);
      }
      if (options?.all) return callback(null, ok);
      const first = ok[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  }) as LookupFunction;
}

/** The lookup of the policy in force, with the system resolver. */
export const egressLookup: LookupFunction = makeEgressLookup();

/**
 * Resolve `host` to one address the policy permits (a literal IP is checked as is); rejects with
 * EgressDeniedError or the DNS error. For clients that take no `lookup`: connect to the address
 * this returns (and send the name as TLS servername).
 */
export function egressResolve(host: string, lookup: LookupFunction = egressLookup): Promise<{ address: string; family: number }> {
  const h = normalizeHost(host);
  if (isIP(h) !== 0) {
    const why = egressCheck(h);
    return why ? Promise.reject(new EgressDeniedError(why)) : Promise.resolve({ address: h, family: isIP(h) });
  }
  return new Promise((resolve, reject) => {
    lookup(h, { all: true }, (err, addresses) => {
      if (err) return reject(err);
      const first = (addresses as unknown as LookupAddress[])[0];
      if (!first) return reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${h}`), { code: 'ENOTFOUND' }));
      resolve({ address: first.address, family: first.family });
    });
  });
}

/**
 * A net.Socket whose `connect(port, host)` / `connect({ port, host })` goes through the policy:
 * literal IPs are checked, names resolved with egressLookup. For clients that accept a socket
 * (pg's `stream`). Unix socket paths are local and left alone.
 */
export function egressSocket(lookup: LookupFunction = egressLookup): Socket {
  const socket = new Socket();
  const connect = socket.connect.bind(socket) as (...args: unknown[]) => Socket;
  (socket as unknown as { connect: (...args: unknown[]) => Socket }).connect = (...args: unknown[]): Socket => {
    let opts: { port?: number; host?: string; path?: string; lookup?: LookupFunction } & Record<string, unknown>;
    let listener: unknown;
    if (typeof args[0] === 'object' && args[0] !== null) {
      opts = { ...(args[0] as Record<string, unknown>) };
      listener = args[1];
    } else if (typeof args[0] === 'string' && !/^\d+$/.test(args[0])) {
      return connect(...args); // a unix socket path
    } else {
      opts = { port: Number(args[0]), host: typeof args[1] === 'string' ? args[1] : 'localhost' };
      listener = typeof args[1] === 'function' ? args[1] : args[2];
    }
    if (opts.path) return connect(...args);
    const why = egressCheck(opts.host ?? 'localhost');
    if (why) {
      process.nextTick(() => socket.destroy(new EgressDeniedError(why)));
      return socket;
    }
    return listener === undefined ? connect({ ...opts, lookup }) : connect({ ...opts, lookup }, listener);
  };
  return socket;
}
