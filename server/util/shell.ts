/** POSIX single-quoting: any string becomes one shell word. */
export const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Like sq, but plain words stay bare, so commands shown as evidence stay readable. */
export const shq = (s: string | number) => {
  const str = String(s);
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(str) ? str : sq(str);
};
