#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=30
// --max-semi-space-size=2: a small young generation keeps the server's memory low (it allocates
// little per check run). --heap-growing-percent=30: after a full GC the old generation may grow by
// 30% before the next one; V8's default lets it grow up to 4x, so a server that settles at 45 MB
// of live heap went to 120 MB of mostly garbage before collecting. `npm start` and the benchmarks
// pass the same flags.
import '../dist/cli/main.js';
