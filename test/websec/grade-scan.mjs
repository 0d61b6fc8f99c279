// Grades each URL given with Shipshape's gradeHeaders (the built dist/) and prints one JSON line
// per URL: { url, grade, score, results } or { url, error }. Run as a child process with
// NODE_EXTRA_CA_CERTS naming the test certificate, like observatory-scan.mjs.
import { closeHeaderConnections, gradeHeaders } from '../../dist/websec/headers.js';

for (const url of process.argv.slice(2)) {
  try {
    const r = await gradeHeaders(url);
    const results = Object.fromEntries(r.tests.filter((t) => !t.informational).map((t) => [t.name, t.result]));
    process.stdout.write(`${JSON.stringify({ url, grade: r.grade, score: r.score, results })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ url, error: e instanceof Error ? e.message : String(e) })}\n`);
  }
}
await closeHeaderConnections();
