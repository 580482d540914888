import { describe, expect, it } from 'vitest';
import { renderInline, renderMarkdown } from './markdown.ts';

describe('scenario markdown', () => {
  it('leaves the lab\'s bare URLs as text and keeps written links', () => {
    expect(renderInline('curl http://catalog from both nodes\' clients')).toBe('curl http://catalog from both nodes&#39; clients');
    expect(renderInline('see [the docs](https://kubernetes.io/docs/) or <https://kind.sigs.k8s.io/>')).toBe(
      'see <a href="https://kubernetes.io/docs/" rel="noopener noreferrer" target="_blank">the docs</a> or <a href="https://kind.sigs.k8s.io/" rel="noopener noreferrer" target="_blank">https://kind.sigs.k8s.io/</a>');
  });

  it('shows raw HTML as text and drops links to other schemes', () => {
    expect(renderMarkdown('<script>alert(1)</script>')).not.toContain('<script>');
    expect(renderInline('[x](javascript:alert(1))')).toBe('x');
  });
});
