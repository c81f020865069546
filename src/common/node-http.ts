/**
 * node:http, for the modules of the daemon that need it.
 *
 * Not `import … from 'node:http'`: an ESM import of a builtin makes Node build
 * its ESM facade, which reads every export, and http's lazy WebSocket,
 * MessageEvent and EventSource getters then load undici — about 13 MB of RSS
 * for the life of the daemon, which never uses them (docs/benchmarks.md,
 * "daemon"). process.getBuiltinModule hands over the CommonJS object as it is.
 * test/cli/lazy-load.test.ts checks that `netclaim run` never loads undici.
 * Types still come from `import type … from 'node:http'` (erased at build).
 */
export const nodeHttp = process.getBuiltinModule('node:http');
