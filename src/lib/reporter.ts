/** Progress narration for people (STYLE.md habit 8). Domain code reports; the CLI decides how it looks. */
export interface Reporter {
  step(message: string): void;
  done(message: string): void;
  warn(message: string): void;
  info(message: string): void;
}

export const silentReporter: Reporter = { step() {}, done() {}, warn() {}, info() {} };

/** Step lines on stderr with elapsed time, so stdout stays clean for --json. */
export function createConsoleReporter(stream: NodeJS.WritableStream = process.stderr, clock = () => performance.now()): Reporter {
  const t0 = clock();
  const stamp = () => `[${((clock() - t0) / 1000).toFixed(1).padStart(5)}s]`;
  const write = (mark: string, m: string) => stream.write(`${stamp()} ${mark} ${m}\n`);
  return {
    step: (m) => write('→', m),
    done: (m) => write('✓', m),
    warn: (m) => write('!', m),
    info: (m) => write(' ', m),
  };
}
