import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // files share no state (own temp dirs, databases, ports), and most of a file's time is spent
    // waiting on servers and child processes: three at a time on two cores (vitest's default would
    // be one) takes the suite from about 11 to about 7 minutes
    maxWorkers: 3,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
