import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

// Headless Debian Chromium for browser tests and the terminal benchmark. CHROMIUM overrides the path.

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `browser tests need Chromium at ${CHROMIUM} (Debian: apt-get install -y chromium; or set CHROMIUM)`;
}

export async function launch(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--disable-quic'],
    // launch() gives every browser a fresh temporary profile (its own --user-data-dir), removed on close.
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/**
 * Functions handed to page.evaluate() are serialized from this process's compiled code. tsx and vitest
 * compile with esbuild's keepNames, which wraps named functions in a `__name()` helper that does not
 * exist in the page; this defines it there as a no-op (on every page of the context, and now on `page`).
 */
export const EVALUATE_SHIM = 'globalThis.__name = globalThis.__name || ((f) => f)';
