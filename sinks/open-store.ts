import type { FileStore } from './file-store.ts';
import { LocalFileStore } from './local-store.ts';
import { RetryingFileStore } from './retrying-store.ts';
import { WebHdfsFileStore, parseHdfsUrl, type WebHdfsOptions } from './webhdfs-store.ts';
import { RetailStreamsError } from '../topology/api/errors.ts';
import type { Logger } from '../topology/api/log.ts';
import { retrying, type RetryPolicy } from '../topology/internals/retry.ts';

/** The first check of an HDFS sink: a few retries over ~8 s, so a wrong URL fails fast. */
const HDFS_CHECK_POLICY: RetryPolicy = { initialDelayMs: 500, factor: 2, maxDelayMs: 4_000, giveUpAfterMs: 30_000, maxRetries: 4, giveUpAs: 'sink-unavailable' };

/**
 * The file store a `--sink` names: a local folder (the default), or `hdfs://host:port/path`
 * (host and port of the NameNode's WebHDFS HTTP endpoint, 9870 by default).
 *
 * An HDFS sink is checked at once (GETFILESTATUS and MKDIRS of the base folder, a few retries
 * over ~8 s, then a clear `sink-unavailable` error), then wrapped so that every later operation
 * retries through an outage for up to 10 minutes. `log` gets the HDFS retries and outages.
 */
export async function openFileStore(sink: string, log: Logger, hdfsOptions: Pick<WebHdfsOptions, 'ca' | 'delegationToken'> = {}): Promise<FileStore> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(sink) && !sink.startsWith('hdfs://') && !sink.startsWith('swebhdfs://')) {
    throw new RetailStreamsError('invalid-argument', `--sink ${sink}: expected a local folder, hdfs://host:port/path or swebhdfs://host:port/path (https)`);
  }
  if (sink.startsWith('hdfs://') || sink.startsWith('swebhdfs://')) return openHdfs(sink, log, hdfsOptions);
  const { mkdir } = await import('node:fs/promises');
  try {
    await mkdir(sink, { recursive: true });
  } catch (e) {
    throw new RetailStreamsError('sink-unavailable', `cannot create --sink ${sink}: ${(e as Error).message}`, { cause: e });
  }
  return new LocalFileStore(sink);
}

async function openHdfs(sink: string, log: Logger, o: Pick<WebHdfsOptions, 'ca' | 'delegationToken'>): Promise<FileStore> {
  const hdfs = new WebHdfsFileStore(parseHdfsUrl(sink), { timeoutMs: 10_000, ...o });
  try {
    await retrying(
      `HDFS (WebHDFS ${hdfs.location.endpoint}, user ${hdfs.user})`,
      async () => {
        const status = await hdfs.getFileStatus('');
        if (status !== null && status.type !== 'DIRECTORY') {
          throw new RetailStreamsError('io', `${hdfs.location.basePath} on HDFS is a ${status.type.toLowerCase()}, not a folder`);
        }
        if (status === null) await hdfs.mkdirs('');
      },
      HDFS_CHECK_POLICY,
      log,
    );
  } catch (e) {
    const message = (e as Error).message;
    throw new RetailStreamsError('sink-unavailable', `cannot use --sink ${sink}: ${message.startsWith('HDFS (') ? '' : `HDFS (WebHDFS ${hdfs.location.endpoint}): `}${message}`, { cause: e });
  }
  log.info(`writing KPI files to ${hdfs.description}${o.delegationToken === undefined ? ` as ${hdfs.user}` : ''}`);
  return new RetryingFileStore(new WebHdfsFileStore(hdfs.location, { user: hdfs.user, ...o }), log);
}
