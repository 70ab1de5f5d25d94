// The output of a data-set run: a JSONL file, appended to one whole line at a time, so that
//   - a rerun resumes: the ids already in the file are skipped;
//   - a crash loses at most the line being written: a last line without its newline is incomplete
//     (every line is written together with its newline) and is cut off when the file is reopened;
//   - the file is fsync'ed every second and when closed, so even a power cut leaves whole lines
//     up to the last sync (and the cut above repairs the rest).
import { createReadStream } from 'node:fs';
import { open, truncate, type FileHandle } from 'node:fs/promises';

const SYNC_EVERY_MS = 1000;

export interface ExistingOutput {
  /** Ids of the whole lines already in the file. */
  ids: Set<string>;
  /** Bytes of a trailing incomplete line that were cut off (0 when none). */
  cutBytes: number;
}

/**
 * Reads the ids of an existing output file (absent file: none) and cuts an incomplete last line. A
 * whole line that is not a JSON object with a string id means this is not a layerlens batch output:
 * that is an error, and the file is left alone.
 */
export async function scanOutput(path: string): Promise<ExistingOutput> {
  const ids = new Set<string>();
  let lineStart = 0; // byte offset of the current line
  let offset = 0;
  let pending: Buffer[] = [];
  let lineNo = 0;
  const take = (bytes: Buffer) => {
    lineNo++;
    const text = bytes.toString('utf8');
    if (text.trim() === '') return;
    let id: unknown;
    try {
      id = (JSON.parse(text) as { id?: unknown }).id;
    } catch {
      id = undefined;
    }
    if (typeof id !== 'string')
      throw new Error(`${path}:${lineNo} is not a line of a layerlens batch output (a JSON object with a string "id"); give another --out file`);
    ids.add(id);
  };
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, from)) {
        pending.push(chunk.subarray(from, nl));
        take(Buffer.concat(pending));
        pending = [];
        from = nl + 1;
        lineStart = offset + from;
      }
      if (from < chunk.length) pending.push(Buffer.from(chunk.subarray(from)));
      offset += chunk.length;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ids, cutBytes: 0 };
    throw err;
  }
  const cutBytes = offset - lineStart;
  if (cutBytes > 0) await truncate(path, lineStart);
  return { ids, cutBytes };
}

/** Appends whole JSON lines to a file. */
export class OutputWriter {
  #file: FileHandle;
  #lastSync = Date.now();

  private constructor(file: FileHandle) {
    this.#file = file;
  }

  static async open(path: string): Promise<OutputWriter> {
    return new OutputWriter(await open(path, 'a'));
  }

  /** Writes `value` as one line (one write call: the line and its newline together). */
  async writeLine(value: unknown): Promise<void> {
    const bytes = Buffer.from(JSON.stringify(value) + '\n', 'utf8');
    for (let at = 0; at < bytes.length;) {
      const { bytesWritten } = await this.#file.write(bytes, at, bytes.length - at);
      at += bytesWritten;
    }
    if (Date.now() - this.#lastSync >= SYNC_EVERY_MS) {
      await this.#file.datasync();
      this.#lastSync = Date.now();
    }
  }

  async close(): Promise<void> {
    await this.#file.datasync();
    await this.#file.close();
  }
}
