/** Structured JSON-lines log of the daemon (STYLE.md habit 8): one object per line, with a time. */
export type Log = (msg: string, fields?: Record<string, unknown>) => void;

export function createJsonLog(stream: NodeJS.WritableStream, base: Record<string, unknown> = {}, clock: () => number = Date.now): Log {
  return (msg, fields = {}) => {
    stream.write(`${JSON.stringify({ time: new Date(clock()).toISOString(), msg, ...base, ...fields })}\n`);
  };
}
