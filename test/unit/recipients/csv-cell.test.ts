import { describe, expect, it } from 'vitest';
import { formatCsvLine, neutraliseCsvCell } from '../../../lambdas/core/csv-cell.ts';

describe('neutraliseCsvCell', () => {
  it.each([
    ["=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"],
    ['+353871234567', "'+353871234567"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"],
    ['\rx', "'\rx"],
  ])('defuses %j', (cell, expected) => {
    // Prepare
    const value = cell;

    // Act
    const neutralised = neutraliseCsvCell(value);

    // Assess
    expect(neutralised).toBe(expected);
  });

  it.each(['Alice', '', 'a=b', "O'Brien", ' =x'])('leaves %j unchanged', (cell) => {
    // Prepare
    const value = cell;

    // Act
    const neutralised = neutraliseCsvCell(value);

    // Assess
    expect(neutralised).toBe(cell);
  });
});

describe('formatCsvLine', () => {
  it('quotes only the cells RFC 4180 needs quoted, doubling their quotes', () => {
    // Prepare
    const cells = ['plain', 'a,b', 'say "hi"', 'two\r\nlines', '', "O'Brien"];

    // Act
    const line = formatCsvLine(cells);

    // Assess
    expect(line).toBe('plain,"a,b","say ""hi""","two\r\nlines",,O\'Brien');
  });
});
