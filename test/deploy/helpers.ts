/** A real git repository holding a tiny Node app, and loopback helpers, for the deploy tests. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The app: GET / answers its VERSION file; GET /api/health answers 200, or 500 when the release
 * has a `unhealthy` file; a `crash` file makes it exit at boot; GET /crash makes it exit; GET /pid
 * answers its process id; GET /slow waits for ?ms; a `fail` file makes every other path answer 500 (a release that is healthy but
 * broken); a `lag` file holds every other answer for the number of ms it contains; an upgraded connection (`Upgrade: websocket`) echoes what it is sent, prefixed with the
 * version.
 */
export const APP = `
const http = require('node:http');
const fs = require('node:fs');
const version = fs.readFileSync(__dirname + '/VERSION', 'utf8').trim();
if (fs.existsSync(__dirname + '/crash')) { console.error('boom: crashing on boot'); process.exit(3); }
const unhealthy = fs.existsSync(__dirname + '/unhealthy');
const failing = fs.existsSync(__dirname + '/fail');
const lag = fs.existsSync(__dirname + '/lag') ? Number(fs.readFileSync(__dirname + '/lag', 'utf8')) : 0;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/api/health') { res.writeHead(unhealthy ? 500 : 200); res.end(unhealthy ? 'sick' : 'ok'); return; }
  if (url.pathname === '/pid') { res.end(String(process.pid)); return; }
  if (url.pathname === '/crash') { res.end('bye'); setTimeout(() => process.exit(7), 10); return; }
  if (url.pathname === '/slow') { setTimeout(() => res.end(version), Number(url.searchParams.get('ms') || 100)); return; }
  if (failing) { res.writeHead(500); res.end(version + ' is broken'); return; }
  if (lag) { setTimeout(() => res.end(version), lag); return; }
  res.end(version);
});
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n');
  socket.on('data', (d) => socket.write(version + ':' + d));
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT + ' as ' + version));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

export class Repo {
  readonly dir: string;
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'shipshape-repo-'));
    this.git('init', '-q', '-b', 'main');
    this.git('config', 'user.name', 'Ada Lovelace');
    this.git('config', 'user.email', 'ada@example.com');
    this.git('config', 'commit.gpgsign', 'false');
  }

  git(...args: string[]): string {
    return execFileSync('git', ['-C', this.dir, ...args], { encoding: 'utf8' }).trim();
  }

  /** Write files (null removes one), commit, return the sha. */
  commit(files: Record<string, string | null>, message: string): string {
    for (const [path, text] of Object.entries(files)) {
      const p = join(this.dir, path);
      if (text === null) rmSync(p, { force: true });
      else {
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, text);
      }
    }
    this.git('add', '-A');
    this.git('commit', '-q', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  /** A first commit with the app at `version`. */
  static withApp(version = 'v1'): Repo {
    const r = new Repo();
    r.commit({ 'server.js': APP, VERSION: `${version}\n` }, `app ${version}`);
    return r;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** ports this process has handed out: the kernel may give a just-closed port again at once */
const handedOut = new Set<number>();

/** A free loopback port, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((done, fail) => {
      const s = createServer();
      s.once('error', fail);
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        const p = typeof a === 'object' && a ? a.port : 0;
        s.close(() => done(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port that was not handed out already');
}

/** One GET over a fresh connection: status and body (status 0 when the connection failed). */
export function get(port: number, path = '/'): Promise<{ status: number; body: string; release?: string }> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body, release: res.headers['x-shipshape-release'] as string | undefined }));
      res.on('error', () => done({ status: 0, body: '' }));
    });
    req.on('error', (e) => done({ status: 0, body: e.message }));
    req.end();
  });
}

/**
 * Requests for `path` in a loop on `connections` keep-alive connections until stopped: every
 * answer is recorded (the 200s' bodies and how many each release answered, by the proxy's
 * x-shipshape-release), so a test can say "no request failed" and "these versions answered".
 */
export function load(port: number, connections = 8, path = '/'): { stop(): Promise<{ ok: number; failed: { status: number; body: string; release?: string }[]; bodies: string[]; byRelease: Record<string, number> }> } {
  let running = true;
  let ok = 0;
  const failed: { status: number; body: string; release?: string }[] = [];
  const bodies: string[] = [];
  const byRelease: Record<string, number> = {};
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const one = () =>
    new Promise<void>((done) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        const release = res.headers['x-shipshape-release'] as string | undefined;
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          if (res.statusCode === 200) {
            ok++;
            bodies.push(body);
            if (release !== undefined) byRelease[release] = (byRelease[release] ?? 0) + 1;
          } else failed.push({ status: res.statusCode ?? 0, body, release });
          done();
        });
        res.on('error', (e) => {
          failed.push({ status: 0, body: e.message });
          done();
        });
      });
      req.on('error', (e) => {
        failed.push({ status: 0, body: e.message });
        done();
      });
      req.end();
    });
  const loops = Array.from({ length: connections }, async () => {
    while (running) await one();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { ok, failed, bodies, byRelease };
    },
  };
}

/** Upgrade a connection (`Upgrade: websocket`; the bytes after it are not framed: the test app only echoes), send `text`, resolve with the first answer. */
export function upgradeEcho(port: number, text: string): Promise<{ status: number; answer: string }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/ws', agent: false, headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    req.on('upgrade', (res, socket) => {
      socket.once('data', (d: Buffer) => {
        socket.destroy();
        done({ status: res.statusCode ?? 0, answer: d.toString() });
      });
      socket.write(text);
    });
    req.on('response', (res) => done({ status: res.statusCode ?? 0, answer: '' }));
    req.on('error', fail);
    req.end();
  });
}
