import { LIMITS } from './protocol.ts';

// The commands of a lab's timeline are read off the terminal's screen, not off the keystrokes: when
// Enter is pressed, the line under the cursor is what the shell received, after readline's editing,
// tab completion and history recall (none of which a keystroke log can replay). Every lab shell's
// prompt ends in `# ` or `$ ` (bash, sh, the kind pods' `root@<pod>:/# `), and interactive tools such
// as nslookup prompt with `> `: the text after the first of them is the command. A line without a
// prompt (a password prompt, input read by a program) is nobody's command.

const PROMPT_END = /[#$>] /;

/** The command on a screen line that Enter was pressed on, or null when there is none. */
export function commandOnLine(line: string): string | null {
  const m = PROMPT_END.exec(line);
  if (!m) return null;
  const command = line.slice(m.index + m[0].length).trim();
  if (!command) return null;
  return command.length > LIMITS.COMMAND_MAX_CHARS ? `${command.slice(0, LIMITS.COMMAND_MAX_CHARS - 1)}…` : command;
}
