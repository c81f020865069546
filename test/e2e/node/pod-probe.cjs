// Experiments run inside netclaim's container with the image's own Node.js and
// the bundle's koffi (the image has no shell): `crictl exec CID /nodejs/bin/node
// -e "<this file>" COMMAND ARGS...`, so each runs with exactly the container's
// capabilities, seccomp profile, mounts and root (pod.e2e.test.ts). Prints one
// JSON object: what each step returned, errno names for failures.
//
//   bind SRC DST           bind-mount SRC on DST (DST created as an empty file
//                          first): how the daemon would pin a pod's netns
//   umount DST             umount2(DST, MNT_DETACH)
//   mounted PATH           whether this mount namespace has a mount at PATH
//   sysctl PATH VALUE      write VALUE to /proc/sys/PATH (the container's procfs)
//   procfs-sysctl DIR PATH VALUE
//                          mount a fresh procfs on DIR, write VALUE to DIR/sys/PATH,
//                          read it back, unmount DIR
//   write FILE TEXT        create FILE with TEXT (then `unlink FILE`)
//   unlink FILE
/* global require, process, console */
/* eslint-disable @typescript-eslint/no-require-imports -- run by `node -e` inside the image: CommonJS */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const koffi = require('/netclaim/node_modules/koffi');
const libc = koffi.load('libc.so.6');
const mount = libc.func('int mount(const char *src, const char *dst, const char *fstype, unsigned long flags, const void *data)');
const umount2 = libc.func('int umount2(const char *dst, int flags)');
const MS_BIND = 4096;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MNT_DETACH = 2;

const errnoName = (n) => Object.entries(os.constants.errno).find(([, v]) => v === n)?.[0] ?? String(n);
const sys = (rc) => (rc === 0 ? 'ok' : errnoName(koffi.errno()));
const fsOp = (f) => {
  try {
    const v = f();
    return v === undefined ? 'ok' : v;
  } catch (e) {
    return e.code ?? String(e);
  }
};
const mountedAt = (p) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);

const [cmd, a, b, c] = process.argv.slice(1);
const out = { cmd };
switch (cmd) {
  case 'bind':
    out.create = fsOp(() => fs.closeSync(fs.openSync(b, 'a')));
    out.mount = sys(mount(a, b, null, MS_BIND, null));
    out.mounted = mountedAt(b);
    break;
  case 'umount':
    out.umount = sys(umount2(a, MNT_DETACH));
    break;
  case 'mounted':
    out.mounted = mountedAt(a);
    break;
  case 'sysctl':
    out.write = fsOp(() => fs.writeFileSync(`/proc/sys/${a}`, b));
    break;
  case 'procfs-sysctl':
    out.mount = sys(mount('proc', a, 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, null));
    if (out.mount === 'ok') {
      out.write = fsOp(() => fs.writeFileSync(`${a}/sys/${b}`, c));
      out.read = fsOp(() => fs.readFileSync(`${a}/sys/${b}`, 'utf8').trim());
      out.umount = sys(umount2(a, MNT_DETACH));
    }
    break;
  case 'write':
    out.write = fsOp(() => fs.writeFileSync(a, b));
    break;
  case 'unlink':
    out.unlink = fsOp(() => fs.unlinkSync(a));
    break;
  default:
    out.error = `unknown command ${cmd}`;
}
console.log(JSON.stringify(out));
