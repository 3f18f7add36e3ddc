import { afterEach, describe, expect, it } from 'vitest';
import { approvalLimit, approvalRowsOver } from '../../../local/cli/commands/run.ts';
import { approveCommandFor, shellWord } from '../../../local/cli/ledger-source.ts';

describe('the local approval limit', () => {
  const saved = process.env.APPROVAL_ROWS_OVER;
  afterEach(() => {
    if (saved === undefined) delete process.env.APPROVAL_ROWS_OVER;
    else process.env.APPROVAL_ROWS_OVER = saved;
  });

  it('reads --approve-over as rows, 0, or off', () => {
    // Prepare / Act / Assess
    expect(approvalLimit('250')).toBe(250);
    expect(approvalLimit('0')).toBe(0);
    expect(approvalLimit('OFF')).toBeNull();
    expect(() => approvalLimit('1e3')).toThrow('must be a whole number of rows, or "off".');
    expect(() => approvalLimit('-1')).toThrow('must be a whole number of rows, or "off".');
  });

  it('takes the option first, then $APPROVAL_ROWS_OVER, then 1,000 as in AWS', () => {
    // Prepare
    delete process.env.APPROVAL_ROWS_OVER;
    const byDefault = approvalRowsOver({});
    process.env.APPROVAL_ROWS_OVER = 'off';
    const offByEnv = approvalRowsOver({});
    const optionWins = approvalRowsOver({ approveOver: 40 });
    process.env.APPROVAL_ROWS_OVER = ' 75 ';
    const byEnv = approvalRowsOver({});
    const optionOff = approvalRowsOver({ approveOver: null });

    // Assess
    expect(byDefault).toBe(1_000);
    expect(offByEnv).toBeNull();
    expect(optionWins).toBe(40);
    expect(byEnv).toBe(75);
    expect(optionOff).toBeNull();
  });

  it('names the variable when $APPROVAL_ROWS_OVER is not a number of rows', () => {
    // Prepare
    process.env.APPROVAL_ROWS_OVER = 'lots';

    // Act / Assess
    expect(() => approvalRowsOver({})).toThrow(
      'APPROVAL_ROWS_OVER must be a whole number of rows or "off" (got "lots")',
    );
  });
});

describe('the approve command a status shows', () => {
  it('names the stack, or a state dir other than the default, quoted for a shell', () => {
    // Prepare / Act / Assess
    expect(approveCommandFor('staff-1a2b', {})).toBe('gift-batch approve staff-1a2b');
    expect(approveCommandFor('staff-1a2b', { stack: 'GiftBatch' })).toBe(
      'gift-batch approve staff-1a2b --stack GiftBatch',
    );
    expect(approveCommandFor('staff-1a2b', { stateDir: "/tmp/Ann's runs" })).toBe(
      "gift-batch approve staff-1a2b --state-dir '/tmp/Ann'\\''s runs'",
    );
    expect(shellWord('a b')).toBe("'a b'");
  });
});
