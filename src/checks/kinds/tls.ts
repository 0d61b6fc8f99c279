/**
 * `tls`: handshake with a TLS server and report on its certificate (days left, issuer, chain
 * validity, host name match). Connects without verification so it can report on bad certificates.
 */
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { z } from 'zod';
import { egressCheck, egressLookup } from '../../core/egress.js';
import type { CheckKind, Observation } from '../types.js';
import { certValues, deadline, elapsed, failed, hostPort, mentions, networkErrorText, tlsCodeText } from './_util.js';

const spec = z
  .object({
    host: z.string().min(1).meta({ description: 'host name or IP address to connect to' }),
    port: z.number().int().min(1).max(65535).default(443).meta({ description: 'TCP port (default 443)' }),
    servername: z.string().min(1).optional().meta({ description: 'name sent with SNI and matched against the certificate (default: host)' }),
    min_days: z
      .number()
      .nonnegative()
      .optional()
      .meta({ description: 'fail when the certificate expires in fewer days than this (default 14)' }),
    allow_self_signed: z
      .boolean()
      .default(false)
      .meta({ description: 'do not require a certificate chain trusted by the system CAs (default false)' }),
  })
  .strict();

function dn(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
}

function altNames(cert: PeerCertificate): string[] {
  if (!cert.subjectaltname) return [];
  return cert.subjectaltname.split(/,\s*/).map((s) => s.replace(/^(DNS|IP Address):/, ''));
}

export const tls: CheckKind<typeof spec> = {
  name: 'tls',
  spec,
  impliedConditions(s, userConditions) {
    const out: string[] = [];
    if (s.min_days !== undefined || !mentions(userConditions, 'cert.days', 'cert.expires_in', 'cert.expires_at')) out.push(`cert.days > ${s.min_days ?? 14}`);
    if (!mentions(userConditions, 'hostname_match')) out.push('hostname_match == true');
    if (!s.allow_self_signed && !mentions(userConditions, 'cert.authorized')) out.push('cert.authorized == true');
    return out;
  },
  describe(s) {
    const sni = s.servername && s.servername !== s.host ? ` (${s.servername})` : '';
    return `tls ${hostPort(s.host, s.port ?? 443)}${sni}`;
  },
  run(s, ctx) {
    const start = performance.now();
    const dl = deadline(ctx, s.timeout);
    const name = s.servername ?? s.host;
    // a literal IP (which no lookup sees) or a denied name: refused before any socket
    const denied = egressCheck(s.host);
    if (denied) {
      dl.dispose();
      return Promise.resolve(failed(start, denied));
    }
    return new Promise<Observation>((resolve) => {
      const socket = connect({
        host: s.host,
        port: s.port,
        lookup: egressLookup,
        // SNI must not be an IP address (RFC 6066)
        ...(isIP(name) === 0 ? { servername: name } : {}),
        rejectUnauthorized: false,
      });
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
      socket.once('secureConnect', () => {
        const latencyMs = elapsed(start);
        const cert = socket.getPeerCertificate();
        if (!cert || Object.keys(cert).length === 0) {
          finish({ ok: false, latencyMs, error: 'TLS error: the server sent no certificate', values: {} });
          return;
        }
        const validity = certValues(cert.valid_to, ctx.now());
        const authError = socket.authorizationError as unknown;
        const authCode = authError ? String(typeof authError === 'object' && authError !== null && 'code' in authError ? (authError as { code: unknown }).code : authError) : null;
        const mismatch = checkServerIdentity(name, cert);
        finish({
          ok: true,
          latencyMs,
          values: {
            cert: {
              ...validity,
              issuer: dn(cert.issuer),
              subject: dn(cert.subject),
              alt_names: altNames(cert),
              serial: cert.serialNumber,
              fingerprint256: cert.fingerprint256,
              authorized: socket.authorized,
              authorization_error: authCode,
              authorization_error_text: authCode ? tlsCodeText(authCode) : null,
            },
            hostname_match: mismatch === undefined,
            protocol: socket.getProtocol(),
            ip: socket.remoteAddress,
          },
        });
      });
      socket.on('error', (err) => finish(failed(start, networkErrorText(err, s.host, s.port))));
      if (dl.signal.aborted) onAbort();
      else dl.signal.addEventListener('abort', onAbort, { once: true });
    });
  },
};
