import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure code, no privileges) and `kernel` (real netlink
// in throwaway namespaces, root). Kernel test files run in separate processes
// (forks), never threads: setns is per-thread and ffi-rs must load on a main thread.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
          exclude: ['**/*.kernel.test.ts', '**/node_modules/**'],
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'kernel',
          include: ['src/**/*.kernel.test.ts', 'test/**/*.kernel.test.ts'],
          pool: 'forks',
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
