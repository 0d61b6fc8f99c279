import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The dashboard. Built from the repo root with `vite build --config web/vite.config.ts` into
 * dist/web, which the server serves at `/` (with SPA fallback). `vite --config web/vite.config.ts`
 * runs a dev server that proxies the API to a running Shipshape (SHIPSHAPE_URL).
 */
export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      '/api': { target: process.env.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600', changeOrigin: false },
    },
  },
});
