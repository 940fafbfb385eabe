import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** The outcome of one run of a hypervisor's command-line tool. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Thrown when the tool is not on PATH, so providers can turn it into status 'tool-missing'. */
export class ToolMissingError extends Error {
  constructor(readonly tool: string) {
    super(`${tool} not found on PATH`);
    this.name = 'ToolMissingError';
  }
}

export interface RunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs a tool with an argument array (never a shell: names from definitions and hypervisors reach
 * us as arguments and must not be interpreted). A non-zero exit is returned, not thrown, because
 * callers map tool errors to their own messages; a timeout or abort throws.
 */
export function runTool(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        // LC_ALL=C: tools translate their messages and states ("ausgeschaltet"); we parse English.
        env: { ...process.env, ...opts.env, LC_ALL: 'C', LANG: 'C' },
        signal: opts.signal,
        windowsHide: true,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string | null };
        if (e.code === 'ENOENT') return reject(new ToolMissingError(cmd));
        if (e.name === 'AbortError') return reject(e);
        if (e.killed || (e.signal && typeof e.code !== 'number')) {
          return reject(new Error(`${cmd} ${args[0] ?? ''} timed out or was killed (${e.signal ?? 'killed'}): ${stderr.trim()}`));
        }
        resolve({ code: typeof e.code === 'number' ? e.code : 1, stdout, stderr });
      },
    );
  });
}

/**
 * Runs a tool like runTool but hands its standard output to `onLine` line by line as it comes,
 * without keeping it (for outputs that grow with the input, e.g. `qemu-img map` of a fragmented
 * disk); `stdout` of the answer is empty. A throw from `onLine` stops the tool and is thrown.
 */
export function runToolLines(cmd: string, args: readonly string[], onLine: (line: string) => void, opts: RunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env, LC_ALL: 'C', LANG: 'C' },
      ...(opts.signal ? { signal: opts.signal } : {}),
      windowsHide: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Our own timer, not spawn's `timeout`: spawn clears that one on 'exit' only, which a tool that
    // is not installed never emits, so its timer held every process that had tried it (a backup
    // without qemu-img stayed alive two minutes after it ended).
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs ?? 60_000);
    let stderr = '';
    let failed: unknown;
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 64 * 1024) stderr += d;
    });
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      if (failed !== undefined) return;
      try {
        onLine(line);
      } catch (e) {
        failed = e;
        child.kill();
      }
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') reject(new ToolMissingError(cmd));
      else reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failed !== undefined) return reject(failed);
      if (code === null) return reject(new Error(`${cmd} ${args[0] ?? ''} timed out or was killed (${signal ?? 'killed'}): ${stderr.trim()}`));
      resolve({ code, stdout: '', stderr });
    });
  });
}

/** The first meaningful line of a tool's error output, for messages shown to an admin. */
export function firstErrorLine(r: ToolResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^error:/i.test(l)) ?? lines[0] ?? `exit code ${r.code}`;
}
