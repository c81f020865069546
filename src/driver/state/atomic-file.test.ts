import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTempFileName, removeFileDurable, removeStaleTempFiles, replaceFile, syncDir, writeFileAtomic, type AtomicWriteStep } from './atomic-file.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nc-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('replaceFile (atomic, not fsynced)', () => {
  it('replaces by rename (a new inode) with the mode given, leaving no temp file', () => {
    const path = join(dir, 'spec.json');
    replaceFile(path, 'one', 0o644);
    const ino = statSync(path).ino;
    replaceFile(path, 'two', 0o644);
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(statSync(path).ino).not.toBe(ino);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['spec.json']);
  });

  it('leaves the old file and no temp file when the rename fails', () => {
    const path = join(dir, 'target');
    mkdirSync(path);
    expect(() => replaceFile(path, 'new')).toThrow(expect.objectContaining({ code: 'EISDIR', syscall: 'rename' }));
    expect(readdirSync(dir)).toEqual(['target']);
  });
});

describe('writeFileAtomic', () => {
  it('writes, replaces by rename (a new inode), and reports its steps in order', () => {
    const path = join(dir, 'f.json');
    writeFileAtomic(path, 'one');
    const ino = statSync(path).ino;
    const steps: AtomicWriteStep[] = [];
    writeFileAtomic(path, new TextEncoder().encode('two'), 0o644, { onStep: (s) => steps.push(s) });
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(statSync(path).ino).not.toBe(ino);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(steps).toEqual(['before-temp-write', 'after-temp-write', 'after-fsync', 'after-rename', 'after-dir-fsync']);
    expect(readdirSync(dir)).toEqual(['f.json']);
  });

  it('defaults to mode 0600 and writes large contents whole', () => {
    const path = join(dir, 'big');
    const big = 'x'.repeat(3 * 1024 * 1024 + 7);
    writeFileAtomic(path, big);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(big);
  });

  it('leaves the old file and no temp file when the rename fails', () => {
    const path = join(dir, 'target');
    mkdirSync(path);
    expect(() => writeFileAtomic(path, 'x')).toThrow(expect.objectContaining({ code: 'EISDIR', syscall: 'rename' }));
    expect(readdirSync(dir)).toEqual(['target']);
  });

  it('accepts an open directory descriptor for the directory fsync', () => {
    const path = join(dir, 'f');
    const fd = openSync(dir, 'r');
    try {
      writeFileAtomic(path, 'a', 0o600, { dirFd: fd });
      expect(removeFileDurable(path, { dirFd: fd })).toBe(true);
      syncDir(fd);
    } finally {
      closeSync(fd);
    }
  });
});

describe('removeFileDurable', () => {
  it('removes a file, and a missing one is not an error', () => {
    const path = join(dir, 'f');
    writeFileSync(path, 'x');
    const steps: string[] = [];
    expect(removeFileDurable(path, { onStep: (s) => steps.push(s) })).toBe(true);
    expect(steps).toEqual(['before-unlink', 'after-unlink']);
    expect(removeFileDurable(path)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('throws the fs error when the unlink fails', () => {
    mkdirSync(join(dir, 'd'));
    expect(() => removeFileDurable(join(dir, 'd'))).toThrow(expect.objectContaining({ code: 'EISDIR' }));
  });
});

describe('removeStaleTempFiles', () => {
  it('removes only temp names, narrowed by the filter', () => {
    for (const n of ['.a.json.tmp-1-1', '.b.json.tmp-22-333', '.other.tmp-1-2', 'a.json', '.a.json', 'x.tmp-1-1', '.a.json.tmp-1']) {
      writeFileSync(join(dir, n), '');
    }
    expect(removeStaleTempFiles(dir, (n) => n.includes('.json.')).sort()).toEqual(['.a.json.tmp-1-1', '.b.json.tmp-22-333']);
    expect(removeStaleTempFiles(dir)).toEqual(['.other.tmp-1-2']);
    expect(readdirSync(dir).sort()).toEqual(['.a.json', '.a.json.tmp-1', 'a.json', 'x.tmp-1-1']);
  });

  it('recognises the names writeFileAtomic uses', () => {
    expect(isTempFileName(`.f.json.tmp-${process.pid}-1`)).toBe(true);
    expect(isTempFileName('f.json')).toBe(false);
  });
});
