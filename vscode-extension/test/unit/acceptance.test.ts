import assert from 'node:assert/strict';
import { test } from 'node:test';

import { attachAcceptReport, CommandLike, REPORT_ACCEPTED_COMMAND } from '../../src/core/acceptance';

test('items without a command get one that reports the accepted text', () => {
  const items: { insertText: string | { value: string }; command?: CommandLike }[] = [
    { insertText: 'return a + b' },
    { insertText: { value: 'snippet ${1}' } },
  ];
  attachAcceptReport(items, 'file:///a.py', { line: 3, character: 4 });
  assert.equal(items[0].command?.command, REPORT_ACCEPTED_COMMAND);
  assert.deepEqual(items[0].command?.arguments, [
    { uri: 'file:///a.py', position: { line: 3, character: 4 }, text: 'return a + b', acceptedLength: 12 },
  ]);
  assert.deepEqual((items[1].command?.arguments?.[0] as { text: string }).text, 'snippet ${1}');
});

test("the server's own command is kept, so an acceptance is not counted twice", () => {
  const own: CommandLike = { title: 'accept', command: 'ghostls.didAccept', arguments: ['id-1'] };
  const items = [{ insertText: 'x', command: own }];
  attachAcceptReport(items, 'file:///a.py', { line: 0, character: 0 });
  assert.equal(items[0].command, own);
});
