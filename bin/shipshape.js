#!/usr/bin/env -S node --min-semi-space-size=8 --max-semi-space-size=8 --heap-growing-percent=30
// --min/max-semi-space-size=8: a young generation of 8 MB a semi-space from the start. With 2 MB
// (or 4) the server was about 9 MB smaller with 1,000 checks, but the public status page under
// load served only 0.42-0.60x of a bare Node server; with 8 it serves 0.81-0.88x, and setting the
// minimum too made every run fast, not only those in which V8 grew the young generation early
// (`npm run bench -- statuspage http1k` with BENCH_NODE_ARGS compares flags).
// --heap-growing-percent=30: after a full GC the old generation may grow by 30% before the next
// one; V8's default lets it grow up to 4x, so a server that settles at 45 MB of live heap went to
// 120 MB of mostly garbage before collecting. `npm start` and the benchmarks pass the same flags.
import '../dist/bundle/shipshape.js';
