/** Structured log hook for the notify layer; the agent adapts it to its logger (pino). */
export type NotifyLog = (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
