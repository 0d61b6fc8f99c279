/** `tcp`: can a TCP connection be opened to host:port? */
import { connect } from 'node:net';
import { z } from 'zod';
import { egressCheck, egressLookup } from '../../core/egress.js';
import type { CheckKind, Observation } from '../types.js';
import { deadline, elapsed, failed, hostPort, networkErrorText } from './_util.js';

const spec = z
  .object({
    host: z.string().min(1).meta({ description: 'host name or IP address to connect to' }),
    port: z.number().int().min(1).max(65535).meta({ description: 'TCP port' }),
  })
  .strict();

export const tcp: CheckKind<typeof spec> = {
  name: 'tcp',
  spec,
  impliedConditions() {
    return ['connected == true'];
  },
  describe(s) {
    return `tcp ${hostPort(s.host, s.port)}`;
  },
  run(s, ctx) {
    const start = performance.now();
    // a literal IP (which no lookup sees) or a denied name: refused before any socket
    const denied = egressCheck(s.host);
    if (denied) return Promise.resolve(failed(start, denied));
    const dl = deadline(ctx, s.timeout);
    return new Promise<Observation>((resolve) => {
      const socket = connect({ host: s.host, port: s.port, lookup: egressLookup });
      let done = false;
      const finish = (obs: Observation): void => {
        if (done) return;
        done = true;
        dl.signal.removeEventListener('abort', onAbort);
        dl.dispose();
        socket.destroy();
        resolve(obs);
      };
      const onAbort = (): void => finish(failed(start, dl.reason()));
      socket.once('connect', () =>
        finish({ ok: true, latencyMs: elapsed(start), values: { connected: true, ip: socket.remoteAddress } }),
      );
      socket.on('error', (err) => finish(failed(start, networkErrorText(err, s.host, s.port))));
      if (dl.signal.aborted) onAbort();
      else dl.signal.addEventListener('abort', onAbort, { once: true });
    });
  },
};
