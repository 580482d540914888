export async function main(argv: string[]): Promise<number> {
  console.error(`netdojo: not yet wired: ${argv.join(' ')}`);
  return 2;
}
