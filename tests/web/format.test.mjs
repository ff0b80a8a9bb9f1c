import test from 'node:test';
import assert from 'node:assert/strict';
import { fmtNum, fmtSecs, cellText, isNumericKind, asNumber, meanStd } from '../../serve/web/js/format.mjs';

test('numbers at six significant digits, exponents only when needed', () => {
  assert.equal(fmtNum(0.123456789), '0.123457');
  assert.equal(fmtNum(42), '42');
  assert.equal(fmtNum(1e-7), '1.0000e-7');
  assert.equal(fmtNum(12345678.9), '1.2346e+7');
});

test('durations read as a person says them', () => {
  assert.equal(fmtSecs(12.54), '12.5s');
  assert.equal(fmtSecs(185), '3m05s');
  assert.equal(fmtSecs(7620), '2h07m');
  assert.equal(fmtSecs(3 * 86400 + 4 * 3600), '3d04h');
  assert.equal(fmtSecs(null), '');
});

test('a cell is written by its column kind, not by its name', () => {
  assert.equal(cellText({ kind: 'duration' }, 185), '3m05s');
  /* a column named "duration" that the answer says is a real is a real */
  assert.equal(cellText({ kind: 'real' }, 185), '185');
  assert.match(cellText({ kind: 'time' }, '2026-11-26T09:55:16.470502Z'), /^2026-11-2\d \d\d:\d\d:16$/);
  assert.equal(cellText({ kind: 'text' }, 'LEARNING_RATE'), 'LEARNING_RATE');
  assert.equal(cellText({ kind: 'metric' }, null), '');
  assert.ok(isNumericKind({ kind: 'metric' }) && isNumericKind({ kind: 'hyperparameter', type: 'numeric' }));
  assert.ok(!isNumericKind({ kind: 'hyperparameter', type: 'text' }) && !isNumericKind({ kind: 'status' }));
});

test("JSON's spellings of numbers it has no literal for", () => {
  assert.ok(Number.isNaN(asNumber('NaN')));
  assert.equal(asNumber('-Infinity'), -Infinity);
  assert.equal(asNumber('x'), null);
  assert.equal(meanStd(0.5, 0.25), '0.5 \u00B1 0.25');
  assert.equal(meanStd(0.5, null), '0.5');
});
