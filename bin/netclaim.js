#!/usr/bin/env node
// Entry point for `npx netclaim` (docs/cli.md, "Start-up"): the bundle
// (dist/netclaim.mjs, `npm run bundle`) when its stamp matches these sources,
// else the TypeScript sources, which Node.js 24 runs directly. Either way
// through Node's compile cache, so that later starts skip parsing, type
// stripping and compiling what an earlier one did. NETCLAIM_NO_BUNDLE=1 runs
// the sources even when the bundle is fresh.
import { enableCompileCache } from 'node:module';
import process from 'node:process';
import { isBundleFresh } from './bundle-stamp.js';

enableCompileCache();
const root = `${import.meta.dirname}/..`;
const bundled = process.env.NETCLAIM_NO_BUNDLE !== '1' && isBundleFresh(root, `${root}/dist`);
await import(bundled ? '../dist/netclaim.mjs' : '../src/main.ts');
