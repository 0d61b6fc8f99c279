// Runs the real MDN HTTP Observatory scanner (@mdn/mdn-http-observatory, installed by parity.test.ts) on the
// hosts given as arguments and prints one JSON line per host: { host, grade, score, results } or
// { host, error }. Run as a child process with NODE_EXTRA_CA_CERTS naming the test certificate, so
// the scanner trusts the loopback HTTPS server the way it trusts a public one.
import { scan } from '@mdn/mdn-http-observatory';

for (const host of process.argv.slice(2)) {
  try {
    const r = await scan(host);
    const results = Object.fromEntries(Object.values(r.tests).map((t) => [t.constructor.name, t.result]));
    process.stdout.write(`${JSON.stringify({ host, grade: r.scan.grade, score: r.scan.score, results })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ host, error: e instanceof Error ? e.message : String(e) })}\n`);
  }
}
