#!/usr/bin/env node
// Entry point for `npx netclaim`: Node.js 24 runs the TypeScript sources directly.
import '../src/main.ts';
