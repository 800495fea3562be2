/** "1 table", "2 tables": a count with its noun, in the plural unless it is one. */
export const counted = (n: number, noun: string, plural = `${noun}s`): string => `${n} ${n === 1 ? noun : plural}`;
