// The events file on disk: read at start-up, re-read when it changes, last good copy kept.
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";

import { type Catalog, EventsFileError, parseCatalog } from "./catalog.js";
import type { Health } from "./contract.js";

interface Loaded {
  catalog: Catalog;
  signature: string;
  loadedAt: Date;
}

async function signatureOf(path: string): Promise<string> {
  const info = await stat(path);
  return `${info.ino}:${info.size}:${info.mtimeMs}`;
}

function reasonOf(error: unknown): string {
  if (error instanceof EventsFileError) {
    return error.problems.join("; ");
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The events file. A request that finds the file changed re-reads it; if the new copy cannot be
 * read or is invalid, the last good copy goes on being served and health says `degraded`
 * (an empty or partial answer would make the base service mark events removed).
 */
export class EventsFile {
  private failure: string | null = null;
  private checking: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    private loaded: Loaded,
  ) {}

  /** Reads the file; throws (EventsFileError or a file-system error) if it cannot be used. */
  static async open(path: string): Promise<EventsFile> {
    return new EventsFile(path, await EventsFile.read(path));
  }

  private static async read(path: string): Promise<Loaded> {
    const signature = await signatureOf(path);
    const catalog = parseCatalog(await readFile(path, "utf8"), basename(path));
    return { catalog, signature, loadedAt: new Date() };
  }

  /** The current catalog, re-read first if the file changed since it was last read. */
  async catalog(): Promise<Catalog> {
    this.checking ??= this.refresh().finally(() => {
      this.checking = null;
    });
    await this.checking;
    return this.loaded.catalog;
  }

  private async refresh(): Promise<void> {
    try {
      if ((await signatureOf(this.path)) === this.loaded.signature) {
        this.failure = null;
        return;
      }
      this.loaded = await EventsFile.read(this.path);
      this.failure = null;
      console.log(`re-read ${basename(this.path)}: ${this.summary()}`);
    } catch (error) {
      const reason = reasonOf(error);
      if (reason !== this.failure) {
        console.error(
          `cannot re-read ${basename(this.path)}, serving the last good copy: ${reason}`,
        );
      }
      this.failure = reason;
    }
  }

  summary(): string {
    const { venues, templates } = this.loaded.catalog;
    return `${venues.length} venues, ${templates.length} event entries`;
  }

  /** `ok` while the file reads; `degraded` while a changed file cannot be used. */
  async health(): Promise<Health> {
    await this.catalog();
    const name = basename(this.path);
    if (this.failure === null) {
      return { status: "ok", detail: `${this.summary()} from ${name}` };
    }
    const detail =
      `${name} cannot be re-read (${this.failure}); ` +
      `serving the copy read at ${this.loaded.loadedAt.toISOString()}: ${this.summary()}`;
    return { status: "degraded", detail: detail.slice(0, 2000) };
  }
}
