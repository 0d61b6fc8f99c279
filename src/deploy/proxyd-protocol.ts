/**
 * The private channel between Shipshape and its proxy daemon (proxyd.ts): newline-delimited JSON
 * over a Unix socket in the data directory (mode 0600, in a 0700 directory). Each request is one
 * line `{ id, op, … }`; each answer one line `{ id, ok: true, result }` or `{ id, ok: false, error }`
 * (answers may come out of order: a drain waits while other requests are answered). `hello`,
 * `shutdown` and `handover` keep their shape in every protocol version, so any Shipshape can
 * replace any daemon.
 *
 * The handover (an upgrade: the daemon speaks another version) keeps the ports listening: the old
 * daemon starts the new one with an IPC channel (`--takeover`) and sends it each route with its
 * listening socket (`TakeoverRoute`, the socket as the message's handle); the new one accepts on
 * the same sockets, binds the control socket the old one let go, and says `ready`; the old one
 * then stops accepting, closes each connection after its current answer, and exits.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { Canary, ProxyTarget } from './proxy.js';

/** Bumped when a request or answer changes shape: a Shipshape that finds another version replaces the daemon. */
export const PROXYD_PROTOCOL = 1;

/** A line longer than this is refused (and the connection closed). */
export const MAX_LINE = 64 * 1024;

export const socketPath = (dataDir: string) => join(dataDir, 'proxyd.sock');
export const stateFile = (dataDir: string) => join(dataDir, 'proxyd.json');
export const logFile = (dataDir: string) => join(dataDir, 'proxyd.log');

const id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const env = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\/[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'expected service/env');
const port = z.number().int().min(1).max(65535);
const target = z.object({ release: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), port }).strict();
const canary = z.object({ target, weight: z.number().min(0).max(100) }).strict();

export const requestSchema = z.discriminatedUnion('op', [
  z.object({ id, op: z.literal('hello') }).strict(),
  z.object({ id, op: z.literal('state') }).strict(),
  z.object({ id, op: z.literal('listen'), env, host: z.string().min(1).max(255), port }).strict(),
  z.object({ id, op: z.literal('close'), env }).strict(),
  z.object({ id, op: z.literal('switch'), env, target: target.nullable() }).strict(),
  z.object({ id, op: z.literal('canary'), env, canary: canary.nullable() }).strict(),
  z.object({ id, op: z.literal('drain'), env, port, timeout_ms: z.number().int().min(0).max(3_600_000) }).strict(),
  z.object({ id, op: z.literal('stats'), env }).strict(),
  z.object({ id, op: z.literal('shutdown') }).strict(),
  // start the daemon at `entry` (another Shipshape version's), give it the listening sockets and routes, then go
  z.object({ id, op: z.literal('handover'), entry: z.string().min(1).max(4096).regex(/^\/.*\.js$/, 'expected the absolute path of a .js file') }).strict(),
]);

export type ProxydRequest = z.infer<typeof requestSchema>;
/** A request as the client sends it (the id is added by the client). */
export type ProxydCall = ProxydRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export interface RouteState {
  env: string;
  host: string;
  port: number;
  listening: boolean;
  target: ProxyTarget | null;
  canary: Canary | null;
}

export interface Hello {
  protocol: number;
  pid: number;
  started_at: string;
  /** routes it took from its state file when it started */
  restored: string[];
  envs: RouteState[];
}

/** A release's counters as the daemon sends them (since the daemon started). */
export interface StatsJson {
  release: number;
  requests: number;
  errors: number;
  buckets: number[];
}

export type Answer = { id: number | null; ok: true; result: unknown } | { id: number | null; ok: false; error: string };

/** What the daemon keeps on disk (mode 0600): enough to serve the same routes after its own restart. */
export interface StateFile {
  protocol: number;
  routes: { env: string; host: string; port: number; target: ProxyTarget | null; canary: Canary | null }[];
}

/** Old daemon → new daemon, over the IPC channel of a handover. */
export type TakeoverMessage = { type: 'route'; route: StateFile['routes'][number]; releases: StatsJson[] } | { type: 'done' };
/** New daemon → old daemon. */
export type TakeoverReply = { type: 'listening' } | { type: 'ready'; pid: number } | { type: 'failed'; error: string };
