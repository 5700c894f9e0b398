// The names and choices of an engine's settings in the environment (config.ts reads them for every engine in ENGINES).
import { STREAM_COMPRESSIONS } from './compression.js';
import type { DumpSource, EngineDefinition as Engine } from './types.js';

export interface EngineEnvNames {
  user: string;
  /** A secret. */
  password: string;
  compress: string;
  /** Where the engine has a verification server; its password is a secret. */
  verifyUrl?: string;
}

export function engineEnvNames(engine: Pick<Engine, 'key' | 'settings'>): EngineEnvNames {
  const key = engine.key.toUpperCase();
  return {
    user: `BACKUP_${key}_USER`,
    password: `BACKUP_${key}_PASSWORD`,
    compress: `BACKUP_COMPRESS_${key}`,
    ...(engine.settings.verifyServer ? { verifyUrl: `BACKUP_VERIFY_${key}_URL` } : {}),
  };
}

/** What BACKUP_COMPRESS_{KEY} takes: the stream compressions, and the dump tool's own where the engine has one. */
export function compressionChoices(engine: Pick<Engine, 'settings'>): [string, ...string[]] {
  const native = engine.settings.nativeCompression;
  return native === undefined ? [...STREAM_COMPRESSIONS] : [...STREAM_COMPRESSIONS, native];
}

/** A BACKUP_COMPRESS_{KEY} value → how the dump is compressed: by the pipeline, or by the dump tool itself. */
export function dumpCompression(engine: Pick<Engine, 'settings'>, setting: string): Pick<DumpSource, 'compression' | 'nativeCompression'> {
  if (setting === engine.settings.nativeCompression) return { compression: 'none', nativeCompression: true };
  const stream = STREAM_COMPRESSIONS.find((c) => c === setting);
  // config.ts let only the engine's choices through.
  if (stream === undefined) throw new Error(`'${setting}' is not a compression`);
  return { compression: stream };
}

/** The compressing choices of BACKUP_COMPRESS_{KEY} that need no zstd program (check's hint). */
export function choicesWithoutZstd(engine: Pick<Engine, 'settings'>): string[] {
  return compressionChoices(engine).filter((c) => c !== 'zstd' && c !== 'none');
}
