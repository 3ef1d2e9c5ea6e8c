import { useRef, useState } from 'preact/hooks';

/** The signing secret is returned once (create, rotate); this is the only time the customer sees it. */
export function SecretNotice({ secret, heading }: { secret: string; heading: string }) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'' | 'copied' | 'select'>('');

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('copied');
    } catch {
      // Clipboard API refused (permissions, insecure origin): select it for a manual copy.
      inputRef.current?.select();
      setCopied(document.execCommand?.('copy') ? 'copied' : 'select');
    }
  };

  return (
    <section class="secret" aria-labelledby="secret-heading">
      <h2 id="secret-heading">{heading}</h2>
      <p class="warning" role="note">
        <strong>Copy this signing secret now.</strong> It will not be shown again. Use it to verify the{' '}
        <code>X-Humiris-Signature</code> header of every request.
      </p>
      <div class="secret-row">
        <label class="visually-hidden" for="signing-secret">
          Signing secret
        </label>
        <input id="signing-secret" ref={inputRef} class="mono" readOnly value={secret} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={copy}>
          Copy
        </button>
      </div>
      <p class="muted" role="status" aria-live="polite">
        {copied === 'copied' ? 'Copied to the clipboard.' : copied === 'select' ? 'Press Ctrl+C (⌘C) to copy the selected secret.' : ''}
      </p>
    </section>
  );
}
