/** Files only the service user may read, written so a reader never sees half of one. */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export class FileExistsError extends Error {
  constructor(readonly file: string) {
    super(`${file} exists`);
  }
}

/**
 * Write `text` to `file` with mode 0600, atomically: a temp file next to it, fsynced, then renamed
 * over the old one (`replace`, the default) or linked into place, which fails with FileExistsError
 * when the file is already there (no check-then-write race).
 */
export function writePrivateFile(file: string, text: string, o: { replace?: boolean } = {}): void {
  const tmp = join(dirname(resolve(file)), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, 0o600);
    if (o.replace === false) {
      try {
        linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(file);
        throw e;
      }
    } else renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}
