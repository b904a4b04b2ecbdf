import type { FileStore } from './file-store.ts';
import { LocalFileStore } from './local-store.ts';
import { RetailStreamsError } from '../topology/api/errors.ts';

/**
 * The file store a `--sink` names: a local folder (the default), or `hdfs://host:port/path`
 * (host and port of the NameNode's WebHDFS HTTP endpoint).
 */
export async function openFileStore(sink: string): Promise<FileStore> {
  if (sink.startsWith('hdfs://')) throw new RetailStreamsError('invalid-argument', '--sink hdfs:// is not built yet; use a local folder');
  const { mkdir } = await import('node:fs/promises');
  try {
    await mkdir(sink, { recursive: true });
  } catch (e) {
    throw new RetailStreamsError('sink-unavailable', `cannot create --sink ${sink}: ${(e as Error).message}`, { cause: e });
  }
  return new LocalFileStore(sink);
}
