/** Reading what subscribers receive: decoded mail bodies, links, headers. */
import { createServer } from 'node:net';

/** Quoted-printable soft breaks and escapes undone (RFC 2045 6.7), so links can be read whole. */
export function decodeMail(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** The first link in a mail's plain-text body that contains `part`. */
export function linkIn(raw: string, part: string): string {
  const m = new RegExp(`https?://[^\\s"<>]*${part}[^\\s"<>]*`).exec(decodeMail(raw));
  if (!m) throw new Error(`no link with "${part}" in the mail:\n${raw}`);
  return m[0];
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
