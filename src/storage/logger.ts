/** Where storage reports what an operator should know; it never prints. */
export interface StorageLogger {
  info(message: string): void;
  warn(message: string): void;
}

export const SILENT_LOGGER: StorageLogger = { info() {}, warn() {} };
