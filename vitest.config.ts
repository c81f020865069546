import { defineConfig } from 'vitest/config';

// Four projects: `unit` (pure code, no privileges), `kernel` (real netlink
// in throwaway namespaces, root), `conformance` (T3: upstream kube-apiserver +
// etcd built from Go modules by test/conformance/build.sh, one control plane per
// run from its globalSetup) and `e2e` (T4: a kubelet + containerd node, one per
// run). Kernel test files run in separate processes (forks), never threads: setns
// is per-thread and ffi-rs must load on a main thread.
/** A failed property's report carries the failed assertion's text (test/lib/fast-check-setup.ts). */
const setupFiles = ['test/lib/fast-check-setup.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
          exclude: ['**/*.kernel.test.ts', '**/*.conformance.test.ts', '**/*.e2e.test.ts', '**/node_modules/**'],
          pool: 'forks',
          setupFiles,
          // Property tests run hundreds of cases; on a loaded 2-CPU machine one took 5.8 s against
          // vitest's 5 s default (merge.test.ts, associativity). A hang still fails, later.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'kernel',
          include: ['src/**/*.kernel.test.ts', 'test/**/*.kernel.test.ts'],
          pool: 'forks',
          setupFiles,
          // Inside the QEMU lane everything runs under TCG, 5-15 times slower: the same tests get more time.
          testTimeout: process.env['NETCLAIM_IN_VM'] === '1' ? 240_000 : 30_000,
          hookTimeout: process.env['NETCLAIM_IN_VM'] === '1' ? 240_000 : 30_000,
        },
      },
      {
        test: {
          name: 'conformance',
          include: ['test/conformance/**/*.conformance.test.ts', 'test/deploy/**/*.conformance.test.ts'],
          pool: 'forks',
          setupFiles,
          globalSetup: ['test/conformance/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          pool: 'forks',
          setupFiles,
          // One node for the run: files take turns (each deploys its own netclaim DaemonSet pod).
          fileParallelism: false,
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
