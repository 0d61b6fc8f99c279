#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2: a small young generation keeps the server's memory low (it allocates
// little per check run); `npm start` and the benchmarks pass the same flag.
import '../dist/cli/main.js';
