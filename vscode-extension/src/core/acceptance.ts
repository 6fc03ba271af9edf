// Tells the server which suggestion the user took. An item that already carries the server's own
// command (it reports itself) is left alone; the others get a client command that sends
// "ghostls/didAccept" when VS Code runs it, which it does when the user accepts the item.

export const REPORT_ACCEPTED_COMMAND = 'ghostls.client.reportAccepted';

export interface CommandLike {
  title: string;
  command: string;
  arguments?: unknown[];
}

export interface AcceptParams {
  uri: string;
  position: { line: number; character: number };
  text: string;
  /** The same field the server's own command sends. */
  acceptedLength: number;
}

export interface ItemLike {
  insertText: string | { value: string };
  command?: CommandLike;
}

export function attachAcceptReport<T extends ItemLike>(
  items: readonly T[],
  uri: string,
  position: { line: number; character: number },
): T[] {
  for (const item of items) {
    if (item.command !== undefined) {
      continue;
    }
    const text = typeof item.insertText === 'string' ? item.insertText : item.insertText.value;
    const params: AcceptParams = {
      uri,
      position: { line: position.line, character: position.character },
      text,
      acceptedLength: text.length,
    };
    item.command = { title: 'ghostls: suggestion accepted', command: REPORT_ACCEPTED_COMMAND, arguments: [params] };
  }
  return [...items];
}
