import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The Rust server serves web/dist at `/` (SPA fallback to index.html for
// non-/api paths). During `npm run dev`, /api is proxied to a local server.
export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': {
        target: process.env.COPYDESK_DEV_API ?? 'http://127.0.0.1:8080',
        changeOrigin: false,
        ws: true,
      },
    },
  },
});
