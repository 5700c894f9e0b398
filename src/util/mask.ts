// One masking function serves logs, backups rows, e-mails and error messages, so a secret has one way out: none.

export const MASK = '***';

export type Masker = (text: string) => string;

export function makeMasker(secrets: readonly string[]): Masker {
  // Longest first, so a secret that contains another is masked whole.
  const list = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  const variants = list.flatMap((s) => [s, encodeURIComponent(s)]);
  return (text) => {
    let out = text;
    for (const secret of variants) if (out.includes(secret)) out = out.split(secret).join(MASK);
    // user:password@ in any URL, whatever the password is.
    return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]+):[^@\s/]+@/gi, `$1:${MASK}@`);
  };
}
