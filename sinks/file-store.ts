/**
 * The file system a file sink commits to: a local folder, or HDFS through WebHDFS. The commit
 * protocol needs only these operations.
 */
export interface FileStore {
  /** Human-readable location, for logs. */
  readonly description: string;
  mkdirs(path: string): Promise<void>;
  /** Creates or overwrites a file with the whole content, durably. */
  writeFile(path: string, content: string): Promise<void>;
  /** Renames unless the target exists; false when it did (the commit was already done). */
  renameNoReplace(from: string, to: string): Promise<boolean>;
  delete(path: string): Promise<void>;
}
