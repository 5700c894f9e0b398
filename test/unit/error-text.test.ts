// One sentence for any failure: a refused connection to a name with two addresses must not say nothing.
import { describe, expect, it } from 'vitest';
import { errorText } from '../../src/errors.js';

const refused = (address: string) => Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: 'ECONNREFUSED' });

describe('errorText', () => {
  it('an error\'s message; anything else as text', () => {
    expect(errorText(new Error('password authentication failed for user "x"'))).toBe('password authentication failed for user "x"');
    expect(errorText('plain')).toBe('plain');
  });

  it('an AggregateError with no message (every address of localhost refused): what each address said', () => {
    const err = Object.assign(new AggregateError([refused('::1:5432'), refused('127.0.0.1:5432')]), { code: 'ECONNREFUSED' });
    expect(err.message).toBe('');
    expect(errorText(err)).toBe('connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432');
  });

  it('no words at all: its code, else its name', () => {
    expect(errorText(Object.assign(new Error(''), { code: 'ETIMEDOUT' }))).toBe('ETIMEDOUT');
    expect(errorText(new TypeError(''))).toBe('TypeError');
  });
});
